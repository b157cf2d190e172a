"""Both adapters stream every shared provider fixture from a loopback server, byte-exact, in
every HTTP framing, and hand each slice over as soon as it arrives (no read-ahead)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from provider_support import provider_available, provider_for_fixture
from support import provider_fixtures_dir
from transport_support import ADAPTERS, make_transport, open_url, read_all

from sansstream.model import SansStreamError
from sansstream.providers import decode_stream
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import Transport

EXTENSIONS = (".sse", ".ndjson", ".bin", ".json")
CONTENT_TYPES = {
    ".sse": "text/event-stream",
    ".ndjson": "application/x-ndjson",
    ".bin": "application/vnd.amazon.eventstream",
    ".json": "application/json",
}


def stream_fixtures() -> list[Path]:
    root = provider_fixtures_dir()
    return sorted(
        p for p in root.rglob("*") if p.suffix in EXTENSIONS and not p.name.endswith(".expected.json")
    )


FIXTURES = stream_fixtures()


def test_every_fixture_family_is_found() -> None:
    assert len(FIXTURES) >= 70
    assert {p.suffix for p in FIXTURES} == set(EXTENSIONS)


@pytest.fixture(params=ADAPTERS)
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    t = make_transport(request.param)
    yield t
    t.close()


def decoded(path: Path, slices: list[bytes]) -> tuple[list[object], str | None]:
    """Chunks from ``decode_stream`` on these slices, and the error that ended it (if any)."""
    name, options = provider_for_fixture(path)
    chunks: list[object] = []
    try:
        for chunk in decode_stream(name, slices, **options):
            chunks.append(chunk)
    except SansStreamError as exc:
        return chunks, f"{type(exc).__name__}: {exc}"
    return chunks, None


@pytest.mark.parametrize("framing", ["chunked", "content-length", "close"])
def test_all_fixtures_byte_exact(transport: Transport, framing: str) -> None:
    # slices cut at a few fixed sizes, so the server really sends several pieces
    routes = {}
    for i, path in enumerate(FIXTURES):
        data = path.read_bytes()
        size = max(1, len(data) // 5)
        slices = [data[j : j + size] for j in range(0, len(data), size)]
        routes[f"/f{i}"] = FixtureResponse(
            body=slices,
            framing=framing,
            content_type=CONTENT_TYPES[path.suffix],
        )
    with FixtureServer(routes=routes) as server:
        for i, path in enumerate(FIXTURES):
            response = open_url(transport, server.url_for(f"/f{i}"))
            assert response.status == 200
            assert response.headers["Content-Type"] == CONTENT_TYPES[path.suffix]
            got = read_all(response)
            assert all(got), "read() must never return b'' before the end"
            assert b"".join(got) == path.read_bytes(), path.name
            name, _ = provider_for_fixture(path)
            if provider_available(name):
                assert decoded(path, got) == decoded(path, [path.read_bytes()]), path.name


@pytest.mark.parametrize("gzip", [False, True])
def test_slow_drip_subset(transport: Transport, gzip: bool) -> None:
    # small fixtures of each framing, dripped 97 bytes at a time with a pause between slices
    picks: dict[str, Path] = {}
    for path in sorted(FIXTURES, key=lambda p: p.stat().st_size):
        picks.setdefault(path.suffix, path)
    routes = {
        f"/{p.suffix[1:]}": FixtureResponse(body=p.read_bytes(), drip=97, delay=0.002, gzip=gzip)
        for p in picks.values()
    }
    with FixtureServer(routes=routes) as server:
        for path in picks.values():
            got = read_all(open_url(transport, server.url_for(f"/{path.suffix[1:]}")))
            assert b"".join(got) == path.read_bytes()
            # paced slices are not merged into one big read
            assert len(got) >= min(3, len(path.read_bytes()) // 97)


@pytest.mark.parametrize(
    ("framing", "gzip"),
    [("chunked", False), ("chunked", True), ("close", False), ("close", True), ("content-length", False)],
)
def test_each_event_reaches_the_caller_before_the_next_is_sent(
    transport: Transport, framing: str, gzip: bool
) -> None:
    """Lockstep: the server sends event i, then waits until the client has read it before it
    waits 50 ms and sends event i+1. Any read-ahead would deadlock (and time out)."""
    events = [f"data: event {i}\n\n".encode() for i in range(6)]
    received = [threading.Event() for _ in events]
    stalled: list[int] = []

    def body() -> Iterator[bytes]:
        for i, event in enumerate(events):
            yield event
            if not received[i].wait(5):
                stalled.append(i)
                return
            time.sleep(0.05)

    length = sum(map(len, events)) if framing == "content-length" else None
    response = FixtureResponse(
        body=body(),
        framing=framing,
        gzip=gzip,
        content_length=length,
    )
    with FixtureServer(response) as server:
        r = open_url(transport, server.url)
        got: list[bytes] = []
        buffer = b""
        for i in range(len(events)):
            while len(buffer) < len(events[i]):
                data = r.read(5)
                assert data, "the body ended early"
                buffer += data
            assert buffer == events[i], "an event arrived together with the next one (read-ahead)"
            got.append(buffer)
            buffer = b""
            received[i].set()
        assert r.read(5) == b""
        r.close()
    assert stalled == []
    assert got == events
