"""connect_sse against real loopback servers (FixtureServer on 127.0.0.1): resumption with
Last-Event-ID over both transports, retry: timing, 204, statuses, bounded attempts, idle
timeouts and cancellation from another thread; plus the pure reconnection arithmetic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sansstream.api import Backoff, EventSource, ReconnectPolicy, connect_sse, reconnect_delay
from sansstream.model import (
    ConfigurationError,
    HTTPStatusError,
    ServerSentEvent,
    TotalTimeout,
    TransportError,
    UnexpectedContentTypeError,
)
from sansstream.testing import FixtureResponse, FixtureServer, ReceivedRequest
from sansstream.transports import Timeouts

TRANSPORTS = ["requests", "h11"]
FAST = ReconnectPolicy(initial_delay=0.01, max_delay=0.05, jitter=0.0, max_attempts=4)


def sse_event(i: int) -> bytes:
    return b"id: %d\ndata: event %d\ndata: line two\n\n" % (i, i)


class ResumingServer:
    """Serves events 1..total, ``per_connection`` per connection, resuming after the
    ``Last-Event-ID`` it receives, then dropping the connection as ``drop`` says; 204 when done.
    Records every request with the time it arrived."""

    def __init__(self, total: int, per_connection: int, drop: str, retry_ms: int | None = 10) -> None:
        self.total = total
        self.per = per_connection
        self.drop = drop
        self.retry_ms = retry_ms
        self.seen: list[tuple[float, str | None]] = []
        self.server = FixtureServer(self.handle)

    def handle(self, request: ReceivedRequest) -> FixtureResponse:
        last = request.headers.get("last-event-id")
        self.seen.append((time.monotonic(), last))
        start = int(last) if last else 0
        if start >= self.total:
            return FixtureResponse(status=204, content_type=None, framing="content-length")
        body = b"retry: %d\n\n" % self.retry_ms if self.retry_ms is not None else b""
        end = min(start + self.per, self.total)
        body += b"".join(sse_event(i) for i in range(start + 1, end + 1))
        if self.drop == "clean close":
            return FixtureResponse(body=body, framing="close")
        # cut in the middle of the next event: the client must discard the fragment
        partial = sse_event(end + 1)[:12] if end < self.total else b": bye"
        if self.drop == "cut mid-event":
            return FixtureResponse(body=body + partial, cut_after=len(body) + len(partial))
        assert self.drop == "reset"
        return FixtureResponse(body=body + partial, cut_after=len(body) + len(partial), reset=True)

    def __enter__(self) -> ResumingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("drop", ["clean close", "cut mid-event", "reset"])
def test_every_event_exactly_once_across_reconnects(transport: str, drop: str) -> None:
    with ResumingServer(total=20, per_connection=3, drop=drop) as srv:
        source = connect_sse(srv.server.url_for("/events"), transport=transport, policy=FAST)
        with source:
            events = list(source)
        assert [e.id for e in events] == [str(i) for i in range(1, 21)]
        assert [e.data for e in events] == [f"event {i}\nline two" for i in range(1, 21)]
        assert all(e.event == "message" for e in events)
        # 7 connections deliver 3+3+3+3+3+3+2 events, the 8th gets 204
        assert [last for _, last in srv.seen] == [None, "3", "6", "9", "12", "15", "18", "20"]
        assert source.connections == 8
        assert source.last_event_id == "20"
        assert source.retry == 10
        assert source.closed


def test_initial_last_event_id_and_headers_are_sent() -> None:
    with ResumingServer(total=5, per_connection=10, drop="clean close") as srv:
        events = list(
            connect_sse(
                srv.server.url_for("/e"),
                last_event_id="3",
                headers={
                    "Authorization": "Bearer t",
                    "accept": "text/event-stream; q=1",
                    "last-event-id": "x",
                },
                policy=FAST,
            )
        )
        assert [e.id for e in events] == ["4", "5"]
        first = srv.server.requests[0]
        assert first.headers.get("last-event-id") == "3"
        assert first.headers.get_list("accept") == ["text/event-stream; q=1"]  # the user's, once
        assert first.headers.get_list("last-event-id") == ["3"]
        assert first.headers.get("cache-control") == "no-cache"
        assert first.headers.get("authorization") == "Bearer t"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_id_only_block_moves_the_resume_point(transport: str) -> None:
    responses = [
        FixtureResponse(body=b"retry: 5\nid: 1\ndata: a\n\nid: 7\n\n", framing="close"),
        FixtureResponse(body=b"id: 8\ndata: b\n\n", framing="close"),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        events = list(connect_sse(server.url, transport=transport, policy=FAST))
        assert [(e.id, e.data) for e in events] == [("1", "a"), ("8", "b")]
        assert [r.headers.get("last-event-id") for r in server.requests] == [None, "7", "8"]


def test_non_ascii_id_is_sent_as_utf8() -> None:
    # requests (http.client) writes header text as Latin-1, so the UTF-8 bytes go out unchanged.
    # (The h11 transport currently writes header text as UTF-8, which would double-encode.)
    responses = [
        FixtureResponse(body="id: \u00e9\u20ac\ndata: a\n\n".encode(), framing="close"),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        events = list(connect_sse(server.url, transport="requests", policy=FAST))
        assert [e.id for e in events] == ["\u00e9\u20ac"]
        sent = server.requests[1].headers.get("last-event-id")
        assert sent is not None
        assert sent.encode("latin-1") == "\u00e9\u20ac".encode()


def test_post_with_body() -> None:
    responses = [
        FixtureResponse(body=b"data: x\n\n", framing="close"),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        events = list(connect_sse(server.url, method="POST", body='{"q": 1}', policy=FAST))
        assert [e.data for e in events] == ["x"]
        assert [(r.method, r.body) for r in server.requests] == [("POST", b'{"q": 1}')] * 2


def _gaps(retry_ms: int) -> list[float]:
    """Time from each connection's close to the next request, with ``retry: retry_ms``."""
    closed_at: list[float] = []

    def on_event_done() -> None:
        closed_at.append(time.monotonic())

    with ResumingServer(total=4, per_connection=1, drop="clean close", retry_ms=retry_ms) as srv:
        # the floor on server delays is lowered so that both settings are honoured as sent
        policy = ReconnectPolicy(initial_delay=5.0, jitter=0.0, max_attempts=3, min_server_delay=0.01)
        for _ in connect_sse(srv.server.url, policy=policy):
            on_event_done()  # the event arrives just before the server closes
        arrivals = [t for t, _ in srv.seen]
    return [b - a for a, b in zip(closed_at, arrivals[1:], strict=True)]


def test_retry_field_sets_the_wait() -> None:
    short, long = _gaps(30), _gaps(300)
    # never sooner than the server asked (a little slack for timer granularity) ...
    assert min(short) >= 0.028
    assert min(long) >= 0.29
    # ... and not much later (generous margin: the machine is shared)
    assert max(long) < 0.3 + 1.0
    # the setting, not the policy's 5 s initial delay, decides: the waits differ by about the
    # difference of the settings (the fixed overhead of reconnecting cancels out)
    mean_short, mean_long = sum(short) / len(short), sum(long) / len(long)
    assert mean_long - mean_short > 0.5 * (0.3 - 0.03)


def test_backoff_applies_when_the_server_sets_no_retry() -> None:
    with ResumingServer(total=2, per_connection=1, drop="clean close", retry_ms=None) as srv:
        started = time.monotonic()
        policy = ReconnectPolicy(initial_delay=0.15, jitter=0.0)
        assert len(list(connect_sse(srv.server.url, policy=policy))) == 2
        assert time.monotonic() - started >= 0.3  # two reconnections, 0.15 s each


def test_204_stops_at_once() -> None:
    with FixtureServer(FixtureResponse(status=204, content_type=None, framing="content-length")) as server:
        source = connect_sse(server.url, policy=FAST)
        assert list(source) == []
        time.sleep(0.05)
        assert len(server.requests) == 1
        assert source.closed
        assert list(source) == []


@pytest.mark.parametrize("status", [400, 401, 404])
def test_non_retryable_status_raises(status: int) -> None:
    error = FixtureResponse(
        body=b'{"error": {"message": "nope"}}', status=status, content_type="application/json"
    )
    with FixtureServer(error) as server:
        with pytest.raises(HTTPStatusError) as info:
            list(connect_sse(server.url, policy=FAST))
        assert info.value.status == status
        assert len(server.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retryable_status_is_retried(status: int) -> None:
    responses = [
        FixtureResponse(body=b"busy", status=status, content_type="text/plain"),
        FixtureResponse(body=b"id: 1\ndata: ok\n\n", framing="close"),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        assert [e.data for e in connect_sse(server.url, policy=FAST)] == ["ok"]
        assert len(server.requests) == 3


def test_retry_after_is_a_floor() -> None:
    responses = [
        FixtureResponse(
            body=b"slow down", status=429, content_type="text/plain", headers={"Retry-After": "1"}
        ),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        started = time.monotonic()
        assert list(connect_sse(server.url, policy=FAST)) == []
        assert time.monotonic() - started >= 0.95


def test_wrong_content_type_fails_without_reconnecting() -> None:
    with FixtureServer(FixtureResponse(body=b"<html>", content_type="text/html")) as server:
        with pytest.raises(UnexpectedContentTypeError):
            list(connect_sse(server.url, policy=FAST))
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        FixtureResponse(body=b": nothing\n\n", framing="close"),
        FixtureResponse(body=b"busy", status=503, content_type="text/plain"),
        FixtureResponse(body=b"data: partial", cut_after=8),
    ],
    ids=["empty streams", "503 forever", "cut before any event"],
)
def test_attempts_without_progress_are_bounded(response: FixtureResponse) -> None:
    with FixtureServer(response) as server:
        policy = ReconnectPolicy(initial_delay=0.01, jitter=0.0, max_attempts=3)
        with pytest.raises(TransportError, match="after 3 connection attempts in a row"):
            list(connect_sse(server.url, policy=policy))
        assert len(server.requests) == 3


def test_progress_resets_the_attempt_count() -> None:
    # every connection delivers one event and then drops: never "without progress"
    with ResumingServer(total=8, per_connection=1, drop="cut mid-event", retry_ms=1) as srv:
        policy = ReconnectPolicy(initial_delay=0.01, jitter=0.0, max_attempts=2)
        assert len(list(connect_sse(srv.server.url, policy=policy))) == 8


def test_connection_refused_is_bounded() -> None:
    with FixtureServer(FixtureResponse()) as server:
        url = server.url
    policy = ReconnectPolicy(initial_delay=0.01, jitter=0.0, max_attempts=2)
    with pytest.raises(TransportError, match="after 2 connection attempts") as info:
        list(connect_sse(url, policy=policy, transport="h11"))
    assert isinstance(info.value.__cause__, TransportError)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_idle_timeout_reconnects(transport: str) -> None:
    responses = [
        FixtureResponse(body=b"id: 1\ndata: a\n\n", stall=5.0, stall_at=len(b"id: 1\ndata: a\n\n")),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        started = time.monotonic()
        timeout = Timeouts(connect=2, first_byte=2, idle=0.3)
        events = list(connect_sse(server.url, transport=transport, timeout=timeout, policy=FAST))
        elapsed = time.monotonic() - started
        assert [e.data for e in events] == ["a"]
        assert [r.headers.get("last-event-id") for r in server.requests] == [None, "1"]
        assert 0.3 <= elapsed < 0.3 + 2.0


def _close_soon(source: EventSource, after: float) -> threading.Thread:
    def run() -> None:
        time.sleep(after)
        source.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_close_from_another_thread_during_a_read(transport: str) -> None:
    body = b"id: 1\ndata: a\n\n"
    with FixtureServer(FixtureResponse(body=body, stall=30.0, stall_at=len(body))) as server:
        source = connect_sse(server.url, transport=transport, policy=FAST)
        got: list[ServerSentEvent] = []
        started = time.monotonic()
        thread = _close_soon(source, 0.2)
        for event in source:
            got.append(event)
        thread.join()
        assert time.monotonic() - started < 2.0
        assert [e.data for e in got] == ["a"]
        assert source.closed
        assert list(source) == []


def test_close_from_another_thread_during_a_backoff_wait() -> None:
    with FixtureServer(FixtureResponse(body=b"busy", status=503, content_type="text/plain")) as server:
        source = connect_sse(server.url, policy=ReconnectPolicy(initial_delay=30.0, max_attempts=None))
        started = time.monotonic()
        thread = _close_soon(source, 0.2)
        assert list(source) == []
        thread.join()
        assert time.monotonic() - started < 2.0
        assert len(server.requests) == 1


def test_break_and_close_in_the_same_thread() -> None:
    with ResumingServer(total=50, per_connection=50, drop="clean close") as srv:
        source = connect_sse(srv.server.url, policy=FAST)
        for event in source:
            if event.id == "3":
                break
        source.close()
        source.close()
        assert source.closed
        assert source.last_event_id == "3"


def test_on_connect_sees_each_response_and_close_before_iterating() -> None:
    statuses: list[int] = []
    responses = [
        FixtureResponse(body=b"busy", status=503, content_type="text/plain"),
        FixtureResponse(body=b"data: a\n\n", framing="close"),
        FixtureResponse(status=204, content_type=None, framing="content-length"),
    ]
    with FixtureServer(responses) as server:
        source = connect_sse(server.url, policy=FAST, on_connect=lambda r: statuses.append(r.status))
        assert [e.data for e in source] == ["a"]
        assert statuses == [503, 200, 204]
        unused = connect_sse(server.url, policy=FAST)
        unused.close()
        assert list(unused) == []
        assert len(server.requests) == 3


def test_total_timeout_ends_the_stream() -> None:
    body = b"data: a\n\n"
    with FixtureServer(FixtureResponse(body=body, stall=30.0, stall_at=len(body))) as server:
        started = time.monotonic()
        got: list[str] = []
        source = connect_sse(server.url, timeout=Timeouts(connect=2, first_byte=2, total=0.3))
        got.append(next(source).data)
        with pytest.raises(TotalTimeout):
            next(source)
        assert got == ["a"]
        assert 0.29 <= time.monotonic() - started < 2.3


def test_bad_arguments() -> None:
    with pytest.raises(ConfigurationError):
        connect_sse("")
    with pytest.raises(ConfigurationError):
        connect_sse("http://127.0.0.1:1/", last_event_id="a\nb")
    with pytest.raises(ConfigurationError):
        connect_sse("http://127.0.0.1:1/", transport="carrier-pigeon")
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(max_attempts=0)
    with pytest.raises(ConfigurationError):
        ReconnectPolicy(jitter=2.0)


# -- the pure arithmetic ---------------------------------------------------------------------------


def test_reconnect_delay_rules() -> None:
    p = ReconnectPolicy(initial_delay=1.0, multiplier=2.0, max_delay=10.0, jitter=0.5)
    assert [reconnect_delay(p, k) for k in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert reconnect_delay(p, 0, rand=0.999) == pytest.approx(1.4995)  # jitter only lengthens
    assert reconnect_delay(p, 0, server_retry_ms=750) == 0.75
    assert reconnect_delay(p, 3, server_retry_ms=750) == 6.0
    assert reconnect_delay(p, 0, server_retry_ms=50_000) == 50.0  # the server's wish is kept...
    assert reconnect_delay(p, 0, server_retry_ms=60_001) == 60.0  # ...up to max_server_delay
    assert reconnect_delay(p, 0, server_retry_ms=10**5000) == 60.0  # no overflow
    assert reconnect_delay(p, 0, server_retry_ms=0) == 0.5  # the floor: retry: 0 cannot hammer
    assert reconnect_delay(p, 0, server_retry_ms=250) == 0.5
    assert reconnect_delay(p, 0, retry_after=7.0) == 7.0
    assert reconnect_delay(p, 0, retry_after=1e9) == 60.0  # Retry-After is clamped the same way
    assert reconnect_delay(p, 10_000) == 10.0  # no overflow
    assert reconnect_delay(ReconnectPolicy(initial_delay=0.0), 5) == 0.0
    loose = ReconnectPolicy(min_server_delay=0.0, max_server_delay=1e6, jitter=0.0)
    assert reconnect_delay(loose, 0, server_retry_ms=250) == 0.25


def test_backoff_counts_attempts_without_progress() -> None:
    rolls: Iterator[float] = iter([0.0] * 100)
    rand: Callable[[], float] = lambda: next(rolls)  # noqa: E731
    b = Backoff(ReconnectPolicy(initial_delay=1.0, max_attempts=3, random=rand))
    b.progress()
    assert b.attempt_ended() == 1.0  # a productive connection dropped: does not count
    assert b.failures == 0
    assert b.attempt_ended() == 1.0
    assert b.attempt_ended() == 2.0
    assert b.attempt_ended() is None  # third attempt in a row without an event
    assert b.exhausted()
    b.progress()
    assert b.failures == 0
    budget = Backoff(ReconnectPolicy(initial_delay=1.0, max_attempts=2, reset_after_progress=False))
    budget.attempt_ended()
    budget.progress()
    assert budget.attempt_ended() is not None  # productive: not counted
    assert budget.attempt_ended() is None  # the second failure in all
