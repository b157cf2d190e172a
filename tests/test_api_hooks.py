"""Hooks (on_chunk, on_error, on_metrics, transform, validate) and batching, against a real
loopback server."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_api_helpers import MESSAGES, slop_event, slop_events, slop_response, words

from sansstream.api import Metrics, stream_chat
from sansstream.model import (
    Chunk,
    ChunkValidationError,
    LocalProtocolError,
    ProviderError,
    ResponseStart,
    TextDelta,
    Usage,
)
from sansstream.testing import FixtureResponse, FixtureServer


def _run(server: FixtureServer, **kw: Any) -> Any:
    kw.setdefault("timeout", 5)
    return stream_chat("slop", model="m", messages=MESSAGES, base_url=server.url + "/slop", **kw)


def _texts_into(stream: Any, out: list[str]) -> None:
    out.extend(c.text for c in stream if isinstance(c, TextDelta))


def _types_into(stream: Any, out: list[tuple[str, Any]]) -> None:
    out.extend(("chunk", c.type) for c in stream)


def test_on_chunk_sees_every_delivered_chunk_in_order() -> None:
    seen: list[Chunk] = []
    with FixtureServer(slop_response(["a", "b"], usage=2)) as server:
        chunks = list(_run(server, on_chunk=seen.append))
    assert seen == chunks
    assert [c.type for c in chunks] == ["start", "content", "content", "usage", "done"]


def test_transform_drops_and_rewrites() -> None:
    def transform(chunk: Chunk) -> Chunk | None:
        if isinstance(chunk, Usage | ResponseStart):
            return None
        if isinstance(chunk, TextDelta):
            return dataclasses.replace(chunk, text=chunk.text.upper())
        return chunk

    seen: list[Chunk] = []
    with FixtureServer(slop_response(["ab", "cd"], usage=2)) as server:
        stream = _run(server, transform=transform, on_chunk=seen.append)
        chunks = list(stream)
    assert [c.type for c in chunks] == ["content", "content", "done"]
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["AB", "CD"]
    assert seen == chunks  # hooks after transform see what the caller sees
    assert stream.result().text == "ABCD"  # the result is built from delivered chunks
    assert stream.usage is None  # dropped
    assert stream.metrics.chunks == 5  # metrics describe the stream as received


def test_validate_rejects_a_chunk() -> None:
    def validate(chunk: Chunk) -> None:
        if isinstance(chunk, TextDelta) and "forbidden" in chunk.text:
            raise ValueError("contains a forbidden word")

    errors: list[BaseException] = []
    delivered: list[str] = []
    with FixtureServer(slop_response(["fine ", "forbidden ", "never"])) as server:
        stream = _run(server, validate=validate, on_error=errors.append)
        with pytest.raises(ChunkValidationError) as info:
            _texts_into(stream, delivered)
    exc = info.value
    assert delivered == ["fine "]
    assert isinstance(exc.__cause__, ValueError)
    assert isinstance(exc.chunk, TextDelta)
    assert exc.chunk.text == "forbidden "
    assert "chunk #3" in str(exc)  # start, "fine ", then this one
    assert "forbidden word" in str(exc)
    assert errors == [exc]


def test_on_error_sees_the_provider_error_before_it_propagates() -> None:
    body = [*slop_events(["x"], done=False), slop_event({"type": "error", "content": "overloaded"})]
    calls: list[tuple[str, Any]] = []
    with FixtureServer(FixtureResponse(body=body)) as server:
        stream = _run(
            server,
            on_error=lambda e: calls.append(("error", e)),
            on_metrics=lambda m: calls.append(("metrics", m)),
        )
        with pytest.raises(ProviderError) as info:
            _types_into(stream, calls)
    kinds = [k for k, _ in calls]
    assert kinds == ["chunk", "chunk", "error", "metrics"]
    assert calls[2][1] is info.value
    assert "overloaded" in str(info.value)
    assert isinstance(calls[3][1], Metrics)
    assert info.value.partial is not None
    assert info.value.partial.text == "x"


def test_on_metrics_is_called_once_at_the_end() -> None:
    got: list[Metrics] = []
    with FixtureServer(slop_response(["a"])) as server:
        stream = _run(server, on_metrics=got.append)
        stream.result()
        stream.close()
        stream.result()
    assert len(got) == 1
    assert got[0].finished


def test_batches_by_count() -> None:
    with FixtureServer(slop_response(words(7))) as server:
        plain = list(_run(server))
        groups = list(_run(server).batches(n=3))
    assert [len(g) for g in groups] == [3, 3, 3]  # start + 7 texts + done = 9
    assert [c for g in groups for c in g] == plain


def test_batch_default_from_stream_chat() -> None:
    with FixtureServer(slop_response(words(3))) as server:
        groups = list(_run(server, batch=4).batches())
        with pytest.raises(LocalProtocolError):
            list(_run(server).batches())
    assert [len(g) for g in groups] == [4, 1]


def test_batches_by_time() -> None:
    with FixtureServer(slop_response(words(10), delay=0.04)) as server:
        plain = list(_run(server))
        groups = list(_run(server).batches(ms=100))
    assert 2 <= len(groups) < len(plain)  # grouped, but not all in one list
    assert [c for g in groups for c in g] == plain
