"""One JSON array written incrementally (Gemini ``streamGenerateContent`` without ``alt=sse``).

The body is a single JSON array whose elements arrive one at a time, pretty-printed and separated
by ``\\n,\\r\\n``: ``[{…}\\n,\\r\\n{…}\\n]``. It is neither SSE nor NDJSON, so this module splits it.

Strategy: ``receive_data`` appends to a ``bytearray`` and resumes a small scanner exactly where it
stopped. Outside strings the scanner jumps from one structural byte (``{ } [ ] "``) to the next
with a compiled regex and keeps the bracket depth; inside a string it jumps to the next quote and
counts the backslashes just before it (an odd count means the quote is escaped). Every byte is
looked at a constant number of times, so the cost is linear for any slicing. When an element's
depth returns to zero its bytes are queued; ``next_event`` hands one queued element to
``json.loads``, which also catches anything the scanner does not check (a missing colon, a ``{``
closed by ``]``). Consumed bytes are dropped from the front of the buffer as it goes.

Decisions:
- Elements may be any JSON value; whitespace is allowed between all tokens; ``[]`` gives nothing.
- A top-level JSON *object* instead of an array (an error body such as ``{"error": {…}}``, which
  Gemini may send with a 200 status) is returned as one ``JSONValue`` so the provider can report
  it. Any other top-level value is a ``RemoteProtocolError``.
- Anything but whitespace after the closing ``]`` (or the object) is a ``RemoteProtocolError``.
- The stream ending inside an element or before ``]`` raises ``IncompleteStreamError`` (a
  ``RemoteProtocolError``; ``partial`` is left ``None`` here, the provider layer adds the partial
  result); the elements before it have all been returned first. An empty body is incomplete too.
- A UTF-8 BOM at the very start is skipped; invalid UTF-8 inside an element becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, NoReturn

from ..model import (
    EventTooLargeError,
    IncompleteStreamError,
    JSONValue,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._base import QueuedParser, drive
from ._receive import strip_bom

__all__ = ["JSONArrayParser", "iter_json_array", "DEFAULT_MAX_ELEMENT_SIZE"]

DEFAULT_MAX_ELEMENT_SIZE: Final = 16 * 1024 * 1024
"""Largest accepted element, in bytes. One element is one ``GenerateContentResponse`` chunk; the
largest real ones carry inline images or grounding metadata (a few MiB), so 16 MiB is ample while
bounding what a broken server can make us buffer. ``None`` lifts the limit."""

_EXCERPT_CHARS: Final = 60  # enough to recognise the spot in an error message
_COMPACT_AT: Final = 64 * 1024  # drop consumed bytes once this many piled up (amortised O(1))

_NON_WS: Final = re.compile(rb"[^ \t\r\n]")
_STRUCTURAL: Final = re.compile(rb'["{}\[\]]')
_SCALAR_END: Final = re.compile(rb"[ \t\r\n,\]]")

# Scanner states (plain ints: compared on every structural byte).
_START: Final = 0  # before the opening "[" (or a top-level object)
_FIRST: Final = 1  # after "[": an element or "]"
_VALUE: Final = 2  # after ",": an element must follow
_IN_CONTAINER: Final = 3  # inside an object/array element, outside strings
_IN_STRING: Final = 4  # inside a string (of a container element or a string element)
_IN_SCALAR: Final = 5  # inside a number / true / false / null element
_AFTER: Final = 6  # after an element: "," or "]"
_DONE: Final = 7  # after "]" or the top-level object: only whitespace may follow


class _Halt(Exception):
    """Stops the scanner once an error is pending (internal; never escapes this module)."""


def _escaped(buf: bytearray, quote: int) -> bool:
    """Whether the quote at ``quote`` is escaped: an odd run of backslashes right before it. The
    string's own opening quote stops the count, so it never leaves the string (and each run is
    counted once, for the quote that ends it)."""
    back = quote - 1
    while buf[back] == 0x5C:
        back -= 1
    return (quote - 1 - back) % 2 == 1


def _excerpt(raw: bytes | bytearray) -> str:
    text = bytes(raw[: _EXCERPT_CHARS * 4]).decode("utf-8", "replace")
    return repr(text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 3] + "...")


class JSONArrayParser(QueuedParser[JSONValue]):
    """Sans-IO splitter for one streamed JSON array: bytes in, one ``JSONValue`` per element out.

    ``receive_data(b"")`` marks the end. ``next_event()`` returns a ``JSONValue`` (``line``: the
    1-based line where the element starts; ``index``: its 0-based position), ``NEED_DATA`` or
    ``END``. Errors (``RemoteProtocolError``, ``IncompleteStreamError``, ``EventTooLargeError``)
    are raised by ``next_event`` after every element before them was returned; afterwards the
    parser refuses further work. ``loads`` replaces ``json.loads`` and receives the element bytes.
    """

    _PARSER = "JSONArrayParser"
    _STREAM = "JSON array"

    def __init__(
        self,
        *,
        max_element_size: int | None = DEFAULT_MAX_ELEMENT_SIZE,
        loads: Callable[[bytes], Any] | None = None,
    ) -> None:
        if max_element_size is not None and max_element_size < 1:
            raise LocalProtocolError(
                f"max_element_size must be a positive int or None, not {max_element_size!r}"
            )
        self._max = max_element_size
        self._loads = loads
        self._buf = bytearray()
        self._pos = 0  # where scanning resumes (index into _buf)
        self._state = _START
        self._after_string = _IN_CONTAINER  # state to return to when the current string closes
        self._depth = 0  # bracket depth inside the current container element
        self._start = 0  # index in _buf where the current element began
        self._start_line = 0  # line where the current element began
        self._object_body = False  # the top level is an object, not an array
        self._dropped = 0  # bytes removed from the front of _buf (for absolute offsets)
        self._line = 1  # line number at _line_pos
        self._line_pos = 0  # newlines before this index of _buf are counted in _line
        self._ready: deque[tuple[bytes, int, int]]  # (element bytes, line, offset)
        self._index = 0  # elements returned so far
        self._at_start = True  # a BOM may still come
        self._init_queue()

    # -- hooks of the h11-style surface (``QueuedParser``) --------------------------------------

    def _at_end(self) -> None:
        self._finish()

    def _take(self, data: bytes) -> None:
        """Buffer ``data`` and split off every element it completes."""
        self._buf += data
        if self._at_start:
            first = bytes(self._buf[:3])
            head = strip_bom(first)
            if head is None:
                return  # maybe a BOM split across slices; decide once more bytes are here
            self._at_start = False
            if len(head) < len(first):
                del self._buf[:3]
                self._dropped += 3
        self._scan()

    def _decode_next(self) -> JSONValue:
        raw, line, offset = self._ready.popleft()
        value = self._decode(raw, line, offset)
        event = JSONValue(value, line, self._index)
        self._index += 1
        return event

    # -- the scanner ----------------------------------------------------------------------------

    def _scan(self) -> None:
        try:
            self._scan_more()
        except _Halt:
            pass  # the error is pending; it is raised once the elements before it are returned

    def _scan_more(self) -> None:
        buf = self._buf
        pos = self._pos
        state = self._state
        end = len(buf)
        while pos < end:
            if state == _IN_STRING:
                quote = buf.find(b'"', pos)
                if quote < 0:
                    pos = end
                    break
                pos = quote + 1
                if not _escaped(buf, quote):
                    state = self._after_string
                    if state == _AFTER:  # a string element just closed
                        self._emit(pos)
                continue
            if state == _IN_CONTAINER:
                match = _STRUCTURAL.search(buf, pos)
                if match is None:
                    pos = end
                    break
                pos = match.end()
                byte = buf[pos - 1]
                if byte == 0x22:  # '"': skip the whole string here when its end is buffered
                    quote = buf.find(b'"', pos)
                    while quote > 0 and buf[quote - 1] == 0x5C and _escaped(buf, quote):
                        quote = buf.find(b'"', quote + 1)
                    if quote < 0:  # unfinished: no quote up to the end, resume there
                        self._after_string = _IN_CONTAINER
                        state = _IN_STRING
                        pos = end
                        break
                    pos = quote + 1
                elif byte in (0x7B, 0x5B):  # '{' '['
                    self._depth += 1
                else:  # '}' ']'
                    self._depth -= 1
                    if self._depth == 0:
                        self._emit(pos)
                        state = _DONE if self._object_body else _AFTER
                continue
            if state == _IN_SCALAR:
                match = _SCALAR_END.search(buf, pos)
                if match is None:
                    pos = end
                    break
                pos = match.start()
                self._emit(pos)
                state = _AFTER
                continue
            # Between tokens: skip whitespace, then look at one byte.
            match = _NON_WS.search(buf, pos)
            if match is None:
                pos = end
                break
            pos = match.start()
            state, pos = self._between(state, pos, buf[pos])
        self._pos = pos
        self._state = state
        self._check_size()
        self._compact()

    def _between(self, state: int, pos: int, byte: int) -> tuple[int, int]:
        """One byte between tokens (whitespace skipped): the new state and position."""
        if state in (_FIRST, _VALUE):
            if byte == 0x5D and state == _FIRST:  # ']' right after '[': an empty array
                return _DONE, pos + 1
            state = self._begin_element(pos, byte)
            # (A scalar's first byte is part of what _SCALAR_END skips.)
            return state, pos if state == _IN_SCALAR else pos + 1
        if state == _AFTER:
            if byte == 0x2C:  # ','
                return _VALUE, pos + 1
            if byte == 0x5D:  # ']'
                return _DONE, pos + 1
            self._structural_error(pos, "expected ',' or ']' after an array element")
        if state == _START:
            if byte == 0x5B:  # '['
                return _FIRST, pos + 1
            if byte == 0x7B:  # '{': an object body (an error report), one value
                self._object_body = True
                return self._begin_element(pos, byte), pos + 1
            self._structural_error(pos, "expected a JSON array ('[') or object ('{')")
        # _DONE
        what = "object" if self._object_body else "array's closing ']'"
        self._structural_error(pos, f"unexpected data after the JSON {what}")

    def _begin_element(self, pos: int, byte: int) -> int:
        if byte in (0x2C, 0x5D):  # ',' or ']' where a value belongs
            self._structural_error(pos, "expected an array element")
        self._start = pos
        self._start_line = self._line_at(pos)
        if byte in (0x7B, 0x5B):
            self._depth = 1
            return _IN_CONTAINER
        if byte == 0x22:
            self._after_string = _AFTER
            return _IN_STRING
        return _IN_SCALAR

    def _emit(self, end: int) -> None:
        size = end - self._start
        if self._max is not None and size > self._max:
            self._too_large(size)
        raw = bytes(self._buf[self._start : end])
        self._ready.append((raw, self._start_line, self._dropped + self._start))

    def _line_at(self, pos: int) -> int:
        self._line += self._buf.count(b"\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def _in_element(self) -> bool:
        return self._state in (_IN_CONTAINER, _IN_STRING, _IN_SCALAR)

    def _check_size(self) -> None:
        if self._max is not None and self._in_element() and len(self._buf) - self._start > self._max:
            self._too_large(len(self._buf) - self._start)

    def _too_large(self, size: int) -> NoReturn:
        self._pending = EventTooLargeError(
            f"JSON array element {self._index + len(self._ready)} (line {self._start_line}, "
            f"byte {self._dropped + self._start}) is larger than max_element_size={self._max} "
            f"bytes (at least {size}); raise max_element_size (or pass None) if such elements "
            "are expected",
            limit=self._max,
            size=size,
        )
        self._drop_buffer()
        raise _Halt

    def _compact(self) -> None:
        # Keep the element in progress; everything before it (or before the scan position when
        # between elements) has been queued or skipped.
        keep = self._start if self._in_element() else self._pos
        if keep < _COMPACT_AT:
            return
        self._line_at(keep)
        del self._buf[:keep]
        self._dropped += keep
        self._pos -= keep
        self._start -= keep
        self._line_pos -= keep

    def _drop_buffer(self) -> None:
        self._dropped += len(self._buf)
        self._buf.clear()
        self._pos = self._start = self._line_pos = 0

    def _structural_error(self, pos: int, what: str) -> NoReturn:
        offset = self._dropped + pos
        line = self._line_at(pos)
        self._pending = RemoteProtocolError(
            f"malformed JSON array stream at line {line}, byte {offset}: {what}, "
            f"found {_excerpt(self._buf[pos:])}"
        )
        self._drop_buffer()
        raise _Halt

    def _finish(self) -> None:
        if self._pending is not None or self._state == _DONE:
            return
        if self._in_element():
            where = (
                f"inside element {self._index + len(self._ready)} starting at line "
                f"{self._start_line}, byte {self._dropped + self._start}"
            )
        elif self._state == _START:
            where = "before the JSON array began (empty body)"
        else:
            where = f"after {self._index + len(self._ready)} element(s), before the closing ']'"
        self._pending = IncompleteStreamError(
            f"JSON array stream ended {where}: the response was cut off; retry the request"
        )
        self._drop_buffer()

    # -- decoding and failure -------------------------------------------------------------------

    def _decode(self, raw: bytes, line: int, offset: int) -> Any:
        try:
            if self._loads is not None:
                return self._loads(raw)
            return json.loads(raw.decode("utf-8", "replace"))
        except (ValueError, RecursionError) as exc:
            reason = str(exc) or type(exc).__name__
            self._fail(
                RemoteProtocolError(
                    f"JSON array element {self._index} (line {line}, byte {offset}) is not valid "
                    f"JSON ({reason}): {_excerpt(raw)}"
                )
            )


def iter_json_array(chunks: Iterable[bytes], **opts: Any) -> Iterator[Any]:
    """Split a streamed JSON array given in slices of any size; yields each element's value.

    ``opts`` go to ``JSONArrayParser``. The end of ``chunks`` is the end of the stream.
    """
    return (event.value for event in drive(JSONArrayParser(**opts), chunks))
