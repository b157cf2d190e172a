"""Printing a stream live: text as it arrives, reasoning dimmed, chunks as JSON lines, metrics.

Every write is flushed at once, so tokens appear as they arrive whether stdout is a terminal or
a pipe. ANSI styling (dim reasoning, a dim metrics line) is used only when the stream is a
terminal and ``NO_COLOR`` is not set; piped output is plain text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import IO, Any

from ..api import Metrics
from ..model import (
    ChatResult,
    Chunk,
    ProviderError,
    ReasoningDelta,
    RefusalDelta,
    StreamError,
    TextDelta,
    ToolCallEnd,
    ToolResult,
    Usage,
    chunk_to_dict,
)

__all__ = ["LivePrinter", "escape_surrogates", "metrics_line", "result_to_dict", "use_color"]

# A str may hold a lone surrogate (an upstream that split a pair across two deltas); no terminal
# or UTF-8 pipe can take it. It is printed as its JSON escape, \udXXX, the same way everywhere
# (inside JSON strings that is exactly what the JSON writers do, so JSON lines stay valid).
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate written as ``\\udXXX`` (text without any unchanged)."""
    if text.isascii():
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


DIM = "\x1b[2m"
RESET = "\x1b[0m"


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class LivePrinter:
    """Writes chunks to ``out`` as they arrive: answer text plainly, reasoning (when shown) dimmed
    on a terminal, tool calls as one line each; or, with ``json_lines``, every chunk as a JSON
    object per line."""

    def __init__(
        self,
        out: IO[str],
        *,
        json_lines: bool = False,
        show_reasoning: bool = False,
        color: bool | None = None,
    ) -> None:
        self.out = out
        self.json_lines = json_lines
        self.show_reasoning = show_reasoning
        self.color = use_color(out) if color is None else color
        self._section: str | None = None  # "reasoning" / "text": what the last write was
        self._at_line_start = True

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(escape_surrogates(text))
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def _newline(self) -> None:
        if not self._at_line_start:
            self._write("\n")

    def chunk(self, chunk: Chunk) -> None:
        if self.json_lines:
            self._write(json.dumps(chunk_to_dict(chunk), ensure_ascii=False, default=str) + "\n")
            return
        if isinstance(chunk, ReasoningDelta):
            if self.show_reasoning and chunk.text:
                if self._section != "reasoning":
                    self._newline()
                    self._section = "reasoning"
                self._write(f"{DIM}{chunk.text}{RESET}" if self.color else chunk.text)
        elif isinstance(chunk, (TextDelta, RefusalDelta)):
            if self._section == "reasoning":
                self._write("\n\n")
            self._section = "text"
            self._write(chunk.text)
        elif isinstance(chunk, ToolCallEnd):
            self._newline()
            self._write(f"[tool call {chunk.name}({chunk.arguments})]\n")
            self._section = "tool"
        elif isinstance(chunk, ToolResult):
            self._newline()
            self._write(f"[tool result {json.dumps(chunk.content, ensure_ascii=False, default=str)[:200]}]\n")
            self._section = "tool"
        elif isinstance(chunk, StreamError):
            self._newline()
            self._write(f"[error: {chunk.message}]\n")

    def end(self) -> None:
        """Finish the output with a newline if the text did not end with one."""
        if not self.json_lines:
            self._newline()

    def note(self, text: str) -> None:
        """A status line (metrics…), dimmed on a terminal."""
        self._newline()
        self._write((f"{DIM}{text}{RESET}" if self.color else text) + "\n")


def metrics_line(metrics: Metrics, usage: Usage | None) -> str:
    """One line: first token time, throughput, duration, usage."""
    parts: list[str] = []
    if metrics.time_to_first_token is not None:
        parts.append(f"first token {metrics.time_to_first_token * 1000:.0f} ms")
    if metrics.output_tokens is not None:
        estimated = "" if metrics.output_tokens_reported else "~"
        parts.append(f"{estimated}{metrics.output_tokens} tokens")
    if metrics.tokens_per_second is not None:
        parts.append(f"{metrics.tokens_per_second:.1f} tokens/s")
    if metrics.duration is not None:
        parts.append(f"total {metrics.duration:.2f} s")
    if usage is not None:
        counts = [
            f"{name} {value}"
            for name, value in (
                ("in", usage.input_tokens),
                ("out", usage.output_tokens),
                ("reasoning", usage.reasoning_tokens),
                ("cached", usage.cached_tokens),
            )
            if value is not None
        ]
        if counts:
            parts.append("usage: " + ", ".join(counts))
    return "-- " + " | ".join(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, ProviderError):
        return {
            "provider": value.provider,
            "type": value.type,
            "code": value.code,
            "message": value.message,
            "retryable": value.retryable,
        }
    if isinstance(value, (Usage, ToolResult)):
        out = chunk_to_dict(value)
        out.pop("type", None)
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def result_to_dict(result: ChatResult) -> dict[str, Any]:
    """A JSON-ready dict of a ``ChatResult`` (usage and errors as plain objects)."""
    out = _plain(result)
    assert isinstance(out, dict)
    return out
