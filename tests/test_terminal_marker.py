"""The stream ends at the provider's terminal marker, and a cut after the answer is complete is
not truncation (providers/_pipeline.py's module docstring has the rules).

- Nothing after the terminal marker (``data: [DONE]``, ``message_stop``, ``response.completed``,
  ``"done": true``, Cohere's ``message-end``, Bedrock's ``metadata`` after ``messageStop``) is
  delivered or changes the result: checked on every recorded fixture of every provider that has
  such a marker, by appending a whole second stream after it.
- A cut inside a trailing ``data: [DONE]`` line after the provider's own terminal event is not
  reported as truncation (Cohere, Responses).
- Bedrock: a cut between ``messageStop`` and ``metadata`` and a cut inside ``metadata`` end the
  same way (one rule: the answer is complete; only the usage the cut frame carried is missing).
- Over both transports: a server that sends the terminal marker and keeps the connection open
  does not stall the reader (the official SDKs return at the marker too).
"""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from provider_support import decode_all, decode_fixture, fixture_cases, fixture_id, provider_for_fixture
from raw_server import RawServer, Request
from support import provider_fixtures_dir

from sansstream.api import stream_chat
from sansstream.model import END, ChatResult, Done, StreamError, Usage
from sansstream.providers import StreamDecoder, decode_stream

# Providers whose streams end with an explicit terminal marker (Gemini's end with the bytes).
_TERMINATED_FAMILIES = (
    "openai-chat",
    "openai-compatible",
    "openai-responses",
    "anthropic",
    "ollama",
    "mistral",
    "cohere",
    "bedrock",
    "azure",
    "azure-responses",
    "vertex-anthropic",
)


def _terminated_cases() -> list[Any]:
    params = []
    for path, _expected in fixture_cases(*_TERMINATED_FAMILIES):
        decoded = decode_fixture(path, raise_errors=False)
        if decoded.error is None and decoded.result.done:
            params.append(pytest.param(path, id=fixture_id(path)))
    return params


TERMINATED = _terminated_cases()


def test_the_cases_cover_every_family_with_a_marker() -> None:
    families = {p.values[0].parent.name for p in TERMINATED}
    assert {"openai-chat", "openai-responses", "anthropic", "ollama", "cohere", "bedrock"} <= families


@pytest.mark.parametrize("path", TERMINATED)
@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_nothing_after_the_terminal_marker_is_delivered(path: Path, mode: str) -> None:
    data = path.read_bytes()
    once = decode_fixture(path, mode, raise_errors=False)
    name, options = provider_for_fixture(path)
    # A whole second stream after the first: every event of it comes after the terminal marker.
    # (a recording may end without its last line end: end it, as the server's next bytes would)
    sep = {".sse": b"\n\n", ".ndjson": b"\n", ".jsonl": b"\n"}.get(path.suffix, b"")
    twice = decode_all(name, data + sep + data, mode, raise_errors=False, **options)
    assert twice.error is None
    assert _comparable(twice.chunks) == _comparable(once.chunks)
    assert _comparable([twice.result]) == _comparable([once.result])


def _comparable(items: list[Any]) -> list[Any]:
    """Chunks and results with their ProviderErrors (compared by identity) as text."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, StreamError):
            out.append(("error", str(item.error)))
        elif isinstance(item, ChatResult):
            out.append((dataclasses.replace(item, errors=()), [str(e) for e in item.errors]))
        else:
            out.append(item)
    return out


@pytest.mark.parametrize("path", TERMINATED[:6])
def test_the_machine_ends_at_the_marker_without_the_end_of_input(path: Path) -> None:
    name, options = provider_for_fixture(path)
    machine = StreamDecoder(name, raise_errors=False, **options)
    chunks = machine.feed(path.read_bytes())
    assert chunks
    assert machine.complete
    # no receive_data(b"") yet: the terminal marker alone ended the stream
    assert machine.next_chunk() is END
    machine.receive_data(b'data: {"late": true}\n\n')  # ignored, and not an error
    assert machine.next_chunk() is END
    machine.receive_data(b"")
    assert machine.next_chunk() is END


@pytest.mark.parametrize(
    ("family", "name"),
    [
        ("cohere", "text.sse"),
        ("cohere", "reasoning-thinking.sse"),
        ("openai-responses", "openrouter-reasoning-text.sse"),
    ],
)
@pytest.mark.parametrize("cut", range(1, 14))
def test_a_cut_inside_a_trailing_done_line_is_not_truncation(family: str, name: str, cut: int) -> None:
    path = provider_fixtures_dir() / family / name
    data = path.read_bytes()
    assert data.rstrip().endswith(b"data: [DONE]")
    whole = decode_fixture(path)
    provider, options = provider_for_fixture(path)
    chunks = list(decode_stream(provider, [data[:-cut]], **options))  # raises on truncation
    assert chunks == whole.chunks


def _bedrock_frames(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, :event-type) of each event-stream frame."""
    from sansstream.core import EventStreamParser

    out = []
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        [message] = EventStreamParser().feed(data[offset : offset + length])
        out.append((offset, offset + length, message.event_type or ""))
        offset += length
    return out


@pytest.mark.parametrize("name", ["text.bin", "tool-use.bin", "reasoning.bin"])
def test_bedrock_cuts_after_message_stop_follow_one_rule(name: str) -> None:
    data = (provider_fixtures_dir() / "bedrock" / name).read_bytes()
    frames = _bedrock_frames(data)
    assert [kind for _, _, kind in frames[-2:]] == ["messageStop", "metadata"]
    whole = list(decode_stream("bedrock", [data]))
    assert any(isinstance(c, Usage) for c in whole)
    meta_start, meta_end, _ = frames[-1]
    # between the frames, inside the metadata frame's prelude, headers and payload
    for cut in (meta_start, meta_start + 5, meta_start + 30, meta_end - 1):
        chunks = list(decode_stream("bedrock", [data[:cut]]))  # no IncompleteStreamError
        assert not any(isinstance(c, Usage) for c in chunks)
        assert [c for c in chunks if not isinstance(c, Done)] == [
            c for c in whole if not isinstance(c, (Usage, Done))
        ]
        assert isinstance(chunks[-1], Done)


TRANSPORTS = ["requests", "h11"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_server_that_keeps_the_connection_open_after_done_does_not_stall(transport: str) -> None:
    body = (
        b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
        b'"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}\n\n'
        b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
        b'"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )

    def script(conn: socket.socket, request: Request) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        conn.sendall(head + b"%x\r\n%s\r\n" % (len(body), body))
        time.sleep(5)  # keeps the connection open; the reader must not wait for it

    with RawServer(script) as server:
        started = time.monotonic()
        stream = stream_chat(
            "openai",
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            api_key="k",
            base_url=server.url + "/v1",
            transport=transport,
            timeout=3,
        )
        result = stream.result()
        elapsed = time.monotonic() - started
    assert result.text == "hi"
    assert result.done
    assert elapsed < 2.0
