"""``StreamDecoder`` / ``decode_stream``: the sans-IO pull loop, error placement, truncation,
framing override, parser options, counters, and linear cost."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from provider_support import feed_chunks, pull_chunks

from sansstream.model import (
    END,
    NEED_DATA,
    Chunk,
    EventTooLargeError,
    IncompleteStreamError,
    LocalProtocolError,
    ProviderError,
    RemoteProtocolError,
    SansStreamError,
    Sentinel,
    StreamError,
    TextDelta,
    ToolCallEnd,
)
from sansstream.providers import StreamDecoder, decode_stream, get

TEXT = b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n'
DONE = b"data: [DONE]\n\n"
ERROR = b'data: {"error":{"message":"boom","code":500}}\n\n'


def text(s: str) -> bytes:
    return TEXT % s.encode()


def test_pull_loop_needs_data_then_ends() -> None:
    machine = StreamDecoder("openai")
    assert machine.next_chunk() is NEED_DATA
    machine.receive_data(text("a")[:10])
    assert machine.next_chunk() is NEED_DATA
    machine.receive_data(text("a")[10:])
    first = machine.next_chunk()
    assert first.type == "start"  # type: ignore[union-attr]
    assert machine.next_chunk() == TextDelta("a")
    assert machine.next_chunk() is NEED_DATA
    machine.receive_data(DONE)
    assert machine.next_chunk().type == "done"  # type: ignore[union-attr]
    assert machine.complete
    # [DONE] is the terminal marker: the stream ends there, without waiting for the end of input
    assert machine.next_chunk() is END
    machine.receive_data(b"")
    assert machine.next_chunk() is END
    assert machine.result().text == "a"
    assert machine.result().done


def test_data_after_end_is_caller_misuse() -> None:
    machine = StreamDecoder("openai")
    machine.feed(text("a") + DONE)
    machine.feed(b"")
    machine.feed(b"")  # repeating the end is allowed
    with pytest.raises(LocalProtocolError):
        machine.receive_data(b"more")


def test_result_is_partial_mid_stream() -> None:
    machine = StreamDecoder("openai")
    machine.feed(text("Hel") + text("lo"))
    assert machine.result().text == "Hello"
    assert not machine.result().done
    assert not machine.complete


def test_error_is_raised_in_place_and_then_again() -> None:
    machine = StreamDecoder("openai")
    machine.receive_data(text("a") + ERROR + text("b") + DONE + b"")
    assert machine.next_chunk().type == "start"  # type: ignore[union-attr]
    assert machine.next_chunk() == TextDelta("a")
    with pytest.raises(ProviderError) as info:
        machine.next_chunk()
    assert info.value.partial is not None
    assert info.value.partial.text == "a"
    assert info.value.retryable
    # The machine is dead: the same error again, never the chunks after it.
    with pytest.raises(ProviderError) as again:
        machine.next_chunk()
    assert again.value is info.value


def test_feed_returns_chunks_before_an_error_and_raises_it_next() -> None:
    machine = StreamDecoder("openai")
    chunks = machine.feed(text("a") + ERROR + text("b"))
    assert [c.type for c in chunks] == ["start", "content"]
    with pytest.raises(ProviderError):
        machine.feed(b"")
    with pytest.raises(ProviderError):
        machine.next_chunk()


def test_errors_as_chunks_keep_going() -> None:
    chunks = list(decode_stream("openai", [text("a"), ERROR, text("b"), DONE], raise_errors=False))
    assert [c.type for c in chunks] == ["start", "content", "error", "content", "done"]
    error = chunks[2]
    assert isinstance(error, StreamError)
    assert error.message == "boom"


def test_decode_stream_yields_before_raising() -> None:
    seen: list[str] = []

    def consume() -> None:
        for chunk in decode_stream("openai", [text("a") + ERROR + text("b") + DONE]):
            seen.append(chunk.type)

    with pytest.raises(ProviderError):
        consume()
    assert seen == ["start", "content"]


def test_truncation_in_strict_mode_names_the_marker() -> None:
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream("openai", [text("a"), text("b")]))
    message = str(info.value)
    assert "[DONE]" in message
    assert "strict=False" in message
    assert info.value.provider == "openai"
    assert info.value.partial is not None
    assert info.value.partial.text == "ab"
    assert [c.type for c in decode_stream("openai", [text("a")], strict=False)] == ["start", "content"]


def test_finish_chunks_are_delivered_before_the_truncation_error() -> None:
    call = (
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t",'
        b'"function":{"name":"f","arguments":"{}"}}]}}]}\n\n'
    )
    machine = StreamDecoder("openai")
    machine.receive_data(call)
    machine.receive_data(b"")
    kinds: list[str] = []

    def drain() -> None:
        while True:
            chunk = machine.next_chunk()
            assert chunk is not END
            assert chunk is not NEED_DATA
            kinds.append(chunk.type)

    with pytest.raises(IncompleteStreamError) as info:
        drain()
    assert kinds == ["tool_start", "tool_delta", "tool_end"]
    assert info.value.partial is not None
    assert [t.input for t in info.value.partial.tool_calls] == [{}]
    # feed() returns those chunks and raises on the next call.
    feeder = StreamDecoder("openai")
    feeder.feed(call)
    assert [c.type for c in feeder.feed(b"")] == ["tool_end"]
    with pytest.raises(IncompleteStreamError):
        feeder.feed(b"")


def test_event_cut_mid_line_is_incomplete_not_a_json_error() -> None:
    data = text("a") + text("b")[:-8]
    with pytest.raises(IncompleteStreamError) as info:
        list(decode_stream("openai", [data]))
    assert info.value.partial is not None
    assert info.value.partial.text == "a"


def test_framing_override_and_a_cut_json_array_is_incomplete() -> None:
    body = b'[{"type":"content","content":"a"},\n{"type":"content","content":"b"},\n{"type":"done"}]'
    assert (
        "".join(
            c.text for c in decode_stream("slop", [body], framing="json-array") if isinstance(c, TextDelta)
        )
        == "ab"
    )
    # Cut after the terminal {"type":"done"} element (only the closing "]" missing): the stream
    # ended at its terminal marker, nothing was lost.
    done_cut = list(decode_stream("slop", [body[: len(body) - 1]], framing="json-array"))
    assert [c.type for c in done_cut] == ["content", "content", "done"]
    for cut in (len(body) - 10, 40):
        with pytest.raises(IncompleteStreamError) as info:
            list(decode_stream("slop", [body[:cut]], framing="json-array"))
        assert info.value.partial is not None
        assert info.value.partial.text.startswith("a")
    # Even with strict=False a cut element is truncation: strict only relaxes the marker.
    with pytest.raises(IncompleteStreamError):
        list(decode_stream("slop", [body[:40]], framing="json-array", strict=False))


def test_parser_options_reach_the_parser() -> None:
    big = text("x" * 5000) + DONE
    with pytest.raises(EventTooLargeError):
        list(decode_stream("openai", [big], max_event_size=1000))
    assert len(list(decode_stream("openai", [big], max_event_size=100_000))) == 3


def test_after_a_framing_error_input_is_dropped_and_the_error_repeats() -> None:
    machine = StreamDecoder("openai", max_event_size=100)
    with pytest.raises(EventTooLargeError) as info:
        machine.feed(text("x" * 200))
    machine.receive_data(b"more")
    machine.receive_data(b"")
    with pytest.raises(EventTooLargeError) as again:
        machine.next_chunk()
    assert again.value is info.value


def test_provider_instance_and_name_are_interchangeable() -> None:
    provider = get("openai")
    machine = StreamDecoder(provider)
    assert machine.provider is provider
    assert machine.provider_name == "openai"
    assert "openai" in repr(machine)


def test_empty_slices_from_an_iterator_are_not_the_end() -> None:
    chunks = list(decode_stream("openai", [b"", text("a"), b"", DONE, b""]))
    assert [c.type for c in chunks] == ["start", "content", "done"]


def test_counters() -> None:
    machine = StreamDecoder("openai")
    data = b": keepalive\n\n" + text("a") + b": again\n\n" + DONE
    machine.feed(data)
    machine.feed(b"")
    assert machine.bytes_received == len(data)
    assert machine.wire_events == 4
    assert machine.keepalives == 2
    assert machine.chunks_delivered == 3


def test_invalid_json_mid_stream_is_a_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        list(decode_stream("openai", [text("a"), b"data: {oops\n\n", DONE]))
    assert not isinstance(info.value, IncompleteStreamError)
    assert "not valid JSON" in str(info.value)


def _best_time(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def test_tool_arguments_cost_is_linear_bytewise() -> None:
    head = b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'

    def stream(n: int) -> bytes:
        parts = [head + b'"id":"t","function":{"name":"f","arguments":"[0"}}]}}]}\n\n']
        parts += [head + b'"function":{"arguments":",1"}}]}}]}\n\n'] * n
        parts.append(head + b'"function":{"arguments":"]"}}]}}]}\n\n' + DONE)
        return b"".join(parts)

    def run(n: int) -> Callable[[], object]:
        data = stream(n)
        pieces = [data[i : i + 7] for i in range(0, len(data), 7)]

        def go() -> object:
            chunks = list(decode_stream("openai", pieces))
            end = next(c for c in chunks if isinstance(c, ToolCallEnd))
            assert len(end.input) == n + 1
            return end

        return go

    small, large = _best_time(run(800)), _best_time(run(3200))
    assert large / small < 4 * 2.0  # 4x the input: linear is ~4x, quadratic would be ~16x


# -- the quick route: slices parsed as they arrive while the machine is drained -------------------

OLLAMA_LINE = b'{"model":"m","message":{"role":"assistant","content":"%s"},"done":false}\n'


def _slicings(data: bytes) -> dict[str, list[bytes]]:
    return {
        "whole": [data],
        "bytewise": [data[i : i + 1] for i in range(len(data))],
        "sevens": [data[i : i + 7] for i in range(0, len(data), 7)],
    }


@pytest.mark.parametrize("drive", [pull_chunks, feed_chunks], ids=["pull", "feed"])
@pytest.mark.parametrize(
    ("provider", "stream", "limit"),
    [
        ("openai", text("a") + text("b") + text("x" * 300) + DONE, {"max_event_size": 200}),
        (
            "ollama",
            OLLAMA_LINE % b"a" + OLLAMA_LINE % b"b" + OLLAMA_LINE % (b"x" * 300),
            {"max_line_size": 200},
        ),
    ],
    ids=["sse", "ndjson"],
)
def test_a_framing_limit_comes_after_every_chunk_before_it_at_any_slicing(
    drive: Callable[[StreamDecoder, list[bytes]], tuple[list[object], Exception | None]],
    provider: str,
    stream: bytes,
    limit: dict[str, Any],
) -> None:
    for name, pieces in _slicings(stream).items():
        machine = StreamDecoder(provider, **limit)
        got, error = drive(machine, pieces)
        assert [c.text for c in got if isinstance(c, TextDelta)] == ["a", "b"], name
        assert isinstance(error, EventTooLargeError), (name, error)
        # Dead from then on: bytes are dropped (not refused by the parser) and the same error
        # comes back from next_chunk.
        machine.receive_data(b"more bytes")
        with pytest.raises(EventTooLargeError) as again:
            machine.next_chunk()
        assert again.value is error, name


def test_receiving_twice_without_pulling_keeps_stream_order() -> None:
    machine = StreamDecoder("openai")
    machine.receive_data(text("a"))  # parsed as it arrives (the machine was drained)
    machine.receive_data(text("b")[:9])  # not drained any more: buffered in the parser
    machine.receive_data(text("b")[9:] + DONE)
    chunks: list[Chunk] = []
    while not isinstance(chunk := machine.next_chunk(), Sentinel):
        chunks.append(chunk)
    assert chunk is END  # ended at [DONE], without waiting for the end of input
    assert [c.type for c in chunks] == ["start", "content", "content", "done"]
    assert machine.result().text == "ab"
    machine.receive_data(b"")
    assert machine.next_chunk() is END


def test_quick_route_and_buffered_route_agree_on_every_fixture() -> None:
    # The same bytes through feed() (the quick route while drained, whose events feed() decodes
    # in one loop) one byte at a time and whole, and through receive_data of the whole stream
    # before any pull (the buffered route, one next_chunk per chunk): same chunks, errors,
    # counters and result, for every recorded stream of every provider, raising errors or not.
    from provider_support import fixture_cases, provider_for_fixture

    for path, _expected in fixture_cases():
        name, options = provider_for_fixture(path)
        data = path.read_bytes()
        for raise_errors in (False, True):
            buffered = StreamDecoder(name, strict=False, raise_errors=raise_errors, **options)
            pulled: list[object] = []
            buffered.receive_data(data)
            buffered.receive_data(b"")
            try:
                while (chunk := buffered.next_chunk()) is not END:
                    pulled.append(chunk)
            except SansStreamError as exc:
                pulled.append(exc)
            for pieces in ([data[i : i + 1] for i in range(len(data))], [data]):
                quick = StreamDecoder(name, strict=False, raise_errors=raise_errors, **options)
                chunks, error = feed_chunks(quick, pieces)
                fed: list[object] = [*chunks, error] if error is not None else list(chunks)
                # (repr: a StreamError holds an exception, and exceptions only equal themselves)
                assert [repr(c) for c in fed] == [repr(c) for c in pulled], path.name
                assert repr(quick.result()) == repr(buffered.result()), path.name
                assert (quick.wire_events, quick.chunks_delivered) == (
                    buffered.wire_events,
                    buffered.chunks_delivered,
                ), path.name
                if not raise_errors:  # (raising, the feeding above stops at the error)
                    assert quick.bytes_received == buffered.bytes_received == len(data)


def test_decode_stream_matches_the_pull_loop_on_every_fixture_at_small_slices() -> None:
    # decode_stream gathers slices without a line end and drives feed(); the pull loop
    # (receive_data + next_chunk per slice) is the reference: same chunks, same error.
    from provider_support import decode_fixture, fixture_cases, provider_for_fixture

    for path, _expected in fixture_cases():
        name, options = provider_for_fixture(path)
        data = path.read_bytes()
        for size in (1, 7):
            pieces = [data[i : i + size] for i in range(0, len(data), size)]
            want = decode_fixture(path, "bytewise")
            got: list[object] = []
            error: Exception | None = None
            try:
                got.extend(decode_stream(name, pieces, **options))
            except SansStreamError as exc:
                error = exc
            assert [repr(c) for c in got] == [repr(c) for c in want.chunks], (path.name, size)
            assert repr(error) == repr(want.error), (path.name, size)


def test_decode_stream_reads_no_slice_ahead() -> None:
    # Each chunk is yielded before the slice after the one that completed it is asked for, and
    # an error right after the chunks before it, not when the next slice comes.
    stream = text("a") + text("b") + ERROR + text("c")
    pulled = 0

    def slices() -> Iterator[bytes]:
        nonlocal pulled
        for i in range(len(stream)):
            pulled = i + 1
            yield stream[i : i + 1]

    seen: list[tuple[str, int]] = []

    def consume() -> None:
        for chunk in decode_stream("openai", slices()):
            seen.append((chunk.type, pulled))

    with pytest.raises(ProviderError):
        consume()
    assert pulled == len(text("a") + text("b") + ERROR)  # the error's last byte, nothing after
    first_text_end = len(text("a"))
    assert ("content", first_text_end) in seen
    assert seen[-1] == ("content", len(text("a") + text("b")))


def test_slices_without_a_line_end_are_held_and_reach_the_parser_in_time() -> None:
    # The quick route holds slices that end no line (up to 4 KiB) and hands them over with the
    # next line end or at the end of input: nothing is lost, counted late or delayed.
    done = b'{"model":"m","message":{"role":"assistant","content":"!"},"done":true}'  # no LF
    stream = OLLAMA_LINE % b"a" + done
    machine = StreamDecoder("ollama")
    got = [c for i in range(len(stream)) for c in machine.feed(stream[i : i + 1])]
    assert machine.bytes_received == len(stream)
    assert [c.text for c in got if isinstance(c, TextDelta)] == ["a"]  # the LF-ended line at once
    got += machine.feed(b"")  # the last line, with no LF, at the end of input
    assert [c.text for c in got if isinstance(c, TextDelta)] == ["a", "!"]
    assert machine.result().done
    # The same through receive_data / next_chunk, and for SSE without the final blank line.
    sse = text("a") + b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}'
    pulled = StreamDecoder("openai", strict=False)
    for i in range(len(sse)):
        pulled.receive_data(sse[i : i + 1])
        while pulled.next_chunk() is not NEED_DATA:
            pass
    pulled.receive_data(b"")
    while pulled.next_chunk() is not END:
        pass
    assert pulled.result().text == "ab"
    assert pulled.bytes_received == len(sse)


@pytest.mark.parametrize(("provider", "option"), [("openai", "max_event_size"), ("ollama", "max_line_size")])
def test_a_line_without_end_breaks_the_limit_within_the_gathering_window(provider: str, option: str) -> None:
    limit = 100
    options: dict[str, Any] = {option: limit}
    machine = StreamDecoder(provider, **options)

    def feed_bytes() -> None:
        for _ in range(limit + 4096 + 1):
            machine.feed(b"x")

    with pytest.raises(EventTooLargeError):
        feed_bytes()
    assert machine.bytes_received <= limit + 4096 + 1
