"""Server side: turn chunks into the bytes of a streamed HTTP response.

A web app that relays or fakes an LLM stream hands its chunks (our chunk model) to
``sse_stream`` or ``ndjson_stream`` and returns the resulting byte iterator as the response body
(a WSGI app returns it as is; an asyncio/ASGI app uses ``sse_stream_async`` /
``ndjson_stream_async``). The bytes speak one of several wire formats, chosen with ``format=``:

- ``"slop"``: our plain chunk protocol, one JSON object per event (see ``sansstream.providers.slop``);
- ``"openai"``: OpenAI Chat Completions (``chat.completion.chunk`` objects, then ``data: [DONE]``),
  which our ``openai`` decoder and real OpenAI clients read;
- ``"anthropic"``: the Anthropic Messages event sequence (``message_start`` … ``message_stop``);
- ``"ollama"``: Ollama's ``/api/chat`` NDJSON lines ending with ``"done": true``.

Strategy: a ``ChunkEncoder`` per format is a small state machine (chunks in, wire events or JSON
values out, plus ``close()`` for the terminal marker), so the same code serves SSE and NDJSON and is
testable without any I/O. Framing goes through the core encoders (``SSEEncoder``,
``encode_ndjson``), so everything written here reads back exactly with our parsers. Any chunk
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
import datetime
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

from .core import dumps_wire
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
    Usage,
)

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

WireFormat = Literal["slop", "openai", "anthropic", "ollama"]
WIRE_FORMATS: tuple[WireFormat, ...] = ("slop", "openai", "anthropic", "ollama")

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

Out = ServerSentEvent | Comment | SSEField | JSONValue
"""What an encoder produces: SSE events/comments (SSE formats) or JSON values (NDJSON formats)."""


class _Keepalive:
    """Marker for "write a keepalive now" in the paced item stream."""

    def __repr__(self) -> str:
        return "KEEPALIVE"


KEEPALIVE = _Keepalive()
"""Yield this from the items given to ``sse_stream`` / ``ndjson_stream`` to force a keepalive."""


def _error_fields(chunk: StreamError) -> dict[str, Any]:
    err = chunk.error
    return {"message": err.message, "type": err.type, "code": err.code}


def chunk_to_slop(chunk: Chunk) -> dict[str, Any] | None:
    """The SLOP JSON object for one chunk (the top-level form described in
    ``sansstream.providers.slop``), or ``None`` for chunk kinds SLOP has no event for: tool-call
    fragments (SLOP sends a tool call whole, at its end) and empty reasoning (signatures).

    Start, usage and finish go out as SLOP's optional ``start`` / ``usage`` / ``finish`` events,
    so a SLOP reader assembles the same result as a reader of the provider's own format.
    """
    if isinstance(chunk, TextDelta):
        return {"type": "content", "content": chunk.text}
    if isinstance(chunk, RefusalDelta):
        return {"type": "content", "content": chunk.text}
    if isinstance(chunk, ReasoningDelta):
        return {"type": "thinking", "content": chunk.text} if chunk.text else None
    if isinstance(chunk, ToolCallEnd):
        return {"type": "tool_start", "id": chunk.id, "name": chunk.name, "arguments": chunk.arguments}
    if isinstance(chunk, ToolResult):
        if chunk.tool_call_id is None:  # the nested form: no top-level id to select the flat one
            return {"type": "tool_result", "content": {"content": chunk.content}}
        return {"type": "tool_result", "id": chunk.tool_call_id, "content": chunk.content}
    if isinstance(chunk, StreamError):
        err = chunk.error
        out: dict[str, Any] = {"type": "error", "message": err.message}
        if err.type is not None:
            out["error_type"] = err.type
        if err.code is not None:
            out["code"] = err.code
        out["retryable"] = err.retryable
        return out
    if isinstance(chunk, Done):
        return {"type": "done"}
    if isinstance(chunk, ResponseStart):
        return {"type": "start", "id": chunk.id, "model": chunk.model}
    if isinstance(chunk, Usage):
        fields = ("input_tokens", "output_tokens", "total_tokens", "reasoning_tokens", "cached_tokens")
        counts = {name: getattr(chunk, name) for name in fields if getattr(chunk, name) is not None}
        return {"type": "usage", "content": counts}
    if isinstance(chunk, Finish):
        return {"type": "finish", "content": chunk.raw_reason or chunk.reason}
    return None


class ChunkEncoder:
    """Chunks in, wire events out, for one response in one wire format.

    ``encode(chunk)`` returns the events to write for that chunk (possibly none: a format may
    have no place for it, or hold it until later); ``close()`` returns what must still be
    written at the end: open blocks and, when ``done`` is true and no terminal marker or error
    was written yet, the format's terminal marker. ``keepalive()`` is the format's idle marker.

    Relaying rules: an error chunk ends the response in every format written here, so chunks
    that a source still sends after its error (a finish, OpenRouter's ``[DONE]``…) are dropped;
    a chunk after ``Done`` is a caller mistake (``LocalProtocolError``). Formats without
    choices (everything but ``openai``) carry choice 0 only; other choices are dropped.
    """

    framing: Literal["sse", "ndjson"] = "sse"
    format: WireFormat = "slop"
    multi_choice = False

    def __init__(self, *, model: str | None = None, id: str | None = None) -> None:
        self.model = model
        self.id = id
        self.terminated = False  # a terminal marker or an error went out
        self.errored = False  # ...and it was an error: later chunks are dropped
        self._index = 0

    def encode(self, chunk: Chunk) -> list[Out]:
        if self.errored:
            return []
        if self.terminated:
            raise LocalProtocolError(
                f"a {chunk.type!r} chunk came after the end of the stream (a done chunk); "
                "stop writing chunks once the stream is terminated"
            )
        if not self.multi_choice and getattr(chunk, "choice", 0) != 0:
            return []
        out = self._encode(chunk)
        if isinstance(chunk, (Done, StreamError)):
            self.terminated = True
            self.errored = isinstance(chunk, StreamError)
        return out

    def close(self, *, done: bool = True) -> list[Out]:
        if self.terminated or not done:
            return []
        return self.encode(Done())

    def keepalive(self) -> Out:
        return JSONValue(None) if self.framing == "ndjson" else Comment("keepalive")

    def _encode(self, chunk: Chunk) -> list[Out]:
        raise NotImplementedError

    def _json(self, value: Any) -> Out:
        if self.framing == "ndjson":
            return JSONValue(value)
        return ServerSentEvent(_dumps(value))


def _dumps(value: Any) -> str:
    # The one wire rule for JSON (lone surrogates escaped, NaN/Infinity refused): core/_wirejson.py.
    return dumps_wire(value)


class _SlopEncoder(ChunkEncoder):
    format: WireFormat = "slop"

    def __init__(self, *, framing: Literal["sse", "ndjson"] = "sse", **kw: Any) -> None:
        super().__init__(**kw)
        self.framing = framing

    def _encode(self, chunk: Chunk) -> list[Out]:
        payload = chunk_to_slop(chunk)
        return [] if payload is None else [self._json(payload)]


_OPENAI_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


class _OpenAIEncoder(ChunkEncoder):
    """OpenAI Chat Completions chunks: role chunk, deltas, finish chunk, usage chunk with empty
    ``choices``, ``data: [DONE]``. Reasoning goes out as ``delta.reasoning_content`` (the field
    DeepSeek, vLLM and others use); tool calls as ``delta.tool_calls`` fragments."""

    format: WireFormat = "openai"
    multi_choice = True

    def __init__(self, *, created: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.created = int(time.time()) if created is None else created
        self._roles: set[int] = set()
        self._tool_args: dict[tuple[int, int], bool] = {}  # (choice, index) -> arguments sent

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> ServerSentEvent:
        body: dict[str, Any] = {
            "id": self.id or "chatcmpl-sansstream",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model or "sansstream",
            "choices": choices,
            **extra,
        }
        return ServerSentEvent(_dumps(body))

    def _delta(self, choice: int, delta: dict[str, Any], finish: str | None = None) -> list[Out]:
        out: list[Out] = []
        if choice not in self._roles:
            self._roles.add(choice)
            if "role" not in delta:
                delta = {"role": "assistant", **delta}
        entry = {"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}
        out.append(self._chunk([entry]))
        return out

    def _encode(self, chunk: Chunk) -> list[Out]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            self.model = chunk.model or self.model
            if 0 in self._roles:
                return []
            self._roles.add(0)
            return [
                self._chunk(
                    [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ]
                )
            ]
        if isinstance(chunk, TextDelta):
            return self._delta(chunk.choice, {"content": chunk.text})
        if isinstance(chunk, ReasoningDelta):
            if not chunk.text:
                return []
            return self._delta(chunk.choice, {"reasoning_content": chunk.text})
        if isinstance(chunk, RefusalDelta):
            return self._delta(chunk.choice, {"refusal": chunk.text})
        if isinstance(chunk, ToolCallStart):
            self._tool_args[(chunk.choice, chunk.index)] = False
            call = {
                "index": chunk.index,
                "id": chunk.id,
                "type": "function",
                "function": {"name": chunk.name, "arguments": ""},
            }
            return self._delta(chunk.choice, {"tool_calls": [call]})
        if isinstance(chunk, ToolCallDelta):
            self._tool_args[(chunk.choice, chunk.index)] = True
            call = {"index": chunk.index, "function": {"arguments": chunk.arguments}}
            return self._delta(chunk.choice, {"tool_calls": [call]})
        if isinstance(chunk, ToolCallEnd):
            key = (chunk.choice, chunk.index)
            if key not in self._tool_args:  # never started: send the call whole
                self._tool_args[key] = True
                call = {
                    "index": chunk.index,
                    "id": chunk.id,
                    "type": "function",
                    "function": {"name": chunk.name, "arguments": chunk.arguments},
                }
                return self._delta(chunk.choice, {"tool_calls": [call]})
            if not self._tool_args[key] and chunk.arguments:
                self._tool_args[key] = True
                call = {"index": chunk.index, "function": {"arguments": chunk.arguments}}
                return self._delta(chunk.choice, {"tool_calls": [call]})
            return []
        if isinstance(chunk, Finish):
            raw = chunk.raw_reason if chunk.raw_reason in _OPENAI_FINISH else None
            reason = raw or (chunk.reason if chunk.reason in _OPENAI_FINISH else "stop")
            return self._delta(chunk.choice, {}, finish=reason)
        if isinstance(chunk, Usage):
            usage: dict[str, Any] = {
                "prompt_tokens": chunk.input_tokens or 0,
                "completion_tokens": chunk.output_tokens or 0,
                "total_tokens": chunk.total_tokens
                if chunk.total_tokens is not None
                else (chunk.input_tokens or 0) + (chunk.output_tokens or 0),
            }
            if chunk.cached_tokens is not None:
                usage["prompt_tokens_details"] = {"cached_tokens": chunk.cached_tokens}
            if chunk.reasoning_tokens is not None:
                usage["completion_tokens_details"] = {"reasoning_tokens": chunk.reasoning_tokens}
            return [self._chunk([], usage=usage)]
        if isinstance(chunk, StreamError):
            return [ServerSentEvent(_dumps({"error": _error_fields(chunk)}))]
        if isinstance(chunk, Done):
            return [ServerSentEvent("[DONE]")]
        return []  # ToolResult: Chat Completions has no server-side tool results


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "refusal": "refusal"}
_ANTHROPIC_RAW_STOP = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}


class _AnthropicEncoder(ChunkEncoder):
    """The Anthropic Messages event sequence. Content blocks open and close as the chunk kind
    changes; ``message_delta`` (stop reason and usage) is held until the end because OpenAI-style
    sources send usage after the finish.

    Anthropic blocks are strictly sequential, while sources may interleave the argument
    fragments of parallel tool calls (OpenAI, Gemini) and end them all at the finish. So a
    ``tool_use`` block is written whole when its call ends (start, the arguments as one
    ``input_json_delta``, stop): always a correct block, at the cost of not streaming
    arguments."""

    format: WireFormat = "anthropic"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._started = False
        self._block: str | None = None  # kind of the open content block
        self._block_key: Any = None  # reasoning block number of the open block
        self._stop: str | None = None
        self._usage: Usage | None = None

    def keepalive(self) -> Out:
        return ServerSentEvent('{"type": "ping"}', event="ping")

    @staticmethod
    def _event(payload: dict[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(_dumps(payload), event=payload["type"])

    def _start(self) -> list[Out]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": self.id or "msg_sansstream",
            "type": "message",
            "role": "assistant",
            "model": self.model or "sansstream",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [self._event({"type": "message_start", "message": message})]

    def _close_block(self) -> list[Out]:
        if self._block is None:
            return []
        self._block = None
        out: list[Out] = [self._event({"type": "content_block_stop", "index": self._index})]
        self._index += 1
        return out

    def _open(self, kind: str, key: Any, block: dict[str, Any]) -> list[Out]:
        if self._block == kind and self._block_key == key:
            return []
        out = self._close_block()
        self._block, self._block_key = kind, key
        out.append(self._event({"type": "content_block_start", "index": self._index, "content_block": block}))
        return out

    def _delta(self, delta: dict[str, Any]) -> Out:
        return self._event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _encode(self, chunk: Chunk) -> list[Out]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            self.model = chunk.model or self.model
            return self._start()
        out = self._start()
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            out += self._open("text", None, {"type": "text", "text": ""})
            out.append(self._delta({"type": "text_delta", "text": chunk.text}))
        elif isinstance(chunk, ReasoningDelta):
            if chunk.redacted:
                out += self._close_block()
                out += self._open(
                    "redacted", chunk.block, {"type": "redacted_thinking", "data": chunk.data or ""}
                )
                out += self._close_block()
                return out
            out += self._open("thinking", chunk.block, {"type": "thinking", "thinking": "", "signature": ""})
            if chunk.text:
                out.append(self._delta({"type": "thinking_delta", "thinking": chunk.text}))
            if chunk.signature:
                out.append(self._delta({"type": "signature_delta", "signature": chunk.signature}))
        elif isinstance(chunk, ToolCallEnd):
            out += self._close_block()
            block: dict[str, Any] = {"type": "tool_use", "id": chunk.id, "name": chunk.name, "input": {}}
            out.append(
                self._event({"type": "content_block_start", "index": self._index, "content_block": block})
            )
            out.append(self._delta({"type": "input_json_delta", "partial_json": chunk.arguments}))
            out.append(self._event({"type": "content_block_stop", "index": self._index}))
            self._index += 1
        elif isinstance(chunk, Finish):
            out += self._close_block()
            if chunk.raw_reason in _ANTHROPIC_RAW_STOP:
                self._stop = chunk.raw_reason
            else:
                self._stop = _ANTHROPIC_STOP.get(chunk.reason, "end_turn")
        elif isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
        elif isinstance(chunk, StreamError):
            out += self._close_block()
            err = chunk.error
            out.append(
                self._event(
                    {"type": "error", "error": {"type": err.type or "api_error", "message": err.message}}
                )
            )
        elif isinstance(chunk, Done):
            out += self._close_block()
            usage: dict[str, Any] = {"output_tokens": 0}
            if self._usage is not None:
                usage = {"output_tokens": self._usage.output_tokens or 0}
                if self._usage.input_tokens is not None:
                    usage["input_tokens"] = self._usage.input_tokens
            delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
            out.append(self._event({"type": "message_delta", "delta": delta, "usage": usage}))
            out.append(self._event({"type": "message_stop"}))
        return out


_OLLAMA_DONE = {"stop": "stop", "length": "length", "tool_calls": "stop"}


class _OllamaEncoder(ChunkEncoder):
    """Ollama ``/api/chat`` NDJSON: one line per delta (``message.content`` /
    ``message.thinking`` / whole ``message.tool_calls``), then a ``"done": true`` line carrying
    ``done_reason`` and the token counts. An error is a ``{"error": "..."}`` line."""

    framing: Literal["sse", "ndjson"] = "ndjson"
    format: WireFormat = "ollama"

    def __init__(self, *, created_at: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._created_at = created_at
        self._reason: str | None = None
        self._usage: Usage | None = None

    def _line(self, message: dict[str, Any], **extra: Any) -> Out:
        created = self._created_at or datetime.datetime.now(datetime.timezone.utc).isoformat().replace(
            "+00:00", "Z"
        )
        body = {
            "model": self.model or "sansstream",
            "created_at": created,
            "message": {"role": "assistant", **message},
            **extra,
        }
        return JSONValue(body)

    def _encode(self, chunk: Chunk) -> list[Out]:
        if isinstance(chunk, ResponseStart):
            self.model = chunk.model or self.model
            return []
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            return [self._line({"content": chunk.text}, done=False)]
        if isinstance(chunk, ReasoningDelta):
            return [self._line({"content": "", "thinking": chunk.text}, done=False)] if chunk.text else []
        if isinstance(chunk, ToolCallEnd):
            call = {
                "function": {"name": chunk.name, "arguments": chunk.input if chunk.input is not None else {}}
            }
            return [self._line({"content": "", "tool_calls": [call]}, done=False)]
        if isinstance(chunk, Finish):
            self._reason = (
                chunk.raw_reason
                if chunk.raw_reason in ("stop", "length")
                else _OLLAMA_DONE.get(chunk.reason, "stop")
            )
            return []
        if isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
            return []
        if isinstance(chunk, StreamError):
            return [JSONValue({"error": chunk.error.message})]
        if isinstance(chunk, Done):
            extra: dict[str, Any] = {"done_reason": self._reason or "stop", "done": True}
            if self._usage is not None:
                if self._usage.input_tokens is not None:
                    extra["prompt_eval_count"] = self._usage.input_tokens
                if self._usage.output_tokens is not None:
                    extra["eval_count"] = self._usage.output_tokens
            return [self._line({"content": ""}, **extra)]
        return []


def chunk_encoder(
    format: WireFormat = "slop",
    *,
    framing: Literal["sse", "ndjson"] | None = None,
    model: str | None = None,
    id: str | None = None,
    **options: Any,
) -> ChunkEncoder:
    """A fresh ``ChunkEncoder`` for one response. ``framing`` only matters for ``"slop"`` (SSE
    by default, or NDJSON); the other formats have the framing their provider uses."""
    if format == "slop":
        return _SlopEncoder(framing=framing or "sse", model=model, id=id)
    if format == "openai":
        encoder: ChunkEncoder = _OpenAIEncoder(model=model, id=id, **options)
    elif format == "anthropic":
        encoder = _AnthropicEncoder(model=model, id=id)
    elif format == "ollama":
        encoder = _OllamaEncoder(model=model, id=id, **options)
    else:
        raise LocalProtocolError(f"unknown wire format {format!r}; use one of {', '.join(WIRE_FORMATS)}")
    if framing is not None and framing != encoder.framing:
        raise LocalProtocolError(f"the {format!r} wire format is framed as {encoder.framing}, not {framing}")
    return encoder


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
                raise LocalProtocolError(f"the {format!r} wire format is NDJSON: use ndjson_stream()")
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
