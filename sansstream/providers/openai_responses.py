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
    arguments_text,
    bearer_post,
    content_text,
    function_spec,
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

__all__ = ["OpenAIResponsesProvider", "OpenAIResponsesDecoder", "responses_usage", "OpenAIResponsesEncoder"]

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


# -- wire encoder (chunks → Responses stream events), for the server helpers and the demo --------

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


class OpenAIResponsesEncoder(ChunkEncoder):
    """The Responses API event sequence, every event named by its ``type`` and numbered by
    ``sequence_number``: ``response.created`` / ``.in_progress``; a ``message`` output item for
    text and refusals (``output_text`` / ``refusal`` content parts and their deltas); a
    ``reasoning`` item whose summary parts carry the reasoning text (one part per reasoning
    block); a ``function_call`` item per tool call (``function_call_arguments.delta`` /
    ``.done``); and the terminal ``response.completed`` (or ``response.incomplete`` for a
    ``length`` or ``content_filter`` finish) carrying the usage. An error is an ``error`` event.
    ``created_at`` is ``now`` (0 when not given). One choice."""

    format = "openai-responses"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._sequence = 0
        self._started = False
        self._open: tuple[str, str, int] | None = None  # (item kind, item id, output index)
        self._part: tuple[str, int] | None = None  # (content kind or "summary", part index)
        self._text = ""  # the open part's text so far (the .done events repeat it)
        self._reasoning_block: int | None = None
        self._calls: dict[int, tuple[str, int, str | None, str, list[str]]] = {}
        self._items: list[dict[str, Any]] = []  # finished output items, for the terminal event
        self._contents: list[dict[str, Any]] = []  # the open item's content or summary parts
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def _event(self, kind: str, **fields: Any) -> ServerSentEvent:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return ServerSentEvent(dumps_wire(payload), event=kind)

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.id or "resp_sansstream",
            "object": "response",
            "created_at": int(self.now or 0),
            "status": status,
            "model": self.model or "sansstream",
            "output": list(self._items) if status != "in_progress" else [],
            **fields,
        }

    def _start(self) -> list[WireOut]:
        if self._started:
            return []
        self._started = True
        return [
            self._event("response.created", response=self._response("in_progress")),
            self._event("response.in_progress", response=self._response("in_progress")),
        ]

    def _next_index(self) -> int:
        return len(self._items) + len(self._calls) + (1 if self._open else 0)

    def _close_part(self) -> list[WireOut]:
        if self._part is None or self._open is None:
            return []
        kind, index = self._part
        _, item_id, output_index = self._open
        self._part = None
        where = {"item_id": item_id, "output_index": output_index}
        part: dict[str, Any]
        if kind == "summary":
            part = {"type": "summary_text", "text": self._text}
            return [
                self._event(
                    "response.reasoning_summary_text.done", **where, summary_index=index, text=self._text
                ),
                self._event("response.reasoning_summary_part.done", **where, summary_index=index, part=part),
            ]
        part = {"type": kind, kind if kind == "refusal" else "text": self._text}
        if kind == "output_text":
            part["annotations"] = []
        done = "response.output_text.done" if kind == "output_text" else "response.refusal.done"
        field = "text" if kind == "output_text" else "refusal"
        return [
            self._event(done, **where, content_index=index, **{field: self._text}),
            self._event("response.content_part.done", **where, content_index=index, part=part),
        ]

    def _close_item(self) -> list[WireOut]:
        out = self._close_part()
        if self._open is None:
            return out
        kind, item_id, output_index = self._open
        self._open = None
        item: dict[str, Any] = {"id": item_id, "type": kind}
        if kind == "message":
            item.update(status="completed", role="assistant", content=self._contents)
        else:
            item["summary"] = self._contents
        self._items.append(item)
        out.append(self._event("response.output_item.done", output_index=output_index, item=item))
        return out

    def _item(self, kind: str) -> list[WireOut]:
        """Make sure an output item of ``kind`` is open."""
        if self._open is not None and self._open[0] == kind:
            return []
        out = self._close_item()
        index = self._next_index()
        item_id = f"{'msg' if kind == 'message' else 'rs'}_{index}"
        self._open = (kind, item_id, index)
        self._contents = []
        item: dict[str, Any] = {"id": item_id, "type": kind}
        if kind == "message":
            item.update(status="in_progress", role="assistant", content=[])
        else:
            item["summary"] = []
        out.append(self._event("response.output_item.added", output_index=index, item=item))
        return out

    def _delta(self, item_kind: str, part_kind: str, text: str, *, new_part: bool = False) -> list[WireOut]:
        out = self._item(item_kind)
        assert self._open is not None
        _, item_id, output_index = self._open
        where = {"item_id": item_id, "output_index": output_index}
        if self._part is None or self._part[0] != part_kind or new_part:
            out += self._close_part()
            index = len(self._contents)
            self._part = (part_kind, index)
            self._text = ""
            if part_kind == "summary":
                part: dict[str, Any] = {"type": "summary_text", "text": ""}
                self._contents.append(part)
                out.append(
                    self._event(
                        "response.reasoning_summary_part.added", **where, summary_index=index, part=part
                    )
                )
            else:
                part = {"type": part_kind, "text" if part_kind == "output_text" else "refusal": ""}
                self._contents.append(part)
                out.append(
                    self._event("response.content_part.added", **where, content_index=index, part=part)
                )
        kind, index = self._part
        self._text += text
        self._contents[index] = {
            **self._contents[index],
            "text" if kind != "refusal" else "refusal": self._text,
        }
        if kind == "summary":
            out.append(
                self._event("response.reasoning_summary_text.delta", **where, summary_index=index, delta=text)
            )
        elif kind == "output_text":
            out.append(self._event("response.output_text.delta", **where, content_index=index, delta=text))
        else:
            out.append(self._event("response.refusal.delta", **where, content_index=index, delta=text))
        return out

    def _call(self, chunk: ToolCallStart | ToolCallDelta | ToolCallEnd) -> list[WireOut]:
        out: list[WireOut] = []
        if chunk.index not in self._calls:
            out += self._close_item()
            output_index = self._next_index()
            item_id = f"fc_{output_index}"
            call_id = None if isinstance(chunk, ToolCallDelta) else chunk.id
            name = "" if isinstance(chunk, ToolCallDelta) else chunk.name
            self._calls[chunk.index] = (item_id, output_index, call_id, name, [])
            item = {"id": item_id, "type": "function_call", "status": "in_progress", "arguments": "",
                    "call_id": call_id, "name": name}  # fmt: skip
            out.append(self._event("response.output_item.added", output_index=output_index, item=item))
        item_id, output_index, call_id, name, fragments = self._calls[chunk.index]
        where = {"item_id": item_id, "output_index": output_index}
        fragment = chunk.arguments if isinstance(chunk, ToolCallDelta) else ""
        if isinstance(chunk, ToolCallEnd) and not fragments:
            fragment = chunk.arguments
        if fragment:
            fragments.append(fragment)
            out.append(self._event("response.function_call_arguments.delta", **where, delta=fragment))
        if isinstance(chunk, ToolCallEnd):
            del self._calls[chunk.index]
            arguments = "".join(fragments)
            out.append(self._event("response.function_call_arguments.done", **where, arguments=arguments))
            item = {"id": item_id, "type": "function_call", "status": "completed", "arguments": arguments,
                    "call_id": call_id or chunk.id, "name": name or chunk.name}  # fmt: skip
            self._items.append(item)
            out.append(self._event("response.output_item.done", output_index=output_index, item=item))
        return out

    def _usage_body(self) -> dict[str, Any] | None:
        usage = self._usage
        if usage is None:
            return None
        body: dict[str, Any] = {
            "input_tokens": usage.input_tokens or 0,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
            "output_tokens": usage.output_tokens or 0,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
            "total_tokens": usage.total_tokens
            if usage.total_tokens is not None
            else (usage.input_tokens or 0) + (usage.output_tokens or 0),
        }
        return body

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            self.model = chunk.model or self.model
            return self._start()
        out = self._start()
        if isinstance(chunk, TextDelta):
            out += self._delta("message", "output_text", chunk.text) if chunk.text else []
        elif isinstance(chunk, RefusalDelta):
            out += self._delta("message", "refusal", chunk.text) if chunk.text else []
        elif isinstance(chunk, ReasoningDelta):
            if chunk.text:
                new_part = self._reasoning_block is not None and chunk.block != self._reasoning_block
                self._reasoning_block = chunk.block
                out += self._delta("reasoning", "summary", chunk.text, new_part=new_part)
        elif isinstance(chunk, (ToolCallStart, ToolCallDelta, ToolCallEnd)):
            out += self._call(chunk)
        elif isinstance(chunk, Finish):
            self._finish = chunk
        elif isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
        elif isinstance(chunk, StreamError):
            err = chunk.error
            out.append(self._event("error", code=err.code, message=err.message, param=None))
        elif isinstance(chunk, Done):
            out += self._close_item()
            for index in list(self._calls):  # calls a source never ended
                out += self._call(ToolCallEnd(index=index, id=None, name="", arguments="", input=None))
            usage = self._usage_body()
            reason = _INCOMPLETE_REASONS.get(self._finish.reason) if self._finish is not None else None
            if reason is not None:
                response = self._response("incomplete", incomplete_details={"reason": reason}, usage=usage)
                out.append(self._event("response.incomplete", response=response))
            else:
                out.append(
                    self._event("response.completed", response=self._response("completed", usage=usage))
                )
        return out


class OpenAIResponsesProvider(Provider):
    """OpenAI Responses (``POST {base}/responses``)."""

    name = "openai-responses"
    encoder_class = OpenAIResponsesEncoder
    framing = "sse"
    default_base_url = "https://api.openai.com/v1"
    url_hints: ClassVar[tuple[str, ...]] = ("api.openai.com /responses", "/responses")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            name.startswith("response.") or (isinstance(kind, str) and kind.startswith("response."))
            for name, value, kind in sniffed(events)
        )

    api_key_env: tuple[str, ...] = ("OPENAI_API_KEY",)
    base_url_env: str | None = "OPENAI_BASE_URL"
    content_types = ("text/event-stream",)
    terminal_marker = "a response.completed, response.incomplete or response.failed event"

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "max_tokens", "max_output_tokens", "reasoning_effort", "reasoning_summary", "reasoning",
            "temperature", "top_p", "top_logprobs", "tool_choice", "parallel_tool_calls", "text",
            "store", "background", "previous_response_id", "instructions", "include", "metadata",
            "truncation", "service_tier", "user", "prompt_cache_key", "safety_identifier",
            "max_tool_calls", "conversation", "prompt", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Responses request fields, sent by name (OpenAI's API reference)."""
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
