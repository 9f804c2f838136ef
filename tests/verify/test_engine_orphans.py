"""A local pool's processes end by themselves when the process that started them is killed
(SIGKILL: no clean-up runs in it), instead of working on, unseen, for nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

# The parent: a pool of two processes on batches that each take ten minutes.
PARENT = """
import sys
sys.path.insert(0, {jobs!r})
from test_engine_jobs import note_pid, sleep_long
from unionvote.verify.engine import Job, LocalPoolEngine
with LocalPoolEngine(2) as engine:
    for _ in engine.map(Job(note_pid, {directory!r}, sleep_long), range(10)):
        pass
"""


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still exists and is not a zombie (ended, waiting to be reaped
    by whoever adopted it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: this pid was reused
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return not Path("/proc").is_dir()
    except IndexError:
        return True
    return state not in ("Z", "X")


def _wait(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def test_pool_processes_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    started = tmp_path / "started"
    started.mkdir()
    script = PARENT.format(jobs=str(Path(__file__).parent), directory=str(started))
    parent = subprocess.Popen([sys.executable, "-c", script])
    workers: list[int] = []
    try:
        assert _wait(lambda: len(list(started.iterdir())) == 2, 120), (
            "the pool's two processes did not start"
        )
        workers = [int(path.name) for path in started.iterdir()]
        assert all(_alive(pid) for pid in workers)
        time.sleep(0.5)  # both are now inside their ten-minute batch
        assert parent.poll() is None
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _wait(lambda: not any(_alive(pid) for pid in workers), 5), (
            f"pool processes {[pid for pid in workers if _alive(pid)]} outlived their parent"
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:  # so that a failure leaves nothing behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
