"""Bytes in, chunks out: a framing parser and a provider decoder driven as one sans-IO machine.

``StreamDecoder`` has the h11 shape: ``receive_data(data)`` only buffers (``b""`` = end of
input), ``next_chunk()`` returns a ``Chunk``, ``NEED_DATA`` or ``END``. It keeps an
``Accumulator`` so ``result()`` is the (partial) ``ChatResult`` at any moment, and counts
``wire_events``, ``keepalives`` and ``bytes_received`` for metrics.

Error strategy, in stream order:

- An in-band provider error reaches us as a ``StreamError`` chunk from the decoder. Every chunk
  before it has already been returned; then ``ProviderError`` is raised (its ``partial`` is the
  result so far) when ``raise_errors`` is true, else the ``StreamError`` chunk is returned and
  decoding continues.
- The stream ends at the provider's terminal marker (the decoder's ``terminated``: ``data:
  [DONE]``, ``message_stop``…), as the official SDKs stop reading there: no event after it is
  decoded, bytes that follow are ignored, and ``next_chunk()`` returns ``END`` without waiting
  for the end of input (so a server that keeps the connection open does not stall the reader).
- At end of bytes the decoder's ``finish()`` chunks are delivered; then, when ``strict`` and the
  provider's terminal marker was never seen, ``IncompleteStreamError`` (with ``partial``).
- One rule for a cut after the answer was complete (the decoder's ``complete``, e.g. Bedrock's
  ``messageStop`` before its ``metadata`` frame, Gemini's ``finishReason`` chunk): nothing of the
  answer was lost, so bytes at the end that cannot be decoded are dropped and the stream ends
  normally (only what the cut frame carried, such as usage, is missing), in strict mode too.
- A framing error (``RemoteProtocolError`` from the parser) that shows up once the input has
  ended means the bytes stopped in the middle of an event, frame or array: it is re-raised as
  ``IncompleteStreamError`` carrying the partial result, so truncation always looks the same
  (in strict and non-strict mode alike: a cut frame is never a complete stream). Earlier
  framing errors propagate unchanged.
- SSE only: at end of input an event that lacks only its dispatching blank line (or the line
  end of its last line) is still delivered. The WHATWG algorithm, and the openai and cohere
  SDKs, drop such an event; google-genai keeps it. We keep it because a server that closes
  right after its last line meant to send it, and an event that was in fact cut does not
  decode (its JSON is incomplete), which is then reported as truncation (see ``receive_data``).
- After raising, the machine refuses further work and raises the same error again (h11 habit),
  so an error can never be skipped by calling again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ..core import GATHER, FramingParser, gather_lines
from ..model import (
    END,
    NEED_DATA,
    Accumulator,
    ChatResult,
    Chunk,
    Comment,
    EndOfStream,
    IncompleteStreamError,
    LocalProtocolError,
    NeedData,
    RemoteProtocolError,
    SansStreamError,
    StreamError,
    WireEvent,
)
from ._base import Decoder, Framing, Provider
from ._common import NOT_THIS_PROTOCOL
from ._registry import get

__all__ = ["StreamDecoder", "decode_stream"]

# The line-based framings: a slice without CR or LF ends no line, so it completes nothing, and
# their parsers' feed() returns the events before an error and raises it on the next call.
_LINE_FRAMINGS = ("sse", "ndjson")


def _make_parser(framing: Framing, options: dict[str, Any]) -> FramingParser[WireEvent]:
    # Imported here so that importing the provider layer does not import every parser.
    from ..core import make_parser

    parser: FramingParser[WireEvent] = make_parser(framing, **options)
    return parser


class StreamDecoder:
    """Framing parser + provider decoder + accumulator, sans-IO.

    ``provider`` is a registered name or a ``Provider``. ``framing`` overrides the provider's
    framing (e.g. ``"json-array"`` for Gemini's non-SSE stream); the provider's own parser
    options are then not applied. Extra keyword arguments go to the framing parser and
    override the provider's ``parser_options()`` (e.g. ``max_event_size``).
    """

    def __init__(
        self,
        provider: str | Provider,
        *,
        strict: bool = True,
        raise_errors: bool = True,
        framing: Framing | None = None,
        **parser_opts: Any,
    ) -> None:
        self.provider: Provider = get(provider)
        self.strict = strict
        self.raise_errors = raise_errors
        self.framing: Framing = framing or self.provider.framing
        options: dict[str, Any] = {}
        if self.framing == self.provider.framing:
            options.update(self.provider.parser_options())
        options.update(parser_opts)
        self._parser = _make_parser(self.framing, options)
        self._decoder = self.provider.decoder()
        # Whether the decoder has its own is_keepalive (else the base one, inlined when decoding
        # in bulk).
        self._own_keepalive = type(self._decoder).is_keepalive is not Decoder.is_keepalive
        self._accumulator = Accumulator()
        # Chunks decoded from one wire event but not yet returned (an event can yield several).
        self._pending: deque[Chunk] = deque()
        # receive_data(b"") was called: a framing error from now on means a cut stream.
        self._input_ended = False
        # decoder.finish() and the end-of-stream checks have run.
        self._finished = False
        # the decoder saw the terminal marker: the stream ended there, later bytes are ignored
        self._terminated = False
        # An error raised once is raised again on every later call (the machine is dead).
        self._error: SansStreamError | None = None
        # feed() defers an error that follows chunks in the same call to the next call.
        self._deferred: SansStreamError | None = None
        # The quick route (see receive_data): the parser's own feed(), for the parsers whose
        # feed() never loses a parsed event to an error (SSE and NDJSON return the events before
        # an error and raise it on their next call).
        self._parse_now = self._parser.feed if self.framing in _LINE_FRAMINGS else None
        # Wire events the quick route parsed, not yet decoded; and a framing error it caught,
        # raised by next_chunk() after them.
        self._events: deque[WireEvent] = deque()
        self._caught: SansStreamError | None = None
        # Everything received so far was returned and nothing is queued or failed: next_chunk()
        # can answer NEED_DATA at once, and receive_data() may take the quick route.
        self._drained = True
        # Quick-route slices without CR or LF, not yet handed to the parser: they end no line,
        # so they can complete nothing. They go over with the next slice that has a line end,
        # at the end of input, or once GATHER bytes are held (so a size limit is still
        # enforced within that many bytes); tiny slices then cost a list append each.
        self._held: list[bytes] = []
        self._held_size = 0
        self.wire_events = 0
        self.keepalives = 0
        self.bytes_received = 0
        self.chunks_delivered = 0

    # -- state ---------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """The provider's terminal marker was seen."""
        return self._decoder.complete

    @property
    def provider_name(self) -> str:
        return self.provider.name

    def result(self) -> ChatResult:
        """Everything assembled from the chunks returned so far (partial until ``END``)."""
        return self._accumulator.result()

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes; ``b""`` marks the end of input. Never decodes anything itself.
        After an error the bytes are dropped: ``next_chunk`` raises that error again.

        (Quick route: while the machine is drained, an SSE or NDJSON slice is parsed into wire
        events as it arrives; a slice without CR or LF, which can complete nothing, is held and
        parsed with the next one that ends a line, at the end of input, or once 4 KiB are held,
        so a size limit is enforced within 4 KiB. That is framing work only, done once either
        way; decoding still happens in ``next_chunk``, and a framing error is kept and raised
        there, after every event before it.)"""
        if self._terminated:
            # Ended at the terminal marker: what follows is not part of the stream.
            if self._input_ended and data:
                raise LocalProtocolError('receive_data() called with data after the end of input (b"")')
            self.bytes_received += len(data)
            self._input_ended = self._input_ended or not data
            return
        if self._drained and data and self._parse_now is not None:
            self._parse_slice(data)
            return
        if self._held:  # (b"" while drained: the held bytes come before the end)
            self._parse_bytes(self._take_held(b""))
        self._drained = False
        if self._error is not None or self._caught is not None:
            self._input_ended = self._input_ended or not data
            return
        if self._input_ended:
            if data:
                raise LocalProtocolError('receive_data() called with data after the end of input (b"")')
            return
        if not data:
            self._input_ended = True
            if self.framing == "sse" and self.bytes_received:
                # A server (or a recording) that closes right after an event's last line, before
                # the blank line that dispatches it: WHATWG parsers (and the openai and cohere
                # SDKs) drop that event, google-genai keeps it, and so do we (see the module
                # docstring). Ending the last line and adding the blank line delivers it; an
                # event cut inside its JSON then fails to parse, which (input having ended) is
                # reported as truncation. After a proper blank line these are no-ops.
                self._parser.receive_data(b"\n\n")
        self.bytes_received += len(data)
        self._parser.receive_data(data)

    def _parse_slice(self, data: bytes) -> bool:
        """The quick route: parse ``data`` now (the machine is drained), or hold it when it ends
        no line; whether anything (events or a framing error) is now waiting for next_chunk."""
        self.bytes_received += len(data)
        if 10 not in data and 13 not in data:
            self._held.append(data)
            self._held_size += len(data)
            if self._held_size < GATHER:
                return False
            data = b""
        if self._held:
            data = self._take_held(data)
        return self._parse_bytes(data)

    def _take_held(self, data: bytes) -> bytes:
        """The held slices followed by ``data``, joined; nothing is held afterwards."""
        self._held.append(data)
        joined = b"".join(self._held)
        self._held.clear()
        self._held_size = 0
        return joined

    def _parse_bytes(self, data: bytes) -> bool:
        """Parse ``data`` with the parser's feed() and queue what it gives for next_chunk (the
        events, or the framing error); whether anything was queued."""
        try:
            events = self._parse_now(data)  # type: ignore[misc]  # (only called when set)
        except SansStreamError as exc:
            self._caught = exc
            self._drained = False
            return True
        if events:
            self._events.extend(events)
            self._drained = False
            return True
        return False

    # -- output --------------------------------------------------------------------------------

    def next_chunk(self) -> Chunk | NeedData | EndOfStream:
        """The next chunk, ``NEED_DATA`` (feed more bytes) or ``END`` (input ended and
        everything was returned). Raises ``ProviderError``, ``IncompleteStreamError`` or
        ``RemoteProtocolError`` at the point in the stream where the problem is."""
        if self._drained:
            return NEED_DATA
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except SansStreamError as exc:
            self._error = exc
            raise

    def _next(self) -> Chunk | NeedData | EndOfStream:
        while True:
            if self._pending:
                return self._deliver(self._pending.popleft())
            if self._finished:
                return END
            if self._decoder.terminated:
                event: WireEvent | NeedData | EndOfStream = END
                self._terminated = True
                self._events.clear()
            else:
                event = self._next_wire_event_or_end()
            if event is NEED_DATA:
                self._drained = True
                return NEED_DATA
            if event is END:
                self._finished = True
                self._pending.extend(self._decoder.finish())
                if self._pending:
                    continue  # deliver finish() chunks before judging completeness
                self._check_complete()
                return END
            self.wire_events += 1
            if self._decoder.is_keepalive(event):
                self.keepalives += 1
            try:
                self._pending.extend(self._decoder.decode(event))
            except RemoteProtocolError as exc:
                if self._input_ended and self._decoder.complete:
                    continue  # a cut after the answer was complete (module docstring)
                if self._input_ended and not isinstance(exc, IncompleteStreamError):
                    detail = str(exc).removesuffix(NOT_THIS_PROTOCOL)
                    raise self._incomplete(
                        f"the {self.provider.name} stream was cut off in the middle of its last event, "
                        f"which does not decode ({detail}): the connection dropped or the recording was "
                        "cut; a cut event is truncation in strict and non-strict mode alike"
                    ) from exc
                raise

    def _next_wire_event_or_end(self) -> WireEvent | NeedData | EndOfStream:
        """The next wire event; at the end of input, a framing error after the answer was
        complete ends the stream instead (module docstring: a cut after the answer)."""
        try:
            return self._next_wire_event()
        except RemoteProtocolError:
            if self._input_ended and self._decoder.complete and self._caught is None:
                self._events.clear()
                return END
            raise

    def _next_wire_event(self) -> WireEvent | NeedData | EndOfStream:
        if self._events:
            return self._events.popleft()
        if self._caught is not None:
            # Found while the input was still arriving: a framing error as it is.
            raise self._caught
        try:
            return self._parser.next_event()
        except IncompleteStreamError as exc:
            if exc.partial is None:
                raise self._incomplete(str(exc)) from exc
            raise
        except RemoteProtocolError as exc:
            if self._input_ended:
                raise self._incomplete(
                    f"the stream was cut off in the middle of a {self.framing} event ({exc})"
                ) from exc
            raise

    def _deliver(self, chunk: Chunk) -> Chunk:
        self._accumulator.add(chunk)
        self.chunks_delivered += 1
        if isinstance(chunk, StreamError) and self.raise_errors:
            error = chunk.error
            error.partial = self._accumulator.result()
            raise error
        if self._finished and not self._pending:
            # The last finish() chunk is being returned: the completeness check must follow it
            # on the next call, so stash an IncompleteStreamError now if there will be one.
            try:
                self._check_complete()
            except IncompleteStreamError as exc:
                self._deferred = exc
                self._error = exc
        return chunk

    def _check_complete(self) -> None:
        if self.strict and not self._decoder.complete:
            marker = self.provider.terminal_marker or "its terminal marker"
            raise self._incomplete(
                f"the {self.provider.name} stream ended without {marker}, so it was probably cut "
                "off (connection dropped, proxy timeout); pass strict=False to accept servers "
                "that omit it"
            )

    def _incomplete(self, message: str) -> IncompleteStreamError:
        partial: ChatResult = self._accumulator.result()
        return IncompleteStreamError(message, partial=partial, provider=self.provider.name)

    # -- convenience -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Chunk]:
        """``receive_data(data)`` then every chunk available.

        If an error follows chunks within this call, those chunks are returned and the error
        is raised by the next call (``feed`` or ``next_chunk``); after ``feed(b"")`` call
        ``feed(b"")`` again (it is allowed) until it returns ``[]`` to be sure nothing is left,
        or use ``next_chunk()`` / ``decode_stream``, which raise exactly in place.
        """
        if self._drained and data and self._parse_now is not None:
            if not self._parse_slice(data):  # (receive_data's quick route, without its call)
                return []
        else:
            self.receive_data(data)
            if self._drained:
                return []
        out: list[Chunk] = []
        if (
            self._events
            and not self._pending
            and self._error is None
            and self._caught is None
            and not self._input_ended
        ):
            try:
                self._decode_queued(out)
                if not self._pending and not self._decoder.terminated:
                    # All decoded: ask the parser itself whether more is complete (usually not:
                    # the quick route parsed every byte), without next_chunk's round trip.
                    event = self._parser.next_event()
                    if event is NEED_DATA:
                        self._drained = True
                        return out
                    if event is not END:  # (END needs the end of input, which has not come)
                        self._events.append(event)
            except SansStreamError as exc:
                self._error = exc
                if not out:
                    raise
                self._deferred = exc
                return out
        while True:
            try:
                chunk = self.next_chunk()
            except SansStreamError as exc:
                if out and exc is self._error:
                    self._deferred = exc
                    return out
                raise
            if chunk is NEED_DATA or chunk is END:
                return out
            out.append(chunk)

    def _decode_queued(self, out: list[Chunk]) -> None:
        """feed()'s loop over the wire events the quick route queued: what calling next_chunk
        until they are used up does, without a call per chunk. A StreamError chunk (and the
        chunks after it) is left to next_chunk, which decides whether it is raised."""
        events = self._events
        decoder = self._decoder
        add = self._accumulator.add
        while events:
            event = events.popleft()
            self.wire_events += 1
            if decoder.is_keepalive(event) if self._own_keepalive else isinstance(event, Comment):
                self.keepalives += 1
            chunks = decoder.decode(event)
            for i, chunk in enumerate(chunks):
                if isinstance(chunk, StreamError):
                    self.chunks_delivered += i
                    self._pending.extend(chunks[i:])
                    return
                add(chunk)
                out.append(chunk)
            self.chunks_delivered += len(chunks)
            if decoder.terminated:
                events.clear()  # nothing after the terminal marker is decoded (module docstring)
                return

    def __repr__(self) -> str:
        return (
            f"<StreamDecoder provider={self.provider.name!r} framing={self.framing!r} "
            f"wire_events={self.wire_events} complete={self.complete}>"
        )


def decode_stream(
    provider: str | Provider,
    chunks: Iterable[bytes],
    *,
    strict: bool = True,
    raise_errors: bool = True,
    framing: Framing | None = None,
    **parser_opts: Any,
) -> Iterator[Chunk]:
    """Decode a whole byte stream (any slicing) into chunks; no network. Errors are raised at
    their place in the stream, after every chunk before them was yielded.

    Slices are fed as they come, except that for SSE and NDJSON a run of slices that end no
    line is joined first (``_gathered``): the machine would hold them anyway (see
    ``receive_data``), and joining them here saves a ``feed()`` call per tiny slice. Nothing is
    read ahead: every chunk is yielded as soon as the slice that completes it has arrived."""
    machine = StreamDecoder(
        provider, strict=strict, raise_errors=raise_errors, framing=framing, **parser_opts
    )
    feed = machine.feed
    pieces = gather_lines(chunks) if machine.framing in _LINE_FRAMINGS else chunks
    for data in pieces:
        if not data:
            continue  # an empty slice from an iterator is not the end of input
        yield from feed(data)
        # feed() keeps an error that follows chunks for its next call: ask now, so the error
        # comes right after them, not when (or if) the next slice arrives.
        machine.next_chunk()
    while out := feed(b""):  # (feed(b"") until nothing is left: see feed())
        yield from out
