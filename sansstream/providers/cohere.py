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
from typing import Any

from ..model._chunks import Chunk, Done, Finish, ReasoningDelta, ResponseStart, text_delta
from ..model._errors import RemoteProtocolError
from ..model._events import Comment, JSONValue, ServerSentEvent, WireEvent
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
    tool_call_id,
    unknown_role,
)

__all__ = ["CohereProvider", "CohereDecoder", "cohere_usage"]

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


class CohereProvider(Provider):
    """Cohere v2 chat."""

    name = "cohere"
    framing = "sse"
    default_base_url = "https://api.cohere.com"
    api_key_env = ("CO_API_KEY", "COHERE_API_KEY")
    base_url_env = None
    content_types = ("text/event-stream",)
    terminal_marker = "a message-end event"

    _KNOWN_OPTIONS = ("top_p", "stop")

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
