"""Folding chunks into a final ``ChatResult``.

Assembly is linear in the size of the stream: text and tool-call arguments are kept as lists of
fragments and joined once, when a result is asked for (the joined string then replaces the list,
so asking again costs nothing extra). A growing buffer is never re-parsed per delta.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._chunks import (
    Chunk,
    Done,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    ResponseStart,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    Usage,
)
from ._errors import ProviderError

__all__ = ["Accumulator", "ChatResult", "ChoiceResult", "ReasoningBlock", "ToolCall", "parse_arguments"]


def parse_arguments(text: str) -> Any:
    """Parse a tool call's arguments text; empty text means ``{}``; invalid JSON gives ``None``."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        return None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete (or, in a partial result, the part received of a) tool call."""

    index: int
    id: str | None
    name: str
    arguments: str
    input: Any
    kind: str = "function"


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """One reasoning block with the signature that must be sent back with it."""

    text: str
    signature: str | None = None
    redacted: bool = False
    data: str | None = None


@dataclass(frozen=True, slots=True)
class ChoiceResult:
    """Everything assembled for one choice (OpenAI ``n > 1``; other providers have one)."""

    index: int
    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The final (or, on an error, partial) result of a stream. Top-level fields are choice 0's."""

    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    choices: tuple[ChoiceResult, ...] = ()
    reasoning_blocks: tuple[ReasoningBlock, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    errors: tuple[ProviderError, ...] = ()
    done: bool = False


def _joined(parts: list[str]) -> str:
    if len(parts) > 1:
        parts[:] = ["".join(parts)]
    return parts[0] if parts else ""


class _ToolBuilder:
    __slots__ = ("arguments", "final", "id", "index", "input", "kind", "name", "parts")

    def __init__(self, index: int, id: str | None, name: str, kind: str) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.kind = kind
        self.parts: list[str] = []
        self.final = False  # a ToolCallEnd gave the whole arguments text and parsed input
        self.arguments = ""
        self.input: Any = None

    def build(self) -> ToolCall:
        if self.final:
            return ToolCall(self.index, self.id, self.name, self.arguments, self.input, self.kind)
        text = _joined(self.parts)
        return ToolCall(self.index, self.id, self.name, text, parse_arguments(text), self.kind)


class _ReasoningBuilder:
    __slots__ = ("data", "parts", "redacted", "signature")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.signature: str | None = None
        self.redacted = False
        self.data: str | None = None


class _ChoiceBuilder:
    __slots__ = ("finish", "index", "raw_finish", "reasoning", "reasoning_blocks", "refusal", "text", "tools")

    def __init__(self, index: int) -> None:
        self.index = index
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tools: dict[int, _ToolBuilder] = {}
        self.reasoning_blocks: dict[int, _ReasoningBuilder] = {}
        self.finish: str | None = None
        self.raw_finish: str | None = None

    def tool(self, index: int) -> _ToolBuilder:
        builder = self.tools.get(index)
        if builder is None:
            builder = self.tools[index] = _ToolBuilder(index, None, "", "function")
        return builder

    def build(self) -> ChoiceResult:
        blocks = tuple(
            ReasoningBlock(_joined(b.parts), b.signature, b.redacted, b.data)
            for _, b in sorted(self.reasoning_blocks.items())
        )
        return ChoiceResult(
            index=self.index,
            text=_joined(self.text),
            reasoning=_joined(self.reasoning),
            refusal=_joined(self.refusal),
            tool_calls=tuple(t.build() for _, t in sorted(self.tools.items())),
            finish_reason=self.finish,
            raw_finish_reason=self.raw_finish,
            reasoning_blocks=blocks,
        )


class Accumulator:
    """Fold chunks into a ``ChatResult``: ``add(chunk)`` for each, ``result()`` at any time."""

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceBuilder] = {}
        self._usage: Usage | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._tool_results: list[ToolResult] = []
        self._errors: list[ProviderError] = []
        self._done = False

    def _choice(self, index: int) -> _ChoiceBuilder:
        builder = self._choices.get(index)
        if builder is None:
            builder = self._choices[index] = _ChoiceBuilder(index)
        return builder

    def add(self, chunk: Chunk) -> None:
        if isinstance(chunk, TextDelta):  # (most chunks: the builder lookup inlined)
            builder = self._choices.get(chunk.choice)
            if builder is None:
                builder = self._choice(chunk.choice)
            builder.text.append(chunk.text)
        elif isinstance(chunk, ReasoningDelta):
            choice = self._choice(chunk.choice)
            block = choice.reasoning_blocks.get(chunk.block)
            if block is None:
                block = choice.reasoning_blocks[chunk.block] = _ReasoningBuilder()
            if chunk.redacted:
                block.redacted = True
                if chunk.data is not None:
                    block.data = chunk.data if block.data is None else block.data + chunk.data
            if chunk.text:
                choice.reasoning.append(chunk.text)
                block.parts.append(chunk.text)
            if chunk.signature is not None:
                block.signature = chunk.signature
        elif isinstance(chunk, ToolCallDelta):
            self._choice(chunk.choice).tool(chunk.index).parts.append(chunk.arguments)
        elif isinstance(chunk, ToolCallStart):
            tool = self._choice(chunk.choice).tool(chunk.index)
            tool.id = chunk.id if chunk.id else tool.id
            tool.name = chunk.name or tool.name
            tool.kind = chunk.kind
        elif isinstance(chunk, ToolCallEnd):
            tool = self._choice(chunk.choice).tool(chunk.index)
            tool.id = chunk.id if chunk.id else tool.id
            tool.name = chunk.name or tool.name
            tool.kind = chunk.kind
            tool.final = True
            tool.arguments = chunk.arguments
            tool.input = chunk.input
        elif isinstance(chunk, RefusalDelta):
            self._choice(chunk.choice).refusal.append(chunk.text)
        elif isinstance(chunk, Usage):
            self._usage = chunk
        elif isinstance(chunk, Finish):
            choice = self._choice(chunk.choice)
            choice.finish = chunk.reason
            choice.raw_finish = chunk.raw_reason
        elif isinstance(chunk, ResponseStart):
            self._id = chunk.id or self._id
            self._model = chunk.model or self._model
        elif isinstance(chunk, ToolResult):
            self._tool_results.append(chunk)
        elif isinstance(chunk, Done):
            self._done = True
        elif isinstance(chunk, StreamError):
            self._errors.append(chunk.error)

    @property
    def usage(self) -> Usage | None:
        return self._usage

    @property
    def done(self) -> bool:
        return self._done

    def result(self) -> ChatResult:
        choices = tuple(b.build() for _, b in sorted(self._choices.items()))
        first = choices[0] if choices else ChoiceResult(index=0)
        return ChatResult(
            text=first.text,
            reasoning=first.reasoning,
            refusal=first.refusal,
            tool_calls=first.tool_calls,
            finish_reason=first.finish_reason,
            raw_finish_reason=first.raw_finish_reason,
            usage=self._usage,
            id=self._id,
            model=self._model,
            choices=choices,
            reasoning_blocks=first.reasoning_blocks,
            tool_results=tuple(self._tool_results),
            errors=tuple(self._errors),
            done=self._done,
        )
