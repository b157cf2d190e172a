"""Plumbing shared by the fuzz harnesses: input layout, slicing, mutation, and the atheris runner.

Every harness exposes ``check(data: bytes) -> None``, a pure function that raises
``AssertionError`` (or lets a foreign exception escape) when an invariant breaks. The same function
serves three masters: atheris (coverage-guided, ``python fuzz/fuzz_X.py``), the deterministic CI
smoke test (``tests/test_fuzz_smoke.py``) and regression tests for any crash found.

Input layout: the first byte steers how the body is cut into chunks (``split_plan``), the rest is
the body. Keeping the control byte separate from the body means seeds are just ``b"\\x00" + body``
and a mutation of the body never changes the split (and vice versa), which keeps crashes readable.

This module must not import sansstream at import time: under atheris the harness imports the
library inside ``atheris.instrument_imports()`` so that coverage feedback reaches the library.
"""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
# The oracle and the data-location helpers live with the tests.
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

# Bodies are truncated to this many bytes so the work per input stays bounded (the fuzzer's
# -max_len usually keeps inputs far smaller anyway).
MAX_BODY = 64 * 1024
# Bodies up to this size are also fed one byte at a time: the harshest split, but O(n) calls.
BYTEWISE_LIMIT = 4096


def instrumented(active: bool) -> contextlib.AbstractContextManager[object]:
    """Wrap a harness's library imports. ``active`` (the harness runs as ``__main__``, i.e. under
    atheris) turns on coverage instrumentation of the ``sansstream`` package; otherwise (smoke
    tests, regression tests) the imports are plain."""
    if active:
        import atheris

        return atheris.instrument_imports(include=["sansstream"])  # type: ignore[no-any-return]
    return contextlib.nullcontext()


def split_input(data: bytes) -> tuple[int, bytes]:
    """(control byte, body) of a fuzz input."""
    if not data:
        return 0, b""
    return data[0], data[1 : 1 + MAX_BODY]


def split_plan(control: int, body: bytes) -> list[bytes]:
    """Cut ``body`` as the control byte says: a seeded random cut whose largest chunk size is
    chosen by the control byte (1..256), so both tiny and coarse splits are reachable."""
    max_size = 1 << (control % 9)  # 1, 2, 4, ... 256
    rng = random.Random(control)
    out: list[bytes] = []
    i = 0
    while i < len(body):
        n = rng.randint(1, max_size)
        out.append(body[i : i + n])
        i += n
    return out


def feeds(control: int, body: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """The splits every harness checks for invariance: whole, fuzzer-chosen, and (for small
    bodies) one byte at a time."""
    yield "whole", [body] if body else []
    yield f"plan{control}", split_plan(control, body)
    if len(body) <= BYTEWISE_LIMIT:
        yield "bytewise", [body[i : i + 1] for i in range(len(body))]


# ---- mutation (for the CI smoke run; atheris has its own mutators) ----------------------------

TOKENS: tuple[bytes, ...] = (
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\r\r",
    b":",
    b": ",
    b"data:",
    b"data: ",
    b"event:",
    b"id:",
    b"retry:",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\x00",
    b"[DONE]",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b'"',
    b"\\",
    b"null",
    b"1e999",
    b"-0",
    b"\\ud800",
)


def mutate(rng: random.Random, data: bytes, others: list[bytes], tokens: tuple[bytes, ...] = TOKENS) -> bytes:
    """One to four random edits: flip, insert a byte or token, delete or duplicate a range,
    splice a piece of another seed. Deterministic given ``rng``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2:
            buf[pos:pos] = rng.choice(tokens)
        elif op == 3 and buf:
            end = min(len(buf), pos + rng.randint(1, 32))
            del buf[pos:end]
        elif op == 4 and buf:
            end = min(len(buf), pos + rng.randint(1, 64))
            buf[pos:pos] = buf[pos:end] * rng.randint(1, 4)
        elif op == 5 and others:
            other = rng.choice(others)
            a = rng.randint(0, len(other))
            buf[pos:pos] = other[a : a + rng.randint(1, 128)]
        elif op == 6 and buf:
            buf[rng.randrange(len(buf))] = rng.choice(b"\r\n:\x00 ")
    return bytes(buf[: MAX_BODY + 1])


def random_input(rng: random.Random, max_len: int = 512) -> bytes:
    """Random bytes biased towards stream syntax, so random inputs reach past the first line."""
    parts: list[bytes] = [bytes([rng.randrange(256)])]
    size = 1
    while size < rng.randint(1, max_len):
        piece = (
            rng.choice(TOKENS)
            if rng.random() < 0.5
            else bytes(
                rng.randrange(256) if rng.random() < 0.2 else rng.choice(b'abcxyz019 {}"')
                for _ in range(rng.randint(1, 8))
            )
        )
        parts.append(piece)
        size += len(piece)
    return b"".join(parts)


# ---- runner -------------------------------------------------------------------------------------


def run(check: Callable[[bytes], None]) -> None:
    """Start atheris on ``check`` with the command-line arguments (corpus dirs, -runs, ...)."""
    import atheris

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


T = TypeVar("T")


def drain_outcome(
    parser: Any, chunks: list[bytes], kind: type, convert: Callable[[Any], T]
) -> tuple[tuple[T, ...], str | None]:
    """Feed ``chunks`` then the end to an h11-style ``parser``; return the converted events and
    the name of the ``RemoteProtocolError`` class that ended it (or ``None``). Checks that only
    ``kind`` events come out and that a failed parser refuses further work."""
    from sansstream.model import END, NEED_DATA, RemoteProtocolError, SansStreamError

    items: list[T] = []
    try:
        for chunk in [*chunks, b""]:
            parser.receive_data(chunk)
            while True:
                ev = parser.next_event()
                if ev is NEED_DATA or ev is END:
                    break
                assert isinstance(ev, kind), f"unexpected event {ev!r}"
                items.append(convert(ev))
        assert parser.next_event() is END
    except RemoteProtocolError as exc:
        try:
            parser.next_event()
        except SansStreamError:
            pass
        else:
            raise AssertionError(f"{type(parser).__name__} kept working after an error") from exc
        return tuple(items), type(exc).__name__
    return tuple(items), None
