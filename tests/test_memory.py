"""Memory bounds of the framing parsers (tracemalloc, so the numbers are what Python allocated).

- A parser with nothing buffered -- fresh, or after a stream was parsed and drained -- holds
  under 1 KiB: buffers are released, not kept at their high-water mark.
- Parsing one 16 MiB event peaks under 2.5x the event size: the event is buffered once, and the
  text is decoded without piling up further whole copies.
- A 16 MiB line for NDJSON obeys the same bound.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sansstream.core import EventStreamParser, JSONArrayParser, NDJSONParser, SSEParser

KIB = 1024
IDLE_LIMIT = 1 * KIB
BIG = 16 * 1024 * 1024
SLICE = 64 * KIB
PEAK_FACTOR = 2.5


@contextmanager
def traced() -> Iterator[list[int]]:
    """Yields [retained, peak] (bytes allocated and still alive at the end, and the peak), both
    relative to the start of the block."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = [0, 0]
    try:
        yield result
    finally:
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[0] = current - base
        result[1] = peak - base


def _per_instance(factory: Callable[[], Any], n: int = 50) -> float:
    factory()  # warm up caches (compiled regexes, interned strings) outside the measurement
    with traced() as mem:
        keep = [factory() for _ in range(n)]
    return (mem[0] - sys.getsizeof(keep)) / n


@pytest.mark.parametrize("factory", [SSEParser, NDJSONParser], ids=["sse", "ndjson"])
def test_fresh_parser_is_under_1_kib(factory: Callable[[], Any]) -> None:
    assert _per_instance(factory) < IDLE_LIMIT


@pytest.mark.parametrize("factory", [JSONArrayParser, EventStreamParser], ids=["jsonarray", "eventstream"])
def test_fresh_binary_and_array_parsers_are_small(factory: Callable[[], Any]) -> None:
    # These keep a deque of ready items whose first block alone is ~760 B; bounded, not < 1 KiB.
    assert _per_instance(factory) < 2 * IDLE_LIMIT


def _drained_retained(make: Callable[[], Any], pieces: list[bytes]) -> int:
    """Bytes still held after a parser (created inside the measurement) parsed ``pieces`` and
    every result was returned and dropped."""
    with traced() as mem:
        parser = make()
        for piece in pieces:
            parser.feed(piece)
    retained = mem[0]
    del parser
    return retained


def test_sse_parser_releases_buffers_after_draining() -> None:
    events = [b'data: {"i": %d, "text": "%s"}\n\n' % (i, b"x" * 200) for i in range(2000)]
    huge_line = [b"data: " + b"y" * 100_000, b"z" * 100_000, b"\n\nevent: e\ndata: 1\n\n"]
    # Slices that end mid-event leave a partial line buffered; end on a boundary to be idle.
    pieces = [b"".join(events[i : i + 7]) for i in range(0, len(events), 7)] + huge_line
    assert _drained_retained(SSEParser, pieces) < IDLE_LIMIT


def test_ndjson_parser_releases_buffers_after_draining() -> None:
    lines = [b'{"i": %d, "text": "%s"}\n' % (i, b"x" * 200) for i in range(2000)]
    pieces = [b"".join(lines[i : i + 7]) for i in range(0, len(lines), 7)]
    pieces += [b'{"big": "' + b"y" * 100_000, b'"}\n']
    assert _drained_retained(NDJSONParser, pieces) < IDLE_LIMIT


def _peak_of(make: Callable[[], Any], body: bytes) -> tuple[int, list[Any]]:
    chunks = [body[i : i + SLICE] for i in range(0, len(body), SLICE)]
    with traced() as mem:
        parser = make()
        got: list[Any] = []
        for chunk in chunks:
            got += parser.feed(chunk)
            del chunk  # the slice list keeps its own reference; this drops the loop's
        got += parser.feed(b"")
    return mem[1], got


def test_sse_16mib_event_peak() -> None:
    body = b"data: " + b"y" * BIG + b"\n\n"
    peak, got = _peak_of(lambda: SSEParser(max_event_size=None), body)
    assert len(got) == 1
    assert len(got[0].data) == BIG
    del got
    assert peak < PEAK_FACTOR * BIG, f"peak {peak / BIG:.2f}x the event size"


def test_sse_16mib_multiline_event_peak() -> None:
    line = b"data: " + b"q" * 1000 + b"\n"
    body = line * (BIG // 1000) + b"\n"
    peak, got = _peak_of(lambda: SSEParser(max_event_size=None), body)
    assert len(got) == 1
    del got
    assert peak < PEAK_FACTOR * BIG, f"peak {peak / BIG:.2f}x the event size"


def test_ndjson_16mib_line_peak() -> None:
    body = b'{"s": "' + b"y" * BIG + b'"}\n'
    peak, got = _peak_of(lambda: NDJSONParser(max_line_size=None), body)
    assert len(got) == 1
    del got
    assert peak < PEAK_FACTOR * BIG, f"peak {peak / BIG:.2f}x the line size"
