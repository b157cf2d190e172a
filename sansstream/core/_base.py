"""The one shape every framing parser has (h11-style pull API)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from ..model._events import END, NEED_DATA, EndOfStream, NeedData

__all__ = ["FramingParser", "drive"]

E = TypeVar("E")


class FramingParser(Protocol[E]):
    """``receive_data(b"")`` marks the end of input; ``next_event()`` returns an event,
    ``NEED_DATA`` or ``END``; ``feed(data)`` is ``receive_data`` plus draining."""

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> E | NeedData | EndOfStream: ...

    def feed(self, data: bytes) -> list[E]: ...


def drive(parser: FramingParser[E], chunks: Iterable[bytes]) -> Iterator[E]:
    """The one pull loop: feed ``chunks`` (slices of any size; their end is the end of the
    stream) to ``parser`` and yield every event as soon as the bytes completing it arrived."""
    for chunk in chunks:
        if not chunk:
            continue  # an empty slice is not the end of the stream; the iterable's end is
        parser.receive_data(chunk)
        while True:
            event = parser.next_event()
            if event is NEED_DATA or event is END:
                break
            yield event
    parser.receive_data(b"")
    while True:
        event = parser.next_event()
        if event is END or event is NEED_DATA:
            return
        yield event
