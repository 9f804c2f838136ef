"""Casting over HTTP under load: ``unionvote serve`` on PostgreSQL, members signing in and
casting their ballots from a load generator on the same machine (issue 5, scale).

    python -m bench.cast_http --voters 20000 --duration 120 --concurrency 32
    python -m bench.cast_http --quick --no-write          # ~30 s, a few hundred voters
    python -m bench.cast_http --signed-in 20000 --workers 2 # casts alone, signed in first

Target (issue 5): at least 150 ballots per second, cast with every check, sustained for 10
minutes on PostgreSQL; p99 latency of a cast under 300 ms; no error; no lost ballot (the
record holds exactly the ballots acknowledged).

1. **Set-up** (not timed; in a child process, its peak memory measured): a PostgreSQL
   *template* database is run through the real set-up with the services the browser tests use
   (``tests/web/browser_support.enrol_members`` and ``build_voting_site``): the IAM process
   file, a synthetic roll, eligibility frozen, everyone registered, the independent credential
   authority's workspace made and its public list imported, the server's key and a 2-of-3
   Pedersen key ceremony, the election set up and open. Then one ballot per voter is made
   with unionvote's own ``make_ballot`` and each voter's private credential, on every core
   (``services.booth.BallotMaker``): the booth makes them in the member's browser. The
   ballots (and each voter's member number, last name and postal code, to sign in; never a
   private credential: the authority's workspace is deleted once the ballots are made) are
   cached under ``bench/.cache/`` with the template's name, keyed by the parameters; a cache
   is used only while its template still holds the same open election with no ballot.
2. Each run casts into a fresh copy of the template (``CREATE DATABASE … TEMPLATE``) served by
   ``unionvote serve --dev`` (plain http on 127.0.0.1) in its own process, its per-address
   rate limits lifted with the ``UNIONVOTE_*`` settings (every request comes from
   127.0.0.1). With ``--workers W`` > 1 it is ``unionvote serve --workers W``: W processes
   sharing the socket and one session secret.
3. **Load**: ``--concurrency`` virtual members (asyncio, a plain HTTP/1.1 client with one
   keep-alive connection each: httpx cost as much CPU per request as some of the requests it
   measured, on the cores the server uses), each in turn taking the next voter and doing what
   the booth does over HTTP: the sign-in page (its CSRF token), the sign-in form (member
   number, last name, postal code), the ballot page (the session's new CSRF token),
   ``election.json``, then ``POST /api/stages/{stage}/ballots`` with the ballot's exact bytes;
   the answer must be 201 with the ballot's own tracker. A warm-up (``--warmup`` seconds) runs
   first; throughput and latencies are measured over the next ``--duration`` seconds (or
   until the ballots run out). The rate is then **complete member flows** per second.

   With ``--signed-in N`` the N members first sign in (the same four steps, timed and
   reported on their own as the *sign-in phase*), outside the window; the window then
   measures **casts alone** (the POST of each signed-in member's ballot). The report names
   the figure it gives in its table's header.
4. **After**: every ballot acknowledged must be in the database and in the record exported
   from it, and nothing else. Peak memory: the server's (``VmHWM``), the load generator's
   (its own, read when the load ends) and the set-up's (``os.wait4``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import random
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx  # the server's readiness probe only (the load: :class:`Http`)
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.engine import make_url

import unionvote
from bench.common import (
    REPO,
    append_section,
    command_line,
    loadavg,
    machine,
    markdown_table,
)

STAGE = "membership-vote"
PROCESS_FILE = REPO / "examples" / "iam-2024.toml"
CACHE_DIR = REPO / "bench" / ".cache"
TRUSTEES = ("Trustee Ana", "Trustee Ben", "Trustee Carla")
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/unionvote_bench_cast"
# Bump when the set-up changes, so cached templates and ballots are rebuilt.
BUILDER_VERSION = 1
# Voting stays open this long after a template is built (a cache older than that is rebuilt).
VOTING_DAYS = 30
# The synthetic roll has ineligible members (outside the U.S., dues not in good standing,
# joined after the cutoff): the roll is this much larger than the voters the bench needs.
ROLL_MARGIN = 1.25
START_TIMEOUT = 90.0
REQUEST_TIMEOUT = 60.0
TARGET_RATE, TARGET_P99_MS, TARGET_SECONDS = 150.0, 300.0, 600
QUICK = {"voters": 400, "duration": 15.0, "concurrency": 16, "warmup": 3.0}
DEFAULTS = {"voters": 20000, "duration": 120.0, "concurrency": 32, "warmup": 10.0}
_NO_LIMIT = str(10**9)
_PRIVATE_ENV = ("DATABASE_URL", "UNIONVOTE_CREDENTIAL", "UNIONVOTE_SMTP_PASSWORD")
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_DATA = re.compile(r'data-csrf="([^"]+)"')


# -- the database URL and the PostgreSQL server ----------------------------------------------------


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` with the driver unionvote installs (psycopg 3) named."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"--database-url must be a PostgreSQL URL, not {url!r}")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.database:
        raise SystemExit(f"--database-url names no database: {url!r}")
    return parsed.render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")


def _quoted(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"database name {name!r}: use lower-case letters, digits and _")
    return f'"{name}"'


def recreate_database(url: str, name: str, *, template: str | None = None) -> None:
    """Drop ``name`` (closing its connections) and create it, empty or as a copy of
    ``template``."""
    admin = _admin(url)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)"))
            copy = f" TEMPLATE {_quoted(template)}" if template else ""
            connection.execute(sa.text(f"CREATE DATABASE {_quoted(name)}{copy}"))
    finally:
        admin.dispose()


def database_exists(url: str, name: str) -> bool:
    admin = _admin(url)
    try:
        with admin.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
    finally:
        admin.dispose()
    return found is not None


# -- set-up: the template database and the ballots, cached -----------------------------------------


@dataclass(frozen=True)
class Voter:
    card_number: str
    last_name: str
    postal_code: str
    ballot: bytes


@dataclass(frozen=True)
class Prepared:
    """A template database with an open election, and a ballot for each of ``voters``."""

    template: str
    ballots_path: Path
    voters: int
    roll_size: int
    electorate: int
    election_hash: str
    built_seconds: float
    steps: dict[str, float]
    cached: bool


def cache_key(voters: int, seed: int, url: str) -> str:
    server = make_url(url)
    where = f"{server.host}:{server.port}/{server.database}"
    tag = hashlib.sha256(where.encode()).hexdigest()[:8]
    return f"cast-http-b{BUILDER_VERSION}-n{voters}-seed{seed}-{tag}-uv{unionvote.__version__}"


def template_name(url: str, voters: int, seed: int) -> str:
    base = make_url(url).database or "unionvote_bench_cast"
    name = f"{base}_tpl_n{voters}_s{seed}"
    if len(name) > 63:
        name = f"uv_cast_tpl_{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return name


def _template_ready(url: str, meta: dict[str, Any], duration: float) -> str | None:
    """Why the cached template cannot be used, or None if it can."""
    from sqlalchemy import select

    from unionvote.storage.database import Database
    from unionvote.storage.models import ElectionRow, StageRow

    template = meta["template"]
    if not database_exists(url, template):
        return f"the template database {template} is gone"
    database = Database(with_database(url, template))
    try:
        if not database.is_current():
            return "the template's schema is not the current one"
        with database.sessions() as session:
            found = session.execute(
                select(ElectionRow, StageRow)
                .join(StageRow, StageRow.id == ElectionRow.stage_id)
                .where(StageRow.key == STAGE)
            ).first()
        if found is None:
            return "the template holds no election"
        election, stage = found
        if election.election_hash != meta["election_hash"]:
            return "the template's election is not the one the ballots were made for"
        if election.phase != "voting" or election.ballots_received != 0:
            return "the template's election is not open and empty"
        closes = stage.voting_closes_at
        now = dt.datetime.now(dt.UTC)
        if closes is not None and closes < now + dt.timedelta(seconds=duration + 3600):
            return "the template's voting window closes too soon"
    finally:
        database.dispose()
    return None


def cached_setup(
    url: str, voters: int, seed: int, duration: float, console: Console
) -> Prepared | None:
    """The cached template and ballots for these parameters, if they are still usable."""
    key = cache_key(voters, seed, url)
    meta_path, ballots_path = CACHE_DIR / f"{key}.json", CACHE_DIR / f"{key}.ballots"
    if not (meta_path.is_file() and ballots_path.is_file()):
        return None
    meta = json.loads(meta_path.read_text())
    why = _template_ready(url, meta, duration)
    if why is not None:
        console.print(f"set-up: the cache is not usable ({why})")
        return None
    console.print(f"set-up: cached ({meta['template']}, {ballots_path.name})")
    return Prepared(ballots_path=ballots_path, cached=True, **meta)


def prepare(
    url: str, voters: int, seed: int, duration: float, console: Console, *, rebuild: bool
) -> Prepared:
    """The cached template and ballots for these parameters, or built now."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    key = cache_key(voters, seed, url)
    meta_path, ballots_path = CACHE_DIR / f"{key}.json", CACHE_DIR / f"{key}.ballots"
    if not rebuild:
        found = cached_setup(url, voters, seed, duration, console)
        if found is not None:
            return found
    for stale in (meta_path, ballots_path):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    template = template_name(url, voters, seed)
    partial = ballots_path.with_name(ballots_path.name + f".partial{os.getpid()}")
    try:
        info = _build(url, template, voters, seed, partial, console)
        partial.rename(ballots_path)
    finally:
        partial.unlink(missing_ok=True)
    meta = {
        "template": template,
        "voters": voters,
        "built_seconds": round(time.perf_counter() - started, 1),
        **info,
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    console.print(f"set-up: built in {meta['built_seconds']:.0f} s")
    return Prepared(ballots_path=ballots_path, cached=False, **meta)


class _Steps:
    """Prints each set-up step and how long it took."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.times: dict[str, float] = {}

    def run(self, label: str, work: Any, /, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = work(*args, **kwargs)
        self.times[label] = round(time.perf_counter() - start, 2)
        self.console.print(f"  {label}: {self.times[label]:.1f} s")
        return result


def _build(
    url: str, template: str, voters: int, seed: int, ballots_out: Path, console: Console
) -> dict[str, Any]:
    """Run the real set-up in ``template`` and write one ballot per voter to ``ballots_out``."""
    from sqlalchemy import select

    from unionvote.authority.workspace import generate_workspace
    from unionvote.domain.synthetic import synthetic_roll, write_roll_csv
    from unionvote.services.booth import BallotMaker
    from unionvote.services.context import Services
    from unionvote.services.credentials import (
        do_export_registered,
        do_import_public_credentials,
    )
    from unionvote.services.elections import (
        do_setup_election,
        election_definition,
        election_status,
    )
    from unionvote.services.process import do_init_process, stage_row
    from unionvote.services.registration import (
        do_close_registration,
        do_open_registration,
        do_register_all,
    )
    from unionvote.services.roll import do_freeze_eligibility, do_import_roll
    from unionvote.services.simulation import read_private_credentials
    from unionvote.services.trustees import (
        do_make_server_key,
        do_run_local_ceremony,
        election_trustees,
    )
    from unionvote.storage.database import Database
    from unionvote.storage.models import PublicCredentialRow

    console.print(f"set-up: {voters} voters in the template database {template}")
    steps = _Steps(console)
    cores = len(os.sched_getaffinity(0))
    recreate_database(url, template)
    database = Database(with_database(url, template))
    committee = Services(database, actor="election committee (bench.cast_http)")
    try:
        steps.run("schema", database.upgrade)
        with tempfile.TemporaryDirectory(prefix="unionvote-bench-cast-") as temporary:
            work = Path(temporary)
            steps.run(
                "process",
                do_init_process,
                committee,
                PROCESS_FILE.read_text(encoding="utf-8"),
                source_name=PROCESS_FILE.name,
            )
            roll_size = math.ceil(voters * ROLL_MARGIN) + 50
            rows = list(synthetic_roll(roll_size, seed=seed))
            people = {row.card_number: row for row in rows}
            roll = work / "roll.csv"
            with roll.open("w", encoding="utf-8", newline="") as stream:
                write_roll_csv(rows, stream)
            steps.run(
                f"roll of {roll_size} imported",
                do_import_roll,
                committee,
                roll,
                source_name=roll.name,
                apply=True,
            )
            steps.run("eligibility frozen", do_freeze_eligibility, committee, STAGE)
            now = dt.datetime.now(dt.UTC)
            do_open_registration(
                committee,
                STAGE,
                opens_at=now - dt.timedelta(hours=1),
                closes_at=now + dt.timedelta(days=1),
            )
            electorate = steps.run("everyone registered", do_register_all, committee, STAGE)
            do_close_registration(committee, STAGE)
            if electorate < voters:
                raise SystemExit(
                    f"the synthetic roll of {roll_size} has only {electorate} voters "
                    f"(fewer than {voters}): raise ROLL_MARGIN"
                )
            authority = work / "credential-authority"
            authority.mkdir(mode=0o700)
            registered = authority / "registered.csv"
            with registered.open("w", encoding="utf-8", newline="") as stream:
                do_export_registered(committee, STAGE, stream)
            workspace = steps.run(
                f"{electorate} credentials made ({cores} processes)",
                generate_workspace,
                registered,
                authority / "workspace",
                workers=cores,
            )
            with workspace.public_path.open("rb") as stream:
                steps.run(
                    "public credentials imported",
                    do_import_public_credentials,
                    committee,
                    STAGE,
                    stream,
                )
            do_make_server_key(committee, STAGE, work / "server-trustee.key")
            steps.run(
                "key ceremony (server key, Pedersen 2 of 3)",
                do_run_local_ceremony,
                committee,
                STAGE,
                work / "ceremony",
                names=TRUSTEES,
                threshold=2,
            )
            with database.sessions() as session:
                row, _ = stage_row(session, STAGE)
                trustees = election_trustees(session, row)
                title = row.title
                issued = session.scalar(
                    select(sa.func.count())
                    .select_from(PublicCredentialRow)
                    .where(PublicCredentialRow.stage_id == row.id)
                )
            assert issued == electorate, f"{issued} public credentials for {electorate} voters"
            opens = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
            steps.run(
                "election set up and opened",
                do_setup_election,
                committee,
                STAGE,
                trustees=trustees,
                name=f"{title} (benchmark)",
                description="A benchmark with synthetic members; not a real vote.",
                voting_opens_at=opens,
                voting_closes_at=opens + dt.timedelta(days=VOTING_DAYS),
            )
            election = election_definition(committee, STAGE)
            election_hash = election_status(committee, STAGE).election_hash
            credentials = read_private_credentials(workspace.private_path)
            rng = random.Random(f"unionvote-bench-cast:{seed}")
            chosen = rng.sample(sorted(credentials), voters)  # the voters who turn out
            jobs = [
                (credentials[card].reveal(), _choices(election.questions, rng)) for card in chosen
            ]
            del credentials
            start = time.perf_counter()
            with (
                BallotMaker(election, election_hash, workers=cores) as maker,
                ballots_out.open("wb") as out,
            ):
                made = maker.make(jobs)
                for done, (card, raw) in enumerate(zip(chosen, made, strict=True), start=1):
                    person = people[card]
                    out.write(_ballot_line(card, person.last_name, person.postal_code, raw))
                    if done % 1000 == 0 or done == voters:
                        console.print(f"  ballots made: {done}/{voters}")
            seconds = time.perf_counter() - start
            steps.times[f"{voters} ballots made ({cores} processes)"] = round(seconds, 2)
            console.print(f"  {voters} ballots made in {seconds:.1f} s ({voters / seconds:.0f}/s)")
            # The authority's workspace (every private credential) goes with the directory.
    finally:
        database.dispose()
    return {
        "roll_size": roll_size,
        "electorate": electorate,
        "election_hash": election_hash,
        "steps": steps.times,
    }


def _choices(questions: Sequence[Any], rng: random.Random) -> list[list[int]]:
    """For each question, the fewest answers it accepts (at least one), picked at random."""
    choices = []
    for question in questions:
        count = max(question.min, 1)
        picked = set(rng.sample(range(len(question.answers)), count))
        choices.append([1 if i in picked else 0 for i in range(len(question.answers))])
    return choices


def _ballot_line(card: str, last_name: str, postal_code: str, raw: bytes) -> bytes:
    fields = (card, last_name, postal_code)
    if any(("\t" in f or "\n" in f) for f in fields) or b"\n" in raw or b"\t" in raw:
        raise ValueError(f"member {card}: a field holds a tab or a line break")
    return "\t".join(fields).encode() + b"\t" + raw + b"\n"


def read_voters(path: Path) -> Iterator[Voter]:
    """The cached voters, read as they are needed (the file may hold 100,000 ballots)."""
    with path.open("rb") as stream:
        for line in stream:
            card, last_name, postal_code, raw = line.rstrip(b"\n").split(b"\t", 3)
            yield Voter(card.decode(), last_name.decode(), postal_code.decode(), raw)


# -- the server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    start_seconds: float

    def pids(self) -> list[int]:
        """The server's processes: itself and (uvicorn's workers) its children."""
        pids = [self.process.pid]
        try:
            import psutil

            pids += [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        except Exception:  # noqa: BLE001 - psutil missing or the process gone: its own pid
            pass
        return pids

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(url: str, workers: int, log_path: Path, app: str | None = None) -> Server:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    environment.update(
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
        UNIONVOTE_DEV="1",  # plain http on 127.0.0.1: cookies without Secure
        # Every member of the bench comes from 127.0.0.1: lift the per-address limits.
        UNIONVOTE_SIGNIN_PER_ADDRESS=_NO_LIMIT,
        UNIONVOTE_CAST_PER_ADDRESS=_NO_LIMIT,
        UNIONVOTE_REGISTER_PER_ADDRESS=_NO_LIMIT,
    )
    if app is None:  # the real command, one process or several (`serve --workers`)
        argv = [sys.executable, "-m", "unionvote", "serve", "--port", str(port)]
        argv += ["--database", url, "--dev", "--workers", str(workers)]
    else:
        # Each worker signs sessions with the same secret, so any of them reads a session.
        environment.update(DATABASE_URL=url, UNIONVOTE_SESSION_SECRET=secrets.token_urlsafe(32))
        factory = app  # a variant of the application, to try a change before making it
        argv = [sys.executable, "-m", "uvicorn", factory, "--factory"]
        argv += ["--workers", str(workers), "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--no-server-header"]
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path, 0.0)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise SystemExit(
                f"the server exited with {process.returncode} before answering; "
                f"its log:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        try:
            if httpx.get(server.url + f"/api/stages/{STAGE}/status", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise SystemExit(f"the server did not answer within {START_TIMEOUT:.0f} s")
        time.sleep(0.2)
    server.start_seconds = time.perf_counter() - started
    return server


# -- memory and CPU of processes -------------------------------------------------------------------


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def peak_mb(pids: Sequence[int]) -> float:
    """The processes' peak resident sets (``VmHWM``) added up, in MB."""
    return sum(_status_kb(pid, "VmHWM") for pid in pids) / 1024


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU the processes have used so far (from ``/proc/<pid>/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total / ticks


class PostgresWatch:
    """The CPU of the PostgreSQL processes that serve one database (its backends, and the
    shared WAL writer, checkpointer and background writer) and the connections it received,
    between :meth:`start` and :meth:`stop`. A backend that both started and ended in between
    is not seen (the new connections count tells how many there were)."""

    _PIDS = sa.text(
        "SELECT pid FROM pg_stat_activity WHERE datname = :name OR backend_type IN "
        "('walwriter', 'checkpointer', 'background writer')"
    )
    _SESSIONS = sa.text("SELECT sessions FROM pg_stat_database WHERE datname = :name")

    def __init__(self, url: str) -> None:
        self.name = make_url(url).database
        self.engine = _admin(url)
        self.before: dict[int, float] = {}
        self.sessions = 0

    def _read(self) -> tuple[dict[int, float], int]:
        with self.engine.connect() as connection:
            pids = connection.execute(self._PIDS, {"name": self.name}).scalars().all()
            sessions = connection.execute(self._SESSIONS, {"name": self.name}).scalar() or 0
        return {pid: cpu_seconds([pid]) for pid in pids}, int(sessions)

    def start(self) -> None:
        self.before, self.sessions = self._read()

    def stop(self) -> tuple[float, int]:
        """CPU seconds used since :meth:`start`, and the connections opened meanwhile."""
        after, sessions = self._read()
        used = sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())
        return used, sessions - self.sessions

    def close(self) -> None:
        self.engine.dispose()


# -- the load generator ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the virtual members saw."""

    acknowledged: dict[str, float] = field(default_factory=dict)  # tracker -> when (monotonic)
    cast_latency: list[tuple[float, float]] = field(default_factory=list)  # (when, seconds)
    signin_latency: list[tuple[float, float]] = field(default_factory=list)
    election_latency: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    started_members: int = 0
    ran_out_at: float | None = None

    def error(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        self.examples.setdefault(kind, example[:300])


class _Refused(Exception):
    def __init__(self, kind: str, example: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.example = example


class TransportError(Exception):
    """The connection failed or the server's answer was not HTTP/1.1 as expected."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # names in lower case
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """One keep-alive HTTP/1.1 connection to the server, written on asyncio streams.

    The load generator shares the machine's two cores with the server and PostgreSQL; httpx
    cost about 1.5-2 ms of CPU per request here, as much as some of the requests it measures.
    This client does only what the bench needs: a request with a body and headers, an answer
    with a ``Content-Length`` or chunked body; cookies are the caller's (:class:`_Member`).
    A connection idle for longer than uvicorn keeps one open (5 s) is replaced before it is
    used, never after a request was sent: a request is sent once."""

    IDLE_LIMIT = 4.0

    def __init__(self, base_url: str) -> None:
        parsed = make_url_like(base_url)
        self.host, self.port = parsed
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.writer is not None and time.monotonic() - self.last_used > self.IDLE_LIMIT:
            await self.aclose()
        if self.reader is None or self.writer is None:
            try:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), REQUEST_TIMEOUT
                )
            except (OSError, TimeoutError) as error:
                raise TransportError(f"connect: {error!r}") from error
        return self.reader, self.writer

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        reader, writer = await self._connect()
        lines = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method == "POST":
            lines.append(f"content-length: {len(body)}")
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            answer = await asyncio.wait_for(self._read(reader), REQUEST_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
            await self.aclose()
            raise TransportError(f"{method} {path}: {error!r}") from error
        self.last_used = time.monotonic()
        if (answer.header("connection") or "").lower() == "close":
            await self.aclose()
        return answer

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Answer:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, code, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {status_line!r}")
        headers = []
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        fields = dict(headers)
        if "chunked" in fields.get("transfer-encoding", "").lower():
            pieces = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                pieces.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(piece[:-2] for piece in pieces)
        else:
            body = await reader.readexactly(int(fields.get("content-length", "0")))
        return Answer(int(code), headers, body)

    async def aclose(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def make_url_like(base_url: str) -> tuple[str, int]:
    """``http://127.0.0.1:8000`` as (host, port)."""
    match = re.fullmatch(r"http://([^:/]+):(\d+)/?", base_url)
    if match is None:
        raise ValueError(f"expected http://HOST:PORT, not {base_url!r}")
    return match[1], int(match[2])


def _expect(response: Answer, step: str, status: int) -> None:
    if response.status != status:
        check = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            check = response.json()["error"]["check"]
        kind = f"{step}: HTTP {response.status}" + (f" {check}" if check else "")
        raise _Refused(kind, response.text[:300])


def _token(pattern: re.Pattern[str], response: Answer, step: str) -> str:
    found = pattern.search(response.text)
    if found is None:
        raise _Refused(f"{step}: no CSRF token on the page", response.text[:300])
    return found[1]


STEPS = ("sign-in page", "sign-in", "ballot page", "election.json", "cast")
"""What the booth does over HTTP for one member, in order ("sign-in" in the figures is the
first three together)."""


@dataclass
class _Member:
    """One member's browser: its cookies (the signed session), its CSRF token."""

    voter: Voter
    csrf: str = ""
    tracker: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    def cookie_header(self) -> list[tuple[str, str]]:
        if not self.cookies:
            return []
        return [("cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))]

    def keep_cookies(self, answer: Answer) -> None:
        for name, value in answer.headers:
            if name != "set-cookie":
                continue
            pair, _, attributes = value.partition(";")
            key, _, content = pair.strip().partition("=")
            expired = "1970" in attributes or "max-age=0" in attributes.lower().replace(" ", "")
            if expired or not content:
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = content


async def _step(client: Http, member: _Member, step: str) -> None:
    """One of :data:`STEPS` for ``member`` (whose session is in its cookies)."""
    from unionvote.crypto.encoding import sha256_b64

    vote, voter = f"/vote/{STAGE}", member.voter
    cookies = member.cookie_header()
    if step == "sign-in page":
        page = await client.request("GET", vote, headers=cookies)
        member.keep_cookies(page)
        _expect(page, step, 200)
        member.csrf = _token(_CSRF_FIELD, page, step)
    elif step == "sign-in":
        form = urlencode(
            {
                "csrf_token": member.csrf,
                "card_number": voter.card_number,
                "last_name": voter.last_name,
                "postal_code": voter.postal_code,
            }
        ).encode()
        kind = ("content-type", "application/x-www-form-urlencoded")
        signed = await client.request("POST", vote, body=form, headers=[kind, *cookies])
        member.keep_cookies(signed)
        _expect(signed, step, 303)
        if signed.header("location") != f"{vote}/ballot":
            raise _Refused("sign-in: refused", signed.text[:300])
    elif step == "ballot page":
        booth = await client.request("GET", f"{vote}/ballot", headers=cookies)
        member.keep_cookies(booth)
        _expect(booth, step, 200)
        member.csrf = _token(_CSRF_DATA, booth, step)  # the signed-in session's own token
    elif step == "election.json":
        election = await client.request("GET", f"/api/stages/{STAGE}/election", headers=cookies)
        member.keep_cookies(election)
        _expect(election, step, 200)
    elif step == "cast":
        answer = await client.request(
            "POST",
            f"/api/stages/{STAGE}/ballots",
            body=voter.ballot,
            headers=[
                ("content-type", "application/json"),
                ("x-csrf-token", member.csrf),
                *cookies,
            ],
        )
        member.keep_cookies(answer)
        _expect(answer, step, 201)
        body = answer.json()
        tracker = sha256_b64(voter.ballot)
        if body.get("tracker") != tracker or body.get("already_recorded"):
            raise _Refused("cast: not this ballot's acknowledgement", answer.text[:300])
        member.tracker = tracker
    else:  # pragma: no cover - STEPS names every step
        raise ValueError(step)


async def _sign_in(client: Http, member: _Member, outcome: Outcome) -> None:
    """The booth's steps before the cast: sign-in page, sign-in, ballot page (timed together
    as "sign-in"), then election.json."""
    start = time.perf_counter()
    for step in STEPS[:3]:
        await _step(client, member, step)
    signed_in = time.perf_counter()
    outcome.signin_latency.append((signed_in, signed_in - start))
    await _step(client, member, "election.json")
    done = time.perf_counter()
    outcome.election_latency.append((done, done - signed_in))


async def _cast(client: Http, member: _Member, outcome: Outcome) -> None:
    start = time.perf_counter()
    await _step(client, member, "cast")
    done = time.perf_counter()
    outcome.acknowledged[member.tracker] = done
    outcome.cast_latency.append((done, done - start))


async def _virtual_member(
    base_url: str,
    members: Iterator[_Member],
    stop_at: float,
    outcome: Outcome,
    *,
    sign_in: bool,
    cast: bool,
    ready: list[_Member] | None = None,
) -> None:
    """Takes the next member until ``stop_at`` or until none is left, and does its steps:
    sign-in (and election.json), the cast, or both; a member signed in without casting goes
    to ``ready``."""
    client = Http(base_url)
    try:
        while time.perf_counter() < stop_at:
            member = next(members, None)
            if member is None:
                if outcome.ran_out_at is None:
                    outcome.ran_out_at = time.perf_counter()
                return
            outcome.started_members += 1
            try:
                if sign_in:
                    await _sign_in(client, member, outcome)
                if cast:
                    await _cast(client, member, outcome)
                elif ready is not None:
                    ready.append(member)
            except _Refused as refused:
                outcome.error(refused.kind, refused.example)
            except TransportError as error:
                outcome.error("transport", str(error))
    finally:
        await client.aclose()


@dataclass
class Window:
    """The measured window and what the processes used during it."""

    start: float
    end: float
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    generator_cpu: float = 0.0
    connections: int = 0
    load: str = ""


async def _sample_window(
    window: Window, server: Server, postgres: PostgresWatch, outcome: Outcome
) -> None:
    """At the window's start and end, read the CPU the server, PostgreSQL and this process
    have used."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    pids = server.pids()
    postgres.start()
    before = (cpu_seconds(pids), _self_cpu())
    while time.perf_counter() < window.end and outcome.ran_out_at is None:
        await asyncio.sleep(0.2)
    window.end = min(time.perf_counter(), window.end)
    window.server_cpu = cpu_seconds(pids) - before[0]
    window.generator_cpu = _self_cpu() - before[1]
    window.postgres_cpu, window.connections = postgres.stop()
    window.load = loadavg()


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class SignInPhase:
    """``--signed-in``: the members signed in before the measured window (each: sign-in
    page, sign-in, ballot page, election.json), and what that cost."""

    members: int
    seconds: float
    server_cpu: float
    postgres_cpu: float
    generator_cpu: float
    outcome: Outcome

    @property
    def rate(self) -> float:
        return self.members / self.seconds if self.seconds > 0 else math.nan


async def sign_in_first(
    server: Server,
    postgres: PostgresWatch,
    voters: Iterator[Voter],
    count: int,
    concurrency: int,
) -> tuple[list[_Member], SignInPhase]:
    """Sign ``count`` members in through the real booth steps, ``concurrency`` at once, and
    keep their sessions for the casts (no ballot is cast here)."""
    members = (_Member(voter) for voter in itertools.islice(voters, count))
    ready: list[_Member] = []
    outcome = Outcome()
    pids = server.pids()
    postgres.start()
    before = (cpu_seconds(pids), _self_cpu(), time.perf_counter())
    await asyncio.gather(
        *(
            _virtual_member(
                server.url, members, math.inf, outcome, sign_in=True, cast=False, ready=ready
            )
            for _ in range(concurrency)
        )
    )
    seconds = time.perf_counter() - before[2]
    postgres_cpu, _ = postgres.stop()
    phase = SignInPhase(
        members=len(ready),
        seconds=seconds,
        server_cpu=cpu_seconds(pids) - before[0],
        postgres_cpu=postgres_cpu,
        generator_cpu=_self_cpu() - before[1],
        outcome=outcome,
    )
    return ready, phase


async def run_load(
    server: Server,
    postgres: PostgresWatch,
    voters: Iterator[Voter],
    concurrency: int,
    warmup: float,
    duration: float,
    *,
    signed_in: int | None = None,
) -> tuple[Outcome, Window, SignInPhase | None]:
    """The sustained load. Without ``signed_in``, each virtual member takes a whole member
    flow (the sign-in steps, election.json and the cast) in turn, and the window measures
    complete flows. With ``signed_in``, that many members are signed in first, outside the
    window (:func:`sign_in_first`), and the window measures their casts alone."""
    phase = None
    if signed_in is not None:
        ready, phase = await sign_in_first(server, postgres, voters, signed_in, concurrency)
        members: Iterator[_Member] = iter(ready)
    else:
        members = (_Member(voter) for voter in voters)
    outcome = Outcome()
    begin = time.perf_counter()
    window = Window(start=begin + warmup, end=begin + warmup + duration)
    whole = signed_in is None
    tasks = [
        asyncio.create_task(
            _virtual_member(server.url, members, window.end, outcome, sign_in=whole, cast=True)
        )
        for _ in range(concurrency)
    ]
    sampler = asyncio.create_task(_sample_window(window, server, postgres, outcome))
    await asyncio.gather(*tasks)
    await sampler
    if outcome.ran_out_at is not None and outcome.cast_latency:
        window.end = min(window.end, max(when for when, _ in outcome.cast_latency))
    return outcome, window, phase


async def run_breakdown(
    server: Server,
    postgres: PostgresWatch,
    voters: Sequence[Voter],
    concurrency: int,
    outcome: Outcome,
) -> list[list[object]]:
    """Every member takes each step together, one step after the other (``concurrency`` at
    a time): each step's server and PostgreSQL CPU per request, its latencies and rate."""
    clients = [Http(server.url) for _ in voters]
    members = [_Member(voter) for voter in voters]
    failed: set[int] = set()
    rows: list[list[object]] = []
    gate = asyncio.Semaphore(concurrency)
    pids = server.pids()
    try:
        for step in STEPS:
            latencies: list[float] = []

            async def take(
                index: int, step: str = step, latencies: list[float] = latencies
            ) -> None:
                async with gate:
                    start = time.perf_counter()
                    try:
                        await _step(clients[index], members[index], step)
                    except _Refused as refused:
                        outcome.error(refused.kind, refused.example)
                        failed.add(index)
                        return
                    except TransportError as error:
                        outcome.error("transport", str(error))
                        failed.add(index)
                        return
                    done = time.perf_counter()
                    latencies.append(done - start)
                    if step == "cast":
                        outcome.acknowledged[members[index].tracker] = done

            postgres.start()
            before = (cpu_seconds(pids), _self_cpu(), time.perf_counter())
            await asyncio.gather(*(take(i) for i in range(len(members)) if i not in failed))
            wall = time.perf_counter() - before[2]
            postgres_cpu, connections = postgres.stop()
            done = max(len(latencies), 1)
            rows.append(
                [
                    step,
                    len(latencies),
                    f"{(cpu_seconds(pids) - before[0]) * 1000 / done:.1f}",
                    f"{postgres_cpu * 1000 / done:.1f}",
                    connections,
                    f"{(_self_cpu() - before[1]) * 1000 / done:.1f}",
                    _ms(percentile(latencies, 50)),
                    _ms(percentile(latencies, 99)),
                    f"{len(latencies) / wall:.0f}",
                ]
            )
    finally:
        for client in clients:
            await client.aclose()
    return rows


# -- figures ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def in_window(samples: Sequence[tuple[float, float]], window: Window) -> list[float]:
    return [seconds for when, seconds in samples if window.start <= when <= window.end]


def worst_rate(samples: Sequence[tuple[float, float]], window: Window, span: float = 10.0) -> float:
    """The lowest rate over any ``span`` seconds of the window (1-second steps); NaN if the
    window is shorter than ``span``."""
    length = window.end - window.start
    if length < span:
        return math.nan
    buckets = [0] * int(length)
    for when, _ in samples:
        index = int(when - window.start)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    width = int(span)
    return min(sum(buckets[i : i + width]) for i in range(len(buckets) - width + 1)) / span


@dataclass
class Recorded:
    ballots_received: int
    ballot_rows: int
    record_ballots: int
    missing: int  # acknowledged but not in the database
    unacknowledged: int  # in the database but never acknowledged
    seconds: float


def count_recorded(url: str, acknowledged: set[str]) -> Recorded:
    """The ballots the database and its exported record hold, against those acknowledged."""
    from sqlalchemy import select

    from unionvote.record.archive import ArchiveReader
    from unionvote.services.context import Services
    from unionvote.services.elections import election_status, export_record
    from unionvote.storage.database import Database
    from unionvote.storage.models import Ballot as BallotRow
    from unionvote.storage.models import ElectionRow, StageRow

    start = time.perf_counter()
    database = Database(url)
    try:
        services = Services(database, actor="bench.cast_http (counting)")
        status = election_status(services, STAGE)
        with database.sessions() as session:
            trackers = set(
                session.scalars(
                    select(BallotRow.tracker)
                    .join(ElectionRow, ElectionRow.id == BallotRow.election_id)
                    .join(StageRow, StageRow.id == ElectionRow.stage_id)
                    .where(StageRow.key == STAGE)
                )
            )
        with tempfile.TemporaryDirectory(prefix="unionvote-bench-record-") as temporary:
            path = Path(temporary) / "record.bel"
            export_record(services, STAGE, path)
            with ArchiveReader.open(path) as reader:
                in_record = sum(1 for e in reader.iter_events() if e.event.type == "Ballot")
    finally:
        database.dispose()
    return Recorded(
        ballots_received=status.ballots_received,
        ballot_rows=len(trackers),
        record_ballots=in_record,
        missing=len(acknowledged - trackers),
        unacknowledged=len(trackers - acknowledged),
        seconds=time.perf_counter() - start,
    )


def _ms(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _num(value: float, digits: int) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _rate(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


# -- the set-up in a child process, measured -------------------------------------------------------


def run_setup_child(argv: Sequence[str]) -> tuple[float, float]:
    """Run ``--prepare-only`` in a child (its output shown as it goes); its wall time and
    peak memory (``os.wait4``: the child alone, not its ballot-making workers)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bench.cast_http", *argv], cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"the set-up failed (exit {code})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


# -- main ------------------------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cast_http",
        description="Ballots cast over HTTP against `unionvote serve` on PostgreSQL: "
        "sustained ballots per second with every check, latencies, no lost ballot.",
    )
    parser.add_argument("--voters", type=int, help="voters with a ballot ready (default 20000)")
    parser.add_argument(
        "--duration", type=float, help="the measured window, in seconds (default 120)"
    )
    parser.add_argument("--concurrency", type=int, help="virtual members at once (default 32)")
    parser.add_argument(
        "--warmup", type=float, help="seconds of load before the window (default 10)"
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="the run's PostgreSQL database, dropped and re-created (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes: 1 is `unionvote serve`; more run the same app under "
        "`uvicorn --workers` (default 1)",
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:FACTORY",
        help="serve this app factory under uvicorn instead of `unionvote serve` (to try a "
        "change to the server before making it; the figures then say so)",
    )
    parser.add_argument(
        "--signed-in",
        type=int,
        metavar="N",
        help="sign N members in first, outside the measured window, and measure their casts "
        "alone (POST ballot); without it the window measures complete member flows "
        "(sign-in and cast). The report says which",
    )
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--quick", action="store_true", help="400 voters, 3 s warm-up, 15 s window, 16 at once"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures; leave BENCHMARKS.md alone"
    )
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached set-up")
    parser.add_argument(
        "--breakdown",
        type=int,
        metavar="N",
        help="instead of the sustained load: N members take each step together, one step "
        "after the other, and each step's server and PostgreSQL CPU is measured",
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="build (or check) the cached set-up and stop"
    )
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else DEFAULTS
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.voters < 1 or args.concurrency < 1 or args.workers < 1:
        parser.error("--voters, --concurrency and --workers must be at least 1")
    if args.signed_in is not None and not 1 <= args.signed_in <= args.voters:
        parser.error("--signed-in must be between 1 and --voters")
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    args.database_url = sqlalchemy_url(args.database_url)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    console = Console(stderr=True, highlight=False)
    url: str = args.database_url
    if args.prepare_only:
        prepare(
            url, args.voters, args.seed, args.warmup + args.duration, console, rebuild=args.rebuild
        )
        return 0

    started = dt.datetime.now(dt.UTC)
    load_before = loadavg()
    span = args.warmup + args.duration
    found = None if args.rebuild else cached_setup(url, args.voters, args.seed, span, console)
    setup_seconds, setup_peak = math.nan, math.nan
    if found is None:
        setup_argv = ["--prepare-only", "--voters", str(args.voters), "--seed", str(args.seed)]
        setup_argv += ["--duration", str(args.duration), "--warmup", str(args.warmup)]
        setup_argv += ["--database-url", url] + (["--rebuild"] if args.rebuild else [])
        setup_seconds, setup_peak = run_setup_child(setup_argv)
        found = cached_setup(url, args.voters, args.seed, span, console)
        if found is None:
            raise SystemExit("the set-up finished but its cache is not usable")
        found = dataclasses.replace(found, cached=False)
    prepared = found

    run_name = make_url(url).database
    assert run_name is not None
    clone_start = time.perf_counter()
    recreate_database(url, run_name, template=prepared.template)
    clone_seconds = time.perf_counter() - clone_start
    console.print(f"run database {run_name}: a copy of {prepared.template} ({clone_seconds:.1f} s)")

    log_path = CACHE_DIR / "cast-http-server.log"  # the last run's server log
    log_path.unlink(missing_ok=True)
    server = start_server(url, args.workers, log_path, args.app)
    console.print(
        f"server: {_server_kind(args)} on {server.url} (answering after "
        f"{server.start_seconds:.1f} s; log {log_path})"
    )
    if args.breakdown:
        return breakdown(args, prepared, server, started=started, console=console)
    try:
        console.print(
            f"load: {args.concurrency} virtual members, {args.warmup:.0f} s warm-up, "
            f"{args.duration:.0f} s measured, {prepared.voters} ballots ready"
            + (
                f"; {args.signed_in} members signed in first, outside the window"
                if args.signed_in is not None
                else ""
            )
        )
        postgres = PostgresWatch(url)
        try:
            outcome, window, phase = asyncio.run(
                run_load(
                    server,
                    postgres,
                    read_voters(prepared.ballots_path),
                    args.concurrency,
                    args.warmup,
                    args.duration,
                    signed_in=args.signed_in,
                )
            )
        finally:
            postgres.close()
        generator_peak = peak_mb([os.getpid()])
        server_peak = peak_mb(server.pids())
        server_alive = server.process.poll() is None
    finally:
        server.stop()
    recorded = count_recorded(url, set(outcome.acknowledged))
    return report(
        args, prepared, outcome, window, recorded, phase, started=started,
        load_before=load_before,
        setup_seconds=setup_seconds, setup_peak=setup_peak, clone_seconds=clone_seconds,
        server=server, server_peak=server_peak, server_alive=server_alive,
        generator_peak=generator_peak, console=console,
    )  # fmt: skip


def breakdown(
    args: argparse.Namespace,
    prepared: Prepared,
    server: Server,
    *,
    started: dt.datetime,
    console: Console,
) -> int:
    """``--breakdown N``: each step's cost, measured step by step over N members."""
    count = min(args.breakdown, prepared.voters)
    voters = []
    for voter in read_voters(prepared.ballots_path):
        voters.append(voter)
        if len(voters) == count:
            break
    console.print(f"breakdown: {count} members, each step in turn, {args.concurrency} at once")
    outcome = Outcome()
    load_before = loadavg()
    try:
        postgres = PostgresWatch(args.database_url)
        try:
            rows = asyncio.run(run_breakdown(server, postgres, voters, args.concurrency, outcome))
        finally:
            postgres.close()
        server_peak = peak_mb(server.pids())
        server_alive = server.process.poll() is None
    finally:
        server.stop()
    load_after = loadavg()
    recorded = count_recorded(args.database_url, set(outcome.acknowledged))
    acknowledged = len(outcome.acknowledged)
    intact = (
        recorded.missing == 0
        and recorded.unacknowledged == 0
        and recorded.ballot_rows == recorded.record_ballots == recorded.ballots_received
        == acknowledged
    )  # fmt: skip
    errors = sum(outcome.errors.values())
    server_kind = _server_kind(args)
    table = markdown_table(
        ["step", "requests:", "server CPU ms/request:", "PostgreSQL CPU ms/request:",
         "new PostgreSQL connections:", "load generator CPU ms/request:", "p50 ms:",
         "p99 ms:", "requests/s:"],
        rows,
    )  # fmt: skip
    body = [
        f"Each of {count} members (of {prepared.voters} with a ballot ready, in a fresh copy "
        f"of the set-up) takes the booth's steps over HTTP: every member takes one step before "
        f"any takes the next, {args.concurrency} requests at once, against {server_kind}. "
        "CPU is read from `/proc` before and after each step: the server's processes (every "
        "thread), and PostgreSQL's for the run's database (its backends, the WAL writer, "
        "checkpointer and background writer).",
        "",
        table,
        "",
        f"Acknowledged {acknowledged}; ballots table {recorded.ballot_rows}; in the record "
        f"{recorded.record_ballots}; errors {errors}: "
        + ("no lost ballot." if intact else "**BALLOTS LOST OR UNACKNOWLEDGED**."),
        f"Server peak {server_peak:.0f} MB. Load average (1, 5, 15 min) before / after: "
        f"{load_before} / {load_after}.",
        *_loaded_note(load_before, load_after),
    ]
    if any(row[4] for row in rows):
        body.append(
            "PostgreSQL CPU is an underestimate where new connections were opened: a backend "
            "that came and went within a step is not counted (the server's pool closes the "
            "connections beyond its size as they are returned)."
        )
    for kind, number in outcome.errors.most_common():
        body.append(f"Error `{kind}` ×{number}; e.g. `{outcome.examples[kind][:160]}`")
    print("\n".join(body))
    if not args.no_write:
        append_section(
            f"casting over HTTP, step by step: {count} members, {args.concurrency} at once, "
            f"{server_kind}, PostgreSQL",
            command_line("bench.cast_http"),
            body,
            started=started,
            machine_info=machine(database=_server_version(args.database_url)),
        )
        console.print("Appended to BENCHMARKS.md.")
    return 0 if (intact and errors == 0 and server_alive) else 1


def report(
    args: argparse.Namespace,
    prepared: Prepared,
    outcome: Outcome,
    window: Window,
    recorded: Recorded,
    phase: SignInPhase | None,
    *,
    started: dt.datetime,
    load_before: str,
    setup_seconds: float,
    setup_peak: float,
    clone_seconds: float,
    server: Server,
    server_peak: float,
    server_alive: bool,
    generator_peak: float,
    console: Console,
) -> int:
    measured = max(window.end - window.start, 1e-9)
    casts = in_window(outcome.cast_latency, window)
    signins = in_window(outcome.signin_latency, window)
    elections = in_window(outcome.election_latency, window)
    rate = len(casts) / measured
    worst = worst_rate(outcome.cast_latency, window)
    acknowledged = len(outcome.acknowledged)
    if phase is not None:  # the sign-in phase's refusals are errors of the run too
        for kind, count in phase.outcome.errors.items():
            outcome.errors[f"sign-in phase: {kind}"] += count
            outcome.examples.setdefault(f"sign-in phase: {kind}", phase.outcome.examples[kind])
        signins = [seconds for _, seconds in phase.outcome.signin_latency]
        elections = [seconds for _, seconds in phase.outcome.election_latency]
    errors = sum(outcome.errors.values())
    intact = (
        recorded.missing == 0
        and recorded.unacknowledged == 0
        and recorded.ballot_rows == recorded.record_ballots == recorded.ballots_received
        == acknowledged
    )  # fmt: skip
    p99 = percentile(casts, 99)
    server_kind = _server_kind(args)
    per_ballot = 1000 / max(len(casts), 1)
    # What the rate counts: never leave a reader to guess which of the two figures this is.
    measure = (
        "casts/s (POST ballot only; members signed in before the window):"
        if phase is not None
        else "complete member flows/s (sign-in + cast):"
    )

    load_table = markdown_table(
        ["voters", "at once", "server", "window s", measure, "worst 10 s:",
         "cast p50 ms:", "p90:", "p99:", "max:", "sign-in p50 ms:", "p99:",
         "election.json p50 ms:", "errors:"],
        [[prepared.voters, args.concurrency, server_kind, f"{measured:.0f}", _rate(rate),
          _rate(worst), _ms(percentile(casts, 50)), _ms(percentile(casts, 90)), _ms(p99),
          _ms(max(casts, default=math.nan)), _ms(percentile(signins, 50)),
          _ms(percentile(signins, 99)), _ms(percentile(elections, 50)), errors]],
    )  # fmt: skip
    check_table = markdown_table(
        ["acknowledged:", "ballots table:", "in the record:", "ballots_received:",
         "acknowledged, not recorded:", "recorded, not acknowledged:", "verdict"],
        [[acknowledged, recorded.ballot_rows, recorded.record_ballots, recorded.ballots_received,
          recorded.missing, recorded.unacknowledged,
          "no lost ballot" if intact else "**BALLOTS LOST OR UNACKNOWLEDGED**"]],
    )  # fmt: skip
    resource_table = markdown_table(
        ["step", "seconds:", "peak MB:", "CPU ms per ballot (window):"],
        [
            ["set-up (cached: checked only)" if prepared.cached else "set-up (built now)",
             _num(setup_seconds, 1), _num(setup_peak, 0), "–"],
            ["run database copied from the template", f"{clone_seconds:.1f}", "–", "–"],
            [f"server ({server_kind})", f"{server.start_seconds:.1f} to answer",
             f"{server_peak:.0f}", f"{window.server_cpu * per_ballot:.1f}"],
            [f"PostgreSQL (the run database's backends; {window.connections} new connections"
             + (": those that came and went are not counted, so an underestimate)"
                if window.connections else ")"),
             "–", "–", f"{window.postgres_cpu * per_ballot:.1f}"],
            ["load generator", f"{args.warmup + measured:.0f}", f"{generator_peak:.0f}",
             f"{window.generator_cpu * per_ballot:.1f}"],
            ["count and export the record", f"{recorded.seconds:.1f}", "–", "–"],
        ],
    )  # fmt: skip
    if phase is not None:
        per_member = 1000 / max(phase.members, 1)
        phase_table = markdown_table(
            ["sign-in phase (outside the window)", "members signed in:", "seconds:",
             "members/s:", "sign-in p50 ms:", "p99:", "server CPU ms/member:",
             "PostgreSQL CPU ms/member:", "load generator CPU ms/member:"],
            [["sign-in page, sign-in, ballot page, election.json", phase.members,
              f"{phase.seconds:.1f}", _rate(phase.rate), _ms(percentile(signins, 50)),
              _ms(percentile(signins, 99)), f"{phase.server_cpu * per_member:.1f}",
              f"{phase.postgres_cpu * per_member:.1f}",
              f"{phase.generator_cpu * per_member:.1f}"]],
        )  # fmt: skip
    met = (
        rate >= TARGET_RATE
        and p99 < TARGET_P99_MS / 1000
        and errors == 0
        and intact
        and measured >= TARGET_SECONDS - 1
    )
    flow = (
        f"First, outside the measured window, {phase.members} members signed in (sign-in "
        "page, sign-in form, ballot page, election.json), keeping their sessions; then each "
        "virtual member cast the next signed-in member's ballot (POST only): the window's "
        "rate counts **casts, not complete member flows**."
        if phase is not None
        else 'Each virtual member: sign-in page, sign-in form, ballot page ("sign-in" is '
        "the three), election.json, then the cast: the window's rate counts **complete "
        "member flows** (one ballot each)."
    )
    notes = [
        f"Set-up: roll of {prepared.roll_size} synthetic members, {prepared.electorate} voters "
        f"(registered, credentials issued), {prepared.voters} of them with a ballot made in "
        "advance; trustees: the server's key and a Pedersen 2-of-3 group; the IAM process's "
        f"membership vote. {flow} Measured window: {measured:.1f} s after "
        f"{args.warmup:.0f} s of warm-up; {outcome.started_members} members started in it "
        "and its warm-up. The load generator is a plain asyncio HTTP/1.1 client, one "
        "keep-alive connection per virtual member.",
        f"Load average (1, 5, 15 min) before / at the window's end: {load_before} / "
        f"{window.load}.",
        *_loaded_note(load_before, window.load),
        f"Target (issue 5: ≥ {TARGET_RATE:.0f} ballots/s for {TARGET_SECONDS // 60} minutes, "
        f"p99 < {TARGET_P99_MS:.0f} ms, no error, no lost ballot), measured as "
        + ("casts of members signed in beforehand" if phase is not None
           else "complete member flows") + ": "
        + ("**met**." if met else "**not met** by this run"
           + (f" (a {measured:.0f} s window, not {TARGET_SECONDS} s)" if
              measured < TARGET_SECONDS - 1 else "") + "."),
    ]  # fmt: skip
    if outcome.ran_out_at is not None:
        notes.append("The ballots ran out before the window's end: the window ends there.")
    if not server_alive:
        notes.append("**The server was no longer running at the end of the load.**")
    for kind, count in outcome.errors.most_common():
        notes.append(f"Error `{kind}` ×{count}; e.g. `{outcome.examples[kind][:160]}`")
    tables = [load_table, "", check_table, "", resource_table, ""]
    if phase is not None:
        tables = [load_table, "", phase_table, "", check_table, "", resource_table, ""]
    body = [*notes[:1], "", *tables, *notes[1:]]
    print("\n".join(body))
    if not args.no_write:
        kind = "casts of signed-in members" if phase is not None else "complete member flows"
        append_section(
            f"casting over HTTP ({kind}): {prepared.voters} voters, {args.concurrency} at "
            f"once, {server_kind}, PostgreSQL",
            command_line("bench.cast_http"),
            body,
            started=started,
            machine_info=machine(database=_server_version(args.database_url)),
        )
        console.print("Appended to BENCHMARKS.md.")
    return 0 if (intact and errors == 0 and server_alive) else 1


def _loaded_note(*loads: str) -> list[str]:
    """A warning when the 1-minute load average was above the number of cores."""
    cores = os.cpu_count() or 1
    highest = max((float(load.split()[0]) for load in loads if load[:1].isdigit()), default=0.0)
    if highest <= cores:
        return []
    return [
        f"**The machine was loaded** (1-minute load average up to {highest:.1f} on {cores} "
        "cores: other work was running): the figures are lower than this software on an idle "
        "machine."
    ]


def _server_kind(args: argparse.Namespace) -> str:
    if args.app is not None:
        return f"uvicorn ×{args.workers}, app {args.app}"
    return "unionvote serve" if args.workers == 1 else f"unionvote serve --workers {args.workers}"


def _server_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("SHOW server_version")).scalar()
            commit = connection.execute(sa.text("SHOW synchronous_commit")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version} (synchronous_commit {commit})"


if __name__ == "__main__":
    raise SystemExit(main())
