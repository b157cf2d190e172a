"""make_parser / iter_events: every framing by name, the shared max_event_size option, misuse."""

from __future__ import annotations

import pytest
from support import bytewise

from sansstream.core import encode_event_stream_message, iter_events, make_parser
from sansstream.model import (
    EventStreamMessage,
    EventTooLargeError,
    JSONValue,
    LocalProtocolError,
    ServerSentEvent,
)

SAMPLES = {
    "sse": (b"data: 1\n\ndata: 2\n\n", [ServerSentEvent("1"), ServerSentEvent("2")]),
    "ndjson": (b"1\n2\n", [JSONValue(1, 1, 0), JSONValue(2, 2, 1)]),
    "json-array": (b"[1,\n2]", [JSONValue(1, 1, 0), JSONValue(2, 2, 1)]),
    "eventstream": (
        encode_event_stream_message({"a": "b"}, b"1") * 2,
        [EventStreamMessage({"a": "b"}, b"1")] * 2,
    ),
}


@pytest.mark.parametrize("framing", list(SAMPLES))
def test_each_framing_by_name(framing: str) -> None:
    data, want = SAMPLES[framing]
    assert list(iter_events(framing, bytewise(data))) == want
    parser = make_parser(framing)
    got = parser.feed(data) + parser.feed(b"")
    assert got == want


@pytest.mark.parametrize("framing", list(SAMPLES))
def test_max_event_size_applies_to_every_framing(framing: str) -> None:
    big = {
        "sse": b"data: " + b"x" * 100 + b"\n\n",
        "ndjson": b'"' + b"x" * 100 + b'"\n',
        "json-array": b'["' + b"x" * 100 + b'"]',
        "eventstream": encode_event_stream_message({}, b"x" * 100),
    }[framing]
    assert len(list(iter_events(framing, [big], max_event_size=200))) == 1
    with pytest.raises(EventTooLargeError):
        list(iter_events(framing, [big], max_event_size=50))


def test_unknown_framing_and_bad_options() -> None:
    with pytest.raises(LocalProtocolError, match="unknown framing 'xml'"):
        make_parser("xml")
    with pytest.raises(LocalProtocolError, match="bad option"):
        make_parser("ndjson", max_event_sizes=3)
    with pytest.raises(LocalProtocolError, match="not both"):
        make_parser("ndjson", max_event_size=3, max_line_size=3)
