"""The I/O engine shared by ``ChatStream`` and ``EventSource``: deadlines, opening a request
(redirects and secrets included), and aborting it from another thread.

Strategy: each decision is made in one place, as a pure function where it can be.

- ``Deadlines`` turns the user's ``Timeouts`` plus the stream's timing state (when it started,
  when this attempt was sent, the last progress, whether a token arrived) into *which limit
  binds next and how long is left* — for connecting, for the header wait and for each body read.
  It reads no clock: callers pass ``now``, so it is tested with plain numbers. ``total``,
  ``first_token`` and ``first_byte`` all bound the header wait, on every transport.
- ``redirect_request`` is the one redirect policy (pure): 301/302/303/307/308; method and body
  kept for 307/308, 303 (and 301/302 after a POST, as browsers do) become a body-less GET;
  secret headers (``SECRET_HEADERS`` plus any the caller marks) never follow to another origin
  (scheme, host or port); a SigV4-signed request is never replayed to another host.
- ``open_response`` drives one request through a transport with those pieces: the tightest limit
  is passed down as the transport's connect / header deadline, an ``AbortHandle`` lets
  ``cancel()``/``close()`` from another thread end a pending open at once, and redirects are
  followed up to ``max_redirects`` hops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..model import (
    ConnectTimeout,
    FirstByteTimeout,
    FirstTokenTimeout,
    HTTPStatusError,
    IdleTimeout,
    ReadTimeout,
    StreamCancelled,
    StreamTimeout,
    TotalTimeout,
)
from ..providers import HTTPRequest
from ..transports import AbortHandle, Timeouts, Transport, TransportResponse, is_secret_header, redact_url

__all__ = [
    "Deadlines",
    "Limit",
    "REDIRECT_STATUSES",
    "MAX_REDIRECTS",
    "redirect_request",
    "open_response",
    "timeout_error",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

MAX_REDIRECTS = 10
"""Hops followed before giving up: real APIs redirect once or twice (a trailing slash, a
region); a loop or a chain this long is a misconfiguration."""

_KINDS: dict[str, type[StreamTimeout]] = {
    "connect": ConnectTimeout,
    "first_byte": FirstByteTimeout,
    "first_token": FirstTokenTimeout,
    "idle": IdleTimeout,
    "read": ReadTimeout,
    "total": TotalTimeout,
}

_ADVICE = {
    "first_token": "the model produced no output in time; raise Timeouts(first_token=...) for slow "
    "reasoning models",
    "idle": "the stream stalled (keepalives do not count as progress); raise Timeouts(idle=...) if "
    "the server is known to pause",
    "read": "no bytes arrived in time; the connection may be dead — retry, or raise Timeouts(read=...)",
    "total": "the whole stream took too long; raise Timeouts(total=...)",
    "first_byte": "the server did not answer in time; check the URL, retry, or raise "
    "Timeouts(first_byte=...)",
    "connect": "could not connect in time; check the URL and the network, or raise Timeouts(connect=...)",
}


def timeout_error(kind: str, limit: float, elapsed: float, where: str = "") -> StreamTimeout:
    """The ``StreamTimeout`` subclass for ``kind``, with the one wording every loop uses."""
    at = f" ({where})" if where else ""
    return _KINDS[kind](
        f"{kind} timeout of {limit:g}s fired after {elapsed:.3f}s{at}: {_ADVICE[kind]}",
        limit=limit,
        elapsed=elapsed,
    )


@dataclass(frozen=True, slots=True)
class Limit:
    """The limit that binds next: its ``kind`` (``Timeouts`` field name), the seconds
    ``remaining`` at the time asked, the user's ``setting`` and the ``anchor`` time it counts
    from (so the elapsed time at firing is ``now - anchor``)."""

    kind: str
    remaining: float
    setting: float
    anchor: float

    def expired(self) -> bool:
        return self.remaining <= 0

    def error(self, now: float, where: str = "") -> StreamTimeout:
        return timeout_error(self.kind, self.setting, max(0.0, now - self.anchor), where)


def _tightest(candidates: Iterable[Limit]) -> Limit | None:
    best: Limit | None = None
    for limit in candidates:
        if best is None or limit.remaining < best.remaining:
            best = limit
    return best


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Which deadline binds next, from the ``Timeouts`` and the stream's timing state.

    ``start`` is when the stream began (the first attempt; ``total`` and ``first_token`` count
    from it, across retries and reconnections unless the caller restarts it). Every method takes
    ``now`` and returns the tightest ``Limit`` in force, or ``None`` when nothing bounds the
    wait. Pure: no clock, no I/O."""

    timeouts: Timeouts
    start: float

    def _common(self, now: float, got_token: bool) -> list[Limit]:
        t = self.timeouts
        out: list[Limit] = []
        if t.total is not None:
            out.append(Limit("total", self.start + t.total - now, t.total, self.start))
        if t.first_token is not None and not got_token:
            out.append(Limit("first_token", self.start + t.first_token - now, t.first_token, self.start))
        return out

    def connect(self, now: float, *, got_token: bool = False) -> Limit | None:
        """The limit on connecting (TCP + TLS): ``connect`` from ``now``, or an earlier
        ``total`` / ``first_token`` end."""
        t = self.timeouts
        candidates = self._common(now, got_token)
        if t.connect is not None:
            candidates.append(Limit("connect", t.connect, t.connect, now))
        return _tightest(candidates)

    def headers(self, now: float, sent: float, *, got_token: bool = False) -> Limit | None:
        """The limit on the wait for response headers of a request sent at ``sent``:
        ``first_byte`` from then, or an earlier ``total`` / ``first_token`` end."""
        t = self.timeouts
        candidates = self._common(now, got_token)
        if t.first_byte is not None:
            candidates.append(Limit("first_byte", sent + t.first_byte - now, t.first_byte, sent))
        return _tightest(candidates)

    def read(self, now: float, *, progress: float, got_token: bool) -> Limit | None:
        """The limit on the next body read: ``total``, ``first_token`` (until a token came),
        ``idle`` (from the last ``progress``) and ``read`` (from ``now``)."""
        t = self.timeouts
        candidates = self._common(now, got_token)
        if t.idle is not None:
            candidates.append(Limit("idle", progress + t.idle - now, t.idle, progress))
        if t.read is not None:
            candidates.append(Limit("read", t.read, t.read, now))
        return _tightest(candidates)

    def wait(self, now: float, seconds: float) -> bool:
        """Whether waiting ``seconds`` from ``now`` (a backoff) still ends before ``total``."""
        total = self.timeouts.total
        return total is None or now + seconds < self.start + total


# ----------------------------------------------------------------------------------------------
# redirects and secrets


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def is_signed(request: HTTPRequest) -> bool:
    """A request carrying an AWS SigV4 signature (header or presigned query)."""
    for name, value in request.headers.items():
        if name.lower() == "authorization" and value.strip().upper().startswith("AWS4-"):
            return True
    return "x-amz-signature=" in urlsplit(request.url).query.lower()


_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding", "content-encoding"})


def redirect_request(
    request: HTTPRequest,
    status: int,
    location: str,
    *,
    secret_headers: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
) -> HTTPRequest:
    """The request to send after ``request`` got redirect ``status`` to ``location``.

    Raises ``HTTPStatusError`` (the redirect itself, ``Location`` shown) when it must not be
    followed: an unusable ``Location`` (not http/https) or a signed request sent to another
    host. Pure: no I/O."""
    target = urljoin(request.url, location.strip())
    shown = redact_url(target)
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https") or not urlsplit(target).hostname:
        raise _not_followed(request, status, shown, headers, "its Location is not an http(s) URL")
    method, body = request.method.upper(), request.body
    new_headers = dict(request.headers)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        new_headers = {k: v for k, v in new_headers.items() if k.lower() not in _BODY_HEADERS}
    new_headers = {k: v for k, v in new_headers.items() if k.lower() != "host"}
    old, new = _origin(request.url), _origin(target)
    if old != new:
        if is_signed(request) and old[1] != new[1]:
            raise _not_followed(
                request,
                status,
                shown,
                headers,
                "a signed (AWS SigV4) request is never replayed to another host; use that host as "
                "base_url (or region) if you trust it",
            )
        # the credentials were meant for the first origin only
        new_headers = {
            k: v
            for k, v in new_headers.items()
            if not is_secret_header(k, secret_headers) and k.lower() not in ("cookie",)
        }
    return HTTPRequest(method, target, new_headers, body)


def _not_followed(
    request: HTTPRequest, status: int, shown: str, headers: Mapping[str, str] | None, why: str
) -> HTTPStatusError:
    return HTTPStatusError(
        f"HTTP {status} redirect from {redact_url(request.url)} to {shown} was not followed: {why}",
        status=status,
        headers=headers,
        url=redact_url(request.url),
    )


# ----------------------------------------------------------------------------------------------
# opening


def supports_abort(transport: Transport) -> bool:
    return bool(getattr(transport, "supports_abort", False))


def _open_in_thread(
    transport: Transport, request: HTTPRequest, abort: AbortHandle, kwargs: dict[str, Any]
) -> TransportResponse:
    """For a transport that cannot be aborted (a caller's own object): ``open`` runs in a helper
    thread so that ``abort()`` still releases the caller at once; a response that arrives after
    the caller left is closed by the helper. Our transports never take this path."""
    done = threading.Event()
    lock = threading.Lock()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            response = transport.open(request, **kwargs)
        except BaseException as exc:  # handed to the caller
            with lock:
                box["error"] = exc
            done.set()
            return
        with lock:
            abandoned = "abandoned" in box
            if not abandoned:
                box["response"] = response
        if abandoned:
            try:
                response.close()
            except Exception:  # nobody is left to tell
                pass
        done.set()

    abort.on_abort(done.set)
    threading.Thread(target=work, name="sansstream-open", daemon=True).start()
    done.wait()
    with lock:
        if "response" in box:
            return box["response"]  # type: ignore[no-any-return]
        if "error" in box:
            raise box["error"]
        box["abandoned"] = True
    raise StreamCancelled("the request was cancelled while waiting for the response")


def open_once(
    transport: Transport,
    request: HTTPRequest,
    deadlines: Deadlines,
    clock: Callable[[], float],
    *,
    abort: AbortHandle | None = None,
    got_token: bool = False,
) -> TransportResponse:
    """One ``transport.open`` bounded by the tightest connect and header limits, with the
    transport's timeout renamed after the limit that really fired."""
    now = clock()
    connect = deadlines.connect(now, got_token=got_token)
    header = deadlines.headers(now, now, got_token=got_token)
    for limit in (connect, header):
        if limit is not None and limit.expired():
            raise limit.error(now)
    kwargs: dict[str, Any] = {
        "connect_timeout": None if connect is None else connect.remaining,
        "first_byte_timeout": None if header is None else header.remaining,
    }
    try:
        if abort is None:
            return transport.open(request, **kwargs)
        if supports_abort(transport):
            kwargs["abort"] = abort  # the optional keyword of abortable transports
            return transport.open(request, **kwargs)
        return _open_in_thread(transport, request, abort, kwargs)
    except ConnectTimeout:
        if abort is not None and abort.aborted:
            raise StreamCancelled("the request was cancelled while connecting") from None
        if connect is None or connect.kind == "connect":
            raise
        raise connect.error(clock(), redact_url(request.url)) from None
    except FirstByteTimeout:
        if abort is not None and abort.aborted:
            raise StreamCancelled("the request was cancelled while waiting for the response") from None
        if header is None or header.kind == "first_byte":
            raise
        raise header.error(clock(), redact_url(request.url)) from None


def open_response(
    transport: Transport,
    request: HTTPRequest,
    deadlines: Deadlines,
    clock: Callable[[], float],
    *,
    abort: AbortHandle | None = None,
    got_token: bool = False,
    secret_headers: Iterable[str] = (),
    max_redirects: int = MAX_REDIRECTS,
    on_redirect: Callable[[HTTPRequest], HTTPRequest] | None = None,
) -> TransportResponse:
    """Open ``request``, following redirects by ``redirect_request``'s rules. Returns the first
    response that is not a followable redirect (the caller checks its status)."""
    hops = 0
    secret_headers = tuple(secret_headers)
    while True:
        response = open_once(transport, request, deadlines, clock, abort=abort, got_token=got_token)
        location = response.headers.get("location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        try:
            response.close()
        except Exception:
            pass
        if hops >= max_redirects:
            raise HTTPStatusError(
                f"HTTP {response.status} from {redact_url(request.url)}: gave up after {max_redirects} "
                f"redirects (the last pointed to {redact_url(urljoin(request.url, location))}); "
                "the server redirects in a loop — fix base_url",
                status=response.status,
                headers=response.headers,
                url=redact_url(request.url),
            )
        request = redirect_request(
            request, response.status, location, secret_headers=secret_headers, headers=response.headers
        )
        if on_redirect is not None:
            request = on_redirect(request)
        hops += 1
