"""The CLI, run in-process through ``sansstream.cli.main`` (fast); subprocess and terminal checks
live in ``test_cli_subprocess.py``."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from support import provider_fixtures_dir

from sansstream.api import stream_chat
from sansstream.cli import main
from sansstream.cli._output import result_to_dict
from sansstream.model import Accumulator
from sansstream.providers import Framing, decode_stream
from sansstream.server import sse_stream, stream_response
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import load_recording

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


def fixture_files() -> list[Path]:
    root = provider_fixtures_dir()
    return sorted(
        p
        for p in root.glob("*/*")
        if p.parent.name in FOLDER_PROVIDER and not p.name.endswith(".expected.json") and p.is_file()
    )


def expected_result(path: Path, provider: str | None = None) -> dict[str, Any]:
    framing: Framing | None = "json-array" if path.suffix == ".json" else None
    acc = Accumulator()
    for chunk in decode_stream(
        provider or FOLDER_PROVIDER[path.parent.name],
        [path.read_bytes()],
        raise_errors=False,
        framing=framing,
    ):
        acc.add(chunk)
    return result_to_dict(acc.result())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code: int, err: str, *needles: str) -> None:
    assert code != 0
    # (parse says which provider it guessed on a line of its own, before any error)
    lines = [line for line in err.strip().splitlines() if not line.startswith("sansstream: provider guessed")]
    assert len(lines) == 1, err
    assert lines[0].startswith("sansstream: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


# -- parse --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_parse_result_matches_decode_stream_for_every_fixture(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "parse", str(path), "--result")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    # JSON round trip of the expected side too, so tuples/lists compare equal.
    assert json.loads(lines[0]) == json.loads(json.dumps(expected_result(path), default=str))


def test_parse_any_split_gives_the_same_chunks(capsys: pytest.CaptureFixture[str]) -> None:
    path = provider_fixtures_dir() / "anthropic" / "text-then-tool-use.sse"
    outputs = []
    for split in (None, "bytewise", "random", "7", "whole"):
        argv = ["parse", str(path)] + ([] if split is None else ["--split", split])
        code, out, _ = run(capsys, *argv)
        assert code == 0
        outputs.append(out)
    assert all(o == outputs[0] for o in outputs)
    chunks = [json.loads(line) for line in outputs[0].splitlines()]
    assert chunks[0]["type"] == "start"
    assert chunks[-1]["type"] == "done"
    assert any(c["type"] == "tool_end" and c["name"] for c in chunks)


def test_parse_events_shows_wire_events_including_comments(capsys: pytest.CaptureFixture[str]) -> None:
    path = provider_fixtures_dir() / "openai-compatible" / "openrouter-error-in-chunk.sse"
    code, out, _ = run(capsys, "parse", str(path), "--events")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    kinds = {e["kind"] for e in events}
    assert kinds == {"sse", "comment"}
    assert events[-1] == {"kind": "sse", "event": "message", "data": "[DONE]"}
    ndjson = provider_fixtures_dir() / "ollama" / "generate-text.ndjson"
    code, out, _ = run(capsys, "parse", str(ndjson), "--events")
    values = [json.loads(line) for line in out.splitlines()]
    assert values[0]["kind"] == "json"
    assert values[0]["line"] == 1
    assert values[-1]["value"]["done"] is True
    binary = provider_fixtures_dir() / "bedrock" / "text.bin"
    code, out, _ = run(capsys, "parse", str(binary), "--events")
    frames = [json.loads(line) for line in out.splitlines()]
    assert frames[0]["kind"] == "eventstream"
    assert frames[0]["headers"][":event-type"] == "messageStart"


def test_parse_guesses_the_provider_from_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Out of their folders, fixtures are recognised by their content (Mistral's shape is
    # OpenAI's: the folder or --provider tells them apart).
    for path in fixture_files():
        if path.parent.name == "mistral":
            continue
        flat = tmp_path / f"{path.parent.name}-{path.name}"
        shutil.copy(path, flat)
        code, out, err = run(capsys, "parse", str(flat), "--result")
        assert code == 0, (path, err)
        assert json.loads(out) == json.loads(json.dumps(expected_result(path), default=str)), path
    renamed = tmp_path / "stream.txt"
    shutil.copy(provider_fixtures_dir() / "ollama" / "generate-text.ndjson", renamed)
    code, out, _ = run(capsys, "parse", str(renamed), "--result")
    assert code == 0
    assert json.loads(out)["text"].startswith("A rabbit")


def test_parse_reads_a_recording_with_its_slices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = list(sse_stream(stream_response("Recorded words here."), format="anthropic"))
    recording = tmp_path / "chat.jsonl"
    with FixtureServer(FixtureResponse(body)) as server:
        stream = stream_chat(
            "anthropic",
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            api_key="k",
            base_url=server.url,
            record=recording,
        )
        assert stream.result().text == "Recorded words here."
    assert len(load_recording(recording).slices) >= 2
    code, out, _ = run(capsys, "parse", str(recording), "--result")  # provider from the request URL
    assert code == 0
    assert json.loads(out)["text"] == "Recorded words here."


def test_parse_truncated_stream_is_an_error_unless_no_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = provider_fixtures_dir() / "openai-chat" / "text-stop-usage.sse"
    cut = tmp_path / "openai-chat" / "cut.sse"
    cut.parent.mkdir()
    cut.write_bytes(path.read_bytes().replace(b"data: [DONE]", b""))
    code, out, err = run(capsys, "parse", str(cut))
    assert_one_error_line(code, err, "end")
    assert out.splitlines()  # the chunks before the end were printed
    code, out, err = run(capsys, "parse", str(cut), "--no-strict", "--result")
    assert code == 0
    assert json.loads(out)["text"].startswith("I'm unable")


# -- error paths ------------------------------------------------------------------------------


def test_missing_key_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, err = run(capsys, "chat", "-p", "anthropic", "-m", "claude", "hello")
    assert_one_error_line(code, err, "ANTHROPIC_API_KEY")


def test_unknown_provider_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "chat", "-p", "nosuch", "-m", "x", "hello")
    assert_one_error_line(code, err, "nosuch")
    code, _, err = run(
        capsys, "parse", str(provider_fixtures_dir() / "anthropic" / "text-basic.sse"), "-p", "nosuch"
    )
    assert_one_error_line(code, err, "nosuch")


def test_unreadable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "parse", str(tmp_path / "missing.sse"))
    assert_one_error_line(code, err, "missing.sse")
    code, _, err = run(capsys, "serve", str(tmp_path / "missing.sse"))
    assert_one_error_line(code, err, "missing.sse")
    code, _, err = run(capsys, "parse", str(tmp_path))
    assert_one_error_line(code, err, "folder")


def test_http_401_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    body = b'{"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}'
    with FixtureServer(FixtureResponse(body, status=401, content_type="application/json")) as server:
        code, out, err = run(
            capsys, "chat", "-p", "openai", "-m", "gpt", "--base-url", server.url + "/v1", "hi"
        )
    assert_one_error_line(code, err, "401", "Incorrect API key")
    assert "sk-wrong" not in err
    assert out.strip() == ""


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from sansstream.model import UnknownProviderError

    with pytest.raises(UnknownProviderError):
        main(["chat", "-p", "nosuch", "-m", "x", "hi", "--debug"])


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["chat", "-m", "x"])  # --provider missing
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["demo", "--provider", "nosuch"])
    assert info.value.code == 2


# -- demo and chat in-process ---------------------------------------------------------------------


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else set()


@pytest.mark.parametrize("provider", ["openai", "anthropic", "ollama", "slop"])
def test_demo_in_process_leaves_no_thread_or_socket(
    provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    code, out, err = run(capsys, "demo", "--provider", provider, "--speed", "20", "--hide-reasoning")
    assert code == 0, err
    assert "sans-IO state machine" in out
    assert "They want a short answer" not in out
    assert "first token" in err
    assert "tokens/s" in err
    assert "usage: in 7, out 71" in err
    assert set(threading.enumerate()) <= threads_before
    assert open_fds() <= fds_before


def test_demo_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--json", "--speed", "20", "--transport", "h11")
    assert code == 0
    chunks = [json.loads(line) for line in out.splitlines()]
    assert chunks[0]["type"] == "start"
    assert chunks[-1]["type"] == "done"
    assert "".join(c["text"] for c in chunks if c["type"] == "content").startswith("sansstream reads")
    assert any(c["type"] == "thinking" for c in chunks)


def test_chat_against_a_local_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-secret-value")
    body = list(sse_stream(stream_response("Local answer.", reasoning="Hmm."), format="openai"))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("prompt from stdin\n"))
    with FixtureServer(FixtureResponse(body)) as server:
        code, out, err = run(
            capsys,
            "record",
            "-p",
            "openai",
            "-m",
            "gpt",
            "--base-url",
            server.url + "/v1",
            "--system",
            "Be brief.",
            "--show-reasoning",
            "--out",
            str(tmp_path / "rec.jsonl"),
            "--max-tokens",
            "20",
        )
        sent = server.requests[0].json()
    assert code == 0, err
    assert out == "Hmm.\n\nLocal answer.\n"  # not a terminal: no ANSI codes
    assert sent["messages"] == [  # type: ignore[index]
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "prompt from stdin\n"},
    ]
    assert sent["max_tokens"] == 20  # type: ignore[index]
    recorded = (tmp_path / "rec.jsonl").read_text()
    assert "sk-local-secret-value" not in recorded
    assert "Local answer" in recorded or "Local" in recorded
    code, out, _ = run(capsys, "parse", str(tmp_path / "rec.jsonl"), "--result")
    assert json.loads(out)["text"] == "Local answer."


# -- serve in-process ---------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def serve_once(path: Path, *extra: str) -> tuple[str, threading.Thread, list[int]]:
    """Run ``serve`` for one request in a thread; return its URL, the thread and the exit code cell."""
    port = free_port()
    codes: list[int] = []
    thread = threading.Thread(
        target=lambda: codes.append(
            main(["serve", str(path), "--port", str(port), "--max-requests", "1", *extra])
        )
    )
    thread.start()
    return f"http://127.0.0.1:{port}", thread, codes


def timed_chat(url: str) -> float:
    import time

    for _ in range(100):  # the server thread may still be binding
        try:
            start = time.monotonic()
            text = (
                stream_chat(
                    "openai",
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    api_key="k",
                    base_url=url,
                    retry=None,
                )
                .result()
                .text
            )
            break
        except Exception:
            time.sleep(0.02)
    else:  # pragma: no cover - diagnostic
        raise AssertionError("serve never answered")
    assert text == "one two three four five six seven eight"
    return time.monotonic() - start


def test_serve_replays_a_recording_at_its_pace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = list(sse_stream(stream_response("one two three four five six seven eight"), format="openai"))
    recording = tmp_path / "paced.jsonl"
    with FixtureServer(FixtureResponse(body, delay=0.06)) as server:
        stream_chat(
            "openai",
            model="m",
            messages=[{"role": "user", "content": "x"}],
            api_key="k",
            base_url=server.url,
            record=recording,
        ).result()
    timings = {}
    for speed in ("1", "4", "0"):
        url, thread, codes = serve_once(recording, "--speed", speed)
        timings[speed] = timed_chat(url)
        thread.join(10)
        assert codes == [0]
    recorded = load_recording(recording).slices[-1].t - load_recording(recording).slices[0].t
    assert timings["1"] >= 0.6 * recorded  # the recorded gaps are kept...
    assert timings["4"] < 0.6 * timings["1"]  # ...scaled by --speed
    assert timings["0"] < 0.6 * timings["4"]
    assert "serving" in capsys.readouterr().err


def test_serve_replays_a_recorded_error_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sansstream.model import HTTPStatusError

    recording = tmp_path / "denied.jsonl"
    denied = FixtureResponse(
        b'{"error": {"message": "Rate limit reached."}}', status=429, content_type="application/json"
    )
    with FixtureServer(denied) as server, pytest.raises(HTTPStatusError):
        stream_chat(
            "openai",
            model="m",
            messages=[{"role": "user", "content": "x"}],
            api_key="k",
            base_url=server.url,
            record=recording,
            retry=None,
        ).result()
    url, thread, codes = serve_once(recording)
    statuses: list[tuple[int, str]] = []
    try:
        for _ in range(100):
            try:
                stream_chat(
                    "openai",
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    api_key="k",
                    base_url=url,
                    retry=None,
                ).result()
            except HTTPStatusError as exc:
                statuses.append((exc.status, str(exc)))
                break
            except Exception:
                import time

                time.sleep(0.02)
    finally:
        thread.join(10)
    assert [status for status, _ in statuses] == [429]
    assert "Rate limit reached" in statuses[0][1]
    assert codes == [0]
