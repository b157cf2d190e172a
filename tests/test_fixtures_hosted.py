"""The hosted variants (azure, azure-responses, vertex, vertex-anthropic, bedrock-invoke) and the
OpenAI-compatible presets decode their fixtures to what the ``.expected.json`` files say, fed
whole, byte by byte, at random splits and cut in two at every byte.

Expected-file fields (schema ``hosted``, written from the data the fixture was made from, never
by running a decoder): ``text``, ``reasoning``, ``tool_calls[] {id, name, arguments, input}``,
``finish_reason`` / ``raw_finish_reason``, ``usage {input_tokens, output_tokens,
total_tokens}``, ``tool_results[] {kind, content}`` (Azure's filter annotations), ``error
{type, code, message}`` and ``done`` (the provider's terminal marker arrived).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from provider_support import Decoded, decode_all, feed_modes, fixture_cases, fixture_params

from sansstream.model import Done, ProviderError, StreamError, ToolResult
from sansstream.providers import decode_stream, get

HOSTED = ("azure", "azure-responses", "vertex", "vertex-anthropic", "bedrock-invoke")
PROVIDERS = Path(__file__).resolve().parent / "data" / "providers"
CASES = fixture_params(*HOSTED)


def _decode(path: Path, feed_mode: str = "whole", **kw: Any) -> Decoded:
    return decode_all(path.parent.name, path.read_bytes(), feed_mode, raise_errors=False, **kw)


def _check(decoded: Decoded, expected: dict[str, Any]) -> None:
    result = decoded.result
    assert decoded.error is None
    assert result.text == expected["text"]
    assert result.reasoning == expected["reasoning"]
    calls = [
        {"id": c.id, "name": c.name, "arguments": c.arguments, "input": c.input} for c in result.tool_calls
    ]
    assert calls == expected["tool_calls"]
    assert result.finish_reason == expected["finish_reason"]
    assert result.raw_finish_reason == expected["raw_finish_reason"]
    usage = expected["usage"]
    if usage is None:
        assert result.usage is None
    else:
        assert result.usage is not None
        got = {k: getattr(result.usage, k) for k in usage}
        assert got == usage
    results = [{"kind": r.kind, "content": r.content} for r in result.tool_results]
    assert results == expected["tool_results"]
    errors = [c.error for c in decoded.chunks if isinstance(c, StreamError)]
    if expected["error"] is None:
        assert errors == []
    else:
        assert len(errors) == 1
        error = errors[0]
        assert isinstance(error, ProviderError)
        want = expected["error"]
        assert (error.type, error.code, error.message) == (want["type"], want["code"], want["message"])
    assert any(isinstance(c, Done) for c in decoded.chunks) is expected["done"]


@pytest.mark.parametrize(("path", "expected"), CASES)
@feed_modes
def test_fixture_decodes_to_expected(path: Path, expected: dict[str, Any], feed_mode: str) -> None:
    _check(_decode(path, feed_mode), expected)


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_fixture_is_the_same_cut_in_two_at_every_byte(path: Path, expected: dict[str, Any]) -> None:
    data = path.read_bytes()
    name = path.parent.name
    # (repr: a StreamError holds an exception, and exceptions only equal themselves)
    whole = [repr(c) for c in decode_stream(name, [data], raise_errors=False)]
    for cut in range(1, len(data)):
        got = [repr(c) for c in decode_stream(name, [data[:cut], data[cut:]], raise_errors=False)]
        assert got == whole, cut


def test_every_hosted_family_has_fixtures() -> None:
    families = {path.parent.name for path, _ in fixture_cases(*HOSTED)}
    assert families == set(HOSTED)


def test_in_band_errors_raise_provider_error_naming_the_variant() -> None:
    for family, name in (
        ("azure", "chat-error-mid-stream.sse"),
        ("vertex-anthropic", "error-overloaded.sse"),
        ("bedrock-invoke", "claude-exception.bin"),
    ):
        path = next(p for p, _ in fixture_cases(family) if p.name == name)
        decoded = decode_all(family, path.read_bytes())
        assert isinstance(decoded.error, ProviderError), family
        assert decoded.error.provider == family
        assert decoded.error.partial is not None
        assert decoded.error.partial.text  # the chunks before the error were kept


def test_azure_annotations_are_delivered_once_and_all_clear_results_are_not() -> None:
    path = next(p for p, _ in fixture_cases("azure") if p.name == "chat-prompt-annotations.sse")
    chunks = list(decode_stream("azure", [path.read_bytes()]))
    annotations = [c for c in chunks if isinstance(c, ToolResult)]
    assert [a.kind for a in annotations] == ["prompt_filter"]
    assert annotations[0].index == 0  # the prompt_index
    # The annotation chunk (empty choices, empty id and model) comes first and starts nothing;
    # the response starts with the next chunk, which has the real id.
    assert chunks[0] is annotations[0]
    assert chunks[1].type == "start"
    assert chunks[1].id == "chatcmpl-AZ1"


def test_vertex_decodes_as_gemini_and_vertex_anthropic_as_anthropic() -> None:
    # Same bytes, same chunks: the variants only change where requests go.
    for variant, base in (("vertex", "gemini"), ("vertex-anthropic", "anthropic")):
        for path, _ in fixture_cases(variant):
            data = path.read_bytes()
            got = list(decode_stream(variant, [data], raise_errors=False))
            want = list(decode_stream(base, [data], raise_errors=False))
            assert [c for c in got if not isinstance(c, StreamError)] == [
                c for c in want if not isinstance(c, StreamError)
            ], path.name


def test_bedrock_invoke_claude_matches_anthropic_on_the_unwrapped_events() -> None:
    # The Claude frames hold Anthropic events: decoding them through bedrock-invoke gives the
    # chunks the anthropic decoder gives for the same events sent as SSE.
    import json

    from sansstream.core import EventStreamParser

    for path, _ in fixture_cases("bedrock-invoke"):
        if not path.name.startswith("claude-text"):
            continue
        parser = EventStreamParser()
        events = parser.feed(path.read_bytes()) + parser.feed(b"")
        sse = b"".join(b"data: " + base64.b64decode(json.loads(e.payload)["bytes"]) + b"\n\n" for e in events)
        got = list(decode_stream("bedrock-invoke", [path.read_bytes()]))
        want = list(decode_stream("anthropic", [sse]))
        assert got == want


# -- presets: the recorded OpenAI-compatible streams decode through the service's name --------

PRESET_FIXTURES = {
    "groq": ("groq-reasoning-tool-call.sse", "groq-tool-use-failed-error.sse"),
    "openrouter": ("openrouter-error-in-chunk.sse", "openrouter-reasoning.sse"),
    "deepseek": ("deepseek-reasoning-content.sse",),
    "together": ("huggingface-together-think-tags.sse",),
    "huggingface": ("huggingface-together-think-tags.sse",),
}


@pytest.mark.parametrize(
    ("preset", "fixture"),
    [(p, f) for p, files in PRESET_FIXTURES.items() for f in files],
)
def test_preset_decodes_recorded_streams_like_openai(preset: str, fixture: str) -> None:
    path = next(p for p, _ in fixture_cases("openai-compatible") if p.name == fixture)
    data = path.read_bytes()
    got = list(decode_stream(preset, [data], raise_errors=False))
    want = list(decode_stream("openai", [data], raise_errors=False))
    assert [c for c in got if not isinstance(c, StreamError)] == [
        c for c in want if not isinstance(c, StreamError)
    ]
    got_errors = [c.error for c in got if isinstance(c, StreamError)]
    want_errors = [c.error for c in want if isinstance(c, StreamError)]
    assert [(e.type, e.code, e.message) for e in got_errors] == [
        (e.type, e.code, e.message) for e in want_errors
    ]
    assert all(e.provider == preset for e in got_errors)  # errors name the service


def test_openrouter_error_chunk_after_finish_error_raises_with_partial() -> None:
    path = next(p for p, _ in fixture_cases("openai-compatible") if p.name == "openrouter-error-in-chunk.sse")
    decoded = decode_all("openrouter", path.read_bytes())
    assert isinstance(decoded.error, ProviderError)
    assert decoded.error.provider == "openrouter"
    assert decoded.error.message == "Token limit reached"
    assert decoded.error.partial is not None
    assert decoded.error.partial.usage is not None


def test_groq_usage_only_in_x_groq_is_kept() -> None:
    chunk = (
        b'data: {"id":"c1","model":"llama","choices":[{"index":0,"delta":{"content":"hi"},'
        b'"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"prompt_tokens":5,'
        b'"completion_tokens":2,"total_tokens":7,"queue_time":0.01}}}\n\ndata: [DONE]\n\n'
    )
    groq = decode_all("groq", chunk).result.usage
    assert groq is not None
    assert (groq.input_tokens, groq.output_tokens, groq.total_tokens) == (5, 2, 7)
    assert decode_all("openai", chunk).result.usage is None  # the plain decoder does not look there


def test_perplexity_citations_become_one_tool_result_each() -> None:
    def chunk(text: str, finish: str | None = None) -> bytes:
        import json

        obj = {
            "id": "p1",
            "model": "sonar",
            "citations": ["https://a.example", "https://b.example"],
            "search_results": [{"title": "A", "url": "https://a.example"}],
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    data = chunk("Sky") + chunk(" blue [1]", "stop") + b"data: [DONE]\n\n"
    result = decode_all("perplexity", data).result
    assert result.text == "Sky blue [1]"
    assert [(r.kind, r.content) for r in result.tool_results] == [
        ("citations", ["https://a.example", "https://b.example"]),
        ("search_results", [{"title": "A", "url": "https://a.example"}]),
    ]


def test_every_preset_and_variant_is_registered_with_a_decoder() -> None:
    from sansstream.providers.presets import PRESETS

    for name in (*HOSTED, *PRESETS):
        provider = get(name)
        assert provider.name == name
        assert provider.decoder().provider == name


def test_every_hosted_fixture_is_listed_in_the_manifest() -> None:
    from support import provider_fixtures_dir

    manifest = (provider_fixtures_dir() / "MANIFEST.md").read_text("utf-8")
    for path, _ in fixture_cases(*HOSTED):
        assert f"`{path.name}` ({path.stat().st_size} B" in manifest, path.name


def _wrapped(model_json: bytes) -> bytes:
    return b'{"bytes": "' + base64.b64encode(model_json) + b'"}'


@pytest.mark.parametrize(
    "payload",
    [
        b'{"p": "no bytes field"}',
        b'{"bytes": "not base64!!"}',
        _wrapped(b"not json"),
        _wrapped(b"[1, 2]"),
        _wrapped(b'{"unknown": "shape"}'),
        _wrapped(b"[" * 100_000 + b"]" * 100_000),
        b"not json at all",
    ],
    ids=["no-bytes", "bad-base64", "not-json", "not-object", "unknown-shape", "json-bomb", "frame-not-json"],
)
def test_bedrock_invoke_bad_chunk_payloads_are_remote_protocol_errors(payload: bytes) -> None:
    from sansstream.core import encode_event_stream_message
    from sansstream.model import RemoteProtocolError

    frame = encode_event_stream_message(
        [(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")], payload
    )
    decoded = decode_all("bedrock-invoke", frame)
    assert isinstance(decoded.error, RemoteProtocolError)
    assert "bedrock-invoke" in str(decoded.error)


def test_the_committed_hosted_fixtures_are_what_the_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import make_hosted_fixtures as generator

    monkeypatch.setattr(generator, "ROOT", tmp_path)
    generator.azure()
    generator.azure_responses()
    generator.vertex()
    generator.vertex_anthropic()
    generator.bedrock_invoke()
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(PROVIDERS) for family in HOSTED for p in (PROVIDERS / family).iterdir() if p.is_file()
    )
    assert written == committed
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (PROVIDERS / relative).read_bytes(), relative
