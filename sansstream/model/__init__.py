"""The model layer: wire events, chunks, results, errors and the HTTP request as plain data.
Depends on nothing but the standard library.

Besides the classes users see, it holds two helpers for the layers above: ``draft_class`` (fast
construction of frozen dataclasses) and ``present`` (public module names for public classes)."""

from . import _chunks as _chunks_all
from . import _drafts as _drafts_all
from . import _errors as _errors_all
from . import _events as _events_all
from . import _http as _http_all
from . import _public as _public_all
from . import _result as _result_all
from ._chunks import *  # noqa: F403
from ._drafts import *  # noqa: F403
from ._errors import *  # noqa: F403
from ._events import *  # noqa: F403
from ._http import *  # noqa: F403
from ._public import *  # noqa: F403
from ._public import present
from ._result import *  # noqa: F403

__all__: list[str] = []
__all__ += _chunks_all.__all__
__all__ += _errors_all.__all__
__all__ += _events_all.__all__
__all__ += _drafts_all.__all__
__all__ += _http_all.__all__
__all__ += _public_all.__all__
__all__ += _result_all.__all__

present(globals(), __all__, __name__)
