"""Throughput of partial JSON as it streams: ``PartialJSONParser`` against re-parsing the growing
buffer after every fragment (``json.loads`` of a closed-up copy, and jiter ``from_json(...,
partial_mode=True)``, what the openai and anthropic SDKs do per delta).

    .venv/bin/python benchmarks/partial_json.py                 # default sizes and fragment sizes
    .venv/bin/python benchmarks/partial_json.py --sizes 1000,100000 --fragments 4,64

For each document size (a tool-call-like JSON object of about that many bytes) and fragment size,
every implementation reads the value after each fragment, as a UI showing the partial object
would. Times are the best of ``--rounds`` in process CPU time. The re-parsing rows are quadratic in
the document size, so they are skipped above ``--reparse-limit`` bytes (shown as "-").

``json.loads`` cannot read a prefix; its row closes the prefix with the brackets still open
(tracked naively) and drops the prefix when that is still invalid, which is a lower bound on what a
re-parsing partial parser costs.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from sansstream.core._partialjson import PartialJSONParser

jiter: Any
try:
    import jiter
except ImportError:  # pragma: no cover - jiter comes with the openai SDK
    jiter = None


def document(size: int, seed: int = 1) -> bytes:
    """A JSON object of about ``size`` bytes shaped like tool arguments and structured output."""
    rng = random.Random(seed)
    items: list[Any] = []
    value = {"query": "weather in Paris", "limit": 10, "items": items}
    n = 0
    while n < size:
        item = {
            "id": rng.randrange(10**6),
            "name": "".join(rng.choice("abcdefghij ") for _ in range(rng.randrange(5, 40))),
            "score": round(rng.random() * 100, 3),
            "tags": ["x", "é", "\u2603"][: rng.randrange(4)],
            "ok": rng.random() < 0.5,
        }
        items.append(item)
        n += len(json.dumps(item)) + 2
    return json.dumps(value, ensure_ascii=False).encode()


def fragments(doc: bytes, size: int) -> list[bytes]:
    return [doc[i : i + size] for i in range(0, len(doc), size)]


def run_ours(frags: list[bytes]) -> Any:
    p = PartialJSONParser()
    v = None
    for f in frags:
        p.feed(f)
        v = p.value
    return v


def run_jiter(frags: list[bytes]) -> Any:
    buf = b""
    v = None
    for f in frags:
        buf += f
        try:
            v = jiter.from_json(buf, partial_mode=True)
        except ValueError:
            pass
    return v


def run_json_loads(frags: list[bytes]) -> Any:
    buf = b""
    v = None
    for f in frags:
        buf += f
        text = buf.decode("utf-8", "ignore")
        closers = []
        in_str = esc = False
        for ch in text:  # naive bracket tracking, itself linear per call like any re-parse
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "[{":
                closers.append("]" if ch == "[" else "}")
            elif ch in "]}":
                closers.pop()
        try:
            v = json.loads(text + ('"' if in_str else "") + "".join(reversed(closers)))
        except ValueError:
            pass
    return v


def best(fn: Callable[[list[bytes]], Any], frags: list[bytes], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.process_time()
        fn(frags)
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--fragments", default="4,16,64")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reparse-limit", type=int, default=100_000)
    args = ap.parse_args()
    rows: list[tuple[str, Callable[[list[bytes]], Any]]] = [("sansstream", run_ours)]
    if jiter is not None:
        rows.append(("jiter re-parse", run_jiter))
    rows.append(("json.loads re-parse", run_json_loads))
    print(f"{'doc bytes':>10} {'frag':>5} " + " ".join(f"{name:>22}" for name, _ in rows))
    for size in map(int, args.sizes.split(",")):
        doc = document(size)
        for fsize in map(int, args.fragments.split(",")):
            frags = fragments(doc, fsize)
            cells = []
            final = json.loads(doc)
            for name, fn in rows:
                if name != "sansstream" and len(doc) > args.reparse_limit:
                    cells.append(f"{'-':>22}")
                    continue
                assert fn(frags) == final, name
                secs = best(fn, frags, args.rounds)
                cells.append(f"{len(doc) / secs / 1e6:>15.2f} MB/s  ")
            print(f"{len(doc):>10} {fsize:>5} " + " ".join(cells))


if __name__ == "__main__":
    main()
