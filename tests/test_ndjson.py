"""NDJSONParser, iter_ndjson and encode_ndjson: table cases under every slicing, limits, misuse,
round-trip and fuzz properties, and a linear-time check."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FEEDS, at_offsets, best_time, bytewise, drive, provider_fixtures_dir, random_splits

from sansstream.core import NDJSONParser, encode_ndjson, iter_ndjson
from sansstream.model import (
    END,
    NEED_DATA,
    EventTooLargeError,
    JSONValue,
    LocalProtocolError,
    RemoteProtocolError,
)

# (name, input, expected [(value, line)], expected error type or None, text the error must name)
CASES: list[tuple[str, bytes, list[tuple[Any, int]], type[Exception] | None, str]] = [
    ("lf", b'{"a":1}\n{"b":2}\n', [({"a": 1}, 1), ({"b": 2}, 2)], None, ""),
    ("crlf", b'{"a":1}\r\n[1,2]\r\n', [({"a": 1}, 1), ([1, 2], 2)], None, ""),
    ("mixed line ends", b"1\r\n2\n3\r\n", [(1, 1), (2, 2), (3, 3)], None, ""),
    ("blank lines skipped", b"\n\n1\n \t \n\r\n2\n\n", [(1, 3), (2, 6)], None, ""),
    ("last line without newline", b"1\n2", [(1, 1), (2, 2)], None, ""),
    ("last line ends in CR", b"1\r\n2\r", [(1, 1), (2, 2)], None, ""),
    ("only blank lines", b"\n\r\n  \n", [], None, ""),
    ("empty stream", b"", [], None, ""),
    ("spaces around value", b'  {"a": [1, 2]}  \n', [({"a": [1, 2]}, 1)], None, ""),
    ("utf-8", '"h\u00e9 \u2028 \U0001f600"\n'.encode(), [("h\u00e9 \u2028 \U0001f600", 1)], None, ""),
    ("bom at start", b'\xef\xbb\xbf{"a":1}\n', [({"a": 1}, 1)], None, ""),
    ("invalid utf-8 replaced", b'"a\xffb"\n', [("a\ufffdb", 1)], None, ""),
    ("scalars", b'1\n-2e3\ntrue\nnull\n"s"\n', [(1, 1), (-2e3, 2), (True, 3), (None, 4), ("s", 5)], None, ""),
    ("invalid json names line", b'1\n\n{"a":\n3\n', [(1, 1)], RemoteProtocolError, "line 3"),
    ("two values on a line", b'1\n{"a":1} {"b":2}\n', [(1, 1)], RemoteProtocolError, "line 2"),
    ("bare CR is not a line end", b"1\r2\n", [], RemoteProtocolError, "line 1"),
    ("bom in the middle is invalid", b"1\n\xef\xbb\xbf2\n", [(1, 1)], RemoteProtocolError, "line 2"),
    ("truncated last line", b'1\n{"a": 1', [(1, 1)], RemoteProtocolError, "line 2"),
    ("absurd nesting", b"1\n" + b"[" * 100_000 + b"\n", [(1, 1)], RemoteProtocolError, "line 2"),
]


@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize(("name", "data", "expected", "error", "where"), CASES, ids=[c[0] for c in CASES])
def test_table(  # noqa: PLR0917 - one parameter per table column
    feed: str,
    name: str,
    data: bytes,
    expected: list[tuple[Any, int]],
    error: type[Exception] | None,
    where: str,
) -> None:
    events, exc = drive(NDJSONParser(), FEEDS[feed](data))
    assert [(e.value, e.line) for e in events] == expected
    assert [e.index for e in events] == list(range(len(expected)))
    if error is None:
        assert exc is None
    else:
        assert type(exc) is error
        assert where in str(exc)


def test_non_finite_numbers_are_read_as_json_loads_reads_them() -> None:
    # Not JSON, and the encoder refuses them, but Python's json (and some servers) write them.
    values = list(iter_ndjson([b"NaN\nInfinity\n"]))
    assert math.isnan(values[0])
    assert values[1] == math.inf


def test_invalid_json_message_has_excerpt() -> None:
    _, exc = drive(NDJSONParser(), [b'{"ok": 1}\n{"model": "x", "broken": }\n'])
    assert exc is not None
    assert "line 2" in str(exc)
    assert '"broken"' in str(exc)


def test_crlf_split_across_slices() -> None:
    data = b'{"a":1}\r\n{"b":2}\r\n'
    for cut in range(1, len(data)):
        events, exc = drive(NDJSONParser(), at_offsets(data, [cut]))
        assert exc is None
        assert [e.value for e in events] == [{"a": 1}, {"b": 2}]
    # the CR ends one slice and the LF starts the next
    events, _ = drive(NDJSONParser(), [b'{"a":1}\r', b"\n", b"2\r", b"\n"])
    assert [(e.value, e.line) for e in events] == [({"a": 1}, 1), (2, 2)]


def test_value_is_available_as_soon_as_its_line_ends() -> None:
    parser = NDJSONParser()
    assert parser.feed(b'{"a":') == []
    assert parser.next_event() is NEED_DATA
    assert parser.feed(b"1}") == []
    assert [e.value for e in parser.feed(b"\n")] == [{"a": 1}]


@pytest.mark.parametrize("feed", list(FEEDS))
def test_line_limit(feed: str) -> None:
    ok = b"x" * 8
    data = b'"' + ok + b'"\r\n' + b'"' + ok * 2 + b'"\n3\n'
    events, exc = drive(NDJSONParser(max_line_size=10), FEEDS[feed](data))
    assert [e.value for e in events] == ["xxxxxxxx"]  # exactly 10 bytes, CRLF not counted
    assert isinstance(exc, EventTooLargeError)
    assert exc.limit == 10
    assert "line 2" in str(exc)


def test_oversized_line_refused_before_it_ends() -> None:
    """The parser does not wait for (or keep) the rest of a line that is already too long."""
    parser = NDJSONParser(max_line_size=100)
    parser.receive_data(b"1\n")
    for _ in range(102):
        parser.receive_data(b"x")
    assert parser.next_event() == JSONValue(1, 1, 0)
    with pytest.raises(EventTooLargeError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.receive_data(b"x" * 1000)


def test_no_limit() -> None:
    big = json.dumps("y" * 100_000).encode()
    events, exc = drive(NDJSONParser(max_line_size=None), [big + b"\n"])
    assert exc is None
    assert events[0].value == "y" * 100_000


def test_refuses_work_after_an_error() -> None:
    parser = NDJSONParser()
    parser.receive_data(b"{oops\n")
    with pytest.raises(RemoteProtocolError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match=r"failed earlier.*line 1"):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.receive_data(b"1\n")


def test_data_after_end_is_misuse() -> None:
    parser = NDJSONParser()
    assert parser.feed(b"1\n") == [JSONValue(1, 1, 0)]
    assert parser.feed(b"") == []
    assert parser.next_event() is END
    with pytest.raises(LocalProtocolError, match="after the end"):
        parser.receive_data(b"2\n")


def test_bad_option() -> None:
    with pytest.raises(LocalProtocolError):
        NDJSONParser(max_line_size=0)


def test_custom_loads_gets_bytes() -> None:
    seen: list[bytes] = []

    def loads(raw: bytes) -> Any:
        seen.append(raw)
        return json.loads(raw)

    assert list(iter_ndjson([b'{"a":1}\r\n', b"2"], loads=loads)) == [{"a": 1}, 2]
    assert seen == [b'{"a":1}', b"2"]


def test_custom_loads_errors_become_remote_errors() -> None:
    def loads(raw: bytes) -> Any:
        raise ValueError("nope")

    with pytest.raises(RemoteProtocolError, match=r"line 1.*nope"):
        list(iter_ndjson([b"1\n"], loads=loads))


def test_iter_ndjson_skips_empty_slices_and_yields_values() -> None:
    assert list(iter_ndjson([b"1\n", b"", b"[2]", b"\n{}"])) == [1, [2], {}]


def test_ollama_fixtures_decode_under_every_slicing() -> None:
    files = sorted((provider_fixtures_dir() / "ollama").glob("*.ndjson"))
    assert files
    for path in files:
        data = path.read_bytes()
        want = [json.loads(line) for line in data.splitlines() if line.strip()]
        for feed in FEEDS.values():
            assert list(iter_ndjson(feed(data))) == want, path.name


# -- encoder ---------------------------------------------------------------------------------------


def test_encode_is_compact_utf8_with_lf() -> None:
    assert encode_ndjson({"a": [1, 2], "b": "\u00e9"}) == '{"a":[1,2],"b":"\u00e9"}\n'.encode()
    assert encode_ndjson(JSONValue({"x": None}, 3, 1)) == b'{"x":null}\n'
    assert encode_ndjson("line\nbreak\u2028") == '"line\\nbreak\u2028"\n'.encode()


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, {1, 2}, object(), b"bytes", {"a": [math.nan]}], ids=repr
)
def test_encode_refuses_what_json_cannot_carry(value: Any) -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        encode_ndjson(value)


def test_encode_refuses_circular_values() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(LocalProtocolError):
        encode_ndjson(loop)


def test_encode_lone_surrogate_round_trips() -> None:
    line = encode_ndjson({"s": "a\ud800b"})
    assert line.decode("ascii")  # escaped, valid UTF-8 on the wire
    assert list(iter_ndjson([line])) == [{"s": "a\ud800b"}]


# -- properties ------------------------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(json_values, max_size=8), seed=st.integers(0, 2**16), crlf=st.booleans())
def test_encode_parse_round_trip_any_split(values: list[Any], seed: int, crlf: bool) -> None:
    lines = [encode_ndjson(v) for v in values]
    if crlf:
        lines = [line[:-1] + b"\r\n" for line in lines]
    data = b"".join(lines)
    for chunks in (bytewise(data), random_splits(data, seed, max_size=7)):
        events, exc = drive(NDJSONParser(), chunks)
        assert exc is None
        assert [e.value for e in events] == values
        assert [e.line for e in events] == list(range(1, len(values) + 1))


def _outcome(chunks: list[bytes]) -> tuple[list[tuple[Any, int]], type[Exception] | None]:
    events, exc = drive(NDJSONParser(max_line_size=64), chunks)
    return [(json.dumps(e.value), e.line) for e in events], type(exc) if exc else None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), seed=st.integers(0, 2**16))
def test_arbitrary_bytes_parse_or_raise_remote_error_same_for_any_split(data: bytes, seed: int) -> None:
    # drive() lets only RemoteProtocolError through as a result; anything else fails the test.
    want = _outcome([data])
    assert _outcome(bytewise(data)) == want
    assert _outcome(random_splits(data, seed, max_size=9)) == want


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([b"1", b"[", b"]", b'"', b"\r", b"\n", b" ", b"{}", b"\xff", b"x"]), max_size=40
    ),
    seed=st.integers(0, 2**16),
)
def test_line_shaped_noise_is_split_invariant(parts: list[bytes], seed: int) -> None:
    data = b"".join(parts)
    want = _outcome([data])
    assert _outcome(bytewise(data)) == want
    assert _outcome(random_splits(data, seed, max_size=5)) == want


# -- cost ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["one long line", "many short lines"])
def test_cost_is_linear_in_one_byte_slices(shape: str) -> None:
    def make(n: int) -> bytes:
        if shape == "one long line":
            return b'"' + b"a" * n + b'"\n'
        return b'{"k":1}\n' * (n // 8)

    def run(data: bytes) -> Callable[[], object]:
        slices = bytewise(data)
        return lambda: drive(NDJSONParser(max_line_size=None), slices)

    # 4x the input should take about 4x the time; a quadratic parser would take 16x.
    ratio = best_time(run(make(120_000)), repeat=3) / best_time(run(make(30_000)))
    assert ratio < 8.0, f"4x input took {ratio:.2f}x the time"


def test_feed_returns_the_values_before_a_bad_line_and_raises_it_next() -> None:
    parser = NDJSONParser()
    values = parser.feed(b'{"a":1}\n{"b":2}\n{oops\n{"c":3}\n')
    assert [v.value for v in values] == [{"a": 1}, {"b": 2}]
    with pytest.raises(RemoteProtocolError, match="line 3 is not valid JSON"):
        parser.feed(b"")
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.next_event()


def test_feed_returns_the_values_before_an_oversized_line_and_raises_it_next() -> None:
    parser = NDJSONParser(max_line_size=20)
    values = parser.feed(b'{"a":1}\n' + b'{"long":"' + b"x" * 40 + b'"}\n')
    assert [v.value for v in values] == [{"a": 1}]
    with pytest.raises(EventTooLargeError):
        parser.next_event()
    with pytest.raises(LocalProtocolError):
        parser.feed(b"{}\n")
