"""Testing kit: a loopback fixture server with fault injection, re-chunking helpers and
hypothesis strategies, for sansstream's own tests and for users testing streaming code.

- ``FixtureServer`` / ``FixtureResponse``: a loopback HTTP server streaming canned responses,
  with faults (cuts, stalls, drips, statuses); also the ``fixture_server`` pytest fixture of
  ``sansstream.testing.pytest_plugin`` (``pytest -p sansstream.testing.pytest_plugin``, or
  automatically once the package is installed with its ``pytest11`` entry point);
  ``ProviderEmulator`` / ``Cut``: a handler emulating a provider's answer (background resume,
  assistant prefixes) with cuts at chosen events, for stream-recovery tests;
  ``chat_response(reply, format="openai" | "anthropic" | "ollama" | "slop")`` makes a response
  streaming a reply in a provider's real wire format;
- ``rechunk(data, "whole" | "bytewise" | "random" | size | sizes, seed=…)`` and ``at_offsets``:
  cut bytes the way a network might;
- hypothesis strategies ``sse_events()``, ``splits(data)``, ``sse_field_text()`` (hypothesis is
  imported only when a strategy is called).

Example::

    from sansstream.core import SSEParser
    from sansstream.testing import MODES, rechunk

    for mode in MODES:
        parser = SSEParser()
        events = [e for piece in rechunk(wire, mode) for e in parser.feed(piece)]
        assert events == expected
"""

from ..model import present
from . import _rechunk as _rechunk_all
from . import _recovery as _recovery_all
from . import _responses as _responses_all
from . import _server as _server_all
from . import _strategies as _strategies_all
from ._rechunk import *  # noqa: F403
from ._recovery import *  # noqa: F403
from ._responses import *  # noqa: F403
from ._server import *  # noqa: F403
from ._strategies import *  # noqa: F403

__all__: list[str] = []
__all__ += _rechunk_all.__all__
__all__ += _recovery_all.__all__
__all__ += _responses_all.__all__
__all__ += _server_all.__all__
__all__ += _strategies_all.__all__

present(globals(), __all__, __name__)
