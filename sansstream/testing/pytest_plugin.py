"""pytest plugin: the testing kit as fixtures.

Enable it with ``pytest -p sansstream.testing.pytest_plugin``, with
``pytest_plugins = ["sansstream.testing.pytest_plugin"]`` in a root ``conftest.py``, or (once the
package is installed with its ``pytest11`` entry point) automatically.

Fixtures:

- ``fixture_server``: a started ``FixtureServer`` on 127.0.0.1 (no routes yet: unknown paths get a
  404), closed after the test, with its threads joined. Add responses with ``route()``.
- ``split_mode``: parametrised over ``"whole"``, ``"bytewise"`` and ``"random"``; a function that
  cuts bytes that way, so one test runs against every slicing.

Example::

    from sansstream import stream_chat
    from sansstream.testing import chat_response

    def test_my_app_reads_a_stream(fixture_server):
        fixture_server.route("/v1/chat/completions", chat_response("Hi!", format="openai", delay=0.01))
        chat = stream_chat("openai", model="m", messages=[...], api_key="test",
                           base_url=fixture_server.url + "/v1")
        assert chat.result().text == "Hi!"

    def test_parser_any_slicing(split_mode):
        parser = SSEParser()
        events = [e for piece in split_mode(WIRE) for e in parser.feed(piece)]
        assert events == EXPECTED
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ._rechunk import MODES, rechunk
from ._server import FixtureServer

__all__ = ["fixture_server", "split_mode"]


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    """A loopback ``FixtureServer`` for one test (routes added with ``fixture_server.route``)."""
    server = FixtureServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=MODES)
def split_mode(request: pytest.FixtureRequest) -> Callable[[bytes], list[bytes]]:
    """A function cutting bytes whole, byte by byte, or at seeded random points."""
    mode = request.param

    def split(data: bytes) -> list[bytes]:
        return rechunk(data, mode, seed=0)

    split.__name__ = f"split_{mode}"
    return split
