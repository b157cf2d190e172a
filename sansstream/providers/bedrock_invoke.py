"""AWS Bedrock InvokeModelWithResponseStream (``bedrock-invoke``): a model's *own* streaming
format, wrapped in AWS event-stream frames.

Request: ``POST {root}/model/{modelId}/invoke-with-response-stream``, SigV4-signed as for
ConverseStream (``BedrockProvider.sign``: service ``bedrock``, credentials from
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, region from
``AWS_REGION``; or a Bedrock API key, ``AWS_BEARER_TOKEN_BEDROCK``, as a bearer token). The body
is the model's native request: ``Content-Type`` and ``X-Amzn-Bedrock-Accept`` are
``application/json``.

Response: ``application/vnd.amazon.eventstream`` frames. Each ``:event-type: chunk`` frame's
JSON payload is ``{"bytes": "<base64>"}`` (plus ``"p"`` padding); the base64 decodes to one JSON
object of the model's own stream. ``:message-type: exception`` frames carry the errors of the
``ResponseStream`` union (``internalServerException``, ``modelStreamErrorException``,
``modelTimeoutException``, ``serviceUnavailableException``, ``throttlingException``,
``validationException``) with ``{"message"}``, and end the stream.

Model families, recognised from the first decoded object (no need to tell the decoder):

- **Anthropic Claude** (Messages API events: ``message_start`` … ``message_stop``): decoded by
  ``AnthropicDecoder`` unchanged; ``message_stop`` is the terminal marker. The request is the
  Messages body without ``model`` and ``stream`` and with ``"anthropic_version":
  "bedrock-2023-05-31"`` (``build_request`` does this for ``anthropic.*`` model ids).
- **Amazon Nova** (one Converse event per object: ``{"contentBlockDelta": {...}}``,
  ``messageStart`` … ``messageStop``, ``metadata``): each becomes the ConverseStream frame of that
  name and is decoded by ``BedrockDecoder``. The request is the Converse body (``messages``,
  ``system``, ``inferenceConfig``, ``toolConfig``) with ``"schemaVersion": "messages-v1"``.
- **Meta Llama** (``{"generation", "prompt_token_count", "generation_token_count",
  "stop_reason"}``): text deltas; ``stop_reason`` ``stop`` / ``length`` ends the stream.
- **Mistral** text-completion models (``{"outputs": [{"text", "stop_reason"}]}``).
- **Cohere Command R** (``{"event_type": "text-generation" | "stream-end", "is_finished", "text",
  "finish_reason"}``).

For the three last families the final object also carries
``"amazon-bedrock-invocationMetrics": {inputTokenCount, outputTokenCount, invocationLatency,
firstByteLatency}``, which becomes the ``Usage`` (Llama's own ``prompt_token_count`` /
``generation_token_count`` are used when the metrics are absent). ``build_request`` writes the
native requests of those families from chat messages only where the format is a plain prompt
(Llama 3 chat template, Mistral ``[INST]``, Cohere ``message`` + ``chat_history``); tools are
Anthropic- and Nova-only here (use ``bedrock``, the Converse API, for tools on other models).

Sources: docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
and API_runtime_ResponseStream (``chunk`` → ``PayloadPart {bytes}``, exception members and their
statuses); …/userguide/model-parameters-anthropic-claude-messages.html (``bedrock-2023-05-31``),
model-parameters-meta.html (``generation``, token counts, ``stop_reason``),
model-parameters-mistral-text-completion.html (``outputs[].text``, ``stop_reason``),
docs.aws.amazon.com/nova/latest/nova2-userguide/streaming-responses.html (Nova's Invoke stream:
``json.loads(chunk["bytes"])`` holds ``contentBlockDelta`` and the other Converse event types),
model-parameters-cohere-command-r-plus.html (the request: ``message``, ``chat_history`` with
``USER`` / ``CHATBOT``, ``preamble``, ``p``, ``stop_sequences``). The Cohere stream objects are
Cohere's v1 chat-stream events (``stream-start``, ``text-generation``, ``stream-end``), and the
Mistral ones the page's response shape sent per chunk: no live Bedrock capture of either was
available, so their fixtures are handcrafted from those documents.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..core import dumps_wire
from ..model import (
    Chunk,
    ConfigurationError,
    Done,
    EventStreamMessage,
    Finish,
    JSONValue,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseStart,
    ServerSentEvent,
    StreamError,
    WireEvent,
    text_delta,
)
from ._base import Decoder, HTTPRequest, Message, Provider, ToolSpec
from ._common import content_text, int_or_none, load_json, make_usage, normalize_finish, provider_error
from ._encoder import ChunkEncoder, EncoderFraming, WireOut
from ._hosted import json_request, split_headers
from .anthropic import AnthropicDecoder, AnthropicEncoder, AnthropicProvider
from .bedrock import (
    _EXCEPTION_STATUS,
    _RETRYABLE,
    BedrockDecoder,
    BedrockProvider,
    _checked_region,
    _header_str,
    exception_frame,
)

__all__ = [
    "BedrockInvokeProvider",
    "BedrockInvokeDecoder",
    "BEDROCK_ANTHROPIC_VERSION",
    "model_family",
    "BedrockInvokeEncoder",
]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
METRICS_KEY = "amazon-bedrock-invocationMetrics"

_STOP = {"stop": "stop", "length": "length", "complete": "stop", "max_tokens": "length",
         "stop_sequence": "stop", "error": "error", "error_toxic": "content_filter",
         "error_limit": "length", "user_cancel": "other"}  # fmt: skip

_REGION_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.")


def model_family(model: str) -> str | None:
    """``"anthropic" | "nova" | "meta" | "mistral" | "cohere"`` for a Bedrock model id
    (inference-profile prefixes such as ``us.`` or ``global.`` and ARNs allowed), ``None`` if
    unknown."""
    name = model.rsplit("/", 1)[-1]
    for prefix in _REGION_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name.startswith("amazon.nova"):
        return "nova"
    vendor = name.split(".", 1)[0]
    return vendor if vendor in ("anthropic", "meta", "mistral", "cohere") else None


class _AnthropicOnBedrock(AnthropicDecoder):
    provider = "bedrock-invoke"


class BedrockInvokeDecoder(Decoder):
    """Event-stream frames → the model's own JSON objects → chunks (see the module docstring)."""

    provider = "bedrock-invoke"

    def __init__(self) -> None:
        self._family: str | None = None
        # Claude and Nova streams go through the existing decoders (anthropic, bedrock's Converse).
        self._inner: Decoder | None = None
        self._started = False
        self._finished = False  # a native family's last object was seen
        self._errored = False

    @property
    def complete(self) -> bool:
        if self._errored or self._finished:
            return True
        return self._inner is not None and self._inner.complete

    @property
    def terminated(self) -> bool:
        return self._finished or (self._inner is not None and self._inner.terminated)

    def decode(self, event: WireEvent) -> list[Chunk]:
        if not isinstance(event, EventStreamMessage):
            return []
        kind = event.message_type
        if kind == "exception":
            self._errored = True
            return [self._exception(event)]
        if kind == "error":
            self._errored = True
            code = _header_str(event, ":error-code") or "error"
            message = _header_str(event, ":error-message") or f"event-stream error {code}"
            return [provider_error(self.provider, message, type=code, code=code,
                                   payload={"headers": dict(event.headers)})]  # fmt: skip
        if kind not in (None, "event") or event.event_type != "chunk":
            return []
        part = load_json(event.payload, "bedrock-invoke: payload of a chunk frame") if event.payload else {}
        encoded = part.get("bytes") if isinstance(part, dict) else None
        if not isinstance(encoded, str):
            raise RemoteProtocolError("bedrock-invoke: a chunk frame has no base64 'bytes' field")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise RemoteProtocolError("bedrock-invoke: a chunk's 'bytes' field is not valid base64") from None
        obj = load_json(raw, "bedrock-invoke: the model's chunk")
        if not isinstance(obj, dict):
            raise RemoteProtocolError("bedrock-invoke: the model's chunk is not a JSON object")
        return self._model_object(obj)

    def finish(self) -> list[Chunk]:
        return self._inner.finish() if self._inner is not None else []

    # -- the model's own objects ---------------------------------------------------------------

    def _model_object(self, obj: dict[str, Any]) -> list[Chunk]:
        if self._family is None:
            self._family = _detect(obj)
            if self._family == "anthropic":
                self._inner = _AnthropicOnBedrock()
            elif self._family == "nova":
                self._inner = BedrockDecoder()
        if self._family == "nova" and self._inner is not None:
            # {"contentBlockDelta": {...}}: a Converse event as one JSON object, which is the
            # payload of the ConverseStream frame of that name.
            out: list[Chunk] = []
            for name, payload in obj.items():
                if name in _CONVERSE_EVENTS:
                    frame = EventStreamMessage(
                        {":message-type": "event", ":event-type": name}, dumps_wire(payload).encode("utf-8")
                    )
                    out.extend(self._inner.decode(frame))
            return out
        if self._inner is not None:
            return self._inner.decode(JSONValue(obj))
        out = []
        if not self._started:
            self._started = True
            out.append(ResponseStart(raw=obj))
        if self._family == "meta":
            self._meta(obj, out)
        elif self._family == "mistral":
            self._mistral(obj, out)
        elif self._family == "cohere":
            self._cohere(obj, out)
        else:
            raise RemoteProtocolError(
                "bedrock-invoke: a chunk in no known model format (Anthropic Messages events, Meta "
                f"'generation', Mistral 'outputs', Cohere 'event_type'): {json.dumps(obj)[:80]!r}"
            )
        return out

    def _end(self, raw_reason: str | None, obj: dict[str, Any], out: list[Chunk]) -> None:
        out.append(Finish(reason=normalize_finish(raw_reason, _STOP), raw_reason=raw_reason, raw=obj))
        metrics = obj.get(METRICS_KEY)
        if isinstance(metrics, dict):
            out.append(make_usage(metrics, input=metrics.get("inputTokenCount"),
                                  output=metrics.get("outputTokenCount")))  # fmt: skip
        self._finished = True
        out.append(Done(raw=obj))

    def _meta(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        text = obj.get("generation")
        if isinstance(text, str) and text:
            out.append(text_delta(text, raw=obj))
        reason = obj.get("stop_reason")
        if isinstance(reason, str) and reason:
            metrics = obj.get(METRICS_KEY)
            if not isinstance(metrics, dict):
                prompt, completion = obj.get("prompt_token_count"), obj.get("generation_token_count")
                if int_or_none(prompt) is not None or int_or_none(completion) is not None:
                    out.append(make_usage(obj, input=prompt, output=completion))
            self._end(reason, obj, out)

    def _mistral(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        outputs = obj.get("outputs")
        reason: str | None = None
        if isinstance(outputs, list):
            for output in outputs:
                if not isinstance(output, dict):
                    continue
                text = output.get("text")
                if isinstance(text, str) and text:
                    out.append(text_delta(text, raw=obj))
                stop = output.get("stop_reason")
                if isinstance(stop, str) and stop:
                    reason = stop
        if reason is not None:
            self._end(reason, obj, out)

    def _cohere(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        kind = obj.get("event_type")
        if kind == "text-generation":
            text = obj.get("text")
            if isinstance(text, str) and text:
                out.append(text_delta(text, raw=obj))
        if obj.get("is_finished") is True or kind == "stream-end":
            reason = obj.get("finish_reason")
            self._end(reason if isinstance(reason, str) else None, obj, out)

    def _exception(self, event: EventStreamMessage) -> Chunk:
        kind = _header_str(event, ":exception-type") or "exception"
        try:
            body = json.loads(event.payload) if event.payload else {}
        except (ValueError, RecursionError):
            body = {"message": event.payload.decode("utf-8", "replace")}
        message = (body.get("message") or body.get("Message")) if isinstance(body, dict) else None
        status = _EXCEPTION_STATUS.get(kind)
        if isinstance(body, dict) and isinstance(body.get("originalStatusCode"), int):
            status = body["originalStatusCode"]  # modelStreamErrorException: the model's own status
        return provider_error(
            self.provider,
            message or f"{kind} (no message)",
            type=kind,
            code=status,
            retryable=kind in _RETRYABLE,
            payload=body,
        )


_CONVERSE_EVENTS = frozenset(
    {"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"}
)


def _detect(obj: Mapping[str, Any]) -> str | None:
    if isinstance(obj.get("type"), str):
        return "anthropic"
    if _CONVERSE_EVENTS.intersection(obj):
        return "nova"
    if "generation" in obj:
        return "meta"
    if "outputs" in obj:
        return "mistral"
    if "event_type" in obj or "is_finished" in obj:
        return "cohere"
    return None


# -- request building ------------------------------------------------------------------------


def _prompt_messages(messages: Sequence[Message], family: str) -> tuple[str, list[tuple[str, str]]]:
    """``(system text, [(role, text), ...])``; tool calls and results are refused (the plain
    prompt formats have no place for them)."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            system.append(content_text(message.get("content")))
        elif role in ("user", "assistant") and not message.get("tool_calls"):
            turns.append((str(role), content_text(message.get("content"))))
        else:
            raise LocalProtocolError(
                f"bedrock-invoke: {family} models take plain user/assistant/system text here; "
                "for tools use the 'bedrock' provider (Converse API)"
            )
    return "\n\n".join(system), turns


def _llama3_prompt(system: str, turns: list[tuple[str, str]]) -> str:
    parts = ["<|begin_of_text|>"]
    if system:
        parts.append(f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>")
    for role, text in turns:
        parts.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


def _mistral_prompt(system: str, turns: list[tuple[str, str]]) -> str:
    """Mistral's instruct template as Bedrock's docs write it:
    ``<s>[INST] q1 [/INST] a1</s> [INST] q2 [/INST]`` (a system text opens the first turn)."""
    out = "<s>"
    pending_system = system
    for role, text in turns:
        if role == "user":
            content = f"{pending_system}\n\n{text}" if pending_system else text
            pending_system = ""
            out += ("" if out == "<s>" else " ") + f"[INST] {content} [/INST]"
        else:
            out += f" {text}</s>"
    return out


# -- wire encoder (chunks → Claude's events in chunk frames), for the server helpers and the demo --


class BedrockInvokeEncoder(ChunkEncoder):
    """InvokeModelWithResponseStream as a Claude model answers it: each Anthropic Messages event
    (``message_start`` … ``message_stop``, written by the ``anthropic`` encoder) base64-encoded
    in the ``bytes`` field of a ``chunk`` frame; an error is an ``exception`` frame, as for
    ``bedrock``. Event-stream has no keepalive. One choice."""

    framing: EncoderFraming = "eventstream"
    format = "bedrock-invoke"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._claude = AnthropicEncoder(model=self.model, id=self.id, now=self.now)

    def keepalive(self) -> WireOut:
        raise LocalProtocolError("AWS event-stream has no keepalive frame; write chunks more often instead")

    @staticmethod
    def _frame(event: WireOut) -> WireOut:
        if not isinstance(event, ServerSentEvent):  # pragma: no cover - the anthropic encoder writes events
            raise LocalProtocolError(f"bedrock-invoke cannot carry a {type(event).__name__}")
        encoded = base64.b64encode(event.data.encode("utf-8")).decode("ascii")
        headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
        return EventStreamMessage(headers, dumps_wire({"bytes": encoded}).encode("utf-8"))

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, StreamError):
            return [exception_frame(chunk)]
        return [self._frame(event) for event in self._claude.encode(chunk)]


class BedrockInvokeProvider(Provider):
    """``bedrock-invoke``: InvokeModelWithResponseStream (see the module docstring).
    Environment and signing are ``bedrock``'s (``BedrockProvider.defaults_from_env`` /
    ``sign``)."""

    name = "bedrock-invoke"
    encoder_class = BedrockInvokeEncoder
    framing = "eventstream"
    default_base_url = ""
    url_hints: ClassVar[tuple[str, ...]] = (
        "bedrock-runtime /invoke-with-response-stream",
        "/invoke-with-response-stream",
    )

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        # InvokeModelWithResponseStream wraps each model event in a "chunk" message.
        return any(isinstance(e, EventStreamMessage) and e.event_type == "chunk" for e in events)

    api_key_env = ()
    base_url_env = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
    content_types = ("application/vnd.amazon.eventstream",)
    terminal_marker = "the model's last chunk (message_stop, or a stop_reason / finish)"
    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {"region", "max_tokens", "temperature", "top_p", "top_k", "stop", "tool_choice", "thinking",
         "thinking_budget", "anthropic_version", "anthropic_beta", "family", "native_body",
         "guardrail", "guardrail_version", "trace", "extra_body", "extra_headers"}
    )  # fmt: skip

    def decoder(self) -> BedrockInvokeDecoder:
        return BedrockInvokeDecoder()

    def local_options(self, server_url: str) -> dict[str, Any]:
        """A local server answers as a Claude model (what ``BedrockInvokeEncoder`` writes)."""
        return {"base_url": server_url, "family": "anthropic"}

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        return BedrockProvider().defaults_from_env(env)

    def sign(self, request: HTTPRequest, *, env: Mapping[str, str], now: datetime.datetime) -> HTTPRequest:
        return BedrockProvider().sign(request, env=env, now=now)

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
        """The InvokeModelWithResponseStream request. ``family`` overrides the model family
        read from the model id; ``native_body`` (a dict) is sent as the body unchanged, for
        models or parameters not modelled here. Anthropic options are those of ``anthropic``
        (plus ``anthropic_beta``, a list of beta names); Meta / Mistral / Cohere take
        ``max_tokens``, ``temperature``, ``top_p`` (and ``stop``). ``guardrail`` /
        ``guardrail_version`` / ``trace`` set the ``X-Amzn-Bedrock-*`` headers. The request is
        unsigned: ``sign()`` adds SigV4 (or it carries a Bedrock API key)."""
        opts = dict(options)
        region = opts.pop("region", None)
        if base_url:
            root = base_url.rstrip("/")
        elif region:
            root = f"https://bedrock-runtime.{_checked_region(region)}.amazonaws.com"
        else:
            raise ConfigurationError(
                "bedrock-invoke needs an AWS region: pass region=... or set AWS_REGION (or "
                "AWS_DEFAULT_REGION). Nothing was sent."
            )
        headers = {
            "accept": "application/vnd.amazon.eventstream",
            "x-amzn-bedrock-accept": "application/json",
        }
        for option, header in (
            ("guardrail", "x-amzn-bedrock-guardrailidentifier"),
            ("guardrail_version", "x-amzn-bedrock-guardrailversion"),
            ("trace", "x-amzn-bedrock-trace"),
        ):
            value = opts.pop(option, None)
            if value:
                headers[header] = str(value)
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        headers.update(split_headers(opts))
        url = f"{root}/model/{quote(model, safe='')}/invoke-with-response-stream"
        native = opts.pop("native_body", None)
        family = opts.pop("family", None) or model_family(model)
        if native is not None:
            if not isinstance(native, Mapping):
                raise LocalProtocolError(
                    "bedrock-invoke: native_body must be a mapping (the model's JSON body)"
                )
            return json_request(url, dict(native), headers)
        if family == "anthropic":
            body = self._anthropic_body(model, messages, tools, opts)
        elif family == "nova":
            converse = BedrockProvider().build_request(
                model=model, messages=messages, tools=tools, base_url="https://unused.invalid", **opts
            )
            body = {"schemaVersion": "messages-v1", **converse.json_body()}
        elif family in ("meta", "mistral", "cohere"):
            if tools:
                raise LocalProtocolError(
                    f"bedrock-invoke: tools are supported here for Anthropic and Nova models only; use the "
                    f"'bedrock' provider (Converse API) for tools with {model!r}"
                )
            body = self._native_body(str(family), messages, opts)
        else:
            raise ConfigurationError(
                f"bedrock-invoke cannot tell the request format of model {model!r}: pass "
                "family='anthropic' | 'nova' | 'meta' | 'mistral' | 'cohere', or native_body={...}"
            )
        return json_request(url, body, headers)

    @staticmethod
    def _anthropic_body(
        model: str, messages: Sequence[Message], tools: Sequence[ToolSpec] | None, opts: dict[str, Any]
    ) -> dict[str, Any]:
        version = opts.pop("anthropic_version", None) or BEDROCK_ANTHROPIC_VERSION
        beta = opts.pop("anthropic_beta", None)
        request = AnthropicProvider().build_request(model=model, messages=messages, tools=tools, **opts)
        body = request.json_body()
        # Bedrock rejects keys it does not know: the model is in the URL, streaming in the route.
        body.pop("model", None)
        body.pop("stream", None)
        body = {"anthropic_version": version, **body}
        if beta:
            body["anthropic_beta"] = [beta] if isinstance(beta, str) else list(beta)
        return body

    @staticmethod
    def _native_body(family: str, messages: Sequence[Message], opts: dict[str, Any]) -> dict[str, Any]:
        system, turns = _prompt_messages(messages, family)
        body: dict[str, Any]
        if family == "meta":
            body = {"prompt": _llama3_prompt(system, turns)}
            if opts.get("max_tokens") is not None:
                body["max_gen_len"] = opts["max_tokens"]
        elif family == "mistral":
            body = {"prompt": _mistral_prompt(system, turns)}
            if opts.get("max_tokens") is not None:
                body["max_tokens"] = opts["max_tokens"]
            if opts.get("stop") is not None:
                body["stop"] = [opts["stop"]] if isinstance(opts["stop"], str) else list(opts["stop"])
        else:  # cohere command-r
            if not turns or turns[-1][0] != "user":
                raise LocalProtocolError("bedrock-invoke: a Cohere chat must end with a user message")
            history = [{"role": "USER" if r == "user" else "CHATBOT", "message": t} for r, t in turns[:-1]]
            body = {"message": turns[-1][1]}
            if history:
                body["chat_history"] = history
            if system:
                body["preamble"] = system
            if opts.get("max_tokens") is not None:
                body["max_tokens"] = opts["max_tokens"]
            if opts.get("stop") is not None:
                body["stop_sequences"] = (
                    [opts["stop"]] if isinstance(opts["stop"], str) else list(opts["stop"])
                )
        for option in ("temperature", "top_p"):
            if opts.get(option) is not None:
                body["p" if family == "cohere" and option == "top_p" else option] = opts[option]
        extra = opts.get("extra_body")
        if isinstance(extra, Mapping):
            body.update(extra)
        return body
