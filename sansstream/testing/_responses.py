"""Canned provider responses for the ``FixtureServer``: a reply in a provider's real wire format.

``chat_response("Hello!", format="openai")`` is a ``FixtureResponse`` whose body is an
OpenAI-compatible stream of that reply (role chunk, one delta per word, finish, usage,
``[DONE]``), with the content type the provider uses and, with ``delay``, a realistic pace.
``format`` is any provider with a wire encoder (the provider module's own ``ChunkEncoder``):
``gemini``, ``cohere``, ``bedrock``'s event-stream frames… It
also takes chunks (``sansstream.server.stream_response`` or hand-made ones, errors included), so a
test can serve exactly the stream it needs to the code under test.

Example::

    from sansstream import stream_chat
    from sansstream.testing import FixtureServer, chat_response

    with FixtureServer(chat_response("Hi there", format="anthropic", delay=0.01)) as server:
        stream = stream_chat("anthropic", model="m", messages=[...], api_key="test",
                             base_url=server.url)
        assert stream.result().text == "Hi there"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model import Chunk, Done
from ..providers import encode_chunks
from ..server import WireFormat, chunk_encoder, stream_response
from ._server import FixtureResponse

__all__ = ["chat_response", "CONTENT_TYPES"]

CONTENT_TYPES: dict[str, str] = {
    "openai": "text/event-stream; charset=utf-8",
    "anthropic": "text/event-stream; charset=utf-8",
    "slop": "text/event-stream",
    "ollama": "application/x-ndjson",
}
"""The content type these wire formats are served with (others: their encoder's)."""


def chat_response(
    reply: str | Iterable[Chunk],
    *,
    format: WireFormat = "openai",
    delay: float = 0.0,
    done: bool = True,
    model: str | None = "fixture-model",
    **options: Any,
) -> FixtureResponse:
    """A ``FixtureResponse`` streaming ``reply`` (text, or chunks) in ``format``: one wire event
    per body slice, ``delay`` seconds apart. ``done=False`` leaves out the terminal marker (a
    truncated stream); other keyword arguments go to ``FixtureResponse`` (status, faults…)."""
    chunks: Iterable[Chunk] = stream_response(reply, model=model) if isinstance(reply, str) else reply
    if not done:  # a truncated stream: no Done, so no terminal marker (nor what waits for it)
        chunks = [c for c in chunks if not isinstance(c, Done)]
    encoder = chunk_encoder(format, model=model)
    body = list(encode_chunks(encoder, chunks, done=done))
    content_type = CONTENT_TYPES.get(format, encoder.content_type)
    return FixtureResponse(body, delay=delay, content_type=content_type, **options)
