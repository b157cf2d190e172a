"""The one shape every framing parser has (h11-style pull API)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from ..model._events import EndOfStream, NeedData

__all__ = ["FramingParser"]

E = TypeVar("E")


class FramingParser(Protocol[E]):
    """``receive_data(b"")`` marks the end of input; ``next_event()`` returns an event,
    ``NEED_DATA`` or ``END``; ``feed(data)`` is ``receive_data`` plus draining."""

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> E | NeedData | EndOfStream: ...

    def feed(self, data: bytes) -> list[E]: ...
