"""The API people type: stream_chat / ChatStream, metrics, hooks, and connect_sse."""

from ._eventsource import *  # noqa: F403
from ._eventsource import __all__ as _es_all
from ._metrics import *  # noqa: F403
from ._metrics import __all__ as _metrics_all
from ._retry import *  # noqa: F403
from ._retry import __all__ as _retry_all
from ._stream import *  # noqa: F403
from ._stream import __all__ as _stream_all

__all__ = [*_stream_all, *_metrics_all, *_retry_all, *_es_all]
