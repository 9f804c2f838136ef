"""Issue 5 (scale), the roll and the credentials: importing a roll of N members into SQLite and
PostgreSQL, then the real sequence to a credential per member — freeze the electorate, register
everyone, close registration, export ``registered.csv``, ``unionvote credentials generate`` —
and the letters, each step the real ``unionvote`` command in its own process.

    python -m bench.roll_credentials --members 1200000 \\
        [--steps roll-sqlite,roll-postgres,credentials,letters] [--letters 10000] \\
        [--quick] [--no-write]

The roll is the synthetic one (``unionvote.domain.synthetic``, seed 2024), written once to
``bench/.cache`` as the union's export would be. Each import is ``unionvote roll import FILE
--yes``: into a new, empty database, then a changed export of the same roll (1% of members with
a new dues status, 0.5% gone, 0.5% new) — the differences path. The PostgreSQL database
(``unionvote_bench_roll`` on 127.0.0.1:5432) is made afresh and dropped at the end.

The process file is ``examples/iam-2024.toml`` with its eligibility widened to every member of
the roll (U.S. and Canada, every dues status, a cutoff after every joined date), so that all N
members are eligible and registered and the authority makes N credentials.

Letters: fpdf2 lays out about a thousand pages a second on one core (DejaVu Sans embedded), so
for a large N the letters are printed for a sample of ``--letters`` members (a workspace made
from the first members of the export), on ``--workers`` processes, and the time for N is
extrapolated from its rate, and labelled so.

Peak memory: ``peak MB`` is the step's largest process (``os.wait4``'s ru_maxrss, which is the
largest of the command and its process pool's workers); ``tree MB`` is the largest sum of the
resident sets of the command and its workers, sampled every 50 ms. CPU s includes the workers.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    REPO,
    Run,
    append_section,
    command_line,
    loadavg,
    machine,
    markdown_table,
    run_measured,
)
from unionvote.domain.roll import COLUMNS
from unionvote.domain.synthetic import synthetic_roll, write_roll_csv

__all__ = ["main"]

CACHE = REPO / "bench" / ".cache"
PROCESS = REPO / "examples" / "iam-2024.toml"
STAGE = "membership-vote"
SEED = 2024
STEPS = ("roll-sqlite", "roll-postgres", "credentials", "letters")
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "unionvote_bench_roll"
TARGET_SECONDS = 120.0  # issue 5: roll import and credential generation each under 2 minutes
QUICK_MEMBERS, QUICK_LETTERS = 2000, 200
WIDENED = """[eligibility]
countries = ["US", "CA"]
dues_statuses = ["good standing", "arrears", "suspended", "retired"]
cutoff = 2030-12-31
"""


# -- measuring ----------------------------------------------------------------------------------


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


class TreeSampler:
    """The largest summed resident set of this process's descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total, todo = 0, _children(me)
            while todo:
                pid = todo.pop()
                total += _rss_kb(pid)
                todo += _children(pid)
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Row:
    step: str
    members: int
    run: Run
    tree_kb: int
    note: str = ""
    extrapolated_to: int | None = None

    def cells(self) -> list[object]:
        rate = self.members / self.run.wall if self.run.wall else 0.0
        peak_bytes = self.run.maxrss_kb * 1024
        cells: list[object] = [
            self.step,
            f"{self.members:,}",
            f"{self.run.wall:.1f}",
            f"{rate:,.0f}",
            f"{self.run.cpu:.1f}",
            f"{self.run.peak_mb:.0f}",
            f"{self.tree_kb / 1024:.0f}",
            f"{peak_bytes / self.members:,.0f}",
        ]
        if self.extrapolated_to:
            seconds = self.extrapolated_to / rate
            cells.append(
                f"{self.note}; **extrapolated** to {self.extrapolated_to:,}: {seconds:,.0f} s "
                f"({seconds / 3600:.1f} h)"
                if seconds >= 3600
                else f"{self.note}; **extrapolated** to {self.extrapolated_to:,}: {seconds:,.0f} s"
            )
        else:
            cells.append(self.note)
        return cells


HEADERS = (
    "step",
    "members:",
    "seconds:",
    "members/s:",
    "CPU s:",
    "peak MB:",
    "tree MB:",
    "peak bytes/member:",
    "notes",
)


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.rows: list[Row] = []

    def unionvote(
        self,
        step: str | None,
        members: int,
        *args: str,
        cwd: Path,
        database: str | None = None,
        note: str = "",
    ) -> Run:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(COLUMNS="160", NO_COLOR="1", TERM="dumb")
        if database is not None:
            env["DATABASE_URL"] = database
        argv = [str(REPO / ".venv" / "bin" / "unionvote"), *args]
        if not Path(argv[0]).exists():
            argv = ["unionvote", *args]
        with TreeSampler() as sampler:
            run = run_measured(argv, cwd=cwd, env=env)
        if run.returncode != 0:
            raise SystemExit(
                f"unionvote {' '.join(args)}: exit {run.returncode}\n{run.stdout}\n{run.stderr}"
            )
        if step is not None:
            self.rows.append(Row(step, members, run, sampler.peak_kb, note))
            row = self.rows[-1]
            print("  " + " | ".join(str(c) for c in row.cells()), flush=True)
        return run


# -- the roll files -----------------------------------------------------------------------------


def roll_file(members: int) -> Path:
    """The synthetic roll export of ``members`` members (cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"roll-{members}-seed{SEED}.csv"
    if not path.exists():
        print(f"writing {path.name} …", flush=True)
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8", newline="") as stream:
            write_roll_csv(synthetic_roll(members, seed=SEED), stream)
        partial.replace(path)
    return path


def changed_roll_file(members: int) -> tuple[Path, str]:
    """The same roll exported later: every 100th member's dues status changed, every 200th gone,
    members/200 new members at the end (cached)."""
    path = CACHE / f"roll-{members}-seed{SEED}-changed.csv"
    with roll_file(members).open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        status = header.index("dues_status")
        rows: Iterator[list[str]] = iter(reader)
        if not path.exists():
            partial = path.with_suffix(".partial")
            with partial.open("w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerow(header)
                for i, row in enumerate(rows):
                    if i % 200 == 199:
                        continue
                    if i % 100 == 0:
                        row[status] = "arrears" if row[status] != "arrears" else "good standing"
                    writer.writerow(row)
                for j in range(members // 200):
                    new = dict.fromkeys(COLUMNS, "")
                    new |= {
                        "card_number": f"N-{j:07d}",
                        "first_name": "New",
                        "last_name": f"Member{j}",
                        "dues_status": "good standing",
                        "country": "US",
                        "state": "OH",
                        "postal_code": "43004",
                        "city": "Columbus",
                        "local": "1000",
                    }
                    writer.writerow([new[c] for c in header])
            partial.replace(path)
    changed, removed = (members + 99) // 100, members // 200  # rows 0, 100, …; 199, 399, …
    return path, f"a later export: {changed:,} dues changed, {removed:,} gone, {removed:,} new"


def widened_process(directory: Path) -> Path:
    """examples/iam-2024.toml with every member of the roll eligible."""
    text = PROCESS.read_text(encoding="utf-8")
    start = text.index("[eligibility]")
    end = text.index("\n[", start + 1) + 1
    path = directory / "process.toml"
    path.write_text(text[:start] + WIDENED + text[end:], encoding="utf-8")
    return path


# -- the steps ----------------------------------------------------------------------------------


def import_roll(bench: Bench, label: str, database: str, members: int, cwd: Path) -> None:
    process = widened_process(cwd)
    bench.unionvote(None, members, "init", str(process), cwd=cwd, database=database)
    roll = roll_file(members)
    bench.unionvote(
        f"roll import, new roll ({label})",
        members,
        "roll",
        "import",
        str(roll),
        "--yes",
        cwd=cwd,
        database=database,
        note="check + insert, one pass (--yes)",
    )
    changed, note = changed_roll_file(members)
    bench.unionvote(
        f"roll import, changed roll ({label})",
        members,
        "roll",
        "import",
        str(changed),
        "--yes",
        cwd=cwd,
        database=database,
        note=note,
    )


def postgres_database() -> Iterator[str]:
    import psycopg

    def admin(sql: str) -> None:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as conn:
            conn.autocommit = True
            conn.execute(sql)

    admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    admin(f"CREATE DATABASE {PG_DATABASE}")
    try:
        yield f"{PG_SERVER}/{PG_DATABASE}"
    finally:
        admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


def credentials(bench: Bench, database: str, members: int, cwd: Path, workers: int) -> Path:
    """From the imported roll to the authority's workspace; returns registered.csv."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    bench.unionvote(
        "freeze the electorate",
        members,
        "roll",
        "freeze",
        STAGE,
        cwd=cwd,
        database=database,
        note="eligibility snapshot + digest",
    )
    bench.unionvote(
        None,
        members,
        "registration",
        "open",
        STAGE,
        "--opens",
        (now - dt.timedelta(hours=1)).isoformat(),
        "--closes",
        (now + dt.timedelta(days=1)).isoformat(),
        cwd=cwd,
        database=database,
    )
    bench.unionvote(
        "register everyone",
        members,
        "registration",
        "register-all",
        STAGE,
        cwd=cwd,
        database=database,
        note="rehearsal path: one INSERT … SELECT",
    )
    bench.unionvote(
        "close registration",
        members,
        "registration",
        "close",
        STAGE,
        cwd=cwd,
        database=database,
        note="uuid fixed, electorate.json",
    )
    registered = cwd / "registered.csv"
    bench.unionvote(
        "export registered.csv",
        members,
        "electorate",
        "export",
        STAGE,
        "--out",
        str(registered),
        cwd=cwd,
        database=database,
        note="the server's file for the authority",
    )
    bench.unionvote(
        "credentials generate",
        members,
        "credentials",
        "generate",
        "--registered",
        str(registered),
        "--dir",
        str(cwd / "ws"),
        "--workers",
        str(workers),
        cwd=cwd,
        note=f"{workers} worker processes; private CSV + public JSON written and fsynced",
    )
    return registered


def sample_registered(registered: Path, count: int, target: Path) -> None:
    """The first ``count`` members of registered.csv, its header line saying so."""
    import json

    from unionvote.authority.registered import HEADER_PREFIX

    with registered.open(encoding="utf-8", newline="") as source:
        header = json.loads(source.readline()[len(HEADER_PREFIX) :])
        header["count"] = count
        with target.open("w", encoding="utf-8", newline="") as out:
            out.write(HEADER_PREFIX + json.dumps(header, sort_keys=True, ensure_ascii=False))
            out.write("\n")
            out.write(source.readline())
            for _ in range(count):
                out.write(source.readline())


def letters(
    bench: Bench, registered: Path, members: int, sample: int, cwd: Path, workers: int
) -> None:
    if sample >= members:
        workspace, count = cwd / "ws", members
    else:
        count = sample
        part = cwd / f"registered-{sample}.csv"
        sample_registered(registered, sample, part)
        workspace = cwd / "ws-letters"
        bench.unionvote(
            None,
            sample,
            "credentials",
            "generate",
            "--registered",
            str(part),
            "--dir",
            str(workspace),
            cwd=cwd,
        )
    out = cwd / "letters"
    out.mkdir()
    bench.unionvote(
        "credentials letters",
        count,
        "credentials",
        "letters",
        "--dir",
        str(workspace),
        "--out",
        str(out / "letters.pdf"),
        "--workers",
        str(workers),
        cwd=cwd,
        note=f"PDF, one page each, 5,000 pages a file, {workers} worker processes"
        + (f"; a sample of {sample:,} of the {members:,}" if sample < members else ""),
    )
    if sample < members:
        bench.rows[-1].extrapolated_to = members
    size = sum(p.stat().st_size for p in out.iterdir())
    bench.rows[-1].note += f"; {size / count / 1024:.1f} KiB a letter"


# -- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_200_000)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"of {', '.join(STEPS)}")
    parser.add_argument(
        "--letters", type=int, default=10_000, help="letters printed (a sample when < members)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MEMBERS:,} members")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.members, args.letters = QUICK_MEMBERS, QUICK_LETTERS
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {', '.join(unknown)}; the steps are {', '.join(STEPS)}")
    if "letters" in steps and "credentials" not in steps:
        parser.error("letters need the credentials step")
    if args.members < 200:
        parser.error("--members must be at least 200")

    started = dt.datetime.now(dt.UTC)
    load_before = loadavg()
    info = machine(workers=str(args.workers))
    roll_file(args.members)
    changed_roll_file(args.members)
    work = Path(tempfile.mkdtemp(prefix="unionvote-bench-roll-"))
    bench = Bench(work)
    print(f"{args.members:,} members, steps {', '.join(steps)}; working in {work}", flush=True)
    try:
        sqlite_dir = work / "sqlite"
        sqlite_dir.mkdir()
        sqlite_url = f"sqlite:///{sqlite_dir / 'unionvote.db'}"
        if "roll-sqlite" in steps or "credentials" in steps:
            import_roll(bench, "SQLite", sqlite_url, args.members, sqlite_dir)
            if "roll-sqlite" not in steps:
                bench.rows = [r for r in bench.rows if "SQLite" not in r.step]
        if "roll-postgres" in steps:
            pg_dir = work / "postgres"
            pg_dir.mkdir()
            databases = postgres_database()
            url = next(databases)
            try:
                import_roll(bench, "PostgreSQL", url, args.members, pg_dir)
            finally:
                databases.close()
        if "credentials" in steps:
            registered = credentials(bench, sqlite_url, args.members, sqlite_dir, args.workers)
            if "letters" in steps:
                letters(bench, registered, args.members, args.letters, sqlite_dir, args.workers)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load_after = loadavg()

    table = markdown_table(HEADERS, [row.cells() for row in bench.rows])
    verdicts = []
    for row in bench.rows:
        if row.step.startswith("roll import, new roll") or row.step == "credentials generate":
            wall, cpu = row.run.wall, row.run.cpu
            verdict = (
                "no verdict at this size"
                if row.members < 1_200_000
                else "meets the target"
                if wall < TARGET_SECONDS
                else "misses the target on the wall clock"
                + (
                    f", though its CPU time ({cpu:.0f} s) is under it: the machine was shared"
                    if cpu < TARGET_SECONDS
                    else ""
                )
            )
            verdicts.append(
                f"- {row.step}: {wall:.0f} s wall, {cpu:.0f} s CPU for {row.members:,} members "
                f"(target: under {TARGET_SECONDS:.0f} s"
                + ("" if row.members >= 1_200_000 else ", for 1.2 million")
                + f") — {verdict}."
            )
    body = [
        f"Roll: synthetic (seed {SEED}), {args.members:,} members; process: examples/"
        "iam-2024.toml with its eligibility widened to every member, so that all are "
        "registered and get a credential. Each step is the `unionvote` command in its own "
        f"process; load average (1, 5, 15 min) before / after: {load_before} / {load_after} "
        "(other work may share the machine: a load above 2 means the wall clock is stretched).",
        "",
        table,
        "",
        "seconds: wall clock, spawn to exit; CPU s: user + system, the process pool's workers "
        "included; peak MB: the largest single process (ru_maxrss); tree MB: the largest sum of "
        "the command's and its workers' resident sets (sampled every 50 ms); peak bytes/member: "
        "peak MB / members (start-up included).",
        "",
        *verdicts,
    ]
    print()
    print("\n".join(body))
    if not args.no_write:
        append_section(
            f"roll import and credentials, {args.members:,} members",
            command_line("bench.roll_credentials", argv),
            body,
            machine_info=info,
            started=started,
        )


if __name__ == "__main__":
    main()
