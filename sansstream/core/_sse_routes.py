"""Speed routes of the SSE parser: recognisers for the shapes LLM streams send.

Nothing here is needed for correctness: ``SSEParser(routes=False)`` parses every stream with the
rules of ``_sse.py`` alone, and the property tests (``tests/test_sse_routes.py``) compare the two
on random streams cut at random places. Each route looks at one piece of input and either
produces exactly the events and the parser state the rules would produce for it, or declines
(returns ``None`` or ``False``) having changed nothing. Each one says why it is exact.

Two entry points:

* :func:`take_slice`, for a slice handed to ``feed()`` or ``receive_data()`` while the
  parser's unterminated line is open for appending (no CR pending, nothing queued). At 1- to
  256-byte slices the calls and checks of the general path cost more than the parsing, so the
  usual slices are finished here: one that ends one-line ``data`` blocks, one that ends an
  ``event`` + ``data`` block, one with a single line end (or a line end then a blank line, or
  that plus one more line), and any other small slice without CR, line by line in place.
* :func:`take_region`, for a region of complete lines (line ends already made LF): a region
  that is nothing but one-line ``data`` blocks is decoded once and split once; all-``data``
  lines inside an open block are joined in bulk; blocks of one uniform shape are decoded
  together; anything else is split on blank lines, and blocks of the two usual shapes are built
  directly while any other block goes through the rules, line by line.

The routes read and write the parser's block state (the spec's buffers, kept on the parser):
``_data`` (data lines, joined with LF at dispatch), ``_event`` (the event type buffer),
``_id_buf`` (the last event ID buffer), ``_block_retry``, ``_size`` (bytes of the block's
lines, for ``max_event_size``), ``_dirty`` (a line of the block was read), ``_room`` (what the
unterminated line may still grow to) and ``last_event_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._sse_events import append_events, block_event, make_event

if TYPE_CHECKING:
    from ._sse import SSEParser

__all__ = ["take_region", "take_slice"]

# Regions at least this big are decoded through a memoryview rather than a sliced copy, and a
# line this long is left to the general path (which copies less).
BIG_REGION: Final = 1 << 16
# Slices up to this size take small_lines (beyond it the block-level routes of take_region,
# which decode many events at once, are faster).
SMALL_SLICE: Final = 256
# Regions at least this big are first tried as blocks of one uniform shape, in bulk.
UNIFORM_MIN: Final = 512


# -- slices -----------------------------------------------------------------------------------


def take_slice(p: SSEParser[Any], tail: bytearray, data: bytes) -> list[Any] | None:
    """The events of ``data``, a slice with an LF and no CR, appended to the unterminated line
    ``tail`` (open for appending: the parser is open, settled on the BOM, no CR pending, and its
    working list ``_out`` is empty); or None, having changed nothing, when no route fits. The
    routes are picked by where the slice's LFs are."""
    end = data.rfind(10)
    if not p._dirty and end > 0 and data[end - 1] == 10 and len(tail) + end < BIG_REGION:
        # A fresh block starts at the tail and the slice's last LF ends a blank line. (The tail
        # holds no LF, so the new bytes up to their last LF end with a blank line only when the
        # byte before that LF is an LF too.)
        done = _fresh_blocks(p, tail, data, end)
        if done is not None:
            return done
    first = data.find(10)
    if first == end or (first == end - 1 and (tail or first)):
        # One line end, or two in a row.
        done = _few_line_ends(p, tail, data, first, end)
    elif (
        first + 1 < end
        and data[first + 1] == 10
        and (tail or first)
        and data.find(10, first + 2) == end
        and not p._data
        and len(tail) + first < BIG_REGION
    ):
        # A line end, a blank line, one more line.
        done = _block_end_then_line(p, tail, data, first, end)
    else:
        done = None
    if done is None and len(data) <= SMALL_SLICE and len(tail) < BIG_REGION:
        return small_lines(p, tail, data, end)
    return done


def _fresh_blocks(p: SSEParser[Any], tail: bytearray, data: bytes, end: int) -> list[Any] | None:
    """A fresh block starts at the tail and the slice's last LF ends a blank line: the region
    (tail plus the slice up to that LF) is one or more one-line ``data`` blocks, or exactly one
    ``event`` line then one ``data`` line. Exact as data_blocks (below) for the first shape; for
    the second, the one LF between the two lines is the first one and the data line ends at the
    blank line. Fresh blocks without ``id`` or ``retry``: the events report the last event ID
    as it stands, and no retry."""
    region = b"".join((tail, data[: end + 1])) if tail else data[: end + 1]
    rest = data[end + 1 :]
    room = p._room
    if len(region) > room or len(rest) > room:
        return None
    if region[:6] == b"data: ":
        try:
            text = region[6:-2].decode()
        except UnicodeDecodeError:
            return None
        if "\n" not in text:
            out: list[Any] = [make_event(text, "message", p.last_event_id, None)]
        else:
            texts = text.split("\n\ndata: ")
            if "\n" in "".join(texts):
                return None
            out = []
            append_events(out, texts, p.last_event_id)
    elif region[:7] == b"event: ":
        nl = region.find(10)
        if not (region.startswith(b"data: ", nl + 1) and region.find(10, nl + 1) == len(region) - 2):
            return None
        out = [block_event(region[nl + 7 : -2], region[7:nl], p.last_event_id, None)]
    else:
        return None
    tail.clear()
    tail += rest
    return out


def _few_line_ends(p: SSEParser[Any], tail: bytearray, data: bytes, first: int, end: int) -> list[Any] | None:
    """A slice with one line end, or two in a row (one- and few-byte slices see each LF alone):
    a blank line, or the end of a ``data`` or ``event`` line, then perhaps a blank line. The
    steps of the rules' line loop and dispatch for exactly those lines, without their calls."""
    rest = data[end + 1 :]
    if first == 0 and not tail:
        # "If the line is empty (a blank line): dispatch the event."
        if len(rest) > p._limit:
            return None
        out = p._dispatched()
        p._room = p._limit
        tail += rest
        return out
    if len(tail) + first + len(rest) > p._room or len(tail) + first >= BIG_REGION:
        return None
    line = b"".join((tail, data[:first])) if tail else data[:first]
    if line[:5] == b"data:":
        value = line[6:] if line[5:6] == b" " else line[5:]
        if first != end and not p._data:
            # The block's only data line, then its blank line (the end of most events in small
            # slices): the event is built here, as dispatch would build it from this one value.
            p.last_event_id = p._id_buf
            event = block_event(value, p._event, p._id_buf, p._block_retry)
            p._event = b""
            p._block_retry = None
            p._size = 0
            p._dirty = False
            p._room = p._limit
            tail.clear()
            tail += rest
            return [event]
        p._data.append(value)
    elif line[:6] == b"event:":
        p._event = line[7:] if line[6:7] == b" " else line[6:]
    else:
        return None
    p._dirty = True
    p._size += len(line)
    tail.clear()
    tail += rest
    if first == end:
        p._room -= len(line)
        return []
    out = p._dispatched()  # the blank line right after it
    p._room = p._limit
    return out


def _block_end_then_line(
    p: SSEParser[Any], tail: bytearray, data: bytes, first: int, end: int
) -> list[Any] | None:
    """A slice that ends a line, holds a blank line, then one more line (at 64 bytes: the end
    of an Anthropic block and the ``event`` line of the next one): when the first line is the
    block's only ``data`` line and the last one an ``event`` or ``data`` line, the event is
    built here and the last line starts the next block, as the rules would do."""
    line = b"".join((tail, data[:first])) if tail else data[:first]
    after = data[first + 2 : end]
    rest = data[end + 1 :]
    if not (
        line[:5] == b"data:"
        and (after[:5] == b"data:" or after[:6] == b"event:")
        and p._size + len(line) <= p._limit
        and len(after) + len(rest) <= p._limit
    ):
        return None
    value = line[6:] if line[5:6] == b" " else line[5:]
    p.last_event_id = p._id_buf
    event = block_event(value, p._event, p._id_buf, p._block_retry)
    p._block_retry = None
    if after[:5] == b"data:":
        p._event = b""
        p._data.append(after[6:] if after[5:6] == b" " else after[5:])
    else:
        p._event = after[7:] if after[6:7] == b" " else after[6:]
    p._size = len(after)
    p._dirty = True
    p._room = p._limit - len(after)
    tail.clear()
    tail += rest
    return [event]


def small_lines(p: SSEParser[Any], tail: bytearray, data: bytes, end: int) -> list[Any] | None:
    """A small slice without CR whose last LF is at ``end``: ``data`` and ``event`` lines and
    blank lines are applied in place, as the rules would apply them, and everything from the
    first other line on goes to the general path.

    Exact because each line is either applied here by the very steps of the rules (same values,
    same block size, same dispatch) or left whole, with every line after it, to the general
    path, which then sees the stream exactly as if it had been cut at that line's start (the
    state between two lines is all in the block's buffers, kept up to date here). A line that
    would break max_event_size is left to the general path too, which raises the same error;
    so is a tail that would. Events dispatched here come before anything the general path
    adds. Returns None when it applied nothing.
    """
    lines = (b"".join((tail, data[:end])) if tail else data[:end]).split(b"\n")
    limit = p._limit
    size = p._size
    at = -len(tail)  # where the next line starts in data (the first line began in the tail)
    for line in lines:
        if line:
            if size + len(line) > limit:
                break
            if line[:5] == b"data:":
                p._data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[:6] == b"event:":
                p._event = line[7:] if line[6:7] == b" " else line[6:]
            else:
                break  # id, retry, a comment, another field: the general rules
            size += len(line)
            p._dirty = True
            at += len(line) + 1
            continue
        # "If the line is empty (a blank line): dispatch the event" (into p._out).
        p._size = size
        p._dispatch()
        size = 0
        at += 1
    else:
        at = end + 1
        if size + len(data) - at <= limit:
            # Every line applied; what follows the last LF is the new unterminated line.
            p._size = size
            p._room = limit - size
            tail.clear()
            tail += data[at:]
            out = p._out
            p._out = []
            return out
    p._size = size
    if at == -len(tail):
        return None
    # Some lines applied: the rest of the slice, from the first line not applied, by the
    # general path, after the events found here (which wait in p._out).
    tail.clear()
    return p._general(data[at:])


# -- regions ----------------------------------------------------------------------------------


def take_region(p: SSEParser[Any], region: bytes) -> None:
    """Apply ``region`` (complete lines, each ending with LF) to the parser: the events go to
    ``p._out``. The bulk routes first; else block by block."""
    if not p._dirty and region.startswith(b"data: ") and region.endswith(b"\n\n") and data_blocks(p, region):
        return
    if region[-2:-1] != b"\n" and data_run(p, region, 0, len(region) - 1):
        # No blank line ends the region, and it is all ``data: `` lines (so none is blank inside
        # it either): the middle of a big event, added in bulk to the open block.
        return
    if len(region) >= UNIFORM_MIN and uniform_blocks(p, region):
        return
    by_block(p, region)


def data_blocks(p: SSEParser[Any], region: bytes) -> bool:
    """A fresh region that is a run of blocks that are each one ``data: ...`` line (the shape of
    nearly every LLM stream): one decode and one split give all the data. Exact because an
    invalid UTF-8 sequence cannot span the ASCII separator, and the shape holds when no LF is
    left outside the separators. A big region is decoded through a memoryview, which copies
    nothing (a 16 MiB event is then held as bytes and text, never as a third copy)."""
    if len(region) > p._limit:
        return False
    if len(region) < BIG_REGION:
        raw = region[6:-2]
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
        del raw
    else:
        view = memoryview(region)[6:-2]
        try:
            text = str(view, "utf-8")
        except UnicodeDecodeError:
            text = str(view, "utf-8", "replace")
        view.release()
    texts = text.split("\n\ndata: ")
    # (A joined copy searched with memchr is cheaper than str.count, which visits every character.)
    if "\n" in "".join(texts):
        return False
    append_events(p._out, texts, p.last_event_id)
    return True


def data_run(p: SSEParser[Any], chunk: bytes, start: int, stop: int) -> bool:
    """Complete lines that are all ``data: value`` lines: ``chunk[start:stop]`` holds the lines
    separated by single LFs (no line end after the last one). Applies them as one piece of the
    data buffer and returns True, or changes nothing and returns False.

    Exact: with the first line starting ``data: ``, every line does when every LF in the range
    is followed by ``data: ``. Replacing each ``\\ndata: `` by an LF keeps one LF per occurrence
    and every other LF as it was, and the occurrences cannot overlap (each holds one LF, at its
    start): so the lines are all ``data: `` lines exactly when the bytes removed are six per LF
    left. The result is the values joined with LF, and since the data buffer is joined with LF
    at dispatch, appending it as one piece gives the same buffer as appending each value. The
    rules add each line's length to the block size: the sum is the range minus its LFs. Should
    that break max_event_size, nothing is done here and the rules raise the very same error at
    the very same line.
    """
    if not chunk.startswith(b"data: ", start, stop):
        return False
    # Cheap probes first (the second and the last line), so that a run of another shape is
    # mostly turned away before the whole range is copied.
    nl = chunk.find(10, start, stop)
    if nl >= 0:
        if not chunk.startswith(b"data: ", nl + 1, stop):
            return False
        nl = chunk.rfind(10, nl, stop)
        if not chunk.startswith(b"data: ", nl + 1, stop):
            return False
        value = chunk[start + 6 : stop].replace(b"\ndata: ", b"\n")
        ends = value.count(b"\n")
        if len(value) + 6 * ends != stop - start - 6:
            return False
    else:
        value = chunk[start + 6 : stop]
        ends = 0
    size = p._size + (stop - start) - ends
    if size > p._limit:
        return False
    p._data.append(value)
    p._size = size
    p._dirty = True
    return True


def uniform_blocks(p: SSEParser[Any], region: bytes) -> bool:
    """A region whose complete blocks (after the one begun in earlier bytes) all have one of the
    two usual shapes: one ``data: value`` line, or an ``event: name`` line then a ``data: value``
    line. The region is split into lines once; the names and the values of all those blocks
    are each decoded and split once.

    Shape proof: between the first blank line (or the region's start, when no block is open)
    and the last one are k blocks separated by k - 1 blank lines. With blocks of n lines (n = 1
    or 2) the lines there number n*k + k - 1, every (n+1)-th is empty and no other is (exactly
    k - 1 empty lines in all), so each block has exactly n lines. Then the lines in first
    position, joined with LF, split on ``"\\nevent: "`` into exactly k pieces after an initial
    ``event: `` only if each of them starts with ``event: `` (no line holds an LF, so every
    occurrence starts a line); the same for ``data: ``. Invalid UTF-8 cannot span the ASCII
    separators, so decoding the values together is exact. The blocks hold no ``id`` or
    ``retry`` line, so each event reports the last event ID as the block before it left it,
    and no retry. Whether a block breaks max_event_size is not counted: the route is refused
    when the region itself is bigger than the limit (each block is smaller than the region).
    """
    if len(region) > p._limit:
        return False
    # A probe before splitting: the first block after the open one must look right.
    at = region.find(b"\n\n") + 2 if p._dirty else 0
    if at == 1 or not (region.startswith(b"data: ", at) or region.startswith(b"event: ", at)):
        return False
    lines = region.split(b"\n")
    lines.pop()  # the empty text after the final LF
    try:
        first = lines.index(b"") if p._dirty else -1
        stop = len(lines) - 1 - lines[::-1].index(b"")
    except ValueError:
        return False
    decoded = _uniform_section(lines[first + 1 : stop])
    if decoded is None:
        return False
    names, texts = decoded
    # The shape holds: apply the lines in order.
    if first >= 0:
        # The block begun in earlier bytes, by the rules (which may raise EventTooLargeError as
        # they would). Usually it is the rest of one data line: that one step, inline.
        line = lines[0]
        if first == 1 and line[:6] == b"data: " and p._size + len(line) <= p._limit:
            p._data.append(line[6:])
        else:
            p._lines(lines[:first])
        p._dispatch()
    append_events(p._out, texts, p.last_event_id, names)
    if stop + 1 < len(lines):
        # The complete lines of the block still open (usually its ``event`` line alone: the
        # step the rules take for it in a fresh block, inline).
        line = lines[stop + 1]
        if stop + 2 == len(lines) and line[:7] == b"event: " and p._size + len(line) <= p._limit:
            p._event = line[7:]
            p._size += len(line)
            p._dirty = True
        else:
            p._lines(lines[stop + 1 :])
    return True


def _uniform_section(section: list[bytes]) -> tuple[list[str] | None, list[str]] | None:
    """The names (None: all ``message``) and the data of the blocks in ``section`` (the lines
    between two blank lines) when they all have one of the two uniform shapes; else None."""
    if not section:
        return None
    period = 2 if section[0][:1] == b"d" else 3
    k = (len(section) + 1) // period
    if len(section) != period * k - 1 or any(section[period - 1 :: period]) or section.count(b"") != k - 1:
        return None
    names: list[str] | None = None
    if period == 3:
        name_lines = b"\n".join(section[0::3])
        if not name_lines.startswith(b"event: "):
            return None
        names = _split_decoded(name_lines[7:], "\nevent: ")
        if len(names) != k:
            return None
        if "" in names:
            # "If the event type buffer has a value other than the empty string..."
            names = [name or "message" for name in names]
        data_lines = b"\n".join(section[1::3])
    else:
        data_lines = b"\n".join(section[0::2])
    if not data_lines.startswith(b"data: "):
        return None
    texts = _split_decoded(data_lines[6:], "\ndata: ")
    return None if len(texts) != k else (names, texts)


def _split_decoded(raw: bytes, separator: str) -> list[str]:
    try:
        return raw.decode().split(separator)
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace").split(separator)


def by_block(p: SSEParser[Any], region: bytes) -> None:
    """Split the region on blank lines. The block begun in earlier bytes is finished first (in
    bulk when it is all ``data`` lines); fresh blocks of one ``data`` line, or of an ``event``
    line then a ``data`` line, are built directly (no ``id`` or ``retry`` line: the last event
    ID stays as it is); any other block goes through the rules; the lines after the last blank
    line start the next block."""
    blocks = region.split(b"\n\n")
    # The last piece is the start of a block whose blank line has not arrived: "" when the
    # region ended with a blank line, else lines each ending with LF.
    last = blocks.pop()
    if p._dirty and blocks:
        first = blocks[0]
        if not data_run(p, first, 0, len(first)):
            p._lines(first.split(b"\n"))
        p._dispatch()
        del blocks[0], first
    append = p._out.append
    limit = p._limit
    last_id = p.last_event_id
    for block in blocks:
        if len(block) <= limit:
            value: bytes | None = None
            if block[:5] == b"data:":
                if 10 not in block:
                    raw_name = b""
                    value = block[6:] if block[5:6] == b" " else block[5:]
            elif block[:6] == b"event:":
                nl = block.find(10)
                if block[nl + 1 : nl + 6] == b"data:" and block.find(10, nl + 1) < 0 and nl > 0:
                    raw_name = block[7:nl] if block[6:7] == b" " else block[6:nl]
                    value = block[nl + 7 :] if block[nl + 6 : nl + 7] == b" " else block[nl + 6 :]
            if value is not None:
                append(block_event(value, raw_name, last_id, None))
                continue
        p._lines(block.split(b"\n"))
        p._dispatch()
        last_id = p.last_event_id
    if last:
        _open_block(p, last)


def _open_block(p: SSEParser[Any], last: bytes) -> None:
    """The complete lines of a block still open (most of a big event's lines arrive here)."""
    start = 0
    if last[:6] != b"data: ":
        # Often one line (``event: name``) before the data lines of a big event.
        nl = last.find(10)
        if last.startswith(b"data: ", nl + 1):
            p._lines([last[:nl]])
            start = nl + 1
    if data_run(p, last, start, len(last) - 1):
        return
    lines = last[start:].split(b"\n") if start else last.split(b"\n")
    lines.pop()  # the empty text after the final LF
    p._lines(lines)
