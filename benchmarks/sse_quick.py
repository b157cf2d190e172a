"""Quick side-by-side SSE parsing throughput on an OpenAI-like stream (run: python benchmarks/sse_quick.py).

Every contender parses the same bytes, cut into the same slices, in the same run; the table shows
MB/s (best of several rounds) and the ratio to sansstream. Contenders:

* sansstream ``SSEParser.feed`` and ``iter_sse``;
* httpx-sse: ``SSELineDecoder`` over incrementally decoded text plus ``SSEDecoder``, which is
  what ``EventSource.iter_sse`` runs on an httpx response;
* launchdarkly-eventsource: its buffered line reader plus ``_SSEReader``;
* a floor: ``bytes.split`` of the joined body into ``data:`` payloads (no incremental state, no
  decoding): what no real parser can beat.
"""

from __future__ import annotations

import codecs
import json
import sys
import time
from collections.abc import Callable, Iterator

from sansstream.core import SSEParser, iter_sse


def openai_like_stream(n_events: int = 20_000) -> bytes:
    """Chat Completions chunks of about 230 bytes each, then ``[DONE]``."""
    words = ["Hello", " world", ",", " this", " is", " a", " streamed", " reply", " with", " tokens"]
    out = []
    for i in range(n_events):
        payload = {
            "id": "chatcmpl-AbCdEfGh012",
            "object": "chat.completion.chunk",
            "created": 1730000000,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_0ba0d124f1",
            "choices": [
                {"index": 0, "delta": {"content": words[i % len(words)]}, "logprobs": None,
                 "finish_reason": None}
            ],
        }
        out.append(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def slices(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def run_sansstream_feed(chunks: list[bytes]) -> int:
    parser = SSEParser()
    n = 0
    for chunk in chunks:
        n += len(parser.feed(chunk))
    n += len(parser.feed(b""))
    return n


def run_sansstream_iter(chunks: list[bytes]) -> int:
    n = 0
    for _ in iter_sse(chunks):
        n += 1
    return n


def run_httpx_sse(chunks: list[bytes]) -> int:
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines = SSELineDecoder()
    sse = SSEDecoder()
    n = 0
    for chunk in chunks:
        for line in lines.decode(text_decoder.decode(chunk)):
            if sse.decode(line) is not None:
                n += 1
    for line in lines.flush():
        if sse.decode(line) is not None:
            n += 1
    return n


def run_launchdarkly(chunks: list[bytes]) -> int:
    from ld_eventsource.actions import Event
    from ld_eventsource.reader import _BufferedLineReader, _SSEReader

    reader = _SSEReader(_BufferedLineReader.lines_from(iter(chunks)))
    n = 0
    for item in reader.events_and_comments():
        if isinstance(item, Event):
            n += 1
    return n


def run_split_floor(chunks: list[bytes]) -> int:
    body = b"".join(chunks)
    return len([line[6:] for line in body.split(b"\n") if line[:6] == b"data: "])


CONTENDERS: list[tuple[str, Callable[[list[bytes]], int]]] = [
    ("sansstream SSEParser.feed", run_sansstream_feed),
    ("sansstream iter_sse", run_sansstream_iter),
    ("httpx-sse", run_httpx_sse),
    ("launchdarkly-eventsource", run_launchdarkly),
    ("floor: bytes.split", run_split_floor),
]


def rows(body: bytes, size: int, rounds: int) -> Iterator[tuple[str, float, int]]:
    """MB/s of each contender: the best of ``rounds`` interleaved runs, timed in process CPU
    time so that other processes competing for the cores do not count against anyone."""
    chunks = slices(body, size)
    best = dict.fromkeys([name for name, _ in CONTENDERS], float("inf"))
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for name, fn in CONTENDERS:
            t0 = time.process_time()
            counts[name] = fn(chunks)
            best[name] = min(best[name], time.process_time() - t0)
    for name, _ in CONTENDERS:
        yield name, len(body) / best[name] / 1e6, counts[name]


def main() -> None:
    body = openai_like_stream()
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    print(f"OpenAI-like stream: {len(body)} bytes, {body.count(b'data: ')} events")
    for size in (4096, 64, 1):
        results = list(rows(body if size > 1 else body[: len(body) // 10], size, rounds if size > 1 else 3))
        base = results[0][1]
        print(f"\nslice size {size} B")
        print(f"{'parser':28} {'MB/s':>9} {'vs feed':>8} {'events':>7}")
        for name, mbps, n in results:
            print(f"{name:28} {mbps:9.1f} {mbps / base:8.2f} {n:7d}")


if __name__ == "__main__":
    main()
