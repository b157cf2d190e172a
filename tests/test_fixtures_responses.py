"""Recorded OpenAI Responses streams (OpenAI, OpenRouter, DeepSeek) decode to what their
``.expected.json`` says, fed whole, byte by byte and at random splits.

Expected-file fields (schema ``openai-responses``) and what they are compared with:

- ``delta_text_by_item`` (text deltas joined per item, items in order) → ``result.text``
- ``delta_reasoning_summary_by_item`` + ``delta_reasoning_text_by_item`` → ``result.reasoning``
  (no fixture has both kinds; one reasoning block per item part)
- ``final_output_items[]`` of type ``function_call`` → ``result.tool_calls``: ``call_id`` is the
  tool call's ``id`` (what a tool result references), ``name``, ``arguments``,
  ``arguments_parsed`` → ``input``
- ``terminal_event`` / ``status`` → ``finish_reason`` (``completed`` → ``tool_calls`` when the
  output has function calls, else ``stop``; ``failed`` → ``error``) and ``raw_finish_reason``
  (the status)
- ``usage`` → ``result.usage.raw`` and the mapped counts
- ``errors[]`` (``type: "error"`` events) → ``result.errors`` / the raised ``ProviderError``;
  ``response_error`` is the same error repeated in ``response.failed`` and is not reported twice
- ``done_marker`` (OpenRouter's ``[DONE]``) → not a completeness condition here: every fixture
  has a terminal event, so ``result.done`` is always true
- ``sse_events_total`` / ``sse_comment_lines`` → ``wire_events`` / ``keepalives``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_all, decode_fixture, feed_modes, fixture_params

from sansstream.model import ProviderError, StreamError, ToolCallEnd, ToolCallStart
from sansstream.providers import StreamDecoder

CASES = fixture_params("openai-responses")


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode, raise_errors=False)
    assert decoded.error is None, decoded.error
    result = decoded.result
    assert result.text == "".join(expected["delta_text_by_item"].values())
    assert result.reasoning == "".join(expected["delta_reasoning_summary_by_item"].values()) + "".join(
        expected["delta_reasoning_text_by_item"].values()
    )
    calls = [i for i in expected["final_output_items"] if i["type"] == "function_call"]
    got = [(t.id, t.name, t.arguments, t.input) for t in result.tool_calls]
    assert got == [(c["call_id"], c["name"], c["arguments"], c["arguments_parsed"]) for c in calls]
    assert result.raw_finish_reason == expected["status"]
    if expected["status"] == "completed":
        assert result.finish_reason == ("tool_calls" if calls else "stop")
    else:
        assert expected["status"] == "failed"
        assert result.finish_reason == "error"
    if expected["usage"] is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        assert result.usage.raw == expected["usage"]
        assert result.usage.input_tokens == expected["usage"]["input_tokens"]
        assert result.usage.output_tokens == expected["usage"]["output_tokens"]
        assert result.usage.total_tokens == expected["usage"]["total_tokens"]
        assert result.usage.reasoning_tokens == expected["usage"]["output_tokens_details"]["reasoning_tokens"]
        assert result.usage.cached_tokens == expected["usage"]["input_tokens_details"]["cached_tokens"]
    assert [e.message for e in result.errors] == [e["error"]["message"] for e in expected["errors"]]
    assert result.done
    assert result.id


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_counters_match_the_wire(path: Path, expected: dict[str, Any]) -> None:
    machine = StreamDecoder("openai-responses", raise_errors=False)
    machine.feed(path.read_bytes())
    machine.feed(b"")
    # A "data: [DONE]" after response.completed (OpenRouter, LiteLLM) comes after the terminal
    # event: the stream ended there, so it is neither decoded nor counted.
    after_terminal = 1 if path.read_bytes().rstrip().endswith(b"data: [DONE]") else 0
    total = expected["sse_events_total"] + expected["sse_comment_lines"]
    assert machine.wire_events == total - after_terminal
    assert machine.keepalives == expected["sse_comment_lines"]
    assert machine.complete


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_function_call_chunks_use_call_id(path: Path, expected: dict[str, Any]) -> None:
    decoded = decode_fixture(path, raise_errors=False)
    ends = [c for c in decoded.chunks if isinstance(c, ToolCallEnd)]
    calls = [i for i in expected["final_output_items"] if i["type"] == "function_call"]
    assert [e.id for e in ends] == [c["call_id"] for c in calls]
    starts = [c for c in decoded.chunks if isinstance(c, ToolCallStart)]
    assert [s.id for s in starts] == [c["call_id"] for c in calls]


@feed_modes
def test_insufficient_quota_error_raises_with_partial(feed_mode: str) -> None:
    (case,) = [p for p in CASES if "error" in p.id]
    path, expected = case.values
    decoded = decode_fixture(path, feed_mode)
    assert isinstance(decoded.error, ProviderError)
    assert decoded.error.code == "insufficient_quota"
    assert decoded.error.type == "insufficient_quota"
    assert decoded.error.message == expected["errors"][0]["error"]["message"]
    assert decoded.error.partial is not None
    assert decoded.error.partial.id == decoded.result.id is not None
    assert [c.type for c in decoded.chunks] == ["start"]
    # As chunks: one StreamError (response.failed repeats the same error), then finish and done.
    passed = decode_fixture(path, feed_mode, raise_errors=False)
    assert [c.type for c in passed.chunks] == ["start", "error", "finish", "done"]


# ---- hand-written streams --------------------------------------------------------------------


def ev(payload: str, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()


@feed_modes
def test_arguments_only_at_done_and_incomplete_finish(feed_mode: str) -> None:
    data = b"".join(
        [
            ev(
                '{"type":"response.output_item.added","output_index":0,"item":{"type":"function_call",'
                '"id":"fc_1","call_id":"call_1","name":"lookup","arguments":""}}'
            ),
            ev(
                '{"type":"response.function_call_arguments.done","item_id":"fc_1","arguments":"{\\"q\\": 1}"}'
            ),
            ev('{"type":"response.output_text.delta","item_id":"m","delta":"partial"}'),
            ev(
                '{"type":"response.incomplete","response":{"id":"r","status":"incomplete",'
                '"incomplete_details":{"reason":"max_output_tokens"},"output":[],'
                '"usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}}'
            ),
        ]
    )
    decoded = decode_all("openai-responses", data, feed_mode)
    assert decoded.error is None
    (call,) = decoded.result.tool_calls
    assert (call.id, call.name, call.arguments, call.input) == ("call_1", "lookup", '{"q": 1}', {"q": 1})
    assert decoded.result.finish_reason == "length"
    assert decoded.result.raw_finish_reason == "max_output_tokens"
    assert decoded.result.text == "partial"
    assert decoded.result.done


def test_resumed_stream_without_created_or_item_added() -> None:
    # A resume that starts after output_item.added: the call id and name arrive at .done.
    data = b"".join(
        [
            ev('{"type":"response.function_call_arguments.delta","item_id":"fc_9","delta":"{\\"x\\""}'),
            ev('{"type":"response.function_call_arguments.delta","item_id":"fc_9","delta":": 2}"}'),
            ev(
                '{"type":"response.output_item.done","item":{"type":"function_call","id":"fc_9",'
                '"call_id":"call_9","name":"f","arguments":"{\\"x\\": 2}"}}'
            ),
            ev('{"type":"response.completed","response":{"id":"r9","status":"completed","output":[]}}'),
        ]
    )
    decoded = decode_all("openai-responses", data, "bytewise")
    (call,) = decoded.result.tool_calls
    assert (call.id, call.name, call.input) == ("call_9", "f", {"x": 2})
    assert decoded.result.finish_reason == "tool_calls"
    assert decoded.result.id == "r9"


def test_unknown_event_types_are_tolerated_and_error_event_top_level_fields() -> None:
    data = (
        ev('{"type":"response.created","response":{"id":"r","model":"m"}}')
        + ev('{"type":"response.future_thing.delta","delta":"?"}')
        + ev('{"type":"error","code":"server_error","message":"boom","param":null}', "error")
    )
    decoded = decode_all("openai-responses", data)
    assert isinstance(decoded.error, ProviderError)
    assert decoded.error.message == "boom"
    assert decoded.error.retryable
    passed = decode_all("openai-responses", data, raise_errors=False)
    # The error ends the stream: no IncompleteStreamError for the missing response.failed.
    assert passed.error is None
    assert [type(c) for c in passed.chunks if isinstance(c, StreamError)] == [StreamError]


def test_failed_without_error_event_reports_response_error() -> None:
    data = ev(
        '{"type":"response.failed","response":{"id":"r","status":"failed",'
        '"error":{"code":"rate_limit_exceeded","message":"slow down"}}}'
    )
    decoded = decode_all("openai-responses", data)
    assert isinstance(decoded.error, ProviderError)
    assert decoded.error.code == "rate_limit_exceeded"
    assert decoded.error.retryable
