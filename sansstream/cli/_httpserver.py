"""A small loopback HTTP/1.1 server that streams paced replies (for ``demo`` and ``serve``).

Every request (any path, any method) is answered by a ``responder`` function returning a
``Reply``: a status, headers and body slices, each with the delay to wait before sending it. The
body goes out with chunked transfer encoding, one HTTP chunk per slice, flushed at once, so a
client sees bytes exactly when a real streaming server would send them. ``Connection: close``
keeps the lifecycle simple (one request per connection).

Shutdown leaves nothing behind: ``close()`` wakes every paced wait, stops the accept loop, joins
every handler thread and closes the listening socket (handler threads are not daemons, and
``ThreadingHTTPServer.server_close`` joins them).
"""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["Reply", "RequestInfo", "StreamServer"]


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Reply:
    """What to answer: ``slices`` are ``(delay_seconds, data)`` pairs sent in order; with
    ``abort`` the connection is dropped after the last slice without ending the chunked body
    (a recorded transport error, replayed)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    slices: Iterable[tuple[float, bytes]] = ()
    abort: bool = False


_HOP_BY_HOP = frozenset(
    {"connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding", "date", "server"}
)
"""Recorded headers not replayed: framing and encoding are this server's own (the recorded body
slices are already decoded), and Date/Server are written by the server itself."""

# A request body is read whole before answering; chat requests are small, this bounds abuse.
_MAX_REQUEST_BODY = 16 * 1024 * 1024


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True
    allow_reuse_address = True

    owner: StreamServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Connections being handled: close() shuts them, so a client that holds an idle
        # connection (or promised a body it never sends) cannot keep the server from stopping.
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection that went away (or that close() shut) is not worth a traceback on the
        # user's terminal; anything else still gets the standard report.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the owner logs
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        declared = (self.headers.get("content-length") or "0").strip()
        if not declared.isdigit() or not declared.isascii():
            self.send_error(400, "bad Content-Length")  # "abc", "-1": answered, not a traceback
            return
        length = int(declared)
        if length > _MAX_REQUEST_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return  # the client went away (or the server is stopping) before sending its body
        info = RequestInfo(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = owner.responder(info)
        self.close_connection = True
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        completed = False
        try:
            if self.command != "HEAD":
                for delay, data in reply.slices:
                    if delay > 0 and owner.stopping.wait(delay):
                        return  # shutting down: drop the connection
                    if not data:
                        continue
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                    sent += len(data)
                if reply.abort:
                    return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            completed = True
        except OSError:
            return  # the client went away
        finally:
            owner.served(info, reply.status, sent, completed)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


class StreamServer:
    """Serve ``responder``'s replies on ``host:port`` (port 0: a free one) in background threads.
    ``log`` receives one line per request served. ``max_requests``: after that many responses,
    ``wait()`` returns."""

    def __init__(
        self,
        responder: Callable[[RequestInfo], Reply],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
        max_requests: int | None = None,
    ) -> None:
        self.responder = responder
        self.stopping = threading.Event()
        self._log = log
        self._max = max_requests
        self._count = 0
        self._lock = threading.Lock()
        self._enough = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        address = self._httpd.server_address
        self.host: str = str(address[0])
        self.port: int = int(address[1])
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sansstream-cli-server"
        )
        self._thread.start()

    def served(self, info: RequestInfo, status: int, sent: int, completed: bool) -> None:
        if self._log is not None:
            how = "" if completed else " (connection dropped)"
            self._log(f"{info.method} {info.path} -> {status}, {sent} body bytes{how}")
        with self._lock:
            self._count += 1
            if self._max is not None and self._count >= self._max:
                self._enough.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``max_requests`` responses were served (forever without a maximum)."""
        return self._enough.wait(timeout)

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.drop_connections()  # idle keep-alive clients, bodies that never come
        self._httpd.server_close()  # joins handler threads, closes the listening socket

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
