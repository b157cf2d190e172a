"""Recorded Cohere v2 streams decode to what their ``.expected.json`` says, fed whole, byte by
byte and at random splits.

Expected-file fields (schema ``cohere-v2``) and what they are compared with:

- ``text`` → ``result.text``
- ``thinking`` + ``tool_plan`` → ``result.reasoning``: both are reasoning in our model (the tool
  plan is the model's reasoning before calling tools). No fixture has both; each lives in its
  own reasoning block, so ``reasoning_blocks`` tells them apart, and the tool plan block is
  checked against ``tool_plan`` exactly.
- ``tool_calls[] {index, id, name, arguments, arguments_parsed}`` → ``ToolCall`` fields
- ``finish_reason`` (raw: ``COMPLETE``, ``TOOL_CALL``, ``ERROR``) → ``raw_finish_reason``, and
  ``finish_reason`` normalised (``stop``, ``tool_calls``, ``error``)
- ``usage`` (as sent) → ``result.usage.raw``; counts from ``tokens`` (preferred over
  ``billed_units``), ``cached_tokens``; an empty ``{}`` (the error stream) → no usage
- ``error {error, error_type}`` → ``result.errors`` / the raised ``ProviderError``
- ``message_id`` → ``result.id``; ``done_marker`` → ``result.done``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_all, decode_fixture, feed_modes, fixture_params

from sansstream.model import IncompleteStreamError, ProviderError

CASES = fixture_params("cohere")
FINISH = {"COMPLETE": "stop", "TOOL_CALL": "tool_calls", "ERROR": "error"}


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode, raise_errors=False)
    assert decoded.error is None, decoded.error
    result = decoded.result
    assert result.text == expected["text"]
    assert result.reasoning == expected["thinking"] + expected["tool_plan"]
    if expected["tool_plan"]:
        assert [b.text for b in result.reasoning_blocks] == [expected["tool_plan"]]
    tools = [
        {"index": t.index, "id": t.id, "name": t.name, "arguments": t.arguments, "arguments_parsed": t.input}
        for t in result.tool_calls
    ]
    assert tools == expected["tool_calls"]
    assert result.raw_finish_reason == expected["finish_reason"]
    assert result.finish_reason == FINISH[expected["finish_reason"]]
    usage = expected["usage"]
    if not usage:
        assert result.usage is None
    else:
        assert result.usage is not None
        assert result.usage.raw == usage
        assert result.usage.input_tokens == usage["tokens"]["input_tokens"]
        assert result.usage.output_tokens == usage["tokens"]["output_tokens"]
        assert result.usage.cached_tokens == usage.get("cached_tokens")
    want_errors = [expected["error"]["error"]] if expected["error"] else []
    assert [e.message for e in result.errors] == want_errors
    assert result.id == expected["message_id"]
    assert result.done == expected["done_marker"]


@feed_modes
def test_error_finish_raises_after_the_chunks_before_it(feed_mode: str) -> None:
    (case,) = [p for p in CASES if "error" in p.id]
    path, expected = case.values
    decoded = decode_fixture(path, feed_mode)
    assert isinstance(decoded.error, ProviderError)
    assert decoded.error.message == expected["error"]["error"]
    assert decoded.error.type == expected["error"]["error_type"]
    assert decoded.error.retryable is False
    assert decoded.error.partial is not None
    assert decoded.error.partial.reasoning == expected["tool_plan"]
    assert "".join(c.text for c in decoded.chunks if c.type == "thinking") == expected["tool_plan"]
    # Real servers end failed generations with finish_reason ERROR: the partial keeps it, and
    # the error (with its type) is in the partial's errors.
    assert decoded.error.partial.raw_finish_reason == "ERROR"
    assert decoded.error.partial.finish_reason == "error"
    assert [e.type for e in decoded.error.partial.errors] == [expected["error"]["error_type"]]
    passed = decode_fixture(path, feed_mode, raise_errors=False)
    assert [c.type for c in passed.chunks][-3:] == ["finish", "error", "done"]


def test_cut_after_message_end_before_done_is_complete() -> None:
    (case,) = [p for p in CASES if p.id.endswith("/text")]
    path, expected = case.values
    data = path.read_bytes()
    cut = data.rindex(b"data: [DONE]")
    decoded = decode_all("cohere", data[:cut])
    assert decoded.error is None
    assert decoded.result.text == expected["text"]
    # ...but a cut before message-end is truncation.
    cut = data.rindex(b"event: message-end")
    truncated = decode_all("cohere", data[:cut])
    assert isinstance(truncated.error, IncompleteStreamError)
    assert "message-end" in str(truncated.error)
    assert truncated.error.partial is not None
    assert truncated.error.partial.text == expected["text"]
