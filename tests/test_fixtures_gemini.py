"""Recorded Gemini streams (SSE with CRLF, and the non-SSE JSON-array body) decode to what their
``.expected.json`` says, fed whole, byte by byte and at random splits.

Expected-file fields (schemas ``gemini-sse`` / ``gemini-json-array``) and what they are
compared with:

- ``text`` / ``thought_text`` → ``result.text`` / ``result.reasoning``
- ``function_calls_assembled[] {name, args, id}`` → ``ToolCall.name / input / id`` (``id`` is
  ``None``: Gemini sends none and none is invented); ``function_calls[]`` (the raw
  ``functionCall`` objects) → the ``functionCall`` of each ``ToolCallStart.raw`` part is the
  first raw object of its call
- ``finish_reason`` → ``raw_finish_reason`` (``finish_reason`` normalised: ``tool_calls`` when
  calls were made)
- ``usage_last`` → ``result.usage.raw`` (and the mapped counts)
- ``thought_signatures`` → number of ``ReasoningBlock``\\ s with a signature
- ``other_part_kinds`` → the kinds of ``result.tool_results`` (executableCode,
  codeExecutionResult)
- ``grounding_metadata`` → ``groundingMetadata`` present in the ``Finish`` chunk's ``raw``
- ``errors`` → ``result.errors``; ``chunks`` → ``wire_events``; completion → ``result.done``
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from provider_support import (
    decode_all,
    decode_fixture,
    feed_modes,
    fixture_cases,
    fixture_params,
    provider_for_fixture,
    slices,
)

from sansstream.model import (
    Done,
    Finish,
    IncompleteStreamError,
    RemoteProtocolError,
    ResponseStart,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from sansstream.providers import StreamDecoder, decode_stream
from sansstream.providers._common import normalize_finish
from sansstream.providers.gemini import FINISH_REASONS

CASES = fixture_params("gemini")
PATHS = {path.name: path for path, _ in fixture_cases("gemini")}


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    decoded = decode_fixture(path, feed_mode)
    assert decoded.error is None
    result = decoded.result
    assert result.text == expected["text"]
    assert result.reasoning == expected["thought_text"]
    calls = [{"name": t.name, "args": t.input, "id": t.id} for t in result.tool_calls]
    assert calls == expected["function_calls_assembled"]
    starts = [c for c in decoded.chunks if isinstance(c, ToolCallStart)]
    assert [s.raw["functionCall"] for s in starts] == [
        fc for fc in expected["function_calls"] if "name" in fc
    ]
    assert result.raw_finish_reason == expected["finish_reason"]
    want = normalize_finish(expected["finish_reason"], FINISH_REASONS)
    assert result.finish_reason == ("tool_calls" if want == "stop" and calls else want)
    assert result.usage is not None
    assert result.usage.raw == expected["usage_last"]
    signed = [b for b in result.reasoning_blocks if b.signature]
    assert len(signed) == expected["thought_signatures"]
    assert sorted({r.kind for r in result.tool_results}) == expected["other_part_kinds"]
    finish = [c for c in decoded.chunks if isinstance(c, Finish)]
    assert len(finish) == 1
    assert ("groundingMetadata" in finish[0].raw) is expected["grounding_metadata"]
    assert [e.message for e in result.errors] == expected["errors"] == []
    assert result.done
    assert isinstance(decoded.chunks[0], ResponseStart)
    assert isinstance(decoded.chunks[-1], Done)


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_wire_event_count(path: Path, expected: dict[str, Any]) -> None:
    name, options = provider_for_fixture(path)
    machine = StreamDecoder(name, **options)
    machine.feed(path.read_bytes())
    machine.feed(b"")
    assert machine.wire_events == expected["chunks"]
    assert machine.complete


def test_usage_mapping() -> None:
    usage = decode_fixture(PATHS["thinking-thought-parts.sse"]).result.usage
    assert usage is not None
    # output = candidates + thoughts; total as sent
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens, usage.total_tokens) == (
        34,
        469 + 787,
        787,
        1290,
    )


def test_usage_chunks_only_when_changed() -> None:
    chunks = list(decode_stream("gemini", [PATHS["usage-mid-stream.sse"].read_bytes()]))
    usages = [c for c in chunks if isinstance(c, Usage)]
    assert len(usages) == len({repr(u.raw) for u in usages})


def test_thought_signature_closes_the_reasoning_block() -> None:
    result = decode_fixture(PATHS["thinking-thought-parts.sse"]).result
    # the four thought parts form one block; the signature on the first answer part closes it
    assert len(result.reasoning_blocks) == 1
    block = result.reasoning_blocks[0]
    assert block.text == result.reasoning
    assert block.signature is not None
    assert len(block.signature) == 6152


def test_partial_args_assemble_in_order() -> None:
    chunks = list(decode_stream("gemini", [PATHS["function-call-parallel-partial-args.sse"].read_bytes()]))
    ends = [c for c in chunks if isinstance(c, ToolCallEnd)]
    assert [(e.index, e.name, e.arguments) for e in ends] == [
        (0, "getWeather", '{"location":"Boston"}'),
        (1, "getWeather", '{"location":"San Francisco"}'),
    ]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_cut_before_the_finish_chunk_is_incomplete(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    name, options = provider_for_fixture(path)
    # before the last SSE event, or before the separator of the last array element
    cut = data.rindex(b"data:") if path.suffix == ".sse" else data.rindex(b"}\n,") + 2
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream(name, slices(data[:cut], "random"), **options))
    partial = info.value.partial
    assert partial is not None
    assert not partial.done
    assert expected["text"].startswith(partial.text)


def test_json_array_fixture_through_decode_all() -> None:
    path = PATHS["json-array-thought-function-call.json"]
    decoded = decode_all("gemini", path.read_bytes(), "bytewise", framing="json-array")
    assert decoded.error is None
    assert decoded.result.tool_calls[0].name == "pelican_name_generator"
    assert decoded.result.reasoning_blocks[0].text.startswith("**Generating Pelican Names**")


# -- hand-written streams for what no recording shows -------------------------------------


def _sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)


def _candidate(parts: list[dict[str, Any]], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    return candidate


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("OTHER", "other"),
        ("SOMETHING_NEW", "other"),
    ],
)
def test_finish_reasons(raw: str, reason: str) -> None:
    data = _sse({"candidates": [_candidate([{"text": "x"}], raw)]})
    chunks = list(decode_stream("gemini", [data]))
    finish = next(c for c in chunks if isinstance(c, Finish))
    assert (finish.reason, finish.raw_reason) == (reason, raw)
    assert isinstance(chunks[-1], Done)


def test_prompt_blocked_without_candidates() -> None:
    data = _sse(
        {
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 9},
        }
    )
    chunks = list(decode_stream("gemini", [data]))
    finish = next(c for c in chunks if isinstance(c, Finish))
    assert (finish.reason, finish.raw_reason) == ("content_filter", "SAFETY")
    assert isinstance(chunks[-1], Done)


def test_partial_args_paths_and_value_kinds() -> None:
    def call(partials: list[dict[str, Any]], more: bool = True) -> dict[str, Any]:
        return {
            "candidates": [_candidate([{"functionCall": {"partialArgs": partials, "willContinue": more}}])]
        }

    data = _sse(
        {"candidates": [_candidate([{"functionCall": {"name": "book", "willContinue": True, "id": "v1"}}])]},
        call([{"jsonPath": "$.trip.city", "stringValue": "Ky", "willContinue": True}]),
        call([{"jsonPath": "$.trip.city", "stringValue": "oto"}, {"jsonPath": "$.nights", "numberValue": 3}]),
        call(
            [
                {"jsonPath": "$.guests[1]", "stringValue": "Bo"},
                {"jsonPath": "$.guests[0]", "stringValue": "Al"},
            ]
        ),
        call(
            [
                {"jsonPath": "$['smoking room']", "boolValue": False},
                {"jsonPath": "$.note", "nullValue": None},
            ],
            more=False,
        ),
        {"candidates": [_candidate([{"text": "Booked."}], "STOP")]},
    )
    chunks = list(decode_stream("gemini", slices(data, "bytewise")))
    end = next(c for c in chunks if isinstance(c, ToolCallEnd))
    assert end.id == "v1"  # Vertex sends ids; they are kept
    assert end.input == {
        "trip": {"city": "Kyoto"},
        "nights": 3,
        "guests": ["Al", "Bo"],
        "smoking room": False,
        "note": None,
    }
    finish = next(c for c in chunks if isinstance(c, Finish))
    assert finish.reason == "tool_calls"


def test_several_candidates_are_choices() -> None:
    data = _sse(
        {"candidates": [_candidate([{"text": "A1"}], index=0), _candidate([{"text": "B1"}], index=1)]},
        {
            "candidates": [
                _candidate([{"text": "A2"}], "STOP", 0),
                _candidate([{"text": "B2"}], "MAX_TOKENS", 1),
            ]
        },
    )
    machine = StreamDecoder("gemini")
    machine.feed(data)
    machine.feed(b"")
    result = machine.result()
    assert [(c.index, c.text, c.finish_reason) for c in result.choices] == [
        (0, "A1A2", "stop"),
        (1, "B1B2", "length"),
    ]


def test_partial_args_assembly_is_linear() -> None:
    """String pieces for one path are joined once: 4x the pieces costs about 4x, not 16x."""

    def stream(n: int) -> list[bytes]:
        piece = _sse(
            {
                "candidates": [
                    _candidate(
                        [
                            {
                                "functionCall": {
                                    "partialArgs": [
                                        {"jsonPath": "$.s", "stringValue": "abcdefgh", "willContinue": True}
                                    ],
                                    "willContinue": True,
                                }
                            }
                        ]
                    )
                ]
            }
        )
        head = _sse({"candidates": [_candidate([{"functionCall": {"name": "f", "willContinue": True}}])]})
        tail = _sse({"candidates": [_candidate([{"functionCall": {}}], "STOP")]})
        return [head, *([piece] * n), tail]

    def best(n: int) -> float:
        chunks = stream(n)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            ends = [c for c in decode_stream("gemini", chunks) if isinstance(c, ToolCallEnd)]
            times.append(time.perf_counter() - start)
            assert len(ends[0].input["s"]) == 8 * n
        return min(times)

    small, large = best(1_000), best(4_000)
    assert large / small < 10  # quadratic would be ~16


def test_json_array_body_read_as_sse_still_decodes() -> None:
    """A body without ``alt=sse`` (a JSON array) fed to the default SSE framing: the decoder
    collects the non-SSE lines and decodes the array once it is complete."""
    path = PATHS["json-array-thought-function-call.json"]
    as_array = decode_all("gemini", path.read_bytes(), framing="json-array")
    for feed_mode in ("whole", "bytewise", "random"):
        as_sse = decode_all("gemini", path.read_bytes(), feed_mode)
        assert as_sse.error is None
        assert as_sse.result == as_array.result


@pytest.mark.parametrize("path", ["$" + ".a" * 65, "$.a[99999999999]", "a.b", "$.a[x]"])
def test_bad_partial_args_paths_are_protocol_errors(path: str) -> None:
    data = _sse(
        {"candidates": [_candidate([{"functionCall": {"name": "f", "willContinue": True}}])]},
        {
            "candidates": [
                _candidate([{"functionCall": {"partialArgs": [{"jsonPath": path, "numberValue": 1}]}}])
            ]
        },
    )
    with pytest.raises(RemoteProtocolError):
        list(decode_stream("gemini", [data]))
