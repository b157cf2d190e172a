"""Small helpers every provider module shares (decoders and request builders).

Decoding side:

- ``normalize_finish(raw, mapping)``: a provider's finish/stop reason → one of ``FINISH_REASONS``.
- ``ToolCallTracker``: tool calls whose arguments arrive as string fragments. Fragments are
  kept per call as a list and joined once, when the call ends, then parsed once — linear in the
  size of the arguments however finely they are split.
- ``make_usage`` / ``int_or_none``: build a ``Usage`` from whatever counts a provider reports.
- ``provider_error(...)``: an in-band error as a ``StreamError`` chunk (decoders return it; the
  pipeline raises it after the chunks before it were delivered). ``is_retryable`` guesses
  retryability from the error's type/code (overload, rate limit, 5xx-like).
- ``load_json(text, what)``: decode one data line, or a ``RemoteProtocolError`` saying what
  was not JSON.

Request side (the common message format of ``_base.Message`` / ``ToolSpec``):

- ``content_text``, ``arguments_text``, ``arguments_object``, ``tool_function``,
  ``function_spec``, ``tool_declarations``, ``chat_tool_calls``, ``tool_call_id``,
  ``unknown_role``, ``renamed_options``, ``join_url``, ``bearer_headers``, ``bearer_post``,
  ``apply_extra_body``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..model import (
    FINISH_REASONS,
    Chunk,
    JSONValue,
    LocalProtocolError,
    ProviderError,
    RemoteProtocolError,
    ServerSentEvent,
    StreamError,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    loads_json,
    parse_arguments,
)
from ._base import HTTPRequest

__all__ = [
    "normalize_finish",
    "ToolCallTracker",
    "int_or_none",
    "make_usage",
    "is_retryable",
    "provider_error",
    "load_json",
    "content_text",
    "arguments_text",
    "arguments_object",
    "tool_function",
    "function_spec",
    "tool_declarations",
    "chat_tool_calls",
    "tool_call_id",
    "unknown_role",
    "renamed_options",
    "join_url",
    "bearer_headers",
    "bearer_post",
    "apply_extra_body",
    "sniffed",
]

# ---------------------------------------------------------------------------------------------
# Finish reasons


def normalize_finish(raw: str | None, mapping: Mapping[str, str] | None = None) -> str:
    """Map a provider's finish reason to ``stop|length|tool_calls|content_filter|refusal|error|
    other``. ``mapping`` holds the provider's own names; a raw value that already is a normalised
    name maps to itself; anything else (including ``None``) is ``other``."""
    if raw is None:
        return "other"
    if mapping:
        found = mapping.get(raw)
        if found is None:
            found = mapping.get(raw.lower())
        if found is not None:
            return found
    lowered = raw.lower()
    return lowered if lowered in FINISH_REASONS else "other"


# ---------------------------------------------------------------------------------------------
# Tool calls with string-fragment arguments


class _OpenCall:
    __slots__ = ("id", "index", "kind", "name", "parts")

    def __init__(self, index: int, id: str | None, name: str, kind: str) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.kind = kind
        # Fragments are joined once at the end: appending to a str per delta would be quadratic.
        self.parts: list[str] = []


class ToolCallTracker:
    """Open tool calls keyed by ``(choice, index)``.

    ``start`` emits ``ToolCallStart`` the first time a call is seen (later calls only fill in
    a missing id or name: a repeated ``"name": ""`` never erases a known name); ``delta`` stores
    and emits an argument fragment; ``end`` joins the fragments once and emits ``ToolCallEnd``
    with the parsed input; ``end_all`` closes every open call (of one choice, or all), in order.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], _OpenCall] = {}

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._open

    def is_open(self, index: int, choice: int = 0) -> bool:
        return (choice, index) in self._open

    def start(
        self,
        index: int,
        id: str | None,
        name: str | None,
        *,
        choice: int = 0,
        kind: str = "function",
        raw: Any = None,
    ) -> list[Chunk]:
        key = (choice, index)
        call = self._open.get(key)
        if call is not None:
            if id and not call.id:
                call.id = id
            if name and not call.name:
                call.name = name
            return []
        call = self._open[key] = _OpenCall(index, id or None, name or "", kind)
        return [ToolCallStart(index=index, id=call.id, name=call.name, choice=choice, kind=kind, raw=raw)]

    def delta(self, index: int, fragment: str, *, choice: int = 0, raw: Any = None) -> list[Chunk]:
        """An arguments fragment. A fragment for a call never started opens it (no id/name)."""
        out = [] if (choice, index) in self._open else self.start(index, None, None, choice=choice)
        if fragment:
            self._open[(choice, index)].parts.append(fragment)
            out.append(ToolCallDelta(index=index, arguments=fragment, choice=choice, raw=raw))
        return out

    def end(
        self, index: int, *, choice: int = 0, arguments: str | None = None, raw: Any = None
    ) -> list[Chunk]:
        """Close a call. ``arguments`` (the whole text, when the provider repeats it at the end)
        wins over the joined fragments."""
        call = self._open.pop((choice, index), None)
        if call is None:
            return []
        text = arguments if arguments is not None else "".join(call.parts)
        return [
            ToolCallEnd(
                index=index,
                id=call.id,
                name=call.name,
                arguments=text,
                input=parse_arguments(text),
                choice=choice,
                kind=call.kind,
                raw=raw,
            )
        ]

    def end_all(self, *, choice: int | None = None) -> list[Chunk]:
        keys = sorted(k for k in self._open if choice is None or k[0] == choice)
        out: list[Chunk] = []
        for c, i in keys:
            out.extend(self.end(i, choice=c))
        return out

    def whole(
        self,
        index: int,
        id: str | None,
        name: str,
        arguments: str,
        *,
        choice: int = 0,
        kind: str = "function",
        raw: Any = None,
    ) -> list[Chunk]:
        """A call delivered whole in one event: start, one delta, end."""
        out = self.start(index, id, name, choice=choice, kind=kind, raw=raw)
        out.extend(self.delta(index, arguments, choice=choice, raw=raw))
        out.extend(self.end(index, choice=choice, raw=raw))
        return out


# ---------------------------------------------------------------------------------------------
# Usage


def int_or_none(value: Any) -> int | None:
    """An int token count, or ``None`` for anything that is not a (non-bool) integral number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def make_usage(
    raw: Any,
    *,
    input: Any = None,
    output: Any = None,
    total: Any = None,
    reasoning: Any = None,
    cached: Any = None,
) -> Usage:
    """A ``Usage`` chunk; ``total`` defaults to input + output when both are known."""
    inp, out = int_or_none(input), int_or_none(output)
    tot = int_or_none(total)
    if tot is None and inp is not None and out is not None:
        tot = inp + out
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        total_tokens=tot,
        reasoning_tokens=int_or_none(reasoning),
        cached_tokens=int_or_none(cached),
        raw=raw,
    )


# ---------------------------------------------------------------------------------------------
# Errors

_RETRYABLE_WORDS = (
    "overload",
    "rate_limit",
    "rate limit",
    "ratelimit",
    "too_many_requests",
    "throttl",
    "server_error",
    "internal",
    "unavailable",
    "timeout",
    "timed out",
    "try again",
)
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def is_retryable(*values: Any) -> bool:
    """Whether an in-band error is worth retrying, judged from its type/code/status values:
    HTTP-like 408/409/425/429/5xx numbers, or words such as overloaded, rate limit, internal,
    unavailable, timeout."""
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        number: int | None = None
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.isascii() and value.isdigit():
            number = int(value)
        if number is not None:
            if number in _RETRYABLE_STATUS or 500 <= number <= 599:
                return True
            continue
        text = str(value).lower()
        if any(word in text for word in _RETRYABLE_WORDS):
            return True
    return False


def provider_error(
    provider: str,
    message: Any,
    *,
    type: str | None = None,
    code: Any = None,
    retryable: bool | None = None,
    payload: Any = None,
) -> StreamError:
    """An in-band error as a ``StreamError`` chunk. ``retryable`` defaults to
    ``is_retryable(type, code)``."""
    text = message if isinstance(message, str) and message else None
    if text is None:
        text = json.dumps(message, ensure_ascii=False) if message not in (None, "") else "unknown error"
    if code is not None and (isinstance(code, bool) or not isinstance(code, (str, int))):
        code = str(code)
    if retryable is None:
        retryable = is_retryable(type, code)
    error = ProviderError(text, provider=provider, type=type, code=code, retryable=retryable, payload=payload)
    return StreamError(error, raw=payload)


# ---------------------------------------------------------------------------------------------
# JSON


NOT_THIS_PROTOCOL = (
    "; the server does not speak this provider's protocol (check the provider name and base URL)"
)
"""The advice load_json adds to a bad-JSON error mid-stream; the pipeline drops it when the bad
JSON is a last event cut off by the end of the input (that is truncation, not a wrong protocol)."""


def load_json(text: str | bytes, what: str) -> Any:
    """``json.loads`` with a ``RemoteProtocolError`` naming what was not JSON."""
    try:
        return loads_json(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to parse
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        excerpt = shown if len(shown) <= 80 else shown[:77] + "..."
        raise RemoteProtocolError(
            f"{what} is not valid JSON ({exc}): {excerpt!r}{NOT_THIS_PROTOCOL}"
        ) from None


# ---------------------------------------------------------------------------------------------
# Request building (common message format → wire shapes)


def content_text(content: Any) -> str:
    """The text of a common-format ``content``: a string, ``None``, or a list of
    ``{"type": "text", "text": ...}`` parts (other parts are refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise LocalProtocolError(
                    f"message content part {part!r} is not text; pass provider-specific parts "
                    "through extra_body or the provider's own client"
                )
        return "".join(texts)
    raise LocalProtocolError(f"message content must be a string or a list of text parts, not {content!r}")


def arguments_text(arguments: Any) -> str:
    """Tool-call arguments as a JSON string (dicts are serialised; strings are kept)."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))


def arguments_object(arguments: Any) -> Any:
    """Tool-call arguments as a JSON value (strings are parsed; invalid JSON is refused)."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        try:
            return json.loads(arguments)
        except (ValueError, RecursionError):
            raise LocalProtocolError(f"tool-call arguments are not valid JSON: {arguments[:80]!r}") from None
    return arguments


def tool_function(spec: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    """``(name, description, parameters)`` of a common-format tool; the OpenAI form
    ``{"type": "function", "function": {...}}`` is accepted too."""
    inner = spec.get("function") if spec.get("type") == "function" and "function" in spec else spec
    if not isinstance(inner, Mapping) or not isinstance(inner.get("name"), str) or not inner["name"]:
        raise LocalProtocolError(f"a tool needs a non-empty 'name': {dict(spec)!r}")
    params = inner.get("parameters") or inner.get("input_schema") or {"type": "object", "properties": {}}
    description = inner.get("description")
    return inner["name"], description if isinstance(description, str) else None, dict(params)


def function_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A tool as an OpenAI-style function: ``name``, ``parameters``, then ``description`` when
    one is given (Chat Completions, Responses and Cohere v2 share this shape)."""
    name, description, parameters = tool_function(spec)
    function: dict[str, Any] = {"name": name, "parameters": parameters}
    if description is not None:
        function["description"] = description
    return function


def tool_declarations(
    tools: Iterable[Mapping[str, Any]],
    schema_key: str,
    wrap: Callable[[dict[str, Any]], Any] | None = None,
) -> list[dict[str, Any]]:
    """Each tool as ``{"name", "description" (only when non-empty), schema_key: parameters}``
    (Anthropic, Gemini, Bedrock, Ollama); ``wrap`` reshapes the schema first (Bedrock's
    ``{"json": ...}``)."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        name, description, parameters = tool_function(tool)
        declaration: dict[str, Any] = {"name": name}
        if description:
            declaration["description"] = description
        declaration[schema_key] = wrap(parameters) if wrap is not None else parameters
        out.append(declaration)
    return out


def chat_tool_calls(calls: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Common-format tool calls of an assistant message → OpenAI-style ``tool_calls`` (Chat
    Completions and Cohere v2 share this shape)."""
    return [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": call.get("name"),
                "arguments": arguments_text(call.get("arguments")),
            },
        }
        for call in calls
    ]


def tool_call_id(message: Mapping[str, Any]) -> Any:
    """The ``tool_call_id`` a tool message must carry; a ``LocalProtocolError`` without it."""
    if not message.get("tool_call_id"):
        raise LocalProtocolError("a tool message needs the 'tool_call_id' of the call it answers")
    return message["tool_call_id"]


def unknown_role(role: Any) -> LocalProtocolError:
    """The error for a message role outside system, user, assistant and tool (to be raised)."""
    return LocalProtocolError(f"unknown message role {role!r}; use system, user, assistant or tool")


def renamed_options(
    options: Mapping[str, Any], renames: Iterable[tuple[str, str]], stop_key: str
) -> dict[str, Any]:
    """The common options a provider knows under its own names: each ``(option, wire_name)``
    in ``renames`` that is set (not ``None``), in that order, then ``stop`` (a string or a list
    of them) as a list under ``stop_key``."""
    out: dict[str, Any] = {}
    for option, key in renames:
        if options.get(option) is not None:
            out[key] = options[option]
    stop = options.get("stop")
    if stop is not None:
        out[stop_key] = [stop] if isinstance(stop, str) else list(stop)
    return out


def join_url(base: str, path: str) -> str:
    """``base`` + ``/path`` with exactly one slash between them."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def bearer_headers(api_key: str | None, **extra: str) -> dict[str, str]:
    headers = {"accept": "text/event-stream"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    headers.update(extra)
    return headers


def bearer_post(
    url: str, body: dict[str, Any], api_key: str | None, options: Mapping[str, Any], known: Iterable[str]
) -> HTTPRequest:
    """The streaming POST of a bearer-token JSON API (OpenAI Chat Completions and Responses,
    Cohere): options the builder did not use by name and ``extra_body`` merged into ``body``
    (``apply_extra_body``), ``extra_headers`` over the bearer headers."""
    apply_extra_body(body, options, known)
    headers = bearer_headers(api_key, **dict(options.get("extra_headers") or {}))
    return HTTPRequest.json("POST", url, body, headers)


def apply_extra_body(
    body: dict[str, Any], options: Mapping[str, Any], known: Iterable[str]
) -> dict[str, Any]:
    """Copy the options a builder does not know by name into ``body`` unchanged (so new API
    parameters work without a release), then merge ``extra_body`` last."""
    skip = {*known, "extra_body", "extra_headers"}
    for key, value in options.items():
        if key not in skip and value is not None:
            body[key] = value
    extra = options.get("extra_body")
    if extra:
        if not isinstance(extra, Mapping):
            raise LocalProtocolError(f"extra_body must be a mapping, not {type(extra).__name__}")
        body.update(extra)
    return body


def sniffed(events: Iterable[Any]) -> Iterator[tuple[str, Any, Any]]:
    """For ``Provider.looks_like``: each SSE or NDJSON/JSON-array event as ``(SSE event name or
    "", its JSON value or None, the value's "type" field or None)``."""
    for event in events:
        name = ""
        value: Any = None
        if isinstance(event, ServerSentEvent):
            name = event.event
            try:
                value = json.loads(event.data)
            except ValueError:
                value = None
        elif isinstance(event, JSONValue):
            value = event.value
        kind = value.get("type") if isinstance(value, dict) else None
        yield name, value, kind
