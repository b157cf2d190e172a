"""sansstream benchmarks: framing and full-pipeline throughput against the installed peers, linearity,
memory and latency, measured side by side in one run.

    .venv/bin/python benchmarks/bench.py            # the full run (a few minutes on a quiet machine)
    .venv/bin/python benchmarks/bench.py --quick    # smaller corpora, one repeat (a smoke run)

Everything is built in memory from fixed seeds, so two runs measure the same bytes. Each cell is
the median of repeated runs of one implementation over one corpus pre-cut into slices of one size
(cutting is not timed). Slow cells (tiny slices, quadratic peers) use a smaller corpus: the SCALE
column of the corpus list says by how much, so MB/s stay comparable while the run stays short.
A cell that exceeds CELL_TIMEOUT seconds is reported as "timeout" (a quadratic implementation on
a huge event, typically). Peers are the ``bench`` extra in setup.cfg and never runtime deps.

The measurements printed here are pasted into docs/performance.md; nothing in the test suite
asserts timings (machines are noisy).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import gc
import json
import random
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansstream.core import NDJSONParser, SSEParser, iter_sse
from sansstream.model import END, NEED_DATA
from sansstream.providers import StreamDecoder, decode_stream

SLICES = (1, 7, 64, 4096, 65536)
CELL_TIMEOUT = 20  # seconds for one run of one cell; beyond it the cell reads "timeout"
MB = 1_000_000

# ---------------------------------------------------------------------------------------------
# Corpora (deterministic)
# ---------------------------------------------------------------------------------------------

# Mostly ASCII words with a few multi-byte ones, so UTF-8 decoding is exercised as in real replies.
_WORDS = [
    *[
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "that",
        "for",
        "it",
        "as",
        "with",
        "was",
        "on",
        "be",
        "by",
        "this",
        "are",
        "or",
        "at",
        "from",
        "an",
        "not",
        "which",
    ],
    *["stream", "token", "server", "event", "parser", "bytes", "model", "reply", "chunk", "delta"],
    *["Ünïcödé", "流式", "🙂", "résumé"],
]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def openai_corpus(n_events: int, seed: int = 1) -> bytes:
    """An OpenAI Chat Completions stream: role chunk, ``n_events`` content chunks of ~230 bytes,
    a finish chunk, a usage chunk, ``[DONE]``."""
    rng = random.Random(seed)
    head = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion.chunk",
        "created": 1727346142,
        "model": "gpt-4o-mini-2024-07-18",
    }
    out = []

    def chunk(
        delta: dict[str, Any], finish: str | None = None, usage: Any = None, choices: bool = True
    ) -> None:
        body = dict(head)
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []
        if usage is not None:
            body["usage"] = usage
        out.append(b"data: " + json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n")

    chunk({"role": "assistant", "content": "", "refusal": None})
    for _ in range(n_events):
        chunk({"content": " " + _text(rng, rng.randint(1, 4))})
    chunk({}, finish="stop")
    chunk(
        {},
        usage={"prompt_tokens": 12, "completion_tokens": n_events, "total_tokens": n_events + 12},
        choices=False,
    )
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def anthropic_corpus(n_events: int, seed: int = 2) -> bytes:
    """An Anthropic Messages stream: ``event:`` lines, a ping every 40 deltas, text deltas."""
    rng = random.Random(seed)
    out = []

    def ev(name: str, body: dict[str, Any]) -> None:
        out.append(
            f"event: {name}\ndata: ".encode() + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"
        )

    ev(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "output_tokens": 1},
            },
        },
    )
    ev(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    for i in range(n_events):
        if i % 40 == 0:
            ev("ping", {"type": "ping"})
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": " " + _text(rng, rng.randint(1, 4))},
            },
        )
    ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    ev(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": n_events},
        },
    )
    ev("message_stop", {"type": "message_stop"})
    return b"".join(out)


def huge_corpus(n_events: int, event_size: int = 1 << 20, seed: int = 3) -> bytes:
    """``n_events`` events of about ``event_size`` bytes, each many ``data:`` lines of ~100 bytes."""
    rng = random.Random(seed)
    line = ("data: " + _text(rng, 20)[:94] + "\n").encode()
    lines_per_event = event_size // len(line)
    return b"".join(b"event: blob\n" + line * lines_per_event + b"\n" for _ in range(n_events))


def ollama_corpus(n_events: int, seed: int = 4) -> bytes:
    """An Ollama ``/api/chat`` NDJSON stream: one line per token, then the final stats line."""
    rng = random.Random(seed)
    out = []
    for i in range(n_events):
        out.append(
            json.dumps(
                {
                    "model": "llama3.2",
                    "created_at": f"2024-09-26T10:00:{i % 60:02d}.123456Z",
                    "message": {"role": "assistant", "content": " " + _text(rng, rng.randint(1, 3))},
                    "done": False,
                },
                ensure_ascii=False,
            ).encode()
            + b"\n"
        )
    out.append(
        json.dumps(
            {
                "model": "llama3.2",
                "created_at": "2024-09-26T10:01:00Z",
                "message": {"role": "assistant", "content": ""},
                "done_reason": "stop",
                "done": True,
                "total_duration": 4883583458,
                "load_duration": 1334875,
                "prompt_eval_count": 26,
                "prompt_eval_duration": 342546000,
                "eval_count": n_events,
                "eval_duration": 4535599000,
            }
        ).encode()
        + b"\n"
    )
    return b"".join(out)


@dataclass
class Corpus:
    name: str
    build: Callable[[float], bytes]  # scale -> bytes
    kind: str  # "sse" or "ndjson"
    provider: str | None  # for the pipeline rows
    scales: dict[int, float]  # slice size -> scale of the corpus used with it


def corpora(quick: bool) -> list[Corpus]:
    q = 0.1 if quick else 1.0
    small = {1: 0.01 * q, 7: 0.05 * q, 64: 0.25 * q, 4096: q, 65536: q}
    return [
        Corpus("openai", lambda s: openai_corpus(max(10, int(50_000 * s))), "sse", "openai", small),
        Corpus("anthropic", lambda s: anthropic_corpus(max(10, int(40_000 * s))), "sse", "anthropic", small),
        Corpus(
            "huge-1MB",
            lambda s: huge_corpus(max(1, round(4 * s)), int((1 << 20) * min(1.0, 4 * s))),
            "sse",
            None,
            {1: 0.0625 * q, 7: 0.25 * q, 64: q, 4096: q, 65536: q},
        ),
        Corpus("ollama", lambda s: ollama_corpus(max(10, int(50_000 * s))), "ndjson", "ollama", small),
    ]


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ---------------------------------------------------------------------------------------------
# Framing implementations: chunks -> number of events
# ---------------------------------------------------------------------------------------------


# (The sansstream rows take the classes they time as defaults, so that benchmarks/ab.py can run
# the very same loops on another checkout's package.)


def sse_sansstream(chunks: list[bytes], parser_class: Any = SSEParser) -> int:
    parser = parser_class(max_event_size=None)
    n = 0
    for chunk in chunks:
        n += len(parser.feed(chunk))
    return n + len(parser.feed(b""))


def sse_sansstream_pull(
    chunks: list[bytes], parser_class: Any = SSEParser, need_data: Any = NEED_DATA, end: Any = END
) -> int:
    """The h11-style pull API: ``receive_data`` per slice, ``next_event`` until ``NEED_DATA``."""
    parser = parser_class(max_event_size=None)
    receive, next_event = parser.receive_data, parser.next_event
    n = 0
    for chunk in chunks:
        receive(chunk)
        while next_event() is not need_data:
            n += 1
    receive(b"")
    while next_event() is not end:
        n += 1
    return n


def sse_sansstream_iter(chunks: list[bytes], iterate: Any = iter_sse) -> int:
    """The driver loop ``iter_sse`` over the slices (it coalesces slices without a line end)."""
    return sum(1 for _ in iterate(chunks, max_event_size=None))


def sse_httpx_sse(chunks: list[bytes]) -> int:
    # httpx-sse's own loop: httpx's incremental text decoding, SSELineDecoder, SSEDecoder.
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines, decoder, n = SSELineDecoder(), SSEDecoder(), 0
    for chunk in chunks:
        for line in lines.decode(text.decode(chunk)):
            if decoder.decode(line.rstrip("\n")) is not None:
                n += 1
    for line in lines.flush():
        if decoder.decode(line) is not None:
            n += 1
    return n


def sse_openai(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    return sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))


def sse_anthropic(chunks: list[bytes]) -> int:
    from anthropic._streaming import SSEDecoder

    return sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))


def sse_sseclient(chunks: list[bytes]) -> int:
    import sseclient

    return sum(1 for _ in sseclient.SSEClient(iter(chunks)).events())


class _RawStream:
    """Stands in for urllib3's response under ``requests.Response``: hands over our slices."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def stream(self, _chunk_size: int, decode_content: bool = True) -> Iterator[bytes]:
        return iter(self.chunks)


def sse_requests_sse(chunks: list[bytes], expected: int = 0) -> int:
    # requests-sse parses inside EventSource.__next__ over requests' iter_lines(); it reconnects
    # at the end of the body, so we stop after the expected number of events.
    import requests
    from requests_sse import EventSource

    response = requests.Response()
    response.raw = _RawStream(chunks)
    response.status_code = 200
    source = EventSource("http://127.0.0.1/")
    source._response = response
    source._data_generator = response.iter_lines(chunk_size=max(1, len(chunks[0]) if chunks else 1))
    source._origin = "http://127.0.0.1"
    n = 0
    while n < expected:
        next(source)
        n += 1
    return n


def sse_launchdarkly(chunks: list[bytes]) -> int:
    from ld_eventsource.actions import Event
    from ld_eventsource.reader import _BufferedLineReader, _SSEReader

    reader = _SSEReader(_BufferedLineReader.lines_from(iter(chunks)))
    return sum(1 for item in reader.events_and_comments() if isinstance(item, Event))


def sse_bare_split(chunks: list[bytes]) -> int:
    """The floor: cut blocks on ``\\n\\n`` and decode each one; no field parsing at all."""
    buf = bytearray()
    n = 0
    for chunk in chunks:
        start = max(0, len(buf) - 1)
        buf += chunk
        if buf.find(b"\n\n", start) < 0:
            continue
        parts = bytes(buf).split(b"\n\n")
        buf = bytearray(parts.pop())
        for part in parts:
            part.decode("utf-8")
            n += 1
    return n


def ndjson_sansstream(chunks: list[bytes], parser_class: Any = NDJSONParser, **opts: Any) -> int:
    """NDJSONParser as installed: with the ``fast`` extra (orjson) its default is the exact
    orjson route; ``orjson_loads=None`` keeps it on the standard library."""
    parser = parser_class(max_line_size=None, **opts)
    n = 0
    for chunk in chunks:
        n += len(parser.feed(chunk))
    return n + len(parser.feed(b""))


def ndjson_sansstream_stdlib(chunks: list[bytes]) -> int:
    return ndjson_sansstream(chunks, orjson_loads=None)


def ndjson_httpx_lines(chunks: list[bytes]) -> int:
    """What ollama-python does under the hood: httpx's iter_lines + json.loads per line."""
    from httpx._decoders import LineDecoder

    text = codecs.getincrementaldecoder("utf-8")("replace")
    lines, n = LineDecoder(), 0
    for chunk in chunks:
        for line in lines.decode(text.decode(chunk)):
            if line:
                json.loads(line)
                n += 1
    for line in lines.flush():
        if line:
            json.loads(line)
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# Full pipelines: chunks -> typed chunks -> final result
# ---------------------------------------------------------------------------------------------


def pipeline_sansstream(
    provider: str, machine_class: Any = StreamDecoder, **opts: Any
) -> Callable[[list[bytes]], int]:
    def run(chunks: list[bytes]) -> int:
        machine = machine_class(provider, **opts)  # keeps its own Accumulator: result() is final
        feed = machine.feed
        for chunk in chunks:
            feed(chunk)
        feed(b"")
        machine.result()
        return int(machine.wire_events)

    return run


def pipeline_sansstream_iter(provider: str, decode: Any = decode_stream) -> Callable[[list[bytes]], int]:
    """``decode_stream`` over the slices: the iterator API, as the SDKs are driven."""

    def run(chunks: list[bytes]) -> int:
        n = 0
        for _ in decode(provider, chunks):
            n += 1
        return n

    return run


def _mock_client(chunks: list[bytes], content_type: str, module: str = "httpx") -> Any:
    """An httpx client whose transport answers every request with ``chunks``. (anthropic 2.x
    uses the ``httpx2`` fork, which has the same API.)"""
    import importlib

    httpx = importlib.import_module(module)

    def handler(_request: Any) -> Any:
        return httpx.Response(200, headers={"content-type": content_type}, content=iter(chunks))

    return httpx.Client(transport=httpx.MockTransport(handler))


def pipeline_openai_helper(chunks: list[bytes]) -> int:
    """openai's ``client.chat.completions.stream`` (it accumulates the final completion)."""
    import openai

    client = openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        http_client=_mock_client(chunks, "text/event-stream"),
    )
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    ) as s:
        for _ in s:
            pass
        s.get_final_completion()
    return 0  # events/s of pipelines are computed from the wire event count


def pipeline_openai_raw(chunks: list[bytes]) -> int:
    """openai's ``create(stream=True)``: typed chunks, text concatenated by the caller."""
    import openai

    client = openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        http_client=_mock_client(chunks, "text/event-stream"),
    )
    parts = []
    for c in client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    ):
        if c.choices and c.choices[0].delta.content:
            parts.append(c.choices[0].delta.content)
    "".join(parts)
    return 0  # events/s of pipelines are computed from the wire event count


def _anthropic_httpx() -> str:
    import anthropic._base_client as base

    return "httpx2" if "httpx2" in sys.modules or hasattr(base, "httpx2") else "httpx"


def pipeline_anthropic_helper(chunks: list[bytes]) -> int:
    """anthropic's ``client.messages.stream`` (accumulates the final message)."""
    import anthropic

    client = anthropic.Anthropic(
        api_key="sk-bench",
        base_url="http://bench.invalid",
        http_client=_mock_client(chunks, "text/event-stream", _anthropic_httpx()),
    )
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        for _ in s:
            pass
        s.get_final_message()
    return 0  # events/s of pipelines are computed from the wire event count


def pipeline_ollama(chunks: list[bytes]) -> int:
    """ollama-python's ``Client.chat(stream=True)``: its NDJSON loop and pydantic responses."""
    import httpx
    import ollama

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=iter(chunks))

    client = ollama.Client(host="http://bench.invalid:11434", transport=httpx.MockTransport(handler))
    parts = [
        r.message.content or ""
        for r in client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True)
    ]
    "".join(parts)
    return 0  # events/s of pipelines are computed from the wire event count


# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def fire(_signum: int, _frame: FrameType | None) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Cell:
    mb_s: float | None  # None: timed out
    ev_s: float | None
    note: str = ""


def _clock() -> float:
    """Process CPU time: every implementation is single-threaded Python, so CPU time is the work
    it did, unaffected by other processes taking the (shared) cores."""
    return time.process_time()


def measure_round_robin(
    runs: list[Callable[[list[bytes]], int]], chunks: list[bytes], size: int, repeats: int
) -> list[Cell]:
    """Time every implementation on the same chunks, interleaved (one run of each per round),
    so a disturbance hits them all alike; each cell is the median of its rounds."""
    times: list[list[float]] = [[] for _ in runs]
    events = [0] * len(runs)
    dropped = [False] * len(runs)  # timed out, or too slow to repeat
    for round_no in range(repeats):
        for i, fn in enumerate(runs):
            if dropped[i]:
                continue
            gc.collect()
            try:
                with _alarm(CELL_TIMEOUT):
                    t0 = _clock()
                    events[i] = fn(chunks)
                    times[i].append(_clock() - t0)
            except _Timeout:
                dropped[i] = True
                continue
            # One slow run is enough to rank a slow implementation; fast ones get every round.
            if round_no == 0 and times[i][0] > CELL_TIMEOUT / 4:
                dropped[i] = True
    cells = []
    for i in range(len(runs)):
        if not times[i]:
            cells.append(Cell(None, None, f"timeout >{CELL_TIMEOUT}s"))
            continue
        t = max(statistics.median(times[i]), 1e-9)
        cells.append(Cell(size / t / MB, events[i] / t))
    return cells


def _fmt(cell: Cell | None, best: float | None = None) -> str:
    if cell is None:
        return "-"
    if cell.mb_s is None or cell.ev_s is None:
        return cell.note
    ev = f"{cell.ev_s / 1000:.0f}k" if cell.ev_s >= 1000 else f"{cell.ev_s:.0f}"
    ratio = f" x{cell.mb_s / best:.2f}" if best else ""
    return f"{cell.mb_s:.1f} MB/s {ev} ev/s{ratio}"


def group(name: str) -> str:
    """Rows are compared within their kind: framing parsers, or full pipelines."""
    pipeline = ("pipeline", "decode_stream", "SDK", "ollama-python")
    return "pipeline" if any(word in name for word in pipeline) else "framing"


def throughput_table(quick: bool, repeats: int, only: list[str] | None = None) -> None:
    sse_peers: list[tuple[str, Callable[..., int]]] = [
        ("httpx-sse", sse_httpx_sse),
        ("openai SSEDecoder", sse_openai),
        ("anthropic SSEDecoder", sse_anthropic),
        ("sseclient-py", sse_sseclient),
        ("requests-sse", sse_requests_sse),
        ("launchdarkly", sse_launchdarkly),
    ]
    rows: list[tuple[str, str, dict[int, Cell], bool]] = []  # corpus, impl, cells, is_peer
    scale_notes: list[str] = []
    for corpus in corpora(quick):
        if only and corpus.name not in only:
            continue
        data_by_slice = {}
        for size in SLICES:
            data_by_slice[size] = corpus.build(corpus.scales[size])
        scale_notes.append(
            f"{corpus.name}: " + ", ".join(f"{s}B slices {len(data_by_slice[s]) / MB:.2f} MB" for s in SLICES)
        )
        impls: list[tuple[str, Callable[[list[bytes]], int], bool]] = []
        if corpus.kind == "sse":
            impls.append(("sansstream SSEParser", sse_sansstream, False))
            impls.append(("sansstream receive_data/next_event", sse_sansstream_pull, False))
            impls.append(("sansstream iter_sse", sse_sansstream_iter, False))
            for name, fn in sse_peers:
                impls.append((name, fn, True))
            impls.append(("floor: bytes.split", sse_bare_split, False))
        else:
            impls.append(("sansstream NDJSONParser", ndjson_sansstream, False))
            impls.append(("sansstream NDJSONParser, stdlib json", ndjson_sansstream_stdlib, False))
            impls.append(("httpx iter_lines+json", ndjson_httpx_lines, True))
        if corpus.provider:
            impls.append(
                (f"sansstream pipeline ({corpus.provider})", pipeline_sansstream(corpus.provider), False)
            )
            impls.append(
                (
                    f"sansstream decode_stream ({corpus.provider})",
                    pipeline_sansstream_iter(corpus.provider),
                    False,
                )
            )
            if corpus.kind == "ndjson":
                impls.append(
                    (
                        f"sansstream pipeline ({corpus.provider}), stdlib json",
                        pipeline_sansstream(corpus.provider, orjson_loads=None),
                        False,
                    )
                )
        pipeline_peers: list[tuple[str, Callable[..., int]]] = {
            "openai": [
                ("openai SDK .stream() helper", pipeline_openai_helper),
                ("openai SDK stream=True", pipeline_openai_raw),
            ],
            "anthropic": [("anthropic SDK messages.stream", pipeline_anthropic_helper)],
            "ollama": [("ollama-python chat(stream)", pipeline_ollama)],
        }.get(corpus.provider or "", [])
        expected = {
            s: sse_sansstream(cut(data_by_slice[s], 65536)) if corpus.kind == "sse" else 0 for s in SLICES
        }
        wire = {
            s: pipeline_sansstream(corpus.provider)(cut(data_by_slice[s], 65536)) if corpus.provider else 0
            for s in SLICES
        }
        for name, fn in pipeline_peers:
            impls.append((name, fn, True))
        by_impl: dict[str, dict[int, Cell]] = {name: {} for name, _fn, _peer in impls}
        for size in SLICES:
            data = data_by_slice[size]
            chunks = cut(data, size)
            runs: list[Callable[[list[bytes]], int]] = [
                functools.partial(sse_requests_sse, expected=expected[size]) if fn is sse_requests_sse else fn
                for _name, fn, _peer in impls
            ]
            measured = measure_round_robin(runs, chunks, len(data), repeats)
            for (name, _fn, _peer), cell in zip(impls, measured, strict=True):
                if group(name) == "pipeline" and cell.mb_s is not None:
                    # pipelines count wire events (what the SDKs iterate over)
                    cell.ev_s = cell.mb_s * MB / len(data) * wire[size]
                by_impl[name][size] = cell
                print(f"  {corpus.name:9} {name:32} {size:>6}B {_fmt(cell)}", file=sys.stderr, flush=True)
        for name, _fn, is_peer in impls:
            rows.append((corpus.name, name, by_impl[name], is_peer))

    # Ratios: every row against the best peer of its group in that column (framing vs framing
    # peers, pipeline vs pipeline peers).
    best: dict[tuple[str, str, int], float] = {}
    for corpus_name, name, cells, is_peer in rows:
        if not is_peer:
            continue
        for size, cell in cells.items():
            if cell.mb_s is not None:
                key = (corpus_name, group(name), size)
                best[key] = max(best.get(key, 0.0), cell.mb_s)
    print()
    print("| corpus | implementation | " + " | ".join(f"{s} B slices" for s in SLICES) + " |")
    print("|---|---|" + "---|" * len(SLICES))
    for corpus_name, name, cells, _is_peer in rows:
        shown = [_fmt(cells.get(s), best.get((corpus_name, group(name), s))) for s in SLICES]
        print(f"| {corpus_name} | {name} | " + " | ".join(shown) + " |")
    print()
    print("Cells: MB/s, events/s (wire events for pipelines), xratio to the fastest peer of the same kind")
    print("(framing peers for parsers and the floor, SDK pipelines for pipelines). Corpus sizes used:")
    for note in scale_notes:
        print(f"- {note}")


# ---------------------------------------------------------------------------------------------
# Linearity, memory, latency
# ---------------------------------------------------------------------------------------------


def _time_feed(event: bytes, size: int) -> float:
    parser = SSEParser(max_event_size=None)
    chunks = cut(event, size)
    gc.collect()
    t0 = _clock()
    for chunk in chunks:
        parser.feed(chunk)
    out = parser.feed(b"")
    elapsed = _clock() - t0
    assert len(out) == 1 or out == [], out
    return elapsed


def linearity(quick: bool) -> None:
    big_mib = 2 if quick else 8
    print()
    print(f"Linearity: per-byte cost of one {big_mib} MiB event vs one 1 MiB event (single data line)")
    print()
    print("| slice | 1 MiB: ns/byte | " + f"{big_mib} MiB: ns/byte | ratio |")
    print("|---|---|---|---|")
    for size in (1, 16):
        small = b"data: " + b"x" * (1 << 20) + b"\n\n"
        big = b"data: " + b"x" * (big_mib << 20) + b"\n\n"
        t_small = statistics.median(_time_feed(small, size) for _ in range(3))
        t_big = statistics.median(_time_feed(big, size) for _ in range(3 if size > 1 else 1))
        a = t_small / len(small) * 1e9
        b = t_big / len(big) * 1e9
        print(f"| {size} B | {a:.0f} | {b:.0f} | {b / a:.2f} |")


def memory() -> None:
    print()
    print("Memory")
    print()
    SSEParser()  # warm up module-level caches outside the measurement
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    parsers = [SSEParser() for _ in range(100)]
    idle_bytes = (tracemalloc.get_traced_memory()[0] - base - sys.getsizeof(parsers)) / len(parsers)
    tracemalloc.stop()
    del parsers
    size = 16 << 20
    event = b"data: " + b"y" * size + b"\n\n"
    chunks = cut(event, 65536)
    gc.collect()
    tracemalloc.start()
    parser = SSEParser(max_event_size=None)
    got = []
    for chunk in chunks:
        got += parser.feed(chunk)
    got += parser.feed(b"")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print("| measure | value |")
    print("|---|---|")
    print(f"| idle SSEParser (tracemalloc, mean of 100 fresh instances) | {idle_bytes:.0f} B |")
    print(
        f"| 16 MiB event in 64 KiB slices: tracemalloc peak | {peak / size:.2f}x the event "
        f"({peak / MB:.1f} MB) |"
    )


_LATENCY_SERVER = r"""
import socket, sys, time
n, interval = int(sys.argv[1]), float(sys.argv[2])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
print(listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
request = b""
while b"\r\n\r\n" not in request:
    request += conn.recv(65536)
conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
sent = []
for i in range(n):
    time.sleep(interval)
    event = b'data: {"i": %d, "pad": "%s"}\n\n' % (i, b"x" * 200)
    sent.append(time.perf_counter())  # stamped just before the write: the reader may win the race
    conn.sendall(event)
conn.close()
print(" ".join(repr(t) for t in sent), flush=True)
"""


def latency(quick: bool) -> None:
    """A loopback server in a separate process (so it never competes for our GIL) sends one
    event every 20 ms and stamps each write; the client stamps each event as the parser returns
    it. ``time.perf_counter`` is CLOCK_MONOTONIC on Linux, shared by both processes."""
    import subprocess

    from sansstream.providers import HTTPRequest
    from sansstream.transports import H11Transport, RequestsTransport

    n = 50 if quick else 250
    print()
    print(f"Latency: event written by the server -> event returned to the caller ({n} events, one per 20 ms)")
    print()
    print("| adapter | p50 | p99 | max |")
    print("|---|---|---|---|")
    transports: list[tuple[str, Callable[[], Any]]] = [("requests", RequestsTransport), ("h11", H11Transport)]
    for name, make in transports:
        server = subprocess.Popen(
            [sys.executable, "-c", _LATENCY_SERVER, str(n), "0.02"], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None
        port = int(server.stdout.readline())
        transport = make()
        received: list[float] = []
        response = transport.open(HTTPRequest("GET", f"http://127.0.0.1:{port}/"))
        parser = SSEParser()
        try:
            while len(received) < n:
                data = response.read(5.0)
                if not data:
                    break
                for _ in parser.feed(data):
                    received.append(time.perf_counter())
        finally:
            response.close()
            transport.close()
        sent = [float(t) for t in server.stdout.readline().split()]
        server.wait(10)
        lat = sorted((r - t) * 1000 for r, t in zip(received, sent, strict=False))
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"| {name} | {p50:.3f} ms | {p99:.3f} ms | {lat[-1]:.3f} ms |")


def import_times(runs: int = 5) -> str:
    """Median wall time of importing ``sansstream`` and ``sansstream.core`` in a fresh
    interpreter (what a script or an embedder pays before its first byte)."""
    out = []
    for module in ("sansstream", "sansstream.core"):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        argv = [sys.executable, "-c", code]
        runs_out = [subprocess.run(argv, capture_output=True, text=True, check=True) for _ in range(runs)]
        times = sorted(float(done.stdout) for done in runs_out)
        out.append(f"import {module}: {times[len(times) // 2] * 1000:.1f} ms")
    return "import time (median of 5 fresh interpreters): " + ", ".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller corpora and one repeat")
    ap.add_argument(
        "--repeats", type=int, default=None, help="runs per cell (median); default 3, 1 with --quick"
    )
    ap.add_argument("--only", choices=("throughput", "linearity", "memory", "latency"), action="append")
    ap.add_argument(
        "--corpus",
        choices=("openai", "anthropic", "huge-1MB", "ollama"),
        action="append",
        help="throughput rows",
    )
    args = ap.parse_args(argv)
    # The SDKs warn about the (fake) model names used with their mock transports.
    warnings.simplefilter("ignore", DeprecationWarning)
    repeats = args.repeats or (1 if args.quick else 3)
    parts = args.only or ["throughput", "linearity", "memory", "latency"]
    print(
        f"sansstream benchmarks — Python {sys.version.split()[0]}, {'quick' if args.quick else 'full'} run, "
        f"median of {repeats}"
    )
    print(import_times())
    if "throughput" in parts:
        throughput_table(args.quick, repeats, args.corpus)
    if "linearity" in parts:
        linearity(args.quick)
    if "memory" in parts:
        memory()
    if "latency" in parts:
        latency(args.quick)


if __name__ == "__main__":
    main()
