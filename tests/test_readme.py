"""Every ``python`` code block in README.md runs, as written, against a local server.

The blocks that talk to "openai" reach a loopback ``FixtureServer`` replaying a recorded OpenAI
stream: the test sets ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` the way a user's environment
would, so the README shows exactly the code a user types.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator

import pytest
from support import ROOT, provider_fixtures_dir

from sansstream.testing import FixtureResponse, FixtureServer

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def _blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_code_blocks_and_opens_with_the_stream_chat_example() -> None:
    blocks = _blocks()
    assert len(blocks) >= 8
    assert 'for chunk in stream_chat("openai"' in blocks[0]


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FixtureServer]:
    body = (provider_fixtures_dir() / "openai-chat" / "text-stop-usage.sse").read_bytes()
    with FixtureServer(FixtureResponse(body, delay=0.0)) as server:
        yield server


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_block_runs(
    index: int, openai_server: FixtureServer, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url + "/v1")
    monkeypatch.chdir(str(tmp_path))
    code = _blocks()[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md block {index}", "exec"), {"__name__": f"readme_{index}"})
    if "print(" in code:
        assert out.getvalue().strip(), "a block that prints printed nothing"
