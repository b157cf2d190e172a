"""The transport interface: the only place that touches sockets.

A transport opens an ``HTTPRequest`` and returns a ``TransportResponse`` whose ``read(timeout)``
hands over each byte slice as soon as it arrives (no read-ahead), so the caller — which owns the
clocks — can pass a fresh deadline for every read (first byte, idle, total) and decide which limit
fired. Transports move bytes and map HTTP failures to errors; they know no provider quirks.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..model import HTTPRequest

__all__ = ["Timeouts", "Transport", "TransportResponse", "DEFAULT_TIMEOUTS", "AbortHandle"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines in seconds; ``None`` means no limit.

    - ``connect``: TCP connect plus TLS handshake.
    - ``first_byte``: from sending the request to the response headers.
    - ``first_token``: from sending the request to the first content chunk.
    - ``idle``: longest gap between content events; keepalive comments do not count as progress.
    - ``read``: longest gap between any two bytes (keepalives do count).
    - ``total``: the whole stream.

    Defaults suit LLM streams: reasoning models may think for minutes before their first token,
    so ``first_token`` and ``total`` are unlimited, while a connection that delivers nothing for
    two minutes is considered dead.
    """

    connect: float | None = 10.0
    first_byte: float | None = 120.0
    first_token: float | None = None
    idle: float | None = 120.0
    read: float | None = None
    total: float | None = None

    @classmethod
    def coerce(cls, value: Timeouts | float | None) -> Timeouts:
        """A ``Timeouts`` from ``timeout=`` as users pass it: an object, a number ``x`` (meaning
        ``connect=x, first_byte=x, idle=x``), or ``None`` (no limits at all)."""
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return cls(connect=None, first_byte=None, first_token=None, idle=None, read=None, total=None)
        x = float(value)
        return cls(connect=x, first_byte=x, idle=x)


DEFAULT_TIMEOUTS = Timeouts()


class AbortHandle:
    """Lets another thread abort an ``open()`` that is connecting or waiting for headers.

    A transport that supports it (``supports_abort = True``) attaches every socket it opens for
    the request; ``abort()`` shuts them down, which wakes a ``connect``/``recv`` blocked on them
    at once, and the transport then raises ``StreamCancelled``. A socket attached after
    ``abort()`` is shut down on the spot, so there is no window in which an abort is lost. No
    thread is involved: the caller's own thread returns and cleans up."""

    __slots__ = ("_aborted", "_callbacks", "_lock", "_socks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._callbacks: list[Callable[[], object]] = []
        self._aborted = False

    @property
    def aborted(self) -> bool:
        return self._aborted

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._aborted:
                self._socks.append(sock)
                return
        _shutdown(sock)

    def detach(self, sock: socket.socket) -> None:
        with self._lock:
            if sock in self._socks:
                self._socks.remove(sock)

    def on_abort(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when ``abort()`` is called (at once if it already was)."""
        with self._lock:
            if not self._aborted:
                self._callbacks.append(callback)
                return
        callback()

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            socks, self._socks = self._socks, []
            callbacks, self._callbacks = self._callbacks, []
        for sock in socks:
            _shutdown(sock)
        for callback in callbacks:
            callback()


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # not connected yet or already closed: the blocked call fails on its own


@runtime_checkable
class TransportResponse(Protocol):
    """An open streaming response."""

    status: int
    headers: Mapping[str, str]  # case-insensitive lookups
    url: str

    def read(self, timeout: float | None = None) -> bytes:
        """The next slice of body bytes as soon as any arrive (content decoding applied);
        ``b""`` at the end of the body. Raises ``ReadTimeout`` if nothing arrived within
        ``timeout`` seconds, ``TransportError`` if the connection failed (a reset or a close
        before a declared length is complete), ``StreamCancelled`` after ``close()`` from
        another thread. Any error ends the response: a later ``read`` raises the same error
        again (a ``ReadTimeout`` is final too; a caller that wants to poll should pass its
        real deadline, not a short tick)."""
        ...

    def close(self) -> None:
        """Release the connection. Safe to call twice and from another thread."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Something that can open HTTP requests."""

    def open(
        self,
        request: HTTPRequest,
        *,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
    ) -> TransportResponse:
        """Send the request and return once the final response headers arrived (1xx are
        skipped; redirects are *not* followed: the caller's redirect policy decides). Raises
        ``ConnectTimeout`` / ``FirstByteTimeout`` / ``TransportError``. ``first_byte_timeout``
        is a true deadline from sending to the end of the headers, however slowly they trickle.
        Does not raise for HTTP error statuses: the caller decides (see ``raise_for_status``).

        Transports with ``supports_abort = True`` also take ``abort=AbortHandle()``, through
        which another thread can end a pending open at once (``StreamCancelled``)."""
        ...

    def close(self) -> None:
        """Close pooled connections."""
        ...
