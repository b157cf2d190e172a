"""Issue 16, first ten minutes: the real CLI in a subprocess says things in the user's words.

- a bare ``sansstream`` prints the help; ``--version`` prints the version;
- a lone surrogate in a JSON string is printed escaped (``\\ud800``) by ``parse`` and ``chat``,
  never an "unexpected UnicodeEncodeError";
- messages name the flag to type (``--no-strict``, ``--region``, ``--api-key``), not Python
  keywords; ``chat`` takes ``--api-key`` and ``--region`` and needs no key for a loopback
  ``--base-url``;
- the Python API refuses an unknown option with the closest known one (``temprature=``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sansstream.api import stream_chat
from sansstream.model import ConfigurationError
from sansstream.providers import get, names
from sansstream.testing import FixtureResponse, FixtureServer

CLI = [sys.executable, "-m", "sansstream"]

SURROGATE_STREAM = (
    b'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
    b'"delta":{"content":"a\\ud800b"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
    b'"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_TOKEN")) and not k.startswith("AWS_") and k != "NO_COLOR"
    }
    env.update(extra)
    return env


def run(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *argv], capture_output=True, text=True, timeout=60, env=clean_env(**env), check=False
    )


def test_a_bare_command_prints_the_help() -> None:
    done = run()
    assert done.returncode == 2
    assert "usage: sansstream" in done.stderr
    assert "demo" in done.stderr
    assert "parse" in done.stderr
    assert "required" not in done.stderr


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    from sansstream import __version__

    assert done.stdout.strip() == f"sansstream {__version__}"


@pytest.mark.parametrize("output", ["--chunks", "--result", "--events"])
def test_parse_prints_a_lone_surrogate_escaped(tmp_path: Path, output: str) -> None:
    path = tmp_path / "surrogate.sse"
    path.write_bytes(SURROGATE_STREAM)
    done = run("parse", str(path), "-p", "openai", output)
    assert done.returncode == 0, done.stderr
    assert "UnicodeEncodeError" not in done.stderr
    assert "\\ud800" in done.stdout
    for line in done.stdout.splitlines():
        json.loads(line)  # still JSON lines


@pytest.mark.parametrize("json_lines", [False, True])
def test_chat_prints_a_lone_surrogate_escaped_and_needs_no_key_on_loopback(json_lines: bool) -> None:
    with FixtureServer(FixtureResponse([SURROGATE_STREAM])) as server:
        argv = ["chat", "hi", "-p", "openai", "-m", "m", "--base-url", server.url + "/v1", "--no-metrics"]
        done = run(*argv, *(["--json"] if json_lines else []))
    assert done.returncode == 0, done.stderr
    assert "a\\ud800b" in done.stdout
    # no key was demanded, and none was sent
    [request] = server.requests
    assert "authorization" not in {k.lower() for k in request.headers}


def test_chat_sends_the_api_key_flag() -> None:
    with FixtureServer(FixtureResponse([SURROGATE_STREAM])) as server:
        done = run(
            "chat", "hi", "-p", "openai", "-m", "m", "--base-url", server.url + "/v1",
            "--api-key", "sk-test-flag-0123456789", "--no-metrics",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer sk-test-flag-0123456789"


def test_a_remote_base_url_still_needs_a_key_and_the_message_names_the_flag() -> None:
    done = run("chat", "hi", "-p", "openai", "-m", "m", "--base-url", "https://api.example.invalid/v1")
    assert done.returncode == 1
    assert "OPENAI_API_KEY" in done.stderr
    assert "--api-key" in done.stderr
    assert "api_key=" not in done.stderr


def test_the_region_flag_reaches_bedrock_and_a_bad_one_is_refused() -> None:
    done = run(
        "chat", "hi", "-p", "bedrock", "-m", "anthropic.claude-3-haiku", "--region", "x@attacker.example/",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret-example-0123456789",
    )  # fmt: skip
    assert done.returncode == 1
    assert "not a valid AWS region" in done.stderr


def test_a_missing_region_names_the_flag() -> None:
    done = run(
        "chat", "hi", "-p", "bedrock", "-m", "anthropic.claude-3-haiku",
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret-example-0123456789",
    )  # fmt: skip
    assert done.returncode == 1
    assert "--region" in done.stderr
    assert "region=..." not in done.stderr


def test_a_truncated_file_names_the_no_strict_flag(tmp_path: Path) -> None:
    path = tmp_path / "no-done.sse"
    path.write_bytes(SURROGATE_STREAM[: SURROGATE_STREAM.index(b"data: [DONE]")])
    done = run("parse", str(path), "-p", "openai")
    assert done.returncode == 1
    assert "--no-strict" in done.stderr
    assert "strict=False" not in done.stderr
    assert run("parse", str(path), "-p", "openai", "--no-strict").returncode == 0


# -- the Python API: options each provider knows ---------------------------------------------------


def test_a_misspelt_option_is_refused_with_the_closest_known_one() -> None:
    with pytest.raises(ConfigurationError) as info:
        stream_chat(
            "openai", model="m", messages=[{"role": "user", "content": "hi"}], api_key="k", temprature=0.2
        )
    message = str(info.value)
    assert "'temprature'" in message
    assert "did you mean 'temperature'?" in message
    assert "extra_body=" in message


def test_extra_body_sends_any_field_deliberately() -> None:
    stream = stream_chat(
        "openai",
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        api_key="k",
        extra_body={"temprature": 0.2},
        temperature=0.5,
    )
    body = stream._request.json_body()
    assert body["temprature"] == 0.2
    assert body["temperature"] == 0.5
    stream.close()


@pytest.mark.parametrize("name", sorted(set(names()) - {"slop"}))
def test_every_built_in_provider_declares_its_options(name: str) -> None:
    provider = get(name)
    known = provider.accepted_options
    assert known is not None, name
    assert {"extra_body", "extra_headers"} <= known
    with pytest.raises(ConfigurationError, match="did you mean 'max_tokens'"):
        provider.check_options({"max_tokkens": 10})
    provider.check_options(dict.fromkeys(known, None))  # every declared name passes


def test_the_open_slop_protocol_takes_any_option() -> None:
    get("slop").check_options({"anything": 1})


def test_a_loopback_base_url_needs_no_key_in_the_python_api() -> None:
    env: dict[str, str] = {}
    for url in ("http://127.0.0.1:8080/v1", "http://localhost:1234/v1", "http://[::1]:8000/v1"):
        stream_chat("openai", model="m", messages=[{"role": "user", "content": "hi"}], base_url=url, env=env)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        stream_chat(
            "openai",
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            base_url="http://10.0.0.1/v1",
            env=env,
        )


# -- parse says what it guessed, an empty file is empty, a cut event is truncation ----------------


def _mistral_fixture() -> bytes:
    from support import provider_fixtures_dir

    return (provider_fixtures_dir() / "mistral" / "incremental-tool-call.sse").read_bytes()


def test_parse_says_which_provider_it_guessed_and_from_what(tmp_path: Path) -> None:
    loose = tmp_path / "reply.sse"
    loose.write_bytes(_mistral_fixture())
    done = run("parse", str(loose))
    assert done.returncode == 0, done.stderr
    assert "provider guessed as 'openai' from the content" in done.stderr
    assert "pass -p" in done.stderr
    folder = tmp_path / "mistral"
    folder.mkdir()
    (folder / "reply.sse").write_bytes(_mistral_fixture())
    done = run("parse", str(folder / "reply.sse"))
    assert "provider guessed as 'mistral' from the folder name 'mistral'" in done.stderr
    assert "guessed" not in run("parse", str(loose), "-p", "mistral").stderr


def test_parse_says_an_empty_file_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sse"
    empty.write_bytes(b"")
    done = run("parse", str(empty), "-p", "openai")
    assert done.returncode == 1
    assert "is empty" in done.stderr


@pytest.mark.parametrize("strict", [True, False])
def test_a_file_cut_inside_an_event_is_reported_as_truncated(tmp_path: Path, strict: bool) -> None:
    data = _mistral_fixture()
    cut = tmp_path / "cut.sse"
    cut.write_bytes(data[: data.index(b"\n\n") + 60])  # inside the second event's JSON
    done = run("parse", str(cut), "-p", "mistral", *([] if strict else ["--no-strict"]))
    assert done.returncode == 1
    assert "cut off in the middle of its last event" in done.stderr
    assert "does not speak" not in done.stderr


# -- serve: stops on Ctrl-C whatever clients do, answers bad requests, refuses injected headers ---


def _start_serve(fixture: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    import re
    import select

    proc = subprocess.Popen(
        [*CLI, "serve", str(fixture), *extra],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=clean_env(),
    )
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], 20)
    assert ready, "serve printed nothing"
    first = proc.stderr.readline().decode()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
    assert match, first
    return proc, int(match.group(1))


def _fixture() -> Path:
    from support import provider_fixtures_dir

    return provider_fixtures_dir() / "openai-chat" / "parallel-tool-calls.sse"


@pytest.mark.parametrize(
    "client_sends",
    [b"", b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"],  # idle; a body that never comes
)
def test_serve_stops_at_once_on_ctrl_c_while_a_client_holds_a_connection(client_sends: bytes) -> None:
    import signal
    import socket
    import time

    proc, port = _start_serve(_fixture())
    try:
        with socket.create_connection(("127.0.0.1", port)) as client:
            if client_sends:
                client.sendall(client_sends)
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=10)
            assert time.monotonic() - started < 3.0
        assert code == 0
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3"])
def test_serve_answers_a_bad_content_length_with_400(length: bytes) -> None:
    import signal
    import socket

    proc, port = _start_serve(_fixture())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n")
            answer = client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_recording_whose_header_value_holds_a_line_break(tmp_path: Path) -> None:
    head = {
        "sansstream_recording": 1,
        "status": 200,
        "url": "http://x/",
        "headers": [["content-type", "text/event-stream\r\nSet-Cookie: injected=1"]],
    }
    path = tmp_path / "evil.jsonl"
    path.write_text(json.dumps(head) + "\n" + json.dumps({"t": 0, "data": "data: [DONE]\n\n"}) + "\n")
    done = run("serve", str(path), "--max-requests", "1")
    assert done.returncode == 1
    assert "CR, LF or NUL" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_max_requests_must_be_positive_and_help_says_the_default() -> None:
    done = run("serve", str(_fixture()), "--max-requests", "0")
    assert done.returncode == 2
    assert "at least 1" in done.stderr
    assert "serve until Ctrl-C" in " ".join(run("serve", "--help").stdout.split())
