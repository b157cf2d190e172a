"""AWS Signature Version 4 request signing, with the standard library only (``hmac``, ``hashlib``).

Pure: the caller passes the credentials and the time, so signing a request is a function of its
inputs and is tested against AWS's published test-suite vectors (``get-vanilla`` and friends).

The algorithm (AWS "Create a signed AWS API request"):

1. Canonical request: method, canonical URI, canonical query, canonical headers, signed header
   names, hex SHA-256 of the body — joined with LF.
2. String to sign: ``AWS4-HMAC-SHA256``, the ``X-Amz-Date`` time, the credential scope
   ``YYYYMMDD/region/service/aws4_request`` and the hex SHA-256 of the canonical request.
3. Signing key: HMAC-SHA256 chain ``"AWS4" + secret`` → date → region → service →
   ``aws4_request``; the signature is the hex HMAC of the string to sign with it.

Services other than S3 sign the path URI-encoded once more than it is sent ("each path segment
must be URI-encoded twice"), which matters for Bedrock model ids with ``:`` (sent as ``%3A``,
signed as ``%253A``).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

__all__ = ["Credentials", "sign_headers", "canonical_request", "ALGORITHM"]

ALGORITHM = "AWS4-HMAC-SHA256"

# Headers a transport or proxy may add or rewrite after signing: never signed (botocore leaves
# out the same ones), so the signature survives them.
_UNSIGNED = frozenset({"authorization", "user-agent", "expect", "x-amzn-trace-id", "content-length"})
_UNRESERVED = "-_.~"


@dataclass(frozen=True, slots=True)
class Credentials:
    """AWS credentials. ``session_token`` is set for temporary (STS) credentials."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never show the secret in a traceback or a log
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=<redacted>)"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _normalize_path(path: str) -> str:
    """Remove ``.`` and ``..`` segments (RFC 3986 §5.2.4), keeping a trailing slash."""
    if not path:
        return "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    normalized = "/".join(out)
    if not normalized.startswith("/"):
        normalized = "/" + normalized
    if path.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized


def _canonical_query(query: str) -> str:
    """Parameters sorted by encoded name then value, each URI-encoded (spaces as ``%20``)."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        # Decode what the URL encoded, then encode again in AWS's one canonical way.
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def _host(url_netloc: str, scheme: str) -> str:
    """The Host header value: the netloc without user info or a default port."""
    host = url_netloc.rpartition("@")[2]
    default = {"https": ":443", "http": ":80"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[str, str]:
    """``(canonical request text, signed header names)`` for a request whose ``headers``
    already include ``host`` and ``x-amz-date``."""
    parts = urlsplit(url)
    # The path as sent is already encoded once; non-S3 services sign it encoded again.
    uri = quote(_normalize_path(parts.path), safe="/" + _UNRESERVED)
    signed: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in _UNSIGNED:
            continue
        # Trim and collapse runs of spaces in the value (AWS: "Trimall").
        text = " ".join(str(value).split())
        signed[key] = f"{signed[key]},{text}" if key in signed else text
    names = sorted(signed)
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in names)
    signed_names = ";".join(names)
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    text = "\n".join(
        [method.upper(), uri, _canonical_query(parts.query), canonical_headers, signed_names, payload_hash]
    )
    return text, signed_names


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime.datetime,
) -> dict[str, str]:
    """``headers`` plus ``x-amz-date``, ``x-amz-security-token`` (temporary credentials) and
    ``authorization``, signed for ``now`` (a naive time is taken as UTC).

    The ``host`` header is signed (as the URL's host, without a default port) but not returned:
    every HTTP client sets it from the URL itself, and a second Host header would be refused."""
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parts = urlsplit(url)
    out = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-amz-date", "host")}
    out["x-amz-date"] = amz_date
    if credentials.session_token:
        out["x-amz-security-token"] = credentials.session_token
    creq, signed_names = canonical_request(
        method, url, {"host": _host(parts.netloc, parts.scheme), **out}, body
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    key = _hmac(("AWS4" + credentials.secret_access_key).encode("utf-8"), day)
    for step in (region, service, "aws4_request"):
        key = _hmac(key, step)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return out
