"""CI smoke fuzzing: every fuzz harness's ``check`` over its seed corpus plus a fixed number of
mutated and random inputs, from a fixed seed.

Deterministic (same inputs every run) and short (a few seconds per harness), so a regression in
any parser, encoder or provider decoder that breaks a fuzz invariant fails CI with the exact
input in the message. The long, coverage-guided runs are ``python fuzz/fuzz_<target>.py``
(see fuzz/README.md); crashes they find become regression tests in this file or in
``test_bad_input.py``.
"""

from __future__ import annotations

import importlib
import random
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, ModuleType

import pytest
from support import ROOT

sys.path.insert(0, str(ROOT / "fuzz"))

import make_corpus
from _harness import mutate, random_input

# (target, mutated inputs, random inputs): sized so all harnesses together take tens of seconds
# on a slow shared machine; the provider pipeline is the most expensive per input.
PLAN: list[tuple[str, int, int]] = [
    ("sse", 1200, 400),
    ("ndjson", 1200, 400),
    ("jsonarray", 1200, 400),
    ("eventstream", 1200, 400),
    ("providers", 150, 30),
    ("roundtrip", 600, 600),
    ("partialjson", 600, 300),
]
SEED = 20240601
PER_INPUT_SECONDS = 10  # far above any legitimate input's cost: only a hang trips it


def _harness(target: str) -> ModuleType:
    return importlib.import_module(f"fuzz_{target}")


@contextmanager
def _deadline(seconds: int, what: str) -> Iterator[None]:
    """Fail (instead of hanging CI) when one input takes absurdly long."""

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise AssertionError(f"input took more than {seconds}s (hang?): {what}")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _inputs(target: str, n_mutated: int, n_random: int) -> Iterator[tuple[str, bytes]]:
    seeds = make_corpus.seeds(target)
    for i, data in enumerate(seeds):
        yield f"seed {i}", data
    rng = random.Random(f"{SEED}-{target}")
    for i in range(n_mutated):
        base = rng.choice(seeds)
        # Keep the control byte, mutate the body (and sometimes the control byte too).
        control = base[:1] if rng.random() < 0.7 else bytes([rng.randrange(256)])
        yield f"mutated {i}", control + mutate(rng, base[1:4097], seeds)
    for i in range(n_random):
        yield f"random {i}", random_input(rng)


@pytest.mark.parametrize(("target", "n_mutated", "n_random"), PLAN, ids=[p[0] for p in PLAN])
def test_harness_invariants_hold(target: str, n_mutated: int, n_random: int) -> None:
    check = _harness(target).check
    count = 0
    for label, data in _inputs(target, n_mutated, n_random):
        with _deadline(PER_INPUT_SECONDS, f"{target} {label}: {data[:200]!r}"):
            try:
                check(data)
            except Exception as exc:
                raise AssertionError(
                    f"fuzz_{target} invariant broken by {label} ({len(data)} bytes): {data[:300]!r}"
                ) from exc
        count += 1
    assert count > n_mutated + n_random  # the seeds were there too


def test_seed_corpora_are_deterministic() -> None:
    for target in make_corpus.TARGETS:
        assert make_corpus.seeds(target) == make_corpus.seeds(target), target
        assert len(make_corpus.seeds(target)) >= 20, target


def test_sse_seeds_cover_every_conformance_case() -> None:
    from support import conformance_dir

    bodies = {s[1:] for s in make_corpus.seeds("sse")}
    for path in (conformance_dir() / "streams").glob("*.sse"):
        assert path.read_bytes() in bodies, path.name


# -- regression inputs found by fuzzing (each was a real failure once) -------------------------


REGRESSIONS: list[tuple[str, bytes]] = [
    # SSE, max_event_size=24: a leading BOM was counted toward the limit when the BOM and the
    # rest arrived in one slice, not when they arrived apart (outcome depended on the split).
    ("sse", b'\xc0\xef\xbb\xbf]{aretry:9a"bx}event:{'),
    # SSE: a retry value of 5000 digits made int() raise ValueError (Python's digit limit).
    ("sse", b"\x00retry: " + b"9" * 5000 + b"\ndata: x\n\n"),
]


@pytest.mark.parametrize(
    ("target", "data"), REGRESSIONS, ids=[f"{t}-{i}" for i, (t, _d) in enumerate(REGRESSIONS)]
)
def test_fuzz_regression(target: str, data: bytes) -> None:
    _harness(target).check(data)


def test_fuzz_regression_bom_field_name_round_trip() -> None:
    # fuzz_roundtrip found that an SSEField named "\ufeff..." written first in a stream lost its
    # U+FEFF to BOM stripping. The encoder must refuse it or make it round-trip.
    from sansstream.core import SSEEncoder, SSEParser
    from sansstream.model import LocalProtocolError, SSEField

    field = SSEField("\ufeffx", "v")
    try:
        wire = SSEEncoder().encode(field)
    except LocalProtocolError:
        return
    parser = SSEParser(extra_fields="*")
    assert [*parser.feed(wire), *parser.feed(b"")] == [field]
