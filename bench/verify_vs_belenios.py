"""``make bench``: per-ballot verification time of ``unionvote verify`` and of Belenios's own
``belenios-tool election verify`` on the same record, one core each, side by side.

    python -m bench.verify_vs_belenios [--ballots 1000] [--rounds 3] [--quick] [--no-write]
                                       [--profile] [--cpu auto|N] [--suite trixie|sid]

What runs, alternating tool by tool in every round (the best round of each is reported):

* ``unionvote verify RECORD`` — every ballot (signature, proofs), the chain, the trustees, the
  tally, the partial decryptions and the result;
* ``belenios-tool election verify`` — the same checks as far as the work done goes (it has no
  option to force ballot checks; ``--skip-ballot-check`` is the only one), but see the probe
  below: belenios-tool 3.x computes every ballot's checks yet reports an invalid ballot only in
  some runs, at random;
* ``belenios-tool election verify --skip-ballot-check`` — everything but the ballots' proofs;
* both tools on the record cut right after its Setup event (start-up and setup checks only),
  so that the marginal cost of a ballot, ``(full − setup-only) / N``, is shown too;
* ``belenios-tool election verify-ballot``, the only belenios-tool command that reports an
  invalid ballot, on a sample of ballots, one process each (what ``belenios-verify`` runs N
  times).

Then a probe, not timed: a copy of the record in which one ballot carries a valid-looking but
wrong proof (re-signed, canonical, same ciphertexts, so same tally and result) is given to both
tools (belenios-tool ``election verify`` several times), to state from this very run what
``election verify`` actually reports.

Every timed command runs in its own process pinned to one core (``taskset -c CPU``); the time
is the wall-clock time from spawn to exit, the CPU time and the peak resident memory come from
``os.wait4`` — the per-child form of ``getrusage(RUSAGE_CHILDREN)``, which would otherwise
give the maximum over *all* children and could not tell the two tools apart.

belenios-tool comes from the Debian chroot that ``belenios-verify`` prepares (default
``/var/tmp/belenios-chroots/trixie``); this benchmark never prepares one. Without it, or
without root, only unionvote is measured and the output says so loudly.

``--profile`` adds ``python -m bench.profile RECORD``: where unionvote verify's time goes.
``--quick`` (50 ballots, one round, nothing written) runs in a few seconds, for CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.status import Status
from rich.table import Table

import unionvote
from bench.common import (
    BENCHMARKS,
    INTRO,
    REPO,
    Run,
    cpu_model,
    git_describe,
    idlest_cpu,
    loadavg,
    run_measured,
)
from bench.records import BuiltRecord, RecordSpec, build_record, tampered_copy
from unionvote.record.archive import ArchiveReader

UNIONVOTE = Path(sys.executable).with_name("unionvote")
CHROOTS = Path(os.environ.get("BELENIOS_CHROOT_DIR", "/var/tmp/belenios-chroots"))


@dataclass
class Subject:
    """One timed command, run once per round."""

    key: str
    label: str
    checks: str
    argv: list[str]
    ballots: int  # ballots in the record it reads (0 for a setup-only cut)
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run:
        return min(self.runs, key=lambda r: r.wall)

    @property
    def best_cpu(self) -> float:
        return min(r.cpu for r in self.runs)

    @property
    def median_wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.maxrss_kb for r in self.runs) / 1024


# -- the belenios-tool chroot --------------------------------------------------------------------


@dataclass
class Belenios:
    root: Path
    version: str
    pin: list[str]

    def argv(self, *args: str) -> list[str]:
        return [*self.pin, "chroot", str(self.root), "belenios-tool", *args]


def find_belenios(suite: str, pin: list[str], console: Console) -> tuple[Belenios | None, str]:
    root = CHROOTS / suite
    if os.geteuid() != 0:
        return None, "not root (chroot needs root)"
    if not (root / "usr/bin/belenios-tool").is_file():
        return None, f"no chroot with belenios-tool at {root} (run belenios-verify once to make it)"
    if shutil.which("chroot") is None:
        return None, "no chroot command"
    probe = run_measured(["chroot", str(root), "belenios-tool", "--version"])
    if probe.returncode != 0:
        return None, f"belenios-tool --version failed: {probe.last_line}"
    return Belenios(root, probe.stdout.strip().splitlines()[0], pin), ""


# -- records --------------------------------------------------------------------------------


def setup_prefix(record: Path) -> bytes:
    """The archive's bytes up to and including its Setup event (no end-of-archive blocks)."""
    with ArchiveReader.open(record) as reader:
        for entry in reader.iter_events():
            if entry.event.type == "Setup":
                end = reader.end_offset
                break
        else:
            raise SystemExit(f"{record}: no Setup event")
    with record.open("rb") as f:
        return f.read(end)


def sample_ballots(record: Path, count: int) -> list[tuple[int, bytes]]:
    """``count`` ballots spread over the record, with their 1-based numbers."""
    with ArchiveReader.open(record) as reader:
        ballots = [e.payload for e in reader.iter_events() if e.event.type == "Ballot"]
    if not ballots or count <= 0:
        return []
    step = max(1, len(ballots) // count)
    picked = list(range(0, len(ballots), step))[:count]
    return [(i + 1, ballots[i]) for i in picked if ballots[i] is not None]  # type: ignore[misc]


# -- the benchmark -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.verify_vs_belenios",
        description="Per-ballot verification time: unionvote verify vs belenios-tool.",
    )
    parser.add_argument("--ballots", type=int, default=1000, help="ballots in the record")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the record")
    parser.add_argument(
        "--cpu",
        default="auto",
        help="the core every timed run is pinned to (auto: the idlest over half a second)",
    )
    parser.add_argument("--suite", default="trixie", help="belenios chroot: trixie (3.0) or sid")
    parser.add_argument(
        "--sample", type=int, default=10, help="ballots for verify-ballot (1 process each)"
    )
    parser.add_argument("--quick", action="store_true", help="50 ballots, 1 round, no write")
    parser.add_argument("--no-probe", action="store_true", help="skip the tampered-ballot probe")
    parser.add_argument(
        "--probe-runs", type=int, default=5, help="belenios-tool verify runs on the tampered copy"
    )
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached record")
    parser.add_argument(
        "--profile", action="store_true", help="also profile unionvote verify (cProfile, grouped)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.ballots, args.rounds, args.sample, args.no_write = min(args.ballots, 50), 1, 3, True
        args.probe_runs = min(args.probe_runs, 3)
    if args.ballots < 1 or args.rounds < 1:
        parser.error("--ballots and --rounds must be at least 1")

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=170)
    given = list(argv if argv is not None else sys.argv[1:])
    command = " ".join(["python -m bench.verify_vs_belenios", *given])
    if given == ["--ballots", "1000"]:
        command += "` (what `make bench` runs)"
    else:
        command += "`"
    started = dt.datetime.now(dt.UTC)
    load_before = loadavg()

    pin: list[str] = []
    if shutil.which("taskset"):
        cpu = idlest_cpu() if args.cpu == "auto" else int(args.cpu)
        pin = ["taskset", "-c", str(cpu)]
        pinned = f"taskset -c {cpu}"
        if args.cpu == "auto":
            pinned += " (the idlest core at the start)"
    else:
        pinned = "NOT pinned (no taskset)"
        console.print("[bold yellow]WARNING: taskset not found: runs are not pinned[/]")

    belenios, why_not = find_belenios(args.suite, pin, console)
    if belenios is None:
        console.print(
            Panel(
                f"belenios-tool SKIPPED: {why_not}.\nOnly unionvote verify is measured; "
                "there is no ratio.",
                style="bold red",
            )
        )

    record = build_record(RecordSpec(args.ballots, args.seed), rebuild=args.rebuild)
    n = record.ballots
    setup_only = record.path.with_name(record.path.stem + ".setup-only.bel")
    setup_only.write_bytes(setup_prefix(record.path))  # cheap; never stale after --rebuild

    subjects: list[Subject] = [
        Subject(
            "ours",
            "unionvote verify",
            "chain, trustees, every ballot (signature, proofs), tally, decryptions, result",
            [*pin, str(UNIONVOTE), "verify", "--workers", "1", str(record.path)],
            n,
        ),
        Subject(
            "ours_setup",
            "unionvote verify, setup-only cut",
            "start-up + setup",
            [*pin, str(UNIONVOTE), "verify", "--workers", "1", str(setup_only)],
            0,
        ),
    ]
    work: Path | None = None
    verify_ballot: list[Run] = []
    probe: dict[str, str] = {}
    try:
        if belenios is not None:
            work = Path(tempfile.mkdtemp(prefix="unionvote-bench.", dir=belenios.root / "tmp"))
            inside = "/" + str(work.relative_to(belenios.root))
            for name, source in (("full", record.path), ("setup", setup_only)):
                (work / name).mkdir()
                shutil.copyfile(source, work / name / f"{record.uuid}.bel")
            subjects += [
                Subject(
                    "bel",
                    "belenios-tool election verify",
                    "computes every ballot's checks, but reports an invalid ballot only "
                    "sometimes (see probe)",
                    belenios.argv("election", "verify", "--dir", f"{inside}/full"),
                    n,
                ),
                Subject(
                    "bel_skip",
                    "belenios-tool election verify --skip-ballot-check",
                    "everything but ballot proofs",
                    belenios.argv(
                        "election", "verify", "--dir", f"{inside}/full", "--skip-ballot-check"
                    ),
                    n,
                ),
                Subject(
                    "bel_setup",
                    "belenios-tool election verify, setup-only cut",
                    "start-up + setup",
                    belenios.argv("election", "verify", "--dir", f"{inside}/setup"),
                    0,
                ),
            ]

        # Alternate the tools: ours, belenios, belenios without ballot checks, then the
        # setup-only cuts; every round runs every command once.
        rank = {"ours": 0, "bel": 1, "bel_skip": 2, "ours_setup": 3, "bel_setup": 4}
        order = sorted(subjects, key=lambda s: rank[s.key])
        with console.status("") as status:
            for round_ in range(1, args.rounds + 1):
                for subject in order:
                    status.update(f"round {round_}/{args.rounds}: {subject.label} ({n} ballots)")
                    run = run_measured(subject.argv)
                    if run.returncode != 0:
                        console.print(run.stdout[-3000:], run.stderr[-3000:])
                        raise SystemExit(
                            f"{subject.label} FAILED on the benchmark record (exit "
                            f"{run.returncode}); try --rebuild if the record format changed"
                        )
                    subject.runs.append(run)
                    console.print(
                        f"  round {round_}: {subject.label:<52} {run.wall:7.2f} s wall "
                        f"{run.cpu:7.2f} s cpu {run.maxrss_kb / 1024:6.1f} MB"
                    )

            if belenios is not None and work is not None:
                inside = "/" + str(work.relative_to(belenios.root))
                (work / "ballots").mkdir()
                for number, raw in sample_ballots(record.path, args.sample):
                    status.update(f"verify-ballot, ballot {number}")
                    (work / "ballots" / f"{number:06d}.json").write_bytes(raw)
                    run = run_measured(
                        belenios.argv(
                            "election",
                            "verify-ballot",
                            "--dir",
                            f"{inside}/setup",
                            "--ballot",
                            f"{inside}/ballots/{number:06d}.json",
                        )
                    )
                    if run.returncode != 0:
                        raise SystemExit(f"verify-ballot rejected ballot {number}: {run.last_line}")
                    verify_ballot.append(run)

            if not args.no_probe:
                status.update("probe: one ballot with a wrong proof")
                probe = run_probe(record, belenios, work, args.probe_runs, status)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    profile: list[str] = []
    if args.profile:
        with console.status("profiling unionvote verify (cProfile)"):
            run = run_measured(
                [*pin, sys.executable, "-m", "bench.profile", str(record.path)], cwd=REPO
            )
        if run.returncode != 0:
            raise SystemExit(f"bench.profile failed: {run.stderr[-2000:]}")
        profile = [line for line in run.stdout.splitlines() if line.startswith("|")]

    load_after = loadavg()
    by_key = {s.key: s for s in subjects}
    table, ratios, notes = summarise(by_key, verify_ballot, n)
    console.print()
    console.print(render_table(table, n))
    for line in ratios + notes:
        console.print(line)
    if probe:
        console.print("Probe (one ballot of the record given a wrong proof, re-signed):")
        for line in probe.values():
            console.print(f"  {line}")
    if profile:
        console.print("Where unionvote verify's time goes (cProfile, own time per function):")
        for line in profile:
            console.print(f"  {line}")
    if belenios is None:
        console.print(f"[bold red]belenios-tool was SKIPPED: {why_not}[/]")

    machine = {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "belenios-tool": belenios.version if belenios else f"SKIPPED ({why_not})",
        "unionvote": f"{unionvote.__version__} (git {git_describe()})",
        "pinning": pinned,
        "load average (1, 5, 15 min) before / after": f"{load_before} / {load_after}",
    }
    if not args.no_write:
        append_section(
            started, command, args, record, machine, table, ratios, notes, probe, profile
        )
        console.print(f"appended to {BENCHMARKS}")
    return 0


def run_probe(
    record: BuiltRecord, belenios: Belenios | None, work: Path | None, runs: int, status: Status
) -> dict[str, str]:
    bad = record.path.with_name(record.path.stem + ".tampered.bel")
    number = tampered_copy(record, bad)
    out: dict[str, str] = {}
    ours = run_measured([str(UNIONVOTE), "verify", str(bad)])
    out["ours"] = f"unionvote verify: exit {ours.returncode} — {ours.last_line.strip()}" + (
        "" if ours.returncode != 0 else "  [NOT DETECTED]"
    )
    if belenios is not None and work is not None:
        inside = "/" + str(work.relative_to(belenios.root))
        (work / "bad").mkdir()
        shutil.copyfile(bad, work / "bad" / f"{record.uuid}.bel")
        caught, times = 0, []
        for attempt in range(1, runs + 1):
            status.update(f"probe: belenios-tool election verify on the tampered copy, {attempt}")
            run = run_measured(belenios.argv("election", "verify", "--dir", f"{inside}/bad"))
            caught += run.returncode != 0
            times.append(run.cpu)
        out["bel"] = (
            f"belenios-tool election verify: reported the invalid ballot in {caught} of {runs} "
            f"runs (CPU {min(times):.2f}–{max(times):.2f} s), passed it in {runs - caught}"
            + ("  [NOT RELIABLY DETECTED]" if caught < runs else "")
        )
        with ArchiveReader.open(bad) as reader:
            raw = [e.payload for e in reader.iter_events() if e.event.type == "Ballot"][number - 1]
        assert raw is not None
        (work / "bad" / "ballot.json").write_bytes(raw)
        run = run_measured(
            belenios.argv(
                "election",
                "verify-ballot",
                "--dir",
                f"{inside}/setup",
                "--ballot",
                f"{inside}/bad/ballot.json",
            )
        )
        verdict = "rejected" if run.returncode != 0 else "ACCEPTED"
        reason = "InvalidBallot" if "InvalidBallot" in run.stderr else run.last_line[:80]
        out["bel_one"] = (
            f"belenios-tool election verify-ballot on that ballot: exit {run.returncode}, "
            f"{verdict} ({reason})"
        )
    bad.unlink(missing_ok=True)
    return out


# -- summary ---------------------------------------------------------------------------------


@dataclass
class Row:
    tool: str
    checks: str
    total: float | None
    cpu: float | None
    ms_per_ballot: float | None
    peak_mb: float | None
    median: float | None = None


def summarise(
    s: dict[str, Subject], verify_ballot: list[Run], n: int
) -> tuple[list[Row], list[str], list[str]]:
    rows: list[Row] = []
    for key in ("ours", "bel", "bel_skip"):
        if key in s:
            sub = s[key]
            best = sub.best
            rows.append(
                Row(
                    sub.label,
                    sub.checks,
                    best.wall,
                    sub.best_cpu,
                    best.wall / n * 1000,
                    sub.peak_mb,
                    sub.median_wall,
                )
            )
    marginal: dict[str, float] = {}
    for key, setup in (("ours", "ours_setup"), ("bel", "bel_setup")):
        if key in s and setup in s:
            fixed = s[setup].best.wall
            marginal[key] = (s[key].best.wall - fixed) / n * 1000
            rows.append(
                Row(
                    f"{s[key].label}: marginal, (full − setup-only) / N",
                    f"start-up + setup = {fixed:.2f} s taken out",
                    None,
                    None,
                    marginal[key],
                    None,
                )
            )
    if verify_ballot:
        walls = [r.wall for r in verify_ballot]
        per = statistics.median(walls)
        rows.append(
            Row(
                f"belenios-tool election verify-ballot, 1 process per ballot ({len(walls)} runs)",
                f"reports an invalid ballot; N runs would take {per * n:.0f} s",
                None,
                statistics.median(r.cpu for r in verify_ballot),
                per * 1000,
                max(r.maxrss_kb for r in verify_ballot) / 1024,
            )
        )
    ratios: list[str] = []
    notes: list[str] = []
    if "bel" in s:
        ours, bel = s["ours"].best, s["bel"].best
        rounds = len(s["ours"].runs)
        cpu_ratio = s["bel"].best_cpu / s["ours"].best_cpu
        wall_ratio = bel.wall / ours.wall
        marginal_ratio = (
            f"; marginal wall-clock per ballot {marginal['bel'] / marginal['ours']:.2f}"
            if marginal.get("ours", 0) > 0 and "bel" in marginal
            else ""
        )
        ratios.append(
            "Ratio belenios-tool election verify / unionvote verify, per ballot: "
            f"CPU time [bold]{cpu_ratio:.2f}[/] (best of {rounds} each); "
            f"wall-clock {wall_ratio:.2f} (best of {rounds} each){marginal_ratio}."
        )
        if cpu_ratio < 1:
            slower = 1 / cpu_ratio
            verdict = f"[bold red]SLOWER[/] than belenios-tool election verify ({slower:.2f}×)"
        elif cpu_ratio < 2:
            verdict = (
                f"not slower than belenios-tool election verify, but only {cpu_ratio:.2f}× as fast"
                " (CPU time): not the several times faster aimed at"
            )
        else:
            verdict = f"{cpu_ratio:.1f}× as fast as belenios-tool election verify (CPU time)"
        ratios.append(f"unionvote verify is {verdict}.")
        if "ours_setup" in s and "bel_setup" in s:
            fixed_ours, fixed_bel = s["ours_setup"].best.wall, s["bel_setup"].best.wall
            if fixed_ours > 0.1 * ours.wall:
                notes.append(
                    f"At {n} ballots the fixed cost weighs: {fixed_ours:.2f} s of unionvote's "
                    f"{ours.wall:.2f} s is start-up and setup checks (Python start-up, imports, "
                    f"trustee proofs), against {fixed_bel:.2f} s for belenios-tool; the marginal "
                    "rows compare the per-ballot work."
                )
        inflation = max(ours.wall / ours.cpu, bel.wall / bel.cpu)
        if inflation > 1.1:
            notes.append(
                "The machine was busy with other work during this run: a best wall-clock time was "
                f"up to {inflation:.2f}× its CPU time (waiting for the core), so the wall-clock "
                "figures and their ratio are noisy; the CPU-time ratio is the one to go by."
            )
    if "bel" in s and "bel_skip" in s:
        proofs = (s["bel"].best_cpu - s["bel_skip"].best_cpu) / n * 1000
        notes.append(
            f"belenios-tool's ballot checks alone (CPU of verify − verify --skip-ballot-check): "
            f"{proofs:.2f} ms per ballot."
        )
    return rows, ratios, notes


def _fmt(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def render_table(rows: list[Row], n: int) -> Table:
    table = Table(title=f"Verifying a record of {n} ballots, one core")
    for col, justify in (
        ("tool", "left"),
        ("total s", "right"),
        ("CPU s", "right"),
        ("ms/ballot", "right"),
        ("ballots/s", "right"),
        ("peak MB", "right"),
        ("what it checks", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r.tool,
            _fmt(r.total, ".2f"),
            _fmt(r.cpu, ".2f"),
            _fmt(r.ms_per_ballot, ".2f"),
            _fmt(None if not r.ms_per_ballot else 1000 / r.ms_per_ballot, ".0f"),
            _fmt(r.peak_mb, ".1f"),
            r.checks,
        )
    return table


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| tool | total s | CPU s | ms/ballot | ballots/s | peak MB | what it checks |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        per_s = None if not r.ms_per_ballot else 1000 / r.ms_per_ballot
        lines.append(
            f"| {r.tool} | {_fmt(r.total, '.2f')} | {_fmt(r.cpu, '.2f')} | "
            f"{_fmt(r.ms_per_ballot, '.2f')} | {_fmt(per_s, '.0f')} | {_fmt(r.peak_mb, '.1f')} | "
            f"{r.checks} |"
        )
    return "\n".join(lines)


def _plain(text: str) -> str:
    return re.sub(r"\[bold[^\]]*\]", "**", text).replace("[/]", "**")


def append_section(
    started: dt.datetime,
    command: str,
    args: argparse.Namespace,
    record: BuiltRecord,
    machine: dict[str, str],
    rows: list[Row],
    ratios: list[str],
    notes: list[str],
    probe: dict[str, str],
    profile: list[str],
) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.is_file() else INTRO
    section = [
        "",
        f"## {started:%Y-%m-%d %H:%M} UTC — verify: unionvote vs belenios-tool, "
        f"{record.ballots} ballots",
        "",
        f"Command: `{command}; {args.rounds} rounds, the tools alternating.",
        "",
        f'Record: one question "pick 1 of 8" (min 1, max 1), trustees Single + Pedersen 2-of-3, '
        f"{record.ballots} voters with one ballot each, tallied, decrypted (owners 1, 2, 4) and "
        f"its result published; seed {record.seed}, {record.path.stat().st_size / 1e6:.1f} MB.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()) + ".",
        "",
        markdown_table(rows),
        "",
        "total s: the best wall-clock time of the rounds, spawn to exit; CPU s: the least "
        "user + system time of the rounds; ms/ballot: total s / N (for the marginal rows: "
        "(full − setup-only cut) / N; for verify-ballot: one process, median); peak MB: the "
        "largest resident set of the rounds (`os.wait4` ru_maxrss).",
        "",
        *(f"- {_plain(line)}" for line in ratios + notes),
    ]
    if probe:
        section += ["- Probe, one ballot given a wrong proof (re-signed; same ciphertexts):"]
        section += [f"  - {line}" for line in probe.values()]
    if profile:
        section += [
            "",
            "Where `unionvote verify`'s time goes (`python -m bench.profile RECORD`: cProfile, "
            "each function's own time, grouped; cProfile inflates the Python rows):",
            "",
            *profile,
        ]
    BENCHMARKS.write_text(text.rstrip("\n") + "\n" + "\n".join(section) + "\n")


if __name__ == "__main__":
    sys.exit(main())
