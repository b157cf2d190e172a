"""Shared helpers for the test suite: where the shared data lives, and ways to slice bytes.

Conformance data is read from ``../shared`` beside the project when it is there (the source of
truth), else from the copy in ``tests/data`` so the suite also runs in a checkout without it.
Provider fixtures are read from ``tests/data/providers`` first: that copy holds every shared
fixture plus those added since, so a local run tests exactly what CI tests.
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sansstream.core import FramingParser
from sansstream.model import END, NEED_DATA, RemoteProtocolError

ROOT = Path(__file__).resolve().parent.parent
_SHARED = ROOT.parent / "shared"
_LOCAL = Path(__file__).resolve().parent / "data"


def conformance_dir() -> Path:
    """The folder holding ``streams/``, ``expected/`` and ``manifest.json`` of the SSE cases."""
    shared = _SHARED / "conformance" / "sse"
    return shared if (shared / "manifest.json").is_file() else _LOCAL / "conformance" / "sse"


def provider_fixtures_dir() -> Path:
    """The folder holding one sub-folder per provider family of recorded streams: the copy in
    ``tests/data`` (it holds every shared fixture plus the ones added since, e.g. the hosted
    variants), so a local run tests exactly what CI tests; ``../shared`` only when that copy
    is missing."""
    local = _LOCAL / "providers"
    if (local / "MANIFEST.md").is_file():
        return local
    return _SHARED / "fixtures" / "providers"


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int = 0, max_size: int = 64) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_size)
        out.append(data[i : i + n])
        i += n
    return out


def at_offsets(data: bytes, offsets: list[int]) -> list[bytes]:
    """Cut ``data`` so that a new slice starts at each offset (as the conformance split plans say)."""
    cuts = [0, *sorted(o for o in offsets if 0 < o < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


FEEDS = {"whole": whole, "bytewise": bytewise, "random": random_splits}


def iter_feeds(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    for name, fn in FEEDS.items():
        yield name, fn(data)


def best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of a few runs, without the garbage collector: the least noisy estimate on a
    shared machine."""
    best = math.inf
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


E = TypeVar("E")


def drive(parser: FramingParser[E], chunks: list[bytes]) -> tuple[list[E], Exception | None]:
    """Feed slices one by one then the end, pulling every event; returns the events and the
    ``RemoteProtocolError`` that ended the stream, if any."""
    out: list[E] = []
    try:
        for chunk in [*chunks, b""]:
            parser.receive_data(chunk)
            while True:
                event = parser.next_event()
                if event is NEED_DATA or event is END:
                    break
                out.append(event)
        assert parser.next_event() is END
    except RemoteProtocolError as exc:
        return out, exc
    return out, None
