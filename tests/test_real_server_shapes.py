"""Stream shapes seen on real servers (issue 15): an Anthropic stream without ``message_start``
(llama.cpp's server on a first request) and a Responses stream ending with ``data: [DONE]``
(LiteLLM proxy). Both decode what is there, in any split, and end complete."""

from __future__ import annotations

import pytest
from provider_support import slices
from support import provider_fixtures_dir

from sansstream.model import Usage
from sansstream.providers._pipeline import StreamDecoder, decode_stream


def _events(data: bytes) -> list[bytes]:
    return [e for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]


@pytest.mark.parametrize("feed_mode", ["whole", "bytewise", "random"])
def test_anthropic_without_message_start(feed_mode: str) -> None:
    data = (provider_fixtures_dir() / "anthropic/text-basic.sse").read_bytes()
    events = _events(data)
    assert b"message_start" in events[0]
    body = b"\n\n".join(events[1:]) + b"\n\n"
    full = list(decode_stream("anthropic", [data]))
    machine = StreamDecoder("anthropic")
    chunks = []
    for piece in [*slices(body, feed_mode), b""]:
        chunks.extend(machine.feed(piece))
    chunks.extend(machine.feed(b""))
    result = machine.result()
    assert machine.complete
    assert result.text == "".join(c.text for c in full if c.type == "content")
    assert result.text
    assert result.finish_reason == "stop"
    assert result.id is None  # it came only in message_start
    # the usage of message_delta is kept (input tokens were only in message_start)
    assert isinstance(result.usage, Usage)
    assert result.usage.output_tokens is not None


@pytest.mark.parametrize("feed_mode", ["whole", "bytewise", "random"])
def test_responses_stream_ending_with_done(feed_mode: str) -> None:
    data = (provider_fixtures_dir() / "openai-responses/text.sse").read_bytes()
    assert b"[DONE]" not in data
    want = list(decode_stream("openai-responses", [data]))
    got = list(decode_stream("openai-responses", slices(data + b"\n\ndata: [DONE]\n\n", feed_mode)))
    assert got == want
    assert want[-1].type == "done"
    # and cut anywhere inside that trailing line: still complete, same chunks
    for short in range(1, 14):
        cut = (data + b"\n\ndata: [DONE]\n\n")[:-short]
        assert list(decode_stream("openai-responses", slices(cut, feed_mode))) == want
