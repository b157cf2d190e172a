"""Hypothesis strategies for stream tests: SSE events that survive an encode → parse round trip,
and ways to cut a byte string.

hypothesis is imported inside each function, so ``import sansstream.testing`` works without it;
only calling a strategy needs it (``pip install hypothesis``).

Example::

    from hypothesis import given, strategies as st
    from sansstream.core import SSEParser, encode_sse
    from sansstream.testing import sse_events, splits

    @given(st.data())
    def test_round_trip(data):
        events = data.draw(st.lists(sse_events(), max_size=5))
        wire = b"".join(encode_sse(e) for e in events)
        parser = SSEParser()
        got = [e for piece in data.draw(splits(wire)) for e in parser.feed(piece)]
        ...
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ..model import ConfigurationError, ServerSentEvent

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["sse_events", "sse_field_text", "splits"]


def _st() -> Any:
    try:
        from hypothesis import strategies
    except ImportError:  # pragma: no cover - exercised only where hypothesis is absent
        raise ConfigurationError(
            "the sansstream.testing strategies need hypothesis: pip install hypothesis"
        ) from None
    return strategies


def sse_field_text(*, min_size: int = 0, max_size: int = 20) -> SearchStrategy[str]:
    """Text an SSE field value can carry: any character but CR, LF and NUL (NUL is legal in
    ``data`` but not in ``id``; leaving it out keeps one alphabet for all fields) and surrogates
    (not encodable as UTF-8)."""
    st = _st()
    alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")
    result: SearchStrategy[str] = st.text(alphabet, min_size=min_size, max_size=max_size)
    return result


def sse_events(
    *,
    event_names: SearchStrategy[str] | None = None,
    with_id: bool = True,
    with_retry: bool = True,
    max_lines: int = 4,
) -> SearchStrategy[ServerSentEvent]:
    """``ServerSentEvent`` values that an encoder can write and a parser reads back equal.

    ``data`` may span several lines (joined by LF, the only separator a parser gives back);
    ``event`` is a non-empty name without line breaks (``"message"`` is the common case);
    ``id`` contains no NUL (the spec ignores such ids); ``retry`` is a non-negative integer or
    ``None``. When several events go into one stream, note that ``id`` is the last ID *in force*:
    an event with ``id=""`` after one with an id only reads back equal if the encoder resets it.
    """
    st = _st()
    names = (
        event_names
        if event_names is not None
        else st.one_of(st.just("message"), sse_field_text(min_size=1, max_size=12))
    )
    data = st.lists(sse_field_text(max_size=30), min_size=1, max_size=max_lines).map("\n".join)
    ids = sse_field_text(max_size=12) if with_id else st.just("")
    retries = st.one_of(st.none(), st.integers(0, 2**31)) if with_retry else st.none()
    result: SearchStrategy[ServerSentEvent] = st.builds(
        ServerSentEvent, data=data, event=names, id=ids, retry=retries
    )
    return result


def splits(data: bytes, *, max_pieces: int | None = None) -> SearchStrategy[list[bytes]]:
    """``data`` cut at a drawn set of offsets (from whole to byte by byte); the pieces always
    join back to ``data``. Shrinks towards fewer cuts."""
    st = _st()
    if len(data) < 2:
        return st.just([data] if data else [])  # type: ignore[no-any-return]
    limit = len(data) - 1 if max_pieces is None else max(0, min(len(data) - 1, max_pieces - 1))
    offsets = st.lists(st.integers(1, len(data) - 1), max_size=limit, unique=True)

    def cut(points: list[int]) -> list[bytes]:
        edges = [0, *sorted(points), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(edges)]

    result: SearchStrategy[list[bytes]] = offsets.map(cut)
    return result
