"""``unionvote verify``'s ballots per second on one worker (in-process) and on two (the local
process pool, ``verify/engine.py``), measured in one run on the same record.

    python -m bench.verify_workers [--ballots 2000] [--rounds 2] [--quick] [--no-write]

The two settings alternate round by round and the best round of each is kept, so the ratio
holds better than the absolute figures on a busy machine. Each round is the whole
``verify_record`` (workers' start-up included) and must pass.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from bench.common import append_section, command_line, machine, markdown_table
from bench.records import RecordSpec, build_record
from unionvote.verify.record import verify_record

__all__ = ["main"]


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the workers)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _seconds(path: Path, workers: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds (parent and workers) of one whole verification."""
    start, cpu = time.perf_counter(), _cpu()
    report = verify_record(path, workers=workers)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"the record did not verify with {workers} workers: {report.verdict()}")
    return elapsed, _cpu() - cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=2000, help="ballots in the record")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per setting (best kept)")
    parser.add_argument("--quick", action="store_true", help="a few seconds; nothing written")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.quick:
        # Over one batch (256), so the pool really runs.
        args.ballots, args.rounds, args.no_write = 300, 1, True
    record = build_record(RecordSpec(ballots=args.ballots))
    load_before = os.getloadavg()
    best = {1: (float("inf"), 0.0), 2: (float("inf"), 0.0)}
    for _ in range(args.rounds):
        for workers in best:
            best[workers] = min(best[workers], _seconds(record.path, workers))
    rate = {workers: args.ballots / seconds for workers, (seconds, _) in best.items()}
    headers = ["workers:", "total s:", "CPU s (parent + workers):", "ballots/s:"]
    rows = [
        [workers, f"{seconds:.2f}", f"{cpu:.2f}", f"{rate[workers]:.0f}"]
        for workers, (seconds, cpu) in best.items()
    ]
    lines = [
        f"Record: the bench's pick-1-of-8 record (trustees Single + Pedersen 2-of-3), "
        f"{args.ballots} ballots, seed {record.seed}; the settings alternating, best round of "
        f"each; load average before the run: {' '.join(f'{x:.2f}' for x in load_before)}.",
        "",
        markdown_table(headers, rows),
        "",
        f"Ratio, two workers / one: **{rate[2] / rate[1]:.2f}**.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        append_section(
            "verify: one worker vs two (`--workers`)",
            command_line("bench.verify_workers", argv),
            lines,
            machine_info=machine(),
        )
        print("appended to BENCHMARKS.md")


if __name__ == "__main__":
    main()
