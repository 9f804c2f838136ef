"""``make bench`` and ``make bench-scale``: every benchmark, quick or at full size.

    python -m bench.run            # quick: each bench's --quick pass (small sizes, nothing written)
    python -m bench.run --scale    # full sizes (hours; by hand); each appends to BENCHMARKS.md
    python -m bench.run --only tally_scale,cast_http [--scale]

Each benchmark runs in its own process, one after another (they would disturb each other's
figures); one that fails does not stop the others, and the exit status says whether all passed.
The full sizes are the ones issue 5 asks for: a roll of 1.2 million members, 1.2 million
credentials, ten minutes of casting over HTTP on PostgreSQL, an election of about 1.2 million
ballots tallied and verified (1.3 million members on the roll, of whom about 93% are eligible).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from bench.common import REPO

#: name → (quick arguments, full-size arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "double_base": (["--quick"], []),
    "verify_workers": (["--quick"], ["--ballots", "20000"]),
    "verify_vs_belenios": (["--quick"], ["--ballots", "1000"]),
    "verify_cluster": (["--quick"], ["--ballots", "20000"]),
    "roll_credentials": (["--quick"], ["--members", "1200000"]),
    # 150 casts/s for 10 minutes: 90,000 ballots, by members signed in before the window.
    "cast_http": (
        ["--quick"],
        ["--voters", "100000", "--signed-in", "96000", "--duration", "600", "--workers", "2"],
    ),
    # 1,430,000 members on the roll: about 1,203,000 eligible, one ballot each (made and
    # written by bench.bulk_ballots: simulate's checked casts would take hours).
    "tally_scale": (
        ["--quick"],
        ["--members", "1430000", "--bulk-ballots", "--tally-workers", "2", "--verify-workers", "2"],
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--scale", action="store_true", help="full sizes (hours), written")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    outcomes: list[tuple[str, int, float]] = []
    for name in names:
        extra = BENCHES[name][1 if args.scale else 0]
        command = [sys.executable, "-m", f"bench.{name}", *extra]
        console.rule(f"bench.{name} {' '.join(extra)}")
        start = time.perf_counter()
        code = subprocess.run(command, cwd=REPO, check=False).returncode
        outcomes.append((name, code, time.perf_counter() - start))
    console.rule("summary")
    for name, code, seconds in outcomes:
        verdict = "[green]ok[/]" if code == 0 else f"[bold red]FAILED (exit {code})[/]"
        console.print(f"bench.{name}: {verdict} in {seconds:,.0f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
