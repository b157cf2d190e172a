"""Proxies: the h11 adapter tunnels https through ``CONNECT`` and sends plain http in absolute
form, from an explicit ``proxy=`` or from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (as
requests does, checked side by side). The proxy is a small loopback tunnel written here."""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme
from transport_support import fetch, open_url

from sansstream.model import TransportError
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import H11Transport, RequestsTransport

BODY = b"".join(b"data: %d\n\n" % i for i in range(40))
PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)


class TunnelProxy:
    """A loopback ``CONNECT`` proxy: one thread per client, bytes piped both ways."""

    def __init__(self, *, require_auth: str | None = None) -> None:
        self.require_auth = require_auth
        self.connects: list[tuple[str, dict[str, str]]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._spawn(self._accept)

    def _spawn(self, target: object, *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(t)
        t.start()

    def _track(self, s: socket.socket) -> socket.socket:
        with self._lock:
            self._socks.append(s)
        return s

    def _accept(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if ready:
                client, _ = self._listener.accept()
                self._spawn(self._serve, self._track(client))

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                return
            head += data
        lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        self.connects.append((target, headers))
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if self.require_auth and headers.get("proxy-authorization") != self.require_auth:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        upstream = self._track(socket.create_connection((host, int(port)), timeout=5))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pair = {client: upstream, upstream: client}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(pair), [], [], 0.05)
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                pair[s].sendall(data)

    def close(self) -> None:
        self._stop.set()
        for t in list(self._threads):
            t.join(5)
        self._listener.close()
        for s in self._socks:
            s.close()


@pytest.fixture(autouse=True)
def no_ambient_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[FixtureServer, str]]:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with (
        ca.cert_pem.tempfile() as ca_file,
        FixtureServer(FixtureResponse(body=BODY), ssl_context=ctx) as server,
    ):
        yield server, ca_file


@pytest.fixture
def proxy() -> Iterator[TunnelProxy]:
    p = TunnelProxy()
    yield p
    p.close()


def test_https_through_a_connect_tunnel(tls: tuple[FixtureServer, str], proxy: TunnelProxy) -> None:
    server, ca_file = tls
    with H11Transport(verify=ca_file, proxy=proxy.url) as t:
        assert fetch(t, server.url) == BODY
        assert fetch(t, server.url) == BODY  # the tunnelled connection is pooled and reused
    assert [target for target, _ in proxy.connects] == [f"127.0.0.1:{server.port}"]
    assert proxy.connects[0][1]["host"] == f"127.0.0.1:{server.port}"


def test_plain_http_goes_to_the_proxy_in_absolute_form() -> None:
    with FixtureServer(FixtureResponse(body=BODY)) as forward_proxy:
        proxy_url = forward_proxy.url.replace("http://", "http://bob:s%40cret@")
        with H11Transport(proxy=proxy_url) as t:
            assert fetch(t, "http://api.example.invalid:8080/v1/chat?x=1") == BODY
        seen = forward_proxy.wait_for_requests(1)[0]
    assert seen.target == "http://api.example.invalid:8080/v1/chat?x=1"
    assert seen.headers["host"] == "api.example.invalid:8080"
    assert seen.headers["proxy-authorization"] == "Basic Ym9iOnNAY3JldA=="  # bob:s@cret


@pytest.mark.parametrize("adapter", ["h11", "requests"])
def test_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tls: tuple[FixtureServer, str], proxy: TunnelProxy, adapter: str
) -> None:
    server, ca_file = tls
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    t = H11Transport(verify=ca_file) if adapter == "h11" else RequestsTransport(verify=ca_file)
    with t:
        assert fetch(t, server.url) == BODY
    assert len(proxy.connects) == 1


@pytest.mark.parametrize("adapter", ["h11", "requests"])
def test_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch, tls: tuple[FixtureServer, str], proxy: TunnelProxy, adapter: str
) -> None:
    server, ca_file = tls
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    t = H11Transport(verify=ca_file) if adapter == "h11" else RequestsTransport(verify=ca_file)
    with t:
        assert fetch(t, server.url) == BODY
    assert proxy.connects == []


def test_proxy_none_connects_directly(
    monkeypatch: pytest.MonkeyPatch, tls: tuple[FixtureServer, str], proxy: TunnelProxy
) -> None:
    server, ca_file = tls
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with H11Transport(verify=ca_file, proxy=None) as t:
        assert fetch(t, server.url) == BODY
    assert proxy.connects == []


def test_proxy_authentication(tls: tuple[FixtureServer, str]) -> None:
    server, ca_file = tls
    p = TunnelProxy(require_auth="Basic dXNlcjpwYXNz")  # user:pass
    try:
        with H11Transport(verify=ca_file, proxy=p.url) as t, pytest.raises(TransportError) as info:
            open_url(t, server.url)
        assert "407" in str(info.value)
        assert "user:password" in str(info.value)
        with H11Transport(verify=ca_file, proxy=p.url.replace("http://", "http://user:pass@")) as t:
            assert fetch(t, server.url) == BODY
    finally:
        p.close()


def test_unreachable_proxy_is_a_clear_error(tls: tuple[FixtureServer, str]) -> None:
    server, ca_file = tls
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with (
        H11Transport(verify=ca_file, proxy=f"http://127.0.0.1:{port}") as t,
        pytest.raises(TransportError) as info,
    ):
        open_url(t, server.url)
    assert "proxy" in str(info.value)
