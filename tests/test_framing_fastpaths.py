"""The speed routes of the SSE and NDJSON parsers give exactly what the general rules give.

SSE: feed()'s quick route (slices without CR or LF), its inline route for small slices that end
``data:`` events, the block fast paths (one ``data`` line; an ``event`` line then a ``data``
line) and iter_sse's gathering of small slices are all checked against the spec oracle
(tests/reference_sse.py) at every slice size from 1 to 9 bytes, 64, 4096 and random splits, and
against each other; limits raise the same error whichever route is taken.

NDJSON: with ``orjson_loads=orjson.loads`` values (and errors) must be identical to the default
stdlib decoder's on every line where orjson differs (NaN, big integers, lone surrogates, invalid
UTF-8, deep nesting, floats at the edges) and on random JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_sse import reference_parse
from support import random_splits

from sansstream.core import NDJSONParser, SSEParser, iter_ndjson, iter_sse
from sansstream.model import (
    EventTooLargeError,
    JSONValue,
    LocalProtocolError,
    RemoteProtocolError,
    ServerSentEvent,
)

SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 64, 4096]

STREAMS: dict[str, bytes] = {
    "openai": b"".join(b'data: {"i": %d, "t": "h\xc3\xa9llo"}\n\n' % i for i in range(30))
    + b"data: [DONE]\n\n",
    "anthropic": b"".join(
        b'event: content_block_delta\ndata: {"i": %d}\n\n' % i
        + (b"event: ping\ndata: {}\n\n" if i % 7 == 0 else b"")
        for i in range(30)
    ),
    "no-space": b"event:x\ndata:y\n\nevent:\ndata:z\n\ndata:\n\nevent: \ndata: \n\n",
    "unknown-name": b"event: \xff\xfe odd\ndata: 1\n\nevent: ne\xc3\xafw\ndata: 2\n\n",
    "ids-and-retry": b"id: 1\ndata: a\n\ndata: b\n\nretry: 50\ndata: c\n\nid\ndata: d\n\n"
    + b"event: e\ndata: f\n\n",
    "crlf": b"data: a\r\n\r\nevent: e\r\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n",
    "bom": b"\xef\xbb\xbfdata: a\n\nevent: e\ndata: b\n\n",
    "multi-line": b"data: a\ndata: b\n\nevent: e\ndata: 1\ndata: 2\n\nevent: e\nid: 3\ndata: x\n\n",
    "comments": b": hi\n\ndata: a\n\n: keep\nevent: e\ndata: b\n\n:\n\n",
    "bad-utf8": b"data: \xff\xc3\n\nevent: e\ndata: \xed\xa0\x80\n\ndata: ok\n\n",
    "blank-runs": b"\n\n\ndata: a\n\n\n\n\nevent: e\ndata: b\n\n\n",
    "unterminated": b"data: a\n\nevent: e\ndata: b\n\ndata: never dispatched",
    # Near misses of the bulk event/data route: blocks of 3 and 1 lines, 4 lines, other fields.
    "pairs-3-1": b"event: a\ndata: 1\nevent: b\n\ndata: 2\n\nevent: c\ndata: 3\n\nevent: d\ndata: 4\n\n",
    "pairs-4": b"event: a\ndata: 1\n\nevent: b\ndata: 2\nevent: c\ndata: 3\n\nevent: d\ndata: 4\n\n",
    "pairs-id": b"event: a\ndata: 1\n\nevent: b\nid: 9\n\nevent: c\ndata: 3\n\nevent: \ndata: 4\n\n",
    "pairs-swapped": b"event: a\ndata: 1\n\ndata: 2\nevent: b\n\nevent: c\ndata: 3\n\n",
    "pairs-no-space": b"event: a\ndata: 1\n\nevent:b\ndata:2\n\nevent: c\ndata: 3\n\n",
    "pairs-retry": b"event: a\ndata: 1\n\nevent: b\nretry: 5\n\nevent: c\ndata: \xff3\n\n",
    "double-event": b"event: a\nevent: b\ndata: 1\n\nevent: a\ndata: 1\ndata: 2\n\n",
}


def _expected(body: bytes) -> list[tuple[str, str, str, int | None]]:
    return [(e.type, e.data, e.last_event_id, e.retry) for e in reference_parse(body).events]


def _got(events: list[Any]) -> list[tuple[str, str, str, int | None]]:
    assert all(type(e) is ServerSentEvent for e in events)
    return [(e.event, e.data, e.id, e.retry) for e in events]


def _cuts(body: bytes) -> Iterator[list[bytes]]:
    for size in SIZES:
        yield [body[i : i + size] for i in range(0, len(body), size)]
    for seed in range(5):
        yield random_splits(body, seed=seed, max_size=11)


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_feed_matches_the_oracle_at_every_slice_size(name: str) -> None:
    body = STREAMS[name]
    expected = _expected(body)
    for chunks in _cuts(body):
        parser = SSEParser()
        events: list[Any] = []
        for chunk in chunks:
            events += parser.feed(chunk)
        events += parser.feed(b"")
        assert _got(events) == expected, [len(c) for c in chunks[:3]]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_iter_sse_matches_the_oracle_for_every_slicing_and_buffer_type(name: str) -> None:
    body = STREAMS[name]
    expected = _expected(body)
    for chunks in _cuts(body):
        assert _got(list(iter_sse(chunks))) == expected
        assert _got(list(iter_sse([bytearray(c) for c in chunks]))) == expected  # type: ignore[misc]
        assert _got(list(iter_sse([memoryview(c) for c in chunks]))) == expected  # type: ignore[misc]


def _counted(chunks: list[bytes], taken: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        taken[0] += 1
        yield chunk


def test_iter_sse_yields_each_event_when_its_last_byte_arrives() -> None:
    # No read-ahead: each event is yielded before the slice after its blank line is asked for.
    body = STREAMS["anthropic"] + STREAMS["openai"]
    ends = []
    at = body.find(b"\n\n")
    while at >= 0:
        ends.append(at + 2)
        at = body.find(b"\n\n", at + 2)
    for size in (1, 3, 7, 64):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        taken = [0]

        received = [min(len(body), taken[0] * size) for _ in iter_sse(_counted(chunks, taken))]
        # The event ending at byte `end` needs exactly the slices up to the one holding it.
        assert received == [min(len(body), -(-end // size) * size) for end in ends]


def test_feed_and_pull_interleaved() -> None:
    body = STREAMS["ids-and-retry"] + STREAMS["anthropic"] + STREAMS["crlf"]
    expected = _expected(body)
    rng = random.Random(3)
    for _ in range(20):
        parser = SSEParser()
        events: list[Any] = []
        for chunk in random_splits(body, seed=rng.randrange(1000), max_size=9):
            if rng.random() < 0.5:
                events += parser.feed(chunk)
            else:
                parser.receive_data(chunk)
                while isinstance(item := parser.next_event(), ServerSentEvent):
                    events.append(item)
        events += parser.feed(b"")
        assert _got(events) == expected


def test_feed_returns_a_new_list_each_time() -> None:
    parser = SSEParser()
    first = parser.feed(b"data: a")  # quick route
    first.append("junk")  # type: ignore[arg-type]
    second = parser.feed(b"bc")
    assert second == []
    assert second is not first
    third = parser.feed(b"\n\ndata: x\n\n")  # inline route
    assert [e.data for e in third] == ["abc", "x"]
    third.clear()
    assert [e.data for e in parser.feed(b"data: y\n\n")] == ["y"]


def _feed_all(parser: SSEParser[Any], body: bytes, size: int, events: list[Any]) -> None:
    for i in range(0, len(body), size):
        events += parser.feed(body[i : i + size])
    events += parser.feed(b"")


@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_oversized_line_in_small_slices_raises_like_one_slice(size: int) -> None:
    body = b"data: ok\n\ndata: " + b"x" * 100
    whole: list[Any] = []
    with pytest.raises(EventTooLargeError) as one:
        _feed_all(SSEParser(max_event_size=50), body, len(body), whole)
    events: list[Any] = []
    with pytest.raises(EventTooLargeError) as sliced:
        _feed_all(SSEParser(max_event_size=50), body, size, events)
    assert [e.data for e in events] == [e.data for e in whole] == ["ok"]
    # Refused as soon as the line passes the limit (by the slice that crossed it).
    assert sliced.value.size is not None
    assert 50 < sliced.value.size <= 50 + size
    assert one.value.limit == sliced.value.limit == 50


@pytest.mark.parametrize("size", [1, 7, 64])
def test_block_at_exactly_the_limit_passes_in_every_route(size: int) -> None:
    for block in (b"data: " + b"a" * 44, b"event: e\ndata: " + b"a" * 35):
        limit = len(block) - block.count(b"\n")  # the size counts lines without their ends
        body = block + b"\n\n" + block + b"\n\n"
        for cut in (size, len(body)):
            events: list[Any] = []
            _feed_all(SSEParser(max_event_size=limit), body, cut, events)
            assert len(events) == 2
            with pytest.raises(EventTooLargeError):
                _feed_all(SSEParser(max_event_size=limit - 1), body, cut, [])


def test_iter_sse_enforces_the_limit_on_gathered_slices() -> None:
    chunks = [b"data: "] + [b"x"] * 20_000
    with pytest.raises(EventTooLargeError):
        list(iter_sse(chunks, max_event_size=10_000))


# -- NDJSON and the optional orjson route -------------------------------------------------------

TRICKY_LINES = [
    b"NaN",
    b"[Infinity, -Infinity]",
    b'{"a": 1, "a": 2, "b": 3, "a": 4}',
    b'"\\ud800"',
    b'["\\udc00x", "\\ud83d\\ude00"]',
    b'"\xed\xa0\x80"',
    b'"\xff\xc3"',
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b'{"n": 1234567890123456789012345678901234567890}',
    b"[1e400, -1e400, 1e-400, -0.0, -0, 1E2, 0.1, 5e-324, 1.7976931348623159e308]",
    b"1.1111111111111111111111111111111111",
    b"2.2250738585072011e-308",
    b"[" * 150 + b"]" * 150,
    b"[" * 500 + b"]" * 500,
    b"[" * 1100 + b"]" * 1100,
    b'"\\u0000\x7f"',
    b"true",
    b"null",
    b'{"s": "' + b"y" * 70_000 + b'"}',
    b'{"n": 1' + b"0" * 70_000 + b"}",
]


def _ndjson_values(body: bytes, **opts: Any) -> list[Any]:
    out: list[Any] = []
    parser = NDJSONParser(max_line_size=None, **opts)
    try:
        for i in range(0, len(body), 4096):
            out += [(v.value, v.line, v.index) for v in parser.feed(body[i : i + 4096])]
        out += [(v.value, v.line, v.index) for v in parser.feed(b"")]
    except Exception as exc:  # the error, by type and message, is part of the result
        out.append((type(exc).__name__, str(exc)))
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal down to the types (repr tells 1 from 1.0 and True, -0.0 from 0.0, key order, and
    shows NaN as nan), and without recursing in Python, for the deeply nested lines."""
    return repr(a) == repr(b)


@pytest.mark.parametrize("line", TRICKY_LINES, ids=lambda b: repr(b[:24]))
def test_orjson_route_is_identical_to_the_stdlib_on_tricky_lines(line: bytes) -> None:
    body = b'{"before": 1}\n' + line + b'\n{"after": 2}\n' + line
    assert _same(_ndjson_values(body, orjson_loads=orjson.loads), _ndjson_values(body, orjson_loads=None))


def test_a_long_integer_split_across_slices_still_goes_to_the_stdlib() -> None:
    body = b'{"a": 1}\n{"n": 123456789012345678901234}\n{"m": 12345678901234567890123}'
    for cut in range(1, len(body)):
        values = list(iter_ndjson([body[:cut], body[cut:]], orjson_loads=orjson.loads))
        assert values == [{"a": 1}, {"n": 123456789012345678901234}, {"m": 12345678901234567890123}]
        assert type(values[1]["n"]) is int
        assert type(values[2]["m"]) is int


def test_orjson_route_refuses_a_custom_loads_too() -> None:
    with pytest.raises(LocalProtocolError):
        NDJSONParser(loads=json.loads, orjson_loads=orjson.loads)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_orjson_route_is_identical_to_the_stdlib_on_random_json(
    values: list[Any], rnd: random.Random
) -> None:
    lines = [json.dumps(v, ensure_ascii=rnd.random() < 0.5).encode() for v in values]
    body = b"\n".join(lines) + b"\n"
    got = _ndjson_values(body, orjson_loads=orjson.loads)
    assert _same(got, _ndjson_values(body, orjson_loads=None))
    assert _same([g[0] for g in got], [json.loads(line) for line in lines])


def test_orjson_route_is_taken_for_plain_lines_and_not_for_long_digits() -> None:
    calls: list[bytes] = []

    def spy(raw: bytes) -> Any:
        calls.append(raw)
        return orjson.loads(raw)

    parser = NDJSONParser(orjson_loads=spy)
    assert [v.value for v in parser.feed(b'{"a": 1}\n[2]\n')] == [{"a": 1}, [2]]
    assert calls == [b'{"a": 1}', b"[2]"]
    calls.clear()
    assert [v.value for v in parser.feed(b"12345678901234567890\n")] == [12345678901234567890]
    assert calls == []
    assert [v.value for v in parser.feed(b'{"b": 3}\n')] == [{"b": 3}]
    assert calls == [b'{"b": 3}']


NDJSON_BODY = (
    b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \t\n[1, 2]\n"s"\r\n{"n": 123456789012345678901234}\n'
    + b"".join(b'{"i": %d, "t": "h\xc3\xa9"}\n' % i for i in range(20))
    + b"  null  \n\xff\xfe\n"
)


def _pulled(body: bytes) -> list[Any]:
    """Every value before the error (pulled one at a time, so none is lost), then the error."""
    parser = NDJSONParser(orjson_loads=None)  # the stdlib: what every route must match
    parser.receive_data(body)
    parser.receive_data(b"")
    out: list[Any] = []
    try:
        while isinstance(item := parser.next_event(), JSONValue):
            out.append((item.value, item.line, item.index))
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
    return out


def _fed(parser: NDJSONParser, chunks: list[bytes], got: list[Any]) -> None:
    for chunk in [*chunks, b""]:
        got += [(v.value, v.line, v.index) for v in parser.feed(chunk)]


def _iterated(chunks: list[bytes], opts: dict[str, Any], values: list[Any]) -> None:
    values.extend(iter_ndjson(chunks, **opts))


@pytest.mark.parametrize("orjson_route", [False, True])
def test_ndjson_every_slicing_gives_the_same_values_then_the_same_error(orjson_route: bool) -> None:
    opts: dict[str, Any] = {"orjson_loads": orjson.loads if orjson_route else None}
    want = _pulled(NDJSON_BODY)
    assert want[-1][0] == "RemoteProtocolError"
    assert len(want) == 26
    for size in [*SIZES, len(NDJSON_BODY)]:
        chunks = [NDJSON_BODY[i : i + size] for i in range(0, len(NDJSON_BODY), size)]
        got: list[Any] = []
        with pytest.raises(RemoteProtocolError) as error:
            _fed(NDJSONParser(**opts), chunks, got)
        # feed() returns the values before the bad line, then raises on the next call.
        assert _same(got, want[:-1]), size
        assert str(error.value) == want[-1][1]
        values: list[Any] = []
        with pytest.raises(RemoteProtocolError):
            _iterated(chunks, opts, values)
        assert _same(values, [w[0] for w in want[:-1]])


@pytest.mark.parametrize("size", [1, 3, 7])
def test_ndjson_quick_route_keeps_the_line_limit(size: int) -> None:
    ok = b'"' + b"x" * 8 + b'"\r\n'  # 10 bytes of line, CRLF
    for limit, fails in ((10, False), (9, True)):
        parser = NDJSONParser(max_line_size=limit)
        body = ok * 3
        got: list[Any] = []
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        if fails:
            with pytest.raises(EventTooLargeError):
                _fed(parser, chunks, got)
        else:
            _fed(parser, chunks, got)
            assert [g[0] for g in got] == ["x" * 8] * 3


@pytest.mark.parametrize("name", ["comments", "anthropic", "multi-line", "no-space"])
def test_iter_sse_yields_comments_and_fields_like_feed(name: str) -> None:
    body = STREAMS[name] + b": tail comment\nfield: v\n"
    for chunks in _cuts(body):
        parser = SSEParser(comments=True, extra_fields="*")
        expected: list[Any] = []
        for chunk in [*chunks, b""]:
            expected += parser.feed(chunk)
        assert list(iter_sse(chunks, comments=True, extra_fields="*")) == expected


@pytest.mark.parametrize("size", [1, 4, 7, 64])
def test_ndjson_line_limit_counts_whitespace_in_every_route(size: int) -> None:
    body = b"  1  \n[2]\n"  # a 5-byte line of which 4 bytes are whitespace
    for limit, fails in ((5, False), (4, True)):
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        for opts in ({"orjson_loads": None}, {"orjson_loads": orjson.loads}):
            got: list[Any] = []
            if fails:
                with pytest.raises(EventTooLargeError):
                    _fed(NDJSONParser(max_line_size=limit, **opts), chunks, got)
            else:
                _fed(NDJSONParser(max_line_size=limit, **opts), chunks, got)
                assert [g[0] for g in got] == [1, [2]]


# -- orjson_loads="auto" (the default) -------------------------------------------------------------


def test_the_default_takes_orjson_when_installed_and_none_keeps_to_the_stdlib() -> None:
    from sansstream.core._ndjson import auto_orjson_loads

    assert auto_orjson_loads() is orjson.loads  # installed here (the test extra has it)
    assert NDJSONParser()._orjson is orjson.loads
    assert NDJSONParser(orjson_loads=None)._orjson is None
    # A decoder of one's own wins over the default (no "not both" error).
    assert NDJSONParser(loads=json.loads)._orjson is None
    with pytest.raises(LocalProtocolError, match='"auto"'):
        NDJSONParser(orjson_loads="fast")  # type: ignore[arg-type]


def test_the_default_route_is_identical_to_the_stdlib_on_tricky_lines() -> None:
    body = b"\n".join(TRICKY_LINES) + b"\n"
    assert _same(_ndjson_values(body), _ndjson_values(body, orjson_loads=None))


def test_the_accelerators_can_be_turned_off_from_the_environment() -> None:
    import os
    import subprocess
    import sys

    code = (
        # Chosen when the parser is built (orjson imported then, when installed and not turned off).
        "from sansstream.core import NDJSONParser\n"
        "print(NDJSONParser()._orjson is None)\n"
    )
    for env_value, stdlib in (("1", True), ("0", False)):
        env = {**os.environ, "SANSSTREAM_NO_ACCEL": env_value}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == str(stdlib)
