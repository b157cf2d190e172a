"""Recorded Anthropic Messages streams decode to what their ``.expected.json`` says, fed whole,
byte by byte and at random splits.

Expected-file fields (schema ``anthropic-messages``) and what they are compared with:

- ``message_id`` / ``model`` → ``result.id`` / ``result.model`` (from ``message_start``)
- ``text`` / ``thinking`` → ``result.text`` / ``result.reasoning``
- ``blocks[]`` by type: ``thinking`` → a ``ReasoningBlock`` with that text and a signature of
  ``signature_len`` characters; ``redacted_thinking`` → a redacted ``ReasoningBlock`` whose
  ``data`` has ``data_len`` characters; ``*_tool_result`` → a ``ToolResult`` of that ``kind``
  whose ``raw`` block has ``start_block_keys``; ``compaction`` → ``ToolResult(kind="compaction")``
  with ``content``; ``text`` blocks with ``citations`` → one ``ToolResult(kind="citation")`` per
  citation; tool-use blocks → ``ToolCall`` (``partial_json`` is the raw text: ``arguments``,
  or ``"{}"`` when only ``""`` was sent)
- ``tool_calls[] {id, name, input, block_type}`` → ``ToolCall.id / name / input / kind`` (``tool_use``
  is reported as kind ``"function"``, like every provider's client tools)
- ``stop_reason`` → ``raw_finish_reason`` (``finish_reason`` is its normalised form);
  ``stop_sequence`` / ``stop_details`` → the ``Finish`` chunk's ``raw`` (the message_delta delta)
- ``usage_merged`` → ``result.usage.raw`` (merged field by field; the last ``Usage`` chunk)
- ``errors`` → ``result.errors``; ``pings`` → ``StreamDecoder.keepalives``;
  ``message_stop_seen`` → ``result.done``; ``sse_events_total`` → ``wire_events``
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from provider_support import (
    decode_fixture,
    feed_modes,
    fixture_cases,
    fixture_params,
    slices,
    wire_event_offsets,
)

from sansstream.model import (
    Done,
    Finish,
    IncompleteStreamError,
    ReasoningDelta,
    ResponseStart,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResult,
    Usage,
)
from sansstream.providers import StreamDecoder, decode_stream
from sansstream.providers.anthropic import STOP_REASONS

CASES = fixture_params("anthropic")
PATHS = {path.name: path for path, _ in fixture_cases("anthropic")}


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode)
    assert decoded.error is None
    result = decoded.result
    assert result.id == expected["message_id"]
    assert result.model == expected["model"]
    assert result.text == expected["text"]
    assert result.reasoning == expected["thinking"]
    calls = [
        {
            "id": t.id,
            "name": t.name,
            "input": t.input,
            "block_type": "tool_use" if t.kind == "function" else t.kind,
        }
        for t in result.tool_calls
    ]
    assert calls == expected["tool_calls"]
    assert result.raw_finish_reason == expected["stop_reason"]
    assert result.finish_reason == STOP_REASONS[expected["stop_reason"]]
    finish = [c for c in decoded.chunks if isinstance(c, Finish)]
    assert len(finish) == 1
    assert finish[0].raw.get("stop_sequence") == expected["stop_sequence"]
    assert finish[0].raw.get("stop_details") == expected["stop_details"]
    assert result.usage is not None
    assert result.usage.raw == expected["usage_merged"]
    assert result.errors == ()
    assert expected["errors"] == []
    assert result.done is expected["message_stop_seen"] is True
    assert isinstance(decoded.chunks[0], ResponseStart)
    assert isinstance(decoded.chunks[-1], Done)


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_fixture_blocks(path: Path, expected: dict[str, Any]) -> None:
    decoded = decode_fixture(path, "random")
    result = decoded.result
    thinking = [b for b in expected["blocks"] if b["type"] in ("thinking", "redacted_thinking")]
    assert len(result.reasoning_blocks) == len(thinking)
    for want, block in zip(thinking, result.reasoning_blocks, strict=True):
        if want["type"] == "thinking":
            assert block.text == want["thinking"]
            assert block.signature is not None
            assert len(block.signature) == want["signature_len"]
            assert not block.redacted
        else:
            assert block.redacted
            assert block.data is not None
            assert len(block.data) == want["data_len"]
    results = [r for r in result.tool_results if r.kind not in ("citation", "compaction")]
    wanted = [b for b in expected["blocks"] if b["type"].endswith("_tool_result")]
    assert [r.kind for r in results] == [b["type"] for b in wanted]
    for want, got in zip(wanted, results, strict=True):
        assert sorted(got.raw) == want["start_block_keys"]
        # the result is tied to the call it answers
        assert got.tool_call_id in {t.id for t in result.tool_calls}
        assert got.index == next(t.index for t in result.tool_calls if t.id == got.tool_call_id)
    compaction = [r.content for r in result.tool_results if r.kind == "compaction"]
    assert compaction == [b["content"] for b in expected["blocks"] if b["type"] == "compaction"]
    citations = [r for r in result.tool_results if r.kind == "citation"]
    assert len(citations) == sum(len(b.get("citations", ())) for b in expected["blocks"])
    assert [c.content["type"] for c in citations] == [
        kind for b in expected["blocks"] for kind in b.get("citations", ())
    ]
    tool_blocks = [b for b in expected["blocks"] if "partial_json" in b]
    for want, call in zip(tool_blocks, result.tool_calls, strict=True):
        assert call.arguments == (want["partial_json"] or "{}")


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_counters_and_chunk_order(path: Path, expected: dict[str, Any]) -> None:
    machine = StreamDecoder("anthropic")
    chunks = [*machine.feed(path.read_bytes()), *machine.feed(b"")]
    assert machine.keepalives == expected["pings"]
    assert machine.wire_events == expected["sse_events_total"]
    # Tool calls: start, then deltas, then one end, per index; the deltas join to the arguments.
    for index in {c.index for c in chunks if isinstance(c, ToolCallStart)}:
        mine = [
            c
            for c in chunks
            if isinstance(c, (ToolCallStart, ToolCallDelta, ToolCallEnd)) and c.index == index
        ]
        assert isinstance(mine[0], ToolCallStart)
        assert isinstance(mine[-1], ToolCallEnd)
        assert all(isinstance(c, ToolCallDelta) for c in mine[1:-1])
        joined = "".join(c.arguments for c in mine[1:-1] if isinstance(c, ToolCallDelta))
        assert mine[-1].arguments == (joined or "{}")
    # Usage is emitted merged: every Usage chunk's raw contains everything the previous one had.
    usages = [c for c in chunks if isinstance(c, Usage)]
    for before, after in itertools.pairwise(usages):
        assert set(before.raw) <= set(after.raw)
    # A signature stays with the thinking text of its block.
    for chunk in chunks:
        if isinstance(chunk, ReasoningDelta) and chunk.signature is not None:
            assert chunk.text == ""


def test_usage_counts_include_cache() -> None:
    path = PATHS["compaction-cache-usage.sse"]
    usage = decode_fixture(path).result.usage
    assert usage is not None
    # Merged: message_delta's input_tokens 181 and cache_read 0 replace message_start's 100 / 55096.
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.total_tokens) == (
        181,
        8,
        0,
        189,
    )
    thinking = PATHS["thinking-then-tool-use.sse"]
    usage = decode_fixture(thinking).result.usage
    assert usage is not None
    assert usage.reasoning_tokens == 53


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_truncated_before_message_stop_is_incomplete(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    cut = data.rindex(b"event: message_stop")
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream("anthropic", slices(data[:cut], "random")))
    partial = info.value.partial
    assert partial is not None
    assert partial.text == expected["text"]
    assert not partial.done
    # strict=False accepts it, with everything delivered
    chunks = list(decode_stream("anthropic", [data[:cut]], strict=False))
    assert not any(isinstance(c, Done) for c in chunks)


@pytest.mark.parametrize(("path", "expected"), CASES[:4])
def test_every_cut_point_is_incomplete_or_complete_never_wrong(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    stop = data.rindex(b"event: message_stop")
    for offset in wire_event_offsets(data, limit=40):
        if offset <= stop:
            with pytest.raises(IncompleteStreamError) as info:
                list(decode_stream("anthropic", [data[:offset]]))
            assert info.value.partial is not None
            assert expected["text"].startswith(info.value.partial.text)
        else:
            chunks = list(decode_stream("anthropic", [data[:offset]]))
            assert isinstance(chunks[-1], Done)


def test_server_tool_result_is_a_tool_result_chunk() -> None:
    path = PATHS["web-search-citations.sse"]
    chunks = list(decode_stream("anthropic", [path.read_bytes()]))
    search = [c for c in chunks if isinstance(c, ToolResult) and c.kind == "web_search_tool_result"]
    assert len(search) == 1
    assert isinstance(search[0].content, list)
    assert all(item["type"] == "web_search_result" for item in search[0].content)
    starts = [c for c in chunks if isinstance(c, ToolCallStart)]
    assert [s.kind for s in starts] == ["server_tool_use"]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_without_event_lines_dispatch_on_the_json_type(path: Path, expected: dict[str, Any]) -> None:
    """A proxy that drops the ``event:`` lines: the decoder dispatches on ``data.type``."""
    data = path.read_bytes()
    stripped = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"event:"))
    if not stripped.endswith(b"\n"):
        stripped += b"\n\n"  # (the recordings without a final line end are handled elsewhere)
    chunks = list(decode_stream("anthropic", slices(stripped, "random")))
    texts = "".join(c.text for c in chunks if isinstance(c, TextDelta))
    assert texts == expected["text"]
    assert isinstance(chunks[-1], Done)


def _events(*payloads: dict[str, Any]) -> bytes:
    return b"".join(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads)


START = {
    "type": "message_start",
    "message": {"id": "m1", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}},
}
STOP: list[dict[str, Any]] = [
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 9},
    },
    {"type": "message_stop"},
]


def test_tool_input_given_whole_at_start_and_invalid_json() -> None:
    data = _events(
        START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"x": '},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "tru"},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "future_block", "x": 1}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "future_delta", "y": 2}},
        {"type": "content_block_stop", "index": 2},
        *STOP,
    )
    chunks = list(decode_stream("anthropic", [data]))
    ends = [c for c in chunks if isinstance(c, ToolCallEnd)]
    assert [(e.index, e.id, e.name, e.arguments, e.input) for e in ends] == [
        (0, "t1", "f", '{"a":1}', {"a": 1}),
        (1, "t2", "g", '{"x": tru', None),  # kept as sent; not valid JSON
    ]
    finish = next(c for c in chunks if isinstance(c, Finish))
    assert (finish.reason, finish.raw_reason) == ("tool_calls", "tool_use")
    usage = [c for c in chunks if isinstance(c, Usage)][-1]
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (3, 9, 12)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("pause_turn", "other"),
        ("refusal", "refusal"),
        ("a_future_reason", "other"),
    ],
)
def test_stop_reasons(raw: str, reason: str) -> None:
    data = _events(
        START,
        {"type": "message_delta", "delta": {"stop_reason": raw}, "usage": {"output_tokens": 2}},
        STOP[1],
    )
    finish = next(c for c in decode_stream("anthropic", [data]) if isinstance(c, Finish))
    assert (finish.reason, finish.raw_reason) == (reason, raw)


def test_tool_argument_assembly_is_linear() -> None:
    """Argument fragments are joined once: 4x the fragments costs about 4x, not 16x."""

    def stream(n: int) -> list[bytes]:
        head = _events(
            START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"k": "'},
            },
        )
        piece = _events(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "abcdefgh"},
            }
        )
        tail = _events(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '"}'},
            },
            {"type": "content_block_stop", "index": 0},
            *STOP,
        )
        return [head, *([piece] * n), tail]

    def best(n: int) -> float:
        chunks = stream(n)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = [c for c in decode_stream("anthropic", chunks) if isinstance(c, ToolCallEnd)]
            times.append(time.perf_counter() - start)
            assert len(result[0].input["k"]) == 8 * n
        return min(times)

    small, large = best(2_000), best(8_000)
    assert large / small < 10  # quadratic would be ~16
