"""Ollama's native API (``/api/chat`` and ``/api/generate``): request builder and decoder.

Wire format (PROVIDERS.md §10): NDJSON, one compact JSON object per line. ``/api/chat`` lines
carry ``message.content`` / ``message.thinking`` / ``message.tool_calls`` (each call whole, its
``arguments`` an object, usually without an id); ``/api/generate`` lines carry ``response`` /
``thinking``. The last line has ``"done": true`` with ``done_reason`` and the metrics
(``prompt_eval_count``, ``eval_count`` and durations in nanoseconds). After output has started,
an error is a line ``{"error": "..."}`` and the stream ends without a ``done`` line.

Mapping: text and thinking fragments → ``TextDelta`` / ``ReasoningDelta`` (reasoning a model
writes inline as ``<think>`` tags without ``think`` stays in the text, as sent); each tool call
→ ``ToolCallStart`` + ``ToolCallDelta`` (the whole arguments text) + ``ToolCallEnd``, with the
id synthesised as ``call_<n>`` when absent; the ``done`` line → ``Finish`` (``stop`` → ``stop``,
or ``tool_calls`` when calls were made; ``length``; ``load``/``unload`` → ``other``), ``Usage``
(input = ``prompt_eval_count``, output = ``eval_count``; ``raw`` holds the counts and the
durations in ns) and ``Done``. ``Finish.raw`` is the whole final line (``context`` included).

Completeness: the ``done`` line was seen, or an ``{"error"}`` line (the server ends the stream
after it: that is not a truncation, though no ``Done`` is emitted).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..model import (
    Chunk,
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
    is_retryable,
    join_url,
    load_json,
    make_usage,
    normalize_finish,
    provider_error,
    renamed_options,
    sniffed,
    tool_declarations,
)
from ._encoder import ChunkEncoder, EncoderFraming, WireOut

__all__ = ["OllamaProvider", "OllamaDecoder", "normalize_ollama_host", "OllamaEncoder"]

DEFAULT_PORT = 11434
DONE_REASONS: Mapping[str, str] = {"stop": "stop", "length": "length", "load": "other", "unload": "other"}
METRIC_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class OllamaDecoder(Decoder):
    """Decode Ollama NDJSON lines (chat or generate) into chunks."""

    provider = "ollama"

    def __init__(self) -> None:
        self._tools = ToolCallTracker()
        self._tool_count = 0
        self._started = False
        self._complete = False
        # An {"error"} line ends the stream without a done line; the server said how it ended.
        self._errored = False

    @property
    def complete(self) -> bool:
        return self._complete or self._errored

    @property
    def terminated(self) -> bool:
        return self._complete  # "done": true

    def decode(self, event: WireEvent) -> list[Chunk]:
        if isinstance(event, JSONValue):
            line = event.value
        elif isinstance(event, ServerSentEvent) and event.data.strip():
            line = load_json(event.data, "ollama: SSE data")
        else:
            return []
        if not isinstance(line, dict):
            raise RemoteProtocolError(f"ollama: expected a JSON object per line, got {type(line).__name__}")
        error = line.get("error")
        if error is not None:
            self._errored = True
            text = error if isinstance(error, str) else json.dumps(error, ensure_ascii=False)
            return [provider_error("ollama", text, retryable=is_retryable(text), payload=line)]
        out: list[Chunk] = []
        if not self._started:
            self._started = True
            model = line.get("model")
            out.append(ResponseStart(model=model if isinstance(model, str) else None, raw=line))
        message = line.get("message")
        source: Mapping[str, Any]
        if isinstance(message, dict):  # /api/chat
            source = message
            content = message.get("content")
        else:  # /api/generate
            source = line
            content = line.get("response")
        thinking = source.get("thinking")
        # (Truth first: the type checks then run only for fields that are there.)
        if thinking and isinstance(thinking, str):
            out.append(ReasoningDelta(text=thinking, raw=line))
        if content and isinstance(content, str):
            out.append(text_delta(content, raw=line))
        calls = source.get("tool_calls")
        if calls and isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    out.extend(self._tool_call(call))
        if line.get("done") is True:
            out.extend(self._done(line))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[Chunk]:
        function = call.get("function")
        spec: Mapping[str, Any] = function if isinstance(function, dict) else call
        index = self._tool_count
        self._tool_count += 1
        call_id = call.get("id")
        arguments = spec.get("arguments")
        text = (
            arguments
            if isinstance(arguments, str)
            else json.dumps(
                arguments if arguments is not None else {}, ensure_ascii=False, separators=(",", ":")
            )
        )
        return self._tools.whole(
            index,
            call_id if isinstance(call_id, str) and call_id else f"call_{index}",
            str(spec.get("name", "")),
            text,
            raw=call,
        )

    def _done(self, line: dict[str, Any]) -> list[Chunk]:
        self._complete = True
        raw_reason = line.get("done_reason")
        reason = normalize_finish(raw_reason if isinstance(raw_reason, str) else "stop", DONE_REASONS)
        if reason == "stop" and self._tool_count:
            reason = "tool_calls"
        metrics = {key: line[key] for key in METRIC_FIELDS if key in line}
        out: list[Chunk] = [
            Finish(reason=reason, raw_reason=raw_reason if isinstance(raw_reason, str) else None, raw=line)
        ]
        if metrics:
            out.append(
                make_usage(metrics, input=metrics.get("prompt_eval_count"), output=metrics.get("eval_count"))
            )
        out.append(Done(raw=line))
        return out


def normalize_ollama_host(host: str) -> str:
    """A base URL from an ``OLLAMA_HOST``-style value, which may lack the scheme or the port
    (``localhost``, ``0.0.0.0:11434``, ``example.com``, ``https://example.com``): the scheme
    defaults to ``http``, the port to 11434 for http (none is added for an explicit https)."""
    host = host.strip()
    if not host:
        return OllamaProvider.default_base_url
    explicit_scheme = "://" in host
    parts = urlsplit(host if explicit_scheme else f"http://{host}")
    scheme = parts.scheme or "http"
    netloc = parts.netloc
    if parts.port is None and not (explicit_scheme and scheme == "https"):
        netloc = f"{netloc}:{DEFAULT_PORT}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function")
    spec: Mapping[str, Any] = function if isinstance(function, Mapping) else call
    return {
        "function": {"name": str(spec.get("name", "")), "arguments": arguments_object(spec.get("arguments"))}
    }


# -- wire encoder (chunks → /api/chat NDJSON lines), for the server helpers and the demo ----------

_OLLAMA_DONE = {"stop": "stop", "length": "length", "tool_calls": "stop"}


class OllamaEncoder(ChunkEncoder):
    """Ollama ``/api/chat`` NDJSON: one line per delta (``message.content`` /
    ``message.thinking`` / whole ``message.tool_calls``), then a ``"done": true`` line carrying
    ``done_reason`` and the token counts. An error is a ``{"error": "..."}`` line."""

    framing: EncoderFraming = "ndjson"
    format = "ollama"

    def __init__(self, *, created_at: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._created_at = created_at
        self._reason: str | None = None
        self._usage: Usage | None = None

    def _line(self, message: dict[str, Any], **extra: Any) -> WireOut:
        created = self._created_at or datetime.datetime.fromtimestamp(
            self.now or 0, datetime.timezone.utc
        ).isoformat().replace("+00:00", "Z")
        body = {
            "model": self.model or "sansstream",
            "created_at": created,
            "message": {"role": "assistant", **message},
            **extra,
        }
        return JSONValue(body)

    def _encode(self, chunk: Chunk) -> list[WireOut]:
        if isinstance(chunk, ResponseStart):
            self.model = chunk.model or self.model
            return []
        if isinstance(chunk, (TextDelta, RefusalDelta)):
            return [self._line({"content": chunk.text}, done=False)]
        if isinstance(chunk, ReasoningDelta):
            return [self._line({"content": "", "thinking": chunk.text}, done=False)] if chunk.text else []
        if isinstance(chunk, ToolCallEnd):
            call = {
                "function": {"name": chunk.name, "arguments": chunk.input if chunk.input is not None else {}}
            }
            return [self._line({"content": "", "tool_calls": [call]}, done=False)]
        if isinstance(chunk, Finish):
            self._reason = (
                chunk.raw_reason
                if chunk.raw_reason in ("stop", "length")
                else _OLLAMA_DONE.get(chunk.reason, "stop")
            )
            return []
        if isinstance(chunk, Usage):
            self._usage = chunk if self._usage is None else self._usage.merged(chunk)
            return []
        if isinstance(chunk, StreamError):
            return [JSONValue({"error": chunk.error.message})]
        if isinstance(chunk, Done):
            extra: dict[str, Any] = {"done_reason": self._reason or "stop", "done": True}
            if self._usage is not None:
                if self._usage.input_tokens is not None:
                    extra["prompt_eval_count"] = self._usage.input_tokens
                if self._usage.output_tokens is not None:
                    extra["eval_count"] = self._usage.output_tokens
            return [self._line({"content": ""}, **extra)]
        return []


class OllamaProvider(Provider):
    """``ollama``: POST ``{base}/api/chat`` (or ``/api/generate`` with ``endpoint="generate"``)."""

    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {
            "endpoint", "temperature", "max_tokens", "top_p", "top_k", "seed", "stop", "options",
            "think", "keep_alive", "format", "raw", "suffix", "images", "template", "context",
            "extra_body", "extra_headers",
        }
    )  # fmt: skip
    """Our names for the model options, and /api/chat and /api/generate's own fields."""

    name = "ollama"
    encoder_class = OllamaEncoder
    framing = "ndjson"
    default_base_url = f"http://localhost:{DEFAULT_PORT}"
    url_hints: ClassVar[tuple[str, ...]] = ("/api/chat", "/api/generate")

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        return any(
            isinstance(value, dict) and "done" in value and ("message" in value or "response" in value)
            for name, value, kind in sniffed(events)
        )

    api_key_env: tuple[str, ...] = ()
    base_url_env = "OLLAMA_HOST"
    content_types = ("application/x-ndjson", "application/json")
    terminal_marker = 'a line with "done": true'

    def decoder(self) -> OllamaDecoder:
        return OllamaDecoder()

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        out = super().defaults_from_env(env)
        if "base_url" in out:
            out["base_url"] = normalize_ollama_host(out["base_url"])
        if env.get("OLLAMA_API_KEY"):  # Ollama's hosted API; a local server needs no key
            out["api_key"] = env["OLLAMA_API_KEY"]
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
        """The ``/api/chat`` request (``endpoint="generate"``: ``/api/generate`` with ``prompt``
        and ``system``, for a single user turn without tools). Options: ``max_tokens`` (→
        ``options.num_predict``), ``temperature``, ``top_p``, ``top_k``, ``seed``, ``stop`` (→
        ``options``), ``think`` (bool or ``"low"|"medium"|"high"``), ``keep_alive``, ``format``;
        other options go to the body and ``extra_body`` is merged last."""
        endpoint = options.get("endpoint", "chat")
        if endpoint not in ("chat", "generate"):
            raise LocalProtocolError(f"ollama: endpoint must be 'chat' or 'generate', not {endpoint!r}")
        body: dict[str, Any] = {"model": model}
        if endpoint == "chat":
            body["messages"] = [self._message(m) for m in messages]
            if tools:
                body["tools"] = [
                    {"type": "function", "function": function}
                    for function in tool_declarations(tools, "parameters")
                ]
        else:
            if tools:
                raise LocalProtocolError("ollama: /api/generate takes no tools; use endpoint='chat'")
            system = [content_text(m.get("content")) for m in messages if m.get("role") == "system"]
            users = [m for m in messages if m.get("role") != "system"]
            if len(users) != 1 or users[0].get("role") != "user":
                raise LocalProtocolError(
                    "ollama: endpoint='generate' takes one user message (plus optional system "
                    "messages); use endpoint='chat' for a conversation"
                )
            body["prompt"] = content_text(users[0].get("content"))
            if system:
                body["system"] = "\n\n".join(system)
        model_options = renamed_options(
            options,
            (
                ("temperature", "temperature"),
                ("max_tokens", "num_predict"),
                ("top_p", "top_p"),
                ("top_k", "top_k"),
                ("seed", "seed"),
            ),
            "stop",
        )
        if isinstance(options.get("options"), Mapping):
            model_options.update(options["options"])
        if model_options:
            body["options"] = model_options
        apply_extra_body(
            body,
            options,
            ("endpoint", "temperature", "max_tokens", "top_p", "top_k", "seed", "stop", "options", "stream"),
        )
        body["stream"] = True
        headers = {"accept": "application/x-ndjson"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        headers.update(options.get("extra_headers") or {})
        base = normalize_ollama_host(base_url) if base_url else self.default_base_url
        return HTTPRequest.json("POST", join_url(base, f"/api/{endpoint}"), body, headers)

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        role = message.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            raise LocalProtocolError(
                f"ollama: unsupported message role {role!r}; use system, user, assistant or tool"
            )
        out: dict[str, Any] = {"role": role, "content": content_text(message.get("content"))}
        if role == "assistant" and message.get("tool_calls"):
            out["tool_calls"] = [_tool_call(call) for call in message["tool_calls"]]
        if role == "tool" and message.get("name"):
            out["tool_name"] = message["name"]
        if message.get("images"):
            out["images"] = list(message["images"])
        return out
