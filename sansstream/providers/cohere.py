"""Cohere v2 chat (``POST https://api.cohere.com/v2/chat``, ``"stream": true``).

Wire format: SSE ``event: <type>`` + ``data: <json>`` with ``data.type`` equal to the event
name (dispatch is on ``data.type``), then ``data: [DONE]`` after ``message-end``.

Mapping:

- ``message-start`` → ``ResponseStart`` (``id``; Cohere does not echo the model).
- ``content-start`` / ``content-delta``: ``content.text`` → text, ``content.thinking`` →
  reasoning (one reasoning block per content index).
- ``tool-plan-delta`` (the model's plan before calling tools) → reasoning too, in its own
  reasoning block: it is the model's reasoning about what to do, and users who show or store
  reasoning want it; ``raw`` keeps the original event for anyone who must tell them apart.
- ``tool-call-start`` (``delta.message.tool_calls`` is one object, not a list) /
  ``tool-call-delta`` (argument string fragments) / ``tool-call-end`` → tool-call chunks.
- ``message-end``: ``finish_reason`` (``COMPLETE``, ``STOP_SEQUENCE``, ``MAX_TOKENS``,
  ``TOOL_CALL``, ``ERROR``, ``TIMEOUT``) and ``usage`` (``tokens`` counts preferred over
  ``billed_units``; ``cached_tokens``). With ``finish_reason: ERROR`` the ``error`` text becomes
  a ``StreamError``, followed by ``Finish(error)``.

Completeness: ``message-end`` is the terminal marker (it carries the outcome; ``Done`` is
emitted there), and the ``[DONE]`` after it is accepted and ignored. A stream cut between
``message-end`` and ``[DONE]`` has lost nothing, so it is complete.
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
    bearer_post,
    chat_tool_calls,
    content_text,
    function_spec,
    join_url,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    renamed_options,
    sniffed,
    tool_call_id,
    unknown_role,
)
from ._encoder import ChunkEncoder, WireOut

__all__ = ["CohereProvider", "CohereDecoder", "cohere_usage", "CohereEncoder"]

FINISH_MAP = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}


def cohere_usage(raw: Mapping[str, Any]) -> Any:
    counts = raw.get("tokens")
    if not isinstance(counts, Mapping) or not counts:
        counts = raw.get("billed_units")
    counts = counts if isinstance(counts, Mapping) else {}
    return make_usage(
        raw,
        input=counts.get("input_tokens"),
        output=counts.get("output_tokens"),
        cached=raw.get("cached_tokens"),
    )


def _message(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    delta = obj.get("delta")
    message = delta.get("message") if isinstance(delta, Mapping) else None
    return message if isinstance(message, Mapping) else {}


class CohereDecoder(Decoder):
    provider = "cohere"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._kinds: dict[int, str] = {}  # content index -> "text" | "thinking"
        self._blocks: dict[Any, int] = {}  # reasoning source -> block number
        self._started = False
        self._ended = False  # message-end seen

    @property
    def complete(self) -> bool:
        return self._ended

    @property
    def terminated(self) -> bool:
        return self._ended  # message-end

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, Comment):
            return []
        if isinstance(event, JSONValue):
            return self._dispatch(event.value, "")
        if not isinstance(event, ServerSentEvent):
            raise RemoteProtocolError(f"Cohere streams are Server-Sent Events; got a {type(event).__name__}")
        if not event.data.strip() or event.data.startswith("[DONE]"):
            return []  # [DONE] follows message-end, which already ended the stream
        return self._dispatch(load_json(event.data, "Cohere SSE data"), event.event)

    def finish(self) -> list[Chunk]:
        return self._tools.end_all()

    def _block(self, key: Any) -> int:
        return self._blocks.setdefault(key, len(self._blocks))

    def _dispatch(self, obj: Any, event_name: str) -> list[Chunk]:
        if not isinstance(obj, Mapping):
            raise RemoteProtocolError(f"Cohere data is not a JSON object: {str(obj)[:80]!r}")
        kind = obj.get("type")
        kind = kind if isinstance(kind, str) else event_name
        index = obj.get("index")
        i = index if isinstance(index, int) else 0
        if kind in ("content-start", "content-delta"):
            content = _message(obj).get("content")
            if not isinstance(content, Mapping):
                return []
            if kind == "content-start" and isinstance(content.get("type"), str):
                self._kinds[i] = content["type"]
            thinking = content.get("thinking")
            if isinstance(thinking, str) and thinking:
                return [ReasoningDelta(text=thinking, block=self._block(("content", i)), raw=obj)]
            text = content.get("text")
            if isinstance(text, str) and text:
                if self._kinds.get(i) == "thinking":
                    return [ReasoningDelta(text=text, block=self._block(("content", i)), raw=obj)]
                return [text_delta(text, raw=obj)]
            return []
        if kind == "tool-plan-delta":
            plan = _message(obj).get("tool_plan")
            if isinstance(plan, str) and plan:
                return [ReasoningDelta(text=plan, block=self._block("tool_plan"), raw=obj)]
            return []
        if kind in ("tool-call-start", "tool-call-delta"):
            call = _message(obj).get("tool_calls")
            call = call if isinstance(call, Mapping) else {}
            function = call.get("function")
            function = function if isinstance(function, Mapping) else {}
            out: list[Chunk] = []
            if kind == "tool-call-start" or not self._tools.is_open(i):
                call_id, name = call.get("id"), function.get("name")
                out.extend(
                    self._tools.start(
                        i,
                        call_id if isinstance(call_id, str) else None,
                        name if isinstance(name, str) else None,
                        raw=obj,
                    )
                )
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                out.extend(self._tools.delta(i, arguments, raw=obj))
            return out
        if kind == "tool-call-end":
            return self._tools.end(i, raw=obj)
        if kind == "message-start":
            if self._started:
                return []
            self._started = True
            message_id = obj.get("id")
            return [ResponseStart(id=message_id if isinstance(message_id, str) else None, raw=obj)]
        if kind == "message-end":
            return self._message_end(obj)
        return []  # content-end, citation-start/-end, debug, future types

    def _message_end(self, obj: Mapping[str, Any]) -> list[Chunk]:
        delta = obj.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        out = self._tools.end_all()
        usage = delta.get("usage")
        if isinstance(usage, Mapping) and usage:
            out.append(cohere_usage(usage))
        reason = delta.get("finish_reason")
        reason = reason if isinstance(reason, str) else None
        error = delta.get("error")
        # The Finish goes before the error, so the ProviderError's partial result keeps
        # raw_finish_reason "ERROR" (real servers end failed generations this way).
        if reason is not None:
            out.append(Finish(reason=normalize_finish(reason, FINISH_MAP), raw_reason=reason, raw=obj))
        if reason == "ERROR" or error:
            error_type = delta.get("error_type")
            out.append(
                provider_error(
                    self.provider,
                    error or "the model stopped with finish_reason ERROR",
                    type=error_type if isinstance(error_type, str) else None,
                    code=error_type if isinstance(error_type, str) else None,
                    payload=obj,
                )
            )
        self._ended = True
        out.append(Done(raw=obj))
        return out


def cohere_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "user"):
            out.append({"role": role, "content": content_text(content)})
        elif role == "assistant":
            item: dict[str, Any] = {"role": "assistant"}
            text = content_text(content)
            calls = message.get("tool_calls")
            if text:
                item["content"] = text
            if calls:
                item["tool_calls"] = chat_tool_calls(calls)
            if message.get("tool_plan"):
                item["tool_plan"] = message["tool_plan"]
            out.append(item)
        elif role == "tool":
            out.append(
                {"role": "tool", "tool_call_id": tool_call_id(message), "content": content_text(content)}
            )
        else:
            raise unknown_role(role)
    return out


# -- wire encoder (chunks → the v2 chat event sequence), for the server helpers and the demo ------

_WIRE_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL", "error": "ERROR"}


class CohereEncoder(ChunkEncoder):
    """Cohere v2 chat events, each named by its ``type``: ``message-start``; text and thinking
    as ``content-start`` / ``content-delta`` / ``content-end`` blocks; tool calls as
    ``tool-call-start`` / ``-delta`` (argument fragments) / ``-end``; then ``message-end``
    carrying the finish reason and usage, and ``data: [DONE]``. An error ends the stream with a
    ``message-end`` whose ``finish_reason`` is ``ERROR``. One choice."""

    format = "cohere"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._started = False
        self._block: str | None = None  # "text" or "thinking": the open content block
        self._content_index = -1
        self._tools: dict[int, bool] = {}  # open tool call index -> arguments sent
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def _event(self, payload: dict[str, Any]) -> ServerSentEvent:
        return ServerSentEvent(dumps_wire(payload), event=payload["type"])

    def _start(self) -> list[WireOut]:
        if self._started:
            return []
        self._started = True
        message = {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
        return [
            self._event(
                {"id": self.id or "sansstream", "type": "message-start", "delta": {"message": message}}
            )
        ]

    def _close_block(self) -> list[WireOut]:
        if self._block is None:
            return []
        self._block = None
        return [self._event({"type": "content-end", "index": self._content_index})]

    def _content(self, kind: str, text: str) -> list[WireOut]:
        out: list[WireOut] = []
        if self._block != kind:
            out += self._close_block()
            self._block = kind
            self._content_index += 1
            start = {"type": "text", "text": ""} if kind == "text" else {"type": "thinking", "thinking": ""}
            out.append(
                self._event(
                    {
                        "type": "content-start",
                        "index": self._content_index,
                        "delta": {"message": {"content": start}},
                    }
                )
            )
        field = "text" if kind == "text" else "thinking"
        message = {"content": {field: text}}
        out.append(
            self._event(
                {"type": "content-delta", "index": self._content_index, "delta": {"message": message}}
            )
        )
        return out

    def _tool_event(self, kind: str, index: int, call: dict[str, Any] | None = None) -> ServerSentEvent:
        payload: dict[str, Any] = {"type": kind, "index": index}
        if call is not None:
            payload["delta"] = {"message": {"tool_calls": call}}
        return self._event(payload)

    def _tool(self, chunk: ToolCallStart | ToolCallDelta | ToolCallEnd) -> list[WireOut]:
        out = self._close_block()
        index = chunk.index
        if isinstance(chunk, ToolCallStart) or index not in self._tools:
            name = chunk.name if not isinstance(chunk, ToolCallDelta) else ""
            call_id = chunk.id if not isinstance(chunk, ToolCallDelta) else None
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            out.append(self._tool_event("tool-call-start", index, call))
            self._tools[index] = False
        fragment = ""
        if isinstance(chunk, ToolCallDelta) or (isinstance(chunk, ToolCallEnd) and not self._tools[index]):
            fragment = chunk.arguments
        if fragment:
            self._tools[index] = True
            out.append(self._tool_event("tool-call-delta", index, {"function": {"arguments": fragment}}))
        if isinstance(chunk, ToolCallEnd):
            del self._tools[index]
            out.append(self._tool_event("tool-call-end", index))
        return out

    def _end(self, delta: dict[str, Any]) -> list[WireOut]:
        out = self._close_block()
        for index in list(self._tools):
            del self._tools[index]
            out.append(self._tool_event("tool-call-end", index))
        out.append(self._event({"type": "message-end", "delta": delta}))
        return out

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            return self._start()
        out = self._start()
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            out += self._content("text", chunk.text) if chunk.text else []
        elif isinstance(chunk, ReasoningDelta):
            out += self._content("thinking", chunk.text) if chunk.text else []
        elif isinstance(chunk, (ToolCallStart, ToolCallDelta, ToolCallEnd)):
            out += self._tool(chunk)
        elif isinstance(chunk, Finish):
            self._finish = chunk
        elif isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
        elif isinstance(chunk, StreamError):
            err = chunk.error
            delta: dict[str, Any] = {"finish_reason": "ERROR", "error": err.message}
            if err.type:
                delta["error_type"] = err.type
            out += self._end(delta)
        elif isinstance(chunk, Done):
            finish = self._finish
            if finish is None:
                reason = "COMPLETE"
            elif finish.raw_reason in FINISH_MAP:
                reason = finish.raw_reason
            else:
                reason = _WIRE_FINISH.get(finish.reason, "COMPLETE")
            delta = {"finish_reason": reason}
            if self._usage is not None:
                counts = {
                    "input_tokens": self._usage.input_tokens or 0,
                    "output_tokens": self._usage.output_tokens or 0,
                }
                usage: dict[str, Any] = {"billed_units": counts, "tokens": counts}
                if self._usage.cached_tokens is not None:
                    usage["cached_tokens"] = self._usage.cached_tokens
                delta["usage"] = usage
            out += self._end(delta)
            out.append(ServerSentEvent("[DONE]"))
        return out


class CohereProvider(Provider):
    """Cohere v2 chat."""

    name = "cohere"
    encoder_class = CohereEncoder
    framing = "sse"
    default_base_url = "https://api.cohere.com"
    url_hints: ClassVar[tuple[str, ...]] = ("api.cohere", "/v2/chat")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            name in ("message-start", "content-delta", "stream-start")
            or kind in ("message-start", "content-delta")
            for name, value, kind in sniffed(events)
        )

    api_key_env = ("CO_API_KEY", "COHERE_API_KEY")
    base_url_env = None
    content_types = ("text/event-stream",)
    terminal_marker = "a message-end event"

    _KNOWN_OPTIONS = ("top_p", "stop")
    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "top_p", "stop", "temperature", "max_tokens", "k", "p", "stop_sequences", "seed",
            "frequency_penalty", "presence_penalty", "response_format", "safety_mode",
            "tool_choice", "documents", "citation_options", "thinking", "strict_tools",
            "logprobs", "priority", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Cohere v2 chat request fields (Cohere's API reference) and our ``top_p``/``stop``."""

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
        body: dict[str, Any] = {"model": model, "messages": cohere_messages(messages), "stream": True}
        if tools:
            body["tools"] = [{"type": "function", "function": function_spec(spec)} for spec in tools]
        # Cohere's names for two common options.
        body.update(renamed_options(options, (("top_p", "p"),), "stop_sequences"))
        url = join_url(base_url or self.default_base_url, "/v2/chat")
        return bearer_post(url, body, api_key, options, self._KNOWN_OPTIONS)

    def decoder(self) -> Decoder:
        return CohereDecoder()

    def parser_options(self) -> dict[str, Any]:
        return {"comments": True}
