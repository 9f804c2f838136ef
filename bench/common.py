"""What every benchmark shares: measuring a child process, describing the machine, and
appending a dated section to ``BENCHMARKS.md``.

A benchmark prints its figures as a table and, unless told ``--no-write``, appends the same
table to ``BENCHMARKS.md`` under a heading with the date, the command that produced it and the
machine it ran on (:func:`append_section`). Peak memory is read per child with ``os.wait4``
(:func:`run_measured`), or for the running process with :func:`peak_rss_mb`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import unionvote

__all__ = [
    "BENCHMARKS",
    "INTRO",
    "REPO",
    "Run",
    "append_section",
    "command_line",
    "cpu_model",
    "git_describe",
    "idlest_cpu",
    "loadavg",
    "machine",
    "markdown_table",
    "peak_rss_mb",
    "run_measured",
]

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "BENCHMARKS.md"

INTRO = """\
# Benchmarks

Figures measured on this 2-core machine; ratios are measured side by side in one run (the tools
alternate, each pinned to one core), so they hold better than the absolute figures, which
depend on what else the machine is doing (the load average is recorded with each run). Each
section names the command that produced it; re-run it to refresh the figures.
"""


# -- measuring one process ---------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    maxrss_kb: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_mb(self) -> float:
        return self.maxrss_kb / 1024

    @property
    def last_line(self) -> str:
        lines = [line for line in (self.stdout + self.stderr).splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_measured(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Run:
    """Spawn ``argv``, wait for it with ``os.wait4`` and return its times and peak memory.

    ``os.wait4`` gives this child's own usage (``RUSAGE_CHILDREN`` would give the maximum over
    every child so far). The peak is the child's largest resident set; a child's own children
    (a process pool's workers) are not counted in it.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            argv, stdout=out, stderr=err, cwd=cwd, env=dict(env) if env is not None else None
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            maxrss_kb=usage.ru_maxrss,  # kilobytes on Linux
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def peak_rss_mb(*, children: bool = False) -> float:
    """This process's peak resident set so far (or its largest finished child's), in MB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


# -- machine -----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_describe() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes in src/' if dirty else ''}" if head else "unknown"


def _idle_ticks() -> dict[int, int]:
    ticks: dict[int, int] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
    return ticks


def idlest_cpu() -> int:
    """The allowed core with the most idle time over the next half second."""
    allowed = sorted(os.sched_getaffinity(0))
    try:
        before = _idle_ticks()
        time.sleep(0.5)
        after = _idle_ticks()
    except (OSError, ValueError, IndexError):
        return allowed[0]
    return max(allowed, key=lambda c: (after.get(c, 0) - before.get(c, 0), -c))


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "?"


def machine(**extra: str) -> dict[str, str]:
    """The machine and software a figure was measured with (the load average is read now)."""
    from unionvote.crypto import fast

    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": _memory_gb(),
        "python": platform.python_version(),
        "unionvote": f"{unionvote.__version__} (git {git_describe()})",
        "group arithmetic": fast.arithmetic(),
        **extra,
        "load average (1, 5, 15 min)": loadavg(),
    }


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """How to re-run a bench: ``python -m bench.NAME ARGS``."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", "-m", module, *(shlex.quote(a) for a in args)])


# -- BENCHMARKS.md -------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; a header ending in ``:`` is right-aligned (the colon is dropped)."""
    names = [h.rstrip(":") for h in headers]
    rule = ["---:" if h.endswith(":") else "---" for h in headers]
    lines = ["| " + " | ".join(names) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def append_section(
    title: str,
    command: str,
    body: Sequence[str],
    *,
    machine_info: Mapping[str, str] | None = None,
    started: dt.datetime | None = None,
    path: Path = BENCHMARKS,
) -> None:
    """Append ``## <date> UTC — <title>`` with the command, the machine and ``body`` lines."""
    when = (started or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M")
    info = machine() if machine_info is None else machine_info
    text = path.read_text() if path.is_file() else INTRO
    section = [
        "",
        f"## {when} UTC — {title}",
        "",
        f"Command: `{command}`.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()) + ".",
        "",
        *body,
    ]
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(section) + "\n")
