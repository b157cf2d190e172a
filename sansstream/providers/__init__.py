"""The provider layer: one module per provider (request builder + pure decoder), a registry,
and the pipeline that turns bytes into chunks. Imports only the model and core layers."""

from ._base import Decoder, Framing, HTTPRequest, Message, Provider, ToolSpec
from ._pipeline import *  # noqa: F403
from ._pipeline import __all__ as _pipeline_all
from ._registry import *  # noqa: F403
from ._registry import __all__ as _registry_all

__all__ = [
    "Decoder",
    "Framing",
    "HTTPRequest",
    "Message",
    "Provider",
    "ToolSpec",
    *_pipeline_all,
    *_registry_all,
]
