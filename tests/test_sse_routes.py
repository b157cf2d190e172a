"""Routed against rules-only: the SSE speed routes change nothing but speed.

``SSEParser(routes=False)`` parses by the rules of ``core/_sse.py`` alone. Every test here builds
a stream (random lines of every kind the routes look for, near misses of their shapes, CR, LF
and CRLF line ends, a BOM, invalid UTF-8, limits), cuts it at random places and checks that a
parser with every route on gives exactly what the rules give: the same results in the same
order, the same error (type, size, limit) after them, and the same ``last_event_id`` and
``retry`` after every slice; through each entry point (``feed``, ``receive_data`` /
``next_event``, ``iter_sse``, and the two APIs mixed on one parser).
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_sse import reference_parse

from sansstream.core import SSEParser, iter_sse
from sansstream.model import END, NEED_DATA, EventTooLargeError, LocalProtocolError

# Lines the routes are written for, their near misses, and everything else a stream may hold.
LINES = [
    b"data: {\"a\": 1}",
    b"data: x",
    b"data:x",
    b"data:",
    b"data",
    b"data: caf\xc3\xa9 \xe2\x82\xac",
    b"data: \xff\xfe broken",
    b"data: " + b"y" * 300,
    b"event: content_block_delta",
    b"event: ping",
    b"event:",
    b"event",
    b"event: \xc3",
    b"id: 7",
    b"id: a\x00b",
    b"id",
    b"retry: 1500",
    b"retry: 12x",
    b"retry",
    b": keepalive",
    b":",
    b"custom: field",
    b"datum: near miss",
    b"eventful: near miss",
    b" data: leading space",
    b"",
    b"",
    b"",
]
ENDS = [b"\n", b"\n", b"\n", b"\r\n", b"\r"]

Outcome = tuple[list[Any], Any, list[tuple[str, int | None]]]


def _stream(rng: random.Random, n: int) -> bytes:
    body = bytearray(b"\xef\xbb\xbf" if rng.random() < 0.1 else b"")
    crlf = rng.random() < 0.3
    for _ in range(n):
        body += rng.choice(LINES)
        body += rng.choice(ENDS) if crlf else b"\n"
    if rng.random() < 0.3:
        body += b"data: unterminated"
    return bytes(body)


def _cut(body: bytes, rng: random.Random, sizes: tuple[int, ...]) -> list[bytes]:
    chunks = []
    at = 0
    while at < len(body):
        size = rng.choice(sizes)
        chunks.append(body[at : at + size])
        at += size
    return chunks


def _error(exc: Exception) -> Any:
    if isinstance(exc, EventTooLargeError):
        return ("too large", exc.size, exc.limit)
    return (type(exc).__name__, str(exc))


def run_feed(chunks: list[bytes], routes: bool, **opts: Any) -> Outcome:
    parser: SSEParser[Any] = SSEParser(routes=routes, **opts)
    results: list[Any] = []
    states = []
    try:
        for chunk in [*chunks, b""]:
            results += parser.feed(chunk)
            states.append((parser.last_event_id, parser.retry))
        results += parser.feed(b"")  # and again: still nothing
    except (EventTooLargeError, LocalProtocolError) as exc:
        return results, _error(exc), states
    return results, None, states


def run_pull(chunks: list[bytes], routes: bool, **opts: Any) -> Outcome:
    parser: SSEParser[Any] = SSEParser(routes=routes, **opts)
    results: list[Any] = []
    states = []
    try:
        for chunk in [*chunks, b""]:
            parser.receive_data(chunk)
            while (item := parser.next_event()) is not NEED_DATA and item is not END:
                results.append(item)
            states.append((parser.last_event_id, parser.retry))
        assert parser.next_event() is END
    except (EventTooLargeError, LocalProtocolError) as exc:
        return results, _error(exc), states
    return results, None, states


def run_iter(chunks: list[bytes], routes: bool, **opts: Any) -> Outcome:
    del routes  # iter_sse always takes the routes; its reference is the rules through feed
    results: list[Any] = []
    try:
        for item in iter_sse(chunks, **opts):
            results.append(item)
    except (EventTooLargeError, LocalProtocolError) as exc:
        return results, _error(exc), []
    return results, None, []


def run_mixed(chunks: list[bytes], routes: bool, **opts: Any) -> Outcome:
    """feed() and receive_data() alternating on one parser, next_event() draining sometimes."""
    parser: SSEParser[Any] = SSEParser(routes=routes, **opts)
    results: list[Any] = []
    states = []
    try:
        for i, chunk in enumerate([*chunks, b""]):
            if i % 3 == 0:
                results += parser.feed(chunk)
            else:
                parser.receive_data(chunk)
                if i % 3 == 2:
                    while (item := parser.next_event()) is not NEED_DATA and item is not END:
                        results.append(item)
            states.append((parser.last_event_id, parser.retry))
        while (item := parser.next_event()) is not NEED_DATA and item is not END:
            results.append(item)
    except (EventTooLargeError, LocalProtocolError) as exc:
        return results, _error(exc), states
    return results, None, states


def _same(routed: Outcome, rules: Outcome) -> None:
    assert routed[0] == rules[0]
    assert routed[1] == rules[1]
    # An error after events is raised one call later, so compare states up to the shorter list.
    n = min(len(routed[2]), len(rules[2]))
    assert routed[2][:n] == rules[2][:n]


def _same_results(got: Outcome, reference: Outcome) -> None:
    assert got[0] == reference[0]
    assert (got[1] or ("",))[0] == (reference[1] or ("",))[0]


def _check(chunks: list[bytes], **opts: Any) -> None:
    reference = run_feed(chunks, False, **opts)
    # The rules alone are the same through both APIs (one path)...
    _same(run_pull(chunks, False, **opts), reference)
    # ...and every route on gives exactly what they give, through every entry point.
    _same(run_feed(chunks, True, **opts), reference)
    _same(run_pull(chunks, True, **opts), reference)
    # (receive_data only buffers, so the mixed driver parses some slices joined, or appends
    # them to the unterminated line at once: the size an over-long line had when it was
    # refused depends on that; the results and the kind of error do not.)
    _same_results(run_mixed(chunks, False, **opts), reference)
    _same_results(run_mixed(chunks, True, **opts), reference)
    # (iter_sse gathers slices that end no event, so the same holds for it.)
    _same_results(run_iter(chunks, True, **opts), reference)


@pytest.mark.parametrize("seed", range(60))
def test_random_streams_random_slicings(seed: int) -> None:
    rng = random.Random(seed)
    body = _stream(rng, rng.randint(1, 150))
    for sizes in ((1,), (1, 2, 3, 7), (7, 64), (13, 64, 200), (64, 257, 600), (4096,), (len(body) or 1,)):
        _check(_cut(body, rng, sizes))
    # The rules alone agree with the browser-derived oracle on whole streams.
    expected = [(e.type, e.data, e.last_event_id, e.retry) for e in reference_parse(body).events]
    got = run_feed([body], False)[0]
    assert [(e.event, e.data, e.id, e.retry) for e in got] == expected


@pytest.mark.parametrize("seed", range(40))
def test_limits_comments_and_fields(seed: int) -> None:
    rng = random.Random(1000 + seed)
    body = _stream(rng, rng.randint(20, 150))
    for limit in (1, 10, 40, 150, 320, 1000):
        for opts in ({}, {"comments": True, "extra_fields": "*"}, {"extra_fields": ("custom",)}):
            _check(_cut(body, rng, (1, 7, 64, 300)), max_event_size=limit, **opts)


def _llm_stream(rng: random.Random, n: int, named: bool) -> bytes:
    """The shapes the routes are built for, with an odd block now and then."""
    out = bytearray()
    for i in range(n):
        if named:
            out += b"event: content_block_delta\n"
        out += b'data: {"i": %d, "t": "%s"}\n\n' % (i, ("w\xc3\xa9" * rng.randint(0, 40)).encode("latin-1"))
        if rng.random() < 0.05:
            out += rng.choice([b"id: 3\n", b": ping\n", b"retry: 9\n", b"data: a\ndata: b\n", b"event: x\n"])
            out += rng.choice([b"\n", b"data: z\n\n", b""])
    return bytes(out)


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("seed", range(15))
def test_llm_shaped_streams(seed: int, named: bool) -> None:
    rng = random.Random(seed)
    body = _llm_stream(rng, rng.randint(5, 120), named)
    for sizes in ((1,), (7,), (64,), (5, 64, 700), (4096,), (65536,)):
        _check(_cut(body, rng, sizes))
    _check(_cut(body, rng, (7, 64)), max_event_size=120)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(st.sampled_from(LINES), st.sampled_from(ENDS)), max_size=50),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=20),
    limit=st.sampled_from([None, 5, 30, 100, 400]),
    options=st.sampled_from([{}, {"comments": True, "extra_fields": "*"}]),
    bom=st.booleans(),
)
def test_any_stream_any_cuts(
    lines: list[tuple[bytes, bytes]], cuts: list[int], limit: int | None, options: dict[str, Any], bom: bool
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + b"".join(line + end for line, end in lines)
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in itertools.pairwise(points) if b > a]
    _check(chunks, max_event_size=limit, **options)


def test_the_switch_turns_every_route_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """With routes off no route runs (each entry point of the routes is replaced by one that
    fails); with routes on they do."""
    from sansstream.core import _sse

    def refuse(*_args: Any) -> Any:
        raise AssertionError("a route ran")

    monkeypatch.setattr(_sse, "take_slice", refuse)
    monkeypatch.setattr(_sse, "take_region", refuse)
    body = _llm_stream(random.Random(5), 50, True)
    for size in (1, 7, 64, 4096):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        assert run_feed(chunks, False)[0]
        assert run_pull(chunks, False)[0]
        with pytest.raises(AssertionError, match="a route ran"):
            run_feed(chunks, True)


@pytest.mark.parametrize("routes", [True, False])
@pytest.mark.parametrize("before", [b"", b"data: a", b"data: a\n", b"data: a\n\n", b"data: a\r", b"da"])
def test_bytes_after_the_end_are_refused_in_every_state(before: bytes, routes: bool) -> None:
    for pull in (False, True):
        parser: SSEParser[Any] = SSEParser(routes=routes)
        if pull:
            if before:
                parser.receive_data(before)
                while parser.next_event() is not NEED_DATA:
                    pass
            parser.receive_data(b"")
            assert parser.next_event() is END
        else:
            parser.feed(before)
            assert parser.feed(b"") == []
        for more in (b"x", b"data: b\n\n"):
            with pytest.raises(LocalProtocolError, match="after the end"):
                (parser.receive_data if pull else parser.feed)(more)


def test_the_shared_empty_queue_stays_empty() -> None:
    """Idle parsers share one empty queue (memory); no path may ever append to it."""
    from sansstream.core import _sse

    for seed in range(10):
        rng = random.Random(seed)
        body = _stream(rng, 60)
        chunks = _cut(body, rng, (1, 7, 64))
        run_mixed(chunks, True)
        run_pull(chunks, True)
        run_feed(chunks, True, max_event_size=30)
    assert _sse._NONE_QUEUED == []
