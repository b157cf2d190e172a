"""Recording a live stream to a fixture file and replaying it: identical bytes and slices, the
recorded pace (scaled), the recorded errors, and never a secret in the file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import provider_fixtures_dir
from transport_support import ADAPTERS, drain, make_transport, read_all

from sansstream.model import ReadTimeout, StreamCancelled, TransportError
from sansstream.providers import HTTPRequest, decode_stream
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import (
    RecordingTransport,
    ReplayTransport,
    Transport,
    load_recording,
    redact_url,
    replay,
    save_recording,
)

SECRETS = {
    "authorization": "Bearer sk-live-0123456789abcdefSECRET",
    "x-api-key": "sk-ant-api03-SECRETSECRETSECRET",
    "x-goog-api-key": "AIzaSyD-SECRET-goog-key-123456",
    "api-key": "azure-SECRET-key-abcdef0123",
    "x-amz-security-token": "IQoJb3JpZ2luX2VjEAMaCXVz-SECRET-TOKEN",
}
URL_KEY = "AIzaSyQUERY-SECRET-key-987654"
SLICES = [b"data: one\n\n", b"data: tw", b"o\n\n", "data: caf\u00e9 \u2028\n\n".encode(), b"data: [DONE]\n\n"]


@pytest.fixture(params=ADAPTERS)
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    t = make_transport(request.param)
    yield t
    t.close()


def secret_request(url: str) -> HTTPRequest:
    headers = {k.title(): v for k, v in SECRETS.items()}
    body = {"model": "m", "api_key": "body-SECRET-value-42", "messages": [{"role": "user", "content": "hi"}]}
    return HTTPRequest.json(
        "POST", f"{url}/v1beta/models/x:streamGenerateContent?alt=sse&key={URL_KEY}", body, headers
    )


def record(transport: Transport, server: FixtureServer, path: Path) -> list[bytes]:
    recorder = RecordingTransport(transport, path)
    response = recorder.open(secret_request(server.url), connect_timeout=5, first_byte_timeout=5)
    return read_all(response)


def test_record_then_replay_gives_identical_slices(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES, delay=0.01, headers={"X-Request-Id": "req_1"})) as server:
        live = record(transport, server, path)
    assert b"".join(live) == b"".join(SLICES)

    rec = load_recording(path)
    assert rec.status == 200
    assert rec.end == "eof"
    assert rec.chunks() == live
    assert rec.body == b"".join(SLICES)
    assert rec.headers["x-request-id"] == "req_1"
    assert rec.content_type == "text/event-stream"
    times = [s.t for s in rec.slices]
    assert times == sorted(times)
    assert times[0] >= rec.t_headers >= 0
    assert rec.request is not None
    assert rec.request.method == "POST"
    assert rec.request.headers["Authorization"] == "<redacted>"
    assert rec.request.body is not None
    assert json.loads(rec.request.body)["messages"][0]["content"] == "hi"

    replayer = ReplayTransport(path)
    response = replayer.open(HTTPRequest("POST", "http://unused.invalid/"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert read_all(response) == live
    assert list(replay(path)) == live


def test_the_file_contains_no_secret(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    # the server even echoes the API key back in the body: it is scrubbed there too
    echo = b'data: {"error": "bad key sk-live-0123456789abcdefSECRET"}\n\n'
    with FixtureServer(
        FixtureResponse(body=[*SLICES, echo], headers={"Set-Cookie": "session=SECRETCOOKIE"})
    ) as server:
        record(transport, server, path)
        seen = server.wait_for_requests(1)[0]
    assert seen.headers["authorization"] == SECRETS["authorization"]  # the real request had it
    text = path.read_text("utf-8")
    for secret in [*SECRETS.values(), URL_KEY, "sk-live-0123456789abcdefSECRET", "body-SECRET-value-42"]:
        assert secret not in text
    assert "SECRET" not in text
    assert "<redacted>" in text
    assert "alt=sse" in text  # harmless query parameters stay


def test_file_format_is_json_lines(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES)) as server:
        live = record(transport, server, path)
    raw = path.read_text("utf-8")
    assert "\u2028" not in raw  # escaped: one record per line for every line splitter
    lines = [json.loads(line) for line in raw.splitlines()]
    head, *middle, end = lines
    assert head["sansstream_recording"] == 1
    assert head["status"] == 200
    assert ["content-type", "text/event-stream"] in [[k.lower(), v] for k, v in head["headers"]]
    assert set(head["request"]) >= {"method", "url", "headers", "body"}
    assert all(set(m) == {"t", "data"} for m in middle)
    assert [m["data"].encode() for m in middle] == live
    assert end["end"] == "eof"


def test_binary_slices_round_trip(transport: Transport, tmp_path: Path) -> None:
    data = (provider_fixtures_dir() / "bedrock" / "text.bin").read_bytes()
    slices = [data[i : i + 50] for i in range(0, len(data), 50)]
    path = tmp_path / "bin.jsonl"
    response = FixtureResponse(body=slices, content_type="application/vnd.amazon.eventstream")
    with FixtureServer(response) as server:
        live = record(transport, server, path)
    assert any("b64" in json.loads(line) for line in path.read_text("utf-8").splitlines())
    assert load_recording(path).chunks() == live
    assert b"".join(replay(path)) == data


def test_replayed_fixture_decodes_like_the_fixture(tmp_path: Path) -> None:
    fixture = provider_fixtures_dir() / "openai-chat" / "tool-call-single.sse"
    data = fixture.read_bytes()
    path = tmp_path / "openai.jsonl"
    with FixtureServer(FixtureResponse(body=data, drip=200)) as server, make_transport("h11") as t:
        record(t, server, path)
    assert list(decode_stream("openai", replay(path))) == list(decode_stream("openai", [data]))


def test_recorded_pace_scaled_by_speed(tmp_path: Path) -> None:
    path = tmp_path / "paced.jsonl"
    with (
        FixtureServer(FixtureResponse(body=[b"data: x\n\n"] * 6, delay=0.06)) as server,
        make_transport("h11") as t,
    ):
        record(t, server, path)
    recorded = load_recording(path).slices[-1].t - load_recording(path).slices[0].t
    assert recorded >= 0.25

    def duration(speed: float | None) -> float:
        rt = ReplayTransport(path, speed=speed)
        started = time.monotonic()
        read_all(rt.open(HTTPRequest("GET", "http://x.invalid/")))
        return time.monotonic() - started

    instant, normal, double = duration(None), duration(1.0), duration(2.0)
    assert instant < normal / 5
    assert 0.35 <= double / normal <= 0.75  # twice as fast: about half the time


def test_replay_honours_read_timeouts(tmp_path: Path) -> None:
    path = tmp_path / "gap.jsonl"
    with FixtureServer(FixtureResponse(body=[b"a", b"b"], delay=0.5)) as server, make_transport("h11") as t:
        record(t, server, path)
    r = ReplayTransport(path, speed=1.0).open(HTTPRequest("GET", "http://x.invalid/"))
    assert r.read(1) == b"a"
    started = time.monotonic()
    with pytest.raises(ReadTimeout) as info:
        r.read(0.1)
    assert 0.09 <= time.monotonic() - started < 0.4
    assert info.value.limit == 0.1


def test_close_from_another_thread_during_a_paced_replay(tmp_path: Path) -> None:
    path = tmp_path / "slow.jsonl"
    with FixtureServer(FixtureResponse(body=[b"a", b"b"], delay=0.6)) as server, make_transport("h11") as t:
        record(t, server, path)
    r = ReplayTransport(path, speed=0.1).open(HTTPRequest("GET", "http://x.invalid/"))
    assert r.read(10) == b"a"
    threading.Timer(0.1, r.close).start()
    started = time.monotonic()
    with pytest.raises(StreamCancelled):
        r.read(30)
    assert time.monotonic() - started < 1.0


def test_recorded_errors_are_replayed(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES, framing="content-length", cut_after=15)) as server:
        recorder = RecordingTransport(transport, path)
        r = recorder.open(HTTPRequest("GET", server.url), connect_timeout=5, first_byte_timeout=5)
        got, error = drain(r)
    assert isinstance(error, TransportError)
    rec = load_recording(path)
    assert rec.end == "error"
    assert rec.error is not None
    assert rec.error["type"] == "TransportError"
    replayed = ReplayTransport(path).open(HTTPRequest("GET", "http://x.invalid/"))
    again, error = drain(replayed)
    assert isinstance(error, TransportError)
    assert "replayed" in str(error)
    assert again == got == b"".join(SLICES)[:15]


def test_a_failed_open_is_recorded(transport: Transport, tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    path = tmp_path / "refused.jsonl"
    with pytest.raises(TransportError):
        RecordingTransport(transport, path).open(
            HTTPRequest("GET", f"http://127.0.0.1:{port}/"), connect_timeout=2
        )
    rec = load_recording(path)
    assert rec.status is None
    assert rec.end == "error"
    with pytest.raises(TransportError):
        ReplayTransport(path).open(HTTPRequest("GET", "http://x.invalid/"))


def test_closing_early_is_recorded(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "early.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES, stall=5, stall_at=len(SLICES[0]))) as server:
        r = RecordingTransport(transport, path).open(HTTPRequest("GET", server.url), first_byte_timeout=5)
        assert r.read(5) == SLICES[0]
        r.close()
    rec = load_recording(path)
    assert rec.end == "closed"
    assert rec.chunks() == [SLICES[0]]


def test_raw_fixture_files_load_as_one_slice() -> None:
    fixture = provider_fixtures_dir() / "ollama" / "generate-text.ndjson"
    rec = load_recording(fixture)
    assert rec.status == 200
    assert rec.content_type == "application/x-ndjson"
    assert rec.body == fixture.read_bytes()
    r = ReplayTransport(fixture).open(HTTPRequest("POST", "http://x.invalid/"))
    assert read_all(r) == [fixture.read_bytes()]


def test_save_recording_round_trips(transport: Transport, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES)) as server:
        record(transport, server, path)
    rec = load_recording(path)
    copy = tmp_path / "b.jsonl"
    save_recording(rec, copy)
    again = load_recording(copy)
    assert again.slices == rec.slices
    assert again.status == rec.status
    assert again.headers.raw_items() == rec.headers.raw_items()
    assert again.end == rec.end
    assert again.request == rec.request


def test_truncated_recording_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with FixtureServer(FixtureResponse(body=SLICES)) as server, make_transport("h11") as t:
        record(t, server, path)
    lines = path.read_text("utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", "utf-8")  # the process died before the end line
    rec = load_recording(path)
    assert rec.end == "missing"
    assert rec.body == b"".join(SLICES)


def test_redact_url() -> None:
    assert redact_url("https://h/v1?alt=sse&key=abc") == "https://h/v1?alt=sse&key=<redacted>"
    assert redact_url("https://user:pw@h/x") == "https://<redacted>@h/x"
    assert redact_url("https://h/x?X-Amz-Signature=1&a=b") == "https://h/x?X-Amz-Signature=<redacted>&a=b"
    assert redact_url("https://h/x") == "https://h/x"
