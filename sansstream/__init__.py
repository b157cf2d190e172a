"""sansstream: read streamed responses (SSE, NDJSON, JSON arrays, AWS event-stream) with a pure
sans-IO state machine, and decode every major LLM provider's stream into one chunk model.

This module only re-exports; see the layer packages (model, core, providers, transports, api).
"""

from . import providers
from .api import *  # noqa: F403
from .api import __all__ as _api_all
from .core import *  # noqa: F403
from .core import __all__ as _core_all
from .model import *  # noqa: F403
from .model import __all__ as _model_all
from .providers import Decoder, HTTPRequest, Provider
from .providers._pipeline import *  # noqa: F403
from .providers._pipeline import __all__ as _pipeline_all
from .transports import *  # noqa: F403
from .transports import __all__ as _transports_all

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "providers",
    "Decoder",
    "HTTPRequest",
    "Provider",
    *_model_all,
    *_core_all,
    *_pipeline_all,
    *_transports_all,
    *_api_all,
]
