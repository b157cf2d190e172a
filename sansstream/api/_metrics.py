"""Stream metrics: time to first byte / event / token, gaps, throughput.

Strategy: ``MetricsRecorder`` is pure arithmetic over timestamps that the caller feeds in (the
API layer reads ``time.monotonic()`` and passes the values), so every number here can be unit
tested with made-up times and no clock. ``snapshot(now)`` turns the recorder's state into a
frozen ``Metrics`` value at any moment, which is how ``ChatStream.metrics`` stays live while the
stream runs. All times are seconds measured from ``start`` — the moment the first request was
sent, so time spent in retries counts, as a user waiting for the answer would see it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Chunk, Usage

__all__ = ["Metrics", "MetricsRecorder"]


# Chunk types that carry generated output. A reasoning signature or redacted block counts: it is
# still the model's output arriving. Looked up by the ``type`` string: one set probe per chunk.
_CONTENT_TYPES = frozenset({"content", "thinking", "refusal", "tool_start", "tool_delta", "tool_end"})
# A tool call's start carries no generated fragment of its own when deltas follow; a call
# delivered whole (start + end, no delta) still counts once, through its end.
_TOKEN_TYPES = _CONTENT_TYPES - {"tool_start"}


def is_content_chunk(chunk: object) -> bool:
    """True for chunks that carry generated output (text, reasoning, refusal, tool calls): the
    ones that end the "time to first token" wait. Start, usage, finish and done markers do not."""
    return getattr(chunk, "type", None) in _CONTENT_TYPES


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """How a stream went, in seconds from the moment the request was first sent.

    Times are ``None`` until the thing they measure happened. ``output_tokens`` is the
    provider's own count when it reported usage, else the number of content chunks (an
    estimate: one chunk is usually one token). ``tokens_per_second`` divides it by the time
    from the first token to the end (or to now, while the stream runs). Gaps are measured
    between consecutive chunks of any type. ``recoveries`` counts the times a broken stream was
    recovered (``stream_chat(recover=...)``) and ``recovery_time`` the seconds those recoveries
    cost, from each failure to the reopened response's headers.
    """

    time_to_first_byte: float | None = None
    time_to_first_event: float | None = None
    time_to_first_token: float | None = None
    duration: float | None = None
    bytes_received: int = 0
    wire_events: int = 0
    chunks: int = 0
    content_chunks: int = 0
    keepalives: int = 0
    max_gap: float | None = None
    mean_gap: float | None = None
    output_tokens: int | None = None
    output_tokens_reported: bool = False
    tokens_per_second: float | None = None
    attempts: int = 0
    finished: bool = False
    recoveries: int = 0
    recovery_time: float = 0.0


class MetricsRecorder:
    """Accumulates timestamps and counters; pure (every method takes the time it applies to).

    Call ``start(t)`` once, ``attempt()`` per request sent, ``headers(t)`` when a response's
    headers arrived, ``progress(t, bytes_received=, wire_events=, keepalives=)`` after each read
    with the decoder's running totals, ``chunk(t, chunk)`` per chunk, and ``finish(t)`` at the end.
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._first_byte: float | None = None
        self._first_event: float | None = None
        self._first_token: float | None = None
        self._end: float | None = None
        self._bytes = 0
        # counters of earlier (retried) attempts, so totals cover the whole stream
        self._bytes_before = 0
        self._events_before = 0
        self._keepalives_before = 0
        self._wire_events = 0
        self._keepalives = 0
        self._chunks = 0
        self._content = 0
        self._tokens_counted = 0
        self._reported_tokens: int | None = None
        self._first_chunk: float | None = None
        self._last_chunk: float | None = None
        self._max_gap: float | None = None
        self._attempts = 0
        self._recoveries = 0
        self._recovery_time = 0.0

    # -- feeding -------------------------------------------------------------------------
    def start(self, t: float) -> None:
        if self._start is None:
            self._start = t

    def attempt(self) -> None:
        """A new request is being sent: running totals from the previous one become history,
        and first byte / first event will be those of this attempt (the response that is
        actually read; a failed attempt's 503 headers say nothing about the stream)."""
        self._attempts += 1
        self._first_byte = None
        self._first_event = None
        self._bytes_before += self._bytes
        self._events_before += self._wire_events
        self._keepalives_before += self._keepalives
        self._bytes = self._wire_events = self._keepalives = 0

    def headers(self, t: float) -> None:
        if self._first_byte is None:
            self._first_byte = t

    def progress(self, t: float, *, bytes_received: int, wire_events: int, keepalives: int) -> None:
        """Running totals of the current attempt after a read at time ``t``."""
        self._bytes = bytes_received
        self._wire_events = wire_events
        self._keepalives = keepalives
        if self._first_event is None and wire_events > 0:
            self._first_event = t

    def chunk(self, t: float, chunk: Chunk) -> bool:
        """Record a chunk at time ``t``; returns whether it was a content chunk."""
        if self._last_chunk is not None:
            gap = t - self._last_chunk
            if self._max_gap is None or gap > self._max_gap:
                self._max_gap = gap
        else:
            self._first_chunk = t
        self._last_chunk = t
        self._chunks += 1
        kind = chunk.type
        if kind in _CONTENT_TYPES:
            self._content += 1
            if self._first_token is None:
                self._first_token = t
            if kind in _TOKEN_TYPES:
                self._tokens_counted += 1
            return True
        if isinstance(chunk, Usage) and chunk.output_tokens is not None:
            self._reported_tokens = chunk.output_tokens
        return False

    def recovered(self, seconds: float) -> None:
        """A broken stream was recovered; the recovery took ``seconds``."""
        self._recoveries += 1
        self._recovery_time += max(0.0, seconds)

    def finish(self, t: float) -> None:
        if self._end is None:
            self._end = t

    # -- reading -------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._end is not None

    def snapshot(self, now: float | None = None) -> Metrics:
        """The metrics as of ``now`` (ignored once finished; ``duration`` stays ``None`` if
        neither is known)."""
        start = self._start

        def rel(t: float | None) -> float | None:
            return None if t is None or start is None else t - start

        end = self._end if self._end is not None else now
        mean_gap = None
        if self._first_chunk is not None and self._last_chunk is not None and self._chunks > 1:
            mean_gap = (self._last_chunk - self._first_chunk) / (self._chunks - 1)
        reported = self._reported_tokens is not None
        tokens: int | None = self._reported_tokens if reported else self._tokens_counted
        tps = None
        if tokens and self._first_token is not None and end is not None and end > self._first_token:
            tps = tokens / (end - self._first_token)
        return Metrics(
            time_to_first_byte=rel(self._first_byte),
            time_to_first_event=rel(self._first_event),
            time_to_first_token=rel(self._first_token),
            duration=rel(end),
            bytes_received=self._bytes_before + self._bytes,
            wire_events=self._events_before + self._wire_events,
            chunks=self._chunks,
            content_chunks=self._content,
            keepalives=self._keepalives_before + self._keepalives,
            max_gap=self._max_gap,
            mean_gap=mean_gap,
            output_tokens=tokens,
            output_tokens_reported=reported,
            tokens_per_second=tps,
            attempts=self._attempts,
            finished=self._end is not None,
            recoveries=self._recoveries,
            recovery_time=self._recovery_time,
        )
