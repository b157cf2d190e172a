"""Testing kit: a loopback fixture server with fault injection, re-chunking helpers and
hypothesis strategies, for sansstream's own tests and for users testing streaming code."""

from . import _rechunk as _rechunk_all
from . import _server as _server_all
from ._rechunk import *  # noqa: F403
from ._server import *  # noqa: F403

__all__: list[str] = []
__all__ += _rechunk_all.__all__
__all__ += _server_all.__all__
