"""Chunks and values built by the decoders' quick constructors are ordinary instances: the
``text_delta`` factory gives exactly what ``TextDelta(...)`` gives (equality, hash, repr,
frozenness, pickling, ``dataclasses.replace``, ``chunk_to_dict``)."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from sansstream.model import TextDelta, chunk_to_dict
from sansstream.model._chunks import text_delta


@pytest.mark.parametrize(
    ("text", "choice", "raw"),
    [("hello", 0, None), ("", 3, {"delta": {"content": ""}}), ("é ✓ \U0001f600", 1, ["x"])],
)
def test_text_delta_factory_is_the_constructor(text: str, choice: int, raw: Any) -> None:
    fast = text_delta(text, choice, raw=raw)
    plain = TextDelta(text, choice, raw=raw)
    assert type(fast) is TextDelta
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert repr(fast) == repr(plain)
    assert fast.type == "content"
    assert fast.raw is raw
    assert chunk_to_dict(fast, include_raw=True) == chunk_to_dict(plain, include_raw=True)
    assert dataclasses.replace(fast, text="other") == TextDelta("other", choice, raw=raw)
    assert pickle.loads(pickle.dumps(fast)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.text = "changed"  # type: ignore[misc]


def test_text_delta_defaults() -> None:
    assert text_delta("a") == TextDelta("a")
    assert text_delta("a").choice == 0
    assert text_delta("a").raw is None
