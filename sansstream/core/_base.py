"""The one shape every framing parser has (h11-style pull API)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from ..model._events import EndOfStream, NeedData

__all__ = ["FramingParser"]

E_co = TypeVar("E_co", covariant=True)


class FramingParser(Protocol[E_co]):
    """``receive_data(b"")`` marks the end of input; ``next_event()`` returns an event,
    ``NEED_DATA`` or ``END``; ``feed(data)`` is ``receive_data`` plus draining."""

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> E_co | NeedData | EndOfStream: ...

    def feed(self, data: bytes) -> list[E_co]: ...
