"""Incremental (partial) JSON: text or bytes in, in fragments of any size, the best current value out.

LLM providers stream tool-call arguments and structured output (JSON mode, ``response_format``,
Gemini ``responseSchema``) as fragments of one JSON text. Users want the object *as it grows*, the
way the official SDKs expose it (openai's ``parsed_arguments`` / ``parsed``, anthropic's tool
``input`` snapshot: both ``jiter.from_json(buf, partial_mode=True)`` over the whole buffer after
every fragment, which is quadratic in the size of the text).

``PartialJSONParser`` is a sans-IO state machine instead: a stack of open containers, and one token
in progress (string, number or literal) whose characters accumulate across fragments. Each
character is looked at once (runs of plain string characters, whitespace and number characters are
consumed with one regex match), so parsing is linear in the input however it is split. The partial
value is the live tree: containers are attached to their parent the moment they open, scalars when
they complete. The one scalar still in progress is shown provisionally only when the value is read
(and withdrawn on the next ``feed``), so a reader pays for it, a writer never does.

What the partial value contains (the SDKs' rules, checked against jiter by the tests):
- open objects and arrays, with every member completed so far;
- a number in progress if its text so far is itself a valid number (``12`` yes, ``1.``/``-``/``1e`` no);
- literals (``true``/``false``/``null``) only once complete;
- an object member only once its key and colon were read *and* its value is showable;
- a string in progress only with ``trailing_strings=True`` (jiter's ``"trailing-strings"`` mode),
  without any half-read escape; by default (what both SDKs use) it is left out.

The final value (after ``close()``) equals ``json.loads`` of the whole text, except that ``NaN`` and
``Infinity`` are refused (they are not JSON). Bad JSON raises ``RemoteProtocolError`` at the first
character that cannot be valid; nesting deeper than ``max_depth`` raises ``RemoteProtocolError`` and
more than ``max_size`` characters raise ``EventTooLargeError``; after an error the parser refuses
further input.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from ..model import (
    ChatResult,
    Chunk,
    EventTooLargeError,
    IncompleteStreamError,
    LocalProtocolError,
    RemoteProtocolError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)

__all__ = ["PartialJSONParser", "PartialToolCall", "PartialTracker", "parse_partial_json"]

DEFAULT_MAX_DEPTH: Final = 512
DEFAULT_MAX_SIZE: Final = 16 * 1024 * 1024

_WS = re.compile(r"[ \t\n\r]*")
_STR_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_NUM_RUN = re.compile(r"[0-9+\-.eE]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_LITERALS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}

# Where the parser is between tokens.
_VALUE = 0  # a value must come (root, after ':' or after ',' in an array)
_ARRAY_FIRST = 1  # just after '[': a value or ']'
_OBJ_FIRST = 2  # just after '{': a key or '}'
_KEY = 3  # after ',' in an object: a key
_COLON = 4  # after a key
_AFTER = 5  # after a member: ',' or the closing bracket
_END = 6  # the root value is complete: only whitespace may follow

# The token in progress.
_NONE = 0
_STRING = 1
_NUMBER_TOK = 2
_LITERAL = 3

_MISSING: Any = object()


class PartialJSONParser:
    """Parse one JSON text fed in fragments; read the best partial value at any time.

    ``feed(fragment)`` takes ``str`` or ``bytes`` (UTF-8, split anywhere, even inside a character);
    ``value`` is the current partial value (``None`` until something is showable: check
    ``has_value``); ``close()`` ends the input and returns the complete value or raises
    ``IncompleteStreamError``.

    ``value`` is the parser's own live tree, updated in place by later fragments: do not mutate it,
    and take ``snapshot()`` (a copy) to keep a value that must not change.
    """

    def __init__(
        self,
        *,
        trailing_strings: bool = False,
        max_depth: int | None = DEFAULT_MAX_DEPTH,
        max_size: int | None = DEFAULT_MAX_SIZE,
    ) -> None:
        self.trailing_strings = trailing_strings
        self.max_depth = max_depth
        self.max_size = max_size
        self._decoder: codecs.IncrementalDecoder | None = None
        self._size = 0
        self._root: Any = _MISSING
        self._stack: list[Any] = []  # open containers, innermost last
        self._key: str = ""  # the key of the member being read in the innermost object
        self._state = _VALUE
        self._tok = _NONE
        self._tok_is_key = False
        self._parts: list[str] = []  # characters of the token in progress
        self._esc = ""  # a half-read escape sequence, starting with the backslash
        self._high = ""  # a high surrogate from \uD8xx waiting to see whether a low one follows
        self._prov: tuple[Any, Any, Any] | None = None  # (container, key/index, previous) shown provisionally
        self._failed: RemoteProtocolError | None = None
        self._closed = False
        self._version = 0  # bumped whenever the visible value changes
        self._shown: Any = None  # the provisional scalar on show
        self._gone: tuple[Any, Any, Any] | None = None  # (slot, key, value) of the one just withdrawn

    # ------------------------------------------------------------------ reading

    @property
    def has_value(self) -> bool:
        """Whether anything is showable yet (a root container, or a root scalar that is showable)."""
        self._show()
        return self._root is not _MISSING

    @property
    def value(self) -> Any:
        """The best current partial value (live; ``None`` while ``has_value`` is false)."""
        self._show()
        return None if self._root is _MISSING else self._root

    def snapshot(self) -> Any:
        """A copy of ``value`` that later fragments do not change."""
        return _copy(self.value)

    @property
    def version(self) -> int:
        """Changes whenever ``value`` may have changed (cheap: compare it between reads)."""
        self._show()
        return self._version

    @property
    def complete(self) -> bool:
        """Whether the root value is complete (trailing whitespace may still come)."""
        return self._state == _END

    # ------------------------------------------------------------------ input

    def feed(self, data: str | bytes) -> None:
        """Parse one more fragment of the text."""
        if self._failed is not None:
            raise RemoteProtocolError(f"partial JSON parser already failed: {self._failed}")
        if self._closed:
            raise LocalProtocolError("feed() after close(): start a new PartialJSONParser for a new text")
        if isinstance(data, (bytes, bytearray, memoryview)):
            if self._decoder is None:
                self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
            try:
                text = self._decoder.decode(bytes(data))
            except UnicodeDecodeError as exc:
                self._fail(f"the JSON text is not valid UTF-8 ({exc.reason})")
        else:
            if self._decoder is not None and self._decoder.getstate()[0]:
                raise LocalProtocolError("str fragment fed while a UTF-8 character from bytes is half read")
            text = data
        if not text:
            return
        self._size += len(text)
        if self.max_size is not None and self._size > self.max_size:
            too_large = EventTooLargeError(
                f"the JSON text exceeds max_size={self.max_size} characters; raise max_size if this "
                "is legitimate",
                limit=self.max_size,
                size=self._size,
            )
            self._failed = too_large
            raise too_large
        self._retract()
        try:
            self._parse(text)
        except RemoteProtocolError as exc:
            self._failed = exc
            raise

    def close(self) -> Any:
        """End of input: return the complete value, or raise ``IncompleteStreamError``."""
        if self._failed is not None:
            raise RemoteProtocolError(f"partial JSON parser already failed: {self._failed}")
        if not self._closed:
            if self._decoder is not None:
                try:
                    self._decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    self._fail("the JSON text ends inside a UTF-8 character")
            self._closed = True
            self._retract()
            if self._tok == _NUMBER_TOK and not self._stack:
                if _NUMBER.fullmatch("".join(self._parts) + "0") and not _NUMBER.fullmatch(
                    "".join(self._parts)
                ):
                    self._fail_incomplete()  # "-", "1.", "1e+": a number cut short
                self._finish_number()
            elif self._tok == _LITERAL and not self._stack:
                self._fail_incomplete()
        if self._state != _END:
            self._fail_incomplete()
        return self._root

    # ------------------------------------------------------------------ internals

    def _fail(self, message: str) -> NoReturn:
        exc = RemoteProtocolError(message)
        self._failed = exc
        raise exc

    def _fail_incomplete(self) -> NoReturn:
        where = "nothing" if self._root is _MISSING and self._tok == _NONE else "an incomplete value"
        exc = IncompleteStreamError(
            f"the JSON text ended with {where} (open containers: {len(self._stack)}); the stream "
            "was cut or the producer stopped early"
        )
        self._failed = exc
        raise exc

    def _parse(self, s: str) -> None:
        i = 0
        n = len(s)
        while i < n:
            tok = self._tok
            if tok == _STRING:
                i = self._scan_string(s, i, n)
                continue
            if tok == _NUMBER_TOK:
                j = _run_end(_NUM_RUN, s, i)
                if j > i:
                    self._parts.append(s[i:j])
                    i = j
                if i < n:
                    self._finish_number()
                continue
            if tok == _LITERAL:
                i = self._scan_literal(s, i, n)
                continue
            i = _run_end(_WS, s, i)
            if i >= n:
                break
            c = s[i]
            state = self._state
            if state in (_VALUE, _ARRAY_FIRST):
                if c == "]" and state == _ARRAY_FIRST:
                    self._close_container(list)
                else:
                    self._start_value(c)
                i += 1
            elif state == _AFTER:
                top = self._stack[-1]
                if c == ",":
                    self._state = _KEY if type(top) is dict else _VALUE
                elif c == "}" and type(top) is dict:
                    self._close_container(dict)
                elif c == "]" and type(top) is list:
                    self._close_container(list)
                else:
                    self._fail(f"expected ',' or a closing bracket in the JSON text, got {c!r}")
                i += 1
            elif state in (_OBJ_FIRST, _KEY):
                if c == '"':
                    self._tok = _STRING
                    self._tok_is_key = True
                elif c == "}" and state == _OBJ_FIRST:
                    self._close_container(dict)
                else:
                    self._fail(f"expected an object key in the JSON text, got {c!r}")
                i += 1
            elif state == _COLON:
                if c != ":":
                    self._fail(f"expected ':' after an object key in the JSON text, got {c!r}")
                self._state = _VALUE
                i += 1
            else:  # _END
                self._fail(f"extra data after the JSON value: {c!r}")

    def _start_value(self, c: str) -> None:
        if c in {"{", "["}:
            container: Any = {} if c == "{" else []
            if self.max_depth is not None and len(self._stack) >= self.max_depth:
                self._fail(f"the JSON text nests deeper than max_depth={self.max_depth}")
            self._attach(container)
            self._stack.append(container)
            self._state = _OBJ_FIRST if c == "{" else _ARRAY_FIRST
        elif c == '"':
            self._tok = _STRING
            self._tok_is_key = False
        elif c == "-" or "0" <= c <= "9":
            self._tok = _NUMBER_TOK
            self._parts = [c]
        elif c in "tfn":
            self._tok = _LITERAL
            self._parts = [c]
        else:
            self._fail(f"expected a JSON value, got {c!r}")

    def _attach(self, v: Any) -> None:
        """Put a value (a container at its opening, a scalar when complete) where it belongs."""
        if not self._stack:
            self._changed(None, None, v)
            self._root = v
            return
        top = self._stack[-1]
        if type(top) is dict:
            self._changed(id(top), self._key, v)
            top[self._key] = v
        else:
            self._changed(id(top), len(top), v)
            top.append(v)

    def _changed(self, slot: Any, key: Any, v: Any) -> None:
        """Count a visible change, unless ``v`` only confirms the provisional value just withdrawn
        from the same place (a number that was already shown, now complete)."""
        gone = self._gone
        self._gone = None
        if gone is None or gone[0] != slot or gone[1] != key or type(gone[2]) is not type(v) or gone[2] != v:
            self._version += 1

    def _scalar_done(self, v: Any) -> None:
        self._tok = _NONE
        self._parts = []
        self._attach(v)
        self._state = _AFTER if self._stack else _END

    def _close_container(self, kind: type) -> None:
        self._stack.pop()
        self._state = _AFTER if self._stack else _END

    def _finish_number(self) -> None:
        text = "".join(self._parts)
        m = _NUMBER.fullmatch(text)
        if m is None:
            self._fail(f"invalid number in the JSON text: {text[:40]!r}")
        self._scalar_done(_to_number(text, m))

    def _scan_literal(self, s: str, i: int, n: int) -> int:
        have = self._parts[0]
        for word in ("true", "false", "null"):
            if word[0] == have[0]:
                break
        need = len(word) - len(have)
        take = s[i : i + need]
        have += take
        if not word.startswith(have):
            self._fail(f"invalid literal in the JSON text: {have!r}")
        if len(have) == len(word):
            self._scalar_done(_LITERALS[word])
        else:
            self._parts = [have]
        return i + len(take)

    def _scan_string(self, s: str, i: int, n: int) -> int:
        parts = self._parts
        while i < n:
            if self._esc:
                i = self._scan_escape(s, i, n)
                continue
            j = _run_end(_STR_RUN, s, i)
            if j > i:
                if self._high:
                    parts.append(self._high)
                    self._high = ""
                parts.append(s[i:j])
                i = j
                if i >= n:
                    break
            c = s[i]
            if c == '"':
                if self._high:
                    parts.append(self._high)
                    self._high = ""
                text = "".join(parts)
                if self._tok_is_key:
                    self._tok = _NONE
                    self._parts = []
                    self._key = text
                    self._state = _COLON
                else:
                    self._scalar_done(text)
                return i + 1
            if c == "\\":
                self._esc = "\\"
                i += 1
                continue
            self._fail(f"unescaped control character {c!r} inside a JSON string")
        return i

    def _scan_escape(self, s: str, i: int, n: int) -> int:
        esc = self._esc
        if len(esc) == 1:
            c = s[i]
            if c in _SIMPLE_ESCAPES:
                self._esc = ""
                self._emit_char(_SIMPLE_ESCAPES[c])
                return i + 1
            if c != "u":
                self._fail(f"invalid escape \\{c} inside a JSON string")
            self._esc = esc = "\\u"
            i += 1
        take = s[i : i + 6 - len(esc)]
        esc += take
        i += len(take)
        if len(esc) < 6:
            if any(ch not in "0123456789abcdefABCDEF" for ch in take):
                self._fail(f"invalid \\u escape inside a JSON string: {esc!r}")
            self._esc = esc
            return i
        try:
            code = int(esc[2:], 16)
        except ValueError:
            code = -1
        if code < 0 or not all(ch in "0123456789abcdefABCDEF" for ch in esc[2:]):
            self._fail(f"invalid \\u escape inside a JSON string: {esc!r}")
        self._esc = ""
        ch = chr(code)
        if 0xDC00 <= code <= 0xDFFF and self._high:
            hi = ord(self._high)
            self._high = ""
            self._parts.append(chr(0x10000 + ((hi - 0xD800) << 10) + (code - 0xDC00)))
        elif 0xD800 <= code <= 0xDBFF:
            if self._high:
                self._parts.append(self._high)
            self._high = ch
        else:
            self._emit_char(ch)
        return i

    def _emit_char(self, ch: str) -> None:
        if self._high:
            self._parts.append(self._high)
            self._high = ""
        self._parts.append(ch)

    # ---------------------------------------------------- provisional display

    def _showable_scalar(self) -> Any:
        """The value of the token in progress as the SDKs would show it, or ``_MISSING``."""
        if self._tok == _NUMBER_TOK:
            text = "".join(self._parts)
            self._parts = [text]
            m = _NUMBER.fullmatch(text)
            return _MISSING if m is None else _to_number(text, m)
        if self._tok == _STRING and self.trailing_strings and not self._tok_is_key:
            text = "".join(self._parts)
            self._parts = [text]
            return text
        return _MISSING

    def _show(self) -> None:
        if self._prov is not None or self._failed is not None:
            return
        v = self._showable_scalar() if self._tok != _NONE else _MISSING
        if v is _MISSING:
            if self._gone is not None:  # the value shown before is not showable any more
                self._gone = None
                self._version += 1
            return
        self._shown = v
        if not self._stack:
            self._changed(None, None, v)
            self._prov = (None, None, self._root)
            self._root = v
            return
        top = self._stack[-1]
        if type(top) is dict:
            self._changed(id(top), self._key, v)
            self._prov = (top, self._key, top.get(self._key, _MISSING))
            top[self._key] = v
        else:
            self._changed(id(top), len(top), v)
            self._prov = (top, len(top), _MISSING)
            top.append(v)

    def _retract(self) -> None:
        prov = self._prov
        if prov is None:
            return
        self._prov = None
        container, key, previous = prov
        self._gone = (None if container is None else id(container), key, self._shown)
        if container is None:
            self._root = previous
        elif type(container) is list:
            container.pop()
        elif previous is _MISSING:
            del container[key]
        else:
            container[key] = previous


def _run_end(rx: re.Pattern[str], s: str, i: int) -> int:
    """End of the run ``rx`` (a pattern that can match empty) matches at ``i``."""
    m = rx.match(s, i)
    return i if m is None else m.end()


def _to_number(text: str, m: re.Match[str]) -> Any:
    if m.group(1) is None and m.group(2) is None:
        try:
            return int(text)
        except ValueError:  # more digits than int() converts (sys.int_info.str_digits_check_threshold)
            raise RemoteProtocolError(f"integer too long in the JSON text ({len(text)} digits)") from None
    return float(text)


def _copy(v: Any) -> Any:
    if type(v) is dict:
        return {k: _copy(x) for k, x in v.items()}
    if type(v) is list:
        return [_copy(x) for x in v]
    return v


def parse_partial_json(text: str | bytes, *, trailing_strings: bool = False) -> Any:
    """The best partial value of a (possibly incomplete) JSON text, in one call; ``None`` when
    nothing is showable yet. Raises ``RemoteProtocolError`` if the text cannot be a JSON prefix."""
    p = PartialJSONParser(trailing_strings=trailing_strings, max_size=None)
    p.feed(text)
    return p.value


# ---------------------------------------------------------------------------- chunk-level tracking


@dataclass(frozen=True, slots=True)
class PartialToolCall:
    """One tool call's arguments parsed so far.

    ``input`` is the partial arguments object (a copy: later chunks do not change it; ``{}``
    while nothing is showable yet, as anthropic's snapshot starts); ``complete`` is true once the
    provider ended the call (its ``ToolCallEnd``: ``input`` is then the final parsed value).
    ``error`` is set when the arguments text stopped being JSON (``input`` keeps the last good
    partial value; the stream goes on: the final ``ToolCall.input`` is ``None`` for invalid
    arguments, as before).
    """

    index: int
    id: str | None
    name: str
    input: Any
    complete: bool = False
    choice: int = 0
    error: str | None = None


class _ToolState:
    __slots__ = ("complete", "error", "final", "id", "name", "parser")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.parser = PartialJSONParser(max_size=None)
        self.complete = False
        self.final: Any = None
        self.error: str | None = None


class PartialTracker:
    """Chunks in (``add``), partial JSON out: each tool call's arguments (``tool_calls()``) and the
    answer text of choice 0 read as one JSON document (``text_value()``: JSON mode,
    ``response_format``, Gemini ``responseSchema``). Linear in the stream: each fragment is parsed
    once. ``prime(result)`` catches up from a ``ChatResult`` when tracking starts mid-stream.
    """

    def __init__(self, *, trailing_strings: bool = False, track_text: bool = True) -> None:
        self._trailing = trailing_strings
        self._tools: dict[tuple[int, int], _ToolState] = {}
        self._text: PartialJSONParser | None = (
            PartialJSONParser(trailing_strings=trailing_strings, max_size=None) if track_text else None
        )
        self.text_error: str | None = None

    def _tool(self, choice: int, index: int) -> _ToolState:
        state = self._tools.get((choice, index))
        if state is None:
            state = self._tools[(choice, index)] = _ToolState()
            state.parser.trailing_strings = self._trailing
        return state

    def prime(self, result: ChatResult) -> None:
        """Start from what a ``ChatResult`` already holds (tool arguments, choice 0's text)."""
        for choice in result.choices:
            for call in choice.tool_calls:
                state = self._tool(choice.index, call.index)
                state.id, state.name = call.id, call.name
                self._feed_tool(state, call.arguments)
        if result.text:
            self._feed_text(result.text)

    def add(self, chunk: Chunk) -> None:
        if isinstance(chunk, ToolCallDelta):
            self._feed_tool(self._tool(chunk.choice, chunk.index), chunk.arguments)
        elif isinstance(chunk, TextDelta):
            if chunk.choice == 0 and chunk.text:
                self._feed_text(chunk.text)
        elif isinstance(chunk, ToolCallStart):
            state = self._tool(chunk.choice, chunk.index)
            state.id = chunk.id or state.id
            state.name = chunk.name or state.name
        elif isinstance(chunk, ToolCallEnd):
            state = self._tool(chunk.choice, chunk.index)
            state.id = chunk.id or state.id
            state.name = chunk.name or state.name
            state.complete = True
            state.final = chunk.input

    def _feed_tool(self, state: _ToolState, text: str) -> None:
        if state.error is not None or not text:
            return
        try:
            state.parser.feed(text)
        except RemoteProtocolError as exc:
            state.error = str(exc)

    def _feed_text(self, text: str) -> None:
        if self._text is None or self.text_error is not None:
            return
        try:
            self._text.feed(text)
        except RemoteProtocolError as exc:
            self.text_error = str(exc)

    def tool_calls(self, choice: int = 0) -> tuple[PartialToolCall, ...]:
        """Every tool call of ``choice`` seen so far, in index order, with its partial input."""
        out = []
        for (c, index), state in sorted(self._tools.items()):
            if c != choice:
                continue
            if state.complete:
                value = _copy(state.final)
            elif state.parser.has_value:
                value = state.parser.snapshot()
            else:  # no argument text yet: {} as anthropic's snapshot (and parse_arguments("")) say
                value = {}
            out.append(PartialToolCall(index, state.id, state.name, value, state.complete, c, state.error))
        return tuple(out)

    @property
    def text_parser(self) -> PartialJSONParser | None:
        """The parser reading choice 0's text (its ``value`` is live; ``snapshot()`` copies)."""
        return self._text

    def text_value(self) -> Any:
        """A copy of the partial JSON value of choice 0's text (``None`` while nothing is showable)."""
        return None if self._text is None else self._text.snapshot()
