"""Stream recovery: carry on with an LLM answer whose connection broke, in-process or later by id.

Two modes, chosen per provider by what its API can honestly do:

- **resume** (exact). OpenAI Responses in background mode (``background: true``, stored): every
  event carries ``sequence_number`` and a response's stream can be reopened with
  ``GET {base}/responses/{id}?stream=true&starting_after=N``; a background response is stopped
  with ``POST {base}/responses/{id}/cancel``. Sources: OpenAI's background-mode guide
  (https://developers.openai.com/docs/guides/background: background responses are kept about
  ten minutes; polling, cancelling, and streaming a background response from a cursor), the
  official SDK's background-streaming change (openai/openai-python#2372, whose example reopens
  with ``responses.retrieve(id, stream=True, starting_after=N)``), the API reference for
  cancelling (https://developers.openai.com/api/reference/go/resources/responses/methods/cancel:
  "Only responses created with the background parameter set to true can be cancelled") and the
  recorded resumed stream in PROVIDERS.md §4 (``background-resume-starting-after.sse``: no
  ``response.created``, starts mid-sequence). The Azure OpenAI Responses variant
  (``azure-responses``) is resumed the same way, its ``api-version`` query kept. One provider
  decoder serves every leg of the stream; a de-duplicating layer in front of it drops any event
  whose ``sequence_number`` was already seen, so the caller sees every chunk exactly once and the
  result equals the uninterrupted stream's.
- **continue** (prefill, opt-in). The request is sent again with the answer text delivered so far
  as the assistant's prefix, and the model carries on from it: Anthropic (a final ``assistant``
  message; https://docs.claude.com/en/docs/prefill-claudes-response: no trailing whitespace, "not
  currently supported with extended thinking"), Bedrock Converse with Claude models (the same
  final assistant message, in Converse's shape), Mistral (``prefix: true`` on the final assistant
  message; the ``AssistantMessage.prefix`` field of Mistral's API specification), DeepSeek-style
  prefix completion with the ``deepseek`` preset or any OpenAI-compatible provider that
  opts in (``prefix: true``, served under
  ``https://api.deepseek.com/beta``; DeepSeek's "Chat Prefix Completion (Beta)" guide), Ollama
  ``/api/chat`` (a final assistant message is continued; maintainer answer in
  ollama/ollama#6778) and Gemini (a trailing ``model`` turn; not documented by Google, and newer
  models answer "Requests ending with a model turn are not supported": that 400 ends the
  recovery with a clear error). The result is partial + continuation. Where continuation cannot
  be exact it is refused with ``IncompleteStreamError`` saying why: the cut fell inside a tool
  call's arguments or a reasoning block (signed as a whole by Anthropic, Bedrock and Gemini), the
  answer already holds reasoning, a refusal or a tool call (a text prefix cannot carry them), or
  the provider rejects a prefix with reasoning enabled (Anthropic extended thinking).

How it hooks in. ``stream_chat(recover=...)`` builds a ``StreamRecovery`` and hands it to
``ChatStream``. The stream decodes through ``StreamRecovery.provider`` (a proxy whose
``decoder()`` is the de-duplicating or prefix-trimming wrapper), and when a leg fails after
chunks came out, the engine calls ``StreamRecovery.handle``: it decides (policy, attempts,
refusals), saves the state to the store if there is one, waits a little, points the stream's
request at the resume or prefill request and reopens it through ``ChatStream``'s own open path,
so deadlines, retries and transports apply unchanged. A leg that ends without its terminal
marker does not get its decoder's ``finish()`` chunks (they would close a tool call that the
next leg continues).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..core import dumps_wire
from ..model import (
    SECRET_HEADERS,
    ChatResult,
    Chunk,
    ConfigurationError,
    Done,
    Finish,
    HTTPRequest,
    HTTPStatusError,
    IdleTimeout,
    IncompleteStreamError,
    JSONValue,
    ProviderError,
    ReadTimeout,
    ReasoningDelta,
    Recovered,
    RefusalDelta,
    ResponseStart,
    SansStreamError,
    ServerSentEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    TransportError,
    Usage,
    WireEvent,
)
from ..providers import Decoder, Framing, Message, Provider, ToolSpec
from ._recovery_store import DEFAULT_TTL, RecoveryNotFoundError, RecoveryStore

if TYPE_CHECKING:
    from ._stream import ChatStream

__all__ = [
    "RecoveryPolicy",
    "RecoveryRecord",
    "RecoveryStore",
    "RecoveryNotFoundError",
    "recover",
    "load_recovery",
    "recovery_modes",
    "default_recoverable",
]

Mode = Literal["resume", "continue"]

_RESPONSES = "openai-responses"
_PREFILL_PROVIDERS = ("anthropic", "bedrock", "mistral", "openai", "ollama", "gemini")
# Providers that sign a reasoning block as a whole: a cut inside one leaves a block that can
# never be sent back.
_SIGNED_REASONING = ("anthropic", "bedrock", "gemini")
# Providers that reject a prefix whose trailing whitespace would be the model's next token.
_NO_TRAILING_SPACE = ("anthropic", "bedrock")


def default_recoverable(exc: BaseException) -> bool:
    """The failures that count by default: the connection was cut or reset, or went silent
    (idle / read timeout), and in-band errors the provider marks retryable (e.g. Anthropic's
    ``overloaded_error``). A total or first-token deadline is the caller's own limit and does
    not count; neither does an HTTP error while reopening, unless it is 408/425/429/5xx."""
    if isinstance(exc, IncompleteStreamError | IdleTimeout | ReadTimeout | TransportError):
        return True
    if isinstance(exc, HTTPStatusError):
        return exc.status in (408, 425, 429) or exc.status >= 500
    if isinstance(exc, ProviderError):
        return exc.retryable
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryPolicy:
    """How ``stream_chat(recover=...)`` recovers a stream that broke after its first chunk.

    - ``mode``: ``"resume"`` (exact resumption only: OpenAI Responses background mode) or
      ``"continue"`` (also continuation by prefill where the provider supports a prefix).
      ``stream_chat`` refuses a mode the provider cannot do (``ConfigurationError``).
    - ``max_attempts``: reopen attempts in a row that may fail before giving up; the count
      starts again once a reopened leg delivers a chunk.
    - ``should_recover(exc)``: which failures count (default ``default_recoverable``).
    - ``initial_delay`` / ``max_delay``: the wait before reopen attempt ``k`` is
      ``min(max_delay, initial_delay * 2 ** (k - 1))`` seconds (cut short by ``cancel()``).
    - ``markers``: deliver a ``Recovered`` chunk where each recovery happened (off by default, so
      a plain loop sees exactly the chunks of an uninterrupted stream).
    - ``on_recover(marker)``: called with the ``Recovered`` marker after each recovery, whether
      or not markers are delivered.
    - ``store``: a directory (or ``RecoveryStore``) where the state of a broken stream is kept,
      one small JSON file per stream, so ``sansstream.recover(recovery_id, store=...)`` can pick
      it up in a later process; removed when the stream completes. ``ttl``: seconds it is kept.
    - ``prefix_completion``: the ``openai`` provider has no standard prefix; set this when the
      server does DeepSeek-style prefix completion (``prefix: true``; DeepSeek needs
      ``base_url="https://api.deepseek.com/beta"``).
    - ``cancel_on_close``: cancel a background response (``POST .../cancel``) when the stream is
      cancelled or closed before its end, and when recovery gives up without a store.
    """

    mode: Mode = "resume"
    max_attempts: int = 3
    should_recover: Callable[[BaseException], bool] = field(default=default_recoverable, compare=False)
    initial_delay: float = 0.25
    max_delay: float = 4.0
    markers: bool = False
    on_recover: Callable[[Recovered], object] | None = field(default=None, compare=False)
    store: str | os.PathLike[str] | RecoveryStore | None = None
    ttl: float = DEFAULT_TTL
    prefix_completion: bool = False
    cancel_on_close: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("resume", "continue"):
            raise ConfigurationError(f"RecoveryPolicy.mode must be 'resume' or 'continue', not {self.mode!r}")
        if self.max_attempts < 1:
            raise ConfigurationError(f"RecoveryPolicy.max_attempts must be >= 1, not {self.max_attempts}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("RecoveryPolicy delays must be >= 0 seconds")

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))

    def the_store(self) -> RecoveryStore | None:
        if self.store is None or isinstance(self.store, RecoveryStore):
            return self.store
        return RecoveryStore(self.store, ttl=self.ttl)


def coerce_policy(
    value: Any, on_recover: Callable[[Recovered], object] | None = None
) -> RecoveryPolicy | None:
    """``recover=`` as given to ``stream_chat``: ``None``/``False``/``"off"`` (no recovery),
    ``"resume"``, ``"continue"`` or a ``RecoveryPolicy``."""
    if value is None or value is False or value == "off":
        if on_recover is not None:
            raise ConfigurationError("on_recover= needs recover= ('resume', 'continue' or a RecoveryPolicy)")
        return None
    if isinstance(value, str):
        if value not in ("resume", "continue"):
            raise ConfigurationError(
                f"recover= must be 'off', 'resume', 'continue' or a RecoveryPolicy, not {value!r}"
            )
        policy = RecoveryPolicy(mode=value)  # type: ignore[arg-type]
    elif isinstance(value, RecoveryPolicy):
        policy = value
    else:
        raise ConfigurationError(
            f"recover= must be 'off', 'resume', 'continue' or a RecoveryPolicy, not {type(value).__name__}"
        )
    if on_recover is not None:
        import dataclasses

        policy = dataclasses.replace(policy, on_recover=on_recover)
    return policy


def make_recovery(
    recover: Any, on_recover: Callable[[Recovered], object] | None, provider: Provider, request: HTTPRequest
) -> StreamRecovery | None:
    """``stream_chat``'s part: the policy checked against the provider (``ConfigurationError``
    before anything is sent), or ``None`` when recovery is off."""
    policy = coerce_policy(recover, on_recover)
    if policy is None:
        return None
    mode = _check_supported(provider, request, policy)
    return StreamRecovery(policy, provider, request, mode)


def recovery_modes(provider: str | Provider) -> tuple[Mode, ...]:
    """The recovery modes a provider can support (some need options: background mode for
    Responses, Claude models on Bedrock, ``prefix_completion`` for OpenAI-compatible servers)."""
    from ..providers import get

    style = _style(get(provider))
    if style == _RESPONSES:
        return ("resume",)
    if style in _PREFILL_PROVIDERS:
        return ("continue",)
    return ()


def _style(provider: Provider) -> str | None:
    """The wire family recovery speaks to: hosted variants and presets share their family's
    resume endpoint or prefix shape (``vertex-anthropic`` prefills like ``anthropic``,
    ``azure-responses`` resumes like ``openai-responses``, the presets prefix like ``openai``)."""
    from ..providers.anthropic import AnthropicProvider
    from ..providers.bedrock import BedrockProvider
    from ..providers.gemini import GeminiProvider
    from ..providers.mistral import MistralProvider
    from ..providers.ollama import OllamaProvider
    from ..providers.openai import OpenAIProvider
    from ..providers.openai_responses import OpenAIResponsesProvider

    families: tuple[tuple[type[Provider], str], ...] = (
        (OpenAIResponsesProvider, _RESPONSES),
        (AnthropicProvider, "anthropic"),
        (BedrockProvider, "bedrock"),
        (MistralProvider, "mistral"),  # (before OpenAIProvider, its base class)
        (OpenAIProvider, "openai"),
        (OllamaProvider, "ollama"),
        (GeminiProvider, "gemini"),
    )
    for cls, style in families:
        if isinstance(provider, cls):
            return style
    return provider.name if provider.name in (_RESPONSES, *_PREFILL_PROVIDERS) else None


def _body_of(request: HTTPRequest) -> dict[str, Any]:
    try:
        body = request.json_body()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _check_supported(provider: Provider, request: HTTPRequest, policy: RecoveryPolicy) -> Mode:
    """The mode this stream will use, or ``ConfigurationError`` (nothing was sent) saying why
    the provider cannot do what the policy asks."""
    name = provider.name
    style = _style(provider)
    body = _body_of(request)
    if style == _RESPONSES:
        if body.get("background") is not True or body.get("store") is False:
            raise ConfigurationError(
                f"recover= with {name} resumes a background response: pass background=True "
                "(and leave store on) to stream_chat. A foreground Responses stream cannot be "
                "reopened (the server stops generating when the connection drops). Nothing was sent."
            )
        return "resume"
    if style in _PREFILL_PROVIDERS:
        if policy.mode != "continue":
            raise ConfigurationError(
                f"{name} offers no exact stream resumption; recover='continue' re-sends the request "
                "with the text delivered so far as the assistant's prefix (opt-in, because the "
                "continuation is a new generation). Nothing was sent."
            )
        if name == "deepseek" and "/beta" not in urlsplit(request.url).path:
            raise ConfigurationError(
                "DeepSeek serves prefix completion under its beta endpoint: pass "
                "base_url='https://api.deepseek.com/beta' with recover='continue'. Nothing was sent."
            )
        if style == "openai" and name != "deepseek" and not policy.prefix_completion:
            raise ConfigurationError(
                f"the {name} provider has no standard assistant prefix; if the server does "
                "DeepSeek-style prefix completion (prefix: true), pass "
                "recover=RecoveryPolicy(mode='continue', prefix_completion=True). Nothing was sent."
            )
        if style == "bedrock" and not _is_claude_url(request.url):
            raise ConfigurationError(
                "recover='continue' with bedrock needs a Claude model (a final assistant message is "
                "continued by Anthropic models; other Converse models do not promise it). Nothing was sent."
            )
        if style == "ollama" and not urlsplit(request.url).path.endswith("/api/chat"):
            raise ConfigurationError(
                "recover='continue' with ollama needs /api/chat (a final assistant message is the "
                "prefix); /api/generate has no messages. Nothing was sent."
            )
        return "continue"
    raise ConfigurationError(
        f"{name} supports no stream recovery: there is no way to resume its stream and no "
        "assistant prefix to continue from. Leave recover= off. Nothing was sent."
    )


def _is_claude_url(url: str) -> bool:
    from urllib.parse import unquote

    path = unquote(urlsplit(url).path).lower()
    return "anthropic" in path or "claude" in path


# ----------------------------------------------------------------------------------------------
# what was delivered (pre-transform: the prefix goes back to the model, not the caller's view)


class _Delivered:
    """The model's output so far, as far as recovery needs it."""

    def __init__(self) -> None:
        self.text: list[str] = []  # choice 0 answer text
        self.open_tools: dict[int, str] = {}  # index -> name, started and not ended
        self.tools_done = 0
        self.reasoning = False
        self.in_reasoning = False  # the last output chunk was reasoning without its signature
        self.refusal = False
        self.other_choice = False
        self.content = False  # any output at all
        self.finished: str | None = None  # choice 0's finish reason, once delivered

    def observe(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            if isinstance(chunk, TextDelta):
                if chunk.choice:
                    self.other_choice = True
                elif chunk.text:
                    self.text.append(chunk.text)
                    self.content = True
                    self.in_reasoning = False
            elif isinstance(chunk, ReasoningDelta):
                self.reasoning = self.content = True
                self.in_reasoning = chunk.signature is None and not chunk.redacted
            elif isinstance(chunk, ToolCallStart):
                self.open_tools[chunk.index] = chunk.name
                self.content = True
                self.in_reasoning = False
            elif isinstance(chunk, ToolCallDelta):
                self.content = True
            elif isinstance(chunk, ToolCallEnd):
                self.open_tools.pop(chunk.index, None)
                self.tools_done += 1
                self.content = True
                self.in_reasoning = False
            elif isinstance(chunk, RefusalDelta):
                self.refusal = self.content = True
            elif isinstance(chunk, Finish) and chunk.choice == 0:
                self.finished = chunk.reason

    def joined(self) -> str:
        if len(self.text) > 1:
            self.text[:] = ["".join(self.text)]
        return self.text[0] if self.text else ""


# ----------------------------------------------------------------------------------------------
# decoders: one wrapper per mode, in front of the provider's own decoder


class _Wrapper(Decoder):
    """A decoder in front of the provider's own: its state (complete, terminated, keepalives)
    is the inner decoder's."""

    def __init__(self, owner: StreamRecovery, inner: Decoder) -> None:
        self.provider = inner.provider
        self._owner = owner
        self._inner = inner

    @property
    def complete(self) -> bool:
        return self._inner.complete

    @property
    def terminated(self) -> bool:
        return self._inner.terminated

    def is_keepalive(self, event: WireEvent) -> bool:
        return self._inner.is_keepalive(event)


class _SequencedDecoder(_Wrapper):
    """OpenAI Responses, all legs: drops events whose ``sequence_number`` was already seen,
    notes the response id, and keeps the state (one inner decoder) across reconnections."""

    def decode(self, event: WireEvent) -> list[Chunk]:
        if not isinstance(event, ServerSentEvent):
            return self._seen(self._inner.decode(event))
        data = event.data
        if not data.strip() or data.startswith("[DONE]"):
            return self._seen(self._inner.decode(event))
        try:
            obj = json.loads(data)
        except ValueError:
            return self._seen(self._inner.decode(event))  # the decoder reports bad JSON its way
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            return self._seen(self._inner.decode(event))
        owner = self._owner
        seq = obj.get("sequence_number")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if owner.last_sequence is not None and seq <= owner.last_sequence:
                return []  # delivered before the cut: the server replays from `starting_after`
            owner.last_sequence = seq
        owner.note_event(obj)
        return self._seen(self._inner.decode(JSONValue(obj)))

    def finish(self) -> list[Chunk]:
        if not self._inner.complete and self._owner.strict:
            return []  # a cut leg: the next one carries on (or the error reports the partial)
        return self._seen(self._inner.finish())

    def _seen(self, chunks: list[Chunk]) -> list[Chunk]:
        if chunks:
            self._owner.delivered.observe(chunks)
        if self._inner.complete:
            self._owner.completed()
        return chunks


class _ContinuationDecoder(_Wrapper):
    """A leg of a prefill continuation (or the first leg of a continue-mode stream): observes
    the output; in a continuation, drops the new ``ResponseStart`` (the caller already had one)
    and trims from the first text the whitespace held back from the prefix (Anthropic refuses a
    prefix ending in whitespace, so it is sent without it and the model usually writes it again)."""

    def __init__(self, owner: StreamRecovery, inner: Decoder, *, continuation: bool, withheld: str) -> None:
        super().__init__(owner, inner)
        self._continuation = continuation
        self._withheld = withheld

    def decode(self, event: WireEvent) -> list[Chunk]:
        return self._filter(self._inner.decode(event))

    def finish(self) -> list[Chunk]:
        if not self._inner.complete and self._owner.strict:
            return []  # a cut leg (see _SequencedDecoder.finish)
        return self._filter(self._inner.finish())

    def _filter(self, chunks: list[Chunk]) -> list[Chunk]:
        if self._continuation and chunks:
            out: list[Chunk] = []
            for chunk in chunks:
                if isinstance(chunk, ResponseStart):
                    continue
                kept: Chunk = chunk
                if self._withheld:
                    if isinstance(chunk, TextDelta) and chunk.choice == 0:
                        text, withheld = chunk.text, self._withheld
                        n = 0
                        while n < len(text) and n < len(withheld) and text[n] == withheld[n]:
                            n += 1
                        if n == len(text):
                            self._withheld = withheld[n:]
                            continue
                        self._withheld = ""
                        kept = TextDelta(text[n:], chunk.choice, raw=chunk.raw)
                    elif not isinstance(chunk, Usage):
                        self._withheld = ""
                out.append(kept)
            chunks = out
        if chunks:
            self._owner.delivered.observe(chunks)
        if self._inner.complete:
            self._owner.completed()
        return chunks


class _RecoveringProvider(Provider):
    """The stream's provider, except that ``decoder()`` gives the recovery wrapper."""

    def __init__(self, owner: StreamRecovery, real: Provider) -> None:
        self._owner = owner
        self._real = real
        self.name = real.name
        self.framing = real.framing
        self.default_base_url = real.default_base_url
        self.api_key_env = real.api_key_env
        self.base_url_env = real.base_url_env
        self.content_types = real.content_types
        self.terminal_marker = real.terminal_marker

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
        return self._real.build_request(
            model=model, messages=messages, tools=tools, api_key=api_key, base_url=base_url, **options
        )

    def decoder(self) -> Decoder:
        return self._owner.make_decoder()

    def parser_options(self) -> dict[str, Any]:
        return self._real.parser_options()

    def framing_for(self, content_type: str | None) -> Framing:
        return self._real.framing_for(content_type)

    def sign(self, request: HTTPRequest, *, env: Mapping[str, str], now: datetime.datetime) -> HTTPRequest:
        return self._real.sign(request, env=env, now=now)


# ----------------------------------------------------------------------------------------------
# requests: the resume GET and the prefill POST


def _responses_base(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/responses"):
        path = path[: -len("/responses")]
    return urlunsplit(parts._replace(path=path, query="", fragment=""))


def _responses_url(original: str, tail: str, query: str = "") -> str:
    """``{base}/responses/{tail}``, keeping the original URL's query (Azure's ``api-version``)
    in front of ``query``."""
    kept = urlsplit(original).query
    joined = "&".join(q for q in (kept, query) if q)
    return f"{_responses_base(original)}/responses/{tail}" + (f"?{joined}" if joined else "")


def _auth_headers(request: HTTPRequest) -> dict[str, str]:
    skip = {"content-type", "content-length"}
    return {k: v for k, v in request.headers.items() if k.lower() not in skip}


def _resume_request(original: HTTPRequest, response_id: str, after: int | None) -> HTTPRequest:
    from urllib.parse import quote

    query = "stream=true" if after is None else f"stream=true&starting_after={after}"
    url = _responses_url(original.url, quote(response_id, safe=""), query)
    return HTTPRequest("GET", url, _auth_headers(original), None)


def _cancel_request(original: HTTPRequest, response_id: str) -> HTTPRequest:
    from urllib.parse import quote

    url = _responses_url(original.url, f"{quote(response_id, safe='')}/cancel")
    return HTTPRequest("POST", url, _auth_headers(original), None)


def _text_of(content: Any) -> str | None:
    """The text of an assistant message's content (a string or text blocks), else None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(b, Mapping) and "text" in b for b in content):
        return "".join(str(b.get("text") or "") for b in content)
    return None


def _reasoning_enabled(provider: str, body: Mapping[str, Any]) -> bool:
    if provider == "anthropic":
        thinking = body.get("thinking")
        return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")
    if provider == "bedrock":
        extra = body.get("additionalModelRequestFields")
        if isinstance(extra, Mapping):
            thinking = extra.get("thinking")
            if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
                return True
            return bool(extra.get("reasoning_config") or extra.get("reasoningConfig"))
    return False


def _prefill_body(provider: str, body: dict[str, Any], delivered: str) -> tuple[dict[str, Any], str]:
    """The request body with ``delivered`` as the assistant's prefix, and the whitespace held
    back from it (to trim from the continuation). A prefix the caller gave (a final assistant
    message) is kept in front of the delivered text."""
    body = json.loads(json.dumps(body))  # a deep copy; the original request stays as built
    key = "contents" if provider == "gemini" else "messages"
    turns = body.get(key)
    if not isinstance(turns, list):
        raise _Refusal(f"the {provider} request has no {key} list to add a prefix to")
    assistant = "model" if provider == "gemini" else "assistant"
    given = ""
    if turns and isinstance(turns[-1], Mapping) and turns[-1].get("role") == assistant:
        last = turns.pop()
        content = last.get("parts") if provider == "gemini" else last.get("content")
        text = _text_of(content)
        if text is None or (provider == "bedrock" and not isinstance(content, list)):
            raise _Refusal("the request already ends with an assistant turn that is not plain text")
        given = text
    prefix = given + delivered
    withheld = ""
    if provider in _NO_TRAILING_SPACE:
        stripped = prefix.rstrip()
        withheld = prefix[len(stripped) :]
        prefix = stripped
    if not prefix:
        return body if not given else _with_turn(provider, body, turns, given), withheld
    return _with_turn(provider, body, turns, prefix), withheld


def _with_turn(provider: str, body: dict[str, Any], turns: list[Any], prefix: str) -> dict[str, Any]:
    if provider == "gemini":
        turns.append({"role": "model", "parts": [{"text": prefix}]})
        body["contents"] = turns
    elif provider == "bedrock":
        turns.append({"role": "assistant", "content": [{"text": prefix}]})
        body["messages"] = turns
    elif provider in ("mistral", "openai"):
        turns.append({"role": "assistant", "content": prefix, "prefix": True})
        body["messages"] = turns
    else:  # anthropic, ollama
        turns.append({"role": "assistant", "content": prefix})
        body["messages"] = turns
    return body


class _Refusal(Exception):
    """Internal: continuation is not possible; the message says why."""


# ----------------------------------------------------------------------------------------------
# the per-stream state


class StreamRecovery:
    """The recovery state of one stream (made by ``stream_chat(recover=...)`` or ``recover()``)."""

    def __init__(self, policy: RecoveryPolicy, provider: Provider, request: HTTPRequest, mode: Mode) -> None:
        self.policy = policy
        self.mode: Mode = mode
        self.real_provider = provider
        self.style = _style(provider) or provider.name
        self.provider: Provider = _RecoveringProvider(self, provider)
        self.original = request  # the request as built (keys in its headers: never stored)
        self.id: str | None = None
        self.store = policy.the_store()
        self.delivered = _Delivered()
        self.recoveries = 0
        self.failed_in_a_row = 0
        self.chunks_at_last_failure = -1
        # resume mode
        self.response_id: str | None = None
        self.last_sequence: int | None = None
        self.structure: list[dict[str, Any]] = []  # function-call item events, to rebuild state
        self._decoder: _SequencedDecoder | None = None
        self.resuming = False  # the next decoder() continues the stream (not a fresh retry)
        # continue mode
        self.continuing = False
        self.withheld = ""
        self.is_complete = False
        self.saved = False
        self.strict = True  # the stream's: without it, an end without the marker is accepted
        self._cancel_sent = False

    # -- wiring --------------------------------------------------------------------------------

    def attach(self, stream: ChatStream) -> None:
        if self.id is None:
            self.id = stream.id
        self.strict = stream.strict

    def make_decoder(self) -> Decoder:
        inner = self.real_provider.decoder()
        if self.mode == "resume":
            if not self.resuming:  # the request itself is (re)sent: a new response
                self.response_id = self.last_sequence = None
                self.structure = []
                self.delivered = _Delivered()
                self._decoder = _SequencedDecoder(self, inner)
            elif self._decoder is None:
                # Picked up from a store: the provider decoder is rebuilt from the events that
                # shape its state (started; function calls and their numbering); their chunks
                # were delivered by the earlier process.
                self._decoder = _SequencedDecoder(self, inner)
                inner.decode(JSONValue({"type": "response.created", "response": {"id": self.response_id}}))
                for obj in self.structure:
                    inner.decode(JSONValue(obj))
            return self._decoder
        return _ContinuationDecoder(self, inner, continuation=self.continuing, withheld=self.withheld)

    def note_event(self, obj: Mapping[str, Any]) -> None:
        kind = obj.get("type")
        if kind in ("response.created", "response.queued", "response.in_progress"):
            response = obj.get("response")
            if isinstance(response, Mapping) and isinstance(response.get("id"), str) and response["id"]:
                self.response_id = response["id"]
        elif kind in ("response.output_item.added", "response.output_item.done"):
            item = obj.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                entry = {"type": kind, "item": dict(item), "output_index": obj.get("output_index")}
                self.structure.append(entry)

    def completed(self) -> None:
        if self.is_complete:
            return
        self.is_complete = True
        if self.store is not None and self.id is not None and self.saved:
            self.store.delete(self.id)

    # -- the decision --------------------------------------------------------------------------

    def _refusal(self) -> str | None:
        """Why continuing by prefill would not be exact, or None."""
        d = self.delivered
        name = self.real_provider.name
        style = self.style
        if d.open_tools:
            index, tool = next(iter(d.open_tools.items()))
            return (
                f"the cut fell inside the arguments of tool call #{index} ({tool or 'unnamed'}); "
                "a prefix cannot make the model finish half-written arguments exactly"
            )
        if d.in_reasoning and style in _SIGNED_REASONING:
            return (
                f"the cut fell inside a reasoning block, which {name} signs as a whole; a half block "
                "can neither be sent back nor continued"
            )
        if d.reasoning:
            return (
                "the answer already holds reasoning, and a prefix carries answer text only: the "
                "model would reason again and the continuation would not follow what was delivered"
            )
        if d.tools_done:
            return "the answer already holds a complete tool call, which a text prefix cannot carry"
        if d.refusal:
            return "the answer is a refusal, which a prefix cannot carry"
        if d.other_choice:
            return "the stream has several choices; a prefix can continue one answer only"
        if d.finished is not None:
            return (
                f"the answer had already finished (finish reason {d.finished!r}) and only the end of "
                "the stream was lost; a continuation would start a new answer (strict=False accepts "
                "a stream without its end marker)"
            )
        if d.text and _reasoning_enabled(style, _body_of(self.original)):
            return (
                f"{name} rejects an assistant prefill while extended thinking is enabled "
                "(https://docs.claude.com/en/docs/prefill-claudes-response)"
            )
        return None

    def next_request(self) -> HTTPRequest:
        """The request that carries the stream on (raises ``_Refusal``)."""
        if self.mode == "resume":
            if self.response_id is None:
                raise _Refusal("no response id was received before the cut, so there is nothing to reopen")
            return _resume_request(self.original, self.response_id, self.last_sequence)
        why = self._refusal()
        if why is not None:
            raise _Refusal(why)
        body, withheld = _prefill_body(self.style, _body_of(self.original), self.delivered.joined())
        self.withheld = withheld
        payload = dumps_wire(body).encode("utf-8")
        return HTTPRequest(self.original.method, self.original.url, dict(self.original.headers), payload)

    # -- the hook ------------------------------------------------------------------------------

    def handle(self, stream: ChatStream, exc: SansStreamError) -> Iterator[Chunk]:
        """Called by the engine when a leg failed after chunks came out: reopens the stream
        (yielding a ``Recovered`` marker if asked) or raises the error that ends it."""
        from ._stream import _Cancelled

        if stream._mode == "raw" or not self.policy.should_recover(exc):
            raise exc
        if self.mode == "resume" and isinstance(exc, ProviderError):
            raise exc  # the response itself failed: reopening it would replay the failure
        first = exc
        t0 = stream._clock()
        chunks_now = stream._recorder.snapshot().chunks
        if chunks_now > self.chunks_at_last_failure:
            self.failed_in_a_row = 0  # the last leg delivered: a fresh budget
        self.chunks_at_last_failure = chunks_now
        self.save(stream, exc)
        while True:
            try:
                request = self.next_request()
            except _Refusal as why:
                self._give_up(stream, first, str(why), keep=False)
            if self.failed_in_a_row >= self.policy.max_attempts:
                self._give_up(
                    stream, first, f"{self.failed_in_a_row} reopen attempt(s) failed (last: {_short(exc)})"
                )
            self.failed_in_a_row += 1
            wait = self.policy.delay(self.failed_in_a_row)
            stream._drop_response()
            if wait > 0 and stream._cancel_event.wait(wait):
                raise _Cancelled
            if stream.cancelled:
                raise _Cancelled
            stream._request = request
            stream._attempts = 0  # each reopen has the stream's own retry budget
            if self.mode == "resume":
                self.resuming = True
            else:
                self.continuing = True
            try:
                stream._open_with_retry()
            except _Cancelled:
                raise
            except SansStreamError as again:
                if stream.cancelled:
                    raise _Cancelled from None
                if not self.policy.should_recover(again):
                    self._give_up(stream, first, _reopen_failure(self, again))
                exc = again
                continue
            break
        self.recoveries += 1
        stream._recorder.recovered(stream._clock() - t0)
        marker = Recovered(
            mode=self.mode,
            attempt=self.recoveries,
            reason=_short(first),
            recovery_id=self.id,
            after=self.last_sequence if self.mode == "resume" else None,
            prefix_chars=len(self.delivered.joined()) if self.mode == "continue" else 0,
        )
        if self.policy.on_recover is not None:
            self.policy.on_recover(marker)
        if self.policy.markers:
            chunk = stream._apply_hooks(marker)
            if chunk is not None:
                yield chunk

    def _give_up(self, stream: ChatStream, first: SansStreamError, why: str, *, keep: bool = True) -> Any:
        where = ""
        if self.saved and self.store is not None and self.id is not None and not keep:
            self.store.delete(self.id)  # refused: a later process could not do better
            self.saved = False
        if self.saved and self.store is not None:
            where = (
                f" Its state is kept in {self.store.directory}: sansstream.recover({self.id!r}, "
                "store=...) tries again later."
            )
        elif self.mode == "resume" and self.policy.cancel_on_close:
            self.cancel_background(stream)
        error = IncompleteStreamError(
            f"the {self.real_provider.name} stream broke ({_short(first)}) and was not recovered: "
            f"{why}. `partial` holds everything delivered (recovery id {self.id}).{where}",
            partial=stream.snapshot(),
            provider=self.real_provider.name,
        )
        raise error from first

    def cancel_background(self, stream: ChatStream) -> None:
        """Best effort ``POST .../cancel`` of the background response (resume mode)."""
        if self.mode != "resume" or self.response_id is None or self.is_complete or self._cancel_sent:
            return
        self._cancel_sent = True  # once
        request = self.real_provider.sign(
            _cancel_request(self.original, self.response_id),
            env=stream._env,
            now=datetime.datetime.now(datetime.timezone.utc),
        )
        try:
            response = stream._transport.open(request, connect_timeout=5.0, first_byte_timeout=5.0)
            response.close()
        except Exception:  # cancelling is a courtesy to the caller's bill; never fail on it
            pass

    # -- the store -----------------------------------------------------------------------------

    def record(self, stream: ChatStream, exc: BaseException | None) -> dict[str, Any]:
        from ..model import chunk_to_dict
        from ..transports import redact_url

        partial = stream.snapshot()
        return {
            "version": 1,
            "recovery_id": self.id,
            "provider": self.real_provider.name,
            "mode": self.mode,
            "created_at": time.time(),
            "error": None if exc is None else _short(exc),
            "request": {
                "method": self.original.method,
                "url": redact_url(self.original.url),
                "headers": {
                    k: v for k, v in self.original.headers.items() if k.lower() not in SECRET_HEADERS
                },
                "body": _body_of(self.original),
            },
            "resume": {
                "response_id": self.response_id,
                "after": self.last_sequence,
                "structure": self.structure,
            },
            "delivered": {
                "text": self.delivered.joined(),
                "open_tools": {str(k): v for k, v in self.delivered.open_tools.items()},
                "tools_done": self.delivered.tools_done,
                "reasoning": self.delivered.reasoning,
                "in_reasoning": self.delivered.in_reasoning,
                "refusal": self.delivered.refusal,
                "other_choice": self.delivered.other_choice,
                "finished": self.delivered.finished,
            },
            "partial": [chunk_to_dict(c) for c in _seed_chunks(partial)],
        }

    def save(self, stream: ChatStream, exc: BaseException | None) -> None:
        if self.store is None or self.id is None:
            return
        from ..transports import secret_values

        original = self.original
        secrets = secret_values(original.headers, original.url, extra_headers=("cookie",))
        self.store.save(self.record(stream, exc), secrets=secrets)
        self.saved = True


def _short(exc: BaseException) -> str:
    text = str(exc).split("; `partial`")[0]
    return f"{type(exc).__name__}: {text}" if len(text) <= 300 else f"{type(exc).__name__}: {text[:297]}..."


def _reopen_failure(recovery: StreamRecovery, exc: SansStreamError) -> str:
    if recovery.mode == "resume" and isinstance(exc, HTTPStatusError) and exc.status == 404:
        return (
            f"the server no longer knows response {recovery.response_id} (404: expired, or not a "
            "background response)"
        )
    if recovery.mode == "continue" and isinstance(exc, HTTPStatusError) and exc.status in (400, 422):
        return f"the provider rejected the prefixed request ({_short(exc)})"
    return f"reopening failed ({_short(exc)})"


# ----------------------------------------------------------------------------------------------
# partial results as chunks (to carry them through a store file)


def _seed_chunks(result: ChatResult) -> list[Chunk]:
    """Chunks that fold (``Accumulator``) into ``result``'s content."""
    out: list[Chunk] = []
    if result.id or result.model:
        out.append(ResponseStart(id=result.id, model=result.model))
    for choice in result.choices:
        c = choice.index
        for number, block in enumerate(choice.reasoning_blocks):
            out.append(
                ReasoningDelta(
                    text=block.text,
                    choice=c,
                    redacted=block.redacted,
                    signature=block.signature,
                    data=block.data,
                    block=number,
                )
            )
        if choice.text:
            out.append(TextDelta(choice.text, c))
        if choice.refusal:
            out.append(RefusalDelta(choice.refusal, c))
        for call in choice.tool_calls:
            out.append(ToolCallStart(index=call.index, id=call.id, name=call.name, choice=c, kind=call.kind))
            if call.arguments:
                out.append(ToolCallDelta(index=call.index, arguments=call.arguments, choice=c))
        if choice.finish_reason:
            out.append(Finish(reason=choice.finish_reason, raw_reason=choice.raw_finish_reason, choice=c))
    if result.usage is not None:
        u = result.usage
        out.append(
            Usage(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                total_tokens=u.total_tokens,
                reasoning_tokens=u.reasoning_tokens,
                cached_tokens=u.cached_tokens,
            )
        )
    if result.done:
        out.append(Done())
    return out


_CHUNK_TYPES: dict[str, Any] = {
    "start": ResponseStart,
    "content": TextDelta,
    "thinking": ReasoningDelta,
    "refusal": RefusalDelta,
    "tool_start": ToolCallStart,
    "tool_delta": ToolCallDelta,
    "finish": Finish,
    "usage": Usage,
    "done": Done,
}


def _chunk_from_dict(data: Mapping[str, Any]) -> Chunk:
    cls = _CHUNK_TYPES.get(str(data.get("type")))
    if cls is None:
        raise ValueError(f"unknown chunk type {data.get('type')!r}")
    fields = {k: v for k, v in data.items() if k != "type"}
    if cls is TextDelta:
        return TextDelta(fields["text"], fields.get("choice", 0))
    if cls is RefusalDelta:
        return RefusalDelta(fields["text"], fields.get("choice", 0))
    return cls(**fields)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------------
# later, by id


@dataclass(frozen=True, slots=True)
class RecoveryRecord:
    """A stored recovery state: what was delivered (``partial``) and what is needed to continue."""

    recovery_id: str
    provider: str
    mode: Mode
    partial: ChatResult
    error: str | None
    expires_at: float
    response_id: str | None = None
    after: int | None = None
    refusal: str | None = None
    """Why continuing would not be exact (then ``recover()`` raises with this reason)."""


def _load(
    recovery_id: str, store: str | os.PathLike[str] | RecoveryStore
) -> tuple[RecoveryStore, dict[str, Any]]:
    the_store = store if isinstance(store, RecoveryStore) else RecoveryStore(store)
    data = the_store.load(recovery_id)
    if data.get("version") != 1 or data.get("mode") not in ("resume", "continue"):
        raise RecoveryNotFoundError(
            f"the recovery state for {recovery_id} was written by another sansstream version; "
            "it cannot be used",
            recovery_id=recovery_id,
        )
    return the_store, data


def _restore(data: Mapping[str, Any], recovery: StreamRecovery) -> None:
    resume = data.get("resume") or {}
    recovery.response_id = resume.get("response_id")
    recovery.last_sequence = resume.get("after")
    recovery.structure = list(resume.get("structure") or [])
    d = data.get("delivered") or {}
    recovery.delivered.text = [str(d.get("text") or "")] if d.get("text") else []
    recovery.delivered.open_tools = {int(k): str(v) for k, v in (d.get("open_tools") or {}).items()}
    recovery.delivered.tools_done = int(d.get("tools_done") or 0)
    recovery.delivered.reasoning = bool(d.get("reasoning"))
    recovery.delivered.in_reasoning = bool(d.get("in_reasoning"))
    recovery.delivered.refusal = bool(d.get("refusal"))
    recovery.delivered.other_choice = bool(d.get("other_choice"))
    finished = d.get("finished")
    recovery.delivered.finished = finished if isinstance(finished, str) else None
    recovery.delivered.content = True


def _partial_of(data: Mapping[str, Any]) -> tuple[list[Chunk], ChatResult]:
    from ..model import Accumulator

    chunks = [_chunk_from_dict(c) for c in data.get("partial") or []]
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return chunks, acc.result()


def load_recovery(recovery_id: str, *, store: str | os.PathLike[str] | RecoveryStore) -> RecoveryRecord:
    """Read a stored recovery state without sending anything: the partial result and how the
    stream would be carried on. ``RecoveryNotFoundError`` if unknown or expired."""
    _, data = _load(recovery_id, store)
    _, partial = _partial_of(data)
    probe = StreamRecovery(
        RecoveryPolicy(mode=data["mode"]), _provider(data), HTTPRequest("POST", "http://x/"), data["mode"]
    )
    _restore(data, probe)
    refusal = None
    if data["mode"] == "continue":
        refusal = probe._refusal()
    elif probe.response_id is None:
        refusal = "no response id was received before the cut, so there is nothing to reopen"
    resume = data.get("resume") or {}
    return RecoveryRecord(
        recovery_id=recovery_id,
        provider=str(data.get("provider")),
        mode=data["mode"],
        partial=partial,
        error=data.get("error"),
        expires_at=float(data.get("expires_at") or 0.0),
        response_id=resume.get("response_id"),
        after=resume.get("after"),
        refusal=refusal,
    )


def _provider(data: Mapping[str, Any]) -> Provider:
    from ..providers import get

    return get(str(data.get("provider")))


def recover(
    recovery_id: str,
    *,
    store: str | os.PathLike[str] | RecoveryStore,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    transport: Any = "requests",
    policy: RecoveryPolicy | None = None,
    **stream_options: Any,
) -> ChatStream:
    """Pick up a broken stream from its stored state (``stream_chat(recover=RecoveryPolicy(
    store=...))`` kept it) and carry it on: exact resumption or prefill continuation, as the
    stream was set up. Returns a ``ChatStream`` whose ``snapshot()`` is the partial result
    before anything is read, whose iteration yields only what comes after it, and whose
    ``result()`` is partial + continuation. The API key comes from ``api_key`` or the
    provider's usual environment variable (it was never stored). ``RecoveryNotFoundError`` for
    an unknown or expired id; ``IncompleteStreamError`` (with ``partial``) when the stored state
    cannot be continued exactly. Other keyword arguments (``timeout``, ``retry``, hooks) are as
    for ``stream_chat``."""
    from ..transports import get_transport
    from ._stream import ChatStream

    the_store, data = _load(recovery_id, store)
    provider = _provider(data)
    environ: Mapping[str, str] = os.environ if env is None else env
    saved = data["request"]
    headers = dict(saved.get("headers") or {})
    key = api_key if api_key is not None else provider.defaults_from_env(environ).get("api_key")
    if provider.api_key_env and not key:
        raise ConfigurationError(
            f"no API key for provider {provider.name!r} to resume {recovery_id}: set "
            f"{' or '.join(provider.api_key_env)} or pass api_key=... (keys are never stored)"
        )
    if key:
        # The auth headers as the provider builds them (the stored request has none).
        extra: dict[str, Any] = {}
        if _style(provider) == "bedrock":
            extra["region"] = environ.get("AWS_REGION") or "us-east-1"
        probe = provider.build_request(
            model=str(saved["body"].get("model") or "m"),
            messages=[{"role": "user", "content": "x"}],
            api_key=key,
            **extra,
        )
        headers.update({k: v for k, v in probe.headers.items() if k.lower() in SECRET_HEADERS})
    original = HTTPRequest(
        str(saved["method"]), str(saved["url"]), headers, dumps_wire(saved["body"]).encode("utf-8")
    )
    mode: Mode = data["mode"]
    chosen = policy if policy is not None else RecoveryPolicy(mode=mode, store=the_store)
    if chosen.store is None:
        import dataclasses

        chosen = dataclasses.replace(chosen, store=the_store)
    if mode == "continue" and chosen.mode != "continue":
        import dataclasses

        chosen = dataclasses.replace(chosen, mode="continue")
    recovery = StreamRecovery(chosen, provider, original, mode)
    recovery.id = recovery_id
    recovery.saved = True
    _restore(data, recovery)
    seed, partial = _partial_of(data)
    try:
        request = recovery.next_request()
    except _Refusal as why:
        raise IncompleteStreamError(
            f"the stored {provider.name} stream {recovery_id} cannot be carried on: {why}. "
            "`partial` holds what was delivered.",
            partial=partial,
            provider=provider.name,
        ) from None
    if mode == "resume":
        recovery.resuming = True
    else:
        recovery.continuing = True
    owns = isinstance(transport, str) or transport is None
    from ..transports import DEFAULT_TIMEOUTS, Timeouts
    from ._stream import _UNSET, NO_RETRY, RetryPolicy

    timeout = stream_options.pop("timeout", _UNSET)
    retry = stream_options.pop("retry", _UNSET)
    stream = ChatStream(
        provider=provider,
        request=request,
        transport=get_transport(transport),
        owns_transport=owns,
        timeouts=DEFAULT_TIMEOUTS if timeout is _UNSET else Timeouts.coerce(timeout),
        retry=RetryPolicy() if retry is _UNSET else (retry or NO_RETRY),
        env=environ,
        recovery=recovery,
        **stream_options,
    )
    for chunk in seed:
        stream._accumulator.add(chunk)
    return stream
