"""MetricsRecorder is pure arithmetic over the timestamps fed in: checked with made-up times."""

from __future__ import annotations

import pytest

from sansstream.api._metrics import MetricsRecorder, is_content_chunk
from sansstream.model import (
    Done,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ResponseStart,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)


def test_nothing_happened_yet() -> None:
    rec = MetricsRecorder()
    m = rec.snapshot()
    assert m.time_to_first_byte is None
    assert m.time_to_first_token is None
    assert m.duration is None
    assert m.chunks == 0
    assert m.max_gap is None
    assert m.tokens_per_second is None


def test_times_are_relative_to_start_and_live() -> None:
    rec = MetricsRecorder()
    rec.start(100.0)
    rec.attempt()
    rec.headers(100.1)
    rec.progress(100.2, bytes_received=10, wire_events=0, keepalives=0)
    rec.progress(100.25, bytes_received=30, wire_events=1, keepalives=1)
    rec.chunk(100.3, ResponseStart(id="r", model="m"))
    live = rec.snapshot(now=100.4)
    assert live.time_to_first_byte == pytest.approx(0.1)
    assert live.time_to_first_event == pytest.approx(0.25)
    assert live.time_to_first_token is None  # a start chunk is not a token
    assert live.duration == pytest.approx(0.4)
    assert not live.finished
    rec.chunk(100.5, TextDelta("Hel"))
    rec.chunk(100.9, TextDelta("lo"))
    rec.chunk(101.0, Finish(reason="stop"))
    rec.progress(101.0, bytes_received=200, wire_events=5, keepalives=1)
    rec.finish(101.1)
    m = rec.snapshot(now=999.0)  # ignored once finished
    assert m.finished
    assert m.time_to_first_token == pytest.approx(0.5)
    assert m.duration == pytest.approx(1.1)
    assert m.bytes_received == 200
    assert m.wire_events == 5
    assert m.keepalives == 1
    assert m.chunks == 4
    assert m.content_chunks == 2
    assert m.max_gap == pytest.approx(0.4)
    assert m.mean_gap == pytest.approx((101.0 - 100.3) / 3)
    assert m.output_tokens == 2
    assert not m.output_tokens_reported
    assert m.tokens_per_second == pytest.approx(2 / (101.1 - 100.5))


def test_reported_usage_wins_over_counted_chunks() -> None:
    rec = MetricsRecorder()
    rec.start(0.0)
    rec.chunk(1.0, TextDelta("a"))
    rec.chunk(2.0, TextDelta("b"))
    rec.chunk(2.5, Usage(input_tokens=3, output_tokens=40))
    rec.chunk(2.6, Usage(input_tokens=3, output_tokens=None))  # a null count does not erase it
    rec.finish(3.0)
    m = rec.snapshot()
    assert m.output_tokens == 40
    assert m.output_tokens_reported
    assert m.tokens_per_second == pytest.approx(40 / 2.0)


def test_retried_attempts_add_up() -> None:
    rec = MetricsRecorder()
    rec.start(0.0)
    rec.attempt()
    rec.headers(0.05)
    rec.progress(0.1, bytes_received=50, wire_events=2, keepalives=1)
    rec.attempt()
    rec.headers(0.4)
    rec.progress(0.5, bytes_received=20, wire_events=1, keepalives=0)
    m = rec.snapshot(now=1.0)
    assert m.attempts == 2
    assert m.bytes_received == 70
    assert m.wire_events == 3
    assert m.keepalives == 1
    # first byte / event are those of the response actually read, from the very start
    assert m.time_to_first_byte == pytest.approx(0.4)
    assert m.time_to_first_event == pytest.approx(0.5)


def test_single_chunk_has_no_gap_and_no_rate() -> None:
    rec = MetricsRecorder()
    rec.start(0.0)
    rec.chunk(1.0, TextDelta("x"))
    rec.finish(1.0)
    m = rec.snapshot()
    assert m.max_gap is None
    assert m.mean_gap is None
    assert m.tokens_per_second is None  # no time passed after the first token


@pytest.mark.parametrize(
    ("chunk", "content"),
    [
        (TextDelta("x"), True),
        (ReasoningDelta(text="t"), True),
        (RefusalDelta("no"), True),
        (ToolCallStart(index=0, id="c", name="f"), True),
        (ToolCallDelta(index=0, arguments="{"), True),
        (ToolCallEnd(index=0, id="c", name="f", arguments="{}", input={}), True),
        (ResponseStart(), False),
        (Usage(output_tokens=1), False),
        (Finish(reason="stop"), False),
        (Done(), False),
    ],
)
def test_content_chunks(chunk: object, content: bool) -> None:
    assert is_content_chunk(chunk) is content


def test_tool_call_counts_once_per_fragment_not_per_start() -> None:
    rec = MetricsRecorder()
    rec.start(0.0)
    rec.chunk(0.1, ToolCallStart(index=0, id="c", name="f"))
    rec.chunk(0.2, ToolCallDelta(index=0, arguments='{"a":'))
    rec.chunk(0.3, ToolCallDelta(index=0, arguments="1}"))
    rec.chunk(0.4, ToolCallEnd(index=0, id="c", name="f", arguments='{"a":1}', input={"a": 1}))
    m = rec.snapshot(now=0.5)
    assert m.time_to_first_token == pytest.approx(0.1)
    assert m.output_tokens == 3
