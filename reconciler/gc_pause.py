"""Pause Python's cyclic garbage collector while large, cycle-free structures are built.

A full collection walks every live container object. Loading tens of thousands of
documents (and diffing them against as many stored resources) allocates millions of
objects that stay alive, so the collector runs again and again over an ever larger heap,
finding nothing: without the pause it took most of the time of reading YAML (the profile
is in bench/RESULTS.md). Nothing built there forms a reference cycle; reference counting
frees all of it as usual, and the collector runs again as soon as the block ends.

What was built meanwhile goes straight to the oldest generation (`freeze` then
`unfreeze`, both documented and O(1)), where it stays collectable: otherwise the first
young collections after the pause would walk all of it twice, to promote it there.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
