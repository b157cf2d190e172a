"""Every script in ``examples/`` runs and does what its docstring says."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == [
        "asyncio_reader",
        "browser_resume",
        "httpx_stream",
        "wsgi_sse",
    ]


def test_asyncio_reader(capsys: pytest.CaptureFixture[str]) -> None:
    events = load("asyncio_reader").main()
    assert [e.data for e in events] == ["Hello", " from", " an", " asyncio", " server", "!"]
    assert [e.id for e in events] == ["0", "1", "2", "3", "4", "5"]
    assert {e.event for e in events} == {"token"}
    assert "text: Hello from an asyncio server!" in capsys.readouterr().out


def test_httpx_stream(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("httpx")  # installed in the dev environment, so this runs
    result = load("httpx_stream").main()
    assert result.text == "Decoded from an httpx byte stream."
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.output_tokens == 6
    assert "Decoded from an httpx byte stream.\n" in capsys.readouterr().out


def test_wsgi_sse(capsys: pytest.CaptureFixture[str]) -> None:
    threads_before = set(threading.enumerate())
    events = load("wsgi_sse").main()
    payloads = [e.json() for e in events]
    assert [p["type"] for p in payloads] == ["start", *["content"] * 5, "finish", "usage", "done"]
    assert "".join(p["content"] for p in payloads if p["type"] == "content") == "Streamed by a WSGI app."
    for thread in threading.enumerate():
        if thread.name == "sansstream-keepalive":  # the producer ends with the stream
            thread.join(5)
    assert set(threading.enumerate()) <= threads_before
    assert "'type': 'done'" in capsys.readouterr().out


def test_browser_resume_with_sansstreams_eventsource(capsys: pytest.CaptureFixture[str]) -> None:
    module = load("browser_resume")
    text, ids, connections = module.check()
    assert text == module.REPLY  # every token exactly once, in order, across the drops
    assert connections == -(-len(module.TOKENS) // module.PER_CONNECTION)  # one per slice of tokens
    assert ids[:-1] == [f"réponse-{n}" for n in range(len(module.TOKENS))]
    assert ids[-1] == ""  # the id-less end event reset the id: no stale resume point is left
    assert module.REPLY in capsys.readouterr().out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium)")
def test_browser_resume_in_headless_chromium(tmp_path: Path) -> None:
    """The page itself, in a real browser: EventSource reconnects after each drop, sends the
    non-ASCII Last-Event-ID, and the page ends with the whole reply."""
    module = load("browser_resume")
    server, thread = module.start_server()
    try:
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path}",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ]
        url = f"http://127.0.0.1:{server.server_port}/"
        command = [str(CHROMIUM), *flags, url]
        out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    found = re.search(r'data-done="([^"]*)"', out.stdout)
    assert found is not None, out.stdout[-2000:] + out.stderr[-2000:]
    done = json.loads(html.unescape(found.group(1)))
    assert done["text"] == module.REPLY
    assert done["connections"] == -(-len(module.TOKENS) // module.PER_CONNECTION)
    assert done["endId"] == ""
    assert 'reconnected after id "réponse-3"' in html.unescape(out.stdout)
