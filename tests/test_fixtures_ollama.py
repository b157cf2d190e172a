"""Recorded and documented Ollama NDJSON streams decode to what their ``.expected.json`` says,
fed whole, byte by byte and at random splits.

Expected-file fields (schema ``ollama-ndjson``) and what they are compared with:

- ``text`` / ``thinking`` → ``result.text`` / ``result.reasoning`` (inline ``<think>`` tags of
  ``/api/generate`` without ``think`` stay in the text)
- ``tool_calls[] {function: {name, arguments}}`` → ``ToolCall.name / input`` (ids are
  synthesised as ``call_<n>`` because Ollama sent none)
- ``final.done_reason`` → ``raw_finish_reason``; ``final`` counts and durations →
  ``result.usage.raw`` (and ``input_tokens`` = ``prompt_eval_count``, ``output_tokens`` =
  ``eval_count``); ``final.context_len`` → length of ``context`` in the ``Finish`` chunk's raw line
- ``final: null`` → no ``Finish`` and not ``done``; ``error`` → the ``ProviderError`` message
  (raised after the chunks before it), or ``result.errors`` with ``raise_errors=False``
- ``lines`` → ``wire_events``
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_all, decode_fixture, feed_modes, fixture_cases, fixture_id, fixture_params

from sansstream.model import Done, Finish, IncompleteStreamError, ProviderError, TextDelta
from sansstream.providers import StreamDecoder, decode_stream

CASES = fixture_params("ollama")
FINISHED = [pytest.param(p, e, id=fixture_id(p)) for p, e in fixture_cases("ollama") if e["final"]]
PATHS = {path.name: path for path, _ in fixture_cases("ollama")}
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode)
    result = decoded.result
    assert result.text == expected["text"]
    assert result.reasoning == expected["thinking"]
    calls = [{"function": {"name": t.name, "arguments": t.input}} for t in result.tool_calls]
    assert calls == expected["tool_calls"]
    assert [t.id for t in result.tool_calls] == [f"call_{i}" for i in range(len(calls))]
    final = expected["final"]
    if expected["error"] is not None:
        assert isinstance(decoded.error, ProviderError)
        assert decoded.error.message == expected["error"]
        assert decoded.error.provider == "ollama"
        assert decoded.error.partial is not None
        assert decoded.error.partial.text == expected["text"]
    else:
        assert decoded.error is None
    if final is None:
        assert not result.done
        assert result.finish_reason is None
        return
    assert result.done
    assert isinstance(decoded.chunks[-1], Done)
    assert result.raw_finish_reason == final["done_reason"]
    assert result.finish_reason == ("tool_calls" if calls else final["done_reason"])
    metrics = {k: final[k] for k in METRICS if k in final}
    if metrics:
        assert result.usage is not None
        assert result.usage.raw == metrics
        assert result.usage.input_tokens == final["prompt_eval_count"]
        assert result.usage.output_tokens == final["eval_count"]
        assert result.usage.total_tokens == final["prompt_eval_count"] + final["eval_count"]
    else:
        assert result.usage is None
    finish = next(c for c in decoded.chunks if isinstance(c, Finish))
    context = finish.raw.get("context")
    assert (None if context is None else len(context)) == final["context_len"]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_line_count(path: Path, expected: dict[str, Any]) -> None:
    machine = StreamDecoder("ollama", raise_errors=False)
    machine.feed(path.read_bytes())
    machine.feed(b"")
    assert machine.wire_events == expected["lines"]
    # complete: a done line, or an error line (after which the server sends nothing more)
    assert machine.complete


def test_error_line_as_chunk_with_raise_errors_false() -> None:
    path = PATHS["error-mid-stream.doc.ndjson"]
    decoded = decode_all("ollama", path.read_bytes(), "bytewise", raise_errors=False)
    # No done line follows the error line, and that is how such a stream ends: not truncated.
    assert decoded.error is None
    assert not decoded.result.done
    assert [e.message for e in decoded.result.errors] == ["an error was encountered while running the model"]
    texts = [c.text for c in decoded.chunks if isinstance(c, TextDelta)]
    assert "".join(texts) == " Yes.Ican"
    assert decoded.chunks[-1].type == "error"


@pytest.mark.parametrize(("path", "expected"), FINISHED)
def test_cut_before_the_done_line_is_incomplete(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    cut = data.rindex(b"\n", 0, len(data) - 1) + 1
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream("ollama", [data[:cut]]))
    assert info.value.partial is not None
    assert expected["text"].startswith(info.value.partial.text)
    assert not info.value.partial.done


# -- hand-written /api/chat streams ----------------------------------------------------------


def _lines(*values: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(v, separators=(",", ":")).encode() + b"\n" for v in values)


def _chat(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "model": "qwen3",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", **message},
        "done": False,
        **extra,
    }


def test_chat_thinking_content_and_several_tool_calls() -> None:
    data = _lines(
        _chat({"content": "", "thinking": "Let me "}),
        _chat({"content": "", "thinking": "think."}),
        _chat({"content": "Calling tools."}),
        _chat(
            {
                "content": "",
                "tool_calls": [
                    {"id": "call_abc", "function": {"index": 0, "name": "a", "arguments": {"x": 1}}},
                    {"function": {"index": 1, "name": "b", "arguments": {}}},
                ],
            }
        ),
        {
            **_chat({"content": ""}),
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 10,
            "eval_count": 20,
            "eval_duration": 5,
        },
    )
    decoded = decode_all("ollama", data, "bytewise")
    assert decoded.error is None
    result = decoded.result
    assert (result.reasoning, result.text) == ("Let me think.", "Calling tools.")
    assert [(t.index, t.id, t.name, t.arguments, t.input) for t in result.tool_calls] == [
        (0, "call_abc", "a", '{"x":1}', {"x": 1}),
        (1, "call_1", "b", "{}", {}),
    ]
    assert result.finish_reason == "tool_calls"
    assert result.model == "qwen3"
    assert result.usage is not None
    assert result.usage.raw == {"prompt_eval_count": 10, "eval_count": 20, "eval_duration": 5}


@pytest.mark.parametrize(
    ("raw", "reason"), [("stop", "stop"), ("length", "length"), ("load", "other"), ("unload", "other")]
)
def test_done_reasons(raw: str, reason: str) -> None:
    data = _lines({**_chat({"content": "x"}), "done": True, "done_reason": raw})
    result = decode_all("ollama", data).result
    assert (result.finish_reason, result.raw_finish_reason) == (reason, raw)
    assert result.done
    assert result.usage is None  # no counts on the line: no usage invented


def test_non_json_line_is_a_protocol_error() -> None:
    decoded = decode_all("ollama", b'{"model":"m","response":"a","done":false}\nnot json\n')
    assert decoded.error is not None
    assert "JSON" in str(decoded.error)
    assert decoded.result.text == "a"
