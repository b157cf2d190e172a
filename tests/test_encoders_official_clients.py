"""The new wire encoders read by the providers' own client libraries, not only by sansstream:
the OpenAI SDK's Responses stream (its ``responses.stream()`` helper rebuilds the response from
the events and refuses a sequence it does not expect), and botocore, AWS's own event-stream
parser, for Bedrock ConverseStream and InvokeModelWithResponseStream. A loopback server plays
the provider, with bytes written by ``chat_response`` (the provider module's encoder)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sansstream.model import (
    Chunk,
    Finish,
    ReasoningDelta,
    ResponseStart,
    TextDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from sansstream.testing import FixtureServer, chat_response

REPLY = "Streams, read back by the provider's own client."

TOOL_REPLY: list[Chunk] = [
    ResponseStart(id="resp_1", model="m-1"),
    ReasoningDelta(text="Look it up. "),
    TextDelta("Checking."),
    ToolCallStart(index=0, id="call_1", name="lookup"),
    ToolCallEnd(index=0, id="call_1", name="lookup", arguments='{"q": "x"}', input={"q": "x"}),
    Finish(reason="tool_calls"),
    Usage(input_tokens=3, output_tokens=9, total_tokens=12),
]


def test_the_openai_sdk_rebuilds_a_responses_stream() -> None:
    openai = pytest.importorskip("openai")
    with FixtureServer(chat_response(REPLY, format="openai-responses")) as server:
        client = openai.OpenAI(api_key="dummy", base_url=server.url + "/v1", max_retries=0)
        with client.responses.stream(model="m", input="hi") as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
    assert "".join(deltas) == REPLY
    assert final.output_text == REPLY
    assert final.status == "completed"
    assert final.usage is not None
    assert final.usage.output_tokens == len(deltas)


def test_the_openai_sdk_reads_function_calls_and_reasoning_of_a_responses_stream() -> None:
    openai = pytest.importorskip("openai")
    with FixtureServer(chat_response(TOOL_REPLY, format="openai-responses")) as server:
        client = openai.OpenAI(api_key="dummy", base_url=server.url + "/v1", max_retries=0)
        with client.responses.stream(model="m", input="hi") as stream:
            final = stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments), c.call_id) for c in calls] == [("lookup", {"q": "x"}, "call_1")]
    summaries = [s.text for item in final.output if item.type == "reasoning" for s in item.summary]
    assert summaries == ["Look it up. "]
    assert final.output_text == "Checking."


def _bedrock_client(url: str) -> Any:
    session = pytest.importorskip("botocore.session").get_session()
    config = pytest.importorskip("botocore.config").Config(retries={"max_attempts": 1})
    return session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=config,
    )


def test_botocore_reads_a_converse_stream() -> None:
    with FixtureServer(chat_response(TOOL_REPLY, format="bedrock")) as server:
        response = _bedrock_client(server.url).converse_stream(
            modelId="m-1", messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
        events = list(response["stream"])
    names = [next(iter(e)) for e in events]
    assert names[0] == "messageStart"
    assert names[-2:] == ["messageStop", "metadata"]
    deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    assert "".join(d.get("text", "") for d in deltas) == "Checking."
    assert "".join(d["reasoningContent"]["text"] for d in deltas if "reasoningContent" in d) == "Look it up. "
    assert "".join(d["toolUse"]["input"] for d in deltas if "toolUse" in d) == '{"q": "x"}'
    starts = [e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e]
    assert starts == [{"toolUseId": "call_1", "name": "lookup"}]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"
    assert events[-1]["metadata"]["usage"] == {"inputTokens": 3, "outputTokens": 9, "totalTokens": 12}


def test_botocore_reads_an_invoke_stream_of_claude_events() -> None:
    with FixtureServer(chat_response(REPLY, format="bedrock-invoke")) as server:
        response = _bedrock_client(server.url).invoke_model_with_response_stream(
            modelId="anthropic.claude-test", body=b"{}"
        )
        events = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"
    text = "".join(
        e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and "text" in e["delta"]
    )
    assert text == REPLY


def test_an_invoke_chunk_is_base64_of_one_json_event() -> None:
    response = chat_response("Hi", format="bedrock-invoke")
    assert isinstance(response.body, list)
    body = b"".join(response.body)
    assert b'"bytes":"' in body
    encoded = body.split(b'"bytes":"', 1)[1].split(b'"', 1)[0]
    assert json.loads(base64.b64decode(encoded))["type"] == "message_start"
