"""Fuzz the incremental partial-JSON parser (``sansstream.core._partialjson``).

Invariants for each input (control byte + body, see ``_harness``):
1. Every split (whole, fuzzer-chosen, byte by byte for small bodies) ends the same way: the same
   final value, or the same error class. Only ``RemoteProtocolError`` and its subclasses escape
   (deep nesting included: no ``RecursionError``), and a failed parser refuses further input.
2. The final value equals ``json.loads`` of the whole body (UTF-8, ``NaN``/``Infinity`` refused),
   and the parser fails exactly when that reading fails (or nests deeper than ``max_depth``).
3. After every chunk, when the bytes so far are a UTF-8 prefix and the official SDKs' partial
   parser (jiter ``from_json(..., partial_mode=True)``, what openai and anthropic call) gives a
   value, the parser's partial value is that value.

Run: ``python fuzz/fuzz_partialjson.py fuzz/corpus-partialjson -max_len=4096`` (see fuzz/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.core._partialjson import PartialJSONParser
    from sansstream.model import RemoteProtocolError

jiter: Any
try:
    import jiter
except ImportError:  # the oracle of invariant 3 comes with the openai SDK (a test dependency)
    jiter = None

MAX_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def oracle(body: bytes) -> tuple[str, Any]:
    try:
        return "ok", json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        return "deep", None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, huge integers, NaN
        return "error", None


def _same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b)


def run_parser(chunks: list[bytes], *, check_partials: bool) -> tuple[str, Any]:
    parser = PartialJSONParser(max_depth=MAX_DEPTH)
    seen = b""
    try:
        for chunk in chunks:
            parser.feed(chunk)
            seen += chunk
            if check_partials and jiter is not None:
                _check_partial(parser, seen)
        value = parser.close()
    except RemoteProtocolError as exc:
        for attempt in (lambda: parser.feed(b"1"), parser.close):
            try:
                attempt()
            except RemoteProtocolError:
                pass
            else:
                raise AssertionError("a failed parser accepted more work") from exc
        depth = "max_depth" in str(exc)
        return ("deep" if depth else type(exc).__name__), None
    return "ok", value


def _check_partial(parser: PartialJSONParser, seen: bytes) -> None:
    try:
        seen.decode("utf-8")
        want = jiter.from_json(seen, partial_mode=True)
    except ValueError:
        return
    got = parser.value if parser.has_value else None
    if parser.has_value or want is not None:
        assert _same(got, want), (seen[-200:], got, want)


def check(data: bytes) -> None:
    control, body = split_input(data)
    outcomes = {}
    for name, chunks in feeds(control, body):
        outcomes[name] = run_parser(chunks, check_partials=name != "bytewise" or len(body) <= 512)
    first = next(iter(outcomes.values()))
    for name, outcome in outcomes.items():
        assert outcome[0] == first[0], (name, outcome[0], first[0])
        assert _same(outcome[1], first[1]), name
    want = oracle(body)
    kind, value = first
    if kind == "deep" or want[0] == "deep":
        return
    if want[0] == "ok":
        assert kind == "ok", (kind, want)
        assert _same(value, want[1]), (value, want[1])
    else:
        assert kind != "ok", ("parsed what json.loads refuses", value)


if __name__ == "__main__":
    run(check)
