"""OpenAI-compatible services by name: ``stream_chat("groq", ...)`` is the ``openai`` provider
with Groq's base URL, Groq's key variable and Groq's quirks.

Each preset is one ``Preset`` row in ``PRESETS`` and one small ``OpenAICompatibleProvider``
subclass (so the registry can name it). The request is the Chat Completions request of
``sansstream.providers.openai`` (``POST {base}/chat/completions`` with a bearer key and
``stream_options.include_usage``); the decoder is ``OpenAIDecoder``, which already handles
what these services do differently on the wire: SSE comment keepalives (OpenRouter's
``: OPENROUTER PROCESSING``, DeepSeek's ``: keep-alive``), an ``error`` object inside an
otherwise normal chunk (OpenRouter, then ``finish_reason: "error"``), Groq's ``event: error``,
``reasoning_content`` (DeepSeek, xAI, Cerebras), ``reasoning`` / ``reasoning_details``
(OpenRouter, Groq), vLLM's ``{"error": …}`` data and llama.cpp's ``error:`` field. Two services
need a hook of their own:

- **Groq** also reports usage in ``x_groq.usage`` on the last chunk; older responses carried it
  only there, so ``GroqDecoder`` takes it when the chunk has no top-level ``usage``.
- **Perplexity** sends ``citations`` (URLs) and ``search_results`` as top-level arrays, repeated on
  chunk after chunk; ``PerplexityDecoder`` delivers each as one ``ToolResult`` (``kind`` =
  ``"citations"`` / ``"search_results"``) when it first appears or changes.

Local servers (``lmstudio``, ``vllm``, ``llamacpp``) need no key: none is required, and one is
sent only if its variable is set (vLLM's ``VLLM_API_KEY`` and llama.cpp's ``LLAMA_API_KEY`` are
the variables those servers read for ``--api-key``).

Sources (base URL, key variable, quirks), read through the docs index:

- groq: console.groq.com/docs/openai (``https://api.groq.com/openai/v1``, ``GROQ_API_KEY``);
  recorded ``x_groq.usage`` and ``event: error`` in tests/data/providers/openai-compatible/groq-*.sse
- openrouter: openrouter.ai/docs/api-reference/streaming (comments, mid-stream ``error`` data
  events), openrouter.ai/docs/errors (status 200 once streaming started); ``https://openrouter.ai/api/v1``
- deepseek: api-docs.deepseek.com (``https://api.deepseek.com``, ``/v1`` also accepted,
  ``DEEPSEEK_API_KEY``; ``reasoning_content``)
- xai: docs.x.ai/api (``https://api.x.ai/v1``, bearer ``XAI_API_KEY``)
- together: docs.together.ai/docs/inference/openai-compatibility (``https://api.together.ai/v1``,
  ``TOGETHER_API_KEY``)
- fireworks: Fireworks' OpenAI-compatible endpoint ``https://api.fireworks.ai/inference/v1``,
  ``FIREWORKS_API_KEY`` (as documented by the integrations that wrap it)
- perplexity: docs.perplexity.ai/docs/sonar/openai-compatibility (``https://api.perplexity.ai``,
  no ``/v1``; ``PERPLEXITY_API_KEY`` from docs.perplexity.ai/docs/sonar/overview)
- cerebras: Cerebras inference OpenAI compatibility (``https://api.cerebras.ai/v1``, ``CEREBRAS_API_KEY``)
- huggingface: huggingface.co/changelog/inference-providers-openai-compatible (the router at
  ``https://router.huggingface.co/v1``; ``HF_TOKEN``); recorded router stream in
  tests/data/providers/openai-compatible/huggingface-together-think-tags.sse
- deepinfra: deepinfra.com/docs/advanced/openai_api (``https://api.deepinfra.com/v1/openai``)
- nvidia: the NVIDIA API catalog docs (``https://integrate.api.nvidia.com/v1``, ``NVIDIA_API_KEY``)
- lmstudio / vllm / llamacpp: the servers' documented default ports (1234, 8000, 8080) with
  their OpenAI-compatible ``/v1`` routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..model import Chunk, ToolResult
from ._base import Decoder, HTTPRequest, Message, ToolSpec
from .openai import CHAT_COMPLETIONS_OPTIONS, OpenAIDecoder, OpenAIProvider

__all__ = [
    "Preset",
    "PRESETS",
    "CHAT_OPTIONS",
    "OpenAICompatibleProvider",
    "GroqDecoder",
    "PerplexityDecoder",
]

CHAT_OPTIONS: frozenset[str] = CHAT_COMPLETIONS_OPTIONS | frozenset(
    {
        # sampling extensions most OpenAI-compatible servers take (vLLM, llama.cpp, LM Studio,
        # Together, Fireworks, DeepInfra, OpenRouter…)
        "top_k", "min_p", "repetition_penalty", "typical_p",
        # structured output of local servers: vLLM's guided decoding, llama.cpp's grammar
        "guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar", "json_schema",
        "chat_template_kwargs", "cache_prompt",
        # service-specific fields: OpenRouter routing, reasoning and usage; xAI live search;
        # Perplexity search; DeepSeek/Qwen thinking switches
        "reasoning", "provider", "models", "route", "transforms", "usage", "search_parameters",
        "search_domain_filter", "search_recency_filter", "return_images", "return_related_questions",
        "thinking", "enable_thinking",
    }
)  # fmt: skip
"""The keyword options every preset's ``build_request`` knows by name (Chat Completions
parameters plus ``extra_body`` / ``extra_headers``). ``OpenAICompatibleProvider.accepted_options``
adds a preset's own."""


@dataclass(frozen=True, slots=True)
class Preset:
    """One OpenAI-compatible service: where it is, which variable holds its key, what differs."""

    name: str
    base_url: str
    key_env: tuple[str, ...]
    local: bool = False
    """A server on your own machine: no key is required (one is sent if its variable is set)."""
    quirks: str = ""
    """What this service does beyond plain Chat Completions, in words (for the README table)."""
    docs: str = ""


PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "groq",
            "https://api.groq.com/openai/v1",
            ("GROQ_API_KEY",),
            quirks="usage also in `x_groq.usage`; `event: error` then no `[DONE]`; `reasoning`",
            docs="console.groq.com/docs/openai",
        ),
        Preset(
            "openrouter",
            "https://openrouter.ai/api/v1",
            ("OPENROUTER_API_KEY",),
            quirks="`: OPENROUTER PROCESSING` keepalives; `error` inside a chunk with "
            '`finish_reason: "error"`; `reasoning_details`; `app_url` / `app_title` options',
            docs="openrouter.ai/docs/api-reference/streaming",
        ),
        Preset(
            "deepseek",
            "https://api.deepseek.com",
            ("DEEPSEEK_API_KEY",),
            quirks="`reasoning_content`; `: keep-alive` comments; cache-hit usage fields",
            docs="api-docs.deepseek.com",
        ),
        Preset(
            "xai",
            "https://api.x.ai/v1",
            ("XAI_API_KEY",),
            quirks="`reasoning_content` on reasoning models",
            docs="docs.x.ai/api",
        ),
        Preset(
            "together",
            "https://api.together.ai/v1",
            ("TOGETHER_API_KEY",),
            quirks="reasoning models may put `<think>` in the text (kept as sent)",
            docs="docs.together.ai/docs/inference/openai-compatibility",
        ),
        Preset(
            "fireworks",
            "https://api.fireworks.ai/inference/v1",
            ("FIREWORKS_API_KEY",),
            quirks="model ids are `accounts/fireworks/models/...`",
            docs="fireworks.ai (OpenAI compatibility)",
        ),
        Preset(
            "perplexity",
            "https://api.perplexity.ai",
            ("PERPLEXITY_API_KEY",),
            quirks="no `/v1`; `citations` and `search_results` → `ToolResult`",
            docs="docs.perplexity.ai/docs/sonar/openai-compatibility",
        ),
        Preset(
            "cerebras",
            "https://api.cerebras.ai/v1",
            ("CEREBRAS_API_KEY",),
            quirks="`reasoning` on reasoning models; `time_info` ignored",
            docs="inference-docs.cerebras.ai (OpenAI compatibility)",
        ),
        Preset(
            "huggingface",
            "https://router.huggingface.co/v1",
            ("HF_TOKEN",),
            quirks="routes to many hosts (`model:provider`); reasoning may come as `<think>` text",
            docs="huggingface.co/changelog/inference-providers-openai-compatible",
        ),
        Preset(
            "deepinfra",
            "https://api.deepinfra.com/v1/openai",
            ("DEEPINFRA_API_KEY",),
            quirks="the OpenAI routes live under `/v1/openai`",
            docs="deepinfra.com/docs/advanced/openai_api",
        ),
        Preset(
            "nvidia",
            "https://integrate.api.nvidia.com/v1",
            ("NVIDIA_API_KEY",),
            quirks="NVIDIA API catalog (NIM); model ids are `vendor/model`",
            docs="build.nvidia.com (API catalog docs)",
        ),
        Preset(
            "lmstudio",
            "http://localhost:1234/v1",
            ("LMSTUDIO_API_KEY",),
            local=True,
            quirks="local: no key needed",
            docs="lmstudio.ai/docs (OpenAI-compatible endpoints)",
        ),
        Preset(
            "vllm",
            "http://localhost:8000/v1",
            ("VLLM_API_KEY",),
            local=True,
            quirks='local: key only if the server was started with one; `{"error": …}` data then `[DONE]`',
            docs="docs.vllm.ai (OpenAI-compatible server)",
        ),
        Preset(
            "llamacpp",
            "http://localhost:8080/v1",
            ("LLAMA_API_KEY",),
            local=True,
            quirks="local: key only if the server was started with one; `error:` SSE field",
            docs="llama.cpp tools/server README",
        ),
    )
}


class GroqDecoder(OpenAIDecoder):
    """``OpenAIDecoder`` that also reads usage from ``x_groq.usage`` when a chunk has no
    top-level ``usage`` (Groq sends both today; older responses had only ``x_groq``)."""

    provider = "groq"

    def decode_payload(self, obj: Any) -> list[Chunk]:
        if isinstance(obj, Mapping) and not obj.get("usage"):
            extra = obj.get("x_groq")
            usage = extra.get("usage") if isinstance(extra, Mapping) else None
            if isinstance(usage, Mapping) and usage:
                obj = {**obj, "usage": usage}
        return super().decode_payload(obj)


class PerplexityDecoder(OpenAIDecoder):
    """``OpenAIDecoder`` that turns Perplexity's top-level ``citations`` and ``search_results``
    arrays into ``ToolResult`` chunks, once per distinct value (they repeat on every chunk)."""

    provider = "perplexity"

    def __init__(self) -> None:
        super().__init__()
        self._seen: dict[str, Any] = {}

    def decode_payload(self, obj: Any) -> list[Chunk]:
        out = super().decode_payload(obj)
        if isinstance(obj, Mapping):
            for key in ("citations", "search_results"):
                value = obj.get(key)
                if isinstance(value, list) and value and self._seen.get(key) != value:
                    self._seen[key] = value
                    out.append(ToolResult(tool_call_id=None, kind=key, content=value, raw=obj))
        return out


_OWN_DECODERS: Mapping[str, type[OpenAIDecoder]] = {"groq": GroqDecoder, "perplexity": PerplexityDecoder}
# Every other preset decodes with an OpenAIDecoder subclass named for it, so that errors and
# truncation messages name the service the user asked for.
_DECODERS: Mapping[str, type[OpenAIDecoder]] = {
    name: _OWN_DECODERS.get(name)
    or type(f"{name.title()}Decoder", (OpenAIDecoder,), {"provider": name, "__module__": __name__})
    for name in PRESETS
}


class OpenAICompatibleProvider(OpenAIProvider):
    """The ``openai`` provider set up for one ``Preset`` (see the module docstring).

    Subclasses name their preset in ``preset``; ``name``, ``default_base_url`` and
    ``api_key_env`` follow from it. A local preset's ``api_key_env`` is empty (nothing is
    required) and its optional key variable is read by ``defaults_from_env``."""

    preset: ClassVar[Preset]
    accepted_options: ClassVar[frozenset[str] | None] = CHAT_OPTIONS
    """Keyword options ``build_request`` takes (``stream_chat`` refuses others; send any other
    field with ``extra_body=``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        preset = cls.__dict__.get("preset")
        if isinstance(preset, Preset):
            cls.name = preset.name
            cls.default_base_url = preset.base_url
            cls.api_key_env = () if preset.local else preset.key_env
            cls.base_url_env = None

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        out = super().defaults_from_env(env)
        if self.preset.local:
            for var in self.preset.key_env:
                if env.get(var):
                    out["api_key"] = env[var]
                    break
        return out

    def decoder(self) -> Decoder:
        return _DECODERS[self.preset.name]()


class _Preset(OpenAICompatibleProvider):
    """Marker base so the concrete classes below read as a table."""


class GroqProvider(_Preset):
    preset = PRESETS["groq"]


class OpenRouterProvider(_Preset):
    """OpenRouter; ``app_url`` / ``app_title`` set the ``HTTP-Referer`` / ``X-Title`` headers
    OpenRouter uses to attribute requests to an app (optional)."""

    preset = PRESETS["openrouter"]
    accepted_options = CHAT_OPTIONS | {"app_url", "app_title"}  # (headers: see the docstring)

    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> HTTPRequest:
        headers = dict(options.pop("extra_headers", None) or {})
        app_url = options.pop("app_url", None)
        app_title = options.pop("app_title", None)
        if app_url:
            headers.setdefault("HTTP-Referer", str(app_url))
        if app_title:
            headers.setdefault("X-Title", str(app_title))
        if headers:
            options["extra_headers"] = headers
        return super().build_request(
            model=model, messages=messages, tools=tools, api_key=api_key, base_url=base_url, **options
        )


class DeepSeekProvider(_Preset):
    preset = PRESETS["deepseek"]


class XAIProvider(_Preset):
    preset = PRESETS["xai"]


class TogetherProvider(_Preset):
    preset = PRESETS["together"]


class FireworksProvider(_Preset):
    preset = PRESETS["fireworks"]


class PerplexityProvider(_Preset):
    preset = PRESETS["perplexity"]


class CerebrasProvider(_Preset):
    preset = PRESETS["cerebras"]


class HuggingFaceProvider(_Preset):
    preset = PRESETS["huggingface"]


class DeepInfraProvider(_Preset):
    preset = PRESETS["deepinfra"]


class NvidiaProvider(_Preset):
    preset = PRESETS["nvidia"]


class LMStudioProvider(_Preset):
    preset = PRESETS["lmstudio"]


class VLLMProvider(_Preset):
    preset = PRESETS["vllm"]


class LlamaCppProvider(_Preset):
    preset = PRESETS["llamacpp"]


PRESET_CLASSES: Mapping[str, str] = {
    "groq": "GroqProvider",
    "openrouter": "OpenRouterProvider",
    "deepseek": "DeepSeekProvider",
    "xai": "XAIProvider",
    "together": "TogetherProvider",
    "fireworks": "FireworksProvider",
    "perplexity": "PerplexityProvider",
    "cerebras": "CerebrasProvider",
    "huggingface": "HuggingFaceProvider",
    "deepinfra": "DeepInfraProvider",
    "nvidia": "NvidiaProvider",
    "lmstudio": "LMStudioProvider",
    "vllm": "VLLMProvider",
    "llamacpp": "LlamaCppProvider",
}
"""Preset name → class name in this module (the registry's table is built from it)."""
