"""The reference SSE model (``tests/reference_sse.py``) agrees with every conformance case.

The fuzzers and property tests compare sansstream's parser against this oracle, so the oracle
itself must be shown correct first: here it is checked against all 723 cases whose expectations
were recorded from Chromium's EventSource (cross-checked with eventsource-parser; see the
conformance README). A few hand-written cases pin the spec rules the corpus could under-test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reference_sse import decode_body, parse_retry_digits, reference_parse, split_lines
from support import conformance_dir

CONFORMANCE = conformance_dir()
MANIFEST: list[dict[str, Any]] = json.loads((CONFORMANCE / "manifest.json").read_text("utf-8"))
NAMES = [case["name"] for case in MANIFEST]


def _load(name: str) -> tuple[bytes, dict[str, Any]]:
    body = (CONFORMANCE / "streams" / f"{name}.sse").read_bytes()
    expected = json.loads((CONFORMANCE / "expected" / f"{name}.json").read_text("utf-8"))
    return body, expected


def test_corpus_is_complete() -> None:
    assert len(NAMES) == 723
    assert all(Path(CONFORMANCE / "streams" / f"{n}.sse").is_file() for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_reference_matches_conformance_case(name: str) -> None:
    body, expected = _load(name)
    result = reference_parse(body)
    got = [{"type": e.type, "data": e.data, "lastEventId": e.last_event_id} for e in result.events]
    assert got == expected["events"]
    assert result.last_event_id == expected["end"]["lastEventId"]
    # Where browsers disagree on the reconnection delay the recorded value is the spec's; our
    # oracle follows the spec, so it must match in every case, ambiguous or not.
    assert result.retry == expected["end"]["retry"]


def test_split_plans_are_irrelevant_to_the_oracle() -> None:
    # The oracle sees whole bodies only; the split plans exist for the incremental parser.
    # Check at least that every plan's offsets lie inside its body, so the plans are usable.
    plans = sorted((CONFORMANCE / "streams").glob("*.split.json"))
    assert plans
    for plan in plans:
        offsets = json.loads(plan.read_text("utf-8"))["offsets"]
        body = plan.with_name(plan.name.replace(".split.json", ".sse")).read_bytes()
        assert all(0 <= o <= len(body) for o in offsets), plan.name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0),
        ("1500", 1500),
        ("007", 7),
        ("", None),
        (" 12", None),
        ("12 ", None),
        ("+1", None),
        ("-1", None),
        ("1_2", None),
        ("1.5", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits: int() takes them, the spec does not
        ("\uff11", None),  # fullwidth 1
    ],
)
def test_retry_digits(value: str, expected: int | None) -> None:
    assert parse_retry_digits(value) == expected


def test_retry_beyond_ints_digit_limit() -> None:
    # int() refuses more than 4300 digits by default; the spec sets no length limit.
    value = parse_retry_digits("9" * 10_000)
    assert value is not None
    assert value == 10**10_000 - 1


def test_only_cr_lf_crlf_end_lines() -> None:
    lines, rest = split_lines("a\u2028b\u0085c\x0bd\x0ce\x1cf\rg\nh\r\ni")
    assert lines == ["a\u2028b\u0085c\x0bd\x0ce\x1cf", "g", "h"]
    assert rest == "i"
    assert split_lines("\r\r\n\n") == (["", "", ""], "")


def test_one_bom_is_stripped_only_at_the_start() -> None:
    assert decode_body(b"\xef\xbb\xbf\xef\xbb\xbfx") == "\ufeffx"
    assert decode_body(b"x\xef\xbb\xbf") == "x\ufeff"
    assert decode_body(b"\xff") == "\ufffd"


def test_unterminated_block_and_its_id_are_dropped() -> None:
    result = reference_parse(b"data: a\n\nid: 9\ndata: b\n")
    assert [e.data for e in result.events] == ["a"]
    assert result.last_event_id == ""
    assert result.last_event_id_buffer == "9"


def test_block_retry_is_reported_per_event() -> None:
    result = reference_parse(b"retry: 10\ndata: a\n\ndata: b\n\nretry: x\ndata: c\n\n")
    assert [e.retry for e in result.events] == [10, None, None]
    assert result.retry == 10
