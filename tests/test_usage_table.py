"""The README's usage table ("How usage maps to Usage") is what the decoders do: one handcrafted
usage object per row, decoded through the provider's own decoder, with distinct numbers so a
field taken from the wrong place cannot pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansstream.core import encode_event_stream_message
from sansstream.model import Usage
from sansstream.providers._pipeline import decode_stream


def _sse(*events: tuple[str | None, Any]) -> bytes:
    out = b""
    for name, data in events:
        if name:
            out += f"event: {name}\n".encode()
        out += b"data: " + (data if isinstance(data, bytes) else json.dumps(data).encode()) + b"\n\n"
    return out


def _usage(provider: str, body: bytes, **kw: Any) -> Usage:
    usages = [c for c in decode_stream(provider, [body], **kw) if isinstance(c, Usage)]
    assert usages
    return usages[-1]


def _fields(u: Usage) -> tuple[Any, ...]:
    return (u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens, u.cached_tokens)


def test_openai_row() -> None:
    usage = {
        "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
        "completion_tokens_details": {"reasoning_tokens": 3}, "prompt_tokens_details": {"cached_tokens": 5},
    }  # fmt: skip
    chunk = {"id": "x", "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}]}
    body = _sse((None, chunk), (None, {"id": "x", "choices": [], "usage": usage}), (None, b"[DONE]"))
    assert _fields(_usage("openai", body)) == (11, 7, 18, 3, 5)
    deepseek = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18, "prompt_cache_hit_tokens": 4}
    body = _sse((None, chunk), (None, {"id": "x", "choices": [], "usage": deepseek}), (None, b"[DONE]"))
    assert _fields(_usage("openai", body)) == (11, 7, 18, None, 4)


def test_responses_row() -> None:
    usage = {
        "input_tokens": 11, "output_tokens": 7, "total_tokens": 19,
        "output_tokens_details": {"reasoning_tokens": 3}, "input_tokens_details": {"cached_tokens": 5},
    }  # fmt: skip
    done = {
        "type": "response.completed",
        "response": {"id": "r", "status": "completed", "output": [], "usage": usage},
    }
    body = _sse(("response.completed", done))
    assert _fields(_usage("openai-responses", body)) == (11, 7, 19, 3, 5)


def test_anthropic_row_counts_cache_in_input() -> None:
    start = {
        "type": "message_start",
        "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1, "cache_read_input_tokens": 21,
                                                       "cache_creation_input_tokens": 2, "output_tokens": 1}},
    }  # fmt: skip
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}
    body = _sse(
        ("message_start", start), ("message_delta", delta), ("message_stop", {"type": "message_stop"})
    )
    # llama.cpp's case from the issue: the SDK says 1, we say 1 + 21 + 2
    assert _fields(_usage("anthropic", body)) == (24, 9, 33, None, 21)


def test_gemini_row_counts_thoughts_in_output() -> None:
    meta = {
        "promptTokenCount": 11, "candidatesTokenCount": 7, "thoughtsTokenCount": 3,
        "totalTokenCount": 21, "cachedContentTokenCount": 5,
    }  # fmt: skip
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}],
        "usageMetadata": meta,
    }
    assert _fields(_usage("gemini", _sse((None, chunk)))) == (11, 10, 21, 3, 5)


@pytest.mark.parametrize(
    ("usage", "want"),
    [
        ({"tokens": {"input_tokens": 11, "output_tokens": 7},
          "billed_units": {"input_tokens": 2, "output_tokens": 1}, "cached_tokens": 5}, (11, 7, 18, None, 5)),
        ({"billed_units": {"input_tokens": 2, "output_tokens": 1}}, (2, 1, 3, None, None)),
    ],
)  # fmt: skip
def test_cohere_row(usage: dict[str, Any], want: tuple[Any, ...]) -> None:
    end = {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}}
    assert _fields(_usage("cohere", _sse(("message-end", end)))) == want


def test_bedrock_row() -> None:
    def frame(name: str, payload: dict[str, Any]) -> bytes:
        return encode_event_stream_message(
            [(":event-type", name), (":content-type", "application/json"), (":message-type", "event")],
            json.dumps(payload).encode(),
        )

    usage = {"inputTokens": 11, "outputTokens": 7, "totalTokens": 19, "cacheReadInputTokens": 5,
             "cacheWriteInputTokens": 2}  # fmt: skip
    body = frame("messageStart", {"role": "assistant"}) + frame("messageStop", {"stopReason": "end_turn"})
    body += frame("metadata", {"usage": usage, "metrics": {"latencyMs": 1}})
    assert _fields(_usage("bedrock", body)) == (11, 7, 19, None, 5)


def test_ollama_row() -> None:
    body = json.dumps({"message": {"content": "a"}, "done": False}).encode() + b"\n"
    body += (
        json.dumps({"done": True, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 7}).encode()
        + b"\n"
    )
    assert _fields(_usage("ollama", body)) == (11, 7, 18, None, None)
