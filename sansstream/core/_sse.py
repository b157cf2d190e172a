"""Server-Sent Events: the parser, as the WHATWG HTML algorithm "interpreting an event stream".

This module is the algorithm (HTML Living Standard, section 9.2.6), readable top to bottom
against the spec: the stream is decoded as UTF-8 with one leading BOM stripped, split into lines
at CR, LF or CRLF, and each line is applied by the field rules; a blank line dispatches the
event. Each rule is quoted beside its code (``_take`` splits lines, ``_lines`` applies them,
``_dispatch`` ends a block). Browsers are the reference: every case of
``tests/data/conformance/sse`` is what a real browser dispatched for those bytes.

The parser has an h11-style surface: ``receive_data(data)`` takes bytes (``b""`` marks the end
of the stream), ``next_event()`` returns an event, ``NEED_DATA`` or ``END``; ``feed(data)`` is
both at once, returning every event the bytes completed. ``feed``, ``receive_data`` and
``iter_sse`` share one path (the routes' ``take_slice``, else the rules), so the pull API is
as fast as ``feed``.

Speed work lives apart, in ``_sse_routes.py``: recognisers for the shapes LLM streams send, each
producing exactly the events the rules would produce for a piece of input or declining without
changing anything. ``SSEParser(routes=False)`` turns them all off (the property tests compare
the two). Two choices here are for speed but change no result:

* Bytes stay bytes until an event is dispatched: field names are compared as bytes and the data
  of an event is decoded once, when it is dispatched. Decoding per event instead of per stream
  is equivalent because CR and LF are ASCII: an invalid or truncated UTF-8 sequence always ends
  at a line end, so ``decode("utf-8", "replace")`` yields the same U+FFFD either way.
* The unterminated line is kept apart, already searched, by the receive buffer every line
  framing shares (``LineBuffer``, core/_receive.py): only new bytes are searched for line ends,
  so no byte is searched twice and one-byte slices cost the same per byte as large ones. It
  grows in place (a bytearray), never by ``bytes + bytes``.

Memory is bounded by ``max_event_size``: the bytes of the lines of the block being built (every
line since the last blank line, comments included, plus the unterminated line) may not exceed it.
Counting every line, rather than only data, keeps the limit independent of how bytes are sliced.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Final, Generic, Literal, TypeVar, overload

from ..model import (
    END,
    NEED_DATA,
    Comment,
    EndOfStream,
    EventTooLargeError,
    LocalProtocolError,
    NeedData,
    SansStreamError,
    ServerSentEvent,
    SSEField,
)
from ._base import refusal
from ._receive import GATHER, LineBuffer
from ._sse_encode import STANDARD_FIELDS
from ._sse_events import block_event, decode
from ._sse_routes import take_region, take_slice

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEParser", "iter_sse"]

# A whole OpenAI Responses ``response.completed`` event repeats the entire response (every output
# item, tool call and usage) and can be hundreds of KB; Anthropic and Gemini final events are
# similar. 16 MiB leaves ample headroom for such events while bounding what a misbehaving server
# (or a stream that never sends a line end) can make us hold in memory.
DEFAULT_MAX_EVENT_SIZE: Final = 16 * 1024 * 1024

# Stands in for "no limit" so that limits are compared as ints without testing for None.
_UNLIMITED: Final = 1 << 62
_NO_NAMES: Final[frozenset[str]] = frozenset()
# CPython's int() refuses longer digit strings by default (sys.get_int_max_str_digits()).
_MAX_RETRY_DIGITS: Final = 4300

AnySSE = ServerSentEvent | Comment | SSEField
# The queue of a parser with nothing queued: one shared empty list (a list per parser would be
# an eighth of an idle parser's memory). Never appended to: a queue is always replaced whole
# (and only ever popped while not empty).
_NONE_QUEUED: Final[list[AnySSE]] = []
# What receive_data() and feed() accept; anything but bytes is copied to bytes first.
Buffer = bytes | bytearray | memoryview
E = TypeVar("E", bound=AnySSE)


class SSEParser(Generic[E]):
    """Incremental parser of a ``text/event-stream`` body.

    ``receive_data(data)`` takes bytes (``b""`` marks the end of the stream); ``next_event()``
    returns a :class:`ServerSentEvent`, a :class:`Comment` (only with ``comments=True``), an
    :class:`SSEField` (only for field names listed in ``extra_fields``, or every non-standard
    name with ``"*"``), ``NEED_DATA`` or, once the stream ended and everything was returned,
    ``END``. ``feed(data)`` is ``receive_data`` plus draining. An error (a block over
    ``max_event_size``) is raised once the events before it were returned; after it the parser
    refuses further work.

    ``last_event_id`` is the event stream's last event ID (updated at each blank line, as a
    browser's ``lastEventId``); ``retry`` the reconnection time in ms set by the stream, or None.
    ``routes=False`` parses by the spec's rules alone (slower; for checking the speed routes).
    """

    # Slots: a parser stays small (no per-instance dict), and attribute access on the per-slice
    # path is a fixed offset.
    __slots__ = (
        "_all_extra",
        "_block_retry",
        "_buf",
        "_comments",
        "_data",
        "_dirty",
        "_done",
        "_ended",
        "_event",
        "_extra",
        "_failure",
        "_id_buf",
        "_idle",
        "_limit",
        "_new",
        "_open",
        "_out",
        "_parked",
        "_pending_error",
        "_queue",
        "_quick",
        "_room",
        "_routes",
        "_size",
        "last_event_id",
        "max_event_size",
        "retry",
    )

    @overload
    def __init__(
        self: SSEParser[ServerSentEvent],
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
        comments: Literal[False] = False,
        extra_fields: tuple[()] = (),
        routes: bool = True,
    ) -> None: ...

    @overload
    def __init__(
        self: SSEParser[ServerSentEvent | Comment | SSEField],
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
        comments: bool = False,
        extra_fields: Collection[str] | Literal["*"] = (),
        routes: bool = True,
    ) -> None: ...

    def __init__(
        self,
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
        comments: bool = False,
        extra_fields: Collection[str] | Literal["*"] = (),
        routes: bool = True,
    ) -> None:
        if max_event_size is not None and (
            isinstance(max_event_size, bool) or not isinstance(max_event_size, int) or max_event_size < 1
        ):
            raise LocalProtocolError(
                f"max_event_size must be a positive int (bytes) or None for no limit, not {max_event_size!r}"
            )
        if not isinstance(last_event_id, str) or "\x00" in last_event_id:
            raise LocalProtocolError("last_event_id must be a str without NUL (a stream could never set it)")
        all_extra = extra_fields == "*"
        # (A shared empty set when there are none: an empty frozenset is 216 bytes per parser.)
        extra: frozenset[str] = _NO_NAMES if all_extra or not extra_fields else frozenset(extra_fields)
        clash = extra & STANDARD_FIELDS
        if clash:
            raise LocalProtocolError(
                f"extra_fields may only name non-standard fields; {sorted(clash)} are handled by the "
                "SSE rules themselves and come out inside ServerSentEvent"
            )
        self.max_event_size = max_event_size
        self._limit = _UNLIMITED if max_event_size is None else max_event_size
        self._comments = comments
        self._extra = extra
        self._all_extra = all_extra
        self._routes = routes
        # The stream's state: its "last event ID string" (what the next event reports and what
        # a reconnection sends), set from the ID buffer at every blank line; the reconnection
        # time in ms, set by any valid ``retry:`` line as soon as it is read.
        self.last_event_id = last_event_id
        self.retry: int | None = None
        # Line splitting: the receive buffer holds the unterminated line (searched already), a
        # BOM still undecided, a CR whose LF may follow.
        self._buf = LineBuffer(cr_ends_lines=True)
        # The block being built (the spec's buffers): the data lines as raw bytes (joined with
        # LF at dispatch), the event type buffer, the last event ID buffer, this block's
        # ``retry:`` value, the bytes of its lines (for max_event_size), and whether any line
        # of it was read.
        self._data: list[bytes] = []
        self._event = b""
        self._id_buf = last_event_id
        self._block_retry: int | None = None
        self._size = 0
        self._dirty = False
        # Results: the rules append to _out (taken by each call); the events parsed for
        # next_event() wait in _queue, last one first (list.pop() is the cheapest way out).
        self._out: list[AnySSE] = []
        self._queue: list[AnySSE] = _NONE_QUEUED
        # Bytes receive_data() took that may end lines, parsed by the next next_event(), and the
        # unterminated line as it was open for appending then (or None).
        self._new: bytes | bytearray | None = None
        self._parked: bytearray | None = None
        # receive_data(b"") was called; the end was reached (every event returned after it is
        # END); an error found while parsing, raised once the events before it are returned;
        # the error that escaped (every later call refuses, quoting it).
        self._ended = False
        self._done = False
        self._pending_error: SansStreamError | None = None
        self._failure: str | None = None
        # Neither ended nor failed nor holding an error; and that, with no bytes held for
        # next_event() to parse (next_event() may answer NEED_DATA at once).
        self._open = True
        self._idle = True
        # The unterminated line itself (a bytearray) while new bytes may simply be appended to
        # it and handed to the routes (open, BOM settled, no CR pending, routes on), else None;
        # _room is how many bytes it may hold before the block breaks max_event_size.
        self._quick: bytearray | None = None
        self._room = 0

    # -- the h11-style surface: receive_data / next_event, and feed --------------------------

    def receive_data(self, data: Buffer) -> None:
        """Buffer ``data``; ``b""`` marks the end of the stream. Parses nothing: the lines are
        applied when ``next_event`` is called (by the same path as ``feed``). The one error
        raised here: bytes that would carry a line with no end in sight over
        ``max_event_size``, refused before they are held.
        """
        tail = self._quick
        if tail is not None and data:
            # (_quick is only set while the parser is open and holds no bytes.)
            if 10 not in data and 13 not in data:
                # No CR or LF (10 and 13: literals are cheaper than the module constants): no
                # line ends, so this is all the work these bytes will ever need: the
                # unterminated line grows.
                tail += data
                if len(tail) <= self._room:
                    return
                self._overflow(tail)
            # Held until next_event(), with the unterminated line as it stood (the routes may
            # append to it then).
            self._new = data if type(data) is bytes else bytes(data)
            self._parked = tail
            self._quick = None
            self._idle = False
            return
        if not self._open:
            self._receive_closed(data)
            return
        self._idle = False
        if not data:
            self._ended = True
            self._open = False
            self._quick = None
        elif self._new is None:
            self._new = data if type(data) is bytes else bytes(data)
        else:
            new = self._new
            if type(new) is bytes:
                new = self._new = bytearray(new)  # grows in place from now on
            new += data
            if len(new) > self._limit:
                # More held than an event may hold: parse it now (the events wait in the queue,
                # an error behind them), so memory stays bounded by max_event_size.
                self._parse_held()

    def next_event(self) -> E | NeedData | EndOfStream:
        """Return the next event, ``NEED_DATA`` (give more bytes) or ``END``."""
        queue = self._queue
        if queue:
            return queue.pop()  # type: ignore[return-value]
        if self._idle:
            return NEED_DATA
        new = self._new
        tail = self._parked
        if tail is not None and self._open and type(new) is bytes and 13 not in new:
            # The usual case, _parse_held() inline (a call less per slice): one slice held
            # while the unterminated line was open for appending, so feed()'s path.
            self._new = self._parked = None
            self._quick = tail
            events = take_slice(self, tail, new)
            if events is None:
                del tail  # (not pinned while the rules parse)
                events = self._general(new)
            self._idle = self._open
            if events:
                if len(events) == 1:
                    return events[0]  # type: ignore[return-value]
                events.reverse()
                self._queue = events
                return events.pop()  # type: ignore[return-value]
        elif self._failure is None:
            queue = self._parse_held()
            if queue:
                return queue.pop()  # type: ignore[return-value]
        self._check_usable()
        return END if self._done else NEED_DATA

    def feed(self, data: Buffer) -> list[E]:
        """Take ``data`` and return every event now complete (``receive_data`` plus draining).

        If the bytes break a limit after some complete events, those events are returned and the
        error is raised by the next call.
        """
        tail = self._quick
        if tail is not None and data:
            if 10 not in data and 13 not in data:
                # As in receive_data: the many small slices inside a line end here.
                tail += data
                if len(tail) <= self._room:
                    return []
                self._overflow(tail)
            # The usual loop (feed after feed): the routes, else the rules, on these bytes.
            if type(data) is bytes and 13 not in data:
                out = take_slice(self, tail, data)
                if out is None:
                    del tail  # (not pinned while the rules parse: a big line must not be held twice)
                    out = self._general(data)
            else:
                del tail
                out = self._general(bytes(data))
            if self._queue:
                # Events receive_data() queued and next_event() has not returned come first.
                out[:0] = reversed(self._queue)
                self._queue.clear()
        else:
            # Anything else (the end, bytes held by receive_data, an error waiting) by way of
            # the pull API.
            self.receive_data(data)
            out = self._parse_held()[::-1]
            self._queue = _NONE_QUEUED
        if not out and self._pending_error is not None:
            self._check_usable()
        return out  # type: ignore[return-value]

    # -- the one path -------------------------------------------------------------------------

    def _parse_held(self) -> list[AnySSE]:
        """Parse the bytes receive_data() held, and the end it was told of; queue the events
        (the queue is returned)."""
        new = self._new
        if new is not None:
            self._new = None
            if type(new) is not bytes:
                new = bytes(new)
            tail = self._quick = self._parked
            self._parked = None
            events = take_slice(self, tail, new) if tail is not None and 13 not in new else None
            if events is None:
                del tail  # (not pinned while the rules parse)
                events = self._general(new)
            if events:
                events.reverse()
                if self._queue:
                    events += self._queue
                self._queue = events
        if self._ended and not self._done and self._pending_error is None:
            self._end()
        self._idle = self._open
        return self._queue

    def _general(self, data: bytes) -> list[AnySSE]:
        """``data`` through the rules (and the region routes): every event it completes."""
        self._quick = None  # not pinned while parsing: a big line must not be held twice
        self._take(data)
        out = self._out
        if out:
            self._out = []
        else:
            out = []  # never hand out the parser's own list
        if self._routes and self._open and self._buf.settled:
            self._quick = self._buf.appendable()
            self._room = self._limit - self._size
        return out

    def _end(self) -> None:
        """The end of the stream: "Once the end of the file is reached, any pending data must be
        discarded. (If the file ends in the middle of an event, before the final empty line,
        the incomplete event is not dispatched.)" The unterminated line goes too."""
        self._quick = None
        self._buf.clear()
        self._done = True

    # -- errors -------------------------------------------------------------------------------

    def _receive_closed(self, data: Buffer) -> None:
        """receive_data() once the stream ended or an error was found: raise the error when
        every event before it was returned, refuse bytes after the end; else (an error waits
        behind events) these bytes will never be parsed."""
        self._check_usable()
        if self._ended and data:
            self._fail(
                LocalProtocolError(
                    "got bytes after the end of the stream was signalled with b'' (to "
                    "receive_data or feed); make a new SSEParser for a new stream"
                )
            )

    def _check_usable(self) -> None:
        """Raise the error waiting once every event before it was returned, or refuse work
        after an error escaped."""
        if self._pending_error is not None and not self._queue:
            error, self._pending_error = self._pending_error, None
            self._fail(error)
        if self._failure is not None:
            raise refusal("SSEParser", self._failure)

    def _set_error(self, error: SansStreamError) -> None:
        self._pending_error = error
        self._open = self._idle = False
        self._quick = None

    def _fail(self, error: SansStreamError) -> None:
        self._open = self._idle = False
        self._quick = None
        self._failure = f"{type(error).__name__}: {error}"
        raise error

    def _overflow(self, tail: bytearray) -> None:
        """The unterminated line just grew past max_event_size: refuse (the bytes appended are
        dropped again, as the parser is done for)."""
        size = self._size + len(tail)
        tail.clear()
        self._fail(self._too_large(size))

    def _too_large(self, size: int) -> EventTooLargeError:
        return EventTooLargeError(
            f"an SSE event grew to {size} bytes, over max_event_size={self.max_event_size}; "
            "raise max_event_size (or pass None to lift the limit) if events this large are expected",
            limit=self.max_event_size,
            size=size,
        )

    # -- the algorithm ------------------------------------------------------------------------

    def _take(self, data: bytes) -> None:
        """Split new bytes into lines and apply every line they complete.

        "The stream must then be parsed by reading everything line by line, with a U+000D
        CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE FEED (LF)
        character not preceded by a U+000D CARRIAGE RETURN (CR) character, and a single U+000D
        CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF) character being
        the ways in which a line can end."
        """
        # (The receive buffer, LineBuffer in core/_receive.py, splits lines this way and hands
        # every line end out as an LF; it also drops one leading BOM, as "UTF-8 decode" does,
        # only at the very start of the stream.)
        buf = self._buf
        region = buf.take(data, self._limit - self._size)
        if region is None:
            # No line end, and the block would break max_event_size: refused before the excess
            # is held.
            self._set_error(self._too_large(self._size + buf.overflow))
            return
        if not region:
            return
        try:
            if self._routes:
                take_region(self, region)
            else:
                lines = region.split(b"\n")
                lines.pop()  # the empty text after the final LF
                self._lines(lines)
        except EventTooLargeError as exc:
            self._set_error(exc)
            return
        if self._size + len(buf.tail) > self._limit:
            self._set_error(self._too_large(self._size + len(buf.tail)))

    def _lines(self, lines: list[bytes]) -> None:
        """Apply complete lines (line ends removed), one at a time, by the field rules."""
        limit = self._limit
        for line in lines:
            if not line:
                # "If the line is empty (a blank line): Dispatch the event, as defined below."
                self._dispatch()
                continue
            self._dirty = True
            self._size += len(line)
            if self._size > limit:
                raise self._too_large(self._size)
            colon = line.find(b":")
            if colon == 0:
                # "If the line starts with a U+003A COLON character (:): Ignore the line."
                if self._comments:
                    text = line[2:] if line[1:2] == b" " else line[1:]
                    self._out.append(Comment(decode(text)))
                continue
            if colon < 0:
                # "Otherwise, the string is not empty but does not contain a U+003A COLON
                # character (:): Process the field using the steps described below, using the
                # whole line as the field name, and the empty string as the field value."
                self._field(line, b"")
            else:
                # "If the line contains a U+003A COLON character (:): Collect the characters on
                # the line before the first U+003A COLON character (:), and let field be that
                # string. Collect the characters on the line after the first U+003A COLON
                # character (:), and let value be that string. If value starts with a U+0020
                # SPACE character, remove it from value."
                value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
                self._field(line[:colon], value)

    def _field(self, name: bytes, value: bytes) -> None:
        """ "Process the field": the steps for each field name."""
        if name == b"data":
            # "Append the field value to the data buffer, then append a single U+000A LINE FEED
            # (LF) character to the data buffer": kept as a list, joined with LF at dispatch,
            # which leaves out the final LF as the dispatch step removes it.
            self._data.append(value)
        elif name == b"event":
            # "Set the event type buffer to the field value."
            self._event = value
        elif name == b"id":
            # "If the field value does not contain U+0000 NULL, then set the last event ID
            # buffer to the field value. Otherwise, ignore the field."
            if b"\x00" not in value:
                self._id_buf = decode(value)
        elif name == b"retry":
            # "If the field value consists of only ASCII digits, then interpret the field value
            # as an integer in base ten, and set the event stream's reconnection time to that
            # integer. Otherwise, ignore the field." bytes.isdigit() is ASCII-only and false for
            # b"" (unlike int(), which takes " 12", "1_2" and non-ASCII digits). Beyond
            # _MAX_RETRY_DIGITS the value is ignored, as Chromium ignores any value that
            # overflows; converting it would cost superlinear time on a hostile line.
            if value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
                self.retry = self._block_retry = int(value)
        elif self._all_extra or self._extra:
            # "Otherwise: The field is ignored", unless the caller asked to see it.
            field_name = decode(name)
            if self._all_extra or field_name in self._extra:
                self._out.append(SSEField(field_name, decode(value)))

    def _dispatch(self) -> None:
        """A blank line: "dispatch the event", then reset the block."""
        # "1. Set the last event ID string of the event source to the value of the last event
        # ID buffer. The buffer does not get reset, so the last event ID string of the event
        # source remains set to this value until the next time it is set by the server."
        self.last_event_id = self._id_buf
        # "2. If the data buffer is an empty string, set the data buffer and the event type
        # buffer to the empty string and return." (No event; the block still ends here.)
        if self._data:
            # "3. If the data buffer's last character is a U+000A LINE FEED (LF) character, then
            # remove the last character from the data buffer." (Joining with LF does both.)
            # Join, drop the lines, then decode: at most two copies of a big event at a time.
            data, self._data = self._data, []
            raw = data[0] if len(data) == 1 else b"\n".join(data)
            del data
            # "4.-7. Let event be the result of creating an event using MessageEvent ... with
            # the data attribute initialized to the value of the data buffer, the origin ...,
            # and the lastEventId attribute initialized to the last event ID string ... If the
            # event type buffer has a value other than the empty string, change the type of the
            # newly created event to equal the value of the event type buffer." (block_event)
            self._out.append(block_event(raw, self._event, self._id_buf, self._block_retry))
        # "8. Set the data buffer and the event type buffer to the empty string."
        self._event = b""
        self._block_retry = None
        self._size = 0
        self._dirty = False

    def _dispatched(self) -> list[AnySSE]:
        """``_dispatch`` for the routes: the event it made, if any, taken from ``_out``."""
        self._dispatch()
        out = self._out
        if out:
            self._out = []
            return out
        return []


# -- the driver loop --------------------------------------------------------------------------


@overload
def iter_sse(
    chunks: Iterable[bytes],
    *,
    max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    last_event_id: str = "",
    comments: Literal[False] = False,
    extra_fields: tuple[()] = (),
) -> Iterator[ServerSentEvent]: ...


@overload
def iter_sse(
    chunks: Iterable[bytes],
    *,
    max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    last_event_id: str = "",
    comments: bool = False,
    extra_fields: Collection[str] | Literal["*"] = (),
) -> Iterator[ServerSentEvent | Comment | SSEField]: ...


def iter_sse(
    chunks: Iterable[bytes],
    *,
    max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    last_event_id: str = "",
    comments: bool = False,
    extra_fields: Collection[str] | Literal["*"] = (),
) -> Iterator[ServerSentEvent | Comment | SSEField]:
    """Parse any iterable of byte slices into events (the one driver loop).

    Options are those of :class:`SSEParser`. Events are yielded as soon as they are complete; the
    end of ``chunks`` ends the stream (an unterminated last block is dropped, as browsers do).
    """
    parser: SSEParser[ServerSentEvent | Comment | SSEField] = SSEParser(
        max_event_size=max_event_size,
        last_event_id=last_event_id,
        comments=comments,
        extra_fields=extra_fields,
    )
    feed = parser.feed
    # Slices that cannot complete anything we yield are gathered here and handed over joined
    # with the next slice that can: tiny slices then cost a list append each instead of a
    # feed() call. Nothing is read ahead: a slice that may complete an event is fed at once, so
    # every event is still yielded as soon as its last byte was received. A slice without CR or
    # LF ends no line; and unless comments or extra fields are asked for (they are yielded per
    # line), a slice with LFs but no CR completes nothing either when it holds no blank line:
    # no LF LF in it, and not starting with LF right after an LF. Once GATHER bytes are
    # gathered they are fed anyway, so max_event_size is still enforced within that many bytes
    # and the parser, not this loop, holds a long line.
    hold_lines = not comments and not extra_fields
    fed_lf = False  # the last byte fed to the parser was an LF
    held: list[bytes] = []
    size = 0
    for chunk in chunks:
        if 10 in chunk or 13 in chunk:  # LF, CR
            if (
                hold_lines
                and 13 not in chunk
                and type(chunk) is bytes
                and len(chunk) < GATHER  # (a big slice would be fed at once anyway)
                and b"\n\n" not in chunk
                and (chunk[0] != 10 or not (held[-1][-1] == 10 if held else fed_lf))
            ):
                held.append(chunk)  # lines end here, but no event can
                size += len(chunk)
                if size >= GATHER:
                    joined = b"".join(held)
                    held.clear()
                    size = 0
                    fed_lf = joined[-1] == 10
                    yield from feed(joined)  # (nothing, as no blank line is in it)
                continue
            fed_lf = chunk[-1] == 10
            if held:
                held.append(chunk)
                joined = b"".join(held)
                held.clear()
                size = 0
                yield from feed(joined)
            else:
                # feed() returns the events completed by this slice; an error found after them
                # is raised by the next call, so every event before it is still delivered.
                yield from feed(chunk)
        elif chunk:  # an empty slice is not the end of the stream here: the iterable's end is
            held.append(chunk)
            size += len(chunk)
            if size >= GATHER:
                joined = b"".join(held)
                held.clear()
                size = 0
                fed_lf = False
                yield from feed(joined)  # (nothing, as no line ends in it)
    if held:
        yield from feed(b"".join(held))
    yield from feed(b"")
