"""A provider registered at runtime is used everywhere the built-ins are: ``sansstream parse``
names it from a recording's URL (its ``url_hints``) and from the content of a bare file (its
``looks_like``), the server helpers and a real local server speak its wire format, and
``stream_chat`` reads it back. Nothing outside the provider's own class knows about it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lines_provider import LinesProvider

from sansstream import providers
from sansstream.api import stream_chat
from sansstream.cli import main
from sansstream.core import encode_event_stream_message
from sansstream.model import TextDelta
from sansstream.server import ndjson_stream, stream_response
from sansstream.testing import FixtureResponse, FixtureServer
from sansstream.transports import load_recording


@pytest.fixture
def lines() -> Iterator[None]:
    providers.register("lines", LinesProvider)
    yield
    providers.unregister("lines")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("lines")
def test_parse_recognises_a_registered_provider_by_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"".join(ndjson_stream([TextDelta("one "), TextDelta("two")], format="lines"))
    path = tmp_path / "stream.ndjson"  # no URL, no provider folder: only the content tells
    path.write_bytes(body)
    code, out, err = _run(capsys, "parse", str(path), "--result")
    assert code == 0, err
    assert "lines" in err  # the guess is said
    assert json.loads(out)["text"] == "one two"


def test_without_the_registration_the_content_is_not_recognised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stream.ndjson"
    path.write_bytes(b'{"say": "x"}\n{"end": "stop"}\n')
    code, _, err = _run(capsys, "parse", str(path), "--result")
    assert code != 0
    assert "cannot tell which provider" in err
    assert "--provider" in err


@pytest.mark.usefixtures("lines")
def test_a_registered_provider_is_served_recorded_and_named_by_its_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The server helpers write its wire format; a real local server sends it; stream_chat reads
    # it back and records it; parse names the provider from the recorded request URL.
    body = list(ndjson_stream(stream_response("Served by a registered provider."), format="lines"))
    recording = tmp_path / "chat.jsonl"
    with FixtureServer(FixtureResponse(body, content_type="application/x-ndjson")) as server:
        stream = stream_chat(
            "lines",
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            base_url=server.url + "/lines/v2",
            record=recording,
        )
        assert stream.result().text == "Served by a registered provider."
    assert load_recording(recording).request is not None
    code, out, err = _run(capsys, "parse", str(recording), "--result")
    assert code == 0, err
    assert "request URL" in err
    assert "lines" in err
    assert json.loads(out)["text"] == "Served by a registered provider."


def test_built_in_url_hints_rank_specific_before_general() -> None:
    from sansstream.cli._parse import _providers, _url_hints

    ranked = [hint for hint, _name in _url_hints(_providers())]
    # A two-piece hint before any one-piece hint; a host before a path.
    assert ranked.index("bedrock-runtime /invoke-with-response-stream") < ranked.index("bedrock-runtime")
    assert ranked.index("api.mistral.ai") < ranked.index("/chat/completions")
    assert ranked.index("api.openai.com /responses") < ranked.index("api.openai.com")


@pytest.mark.parametrize(
    ("name", "body", "provider"),
    [
        # Streams that are nothing but an error are still told apart by their shape.
        (
            "err.json",
            b'[{"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}]',
            "gemini",
        ),
        (
            "err.bin",
            encode_event_stream_message(
                {":message-type": "exception", ":exception-type": "throttlingException"},
                b'{"message": "slow"}',
            ),
            "bedrock",
        ),
        (
            "err.sse",
            b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error"}}\n\n',
            "anthropic",
        ),
        ("slop.sse", b'data: {"type": "error", "message": "no"}\n\n', "slop"),
        # The first event decides: an OpenAI Responses stream that ends in an error event.
        (
            "responses.sse",
            b'event: response.created\ndata: {"type": "response.created", "response": {}}\n\n'
            b'event: error\ndata: {"type": "error", "error": {"type": "insufficient_quota"}}\n\n',
            "openai-responses",
        ),
    ],
)
def test_parse_names_error_only_streams_by_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, body: bytes, provider: str
) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    _, _, err = _run(capsys, "parse", str(path), "--result")
    assert f"guessed as '{provider}'" in err
