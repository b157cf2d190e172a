"""Old commit against this one, interleaved: sansstream's own rows of bench.py, side by side.

    python benchmarks/ab.py --against /path/to/old/checkout [--rounds 7] [--corpus openai]

Loads the other checkout's package under another name (``sansstream_old``), builds the corpora
of bench.py once, and times every sansstream row (SSEParser.feed, the pull API, iter_sse,
NDJSONParser, the StreamDecoder pipeline and decode_stream) on old and new alternately, round
after round, on the same slices; each cell is the median of its rounds (process CPU time). The
ratio new/old is what a change to the core or the pipeline must keep at 0.90 or better.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import statistics
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench


def load_old(root: Path) -> types.ModuleType:
    """The package at ``root/sansstream`` imported as ``sansstream_old`` (its imports are relative)."""
    init = root / "sansstream" / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        "sansstream_old", init, submodule_search_locations=[str(init.parent)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no sansstream package under {root}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sansstream_old"] = module
    spec.loader.exec_module(module)
    # The registry names the built-in provider modules by absolute path: point them at the copy.
    registry = importlib.import_module("sansstream_old.providers._registry")
    for name, (path, cls) in list(registry._BUILTINS.items()):
        registry._BUILTINS[name] = (path.replace("sansstream.", "sansstream_old.", 1), cls)
    return module


def rows(pkg: Any, kind: str, provider: str | None) -> dict[str, Callable[[list[bytes]], int]]:
    core = importlib.import_module(pkg.__name__ + ".core")
    model = importlib.import_module(pkg.__name__ + ".model")
    prov = importlib.import_module(pkg.__name__ + ".providers")
    out: dict[str, Callable[[list[bytes]], int]] = {}
    if kind == "sse":

        def feed(chunks: list[bytes]) -> int:
            parser = core.SSEParser(max_event_size=None)
            n = 0
            for chunk in chunks:
                n += len(parser.feed(chunk))
            return n + len(parser.feed(b""))

        def pull(chunks: list[bytes]) -> int:
            parser = core.SSEParser(max_event_size=None)
            receive, next_event, need = parser.receive_data, parser.next_event, model.NEED_DATA
            n = 0
            for chunk in chunks:
                receive(chunk)
                while next_event() is not need:
                    n += 1
            receive(b"")
            while next_event() is not model.END:
                n += 1
            return n

        def iterate(chunks: list[bytes]) -> int:
            return sum(1 for _ in core.iter_sse(chunks, max_event_size=None))

        out["SSEParser.feed"] = feed
        out["receive_data/next_event"] = pull
        out["iter_sse"] = iterate
    else:

        def ndjson(chunks: list[bytes]) -> int:
            parser = core.NDJSONParser(max_line_size=None)
            n = 0
            for chunk in chunks:
                n += len(parser.feed(chunk))
            return n + len(parser.feed(b""))

        out["NDJSONParser.feed"] = ndjson
    if provider:

        def pipeline(chunks: list[bytes]) -> int:
            machine = prov.StreamDecoder(provider)
            for chunk in chunks:
                machine.feed(chunk)
            machine.feed(b"")
            machine.result()
            return int(machine.wire_events)

        def decode(chunks: list[bytes]) -> int:
            return sum(1 for _ in prov.decode_stream(provider, chunks))

        out["pipeline feed"] = pipeline
        out["decode_stream"] = decode
    return out


def time_once(fn: Callable[[list[bytes]], int], chunks: list[bytes]) -> tuple[float, int]:
    gc.collect()
    t0 = bench._clock()
    n = fn(chunks)
    return bench._clock() - t0, n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", type=Path, required=True, help="the old checkout (a git worktree)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="bench.py's smaller corpora")
    ap.add_argument("--corpus", action="append", choices=("openai", "anthropic", "huge-1MB", "ollama"))
    ap.add_argument("--slices", type=int, nargs="*", default=list(bench.SLICES))
    args = ap.parse_args(argv)
    import sansstream as new

    old = load_old(args.against)
    print(f"new: {Path(new.__file__).parent.parent}  old: {args.against}  rounds: {args.rounds}")
    print("| corpus | row | " + " | ".join(f"{s} B old → new" for s in args.slices) + " |")
    print("|---|---|" + "---|" * len(args.slices))
    worst = 10.0
    for corpus in bench.corpora(args.quick):
        if args.corpus and corpus.name not in args.corpus:
            continue
        new_rows = rows(new, corpus.kind, corpus.provider)
        old_rows = rows(old, corpus.kind, corpus.provider)
        cells: dict[str, list[str]] = {name: [] for name in new_rows}
        for size in args.slices:
            data = corpus.build(corpus.scales[size])
            chunks = bench.cut(data, size)
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for name in new_rows:
                    for label, table in (("old", old_rows), ("new", new_rows)):
                        t, n = time_once(table[name], chunks)
                        times.setdefault((name, label), []).append(t)
                        times.setdefault((name, label + "n"), []).append(n)
            for name in new_rows:
                if times[(name, "oldn")][0] != times[(name, "newn")][0]:
                    raise SystemExit(f"{corpus.name} {name} {size} B: old and new counted different events")
                t_old = statistics.median(times[(name, "old")])
                t_new = statistics.median(times[(name, "new")])
                mb = len(data) / 1e6
                ratio = t_old / t_new
                worst = min(worst, ratio)
                cells[name].append(f"{mb / t_old:.1f} → {mb / t_new:.1f} (x{ratio:.2f})")
                print(f"  {corpus.name} {name} {size} B x{ratio:.2f}", file=sys.stderr, flush=True)
        for name, shown in cells.items():
            print(f"| {corpus.name} | {name} | " + " | ".join(shown) + " |")
    print(f"\nMB/s old → new (xnew/old speed); worst cell x{worst:.2f}")


if __name__ == "__main__":
    main()
