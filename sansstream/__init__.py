"""sansstream: read streamed responses (SSE, NDJSON, JSON arrays, AWS event-stream) with a pure
sans-IO state machine, and decode every major LLM provider's stream into one chunk model.

The top level holds what a user types; everything else lives in its layer's package
(``sansstream.model``, ``.core``, ``.providers``, ``.transports``, ``.api``, ``.testing``,
``.server``), each with its own ``__all__``.

Nothing is imported until it is asked for (PEP 562 ``__getattr__``): ``import sansstream.core``
loads the standard library and the sans-IO layers only, and ``sansstream.stream_chat`` loads the
transports on first use. Type checkers read the ``TYPE_CHECKING`` imports below instead.

To export a new public name: add it to ``__all__`` (in its group) and to the ``TYPE_CHECKING``
imports; the lazy lookup finds it in the first layer package whose ``__all__`` lists it
(``tests/test_public_api.py`` checks that both lists agree).
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # -- chatting with an LLM provider ---------------------------------------------------------
    "stream_chat",
    "ChatStream",
    "Timeouts",
    "RetryPolicy",
    "RecoveryPolicy",  # recover=: continue a broken stream
    "recover",  # resume a broken stream later, by its recovery id
    "Metrics",
    "decode_stream",  # framing + provider decoder, no network (fixtures, tests)
    "providers",  # get / register / names
    # -- one chunk model for every provider, folded into one result ---------------------------
    "Chunk",
    "ResponseStart",
    "TextDelta",
    "ReasoningDelta",
    "RefusalDelta",
    "ToolCallStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolResult",
    "Usage",
    "Finish",
    "Done",
    "StreamError",
    "Recovered",
    "Accumulator",
    "ChatResult",
    "ToolCall",
    # -- a general SSE client (EventSource semantics: reconnects, Last-Event-ID) ---------------
    "connect_sse",
    # -- sans-IO framing: receive_data / next_event / feed, and one driver loop each ----------
    "SSEParser",
    "NDJSONParser",
    "JSONArrayParser",
    "EventStreamParser",
    "NEED_DATA",
    "END",
    "ServerSentEvent",
    "Comment",
    "JSONValue",
    "EventStreamMessage",
    "iter_sse",
    "iter_ndjson",
    "iter_json_array",
    "iter_event_stream",
    # -- encoders: round-trip exact with the parsers (server helpers: sansstream.server) -------
    "encode_sse",
    "SSEEncoder",
    "encode_ndjson",
    "encode_event_stream_message",
    # -- errors: everything raised is a SansStreamError ----------------------------------------
    "SansStreamError",
    "ConfigurationError",
    "UnknownProviderError",
    "ChunkValidationError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "IncompleteStreamError",
    "EventTooLargeError",
    "HTTPStatusError",
    "UnexpectedContentTypeError",
    "ProviderError",
    "StreamTimeout",
    "ConnectTimeout",
    "FirstByteTimeout",
    "FirstTokenTimeout",
    "IdleTimeout",
    "ReadTimeout",
    "TotalTimeout",
    "TransportError",
    "StreamCancelled",
    "RecoveryNotFoundError",
]

if TYPE_CHECKING:
    from . import providers as providers
    from .api import ChatStream as ChatStream
    from .api import Metrics as Metrics
    from .api import RecoveryNotFoundError as RecoveryNotFoundError
    from .api import RecoveryPolicy as RecoveryPolicy
    from .api import RetryPolicy as RetryPolicy
    from .api import connect_sse as connect_sse
    from .api import recover as recover
    from .api import stream_chat as stream_chat
    from .core import EventStreamParser as EventStreamParser
    from .core import JSONArrayParser as JSONArrayParser
    from .core import NDJSONParser as NDJSONParser
    from .core import SSEEncoder as SSEEncoder
    from .core import SSEParser as SSEParser
    from .core import encode_event_stream_message as encode_event_stream_message
    from .core import encode_ndjson as encode_ndjson
    from .core import encode_sse as encode_sse
    from .core import iter_event_stream as iter_event_stream
    from .core import iter_json_array as iter_json_array
    from .core import iter_ndjson as iter_ndjson
    from .core import iter_sse as iter_sse
    from .model import END as END
    from .model import NEED_DATA as NEED_DATA
    from .model import Accumulator as Accumulator
    from .model import ChatResult as ChatResult
    from .model import Chunk as Chunk
    from .model import ChunkValidationError as ChunkValidationError
    from .model import Comment as Comment
    from .model import ConfigurationError as ConfigurationError
    from .model import ConnectTimeout as ConnectTimeout
    from .model import Done as Done
    from .model import EventStreamMessage as EventStreamMessage
    from .model import EventTooLargeError as EventTooLargeError
    from .model import Finish as Finish
    from .model import FirstByteTimeout as FirstByteTimeout
    from .model import FirstTokenTimeout as FirstTokenTimeout
    from .model import HTTPStatusError as HTTPStatusError
    from .model import IdleTimeout as IdleTimeout
    from .model import IncompleteStreamError as IncompleteStreamError
    from .model import JSONValue as JSONValue
    from .model import LocalProtocolError as LocalProtocolError
    from .model import ProtocolError as ProtocolError
    from .model import ProviderError as ProviderError
    from .model import ReadTimeout as ReadTimeout
    from .model import ReasoningDelta as ReasoningDelta
    from .model import Recovered as Recovered
    from .model import RefusalDelta as RefusalDelta
    from .model import RemoteProtocolError as RemoteProtocolError
    from .model import ResponseStart as ResponseStart
    from .model import SansStreamError as SansStreamError
    from .model import ServerSentEvent as ServerSentEvent
    from .model import StreamCancelled as StreamCancelled
    from .model import StreamError as StreamError
    from .model import StreamTimeout as StreamTimeout
    from .model import TextDelta as TextDelta
    from .model import ToolCall as ToolCall
    from .model import ToolCallDelta as ToolCallDelta
    from .model import ToolCallEnd as ToolCallEnd
    from .model import ToolCallStart as ToolCallStart
    from .model import ToolResult as ToolResult
    from .model import TotalTimeout as TotalTimeout
    from .model import TransportError as TransportError
    from .model import UnexpectedContentTypeError as UnexpectedContentTypeError
    from .model import UnknownProviderError as UnknownProviderError
    from .model import Usage as Usage
    from .providers import decode_stream as decode_stream
    from .transports import Timeouts as Timeouts

# Where a name is looked for, lowest layer first: the first package whose ``__all__`` lists it is
# its home, so a sans-IO name never loads the transports.
_LAYERS = ("model", "core", "providers", "transports", "api", "testing")
_SUBPACKAGES = frozenset({*_LAYERS, "cli", "server", "websocket"})

# Names that 0.1 exported here and that now live only in their layer package. They still resolve,
# with a DeprecationWarning naming the new import, until the next release removes them
# (CHANGELOG.md lists them with their new homes).
_MOVED = frozenset(
    {
        # model
        "Sentinel", "SSEField", "HeaderValue", "WireEvent", "FINISH_REASONS", "chunk_to_dict",
        "ChoiceResult", "ReasoningBlock", "parse_arguments", "HTTPRequest",
        # core
        "FramingParser", "make_parser", "iter_events", "FRAMINGS", "DEFAULT_MAX_EVENT_SIZE",
        "DEFAULT_MAX_LINE_SIZE", "DEFAULT_MAX_ELEMENT_SIZE", "HeaderType", "Int8", "Int16", "Int64",
        "Timestamp", "UUIDValue", "MAX_HEADERS_LENGTH", "MAX_PAYLOAD_LENGTH",
        "DEFAULT_MAX_MESSAGE_SIZE",
        # providers
        "Decoder", "Provider", "StreamDecoder",
        # transports
        "DEFAULT_TIMEOUTS", "DEFAULT_SSE_TIMEOUTS", "Transport", "TransportResponse", "Headers",
        "raise_for_status", "check_content_type", "get_transport", "iter_body", "read_body",
        "parse_retry_after", "extract_error_message", "RequestsTransport", "H11Transport",
        "RecordingTransport", "ReplayTransport", "Recording", "RecordedRequest", "RecordedSlice",
        "load_recording", "save_recording", "replay", "redact_url",
        # api
        "StreamEnd", "SendHandle", "NO_RETRY", "MetricsRecorder", "ReconnectPolicy", "Backoff",
        "reconnect_delay", "EventSource",
    }
)  # fmt: skip


def _home(name: str) -> Any:
    """The layer package whose ``__all__`` lists ``name`` (imported now), or None."""
    for layer in _LAYERS:
        package = importlib.import_module(f"{__name__}.{layer}")
        if name in getattr(package, "__all__", ()):
            return package
    return None


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in __all__ or name in _MOVED:
        package = _home(name)
        if package is not None:
            value = getattr(package, name)
            if name in _MOVED:
                warnings.warn(
                    f"sansstream.{name} has moved to {package.__name__}: write "
                    f"'from {package.__name__} import {name}' (the top-level name goes away in the "
                    "next release)",
                    DeprecationWarning,
                    stacklevel=2,
                )
            else:
                globals()[name] = value  # later look-ups skip this function
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
