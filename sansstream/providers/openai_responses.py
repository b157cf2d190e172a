"""OpenAI Responses API (``POST /v1/responses``) and Responses-compatible servers (OpenRouter,
DeepSeek).

Wire format: SSE events whose JSON ``type`` names the event (OpenAI also sends matching
``event:`` lines; OpenRouter does not, and adds ``:`` comments and a final ``data: [DONE]``), so
dispatch is on ``data.type``. Unknown types are ignored: the vocabulary keeps growing.

Mapping:

- ``response.created`` / ``.queued`` / ``.in_progress`` → ``ResponseStart`` (once; a resumed
  stream that starts mid-sequence simply has none).
- ``response.output_text.delta`` → text; ``response.refusal.delta`` → refusal;
  ``response.reasoning_summary_text.delta`` and ``response.reasoning_text.delta`` → reasoning
  (one reasoning ``block`` per item and summary/content part).
- Function calls: ``output_item.added`` (``function_call``) starts a call. Deltas are keyed by
  the item's ``id`` (``item_id``); the chunk's ``id`` is the item's ``call_id``, the id a tool
  result must reference. ``function_call_arguments.done`` carries the whole text (used when no
  deltas came); the call ends at ``output_item.done`` (which also fills in an id or name missed
  by a resumed stream), at the terminal event, or at end of input.
- Terminal events: ``response.completed`` (finish ``tool_calls`` when the output holds function
  calls, else ``stop``), ``response.incomplete`` (``incomplete_details.reason``:
  ``max_output_tokens`` → ``length``, ``content_filter``), ``response.failed`` (finish ``error``
  and, unless an ``error`` event already reported it, a ``StreamError`` from
  ``response.error``). Usage comes from the terminal event's ``response.usage``. Each ends the
  stream (``Done``); OpenRouter's later ``[DONE]`` is accepted.
- ``type: "error"`` events (``{"error": {...}}`` or the fields at top level) → ``StreamError``;
  the stream is then considered ended by the server (complete), as ``response.failed`` follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    WireEvent,
    text_delta,
)
from ._base import Decoder, HTTPRequest, Message, Provider, ToolSpec
from ._common import (
    ToolCallTracker,
    arguments_text,
    bearer_post,
    content_text,
    function_spec,
    join_url,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    tool_call_id,
    unknown_role,
)

__all__ = ["OpenAIResponsesProvider", "OpenAIResponsesDecoder", "responses_usage"]

INCOMPLETE_MAP = {
    "max_output_tokens": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
}

_START_TYPES = frozenset({"response.created", "response.queued", "response.in_progress"})
_TERMINAL_TYPES = frozenset({"response.completed", "response.incomplete", "response.failed"})


def responses_usage(raw: Mapping[str, Any]) -> Any:
    input_details = raw.get("input_tokens_details")
    output_details = raw.get("output_tokens_details")
    return make_usage(
        raw,
        input=raw.get("input_tokens"),
        output=raw.get("output_tokens"),
        total=raw.get("total_tokens"),
        reasoning=output_details.get("reasoning_tokens") if isinstance(output_details, Mapping) else None,
        cached=input_details.get("cached_tokens") if isinstance(input_details, Mapping) else None,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class OpenAIResponsesDecoder(Decoder):
    provider = "openai-responses"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._call_index: dict[str, int] = {}  # item id -> tool-call index (in order of appearance)
        self._whole_args: dict[int, str] = {}  # index -> text from function_call_arguments.done
        self._saw_function_call = False
        self._blocks: dict[tuple[str, str, int], int] = {}  # (item, kind, part) -> reasoning block
        self._started = False
        self._terminal = False  # a terminal response.* event was seen
        self._done = False  # Done was emitted
        self._error_reported = False  # an `error` event already produced a StreamError

    @property
    def complete(self) -> bool:
        return self._terminal or self._error_reported

    @property
    def terminated(self) -> bool:
        return self._terminal  # response.completed / .incomplete / .failed (or a bare [DONE])

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, Comment):
            return []
        if isinstance(event, JSONValue):
            return self._dispatch(event.value, "")
        if not isinstance(event, ServerSentEvent):
            raise RemoteProtocolError(
                f"Responses streams are Server-Sent Events; got a {type(event).__name__} (check the framing)"
            )
        data = event.data
        if not data.strip():
            return []
        if data.startswith("[DONE]"):
            self._terminal = True
            return self._tools.end_all() + self._done_chunk(event.data)
        return self._dispatch(load_json(data, "Responses SSE data"), event.event)

    def finish(self) -> list[Chunk]:
        return self._tools.end_all()

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, obj: Any, event_name: str) -> list[Chunk]:
        if not isinstance(obj, Mapping):
            raise RemoteProtocolError(f"Responses data is not a JSON object: {str(obj)[:80]!r}")
        kind = obj.get("type")
        if not isinstance(kind, str):
            kind = event_name  # tolerate servers that only name the SSE event
        if kind == "response.output_text.delta":
            text = _str(obj.get("delta"))
            return [text_delta(text, raw=obj)] if text else []
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            text = _str(obj.get("delta"))
            if not text:
                return []
            part = obj.get("summary_index", obj.get("content_index", 0))
            key = (str(obj.get("item_id")), kind, part if isinstance(part, int) else 0)
            block = self._blocks.setdefault(key, len(self._blocks))
            return [ReasoningDelta(text=text, block=block, raw=obj)]
        if kind == "response.refusal.delta":
            text = _str(obj.get("delta"))
            return [RefusalDelta(text, raw=obj)] if text else []
        if kind == "response.function_call_arguments.delta":
            fragment = obj.get("delta")
            index = self._index_for(obj.get("item_id"))
            out = self._tools.start(index, None, None, raw=obj)
            if isinstance(fragment, str):
                out.extend(self._tools.delta(index, fragment, raw=obj))
            return out
        if kind == "response.function_call_arguments.done":
            arguments = obj.get("arguments")
            if isinstance(arguments, str):
                self._whole_args[self._index_for(obj.get("item_id"))] = arguments
            return []
        if kind in ("response.output_item.added", "response.output_item.done"):
            return self._output_item(obj, done=kind.endswith(".done"))
        if kind in _START_TYPES:
            return self._start(obj.get("response"))
        if kind in _TERMINAL_TYPES:
            return self._terminal_event(kind, obj)
        if kind == "error":
            return self._error(obj)
        return []  # progress events, annotations, web search calls, unknown future types

    def _index_for(self, item_id: Any) -> int:
        key = item_id if isinstance(item_id, str) else ""
        index = self._call_index.get(key)
        if index is None:
            index = self._call_index[key] = len(self._call_index)
        return index

    def _start(self, response: Any) -> list[Chunk]:
        if self._started or not isinstance(response, Mapping):
            return []
        self._started = True
        return [ResponseStart(id=_str(response.get("id")), model=_str(response.get("model")), raw=response)]

    def _output_item(self, obj: Mapping[str, Any], *, done: bool) -> list[Chunk]:
        item = obj.get("item")
        if not isinstance(item, Mapping) or item.get("type") != "function_call":
            return []
        self._saw_function_call = True
        index = self._index_for(item.get("id"))
        out = self._tools.start(index, _str(item.get("call_id")), _str(item.get("name")), raw=item)
        arguments = item.get("arguments")
        if not done:
            if isinstance(arguments, str) and arguments:  # a server that sends them up front
                out.extend(self._tools.delta(index, arguments, raw=item))
            return out
        whole = arguments if isinstance(arguments, str) else self._whole_args.get(index)
        out.extend(self._tools.end(index, arguments=whole, raw=item))
        return out

    def _terminal_event(self, kind: str, obj: Mapping[str, Any]) -> list[Chunk]:
        response = obj.get("response")
        response = response if isinstance(response, Mapping) else {}
        out = self._start(response)
        # Close open calls with the whole text when .done gave it.
        for index in sorted(i for i in self._whole_args if self._tools.is_open(i)):
            out.extend(self._tools.end(index, arguments=self._whole_args[index]))
        out.extend(self._tools.end_all())
        output = response.get("output")
        if isinstance(output, list) and any(
            isinstance(item, Mapping) and item.get("type") == "function_call" for item in output
        ):
            self._saw_function_call = True
        status = response.get("status")
        raw_status = status if isinstance(status, str) else kind.rsplit(".", 1)[-1]
        if kind == "response.completed":
            reason = "tool_calls" if self._saw_function_call else "stop"
            out.append(Finish(reason=reason, raw_reason=raw_status, raw=response))
        elif kind == "response.incomplete":
            details = response.get("incomplete_details")
            raw_reason = details.get("reason") if isinstance(details, Mapping) else None
            raw_reason = raw_reason if isinstance(raw_reason, str) else raw_status
            out.append(
                Finish(
                    reason=normalize_finish(raw_reason, INCOMPLETE_MAP), raw_reason=raw_reason, raw=response
                )
            )
        usage = response.get("usage")
        if isinstance(usage, Mapping) and usage:
            out.append(responses_usage(usage))
        if kind == "response.failed":
            out.append(Finish(reason="error", raw_reason=raw_status, raw=response))
            if not self._error_reported:
                error = response.get("error")
                out.append(self._error_chunk(error if isinstance(error, Mapping) else {}, obj))
        self._terminal = True
        out.extend(self._done_chunk(obj))
        return out

    def _done_chunk(self, raw: Any) -> list[Chunk]:
        if self._done:
            return []
        self._done = True
        return [Done(raw=raw)]

    def _error(self, obj: Mapping[str, Any]) -> list[Chunk]:
        body = obj.get("error")
        return [self._error_chunk(body if isinstance(body, Mapping) else obj, obj)]

    def _error_chunk(self, body: Mapping[str, Any], payload: Any) -> Chunk:
        self._error_reported = True
        type_ = _str(body.get("type"))
        return provider_error(
            self.provider,
            body.get("message") or "the response failed without an error message",
            type=type_,
            code=body.get("code"),
            payload=payload,
        )


def _input_items(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            instructions.append(content_text(content))
        elif role == "user":
            items.append({"type": "message", "role": "user", "content": content_text(content)})
        elif role == "assistant":
            text = content_text(content)
            if text:
                items.append({"type": "message", "role": "assistant", "content": text})
            for call in message.get("tool_calls") or ():
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id"),
                        "name": call.get("name"),
                        "arguments": arguments_text(call.get("arguments")),
                    }
                )
        elif role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": tool_call_id(message),
                    "output": content_text(content),
                }
            )
        else:
            raise unknown_role(role)
    return ("\n\n".join(instructions) if instructions else None), items


class OpenAIResponsesProvider(Provider):
    """OpenAI Responses (``POST {base}/responses``)."""

    name = "openai-responses"
    framing = "sse"
    default_base_url = "https://api.openai.com/v1"
    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",)
    base_url_env: str | None = "OPENAI_BASE_URL"
    content_types = ("text/event-stream",)
    terminal_marker = "a response.completed, response.incomplete or response.failed event"

    _KNOWN_OPTIONS = ("max_tokens", "max_output_tokens", "reasoning_effort", "reasoning_summary", "reasoning")

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
        instructions, items = _input_items(messages)
        body: dict[str, Any] = {"model": model, "input": items, "stream": True}
        if instructions is not None:
            body["instructions"] = instructions
        if tools:
            body["tools"] = [{"type": "function", **function_spec(spec)} for spec in tools]
        max_tokens = options.get("max_output_tokens", options.get("max_tokens"))
        if max_tokens is not None:
            body["max_output_tokens"] = max_tokens
        reasoning = dict(options.get("reasoning") or {})
        if options.get("reasoning_effort") is not None:
            reasoning["effort"] = options["reasoning_effort"]
        if options.get("reasoning_summary") is not None:
            reasoning["summary"] = options["reasoning_summary"]
        if reasoning:
            body["reasoning"] = reasoning
        url = join_url(base_url or self.default_base_url, "/responses")
        return bearer_post(url, body, api_key, options, self._KNOWN_OPTIONS)

    def decoder(self) -> Decoder:
        return OpenAIResponsesDecoder()

    def parser_options(self) -> dict[str, Any]:
        return {"comments": True}
