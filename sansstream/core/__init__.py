"""The framing core: sans-IO parsers and encoders for SSE, NDJSON, JSON arrays and AWS
event-stream. Imports nothing but the standard library and the model layer."""

from ..model import present
from . import _eventstream as _es_all
from . import _framing as _framing_all
from . import _jsonarray as _ja_all
from . import _ndjson as _ndjson_all
from . import _partialjson as _partialjson_all
from . import _sse as _sse_all
from . import _sse_encode as _sse_encode_all
from ._base import FramingParser
from ._eventstream import *  # noqa: F403
from ._framing import *  # noqa: F403
from ._jsonarray import *  # noqa: F403
from ._ndjson import *  # noqa: F403
from ._partialjson import *  # noqa: F403
from ._receive import GATHER, gather_lines
from ._sse import *  # noqa: F403
from ._sse_encode import *  # noqa: F403
from ._wirejson import dumps_wire

__all__ = ["FramingParser", "GATHER", "dumps_wire", "gather_lines"]
__all__ += _es_all.__all__
__all__ += _framing_all.__all__
__all__ += _ja_all.__all__
__all__ += _ndjson_all.__all__
__all__ += _partialjson_all.__all__
__all__ += _sse_all.__all__
__all__ += _sse_encode_all.__all__

present(globals(), __all__, __name__)
