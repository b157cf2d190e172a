"""A literal, slow transcription of the WHATWG "interpreting an event stream" algorithm.

This module is an *oracle* for tests and fuzzers, never used by the library. It is written from
the spec text (HTML Living Standard, section 9.2.6 "Interpreting an event stream"), not from
sansstream's parser, and favours obviousness over speed: the whole body is decoded at once, lines
are found one character at a time, and every step carries the sentence of the spec it implements.
Nothing here is incremental, so it cannot share a chunk-boundary bug with the real parser.

Beyond the spec's observable state it also records which ``retry:`` value (if any) appeared in
the block that produced each event, because sansstream's ``ServerSentEvent.retry`` exposes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RefEvent", "RefResult", "reference_parse", "parse_retry_digits"]

LF = "\n"
CR = "\r"
BOM = "\ufeff"


@dataclass(frozen=True)
class RefEvent:
    """One dispatched event, as a browser's ``MessageEvent`` would show it."""

    type: str
    data: str
    last_event_id: str
    retry: int | None = None  # the block's own retry: value, if it had a valid one


@dataclass
class RefResult:
    """Every event dispatched, plus the state left at the end of the stream.

    ``last_event_id`` is the event source's "last event ID string" (updated only at dispatch,
    so an ``id:`` in an unterminated final block does not count); ``last_event_id_buffer`` is the
    buffer, which does include it. ``retry`` is the reconnection time, None if never set.
    """

    events: list[RefEvent] = field(default_factory=list)
    last_event_id: str = ""
    last_event_id_buffer: str = ""
    retry: int | None = None


def parse_retry_digits(value: str) -> int | None:
    """Spec: "If the field value consists of only ASCII digits, then interpret the field value as
    an integer in base ten" -- else ignore the field. ``str.isdigit``/``int`` are deliberately not
    used: both accept non-ASCII digits, and ``int`` also accepts spaces, signs and underscores
    (and refuses very long strings), none of which the spec allows."""
    if value == "":
        return None
    for ch in value:
        if ch not in "0123456789":
            return None
    # Accumulate in blocks so that a huge digit string neither trips int()'s length guard nor
    # costs quadratic time in a naive per-digit loop.
    result = 0
    step = 1000
    for start in range(0, len(value), step):
        block = value[start : start + step]
        result = result * (10 ** len(block)) + _small_int(block)
    return result


def _small_int(digits: str) -> int:
    n = 0
    for ch in digits:
        n = n * 10 + (ord(ch) - ord("0"))
    return n


def decode_body(body: bytes) -> str:
    """Spec: "The stream must then be parsed by reading everything line by line ... after decoding
    it using the UTF-8 decode algorithm" -- which replaces invalid sequences with U+FFFD and strips
    one leading byte order mark (and only one)."""
    text = body.decode("utf-8", errors="replace")
    if text.startswith(BOM):
        text = text[1:]
    return text


def split_lines(text: str) -> tuple[list[str], str]:
    """Split on the spec's end-of-line production: CRLF, a lone LF or a lone CR. Nothing else
    (not U+2028, U+0085, VT or FF) ends a line. Returns the complete lines and the unterminated
    remainder (which the caller discards at end of file)."""
    lines: list[str] = []
    current: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == CR:
            lines.append("".join(current))
            current = []
            # A CR immediately followed by LF is one terminator, not two.
            if i + 1 < n and text[i + 1] == LF:
                i += 1
        elif ch == LF:
            lines.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    return lines, "".join(current)


def reference_parse(body: bytes) -> RefResult:
    """Interpret ``body`` (a complete response body) and return what a browser would dispatch."""
    result = RefResult()
    data_buffer = ""
    event_type_buffer = ""
    last_event_id_buffer = ""
    block_retry: int | None = None

    lines, _unterminated = split_lines(decode_body(body))
    for line in lines:
        # "If the line is empty (a blank line): Dispatch the event, as defined below."
        if line == "":
            # Dispatch step 1: "Set the last event ID string of the event source to the value of
            # the last event ID buffer. The buffer does not get reset."
            result.last_event_id = last_event_id_buffer
            # Step 2: "If the data buffer is an empty string, set the data buffer and the event
            # type buffer to the empty string and return."
            if data_buffer == "":
                data_buffer = ""
                event_type_buffer = ""
                block_retry = None
                continue
            # Step 3: "If the data buffer's last character is a U+000A LINE FEED (LF) character,
            # then remove the last character from the data buffer."
            data = data_buffer[:-1] if data_buffer.endswith(LF) else data_buffer
            # Steps 4-5: the type is "message" unless the event type buffer is non-empty.
            event_type = event_type_buffer if event_type_buffer != "" else "message"
            result.events.append(RefEvent(event_type, data, result.last_event_id, block_retry))
            # Step 6: "Set the data buffer and the event type buffer to the empty string."
            data_buffer = ""
            event_type_buffer = ""
            block_retry = None
            continue
        # "If the line starts with a U+003A COLON character (:): Ignore the line."
        if line[0] == ":":
            continue
        # "If the line contains a U+003A COLON character: Collect the characters on the line
        # before the first U+003A COLON character, and let field be that string. Collect the
        # characters on the line after the first U+003A COLON character, and let value be that
        # string. If value starts with a U+0020 SPACE character, remove it from value."
        colon = line.find(":")
        if colon >= 0:
            name = line[:colon]
            value = line[colon + 1 :]
            if value.startswith(" "):
                value = value[1:]
        else:
            # "Otherwise ... using the whole line as the field name, and the empty string as
            # the field value."
            name = line
            value = ""
        # "Process the field":
        if name == "event":
            event_type_buffer = value
        elif name == "data":
            data_buffer += value + LF
        elif name == "id":
            # "If the field value does not contain U+0000 NULL, then set the last event ID
            # buffer to the field value. Otherwise, ignore the field."
            if "\x00" not in value:
                last_event_id_buffer = value
        elif name == "retry":
            parsed = parse_retry_digits(value)
            if parsed is not None:
                result.retry = parsed
                block_retry = parsed
        # "Otherwise: The field is ignored."
    # "Once the end of the file is reached, any pending data must be discarded. (If the file
    # ends in the middle of an event, before the final empty line, the incomplete event is not
    # dispatched.)"
    result.last_event_id_buffer = last_event_id_buffer
    return result
