"""An HTTP request as plain data, and the header names that hold secrets.

Both live in the model layer because every layer above needs them and none should reach sideways
for them: providers build an ``HTTPRequest`` and sign it, transports send it, recordings and
error messages redact the ``SECRET_HEADERS``. Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HTTPRequest", "SECRET_HEADERS"]

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",  # Azure OpenAI
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        # AI gateways in front of a provider carry their own keys
        "cf-aig-authorization",  # Cloudflare AI Gateway
        "helicone-auth",
        "x-portkey-api-key",
        "ocp-apim-subscription-key",  # Azure API Management
        "x-litellm-api-key",
    }
)
"""Header names (lower case) whose values are credentials: never written to recordings, logs or
messages, and never sent on to another origin when a request is redirected."""


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """An HTTP request as plain data. Transports send it; nothing here does I/O."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    @classmethod
    def json(
        cls, method: str, url: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> HTTPRequest:
        all_headers = {"content-type": "application/json", **(headers or {})}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(method, url, all_headers, body)

    def json_body(self) -> Any:
        return None if self.body is None else json.loads(self.body)

    def redacted_headers(self) -> dict[str, str]:
        return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}
