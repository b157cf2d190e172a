"""The API people type: stream_chat / ChatStream, metrics, hooks, stream recovery, and connect_sse."""

from ..model import present
from . import _eventsource as _es_all
from . import _metrics as _metrics_all
from . import _recovery as _recovery_all
from . import _retry as _retry_all
from . import _stream as _stream_all
from ._eventsource import *  # noqa: F403
from ._metrics import *  # noqa: F403
from ._recovery import *  # noqa: F403
from ._retry import *  # noqa: F403
from ._stream import *  # noqa: F403

__all__: list[str] = []
__all__ += _es_all.__all__
__all__ += _metrics_all.__all__
__all__ += _recovery_all.__all__
__all__ += _retry_all.__all__
__all__ += _stream_all.__all__

present(globals(), __all__, __name__)
