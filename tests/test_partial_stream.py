"""Partial JSON on a real stream: ``ChatStream.partial_tool_calls()`` and ``partial_objects()``
against a loopback server, on both transports, compared after every chunk with what the official
SDKs compute from the same fragments (jiter ``from_json(buffer, partial_mode=True)``: openai's
``parsed_arguments``/``parsed`` and anthropic's tool ``input`` snapshot call exactly that)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import jiter
import pytest
from support import provider_fixtures_dir

from sansstream.api._stream import stream_chat
from sansstream.core._partialjson import PartialTracker
from sansstream.model import RemoteProtocolError, TextDelta, ToolCallDelta, ToolCallEnd
from sansstream.testing import FixtureResponse, FixtureServer

TRANSPORTS = ["requests", "h11"]
MESSAGES = [{"role": "user", "content": "hi"}]
TOOL_CASES = [
    ("openai", "openai-chat/parallel-tool-calls.sse", {"OPENAI_API_KEY": "sk-test"}),
    ("openai", "openai-chat/strict-tool-call.sse", {"OPENAI_API_KEY": "sk-test"}),
    ("anthropic", "anthropic/text-then-tool-use.sse", {"ANTHROPIC_API_KEY": "sk-test"}),
    ("anthropic", "anthropic/parallel-tool-use-empty-args.sse", {"ANTHROPIC_API_KEY": "sk-test"}),
]


def _sdk_partial(buffer: str) -> Any:
    try:
        return jiter.from_json(buffer.encode(), partial_mode=True)
    except ValueError:
        return None


def _serve(fixture: str) -> FixtureServer:
    body = (provider_fixtures_dir() / fixture).read_bytes()
    return FixtureServer(FixtureResponse(body=body, drip=7))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("provider", "fixture", "env"), TOOL_CASES, ids=[c[1] for c in TOOL_CASES])
def test_partial_tool_calls_match_the_sdks_after_every_chunk(
    provider: str, fixture: str, env: dict[str, str], transport: str
) -> None:
    with _serve(fixture) as server:
        stream = stream_chat(
            provider, model="m", messages=MESSAGES, base_url=server.url, transport=transport, env=env
        )
        buffers: dict[int, str] = {}
        finals: dict[int, Any] = {}
        checked = 0
        for chunk in stream:
            if isinstance(chunk, ToolCallDelta):
                buffers[chunk.index] = buffers.get(chunk.index, "") + chunk.arguments
            if isinstance(chunk, ToolCallEnd):
                finals[chunk.index] = chunk.input
            got = {c.index: c for c in stream.partial_tool_calls()}
            for index, buffer in buffers.items():
                if index in finals:
                    assert got[index].complete
                    assert got[index].input == finals[index]
                else:
                    assert got[index].input == _sdk_partial(buffer), (index, buffer)
                    checked += 1
        result = stream.result()
    assert checked > 0 or "empty-args" in fixture  # that fixture streams no argument text
    assert [(c.id, c.name, c.input) for c in stream.partial_tool_calls()] == [
        (t.id, t.name, t.input) for t in result.tool_calls
    ]


def test_partial_tool_calls_started_mid_stream_catch_up() -> None:
    fixture = "anthropic/text-then-tool-use.sse"
    with _serve(fixture) as server:
        stream = stream_chat(
            "anthropic", model="m", messages=MESSAGES, base_url=server.url, env={"ANTHROPIC_API_KEY": "k"}
        )
        buffer = ""
        seen_deltas = 0
        for chunk in stream:
            if isinstance(chunk, ToolCallDelta):
                buffer += chunk.arguments
                seen_deltas += 1
                if seen_deltas == 2:  # first look after two fragments: primed from the accumulator
                    (call,) = stream.partial_tool_calls()
                    assert call.input == _sdk_partial(buffer)
            elif isinstance(chunk, ToolCallDelta | TextDelta) and seen_deltas > 2:
                (call,) = stream.partial_tool_calls()
                assert call.input == _sdk_partial(buffer)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_partial_objects_of_json_mode_text(transport: str) -> None:
    with _serve("openai-chat/json-content-usage.sse") as server:
        stream = stream_chat(
            "openai",
            model="m",
            messages=MESSAGES,
            base_url=server.url,
            transport=transport,
            env={"OPENAI_API_KEY": "k"},
        )
        objects = list(stream.partial_objects())
        text = stream.result().text
    assert objects[-1] == json.loads(text)
    assert len(objects) > 3
    # every object is one the SDK shows for some prefix of the text, in order, each one new
    prefixes = [_sdk_partial(text[:k]) for k in range(1, len(text) + 1)]
    position = 0
    for obj in objects:
        position = prefixes.index(obj, position)
    assert all(a != b for a, b in itertools.pairwise(objects))


def test_partial_objects_refuse_text_that_is_not_json() -> None:
    with _serve("openai-chat/text-stop-usage.sse") as server:
        stream = stream_chat(
            "openai", model="m", messages=MESSAGES, base_url=server.url, env={"OPENAI_API_KEY": "k"}
        )
        with pytest.raises(RemoteProtocolError, match="not one JSON value"):
            list(stream.partial_objects())
        assert stream.result().text  # the stream itself was read to its end


def test_tracker_marks_invalid_arguments_and_keeps_last_good_value() -> None:
    tracker = PartialTracker()
    tracker.add(ToolCallDelta(index=0, arguments='{"a": 1, '))
    tracker.add(ToolCallDelta(index=0, arguments="oops"))
    (call,) = tracker.tool_calls()
    assert call.input == {"a": 1}
    assert call.error is not None
    assert "expected an object key" in call.error
