"""``sansstream inspect RECORDING`` and ``chat --timing`` (issue 16, "look, don't read"): the
report's numbers come from the recorded arrival times, the chart shows a stall as a gap, and both
run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sansstream.cli._timing import Timeline, rate_chart, timing_report
from sansstream.model import TextDelta, Usage
from sansstream.server import sse_stream, stream_response
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import Headers, RecordedSlice, Recording, save_recording

CLI = [sys.executable, "-m", "sansstream"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "NO_COLOR"}


def _delta(text: str) -> bytes:
    payload = {"id": "c", "object": "chat.completion.chunk", "model": "m",
               "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _stalled_recording(path: Path) -> None:
    """10 tokens every 100 ms from 0.2 s, a 3 s stall with keepalive comments, 10 more, [DONE]."""
    slices = [RecordedSlice(0.2 + 0.1 * i, _delta(f"a{i} ")) for i in range(10)]
    slices += [RecordedSlice(1.5, b": keepalive\n\n"), RecordedSlice(2.5, b": keepalive\n\n")]
    slices += [RecordedSlice(4.1 + 0.1 * i, _delta(f"b{i} ")) for i in range(10)]
    slices.append(RecordedSlice(5.1, b"data: [DONE]\n\n"))
    recording = Recording(
        status=200,
        headers=Headers([("content-type", "text/event-stream")]),
        url="http://127.0.0.1:1/v1/chat/completions",
        slices=tuple(slices),
        t_headers=0.15,
    )
    save_recording(recording, path)


def test_inspect_reports_a_stall(tmp_path: Path) -> None:
    path = tmp_path / "stalled.jsonl"
    _stalled_recording(path)
    done = subprocess.run(
        [*CLI, "inspect", str(path), "-p", "openai"],
        check=False,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "first byte 200 ms" in out
    assert "first token 200 ms" in out
    assert "20 tokens" in out
    assert "2 keepalives" in out
    assert "max 3000 ms" in out  # the stall: the last early token at 1.1 s, the next at 4.1 s
    chart_line = next(line for line in out.splitlines() if line.startswith("tokens/time"))
    chart = chart_line.split("|")[1]
    assert len(chart) == 10  # 20 tokens: about two a column
    assert " " in chart.strip()  # the stall is a gap inside the chart
    assert chart.strip()[0] != " "


def test_chat_timing_against_a_local_server() -> None:
    body = list(
        sse_stream(stream_response("one two three four five six seven eight", model="m"), format="openai")
    )
    with FixtureServer(FixtureResponse(body, delay=0.02)) as server:
        done = subprocess.run(
            [*CLI, "chat", "hi", "-p", "openai", "-m", "m", "--base-url", server.url + "/v1", "--timing"],
            check=False,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert "one two three" in done.stdout
    assert "first token" in done.stderr
    assert "tokens/s" in done.stderr
    assert "gaps between tokens: p50" in done.stderr
    assert "tokens/time |" in done.stderr


def test_the_report_from_known_times() -> None:
    timeline = Timeline(first_byte=0.05, end=2.0, keepalives=3)
    for i, t in enumerate([0.1, 0.2, 0.3, 0.4, 1.4, 1.5]):
        timeline.add(t, TextDelta(f"t{i}"))
    timeline.add(1.6, TextDelta(""))  # an empty delta is not a token
    timeline.add(1.7, Usage(output_tokens=9))
    lines = timing_report(timeline)
    assert lines[0] == "first byte 50 ms | first token 100 ms | total 2000 ms"
    assert lines[1] == "6 tokens (9 by the provider's count) | 3.6 tokens/s | 3 keepalives"
    # gaps 0.1, 0.1, 0.1, 1.0, 0.1: sorted, p90 at rank 3.6 is 0.1 + 0.6 * 0.9 s
    assert lines[2] == "gaps between tokens: p50 100 ms, p90 640 ms, p99 964 ms, max 1000 ms"


@pytest.mark.parametrize("width", [8, 48])
def test_the_chart_scales_to_the_busiest_column(width: int) -> None:
    times = [0.01 * i for i in range(50)] + [0.9]
    chart = rate_chart(times, 0.0, 1.0, width=width)
    assert len(chart) == width
    assert chart[0] == "█"
    assert chart[int(0.9 * width)] != " "  # the token at 0.9 s
    assert " " in chart  # the gap between 0.5 s and 0.9 s


def test_no_tokens_no_chart() -> None:
    assert rate_chart([], 0.0, 1.0) == ""
    assert (
        timing_report(Timeline(first_byte=0.1, end=0.5))[0] == "first byte 100 ms | no tokens | total 500 ms"
    )
