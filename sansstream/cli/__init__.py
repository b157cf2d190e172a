"""The command-line interface: ``python -m sansstream`` and the ``sansstream`` script.

Commands: ``demo`` (a local server streaming a canned reply in a provider's real wire format,
read through the real transport: no network, no key), ``chat`` and ``record`` (a real provider),
``parse`` (fixture bytes → events, chunks or result as JSON lines) and ``serve`` (replay a
recording as a local endpoint). See ``sansstream --help``.
"""

from ._main import build_parser, main

__all__ = ["main", "build_parser"]
