"""Anthropic Messages API: request builder and stream decoder.

Wire format (PROVIDERS.md §5): SSE with ``event: <type>`` lines whose name equals the JSON
``type``; ``message_start`` → per content block (``content_block_start`` →
``content_block_delta``* → ``content_block_stop``) → ``message_delta`` → ``message_stop``.
``ping`` is a keepalive; ``event: error`` is an in-band error; there is no ``[DONE]``.

Strategy: the decoder keeps one small record per open content block, keyed by the block's
``index``. Tool-call argument fragments (``input_json_delta``) are collected in a list and joined
once at ``content_block_stop``, so assembly is linear. Usage is merged field by field from
``message_start.message.usage`` and each ``message_delta.usage`` (latest non-null wins) and the
merged ``Usage`` is emitted every time it changes, because the accumulator keeps the last one.

Where things go:

* ``text`` blocks → ``TextDelta``; ``citations_delta`` → ``ToolResult(kind="citation",
  content=<citation object>)`` so citations reach ``ChatResult.tool_results`` (the citation
  arrives just before the text it supports; ``raw`` is the delta event, with the block index).
* ``thinking`` → ``ReasoningDelta`` (text, then the ``signature``), one ``block`` number per
  thinking / redacted-thinking content block; ``redacted_thinking`` → ``ReasoningDelta(redacted=True,
  data=...)``.
* ``tool_use`` / ``server_tool_use`` / ``mcp_tool_use`` (any ``*tool_use`` block) →
  ``ToolCallStart`` (``kind="function"`` for ``tool_use``, else the block type), a
  ``ToolCallDelta`` per non-empty fragment, ``ToolCallEnd`` at the block's stop.
  A call whose only fragment is ``""`` has arguments ``"{}"`` and input ``{}``.
* ``*_tool_result`` blocks (delivered whole in ``content_block_start``) → ``ToolResult`` with the
  block type as ``kind``, ``content`` the block's ``content`` and ``raw`` the whole block.
* ``compaction`` blocks → ``ToolResult(kind="compaction", content=<summary text>)`` at their stop.
* ``message_delta.stop_reason`` → ``Finish`` (``raw`` holds ``stop_sequence`` / ``stop_details``).
* ``event: error`` → ``StreamError`` (``type`` the error type, ``code`` its usual HTTP status,
  retryable for overloaded / api / rate-limit / timeout errors).

Completeness: ``message_stop`` (→ ``Done``), or an ``event: error`` (no ``message_stop`` follows
it; the stream ended as the server meant, so it is not reported as truncated).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from ..core import dumps_wire
from ..model import (
    Chunk,
    Comment,
    Done,
    Finish,
    JSONValue,
    LocalProtocolError,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ResponseStart,
    ServerSentEvent,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    Usage,
    WireEvent,
    text_delta,
)
from ._base import Decoder, HTTPRequest, Message, Provider, ToolSpec
from ._common import (
    apply_extra_body,
    arguments_object,
    content_text,
    int_or_none,
    join_url,
    make_usage,
    normalize_finish,
    provider_error,
    sniffed,
    tool_declarations,
)
from ._encoder import ChunkEncoder, WireOut

__all__ = ["AnthropicProvider", "AnthropicDecoder", "AnthropicEncoder"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; 4096 fits within every current model's output limit."""
DEFAULT_THINKING_BUDGET = 1024
"""The smallest ``budget_tokens`` Anthropic accepts, used for ``thinking=True``."""

STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "other",
}

# The HTTP status Anthropic uses for each error type (its error docs); an in-band error carries
# only the type, and the status is the familiar code for it.
_ERROR_CODES: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_RETRYABLE_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


def _usage_from(raw: Mapping[str, Any]) -> Usage:
    """Uniform counts from a (merged) Anthropic usage object.

    Anthropic's ``input_tokens`` excludes cached input; the uniform ``input_tokens`` is every
    input token (uncached + cache writes + cache reads), with the reads also in ``cached_tokens``.
    ``raw`` is the merged usage object as sent.
    """
    counts = [
        int_or_none(raw.get(k))
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    known = [n for n in counts if n is not None]
    details = raw.get("output_tokens_details")
    return make_usage(
        dict(raw),
        input=sum(known) if known else None,
        output=raw.get("output_tokens"),
        reasoning=details.get("thinking_tokens") if isinstance(details, Mapping) else None,
        cached=counts[2],
    )


class _Block:
    """One open content block: what it is and what it has collected so far."""

    __slots__ = ("fragments", "id", "initial_input", "kind", "name", "number")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.number = 0  # tool-call index or reasoning block number, per kind
        self.id: str | None = None
        self.name = ""
        # argument fragments (tool use) or summary fragments (compaction), joined once at stop
        self.fragments: list[str] = []
        # a tool_use block's "input" from content_block_start, used if no fragment follows
        self.initial_input: Any = None


def _is_tool_use(kind: str) -> bool:
    return kind == "tool_use" or kind.endswith("_tool_use")


def _call_kind(block_type: str) -> str:
    """The chunk ``kind`` of a tool-use block: ``"function"`` for the caller's own tools (as
    every provider reports them), the block type for server-side and MCP tool uses."""
    return "function" if block_type == "tool_use" else block_type


def _is_tool_result(kind: str) -> bool:
    return kind.endswith("_tool_result") or kind == "tool_result"


class AnthropicDecoder(Decoder):
    """Decode an Anthropic Messages SSE stream into chunks (see the module docstring)."""

    provider = "anthropic"

    def __init__(self) -> None:
        self._blocks: dict[int, _Block] = {}
        self._tool_count = 0
        self._reasoning_count = 0
        self._tool_ids: dict[str, int] = {}  # tool_use id → tool index, to tie results to calls
        self._usage: dict[str, Any] = {}
        self._complete = False
        # An ``event: error`` ends the stream (no message_stop follows): the server said how
        # it ended, so the stream is not truncated.
        self._errored = False

    @property
    def complete(self) -> bool:
        return self._complete or self._errored

    @property
    def terminated(self) -> bool:
        return self._complete  # message_stop

    def is_keepalive(self, event: WireEvent) -> bool:
        if isinstance(event, Comment):
            return True
        return isinstance(event, ServerSentEvent) and event.event == "ping"

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, ServerSentEvent):
            # [ant-sdk] skips events with empty data (e.g. a bare "event:" line).
            name = event.event
            data = event.data
            if name == "ping" or (data[:1] != "{" and not data.strip()):  # ("{": not blank)
                return []
            payload = event.json()
        elif isinstance(event, JSONValue):
            payload, name = event.value, "message"
        else:
            return []
        if not isinstance(payload, dict):
            raise RemoteProtocolError(
                f"anthropic: expected a JSON object in the {name!r} event, got {type(payload).__name__}"
            )
        # The event name always equals data.type on the wire; fall back to the JSON type when a
        # proxy dropped the "event:" line.
        kind = name if name not in ("message", "") else str(payload.get("type", ""))
        handler = self._HANDLERS.get(kind)
        return handler(self, payload) if handler is not None else []

    # -- handlers, one per event type -------------------------------------------------------

    def _message_start(self, payload: dict[str, Any]) -> list[Chunk]:
        message = payload.get("message")
        if not isinstance(message, dict):
            return []
        out: list[Chunk] = [
            ResponseStart(
                id=_str_or_none(message.get("id")), model=_str_or_none(message.get("model")), raw=payload
            )
        ]
        usage = self._merge_usage(message.get("usage"))
        if usage is not None:
            out.append(usage)
        return out

    def _block_start(self, payload: dict[str, Any]) -> list[Chunk]:
        index = _index(payload)
        block = payload.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = str(block.get("type", ""))
        state = self._blocks[index] = _Block(kind)
        if kind == "text":
            text = block.get("text")
            return [text_delta(text, raw=payload)] if isinstance(text, str) and text else []
        if kind in ("thinking", "redacted_thinking"):
            state.number = self._reasoning_count
            self._reasoning_count += 1
            if kind == "redacted_thinking":
                data = block.get("data")
                return [
                    ReasoningDelta(
                        redacted=True,
                        data=data if isinstance(data, str) else None,
                        block=state.number,
                        raw=payload,
                    )
                ]
            out: list[Chunk] = []
            text = block.get("thinking")
            if isinstance(text, str) and text:
                out.append(ReasoningDelta(text=text, block=state.number, raw=payload))
            signature = block.get("signature")
            if isinstance(signature, str) and signature:
                out.append(ReasoningDelta(signature=signature, block=state.number, raw=payload))
            return out
        if _is_tool_use(kind):
            state.number = self._tool_count
            self._tool_count += 1
            state.id = _str_or_none(block.get("id"))
            state.name = str(block.get("name", ""))
            state.initial_input = block.get("input")
            if state.id is not None:
                self._tool_ids[state.id] = state.number
            return [
                ToolCallStart(
                    index=state.number, id=state.id, name=state.name, kind=_call_kind(kind), raw=block
                )
            ]
        if _is_tool_result(kind):
            call_id = _str_or_none(block.get("tool_use_id"))
            return [
                ToolResult(
                    tool_call_id=call_id,
                    kind=kind,
                    content=block.get("content"),
                    index=self._tool_ids.get(call_id) if call_id is not None else None,
                    raw=block,
                )
            ]
        if kind == "compaction":
            content = block.get("content")
            if isinstance(content, str):
                state.fragments.append(content)
        return []

    def _block_delta(self, payload: dict[str, Any]) -> list[Chunk]:
        index = _index(payload)
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return []
        state = self._blocks.get(index)
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            return [text_delta(text, raw=payload)] if isinstance(text, str) and text else []
        if kind == "input_json_delta":
            fragment = delta.get("partial_json")
            if state is None or not isinstance(fragment, str) or not fragment:
                return []
            state.fragments.append(fragment)
            return [ToolCallDelta(index=state.number, arguments=fragment, raw=payload)]
        if kind == "thinking_delta":
            text = delta.get("thinking")
            number = state.number if state is not None else 0
            return (
                [ReasoningDelta(text=text, block=number, raw=payload)]
                if isinstance(text, str) and text
                else []
            )
        if kind == "signature_delta":
            signature = delta.get("signature")
            number = state.number if state is not None else 0
            if isinstance(signature, str):
                return [ReasoningDelta(signature=signature, block=number, raw=payload)]
            return []
        if kind == "citations_delta":
            return [
                ToolResult(
                    tool_call_id=None,
                    kind="citation",
                    content=delta.get("citation"),
                    raw=payload,
                )
            ]
        if kind == "compaction_delta":
            content = delta.get("content")
            if state is not None and isinstance(content, str):
                state.fragments.append(content)
        return []

    def _block_stop(self, payload: dict[str, Any]) -> list[Chunk]:
        state = self._blocks.pop(_index(payload), None)
        if state is None:
            return []
        if _is_tool_use(state.kind):
            if state.fragments:
                arguments = "".join(state.fragments)
            elif isinstance(state.initial_input, dict) and state.initial_input:
                arguments = json.dumps(state.initial_input, ensure_ascii=False, separators=(",", ":"))
            else:
                arguments = "{}"  # only "" was sent: a call without arguments
            try:
                parsed: Any = json.loads(arguments)
            except (ValueError, RecursionError):  # invalid, or nested deeper than json can go
                parsed = None  # kept as sent; ToolCallEnd documents input=None for invalid JSON
            return [
                ToolCallEnd(
                    index=state.number,
                    id=state.id,
                    name=state.name,
                    arguments=arguments,
                    input=parsed,
                    kind=_call_kind(state.kind),
                    raw=payload,
                )
            ]
        if state.kind == "compaction":
            return [
                ToolResult(
                    tool_call_id=None, kind="compaction", content="".join(state.fragments), raw=payload
                )
            ]
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[Chunk]:
        out: list[Chunk] = []
        delta = payload.get("delta")
        if isinstance(delta, dict):
            reason = delta.get("stop_reason")
            if isinstance(reason, str):
                out.append(
                    Finish(reason=normalize_finish(reason, STOP_REASONS), raw_reason=reason, raw=delta)
                )
        usage = self._merge_usage(payload.get("usage"))
        if usage is not None:
            out.append(usage)
        return out

    def _message_stop(self, payload: dict[str, Any]) -> list[Chunk]:
        self._complete = True
        return [Done(raw=payload)]

    def _error(self, payload: dict[str, Any]) -> list[Chunk]:
        error = payload.get("error")
        body = error if isinstance(error, dict) else {}
        kind = _str_or_none(body.get("type"))
        self._errored = True
        return [
            provider_error(
                self.provider,
                body.get("message") or f"stream error {kind or '(no type)'}",
                type=kind,
                code=_ERROR_CODES.get(kind or ""),
                retryable=kind in _RETRYABLE_ERRORS,
                payload=payload,
            )
        ]

    def _merge_usage(self, raw: object) -> Usage | None:
        """Merge a usage object into the running one; the merged ``Usage`` if anything changed."""
        if not isinstance(raw, dict):
            return None
        changed = False
        for key, value in raw.items():
            if value is not None and self._usage.get(key) != value:
                self._usage[key] = value
                changed = True
        return _usage_from(self._usage) if changed else None

    _HANDLERS: ClassVar[Mapping[str, Callable[[AnthropicDecoder, dict[str, Any]], list[Chunk]]]] = {
        "message_start": _message_start,
        "content_block_start": _block_start,
        "content_block_delta": _block_delta,
        "content_block_stop": _block_stop,
        "message_delta": _message_delta,
        "message_stop": _message_stop,
        "error": _error,
    }


def _index(payload: Mapping[str, Any]) -> int:
    index = payload.get("index")
    return index if isinstance(index, int) else 0


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- request building ------------------------------------------------------------------------


# -- wire encoder (chunks → the Messages event sequence), for the server helpers and the demo ----

_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "refusal": "refusal"}
_ANTHROPIC_RAW_STOP = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}


class AnthropicEncoder(ChunkEncoder):
    """The Anthropic Messages event sequence. Content blocks open and close as the chunk kind
    changes; ``message_delta`` (stop reason and usage) is held until the end because OpenAI-style
    sources send usage after the finish.

    Anthropic blocks are strictly sequential, while sources may interleave the argument
    fragments of parallel tool calls (OpenAI, Gemini) and end them all at the finish. So a
    ``tool_use`` block is written whole when its call ends (start, the arguments as one
    ``input_json_delta``, stop): always a correct block, at the cost of not streaming
    arguments."""

    format = "anthropic"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._started = False
        self._block: str | None = None  # kind of the open content block
        self._block_key: Any = None  # reasoning block number of the open block
        self._stop: str | None = None
        self._usage: Usage | None = None

    def keepalive(self) -> WireOut:
        return ServerSentEvent('{"type": "ping"}', event="ping")

    @staticmethod
    def _event(payload: dict[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(dumps_wire(payload), event=payload["type"])

    def _start(self) -> list[WireOut]:
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

    def _close_block(self) -> list[WireOut]:
        if self._block is None:
            return []
        self._block = None
        out: list[WireOut] = [self._event({"type": "content_block_stop", "index": self._index})]
        self._index += 1
        return out

    def _open(self, kind: str, key: Any, block: dict[str, Any]) -> list[WireOut]:
        if self._block == kind and self._block_key == key:
            return []
        out = self._close_block()
        self._block, self._block_key = kind, key
        out.append(self._event({"type": "content_block_start", "index": self._index, "content_block": block}))
        return out

    def _delta(self, delta: dict[str, Any]) -> WireOut:
        return self._event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _encode(self, chunk: Chunk) -> list[WireOut]:
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


class AnthropicProvider(Provider):
    """``anthropic``: POST ``{base}/v1/messages`` with ``stream: true``."""

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "max_tokens", "thinking", "thinking_budget", "stop", "temperature", "top_p", "top_k",
            "tool_choice", "metadata", "service_tier", "container", "mcp_servers",
            "context_management", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Messages request fields (Anthropic's API reference) and our ``thinking_budget``/``stop``."""

    name = "anthropic"
    encoder_class = AnthropicEncoder
    framing = "sse"
    default_base_url = "https://api.anthropic.com"
    url_hints: ClassVar[tuple[str, ...]] = ("api.anthropic.com", "/v1/messages")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        # Its event names and types, or its error event ({"type": "error", "error": {"type": ...}};
        # a SLOP error chunk carries a string).
        return any(
            name.startswith(("message_", "content_block"))
            or kind in ("message_start", "content_block_delta")
            or (kind == "error" and isinstance(value.get("error"), dict) and "type" in value["error"])
            for name, value, kind in sniffed(events)
        )

    api_key_env: tuple[str, ...] = ("ANTHROPIC_API_KEY",)
    base_url_env: str | None = "ANTHROPIC_BASE_URL"
    content_types = ("text/event-stream",)
    terminal_marker = 'an "event: message_stop"'

    def decoder(self) -> AnthropicDecoder:
        return AnthropicDecoder()

    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> HTTPRequest:
        """The Messages request. Options: ``max_tokens`` (default ``DEFAULT_MAX_TOKENS``),
        ``temperature``, ``top_p``, ``top_k``, ``stop`` (→ ``stop_sequences``), ``tool_choice``,
        ``thinking`` (a dict sent as is, or ``True``) / ``thinking_budget`` (→ ``{"type":
        "enabled", "budget_tokens": n}``), ``extra_headers``; any other option is copied into the
        body, and ``extra_body`` is merged last. System messages become the top-level
        ``system``; tool results become ``tool_result`` blocks in a user message (consecutive
        results share one message, as parallel calls require)."""
        system: list[str] = []
        wire: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role == "system":
                system.append(content_text(content))
            elif role == "tool":
                block: dict[str, Any] = {
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id"),
                    "content": _content(content),
                }
                if message.get("is_error"):
                    block["is_error"] = True
                last = wire[-1] if wire else None
                if last is not None and last["role"] == "user" and _only_tool_results(last["content"]):
                    last["content"].append(block)
                else:
                    wire.append({"role": "user", "content": [block]})
            elif role == "assistant" and message.get("tool_calls"):
                blocks: list[dict[str, Any]] = []
                if isinstance(content, list):
                    blocks.extend(content)
                elif content:
                    blocks.append({"type": "text", "text": content_text(content)})
                for call in message["tool_calls"]:
                    call_id, name, arguments = _tool_call_parts(call)
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": call_id,
                            "name": name,
                            "input": arguments_object(arguments),
                        }
                    )
                wire.append({"role": "assistant", "content": blocks})
            elif role in ("user", "assistant"):
                wire.append({"role": role, "content": _content(content)})
            else:
                raise LocalProtocolError(
                    f"anthropic: unsupported message role {role!r}; use system, user, assistant or tool"
                )
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": options.get("max_tokens") or DEFAULT_MAX_TOKENS,
            "messages": wire,
        }
        if system:
            body["system"] = "\n\n".join(system)
        if tools:
            body["tools"] = tool_declarations(tools, "input_schema")
        thinking = options.get("thinking")
        budget = options.get("thinking_budget")
        if isinstance(thinking, Mapping):
            body["thinking"] = dict(thinking)
        elif thinking is True or budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": int(budget or DEFAULT_THINKING_BUDGET)}
        stop = options.get("stop")
        if stop is not None:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        apply_extra_body(body, options, ("max_tokens", "thinking", "thinking_budget", "stop", "stream"))
        body["stream"] = True
        headers = {"anthropic-version": ANTHROPIC_VERSION, "accept": "text/event-stream"}
        if api_key:
            headers["x-api-key"] = api_key
        headers.update(options.get("extra_headers") or {})
        return HTTPRequest.json(
            "POST", join_url(base_url or self.default_base_url, "/v1/messages"), body, headers
        )


def _content(content: Any) -> Any:
    """Content as Anthropic takes it: a string, or a list of content blocks passed as given."""
    return content if isinstance(content, list) else content_text(content)


def _only_tool_results(content: Any) -> bool:
    return isinstance(content, list) and all(
        isinstance(b, Mapping) and b.get("type") == "tool_result" for b in content
    )


def _tool_call_parts(call: Mapping[str, Any]) -> tuple[str | None, str, Any]:
    """``(id, name, arguments)`` of an assistant tool call in the common or the OpenAI form."""
    function = call.get("function")
    spec: Mapping[str, Any] = function if isinstance(function, Mapping) else call
    return call.get("id"), str(spec.get("name", "")), spec.get("arguments")
