"""What a provider is: its framing, its HTTP request as plain data, and a pure decoder.

A provider module knows everything that is peculiar to one API (terminal markers, error shapes,
keepalives); nothing below or beside it does. Decoders follow one two-method shape —
``decode(wire_event) -> list[Chunk]`` and ``finish() -> list[Chunk]`` — so the pipeline that
drives them is the same for every provider. Decoders never raise ``ProviderError`` themselves:
they return a ``StreamError`` chunk, and the pipeline raises it (or passes it on) after the
chunks before it were delivered.
"""

from __future__ import annotations

import datetime
import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from ..model import SECRET_HEADERS, Chunk, Comment, ConfigurationError, HTTPRequest, WireEvent
from ._encoder import ChunkEncoder

__all__ = [
    "Framing",
    "HTTPRequest",
    "Decoder",
    "Provider",
    "Message",
    "ToolSpec",
    "SECRET_HEADERS",
]
# HTTPRequest and SECRET_HEADERS live in the model layer (transports need them and must not
# reach into providers); they stay importable from here, where they used to be defined.

Framing = Literal["sse", "ndjson", "json-array", "eventstream"]

Message = Mapping[str, Any]
"""A chat message in the common format::

    {"role": "system" | "user" | "assistant" | "tool", "content": "text"}
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "f", "arguments": {...}}]}
    {"role": "tool", "tool_call_id": "c1", "name": "f", "content": "result text"}

``arguments`` may be a dict or a JSON string. Providers translate it to their own wire shape.
"""

ToolSpec = Mapping[str, Any]
"""A tool: ``{"name", "description", "parameters": <JSON schema>}`` (the OpenAI form
``{"type": "function", "function": {...}}`` is accepted too)."""


class Decoder(ABC):
    """Wire events in, chunks out. One instance per stream; pure and synchronous."""

    provider: str = ""

    @abstractmethod
    def decode(self, event: WireEvent) -> list[Chunk]:
        """Chunks for one wire event (possibly none). In-band errors become ``StreamError``."""

    def finish(self) -> list[Chunk]:
        """Called once at end of bytes: chunks still pending (e.g. open tool calls)."""
        return []

    def is_keepalive(self, event: WireEvent) -> bool:
        """True for wire events that only keep the connection alive (SSE comments, Anthropic
        ``ping``): they are counted, and do not count as progress for the idle timeout."""
        return isinstance(event, Comment)

    @property
    @abstractmethod
    def complete(self) -> bool:
        """True once the answer is complete: the provider's terminal marker, or (for providers
        whose last word comes before trailing metadata) the event that ends the answer, or an
        in-band error. At end of input a stream that is not ``complete`` is truncated."""

    @property
    def terminated(self) -> bool:
        """True once the provider's terminal marker itself was seen (``data: [DONE]``,
        ``message_stop``, ``response.completed``, ``"done": true``…): the stream is over, and
        nothing after it belongs to it. The pipeline decodes no further event, ignores any bytes
        that follow and ends the stream there, as the official SDKs stop reading at that marker.
        Default ``False``: a provider without such a marker ends when the bytes end."""
        return False


class Provider(ABC):
    """A named provider: framing, request builder and decoder factory."""

    name: str = ""
    framing: Framing = "sse"
    default_base_url: str = ""
    api_key_env: tuple[str, ...] = ()
    """Environment variables to take the API key from, in order; empty if no key is needed."""
    base_url_env: str | None = None
    """Environment variable that overrides ``default_base_url`` (e.g. ``OLLAMA_HOST``)."""
    content_types: tuple[str, ...] = ("text/event-stream",)
    """Response content types that mean "this is the stream" (a 2xx with another is an error)."""
    terminal_marker: str = ""
    accepted_options: ClassVar[frozenset[str] | None] = None
    """The keyword options ``build_request`` accepts (its own names, the API's request fields it
    passes through by name, ``extra_body``, ``extra_headers``). ``stream_chat`` refuses any other
    name with a did-you-mean, so a typo (``temprature=``) is not silently sent. ``None``: not
    declared, every option is passed on (third-party providers, the open SLOP protocol)."""
    """How this provider's stream ends, in words (``"'data: [DONE]'"``), for the message of an
    ``IncompleteStreamError``."""

    def defaults_from_env(self, env: Mapping[str, str]) -> dict[str, Any]:
        """Options taken from the environment (``api_key``, ``base_url``, region…), given the
        environment as a mapping so this stays pure. User options override them."""
        out: dict[str, Any] = {}
        for var in self.api_key_env:
            if env.get(var):
                out["api_key"] = env[var]
                break
        if self.base_url_env and env.get(self.base_url_env):
            out["base_url"] = env[self.base_url_env]
        return out

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse option names this provider does not know (``accepted_options``), naming the
        closest known one; ``extra_body=`` stays the way to send any field deliberately."""
        known = self.accepted_options
        if known is None:
            return
        unknown = sorted(name for name in options if name not in known)
        if not unknown:
            return
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        others = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
        raise ConfigurationError(
            f"unknown option {name!r}{others} for provider {self.name!r}{hint}; to send a request "
            f"field sansstream does not know, pass it in extra_body={{{name!r}: ...}}. Known options: "
            f"{', '.join(sorted(known))}. Nothing was sent."
        )

    def sign(self, request: HTTPRequest, *, env: Mapping[str, str], now: datetime.datetime) -> HTTPRequest:
        """Last step before sending, for authentication that depends on the time (AWS SigV4).
        Pure: the caller passes the environment and the clock. Default: unchanged."""
        return request

    @abstractmethod
    def build_request(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> HTTPRequest:
        """The streaming request for this chat, as plain data. ``options`` are provider options
        (``max_tokens``, ``temperature``, ``reasoning``…) and ``extra_body`` (merged last)."""

    @abstractmethod
    def decoder(self) -> Decoder:
        """A fresh decoder for one stream."""

    url_hints: ClassVar[tuple[str, ...]] = ()
    """Pieces of a request URL that show it went to this provider (``"api.anthropic.com"``,
    ``"/v1/messages"``); a hint of several space-separated pieces needs them all. ``sansstream
    parse`` names the provider of a recording by its URL with these (and the host of
    ``default_base_url``): hints of more pieces first, then those naming a host, then the
    longer ones."""

    def looks_like(self, events: Sequence[WireEvent]) -> bool:
        """Whether these wire events (the first ones of a stream, parsed with its framing) are
        this provider's, for ``sansstream parse`` on a file with no URL to go by. It is asked
        about the first event, then the first two, and so on: the first prefix some provider
        claims decides. A provider that defines it in its own class wins over those that
        inherit it (the OpenAI-compatible presets inherit OpenAI's). Default ``False``: never
        guessed from content."""
        return False

    encoder_class: ClassVar[type[ChunkEncoder] | None] = None
    """This provider's wire encoder (chunks → its wire events), for the server helpers and the
    demo; ``None`` when it cannot be served. Subclasses inherit it (OpenAI-compatible presets
    serve OpenAI's format)."""

    def encoder(self, **options: Any) -> ChunkEncoder:
        """A fresh wire encoder for one response (``model=``, ``id=``, ``now=`` and the
        encoder's own options). Raises ``ConfigurationError`` if this provider has none."""
        if self.encoder_class is None:
            raise ConfigurationError(
                f"provider {self.name!r} has no wire encoder, so it cannot be served; give its "
                "Provider class an encoder_class (a sansstream.providers.ChunkEncoder subclass)"
            )
        return self.encoder_class(**options)

    def local_options(self, server_url: str) -> dict[str, Any]:
        """Options that point this provider at a local server speaking its wire format at
        ``server_url`` (``http://127.0.0.1:PORT``), for ``sansstream demo`` and tests: by default
        ``base_url`` is the server plus the path of ``default_base_url`` (``/v1`` for OpenAI).
        Providers whose requests need more (a region, a deployment) override this."""
        return {"base_url": server_url + urlsplit(self.default_base_url).path.rstrip("/")}

    def parser_options(self) -> dict[str, Any]:
        """Extra options for the framing parser (e.g. SSE comments, extra fields)."""
        return {}

    def framing_for(self, content_type: str | None) -> Framing:
        """The framing of a response with this ``Content-Type``, for providers that answer in
        more than one (SLOP over SSE or NDJSON; Gemini's SSE or JSON-array stream). Default:
        ``framing``, whatever the type."""
        return self.framing
