"""Chat streams over WebSocket: SLOP chunk JSON, one text message per chunk.

Some chat servers stream over a WebSocket instead of HTTP: the client sends its request as one
text message and the server answers with one text message per event, each a SLOP chunk object
(``{"type": "content", ...}`` … ``{"type": "done"}``; see ``sansstream.providers.slop``). This
module holds both ends, on plain sockets plus ``wsproto`` (the sans-IO WebSocket state machine;
install with ``pip install sansstream[websocket]``; it is imported only when used):

- ``websocket_chat(url, request)`` connects, sends ``request`` (JSON), and returns a
  ``WebSocketStream`` that yields chunks as messages arrive;
- ``serve_websocket(sock, handler)`` answers one accepted connection: handshake (which
  ``authorize`` may refuse with an HTTP status), read the request message, send
  ``handler(request)``'s chunks while a reader thread answers pings and the client's close,
  close; ``send_chunks`` is the sending half alone;
- ``WebSocketChunkServer(handler)`` runs that on a loopback port in a thread (tests, demos).

JSON goes on the wire by the library's one rule (``sansstream.core._wirejson.dumps_wire``): lone
surrogates are escaped, NaN and Infinity are refused (a chunk holding one ends the reply with an
in-band ``error`` message; a request holding one is refused before connecting).

Strategy on the client: the text of each message is fed, as one NDJSON line, to the same
``StreamDecoder`` that reads SLOP over HTTP, so error handling is the library's usual one: an
``error`` chunk raises ``ProviderError`` after the chunks before it (or is yielded with
``raise_errors=False``), and a connection closed before ``done`` raises ``IncompleteStreamError``
(unless ``strict=False``).

Example::

    from sansstream.server import stream_response
    from sansstream.websocket import WebSocketChunkServer, websocket_chat

    def authorize(handshake):
        if handshake.origin not in (None, "https://chat.example"):
            handshake.refuse(403, "foreign origin")

    def handler(request, handshake):
        return stream_response(f"Hi {handshake.header('x-user', 'there')}")

    with WebSocketChunkServer(handler, authorize=authorize) as server:
        with websocket_chat(server.url, {"messages": [{"role": "user", "content": "hi"}]}) as stream:
            for chunk in stream:
                if chunk.type == "content":
                    print(chunk.text, end="")
"""

from __future__ import annotations

import inspect
import json
import re
import select
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from .core import dumps_wire
from .model import (
    END,
    NEED_DATA,
    ChatResult,
    Chunk,
    ConfigurationError,
    IncompleteStreamError,
    JSONValue,
    LocalProtocolError,
    ProviderError,
    RemoteProtocolError,
    SansStreamError,
    StreamError,
    TransportError,
)
from .server import chunk_encoder

if TYPE_CHECKING:
    import wsproto
    import wsproto.events

__all__ = [
    "WebSocketStream",
    "WebSocketChunkServer",
    "WebSocketRequest",
    "WebSocketClosedError",
    "RefuseHandshake",
    "websocket_chat",
    "serve_websocket",
    "send_chunks",
]

_RECV_SIZE = 65536
# A request message is a chat request (messages, options): generous, but bounded so a peer cannot
# make the server buffer without end before it has even started answering.
MAX_REQUEST_SIZE = 8 * 1024 * 1024
# A refused upgrade's body is an error page: keep enough of it to explain, no more.
_MAX_REJECT_BODY = 64 * 1024


def _wsproto() -> Any:
    try:
        import wsproto
        import wsproto.events
    except ImportError:
        raise ConfigurationError(
            "WebSocket support needs the wsproto package: pip install 'sansstream[websocket]'"
        ) from None
    return wsproto


class WebSocketClosedError(IncompleteStreamError):
    """The WebSocket connection closed before the stream's ``done`` chunk. ``code`` and
    ``reason`` are the server's close code and reason (1006 and ``""`` when the connection
    dropped without a close frame); ``partial`` holds what was assembled before the close."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        reason: str = "",
        partial: ChatResult | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message, partial=partial, provider=provider)
        self.code = code
        self.reason = reason


def _message_line(text: str) -> bytes:
    """One NDJSON line for the text of one message. Compact JSON has no raw newline; a peer that
    pretty-prints is re-serialised so the line stays one line."""
    if "\n" in text or "\r" in text:
        try:
            # ASCII escapes: a lone surrogate from a "\ud83d" escape stays an escape.
            text = json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":"))
        except ValueError:
            raise RemoteProtocolError(
                f"WebSocket message is not a JSON chunk object: {text[:80]!r}"
            ) from None
    return text.encode("utf-8") + b"\n"  # wsproto decoded it strictly: no lone surrogate


class WebSocketStream:
    """The client end of one chat over a WebSocket. Iterate it for chunks; ``result()`` runs to
    the end and returns the ``ChatResult``; use it as a context manager to always close.

    Every chunk that arrived before a failure is delivered before the failure is raised: a
    binary message (``RemoteProtocolError``, the connection is closed with 1003), a message that
    is not a JSON chunk (``RemoteProtocolError``), a close before ``done``
    (``WebSocketClosedError``, an ``IncompleteStreamError`` carrying the close code and reason).
    ``close_code`` and ``close_reason`` tell how the server closed (``None`` while open)."""

    def __init__(
        self,
        sock: socket.socket,
        ws: wsproto.WSConnection,
        *,
        strict: bool = True,
        raise_errors: bool = True,
        timeout: float | None = None,
    ) -> None:
        from .providers import StreamDecoder

        self._sock = sock
        self._ws = ws
        self._timeout = timeout
        self._decoder = StreamDecoder("slop", framing="ndjson", strict=strict, raise_errors=raise_errors)
        self._parts: list[str] = []  # fragments of a text message split across frames
        self._closed = False
        self._iterating = False
        self._pending: SansStreamError | None = None  # raised once the chunks before it are out
        self.close_code: int | None = None
        self.close_reason: str | None = None

    def __iter__(self) -> Iterator[Chunk]:
        if self._iterating:
            raise LocalProtocolError("a WebSocketStream can be iterated only once")
        self._iterating = True
        try:
            while True:
                try:
                    chunk = self._decoder.next_chunk()
                except IncompleteStreamError as exc:
                    raise self._closed_error(exc) from None
                if chunk is END:
                    return
                if chunk is NEED_DATA:
                    self._pump()
                    continue
                yield chunk
                if chunk.type == "done":
                    self.close()
        finally:
            self.close()

    def _closed_error(self, exc: IncompleteStreamError) -> IncompleteStreamError:
        if self.close_code is None:
            return exc
        reason = f" ({self.close_reason})" if self.close_reason else ""
        how = (
            "dropped without a close frame"
            if self.close_code == 1006
            else f"closed with code {self.close_code}"
        )
        return WebSocketClosedError(
            f"the WebSocket connection {how}{reason} before the stream's done chunk: {exc}",
            code=self.close_code,
            reason=self.close_reason or "",
            partial=exc.partial,
            provider=exc.provider,
        )

    def result(self) -> ChatResult:
        """Run to the end of the stream and return what was assembled."""
        if not self._iterating:
            for _ in self:
                pass
        return self._decoder.result()

    def _pump(self) -> None:
        """Read from the socket until at least one message was handed to the decoder, or the
        connection ended (then the decoder is told the input ended). A failure found after a
        message was handed over waits for the next call, so that message's chunk comes first."""
        events = _wsproto().events
        if self._pending is not None:
            error, self._pending = self._pending, None
            raise error
        if self._closed:
            self._decoder.receive_data(b"")
            return
        while True:
            try:
                data = self._sock.recv(_RECV_SIZE)
            except TimeoutError:
                from .model import ReadTimeout

                raise ReadTimeout(limit=self._timeout) from None
            except OSError as exc:
                raise TransportError(f"WebSocket connection failed while reading: {exc}") from None
            self._ws.receive_data(data or None)
            delivered = False
            ended = not data
            for event in self._ws.events():
                failure: SansStreamError | None = None
                if isinstance(event, events.TextMessage):
                    self._parts.append(event.data)
                    if event.message_finished:
                        text = "".join(self._parts)
                        self._parts.clear()
                        try:
                            self._decoder.receive_data(_message_line(text))
                            delivered = True
                        except RemoteProtocolError as exc:
                            failure = exc
                elif isinstance(event, events.BytesMessage):
                    failure = RemoteProtocolError(
                        "the WebSocket peer sent a binary message; chunks travel as text (JSON) messages"
                    )
                    self._close_with(1003, "binary messages are not supported")
                elif isinstance(event, events.Ping):
                    self._send(event.response())
                elif isinstance(event, events.CloseConnection):
                    self.close_code = event.code
                    self.close_reason = event.reason or ""
                    self._send_quietly(event.response())
                    ended = True
                if failure is not None:
                    if not delivered:
                        raise failure
                    self._pending = failure  # after the chunks already handed over
                    self.close()
                    return
            if ended:
                if self.close_code is None:
                    self.close_code, self.close_reason = 1006, ""
                self.close()
                self._decoder.receive_data(b"")
                return
            if delivered:
                return

    def _send(self, event: Any) -> None:
        try:
            self._sock.sendall(self._ws.send(event))
        except OSError as exc:
            raise TransportError(f"WebSocket connection failed while sending: {exc}") from None

    def _send_quietly(self, event: Any) -> None:
        try:
            self._sock.sendall(self._ws.send(event))
        except Exception:  # closing: the peer may already be gone
            pass

    def _close_with(self, code: int, reason: str) -> None:
        wsp = _wsproto()
        if self._ws.state is wsp.connection.ConnectionState.OPEN:
            self._send_quietly(wsp.events.CloseConnection(code=code, reason=reason))

    def close(self) -> None:
        """Close the connection (with a normal close frame when it is still open). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._close_with(1000, "")
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> WebSocketStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header_bytes(headers: Iterable[tuple[str | bytes, str | bytes]]) -> list[tuple[bytes, bytes]]:
    """Extra request headers as bytes, checked the way the HTTP transports check theirs. Values
    are never quoted in messages: they may be secrets (tokens, keys)."""
    out: list[tuple[bytes, bytes]] = []
    for pair in headers:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise ConfigurationError("headers must be (name, value) pairs") from None
        if isinstance(name, str):
            try:
                name_bytes = name.encode("ascii")
            except UnicodeEncodeError:
                name_bytes = b""
        elif isinstance(name, bytes):
            name_bytes = name
        else:
            raise ConfigurationError(f"a header name must be str or bytes, not {type(name).__name__}")
        if not _TOKEN.fullmatch(name_bytes):
            raise ConfigurationError(
                f"the header name {name!r} is not a valid HTTP field name (letters, digits and "
                "!#$%&'*+-.^_`|~ only); fix the name"
            )
        label = name_bytes.decode("ascii")
        if isinstance(value, str):
            try:
                value_bytes = value.encode("latin-1")
            except UnicodeEncodeError:
                raise ConfigurationError(
                    f"the value of header {label!r} has characters outside Latin-1, which an HTTP "
                    "header cannot carry as text; encode it yourself (e.g. value.encode('utf-8') "
                    "passed as bytes, or percent-encoding) as the server expects"
                ) from None
        elif isinstance(value, bytes):
            value_bytes = value
        else:
            raise ConfigurationError(
                f"the value of header {label!r} must be str or bytes, not {type(value).__name__}"
            )
        if any(c in value_bytes for c in b"\r\n\x00"):
            raise ConfigurationError(
                f"the value of header {label!r} contains CR, LF or NUL, which would end the header "
                "and could inject others; remove them"
            )
        out.append((name_bytes, value_bytes.strip(b" \t")))
    return out


def websocket_chat(
    url: str,
    request: Any,
    *,
    headers: Iterable[tuple[str | bytes, str | bytes]] = (),
    timeout: float | None = 30.0,
    strict: bool = True,
    raise_errors: bool = True,
    ssl_context: ssl.SSLContext | None = None,
) -> WebSocketStream:
    """Connect to ``url`` (``ws://`` or ``wss://``), send ``request`` as one JSON text message, and
    return the stream of chunks. ``timeout`` bounds connecting and each read (seconds).

    ``headers`` are extra handshake headers (``str`` values are sent as Latin-1, ``bytes`` as
    they are); a name that is no HTTP token, a value outside Latin-1 or holding CR, LF or NUL is
    refused with ``ConfigurationError`` before connecting, and so is a request that JSON cannot
    carry (NaN, Infinity: ``LocalProtocolError``). A refused upgrade raises ``HTTPStatusError``
    with the status and the server's body."""
    wsp = _wsproto()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise ConfigurationError(f"a WebSocket URL looks like ws://host:port/path, got {url!r}")
    extra = _header_bytes(headers)
    body = dumps_wire(request)
    port = parsed.port or (443 if parsed.scheme == "wss" else 80)
    target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    try:
        sock = socket.create_connection((parsed.hostname, port), timeout=timeout)
    except TimeoutError:
        from .model import ConnectTimeout

        raise ConnectTimeout(limit=timeout) from None
    except OSError as exc:
        raise TransportError(f"cannot connect to {parsed.hostname}:{port}: {exc}") from None
    try:
        if parsed.scheme == "wss":
            context = ssl_context or ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=parsed.hostname)
        ws = wsp.WSConnection(wsp.ConnectionType.CLIENT)
        host = parsed.hostname if parsed.port is None else f"{parsed.hostname}:{parsed.port}"
        sock.sendall(ws.send(wsp.events.Request(host=host, target=target, extra_headers=extra)))
        _await_accept(sock, ws)
        sock.sendall(ws.send(wsp.events.TextMessage(data=body)))
    except BaseException:
        sock.close()
        raise
    return WebSocketStream(sock, ws, strict=strict, raise_errors=raise_errors, timeout=timeout)


def _await_accept(sock: socket.socket, ws: wsproto.WSConnection) -> None:
    events = _wsproto().events
    rejected: Any = None
    body = bytearray()
    while True:
        try:
            data = sock.recv(_RECV_SIZE)
        except OSError as exc:
            raise TransportError(f"WebSocket handshake failed: {exc}") from None
        if not data and rejected is None:
            raise TransportError("the server closed the connection during the WebSocket handshake")
        ws.receive_data(data or None)
        finished = not data
        for event in ws.events():
            if isinstance(event, events.AcceptConnection):
                return
            if isinstance(event, events.RejectConnection):
                rejected = event
                finished = finished or not event.has_body
            elif isinstance(event, events.RejectData):
                body += event.data[: max(0, _MAX_REJECT_BODY - len(body))]
                finished = finished or event.body_finished
        if rejected is not None and finished:
            from .model import HTTPStatusError

            text = bytes(body).decode("utf-8", "replace")
            raise HTTPStatusError(
                f"the server refused the WebSocket upgrade with HTTP {rejected.status_code}"
                + (f": {text[:200]}" if text else ""),
                status=rejected.status_code,
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in rejected.headers},
                body=text,
            )


# --- server side ------------------------------------------------------------------------------


class RefuseHandshake(SansStreamError):
    """Raise it from ``authorize`` (or call ``WebSocketRequest.refuse``) to answer the upgrade
    request with an HTTP error instead of accepting it: ``status`` (403 by default) and a short
    plain-text ``reason`` as the body. Nothing of the WebSocket protocol has started then, so a
    browser's ``WebSocket`` fires ``error`` and ``close`` (code 1006) at once."""

    def __init__(self, status: int = 403, reason: str = "", *, headers: Iterable[tuple[str, str]] = ()):
        if not 400 <= status <= 599:
            raise LocalProtocolError(f"refuse a WebSocket upgrade with a 4xx or 5xx status, not {status}")
        super().__init__(f"WebSocket upgrade refused with HTTP {status}" + (f": {reason}" if reason else ""))
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)


def _header_text(value: bytes) -> str:
    """A header value as text: UTF-8 when it is (what browsers and most clients send for
    non-ASCII), else Latin-1 (HTTP's historical charset), so no value is ever lost."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


@dataclass(frozen=True, eq=False)
class WebSocketRequest:
    """The opening handshake of one WebSocket connection, as the server received it.

    ``authorize`` sees it before the upgrade is answered (and may refuse it); a handler that takes
    two arguments gets it next to the request message. ``headers`` holds every request header in
    order, names lower-cased, values decoded as UTF-8 (Latin-1 when not UTF-8); ``raw_headers``
    the bytes. ``context`` is a dict for the app's own use (``authorize`` can leave the
    authenticated user there for the handler). ``closed`` is set as soon as the client closed the
    connection or went away: a handler blocked on a slow upstream can check it between waits
    (a handler's generator is closed at its next chunk in any case).
    """

    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    raw_headers: tuple[tuple[bytes, bytes], ...] = field(repr=False)
    subprotocols: tuple[str, ...] = ()
    client: tuple[str, int] | None = None
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default``."""
        key = name.lower()
        for header_name, value in self.headers:
            if header_name == key:
                return value
        return default

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header: the page a browser connection comes from (``None`` for most
        non-browser clients). Check it to refuse foreign pages (cross-site WebSocket hijacking)."""
        return self.header("origin")

    def refuse(self, status: int = 403, reason: str = "") -> NoReturn:
        """Refuse the upgrade with HTTP ``status`` (from ``authorize``)."""
        raise RefuseHandshake(status, reason)


Handler = Callable[[Any], Iterable[Chunk]] | Callable[[Any, WebSocketRequest], Iterable[Chunk]]
"""``handler(request_message)`` or ``handler(request_message, websocket_request)``."""


def _wants_request(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` takes the ``WebSocketRequest`` as a second positional argument."""
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):  # no signature to read (some builtins): the one-argument form
        return False
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def _texts(values: list[Any]) -> list[str]:
    """The JSON text of each value a SLOP NDJSON encoder produced (``JSONValue``s)."""
    return [dumps_wire(value.value if isinstance(value, JSONValue) else value) for value in values]


def _slop_messages(
    chunks: Iterable[Chunk], send: Callable[[str], bool], closing: Callable[[], bool] = lambda: False
) -> tuple[bool, LocalProtocolError | None]:
    """Send each chunk SLOP has an event for as one text message, under ``sse_stream``'s rules
    (choice 0 only, nothing after an error, ``done`` added when missing; a value that cannot
    be written becomes an in-band error that ends the reply). ``send`` returns False once the
    connection is closing, and so does ``closing()`` (checked before each chunk, so a handler
    whose chunks write nothing is stopped too). Returns (whether everything was sent, the
    refusal if there was one)."""
    encoder = chunk_encoder("slop", framing="ndjson")

    def send_values(values: list[Any]) -> bool:
        return all(send(text) for text in _texts(values))

    refused: LocalProtocolError | None = None
    for chunk in chunks:
        if closing():
            return False, None
        try:
            texts = _texts(encoder.encode(chunk))
        except LocalProtocolError as exc:
            if encoder.terminated:  # a chunk after done: the caller's mistake
                raise
            refused = exc
            error = ProviderError(
                f"the server could not write the rest of the reply: {exc}",
                provider="sansstream",
                type="server_error",
                code="unencodable_value",
            )
            return send_values(encoder.encode(StreamError(error))), refused
        if not all(send(text) for text in texts):
            return False, None
        if encoder.terminated:
            break  # done or error: the response is over; stop pulling from the source
    return send_values(encoder.close()), refused


def send_chunks(
    sock: socket.socket, ws: wsproto.WSConnection, chunks: Iterable[Chunk], *, close: bool = True
) -> None:
    """Send each chunk that SLOP has an event for as one text message (the ``ChunkEncoder``
    rules of ``sansstream.server`` apply: choice 0 only, nothing after an error); a stream that
    did not end with ``done`` or ``error`` gets ``done``. JSON is written by the one wire rule
    (``dumps_wire``): a value that cannot be written ends the reply with an in-band ``error``
    message instead. Then, when ``close``, a normal close frame.

    This is the sending half alone, for a connection driven by your own code (it reads nothing,
    so it cannot answer pings meanwhile); ``serve_websocket`` does both."""
    events = _wsproto().events

    def send(text: str) -> bool:
        sock.sendall(ws.send(events.TextMessage(data=text)))
        return True

    _slop_messages(chunks, send)
    if close:
        sock.sendall(ws.send(events.CloseConnection(code=1000)))


class _ServerConnection:
    """One accepted connection after the upgrade: a reader thread answers pings, the client's
    close and bad messages at once while the serving thread sends the handler's chunks. One lock
    covers the ``wsproto`` state and every write, so frames never interleave."""

    def __init__(self, sock: socket.socket, ws: wsproto.WSConnection, closed: threading.Event) -> None:
        self.sock = sock
        self.ws = ws
        self.lock = threading.Lock()
        self.closed = closed  # the closing handshake started (either side), or the peer is gone
        self.finished = threading.Event()  # the reader stopped: both closes seen, EOF or error
        self.request_ready = threading.Event()
        self.request: Any = None
        self.has_request = False
        self._parts: list[str] = []
        self._size = 0
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="sansstream-ws-read", daemon=True)

    def start(self) -> None:
        self._reader.start()

    # -- writing (serving thread and reader) --

    def send_text(self, text: str) -> bool:
        """Send one text message; False when the connection is closing or gone."""
        events = _wsproto().events
        with self.lock:
            if self.closed.is_set() or self.ws.state is not _wsproto().connection.ConnectionState.OPEN:
                return False
            try:
                self.sock.sendall(self.ws.send(events.TextMessage(data=text)))
            except OSError:
                self._gone()
                return False
        return True

    def close(self, code: int, reason: str | None = None) -> None:
        """Start the closing handshake from our side (no-op once it has started)."""
        with self.lock:
            self._close_locked(code, reason)

    def _close_locked(self, code: int, reason: str | None) -> None:
        self.closed.set()
        self.request_ready.set()  # a serving thread waiting for the request gives up
        if self.ws.state is _wsproto().connection.ConnectionState.OPEN:
            try:
                self.sock.sendall(self.ws.send(_wsproto().events.CloseConnection(code=code, reason=reason)))
            except OSError:
                self._gone()

    def _gone(self) -> None:
        self.closed.set()
        self.request_ready.set()
        self.finished.set()

    def _shutdown(self) -> None:
        # The server closes TCP first once the closing handshake is complete (RFC 6455 §7.1.1),
        # which is what a client waits for before it reports the close.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._gone()

    # -- reading (reader thread) --

    def _read_loop(self) -> None:
        try:
            with self.lock:
                self._handle_events()  # bytes that came with the handshake
            while not self._stop.is_set() and not self.finished.is_set():
                if not self._readable(0.05):
                    continue
                with self.lock:
                    try:
                        data = self.sock.recv(_RECV_SIZE)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except TimeoutError:
                        continue
                    except OSError:
                        self._gone()
                        return
                    self.ws.receive_data(data or None)
                    self._handle_events()
        except Exception:  # a protocol violation by the client (wsproto raised): drop it
            with self.lock:
                self._close_locked(1002, "protocol error")
            self._shutdown()

    def _readable(self, wait: float) -> bool:
        pending = getattr(self.sock, "pending", None)
        if callable(pending) and pending():
            return True  # TLS: decrypted bytes already buffered, select() would not see them
        try:
            ready, _, _ = select.select([self.sock], [], [], wait)
        except (OSError, ValueError):  # closed under us
            self._gone()
            return False
        return bool(ready)

    def _handle_events(self) -> None:
        """Process what wsproto parsed; called with the lock held."""
        wsp = _wsproto()
        events = wsp.events
        for event in self.ws.events():
            if isinstance(event, events.Ping):
                if self.ws.state is wsp.connection.ConnectionState.OPEN:
                    self.sock.sendall(self.ws.send(event.response()))  # RFC 6455 §5.5.2
            elif isinstance(event, events.CloseConnection):
                state = self.ws.state
                try:
                    if state is wsp.connection.ConnectionState.REMOTE_CLOSING:
                        # answer the client's close at once, whatever the handler is doing
                        self.sock.sendall(self.ws.send(event.response()))
                    elif state is wsp.connection.ConnectionState.OPEN:
                        # wsproto reports a malformed frame as a close it did not send: send it
                        self.sock.sendall(
                            self.ws.send(events.CloseConnection(code=event.code, reason=event.reason))
                        )
                except OSError:
                    pass
                self.closed.set()
                self.request_ready.set()
                self._shutdown()
                return
            elif isinstance(event, events.BytesMessage):
                self._close_locked(1003, "binary messages are not supported; send the request as JSON text")
            elif isinstance(event, events.TextMessage):
                self._text(event)

    def _text(self, event: Any) -> None:
        if self.has_request or self.closed.is_set():
            return  # one request per connection: later text messages are ignored
        self._parts.append(event.data)
        self._size += len(event.data)
        if self._size > MAX_REQUEST_SIZE:
            self._parts.clear()
            self._close_locked(1009, "request too large")
            return
        if not event.message_finished:
            return
        text = "".join(self._parts)
        self._parts.clear()
        try:
            self.request = json.loads(text)
        except ValueError:
            self._close_locked(1007, "request is not JSON")
            return
        self.has_request = True
        self.request_ready.set()

    def finish(self, close_timeout: float) -> None:
        """Wait (bounded) for the client's close so it reads every message before TCP goes away
        (a reset could discard data it has not read yet), then stop the reader."""
        self.finished.wait(close_timeout)
        self._stop.set()
        if self._reader.is_alive():
            self._reader.join(close_timeout + 1)


def _reject(sock: socket.socket, ws: wsproto.WSConnection, refusal: RefuseHandshake) -> None:
    events = _wsproto().events
    phrase = HTTPStatus(refusal.status).phrase if refusal.status in _STATUSES else ""
    body = (refusal.reason or phrase).encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers]
    out = ws.send(events.RejectConnection(status_code=refusal.status, headers=headers, has_body=True))
    out += ws.send(events.RejectData(data=body, body_finished=True))
    sock.sendall(out)


_STATUSES = {status.value for status in HTTPStatus}


def _handshake(
    sock: socket.socket,
    ws: wsproto.WSConnection,
    authorize: Callable[[WebSocketRequest], None] | None,
    on_error: Callable[[Exception], None] | None,
) -> WebSocketRequest | None:
    """Read the upgrade request and answer it (accept, or refuse by ``authorize``)."""
    wsp = _wsproto()
    events = wsp.events
    while True:
        data = sock.recv(_RECV_SIZE)
        try:
            ws.receive_data(data or None)
            found = [event for event in ws.events() if isinstance(event, events.Request)]
        except wsp.utilities.RemoteProtocolError as exc:  # not a WebSocket upgrade request
            if exc.event_hint is not None:
                try:
                    sock.sendall(ws.send(exc.event_hint))
                except Exception:  # best effort: the client is no WebSocket client anyway
                    pass
            return None
        if found:
            break
        if not data:
            return None
    event = found[0]
    target = urllib.parse.urlsplit(event.target)
    raw = tuple((bytes(name), bytes(value)) for name, value in event.extra_headers)
    try:
        peer = sock.getpeername()
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
    except OSError:
        client = None
    request = WebSocketRequest(
        path=target.path or "/",
        query=target.query,
        headers=tuple((name.decode("latin-1").lower(), _header_text(value)) for name, value in raw),
        raw_headers=raw,
        subprotocols=tuple(event.subprotocols),
        client=client,
    )
    if authorize is not None:
        try:
            authorize(request)
        except RefuseHandshake as refusal:
            _reject(sock, ws, refusal)
            return None
        except Exception as exc:  # the app's check failed: refuse rather than let anyone in
            if on_error is not None:
                on_error(exc)
            _reject(sock, ws, RefuseHandshake(500, "the server could not check this request"))
            return None
    sock.sendall(ws.send(events.AcceptConnection()))
    return request


def serve_websocket(
    sock: socket.socket,
    handler: Handler,
    *,
    authorize: Callable[[WebSocketRequest], None] | None = None,
    timeout: float | None = 30.0,
    close_timeout: float = 2.0,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Answer one accepted connection: the upgrade, the request message (JSON text), then
    ``handler``'s chunks as SLOP text messages, then a normal close. Closes ``sock``.

    - ``authorize(websocket_request)`` runs before the upgrade is answered: raise
      ``RefuseHandshake(status, reason)`` (or call ``websocket_request.refuse(...)``) to answer
      with that HTTP status instead, e.g. for a foreign ``Origin`` or a missing token. If it
      raises anything else the upgrade is refused with 500 and ``on_error`` gets the exception.
    - ``handler(message)`` or ``handler(message, websocket_request)`` (two positional
      parameters) returns the chunks; it runs in the calling thread.
    - While the chunks are sent, a reader thread answers pings with pongs (RFC 6455 §5.5.2), so
      keepalive pings of any client never time out however long the reply. A client's close is
      answered at once (the closing handshake completes immediately, the handler's generator is
      closed at its next chunk, ``websocket_request.closed`` is set meanwhile). A binary message
      is answered with close 1003, a request that is not JSON with 1007, one over
      ``MAX_REQUEST_SIZE`` with 1009, all at once; no request within ``timeout`` seconds with 1008.
    - If the handler raises, the connection is closed with 1011 and no ``done`` (the client
      reads a truncated stream) and ``on_error`` gets the exception. A chunk value that cannot
      be written as JSON (NaN, Infinity…) ends the reply with an in-band ``error`` message and
      a normal close, and ``on_error`` gets the ``LocalProtocolError``.

    ``timeout`` bounds the wait for the upgrade and the request and each write; ``close_timeout``
    the wait for the client's answer to our close.
    """
    wsp = _wsproto()
    ws = wsp.WSConnection(wsp.ConnectionType.SERVER)
    sock.settimeout(timeout)
    connection: _ServerConnection | None = None
    try:
        request = _handshake(sock, ws, authorize, on_error)
        if request is None:
            return
        connection = _ServerConnection(sock, ws, request.closed)
        connection.start()
        if not connection.request_ready.wait(timeout) and not connection.closed.is_set():
            connection.close(1008, "no request message received in time")
        if connection.has_request and not connection.closed.is_set():
            _serve_request(connection, handler, connection.request, request, on_error)
        connection.finish(close_timeout)
    except OSError:
        return  # the client went away: nothing to answer
    finally:
        if connection is not None:
            connection.finish(0)
        sock.close()


def _serve_request(
    connection: _ServerConnection,
    handler: Handler,
    message: Any,
    request: WebSocketRequest,
    on_error: Callable[[Exception], None] | None,
) -> None:
    chunks = _lazy(handler, message, request)
    try:
        complete, refused = _slop_messages(chunks, connection.send_text, connection.closed.is_set)
    except Exception as exc:
        # The handler failed mid-stream: close with 1011 (internal error) and no ``done``, so
        # the client sees a truncated stream rather than a complete one.
        if on_error is not None:
            on_error(exc)
        connection.close(1011, "handler failed")
        return
    finally:
        chunks.close()  # the client closed mid-stream: stop the handler (its cleanup runs now)
    if refused is not None and on_error is not None:
        on_error(refused)
    if complete:
        connection.close(1000)


def _lazy(handler: Handler, message: Any, request: WebSocketRequest) -> Generator[Chunk, None, None]:
    """The handler's chunks, pulled lazily so a failure mid-way surfaces while sending, and
    closable so a client's close stops a generator handler."""
    if _wants_request(handler):
        yield from handler(message, request)  # type: ignore[call-arg]
    else:
        yield from handler(message)  # type: ignore[call-arg]


class WebSocketChunkServer:
    """A loopback WebSocket server answering each connection with ``serve_websocket``, in
    background threads. ``url`` is ``ws://127.0.0.1:<port>/``. Use it as a context manager; on
    exit the listening socket is closed and the threads are joined."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        authorize: Callable[[WebSocketRequest], None] | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        _wsproto()
        self._handler = handler
        self._authorize = authorize
        self._timeout = timeout
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()[:2]
        self.url = f"ws://{self.host}:{self.port}/"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[Exception] = []
        """Exceptions from the handler (each closed its connection with code 1011), from
        ``authorize`` (each refused with 500) and values that could not be written."""
        self._acceptor = threading.Thread(target=self._accept_loop, name="sansstream-ws-accept", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(
                target=serve_websocket,
                args=(conn, self._handler),
                kwargs={
                    "on_error": self.errors.append,
                    "authorize": self._authorize,
                    "timeout": self._timeout,
                },
                name="sansstream-ws-conn",
                daemon=True,
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(worker)
            worker.start()

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        for worker in self._threads:
            worker.join(timeout=5)

    def __enter__(self) -> WebSocketChunkServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
