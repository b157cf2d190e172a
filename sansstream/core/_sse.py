"""Server-Sent Events: the sans-IO parser, the driver loop and the encoders.

The parser implements the WHATWG HTML algorithm "interpreting an event stream" (HTML Living
Standard, section 9.2.6) exactly as browsers do, behind an h11-style pull API: ``receive_data``
only buffers, ``next_event`` returns an event, ``NEED_DATA`` or ``END``.

Strategy, chosen for speed and for cost that is linear in the bytes however they are sliced:

* Bytes stay bytes until an event is dispatched. Field names are compared as bytes, and the data
  of an event is decoded once, when it is dispatched. Decoding per event instead of per stream is
  equivalent because CR and LF are ASCII: an invalid or truncated UTF-8 sequence always ends at a
  line end, so ``decode("utf-8", "replace")`` yields the same U+FFFD either way.
* When asked for events, the parser takes every complete line received so far as one region (up
  to the last CR or LF of the new bytes) and normalises CRLF and CR to LF only when a CR is
  present. A region that is nothing but ``data: ...`` blocks (the shape of nearly every LLM
  stream) is decoded once and split once on ``"\\n\\ndata: "``. Bulk routes take the other
  common shapes, each checked exactly before it changes anything: complete lines that are all
  ``data:`` lines (the middle of a big event) become one pre-joined piece of the data buffer
  (``_data_run``), and blocks that are all ``event:`` + ``data:`` (Anthropic) or all ``data:``
  have their names and values decoded and split once (``_uniform_blocks``). Anything else is
  split on blank lines; a block of one ``data:`` line, or of an ``event:`` and a ``data:`` line,
  still takes a short cut, and any other block goes through the general line-by-line rules, each
  quoted from the spec beside its code.
* ``feed()`` has quick routes for small slices (see its comments), where the calls of the
  general route would cost more than the parsing: a slice without line end, a slice ending
  one-line ``data`` blocks or one ``event`` + ``data`` block, a slice with one line end, and any
  other small slice without CR (``_small_lines``: ``event``, ``data`` and blank lines applied in
  place, the general rules from the first other line on).
* The unterminated tail is kept apart, already searched: only new bytes are ever searched for
  line ends, so no byte is searched twice and one-byte slices cost the same per byte as large
  ones. The tail grows in place (a bytearray), never by ``bytes + bytes``.
* Events are built without the frozen dataclass ``__init__`` (see ``_Draft``), which would
  otherwise cost as much as all the parsing.

Memory is bounded by ``max_event_size``: the bytes of the lines of the block being built (every
line since the last blank line, comments included, plus the unterminated line) may not exceed it.
Counting every line, rather than only data, keeps the limit independent of how bytes are sliced.
"""

from __future__ import annotations

import dataclasses
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

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "SSEParser",
    "SSEEncoder",
    "iter_sse",
    "encode_sse",
]

# A whole OpenAI Responses ``response.completed`` event repeats the entire response (every output
# item, tool call and usage) and can be hundreds of KB; Anthropic and Gemini final events are
# similar. 16 MiB leaves ample headroom for such events while bounding what a misbehaving server
# (or a stream that never sends a line end) can make us hold in memory.
DEFAULT_MAX_EVENT_SIZE: Final = 16 * 1024 * 1024

_BOM: Final = b"\xef\xbb\xbf"
# Line ends as ints: ``10 in data`` is a plain memchr, several times cheaper than ``b"\n" in data``
# (which goes through the buffer protocol), and it is on the path of every slice.
_LF: Final = 10
_CR: Final = 13
# Stands in for "no limit" so the hot loop compares ints without testing for None.
_UNLIMITED: Final = 1 << 62
_STANDARD_FIELDS: Final = frozenset({"data", "event", "id", "retry"})
# Regions at least this big are decoded through a memoryview rather than a sliced copy.
_BIG_REGION: Final = 1 << 16
# iter_sse() gathers slices without a line end up to this many bytes before feeding them.
_COALESCE: Final = 4096
# feed() applies the lines of slices up to this size in place (beyond it the block-level routes
# of _parse_lines, which decode many events at once, are faster).
_SMALL_SLICE: Final = 256
# Regions at least this big are first tried as blocks of one uniform shape, in bulk.
_UNIFORM_MIN: Final = 512
# Decoded event names (``event: content_block_delta``): looking a name up beats decoding it. A
# stream uses a handful of names, so the first ones seen are kept; the cache stops growing at
# _NAME_CACHE_MAX entries of at most _NAME_CACHE_KEY bytes, so no stream can make it hold more.
# (No provider's names are listed here: the core knows none.)
_NAME_CACHE: Final[dict[bytes, str]] = {}
_NAME_CACHE_MAX: Final = 256
_NAME_CACHE_KEY: Final = 64


def _event_name(raw: bytes) -> str:
    name = _NAME_CACHE.get(raw)
    if name is None:
        name = _decode(raw)
        if len(_NAME_CACHE) < _NAME_CACHE_MAX and len(raw) <= _NAME_CACHE_KEY:
            _NAME_CACHE[raw] = name
    return name


_NO_NAMES: Final[frozenset[str]] = frozenset()
# CPython's int() refuses longer digit strings by default (sys.get_int_max_str_digits()).
_MAX_RETRY_DIGITS: Final = 4300

AnySSE = ServerSentEvent | Comment | SSEField
# What receive_data() and feed() accept; anything but bytes is copied to bytes first.
Buffer = bytes | bytearray | memoryview
E = TypeVar("E", bound=AnySSE)


# Building events fast. ServerSentEvent is a frozen, slotted dataclass: its generated __init__
# sets each field through object.__setattr__, about 0.5 us per event, as much as all the rest
# of the parsing. _Draft has the very same slots (so the same memory layout) but is mutable:
# the parser fills a _Draft with plain attribute stores and then relabels it as a
# ServerSentEvent (CPython allows __class__ assignment between layout-identical classes). The
# result is an ordinary ServerSentEvent (equal, hashable, frozen from then on) built about four
# times faster. The self-test below falls back to the plain constructor if the model's class
# ever changes shape, or on an interpreter that refuses the relabelling.
class _Draft:
    __slots__ = ("data", "event", "id", "retry")
    data: str
    event: str
    id: str
    retry: int | None


def _relabel_works() -> bool:
    try:
        fields = tuple(f.name for f in dataclasses.fields(ServerSentEvent))
        if fields != _Draft.__slots__ or getattr(ServerSentEvent, "__slots__", None) != fields:
            return False  # pragma: no cover
        draft = _Draft()
        draft.data, draft.event, draft.id, draft.retry = "d", "e", "i", 1
        draft.__class__ = ServerSentEvent  # type: ignore[assignment]
        return draft == ServerSentEvent("d", "e", "i", 1)  # type: ignore[comparison-overlap]
    except (TypeError, AttributeError):  # pragma: no cover
        return False


_FAST_EVENTS: Final = _relabel_works()


def _append_messages(
    out: list[AnySSE], texts: list[str], last_event_id: str, names: list[str] | None = None
) -> None:
    """Append one event per text (named by ``names``, else ``message``), all with the same id
    and no retry: the bulk routes' loop, without a call per event."""
    if not _FAST_EVENTS:  # pragma: no cover
        kinds = names or ["message"] * len(texts)
        out += [ServerSentEvent(t, k, last_event_id, None) for t, k in zip(texts, kinds, strict=True)]
        return
    append = out.append
    cls = ServerSentEvent
    if names is None:
        for text in texts:
            draft = _Draft()
            draft.data = text
            draft.event = "message"
            draft.id = last_event_id
            draft.retry = None
            draft.__class__ = cls  # type: ignore[assignment]
            append(draft)  # type: ignore[arg-type]
        return
    for name, text in zip(names, texts, strict=True):
        draft = _Draft()
        draft.data = text
        draft.event = name
        draft.id = last_event_id
        draft.retry = None
        draft.__class__ = cls  # type: ignore[assignment]
        append(draft)  # type: ignore[arg-type]


def _sse_event(text: str, event: str, id: str, retry: int | None) -> ServerSentEvent:
    """``ServerSentEvent(text, event, id, retry)``, built through _Draft when it can be."""
    if not _FAST_EVENTS:  # pragma: no cover
        return ServerSentEvent(text, event, id, retry)
    draft = _Draft()
    draft.data = text
    draft.event = event
    draft.id = id
    draft.retry = retry
    draft.__class__ = ServerSentEvent  # type: ignore[assignment]
    return draft  # type: ignore[return-value]


def _block_event(raw: bytes, raw_type: bytes, id: str, retry: int | None) -> ServerSentEvent:
    """The event a blank line dispatches: ``raw`` is the data buffer (lines joined with LF),
    ``raw_type`` the event type buffer. "If the event type buffer has a value other than the
    empty string, set the type of the newly created event to equal the value of the event type
    buffer" (the usual names are looked up rather than decoded). Strict decoding first: it is
    CPython's quicker path, and invalid UTF-8 is rare."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = _decode(raw)
    name = _event_name(raw_type) if raw_type else "message"
    return _sse_event(text, name, id, retry)


def _decode(raw: bytes) -> str:
    # The WHATWG "UTF-8 decode" replaces each maximal invalid subpart with one U+FFFD, which is
    # what CPython's "replace" error handler does.
    return raw.decode("utf-8", "replace")


class SSEParser(Generic[E]):
    """Incremental parser of a ``text/event-stream`` body.

    ``receive_data(data)`` buffers bytes (``b""`` marks the end of the stream); ``next_event()``
    returns a :class:`ServerSentEvent`, a :class:`Comment` (only with ``comments=True``), an
    :class:`SSEField` (only for field names listed in ``extra_fields``, or every non-standard
    name with ``"*"``), ``NEED_DATA`` or, once the stream ended and everything was returned,
    ``END``. ``feed(data)`` is ``receive_data`` plus draining.

    ``last_event_id`` is the event stream's last event ID (updated at each blank line, as a
    browser's ``lastEventId``); ``retry`` the reconnection time in ms set by the stream, or None.
    """

    # Slots: a parser with nothing buffered stays small (no per-instance dict), and attribute
    # access on the per-slice path is a fixed offset.
    __slots__ = (
        "_all_extra",
        "_block_retry",
        "_bom_done",
        "_comments",
        "_data",
        "_dirty",
        "_done",
        "_ended",
        "_event",
        "_extra",
        "_failure",
        "_id_buf",
        "_limit",
        "_new",
        "_new_has_end",
        "_new_len",
        "_new_searched",
        "_open",
        "_out",
        "_out_i",
        "_pending_error",
        "_quick",
        "_room",
        "_size",
        "_skip_lf",
        "_tail",
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
    ) -> None: ...

    @overload
    def __init__(
        self: SSEParser[ServerSentEvent | Comment | SSEField],
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
        comments: bool = False,
        extra_fields: Collection[str] | Literal["*"] = (),
    ) -> None: ...

    def __init__(
        self,
        *,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        last_event_id: str = "",
        comments: bool = False,
        extra_fields: Collection[str] | Literal["*"] = (),
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
        clash = extra & _STANDARD_FIELDS
        if clash:
            raise LocalProtocolError(
                f"extra_fields may only name non-standard fields; {sorted(clash)} are handled by the "
                "SSE rules themselves and come out inside ServerSentEvent"
            )
        self.max_event_size = max_event_size
        self._limit = _UNLIMITED if max_event_size is None else max_event_size
        # The event stream's "last event ID string" (what the next event reports and what a
        # reconnection sends); set from the ID buffer at every blank line.
        self.last_event_id = last_event_id
        # The reconnection time in ms, set by any valid ``retry:`` line as soon as it is read.
        self.retry: int | None = None
        self._comments = comments
        self._extra = extra
        self._all_extra = all_extra
        # Slices received but not yet searched for line ends (receive_data only appends here).
        self._new: list[bytes] = []
        # Their total size, how many of them receive_data already searched for a line end (only
        # done near the size limit), and whether it found one.
        self._new_len = 0
        self._new_searched = 0
        self._new_has_end = False
        # The unterminated line: bytes already searched and known to hold no CR or LF, so a long
        # line fed in small slices is searched once, not once per slice. It is the caller's own
        # bytes object while it came in one slice, a bytearray once it grows (amortised appends,
        # never bytes += bytes).
        self._tail: bytes | bytearray = b""
        # A CR ended the last complete line; if the next byte is LF it belongs to the same line
        # end (CRLF split across slices) and must not count as a second, blank line.
        self._skip_lf = False
        # The stream starts with an optional UTF-8 BOM that may itself arrive split across slices;
        # until three bytes (or the end) have been seen we cannot tell.
        self._bom_done = False
        # The block being built (the spec's buffers): data lines as raw bytes, the event type as
        # raw bytes, the ID buffer, the ``retry:`` value of this block, and the bytes of its lines.
        self._data: list[bytes] = []
        self._event = b""
        self._id_buf = last_event_id
        self._block_retry: int | None = None
        self._size = 0
        # Whether any line of the current block was read: the fast path needs a fresh block.
        self._dirty = False
        # Results parsed but not yet returned, and how many of them were returned already.
        self._out: list[AnySSE] = []
        self._out_i = 0
        self._ended = False  # receive_data(b"") was called
        # Neither ended nor failed nor holding an error: feed() may take its quick route.
        self._open = True
        self._done = False  # the end was reached and the last complete lines were processed
        # An error found while parsing, raised once the events before it have been returned.
        self._pending_error: SansStreamError | None = None
        # Set when an error escaped; every later call refuses, quoting it.
        self._failure: str | None = None
        # feed()'s quick route for a slice without CR or LF: the tail itself (always a bytearray
        # then) while nothing else is queued, or None while the route is closed. _room is how
        # many bytes the tail may hold before the block breaks max_event_size.
        self._quick: bytearray | None = None
        self._room = 0

    # -- public API ---------------------------------------------------------------------------

    def receive_data(self, data: Buffer) -> None:
        """Buffer ``data``; ``b""`` marks the end of the stream. Never parses.

        The one check made here: bytes that would carry a line with no end in sight over
        ``max_event_size`` raise ``EventTooLargeError`` at once, before they are held.
        """
        self._check_usable()
        self._quick = None  # bytes are queued in _new now: feed() must take its full route
        if type(data) is not bytes:
            data = bytes(data)
        if self._ended:
            if data:
                self._fail(
                    LocalProtocolError(
                        "receive_data() got bytes after the end of the stream was signalled with "
                        "receive_data(b''); make a new SSEParser for a new stream"
                    )
                )
            return
        if not data:
            self._ended = True
            self._open = False
            return
        new = self._new
        size = self._size + len(self._tail) + self._new_len + len(data)
        # (Skipped while a BOM may still be stripped: those bytes would be counted wrongly.)
        if size > self._limit and self._bom_done and not self._new_has_end and not self._pending():
            # Over the limit unless a line ends somewhere in what is held: search the slices
            # not searched yet (each at most once), then these bytes.
            while self._new_searched < len(new):
                chunk = new[self._new_searched]
                self._new_searched += 1
                if _LF in chunk or _CR in chunk:
                    self._new_has_end = True
                    break
            if not self._new_has_end:
                if _LF not in data and _CR not in data:
                    # Everything held is one unterminated line and these bytes would carry the
                    # block over the limit without ending it: refuse before holding the excess.
                    self._fail(self._too_large(size))
                self._new_has_end = True
        # Keep the caller's bytes object as it is (no copy); it is searched when events are asked for.
        new.append(data)
        self._new_len += len(data)

    def next_event(self) -> E | NeedData | EndOfStream:
        """Return the next event, ``NEED_DATA`` (feed more bytes) or ``END``."""
        out = self._out
        if self._out_i < len(out):
            item = out[self._out_i]
            self._out_i += 1
            return item  # type: ignore[return-value]
        self._check_usable()
        if out:
            out.clear()
            self._out_i = 0
        self._parse_buffered()
        if out:
            self._out_i = 1
            return out[0]  # type: ignore[return-value]
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            self._fail(error)
        return END if self._done else NEED_DATA

    def feed(self, data: Buffer) -> list[E]:
        """``receive_data(data)`` and return every event now complete.

        If the bytes break a limit after some complete events, those events are returned and the
        error is raised by the next call.
        """
        # Quick route, for the many small slices inside a line: no CR or LF means no line ends,
        # so no event can complete; append to the tail and return. This is the whole cost of
        # most one- to 64-byte slices, so it is kept to a handful of bytecodes (10 and 13 are
        # LF and CR, as literals: cheaper than loading the module constants).
        tail = self._quick
        if tail is not None and data:
            if 10 not in data:
                if 13 not in data:
                    tail += data
                    if len(tail) <= self._room:
                        return []
                    # Over max_event_size with no line end: the error _take() would raise (same
                    # size); the bytes just appended are dropped again, as the parser is done for.
                    size = self._size + len(tail)
                    tail.clear()
                    self._fail(self._too_large(size))
            elif 13 not in data and not self._dirty and type(data) is bytes:
                # Second quick route, for a small slice that ends ``data: ...`` events (the
                # other slice of most small-slice streams): the tail plus the new bytes up to
                # their last LF are a few complete one-line ``data`` blocks. Same rules as the
                # region fast path of _parse_lines, inlined: at 7- or 64-byte slices the calls
                # and checks of the general route cost more than the parsing.
                end = data.rfind(10)
                # (The tail holds no LF, so the region ends with a blank line only when the
                # byte before the last LF of the slice is an LF too.)
                if end > 0 and data[end - 1] == 10 and len(tail) + end < _BIG_REGION:
                    region = b"".join((tail, data[: end + 1])) if tail else data[: end + 1]
                    if region[:6] == b"data: " and len(region) <= self._room:
                        # (The region ends with LF LF: the last LF of the slice and the one
                        # before it.)
                        try:
                            text: str | None = region[6:-2].decode()
                        except UnicodeDecodeError:
                            text = None
                        texts: list[str] | None = None
                        if text is not None:
                            if "\n" not in text:
                                rest = data[end + 1 :]
                                if len(rest) <= self._room:
                                    # One event, the usual case: built without a loop.
                                    tail.clear()
                                    tail += rest
                                    return [_sse_event(text, "message", self.last_event_id, None)]  # type: ignore[list-item]
                            else:
                                texts = text.split("\n\ndata: ")
                                if "\n" in "".join(texts):
                                    texts = None
                        rest = data[end + 1 :]
                        if texts is not None and len(rest) <= self._room:
                            out: list[AnySSE] = []
                            _append_messages(out, texts, self.last_event_id)
                            tail.clear()
                            tail += rest
                            return out  # type: ignore[return-value]
                    elif region[:7] == b"event: " and len(region) <= self._room:
                        # Or exactly one block of an ``event: name`` then a ``data: value``
                        # line (Anthropic's shape; iter_sse hands over such blocks whole): the
                        # one LF between the two lines is the first one, the data line ends at
                        # the blank line. A fresh block without ``id`` or ``retry``, so the
                        # event reports the last event ID as it stands, and no retry.
                        nl = region.find(10)
                        rest = data[end + 1 :]
                        if (
                            region.startswith(b"data: ", nl + 1)
                            and region.find(10, nl + 1) == len(region) - 2
                            and len(rest) <= self._room
                        ):
                            event = _block_event(region[nl + 7 : -2], region[7:nl], self.last_event_id, None)
                            tail.clear()
                            tail += rest
                            return [event]  # type: ignore[list-item]
            if 13 not in data and type(data) is bytes:
                # Third quick route, for a slice with exactly one line end (one- and few-byte
                # slices see each LF alone) or with two in a row: it ends a ``data`` or
                # ``event`` line (then perhaps a blank line: the end of an Anthropic-style block
                # in small slices), or it is a blank line. The same steps as _lines and
                # _dispatch, without their calls.
                end = data.rfind(10)  # >= 0: a slice without LF or CR took the first route
                first = data.find(10)
                if first == end or (first == end - 1 and (tail or first)):
                    rest = data[end + 1 :]
                    if first == 0 and not tail:
                        # "If the line is empty (a blank line): dispatch the event."
                        if len(rest) <= self._limit:
                            self._dispatch()
                            self._room = self._limit
                            tail += rest
                            out = self._out
                            if out:
                                self._out = []
                                return out  # type: ignore[return-value]
                            return []
                    elif (
                        len(tail) + first + len(rest) <= self._room
                        and len(tail) + first < _BIG_REGION  # a big line: the general route copies less
                    ):
                        line = b"".join((tail, data[:first])) if tail else data[:first]
                        if line[:5] == b"data:":
                            value = line[6:] if line[5:6] == b" " else line[5:]
                            if first != end and not self._data:
                                # The block's only data line, then its blank line (the end of
                                # most events in small slices): the event is built right here,
                                # as _dispatch would build it from this one value.
                                self.last_event_id = self._id_buf
                                event = _block_event(value, self._event, self._id_buf, self._block_retry)
                                self._event = b""
                                self._block_retry = None
                                self._size = 0
                                self._dirty = False
                                self._room = self._limit
                                tail.clear()
                                tail += rest
                                return [event]  # type: ignore[list-item]
                            self._data.append(value)
                        elif line[:6] == b"event:":
                            self._event = line[7:] if line[6:7] == b" " else line[6:]
                        else:
                            line = b""
                        if line:
                            self._dirty = True
                            self._size += len(line)
                            tail.clear()
                            tail += rest
                            if first == end:
                                self._room -= len(line)
                                return []
                            self._dispatch()  # the blank line right after it
                            self._room = self._limit
                            out = self._out
                            if out:
                                self._out = []
                                return out  # type: ignore[return-value]
                            return []
                elif (
                    first + 1 < end
                    and data[first + 1] == 10
                    and (tail or first)
                    and data.find(10, first + 2) == end
                    and not self._data
                    and len(tail) + first < _BIG_REGION
                ):
                    # The same for a slice that ends a line, then holds a blank line and one
                    # more line (at 64 bytes: the end of an Anthropic block and the ``event``
                    # line of the next one): when the first line is the block's only ``data``
                    # line and the last one an ``event`` or ``data`` line, the event is built
                    # here and the last line starts the next block, as _lines would do.
                    line = b"".join((tail, data[:first])) if tail else data[:first]
                    after = data[first + 2 : end]
                    rest = data[end + 1 :]
                    if (
                        line[:5] == b"data:"
                        and (after[:5] == b"data:" or after[:6] == b"event:")
                        and self._size + len(line) <= self._limit
                        and len(after) + len(rest) <= self._limit
                    ):
                        value = line[6:] if line[5:6] == b" " else line[5:]
                        self.last_event_id = self._id_buf
                        event = _block_event(value, self._event, self._id_buf, self._block_retry)
                        self._block_retry = None
                        if after[:5] == b"data:":
                            self._event = b""
                            self._data.append(after[6:] if after[5:6] == b" " else after[5:])
                        else:
                            self._event = after[7:] if after[6:7] == b" " else after[6:]
                        self._size = len(after)
                        self._dirty = True
                        self._room = self._limit - len(after)
                        tail.clear()
                        tail += rest
                        return [event]  # type: ignore[list-item]
                if len(data) <= _SMALL_SLICE and len(tail) < _BIG_REGION:
                    # Fourth quick route: any other small slice without CR (at 64 bytes a slice
                    # usually ends one block and starts the next).
                    done = self._small_lines(tail, data, end)
                    if done is not None:
                        return done  # type: ignore[return-value]
        del tail  # not pinned while _feed() parses: a big line must not be held twice
        return self._feed(data)

    def _small_lines(self, tail: bytearray, data: bytes, end: int) -> list[AnySSE] | None:
        """feed()'s route for a small slice without CR whose last LF is at ``end``: applies the
        rules for ``data`` and ``event`` lines and blank lines in place, as _lines and _dispatch
        would, and hands everything from the first other line on to the general route.

        Exact because each line is either applied here by the very rules of _lines (same
        values, same block size, same dispatch) or left whole, with every line after it, to the
        general route, which then sees the stream exactly as if it had been cut at that line's
        start (the state of the parser between two lines is all in the block's buffers, which
        this route keeps up to date). A line that would break max_event_size is left to the
        general route too, which raises the same error; so is a tail that would. Events
        dispatched here are queued before anything the general route adds, so they are still
        returned before any error it finds. Returns None when it applied nothing (the caller
        then takes the general route with the tail untouched).
        """
        lines = (b"".join((tail, data[:end])) if tail else data[:end]).split(b"\n")
        out: list[AnySSE] = []
        limit = self._limit
        size = self._size
        at = -len(tail)  # where the next line starts in data (the first line began in the tail)
        for line in lines:
            if line:
                if size + len(line) > limit:
                    break
                if line[:5] == b"data:":
                    self._data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line[:6] == b"event:":
                    self._event = line[7:] if line[6:7] == b" " else line[6:]
                else:
                    break  # id, retry, a comment, another field: the general rules
                size += len(line)
                self._dirty = True
                at += len(line) + 1
                continue
            # "If the line is empty (a blank line): dispatch the event" (as _dispatch).
            self.last_event_id = self._id_buf
            if self._data:
                pieces = self._data
                raw = pieces[0] if len(pieces) == 1 else b"\n".join(pieces)
                self._data = []
                out.append(_block_event(raw, self._event, self._id_buf, self._block_retry))
            self._event = b""
            self._block_retry = None
            size = 0
            self._dirty = False
            at += 1
        else:
            at = end + 1
            if size + len(data) - at <= limit:
                # Every line applied; what follows the last LF is the new tail.
                self._size = size
                self._room = limit - size
                tail.clear()
                tail += data[at:]
                return out
        self._size = size
        if at == -len(tail):
            return None
        # Some lines applied: the rest of the slice from the first line not applied, by the
        # general route, after the events found here.
        tail.clear()
        self._out = out
        return self._feed(data[at:])  # type: ignore[return-value]

    def _feed(self, data: Buffer) -> list[E]:
        # Drop the quick route's reference to the tail, for the same reason.
        self._quick = None
        if self._open and data and not self._out and not self._new:
            # The usual loop (feed after feed): parse the caller's bytes straight away.
            self._take(data if type(data) is bytes else bytes(data))
            out = self._out
            if out:
                self._out = []
            else:
                if self._pending_error is not None:
                    error, self._pending_error = self._pending_error, None
                    self._fail(error)
                out = []  # never hand out the parser's own list
        else:
            self.receive_data(data)
            out = self._out
            if self._out_i:
                del out[: self._out_i]
                self._out_i = 0
            self._parse_buffered()
            if not out and self._pending_error is not None:
                error, self._pending_error = self._pending_error, None
                self._fail(error)
            self._out = []
        if self._open and self._bom_done and not self._skip_lf and self._pending_error is None:
            # Nothing queued: reopen the quick route for the next slice.
            tail = self._tail
            if type(tail) is not bytearray:
                tail = self._tail = bytearray(tail)
            self._quick = tail
            self._room = self._limit - self._size
        else:
            self._quick = None
        return out  # type: ignore[return-value]

    # -- errors -------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._pending_error is not None and self._out_i >= len(self._out):
            error, self._pending_error = self._pending_error, None
            self._fail(error)
        if self._failure is not None:
            raise LocalProtocolError(
                f"this SSEParser failed earlier ({self._failure}) and refuses further work; "
                "start a new parser (and a new connection) to continue"
            )

    def _set_error(self, error: SansStreamError) -> None:
        # Raised once the results before it have been returned.
        self._pending_error = error
        self._open = False
        self._quick = None

    def _fail(self, error: SansStreamError) -> None:
        self._open = False
        self._quick = None
        self._failure = f"{type(error).__name__}: {error}"
        raise error

    def _too_large(self, size: int) -> EventTooLargeError:
        return EventTooLargeError(
            f"an SSE event grew to {size} bytes, over max_event_size={self.max_event_size}; "
            "raise max_event_size (or pass None to lift the limit) if events this large are expected",
            limit=self.max_event_size,
            size=size,
        )

    def _pending(self) -> bool:
        return self._out_i < len(self._out)

    # -- parsing ------------------------------------------------------------------------------

    def _parse_buffered(self) -> None:
        """Turn every complete line received so far into results appended to ``_out``."""
        if self._done or self._pending_error is not None:
            return
        new = self._new
        if new:
            data = new[0] if len(new) == 1 else b"".join(new)
            new.clear()
            self._new_len = self._new_searched = 0
            self._new_has_end = False
            self._take(data)
        if self._ended and self._pending_error is None:
            # "Once the end of the file is reached, any pending data must be discarded": the
            # unterminated line and the block without its blank line are dropped.
            self._tail = b""
            self._done = True

    def _take(self, data: bytes) -> None:
        """Search new bytes for line ends and apply the rules to every line they complete."""
        tail = self._tail
        if not self._bom_done:
            # Until the BOM question is settled the tail holds at most two bytes.
            data = bytes(tail) + data
            tail = self._tail = b""
            if len(data) < 3 and _BOM.startswith(data) and not self._ended:
                self._tail = data
                return  # maybe the first bytes of a BOM: wait for more
            self._bom_done = True
            if data[:3] == _BOM:
                # "UTF-8 decode" strips one leading BOM, only at the very start of the stream.
                data = data[3:]
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
        # The last line end in the new bytes: everything before it is complete lines.
        end = data.rfind(_LF)
        end = max(end, data.rfind(_CR, end + 1))  # a CR after the last LF ends a later line
        if end < 0:
            held = self._size + len(tail) + len(data)
            if held > self._limit:
                # Refuse before holding the excess.
                self._set_error(self._too_large(held))
            elif not tail:
                self._tail = data
            elif type(tail) is bytes:
                grown = bytearray(tail)
                grown += data
                self._tail = grown
            else:
                tail += data
            return
        # data[:n] is data itself (no copy) when the slice ends with a line end.
        region = b"".join((tail, data[: end + 1])) if tail else data[: end + 1]
        # A CR that is the very last byte may be the first half of a CRLF.
        self._skip_lf = data[end] == _CR and end + 1 == len(data)
        tail = self._tail = data[end + 1 :]
        try:
            self._parse_lines(region)
        except EventTooLargeError as exc:
            self._set_error(exc)
            return
        if tail and self._size + len(tail) > self._limit:
            self._set_error(self._too_large(self._size + len(tail)))

    def _parse_lines(self, region: bytes) -> None:
        """Apply the rules to ``region``: complete lines, ending with a line end."""
        if _CR in region:
            # Only CR, LF and CRLF end lines (never U+2028 or U+0085, so no splitlines()).
            region = region.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if (
            not self._dirty
            and region.startswith(b"data: ")
            and region.endswith(b"\n\n")
            and len(region) <= self._limit
        ):
            # Fast path for the shape of nearly every LLM stream: the region is a run of blocks
            # that are each one ``data: ...`` line. One decode and one split give all the data
            # (an invalid UTF-8 sequence cannot span the ASCII separator), and the shape holds
            # when no LF is left outside the separators. (A joined copy searched with memchr is
            # cheaper than str.count, which visits every character.)
            # A big region is decoded through a memoryview, which copies nothing: a 16 MiB event
            # is then held as bytes and text, never as a third copy. (Small ones are sliced:
            # cheaper than setting up a view.)
            # (Strict decoding is the faster path in CPython; invalid UTF-8 is rare.)
            if len(region) < _BIG_REGION:
                raw = region[6:-2]
                try:
                    text = raw.decode()
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", "replace")
                del raw
            else:
                view = memoryview(region)[6:-2]
                try:
                    text = str(view, "utf-8")
                except UnicodeDecodeError:
                    text = str(view, "utf-8", "replace")
                view.release()
            texts = text.split("\n\ndata: ")
            if "\n" not in "".join(texts):
                _append_messages(self._out, texts, self.last_event_id)
                return
        if region[-2:-1] != b"\n" and self._data_run(region, 0, len(region) - 1):
            # No blank line ends the region, and it is all ``data: `` lines (so none is blank
            # inside it either): the middle of a big event. Added in bulk to the open block.
            return
        if len(region) >= _UNIFORM_MIN and self._uniform_blocks(region):
            return
        blocks = region.split(b"\n\n")
        # The last piece is the start of a block whose blank line has not arrived: "" when the
        # region ended with a blank line, else lines each ending with LF.
        last = blocks.pop()
        if self._dirty and blocks:
            # The first block began in earlier bytes: finish it by the general rules (in bulk
            # when it is all ``data: `` lines, the rest of a big event).
            first = blocks[0]
            if not self._data_run(first, 0, len(first)):
                self._lines(first.split(b"\n"))
            self._dispatch()
            del blocks[0], first
        append = self._out.append
        limit = self._limit
        last_id = self.last_event_id
        for block in blocks:
            # Fast paths for fresh blocks of the shapes LLM streams send: one ``data`` line
            # (``data: {...}``, OpenAI and most others), or an ``event`` line then one ``data``
            # line (Anthropic). Nothing else of the block's state changes: no id or retry line
            # means the last event ID stays as is.
            if len(block) <= limit:
                value: bytes | None = None
                if block[:5] == b"data:":
                    if 10 not in block:
                        raw_name = b""
                        value = block[6:] if block[5:6] == b" " else block[5:]
                elif block[:6] == b"event:":
                    nl = block.find(10)
                    if block[nl + 1 : nl + 6] == b"data:" and block.find(10, nl + 1) < 0 and nl > 0:
                        raw_name = block[7:nl] if block[6:7] == b" " else block[6:nl]
                        value = block[nl + 7 :] if block[nl + 6 : nl + 7] == b" " else block[nl + 6 :]
                if value is not None:
                    append(_block_event(value, raw_name, last_id, None))
                    continue
            # Any other block: the general rules, line by line.
            self._lines(block.split(b"\n"))
            self._dispatch()
            last_id = self.last_event_id
        if last:
            # The lines of a block still open (most of a big event's lines arrive here).
            start = 0
            if last[:6] != b"data: ":
                # Often one line (``event: name``) before the data lines of a big event.
                nl = last.find(10)
                if last.startswith(b"data: ", nl + 1):
                    self._lines([last[:nl]])
                    start = nl + 1
            if self._data_run(last, start, len(last) - 1):
                return
            lines = last[start:].split(b"\n") if start else last.split(b"\n")
            lines.pop()  # the empty text after the final LF
            self._lines(lines)

    def _data_run(self, chunk: bytes, start: int, stop: int) -> bool:
        """Bulk route for complete lines that are all ``data: value`` lines: ``chunk[start:stop]``
        holds the lines separated by single LFs (no line end after the last one). Applies them
        and returns True, or changes nothing and returns False (then the caller applies the
        rules line by line).

        Exact: with the first line starting ``data: ``, every line does when every LF in the
        range is followed by ``data: ``. Replacing each ``\\ndata: `` by an LF keeps one LF per
        occurrence and every other LF as it was, and the occurrences cannot overlap (each holds
        one LF, at its start): so the lines are all ``data: `` lines exactly when the bytes
        removed are six per LF left. The result is then the values (each line minus ``data: ``)
        joined with LF, and since the data buffer is joined with LF at dispatch, appending it
        as one piece gives the same buffer as appending each value. The per-line route adds
        each line's length to the block size: the sum is the range minus its LFs. Should that
        break max_event_size, nothing is done here and the per-line route raises the very same
        error at the very same line.
        """
        if not chunk.startswith(b"data: ", start, stop):
            return False
        # Cheap probes first (the second and the last line), so that a run of another shape
        # is mostly turned away before the whole range is copied.
        nl = chunk.find(10, start, stop)
        if nl >= 0:
            if not chunk.startswith(b"data: ", nl + 1, stop):
                return False
            nl = chunk.rfind(10, nl, stop)
            if not chunk.startswith(b"data: ", nl + 1, stop):
                return False
            value = chunk[start + 6 : stop].replace(b"\ndata: ", b"\n")
            ends = value.count(b"\n")
            if len(value) + 6 * ends != stop - start - 6:
                return False
        else:
            value = chunk[start + 6 : stop]
            ends = 0
        size = self._size + (stop - start) - ends
        if size > self._limit:
            return False
        self._data.append(value)
        self._size = size
        self._dirty = True
        return True

    def _uniform_blocks(self, region: bytes) -> bool:
        """Bulk route for a region whose complete blocks (after the one begun in earlier bytes)
        all have one of the two shapes LLM streams send: one ``data: value`` line (OpenAI and
        most others) or an ``event: name`` line then a ``data: value`` line (Anthropic). The
        region is split into lines once; the names and the values of all those blocks are each
        decoded and split once. Applies the region and returns True, or returns False having
        changed nothing when the blocks have another shape (then the caller goes block by
        block).

        Shape proof: between the first blank line (or the region's start, when no block is
        open) and the last one are k blocks separated by k - 1 blank lines. With blocks of p
        lines (p = 1 or 2) the lines there number p*k + k - 1, every (p+1)-th is empty and no
        other is (exactly k - 1 empty lines in all), so each block has exactly p lines. Then
        the lines in first position, joined with LF, split on ``"\\nevent: "`` into exactly k
        pieces after an initial ``event: `` only if each of them starts with ``event: `` (no
        line holds an LF, so every occurrence starts a line); the same for ``data: ``. The
        values are what each line holds after its six- or seven-byte field prefix, and
        invalid UTF-8 cannot span the ASCII separators, so decoding them together is exact.
        Those blocks hold no ``id`` or ``retry`` line, so each event reports the last event
        ID as the block before it left it, and no retry. Whether a block breaks
        max_event_size is not counted here: the route is refused when the region itself is
        bigger than the limit (each block is smaller than the region).
        """
        if len(region) > self._limit:
            return False
        # A probe before splitting: the first block after the open one must look right.
        at = region.find(b"\n\n") + 2 if self._dirty else 0
        if at == 1 or not (region.startswith(b"data: ", at) or region.startswith(b"event: ", at)):
            return False
        lines = region.split(b"\n")
        lines.pop()  # the empty text after the final LF
        try:
            first = lines.index(b"") if self._dirty else -1
            stop = len(lines) - 1 - lines[::-1].index(b"")
        except ValueError:
            return False
        section = lines[first + 1 : stop]
        if not section:
            return False
        period = 2 if section[0][:1] == b"d" else 3
        k = (len(section) + 1) // period
        if (
            len(section) != period * k - 1
            or any(section[period - 1 :: period])
            or section.count(b"") != k - 1
        ):
            return False
        if period == 3:
            name_lines = b"\n".join(section[0::3])
            if not name_lines.startswith(b"event: "):
                return False
            try:
                names = name_lines[7:].decode().split("\nevent: ")
            except UnicodeDecodeError:
                names = name_lines[7:].decode("utf-8", "replace").split("\nevent: ")
            if len(names) != k:
                return False
            if "" in names:
                # "If the event type buffer has a value other than the empty string..."
                names = [name or "message" for name in names]
            data_lines = b"\n".join(section[1::3])
        else:
            names = []
            data_lines = b"\n".join(section[0::2])
        if not data_lines.startswith(b"data: "):
            return False
        try:
            texts = data_lines[6:].decode().split("\ndata: ")
        except UnicodeDecodeError:
            texts = data_lines[6:].decode("utf-8", "replace").split("\ndata: ")
        if len(texts) != k:
            return False
        del section, data_lines
        # The shape holds: apply the lines in order.
        if first >= 0:
            # The block begun in earlier bytes, by the general rules (it may raise
            # EventTooLargeError exactly as they would). Usually it is the rest of one data
            # line: the one step _lines would take for it, inline.
            line = lines[0]
            if first == 1 and line[:6] == b"data: " and self._size + len(line) <= self._limit:
                self._data.append(line[6:])
            else:
                self._lines(lines[:first])
            self._dispatch()
        _append_messages(self._out, texts, self.last_event_id, names or None)
        if stop + 1 < len(lines):
            # The complete lines of the block still open (usually its ``event`` line alone: the
            # step _lines would take for it, inline, in a fresh block).
            line = lines[stop + 1]
            if stop + 2 == len(lines) and line[:7] == b"event: " and self._size + len(line) <= self._limit:
                self._event = line[7:]
                self._size += len(line)
                self._dirty = True
            else:
                self._lines(lines[stop + 1 :])
        return True

    def _lines(self, lines: list[bytes]) -> None:
        """The general rules, one complete line at a time (line ends already removed)."""
        limit = self._limit
        for line in lines:
            if not line:
                # "If the line is empty (a blank line): dispatch the event."
                self._dispatch()
                continue
            self._dirty = True
            self._size += len(line)
            if self._size > limit:
                raise self._too_large(self._size)
            colon = line.find(b":")
            if colon == 0:
                # "If the line starts with a U+003A COLON character: ignore the line" (a comment).
                if self._comments:
                    text = line[2:] if line[1:2] == b" " else line[1:]
                    self._out.append(Comment(_decode(text)))
                continue
            if colon < 0:
                # "Otherwise, the string is not empty but does not contain a U+003A COLON
                # character: process the field using the whole line as the field name, and the
                # empty string as the field value."
                name = line
                value = b""
            else:
                name = line[:colon]
                # "If value starts with a U+0020 SPACE character, remove it from value."
                value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
            if name == b"data":
                # "Append the field value to the data buffer, then append a single LF": kept as
                # a list and joined with LF at dispatch, which drops the final LF as the spec does.
                self._data.append(value)
            elif name == b"event":
                self._event = value
            elif name == b"id":
                # "If the field value does not contain U+0000 NULL, then set the last event ID
                # buffer to the field value. Otherwise, ignore the field."
                if b"\x00" not in value:
                    self._id_buf = _decode(value)
            elif name == b"retry":
                # "If the field value consists of only ASCII digits": bytes.isdigit() is
                # ASCII-only and false for b"", unlike int(), which takes " 12", "1_2" and
                # non-ASCII digits.
                # Beyond _MAX_RETRY_DIGITS the value (over 10**4299 ms) is ignored as Chromium
                # ignores any value that overflows; converting it would trip int()'s length
                # guard or cost superlinear time on a hostile line.
                if value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
                    self.retry = self._block_retry = int(value)
            elif self._all_extra or self._extra:
                # "Otherwise: the field is ignored" unless the caller asked to see it.
                field_name = _decode(name)
                if self._all_extra or field_name in self._extra:
                    self._out.append(SSEField(field_name, _decode(value)))

    def _dispatch(self) -> None:
        """A blank line: "dispatch the event" and reset the block."""
        # "Set the last event ID string of the event source to the value of the last event ID
        # buffer. The buffer does not get reset."
        self.last_event_id = self._id_buf
        if self._data:
            data, self._data = self._data, []
            # Join, drop the lines, then decode: at most two copies of a big event at a time.
            raw = data[0] if len(data) == 1 else b"\n".join(data)
            del data
            self._out.append(_block_event(raw, self._event, self._id_buf, self._block_retry))
        # "If the data buffer is an empty string, set the data buffer and the event type buffer
        # to the empty string and return": no event, but the block still ends here.
        self._event = b""
        self._block_retry = None
        self._size = 0
        self._dirty = False


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
    # no LF LF in it, and not starting with LF right after an LF. Once _COALESCE bytes are
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
                and len(chunk) < _COALESCE  # (a big slice would be fed at once anyway)
                and b"\n\n" not in chunk
                and (chunk[0] != 10 or not (held[-1][-1] == 10 if held else fed_lf))
            ):
                held.append(chunk)  # lines end here, but no event can
                size += len(chunk)
                if size >= _COALESCE:
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
            if size >= _COALESCE:
                joined = b"".join(held)
                held.clear()
                size = 0
                fed_lf = False
                yield from feed(joined)  # (nothing, as no line ends in it)
    if held:
        yield from feed(b"".join(held))
    yield from feed(b"")


# -- encoders ---------------------------------------------------------------------------------


def _lines_of(text: str) -> list[str]:
    # CR, LF and CRLF all end lines for the parser, so each becomes a line break here.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(
            f"{what} cannot be encoded as UTF-8 ({exc.reason} at index {exc.start}); "
            "SSE is always UTF-8, so remove lone surrogates first"
        ) from None


def _check_single_line(value: str, what: str) -> None:
    if "\n" in value or "\r" in value:
        raise LocalProtocolError(
            f"{what} {value!r} contains a line break (CR or LF), which would end the SSE line and "
            "change the meaning of the stream; remove it (only data may span lines)"
        )


def _check_id(value: str) -> None:
    if not isinstance(value, str):
        raise LocalProtocolError(f"an SSE id must be a str, not {type(value).__name__}")
    _check_single_line(value, "the SSE id")
    if "\x00" in value:
        raise LocalProtocolError(
            f"the SSE id {value!r} contains NUL, which makes every client ignore the id line; remove it"
        )


def _encode_message(data: str, event: str, id_line: str | None, retry: int | None) -> bytes:
    if not isinstance(data, str):
        raise LocalProtocolError(
            f"SSE data must be a str, not {type(data).__name__}; decode or serialise it first"
        )
    if not isinstance(event, str):
        raise LocalProtocolError(f"an SSE event name must be a str, not {type(event).__name__}")
    if not event:
        raise LocalProtocolError(
            "the SSE event name is empty, which clients read back as 'message'; pass 'message' (or omit it)"
        )
    _check_single_line(event, "the SSE event name")
    if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int) or retry < 0):
        raise LocalProtocolError(f"SSE retry must be a non-negative int (milliseconds), not {retry!r}")
    parts: list[str] = []
    if event != "message":
        parts.append(f"event: {event}\n")
    if id_line is not None:
        _check_id(id_line)
        parts.append(f"id: {id_line}\n" if id_line else "id:\n")
    if retry is not None:
        parts.append(f"retry: {retry}\n")
    for line in _lines_of(data):
        parts.append(f"data: {line}\n" if line else "data:\n")
    parts.append("\n")
    return _utf8("".join(parts), "the SSE event")


def _encode_comment(text: str) -> bytes:
    if not isinstance(text, str):
        raise LocalProtocolError(f"an SSE comment must be a str, not {type(text).__name__}")
    return _utf8("".join(f": {line}\n" if line else ":\n" for line in _lines_of(text)), "the SSE comment")


def _encode_field(field: SSEField) -> bytes:
    name, value = field.name, field.value
    if not isinstance(name, str) or not isinstance(value, str):
        raise LocalProtocolError("an SSEField needs a str name and a str value")
    if not name or ":" in name or name in _STANDARD_FIELDS or name.startswith("\ufeff"):
        raise LocalProtocolError(
            f"cannot encode an SSEField named {name!r}: the name must be non-empty, without ':', "
            "not start with U+FEFF (a client strips it at the start of a stream) and not be one of "
            "data/event/id/retry (encode a ServerSentEvent for those)"
        )
    _check_single_line(name, "the SSE field name")
    _check_single_line(value, f"the value of SSE field {name!r}")
    return _utf8(f"{name}: {value}\n", "the SSE field")


def encode_sse(
    event: ServerSentEvent | Comment | SSEField | None = None,
    *,
    data: str | None = None,
    event_name: str = "message",
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """Encode one event as SSE bytes that any client (browsers included) reads back exactly.

    Pass an event object, the same classes the parser returns, or use the keyword form:
    ``encode_sse(data="hi", event_name="delta", id="7", retry=1000)``. Data may hold any of CR,
    LF or CRLF: each line becomes a ``data:`` line (and reads back with LF line breaks). A
    ``Comment`` becomes ``: text`` (a keepalive), one comment line per line of its text; an
    ``SSEField`` becomes ``name: value`` (read back with ``extra_fields``).

    Stateless: an event's ``id`` is written when it is not empty. To carry ``id`` exactly across a
    sequence of events (including a change back to ``""``) use :class:`SSEEncoder`.

    Raises ``LocalProtocolError`` for what SSE cannot carry: a CR or LF in the event name or id,
    NUL in the id, an empty event name, a negative or non-int ``retry``.
    """
    if event is None:
        if data is None:
            raise LocalProtocolError(
                "encode_sse() needs an event object or data=...; for a keepalive pass Comment('...')"
            )
        return _encode_message(data, event_name, id or None, retry)
    if data is not None or event_name != "message" or id is not None or retry is not None:
        raise LocalProtocolError(
            "encode_sse() takes either an event object or keyword fields (data=, event_name=, id=, "
            "retry=), not both"
        )
    if isinstance(event, ServerSentEvent):
        return _encode_message(event.data, event.event, event.id or None, event.retry)
    if isinstance(event, Comment):
        return _encode_comment(event.text)
    if isinstance(event, SSEField):
        return _encode_field(event)
    raise LocalProtocolError(
        f"encode_sse() cannot encode {type(event).__name__}; pass a ServerSentEvent, Comment or "
        "SSEField (use event_name= for the event type)"
    )


class SSEEncoder:
    """Stateful SSE encoder: ``encode(event)`` returns the bytes for one event.

    It tracks the last event ID it wrote and writes an ``id:`` line whenever an event's ``id``
    differs from it (including a change back to ``""``), so the parser reads back exactly the
    events that were encoded: ``parse(b"".join(map(encoder.encode, events))) == events``. Data
    with CR or CRLF line breaks reads back with LF, the only break SSE data can carry.
    """

    def __init__(self, *, last_event_id: str = "") -> None:
        _check_id(last_event_id)
        # The ID the receiving parser holds after everything encoded so far.
        self.last_event_id = last_event_id

    def encode(self, event: ServerSentEvent | Comment | SSEField) -> bytes:
        if isinstance(event, ServerSentEvent):
            id_line = event.id if event.id != self.last_event_id else None
            encoded = _encode_message(event.data, event.event, id_line, event.retry)
            self.last_event_id = event.id
            return encoded
        return encode_sse(event)

    def encode_many(self, events: Iterable[ServerSentEvent | Comment | SSEField]) -> bytes:
        """Encode several events into one bytes object."""
        return b"".join([self.encode(event) for event in events])
