"""Every script in ``examples/`` runs and does what its docstring says."""

from __future__ import annotations

import importlib.util
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
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == ["asyncio_reader", "httpx_stream", "wsgi_sse"]


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
