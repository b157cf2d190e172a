"""The loopback FixtureServer, checked from raw sockets (no transport of ours in between): exact
framing, routes, recorded requests, every fault it injects, disconnect detection and a clean
shutdown that leaves no thread or file descriptor behind — for the server and for the
transports driven through their failure paths."""

from __future__ import annotations

import gc
import gzip
import socket
import threading
import time
from typing import Any

import pytest
from transport_support import ADAPTERS, drain, live_threads, make_transport, open_fds, open_url

from sansstream.model import SansStreamError
from sansstream.testing import FixtureResponse, FixtureServer, ReceivedRequest


def raw_exchange(server: FixtureServer, request: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw request bytes and read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        while data := s.recv(65536):
            out += data
        return out


def get(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode()


def split_response(raw: bytes) -> tuple[str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def test_chunked_framing_one_chunk_per_slice() -> None:
    with FixtureServer(FixtureResponse(body=[b"hello ", b"world"], keep_alive=False)) as server:
        head, body = split_response(raw_exchange(server, get()))
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert "Transfer-Encoding: chunked" in head
    assert "Content-Type: text/event-stream" in head
    assert body == b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"


def test_content_length_and_close_framing() -> None:
    routes = {
        "/cl": FixtureResponse(body=[b"ab", b"cd"], framing="content-length", keep_alive=False),
        "/close": FixtureResponse(body=[b"ab", b"cd"], framing="close"),
    }
    with FixtureServer(routes=routes) as server:
        head, body = split_response(raw_exchange(server, get("/cl")))
        assert "Content-Length: 4" in head
        assert body == b"abcd"
        head, body = split_response(raw_exchange(server, get("/close")))
        assert "Content-Length" not in head
        assert "chunked" not in head
        assert "Connection: close" in head
        assert body == b"abcd"


def test_status_headers_and_text_body() -> None:
    response = FixtureResponse(
        body="caf\u00e9",
        status=429,
        headers=[("Retry-After", "3"), ("X-A", "1"), ("X-A", "2")],
        content_type="application/json",
        framing="content-length",
    )
    with FixtureServer(response) as server:
        head, body = split_response(raw_exchange(server, get()))
    assert head.startswith("HTTP/1.1 429 Too Many Requests")
    assert "Retry-After: 3\r\nX-A: 1\r\nX-A: 2" in head
    assert body == "caf\u00e9".encode()


def test_routes_sequences_handlers_and_404() -> None:
    def handler(request: ReceivedRequest) -> FixtureResponse:
        return FixtureResponse(body=f"you sent {request.body.decode()}", framing="close")

    routes: dict[str, Any] = {
        "/seq": [
            FixtureResponse(body=b"first", framing="close"),
            FixtureResponse(body=b"then", framing="close"),
        ],
        "/echo": handler,
    }
    with FixtureServer(routes=routes) as server:
        bodies = [split_response(raw_exchange(server, get("/seq?x=1")))[1] for _ in range(3)]
        assert bodies == [b"first", b"then", b"then"]
        post = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        assert split_response(raw_exchange(server, post))[1] == b"you sent hi"
        head, body = split_response(raw_exchange(server, get("/nope")))
        assert head.startswith("HTTP/1.1 404")
        assert b"no route" in body
        server.route("/nope", FixtureResponse(body=b"now there is", framing="close"))
        assert split_response(raw_exchange(server, get("/nope")))[1] == b"now there is"


def test_requests_are_recorded() -> None:
    with FixtureServer(FixtureResponse(body=b"ok", framing="close")) as server:
        post = (
            b"POST /v1/chat?stream=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
            b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
        )
        raw_exchange(server, post)
        (seen,) = server.wait_for_requests(1)
    assert seen.method == "POST"
    assert seen.target == "/v1/chat?stream=1"
    assert seen.path == "/v1/chat"
    assert seen.query == "stream=1"
    assert seen.headers["AUTHORIZATION"] == "Bearer k"
    assert seen.body == b'{"a":1}'
    assert seen.json() == {"a": 1}
    assert seen.connection == 0


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with FixtureServer(FixtureResponse(body=b"abc", framing="content-length")) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            for path in ("/1", "/2"):
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                reply = b""
                while not reply.endswith(b"\r\n\r\nabc"):
                    data = s.recv(65536)
                    assert data, "the server closed a keep-alive connection"
                    reply += data
        assert [r.path for r in server.wait_for_requests(2)] == ["/1", "/2"]
        assert server.connections == 1


def test_cut_after_n_body_bytes() -> None:
    response = FixtureResponse(body=b"0123456789" * 10, framing="content-length", cut_after=25)
    with FixtureServer(response) as server:
        head, body = split_response(raw_exchange(server, get()))
    assert "Content-Length: 100" in head  # declared in full…
    assert body == (b"0123456789" * 10)[:25]  # …but cut


def test_reset_sends_rst() -> None:
    with (
        FixtureServer(FixtureResponse(body=b"x" * 1000, cut_after=10, reset=True)) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as s,
    ):
        s.sendall(get())
        with pytest.raises(ConnectionResetError):  # noqa: PT012 - read until the RST
            while s.recv(65536):
                pass


def test_gzip_body() -> None:
    body = b"data: compressible\n\n" * 50
    with FixtureServer(FixtureResponse(body=[body[:300], body[300:]], gzip=True, framing="close")) as server:
        head, raw = split_response(raw_exchange(server, get()))
    assert "Content-Encoding: gzip" in head
    assert gzip.decompress(raw) == body


def test_drip_and_delay_pace_the_body() -> None:
    response = FixtureResponse(body=b"abcdefgh", drip=2, delay=0.05, framing="close")
    arrivals: list[tuple[float, bytes]] = []
    with (
        FixtureServer(response) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as s,
    ):
        s.sendall(get())
        while data := s.recv(65536):
            arrivals.append((time.monotonic(), data))
    body = b"".join(d for _, d in arrivals).partition(b"\r\n\r\n")[2]
    assert body == b"abcdefgh"
    assert arrivals[-1][0] - arrivals[0][0] >= 0.12  # three 50 ms pauses between four slices


def test_stall_before_headers_and_keepalives_during_a_stall() -> None:
    response = FixtureResponse(
        body=b"data: x\n\n",
        stall=0.4,
        stall_at="after-headers",
        keepalive=b": ka\n\n",
        keepalive_every=0.1,
        framing="close",
    )
    with FixtureServer(
        routes={
            "/before": FixtureResponse(body=b"late", stall=0.3, stall_at="before-headers", framing="close"),
            "/ka": response,
        }
    ) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(get("/before"))
            s.settimeout(0.15)
            with pytest.raises(TimeoutError):
                s.recv(10)  # nothing at all while stalled before the headers
            s.settimeout(5)
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        _, body = split_response(raw_exchange(server, get("/ka")))
    assert body.endswith(b"data: x\n\n")
    assert body.count(b": ka\n\n") >= 2


def test_client_disconnect_is_noticed_during_a_stall() -> None:
    with FixtureServer(FixtureResponse(body=b"a" * 10, stall=30, stall_at=5)) as server:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(get())
        assert s.recv(65536)
        assert not server.client_disconnected.is_set()
        s.close()
        assert server.client_disconnected.wait(2)
        assert server.disconnects == 1


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="framing"):
        FixtureResponse(framing="gzip")
    with pytest.raises(ValueError, match="keepalive"):
        FixtureResponse(keepalive=b": x\n\n", framing="content-length")
    with pytest.raises(ValueError, match="stall_at"):
        FixtureResponse(stall=1, stall_at="later")


def test_close_stops_stalled_handlers_and_leaves_nothing_behind() -> None:
    gc.collect()
    threads, fds = live_threads(), open_fds()
    server = FixtureServer(FixtureResponse(body=b"x" * 100, stall=60, stall_at=10))
    clients = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(get())
        assert s.recv(65536)
        clients.append(s)
    assert len(live_threads() - threads) >= 4  # accept loop + one per connection
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2, "close() must not wait for the 60 s stall"
    server.close()  # idempotent
    for s in clients:
        s.close()
    assert live_threads() - threads == set()
    # <=: descriptors other tests left may be collected meanwhile; ours must all be gone
    assert open_fds() <= fds


def test_transports_leak_no_threads_or_sockets() -> None:
    """Drive both adapters through success and every failure path, then count."""
    gc.collect()
    threads, fds = live_threads(), open_fds()
    routes = {
        "/ok": FixtureResponse(body=[b"data: 1\n\n", b"data: 2\n\n"]),
        "/gzip": FixtureResponse(body=b"data: z\n\n" * 20, gzip=True),
        "/stall": FixtureResponse(body=b"data: 1\n\n" * 2, stall=30, stall_at=9),
        "/cut": FixtureResponse(body=b"data: 1\n\n" * 20, cut_after=20, framing="content-length"),
        "/reset": FixtureResponse(body=b"data: 1\n\n" * 20, cut_after=20, reset=True),
        "/err": FixtureResponse(body=b'{"error": "no"}', status=500, content_type="application/json"),
        "/close": FixtureResponse(body=b"data: 1\n\n", framing="close"),
    }
    with FixtureServer(routes=routes) as server:
        for name in ADAPTERS:
            t = make_transport(name)
            for path in ("/ok", "/gzip", "/cut", "/reset", "/err", "/close", "/ok"):
                drain(open_url(t, server.url_for(path)))
            r = open_url(t, server.url_for("/stall"))  # read timeout
            with pytest.raises(SansStreamError):
                drain_or_raise(r, 0.1)
            r = open_url(t, server.url_for("/stall"))  # cancelled from another thread
            assert r.read(5)
            timer = threading.Timer(0.05, r.close)
            timer.start()
            with pytest.raises(SansStreamError):
                drain_or_raise(r, 5)
            timer.join()
            r = open_url(t, server.url_for("/stall"))  # abandoned: closed without reading
            r.close()
            t.close()
    gc.collect()
    assert live_threads() - threads == set()
    # <=: descriptors other tests left may be collected meanwhile; ours must all be gone
    assert open_fds() <= fds


def drain_or_raise(response: object, timeout: float) -> None:
    _, error = drain(response, timeout)  # type: ignore[arg-type]
    if error is not None:
        raise error


def test_bodiless_responses_and_head_requests() -> None:
    routes = {
        "/204": FixtureResponse(body=b"ignored", status=204),
        "/head": FixtureResponse(body=b"abcd", framing="content-length"),
    }
    with (
        FixtureServer(routes=routes) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as s,
    ):
        s.sendall(b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /head HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while reply.count(b"\r\n\r\n") < 2:
            data = s.recv(65536)
            assert data
            reply += data
        first, second, rest = reply.split(b"\r\n\r\n", 2)
    assert first.startswith(b"HTTP/1.1 204 No Content")
    assert b"chunked" not in first
    assert b"Content-Length: 4" in second
    assert rest == b""  # no body after a HEAD answer
