"""HTTP helpers shared by every transport: headers, status and content-type checks, content
decoding, and picking a transport by name.

Strategy: transports only move bytes; what an HTTP failure *means* is decided here, once, so
the requests adapter, the raw-h11 adapter and replay all raise the same errors with the same
messages. The error body of a non-2xx response is read with a byte limit and a deadline (a
server that stalls while sending its error must not hang the caller), and the provider's
message is pulled out of common JSON error shapes generically — no provider names here.

Content decoding (gzip/deflate) for the raw adapter lives here too: it is bounded, so a
"decompression bomb" (a few KiB that inflate to gigabytes) is refused with
``RemoteProtocolError`` instead of exhausting memory.
"""

from __future__ import annotations

import datetime
import email.utils
import http
import json
import re
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..model import (
    ConfigurationError,
    HTTPStatusError,
    ReadTimeout,
    RemoteProtocolError,
    SansStreamError,
    UnexpectedContentTypeError,
)
from ._base import Transport, TransportResponse
from ._secrets import redact_url, scrub

__all__ = [
    "Headers",
    "raise_for_status",
    "check_content_type",
    "get_transport",
    "iter_body",
    "read_body",
    "parse_retry_after",
    "extract_error_message",
    "encode_header_value",
]

DEFAULT_MAX_ERROR_BODY = 64 * 1024
"""Bytes of an error body kept for ``HTTPStatusError.body``: provider error JSON is a few hundred
bytes; a proxy's HTML error page can be large and is useless past the first screen."""

DEFAULT_ERROR_BODY_TIMEOUT = 10.0
"""Seconds allowed to read an error body in total: the error is already known, so a server that
dribbles its error page must not delay reporting it for long."""

CONTENT_TYPE_EXCERPT = 512
"""Bytes of an unexpected 2xx body quoted in ``UnexpectedContentTypeError``: enough to recognise
an HTML login page or a JSON error, short enough for a log line."""

MAX_DECOMPRESSION_RATIO = 200
"""Decoded bytes allowed per compressed byte once ``DECOMPRESSION_RATIO_GRACE`` bytes came out.
Text streams compress 5-20x; gzip's ceiling is about 1030x, reached only by degenerate input
such as a run of zeros — which is what a decompression bomb is made of."""

DECOMPRESSION_RATIO_GRACE = 1024 * 1024
"""Small bodies may legitimately compress very well; the ratio check starts after this much."""

DECODE_STEP = 64 * 1024
"""Largest output of one decompress call, so one received slice can never expand unboundedly
before the ratio check sees it."""


class Headers(Mapping[str, str]):
    """Response headers: an ordered multi-map with case-insensitive lookups.

    ``headers["Content-Type"]`` and ``headers["content-type"]`` are the same; a header that
    appears more than once reads as its values joined with ``", "`` (RFC 9110 §5.3), and
    ``get_list(name)`` returns them separately. Iteration yields each name once, in the case
    the server first sent it.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        self._items: list[tuple[str, str]] = [(str(k), str(v)) for k, v in pairs]
        # lower-cased name -> (first spelling, values), built once: lookups are O(1)
        self._index: dict[str, tuple[str, list[str]]] = {}
        for name, value in self._items:
            entry = self._index.setdefault(name.lower(), (name, []))
            entry[1].append(value)

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._index[name.lower()][1])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (spelling for spelling, _ in self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def get_list(self, name: str) -> list[str]:
        entry = self._index.get(name.lower())
        return list(entry[1]) if entry else []

    def raw_items(self) -> list[tuple[str, str]]:
        """Every header line as received, repeats included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def encode_header_value(value: str) -> bytes:
    """The bytes a header value is sent as, the same on every transport: Latin-1 when every
    character fits (so text that already carries UTF-8 bytes as one Latin-1 character each —
    how ``connect_sse`` passes ``Last-Event-ID`` — goes out unchanged), else UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


# --------------------------------------------------------------------------------------------
# reading bodies


def iter_body(response: TransportResponse, *, read_timeout: float | None = None) -> Iterator[bytes]:
    """Yield each body slice as it arrives until the end of the body, then close the response.

    ``read_timeout`` bounds the wait for every slice (``ReadTimeout``); the API layer uses its
    own loop with changing deadlines, this is for scripts and tests."""
    try:
        while True:
            data = response.read(read_timeout)
            if not data:
                return
            yield data
    finally:
        response.close()


def read_body(
    response: TransportResponse,
    *,
    max_bytes: int | None = DEFAULT_MAX_ERROR_BODY,
    timeout: float | None = DEFAULT_ERROR_BODY_TIMEOUT,
    clock: Any = time.monotonic,
) -> tuple[bytes, bool]:
    """Read the body (at most ``max_bytes``) within ``timeout`` seconds in total.

    Returns ``(data, complete)``; ``complete`` is false when the limit, the deadline or a
    connection failure stopped the read early. Never raises for those: this is used to build
    error messages, and a partial error body is still worth showing."""
    parts: list[bytes] = []
    size = 0
    deadline = None if timeout is None else clock() + timeout
    try:
        while max_bytes is None or size < max_bytes:
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0:
                return b"".join(parts), False
            data = response.read(remaining)
            if not data:
                return b"".join(parts), True
            parts.append(data)
            size += len(data)
    except SansStreamError:
        return b"".join(parts), False
    body = b"".join(parts)
    return (body if max_bytes is None else body[:max_bytes]), False


# --------------------------------------------------------------------------------------------
# status


def parse_retry_after(value: str | None, *, now: datetime.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date (RFC 9110
    §10.2.3). ``now`` is the current time (aware UTC); defaults to the system clock. A date in the
    past means 0; anything unparseable means ``None``."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        # delta-seconds is ASCII digits only (float() would also take "1_0", "1e3" or "١٢");
        # a fraction is not in the RFC but some providers send one ("1.5")
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zones parse as naive: RFC 5322 says UTC
        when = when.replace(tzinfo=datetime.timezone.utc)
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")

_MESSAGE_KEYS = ("message", "detail", "error_description", "msg", "title", "error")


def extract_error_message(body: str) -> str | None:
    """The human-readable message in a JSON error body, whatever its shape.

    Handles ``{"error": {"message": …}}`` (OpenAI, Anthropic, Gemini, Mistral), ``{"error": "…"}``
    (Ollama), ``{"message": …}`` (Cohere, Bedrock), ``{"detail": …}`` (FastAPI-style servers,
    including ``detail`` arrays of validation errors) and arrays of any of those (Gemini sends
    ``[{"error": …}]``). Returns ``None`` when the body is not JSON or has no message."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _message_of(value, depth=0)


def _message_of(value: Any, depth: int) -> str | None:
    if depth > 6:  # error bodies are shallow; deep nesting is not a message
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        messages = [m for m in (_message_of(v, depth + 1) for v in value[:10]) if m]
        return "; ".join(dict.fromkeys(messages)) or None
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            if key in value:
                found = _message_of(value[key], depth + 1)
                if found:
                    return found
    return None


_ADVICE = {
    400: "the server rejected the request; check the model name and options against its message",
    401: "the API key was refused; check the key (and the environment variable it came from)",
    403: "the key is not allowed to do this; check its permissions, project and region",
    404: "nothing at this URL; check base_url, the path and the model name",
    408: "the server timed out waiting for the request; retry",
    413: "the request is too large; send fewer or shorter messages",
    422: "the server could not process the request body; check the options against its message",
    429: "rate limited or out of quota; wait and retry (see retry_after) or check your plan",
}


def _advice(status: int, retry_after: float | None) -> str:
    if status == 429 and retry_after is not None:
        return f"rate limited; retry after {retry_after:g}s"
    if status in _ADVICE:
        return _ADVICE[status]
    if status >= 500:
        return "the server failed; retry later (the error is usually temporary)"
    if 300 <= status < 400:
        return "use the URL it points to as base_url, or check the server's configuration"
    return "check the request against the server's message"


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def raise_for_status(
    response: TransportResponse,
    *,
    max_body: int = DEFAULT_MAX_ERROR_BODY,
    body_timeout: float | None = DEFAULT_ERROR_BODY_TIMEOUT,
    now: datetime.datetime | None = None,
    secrets: Sequence[str] = (),
) -> None:
    """Raise ``HTTPStatusError`` if the response status is not 2xx; otherwise do nothing.

    On error the body is read (at most ``max_body`` bytes, within ``body_timeout`` seconds),
    the response is closed, and the error carries ``status``, ``headers``, ``body`` (text),
    ``provider_message`` and ``retry_after`` (seconds, from ``Retry-After`` as a number or an
    HTTP-date relative to ``now``). The message names a redirect's ``Location``; URL credentials
    and ``secrets`` (the request's key values, should the server echo them) are scrubbed from it."""
    status = response.status
    if 200 <= status < 300:
        return
    try:
        raw, complete = read_body(response, max_bytes=max_body, timeout=body_timeout)
    finally:
        response.close()
    body = raw.decode("utf-8", errors="replace")
    provider_message = extract_error_message(body) if complete else None
    headers = response.headers
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is None:
        # Some providers only send a millisecond hint (OpenAI: retry-after-ms).
        ms = headers.get("retry-after-ms")
        if ms is not None:
            seconds = parse_retry_after(ms)
            retry_after = None if seconds is None else seconds / 1000.0
    detail = provider_message
    if detail is None:
        excerpt = " ".join(body[:300].split())
        detail = excerpt + ("…" if len(body) > 300 else "") if excerpt else "(empty body)"
    location = headers.get("location")
    if 300 <= status < 400 and location:
        detail = f"redirect to {redact_url(location)} not followed; {detail}"
    url = redact_url(response.url)
    message = scrub(
        f"HTTP {_status_line(status)} from {url}: {detail} — {_advice(status, retry_after)}", secrets
    )
    raise HTTPStatusError(
        message,
        status=status,
        headers=headers,
        body=body,
        provider_message=None if provider_message is None else scrub(provider_message, secrets),
        retry_after=retry_after,
        url=url,
    )


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def check_content_type(
    response: TransportResponse,
    expected: tuple[str, ...],
    *,
    excerpt_timeout: float | None = 2.0,
) -> None:
    """Raise ``UnexpectedContentTypeError`` when a 2xx response is not one of ``expected``
    media types (parameters such as ``charset`` are ignored).

    A response without ``Content-Type`` is accepted: some self-hosted servers omit it, and the
    framing parser will still reject bytes that are not a stream. On error a short excerpt of
    the body is read (so the message can show e.g. the HTML of a captive portal) and the
    response is closed."""
    if not expected or not 200 <= response.status < 300:
        return  # error statuses are raise_for_status's business
    value = response.headers.get("content-type")
    if value is None:
        return
    media = _media_type(value)
    if media in {_media_type(e) for e in expected}:
        return
    try:
        raw, _ = read_body(response, max_bytes=CONTENT_TYPE_EXCERPT, timeout=excerpt_timeout)
    finally:
        response.close()
    body = raw[:CONTENT_TYPE_EXCERPT].decode("utf-8", errors="replace")
    excerpt = " ".join(body[:200].split())
    raise UnexpectedContentTypeError(
        f"expected a {' or '.join(expected)} stream from {redact_url(response.url)} but got "
        f"{media or value!r} (status {response.status}): {excerpt!r}. A proxy, captive portal or "
        "wrong base_url usually causes this; check the URL and any proxy settings.",
        content_type=value,
        body=body,
    )


# --------------------------------------------------------------------------------------------
# content decoding (used by the raw h11 adapter; requests relies on urllib3's decoders)


class ContentDecoder:
    """Incremental, bounded gzip/deflate decoding: ``decode(data) -> bytes``, ``flush()``.

    Multi-member gzip bodies are handled (a new member may follow the end of the previous one).
    ``deflate`` is the zlib format per RFC 9110, but some servers send raw deflate; the first
    bytes decide."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # "deflate" may be zlib-wrapped (correct) or raw (common); decided by the first bytes
        self._guessing = encoding == "deflate"
        self._seen: list[bytes] = []  # input kept while guessing, to retry it as raw deflate
        self._obj: Any = self._new()
        self._in = 0
        self._out = 0

    def _new(self, raw: bool = False) -> Any:
        if raw:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.encoding == "gzip" else zlib.MAX_WBITS)

    def _check_ratio(self) -> None:
        if self._out > DECOMPRESSION_RATIO_GRACE and self._out > MAX_DECOMPRESSION_RATIO * max(self._in, 1):
            raise RemoteProtocolError(
                f"refusing a {self.encoding} body that inflates more than {MAX_DECOMPRESSION_RATIO}x "
                f"({self._in} bytes became over {self._out}): this looks like a decompression bomb. "
                "If the server is trusted, ask it for an uncompressed stream (Accept-Encoding: identity)."
            )

    def decode(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._in += len(data)
        if self._obj.eof:
            if self.encoding != "gzip":
                return b""  # deflate holds one stream; trailing bytes carry nothing
            self._obj = self._new()  # a gzip member ended: the next one starts here
        if self._guessing:
            self._seen.append(data)
        out: list[bytes] = []
        pending = data
        while pending:
            try:
                piece = self._obj.decompress(pending, DECODE_STEP)
            except zlib.error as exc:
                if self._guessing:
                    # not zlib-wrapped: retry everything seen so far as raw deflate
                    self._guessing = False
                    self._obj = self._new(raw=True)
                    pending = b"".join(self._seen)
                    self._seen = []
                    continue
                raise RemoteProtocolError(
                    f"the {self.encoding}-encoded body is corrupt ({exc}); "
                    "retry, or request an uncompressed stream (Accept-Encoding: identity)"
                ) from None
            if piece:
                self._guessing = False
                self._seen = []
                self._out += len(piece)
                self._check_ratio()
                out.append(piece)
            if self._obj.eof:
                if self.encoding == "gzip" and self._obj.unused_data:
                    pending = self._obj.unused_data
                    self._obj = self._new()
                    continue
                break
            pending = self._obj.unconsumed_tail
        return b"".join(out)

    def flush(self) -> bytes:
        try:
            tail: bytes = self._obj.flush()
        except zlib.error:  # pragma: no cover - flush after an error
            tail = b""
        self._out += len(tail)
        self._check_ratio()
        return tail


def content_decoder(content_encoding: str | None) -> ContentDecoder | None:
    """A decoder for a ``Content-Encoding`` value, ``None`` for identity.

    Stacked encodings (``gzip, br``) and unknown ones are refused: the bytes would be garbage
    to the framing parser."""
    if not content_encoding:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return ContentDecoder("gzip" if codings[0] in ("gzip", "x-gzip") else "deflate")
    raise RemoteProtocolError(
        f"unsupported Content-Encoding {content_encoding!r}; only gzip and deflate are decoded. "
        "Send Accept-Encoding: gzip (the default) or identity."
    )


# --------------------------------------------------------------------------------------------
# choosing a transport


def get_transport(spec: str | Transport | None = None) -> Transport:
    """A transport from ``transport=`` as users pass it: ``None`` or ``"requests"`` (the
    default), ``"h11"``, or any object with ``open()`` (returned as is).

    A transport made from a name is new and owned by the caller, who should ``close()`` it."""
    if spec is None or spec == "requests":
        from ._requests import RequestsTransport

        return RequestsTransport()
    if spec == "h11":
        from ._h11 import H11Transport

        return H11Transport()
    if isinstance(spec, str):
        raise ConfigurationError(
            f"unknown transport {spec!r}; use 'requests' (default), 'h11', or a Transport object"
        )
    if not callable(getattr(spec, "open", None)):
        raise ConfigurationError(
            f"transport {spec!r} has no open() method; pass 'requests', 'h11' or a Transport object"
        )
    return spec


def read_timeout_error(limit: float | None, elapsed: float) -> ReadTimeout:
    """The ``ReadTimeout`` both adapters raise, with the same wording."""
    return ReadTimeout(
        f"read timeout: no bytes arrived for {elapsed:.3f}s (limit {limit:g}s); the server or network "
        "stalled — retry, or raise the idle/read timeout if the server is known to pause"
        if limit is not None
        else f"read timeout after {elapsed:.3f}s",
        limit=limit,
        elapsed=elapsed,
    )
