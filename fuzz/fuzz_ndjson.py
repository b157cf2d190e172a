"""Fuzz the NDJSON parser: split invariance, only our errors, and agreement with a whole-body oracle.

Invariants for each input (control byte + body, see ``_harness``):
1. Every split (whole, fuzzer-chosen, byte by byte for small bodies) yields the same values (with
   the same line numbers and indices) and then the same outcome: clean end, or the same error class.
2. The only exceptions are ``RemoteProtocolError`` and its subclasses (deep nesting included:
   ``RecursionError`` must not escape); afterwards the parser refuses work with one of our errors.
3. The values equal a naive whole-body reading (split on LF, drop one CR, skip blank lines,
   ``json.loads`` with U+FFFD for bad UTF-8), and an error happens exactly where that reading fails.
4. With a small ``max_line_size`` the same holds up to an ``EventTooLargeError``.

Run: ``python fuzz/fuzz_ndjson.py fuzz/corpus-ndjson -max_len=4096`` (see fuzz/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import drain_outcome, feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.core import NDJSONParser
    from sansstream.model import JSONValue

Item = tuple[str, int, int]  # (repr of the value, line, index)
Outcome = tuple[tuple[Item, ...], str | None]


def _item(ev: JSONValue) -> Item:
    # repr, not ==: NaN is a legal value for json.loads and never equals itself.
    return (repr(ev.value), ev.line, ev.index)


def run_parser(chunks: list[bytes], limit: int | None) -> Outcome:
    parser = NDJSONParser(max_line_size=limit)
    return drain_outcome(parser, chunks, JSONValue, _item)


def oracle(body: bytes) -> tuple[list[Item], bool, bool]:
    """(items, failed, unsure): ``unsure`` when json hit its recursion limit, whose depth
    depends on the caller's stack and so cannot be compared exactly."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    items: list[Item] = []
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip(b" \t\r"):
            continue
        try:
            value: Any = json.loads(line.decode("utf-8", "replace"))
        except RecursionError:
            return items, True, True
        except ValueError:
            return items, True, False
        items.append((repr(value), number, len(items)))
    return items, False, False


def check(data: bytes) -> None:
    control, body = split_input(data)
    want, failed, unsure = oracle(body)

    outcomes: set[Outcome] = set()
    for _how, chunks in feeds(control, body):
        outcomes.add(run_parser(chunks, None))
    assert len(outcomes) == 1, f"outcome depends on the split for {body!r}: {outcomes}"
    ((items, error),) = outcomes
    if not unsure:
        assert list(items) == want, f"values differ from the oracle for {body!r}:\n{items}\n{want}"
        assert (error is not None) == failed, f"error {error} but oracle failed={failed} for {body!r}"

    limit = 1 + (control * 13) % 61
    limited: set[Outcome] = set()
    for _how, chunks in feeds(control, body):
        limited.add(run_parser(chunks, limit))
    assert len(limited) == 1, f"limit {limit}: outcome depends on the split for {body!r}: {limited}"
    ((litems, _lerror),) = limited
    assert litems == items[: len(litems)], "limited values are not a prefix of the unlimited ones"


if __name__ == "__main__":
    run(check)
