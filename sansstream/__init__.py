"""sansstream: read streamed responses (SSE, NDJSON, JSON arrays, AWS event-stream) with a pure
sans-IO state machine, and decode every major LLM provider's stream into one chunk model.

This module only re-exports; see the layer packages (model, core, providers, transports, api).
"""

from . import providers
from .api import *  # noqa: F403
from .core import *  # noqa: F403
from .model import *  # noqa: F403
from .providers import Decoder, HTTPRequest, Provider
from .providers._pipeline import *  # noqa: F403
from .transports import *  # noqa: F403

__version__ = "0.1.0"

from . import api, core, model, transports
from .providers import _pipeline

__all__ = ["__version__", "providers", "Decoder", "HTTPRequest", "Provider"]
__all__ += api.__all__
__all__ += core.__all__
__all__ += model.__all__
__all__ += _pipeline.__all__
__all__ += transports.__all__
