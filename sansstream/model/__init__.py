"""The model layer: wire events, chunks, results and errors. Depends on nothing but the stdlib."""

from ._chunks import *  # noqa: F403
from ._chunks import __all__ as _chunks_all
from ._errors import *  # noqa: F403
from ._errors import __all__ as _errors_all
from ._events import *  # noqa: F403
from ._events import __all__ as _events_all
from ._result import *  # noqa: F403
from ._result import __all__ as _result_all

__all__ = [*_errors_all, *_events_all, *_chunks_all, *_result_all]
