"""JSONArrayParser / iter_json_array: the Gemini fixture, table cases under every slicing, limits,
misuse, split-invariance and fuzz properties, and a linear-time check."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FEEDS, best_time, bytewise, drive, provider_fixtures_dir, random_splits

from sansstream.core import JSONArrayParser, iter_json_array
from sansstream.model import (
    END,
    NEED_DATA,
    EventTooLargeError,
    IncompleteStreamError,
    JSONValue,
    LocalProtocolError,
    RemoteProtocolError,
)

GEMINI = provider_fixtures_dir() / "gemini" / "json-array-thought-function-call.json"


@pytest.mark.parametrize("feed", list(FEEDS))
def test_gemini_fixture_gives_its_elements(feed: str) -> None:
    data = GEMINI.read_bytes()
    events, exc = drive(JSONArrayParser(), FEEDS[feed](data))
    assert exc is None
    assert [e.value for e in events] == json.loads(data)
    assert len(events) == 2  # the expected file's "chunks"
    assert [e.index for e in events] == [0, 1]
    assert events[0].line == 1
    # the second element starts on the line after "\n,\r\n"
    assert events[1].line == data[: data.index(b"\n,\r\n")].count(b"\n") + 3
    assert events[1].value["candidates"][0]["finishReason"] == "STOP"


# (name, input, expected values, error type or None, text the error must contain)
CASES: list[tuple[str, bytes, list[Any], type[Exception] | None, str]] = [
    ("empty array", b"[]", [], None, ""),
    ("empty array with spaces", b" \r\n[ \n ] \n", [], None, ""),
    ("objects", b'[{"a":1}\n,\r\n{"b":[2,{"c":3}]}\n]', [{"a": 1}, {"b": [2, {"c": 3}]}], None, ""),
    ("scalars", b'[1, -2.5e3 ,true,false , null,"s"]', [1, -2500.0, True, False, None, "s"], None, ""),
    ("nested arrays", b"[[1,[2]],[],[[]]]", [[1, [2]], [], [[]]], None, ""),
    ("brackets in strings", b'[{"x":"}]{["}, "]\\"", "\\\\"]', [{"x": "}]{["}, ']"', "\\"], None, ""),
    ("escaped backslash then quote", b'["a\\\\\\\\", "b"]', ["a\\\\", "b"], None, ""),
    ("unicode", '[{"t":"h\u00e9 \U0001f600"}]'.encode(), [{"t": "h\u00e9 \U0001f600"}], None, ""),
    ("invalid utf-8 replaced", b'["a\xffb"]', ["a\ufffdb"], None, ""),
    ("bom", b"\xef\xbb\xbf[1]", [1], None, ""),
    ("trailing whitespace", b"[1]\r\n\n  ", [1], None, ""),
    (
        "error object body",
        b'{"error": {"code": 400, "status": "INVALID_ARGUMENT"}}\n',
        [{"error": {"code": 400, "status": "INVALID_ARGUMENT"}}],
        None,
        "",
    ),
    ("text after the array", b"[1]\n[2]", [1], RemoteProtocolError, "after the JSON array"),
    ("text after the object", b'{"a":1} x', [{"a": 1}], RemoteProtocolError, "after the JSON object"),
    ("trailing comma", b"[1,]", [1], RemoteProtocolError, "expected an array element"),
    ("leading comma", b"[,1]", [], RemoteProtocolError, "expected an array element"),
    ("missing comma", b'[{"a":1}\n{"b":2}]', [{"a": 1}], RemoteProtocolError, "expected ','"),
    ("not an array", b'"just a string"', [], RemoteProtocolError, "expected a JSON array"),
    ("html", b"<html>oops</html>", [], RemoteProtocolError, "byte 0"),
    ("invalid element", b'[{"a":1},{"b" 2}]', [{"a": 1}], RemoteProtocolError, "element 1"),
    ("mismatched brackets", b"[{]", [], RemoteProtocolError, "element 0"),
    ("bad scalar", b"[1, nope]", [1], RemoteProtocolError, "element 1"),
    ("empty body", b"", [], IncompleteStreamError, "empty body"),
    ("whitespace body", b" \n ", [], IncompleteStreamError, "empty body"),
    ("cut before ]", b'[{"a":1}\n,\r\n', [{"a": 1}], IncompleteStreamError, "before the closing"),
    ("cut after element", b'[{"a":1}\n', [{"a": 1}], IncompleteStreamError, "before the closing"),
    ("cut inside element", b'[{"a":1},{"b":"x', [{"a": 1}], IncompleteStreamError, "inside element 1"),
    ("cut inside scalar", b"[1, 23", [1], IncompleteStreamError, "inside element 1"),
    ("cut inside object body", b'{"error": {', [], IncompleteStreamError, "inside element 0"),
    ("absurd nesting", b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", [], RemoteProtocolError, "element 0"),
]


@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize(("name", "data", "expected", "error", "where"), CASES, ids=[c[0] for c in CASES])
def test_table(  # noqa: PLR0917 - one parameter per table column
    feed: str,
    name: str,
    data: bytes,
    expected: list[Any],
    error: type[Exception] | None,
    where: str,
) -> None:
    if name == "absurd nesting" and feed == "bytewise":
        data = b"[" + b"[" * 3000 + b"]" * 3000 + b"]"  # same failure, fewer slices
    events, exc = drive(JSONArrayParser(), FEEDS[feed](data))
    assert [e.value for e in events] == expected
    assert [e.index for e in events] == list(range(len(expected)))
    if error is None:
        assert exc is None
    else:
        assert type(exc) is error, exc
        assert where in str(exc)


def test_error_names_line_and_byte() -> None:
    data = b'[{"a":1}\n,\r\n{"b":\n 2 x}\n]'
    _, exc = drive(JSONArrayParser(), [data])
    assert exc is not None
    assert "line 3" in str(exc)
    start = data.index(b'{"b"')
    assert f"byte {start}" in str(exc)
    assert '"b"' in str(exc)


def test_element_is_available_as_soon_as_it_closes() -> None:
    parser = JSONArrayParser()
    assert parser.feed(b'[{"a":') == []
    assert parser.next_event() is NEED_DATA
    assert [e.value for e in parser.feed(b"1}")] == [{"a": 1}]
    assert parser.feed(b"\n,") == []
    assert [e.value for e in parser.feed(b'"s"')] == ["s"]
    assert parser.feed(b",12") == []  # a number may go on: it ends at ',' ']' or whitespace
    assert [e.value for e in parser.feed(b"]")] == [12]
    assert parser.feed(b"") == []
    assert parser.next_event() is END


@pytest.mark.parametrize("feed", list(FEEDS))
def test_element_limit(feed: str) -> None:
    data = b'["12345678", "123456789", 3]'
    events, exc = drive(JSONArrayParser(max_element_size=10), FEEDS[feed](data))
    assert [e.value for e in events] == ["12345678"]  # exactly 10 bytes with its quotes
    assert isinstance(exc, EventTooLargeError)
    assert exc.limit == 10
    assert "element 1" in str(exc)


def test_oversized_element_refused_before_it_ends() -> None:
    parser = JSONArrayParser(max_element_size=100)
    parser.receive_data(b'[1, "')
    for _ in range(200):
        parser.receive_data(b"x")
    assert parser.next_event() == JSONValue(1, 1, 0)
    with pytest.raises(EventTooLargeError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.receive_data(b"x")


def test_refuses_work_after_an_error_and_data_after_end() -> None:
    parser = JSONArrayParser()
    parser.receive_data(b"[1] 2")
    assert parser.next_event() == JSONValue(1, 1, 0)
    with pytest.raises(RemoteProtocolError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.next_event()
    done = JSONArrayParser()
    done.feed(b"[]")
    done.feed(b"")
    done.receive_data(b"")  # a repeated end is harmless
    with pytest.raises(LocalProtocolError, match="after the end"):
        done.receive_data(b"[]")


def test_custom_loads_and_bad_option() -> None:
    seen: list[bytes] = []

    def loads(raw: bytes) -> Any:
        seen.append(raw)
        return json.loads(raw)

    assert list(iter_json_array([b'[{"a": 1} ,\n 2]'], loads=loads)) == [{"a": 1}, 2]
    assert seen == [b'{"a": 1}', b"2"]
    with pytest.raises(LocalProtocolError):
        JSONArrayParser(max_element_size=0)


# -- properties ------------------------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(json_values, max_size=6),
    indent=st.sampled_from([None, 2]),
    gaps=st.lists(whitespace, min_size=20, max_size=20),
    seed=st.integers(0, 2**16),
)
def test_any_array_any_split(values: list[Any], indent: int | None, gaps: list[str], seed: int) -> None:
    parts = [gaps[0], "["]
    for i, value in enumerate(values):
        if i:
            parts += [gaps[(3 * i) % 20], ","]
        parts += [gaps[(3 * i + 1) % 20], json.dumps(value, indent=indent, ensure_ascii=bool(i % 2))]
    parts += [gaps[19], "]", gaps[18]]
    data = "".join(parts).encode()
    for chunks in ([data], bytewise(data), random_splits(data, seed, max_size=7)):
        events, exc = drive(JSONArrayParser(), chunks)
        assert exc is None
        assert [e.value for e in events] == values


def _outcome(chunks: list[bytes]) -> tuple[list[str], type[Exception] | None]:
    events, exc = drive(JSONArrayParser(max_element_size=64), chunks)
    return [json.dumps(e.value) for e in events], type(exc) if exc else None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), seed=st.integers(0, 2**16))
def test_arbitrary_bytes_parse_or_raise_remote_error_same_for_any_split(data: bytes, seed: int) -> None:
    want = _outcome([data])
    assert _outcome(bytewise(data)) == want
    assert _outcome(random_splits(data, seed, max_size=9)) == want


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b"1", b" ", b"\n", b"a"]),
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
def test_bracket_noise_is_split_invariant(parts: list[bytes], seed: int) -> None:
    data = b"[" + b"".join(parts)
    want = _outcome([data])
    assert _outcome(bytewise(data)) == want
    assert _outcome(random_splits(data, seed, max_size=5)) == want


# -- cost ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["one long string", "many small elements"])
def test_cost_is_linear_in_one_byte_slices(shape: str) -> None:
    def make(n: int) -> bytes:
        if shape == "one long string":
            return b'["' + b'a\\"' * (n // 3) + b'"]'
        return b"[0" + b',\r\n{"k": [1]}' * (n // 12) + b"]"

    def run(data: bytes) -> Callable[[], object]:
        slices = bytewise(data)
        return lambda: drive(JSONArrayParser(max_element_size=None), slices)

    # 4x the input should take about 4x the time; a quadratic parser would take 16x.
    ratio = best_time(run(make(120_000)), repeat=3) / best_time(run(make(30_000)))
    assert ratio < 8.0, f"4x input took {ratio:.2f}x the time"
