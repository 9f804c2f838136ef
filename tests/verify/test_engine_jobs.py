"""Jobs for ``test_engine.py`` that misbehave, in a module light enough for a spawned pool
process or a Dask worker to import (or be sent) quickly. No tests here."""

from __future__ import annotations

import os


def die_on_two(state: int, batch: int) -> int:
    """``state * batch``, except that batch 2 kills the process running it, wherever it is
    tried."""
    if batch == 2:
        os._exit(3)
    return state * batch
