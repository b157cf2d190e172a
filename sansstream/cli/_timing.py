"""How a stream arrived, at a glance: ``sansstream inspect RECORDING`` and ``chat --timing``.

Both build a ``Timeline`` (when each answer token arrived, when the first byte did, how many
keepalives came) and print the same report: time to first byte and first token, tokens per
second, gap percentiles, keepalives, and a one-line chart of the token rate over time drawn with
Unicode block characters (no dependency, any UTF-8 terminal). A token here is one answer delta
(text, reasoning or refusal): what the user watches appear; the provider's own token count, when
it reports usage, is shown beside it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from ..model import Chunk, ReasoningDelta, RefusalDelta, TextDelta, Usage

__all__ = ["Timeline", "timing_report", "rate_chart", "is_token"]

_BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_WIDTH = 48  # columns: fits an 80-column terminal beside its labels


def is_token(chunk: Chunk) -> bool:
    """An answer delta the user sees appear (empty deltas do not count)."""
    return isinstance(chunk, (TextDelta, ReasoningDelta, RefusalDelta)) and bool(chunk.text)


@dataclass
class Timeline:
    """Arrival times in seconds since the request was sent."""

    first_byte: float | None = None
    token_times: list[float] = field(default_factory=list)
    end: float | None = None
    keepalives: int = 0
    bytes_received: int = 0
    usage: Usage | None = None

    def add(self, t: float, chunk: Chunk) -> None:
        if is_token(chunk):
            self.token_times.append(t)
        elif isinstance(chunk, Usage):
            self.usage = chunk


def _percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rate_chart(times: list[float], start: float, end: float, width: int = CHART_WIDTH) -> str:
    """Tokens per time slice from ``start`` to ``end`` as ``width`` block characters, the
    tallest slice full height; a slice with no token is a space (a stall shows as a gap)."""
    if not times or end <= start:
        return ""
    counts = [0] * width
    span = end - start
    for t in times:
        column = min(width - 1, max(0, int((t - start) / span * width)))
        counts[column] += 1
    top = max(counts)
    return "".join(
        _BLOCKS[0] if n == 0 else _BLOCKS[max(1, round(n / top * (len(_BLOCKS) - 1)))] for n in counts
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def timing_report(timeline: Timeline) -> list[str]:
    """The report's lines (no trailing newlines)."""
    times = timeline.token_times
    end = timeline.end if timeline.end is not None else (times[-1] if times else None)
    lines = []
    first = [
        f"first byte {_ms(timeline.first_byte)}" if timeline.first_byte is not None else "first byte -",
        f"first token {_ms(times[0])}" if times else "no tokens",
        f"total {_ms(end)}" if end is not None else "",
    ]
    lines.append(" | ".join(part for part in first if part))
    count = f"{len(times)} tokens"
    if timeline.usage is not None and timeline.usage.output_tokens is not None:
        count += f" ({timeline.usage.output_tokens} by the provider's count)"
    rate = ""
    if len(times) >= 2 and times[-1] > times[0]:
        rate = f"{(len(times) - 1) / (times[-1] - times[0]):.1f} tokens/s"
    lines.append(" | ".join(p for p in (count, rate, f"{timeline.keepalives} keepalives") if p))
    if len(times) >= 2:
        gaps = [b - a for a, b in itertools.pairwise(times)]
        lines.append(
            "gaps between tokens: "
            f"p50 {_ms(_percentile(gaps, 0.5))}, p90 {_ms(_percentile(gaps, 0.9))}, "
            f"p99 {_ms(_percentile(gaps, 0.99))}, max {_ms(max(gaps))}"
        )
    if times and end is not None and end > 0:
        # about two tokens a column for short replies, so a single token is not a lone spike
        chart = rate_chart(times, 0.0, end, width=max(8, min(CHART_WIDTH, len(times) // 2)))
        lines.append(f"tokens/time |{chart}| 0 → {_ms(end)}")
    return lines
