"""Property tests: whatever bytes arrive, in whatever slices, decoding with any provider either
yields chunks or raises a ``SansStreamError`` — never another exception — and always finishes
(the number of pull calls is bounded by the input size).

Three kinds of input: arbitrary bytes; recorded fixtures mutated (bytes flipped, deleted,
duplicated, inserted, cut); and well-framed events whose JSON payloads are arbitrary (so the
decoders meet every JSON type where they expect an object, a list or a string).
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provider_support import feed_chunks, fixture_cases, provider_for_fixture, pull_chunks

from sansstream.model import END, NEED_DATA, Chunk, ProviderError, SansStreamError
from sansstream.providers import StreamDecoder

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (provider, framing override or None)
TARGETS: list[tuple[str, str | None]] = [
    ("openai", None),
    ("openai-responses", None),
    ("mistral", None),
    ("cohere", None),
    ("slop", None),
    ("slop", "ndjson"),
    ("anthropic", None),
    ("gemini", None),
    ("gemini", "json-array"),
    ("ollama", None),
    ("bedrock", None),
]

SMALL_FIXTURES = [(p, provider_for_fixture(p)) for p, _ in fixture_cases() if p.stat().st_size <= 12_000]


def run(
    provider: str, framing: str | None, pieces: list[bytes], *, raise_errors: bool, strict: bool
) -> list[Chunk]:
    """Decode, asserting the invariants; returns the chunks delivered."""
    kwargs: dict[str, Any] = {"raise_errors": raise_errors, "strict": strict}
    if framing is not None:
        kwargs["framing"] = framing
    machine = StreamDecoder(provider, **kwargs)
    budget = 50 + 20 * sum(len(p) for p in pieces)  # pull calls; a hang would exceed it
    chunks: list[Chunk] = []
    try:
        for piece in [*pieces, b""]:
            machine.receive_data(piece)
            while True:
                budget -= 1
                assert budget > 0, "the decoder does not make progress"
                chunk = machine.next_chunk()
                if chunk is NEED_DATA or chunk is END:
                    break
                chunks.append(chunk)
    except SansStreamError as exc:
        error: SansStreamError | None = exc
    else:
        error = None
    if error is not None:
        assert raise_errors or not isinstance(error, ProviderError), (
            "ProviderError raised with raise_errors=False"
        )
        assert again_raises(machine) is error, "the decoder went on after raising"
    # Whatever happened, a (partial) result can be built.
    machine.result()
    return chunks


def again_raises(machine: StreamDecoder) -> object:
    """What the next call does after an error: it must raise the same error again."""
    try:
        return machine.next_chunk()
    except SansStreamError as exc:
        return exc


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


targets = st.sampled_from(TARGETS)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)


@SETTINGS
@given(target=targets, data=st.binary(max_size=400), cut_points=cuts, raise_errors=st.booleans())
def test_arbitrary_bytes(
    target: tuple[str, str | None], data: bytes, cut_points: list[int], raise_errors: bool
) -> None:
    run(*target, split(data, cut_points), raise_errors=raise_errors, strict=True)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> tuple[Path, bytes]:
    path, _ = draw(st.sampled_from(SMALL_FIXTURES))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if not data:
            break
        i = draw(st.integers(min_value=0, max_value=len(data) - 1))
        j = min(len(data), i + draw(st.integers(min_value=1, max_value=64)))
        kind = draw(st.sampled_from(["flip", "delete", "duplicate", "insert", "cut"]))
        if kind == "flip":
            data[i] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "delete":
            del data[i:j]
        elif kind == "duplicate":
            data[i:i] = data[i:j]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[i:]
    return path, bytes(data)


@SETTINGS
@given(case=mutated_fixture(), cut_points=cuts, raise_errors=st.booleans(), strict=st.booleans())
def test_mutated_fixtures(
    case: tuple[Path, bytes], cut_points: list[int], raise_errors: bool, strict: bool
) -> None:
    path, data = case
    name, options = provider_for_fixture(path)
    run(name, options.get("framing"), split(data, cut_points), raise_errors=raise_errors, strict=strict)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=5)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

# Keys and type names the decoders look for, so random payloads reach deep into them.
KEYS = [
    "type", "choices", "delta", "content", "tool_calls", "function", "arguments", "name", "id", "index",
    "usage", "error", "finish_reason", "message", "response", "item", "item_id", "output", "candidates",
    "parts", "text", "thinking", "reasoning", "reasoning_details", "content_block", "done", "toolUse",
    "input", "partial_json", "functionCall", "args", "usageMetadata", "status", "incomplete_details",
]  # fmt: skip
TYPES = [
    "response.output_item.added", "response.output_item.done", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "response.completed", "response.failed", "response.incomplete",
    "response.output_text.delta", "response.reasoning_summary_text.delta", "error", "message_start",
    "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
    "message-start", "content-start", "content-delta", "tool-call-start", "tool-call-delta", "tool-call-end",
    "tool-plan-delta", "message-end", "content", "thinking", "tool_start", "tool_result", "done", "usage",
    "finish", "start", "text_delta", "input_json_delta", "thinking_delta", "signature_delta", "tool_use",
]  # fmt: skip


@st.composite
def shaped_payload(draw: st.DrawFn) -> Any:
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=5))
    payload: dict[str, Any] = {key: draw(json_values) for key in keys}
    if draw(st.booleans()):
        payload["type"] = draw(st.sampled_from(TYPES))
    if draw(st.booleans()):
        payload[draw(st.sampled_from(KEYS))] = {
            k: draw(json_values) for k in draw(st.lists(st.sampled_from(KEYS), max_size=4))
        }
    return payload


def eventstream_frame(event_type: str, payload: bytes) -> bytes:
    headers = b""
    for name, value in (
        (":message-type", "event"),
        (":event-type", event_type),
        (":content-type", "application/json"),
    ):
        headers += (
            bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


BEDROCK_EVENTS = [
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
]


def frame(target: tuple[str, str | None], payloads: list[Any], event_names: list[str]) -> bytes:
    provider, framing = target
    texts = [json.dumps(p) for p in payloads]
    if provider == "bedrock":
        return b"".join(
            eventstream_frame(name, text.encode())
            for name, text in zip(event_names * len(texts), texts, strict=False)
        )
    if framing == "json-array":
        return ("[" + ",\n".join(texts) + "]").encode()
    if provider in ("ollama",) or framing == "ndjson":
        return "".join(t + "\n" for t in texts).encode()
    out = []
    for name, text in zip(event_names * len(texts), texts, strict=False):
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {text}\n\n")
    return "".join(out).encode()


@SETTINGS
@given(
    target=targets,
    payloads=st.lists(shaped_payload(), min_size=1, max_size=6),
    names=st.lists(st.sampled_from(["", "error", *TYPES[:12], *BEDROCK_EVENTS]), min_size=1, max_size=3),
    cut_points=cuts,
    raise_errors=st.booleans(),
    strict=st.booleans(),
)
def test_well_framed_events_with_arbitrary_json(
    *,
    target: tuple[str, str | None],
    payloads: list[Any],
    names: list[str],
    cut_points: list[int],
    raise_errors: bool,
    strict: bool,
) -> None:
    data = frame(target, payloads, names)
    run(*target, split(data, cut_points), raise_errors=raise_errors, strict=strict)


def _outcome(machine: StreamDecoder, drive: str, pieces: list[bytes]) -> tuple[list[str], str]:
    """Chunks (repr) and the error (type and message) when driven by ``drive``."""
    got, exc = (pull_chunks if drive == "pull" else feed_chunks)(machine, pieces)
    return [repr(c) for c in got], "" if exc is None else f"{type(exc).__name__}: {exc}"


@SETTINGS
@given(case=mutated_fixture(), cut_points=cuts, raise_errors=st.booleans(), strict=st.booleans())
def test_feed_pull_and_decode_stream_agree_on_mutated_fixtures(
    case: tuple[Path, bytes], cut_points: list[int], raise_errors: bool, strict: bool
) -> None:
    # feed() takes the quick routes (parse on arrival, batch decoding), the pull loop does not,
    # decode_stream gathers slices: the same chunks, then the same error, whatever the bytes.
    from sansstream.providers import decode_stream

    path, data = case
    name, options = provider_for_fixture(path)
    pieces = split(data, cut_points)
    kwargs: dict[str, Any] = {"raise_errors": raise_errors, "strict": strict, **options}
    pulled = _outcome(StreamDecoder(name, **kwargs), "pull", pieces)
    assert _outcome(StreamDecoder(name, **kwargs), "feed", pieces) == pulled
    streamed: list[Chunk] = []
    error = ""
    try:
        streamed.extend(decode_stream(name, pieces, **kwargs))
    except SansStreamError as exc:
        error = f"{type(exc).__name__}: {exc}"
    assert ([repr(c) for c in streamed], error) == pulled
