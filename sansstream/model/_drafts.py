"""Building frozen, slotted dataclass instances fast: the one place that decides how.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__``: about
0.5 us for a small event, as much as the rest of parsing or decoding it. A *draft* class has the
very same ``__slots__`` in the same order (so the same memory layout) but is mutable: hot loops
fill a draft with plain attribute stores and then relabel it (``draft.__class__ = Target``, which
CPython allows between layout-identical classes), about four times faster. The result is an
ordinary instance of the target: equal, hashable and frozen from then on.

``draft_class(Target)`` makes the draft class and proves, once, that relabelling gives an object
equal to one built by the constructor; it returns ``None`` when it does not (the target changed
shape, or an interpreter refuses the assignment), and callers then use the constructor. The
relabelling itself stays inline in the callers' loops (``d.__class__ = Target``): a function call
there would cost what the trick saves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["draft_class"]


def draft_class(target: type, sample: dict[str, Any]) -> type | None:
    """A mutable class with ``target``'s slots whose instances can be relabelled as ``target``,
    or ``None`` if that does not give what ``target(**sample)`` gives (then use the constructor).

    ``target`` must be a slotted dataclass; ``sample`` holds one value per field, used for the
    self-test. Fields with ``init=False`` (a fixed ``type`` tag) are filled from the constructed
    sample, so the draft carries them too.
    """
    slots = getattr(target, "__slots__", None)
    if not dataclasses.is_dataclass(target) or not isinstance(slots, tuple):
        return None
    names = tuple(f.name for f in dataclasses.fields(target))
    if sorted(names) != sorted(slots):
        return None  # a field without a slot (or the reverse): not layout-identical
    draft = type(f"_{target.__name__}Draft", (), {"__slots__": slots, "__module__": __name__})
    try:
        plain = target(**sample)
        made: Any = draft()
        for name in slots:
            setattr(made, name, getattr(plain, name))
        made.__class__ = target
        same = made == plain and hash(made) == hash(plain)
        if not same or any(getattr(made, n) is not getattr(plain, n) for n in slots):
            return None
    except (TypeError, AttributeError):  # an interpreter (or a future class) that refuses it
        return None
    return draft
