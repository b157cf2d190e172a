"""The raw-h11 adapter: ``socket`` + ``ssl`` + ``h11``, no other HTTP library underneath.

Strategy: h11 does the HTTP/1.1 bookkeeping (request framing, chunked / Content-Length /
close-delimited responses, whether a connection may be reused); this module owns the socket,
the clocks and the errors. Every wait is bounded by a deadline the caller chose: connect (TCP
connect plus TLS handshake), first byte (sending the request until the response headers — a
true deadline across every ``recv``, unlike per-``recv`` socket timeouts) and each
``read(timeout)``, which returns each slice as soon as ``recv`` returns it.

TLS: verification is on by default (``ssl.create_default_context()``, SNI from the URL host,
optional CA file via ``verify="/path/ca.pem"``, or your own ``ssl_context``); ALPN offers only
``http/1.1``.

Content decoding: gzip and deflate are decoded incrementally and bounded (see
``_http.ContentDecoder``): a decompression bomb is refused with ``RemoteProtocolError``.

Keep-alive: a small pool of idle connections keyed by (scheme, host, port). A connection goes
back to the pool only when its response was read to the end and h11 says both sides are done
(no ``Connection: close``, not close-delimited). Before reuse it is checked for an EOF the
server sent while it sat idle, and a request that fails on a reused connection before any
response byte arrived is retried once on a fresh one (the server closed it meanwhile).

Proxies: by default taken from the environment as requests does (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, honouring ``NO_PROXY``), or given as ``proxy="http://host:port"``,
or turned off with ``proxy=None``. Only ``http://`` proxies: https targets go through a
``CONNECT`` tunnel (TLS end to end with the target), http targets are sent to the proxy in
absolute form. Credentials in the proxy URL become ``Proxy-Authorization: Basic``.

Cancelling: ``close()`` from another thread shuts the socket down, which wakes a blocked
``read``; that read raises ``StreamCancelled``.
"""

from __future__ import annotations

import base64
import select
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import h11

from ..model import (
    ConfigurationError,
    ConnectTimeout,
    FirstByteTimeout,
    HTTPRequest,
    RemoteProtocolError,
    StreamCancelled,
    TransportError,
)
from ._base import AbortHandle, TransportResponse
from ._http import ContentDecoder, Headers, content_decoder, encode_header_value, read_timeout_error
from ._secrets import redact_url, scrub, secret_values

__all__ = ["H11Transport"]

# proxy_bypass_environment (NO_PROXY matching, as requests does) is public but missing from typeshed
_proxy_bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009

READ_SIZE = 64 * 1024
"""Bytes asked of one ``recv``: a cap on one slice, never a wait for that many."""

MAX_IDLE_PER_HOST = 4
"""Idle connections kept per (scheme, host, port): a script streams from a handful of hosts,
one or two requests at a time."""

USER_AGENT = "sansstream (h11)"

_Key = tuple[str, str, int, str]
"""(scheme, host, port, proxy URL or ""): connections are only shared within one route."""


class _Stale(Exception):
    """A reused connection turned out to be closed before it carried any response byte."""


class _Conn:
    """One socket and its h11 state machine."""

    def __init__(self, sock: socket.socket, key: _Key) -> None:
        self.sock = sock
        self.key = key
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def idle_and_alive(self) -> bool:
        """True when nothing is readable on an idle connection: readable means the server
        closed it (EOF) or sent garbage, either way it cannot carry a new request."""
        try:
            ready, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        if not ready:
            return True
        if not isinstance(self.sock, ssl.SSLSocket):
            return False
        # TLS: the readable bytes may be a session ticket, not data; only a read can tell
        try:
            self.sock.setblocking(False)
            try:
                self.sock.recv(1)
            finally:
                self.sock.setblocking(True)
        except ssl.SSLWantReadError:
            return True  # TLS housekeeping only: the connection is fine
        except OSError:
            return False
        return False  # EOF, or bytes nobody asked for: unusable either way


class H11Transport:
    """Open streaming requests over raw sockets with h11.

    ``ssl_context``: used for https as given. Else ``verify``: ``True`` (system CAs), a CA file
    path, or ``False`` (no verification; local testing only). ``pool``: keep idle connections
    for reuse (keep-alive). ``proxy``: ``"env"`` (default: ``HTTP(S)_PROXY`` / ``NO_PROXY``), an
    ``http://[user:password@]host:port`` URL, or ``None`` for direct connections.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        verify: bool | str = True,
        pool: bool = True,
        proxy: str | None = "env",
    ) -> None:
        self.proxy = proxy
        self._ssl_context = ssl_context
        self.verify = verify
        self.pool = pool
        self._idle: dict[_Key, list[_Conn]] = {}
        self._lock = threading.Lock()
        self._closed = False

    supports_abort = True

    def __enter__(self) -> H11Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- pooling

    def _take_idle(self, key: _Key) -> _Conn | None:
        while True:
            with self._lock:
                conns = self._idle.get(key)
                if not conns:
                    return None
                conn = conns.pop()
            if conn.idle_and_alive():
                return conn
            conn.close()

    def _give_back(self, conn: _Conn) -> None:
        h = conn.h11
        if self.pool and not self._closed and h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            with self._lock:
                conns = self._idle.setdefault(conn.key, [])
                if len(conns) < MAX_IDLE_PER_HOST:
                    conns.append(conn)
                    return
        conn.close()

    def idle_connections(self) -> int:
        """How many idle connections the pool holds (for tests and diagnostics)."""
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        """Close every idle connection; open responses stay usable until closed."""
        with self._lock:
            self._closed = True
            conns = [c for v in self._idle.values() for c in v]
            self._idle.clear()
        for conn in conns:
            conn.close()

    # ---------------------------------------------------------------------------- connecting

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is not None:
            return self._ssl_context
        if self.verify is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif isinstance(self.verify, str):
            ctx = ssl.create_default_context(cafile=self.verify)
        else:
            ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["http/1.1"])
        self._ssl_context = ctx  # built once: loading the CA store is not free
        return ctx

    def _proxy_for(self, scheme: str, host: str) -> str:
        """The proxy URL to use for this target, or ``""`` for a direct connection."""
        if self.proxy is None:
            return ""
        if self.proxy != "env":
            return self.proxy
        proxies = urllib.request.getproxies_environment()
        if not proxies or _proxy_bypass(host, proxies):
            return ""
        return proxies.get(scheme) or proxies.get("all") or ""

    def _connect(self, key: _Key, url: str, timeout: float | None, abort: AbortHandle | None = None) -> _Conn:
        scheme, host, port, proxy = key
        started = time.monotonic()
        dial_host, dial_port = host, port
        if proxy:
            proxy_parts = _parse_proxy(proxy)
            dial_host, dial_port = proxy_parts[0], proxy_parts[1]

        def timed_out() -> ConnectTimeout:
            elapsed = time.monotonic() - started
            via = f" through the proxy {dial_host}:{dial_port}" if proxy else ""
            return ConnectTimeout(
                f"connect timeout: could not connect to {host}:{port}{via} within {timeout:g}s "
                f"(gave up after {elapsed:.3f}s); check the host and network, or raise Timeouts.connect"
                if timeout is not None
                else f"connect timeout after {elapsed:.3f}s",
                limit=timeout,
                elapsed=elapsed,
            )

        try:
            sock = _dial(dial_host, dial_port, started, timeout, abort)
        except TimeoutError:
            if abort is not None and abort.aborted:
                raise StreamCancelled("the request was cancelled while connecting") from None
            raise timed_out() from None
        except OSError as exc:
            if abort is not None and abort.aborted:
                raise StreamCancelled("the request was cancelled while connecting") from None
            if proxy:
                raise TransportError(
                    f"could not connect to the proxy {dial_host}:{dial_port} for {url}: {exc}; check "
                    "HTTP(S)_PROXY (or pass proxy=None to connect directly)"
                ) from None
            raise TransportError(
                f"could not connect to {host}:{port} ({url}): {exc}; check the URL and that the "
                "server is running, then retry"
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy and scheme == "https":
                try:
                    _tunnel(sock, host, port, auth=_parse_proxy(proxy)[2], started=started, timeout=timeout)
                except TimeoutError:
                    raise timed_out() from None
            if scheme == "https":
                if timeout is not None:
                    sock.settimeout(max(timeout - (time.monotonic() - started), 0.001))
                try:
                    tls = self._context().wrap_socket(
                        sock, server_hostname=host, do_handshake_on_connect=False
                    )
                    if abort is not None:
                        abort.detach(sock)
                        abort.attach(tls)  # the raw socket object gave its descriptor to tls
                    sock = tls
                    sock.do_handshake()
                except ssl.SSLCertVerificationError as exc:
                    raise TransportError(
                        f"TLS certificate verification failed for {host}:{port}: "
                        f"{exc.verify_message or exc}. Pass verify='/path/to/ca.pem' (or an "
                        "ssl_context) for a private CA; do not disable verification in production"
                    ) from None
                except TimeoutError:
                    raise timed_out() from None
                except (ssl.SSLError, OSError) as exc:
                    raise TransportError(
                        f"the TLS handshake with {host}:{port} failed: {exc}; check that the URL "
                        "really is https and the server speaks TLS, then retry"
                    ) from None
        except BaseException:
            sock.close()
            if abort is not None and abort.aborted:
                raise StreamCancelled("the request was cancelled while connecting") from None
            raise
        finally:
            if abort is not None:
                abort.detach(sock)
        return _Conn(sock, key)

    # ------------------------------------------------------------------------------- sending

    def open(
        self,
        request: HTTPRequest,
        *,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
        abort: AbortHandle | None = None,
    ) -> TransportResponse:
        shown = redact_url(request.url)
        if abort is not None and abort.aborted:
            raise StreamCancelled("the request was cancelled before it was sent")
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"cannot open {shown!r}: the h11 transport needs an http:// or https:// URL"
            )
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ConfigurationError(
                f"cannot open {shown!r}: the port is not a number; fix base_url"
            ) from None
        host = parts.hostname
        proxy = self._proxy_for(scheme, host)
        key: _Key = (scheme, host, port, proxy)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        extra: list[tuple[str, str]] = []
        if proxy and scheme == "http":
            # a plain-HTTP proxy gets the absolute URL (RFC 9112 §3.2.2) and our credentials
            target = f"http://{host_header}{target}"
            auth = _parse_proxy(proxy)[2]
            if auth:
                extra.append(("Proxy-Authorization", auth))

        # A request on a reused connection that the server had already closed is sent again on a
        # new one (only when no response byte came back); a one-shot iterable body cannot be
        # sent twice, so it always gets a fresh connection.
        replayable = request.body is None or isinstance(request.body, (bytes, bytearray, memoryview))
        for attempt in range(2):
            conn = self._take_idle(key) if self.pool and replayable and attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = self._connect(key, shown, connect_timeout, abort)
            if abort is not None:
                abort.attach(conn.sock)
            try:
                response = self._exchange(
                    conn, request, target, host_header, first_byte_timeout, reused, extra
                )
            except _Stale:
                conn.close()
                continue
            except BaseException as exc:
                conn.close()
                if abort is not None and abort.aborted and not isinstance(exc, StreamCancelled):
                    raise StreamCancelled(
                        "the request was cancelled while waiting for the response"
                    ) from None
                raise
            finally:
                if abort is not None:
                    abort.detach(conn.sock)
            if abort is not None and abort.aborted:
                response.close()
                raise StreamCancelled("the request was cancelled while waiting for the response")
            return response
        raise TransportError(f"could not send the request to {shown}; retry")  # pragma: no cover

    def _exchange(  # noqa: PLR0917 - private, called from one place
        self,
        conn: _Conn,
        request: HTTPRequest,
        target: str,
        host_header: str,
        first_byte_timeout: float | None,
        reused: bool,
        extra_headers: list[tuple[str, str]],
    ) -> _H11Response:
        shown = redact_url(request.url)
        started = time.monotonic()
        deadline = None if first_byte_timeout is None else started + first_byte_timeout
        body: object = request.body
        names = {k.lower() for k in request.headers}
        headers: list[tuple[str, str]] = []
        if "host" not in names:
            headers.append(("Host", host_header))
        if "user-agent" not in names:
            headers.append(("User-Agent", USER_AGENT))
        if "accept-encoding" not in names:
            headers.append(("Accept-Encoding", "gzip, deflate"))
        headers.extend(extra_headers)
        # framing headers are ours to choose: they must match how the body is sent
        framing = ("content-length", "transfer-encoding")
        headers.extend((k, v) for k, v in request.headers.items() if k.lower() not in framing)
        chunks: Iterable[bytes] | None = None
        if body is None:
            if request.method.upper() in ("POST", "PUT", "PATCH"):
                headers.append(("Content-Length", "0"))
        elif isinstance(body, (bytes, bytearray, memoryview)):
            headers.append(("Content-Length", str(len(body))))
            chunks = [bytes(body)]
        elif isinstance(body, Iterable):
            headers.append(("Transfer-Encoding", "chunked"))
            chunks = body
        else:
            raise ConfigurationError(
                f"request body must be bytes or an iterable of bytes, not {type(body).__name__}"
            )

        def first_byte_timed_out() -> FirstByteTimeout:
            elapsed = time.monotonic() - started
            return FirstByteTimeout(
                f"first-byte timeout: no response headers from {shown} within "
                f"{first_byte_timeout}s (waited {elapsed:.3f}s); the server accepted the request "
                "but did not answer — retry, or raise Timeouts.first_byte",
                limit=first_byte_timeout,
                elapsed=elapsed,
            )

        def remaining() -> float | None:
            if deadline is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise first_byte_timed_out()
            return left

        h = conn.h11
        received_any = False  # response bytes (not EOF) seen: a stale connection has none
        saw_eof = False
        try:
            try:
                out = h.send(
                    h11.Request(
                        method=request.method.upper(),
                        target=target,
                        headers=[(k.encode("ascii", "replace"), encode_header_value(v)) for k, v in headers],
                    )
                )
                wire = [out or b""]
                for piece in chunks or ():
                    if piece:
                        wire.append(h.send(h11.Data(data=bytes(piece))) or b"")
                        if len(wire) > 16 or sum(map(len, wire)) > READ_SIZE:
                            conn.sock.settimeout(remaining())
                            conn.sock.sendall(b"".join(wire))
                            wire = []
                wire.append(h.send(h11.EndOfMessage()) or b"")
                conn.sock.settimeout(remaining())
                conn.sock.sendall(b"".join(wire))
            except h11.LocalProtocolError as exc:
                why = scrub(str(exc), secret_values(request.headers, request.url))
                raise ConfigurationError(
                    f"cannot send this request: {why}; "
                    "check the method, URL and header values (an API key with a stray newline?)"
                ) from None
            except TimeoutError:
                raise first_byte_timed_out() from None
            except OSError as exc:
                if reused:
                    raise _Stale from None
                raise TransportError(f"sending the request to {shown} failed: {exc}; retry") from None

            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    conn.sock.settimeout(remaining())
                    try:
                        data = conn.sock.recv(READ_SIZE)
                    except TimeoutError:
                        raise first_byte_timed_out() from None
                    except OSError as exc:
                        if reused and not received_any:
                            raise _Stale from None
                        raise TransportError(
                            f"the connection to {shown} failed before the response headers: {exc}; retry"
                        ) from None
                    if not data:
                        if reused and not received_any:
                            raise _Stale
                        saw_eof = True
                    received_any = received_any or bool(data)
                    h.receive_data(data)
                elif isinstance(event, h11.InformationalResponse):
                    continue  # 100 Continue / 103 Early Hints: the real response follows
                elif isinstance(event, h11.Response):
                    break
                else:  # ConnectionClosed: the server hung up without answering
                    raise TransportError(
                        f"the server at {shown} closed the connection without a response; retry"
                    )
        except h11.RemoteProtocolError as exc:
            if saw_eof:
                raise TransportError(
                    f"the server at {shown} closed the connection before sending response "
                    f"headers ({exc}); retry"
                ) from None
            raise RemoteProtocolError(
                f"invalid HTTP response from {shown}: {exc}; the server (or a proxy in between) "
                "does not speak HTTP/1.1 here — check the URL and port"
            ) from None

        headers_out = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers])
        return _H11Response(self, conn, event.status_code, headers_out, shown)


def _dial(
    host: str, port: int, started: float, timeout: float | None, abort: AbortHandle | None = None
) -> socket.socket:
    """``socket.create_connection`` with one deadline for all the host's addresses (the stdlib
    gives each address the whole timeout). Name resolution itself cannot be bounded here."""
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        if abort is not None:
            abort.attach(sock)  # abort() shuts it down: a pending connect fails at once
        try:
            if abort is not None and abort.aborted:  # shutdown() cannot stop an unstarted connect
                raise ConnectionAbortedError("the request was aborted")
            if timeout is not None:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
            sock.connect(address)
        except TimeoutError:
            if abort is not None:
                abort.detach(sock)
            sock.close()
            raise
        except OSError as exc:
            if abort is not None:
                abort.detach(sock)
            sock.close()
            if abort is not None and abort.aborted:
                raise
            last = exc
            continue
        return sock  # still attached: the caller detaches it once the connection is made
    raise last if last is not None else OSError(f"no address found for {host}")


def _parse_proxy(proxy: str) -> tuple[str, int, str]:
    """``(host, port, Proxy-Authorization value or "")`` of an ``http://`` proxy URL."""
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ConfigurationError(
            f"unsupported proxy {redact_url(proxy)!r}: the h11 transport speaks to http:// proxies only "
            "(https targets are tunnelled with CONNECT); use the requests transport otherwise"
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigurationError(
            f"the proxy URL {redact_url(proxy)!r} has a bad port; fix HTTP(S)_PROXY"
        ) from None
    auth = ""
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return parts.hostname, port, auth


def _tunnel(
    sock: socket.socket, host: str, port: int, *, auth: str, started: float, timeout: float | None
) -> None:
    """Ask the proxy on ``sock`` for a ``CONNECT`` tunnel to ``host:port``, within the connect
    deadline. Raises ``TimeoutError`` (the caller names it) or ``TransportError``."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    headers = [("Host", authority)] + ([("Proxy-Authorization", auth)] if auth else [])
    h = h11.Connection(h11.CLIENT)
    request = h11.Request(method="CONNECT", target=authority, headers=headers)
    wire = (h.send(request) or b"") + (h.send(h11.EndOfMessage()) or b"")

    def left() -> float | None:
        if timeout is None:
            return None
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise TimeoutError
        return remaining

    try:
        sock.settimeout(left())
        sock.sendall(wire)
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                sock.settimeout(left())
                h.receive_data(sock.recv(READ_SIZE))
            elif isinstance(event, h11.Response):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise TransportError(
                    f"the proxy closed the connection instead of opening a tunnel to {authority}"
                )
    except h11.RemoteProtocolError as exc:
        raise TransportError(f"the proxy sent an invalid answer to CONNECT {authority}: {exc}") from None
    except TimeoutError:
        raise
    except OSError as exc:
        raise TransportError(
            f"the proxy connection failed while opening a tunnel to {authority}: {exc}"
        ) from None
    if not 200 <= event.status_code < 300:
        hint = (
            "put user:password in the proxy URL"
            if event.status_code == 407
            else "check the proxy settings (HTTP(S)_PROXY, NO_PROXY) or pass proxy=None"
        )
        raise TransportError(
            f"the proxy refused to open a tunnel to {authority}: HTTP {event.status_code}; {hint}"
        )
    if h.trailing_data[0]:
        raise TransportError(f"the proxy sent unexpected bytes after accepting CONNECT {authority}")


class _H11Response:
    """A ``TransportResponse`` reading the body of one h11 exchange."""

    def __init__(self, transport: H11Transport, conn: _Conn, status: int, headers: Headers, url: str) -> None:
        self._transport = transport
        self._conn = conn
        self.status: int = status
        self.headers: Mapping[str, str] = headers
        self.url: str = url
        self._decoder: ContentDecoder | None = None
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False
        self._eof = False
        self._done_with_conn = False
        self._error: BaseException | None = None  # after a failure, every read re-raises it
        try:
            self._decoder = content_decoder(headers.get("content-encoding"))
        except RemoteProtocolError:
            self._finish(reuse=False)
            raise

    def read(self, timeout: float | None = None) -> bytes:
        with self._lock:
            if self._eof:
                return b""
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StreamCancelled("the response was closed; nothing more can be read from it")
            self._reading = True
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        h = self._conn.h11
        sock = self._conn.sock
        saw_eof = False
        try:
            while True:
                try:
                    event: Any = h.next_event()
                except h11.RemoteProtocolError as exc:
                    if self._closed:
                        raise self._cancelled() from None
                    if saw_eof:
                        raise TransportError(
                            f"the server closed the connection before the body from {self.url} was "
                            f"complete ({exc}); retry the request"
                        ) from None
                    raise RemoteProtocolError(
                        f"invalid HTTP framing in the body from {self.url}: {exc}; the server sent a "
                        "broken response — retry, and report it to the server's operator if it persists"
                    ) from None
                if event is h11.NEED_DATA:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise read_timeout_error(timeout, time.monotonic() - started)
                    try:
                        sock.settimeout(left)
                        data = sock.recv(READ_SIZE)
                    except TimeoutError:
                        if self._closed:
                            raise self._cancelled() from None
                        raise read_timeout_error(timeout, time.monotonic() - started) from None
                    except OSError as exc:
                        if self._closed:
                            raise self._cancelled() from None
                        raise TransportError(
                            f"the connection failed while reading the body from {self.url} "
                            f"({'reset by the server' if isinstance(exc, ConnectionResetError) else exc}); "
                            "retry the request"
                        ) from None
                    if self._closed:
                        raise self._cancelled()
                    saw_eof = not data
                    h.receive_data(data)
                elif isinstance(event, h11.Data):
                    raw = bytes(event.data)
                    out = self._decoder.decode(raw) if self._decoder is not None else raw
                    if out:
                        return out
                elif isinstance(event, h11.EndOfMessage):
                    tail = self._decoder.flush() if self._decoder is not None else b""
                    self._eof = True
                    return tail
                else:  # ConnectionClosed before EndOfMessage cannot happen; be defensive
                    raise TransportError(
                        f"the connection closed while reading the body from {self.url}; retry the request"
                    )
        except BaseException as exc:
            with self._lock:
                self._closed = True  # an error ends the response
                if not isinstance(exc, StreamCancelled):
                    self._error = exc
            raise
        finally:
            with self._lock:
                self._reading = False
                finished = self._eof or self._closed
            if finished:
                self._finish(reuse=self._eof)

    def _cancelled(self) -> StreamCancelled:
        return StreamCancelled("the stream was cancelled (the response was closed while reading)")

    def _finish(self, reuse: bool) -> None:
        with self._lock:
            if self._done_with_conn:
                return
            self._done_with_conn = True
        if reuse:
            self._transport._give_back(self._conn)
        else:
            self._conn.close()

    def close(self) -> None:
        with self._lock:
            if self._closed or self._done_with_conn:
                self._closed = True
                return
            self._closed = True
            reading = self._reading
        if reading:
            # wake the blocked reader; it closes the connection when it returns
            try:
                socket.socket.shutdown(self._conn.sock, socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._finish(reuse=False)
