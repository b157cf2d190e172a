"""Partial tool arguments judged by the official SDKs themselves, not only by jiter: anthropic's
``accumulate_event`` (the tool block's ``input`` snapshot) and openai's
``ChatCompletionStreamState`` (``parsed_arguments`` of strict tools), fed the recorded events one
by one, against ``PartialTracker`` fed our chunks for the same events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import provider_fixtures_dir

from sansstream.core._partialjson import PartialTracker
from sansstream.providers._pipeline import StreamDecoder

anthropic_streaming = pytest.importorskip("anthropic.lib.streaming._messages")
openai_streaming = pytest.importorskip("openai.lib.streaming.chat._completions")


def _sse_events(data: bytes) -> list[bytes]:
    return [e + b"\n\n" for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]


def _data(event: bytes) -> Any:
    lines = [ln[5:].strip() for ln in event.split(b"\n") if ln.startswith(b"data:")]
    return json.loads(b"\n".join(lines)) if lines and lines[0] != b"[DONE]" else None


@pytest.mark.parametrize(
    "fixture",
    [
        "anthropic/text-then-tool-use.sse",
        "anthropic/tool-use-single.sse",
        "anthropic/thinking-then-tool-use.sse",
    ],
)
def test_anthropic_input_snapshots(fixture: str) -> None:
    data = (provider_fixtures_dir() / fixture).read_bytes()
    machine = StreamDecoder("anthropic")
    tracker = PartialTracker()
    snapshot: Any = None
    bufs: dict[int, bytes] = {}
    compared = 0
    for event in _sse_events(data):
        for chunk in machine.feed(event):
            tracker.add(chunk)
        payload = _data(event)
        if payload is None or payload.get("type") == "ping":
            continue
        snapshot = anthropic_streaming.accumulate_event(
            event=payload, current_snapshot=snapshot, json_bufs=bufs
        )
        if payload.get("type") == "content_block_delta" and payload["delta"]["type"] == "input_json_delta":
            block = snapshot.content[payload["index"]]
            ours = {c.id: c for c in tracker.tool_calls()}[block.id]
            assert ours.input == block.input, (bufs, ours.input, block.input)
            compared += 1
    assert compared >= 1


@pytest.mark.parametrize(
    "fixture", ["openai-chat/strict-tool-call.sse", "openai-chat/parallel-tool-calls.sse"]
)
def test_openai_parsed_arguments(fixture: str) -> None:
    from openai.types.chat import ChatCompletionChunk

    data = (provider_fixtures_dir() / fixture).read_bytes()
    chunks = [c for c in (_data(e) for e in _sse_events(data)) if c is not None]
    names = {
        tc["function"]["name"]
        for c in chunks
        for ch in c.get("choices", [])
        for tc in (ch.get("delta") or {}).get("tool_calls") or []
        if tc.get("function", {}).get("name")
    }
    tools = [
        {"type": "function", "function": {"name": n, "strict": True, "parameters": {"type": "object"}}}
        for n in names
    ]
    state = openai_streaming.ChatCompletionStreamState(input_tools=tools)
    machine = StreamDecoder("openai")
    tracker = PartialTracker()
    compared = 0
    for event in _sse_events(data):
        for chunk in machine.feed(event):
            tracker.add(chunk)
        payload = _data(event)
        if payload is None:
            continue
        state.handle_chunk(ChatCompletionChunk(**payload))
        snapshot = state.current_completion_snapshot
        for call in snapshot.choices[0].message.tool_calls or []:
            if call.function.arguments:
                ours = {c.index: c for c in tracker.tool_calls()}[call.index]
                assert ours.input == call.function.parsed_arguments
                compared += 1
    assert compared >= 1
