"""I/O-engine figures over loopback (issue 12): delivery latency, throughput, time to fire per
timeout kind, and threads / file descriptors around many cancels during the header wait.

Run from a checkout: ``PYTHONPATH=. python benchmarks/io_engine.py [--cancels 1000]``. It uses
only public API that existed before the engine work, so the same script measures an older tree
(``PYTHONPATH=/path/to/old``) for before/after figures. Servers are raw sockets on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from sansstream.api import NO_RETRY, ChatStream, stream_chat
from sansstream.model import SansStreamError, StreamTimeout
from sansstream.transports import Timeouts

MESSAGES = [{"role": "user", "content": "Hi"}]


def chunk(text: str) -> bytes:
    payload = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class Server:
    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.script = script
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                piece = conn.recv(65536)
                if not piece:
                    return
                data += piece
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            self.script(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: close\r\n\r\n"
)


def send_chunked(conn: socket.socket, data: bytes) -> None:
    conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")


def chat(url: str, transport: str, **kw: Any) -> ChatStream:
    return stream_chat(
        "openai",
        model="m",
        messages=MESSAGES,
        base_url=url,
        api_key="sk-bench",
        transport=transport,
        retry=NO_RETRY,
        **kw,
    )


def latency(transport: str, n: int = 200) -> tuple[float, float]:
    def script(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        for _ in range(n):
            send_chunked(conn, chunk(repr(time.perf_counter())))
            time.sleep(0.003)
        send_chunked(conn, b"data: [DONE]\n\n")
        conn.sendall(b"0\r\n\r\n")

    server = Server(script)
    gaps = []
    for text in chat(server.url, transport).text_stream():
        gaps.append(time.perf_counter() - float(text))
    server.close()
    gaps.sort()
    return statistics.median(gaps) * 1e6, gaps[int(len(gaps) * 0.99) - 1] * 1e6


def throughput(transport: str, events: int = 100_000) -> float:
    body = b"".join(chunk(f"tok{i} ") for i in range(events)) + b"data: [DONE]\n\n"

    def script(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        view = memoryview(body)
        for i in range(0, len(body), 16384):
            send_chunked(conn, bytes(view[i : i + 16384]))
        conn.sendall(b"0\r\n\r\n")

    server = Server(script)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        result = chat(server.url, transport).result()
        took = time.perf_counter() - started
        assert len(result.text) > events
        best = max(best, len(body) / took / 1e6)
    server.close()
    return best


def unaccepting() -> tuple[socket.socket, list[socket.socket], int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(64):
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            break
        fillers.append(s)
    return listener, fillers, port


def time_to_fire(transport: str, kind: str, limit: float = 1.0) -> str:
    def trickle(conn: socket.socket) -> None:
        for b in b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pad: " + b"a" * 400:
            conn.sendall(bytes([b]))
            time.sleep(0.1)

    def keepalives(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        for _ in range(100):
            send_chunked(conn, b": ping\n\n")
            time.sleep(0.1)

    def silent_after_headers(conn: socket.socket) -> None:
        conn.sendall(HEAD)
        time.sleep(10)

    none: dict[str, float | None] = {
        "connect": None,
        "first_byte": None,
        "first_token": None,
        "idle": None,
        "read": None,
        "total": None,
    }
    cases: dict[str, tuple[Callable[[socket.socket], None] | None, dict[str, float | None]]] = {
        "connect": (None, {**none, "connect": limit}),
        "first_byte (trickled headers)": (trickle, {**none, "first_byte": limit}),
        "first_token (trickled headers)": (trickle, {**none, "first_token": limit}),
        "total (trickled headers)": (trickle, {**none, "total": limit}),
        "first_token (keepalives)": (keepalives, {**none, "first_token": limit}),
        "idle (keepalives)": (keepalives, {**none, "idle": limit}),
        "read (silent body)": (silent_after_headers, {**none, "read": limit}),
        "total (keepalives)": (keepalives, {**none, "total": limit}),
    }
    script, settings = cases[kind]
    holder = None
    if script is None:
        holder = unaccepting()
        url = f"http://127.0.0.1:{holder[2]}/v1"
        server = None
    else:
        server = Server(script)
        url = server.url
    started = time.monotonic()
    outcome = "no error"
    try:
        chat(url, transport, timeout=Timeouts(**settings)).result()
    except StreamTimeout as exc:
        outcome = type(exc).__name__
    except SansStreamError as exc:
        outcome = type(exc).__name__
    except BaseException as exc:  # a benchmark reports everything
        outcome = "LEAK " + type(exc).__name__
    elapsed = time.monotonic() - started
    if server is not None:
        server.close()
    if holder is not None:
        for s in holder[1]:
            s.close()
        holder[0].close()
    return f"{elapsed:6.3f}s  {outcome}"


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def cancels(transport: str, n: int) -> str:
    def stall(conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

    server = Server(stall)
    threads0, fds0 = threading.active_count(), fds()
    worst = 0.0
    leaked_errors = 0
    for _ in range(n):
        stream = chat(server.url, transport)
        errors: list[BaseException] = []

        def run(s: ChatStream = stream, errors: list[BaseException] = errors) -> None:
            try:
                list(s)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.005)
        started = time.monotonic()
        stream.cancel()
        t.join(10)
        worst = max(worst, time.monotonic() - started)
        leaked_errors += len(errors)
    time.sleep(0.5)
    server_threads = len([c for c in server.conns if c.fileno() != -1])
    server.close()
    time.sleep(0.5)
    return (
        f"threads {threads0} -> {threading.active_count()} (server-side threads still open: "
        f"{server_threads}), fds {fds0} -> {fds()}, slowest cancel {worst * 1000:.1f} ms, "
        f"errors raised by iteration {leaked_errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cancels", type=int, default=1000)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    for transport in ("requests", "h11"):
        print(f"== {transport}")
        if args.only in ("", "speed"):
            med, p99 = latency(transport)
            print(f"latency: median {med:.0f} us, p99 {p99:.0f} us")
            print(f"throughput: {throughput(transport):.1f} MB/s")
        if args.only in ("", "timeouts"):
            for kind in (
                "connect",
                "first_byte (trickled headers)",
                "first_token (trickled headers)",
                "total (trickled headers)",
                "first_token (keepalives)",
                "idle (keepalives)",
                "read (silent body)",
                "total (keepalives)",
            ):
                print(f"time to fire, limit 1s, {kind:32s}: {time_to_fire(transport, kind)}")
        if args.only in ("", "cancels"):
            print(f"{args.cancels} cancels during the header wait: {cancels(transport, args.cancels)}")


if __name__ == "__main__":
    main()
