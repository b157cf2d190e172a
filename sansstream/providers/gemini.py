"""Google Gemini ``streamGenerateContent``: request builder and stream decoder.

Wire format (PROVIDERS.md §6): with ``alt=sse`` (what the builder asks for) each SSE ``data:``
line (CRLF-terminated) is a complete ``GenerateContentResponse``; without it the body is one JSON
array written element by element (the pipeline is then run with ``framing="json-array"``). The
decoder takes both: a ``ServerSentEvent`` or a ``JSONValue`` carries the same object. There is no
terminator: the last chunk carries ``finishReason`` and the connection closes.

Mapping:

* ``parts[].text`` → ``TextDelta``; parts with ``thought: true`` → ``ReasoningDelta``.
* ``thoughtSignature`` (it may sit on any part: a thought, a text or a ``functionCall`` part) →
  ``ReasoningDelta(signature=...)`` closing the current reasoning ``block``: thought text since
  the previous signature belongs to it, and the next thought text starts a new block. So each
  signature is one ``ReasoningBlock``, ready to echo back. A signature on a ``functionCall`` part
  is also visible in that call's ``ToolCallStart.raw`` (the part).
* ``functionCall {name, args}`` (whole) → ``ToolCallStart`` + one ``ToolCallDelta`` with the
  whole arguments text + ``ToolCallEnd``. Gemini 3 streamed arguments — ``{name,
  willContinue: true}``, then ``{partialArgs: [{jsonPath, stringValue|numberValue|boolValue|
  nullValue…, willContinue}]}`` parts, then an empty ``functionCall {}`` — are assembled into one
  object (string values for the same path concatenate) and emitted the same way at the close.
  Gemini gives no call id (``id`` is ``None`` unless the API sent one, as Vertex may).
* ``executableCode`` / ``codeExecutionResult`` and the built-in ``toolCall`` / ``toolResponse``
  parts → ``ToolResult(kind=<part key>, content=<the part's object>, tool_call_id=<its id>)``.
* ``usageMetadata`` is cumulative: a ``Usage`` is emitted whenever it changes (the last wins).
  ``input_tokens`` = ``promptTokenCount`` (cached included), ``output_tokens`` =
  ``candidatesTokenCount + thoughtsTokenCount`` (reasoning counted as output, as the other
  providers do), ``reasoning_tokens`` = ``thoughtsTokenCount``, ``cached_tokens`` =
  ``cachedContentTokenCount``, ``total_tokens`` = ``totalTokenCount``.
* ``finishReason`` → ``Finish`` (``raw`` is the candidate, with ``groundingMetadata``,
  ``finishMessage`` and safety ratings); ``STOP`` after function calls is ``tool_calls``.
  ``promptFeedback.blockReason`` with no candidates → ``Finish("content_filter")``.
* ``{"error": {code, message, status}}`` — as SSE data, a JSON-array element, or a bare JSON body
  that is not SSE (surfaced by the SSE parser as unknown-field lines, re-assembled here until the
  braces balance) → ``StreamError``. A whole JSON-array body read with SSE framing (a request
  without ``alt=sse``) is decoded the same way, once its closing ``]`` arrived.

Completeness: a ``finishReason`` (or a prompt block, or an error object) was seen. ``Done`` is
emitted by ``finish()`` at the end of the bytes (not after an error), because the stream's only
terminator is the close.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..core import dumps_wire
from ..model import (
    Chunk,
    Done,
    EventTooLargeError,
    Finish,
    JSONValue,
    LocalProtocolError,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ResponseStart,
    ServerSentEvent,
    SSEField,
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
    arguments_object,
    content_text,
    int_or_none,
    join_url,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    renamed_options,
    sniffed,
    tool_declarations,
)
from ._encoder import ChunkEncoder, WireOut

__all__ = ["GeminiProvider", "GeminiDecoder", "GeminiEncoder"]

FINISH_REASONS: Mapping[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "LANGUAGE": "other",
    "OTHER": "other",
    "FINISH_REASON_UNSPECIFIED": "other",
}

_RESULT_PARTS = ("executableCode", "codeExecutionResult", "toolCall", "toolResponse")

MAX_BARE_JSON_SIZE = 16 * 1024 * 1024
"""Most characters of non-SSE JSON collected before its brackets must balance: the SSE parser's
default event limit, since this JSON stands in for events (an error object is a few hundred)."""


def _usage(meta: Mapping[str, Any]) -> Usage:
    candidates = int_or_none(meta.get("candidatesTokenCount"))
    thoughts = int_or_none(meta.get("thoughtsTokenCount"))
    output = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    return make_usage(
        dict(meta),
        input=meta.get("promptTokenCount"),
        output=output,
        total=meta.get("totalTokenCount"),
        reasoning=thoughts,
        cached=meta.get("cachedContentTokenCount"),
    )


MAX_PATH_DEPTH = 64
"""Deepest ``partialArgs`` path accepted: far beyond real tool schemas, well within what ``json``
can serialise (a deeper path is a ``RemoteProtocolError``, never a RecursionError)."""
MAX_INDEX_GAP = 1024
"""Largest jump past the end of an array a path may make (``$.a[5]`` after ``$.a[1]`` pads the
gap with nulls); a huge index must not make us allocate a huge list."""

_PATH_TOKEN = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[(['\"])(.*?)\3\]")


def _json_path(path: str) -> list[str | int]:
    """The steps of a Gemini ``jsonPath`` such as ``$.a.b[0]`` or ``$['a b']``."""
    if not path.startswith("$"):
        raise RemoteProtocolError(f"gemini: partialArgs jsonPath {path!r} does not start with '$'")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise RemoteProtocolError(f"gemini: cannot read partialArgs jsonPath {path!r}")
        name, number, _, quoted = match.groups()
        steps.append(int(number) if number is not None else (name if name is not None else quoted))
        if len(steps) > MAX_PATH_DEPTH:
            raise RemoteProtocolError(f"gemini: partialArgs jsonPath is deeper than {MAX_PATH_DEPTH} steps")
        pos = match.end()
    return steps


def _partial_value(partial: Mapping[str, Any]) -> tuple[bool, Any]:
    """``(found, value)`` of one ``partialArgs`` entry (``stringValue``, ``numberValue``…)."""
    for key, value in partial.items():
        if key == "nullValue":
            return True, None
        if key.endswith("Value"):
            return True, value
    return False, None


class _StreamedCall:
    """A Gemini 3 function call whose arguments arrive as path-addressed partials."""

    __slots__ = ("args", "index", "strings")

    def __init__(self, index: int) -> None:
        self.index = index
        self.args: dict[str, Any] = {}
        # String pieces per path, joined once at the close (linear however finely split).
        self.strings: dict[tuple[str | int, ...], list[str]] = {}

    def apply(self, partial: Mapping[str, Any]) -> None:
        path = partial.get("jsonPath")
        if not isinstance(path, str):
            return
        found, value = _partial_value(partial)
        if not found:
            return
        steps = tuple(_json_path(path))
        if isinstance(value, str):
            self.strings.setdefault(steps, []).append(value)
            value = ""  # placeholder; the joined string is put in place at build()
        _set_path(self.args, steps, value)

    def build(self) -> dict[str, Any]:
        for steps, pieces in self.strings.items():
            _set_path(self.args, steps, "".join(pieces))
        return self.args


def _set_path(root: dict[str, Any], steps: Sequence[str | int], value: Any) -> None:
    if not steps:
        return
    node: Any = root
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        if following is None:
            _assign(node, step, value)
            return
        child = _lookup(node, step)
        if not isinstance(child, (dict, list)):
            child = [] if isinstance(following, int) else {}
            _assign(node, step, child)
        node = child


def _lookup(node: Any, step: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(step) if isinstance(step, str) else None
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


def _assign(node: Any, step: str | int, value: Any) -> None:
    if isinstance(node, dict) and isinstance(step, str):
        node[step] = value
    elif isinstance(node, list) and isinstance(step, int):
        if step - len(node) > MAX_INDEX_GAP:
            raise RemoteProtocolError(f"gemini: partialArgs index [{step}] is far past the end of its array")
        while len(node) <= step:
            node.append(None)
        node[step] = value
    else:
        raise RemoteProtocolError(
            f"gemini: partialArgs path step {step!r} does not fit the arguments built so far"
        )


class _Choice:
    """Per-candidate state."""

    __slots__ = ("called", "reasoning_block", "streamed", "tool_count")

    def __init__(self) -> None:
        self.tool_count = 0
        self.called = False  # a function call was emitted: STOP then means tool_calls
        self.reasoning_block = 0
        self.streamed: _StreamedCall | None = None


class GeminiDecoder(Decoder):
    """Decode Gemini stream chunks (SSE or JSON-array elements) into chunks."""

    provider = "gemini"

    def __init__(self) -> None:
        self._choices: dict[int, _Choice] = {}
        self._tools = ToolCallTracker()
        self._started = False
        self._usage: Any = None
        self._complete = False
        self._errored = False  # an error object ends the stream: not a truncation
        self._done_sent = False
        self._bare: list[str] = []  # lines of a non-SSE JSON body, until its braces balance
        self._bare_depth = 0
        self._bare_size = 0

    @property
    def complete(self) -> bool:
        return self._complete or self._errored

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, ServerSentEvent):
            if not event.data.strip():
                return []
            payload = load_json(event.data, "gemini: SSE data")
        elif isinstance(event, JSONValue):
            payload = event.value
        elif isinstance(event, SSEField):
            return self._bare_line(event)
        else:
            return []
        return self._responses(payload)

    def finish(self) -> list[Chunk]:
        if self._complete and not self._done_sent:
            self._done_sent = True
            return [Done()]
        return []

    def _bare_line(self, event: SSEField) -> list[Chunk]:
        """A line that is not SSE: part of a JSON body sent without ``data:`` — an error object
        (the google-genai client accepts these too) or, when the request lacked ``alt=sse``, the
        whole JSON array (decoded once it is complete). Lines are collected until the brackets
        balance, then parsed once."""
        # The SSE parser split the line at its first colon and dropped one space after it;
        # in JSON that colon separates a key from its value, where a space is harmless.
        line = f"{event.name}: {event.value}" if event.value else event.name
        if not self._bare and not line.lstrip().startswith(("{", "[")):
            return []  # some other non-SSE line: SSE says to ignore it
        self._bare.append(line)
        self._bare_size += len(line) + 1
        self._bare_depth += _brace_balance(line)
        if self._bare_size > MAX_BARE_JSON_SIZE:
            raise EventTooLargeError(
                f"gemini: a non-SSE JSON body in the stream exceeds {MAX_BARE_JSON_SIZE} characters",
                limit=MAX_BARE_JSON_SIZE,
                size=self._bare_size,
            )
        if self._bare_depth > 0:
            return []
        text = "\n".join(self._bare)
        self._bare.clear()
        self._bare_depth = self._bare_size = 0
        return self._responses(load_json(text, "gemini: a non-SSE JSON body in the stream"))

    def _responses(self, payload: Any) -> list[Chunk]:
        """One response object, or a whole array of them."""
        if not isinstance(payload, list):
            return self._response(payload)
        out: list[Chunk] = []
        for item in payload:
            out.extend(self._response(item))
        return out

    def _response(self, payload: Any) -> list[Chunk]:
        if not isinstance(payload, dict):
            raise RemoteProtocolError(
                f"gemini: expected a GenerateContentResponse object, got {type(payload).__name__}"
            )
        error = payload.get("error")
        if error is not None:
            return [self._error(error, payload)]
        out: list[Chunk] = []
        if not self._started:
            self._started = True
            out.append(
                ResponseStart(
                    id=_str(payload.get("responseId")), model=_str(payload.get("modelVersion")), raw=payload
                )
            )
        candidates = payload.get("candidates")
        finishes: list[Chunk] = []
        if isinstance(candidates, list):
            for position, candidate in enumerate(candidates):
                if isinstance(candidate, dict):
                    index = candidate.get("index")
                    choice = index if isinstance(index, int) else position
                    finishes.extend(self._candidate(choice, candidate, out))
        meta = payload.get("usageMetadata")
        if isinstance(meta, dict) and meta != self._usage:
            self._usage = meta
            out.append(_usage(meta))
        feedback = payload.get("promptFeedback")
        if not candidates and isinstance(feedback, dict) and isinstance(feedback.get("blockReason"), str):
            reason = feedback["blockReason"]
            self._complete = True
            finishes.append(Finish(reason="content_filter", raw_reason=reason, raw=feedback))
        out.extend(finishes)  # after the usage, so a Finish is the last word of its chunk
        return out

    def _candidate(self, choice: int, candidate: dict[str, Any], out: list[Chunk]) -> list[Chunk]:
        state = self._choices.get(choice)
        if state is None:
            state = self._choices[choice] = _Choice()
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        if isinstance(parts, list):
            for part in parts:
                if isinstance(part, dict):
                    self._part(choice, state, part, out)
        reason = candidate.get("finishReason")
        if not isinstance(reason, str):
            return []
        # A stream cut after the last partialArgs still closes its call here.
        if state.streamed is not None:
            out.extend(self._close_streamed(choice, state, candidate))
        normalised = normalize_finish(reason, FINISH_REASONS)
        if normalised == "stop" and state.called:
            normalised = "tool_calls"  # Gemini ends a function-calling turn with plain STOP
        self._complete = True
        return [Finish(reason=normalised, raw_reason=reason, choice=choice, raw=candidate)]

    def _part(self, choice: int, state: _Choice, part: dict[str, Any], out: list[Chunk]) -> None:
        text = part.get("text")
        call = part.get("functionCall")
        if isinstance(text, str):
            if part.get("thought") is True:
                if text:
                    out.append(
                        ReasoningDelta(text=text, choice=choice, block=state.reasoning_block, raw=part)
                    )
            elif text:
                out.append(text_delta(text, choice, raw=part))
        elif isinstance(call, dict):
            self._function_call(choice, state, call, part, out)
        else:
            for key in _RESULT_PARTS:
                value = part.get(key)
                if isinstance(value, dict):
                    call_id = value.get("id")
                    out.append(
                        ToolResult(
                            tool_call_id=call_id if isinstance(call_id, str) else None,
                            kind=key,
                            content=value,
                            choice=choice,
                            raw=part,
                        )
                    )
                    break
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature:
            out.append(
                ReasoningDelta(signature=signature, choice=choice, block=state.reasoning_block, raw=part)
            )
            state.reasoning_block += 1

    def _function_call(
        self, choice: int, state: _Choice, call: dict[str, Any], part: dict[str, Any], out: list[Chunk]
    ) -> None:
        name = call.get("name")
        call_id = _str(call.get("id"))
        partials = call.get("partialArgs")
        if isinstance(name, str) and name and "args" not in call and call.get("willContinue") is True:
            # Gemini 3 streamed arguments: the call opens here and closes at an empty functionCall.
            if state.streamed is not None:
                out.extend(self._close_streamed(choice, state, part))
            index = state.tool_count
            state.tool_count += 1
            state.called = True
            state.streamed = _StreamedCall(index)
            out.extend(self._tools.start(index, call_id, name, choice=choice, raw=part))
            return
        if isinstance(name, str) and name:
            index = state.tool_count
            state.tool_count += 1
            state.called = True
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False, separators=(",", ":"))
            out.extend(self._tools.whole(index, call_id, name, arguments, choice=choice, raw=part))
            return
        if state.streamed is None:
            return  # partials or a close for a call we never saw start: nothing to attach them to
        if isinstance(partials, list):
            for partial in partials:
                if isinstance(partial, dict):
                    state.streamed.apply(partial)
        if not partials or call.get("willContinue") is not True:
            out.extend(self._close_streamed(choice, state, part))

    def _close_streamed(self, choice: int, state: _Choice, raw: Any) -> list[Chunk]:
        streamed = state.streamed
        if streamed is None:
            return []
        state.streamed = None
        arguments = json.dumps(streamed.build(), ensure_ascii=False, separators=(",", ":"))
        out = self._tools.delta(streamed.index, arguments, choice=choice, raw=raw)
        out.extend(self._tools.end(streamed.index, choice=choice, raw=raw))
        return out

    def _error(self, error: Any, payload: dict[str, Any]) -> Chunk:
        self._errored = True
        body = error if isinstance(error, dict) else {"message": error}
        status = _str(body.get("status"))
        return provider_error(
            self.provider,
            body.get("message") or f"stream error {status or ''}".strip(),
            type=status,
            code=body.get("code"),
            payload=payload,
        )


def _brace_balance(line: str) -> int:
    """Net ``{``/``[`` minus ``}``/``]`` in a line of JSON, ignoring those inside strings."""
    depth = 0
    in_string = False
    escaped = False
    for char in line:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- request building ------------------------------------------------------------------------


def _function_response(content: Any) -> dict[str, Any]:
    """``functionResponse.response`` must be an object: a JSON object result is sent as is,
    anything else as ``{"result": <text>}``."""
    if isinstance(content, Mapping):
        return dict(content)
    text = content_text(content)
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


# -- wire encoder (chunks → streamGenerateContent SSE), for the server helpers and the demo -------

_WIRE_FINISH: Mapping[str, str] = {
    "stop": "STOP",
    "tool_calls": "STOP",  # Gemini ends a function-calling turn with a plain STOP
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
    "error": "OTHER",
    "other": "OTHER",
}


class GeminiEncoder(ChunkEncoder):
    """``streamGenerateContent?alt=sse``: one ``GenerateContentResponse`` per data line, each
    with ``responseId`` and ``modelVersion``. Text and thought parts (``"thought": true``),
    signatures as ``thoughtSignature`` parts, each function call whole (``args`` is an object)
    when it ends, code-execution results as their own parts. The finish reason and the usage
    counts (``candidatesTokenCount`` excludes thoughts) go out in the last response, which is
    Gemini's terminal marker; an error is ``{"error": {code, message, status}}``. One choice."""

    format = "gemini"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def _response(self, parts: list[dict[str, Any]], *, finish: str | None = None) -> ServerSentEvent:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish is not None:
            candidate["finishReason"] = finish
        body: dict[str, Any] = {"candidates": [candidate]}
        if finish is not None and self._usage is not None:
            body["usageMetadata"] = self._usage_metadata(self._usage)
        body["modelVersion"] = self.model or "sansstream"
        body["responseId"] = self.id or "sansstream"
        return ServerSentEvent(dumps_wire(body))

    @staticmethod
    def _usage_metadata(usage: Usage) -> dict[str, Any]:
        thoughts = usage.reasoning_tokens
        meta: dict[str, Any] = {}
        if usage.input_tokens is not None:
            meta["promptTokenCount"] = usage.input_tokens
        if usage.output_tokens is not None:
            meta["candidatesTokenCount"] = usage.output_tokens - (thoughts or 0)
        if usage.total_tokens is not None:
            meta["totalTokenCount"] = usage.total_tokens
        if thoughts is not None:
            meta["thoughtsTokenCount"] = thoughts
        if usage.cached_tokens is not None:
            meta["cachedContentTokenCount"] = usage.cached_tokens
        return meta

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ResponseStart):
            self.id = chunk.id or self.id
            self.model = chunk.model or self.model
            return []
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            return [self._response([{"text": chunk.text}])] if chunk.text else []
        if isinstance(chunk, ReasoningDelta):
            parts: list[dict[str, Any]] = []
            if chunk.text:
                parts.append({"text": chunk.text, "thought": True})
            if chunk.signature:
                parts.append({"thoughtSignature": chunk.signature})
            return [self._response(parts)] if parts else []
        if isinstance(chunk, ToolCallEnd):
            call: dict[str, Any] = {
                "name": chunk.name,
                "args": chunk.input if isinstance(chunk.input, dict) else {},
            }
            if chunk.id:
                call["id"] = chunk.id
            return [self._response([{"functionCall": call}])]
        if isinstance(chunk, ToolResult):
            if chunk.kind in _RESULT_PARTS and isinstance(chunk.content, dict):
                return [self._response([{chunk.kind: chunk.content}])]
            return []
        if isinstance(chunk, Finish):
            self._finish = chunk
            return []
        if isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
            return []
        if isinstance(chunk, StreamError):
            err = chunk.error
            code = err.code if isinstance(err.code, int) else 500
            body = {"error": {"code": code, "message": err.message, "status": err.type or "INTERNAL"}}
            return [ServerSentEvent(dumps_wire(body))]
        if isinstance(chunk, Done):
            finish = self._finish
            reason: str
            if finish is None:
                reason = "STOP"
            elif finish.raw_reason is not None and finish.raw_reason in FINISH_REASONS:
                reason = finish.raw_reason
            else:
                reason = _WIRE_FINISH.get(finish.reason, "OTHER")
            return [self._response([], finish=reason)]
        return []  # tool-call starts and fragments: Gemini sends each call whole


class GeminiProvider(Provider):
    """``gemini``: POST ``{base}/v1beta/models/{model}:streamGenerateContent?alt=sse``."""

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "max_tokens", "temperature", "top_p", "top_k", "stop", "thinking", "thinking_budget",
            "include_thoughts", "safetySettings", "toolConfig", "cachedContent", "labels",
            "generationConfig", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Our names for generationConfig's common fields, and the request body's own fields."""

    name = "gemini"
    encoder_class = GeminiEncoder
    framing = "sse"
    default_base_url = "https://generativelanguage.googleapis.com"
    url_hints: ClassVar[tuple[str, ...]] = ("generativelanguage.googleapis.com", ":streamgeneratecontent")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        # A chunk (candidates, usage), or Google's error object ({"error": {"code", "status", ...}}).
        return any(
            isinstance(value, dict)
            and (
                "candidates" in value
                or "usageMetadata" in value
                or (isinstance(value.get("error"), dict) and "status" in value["error"])
            )
            for _name, value, _kind in sniffed(events)
        )

    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    content_types = ("text/event-stream", "application/json")
    terminal_marker = "a chunk with a finishReason"

    def decoder(self) -> GeminiDecoder:
        return GeminiDecoder()

    def parser_options(self) -> dict[str, Any]:
        # Surface non-SSE lines so a bare JSON error body (no "data:" prefix) is not dropped.
        return {"extra_fields": "*"}

    def framing_for(self, content_type: str | None) -> Framing:
        # Without ``alt=sse`` the endpoint streams one JSON array as application/json.
        media = (content_type or "").split(";", 1)[0].strip().lower()
        return "json-array" if media == "application/json" else "sse"

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
        """The ``streamGenerateContent`` request. Roles map ``assistant`` → ``model`` and tool
        results → ``functionResponse`` parts in a ``user`` turn (consecutive results share one
        turn); system messages become ``systemInstruction``. Options: ``max_tokens`` (→
        ``maxOutputTokens``), ``temperature``, ``top_p``, ``top_k``, ``stop`` (→
        ``stopSequences``), ``thinking_budget`` / ``include_thoughts`` / ``thinking`` (a
        ``thinkingConfig`` dict) → ``generationConfig``; other options go to the body, and
        ``extra_body`` is merged last. An assistant tool call's ``thought_signature`` is echoed
        on its ``functionCall`` part."""
        system: list[str] = []
        contents: list[dict[str, Any]] = []
        call_names: dict[str, str] = {}
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role == "system":
                system.append(content_text(content))
            elif role == "user":
                contents.append({"role": "user", "parts": [{"text": content_text(content)}]})
            elif role == "assistant":
                parts: list[dict[str, Any]] = []
                text = content_text(content)
                if text:
                    parts.append({"text": text})
                for call in message.get("tool_calls") or ():
                    function = call.get("function")
                    spec: Mapping[str, Any] = function if isinstance(function, Mapping) else call
                    name = str(spec.get("name", ""))
                    if isinstance(call.get("id"), str):
                        call_names[call["id"]] = name
                    fc_part: dict[str, Any] = {
                        "functionCall": {"name": name, "args": arguments_object(spec.get("arguments"))}
                    }
                    signature = call.get("thought_signature")
                    if isinstance(signature, str):
                        fc_part["thoughtSignature"] = signature
                    parts.append(fc_part)
                contents.append({"role": "model", "parts": parts or [{"text": ""}]})
            elif role == "tool":
                result_name = message.get("name") or call_names.get(str(message.get("tool_call_id")))
                if not isinstance(result_name, str) or not result_name:
                    raise LocalProtocolError(
                        "gemini: a tool result needs the function 'name' (or a 'tool_call_id' of an "
                        "earlier assistant tool call): Gemini matches results to calls by name"
                    )
                part = {"functionResponse": {"name": result_name, "response": _function_response(content)}}
                last = contents[-1] if contents else None
                if (
                    last is not None
                    and last["role"] == "user"
                    and all("functionResponse" in p for p in last["parts"])
                ):
                    last["parts"].append(part)
                else:
                    contents.append({"role": "user", "parts": [part]})
            else:
                raise LocalProtocolError(
                    f"gemini: unsupported message role {role!r}; use system, user, assistant or tool"
                )
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if tools:
            body["tools"] = [{"functionDeclarations": tool_declarations(tools, "parameters")}]
        config = renamed_options(
            options,
            (
                ("max_tokens", "maxOutputTokens"),
                ("temperature", "temperature"),
                ("top_p", "topP"),
                ("top_k", "topK"),
            ),
            "stopSequences",
        )
        thinking = options.get("thinking")
        if isinstance(thinking, Mapping):
            config["thinkingConfig"] = dict(thinking)
        elif options.get("thinking_budget") is not None or options.get("include_thoughts") is not None:
            thinking_config: dict[str, Any] = {}
            if options.get("thinking_budget") is not None:
                thinking_config["thinkingBudget"] = options["thinking_budget"]
            thinking_config["includeThoughts"] = bool(options.get("include_thoughts", True))
            config["thinkingConfig"] = thinking_config
        if config:
            body["generationConfig"] = config
        apply_extra_body(
            body,
            options,
            (
                "max_tokens",
                "temperature",
                "top_p",
                "top_k",
                "stop",
                "thinking",
                "thinking_budget",
                "include_thoughts",
            ),
        )
        headers = {"accept": "text/event-stream"}
        if api_key:
            headers["x-goog-api-key"] = api_key
        headers.update(options.get("extra_headers") or {})
        model_id = model.removeprefix("models/")
        path = f"/v1beta/models/{quote(model_id, safe='-._~')}:streamGenerateContent?alt=sse"
        return HTTPRequest.json("POST", join_url(base_url or self.default_base_url, path), body, headers)
