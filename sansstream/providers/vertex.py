"""Google Vertex AI: Gemini (``vertex``) and Anthropic's Claude models (``vertex-anthropic``).

Both speak the wire formats sansstream already decodes (``gemini`` and ``anthropic``); Vertex
changes the URL, the authentication and, for Claude, two fields of the body.

**Gemini** (``vertex``): ``POST {root}/projects/{project}/locations/{location}/publishers/
google/models/{model}:streamGenerateContent?alt=sse``. The body is the Gemini API's
(``contents``, ``systemInstruction``, ``tools``, ``generationConfig``); the stream is the same
SSE of ``GenerateContentResponse`` objects, decoded by ``GeminiDecoder``. A ``model`` that is
already a resource name (``projects/…/endpoints/…`` for a tuned model) is used as the path.

**Claude** (``vertex-anthropic``): ``POST {root}/projects/{project}/locations/{location}/
publishers/anthropic/models/{model}:streamRawPredict``. The body is the Messages API body
*without* ``model`` (it is in the URL) and *with* ``"anthropic_version": "vertex-2023-10-16"``;
``stream: true`` stays. The stream is Anthropic's SSE, decoded by ``AnthropicDecoder``.

**Where.** ``root`` is ``https://{location}-aiplatform.googleapis.com/v1``, or
``https://aiplatform.googleapis.com/v1`` for ``location="global"`` (the global endpoint);
``base_url`` replaces it (include the version, e.g. ``…/v1beta1``). ``project`` and
``location`` (alias ``region``) are options, else from the environment: ``GOOGLE_CLOUD_PROJECT``
and ``GOOGLE_CLOUD_LOCATION`` (the google-genai SDK's variables) and, for Claude, first
``ANTHROPIC_VERTEX_PROJECT_ID`` and ``CLOUD_ML_REGION`` (the Anthropic SDK's). Gemini defaults
to the global location, as google-genai does; Claude needs a location (not every Claude model
is served globally), as the Anthropic SDK does.

**Auth.** An OAuth 2 access token as ``Authorization: Bearer``: ``api_key=`` (e.g. the output
of ``gcloud auth print-access-token``), else ``GOOGLE_OAUTH_ACCESS_TOKEN`` or
``CLOUDSDK_AUTH_ACCESS_TOKEN`` (the variables the Google Terraform provider and gcloud read a
ready-made token from). sansstream does not mint or refresh tokens (no google-auth dependency):
tokens last about an hour, so long-running programs should pass a fresh ``api_key`` per call.

**Errors.** Request errors are HTTP statuses with Google's JSON error body (``HTTPStatusError``);
mid-stream errors are decoded as for each wire format (a Gemini ``{"error": …}`` object, an
Anthropic ``event: error``).

Sources: cloud.google.com/vertex-ai/generative-ai/docs/reference/rest-rpc
(``projects.locations.publishers.models.streamGenerateContent``) and …/learn/streaming
(``?alt=sse``, ``Authorization: Bearer $(gcloud auth print-access-token)``); the google-genai
SDKs (global location → ``https://aiplatform.googleapis.com/``, ``GOOGLE_CLOUD_PROJECT`` /
``GOOGLE_CLOUD_LOCATION``); anthropics/anthropic-sdk-python ``lib/vertex/_client.py``
(``vertex-2023-10-16``, ``streamRawPredict``, model moved from the body to the URL,
``CLOUD_ML_REGION``, ``ANTHROPIC_VERTEX_PROJECT_ID``, ``ANTHROPIC_VERTEX_BASE_URL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

from ..model import ConfigurationError
from ._base import HTTPRequest, Message, ToolSpec
from ._hosted import json_request, split_headers
from .anthropic import AnthropicDecoder, AnthropicProvider
from .gemini import GeminiDecoder, GeminiProvider

__all__ = [
    "VertexGeminiProvider",
    "VertexAnthropicProvider",
    "VertexGeminiDecoder",
    "VertexAnthropicDecoder",
    "VERTEX_ANTHROPIC_VERSION",
    "TOKEN_ENV",
]

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
TOKEN_ENV = ("GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
VERTEX_OPTIONS = frozenset({"project", "location", "region"})

_MODEL_SAFE = "-._~@"  # model ids like claude-sonnet-4-5@20250929 keep their "@"


def vertex_root(location: str) -> str:
    """The API root for a location (the global endpoint has no location prefix)."""
    if location == "global":
        return "https://aiplatform.googleapis.com/v1"
    return f"https://{quote(location, safe='-')}-aiplatform.googleapis.com/v1"


class _VertexMixin:
    name: str
    project_env: ClassVar[tuple[str, ...]] = ("GOOGLE_CLOUD_PROJECT",)
    location_env: ClassVar[tuple[str, ...]] = ("GOOGLE_CLOUD_LOCATION",)
    base_url_vars: ClassVar[tuple[str, ...]] = ()
    default_location: ClassVar[str | None] = "global"
    publisher: ClassVar[str]

    def local_options(self, server_url: str) -> dict[str, Any]:
        """A local server stands in for the regional endpoint; a project and location are still
        part of every Vertex URL."""
        return {"base_url": server_url, "project": "sansstream-local", "location": "us-central1"}

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        """``api_key`` (the access token), ``project``, ``location`` and ``base_url`` from the
        environment (see the module docstring)."""
        out: dict[str, Any] = {}
        for option, names in (
            ("api_key", TOKEN_ENV),
            ("project", self.project_env),
            ("location", self.location_env),
            ("base_url", self.base_url_vars),
        ):
            for var in names:
                if env.get(var):
                    out[option] = env[var]
                    break
        return out

    def model_url(self, model: str, base_url: str | None, options: dict[str, Any], method: str) -> str:
        """``{root}/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}:{method}``;
        pops ``project`` / ``location`` / ``region`` from ``options``."""
        project = options.pop("project", None)
        location = options.pop("location", None)
        region = options.pop("region", None)
        location = location or region or self.default_location
        if not location:
            raise ConfigurationError(
                f"{self.name} needs a location: pass location='us-east5' (or 'global'), or set "
                f"{' or '.join(self.location_env)}. Nothing was sent."
            )
        root = (base_url or vertex_root(str(location))).rstrip("/")
        if model.startswith("projects/"):  # a full resource name (tuned model endpoint)
            return f"{root}/{model}:{method}"
        if not project:
            raise ConfigurationError(
                f"{self.name} needs a Google Cloud project: pass project='my-project', or set "
                f"{' or '.join(self.project_env)}. Nothing was sent."
            )
        return (
            f"{root}/projects/{quote(str(project), safe='-')}/locations/{quote(str(location), safe='-')}"
            f"/publishers/{self.publisher}/models/{quote(model, safe=_MODEL_SAFE)}:{method}"
        )


def _bearer(token: str | None, name: str) -> dict[str, str]:
    if not token:
        raise ConfigurationError(
            f"no access token for provider {name!r}: set {' or '.join(TOKEN_ENV)} (for example to "
            "the output of `gcloud auth print-access-token`), or pass api_key=<token>. Nothing was sent."
        )
    return {"authorization": f"Bearer {token}"}


class VertexGeminiDecoder(GeminiDecoder):
    provider = "vertex"


class VertexGeminiProvider(_VertexMixin, GeminiProvider):
    """``vertex``: Gemini on Vertex AI, ``:streamGenerateContent?alt=sse`` with a bearer token."""

    name = "vertex"
    default_base_url = ""
    api_key_env = TOKEN_ENV
    base_url_env = None
    publisher = "google"
    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {"max_tokens", "temperature", "top_p", "top_k", "stop", "thinking", "thinking_budget",
         "include_thoughts", "extra_body", "extra_headers"}
    ) | VERTEX_OPTIONS | (GeminiProvider.accepted_options or frozenset())  # fmt: skip

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
        """The Gemini request (options as for ``gemini``) at the Vertex URL; ``project``,
        ``location`` (or ``region``) choose the resource."""
        opts = dict(options)
        url = (
            self.model_url(model.removeprefix("models/"), base_url, opts, "streamGenerateContent")
            + "?alt=sse"
        )
        headers = {"accept": "text/event-stream", **_bearer(api_key, self.name), **split_headers(opts)}
        request = super().build_request(model=model, messages=messages, tools=tools, **opts)
        return json_request(url, request.json_body(), headers)

    def decoder(self) -> VertexGeminiDecoder:
        return VertexGeminiDecoder()


class VertexAnthropicDecoder(AnthropicDecoder):
    provider = "vertex-anthropic"


class VertexAnthropicProvider(_VertexMixin, AnthropicProvider):
    """``vertex-anthropic``: Claude on Vertex AI, ``:streamRawPredict`` with a bearer token."""

    name = "vertex-anthropic"
    default_base_url = ""
    api_key_env = TOKEN_ENV
    base_url_env = None
    publisher = "anthropic"
    project_env = ("ANTHROPIC_VERTEX_PROJECT_ID", "GOOGLE_CLOUD_PROJECT")
    location_env = ("CLOUD_ML_REGION", "GOOGLE_CLOUD_LOCATION")
    base_url_vars = ("ANTHROPIC_VERTEX_BASE_URL",)
    default_location = None
    accepted_options: ClassVar[frozenset[str] | None] = frozenset(
        {"max_tokens", "temperature", "top_p", "top_k", "stop", "tool_choice", "thinking",
         "thinking_budget", "anthropic_version", "extra_body", "extra_headers"}
    ) | VERTEX_OPTIONS | (AnthropicProvider.accepted_options or frozenset())  # fmt: skip

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
        """The Messages request (options as for ``anthropic``) at the Vertex URL, its body
        without ``model`` and with ``anthropic_version`` (default ``vertex-2023-10-16``)."""
        opts = dict(options)
        url = self.model_url(model, base_url, opts, "streamRawPredict")
        version = opts.pop("anthropic_version", None) or VERTEX_ANTHROPIC_VERSION
        headers = {"accept": "text/event-stream", **_bearer(api_key, self.name), **split_headers(opts)}
        request = super().build_request(model=model, messages=messages, tools=tools, **opts)
        body = request.json_body()
        body.pop("model", None)
        body = {"anthropic_version": version, **body}
        return json_request(url, body, headers)

    def decoder(self) -> VertexAnthropicDecoder:
        return VertexAnthropicDecoder()
