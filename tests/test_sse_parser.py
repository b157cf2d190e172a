"""Unit tests of the SSE parser and encoders, one rule at a time.

Rule tables run every body whole, byte by byte and at random splits (``support.FEEDS``): the
parser must give the same events whatever the slicing.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable

import pytest
from support import FEEDS, bytewise, random_splits

from sansstream.core import DEFAULT_MAX_EVENT_SIZE, SSEEncoder, SSEParser, encode_sse, iter_sse
from sansstream.model import (
    END,
    NEED_DATA,
    Comment,
    EventTooLargeError,
    LocalProtocolError,
    RemoteProtocolError,
    ServerSentEvent,
    SSEField,
)

Ev = tuple[str, str, str, "int | None"]  # (event, data, id, retry)


def parse(chunks: Iterable[bytes], **opts: object) -> list[object]:
    """Everything the pull API returns, with receive_data(b"") at the end."""
    parser: SSEParser[ServerSentEvent | Comment | SSEField] = SSEParser(**opts)  # type: ignore[call-overload]
    out: list[object] = []
    for chunk in [*chunks, b""]:
        parser.receive_data(chunk)
        while (item := parser.next_event()) not in (NEED_DATA, END):
            out.append(item)
    return out


def tuples(items: list[object]) -> list[Ev]:
    return [(e.event, e.data, e.id, e.retry) for e in items if isinstance(e, ServerSentEvent)]


# (case id, body, expected events as (event, data, id, retry))
RULES: list[tuple[str, bytes, list[Ev]]] = [
    ("lf", b"data: a\n\n", [("message", "a", "", None)]),
    ("cr", b"data: a\r\r", [("message", "a", "", None)]),
    ("crlf", b"data: a\r\n\r\n", [("message", "a", "", None)]),
    ("mixed line ends", b"data: a\rdata: b\r\ndata: c\n\r\n", [("message", "a\nb\nc", "", None)]),
    (
        "lf cr is two line ends",
        b"data: a\n\rdata: b\n\n",
        [("message", "a", "", None), ("message", "b", "", None)],
    ),
    ("cr cr lf", b"data: a\r\r\ndata: b\n\n", [("message", "a", "", None), ("message", "b", "", None)]),
    ("bom stripped", b"\xef\xbb\xbfdata: a\n\n", [("message", "a", "", None)]),
    ("bom then blank line", b"\xef\xbb\xbf\ndata: a\n\n", [("message", "a", "", None)]),
    (
        "second bom is part of the field name",
        b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n",
        [("message", "b", "", None)],
    ),
    (
        "bom on a later line is not stripped",
        b"data: a\n\n\xef\xbb\xbfdata: b\n\n",
        [("message", "a", "", None)],
    ),
    ("truncated bom", b"\xef\xbbdata: a\n\ndata: b\n\n", [("message", "b", "", None)]),
    ("bom inside data kept", b"data: \xef\xbb\xbfx\n\n", [("message", "\ufeffx", "", None)]),
    ("invalid utf-8", b"data: a\xffb\xc3\n\n", [("message", "a\ufffdb\ufffd", "", None)]),
    ("truncated sequence before lf", b"data: a\xe2\x82\ndata: b\n\n", [("message", "a\ufffd\nb", "", None)]),
    ("multi-byte utf-8", "data: é中😀\n\n".encode(), [("message", "é中😀", "", None)]),
    (
        "u+2028 u+0085 u+001c stay in data",
        "data: a\u2028b\x85c\x1cd\u2029e\x0bf\x0cg\n\n".encode(),
        [("message", "a\u2028b\x85c\x1cd\u2029e\x0bf\x0cg", "", None)],
    ),
    ("data lines joined with lf", b"data: a\ndata: b\ndata: c\n\n", [("message", "a\nb\nc", "", None)]),
    ("one leading space stripped", b"data:  a\n\n", [("message", " a", "", None)]),
    ("no space after colon", b"data:a\n\n", [("message", "a", "", None)]),
    ("tab is not stripped", b"data:\ta\n\n", [("message", "\ta", "", None)]),
    ("trailing spaces kept", b"data: a  \n\n", [("message", "a  ", "", None)]),
    ("line without colon is a field with empty value", b"data\n\n", [("message", "", "", None)]),
    ("empty data line dispatches empty data", b"data:\n\n", [("message", "", "", None)]),
    ("two empty data lines", b"data\ndata\n\n", [("message", "\n", "", None)]),
    ("comment ignored", b": hello\ndata: a\n: bye\n\n", [("message", "a", "", None)]),
    ("comment alone dispatches nothing", b": keepalive\n\n", []),
    ("unknown field ignored", b"foo: bar\ndata: a\nData: b\n\n", [("message", "a", "", None)]),
    ("colon in value kept", b"data: a: b\n\n", [("message", "a: b", "", None)]),
    ("event name", b"event: delta\ndata: a\n\n", [("delta", "a", "", None)]),
    ("empty event name means message", b"event:\ndata: a\n\n", [("message", "a", "", None)]),
    (
        "event type resets after dispatch",
        b"event: x\ndata: a\n\ndata: b\n\n",
        [("x", "a", "", None), ("message", "b", "", None)],
    ),
    (
        "event type resets after a block without data",
        b"event: x\n\ndata: b\n\n",
        [("message", "b", "", None)],
    ),
    ("last event name wins", b"event: x\nevent: y\ndata: a\n\n", [("y", "a", "", None)]),
    ("id", b"id: 7\ndata: a\n\ndata: b\n\n", [("message", "a", "7", None), ("message", "b", "7", None)]),
    (
        "id with nul ignored",
        b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
        [("message", "a", "1", None), ("message", "b", "1", None)],
    ),
    (
        "id reset to empty",
        b"id: 1\ndata: a\n\nid\ndata: b\n\n",
        [("message", "a", "1", None), ("message", "b", "", None)],
    ),
    ("id in a block without data still counts", b"id: 3\n\ndata: a\n\n", [("message", "a", "3", None)]),
    ("id after data in the same block", b"data: a\nid: 4\n\n", [("message", "a", "4", None)]),
    (
        "retry",
        b"retry: 1500\ndata: a\n\ndata: b\n\n",
        [("message", "a", "", 1500), ("message", "b", "", None)],
    ),
    ("retry with leading space in value", b"retry:  12\ndata: a\n\n", [("message", "a", "", None)]),
    ("retry with underscore", b"retry: 1_2\ndata: a\n\n", [("message", "a", "", None)]),
    ("retry with arabic-indic digits", "retry: ١٢\ndata: a\n\n".encode(), [("message", "a", "", None)]),
    (
        "retry with sign",
        b"retry: +12\ndata: a\n\nretry: -1\ndata: b\n\n",
        [("message", "a", "", None), ("message", "b", "", None)],
    ),
    ("retry empty", b"retry\ndata: a\n\n", [("message", "a", "", None)]),
    ("retry zero", b"retry: 0\ndata: a\n\n", [("message", "a", "", 0)]),
    ("block with event and id but no data is not dispatched", b"event: x\nid: 1\n\n", []),
    ("extra blank lines", b"\n\n\ndata: a\n\n\n\n", [("message", "a", "", None)]),
    ("unterminated final block dropped", b"data: a\n\ndata: b\n", [("message", "a", "", None)]),
    ("unterminated final line dropped", b"data: a\n\ndata: b", [("message", "a", "", None)]),
    ("final block ended by cr", b"data: a\r\r", [("message", "a", "", None)]),
    ("nul in data kept", b"data: a\x00b\n\n", [("message", "a\x00b", "", None)]),
    ("empty stream", b"", []),
]


@pytest.mark.parametrize("feed", list(FEEDS))
@pytest.mark.parametrize(("body", "expected"), [(b, e) for _, b, e in RULES], ids=[n for n, _, _ in RULES])
def test_rule(body: bytes, expected: list[Ev], feed: str) -> None:
    assert tuples(parse(FEEDS[feed](body))) == expected


def test_crlf_split_across_slices_is_one_line_end() -> None:
    # If the LF after a slice-final CR counted as a second line end, the first event would be
    # dispatched after "data: a" alone.
    chunks = [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]
    assert tuples(parse(chunks)) == [("message", "a\nb", "", None)]
    # A CR at the end of a slice followed by a non-LF byte is a line end on its own.
    assert tuples(parse([b"data: a\r", b"\r"])) == [("message", "a", "", None)]
    assert tuples(parse([b"data: a\r", b"\n", b"\n"])) == [("message", "a", "", None)]


@pytest.mark.parametrize("cut", [1, 2])
def test_bom_split_across_slices(cut: int) -> None:
    body = b"\xef\xbb\xbfdata: a\n\n"
    assert tuples(parse([body[:cut], body[cut:]])) == [("message", "a", "", None)]


def test_bom_only_at_the_very_start() -> None:
    # Once the first slice settled that there is no BOM, a BOM later is data.
    assert tuples(parse([b"d", b"ata: \xef\xbb\xbf\n\n"])) == [("message", "\ufeff", "", None)]
    assert tuples(parse([b"\xef\xbb", b"\xbf", b"\xef\xbb\xbfdata: a\n\n"])) == []


def _retry(parser: SSEParser[ServerSentEvent]) -> int | None:
    return parser.retry


def test_retry_attribute_and_event_retry() -> None:
    parser = SSEParser()
    assert _retry(parser) is None
    parser.receive_data(b"retry: 250\n")
    assert parser.next_event() is NEED_DATA
    assert _retry(parser) == 250  # applied when the line is read, not at dispatch
    events = parser.feed(b"data: a\n\nretry: x\ndata: b\n\n")
    assert [e.retry for e in events] == [250, None]
    assert parser.retry == 250  # an invalid retry line leaves it alone
    parser.feed(b"retry: 99999999999999999999\n\n")
    assert parser.retry == 99999999999999999999


def test_absurdly_long_retry_is_ignored_not_an_error() -> None:
    # int() refuses digit strings over 4300 long; such a delay (over 10**4299 ms) is ignored,
    # as Chromium ignores values that overflow, and the stream goes on.
    parser = SSEParser()
    body = b"retry: 7\n\nretry: " + b"9" * 5000 + b"\ndata: x\n\nretry: " + b"8" * 4300 + b"\n\n"
    assert [e.retry for e in parser.feed(body)] == [None]
    assert _retry(parser) == int("8" * 4300)


def test_last_event_id_attribute() -> None:
    parser = SSEParser(last_event_id="41")
    assert parser.last_event_id == "41"
    assert parser.feed(b"data: a\n\n") == [ServerSentEvent("a", id="41")]
    parser.feed(b"id: 42\n")
    assert parser.last_event_id == "41"  # the ID buffer only becomes the stream's ID at dispatch
    parser.feed(b"\n")
    assert parser.last_event_id == "42"
    parser.feed(b"id: 43\ndata: x\n")
    assert parser.feed(b"") == []  # an unterminated block is dropped, its id too
    assert parser.last_event_id == "42"


def test_pull_api_sentinels() -> None:
    parser = SSEParser()
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"data: a\n\ndata: b\n\nda")
    assert parser.next_event() == ServerSentEvent("a")
    assert parser.next_event() == ServerSentEvent("b")
    assert parser.next_event() is NEED_DATA
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"ta: c\n\n")
    parser.receive_data(b"data: d\n\n")  # several slices before asking
    assert parser.next_event() == ServerSentEvent("c")
    parser.receive_data(b"")
    parser.receive_data(b"")  # ending twice is harmless
    assert parser.next_event() == ServerSentEvent("d")
    assert parser.next_event() is END
    assert parser.next_event() is END
    assert parser.feed(b"") == []


def test_receive_data_only_buffers() -> None:
    parser = SSEParser()
    parser.receive_data(b"retry: 5\n")
    assert _retry(parser) is None  # nothing is parsed until events are asked for
    assert parser.next_event() is NEED_DATA
    assert _retry(parser) == 5


def test_data_after_end_is_refused_and_parser_stays_failed() -> None:
    parser = SSEParser()
    parser.receive_data(b"data: a\n\n")
    parser.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="after the end"):
        parser.receive_data(b"data: b\n\n")
    for call in (parser.next_event, lambda: parser.feed(b"x"), lambda: parser.receive_data(b"")):
        with pytest.raises(LocalProtocolError, match=r"failed earlier.*after the end"):
            call()


def test_feed_returns_events_in_order_with_bytearray_and_memoryview() -> None:
    parser = SSEParser()
    assert parser.feed(bytearray(b"data: a\n\nda")) == [ServerSentEvent("a")]
    assert parser.feed(memoryview(b"ta: b\n\n")) == [ServerSentEvent("b")]


def test_comments_on_request() -> None:
    body = b": ping\n:\n:  two spaces\ndata: a\n: inside\n\n"
    assert tuples(parse([body])) == [("message", "a", "", None)]
    assert parse([body], comments=False) == [ServerSentEvent("a")]
    for feed in FEEDS.values():
        assert parse(feed(body), comments=True) == [
            Comment("ping"),
            Comment(""),
            Comment(" two spaces"),
            Comment("inside"),
            ServerSentEvent("a"),
        ]


def test_extra_fields_llama_cpp_error_line() -> None:
    # llama.cpp reports some failures as a bare ``error:`` line inside the stream.
    body = b'data: {"a":1}\n\nerror: {"code":500,"message":"boom"}\n\ndata: {"b":2}\n\n'
    assert tuples(parse([body])) == [("message", '{"a":1}', "", None), ("message", '{"b":2}', "", None)]
    for feed in FEEDS.values():
        assert parse(feed(body), extra_fields=("error",)) == [
            ServerSentEvent('{"a":1}'),
            SSEField("error", '{"code":500,"message":"boom"}'),
            ServerSentEvent('{"b":2}'),
        ]


def test_extra_fields_do_not_touch_the_event_being_built() -> None:
    body = b"data: a\nerror: x\nfoo\nbar: y\ndata: b\n\n"
    assert parse([body], extra_fields=("error", "foo")) == [
        SSEField("error", "x"),
        SSEField("foo", ""),
        ServerSentEvent("a\nb"),
    ]
    assert parse([body], extra_fields="*") == [
        SSEField("error", "x"),
        SSEField("foo", ""),
        SSEField("bar", "y"),
        ServerSentEvent("a\nb"),
    ]


def test_extra_fields_cannot_name_standard_fields() -> None:
    with pytest.raises(LocalProtocolError, match="non-standard"):
        SSEParser(extra_fields=("data",))


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_event_size_must_be_positive_int(bad: object) -> None:
    with pytest.raises(LocalProtocolError, match="max_event_size"):
        SSEParser(max_event_size=bad)  # type: ignore[call-overload]


def test_default_limit_is_16_mib() -> None:
    assert DEFAULT_MAX_EVENT_SIZE == 16 * 1024 * 1024
    assert SSEParser().max_event_size == DEFAULT_MAX_EVENT_SIZE


@pytest.mark.parametrize("feed", list(FEEDS))
def test_event_at_the_limit_passes_one_byte_more_fails(feed: str) -> None:
    line = b"data: " + b"x" * 94  # 100 bytes
    assert tuples(parse(FEEDS[feed](line + b"\n\n"), max_event_size=100)) == [("message", "x" * 94, "", None)]
    with pytest.raises(EventTooLargeError) as info:
        parse(FEEDS[feed](line + b"y\n\n"), max_event_size=100)
    assert info.value.limit == 100
    assert info.value.size is not None
    assert info.value.size > 100


@pytest.mark.parametrize("feed", list(FEEDS))
def test_limit_counts_every_line_of_the_block(feed: str) -> None:
    # Many short data lines add up; so do comments and other fields of the same block, which
    # keeps the limit the same whatever the slicing.
    body = b"data: 1234\n" * 30 + b"\n"  # 300 bytes of lines
    with pytest.raises(EventTooLargeError):
        parse(FEEDS[feed](body), max_event_size=200)
    assert len(tuples(parse(FEEDS[feed](body), max_event_size=300))) == 1
    with pytest.raises(EventTooLargeError):
        parse(FEEDS[feed](b": " + b"c" * 300 + b"\n\n"), max_event_size=200)
    # The count restarts at each blank line.
    assert len(tuples(parse(FEEDS[feed](b"data: 1234\n\n" * 100), max_event_size=20))) == 100


def test_limit_does_not_count_a_bom_split_across_slices() -> None:
    # The 3 BOM bytes are stripped, not part of the line: a 10-byte line passes a limit of 10
    # however the BOM arrives.
    for chunks in ([b"\xef", b"\xbb\xbfdata: 1234", b"\n\n"], [b"\xef\xbb\xbfdata: 1234\n\n"]):
        assert tuples(parse(chunks, max_event_size=10)) == [("message", "1234", "", None)]
        parser = SSEParser(max_event_size=10)
        assert [e for c in chunks for e in parser.feed(c)] == [ServerSentEvent("1234")]


def test_oversized_line_raises_without_buffering_the_excess() -> None:
    limit = 1 << 20
    parser = SSEParser(max_event_size=limit)
    piece = b"x" * 65536  # the same object every time: the test itself allocates nothing more
    parser.feed(b"data: ")
    tracemalloc.start()
    try:
        fed = 6
        error: EventTooLargeError | None = None
        for _ in range(1000):  # 64 MiB if nothing stopped it
            try:
                parser.feed(piece)
            except EventTooLargeError as exc:
                error = exc
                break
            fed += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error is not None
    assert fed <= limit  # raised by the slice that would have crossed the limit
    assert error.size is not None
    assert limit < error.size <= limit + len(piece)
    assert peak < 2 * limit  # the tail never held more than the limit (plus growth slack)
    with pytest.raises(LocalProtocolError, match=r"failed earlier.*EventTooLargeError"):
        parser.feed(b"\n\n")


def test_oversized_line_refused_by_receive_data_alone() -> None:
    # A caller that only buffers (never asks for events) is stopped too.
    parser = SSEParser(max_event_size=1000)
    parser.receive_data(b"data: ")
    assert parser.next_event() is NEED_DATA
    for _ in range(9):
        parser.receive_data(b"y" * 100)  # 906 bytes held: under the limit
    with pytest.raises(EventTooLargeError):
        parser.receive_data(b"y" * 100)
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.next_event()


def test_events_before_an_oversized_one_come_first() -> None:
    body = b"data: a\n\ndata: b\n\ndata: " + b"z" * 500 + b"\n\ndata: c\n\n"
    parser = SSEParser(max_event_size=100)
    parser.receive_data(body)
    assert parser.next_event() == ServerSentEvent("a")
    assert parser.next_event() == ServerSentEvent("b")
    with pytest.raises(EventTooLargeError):
        parser.next_event()
    with pytest.raises(LocalProtocolError, match="failed earlier"):
        parser.next_event()
    # feed() returns what was complete; the error comes with the next call.
    parser = SSEParser(max_event_size=100)
    assert parser.feed(body) == [ServerSentEvent("a"), ServerSentEvent("b")]
    with pytest.raises(EventTooLargeError):
        parser.feed(b"")
    # iter_sse yields them, then raises.
    events = iter_sse([body], max_event_size=100)
    seen = [next(events), next(events)]
    with pytest.raises(EventTooLargeError):
        next(events)
    assert seen == [ServerSentEvent("a"), ServerSentEvent("b")]


def test_none_lifts_the_limit() -> None:
    size = DEFAULT_MAX_EVENT_SIZE + 1024
    body = b"data: " + b"q" * size + b"\n\n"
    chunks = [body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)]
    with pytest.raises(EventTooLargeError):
        list(iter_sse(chunks))
    events = list(iter_sse(chunks, max_event_size=None))
    assert len(events) == 1
    assert len(events[0].data) == size


def test_errors_are_remote_protocol_errors() -> None:
    assert issubclass(EventTooLargeError, RemoteProtocolError)


def test_last_event_id_option_is_checked() -> None:
    with pytest.raises(LocalProtocolError):
        SSEParser(last_event_id="a\x00b")


def test_iter_sse_options_and_empty_slices() -> None:
    chunks = [b"", b": hi\n", b"", b"id: 1\ndata: a\n\n", b"data: cut"]
    assert list(iter_sse(chunks)) == [ServerSentEvent("a", id="1")]
    assert list(iter_sse(chunks, comments=True)) == [Comment("hi"), ServerSentEvent("a", id="1")]
    assert list(iter_sse(iter(chunks), last_event_id="0")) == [ServerSentEvent("a", id="1")]
    assert list(iter_sse([b"data: x\n\n"], last_event_id="0")) == [ServerSentEvent("x", id="0")]


def test_json_helper_on_parsed_event() -> None:
    (event,) = iter_sse([b'data: {"a":\ndata: [1, 2]}\n\n'])
    assert event.json() == {"a": [1, 2]}


# -- encoders ---------------------------------------------------------------------------------


def test_encode_event_object() -> None:
    assert encode_sse(ServerSentEvent("a")) == b"data: a\n\n"
    assert encode_sse(ServerSentEvent("a\nb", "delta", "7", 1000)) == (
        b"event: delta\nid: 7\nretry: 1000\ndata: a\ndata: b\n\n"
    )
    assert encode_sse(ServerSentEvent("")) == b"data:\n\n"
    assert encode_sse(ServerSentEvent(" lead", "message")) == b"data:  lead\n\n"


def test_encode_keyword_form() -> None:
    assert encode_sse(data="hi", event_name="delta", id="1", retry=5) == (
        b"event: delta\nid: 1\nretry: 5\ndata: hi\n\n"
    )
    assert encode_sse(data="hi") == b"data: hi\n\n"
    assert encode_sse(data="hi", event_name="message") == b"data: hi\n\n"


@pytest.mark.parametrize("data", ["a\rb\r\nc\nd", "a\r\rb", "\n", "x\r\n"])
def test_encode_multiline_data_any_line_end(data: str) -> None:
    encoded = encode_sse(data=data)
    normalised = data.replace("\r\n", "\n").replace("\r", "\n")
    assert (
        encoded
        == b"".join(
            (b"data: " + line.encode() + b"\n") if line else b"data:\n" for line in normalised.split("\n")
        )
        + b"\n"
    )
    for feed in FEEDS.values():
        assert tuples(parse(feed(encoded))) == [("message", normalised, "", None)]


def test_encode_comments_and_fields() -> None:
    assert encode_sse(Comment("ping")) == b": ping\n"
    assert encode_sse(Comment("")) == b":\n"
    assert encode_sse(Comment("a\nb\r\nc")) == b": a\n: b\n: c\n"
    assert parse([encode_sse(Comment("a\nb"))], comments=True) == [Comment("a"), Comment("b")]
    assert encode_sse(SSEField("error", '{"x":1}')) == b'error: {"x":1}\n'
    assert parse([encode_sse(SSEField("error", " x")), b"\n"], extra_fields="*") == [SSEField("error", " x")]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: encode_sse(data="x", event_name="a\nb"), "line break"),
        (lambda: encode_sse(data="x", event_name="a\rb"), "line break"),
        (lambda: encode_sse(data="x", event_name=""), "empty"),
        (lambda: encode_sse(data="x", id="1\n"), "line break"),
        (lambda: encode_sse(data="x", id="1\r"), "line break"),
        (lambda: encode_sse(data="x", id="a\x00"), "NUL"),
        (lambda: encode_sse(ServerSentEvent("x", id="a\x00")), "NUL"),
        (lambda: encode_sse(ServerSentEvent("x", event="e\n")), "line break"),
        (lambda: encode_sse(data="x", retry=-1), "non-negative"),
        (lambda: encode_sse(data="x", retry=True), "non-negative"),
        (lambda: encode_sse(data="x", retry=1.5), "non-negative"),  # type: ignore[arg-type]
        (lambda: encode_sse(ServerSentEvent("x", retry=-5)), "non-negative"),
        (encode_sse, "needs"),
        (lambda: encode_sse(ServerSentEvent("x"), data="y"), "not both"),
        (lambda: encode_sse("delta"), "cannot encode"),  # type: ignore[arg-type]
        (lambda: encode_sse(data=b"x"), "must be a str"),  # type: ignore[arg-type]
        (lambda: encode_sse(data="\ud800"), "UTF-8"),
        (lambda: encode_sse(Comment("\ud800")), "UTF-8"),
        (lambda: encode_sse(SSEField("data", "x")), "SSEField"),
        (lambda: encode_sse(SSEField("", "x")), "SSEField"),
        (lambda: encode_sse(SSEField("a:b", "x")), "SSEField"),
        (lambda: encode_sse(SSEField("\ufeffx", "y")), "U\\+FEFF"),
        (lambda: encode_sse(SSEField("err", "x\ny")), "line break"),
        (lambda: SSEEncoder(last_event_id="a\nb"), "line break"),
    ],
)
def test_encoder_refusals(call: object, match: str) -> None:
    with pytest.raises(LocalProtocolError, match=match):
        call()  # type: ignore[operator]


def test_stateful_encoder_writes_id_changes() -> None:
    encoder = SSEEncoder()
    events = [
        ServerSentEvent("a"),
        ServerSentEvent("b", id="1"),
        ServerSentEvent("c", id="1"),
        ServerSentEvent("d", id=""),
        ServerSentEvent("e", event="x", retry=3),
    ]
    chunks = [encoder.encode(e) for e in events]
    assert chunks == [
        b"data: a\n\n",
        b"id: 1\ndata: b\n\n",
        b"data: c\n\n",
        b"id:\ndata: d\n\n",
        b"event: x\nretry: 3\ndata: e\n\n",
    ]
    assert encoder.last_event_id == ""
    body = b"".join(chunks)
    for slices in (bytewise(body), random_splits(body, seed=3, max_size=5), [body]):
        assert parse(slices) == events
    # Stateless encode_sse cannot express a change back to "": that is what SSEEncoder is for.
    assert tuples(parse([b"".join(encode_sse(e) for e in events)]))[3][2] == "1"


def test_stateful_encoder_with_comments_and_initial_id() -> None:
    encoder = SSEEncoder(last_event_id="5")
    body = encoder.encode_many([Comment("hi"), ServerSentEvent("a", id="5"), ServerSentEvent("b", id="6")])
    assert body == b": hi\ndata: a\n\nid: 6\ndata: b\n\n"
    assert parse([body], last_event_id="5", comments=True) == [
        Comment("hi"),
        ServerSentEvent("a", id="5"),
        ServerSentEvent("b", id="6"),
    ]
