"""A provider that is not built in, for tests that register one at runtime: "lines" streams
NDJSON ``{"say": text}`` lines and ends with ``{"end": reason}``. It has a request builder, a
decoder and a wire encoder, like a third-party provider package would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sansstream.model import Chunk, Done, Finish, HTTPRequest, JSONValue, TextDelta, WireEvent
from sansstream.providers import ChunkEncoder, Decoder, Message, Provider, ToolSpec, WireOut


class LinesDecoder(Decoder):
    provider = "lines"

    def __init__(self) -> None:
        self._ended = False

    @property
    def complete(self) -> bool:
        return self._ended

    def decode(self, event: WireEvent) -> list[Chunk]:
        if not isinstance(event, JSONValue) or not isinstance(event.value, dict):
            return []
        if "say" in event.value:
            return [TextDelta(str(event.value["say"]))]
        if "end" in event.value:
            self._ended = True
            return [Finish(reason="stop", raw_reason=str(event.value["end"])), Done()]
        return []


class LinesEncoder(ChunkEncoder):
    framing = "ndjson"
    format = "lines"

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, TextDelta):
            return [JSONValue({"say": chunk.text})]
        if isinstance(chunk, Done):
            return [JSONValue({"end": "stop"})]
        return []


class LinesProvider(Provider):
    name = "lines"
    framing = "ndjson"
    default_base_url = "http://localhost:9/lines/v2"
    content_types = ("application/x-ndjson",)
    terminal_marker = '{"end": ...}'
    encoder_class: ClassVar[type[ChunkEncoder] | None] = LinesEncoder
    url_hints: ClassVar[tuple[str, ...]] = ("/lines/v2 /talk",)

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            isinstance(e, JSONValue) and isinstance(e.value, dict) and ("say" in e.value or "end" in e.value)
            for e in events
        )

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
        url = (base_url or self.default_base_url) + "/talk"
        return HTTPRequest.json("POST", url, {"model": model, "messages": list(messages)})

    def decoder(self) -> Decoder:
        return LinesDecoder()


__all__ = ["LinesProvider", "LinesDecoder", "LinesEncoder"]
