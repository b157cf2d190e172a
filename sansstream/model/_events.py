"""Wire events: what the framing parsers return and the encoders accept.

The same classes travel in both directions (parser output, encoder input), so a round trip is a
plain equality check. Sentinels follow h11: ``NEED_DATA`` (feed more bytes) and ``END`` (the
stream has ended and everything was returned).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
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
    "NeedData",
    "EndOfStream",
    "loads_json",
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


# The scanner json.loads itself runs (the C one when CPython has it). json.loads(s) on a str is:
# skip leading whitespace, scan one value, skip trailing whitespace, refuse anything left. For
# text that starts and ends with its value (every data line servers send) that is one call of
# this scanner from 0 ending at len(s), without loads()'s checks and two regex matches.
_scan_once: Final[Callable[[str, int], tuple[Any, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads_json(text: str | bytes) -> Any:
    """``json.loads(text)``: the same value or the same error, quicker for the usual input.
    Anything but a str holding exactly one value (whitespace around it, a BOM, bytes, invalid
    JSON) goes to json.loads itself, which decides and words the error."""
    if type(text) is str:
        try:
            value, end = _scan_once(text, 0)
        except (StopIteration, ValueError, RecursionError):
            end = -1
        if end == len(text):
            return value
    return json.loads(text)


def _not_json(text: str | bytes, what: str, exc: Exception) -> RemoteProtocolError:
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    excerpt = shown if len(shown) <= 80 else shown[:77] + "..."
    return RemoteProtocolError(f"{what} is not valid JSON ({exc}): {excerpt!r}")


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
        try:
            return loads_json(self.data)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
            raise _not_json(self.data, f"SSE data of {self.event!r} event", exc) from None


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
        try:
            return loads_json(self.payload)
        except (ValueError, RecursionError) as exc:
            raise _not_json(self.payload, f"event-stream payload of {self.event_type!r} frame", exc) from None


WireEvent = ServerSentEvent | Comment | SSEField | JSONValue | EventStreamMessage
"""Anything a framing parser can return."""
