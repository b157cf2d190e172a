"""Small helpers shared by the hosted-variant providers (Azure, Vertex, Bedrock InvokeModel).

- ``json_request(url, body, headers)``: a POST whose body is written with ``dumps_wire`` (the
  one rule for JSON sent on the wire).
- ``with_query(url, **params)``: add query parameters to a URL that may already have some.
- ``split_headers(options)``: take ``extra_headers`` out of an options dict as a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..core import dumps_wire
from ._base import HTTPRequest

__all__ = ["json_request", "with_query", "split_headers"]


def json_request(url: str, body: Any, headers: Mapping[str, str]) -> HTTPRequest:
    all_headers = {"content-type": "application/json", **headers}
    return HTTPRequest("POST", url, all_headers, dumps_wire(body).encode("utf-8"))


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` appended to its query (values percent-encoded)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def split_headers(options: dict[str, Any]) -> dict[str, str]:
    """Remove ``extra_headers`` from ``options`` and return them as a ``dict`` of strings."""
    extra = options.pop("extra_headers", None) or {}
    return {str(k): str(v) for k, v in dict(extra).items()}
