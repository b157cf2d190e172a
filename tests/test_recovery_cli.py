"""The CLI's stream recovery: ``demo --cut``, ``chat --recover`` and ``resume ID`` on loopback servers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sansstream.cli._main import DEMO_REASONING, DEMO_TEXT, main
from sansstream.testing import Cut, FixtureResponse, FixtureServer, ProviderEmulator, ReceivedRequest

KEY = "sk-ant-cli-recovery-KEY-0123456789"
REPLY = "One two three four five six seven eight nine ten eleven twelve."


@pytest.mark.parametrize("transport", ["requests", "h11"])
def test_demo_cut_resumes_a_responses_stream_live(capsys: pytest.CaptureFixture[str], transport: str) -> None:
    assert main(["demo", "--cut", "--speed", "0", "--transport", transport]) == 0
    out, err = capsys.readouterr()
    assert out == f"{DEMO_REASONING}\n\n{DEMO_TEXT}\n"
    assert "[recovered #1: stream reopened after event" in err
    assert re.search(r"GET /v1/responses/resp_emulated0001\?stream=true&starting_after=\d+", err)


@pytest.mark.parametrize("provider", ["anthropic", "ollama"])
def test_demo_cut_continues_by_prefill(capsys: pytest.CaptureFixture[str], provider: str) -> None:
    assert main(["demo", "--cut", "--speed", "0", "-p", provider]) == 0
    out, err = capsys.readouterr()
    assert out == DEMO_TEXT + "\n"
    assert "as the assistant prefix]" in err


def test_demo_cut_json_lines_show_the_marker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cut", "--speed", "0", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    markers = [line for line in lines if line["type"] == "recovered"]
    assert len(markers) == 1
    assert markers[0]["mode"] == "resume"
    assert "".join(line["text"] for line in lines if line["type"] == "content") == DEMO_TEXT


def test_chat_recover_continue(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    emu = ProviderEmulator("anthropic", REPLY, cuts=[Cut(2 + 4, 3)])
    with FixtureServer(emu) as server:
        code = main(
            [
                "chat",
                "-p",
                "anthropic",
                "-m",
                "claude",
                "--base-url",
                server.url,
                "--recover",
                "continue",
                "hi",
            ]
        )
    out, err = capsys.readouterr()
    assert code == 0
    assert out == REPLY + "\n"
    assert "[recovered #1: request re-sent with the 18 characters so far as the assistant prefix]" in err
    assert emu.prefixes == [None, "One two three four"]


def test_chat_keeps_the_state_and_resume_picks_it_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    store = tmp_path / "recovery"
    emu = ProviderEmulator("anthropic", REPLY, cuts=[Cut(2 + 5, 3)])
    state = {"up": False, "first": True}

    def handler(request: ReceivedRequest) -> FixtureResponse:
        if state["first"] or state["up"]:
            state["first"] = False
            return emu(request)
        return FixtureResponse(
            '{"error": {"message": "down"}}',
            status=503,
            content_type="application/json",
            framing="content-length",
        )

    with FixtureServer(handler) as server:
        argv = ["chat", "-p", "anthropic", "-m", "claude", "--base-url", server.url, "--no-retry"]
        argv += ["--recover", "continue", "--recovery-store", str(store), "hi"]
        # (--no-retry: the reopen is tried once per recovery attempt; three attempts, then give up)
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 1
        assert out.startswith("One two three four five")
        match = re.search(r"recovery id ([0-9a-f]{32})", err)
        assert match is not None
        assert "sansstream.recover(" in err
        rid = match.group(1)
        assert KEY not in (store / f"{rid}.json").read_text()
        state["up"] = True
        assert main(["resume", rid, "--store", str(store), "--no-metrics"]) == 0
        out, err = capsys.readouterr()
        last: Any = server.requests[-1].json()
    assert out == REPLY + "\n"
    assert f"[resuming anthropic stream {rid} (continue); received before:]" in err
    assert last["messages"][-1] == {"role": "assistant", "content": "One two three four five"}
    assert not (store / f"{rid}.json").exists()


def test_resume_of_an_unknown_id_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resume", "f" * 32, "--store", str(tmp_path)]) == 1
    assert "no recovery state for ffff" in capsys.readouterr().err


def test_a_store_without_recover_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert main(["chat", "-p", "anthropic", "-m", "c", "--recovery-store", "x", "hi"]) == 1
    assert "--recovery-store needs --recover" in capsys.readouterr().err
