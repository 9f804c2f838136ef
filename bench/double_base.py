"""One proof equation, g^v · A^c, with libsodium alone and with libdecaf (``crypto/fast.py``),
and the verifier's time per ballot both ways, measured in one run.

    python -m bench.double_base [--ballots 200] [--rounds 5] [--count 2000] [--quick]
                                [--no-write]

The two paths alternate round by round in this one process, and the best round of each is
kept, so the ratios hold better than the absolute figures on a busy machine.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from bench.common import append_section, command_line, machine, markdown_table
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
    parser.add_argument("--quick", action="store_true", help="a few seconds; nothing written")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.ballots, args.rounds, args.count, args.no_write = 20, 1, 200, True
    if fast.arithmetic() != "libdecaf":
        raise SystemExit("libdecaf0 is not installed: nothing to compare")

    rng = random.Random(7)
    a, p = g ** rng.randrange(1, Q), g ** rng.randrange(1, Q)
    v, c = rng.randrange(Q), rng.randrange(Q)
    base = _time_paths(lambda: fast.power_product(g, v, a, c), args.count, args.rounds)
    other = _time_paths(lambda: fast.power_product(p, v, a, c), args.count // 2, args.rounds)
    secret = _time_paths(
        lambda: fast.power_product(g, v, a, c, secret=True), args.count, args.rounds
    )

    record = build_record(RecordSpec(args.ballots))
    ballot = _time_paths(lambda: verify_record(record.path), 1, args.rounds)
    per_ballot = {path: seconds / args.ballots / 1000 for path, seconds in ballot.items()}

    headers = ["what", "libsodium (plain):", "libdecaf (fast):", "plain / fast:"]
    rows = []
    for label, figures in (
        ("g^v · A^c, checking (variable time) (µs)", base),
        ("g^v · A^c, making a proof (constant time) (µs)", secret),
        ("P^v · A^c, two variable bases (µs)", other),
        (f"verify, per ballot, {args.ballots}-ballot pick-1-of-8 record (ms)", per_ballot),
    ):
        plain, quick = figures["libsodium"], figures["libdecaf"]
        rows.append([label, f"{plain:.1f}", f"{quick:.1f}", f"{plain / quick:.2f}"])
    table = markdown_table(headers, rows)
    note = (
        "Best of each path's rounds; one process, the paths alternating; per-ballot time is "
        "the whole `verify_record` in one process (archive, chain, tally, decryption)."
    )
    print(table)
    print()
    print(note)
    if not args.no_write:
        append_section(
            "proof equations: libsodium alone vs libdecaf (`crypto/fast.py`)",
            command_line("bench.double_base", argv),
            [table, "", note],
            machine_info=machine(),
        )
        print("appended to BENCHMARKS.md")


if __name__ == "__main__":
    main()
