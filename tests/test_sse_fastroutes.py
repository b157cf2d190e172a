"""The SSE parser's bulk routes give exactly what the spec's line-by-line rules give.

Each test builds streams shaped to take one route (and near misses that must not take it),
cuts them many ways and compares the events with the spec oracle (tests/reference_sse.py).
Limits are checked against a small model of the spec's block size: the bytes of the block's
lines so far, line ends excluded; a stream fed in one slice must fail with exactly the size the
model gives, and any slicing must deliver the same events first.

Routes covered here:

* the bulk ``data:`` run (``_sse_routes.data_run``): the complete lines of a block still open
  (most of a big event), the rest of a block begun in earlier bytes, and a region that is
  nothing but ``data:`` lines;
* feed()'s route for small slices without CR (``_sse_routes.small_lines``): ``event``, ``data``
  and blank lines applied in place, anything else handed to the general rules mid-slice. It is
  compared step by step (results, ``last_event_id``, ``retry`` after every slice, and the
  error) with ``SSEParser(routes=False)`` driven by receive_data() + next_event(): the rules
  alone, through the pull API;
* regions of uniform blocks (``_sse_routes.uniform_blocks``): every block ``data:`` only, or
  ``event:`` then ``data:``, parsed in bulk; odd blocks placed at every position of a region
  and blocks over the limit must make it step aside;
* feed()'s route for one whole ``event`` + ``data`` block per slice.

A last property test mixes every kind of line, line end and slice size, with and without limits,
comments and extra fields, and compares feed() with the general route step by step.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_sse import reference_parse
from support import random_splits

from sansstream.core import SSEParser, iter_sse
from sansstream.model import END, NEED_DATA, EventTooLargeError, ServerSentEvent

Events = list[tuple[str, str, str, int | None]]


def _expected(body: bytes) -> Events:
    return [(e.type, e.data, e.last_event_id, e.retry) for e in reference_parse(body).events]


def _got(events: list[Any]) -> Events:
    assert all(type(e) is ServerSentEvent for e in events)
    return [(e.event, e.data, e.id, e.retry) for e in events]


def _fed(chunks: list[bytes], **opts: Any) -> tuple[Events, EventTooLargeError | None]:
    parser: SSEParser[Any] = SSEParser(**opts)
    events: list[Any] = []
    try:
        for chunk in [*chunks, b""]:
            events += parser.feed(chunk)
    except EventTooLargeError as exc:
        return _got(events), exc
    return _got(events), None


def _slicings(body: bytes, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    cuts = [[body]]
    for size in (1, 7, 64, 4096, rng.randint(2, 300)):
        cuts.append([body[i : i + size] for i in range(0, len(body), size)])
    for max_size in (16, 200, 3000):
        cuts.append(random_splits(body, seed=rng.randrange(10**6), max_size=max_size))
    return cuts


def _model_limit(body: bytes, limit: int) -> tuple[Events, int | None]:
    """What the spec's rules dispatch before a block's lines pass ``limit`` bytes, and the size
    the block had reached with the line that passed it (the unterminated last line counts too).
    For LF-only streams without a BOM."""
    lines = body.split(b"\n")
    size = 0
    consumed = 0
    for i, line in enumerate(lines):
        if line:
            size += len(line)
            if size > limit:
                return _expected(body[:consumed]), size
        else:
            size = 0
        consumed += len(line) + (1 if i < len(lines) - 1 else 0)
    return _expected(body), None


# -- the bulk data run -----------------------------------------------------------------------


def _data_lines(rng: random.Random, n: int) -> bytes:
    words = ["alpha", "β", "γάμμα", '{"k": 1}', "", " ", "data: x", ":", "ÿ"]
    out = []
    for _ in range(n):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        out.append(b"data: " + text.encode())
    return b"\n".join(out) + b"\n"


# Lines that look almost like ``data: `` lines, or are other fields, mixed into data runs.
NEAR_MISSES = [
    b"data:x",
    b"data:",
    b"data",
    b"data:  two spaces",
    b"dat: a",
    b"Data: a",
    b" data: a",
    b"data\xff: a",
    b"id: 7",
    b"id",
    b"event: e",
    b"retry: 10",
    b": comment data: a",
    b"xdata: a",
    b"",  # a blank line: dispatches in the middle of a run
]


def _big_stream(seed: int) -> bytes:
    """Big events made of many ``data:`` lines, some with an ``event`` line first, some with
    a near miss somewhere in the run (first, last or middle line), some bytes invalid UTF-8."""
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(2, 5)):
        head = rng.choice([b"", b"event: blob\n", b"id: 3\n", b"event: blob\nid: 4\n"])
        run = _data_lines(rng, rng.randint(1, 300))
        lines = run.split(b"\n")[:-1]
        for _ in range(rng.choice([0, 0, 1, 3])):
            lines.insert(rng.randint(0, len(lines)), rng.choice(NEAR_MISSES))
        if rng.random() < 0.2:
            lines.append(b"data: \xff\xc3 bad utf-8 \xed\xa0\x80")
        parts.append(head + b"\n".join(lines) + b"\n" + rng.choice([b"\n", b"\n", b"\n\n", b"\n\n\n"]))
    if rng.random() < 0.5:
        parts.append(b"data: unterminated\ndata: tail")
    return b"".join(parts)


@pytest.mark.parametrize("seed", range(40))
def test_data_runs_match_the_oracle_at_any_slicing(seed: int) -> None:
    body = _big_stream(seed)
    expected = _expected(body)
    for chunks in _slicings(body, seed):
        assert _fed(chunks) == (expected, None), [len(c) for c in chunks[:3]]
        assert _got(list(iter_sse(chunks))) == expected


def test_data_run_takes_lines_after_an_event_line_and_the_rest_of_a_block() -> None:
    # One big event in 4 KiB slices: the event line comes with the first data lines, the
    # middle slices are data lines only, the last one ends the block and starts another.
    line = b"data: " + "0123456789 ü ".encode() * 7 + b"\n"
    body = (b"event: blob\n" + line * 400 + b"\n") * 3 + b"data: last\n\n"
    expected = _expected(body)
    assert len(expected) == 4
    assert expected[0][1] == (line[6:-1].decode() + "\n") * 399 + line[6:-1].decode()
    for size in (4096, 65536, 777, 100, len(line), len(line) + 1, len(line) - 1):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert _fed(chunks) == (expected, None)


@pytest.mark.parametrize("seed", range(12))
def test_limit_inside_a_data_run_raises_like_the_line_rules(seed: int) -> None:
    rng = random.Random(seed)
    body = b"data: small\n\n" + b"event: e\n" + _data_lines(rng, 200) + b"\n" + b"data: after\n\n"
    block = len(body) - len(b"data: small\n\n") - len(b"\ndata: after\n\n")
    for limit in (rng.randint(20, 2000), rng.randint(2000, block), block - 1, block, block + 1):
        expected_events, expected_size = _model_limit(body, limit)
        events, error = _fed([body], max_event_size=limit)
        assert events == expected_events
        if expected_size is None:
            assert error is None
            continue
        assert error is not None
        assert error.size == expected_size
        assert error.limit == limit
        for chunks in _slicings(body, seed)[1:]:
            sliced_events, sliced_error = _fed(chunks, max_event_size=limit)
            assert sliced_events == expected_events
            assert sliced_error is not None
            assert sliced_error.size is not None
            # A slicing may refuse an unterminated part of the line that breaks the limit.
            assert limit < sliced_error.size <= expected_size


def test_a_data_run_at_exactly_the_limit_passes() -> None:
    run = b"data: abc\n" * 1000
    limit = len(run) - 1000  # line ends do not count
    body = run + b"\n"
    for chunks in _slicings(body, 5):
        events, error = _fed(chunks, max_event_size=limit)
        assert error is None
        assert events == [("message", "\n".join(["abc"] * 1000), "", None)]
        _, error = _fed(chunks, max_event_size=limit - 1)
        assert error is not None


# -- feed()'s small-slice lines route -----------------------------------------------------------

# Lines of every kind the rules know, weighted towards the ``event``/``data``/blank lines the
# route applies itself; the others make it hand over to the general rules mid-slice.
LINES = [
    b"event: content_block_delta",
    b"event: ping",
    b"event:",
    b"event: \xff\xfe",
    b"event: caf\xc3\xa9",
    b'data: {"type": "delta", "text": "h\xc3\xa9"}',
    b"data: {}",
    b"data:",
    b"data: ",
    b"data:no space",
    b"data: \xc3",
    b"",
    b"",
    b"",
    b"id: 42",
    b"id: \x00",
    b"id",
    b"retry: 1500",
    b"retry: x",
    b": keepalive",
    b":",
    b"custom: field",
    b"data",
    b"event",
    b"datum: x",
]


def _lines_stream(seed: int, n: int = 120) -> bytes:
    rng = random.Random(seed)
    weights = [6, 2, 1, 1, 1, 6, 2, 1, 1, 1, 1, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    lines = rng.choices(LINES, weights=weights, k=n)
    return b"\n".join(lines) + rng.choice([b"\n", b"\n\n", b"\ndata: tail"])


def _stepwise(chunks: list[bytes], use_feed: bool, **opts: Any) -> tuple[list[Any], Any, list[Any]]:
    """Everything returned, in order; the error that ended the stream (type, size, limit);
    and last_event_id and retry after each slice. With use_feed, feed() per slice (every route
    on); else receive_data() and next_event() on a parser with every route off (the rules alone
    are the reference). An error is raised one call later by feed() when results came before
    it, so the states are compared up to the shorter list."""
    parser: SSEParser[Any] = SSEParser(**opts) if use_feed else SSEParser(routes=False, **opts)
    results: list[Any] = []
    states: list[Any] = []
    try:
        for chunk in [*chunks, b""]:
            if use_feed:
                results += parser.feed(chunk)
            else:
                parser.receive_data(chunk)
                while (item := parser.next_event()) is not NEED_DATA and item is not END:
                    results.append(item)
            states.append((parser.last_event_id, parser.retry))
    except EventTooLargeError as exc:
        return results, (exc.size, exc.limit), states
    return results, None, states


def _same_steps(chunks: list[bytes], **opts: Any) -> None:
    fed, fed_error, fed_states = _stepwise(chunks, True, **opts)
    pulled, pulled_error, pulled_states = _stepwise(chunks, False, **opts)
    assert fed == pulled
    assert fed_error == pulled_error
    n = min(len(fed_states), len(pulled_states))
    assert fed_states[:n] == pulled_states[:n]
    assert n >= len(chunks) or fed_error is not None


@pytest.mark.parametrize("seed", range(30))
def test_small_slices_step_by_step_like_the_general_route(seed: int) -> None:
    body = _lines_stream(seed)
    expected = _expected(body)
    rng = random.Random(seed)
    for size in (7, 16, 64, 200, rng.randint(2, 256)):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert _fed(chunks) == (expected, None)
        _same_steps(chunks)
    for max_size in (30, 100, 256):
        chunks = random_splits(body, seed=rng.randrange(10**6), max_size=max_size)
        assert _fed(chunks) == (expected, None)
        _same_steps(chunks)
        # Comments and extra fields are results too: the same, in the same order.
        _same_steps(chunks, comments=True, extra_fields="*")
        _same_steps(chunks, extra_fields=("custom",))


@pytest.mark.parametrize("seed", range(20))
def test_small_slices_break_the_limit_where_the_general_route_does(seed: int) -> None:
    body = _lines_stream(seed, n=200)
    rng = random.Random(seed)
    blocks = [b for b in body.split(b"\n\n") if b]
    biggest = max(len(b) - b.count(b"\n") for b in blocks)
    for limit in (rng.randint(1, 40), rng.randint(40, max(41, biggest)), biggest, biggest - 1):
        if limit < 1:
            continue
        for size in (7, 64, rng.randint(2, 256)):
            chunks = [body[i : i + size] for i in range(0, len(body), size)]
            _same_steps(chunks, max_event_size=limit)
        events, error = _fed([body], max_event_size=limit)
        assert (events, error.size if error else None) == _model_limit(body, limit)


# -- regions of uniform blocks ------------------------------------------------------------------

PAIR = b'event: content_block_delta\ndata: {"type": "text_delta", "text": "h\xc3\xa9 %d"}\n\n'
SINGLE = b'data: {"choices": [{"delta": {"content": "\xe2\x82\xac%d"}}]}\n\n'
# Blocks that break the uniform shape when mixed in.
ODD_BLOCKS = [
    b"event: a\ndata: 1\ndata: 2\n\n",
    b"event:a\ndata: 1\n\n",
    b"event: a\ndata:1\n\n",
    b"event: \ndata: empty name\n\n",
    b"event: a\n\n",
    b"data: a\nevent: b\n\n",
    b"id: 5\ndata: x\n\n",
    b"event: a\nid: 6\n\n",
    b"retry: 20\ndata: y\n\n",
    b": note\ndata: z\n\n",
    b"custom: 1\ndata: w\n\n",
    b"data: a\ndata: b\n\n",
    b"data\n\n",
    b"\n",
    b"\n\n",
    b"event: \xff\ndata: \xfe\n\n",
    b"data: \xc3\n\n",
    b"event: e\ndata: " + b"long " * 200 + b"\n\n",
]


def _uniform_stream(seed: int) -> bytes:
    rng = random.Random(seed)
    parts = []
    for i in range(rng.randint(40, 160)):
        roll = rng.random()
        if roll < 0.08:
            parts.append(rng.choice(ODD_BLOCKS))
        else:
            parts.append((PAIR if (seed % 2 == 0) == (roll < 0.8) else SINGLE) % i)
    return b"".join(parts) + rng.choice([b"", b"event: open\ndata: never"])


@pytest.mark.parametrize("seed", range(30))
def test_uniform_blocks_match_the_oracle_and_the_general_route(seed: int) -> None:
    body = _uniform_stream(seed)
    expected = _expected(body)
    rng = random.Random(seed)
    for size in (512, 700, 1000, 4096, rng.randint(512, 3000)):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert _fed(chunks) == (expected, None)
        _same_steps(chunks)
        _same_steps(chunks, comments=True, extra_fields="*")
    assert _fed([body]) == (expected, None)
    assert _got(list(iter_sse(random_splits(body, seed=seed, max_size=5000)))) == expected


@pytest.mark.parametrize("seed", range(10))
def test_uniform_blocks_keep_the_limit(seed: int) -> None:
    body = b"data: open block " + b"x" * 300 + b"\n" + _uniform_stream(seed)
    rng = random.Random(seed)
    blocks = [b for b in body.split(b"\n\n") if b]
    biggest = max(len(b) - b.count(b"\n") for b in blocks)
    for limit in (biggest, biggest - 1, rng.randint(50, biggest), len(body) - 1, len(body)):
        for size in (600, 4096, rng.randint(512, 2000)):
            chunks = [body[i : i + size] for i in range(0, len(body), size)]
            _same_steps(chunks, max_event_size=limit)
        events, error = _fed([body], max_event_size=limit)
        assert (events, error.size if error else None) == _model_limit(body, limit)


@pytest.mark.parametrize("odd", ODD_BLOCKS)
@pytest.mark.parametrize("shape", [PAIR, SINGLE])
def test_one_odd_block_among_uniform_ones(odd: bytes, shape: bytes) -> None:
    # The odd block lands in the middle of a region of uniform blocks, at its start or end.
    for before in (0, 1, 5, 20):
        body = b"".join(shape % i for i in range(before)) + odd + b"".join(shape % i for i in range(20))
        expected = _expected(body)
        for size in (512, 600, 1024, len(body)):
            chunks = [body[i : i + size] for i in range(0, len(body), size)]
            assert _fed(chunks) == (expected, None)
            _same_steps(chunks)


@pytest.mark.parametrize("shape", [PAIR, SINGLE])
def test_a_uniform_block_over_the_limit(shape: bytes) -> None:
    big = shape.replace(b"%d", b"%d" + b"z" * 300)
    body = b"".join((big if i == 7 else shape) % i for i in range(30))
    block = big % 7
    limit = len(block) - block.count(b"\n") - 1
    events, error = _fed([body], max_event_size=limit)
    assert (events, error.size if error else None) == _model_limit(body, limit)
    assert len(events) == 7
    for size in (512, 800, 2048):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        _same_steps(chunks, max_event_size=limit)
        _same_steps(chunks, max_event_size=limit + 1)


@pytest.mark.parametrize("odd", ODD_BLOCKS)
def test_region_that_starts_with_the_blank_line_of_the_open_block(odd: bytes) -> None:
    # The slice before ends right after a line end, so this region starts with a blank line
    # (the first complete block is then the odd one, not the one after the first LF LF).
    for shape in (PAIR, SINGLE):
        head = b"event: open\ndata: 0\n"
        rest = b"\n" + odd + b"".join(shape % i for i in range(20))
        expected = _expected(head + rest)
        for cut in ([head, rest], [head[:-1], b"\n" + rest]):
            assert _fed(cut) == (expected, None)
            _same_steps(cut)


# -- feed()'s route for one whole event/data block ------------------------------------------------

WHOLE_PAIRS = [
    b"event: content_block_delta\ndata: {}\n\n",
    b"event: \ndata: empty name\n\n",
    b"event: ping\ndata: \n\n",
    b"event: \xffodd\ndata: x\n\n",
    b"event: e\ndata: \xc3\x28\n\n",
    b"event: e\ndata: two\ndata: lines\n\n",
    b"event: e\ndata:no space\n\n",
    b"event:e\ndata: 1\n\n",
    b"event: e\n\n",
    b"event: e\nid: 1\n\n",
    b"event: e\ndata: x\n\n\n",
    b"event: e\ndata: x\n\nevent: f\ndata: y\n\n",
    b"event: e\ndata: x\n\ndata: partial",
    b"event: e\ndata: x\n\nevent: f\ndata: partial",
]


@pytest.mark.parametrize("block", WHOLE_PAIRS)
def test_whole_blocks_one_per_slice(block: bytes) -> None:
    # Each slice is a whole block (as iter_sse hands them over), the first one fresh, some
    # after an id line, some after a partial line of their own first line.
    for prefix in (b"", b"id: 7\n\ndata: a\n\n", b"retry: 9\ndata: b\n\n"):
        for split in (0, 3, 9):
            body = prefix + block * 3 + b"data: end\n\n"
            chunks = [prefix, *([block[:split], block[split:]] * 3), b"data: end\n\n"]
            chunks = [c for c in chunks if c]
            assert _fed(chunks) == (_expected(body), None)
            _same_steps(chunks)
            limit = len(block) - block.count(b"\n")
            _same_steps(chunks, max_event_size=max(1, limit - 3))
            _same_steps(chunks, max_event_size=limit + 5)


def test_whole_block_then_a_partial_line_over_the_limit() -> None:
    for block in (b"event: e\ndata: x\n\n", b"data: x\n\n"):
        for end in ([b"\n\n"], [b"z"], []):
            # (Refused even when the stream ends next: the bytes were held over the limit.)
            chunks = [block, block + b"data: " + b"y" * 40, *end]
            _same_steps(chunks, max_event_size=30)
            events, error = _fed(chunks, max_event_size=30)
            assert len(events) == 2
            assert error is not None
            assert error.size == 46


# -- everything at once ---------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [*LINES, *[b.rstrip(b"\n") for b in ODD_BLOCKS], b"data: " + b"w" * 300, b"\xef\xbb\xbf", b"\xc3"]
)
_ENDS = st.sampled_from([b"\n", b"\n", b"\n", b"\r\n", b"\r"])


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.tuples(_PIECES, _ENDS), max_size=60),
    sizes=st.lists(st.sampled_from([1, 2, 7, 13, 64, 100, 256, 257, 600, 4096]), min_size=1, max_size=6),
    limit=st.sampled_from([None, 20, 100, 400, 1000]),
    options=st.sampled_from([{}, {"comments": True, "extra_fields": "*"}]),
)
def test_any_stream_any_slicing_like_the_general_route(
    lines: list[tuple[bytes, bytes]], sizes: list[int], limit: int | None, options: dict[str, Any]
) -> None:
    body = b"".join(line + end for line, end in lines)
    chunks = []
    at = 0
    i = 0
    while at < len(body):
        size = sizes[i % len(sizes)]
        chunks.append(body[at : at + size])
        at += size
        i += 1
    _same_steps(chunks, max_event_size=limit, **options)
    if limit is None and not options:
        assert _fed(chunks) == (_expected(body), None)


@pytest.mark.parametrize(
    "after", [b"event: next", b"event:", b"data: next", b"data:x", b"id: 1", b": c", b"retry: 4"]
)
@pytest.mark.parametrize(
    "before", [b"", b"event: e\n", b"id: 9\n", b"retry: 3\n", b"data: one\n", b"event: \xff\n"]
)
def test_slice_ending_a_block_then_one_more_line(before: bytes, after: bytes) -> None:
    # Slices ``...line end of the data line, blank line, one more line, partial``: the route
    # that builds the event in place and starts the next block with that line.
    data_line = b'data: {"text": "caf\xc3\xa9"}'
    body = before + data_line + b"\n\n" + after + b"\ndata: z\n\n"
    expected = _expected(body)
    split = len(before) + 9
    tail_at = len(body) - 6  # inside ``data: z``: the middle slice ends with a partial line
    for cut in (split, split - 5, len(before), len(before) + 1):
        chunks = [c for c in (body[:cut], body[cut:tail_at], body[tail_at:]) if c]
        assert _fed(chunks) == (expected, None)
        _same_steps(chunks)
        # Limits right at the block sizes, where the route must step aside.
        for limit in (len(before) + len(data_line) - 2, len(data_line), len(after) + 3, len(after) + 9):
            if limit > 0:
                _same_steps(chunks, max_event_size=limit)
