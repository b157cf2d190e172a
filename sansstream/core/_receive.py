"""What every line-based reader of a byte stream decides the same way, decided once.

* The UTF-8 byte order mark: a stream may start with one, and it may itself arrive split
  across slices (:func:`strip_bom`). SSE ("UTF-8 decode" strips one leading BOM), NDJSON and
  JSON arrays all drop it, only at the very start of the stream.
* Gathering: a slice without CR or LF ends no line, so it can complete nothing in a line
  framing. Driver loops hold such slices and hand them over joined with the next slice that
  ends a line (:func:`gather_lines`), or once :data:`GATHER` bytes are held, so that a size
  limit is still enforced within that many bytes and the parser, not the loop, holds a long
  line. Nothing is read ahead: a slice that ends a line is handed over at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

__all__: list[str] = []

BOM: Final = b"\xef\xbb\xbf"
GATHER: Final = 4096


def strip_bom(head: bytes) -> bytes | None:
    """The first bytes of a stream without a leading UTF-8 BOM; ``None`` while they may still be
    the start of one (fewer than three bytes, all a prefix of it): hold them and ask again with
    more (at the end of the stream, what is held is ordinary data)."""
    if len(head) < 3 and BOM.startswith(head):
        return None
    return head[3:] if head[:3] == BOM else head


def gather_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` with each run of slices that hold no CR or LF joined onto the next slice (or
    yielded once GATHER bytes are held, or at the end); empty slices are dropped (an empty
    slice from an iterator is not the end of a stream: the iterator's end is)."""
    held: list[bytes] = []
    size = 0
    for piece in chunks:
        if 10 in piece or 13 in piece:  # LF, CR
            if held:
                held.append(piece)
                piece = b"".join(held)  # noqa: PLW2901 (the held slices, then this one)
                held.clear()
                size = 0
            yield piece
        elif piece:
            held.append(piece)
            size += len(piece)
            if size >= GATHER:
                yield b"".join(held)
                held.clear()
                size = 0
    if held:
        yield b"".join(held)
