"""Stream recovery against emulated providers on real loopback servers (both transports).

Exact resumption (OpenAI Responses background mode): whatever the cut point (before the first
chunk, mid-text, mid-reasoning, mid-tool-call, just before the terminal event, several cuts in a
row, a clean close or a reset), the chunks the caller sees equal those of the uninterrupted
stream and so does ``result()``. Prefill continuation: the result is partial + continuation,
and the request that continues carries exactly the delivered text as the assistant prefix in
the provider's own shape. Refusals say why and send nothing more. A stored state holds no key
and is picked up by a second process.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sansstream.api._recovery import (
    RecoveryPolicy,
    load_recovery,
    recover,
    recovery_modes,
)
from sansstream.api._recovery_store import RecoveryNotFoundError, RecoveryStore
from sansstream.api._stream import NO_RETRY, StreamEnd, stream_chat
from sansstream.model._chunks import Recovered
from sansstream.model._errors import ConfigurationError, IncompleteStreamError
from sansstream.testing import (
    Cut,
    FixtureResponse,
    FixtureServer,
    ProviderEmulator,
    ReceivedRequest,
    split_words,
)

ROOT = Path(__file__).resolve().parent.parent
TRANSPORTS = ("requests", "h11")
KEY = "sk-recovery-test-KEY-0123456789abcdef"
REPLY = "The quick brown fox jumps over the lazy dog,\nthen naps in the sun for a while."
REASONING = "The user wants a story about a fox; keep it short."
TOOL = ("get_weather", '{"city": "Paris", "unit": "celsius"}')
FAST = RecoveryPolicy(initial_delay=0.0)
BEDROCK_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "bedrock-secret-0123456789",
    "AWS_REGION": "us-east-1",
}
MESSAGES = [{"role": "user", "content": "Tell me about the fox."}]


def _responses_stream(server: FixtureServer, transport: str, recover: Any = FAST, **kw: Any) -> Any:
    kw.setdefault("timeout", 10.0)
    return stream_chat(
        "openai-responses",
        model="gpt-test",
        messages=MESSAGES,
        api_key=KEY,
        base_url=server.url + "/v1",
        background=True,
        transport=transport,
        recover=recover,
        **kw,
    )


def _uninterrupted(transport: str = "requests", **emu: Any) -> list[Any]:
    with FixtureServer(ProviderEmulator("openai-responses", REPLY, **emu)) as server:
        return list(_responses_stream(server, transport, recover=None))


def _index(emu: ProviderEmulator, kind: str, nth: int = 0) -> int:
    """The position of the ``nth`` event of type ``kind`` in the full answer."""
    found = [i for i, e in enumerate(emu._responses_events(True)) if e["type"] == kind]
    return found[nth]


# ----------------------------------------------------------------------------------------------
# exact resumption


CUT_POINTS = {
    "before-first-chunk": ("response.created", 0, 9),
    "mid-text": ("response.output_text.delta", 4, 17),
    "mid-reasoning": ("response.reasoning_summary_text.delta", 3, 5),
    "mid-tool-call": ("response.function_call_arguments.delta", 2, 30),
    "before-terminal": ("response.completed", 0, 40),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("where", sorted(CUT_POINTS))
@pytest.mark.parametrize("reset", [False, True])
def test_exact_resume_delivers_the_uninterrupted_chunks(transport: str, where: str, reset: bool) -> None:
    kind, nth, extra = CUT_POINTS[where]
    emu = ProviderEmulator("openai-responses", REPLY, reasoning=REASONING, tool=TOOL, reset=reset)
    emu.cuts = [Cut(_index(emu, kind, nth), extra)]
    expected = _uninterrupted(reasoning=REASONING, tool=TOOL)
    with FixtureServer(emu) as server:
        stream = _responses_stream(server, transport)
        got = list(stream)
        targets = [r.target for r in server.requests]
    assert got == expected
    result = stream.result()
    assert result.text == REPLY
    assert result.reasoning == REASONING
    assert [(c.name, c.input) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
    if where == "before-first-chunk":
        # nothing came out: an ordinary retry re-sends the POST (no recovery needed)
        assert targets == ["/v1/responses", "/v1/responses"]
        assert stream.metrics.recoveries == 0
    else:
        last = _index(emu, kind, nth) - 1
        assert targets[0] == "/v1/responses"
        assert len(targets) == 2
        after = int(targets[1].rsplit("starting_after=", 1)[1])
        assert targets[1] == f"/v1/responses/resp_emulated0001?stream=true&starting_after={after}"
        # a reset may discard bytes the server had not sent yet: the resume starts earlier then
        assert after == last if not reset else after <= last
        assert stream.metrics.recoveries == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("seed", range(6))
def test_exact_resume_survives_random_cuts_in_a_row(transport: str, seed: int) -> None:
    rng = random.Random(seed)
    emu = ProviderEmulator("openai-responses", REPLY, reasoning=REASONING, tool=TOOL)
    total = len(emu._responses_events(True))
    cuts: list[Cut | None] = []
    position = 0
    for _ in range(rng.randint(1, 4)):  # each later answer starts after what was delivered
        step = rng.randint(2, max(2, (total - position) // 2))
        cuts.append(Cut(step, rng.randint(0, 60)))
        position += step
        if position >= total - 2:
            break
    emu.cuts = cuts
    expected = _uninterrupted(reasoning=REASONING, tool=TOOL)
    markers: list[Recovered] = []
    with FixtureServer(emu) as server:
        policy = RecoveryPolicy(initial_delay=0.0, max_attempts=2, on_recover=markers.append)
        stream = _responses_stream(server, transport, recover=policy)
        got = list(stream)
        gets = [r for r in server.requests if r.method == "GET"]
    assert got == expected
    assert stream.result() == _result_of(expected)
    assert stream.metrics.recoveries == len(markers) == len(gets)
    # every reopen asks for the events after the last one delivered, and never re-delivers
    afters = [int(r.query.rsplit("starting_after=", 1)[1]) for r in gets]
    assert afters == sorted(afters)
    assert [m.after for m in markers] == afters


def _result_of(chunks: list[Any]) -> Any:
    from sansstream.model._result import Accumulator

    acc = Accumulator()
    for c in chunks:
        acc.add(c)
    return acc.result()


def test_the_resume_request_is_a_get_with_the_key_and_no_body() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 2))]
    with FixtureServer(emu) as server:
        list(_responses_stream(server, "h11"))
        post, get = server.requests
    assert post.json()["background"] is True  # type: ignore[index]
    assert get.method == "GET"
    assert get.body == b""
    assert get.headers.get("authorization") == f"Bearer {KEY}"


def test_markers_show_where_the_stream_was_recovered() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    cut_at = _index(emu, "response.output_text.delta", 3)
    emu.cuts = [Cut(cut_at, 3)]
    seen: list[Any] = []
    with FixtureServer(emu) as server:
        policy = RecoveryPolicy(initial_delay=0.0, markers=True)
        stream = _responses_stream(server, "requests", recover=policy, on_chunk=seen.append)
        got = list(stream)
    markers = [c for c in got if isinstance(c, Recovered)]
    assert len(markers) == 1
    assert markers[0] in seen
    marker = markers[0]
    assert (marker.mode, marker.attempt, marker.after) == ("resume", 1, cut_at - 1)
    assert marker.recovery_id == stream.recovery_id
    assert "IncompleteStreamError" in marker.reason
    assert [c for c in got if not isinstance(c, Recovered)] == _uninterrupted()
    assert stream.result().text == REPLY  # the marker is not content
    assert stream.metrics.recoveries == 1
    assert stream.metrics.recovery_time >= 0.0


def test_a_stalled_stream_is_resumed_after_the_idle_timeout() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    stall_at = _index(emu, "response.output_text.delta", 2)

    def handler(request: ReceivedRequest) -> FixtureResponse:
        response = emu(request)
        if request.method == "POST":  # the first answer stalls mid-text, connection open
            offset = sum(len(s) for s in response.slices()[:stall_at])
            response.stall, response.stall_at = 30.0, offset
        return response

    with FixtureServer(handler) as server:
        stream = _responses_stream(server, "requests", timeout=None)
        stream.timeouts = type(stream.timeouts)(connect=5, first_byte=5, idle=0.3)
        got = list(stream)
    assert got == _uninterrupted()
    assert stream.metrics.recoveries == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_send_to_and_batches_work_across_a_recovery(transport: str) -> None:
    expected = _uninterrupted(tool=TOOL)
    emu = ProviderEmulator("openai-responses", REPLY, tool=TOOL)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 5), 11)]
    with FixtureServer(emu) as server:
        q: queue.Queue[Any] = queue.Queue()
        stream = _responses_stream(server, transport)
        handle = stream.send_to(q)
        end = handle.join(10)
        items = []
        while True:
            item = q.get(timeout=5)
            if isinstance(item, StreamEnd):
                break
            items.append(item)
    assert end is not None
    assert end.ok
    assert end.result is not None
    assert end.result.text == REPLY
    assert [chunk for _, chunk in items] == expected
    assert {sid for sid, _ in items} == {stream.id}

    emu2 = ProviderEmulator("openai-responses", REPLY, tool=TOOL)
    emu2.cuts = [Cut(_index(emu2, "response.function_call_arguments.delta", 1), 7)]
    with FixtureServer(emu2) as server:
        batches = list(_responses_stream(server, transport).batches(n=4))
    assert all(len(b) <= 4 for b in batches)
    assert [c for b in batches for c in b] == expected


def test_a_response_the_server_forgot_ends_with_a_clear_error() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 3))]

    def handler(request: ReceivedRequest) -> FixtureResponse:
        if request.method == "GET":
            body = json.dumps({"error": {"message": "Response with id 'resp_emulated0001' not found."}})
            return FixtureResponse(
                body, status=404, content_type="application/json", framing="content-length"
            )
        return emu(request)

    with FixtureServer(handler) as server:
        stream = _responses_stream(server, "requests")
        with pytest.raises(IncompleteStreamError) as info:
            list(stream)
    message = str(info.value)
    assert "no longer knows response resp_emulated0001" in message
    assert stream.recovery_id in message
    assert info.value.partial is not None
    assert info.value.partial.text == "The quick brown"
    assert KEY not in message


def test_recovery_gives_up_after_max_attempts_without_progress() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 3)), *[Cut(0, 5)] * 5]
    with FixtureServer(emu) as server:
        stream = _responses_stream(
            server, "requests", recover=RecoveryPolicy(initial_delay=0, max_attempts=2)
        )
        with pytest.raises(IncompleteStreamError) as info:
            list(stream)
        methods = [r.method for r in server.requests]
    assert "2 reopen attempt(s) failed" in str(info.value)
    assert methods == ["POST", "GET", "GET", "POST"]  # the last POST: cancelling the response
    assert emu.cancelled


def test_cancelling_a_background_stream_cancels_the_response() -> None:
    emu = ProviderEmulator("openai-responses", REPLY, delay=0.05)
    with FixtureServer(emu) as server:
        stream = _responses_stream(server, "requests")
        for chunk in stream:
            if chunk.type == "content":
                stream.cancel()
        server.wait_for_requests(2)
        assert [r.target for r in server.requests][-1] == "/v1/responses/resp_emulated0001/cancel"
    assert emu.cancelled
    assert stream.cancelled


def test_modes_the_provider_cannot_do_are_refused_before_sending() -> None:
    common: dict[str, Any] = {
        "model": "m",
        "messages": MESSAGES,
        "api_key": KEY,
        "base_url": "http://127.0.0.1:9",
    }
    with pytest.raises(ConfigurationError, match="background=True"):
        stream_chat("openai-responses", recover="resume", **common)
    with pytest.raises(ConfigurationError, match="no exact stream resumption"):
        stream_chat("anthropic", recover="resume", **common)
    with pytest.raises(ConfigurationError, match="prefix_completion"):
        stream_chat("openai", recover="continue", **common)
    with pytest.raises(ConfigurationError, match="supports no stream recovery"):
        stream_chat("cohere", recover="continue", **common)
    with pytest.raises(ConfigurationError, match="recover= must be"):
        stream_chat("anthropic", recover="sometimes", **common)
    with pytest.raises(ConfigurationError, match="Claude model"):
        stream_chat(
            "bedrock",
            recover="continue",
            env=BEDROCK_ENV,
            region="us-east-1",
            **{**common, "model": "amazon.nova"},
        )
    assert recovery_modes("openai-responses") == ("resume",)
    assert recovery_modes("mistral") == ("continue",)
    assert recovery_modes("cohere") == ()


def test_recovery_is_off_by_default() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 3))]
    with FixtureServer(emu) as server:
        stream = _responses_stream(server, "requests", recover=None)
        with pytest.raises(IncompleteStreamError):
            list(stream)
        assert len(server.requests) == 1
    assert stream.recovery_id is None


# ----------------------------------------------------------------------------------------------
# prefill continuation


PREFILL = {
    # provider: (model, base path, extra stream_chat options)
    "anthropic": ("claude-test", "", {}),
    "bedrock": ("anthropic.claude-test-v1:0", "", {"env": BEDROCK_ENV, "region": "us-east-1"}),
    "mistral": ("mistral-test", "/v1", {}),
    "openai": ("deepseek-chat", "/v1", {}),
    "ollama": ("llama-test", "", {}),
    "gemini": ("gemini-test", "", {}),
}
# The events before the answer text starts, per provider (message_start, content_block_start…).
TEXT_STARTS = {"anthropic": 2, "bedrock": 1, "mistral": 1, "openai": 1, "ollama": 0, "gemini": 0}


def _prefill_stream(
    provider: str, server: FixtureServer, transport: str, policy: Any = None, **kw: Any
) -> Any:
    model, path, extra = PREFILL[provider]
    options = {**extra, **kw}
    return stream_chat(
        provider,
        model=model,
        messages=MESSAGES,
        api_key=None if provider == "bedrock" else KEY,
        base_url=server.url + path,
        transport=transport,
        timeout=10.0,
        recover=policy or RecoveryPolicy(mode="continue", initial_delay=0.0, prefix_completion=True),
        **options,
    )


def _prefix_sent(provider: str, request: ReceivedRequest) -> Any:
    body: Any = request.json()
    return body["contents"][-1] if provider == "gemini" else body["messages"][-1]


EXPECTED_TURN: dict[str, Callable[[str], dict[str, Any]]] = {
    "anthropic": lambda p: {"role": "assistant", "content": p},
    "ollama": lambda p: {"role": "assistant", "content": p},
    "bedrock": lambda p: {"role": "assistant", "content": [{"text": p}]},
    "mistral": lambda p: {"role": "assistant", "content": p, "prefix": True},
    "openai": lambda p: {"role": "assistant", "content": p, "prefix": True},
    "gemini": lambda p: {"role": "model", "parts": [{"text": p}]},
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", sorted(PREFILL))
@pytest.mark.parametrize("words", [3, 9])
def test_prefill_continues_with_the_delivered_text_as_prefix(
    provider: str, transport: str, words: int
) -> None:
    emu = ProviderEmulator(provider, REPLY, cuts=[Cut(TEXT_STARTS[provider] + words, 5)])
    with FixtureServer(emu) as server:
        stream = _prefill_stream(provider, server, transport)
        chunks = list(stream)
        first, second = server.requests
    delivered = "".join(split_words(REPLY)[:words])
    text = "".join(c.text for c in chunks if c.type == "content")
    assert text == REPLY == stream.result().text  # partial + continuation, nothing repeated or lost
    assert sum(1 for c in chunks if c.type == "start") <= 1
    assert stream.result().finish_reason == "stop"
    sent = delivered.rstrip() if provider in ("anthropic", "bedrock") else delivered
    assert _prefix_sent(provider, second) == EXPECTED_TURN[provider](sent)
    # the rest of the request is the original one
    body1: Any = first.json()
    body2: Any = second.json()
    key = "contents" if provider == "gemini" else "messages"
    assert body2[key][:-1] == body1[key]
    assert {k: v for k, v in body2.items() if k != key} == {k: v for k, v in body1.items() if k != key}
    assert stream.metrics.recoveries == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", sorted(PREFILL))
@pytest.mark.parametrize("seed", range(3))
def test_prefill_at_random_points(provider: str, transport: str, seed: int) -> None:
    rng = random.Random(f"{provider}-{seed}")
    emu = ProviderEmulator(provider, REPLY)
    slices = emu.events()
    words = len(split_words(REPLY))
    start = TEXT_STARTS[provider]
    where = rng.choice(["before-first-chunk", "mid-text", "mid-text", "before-terminal"])
    if where == "before-first-chunk":
        cut = Cut(0, rng.randint(1, len(slices[0]) - 1))
    elif where == "mid-text":
        cut = Cut(start + rng.randint(1, words - 1), rng.randint(0, 8))
    else:
        cut = Cut(len(slices) - 1, rng.randint(0, len(slices[-1]) - 1))
    emu.cuts = [cut]
    with FixtureServer(emu) as server:
        stream = _prefill_stream(provider, server, transport)
        if where == "before-terminal" and provider not in ("gemini", "ollama"):
            # The finish reason had arrived: only the end marker is missing. Continuing would
            # start a new answer, so it is refused (the partial is the whole answer).
            with pytest.raises(IncompleteStreamError, match="had already finished") as info:
                list(stream)
            assert info.value.partial is not None
            assert info.value.partial.text == REPLY
            assert len(server.requests) == 1
            return
        chunks = list(stream)
        prefixes = list(emu.prefixes)
    assert "".join(c.text for c in chunks if c.type == "content") == REPLY
    assert stream.result().text == REPLY
    if where == "before-first-chunk":
        assert prefixes == [None, None]  # an ordinary retry: nothing had come out
    elif where == "mid-text":
        delivered = prefixes[1]
        assert delivered is not None
        assert REPLY.startswith(delivered)
    else:  # gemini, ollama: the finish reason rides on the last event, so it never arrived
        assert prefixes[1] is not None
        assert REPLY.startswith(prefixes[1])


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", ["anthropic", "mistral", "ollama"])
def test_a_continuation_cut_again_is_continued_again(provider: str, transport: str) -> None:
    emu = ProviderEmulator(
        provider, REPLY, cuts=[Cut(TEXT_STARTS[provider] + 3, 5), Cut(TEXT_STARTS[provider] + 4, 1)]
    )
    markers: list[Recovered] = []
    with FixtureServer(emu) as server:
        policy = RecoveryPolicy(mode="continue", initial_delay=0.0, markers=True, on_recover=markers.append)
        stream = _prefill_stream(provider, server, transport, policy=policy)
        chunks = list(stream)
    assert "".join(c.text for c in chunks if c.type == "content") == REPLY
    assert emu.prefixes == [None, "The quick brown", "The quick brown fox jumps over the"]
    assert [(m.attempt, m.prefix_chars) for m in markers] == [(1, 15), (2, len(emu.prefixes[2] or ""))]
    assert [c for c in chunks if isinstance(c, Recovered)] == markers
    assert stream.metrics.recoveries == 2


@pytest.mark.parametrize("strict", [True, False])
def test_a_clean_end_without_the_terminal_event_is_resumed_only_when_strict(strict: bool) -> None:
    emu = ProviderEmulator("openai-responses", REPLY, tool=TOOL)
    stop = _index(emu, "response.function_call_arguments.delta", 2)

    def handler(request: ReceivedRequest) -> FixtureResponse:
        response = emu(request)
        if request.method == "POST":  # complete framing, but the events stop early
            response.body = response.slices()[:stop]
        return response

    with FixtureServer(handler) as server:
        stream = _responses_stream(server, "requests", strict=strict)
        result = stream.result()
        methods = [r.method for r in server.requests]
    assert result.text == REPLY
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    if strict:
        assert methods == ["POST", "GET"]
        assert result.tool_calls[0].input == {"city": "Paris", "unit": "celsius"}
        assert result.finish_reason == "tool_calls"
    else:  # accepted as it is: the decoder's finish() closes the open call (arguments cut short)
        assert methods == ["POST"]
        assert result.finish_reason is None


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_trailing_whitespace_is_held_back_and_not_repeated(provider: str, transport: str) -> None:
    # "dog,\n" ends a delta: the prefix goes without its newline (Anthropic refuses trailing
    # whitespace) and the newline the model writes again is not delivered twice.
    words = REPLY.split("\n", maxsplit=1)[0].count(" ") + 1
    emu = ProviderEmulator(provider, REPLY, cuts=[Cut(TEXT_STARTS[provider] + words, 2)])
    with FixtureServer(emu) as server:
        stream = _prefill_stream(provider, server, transport)
        text = "".join(c.text for c in stream if c.type == "content")
        second = server.requests[1]
    assert text == REPLY
    assert _prefix_sent(provider, second) == EXPECTED_TURN[provider](
        "The quick brown fox jumps over the lazy dog,"
    )


def test_a_prefix_the_caller_gave_stays_in_front() -> None:
    messages = [*MESSAGES, {"role": "assistant", "content": "The quick"}]
    reply_rest = REPLY[len("The quick") :]
    emu = ProviderEmulator("anthropic", REPLY)
    answer = emu.events(text=reply_rest, continuation=False)
    emu.cuts = [Cut(2 + 3, 1)]

    def handler(request: ReceivedRequest) -> FixtureResponse:
        body: Any = request.json()
        if body["messages"][-1]["content"] == "The quick":  # the caller's own prefill
            emu.served += 1
            return FixtureResponse(answer, cut_after=sum(len(s) for s in answer[:5]) + 1)
        return emu(request)

    with FixtureServer(handler) as server:
        stream = stream_chat(
            "anthropic",
            model="c",
            messages=messages,
            api_key=KEY,
            base_url=server.url,
            recover=RecoveryPolicy(mode="continue", initial_delay=0),
        )
        text = stream.result().text
        second = server.requests[1]
    assert "The quick" + text == REPLY
    assert second.json()["messages"][-1] == {"role": "assistant", "content": "The quick brown fox jumps"}  # type: ignore[index]


def test_a_cut_after_only_the_start_resends_the_original_request() -> None:
    # Thinking on: a prefix would be refused, but nothing was said yet, so the request goes as it was.
    emu = ProviderEmulator("anthropic", REPLY, cuts=[Cut(1, 10)])
    with FixtureServer(emu) as server:
        stream = _prefill_stream("anthropic", server, "requests", thinking=True)
        assert stream.result().text == REPLY
        first, second = server.requests
    assert first.body == second.body
    assert emu.prefixes == [None, None]


REFUSALS = [
    # (provider, emulator options, cut (event index), request options, expected reason)
    ("anthropic", {"tool": TOOL}, "tool", {}, "inside the arguments of tool call #0 (get_weather)"),
    ("anthropic", {"reasoning": REASONING}, 4, {}, "inside a reasoning block, which anthropic signs"),
    ("anthropic", {"reasoning": REASONING}, "text", {}, "already holds reasoning"),
    ("anthropic", {}, "text", {"thinking": True}, "extended thinking"),
    ("bedrock", {"reasoning": REASONING}, 3, {}, "inside a reasoning block, which bedrock signs"),
    ("gemini", {"reasoning": REASONING}, 2, {}, "inside a reasoning block, which gemini signs"),
    ("mistral", {"reasoning": REASONING}, 3, {}, "already holds reasoning"),
    ("openai", {"tool": TOOL}, "tool", {}, "inside the arguments of tool call #0"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("provider", "emu_options", "where", "options", "reason"), REFUSALS)
def test_continuation_is_refused_when_it_cannot_be_exact(  # noqa: PLR0917 (parametrized)
    provider: str,
    emu_options: dict[str, Any],
    where: Any,
    options: dict[str, Any],
    reason: str,
    transport: str,
) -> None:
    emu = ProviderEmulator(provider, REPLY, **emu_options)
    slices = emu.events()
    if where == "tool":
        where = len(slices) - 6  # inside the tool call's argument deltas
    elif where == "text":
        where = len(slices) - 8  # inside the answer text
    emu.cuts = [Cut(where, 3)]
    with FixtureServer(emu) as server:
        stream = _prefill_stream(provider, server, transport, **options)
        with pytest.raises(IncompleteStreamError) as info:
            list(stream)
        assert len(server.requests) == 1  # nothing more was sent
    message = str(info.value)
    assert "sansstream.recover(" not in message  # refused: nothing is kept for later
    assert reason in message
    assert "was not recovered" in message
    assert info.value.partial is not None
    assert info.value.partial == stream.snapshot()


def test_a_prefix_the_provider_rejects_ends_the_recovery_with_its_answer() -> None:
    emu = ProviderEmulator("gemini", REPLY, cuts=[Cut(4, 3)])

    def handler(request: ReceivedRequest) -> FixtureResponse:
        body: Any = request.json()
        if body["contents"][-1]["role"] == "model":
            message = "Requests ending with a model turn are not supported."
            return FixtureResponse(
                json.dumps({"error": {"code": 400, "message": message}}),
                status=400,
                content_type="application/json",
                framing="content-length",
            )
        return emu(request)

    with FixtureServer(handler) as server:
        stream = _prefill_stream("gemini", server, "requests")
        with pytest.raises(IncompleteStreamError, match="rejected the prefixed request") as info:
            list(stream)
    assert "model turn are not supported" in str(info.value)
    assert info.value.partial is not None
    assert info.value.partial.text == "The quick brown fox"


# ----------------------------------------------------------------------------------------------
# the store, and recovery by id from another process


def _broken_then_down(emu: ProviderEmulator) -> Any:
    """A handler that serves the first answer (cut by the emulator) and then is down (503)
    until ``state["up"]`` is set."""
    state = {"up": False, "first": True}

    def handler(request: ReceivedRequest) -> FixtureResponse:
        if state["first"] or state["up"] or request.path.endswith("/cancel"):
            state["first"] = False
            return emu(request)
        return FixtureResponse(
            '{"error": {"message": "down"}}',
            status=503,
            content_type="application/json",
            framing="content-length",
        )

    handler.state = state  # type: ignore[attr-defined]
    return handler


def _run_second_process(code: str, env_extra: dict[str, str]) -> Any:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


_SECOND = """
import json, sys
from sansstream.api._recovery import recover, load_recovery
record = load_recovery(sys.argv[-2] if False else {rid!r}, store={store!r})
stream = recover({rid!r}, store={store!r}, transport={transport!r}, **{extra!r})
before = stream.snapshot().text
chunks = list(stream)
print(json.dumps({{"partial": record.partial.text, "before": before,
                  "new_text": "".join(c.text for c in chunks if c.type == "content"),
                  "types": [c.type for c in chunks], "text": stream.result().text,
                  "tools": [[t.name, t.input] for t in stream.result().tool_calls],
                  "reasoning": stream.result().reasoning}}))
"""


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exact_resume_by_id_from_a_second_process(tmp_path: Path, transport: str) -> None:
    store = tmp_path / "store"
    emu = ProviderEmulator("openai-responses", REPLY, reasoning=REASONING, tool=TOOL)
    emu.cuts = [Cut(_index(emu, "response.function_call_arguments.delta", 2), 9)]
    handler = _broken_then_down(emu)
    with FixtureServer(handler) as server:
        policy = RecoveryPolicy(initial_delay=0.0, max_attempts=1, store=store)
        stream = _responses_stream(server, transport, recover=policy, retry=NO_RETRY)
        with pytest.raises(IncompleteStreamError) as info:
            list(stream)
        rid = stream.recovery_id
        assert rid is not None
        assert f"sansstream.recover('{rid}'" in str(info.value)
        assert not emu.cancelled  # kept alive for a later process
        raw = (store / f"{rid}.json").read_bytes()
        assert KEY.encode() not in raw
        assert b"sk-recovery" not in raw
        handler.state["up"] = True
        out = _run_second_process(
            _SECOND.format(rid=rid, store=str(store), transport=transport, extra={}),
            {"OPENAI_API_KEY": KEY},
        )
        last = server.requests[-1]
    assert last.headers.get("authorization") == f"Bearer {KEY}"
    assert "starting_after=" in last.target
    assert out["partial"] == out["before"] == REPLY  # the text was complete before the tool call
    assert out["text"] == REPLY
    assert out["reasoning"] == REASONING
    assert out["tools"] == [["get_weather", {"city": "Paris", "unit": "celsius"}]]
    assert out["types"][-1] == "done"
    assert "start" not in out["types"]
    assert not (store / f"{rid}.json").exists()  # completed: the state is gone


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_prefill_by_id_from_a_second_process(tmp_path: Path, transport: str) -> None:
    store = tmp_path / "store"
    emu = ProviderEmulator("anthropic", REPLY, cuts=[Cut(2 + 5, 4)])
    handler = _broken_then_down(emu)
    with FixtureServer(handler) as server:
        policy = RecoveryPolicy(mode="continue", initial_delay=0.0, max_attempts=1, store=store)
        stream = _prefill_stream("anthropic", server, transport, policy=policy, retry=NO_RETRY)
        with pytest.raises(IncompleteStreamError):
            list(stream)
        rid = stream.recovery_id
        assert rid is not None
        raw = (store / f"{rid}.json").read_bytes()
        assert KEY.encode() not in raw
        assert os.stat(store / f"{rid}.json").st_mode & 0o077 == 0
        record = load_recovery(rid, store=store)
        assert record.partial.text == "The quick brown fox jumps"
        assert record.refusal is None
        handler.state["up"] = True
        out = _run_second_process(
            _SECOND.format(rid=rid, store=str(store), transport=transport, extra={}),
            {"ANTHROPIC_API_KEY": KEY},
        )
        last = server.requests[-1]
    assert out["partial"] == out["before"] == "The quick brown fox jumps"
    assert out["before"] + out["new_text"] == REPLY == out["text"]
    assert last.headers.get("x-api-key") == KEY
    assert last.json()["messages"][-1] == {"role": "assistant", "content": "The quick brown fox jumps"}  # type: ignore[index]


def test_unknown_expired_and_malformed_ids_give_clear_errors(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path, ttl=60)
    with pytest.raises(RecoveryNotFoundError, match="no recovery state for"):
        recover("0" * 32, store=tmp_path, api_key=KEY)
    with pytest.raises(RecoveryNotFoundError, match="is not a recovery id"):
        recover("../../etc/passwd", store=tmp_path, api_key=KEY)
    store.save({"recovery_id": "a" * 32, "version": 1, "mode": "resume", "expires_at": time.time() - 5})
    with pytest.raises(RecoveryNotFoundError, match="expired") as info:
        load_recovery("a" * 32, store=store)
    assert info.value.expired
    assert store.ids() == []
    (tmp_path / ("b" * 32 + ".json")).write_text("{not json")
    with pytest.raises(RecoveryNotFoundError, match="damaged"):
        load_recovery("b" * 32, store=tmp_path)


def test_the_store_is_written_atomically_and_never_holds_a_secret(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path)
    secret = "sk-very-secret-value-123456"
    store.save({"recovery_id": "c" * 32, "note": f"Bearer {secret}"}, secrets=[secret])
    text = (tmp_path / ("c" * 32 + ".json")).read_text()
    assert secret not in text
    assert "<redacted>" in text
    assert [p.name for p in tmp_path.iterdir()] == ["c" * 32 + ".json"]  # no temporary left


def test_a_recovered_stream_that_completes_removes_its_state(tmp_path: Path) -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 2))]
    with FixtureServer(emu) as server:
        stream = _responses_stream(
            server, "requests", recover=RecoveryPolicy(initial_delay=0, store=tmp_path)
        )
        assert stream.result().text == REPLY
    assert list(tmp_path.iterdir()) == []


def test_a_failed_background_response_is_not_reopened() -> None:
    from sansstream.model._errors import ProviderError

    emu = ProviderEmulator("openai-responses", REPLY)
    stop = _index(emu, "response.output_text.delta", 3)

    def handler(request: ReceivedRequest) -> FixtureResponse:
        response = emu(request)
        error = {
            "type": "error",
            "sequence_number": stop,
            "error": {"type": "server_error", "message": "boom"},
        }
        failed = {
            "type": "response.failed",
            "sequence_number": stop + 1,
            "response": {"id": "resp_emulated0001", "status": "failed", "error": {"code": "server_error"}},
        }
        tail = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (error, failed)]
        response.body = response.slices()[:stop] + tail
        return response

    with FixtureServer(handler) as server:
        stream = _responses_stream(server, "requests")
        with pytest.raises(ProviderError, match="boom"):
            list(stream)
        assert len(server.requests) == 1
    assert stream.metrics.recoveries == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_overloaded_error_mid_stream_is_continued_by_prefill(transport: str) -> None:
    emu = ProviderEmulator("anthropic", REPLY)
    overloaded = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )

    def handler(request: ReceivedRequest) -> FixtureResponse:
        response = emu(request)
        if emu.served == 1:  # the first answer: four words, then the in-band error
            response.body = [*response.slices()[: 2 + 4], overloaded]
        return response

    with FixtureServer(handler) as server:
        stream = _prefill_stream("anthropic", server, transport)
        assert stream.result().text == REPLY
    assert emu.prefixes == [None, "The quick brown fox"]
    assert stream.metrics.recoveries == 1


def test_hosted_variants_and_presets_recover_like_their_family() -> None:
    assert recovery_modes("azure-responses") == ("resume",)
    assert recovery_modes("vertex-anthropic") == ("continue",)
    assert recovery_modes("deepseek") == ("continue",)
    assert recovery_modes("bedrock-invoke") == ()
    reply = "The quick brown fox jumps over the lazy dog."
    emu = ProviderEmulator("openai", reply, cuts=[Cut(4, 3)])
    with FixtureServer(emu) as server:
        stream = stream_chat(
            "deepseek", model="deepseek-chat", messages=MESSAGES, api_key=KEY,
            base_url=server.url + "/beta", recover=RecoveryPolicy(mode="continue", initial_delay=0),
        )  # fmt: skip
        assert stream.result().text == reply
    assert emu.prefixes == [None, "The quick brown"]
    with pytest.raises(ConfigurationError, match=r"api\.deepseek\.com/beta"):
        stream_chat("deepseek", model="m", messages=MESSAGES, api_key=KEY, recover="continue")


def test_azure_responses_resume_keeps_the_api_version() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 3), 2)]
    with FixtureServer(emu) as server:
        stream = stream_chat(
            "azure-responses", model="gpt", messages=MESSAGES, api_key=KEY,
            base_url=server.url + "/openai/v1", api_version="preview", background=True, recover=FAST,
        )  # fmt: skip
        assert stream.result().text == REPLY
        get = server.requests[1]
    assert get.target.startswith(
        "/openai/v1/responses/resp_emulated0001?api-version=preview&stream=true&starting_after="
    )
    assert get.headers.get("api-key") == KEY


def test_on_recover_on_stream_chat() -> None:
    emu = ProviderEmulator("openai-responses", REPLY)
    emu.cuts = [Cut(_index(emu, "response.output_text.delta", 1), 4)]
    seen: list[Recovered] = []
    with FixtureServer(emu) as server:
        stream = _responses_stream(server, "requests", recover="resume", on_recover=seen.append)
        chunks = list(stream)
    assert not any(isinstance(c, Recovered) for c in chunks)  # markers are off by default
    assert [(m.mode, m.attempt, m.recovery_id) for m in seen] == [("resume", 1, stream.recovery_id)]
    with pytest.raises(ConfigurationError, match="on_recover= needs recover="):
        stream_chat("anthropic", model="m", messages=MESSAGES, api_key=KEY, on_recover=seen.append)
