"""The election's heavy steps at scale, each a real ``unionvote`` command in its own process:
casting N ballots with full checks, closing, the tally (one worker and all), the trustees'
decryption, the result and the report, the export, and ``unionvote verify`` of the record (one
worker and all), beside ``belenios-tool election verify`` on the same record.

    python -m bench.tally_scale [--members 100000] [--database postgresql|sqlite]
                                [--belenios-limit 100000] [--quick] [--no-write] [--rebuild]
                                [--tally-workers 1,2] [--verify-workers 1,2]

The election: one question, pick 1 of 8; results broken down by state and local (the report's
small-group rule applies); trustees: the server's key and a Pedersen 2-of-3 group. Every
synthetic member of the roll who is eligible registers (``register-all``), the credential
authority makes every credential, and ``unionvote simulate`` casts one ballot per registered
member (made on every core, each checked in full by ``do_cast`` and committed before the
next): the number of ballots is the number of eligible members, about 93% of the roll.

What is cached (``bench/.cache/scale-…``, keyed by the parameters): the database as it stands
when voting ends, before the close. Each tally run starts from a copy of it, so the tally can
be measured with one worker and with all of them; the rest of the process follows the last.

Each step's time, CPU time and peak memory come from ``os.wait4`` on its process
(``bench.common.run_measured``); "bytes per ballot" is the step's peak resident memory divided
by the number of ballots — a figure that only means something at large N, where it shows
whether a step's memory grows with the election.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import (
    REPO,
    Run,
    append_section,
    command_line,
    machine,
    markdown_table,
    run_measured,
)
from unionvote.domain.publication import record_file_name

CACHE = REPO / "bench" / ".cache"
UNIONVOTE = str(Path(sys.executable).with_name("unionvote"))
CHROOTS = Path(os.environ.get("BELENIOS_CHROOT_DIR", "/var/tmp/belenios-chroots"))
STAGE = "membership-vote"
PUBLISHED = "published"
SEED = 2024
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
CANDIDATES = (
    ("Joe Biden", "Democratic", 61),
    ("Donald Trump", "Republican", 17),
    ("Robert F. Kennedy Jr.", "Independent", 7),
    ("Ron DeSantis", "Republican", 7),
    ("Nikki Haley", "Republican", 3),
    ("Vivek Ramaswamy", "Republican", 2),
    ("Dean Phillips", "Democratic", 2),
    ("Marianne Williamson", "Democratic", 1),
)
# Bump when the prepared database would differ, so cached ones are rebuilt.
PREPARED_VERSION = 1


def process_file() -> str:
    """The bench's process: the IAM's eligibility and report rules, one pick-1-of-8 stage."""
    candidates = "\n".join(
        f'[[stages.questions.candidates]]\nname = "{name}"\nparty = "{party}"\n'
        for name, party, _ in CANDIDATES
    )
    return f"""\
# unionvote's scale benchmark: one question, pick 1 of 8, results by state and local.
[union]
name = "Benchmark Union"
short_name = "BU"

[eligibility]
countries = ["US"]
dues_statuses = ["good standing"]
cutoff = 2023-11-01

[[parties]]
name = "Democratic"

[[parties]]
name = "Republican"

[[parties]]
name = "Independent"

[report]
threshold_percent = 2
rounding = "nearest point"
min_group_size = 50
party_totals = true
breakdowns = ["state", "local"]

[[stages]]
id = "{STAGE}"
title = "General membership vote"
electorate = "members"

[[stages.questions]]
id = "president"
question = "Which candidate for President of the United States should the union endorse?"
min = 1
max = 1

{candidates}"""


def shares_file() -> str:
    shares = "\n".join(f'"{name}" = {share}' for name, _, share in CANDIDATES)
    return f"[{STAGE}]\nabstain = 0\nrevote = 0\n\n[{STAGE}.shares.president]\n{shares}\n"


# -- databases ------------------------------------------------------------------------------------


@dataclass
class Place:
    """Where a database lives, and how to copy it (the prepared one → a working one)."""

    kind: str  # "sqlite" or "postgresql"
    directory: Path

    def url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.directory / f'{name}.db'}"
        return f"{PG_SERVER}/{name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def exists(self, name: str) -> bool:
        if self.kind == "sqlite":
            return (self.directory / f"{name}.db").is_file()
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as c:
            row = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            return row is not None

    def drop(self, name: str) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (self.directory / f"{name}.db{suffix}").unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create(self, name: str) -> None:
        self.drop(name)
        if self.kind == "postgresql":
            self._admin(f'CREATE DATABASE "{name}"')

    def analyze(self, name: str) -> None:
        """Refresh the planner's statistics, as autovacuum does while a vote goes on over days:
        a database filled in an hour may not have them yet, and the tally's join then gets a
        plan for a few hundred ballots."""
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.directory / f"{name}.db") as c:
                c.execute("ANALYZE")
        else:
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as c:
                c.execute("ANALYZE")

    def copy(self, source: str, target: str) -> None:
        self.drop(target)
        if self.kind == "sqlite":
            import sqlite3

            with (
                sqlite3.connect(self.directory / f"{source}.db") as src,
                sqlite3.connect(self.directory / f"{target}.db") as dst,
            ):
                src.backup(dst)
        else:
            self._admin(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def postgres_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "no server"
        return False


# -- the steps -------------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    ballots: int
    run: Run

    @property
    def rate(self) -> str:
        return f"{self.ballots / self.run.wall:,.0f}" if self.ballots and self.run.wall else "—"

    @property
    def per_ballot(self) -> str:
        if not self.ballots:
            return "—"
        return f"{self.run.maxrss_kb * 1024 / self.ballots:,.0f}"


class Runner:
    def __init__(self, console: Console, work: Path) -> None:
        self.console, self.work = console, work
        self.steps: list[Step] = []

    def cli(self, name: str, url: str, *args: str, ballots: int = 0, record: bool = True) -> Run:
        env = {**os.environ, "DATABASE_URL": url}
        self.console.print(f"[dim]{name}: unionvote {' '.join(args)}[/dim]")
        run = run_measured([UNIONVOTE, *args], cwd=self.work, env=env)
        if run.returncode not in (0,):
            self.console.print(run.stdout[-3000:], run.stderr[-3000:])
            raise SystemExit(f"{name} failed (exit {run.returncode}): {run.last_line}")
        if record:
            self.steps.append(Step(name, ballots, run))
            self.console.print(
                f"  {run.wall:,.1f} s, CPU {run.cpu:,.1f} s, peak {run.peak_mb:,.0f} MB"
            )
        return run

    def measured(
        self, name: str, argv: Sequence[str], *, ballots: int, env: dict[str, str] | None = None
    ) -> Run:
        self.console.print(f"[dim]{name}: {' '.join(argv)}[/dim]")
        run = run_measured(argv, cwd=self.work, env=env)
        self.steps.append(Step(name, ballots, run))
        self.console.print(
            f"  exit {run.returncode}, {run.wall:,.1f} s, CPU {run.cpu:,.1f} s, "
            f"peak {run.peak_mb:,.0f} MB: {run.last_line[:160]}"
        )
        return run


def prepare(
    runner: Runner, place: Place, prepared: str, members: int, *, rebuild: bool, bulk: bool
) -> dict[str, int]:
    """The database as voting ends (cached), with what the later steps need in ``work``."""
    info_path = runner.work / "prepared.json"
    if not rebuild and info_path.is_file() and place.exists(prepared):
        info: dict[str, int] = json.loads(info_path.read_text())
        runner.console.print(f"[dim]prepared database: cached ({info['ballots']:,} ballots)[/dim]")
        return info
    info_path.unlink(missing_ok=True)
    work = runner.work
    (work / "process.toml").write_text(process_file())
    (work / "shares.toml").write_text(shares_file())
    place.create(prepared)
    url = place.url(prepared)
    _in_process_setup(runner.console, url, work, members)
    voting = (
        "--credentials",
        str(work / "authority" / "workspace" / "private-credentials.csv"),
        "--distribution",
        str(work / "shares.toml"),
        "--seed",
        str(SEED),
    )
    if bulk:
        cast = runner.measured(
            "make N ballots on every core, written without do_cast's checks (bench.bulk_ballots)",
            [sys.executable, "-m", "bench.bulk_ballots", STAGE, *voting],
            ballots=0,
            env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPO)},
        )
        if cast.returncode != 0:
            raise SystemExit(
                f"bench.bulk_ballots failed (exit {cast.returncode}): {cast.last_line}"
            )
    else:
        cast = runner.cli(
            "cast N ballots, each checked in full (simulate: made and cast by a process per core)",
            url,
            "simulate",
            STAGE,
            *voting,
        )
    status = runner.cli("status", url, "election", "status", STAGE, record=False)
    ballots = _counted(status.stdout)
    info = {
        "ballots": ballots,
        "members": members,
        "cast_seconds_x100": 0 if bulk else int(cast.wall * 100),
        "bulk": int(bulk),
    }
    info_path.write_text(json.dumps(info) + "\n")
    return info


def _counted(status: str) -> int:
    for line in status.splitlines():
        lowered = line.lower()
        if "count" in lowered:
            digits = "".join(ch for ch in line.split(":")[-1] if ch.isdigit())
            if digits:
                return int(digits)
    raise SystemExit(f"no ballot count in `election status`:\n{status}")


def _in_process_setup(console: Console, url: str, work: Path, members: int) -> None:
    """Process, roll, registration, credentials, key ceremony, election opened: through the
    services, as ``unionvote demo`` does (bench.roll_credentials measures roll and credentials
    as commands)."""
    from unionvote.authority.workspace import generate_workspace
    from unionvote.domain.synthetic import synthetic_roll, write_roll_csv
    from unionvote.services.context import Services
    from unionvote.services.credentials import (
        do_export_registered,
        do_import_public_credentials,
    )
    from unionvote.services.elections import do_setup_election
    from unionvote.services.process import do_init_process, stage_row
    from unionvote.services.registration import (
        do_close_registration,
        do_open_registration,
        do_register_all,
    )
    from unionvote.services.roll import do_freeze_eligibility, do_import_roll
    from unionvote.services.trustees import (
        do_make_server_key,
        do_run_local_ceremony,
        election_trustees,
    )
    from unionvote.storage.database import Database

    start = time.perf_counter()
    database = Database(url)
    database.upgrade()
    committee = Services(database, actor="scale benchmark")
    try:
        do_init_process(committee, (work / "process.toml").read_text(), source_name="process.toml")
        roll = work / "roll.csv"
        with roll.open("w", encoding="utf-8", newline="") as stream:
            write_roll_csv(synthetic_roll(members, seed=SEED), stream)
        console.print(f"set-up: importing a roll of {members:,}")
        do_import_roll(committee, roll, source_name=roll.name, apply=True)
        do_freeze_eligibility(committee, STAGE)
        now = dt.datetime.now(dt.UTC)
        do_open_registration(
            committee, STAGE, opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(1)
        )
        do_register_all(committee, STAGE)
        do_close_registration(committee, STAGE)
        authority = work / "authority"
        shutil.rmtree(authority, ignore_errors=True)
        authority.mkdir(mode=0o700)
        registered = authority / "registered.csv"
        with registered.open("w", encoding="utf-8", newline="") as stream:
            do_export_registered(committee, STAGE, stream)
        console.print("set-up: the credential authority makes the credentials")
        workspace = generate_workspace(
            registered, authority / "workspace", workers=os.cpu_count() or 1
        )
        with workspace.public_path.open("rb") as stream:
            do_import_public_credentials(committee, STAGE, stream)
        trustees_dir = work / "trustees"
        shutil.rmtree(trustees_dir, ignore_errors=True)
        server_key = trustees_dir / "server.key"
        trustees_dir.mkdir(mode=0o700)
        do_make_server_key(committee, STAGE, server_key)
        do_run_local_ceremony(
            committee, STAGE, trustees_dir, names=["Ana", "Ben", "Cy"], threshold=2
        )
        with committee.db.sessions() as session:
            row, _ = stage_row(session, STAGE)
            items = election_trustees(session, row)
        now = dt.datetime.now(dt.UTC)
        do_setup_election(
            committee,
            STAGE,
            trustees=items,
            name="Scale benchmark (SIMULATION)",
            description="Synthetic members; not a real vote.",
            voting_opens_at=now - dt.timedelta(minutes=1),
            voting_closes_at=now + dt.timedelta(days=30),
        )
    finally:
        database.dispose()
    console.print(f"set-up done in {time.perf_counter() - start:,.0f} s")


def decrypt_and_publish(runner: Runner, url: str, ballots: int) -> None:
    work = runner.work
    runner.cli(
        "decryption request", url, "election", "decryption-request", STAGE, "--out", "request.json"
    )
    runner.cli(
        "decrypt: the server's key (with proofs, checked)",
        url,
        "election",
        "decrypt-with-server-key",
        STAGE,
        "--key",
        str(work / "trustees" / "server.key"),
    )
    states = sorted((work / "trustees").glob("*.json"))
    for number, state in enumerate(states[:2], start=1):
        out = work / f"partial-{number}.json"
        runner.measured(
            f"decrypt: trustee {number}'s share (their machine)",
            [UNIONVOTE, "trustee", "decrypt", str(state), "--request", "request.json", "--out",
             str(out)],
            ballots=0,
        )  # fmt: skip
        runner.cli(
            f"add trustee {number}'s decryption (every proof checked)",
            url,
            "election",
            "add-decryption",
            STAGE,
            str(out),
        )
    runner.cli("result (combine, discrete log)", url, "election", "result", STAGE)
    runner.cli("report (build and publish)", url, "report", "build", STAGE, "--simulation")
    shutil.rmtree(work / PUBLISHED, ignore_errors=True)
    runner.cli(
        "export the record and the published files",
        url, "report", "export", STAGE, "--out", PUBLISHED,
        ballots=ballots,
    )  # fmt: skip


def belenios_verify(runner: Runner, record: Path, ballots: int, limit: int) -> str:
    """belenios-tool election verify on the record, if the chroot is there and N ≤ limit."""
    root = CHROOTS / "trixie"
    if ballots > limit:
        return f"belenios-tool not run: {ballots:,} ballots is over --belenios-limit {limit:,}"
    if os.geteuid() != 0 or not (root / "usr/bin/belenios-tool").is_file():
        return f"belenios-tool SKIPPED: needs root and the chroot {root} (run belenios-verify once)"
    work = Path(tempfile.mkdtemp(prefix="unionvote-scale.", dir=root / "tmp"))
    try:
        uuid = _record_uuid(record)
        (work / "full").mkdir()
        shutil.copyfile(record, work / "full" / f"{uuid}.bel")
        inside = "/" + str(work.relative_to(root))
        run = runner.measured(
            "belenios-tool election verify (one core)",
            ["chroot", str(root), "belenios-tool", "election", "verify", "--dir", f"{inside}/full"],
            ballots=ballots,
        )
        return "" if run.returncode == 0 else f"belenios-tool exit {run.returncode}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record_uuid(record: Path) -> str:
    """The election's uuid, from the record's Setup (belenios-tool wants ``<uuid>.bel``)."""
    from unionvote.record.archive import ArchiveReader

    with ArchiveReader.open(record) as reader:
        for entry in reader.iter_events():
            if entry.event.type == "Setup" and entry.payload is not None:
                setup = json.loads(entry.payload)
                return str(json.loads(reader.data(setup["election"]))["uuid"])
    raise SystemExit(f"{record}: no Setup event")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tally_scale", description=__doc__)
    parser.add_argument("--members", type=int, default=100_000, help="synthetic roll size")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default=None)
    parser.add_argument("--belenios-limit", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="300 members, nothing written")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--rebuild", action="store_true", help="prepare the database again")
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="prepare (or reuse) the database as voting ends, then stop: nothing measured",
    )
    parser.add_argument(
        "--bulk-ballots",
        action="store_true",
        help="fill the election with bench.bulk_ballots (made on every core, written without "
        "do_cast's checks; the casting is not measured) instead of unionvote simulate",
    )
    parser.add_argument(
        "--tally-workers",
        type=_worker_counts,
        default=None,
        help="the tally's worker counts to measure, comma-separated (default: 1 and every core)",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="stop after the export (to measure the steps before it again)",
    )
    parser.add_argument(
        "--verify-workers",
        type=_worker_counts,
        default=None,
        help="unionvote verify's worker counts to measure (default: 1 and every core)",
    )
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if args.quick:
        args.members, args.no_write = 300, True
    kind = args.database or ("postgresql" if postgres_answers() else "sqlite")
    if kind == "postgresql" and not postgres_answers():
        raise SystemExit("no PostgreSQL server answers at 127.0.0.1:5432")
    if args.database is None and kind == "sqlite":
        console.print("[bold red]PostgreSQL does not answer: measuring on SQLite[/]")
    started = dt.datetime.now(dt.UTC)
    key = f"scale-n{args.members}-s{SEED}-v{PREPARED_VERSION}-{kind}"
    work = CACHE / key
    work.mkdir(parents=True, exist_ok=True)
    place = Place(kind, work)
    prepared = f"uv_{key.replace('-', '_')}_prepared"
    working = f"uv_{key.replace('-', '_')}_work"
    runner = Runner(console, work)
    load_before = machine()["load average (1, 5, 15 min)"]
    info = prepare(
        runner, place, prepared, args.members, rebuild=args.rebuild, bulk=args.bulk_ballots
    )
    place.analyze(prepared)  # newly made or cached: cheap when the statistics are fresh
    ballots = info["ballots"]
    if args.prepare_only:
        console.print(f"prepared: {ballots:,} ballots in database {prepared} ({work})")
        return 0
    cores = os.cpu_count() or 1
    tally_workers = args.tally_workers or sorted({1, cores})
    for workers in tally_workers:
        place.copy(prepared, working)
        url = place.url(working)
        last = workers == tally_workers[-1]
        runner.cli("close the election", url, "election", "close", STAGE, record=last)
        runner.cli(
            f"tally, {workers} worker{'s' if workers > 1 else ''} (by state and local)",
            url,
            "election",
            "tally",
            STAGE,
            "--workers",
            str(workers),
            ballots=ballots,
        )
    url = place.url(working)
    decrypt_and_publish(runner, url, ballots)
    # What an observer downloads: the record with the stage's published files (sub-tallies by
    # state and local, the report) and their manifest, all of which `unionvote verify` checks.
    record = work / PUBLISHED / STAGE / record_file_name(STAGE)
    verdicts: list[str] = []
    for workers in [] if args.no_verify else args.verify_workers or sorted({1, cores}):
        run = runner.measured(
            f"unionvote verify, {workers} worker{'s' if workers > 1 else ''}",
            [UNIONVOTE, "verify", str(record), "--workers", str(workers)],
            ballots=ballots,
        )
        verdicts.append(run.last_line)
        if run.returncode != 0:
            console.print(f"[bold red]unionvote verify did not pass: {run.last_line}[/]")
    note = (
        "verification not run (--no-verify)"
        if args.no_verify
        else belenios_verify(runner, record, ballots, args.belenios_limit)
    )
    if note:
        console.print(f"[bold red]{note}[/]" if "SKIPPED" in note else note)
    load_after = machine()["load average (1, 5, 15 min)"]

    headers = ["step", "ballots:", "s:", "ballots/s:", "CPU s:", "peak MB:", "peak B/ballot:"]
    rows = [
        [
            s.name,
            f"{s.ballots:,}" if s.ballots else "—",
            f"{s.run.wall:,.1f}",
            s.rate,
            f"{s.run.cpu:,.1f}",
            f"{s.run.peak_mb:,.0f}",
            s.per_ballot,
        ]
        for s in runner.steps
    ]
    table = Table(title=f"unionvote at scale: {ballots:,} ballots ({kind})")
    for header in headers:
        table.add_column(header.rstrip(":"), justify="right" if header.endswith(":") else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=max(Console().width, 140)).print(table)
    by_name = {s.name: s for s in runner.steps}
    ratios = _ratios(by_name, ballots)
    if not any(s.name.startswith("cast N ballots") for s in runner.steps):
        cast = info.get("cast_seconds_x100", 0) / 100
        ratios.insert(
            0,
            "the ballots were made by bench.bulk_ballots (each encrypted, proved and signed with "
            "its member's private credential) and written as do_cast writes a ballot, without "
            "its checks: casting not measured here (bench.cast_http measures it); unionvote "
            "verify checked every ballot in full"
            if info.get("bulk")
            else f"casting the {ballots:,} ballots (simulate, each checked in full and committed) "
            f"took {cast:,.0f} s when the database was prepared "
            f"({ballots / cast:,.0f} ballots/s; not re-measured in this run, whose database "
            "came from the cache)"
            if cast
            else "casting: not measured (cached database)",
        )
    for line in ratios:
        console.print(line)
    if args.no_write:
        return 0
    body = [
        f"Election: one question, pick 1 of 8, results by state and local; trustees: the "
        f"server's key + Pedersen 2-of-3; {args.members:,} synthetic members on the roll, "
        f"{ballots:,} ballots (one per eligible member); database: {kind}. Load average "
        f"before / after: {load_before} / {load_after}.",
        "",
        markdown_table(headers, rows),
        "",
        "s: wall-clock time of the step's own process, spawn to exit; CPU s: its user + system "
        "time (a process pool's workers not included); peak MB: its largest resident set "
        "(`os.wait4`; a pool's workers not included); peak B/ballot: peak / ballots.",
        "",
        *(f"- {line}" for line in ratios),
        *([f"- {note}"] if note else []),
        *(f"- verdict: {v}" for v in verdicts[-1:]),
    ]
    append_section(
        f"the election at scale: {ballots:,} ballots ({kind})",
        command_line("bench.tally_scale", argv),
        body,
        started=started,
    )
    console.print("appended to BENCHMARKS.md")
    return 0


def _worker_counts(text: str) -> list[int]:
    """``1,2`` → [1, 2]: each a positive number of workers, in the order given, once each."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of numbers"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one count, each 1 or more")
    return list(dict.fromkeys(counts))


def _ratios(by_name: dict[str, Step], ballots: int) -> list[str]:
    lines = []
    one = by_name.get("unionvote verify, 1 worker")
    both = next(
        (s for n, s in by_name.items() if n.startswith("unionvote verify, ") and s is not one), None
    )
    bel = by_name.get("belenios-tool election verify (one core)")
    if one and bel:
        lines.append(
            f"belenios-tool / unionvote verify (1 worker), wall-clock per ballot: "
            f"**{bel.run.wall / one.run.wall:.2f}**"
        )
    if both and bel:
        lines.append(
            f"belenios-tool / unionvote verify (all cores), wall-clock per ballot: "
            f"**{bel.run.wall / both.run.wall:.2f}**"
        )
    if both and ballots:
        lines.append(
            f"unionvote verify on all cores: {both.run.wall / ballots * 1e3:.2f} ms per ballot; "
            f"1,200,000 ballots would take about {both.run.wall / ballots * 1.2e6 / 60:,.0f} min"
        )
    tallies = [s for n, s in by_name.items() if n.startswith("tally, ")]
    if tallies and ballots:
        best = min(tallies, key=lambda s: s.run.wall)
        lines.append(
            f"tally ({best.name}): {best.run.wall / ballots * 1e6:.0f} µs per ballot; "
            f"1,200,000 ballots would take about {best.run.wall / ballots * 1.2e6 / 60:,.1f} min"
        )
        after = [
            s
            for n, s in by_name.items()
            if n.startswith(("decryption request", "decrypt: ", "add trustee", "result ("))
        ]
        through = best.run.wall + sum(s.run.wall for s in after)
        lines.append(
            f"tally through decryption to the result ({best.name}, then the decryption request, "
            f"the server's and two trustees' decryptions, each checked, and the result): "
            f"{through:,.1f} s ({through / 60:,.1f} min)"
        )
    return lines


if __name__ == "__main__":
    sys.exit(main())
