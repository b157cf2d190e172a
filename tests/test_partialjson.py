"""The incremental partial-JSON parser (sansstream.core._partialjson): every prefix of random JSON
texts, cut at every byte, agrees with the official SDKs' partial parser (jiter ``from_json`` with
``partial_mode=True``, what openai's ``parsed_arguments`` and anthropic's ``input`` snapshot call;
``"trailing-strings"`` for ``trailing_strings=True``), the final value equals ``json.loads``, and
bad input, depth and size limits raise our errors."""

from __future__ import annotations

import json
import random
from typing import Any

import jiter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sansstream.core._partialjson import PartialJSONParser, parse_partial_json
from sansstream.model import (
    EventTooLargeError,
    IncompleteStreamError,
    LocalProtocolError,
    RemoteProtocolError,
)

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


def _jiter(prefix: bytes, trailing: bool) -> Any:
    try:
        return ("ok", jiter.from_json(prefix, partial_mode="trailing-strings" if trailing else True))
    except ValueError:
        return ("err", None)


def _ours(chunks: list[bytes], trailing: bool) -> list[Any]:
    """Our value after each chunk (a snapshot, since the live value keeps changing)."""
    p = PartialJSONParser(trailing_strings=trailing)
    out = []
    for c in chunks:
        p.feed(c)
        out.append(("ok", p.snapshot()) if p.has_value else ("err", None))
    return out


def _parse_all(text: str) -> Any:
    p = PartialJSONParser()
    p.feed(text)
    return p.close()


def _complete(p: PartialJSONParser) -> bool:
    return p.complete  # a call, so the type checker does not narrow the property between feeds


def _dumps(value: Any, rng: random.Random) -> bytes:
    indent = rng.choice([None, None, 1])
    return json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=indent).encode()


def _same(a: Any, b: Any) -> bool:
    # -0.0 vs 0.0 and int vs float must match exactly, as jiter and json.loads do.
    return json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False) and type(a) is type(b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects, st.booleans(), st.randoms(use_true_random=False))
def test_agrees_with_jiter_at_every_byte(value: Any, trailing: bool, rng: random.Random) -> None:
    text = _dumps(value, rng)
    # Fed one byte at a time: the value after byte k is jiter's value of text[:k] (when jiter has
    # one; a prefix that ends inside a UTF-8 character is not given to jiter).
    ours = _ours([text[k : k + 1] for k in range(len(text))], trailing)
    for k in range(1, len(text) + 1):
        prefix = text[:k]
        try:
            prefix.decode()
        except UnicodeDecodeError:
            continue
        want = _jiter(prefix, trailing)
        assert ours[k - 1][0] == want[0] or want[0] == "err", (prefix, ours[k - 1], want)
        if want[0] == "ok":
            assert _same(ours[k - 1][1], want[1]), (prefix, ours[k - 1], want)
    p = PartialJSONParser(trailing_strings=trailing)
    p.feed(text)
    assert _same(p.close(), json.loads(text))


@settings(max_examples=200, deadline=None)
@given(json_values, st.randoms(use_true_random=False))
def test_final_value_equals_json_loads(value: Any, rng: random.Random) -> None:
    text = _dumps(value, rng)
    p = PartialJSONParser()
    i = 0
    while i < len(text):
        j = i + rng.randint(1, 8)
        p.feed(text[i:j])
        i = j
    assert _same(p.close(), json.loads(text))
    # and as str fragments
    s = text.decode()
    q = PartialJSONParser()
    for k in range(0, len(s), 3):
        q.feed(s[k : k + 3])
    assert _same(q.close(), json.loads(s))


@pytest.mark.parametrize(
    ("text", "plain", "trailing"),
    [
        ('{"a": 12', {"a": 12}, {"a": 12}),
        ('{"a": 1.', {}, {}),
        ('{"a": -', {}, {}),
        ('{"a": "x', {}, {"a": "x"}),
        ('{"a": "x\\', {}, {"a": "x"}),
        ('{"a": "\\u00', {}, {"a": ""}),
        ('["a\\ud83d', [], ["a"]),
        ('["a\\ud83d\\ude00', [], ["a\U0001f600"]),
        ('{"a":1,"a":"x', {"a": 1}, {"a": "x"}),
        ('[{}, {"b', [{}, {}], [{}, {}]),
        ("[tru", [], []),
        ("[true", [True], [True]),
        ('{"a": {"b": [1, nul', {"a": {"b": [1]}}, {"a": {"b": [1]}}),
    ],
)
def test_known_prefixes(text: str, plain: Any, trailing: Any) -> None:
    assert parse_partial_json(text) == plain
    assert parse_partial_json(text, trailing_strings=True) == trailing
    assert jiter.from_json(text.encode(), partial_mode=True) == plain
    assert jiter.from_json(text.encode(), partial_mode="trailing-strings") == trailing


def test_live_value_is_updated_in_place_and_provisional_scalars_are_withdrawn() -> None:
    p = PartialJSONParser(trailing_strings=True)
    p.feed('{"city": "Par')
    live = p.value
    assert live == {"city": "Par"}
    snap = p.snapshot()
    p.feed('is", "n": 1')
    assert p.value is live
    assert live == {"city": "Paris", "n": 1}
    p.feed(".")  # "1." is not a number yet: withdrawn
    assert p.value == {"city": "Paris"}
    p.feed("5}")
    assert _complete(p)
    assert p.close() == {"city": "Paris", "n": 1.5}
    assert snap == {"city": "Par"}


def test_root_scalars() -> None:
    p = PartialJSONParser()
    p.feed("12")
    assert p.has_value
    assert p.value == 12
    assert not _complete(p)
    p.feed("3 ")
    assert _complete(p)
    assert p.close() == 123
    p = PartialJSONParser()
    p.feed(" ")
    assert not p.has_value
    assert p.value is None
    with pytest.raises(IncompleteStreamError):
        p.close()


@pytest.mark.parametrize(
    "text",
    [
        "[1,]",
        "{1:2}",
        '{"a" 1}',
        "[01]",
        "[1.e5]",
        "[tx]",
        '["\x01"]',
        '["\\x"]',
        '["\\u12g4"]',
        "[1] 2",
        "[NaN]",
        "[Infinity]",
        "]",
        '{"a":1]',
        "[1}",
    ],
)
def test_bad_json_raises_remote_protocol_error_and_stays_failed(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        _parse_all(text)


def test_failed_parser_refuses_input() -> None:
    p = PartialJSONParser()
    with pytest.raises(RemoteProtocolError):
        p.feed("[1,]")
    with pytest.raises(RemoteProtocolError, match="already failed"):
        p.feed("1")


def test_incomplete_at_close() -> None:
    for text in ['{"a": 1', "[", '"abc', "tru", "-", '{"a"']:
        p = PartialJSONParser()
        p.feed(text)
        with pytest.raises(IncompleteStreamError):
            p.close()


def test_depth_and_size_limits() -> None:
    p = PartialJSONParser(max_depth=10)
    p.feed("[" * 10)
    with pytest.raises(RemoteProtocolError, match="max_depth=10"):
        p.feed("[")
    p = PartialJSONParser(max_size=100)
    p.feed('"' + "a" * 98)
    with pytest.raises(EventTooLargeError) as ei:
        p.feed("aa")
    assert ei.value.limit == 100
    assert ei.value.size == 101
    # The default depth bound keeps deep nesting from reaching Python's recursion limit anywhere.
    q = PartialJSONParser()
    with pytest.raises(RemoteProtocolError):
        q.feed("[" * 100_000)


def test_invalid_utf8_and_misuse() -> None:
    p = PartialJSONParser()
    with pytest.raises(RemoteProtocolError, match="UTF-8"):
        p.feed(b'["\xff"]')
    p = PartialJSONParser()
    p.feed(b'["\xc3')
    with pytest.raises(LocalProtocolError):
        p.feed('"]')
    p = PartialJSONParser()
    p.feed(b'["\xc3')
    p.feed(b'\xa9"]')
    assert p.close() == ["\xe9"]
    with pytest.raises(LocalProtocolError):
        p.feed("1")


def test_lone_surrogates_match_json_loads() -> None:
    for text in [
        '["\\ud800"]',
        '["\\ud800x"]',
        '["\\udc00\\ud800"]',
        '["\\ud800\\ud800\\udc00"]',
        '["\\ud800\\n"]',
    ]:
        for step in (1, 2, 7):
            p = PartialJSONParser()
            for k in range(0, len(text), step):
                p.feed(text[k : k + step])
            assert p.close() == json.loads(text), text


def test_linear_cost_for_one_byte_fragments() -> None:
    # A 1 MB string fed a byte at a time finishes (quadratic re-parsing would take minutes).
    p = PartialJSONParser()
    p.feed('{"k": "')
    for _ in range(200_000):
        p.feed("abcde")
    p.feed('"}')
    assert len(p.close()["k"]) == 1_000_000


def test_version_changes_exactly_when_the_value_does() -> None:
    p = PartialJSONParser()
    seen = []
    last = None
    for piece in ['{"a', '": 1', "2", ", ", '"b": [', "tr", "ue", "]", "}"]:
        p.feed(piece)
        value = p.snapshot()
        if p.version != last:
            last = p.version
            seen.append(value)
        else:
            assert value == seen[-1]
    assert seen == [{}, {"a": 1}, {"a": 12}, {"a": 12, "b": []}, {"a": 12, "b": [True]}]
