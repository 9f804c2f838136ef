"""Jobs for ``test_engine.py`` that misbehave, in a module light enough for a spawned pool
process or a Dask worker to import (or be sent) quickly. No tests here."""

from __future__ import annotations

import os
import time
from pathlib import Path


def die_on_two(state: int, batch: int) -> int:
    """``state * batch``, except that batch 2 kills the process running it, wherever it is
    tried."""
    if batch == 2:
        os._exit(3)
    return state * batch


def note_pid(directory: str) -> str:
    """A ``prepare`` that leaves a file named after the process running it in ``directory``."""
    (Path(directory) / str(os.getpid())).touch()
    return directory


def sleep_long(state: str, batch: int) -> int:
    """A batch that takes ten minutes: its process outlives any test unless it is ended."""
    time.sleep(600)
    return batch
