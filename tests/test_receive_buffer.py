"""The receive buffer the line framings share (``core/_receive.py``), on its own: whatever the
slicing, the lines it hands out are the stream's lines (one leading BOM dropped; with
``cr_ends_lines`` every CR, LF and CRLF handed out as one LF), the rest waits in ``tail``, and
bytes that would carry a line past ``room`` are refused with nothing kept."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sansstream.core import gather_lines
from sansstream.core._receive import BOM, GATHER, LineBuffer, strip_bom


def _normalised(body: bytes, cr: bool) -> bytes:
    if body.startswith(BOM):
        body = body[3:]
    return body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if cr else body


def _through(chunks: list[bytes], cr: bool) -> tuple[bytes, bytes]:
    buf = LineBuffer(cr_ends_lines=cr)
    out = bytearray()
    for chunk in chunks:
        region = buf.take(chunk, 1 << 62)
        assert region is not None
        if region:
            assert region.endswith(b"\n")
            assert b"\r" not in region or not cr
        out += region
        assert b"\n" not in buf.tail
        assert not cr or b"\r" not in buf.tail
    return bytes(out), buf.finish()


@settings(max_examples=400, deadline=None)
@given(
    body=st.lists(
        st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"\xef", b"\xbb", b"\xbf", BOM]), max_size=40
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    cr=st.booleans(),
)
def test_lines_out_are_the_stream_lines_for_any_cut(body: list[bytes], cuts: list[int], cr: bool) -> None:
    data = b"".join(body)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    lines, rest = _through(chunks, cr)
    if len(data) < 3 and BOM.startswith(data):
        assert (lines, rest) == (b"", data)  # maybe a BOM still: held, never parsed as lines
    else:
        assert lines + rest == _normalised(data, cr)


def test_a_split_crlf_is_one_line_end() -> None:
    assert _through([b"a\r", b"\nb\r", b"\n"], True) == (b"a\nb\n", b"")
    assert _through([b"a\r", b"\r", b"\n"], True) == (b"a\n\n", b"")  # CR, then CRLF: two ends
    assert _through([b"a\r", b"\nb"], False) == (b"a\r\n", b"b")  # NDJSON: the CR stays


def test_the_bom_is_dropped_only_at_the_start_even_split() -> None:
    assert _through([b"\xef", b"\xbb", b"\xbfx\n\xef\xbb\xbfy\n"], False) == (b"x\n\xef\xbb\xbfy\n", b"")
    assert _through([b"\xef\xbb", b"z\n"], False) == (b"\xef\xbbz\n", b"")
    assert strip_bom(b"\xef") is None
    assert strip_bom(b"\xefx") == b"\xefx"


def test_room_refuses_before_holding() -> None:
    buf = LineBuffer(cr_ends_lines=True)
    assert buf.take(b"data: abc", 20) == b""
    assert buf.take(b"x" * 20, 20) is None
    assert buf.overflow == 29
    assert bytes(buf.tail) == b"data: abc"  # nothing of the refused bytes was kept
    assert buf.take(b"\n", 20) == b"data: abc\n"  # a line end is never refused


def test_the_tail_is_the_callers_bytes_until_it_grows() -> None:
    buf = LineBuffer(cr_ends_lines=True)
    buf.take(b"", 100)
    big = b"y" * 1000 + b"\nrest"
    buf.take(big, 1 << 62)
    assert buf.tail == b"rest"
    piece = b"z" * 50
    buf = LineBuffer(cr_ends_lines=False)
    buf.take(b"ok", 100)  # settles the BOM question
    buf.take(piece, 1 << 62)
    assert buf.tail is not piece  # joined with what was there: a bytearray now
    grown = buf.appendable()
    assert grown is buf.appendable()  # converted once


def test_gather_lines_joins_slices_that_end_no_line() -> None:
    rng = random.Random(3)
    data = b"".join(rng.choice([b"ab", b"c", b"\n", b"\r", b""]) for _ in range(500))
    slices = [data[i : i + 3] for i in range(0, len(data), 3)] + [b""]
    out = list(gather_lines(slices))
    assert b"".join(out) == data
    assert all(piece for piece in out)  # empty slices dropped
    for piece in out[:-1]:
        assert b"\n" in piece or b"\r" in piece or len(piece) >= GATHER
    long = [b"x"] * (GATHER + 10)
    assert [len(p) for p in gather_lines(long)] == [GATHER, 10]
