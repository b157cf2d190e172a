"""sansstream: read streamed responses (SSE, NDJSON, JSON arrays, AWS event-stream) with a pure
sans-IO state machine, and decode every major LLM provider's stream into one chunk model.

This module only re-exports the public names of the layer packages (model, core, providers,
transports, api). It star-imports the leaf modules directly (each has a static ``__all__``) so
that type checkers see every name, not only the runtime.
"""

from . import _accel as _accel  # optional accelerators (orjson), when installed
from . import providers
from .api import _eventsource as _api_eventsource
from .api import _metrics as _api_metrics
from .api import _retry as _api_retry
from .api import _stream as _api_stream
from .api._eventsource import *  # noqa: F403
from .api._metrics import *  # noqa: F403
from .api._retry import *  # noqa: F403
from .api._stream import *  # noqa: F403
from .core import _eventstream as _core_eventstream
from .core import _framing as _core_framing
from .core import _jsonarray as _core_jsonarray
from .core import _ndjson as _core_ndjson
from .core import _sse as _core_sse
from .core._base import FramingParser
from .core._eventstream import *  # noqa: F403
from .core._framing import *  # noqa: F403
from .core._jsonarray import *  # noqa: F403
from .core._ndjson import *  # noqa: F403
from .core._sse import *  # noqa: F403
from .model import _chunks as _model_chunks
from .model import _errors as _model_errors
from .model import _events as _model_events
from .model import _result as _model_result
from .model._chunks import *  # noqa: F403
from .model._errors import *  # noqa: F403
from .model._events import *  # noqa: F403
from .model._result import *  # noqa: F403
from .providers import _pipeline as _providers_pipeline
from .providers._base import Decoder, HTTPRequest, Provider
from .providers._pipeline import *  # noqa: F403
from .transports import _h11 as _transports_h11
from .transports import _http as _transports_http
from .transports import _replay as _transports_replay
from .transports import _requests as _transports_requests
from .transports._base import DEFAULT_TIMEOUTS, Timeouts, Transport, TransportResponse
from .transports._h11 import *  # noqa: F403
from .transports._http import *  # noqa: F403
from .transports._replay import *  # noqa: F403
from .transports._requests import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "providers",
    "Decoder",
    "HTTPRequest",
    "Provider",
    "FramingParser",
    "DEFAULT_TIMEOUTS",
    "Timeouts",
    "Transport",
    "TransportResponse",
]
__all__ += _model_errors.__all__
__all__ += _model_events.__all__
__all__ += _model_chunks.__all__
__all__ += _model_result.__all__
__all__ += _core_sse.__all__
__all__ += _core_ndjson.__all__
__all__ += _core_jsonarray.__all__
__all__ += _core_eventstream.__all__
__all__ += _core_framing.__all__
__all__ += _providers_pipeline.__all__
__all__ += _transports_http.__all__
__all__ += _transports_requests.__all__
__all__ += _transports_h11.__all__
__all__ += _transports_replay.__all__
__all__ += _api_stream.__all__
__all__ += _api_metrics.__all__
__all__ += _api_retry.__all__
__all__ += _api_eventsource.__all__
