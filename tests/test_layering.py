"""The sans-IO layers import nothing that does I/O, and dependencies point down only.

Every module of ``sansstream/model``, ``sansstream/core`` and ``sansstream/providers`` is parsed
(``ast``, nothing is executed) and each import is resolved, relative ones included:

* model may import the standard library, typing_extensions and model;
* core may import those and model;
* providers may import those, model and core;
* none of them may import a module that does I/O, reads a clock or spawns threads (socket, ssl,
  requests, h11, threading, time, logging, os, asyncio, select, urllib, http...), wherever the
  import sits (inside functions and ``TYPE_CHECKING`` blocks too), nor read the clock through
  ``datetime.now()`` / ``date.today()`` (pure code takes the time as an argument).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

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
# Which sansstream layers each layer may import.
ALLOWED_LAYERS = {
    "model": {"model"},
    "core": {"model", "core"},
    "providers": {"model", "core", "providers"},
}


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


def violations(source: str, module: str, is_package: bool, layer: str) -> list[str]:
    problems = [f"line {line}: calls {call}, which reads the clock" for line, call in clock_reads(source)]
    for line, name in imported_modules(source, module, is_package):
        top = name.partition(".")[0]
        if name in ALLOWED_SUBMODULES or any(name.startswith(f"{sub}.") for sub in ALLOWED_SUBMODULES):
            continue
        if top in FORBIDDEN:
            problems.append(f"line {line}: imports {name} (I/O, clocks or threads are not allowed)")
        elif top == "sansstream":
            sub = name.split(".")[1] if name.count(".") else ""
            if sub not in ALLOWED_LAYERS[layer]:
                problems.append(
                    f"line {line}: imports {name}; {layer} may only import "
                    f"{sorted(ALLOWED_LAYERS[layer])} of sansstream"
                )
        elif top not in sys.stdlib_module_names and top not in THIRD_PARTY_ALLOWED:
            problems.append(f"line {line}: imports third-party {name}")
    return problems


MODULES = sorted((layer, path) for layer in ALLOWED_LAYERS for path in (PACKAGE_ROOT / layer).rglob("*.py"))


def test_every_layer_has_modules() -> None:
    for layer in ALLOWED_LAYERS:
        assert any(found == layer for found, _ in MODULES), f"no modules found in sansstream/{layer}"


@pytest.mark.parametrize(("layer", "path"), MODULES, ids=[module_name(p) for _, p in MODULES])
def test_layer_imports(layer: str, path: Path) -> None:
    source = path.read_text("utf-8")
    problems = violations(source, module_name(path), path.name == "__init__.py", layer)
    assert not problems, f"{module_name(path)}:\n" + "\n".join(problems)


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
        ("core", "from ..transports._base import Transport", "sansstream.transports._base"),
        ("core", "import orjson", "orjson"),
        ("model", "from ..core import SSEParser", "sansstream.core"),
        ("providers", "from ..api import stream_chat", "sansstream.api"),
        ("providers", "import h11", "h11"),
    ],
)
def test_checker_catches_violations(layer: str, source: str, bad: str) -> None:
    problems = violations(source, f"sansstream.{layer}._example", False, layer)
    assert len(problems) == 1
    assert bad in problems[0]


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("core", "from ..model._events import ServerSentEvent\nfrom . import _sse\nimport json"),
        (
            "providers",
            "from ..core import iter_sse\nfrom ..model import TextDelta\nfrom ._base import Provider",
        ),
        ("model", "from typing_extensions import Self\nfrom ._errors import SansStreamError"),
        ("providers", "from urllib.parse import quote\nimport datetime\nx = datetime.timedelta(1)"),
    ],
)
def test_checker_accepts_allowed_imports(layer: str, source: str) -> None:
    assert violations(source, f"sansstream.{layer}._example", False, layer) == []
