"""The WebSocket path: our client and our server exchange SLOP chunks over loopback."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sansstream.model import (
    Chunk,
    ConfigurationError,
    Done,
    Finish,
    IncompleteStreamError,
    ProviderError,
    ReasoningDelta,
    ResponseStart,
    StreamError,
    TextDelta,
    ToolCallEnd,
    ToolResult,
    TransportError,
    Usage,
)
from sansstream.websocket import WebSocketChunkServer, websocket_chat

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "What's the weather in Paris?"}]}


def full_chat(request: Any) -> Iterator[Chunk]:
    yield ResponseStart(id="r-1", model=request["model"])
    yield ReasoningDelta(text="The user wants weather; ")
    yield ReasoningDelta(text="call the tool.")
    yield ToolCallEnd(index=0, id="c1", name="weather", arguments='{"city":"Paris"}', input={"city": "Paris"})
    yield ToolResult(tool_call_id="c1", kind="tool_result", content={"temp_c": 21})
    for word in ["It ", "is ", "21 °C ", "in ", "Paris."]:
        yield TextDelta(word)
    yield Finish(reason="stop", raw_reason="stop")
    yield Usage(input_tokens=10, output_tokens=8, total_tokens=18)
    yield Done()


def test_full_chat_stream_over_loopback() -> None:
    received: list[Any] = []

    def handler(request: Any) -> Iterator[Chunk]:
        received.append(request)
        return full_chat(request)

    with WebSocketChunkServer(handler) as server, websocket_chat(server.url, REQUEST, timeout=5) as stream:
        chunks = list(stream)
        result = stream.result()
    assert received == [REQUEST]
    assert [c.type for c in chunks] == [
        "start",
        "thinking",
        "thinking",
        "tool_start",
        "tool_delta",
        "tool_end",
        "tool_result",
        "content",
        "content",
        "content",
        "content",
        "content",
        "finish",
        "usage",
        "done",
    ]
    assert result.text == "It is 21 °C in Paris."
    assert result.reasoning == "The user wants weather; call the tool."
    assert [(t.id, t.name, t.input) for t in result.tool_calls] == [("c1", "weather", {"city": "Paris"})]
    assert [r.content for r in result.tool_results] == [{"temp_c": 21}]
    assert result.usage is not None
    assert result.usage.total_tokens == 18
    assert result.model == "m"
    assert result.done
    assert server.errors == []


def error_chat(request: Any) -> Iterator[Chunk]:
    yield TextDelta("Partial answer")
    err = ProviderError(
        "rate limited, retry later", provider="ws", type="rate_limit", code=429, retryable=True
    )
    yield StreamError(err)
    yield TextDelta("never sent")


def test_error_chunk_raises_after_the_chunks_before_it() -> None:
    seen: list[Chunk] = []
    with WebSocketChunkServer(error_chat) as server:
        stream = websocket_chat(server.url, REQUEST, timeout=5)
        with pytest.raises(ProviderError) as info:  # noqa: PT012 - the loop is the point
            for chunk in stream:
                seen.append(chunk)
    assert [c.text for c in seen if isinstance(c, TextDelta)] == ["Partial answer"]
    assert info.value.message == "rate limited, retry later"
    assert info.value.code == 429
    assert info.value.retryable is True
    assert info.value.partial is not None
    assert info.value.partial.text == "Partial answer"


def test_error_chunk_delivered_as_a_chunk_when_asked() -> None:
    with WebSocketChunkServer(error_chat) as server:
        chunks = list(websocket_chat(server.url, REQUEST, timeout=5, raise_errors=False))
    assert [c.type for c in chunks] == ["content", "error"]
    error = chunks[-1]
    assert isinstance(error, StreamError)
    assert error.message == "rate limited, retry later"


def test_handler_failure_reads_as_a_truncated_stream() -> None:
    def broken(request: Any) -> Iterator[Chunk]:
        yield TextDelta("half")
        raise RuntimeError("handler bug")

    seen: list[Chunk] = []
    with WebSocketChunkServer(broken) as server:
        with pytest.raises(IncompleteStreamError) as info:  # noqa: PT012
            for chunk in websocket_chat(server.url, REQUEST, timeout=5):
                seen.append(chunk)
        assert [str(e) for e in server.errors] == ["handler bug"]
    assert [c.type for c in seen] == ["content"]
    assert info.value.partial is not None
    assert info.value.partial.text == "half"


def test_large_messages_arrive_whole() -> None:
    big = "x" * 300_000 + "é" * 100_000  # several TCP reads, so frames arrive in parts

    def handler(request: Any) -> Iterator[Chunk]:
        yield TextDelta(big)
        yield Done()

    with WebSocketChunkServer(handler) as server:
        result = websocket_chat(server.url, REQUEST, timeout=5).result()
    assert result.text == big


def test_several_clients_at_once() -> None:
    results: list[str] = []

    def client() -> None:
        results.append(websocket_chat(server.url, REQUEST, timeout=5).result().text)

    with WebSocketChunkServer(full_chat) as server:
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == ["It is 21 °C in Paris."] * 4


def test_connection_refused_and_bad_url_are_clear_errors() -> None:
    with WebSocketChunkServer(full_chat) as server:
        port = server.port
    with pytest.raises(TransportError, match="cannot connect"):
        websocket_chat(f"ws://127.0.0.1:{port}/", REQUEST, timeout=2)
    with pytest.raises(ConfigurationError, match="ws://"):
        websocket_chat("http://127.0.0.1/", REQUEST)


def test_missing_wsproto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wsproto", None)  # makes `import wsproto` raise ImportError
    with pytest.raises(ConfigurationError, match=r"sansstream\[websocket\]"):
        websocket_chat("ws://127.0.0.1:1/", REQUEST)
    with pytest.raises(ConfigurationError, match=r"sansstream\[websocket\]"):
        WebSocketChunkServer(full_chat)


def test_read_timeout_when_the_server_stalls() -> None:
    import time

    from sansstream.model import ReadTimeout

    def stalling(request: Any) -> Iterator[Chunk]:
        yield TextDelta("first")
        time.sleep(0.8)
        yield Done()

    seen: list[Chunk] = []
    with WebSocketChunkServer(stalling) as server:
        start = time.monotonic()
        with pytest.raises(ReadTimeout):  # noqa: PT012
            for chunk in websocket_chat(server.url, REQUEST, timeout=0.2):
                seen.append(chunk)
        waited = time.monotonic() - start
    assert [c.type for c in seen] == ["content"]
    assert waited < 0.7  # the limit fired, not the end of the stall
