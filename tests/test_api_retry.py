"""Retry before the first chunk only: counted by a real server, with an injected sleep."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from test_api_helpers import MESSAGES, slop_events, slop_response

from sansstream.api import NO_RETRY, RetryPolicy, stream_chat
from sansstream.model import (
    ConfigurationError,
    HTTPStatusError,
    IncompleteStreamError,
    TextDelta,
    TransportError,
)
from sansstream.testing import FixtureResponse, FixtureServer


def _status(code: int, headers: dict[str, str] | None = None) -> FixtureResponse:
    return FixtureResponse(
        body=b'{"error": {"message": "try later"}}',
        status=code,
        headers=headers or {},
        content_type="application/json",
        framing="content-length",
    )


def _run(url: str, **kw: Any) -> Any:
    kw.setdefault("timeout", 5)
    return stream_chat("slop", model="m", messages=MESSAGES, base_url=url + "/slop", **kw)


def _policy(sleeps: list[float], **kw: Any) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps.append, random=lambda: 0.0, **kw)


def test_503_then_success_is_retried() -> None:
    sleeps: list[float] = []
    with FixtureServer(routes={"/slop": [_status(503), slop_response(["ok"])]}) as server:
        stream = _run(server.url, retry=_policy(sleeps, initial_delay=0.5))
        assert stream.result().text == "ok"
        assert len(server.requests) == 2
    assert sleeps == [0.5]
    m = stream.metrics
    assert m.attempts == 2
    assert m.bytes_received == len(b"".join(slop_events(["ok"])))  # the 503's body is not stream bytes
    assert m.time_to_first_byte is not None
    assert m.time_to_first_token is not None
    assert m.time_to_first_byte <= m.time_to_first_token


def test_retry_after_is_a_lower_bound() -> None:
    sleeps: list[float] = []
    routes = {"/slop": [_status(429, {"Retry-After": "2"}), slop_response(["ok"])]}
    with FixtureServer(routes=routes) as server:
        assert _run(server.url, retry=_policy(sleeps, initial_delay=0.1)).result().text == "ok"
    assert sleeps == [2.0]


def test_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    sleeps: list[float] = []
    routes = {"/slop": [_status(429, {"Retry-After": "3600"}), slop_response(["ok"])]}
    with FixtureServer(routes=routes) as server:
        with pytest.raises(HTTPStatusError) as info:
            _run(server.url, retry=_policy(sleeps)).result()
        assert len(server.requests) == 1
    assert info.value.retry_after == 3600
    assert sleeps == []


def test_attempts_are_bounded() -> None:
    sleeps: list[float] = []
    with FixtureServer(_status(502)) as server:
        with pytest.raises(HTTPStatusError) as info:
            _run(server.url, retry=_policy(sleeps, max_attempts=3, initial_delay=0.1)).result()
        assert len(server.requests) == 3
    assert info.value.status == 502
    assert sleeps == [0.1, 0.2]  # exponential backoff between the three attempts


def test_client_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    with FixtureServer(_status(400)) as server:
        with pytest.raises(HTTPStatusError):
            _run(server.url, retry=_policy(sleeps)).result()
        assert len(server.requests) == 1
    assert sleeps == []


def test_stream_that_ends_before_any_chunk_is_retried() -> None:
    sleeps: list[float] = []
    empty = FixtureResponse(body=slop_events(["x"]), cut_after=0, framing="close")
    with FixtureServer(routes={"/slop": [empty, slop_response(["ok"])]}) as server:
        assert _run(server.url, retry=_policy(sleeps)).result().text == "ok"
        assert len(server.requests) == 2


def test_an_error_after_the_first_chunk_is_not_retried() -> None:
    sleeps: list[float] = []
    events = slop_events(["partial ", "rest"])
    cut = FixtureResponse(body=events, cut_after=len(events[0]) + len(events[1]), framing="close")
    seen: list[str] = []
    with FixtureServer(routes={"/slop": [cut, slop_response(["never"])]}) as server:
        stream = _run(server.url, retry=_policy(sleeps))
        with pytest.raises(IncompleteStreamError) as info:
            seen.extend(c.text for c in stream if isinstance(c, TextDelta))
        assert len(server.requests) == 1
    assert seen == ["partial "]
    assert sleeps == []
    assert info.value.partial is not None
    assert info.value.partial.text == "partial "


def test_connection_refused_is_retried_then_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(TransportError):
        _run(f"http://127.0.0.1:{port}", retry=_policy(sleeps, max_attempts=2)).result()
    assert len(sleeps) == 1


def test_no_retry() -> None:
    with FixtureServer(_status(503)) as server:
        with pytest.raises(HTTPStatusError):
            _run(server.url, retry=NO_RETRY).result()
        with pytest.raises(HTTPStatusError):
            _run(server.url, retry=None).result()
        assert len(server.requests) == 2


def test_cancel_interrupts_the_backoff_wait() -> None:
    with FixtureServer(_status(503)) as server:
        stream = _run(server.url, retry=RetryPolicy(initial_delay=30, jitter=0))
        done = threading.Event()

        def consume() -> None:
            list(stream)
            done.set()

        thread = threading.Thread(target=consume)
        thread.start()
        server.wait_for_requests(1)
        time.sleep(0.05)
        stream.cancel()
        assert done.wait(2.0)  # not after the 30 s backoff
        thread.join()
        assert len(server.requests) == 1


def test_backoff_schedule() -> None:
    p = RetryPolicy(max_attempts=6, initial_delay=1, max_delay=5, jitter=0.5, random=lambda: 1.0)
    # the one jitter rule (shared with ReconnectPolicy): jitter only ever lengthens a wait
    assert [p.delay(k) for k in range(1, 6)] == [1.5, 3.0, 6.0, 7.5, 7.5]
    q = RetryPolicy(max_attempts=3, initial_delay=1, jitter=0.0)
    assert q.delay(1) == 1.0
    assert q.delay(2) == 2.0
    assert q.delay(3) is None  # no attempts left
    assert q.delay(1, retry_after=4.0) == 4.0
    assert q.delay(1, retry_after=q.max_retry_after + 1) is None
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)
