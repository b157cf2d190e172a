"""What every line-based reader of a byte stream decides the same way, decided once.

* :class:`LineBuffer`, the receive buffer of the line framings (SSE and NDJSON; h11's receive
  buffer is the model): the unterminated line kept apart and already searched, the BOM, a CRLF
  split across slices, what may be held without a line end; it hands out complete lines.
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


class LineBuffer:
    """The receive buffer of a line framing.

    ``take(data, room)`` adds bytes and returns the complete lines they complete, joined, each
    ending with LF (``b""`` when none ends); what follows the last line end stays in ``tail``.
    The tail has been searched already, so only new bytes are ever searched for a line end: no
    byte is searched twice, and one-byte slices cost the same per byte as large ones. It is the
    caller's own bytes object while it came in one slice (no copy of a big line), and a
    bytearray once it grows (``appendable()``), never ``bytes + bytes``.

    With ``cr_ends_lines`` (SSE) a CR, LF or CRLF ends a line and every one of them is handed out
    as an LF; a CR that ends the bytes may be the first half of a CRLF, so an LF first in the
    next bytes is dropped. Without it (NDJSON) only LF ends a line and a CR stays in the line.
    A UTF-8 BOM at the very start is dropped, even split across slices (see ``strip_bom``).
    """

    __slots__ = ("_bom_done", "_cr", "_skip_lf", "overflow", "tail")

    def __init__(self, *, cr_ends_lines: bool) -> None:
        self.tail: bytes | bytearray = b""
        self._cr = cr_ends_lines
        self._bom_done = False
        self._skip_lf = False
        # What the tail would have held when take() refused bytes (see take).
        self.overflow = 0

    @property
    def settled(self) -> bool:
        """Whether bytes without CR or LF may simply be appended to ``tail``: the question of a
        BOM is settled and no CR waits for its LF."""
        return self._bom_done and not self._skip_lf

    def appendable(self) -> bytearray:
        """``tail`` as a bytearray that grows in place (converted once; the same object until
        the next ``take``)."""
        tail = self.tail
        if type(tail) is not bytearray:
            tail = self.tail = bytearray(tail)
        return tail

    def take(self, data: bytes, room: int) -> bytes | None:
        """The complete lines ``data`` completes (see the class), or ``None`` when it ends no
        line and the tail would grow past ``room`` bytes: then nothing was kept and
        ``overflow`` says how many bytes the tail would have held."""
        tail = self.tail
        if not self._bom_done:
            # At most two bytes wait here until the BOM question is decided.
            head = strip_bom(bytes(tail) + data)
            if head is None:
                self.tail = bytes(tail) + data
                return b""
            data = head
            tail = self.tail = b""
            self._bom_done = True
        if self._skip_lf and data:
            # The LF of a CRLF whose CR ended the previous bytes.
            self._skip_lf = False
            if data[0] == 10:
                data = data[1:]
        end = data.rfind(10)
        if self._cr:
            end = max(end, data.rfind(13, end + 1))  # a CR after the last LF ends a later line
        if end < 0:
            if len(tail) + len(data) > room:
                self.overflow = len(tail) + len(data)
                return None
            if not tail:
                self.tail = data
            elif type(tail) is bytes:
                self.tail = bytearray(tail) + data
            else:
                tail += data
            return b""
        # data[:n] is data itself (no copy) when the slice ends with a line end.
        region = b"".join((tail, data[: end + 1])) if tail else data[: end + 1]
        self.tail = data[end + 1 :]
        if self._cr:
            self._skip_lf = data[end] == 13 and end + 1 == len(data)
            if 13 in region:
                # Only CR, LF and CRLF end lines (never U+2028 or U+0085: no splitlines()).
                region = region.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return region

    def clear(self) -> None:
        """Drop what is held (the end of the stream where an unterminated line is discarded, or
        a parser that gave up)."""
        self.tail = b""

    def finish(self) -> bytes:
        """The end of the stream: the unterminated rest (perhaps the first bytes of what
        could have been a BOM), and the buffer emptied."""
        rest = bytes(self.tail)
        self.tail = b""
        return rest
