"""``stream_chat`` and ``ChatStream``: the API people type.

Strategy. ``stream_chat`` does everything that can fail without a network up front (provider
lookup, API key, request building, request signing), so configuration mistakes raise before
anything is sent; it returns a lazy ``ChatStream``. One generator (``ChatStream._engine``) owns
the I/O loop: it opens the request through a transport, feeds every byte slice to the sans-IO
``StreamDecoder`` (or, for ``raw_events()``, to the bare framing parser) and pulls chunks out.
It owns the clocks too: before every ``read`` it computes the tightest remaining deadline
(first token, idle, read, total), so when a read times out it knows which limit fired and
raises that kind. Hooks run here, never in core/providers, which stay pure.

Decisions (documented for users in ``ChatStream``'s docstring):

- ``cancel()`` ends iteration quietly (the ``for`` loop just stops); ``result()`` on a cancelled
  stream raises ``StreamCancelled`` (a partial result is never passed off as complete;
  ``snapshot()`` gives it). It closes the response, which wakes a blocked ``read``; while the
  request is still connecting or waiting for headers it aborts the open through the transport's
  ``AbortHandle`` (the socket is shut down, the caller's own thread returns at once; no helper
  thread). Deadlines come from ``_engine.Deadlines``, opening (redirects, secrets) from
  ``_engine.open_response``, retry timing from ``_retry`` — shared with ``connect_sse``.
- The seam for anything that reopens a request (retries here, stream recovery on top):
  ``_open_once()`` signs, opens and checks one request and stores the response; ``_pump()``
  reads one response's body into a source. ``_engine()`` is the loop over the two.
- Iterating yields single chunks, always. Groups come from ``batches(n=, ms=)``;
  ``stream_chat(batch=, batch_ms=)`` sets its defaults and makes ``send_to`` deliver lists.
- Retries happen only before the first chunk came out of the stream. After that an error is
  raised, never retried silently (the caller has already seen part of an answer).
- ``result()``, ``usage`` and ``finish_reason`` describe the chunks as delivered, i.e. after
  ``transform``; ``metrics`` describe the stream as received (before ``transform``).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..core import PartialToolCall, PartialTracker
from ..model import (
    END,
    NEED_DATA,
    Accumulator,
    ChatResult,
    Chunk,
    ChunkValidationError,
    ConfigurationError,
    HTTPStatusError,
    IncompleteStreamError,
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    SansStreamError,
    StreamCancelled,
    StreamTimeout,
    TextDelta,
    TransportError,
    Usage,
    WireEvent,
)
from ..providers import Framing, HTTPRequest, Message, Provider, StreamDecoder, ToolSpec
from ..providers import get as get_provider
from ..transports import (
    DEFAULT_TIMEOUTS,
    AbortHandle,
    Timeouts,
    Transport,
    TransportResponse,
    is_loopback_url,
    secret_values,
)
from ._engine import Deadlines, open_response
from ._metrics import Metrics, MetricsRecorder
from ._retry import NO_RETRY, RetryPolicy

__all__ = ["stream_chat", "ChatStream", "RetryPolicy", "StreamEnd", "SendHandle", "NO_RETRY"]


# ----------------------------------------------------------------------------------------------
# send_to


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last item ``send_to`` delivers for a stream: ``result`` is the final result (partial
    if the stream failed or was cancelled) and ``error`` the exception that ended it, or
    ``None`` on success."""

    stream_id: str
    result: ChatResult | None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class SendHandle:
    """The background thread of ``ChatStream.send_to``: ``join()``, ``cancel()``, ``end``."""

    def __init__(self, stream: ChatStream) -> None:
        self.stream = stream
        self.end: StreamEnd | None = None
        # an exception raised by the target while receiving the final StreamEnd (nowhere else
        # to report it)
        self.delivery_error: BaseException | None = None
        self.thread = threading.Thread(name=f"sansstream-{stream.id[:8]}", daemon=True)  # set by send_to

    def join(self, timeout: float | None = None) -> StreamEnd | None:
        """Wait for the stream to end; returns its ``StreamEnd`` (``None`` if still running)."""
        self.thread.join(timeout)
        return self.end

    def cancel(self) -> None:
        self.stream.cancel()

    def is_alive(self) -> bool:
        return self.thread.is_alive()


# ----------------------------------------------------------------------------------------------
# sources: what turns bytes into items (chunks, or raw wire events)


class _RawSource:
    """Framing parser only (``raw_events()``): wire events, counted like the decoder counts them."""

    def __init__(self, provider: Provider, framing: Framing) -> None:
        from ..core import make_parser

        options = provider.parser_options() if framing == provider.framing else {}
        self._parser: Any = make_parser(framing, **options)
        self._keepalive = provider.decoder().is_keepalive  # a pure predicate
        self.wire_events = 0
        self.keepalives = 0
        self.bytes_received = 0

    def receive_data(self, data: bytes) -> None:
        self.bytes_received += len(data)
        self._parser.receive_data(data)

    def next_item(self) -> Any:
        event = self._parser.next_event()
        if event is NEED_DATA or event is END:
            return event
        self.wire_events += 1
        if self._keepalive(event):
            self.keepalives += 1
        return event

    def is_progress(self, event: Any) -> bool:
        return not self._keepalive(event)


class _ChunkSource:
    def __init__(self, provider: Provider, framing: Framing, strict: bool, raise_errors: bool) -> None:
        self.decoder = StreamDecoder(provider, strict=strict, raise_errors=raise_errors, framing=framing)

    @property
    def wire_events(self) -> int:
        return self.decoder.wire_events

    @property
    def keepalives(self) -> int:
        return self.decoder.keepalives

    @property
    def bytes_received(self) -> int:
        return self.decoder.bytes_received

    def receive_data(self, data: bytes) -> None:
        self.decoder.receive_data(data)

    def next_item(self) -> Any:
        return self.decoder.next_chunk()

    def is_progress(self, item: Any) -> bool:
        return True  # every chunk is progress; keepalives never become chunks


# ----------------------------------------------------------------------------------------------
# the stream


_Mode = Literal["chunks", "raw"]


_EXHAUSTED: Any = object()


def _close_quietly(response: TransportResponse) -> None:
    try:
        response.close()
    except Exception:  # closing must never fail the canceller or hide the real error
        pass


class _Cancelled(Exception):
    """Internal: the stream was cancelled; unwinds the engine quietly."""


class ChatStream:
    """A streamed chat reply. Made by ``stream_chat``; nothing is sent until you iterate it,
    call ``result()``/``text_stream()``/``raw_events()``/``send_to()``, or enter it as a context
    manager.

    - ``for chunk in stream`` yields chunks (``chunk.type == "content"`` → ``chunk.text``).
    - ``with stream_chat(...) as stream:`` always closes the connection on exit, even mid-stream.
    - ``text_stream()`` yields only answer text (choice 0); ``result()`` reads the rest and returns
      the ``ChatResult`` (after partial iteration it continues where you stopped); ``snapshot()``
      is the result so far without reading; ``usage`` / ``finish_reason`` are as seen so far.
    - ``batches(n=, ms=)`` yields lists of chunks instead (a list when it holds ``n`` chunks or
      ``ms`` milliseconds passed since its first chunk, checked whenever bytes arrive; the rest
      at the end). Plain iteration always yields single chunks.
    - ``cancel()`` may be called from any thread: the connection is closed and iteration ends
      quietly (no exception) at once; ``result()`` then raises ``StreamCancelled``.
    - ``raw_events()`` yields the wire events (SSE messages, comments, NDJSON values, frames)
      instead of chunks; a stream is read one way or the other, not both.
    - ``send_to(queue_or_callable)`` reads the stream in a background thread and delivers
      ``(stream.id, chunk)`` tuples, then a ``StreamEnd``.
    - ``metrics`` is a live ``Metrics`` snapshot; ``id`` a unique hex reference.

    Use ``with`` (or call ``close()``) when you may stop reading early: a stream abandoned
    half-way is otherwise closed only when it is garbage-collected. A failed stream raises its
    error at the point of failure, after every chunk before it, and again on any later read;
    ``snapshot()`` (and the error's ``partial``, where it has one) keeps what arrived.
    """

    def __init__(
        self,
        *,
        provider: Provider,
        request: HTTPRequest,
        transport: Transport,
        owns_transport: bool = False,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        strict: bool = True,
        raise_errors: bool = True,
        retry: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
        on_chunk: Callable[[Chunk], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        on_metrics: Callable[[Metrics], object] | None = None,
        transform: Callable[[Chunk], Chunk | None] | None = None,
        validate: Callable[[Chunk], object] | None = None,
        batch: int | None = None,
        batch_ms: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        secret_headers: Sequence[str] = (),
        recovery: Any = None,
    ) -> None:
        if batch is not None and batch < 1:
            raise ConfigurationError(f"batch must be a positive number of chunks, not {batch}")
        if batch_ms is not None and batch_ms < 0:
            raise ConfigurationError(f"batch_ms must be >= 0 milliseconds, not {batch_ms}")
        self.id = uuid.uuid4().hex
        self.provider = provider
        # kept private: its headers hold the API key, and a dataclass repr would show it
        self._request = request
        self.timeouts = timeouts
        self.strict = strict
        self.raise_errors = raise_errors
        self.retry = retry if retry is not None else NO_RETRY
        self._transport = transport
        self._owns_transport = owns_transport
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._on_chunk = on_chunk
        self._on_error = on_error
        self._on_metrics = on_metrics
        self._transform = transform
        self._validate = validate
        self._batch = batch
        self._batch_ms = batch_ms
        self._clock = clock
        # header names (beyond SECRET_HEADERS) whose values must not follow a cross-origin redirect
        self._secret_headers = tuple(secret_headers)

        self._lock = threading.Lock()  # guards _response against cancel() from other threads
        self._cancel_event = threading.Event()
        self._response: TransportResponse | None = None
        self._mode: _Mode | None = None
        self._gen: Iterator[Any] | None = None
        self._accumulator = Accumulator()
        self._partials: PartialTracker | None = None  # partial JSON, made on first use (below)
        self._recorder = MetricsRecorder()
        self._error: BaseException | None = None
        self._finished = False
        self._closed = False
        self._metrics_reported = False
        # timing state of the current stream (monotonic seconds)
        self._t_start: float | None = None
        self._t_progress: float | None = None  # idle anchor: request sent, then last progress
        self._got_token = False  # first content seen: first_token no longer applies
        self._attempts = 0
        self._items_out = 0  # items that came out of the source (retries stop after the first)
        self._sender: SendHandle | None = None  # set once send_to() owns the reading
        self._abort: AbortHandle | None = None  # the open() in progress, abortable by cancel()
        self._deadlines = Deadlines(timeouts, 0.0)  # restarted by _start_clock
        # stream recovery (stream_chat(recover=...)): a _recovery.StreamRecovery, or None
        self._recovery = recovery
        if recovery is not None:
            recovery.attach(self)

    # -- public state ------------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        return self._recorder.snapshot(None if self._recorder.finished else self._clock())

    @property
    def usage(self) -> Usage | None:
        """The usage reported so far (the last non-null one), or ``None``."""
        return self._accumulator.usage

    @property
    def finish_reason(self) -> str | None:
        """Choice 0's normalised finish reason once seen, else ``None``."""
        return self._accumulator.result().finish_reason

    @property
    def url(self) -> str:
        """Where the request goes (the API key is never part of it: it travels in a header)."""
        return self._request.url

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    @property
    def recovery_id(self) -> str | None:
        """The id under which a broken stream can be recovered (``stream_chat(recover=...)``;
        ``sansstream.recover(recovery_id, store=...)`` in a later process), else ``None``."""
        return None if self._recovery is None else self._recovery.id

    @property
    def finished(self) -> bool:
        """The stream ended (completely, with an error, or cancelled)."""
        return self._finished

    @property
    def error(self) -> BaseException | None:
        """The error that ended the stream, if any."""
        return self._error

    def snapshot(self) -> ChatResult:
        """The result assembled from the chunks delivered so far; reads nothing."""
        return self._accumulator.result()

    def __repr__(self) -> str:
        state = "finished" if self._finished else ("open" if self._gen is not None else "not started")
        return f"<ChatStream {self.id[:8]} provider={self.provider.name!r} {state}>"

    # -- iteration ---------------------------------------------------------------------------

    def _use(self, mode: _Mode) -> Iterator[Any]:
        sender = self._sender
        if sender is not None and threading.current_thread() is not sender.thread:
            raise LocalProtocolError(
                "this stream is being read by send_to() in a background thread; read its items "
                "from the queue or callable you gave it, not from the stream"
            )
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            used = "raw_events()" if self._mode == "raw" else "chunk iteration"
            wanted = "raw_events()" if mode == "raw" else "chunk iteration"
            raise LocalProtocolError(
                f"this stream is already being read with {used}; {wanted} cannot read it too. "
                "Read a stream one way: chunks (iterate, text_stream, result, batches, send_to) "
                "or raw_events(); start a new stream_chat() for the other."
            )
        if self._gen is None:
            self._gen = self._engine(raw=mode == "raw")
        return self._gen

    def _items(self) -> Iterator[Any]:
        """Chunks, with ``None`` after each read that produced none (batching uses the ticks)."""
        gen = self._use("chunks")
        if self._finished and self._error is not None and not self.cancelled:
            raise self._error
        yield from gen

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        gen = self._use("chunks")
        while True:
            item = next(gen, _EXHAUSTED)
            if item is _EXHAUSTED:
                if self._error is not None and not self.cancelled:
                    raise self._error  # a failed stream keeps refusing (h11 habit)
                raise StopIteration
            if item is not None:
                return item  # type: ignore[no-any-return]

    # -- partial JSON (issue 15) -------------------------------------------------------------
    # Tool arguments and structured text parsed as they stream. The tracker is made on first use
    # and catches up from the accumulator once, so streams that never ask pay nothing.

    def _partial_tracker(self) -> PartialTracker:
        if self._partials is None:
            self._partials = PartialTracker()
            self._partials.prime(self._accumulator.result())
        return self._partials

    def partial_tool_calls(self, choice: int = 0) -> tuple[PartialToolCall, ...]:
        """Each tool call of ``choice`` delivered so far with its arguments parsed so far
        (``PartialToolCall.input``: what openai's ``parsed_arguments`` and anthropic's tool
        ``input`` snapshot hold after the same fragments). Reads nothing: call it between chunks."""
        return self._partial_tracker().tool_calls(choice)

    def partial_objects(self) -> Iterator[Any]:
        """Read the stream; yield the answer text (choice 0) parsed as JSON each time it grows
        (structured output: JSON mode, ``response_format``, Gemini ``responseSchema``). Each item
        is a fresh copy. At the end, the last item equals ``json.loads(result().text)``; text that
        is not JSON raises ``RemoteProtocolError`` once the stream has ended."""
        tracker = self._partial_tracker()
        parser = tracker.text_parser
        assert parser is not None
        last: Any = None
        if parser.has_value:
            last = parser.version
            yield parser.snapshot()
        for chunk in self:
            if isinstance(chunk, TextDelta) and chunk.choice == 0 and tracker.text_error is None:
                version = parser.version
                if parser.has_value and version != last:
                    last = version
                    yield parser.snapshot()
        if tracker.text_error is None:
            try:
                parser.close()  # a root number is complete only now; a cut value raises
            except RemoteProtocolError as exc:
                tracker.text_error = str(exc)
            else:
                if parser.version != last:
                    yield parser.snapshot()
        if tracker.text_error is not None:
            raise RemoteProtocolError(
                f"the answer text is not one JSON value ({tracker.text_error}); "
                "result().text holds the raw text"
            )

    def text_stream(self) -> Iterator[str]:
        """Only the answer text (choice 0), fragment by fragment."""
        for chunk in self:
            if isinstance(chunk, TextDelta) and chunk.choice == 0 and chunk.text:
                yield chunk.text

    def batches(self, n: int | None = None, ms: float | None = None) -> Iterator[list[Chunk]]:
        """Lists of chunks: a list is delivered when it holds ``n`` chunks or when ``ms``
        milliseconds passed since its first chunk (checked whenever bytes arrive), and whatever
        is left at the end. Defaults come from ``stream_chat(batch=, batch_ms=)``."""
        n = self._batch if n is None else n
        ms = self._batch_ms if ms is None else ms
        if n is None and ms is None:
            raise LocalProtocolError("batches() needs n (chunks per batch) or ms (milliseconds per batch)")
        if n is not None and n < 1:
            raise LocalProtocolError(f"batches(n=...) must be at least 1, not {n}")
        window = None if ms is None else ms / 1000.0
        buf: list[Chunk] = []
        opened = 0.0
        for item in self._items():
            now = self._clock()
            if buf and window is not None and now - opened >= window:
                yield buf
                buf = []
            if item is None:
                continue
            if not buf:
                opened = now
            buf.append(item)
            if n is not None and len(buf) >= n:
                yield buf
                buf = []
        if buf:
            yield buf

    def raw_events(self) -> Iterator[WireEvent]:
        """The wire events underneath (the provider's framing, keepalives included), instead of
        chunks. Timeouts apply as for chunks, with non-keepalive events as progress."""
        gen = self._use("raw")
        for item in gen:
            if item is not None:
                yield item

    def result(self) -> ChatResult:
        """Read the rest of the stream and return the final ``ChatResult``. Raises the error
        that ended the stream, or ``StreamCancelled`` if it was cancelled."""
        if self._mode == "raw":
            raise LocalProtocolError(
                "result() needs chunk iteration, but this stream is read with raw_events()"
            )
        for _ in self._items():
            pass
        if self.cancelled:
            raise StreamCancelled(
                "the stream was cancelled before it ended; snapshot() has the partial result"
            )
        if self._error is not None:
            raise self._error
        return self._accumulator.result()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> ChatStream:
        # Entering sends the request (and waits for the response headers), as promised.
        if self._response is None and not self._finished:
            try:
                self._start_clock()
                self._open_with_retry()
            except _Cancelled:
                # cancel() from another thread while entering: never leak the internal signal
                error = StreamCancelled("the stream was cancelled while its request was being opened")
                self._fail(error)
                raise error from None
            except BaseException as exc:
                self._fail(exc)
                raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (cancelling the stream if it was still running)."""
        if not self._finished:
            self.cancel()
        gen, self._gen = self._gen, None
        if gen is not None and hasattr(gen, "close"):
            try:
                gen.close()
            except ValueError:
                pass  # running in another thread: cancel() already made it unwind
        self._finish_up()

    def cancel(self) -> None:
        """Stop the stream from any thread: closes the connection (or aborts the request still
        connecting or waiting for headers); iteration ends quietly."""
        if self._finished:
            return
        self._cancel_event.set()
        with self._lock:
            response = self._response
            abort = self._abort
        if abort is not None:
            abort.abort()  # wakes a connect or header wait blocked in the transport, at once
        if response is not None:
            _close_quietly(response)
        if self._recovery is not None and self._recovery.policy.cancel_on_close:
            self._recovery.cancel_background(self)  # a background response would run on

    # -- send_to -------------------------------------------------------------------------------

    def send_to(self, target: queue.Queue[Any] | Callable[[Any], object]) -> SendHandle:
        """Read the stream in a background thread and deliver each chunk as
        ``(stream.id, chunk)`` (``(stream.id, [chunks])`` when ``batch``/``batch_ms`` are set),
        then one ``StreamEnd(stream.id, result, error)``. ``target`` is a ``queue.Queue`` (any
        object with ``put``) or a callable taking that one item. Errors never escape the thread:
        they arrive as ``StreamEnd.error``. If the target itself raises, the stream is cancelled
        and that exception becomes the ``StreamEnd.error`` (and ``handle.end.error``)."""
        put = getattr(target, "put", None)
        deliver: Callable[[Any], object]
        if callable(put):
            deliver = put
        elif callable(target):
            deliver = target
        else:
            raise LocalProtocolError(f"send_to() needs a queue.Queue or a callable, not {target!r}")
        self._use("chunks")
        handle = SendHandle(self)
        self._sender = handle
        batching = self._batch is not None or self._batch_ms is not None

        def run() -> None:
            error: BaseException | None = None
            try:
                source: Iterator[Any] = self.batches() if batching else iter(self)
                for item in source:
                    deliver((self.id, item))
            except BaseException as exc:  # delivered, never lost
                error = exc
            finally:
                self.close()
            if error is None and self.cancelled and not self._completed_ok:
                error = StreamCancelled("the stream was cancelled before it ended")
            end = StreamEnd(self.id, self._accumulator.result(), error)
            handle.end = end
            try:
                deliver(end)
            except BaseException as exc:
                handle.delivery_error = exc

        handle.thread = threading.Thread(target=run, name=f"sansstream-{self.id[:8]}", daemon=True)
        handle.thread.start()
        return handle

    @property
    def _completed_ok(self) -> bool:
        return self._finished and self._error is None and not self.cancelled

    # -- the engine ----------------------------------------------------------------------------

    def _start_clock(self) -> None:
        if self._t_start is None:
            self._t_start = self._clock()
            self._deadlines = Deadlines(self.timeouts, self._t_start)
            self._recorder.start(self._t_start)

    def _engine(self, *, raw: bool) -> Iterator[Any]:
        """Items (chunks or wire events), with ``None`` after a read that produced no item."""
        if self._finished:
            return  # ended before iteration began (__enter__ failed, or closed): nothing to read
        try:
            self._start_clock()
            while True:
                try:
                    if self._response is None:
                        self._open_with_retry()
                    response = self._response
                    assert response is not None
                    source: _RawSource | _ChunkSource
                    # providers that answer in several framings pick one by Content-Type
                    framing = self.provider.framing_for(response.headers.get("content-type"))
                    if raw:
                        source = _RawSource(self.provider, framing)
                    else:
                        # (with recovery, decoding goes through its provider proxy)
                        decoding = self.provider if self._recovery is None else self._recovery.provider
                        source = _ChunkSource(decoding, framing, self.strict, self.raise_errors)
                    yield from self._pump(response, source, raw=raw)
                    break
                except _Cancelled:
                    return
                except SansStreamError as exc:
                    if self.cancelled:
                        return
                    if self._recovery is not None and self._items_out:
                        # stream recovery (api/_recovery.py): reopens, or raises the final error
                        yield from self._recovery.handle(self, exc)
                        continue
                    if self._items_out or not self._may_retry(exc):
                        raise
                    self._drop_response()
                    self._backoff(exc)
                    continue
            self._finished = True
        except _Cancelled:
            return
        except GeneratorExit:
            raise
        except BaseException as exc:
            if self.cancelled and isinstance(exc, SansStreamError):
                return  # a read interrupted by cancel(): end quietly, as documented
            if isinstance(exc, RemoteProtocolError | StreamTimeout) and getattr(exc, "partial", None) is None:
                exc.partial = self._accumulator.result()  # what arrived before the bad bytes
            self._fail(exc)
            raise
        finally:
            self._finish_up()

    def _pump(
        self, response: TransportResponse, source: _RawSource | _ChunkSource, *, raw: bool
    ) -> Iterator[Any]:
        clock = self._clock
        rec = self._recorder
        while True:
            if self.cancelled:
                raise _Cancelled
            item = source.next_item()
            if item is NEED_DATA or item is END:
                # Everything received so far is parsed now (parsing is lazy, in next_item), so
                # the counters are current: record them at the time the bytes were handled.
                rec.progress(
                    clock(),
                    bytes_received=source.bytes_received,
                    wire_events=source.wire_events,
                    keepalives=source.keepalives,
                )
                if item is END:
                    return
                source.receive_data(self._read(response))
                yield None
                continue
            now = clock()
            self._items_out += 1
            if source.is_progress(item):
                self._t_progress = now
            rec.progress(
                now,
                bytes_received=source.bytes_received,
                wire_events=source.wire_events,
                keepalives=source.keepalives,
            )
            if raw:
                if source.is_progress(item):
                    self._got_token = True
                yield item
                continue
            if rec.chunk(now, item):
                self._got_token = True
            chunk = self._apply_hooks(item)
            if chunk is not None:
                yield chunk

    def _apply_hooks(self, chunk: Chunk) -> Chunk | None:
        if self._transform is not None:
            transformed = self._transform(chunk)
            if transformed is None:
                return None
            chunk = transformed
        if self._validate is not None:
            try:
                self._validate(chunk)
            except Exception as exc:
                number = self._recorder.snapshot().chunks
                shown = repr(chunk)
                shown = shown if len(shown) <= 200 else shown[:197] + "..."
                raise ChunkValidationError(
                    f"chunk #{number} ({chunk.type}: {shown}) was rejected by validate(): {exc}",
                    chunk=chunk,
                ) from exc
        self._accumulator.add(chunk)
        if self._partials is not None:
            self._partials.add(chunk)
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        return chunk

    # -- deadlines -----------------------------------------------------------------------------

    def _read(self, response: TransportResponse) -> bytes:
        now = self._clock()
        progress = self._t_progress if self._t_progress is not None else self._deadlines.start
        limit = self._deadlines.read(now, progress=progress, got_token=self._got_token)
        if limit is not None and limit.expired():
            raise limit.error(now)
        try:
            return response.read(None if limit is None else limit.remaining)
        except ReadTimeout:
            if self.cancelled:
                raise _Cancelled from None
            assert limit is not None
            raise limit.error(self._clock()) from None
        except StreamCancelled:
            if self.cancelled:
                raise _Cancelled from None
            raise
        except TransportError as exc:
            if self.cancelled:
                raise _Cancelled from None
            # A reset or a cut after the headers is a truncated stream, never a normal end:
            # surface it as such, with everything assembled so far.
            raise IncompleteStreamError(
                f"the connection failed before the {self.provider.name} stream was complete ({exc}); "
                "`partial` holds what arrived. Retry the request, or check the server.",
                partial=self._accumulator.result(),
                provider=self.provider.name,
            ) from exc

    # -- opening, with retries -----------------------------------------------------------------

    def _open_with_retry(self) -> None:
        while True:
            try:
                self._open_once()
                return
            except _Cancelled:
                raise
            except SansStreamError as exc:
                if self.cancelled:
                    raise _Cancelled from None
                if not self._may_retry(exc):
                    raise
                self._backoff(exc)

    def _may_retry(self, exc: SansStreamError) -> bool:
        if self._attempts >= self.retry.max_attempts:
            return False
        return bool(self.retry.should_retry(exc))

    def _backoff(self, exc: SansStreamError) -> None:
        retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
        wait = self.retry.delay(self._attempts, retry_after)
        if wait is None:
            raise exc
        if not self._deadlines.wait(self._clock(), wait):
            raise exc  # waiting would overrun the total deadline: report the real error
        if self.retry.sleep is not None:
            self.retry.sleep(wait)
        elif self._cancel_event.wait(wait):
            raise _Cancelled
        if self.cancelled:
            raise _Cancelled

    def _open_once(self) -> None:
        """The seam: open the request once (signing it, following redirects, bounded by the
        connect and header deadlines, abortable by ``cancel()``) and keep the response for
        ``_pump`` to read. Everything that (re)opens a request goes through here."""
        from ..transports import check_content_type, raise_for_status

        if self.cancelled:
            raise _Cancelled
        self._attempts += 1
        self._recorder.attempt()
        request = self.provider.sign(
            self._request, env=self._env, now=datetime.datetime.now(datetime.timezone.utc)
        )
        abort = AbortHandle()
        with self._lock:
            if self._cancel_event.is_set():
                raise _Cancelled
            self._abort = abort
        try:
            response = open_response(
                self._transport,
                request,
                self._deadlines,
                self._clock,
                abort=abort,
                got_token=self._got_token,
                secret_headers=self._secret_headers,
            )
        except StreamCancelled:
            if self.cancelled:
                raise _Cancelled from None
            raise
        finally:
            with self._lock:
                self._abort = None
        with self._lock:
            if self._cancel_event.is_set():
                cancelled = True
            else:
                cancelled = False
                self._response = response
        if cancelled:
            _close_quietly(response)
            raise _Cancelled
        # Idle counts from the headers (first_byte covered the wait for them) until a chunk.
        self._t_progress = self._clock()
        self._recorder.headers(self._t_progress)
        try:
            raise_for_status(
                response,
                secrets=secret_values(request.headers, request.url, extra_headers=self._secret_headers),
            )
            check_content_type(response, self.provider.content_types)
        except BaseException:
            self._drop_response()
            raise

    def _drop_response(self) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            _close_quietly(response)

    # -- endings -------------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
            self._finished = True
            if self._on_error is not None and isinstance(exc, SansStreamError):
                self._on_error(exc)
        self._finish_up()

    def _finish_up(self) -> None:
        with self._lock:  # close() from another thread may race the engine's own ending
            if self._closed:
                return
            self._closed = True
        self._finished = True
        self._drop_response()
        if self._owns_transport:
            try:
                self._transport.close()
            except Exception:
                pass
        self._recorder.finish(self._clock())
        if self._on_metrics is not None and not self._metrics_reported:
            self._metrics_reported = True
            self._on_metrics(self._recorder.snapshot())


# ----------------------------------------------------------------------------------------------
# stream_chat


class _Unset:
    def __repr__(self) -> str:
        return "<default>"


_UNSET: Any = _Unset()


def _split_query(url: str | None) -> tuple[str | None, str]:
    if url is None or "?" not in url:
        return url, ""
    base, _, query = url.partition("?")
    return base, query.split("#", 1)[0]


def _with_query(request: HTTPRequest, query: str) -> HTTPRequest:
    parts = urlsplit(request.url)
    merged = f"{parts.query}&{query}" if parts.query else query
    return dataclasses.replace(request, url=urlunsplit(parts._replace(query=merged)))


def stream_chat(
    provider: str | Provider,
    *,
    model: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec] | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    transport: str | Transport | None = "requests",
    timeout: Timeouts | float | None = _UNSET,
    strict: bool = True,
    raise_errors: bool = True,
    retry: RetryPolicy | None = _UNSET,
    record: str | os.PathLike[str] | None = None,
    on_chunk: Callable[[Chunk], object] | None = None,
    on_error: Callable[[BaseException], object] | None = None,
    on_metrics: Callable[[Metrics], object] | None = None,
    transform: Callable[[Chunk], Chunk | None] | None = None,
    validate: Callable[[Chunk], object] | None = None,
    batch: int | None = None,
    batch_ms: float | None = None,
    env: Mapping[str, str] | None = None,
    secret_headers: Sequence[str] = (),
    recover: Any = None,
    on_recover: Callable[[Any], object] | None = None,
    **options: Any,
) -> ChatStream:
    """Stream a chat reply from ``provider`` (a registered name or a ``Provider``).

    Nothing is sent until the returned ``ChatStream`` is iterated or entered, but everything
    that can be checked without a network is checked now: an unknown provider raises
    ``UnknownProviderError`` (listing the registered ones), a missing API key raises
    ``ConfigurationError`` naming the environment variable(s) to set.

    - ``api_key`` / ``base_url``: default from the provider's environment variables
      (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``, ``OLLAMA_HOST``…; AWS credentials for Bedrock).
      ``env`` replaces ``os.environ`` as the place they are read from.
    - ``transport``: ``"requests"`` (default), ``"h11"``, or a transport object (e.g. a
      ``ReplayTransport``); one made from a name is closed with the stream.
    - ``timeout``: a ``Timeouts``, or a number ``x`` meaning connect/first_byte/idle ``x``;
      ``None`` means no limits. Default ``DEFAULT_TIMEOUTS``.
    - ``strict``: a stream without the provider's terminal marker raises
      ``IncompleteStreamError`` (default); ``raise_errors``: in-band errors raise
      ``ProviderError`` (default) or, if false, arrive as ``StreamError`` chunks.
    - ``retry``: a ``RetryPolicy`` for failures before the first chunk (default
      ``RetryPolicy()``: 3 attempts); ``None`` or ``NO_RETRY`` to send once.
    - ``record``: write the response bytes (with timing) to this fixture file, secrets redacted.
    - hooks, per chunk in this order: ``transform(chunk) -> chunk | None`` (rewrite, or drop:
      later hooks and the caller never see it), ``validate(chunk)`` (raise to reject:
      ``ChunkValidationError``, chained from your exception), ``on_chunk(chunk)``, then the
      chunk is yielded. ``on_error(exc)`` (before the error propagates),
      ``on_metrics(metrics)`` (once, at the end, whatever the outcome);
      ``batch`` / ``batch_ms``: defaults for ``batches()``, and ``send_to`` delivers lists.
    - ``secret_headers``: names of your own headers (passed through ``extra_headers``) that
      carry credentials: like the provider's key headers, they are dropped when a redirect leads
      to another origin and redacted in recordings and messages.
    - ``recover``: stream recovery after a break (off by default): ``"resume"`` (exact:
      OpenAI Responses background mode), ``"continue"`` (prefill continuation where the
      provider takes an assistant prefix), or a ``RecoveryPolicy``; ``on_recover(marker)`` is
      called after each recovery. See ``sansstream.api._recovery``.
    - any other keyword (``max_tokens``, ``temperature``, ``reasoning``, ``extra_body``…) goes
      to the provider's ``build_request``; a name the provider does not know
      (``Provider.accepted_options``) raises ``ConfigurationError`` with the closest known one.
      ``extra_body={...}`` sends any request field as it is.
    """
    prov = get_provider(provider)
    prov.check_options(options)  # a typo (temprature=) is refused, not sent
    environ: Mapping[str, str] = os.environ if env is None else env
    defaults = dict(prov.defaults_from_env(environ))
    key = api_key if api_key is not None else defaults.pop("api_key", None)
    defaults.pop("api_key", None)
    url = base_url if base_url is not None else defaults.pop("base_url", None)
    if prov.api_key_env and not key and not is_loopback_url(url):
        # (a local server on a loopback address, llama.cpp or vLLM say, needs no key)
        names = " or ".join(prov.api_key_env)
        raise ConfigurationError(
            f"no API key for provider {prov.name!r}: set the environment variable {names}, "
            "or pass api_key=... to stream_chat(). Nothing was sent."
        )
    defaults.pop("base_url", None)
    for name, value in defaults.items():
        options.setdefault(name, value)  # region and the like; explicit options win
    # A base_url may carry a query (an Azure api-version, a gateway token): the provider appends
    # its path to the base, so the query is set aside and put back after the path.
    url, base_query = _split_query(url)
    request = prov.build_request(
        model=model, messages=messages, tools=tools, api_key=key, base_url=url, **options
    )
    if base_query:
        request = _with_query(request, base_query)
    # Sign once now so missing credentials (Bedrock) fail before anything is sent; each attempt
    # signs again with its own time.
    prov.sign(request, env=environ, now=datetime.datetime.now(datetime.timezone.utc))

    timeouts = DEFAULT_TIMEOUTS if timeout is _UNSET else Timeouts.coerce(timeout)
    policy = RetryPolicy() if retry is _UNSET else (retry or NO_RETRY)
    recovery = None
    if recover is not None or on_recover is not None:
        from ._recovery import make_recovery

        recovery = make_recovery(recover, on_recover, prov, request)

    from ..transports import get_transport

    owns = isinstance(transport, str) or transport is None
    chosen = get_transport(transport)
    if record is not None:
        from ..transports import RecordingTransport

        chosen = RecordingTransport(chosen, record)
    return ChatStream(
        provider=prov,
        request=request,
        transport=chosen,
        owns_transport=owns,
        timeouts=timeouts,
        strict=strict,
        raise_errors=raise_errors,
        retry=policy,
        env=environ,
        on_chunk=on_chunk,
        on_error=on_error,
        on_metrics=on_metrics,
        transform=transform,
        validate=validate,
        batch=batch,
        batch_ms=batch_ms,
        secret_headers=secret_headers,
        recovery=recovery,
    )
