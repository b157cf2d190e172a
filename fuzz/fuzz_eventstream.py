"""Fuzz the AWS event-stream parser with raw bytes and with encoder-built frames, then damaged.

The control byte (first input byte) picks the mode; the rest is the body:
- ``control & 0x80`` set, "raw": the body is fed as frames (seeds are the recorded Bedrock bodies).
- otherwise "built": the body is a recipe (``_recipe``) for 1-4 frames made by
  ``encode_event_stream_message``, and ``control % 4`` picks what happens to the bytes:
  0 intact, 1 one byte changed (CRC32 catches any single-byte change, so this *must* fail at that
  frame), 2 one byte changed and that frame's CRCs recomputed (a well-checksummed lie: lengths and
  header types may now be absurd), 3 truncated at an arbitrary offset.

Invariants: every split (whole, fuzzer-chosen, byte by byte for small inputs) gives the same
messages and the same outcome; the only exceptions are ``RemoteProtocolError`` subclasses and the
parser refuses work afterwards; intact frames come back equal to what was encoded; a damaged frame
never yields a message, and every frame before the damage still does.

Run: ``python fuzz/fuzz_eventstream.py fuzz/corpus-eventstream -max_len=4096`` (see fuzz/README.md).
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import drain_outcome, feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.core import EventStreamParser, encode_event_stream_message
    from sansstream.model import (
        EventStreamMessage,
        LocalProtocolError,
    )

Msg = tuple[tuple[tuple[str, str, str], ...], bytes]  # ((name, type name, repr value), ...), payload
Outcome = tuple[tuple[Msg, ...], str | None]


def _msg(ev: EventStreamMessage) -> Msg:
    heads = tuple(sorted((k, type(v).__name__, repr(v)) for k, v in ev.headers.items()))
    return heads, bytes(ev.payload)


def run_parser(chunks: list[bytes], limit: int | None = None) -> Outcome:
    parser = EventStreamParser(max_message_size=limit)
    return drain_outcome(parser, chunks, EventStreamMessage, _msg)


class _Reader:
    """Turns fuzz bytes into choices; reads zeros once the bytes run out (so every input is a
    recipe)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int_(self, size: int, signed: bool = True) -> int:
        return int.from_bytes(self.take(size).ljust(size, b"\0"), "big", signed=signed)


_INT_SIZES = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}  # header type code -> bytes of its integer


def _recipe(r: _Reader) -> list[tuple[list[tuple[str, Any, int]], bytes]]:
    frames = []
    for _ in range(1 + r.byte() % 4):
        headers: list[tuple[str, Any, int]] = []
        for _ in range(r.byte() % 5):
            name = r.take(1 + r.byte() % 12).decode("utf-8", "replace")[:60] or "h"
            kind = r.byte() % 10
            value: Any
            if kind in (0, 1):
                value = kind == 0
            elif kind in _INT_SIZES:
                value = r.int_(_INT_SIZES[kind])
            elif kind == 6:
                value = r.take(r.byte() % 40)
            elif kind == 7:
                value = r.take(r.byte() % 40).decode("utf-8", "replace")
            else:
                value = r.take(16).ljust(16, b"\0")
            headers.append((name, value, kind))
        payload = r.take(r.byte() % 64)
        frames.append((headers, payload))
    return frames


def _expected(headers: list[tuple[str, Any, int]], payload: bytes) -> Msg:
    """What the parser must return for a frame built from ``headers`` (last name wins)."""
    parser = EventStreamParser()
    (ev,) = parser.feed(encode_event_stream_message(headers, payload))
    final: dict[str, Any] = {}
    for name, value, kind in headers:
        final[name] = (kind, value)
    got = _msg(ev)
    assert {name for name, _t, _v in got[0]} == set(final), "header names lost or invented"
    for name, _type, shown in got[0]:
        kind, value = final[name]
        parsed = ev.headers[name]
        assert parsed == value, f"header {name!r} type {kind}: {shown} != {value!r}"
        assert isinstance(parsed, bool) == (kind in (0, 1)), f"header {name!r}: bool-ness changed"
    assert ev.payload == payload
    return got


def _fix_crcs(frame: bytearray) -> None:
    """Recompute both CRCs of ``frame`` in place, trusting the bytes as they now are."""
    frame[8:12] = struct.pack(">I", zlib.crc32(bytes(frame[:8])))
    frame[-4:] = struct.pack(">I", zlib.crc32(bytes(frame[:-4])))


def check_built(control: int, body: bytes) -> None:
    r = _Reader(body)
    frames: list[bytes] = []
    expected: list[Msg] = []
    for headers, payload in _recipe(r):
        try:
            raw = encode_event_stream_message(headers, payload)
        except LocalProtocolError:
            continue  # the recipe asked for something the wire cannot carry (refused: fine)
        frames.append(raw)
        expected.append(_expected(headers, payload))
    if not frames:
        return
    mode = control % 4
    stream = bytearray(b"".join(frames))
    target = r.int_(2, signed=False) % len(stream)
    # Index of the frame holding `target`, and where that frame starts.
    start, which = 0, 0
    while start + len(frames[which]) <= target:
        start += len(frames[which])
        which += 1
    if mode == 1:
        stream[target] ^= 1 + r.byte() % 255
    elif mode == 2:
        frame = bytearray(frames[which])
        frame[target - start] ^= 1 + r.byte() % 255
        _fix_crcs(frame)
        stream[start : start + len(frame)] = frame
    elif mode == 3:
        del stream[target:]
    data = bytes(stream)

    outcomes = {run_parser(chunks) for _how, chunks in feeds(control, data)}
    assert len(outcomes) == 1, f"outcome depends on the split: {outcomes}"
    ((msgs, error),) = outcomes
    if mode == 0:
        assert error is None, f"intact frames refused: {error}"
        assert list(msgs) == expected, "intact frames misread"
    elif mode == 1:
        assert error is not None, "a corrupted byte went unnoticed"
        assert list(msgs) == expected[:which], "frames before the corrupted one were not all returned"
    elif mode == 2:
        assert list(msgs[:which]) == expected[:which], "frames before the damaged one changed"
    else:
        whole = target == start  # cut exactly at a frame boundary: a shorter, valid stream
        assert list(msgs) == expected[:which], "frames before the cut were not all returned"
        assert (error is None) == whole, f"truncation at {target} (frame starts {start}): {error}"


def check_raw(control: int, body: bytes) -> None:
    outcomes = {run_parser(chunks) for _how, chunks in feeds(control, body)}
    assert len(outcomes) == 1, f"outcome depends on the split: {outcomes}"
    ((msgs, _error),) = outcomes
    # A size limit must stop the stream cleanly: the frames before the limit fires are the same.
    limit = 16 + control % 200
    limited = {run_parser(chunks, limit) for _how, chunks in feeds(control, body)}
    assert len(limited) == 1, f"limit {limit}: outcome depends on the split: {limited}"
    ((lmsgs, _lerror),) = limited
    assert lmsgs == msgs[: len(lmsgs)], "limited frames are not a prefix of the unlimited ones"


def check(data: bytes) -> None:
    control, body = split_input(data)
    if control & 0x80:
        check_raw(control, body)
    else:
        check_built(control, body)


if __name__ == "__main__":
    run(check)
