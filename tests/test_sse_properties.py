"""Property tests (hypothesis) of the SSE parser and encoders.

* Any split of any byte string gives the same events as feeding it whole, and the same events
  and end state as the literal transcription of the spec in ``reference_sse.py``.
* Whatever the encoders accept parses back to the same events, for any split.
* On arbitrary bytes the parser either parses or raises a ``RemoteProtocolError`` (the fuzz
  invariant), a small ``max_event_size`` included, and it does so the same way for any split.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_sse import reference_parse

from sansstream.core import SSEEncoder, SSEParser, encode_sse
from sansstream.model import (
    END,
    NEED_DATA,
    Comment,
    RemoteProtocolError,
    ServerSentEvent,
    SSEField,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that exercise every rule: field names, separators, every line end, BOMs, invalid and
# multi-byte UTF-8, NUL, digits for retry, Unicode line separators that must not split lines.
TOKENS = [
    b"data",
    b"event",
    b"id",
    b"retry",
    b":",
    b": ",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b"\xef\xbb",
    b"\xff",
    b"\xe2\x82",
    b"\xe2\x82\xac",
    "\u2028\x85".encode(),
    b"\x00",
    b"1",
    b"42",
    b"x",
    b"foo",
    b"data: ",
    b"\t",
]
sse_bytes = st.tuples(
    st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xef\xbb"]),  # a BOM (or part of one) at the start
    st.one_of(st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join), st.binary(max_size=200)),
).map(b"".join)


def cut(body: bytes, offsets: list[int]) -> list[bytes]:
    points = sorted({o for o in offsets if 0 < o < len(body)})
    return [body[a:b] for a, b in itertools.pairwise([0, *points, len(body)])]


Outcome = tuple[list[object], str, "int | None", "str | None"]


def run(chunks: list[bytes], **opts: object) -> Outcome:
    """Events, last event ID, retry, and the error type name if one was raised."""
    parser: SSEParser[ServerSentEvent | Comment | SSEField] = SSEParser(**opts)  # type: ignore[call-overload]
    events: list[object] = []
    try:
        for chunk in [*chunks, b""]:
            parser.receive_data(chunk)
            while (item := parser.next_event()) not in (NEED_DATA, END):
                events.append(item)
    except RemoteProtocolError as exc:  # anything else fails the test
        return events, parser.last_event_id, parser.retry, type(exc).__name__
    return events, parser.last_event_id, parser.retry, None


def run_feed(chunks: list[bytes], **opts: object) -> Outcome:
    """The same through ``feed`` (which has its own quick routes)."""
    parser: SSEParser[ServerSentEvent | Comment | SSEField] = SSEParser(**opts)  # type: ignore[call-overload]
    events: list[object] = []
    try:
        for chunk in [*chunks, b""]:
            events += parser.feed(chunk)
    except RemoteProtocolError as exc:
        return events, parser.last_event_id, parser.retry, type(exc).__name__
    return events, parser.last_event_id, parser.retry, None


@SETTINGS
@given(body=sse_bytes, offsets=st.lists(st.integers(0, 300), max_size=12))
def test_any_split_matches_whole_and_the_reference(body: bytes, offsets: list[int]) -> None:
    whole = run([body])
    assert run(cut(body, offsets)) == whole
    assert run_feed(cut(body, offsets)) == whole
    assert whole[3] is None  # no limit was hit: nothing can fail
    ref = reference_parse(body)
    assert [(e.event, e.data, e.id, e.retry) for e in whole[0]] == [  # type: ignore[attr-defined]
        (e.type, e.data, e.last_event_id, e.retry) for e in ref.events
    ]
    assert whole[1] == ref.last_event_id
    assert whole[2] == ref.retry


@SETTINGS
@given(body=sse_bytes)
def test_byte_by_byte_matches_whole(body: bytes) -> None:
    assert run([body[i : i + 1] for i in range(len(body))], comments=True, extra_fields="*") == run(
        [body], comments=True, extra_fields="*"
    )


@SETTINGS
@given(
    body=sse_bytes,
    offsets=st.lists(st.integers(0, 300), max_size=12),
    limit=st.integers(1, 40),
)
def test_only_remote_protocol_errors_and_split_invariant_with_small_limit(
    body: bytes, offsets: list[int], limit: int
) -> None:
    # run() lets any exception that is not a RemoteProtocolError escape and fail the test.
    whole = run([body], max_event_size=limit)
    assert run(cut(body, offsets), max_event_size=limit) == whole
    assert run_feed(cut(body, offsets), max_event_size=limit) == whole
    assert run_feed([body[i : i + 1] for i in range(len(body))], max_event_size=limit) == whole


# -- encoder round trips ----------------------------------------------------------------------

no_surrogates = st.characters(codec="utf-8")  # every code point UTF-8 can encode: no surrogates
single_line = st.text(no_surrogates.filter(lambda c: c not in "\r\n"), max_size=20)
event_names = single_line.filter(bool)
ids = st.text(no_surrogates.filter(lambda c: c not in "\r\n\x00"), max_size=10)
retries = st.one_of(st.none(), st.integers(0, 10**12))
# Data with LF breaks reads back exactly; CR and CRLF read back as LF (checked separately).
lf_data = st.text(no_surrogates.filter(lambda c: c != "\r"), max_size=40)

events = st.builds(ServerSentEvent, data=lf_data, event=event_names, id=ids, retry=retries)
comments = st.builds(Comment, single_line)
field_names = single_line.filter(
    lambda n: bool(n) and ":" not in n and n not in ("data", "event", "id", "retry") and n[0] != "\ufeff"
)
fields = st.builds(SSEField, field_names, single_line)


@SETTINGS
@given(
    items=st.lists(st.one_of(events, comments, fields), max_size=15),
    offsets=st.lists(st.integers(0, 2000), max_size=15),
    start_id=ids,
)
def test_stateful_encoder_round_trips_for_any_split(
    items: list[ServerSentEvent | Comment | SSEField], offsets: list[int], start_id: str
) -> None:
    encoder = SSEEncoder(last_event_id=start_id)
    body = b"".join(encoder.encode(item) for item in items)
    parsed, _, _, error = run(cut(body, offsets), comments=True, extra_fields="*", last_event_id=start_id)
    assert error is None
    assert parsed == items


@SETTINGS
@given(
    items=st.lists(events.filter(lambda e: e.id != ""), max_size=10),
    offsets=st.lists(st.integers(0, 2000), max_size=15),
)
def test_stateless_encoder_round_trips_events_with_ids(
    items: list[ServerSentEvent], offsets: list[int]
) -> None:
    body = b"".join(encode_sse(item) for item in items)
    parsed, last_id, _, error = run(cut(body, offsets))
    assert error is None
    assert parsed == items
    assert last_id == (items[-1].id if items else "")


@SETTINGS
@given(data=st.text(no_surrogates, max_size=60), offsets=st.lists(st.integers(0, 300), max_size=10))
def test_any_line_break_in_data_reads_back_as_lf(data: str, offsets: list[int]) -> None:
    body = encode_sse(data=data, event_name="x")
    parsed, _, _, _ = run(cut(body, offsets))
    assert parsed == [ServerSentEvent(data.replace("\r\n", "\n").replace("\r", "\n"), "x")]
