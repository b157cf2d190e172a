"""Recorded Bedrock ConverseStream bodies (binary AWS event-stream frames) decode to what their
``.expected.json`` says, fed whole, byte by byte and at random splits.

Expected-file fields (schema ``bedrock-eventstream``) and what they are compared with:

- ``text`` / ``reasoning`` → ``result.text`` / ``result.reasoning``
- ``blocks[]``: ``reasoning`` blocks → ``ReasoningBlock`` (text, ``signature_len``, ``redacted``
  with base64 ``data``); ``toolUse`` blocks ``{toolUseId, name, input, input_parsed}`` →
  ``ToolCall.id / name / arguments / input``
- ``stop_reason`` → ``raw_finish_reason`` (``finish_reason`` normalised)
- ``usage`` → ``result.usage.raw`` (and the mapped counts); ``metrics`` → the ``Done`` chunk's
  ``raw["metrics"]`` (the metadata payload)
- ``exception`` (null) → no errors; ``frames`` → ``wire_events``; the stream is ``done``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_fixture, feed_modes, fixture_cases, fixture_params, slices

from sansstream.core import EventStreamParser, encode_event_stream_message
from sansstream.model import (
    Done,
    EventStreamMessage,
    Finish,
    IncompleteStreamError,
    RemoteProtocolError,
    ResponseStart,
)
from sansstream.providers import StreamDecoder, decode_stream
from sansstream.providers._common import normalize_finish
from sansstream.providers.bedrock import STOP_REASONS

CASES = fixture_params("bedrock")
PATHS = {path.name: path for path, _ in fixture_cases("bedrock")}


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode)
    assert decoded.error is None
    result = decoded.result
    assert result.text == expected["text"]
    assert result.reasoning == expected["reasoning"]
    assert result.raw_finish_reason == expected["stop_reason"]
    assert result.finish_reason == normalize_finish(expected["stop_reason"], STOP_REASONS)
    assert result.usage is not None
    assert result.usage.raw == expected["usage"]
    assert result.usage.input_tokens == expected["usage"]["inputTokens"]
    assert result.usage.output_tokens == expected["usage"]["outputTokens"]
    assert result.usage.total_tokens == expected["usage"]["totalTokens"]
    assert expected["exception"] is None
    assert result.errors == ()
    assert result.done
    assert isinstance(decoded.chunks[0], ResponseStart)
    done = decoded.chunks[-1]
    assert isinstance(done, Done)
    assert done.raw["metrics"] == expected["metrics"]
    tools = [b for b in expected["blocks"] if b["type"] == "toolUse"]
    got_tools = [(t.id, t.name, t.arguments, t.input) for t in result.tool_calls]
    assert got_tools == [(b["toolUseId"], b["name"], b["input"], b["input_parsed"]) for b in tools]
    reasoning = [b for b in expected["blocks"] if b["type"] == "reasoning"]
    assert len(result.reasoning_blocks) == len(reasoning)
    for want, block in zip(reasoning, result.reasoning_blocks, strict=True):
        assert block.redacted is want.get("redacted", False)
        if block.redacted:
            assert block.data
        else:
            assert block.text == want["reasoning_text"]
        if "signature_len" in want:
            assert block.signature is not None
            assert len(block.signature) == want["signature_len"]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_frame_count(path: Path, expected: dict[str, Any]) -> None:
    machine = StreamDecoder("bedrock")
    machine.feed(path.read_bytes())
    machine.feed(b"")
    assert machine.wire_events == expected["frames"]
    assert machine.keepalives == 0


def _frame_ends(data: bytes) -> list[tuple[int, str]]:
    """(offset just after each frame, its event type)."""
    parser = EventStreamParser()
    parser.receive_data(data)
    out: list[tuple[int, str]] = []
    offset = 0
    while True:
        event = parser.next_event()
        if not isinstance(event, EventStreamMessage):
            return out
        offset += int.from_bytes(data[offset : offset + 4], "big")  # the frame's total length
        out.append((offset, str(event.event_type)))


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_truncation_before_message_stop_is_incomplete(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    ends = _frame_ends(data)
    assert [name for _, name in ends] == expected["frame_event_types"]
    stop = next(i for i, (_, name) in enumerate(ends) if name == "messageStop")
    # every cut before messageStop is incomplete, with the partial result so far
    for offset, _ in ends[:stop]:
        with pytest.raises(IncompleteStreamError) as info:
            list(decode_stream("bedrock", slices(data[:offset], "random")))
        assert info.value.partial is not None
        assert expected["text"].startswith(info.value.partial.text)
    # a cut inside a frame is incomplete too (the framing layer reports it)
    with pytest.raises(IncompleteStreamError):
        list(decode_stream("bedrock", [data[: ends[stop][0] - 3]]))
    # messageStop seen but the metadata frame lost: complete, Done from finish(), no usage
    chunks = list(decode_stream("bedrock", [data[: ends[stop][0]]]))
    assert isinstance(chunks[-1], Done)
    assert not any(c.type == "usage" for c in chunks)


# -- hand-written streams ------------------------------------------------------------------


def _frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")]
    return encode_event_stream_message(headers, json.dumps({**payload, "p": "abcdefghijk"}).encode())


def test_tool_call_without_input_and_citations() -> None:
    data = b"".join(
        [
            _frame("messageStart", {"role": "assistant"}),
            _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "See "}}),
            _frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"citation": {"title": "doc", "location": {}}}},
            ),
            _frame("contentBlockStop", {"contentBlockIndex": 0}),
            _frame(
                "contentBlockStart",
                {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "now"}}},
            ),
            _frame("contentBlockStop", {"contentBlockIndex": 1}),
            _frame(
                "contentBlockStart",
                {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "t2", "name": "add"}}},
            ),
            _frame(
                "contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"a": 1,'}}}
            ),
            _frame(
                "contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": ' "b": 2}'}}}
            ),
            _frame("contentBlockStop", {"contentBlockIndex": 2}),
            _frame("messageStop", {"stopReason": "tool_use"}),
            _frame(
                "metadata",
                {
                    "usage": {
                        "inputTokens": 5,
                        "outputTokens": 7,
                        "totalTokens": 12,
                        "cacheReadInputTokens": 2,
                    },
                    "metrics": {"latencyMs": 1},
                },
            ),
        ]
    )
    machine = StreamDecoder("bedrock")
    chunks = [*machine.feed(data), *machine.feed(b"")]
    result = machine.result()
    assert [(t.index, t.id, t.name, t.arguments, t.input) for t in result.tool_calls] == [
        (0, "t1", "now", "{}", {}),
        (1, "t2", "add", '{"a": 1, "b": 2}', {"a": 1, "b": 2}),
    ]
    assert [r.kind for r in result.tool_results] == ["citation"]
    assert result.tool_results[0].content == {"title": "doc", "location": {}}
    assert result.finish_reason == "tool_calls"
    assert result.usage is not None
    assert result.usage.cached_tokens == 2
    assert isinstance(chunks[-1], Done)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("something_new", "other"),
    ],
)
def test_stop_reasons(raw: str, reason: str) -> None:
    data = _frame("messageStart", {"role": "assistant"}) + _frame("messageStop", {"stopReason": raw})
    chunks = list(decode_stream("bedrock", [data]))
    finish = next(c for c in chunks if isinstance(c, Finish))
    assert (finish.reason, finish.raw_reason) == (reason, raw)


def test_unknown_frames_are_ignored_and_bad_json_is_a_protocol_error() -> None:
    data = _frame("messageStart", {"role": "assistant"}) + _frame("someFutureEvent", {"x": 1})
    data += _frame("messageStop", {"stopReason": "end_turn"})
    assert isinstance(list(decode_stream("bedrock", [data]))[-1], Done)
    bad = encode_event_stream_message(
        [(":event-type", "contentBlockDelta"), (":message-type", "event")], b"{nope"
    )
    with pytest.raises(RemoteProtocolError, match="not valid JSON"):
        list(decode_stream("bedrock", [_frame("messageStart", {}) + bad, b"more"]))
