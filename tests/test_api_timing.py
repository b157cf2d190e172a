"""Metrics against servers with known delays, and every timeout the API layer raises, each
checked against its own setting with a margin (the machine is shared, so the margin is wide
upwards; a timeout can never fire early)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_api_helpers import MESSAGES, TRANSPORTS, slop_events, slop_response, words

from sansstream.api import Metrics, stream_chat
from sansstream.model import (
    FirstTokenTimeout,
    IdleTimeout,
    ReadTimeout,
    StreamTimeout,
    TextDelta,
    TotalTimeout,
)
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import Timeouts

MARGIN = 0.6  # seconds a loaded machine may add on top of a setting


def _run(server: FixtureServer, **kw: Any) -> Any:
    return stream_chat("slop", model="m", messages=MESSAGES, base_url=server.url + "/slop", **kw)


def _expect_timeout(
    kind: type[StreamTimeout], setting: float, server: FixtureServer, **kw: Any
) -> StreamTimeout:
    stream = _run(server, **kw)
    started = time.monotonic()
    with pytest.raises(StreamTimeout) as info:
        for _ in stream:
            pass
    waited = time.monotonic() - started
    exc = info.value
    assert type(exc) is kind, f"expected {kind.__name__}, got {exc!r}"
    assert exc.limit == setting
    assert exc.elapsed is not None
    assert setting - 0.01 <= exc.elapsed <= setting + MARGIN
    assert setting - 0.01 <= waited <= setting + MARGIN
    return exc


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_metrics_match_known_server_delays(transport: str) -> None:
    stall, gap, n = 0.2, 0.03, 6
    response = slop_response(words(n), usage=17, stall=stall, stall_at="after-headers", delay=gap)
    reported: list[Metrics] = []
    with FixtureServer(response) as server:
        stream = _run(server, transport=transport, timeout=5, on_metrics=reported.append)
        started = time.monotonic()
        stream.result()
        wall = time.monotonic() - started
    m = stream.metrics
    assert reported == [m]  # once, at the end, the final numbers
    assert m.finished
    assert m.time_to_first_byte is not None
    assert m.time_to_first_token is not None
    assert m.time_to_first_event is not None
    assert m.duration is not None
    assert m.time_to_first_byte < stall  # the headers come before the stall
    assert stall <= m.time_to_first_event <= m.time_to_first_token <= stall + MARGIN
    # the first text follows the start event by one gap
    assert m.time_to_first_token - m.time_to_first_event >= gap * 0.8
    least = stall + (n + 2) * gap  # start, n texts, usage, done: n + 2 gaps
    assert least <= m.duration <= least + MARGIN
    assert m.duration <= wall
    assert m.chunks == n + 3
    assert m.content_chunks == n
    assert m.max_gap is not None
    assert m.mean_gap is not None
    assert gap * 0.8 <= m.mean_gap <= m.max_gap
    assert m.output_tokens == 17
    assert m.output_tokens_reported
    assert m.tokens_per_second is not None
    assert m.tokens_per_second == pytest.approx(17 / (m.duration - m.time_to_first_token))
    assert m.bytes_received == len(b"".join(response.slices()))
    assert m.attempts == 1


def test_metrics_are_live_while_streaming() -> None:
    with FixtureServer(slop_response(words(3), delay=0.05)) as server:
        stream = _run(server, timeout=5)
        durations = []
        for _ in stream:
            durations.append(stream.metrics.duration)
        assert not any(d is None for d in durations)
        assert durations == sorted(durations)
        assert stream.metrics.finished


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_first_token_timeout(transport: str) -> None:
    # a start event arrives at once (not a token), then nothing
    response = FixtureResponse(body=slop_events(["late"]), stall=10.0, stall_at=len(slop_events([])[0]))
    with FixtureServer(response) as server:
        _expect_timeout(
            FirstTokenTimeout,
            0.3,
            server,
            transport=transport,
            timeout=Timeouts(first_token=0.3, idle=None),
        )


def test_first_token_timeout_while_waiting_for_headers() -> None:
    response = FixtureResponse(body=slop_events(["late"]), stall=10.0, stall_at="before-headers")
    with FixtureServer(response) as server:
        _expect_timeout(FirstTokenTimeout, 0.3, server, timeout=Timeouts(first_byte=20, first_token=0.3))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_idle_timeout_with_a_keepalive_only_server(transport: str) -> None:
    response = FixtureResponse(
        body=slop_events(["never"]),
        stall=10.0,
        stall_at="after-headers",
        keepalive=b": keepalive\n\n",
        keepalive_every=0.03,
    )
    with FixtureServer(response) as server:
        stream = _run(server, transport=transport, timeout=Timeouts(idle=0.3))
        started = time.monotonic()
        with pytest.raises(IdleTimeout) as info:
            list(stream)
        waited = time.monotonic() - started
    assert info.value.limit == 0.3
    assert 0.29 <= waited <= 0.3 + MARGIN
    assert stream.metrics.keepalives >= 3  # keepalives arrived, and did not count as progress
    assert stream.metrics.chunks == 0


def test_chunks_reset_the_idle_timer() -> None:
    # 8 events 0.06 s apart take 0.42 s in all, beyond the 0.2 s idle limit
    with FixtureServer(slop_response(words(6), delay=0.06)) as server:
        result = _run(server, timeout=Timeouts(idle=0.2)).result()
    assert result.text == "".join(words(6))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_total_timeout(transport: str) -> None:
    with FixtureServer(slop_response(words(40), delay=0.05)) as server:
        texts: list[str] = []
        limits = Timeouts(total=0.4, idle=None)
        stream = _run(server, transport=transport, timeout=limits, on_chunk=lambda c: texts.append(c.type))
        started = time.monotonic()
        with pytest.raises(TotalTimeout) as info:
            for _ in stream:
                pass
        waited = time.monotonic() - started
    assert info.value.limit == 0.4
    assert 0.39 <= waited <= 0.4 + MARGIN
    assert 0 < texts.count("content") < 40  # some text arrived before the deadline


def test_read_timeout() -> None:
    response = FixtureResponse(body=slop_events(["late"]), stall=10.0, stall_at="after-headers")
    with FixtureServer(response) as server:
        _expect_timeout(ReadTimeout, 0.3, server, timeout=Timeouts(read=0.3, idle=None))


def test_a_number_means_connect_first_byte_and_idle() -> None:
    response = FixtureResponse(body=slop_events(["late"]), stall=10.0, stall_at="after-headers")
    with FixtureServer(response) as server:
        _expect_timeout(IdleTimeout, 0.3, server, timeout=0.3)


def test_no_timeout_error_when_the_stream_is_fast() -> None:
    with FixtureServer(slop_response(["a", "b"])) as server:
        chunks = list(_run(server, timeout=Timeouts(first_token=2, idle=2, read=2, total=3)))
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["a", "b"]


def test_raw_events_idle_timeout_counts_comments_as_keepalives() -> None:
    response = FixtureResponse(
        body=slop_events(["never"]),
        stall=10.0,
        stall_at="after-headers",
        keepalive=b": keepalive\n\n",
        keepalive_every=0.03,
    )
    with FixtureServer(response) as server:
        stream = _run(server, timeout=Timeouts(idle=0.3))
        seen: list[object] = []
        started = time.monotonic()
        with pytest.raises(IdleTimeout):
            seen.extend(stream.raw_events())
        waited = time.monotonic() - started
    assert 0.29 <= waited <= 0.3 + MARGIN
    assert len(seen) >= 3  # the comments themselves were delivered as wire events
    assert stream.metrics.keepalives == len(seen)
