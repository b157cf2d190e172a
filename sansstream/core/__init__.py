"""The framing core: sans-IO parsers and encoders for SSE, NDJSON, JSON arrays and AWS
event-stream. Imports nothing but the standard library and the model layer."""

from ._base import FramingParser
from ._eventstream import *  # noqa: F403
from ._eventstream import __all__ as _es_all
from ._framing import *  # noqa: F403
from ._framing import __all__ as _framing_all
from ._jsonarray import *  # noqa: F403
from ._jsonarray import __all__ as _ja_all
from ._ndjson import *  # noqa: F403
from ._ndjson import __all__ as _ndjson_all
from ._sse import *  # noqa: F403
from ._sse import __all__ as _sse_all

__all__ = ["FramingParser", *_sse_all, *_ndjson_all, *_ja_all, *_es_all, *_framing_all]
