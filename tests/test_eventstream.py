"""AWS event-stream: the recorded Bedrock frames, every header type through the encoder, CRC and
length errors, truncation, limits, properties, and a linear-time check."""

from __future__ import annotations

import datetime
import json
import struct
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import FEEDS, best_time, bytewise, drive, provider_fixtures_dir, random_splits

from sansstream.core import (
    EventStreamParser,
    HeaderType,
    Int8,
    Int16,
    Int64,
    Timestamp,
    UUIDValue,
    encode_event_stream_message,
    iter_event_stream,
)
from sansstream.model import (
    EventStreamMessage,
    EventTooLargeError,
    IncompleteStreamError,
    LocalProtocolError,
    RemoteProtocolError,
)

BEDROCK = sorted((provider_fixtures_dir() / "bedrock").glob("*.bin"))


def test_there_are_five_bedrock_fixtures() -> None:
    assert len(BEDROCK) == 5


@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize("path", BEDROCK, ids=[p.stem for p in BEDROCK])
def test_bedrock_fixture_frames(path: Path, feed: str) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())["expected"]
    data = path.read_bytes()
    frames, exc = drive(EventStreamParser(), FEEDS[feed](data))
    assert exc is None
    assert len(frames) == expected["frames"]
    assert [f.event_type for f in frames] == expected["frame_event_types"]
    assert {f.message_type for f in frames} == {"event"}
    assert {f.header(":content-type") for f in frames} == {"application/json"}
    payloads = [f.json() for f in frames]
    stop = next(p for p, f in zip(payloads, frames, strict=True) if f.event_type == "messageStop")
    assert stop["stopReason"] == expected["stop_reason"]
    assert payloads[-1]["usage"]["totalTokens"] == expected["usage"]["totalTokens"]
    # re-encoding what was parsed gives back the recorded bytes exactly
    assert b"".join(encode_event_stream_message(f.headers, f.payload) for f in frames) == data


def frame(headers: Any = (), payload: bytes = b"") -> bytes:
    return encode_event_stream_message(headers, payload)


def raw_frame(total: int, headers_length: int, body: bytes, *, fix_crcs: bool = True) -> bytes:
    """A frame with arbitrary (possibly lying) lengths and correct CRCs."""
    prelude = struct.pack(">II", total, headers_length)
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    whole = head + body
    return whole + struct.pack(">I", zlib.crc32(whole) if fix_crcs else 0)


# -- headers ---------------------------------------------------------------------------------------

SAMPLE_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
ALL_TYPES: list[tuple[str, Any, HeaderType, type]] = [
    ("t", True, HeaderType.BOOL_TRUE, bool),
    ("f", False, HeaderType.BOOL_FALSE, bool),
    ("i8", Int8(-128), HeaderType.BYTE, Int8),
    ("i16", Int16(32767), HeaderType.SHORT, Int16),
    ("i32", -(2**31), HeaderType.INTEGER, int),
    ("i64", Int64(2**63 - 1), HeaderType.LONG, Int64),
    ("bytes", b"\x00\xff\x10", HeaderType.BYTE_ARRAY, bytes),
    ("str", "h\u00e9llo \U0001f600", HeaderType.STRING, str),
    ("ts", Timestamp(1_700_000_000_123), HeaderType.TIMESTAMP, Timestamp),
    ("uuid", UUIDValue(SAMPLE_UUID.bytes), HeaderType.UUID, UUIDValue),
]


def test_every_header_type_round_trips() -> None:
    headers = {name: value for name, value, _, _ in ALL_TYPES}
    data = frame(headers, b"payload")
    (message,) = list(iter_event_stream(bytewise(data)))
    assert message.payload == b"payload"
    assert dict(message.headers) == headers
    for name, _, _, cls in ALL_TYPES:
        assert type(message.headers[name]) is cls, name
    # the type codes on the wire are the ones named
    block = data[12 : 12 + struct.unpack(">I", data[4:8])[0]]
    pos, codes = 0, []
    for name, _, _, _ in ALL_TYPES:
        assert block[pos] == len(name)
        pos += 1 + len(name)
        codes.append(block[pos])
        pos += 1
        size = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}.get(block[pos - 1])
        pos += size if size is not None else 2 + struct.unpack(">H", block[pos : pos + 2])[0]
    assert codes == [kind for _, _, kind, _ in ALL_TYPES]
    assert frame(message.headers, message.payload) == data


def test_forced_types_and_natural_types() -> None:
    data = frame(
        [
            ("a", 5, HeaderType.BYTE),
            ("b", 5, "short"),
            ("c", 5, 5),
            ("d", 5),
            ("e", datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)),
            ("f", SAMPLE_UUID),
            ("g", bytearray(b"x"), HeaderType.BYTE_ARRAY),
            ("h", 1_700_000_000_000, "timestamp"),
        ]
    )
    headers = next(iter_event_stream([data])).headers
    kinds = [Int8, Int16, Int64, int, Timestamp, UUIDValue, bytes, Timestamp]
    assert [type(v) for v in headers.values()] == kinds
    assert headers["a"] == 5
    assert headers["d"] == 5
    ts = headers["e"]
    assert isinstance(ts, Timestamp)
    assert ts.to_datetime() == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    assert ts == 1_704_067_200_000
    uid = headers["f"]
    assert isinstance(uid, UUIDValue)
    assert uid.uuid == SAMPLE_UUID
    assert repr(headers["a"]) == "Int8(5)"


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"n": 2**31}, "Int64"),
        ([("n", 128, HeaderType.BYTE)], "does not fit"),
        ([("n", "x", HeaderType.INTEGER)], "needs an int"),
        ([("n", True, HeaderType.BOOL_FALSE)], "needs the value False"),
        ([("n", 1, 10)], "unknown header type"),
        ([("n", 1, "float")], "unknown header type"),
        ({"n": 1.5}, "cannot encode a float"),
        ({"n": None}, "cannot encode a NoneType"),
        ({"": "x"}, "1 to 255"),
        ({"n" * 256: "x"}, "1 to 255"),
        ({"n": "\ud800"}, "UTF-8"),
        ({"n": "x" * 65536}, "exceeds 65535"),
        ({"n": b"x" * 65536}, "exceeds 65535"),
        ([("n", b"short", HeaderType.UUID)], "16 bytes"),
        ([("only-name",)], "tuples"),
        ({f"h{i}": "x" * 60000 for i in range(3)}, "limit"),
    ],
)
def test_encoder_refuses_what_the_wire_cannot_carry(headers: Any, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        frame(headers)


def test_encoder_refuses_oversized_payload() -> None:
    with pytest.raises(LocalProtocolError, match="payload"):
        frame({}, b"x" * (24 * 1024 * 1024 + 1))


def test_repeated_header_name_last_wins() -> None:
    data = frame([("k", "first"), ("k", "second")])
    assert next(iter_event_stream([data])).headers == {"k": "second"}


# -- corrupt frames --------------------------------------------------------------------------------

GOOD = frame({":event-type": "a", ":message-type": "event"}, b'{"x":1}')
SECOND_AT = len(GOOD)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


CORRUPT: list[tuple[str, bytes, type[Exception], str]] = [
    ("prelude crc", GOOD + _flip(GOOD, 2), RemoteProtocolError, f"at byte {SECOND_AT}: prelude CRC mismatch"),
    ("prelude crc field", GOOD + _flip(GOOD, 9), RemoteProtocolError, "prelude CRC mismatch"),
    (
        "message crc in payload",
        GOOD + _flip(GOOD, len(GOOD) - 6),
        RemoteProtocolError,
        f"at byte {SECOND_AT}: message CRC mismatch",
    ),
    ("message crc in headers", GOOD + _flip(GOOD, 14), RemoteProtocolError, "message CRC mismatch"),
    ("message crc field", GOOD + _flip(GOOD, len(GOOD) - 1), RemoteProtocolError, "message CRC mismatch"),
    ("total below minimum", GOOD + raw_frame(15, 0, b"")[:12], RemoteProtocolError, "below the minimum"),
    ("headers past total", GOOD + raw_frame(20, 5, b"abcd"), RemoteProtocolError, "does not fit"),
    (
        "headers over 128 KiB",
        GOOD + raw_frame(200_000, 131_073, b"")[:12],
        RemoteProtocolError,
        "131073 exceeds",
    ),
    ("insane total", GOOD + raw_frame(0xFFFFFFFF, 0, b"")[:12], EventTooLargeError, "refused before"),
    (
        "unknown header type",
        GOOD + raw_frame(22, 3, b"\x01a\x0a" + b"xyz"),
        RemoteProtocolError,
        "unknown value type 10",
    ),
    ("header name past block", GOOD + raw_frame(20, 4, b"\x09abc"), RemoteProtocolError, "runs past"),
    ("string past block", GOOD + raw_frame(22, 6, b"\x01a\x07\x00\x09b"), RemoteProtocolError, "runs past"),
    ("int past block", GOOD + raw_frame(22, 6, b"\x01a\x05\x00\x00\x00"), RemoteProtocolError, "runs past"),
    ("uuid past block", GOOD + raw_frame(22, 6, b"\x01a\x09\x00\x00\x00"), RemoteProtocolError, "runs past"),
    ("bad utf-8 name", GOOD + raw_frame(20, 4, b"\x01\xff\x00\x00"), RemoteProtocolError, "UTF-8"),
    ("bad utf-8 value", GOOD + raw_frame(22, 6, b"\x01a\x07\x00\x01\xff"), RemoteProtocolError, "UTF-8"),
    ("truncated frame", GOOD + GOOD[:-3], IncompleteStreamError, f"frame at byte {SECOND_AT}"),
    ("truncated prelude", GOOD + GOOD[:5], IncompleteStreamError, "5 of the 12 prelude bytes"),
]


@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize(("name", "data", "error", "match"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_streams(feed: str, name: str, data: bytes, error: type[Exception], match: str) -> None:
    frames, exc = drive(EventStreamParser(), FEEDS[feed](data))
    assert [f.payload for f in frames] == [b'{"x":1}']  # the good frame first, always
    assert type(exc) is error, exc
    assert match in str(exc)


def test_insane_length_refused_at_the_prelude() -> None:
    """A length field of ~4 GiB is refused once the 12 prelude bytes are in: nothing more is
    awaited, and nothing after them is kept."""
    parser = EventStreamParser()
    parser.receive_data(raw_frame(0xFFFFFFF0, 0, b"")[:12])
    with pytest.raises(EventTooLargeError, match="4294967280") as info:
        parser.next_event()
    assert info.value.size == 0xFFFFFFF0
    assert info.value.limit == 16 + 128 * 1024 + 24 * 1024 * 1024


def test_own_limit_and_no_limit() -> None:
    big = frame({"k": "v"}, b"x" * 1000)
    _, exc = drive(EventStreamParser(max_message_size=500), [GOOD, big])
    assert isinstance(exc, EventTooLargeError)
    assert exc.limit == 500
    frames, exc = drive(EventStreamParser(max_message_size=None), bytewise(big))
    assert exc is None
    assert frames[0].payload == b"x" * 1000
    with pytest.raises(LocalProtocolError):
        EventStreamParser(max_message_size=15)


def test_minimal_frame_and_empty_stream() -> None:
    empty = frame()
    assert len(empty) == 16
    assert list(iter_event_stream([empty, empty])) == [EventStreamMessage({}, b"")] * 2
    assert list(iter_event_stream([])) == []


def test_refuses_work_after_an_error_and_data_after_end() -> None:
    parser = EventStreamParser()
    parser.receive_data(_flip(GOOD, 1))
    with pytest.raises(RemoteProtocolError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match=r"failed earlier.*prelude CRC"):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.receive_data(GOOD)
    done = EventStreamParser()
    assert done.feed(GOOD)[0].event_type == "a"
    done.receive_data(b"")
    done.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="after the end"):
        done.receive_data(GOOD)


# -- properties ------------------------------------------------------------------------------------

names = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20).filter(
    lambda s: len(s.encode()) <= 255
)
header_values = st.one_of(
    st.booleans(),
    st.integers(-(2**7), 2**7 - 1).map(Int8),
    st.integers(-(2**15), 2**15 - 1).map(Int16),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.integers(-(2**63), 2**63 - 1).map(Timestamp),
    st.binary(max_size=40),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
    st.binary(min_size=16, max_size=16).map(UUIDValue),
)
messages = st.tuples(st.dictionaries(names, header_values, max_size=6), st.binary(max_size=200))


@settings(max_examples=150, deadline=None)
@given(msgs=st.lists(messages, max_size=5), seed=st.integers(0, 2**16))
def test_encode_parse_round_trip_any_split(msgs: list[tuple[dict[str, Any], bytes]], seed: int) -> None:
    data = b"".join(frame(h, p) for h, p in msgs)
    for chunks in ([data], bytewise(data), random_splits(data, seed, max_size=17)):
        frames, exc = drive(EventStreamParser(), chunks)
        assert exc is None
        assert [(dict(f.headers), f.payload) for f in frames] == msgs
        pairs = zip(frames, msgs, strict=True)
        assert all(type(f.headers[k]) is type(v) for f, (h, _) in pairs for k, v in h.items())
    assert b"".join(frame(f.headers, f.payload) for f in frames) == data


@settings(max_examples=150, deadline=None)
@given(msgs=st.lists(messages, min_size=1, max_size=3), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_detected(
    msgs: list[tuple[dict[str, Any], bytes]], where: float, bit: int
) -> None:
    data = bytearray(b"".join(frame(h, p) for h, p in msgs))
    at = min(int(where * len(data)), len(data) - 1)
    data[at] ^= 1 << bit
    frames, exc = drive(EventStreamParser(), [bytes(data)])
    assert isinstance(exc, RemoteProtocolError)  # CRC32 catches every single-bit error
    assert len(frames) < len(msgs)


def _outcome(chunks: list[bytes]) -> tuple[list[tuple[Any, bytes]], type[Exception] | None]:
    frames, exc = drive(EventStreamParser(max_message_size=4096), chunks)
    return [(sorted(f.headers.items()), f.payload) for f in frames], type(exc) if exc else None


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200), seed=st.integers(0, 2**16))
def test_arbitrary_bytes_parse_or_raise_remote_error_same_for_any_split(data: bytes, seed: int) -> None:
    want = _outcome([data])
    assert _outcome(bytewise(data)) == want
    assert _outcome(random_splits(data, seed, max_size=9)) == want


@settings(max_examples=150, deadline=None)
@given(block=st.binary(max_size=40), payload=st.binary(max_size=20))
def test_arbitrary_header_blocks_with_valid_crcs(block: bytes, payload: bytes) -> None:
    """Valid CRCs around garbage headers: the header decoder must cope on its own."""
    data = raw_frame(16 + len(block) + len(payload), len(block), block + payload)
    frames, exc = drive(EventStreamParser(), [data])
    assert (len(frames), exc is None) in ((1, True), (0, False))


# -- cost ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["one big frame", "many small frames"])
def test_cost_is_linear_in_one_byte_slices(shape: str) -> None:
    def make(n: int) -> bytes:
        if shape == "one big frame":
            return frame({":event-type": "x"}, b"p" * n)
        small = frame({":event-type": "contentBlockDelta"}, b'{"delta":{"text":"hi"}}')
        return small * (n // len(small))

    def run(data: bytes) -> Callable[[], object]:
        slices = bytewise(data)
        return lambda: drive(EventStreamParser(), slices)

    # 4x the input should take about 4x the time; a quadratic parser would take 16x.
    ratio = best_time(run(make(120_000)), repeat=3) / best_time(run(make(30_000)))
    assert ratio < 8.0, f"4x input took {ratio:.2f}x the time"
