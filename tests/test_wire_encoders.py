"""Every provider's wire encoder, proved by round trips: random chunk sequences are encoded in the
provider's wire format, framed, cut at random places, and read back with
``decode_stream(provider, ...)``, which must give the same reply (text deltas one for one,
reasoning, tool calls, finish reason, usage). In-band errors come back as ``ProviderError``
after the chunks before them. A provider registered at runtime is served by the server helpers
and the demo like a built-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lines_provider import LinesProvider

from sansstream import providers
from sansstream.core import EventStreamParser, SSEParser
from sansstream.model import (
    Accumulator,
    ChatResult,
    Chunk,
    Done,
    Finish,
    ProviderError,
    ReasoningDelta,
    ResponseStart,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from sansstream.providers import ChunkEncoder, decode_stream, encode_chunks
from sansstream.server import WIRE_FORMATS, chunk_encoder, ndjson_stream, sse_stream

BUILT_IN = sorted(WIRE_FORMATS)
TESTS = Path(__file__).resolve().parent

# -- random replies --------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def replies(draw: st.DrawFn) -> list[Chunk]:
    """A reply as a provider stream would carry it: a start, runs of reasoning and text, whole
    tool calls (their arguments cut into fragments), a finish, usage, done."""
    chunks: list[Chunk] = [
        ResponseStart(id=draw(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)), model="m-1")
    ]
    calls = 0
    for kind in draw(st.lists(st.sampled_from(["text", "reasoning", "tool"]), max_size=6)):
        if kind == "text":
            chunks += [TextDelta(t) for t in draw(st.lists(_text, min_size=1, max_size=4))]
        elif kind == "reasoning":
            chunks += [ReasoningDelta(text=t) for t in draw(st.lists(_text, min_size=1, max_size=3))]
        else:
            arguments = json.dumps(draw(st.dictionaries(st.text(max_size=6), _json_value, max_size=3)))
            cuts = sorted(draw(st.sets(st.integers(1, max(1, len(arguments) - 1)), max_size=3)))
            pieces = [arguments[a:b] for a, b in zip([0, *cuts], [*cuts, len(arguments)], strict=True)]
            name = draw(st.from_regex(r"[a-z_]{1,10}", fullmatch=True))
            call_id = f"call_{calls}"
            chunks.append(ToolCallStart(index=calls, id=call_id, name=name))
            chunks += [ToolCallDelta(index=calls, arguments=p) for p in pieces if p]
            chunks.append(
                ToolCallEnd(
                    index=calls, id=call_id, name=name, arguments=arguments, input=json.loads(arguments)
                )
            )
            calls += 1
    reason = "tool_calls" if calls else draw(st.sampled_from(["stop", "length"]))
    prompt, output = draw(st.integers(0, 5000)), draw(st.integers(0, 5000))
    chunks += [
        Finish(reason=reason),
        Usage(input_tokens=prompt, output_tokens=output, total_tokens=prompt + output),
    ]
    chunks.append(Done())
    return chunks


def result(chunks: list[Chunk]) -> ChatResult:
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


def cut(body: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(body) + 1) for p in points})
    return [body[a:b] for a, b in zip([0, *marks], [*marks, len(body)], strict=True)]


def assert_same_reply(sent: list[Chunk], got: list[Chunk]) -> None:
    want, have = result(sent), result(got)
    assert [c.text for c in got if isinstance(c, TextDelta)] == [
        c.text for c in sent if isinstance(c, TextDelta)
    ]
    assert have.text == want.text
    assert have.reasoning == want.reasoning
    assert [(t.name, t.input) for t in have.tool_calls] == [(t.name, t.input) for t in want.tool_calls]
    assert have.finish_reason == want.finish_reason
    assert have.usage is not None
    assert want.usage is not None
    assert (have.usage.input_tokens, have.usage.output_tokens) == (
        want.usage.input_tokens,
        want.usage.output_tokens,
    )
    assert have.done


@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=replies(), points=st.lists(st.integers(0, 10**6), max_size=8))
def test_a_reply_survives_encoding_and_decoding(name: str, chunks: list[Chunk], points: list[int]) -> None:
    body = b"".join(encode_chunks(chunk_encoder(name, model="m-1"), chunks))
    got = list(decode_stream(name, cut(body, points)))
    assert_same_reply(chunks, got)


@pytest.mark.parametrize("name", BUILT_IN)
def test_tool_call_ids_survive_where_the_format_carries_them(name: str) -> None:
    chunks: list[Chunk] = [
        ToolCallStart(index=0, id="call_7", name="lookup"),
        ToolCallDelta(index=0, arguments='{"q": "x"}'),
        ToolCallEnd(index=0, id="call_7", name="lookup", arguments='{"q": "x"}', input={"q": "x"}),
        Finish(reason="tool_calls"),
    ]
    got = result(list(decode_stream(name, encode_chunks(chunk_encoder(name), chunks))))
    assert [(t.name, t.input) for t in got.tool_calls] == [("lookup", {"q": "x"})]
    assert got.finish_reason == "tool_calls"
    if name != "ollama":  # Ollama's /api/chat tool calls have no id
        assert got.tool_calls[0].id == "call_7"


@pytest.mark.parametrize("name", BUILT_IN)
def test_an_in_band_error_comes_back_after_the_chunks_before_it(name: str) -> None:
    error = ProviderError("the model is overloaded", provider=name, type="overloaded_error", code=529)
    chunks: list[Chunk] = [ResponseStart(id="r", model="m"), TextDelta("partial "), TextDelta("answer")]
    body = list(encode_chunks(chunk_encoder(name), [*chunks, StreamError(error), TextDelta("dropped")]))
    seen: list[Chunk] = []
    with pytest.raises(ProviderError, match="the model is overloaded") as caught:
        seen.extend(decode_stream(name, body))
    assert "".join(c.text for c in seen if isinstance(c, TextDelta)) == "partial answer"
    assert caught.value.provider == name


@pytest.mark.parametrize("name", BUILT_IN)
def test_lone_surrogates_and_non_ascii_text_round_trip(name: str) -> None:
    texts = ["\ud83d", "\ude00 naïve — 日本", "\U0001f600"]
    chunks: list[Chunk] = [
        *(TextDelta(t) for t in texts),
        Finish(reason="stop"),
        Usage(input_tokens=1, output_tokens=3),
    ]
    got = list(decode_stream(name, encode_chunks(chunk_encoder(name), chunks)))
    assert [c.text for c in got if isinstance(c, TextDelta)] == texts


def test_every_built_in_provider_has_an_encoder_named_after_it() -> None:
    assert set(providers.servable()) >= set(BUILT_IN)
    for name in BUILT_IN:
        encoder = chunk_encoder(name)
        assert isinstance(encoder, ChunkEncoder)
        assert encoder.format == name
        assert type(encoder).__module__ == providers.get(name).__module__  # owned by the provider module


def test_wire_frames_are_the_provider_framing() -> None:
    sse = b"".join(encode_chunks(chunk_encoder("cohere"), [TextDelta("hi")]))
    events = SSEParser().feed(sse) + SSEParser().feed(b"")
    assert [e.event for e in events][:3] == ["message-start", "content-start", "content-delta"]
    assert events[-1].data == "[DONE]"
    frames = EventStreamParser().feed(b"".join(encode_chunks(chunk_encoder("bedrock"), [TextDelta("hi")])))
    assert [f.event_type for f in frames] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert all(f.message_type == "event" for f in frames)


def test_timestamps_come_from_the_caller_never_a_clock() -> None:
    first = b"".join(encode_chunks(chunk_encoder("openai", now=1_700_000_000), [TextDelta("x")]))
    assert b'"created":1700000000' in first
    ollama = b"".join(encode_chunks(providers.get("ollama").encoder(), [TextDelta("x")]))
    assert b'"created_at":"1970-01-01T00:00:00Z"' in ollama  # pure: no now= means 0, not today


def test_the_server_helpers_refuse_a_framing_they_do_not_write() -> None:
    from sansstream.model import LocalProtocolError

    with pytest.raises(LocalProtocolError, match="encode_chunks"):
        list(sse_stream([TextDelta("x")], format="bedrock"))
    with pytest.raises(LocalProtocolError, match="no keepalive"):
        chunk_encoder("bedrock").keepalive()
    with pytest.raises(LocalProtocolError, match="unknown wire format 'nope'; use one of anthropic, azure"):
        chunk_encoder("nope")


# -- a provider registered at runtime ---------------------------------------------------------


@pytest.fixture
def lines_registered() -> object:
    providers.register("lines", LinesProvider)
    yield
    providers.unregister("lines")


@pytest.mark.usefixtures("lines_registered")
def test_a_registered_provider_is_served_by_the_server_helpers() -> None:
    assert "lines" in providers.servable()
    encoder = chunk_encoder("lines")
    assert type(encoder).__name__ == "LinesEncoder"
    body = list(ndjson_stream([TextDelta("one "), TextDelta("two")], format="lines"))
    assert body == [b'{"say":"one "}\n', b'{"say":"two"}\n', b'{"end":"stop"}\n']
    got = list(decode_stream("lines", body))
    assert "".join(c.text for c in got if isinstance(c, TextDelta)) == "one two"
    with pytest.raises(Exception, match="NDJSON: use ndjson_stream"):
        list(sse_stream([TextDelta("x")], format="lines"))


def test_a_registered_provider_without_an_encoder_says_so() -> None:
    class Mute(LinesProvider):
        encoder_class = None

    providers.register("mute", Mute)
    try:
        from sansstream.model import ConfigurationError, LocalProtocolError

        assert "mute" not in providers.servable()
        with pytest.raises(LocalProtocolError, match="'mute' has no wire encoder"):
            chunk_encoder("mute")
        with pytest.raises(ConfigurationError, match="encoder_class"):
            providers.get("mute").encoder()
    finally:
        providers.unregister("mute")


def test_the_demo_serves_a_registered_provider() -> None:
    # A fresh interpreter, the real CLI: register the provider, then run `demo -p lines`.
    code = (
        "import sys\n"
        "from lines_provider import LinesProvider\n"
        "from sansstream import providers\n"
        "from sansstream.cli import main\n"
        "providers.register('lines', LinesProvider)\n"
        "sys.exit(main(['demo', '-p', 'lines', '--speed', '0', '--json']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    chunks = [json.loads(line) for line in done.stdout.splitlines()]
    text = "".join(c["text"] for c in chunks if c["type"] == "content")
    assert text.startswith("sansstream reads streamed responses")
    assert chunks[-1]["type"] == "done"
    assert "a local lines server at http://127.0.0.1:" in done.stderr
