"""Optional accelerators, used when they are installed (the ``fast`` extra).

The sans-IO core imports nothing outside the standard library, so it cannot look for optional
packages itself; this module, above it, does, once, when ``sansstream`` is imported:

- **orjson**: its ``loads`` becomes what ``NDJSONParser(orjson_loads="auto")`` (the default)
  uses. The NDJSON parser gives orjson only the lines where its result is provably the
  standard library's and the stdlib all others, so values and errors stay exactly those of
  ``json.loads`` (see ``sansstream/core/_ndjson.py``); only the speed changes.

``SANSSTREAM_NO_ACCEL=1`` in the environment turns this off (everything stays on the standard
library), e.g. to rule it out while chasing a problem; ``orjson_loads=None`` does the same for
one parser.
"""

from __future__ import annotations

import os

from .core._ndjson import _accelerator


def install() -> None:
    """Look for the accelerators and hand them to the core (idempotent)."""
    if os.environ.get("SANSSTREAM_NO_ACCEL", "") not in ("", "0"):
        _accelerator.orjson_loads = None
        return
    try:
        import orjson
    except ImportError:
        _accelerator.orjson_loads = None
    else:
        _accelerator.orjson_loads = orjson.loads


install()
