"""Recording live streams to fixture files, and replaying them as a transport.

``RecordingTransport(inner, path)`` wraps any transport and writes what crossed the wire —
the request (secrets redacted), the status and headers, and every body slice exactly as it
arrived, with its arrival time — to one file. ``ReplayTransport(path)`` serves such a file back,
instantly or at the recorded pace, with the same ``read(timeout)`` semantics as a live
transport, so the API layer cannot tell the difference. ``load_recording`` / ``save_recording``
give the file as a ``Recording`` for the CLI (``parse``, ``serve``) and for tests.

File format (UTF-8 JSON lines, one object per line, diff-friendly)::

    {"sansstream_recording": 1, "request": {"method": "POST", "url": "…", "headers": {…},
     "body": "<text>"}, "status": 200, "url": "…", "headers": [["content-type", "text/event-stream"]],
     "t": 0.0412}
    {"t": 0.0533, "data": "data: {\\"x\\": 1}\\n\\n"}
    {"t": 0.0541, "b64": "AAAAUgAAAEP…"}
    {"t": 0.0549, "end": "eof"}

- The first line is the header: the request as sent (``body`` as text, or ``body_b64``), the
  response ``status``, final ``url`` and ``headers`` (a list of pairs: order and repeats kept),
  and ``t``, when the headers arrived. If the request failed before any response, ``status`` is
  null and the end line carries the error.
- Then one line per body slice, in order: ``t`` is seconds since the request was sent; the bytes
  are ``data`` (when the slice is valid UTF-8 on its own) or ``b64`` (standard base64). U+2028,
  U+2029 and U+0085 are written as ``\\u`` escapes, so no line splitter sees a break inside a
  record.
- The last line is the end: ``"end": "eof"`` (the body ended normally), ``"closed"`` (the reader
  stopped early) or ``"error"`` with ``"error": {"type": "TransportError", "message": "…"}``. A
  file without an end line was cut short (the process died while recording).

Secrets are never written: values of ``authorization``, ``x-api-key``, ``api-key``,
``x-goog-api-key``, ``proxy-authorization``, ``x-amz-security-token``, ``cookie`` and
``set-cookie`` headers, URL query parameters such as ``key=`` (Gemini) and the AWS presigning
ones, and JSON body fields named like keys/tokens become ``<redacted>``; any other occurrence of
those secret values (in the body text or, should a server echo one, in a response slice) is
replaced too. Files that are not recordings (a raw ``.sse`` / ``.ndjson`` / ``.bin`` / ``.json``
body) load as a single-slice 200 response, so fixtures can be served directly.
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import model as _model
from ..model import (
    SECRET_HEADERS,
    FirstByteTimeout,
    HTTPRequest,
    LocalProtocolError,
    SansStreamError,
    StreamCancelled,
    TransportError,
)
from ._base import AbortHandle, Transport, TransportResponse
from ._http import Headers, read_timeout_error
from ._secrets import SECRET_QUERY, redact_url, scrub, scrub_values, secret_values

__all__ = [
    "RecordingTransport",
    "ReplayTransport",
    "Recording",
    "RecordedRequest",
    "RecordedSlice",
    "load_recording",
    "save_recording",
    "replay",
    "redact_url",
]

FORMAT_VERSION = 1
REDACTED = "<redacted>"

_SECRET_HEADERS = SECRET_HEADERS | {"cookie", "set-cookie"}
_SECRET_QUERY = SECRET_QUERY

_SECRET_JSON_KEYS = frozenset(
    {"api_key", "apikey", "api-key", "access_token", "secret", "client_secret", "password", "token"}
)


_CONTENT_TYPES = {
    ".sse": "text/event-stream",
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".bin": "application/vnd.amazon.eventstream",
    ".json": "application/json",
}


# Characters that some line splitters (str.splitlines, JavaScript) treat as line breaks; JSON
# leaves them raw inside strings, so they are escaped to keep one record per line everywhere.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        if raw in text:
            text = text.replace(raw, escaped)
    return text


# -------------------------------------------------------------------------------- redaction


def _secret_values(request: HTTPRequest) -> list[str]:
    """The secret strings in a request, to scrub them wherever else they appear."""
    return secret_values(request.headers, request.url, extra_headers=("cookie",))


def _scrub(text: str, secrets: list[str]) -> str:
    return scrub(text, secrets)


class _SliceScrubber:
    """Scrubs body slices as one stream, so that a secret split across slices (or inside a slice
    that is not valid UTF-8 on its own) is still found; works on bytes.

    A slice is held back until the bytes after it are enough to rule out a secret starting in it
    (the longest secret's length), then released with its arrival time and split point; a secret
    spanning slices becomes ``<redacted>`` in the slice where it starts and is cut from the next."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = sorted({x.encode("utf-8") for x in secrets if x}, key=len, reverse=True)
        self._need = max((len(x) for x in self._secrets), default=1) - 1
        self._pending: list[tuple[float, int]] = []  # (arrival time, length) of held slices
        self._buf = b""
        self._skip = 0  # bytes at the start of _buf already inside a redaction

    def feed(self, t: float, data: bytes) -> list[tuple[float, bytes]]:
        if not self._secrets:
            return [(t, data)]
        self._pending.append((t, len(data)))
        self._buf += data
        out: list[tuple[float, bytes]] = []
        while self._pending and len(self._buf) - self._pending[0][1] >= self._need:
            out.extend(self._release())
        return out

    def flush(self) -> list[tuple[float, bytes]]:
        out: list[tuple[float, bytes]] = []
        while self._pending:
            out.extend(self._release())
        return out

    def _release(self) -> list[tuple[float, bytes]]:
        t, end = self._pending.pop(0)
        buf = self._buf
        out = bytearray()
        pos = self._skip
        while pos < end:
            best: tuple[int, bytes] | None = None
            for secret in self._secrets:  # longest first: ties keep the longest
                i = buf.find(secret, pos)
                if i != -1 and i < end and (best is None or i < best[0]):
                    best = (i, secret)
            if best is None:
                out += buf[pos:end]
                pos = end
                break
            out += buf[pos : best[0]] + REDACTED.encode()
            pos = best[0] + len(best[1])
        self._buf = buf[end:]
        self._skip = max(0, pos - end)
        # a slice that was all inside a redaction is dropped: an empty slice would read as EOF
        return [(t, bytes(out))] if out else []


def _redact_json(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in _SECRET_JSON_KEYS and v not in (None, ""):
                out[k] = REDACTED
                changed = True
            else:
                out[k], sub = _redact_json(v)
                changed = changed or sub
        return out, changed
    if isinstance(value, list):
        items = [_redact_json(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _request_record(request: HTTPRequest, secrets: list[str]) -> dict[str, Any]:
    headers = {k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()}
    record: dict[str, Any] = {"method": request.method, "url": redact_url(request.url), "headers": headers}
    body = request.body
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            record["body_b64"] = base64.b64encode(bytes(body)).decode("ascii")
        else:
            try:
                parsed = json.loads(text)
            except ValueError:
                pass
            else:
                cleaned, changed = _redact_json(parsed)
                if changed:
                    text = json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))
            record["body"] = _scrub(text, secrets)
    return record


def _error_record(exc: BaseException, secrets: list[str]) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": scrub(str(exc), secrets)}


def _error_from_record(record: Mapping[str, Any] | None, where: str) -> SansStreamError:
    """Rebuild a recorded error: our own class when it takes a plain message, else a
    ``TransportError`` naming the original."""
    record = record or {}
    name = str(record.get("type", "TransportError"))
    message = str(record.get("message", "the recorded stream failed"))
    cls = getattr(_model, name, None)
    simple = (TransportError, _model.StreamTimeout, _model.RemoteProtocolError, StreamCancelled)
    if isinstance(cls, type) and issubclass(cls, simple) and cls is not _model.IncompleteStreamError:
        try:
            error: SansStreamError = cls(f"{message} (replayed from {where})")
            return error
        except TypeError:
            pass
    return TransportError(f"{name}: {message} (replayed from {where})")


# -------------------------------------------------------------------------------- recording


class _Writer:
    """Appends JSON lines to the recording file, one flush per line, from any thread."""

    def __init__(self, path: Path, secrets: list[str], started: float) -> None:
        self._file: IO[str] | None = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        self._secrets = secrets
        self._scrubber = _SliceScrubber(secrets)
        self._started = started
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return round(time.monotonic() - self._started, 6)

    def line(self, obj: Mapping[str, Any]) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write(_dumps(obj) + "\n")
            self._file.flush()

    def slice(self, data: bytes) -> None:
        with self._lock:
            ready = self._scrubber.feed(self.elapsed(), data)
        self._write_slices(ready)

    def _write_slices(self, ready: list[tuple[float, bytes]]) -> None:
        for t, piece in ready:
            entry: dict[str, Any] = {"t": t}
            try:
                entry["data"] = piece.decode("utf-8")
            except UnicodeDecodeError:
                entry["b64"] = base64.b64encode(piece).decode("ascii")
            self.line(entry)

    def end(self, how: str, error: BaseException | None = None) -> None:
        with self._lock:
            ready = self._scrubber.flush()
        self._write_slices(ready)
        entry: dict[str, Any] = {"t": self.elapsed(), "end": how}
        if error is not None:
            entry["error"] = _error_record(error, self._secrets)
        self.line(entry)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class RecordingTransport:
    """Wrap ``inner`` and record every exchange to ``path`` (format in the module docstring).

    One recording per file: each ``open()`` starts the file afresh, so when the API layer retries,
    the file holds the last attempt. ``close()`` closes the inner transport."""

    def __init__(self, inner: Transport, path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.path = Path(path)

    @property
    def supports_abort(self) -> bool:
        return bool(getattr(self.inner, "supports_abort", False))

    def open(
        self,
        request: HTTPRequest,
        *,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
        abort: AbortHandle | None = None,
    ) -> TransportResponse:
        started = time.monotonic()
        secrets = _secret_values(request)
        writer = _Writer(self.path, secrets, started)
        header: dict[str, Any] = {
            "sansstream_recording": FORMAT_VERSION,
            "request": _request_record(request, secrets),
        }
        try:
            kwargs: dict[str, Any] = {}
            if abort is not None and self.supports_abort:
                kwargs["abort"] = abort
            response = self.inner.open(
                request, connect_timeout=connect_timeout, first_byte_timeout=first_byte_timeout, **kwargs
            )
        except BaseException as exc:
            failed: dict[str, Any] = {
                "status": None,
                "url": redact_url(request.url),
                "headers": [],
                "t": writer.elapsed(),
            }
            writer.line({**header, **failed})
            writer.end("error", exc)
            raise
        headers = response.headers
        pairs = headers.raw_items() if isinstance(headers, Headers) else list(headers.items())
        writer.line(
            {
                **header,
                "status": response.status,
                "url": redact_url(response.url),
                "headers": [
                    [k, REDACTED if k.lower() in _SECRET_HEADERS else scrub_values(v, secrets)]
                    for k, v in pairs
                ],
                "t": writer.elapsed(),
            }
        )
        return _RecordingResponse(response, writer)

    def close(self) -> None:
        self.inner.close()


class _RecordingResponse:
    def __init__(self, inner: TransportResponse, writer: _Writer) -> None:
        self._inner = inner
        self._writer = writer
        self.status = inner.status
        self.headers = inner.headers
        self.url = inner.url
        self._ended = False
        self._lock = threading.Lock()

    def _end(self, how: str, error: BaseException | None = None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        self._writer.end(how, error)

    def read(self, timeout: float | None = None) -> bytes:
        try:
            data = self._inner.read(timeout)
        except StreamCancelled:
            self._end("closed")
            raise
        except BaseException as exc:
            self._end("error", exc)
            raise
        if data:
            self._writer.slice(data)
        else:
            self._end("eof")
        return data

    def close(self) -> None:
        self._inner.close()
        self._end("closed")


# -------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None


@dataclass(frozen=True)
class RecordedSlice:
    t: float
    """Seconds since the request was sent."""
    data: bytes


@dataclass(frozen=True)
class Recording:
    """A recorded exchange. ``end`` is ``"eof"``, ``"closed"``, ``"error"`` or ``"missing"`` (the
    file was cut short); ``error`` is ``{"type", "message"}`` when ``end == "error"``."""

    status: int | None
    headers: Headers
    url: str
    slices: tuple[RecordedSlice, ...]
    request: RecordedRequest | None = None
    t_headers: float = 0.0
    end: str = "eof"
    error: Mapping[str, str] | None = None
    path: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        return b"".join(s.data for s in self.slices)

    def chunks(self) -> list[bytes]:
        """The body slices as they arrived (feed them to ``decode_stream``)."""
        return [s.data for s in self.slices]

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def _bad(path: Path, lineno: int, why: str) -> LocalProtocolError:
    return LocalProtocolError(
        f"{path}:{lineno}: not a valid sansstream recording ({why}); record one with "
        "RecordingTransport or stream_chat(record=...)"
    )


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording; a file that is not one (a raw ``.sse``/``.ndjson``/``.bin``/``.json`` body)
    loads as a 200 response whose body is the whole file, in one slice."""
    p = Path(path)
    raw = p.read_bytes()
    if not raw.lstrip().startswith(b'{"sansstream_recording"'):
        ctype = _CONTENT_TYPES.get(p.suffix.lower(), "application/octet-stream")
        return Recording(
            status=200,
            headers=Headers([("content-type", ctype)]),
            url=p.resolve().as_uri(),
            slices=(RecordedSlice(0.0, raw),) if raw else (),
            path=str(p),
        )
    lines = [line for line in raw.split(b"\n") if line.strip()]
    try:
        head = json.loads(lines[0])
    except ValueError as exc:
        raise _bad(p, 1, f"bad JSON: {exc}") from None
    if head.get("sansstream_recording") != FORMAT_VERSION:
        raise _bad(p, 1, f"unsupported format version {head.get('sansstream_recording')!r}")
    slices: list[RecordedSlice] = []
    end = "missing"
    error = None
    for lineno, line in enumerate(lines[1:], start=2):
        try:
            obj = json.loads(line)
            t = float(obj.get("t", 0.0))
            if "end" in obj:
                end = str(obj["end"])
                error = obj.get("error")
                break
            if "data" in obj:
                data = str(obj["data"]).encode("utf-8")
            elif "b64" in obj:
                data = base64.b64decode(obj["b64"], validate=True)
            else:
                raise ValueError("a line has neither data, b64 nor end")
        except (ValueError, TypeError, AttributeError) as exc:
            raise _bad(p, lineno, str(exc)) from None
        slices.append(RecordedSlice(t, data))
    req = head.get("request")
    request = None
    if isinstance(req, dict):
        body: bytes | None = None
        if "body" in req:
            body = str(req["body"]).encode("utf-8")
        elif "body_b64" in req:
            body = base64.b64decode(req["body_b64"])
        request = RecordedRequest(
            method=str(req.get("method", "")),
            url=str(req.get("url", "")),
            headers=dict(req.get("headers") or {}),
            body=body,
        )
    status = head.get("status")
    response_headers = [(str(k), str(v)) for k, v in head.get("headers") or []]
    for name, value in response_headers:
        # A CR or LF (or NUL) would let a shared recording inject headers when it is served again.
        if any(c in name or c in value for c in "\r\n\x00"):
            raise _bad(p, 1, f"the recorded header {name!r} holds a CR, LF or NUL character")
    return Recording(
        status=None if status is None else int(status),
        headers=Headers(response_headers),
        url=str(head.get("url", "")),
        slices=tuple(slices),
        request=request,
        t_headers=float(head.get("t", 0.0)),
        end=end,
        error=error,
        path=str(p),
    )


def save_recording(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write ``recording`` in the file format (e.g. after editing one, or built by hand)."""
    head: dict[str, Any] = {"sansstream_recording": FORMAT_VERSION}
    if recording.request is not None:
        req = HTTPRequest(
            recording.request.method, recording.request.url, recording.request.headers, recording.request.body
        )
        head["request"] = _request_record(req, _secret_values(req))
    head.update(
        status=recording.status,
        url=redact_url(recording.url),
        headers=[
            [k, REDACTED if k.lower() in _SECRET_HEADERS else v] for k, v in recording.headers.raw_items()
        ],
        t=recording.t_headers,
    )
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(_dumps(head) + "\n")
        for s in recording.slices:
            entry: dict[str, Any] = {"t": s.t}
            try:
                entry["data"] = s.data.decode("utf-8")
            except UnicodeDecodeError:
                entry["b64"] = base64.b64encode(s.data).decode("ascii")
            f.write(_dumps(entry) + "\n")
        if recording.end != "missing":
            last = recording.slices[-1].t if recording.slices else 0.0
            end: dict[str, Any] = {"t": last, "end": recording.end}
            if recording.error:
                end["error"] = dict(recording.error)
            f.write(_dumps(end) + "\n")


# -------------------------------------------------------------------------------- replaying


def replay(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """The recorded body slices of ``path``, instantly; raises the recorded error at the end, if
    the recording ended with one. ``decode_stream(provider, replay(path))`` is the usual use."""
    rec = load_recording(path)
    yield from rec.chunks()
    if rec.end == "error":
        raise _error_from_record(rec.error, rec.path)


class ReplayTransport:
    """A transport that serves a recording instead of touching the network.

    ``speed=None`` serves every slice at once; ``speed=1.0`` at the recorded pace, ``2.0`` twice as
    fast. ``read(timeout)`` raises ``ReadTimeout`` when the next slice is due later than
    ``timeout`` (after waiting that long), exactly as a live transport would. Every ``open()``
    replays from the start, whatever the request (``requests`` lists what was asked)."""

    def __init__(self, path: str | os.PathLike[str], *, speed: float | None = None) -> None:
        if speed is not None and not speed > 0:
            raise LocalProtocolError(
                f"speed must be positive (1.0 = recorded pace) or None (instant), not {speed!r}"
            )
        self.path = Path(path)
        self.speed = speed
        self.recording = load_recording(self.path)
        self.requests: list[HTTPRequest] = []
        self._responses: list[_ReplayResponse] = []

    supports_abort = True

    def open(
        self,
        request: HTTPRequest,
        *,
        connect_timeout: float | None = None,
        first_byte_timeout: float | None = None,
        abort: AbortHandle | None = None,
    ) -> TransportResponse:
        if abort is not None and abort.aborted:
            raise StreamCancelled("the request was cancelled before it was sent")
        self.requests.append(request)
        rec = self.recording
        if rec.status is None:
            raise _error_from_record(rec.error, str(self.path))
        response = _ReplayResponse(rec, self.speed)
        if self.speed is not None and rec.t_headers > 0:
            wait = rec.t_headers / self.speed
            if first_byte_timeout is not None and wait > first_byte_timeout:
                response.cancel_event.wait(first_byte_timeout)
                raise FirstByteTimeout(
                    f"first-byte timeout: the replayed headers are due after {wait:.3f}s, beyond "
                    f"the {first_byte_timeout:g}s limit; replay faster (speed=) or raise Timeouts.first_byte",
                    limit=first_byte_timeout,
                    elapsed=first_byte_timeout,
                )
            response.cancel_event.wait(_bounded(wait))
        self._responses.append(response)
        return response

    def close(self) -> None:
        for response in self._responses:
            response.close()
        self._responses.clear()


def _bounded(seconds: float) -> float:
    """A wait ``Event.wait`` accepts: a recorded ``t`` of 1e308 (or inf) must not overflow it."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), threading.TIMEOUT_MAX)


class _ReplayResponse:
    def __init__(self, rec: Recording, speed: float | None) -> None:
        self._rec = rec
        self._speed = speed
        self.status: int = rec.status or 0
        self.headers: Mapping[str, str] = rec.headers
        self.url: str = rec.url
        self._next = 0
        self._started = time.monotonic()  # made when open() is called: the request's send time
        self.cancel_event = threading.Event()
        self._closed = False
        self._eof = False

    def read(self, timeout: float | None = None) -> bytes:
        if self._eof:
            return b""
        if self._closed:
            raise StreamCancelled("the response was closed; nothing more can be read from it")
        rec = self._rec
        if self._next >= len(rec.slices):
            if rec.end == "error":
                self._closed = True
                raise _error_from_record(rec.error, rec.path)
            # "eof", or "closed"/"missing": the recorded body stops here; the provider decoder
            # judges whether it was complete
            self._eof = True
            return b""
        piece = rec.slices[self._next]
        if self._speed is not None:
            now = time.monotonic()
            wait = self._started + piece.t / self._speed - now
            if wait > 0:
                if timeout is not None and wait > timeout:
                    if self.cancel_event.wait(_bounded(timeout)):
                        raise StreamCancelled("the stream was cancelled (closed while reading)")
                    raise read_timeout_error(timeout, time.monotonic() - now)
                if self.cancel_event.wait(_bounded(wait)):
                    raise StreamCancelled("the stream was cancelled (closed while reading)")
        self._next += 1
        return piece.data

    def close(self) -> None:
        self._closed = True
        self.cancel_event.set()
