"""``connect_sse``: a general Server-Sent Events client with EventSource semantics.

Strategy: one generator owns the I/O loop. It opens the request through a transport, feeds each
byte slice to the sans-IO ``SSEParser`` and yields every message as soon as it is dispatched. When
the connection drops (a clean close, a reset, a read timeout) it waits — the server's ``retry:``
time, backed off while attempts deliver nothing, see ``_retry`` — and reconnects with
``Last-Event-ID``, as the WHATWG HTML standard's EventSource does ("reestablish the
connection"). A new parser per connection keeps the spec's rule that an event cut off by the
drop (no blank line yet) is discarded; the server resends it after the resume point.

Exactly once: the ID sent on reconnection is the last event ID the stream had set when it
dropped (the parser's ``last_event_id``, which every delivered event already reported), so every
event the server sends after that point is delivered once and none before it again — provided
the server honours ``Last-Event-ID`` (this client cannot tell a replay from new events).

Stopping, as EventSource does: HTTP 204 ends the stream quietly; a 2xx response that is not
``text/event-stream`` fails (``UnexpectedContentTypeError``); other statuses raise
``HTTPStatusError`` except 408/409/425/429/5xx, which are retried (with ``Retry-After`` as a
floor). Parse errors (an event over ``max_event_size``) are raised. After ``max_attempts``
connection attempts in a row without a new event, ``TransportError`` says so.

Threads: ``close()`` / ``cancel()`` may be called from any thread; they wake a wait between
attempts and close the open response, so the iterating thread stops at once (``StopIteration``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence

from ..core import DEFAULT_MAX_EVENT_SIZE, SSEParser
from ..model import (
    END,
    NEED_DATA,
    ConfigurationError,
    FirstTokenTimeout,
    HTTPStatusError,
    ReadTimeout,
    SansStreamError,
    ServerSentEvent,
    StreamCancelled,
    StreamTimeout,
    TotalTimeout,
    TransportError,
)
from ..providers import HTTPRequest
from ..transports import (
    AbortHandle,
    Timeouts,
    Transport,
    TransportResponse,
    check_content_type,
    get_transport,
    raise_for_status,
    redact_url,
    secret_values,
)
from ._engine import Deadlines, open_response
from ._retry import Backoff, ReconnectPolicy

__all__ = ["connect_sse", "EventSource", "DEFAULT_SSE_TIMEOUTS"]

DEFAULT_SSE_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, first_token=None, idle=None, read=None)
"""Event streams may be silent for hours between events, so there is no idle limit by default;
set ``idle`` (a little above the server's keepalive interval) to detect a dead connection and
reconnect. Connecting and the response headers are bounded so a dead server is noticed."""

_FATAL_TIMEOUTS = (TotalTimeout, FirstTokenTimeout)  # they count from the start: reconnecting cannot help
# Fetch normalises header values by stripping leading and trailing HTTP whitespace
_HTTP_WHITESPACE = " \t"
_DEFAULT_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}


class _Closed(Exception):
    """Internal: close() was called; unwinds the engine quietly."""


class EventSource:
    """An iterator of ``ServerSentEvent`` that reconnects like a browser's EventSource.

    Made by ``connect_sse``; nothing is sent until iteration starts. ``last_event_id`` is the
    ID that a reconnection sends (updated as events arrive); ``retry`` the server's reconnection
    time in ms (``None`` until it sends one); ``connections`` how many connections were opened;
    ``closed`` whether it has ended. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        transport: str | Transport | None = "requests",
        last_event_id: str = "",
        policy: ReconnectPolicy | None = None,
        timeout: Timeouts | float | None = DEFAULT_SSE_TIMEOUTS,
        method: str = "GET",
        body: bytes | str | None = None,
        max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
        on_connect: Callable[[TransportResponse], object] | None = None,
        secret_headers: Sequence[str] = (),
    ) -> None:
        if not isinstance(url, str) or not url:
            raise ConfigurationError(f"connect_sse needs a URL string, not {url!r}")
        if not isinstance(last_event_id, str) or any(c in last_event_id for c in "\x00\r\n"):
            raise ConfigurationError("last_event_id must be a str without NUL, CR or LF")
        self.url = url
        self.method = method.upper()
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.headers = dict(headers or {})
        self.policy = policy if policy is not None else ReconnectPolicy()
        self.timeouts = Timeouts.coerce(timeout)
        self.max_event_size = max_event_size
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.connections = 0
        self._on_connect = on_connect
        self._secret_headers = tuple(secret_headers)
        self._abort: AbortHandle | None = None  # the open() in progress, abortable by close()
        self._deadlines = Deadlines(self.timeouts, 0.0)  # restarted when iteration starts
        self._got_event = False
        self._owns_transport = isinstance(transport, str) or transport is None
        self._transport = get_transport(transport)
        self._backoff = Backoff(self.policy)
        self._lock = threading.Lock()  # guards _response against close() from other threads
        self._response: TransportResponse | None = None
        self._closed = threading.Event()
        self._finished = False
        self._gen: Generator[ServerSentEvent, None, None] | None = None
        self._clock = time.monotonic

    # -- public surface -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.is_set() or self._finished

    def __iter__(self) -> EventSource:
        return self

    def __next__(self) -> ServerSentEvent:
        if self._gen is None:
            if self.closed:
                raise StopIteration
            self._gen = self._engine()
        return next(self._gen)

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the stream from any thread: a blocked read or a wait between attempts returns at
        once and iteration stops. Safe to call more than once."""
        self._closed.set()
        with self._lock:
            response = self._response
            abort = self._abort
        if abort is not None:
            abort.abort()  # wakes a connect or header wait blocked in the transport, at once
        if response is not None:
            try:
                response.close()
            except Exception:  # closing must never fail the caller
                pass
        gen = self._gen
        if gen is None:
            self._finished = True
            self._release_transport()
            return
        try:
            gen.close()  # runs the engine's cleanup, which releases the transport
        except ValueError:
            # Running in another thread: the flag and the closed response stop it there, and
            # its own cleanup releases the transport once it is no longer in use.
            pass

    cancel = close

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<EventSource {redact_url(self.url)} {state} last_event_id={self.last_event_id!r}>"

    # -- the engine -----------------------------------------------------------------------------

    def _engine(self) -> Generator[ServerSentEvent, None, None]:
        started = self._clock()
        self._deadlines = Deadlines(self.timeouts, started)
        try:
            while not self._closed.is_set():
                retry_after: float | None = None
                last_error: SansStreamError
                try:
                    response = self._connect()
                    if response is None:
                        return  # 204: the server asked us to stop
                    yield from self._pump(response, started)
                except _Closed:
                    return
                except HTTPStatusError as exc:
                    if self._closed.is_set():
                        return
                    if not exc.retryable:
                        raise
                    retry_after = exc.retry_after
                    last_error = exc
                except (TransportError, StreamCancelled) as exc:
                    if self._closed.is_set():
                        return
                    last_error = exc
                except _FATAL_TIMEOUTS:
                    raise
                except StreamTimeout as exc:
                    if self._closed.is_set():
                        return
                    last_error = exc
                else:
                    last_error = TransportError(
                        f"the server closed the event stream from {redact_url(self.url)}"
                    )
                finally:
                    self._drop_response()
                wait = self._backoff.attempt_ended(server_retry_ms=self.retry, retry_after=retry_after)
                if wait is None:
                    attempts = self._backoff.failures
                    raise TransportError(
                        f"gave up on the event stream from {redact_url(self.url)} after {attempts} "
                        f"connection attempt{'s' if attempts != 1 else ''} in a row delivered no new event "
                        f"(last problem: {last_error}); raise ReconnectPolicy.max_attempts to keep "
                        "trying longer"
                    ) from last_error
                total = self.timeouts.total
                if total is not None and not self._deadlines.wait(self._clock(), wait):
                    raise TotalTimeout(
                        f"total timeout of {total:g}s: the event stream would only reconnect after "
                        "it; raise Timeouts.total or pass None",
                        limit=total,
                        elapsed=self._clock() - started,
                    )
                # Event.wait refuses timeouts past TIMEOUT_MAX (~49 days on some platforms).
                if self._closed.wait(min(wait, threading.TIMEOUT_MAX)):
                    return
        finally:
            self._finished = True
            self._drop_response()
            self._release_transport()

    def _request(self) -> HTTPRequest:
        # User headers win over the defaults (compared without case); Last-Event-ID is ours.
        given = {k.lower() for k in self.headers}
        headers = {k: v for k, v in _DEFAULT_HEADERS.items() if k.lower() not in given}
        headers.update((k, v) for k, v in self.headers.items() if k.lower() != "last-event-id")
        value = self.last_event_id.strip(_HTTP_WHITESPACE)
        if value and _sendable(value):
            # The header carries the ID's UTF-8 bytes; transports write header text as Latin-1,
            # so pass those bytes as one Latin-1 character each (the same bytes on every transport).
            headers["Last-Event-ID"] = value.encode("utf-8").decode("latin-1")
        return HTTPRequest(self.method, self.url, headers, self.body)

    def _connect(self) -> TransportResponse | None:
        abort = AbortHandle()
        with self._lock:
            if self._closed.is_set():
                raise _Closed
            self._abort = abort
        try:
            response = open_response(
                self._transport,
                self._request(),
                self._deadlines,
                self._clock,
                abort=abort,
                got_token=self._got_event,
                secret_headers=self._secret_headers,
            )
        except StreamCancelled:
            if self._closed.is_set():
                raise _Closed from None
            raise
        finally:
            with self._lock:
                self._abort = None
        with self._lock:
            self._response = response
        if self._closed.is_set():
            raise _Closed
        self.connections += 1
        if self._on_connect is not None:
            self._on_connect(response)
        if response.status == 204:
            # WHATWG HTML: "a client can be told to stop reconnecting using the HTTP 204 No
            # Content response code".
            return None
        raise_for_status(
            response, secrets=secret_values(self.headers, self.url, extra_headers=self._secret_headers)
        )
        check_content_type(response, ("text/event-stream",))
        return response

    def _pump(self, response: TransportResponse, started: float) -> Iterator[ServerSentEvent]:
        parser = SSEParser(max_event_size=self.max_event_size, last_event_id=self.last_event_id)
        last_event = self._clock()
        while True:
            event = parser.next_event()
            if parser.retry is not None:  # set as soon as a valid retry: line was read
                self.retry = parser.retry
            if event is NEED_DATA:
                try:
                    data = self._read(response, started, last_event)
                except SansStreamError:
                    # The connection failed with every complete block processed: resume from
                    # the ID the stream set last (ID-only blocks included, as browsers do).
                    self.last_event_id = parser.last_event_id
                    raise
                parser.receive_data(data)
                continue
            if event is END:
                self.last_event_id = parser.last_event_id
                return
            self.last_event_id = event.id
            self._backoff.progress()
            self._got_event = True
            last_event = self._clock()
            if self._closed.is_set():
                raise _Closed
            yield event

    def _read(self, response: TransportResponse, started: float, last_event: float) -> bytes:
        if self._closed.is_set():
            raise _Closed
        now = self._clock()
        limit = self._deadlines.read(now, progress=last_event, got_token=self._got_event)
        if limit is not None and limit.expired():
            raise limit.error(now, redact_url(self.url))
        try:
            return response.read(None if limit is None else limit.remaining)
        except ReadTimeout:
            if self._closed.is_set():
                raise _Closed from None
            assert limit is not None
            raise limit.error(self._clock(), redact_url(self.url)) from None
        except (StreamCancelled, TransportError):
            if self._closed.is_set():
                raise _Closed from None
            raise

    def _drop_response(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            try:
                response.close()
            except Exception:
                pass

    def _release_transport(self) -> None:
        if self._owns_transport:
            self._owns_transport = False
            try:
                self._transport.close()
            except Exception:
                pass


def _sendable(value: str) -> bool:
    """Whether both transports can carry ``value`` as a header: no control character but HTAB
    (HTTP forbids them; browsers reject only NUL, CR and LF in an event ID, so an ID with a VT or
    FF is kept for ``last_event_id`` but cannot be sent back)."""
    return not any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value)


def connect_sse(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    transport: str | Transport | None = "requests",
    last_event_id: str = "",
    policy: ReconnectPolicy | None = None,
    timeout: Timeouts | float | None = DEFAULT_SSE_TIMEOUTS,
    method: str = "GET",
    body: bytes | str | None = None,
    max_event_size: int | None = DEFAULT_MAX_EVENT_SIZE,
    on_connect: Callable[[TransportResponse], object] | None = None,
    secret_headers: Sequence[str] = (),
) -> EventSource:
    """Open ``url`` as an event stream with EventSource semantics; iterate the result for
    ``ServerSentEvent``s.

    Reconnects after a dropped connection or a network error, waiting the server's ``retry:``
    time (or ``policy``'s backoff, with jitter) and sending ``Last-Event-ID``; stops on HTTP 204;
    raises ``HTTPStatusError`` for statuses that should not be retried (408/409/425/429/5xx
    are), and ``TransportError`` after ``policy.max_attempts`` attempts in a row without a new
    event. ``transport`` is ``"requests"``, ``"h11"`` or a ``Transport`` object; ``timeout`` a
    ``Timeouts`` or a number of seconds (connect, first byte and idle); ``max_event_size``
    bounds one event (``EventTooLargeError``, not retried). ``on_connect`` is called with each
    response once its headers arrived (status and headers are readable; do not read the body).
    Redirects (301/302/303/307/308) are followed by the shared policy: ``headers`` named in
    ``secret_headers`` (and the usual credential headers) never follow one to another origin.
    ``total`` and ``first_token`` (the first event) count from the first connection and end the
    stream; the other limits make it reconnect. A server's ``retry:`` / ``Retry-After`` is clamped
    to ``policy``'s ``[min_server_delay, max_server_delay]``.
    """
    return EventSource(
        url,
        headers=headers,
        transport=transport,
        last_event_id=last_event_id,
        policy=policy,
        timeout=timeout,
        method=method,
        body=body,
        max_event_size=max_event_size,
        on_connect=on_connect,
        secret_headers=secret_headers,
    )
