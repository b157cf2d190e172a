"""Wire events: what the framing parsers return and the encoders accept.

The same classes travel in both directions (parser output, encoder input), so a round trip is a
plain equality check. Sentinels follow h11: ``NEED_DATA`` (feed more bytes) and ``END`` (the
stream has ended and everything was returned).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ._errors import RemoteProtocolError

__all__ = [
    "Sentinel",
    "NEED_DATA",
    "END",
    "ServerSentEvent",
    "Comment",
    "SSEField",
    "JSONValue",
    "HeaderValue",
    "EventStreamMessage",
    "WireEvent",
]


class Sentinel(enum.Enum):
    """Non-event answers of ``next_event()``."""

    NEED_DATA = "NEED_DATA"
    END = "END"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = Sentinel.NEED_DATA
END: Final = Sentinel.END

NeedData = Literal[Sentinel.NEED_DATA]
EndOfStream = Literal[Sentinel.END]


def _loads(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        excerpt = shown if len(shown) <= 80 else shown[:77] + "..."
        raise RemoteProtocolError(f"{what} is not valid JSON ({exc}): {excerpt!r}") from None


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched SSE message.

    ``id`` is the last event ID in force when the event was dispatched (what a browser reports as
    ``lastEventId``); ``retry`` is the reconnection time set by a ``retry:`` field of this event's
    block, if any.
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """Decode ``data`` as JSON; a ``RemoteProtocolError`` says so if it is not."""
        return _loads(self.data, f"SSE data of {self.event!r} event")


@dataclass(frozen=True, slots=True)
class Comment:
    """An SSE comment line (``: text``), returned only when the parser is asked for comments.
    Servers send them as keepalives; they never become messages."""

    text: str


@dataclass(frozen=True, slots=True)
class SSEField:
    """A line with a non-standard field name the parser was asked to surface
    (``extra_fields=("error",)``), e.g. llama.cpp's ``error: {...}`` line. Returned as soon as the
    line is complete; it does not affect the event being built."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class JSONValue:
    """One JSON value from an NDJSON line or a JSON-array element.

    ``line`` is the 1-based line number where the value starts; ``index`` its 0-based position
    in the stream.
    """

    value: Any
    line: int = 0
    index: int = 0


HeaderValue = bool | int | bytes | str
"""An AWS event-stream header value: bool, int (int8/16/32/64 and timestamps in ms), bytes
(byte arrays and UUIDs) or str."""


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One AWS event-stream frame (``application/vnd.amazon.eventstream``), CRCs already checked."""

    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    def header(self, name: str) -> HeaderValue | None:
        return self.headers.get(name)

    @property
    def message_type(self) -> str | None:
        value = self.headers.get(":message-type")
        return value if isinstance(value, str) else None

    @property
    def event_type(self) -> str | None:
        value = self.headers.get(":event-type")
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        return _loads(self.payload, f"event-stream payload of {self.event_type!r} frame")


WireEvent = ServerSentEvent | Comment | SSEField | JSONValue | EventStreamMessage
"""Anything a framing parser can return."""
