"""JSON that every client parses, and SSE resume, on the server side (sansstream.server).

One rule for every writer (``dumps_wire``): a lone surrogate (half of a pair an upstream split
across two deltas) is written as a ``\\uXXXX`` escape, so relaying it never fails and a
JavaScript client joins the halves back; NaN and Infinity are refused, and mid-stream that
refusal is an in-band error followed by a clean end. Checked through every wire format with our
decoders, and over HTTP with the official SDKs and the Python SSE clients (httpx-sse,
sseclient-py). Resume: ``last_event_id=`` / ``reset_id=`` and ``read_last_event_id``, with
``connect_sse`` reconnecting to a real ``wsgiref`` server.
"""

from __future__ import annotations

import asyncio
import email.message
import json
import math
import shutil
import subprocess
import threading
import warnings
import wsgiref.simple_server
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sansstream.api import connect_sse
from sansstream.core import NDJSONParser, SSEParser, encode_ndjson
from sansstream.core._wirejson import dumps_wire
from sansstream.model import (
    Chunk,
    Done,
    Finish,
    LocalProtocolError,
    ProviderError,
    ReasoningDelta,
    ResponseStart,
    ServerSentEvent,
    TextDelta,
    ToolCallEnd,
    ToolResult,
    Usage,
)
from sansstream.providers import decode_stream
from sansstream.server import (
    UnresumableIDWarning,
    ndjson_stream,
    ndjson_stream_async,
    read_last_event_id,
    sse_stream,
    sse_stream_async,
    stream_response,
)
from sansstream.testing import rechunk

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


def strict_json(text: str) -> Any:
    """``JSON.parse``'s rules: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def payloads(fmt: str, body: bytes) -> list[Any]:
    """Every JSON payload of a body, parsed as a browser would (strict UTF-8, strict JSON)."""
    text = body.decode("utf-8")  # strict: a lone surrogate written raw would fail here
    if fmt in ("slop-ndjson", "ollama"):
        return [strict_json(line) for line in text.splitlines() if line]
    events = SSEParser().feed(body)
    return [strict_json(e.data) for e in events if e.data != "[DONE]"]


def as_js_string(text: str) -> str:
    """What a JavaScript string holding these UTF-16 code units reads as."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16")


SPLIT_PAIRS: list[Chunk] = [
    ResponseStart(id="r1", model="m"),
    ReasoningDelta(text="hmm \ud83e"),  # 🤔 split in two deltas
    ReasoningDelta(text="\udd14"),
    TextDelta("smile \ud83d"),  # 😀 split in two deltas
    TextDelta("\ude00 and \U0001f389 whole"),
    ToolCallEnd(index=0, id="c1", name="f", arguments='{"e": "\\ud83d\\ude00"}', input={"e": "😀"}),
    Finish(reason="tool_calls", raw_reason="tool_calls"),
    Usage(input_tokens=3, output_tokens=4),
    Done(),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_split_surrogate_pairs_relay_through_every_format(fmt: str) -> None:
    body = body_for(fmt, SPLIT_PAIRS)
    assert len(payloads(fmt, body)) >= 3  # valid UTF-8, every payload strict JSON
    assert b"\\ud83d" in body  # the halves travel as escapes
    for mode in ("whole", "bytewise"):
        chunks = list(decode(fmt, rechunk(body, mode)))
        text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
        assert text == "smile \ud83d\ude00 and \U0001f389 whole"
        assert as_js_string(text) == "smile 😀 and 🎉 whole"
        reasoning = "".join(c.text for c in chunks if isinstance(c, ReasoningDelta))
        assert as_js_string(reasoning) == "hmm 🤔"
        (call,) = [c for c in chunks if isinstance(c, ToolCallEnd)]
        assert call.input == {"e": "😀"}
        assert chunks[-1].type == "done"


def test_dumps_wire_is_the_rule() -> None:
    assert dumps_wire({"a": "\ud83d", "b": "é\u2028"}) == '{"a":"\\ud83d","b":"é\u2028"}'
    assert json.loads(dumps_wire(["\ud83d", "\ude00"])) == ["\ud83d", "\ude00"]
    assert json.loads(dumps_wire("\ud83d\ude00")) == "😀"  # a pair written as two escapes joins
    for value in (math.nan, math.inf, -math.inf, {"x": [1.0, math.nan]}):
        with pytest.raises(LocalProtocolError, match="NaN or Infinity"):
            dumps_wire(value)
    loop: list[Any] = []
    loop.append(loop)
    for bad in ({1, 2}, b"bytes", object(), loop):
        with pytest.raises(LocalProtocolError, match="cannot encode"):
            dumps_wire(bad)
    # The core NDJSON encoder follows the same rule.
    assert encode_ndjson({"t": "\ude00"}) == b'{"t":"\\ude00"}\n'
    with pytest.raises(LocalProtocolError, match="NaN or Infinity"):
        encode_ndjson([math.inf])


# Where each format writes a number the caller provided: a NaN there must be refused.
NAN_CHUNKS: dict[str, Chunk] = {
    "slop": ToolResult(tool_call_id="c1", kind="tool_result", content={"score": math.nan}),
    "slop-ndjson": ToolResult(tool_call_id="c1", kind="tool_result", content={"score": math.inf}),
    "openai": Usage(input_tokens=math.nan, output_tokens=2),  # type: ignore[arg-type]
    "anthropic": Usage(input_tokens=1, output_tokens=math.inf),  # type: ignore[arg-type]  # held to the end
    "ollama": ToolCallEnd(index=0, id="c", name="f", arguments="{}", input={"x": -math.inf}),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_nan_mid_stream_is_an_in_band_error_then_a_clean_end(fmt: str) -> None:
    source_closed = threading.Event()
    refused: list[Exception] = []

    def source() -> Iterator[Chunk]:
        try:
            yield ResponseStart(id="r", model="m")
            yield TextDelta("partial")
            yield NAN_CHUNKS[fmt]
            yield TextDelta(" more")  # written only where the refused value waits for the end
            yield Finish(reason="stop")
            yield Done()
        finally:
            source_closed.set()

    body = body_for(fmt, source(), on_error=refused.append)
    objects = payloads(fmt, body)  # nothing a browser's JSON.parse would throw on
    assert b"[DONE]" not in body
    assert b"message_stop" not in body
    assert b'"done":true' not in body
    seen: list[Chunk] = []
    with pytest.raises(ProviderError) as info:  # noqa: PT012 - the loop is the point
        for chunk in decode(fmt, rechunk(body, "bytewise")):
            seen.append(chunk)
    assert "NaN or Infinity" in info.value.message
    held = fmt == "anthropic"  # Anthropic's usage goes out with message_delta, at the end
    text = "".join(c.text for c in seen if isinstance(c, TextDelta))
    assert text == ("partial more" if held else "partial")
    assert source_closed.is_set()
    assert len(refused) == 1
    assert isinstance(refused[0], LocalProtocolError)
    assert objects  # the in-band error is the last payload
    last = json.dumps(objects[-1])
    assert "error" in last


def test_refusal_without_on_error_warns() -> None:
    nan = ToolResult(tool_call_id="c", kind="tool_result", content=[math.nan])
    items: list[Chunk] = [TextDelta("a"), nan]
    with pytest.warns(RuntimeWarning, match="NaN or Infinity"):
        body = b"".join(sse_stream(items))
    assert [e.json()["type"] for e in SSEParser().feed(body)] == ["content", "error"]


def test_async_writers_follow_the_same_rule() -> None:
    closed = asyncio.Event()

    async def source() -> AsyncIterator[Chunk]:
        try:
            yield TextDelta("half \ud83d")
            yield ToolResult(tool_call_id="c", kind="tool_result", content={"v": math.inf})
            yield TextDelta("never")
        finally:
            closed.set()

    async def collect(writer: Any, **kw: Any) -> bytes:
        return b"".join([piece async for piece in writer(source(), on_error=lambda exc: None, **kw)])

    for fmt, writer in (("slop", sse_stream_async), ("slop-ndjson", ndjson_stream_async)):
        closed.clear()
        body = asyncio.run(collect(writer))
        assert b"never" not in body
        assert closed.is_set()
        with pytest.raises(ProviderError, match="NaN or Infinity") as info:
            list(decode(fmt, [body]))
        assert info.value.partial is not None
        assert info.value.partial.text == "half \ud83d"


def test_ndjson_values_follow_the_same_rule() -> None:
    refused: list[Exception] = []
    items = [{"ok": "\ud83d"}, {"bad": math.nan}, {"after": 1}]
    body = b"".join(ndjson_stream(items, on_error=refused.append))
    values = [v.value for v in NDJSONParser().feed(body)]
    assert values[0] == {"ok": "\ud83d"}
    assert values[1]["type"] == "error"
    assert len(values) == 2
    assert len(refused) == 1


def test_a_chunk_after_done_is_still_the_callers_mistake() -> None:
    with pytest.raises(LocalProtocolError, match="after the end"):
        list(sse_stream([Done(), TextDelta("late")], format="openai"))


# -- real HTTP clients ---------------------------------------------------------------------------


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Served:
    """A ``wsgiref`` server on loopback for the duration of a ``with`` block."""

    def __init__(self, app: Any) -> None:
        self.server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def chunks_app(chunks: list[Any]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        fmt = "anthropic" if path.endswith("/messages") else "openai" if "chat" in path else "slop"
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return sse_stream(chunks, format=fmt)

    return app


def test_official_sdks_read_split_pairs() -> None:
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    chunks = [c for c in SPLIT_PAIRS if not isinstance(c, (ToolCallEnd, ReasoningDelta))]
    with Served(chunks_app(chunks)) as served:
        client = openai.OpenAI(api_key="dummy", base_url=served.url + "/v1", max_retries=0)
        pieces = []
        for chunk in client.chat.completions.create(model="m", messages=[], stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
        assert as_js_string("".join(pieces)) == "smile 😀 and 🎉 whole"
        an = anthropic.Anthropic(api_key="dummy", base_url=served.url, max_retries=0)
        with an.messages.stream(model="m", max_tokens=5, messages=[]) as stream:
            assert as_js_string("".join(stream.text_stream)) == "smile 😀 and 🎉 whole"


def test_python_sse_clients_read_split_pairs_and_the_in_band_error() -> None:
    httpx = pytest.importorskip("httpx")
    httpx_sse = pytest.importorskip("httpx_sse")
    sseclient = pytest.importorskip("sseclient")
    nan = ToolResult(tool_call_id="c", kind="tool_result", content={"v": math.nan})
    chunks: list[Chunk] = [TextDelta("smile \ud83d"), TextDelta("\ude00"), nan, TextDelta("lost")]

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return sse_stream(chunks, on_error=lambda exc: None)

    with Served(app) as served:
        with httpx.Client() as client, httpx_sse.connect_sse(client, "GET", served.url) as source:
            a = [strict_json(e.data) for e in source.iter_sse()]
        with httpx.Client() as client, client.stream("GET", served.url) as response:
            b = [strict_json(e.data) for e in sseclient.SSEClient(response.iter_bytes()).events()]
    for objects in (a, b):
        assert [o["type"] for o in objects] == ["content", "content", "error"]
        assert as_js_string("".join(o["content"] for o in objects[:2])) == "smile 😀"
        assert objects[2]["code"] == "unencodable_value"


# -- resume ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pass_id", [True, False])
def test_resumed_stream_without_ids_resets_the_clients_stale_id(pass_id: bool) -> None:
    """First connection: events with ids 1 and 2, then the server drops it. Second connection
    (Last-Event-ID: 2): a chunk reply, whose events carry no id. With last_event_id= the client
    reports them with id "" (as a fresh stream); without it they would inherit "2" and a later
    reconnect would resume from a stale place."""
    connections: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        last = read_last_event_id(environ)
        connections.append(last)
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        if last is None:
            first = [ServerSentEvent("one", id="1", retry=10), ServerSentEvent("two", id="2")]
            return sse_stream(first, done=False)
        reply = stream_response("after resume", words_per_chunk=5)
        return sse_stream(reply, last_event_id=last if pass_id else None)

    with Served(app) as served, connect_sse(served.url, timeout=5) as source:
        events = []
        for event in source:
            events.append(event)
            if event.data.startswith("{") and event.json()["type"] == "done":
                break
    assert connections == [None, "2"]
    assert [e.id for e in events[:2]] == ["1", "2"]
    assert {e.id for e in events[2:]} == ({""} if pass_id else {"2"})


def test_reset_id_writes_an_empty_id_line_first() -> None:
    body = b"".join(sse_stream(stream_response("x"), reset_id=True))
    assert body.startswith(b"id:\n")
    events = SSEParser(last_event_id="stale").feed(body)
    assert {e.id for e in events} == {""}
    # Not asked: no id line at all (the default assumes the client holds no id).
    assert b"id:" not in b"".join(sse_stream(stream_response("x")))


def test_read_last_event_id_from_a_real_wsgi_server_and_connect_sse() -> None:
    got: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got.append(read_last_event_id(environ))
        got.append(str([w.category.__name__ for w in caught]))
        start_response("204 No Content", [])  # EventSource: stop, do not reconnect
        return []

    with Served(app) as served:
        for last in ("réponse-7", "日本-3", "voilà"):
            with connect_sse(served.url, last_event_id=last, timeout=5) as source:
                assert list(source) == []
    assert got[0:2] == ["réponse-7", "[]"]
    assert got[2:4] == ["日本-3", "[]"]
    # wsgiref's str.strip() cut 0xA0, the last byte of "à" read as Latin-1: unresumable, and said so.
    assert got[4] == "voil\ufffd"
    assert got[5] == "['UnresumableIDWarning']"


def test_read_last_event_id_from_every_request_shape() -> None:
    raw = "réponse-7".encode()
    latin = raw.decode("latin-1")
    assert read_last_event_id({"REQUEST_METHOD": "GET", "HTTP_LAST_EVENT_ID": latin}) == "réponse-7"
    assert read_last_event_id({"REQUEST_METHOD": "GET"}) is None
    assert read_last_event_id({"type": "http", "headers": [(b"last-event-id", raw)]}) == "réponse-7"
    assert read_last_event_id({"type": "http", "headers": [(b"accept", b"*/*")]}) is None
    message = email.message.Message()  # what http.server hands a handler as self.headers
    message["Last-Event-ID"] = latin
    assert read_last_event_id(message) == "réponse-7"
    assert read_last_event_id({"last-event-id": "réponse-7"}) == "réponse-7"  # already Unicode
    assert read_last_event_id([("Last-Event-Id", latin)]) == "réponse-7"
    assert read_last_event_id([(b"Last-Event-ID", b"")]) == ""
    with pytest.warns(UnresumableIDWarning, match="whitespace"):
        assert read_last_event_id({"type": "http", "headers": [(b"last-event-id", b" 5\t")]}) == "5"
    with pytest.warns(UnresumableIDWarning, match="not valid UTF-8"):
        assert read_last_event_id([(b"last-event-id", b"\xff")]) == "\ufffd"


def test_sse_stream_warns_about_ids_that_cannot_come_back() -> None:
    for event_id in (" 5", "5\t", "voilà", "x\u00a0"):
        with pytest.warns(UnresumableIDWarning, match="whitespace"):
            list(sse_stream([ServerSentEvent("d", id=event_id)], done=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(sse_stream([ServerSentEvent("d", id=i) for i in ("5", "é", "日本", "a b")], done=False))


@pytest.mark.parametrize("fmt", ["slop", "openai"])
def test_first_id_numbers_chunks_so_a_relay_can_resume_a_reply(fmt: str) -> None:
    """A relay keeps the chunks of a reply; the first connection drops after 4 chunks; the
    browser-like client reconnects with the id of the last chunk it got whole and the relay
    serves the rest. The reply assembles exactly once, whatever the drop."""
    chunks = list(stream_response("one two three four five six seven", model="m", id="r"))
    connections: list[str | None] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        last = read_last_event_id(environ)
        connections.append(last)
        start = 0 if last is None else int(last) + 1
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        if last is None:  # the drop: four chunks, then the connection ends
            retry = [ServerSentEvent("", event="retry-hint", retry=10)]
            return sse_stream([*retry, *chunks[:4]], format=fmt, first_id=0, done=False)
        return sse_stream(chunks[start:], format=fmt, first_id=start, last_event_id=last)

    with Served(app) as served, connect_sse(served.url, timeout=5) as source:
        events = []
        for event in source:
            if event.event == "retry-hint":
                continue
            events.append(event)
            if event.data in ("[DONE]", '{"type":"done"}'):
                break
    assert connections == [None, "3"]
    assert events[-1].id == str(len(chunks) - 1)  # the done chunk's number
    body = b"".join(b"data: " + e.data.encode() + b"\n\n" for e in events)
    result = list(decode_stream(fmt, [body]))
    assert "".join(c.text for c in result if isinstance(c, TextDelta)) == "one two three four five six seven"
    assert result[-1].type == "done"


def test_first_id_puts_the_id_on_a_chunks_last_event() -> None:
    body = b"".join(sse_stream([TextDelta("a"), Finish(reason="stop")], format="anthropic", first_id=7))
    events = SSEParser().feed(body)
    # message_start, block start and the delta all belong to chunk 7: only the delta carries 7.
    assert [(e.event, e.id) for e in events[:3]] == [
        ("message_start", ""),
        ("content_block_start", ""),
        ("content_block_delta", "7"),
    ]
    assert events[3].id == "8"  # the finish chunk closed the block
    with pytest.raises(LocalProtocolError, match="first_id"):
        list(sse_stream([TextDelta("a")], first_id="1"))  # type: ignore[arg-type]


# -- a real browser: JSON.parse on what the writers wrote ------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

JSON_PAGE = """<!doctype html><meta charset="utf-8"><body><script>
async function ndjson(path) {
  const response = await fetch(path);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "", out = [];
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line) out.push(JSON.parse(line));  // throws on NaN: it must never see one
    }
  }
  return out;
}
function sse(path) {
  return new Promise((resolve) => {
    const source = new EventSource(path), out = [];
    source.onmessage = (event) => {
      const chunk = JSON.parse(event.data);
      out.push(chunk);
      if (chunk.type === "done" || chunk.type === "error") { source.close(); resolve(out); }
    };
  });
}
(async () => {
  const results = {};
  for (const [name, read] of [["ndjson", ndjson], ["sse", sse]]) {
    try {
      const chunks = await read("/" + name);
      results[name] = {
        types: chunks.map((c) => c.type),
        text: chunks.filter((c) => c.type === "content").map((c) => c.content).join(""),
        error: (chunks.find((c) => c.type === "error") || {}).code || null,
      };
    } catch (error) {
      results[name] = {thrown: String(error)};
    }
  }
  await fetch("/result", {method: "POST", body: JSON.stringify(results)});
})();
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium)")
def test_chromium_parses_split_pairs_and_gets_the_nan_refusal_in_band(tmp_path: Path) -> None:
    """Chromium's fetch() stream (NDJSON) and EventSource (SSE) read a reply whose emoji an
    upstream split in two deltas, then a NaN: JSON.parse never throws, the halves join into 😀,
    and the refusal arrives as an error chunk."""
    nan = ToolResult(tool_call_id="c", kind="tool_result", content={"v": math.nan})
    chunks: list[Chunk] = [TextDelta("smile \ud83d"), TextDelta("\ude00!"), nan, TextDelta("lost")]
    posted: list[Any] = []
    got = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "POST":
            posted.append(json.loads(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))))
            got.set()
            start_response("204 No Content", [])
            return []
        if path == "/ndjson":
            start_response("200 OK", [("Content-Type", "application/x-ndjson")])
            return ndjson_stream(chunks, on_error=lambda exc: None)
        if path == "/sse":
            start_response("200 OK", [("Content-Type", "text/event-stream")])
            return sse_stream(chunks, on_error=lambda exc: None)
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [JSON_PAGE.encode("utf-8")]

    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path}",
    ]
    with ThreadedServed(app) as served:
        browser = subprocess.Popen(
            [str(CHROMIUM), *flags, served.url + "/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            assert got.wait(60), "the page never reported"
        finally:
            browser.terminate()
            browser.wait(20)
    for name in ("ndjson", "sse"):
        result = posted[0][name]
        assert result.get("thrown") is None, result
        assert result["types"] == ["content", "content", "error"]
        assert result["text"] == "smile 😀!"  # the escaped halves joined in JavaScript
        assert result["error"] == "unencodable_value"


class ThreadedServed(Served):
    """``Served`` with a thread per request (a page plus its streams)."""

    def __init__(self, app: Any) -> None:
        import socketserver

        class Server(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
            daemon_threads = True

        self.server = wsgiref.simple_server.make_server(
            "127.0.0.1", 0, app, server_class=Server, handler_class=_QuietHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.url = f"http://127.0.0.1:{self.server.server_port}"
