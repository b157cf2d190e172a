"""Fuzz encode → split → parse round trips for SSE (``SSEEncoder``, ``encode_sse``) and NDJSON.

The body is a recipe (read by ``_Reader``) for a list of SSE items (messages with arbitrary text
in data, event name and id, optional retry; comments; extra fields) and of JSON values. Text is
taken from the fuzz bytes, so it holds CR, LF, CRLF, NUL, U+2028, BOMs, U+FFFD and anything else.

Invariants:
1. The encoders either accept an item or refuse it with ``LocalProtocolError`` -- and they refuse
   only what SSE cannot carry (a line break in an event name, id, field name or field value; NUL in
   an id; an empty event name; a field name that is empty, has a colon or is a standard field).
2. ``SSEParser(comments=True, extra_fields="*")`` reads the concatenated bytes, cut as the control
   byte says, back to exactly the accepted items (data line breaks normalised to LF, the only
   break SSE data can carry; a comment or field value comes back line for line).
3. ``encode_sse`` of a single message reads back to that message in a fresh parser.
4. ``encode_ndjson`` of each JSON value reads back equal through ``NDJSONParser``.

Run: ``python fuzz/fuzz_roundtrip.py fuzz/corpus-roundtrip -max_len=2048`` (see fuzz/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import feeds, instrumented, run, split_input

with instrumented(__name__ == "__main__"):
    from sansstream.core import NDJSONParser, SSEEncoder, SSEParser, encode_ndjson, encode_sse
    from sansstream.model import Comment, LocalProtocolError, ServerSentEvent, SSEField

Item = ServerSentEvent | Comment | SSEField
STANDARD = {"data", "event", "id", "retry"}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        b = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return b

    def text(self, cap: int = 24) -> str:
        raw = self.data[self.pos : self.pos + self.byte() % cap]
        self.pos += len(raw)
        return raw.decode("utf-8", "replace")


def _sse_items(r: _Reader) -> list[Item]:
    items: list[Item] = []
    while r.more() and len(items) < 16:
        kind = r.byte() % 6
        if kind <= 2:
            data = r.text(48)
            event = r.text(8) if kind == 1 else "message"
            previous = items[-1] if items and isinstance(items[-1], ServerSentEvent) else None
            # Usually repeat the previous id (the common case an encoder should not re-send).
            ident = r.text(6) if r.byte() % 3 == 0 else (previous.id if previous else "")
            retry = r.byte() * 1000 + r.byte() if kind == 2 else None
            items.append(ServerSentEvent(data, event, ident, retry))
        elif kind == 3:
            items.append(Comment(r.text(16)))
        elif kind == 4:
            items.append(SSEField(r.text(6), r.text(16)))
        else:
            items.append(ServerSentEvent(r.text(12), "message", r.text(4), None))
    return items


def _refusable(item: Item) -> bool:
    """Whether SSE really cannot carry ``item`` (so refusing it is right)."""
    if isinstance(item, ServerSentEvent):
        return (
            item.event == "" or any(c in item.event for c in "\r\n") or any(c in item.id for c in "\r\n\x00")
        )
    if isinstance(item, SSEField):
        return (
            item.name == ""
            or ":" in item.name
            or item.name in STANDARD
            or any(c in item.name + item.value for c in "\r\n")
        )
    return False


def _may_refuse(item: Item) -> bool:
    """Items an encoder may refuse although a careful one could carry them: a field name that
    starts with U+FEFF would, as the first line of a stream, lose it to BOM stripping."""
    return isinstance(item, SSEField) and item.name.startswith("\ufeff")


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _expected(item: Item) -> list[Item]:
    if isinstance(item, ServerSentEvent):
        return [ServerSentEvent(_lf(item.data), item.event, item.id, item.retry)]
    if isinstance(item, Comment):
        return [Comment(line) for line in _lf(item.text).split("\n")]
    return [item]


def check_sse(control: int, r: _Reader) -> None:
    items = _sse_items(r)
    encoder = SSEEncoder()
    parts: list[bytes] = []
    want: list[Item] = []
    for item in items:
        try:
            raw = encoder.encode(item)
        except LocalProtocolError as exc:
            if not (_refusable(item) or _may_refuse(item)):
                raise AssertionError(f"encoder refused a representable item {item!r}: {exc}") from exc
            continue
        assert not _refusable(item), f"encoder accepted {item!r} as {raw!r}"
        parts.append(raw)
        want.extend(_expected(item))
    # A field or comment line that begins the stream with U+FEFF would lose it to BOM stripping;
    # it is the encoder's job to prevent that, so it is part of the invariant, not excluded.
    stream = b"".join(parts)
    for how, chunks in feeds(control, stream):
        parser = SSEParser(comments=True, extra_fields="*", max_event_size=None)
        got: list[Any] = []
        for chunk in [*chunks, b""]:
            got.extend(parser.feed(chunk))
        assert got == want, f"{how}: round trip of {items!r} via {stream!r}:\n got {got}\nwant {want}"

    for item in items:
        if isinstance(item, ServerSentEvent) and not _refusable(item):
            single = encode_sse(item)
            fresh = SSEParser(max_event_size=None)
            back = fresh.feed(single)
            back += fresh.feed(b"")
            assert back == _expected(item), f"encode_sse({item!r}) = {single!r} reads back as {back}"


def _json_value(r: _Reader, depth: int = 0) -> Any:
    kind = r.byte() % (8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return r.byte() % 2 == 0
    if kind == 2:
        return int.from_bytes(bytes([r.byte(), r.byte(), r.byte()]), "big", signed=True)
    if kind == 3:
        return (r.byte() - 128) / (1 + r.byte())
    if kind == 4:
        return r.text(20)
    if kind in (5, 6):
        return [_json_value(r, depth + 1) for _ in range(r.byte() % 4)]
    return {r.text(6): _json_value(r, depth + 1) for _ in range(r.byte() % 4)}


def check_ndjson(control: int, r: _Reader) -> None:
    values = [_json_value(r) for _ in range(1 + r.byte() % 6)]
    stream = b"".join(encode_ndjson(v) for v in values)
    for how, chunks in feeds(control, stream):
        parser = NDJSONParser(max_line_size=None)
        got: list[Any] = []
        for chunk in [*chunks, b""]:
            got.extend(ev.value for ev in parser.feed(chunk))
        assert got == values, f"{how}: NDJSON round trip of {values!r} via {stream!r} gave {got!r}"


def check(data: bytes) -> None:
    control, body = split_input(data)
    r = _Reader(body)
    if control & 1:
        check_ndjson(control, r)
    else:
        check_sse(control, r)


if __name__ == "__main__":
    run(check)
