"""Mistral chat completions (``POST https://api.mistral.ai/v1/chat/completions``).

Mistral streams OpenAI-shaped chunks ending with ``data: [DONE]``, so the decoder is the
OpenAI one with one difference: ``delta.content`` may be an array of typed chunks —
``{"type": "thinking", "thinking": [{"type": "text", "text": …}]}`` becomes reasoning and
``{"type": "text", "text": …}`` becomes text (magistral models); other chunk types (references,
images) are left in ``raw``. Tool calls arrive whole in one chunk, or split with ``"name": ""``
repeated in later fragments by Mistral-compatible servers (the shared tracker never lets an
empty name erase a known one). Usage rides on the finish chunk.

Requests are the Chat Completions shape without ``stream_options`` (usage is always sent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..model import (
    Chunk,
    Done,
    Finish,
    ReasoningDelta,
    ServerSentEvent,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    text_delta,
)
from ._base import Decoder, HTTPRequest, Message, ToolSpec
from ._encoder import WireOut
from .openai import OpenAIDecoder, OpenAIEncoder, OpenAIProvider

__all__ = ["MistralProvider", "MistralDecoder", "MistralEncoder"]


class MistralDecoder(OpenAIDecoder):
    provider = "mistral"

    def content_chunks(self, content: Any, c: int, delta: Mapping[str, Any]) -> list[Chunk]:
        if not isinstance(content, list):
            return super().content_chunks(content, c, delta)
        out: list[Chunk] = []
        for part in content:
            if isinstance(part, str):
                if part:
                    out.append(text_delta(part, c, raw=part))
                continue
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind == "text":
                text = part.get("text")
                if isinstance(text, str) and text:
                    out.append(text_delta(text, c, raw=part))
            elif kind == "thinking":
                out.extend(self._thinking(part.get("thinking"), c, part))
        return out

    def _thinking(self, thinking: Any, c: int, raw: Any) -> list[Chunk]:
        # `thinking` is a list of text chunks; a bare string is accepted as well.
        if isinstance(thinking, str):
            return [ReasoningDelta(text=thinking, choice=c, raw=raw)] if thinking else []
        out: list[Chunk] = []
        if isinstance(thinking, list):
            for item in thinking:
                text = item.get("text") if isinstance(item, Mapping) else item
                if isinstance(text, str) and text:
                    out.append(ReasoningDelta(text=text, choice=c, raw=raw))
        return out


# -- wire encoder (chunks → Mistral's chat-completion SSE) -------------------------------------


class MistralEncoder(OpenAIEncoder):
    """Mistral's flavour of the Chat Completions stream: reasoning as a ``thinking`` content
    chunk (``content: [{"type": "thinking", "thinking": [{"type": "text", "text": …}]}]``, as
    magistral models send it), each tool call whole in one chunk, and usage on the finish chunk
    (so the finish is held until the usage or the end), then ``data: [DONE]``. One choice."""

    format = "mistral"
    multi_choice = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._finish: Finish | None = None
        self._usage_seen: Usage | None = None

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ReasoningDelta):
            if not chunk.text:
                return []
            thinking = {"type": "thinking", "thinking": [{"type": "text", "text": chunk.text}]}
            return self._delta(0, {"content": [thinking]})
        if isinstance(chunk, (ToolCallStart, ToolCallDelta)):
            return []  # Mistral sends each call whole: written at its end
        if isinstance(chunk, ToolCallEnd):
            call = {
                "id": chunk.id,
                "type": "function",
                "function": {"name": chunk.name, "arguments": chunk.arguments},
                "index": chunk.index,
            }
            return self._delta(0, {"content": "", "tool_calls": [call]})
        if isinstance(chunk, Finish):
            self._finish = chunk
            return []
        if isinstance(chunk, Usage):
            self._usage_seen = chunk if self._usage_seen is None else self._usage_seen.merged(chunk)
            return []
        if isinstance(chunk, Done):
            out: list[WireOut] = []
            if self._finish is not None or self._usage_seen is not None:
                reason = self._finish_reason(self._finish) if self._finish is not None else "stop"
                extra = {} if self._usage_seen is None else {"usage": self._usage(self._usage_seen)}
                out += self._delta(0, {"content": ""}, finish=reason, **extra)
            out.append(ServerSentEvent("[DONE]"))
            return out
        return super()._encode(chunk)


class MistralProvider(OpenAIProvider):
    """Mistral La Plateforme chat completions."""

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "max_tokens", "temperature", "top_p", "stop", "random_seed", "response_format",
            "tool_choice", "presence_penalty", "frequency_penalty", "n", "safe_prompt",
            "parallel_tool_calls", "prediction", "prompt_mode", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Mistral chat completion request fields (Mistral's API reference)."""

    name = "mistral"
    encoder_class = MistralEncoder
    default_base_url = "https://api.mistral.ai/v1"
    url_hints: ClassVar[tuple[str, ...]] = ("api.mistral.ai",)
    api_key_env = ("MISTRAL_API_KEY",)
    base_url_env = None
    terminal_marker = "'data: [DONE]'"

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
        # Mistral always reports usage and does not take OpenAI's stream_options.
        return super().build_request(
            model=model,
            messages=messages,
            tools=tools,
            api_key=api_key,
            base_url=base_url,
            **{**options, "include_usage": False},
        )

    def decoder(self) -> Decoder:
        return MistralDecoder()

    def parser_options(self) -> dict[str, Any]:
        return {"comments": True}
