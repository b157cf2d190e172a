"""Rewrite imports that reach into another layer's private modules to go through its public surface.

``from ..model._errors import ConfigurationError`` in ``sansstream/api/`` becomes
``from ..model import ConfigurationError`` when ``sansstream.model.__all__`` lists every imported
name (``tests/test_layering.py`` refuses the first form). Imports it cannot rewrite (a name the
layer does not export, a private name, ``from ..model import _errors``) are listed with their line,
for a person to decide: export the name from its layer, or stop importing it.

Usage, from the project root::

    python tools/fix_layer_imports.py            # rewrite in place, list what is left
    python tools/fix_layer_imports.py --check    # only list (exit 1 if anything is found)
    python tools/fix_layer_imports.py sansstream/api/_recovery.py ...

Then run ``ruff check --select I --fix sansstream`` to merge and sort the rewritten imports.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sansstream"


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_of(path: Path) -> tuple[str, str]:
    """``(module, package)`` dotted names of a file under ``sansstream/``."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    module = ".".join(parts)
    return module, module if is_package else module.rpartition(".")[0]


def _relative(package: str, target: str) -> str:
    here, there = package.split("."), target.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    return "." * (len(here) - common + 1) + ".".join(there[common:])


LAYERS = ("model", "core", "providers", "transports", "api", "testing")


def _lowest_home(target: str, names: list[str]) -> str | None:
    """The lowest layer package exporting every one of ``names`` as the same objects ``target``
    holds (``HTTPRequest`` imported from providers lives in model, which transports may import)."""
    source = importlib.import_module(target)
    for layer in LAYERS:
        package = importlib.import_module(f"sansstream.{layer}")
        exported = set(package.__all__)
        if all(n in exported and getattr(package, n) is getattr(source, n, None) for n in names):
            return package.__name__
    return None


def fix(path: Path, write: bool) -> list[str]:
    """Rewrite ``path``; return the imports left for a person."""
    module, package = _module_of(path)
    lines = path.read_text("utf-8").split("\n")
    left: list[str] = []
    changed = False
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, ast.ImportFrom) or node.level == 0 or not node.module:
            continue
        base = package.split(".")
        if node.level > 1:
            base = base[: -(node.level - 1)]
        target = ".".join([*base, node.module])
        if _unit(target) == _unit(module) or not any(p.startswith("_") for p in target.split(".")[2:]):
            continue
        layer = ".".join(target.split(".")[:2])
        names = [alias.name for alias in node.names]
        layer = _lowest_home(target, names) or layer
        public = set(importlib.import_module(layer).__all__)
        hidden = [n for n in names if n not in public]
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if hidden:
            model = set(importlib.import_module("sansstream.model").__all__)
            in_model = set(hidden) <= model and layer != "sansstream.model"
            hint = " (it lives in sansstream.model)" if in_model else ""
            left.append(f"{where}: {', '.join(hidden)} from {target} (not in {layer}.__all__){hint}")
            continue
        first = lines[node.lineno - 1]
        rewritten = re.sub(r"^(\s*from )\.+[\w.]+( import)", rf"\g<1>{_relative(package, layer)}\g<2>", first)
        if rewritten == first:
            left.append(f"{where}: could not rewrite {first.strip()!r}")
            continue
        lines[node.lineno - 1] = rewritten
        changed = True
    if changed and write:
        path.write_text("\n".join(lines), "utf-8")
    elif changed:
        where = f"{path.relative_to(ROOT)}"
        left.append(f"{where}: imports private modules of other layers (run without --check)")
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files to fix (default: the whole package)")
    parser.add_argument("--check", action="store_true", help="list only; exit 1 if anything is found")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    paths = [p.resolve() for p in args.paths] or sorted(PACKAGE.rglob("*.py"))
    left = [line for path in paths for line in fix(path, write=not args.check)]
    for line in left:
        print(line)
    return 1 if left and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
