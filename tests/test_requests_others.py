"""Request builders of the Anthropic, Gemini, Ollama and Bedrock providers: a chat with a system
prompt, a tool, an assistant tool call and its result becomes each API's documented shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansstream.model import ConfigurationError, LocalProtocolError
from sansstream.providers import get
from sansstream.providers.anthropic import AnthropicProvider
from sansstream.providers.bedrock import BedrockProvider
from sansstream.providers.gemini import GeminiProvider
from sansstream.providers.ollama import OllamaProvider, normalize_ollama_host

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TOOLS = [{"name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA}]
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
            {"id": "call_2", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "18C and sunny"},
    {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": "24C"},
]
# The same conversation in the OpenAI shapes, which every builder accepts too.
OPENAI_TOOLS = [{"type": "function", "function": TOOLS[0]}]
OPENAI_MESSAGES: list[dict[str, Any]] = [
    *MESSAGES[:2],
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
            },
        ],
    },
    *MESSAGES[3:],
]


def test_registry_serves_these_providers() -> None:
    assert isinstance(get("anthropic"), AnthropicProvider)
    assert isinstance(get("gemini"), GeminiProvider)
    assert isinstance(get("ollama"), OllamaProvider)
    assert isinstance(get("bedrock"), BedrockProvider)
    assert (get("gemini").framing, get("ollama").framing, get("bedrock").framing) == (
        "sse",
        "ndjson",
        "eventstream",
    )


# -- Anthropic -----------------------------------------------------------------------------

ANTHROPIC_BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 4096,
    "messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C and sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"},
            ],
        },
    ],
    "system": "You are terse.",
    "tools": [{"name": "get_weather", "description": "Weather for a city", "input_schema": SCHEMA}],
    "stream": True,
}


@pytest.mark.parametrize(
    ("messages", "tools"), [(MESSAGES, TOOLS), (OPENAI_MESSAGES, OPENAI_TOOLS)], ids=["common", "openai"]
)
def test_anthropic_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> None:
    request = AnthropicProvider().build_request(
        model="claude-sonnet-4-5", messages=messages, tools=tools, api_key="sk-ant"
    )
    assert request.method == "POST"
    assert request.url == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert request.json_body() == ANTHROPIC_BODY
    assert request.redacted_headers()["x-api-key"] == "<redacted>"


def test_anthropic_options() -> None:
    request = AnthropicProvider().build_request(
        model="claude",
        messages=[{"role": "user", "content": "hi"}],
        base_url="http://127.0.0.1:8080/",
        max_tokens=2000,
        temperature=0.2,
        thinking_budget=1500,
        stop="END",
        extra_body={"metadata": {"user_id": "u1"}},
    )
    assert request.url == "http://127.0.0.1:8080/v1/messages"
    body = request.json_body()
    assert body["max_tokens"] == 2000
    assert body["temperature"] == 0.2
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1500}
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u1"}
    assert "x-api-key" not in request.headers
    raw = {"type": "adaptive"}
    assert (
        AnthropicProvider().build_request(model="c", messages=[], thinking=raw).json_body()["thinking"] == raw
    )


def test_anthropic_env() -> None:
    provider = AnthropicProvider()
    assert provider.defaults_from_env({"ANTHROPIC_API_KEY": "k"}) == {"api_key": "k"}
    with pytest.raises(LocalProtocolError, match="role"):
        provider.build_request(model="c", messages=[{"role": "developer", "content": "x"}])


# -- Gemini --------------------------------------------------------------------------------

GEMINI_BODY = {
    "contents": [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "18C and sunny"}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "24C"}}},
            ],
        },
    ],
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "tools": [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA}
            ]
        }
    ],
}


@pytest.mark.parametrize(
    ("messages", "tools"), [(MESSAGES, TOOLS), (OPENAI_MESSAGES, OPENAI_TOOLS)], ids=["common", "openai"]
)
def test_gemini_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> None:
    request = GeminiProvider().build_request(
        model="gemini-2.5-flash", messages=messages, tools=tools, api_key="AIza"
    )
    assert request.method == "POST"
    assert request.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == "AIza"
    assert request.json_body() == GEMINI_BODY


def test_gemini_options_and_names() -> None:
    messages: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c9", "name": "f", "arguments": {}, "thought_signature": "sig"}],
        },
        {"role": "tool", "tool_call_id": "c9", "content": '{"ok": true}'},  # name found from the call id
    ]
    request = GeminiProvider().build_request(
        model="models/gemini-2.5-pro",
        messages=messages,
        max_tokens=256,
        temperature=0.5,
        thinking_budget=1024,
        stop=["x"],
    )
    assert request.url.endswith("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    body = request.json_body()
    assert body["contents"] == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"ok": True}}}]},
    ]
    assert body["generationConfig"] == {
        "maxOutputTokens": 256,
        "temperature": 0.5,
        "stopSequences": ["x"],
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }
    with pytest.raises(LocalProtocolError, match="name"):
        GeminiProvider().build_request(
            model="g", messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}]
        )


def test_gemini_env_key_order() -> None:
    provider = GeminiProvider()
    assert provider.defaults_from_env({"GOOGLE_API_KEY": "g", "GEMINI_API_KEY": "m"}) == {"api_key": "m"}
    assert provider.defaults_from_env({"GOOGLE_API_KEY": "g"}) == {"api_key": "g"}
    assert provider.defaults_from_env({}) == {}


# -- Ollama --------------------------------------------------------------------------------

OLLAMA_BODY = {
    "model": "llama3.2",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
            ],
        },
        {"role": "tool", "content": "18C and sunny", "tool_name": "get_weather"},
        {"role": "tool", "content": "24C", "tool_name": "get_weather"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather for a city", "parameters": SCHEMA},
        }
    ],
    "options": {"temperature": 0.1, "num_predict": 64},
    "think": True,
    "stream": True,
}


@pytest.mark.parametrize(
    ("messages", "tools"), [(MESSAGES, TOOLS), (OPENAI_MESSAGES, OPENAI_TOOLS)], ids=["common", "openai"]
)
def test_ollama_chat_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> None:
    request = OllamaProvider().build_request(
        model="llama3.2", messages=messages, tools=tools, temperature=0.1, max_tokens=64, think=True
    )
    assert request.method == "POST"
    assert request.url == "http://localhost:11434/api/chat"
    assert "authorization" not in request.headers
    assert request.json_body() == OLLAMA_BODY


def test_ollama_generate_request() -> None:
    request = OllamaProvider().build_request(
        model="qwen3",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Describe a rabbit."},
        ],
        endpoint="generate",
        base_url="ollama.internal",
    )
    assert request.url == "http://ollama.internal:11434/api/generate"
    assert request.json_body() == {
        "model": "qwen3",
        "prompt": "Describe a rabbit.",
        "system": "Be brief.",
        "stream": True,
    }
    with pytest.raises(LocalProtocolError, match="one user message"):
        OllamaProvider().build_request(model="q", messages=MESSAGES, endpoint="generate")
    with pytest.raises(LocalProtocolError, match="endpoint"):
        OllamaProvider().build_request(model="q", messages=[], endpoint="embed")


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("0.0.0.0:11435", "http://0.0.0.0:11435"),
        ("http://gpu-box", "http://gpu-box:11434"),
        ("https://ollama.example.com", "https://ollama.example.com"),
        ("https://ollama.example.com:8443/", "https://ollama.example.com:8443"),
        ("[::1]", "http://[::1]:11434"),
        ("http://proxy:80/ollama/", "http://proxy:80/ollama"),
    ],
)
def test_ollama_host_normalisation(host: str, base: str) -> None:
    assert normalize_ollama_host(host) == base
    assert OllamaProvider().defaults_from_env({"OLLAMA_HOST": host}) == {"base_url": base}


def test_ollama_api_key_for_the_hosted_api() -> None:
    provider = OllamaProvider()
    options = provider.defaults_from_env({"OLLAMA_API_KEY": "ok"})
    assert options == {"api_key": "ok"}
    request = provider.build_request(model="m", messages=[], base_url="https://ollama.com", **options)
    assert request.url == "https://ollama.com/api/chat"
    assert request.headers["authorization"] == "Bearer ok"


# -- Bedrock -------------------------------------------------------------------------------

BEDROCK_BODY = {
    "messages": [
        {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C and sunny"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "24C"}]}},
            ],
        },
    ],
    "system": [{"text": "You are terse."}],
    "inferenceConfig": {"maxTokens": 512, "temperature": 0.3},
    "toolConfig": {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "inputSchema": {"json": SCHEMA},
                }
            }
        ]
    },
}


@pytest.mark.parametrize(
    ("messages", "tools"), [(MESSAGES, TOOLS), (OPENAI_MESSAGES, OPENAI_TOOLS)], ids=["common", "openai"]
)
def test_bedrock_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> None:
    request = BedrockProvider().build_request(
        model="anthropic.claude-3-5-sonnet-20240620-v1:0",
        messages=messages,
        tools=tools,
        region="us-east-1",
        max_tokens=512,
        temperature=0.3,
    )
    assert request.method == "POST"
    assert request.url == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/vnd.amazon.eventstream"
    assert "authorization" not in request.headers  # sign() adds SigV4
    assert request.json_body() == BEDROCK_BODY


def test_bedrock_model_arn_is_one_path_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-v1:0"
    request = BedrockProvider().build_request(model=arn, messages=[], region="us-east-1")
    path = request.url.split("amazonaws.com", 1)[1]
    assert path.count("/") == 3  # /model/<one segment>/converse-stream
    assert "%2F" in path


def test_bedrock_region_and_env() -> None:
    provider = BedrockProvider()
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        provider.build_request(model="m", messages=[])
    assert provider.defaults_from_env({"AWS_DEFAULT_REGION": "eu-central-1"}) == {"region": "eu-central-1"}
    assert provider.defaults_from_env({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-central-1"}) == {
        "region": "us-west-2"
    }
    options = provider.defaults_from_env({"AWS_REGION": "us-west-2"})
    request = provider.build_request(model="m", messages=[{"role": "user", "content": "hi"}], **options)
    assert request.url.startswith("https://bedrock-runtime.us-west-2.amazonaws.com/model/m/")
    body = provider.build_request(
        model="m",
        messages=[],
        region="r",
        thinking_budget=2048,
        stop="STOP",
        extra_body={"performanceConfig": {"latency": "optimized"}},
    ).json_body()
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert body["inferenceConfig"] == {"stopSequences": ["STOP"]}
    assert body["performanceConfig"] == {"latency": "optimized"}


@pytest.mark.parametrize(
    "provider", [AnthropicProvider(), GeminiProvider(), OllamaProvider(), BedrockProvider()]
)
def test_bodies_are_compact_utf8_json(provider: Any) -> None:
    request = provider.build_request(
        model="m", messages=[{"role": "user", "content": "héllo ✓"}], region="us-east-1"
    )
    assert request.body is not None
    assert "héllo ✓".encode() in request.body
    assert json.loads(request.body) == request.json_body()
