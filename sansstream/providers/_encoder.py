"""Wire encoders: chunks in, one provider's wire events out (the reverse of a decoder).

Each provider module that can be served owns a ``ChunkEncoder`` subclass for its wire format and
names it in its ``Provider.encoder_class``; ``sansstream.server`` looks it up in the registry, so a
provider registered at runtime is served like a built-in. An encoder is a small pure state
machine: ``encode(chunk)`` returns the wire events for one chunk (SSE events, NDJSON values or
AWS event-stream frames, possibly none: a format may have no place for a chunk, or hold it until
later), ``close()`` what must still be written at the end (open blocks, the terminal marker), and
``keepalive()`` the format's idle marker. Time never comes from a clock here: an encoder that
writes timestamps takes ``now`` (seconds since the epoch) from its caller.

Every JSON text goes through ``dumps_wire`` (the one rule for JSON on the wire), and
``encode_chunks`` frames events with the core encoders, so whatever an encoder writes reads back
exactly with ``decode_stream(provider, ...)``: the round-trip tests prove it for every built-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Literal

from ..core import SSEEncoder, dumps_wire, encode_event_stream_message, encode_ndjson
from ..model import (
    Chunk,
    Comment,
    Done,
    EventStreamMessage,
    JSONValue,
    LocalProtocolError,
    ServerSentEvent,
    SSEField,
    StreamError,
)

__all__ = ["ChunkEncoder", "WireOut", "EncoderFraming", "encode_chunks", "CONTENT_TYPES"]

EncoderFraming = Literal["sse", "ndjson", "eventstream"]

WireOut = ServerSentEvent | Comment | SSEField | JSONValue | EventStreamMessage
"""What an encoder produces: SSE events or comments, NDJSON values, or event-stream frames."""

CONTENT_TYPES: dict[str, str] = {
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
    "eventstream": "application/vnd.amazon.eventstream",
}
"""The response ``Content-Type`` for each encoder framing."""


class ChunkEncoder:
    """Chunks in, wire events out, for one response in one provider's wire format.

    Relaying rules, the same for every format: an error chunk ends the response, so chunks that a
    source still sends after its error (a finish, OpenRouter's ``[DONE]``…) are dropped; a chunk
    after ``Done`` is a caller mistake (``LocalProtocolError``). Formats without choices carry
    choice 0 only (``multi_choice`` is false) and drop the others.

    Subclasses implement ``_encode(chunk)``; ``close()`` encodes a ``Done`` when the stream was
    not terminated yet, so the terminal marker is written in one place (``_encode(Done())``).
    """

    framing: EncoderFraming = "sse"
    format: ClassVar[str] = ""
    """The provider name this encoder writes for (also the ``format=`` of the server helpers)."""
    multi_choice: ClassVar[bool] = False

    def __init__(self, *, model: str | None = None, id: str | None = None, now: float | None = None) -> None:
        self.model = model
        self.id = id
        self.now = now
        """Seconds since the epoch, for formats that write timestamps (0 when not given)."""
        self.terminated = False  # a terminal marker or an error went out
        self.errored = False  # ...and it was an error: later chunks are dropped
        self._index = 0

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` of a response written with this encoder."""
        return CONTENT_TYPES[self.framing]

    def encode(self, chunk: Chunk) -> list[WireOut]:
        if self.errored:
            return []
        if self.terminated:
            raise LocalProtocolError(
                f"a {chunk.type!r} chunk came after the end of the stream (a done chunk); "
                "stop writing chunks once the stream is terminated"
            )
        if not self.multi_choice and getattr(chunk, "choice", 0) != 0:
            return []
        out = self._encode(chunk)
        if isinstance(chunk, (Done, StreamError)):
            self.terminated = True
            self.errored = isinstance(chunk, StreamError)
        return out

    def close(self, *, done: bool = True) -> list[WireOut]:
        if self.terminated or not done:
            return []
        return self.encode(Done())

    def keepalive(self) -> WireOut:
        return JSONValue(None) if self.framing == "ndjson" else Comment("keepalive")

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        raise NotImplementedError

    def _json(self, value: Any, event: str = "message") -> WireOut:
        """One JSON value as this encoder's framing carries it."""
        if self.framing == "ndjson":
            return JSONValue(value)
        return ServerSentEvent(dumps_wire(value), event=event)


def _framer(framing: str) -> Callable[[WireOut], bytes]:
    if framing == "sse":
        sse = SSEEncoder()  # stateful: an event's id line only when the id changes

        def frame_sse(out: WireOut) -> bytes:
            if not isinstance(out, (ServerSentEvent, Comment, SSEField)):
                raise LocalProtocolError(f"an SSE body cannot carry a {type(out).__name__}")
            data: bytes = sse.encode(out)
            return data

        return frame_sse
    if framing == "ndjson":

        def frame_ndjson(out: WireOut) -> bytes:
            if not isinstance(out, JSONValue):
                raise LocalProtocolError(f"an NDJSON body cannot carry a {type(out).__name__}")
            return encode_ndjson(out)

        return frame_ndjson
    if framing == "eventstream":

        def frame_eventstream(out: WireOut) -> bytes:
            if not isinstance(out, EventStreamMessage):
                raise LocalProtocolError(f"an event-stream body cannot carry a {type(out).__name__}")
            return encode_event_stream_message(out.headers, out.payload)

        return frame_eventstream
    raise LocalProtocolError(f"no framing {framing!r}; encoders write sse, ndjson or eventstream")


def encode_chunks(encoder: ChunkEncoder, chunks: Iterable[Chunk], *, done: bool = True) -> Iterator[bytes]:
    """The body bytes of a response written by ``encoder``: one slice per wire event, then what
    ``close(done=done)`` adds. No pacing and no keepalives (``sansstream.server`` adds those)."""
    frame = _framer(encoder.framing)
    for chunk in chunks:
        for out in encoder.encode(chunk):
            yield frame(out)
    for out in encoder.close(done=done):
        yield frame(out)
