"""Secrets: which headers and query parameters carry credentials, and the one scrubbing rule
every message, repr, log line, CLI output and recording goes through.

Strategy: a secret can leak in three shapes, and ``scrub`` removes all three from any text:

1. inside a URL: a password in the userinfo (``https://user:pw@host``) or a credential query
   parameter (``?key=``, ``?api_key=``, AWS presigning parameters…);
2. as a known value: the request's own secret header values, the tokens inside them
   (``Bearer sk-…``) and its secret query values, wherever they appear (a server echoing the
   key in an error body, a key with a trailing newline quoted in a message);

Kept at the transport layer (not in core or model) because it is about HTTP requests; the API and
the CLI import it from here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ..model import SECRET_HEADERS

__all__ = [
    "REDACTED",
    "SECRET_QUERY",
    "redact_url",
    "scrub",
    "secret_values",
    "is_secret_header",
    "scrub_values",
    "is_loopback_url",
]

REDACTED = "<redacted>"

SECRET_QUERY = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "access_token",
        "token",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "code",
        "password",
        "secret",
        "client_secret",
    }
)
"""URL query parameters that carry credentials (Gemini's ``?key=``, presigned AWS URLs…)."""

MIN_SECRET = 8
"""Shorter values are not searched for elsewhere: replacing e.g. "abc" everywhere would mangle
unrelated text, and real keys are far longer."""

# userinfo in any URL-looking text: scheme://user:password@  (the password is what matters, but
# the user part of e.g. a proxy URL may be a token too: both go)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#@\s]*)@")
# name=value pairs in a query string anywhere in text
_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&#\s?;]+)=(?P<value>[^&#\s;\"'<>]*)")


def is_secret_header(name: str, extra: Iterable[str] = ()) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or lowered in {e.lower() for e in extra}


def redact_url(url: str) -> str:
    """``url`` with its userinfo and credential query values replaced by ``<redacted>``; the
    rest (scheme, host, path, other parameters) is kept byte for byte."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = REDACTED + "@" + netloc.rsplit("@", 1)[1]
    query = _QUERY_PAIR.sub(_redact_pair, "?" + parts.query)[1:] if parts.query else parts.query
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _redact_pair(match: re.Match[str]) -> str:
    if match["name"].lower() in SECRET_QUERY and match["value"]:
        return f"{match['sep']}{match['name']}={REDACTED}"
    return match[0]


def secret_values(
    headers: Mapping[str, str] = {},
    url: str = "",
    *,
    extra_headers: Iterable[str] = (),
    values: Iterable[str] = (),
) -> list[str]:
    """The secret strings of a request (secret header values and the tokens in them, secret
    query values, the URL password, plus ``values``), longest first, to scrub them anywhere."""
    extra = {e.lower() for e in extra_headers}
    found: list[str] = [v for v in values if v]
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS or name.lower() in extra:
            found.append(value)
            found.append(value.strip())
            # "Bearer sk-…", "Basic …", SigV4 "Credential=…, Signature=…": the parts may be echoed
            found.extend(part for part in re.split(r"[\s,=]+", value) if len(part) >= MIN_SECRET)
    if url:
        try:
            parts = urlsplit(url)
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                if key.lower() in SECRET_QUERY:
                    found.append(value)
            if parts.password:
                found.append(parts.password)
        except ValueError:
            pass
    return sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, credential query values and every one of ``secrets``
    replaced by ``<redacted>``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@" if m["info"] else m[0], text)
    if "=" in text:
        text = _QUERY_PAIR.sub(_redact_pair, text)
    return text


def scrub_values(text: str, secrets: Iterable[str]) -> str:
    """Only the known ``secrets`` replaced (no URL rules): for body bytes, where ``a=b`` pairs
    are data, not query strings."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (127.0.0.0/8, ::1, localhost): a local server
    (llama.cpp, vLLM, LM Studio…) that needs no API key."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
