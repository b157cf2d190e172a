"""One chunk model for every provider's stream.

Each chunk is a small frozen dataclass with a ``type`` string (the names follow the chunk types
streaming-chat servers already use: ``content``, ``thinking``, ``tool_start``…), so a single loop
handles every provider and ``chunk.type == "content"`` narrows the type for mypy. Every chunk can
carry ``raw``: the provider payload it came from, for fields this model does not cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from ._drafts import draft_class
from ._errors import ProviderError

__all__ = [
    "ResponseStart",
    "TextDelta",
    "ReasoningDelta",
    "RefusalDelta",
    "ToolCallStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolResult",
    "Usage",
    "Finish",
    "Done",
    "StreamError",
    "Recovered",
    "Chunk",
    "FINISH_REASONS",
    "chunk_to_dict",
    "text_delta",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal", "error", "other"]
FINISH_REASONS: tuple[str, ...] = (
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "refusal",
    "error",
    "other",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseStart:
    """The response began: its id and the model that serves it (either may be unknown)."""

    id: str | None = None
    model: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["start"] = field(default="start", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A fragment of the answer text."""

    text: str
    choice: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["content"] = field(default="content", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasoningDelta:
    """A fragment of reasoning ("thinking") text, or a reasoning signature, or a redacted block.

    ``signature`` is the opaque token some providers require back with the reasoning block
    (Anthropic ``signature_delta``, Gemini ``thoughtSignature``, Bedrock ``signature``).
    ``redacted`` blocks carry their opaque ``data`` and no readable text. ``block`` numbers the
    reasoning block this fragment belongs to, so signatures stay with their text.
    """

    text: str = ""
    choice: int = 0
    redacted: bool = False
    signature: str | None = None
    data: str | None = None
    block: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["thinking"] = field(default="thinking", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    """A fragment of a refusal message (OpenAI ``delta.refusal``)."""

    text: str
    choice: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["refusal"] = field(default="refusal", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStart:
    """A tool call began. ``index`` keys its later deltas (unique per choice within a response);
    ``id`` is the id a tool result must reference; ``kind`` is ``"function"`` for client tools, or
    the provider's name for server-side / MCP tool uses (``"server_tool_use"``, ``"mcp_tool_use"``…)."""

    index: int
    id: str | None
    name: str
    choice: int = 0
    kind: str = "function"
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["tool_start"] = field(default="tool_start", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallDelta:
    """A fragment of a tool call's JSON arguments text (only valid JSON once joined)."""

    index: int
    arguments: str
    choice: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["tool_delta"] = field(default="tool_delta", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallEnd:
    """A tool call is complete: whole ``arguments`` text and the parsed ``input`` (``None`` if the
    text is not valid JSON; the text is kept as sent)."""

    index: int
    id: str | None
    name: str
    arguments: str
    input: Any
    choice: int = 0
    kind: str = "function"
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["tool_end"] = field(default="tool_end", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    """The result of a server-side tool (web search, code execution, MCP…), delivered in-stream.
    ``tool_call_id`` references the call; ``kind`` is the provider's name for the result block."""

    tool_call_id: str | None
    kind: str
    content: Any
    index: int | None = None
    choice: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["tool_result"] = field(default="tool_result", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts. Fields a provider does not report are ``None``. ``raw`` is the usage object
    as the provider sent it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["usage"] = field(default="usage", init=False, repr=False)

    def merged(self, newer: Usage) -> Usage:
        """Field by field, the newer non-null value wins (Anthropic's start/delta usages)."""
        raw: Any = newer.raw
        if isinstance(self.raw, dict) and isinstance(newer.raw, dict):
            raw = {**self.raw, **{k: v for k, v in newer.raw.items() if v is not None}}
        return Usage(
            input_tokens=newer.input_tokens if newer.input_tokens is not None else self.input_tokens,
            output_tokens=newer.output_tokens if newer.output_tokens is not None else self.output_tokens,
            total_tokens=newer.total_tokens if newer.total_tokens is not None else self.total_tokens,
            reasoning_tokens=(
                newer.reasoning_tokens if newer.reasoning_tokens is not None else self.reasoning_tokens
            ),
            cached_tokens=newer.cached_tokens if newer.cached_tokens is not None else self.cached_tokens,
            raw=raw,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    """A choice finished. ``reason`` is normalised (one of ``FINISH_REASONS``); ``raw_reason`` is
    what the provider sent."""

    reason: str
    raw_reason: str | None = None
    choice: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["finish"] = field(default="finish", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    """The provider's terminal marker was seen: the stream is complete."""

    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["done"] = field(default="done", init=False, repr=False)


@dataclass(frozen=True, slots=True)
class StreamError:
    """An in-band provider error, delivered as a chunk when the caller asked for errors as chunks
    (``raise_errors=False``) instead of a raised ``ProviderError``."""

    error: ProviderError
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["error"] = field(default="error", init=False, repr=False)

    @property
    def message(self) -> str:
        return self.error.message


@dataclass(frozen=True, slots=True, kw_only=True)
class Recovered:
    """Marker: the stream broke and was recovered here (``stream_chat(recover=...)``); only
    delivered when the recovery policy asks for markers (``RecoveryPolicy(markers=True)``), so a
    plain loop sees exactly the chunks of an uninterrupted stream.

    ``mode`` is ``"resume"`` (the provider replays from ``after``, the last event delivered:
    nothing is repeated or lost) or ``"continue"`` (the request was sent again with the
    ``prefix_chars`` characters delivered so far as the assistant's prefix). ``attempt`` counts
    the recoveries of this stream (1 for the first); ``reason`` says what broke it.
    """

    mode: Literal["resume", "continue"]
    attempt: int
    reason: str
    recovery_id: str | None = None
    after: int | None = None
    prefix_chars: int = 0
    raw: Any = field(default=None, repr=False, compare=False)
    type: Literal["recovered"] = field(default="recovered", init=False, repr=False)


Chunk = (
    ResponseStart
    | TextDelta
    | ReasoningDelta
    | RefusalDelta
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | ToolResult
    | Usage
    | Finish
    | Done
    | StreamError
    | Recovered
)


# Building text chunks fast: a slot-identical draft filled with plain stores and relabelled as a
# TextDelta (see _drafts.py), about four times cheaper than the frozen __init__ on the decoders'
# hot path. _TEXT_DRAFT is None where the trick does not hold, and the constructor is used.
_TEXT_DRAFT: Final = draft_class(TextDelta, {"text": "t", "choice": 2, "raw": {}})


def text_delta(text: str, choice: int = 0, raw: Any = None) -> TextDelta:
    """``TextDelta(text, choice, raw=raw)``, built about four times faster (decoders' hot path)."""
    if _TEXT_DRAFT is None:  # pragma: no cover
        return TextDelta(text, choice, raw=raw)
    draft = _TEXT_DRAFT()
    draft.text = text
    draft.choice = choice
    draft.raw = raw
    draft.type = "content"
    draft.__class__ = TextDelta
    return draft  # type: ignore[no-any-return]


def chunk_to_dict(chunk: Chunk, *, include_raw: bool = False) -> dict[str, Any]:
    """A JSON-ready dict of a chunk: ``{"type": ..., <fields>}`` (``raw`` only when asked)."""
    out: dict[str, Any] = {"type": chunk.type}
    for f in fields(chunk):
        if f.name in ("type", "raw"):
            continue
        value = getattr(chunk, f.name)
        if isinstance(value, ProviderError):
            value = {
                "provider": value.provider,
                "type": value.type,
                "code": value.code,
                "message": value.message,
                "retryable": value.retryable,
            }
        out[f.name] = value
    if include_raw:
        out["raw"] = chunk.raw
    return out
