"""Shared helpers for the provider fixture tests (every provider family uses them).

Interface (kept stable for every test module that imports it):

- ``FEED_MODES`` / ``feed_modes``: the three ways bytes are fed (``whole``, ``bytewise``,
  ``random``) and a ``pytest.mark.parametrize("feed_mode", ...)`` decorator for them.
- ``fixture_cases(*family_dirs) -> list[(path, expected)]``: every recorded stream in those
  fixture folders with the ``expected`` object of its ``.expected.json``.
- ``fixture_params(*family_dirs)``: the same as ``pytest.param``s with readable ids
  (``"openai-chat/refusal"``), ready for ``@pytest.mark.parametrize("path, expected", ...)``.
- ``provider_for_fixture(path) -> (provider_name, decode_options)``: which registered provider
  decodes a fixture and with which extra options (the Gemini ``.json`` file needs
  ``framing="json-array"``).
- ``decode_all(provider, data, feed_mode="whole", **kw) -> Decoded(chunks, result, error)``:
  run the whole pipeline, never raising a ``SansStreamError``: the error (if any) is returned,
  ``chunks`` are the chunks delivered before it and ``result`` the (partial) ``ChatResult``.
- ``decode_fixture(path, feed_mode="whole", **kw)``: ``decode_all`` with the fixture's provider.
- ``provider_available(name) -> bool``: the provider is registered and its module is written
  (lets cross-family tests such as truncation cover the families that exist).
- ``wire_event_offsets(data) -> list[int]``: byte offsets just after each blank-line event
  terminator (SSE) or newline (NDJSON): the natural places to cut a stream.
- ``pull_chunks(machine, pieces)`` / ``feed_chunks(machine, pieces)`` -> ``(chunks, error)``:
  drive a ``StreamDecoder`` through ``receive_data``/``next_chunk`` or through ``feed()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from support import FEEDS, provider_fixtures_dir

from sansstream.model import END, NEED_DATA, Accumulator, ChatResult, Chunk, SansStreamError
from sansstream.providers import Provider, StreamDecoder, get

__all__ = [
    "FEED_MODES",
    "FIXTURE_EXTENSIONS",
    "Decoded",
    "decode_all",
    "decode_fixture",
    "feed_modes",
    "fixture_cases",
    "fixture_id",
    "fixture_params",
    "provider_available",
    "provider_for_fixture",
    "slices",
    "wire_event_offsets",
]

FEED_MODES: tuple[str, ...] = ("whole", "bytewise", "random")
feed_modes = pytest.mark.parametrize("feed_mode", FEED_MODES)

FIXTURE_EXTENSIONS = (".sse", ".ndjson", ".bin", ".json")

# Fixture folder -> registered provider name (folders not listed use their own name).
_DIR_PROVIDER = {
    "openai-chat": "openai",
    "openai-compatible": "openai",
    "openai-responses": "openai-responses",
}


class Decoded(NamedTuple):
    chunks: list[Chunk]
    result: ChatResult
    error: SansStreamError | None


def slices(data: bytes, feed_mode: str, seed: int = 0) -> list[bytes]:
    """``data`` cut as ``feed_mode`` says (``random`` takes a seed)."""
    if feed_mode == "random":
        from support import random_splits

        return random_splits(data, seed=seed)
    return FEEDS[feed_mode](data)


def _is_fixture(path: Path) -> bool:
    return path.suffix in FIXTURE_EXTENSIONS and not path.name.endswith(".expected.json")


def _expected_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(path.suffix)] + ".expected.json")


def fixture_cases(*family_dirs: str) -> list[tuple[Path, dict[str, Any]]]:
    """``(fixture path, expected)`` for every fixture in the named family folders (all folders
    when none are named), sorted by path."""
    root = provider_fixtures_dir()
    dirs = [root / d for d in family_dirs] if family_dirs else sorted(p for p in root.iterdir() if p.is_dir())
    out: list[tuple[Path, dict[str, Any]]] = []
    for folder in dirs:
        for path in sorted(folder.iterdir()):
            if _is_fixture(path):
                expected = json.loads(_expected_path(path).read_text("utf-8"))["expected"]
                out.append((path, expected))
    return out


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name[: -len(path.suffix)]}"


def fixture_params(*family_dirs: str) -> list[Any]:
    return [pytest.param(p, e, id=fixture_id(p)) for p, e in fixture_cases(*family_dirs)]


def provider_for_fixture(path: Path) -> tuple[str, dict[str, Any]]:
    """The provider name that decodes ``path`` and the extra ``decode_all`` options it needs."""
    family = path.parent.name
    name = _DIR_PROVIDER.get(family, family)
    options: dict[str, Any] = {}
    if family == "gemini" and path.suffix == ".json":
        options["framing"] = "json-array"
    return name, options


def provider_available(name: str) -> bool:
    """True when ``name`` is registered and its module defines the provider (not a placeholder)."""
    try:
        get(name).decoder()
    except (SansStreamError, ImportError, AttributeError, NotImplementedError, TypeError):
        return False
    return True


def decode_all(
    provider: str | Provider,
    data: bytes,
    feed_mode: str = "whole",
    *,
    seed: int = 0,
    **kw: Any,
) -> Decoded:
    """Decode ``data`` through the full pipeline, fed as ``feed_mode`` says.

    Never raises a ``SansStreamError``: it is returned as ``error``. ``chunks`` holds exactly
    the chunks delivered before the error; ``result`` is the accumulated (partial) result, and
    is checked against the chunks so that a pipeline that loses a chunk fails here.
    """
    decoder = StreamDecoder(provider, **kw)
    chunks: list[Chunk] = []
    error: SansStreamError | None = None
    try:
        for piece in [*slices(data, feed_mode, seed), b""]:
            decoder.receive_data(piece)
            # next_chunk (not feed) so an error is raised exactly in place, never deferred.
            while (chunk := decoder.next_chunk()) is not NEED_DATA and chunk is not END:
                chunks.append(chunk)
    except SansStreamError as exc:
        error = exc
    result = decoder.result()
    own = Accumulator()
    for chunk in chunks:
        own.add(chunk)
    mine = own.result()
    assert (mine.text, mine.reasoning, mine.tool_calls, mine.finish_reason) == (
        result.text,
        result.reasoning,
        result.tool_calls,
        result.finish_reason,
    ), "the pipeline's result differs from the chunks it delivered"
    return Decoded(chunks, result, error)


def decode_fixture(path: Path, feed_mode: str = "whole", **kw: Any) -> Decoded:
    name, options = provider_for_fixture(path)
    return decode_all(name, path.read_bytes(), feed_mode, **{**options, **kw})


def wire_event_offsets(data: bytes, *, limit: int | None = None) -> list[int]:
    """Offsets just after each event boundary: a blank line (``\\n\\n``, ``\\r\\n\\r\\n``,
    ``\\r\\r``) for SSE, else each ``\\n`` (NDJSON, JSON arrays). ``limit`` keeps an evenly
    spread subset for very long streams."""
    offsets: list[int] = []
    for sep in (b"\r\n\r\n", b"\n\n", b"\r\r"):
        start = 0
        while (i := data.find(sep, start)) != -1:
            offsets.append(i + len(sep))
            start = i + len(sep)
    if not offsets:
        start = 0
        while (i := data.find(b"\n", start)) != -1:
            offsets.append(i + 1)
            start = i + 1
    found = sorted(set(offsets))
    if limit is not None and len(found) > limit:
        step = len(found) / limit
        found = [found[int(k * step)] for k in range(limit)]
    return found


def pull_chunks(machine: StreamDecoder, pieces: list[bytes]) -> tuple[list[Chunk], SansStreamError | None]:
    """``receive_data`` / ``next_chunk`` until ``NEED_DATA`` after each piece, then the end;
    the chunks delivered and the error that stopped it, if any."""
    got: list[Chunk] = []
    try:
        for piece in [*pieces, b""]:
            machine.receive_data(piece)
            while (chunk := machine.next_chunk()) is not NEED_DATA and chunk is not END:
                got.append(chunk)
    except SansStreamError as exc:
        return got, exc
    return got, None


def feed_chunks(machine: StreamDecoder, pieces: list[bytes]) -> tuple[list[Chunk], SansStreamError | None]:
    """The same through ``feed()`` (``feed(b"")`` twice at the end: see its docstring)."""
    got: list[Chunk] = []
    try:
        for piece in [*pieces, b"", b""]:
            got.extend(machine.feed(piece))
    except SansStreamError as exc:
        return got, exc
    return got, None
