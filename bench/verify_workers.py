"""``unionvote verify``'s ballots per second on one worker (in-process) and on two (the local
process pool, ``verify/ballots.py``), measured in one run on the same record.

    python -m bench.verify_workers [--ballots 2000] [--rounds 2]

The two settings alternate round by round and the best round of each is kept, so the ratio
holds better than the absolute figures on a busy machine. Each round is the whole
``verify_record`` (workers' start-up included) and must pass.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.records import RecordSpec, build_record
from unionvote.crypto import fast
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
    args = parser.parse_args(argv)
    record = build_record(RecordSpec(ballots=args.ballots))
    load_before = os.getloadavg()
    best = {1: (float("inf"), 0.0), 2: (float("inf"), 0.0)}
    for _ in range(args.rounds):
        for workers in best:
            best[workers] = min(best[workers], _seconds(record.path, workers))
    load_after = os.getloadavg()
    rate = {workers: args.ballots / seconds for workers, (seconds, _) in best.items()}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"## {now} — verify: one worker vs two (`--workers`)\n")
    print(
        f"Command: `python -m bench.verify_workers --ballots {args.ballots} --rounds "
        f"{args.rounds}`; the settings alternating, best round of each; proofs checked with "
        f"{fast.arithmetic()}.\n"
    )
    print(
        f"Record: the bench's pick-1-of-8 record (trustees Single + Pedersen 2-of-3), "
        f"{args.ballots} ballots, seed {record.seed}. Machine: nproc {os.cpu_count()}, "
        f"python {platform.python_version()}; load average (1, 5, 15 min) before / after: "
        f"{' '.join(f'{x:.2f}' for x in load_before)} / "
        f"{' '.join(f'{x:.2f}' for x in load_after)}.\n"
    )
    print("| workers | total s | CPU s (parent + workers) | ballots/s |")
    print("|---:|---:|---:|---:|")
    for workers, (seconds, cpu) in best.items():
        print(f"| {workers} | {seconds:.2f} | {cpu:.2f} | {rate[workers]:.0f} |")
    print(f"\nRatio, two workers / one: **{rate[2] / rate[1]:.2f}**.")


if __name__ == "__main__":
    main()
