"""Properties of the pieces the transports share, without a network: content decoding gives the
same bytes however the compressed body is sliced, and the error-body helpers never raise."""

from __future__ import annotations

import gzip
import itertools
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansstream.model import RemoteProtocolError
from sansstream.transports import extract_error_message, parse_retry_after
from sansstream.transports._http import ContentDecoder, content_decoder

SETTINGS = settings(max_examples=150, deadline=None)


def decode_in_slices(encoding: str, data: bytes, cuts: list[int]) -> bytes:
    decoder = content_decoder(encoding)
    assert decoder is not None
    edges = [0, *sorted({c % (len(data) + 1) for c in cuts}), len(data)]
    out = [decoder.decode(data[a:b]) for a, b in itertools.pairwise(edges)]
    return b"".join(out) + decoder.flush()


@SETTINGS
@given(body=st.binary(max_size=4000), cuts=st.lists(st.integers(min_value=0), max_size=20))
def test_gzip_any_slicing(body: bytes, cuts: list[int]) -> None:
    assert decode_in_slices("gzip", gzip.compress(body), cuts) == body


@SETTINGS
@given(
    body=st.binary(max_size=4000),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
    raw=st.booleans(),
)
def test_deflate_any_slicing_wrapped_or_raw(body: bytes, cuts: list[int], raw: bool) -> None:
    if raw:
        c = zlib.compressobj(wbits=-15)
        data = c.compress(body) + c.flush()
    else:
        data = zlib.compress(body)
    assert decode_in_slices("deflate", data, cuts) == body


@SETTINGS
@given(
    parts=st.lists(st.binary(max_size=500), min_size=1, max_size=4), cuts=st.lists(st.integers(0), max_size=8)
)
def test_multi_member_gzip_any_slicing(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(gzip.compress(p) for p in parts)
    assert decode_in_slices("gzip", data, cuts) == b"".join(parts)


def test_bomb_is_refused_however_sliced() -> None:
    bomb = gzip.compress(b"\0" * (32 * 1024 * 1024))
    for size in (1, 4096, len(bomb)):
        decoder = ContentDecoder("gzip")
        produced = 0
        with pytest.raises(RemoteProtocolError, match="decompression bomb"):  # noqa: PT012
            for i in range(0, len(bomb), size):
                produced += len(decoder.decode(bomb[i : i + size]))
        assert produced < 4 * 1024 * 1024


def test_identity_and_unknown_encodings() -> None:
    assert content_decoder(None) is None
    assert content_decoder("") is None
    assert content_decoder("identity") is None
    assert isinstance(content_decoder("GZIP"), ContentDecoder)
    assert isinstance(content_decoder("x-gzip"), ContentDecoder)
    with pytest.raises(RemoteProtocolError, match="Accept-Encoding"):
        content_decoder("br")
    with pytest.raises(RemoteProtocolError):
        content_decoder("gzip, br")


@SETTINGS
@given(st.text(max_size=200))
def test_error_helpers_never_raise(text: str) -> None:
    message = extract_error_message(text)
    assert message is None or isinstance(message, str)
    seconds = parse_retry_after(text)
    assert seconds is None or seconds >= 0


@pytest.mark.parametrize("value", ["1_0", "1e3", "\u0661\u0662", "+5", "-5", "inf", "nan", "5s", "0x10"])
def test_retry_after_accepts_only_ascii_decimal_seconds(value: str) -> None:
    assert parse_retry_after(value) is None
