"""``loads_json`` (the quick JSON route every decoder uses) is ``json.loads`` exactly: the same
value for every input, and the same error (type and message) when there is none."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansstream.model import RemoteProtocolError, ServerSentEvent
from sansstream.model._events import loads_json
from sansstream.providers._common import load_json


def outcome(fn: Any, text: str | bytes) -> tuple[str, str]:
    try:
        value = fn(text)
    except (ValueError, RecursionError) as exc:
        return ("error", f"{type(exc).__name__}: {exc}")
    # repr keeps NaN comparable and tells 1 from 1.0 and True from 1.
    return ("value", repr(value))


TRICKY = [
    '{"a":1}',
    ' {"a":1}',
    '{"a":1} ',
    '{"a":1}\n',
    "\t[1,2]\r\n",
    "\ufeff{}",
    "",
    " ",
    "{",
    '{"a":1}{"b":2}',
    '{"a":1} x',
    "NaN",
    "[NaN, Infinity, -Infinity]",
    "1" * 5000,  # over int()'s digit limit: json.loads raises ValueError
    "12345678901234567890123456789",
    "1e400",
    "-0",
    '"\\ud800"',
    '"\\u00e9\\n"',
    "[" * 100_000 + "]" * 100_000,  # too deep: RecursionError
    '{"a":1,"a":2}',
    "true",
    "nul",
    b'{"bytes":true}',
    b"\xef\xbb\xbf{}",
    '{"a":"b"}\x00',
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_tricky_inputs_match_json_loads(text: str | bytes) -> None:
    assert outcome(loads_json, text) == outcome(json.loads, text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    json_values,
    st.sampled_from(["", " ", "\n", "\t ", "\r\n"]),
    st.sampled_from(["", " ", "\n", "x", "]"]),
)
def test_dumped_values_with_any_surroundings_match_json_loads(value: Any, before: str, after: str) -> None:
    for separators in ((",", ":"), (", ", ": ")):
        text = before + json.dumps(value, separators=separators) + after
        assert outcome(loads_json, text) == outcome(json.loads, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_matches_json_loads(text: str) -> None:
    assert outcome(loads_json, text) == outcome(json.loads, text)


def test_nan_and_huge_integers_come_back_as_the_stdlib_gives_them() -> None:
    assert math.isnan(loads_json("NaN"))
    assert loads_json("123456789012345678901234567890") == 123456789012345678901234567890


def test_decoders_still_name_what_was_not_json() -> None:
    with pytest.raises(RemoteProtocolError, match=r"openai SSE data is not valid JSON"):
        load_json("{oops", "openai SSE data")
    with pytest.raises(RemoteProtocolError, match=r"SSE data of 'delta' event is not valid JSON"):
        ServerSentEvent('{"a":1} trailing', event="delta").json()
    assert ServerSentEvent(' {"a": 1}\n').json() == {"a": 1}
