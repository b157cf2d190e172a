"""Transports: the only code that touches sockets (requests, raw h11, recording and replay)."""

from ..model import present
from . import _h11 as _h11_all
from . import _http as _http_all
from . import _replay as _replay_all
from . import _requests as _requests_all
from . import _secrets as _secrets_all
from ._base import DEFAULT_TIMEOUTS, AbortHandle, Timeouts, Transport, TransportResponse
from ._h11 import *  # noqa: F403
from ._http import *  # noqa: F403
from ._replay import *  # noqa: F403
from ._requests import *  # noqa: F403
from ._secrets import *  # noqa: F403

__all__ = ["DEFAULT_TIMEOUTS", "AbortHandle", "Timeouts", "Transport", "TransportResponse"]
__all__ += _h11_all.__all__
__all__ += _http_all.__all__
__all__ += _replay_all.__all__
__all__ += _requests_all.__all__
__all__ += _secrets_all.__all__

present(globals(), __all__, __name__)
