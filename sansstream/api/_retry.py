"""Reconnection timing for ``connect_sse``: a policy (pure data) and a small counter.

Strategy: the delay before a reconnection is a pure function of the policy, how many attempts in
a row have failed to deliver a new event, the server's ``retry:`` value and a random number, so it
can be tested without clocks. ``Backoff`` only counts the attempts; the caller owns the waiting.

The rule (WHATWG HTML, "reestablish the connection": wait the event source's reconnection time,
then optionally longer, e.g. backing off exponentially after failed attempts):

    base  = the server's retry: value (ms → s) if it sent one, else initial_delay
    delay = max(base, min(max_delay, base * multiplier ** failures_before))
    wait  = delay * (1 + jitter * random())  , at least a server's Retry-After

Jitter only ever lengthens the wait, so a client never reconnects sooner than the server asked;
it spreads many clients' reconnections apart after a server restart. A server's ``retry:`` above
``max_delay`` is still honoured (the server knows its own load), but never backed off further.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..model._errors import ConfigurationError

__all__ = ["ReconnectPolicy", "Backoff", "reconnect_delay"]

_MAX_SERVER_RETRY_MS = 10**15  # keeps the float conversion finite for absurd retry: values


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
    - ``random``: the jitter source (tests pass a fixed one).
    """

    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.2
    max_attempts: int | None = 5
    reset_after_progress: bool = True
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
    """
    if server_retry_ms is None:
        base = policy.initial_delay
    else:
        # retry: may carry any number of digits; beyond ~30 000 years the value means "never".
        base = min(server_retry_ms, _MAX_SERVER_RETRY_MS) / 1000.0
    # Bound the exponent: past ~1000 doublings the float overflows, and max_delay has long won.
    grown = base * policy.multiplier ** min(failures_before, 1000) if base else 0.0
    delay = max(base, min(policy.max_delay, grown))
    wait = delay * (1.0 + policy.jitter * rand)
    if retry_after is not None:
        wait = max(wait, retry_after)
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
