"""The provider registry: a plain dict of names to factories, plus a ``register()`` function.

Lookup order for ``get(name)``:

1. providers registered at runtime with ``register(name, factory)`` (they win, so a user can
   replace a built-in, e.g. to point ``"openai"`` at a patched class);
2. the built-ins, imported lazily by module path the first time they are asked for (importing
   ``sansstream`` does not import every provider module);
3. third-party providers installed with an entry point in the ``sansstream.providers`` group
   (``[sansstream.providers]\\nmyprov = mypkg.module:MyProvider``). The entry point may load a
   ``Provider`` subclass or any zero-argument callable returning a ``Provider``. An entry point
   cannot shadow a built-in name (installing a package must not silently change what
   ``"openai"`` means); ``register()`` can. Entry points are looked up on every miss, so a
   package installed while the process runs is found.

``get()`` returns a **new** ``Provider`` instance on every call: providers are cheap, and a
fresh instance means no state is shared between streams or threads.

Built-in modules name their class as in ``_BUILTINS``; if that attribute is missing, the
module's one ``Provider`` subclass whose ``name`` matches is used.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..model import ConfigurationError, UnknownProviderError
from ._base import Provider

if TYPE_CHECKING:
    import importlib.metadata

__all__ = ["get", "register", "unregister", "names", "servable", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "sansstream.providers"

ProviderFactory = Callable[[], Provider]

# name -> (module path, class name)
_BUILTINS: dict[str, tuple[str, str]] = {
    "openai": ("sansstream.providers.openai", "OpenAIProvider"),
    "openai-responses": ("sansstream.providers.openai_responses", "OpenAIResponsesProvider"),
    "anthropic": ("sansstream.providers.anthropic", "AnthropicProvider"),
    "gemini": ("sansstream.providers.gemini", "GeminiProvider"),
    "ollama": ("sansstream.providers.ollama", "OllamaProvider"),
    "mistral": ("sansstream.providers.mistral", "MistralProvider"),
    "cohere": ("sansstream.providers.cohere", "CohereProvider"),
    "bedrock": ("sansstream.providers.bedrock", "BedrockProvider"),
    "slop": ("sansstream.providers.slop", "SlopProvider"),
    # Hosted variants: the same wire formats reached through a cloud.
    "azure": ("sansstream.providers.azure", "AzureOpenAIProvider"),
    "azure-responses": ("sansstream.providers.azure", "AzureResponsesProvider"),
    "vertex": ("sansstream.providers.vertex", "VertexGeminiProvider"),
    "vertex-anthropic": ("sansstream.providers.vertex", "VertexAnthropicProvider"),
    "bedrock-invoke": ("sansstream.providers.bedrock_invoke", "BedrockInvokeProvider"),
    # OpenAI-compatible services by name (sansstream.providers.presets).
    "groq": ("sansstream.providers.presets", "GroqProvider"),
    "openrouter": ("sansstream.providers.presets", "OpenRouterProvider"),
    "deepseek": ("sansstream.providers.presets", "DeepSeekProvider"),
    "xai": ("sansstream.providers.presets", "XAIProvider"),
    "together": ("sansstream.providers.presets", "TogetherProvider"),
    "fireworks": ("sansstream.providers.presets", "FireworksProvider"),
    "perplexity": ("sansstream.providers.presets", "PerplexityProvider"),
    "cerebras": ("sansstream.providers.presets", "CerebrasProvider"),
    "huggingface": ("sansstream.providers.presets", "HuggingFaceProvider"),
    "deepinfra": ("sansstream.providers.presets", "DeepInfraProvider"),
    "nvidia": ("sansstream.providers.presets", "NvidiaProvider"),
    "lmstudio": ("sansstream.providers.presets", "LMStudioProvider"),
    "vllm": ("sansstream.providers.presets", "VLLMProvider"),
    "llamacpp": ("sansstream.providers.presets", "LlamaCppProvider"),
}

# Providers registered at runtime (and built-ins once resolved are not cached here, so that
# ``unregister`` of a user override brings the built-in back).
_registered: dict[str, ProviderFactory] = {}


def register(name: str, factory: ProviderFactory | type[Provider]) -> None:
    """Register ``factory`` (a ``Provider`` subclass or a zero-argument callable returning a
    ``Provider``) under ``name``. Replaces any provider of that name, built-ins included."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a provider name must be a non-empty string, not {name!r}")
    if not callable(factory):
        raise ConfigurationError(f"the factory for provider {name!r} must be callable, not {factory!r}")
    _registered[name] = factory


def unregister(name: str) -> None:
    """Remove a provider registered with ``register`` (a built-in of that name comes back)."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    # Imported here, on the first miss: importlib.metadata pulls in email, zipfile, socket and
    # threading, which importing the provider layer must not.
    import importlib.metadata

    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)
    return found


def names() -> list[str]:
    """Every provider name that ``get`` accepts, sorted."""
    return sorted({*_BUILTINS, *_registered, *_entry_points()})


def servable() -> list[str]:
    """The providers that have a wire encoder (``Provider.encoder_class``), so that the server
    helpers and ``sansstream demo`` can speak their format, sorted. Providers that fail to load
    are left out (``get()`` reports why)."""
    found = []
    for name in names():
        try:
            if get(name).encoder_class is not None:
                found.append(name)
        except ConfigurationError:
            continue
    return found


def _builtin_class(name: str, module_path: str, attr: str) -> Any:
    module: ModuleType = importlib.import_module(module_path)
    cls = getattr(module, attr, None)
    if cls is None:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, Provider)
                and value.__module__ == module.__name__
                and value.name == name
            ):
                cls = value
                break
    if cls is None:
        raise ConfigurationError(
            f"the built-in provider {name!r} is not available in this build ({module_path} "
            f"defines no {attr}); use another provider or register your own"
        )
    return cls


def _instantiate(name: str, factory: Any) -> Provider:
    try:
        provider = factory()
    except TypeError as exc:
        raise ConfigurationError(
            f"the factory for provider {name!r} cannot be called without arguments: {exc}"
        ) from exc
    if not isinstance(provider, Provider):
        raise ConfigurationError(
            f"the factory for provider {name!r} returned {type(provider).__name__}, not a "
            "sansstream.providers.Provider"
        )
    return provider


def get(name: str | Provider) -> Provider:
    """A new ``Provider`` for ``name`` (a ``Provider`` instance is returned unchanged).
    Raises ``UnknownProviderError`` (listing the registered names) for an unknown name."""
    if isinstance(name, Provider):
        return name
    factory = _registered.get(name)
    if factory is not None:
        return _instantiate(name, factory)
    builtin = _BUILTINS.get(name)
    if builtin is not None:
        return _instantiate(name, _builtin_class(name, *builtin))
    ep = _entry_points().get(name)
    if ep is not None:
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken third-party package must not look like our bug
            raise ConfigurationError(
                f"the provider {name!r} is installed (entry point {ep.value!r}) but failed to load: {exc!r}"
            ) from exc
        return _instantiate(name, loaded)
    raise UnknownProviderError(name, names())
