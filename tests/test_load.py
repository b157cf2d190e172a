"""Load and resource tests over real loopback connections, for both transports.

- 200 streams open at the same time (each thread holds its stream open at a barrier until all
  200 have received their first chunk), each completing with the right text; afterwards the
  process has no more file descriptors or threads than before.
- A hostile server sending an endless line, or an endless event, is stopped by the size limit:
  ``EventTooLargeError``, the connection is closed (the server sees the client go), and the
  memory the stream used is released.

Sizes are scaled for a 2-core CI machine: STREAM_EVENTS events of ~100 bytes per stream
(~25 KB; 200 streams = ~5 MB per adapter) keep each adapter's run to a few seconds while the
200-way concurrency stays real.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from sansstream import stream_chat
from sansstream.model import EventTooLargeError
from sansstream.testing import FixtureResponse, FixtureServer

CONCURRENT_STREAMS = 200
STREAM_EVENTS = 250  # events per stream (~100 bytes each): ~25 KB per stream, ~5 MB per adapter
TRANSPORTS = ["requests", "h11"]
MESSAGES = [{"role": "user", "content": "hi"}]
BARRIER_TIMEOUT = 60.0
HOSTILE_BYTES = 40 * 1024 * 1024  # what the hostile server would send; the 16 MiB limit stops it first


def _openai_body(words: list[str]) -> list[bytes]:
    slices = [
        b"data: "
        + json.dumps({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": w}}]}).encode()
        + b"\n\n"
        for w in words
    ]
    finish = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    slices.append(b"data: " + json.dumps(finish).encode() + b"\n\n")
    slices.append(b"data: [DONE]\n\n")
    return slices


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settle(counter: Any, target: int, timeout: float = 10.0) -> int:
    """Wait until ``counter()`` drops to ``target`` (threads and sockets close asynchronously)."""
    deadline = time.monotonic() + timeout
    value = counter()
    while value > target and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
        value = counter()
    return int(value)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_200_concurrent_streams_complete_and_leak_nothing(transport: str) -> None:
    words = [f"w{i} " for i in range(STREAM_EVENTS)]
    expected = "".join(words)
    gc.collect()
    fds_before = _open_fds()
    threads_before = threading.active_count()

    barrier = threading.Barrier(CONCURRENT_STREAMS, timeout=BARRIER_TIMEOUT)
    results: list[str | None] = [None] * CONCURRENT_STREAMS
    errors: list[BaseException] = []
    peak_open = 0
    open_now = 0
    lock = threading.Lock()

    with FixtureServer(FixtureResponse(body=_openai_body(words))) as server:

        def worker(i: int) -> None:
            nonlocal open_now, peak_open
            try:
                stream = stream_chat(
                    "openai",
                    model="m",
                    messages=MESSAGES,
                    base_url=server.url + "/v1",
                    api_key="sk-test",
                    transport=transport,
                    retry=None,
                    timeout=30.0,
                )
                text = []
                with stream:
                    for n, chunk in enumerate(stream):
                        if n == 0:
                            with lock:
                                open_now += 1
                                peak_open = max(peak_open, open_now)
                            barrier.wait()  # every stream is open and delivering at once
                        text.append(getattr(chunk, "text", "") if chunk.type == "content" else "")
                    results[i] = stream.result().text
                    assert "".join(text) == results[i]
                with lock:
                    open_now -= 1
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONCURRENT_STREAMS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(BARRIER_TIMEOUT + 30)
        assert not any(t.is_alive() for t in threads), "a stream hung"

    assert not errors, f"{len(errors)} streams failed, first: {errors[0]!r}"
    assert peak_open == CONCURRENT_STREAMS
    assert results == [expected] * CONCURRENT_STREAMS
    assert _settle(threading.active_count, threads_before) <= threads_before
    assert _settle(_open_fds, fds_before) <= fds_before


def _endless_line() -> Iterator[bytes]:
    yield b"data: "
    piece = b"x" * 65536
    for _ in range(HOSTILE_BYTES // len(piece)):
        yield piece


def _endless_event() -> Iterator[bytes]:
    line = b"data: " + b"y" * 1017 + b"\n"  # 1 KiB lines, never a blank one
    piece = line * 64
    for _ in range(HOSTILE_BYTES // len(piece)):
        yield piece


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("body", [_endless_line, _endless_event], ids=["endless-line", "endless-event"])
def test_hostile_endless_stream_is_cut_and_memory_returns(transport: str, body: Any) -> None:
    gc.collect()
    fds_before = _open_fds()
    with FixtureServer(FixtureResponse(body=body())) as server:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        try:
            stream = stream_chat(
                "openai",
                model="m",
                messages=MESSAGES,
                base_url=server.url + "/v1",
                api_key="sk-test",
                transport=transport,
                retry=None,
                timeout=30.0,
            )
            with pytest.raises(EventTooLargeError):
                stream.result()
            del stream
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - base
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        # The client closed the connection: the server notices before sending all 40 MiB.
        assert server.client_disconnected.wait(10.0)
    limit = 16 * 1024 * 1024
    assert retained < 1024 * 1024, f"{retained} bytes still held after the error"
    assert peak < 4 * limit, f"peak {peak / 2**20:.1f} MiB for a 16 MiB limit"
    assert _settle(_open_fds, fds_before) <= fds_before
