"""The ``requests`` adapter: the default transport.

Strategy: ``requests`` does the connecting (pooling through the ``Session``, proxies and CA
bundles from the environment as requests always does, TLS verification), and we read the body
ourselves through urllib3's ``read1``, which returns as soon as *any* decoded bytes are
available — unlike ``iter_content``/``iter_lines``, which wait for a whole buffer. That holds for
chunked, Content-Length and close-delimited bodies, and for gzip/deflate (urllib3 decodes; a
decoding step that yields nothing simply reads on). Redirects are not followed here: the API's
one redirect policy (``api._redirects``) decides, for this transport and h11 alike.

Deadlines and aborting. Our own session mounts an adapter whose urllib3 connections (a) hand
every socket they dial to the request's ``AbortHandle`` before connecting, so ``abort()`` from
another thread wakes a pending connect or header wait at once, and (b) read the response through
a socket file whose every ``recv`` is bounded by what is *left* of the header deadline (not a
fresh per-``recv`` limit), so headers trickled one byte at a time still end at
``first_byte_timeout``. After the headers, each ``read(timeout)`` sets that read's limit the same
way; the socket's timeout is only ever touched right before a ``recv`` on it, never after
http.client closed it (a complete ``Content-Length`` + ``Connection: close`` body, or any HTTP/1.0
server, ends cleanly). 1xx interim responses (``103 Early Hints``) are skipped. With a
caller's ``session`` whose adapters are not ours, these guarantees degrade to per-``recv``
limits and abort works only once the headers arrived.

Cancelling: ``close()`` from another thread shuts the socket down, which wakes a blocked
``read``; that read then raises ``StreamCancelled`` and releases the connection.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.response

from ..model import (
    ConfigurationError,
    ConnectTimeout,
    FirstByteTimeout,
    HTTPRequest,
    RemoteProtocolError,
    SansStreamError,
    StreamCancelled,
    TransportError,
)
from ._base import AbortHandle, TransportResponse
from ._http import (
    DECOMPRESSION_RATIO_GRACE,
    MAX_DECOMPRESSION_RATIO,
    Headers,
    encode_header_value,
    read_timeout_error,
)
from ._secrets import redact_url, scrub, secret_values

__all__ = ["RequestsTransport"]

READ_SIZE = 64 * 1024
"""Most bytes returned by one ``read``: a cap on one slice, never a wait for that many."""


# --------------------------------------------------------------------------------------------
# the hooks inside urllib3: dialing with an abort handle, reading against a deadline


class _Gate:
    """What bounds the ``recv`` calls of one response: the header deadline (absolute, monotonic)
    while headers are awaited, then each ``read``'s own limit. Shared by the transport (which
    sets it) and the socket file (which obeys it right before each ``recv``)."""

    __slots__ = ("abort", "deadline", "read_timeout", "sock")

    def __init__(self, abort: AbortHandle | None, deadline: float | None) -> None:
        self.abort = abort
        self.deadline = deadline
        self.read_timeout: float | None = None
        self.sock: socket.socket | None = None

    def timeout(self) -> float | None:
        if self.deadline is None:
            return self.read_timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the header deadline passed")
        return left if self.read_timeout is None else min(left, self.read_timeout)


_CURRENT = threading.local()
"""The ``_Gate`` of the ``open()`` running on this thread (urllib3 gives us no other way to reach
the connection it picks for a request)."""


def _gate() -> _Gate | None:
    return getattr(_CURRENT, "gate", None)


class _GatedIO(socket.SocketIO):
    """A socket file whose every ``recv`` first takes its timeout from the gate."""

    def __init__(self, sock: socket.socket, gate: _Gate) -> None:
        super().__init__(sock, "rb")
        self._gate = gate
        self._last: float | None = -1.0  # no timeout set by us yet

    def readinto(self, b: Any) -> int | None:
        timeout = self._gate.timeout()
        if timeout != self._last or self._gate.deadline is not None:
            # settimeout is a system call: skip it when this read's limit is already in force
            self._sock.settimeout(timeout)  # type: ignore[attr-defined]
            self._last = timeout
        return super().readinto(b)


class _HTTPResponse(http.client.HTTPResponse):
    """http.client's response, reading through a ``_GatedIO`` and skipping 1xx interim responses
    (http.client itself only skips ``100 Continue``)."""

    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(sock, debuglevel, method, url)
        gate = _gate()
        if gate is not None and isinstance(sock, socket.socket):
            gate.sock = sock
            if gate.abort is not None:
                gate.abort.attach(sock)  # a reused connection was dialed by another request
            self.fp.close()  # the plain file http.client made; ours replaces it
            raw = _GatedIO(sock, gate)
            sock._io_refs += 1  # type: ignore[attr-defined] # as socket.makefile does
            self.fp = io.BufferedReader(raw)

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if 100 <= status < 200 and status != 101:
                http.client.parse_headers(self.fp)  # interim: skip its headers
                continue
            return version, status, reason


class _ConnMixin:
    """Dial through the abort handle; answer with ``_HTTPResponse``."""

    response_class: Any = _HTTPResponse

    def _new_conn(self) -> socket.socket:
        gate = _gate()
        if gate is None or gate.abort is None:
            return super()._new_conn()  # type: ignore[misc,no-any-return]
        conn: Any = self
        try:
            return _dial(
                conn._dns_host, conn.port, conn.timeout, conn.source_address, conn.socket_options, gate.abort
            )
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(conn, f"connect timeout={conn.timeout}") from exc
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(
                conn, f"Failed to establish a new connection: {exc}"
            ) from exc

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        gate = _gate()
        sock = getattr(self, "sock", None)
        if gate is not None and gate.abort is not None and isinstance(sock, socket.socket):
            gate.abort.attach(sock)  # after TLS the socket object is a new one


def _dial(  # noqa: PLR0917 - mirrors urllib3's create_connection
    host: str, port: int, timeout: Any, source: Any, options: Any, abort: AbortHandle
) -> socket.socket:
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        abort.attach(sock)
        try:
            if abort.aborted:  # shutdown() cannot stop a connect that has not started
                raise ConnectionAbortedError("the request was aborted")
            for option in options or ():
                sock.setsockopt(*option)
            if isinstance(timeout, (int, float)) or timeout is None:
                sock.settimeout(timeout)
            if source:
                sock.bind(source)
            sock.connect(address)
        except OSError as exc:
            abort.detach(sock)
            sock.close()
            if abort.aborted:
                raise
            last = exc
            continue
        return sock
    raise last if last is not None else OSError(f"no address found for {host}")


class _HTTPConnection(_ConnMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_ConnMixin, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def _tls_hint(exc: BaseException) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "TLS certificate verification failed: the server's certificate is not trusted. "
            "Pass verify='/path/to/ca.pem' (or set REQUESTS_CA_BUNDLE) for a private CA"
        )
    return "the TLS handshake failed"


def _root_os_error(exc: BaseException) -> OSError | None:
    """The operating-system error under requests' and urllib3's wrappers (``[Errno 111]…``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    found: OSError | None = None
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, OSError) and not isinstance(
            err, (urllib3.exceptions.HTTPError, requests.exceptions.RequestException)
        ):
            found = err
        todo.extend(e for e in (err.__cause__, err.__context__, *err.args) if isinstance(e, BaseException))
        reason = getattr(err, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return found


def _short(exc: BaseException) -> str:
    root = _root_os_error(exc)
    if root is None:
        return str(exc)
    if isinstance(root, socket.gaierror):
        return f"name resolution failed: {root.strerror or root}"
    if root.errno is not None and root.strerror:
        return f"[Errno {root.errno}] {root.strerror}"
    if isinstance(root, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "the server closed the connection without a response"
    return str(root) or type(root).__name__


class RequestsTransport:
    """Open streaming requests with ``requests``.

    ``session``: a ``requests.Session`` to use (its adapters, proxies, auth and cookies apply;
    it is not closed by ``close()``); by default a private one is made, with the adapter that
    makes header deadlines exact and opens abortable. ``verify``: ``True`` (system CAs, or
    ``REQUESTS_CA_BUNDLE``), a CA bundle path, or ``False`` (insecure; only for local testing).
    ``trust_env``: take proxies and CA bundles from the environment, as requests does by default.
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
            self.session.mount("http://", _Adapter())
            self.session.mount("https://", _Adapter())
        self.verify = verify

    @property
    def supports_abort(self) -> bool:
        """Only our own adapter hands its sockets to the abort handle; a caller's session whose
        adapters are not ours cannot be aborted while waiting for headers (the API then waits in
        a helper thread instead)."""
        return all(isinstance(a, _Adapter) for a in self.session.adapters.values())

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
        abort: AbortHandle | None = None,
    ) -> TransportResponse:
        started = time.monotonic()
        shown = redact_url(request.url)
        secrets = secret_values(request.headers, request.url)
        gate = _Gate(abort, None if first_byte_timeout is None else started + first_byte_timeout)
        if abort is not None and abort.aborted:
            raise StreamCancelled("the request was cancelled before it was sent")

        def cancelled() -> bool:
            return abort is not None and abort.aborted

        _CURRENT.gate = gate
        try:
            resp = self.session.request(
                request.method,
                request.url,
                headers={k: encode_header_value(v) for k, v in request.headers.items()},
                data=request.body,
                stream=True,
                # urllib3's read limit is per recv; the gate enforces the real header deadline
                timeout=(connect_timeout, first_byte_timeout),
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout as exc:
            if cancelled():
                raise StreamCancelled("the request was cancelled while connecting") from None
            raise ConnectTimeout(
                f"connect timeout: could not connect to {shown} within {connect_timeout:g}s "
                f"(gave up after {time.monotonic() - started:.3f}s); check the host and network, "
                "or raise Timeouts.connect"
                if connect_timeout is not None
                else f"connect timeout: {scrub(str(exc), secrets)}",
                limit=connect_timeout,
                elapsed=time.monotonic() - started,
            ) from None
        except requests.exceptions.ReadTimeout as exc:
            if cancelled():
                raise StreamCancelled("the request was cancelled while waiting for the response") from None
            if _in_connect_phase(exc):
                raise ConnectTimeout(
                    f"connect timeout: the TLS handshake with {shown} did not finish within "
                    f"{connect_timeout}s (gave up after {time.monotonic() - started:.3f}s); check the "
                    "host and network, or raise Timeouts.connect",
                    limit=connect_timeout,
                    elapsed=time.monotonic() - started,
                ) from None
            raise _first_byte_timeout(shown, first_byte_timeout, started) from None
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"{_tls_hint(exc)} ({shown}): {scrub(_short(exc), secrets)}") from None
        except requests.exceptions.InvalidHeader as exc:
            if "Content-Length" in str(exc):
                raise RemoteProtocolError(
                    f"the response from {shown} has conflicting Content-Length headers: the server "
                    "(or a proxy) sent a malformed response; report it to the server's operator"
                ) from None
            raise ConfigurationError(
                f"cannot send this request: {scrub(str(exc), secrets)}; check the header values"
            ) from None
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
        ) as exc:
            raise ConfigurationError(
                f"cannot send this request to {shown}: {scrub(str(exc), secrets)}; check base_url"
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if cancelled():
                raise StreamCancelled("the request was cancelled while waiting for the response") from None
            root = _root_os_error(exc)
            if (
                isinstance(root, TimeoutError)
                and gate.deadline is not None
                and time.monotonic() >= gate.deadline
            ):
                raise _first_byte_timeout(shown, first_byte_timeout, started) from None
            raise TransportError(_connection_message(request.url, shown, exc, secrets)) from None
        finally:
            _CURRENT.gate = None
        gate.deadline = None  # the headers are in: from now on each read sets its own limit
        try:
            return _RequestsResponse(resp, gate, shown)
        except BaseException:
            resp.close()
            raise


def _first_byte_timeout(shown: str, limit: float | None, started: float) -> FirstByteTimeout:
    elapsed = time.monotonic() - started
    return FirstByteTimeout(
        f"first-byte timeout: no complete response headers from {shown} within {limit}s "
        f"(waited {elapsed:.3f}s); the server accepted the request but did not answer — retry, "
        "or raise Timeouts.first_byte",
        limit=limit,
        elapsed=elapsed,
    )


def _connection_message(url: str, shown: str, exc: BaseException, secrets: list[str]) -> str:
    """Short, like the h11 adapter's: where, the errno, what to check."""
    try:
        parts = urllib3.util.parse_url(url)
        where = f"{parts.host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    except Exception:
        where = shown
    root = _root_os_error(exc)
    text = scrub(_short(exc), secrets)
    if isinstance(root, (ConnectionRefusedError, socket.gaierror)) or "NewConnectionError" in repr(exc):
        return (
            f"could not connect to {where} ({shown}): {text}; check the URL and that the server is "
            "running (and any proxy settings: HTTP(S)_PROXY), then retry"
        )
    return f"no response from {where} ({shown}): {text}; retry, and check the URL and any proxy settings"


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
    """The socket under a urllib3 response (a foreign session's), to cancel it."""
    conn = getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


_DECODABLE = frozenset(c.lower() for c in urllib3.response.HTTPResponse.CONTENT_DECODERS) | {"identity"}


class _RequestsResponse:
    """A ``TransportResponse`` over a streamed ``requests.Response``."""

    def __init__(self, resp: requests.Response, gate: _Gate, shown_url: str) -> None:
        self._resp = resp
        self._raw: Any = resp.raw
        self._gate = gate
        self.status: int = resp.status_code
        raw_headers = getattr(self._raw, "headers", None)
        items = list(raw_headers.items()) if raw_headers is not None else list(resp.headers.items())
        self.headers: Mapping[str, str] = Headers(items)
        self.url: str = shown_url
        self._sock = gate.sock if gate.sock is not None else _find_socket(self._raw)
        if gate.abort is not None and self._sock is not None:
            gate.abort.detach(self._sock)  # from now on close() is how to stop it
        encoding = self.headers.get("content-encoding", "")
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        unknown = [c for c in codings if c not in _DECODABLE]
        if unknown:
            raise RemoteProtocolError(
                f"the response from {shown_url} uses Content-Encoding {encoding!r}, which this "
                f"installation cannot decode ({', '.join(unknown)}); ask for Accept-Encoding: identity "
                "or gzip, or install the decoder (brotli / zstandard)"
            )
        self._encoded = any(c != "identity" for c in codings)
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
            if self._gate.sock is not None:
                self._gate.read_timeout = timeout  # applied right before the next recv, if any
            elif self._sock is not None and self._sock.fileno() != -1:
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
        text = "incomplete read"
    elif "reset" in text.lower():
        what = "the connection was reset by the server"
        text = _short(exc)
    else:
        what = "the connection failed while reading the body"
        text = _short(exc)
    return f"{what} ({url}): {text}; retry the request"
