"""``FixtureServer``: a loopback HTTP server that streams canned responses, with fault injection.

Used by the test suite (transports, API, CLI) and by users testing their own streaming code
without a network. It listens on 127.0.0.1 on a free port, parses requests with h11 (robust
request framing for free) and writes responses as raw bytes, so every framing and every fault
is under the test's control: chunked / Content-Length / close-delimited bodies, gzip, slices
paced by a delay or dripped a few bytes at a time, a stall before the headers, after them or
mid-body (optionally sending keepalive comments meanwhile), a cut after N body bytes, a reset
(RST, via ``SO_LINGER`` 0) instead of a clean close, any status and headers.

Threads: one accept loop plus one thread per connection; ``close()`` (or leaving the ``with``
block) stops them all, wakes any stall, shuts every socket and joins every thread, so a test
leaves no threads or file descriptors behind. Stalls and delays wait on an event, never a bare
sleep, and watch the client socket, so a client that disconnects is noticed at once
(``client_disconnected``).
"""

from __future__ import annotations

import gzip as _gzip_mod
import itertools
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

import h11

from ..transports import Headers

__all__ = ["FixtureServer", "FixtureResponse", "ReceivedRequest"]

Framing = Literal["chunked", "content-length", "close"]
StallPoint = Union[Literal["before-headers", "after-headers"], int]  # noqa: UP007 (runtime alias, py3.10)

_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

_POLL = 0.02
"""Seconds between checks of the stop flag and the client socket while waiting: short enough
that a stop or a disconnect is seen at once, long enough not to spin."""


@dataclass
class FixtureResponse:
    """One canned response and the faults to inject while serving it.

    - ``body``: bytes (or text, sent as UTF-8), or a list of slices sent one by one, or any other
      iterable of bytes (e.g. a generator), pulled lazily: each slice is sent as soon as the
      iterable yields it, so a test can pace or synchronise the server with the client.
      (``drip`` and exact cut/stall offsets need a list; with a lazy body they apply at slice
      boundaries. A lazy body with Content-Length framing is collected first unless
      ``content_length`` is given.)
    - ``drip``: re-cut the body into slices of at most this many bytes (slow-drip with ``delay``).
    - ``delay``: seconds to wait before every slice but the first.
    - ``framing``: ``"chunked"`` (one HTTP chunk per slice), ``"content-length"`` or ``"close"``
      (body ends when the server closes).
    - ``gzip``: compress the body (each slice flushed, so slices stay prompt) and send
      ``Content-Encoding: gzip``.
    - ``content_length``: declared length override (e.g. larger than the body).
    - ``cut_after``: close the connection after this many body bytes (counted before gzip), without
      finishing the framing; ``reset`` makes that close (or the end of the response) an RST.
    - ``stall`` seconds at ``stall_at``: ``"before-headers"``, ``"after-headers"`` or a body offset.
      While stalled after the headers, ``keepalive`` bytes are sent every ``keepalive_every``
      seconds (chunked or close framing, no gzip).
    - ``keep_alive``: serve further requests on the same connection (ignored for ``"close"``).
    - ``drop_after``: close the connection after the response without having announced it (as
      servers drop idle keep-alive connections).
    - ``hangup``: close the connection instead of answering (after ``stall`` if
      ``stall_at="before-headers"``); with ``reset``, an RST.
    """

    body: bytes | str | Iterable[bytes] = b""
    status: int = 200
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    content_type: str | None = "text/event-stream"
    framing: str = "chunked"  # one of Framing; checked at construction
    gzip: bool = False
    delay: float = 0.0
    drip: int | None = None
    content_length: int | None = None
    cut_after: int | None = None
    reset: bool = False
    stall: float = 0.0
    stall_at: str | int = "after-headers"  # a StallPoint; checked at construction
    keepalive: bytes | None = None
    keepalive_every: float = 0.1
    keep_alive: bool = True
    drop_after: bool = False
    hangup: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.framing not in ("chunked", "content-length", "close"):
            raise ValueError(f"framing must be chunked, content-length or close, not {self.framing!r}")
        if self.keepalive is not None and (self.gzip or self.framing == "content-length"):
            raise ValueError("keepalive bytes need chunked or close framing and no gzip")
        if not isinstance(self.stall_at, int) and self.stall_at not in ("before-headers", "after-headers"):
            raise ValueError(
                f"stall_at must be 'before-headers', 'after-headers' or a body offset, not {self.stall_at!r}"
            )
        if self.drip is not None and self.drip < 1:
            raise ValueError("drip must be at least 1 byte")

    def is_lazy(self) -> bool:
        return not isinstance(self.body, (str, bytes, bytearray, memoryview, list, tuple))

    def slices(self) -> list[bytes]:
        """The body as the list of slices that will be sent (before gzip and framing)."""
        if isinstance(self.body, str):
            parts = [self.body.encode("utf-8")]
        elif isinstance(self.body, (bytes, bytearray, memoryview)):
            parts = [bytes(self.body)]
        else:
            parts = [bytes(p) for p in self.body]
        if self.drip is not None:
            data = b"".join(parts)
            parts = [data[i : i + self.drip] for i in range(0, len(data), self.drip)]
        # cut and stall points become slice boundaries so they fall at exact offsets
        points = {p for p in (self.cut_after, self.stall_at if isinstance(self.stall_at, int) else None) if p}
        if points:
            out: list[bytes] = []
            offset = 0
            for whole in parts:
                rest = whole
                for point in sorted(points):
                    if offset < point < offset + len(rest):
                        cut = point - offset
                        out.append(rest[:cut])
                        rest = rest[cut:]
                        offset = point
                out.append(rest)
                offset += len(rest)
            parts = out
        return [p for p in parts if p]


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the server received (for assertions)."""

    method: str
    target: str
    headers: Headers
    body: bytes
    connection: int
    """Which accepted connection carried it (0, 1, …): equal numbers mean a reused connection."""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def json(self) -> object:
        import json

        return json.loads(self.body)


Handler = Callable[[ReceivedRequest], FixtureResponse]
Route = Union[FixtureResponse, Sequence[FixtureResponse], Handler]  # noqa: UP007 (runtime alias)


class _Disconnected(Exception):
    """The client went away (or the server is stopping) while we were serving it."""


@dataclass
class _RouteState:
    route: Route
    served: int = 0


@dataclass
class _Conn:
    sock: socket.socket
    index: int
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class FixtureServer:
    """A threaded loopback HTTP(S) server serving ``FixtureResponse``s.

    ``FixtureServer(response)`` serves ``response`` at every path; ``routes={"/v1/x": …}`` maps
    paths (query ignored) to a response, a list of responses (served in order, the last one
    repeated: handy for reconnection tests) or a handler ``(ReceivedRequest) -> FixtureResponse``.
    Unknown paths get a 404 with a JSON error. Pass ``ssl_context`` (a server-side context) to
    serve HTTPS. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        default: Route | None = None,
        *,
        routes: Mapping[str, Route] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._routes: dict[str, _RouteState] = {p: _RouteState(r) for p, r in (routes or {}).items()}
        self._default = _RouteState(default) if default is not None else None
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[_Conn] = []
        self._counter = itertools.count()
        self.requests: list[ReceivedRequest] = []
        self.errors: list[str] = []
        """Problems on the server side (bad requests, TLS handshakes that failed)."""
        self.client_disconnected = threading.Event()
        """Set when a client closed its connection before a response was completely sent."""
        self.disconnects = 0
        self._request_seen = threading.Condition(self._lock)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        # close() writes to this pair to wake the accept loop at once (no polling delay)
        self._wake_r, self._wake_w = socket.socketpair()
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="FixtureServer-accept", daemon=True
        )
        self._accept_thread.start()

    # ----------------------------------------------------------------------------- public API

    def __enter__(self) -> FixtureServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def route(self, path: str, route: Route) -> None:
        """Add or replace the route for ``path``."""
        with self._lock:
            self._routes[path] = _RouteState(route)

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        with self._lock:
            return len(self._conns)

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests were received (or ``timeout``); return them."""
        deadline = time.monotonic() + timeout
        with self._request_seen:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._request_seen.wait(remaining)
            return list(self.requests)

    def close(self) -> None:
        """Stop accepting, wake every stalled handler, close every socket, join every thread."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._accept_thread.join(5)
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with conn.lock:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for conn in conns:
            if conn.thread is not None:
                conn.thread.join(5)
            with conn.lock:
                conn.sock.close()

    # ------------------------------------------------------------------------------ accepting

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._wake_r in ready or self._stop.is_set():
                return
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                conn = _Conn(sock, len(self._conns))
                self._conns.append(conn)
            conn.thread = threading.Thread(
                target=self._serve_connection,
                args=(conn,),
                name=f"FixtureServer-conn{conn.index}",
                daemon=True,
            )
            conn.thread.start()

    # ------------------------------------------------------------------------------- serving

    def _serve_connection(self, conn: _Conn) -> None:
        try:
            if self._ssl_context is not None:
                conn.sock.settimeout(5.0)
                try:
                    tls = self._ssl_context.wrap_socket(conn.sock, server_side=True)
                except (OSError, ssl.SSLError) as exc:
                    self.errors.append(f"TLS handshake failed: {exc}")
                    return
                tls.settimeout(None)
                with conn.lock:
                    conn.sock = tls
            leftover = b""
            while not self._stop.is_set():
                got = self._read_request(conn, leftover)
                if got is None:
                    return
                request, leftover = got
                with self._request_seen:
                    self.requests.append(request)
                    self._request_seen.notify_all()
                response = self._respond_to(request)
                # the client may ask to close after this exchange (or speak HTTP/1.0)
                client_close = "close" in request.headers.get("connection", "").lower()
                head_only = request.method == "HEAD"
                if not self._send_response(conn, response, client_close, head_only):
                    return
        except (_Disconnected, OSError):
            return
        finally:
            with conn.lock:
                conn.sock.close()

    def _read_request(self, conn: _Conn, leftover: bytes) -> tuple[ReceivedRequest, bytes] | None:
        parser = h11.Connection(h11.SERVER)
        if leftover:
            parser.receive_data(leftover)
        head: h11.Request | None = None
        body: list[bytes] = []
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as exc:
                self.errors.append(f"bad request: {exc}")
                try:
                    conn.sock.sendall(_BAD_REQUEST)
                except OSError:
                    pass
                return None
            if event is h11.NEED_DATA:
                try:
                    data = conn.sock.recv(65536)
                except OSError:
                    return None
                if self._stop.is_set():
                    return None
                parser.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers])
                request = ReceivedRequest(
                    method=head.method.decode("ascii"),
                    target=head.target.decode("ascii", errors="replace"),
                    headers=headers,
                    body=b"".join(body),
                    connection=conn.index,
                )
                return request, parser.trailing_data[0]
            else:  # ConnectionClosed: the client is done with this connection
                return None

    def _respond_to(self, request: ReceivedRequest) -> FixtureResponse:
        with self._lock:
            state = self._routes.get(request.path) or self._default
            if state is None:
                return FixtureResponse(
                    body=b'{"error": {"message": "no route for this path on the FixtureServer"}}',
                    status=404,
                    content_type="application/json",
                    framing="content-length",
                )
            served = state.served
            state.served += 1
        route = state.route
        if isinstance(route, FixtureResponse):
            return route
        if callable(route):
            return route(request)
        seq = list(route)
        return seq[min(served, len(seq) - 1)]

    # ------------------------------------------------------------------------------- sending

    def _send_raw(self, conn: _Conn, data: bytes) -> None:
        try:
            conn.sock.sendall(data)
        except OSError:
            self._note_disconnect()
            raise _Disconnected from None

    def _note_disconnect(self) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            self.disconnects += 1
        self.client_disconnected.set()

    def _wait(
        self, conn: _Conn, seconds: float, keepalive: Callable[[], None] | None = None, every: float = 0.1
    ) -> None:
        """Wait ``seconds`` while watching the stop flag and the client socket."""
        deadline = time.monotonic() + seconds
        next_ping = time.monotonic() + every
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if self._stop.is_set():
                raise _Disconnected
            if keepalive is not None and now >= next_ping:
                keepalive()
                next_ping = now + every
            step = min(deadline - now, _POLL)
            if keepalive is not None:
                step = max(min(step, next_ping - now), 0.001)
            self._check_client(conn, step)

    def _check_client(self, conn: _Conn, timeout: float) -> None:
        try:
            ready, _, _ = select.select([conn.sock], [], [], timeout)
        except (OSError, ValueError):
            raise _Disconnected from None
        if not ready:
            return
        try:
            # peek at the TCP level (SSLSocket.recv refuses flags): b"" means the client sent FIN
            peek = socket.socket.recv(conn.sock, 1, socket.MSG_PEEK)
        except (ValueError, ssl.SSLWantReadError):
            return
        except OSError:
            self._note_disconnect()
            raise _Disconnected from None
        if not peek:
            self._note_disconnect()
            raise _Disconnected
        # the client already sent more (a pipelined request): keep waiting without spinning
        self._stop.wait(timeout)

    def _send_response(
        self, conn: _Conn, r: FixtureResponse, client_close: bool = False, head_only: bool = False
    ) -> bool:
        """Send one response; return whether the connection stays open for another request."""
        if r.stall and r.stall_at == "before-headers":
            self._wait(conn, r.stall)
        if r.hangup:
            self._end(conn, r.reset)
            return False
        # a declared length must be known up front: collect a lazy body unless it was given
        lazy = r.is_lazy() and (r.framing != "content-length" or r.content_length is not None)
        source: Iterable[bytes] = r.body if lazy else r.slices()  # type: ignore[assignment]

        def pieces() -> Iterator[tuple[bytes, int]]:
            """(bytes on the wire, body bytes they carry): offsets count bytes before gzip."""
            comp = zlib.compressobj(wbits=31) if r.gzip else None
            for s in source:
                data = bytes(s)
                if comp is None:
                    yield data, len(data)
                else:  # each slice flushed, so it can be decoded as soon as it arrives
                    yield comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH), len(data)
            if comp is not None:
                yield comp.flush(zlib.Z_FINISH), 0

        wire = pieces() if lazy else list(pieces())
        keep = r.keep_alive and r.framing != "close" and not client_close
        reason = r.reason if r.reason is not None else _reason(r.status)
        lines = [f"HTTP/1.1 {r.status} {reason}"]
        if r.content_type is not None:
            lines.append(f"Content-Type: {r.content_type}")
        # RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no body at all (and no framing)
        bodiless = r.status in (204, 304) or 100 <= r.status < 200
        if bodiless:
            pass
        elif r.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
        elif r.framing == "content-length":
            if r.content_length is not None:
                declared = r.content_length
            else:
                assert isinstance(wire, list)
                declared = sum(len(w) for w, _ in wire)
            lines.append(f"Content-Length: {declared}")
        if r.gzip:
            lines.append("Content-Encoding: gzip")
        if not keep:
            lines.append("Connection: close")
        extra = r.headers.items() if isinstance(r.headers, Mapping) else r.headers
        lines.extend(f"{k}: {v}" for k, v in extra)
        self._send_raw(conn, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if bodiless or head_only:
            if not keep or r.drop_after or r.reset:
                self._end(conn, r.reset)
                return False
            return True

        def frame(data: bytes) -> bytes:
            if r.framing == "chunked":
                return b"%x\r\n%s\r\n" % (len(data), data)
            return data

        def ping() -> None:
            assert r.keepalive is not None
            self._send_raw(conn, frame(r.keepalive))

        stall_offset: int | None = None
        if r.stall and r.stall_at != "before-headers":
            stall_offset = 0 if r.stall_at == "after-headers" else int(r.stall_at)
        sent = 0
        for i, (data, length) in enumerate(wire):
            if stall_offset is not None and sent >= stall_offset:
                stall_offset = None
                self._wait(conn, r.stall, ping if r.keepalive else None, r.keepalive_every)
            if r.cut_after is not None and sent >= r.cut_after:
                self._end(conn, r.reset)
                return False
            if i and r.delay:
                self._wait(conn, r.delay)
            if data:
                self._send_raw(conn, frame(data))
            sent += length
        if stall_offset is not None:  # a stall at (or past) the end of the body
            self._wait(conn, r.stall, ping if r.keepalive else None, r.keepalive_every)
        if r.cut_after is not None and sent >= r.cut_after:
            self._end(conn, r.reset)
            return False
        if r.framing == "chunked":
            self._send_raw(conn, b"0\r\n\r\n")
        if r.reset:
            self._end(conn, reset=True)
            return False
        if not keep or r.drop_after:
            self._end(conn, reset=False)
            return False
        return True

    def _end(self, conn: _Conn, reset: bool) -> None:
        with conn.lock:
            try:
                if reset:
                    # SO_LINGER with a zero timeout turns close() into an RST
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.sock.close()
                else:
                    # FIN now; the socket itself is closed when the connection thread ends
                    conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def _reason(status: int) -> str:
    import http

    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed (a helper for tests building bodies by hand)."""
    return _gzip_mod.compress(data)
