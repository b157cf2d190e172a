"""Newline-delimited JSON (``application/x-ndjson``): the sans-IO parser and the encoder.

Strategy: ``receive_data`` splits complete lines in bulk — one ``rfind`` over the new slice tells
whether it finishes a line, one ``bytes.split`` cuts every line it finishes — and queues them;
``next_event`` decodes one queued line per call. Only the unfinished last line is kept in a
``bytearray``, and only the new slice is ever searched, so the cost is linear in the bytes
whatever the slicing (one-byte slices included), and a chunk full of lines costs one C-level split
plus one ``json.loads`` per line.

Rules (ndjson.org / JSON Lines, plus what servers really send):
- a line ends at LF; a CR right before the LF belongs to the terminator (CRLF), even when the CR
  and the LF arrive in different slices, because the CR stays in the buffer until its line ends;
  a bare CR is not a line end (JSON whitespace inside a line, as in the spec);
- blank and whitespace-only lines are skipped (they still count for line numbers);
- a last line without LF is accepted when the stream ends;
- a UTF-8 BOM at the very start of the stream is skipped;
- text is UTF-8; invalid UTF-8 is decoded with replacement (U+FFFD), as the rest of sansstream
  does for text, so a stray byte inside a JSON string does not sink a whole stream (a custom
  ``loads`` receives the raw line bytes instead and decides for itself).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, NoReturn

from ..model import (
    END,
    NEED_DATA,
    EndOfStream,
    EventTooLargeError,
    JSONValue,
    LocalProtocolError,
    NeedData,
    RemoteProtocolError,
    SansStreamError,
)
from ._base import refusal
from ._receive import LineBuffer, gather_lines
from ._wirejson import dumps_wire

# json.loads' own scanner, (value, end) from an index: the C one when CPython has it (see
# sansstream.model.loads_json, which explains why one call of it is json.loads for a whole line).
_scan_once: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

__all__ = ["NDJSONParser", "iter_ndjson", "encode_ndjson", "DEFAULT_MAX_LINE_SIZE"]

DEFAULT_MAX_LINE_SIZE: Final = 16 * 1024 * 1024
"""Largest accepted line, in bytes, terminator excluded. One NDJSON line is one reply chunk; the
biggest real ones carry base64 images or long tool results (a few MiB), so 16 MiB leaves ample room
while bounding what a runaway or hostile server can make us buffer. ``None`` lifts the limit."""

_EXCERPT_CHARS: Final = 60  # enough to recognise a line in an error message, short enough to read
_JSON_WS: Final = b" \t\r"  # JSON whitespace other than LF (LF already ended the line)
_NOTHING: Final = object()  # _take() found no complete value


@functools.cache
def auto_orjson_loads() -> Callable[[bytes], Any] | None:
    """What ``orjson_loads="auto"`` (the default) means, decided when the first parser is built:
    ``orjson.loads`` when orjson is installed (the ``fast`` extra), else None; always None with
    ``SANSSTREAM_NO_ACCEL=1`` in the environment. orjson is optional and pure (no I/O): it is
    imported here, on first use, never when the core is imported, so ``import sansstream.core``
    stays standard-library only (tests/test_layering.py allows exactly this lazy import)."""
    import os

    if os.environ.get("SANSSTREAM_NO_ACCEL", "") not in ("", "0"):
        return None
    try:
        import orjson
    except ImportError:
        return None
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


# The optional orjson route (``NDJSONParser(orjson_loads=orjson.loads)``, or the default "auto"
# when orjson is installed; the core imports no third-party package, so it is handed over).
# orjson is used only where its result is provably the stdlib's: whatever it refuses (NaN and
# infinities, lone surrogates, invalid UTF-8, out-of-range floats, nesting over 1024, any syntax
# error) goes to the stdlib, which then decides. Two things it accepts differently are kept
# away from it: integers beyond 64 bits, which it turns into floats (any run of 19 digits sends
# the lines to the stdlib), and nesting deeper than the stdlib takes at a normal call depth
# (long lines with many brackets go to the stdlib). Lines over _WINDOW bytes go to the stdlib
# too: orjson's working memory is many times the input, which would break the memory bound.
# bytes.translate table: every digit becomes "0", everything else a space; then one substring
# search finds a run of 19 digits (the shortest integer that may not fit 64 bits) in C.
_DIGITS_TO_ZERO: Final = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))
_LONG_DIGITS: Final = b"0" * 19
_WINDOW: Final = 1 << 16
_DEEP_LINE: Final = 400  # a line this short cannot nest 200 deep (each level is 2 bytes)
_DEEP_BRACKETS: Final = 200


def _maybe_deep(body: bytes) -> bool:
    """Whether ``body`` might nest deeper than the stdlib decodes at a normal call depth."""
    return len(body) >= _DEEP_LINE and body.count(b"[") + body.count(b"{") >= _DEEP_BRACKETS


def _long_digits(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 or more ASCII digits."""
    if len(data) <= _WINDOW:
        return _LONG_DIGITS in data.translate(_DIGITS_TO_ZERO)
    # A big line is checked in overlapping windows, so it is never copied whole.
    step = _WINDOW - len(_LONG_DIGITS)
    return any(
        _LONG_DIGITS in data[i : i + _WINDOW].translate(_DIGITS_TO_ZERO) for i in range(0, len(data), step)
    )


class _ValueDraft:
    """Builds a JSONValue without the frozen dataclass __init__ (three object.__setattr__ calls
    per value, as much as decoding a short line): same slots, filled with plain stores, then
    relabelled as JSONValue, as sansstream.core._sse does for events."""

    __slots__ = ("index", "line", "value")
    value: Any
    line: int
    index: int


def _relabel_works() -> bool:
    try:
        if sorted(getattr(JSONValue, "__slots__", ())) != sorted(_ValueDraft.__slots__):
            return False  # pragma: no cover
        draft = _ValueDraft()
        draft.value, draft.line, draft.index = [1], 2, 3
        draft.__class__ = JSONValue  # type: ignore[assignment]
        return draft == JSONValue([1], 2, 3)  # type: ignore[comparison-overlap]
    except (TypeError, AttributeError):  # pragma: no cover
        return False


_FAST_VALUES: Final = _relabel_works()


def _excerpt(raw: bytes) -> str:
    text = raw[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")
    return repr(text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 3] + "...")


class NDJSONParser:
    """Sans-IO NDJSON parser: bytes in (any slicing), one ``JSONValue`` per non-blank line out.

    ``receive_data(b"")`` marks the end of input. ``next_event()`` returns a ``JSONValue``
    (``line`` is the 1-based line number, ``index`` the 0-based position among values),
    ``NEED_DATA`` or ``END``. Invalid JSON raises ``RemoteProtocolError`` naming the line; a line
    longer than ``max_line_size`` raises ``EventTooLargeError`` without buffering the rest of it.
    Values before a bad line are all returned first. After an error the parser refuses further
    work. ``loads`` replaces ``json.loads`` (e.g. ``orjson.loads``); it gets the line's bytes.

    ``orjson_loads`` is the exact orjson route: orjson decodes the lines where its result is
    provably the stdlib's (about three times faster) and the stdlib all others, so the values
    are exactly those of ``json.loads``. The default, ``"auto"``, takes it when orjson is
    installed (``pip install sansstream[fast]``); ``None`` keeps to the stdlib, and
    ``orjson.loads`` asks for it explicitly.
    """

    def __init__(
        self,
        *,
        max_line_size: int | None = DEFAULT_MAX_LINE_SIZE,
        loads: Callable[[bytes], Any] | None = None,
        orjson_loads: Callable[[bytes], Any] | Literal["auto"] | None = "auto",
    ) -> None:
        if max_line_size is not None and max_line_size < 1:
            raise LocalProtocolError(f"max_line_size must be a positive int or None, not {max_line_size!r}")
        if isinstance(orjson_loads, str):
            if orjson_loads != "auto":
                raise LocalProtocolError(
                    f'orjson_loads must be orjson.loads, None or "auto", not {orjson_loads!r}'
                )
            # "auto": orjson's loads when it is installed, unless the caller brings a decoder
            # of their own.
            orjson_loads = None if loads is not None else auto_orjson_loads()
        if loads is not None and orjson_loads is not None:
            raise LocalProtocolError("pass loads= (a decoder of your own) or orjson_loads=, not both")
        self._max = max_line_size
        self._loads = loads
        self._orjson = orjson_loads
        # The receive buffer: the unfinished last line (perhaps ending in a CR whose LF is still
        # to come), a BOM still undecided.
        self._buf = LineBuffer(cr_ends_lines=False)
        # Complete lines waiting for next_event, consumed from _next onwards (a list plus an
        # index, so taking a line is O(1) and the list is dropped wholesale once drained).
        self._lines: list[bytes] = []
        self._next = 0
        self._line_no = 0  # lines taken so far, blank ones included: the next line is _line_no + 1
        self._index = 0  # values returned so far
        # The queued lines may hold an integer orjson would turn into a float: decode them with
        # the stdlib (see the orjson route above).
        self._stdlib_only = False
        # feed()'s quick route: the tail while nothing else is pending, else None; _room is the
        # most the tail may hold (one byte over the limit: it may be the CR of a CRLF).
        self._quick: bytearray | None = None
        self._room = (1 << 62) if max_line_size is None else max_line_size + 1
        self._eof = False  # receive_data(b"") was called
        # An error found while buffering (an oversized line) waits here until the lines before it
        # have been returned, so every slicing yields the same values before the same error.
        self._pending: int | None = None  # size of the oversized line seen while buffering
        self._failed: str | None = None  # why the parser stopped; further calls are refused
        # An error feed() found after values it returned: the next call raises it.
        self._deferred: RemoteProtocolError | None = None

    # -- the h11-style surface ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer ``data``; ``b""`` marks the end of the stream."""
        self._quick = None
        self._check_usable()
        if self._eof:
            if not data:
                return  # a repeated end of stream changes nothing
            raise LocalProtocolError("NDJSON data received after the end of the stream (b'' was already fed)")
        if self._pending is not None:
            return  # the stream is already doomed; keep nothing more
        if not data:
            self._eof = True
            last = self._buf.finish()
            if last:
                if self._orjson is not None and _long_digits(last):
                    self._stdlib_only = True
                self._lines.append(last)
            return
        # The receive buffer (core/_receive.py) keeps the unterminated line, drops a leading BOM
        # and hands out complete lines; a CR before an LF stays in its line (JSON whitespace).
        region = self._buf.take(data, self._room)
        if region is None:
            self._doom(self._buf.overflow)
            return
        if not region:
            return
        parts = region.split(b"\n")
        parts.pop()  # the empty text after the final LF
        # (A digit run orjson would read differently may straddle two slices: the joined lines
        # are checked, and what stays in the tail is checked once it is part of a line.)
        risky = self._orjson is not None and _long_digits(region)
        if self._next >= len(self._lines):
            self._lines, self._next = parts, 0
            self._stdlib_only = risky
        else:
            self._lines.extend(parts)
            self._stdlib_only = self._stdlib_only or risky
        if len(self._buf.tail) > self._room:
            self._doom(len(self._buf.tail))

    def next_event(self) -> JSONValue | NeedData | EndOfStream:
        """The next value, ``NEED_DATA`` or ``END``."""
        value = self._take()
        if value is _NOTHING:
            return END if self._eof else NEED_DATA
        return JSONValue(value, self._line_no, self._index - 1)

    def _take(self) -> Any:
        """The next decoded value, or ``_NOTHING`` (the fast path ``iter_ndjson`` uses)."""
        if self._failed is not None:
            self._check_usable()
        lines = self._lines
        while self._next < len(lines):
            raw = lines[self._next]
            self._next += 1
            self._line_no += 1
            if self._max is not None and len(raw) > self._max:
                size = len(raw.removesuffix(b"\r"))  # the CR of a CRLF is not part of the line
                if size > self._max:
                    self._fail(self._too_large(self._line_no, size))
            body = raw.strip(_JSON_WS)  # also drops the CR of a CRLF
            if not body:
                continue
            if len(body) > _WINDOW and self._loads is None:
                # A big line goes to the stdlib (orjson's working memory is many times the
                # input), and every reference to its bytes is dropped once they are decoded:
                # at most two copies of the line (bytes and text, then text and value).
                lines[self._next - 1] = b""
                del raw
                head = body[: _EXCERPT_CHARS * 4]
                text = body.decode("utf-8", "replace")
                del body
                value = self._scan_text(text, head)
            else:
                value = self._decode(body)
            self._index += 1
            return value
        if lines:
            self._lines, self._next = [], 0
        if self._pending is not None:
            self._fail(self._too_large(self._line_no + 1, self._pending))
        return _NOTHING

    def feed(self, data: bytes) -> list[JSONValue]:
        """``receive_data(data)`` then every value that is complete. If the bytes hold a bad
        line after some complete values, those values are returned and the error is raised by
        the next call."""
        tail = self._quick
        if tail is not None and data:
            end = data.find(10)
            if end < 0:
                if len(tail) + len(data) <= self._room:
                    # Quick route for a slice inside a line (no LF): nothing can complete.
                    tail += data
                    return []
            elif data.find(10, end + 1) < 0 and type(data) is bytes and len(tail) + end < _WINDOW:
                # Second quick route, for a small slice that ends exactly one line: decode
                # it here, the way _drain would; anything unusual takes the full route, and
                # nothing has changed until the value is known.
                rest = data[end + 1 :]
                body = (b"".join((tail, data[:end])) if tail else data[:end]).strip(_JSON_WS)
                # (The line, CR included, within max_line_size: a line one CR over it is left
                # to the full route, which knows that CR is not counted.)
                if body and len(rest) <= self._room and len(tail) + end < self._room:
                    value: Any = _NOTHING
                    try:
                        # (_long_digits and _maybe_deep inlined: the line is under _WINDOW)
                        if (
                            self._orjson is None
                            or _LONG_DIGITS in body.translate(_DIGITS_TO_ZERO)
                            or (
                                len(body) >= _DEEP_LINE
                                and body.count(b"[") + body.count(b"{") >= _DEEP_BRACKETS
                            )
                        ):
                            try:
                                text = body.decode()
                            except UnicodeDecodeError:
                                text = body.decode("utf-8", "replace")
                            found, stop = _scan_once(text, 0)
                            if stop == len(text):
                                value = found
                        else:
                            value = self._orjson(body)
                    except (ValueError, RecursionError, StopIteration):
                        pass
                    if value is not _NOTHING and _FAST_VALUES:
                        tail.clear()
                        tail += rest
                        self._line_no += 1
                        self._index += 1
                        draft = _ValueDraft()
                        draft.value = value
                        draft.line = self._line_no
                        draft.index = self._index - 1
                        draft.__class__ = JSONValue  # type: ignore[assignment]
                        return [draft]  # type: ignore[list-item]
        del tail
        self.receive_data(data)
        out: list[Any] = []
        if self._next < len(self._lines) or self._pending is not None or self._eof:
            try:
                self._drain(out, True)
            except RemoteProtocolError as exc:
                if not out:
                    raise
                self._deferred = exc  # the parser has failed; the next call raises this first
        if self._buf.settled and not self._eof and self._pending is None and self._failed is None:
            self._quick = self._buf.appendable()
        return out

    def _drain(self, out: list[Any], wrap: bool) -> None:
        """Append every complete value to ``out`` (as ``JSONValue`` when ``wrap``): what calling
        ``_take`` until ``_NOTHING`` does, with the common line handled inline. A line that is
        big, oversized, blank-with-whitespace or anything but a clean decode goes through
        ``_take``, which handles every case (and raises); the values before it are in ``out``.
        """
        take = self._take
        scan = _scan_once
        fast = self._orjson
        window = _WINDOW if self._max is None else min(_WINDOW, self._max)
        fresh = _FAST_VALUES and wrap
        if self._loads is not None or self._failed is not None:
            while (value := take()) is not _NOTHING:
                out.append(JSONValue(value, self._line_no, self._index - 1) if wrap else value)
            return
        while True:
            lines = self._lines
            i = self._next
            n = len(lines)
            line_no = self._line_no
            index = self._index
            stdlib = fast is None or self._stdlib_only
            while i < n:
                raw = lines[i]
                if len(raw) >= window:
                    break
                body = raw.strip(_JSON_WS)
                if not body:
                    break
                try:
                    if stdlib or (
                        len(body) >= _DEEP_LINE and body.count(b"[") + body.count(b"{") >= _DEEP_BRACKETS
                    ):
                        try:  # (strict decoding is CPython's quicker path; then the rule)
                            text = body.decode()
                        except UnicodeDecodeError:
                            text = body.decode("utf-8", "replace")
                        value, end = scan(text, 0)
                        if end != len(text):
                            break
                    else:
                        value = fast(body)  # type: ignore[misc]
                except (ValueError, RecursionError, StopIteration):
                    break
                i += 1
                line_no += 1
                index += 1
                if not wrap:
                    out.append(value)
                elif fresh:
                    draft = _ValueDraft()
                    draft.value = value
                    draft.line = line_no
                    draft.index = index - 1
                    draft.__class__ = JSONValue  # type: ignore[assignment]
                    out.append(draft)
                else:  # pragma: no cover
                    out.append(JSONValue(value, line_no, index - 1))
            self._next = i
            self._line_no = line_no
            self._index = index
            # The line that stopped the inline loop (or none left): the full rules. (A big
            # line must not stay pinned here while _take decodes it.)
            raw = body = b""
            value = take()
            if value is _NOTHING:
                return
            out.append(JSONValue(value, self._line_no, self._index - 1) if wrap else value)

    # -- internals ------------------------------------------------------------------------------

    def _doom(self, size: int) -> None:
        """A line without an end grew past max_line_size (one byte more is allowed: it may be
        the CR of a CRLF): keep nothing more; the error waits for the lines before it."""
        self._buf.clear()
        self._pending = size

    def _too_large(self, line: int, size: int) -> EventTooLargeError:
        return EventTooLargeError(
            f"NDJSON line {line} is longer than max_line_size={self._max} bytes (at least {size} bytes); "
            "raise max_line_size (or pass None) if such lines are expected",
            limit=self._max,
            size=size,
        )

    def _decode(self, body: bytes) -> Any:
        # ``body`` has no surrounding whitespace, so json's C scanner can read it directly: the
        # same result as json.loads, minus two regex calls and two Python frames per line.
        try:
            if self._loads is not None:
                return self._loads(body)
            if (
                self._orjson is not None
                and not self._stdlib_only
                and (len(body) < _DEEP_LINE or body.count(b"[") + body.count(b"{") < _DEEP_BRACKETS)
            ):
                try:
                    return self._orjson(body)
                except ValueError:  # orjson.JSONDecodeError is one
                    pass  # the stdlib decides (and explains)
            text = body.decode("utf-8", "replace")
            value, end = _scan_once(text, 0)
            if end == len(text):
                return value
        except (ValueError, RecursionError, StopIteration):
            # ValueError covers json's and orjson's decode errors and Python's digit limit;
            # RecursionError is what json raises for absurdly deep nesting; StopIteration is
            # the scanner finding no value at all.
            pass
        self._invalid(body)

    def _scan_text(self, text: str, head: bytes) -> Any:
        """The stdlib decoding of a big line's text (``head``: its first bytes, for errors)."""
        try:
            value, end = _scan_once(text, 0)
            if end == len(text):
                return value
        except (ValueError, RecursionError, StopIteration):
            pass
        reason = "extra data after the value"
        try:
            json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = str(exc) or type(exc).__name__
        self._fail(
            RemoteProtocolError(f"NDJSON line {self._line_no} is not valid JSON ({reason}): {_excerpt(head)}")
        )

    def _invalid(self, body: bytes) -> NoReturn:
        # The error path only: ask json.loads (or the custom loads) again for its explanation.
        reason = "extra data after the value"
        try:
            if self._loads is not None:
                self._loads(body)
            else:
                json.loads(body.decode("utf-8", "replace"))
        except (ValueError, RecursionError) as exc:
            reason = str(exc) or type(exc).__name__
        self._fail(
            RemoteProtocolError(f"NDJSON line {self._line_no} is not valid JSON ({reason}): {_excerpt(body)}")
        )

    def _fail(self, exc: RemoteProtocolError) -> NoReturn:
        self._failed = str(exc)
        self._lines, self._next, self._pending = [], 0, None
        self._buf.clear()
        raise exc

    def _check_usable(self) -> None:
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        if self._failed is not None:
            raise refusal("NDJSONParser", self._failed)


def iter_ndjson(chunks: Iterable[bytes], **opts: Any) -> Iterator[Any]:
    """Decode an NDJSON byte stream given in slices of any size; yields the JSON values.

    ``opts`` go to ``NDJSONParser``. The end of ``chunks`` is the end of the stream.
    """
    parser = NDJSONParser(**opts)
    receive = parser.receive_data
    drain = parser._drain
    values: list[Any] = []
    # Slices that end no line are gathered and handed over joined with the next one that
    # does (see core/_receive.py); nothing is read ahead.
    for chunk in gather_lines(chunks):
        receive(chunk)
        if parser._next < len(parser._lines):
            try:
                drain(values, False)
            except SansStreamError:
                yield from values  # the values before the error are still delivered
                raise
            yield from values
            values.clear()
    receive(b"")
    try:
        drain(values, False)
    except SansStreamError:
        yield from values
        raise
    yield from values


def encode_ndjson(value: Any) -> bytes:
    """One NDJSON line: compact JSON, UTF-8 (non-ASCII kept as is), then LF.

    ``NDJSONParser`` reads it back to an equal value (json's own coercions aside: tuples become
    lists, non-string keys become strings). A ``JSONValue`` is encoded as its ``value``. Values
    JSON cannot represent (sets, objects, NaN or infinities, circular structures) are refused with
    ``LocalProtocolError``.
    """
    if isinstance(value, JSONValue):
        value = value.value
    # The one wire rule (lone surrogates escaped, NaN/Infinity refused): see core/_wirejson.py.
    return dumps_wire(value).encode("utf-8") + b"\n"
