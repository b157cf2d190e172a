"""Fuzz every provider decoder through ``decode_stream``: only our errors, bounded work, split invariance.

Input layout: control byte, then ``<provider name> NUL <stream bytes>``; when the prefix is not a
registered name the whole body is the stream and the control byte picks the provider. Seeds are
the recorded fixtures (``make_corpus.py``), so mutations start from real wire events. Control bits:
``0x80`` Gemini's JSON-array framing instead of SSE, ``0x40`` ``strict=False``, ``0x20``
``raise_errors=False`` (in-band errors come out as ``StreamError`` chunks).

Invariants for each input:
1. Nothing but a ``SansStreamError`` escapes ``decode_stream`` (no KeyError, TypeError,
   IndexError, AttributeError, RecursionError from a provider decoder meeting a strange payload).
2. Work is bounded: at most ``MAX_CHUNKS_PER_BYTE`` chunks per input byte (plus a constant), so a
   decoder cannot loop on its own output; atheris' ``-timeout`` catches a real hang.
3. Whole, fuzzer-chosen and (small inputs) byte-by-byte feeding give the same chunks and the same
   error class.
4. The chunks fold into a ``ChatResult`` with ``Accumulator`` without raising.

Run: ``python fuzz/fuzz_providers.py fuzz/corpus-providers -max_len=16384 -timeout=10``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.model import Accumulator, SansStreamError
    from sansstream.providers import decode_stream, names

PROVIDERS: list[str] = sorted(names())
MAX_CHUNKS_PER_BYTE = 4  # a wire event is at least a few bytes; 4 chunks per byte is already absurd
Outcome = tuple[tuple[str, ...], str | None]


def parse_input(data: bytes) -> tuple[str, bytes, dict[str, object]]:
    """(provider, stream bytes, decode_stream options) of a fuzz input."""
    control, body = split_input(data)
    name = ""
    nul = body.find(b"\x00", 0, 32)
    if nul > 0:
        candidate = body[:nul].decode("ascii", "replace")
        if candidate in PROVIDERS:
            name, body = candidate, body[nul + 1 :]
    if not name:
        name = PROVIDERS[control % len(PROVIDERS)]
    options: dict[str, object] = {"strict": not control & 0x40, "raise_errors": not control & 0x20}
    if name == "gemini" and control & 0x80:
        options["framing"] = "json-array"
    return name, body, options


def run_pipeline(name: str, chunks: list[bytes], options: dict[str, object]) -> Outcome:
    total = sum(len(c) for c in chunks)
    budget = MAX_CHUNKS_PER_BYTE * total + 64
    out: list[str] = []
    acc = Accumulator()
    try:
        for chunk in decode_stream(name, chunks, **options):  # type: ignore[arg-type]
            out.append(repr(chunk))
            acc.add(chunk)
            assert len(out) <= budget, f"{name}: {len(out)} chunks from {total} bytes (runaway decoder)"
    except SansStreamError as exc:
        acc.result()
        return tuple(out), type(exc).__name__
    acc.result()
    return tuple(out), None


def check(data: bytes) -> None:
    control, _ = split_input(data)
    name, body, options = parse_input(data)
    outcomes = {run_pipeline(name, chunks, options) for _how, chunks in feeds(control, body)}
    assert len(outcomes) == 1, f"{name} {options}: outcome depends on the split:\n{outcomes}"


if __name__ == "__main__":
    run(check)
