"""Write the handcrafted hosted-variant fixtures (azure, azure-responses, vertex,
vertex-anthropic, bedrock-invoke) and their ``.expected.json`` files.

Run from the project root: ``python tests/make_hosted_fixtures.py``. The output is
deterministic: the files in the repository are its output. Expected values are written from the
same source data the bytes are made from (the text pieces, the tool arguments, the usage
objects), never by running a sansstream decoder; the Bedrock frames are written with
``encode_event_stream_message`` (both CRC32s).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sansstream.core import encode_event_stream_message

ROOT = Path(__file__).resolve().parent / "data" / "providers"
HAND = (
    "handcrafted from the provider's documented shapes (see the module docstring's sources); "
    "not a live capture"
)
Obj = dict[str, Any]


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse_data(objs: Iterable[Any], *, done: bool = True, crlf: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    out = [f"data: {dump(o)}{nl}{nl}" for o in objs]
    if done:
        out.append(f"data: [DONE]{nl}{nl}")
    return "".join(out).encode()


def sse_named(objs: Iterable[Obj]) -> bytes:
    return "".join(f"event: {o['type']}\ndata: {dump(o)}\n\n" for o in objs).encode()


def write(path: str, data: bytes, expected: Obj, exercises: str) -> None:
    target = ROOT / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    stem = target.name[: -len(target.suffix)]
    document = {
        "file": target.name,
        "decoder_family": "hosted",
        "provenance": HAND,
        "exercises": exercises,
        "expected": expected,
    }
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    (target.parent / f"{stem}.expected.json").write_text(text, encoding="utf-8")


def exp(
    text: str = "",
    *,
    reasoning: str = "",
    tool_calls: Iterable[Obj] = (),
    finish: str | None = "stop",
    raw_finish: str | None = "stop",
    usage: Obj | None = None,
    tool_results: Iterable[Obj] = (),
    error: Obj | None = None,
    done: bool = True,
) -> Obj:
    return {
        "text": text,
        "reasoning": reasoning,
        "tool_calls": list(tool_calls),
        "finish_reason": finish,
        "raw_finish_reason": raw_finish,
        "usage": usage,
        "tool_results": list(tool_results),
        "error": error,
        "done": done,
    }


def tokens(inp: int, out: int) -> Obj:
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


# -- azure (Chat Completions) -----------------------------------------------------------------

CLEAR = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
PROMPT = {
    "prompt_index": 0,
    "content_filter_results": {**CLEAR, "jailbreak": {"filtered": False, "detected": False}},
}
PROMPT_RESULT = {"kind": "prompt_filter", "content": PROMPT["content_filter_results"]}
ANNOTATION_CHUNK = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [PROMPT],
}


def az(choices: list[Obj], **extra: Any) -> Obj:
    chunk: Obj = {
        "choices": choices,
        "created": 1733400000,
        "id": "chatcmpl-AZ1",
        "model": "gpt-4o-2024-11-20",
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_az01",
    }
    chunk.update(extra)
    return chunk


def choice(delta: Obj, finish: str | None = None, **extra: Any) -> Obj:
    return {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None, **extra}


def azure() -> None:
    pieces = ["Paris", " is the capital", " of France", "."]
    first = choice({"content": "", "refusal": None, "role": "assistant"}, content_filter_results={})
    objs = [ANNOTATION_CHUNK, az([first])]
    objs += [az([choice({"content": p}, content_filter_results=CLEAR)]) for p in pieces]
    objs.append(az([choice({}, "stop", content_filter_results={})]))
    usage = {
        "completion_tokens": 7,
        "completion_tokens_details": {"reasoning_tokens": 0},
        "prompt_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 0},
        "total_tokens": 21,
    }
    objs.append(az([], usage=usage))
    write(
        "azure/chat-prompt-annotations.sse",
        sse_data(objs),
        exp("".join(pieces), usage=tokens(14, 7), tool_results=[PROMPT_RESULT]),
        "first chunk with empty choices, id/model empty, prompt_filter_results; all-clear "
        "content_filter_results on every content chunk (not repeated as chunks); usage chunk; [DONE]",
    )

    pieces = ["Once", " upon", " a time", "..."]
    objs = [ANNOTATION_CHUNK, *(az([choice({"content": p})]) for p in pieces), az([choice({}, "stop")])]
    annotation = {**CLEAR, "protected_material_text": {"filtered": False, "detected": False}}
    offsets = {"check_offset": 0, "start_offset": 0, "end_offset": 22}
    objs.append(
        az(
            [
                {
                    "content_filter_offsets": offsets,
                    "content_filter_results": annotation,
                    "finish_reason": None,
                    "index": 0,
                }
            ]
        )
    )
    write(
        "azure/chat-async-filter.sse",
        sse_data(objs),
        exp("".join(pieces), tool_results=[PROMPT_RESULT, {"kind": "content_filter", "content": annotation}]),
        "asynchronous filter: content streams unfiltered, then an annotation-only chunk with "
        "content_filter_offsets after the finish chunk, then [DONE]",
    )

    pieces = ["Here is", " how"]
    filtered = {**CLEAR, "violence": {"filtered": True, "severity": "medium"}}
    objs = [ANNOTATION_CHUNK, *(az([choice({"content": p}, content_filter_results=CLEAR)]) for p in pieces)]
    objs.append(az([choice({}, "content_filter", content_filter_results=filtered)]))
    write(
        "azure/chat-output-filtered.sse",
        sse_data(objs),
        exp(
            "".join(pieces),
            finish="content_filter",
            raw_finish="content_filter",
            tool_results=[PROMPT_RESULT, {"kind": "content_filter", "content": filtered}],
        ),
        "output stopped by the filter: finish_reason content_filter on a chunk whose "
        "content_filter_results has a filtered category",
    )

    args = '{"city":"Oslo"}'
    filter_error = {"error": {"code": "content_filter_error", "message": "The contents are not filtered"}}
    start = {
        "index": 0,
        "id": "call_az1",
        "type": "function",
        "function": {"name": "weather", "arguments": ""},
    }
    objs = [
        ANNOTATION_CHUNK,
        az(
            [choice({"role": "assistant", "content": None, "tool_calls": [start]}, content_filter_results={})]
        ),
        az(
            [
                choice(
                    {"tool_calls": [{"index": 0, "function": {"arguments": args[:8]}}]},
                    content_filter_results={},
                )
            ]
        ),
        az(
            [
                choice(
                    {"tool_calls": [{"index": 0, "function": {"arguments": args[8:]}}]},
                    content_filter_results={},
                )
            ]
        ),
        az([choice({}, "tool_calls", content_filter_results=filter_error)]),
    ]
    write(
        "azure/chat-tool-call-filter-error.sse",
        sse_data(objs),
        exp(
            "",
            tool_calls=[{"id": "call_az1", "name": "weather", "arguments": args, "input": {"city": "Oslo"}}],
            finish="tool_calls",
            raw_finish="tool_calls",
            tool_results=[PROMPT_RESULT, {"kind": "content_filter", "content": filter_error}],
        ),
        "tool call in fragments; the filter reports content_filter_error (it did not run) on the "
        "finish chunk",
    )

    message = "The server had an error while processing your request. Sorry about that!"
    objs = [
        ANNOTATION_CHUNK,
        az([choice({"role": "assistant", "content": "Partial"}, content_filter_results=CLEAR)]),
        {"error": {"message": message, "type": "server_error", "param": None, "code": None}},
    ]
    write(
        "azure/chat-error-mid-stream.sse",
        sse_data(objs, done=False),
        exp(
            "Partial",
            finish=None,
            raw_finish=None,
            tool_results=[PROMPT_RESULT],
            error={"type": "server_error", "code": None, "message": message},
            done=False,
        ),
        'an OpenAI-style data: {"error": ...} after content, no [DONE]',
    )


# -- azure-responses --------------------------------------------------------------------------


def azure_responses() -> None:
    resp = {
        "id": "resp_az1",
        "object": "response",
        "created_at": 1733400000,
        "status": "in_progress",
        "model": "gpt-4.1-mini",
        "output": [],
    }
    pieces = ["Hello", " from", " Azure"]
    text = "".join(pieces)
    at = {"item_id": "msg_az1", "output_index": 0, "content_index": 0}
    item_start = {
        "id": "msg_az1",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    events: list[Obj] = [
        {"type": "response.created", "sequence_number": 0, "response": resp},
        {"type": "response.in_progress", "sequence_number": 1, "response": resp},
        {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": item_start},
        {
            "type": "response.content_part.added",
            "sequence_number": 3,
            **at,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    seq = 4
    for piece in pieces:
        events.append({"type": "response.output_text.delta", "sequence_number": seq, **at, "delta": piece})
        seq += 1
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"id": "msg_az1", "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    usage = {
        "input_tokens": 9,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12,
    }
    events += [
        {"type": "response.output_text.done", "sequence_number": seq, **at, "text": text},
        {"type": "response.content_part.done", "sequence_number": seq + 1, **at, "part": part},
        {"type": "response.output_item.done", "sequence_number": seq + 2, "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "sequence_number": seq + 3,
            "response": {**resp, "status": "completed", "output": [item], "usage": usage},
        },
    ]
    write(
        "azure-responses/text.sse",
        sse_named(events),
        exp(text, raw_finish="completed", usage=tokens(9, 3)),
        "Responses API text stream as served by /openai/v1/responses (event: lines, sequence numbers, "
        "usage in response.completed, no [DONE])",
    )


# -- vertex (Gemini) --------------------------------------------------------------------------


def vchunk(parts: list[Obj], finish: str | None = None, usage: Obj | None = None) -> Obj:
    candidate: Obj = {"content": {"role": "model", "parts": parts}}
    if finish:
        candidate["finishReason"] = finish
    out: Obj = {"candidates": [candidate]}
    if usage:
        out["usageMetadata"] = usage
    out.update(
        {
            "modelVersion": "gemini-2.5-flash",
            "createTime": "2026-12-05T00:00:00.000000Z",
            "responseId": "vtx-resp-1",
        }
    )
    return out


def vertex() -> None:
    pieces = ["The sky", " is blue because", " of Rayleigh scattering."]
    thought = "Considering light scattering."
    mid = {
        "promptTokenCount": 8,
        "candidatesTokenCount": 2,
        "totalTokenCount": 10,
        "trafficType": "ON_DEMAND",
    }
    end = {
        "promptTokenCount": 8,
        "candidatesTokenCount": 12,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 25,
        "trafficType": "ON_DEMAND",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
    }
    objs = [
        vchunk([{"text": thought, "thought": True}], usage=mid),
        vchunk([{"text": pieces[0]}], usage=mid),
        vchunk([{"text": pieces[1]}], usage=mid),
        vchunk([{"text": pieces[2]}], finish="STOP", usage=end),
    ]
    write(
        "vertex/text-thought.sse",
        sse_data(objs, done=False, crlf=True),
        # output_tokens: candidates + thoughts, as the gemini decoder counts them
        exp("".join(pieces), reasoning=thought, raw_finish="STOP", usage=tokens(8, 17)),
        "Vertex streamGenerateContent?alt=sse: CRLF framing, a thought part, cumulative usageMetadata "
        "with trafficType, createTime/responseId, no [DONE]",
    )
    args = {"city": "Oslo", "unit": "C"}
    usage = {
        "promptTokenCount": 20,
        "candidatesTokenCount": 6,
        "totalTokenCount": 26,
        "trafficType": "ON_DEMAND",
    }
    objs = [vchunk([{"functionCall": {"name": "weather", "args": args}}], finish="STOP", usage=usage)]
    write(
        "vertex/function-call.sse",
        sse_data(objs, done=False, crlf=True),
        exp(
            "",
            tool_calls=[{"id": None, "name": "weather", "arguments": dump(args), "input": args}],
            finish="tool_calls",
            raw_finish="STOP",
            usage=tokens(20, 6),
        ),
        "a whole functionCall part in one chunk with finishReason STOP (normalised to tool_calls)",
    )


# -- Anthropic events (vertex-anthropic, bedrock-invoke) ----------------------------------------


def ant_events(
    text_pieces: list[str],
    *,
    tool: tuple[str, str, list[str]] | None = None,
    stop: str = "end_turn",
    usage_in: int = 11,
    usage_out: int = 9,
    msg_id: str = "msg_vrtx_01",
) -> list[Obj]:
    message: Obj = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5@20250929",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage_in, "output_tokens": 1},
    }
    events: list[Obj] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    index = 0
    if text_pieces:
        events.append(
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        )
        for piece in text_pieces:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    if tool:
        tool_id, name, fragments = tool
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        for fragment in fragments:
            delta = {"type": "input_json_delta", "partial_json": fragment}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    stop_delta: Obj = {"stop_reason": stop, "stop_sequence": None}
    events.append({"type": "message_delta", "delta": stop_delta, "usage": {"output_tokens": usage_out}})
    events.append({"type": "message_stop"})
    return events


def vertex_anthropic() -> None:
    pieces = ["Let me", " check."]
    fragments = ["", '{"city": ', '"Oslo"}']
    events = ant_events(
        pieces, tool=("toolu_vrtx_1", "weather", fragments), stop="tool_use", usage_in=30, usage_out=25
    )
    call = {
        "id": "toolu_vrtx_1",
        "name": "weather",
        "arguments": "".join(fragments),
        "input": {"city": "Oslo"},
    }
    write(
        "vertex-anthropic/text-then-tool-use.sse",
        sse_named(events),
        exp(
            "".join(pieces),
            tool_calls=[call],
            finish="tool_calls",
            raw_finish="tool_use",
            usage=tokens(30, 25),
        ),
        "Anthropic Messages SSE as returned by :streamRawPredict (event: lines, ping, text then "
        "tool_use, message_stop)",
    )
    events = ant_events(["Hi"], usage_in=5, usage_out=2)[:-2]
    events.append({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    write(
        "vertex-anthropic/error-overloaded.sse",
        sse_named(events),
        exp(
            "Hi",
            finish=None,
            raw_finish=None,
            usage=tokens(5, 1),
            error={"type": "overloaded_error", "code": 529, "message": "Overloaded"},
            done=False,
        ),
        "event: error (overloaded_error) after text, no message_stop",
    )


# -- bedrock-invoke ---------------------------------------------------------------------------

PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0"
EVENT_HEADERS = [(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")]


def chunk_frame(obj: Obj, i: int) -> bytes:
    part = {"bytes": base64.b64encode(dump(obj).encode()).decode(), "p": PAD[: 3 + (i * 7) % 40]}
    return encode_event_stream_message(EVENT_HEADERS, dump(part).encode())


def exception_frame(kind: str, body: Obj) -> bytes:
    headers = [
        (":exception-type", kind),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return encode_event_stream_message(headers, dump(body).encode())


def frames(objs: list[Obj]) -> bytes:
    return b"".join(chunk_frame(o, i) for i, o in enumerate(objs))


def metrics(inp: int, out: int, latency: int, first_byte: int) -> Obj:
    return {
        "inputTokenCount": inp,
        "outputTokenCount": out,
        "invocationLatency": latency,
        "firstByteLatency": first_byte,
    }


def bedrock_invoke() -> None:
    key = "amazon-bedrock-invocationMetrics"
    events = [
        e
        for e in ant_events(["Bonjour", " !"], usage_in=12, usage_out=9, msg_id="msg_bdrk_01")
        if e["type"] != "ping"
    ]
    events[-1] = {"type": "message_stop", key: metrics(12, 9, 640, 210)}
    write(
        "bedrock-invoke/claude-text.bin",
        frames(events),
        exp("Bonjour !", raw_finish="end_turn", usage=tokens(12, 9)),
        "Claude Messages events, each base64 in a chunk frame's bytes; message_stop carries "
        "amazon-bedrock-invocationMetrics",
    )

    fragments = ['{"city"', ': "Lyon"}']
    events = ant_events(
        [],
        tool=("toolu_bdrk_1", "weather", fragments),
        stop="tool_use",
        usage_in=40,
        usage_out=15,
        msg_id="msg_bdrk_02",
    )
    events = [e for e in events if e["type"] != "ping"]
    events[-1] = {"type": "message_stop", key: metrics(40, 15, 640, 210)}
    call = {
        "id": "toolu_bdrk_1",
        "name": "weather",
        "arguments": "".join(fragments),
        "input": {"city": "Lyon"},
    }
    write(
        "bedrock-invoke/claude-tool-use.bin",
        frames(events),
        exp("", tool_calls=[call], finish="tool_calls", raw_finish="tool_use", usage=tokens(40, 15)),
        "Claude tool_use block with input_json_delta fragments",
    )

    pieces = ["Hello", " there", "!"]
    objs: list[Obj] = [
        {
            "generation": p,
            "prompt_token_count": 10 if i == 0 else None,
            "generation_token_count": i + 1,
            "stop_reason": None,
        }
        for i, p in enumerate(pieces)
    ]
    objs.append(
        {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": 4,
            "stop_reason": "stop",
            key: metrics(10, 4, 300, 120),
        }
    )
    write(
        "bedrock-invoke/llama-text.bin",
        frames(objs),
        exp("".join(pieces), usage=tokens(10, 4)),
        "Meta Llama generation chunks; the last one has stop_reason stop and the invocation metrics",
    )

    pieces = ["Bonjour", ", le", " monde"]
    objs = [{"outputs": [{"text": p, "stop_reason": None}]} for p in pieces]
    objs.append({"outputs": [{"text": "", "stop_reason": "length"}], key: metrics(7, 3, 200, 90)})
    write(
        "bedrock-invoke/mistral-length.bin",
        frames(objs),
        exp("".join(pieces), finish="length", raw_finish="length", usage=tokens(7, 3)),
        "Mistral text-completion outputs[] chunks ending with stop_reason length",
    )

    pieces = ["Cohere", " on", " Bedrock"]
    objs = [{"is_finished": False, "event_type": "stream-start", "generation_id": "gen-1"}]
    objs += [{"is_finished": False, "event_type": "text-generation", "text": p} for p in pieces]
    response = {
        "response_id": "r1",
        "text": "".join(pieces),
        "generation_id": "gen-1",
        "finish_reason": "COMPLETE",
    }
    objs.append(
        {
            "is_finished": True,
            "event_type": "stream-end",
            "finish_reason": "COMPLETE",
            "response": response,
            key: metrics(6, 3, 250, 100),
        }
    )
    write(
        "bedrock-invoke/cohere-command-r.bin",
        frames(objs),
        exp("".join(pieces), raw_finish="COMPLETE", usage=tokens(6, 3)),
        "Cohere Command R stream-start / text-generation / stream-end events",
    )

    events = [
        e
        for e in ant_events(["Partial"], usage_in=5, usage_out=2, msg_id="msg_bdrk_03")
        if e["type"] != "ping"
    ]
    body = {
        "message": "Model stream error: upstream reset",
        "originalStatusCode": 500,
        "originalMessage": "reset",
    }
    data = frames(events[:4]) + exception_frame("modelStreamErrorException", body)
    write(
        "bedrock-invoke/claude-exception.bin",
        data,
        exp(
            "Partial",
            finish=None,
            raw_finish=None,
            usage=tokens(5, 1),
            error={
                "type": "modelStreamErrorException",
                "code": 500,
                "message": "Model stream error: upstream reset",
            },
            done=False,
        ),
        "an exception frame (:message-type exception, modelStreamErrorException) after some Claude events",
    )

    tool_start = {"toolUse": {"toolUseId": "tooluse_nova_1", "name": "weather"}}
    objs = [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Checking"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": " the weather."}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockStart": {"start": tool_start, "contentBlockIndex": 1}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"city":'}}, "contentBlockIndex": 1}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '"Bergen"}'}}, "contentBlockIndex": 1}},
        {"contentBlockStop": {"contentBlockIndex": 1}},
        {"messageStop": {"stopReason": "tool_use"}},
        {
            "metadata": {"usage": {"inputTokens": 33, "outputTokens": 21}, "metrics": {}, "trace": {}},
            key: metrics(33, 21, 400, 150),
        },
    ]
    call = {
        "id": "tooluse_nova_1",
        "name": "weather",
        "arguments": '{"city":"Bergen"}',
        "input": {"city": "Bergen"},
    }
    write(
        "bedrock-invoke/nova-text-tool-use.bin",
        frames(objs),
        exp(
            "Checking the weather.",
            tool_calls=[call],
            finish="tool_calls",
            raw_finish="tool_use",
            usage=tokens(33, 21),
        ),
        "Amazon Nova: each chunk holds one Converse event object (messageStart … messageStop, metadata "
        "with usage); text then a toolUse block",
    )


if __name__ == "__main__":
    azure()
    azure_responses()
    vertex()
    vertex_anthropic()
    bedrock_invoke()
