"""AWS Bedrock ConverseStream: request builder, SigV4 signing and event-stream decoder.

Wire format (PROVIDERS.md §7): binary AWS event-stream frames (``EventStreamMessage``), each with
``:message-type`` and, for events, ``:event-type`` headers and a JSON payload that carries a
random-length ``"p"`` padding field (ignored). Events: ``messageStart``, ``contentBlockStart``
(tool use only: text and reasoning blocks start with their first delta), ``contentBlockDelta``,
``contentBlockStop``, ``messageStop`` (the stop reason) and ``metadata`` (usage and metrics),
which comes after ``messageStop`` and is the real last frame. Errors are frames with
``:message-type: exception`` (``:exception-type`` header, payload ``{"message"}``) or
``:message-type: error`` (``:error-code`` / ``:error-message`` headers).

Mapping: ``delta.text`` → ``TextDelta``; ``delta.reasoningContent`` ``text`` / ``signature`` /
``redactedContent`` → ``ReasoningDelta`` (one ``block`` number per reasoning content block;
redacted content is kept base64-encoded in ``data``); ``toolUse`` start + ``delta.toolUse.input``
string fragments + stop → ``ToolCallStart`` / ``ToolCallDelta`` / ``ToolCallEnd`` (a call with no
input fragment has arguments ``"{}"``); ``delta.citation`` → ``ToolResult(kind="citation")``;
``messageStop.stopReason`` → ``Finish``; ``metadata.usage`` → ``Usage`` (``raw`` is the usage
object; ``metrics`` and ``trace`` are in the ``Done`` chunk's ``raw``, the metadata payload).

Terminal marker: ``messageStop``. The stream is ``complete`` once it was seen; ``Done`` is emitted
at the ``metadata`` frame that follows it (or by ``finish()`` if the connection closed before any
metadata). A stream cut before ``messageStop`` is incomplete. An exception or error frame also
ends the stream (AWS sends nothing after it), so it counts as complete, without ``Done``.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from ..core import dumps_wire
from ..model import (
    Chunk,
    ConfigurationError,
    Done,
    EventStreamMessage,
    Finish,
    LocalProtocolError,
    ReasoningDelta,
    RefusalDelta,
    RemoteProtocolError,
    ResponseStart,
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
    ToolCallTracker,
    apply_extra_body,
    arguments_object,
    content_text,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    renamed_options,
    tool_declarations,
)
from ._encoder import ChunkEncoder, EncoderFraming, WireOut
from ._sigv4 import Credentials, sign_headers

__all__ = ["BedrockProvider", "BedrockDecoder", "BedrockEncoder", "exception_frame"]

STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# ConverseStream exception types (Bedrock API reference) → the HTTP status each maps to.
_EXCEPTION_STATUS: Mapping[str, int] = {
    "validationException": 400,
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
    "modelStreamErrorException": 424,
    "throttlingException": 429,
    "internalServerException": 500,
    "serviceUnavailableException": 503,
    "modelNotReadyException": 429,
    "modelTimeoutException": 408,
}
_RETRYABLE = frozenset(
    {
        "throttlingException",
        "serviceUnavailableException",
        "internalServerException",
        "modelStreamErrorException",
        "modelNotReadyException",
        "modelTimeoutException",
    }
)

SERVICE = "bedrock"
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
_HOST_REGION = re.compile(r"^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class _Block:
    __slots__ = ("has_input", "kind", "number")

    def __init__(self, kind: str, number: int) -> None:
        self.kind = kind  # "tool" or "reasoning"
        self.number = number  # tool index or reasoning block number
        self.has_input = False


class BedrockDecoder(Decoder):
    """Decode ConverseStream event-stream frames into chunks."""

    provider = "bedrock"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._blocks: dict[int, _Block] = {}  # contentBlockIndex → what it is
        self._tool_count = 0
        self._reasoning_count = 0
        self._stopped = False  # messageStop seen: the terminal marker
        self._errored = False  # an exception/error frame ends the stream: not a truncation
        self._done_sent = False

    @property
    def complete(self) -> bool:
        return self._stopped or self._errored

    @property
    def terminated(self) -> bool:
        return self._done_sent  # the metadata frame after messageStop: nothing follows it

    def decode(self, event: WireEvent) -> list[Chunk]:
        if not isinstance(event, EventStreamMessage):
            return []
        kind = event.message_type
        if kind in ("exception", "error"):
            self._errored = True
        if kind == "exception":
            return [self._exception(event)]
        if kind == "error":
            code = _header_str(event, ":error-code") or "error"
            message = _header_str(event, ":error-message") or f"event-stream error {code}"
            return [
                provider_error(
                    "bedrock", message, type=code, code=code, payload={"headers": dict(event.headers)}
                )
            ]
        if kind not in (None, "event"):
            return []
        name = event.event_type
        handler = self._HANDLERS.get(name or "")
        if handler is None:
            return []  # an event type this decoder does not model (newer API features)
        payload = load_json(event.payload, f"bedrock: payload of the {name!r} frame") if event.payload else {}
        if not isinstance(payload, dict):
            raise RemoteProtocolError(f"bedrock: the {name!r} frame's payload is not a JSON object")
        return handler(self, payload)

    def finish(self) -> list[Chunk]:
        if self._stopped and not self._done_sent:
            self._done_sent = True
            return [Done()]
        return []

    # -- events ------------------------------------------------------------------------------

    def _message_start(self, payload: dict[str, Any]) -> list[Chunk]:
        return [ResponseStart(raw=payload)]

    def _block_start(self, payload: dict[str, Any]) -> list[Chunk]:
        index = _int(payload.get("contentBlockIndex"))
        start = payload.get("start")
        tool = start.get("toolUse") if isinstance(start, dict) else None
        if not isinstance(tool, dict):
            return []
        block = self._blocks[index] = _Block("tool", self._tool_count)
        self._tool_count += 1
        call_id = tool.get("toolUseId")
        return self._tools.start(
            block.number,
            call_id if isinstance(call_id, str) else None,
            str(tool.get("name", "")),
            raw=payload,
        )

    def _block_delta(self, payload: dict[str, Any]) -> list[Chunk]:
        index = _int(payload.get("contentBlockIndex"))
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return []
        text = delta.get("text")
        if isinstance(text, str):
            return [text_delta(text, raw=payload)] if text else []
        tool = delta.get("toolUse")
        if isinstance(tool, dict):
            block = self._blocks.get(index)
            fragment = tool.get("input")
            if block is None or block.kind != "tool" or not isinstance(fragment, str):
                return []
            block.has_input = block.has_input or bool(fragment)
            return self._tools.delta(block.number, fragment, raw=payload)
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            block = self._blocks.get(index)
            if block is None:
                block = self._blocks[index] = _Block("reasoning", self._reasoning_count)
                self._reasoning_count += 1
            number = block.number
            out: list[Chunk] = []
            if isinstance(reasoning.get("text"), str) and reasoning["text"]:
                out.append(ReasoningDelta(text=reasoning["text"], block=number, raw=payload))
            if isinstance(reasoning.get("signature"), str):
                out.append(ReasoningDelta(signature=reasoning["signature"], block=number, raw=payload))
            redacted = reasoning.get("redactedContent")
            if redacted is not None:
                data = redacted if isinstance(redacted, str) else json.dumps(redacted)
                out.append(ReasoningDelta(redacted=True, data=data, block=number, raw=payload))
            return out
        citation = delta.get("citation")
        if citation is not None:
            return [ToolResult(tool_call_id=None, kind="citation", content=citation, raw=payload)]
        return []

    def _block_stop(self, payload: dict[str, Any]) -> list[Chunk]:
        block = self._blocks.pop(_int(payload.get("contentBlockIndex")), None)
        if block is None or block.kind != "tool":
            return []
        return self._tools.end(block.number, arguments=None if block.has_input else "{}", raw=payload)

    def _message_stop(self, payload: dict[str, Any]) -> list[Chunk]:
        self._stopped = True
        out = self._tools.end_all()  # a call left open by a server that skipped its stop
        reason = payload.get("stopReason")
        raw_reason = reason if isinstance(reason, str) else None
        out.append(
            Finish(reason=normalize_finish(raw_reason, STOP_REASONS), raw_reason=raw_reason, raw=payload)
        )
        return out

    def _metadata(self, payload: dict[str, Any]) -> list[Chunk]:
        out: list[Chunk] = []
        usage = payload.get("usage")
        if isinstance(usage, dict):
            out.append(
                make_usage(
                    usage,
                    input=usage.get("inputTokens"),
                    output=usage.get("outputTokens"),
                    total=usage.get("totalTokens"),
                    cached=usage.get("cacheReadInputTokens"),
                )
            )
        if self._stopped and not self._done_sent:
            self._done_sent = True
            out.append(Done(raw=payload))
        return out

    _HANDLERS: ClassVar[Mapping[str, Callable[[BedrockDecoder, dict[str, Any]], list[Chunk]]]] = {
        "messageStart": _message_start,
        "contentBlockStart": _block_start,
        "contentBlockDelta": _block_delta,
        "contentBlockStop": _block_stop,
        "messageStop": _message_stop,
        "metadata": _metadata,
    }

    def _exception(self, event: EventStreamMessage) -> Chunk:
        kind = _header_str(event, ":exception-type") or "exception"
        try:
            body = json.loads(event.payload) if event.payload else {}
        except (ValueError, RecursionError):
            body = {"message": event.payload.decode("utf-8", "replace")}
        message = None
        if isinstance(body, dict):
            message = body.get("message") or body.get("Message")
        return provider_error(
            "bedrock",
            message or f"{kind} (no message)",
            type=kind,
            code=_EXCEPTION_STATUS.get(kind),
            retryable=kind in _RETRYABLE,
            payload=body,
        )


def _header_str(event: EventStreamMessage, name: str) -> str | None:
    value = event.header(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- request building ------------------------------------------------------------------------


def _tool_result_block(message: Message) -> dict[str, Any]:
    content = message.get("content")
    result: dict[str, Any] = {"toolUseId": message.get("tool_call_id")}
    if isinstance(content, Mapping):
        result["content"] = [{"json": dict(content)}]
    else:
        result["content"] = [{"text": content_text(content)}]
    if message.get("is_error"):
        result["status"] = "error"
    return {"toolResult": result}


_VALID_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
"""A region is one DNS label, as botocore checks it (``validate_region_name``): anything else
(``x@attacker.example/``) would put another host in the URL the signed request goes to."""


def _checked_region(region: object) -> str:
    if not isinstance(region, str) or not _VALID_REGION.fullmatch(region):
        raise ConfigurationError(
            f"bedrock region {region!r} is not a valid AWS region name (one DNS label such as "
            "'us-east-1'); fix region= or AWS_REGION. Nothing was sent."
        )
    return region


def _check_signed_host(url: str) -> None:
    """Refuse to sign for a URL that an invalid region bent towards another host: a URL built
    as ``https://bedrock-runtime.{region}.amazonaws.com`` can only leave AWS through userinfo
    (``x@attacker.example/``) or by keeping the ``bedrock-runtime.`` prefix on a foreign host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if "@" in parts.netloc or (host.startswith("bedrock-runtime") and not _HOST_REGION.match(host)):
        raise ConfigurationError(
            f"refusing to sign a bedrock request for host {host!r}: the URL looks built from an invalid "
            "region (a region is one DNS label such as 'us-east-1'); fix region= or AWS_REGION. "
            "Nothing was sent."
        )


def _region_from_url(url: str) -> str | None:
    match = _HOST_REGION.match(urlsplit(url).hostname or "")
    return match.group(1) if match else None


# -- wire encoder (chunks → ConverseStream event-stream frames), for the server helpers and demo --

_WIRE_STOP: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "content_filtered",
}


def exception_frame(chunk: StreamError) -> EventStreamMessage:
    """An in-band error as Bedrock sends it: an ``exception`` frame whose ``:exception-type`` is
    the error's type when it is one of Bedrock's (else ``internalServerException``)."""
    err = chunk.error
    kind = err.type if err.type is not None and err.type in _EXCEPTION_STATUS else "internalServerException"
    headers = {":message-type": "exception", ":exception-type": kind, ":content-type": "application/json"}
    return EventStreamMessage(headers, dumps_wire({"message": err.message}).encode("utf-8"))


class BedrockEncoder(ChunkEncoder):
    """ConverseStream as AWS event-stream frames (``:message-type: event``, ``:event-type``,
    ``:content-type: application/json``): ``messageStart``; text and reasoning (text, signature,
    redacted content) as ``contentBlockDelta`` frames of one content block each, closed by
    ``contentBlockStop``; a tool call as ``contentBlockStart`` (``toolUse``), input fragments and
    a stop; then ``messageStop`` (the stop reason, Bedrock's terminal marker) and ``metadata``
    (usage). An error is an ``exception`` frame (``:exception-type``, payload ``{"message"}``).
    Event-stream has no keepalive. One choice."""

    framing: EncoderFraming = "eventstream"
    format = "bedrock"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._started = False
        self._block: tuple[str, Any] | None = None  # ("text" | "reasoning", block key) of the open block
        self._next_block = 0
        self._open_index = 0  # contentBlockIndex of the open text or reasoning block
        self._tools: dict[int, tuple[int, bool]] = {}  # tool index -> (contentBlockIndex, input sent)
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def keepalive(self) -> WireOut:
        raise LocalProtocolError("AWS event-stream has no keepalive frame; write chunks more often instead")

    @staticmethod
    def _frame(event_type: str, payload: dict[str, Any]) -> EventStreamMessage:
        headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
        return EventStreamMessage(headers, dumps_wire(payload).encode("utf-8"))

    def _start(self) -> list[WireOut]:
        if self._started:
            return []
        self._started = True
        return [self._frame("messageStart", {"role": "assistant"})]

    def _close_block(self) -> list[WireOut]:
        if self._block is None:
            return []
        self._block = None
        return [self._frame("contentBlockStop", {"contentBlockIndex": self._open_index})]

    def _in_block(self, kind: str, key: Any, delta: dict[str, Any]) -> list[WireOut]:
        out: list[WireOut] = []
        if self._block != (kind, key):
            out += self._close_block()
            self._block = (kind, key)
            self._open_index = self._next_block
            self._next_block += 1
        out.append(self._frame("contentBlockDelta", {"contentBlockIndex": self._open_index, "delta": delta}))
        return out

    def _tool(self, chunk: ToolCallStart | ToolCallDelta | ToolCallEnd) -> list[WireOut]:
        out = self._close_block()
        if chunk.index not in self._tools:
            block = self._next_block
            self._next_block += 1
            self._tools[chunk.index] = (block, False)
            tool = {
                "toolUseId": None if isinstance(chunk, ToolCallDelta) else chunk.id,
                "name": "" if isinstance(chunk, ToolCallDelta) else chunk.name,
            }
            out.append(
                self._frame("contentBlockStart", {"contentBlockIndex": block, "start": {"toolUse": tool}})
            )
        block, sent = self._tools[chunk.index]
        fragment = chunk.arguments if isinstance(chunk, ToolCallDelta) else ""
        if isinstance(chunk, ToolCallEnd) and not sent:
            fragment = chunk.arguments
        if fragment:
            self._tools[chunk.index] = (block, True)
            delta = {"toolUse": {"input": fragment}}
            out.append(self._frame("contentBlockDelta", {"contentBlockIndex": block, "delta": delta}))
        if isinstance(chunk, ToolCallEnd):
            del self._tools[chunk.index]
            out.append(self._frame("contentBlockStop", {"contentBlockIndex": block}))
        return out

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        out = self._start()
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            out += self._in_block("text", None, {"text": chunk.text}) if chunk.text else []
        elif isinstance(chunk, ReasoningDelta):
            if chunk.redacted:
                out += self._in_block(
                    "reasoning", chunk.block, {"reasoningContent": {"redactedContent": chunk.data or ""}}
                )
            if chunk.text:
                out += self._in_block("reasoning", chunk.block, {"reasoningContent": {"text": chunk.text}})
            if chunk.signature:
                out += self._in_block(
                    "reasoning", chunk.block, {"reasoningContent": {"signature": chunk.signature}}
                )
        elif isinstance(chunk, (ToolCallStart, ToolCallDelta, ToolCallEnd)):
            out += self._tool(chunk)
        elif isinstance(chunk, Finish):
            self._finish = chunk
        elif isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
        elif isinstance(chunk, StreamError):
            out.append(exception_frame(chunk))
        elif isinstance(chunk, Done):
            out += self._close_block()
            for index in list(self._tools):  # calls a source never ended
                out += self._tool(ToolCallEnd(index=index, id=None, name="", arguments="", input=None))
            finish = self._finish
            if finish is not None and finish.raw_reason in STOP_REASONS:
                reason = finish.raw_reason
            else:
                reason = _WIRE_STOP.get(finish.reason, "end_turn") if finish is not None else "end_turn"
            out.append(self._frame("messageStop", {"stopReason": reason}))
            metadata: dict[str, Any] = {"metrics": {"latencyMs": 0}}
            if self._usage is not None:
                usage = self._usage
                counts = {"inputTokens": usage.input_tokens or 0, "outputTokens": usage.output_tokens or 0}
                counts["totalTokens"] = (
                    usage.total_tokens
                    if usage.total_tokens is not None
                    else counts["inputTokens"] + counts["outputTokens"]
                )
                if usage.cached_tokens is not None:
                    counts["cacheReadInputTokens"] = usage.cached_tokens
                metadata["usage"] = counts
            out.append(self._frame("metadata", metadata))
        return out


class BedrockProvider(Provider):
    """``bedrock``: POST ``https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse-stream``,
    signed with SigV4 (or sent with a Bedrock API key as a bearer token)."""

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "region", "max_tokens", "temperature", "top_p", "stop", "tool_choice",
            "thinking_budget", "guardrailConfig", "additionalModelRequestFields",
            "additionalModelResponseFieldPaths", "promptVariables", "requestMetadata",
            "performanceConfig", "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """ConverseStream request fields (Bedrock's API reference) and our common names."""

    name = "bedrock"
    encoder_class = BedrockEncoder
    framing = "eventstream"
    default_base_url = ""
    url_hints: ClassVar[tuple[str, ...]] = (
        "bedrock-runtime /converse-stream",
        "/converse-stream",
        "bedrock-runtime",
    )

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        # Converse stream messages carry the event name in a header (messageStart,
        # contentBlockDelta...); an exception (throttlingException...) is AWS's either way.
        return any(
            isinstance(e, EventStreamMessage)
            and (
                e.event_type
                in ("messageStart", "contentBlockStart", "contentBlockDelta", "messageStop", "metadata")
                or e.message_type == "exception"
            )
            for e in events
        )

    api_key_env = ()
    base_url_env = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
    content_types = ("application/vnd.amazon.eventstream",)
    terminal_marker = "a messageStop event"

    def decoder(self) -> BedrockDecoder:
        return BedrockDecoder()

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        """``region`` from ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; ``api_key`` from
        ``AWS_BEARER_TOKEN_BEDROCK`` (a Bedrock API key, used instead of SigV4);
        ``base_url`` from ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (e.g. a VPC endpoint)."""
        out = super().defaults_from_env(env)
        for var in REGION_ENV:
            if env.get(var):
                out["region"] = env[var]
                break
        if env.get("AWS_BEARER_TOKEN_BEDROCK"):
            out["api_key"] = env["AWS_BEARER_TOKEN_BEDROCK"]
        return out

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
        """The ConverseStream request. Options: ``region`` (required unless ``base_url`` is
        given), ``max_tokens`` / ``temperature`` / ``top_p`` / ``stop`` (→ ``inferenceConfig``),
        ``thinking_budget`` (→ ``additionalModelRequestFields.thinking`` for Anthropic models),
        ``tool_choice`` (→ ``toolConfig.toolChoice``); other options go to the body and
        ``extra_body`` is merged last. The request is unsigned: ``sign()`` adds SigV4."""
        region = options.get("region")
        if base_url:
            base = base_url.rstrip("/")
        elif region:
            base = f"https://bedrock-runtime.{_checked_region(region)}.amazonaws.com"
        else:
            raise ConfigurationError(
                "bedrock needs an AWS region: pass region=... or set AWS_REGION (or AWS_DEFAULT_REGION)"
            )
        system: list[dict[str, Any]] = []
        wire: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            if role == "system":
                system.append({"text": content_text(content)})
            elif role == "tool":
                block = _tool_result_block(message)
                last = wire[-1] if wire else None
                if (
                    last is not None
                    and last["role"] == "user"
                    and all("toolResult" in b for b in last["content"])
                ):
                    last["content"].append(block)  # parallel results share one user turn
                else:
                    wire.append({"role": "user", "content": [block]})
            elif role in ("user", "assistant"):
                blocks: list[dict[str, Any]] = []
                text = content_text(content)
                if text:
                    blocks.append({"text": text})
                for call in message.get("tool_calls") or ():
                    function = call.get("function")
                    spec: Mapping[str, Any] = function if isinstance(function, Mapping) else call
                    blocks.append(
                        {
                            "toolUse": {
                                "toolUseId": call.get("id"),
                                "name": str(spec.get("name", "")),
                                "input": arguments_object(spec.get("arguments")),
                            }
                        }
                    )
                wire.append({"role": role, "content": blocks or [{"text": ""}]})
            else:
                raise LocalProtocolError(
                    f"bedrock: unsupported message role {role!r}; use system, user, assistant or tool"
                )
        body: dict[str, Any] = {"messages": wire}
        if system:
            body["system"] = system
        config = renamed_options(
            options,
            (("max_tokens", "maxTokens"), ("temperature", "temperature"), ("top_p", "topP")),
            "stopSequences",
        )
        if config:
            body["inferenceConfig"] = config
        if tools:
            specs = [
                {"toolSpec": spec}
                for spec in tool_declarations(tools, "inputSchema", lambda schema: {"json": schema})
            ]
            tool_config: dict[str, Any] = {"tools": specs}
            if options.get("tool_choice") is not None:
                tool_config["toolChoice"] = options["tool_choice"]
            body["toolConfig"] = tool_config
        if options.get("thinking_budget") is not None:
            body["additionalModelRequestFields"] = {
                "thinking": {"type": "enabled", "budget_tokens": int(options["thinking_budget"])}
            }
        apply_extra_body(
            body,
            options,
            ("region", "max_tokens", "temperature", "top_p", "stop", "tool_choice", "thinking_budget"),
        )
        headers = {"accept": "application/vnd.amazon.eventstream"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        headers.update(options.get("extra_headers") or {})
        url = f"{base}/model/{quote(model, safe='')}/converse-stream"
        return HTTPRequest.json("POST", url, body, headers)

    def sign(self, request: HTTPRequest, *, env: Mapping[str, str], now: datetime.datetime) -> HTTPRequest:
        """Add SigV4 headers (service ``bedrock``) from ``AWS_ACCESS_KEY_ID``,
        ``AWS_SECRET_ACCESS_KEY`` and optional ``AWS_SESSION_TOKEN``. A request that already
        has an ``authorization`` header (a Bedrock API key) is returned unchanged. The region
        is read from the ``bedrock-runtime.{region}.amazonaws.com`` host, else from
        ``AWS_REGION`` / ``AWS_DEFAULT_REGION``."""
        if any(k.lower() == "authorization" for k in request.headers):
            return request
        _check_signed_host(request.url)
        access_key = env.get("AWS_ACCESS_KEY_ID")
        secret_key = env.get("AWS_SECRET_ACCESS_KEY")
        if not access_key or not secret_key:
            raise ConfigurationError(
                "bedrock needs AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(plus AWS_SESSION_TOKEN for temporary credentials), or a Bedrock API key in "
                "AWS_BEARER_TOKEN_BEDROCK"
            )
        region = _region_from_url(request.url) or next((env[v] for v in REGION_ENV if env.get(v)), None)
        if not region:
            raise ConfigurationError(
                f"bedrock cannot tell the AWS region of {urlsplit(request.url).hostname!r} for signing; "
                "set AWS_REGION"
            )
        region = _checked_region(region)
        credentials = Credentials(access_key, secret_key, env.get("AWS_SESSION_TOKEN") or None)
        headers = sign_headers(
            request.method,
            request.url,
            request.headers,
            request.body,
            credentials=credentials,
            region=region,
            service=SERVICE,
            now=now,
        )
        return HTTPRequest(request.method, request.url, headers, request.body)
