"""Pause Python's cyclic garbage collector while a planning stage allocates many small objects.

Why: after rendering a large tree the process holds millions of objects (every rendered output and
requirement string), and each generation-2 collection, triggered merely by allocation counts, walks
all of them. Building the graph of the whole bioconda corpus allocates enough tuples, sets and dicts
to trigger several such walks: measured, half of the graph stage's CPU time (1.6 s -> 0.8 s) was the
collector finding nothing, since the planner's values hold no reference cycles to reclaim.

The pause is scoped (a context manager) and re-entrant: the collector is re-enabled only by the
``with`` that disabled it, and never left off; reference counting frees memory as usual meanwhile.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the ``with`` body with the cyclic collector off (restored afterwards, also on error).

    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
