"""ChatStream's life cycle against loopback servers: laziness, cancel, context exit, send_to,
raw_events, text_stream, configuration errors, in-band and HTTP errors."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_api_helpers import MESSAGES, TRANSPORTS, slop_event, slop_events, slop_response, words

from sansstream.api import NO_RETRY, ChatStream, StreamEnd, stream_chat
from sansstream.core import make_parser
from sansstream.model import (
    Chunk,
    Comment,
    ConfigurationError,
    HTTPStatusError,
    IncompleteStreamError,
    LocalProtocolError,
    ProviderError,
    ServerSentEvent,
    StreamCancelled,
    StreamError,
    TextDelta,
    TransportError,
    UnknownProviderError,
    WireEvent,
)
from sansstream.providers import Decoder, register, unregister
from sansstream.providers.slop import SlopProvider
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import ReplayTransport


def _slop(server: FixtureServer, **kw: Any) -> ChatStream:
    kw.setdefault("timeout", 5)
    return stream_chat("slop", model="m", messages=MESSAGES, base_url=server.url + "/slop", **kw)


def test_nothing_is_sent_until_iteration() -> None:
    with FixtureServer(slop_response(["a"])) as server:
        stream = _slop(server)
        time.sleep(0.05)
        assert server.requests == []
        assert [c.text for c in stream if isinstance(c, TextDelta)] == ["a"]
        assert len(server.requests) == 1


def test_entering_the_context_sends_the_request() -> None:
    with FixtureServer(slop_response(["a", "b"])) as server:
        stream = _slop(server)
        with stream:
            assert len(server.wait_for_requests(1, timeout=2)) == 1
            assert "".join(stream.text_stream()) == "ab"


def test_ids_are_unique_hex() -> None:
    with FixtureServer(slop_response(["a"])) as server:
        ids = {_slop(server).id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_from_another_thread_ends_iteration_quietly(transport: str) -> None:
    events = slop_events(["first ", "never"])
    offset = len(events[0]) + len(events[1])  # stall after the start and the first text
    response = FixtureResponse(body=events, stall=10.0, stall_at=offset)
    with FixtureServer(response) as server:
        stream = _slop(server, transport=transport, timeout=None)
        seen: list[str] = []
        cancelled_at: list[float] = []

        def cancel_soon() -> None:
            time.sleep(0.1)
            cancelled_at.append(time.monotonic())
            stream.cancel()

        canceller = threading.Thread(target=cancel_soon)
        for chunk in stream:
            if isinstance(chunk, TextDelta):
                seen.append(chunk.text)
                if not canceller.is_alive() and not cancelled_at:
                    canceller.start()
        ended = time.monotonic()
        canceller.join()
        assert seen == ["first "]
        assert ended - cancelled_at[0] < 1.0  # promptly, not at the end of the 10 s stall
        assert stream.cancelled
        assert server.client_disconnected.wait(2.0)
        with pytest.raises(StreamCancelled):
            stream.result()
        assert stream.snapshot().text == "first "
        assert list(stream) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_leaving_the_context_mid_stream_closes_the_connection(transport: str) -> None:
    response = slop_response(words(50), delay=0.05)
    with FixtureServer(response) as server:
        with _slop(server, transport=transport) as stream:
            for chunk in stream:
                if isinstance(chunk, TextDelta):
                    break
        assert server.client_disconnected.wait(2.0)
        assert stream.finished


def test_send_to_queue_delivers_tagged_chunks_then_the_end() -> None:
    with FixtureServer(slop_response(["a", "b", "c"])) as server:
        direct = list(_slop(server))
        stream = _slop(server)
        q: queue.Queue[Any] = queue.Queue()
        handle = stream.send_to(q)
        end = handle.join(5)
        items = []
        while True:
            item = q.get(timeout=5)
            if isinstance(item, StreamEnd):
                break
            items.append(item)
    assert isinstance(end, StreamEnd)
    assert item is end
    assert end.ok
    assert end.stream_id == stream.id
    assert end.result is not None
    assert end.result.text == "abc"
    assert [sid for sid, _ in items] == [stream.id] * len(items)
    assert [c for _, c in items] == direct


def test_send_to_callable_gets_the_error_mid_stream_as_the_end_marker() -> None:
    body = [*slop_events(["x", "y"], done=False), slop_event({"type": "error", "content": "boom"})]
    with FixtureServer(FixtureResponse(body=body)) as server:
        got: list[Any] = []
        stream = _slop(server)
        end = stream.send_to(got.append).join(5)
    assert isinstance(end, StreamEnd)
    assert got[-1] is end
    assert isinstance(end.error, ProviderError)
    assert "boom" in str(end.error)
    texts = [c.text for _, c in got[:-1] if isinstance(c, TextDelta)]
    assert texts == ["x", "y"]  # everything before the error was delivered
    assert end.result is not None
    assert end.result.text == "xy"


def test_send_to_queue_with_a_cut_stream_reports_incomplete() -> None:
    events = slop_events(["x", "y"])
    cut = len(b"".join(events[:2]))
    # close-delimited body: the cut is a clean end of bytes, without the terminal marker
    with FixtureServer(FixtureResponse(body=events, cut_after=cut, framing="close")) as server:
        q: queue.Queue[Any] = queue.Queue()
        end = _slop(server, retry=NO_RETRY).send_to(q).join(5)
    assert end is not None
    assert isinstance(end.error, IncompleteStreamError)
    assert end.result is not None
    assert end.result.text == "x"


def test_send_to_with_batch_delivers_lists() -> None:
    with FixtureServer(slop_response(["a", "b", "c", "d"])) as server:
        got: list[Any] = []
        end = _slop(server, batch=2).send_to(got.append).join(5)
    assert end is not None
    assert end.ok
    batches = [b for _, b in got[:-1]]
    assert all(isinstance(b, list) for b in batches)
    assert [len(b) for b in batches] == [2, 2, 2]  # start, 4 texts, done
    assert "".join(c.text for b in batches for c in b if isinstance(c, TextDelta)) == "abcd"


def test_send_to_target_that_raises_cancels_the_stream() -> None:
    with FixtureServer(slop_response(words(30), delay=0.02)) as server:
        delivered: list[Any] = []

        def target(item: Any) -> None:
            delivered.append(item)
            if len(delivered) == 2:
                raise RuntimeError("consumer failed")

        stream = _slop(server)
        handle = stream.send_to(target)
        end = handle.join(5)
        assert server.client_disconnected.wait(2.0)
    assert end is not None
    assert isinstance(end.error, RuntimeError)
    assert delivered[-1] is end


def test_raw_events_are_the_framing_parsers_events() -> None:
    body = [b": hello\n\n", *slop_events(["a", "b"])]
    parser = make_parser("sse", comments=True)
    want = parser.feed(b"".join(body)) + parser.feed(b"")
    with FixtureServer(FixtureResponse(body=body)) as server:
        stream = _slop(server)
        got = list(stream.raw_events())
        assert got == want
        assert isinstance(got[0], Comment)
        assert all(isinstance(e, ServerSentEvent) for e in got[1:])
        assert stream.metrics.keepalives == 1
        assert stream.metrics.wire_events == len(want)
        with pytest.raises(LocalProtocolError, match="raw_events"):
            next(iter(stream))
        with pytest.raises(LocalProtocolError):
            stream.result()


def test_chunk_iteration_then_raw_events_is_refused() -> None:
    with FixtureServer(slop_response(["a"])) as server:
        stream = _slop(server)
        next(stream)
        with pytest.raises(LocalProtocolError, match="chunk iteration"):
            next(stream.raw_events())
        stream.close()


def test_errors_as_chunks_when_raise_errors_is_false() -> None:
    body = [*slop_events(["x"], done=False), slop_event({"type": "error", "content": "bad"})]
    with FixtureServer(FixtureResponse(body=body)) as server:
        chunks = list(_slop(server, raise_errors=False))
    errors = [c for c in chunks if isinstance(c, StreamError)]
    assert len(errors) == 1
    assert errors[0].message == "bad"


def test_strict_false_accepts_a_stream_without_its_terminal_marker() -> None:
    with FixtureServer(slop_response(["a"], done=False)) as server:
        with pytest.raises(IncompleteStreamError):
            _slop(server, retry=NO_RETRY).result()
        assert _slop(server, strict=False).result().text == "a"


def test_http_error_status_raises_with_the_providers_message() -> None:
    response = FixtureResponse(
        body=b'{"error": {"message": "Incorrect API key provided"}}',
        status=401,
        content_type="application/json",
        framing="content-length",
    )
    with FixtureServer(response) as server:
        stream = stream_chat(
            "openai", model="m", messages=MESSAGES, base_url=server.url, api_key="sk-bad", retry=NO_RETRY
        )
        with pytest.raises(HTTPStatusError) as info:
            list(stream)
    assert info.value.status == 401
    assert info.value.provider_message == "Incorrect API key provided"
    assert stream.error is info.value
    with pytest.raises(HTTPStatusError):
        stream.result()  # the same error again, never a silent empty result


def test_missing_api_key_names_the_variable_before_anything_is_sent() -> None:
    # (a loopback base_url needs no key: tests/test_cli_words.py; these are the providers' own URLs)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        stream_chat("openai", model="m", messages=MESSAGES, env={})
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        stream_chat("gemini", model="m", messages=MESSAGES, base_url="https://gemini.example.invalid", env={})


def test_api_key_from_env_and_explicit_key_wins() -> None:
    data = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    with FixtureServer(FixtureResponse(body=data)) as server:
        common: dict[str, Any] = {"model": "m", "messages": MESSAGES, "base_url": server.url}
        stream_chat("openai", env={"OPENAI_API_KEY": "from-env"}, **common).result()
        stream_chat("openai", api_key="explicit", env={"OPENAI_API_KEY": "e"}, **common).result()
        auths = [r.headers.get("authorization") for r in server.requests]
    assert auths == ["Bearer from-env", "Bearer explicit"]


def test_provider_options_reach_the_request_body() -> None:
    with FixtureServer(slop_response(["a"])) as server:
        _slop(server, extra_body={"temperature": 0.25, "custom": [1, 2]}).result()
        body: Any = server.requests[0].json()
    assert body["temperature"] == 0.25
    assert body["custom"] == [1, 2]


def test_unknown_provider_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownProviderError) as info:
        stream_chat("no-such-provider", model="m", messages=MESSAGES)
    message = str(info.value)
    for name in ("openai", "anthropic", "gemini", "ollama", "bedrock", "slop"):
        assert name in message


def test_record_then_replay(tmp_path: Path) -> None:
    data = b'data: {"choices":[{"index":0,"delta":{"content":"recorded"}}]}\n\ndata: [DONE]\n\n'
    path = tmp_path / "call.jsonl"
    with FixtureServer(FixtureResponse(body=[data[:30], data[30:]])) as server:
        live = stream_chat(
            "openai", model="m", messages=MESSAGES, base_url=server.url, api_key="sk-very-secret", record=path
        )
        live_chunks = list(live)
    text = path.read_text("utf-8")
    assert "sk-very-secret" not in text
    assert "recorded" in text
    replayed = stream_chat(
        "openai", model="m", messages=MESSAGES, api_key="sk-other", transport=ReplayTransport(path)
    )
    assert list(replayed) == live_chunks
    assert replayed.result().text == "recorded"


def test_a_stream_read_by_send_to_cannot_be_read_elsewhere() -> None:
    with FixtureServer(slop_response(words(5), delay=0.02)) as server:
        stream = _slop(server)
        got: list[Any] = []
        handle = stream.send_to(got.append)
        with pytest.raises(LocalProtocolError, match="send_to"):
            next(stream)
        with pytest.raises(LocalProtocolError, match="send_to"):
            stream.send_to(got.append)
        end = handle.join(5)
    assert end is not None
    assert end.ok
    assert got[-1] is end


def test_bedrock_without_credentials_fails_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID"):
        stream_chat("bedrock", model="m", messages=MESSAGES, env={"AWS_REGION": "us-east-1"})


class _ShoutingSlop(SlopProvider):
    """A third-party provider: SLOP with its own name, key variable and upper-cased text."""

    name = "shouting-slop"
    api_key_env = ("SHOUT_KEY",)

    def decoder(self) -> Decoder:
        inner = super().decoder()

        class _Upper(Decoder):
            provider = "shouting-slop"

            def decode(self, event: WireEvent) -> list[Chunk]:
                return [
                    TextDelta(c.text.upper()) if isinstance(c, TextDelta) else c for c in inner.decode(event)
                ]

            def finish(self) -> list[Chunk]:
                return inner.finish()

            def is_keepalive(self, event: WireEvent) -> bool:
                return inner.is_keepalive(event)

            @property
            def complete(self) -> bool:
                return inner.complete

        return _Upper()


def test_a_registered_provider_and_a_provider_instance() -> None:
    register("shouting-slop", _ShoutingSlop)
    try:
        with FixtureServer(slop_response(["a", "b"])) as server:
            common: dict[str, Any] = {"model": "m", "messages": MESSAGES, "base_url": server.url}
            with pytest.raises(ConfigurationError, match="SHOUT_KEY"):  # (loopback URLs need none)
                stream_chat("shouting-slop", env={}, model="m", messages=MESSAGES, base_url="https://x.invalid")
            by_name = stream_chat("shouting-slop", env={"SHOUT_KEY": "k1"}, **common).result()
            by_object = stream_chat(_ShoutingSlop(), api_key="k2", **common).result()
            auths = [r.headers.get("authorization") for r in server.requests]
    finally:
        unregister("shouting-slop")
    assert by_name.text == by_object.text == "AB"
    assert auths == ["Bearer k1", "Bearer k2"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_while_waiting_for_the_response_headers(transport: str) -> None:
    response = FixtureResponse(body=slop_events(["late"]), stall=10.0, stall_at="before-headers")
    with FixtureServer(response) as server:
        stream = _slop(server, transport=transport, timeout=None)
        timer = threading.Timer(0.1, stream.cancel)
        timer.start()
        started = time.monotonic()
        assert list(stream) == []
        waited = time.monotonic() - started
        timer.join()
        assert len(server.requests) == 1
    assert waited < 1.0  # released at once, not when the headers finally come
    assert stream.cancelled


def test_close_before_iterating_sends_nothing() -> None:
    with FixtureServer(slop_response(["a"])) as server:
        stream = _slop(server)
        stream.close()
        assert list(stream) == []
        time.sleep(0.05)
        assert server.requests == []
    assert stream.finished


def test_a_connection_cut_mid_body_is_an_error_and_the_partial_result_is_kept() -> None:
    events = slop_events(["kept ", "lost"])
    cut = len(events[0]) + len(events[1])
    with FixtureServer(FixtureResponse(body=events, cut_after=cut, reset=True)) as server:
        stream = _slop(server, retry=NO_RETRY)
        texts: list[str] = []
        with pytest.raises(IncompleteStreamError) as info:
            texts.extend(c.text for c in stream if isinstance(c, TextDelta))
    assert texts == ["kept "]
    assert isinstance(info.value.__cause__, TransportError)
    assert info.value.partial is not None
    assert info.value.partial.text == "kept "
    assert stream.snapshot().text == "kept "
