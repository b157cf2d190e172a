"""How public classes and functions present themselves: under the package a user imports them
from, not the private module that defines them.

A traceback reads ``sansstream.ConfigurationError: …`` rather than
``sansstream.model._errors.ConfigurationError: …``, and ``help()`` / ``repr()`` of a class name a
module the user can import. Each layer package calls ``present()`` on its own ``__all__``: a name
the top-level package exports presents itself as ``sansstream``, any other as its layer package
(``sansstream.transports``…); both resolve the name, so pickling by reference keeps working.

Other classes with annotated class attributes (the event, chunk and result dataclasses) keep
their defining module: ``typing.get_type_hints`` and libraries built on it (pydantic, cattrs)
resolve those annotations in ``sys.modules[cls.__module__]``, which must be the module that
defines the names the annotations use. Exceptions are presented whatever they annotate (a
``partial`` result): a traceback is where users read the name, and nobody validates an
exception with pydantic.

The price, as in other libraries that do this (trio): ``inspect.getsource()`` of a presented class
looks for it in the public package's file and fails; functions keep their source (it is found
through their code object), and ``cls.__init__.__code__.co_filename`` names the defining file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["present"]


def _top_level_names() -> frozenset[str]:
    # The top-level package has always run (a subpackage is imported through it), and its
    # ``__all__`` is a static list defined before it imports anything: reading it imports nothing.
    top = sys.modules.get(__name__.partition(".")[0])
    return frozenset(getattr(top, "__all__", ()))


def present(namespace: Mapping[str, Any], names: Iterable[str], package: str) -> None:
    """Set ``__module__`` of each public class and function in ``namespace`` listed in ``names``:
    ``sansstream`` for the top level's names, else ``package``."""
    top = _top_level_names()
    root = package.partition(".")[0]
    for name in names:
        value = namespace.get(name)
        if isinstance(value, type):
            if vars(value).get("__annotations__") and not issubclass(value, BaseException):
                continue
        elif not callable(value) or not hasattr(value, "__code__"):
            continue  # constants, aliases, instances: nothing to present
        if not str(getattr(value, "__module__", "")).startswith(root + "."):
            continue  # re-exported from elsewhere (the stdlib, typing): not ours to rename
        value.__module__ = root if name in top else package
