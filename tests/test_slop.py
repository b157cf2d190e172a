"""The SLOP chunk protocol: every event type in both payload forms, over SSE and NDJSON, in
every feed mode; the terminal rules; and a round trip through the server-side encoder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from provider_support import decode_all, feed_modes

from sansstream.model import (
    Chunk,
    ConfigurationError,
    Done,
    IncompleteStreamError,
    ProviderError,
    RemoteProtocolError,
    StreamError,
    TextDelta,
    ToolCallEnd,
    ToolResult,
)
from sansstream.providers import get

EVENTS: list[dict[str, Any]] = [
    {"type": "start", "id": "r1", "model": "tiny"},
    {"type": "thinking", "content": "Let me see. "},
    {"type": "content", "content": "Hello"},
    {"type": "content", "content": ", wörld"},
    {"type": "tool_start", "content": {"id": "c1", "name": "add", "input": {"a": 1, "b": 2}}},
    {"type": "tool_start", "id": "c2", "name": "echo", "arguments": '{"s": "x"}'},
    {"type": "tool_result", "content": {"tool_call_id": "c1", "result": 3}},
    {"type": "tool_result", "id": "c2", "content": "x"},
    {"type": "usage", "content": {"input_tokens": 5, "output_tokens": 7}},
    {"type": "finish", "content": "tool_calls"},
    {"type": "something_new", "content": "ignored"},
    {"type": "done"},
]


def sse(events: list[Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)


def ndjson(events: list[Any]) -> bytes:
    return b"".join(f"{json.dumps(e)}\n".encode() for e in events)


@pytest.mark.parametrize("framing", ["sse", "ndjson"])
@feed_modes
def test_every_event_type(framing: str, feed_mode: str) -> None:
    data = sse(EVENTS) if framing == "sse" else ndjson(EVENTS)
    decoded = decode_all("slop", data, feed_mode, framing=framing)
    assert decoded.error is None
    result = decoded.result
    assert (result.id, result.model) == ("r1", "tiny")
    assert result.reasoning == "Let me see. "
    assert result.text == "Hello, wörld"
    calls = [(t.index, t.id, t.name, t.input) for t in result.tool_calls]
    assert calls == [(0, "c1", "add", {"a": 1, "b": 2}), (1, "c2", "echo", {"s": "x"})]
    assert json.loads(result.tool_calls[0].arguments) == {"a": 1, "b": 2}
    assert [(r.tool_call_id, r.content) for r in result.tool_results] == [("c1", 3), ("c2", "x")]
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (5, 7, 12)
    assert (result.finish_reason, result.raw_finish_reason) == ("tool_calls", "tool_calls")
    assert result.done
    assert isinstance(decoded.chunks[-1], Done)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "error", "content": "quota exceeded"},
        {"type": "error", "content": {"message": "quota exceeded", "code": 429}},
        {"type": "error", "message": "quota exceeded", "code": "overloaded", "error_type": "x"},
    ],
)
def test_error_forms(event: dict[str, Any]) -> None:
    data = sse([{"type": "content", "content": "Hi"}, event])
    raised = decode_all("slop", data)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == "quota exceeded"
    assert raised.error.provider == "slop"
    assert raised.chunks == [TextDelta("Hi")]
    assert raised.error.partial is not None
    assert raised.error.partial.text == "Hi"
    # An error ends the stream: as a chunk, no IncompleteStreamError follows it.
    passed = decode_all("slop", data, raise_errors=False)
    assert passed.error is None
    assert isinstance(passed.chunks[-1], StreamError)


def test_retryable_flag_is_honoured_and_guessed() -> None:
    explicit = decode_all("slop", sse([{"type": "error", "content": {"message": "m", "retryable": True}}]))
    assert isinstance(explicit.error, ProviderError)
    assert explicit.error.retryable
    guessed = decode_all("slop", sse([{"type": "error", "content": {"message": "m", "code": 503}}]))
    assert isinstance(guessed.error, ProviderError)
    assert guessed.error.retryable


@pytest.mark.parametrize("framing", ["sse", "ndjson"])
def test_missing_done_is_truncation(framing: str) -> None:
    events = [{"type": "content", "content": "Hel"}]
    data = sse(events) if framing == "sse" else ndjson(events)
    decoded = decode_all("slop", data, framing=framing)
    assert isinstance(decoded.error, IncompleteStreamError)
    assert '{"type": "done"}' in str(decoded.error)
    assert decoded.error.partial is not None
    assert decoded.error.partial.text == "Hel"
    assert decode_all("slop", data, framing=framing, strict=False).error is None


def test_keepalives_are_counted_not_decoded() -> None:
    from sansstream.providers import StreamDecoder

    machine = StreamDecoder("slop", framing="ndjson")
    chunks = machine.feed(b'null\n{"type":"content","content":"a"}\nnull\n{"type":"done"}\n')
    chunks += machine.feed(b"")
    assert [c.type for c in chunks] == ["content", "done"]
    assert machine.keepalives == 2
    sse_machine = StreamDecoder("slop")
    sse_machine.feed(b': ping\n\ndata: {"type":"done"}\n\n')
    sse_machine.feed(b"")
    assert sse_machine.keepalives == 1


@pytest.mark.parametrize("payload", [b"data: [1, 2]\n\n", b'data: "text"\n\n', b"data: {nope\n\n"])
def test_non_object_events_are_protocol_errors(payload: bytes) -> None:
    decoded = decode_all("slop", payload + b'data: {"type":"done"}\n\n')
    assert isinstance(decoded.error, RemoteProtocolError)


def test_round_trip_through_the_server_encoder() -> None:
    from sansstream.server import ndjson_stream, sse_stream

    chunks: list[Chunk] = [
        TextDelta("Hello"),
        ToolCallEnd(index=0, id="c1", name="f", arguments='{"x":1}', input={"x": 1}),
        ToolResult(tool_call_id="c1", kind="tool_result", content={"ok": True}),
    ]
    for framing, body in (
        ("sse", sse_stream(chunks, format="slop")),
        ("ndjson", ndjson_stream(chunks, format="slop")),
    ):
        decoded = decode_all("slop", b"".join(body), "bytewise", framing=framing)
        assert decoded.error is None
        assert decoded.result.text == "Hello"
        assert [(t.id, t.name, t.input) for t in decoded.result.tool_calls] == [("c1", "f", {"x": 1})]
        assert [r.content for r in decoded.result.tool_results] == [{"ok": True}]
        assert decoded.result.done


def test_request_shape() -> None:
    provider = get("slop")
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    request = provider.build_request(model="tiny", messages=messages, base_url="http://127.0.0.1:9/chat")
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/chat"
    assert request.json_body() == {"model": "tiny", "messages": messages, "stream": True}
    assert "authorization" not in request.headers
    with pytest.raises(ConfigurationError, match="base_url"):
        provider.build_request(model="tiny", messages=messages)
