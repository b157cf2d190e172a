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
from typing import Any

from ..model import Chunk, ReasoningDelta, text_delta
from ._base import Decoder, HTTPRequest, Message, ToolSpec
from .openai import OpenAIDecoder, OpenAIProvider

__all__ = ["MistralProvider", "MistralDecoder"]


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


class MistralProvider(OpenAIProvider):
    """Mistral La Plateforme chat completions."""

    name = "mistral"
    default_base_url = "https://api.mistral.ai/v1"
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
