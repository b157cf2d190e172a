"""Every timeout the transports own fires against a local server that stalls at the matching
point, within a small margin of its setting, and says which limit fired; ``close()`` from
another thread ends a blocked read at once. No traffic leaves 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from transport_support import ADAPTERS, make_transport, open_url, unaccepting_listener

from sansstream.model import ConnectTimeout, FirstByteTimeout, ReadTimeout, StreamCancelled, StreamTimeout
from sansstream.providers import HTTPRequest
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import Transport

LIMIT = 0.3
# The timeout must not fire early, and must fire soon after its limit: the margin allows for a
# loaded CI machine (2 cores shared by many jobs) without letting a hang pass.
MARGIN = 0.5
EVENT = b"data: tick\n\n"


@pytest.fixture(params=ADAPTERS)
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    t = make_transport(request.param)
    yield t
    t.close()


def assert_fired(exc: StreamTimeout, elapsed: float, kind: str) -> None:
    assert exc.kind == kind
    assert exc.limit == pytest.approx(LIMIT)
    assert LIMIT * 0.9 <= elapsed <= LIMIT + MARGIN, elapsed
    assert exc.elapsed is not None
    assert LIMIT * 0.9 <= exc.elapsed <= LIMIT + MARGIN
    text = str(exc)
    assert kind.replace("_", "-") in text
    assert f"{LIMIT:g}" in text  # the message names the limit…
    assert "retry" in text or "raise" in text  # …and what to do


def test_connect_timeout_full_accept_queue(transport: Transport) -> None:
    with unaccepting_listener() as port:
        request = HTTPRequest("GET", f"http://127.0.0.1:{port}/")
        started = time.monotonic()
        with pytest.raises(ConnectTimeout) as info:
            transport.open(request, connect_timeout=LIMIT, first_byte_timeout=10)
        assert_fired(info.value, time.monotonic() - started, "connect")


def test_connect_timeout_tls_handshake_never_answered(transport: Transport) -> None:
    # TCP connects, but the server never speaks TLS: the handshake is part of connecting
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        request = HTTPRequest("GET", f"https://127.0.0.1:{port}/")
        started = time.monotonic()
        with pytest.raises(ConnectTimeout) as info:
            transport.open(request, connect_timeout=LIMIT, first_byte_timeout=10)
        elapsed = time.monotonic() - started
        assert info.value.kind == "connect"
        assert LIMIT * 0.9 <= elapsed <= LIMIT + MARGIN
    finally:
        listener.close()


def test_first_byte_timeout_stall_before_headers(transport: Transport) -> None:
    with FixtureServer(FixtureResponse(body=EVENT, stall=5, stall_at="before-headers")) as server:
        request = HTTPRequest("GET", server.url)
        started = time.monotonic()
        with pytest.raises(FirstByteTimeout) as info:
            transport.open(request, connect_timeout=5, first_byte_timeout=LIMIT)
        assert_fired(info.value, time.monotonic() - started, "first_byte")


@pytest.mark.parametrize("stall_at", ["after-headers", len(EVENT)])
@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_read_timeout_stall_in_body(transport: Transport, stall_at: str | int, framing: str) -> None:
    response = FixtureResponse(body=EVENT * 3, stall=5, stall_at=stall_at, framing=framing)
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        if stall_at != "after-headers":
            assert r.read(5) == EVENT
        started = time.monotonic()
        with pytest.raises(ReadTimeout) as info:
            r.read(LIMIT)
        assert_fired(info.value, time.monotonic() - started, "read")
        # the response is over: the same error again, at once
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            r.read(LIMIT)
        assert time.monotonic() - started < LIMIT
        r.close()


def test_each_read_gets_its_own_timeout(transport: Transport) -> None:
    # slices every 0.15 s: a 0.3 s per-read limit never fires although the body takes longer
    response = FixtureResponse(body=[EVENT] * 5, delay=0.15)
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        got = b""
        while data := r.read(LIMIT):
            got += data
        r.close()
        assert got == EVENT * 5


def test_keepalives_keep_a_read_alive(transport: Transport) -> None:
    # comments every 0.1 s during a 1 s stall: bytes keep flowing, so no read times out
    response = FixtureResponse(body=EVENT * 2, stall=1.0, stall_at=len(EVENT), keepalive=b": ping\n\n")
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        got = b""
        while data := r.read(LIMIT):
            got += data
        r.close()
        assert got.startswith(EVENT)
        assert got.endswith(EVENT)
        assert got.count(b": ping\n\n") >= 5


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_close_from_another_thread_ends_a_blocked_read(transport: Transport, framing: str) -> None:
    response = FixtureResponse(body=EVENT * 2, stall=10, stall_at=len(EVENT), framing=framing)
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        assert r.read(5) == EVENT
        timer = threading.Timer(0.2, r.close)
        timer.start()
        started = time.monotonic()
        with pytest.raises(StreamCancelled):
            r.read(10)
        elapsed = time.monotonic() - started
        timer.join()
        assert 0.15 <= elapsed <= 0.2 + MARGIN
        assert server.client_disconnected.wait(2), "the server should see the client go away"
        with pytest.raises(StreamCancelled):
            r.read(1)
        r.close()  # twice is fine


def test_close_before_reading_releases_the_connection(transport: Transport) -> None:
    with FixtureServer(FixtureResponse(body=EVENT * 2, stall=10, stall_at=len(EVENT))) as server:
        r = open_url(transport, server.url)
        r.close()
        with pytest.raises(StreamCancelled):
            r.read(1)
        assert server.client_disconnected.wait(2)
