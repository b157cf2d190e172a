"""Server side: turn chunks into the bytes of a streamed HTTP response.

A web app that relays or fakes an LLM stream hands its chunks (our chunk model) to
``sse_stream`` or ``ndjson_stream`` and returns the resulting byte iterator as the response body
(a WSGI app returns it as is; an asyncio/ASGI app uses ``sse_stream_async`` /
``ndjson_stream_async``). The bytes speak the wire format of any provider that has a wire
encoder, chosen by its name with ``format=``: ``"slop"`` (our plain chunk protocol, SSE or
NDJSON), ``"openai"``, ``"anthropic"``, ``"gemini"``, ``"mistral"``, ``"cohere"``,
``"openai-responses"`` (SSE), ``"ollama"`` (NDJSON), and providers registered at runtime. Bedrock's
AWS event-stream is binary and has no keepalive: write it with
``sansstream.providers.encode_chunks(chunk_encoder("bedrock"), chunks)``.

Strategy: each provider module owns its ``ChunkEncoder`` (chunks in, wire events out, plus
``close()`` for the terminal marker; see ``sansstream.providers``) and ``chunk_encoder`` looks it
up in the registry; this module adds pacing, keepalives and framing. Framing goes through the
core encoders (``SSEEncoder``, ``encode_ndjson``), so everything written here reads back exactly
with our parsers. Any chunk
stream can be re-served in any format, so a relay can, say, serve an Anthropic reply to OpenAI
clients: ``sse_stream(stream_chat("anthropic", ...), format="openai")``.

Keepalives need a clock, which is why this lives outside the core: with ``keepalive=seconds``
the items are pulled in a helper thread and, whenever nothing was written for that long, a
keepalive (an SSE comment, Anthropic's ``ping`` event, or an empty NDJSON line) is written.
``clock`` defaults to ``time.monotonic`` and can be injected by tests.

The asyncio variants time keepalives with the event loop instead of a thread.

JSON goes out by the library's one rule (``core._wirejson.dumps_wire``): lone surrogates are
escaped (relaying half of a split emoji never fails), NaN and Infinity are refused. A value
refused mid-stream ends the response with an in-band error in its format and a clean end (see
``sse_stream``), never a cut body. For ``EventSource`` clients, ``read_last_event_id`` reads the
id a reconnecting client resumes after, and ``sse_stream(..., last_event_id=...)`` keeps the
client's id exact from there (an event without id resets it).

Example (WSGI)::

    from sansstream.server import sse_stream, stream_response

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return sse_stream(stream_response("Hello there!"), format="openai", keepalive=15)
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
import time
import uuid
import warnings
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, Literal, TypeVar

from .model import (
    Chunk,
    Comment,
    Done,
    Finish,
    JSONValue,
    LocalProtocolError,
    ProviderError,
    ReasoningDelta,
    RefusalDelta,
    ResponseStart,
    ServerSentEvent,
    SSEField,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    UnknownProviderError,
    Usage,
)
from .providers import ChunkEncoder, WireOut, servable
from .providers import get as get_provider
from .providers.slop import chunk_to_slop

__all__ = [
    "WireFormat",
    "WIRE_FORMATS",
    "ChunkEncoder",
    "chunk_encoder",
    "chunk_to_slop",
    "sse_stream",
    "ndjson_stream",
    "sse_stream_async",
    "ndjson_stream_async",
    "stream_response",
    "KEEPALIVE",
    "read_last_event_id",
    "UnresumableIDWarning",
]

WireFormat = str
"""A wire format: the name of a provider with a wire encoder (``sansstream.providers.servable()``)."""
WIRE_FORMATS: tuple[WireFormat, ...] = (
    "slop",
    "openai",
    "anthropic",
    "ollama",
    "gemini",
    "mistral",
    "cohere",
    "openai-responses",
    "bedrock",
    "bedrock-invoke",
)
"""The built-in wire formats, each a provider's own encoder (hosted variants and presets serve the
format they inherit: ``azure`` speaks ``openai``; runtime-registered providers are served too)."""

_CHUNK_TYPES = (
    ResponseStart,
    TextDelta,
    ReasoningDelta,
    RefusalDelta,
    ToolCallStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolResult,
    Usage,
    Finish,
    Done,
    StreamError,
)

Out = WireOut
"""What an encoder produces (``sansstream.providers.WireOut``)."""


class _Keepalive:
    """Marker for "write a keepalive now" in the paced item stream."""

    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE = _Keepalive()
"""Yield this from the items given to ``sse_stream`` / ``ndjson_stream`` to force a keepalive."""


def chunk_encoder(
    format: WireFormat = "slop",
    *,
    framing: Literal["sse", "ndjson"] | None = None,
    model: str | None = None,
    id: str | None = None,
    **options: Any,
) -> ChunkEncoder:
    """A fresh ``ChunkEncoder`` for one response in ``format``: the name of any registered
    provider with a wire encoder (``sansstream.providers.servable()``), built-in or registered at
    runtime. ``framing`` only matters for ``"slop"`` (SSE by default, or NDJSON); the other
    formats have the framing their provider uses. ``options`` go to the encoder (``now``, the
    time its timestamps show, defaults to the current time)."""
    try:
        provider = get_provider(format)
    except UnknownProviderError:
        raise LocalProtocolError(
            f"unknown wire format {format!r}; use one of {', '.join(servable())}"
        ) from None
    if provider.encoder_class is None:
        raise LocalProtocolError(
            f"provider {format!r} has no wire encoder, so it cannot be served; use one of "
            f"{', '.join(servable())}"
        )
    options.setdefault("now", time.time())
    if framing is not None and provider.encoder_class.framing != framing:
        options["framing"] = framing  # SLOP takes either; any other encoder refuses below
    try:
        encoder = provider.encoder(model=model, id=id, **options)
    except TypeError as exc:
        raise LocalProtocolError(f"the {format!r} wire encoder does not take these options: {exc}") from None
    if framing is not None and framing != encoder.framing:
        raise LocalProtocolError(f"the {format!r} wire format is framed as {encoder.framing}, not {framing}")
    return encoder


def _wrong_writer(format: str, framing: str) -> str:
    if framing == "ndjson":
        return f"the {format!r} wire format is NDJSON: use ndjson_stream()"
    return (
        f"the {format!r} wire format is framed as {framing}, which these helpers do not write: "
        "use sansstream.providers.encode_chunks(chunk_encoder(...), chunks)"
    )


# --- pacing ---------------------------------------------------------------------------------

T = TypeVar("T")


def _with_keepalives(
    items: Iterable[T], interval: float | None, clock: Callable[[], float]
) -> Generator[T | _Keepalive, None, None]:
    """``items``, with ``KEEPALIVE`` inserted whenever nothing came out for ``interval`` seconds.

    Items are pulled in a daemon thread so that a producer blocked on a slow upstream does not
    block the keepalives. The queue is bounded (back-pressure on a fast producer); closing this
    generator (client gone) tells the producer to stop after its current item.
    """
    if interval is None:
        yield from items
        return
    if interval <= 0:
        raise LocalProtocolError(f"keepalive must be a positive number of seconds, got {interval!r}")
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=16)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            q.put(("error", exc))
        finally:
            # The consumer went away: close the source here, in the thread that iterates it,
            # so its own cleanup runs (e.g. an upstream ChatStream releases its connection).
            close = getattr(iterator, "close", None)
            if stop.is_set() and callable(close):
                try:
                    close()
                except Exception:  # best effort: nobody is left to tell
                    pass

    worker = threading.Thread(target=produce, name="sansstream-keepalive", daemon=True)
    worker.start()
    last = clock()
    try:
        while True:
            wait = interval - (clock() - last)
            if wait <= 0:
                yield KEEPALIVE
                last = clock()
                continue
            try:
                kind, value = q.get(timeout=wait)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
            last = clock()
    finally:
        stop.set()


def _is_chunk(item: object) -> bool:
    return isinstance(item, _CHUNK_TYPES)


class UnresumableIDWarning(UserWarning):
    """An SSE event id that a client cannot resume from: HTTP servers strip whitespace around
    header values (Python's ``str.strip`` in ``wsgiref``, which also removes NBSP and NEL bytes
    from a UTF-8 id read as Latin-1), so the ``Last-Event-ID`` the server reads back differs from
    the id it wrote. Use ids without leading or trailing whitespace (ASCII ids are safest)."""


def _id_survives_headers(event_id: str) -> bool:
    """Whether ``event_id`` comes back unchanged through a ``Last-Event-ID`` header read by any
    server: its UTF-8 bytes, seen as Latin-1 text, must have nothing ``str.strip`` removes."""
    raw = event_id.encode("utf-8", "surrogatepass").decode("latin-1")
    return raw == raw.strip()


_REFUSED_TYPE = "server_error"
_REFUSED_CODE = "unencodable_value"


class _BodyWriter:
    """Items in, body bytes out, for one response: the logic shared by the sync and async
    stream functions.

    A value that cannot be written (``dumps_wire`` refuses NaN/Infinity and what JSON has no form
    for; SSE refuses an id with a line break…) never truncates the body: the writer writes an
    in-band error in the response's format instead, ends the response there (no terminal
    marker, as after any error chunk), reports the refusal to ``on_error`` (or as a
    ``RuntimeWarning`` when there is none) and sets ``stopped`` so the caller stops pulling items.
    """

    def __init__(
        self,
        framing: Literal["sse", "ndjson"],
        format: WireFormat,
        model: str | None,
        id: str | None,
        *,
        last_event_id: str | None = None,
        reset_id: bool = False,
        first_id: int | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ):
        from .core import SSEEncoder

        self.framing = framing
        if framing == "sse":
            self.encoder = chunk_encoder(format, model=model, id=id)
            if self.encoder.framing != "sse":
                raise LocalProtocolError(_wrong_writer(format, self.encoder.framing))
        else:
            self.encoder = chunk_encoder(format, framing="ndjson", model=model, id=id)
        # Stateful so that pass-through events keep their ids exactly (an id going back to ""),
        # starting from the id the client holds (a resumed EventSource keeps its old one until an
        # event sets another: an event without id must reset it with an empty `id:` line).
        self.sse = SSEEncoder(last_event_id=last_event_id or "")
        if reset_id:
            # No real id equals this (ids cannot hold NUL), so the first event writes its id
            # line, the empty one included: the client forgets whatever id it held.
            self.sse.last_event_id = "\x00"
        if first_id is not None and (isinstance(first_id, bool) or not isinstance(first_id, int)):
            raise LocalProtocolError(f"first_id must be an int (the first chunk's number), not {first_id!r}")
        self.next_id = first_id
        self.on_error = on_error
        self.stopped = False
        self._warned_ids: set[str] = set()

    def _bytes(self, out: Any) -> bytes:
        if self.framing == "ndjson":
            from .core import encode_ndjson

            return encode_ndjson(out)
        if isinstance(out, JSONValue):  # pragma: no cover - SSE encoders never produce one
            raise LocalProtocolError("an NDJSON value cannot be written to an SSE stream")
        if (
            isinstance(out, ServerSentEvent)
            and out.id
            and out.id not in self._warned_ids
            and not _id_survives_headers(out.id)
        ):
            self._warned_ids.add(out.id)
            warnings.warn(
                f"the SSE event id {out.id!r} has leading or trailing whitespace (in its UTF-8 "
                "bytes read as Latin-1): servers strip it from the Last-Event-ID header, so a "
                "client cannot resume from it; use ids without surrounding whitespace",
                UnresumableIDWarning,
                stacklevel=4,
            )
        data: bytes = self.sse.encode(out)
        return data

    def item(self, item: Any) -> list[bytes]:
        if self.stopped:
            return []
        if isinstance(item, _Keepalive):
            if self.framing == "ndjson":
                return [b"\n"]  # an empty line: NDJSON readers skip it
            ping = self.encoder.keepalive()
            # A blank line after a keepalive comment, as servers usually write it: proxies that
            # buffer until an event boundary pass it on at once (a no-op for SSE parsers).
            return [self._bytes(ping) + (b"\n" if isinstance(ping, Comment) else b"")]
        if _is_chunk(item):
            ended = self.encoder.terminated  # a chunk now is dropped (after an error) or refused
            try:
                return [self._bytes(out) for out in self._numbered(self.encoder.encode(item))]
            except LocalProtocolError as exc:
                if ended:  # a chunk after done: the caller's mistake, not a value to report
                    raise
                return self._refused(exc)
        if self.framing == "sse" and not isinstance(item, (ServerSentEvent, Comment, SSEField)):
            raise LocalProtocolError(
                "sse_stream() items must be chunks, ServerSentEvent, Comment or SSEField, "
                f"got {type(item).__name__}"
            )
        try:
            return [self._bytes(item)]
        except LocalProtocolError as exc:
            if self.encoder.terminated:  # nowhere to put an in-band error after the end
                raise
            return self._refused(exc)

    def _numbered(self, outs: list[Out]) -> list[Out]:
        """With ``first_id``: the chunk's last event carries the chunk's id (the one to resume
        after once it was received whole); its other events keep the id in force before it."""
        if self.next_id is None:
            return outs
        chunk_id, self.next_id = str(self.next_id), self.next_id + 1
        last = max((i for i, out in enumerate(outs) if isinstance(out, ServerSentEvent)), default=None)
        if last is None:
            return outs
        # The id in force before this chunk ("" right after reset_id's sentinel, which no event
        # may carry).
        before = "" if self.sse.last_event_id == "\x00" else self.sse.last_event_id
        numbered: list[Out] = []
        for i, out in enumerate(outs):
            if isinstance(out, ServerSentEvent):
                event_id = chunk_id if i == last else before
                numbered.append(ServerSentEvent(out.data, out.event, event_id, out.retry))
            else:
                numbered.append(out)
        return numbered

    def _refused(self, exc: LocalProtocolError) -> list[bytes]:
        """The in-band error that replaces a value that cannot be written, and the end."""
        self.stopped = True
        error = ProviderError(
            f"the server could not write the rest of the reply: {exc}",
            provider="sansstream",
            type=_REFUSED_TYPE,
            code=_REFUSED_CODE,
        )
        out = [self._bytes(event) for event in self.encoder.encode(StreamError(error))]
        if self.on_error is not None:
            self.on_error(exc)
        else:
            warnings.warn(f"stream ended with an in-band error: {exc}", RuntimeWarning, stacklevel=4)
        return out

    def end(self, done: bool) -> list[bytes]:
        if self.stopped:
            return []
        try:  # what a format holds until the end (Anthropic's usage) can be refused here too
            return [self._bytes(out) for out in self.encoder.close(done=done)]
        except LocalProtocolError as exc:
            return self._refused(exc)


def _write_body(
    writer: _BodyWriter,
    items: Iterable[Any],
    keepalive: float | None,
    done: bool,
    clock: Callable[[], float],
) -> Generator[bytes, None, None]:
    """The shared body of ``sse_stream`` and ``ndjson_stream``: each item written, keepalives
    between them, then the end."""
    paced = _with_keepalives(items, keepalive, clock)
    try:
        for item in paced:
            yield from writer.item(item)
            if writer.stopped:
                break  # an in-band error ended the response: stop (and close) the source
    finally:
        paced.close()  # stops the keepalive thread at once when the client goes away
    yield from writer.end(done)


def sse_stream(
    items: Iterable[Chunk | ServerSentEvent | Comment | SSEField | _Keepalive],
    *,
    format: WireFormat = "slop",
    keepalive: float | None = None,
    done: bool = True,
    model: str | None = None,
    id: str | None = None,
    last_event_id: str | None = None,
    reset_id: bool = False,
    first_id: int | None = None,
    on_error: Callable[[Exception], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[bytes, None, None]:
    """The body of a ``text/event-stream`` response, as byte slices (one per event).

    Chunks are written in ``format``; ``ServerSentEvent``, ``Comment`` and ``SSEField`` items
    pass through unchanged (so a relay can forward events it does not model). At the end, unless
    the items already ended the stream (a ``Done`` or an error chunk), the format's terminal
    marker is written when ``done`` is true. ``keepalive`` (seconds) writes a keepalive whenever
    nothing was written for that long. An event id with surrounding whitespace draws an
    ``UnresumableIDWarning`` (such an id cannot come back in ``Last-Event-ID``).

    ``last_event_id`` is the id the client already holds (``read_last_event_id(environ)`` on a
    resumed ``EventSource`` connection): the first event whose id differs, an event without id
    included, writes its ``id:`` line, so the client never keeps a stale id. ``reset_id=True``
    makes the first event write its id line whatever it is (an empty ``id:`` when it has none),
    for when the id the client holds is unknown. ``first_id=n`` numbers the chunks for resuming:
    the k-th chunk of ``items`` (chunks only, counted from 0) carries the id ``str(n + k)`` on the
    last event written for it, so a client that reconnects with ``Last-Event-ID: m`` received
    chunk ``m`` whole; serve ``chunks[m + 1:]`` with ``first_id=m + 1`` (a fresh encoder starts
    the format over, so resume mid-reply in ``slop`` or ``openai``, whose events stand alone).

    A value that cannot be written mid-stream (``NaN`` or ``Infinity`` anywhere in a chunk, an
    object JSON has no form for) ends the response with an in-band error in ``format`` (read by
    clients as a provider error: ``ProviderError`` with ``type="server_error"`` and
    ``code="unencodable_value"`` in sansstream) instead of cutting the body; the source is
    closed and ``on_error`` (default: a ``RuntimeWarning``) gets the ``LocalProtocolError``.
    Lone surrogates (half of a pair split across two deltas) are written as ``\\uXXXX``
    escapes, which every JSON parser reads back, so relaying what was received never fails.
    """
    writer = _BodyWriter(
        "sse",
        format,
        model,
        id,
        last_event_id=last_event_id,
        reset_id=reset_id,
        first_id=first_id,
        on_error=on_error,
    )
    yield from _write_body(writer, items, keepalive, done, clock)


def ndjson_stream(
    items: Iterable[Any],
    *,
    format: WireFormat = "slop",
    keepalive: float | None = None,
    done: bool = True,
    model: str | None = None,
    id: str | None = None,
    on_error: Callable[[Exception], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[bytes, None, None]:
    """The body of an ``application/x-ndjson`` response, one line per slice.

    Chunks are written in ``format`` (``"slop"`` or ``"ollama"``); any other item is written as
    a JSON value of its own (a ``JSONValue`` as its ``value``). Keepalives are empty lines, which
    NDJSON readers skip. The terminal marker rule is ``sse_stream``'s, and so is the rule for
    values that cannot be written (an in-band error line, then the end).
    """
    writer = _BodyWriter("ndjson", format, model, id, on_error=on_error)
    yield from _write_body(writer, items, keepalive, done, clock)


async def _async_with_keepalives(
    items: AsyncIterable[T] | Iterable[T], interval: float | None
) -> AsyncGenerator[T | _Keepalive, None]:
    """The async twin of ``_with_keepalives``: the event loop's own timer, no thread. The
    pending ``__anext__`` is shielded from the timeout, so a keepalive never cancels it."""
    if interval is not None and interval <= 0:
        raise LocalProtocolError(f"keepalive must be a positive number of seconds, got {interval!r}")
    if isinstance(items, AsyncIterable):
        source: AsyncIterator[T] = items.__aiter__()
    else:

        async def from_sync() -> AsyncGenerator[T, None]:
            for item in items:
                yield item

        source = from_sync()
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(source.__anext__())
            try:
                item = await asyncio.wait_for(asyncio.shield(pending), timeout=interval)
            except asyncio.TimeoutError:
                yield KEEPALIVE
                continue
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            try:  # let the cancelled step finish before closing the generator it runs in
                await pending
            except (asyncio.CancelledError, Exception):  # cancelled or failed: either way, over
                pass
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


async def sse_stream_async(
    items: AsyncIterable[Chunk | ServerSentEvent | Comment | SSEField | _Keepalive]
    | Iterable[Chunk | ServerSentEvent | Comment | SSEField | _Keepalive],
    *,
    format: WireFormat = "slop",
    keepalive: float | None = None,
    done: bool = True,
    model: str | None = None,
    id: str | None = None,
    last_event_id: str | None = None,
    reset_id: bool = False,
    first_id: int | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """``sse_stream`` for asyncio (ASGI apps: Starlette's ``StreamingResponse``, raw ASGI
    ``http.response.body`` messages…): items from an async iterable (or a plain one that never
    blocks), keepalives timed by the event loop. Options as ``sse_stream``."""
    writer = _BodyWriter(
        "sse",
        format,
        model,
        id,
        last_event_id=last_event_id,
        reset_id=reset_id,
        first_id=first_id,
        on_error=on_error,
    )
    paced = _async_with_keepalives(items, keepalive)
    try:
        async for item in paced:
            for data in writer.item(item):
                yield data
            if writer.stopped:
                break  # an in-band error ended the response: stop (and close) the source
    finally:
        await paced.aclose()  # `async for` does not close it: do it, so the source is closed
    for data in writer.end(done):
        yield data


async def ndjson_stream_async(
    items: AsyncIterable[Any] | Iterable[Any],
    *,
    format: WireFormat = "slop",
    keepalive: float | None = None,
    done: bool = True,
    model: str | None = None,
    id: str | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    """``ndjson_stream`` for asyncio, as ``sse_stream_async``."""
    writer = _BodyWriter("ndjson", format, model, id, on_error=on_error)
    paced = _async_with_keepalives(items, keepalive)
    try:
        async for item in paced:
            for data in writer.item(item):
                yield data
            if writer.stopped:
                break  # an in-band error ended the response: stop (and close) the source
    finally:
        await paced.aclose()  # `async for` does not close it: do it, so the source is closed
    for data in writer.end(done):
        yield data


# --- resuming an EventSource ------------------------------------------------------------------

_LAST_EVENT_ID = "last-event-id"


def read_last_event_id(request: Any) -> str | None:
    """The id a reconnecting ``EventSource`` resumes after (its ``Last-Event-ID`` header), or
    ``None`` when the request has none (a first connection, or a client that held no id).

    ``request`` is whatever the server hands the app: a WSGI ``environ``, an ASGI ``scope``, a
    mapping of header names to values (``http.server``'s ``self.headers``, a framework's
    ``request.headers``, a dict) or an iterable of ``(name, value)`` pairs (``str`` or ``bytes``).

    Browsers send the id as UTF-8 bytes while WSGI and most frameworks hand header values over
    as Latin-1 text (PEP 3333), so a ``str`` value is turned back into its bytes and decoded as
    UTF-8 (a value that is not Latin-1 text was decoded already and is kept). Whitespace around
    the value is not part of it (HTTP strips it): an id that had some cannot be matched, which
    draws an ``UnresumableIDWarning``, as does a value that is not UTF-8 (undecodable bytes
    become U+FFFD). Hand the id to ``sse_stream(..., last_event_id=...)`` too, so events without
    ids reset the client's stale one.

    Example (WSGI)::

        def app(environ, start_response):
            last = read_last_event_id(environ)
            start = 0 if last is None else int(last) + 1
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            events = (ServerSentEvent(token, id=str(n)) for n, token in enumerate(TOKENS) if n >= start)
            return sse_stream(events, done=False, last_event_id=last)
    """
    raw, wsgi = _find_last_event_id(request)
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            data = raw.encode("latin-1")
        except UnicodeEncodeError:  # already decoded as Unicode by the framework
            data = raw.encode("utf-8", "surrogatepass")
        else:
            if not wsgi and not _is_utf8(data):
                # Latin-1 text that is no UTF-8 seen as Latin-1: outside WSGI (where PEP 3333
                # fixes the decoding) that is text a framework decoded already, e.g. "é".
                data = raw.encode("utf-8", "surrogatepass")
    else:
        data = bytes(raw)
    stripped = data.strip(b" \t")
    try:
        value = stripped.decode("utf-8")
    except UnicodeDecodeError:
        value = stripped.decode("utf-8", "replace")
        warnings.warn(
            f"the Last-Event-ID header {value!r} is not valid UTF-8, so it matches no id an SSE "
            "stream can carry (a WSGI server's str.strip() also cuts an id whose last UTF-8 byte "
            "is 0x85 or 0xA0, e.g. one ending in 'à'); use ids without surrounding whitespace",
            UnresumableIDWarning,
            stacklevel=2,
        )
        return value
    if stripped != data:
        warnings.warn(
            f"the Last-Event-ID header {value!r} came with surrounding whitespace, which HTTP "
            "strips: the id it stood for cannot be matched exactly; use ids without it",
            UnresumableIDWarning,
            stacklevel=2,
        )
    return value


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _find_last_event_id(request: Any) -> tuple[str | bytes | None, bool]:
    """The raw header value, and whether it came from a WSGI environ."""
    if isinstance(request, Mapping):
        if "HTTP_LAST_EVENT_ID" in request or "wsgi.version" in request or "REQUEST_METHOD" in request:
            value = request.get("HTTP_LAST_EVENT_ID")  # WSGI: Latin-1 text, already stripped
            return (value if isinstance(value, str) else None), True
        if request.get("type") in ("http", "websocket") and "headers" in request:
            request = request["headers"]  # ASGI: [(bytes, bytes)], names lower-cased
    getter, items = getattr(request, "get", None), getattr(request, "items", None)
    if callable(getter) and callable(items):  # a mapping, or mapping-like (email.message.Message)
        for name in ("Last-Event-ID", _LAST_EVENT_ID):  # case-insensitive ones find it at once
            found = getter(name)
            if isinstance(found, (str, bytes)):
                return found, False
        request = items()
    found_value: str | bytes | None = None
    for pair in request:
        name, value = pair
        key = name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)
        if key.lower() == _LAST_EVENT_ID and isinstance(value, (str, bytes, bytearray)):
            found_value = bytes(value) if isinstance(value, bytearray) else value
    return found_value, False


_WORD = re.compile(r"\s*\S+|\s+$")


def stream_response(
    text: str,
    *,
    words_per_chunk: int = 1,
    reasoning: str | None = None,
    model: str | None = None,
    id: str | None = None,
    input_tokens: int | None = None,
    finish: bool = True,
    usage: bool = True,
    done: bool = True,
) -> Iterator[Chunk]:
    """Chunks for a canned reply: ``ResponseStart``, the optional ``reasoning`` as
    ``ReasoningDelta``s, ``text`` as ``TextDelta``s of ``words_per_chunk`` words each (leading
    whitespace kept, so joining the deltas gives ``text`` back exactly), then ``Finish("stop")``,
    ``Usage`` (one output token per delta, as a stand-in for a tokenizer) and ``Done``.

    Feed them to ``sse_stream`` / ``ndjson_stream`` to serve a fake provider, e.g. in tests.
    """
    if words_per_chunk < 1:
        raise LocalProtocolError(f"words_per_chunk must be at least 1, got {words_per_chunk}")
    yield ResponseStart(id=id or f"resp-{uuid.uuid4().hex[:12]}", model=model)
    count = 0
    for part in _pieces(reasoning or "", words_per_chunk):
        count += 1
        yield ReasoningDelta(text=part)
    for part in _pieces(text, words_per_chunk):
        count += 1
        yield TextDelta(part)
    if finish:
        yield Finish(reason="stop", raw_reason="stop")
    if usage:
        total = None if input_tokens is None else input_tokens + count
        yield Usage(input_tokens=input_tokens, output_tokens=count, total_tokens=total)
    if done:
        yield Done()


def _pieces(text: str, n: int) -> Iterator[str]:
    words = _WORD.findall(text)
    for i in range(0, len(words), n):
        yield "".join(words[i : i + n])
