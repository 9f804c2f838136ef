"""One proof equation, g^v · A^c, with libsodium alone and with libdecaf (``crypto/fast.py``),
and the verifier's time per ballot both ways, measured in one run.

    python -m bench.double_base [--ballots 200] [--rounds 5] [--count 2000]

The two paths alternate round by round in this one process, and the best round of each is
kept, so the ratios hold better than the absolute figures on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable

from bench.records import RecordSpec, build_record
from unionvote.crypto import fast
from unionvote.crypto.group import Q, g
from unionvote.verify.record import verify_record

__all__ = ["main"]


def _microseconds_each(work: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        work()
    return (time.perf_counter() - start) / count * 1e6


def _time_paths(work: Callable[[], object], count: int, rounds: int) -> dict[str, float]:
    """The best of ``rounds`` per path, the paths alternating."""
    best = {"libsodium": float("inf"), "libdecaf": float("inf")}
    try:
        for _ in range(rounds):
            for path in best:
                fast.set_enabled(path == "libdecaf")
                best[path] = min(best[path], _microseconds_each(work, count))
    finally:
        fast.set_enabled(None)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=200, help="ballots in the record")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per path (best kept)")
    parser.add_argument("--count", type=int, default=2000, help="equations per round")
    args = parser.parse_args(argv)
    if fast.arithmetic() != "libdecaf":
        raise SystemExit("libdecaf0 is not installed: nothing to compare")

    rng = random.Random(7)
    a, p = g ** rng.randrange(1, Q), g ** rng.randrange(1, Q)
    v, c = rng.randrange(Q), rng.randrange(Q)
    base = _time_paths(lambda: fast.power_product(g, v, a, c), args.count, args.rounds)
    other = _time_paths(lambda: fast.power_product(p, v, a, c), args.count // 2, args.rounds)

    record = build_record(RecordSpec(args.ballots))
    ballot = _time_paths(lambda: verify_record(record.path), 1, args.rounds)
    per_ballot = {path: seconds / args.ballots / 1000 for path, seconds in ballot.items()}

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"command: python -m bench.double_base --ballots {args.ballots} "
        f"--rounds {args.rounds} --count {args.count}"
    )
    print(f"load average (1, 5, 15 min) at the end: {load}; nproc: {os.cpu_count()}")
    print()
    print("| what | libsodium (plain) | libdecaf (fast) | plain / fast |")
    print("|---|---:|---:|---:|")
    for label, figures in (
        ("g^v · A^c (µs)", base),
        ("P^v · A^c, two variable bases (µs)", other),
        (f"verify, per ballot, {args.ballots}-ballot pick-1-of-8 record (ms)", per_ballot),
    ):
        plain, quick = figures["libsodium"], figures["libdecaf"]
        print(f"| {label} | {plain:.1f} | {quick:.1f} | {plain / quick:.2f} |")
    print()
    print(
        "best of each path's rounds; one process, the paths alternating; per-ballot time is "
        "the whole `verify_record` (archive, chain, tally, decryption) over the ballots"
    )


if __name__ == "__main__":
    main()
