"""Chat streams over WebSocket: SLOP chunk JSON, one text message per chunk.

Some chat servers stream over a WebSocket instead of HTTP: the client sends its request as one
text message and the server answers with one text message per event, each a SLOP chunk object
(``{"type": "content", ...}`` … ``{"type": "done"}``; see ``sansstream.providers.slop``). This
module holds both ends, on plain sockets plus ``wsproto`` (the sans-IO WebSocket state machine;
install with ``pip install sansstream[websocket]``; it is imported only when used):

- ``websocket_chat(url, request)`` connects, sends ``request`` (JSON), and returns a
  ``WebSocketStream`` that yields chunks as messages arrive;
- ``serve_websocket(sock, handler)`` answers one accepted connection: handshake, read the request
  message, send ``handler(request)``'s chunks, close; ``send_chunks`` is the sending half alone;
- ``WebSocketChunkServer(handler)`` runs that on a loopback port in a thread (tests, demos).

Strategy on the client: the text of each message is fed, as one NDJSON line, to the same
``StreamDecoder`` that reads SLOP over HTTP, so error handling is the library's usual one: an
``error`` chunk raises ``ProviderError`` after the chunks before it (or is yielded with
``raise_errors=False``), and a connection closed before ``done`` raises ``IncompleteStreamError``
(unless ``strict=False``).

Example::

    from sansstream.server import stream_response
    from sansstream.websocket import WebSocketChunkServer, websocket_chat

    with WebSocketChunkServer(lambda request: stream_response("Hi there")) as server:
        with websocket_chat(server.url, {"messages": [{"role": "user", "content": "hi"}]}) as stream:
            for chunk in stream:
                if chunk.type == "content":
                    print(chunk.text, end="")
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .model._chunks import Chunk
from .model._errors import (
    ConfigurationError,
    LocalProtocolError,
    RemoteProtocolError,
    TransportError,
)
from .model._events import END, NEED_DATA
from .model._result import ChatResult
from .server import chunk_encoder

if TYPE_CHECKING:
    import wsproto
    import wsproto.events

__all__ = [
    "WebSocketStream",
    "WebSocketChunkServer",
    "websocket_chat",
    "serve_websocket",
    "send_chunks",
]

_RECV_SIZE = 65536
# A request message is a chat request (messages, options): generous, but bounded so a peer cannot
# make the server buffer without end before it has even started answering.
MAX_REQUEST_SIZE = 8 * 1024 * 1024


def _wsproto() -> Any:
    try:
        import wsproto
        import wsproto.events
    except ImportError:
        raise ConfigurationError(
            "WebSocket support needs the wsproto package: pip install 'sansstream[websocket]'"
        ) from None
    return wsproto


def _message_line(text: str) -> bytes:
    """One NDJSON line for the text of one message. Compact JSON has no raw newline; a peer that
    pretty-prints is re-serialised so the line stays one line."""
    if "\n" in text or "\r" in text:
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            raise RemoteProtocolError(
                f"WebSocket message is not a JSON chunk object: {text[:80]!r}"
            ) from None
    return text.encode("utf-8") + b"\n"


class WebSocketStream:
    """The client end of one chat over a WebSocket. Iterate it for chunks; ``result()`` runs to
    the end and returns the ``ChatResult``; use it as a context manager to always close."""

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

    def __iter__(self) -> Iterator[Chunk]:
        if self._iterating:
            raise LocalProtocolError("a WebSocketStream can be iterated only once")
        self._iterating = True
        try:
            while True:
                chunk = self._decoder.next_chunk()
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

    def result(self) -> ChatResult:
        """Run to the end of the stream and return what was assembled."""
        if not self._iterating:
            for _ in self:
                pass
        return self._decoder.result()

    def _pump(self) -> None:
        """Read from the socket until at least one message was handed to the decoder, or the
        connection ended (then the decoder is told the input ended)."""
        events = _wsproto().events
        if self._closed:
            self._decoder.receive_data(b"")
            return
        while True:
            try:
                data = self._sock.recv(_RECV_SIZE)
            except TimeoutError:
                from .model._errors import ReadTimeout

                raise ReadTimeout(limit=self._timeout) from None
            except OSError as exc:
                raise TransportError(f"WebSocket connection failed while reading: {exc}") from None
            self._ws.receive_data(data or None)
            delivered = False
            ended = not data
            for event in self._ws.events():
                if isinstance(event, events.TextMessage):
                    self._parts.append(event.data)
                    if event.message_finished:
                        self._decoder.receive_data(_message_line("".join(self._parts)))
                        self._parts.clear()
                        delivered = True
                elif isinstance(event, events.BytesMessage):
                    raise RemoteProtocolError(
                        "the WebSocket peer sent a binary message; chunks travel as text (JSON) messages"
                    )
                elif isinstance(event, events.Ping):
                    self._send(event.response())
                elif isinstance(event, events.CloseConnection):
                    self._send_quietly(event.response())
                    ended = True
            if ended:
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

    def close(self) -> None:
        """Close the connection (with a normal close frame when it is still open). Idempotent."""
        if self._closed:
            return
        self._closed = True
        wsp = _wsproto()
        if self._ws.state is wsp.connection.ConnectionState.OPEN:
            self._send_quietly(wsp.events.CloseConnection(code=1000))
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


def websocket_chat(
    url: str,
    request: Any,
    *,
    headers: Iterable[tuple[str, str]] = (),
    timeout: float | None = 30.0,
    strict: bool = True,
    raise_errors: bool = True,
    ssl_context: ssl.SSLContext | None = None,
) -> WebSocketStream:
    """Connect to ``url`` (``ws://`` or ``wss://``), send ``request`` as one JSON text message, and
    return the stream of chunks. ``timeout`` bounds connecting and each read (seconds)."""
    wsp = _wsproto()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise ConfigurationError(f"a WebSocket URL looks like ws://host:port/path, got {url!r}")
    port = parsed.port or (443 if parsed.scheme == "wss" else 80)
    target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    try:
        sock = socket.create_connection((parsed.hostname, port), timeout=timeout)
    except TimeoutError:
        from .model._errors import ConnectTimeout

        raise ConnectTimeout(limit=timeout) from None
    except OSError as exc:
        raise TransportError(f"cannot connect to {parsed.hostname}:{port}: {exc}") from None
    try:
        if parsed.scheme == "wss":
            context = ssl_context or ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=parsed.hostname)
        ws = wsp.WSConnection(wsp.ConnectionType.CLIENT)
        host = parsed.hostname if parsed.port is None else f"{parsed.hostname}:{parsed.port}"
        sock.sendall(ws.send(wsp.events.Request(host=host, target=target, extra_headers=list(headers))))
        _await_accept(sock, ws)
        body = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        sock.sendall(ws.send(wsp.events.TextMessage(data=body)))
    except BaseException:
        sock.close()
        raise
    return WebSocketStream(sock, ws, strict=strict, raise_errors=raise_errors, timeout=timeout)


def _await_accept(sock: socket.socket, ws: wsproto.WSConnection) -> None:
    events = _wsproto().events
    while True:
        try:
            data = sock.recv(_RECV_SIZE)
        except OSError as exc:
            raise TransportError(f"WebSocket handshake failed: {exc}") from None
        if not data:
            raise TransportError("the server closed the connection during the WebSocket handshake")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, events.AcceptConnection):
                return
            if isinstance(event, events.RejectConnection):
                from .model._errors import HTTPStatusError

                raise HTTPStatusError(
                    f"the server refused the WebSocket upgrade with HTTP {event.status_code}",
                    status=event.status_code,
                )


# --- server side ------------------------------------------------------------------------------


def send_chunks(
    sock: socket.socket, ws: wsproto.WSConnection, chunks: Iterable[Chunk], *, close: bool = True
) -> None:
    """Send each chunk that SLOP has an event for as one text message (the ``ChunkEncoder``
    rules of ``sansstream.server`` apply: choice 0 only, nothing after an error); a stream that
    did not end with ``done`` or ``error`` gets ``done``. Then, when ``close``, a normal close
    frame."""
    wsp = _wsproto()
    encoder = chunk_encoder("slop", framing="ndjson")

    def send(values: list[Any]) -> None:
        for value in values:
            text = json.dumps(value.value, ensure_ascii=False, separators=(",", ":"))
            sock.sendall(ws.send(wsp.events.TextMessage(data=text)))

    for chunk in chunks:
        send(encoder.encode(chunk))
        if encoder.terminated:
            break  # done or error: the response is over; stop pulling from the source
    send(encoder.close())
    if close:
        sock.sendall(ws.send(wsp.events.CloseConnection(code=1000)))


def serve_websocket(
    sock: socket.socket,
    handler: Callable[[Any], Iterable[Chunk]],
    *,
    timeout: float | None = 30.0,
    on_error: Callable[[Exception], None] | None = None,
) -> None:
    """Answer one accepted connection: accept the upgrade, read the request message (JSON),
    send ``handler(request)``'s chunks, close. Closes ``sock``. If the handler raises, the
    connection is closed with code 1011 and no ``done`` (the client reads a truncated stream),
    and ``on_error`` is called with the exception."""
    wsp = _wsproto()
    events = wsp.events
    ws = wsp.WSConnection(wsp.ConnectionType.SERVER)
    sock.settimeout(timeout)
    parts: list[str] = []
    size = 0
    try:
        while True:
            data = sock.recv(_RECV_SIZE)
            ws.receive_data(data or None)
            request: Any = None
            got = False
            for event in ws.events():
                if isinstance(event, events.Request):
                    sock.sendall(ws.send(events.AcceptConnection()))
                elif isinstance(event, events.TextMessage):
                    parts.append(event.data)
                    size += len(event.data)
                    if size > MAX_REQUEST_SIZE:
                        sock.sendall(ws.send(events.CloseConnection(code=1009, reason="request too large")))
                        return
                    if event.message_finished:
                        text = "".join(parts)
                        try:
                            request = json.loads(text)
                        except ValueError:
                            sock.sendall(
                                ws.send(events.CloseConnection(code=1007, reason="request is not JSON"))
                            )
                            return
                        got = True
                elif isinstance(event, events.Ping):
                    sock.sendall(ws.send(event.response()))
                elif isinstance(event, events.CloseConnection):
                    sock.sendall(ws.send(event.response()))
                    return
            if got:
                try:
                    chunks = _lazy(handler, request)
                    send_chunks(sock, ws, chunks)
                except OSError:
                    raise
                except Exception as exc:
                    # The handler failed mid-stream: close with 1011 (internal error) and no
                    # ``done``, so the client sees a truncated stream rather than a complete one.
                    if on_error is not None:
                        on_error(exc)
                    sock.sendall(ws.send(events.CloseConnection(code=1011, reason="handler failed")))
                _drain_close(sock, ws)
                return
            if not data:
                return
    except OSError:
        return  # the client went away: nothing to answer
    finally:
        sock.close()


def _lazy(handler: Callable[[Any], Iterable[Chunk]], request: Any) -> Iterator[Chunk]:
    """The handler's chunks, pulled lazily so a failure mid-way surfaces while sending."""
    yield from handler(request)


def _drain_close(sock: socket.socket, ws: wsproto.WSConnection) -> None:
    """Wait (briefly) for the client's close frame so the client reads every message before the
    TCP connection goes away (a reset could otherwise discard data it has not read yet)."""
    events = _wsproto().events
    sock.settimeout(2.0)
    try:
        while True:
            data = sock.recv(_RECV_SIZE)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, events.CloseConnection):
                    return
    except OSError:
        return


class WebSocketChunkServer:
    """A loopback WebSocket server answering each connection with ``serve_websocket``, in
    background threads. ``url`` is ``ws://127.0.0.1:<port>/``. Use it as a context manager; on
    exit the listening socket is closed and the threads are joined."""

    def __init__(
        self, handler: Callable[[Any], Iterable[Chunk]], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        _wsproto()
        self._handler = handler
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()[:2]
        self.url = f"ws://{self.host}:{self.port}/"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[Exception] = []
        """Exceptions raised by the handler (each closed its connection with code 1011)."""
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
                kwargs={"on_error": self.errors.append},
                name="sansstream-ws-conn",
                daemon=True,
            )
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
