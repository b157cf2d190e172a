"""The SSE parser's cost is linear in the bytes, however they are sliced.

Each check times the same work at two sizes and asserts that twice the bytes cost about twice
the time (ratio below 3), never an absolute duration: a quadratic parser (re-scanning or
re-joining a growing buffer per slice) would show a ratio near 4. Timings are the minimum of
several runs in process CPU time, so other processes competing for the cores count little.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from sansstream.core import SSEParser

MIB = 1 << 20
MAX_RATIO = 3.0


def cpu_time(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def ratio(work_at: Callable[[int], Callable[[], object]], small: int, repeat: int = 3) -> float:
    """Time at 2x the size over time at 1x the size."""
    work_at(small // 8)()  # warm up
    one = cpu_time(work_at(small), repeat)
    two = cpu_time(work_at(2 * small), repeat)
    return two / one


def one_long_event_in_slices(size: int, slice_size: int) -> Callable[[], object]:
    """A single ``data:`` line of ``size`` bytes, fed ``slice_size`` bytes at a time. The same
    slice object is reused so the test itself allocates nothing per slice."""
    piece = b"x" * slice_size
    count = size // slice_size

    def work() -> object:
        parser = SSEParser(max_event_size=None)
        feed = parser.feed
        feed(b"data: ")
        for _ in range(count):
            feed(piece)
        (event,) = feed(b"\n\n")
        assert len(event.data) == count * slice_size
        return event

    return work


def many_lines_one_event(size: int, slice_size: int, line_end: bytes) -> Callable[[], object]:
    """``data:`` lines of 16 bytes adding up to one event of ``size`` bytes, in slices."""
    line = b"data: 0123456789" + line_end
    body = b"event: big" + line_end + line * (size // len(line)) + line_end
    chunks = [body[i : i + slice_size] for i in range(0, len(body), slice_size)]

    def work() -> object:
        parser = SSEParser(max_event_size=None)
        events = [event for chunk in chunks for event in parser.feed(chunk)]
        assert len(events) == 1
        return events

    return work


@pytest.mark.parametrize("slice_size", [1, 16])
def test_one_long_line(slice_size: int) -> None:
    # 1 MiB against 2 MiB; in 1-byte slices that is millions of calls, so fewer repeats.
    repeat = 2 if slice_size == 1 else 3
    assert ratio(lambda n: one_long_event_in_slices(n, slice_size), MIB, repeat) < MAX_RATIO


@pytest.mark.parametrize(
    ("slice_size", "line_end"), [(16, b"\n"), (7, b"\r\n"), (4096, b"\r"), (1 << 30, b"\n")]
)
def test_many_data_lines_make_one_big_event(slice_size: int, line_end: bytes) -> None:
    assert ratio(lambda n: many_lines_one_event(n, slice_size, line_end), MIB // 4) < MAX_RATIO


def test_many_small_events_in_one_byte_slices() -> None:
    event = b"data: 0123456789abcdef\n\n"

    def work_at(size: int) -> Callable[[], object]:
        count = size // len(event)

        def work() -> object:
            parser = SSEParser()
            n = 0
            for _ in range(count):
                for i in range(len(event)):
                    n += len(parser.feed(event[i : i + 1]))
            assert n == count
            return n

        return work

    assert ratio(work_at, MIB // 8) < MAX_RATIO
