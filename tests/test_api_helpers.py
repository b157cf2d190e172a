"""Shared helpers for the API tests (no tests here): SLOP stream bytes built by hand, and a
FixtureServer response for them. The API tests talk to real loopback servers only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sansstream.testing import FixtureResponse

TRANSPORTS = ("requests", "h11")

MESSAGES = [{"role": "user", "content": "Hi"}]


def slop_event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode("utf-8") + b"\n\n"


def slop_events(texts: Sequence[str], *, done: bool = True, usage: int | None = None) -> list[bytes]:
    """One SSE event per slice: a start, one content event per text, optional usage, done."""
    out = [slop_event({"type": "start", "id": "r1", "model": "m"})]
    out += [slop_event({"type": "content", "content": t}) for t in texts]
    if usage is not None:
        out.append(slop_event({"type": "usage", "content": {"output_tokens": usage}}))
    if done:
        out.append(slop_event({"type": "done"}))
    return out


def slop_response(texts: Sequence[str], **kw: Any) -> FixtureResponse:
    done = kw.pop("done", True)
    usage = kw.pop("usage", None)
    return FixtureResponse(body=slop_events(texts, done=done, usage=usage), **kw)


def words(n: int) -> list[str]:
    return [f"w{i} " for i in range(n)]
