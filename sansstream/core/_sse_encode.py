"""Server-Sent Events encoders: events to ``text/event-stream`` bytes that the parser (and every
browser) reads back as the same events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..model import Comment, LocalProtocolError, ServerSentEvent, SSEField

__all__ = ["SSEEncoder", "encode_sse"]

# The field names the SSE rules handle themselves (never an SSEField).
STANDARD_FIELDS: Final = frozenset({"data", "event", "id", "retry"})


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
    if not name or ":" in name or name in STANDARD_FIELDS or name.startswith("\ufeff"):
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
