"""The package's public face: what ``import sansstream`` costs, what the top level offers, how
moved names keep working, and how public classes present themselves.

- Importing the sans-IO layers (model, core, providers) and using them loads the standard
  library only, and none of its I/O, thread or socket modules (checked in a fresh interpreter).
- ``sansstream.__all__`` is the short list of what users type; every name resolves; the
  ``TYPE_CHECKING`` imports (what type checkers see) list exactly the same names.
- A name that moved off the top level still resolves, to the same object, with a
  ``DeprecationWarning`` naming its new import.
- Public exceptions and classes present themselves under a module a user can import
  (``sansstream.ConfigurationError``), and their annotations still resolve.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pickle
import subprocess
import sys
import traceback
import typing
import warnings
from pathlib import Path

import pytest

import sansstream

ROOT = Path(sansstream.__file__).resolve().parent.parent

# Modules that do I/O, run threads or touch the network: never loaded by the sans-IO layers.
IO_MODULES = frozenset(
    {
        "socket", "_socket", "ssl", "_ssl", "select", "selectors", "threading", "asyncio",
        "subprocess", "http", "urllib.request", "email", "logging", "queue", "concurrent",
    }
)  # fmt: skip

_PROBE = r"""
import json, sys
before = set(sys.modules)
{code}
after = set(sys.modules) - before
print(json.dumps(sorted(after)))
"""


def _loaded_by(code: str) -> list[str]:
    """Modules a fresh interpreter loads while running ``code`` (beyond its own start-up)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("{code}", code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def _foreign(modules: list[str]) -> list[str]:
    """Third-party modules and stdlib modules that do I/O, among ``modules``."""
    bad = []
    for name in modules:
        top = name.partition(".")[0]
        if top in {"sansstream", "typing_extensions"}:
            continue
        if top not in sys.stdlib_module_names or name in IO_MODULES or top in IO_MODULES:
            bad.append(name)
    return bad


USE_THE_SANS_IO_LAYERS = r"""
import sansstream.core, sansstream.model, sansstream.providers
from sansstream.core import SSEParser, NDJSONParser, EventStreamParser, encode_event_stream_message
from sansstream.providers import decode_stream, get
events = SSEParser().feed(b'data: {"x": 1}\n\n')
values = NDJSONParser().feed(b'{"a": 1}\n')
frames = EventStreamParser().feed(encode_event_stream_message({":event-type": "x"}, b"{}"))
body = (
    b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},'
    b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
chunks = list(decode_stream("openai", [body]))
request = get("anthropic").build_request(model="m", messages=[{"role": "user", "content": "x"}], api_key="k")
assert events and values and frames and chunks and request.url
"""




def test_the_sans_io_layers_load_only_the_standard_library() -> None:
    loaded = _loaded_by(USE_THE_SANS_IO_LAYERS)
    assert "sansstream.core._sse" in loaded  # the probe really imported and ran the layers
    # orjson, the optional pure accelerator, is imported by the first NDJSONParser built with
    # orjson_loads="auto" (installed here: the test extra has it); nothing else from outside.
    assert [m for m in _foreign(loaded) if m.partition(".")[0] != "orjson"] == []
    assert "orjson" in loaded


def test_importing_the_sans_io_layers_loads_no_accelerator() -> None:
    loaded = _loaded_by("import sansstream.core, sansstream.model, sansstream.providers")
    assert "sansstream.core._ndjson" in loaded
    assert _foreign(loaded) == []
    assert not [m for m in loaded if m.startswith(("sansstream.transports", "sansstream.api"))]


def test_listing_installed_providers_loads_no_third_party_module() -> None:
    # names() reads the installed entry points: importlib.metadata brings email, zipfile and
    # with them socket and threading (standard-library machinery, no connection is made). That
    # happens on that call, never on import; third-party code still stays out.
    loaded = _loaded_by("import sansstream.providers as p\nassert len(p.names()) >= 9")
    assert "importlib.metadata" in loaded
    assert [m for m in loaded if m.partition(".")[0] not in sys.stdlib_module_names | {"sansstream"}] == []


def test_importing_the_package_loads_no_layer() -> None:
    loaded = _loaded_by("import sansstream")
    assert [m for m in loaded if m.startswith("sansstream.")] == []
    assert _foreign(loaded) == []


def test_a_sans_io_name_from_the_top_level_loads_no_transport() -> None:
    loaded = _loaded_by("import sansstream as ss\nss.SSEParser().feed(b'data: x\\n\\n')\nss.decode_stream")
    assert _foreign(loaded) == []


def test_the_probe_sees_what_the_transports_load() -> None:
    # The check above can fail: the I/O layers do load sockets and third-party packages.
    loaded = _loaded_by("import sansstream as ss\nss.stream_chat")
    assert "socket" in loaded
    assert "requests" in _foreign(loaded)


# -- the top level ---------------------------------------------------------------------------


def test_every_top_level_name_resolves_and_fits_one_screen() -> None:
    assert len(sansstream.__all__) == len(set(sansstream.__all__))
    assert len(sansstream.__all__) <= 75  # h11 has about 20; this is the one-screen budget
    for name in sansstream.__all__:
        assert getattr(sansstream, name) is not None, name
    assert set(sansstream.__all__) <= set(dir(sansstream))


def _type_checking_names() -> set[str]:
    tree = ast.parse(Path(sansstream.__file__).read_text("utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                assert isinstance(child, ast.ImportFrom)
                for alias in child.names:
                    assert alias.asname == alias.name, "re-export as 'import X as X' so checkers see it"
                    names.add(alias.name)
    return names


def test_type_checkers_see_exactly_the_public_names() -> None:
    assert _type_checking_names() == set(sansstream.__all__) - {"__version__"}


def test_the_type_checking_imports_name_the_same_objects() -> None:
    tree = ast.parse(Path(sansstream.__file__).read_text("utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If))
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        home = importlib.import_module(f"sansstream.{node.module}" if node.module else "sansstream")
        for alias in node.names:
            assert getattr(sansstream, alias.name) is getattr(home, alias.name), alias.name


def test_star_import_gives_the_public_names_only() -> None:
    namespace: dict[str, object] = {}
    exec("from sansstream import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sansstream.__all__)


# The contract of /work/shared/DESIGN.md ("Public contract"): reachable as ss.<name>.
CONTRACT = [
    "SSEParser", "NEED_DATA", "END", "ServerSentEvent", "NDJSONParser", "iter_sse", "iter_ndjson",
    "encode_sse", "encode_ndjson", "Comment", "ResponseStart", "TextDelta", "ReasoningDelta",
    "RefusalDelta", "ToolCallStart", "ToolCallDelta", "ToolCallEnd", "ToolResult", "Usage", "Finish",
    "Done", "StreamError", "Accumulator", "ChatResult", "providers", "decode_stream",
    "IncompleteStreamError", "ProviderError", "stream_chat", "ChatStream", "Metrics", "Timeouts",
    "connect_sse", "SansStreamError", "ProtocolError", "LocalProtocolError", "RemoteProtocolError",
    "EventTooLargeError", "HTTPStatusError", "StreamTimeout", "TransportError", "ConfigurationError",
]  # fmt: skip


@pytest.mark.parametrize("name", CONTRACT)
def test_the_design_contract_is_on_the_top_level(name: str) -> None:
    assert name in sansstream.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(sansstream, name) is not None


def test_the_providers_registry_is_reachable_as_documented() -> None:
    import sansstream as ss

    assert "openai" in ss.providers.names()
    assert ss.providers.get("openai").name == "openai"
    assert callable(ss.providers.register)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'stream_chatt'"):
        sansstream.stream_chatt  # noqa: B018


# -- names that moved ------------------------------------------------------------------------

MOVED = sorted(sansstream._MOVED)


@pytest.mark.parametrize("name", MOVED)
def test_a_moved_name_still_resolves_with_a_warning_naming_its_new_home(name: str) -> None:
    with pytest.warns(
        DeprecationWarning, match=rf"sansstream\.{name} has moved to sansstream\.\w+"
    ) as caught:
        value = getattr(sansstream, name)
    message = str(caught[0].message)
    home = message.split("'from ", 1)[1].split(" import", 1)[0]
    assert getattr(importlib.import_module(home), name) is value
    assert name in importlib.import_module(home).__all__
    assert caught[0].filename == __file__  # points at the caller's line
    assert name not in sansstream.__all__


def test_a_moved_name_warns_every_time() -> None:
    for _ in range(2):
        with pytest.warns(DeprecationWarning, match="sansstream.transports import H11Transport"):
            sansstream.H11Transport  # noqa: B018


def test_the_old_http_request_paths_still_work() -> None:
    from sansstream.model import SECRET_HEADERS, HTTPRequest
    from sansstream.providers import HTTPRequest as from_providers
    from sansstream.providers._base import SECRET_HEADERS as old_secret_headers
    from sansstream.providers._base import HTTPRequest as old_path

    assert old_path is from_providers is HTTPRequest
    assert old_secret_headers is SECRET_HEADERS


# -- how public things present themselves ------------------------------------------------------


def test_errors_present_themselves_under_the_top_level() -> None:
    try:
        sansstream.providers.register("", object)  # type: ignore[arg-type]
    except sansstream.ConfigurationError as exc:
        line = traceback.format_exception_only(type(exc), exc)[-1]
    assert line.startswith("sansstream.ConfigurationError: a provider name must be")
    assert repr(sansstream.ConfigurationError) == "<class 'sansstream.ConfigurationError'>"
    for name in sansstream.__all__:
        value = getattr(sansstream, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert value.__module__ == "sansstream", name


def test_an_uncaught_error_names_its_public_class_in_the_traceback() -> None:
    code = "import sansstream\nsansstream.providers.get('no-such-provider')\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("sansstream.UnknownProviderError: ")
    assert "sansstream.model._errors" not in done.stderr


def test_layer_classes_present_themselves_under_their_layer() -> None:
    from sansstream.testing import FixtureServer
    from sansstream.transports import H11Transport, RequestsTransport

    assert H11Transport.__module__ == RequestsTransport.__module__ == "sansstream.transports"
    assert FixtureServer.__module__ == "sansstream.testing"
    assert sansstream.SSEParser.__module__ == sansstream.stream_chat.__module__ == "sansstream"


def test_presented_names_resolve_where_they_say_they_live() -> None:
    for package in ("model", "core", "providers", "transports", "api", "testing"):
        module = importlib.import_module(f"sansstream.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                home = importlib.import_module(value.__module__)
                assert getattr(home, value.__qualname__) is value, f"{package}.{name}"


def test_public_exceptions_pickle_by_their_public_name() -> None:
    error = sansstream.ConfigurationError("bad option")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is sansstream.ConfigurationError
    assert str(again) == "bad option"


def test_annotated_classes_keep_the_module_their_annotations_resolve_in() -> None:
    # typing.get_type_hints (and pydantic, cattrs) look names up in sys.modules[cls.__module__].
    checked = 0
    for package in ("model", "core", "providers", "transports", "api"):
        module = importlib.import_module(f"sansstream.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            if (
                inspect.isclass(value)
                and not issubclass(value, BaseException)
                and vars(value).get("__annotations__")
            ):
                assert value.__module__.rpartition(".")[2].startswith("_"), f"{package}.{name}"
                typing.get_type_hints(value)
                checked += 1
    assert checked > 20  # the events, chunks, results, Timeouts, Metrics…
