"""The one rule for writing JSON that goes on the wire (SSE data, NDJSON lines, WebSocket text).

Every writer in sansstream (the core encoders, the server helpers, the provider wire encoders, the
WebSocket helpers) serialises through :func:`dumps_wire`, so a value is either written the same way
everywhere or refused the same way everywhere:

- **Lone surrogates are escaped.** A Python ``str`` may hold a lone surrogate (an upstream that split
  a pair across two deltas, ``"\\ud83d"`` then ``"\\ude00"``). It cannot be encoded as UTF-8, but
  JSON can carry it as a ``\\uXXXX`` escape, which ``JSON.parse`` and ``json.loads`` both read back as
  the same lone surrogate. Relaying what was received therefore never fails.
- **Non-finite floats are refused.** ``NaN`` and ``Infinity`` are not JSON (RFC 8259 §6): browsers'
  ``JSON.parse`` throws on them. Writing them would hand every JavaScript client a stream it cannot
  read, and writing ``null`` instead would silently change the value, so :func:`dumps_wire` raises
  :class:`~sansstream.LocalProtocolError` naming what to do, before any byte of the value is written.
- Otherwise the text is compact (``","`` and ``":"``) and non-ASCII characters are written as
  themselves (UTF-8 on the wire), which is what every provider sends.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..model import LocalProtocolError

__all__ = ["dumps_wire"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# Surrogates can only appear inside JSON strings (everything else json writes is ASCII), so replacing
# each one with its escape keeps the text valid JSON.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps_wire(value: Any) -> str:
    """``value`` as compact JSON text that encodes to UTF-8 and that every JSON parser accepts.

    Raises ``LocalProtocolError`` (message starting "cannot encode") for NaN and infinities and
    for what JSON has no form for (sets, bytes, arbitrary objects, circular structures)."""
    try:
        text = _ENCODER.encode(value)
    except ValueError as exc:
        if "JSON compliant" in str(exc):
            raise LocalProtocolError(
                "cannot encode NaN or Infinity as JSON (browsers' JSON.parse rejects them): "
                "replace non-finite floats (e.g. with None or a string) before sending"
            ) from None
        raise LocalProtocolError(f"cannot encode a {type(value).__name__} value as JSON: {exc}") from None
    except (TypeError, RecursionError) as exc:
        raise LocalProtocolError(
            f"cannot encode a {type(value).__name__} value as JSON: {exc}; convert it to "
            "dicts, lists, strings, numbers, booleans and None first"
        ) from None
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(_escape, text)
    return text
