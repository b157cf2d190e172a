"""Fuzz the streamed-JSON-array parser: split invariance, only our errors, whole-body agreement.

Invariants for each input (control byte + body, see ``_harness``):
1. Every split (whole, fuzzer-chosen, byte by byte for small bodies) yields the same elements
   (value, line, index) and the same outcome (clean end or the same error class).
2. The only exceptions are ``RemoteProtocolError`` subclasses (``RecursionError`` from deep
   nesting included); afterwards the parser refuses work with one of our errors.
3. When ``json.loads`` of the whole body (BOM stripped, U+FFFD for bad UTF-8) gives a list, the
   parser returns exactly its elements and no error; a top-level object comes back as one value;
   when the whole body is not valid JSON the parser ends in an error.
4. With a small ``max_element_size`` the elements are a prefix of the unlimited run's.

Run: ``python fuzz/fuzz_jsonarray.py fuzz/corpus-jsonarray -max_len=4096`` (see fuzz/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import drain_outcome, feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.core import JSONArrayParser
    from sansstream.model import JSONValue

Item = tuple[str, int, int]  # (repr of the value, line, index)
Outcome = tuple[tuple[Item, ...], str | None]


def run_parser(chunks: list[bytes], limit: int | None) -> Outcome:
    parser = JSONArrayParser(max_element_size=limit)
    return drain_outcome(parser, chunks, JSONValue, lambda ev: (repr(ev.value), ev.line, ev.index))


def oracle(body: bytes) -> tuple[list[str] | None, bool]:
    """(reprs of the expected elements or None if the body is not a valid array/object, unsure)."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        value: Any = json.loads(body.decode("utf-8", "replace"))
    except RecursionError:
        return None, True
    except ValueError:
        return None, False
    if isinstance(value, list):
        return [repr(v) for v in value], False
    if isinstance(value, dict):
        return [repr(value)], False
    return None, False


def check(data: bytes) -> None:
    control, body = split_input(data)
    outcomes: set[Outcome] = set()
    for _how, chunks in feeds(control, body):
        outcomes.add(run_parser(chunks, None))
    assert len(outcomes) == 1, f"outcome depends on the split for {body!r}: {outcomes}"
    ((items, error),) = outcomes

    want, unsure = oracle(body)
    if not unsure:
        if want is None:
            assert error is not None, f"invalid body accepted: {body!r} -> {items}"
        else:
            assert error is None, f"valid array refused ({error}): {body!r}"
            assert [r for r, _line, _index in items] == want, f"elements differ for {body!r}"
            assert [i for _r, _line, i in items] == list(range(len(want)))

    limit = 1 + (control * 13) % 61
    limited: set[Outcome] = set()
    for _how, chunks in feeds(control, body):
        limited.add(run_parser(chunks, limit))
    assert len(limited) == 1, f"limit {limit}: outcome depends on the split for {body!r}: {limited}"
    ((litems, _lerror),) = limited
    assert litems == items[: len(litems)], "limited elements are not a prefix of the unlimited ones"


if __name__ == "__main__":
    run(check)
