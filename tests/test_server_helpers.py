"""Server-side helpers: chunks → wire bytes that our parsers, our decoders and the official SDKs
read back exactly (sansstream.server)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import wsgiref.simple_server
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import provider_fixtures_dir

from sansstream.core import SSEParser, iter_ndjson
from sansstream.model import (
    Accumulator,
    ChatResult,
    Chunk,
    Comment,
    Done,
    Finish,
    IncompleteStreamError,
    LocalProtocolError,
    ProviderError,
    ResponseStart,
    ServerSentEvent,
    StreamError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from sansstream.providers import Framing, decode_stream
from sansstream.server import (
    KEEPALIVE,
    WireFormat,
    chunk_encoder,
    ndjson_stream,
    ndjson_stream_async,
    sse_stream,
    sse_stream_async,
    stream_response,
)
from sansstream.testing import MODES, rechunk

FORMATS = ["slop", "slop-ndjson", "openai", "anthropic", "ollama"]


def body_for(fmt: str, chunks: Iterable[Any], **kw: Any) -> bytes:
    if fmt == "slop-ndjson":
        return b"".join(ndjson_stream(chunks, format="slop", **kw))
    writer = ndjson_stream if fmt == "ollama" else sse_stream
    return b"".join(writer(chunks, format=fmt, **kw))


def decode(fmt: str, pieces: Iterable[bytes], **kw: Any) -> Iterator[Chunk]:
    if fmt == "slop-ndjson":
        return decode_stream("slop", pieces, framing="ndjson", **kw)
    return decode_stream(fmt, pieces, **kw)


def fold(chunks: Iterable[Chunk]) -> ChatResult:
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.result()


TOOL_CHUNKS: list[Chunk] = [
    ResponseStart(id="r1", model="m1"),
    TextDelta("Let me check."),
    ToolCallStart(index=0, id="call_1", name="get_weather"),
    ToolCallDelta(index=0, arguments='{"city": '),
    ToolCallDelta(index=0, arguments='"Paris"}'),
    ToolCallEnd(
        index=0, id="call_1", name="get_weather", arguments='{"city": "Paris"}', input={"city": "Paris"}
    ),
    Finish(reason="tool_calls", raw_reason="tool_calls"),
    Usage(input_tokens=12, output_tokens=7, total_tokens=19),
    Done(),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_canned_reply_round_trips_through_each_provider_decoder(fmt: str, mode: str) -> None:
    text = "Hello there!  Streaming,\nover several lines — with ünïcode. "
    source = list(stream_response(text, reasoning="First, think.", model="demo-1", input_tokens=9))
    body = body_for(fmt, source, model="demo-1")
    decoded = list(decode(fmt, rechunk(body, mode, seed=3)))  # type: ignore[arg-type]
    result = fold(decoded)
    assert result.text == text
    assert result.reasoning == "First, think."
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.input_tokens == 9
    assert result.usage.output_tokens == fold(source).usage.output_tokens  # type: ignore[union-attr]
    assert result.model == "demo-1"
    assert decoded[-1].type == "done"
    # Deltas arrive one wire event each, in order: the stream stays a stream.
    assert [c.text for c in decoded if isinstance(c, TextDelta)] == [
        c.text for c in source if isinstance(c, TextDelta)
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_call_round_trips(fmt: str) -> None:
    result = fold(decode(fmt, [body_for(fmt, TOOL_CHUNKS)]))
    assert result.text == "Let me check."
    assert [(t.name, t.input) for t in result.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert result.usage is not None
    assert result.usage.output_tokens == 7
    if fmt != "ollama":  # Ollama has no call ids and reports tool calls with done_reason "stop"
        assert result.tool_calls[0].id == "call_1"
        assert result.finish_reason == "tool_calls"


def test_tool_call_sent_whole_when_no_fragments_were_seen() -> None:
    chunks: list[Chunk] = [
        ToolCallEnd(index=0, id="c9", name="f", arguments='{"x":1}', input={"x": 1}),
        Finish(reason="tool_calls"),
    ]
    for fmt in ("openai", "anthropic"):
        result = fold(decode(fmt, [body_for(fmt, chunks)]))
        assert [(t.id, t.name, t.input) for t in result.tool_calls] == [("c9", "f", {"x": 1})]


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_chunk_raises_provider_error_after_the_text(fmt: str) -> None:
    err = ProviderError(
        "the model is overloaded", provider="demo", type="overloaded_error", code="overloaded"
    )
    chunks: list[Chunk] = [ResponseStart(id="r", model="m"), TextDelta("partial "), StreamError(err)]
    body = body_for(fmt, chunks)
    seen: list[Chunk] = []
    with pytest.raises(ProviderError) as info:  # noqa: PT012 - the loop is the point
        for chunk in decode(fmt, rechunk(body, "bytewise")):
            seen.append(chunk)
    assert "overloaded" in info.value.message
    assert "".join(c.text for c in seen if isinstance(c, TextDelta)) == "partial "
    # The error ends the stream: no terminal marker is appended after it.
    assert b"[DONE]" not in body
    assert b"message_stop" not in body
    assert b'"done":true' not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_done_false_leaves_the_stream_unterminated(fmt: str) -> None:
    chunks = list(stream_response("cut short", done=False))
    with pytest.raises(IncompleteStreamError):
        list(decode(fmt, [body_for(fmt, chunks, done=False)]))
    # ...and done=True (the default) adds the terminal marker the items lacked.
    assert fold(decode(fmt, [body_for(fmt, chunks)])).text == "cut short"


def test_chunks_after_the_end_are_refused() -> None:
    encoder = chunk_encoder("openai")
    encoder.encode(Done())
    with pytest.raises(LocalProtocolError, match="after the end"):
        encoder.encode(TextDelta("late"))


def test_unknown_format_and_wrong_framing_are_refused() -> None:
    with pytest.raises(LocalProtocolError, match="unknown wire format"):
        chunk_encoder("nope")
    with pytest.raises(LocalProtocolError, match="ndjson_stream"):
        list(sse_stream([TextDelta("x")], format="ollama"))


def test_passthrough_events_keep_ids_and_comments() -> None:
    items: list[Any] = [
        ServerSentEvent("a", id="1"),
        Comment("hello"),
        ServerSentEvent("b\nc", event="custom", id="1"),
        ServerSentEvent("d", id=""),
    ]
    body = b"".join(sse_stream(items, done=False))
    parser: SSEParser[Any] = SSEParser(comments=True)
    got = [e for piece in rechunk(body, "bytewise") for e in parser.feed(piece)]
    assert got == items


def test_slop_sse_and_ndjson_framings_carry_the_same_objects() -> None:
    chunks = list(stream_response("one two", reasoning="hm"))
    sse_objs = [e.json() for e in SSEParser().feed(b"".join(sse_stream(chunks)))]
    ndjson_objs = list(iter_ndjson(ndjson_stream(chunks)))
    assert sse_objs == ndjson_objs
    types = [o["type"] for o in sse_objs]
    assert types == ["start", "thinking", "content", "content", "finish", "usage", "done"]
    assert "".join(o["content"] for o in sse_objs if o["type"] == "content") == "one two"


def test_stream_response_splits_text_exactly() -> None:
    text = "  a bb\tccc\n\nd  "
    for n in (1, 2, 5):
        deltas = [c.text for c in stream_response(text, words_per_chunk=n) if isinstance(c, TextDelta)]
        assert "".join(deltas) == text
    assert len([c for c in stream_response("a b c d", words_per_chunk=2) if isinstance(c, TextDelta)]) == 2
    with pytest.raises(LocalProtocolError):
        list(stream_response("x", words_per_chunk=0))


# -- keepalives ---------------------------------------------------------------------------------


class ScriptedClock:
    """Returns the given readings in turn, then the last one forever."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)

    def __call__(self) -> float:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_keepalive_follows_the_injected_clock() -> None:
    chunks = [TextDelta("a"), TextDelta("b")]
    # Start at 0; the next reading says 10 s passed (> 5 s interval): one keepalive goes out
    # before anything else; after that the clock stands still, so no other one does.
    body = b"".join(sse_stream(chunks, format="slop", keepalive=5, clock=ScriptedClock(0, 10, 10)))
    assert body.startswith(b": keepalive\n\n")
    assert body.count(b"keepalive") == 1
    quiet = b"".join(sse_stream(chunks, format="slop", keepalive=5, clock=ScriptedClock(0)))
    assert b"keepalive" not in quiet
    assert [e.json()["type"] for e in SSEParser().feed(body)] == ["content", "content", "done"]
    assert fold(decode_stream("slop", [body])).text == "ab"


def slow(items: list[Chunk], pause: float) -> Iterator[Chunk]:
    for item in items:
        time.sleep(pause)
        yield item


def test_keepalive_fires_while_the_producer_is_blocked() -> None:
    # Real clock: the producer sleeps 0.3 s per item; with a 0.05 s interval several keepalives
    # must go out during each pause (the count scales with the pause, not with the items).
    out = list(sse_stream(slow([TextDelta("a"), TextDelta("b")], 0.3), keepalive=0.05))
    first = out.index(next(b for b in out if b.startswith(b"data:")))
    assert first >= 3
    assert sum(1 for b in out if b.startswith(b": keepalive")) >= 6


def test_anthropic_keepalive_is_a_ping_event_and_ndjson_uses_blank_lines() -> None:
    body = b"".join(sse_stream([KEEPALIVE, TextDelta("x")], format="anthropic"))
    assert b"event: ping\n" in body
    assert fold(decode_stream("anthropic", [body])).text == "x"
    lines = b"".join(ndjson_stream([KEEPALIVE, TextDelta("x")], format="ollama"))
    assert lines.startswith(b"\n")
    assert fold(decode_stream("ollama", [lines])).text == "x"


def test_producer_errors_propagate_through_the_keepalive_thread() -> None:
    def broken() -> Iterator[Chunk]:
        yield TextDelta("a")
        raise RuntimeError("upstream broke")

    with pytest.raises(RuntimeError, match="upstream broke"):
        list(sse_stream(broken(), keepalive=1.0))


def test_closing_the_stream_stops_the_producer() -> None:
    produced: list[int] = []

    closed = threading.Event()

    def endless() -> Iterator[Chunk]:
        try:
            for i in itertools.count():
                produced.append(i)
                time.sleep(0.01)
                yield TextDelta(str(i))
        finally:
            closed.set()

    stream = sse_stream(endless(), keepalive=1.0)
    next(stream)
    stream.close()  # what a WSGI server does when the client goes away
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) <= count + 1
    assert closed.wait(2)  # the source generator was closed, so its cleanup ran
    assert not any(t.name == "sansstream-keepalive" and t.is_alive() for t in threading.enumerate())


# -- real clients read our server output --------------------------------------------------------


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_wsgi(app: Any) -> tuple[wsgiref.simple_server.WSGIServer, threading.Thread]:
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def test_official_openai_and_anthropic_clients_read_our_streams() -> None:
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    text = "Served by sansstream, read by the SDK."

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        fmt: WireFormat = "anthropic" if environ["PATH_INFO"].endswith("/messages") else "openai"
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return sse_stream(stream_response(text, model="m", input_tokens=4), format=fmt)

    server, thread = serve_wsgi(app)
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        oa = openai.OpenAI(api_key="dummy", base_url=base + "/v1", max_retries=0)
        pieces: list[str] = []
        usage = None
        for chunk in oa.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
        assert "".join(pieces) == text
        assert usage is not None
        assert usage.prompt_tokens == 4

        an = anthropic.Anthropic(api_key="dummy", base_url=base, max_retries=0)
        with an.messages.stream(
            model="m", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            assert "".join(stream.text_stream) == text
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- relaying recorded provider streams in another wire format -----------------------------------

FOLDER_PROVIDER = {
    "openai-chat": "openai",
    "openai-compatible": "openai",
    "openai-responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
    "bedrock": "bedrock",
    "mistral": "mistral",
    "cohere": "cohere",
}


def provider_fixtures() -> list[Path]:
    return sorted(
        p
        for p in provider_fixtures_dir().glob("*/*")
        if p.parent.name in FOLDER_PROVIDER and not p.name.endswith(".expected.json")
    )


@pytest.mark.parametrize("path", provider_fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_recorded_stream_relays_in_every_wire_format(path: Path) -> None:
    """A relay reads a provider's stream and re-serves it in another format: what a client of
    the new format assembles is what the original stream said."""
    framing: Framing | None = "json-array" if path.suffix == ".json" else None
    source = list(
        decode_stream(
            FOLDER_PROVIDER[path.parent.name], [path.read_bytes()], raise_errors=False, framing=framing
        )
    )
    want = fold(source)
    for fmt in FORMATS:
        got = fold(decode(fmt, [body_for(fmt, source)], raise_errors=False))
        if fmt == "openai":
            assert (got.text, got.refusal) == (want.text, want.refusal), fmt
        else:  # no refusal channel: a refusal is the answer text
            assert got.text == want.text + want.refusal, fmt
        assert got.reasoning == want.reasoning, fmt
        assert [(t.name, t.input) for t in got.tool_calls] == [(t.name, t.input) for t in want.tool_calls], (
            fmt
        )
        assert [e.message for e in got.errors] == [e.message for e in want.errors], fmt
        if want.usage is not None and not want.errors:
            assert got.usage is not None, fmt
            assert got.usage.output_tokens == want.usage.output_tokens, fmt


# -- asyncio (ASGI) variants ----------------------------------------------------------------------


async def slow_async(items: list[Chunk], pause: float) -> AsyncIterator[Chunk]:
    for item in items:
        await asyncio.sleep(pause)
        yield item


def test_async_stream_round_trips_and_keeps_alive() -> None:
    chunks = list(stream_response("async words here", model="m"))

    async def collect() -> list[bytes]:
        return [b async for b in sse_stream_async(slow_async(chunks, 0.0), format="openai")]

    body = asyncio.run(collect())
    assert fold(decode_stream("openai", body)).text == "async words here"

    async def collect_slow() -> list[bytes]:
        source = slow_async([TextDelta("a"), TextDelta("b")], 0.25)
        return [b async for b in sse_stream_async(source, keepalive=0.05)]

    out = asyncio.run(collect_slow())
    data = [i for i, b in enumerate(out) if b.startswith(b"data:")]
    assert data[0] >= 3  # several keepalives during the first pause
    assert sum(1 for b in out[data[0] : data[1]] if b.startswith(b": keepalive")) >= 3
    assert fold(decode_stream("slop", out)).text == "ab"

    async def ndjson() -> list[bytes]:
        return [b async for b in ndjson_stream_async([TextDelta("x")], format="ollama")]

    assert fold(decode_stream("ollama", asyncio.run(ndjson()))).text == "x"


def test_async_stream_closes_its_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[Chunk]:
        try:
            while True:
                await asyncio.sleep(0.01)
                yield TextDelta("x")
        finally:
            closed.set()

    async def run() -> bool:
        stream = sse_stream_async(endless(), keepalive=1.0)
        await stream.__anext__()
        await stream.aclose()  # what an ASGI server does when the client disconnects
        return closed.is_set()

    assert asyncio.run(run())


def test_raw_asgi_app_streams_chunks() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for data in sse_stream_async(stream_response("from ASGI"), format="anthropic"):
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(app({"type": "http", "method": "POST", "path": "/v1/messages"}, receive, send))
    assert sent[0]["status"] == 200
    body = [m["body"] for m in sent[1:]]
    assert len(body) > 5  # one message per event: the client sees a stream
    assert fold(decode_stream("anthropic", body)).text == "from ASGI"
