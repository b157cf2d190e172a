"""Providers that answer in more than one framing pick it from the response's Content-Type.

SLOP streams over SSE or NDJSON; Gemini streams SSE with ``alt=sse`` and one JSON array
without it. Over real loopback servers, both transports.
"""

from __future__ import annotations

import pytest
from support import provider_fixtures_dir

from sansstream import decode_stream, stream_chat
from sansstream.model import Accumulator, IncompleteStreamError
from sansstream.providers import get
from sansstream.testing import FixtureResponse, FixtureServer

TRANSPORTS = ["requests", "h11"]
NDJSON_BODY = (
    b'{"type": "content", "content": "Hel"}\n'
    b'{"type": "thinking", "content": "hmm"}\n'
    b'{"type": "content", "content": "lo"}\n'
    b'{"type": "done"}\n'
)


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/jsonl; charset=utf-8"])
def test_slop_framing_follows_the_content_type(content_type: str) -> None:
    provider = get("slop")
    assert provider.framing_for(content_type) == "ndjson"
    assert provider.framing_for("text/event-stream; charset=utf-8") == "sse"
    assert provider.framing_for(None) == "sse"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slop_ndjson_over_http(transport: str) -> None:
    response = FixtureResponse(NDJSON_BODY, content_type="application/x-ndjson", drip=5)
    with FixtureServer(response) as server:
        stream = stream_chat("slop", model="m", messages=[], base_url=server.url, transport=transport)
        result = stream.result()
    assert (result.text, result.reasoning, result.done) == ("Hello", "hmm", True)
    assert stream.metrics.wire_events == 4


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slop_ndjson_cut_is_incomplete(transport: str) -> None:
    response = FixtureResponse(NDJSON_BODY, content_type="application/x-ndjson", cut_after=38)
    with FixtureServer(response) as server:
        stream = stream_chat(
            "slop", model="m", messages=[], base_url=server.url, transport=transport, retry=None
        )
        with pytest.raises(IncompleteStreamError) as info:
            stream.result()
    assert info.value.partial is not None
    assert info.value.partial.text == "Hel"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gemini_json_array_over_http(transport: str) -> None:
    path = provider_fixtures_dir() / "gemini" / "json-array-thought-function-call.json"
    body = path.read_bytes()
    expected = Accumulator()
    for chunk in decode_stream("gemini", [body], framing="json-array"):
        expected.add(chunk)
    response = FixtureResponse(body, content_type="application/json; charset=UTF-8", drip=64)
    with FixtureServer(response) as server:
        stream = stream_chat(
            "gemini",
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "x"}],
            base_url=server.url,
            api_key="k",
            transport=transport,
        )
        chunks = list(stream)
        result = stream.result()
    assert result == expected.result()
    assert result.tool_calls
    assert result.reasoning
    assert len(chunks) > 2
    assert stream.metrics.wire_events == 2  # two array elements
