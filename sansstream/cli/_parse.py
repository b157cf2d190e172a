"""``sansstream parse``: fixture bytes → wire events, chunks or the final result, as JSON lines.

Input is a recording (the JSON-lines format of ``sansstream.transports._replay``) or a raw body
file. When not given, the framing is guessed from the recorded content type, else the file
extension (``.sse`` → sse, ``.ndjson``/``.jsonl`` → ndjson, ``.bin`` → eventstream, ``.json`` →
json-array), else the bytes; the provider from the recorded request URL, else the folder name
(``openai-chat/``, ``anthropic/``…), else the shape of the first events.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..core import make_parser
from ..model import (
    END,
    NEED_DATA,
    Comment,
    ConfigurationError,
    JSONValue,
    SansStreamError,
    ServerSentEvent,
    SSEField,
    WireEvent,
)
from ..providers import Provider, StreamDecoder
from ..providers import get as get_provider
from ..providers import names as provider_names
from ..transports import Recording

__all__ = [
    "guess_framing",
    "guess_provider",
    "guess_provider_why",
    "event_to_dict",
    "iter_wire_events",
    "decode_chunks",
]

_EXTENSIONS = {
    ".sse": "sse",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".bin": "eventstream",
    ".eventstream": "eventstream",
    ".json": "json-array",
}

_CONTENT_TYPES = (
    ("text/event-stream", "sse"),
    ("application/x-ndjson", "ndjson"),
    ("application/ndjson", "ndjson"),
    ("application/jsonl", "ndjson"),
    ("application/vnd.amazon.eventstream", "eventstream"),
    ("application/json", "json-array"),
)

# Folder names of recordings that are not a provider's own name.
_FOLDER_ALIASES = {"openai-chat": "openai", "openai-compatible": "openai"}


def _providers() -> list[Provider]:
    """Every registered provider that loads (``providers.get`` reports why one does not)."""
    found = []
    for name in provider_names():
        try:
            found.append(get_provider(name))
        except ConfigurationError:
            continue
    return found


def _url_hints(providers: list[Provider]) -> list[tuple[str, str]]:
    """``(hint, provider)`` for every ``Provider.url_hints`` entry and the host of every
    ``default_base_url``, most specific first: more pieces, then a host, then longer; ties in
    registry order."""
    hints: list[tuple[str, str]] = []
    for provider in providers:
        own = [hint.lower() for hint in provider.url_hints]
        host = urlsplit(provider.default_base_url).netloc.lower()
        if host and host not in own:
            own.append(host)
        hints += [(hint, provider.name) for hint in own]

    def rank(item: tuple[str, str]) -> tuple[int, int, int]:
        pieces = item[0].split()
        return (-len(pieces), 0 if any("." in piece for piece in pieces) else 1, -len(item[0]))

    return sorted(hints, key=rank)


def guess_framing(recording: Recording, path: Path) -> str:
    ctype = (recording.content_type or "").lower()
    is_recording = recording.request is not None or not recording.url.startswith("file:")
    if is_recording or ctype not in ("", "application/octet-stream"):
        for prefix, framing in _CONTENT_TYPES:
            if ctype.startswith(prefix):
                return framing
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    return _sniff_framing(recording.body)


def _sniff_framing(body: bytes) -> str:
    head = body.lstrip()[:64]
    if head.startswith(b"["):
        return "json-array"
    if head.startswith(b"{"):
        return "ndjson"
    if head[:1] == b":" or any(head.startswith(f) for f in (b"data:", b"event:", b"id:", b"retry:")):
        return "sse"
    if len(body) >= 12 and body[:4] != b"\x00\x00\x00\x00" and not head[:1].isalpha():
        return "eventstream"
    raise ConfigurationError(
        "cannot tell the framing of this file from its name or content; pass --framing "
        "sse|ndjson|json-array|eventstream"
    )


def guess_provider(recording: Recording, path: Path, framing: str) -> str:
    """The provider that wrote the stream (see ``guess_provider_why``)."""
    return guess_provider_why(recording, path, framing)[0]


def guess_provider_why(recording: Recording, path: Path, framing: str) -> tuple[str, str]:
    """``(provider, what the guess rests on)``: the recorded request URL, the folder name, or the
    first wire events of the content. Every registered provider takes part (its ``url_hints``
    and ``looks_like``)."""
    providers = _providers()
    url = ""
    if recording.request is not None:
        url = recording.request.url.lower()
    elif not recording.url.startswith("file:"):
        url = recording.url.lower()
    if url:
        for hint, name in _url_hints(providers):
            if all(piece in url for piece in hint.split()):
                return name, f"the recorded request URL (it contains {hint!r})"
    known = {provider.name for provider in providers}
    for folder in (path.parent.name, path.parent.parent.name):
        name = _FOLDER_ALIASES.get(folder.lower(), folder.lower())
        if name in known:
            return name, f"the folder name {folder!r}"
    return _sniff_provider(recording.body, framing, providers), "the content (its first wire events)"


def _sniff_provider(body: bytes, framing: str, providers: list[Provider]) -> str:
    events: list[WireEvent] = []
    try:
        parser = make_parser(framing)
        parser.receive_data(body[:65536])
        while len(events) < 20:
            event = parser.next_event()
            if event is NEED_DATA or event is END:
                break
            events.append(event)
    except SansStreamError:
        pass
    # The stream's first events decide, in order: the first prefix some provider claims. A
    # provider that defines looks_like itself wins over those that inherit it (the presets
    # inherit OpenAI's); then registry order.
    for end in range(1, len(events) + 1):
        claims = [p for p in providers if p.looks_like(events[:end])]
        if claims:
            claims.sort(key=lambda p: "looks_like" not in type(p).__dict__)
            return claims[0].name
    raise ConfigurationError(
        "cannot tell which provider wrote this stream; pass --provider (one of: "
        f"{', '.join(p.name for p in providers)})"
    )


def _text_or_b64(data: bytes) -> dict[str, str]:
    try:
        return {"payload": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"payload_b64": base64.b64encode(data).decode("ascii")}


def event_to_dict(event: WireEvent) -> dict[str, Any]:
    """A JSON-ready dict of one wire event, tagged with ``kind``."""
    if isinstance(event, ServerSentEvent):
        out: dict[str, Any] = {"kind": "sse", "event": event.event, "data": event.data}
        if event.id:
            out["id"] = event.id
        if event.retry is not None:
            out["retry"] = event.retry
        return out
    if isinstance(event, Comment):
        return {"kind": "comment", "text": event.text}
    if isinstance(event, SSEField):
        return {"kind": "field", "name": event.name, "value": event.value}
    if isinstance(event, JSONValue):
        return {"kind": "json", "value": event.value, "line": event.line, "index": event.index}
    # What remains is an EventStreamMessage, the last kind of WireEvent.
    headers = {
        k: (base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v)
        for k, v in event.headers.items()
    }
    return {"kind": "eventstream", "headers": headers, **_text_or_b64(event.payload)}


def iter_wire_events(framing: str, pieces: Iterable[bytes], options: dict[str, Any]) -> Iterator[WireEvent]:
    parser = make_parser(framing, **options)
    for piece in [*(p for p in pieces if p), b""]:
        parser.receive_data(piece)
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if event is END:
                return
            yield event


def decode_chunks(machine: StreamDecoder, pieces: Iterable[bytes]) -> Iterator[Any]:
    for piece in [*(p for p in pieces if p), b""]:
        machine.receive_data(piece)
        while True:
            chunk = machine.next_chunk()
            if chunk is NEED_DATA:
                break
            if chunk is END:
                return
            yield chunk
