"""Recorded Chat Completions streams (OpenAI, OpenAI-compatible servers, Mistral) decode to what
their ``.expected.json`` says, fed whole, byte by byte and at random splits.

Expected-file fields (schema ``openai-chat-compatible``) and what they are compared with:

- ``choices[i].text / reasoning / refusal`` → ``result.choices[i].text / reasoning / refusal``
- ``choices[i].tool_calls[] {index, id, name, arguments, arguments_parsed}`` →
  ``ToolCall.index / id / name / arguments / input``
- ``choices[i].finish_reason`` (raw, may be null) → ``raw_finish_reason`` (and ``finish_reason``
  is its normalised form)
- ``usage`` (last non-null usage object as sent) → ``result.usage.raw``, and the mapped counts
- ``errors[] {sse_event, error}`` → ``result.errors`` (with ``raise_errors=False``) / the raised
  ``ProviderError`` (default)
- ``done_marker`` → ``result.done`` (with ``raise_errors=False``: an error raised earlier stops
  before ``[DONE]``)
- ``sse_events_total`` / ``sse_comment_lines`` → ``wire_events`` / ``keepalives`` counters
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_all, decode_fixture, feed_modes, fixture_params

from sansstream.model import ChatResult, Finish, ProviderError, StreamError, TextDelta
from sansstream.providers import StreamDecoder, decode_stream
from sansstream.providers._common import normalize_finish
from sansstream.providers.openai import FINISH_MAP

CASES = fixture_params("openai-chat", "openai-compatible", "mistral")


def check_expected(result: ChatResult, expected: dict[str, Any]) -> None:
    assert len(result.choices) == len(expected["choices"])
    for want in expected["choices"]:
        got = result.choices[want["index"]]
        assert got.text == want["text"]
        assert got.reasoning == want["reasoning"]
        assert got.refusal == want["refusal"]
        assert got.raw_finish_reason == want["finish_reason"]
        if want["finish_reason"] is None:
            assert got.finish_reason is None
        else:
            assert got.finish_reason == normalize_finish(want["finish_reason"], FINISH_MAP)
        tools = [
            {
                "index": t.index,
                "id": t.id,
                "name": t.name,
                "arguments": t.arguments,
                "arguments_parsed": t.input,
            }
            for t in got.tool_calls
        ]
        assert tools == want["tool_calls"]
    # Top-level fields are choice 0's.
    assert result.text == result.choices[0].text
    usage = expected["usage"]
    if usage is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        assert result.usage.raw == usage
        assert result.usage.input_tokens == usage.get("prompt_tokens")
        assert result.usage.output_tokens == usage.get("completion_tokens")
        assert result.usage.total_tokens == usage.get("total_tokens")
        details = usage.get("completion_tokens_details") or {}
        assert result.usage.reasoning_tokens == details.get("reasoning_tokens")


def error_message(entry: dict[str, Any]) -> str:
    body = entry["error"]
    return str(body.get("message")) if isinstance(body, dict) else str(body)


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode, raise_errors=False)
    assert decoded.error is None, decoded.error
    check_expected(decoded.result, expected)
    assert [e.message for e in decoded.result.errors] == [error_message(e) for e in expected["errors"]]
    assert decoded.result.done == expected["done_marker"]
    assert sum(isinstance(c, StreamError) for c in decoded.chunks) == len(expected["errors"])
    finishes = [c.choice for c in decoded.chunks if isinstance(c, Finish)]
    assert sorted(finishes) == sorted(ch["index"] for ch in expected["choices"] if ch["finish_reason"])


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_ids_and_model_come_from_the_first_chunk(path: Path, expected: dict[str, Any]) -> None:
    result = decode_fixture(path, raise_errors=False).result
    assert result.model  # every recording names its model
    # Snowflake sends "id": "" (no id), everyone else an id.
    assert (result.id is None) == path.name.startswith("snowflake")


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_counters_match_the_wire(path: Path, expected: dict[str, Any]) -> None:
    machine = StreamDecoder(provider_name(path), raise_errors=False)
    machine.feed(path.read_bytes())
    machine.feed(b"")
    assert machine.wire_events == expected["sse_events_total"] + expected["sse_comment_lines"]
    assert machine.keepalives == expected["sse_comment_lines"]
    assert machine.bytes_received == len(path.read_bytes())
    assert machine.complete


def provider_name(path: Path) -> str:
    return "mistral" if path.parent.name == "mistral" else "openai"


ERROR_CASES = [p for p in CASES if p.values[1]["errors"]]


@pytest.mark.parametrize(("path", "expected"), ERROR_CASES)
@feed_modes
def test_in_band_error_raises_after_the_chunks_before_it(
    path: Path, expected: dict[str, Any], feed_mode: str
) -> None:
    raised = decode_fixture(path, feed_mode)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == error_message(expected["errors"][0])
    assert raised.error.provider == "openai"
    # Everything before the error was delivered, and is what the error's partial holds.
    assert raised.error.partial is not None
    assert raised.error.partial.reasoning == expected["choices"][0]["reasoning"]
    assert raised.error.partial.reasoning == "".join(c.text for c in raised.chunks if c.type == "thinking")
    # The same stream with errors as chunks: the raising run's chunks are a prefix of it, cut
    # exactly where the StreamError chunk is.
    passed = decode_fixture(path, feed_mode, raise_errors=False)
    cut = next(i for i, c in enumerate(passed.chunks) if isinstance(c, StreamError))
    assert raised.chunks == passed.chunks[:cut]


def test_openrouter_error_chunk_delivers_its_usage_before_the_error() -> None:
    (case,) = [p for p in ERROR_CASES if "openrouter" in p.id]
    path, _expected = case.values
    chunks = list(decode_stream("openai", [path.read_bytes()], raise_errors=False))
    kinds = [c.type for c in chunks]
    error_at = kinds.index("error")
    assert kinds[error_at - 1] == "usage"  # the error chunk's own usage, then the error
    assert kinds[-1] == "done"
    error = chunks[error_at]
    assert isinstance(error, StreamError)
    assert error.error.code == 400
    assert error.error.retryable is False


def test_groq_error_event_is_retryable_false_and_needs_no_done() -> None:
    (case,) = [p for p in ERROR_CASES if "groq" in p.id]
    path, _ = case.values
    # strict=True, and no [DONE] follows the error event: the error is the end of the stream.
    chunks = list(decode_stream("openai", [path.read_bytes()], raise_errors=False))
    error = chunks[-1]
    assert isinstance(error, StreamError)
    assert error.error.code == "tool_use_failed"
    assert error.error.type == "invalid_request_error"
    assert error.error.retryable is False


# ---- hand-written streams for the error forms no recording covers -------------------------------

CHUNK = b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
CHUNK2 = b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'


@feed_modes
def test_llama_cpp_error_field(feed_mode: str) -> None:
    data = (
        CHUNK
        + b'error: {"code":500,"message":"context shift failed","type":"server_error"}\n\n'
        + b"data: [DONE]\n\n"
    )
    raised = decode_all("openai", data, feed_mode)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == "context shift failed"
    assert raised.error.code == 500
    assert raised.error.retryable  # a 5xx-like server error
    assert [c for c in raised.chunks if isinstance(c, TextDelta)] == [TextDelta("Hel")]
    passed = decode_all("openai", data, feed_mode, raise_errors=False)
    assert passed.error is None
    assert passed.result.text == "Hel"
    assert passed.result.done
    assert [e.message for e in passed.result.errors] == ["context shift failed"]


@feed_modes
def test_vllm_error_object_then_done(feed_mode: str) -> None:
    data = (
        CHUNK
        + CHUNK2
        + b'data: {"error":{"message":"engine overloaded","type":"ServiceUnavailableError","param":null,'
        + b'"code":503}}\n\n'
        + b"data: [DONE]\n\n"
    )
    raised = decode_all("openai", data, feed_mode)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == "engine overloaded"
    assert raised.error.retryable
    assert raised.error.partial is not None
    assert raised.error.partial.text == "Hello"
    assert "".join(c.text for c in raised.chunks if isinstance(c, TextDelta)) == "Hello"
    passed = decode_all("openai", data, feed_mode, raise_errors=False)
    assert passed.error is None
    assert passed.result.done
    assert passed.result.text == "Hello"


def test_old_vllm_error_form() -> None:
    data = CHUNK + b'data: {"object":"error","message":"bad","type":"BadRequestError","code":400}\n\n'
    raised = decode_all("openai", data)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == "bad"
    assert raised.error.code == 400
    assert not raised.error.retryable


@feed_modes
def test_groq_style_error_event(feed_mode: str) -> None:
    data = (
        CHUNK + b'event: error\ndata: {"error":{"message":"rate limited","type":"rate_limit_exceeded"}}\n\n'
    )
    raised = decode_all("openai", data, feed_mode)
    assert isinstance(raised.error, ProviderError)
    assert raised.error.retryable
    passed = decode_all("openai", data, feed_mode, raise_errors=False)
    # No [DONE] after the error event and still no IncompleteStreamError: the error ended it.
    assert passed.error is None
    assert not passed.result.done
    assert passed.result.text == "Hel"


def test_plain_text_error_event() -> None:
    raised = decode_all("openai", CHUNK + b"event: error\ndata: upstream went away\n\n")
    assert isinstance(raised.error, ProviderError)
    assert raised.error.message == "upstream went away"


def test_usage_null_after_usage_does_not_erase_it() -> None:
    data = (
        CHUNK
        + b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,'
        + b'"prompt_tokens_details":{"cached_tokens":1}}}\n\n'
        + b'data: {"choices":[],"usage":null}\n\n'
        + b"data: [DONE]\n\n"
    )
    result = decode_all("openai", data).result
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.cached_tokens) == (3, 2, 1)


def test_tool_call_name_is_not_erased_and_fragments_join_once() -> None:
    head = b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    parts = [head + b'"id":"t1","function":{"name":"f","arguments":""}}]}}]}\n\n']
    fragments = ['{"a"', ": ", "[1,", " 2]", "}"]
    for frag in fragments:
        body = frag.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(head + b'"function":{"name":"","arguments":"' + body.encode() + b'"}}]}}]}\n\n')
    parts.append(
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n'
    )
    decoded = decode_all("openai", b"".join(parts), "bytewise")
    (call,) = decoded.result.tool_calls
    assert (call.id, call.name, call.arguments, call.input) == ("t1", "f", '{"a": [1, 2]}', {"a": [1, 2]})
    assert decoded.result.finish_reason == "tool_calls"
    ends = [c for c in decoded.chunks if c.type == "tool_end"]
    assert len(ends) == 1


def test_invalid_json_data_is_a_remote_protocol_error() -> None:
    from sansstream.model import RemoteProtocolError

    decoded = decode_all("openai", CHUNK + b"data: {not json\n\n" + CHUNK2 + b"data: [DONE]\n\n")
    assert isinstance(decoded.error, RemoteProtocolError)
    assert "not valid JSON" in str(decoded.error)
    assert decoded.result.text == "Hel"


def test_mistral_typed_thinking_and_text() -> None:
    data = (
        b'data: {"id":"x","model":"magistral","choices":[{"index":0,"delta":{"content":[{"type":"thinking",'
        b'"thinking":[{"type":"text","text":"hmm"}]},{"type":"text","text":"Hi"}]}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n'
        b"data: [DONE]\n\n"
    )
    result = decode_all("mistral", data).result
    assert (result.reasoning, result.text, result.finish_reason) == ("hmm", "Hi there", "stop")
    assert result.usage is not None
    assert result.usage.total_tokens == 3


def test_parallel_calls_that_all_claim_index_zero_stay_apart() -> None:
    head = b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    data = (
        head + b'"id":"a","function":{"name":"f","arguments":"{\\"x\\":"}}]}}]}\n\n'
        + head + b'"function":{"arguments":"1}"}}]}}]}\n\n'
        + head + b'"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}\n\n'
        + head + b'"id":"b","function":{"arguments":""}}]}}]}\n\n'
        + head.replace(b'"index":0,', b"") + b'"index":1,"id":"c","function":{"name":"h"}}]}}]}\n\n'
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n'
    )  # fmt: skip
    calls = decode_all("openai", data, "bytewise").result.tool_calls
    assert [(t.index, t.id, t.name, t.input) for t in calls] == [
        (0, "a", "f", {"x": 1}),
        (1, "b", "g", {}),
        (2, "c", "h", {}),
    ]
