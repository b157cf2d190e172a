"""Truncation is an error, for every provider's recordings.

For each fixture, the bytes are cut at wire-event boundaries (an evenly spread subset plus the
last few before the end, where the terminal marker is) and at some random offsets inside events.
The point where the stream becomes complete is found once, by feeding the whole recording
boundary by boundary into one decoder. Then, for every cut:

- at or before the start of the event that completes it, strict mode raises
  ``IncompleteStreamError`` whose ``partial`` result is exactly what the chunks delivered
  before the raise assemble to; at the end of that event and after it, no error;
- ``strict=False`` accepts a cut at an event boundary; a cut inside an event (a JSON line, an
  AWS frame, a JSON-array element) still raises ``IncompleteStreamError`` — strict only relaxes
  the terminal marker — and nothing else is ever raised.

In-band errors are passed as chunks here (``raise_errors=False``) so every fixture runs to its
end. Full every-byte cutting would be quadratic; the subset keeps this file to a few seconds.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest
from provider_support import (
    decode_all,
    fixture_cases,
    fixture_id,
    provider_available,
    provider_for_fixture,
    wire_event_offsets,
)

from sansstream.model import Accumulator, IncompleteStreamError
from sansstream.providers import StreamDecoder

ALL = fixture_cases()
CASES = [
    pytest.param(path, id=fixture_id(path))
    for path, _ in ALL
    if provider_available(provider_for_fixture(path)[0])
]
MAX_BOUNDARY_CUTS = 30
TAIL_CUTS = 4
RANDOM_CUTS = 6


def test_every_fixture_family_has_a_provider() -> None:
    families = {path.parent.name for path, _ in ALL}
    missing = sorted(
        f
        for f in families
        if not provider_available(provider_for_fixture(ALL[0][0].parent.parent / f / "x.sse")[0])
    )
    assert missing == []
    assert len(CASES) == len(ALL)


def frame_offsets(data: bytes) -> list[int]:
    """Ends of AWS event-stream frames (each starts with its big-endian total length)."""
    offsets, position = [], 0
    while position + 4 <= len(data):
        (total,) = struct.unpack_from(">I", data, position)
        if total < 16:
            break
        position += total
        offsets.append(position)
    return offsets


def element_offsets(data: bytes) -> list[int]:
    """Just after each comma between elements of a pretty-printed JSON array (``}\n,``)."""
    offsets, start = [], 0
    while (i := data.find(b"\n,", start)) != -1:
        offsets.append(i + 2)
        start = i + 2
    return offsets


def boundaries(path: Path, data: bytes) -> list[int]:
    if path.suffix == ".bin":
        found = frame_offsets(data)
    elif path.suffix == ".json":
        found = element_offsets(data)
    else:
        found = wire_event_offsets(data)
    # The end of the data counts too: a last event may end without a blank line.
    return sorted({b for b in found if 0 < b <= len(data)} | {len(data)})


def options(path: Path) -> tuple[str, dict[str, Any]]:
    name, opts = provider_for_fixture(path)
    return name, {**opts, "raise_errors": False}


def marker_start(path: Path, data: bytes, cuts: list[int]) -> int:
    """Where the event that completes the stream begins: every cut at or before it is
    truncation. (Cuts inside that event may be accepted: a last event that lacks only its
    blank line is delivered at end of input.)"""
    done_at = complete_at(path, data, cuts)
    earlier = [c for c in cuts if c < done_at]
    return earlier[-1] if earlier else 0


def complete_at(path: Path, data: bytes, cuts: list[int]) -> int:
    """The first boundary after which the decoder is complete, found in one incremental run."""
    name, opts = options(path)
    opts.pop("raise_errors")
    machine = StreamDecoder(name, raise_errors=False, **opts)
    previous = 0
    for cut in cuts:
        machine.feed(data[previous:cut])
        previous = cut
        if machine.complete:
            return cut
    machine.feed(b"")  # an unterminated last event is dispatched at the end of input
    if machine.complete:
        return len(data)
    raise AssertionError(f"{path.name}: the whole recording never completes")


def check_cut(path: Path, data: bytes, cut: int, *, must_fail: bool) -> None:
    name, opts = options(path)
    decoded = decode_all(name, data[:cut], **opts)
    if not must_fail:
        assert decoded.error is None, f"cut at {cut}: {decoded.error!r}"
        return
    assert isinstance(decoded.error, IncompleteStreamError), f"cut at {cut}: {decoded.error!r}"
    assert decoded.error.partial is not None
    expected = Accumulator()
    for chunk in decoded.chunks:
        expected.add(chunk)
    assert decoded.error.partial == expected.result()
    assert decoded.error.provider == name


@pytest.mark.parametrize("path", CASES)
def test_cut_before_the_terminal_marker_is_incomplete(path: Path) -> None:
    data = path.read_bytes()
    every = boundaries(path, data)
    start = marker_start(path, data, every)
    step = max(1, len(every) // MAX_BOUNDARY_CUTS)
    cuts = set(every[::step]) | set(every[-TAIL_CUTS:])
    before = [b for b in every if b <= start]
    cuts |= set(before[-TAIL_CUTS:])  # just before the marker: the most telling cuts
    for cut in sorted(cuts):
        check_cut(path, data, cut, must_fail=cut <= start)
        # strict=False accepts any cut at an event boundary; a JSON array without its closing
        # bracket is itself a cut frame, so it stays incomplete.
        name, opts = options(path)
        relaxed = decode_all(name, data[:cut], strict=False, **opts)
        if path.suffix == ".json" and cut < len(data):
            assert isinstance(relaxed.error, IncompleteStreamError)
        else:
            assert relaxed.error is None, f"cut at {cut}: {relaxed.error!r}"


@pytest.mark.parametrize("path", CASES)
def test_cut_inside_an_event(path: Path) -> None:
    data = path.read_bytes()
    every = set(boundaries(path, data))
    rng = random.Random(path.name)
    inside = [o for o in rng.sample(range(1, len(data)), min(len(data) - 1, 40)) if o not in every]
    start = marker_start(path, data, sorted(every))
    name, opts = options(path)
    # One cut just inside the terminal event, then random ones.
    for cut in [start + 1, *inside[:RANDOM_CUTS]]:
        if cut <= start + 1 and cut < len(data):
            check_cut(path, data, cut, must_fail=True)
        strict = decode_all(name, data[:cut], **opts)
        assert strict.error is None or isinstance(strict.error, IncompleteStreamError), repr(strict.error)
        relaxed = decode_all(name, data[:cut], strict=False, **opts)
        assert relaxed.error is None or isinstance(relaxed.error, IncompleteStreamError), repr(relaxed.error)


@pytest.mark.parametrize("path", CASES)
def test_empty_body_is_incomplete(path: Path) -> None:
    name, opts = options(path)
    decoded = decode_all(name, b"", **opts)
    assert isinstance(decoded.error, IncompleteStreamError)
    assert decoded.chunks == []
    relaxed = decode_all(name, b"", strict=False, **opts).error
    if path.suffix == ".json":  # not even the opening bracket of the array arrived
        assert isinstance(relaxed, IncompleteStreamError)
    else:
        assert relaxed is None
