"""stream_chat against a loopback server for every built-in provider, over both transports.

Each server checks the request it receives (path, auth header, body shape) and replays a
recorded fixture; what stream_chat yields must equal ``decode_stream`` over the same bytes, and
``result()`` must equal the pipeline's result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from support import provider_fixtures_dir, random_splits
from test_api_helpers import MESSAGES, TRANSPORTS, slop_events

from sansstream.api import stream_chat
from sansstream.model import Accumulator, ChatResult, Chunk
from sansstream.providers import decode_stream
from sansstream.testing import FixtureResponse, FixtureServer, ReceivedRequest


@dataclass(frozen=True)
class Case:
    provider: str
    fixture: str  # path under the provider fixtures dir, or "" for hand-made bytes
    model: str
    base_suffix: str
    path: Callable[[str], bool]
    auth: Callable[[ReceivedRequest], bool]
    body: Callable[[Any], bool]
    content_type: str
    env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def _bearer(key: str) -> Callable[[ReceivedRequest], bool]:
    return lambda r: r.headers.get("authorization") == f"Bearer {key}"


def _chat_body(b: Any) -> bool:
    return b["stream"] is True and b["messages"][-1]["content"] == "Hi" and "model" in b


CASES = [
    Case(
        "openai",
        "openai-chat/parallel-tool-calls.sse",
        "gpt-4o-mini",
        "/v1",
        lambda p: p == "/v1/chat/completions",
        _bearer("sk-test"),
        lambda b: _chat_body(b) and b["model"] == "gpt-4o-mini",
        "text/event-stream; charset=utf-8",
        {"OPENAI_API_KEY": "sk-test"},
    ),
    Case(
        "openai-responses",
        "openai-responses/reasoning-summary-then-text.sse",
        "gpt-5",
        "/v1",
        lambda p: p == "/v1/responses",
        _bearer("sk-test"),
        lambda b: b["stream"] is True and b["model"] == "gpt-5" and "input" in b,
        "text/event-stream",
        {"OPENAI_API_KEY": "sk-test"},
    ),
    Case(
        "anthropic",
        "anthropic/thinking-then-tool-use.sse",
        "claude-sonnet-4-5",
        "",
        lambda p: p == "/v1/messages",
        lambda r: r.headers.get("x-api-key") == "ant-test" and "anthropic-version" in r.headers,
        lambda b: _chat_body(b) and isinstance(b["max_tokens"], int),
        "text/event-stream; charset=utf-8",
        {"ANTHROPIC_API_KEY": "ant-test"},
    ),
    Case(
        "gemini",
        "gemini/function-call-then-text.sse",
        "gemini-2.5-flash",
        "",
        lambda p: p == "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        lambda r: r.headers.get("x-goog-api-key") == "g-test" and r.query == "alt=sse",
        lambda b: b["contents"][-1]["parts"][0]["text"] == "Hi",
        "text/event-stream",
        {"GEMINI_API_KEY": "g-test"},
    ),
    Case(
        "ollama",
        "ollama/chat-tool-call.doc.ndjson",
        "llama3.2",
        "",
        lambda p: p == "/api/chat",
        lambda r: "authorization" not in r.headers,
        lambda b: b["model"] == "llama3.2" and b["messages"][-1]["content"] == "Hi",
        "application/x-ndjson",
    ),
    Case(
        "mistral",
        "mistral/incremental-tool-call.sse",
        "mistral-small-latest",
        "/v1",
        lambda p: p == "/v1/chat/completions",
        _bearer("m-test"),
        _chat_body,
        "text/event-stream; charset=utf-8",
        {"MISTRAL_API_KEY": "m-test"},
    ),
    Case(
        "cohere",
        "cohere/tool-call.sse",
        "command-r-plus",
        "",
        lambda p: p == "/v2/chat",
        _bearer("co-test"),
        _chat_body,
        "text/event-stream",
        {"CO_API_KEY": "co-test"},
    ),
    Case(
        "bedrock",
        "bedrock/tool-use.bin",
        "us.amazon.nova-micro-v1:0",
        "",
        lambda p: p.startswith("/model/us.amazon.nova-micro-v1") and p.endswith("/converse-stream"),
        lambda r: r.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
        and "x-amz-date" in r.headers,
        lambda b: b["messages"][-1]["content"][0]["text"] == "Hi",
        "application/vnd.amazon.eventstream",
        {"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"},
    ),
    Case(
        "slop",
        "",
        "any",
        "/slop",
        lambda p: p == "/slop",
        lambda r: "authorization" not in r.headers,
        _chat_body,
        "text/event-stream",
    ),
]


def _fixture_bytes(case: Case) -> bytes:
    if not case.fixture:
        return b"".join(slop_events(["Hel", "lo", ", world"]))
    return (provider_fixtures_dir() / case.fixture).read_bytes()


def _expected(case: Case, data: bytes) -> tuple[list[Chunk], ChatResult]:
    chunks = list(decode_stream(case.provider, [data]))
    acc = Accumulator()
    for chunk in chunks:
        acc.add(chunk)
    return chunks, acc.result()


class _CheckingServer:
    """A FixtureServer whose handler records whether each request looked right."""

    def __init__(self, case: Case, data: bytes) -> None:
        self.case = case
        self.problems: list[str] = []
        slices = random_splits(data, seed=7, max_size=700)
        response = FixtureResponse(body=slices, content_type=case.content_type)

        def handle(request: ReceivedRequest) -> FixtureResponse:
            if request.method != "POST":
                self.problems.append(f"method {request.method}")
            if not case.path(request.path):
                self.problems.append(f"path {request.target}")
            if not case.auth(request):
                self.problems.append(f"auth headers {dict(request.headers)}")
            try:
                ok = case.body(request.json())
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                ok = False
                self.problems.append(f"body {exc!r}")
            if not ok:
                self.problems.append(f"body {request.body[:300]!r}")
            return response

        self.server = FixtureServer(handle)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", CASES, ids=[c.provider for c in CASES])
def test_stream_chat_matches_decode_stream(case: Case, transport: str) -> None:
    data = _fixture_bytes(case)
    want_chunks, want_result = _expected(case, data)
    checking = _CheckingServer(case, data)
    with checking.server as server:
        stream = stream_chat(
            case.provider,
            model=case.model,
            messages=MESSAGES,
            base_url=server.url + case.base_suffix,
            transport=transport,
            env=dict(case.env),
            timeout=5,
            **dict(case.options),
        )
        with stream:
            got = list(stream)
            assert stream.result() == want_result
        assert len(server.requests) == 1
    assert checking.problems == []
    assert got == want_chunks
    assert stream.metrics.chunks == len(want_chunks)
    assert stream.metrics.bytes_received == len(data)


@pytest.mark.parametrize("case", CASES, ids=[c.provider for c in CASES])
def test_result_after_partial_iteration_continues(case: Case) -> None:
    data = _fixture_bytes(case)
    want_chunks, want_result = _expected(case, data)
    with _CheckingServer(case, data).server as server:
        stream = stream_chat(
            case.provider,
            model=case.model,
            messages=MESSAGES,
            base_url=server.url + case.base_suffix,
            env=dict(case.env),
            timeout=5,
        )
        first = [next(stream), next(stream)]
        assert first == want_chunks[:2]
        assert stream.result() == want_result
        assert stream.usage == want_result.usage
        assert stream.finish_reason == want_result.finish_reason
