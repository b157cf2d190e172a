"""Every exception sansstream lets a user see.

The hierarchy follows h11: one base class, then ``Local…`` (you used the API wrongly) versus
``Remote…`` (the peer sent bytes that break the protocol), then the failures that only exist once a
network is involved (HTTP status, transport, timeouts) and the errors a provider reports in-band.
Each error carries a message that says what happened and what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._result import ChatResult

__all__ = [
    "SansStreamError",
    "ProtocolError",
    "LocalProtocolError",
    "ConfigurationError",
    "UnknownProviderError",
    "ChunkValidationError",
    "RemoteProtocolError",
    "IncompleteStreamError",
    "EventTooLargeError",
    "HTTPStatusError",
    "UnexpectedContentTypeError",
    "ProviderError",
    "StreamTimeout",
    "ConnectTimeout",
    "FirstByteTimeout",
    "FirstTokenTimeout",
    "IdleTimeout",
    "ReadTimeout",
    "TotalTimeout",
    "TransportError",
    "StreamCancelled",
    "RETRYABLE_STATUSES",
    "is_retryable_status",
]


class SansStreamError(Exception):
    """Base class of every error raised by sansstream."""


class ProtocolError(SansStreamError):
    """The stream's protocol was broken, by the caller (local) or by the peer (remote)."""


class LocalProtocolError(ProtocolError):
    """The caller misused the API (e.g. fed data after the end of the stream, or asked the
    encoder for an event it cannot represent)."""


class ConfigurationError(LocalProtocolError):
    """A call cannot be made as configured (missing API key, bad option). Nothing was sent."""


class UnknownProviderError(LocalProtocolError, KeyError):
    """No provider is registered under the requested name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"unknown provider {name!r}; registered providers are: {', '.join(known) or '(none)'}. "
            "Register your own with sansstream.providers.register(name, factory)."
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class ChunkValidationError(SansStreamError):
    """A user-supplied ``validate`` hook rejected a chunk."""

    def __init__(self, message: str, *, chunk: object) -> None:
        super().__init__(message)
        self.chunk = chunk


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that cannot be parsed. The parser refuses further input afterwards.

    Raised mid-stream by ``ChatStream``, it carries ``partial``: the result assembled from what
    arrived before the bad bytes (``None`` when raised outside a stream)."""

    partial: ChatResult | None = None


class IncompleteStreamError(RemoteProtocolError):
    """The byte stream ended before the provider's terminal marker (truncation).

    ``partial`` holds everything that was assembled before the end, so nothing delivered is lost.
    """

    def __init__(
        self, message: str, *, partial: ChatResult | None = None, provider: str | None = None
    ) -> None:
        super().__init__(message)
        self.partial = partial
        self.provider = provider


class EventTooLargeError(RemoteProtocolError):
    """One event (or line, or frame) exceeded the configured size limit."""

    def __init__(self, message: str, *, limit: int | None = None, size: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.size = size


RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
"""Client-error statuses worth retrying: request timeout, conflict (a lock or a concurrent update:
the OpenAI and Anthropic SDKs retry it), too early, rate limited. Every 5xx is retryable too."""


def is_retryable_status(status: int) -> bool:
    """The one retryable-status rule: ``RETRYABLE_STATUSES`` or any 5xx."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


class HTTPStatusError(SansStreamError):
    """The server answered with a non-2xx status. ``body`` is the (bounded) response text,
    ``provider_message`` the error message extracted from a provider error JSON, if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        provider_message: str | None = None,
        retry_after: float | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        # kept as given: transports pass a case-insensitive mapping
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.body = body
        self.provider_message = provider_message
        self.retry_after = retry_after
        self.url = url

    @property
    def retryable(self) -> bool:
        """Whether a retry may succeed (``is_retryable_status``: the one rule used by
        ``RetryPolicy`` and ``connect_sse`` alike)."""
        return is_retryable_status(self.status)


class UnexpectedContentTypeError(RemoteProtocolError):
    """A 2xx response carried a content type that is not the expected stream (e.g. an HTML page)."""

    def __init__(self, message: str, *, content_type: str, body: str = "") -> None:
        super().__init__(message)
        self.content_type = content_type
        self.body = body


class ProviderError(SansStreamError):
    """The provider reported an error inside the stream (``event: error``, ``{"error": …}``…).

    Raised after every chunk that preceded the error was delivered. ``partial`` is the result
    assembled up to the error.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        type: str | None = None,
        code: str | int | None = None,
        retryable: bool = False,
        payload: Any = None,
        partial: ChatResult | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}" if provider else message)
        self.message = message
        self.provider = provider
        self.type = type
        self.code = code
        self.retryable = retryable
        self.payload = payload
        self.partial = partial


class StreamTimeout(SansStreamError, TimeoutError):
    """A deadline passed. Subclasses name which one; ``limit`` is the setting in seconds and
    ``elapsed`` how long was waited."""

    kind = "timeout"
    partial: ChatResult | None = None
    """Set by ``ChatStream`` when the deadline passed mid-stream: the result so far."""

    def __init__(
        self, message: str = "", *, limit: float | None = None, elapsed: float | None = None
    ) -> None:
        if not message:
            message = f"{self.kind} timeout"
            if limit is not None:
                message += f" of {limit:g}s"
            if elapsed is not None:
                message += f" fired after {elapsed:.3f}s"
        super().__init__(message)
        self.limit = limit
        self.elapsed = elapsed


class ConnectTimeout(StreamTimeout):
    """Connecting (TCP + TLS) took longer than ``Timeouts.connect``."""

    kind = "connect"


class FirstByteTimeout(StreamTimeout):
    """The response headers / first byte did not arrive within ``Timeouts.first_byte``."""

    kind = "first_byte"


class FirstTokenTimeout(StreamTimeout):
    """No content chunk arrived within ``Timeouts.first_token`` of the request being sent."""

    kind = "first_token"


class IdleTimeout(StreamTimeout):
    """No content event for longer than ``Timeouts.idle`` (keepalive comments do not count)."""

    kind = "idle"


class ReadTimeout(StreamTimeout):
    """No byte at all arrived for longer than the read timeout."""

    kind = "read"


class TotalTimeout(StreamTimeout):
    """The whole stream took longer than ``Timeouts.total``."""

    kind = "total"


class TransportError(SansStreamError):
    """Connecting, sending or receiving failed (refused, reset, DNS, TLS…)."""


class StreamCancelled(SansStreamError):
    """The stream was cancelled by ``cancel()`` while a caller was waiting on it."""
