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
import functools
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
    """bench.py's sansstream rows, run on ``pkg`` (this checkout's package or the old one)."""
    core = importlib.import_module(pkg.__name__ + ".core")
    model = importlib.import_module(pkg.__name__ + ".model")
    prov = importlib.import_module(pkg.__name__ + ".providers")
    out: dict[str, Callable[[list[bytes]], int]] = {}
    if kind == "sse":
        out["SSEParser.feed"] = functools.partial(bench.sse_sansstream, parser_class=core.SSEParser)
        out["receive_data/next_event"] = functools.partial(
            bench.sse_sansstream_pull, parser_class=core.SSEParser, need_data=model.NEED_DATA, end=model.END
        )
        out["iter_sse"] = functools.partial(bench.sse_sansstream_iter, iterate=core.iter_sse)
    else:
        out["NDJSONParser.feed"] = functools.partial(bench.ndjson_sansstream, parser_class=core.NDJSONParser)
    if provider:
        out["pipeline feed"] = bench.pipeline_sansstream(provider, machine_class=prov.StreamDecoder)
        out["decode_stream"] = bench.pipeline_sansstream_iter(provider, decode=prov.decode_stream)
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
