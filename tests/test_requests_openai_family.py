"""Request builders of the OpenAI family, Mistral and Cohere: a chat with a system prompt, a
tool, an assistant tool call and a tool result becomes each API's documented JSON shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sansstream.model import LocalProtocolError
from sansstream.providers import get

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}],
    },
    {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "18C, sunny"},
]
TOOLS: list[dict[str, Any]] = [
    {
        "name": "weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
PARAMS = TOOLS[0]["parameters"]


def test_openai_chat_completions_shape() -> None:
    request = get("openai").build_request(
        model="gpt-4o", messages=MESSAGES, tools=TOOLS, api_key="sk-test", max_tokens=50, temperature=0.2,
        top_p=0.9, stop=["\n\n"], reasoning_effort="low", n=2, extra_body={"seed": 7, "temperature": 0.1},
    )  # fmt: skip
    assert request.method == "POST"
    assert request.url == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"] == "application/json"
    assert request.redacted_headers()["authorization"] == "<redacted>"
    assert request.json_body() == {
        "model": "gpt-4o",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "weather", "description": "Current weather", "parameters": PARAMS},
            }
        ],
        "max_tokens": 50,
        "temperature": 0.1,  # extra_body is merged last
        "top_p": 0.9,
        "stop": ["\n\n"],
        "reasoning_effort": "low",
        "n": 2,
        "seed": 7,
    }


def test_openai_compatible_base_url_and_no_key() -> None:
    request = get("openai").build_request(
        model="llama", messages=MESSAGES[1:2], base_url="http://127.0.0.1:8080/v1/", include_usage=False
    )
    assert request.url == "http://127.0.0.1:8080/v1/chat/completions"
    assert "authorization" not in request.headers
    body = request.json_body()
    assert "stream_options" not in body
    assert "tools" not in body


def test_openai_accepts_openai_form_tools_and_string_arguments() -> None:
    tool = {"type": "function", "function": {"name": "weather", "parameters": PARAMS, "strict": True}}
    messages = [
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "weather", "arguments": '{"city": "X"}'}]}
    ]
    body = get("openai").build_request(model="m", messages=messages, tools=[tool]).json_body()
    assert body["tools"] == [
        {"type": "function", "function": {"name": "weather", "parameters": PARAMS, "strict": True}}
    ]
    assert body["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"city": "X"}'


def test_responses_shape() -> None:
    request = get("openai-responses").build_request(
        model="gpt-5", messages=MESSAGES, tools=TOOLS, api_key="sk-test", max_tokens=100,
        reasoning_effort="medium", reasoning_summary="auto",
    )  # fmt: skip
    assert request.url == "https://api.openai.com/v1/responses"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json_body() == {
        "model": "gpt-5",
        "stream": True,
        "instructions": "You are terse.",
        "input": [
            {"type": "message", "role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "weather",
                "arguments": '{"city":"Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "18C, sunny"},
        ],
        "tools": [
            {"type": "function", "name": "weather", "description": "Current weather", "parameters": PARAMS}
        ],
        "max_output_tokens": 100,
        "reasoning": {"effort": "medium", "summary": "auto"},
    }


def test_mistral_shape() -> None:
    request = get("mistral").build_request(model="mistral-small", messages=MESSAGES, tools=TOOLS, api_key="k")
    assert request.url == "https://api.mistral.ai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    body = request.json_body()
    assert body["stream"] is True
    assert "stream_options" not in body  # Mistral always reports usage
    assert body["messages"][2]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}
    ]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"}
    assert body["tools"][0]["function"]["name"] == "weather"


def test_cohere_v2_shape() -> None:
    request = get("cohere").build_request(
        model="command-r",
        messages=MESSAGES,
        tools=TOOLS,
        api_key="co-key",
        top_p=0.5,
        stop="END",
        max_tokens=9,
    )
    assert request.url == "https://api.cohere.com/v2/chat"
    assert request.headers["authorization"] == "Bearer co-key"
    assert request.json_body() == {
        "model": "command-r",
        "stream": True,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "weather", "description": "Current weather", "parameters": PARAMS},
            }
        ],
        "p": 0.5,
        "stop_sequences": ["END"],
        "max_tokens": 9,
    }


@pytest.mark.parametrize(
    ("name", "env", "expected"),
    [
        (
            "openai",
            {"OPENAI_API_KEY": "a", "OPENAI_BASE_URL": "http://x/v1"},
            {"api_key": "a", "base_url": "http://x/v1"},
        ),
        ("openai-responses", {"OPENAI_API_KEY": "a"}, {"api_key": "a"}),
        ("mistral", {"MISTRAL_API_KEY": "m", "OPENAI_BASE_URL": "http://x"}, {"api_key": "m"}),
        ("cohere", {"COHERE_API_KEY": "c2"}, {"api_key": "c2"}),
        ("cohere", {"CO_API_KEY": "c1", "COHERE_API_KEY": "c2"}, {"api_key": "c1"}),
        ("slop", {"SLOP_BASE_URL": "http://s"}, {"base_url": "http://s"}),
    ],
)
def test_environment_defaults(name: str, env: dict[str, str], expected: dict[str, str]) -> None:
    assert get(name).defaults_from_env(env) == expected


@pytest.mark.parametrize("name", ["openai", "openai-responses", "mistral", "cohere"])
def test_bad_messages_are_refused(name: str) -> None:
    provider = get(name)
    with pytest.raises(LocalProtocolError, match="role"):
        provider.build_request(model="m", messages=[{"role": "wizard", "content": "x"}])
    with pytest.raises(LocalProtocolError, match="tool_call_id"):
        provider.build_request(model="m", messages=[{"role": "tool", "content": "x"}])
    with pytest.raises(LocalProtocolError, match="name"):
        provider.build_request(model="m", messages=MESSAGES[1:2], tools=[{"description": "no name"}])


@pytest.mark.parametrize("name", ["openai", "openai-responses", "mistral", "cohere", "slop"])
def test_body_is_compact_utf8_json(name: str) -> None:
    request = get(name).build_request(
        model="m", messages=[{"role": "user", "content": "héllo"}], base_url="http://127.0.0.1:1/x"
    )
    assert request.body is not None
    assert "héllo".encode() in request.body
    assert json.loads(request.body)["stream"] is True
