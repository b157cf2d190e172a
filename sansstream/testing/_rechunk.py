"""Re-slicing byte strings the way a network might deliver them.

A streaming parser must give the same events however its input is cut, so tests feed the same
bytes several ways: whole, one byte at a time, at random points (seeded, so a failure can be
replayed), or at explicit slice sizes. ``rechunk`` is the one entry point; it never loses or
reorders a byte (``b"".join(rechunk(data, mode)) == data`` always holds).

Example::

    >>> from sansstream.testing import rechunk
    >>> rechunk(b"data: hi\\n\\n", "whole")
    [b'data: hi\\n\\n']
    >>> rechunk(b"abc", "bytewise")
    [b'a', b'b', b'c']
    >>> rechunk(b"abcdef", [1, 2])           # sizes repeat until the data is used up
    [b'a', b'bc', b'd', b'ef']
    >>> b"".join(rechunk(b"x" * 100, "random", seed=7)) == b"x" * 100
    True
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from typing import Literal

from ..model import LocalProtocolError

__all__ = ["rechunk", "at_offsets", "RechunkMode", "MODES"]

RechunkMode = Literal["whole", "bytewise", "random"]
MODES: tuple[RechunkMode, ...] = ("whole", "bytewise", "random")
"""The named modes, handy for ``pytest.mark.parametrize``."""


def rechunk(
    data: bytes,
    mode: RechunkMode | int | Sequence[int] = "random",
    *,
    seed: int | None = 0,
    max_size: int = 64,
) -> list[bytes]:
    """``data`` cut into slices.

    - ``"whole"``: one slice (none for empty data).
    - ``"bytewise"``: one byte per slice.
    - ``"random"``: slices of 1..``max_size`` bytes, drawn from ``random.Random(seed)``; the same
      seed gives the same cut (``seed=None`` draws a fresh one).
    - an int ``n``: slices of ``n`` bytes (the last may be shorter).
    - a sequence of sizes: used in turn, repeating, until the data is used up.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(f"rechunk() needs bytes, got {type(data).__name__}")
    data = bytes(data)
    if isinstance(mode, str):
        if mode == "whole":
            return [data] if data else []
        if mode == "bytewise":
            return [data[i : i + 1] for i in range(len(data))]
        if mode == "random":
            if max_size < 1:
                raise LocalProtocolError(f"max_size must be at least 1, got {max_size}")
            rng = random.Random(seed)
            return _by_sizes(data, (rng.randint(1, max_size) for _ in itertools.count()))
        raise LocalProtocolError(
            f"unknown rechunk mode {mode!r}; "
            "use 'whole', 'bytewise', 'random', a slice size or a list of sizes"
        )
    sizes = [mode] if isinstance(mode, int) else list(mode)
    if not sizes or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in sizes):
        raise LocalProtocolError(f"slice sizes must be positive integers, got {mode!r}")
    return _by_sizes(data, _cycle(sizes))


def _cycle(sizes: list[int]) -> Iterable[int]:
    return itertools.cycle(sizes)


def _by_sizes(data: bytes, sizes: Iterable[int]) -> list[bytes]:
    out: list[bytes] = []
    i = 0
    it = iter(sizes)
    while i < len(data):
        n = next(it)
        out.append(data[i : i + n])
        i += n
    return out


def at_offsets(data: bytes, offsets: Iterable[int]) -> list[bytes]:
    """``data`` cut so that a new slice starts at each offset (offsets outside 1..len-1 ignored)."""
    cuts = [0, *sorted({o for o in offsets if 0 < o < len(data)}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts) if b > a]
