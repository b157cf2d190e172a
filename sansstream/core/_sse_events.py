"""Building the parser's results: decoding bytes to text, and events built fast.

The rules (``_sse.py``) and the speed routes (``_sse_routes.py``) both end a block by building a
:class:`ServerSentEvent`; this module is the one place that does it. Events are built as drafts
relabelled as ``ServerSentEvent`` (see ``sansstream.model._drafts``): the frozen dataclass
``__init__`` would cost as much as all the parsing. Where relabelling is refused the plain
constructor is used; the results are equal either way.
"""

from __future__ import annotations

from typing import Any, Final

from ..model import ServerSentEvent, draft_class

__all__: list[str] = []

# The draft class for ServerSentEvent, or None where relabelling does not give equal events.
_Draft: Final = draft_class(ServerSentEvent, {"data": "d", "event": "e", "id": "i", "retry": 1})

# Decoded event names (``event: content_block_delta``): looking a name up beats decoding it. A
# stream uses a handful of names, so the first ones seen are kept; the cache stops growing at
# _NAME_CACHE_MAX entries of at most _NAME_CACHE_KEY bytes, so no stream can make it hold more.
# (No provider's names are listed here: the core knows none.)
_NAME_CACHE: Final[dict[bytes, str]] = {}
_NAME_CACHE_MAX: Final = 256
_NAME_CACHE_KEY: Final = 64


def decode(raw: bytes) -> str:
    """The WHATWG "UTF-8 decode": each maximal invalid subpart becomes one U+FFFD, which is what
    CPython's "replace" error handler does."""
    return raw.decode("utf-8", "replace")


def event_name(raw: bytes) -> str:
    """The decoded event type buffer (looked up in the bounded cache first)."""
    name = _NAME_CACHE.get(raw)
    if name is None:
        name = decode(raw)
        if len(_NAME_CACHE) < _NAME_CACHE_MAX and len(raw) <= _NAME_CACHE_KEY:
            _NAME_CACHE[raw] = name
    return name


def make_event(text: str, event: str, id: str, retry: int | None) -> ServerSentEvent:
    """``ServerSentEvent(text, event, id, retry)``, built as a draft when it can be."""
    if _Draft is None:  # pragma: no cover
        return ServerSentEvent(text, event, id, retry)
    draft = _Draft()
    draft.data = text
    draft.event = event
    draft.id = id
    draft.retry = retry
    draft.__class__ = ServerSentEvent
    return draft  # type: ignore[no-any-return]


def block_event(raw: bytes, raw_type: bytes, id: str, retry: int | None) -> ServerSentEvent:
    """The event a blank line dispatches: ``raw`` is the data buffer (lines joined with LF),
    ``raw_type`` the event type buffer. "If the event type buffer has a value other than the
    empty string, set the type of the newly created event to equal the value of the event type
    buffer", else ``message``. (Strict decoding first: it is CPython's quicker path, and invalid
    UTF-8 is rare.)"""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = decode(raw)
    return make_event(text, event_name(raw_type) if raw_type else "message", id, retry)


def append_events(out: list[Any], texts: list[str], id: str, names: list[str] | None = None) -> None:
    """Append one event per text (named by ``names``, else ``message``), all with the same id
    and no retry: the bulk routes' loop, without a call per event."""
    draft = _Draft
    if draft is None:  # pragma: no cover
        kinds = names or ["message"] * len(texts)
        out += [ServerSentEvent(t, k, id, None) for t, k in zip(texts, kinds, strict=True)]
        return
    append = out.append
    cls = ServerSentEvent
    # Two loops, not one over zip(names or repeat("message"), texts): the one-loop form measured
    # x0.94-0.95 on OpenAI-shaped streams at 4 KiB slices (benchmarks/ab.py, 7 rounds).
    if names is None:
        for text in texts:
            made = draft()
            made.data = text
            made.event = "message"
            made.id = id
            made.retry = None
            made.__class__ = cls
            append(made)
        return
    for name, text in zip(names, texts, strict=True):
        made = draft()
        made.data = text
        made.event = name
        made.id = id
        made.retry = None
        made.__class__ = cls
        append(made)
