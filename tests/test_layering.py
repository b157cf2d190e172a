"""The sans-IO layers import nothing that does I/O, dependencies point down only, and no layer
reaches into another's private modules.

Every module of the package is parsed (``ast``, nothing is executed) and each import is resolved,
relative ones included. A *unit* is a layer package (``model``, ``core``, ``providers``,
``transports``, ``api``, ``testing``, ``cli``) or a top-level module (``server``, ``websocket``):

* each unit may import only the units below it (``ALLOWED_LAYERS``): model ← core ← providers ←
  transports / server ← api / websocket ← testing ← cli;
* model, core and providers may import nothing but the standard library and typing_extensions,
  and none of it may do I/O, read a clock or spawn threads (socket, ssl, requests, h11,
  threading, time, logging, os, asyncio, select, urllib, http...), wherever the import sits
  (inside functions and ``TYPE_CHECKING`` blocks too), nor read the clock through
  ``datetime.now()`` / ``date.today()`` (pure code takes the time as an argument);
* an import from another unit goes through that unit's public surface: ``from ..model import X``
  where ``X`` is in ``sansstream.model.__all__``, never ``from ..model._errors import X`` nor a
  ``_private`` name.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "sansstream"

FORBIDDEN = frozenset(
    {
        "socket",
        "ssl",
        "requests",
        "h11",
        "threading",
        "_thread",
        "time",
        "logging",
        "os",
        "asyncio",
        "select",
        "selectors",
        "urllib",
        "http",
        "subprocess",
        "multiprocessing",
        "concurrent",
        "signal",
    }
)
# urllib.parse only splits and quotes strings (providers build URLs with it); the rest of urllib
# opens connections. datetime is allowed (providers take ``now`` as an argument and format it);
# reading the clock through it is caught separately below.
ALLOWED_SUBMODULES = frozenset({"urllib.parse"})
CLOCK_CALLS = frozenset({"now", "utcnow", "today"})
THIRD_PARTY_ALLOWED = frozenset({"typing_extensions"})
# Which sansstream units each unit may import ("" is the top-level package itself).
_SANS_IO = {"model", "core", "providers"}
ALLOWED_LAYERS: dict[str, set[str]] = {
    "model": {"model"},
    "core": {"model", "core"},
    "providers": {"model", "core", "providers"},
    "transports": {"model", "core", "transports"},
    "server": {"model", "core", "providers", "server"},
    "api": {"model", "core", "providers", "transports", "api"},
    "websocket": {"model", "core", "providers", "server", "websocket"},
    "testing": {"model", "core", "providers", "transports", "server", "api", "testing"},
    "cli": {"model", "core", "providers", "transports", "server", "api", "testing", "cli"},
    "__main__": {"cli"},
    "": {"model", "core", "providers", "transports", "server", "api", "testing", "cli", "websocket"},
}
# Modules that still break a layer rule (none); an entry here marks its test a strict xfail, so a
# module cleaned up fails as XPASS until its entry is removed.
PENDING: dict[str, str] = {}

# The one exception to "the sans-IO layers import the standard library only": the optional, pure
# orjson accelerator, imported inside the function that resolves NDJSONParser(orjson_loads="auto")
# when a parser is built (never at module level, so importing the core loads nothing third-party),
# with os.environ read there for SANSSTREAM_NO_ACCEL. A module-level import is still refused.
LAZY_OPTIONAL: dict[str, frozenset[str]] = {"sansstream.core._ndjson": frozenset({"orjson", "os"})}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Absolute names of everything ``source`` imports, with line numbers."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                found.append((node.lineno, node.module))
                continue
            base = package.split(".")
            if node.level > 1:
                base = base[: -(node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
            if node.module:
                found.append((node.lineno, target))
            else:  # from . import x, y: each name is a module of that package
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def clock_reads(source: str) -> list[tuple[int, str]]:
    """Calls such as ``datetime.now()``, ``datetime.datetime.utcnow()`` or ``date.today()``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS
        ):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if owner_name in ("datetime", "date"):
                found.append((node.lineno, f"{owner_name}.{node.func.attr}()"))
    return found


def unit_of(module: str) -> str:
    """``sansstream.api._stream`` -> ``api``; ``sansstream.server`` -> ``server``; the package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def public_surface(unit: str) -> frozenset[str]:
    """The names a unit offers the others: its package's ``__all__``."""
    return frozenset(importlib.import_module(f"sansstream.{unit}").__all__)


def private_reach(source: str, module: str, is_package: bool) -> list[str]:
    """Imports of another unit's private modules, private names, or names it does not export."""
    problems = []
    here = unit_of(module)
    for line, target, names in imported_names(source, module, is_package):
        unit = unit_of(target)
        if not target.startswith("sansstream") or unit == here:
            continue
        private_path = [p for p in target.split(".")[1:] if p.startswith("_")]
        if private_path:
            problems.append(f"line {line}: imports from {target}, a private module of {unit or 'sansstream'}")
            continue
        # (dunder names such as __version__ are public by convention)
        private_names = [n for n in names if n.startswith("_") and not n.endswith("__")]
        if private_names:
            problems.append(f"line {line}: imports private {', '.join(private_names)} from {target}")
            continue
        if target == f"sansstream.{unit}" and unit and names:
            hidden = [n for n in names if n not in public_surface(unit) and not _is_submodule(target, n)]
            if hidden:
                problems.append(f"line {line}: imports {', '.join(hidden)}, not in {target}.__all__")
    return problems


def _is_submodule(package: str, name: str) -> bool:
    return (PACKAGE_ROOT.parent / package.replace(".", "/") / name).is_dir() or (
        PACKAGE_ROOT.parent / package.replace(".", "/") / f"{name}.py"
    ).is_file()


def imported_names(source: str, module: str, is_package: bool) -> list[tuple[int, str, list[str]]]:
    """``(line, absolute module, names)`` for each ``from ... import`` of ``source``; for
    ``from . import x`` the module is the package and the names are the submodules."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                target = node.module or ""
            else:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, target, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
    return found


def violations(source: str, module: str, is_package: bool, layer: str) -> list[str]:
    sans_io = layer in _SANS_IO
    problems = []
    if sans_io:
        problems = [f"line {line}: calls {call}, which reads the clock" for line, call in clock_reads(source)]
    top_level_lines = {node.lineno for node in ast.parse(source).body}
    for line, name in imported_modules(source, module, is_package):
        top = name.partition(".")[0]
        if top in LAZY_OPTIONAL.get(module, ()) and line not in top_level_lines:
            continue
        if name in ALLOWED_SUBMODULES or any(name.startswith(f"{sub}.") for sub in ALLOWED_SUBMODULES):
            continue
        if top == "sansstream":
            sub = unit_of(name)
            if sub and sub not in ALLOWED_LAYERS[layer] and not sub.startswith("_"):
                problems.append(
                    f"line {line}: imports {name}; {layer or 'sansstream'} may only import "
                    f"{sorted(ALLOWED_LAYERS[layer])} of sansstream"
                )
        elif not sans_io:
            continue
        elif top in FORBIDDEN:
            problems.append(f"line {line}: imports {name} (I/O, clocks or threads are not allowed)")
        elif top not in sys.stdlib_module_names and top not in THIRD_PARTY_ALLOWED:
            problems.append(f"line {line}: imports third-party {name}")
    return problems + private_reach(source, module, is_package)


def _layer_of(path: Path) -> str:
    return unit_of(module_name(path))


MODULES = sorted((_layer_of(path), path) for path in PACKAGE_ROOT.rglob("*.py"))


def _param(layer: str, path: Path) -> Any:
    name = module_name(path)
    if name not in PENDING:
        return pytest.param(layer, path, id=name)
    mark = pytest.mark.xfail(strict=True, reason=f"layer rule still broken (issue 13, open): {PENDING[name]}")
    return pytest.param(layer, path, id=name, marks=[mark])


def test_every_layer_has_modules() -> None:
    for layer in ALLOWED_LAYERS:
        assert any(found == layer for found, _ in MODULES), f"no modules found for {layer or 'sansstream'}"
    # Every unit that exists is covered: a new subpackage or top-level module must get a row.
    units = {_layer_of(path) for path in PACKAGE_ROOT.rglob("*.py")}
    assert units <= set(ALLOWED_LAYERS), f"units without a row: {units - set(ALLOWED_LAYERS)}"


@pytest.mark.parametrize(("layer", "path"), [_param(layer, path) for layer, path in MODULES])
def test_layer_imports(layer: str, path: Path) -> None:
    source = path.read_text("utf-8")
    problems = violations(source, module_name(path), path.name == "__init__.py", layer)
    hint = "\n(python tools/fix_layer_imports.py rewrites imports of private modules to the layer package)"
    assert not problems, f"{module_name(path)}:\n" + "\n".join(problems) + hint


@pytest.mark.parametrize(
    ("layer", "source", "bad"),
    [
        ("core", "import socket", "socket"),
        ("core", "def f():\n    import time", "time"),
        ("core", "from os import path", "os"),
        ("core", "from http.client import HTTPConnection", "http.client"),
        ("core", "import urllib.request", "urllib.request"),
        ("core", "from urllib import request", "urllib"),
        ("providers", "import datetime\nstamp = datetime.datetime.now()", "datetime.now()"),
        ("providers", "from datetime import datetime\nstamp = datetime.utcnow()", "datetime.utcnow()"),
        ("core", "from datetime import date\nday = date.today()", "date.today()"),
        ("core", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import requests", "requests"),
        ("core", "from ..providers import openai", "sansstream.providers"),
        ("core", "from ..transports import Transport", "sansstream.transports"),
        ("core", "import orjson", "orjson"),
        ("model", "from ..core import SSEParser", "sansstream.core"),
        ("providers", "from ..api import stream_chat", "sansstream.api"),
        ("providers", "import h11", "h11"),
        ("transports", "from ..providers import HTTPRequest", "sansstream.providers"),
        ("transports", "from ..api import stream_chat", "sansstream.api"),
        ("api", "from ..cli import main", "sansstream.cli"),
        ("api", "from ..model._errors import ConfigurationError", "private module"),
        ("transports", "from ..core._ndjson import NDJSONParser", "private module"),
        ("cli", "from ..model import _errors", "private _errors"),
        ("api", "from ..core import _LINE_FRAMINGS", "private _LINE_FRAMINGS"),
        ("api", "from ..core import NotAPublicName", "not in sansstream.core.__all__"),
    ],
)
def test_checker_catches_violations(layer: str, source: str, bad: str) -> None:
    problems = violations(source, f"sansstream.{layer}._example", False, layer)
    assert len(problems) == 1
    assert bad in problems[0]


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("core", "from ..model import ServerSentEvent\nfrom . import _sse\nimport json"),
        (
            "providers",
            "from ..core import iter_sse\nfrom ..model import TextDelta\nfrom ._base import Provider",
        ),
        ("model", "from typing_extensions import Self\nfrom ._errors import SansStreamError"),
        ("providers", "from urllib.parse import quote\nimport datetime\nx = datetime.timedelta(1)"),
        (
            "transports",
            "import socket\nimport h11\nfrom ..model import HTTPRequest\nfrom ._base import Timeouts",
        ),
        ("api", "from ..providers import get\nfrom ..transports import Timeouts\nfrom . import _stream"),
        ("cli", "from .. import providers\nfrom ..testing import rechunk"),
    ],
)
def test_checker_accepts_allowed_imports(layer: str, source: str) -> None:
    assert violations(source, f"sansstream.{layer}._example", False, layer) == []


# -- the core stays readable --------------------------------------------------------------------

CORE = Path(__file__).resolve().parent.parent / "sansstream" / "core"
MAX_FUNCTION_LINES = 80


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """``(name, first line, lines)`` of every function, counted from the first statement after
    its docstring to its last line (comments and blank lines inside count)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            first = body[0]
            if len(body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                first = body[1]
            found.append((node.name, node.lineno, (node.end_lineno or node.lineno) - first.lineno + 1))
    return found


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_no_core_function_is_longer_than_80_lines(path: Path) -> None:
    long = [
        f"{name} (line {line}): {n} lines"
        for name, line, n in function_lengths(path.read_text())
        if n > MAX_FUNCTION_LINES
    ]
    assert not long, f"split these (the core is read against its specs): {long}"


def test_the_length_check_counts_what_it_says() -> None:
    body = "\n".join(f"    x = {i}" for i in range(81))
    assert function_lengths(f'def f():\n    """doc"""\n{body}\n') == [("f", 1, 81)]
    assert function_lengths("def g():\n    return 1\n") == [("g", 1, 1)]
