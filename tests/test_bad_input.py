"""The bad-input catalogue (docs/bad-input.md): every hostile or broken input tried, and what
sansstream does with it. Each row of the table names the test here that proves it.

Parser rows feed bytes directly; rows about the network use a real loopback ``FixtureServer``
and both transports (``requests`` and ``h11``) through ``stream_chat``.
"""

from __future__ import annotations

import gc
import json
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reference_sse import reference_parse

from sansstream import stream_chat
from sansstream.core import EventStreamParser, JSONArrayParser, NDJSONParser, SSEParser
from sansstream.model import (
    EventTooLargeError,
    FirstByteTimeout,
    IdleTimeout,
    IncompleteStreamError,
    LocalProtocolError,
    RemoteProtocolError,
    SansStreamError,
    ServerSentEvent,
    UnexpectedContentTypeError,
)
from sansstream.providers import decode_stream, names
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import Timeouts

TRANSPORTS = ["requests", "h11"]
MESSAGES = [{"role": "user", "content": "hi"}]
SMALL_LIMIT = 64 * 1024


def _garbage(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


def _drain(parser: Any, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in [*chunks, b""]:
        out += parser.feed(chunk)
    return out


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- binary garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_binary_garbage_sse(seed: int) -> None:
    # Every byte string is a valid event stream: garbage lines are unknown fields, invalid
    # UTF-8 becomes U+FFFD. The result is exactly the spec's, for any split.
    body = _garbage(64 * 1024, seed) + b"\ndata: after\n\n"
    want = [(e.type, e.data, e.last_event_id) for e in reference_parse(body).events]
    for size in (1, 7, 4096, len(body)):
        got = _drain(SSEParser(max_event_size=None), _cut(body, size))
        assert [(e.event, e.data, e.id) for e in got] == want
    assert want[-1][1] == "after"


@pytest.mark.parametrize(
    "make",
    [NDJSONParser, JSONArrayParser, EventStreamParser],
    ids=["ndjson", "jsonarray", "eventstream"],
)
@pytest.mark.parametrize("seed", range(3))
def test_binary_garbage_other_framings(make: Callable[[], Any], seed: int) -> None:
    body = _garbage(16 * 1024, seed)
    with pytest.raises(RemoteProtocolError):
        _drain(make(), _cut(body, 512))


@pytest.mark.parametrize("provider", sorted(names()))
def test_binary_garbage_providers(provider: str) -> None:
    body = _garbage(8 * 1024, 7) + b"\n\n"
    with pytest.raises(SansStreamError):
        list(decode_stream(provider, _cut(body, 100)))


# -- truncated UTF-8 --------------------------------------------------------------------------


def test_truncated_utf8_inside_an_event_becomes_replacement_char() -> None:
    # "€" is E2 82 AC; the event's line ends after two of its three bytes.
    body = b"data: price \xe2\x82\n\n"
    for size in (1, 2, len(body)):
        (event,) = _drain(SSEParser(), _cut(body, size))
        assert event.data == "price \ufffd"


def test_multibyte_char_split_across_slices_is_reassembled() -> None:
    body = "data: 流式 🙂\n\n".encode()
    for size in (1, 2, 3):
        (event,) = _drain(SSEParser(), _cut(body, size))
        assert event.data == "流式 🙂"


def test_truncated_utf8_at_end_of_stream_is_dropped_with_its_block() -> None:
    body = b"data: ok\n\ndata: cut \xf0\x9f"
    events = _drain(SSEParser(), _cut(body, 3))
    assert [e.data for e in events] == ["ok"]


def test_truncated_provider_stream_is_an_error_with_the_partial_result() -> None:
    body = (
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"lo \xe2\x82'
    )
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream("openai", [body]))
    assert info.value.partial is not None
    assert info.value.partial.text == "Hel"


# -- endless line, endless event ---------------------------------------------------------------


def _peak_while(run: Callable[[], None]) -> int:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    try:
        run()
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return peak


def _endless(piece: bytes, total: int) -> Iterator[bytes]:
    for _ in range(total // len(piece)):
        yield piece


def _feed_counting(parser: Any, pieces: Iterator[bytes], fed: list[int]) -> None:
    """Feed until something raises; ``fed[0]`` counts the bytes handed over."""
    for piece in pieces:
        fed[0] += len(piece)
        parser.feed(piece)


def test_endless_line_sse_hits_the_limit_with_bounded_memory() -> None:
    parser = SSEParser(max_event_size=SMALL_LIMIT)
    fed = [0]

    def run() -> None:
        parser.feed(b"data: ")
        with pytest.raises(EventTooLargeError) as info:
            _feed_counting(parser, _endless(b"x" * 1000, 50 * SMALL_LIMIT), fed)
        assert info.value.limit == SMALL_LIMIT

    peak = _peak_while(run)
    assert fed[0] < 2 * SMALL_LIMIT  # it stopped soon after the limit, not at the end of input
    assert peak < 4 * SMALL_LIMIT
    with pytest.raises(SansStreamError):  # and refuses further work
        parser.feed(b"\n\n")


def test_endless_event_without_blank_line_hits_the_limit() -> None:
    parser = SSEParser(max_event_size=SMALL_LIMIT)
    fed = [0]

    def run() -> None:
        with pytest.raises(EventTooLargeError):
            _feed_counting(parser, _endless(b"data: " + b"y" * 94 + b"\n", 50 * SMALL_LIMIT), fed)

    peak = _peak_while(run)
    assert fed[0] < 2 * SMALL_LIMIT
    assert peak < 4 * SMALL_LIMIT


def test_endless_ndjson_line_hits_the_limit() -> None:
    parser = NDJSONParser(max_line_size=SMALL_LIMIT)
    fed = [0]
    with pytest.raises(EventTooLargeError):
        _feed_counting(parser, _endless(b"1" * 1000, 50 * SMALL_LIMIT), fed)
    assert fed[0] < 2 * SMALL_LIMIT


def test_keepalive_comments_do_not_accumulate() -> None:
    # Comments between events belong to no event: a long run of them must not grow memory
    # (they are part of the block's size, so a block of only comments is bounded too).
    parser = SSEParser(max_event_size=SMALL_LIMIT)
    for _ in range(10_000):
        assert parser.feed(b": keepalive\n\n") == []
    assert parser.feed(b"data: x\n\n")[0].data == "x"


# -- billions-long retry ------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [20, 5000, 1_000_000])
def test_sse_billion_digit_retry(digits: int) -> None:
    # A retry value longer than int()'s 4300-digit guard must not leak ValueError; the event
    # after it still arrives. (A reconnection delay this large is meaningless either way.)
    body = b"retry: " + b"9" * digits + b"\ndata: x\n\n"
    parser = SSEParser(max_event_size=None)
    events = _drain(parser, _cut(body, 65536))
    assert [e.data for e in events] == ["x"]
    assert parser.retry is None or parser.retry > 10**18


def test_sse_retry_with_non_ascii_digits_is_ignored() -> None:
    parser = SSEParser()
    events = _drain(parser, ["retry: \u0661\u0662\ndata: x\n\nretry: 1_0\n\nretry:  5\n\n".encode()])
    assert [e.retry for e in events] == [None]
    assert parser.retry is None


# -- NUL bytes ----------------------------------------------------------------------------------


def test_nul_bytes() -> None:
    body = b"id: 7\n\nevent: a\x00b\nid: x\x00y\ndata: 1\x002\n\n"
    parser = SSEParser()
    (event,) = _drain(parser, [body])
    assert event == ServerSentEvent("1\x002", "a\x00b", "7")  # NUL in id: the id line is ignored
    with pytest.raises(RemoteProtocolError):
        _drain(NDJSONParser(), [b'{"a": 1}\x00\n'])


# -- invalid JSON and JSON bombs ------------------------------------------------------------------


def test_invalid_json_in_data() -> None:
    (event,) = _drain(SSEParser(), [b"data: {not json\n\n"])
    with pytest.raises(RemoteProtocolError, match="not valid JSON"):
        event.json()
    with pytest.raises(RemoteProtocolError):
        list(decode_stream("openai", [b"data: {not json\n\n"]))
    with pytest.raises(RemoteProtocolError, match="line 2"):
        _drain(NDJSONParser(), [b'{"ok": 1}\n{nope}\n'])


BOMB = "[" * 200_000 + "]" * 200_000


@pytest.mark.parametrize("provider", sorted(names()))
def test_json_bomb_in_provider_stream(provider: str) -> None:
    # json raises RecursionError on deep nesting; it must surface as our error, never escape.
    if provider == "ollama":
        body = BOMB.encode() + b"\n"
    elif provider == "bedrock":
        from sansstream.core import encode_event_stream_message

        body = encode_event_stream_message(
            {
                ":message-type": "event",
                ":event-type": "contentBlockDelta",
                ":content-type": "application/json",
            },
            BOMB.encode(),
        )
    else:
        body = b"event: content_block_delta\ndata: " + BOMB.encode() + b"\n\n"
    with pytest.raises(SansStreamError):
        list(decode_stream(provider, [body]))


def test_json_bomb_in_framings() -> None:
    with pytest.raises(RemoteProtocolError):
        ServerSentEvent(BOMB).json()
    with pytest.raises(RemoteProtocolError):
        _drain(NDJSONParser(), [BOMB.encode() + b"\n"])
    with pytest.raises(RemoteProtocolError):
        _drain(JSONArrayParser(), [b"[" + BOMB.encode() + b"]"])


def test_huge_json_number_is_our_error() -> None:
    # Python refuses int() of more than 4300 digits; json.loads raises ValueError for it.
    with pytest.raises(RemoteProtocolError):
        _drain(NDJSONParser(), [b"1" * 5000 + b"\n"])
    (event,) = _drain(SSEParser(), [b"data: " + b"1" * 5000 + b"\n\n"])
    with pytest.raises(RemoteProtocolError):
        event.json()


# -- network rows (loopback FixtureServer, both transports) --------------------------------------


def _openai_body(words: list[str]) -> bytes:
    parts = [
        b"data: "
        + json.dumps({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": w}}]}).encode()
        + b"\n\n"
        for w in words
    ]
    finish = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    parts.append(b"data: " + json.dumps(finish).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _chat(server: FixtureServer, transport: str, **kw: Any) -> Any:
    return stream_chat(
        "openai",
        model="m",
        messages=MESSAGES,
        base_url=server.url + "/v1",
        api_key="sk-test",
        transport=transport,
        retry=None,
        **kw,
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_content_type_lie(transport: str) -> None:
    page = "<html><body><h1>Welcome to the hotel wifi</h1></body></html>"
    response = FixtureResponse(body=page, content_type="text/html")
    with FixtureServer(response) as server, pytest.raises(UnexpectedContentTypeError) as info:
        _chat(server, transport).result()
    assert "hotel wifi" in info.value.body
    assert info.value.content_type.startswith("text/html")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_json_error_body_labelled_as_event_stream(transport: str) -> None:
    # A server that says text/event-stream but sends a plain JSON error document: no SSE
    # event ever completes, so the stream is incomplete (never a silent empty success).
    body = b'{"error": {"message": "overloaded", "type": "server_error"}}'
    with FixtureServer(FixtureResponse(body=body)) as server, pytest.raises(SansStreamError):
        _chat(server, transport).result()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gzip_bomb(transport: str) -> None:
    # 64 MiB of one repeated byte, gzip-compressed to a few KB on the wire. The transports
    # refuse a body that inflates more than 200x before expanding it (RemoteProtocolError
    # naming a decompression bomb), so memory stays small.
    def bomb() -> Iterator[bytes]:
        yield b"data: "
        for _ in range(1024):
            yield b"x" * 65536

    with FixtureServer(FixtureResponse(body=bomb(), gzip=True)) as server:

        def run() -> None:
            with pytest.raises(RemoteProtocolError, match="bomb"):
                _chat(server, transport).result()

        peak = _peak_while(run)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gzip_endless_line_below_the_bomb_ratio(transport: str) -> None:
    # A compressed endless line that inflates only ~1.3x (random base64 text) slips under the
    # bomb guard; the parser's max_event_size (16 MiB by default) stops it instead.
    import base64

    rng = random.Random(5)
    text = base64.b64encode(rng.randbytes(13 * 1024 * 1024))  # ~17.3 MiB, no line end

    def body() -> Iterator[bytes]:
        yield b"data: "
        for i in range(0, len(text), 256 * 1024):
            yield text[i : i + 256 * 1024]

    with FixtureServer(FixtureResponse(body=body(), gzip=True)) as server:

        def run() -> None:
            with pytest.raises(EventTooLargeError):
                _chat(server, transport).result()

        peak = _peak_while(run)
    # the limit is 16 MiB: one copy of it plus transport buffers, not the whole body twice
    assert peak < 48 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_never_sends_headers(transport: str) -> None:
    response = FixtureResponse(body=_openai_body(["a"]), stall=30.0, stall_at="before-headers")
    with FixtureServer(response) as server:
        started = time.monotonic()
        with pytest.raises(FirstByteTimeout):
            _chat(server, transport, timeout=Timeouts(connect=5.0, first_byte=0.5, idle=5.0)).result()
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 5.0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_trickles_one_byte_at_a_time(transport: str) -> None:
    # Bytes keep arriving (so a read timeout never fires), but no content event completes:
    # the idle timeout, which counts content events, fires. (The catalogue's "one byte per
    # second" runs here at five bytes per second to keep the suite fast; same code path.)
    body = b": " + b"." * 200 + b"\n\n" + _openai_body(["late"])
    response = FixtureResponse(body=body, drip=1, delay=0.2)
    with FixtureServer(response) as server:
        started = time.monotonic()
        with pytest.raises(IdleTimeout):
            _chat(server, transport, timeout=Timeouts(connect=5.0, first_byte=5.0, idle=1.0)).result()
        elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 5.0


def test_feeding_after_end_is_caller_misuse() -> None:
    parser = SSEParser()
    parser.feed(b"data: x\n\n")
    parser.feed(b"")
    with pytest.raises(LocalProtocolError):
        parser.feed(b"data: y\n\n")
