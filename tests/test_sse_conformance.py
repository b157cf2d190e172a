"""sansstream's SSE parser against the 723 recorded conformance cases.

Each case is a response body whose expected events were recorded from Chromium's native
EventSource (cross-checked with eventsource-parser; see the corpus README and DIVERGENCES.md).
Every case is fed whole, byte by byte, and in its recorded split plan when it has one, through
the pull API (``receive_data`` / ``next_event``) and through ``feed``; the events and the state
at the end of the stream (last event ID, reconnection time unless browsers disagree on it) must
match exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import at_offsets, bytewise, conformance_dir, random_splits, whole

from sansstream.core import SSEParser, iter_sse
from sansstream.model import END, NEED_DATA, ServerSentEvent

CONFORMANCE = conformance_dir()
MANIFEST: list[dict[str, Any]] = json.loads((CONFORMANCE / "manifest.json").read_text("utf-8"))
NAMES = [case["name"] for case in MANIFEST]


def _load(name: str) -> tuple[bytes, dict[str, Any], list[int] | None]:
    streams = CONFORMANCE / "streams"
    body = (streams / f"{name}.sse").read_bytes()
    expected = json.loads((CONFORMANCE / "expected" / f"{name}.json").read_text("utf-8"))
    split: Path = streams / f"{name}.split.json"
    offsets = json.loads(split.read_text("utf-8"))["offsets"] if split.is_file() else None
    return body, expected, offsets


def _as_dicts(events: list[ServerSentEvent]) -> list[dict[str, str]]:
    return [{"type": e.event, "data": e.data, "lastEventId": e.id} for e in events]


def _pull(chunks: list[bytes]) -> tuple[list[ServerSentEvent], SSEParser[ServerSentEvent]]:
    """The h11-style loop: receive_data, then next_event until NEED_DATA; END after b""."""
    parser = SSEParser()
    events: list[ServerSentEvent] = []
    for chunk in [*chunks, b""]:
        parser.receive_data(chunk)
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                assert chunk, "NEED_DATA after the end of the stream"
                break
            if event is END:
                assert not chunk, "END before the end of the stream"
                break
            events.append(event)
    assert parser.next_event() is END  # and it stays there
    return events, parser


def _feed(chunks: list[bytes]) -> tuple[list[ServerSentEvent], SSEParser[ServerSentEvent]]:
    parser = SSEParser()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.feed(b"")
    assert parser.next_event() is END
    return events, parser


def _check(
    name: str,
    slicer: Callable[[bytes], list[bytes]],
    run: Callable[[list[bytes]], tuple[list[ServerSentEvent], SSEParser[ServerSentEvent]]],
) -> None:
    body, expected, _ = _load(name)
    events, parser = run(slicer(body))
    assert _as_dicts(events) == expected["events"]
    end = expected["end"]
    assert parser.last_event_id == end["lastEventId"]
    if not end["retry_ambiguous"]:
        assert parser.retry == end["retry"]


def test_corpus_is_complete() -> None:
    assert len(NAMES) == 723
    assert len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_whole(name: str) -> None:
    _check(name, whole, _pull)
    _check(name, whole, _feed)


@pytest.mark.parametrize("name", NAMES)
def test_byte_by_byte(name: str) -> None:
    _check(name, bytewise, _pull)


@pytest.mark.parametrize("name", NAMES)
def test_random_splits(name: str) -> None:
    _check(name, lambda body: random_splits(body, seed=len(name), max_size=7), _feed)


SPLIT_NAMES = [name for name in NAMES if (CONFORMANCE / "streams" / f"{name}.split.json").is_file()]


@pytest.mark.parametrize("name", SPLIT_NAMES)
def test_split_plan(name: str) -> None:
    _, _, offsets = _load(name)
    assert offsets is not None

    def plan(body: bytes) -> list[bytes]:
        return at_offsets(body, offsets)

    _check(name, plan, _pull)
    _check(name, plan, _feed)


def test_split_plans_exist() -> None:
    assert len(SPLIT_NAMES) == sum(1 for case in MANIFEST if case["split"])
    assert SPLIT_NAMES


def test_iter_sse_over_the_whole_corpus() -> None:
    """The driver loop agrees with the expectations too (one pass over every case)."""
    for name in NAMES:
        body, expected, offsets = _load(name)
        chunks = at_offsets(body, offsets) if offsets else random_splits(body, seed=1)
        assert _as_dicts(list(iter_sse(chunks))) == expected["events"], name
