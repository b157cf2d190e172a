"""stream_chat end to end for every hosted variant and preset, over both transports.

A loopback server plays the cloud: it checks the request the way the real service would (the
route, the query, the auth header — Bedrock's SigV4 signature is recomputed here from the
request as received, independently of sansstream's signer — and the body's shape), then
replays a fixture. What stream_chat yields must equal ``decode_stream`` over the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from support import provider_fixtures_dir, random_splits
from test_api_helpers import MESSAGES, TRANSPORTS

from sansstream.api import stream_chat
from sansstream.model import ConfigurationError, HTTPStatusError
from sansstream.providers import decode_stream, get
from sansstream.providers.azure import content_filter_details
from sansstream.providers.presets import PRESETS
from sansstream.testing import FixtureResponse, FixtureServer, ReceivedRequest

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDHOSTED",
    "AWS_SECRET_ACCESS_KEY": "hosted-secret",
    "AWS_REGION": "us-west-2",
}


def sigv4_ok(request: ReceivedRequest, env: Mapping[str, str], service: str = "bedrock") -> bool:
    """Verify an AWS SigV4 ``Authorization`` header as AWS does: rebuild the canonical request
    from what arrived (path encoded once more, the signed headers' values, the body's hash),
    derive the key from the secret and compare signatures."""
    auth = request.headers.get("authorization", "")
    prefix = "AWS4-HMAC-SHA256 "
    if not auth.startswith(prefix):
        return False
    fields = dict(part.strip().split("=", 1) for part in auth[len(prefix) :].split(","))
    access_key, day, region, svc, terminator = fields["Credential"].split("/")
    if (access_key, svc, terminator) != (env["AWS_ACCESS_KEY_ID"], service, "aws4_request"):
        return False
    amz_date = request.headers.get("x-amz-date", "")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or not amz_date.startswith(day):
        return False
    canonical_headers = "".join(
        f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed
    )
    canonical = "\n".join(
        [
            request.method,
            quote(request.path, safe="/-_.~"),
            request.query,
            canonical_headers,
            fields["SignedHeaders"],
            hashlib.sha256(request.body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + env["AWS_SECRET_ACCESS_KEY"]).encode()
    for step in (day, region, service, "aws4_request"):
        key = hmac.new(key, step.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["Signature"]) and region == env["AWS_REGION"]


@dataclass(frozen=True)
class Case:
    id: str
    provider: str
    fixture: str
    model: str
    base_suffix: str
    path: str
    query: str
    auth: Callable[[ReceivedRequest], bool]
    body: Callable[[Any], bool]
    content_type: str = "text/event-stream"
    env: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def _api_key_only(key: str) -> Callable[[ReceivedRequest], bool]:
    return lambda r: r.headers.get("api-key") == key and "authorization" not in r.headers


def _bearer_only(token: str) -> Callable[[ReceivedRequest], bool]:
    return lambda r: (
        r.headers.get("authorization") == f"Bearer {token}"
        and not ({"api-key", "x-api-key", "x-goog-api-key"} & {k.lower() for k in r.headers})
    )


def _chat(model: str) -> Callable[[Any], bool]:
    return lambda b: (
        b["model"] == model
        and b["stream"] is True
        and b["stream_options"] == {"include_usage": True}
        and b["messages"] == [{"role": "user", "content": "Hi"}]
    )


def _responses(model: str) -> Callable[[Any], bool]:
    return lambda b: b["model"] == model and b["stream"] is True and b["input"][-1]["content"] == "Hi"


def _gemini_body(b: Any) -> bool:
    return b["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}] and "model" not in b


def _vertex_claude_body(b: Any) -> bool:
    return (
        b["anthropic_version"] == "vertex-2023-10-16"
        and "model" not in b
        and b["stream"] is True
        and isinstance(b["max_tokens"], int)
        and b["messages"] == [{"role": "user", "content": "Hi"}]
    )


def _bedrock_claude_body(b: Any) -> bool:
    return (
        b["anthropic_version"] == "bedrock-2023-05-31"
        and "model" not in b
        and "stream" not in b
        and isinstance(b["max_tokens"], int)
        and b["messages"] == [{"role": "user", "content": "Hi"}]
    )


def _llama_body(b: Any) -> bool:
    prompt: str = b["prompt"]
    return prompt == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


CASES = [
    Case(
        "azure-v1-key", "azure", "azure/chat-prompt-annotations.sse", "my-gpt4o", "",
        "/openai/v1/chat/completions", "", _api_key_only("az-key"), _chat("my-gpt4o"),
        env={"AZURE_OPENAI_API_KEY": "az-key"},
    ),
    Case(
        "azure-dated-deployment", "azure", "azure/chat-async-filter.sse", "gpt-4o", "",
        "/openai/deployments/prod-4o/chat/completions", "api-version=2024-10-21", _api_key_only("az-key"),
        _chat("gpt-4o"), env={"AZURE_OPENAI_API_KEY": "az-key", "OPENAI_API_VERSION": "2024-10-21"},
        options={"deployment": "prod-4o"},
    ),
    Case(
        "azure-entra-token", "azure", "azure/chat-output-filtered.sse", "my-gpt4o", "",
        "/openai/v1/chat/completions", "", _bearer_only("entra-token"), _chat("my-gpt4o"),
        env={"AZURE_OPENAI_AD_TOKEN": "entra-token", "AZURE_OPENAI_API_KEY": "az-key"},
    ),
    Case(
        "azure-responses-v1", "azure-responses", "azure-responses/text.sse", "my-4.1-mini", "",
        "/openai/v1/responses", "", _api_key_only("az-key"), _responses("my-4.1-mini"),
        env={"AZURE_OPENAI_API_KEY": "az-key"},
    ),
    Case(
        "azure-responses-dated", "azure-responses", "azure-responses/text.sse", "my-4.1-mini", "",
        "/openai/responses", "api-version=2025-03-01-preview", _bearer_only("entra-token"),
        _responses("my-4.1-mini"), env={"AZURE_OPENAI_AD_TOKEN": "entra-token"},
        options={"api_version": "2025-03-01-preview"},
    ),
    Case(
        "vertex-gemini", "vertex", "vertex/text-thought.sse", "gemini-2.5-flash", "/v1",
        "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
        "alt=sse", _bearer_only("ya29.token"), _gemini_body,
        env={"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.token", "GOOGLE_CLOUD_PROJECT": "my-proj",
             "GOOGLE_CLOUD_LOCATION": "us-central1"},
    ),
    Case(
        "vertex-gemini-global", "vertex", "vertex/function-call.sse", "gemini-2.5-pro", "/v1",
        "/v1/projects/p2/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent",
        "alt=sse", _bearer_only("gcloud-token"), _gemini_body,
        env={"CLOUDSDK_AUTH_ACCESS_TOKEN": "gcloud-token"}, options={"project": "p2"},
    ),
    Case(
        "vertex-anthropic", "vertex-anthropic", "vertex-anthropic/text-then-tool-use.sse",
        "claude-sonnet-4-5@20250929", "/v1",
        "/v1/projects/ant-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
        "", _bearer_only("ya29.token"), _vertex_claude_body,
        env={"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.token", "ANTHROPIC_VERTEX_PROJECT_ID": "ant-proj",
             "CLOUD_ML_REGION": "us-east5"},
    ),
    Case(
        "bedrock-invoke-claude", "bedrock-invoke", "bedrock-invoke/claude-tool-use.bin",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "",
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", "",
        lambda r: sigv4_ok(r, AWS_ENV) and r.headers.get("x-amzn-bedrock-accept") == "application/json",
        _bedrock_claude_body, content_type="application/vnd.amazon.eventstream", env=AWS_ENV,
    ),
    Case(
        "bedrock-invoke-llama", "bedrock-invoke", "bedrock-invoke/llama-text.bin",
        "meta.llama3-1-8b-instruct-v1:0", "",
        "/model/meta.llama3-1-8b-instruct-v1%3A0/invoke-with-response-stream", "",
        lambda r: sigv4_ok(r, AWS_ENV), _llama_body, content_type="application/vnd.amazon.eventstream",
        env=AWS_ENV,
    ),
    Case(
        "bedrock-invoke-nova", "bedrock-invoke", "bedrock-invoke/nova-text-tool-use.bin",
        "us.amazon.nova-pro-v1:0", "", "/model/us.amazon.nova-pro-v1%3A0/invoke-with-response-stream", "",
        lambda r: sigv4_ok(r, AWS_ENV),
        lambda b: b["schemaVersion"] == "messages-v1"
        and b["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
        and "model" not in b,
        content_type="application/vnd.amazon.eventstream", env=AWS_ENV,
    ),
    Case(
        "bedrock-invoke-api-key", "bedrock-invoke", "bedrock-invoke/mistral-length.bin",
        "mistral.mistral-7b-instruct-v0:2", "",
        "/model/mistral.mistral-7b-instruct-v0%3A2/invoke-with-response-stream", "",
        lambda r: r.headers.get("authorization") == "Bearer bedrock-api-key"
        and "x-amz-date" not in r.headers,
        lambda b: b["prompt"] == "<s>[INST] Hi [/INST]", content_type="application/vnd.amazon.eventstream",
        env={"AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key", "AWS_REGION": "us-west-2"},
    ),
]  # fmt: skip


def _bytes(fixture: str) -> bytes:
    return (provider_fixtures_dir() / fixture).read_bytes()


def _serve(case: Case, data: bytes, problems: list[str]) -> FixtureServer:
    response = FixtureResponse(body=random_splits(data, seed=3, max_size=500), content_type=case.content_type)

    def handle(request: ReceivedRequest) -> FixtureResponse:
        if request.method != "POST":
            problems.append(f"method {request.method}")
        if request.path != case.path:
            problems.append(f"path {request.path!r}")
        if request.query != case.query:
            problems.append(f"query {request.query!r}")
        if request.headers.get("content-type") != "application/json":
            problems.append(f"content-type {request.headers.get('content-type')!r}")
        if not case.auth(request):
            problems.append(f"auth headers {sorted(request.headers)}")
        try:
            ok = case.body(request.json())
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            ok = False
            problems.append(f"body {exc!r}")
        if not ok:
            problems.append(f"body {request.body[:400]!r}")
        return response

    return FixtureServer(handle)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_stream_chat_reaches_the_variant_and_decodes(case: Case, transport: str) -> None:
    data = _bytes(case.fixture)
    want = [repr(c) for c in decode_stream(case.provider, [data], raise_errors=False)]
    problems: list[str] = []
    with _serve(case, data, problems) as server:
        stream = stream_chat(
            case.provider,
            model=case.model,
            messages=MESSAGES,
            base_url=server.url + case.base_suffix,
            transport=transport,
            env=dict(case.env),
            timeout=5,
            retry=None,
            raise_errors=False,
            **dict(case.options),
        )
        with stream:
            got = [repr(c) for c in stream]
        assert len(server.requests) == 1
    assert problems == []
    assert got == want
    assert stream.metrics.bytes_received == len(data)


PRESET_FIXTURE = {
    "groq": "openai-compatible/groq-reasoning-tool-call.sse",
    "openrouter": "openai-compatible/openrouter-reasoning.sse",
    "deepseek": "openai-compatible/deepseek-reasoning-content.sse",
    "together": "openai-compatible/huggingface-together-think-tags.sse",
    "huggingface": "openai-compatible/huggingface-together-think-tags.sse",
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_end_to_end(name: str, transport: str) -> None:
    preset = PRESETS[name]
    data = _bytes(PRESET_FIXTURE.get(name, "openai-chat/text-stop-usage.sse"))
    env = {} if preset.local else {preset.key_env[0]: f"{name}-key"}
    auth = (lambda r: "authorization" not in r.headers) if preset.local else _bearer_only(f"{name}-key")
    case = Case(name, name, "", "some-model", "/v1", "/v1/chat/completions", "", auth, _chat("some-model"))
    problems: list[str] = []
    with _serve(case, data, problems) as server:
        stream = stream_chat(
            name, model="some-model", messages=MESSAGES, base_url=server.url + "/v1", transport=transport,
            env=env, timeout=5, retry=None, raise_errors=False,
        )  # fmt: skip
        with stream:
            got = [repr(c) for c in stream]
    assert problems == []
    assert got == [repr(c) for c in decode_stream(name, [data], raise_errors=False)]


def test_local_preset_sends_a_key_when_its_variable_is_set() -> None:
    request = get("vllm").build_request(model="m", messages=MESSAGES, api_key="vk")
    assert request.url == "http://localhost:8000/v1/chat/completions"
    assert get("vllm").defaults_from_env({"VLLM_API_KEY": "vk"}) == {"api_key": "vk"}
    assert request.headers["authorization"] == "Bearer vk"
    assert "authorization" not in get("llamacpp").build_request(model="m", messages=MESSAGES).headers


def test_hosted_preset_without_key_names_its_variable() -> None:
    for name, var in (("groq", "GROQ_API_KEY"), ("openrouter", "OPENROUTER_API_KEY"), ("xai", "XAI_API_KEY")):
        with pytest.raises(ConfigurationError, match=var):
            stream_chat(name, model="m", messages=MESSAGES, env={})


def test_preset_default_urls() -> None:
    urls = {name: get(name).build_request(model="m", messages=MESSAGES, api_key="k").url for name in PRESETS}
    assert urls["groq"] == "https://api.groq.com/openai/v1/chat/completions"
    assert urls["openrouter"] == "https://openrouter.ai/api/v1/chat/completions"
    assert urls["deepseek"] == "https://api.deepseek.com/chat/completions"
    assert urls["perplexity"] == "https://api.perplexity.ai/chat/completions"
    assert urls["fireworks"] == "https://api.fireworks.ai/inference/v1/chat/completions"
    assert urls["lmstudio"] == "http://localhost:1234/v1/chat/completions"
    assert urls["llamacpp"] == "http://localhost:8080/v1/chat/completions"
    assert urls["deepinfra"] == "https://api.deepinfra.com/v1/openai/chat/completions"
    assert urls["huggingface"] == "https://router.huggingface.co/v1/chat/completions"


def test_openrouter_attribution_headers() -> None:
    request = get("openrouter").build_request(
        model="m", messages=MESSAGES, api_key="k", app_url="https://example.org", app_title="Demo",
        extra_headers={"x-extra": "1"},
    )  # fmt: skip
    assert request.headers["HTTP-Referer"] == "https://example.org"
    assert request.headers["X-Title"] == "Demo"
    assert request.headers["x-extra"] == "1"
    body = request.json_body()
    assert "app_url" not in body
    assert "app_title" not in body


# -- Azure details -----------------------------------------------------------------------------


def test_azure_urls() -> None:
    azure = get("azure")
    msgs = MESSAGES

    def url(**kw: Any) -> str:
        return azure.build_request(model="dep", messages=msgs, api_key="k", **kw).url

    assert url(resource="res") == "https://res.openai.azure.com/openai/v1/chat/completions"
    # A resource named in the call wins over the endpoint from the environment.
    assert url(resource="res", base_url="https://env.openai.azure.com") == (
        "https://res.openai.azure.com/openai/v1/chat/completions"
    )
    assert url(base_url="https://res.cognitiveservices.azure.com/") == (
        "https://res.cognitiveservices.azure.com/openai/v1/chat/completions"
    )
    assert url(base_url="https://r.openai.azure.com", api_version="preview") == (
        "https://r.openai.azure.com/openai/v1/chat/completions?api-version=preview"
    )
    assert url(base_url="https://r.openai.azure.com", api_version="2024-10-21", deployment="my dep") == (
        "https://r.openai.azure.com/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"
    )
    assert (
        url(base_url="https://r.openai.azure.com/openai/v1")
        == "https://r.openai.azure.com/openai/v1/chat/completions"
    )
    assert url(base_url="https://r.openai.azure.com/openai/deployments/d1", api_version="2024-10-21") == (
        "https://r.openai.azure.com/openai/deployments/d1/chat/completions?api-version=2024-10-21"
    )
    with pytest.raises(ConfigurationError, match="api_version"):
        url(base_url="https://r.openai.azure.com/openai/deployments/d1")
    responses = get("azure-responses").build_request(
        model="dep",
        messages=msgs,
        api_key="k",
        base_url="https://r.openai.azure.com",
        api_version="2025-04-01-preview",
    )
    assert responses.url == "https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview"


def test_azure_refuses_to_guess_and_never_shows_the_key() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        stream_chat("azure", model="d", messages=MESSAGES, env={"AZURE_OPENAI_API_KEY": "sekrit-key"})
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_API_KEY") as caught:
        stream_chat(
            "azure", model="d", messages=MESSAGES, env={"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}
        )
    assert "AZURE_OPENAI_AD_TOKEN" in str(caught.value)
    request = get("azure").build_request(model="d", messages=MESSAGES, api_key="sekrit-key", resource="r")
    assert request.redacted_headers()["api-key"] == "<redacted>"
    assert "sekrit-key" not in repr(request.redacted_headers())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_azure_prompt_rejected_by_the_content_filter(transport: str) -> None:
    inner = {
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            "hate": {"filtered": False, "severity": "safe"},
            "jailbreak": {"filtered": True, "detected": True},
        },
    }
    body = {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
            "management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": inner,
        }
    }
    reply = FixtureResponse(body=json.dumps(body).encode(), status=400, content_type="application/json")
    with FixtureServer(reply) as server:
        stream = stream_chat(
            "azure", model="d", messages=MESSAGES, base_url=server.url, transport=transport, timeout=5,
            env={"AZURE_OPENAI_API_KEY": "az-key"},
        )  # fmt: skip
        with pytest.raises(HTTPStatusError) as caught, stream:
            list(stream)
        assert len(server.requests) == 1  # a 400 is not retried
    assert caught.value.status == 400
    assert content_filter_details(caught.value) == inner
    assert "az-key" not in str(caught.value)
    assert content_filter_details(ValueError("x")) is None


# -- Vertex details ----------------------------------------------------------------------------


def test_vertex_urls_and_required_settings() -> None:
    vertex = get("vertex")
    request = vertex.build_request(
        model="gemini-2.5-flash", messages=MESSAGES, api_key="t", project="p", location="europe-west4"
    )
    assert request.url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4"
        "/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    request = vertex.build_request(
        model="models/gemini-2.5-flash", messages=MESSAGES, api_key="t", project="p"
    )
    assert request.url.startswith("https://aiplatform.googleapis.com/v1/projects/p/locations/global/")
    tuned = "projects/p/locations/us-central1/endpoints/123"
    request = vertex.build_request(model=tuned, messages=MESSAGES, api_key="t", location="us-central1")
    assert (
        request.url
        == f"https://us-central1-aiplatform.googleapis.com/v1/{tuned}:streamGenerateContent?alt=sse"
    )
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        vertex.build_request(model="g", messages=MESSAGES, api_key="t")
    with pytest.raises(ConfigurationError, match="GOOGLE_OAUTH_ACCESS_TOKEN"):
        stream_chat("vertex", model="g", messages=MESSAGES, env={"GOOGLE_CLOUD_PROJECT": "p"})
    claude = get("vertex-anthropic")
    with pytest.raises(ConfigurationError, match="CLOUD_ML_REGION"):
        claude.build_request(model="claude-x", messages=MESSAGES, api_key="t", project="p")
    request = claude.build_request(
        model="claude-x", messages=MESSAGES, api_key="t", project="p", region="global"
    )
    assert request.url == (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/anthropic/models/claude-x:streamRawPredict"
    )
    assert "x-api-key" not in request.headers
    assert "anthropic-version" not in request.headers


# -- Bedrock InvokeModel details ----------------------------------------------------------------


def test_bedrock_invoke_bodies() -> None:
    invoke = get("bedrock-invoke")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]  # fmt: skip
    cohere = invoke.build_request(model="cohere.command-r-plus-v1:0", messages=messages, region="us-east-1",
                                  max_tokens=50, temperature=0.3, top_p=0.9).json_body()  # fmt: skip
    assert cohere == {
        "message": "Bye",
        "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello"}],
        "preamble": "Be brief.",
        "max_tokens": 50,
        "temperature": 0.3,
        "p": 0.9,
    }
    mistral = invoke.build_request(
        model="mistral.mixtral-8x7b-instruct-v0:1", messages=messages, region="us-east-1"
    )
    assert mistral.json_body()["prompt"] == "<s>[INST] Be brief.\n\nHi [/INST] Hello</s> [INST] Bye [/INST]"
    claude = invoke.build_request(
        model="anthropic.claude-3-5-haiku-20241022-v1:0", messages=messages, region="eu-west-1",
        tools=[{"name": "f", "parameters": {"type": "object"}}],
        anthropic_beta="token-efficient-tools-2025-02-19",
    ).json_body()  # fmt: skip
    assert claude["anthropic_version"] == "bedrock-2023-05-31"
    assert claude["system"] == "Be brief."
    assert claude["tools"][0]["name"] == "f"
    assert claude["anthropic_beta"] == ["token-efficient-tools-2025-02-19"]
    nova = invoke.build_request(
        model="amazon.nova-lite-v1:0", messages=messages, region="us-east-1", max_tokens=64,
        tools=[{"name": "f", "parameters": {"type": "object"}}],
    ).json_body()  # fmt: skip
    assert nova["schemaVersion"] == "messages-v1"
    assert nova["system"] == [{"text": "Be brief."}]
    assert nova["inferenceConfig"] == {"maxTokens": 64}
    assert nova["toolConfig"]["tools"][0]["toolSpec"]["name"] == "f"
    assert "model" not in nova
    native = invoke.build_request(model="amazon.titan-text-express-v1", messages=messages, region="us-east-1",
                                  native_body={"inputText": "Hi"})  # fmt: skip
    assert native.json_body() == {"inputText": "Hi"}
    assert (
        native.url
        == "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-text-express-v1/invoke-with-response-stream"
    )
    with pytest.raises(ConfigurationError, match="family="):
        invoke.build_request(model="amazon.titan-text-express-v1", messages=messages, region="us-east-1")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        invoke.build_request(model="meta.llama3", messages=messages)
    guarded = invoke.build_request(model="meta.llama3-8b", messages=messages[1:2], region="us-east-1",
                                   guardrail="gr-1", guardrail_version="2", trace="ENABLED")  # fmt: skip
    assert guarded.headers["x-amzn-bedrock-guardrailidentifier"] == "gr-1"
    assert guarded.headers["x-amzn-bedrock-guardrailversion"] == "2"
    assert guarded.headers["x-amzn-bedrock-trace"] == "ENABLED"


def test_bedrock_invoke_needs_credentials_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID"):
        stream_chat(
            "bedrock-invoke", model="meta.llama3-8b", messages=MESSAGES, env={"AWS_REGION": "us-east-1"}
        )


# -- in-band errors and secrets, end to end ----------------------------------------------------


VERTEX_CLAUDE_ENV = {
    "GOOGLE_OAUTH_ACCESS_TOKEN": "t",
    "ANTHROPIC_VERTEX_PROJECT_ID": "p",
    "CLOUD_ML_REGION": "us-east5",
}
ERROR_CASES = {
    "azure": ("azure/chat-error-mid-stream.sse", {"AZURE_OPENAI_API_KEY": "az-key"}, "d", ""),
    "vertex-anthropic": ("vertex-anthropic/error-overloaded.sse", VERTEX_CLAUDE_ENV, "claude-x", "/v1"),
    "bedrock-invoke": ("bedrock-invoke/claude-exception.bin", AWS_ENV, "anthropic.claude-x-v1:0", ""),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("provider", sorted(ERROR_CASES))
def test_in_band_error_raises_after_the_chunks_before_it(provider: str, transport: str) -> None:
    from sansstream.model import ProviderError, TextDelta

    fixture, env, model, suffix = ERROR_CASES[provider]
    content_type = "application/vnd.amazon.eventstream" if fixture.endswith(".bin") else "text/event-stream"
    data = _bytes(fixture)
    with FixtureServer(FixtureResponse(body=data, content_type=content_type)) as server:
        stream = stream_chat(
            provider, model=model, messages=MESSAGES, base_url=server.url + suffix, transport=transport,
            env=env, timeout=5, retry=None,
        )  # fmt: skip
        seen: list[Any] = []
        with pytest.raises(ProviderError) as caught, stream:
            seen.extend(stream)
    assert caught.value.provider == provider
    assert any(isinstance(c, TextDelta) for c in seen)
    assert caught.value.partial is not None
    assert caught.value.partial.text == "".join(c.text for c in seen if isinstance(c, TextDelta))


@pytest.mark.parametrize(
    ("provider", "env", "secret"),
    [
        ("azure", {"AZURE_OPENAI_API_KEY": "az-secret-key-123"}, "az-secret-key-123"),
        ("azure", {"AZURE_OPENAI_AD_TOKEN": "entra-secret-token-456"}, "entra-secret-token-456"),
        (
            "vertex",
            {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret-789", "GOOGLE_CLOUD_PROJECT": "p"},
            "ya29.secret-789",
        ),
        ("bedrock-invoke", {**AWS_ENV, "AWS_SESSION_TOKEN": "session-secret-000"}, "session-secret-000"),
    ],
)
def test_recordings_and_errors_never_hold_the_credential(
    provider: str, env: dict[str, str], secret: str, tmp_path: Any
) -> None:
    # A 401 from the service: the error message, its body and the recording must not show the
    # credential that was sent.
    reply = FixtureResponse(
        body=b'{"error": {"message": "unauthorized"}}', status=401, content_type="application/json"
    )
    record = tmp_path / "rec.json"
    model = "meta.llama3-8b-v1:0" if provider == "bedrock-invoke" else "m"
    suffix = "/v1" if provider == "vertex" else ""
    with FixtureServer(reply) as server:
        stream = stream_chat(
            provider, model=model, messages=MESSAGES, base_url=server.url + suffix, env=env, timeout=5,
            retry=None, record=str(record),
        )  # fmt: skip
        with pytest.raises(HTTPStatusError) as caught, stream:
            list(stream)
        sent = server.requests[0]
    assert secret in "".join(sent.headers.values())  # it was sent...
    assert secret not in str(caught.value)  # ...and shown nowhere
    assert secret not in repr(caught.value)
    assert secret not in record.read_text("utf-8", errors="replace")


def test_bedrock_invoke_refuses_a_region_that_is_not_one_dns_label() -> None:
    provider = get("bedrock-invoke")
    with pytest.raises(ConfigurationError, match="not a valid AWS region"):
        provider.build_request(
            model="anthropic.claude-3-haiku-20240307-v1:0",
            messages=[{"role": "user", "content": "hi"}],
            region="x@attacker.example/",
        )
