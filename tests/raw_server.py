"""A raw-socket HTTP/1.x server on 127.0.0.1 for the I/O-engine tests: each request is handed,
with its socket, to a script that writes whatever bytes it likes (byte-dripped headers, 1xx
interim responses, conflicting headers, redirects, HTTP/1.0 bodies…). One request per connection:
the script's return closes the socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names; raw latin-1 text of the values
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    port: int
    at: float = field(default_factory=time.monotonic)

    def header_bytes(self, name: str) -> bytes | None:
        for k, v in self.raw_headers:
            if k.lower() == name.lower().encode():
                return v
        return None


Script = Callable[[socket.socket, Request], None]


class RawServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, name="raw-server", daemon=True)
        self._accept.start()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._accept.join(2)
        for t in self._threads:
            t.join(2)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
                self._threads = [t for t in self._threads if t.is_alive()]
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = self._read_request(conn)
            if request is not None:
                self.requests.append(request)
                self.script(conn, request)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _read_request(self, conn: socket.socket) -> Request | None:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, target, _ = lines[0].decode("latin-1").split(" ", 2)
        raw = [tuple(x.strip() for x in line.split(b":", 1)) for line in lines[1:] if b":" in line]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            rest += piece
        conn.settimeout(None)
        return Request(method, target, headers, raw, rest[:length], self.port)  # type: ignore[arg-type]


def wait_closed(conn: socket.socket, limit: float = 30.0) -> None:
    """Block until the client closes (or ``limit`` passes)."""
    conn.settimeout(limit)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def drip(conn: socket.socket, data: bytes, every: float) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart, until the client goes away."""
    for i in range(len(data)):
        try:
            conn.sendall(data[i : i + 1])
        except OSError:
            return
        time.sleep(every)
    wait_closed(conn)
