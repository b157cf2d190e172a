"""The provider layer: one module per provider (request builder, pure decoder, wire encoder), a
registry, and the pipeline that turns bytes into chunks. Imports only the model and core layers."""

from ..model import present
from . import _encoder as _encoder_all
from . import _pipeline as _pipeline_all
from . import _registry as _registry_all
from ._base import Decoder, Framing, HTTPRequest, Message, Provider, ToolSpec
from ._encoder import *  # noqa: F403
from ._pipeline import *  # noqa: F403
from ._registry import *  # noqa: F403

__all__ = ["Decoder", "Framing", "HTTPRequest", "Message", "Provider", "ToolSpec"]
__all__ += _encoder_all.__all__
__all__ += _pipeline_all.__all__
__all__ += _registry_all.__all__

present(globals(), __all__, __name__)
