"""The provider registry: built-ins, runtime registration, and third-party providers installed
with a ``sansstream.providers`` entry point (simulated by a real ``.dist-info`` directory put on
``sys.path``, which ``importlib.metadata`` discovers exactly as it would an installed wheel)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from sansstream.model import ConfigurationError, TextDelta, UnknownProviderError
from sansstream.providers import (
    Decoder,
    HTTPRequest,
    Message,
    Provider,
    ToolSpec,
    decode_stream,
    get,
    names,
    register,
    unregister,
)
from sansstream.providers import _registry as registry

BUILTINS = [
    "anthropic",
    "bedrock",
    "cohere",
    "gemini",
    "mistral",
    "ollama",
    "openai",
    "openai-responses",
    "slop",
]


def test_builtins_are_listed() -> None:
    assert set(BUILTINS) <= set(names())
    assert names() == sorted(names())


@pytest.mark.parametrize("name", ["openai", "openai-responses", "mistral", "cohere", "slop"])
def test_get_returns_a_new_provider_each_time(name: str) -> None:
    first, second = get(name), get(name)
    assert isinstance(first, Provider)
    assert first.name == name
    assert first is not second
    assert first.decoder() is not first.decoder()
    assert get(first) is first  # a Provider instance passes through


def test_unknown_name_lists_the_registered_names() -> None:
    with pytest.raises(UnknownProviderError) as info:
        get("no-such-provider")
    message = str(info.value)
    assert "no-such-provider" in message
    for name in BUILTINS:
        assert name in message
    assert isinstance(info.value, KeyError)  # also catchable as a lookup failure


class EchoDecoder(Decoder):
    """Every SSE data line is text; ``data: END`` is the terminal marker."""

    provider = "echo"

    def __init__(self) -> None:
        self._done = False

    @property
    def complete(self) -> bool:
        return self._done

    def decode(self, event: Any) -> list[Any]:
        if event.data == "END":
            self._done = True
            return []
        return [TextDelta(event.data)]


class EchoProvider(Provider):
    name = "echo"

    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> HTTPRequest:
        return HTTPRequest.json("POST", base_url or "http://127.0.0.1:1/", {"model": model})

    def decoder(self) -> Decoder:
        return EchoDecoder()


@pytest.fixture
def clean_registry() -> Iterator[None]:
    yield
    for name in ("echo", "openai", "bad-factory", "not-a-provider"):
        unregister(name)


@pytest.mark.usefixtures("clean_registry")
def test_register_a_class_or_a_factory_and_decode_with_it() -> None:
    register("echo", EchoProvider)
    assert "echo" in names()
    chunks = list(decode_stream("echo", [b"data: hi\n\ndata: there\n\ndata: END\n\n"]))
    assert chunks == [TextDelta("hi"), TextDelta("there")]
    register("echo", EchoProvider)
    assert isinstance(get("echo"), EchoProvider)


@pytest.mark.usefixtures("clean_registry")
def test_register_overrides_a_builtin_and_unregister_restores_it() -> None:
    register("openai", EchoProvider)
    assert isinstance(get("openai"), EchoProvider)
    unregister("openai")
    assert get("openai").name == "openai"


@pytest.mark.usefixtures("clean_registry")
def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        register("", EchoProvider)
    with pytest.raises(ConfigurationError):
        register("x", "not callable")  # type: ignore[arg-type]
    register("not-a-provider", object)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"not a sansstream\.providers\.Provider"):
        get("not-a-provider")


# ---- entry points ----------------------------------------------------------------------------


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[str]:
    """A fake installed distribution exposing two providers through entry points: one loads a
    Provider subclass, one a factory function; plus one that shadows a built-in name and one
    whose module does not import."""
    package = tmp_path / "sansstream_plugin_demo"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from sansstream.model import TextDelta
            from sansstream.providers import Decoder, HTTPRequest, Provider

            class _D(Decoder):
                provider = "plugin-class"
                def __init__(self):
                    self.seen_end = False
                @property
                def complete(self):
                    return self.seen_end
                def decode(self, event):
                    if event.value == "end":
                        self.seen_end = True
                        return []
                    return [TextDelta(str(event.value))]

            class PluginProvider(Provider):
                name = "plugin-class"
                framing = "ndjson"
                def build_request(self, *, model, messages, tools=None, api_key=None, base_url=None, **o):
                    return HTTPRequest.json("POST", "http://127.0.0.1:1/", {"model": model})
                def decoder(self):
                    return _D()

            def make_provider():
                provider = PluginProvider()
                provider.name = "plugin-factory"
                return provider
            """
        )
    )
    dist = tmp_path / "sansstream_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sansstream-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[sansstream.providers]\n"
        "plugin-class = sansstream_plugin_demo:PluginProvider\n"
        "plugin-factory = sansstream_plugin_demo:make_provider\n"
        "openai = sansstream_plugin_demo:PluginProvider\n"
        "plugin-broken = sansstream_plugin_demo_missing:Nothing\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield str(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sansstream_plugin_demo", None)


@pytest.mark.usefixtures("installed_plugin")
def test_entry_point_providers_are_found() -> None:
    assert {"plugin-class", "plugin-factory", "plugin-broken"} <= set(names())
    provider = get("plugin-class")
    assert type(provider).__name__ == "PluginProvider"
    assert get("plugin-factory").name == "plugin-factory"
    chunks = list(decode_stream("plugin-class", [b'"a"\n"b"\n"end"\n']))
    assert chunks == [TextDelta("a"), TextDelta("b")]


@pytest.mark.usefixtures("installed_plugin")
def test_entry_points_cannot_shadow_builtins() -> None:
    assert type(get("openai")).__module__ == "sansstream.providers.openai"


@pytest.mark.usefixtures("installed_plugin")
def test_broken_entry_point_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"plugin-broken.*failed to load"):
        get("plugin-broken")


def test_entry_point_disappears_with_its_distribution() -> None:
    # Discovery is not cached: with the plugin off sys.path its names are gone.
    assert "plugin-class" not in names()
    with pytest.raises(UnknownProviderError):
        get("plugin-class")


def test_builtin_table_points_at_modules_that_define_the_class() -> None:
    for name, (module, attr) in registry._BUILTINS.items():
        assert module.startswith("sansstream.providers.")
        assert attr.endswith("Provider"), name
