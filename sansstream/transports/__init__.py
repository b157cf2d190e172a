"""Transports: the only code that touches sockets (requests, raw h11, recording and replay)."""

from ._base import DEFAULT_TIMEOUTS, Timeouts, Transport, TransportResponse
from ._h11 import *  # noqa: F403
from ._h11 import __all__ as _h11_all
from ._http import *  # noqa: F403
from ._http import __all__ as _http_all
from ._replay import *  # noqa: F403
from ._replay import __all__ as _replay_all
from ._requests import *  # noqa: F403
from ._requests import __all__ as _requests_all

__all__ = [
    "DEFAULT_TIMEOUTS",
    "Timeouts",
    "Transport",
    "TransportResponse",
    *_http_all,
    *_requests_all,
    *_h11_all,
    *_replay_all,
]
