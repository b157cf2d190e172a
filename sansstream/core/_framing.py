"""Pick a framing parser by name, and the one driver loop over any byte iterable.

Providers declare their framing as a name (``"sse"``, ``"ndjson"``, ``"json-array"``,
``"eventstream"``); ``make_parser`` turns the name into a fresh parser and ``iter_events`` drives it
over slices of bytes. Options go to the parser's constructor. ``max_event_size`` is accepted by
every framing, so callers can bound memory without knowing the framing: it is passed on as
``max_line_size`` (NDJSON), ``max_element_size`` (JSON array) or ``max_message_size``
(event-stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final, cast

from ..model import LocalProtocolError, WireEvent
from ._base import FramingParser, drive
from ._eventstream import EventStreamParser
from ._jsonarray import JSONArrayParser
from ._ndjson import NDJSONParser
from ._sse import SSEParser

__all__ = ["make_parser", "iter_events", "FRAMINGS"]

FRAMINGS: Final = ("sse", "ndjson", "json-array", "eventstream")
"""The framing names ``make_parser`` knows (the values of ``sansstream.providers.Framing``)."""

_SIZE_OPTION: Final = {
    "ndjson": "max_line_size",
    "json-array": "max_element_size",
    "eventstream": "max_message_size",
}


def make_parser(framing: str, **opts: Any) -> FramingParser[WireEvent]:
    """A new parser for ``framing`` (one of ``FRAMINGS``), built with ``opts``.

    An unknown framing or an option the parser does not take raises ``LocalProtocolError``.
    """
    size_name = _SIZE_OPTION.get(framing)
    if size_name is not None and "max_event_size" in opts:
        if size_name in opts:
            raise LocalProtocolError(f"pass either max_event_size or {size_name}, not both")
        opts[size_name] = opts.pop("max_event_size")
    parser: object
    try:
        if framing == "sse":
            parser = SSEParser(**opts)
        elif framing == "ndjson":
            parser = NDJSONParser(**opts)
        elif framing == "json-array":
            parser = JSONArrayParser(**opts)
        elif framing == "eventstream":
            parser = EventStreamParser(**opts)
        else:
            raise LocalProtocolError(
                f"unknown framing {framing!r}; the known framings are: {', '.join(FRAMINGS)}"
            )
    except TypeError as exc:  # an option this parser does not accept
        raise LocalProtocolError(f"bad option for the {framing!r} framing parser: {exc}") from None
    # Each parser is a FramingParser of its own event type; ``feed`` returns a (invariant) list,
    # so the union type needs a cast even though every event is a WireEvent.
    return cast("FramingParser[WireEvent]", parser)


def iter_events(framing: str, chunks: Iterable[bytes], **opts: Any) -> Iterator[WireEvent]:
    """Parse ``chunks`` (slices of any size; their end is the end of the stream) with the
    ``framing`` parser; yields every wire event as soon as the bytes completing it arrived."""
    return drive(make_parser(framing, **opts), chunks)
