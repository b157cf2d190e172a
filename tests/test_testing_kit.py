"""The testing kit: rechunk, hypothesis strategies, and the pytest plugin."""

from __future__ import annotations

import doctest
import sys
import textwrap
from importlib.metadata import entry_points
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sansstream.testing._rechunk as rechunk_module
from sansstream.api import stream_chat
from sansstream.core import SSEEncoder, SSEParser
from sansstream.model import (
    ChatResult,
    Chunk,
    ConfigurationError,
    IncompleteStreamError,
    LocalProtocolError,
    ProviderError,
    ServerSentEvent,
    StreamError,
    TextDelta,
)
from sansstream.providers import get as get_provider
from sansstream.server import WIRE_FORMATS, WireFormat
from sansstream.testing import MODES, FixtureServer, at_offsets, chat_response, rechunk, splits, sse_events

pytest_plugins = ("pytester",)

DATA = bytes(range(256)) * 3


@pytest.mark.parametrize("mode", [*MODES, 1, 7, [1, 2, 3], (5,)])
def test_rechunk_never_loses_or_reorders_bytes(mode: Any) -> None:
    pieces = rechunk(DATA, mode)
    assert b"".join(pieces) == DATA
    assert all(pieces)


def test_rechunk_modes_cut_as_named() -> None:
    assert rechunk(DATA, "whole") == [DATA]
    assert rechunk(b"", "whole") == []
    assert rechunk(b"abc", "bytewise") == [b"a", b"b", b"c"]
    assert rechunk(b"abcdefg", 3) == [b"abc", b"def", b"g"]
    assert rechunk(b"abcdef", [1, 2]) == [b"a", b"bc", b"d", b"ef"]
    random_cut = rechunk(DATA, "random", seed=5, max_size=10)
    assert max(len(p) for p in random_cut) <= 10
    assert len(random_cut) > len(DATA) // 10
    # Same seed, same cut; another seed, another cut.
    assert rechunk(DATA, "random", seed=5) == rechunk(DATA, "random", seed=5)
    assert rechunk(DATA, "random", seed=5) != rechunk(DATA, "random", seed=6)
    assert at_offsets(b"abcdef", [4, 2, 2, 0, 99]) == [b"ab", b"cd", b"ef"]


@pytest.mark.parametrize("bad", ["sideways", 0, -1, [], [2, 0], True])
def test_rechunk_refuses_nonsense(bad: Any) -> None:
    with pytest.raises(LocalProtocolError):
        rechunk(b"abc", bad)


def test_rechunk_refuses_text() -> None:
    with pytest.raises(LocalProtocolError, match="needs bytes"):
        rechunk("text", "whole")  # type: ignore[arg-type]


def test_module_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(rechunk_module)
    assert tried >= 4
    assert failures == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_strategies_produce_events_that_round_trip_in_any_split(data: st.DataObject) -> None:
    events = data.draw(st.lists(sse_events(), min_size=1, max_size=6))
    wire = SSEEncoder().encode_many(events)
    pieces = data.draw(splits(wire))
    assert b"".join(pieces) == wire
    parser = SSEParser()
    got = [e for piece in pieces for e in parser.feed(piece)]
    got += parser.feed(b"")
    assert got == events


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_splits_respects_max_pieces(data: st.DataObject) -> None:
    wire = b"data: hello\n\n"
    pieces = data.draw(splits(wire, max_pieces=3))
    assert b"".join(pieces) == wire
    assert 1 <= len(pieces) <= 3


def test_strategies_without_hypothesis_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ConfigurationError, match="pip install hypothesis"):
        sse_events()
    # The rest of the kit does not need it.
    assert rechunk(b"ab", "bytewise") == [b"a", b"b"]


def test_sse_events_options() -> None:
    strategy = sse_events(event_names=st.just("delta"), with_id=False, with_retry=False)

    @settings(max_examples=20, deadline=None)
    @given(strategy)
    def check(event: ServerSentEvent) -> None:
        assert event.event == "delta"
        assert event.id == ""
        assert event.retry is None

    check()


PLUGIN_TEST = textwrap.dedent(
    """
    import threading

    import requests

    from sansstream.core import SSEParser
    from sansstream.testing import FixtureResponse

    def test_served(fixture_server):
        fixture_server.route("/stream", FixtureResponse([b"data: a\\n\\n", b"data: b\\n\\n"]))
        response = requests.get(fixture_server.url + "/stream", timeout=5)
        assert [e.data for e in SSEParser().feed(response.content)] == ["a", "b"]
        assert requests.get(fixture_server.url + "/other", timeout=5).status_code == 404

    def test_split_modes(split_mode):
        pieces = split_mode(b"data: x\\n\\n")
        assert b"".join(pieces) == b"data: x\\n\\n"

    def test_no_server_threads_left():
        assert not [t for t in threading.enumerate() if t.name.startswith("FixtureServer")]
    """
)


def _registered_as_entry_point() -> bool:
    return any(ep.value == "sansstream.testing.pytest_plugin" for ep in entry_points(group="pytest11"))


def test_pytest_plugin_provides_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plugin_user=PLUGIN_TEST)
    # Once installed with its pytest11 entry point the plugin loads by itself (and -p would
    # register it twice); before that, -p loads it.
    load = [] if _registered_as_entry_point() else ["-p", "sansstream.testing.pytest_plugin"]
    result = pytester.runpytest(*load, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)  # test_served, 3 split modes, the thread check
    result.stdout.fnmatch_lines(["*5 passed*"])


def chat_against(server: FixtureServer, fmt: WireFormat) -> ChatResult:
    key = None if fmt in ("ollama", "slop") else "test-key"
    messages = [{"role": "user", "content": "hi"}]
    local = get_provider(fmt).local_options(server.url)
    stream = stream_chat(fmt, model="m", messages=messages, api_key=key, retry=None, **local)
    return stream.result()


@pytest.mark.parametrize("fmt", WIRE_FORMATS)
def test_chat_response_serves_a_provider_stream(fmt: WireFormat) -> None:
    with FixtureServer(chat_response("Hi there friend", format=fmt, delay=0.005)) as server:
        assert chat_against(server, fmt).text == "Hi there friend"
        assert len(server.requests) == 1
    truncated = chat_response("Cut", format=fmt, done=False)
    with FixtureServer(truncated) as server, pytest.raises(IncompleteStreamError) as info:
        chat_against(server, fmt)
    assert info.value.partial is not None
    assert info.value.partial.text == "Cut"


def test_chat_response_from_chunks_with_an_error() -> None:
    chunks: list[Chunk] = [TextDelta("partial"), StreamError(ProviderError("overloaded", provider="fixture"))]
    with (
        FixtureServer(chat_response(chunks, format="anthropic")) as server,
        pytest.raises(ProviderError) as info,
    ):
        chat_against(server, "anthropic")
    assert info.value.message == "overloaded"
    assert info.value.partial is not None
    assert info.value.partial.text == "partial"
