"""The one shape every framing parser has (h11-style pull API), the pull loop over it, and the
bookkeeping the queue-based parsers (event-stream, JSON array) share.

``QueuedParser`` holds only what those two do identically: end-of-stream handling in
``receive_data``, refusing work after a failure, raising a pending error once every event before
it was returned, and ``feed``. The SSE and NDJSON parsers are tuned per route and keep their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from ..model import END, NEED_DATA, EndOfStream, LocalProtocolError, NeedData, RemoteProtocolError

__all__ = ["FramingParser", "drive"]  # (refusal and QueuedParser are for the parsers here)

E = TypeVar("E")


class FramingParser(Protocol[E]):
    """``receive_data(b"")`` marks the end of input; ``next_event()`` returns an event,
    ``NEED_DATA`` or ``END``; ``feed(data)`` is ``receive_data`` plus draining."""

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> E | NeedData | EndOfStream: ...

    def feed(self, data: bytes) -> list[E]: ...


def drive(parser: FramingParser[E], chunks: Iterable[bytes]) -> Iterator[E]:
    """The one pull loop: feed ``chunks`` (slices of any size; their end is the end of the
    stream) to ``parser`` and yield every event as soon as the bytes completing it arrived."""
    for chunk in chunks:
        if not chunk:
            continue  # an empty slice is not the end of the stream; the iterable's end is
        parser.receive_data(chunk)
        while True:
            event = parser.next_event()
            if event is NEED_DATA or event is END:
                break
            yield event
    parser.receive_data(b"")
    while True:
        event = parser.next_event()
        if event is END or event is NEED_DATA:
            return
        yield event


def refusal(parser: str, reason: str) -> LocalProtocolError:
    """The error every parser raises for any call after an error escaped it (the one contract:
    an error is raised once every event before it was returned, and then the parser is done)."""
    return LocalProtocolError(
        f"this {parser} failed earlier ({reason}) and cannot be used again; create a new parser "
        "(and, for a network stream, a new connection) for a new stream"
    )


class QueuedParser(Generic[E]):
    """Shared h11-style surface of a parser that queues complete raw items in ``_ready`` while
    buffering, and decodes one per ``next_event``. An error found while buffering waits in
    ``_pending`` until the items before it were returned; after any error raised to the caller
    the parser refuses further work.

    Subclasses set ``_PARSER`` (class name in messages) and ``_STREAM`` (what the bytes are), call
    ``_init_queue()`` in ``__init__``, and implement ``_take`` (buffer non-empty data), ``_at_end``
    (``b""`` arrived: leave an ``IncompleteStreamError`` pending if cut off), ``_decode_next``
    (pop and decode one ``_ready`` item) and ``_drop_buffer``.
    """

    _PARSER: ClassVar[str]
    _STREAM: ClassVar[str]

    _ready: deque[Any]
    _eof: bool
    _pending: RemoteProtocolError | None
    _failed: str | None

    def _init_queue(self) -> None:
        self._ready = deque()
        self._eof = False
        # Errors found while buffering wait until the items before them are returned, so every
        # slicing yields the same items before the same error.
        self._pending = None
        self._failed = None  # why the parser stopped; further calls are refused
        # feed() returned items completed before an error: the error is raised by the next call
        self._deferred: RemoteProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Buffer ``data`` and queue every item it completes; ``b""`` marks the end."""
        self._check_usable()
        if self._eof:
            if not data:
                return  # a repeated end of stream changes nothing
            raise LocalProtocolError(
                f"{self._STREAM} data received after the end of the stream (b'' was already fed)"
            )
        if self._pending is not None:
            return
        if not data:
            self._eof = True
            self._at_end()
            return
        self._take(data)

    def next_event(self) -> E | NeedData | EndOfStream:
        """The next item, ``NEED_DATA`` or ``END``."""
        self._check_usable()
        if self._ready:
            return self._decode_next()
        if self._pending is not None:
            self._fail(self._pending)
        return END if self._eof else NEED_DATA

    def feed(self, data: bytes) -> list[E]:
        """``receive_data(data)`` then every item that is complete. When an error follows items
        in the same call, those items are returned and the error is raised by the next call (the
        contract of every parser's ``feed``), so nothing completed is lost."""
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        self.receive_data(data)
        out: list[E] = []
        while True:
            try:
                event = self.next_event()
            except RemoteProtocolError as exc:
                if not out:
                    raise
                self._deferred = exc
                return out
            if event is NEED_DATA or event is END:
                return out
            out.append(event)

    def _take(self, data: bytes) -> None:
        raise NotImplementedError

    def _at_end(self) -> None:
        raise NotImplementedError

    def _decode_next(self) -> E:
        raise NotImplementedError

    def _drop_buffer(self) -> None:
        raise NotImplementedError

    def _fail(self, exc: RemoteProtocolError) -> NoReturn:
        self._failed = str(exc)
        self._ready.clear()
        self._pending = None
        self._drop_buffer()
        raise exc

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise refusal(self._PARSER, self._failed)
