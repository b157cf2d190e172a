"""In-band errors no recording covers, hand-written in each provider's documented shape:
Anthropic ``event: error`` mid-stream, a Bedrock exception (and generic error) frame, a Gemini
error object (as SSE data, as a JSON-array element, as a non-SSE JSON body), an Ollama
``{"error"}`` line.

For each: the chunks before the error are delivered, then ``ProviderError`` is raised with
provider, type, code, message, retryable and payload (and the partial result); with
``raise_errors=False`` a ``StreamError`` chunk comes instead and the stream is not reported as
truncated (the error is how the server ended it). Every case runs whole, byte by byte and at
random splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from provider_support import feed_modes, slices

from sansstream.core import encode_event_stream_message
from sansstream.model import Chunk, ProviderError, StreamError, TextDelta
from sansstream.providers import decode_stream


def _sse(*events: tuple[str | None, Any]) -> bytes:
    out = []
    for name, payload in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(payload)}\n\n")
    return "".join(out).encode()


ANTHROPIC_START = {
    "type": "message_start",
    "message": {
        "id": "msg_err",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 7, "output_tokens": 1},
    },
}


def _anthropic(error_type: str, message: str, *, named: bool = True) -> tuple[bytes, dict[str, Any]]:
    error = {"type": "error", "error": {"type": error_type, "message": message}}
    data = _sse(
        ("message_start", ANTHROPIC_START),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        ),
        ("error" if named else None, error),
    )
    return data, error


def _gemini_text(text: str) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
        "modelVersion": "gemini-test",
        "responseId": "r1",
    }


GEMINI_ERROR = {
    "error": {
        "code": 503,
        "message": "The model is overloaded. Please try again later.",
        "status": "UNAVAILABLE",
    }
}


def _frame(event_type: str, payload: dict[str, Any]) -> bytes:
    return encode_event_stream_message(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        json.dumps(payload).encode(),
    )


def _bedrock(exception: bytes) -> bytes:
    return b"".join(
        [
            _frame("messageStart", {"role": "assistant", "p": "abcdef"}),
            _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}, "p": "abc"}),
            _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}, "p": "abcdefgh"}),
            exception,
        ]
    )


def _bedrock_exception(kind: str, message: str) -> bytes:
    return encode_event_stream_message(
        [(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")],
        json.dumps({"message": message}).encode(),
    )


OLLAMA_CHAT = (
    b'{"model":"llama3.2","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hel"},"done":false}\n'
    b'{"model":"llama3.2","created_at":"2025-01-01T00:00:01Z","message":{"role":"assistant","content":"lo"},"done":false}\n'
    b'{"error":"model runner has unexpectedly stopped, this may be due to resource limitations"}\n'
)

# (id, provider, body, decode options, expected error fields)
CASES: list[Any] = [
    pytest.param(
        "anthropic",
        _anthropic("overloaded_error", "Overloaded")[0],
        {},
        {"type": "overloaded_error", "code": 529, "message": "Overloaded", "retryable": True},
        _anthropic("overloaded_error", "Overloaded")[1],
        id="anthropic-overloaded",
    ),
    pytest.param(
        "anthropic",
        _anthropic("invalid_request_error", "prompt is too long", named=False)[0],
        {},
        {"type": "invalid_request_error", "code": 400, "message": "prompt is too long", "retryable": False},
        _anthropic("invalid_request_error", "prompt is too long")[1],
        id="anthropic-unnamed-error-event",
    ),
    pytest.param(
        "gemini",
        (
            f"data: {json.dumps(_gemini_text('Hel'))}\r\n\r\ndata: {json.dumps(_gemini_text('lo'))}\r\n\r\n"
            f"data: {json.dumps(GEMINI_ERROR)}\r\n\r\n"
        ).encode(),
        {},
        {"type": "UNAVAILABLE", "code": 503, "message": GEMINI_ERROR["error"]["message"], "retryable": True},
        GEMINI_ERROR,
        id="gemini-sse-data",
    ),
    pytest.param(
        "gemini",
        (
            "["
            + json.dumps(_gemini_text("Hel"), indent=2)
            + "\n,\r\n"
            + json.dumps(_gemini_text("lo"), indent=2)
            + "\n,\r\n"
            + json.dumps(GEMINI_ERROR, indent=2)
            + "\n]"
        ).encode(),
        {"framing": "json-array"},
        {"type": "UNAVAILABLE", "code": 503, "message": GEMINI_ERROR["error"]["message"], "retryable": True},
        GEMINI_ERROR,
        id="gemini-json-array-element",
    ),
    pytest.param(
        "gemini",
        (
            f"data: {json.dumps(_gemini_text('Hel'))}\r\n\r\ndata: {json.dumps(_gemini_text('lo'))}\r\n\r\n"
            + json.dumps(GEMINI_ERROR, indent=2)
            + "\n"
        ).encode(),
        {},
        {"type": "UNAVAILABLE", "code": 503, "message": GEMINI_ERROR["error"]["message"], "retryable": True},
        GEMINI_ERROR,
        id="gemini-bare-json-after-sse",
    ),
    pytest.param(
        "bedrock",
        _bedrock(
            _bedrock_exception("throttlingException", "Too many requests, please wait before trying again.")
        ),
        {},
        {
            "type": "throttlingException",
            "code": 429,
            "message": "Too many requests, please wait before trying again.",
            "retryable": True,
        },
        {"message": "Too many requests, please wait before trying again."},
        id="bedrock-throttling",
    ),
    pytest.param(
        "bedrock",
        _bedrock(_bedrock_exception("modelStreamErrorException", "The model stream failed.")),
        {},
        {
            "type": "modelStreamErrorException",
            "code": 424,
            "message": "The model stream failed.",
            "retryable": True,
        },
        {"message": "The model stream failed."},
        id="bedrock-model-stream-error",
    ),
    pytest.param(
        "bedrock",
        _bedrock(_bedrock_exception("validationException", "Malformed input request.")),
        {},
        {
            "type": "validationException",
            "code": 400,
            "message": "Malformed input request.",
            "retryable": False,
        },
        {"message": "Malformed input request."},
        id="bedrock-validation",
    ),
    pytest.param(
        "ollama",
        OLLAMA_CHAT,
        {},
        {
            "type": None,
            "code": None,
            "message": "model runner has unexpectedly stopped, this may be due to resource limitations",
            "retryable": False,
        },
        {"error": "model runner has unexpectedly stopped, this may be due to resource limitations"},
        id="ollama-error-line",
    ),
]


def _collect(into: list[Chunk], chunks: Iterable[Chunk]) -> None:
    for chunk in chunks:
        into.append(chunk)


@pytest.mark.parametrize(("provider", "body", "options", "fields", "payload"), CASES)
@feed_modes
def test_error_is_raised_after_the_chunks_before_it(
    provider: str,
    body: bytes,
    options: dict[str, Any],
    fields: dict[str, Any],
    payload: Any,
    *,
    feed_mode: str,
) -> None:
    delivered: list[Chunk] = []
    with pytest.raises(ProviderError) as info:
        _collect(delivered, decode_stream(provider, slices(body, feed_mode), **options))
    error = info.value
    assert error.provider == provider
    assert (error.type, error.code, error.message, error.retryable) == (
        fields["type"],
        fields["code"],
        fields["message"],
        fields["retryable"],
    )
    assert error.payload == payload
    assert str(error).startswith(f"{provider}: ")
    # Every chunk before the error was delivered, and the partial result holds them.
    assert "".join(c.text for c in delivered if isinstance(c, TextDelta)) == "Hello"
    assert error.partial is not None
    assert error.partial.text == "Hello"
    assert not any(isinstance(c, StreamError) for c in delivered)


@pytest.mark.parametrize(("provider", "body", "options", "fields", "payload"), CASES)
def test_error_as_a_chunk(
    provider: str, body: bytes, options: dict[str, Any], fields: dict[str, Any], payload: Any
) -> None:
    chunks = list(decode_stream(provider, slices(body, "random", seed=3), raise_errors=False, **options))
    last = chunks[-1]
    assert isinstance(last, StreamError)
    assert last.message == fields["message"]
    assert last.error.type == fields["type"]
    assert last.error.retryable is fields["retryable"]
    assert "".join(c.text for c in chunks if isinstance(c, TextDelta)) == "Hello"
    assert not any(c.type == "done" for c in chunks)


def test_bedrock_generic_error_frame() -> None:
    frame = encode_event_stream_message(
        [
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "An internal error occurred"),
        ],
        b"",
    )
    with pytest.raises(ProviderError) as info:
        list(decode_stream("bedrock", [_bedrock(frame)]))
    assert (info.value.type, info.value.code, info.value.message) == (
        "InternalFailure",
        "InternalFailure",
        "An internal error occurred",
    )
    assert info.value.retryable  # "internal" errors are worth retrying
    assert info.value.partial is not None
    assert info.value.partial.text == "Hello"


INVALID_KEY = {
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
    }
}


@pytest.mark.parametrize(
    "body",
    [(json.dumps(INVALID_KEY) + "\n").encode(), (json.dumps(INVALID_KEY, indent=2) + "\n").encode()],
    ids=["compact", "pretty"],
)
@feed_modes
def test_gemini_non_sse_error_body(body: bytes, feed_mode: str) -> None:
    """A JSON error body without ``data:`` (the google-genai client accepts these) is an error,
    not an empty stream."""
    with pytest.raises(ProviderError) as info:
        list(decode_stream("gemini", slices(body, feed_mode)))
    assert info.value.type == "INVALID_ARGUMENT"
    assert info.value.code == 400
    assert info.value.message == "API key not valid. Please pass a valid API key."
    assert not info.value.retryable


def test_ollama_error_before_any_output() -> None:
    with pytest.raises(ProviderError) as info:
        list(decode_stream("ollama", [b'{"error":"model \\"nope\\" not found, try pulling it first"}\n']))
    assert info.value.message == 'model "nope" not found, try pulling it first'
    assert info.value.partial is not None
    assert info.value.partial.text == ""
