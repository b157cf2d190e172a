"""The CLI as users run it: ``python -m sansstream`` in a subprocess, on a pipe and under a
pseudo-terminal (tokens must appear progressively, not all at the end)."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time

import pytest
from support import provider_fixtures_dir

from sansstream.api import stream_chat
from sansstream.model import Accumulator
from sansstream.providers import decode_stream
from sansstream.server import sse_stream, stream_response
from sansstream.testing import FixtureResponse, FixtureServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pty and /proc are POSIX")

CLI = [sys.executable, "-m", "sansstream"]
ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "NO_COLOR"}
    env.update(extra)
    return env


def assert_port_closed(port: int) -> None:
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "ollama"])
def test_python_m_demo(provider: str) -> None:
    argv = [*CLI, "demo", "--speed", "4"] + ([] if provider == "openai" else ["--provider", provider])
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=20, env=clean_env())
    assert done.returncode == 0, done.stderr
    assert "sansstream reads streamed responses" in done.stdout
    assert "Ollama and the rest." in done.stdout
    assert "\x1b[" not in done.stdout  # piped: plain text
    metrics = done.stderr.strip().splitlines()[-1]
    assert re.search(
        r"first token \d+ ms \| 71 tokens \| [\d.]+ tokens/s \| total [\d.]+ s \| usage: in 7, out 71",
        metrics,
    )
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    assert_port_closed(port)  # the embedded server is gone with the process


def read_pty(
    argv: list[str], env: dict[str, str], timeout: float = 20
) -> tuple[int, list[tuple[float, bytes]], str]:
    """Run ``argv`` with stdout on a pseudo-terminal; return the exit code, the output reads with
    their arrival times, and stderr."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    reads: list[tuple[float, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            reads.append((time.monotonic(), data))
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        if proc.stderr is not None:
            proc.stderr.close()
    return code, reads, err


def assert_progressive(reads: list[tuple[float, bytes]], marker: bytes, expected_span: float) -> None:
    """The answer text (from ``marker`` on) arrived over many reads spread across the stream,
    not in one burst at the end."""
    start = next(i for i, (_, d) in enumerate(reads) if marker in d)
    text_reads = reads[start:]
    times = [t for t, _ in text_reads]
    assert len(text_reads) >= 10, text_reads
    span = times[-1] - times[0]
    assert span >= 0.5 * expected_span, (span, expected_span)
    # Weighted by bytes, half of the text had arrived well before the end.
    total = sum(len(d) for _, d in text_reads)
    seen = 0
    for t, d in text_reads:
        seen += len(d)
        if seen >= total / 2:
            assert times[0] + 0.2 * span <= t <= times[-1] - 0.2 * span
            break


def test_demo_on_a_terminal_prints_tokens_as_they_arrive() -> None:
    delay_ms = 15
    code, reads, err = read_pty([*CLI, "demo", "--delay-ms", str(delay_ms)], clean_env())
    assert code == 0, err
    output = b"".join(d for _, d in reads)
    assert b"\x1b[2mThey" in output  # reasoning dimmed on a terminal
    plain = ANSI.sub(b"", output).replace(b"\r\n", b"\n")
    assert b"sansstream reads streamed responses" in plain
    # 71 content pieces at 15 ms, the answer being about 60 of them.
    assert_progressive(reads, b"sansstream", expected_span=55 * delay_ms / 1000)
    assert "tokens/s" in err


def test_chat_on_a_terminal_against_a_local_server() -> None:
    delay = 0.02
    text = " ".join(f"word{i}" for i in range(40))
    body = list(sse_stream(stream_response(text, reasoning="Let me think."), format="openai"))
    with FixtureServer(FixtureResponse(body, delay=delay)) as server:
        argv = [
            *CLI,
            "chat",
            "-p",
            "openai",
            "-m",
            "local",
            "--base-url",
            server.url + "/v1",
            "--show-reasoning",
            "hi",
        ]
        code, reads, err = read_pty(argv, clean_env(OPENAI_API_KEY="sk-test"))
    assert code == 0, err
    output = b"".join(d for _, d in reads)
    assert b"\x1b[2mLet\x1b[0m" in output
    assert b"word39" in output
    assert_progressive(reads, b"word0", expected_span=39 * delay)


def test_serve_then_stream_chat_round_trip() -> None:
    fixture = provider_fixtures_dir() / "openai-chat" / "parallel-tool-calls.sse"
    pace_ms = 5
    proc = subprocess.Popen(
        [*CLI, "serve", str(fixture), "--pace-ms", str(pace_ms), "--max-requests", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 10)
        assert ready, "serve printed nothing"
        first = proc.stderr.readline().decode()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)  # type: ignore[union-attr]
        start = time.monotonic()
        result = stream_chat(
            "openai",
            model="m",
            messages=[{"role": "user", "content": "x"}],
            api_key="k",
            base_url=url + "/v1",
        ).result()
        elapsed = time.monotonic() - start
        assert proc.wait(timeout=10) == 0  # --max-requests 1: exits by itself
        log = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    acc = Accumulator()
    for chunk in decode_stream("openai", [fixture.read_bytes()]):
        acc.add(chunk)
    expected = acc.result()
    assert result.tool_calls == expected.tool_calls
    assert result.finish_reason == expected.finish_reason == "tool_calls"
    events = fixture.read_bytes().count(b"\n\n")
    assert elapsed >= 0.5 * (events - 1) * pace_ms / 1000  # paced, not dumped at once
    assert "POST /v1/chat/completions -> 200" in log


def test_python_m_error_is_one_line_without_traceback() -> None:
    done = subprocess.run(
        [*CLI, "chat", "-p", "anthropic", "-m", "claude", "hello"],
        check=False,
        capture_output=True,
        text=True,
        timeout=20,
        env=clean_env(),
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("sansstream: error: no API key")
    assert "ANTHROPIC_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr
