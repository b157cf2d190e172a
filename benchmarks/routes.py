"""What each SSE speed route earns: SSEParser.feed() with one route turned off at a time.

    python benchmarks/routes.py [--rounds 5] [--quick]

Every route in ``sansstream/core/_sse_routes.py`` is replaced in turn by one that declines (so
the next route, or the rules, take its input), and feed() is timed on bench.py's OpenAI,
Anthropic and huge-event corpora at 7, 64, 4096 and 65536-byte slices, interleaved with the unchanged
parser and with ``routes=False``. A cell is the throughput with that route off relative to all
routes on: below 1.00 the route earns its place there.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

from sansstream.core import SSEParser, _sse_routes


def _decline(*_args: Any) -> None:
    return None


def _refuse(*_args: Any) -> bool:
    return False


def _rules_by_block(p: Any, region: bytes) -> None:
    lines = region.split(b"\n")
    lines.pop()
    p._lines(lines)


ROUTES: dict[str, Callable[..., Any]] = {
    "_fresh_blocks": _decline,
    "_few_line_ends": _decline,
    "_block_end_then_line": _decline,
    "small_lines": _decline,
    "data_blocks": _refuse,
    "data_run": _refuse,
    "uniform_blocks": _refuse,
    "by_block": _rules_by_block,
}


@contextmanager
def without(name: str | None) -> Iterator[None]:
    if name is None:
        yield
        return
    saved = getattr(_sse_routes, name)
    setattr(_sse_routes, name, ROUTES[name])
    try:
        yield
    finally:
        setattr(_sse_routes, name, saved)


def feed_all(chunks: list[bytes], routes: bool = True) -> int:
    parser: SSEParser[Any] = SSEParser(max_event_size=None, routes=routes)
    n = 0
    for chunk in chunks:
        n += len(parser.feed(chunk))
    return n + len(parser.feed(b""))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--slices", type=int, nargs="*", default=[7, 64, 4096, 65536])
    args = ap.parse_args(argv)
    sizes = args.slices
    variants: list[str | None] = [None, *ROUTES, "routes=False"]
    print("| corpus | slice | all routes (MB/s) | " + " | ".join(f"without {v}" for v in variants[1:]) + " |")
    print("|---|---|---|" + "---|" * (len(variants) - 1))
    for corpus in bench.corpora(args.quick):
        if corpus.kind != "sse":
            continue
        for size in sizes:
            data = corpus.build(corpus.scales[size])
            chunks = bench.cut(data, size)
            times: dict[str | None, list[float]] = {v: [] for v in variants}
            counts = set()
            for _ in range(args.rounds):
                for variant in variants:
                    gc.collect()
                    if variant == "routes=False":
                        t0 = bench._clock()
                        counts.add(feed_all(chunks, routes=False))
                    else:
                        with without(variant):
                            t0 = bench._clock()
                            counts.add(feed_all(chunks))
                    times[variant].append(bench._clock() - t0)
            if len(counts) != 1:
                raise SystemExit(f"{corpus.name} {size} B: the variants counted different events: {counts}")
            base = statistics.median(times[None])
            cells = [f"x{base / statistics.median(times[v]):.2f}" for v in variants[1:]]
            print(f"| {corpus.name} | {size} B | {len(data) / 1e6 / base:.1f} | " + " | ".join(cells) + " |")
            sys.stdout.flush()
    print("\nCells: feed() throughput with that route off, relative to every route on (x1.00 = no gain).")


if __name__ == "__main__":
    main()
