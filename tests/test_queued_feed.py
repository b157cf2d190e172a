"""``feed()`` of the queued parsers (AWS event-stream, JSON array) keeps the contract every parser's
``feed`` keeps: items completed before an error in the same call are returned, and the error is
raised by the next call; nothing completed is lost (issue 13: QueuedParser.feed dropped them)."""

from __future__ import annotations

import pytest

from sansstream.core import EventStreamParser, JSONArrayParser, encode_event_stream_message
from sansstream.model import LocalProtocolError, RemoteProtocolError


def _frame(payload: bytes) -> bytes:
    return encode_event_stream_message({":event-type": "chunk", ":message-type": "event"}, payload)


def test_event_stream_feed_returns_the_frames_before_a_bad_crc_then_raises() -> None:
    good = _frame(b'{"a":1}')
    bad = bytearray(_frame(b'{"b":2}'))
    bad[-1] ^= 0xFF  # break the message CRC
    parser = EventStreamParser()
    got = parser.feed(good + good + bytes(bad))
    assert [m.payload for m in got] == [b'{"a":1}', b'{"a":1}']
    with pytest.raises(RemoteProtocolError, match="CRC"):
        parser.feed(b"")
    with pytest.raises(LocalProtocolError):  # and the parser refuses further work
        parser.feed(b"")


def test_json_array_feed_returns_the_values_before_bad_json_then_raises() -> None:
    parser = JSONArrayParser()
    got = parser.feed(b'[{"a": 1}, {"b": 2}, nope]')
    assert [v.value for v in got] == [{"a": 1}, {"b": 2}]
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"")


def test_an_error_with_nothing_before_it_is_raised_at_once() -> None:
    bad = bytearray(_frame(b"{}"))
    bad[-1] ^= 0xFF
    with pytest.raises(RemoteProtocolError):
        EventStreamParser().feed(bytes(bad))
