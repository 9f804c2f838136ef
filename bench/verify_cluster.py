"""``unionvote verify`` on a Dask cluster (``--scheduler``): ballots per second with 1, 2 and 4
worker processes of a local cluster, beside the same record checked in this process and on the
local process pool (``--workers 2``), and whether every setting gives the same report.

    python -m bench.verify_cluster [--ballots 2000] [--cluster-workers 1,2,4] [--rounds 1]
                                   [--batch-size 256] [--quick] [--no-write]

Each cluster is a ``distributed.LocalCluster`` of that many worker processes, one thread each,
on this machine; its start (and the workers' first import of unionvote) is not timed, as a
standing cluster's would not be. Each timed run is the whole ``verify_record`` (reading the
record, the ballots on the engine, the tally, the decryptions and the result) and must give
the in-process report, check by check. The speed-up is against the cluster of one worker.
"main thread CPU" is what this process's main thread spent: all the work in this process;
otherwise only reading the record and applying the outcomes in order, the part that does not
spread out over workers (a local cluster's scheduler also runs in this process, in threads).
On a machine of ``nproc`` cores, more worker processes than cores cannot go faster: the
figures say how close the cluster comes to the cores it has, and what it costs over the local
pool.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import append_section, command_line, loadavg, machine, markdown_table
from bench.records import RecordSpec, build_record
from unionvote.verify.ballots import BATCH_SIZE
from unionvote.verify.engine import DaskEngine
from unionvote.verify.record import verify_record

__all__ = ["main"]


def _timed(run: Callable[[], Any], rounds: int) -> tuple[float, float, Any]:
    """The best wall-clock seconds of ``rounds`` runs, the CPU seconds of this thread in that
    run, and the last run's report."""
    best, report = (float("inf"), 0.0), None
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.thread_time()
        report = run()
        best = min(best, (time.perf_counter() - start, time.thread_time() - cpu))
    return best[0], best[1], report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=2000, help="ballots in the record")
    parser.add_argument(
        "--cluster-workers", default="1,2,4", help="cluster sizes to measure (comma-separated)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs per setting (best kept)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="ballots per batch")
    parser.add_argument("--quick", action="store_true", help="a few seconds; nothing written")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.quick:  # several batches, so every worker gets some
        args.ballots, args.batch_size, args.rounds, args.no_write = 48, 8, 1, True
        args.cluster_workers = "1,2"
    sizes = [int(n) for n in args.cluster_workers.split(",")]
    if not sizes or min(sizes) < 1:
        parser.error("--cluster-workers: positive numbers, e.g. 1,2,4")

    from distributed import Client, LocalCluster  # after argparse: --help stays quick

    record = build_record(RecordSpec(ballots=args.ballots))
    path, batch = record.path, args.batch_size
    load_before = loadavg()

    seconds, cpu, reference = _timed(lambda: verify_record(path, batch_size=batch), args.rounds)
    if not reference.ok:
        raise SystemExit(f"the bench record did not verify: {reference.verdict()}")
    expected = reference.to_json()
    results: list[tuple[str, int, float, float, bool]] = [("this process", 1, seconds, cpu, True)]
    seconds, cpu, report = _timed(
        lambda: verify_record(path, workers=2, batch_size=batch), args.rounds
    )
    results.append(("local pool (`--workers 2`)", 2, seconds, cpu, report.to_json() == expected))

    starts: dict[int, float] = {}
    for size in sizes:
        start = time.perf_counter()
        with LocalCluster(
            n_workers=size, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster:
            with Client(cluster.scheduler_address, set_as_default=False) as client:
                client.run(importlib.import_module, "unionvote.verify.ballots")
            starts[size] = time.perf_counter() - start
            with DaskEngine(cluster.scheduler_address) as engine:
                seconds, cpu, report = _timed(
                    lambda engine=engine: verify_record(path, engine=engine, batch_size=batch),
                    args.rounds,
                )
        results.append(
            (
                f"Dask, {size} worker{'s' if size > 1 else ''}",
                size,
                seconds,
                cpu,
                report.to_json() == expected,
            )
        )
    load_after = loadavg()

    one = next((s for name, n, s, _, _ in results if name.startswith("Dask") and n == 1), None)
    alone = results[0][2]
    headers = [
        "engine",
        "workers:",
        "seconds:",
        "ballots/s:",
        "main thread CPU s:",
        "speed-up vs 1 Dask worker:",
        "vs this process:",
        "same report",
    ]
    rows = [
        [
            name,
            workers,
            f"{seconds:.2f}",
            f"{args.ballots / seconds:.0f}",
            f"{cpu:.2f}",
            f"{one / seconds:.2f}" if one is not None and name.startswith("Dask") else "",
            f"{alone / seconds:.2f}",
            "yes" if same else "**NO**",
        ]
        for name, workers, seconds, cpu, same in results
    ]
    lines = [
        f"Record: the bench's pick-1-of-8 record (trustees Single + Pedersen 2-of-3), "
        f"{args.ballots} ballots, seed {record.seed}; batches of {batch} ballots; best of "
        f"{args.rounds} run(s) per setting; each cluster is a local one (worker processes of "
        f"one thread on this machine, nproc {os.cpu_count()}), started before the clock "
        f"({', '.join(f'{n} worker(s): {s:.1f} s' for n, s in starts.items())}). Load average "
        f"(1, 5, 15 min) before / after: {load_before} / {load_after}.",
        "",
        markdown_table(headers, rows),
    ]
    print("\n".join(lines))
    if not all(same for *_, same in results):
        raise SystemExit("a setting gave another report than this process: see the table")
    if not args.no_write:
        append_section(
            "verify on a Dask cluster (`--scheduler`)",
            command_line("bench.verify_cluster", argv),
            lines,
            machine_info=machine(),
        )
        print("appended to BENCHMARKS.md")


if __name__ == "__main__":
    main()
