"""OpenAI Chat Completions, and every server that speaks its streaming shape (vLLM, llama.cpp,
OpenRouter, Groq, DeepSeek, Z.ai, Snowflake Cortex, the Hugging Face router…).

Wire format: SSE ``data: <chat.completion.chunk JSON>`` events ending with ``data: [DONE]``.
Each chunk's ``choices[i].delta`` carries text (``content``), ``refusal``, reasoning
(``reasoning_content`` or ``reasoning``, or failing both, ``reasoning_details[]`` entries of type
``reasoning.text``) and ``tool_calls[]`` fragments keyed by ``tool_calls[].index``. ``<think>``
tags inside text are left alone (they are the model's text as sent).

Errors, in every form servers use: a top-level ``error`` in a data chunk (vLLM, OpenRouter — whose
error chunk also carries choices and usage: those are delivered first, then the error),
``{"object": "error", …}`` (old vLLM), a named ``event: error`` (Groq, which then sends no
``[DONE]``), and llama.cpp's ``error:`` SSE *field* (the parser is asked to surface it). An
in-band error also counts as the end of the stream for completeness: the server has said how
the stream ended.

Usage arrives in a chunk with ``choices: []`` (``include_usage``) or on the last content chunk;
later ``"usage": null`` values never erase it. Tool calls end (``ToolCallEnd``) when their choice
finishes, at ``[DONE]``, or at end of input; never on a higher index, so servers that interleave
parallel calls still assemble correctly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..core import dumps_wire
from ..model import (
    Chunk,
    Comment,
    Done,
    Finish,
    JSONValue,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ResponseStart,
    ServerSentEvent,
    SSEField,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    WireEvent,
    text_delta,
)
from ._base import Decoder, HTTPRequest, Message, Provider, ToolSpec
from ._common import (
    ToolCallTracker,
    arguments_text,
    bearer_post,
    chat_tool_calls,
    content_text,
    function_spec,
    is_retryable,
    join_url,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    sniffed,
    tool_call_id,
    unknown_role,
)
from ._encoder import ChunkEncoder, WireOut

__all__ = [
    "OpenAIProvider",
    "OpenAIDecoder",
    "openai_usage",
    "openai_messages",
    "openai_tools",
    "OpenAIEncoder",
]

FINISH_MAP = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
    # Mistral's older name for hitting the context window.
    "model_length": "length",
}


def openai_usage(raw: Mapping[str, Any]) -> Usage:
    """``Usage`` from an OpenAI-style usage object (DeepSeek's cache-hit count accepted)."""
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, Mapping) else None
    if cached is None:
        cached = raw.get("prompt_cache_hit_tokens")
    reasoning = (
        completion_details.get("reasoning_tokens") if isinstance(completion_details, Mapping) else None
    )
    return make_usage(
        raw,
        input=raw.get("prompt_tokens"),
        output=raw.get("completion_tokens"),
        total=raw.get("total_tokens"),
        reasoning=reasoning,
        cached=cached,
    )


class OpenAIDecoder(Decoder):
    """Chat-completion chunks → chunks. Subclasses override ``content_chunks`` for content
    shapes other than a string (Mistral's typed arrays)."""

    provider = "openai"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._what = f"{self.provider} SSE data"  # names the data in a JSON error
        self._started = False  # ResponseStart was emitted
        self._done = False  # [DONE] seen
        self._errored = False  # an in-band error ended the stream
        self._finish_reasons: dict[int, str] = {}  # choice -> last finish_reason emitted
        # Tool-call numbering: (choice, wire index) -> our index; indexes in use; their ids.
        self._slots: dict[tuple[int, int], int] = {}
        self._taken: set[tuple[int, int]] = set()
        self._ids: dict[tuple[int, int], str] = {}

    @property
    def complete(self) -> bool:
        return self._done or self._errored

    @property
    def terminated(self) -> bool:
        return self._done  # data: [DONE]

    # -- wire events ---------------------------------------------------------------------------

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, ServerSentEvent):
            if event.event == "error":
                return self._error_event(event.data, sse_event="error")
            data = event.data
            if data[:1] != "{":  # (a chunk object: neither blank nor [DONE]; the usual case)
                if not data.strip():
                    return []  # an event with no data carries nothing (a bare `event:` line)
                if data.startswith("[DONE]"):
                    return self._on_done(event)
            return self.decode_payload(load_json(data, self._what))
        if isinstance(event, SSEField):
            if event.name == "error":  # llama.cpp: `error: {...}` as its own SSE field
                return self._error_event(event.value, sse_event=None)
            return []
        if isinstance(event, JSONValue):
            return self.decode_payload(event.value)
        if isinstance(event, Comment):
            return []
        raise RemoteProtocolError(
            f"{self.provider} streams are Server-Sent Events; got a {type(event).__name__} "
            "(check the framing option)"
        )

    def finish(self) -> list[Chunk]:
        return self._tools.end_all()

    # -- pieces --------------------------------------------------------------------------------

    def _on_done(self, event: ServerSentEvent) -> list[Chunk]:
        out = self._tools.end_all()
        if not self._done:
            self._done = True
            out.append(Done(raw=event.data))
        return out

    def _error_event(self, text: str, *, sse_event: str | None) -> list[Chunk]:
        try:
            payload: Any = load_json(text, "error event")
        except RemoteProtocolError:
            payload = text  # a plain-text error message is still an error
        body = payload.get("error", payload) if isinstance(payload, Mapping) else payload
        return [self._error_chunk(body, payload)]

    def _error_chunk(self, body: Any, payload: Any) -> Chunk:
        self._errored = True
        if not isinstance(body, Mapping):
            return provider_error(self.provider, body, payload=payload)
        # Groq puts the HTTP-like status in the body; it also says whether retrying may help.
        status = body.get("status_code", body.get("status"))
        code = body.get("code", status)
        type_ = body.get("type")
        type_ = type_ if isinstance(type_, str) else None
        return provider_error(
            self.provider,
            body.get("message") or body.get("detail") or body,
            type=type_,
            code=code,
            retryable=is_retryable(type_, code, status),
            payload=payload,
        )

    def decode_payload(self, obj: Any) -> list[Chunk]:
        """Chunks for one decoded chat-completion chunk."""
        # (type() first: decoded JSON objects are dicts, and an ABC isinstance check costs
        # several times more; any other Mapping is still accepted.)
        if type(obj) is not dict and not isinstance(obj, Mapping):
            raise RemoteProtocolError(
                f"{self.provider} data is not a JSON object: {str(obj)[:80]!r}; the server does not "
                "speak the Chat Completions protocol"
            )
        out: list[Chunk] = []
        if not self._started and (obj.get("id") or obj.get("model")):
            self._started = True
            out.append(ResponseStart(id=obj.get("id") or None, model=obj.get("model") or None, raw=obj))
        error = obj.get("error")
        if error is None and obj.get("object") == "error":
            error = obj  # the old vLLM form: the error fields are the object itself
        choices = obj.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if type(choice) is dict or isinstance(choice, Mapping):
                    out.extend(self._choice(choice, position))
        usage = obj.get("usage")
        if usage and (type(usage) is dict or isinstance(usage, Mapping)):
            out.append(openai_usage(usage))
        if error:
            # Everything the error chunk carried (OpenRouter: choices and usage) came first.
            out.append(self._error_chunk(error, obj))
        return out

    def _choice(self, choice: Mapping[str, Any], position: int) -> list[Chunk]:
        index = choice.get("index")
        c = index if isinstance(index, int) else position
        out: list[Chunk] = []
        delta = choice.get("delta")
        if type(delta) is dict or isinstance(delta, Mapping):
            if "reasoning_content" in delta or "reasoning" in delta or "reasoning_details" in delta:
                out.extend(self._reasoning(delta, c))
            content = delta.get("content")
            if content:
                out.extend(self.content_chunks(content, c, delta))
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                out.append(RefusalDelta(refusal, c, raw=delta))
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                out.extend(self._tool_calls(tool_calls, c))
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason and self._finish_reasons.get(c) != reason:
            # OpenRouter repeats the finish_reason on later chunks: one Finish per change.
            self._finish_reasons[c] = reason
            out.extend(self._tools.end_all(choice=c))
            out.append(
                Finish(reason=normalize_finish(reason, FINISH_MAP), raw_reason=reason, choice=c, raw=choice)
            )
        return out

    def _reasoning(self, delta: Mapping[str, Any], c: int) -> list[Chunk]:
        for key in ("reasoning_content", "reasoning"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                return [ReasoningDelta(text=text, choice=c, raw=delta)]
        details = delta.get("reasoning_details")
        out: list[Chunk] = []
        if isinstance(details, list):
            for detail in details:
                if isinstance(detail, Mapping) and detail.get("type") == "reasoning.text":
                    text = detail.get("text")
                    if isinstance(text, str) and text:
                        out.append(ReasoningDelta(text=text, choice=c, raw=detail))
                    signature = detail.get("signature")
                    if isinstance(signature, str) and signature:
                        out.append(ReasoningDelta(signature=signature, choice=c, raw=detail))
        return out

    def content_chunks(self, content: Any, c: int, delta: Mapping[str, Any]) -> list[Chunk]:
        """Chunks for a non-empty ``delta.content``: a string here."""
        if isinstance(content, str):
            return [text_delta(content, c, raw=delta)]
        raise RemoteProtocolError(
            f"{self.provider} delta.content is neither a string nor null: {str(content)[:80]!r}"
        )

    def _slot(self, c: int, wire: int, id_: str | None, out: list[Chunk]) -> int:
        """Our index for a fragment at ``tool_calls[].index == wire``: the wire index itself,
        unless a fragment brings a *different* id for an index whose call already has one (some
        compatible servers number every parallel call 0): that is a new call, and the open one
        ends here. Later fragments without an id follow the newest call at that wire index."""
        key = (c, wire)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._fresh(c) if key in self._taken else wire
        elif id_ is not None and self._ids.get((c, slot), id_) != id_:
            out.extend(self._tools.end(slot, choice=c))
            slot = self._fresh(c)
        self._slots[key] = slot
        self._taken.add((c, slot))
        if id_ is not None:
            self._ids.setdefault((c, slot), id_)
        return slot

    def _fresh(self, c: int) -> int:
        return 1 + max((i for choice, i in self._taken if choice == c), default=-1)

    def _tool_calls(self, calls: list[Any], c: int) -> list[Chunk]:
        out: list[Chunk] = []
        for position, call in enumerate(calls):
            if not isinstance(call, Mapping):
                continue
            index = call.get("index")
            id_ = call.get("id")
            id_ = id_ if isinstance(id_, str) and id_ else None
            i = self._slot(c, index if isinstance(index, int) else position, id_, out)
            function = call.get("function")
            function = function if isinstance(function, Mapping) else {}
            name = function.get("name")
            out.extend(
                self._tools.start(
                    i,
                    id_,
                    name if isinstance(name, str) else None,
                    choice=c,
                    raw=call,
                )
            )
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                out.extend(self._tools.delta(i, arguments, choice=c, raw=call))
            elif isinstance(arguments, Mapping):  # a few servers send an object, not text
                out.extend(self._tools.delta(i, arguments_text(arguments), choice=c, raw=call))
        return out


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in tools:
        function = function_spec(spec)
        inner = spec.get("function") if isinstance(spec.get("function"), Mapping) else spec
        if isinstance(inner, Mapping) and "strict" in inner:
            function["strict"] = inner["strict"]
        out.append({"type": "function", "function": function})
    return out


def openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Common-format messages → Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer", "user"):
            # User content may be a list of OpenAI content parts (images…): passed through.
            out.append(
                {
                    "role": role,
                    "content": content
                    if isinstance(content, list) and role == "user"
                    else content_text(content),
                }
            )
        elif role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": content_text(content) or None}
            calls = message.get("tool_calls")
            if calls:
                item["tool_calls"] = chat_tool_calls(calls)
            out.append(item)
        elif role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": tool_call_id(message), "content": content_text(content)}
            )
        else:
            raise unknown_role(role)
    return out


# -- wire encoder (chunks → Chat Completions SSE), for the server helpers and the demo ---------

_WIRE_FINISH = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


class OpenAIEncoder(ChunkEncoder):
    """OpenAI Chat Completions chunks: role chunk, deltas, finish chunk, usage chunk with empty
    ``choices``, ``data: [DONE]``. Reasoning goes out as ``delta.reasoning_content`` (the field
    DeepSeek, vLLM and others use); tool calls as ``delta.tool_calls`` fragments; an error as
    ``{"error": {...}}`` in a data line. ``created`` is ``now`` (0 when not given)."""

    format = "openai"
    multi_choice = True

    def __init__(self, *, created: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.created = int(self.now or 0) if created is None else created
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
        return ServerSentEvent(dumps_wire(body))

    def _delta(
        self, choice: int, delta: dict[str, Any], finish: str | None = None, **extra: Any
    ) -> list[WireOut]:
        if choice not in self._roles:
            self._roles.add(choice)
            if "role" not in delta:
                delta = {"role": "assistant", **delta}
        entry = {"index": choice, "delta": delta, "logprobs": None, "finish_reason": finish}
        return [self._chunk([entry], **extra)]

    def _tool_call(self, chunk: ToolCallStart | ToolCallDelta | ToolCallEnd) -> list[WireOut]:
        key = (chunk.choice, chunk.index)
        if isinstance(chunk, ToolCallStart):
            self._tool_args[key] = False
            call: dict[str, Any] = {
                "index": chunk.index,
                "id": chunk.id,
                "type": "function",
                "function": {"name": chunk.name, "arguments": ""},
            }
            return self._delta(chunk.choice, {"tool_calls": [call]})
        if isinstance(chunk, ToolCallDelta):
            self._tool_args[key] = True
            call = {"index": chunk.index, "function": {"arguments": chunk.arguments}}
            return self._delta(chunk.choice, {"tool_calls": [call]})
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

    @staticmethod
    def _finish_reason(chunk: Finish) -> str:
        if chunk.raw_reason in _WIRE_FINISH:
            return chunk.raw_reason
        return chunk.reason if chunk.reason in _WIRE_FINISH else "stop"

    @staticmethod
    def _usage(chunk: Usage) -> dict[str, Any]:
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
        return usage

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            self.model = chunk.model or self.model
            if 0 in self._roles:
                return []
            return self._delta(0, {"role": "assistant", "content": ""})
        if isinstance(chunk, TextDelta):
            return self._delta(chunk.choice, {"content": chunk.text})
        if isinstance(chunk, ReasoningDelta):
            return self._delta(chunk.choice, {"reasoning_content": chunk.text}) if chunk.text else []
        if isinstance(chunk, RefusalDelta):
            return self._delta(chunk.choice, {"refusal": chunk.text})
        if isinstance(chunk, (ToolCallStart, ToolCallDelta, ToolCallEnd)):
            return self._tool_call(chunk)
        if isinstance(chunk, Finish):
            return self._delta(chunk.choice, {}, finish=self._finish_reason(chunk))
        if isinstance(chunk, Usage):
            return [self._chunk([], usage=self._usage(chunk))]
        if isinstance(chunk, StreamError):
            err = chunk.error
            return [
                ServerSentEvent(
                    dumps_wire({"error": {"message": err.message, "type": err.type, "code": err.code}})
                )
            ]
        if isinstance(chunk, Done):
            return [ServerSentEvent("[DONE]")]
        return []  # ToolResult: Chat Completions has no server-side tool results


CHAT_COMPLETIONS_OPTIONS: frozenset[str] = frozenset(
    {
        "include_usage", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
        "seed", "n", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
        "logit_bias", "tool_choice", "parallel_tool_calls", "response_format",
        "reasoning_effort", "verbosity", "user", "store", "metadata", "modalities", "audio",
        "prediction", "service_tier", "web_search_options", "prompt_cache_key",
        "safety_identifier", "extra_body", "extra_headers",
    }
)  # fmt: skip
"""Chat Completions request fields, sent by name (OpenAI's API reference)."""


class OpenAIProvider(Provider):
    """OpenAI Chat Completions (``POST {base}/chat/completions``); any compatible server via
    ``base_url``."""

    name = "openai"
    encoder_class = OpenAIEncoder
    framing = "sse"
    default_base_url = "https://api.openai.com/v1"
    url_hints: ClassVar[tuple[str, ...]] = ("api.openai.com", "/chat/completions")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            isinstance(value, dict) and (value.get("object") == "chat.completion.chunk" or "choices" in value)
            for name, value, kind in sniffed(events)
        )

    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",)
    base_url_env: str | None = "OPENAI_BASE_URL"
    content_types = ("text/event-stream",)
    terminal_marker = "'data: [DONE]'"
    path = "/chat/completions"
    accepted_options: ClassVar[frozenset[str] | None] = CHAT_COMPLETIONS_OPTIONS

    _KNOWN_OPTIONS = ("include_usage",)

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
        body: dict[str, Any] = {"model": model, "messages": openai_messages(messages), "stream": True}
        if options.get("include_usage", True):
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = openai_tools(tools)
        # max_tokens, temperature, top_p, stop, reasoning_effort, n… go in under their own names.
        url = join_url(base_url or self.default_base_url, self.path)
        return bearer_post(url, body, api_key, options, self._KNOWN_OPTIONS)

    def decoder(self) -> Decoder:
        return OpenAIDecoder()

    def parser_options(self) -> dict[str, Any]:
        # OpenRouter keepalive comments are counted; llama.cpp's `error:` field is surfaced.
        return {"comments": True, "extra_fields": ("error",)}
