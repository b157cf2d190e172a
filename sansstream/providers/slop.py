"""SLOP: the plain chunk protocol (what ``sansstream.server`` and the WebSocket helpers emit).

A SLOP stream is a sequence of JSON objects, one per event, over SSE (default: each object is
the ``data`` of one event; the SSE event name is ignored) or NDJSON (``framing="ndjson"``: one
object per line). Every object has a ``type``; its payload is either in ``content`` or, for
the object-valued types, spread at the top level (both forms are read; ``sansstream.server``
writes the top-level form)::

    {"type": "content",     "content": "text fragment"}
    {"type": "thinking",    "content": "reasoning fragment"}
    {"type": "tool_start",  "content": {"id": "c1", "name": "f", "input": {...}}}
                             # or "arguments": "<JSON text>" instead of "input"; or the fields
                             # at top level: {"type": "tool_start", "id": …, "name": …, "input": …}
    {"type": "tool_result", "content": {"id": "c1", "content": ...}}
                             # "tool_call_id" may replace "id" and "result" may replace "content";
                             # top level: {"type": "tool_result", "id": "c1", "content": ...}
                             # (an id at the top level selects that form, so the result
                             # itself may be an object)
    {"type": "error",       "content": "message"}
                             # or {"message", "code", "type", "retryable"} in content or at top level
    {"type": "done"}        # terminal: the stream is complete

Extensions (optional; a server may omit them, a reader must accept them):

    {"type": "start",  "id": "...", "model": "..."}                  -> ResponseStart
    {"type": "usage",  "content": {"input_tokens", "output_tokens", "total_tokens",
                                   "reasoning_tokens", "cached_tokens"}} -> Usage
    {"type": "finish", "content": "stop" | {"reason": "stop"}}      -> Finish

Rules: a ``tool_start`` is a whole tool call (start, arguments and end at once); tool calls are
numbered in order of arrival. An ``error`` ends the stream as far as completeness goes (the
server has said how it ended); ``done`` is the terminal marker, so a stream that stops without
either is truncated. ``null`` values (NDJSON keepalives) and unknown types are ignored, so the
protocol can grow. A value that is not a JSON object is a protocol error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import (
    Chunk,
    Comment,
    ConfigurationError,
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
    ToolCallEnd,
    ToolResult,
    Usage,
    WireEvent,
    text_delta,
)
from ._base import Decoder, Framing, HTTPRequest, Message, Provider, ToolSpec
from ._common import (
    ToolCallTracker,
    apply_extra_body,
    arguments_text,
    bearer_headers,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    sniffed,
)
from ._encoder import ChunkEncoder, EncoderFraming, WireOut

__all__ = ["SlopProvider", "SlopDecoder", "SlopEncoder", "chunk_to_slop"]

_NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq", "application/ndjson")


def _fields(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload object of an event: ``content`` when it is an object, else the top level."""
    content = obj.get("content")
    return content if isinstance(content, Mapping) else obj


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class SlopDecoder(Decoder):
    provider = "slop"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._next_index = 0
        self._done = False
        self._errored = False

    @property
    def complete(self) -> bool:
        return self._done or self._errored

    @property
    def terminated(self) -> bool:
        return self._done  # {"type": "done"}

    def is_keepalive(self, event: WireEvent) -> bool:
        return isinstance(event, Comment) or (isinstance(event, JSONValue) and event.value is None)

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, Comment):
            return []
        if isinstance(event, JSONValue):
            return self._dispatch(event.value)
        if isinstance(event, ServerSentEvent):
            if not event.data.strip():
                return []
            if event.data.startswith("[DONE]"):  # tolerated: some relays append it
                return self._on_done(event.data)
            return self._dispatch(load_json(event.data, "SLOP event data"))
        raise RemoteProtocolError(f"SLOP is read from SSE or NDJSON; got a {type(event).__name__}")

    def _on_done(self, raw: Any) -> list[Chunk]:
        if self._done:
            return []
        self._done = True
        return [Done(raw=raw)]

    def _dispatch(self, obj: Any) -> list[Chunk]:
        if obj is None:
            return []  # NDJSON keepalive
        if not isinstance(obj, Mapping):
            raise RemoteProtocolError(f"a SLOP event must be a JSON object, got {str(obj)[:80]!r}")
        kind = obj.get("type")
        content = obj.get("content")
        if kind == "content":
            text = _text(content)
            return [text_delta(text, raw=obj)] if text else []
        if kind == "thinking":
            text = _text(content)
            return [ReasoningDelta(text=text, raw=obj)] if text else []
        if kind == "tool_start":
            fields = _fields(obj)
            if "arguments" in fields and "input" not in fields:
                arguments = arguments_text(fields.get("arguments"))
            else:
                arguments = arguments_text(fields.get("input"))
            call_id, name = fields.get("id"), fields.get("name")
            index = self._next_index
            self._next_index += 1
            return self._tools.whole(
                index,
                call_id if isinstance(call_id, str) else None,
                name if isinstance(name, str) else "",
                arguments,
                raw=obj,
            )
        if kind == "tool_result":
            # Top-level form when the id is at the top (then ``content`` is the result, which
            # may itself be an object); otherwise the fields are nested in ``content``.
            top = "id" in obj or "tool_call_id" in obj or not isinstance(content, Mapping)
            fields = obj if top else _fields(obj)
            call_id = fields.get("tool_call_id", fields.get("id"))
            result = fields.get("result", fields.get("content"))
            return [
                ToolResult(
                    tool_call_id=call_id if isinstance(call_id, str) else None,
                    kind="tool_result",
                    content=result,
                    raw=obj,
                )
            ]
        if kind == "error":
            self._errored = True
            if isinstance(content, str) and content:
                return [provider_error(self.provider, content, payload=obj)]
            fields = _fields(obj)
            error_type = fields.get("type") if fields is not obj else fields.get("error_type")
            retryable = fields.get("retryable")
            return [
                provider_error(
                    self.provider,
                    fields.get("message") or "the server reported an error without a message",
                    type=error_type if isinstance(error_type, str) else None,
                    code=fields.get("code"),
                    retryable=retryable if isinstance(retryable, bool) else None,
                    payload=obj,
                )
            ]
        if kind == "done":
            return self._tools.end_all() + self._on_done(obj)
        if kind == "start":
            fields = _fields(obj)
            rid, model = fields.get("id"), fields.get("model")
            return [
                ResponseStart(
                    id=rid if isinstance(rid, str) else None,
                    model=model if isinstance(model, str) else None,
                    raw=obj,
                )
            ]
        if kind == "usage":
            fields = _fields(obj)
            return [
                make_usage(
                    dict(fields) if fields is not obj else {k: v for k, v in obj.items() if k != "type"},
                    input=fields.get("input_tokens"),
                    output=fields.get("output_tokens"),
                    total=fields.get("total_tokens"),
                    reasoning=fields.get("reasoning_tokens"),
                    cached=fields.get("cached_tokens"),
                )
            ]
        if kind == "finish":
            reason = content if isinstance(content, str) else _fields(obj).get("reason")
            raw_reason = reason if isinstance(reason, str) else None
            return [Finish(reason=normalize_finish(raw_reason), raw_reason=raw_reason, raw=obj)]
        return []  # unknown types: ignored, so the protocol can grow


# -- wire encoder (chunks → SLOP events), for the server helpers and the demo ---------------------


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


class SlopEncoder(ChunkEncoder):
    """SLOP: one JSON object per chunk (``chunk_to_slop``), over SSE (default) or NDJSON."""

    format = "slop"

    def __init__(self, *, framing: EncoderFraming = "sse", **kw: Any) -> None:
        super().__init__(**kw)
        if framing not in ("sse", "ndjson"):
            raise LocalProtocolError(f"SLOP is written as sse or ndjson, not {framing!r}")
        self.framing = framing

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        payload = chunk_to_slop(chunk)
        return [] if payload is None else [self._json(payload)]


class SlopProvider(Provider):
    """A SLOP endpoint: ``POST {base_url}`` with ``{"model", "messages", "stream": true}``."""

    name = "slop"
    encoder_class = SlopEncoder
    framing = "sse"
    default_base_url = ""

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            kind in ("content", "thinking", "tool_start", "tool_result", "done", "error")
            for name, value, kind in sniffed(events)
        )

    api_key_env: tuple[str, ...] = ()
    base_url_env = "SLOP_BASE_URL"
    content_types = ("text/event-stream", *_NDJSON_TYPES)
    terminal_marker = 'a {"type": "done"} event'

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
        url = base_url or self.default_base_url
        if not url:
            raise ConfigurationError(
                "the slop provider has no default URL: pass base_url= (the endpoint that streams "
                "SLOP events) or set SLOP_BASE_URL"
            )
        body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": True}
        if tools:
            body["tools"] = [dict(t) for t in tools]
        apply_extra_body(body, options, ())
        headers = bearer_headers(api_key, **dict(options.get("extra_headers") or {}))
        headers["accept"] = "text/event-stream, application/x-ndjson"
        return HTTPRequest.json("POST", url, body, headers)

    def decoder(self) -> Decoder:
        return SlopDecoder()

    def parser_options(self) -> dict[str, Any]:
        return {"comments": True}

    def framing_for(self, content_type: str | None) -> Framing:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        return "ndjson" if media in _NDJSON_TYPES else "sse"
