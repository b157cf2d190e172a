"""The model layer: wire events, chunks, results and errors. Depends on nothing but the stdlib."""

from . import _chunks as _chunks_all
from . import _errors as _errors_all
from . import _events as _events_all
from . import _result as _result_all
from ._chunks import *  # noqa: F403
from ._errors import *  # noqa: F403
from ._events import *  # noqa: F403
from ._result import *  # noqa: F403

__all__: list[str] = []
__all__ += _chunks_all.__all__
__all__ += _errors_all.__all__
__all__ += _events_all.__all__
__all__ += _result_all.__all__
