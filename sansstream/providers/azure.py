"""Azure OpenAI: Chat Completions (``azure``) and Responses (``azure-responses``).

The wire format is OpenAI's (``sansstream.providers.openai`` / ``openai_responses``); what
Azure changes is where the request goes, how it is authenticated, and what it adds to the
stream.

**URLs.** Two API surfaces, chosen by ``api_version``:

- the **v1 API** (no ``api_version``, or ``"v1"``; ``"preview"`` / ``"latest"`` add
  ``?api-version=…``): ``{endpoint}/openai/v1/chat/completions`` and
  ``{endpoint}/openai/v1/responses``, with the *deployment name* as the body's ``model``;
- the **dated API** (``api_version="2024-10-21"`` and the like):
  ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`` (the deployment
  defaults to ``model``) and ``{endpoint}/openai/responses?api-version=…``.

``endpoint`` is the resource URL (``https://{resource}.openai.azure.com``, or
``.cognitiveservices.azure.com`` / ``.services.ai.azure.com``): ``resource="name"``, else
``base_url``, else ``AZURE_OPENAI_ENDPOINT``. A ``base_url`` that already ends in
``/openai/v1`` or ``/openai/deployments/{name}`` is used as the API root.

**Auth.** An API key goes in the ``api-key`` header (``api_key=`` or ``AZURE_OPENAI_API_KEY``);
a Microsoft Entra ID access token goes in ``Authorization: Bearer`` (``azure_ad_token=`` or
``AZURE_OPENAI_AD_TOKEN``). When both are present the token is used, as the openai SDK's
``AzureOpenAI`` client does. ``OPENAI_API_VERSION`` gives the default ``api_version`` (the
same variables that client reads). Getting a token (``DefaultAzureCredential``, ``az account
get-access-token --resource https://cognitiveservices.azure.com``) is left to the caller: no
Azure SDK is imported.

**Content filtering.** Azure runs its filters beside the model and reports them in the stream:
a first chunk with ``"choices": []`` and ``prompt_filter_results`` (one entry per prompt), and
``content_filter_results`` on choices (per buffered chunk by default; with the asynchronous
filter, annotation-only chunks that also carry ``content_filter_offsets``). ``AzureDecoder``
delivers them as ``ToolResult`` chunks: ``kind="prompt_filter"`` for each prompt's results,
``kind="content_filter"`` for a choice's results *when they say something*: a category
``filtered`` or ``detected``, an ``error`` (the filter did not run: ``content_filter_error``),
or an asynchronous annotation (``content_filter_offsets``). The all-clear results Azure attaches
to ordinary chunks are not repeated as chunks (they stay in each chunk's ``raw``). Output that
the filter stops ends with ``finish_reason: "content_filter"`` (→ ``Finish(reason=
"content_filter")``). A prompt the filter rejects is an HTTP 400 before any stream, with
``error.code == "content_filter"`` and ``error.innererror`` (``code:
"ResponsibleAIPolicyViolation"``, ``content_filter_result``): it surfaces as
``HTTPStatusError``, and ``content_filter_details(exc)`` returns the ``innererror`` object.
Mid-stream errors are OpenAI's ``data: {"error": …}``.

Sources: the openai SDK's ``lib/azure.py`` (openai/openai-python: deployment-path rewriting,
``api-key`` vs ``Authorization`` headers, the environment variables);
learn.microsoft.com/azure/foundry/openai/api-version-lifecycle (the v1 API, Entra ID);
learn.microsoft.com/azure/ai-services/openai/concepts/content-filter and
…/concepts/content-streaming (annotations, asynchronous filter, ``finish_reason:
content_filter``, the 400 ``content_filter`` error); the ``innerErrorCode`` schema
(``ResponsibleAIPolicyViolation``) of the Azure OpenAI inference spec.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from ..model import Chunk, ConfigurationError, HTTPStatusError, ToolResult
from ._base import Decoder, HTTPRequest, Message, ToolSpec
from ._hosted import split_headers, with_query
from .openai import OpenAIDecoder, OpenAIProvider
from .openai_responses import OpenAIResponsesDecoder, OpenAIResponsesProvider
from .presets import CHAT_OPTIONS

__all__ = [
    "AzureOpenAIProvider",
    "AzureResponsesProvider",
    "AzureDecoder",
    "content_filter_details",
    "AZURE_OPTIONS",
]

KEY_ENV = "AZURE_OPENAI_API_KEY"
TOKEN_ENV = "AZURE_OPENAI_AD_TOKEN"
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
VERSION_ENV = "OPENAI_API_VERSION"

AZURE_OPTIONS = frozenset({"deployment", "api_version", "azure_ad_token", "resource"})
"""Options every Azure builder knows besides the API's own parameters."""

_V1_VERSIONS = frozenset({"v1", "preview", "latest"})


def _notable(results: Any) -> bool:
    """Whether a ``content_filter_results`` object says more than "all clear"."""
    if not isinstance(results, Mapping) or not results:
        return False
    if "error" in results:
        return True
    for value in results.values():
        if isinstance(value, Mapping) and (value.get("filtered") is True or value.get("detected") is True):
            return True
        # custom blocklists: a list of {"filtered", "id"}
        if isinstance(value, list) and any(
            isinstance(v, Mapping) and v.get("filtered") is True for v in value
        ):
            return True
    return False


class AzureDecoder(OpenAIDecoder):
    """``OpenAIDecoder`` plus Azure's content-filter annotations (see the module docstring)."""

    provider = "azure"

    def decode_payload(self, obj: Any) -> list[Chunk]:
        out = super().decode_payload(obj)
        if not isinstance(obj, Mapping):
            return out
        prompts = obj.get("prompt_filter_results") or obj.get("prompt_annotations")
        if isinstance(prompts, list):
            for entry in prompts:
                if isinstance(entry, Mapping):
                    out.append(
                        ToolResult(
                            tool_call_id=None,
                            kind="prompt_filter",
                            content=entry.get("content_filter_results"),
                            index=_int_or_none(entry.get("prompt_index")),
                            raw=entry,
                        )
                    )
        choices = obj.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if not isinstance(choice, Mapping):
                    continue
                results = choice.get("content_filter_results")
                offsets = choice.get("content_filter_offsets")
                if _notable(results) or (isinstance(offsets, Mapping) and results):
                    index = choice.get("index")
                    out.append(
                        ToolResult(
                            tool_call_id=None,
                            kind="content_filter",
                            content=results,
                            index=index if isinstance(index, int) else position,
                            raw=choice,
                        )
                    )
        return out


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def content_filter_details(error: BaseException) -> dict[str, Any] | None:
    """The ``innererror`` of an Azure content-filter rejection (HTTP 400, ``error.code ==
    "content_filter"``), e.g. ``{"code": "ResponsibleAIPolicyViolation",
    "content_filter_result": {"hate": {"filtered": True, "severity": "high"}, ...}}``; ``None``
    for any other error."""
    if not isinstance(error, HTTPStatusError) or not error.body:
        return None
    try:
        payload = json.loads(error.body)
    except (ValueError, RecursionError):
        return None
    body = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(body, dict) or body.get("code") != "content_filter":
        return None
    inner = body.get("innererror")
    return dict(inner) if isinstance(inner, dict) else {}


class _AzureMixin:
    """Endpoint, API version and auth handling shared by both Azure providers."""

    name: str
    # Whether the dated API puts this route under /deployments/{name} (chat does, responses not).
    deployment_scoped: ClassVar[bool]

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        """``api_key`` from ``AZURE_OPENAI_API_KEY``, ``azure_ad_token`` from
        ``AZURE_OPENAI_AD_TOKEN``, ``base_url`` from ``AZURE_OPENAI_ENDPOINT``, ``api_version``
        from ``OPENAI_API_VERSION``."""
        out: dict[str, Any] = {}
        for var, option in (
            (KEY_ENV, "api_key"),
            (TOKEN_ENV, "azure_ad_token"),
            (ENDPOINT_ENV, "base_url"),
            (VERSION_ENV, "api_version"),
        ):
            if env.get(var):
                out[option] = env[var]
        return out

    def azure_target(
        self, model: str, base_url: str | None, options: dict[str, Any]
    ) -> tuple[str, str | None, str]:
        """``(root, query api-version or None, body model)`` for this request; pops the Azure
        options from ``options``."""
        deployment = options.pop("deployment", None) or model
        version = options.pop("api_version", None)
        resource = options.pop("resource", None)
        if resource:  # a resource named in the call wins over AZURE_OPENAI_ENDPOINT
            base_url = f"https://{quote(str(resource), safe='-')}.openai.azure.com"
        if not base_url:
            raise ConfigurationError(
                f"{self.name} needs the resource endpoint: pass base_url="
                "'https://<resource>.openai.azure.com' (or resource='<resource>'), or set "
                f"{ENDPOINT_ENV}. Nothing was sent."
            )
        base = base_url.rstrip("/")
        path = urlsplit(base).path
        version = str(version) if version else None
        v1 = version is None or version.lower() in _V1_VERSIONS
        query = None if version is None or version.lower() == "v1" else version
        if path.endswith("/openai/v1"):
            return base, query, str(deployment)
        if "/openai/deployments/" in path:
            if v1:
                raise ConfigurationError(
                    f"{self.name}: a /openai/deployments/... URL belongs to the dated API and needs "
                    f"api_version='2024-10-21' (or another dated version; {VERSION_ENV} also sets it); "
                    "for the v1 API give the resource endpoint instead. Nothing was sent."
                )
            return base, version, str(deployment)
        openai_root = base if path.endswith("/openai") else base + "/openai"
        if v1:
            return openai_root + "/v1", query, str(deployment)
        if self.deployment_scoped:
            return f"{openai_root}/deployments/{quote(str(deployment), safe='-._~')}", version, model
        return openai_root, version, str(deployment)

    def azure_headers(self, api_key: str | None, options: dict[str, Any]) -> dict[str, str]:
        """The auth header (token wins over key), then ``extra_headers``; pops both options."""
        token = options.pop("azure_ad_token", None)
        headers: dict[str, str] = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        elif api_key:
            headers["api-key"] = api_key
        else:
            raise ConfigurationError(
                f"no credentials for provider {self.name!r}: set {KEY_ENV} (an API key, sent as "
                f"the api-key header) or {TOKEN_ENV} (a Microsoft Entra ID token), or pass "
                "api_key=... or azure_ad_token=... to stream_chat(). Nothing was sent."
            )
        headers.update(split_headers(options))
        return headers

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
        """The provider's own request (Chat Completions or Responses, from the class this mixes
        into) sent to the Azure deployment or v1 route, with Azure's auth header and
        ``api-version``. Options as for that provider, plus ``deployment`` (default: ``model``),
        ``api_version``, ``azure_ad_token`` and ``resource``."""
        opts = dict(options)
        root, query, body_model = self.azure_target(model, base_url, opts)
        headers = self.azure_headers(api_key, opts)
        request = super().build_request(  # type: ignore[misc]
            model=body_model, messages=messages, tools=tools, api_key=None, base_url=root,
            extra_headers=headers, **opts,
        )  # fmt: skip
        url = with_query(request.url, **{"api-version": query}) if query else request.url
        return HTTPRequest(request.method, url, request.headers, request.body)


class AzureOpenAIProvider(_AzureMixin, OpenAIProvider):
    """``azure``: Azure OpenAI Chat Completions (v1 or dated API; see the module docstring)."""

    name = "azure"
    default_base_url = ""
    api_key_env = ()  # an API key *or* a token: checked by build_request
    base_url_env = None
    deployment_scoped = True
    accepted_options: ClassVar[frozenset[str] | None] = CHAT_OPTIONS | AZURE_OPTIONS

    def decoder(self) -> Decoder:
        return AzureDecoder()


class AzureResponsesDecoder(OpenAIResponsesDecoder):
    provider = "azure-responses"


class AzureResponsesProvider(_AzureMixin, OpenAIResponsesProvider):
    """``azure-responses``: the Responses API on Azure OpenAI (``/openai/v1/responses``, or
    ``/openai/responses?api-version=…`` on the dated API)."""

    name = "azure-responses"
    default_base_url = ""
    api_key_env = ()
    base_url_env = None
    deployment_scoped = False
    accepted_options: ClassVar[frozenset[str] | None] = (
        OpenAIResponsesProvider.accepted_options or frozenset()
    ) | AZURE_OPTIONS

    def decoder(self) -> Decoder:
        return AzureResponsesDecoder()
