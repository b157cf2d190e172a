"""Retry and reconnection timing: the one backoff module behind ``stream_chat``'s ``RetryPolicy``
and ``connect_sse``'s ``ReconnectPolicy``.

Strategy: every delay is a pure function of a policy, how many attempts in a row failed, what the
server asked for and a random number, so it is tested without clocks; callers own the waiting.
One rule each, shared by both policies:

- retryable statuses: ``is_retryable_status`` (408, 409, 425, 429 and every 5xx), also behind
  ``HTTPStatusError.retryable``;
- backoff: ``min(max_delay, base * multiplier ** failures)``;
- jitter: ``jittered(delay) = delay * (1 + jitter * random())`` — it only ever lengthens a wait,
  so a client never comes back sooner than its schedule or the server asked, and many clients
  spread apart after an outage;
- server-requested delays (SSE ``retry:``, HTTP ``Retry-After``) are clamped by
  ``clamp_server_delay`` to ``[min_server_delay, max_server_delay]``: a floor like browsers'
  (Firefox waits at least 0.5 s whatever ``retry:`` says), so ``retry: 0`` cannot make a client
  hammer a server, and a cap (60 s, as ``stream_chat``'s ``max_retry_after``), so ``retry: 1e20``
  or ``Retry-After: 1e9`` cannot park a client silently.

The reconnection rule follows WHATWG HTML ("reestablish the connection": wait the event source's
reconnection time, then optionally longer, e.g. backing off exponentially after failed attempts).
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model import (
    ConfigurationError,
    ConnectTimeout,
    HTTPStatusError,
    IncompleteStreamError,
    ProviderError,
    TransportError,
    is_retryable_status,
)

__all__ = [
    "ReconnectPolicy",
    "Backoff",
    "reconnect_delay",
    "backoff_delay",
    "jittered",
    "clamp_server_delay",
]

DEFAULT_MIN_SERVER_DELAY = 0.5
"""Seconds: the shortest wait a server's ``retry:`` can ask for (Firefox's floor)."""

DEFAULT_MAX_SERVER_DELAY = 60.0
"""Seconds: the longest wait a server's ``retry:`` / ``Retry-After`` can impose."""


def backoff_delay(base: float, multiplier: float, max_delay: float, failures: int) -> float:
    """``min(max_delay, base * multiplier ** failures)``, never below ``base``, never overflowing."""
    if base <= 0:
        return 0.0
    # past ~1000 doublings the float overflows, and max_delay has long won
    grown = base * multiplier ** min(max(failures, 0), 1000)
    return max(base, min(max_delay, grown))


def jittered(delay: float, jitter: float, rand: float) -> float:
    """The one jitter rule: lengthen ``delay`` by up to ``jitter`` (a fraction), ``rand`` in [0, 1)."""
    return delay * (1.0 + jitter * rand)


def clamp_server_delay(seconds: float | None, floor: float, cap: float) -> float | None:
    """A server-requested delay bounded to ``[floor, cap]``; ``None`` stays ``None``; NaN and
    negative values mean the floor, infinities the cap."""
    if seconds is None:
        return None
    if math.isnan(seconds) or seconds < floor:
        return floor
    return min(seconds, cap)


def _default_should_retry(exc: BaseException) -> bool:
    if isinstance(exc, HTTPStatusError):
        return is_retryable_status(exc.status)
    if isinstance(exc, ProviderError):
        return exc.retryable  # e.g. Anthropic "overloaded_error" before any output
    # a connection that failed, timed out while connecting, or closed before any chunk
    return isinstance(exc, TransportError | ConnectTimeout | IncompleteStreamError)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How ``stream_chat`` retries a request that failed before its first chunk.

    Retried: connection failures (``TransportError``, ``ConnectTimeout``), retryable HTTP
    statuses (``is_retryable_status``: 408, 409, 425, 429, 5xx), a stream that ended before any
    chunk, and in-band errors the provider marks retryable — only while no chunk has come out of
    the stream yet. At most ``max_attempts`` requests are sent in all. The wait before attempt
    ``k + 1`` is ``jittered(min(max_delay, initial_delay * multiplier ** (k - 1)))`` (jitter only
    lengthens it); a server's ``Retry-After`` is honoured as a lower bound, and if it asks for
    more than ``max_retry_after`` seconds the error is raised instead of waiting that long.
    ``sleep`` replaces the wait (tests pass a recorder; by default the wait ends early if the
    stream is cancelled) and ``random`` the jitter source.
    """

    max_attempts: int = 3
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = DEFAULT_MAX_SERVER_DELAY
    should_retry: Callable[[BaseException], bool] = field(default=_default_should_retry, compare=False)
    sleep: Callable[[float], None] | None = field(default=None, compare=False)
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError(f"RetryPolicy.max_attempts must be at least 1, not {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"RetryPolicy.jitter is a fraction in [0, 1], not {self.jitter}")

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), or ``None`` to
        give up (no attempts left, or the server asked for too long a wait)."""
        if attempt >= self.max_attempts:
            return None
        base = backoff_delay(self.initial_delay, self.multiplier, self.max_delay, attempt - 1)
        wait = jittered(base, self.jitter, self.random())
        if retry_after is not None:
            if not retry_after <= self.max_retry_after:  # NaN included
                return None
            wait = max(wait, retry_after)
        return max(0.0, wait)


NO_RETRY = RetryPolicy(max_attempts=1)
"""Send the request once; raise whatever happens."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectPolicy:
    """How ``connect_sse`` reconnects after a dropped connection or a failed attempt.

    - ``initial_delay``: seconds before the first reconnection when the server set no ``retry:``
      (browsers use a few seconds; 1 s keeps a lost stream short without hammering a server).
    - ``multiplier``: growth of the delay with each further attempt that delivered no event.
    - ``max_delay``: ceiling of the backed-off delay, in seconds.
    - ``jitter``: fraction by which each wait is randomly lengthened (0 disables it).
    - ``max_attempts``: consecutive connection attempts without a new event before giving up
      (a drop right after an event counts as the first); ``None`` retries forever.
    - ``reset_after_progress``: a new event resets the count and the backoff (the usual choice);
      with ``False`` the attempts are a budget for the EventSource's whole life.
    - ``min_server_delay`` / ``max_server_delay``: bounds on what the server may ask for with
      ``retry:`` and ``Retry-After`` (default 0.5 s and 60 s).
    - ``random``: the jitter source (tests pass a fixed one).
    """

    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.2
    max_attempts: int | None = 5
    reset_after_progress: bool = True
    min_server_delay: float = DEFAULT_MIN_SERVER_DELAY
    max_server_delay: float = DEFAULT_MAX_SERVER_DELAY
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ConfigurationError("ReconnectPolicy delays must be >= 0 seconds")
        if self.multiplier < 1:
            raise ConfigurationError(f"ReconnectPolicy.multiplier must be >= 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"ReconnectPolicy.jitter is a fraction in [0, 1], not {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigurationError(
                f"ReconnectPolicy.max_attempts must be >= 1 or None, not {self.max_attempts}"
            )
        if not 0 <= self.min_server_delay <= self.max_server_delay:
            raise ConfigurationError(
                "ReconnectPolicy needs 0 <= min_server_delay <= max_server_delay, not "
                f"{self.min_server_delay} and {self.max_server_delay}"
            )


def reconnect_delay(
    policy: ReconnectPolicy,
    failures_before: int,
    *,
    server_retry_ms: int | None = None,
    retry_after: float | None = None,
    rand: float = 0.0,
) -> float:
    """Seconds to wait before the next connection attempt.

    ``failures_before`` counts earlier attempts in a row that delivered no event (0 for the first
    reconnection after a drop), ``server_retry_ms`` is the stream's ``retry:`` value,
    ``retry_after`` an HTTP ``Retry-After`` in seconds (a floor), ``rand`` a number in [0, 1).
    Both server values are first clamped to the policy's ``[min_server_delay, max_server_delay]``.
    """
    floor, cap = policy.min_server_delay, policy.max_server_delay
    if server_retry_ms is None:
        base = policy.initial_delay
    else:
        # retry: may carry any number of digits: compare as an int before making it a float
        ms = min(server_retry_ms, int(cap * 1000) + 1)
        base = clamp_server_delay(ms / 1000.0, floor, cap) or 0.0
    wait = jittered(
        backoff_delay(base, policy.multiplier, max(policy.max_delay, base), failures_before),
        policy.jitter,
        rand,
    )
    if server_retry_ms is not None:
        wait = min(wait, cap)
    clamped = clamp_server_delay(retry_after, floor, cap)
    if clamped is not None:
        wait = max(wait, clamped)
    return wait


class Backoff:
    """Counts connection attempts that delivered no new event, and says how long to wait.

    Call ``progress()`` for every delivered event and ``attempt_ended()`` whenever a connection
    (or an attempt to make one) ends; it returns the wait before the next attempt, or ``None``
    once ``max_attempts`` attempts in a row (or in all, without ``reset_after_progress``) have
    delivered nothing. A connection that delivered events and then dropped does not count.
    """

    def __init__(self, policy: ReconnectPolicy) -> None:
        self.policy = policy
        self.failures = 0  # attempts that delivered nothing, counted against max_attempts
        self.streak = 0  # such attempts in a row: the backoff exponent
        self._productive = False  # the current attempt delivered an event

    def progress(self) -> None:
        self._productive = True
        self.streak = 0
        if self.policy.reset_after_progress:
            self.failures = 0

    def exhausted(self) -> bool:
        limit = self.policy.max_attempts
        return limit is not None and self.failures >= limit

    def attempt_ended(
        self, *, server_retry_ms: int | None = None, retry_after: float | None = None
    ) -> float | None:
        productive, self._productive = self._productive, False
        if not productive:
            self.failures += 1
            self.streak += 1
            if self.exhausted():
                return None
        return reconnect_delay(
            self.policy,
            max(0, self.streak - 1),
            server_retry_ms=server_retry_ms,
            retry_after=retry_after,
            rand=self.policy.random(),
        )
