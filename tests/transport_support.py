"""Helpers for the transport tests: the adapters under test, reading a whole body, and a local
listener that never accepts (for connect timeouts without leaving the machine)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

from sansstream.model import SansStreamError
from sansstream.providers import HTTPRequest
from sansstream.transports import H11Transport, RequestsTransport, Transport, TransportResponse

ADAPTERS = ("requests", "h11")


def make_transport(name: str, **kw: object) -> RequestsTransport | H11Transport:
    if name == "requests":
        return RequestsTransport(**kw)  # type: ignore[arg-type]
    return H11Transport(**kw)  # type: ignore[arg-type]


def open_url(
    transport: Transport, url: str, *, method: str = "POST", body: bytes | None = b"{}", timeout: float = 5.0
) -> TransportResponse:
    request = HTTPRequest(method, url, {"content-type": "application/json"}, body)
    return transport.open(request, connect_timeout=timeout, first_byte_timeout=timeout)


def read_all(response: TransportResponse, timeout: float = 5.0) -> list[bytes]:
    """Every slice until EOF; closes the response."""
    out: list[bytes] = []
    try:
        while True:
            data = response.read(timeout)
            if not data:
                return out
            out.append(data)
    finally:
        response.close()


def fetch(transport: Transport, url: str, **kw: object) -> bytes:
    return b"".join(read_all(open_url(transport, url, **kw)))  # type: ignore[arg-type]


@contextlib.contextmanager
def unaccepting_listener() -> Iterator[int]:
    """A port on 127.0.0.1 whose accept queue is full: a new connect gets no SYN-ACK and hangs
    until the client's own timeout (Linux drops SYNs to a full queue). The queue is filled by
    connecting until a connect times out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(64):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(0.2)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                break
            fillers.append(s)
        else:  # pragma: no cover - a kernel that never fills the queue
            raise RuntimeError("could not fill the accept queue of a local listener")
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return -1


def live_threads() -> set[threading.Thread]:
    """The running threads; compare sets, so threads left by other tests ending meanwhile do not
    count."""
    return set(threading.enumerate())


def drain(response: TransportResponse, timeout: float = 5.0) -> tuple[bytes, SansStreamError | None]:
    """Read until EOF or an error; return what arrived and the error (closes the response)."""
    got: list[bytes] = []
    try:
        while data := response.read(timeout):
            got.append(data)
    except SansStreamError as exc:
        return b"".join(got), exc
    finally:
        response.close()
    return b"".join(got), None
