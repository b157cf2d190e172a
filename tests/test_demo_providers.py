"""``sansstream demo -p NAME`` for every registered provider, on both transports, run as users
run it (a subprocess): the embedded server speaks the provider's real wire format (its own
encoder), the real transport reads it, and the reply printed is the canned one. A provider
without a wire encoder, or whose ``local_options`` cannot point it at a local server, fails
here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from sansstream.providers import names

CLI = [sys.executable, "-m", "sansstream"]
REPLY_START = "sansstream reads streamed responses (Server-Sent Events, NDJSON, JSON arrays and AWS"
REPLY_END = "a single loop prints tokens from OpenAI, Anthropic, Ollama and the rest."


def clean_env() -> dict[str, str]:
    # No key and no region in the environment: the demo must not need either.
    return {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_TOKEN")) and not k.startswith("AWS_") and k != "NO_COLOR"
    }


@pytest.mark.parametrize("transport", ["requests", "h11"])
@pytest.mark.parametrize("provider", names())
def test_demo_serves_every_provider_through_the_real_transport(provider: str, transport: str) -> None:
    argv = [*CLI, "demo", "-p", provider, "--transport", transport, "--speed", "0", "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_env(), check=False)
    assert done.returncode == 0, done.stderr
    chunks = [json.loads(line) for line in done.stdout.splitlines()]
    text = "".join(c["text"] for c in chunks if c["type"] == "content")
    assert text.startswith(REPLY_START)
    assert text.endswith(REPLY_END)
    reasoning = "".join(c["text"] for c in chunks if c["type"] == "thinking")
    assert reasoning == "They want a short answer. Mention the sans-IO parser, then the providers."
    assert chunks[-1]["type"] == "done"
    assert f"demo: a local {provider} server at http://127.0.0.1:" in done.stderr
    assert re.search(r"71 tokens \| [\d.]+ tokens/s \| total [\d.]+ s \| usage: in 7, out 71", done.stderr)


def test_demo_names_the_providers_it_can_serve() -> None:
    done = subprocess.run(
        [*CLI, "demo", "-p", "nope"], capture_output=True, text=True, timeout=60, env=clean_env(), check=False
    )
    assert done.returncode == 2  # a usage error, as for any bad option value
    assert "no provider 'nope' with a wire encoder; choose from anthropic, azure," in done.stderr
    assert "Traceback" not in done.stderr
