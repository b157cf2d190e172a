"""The ``requests`` adapter: the default transport.

Strategy: ``requests`` does the connecting (pooling through the ``Session``, proxies and CA
bundles from the environment as requests always does, redirects, TLS verification), and we
read the body ourselves through urllib3's ``read1``, which returns as soon as *any* decoded
bytes are available — unlike ``iter_content``/``iter_lines``, which wait for a whole buffer. That
holds for chunked, Content-Length and close-delimited bodies, and for gzip/deflate (urllib3
decodes; a decoding step that yields nothing simply reads on).

Timeouts: requests' ``timeout=(connect, read)`` covers connecting and the wait for the headers;
after that, before every ``read(timeout)`` the socket's own timeout is set (found through the
urllib3 connection), so every read has a fresh limit chosen by the caller. Note that these are
per-``recv`` limits: a server trickling header bytes slowly can stretch the header wait past
``first_byte_timeout`` (the h11 adapter enforces a true deadline). A ``ReadTimeout`` ends the
response (the underlying file object cannot be read again after a socket timeout): close it.
With a session whose adapter hides the socket (not urllib3's), per-read limits cannot be set
and reads fall back to ``first_byte_timeout`` as the socket's timeout.

Cancelling: ``close()`` from another thread shuts the socket down, which wakes a blocked
``read``; that read then raises ``StreamCancelled`` and releases the connection.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
import urllib3.exceptions

from ..model._errors import (
    ConfigurationError,
    ConnectTimeout,
    FirstByteTimeout,
    RemoteProtocolError,
    SansStreamError,
    StreamCancelled,
    TransportError,
)
from ..providers._base import HTTPRequest
from ._base import TransportResponse
from ._http import DECOMPRESSION_RATIO_GRACE, MAX_DECOMPRESSION_RATIO, Headers, read_timeout_error

__all__ = ["RequestsTransport"]

READ_SIZE = 64 * 1024
"""Most bytes returned by one ``read``: a cap on one slice, never a wait for that many."""


def _tls_hint(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "TLS certificate verification failed: the server's certificate is not trusted. "
            "Pass verify='/path/to/ca.pem' (or set REQUESTS_CA_BUNDLE) for a private CA"
        )
    return "the TLS handshake failed"


class RequestsTransport:
    """Open streaming requests with ``requests``.

    ``session``: a ``requests.Session`` to use (its adapters, proxies, auth and cookies apply;
    it is not closed by ``close()``); by default a private one is made. ``verify``: ``True``
    (system CAs, or ``REQUESTS_CA_BUNDLE``), a CA bundle path, or ``False`` (insecure; only for
    local testing). ``trust_env``: take proxies and CA bundles from the environment, as requests
    does by default.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        verify: bool | str = True,
        trust_env: bool = True,
    ) -> None:
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            self.session.trust_env = trust_env
        self.verify = verify

    def __enter__(self) -> RequestsTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def open(
        self,
        request: HTTPRequest,
        *,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
    ) -> TransportResponse:
        started = time.monotonic()
        try:
            resp = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                stream=True,
                timeout=(connect_timeout, first_byte_timeout),
                verify=self.verify,
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise ConnectTimeout(
                f"connect timeout: could not connect to {request.url} within {connect_timeout:g}s "
                f"(gave up after {time.monotonic() - started:.3f}s); check the host and network, "
                "or raise Timeouts.connect"
                if connect_timeout is not None
                else f"connect timeout: {exc}",
                limit=connect_timeout,
                elapsed=time.monotonic() - started,
            ) from None
        except requests.exceptions.ReadTimeout as exc:
            if _in_connect_phase(exc):
                raise ConnectTimeout(
                    f"connect timeout: the TLS handshake with {request.url} did not finish within "
                    f"{connect_timeout}s (gave up after {time.monotonic() - started:.3f}s); check the "
                    "host and network, or raise Timeouts.connect",
                    limit=connect_timeout,
                    elapsed=time.monotonic() - started,
                ) from None
            raise FirstByteTimeout(
                f"first-byte timeout: no response headers from {request.url} within "
                f"{first_byte_timeout}s (waited {time.monotonic() - started:.3f}s); the server "
                "accepted the request but did not answer — retry, or raise Timeouts.first_byte",
                limit=first_byte_timeout,
                elapsed=time.monotonic() - started,
            ) from None
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"{_tls_hint(exc)} ({request.url}): {exc}") from None
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidHeader,
        ) as exc:
            raise ConfigurationError(f"cannot send this request: {exc}; check base_url and headers") from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"could not get a response from {request.url}: {exc}; check the URL, the network "
                "and any proxy settings (HTTP(S)_PROXY), then retry"
            ) from None
        return _RequestsResponse(resp)


_CONNECT_FRAMES = frozenset(
    {"_validate_conn", "_new_conn", "do_handshake", "_ssl_wrap_socket_and_match_hostname"}
)


def _in_connect_phase(exc: BaseException) -> bool:
    """Whether a read timeout reported by urllib3 actually fired while connecting.

    urllib3 reports a TLS handshake that times out as a *read* timeout, with the connect
    timeout's value; the frames of the original socket timeout show where it happened."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in _CONNECT_FRAMES:
                return True
            tb = tb.tb_next
        todo.extend(e for e in (err.__context__, err.__cause__, *err.args) if isinstance(e, BaseException))
    return False


def _find_socket(raw: Any) -> socket.socket | None:
    """The socket under a urllib3 response, to set per-read timeouts and to cancel."""
    conn = getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    # the http.client response keeps its socket file: fp (BufferedReader) -> raw (SocketIO)
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _RequestsResponse:
    """A ``TransportResponse`` over a streamed ``requests.Response``."""

    def __init__(self, resp: requests.Response) -> None:
        self._resp = resp
        self._raw: Any = resp.raw
        self.status: int = resp.status_code
        raw_headers = getattr(self._raw, "headers", None)
        items = list(raw_headers.items()) if raw_headers is not None else list(resp.headers.items())
        self.headers: Mapping[str, str] = Headers(items)
        self.url: str = resp.url
        self._sock = _find_socket(self._raw)
        self._encoded = bool(self.headers.get("content-encoding", "").strip().lower() not in ("", "identity"))
        self._decoded = 0
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False
        self._eof = False
        self._released = False
        self._error: BaseException | None = None  # after a failure, every read re-raises it

    def read(self, timeout: float | None = None) -> bytes:
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._closed:
                if self._eof:
                    return b""
                raise StreamCancelled("the response was closed; nothing more can be read from it")
            if self._eof:
                return b""
            self._reading = True
        started = time.monotonic()
        try:
            return self._read1(timeout, started)
        except SansStreamError as exc:
            if not isinstance(exc, StreamCancelled):
                # urllib3 cannot read on after a failure (the socket file is broken after a
                # timeout): the response is over, and says so the same way every time
                self._error = exc
                with self._lock:
                    self._closed = True
            raise
        finally:
            with self._lock:
                self._reading = False
                release = self._cancel_requested() and not self._released
            if release:
                self._release()

    def _read1(self, timeout: float | None, started: float) -> bytes:
        try:
            if self._sock is not None:
                self._sock.settimeout(timeout)
            data = self._raw.read1(READ_SIZE, decode_content=True)
            if not data:
                if self._cancel_requested():
                    raise self._cancelled()  # the EOF is our own shutdown, not the server's
                self._eof = True
                self._raw.release_conn()  # body read to its end: the connection may be reused
                return b""
            if self._encoded:
                self._check_ratio(len(data))
            return bytes(data)
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
            if self._cancel_requested():
                raise self._cancelled() from None
            raise read_timeout_error(timeout, time.monotonic() - started) from None
        except urllib3.exceptions.DecodeError as exc:
            raise RemoteProtocolError(
                f"the {self.headers.get('content-encoding')}-encoded body from {self.url} is corrupt "
                f"({exc}); retry, or request an uncompressed stream (Accept-Encoding: identity)"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            # ValueError/AttributeError: http.client on a file object closed under it (cancel)
            if self._cancel_requested():
                raise self._cancelled() from None
            raise TransportError(_broken_message(self.url, exc)) from None

    def _check_ratio(self, size: int) -> None:
        self._decoded += size
        compressed = max(int(self._raw.tell()), 1)
        if self._decoded > DECOMPRESSION_RATIO_GRACE and self._decoded > MAX_DECOMPRESSION_RATIO * compressed:
            raise RemoteProtocolError(
                f"refusing a body from {self.url} that inflates more than {MAX_DECOMPRESSION_RATIO}x "
                f"({compressed} bytes became over {self._decoded}): this looks like a decompression "
                "bomb. If the server is trusted, ask for Accept-Encoding: identity."
            )

    def _cancel_requested(self) -> bool:
        # read through a method: close() flips the flag from another thread
        return self._closed

    def _cancelled(self) -> StreamCancelled:
        return StreamCancelled("the stream was cancelled (the response was closed while reading)")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reading = self._reading
        if reading:
            # wake the blocked reader; it releases the connection when it returns
            try:
                if self._sock is not None:
                    socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
                else:
                    self._raw.shutdown()  # urllib3 >= 2.3 can do it without the socket
            except (OSError, AttributeError):
                pass
        else:
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        if self._eof:
            return  # the connection went back to the pool at the end of the body
        try:
            # an unfinished body: the connection cannot be reused, so close it rather than pool it
            self._resp.close()
        except Exception:
            pass


def _broken_message(url: str, exc: BaseException) -> str:
    text = str(exc)
    if "IncompleteRead" in text or isinstance(exc, urllib3.exceptions.IncompleteRead):
        what = "the server closed the connection before the body was complete"
    elif "reset" in text.lower():
        what = "the connection was reset by the server"
    else:
        what = "the connection failed while reading the body"
    return f"{what} ({url}): {text}; retry the request"
