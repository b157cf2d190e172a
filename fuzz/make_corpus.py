"""Build the seed corpora of the fuzz harnesses from the conformance cases and provider fixtures.

``python fuzz/make_corpus.py`` writes ``fuzz/corpus-<target>/`` (git-ignored) for every target;
``seeds(target)`` returns the same inputs in memory (the CI smoke test uses it, so nothing has
to be written to run it). Every seed is a complete harness input: control byte + body.

Sources: the 723 SSE conformance bodies, the 78 recorded provider streams, and a handful of
hand-made hostile inputs per format (deep nesting, huge numbers, BOMs, CR/LF mixtures, NaN...).
Everything is deterministic (fixed seeds), so two runs write identical corpora.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT  # also puts tests/ on sys.path
from support import conformance_dir, provider_fixtures_dir

TARGETS = ("sse", "ndjson", "jsonarray", "eventstream", "providers", "roundtrip", "partialjson")
SEED_BODY_LIMIT = 16 * 1024  # longer fixtures are cut: fuzzers mutate small inputs far faster
# Fixture folder -> provider name, where they differ.
_DIR_PROVIDER = {"openai-chat": "openai", "openai-compatible": "openai"}


def _fixtures() -> list[tuple[str, Path]]:
    root = provider_fixtures_dir()
    out: list[tuple[str, Path]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            is_stream = path.suffix in (".sse", ".ndjson", ".bin", ".json")
            if is_stream and not path.name.endswith(".expected.json"):
                out.append((_DIR_PROVIDER.get(folder.name, folder.name), path))
    return out


def _bodies(suffix: str) -> list[bytes]:
    """Every fixture body with that extension, cut to ``SEED_BODY_LIMIT``."""
    return [path.read_bytes()[:SEED_BODY_LIMIT] for _n, path in _fixtures() if path.suffix == suffix]


def _sse_payloads() -> list[bytes]:
    """The ``data:`` payloads of every SSE fixture: realistic JSON lines for the JSON targets."""
    out: list[bytes] = []
    for _name, path in _fixtures():
        if path.suffix == ".sse":
            for line in path.read_bytes().splitlines():
                if line.startswith(b"data:") and line[5:].strip().startswith(b"{"):
                    out.append(line[5:].strip())
    return out


def _sse_seeds() -> list[bytes]:
    streams = sorted((conformance_dir() / "streams").glob("*.sse"))
    seeds = [bytes([i % 256]) + p.read_bytes() for i, p in enumerate(streams)]
    for i, (_name, path) in enumerate(_fixtures()):
        if path.suffix == ".sse":
            seeds.append(bytes([(i * 7) % 256]) + path.read_bytes()[:SEED_BODY_LIMIT])
    seeds += [
        b"\x00retry: " + b"9" * 5000 + b"\ndata: x\n\n",  # beyond int()'s 4300-digit limit
        b"\x03data: " + b"x" * 3000 + b"\n\n",  # a long line (small limits fire)
        b"\x05\xef\xbb\xbf\xef\xbb\xbfdata: a\r\n\r\n",
        b"\x01: keepalive\n\n" * 20,
    ]
    return seeds


def _ndjson_seeds() -> list[bytes]:
    seeds = [b"\x00" + body for body in _bodies(".ndjson")]
    payloads = _sse_payloads()
    rng = random.Random(1)
    for i in range(40):
        lines = rng.sample(payloads, min(len(payloads), 1 + i % 6))
        sep = (b"\n", b"\r\n", b"\n\n")[i % 3]
        seeds.append(bytes([i]) + sep.join(lines) + (sep if i % 2 else b""))
    seeds += [
        b"\x00" + b"[" * 100_000 + b"\n",  # json's recursion limit: must surface as our error
        b"\x01" + b"1" * 5000 + b"\n",  # int digit limit (ValueError from json)
        b'\x02\xef\xbb\xbf{"a": NaN}\n  \t\n{"b": -Infinity}\r\n',
        b'\x03{"s": "\xff\xfe"}\n{"t": "\\ud800"}\n',
        b"\x04\r\n\r\n1\r2\n",
        b'\x05{"a":1}{"b":2}\n',
    ]
    return seeds


def _jsonarray_seeds() -> list[bytes]:
    seeds = [b"\x00" + body for body in _bodies(".json")]
    payloads = _sse_payloads()
    rng = random.Random(2)
    for i in range(40):
        elems = rng.sample(payloads, min(len(payloads), i % 5))
        sep = (b",", b"\n,\r\n", b" , ")[i % 3]
        seeds.append(bytes([i]) + b"[" + sep.join(elems) + b"\n]")
    seeds += [
        b"\x00[]",
        b"\x01" + b"[" * 50_000,
        b'\x02{"error": {"code": 500, "message": "x"}}',
        b'\x03[1, "a\\"]b", {"k": [1, {"x": "]"}]}, null, true, -1.5e3]',
        b"\x04\xef\xbb\xbf[1\n,\r\n2\n]\n",
        b"\x05[1,]",
        b"\x06[1] [2]",
    ]
    return seeds


def _eventstream_seeds() -> list[bytes]:
    seeds = [bytes([0x80 | i]) + body for i, body in enumerate(_bodies(".bin"))]
    rng = random.Random(3)
    for i in range(64):
        # Built mode (control < 0x80): recipes of every mutation mode 0-3.
        seeds.append(bytes([i % 0x80]) + bytes(rng.randrange(256) for _ in range(rng.randrange(8, 160))))
    return seeds


def _provider_seeds() -> list[bytes]:
    seeds = []
    for name, path in _fixtures():
        control = 0x80 if path.suffix == ".json" else 0
        seeds.append(bytes([control]) + name.encode() + b"\x00" + path.read_bytes()[:SEED_BODY_LIMIT])
    return seeds


def _roundtrip_seeds() -> list[bytes]:
    rng = random.Random(4)
    tokens = [b"\r", b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf", b":", b" ", b"\xe2\x80\xa8", b"\xff"]
    seeds = []
    for i in range(64):
        body = b"".join(
            rng.choice(tokens) if rng.random() < 0.3 else bytes([rng.randrange(256)])
            for _ in range(rng.randrange(16, 256))
        )
        seeds.append(bytes([i]) + body)
    return seeds


def _partialjson_seeds() -> list[bytes]:
    """JSON texts: every line of the NDJSON fixtures, every ``data:`` payload of the SSE ones, and
    the tool-call argument texts inside them, so the seeds look like what providers stream."""
    texts: list[bytes] = []
    for body in _bodies(".ndjson"):
        texts.extend(line for line in body.splitlines() if line.strip())
    texts.extend(_sse_payloads())
    extra = []
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        stack = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                stack.extend(v.values())
                args = v.get("arguments") or v.get("partial_json")
                if isinstance(args, str) and args.startswith("{"):
                    extra.append(args.encode())
            elif isinstance(v, list):
                stack.extend(v)
    unique = sorted(set(texts + extra), key=lambda t: (len(t), t))[:400]
    return [bytes([i % 256]) + t for i, t in enumerate(unique)]


_BUILDERS = {
    "sse": _sse_seeds,
    "ndjson": _ndjson_seeds,
    "jsonarray": _jsonarray_seeds,
    "eventstream": _eventstream_seeds,
    "providers": _provider_seeds,
    "roundtrip": _roundtrip_seeds,
    "partialjson": _partialjson_seeds,
}


def seeds(target: str) -> list[bytes]:
    """The seed inputs of one harness (control byte + body each)."""
    return _BUILDERS[target]()


def write(target: str, folder: Path | None = None) -> Path:
    """Write ``target``'s seeds to ``fuzz/corpus-<target>/``, one file per seed named by hash."""
    folder = folder or ROOT / "fuzz" / f"corpus-{target}"
    folder.mkdir(parents=True, exist_ok=True)
    for data in seeds(target):
        (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
    return folder


def main(argv: list[str]) -> None:
    for target in argv or TARGETS:
        folder = write(target)
        print(f"{target}: {len(list(folder.iterdir()))} seeds in {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
