"""AWS event-stream (``application/vnd.amazon.eventstream``, Bedrock): sans-IO parser and encoder.

Wire layout of one frame (all integers big-endian)::

    total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32

``prelude_crc`` is the CRC32 (zlib/IEEE) of the first 8 bytes, ``message_crc`` the CRC32 of every
byte before it; ``payload_length = total_length - headers_length - 16``. Each header is
``name_len u8, name (UTF-8), type u8, value`` with types 0 true, 1 false, 2 int8, 3 int16,
4 int32, 5 int64, 6 bytes (u16 length), 7 string (u16 length, UTF-8), 8 timestamp (int64 ms),
9 uuid (16 bytes).

Strategy: ``receive_data`` appends to a ``bytearray`` and cuts off every complete frame, checking
each prelude (its CRC and lengths) as soon as its 12 bytes are in, so an absurd length is refused
before the frame body is buffered; ``next_event`` checks the message CRC and decodes the headers
of one queued frame. Frames are cut by their declared length — no searching — and consumed bytes
are dropped from the front, so the cost is linear for any slicing.

Decoded header values are plain ``bool``/``int``/``str``/``bytes`` for the natural types (true,
false, int32, string, bytes) and small subclasses of ``int``/``bytes`` (``Int8``, ``Int16``,
``Int64``, ``Timestamp``, ``UUIDValue``) for the others, so they compare equal to plain values yet
re-encode to the very same bytes.
"""

from __future__ import annotations

import datetime
import enum
import struct
import sys
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ..model import (
    EventStreamMessage,
    EventTooLargeError,
    HeaderValue,
    IncompleteStreamError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._base import QueuedParser, drive

if TYPE_CHECKING:
    import uuid  # imported where a UUID is built: on Python 3.10, uuid loads threading

__all__ = [
    "EventStreamParser",
    "iter_event_stream",
    "encode_event_stream_message",
    "HeaderType",
    "Int8",
    "Int16",
    "Int64",
    "Timestamp",
    "UUIDValue",
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "DEFAULT_MAX_MESSAGE_SIZE",
]

PRELUDE_LENGTH: Final = 12  # total_length, headers_length, prelude_crc
_OVERHEAD: Final = PRELUDE_LENGTH + 4  # prelude plus the trailing message CRC

MAX_HEADERS_LENGTH: Final = 128 * 1024
"""Largest headers block AWS allows (botocore enforces the same); a protocol limit, not a knob."""

MAX_PAYLOAD_LENGTH: Final = 24 * 1024 * 1024
"""Largest payload AWS services send (botocore's limit); the encoder refuses more."""

DEFAULT_MAX_MESSAGE_SIZE: Final = _OVERHEAD + MAX_HEADERS_LENGTH + MAX_PAYLOAD_LENGTH
"""Largest frame the parser buffers by default: the biggest frame AWS may legally send. A length
field beyond it is refused at the prelude, before any of the frame is buffered."""

_MAX_SHORT: Final = 0xFFFF  # u16 length prefix of bytes/string header values
_MAX_NAME: Final = 0xFF  # u8 length prefix of header names
_EXCERPT_BYTES: Final = 16  # prelude plus a little: enough to eyeball a corrupt frame


class HeaderType(enum.IntEnum):
    """The wire type codes of event-stream header values."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


class Int8(int):
    """A header value sent as int8 (type 2)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Int8({int(self)})"


class Int16(int):
    """A header value sent as int16 (type 3)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Int16({int(self)})"


class Int64(int):
    """A header value sent as int64 (type 5). Plain ``int`` values are sent as int32."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Int64({int(self)})"


class Timestamp(int):
    """A header value sent as a timestamp (type 8): milliseconds since the Unix epoch."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Timestamp({int(self)})"

    @classmethod
    def from_datetime(cls, when: datetime.datetime) -> Timestamp:
        """A naive ``datetime`` is taken as UTC."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return cls((when - epoch) // datetime.timedelta(milliseconds=1))

    def to_datetime(self) -> datetime.datetime:
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return epoch + datetime.timedelta(milliseconds=int(self))


class UUIDValue(bytes):
    """A header value sent as a UUID (type 9): exactly 16 bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"UUIDValue({self.uuid!s})"

    @property
    def uuid(self) -> uuid.UUID:
        import uuid as uuid_module

        return uuid_module.UUID(bytes=bytes(self))


_INT_RANGES: Final = {
    HeaderType.BYTE: (-(2**7), 2**7 - 1, ">b"),
    HeaderType.SHORT: (-(2**15), 2**15 - 1, ">h"),
    HeaderType.INTEGER: (-(2**31), 2**31 - 1, ">i"),
    HeaderType.LONG: (-(2**63), 2**63 - 1, ">q"),
    HeaderType.TIMESTAMP: (-(2**63), 2**63 - 1, ">q"),
}
_INT_WRAPPERS: Final[dict[int, type[int]]] = {
    HeaderType.BYTE: Int8,
    HeaderType.SHORT: Int16,
    HeaderType.INTEGER: int,
    HeaderType.LONG: Int64,
    HeaderType.TIMESTAMP: Timestamp,
}
_INT_STRUCTS: Final[dict[int, struct.Struct]] = {
    kind: struct.Struct(fmt) for kind, (_, _, fmt) in _INT_RANGES.items()
}
_T_TRUE: Final = int(HeaderType.BOOL_TRUE)
_T_FALSE: Final = int(HeaderType.BOOL_FALSE)
_T_BYTES: Final = int(HeaderType.BYTE_ARRAY)
_T_STRING: Final = int(HeaderType.STRING)
_T_UUID: Final = int(HeaderType.UUID)
_PRELUDE: Final = struct.Struct(">III")
_U32: Final = struct.Struct(">I")
_U16: Final = struct.Struct(">H")


def _hex(raw: bytes | bytearray) -> str:
    shown = bytes(raw[:_EXCERPT_BYTES]).hex(" ")
    return shown + (" ..." if len(raw) > _EXCERPT_BYTES else "")


class EventStreamParser(QueuedParser[EventStreamMessage]):
    """Sans-IO AWS event-stream parser: bytes in (any slicing), ``EventStreamMessage`` out.

    ``receive_data(b"")`` marks the end. ``next_event()`` returns an ``EventStreamMessage``,
    ``NEED_DATA`` or ``END``. A CRC mismatch, an impossible length, a bad header, or the stream
    ending mid-frame raise ``RemoteProtocolError`` (``IncompleteStreamError`` for a truncated
    frame, ``EventTooLargeError`` for a frame above ``max_message_size``) naming the frame's byte
    offset, after every frame before it was returned; then the parser refuses further work.
    Repeated header names: the last one wins.
    """

    _PARSER = "EventStreamParser"
    _STREAM = "event-stream"

    def __init__(self, *, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size is not None and max_message_size < _OVERHEAD:
            raise LocalProtocolError(
                f"max_message_size must be None or at least {_OVERHEAD} bytes, not {max_message_size!r}"
            )
        self._max = max_message_size
        self._buf = bytearray()
        self._dropped = 0  # bytes removed from the front of _buf: absolute offset of _buf[0]
        self._need = 0  # total_length of the frame at _buf[0] once its prelude was checked, else 0
        self._ready: deque[tuple[bytes, int]]  # (whole frame, its byte offset)
        self._init_queue()

    # -- hooks of the h11-style surface (``QueuedParser``) --------------------------------------

    def _at_end(self) -> None:
        if self._buf:
            self._truncated()

    def _take(self, data: bytes) -> None:
        """Buffer ``data`` and cut off every frame it completes."""
        buf = self._buf
        buf += data
        start = 0
        while True:
            if not self._need:
                if len(buf) - start < PRELUDE_LENGTH:
                    break
                self._need = self._check_prelude(start)
                if not self._need:  # refused: the error is pending and the buffer dropped
                    return
            if len(buf) - start < self._need:
                break
            end = start + self._need
            self._ready.append((bytes(buf[start:end]), self._dropped + start))
            start = end
            self._need = 0
        if start:
            del buf[:start]
            self._dropped += start

    def _decode_next(self) -> EventStreamMessage:
        frame, offset = self._ready.popleft()
        return self._decode(frame, offset)

    # -- internals ------------------------------------------------------------------------------

    def _check_prelude(self, start: int) -> int:
        buf = self._buf
        total, headers_length, prelude_crc = _PRELUDE.unpack_from(buf, start)
        offset = self._dropped + start
        computed = zlib.crc32(buf[start : start + 8])
        problem = ""
        if computed != prelude_crc:
            problem = f"prelude CRC mismatch (frame says {prelude_crc:#010x}, bytes give {computed:#010x})"
        elif total < _OVERHEAD:
            problem = f"total_length {total} is below the minimum frame size of {_OVERHEAD} bytes"
        elif headers_length > MAX_HEADERS_LENGTH:
            problem = f"headers_length {headers_length} exceeds the {MAX_HEADERS_LENGTH}-byte limit"
        elif headers_length > total - _OVERHEAD:
            problem = f"headers_length {headers_length} does not fit in total_length {total}"
        if problem:
            self._pending = RemoteProtocolError(
                f"corrupt AWS event-stream frame at byte {offset}: {problem}; "
                f"frame starts {_hex(buf[start : start + _EXCERPT_BYTES])}"
            )
        elif self._max is not None and total > self._max:
            self._pending = EventTooLargeError(
                f"AWS event-stream frame at byte {offset} declares {total} bytes, more than "
                f"max_message_size={self._max}; refused before buffering it (raise "
                "max_message_size if such frames are expected)",
                limit=self._max,
                size=total,
            )
        if self._pending is not None:
            self._drop_buffer()
            return 0
        return int(total)

    def _truncated(self) -> None:
        have = len(self._buf)
        offset = self._dropped
        if self._need:
            what = f"{have} of its {self._need} bytes"
        else:
            what = f"{have} of the {PRELUDE_LENGTH} prelude bytes"
        self._pending = IncompleteStreamError(
            f"AWS event-stream ended inside the frame at byte {offset} ({what} arrived): the "
            "response was cut off; retry the request"
        )
        self._drop_buffer()

    def _decode(self, frame: bytes, offset: int) -> EventStreamMessage:
        total, headers_length, _ = _PRELUDE.unpack_from(frame)
        (message_crc,) = _U32.unpack_from(frame, total - 4)
        computed = zlib.crc32(memoryview(frame)[: total - 4])
        if computed != message_crc:
            self._fail(
                RemoteProtocolError(
                    f"corrupt AWS event-stream frame at byte {offset}: message CRC mismatch (frame "
                    f"says {message_crc:#010x}, bytes give {computed:#010x}); frame starts {_hex(frame)}"
                )
            )
        headers_end = PRELUDE_LENGTH + headers_length
        headers = self._decode_headers(frame, headers_end, offset)
        return EventStreamMessage(headers, frame[headers_end : total - 4])

    def _decode_headers(self, frame: bytes, end: int, offset: int) -> dict[str, HeaderValue]:
        headers: dict[str, HeaderValue] = {}
        pos = PRELUDE_LENGTH
        while pos < end:
            at = pos
            name_len = frame[pos]
            pos += 1
            if pos + name_len + 1 > end:
                self._bad_header(frame, offset, at, end, f"name of {name_len} bytes runs past the block")
            try:
                name = frame[pos : pos + name_len].decode("utf-8")
            except UnicodeDecodeError:
                self._bad_header(frame, offset, at, end, "name is not valid UTF-8")
            pos += name_len
            kind = frame[pos]
            pos += 1
            value: HeaderValue
            # Plain int comparisons, most frequent type first: this loop runs for every header.
            if kind in (_T_STRING, _T_BYTES):
                if pos + 2 > end:
                    self._bad_header(frame, offset, at, end, "value length runs past the block")
                length = (frame[pos] << 8) | frame[pos + 1]
                pos += 2
                if pos + length > end:
                    self._bad_header(frame, offset, at, end, f"value of {length} bytes runs past the block")
                raw = frame[pos : pos + length]
                pos += length
                if kind == _T_BYTES:
                    value = raw
                else:
                    try:
                        value = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        problem = f"string value of {name!r} is not valid UTF-8"
                        self._bad_header(frame, offset, at, end, problem)
            elif kind == _T_TRUE:
                value = True
            elif kind == _T_FALSE:
                value = False
            elif kind in _INT_STRUCTS:
                fmt = _INT_STRUCTS[kind]
                if pos + fmt.size > end:
                    what = HeaderType(kind).name.lower()
                    self._bad_header(frame, offset, at, end, f"{what} value runs past the block")
                (number,) = fmt.unpack_from(frame, pos)
                pos += fmt.size
                value = _INT_WRAPPERS[kind](number)
            elif kind == _T_UUID:
                if pos + 16 > end:
                    self._bad_header(frame, offset, at, end, "uuid value runs past the block")
                value = UUIDValue(frame[pos : pos + 16])
                pos += 16
            else:
                problem = f"unknown value type {kind} for header {name!r} (valid types are 0-9)"
                self._bad_header(frame, offset, at, end, problem)
            headers[name] = value
        return headers

    def _bad_header(self, frame: bytes, offset: int, at: int, end: int, problem: str) -> NoReturn:
        self._fail(
            RemoteProtocolError(
                f"corrupt AWS event-stream frame at byte {offset}: header at frame byte {at}: "
                f"{problem}; header bytes {_hex(frame[at:end])}"
            )
        )

    def _drop_buffer(self) -> None:
        self._dropped += len(self._buf)
        self._buf.clear()
        self._need = 0


def iter_event_stream(chunks: Iterable[bytes], **opts: Any) -> Iterator[EventStreamMessage]:
    """Decode an AWS event-stream given in slices of any size; yields each frame.

    ``opts`` go to ``EventStreamParser``. The end of ``chunks`` is the end of the stream.
    """
    return drive(EventStreamParser(**opts), chunks)


HeaderInput = Mapping[str, Any] | Sequence[tuple[str, Any] | tuple[str, Any, "HeaderType | int | str | None"]]
"""Headers for the encoder: a mapping, or (name, value) / (name, value, type) pairs in order."""


def _coerce_type(forced: HeaderType | int | str | None, name: str) -> HeaderType | None:
    if forced is None:
        return None
    try:
        if isinstance(forced, str):
            return HeaderType[forced.upper().replace("-", "_")]
        return HeaderType(forced)
    except (KeyError, ValueError):
        raise LocalProtocolError(
            f"header {name!r}: unknown header type {forced!r}; use a HeaderType member or 0-9"
        ) from None


def _natural_type(value: Any, name: str) -> HeaderType:
    if isinstance(value, bool):
        return HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE
    for cls, kind in (
        (Int8, HeaderType.BYTE),
        (Int16, HeaderType.SHORT),
        (Int64, HeaderType.LONG),
        (Timestamp, HeaderType.TIMESTAMP),
    ):
        if isinstance(value, cls):
            return kind
    if isinstance(value, int):
        return HeaderType.INTEGER
    if isinstance(value, UUIDValue) or _is_uuid(value):
        return HeaderType.UUID
    if isinstance(value, (bytes, bytearray, memoryview)):
        return HeaderType.BYTE_ARRAY
    if isinstance(value, str):
        return HeaderType.STRING
    if isinstance(value, datetime.datetime):
        return HeaderType.TIMESTAMP
    raise LocalProtocolError(
        f"header {name!r}: cannot encode a {type(value).__name__} value; use bool, int, str, "
        "bytes, uuid.UUID, datetime or a typed wrapper (Int8, Int16, Int64, Timestamp, UUIDValue)"
    )


def _is_uuid(value: object) -> bool:
    """``isinstance(value, uuid.UUID)`` without importing uuid: a UUID can only exist once some
    code imported the module."""
    module = sys.modules.get("uuid")
    return module is not None and isinstance(value, module.UUID)


def _encode_value(name: str, value: Any, kind: HeaderType) -> bytes:
    code = bytes((kind,))
    if kind in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
        if not isinstance(value, bool) or value != (kind == HeaderType.BOOL_TRUE):
            needed = kind == HeaderType.BOOL_TRUE
            raise LocalProtocolError(f"header {name!r}: type {kind.name} needs the value {needed}")
        return code
    if kind in _INT_RANGES:
        if kind == HeaderType.TIMESTAMP and isinstance(value, datetime.datetime):
            value = Timestamp.from_datetime(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise LocalProtocolError(f"header {name!r}: type {kind.name} needs an int, not {value!r}")
        low, high, fmt = _INT_RANGES[kind]
        if not low <= value <= high:
            hint = " (wrap it in Int64 for a 64-bit header)" if kind == HeaderType.INTEGER else ""
            raise LocalProtocolError(
                f"header {name!r}: {value} does not fit in {kind.name} [{low}, {high}]{hint}"
            )
        return code + struct.pack(fmt, value)
    if kind == HeaderType.UUID:
        raw = value.bytes if _is_uuid(value) else value
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 16:
            raise LocalProtocolError(f"header {name!r}: a UUID value is a uuid.UUID or 16 bytes")
        return code + bytes(raw)
    if kind == HeaderType.STRING:
        if not isinstance(value, str):
            raise LocalProtocolError(f"header {name!r}: type STRING needs a str, not {value!r}")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"header {name!r}: value is not encodable as UTF-8") from None
    else:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"header {name!r}: type BYTE_ARRAY needs bytes, not {value!r}")
        raw = bytes(value)
    if len(raw) > _MAX_SHORT:
        raise LocalProtocolError(f"header {name!r}: value of {len(raw)} bytes exceeds {_MAX_SHORT}")
    return code + _U16.pack(len(raw)) + raw


def encode_event_stream_message(headers: HeaderInput = (), payload: bytes = b"") -> bytes:
    """One AWS event-stream frame with both CRCs.

    ``headers`` is a mapping or a sequence of ``(name, value)`` / ``(name, value, type)`` tuples
    (kept in order; the type is a ``HeaderType``, its code or its name). Without a type, values map
    naturally: ``bool`` → true/false, ``int`` → int32, ``str`` → string, ``bytes`` → byte array,
    ``uuid.UUID`` → uuid, ``datetime`` → timestamp; the wrappers ``Int8``, ``Int16``, ``Int64``,
    ``Timestamp`` and ``UUIDValue`` (what the parser returns) select the other types, so a parsed
    message re-encodes to the same bytes. Anything the wire cannot carry raises
    ``LocalProtocolError``.
    """
    items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    parts: list[bytes] = []
    for item in items:
        if not isinstance(item, tuple) or len(item) not in (2, 3):
            raise LocalProtocolError(
                f"headers must be (name, value) or (name, value, type) tuples, not {item!r}"
            )
        name, value = item[0], item[1]
        if not isinstance(name, str):
            raise LocalProtocolError(f"header names are str, not {name!r}")
        try:
            raw_name = name.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"header name {name!r} is not encodable as UTF-8") from None
        if not 1 <= len(raw_name) <= _MAX_NAME:
            raise LocalProtocolError(f"header name {name!r} must be 1 to {_MAX_NAME} bytes of UTF-8")
        forced = _coerce_type(item[2] if len(item) == 3 else None, name)
        kind = forced if forced is not None else _natural_type(value, name)
        parts.append(bytes((len(raw_name),)) + raw_name + _encode_value(name, value, kind))
    block = b"".join(parts)
    payload = bytes(payload)
    if len(block) > MAX_HEADERS_LENGTH:
        raise LocalProtocolError(f"headers take {len(block)} bytes; the limit is {MAX_HEADERS_LENGTH}")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise LocalProtocolError(
            f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD_LENGTH}-byte limit"
        )
    total = _OVERHEAD + len(block) + len(payload)
    prelude = struct.pack(">II", total, len(block))
    head = prelude + _U32.pack(zlib.crc32(prelude))
    body = head + block + payload
    return body + _U32.pack(zlib.crc32(body))
