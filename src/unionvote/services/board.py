"""The public bulletin board of a stage: every ballot tracker (newest first, a page at a time),
finding one tracker, the record as a stream of its stored chunks, and whether the record was
verified.

Nothing here loads a whole table: pages are read with keyset pagination on the ballot index's
primary key (``id < before ORDER BY id DESC LIMIT n``), counts come from the election row,
and the record is streamed in batches of chunks — a board of 1.2 million ballots reads as
fast as one of ten.

Verification: :class:`BoardVerifier` exports the record as it stands, runs the same verifier
as ``unionvote verify`` over it (every proof, signature and chain link), and keeps the result
keyed by the record's head event. A check of a large record takes long (hours at a million
ballots), so one runs at a time for the whole site, and a stage's record is checked at most
once per :attr:`BoardVerifier.interval` however often its board is shown. The board shows
the result for the head it was computed at: "verified" only when that head is still the
record's head, otherwise "verified up to event N, M events since" — never a stale "verified"
for a record that has grown.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.domain.errors import ElectionError
from unionvote.domain.publication import CHART_FILE, record_file_name
from unionvote.domain.report import GroupStatus, one_decimal_percent, whole_percent
from unionvote.services.context import Clock, Services
from unionvote.services.elections import election_summary, export_record
from unionvote.services.process import load_process, stage_row
from unionvote.services.publication import published_names, read_published
from unionvote.storage.models import Ballot, ElectionRow, Endorsement, RecordChunk, StageRow
from unionvote.verify import verify_record

__all__ = [
    "PAGE_SIZE",
    "AnswerCount",
    "BallotView",
    "BoardEntry",
    "BoardPage",
    "BoardVerifier",
    "BreakdownTable",
    "Found",
    "GroupRow",
    "PartyShare",
    "PublicStage",
    "QuestionResults",
    "QuestionView",
    "ResultsView",
    "Share",
    "TrackerState",
    "TurnoutShare",
    "Verification",
    "ballot_view",
    "board_page",
    "election_json",
    "find_tracker",
    "normalise_tracker",
    "public_stages",
    "published_endorsement",
    "published_results",
    "record_chunks",
    "record_head",
    "stage_title",
]

PAGE_SIZE: Final = 50
_STREAM_BATCH: Final = 512  # chunks per query: a few MB; fewer round trips per ballot


@dataclass(frozen=True, slots=True)
class BoardEntry:
    position: int  # the ballot index's id: the cursor of the next page
    tracker: str
    received_at: datetime.datetime
    counted: bool


@dataclass(frozen=True, slots=True)
class BoardPage:
    stage: str
    phase: str
    ballots_received: int
    entries: tuple[BoardEntry, ...]
    next_before: int | None  # the cursor of the following (older) page, None on the last


class TrackerState(StrEnum):
    COUNTED = "counted"
    REPLACED = "replaced"
    NOT_FOUND = "not-found"


@dataclass(frozen=True, slots=True)
class Found:
    tracker: str
    state: TrackerState
    received_at: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class PublicStage:
    """A stage as the home page lists it."""

    key: str
    title: str
    status: str
    electorate: str
    has_election: bool
    phase: str | None
    registration_open: bool
    published: tuple[str, ...]


def public_stages(services: Services) -> list[PublicStage]:
    """Every stage of the process, in the process's order, with what the public can see."""
    now = services.clock.now()
    with services.db.sessions() as session:
        loaded = load_process(session)
        stages: list[PublicStage] = []
        for stage in loaded.process.stages:
            row = session.scalar(
                select(StageRow).where(
                    StageRow.process_id == loaded.row.id, StageRow.key == stage.id
                )
            )
            if row is None:
                continue
            phase = session.scalar(select(ElectionRow.phase).where(ElectionRow.stage_id == row.id))
            opens, closes = row.registration_opens_at, row.registration_closes_at
            registration_open = (
                row.status == "registration"
                and opens is not None
                and closes is not None
                and opens <= now < closes
            )
            stages.append(
                PublicStage(
                    stage.id,
                    stage.title,
                    row.status,
                    stage.electorate,
                    phase is not None,
                    phase,
                    registration_open,
                    tuple(published_names(session, row)),
                )
            )
        return stages


def stage_title(services: Services, stage_key: str) -> str:
    """The stage's title; a clear error for an unknown stage."""
    with services.db.sessions() as session:
        _, stage = stage_row(session, stage_key)
        return stage.title


def published_endorsement(services: Services) -> bytes | None:
    """The endorsement record as published (``endorsement.json``), or None before."""
    with services.db.sessions() as session:
        content = session.scalar(select(Endorsement.content))
        return None if content is None else content.encode()


def election_json(services: Services, stage_key: str) -> tuple[bytes, str]:
    """The election's ``election.json`` exactly as its record holds it, and its hash (the
    bytes a browser encrypts against: their hash is in every ballot)."""
    summary = election_summary(services, stage_key)
    content, election_hash = compact_json(summary.election.to_json()), summary.election_hash
    if sha256_b64(content) != election_hash:
        raise ElectionError("record.setup", "the election's bytes do not match its hash")
    return content, election_hash


@dataclass(frozen=True, slots=True)
class QuestionView:
    question: str
    answers: tuple[tuple[str, str | None], ...]  # (label, party of a candidate or None)
    min: int
    max: int
    blank: bool


@dataclass(frozen=True, slots=True)
class BallotView:
    stage: str
    title: str
    phase: str
    questions: tuple[QuestionView, ...]


def ballot_view(services: Services, stage_key: str) -> BallotView:
    """What the booth shows: the record's questions, each candidate with their party (from
    the process: a derived question's candidates are an earlier stage's)."""
    summary = election_summary(services, stage_key)
    election, phase = summary.election, summary.phase
    with services.db.sessions() as session:
        _, stage = stage_row(session, stage_key)
        process = load_process(session).process
    parties = {
        candidate.name: candidate.party
        for each in process.stages
        for question in each.questions
        for candidate in question.candidates
    }
    questions = tuple(
        QuestionView(
            q.question,
            tuple((label, parties.get(label)) for label in q.answers),
            q.min,
            q.max,
            q.blank,
        )
        for q in election.questions
    )
    return BallotView(stage_key, stage.title, phase, questions)


def _election_row(services: Services, stage_key: str) -> ElectionRow:
    with services.db.sessions() as session:
        stage, _ = stage_row(session, stage_key)
        row = session.scalar(select(ElectionRow).where(ElectionRow.stage_id == stage.id))
        if row is None:
            raise ElectionError(
                "election.missing", f"the election of stage {stage_key!r} is not set up yet"
            )
        return row


def board_page(
    services: Services, stage_key: str, *, before: int | None = None, size: int = PAGE_SIZE
) -> BoardPage:
    """The trackers received before cursor ``before`` (all, when None), newest first."""
    size = max(1, min(size, 500))
    row = _election_row(services, stage_key)
    query = select(Ballot.id, Ballot.tracker, Ballot.received_at, Ballot.counted).where(
        Ballot.election_id == row.id
    )
    if before is not None:
        query = query.where(Ballot.id < before)
    with services.db.sessions() as session:
        found = session.execute(query.order_by(Ballot.id.desc()).limit(size + 1)).all()
    entries = tuple(BoardEntry(*item) for item in found[:size])
    next_before = entries[-1].position if len(found) > size else None
    return BoardPage(stage_key, row.phase, row.ballots_received, entries, next_before)


def normalise_tracker(text: str) -> str:
    """A tracker as typed or pasted: surrounding and inner spaces removed."""
    return "".join(text.split())


def find_tracker(services: Services, stage_key: str, tracker: str) -> Found:
    """Whether a ballot with this tracker is on the board, and whether it is the one counted
    (a later ballot of the same credential replaces it)."""
    tracker = normalise_tracker(tracker)
    row = _election_row(services, stage_key)
    if not tracker or len(tracker) > 64:
        return Found(tracker, TrackerState.NOT_FOUND)
    with services.db.sessions() as session:
        found = session.execute(
            select(Ballot.counted, Ballot.received_at).where(
                Ballot.election_id == row.id, Ballot.tracker == tracker
            )
        ).first()
    if found is None:
        return Found(tracker, TrackerState.NOT_FOUND)
    state = TrackerState.COUNTED if found.counted else TrackerState.REPLACED
    return Found(tracker, state, found.received_at)


@dataclass(frozen=True, slots=True)
class RecordHead:
    head: str
    height: int
    chunks: int


def record_head(services: Services, stage_key: str) -> RecordHead:
    row = _election_row(services, stage_key)
    return RecordHead(row.head, row.height, row.chunks)


def record_chunks(services: Services, stage_key: str) -> Iterator[bytes]:
    """The record's bytes (the ``.bel`` archive) as it stood when the call was made, chunk by
    chunk, read a batch at a time so memory stays flat whatever the record's size."""
    row = _election_row(services, stage_key)
    election_id, chunks = row.id, row.chunks

    def stream() -> Iterator[bytes]:
        for start in range(0, chunks, _STREAM_BATCH):
            end = min(chunks, start + _STREAM_BATCH)
            with services.db.sessions() as session:
                contents = session.scalars(
                    select(RecordChunk.content)
                    .where(
                        RecordChunk.election_id == election_id,
                        RecordChunk.seq >= start,
                        RecordChunk.seq < end,
                    )
                    .order_by(RecordChunk.seq)
                ).all()
            if len(contents) != end - start:
                raise ElectionError("record.chunks", "a chunk of the stored record is missing")
            yield from contents

    return stream()


# -- verification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    """What the board says about verification.

    ``verified_head``/``verified_height`` name the event the last verification reached (None
    if the record was never verified here); ``current`` is true when that is still the
    record's head; ``passed`` whether every check passed; ``failures`` the failing checks'
    lines; ``running`` whether a verification is under way."""

    stage: str
    head: str
    height: int
    verified_head: str | None
    verified_height: int | None
    verified_at: datetime.datetime | None
    passed: bool | None
    failures: tuple[str, ...]
    ballots_checked: int
    running: bool
    interval_minutes: int = 15

    @property
    def current(self) -> bool:
        return self.verified_head is not None and self.verified_head == self.head

    @property
    def events_since(self) -> int:
        if self.verified_height is None:
            return 0
        return max(0, self.height - self.verified_height)


@dataclass(frozen=True, slots=True)
class _Result:
    head: str
    height: int
    at: datetime.datetime  # when it finished
    passed: bool
    failures: tuple[str, ...]
    ballots_checked: int
    started: datetime.datetime


@contextlib.contextmanager
def _machine_wide_lock(services: Services) -> Iterator[bool]:
    """One record check at a time for all the server processes of one site on this machine
    (``unionvote serve --workers N``): an exclusive lock on a file named after the database.
    Yields whether it was taken; never waits."""
    digest = hashlib.sha256(services.db.describe().encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"unionvote-board-{digest}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class BoardVerifier:
    """Verifies stages' records and remembers the last result of each, keyed by head.

    One per web application (its composition root makes it); thread-safe. At most one
    verification runs at a time (any stage: each reads the whole record), and
    :meth:`verify_if_due` starts one for a stage at most once per ``interval`` — or, when the
    last one took longer than a fifth of that, once per five times its duration: a record of
    a million ballots takes the better part of an hour to check on one core, and the server
    must keep most of its time for casting (at most a fifth of one core goes to this)."""

    #: A check starts at most once per this many times the last one's duration.
    DUTY_FACTOR = 5

    def __init__(
        self,
        services: Services,
        clock: Clock | None = None,
        *,
        interval: datetime.timedelta = datetime.timedelta(minutes=15),
    ) -> None:
        self._services = services
        self._clock = clock or services.clock
        self.interval = interval
        self._lock = threading.Lock()
        self._results: dict[str, _Result] = {}
        self._running: set[str] = set()
        self._started: dict[str, datetime.datetime] = {}

    def status(self, stage_key: str) -> Verification:
        head = record_head(self._services, stage_key)
        with self._lock:
            result = self._results.get(stage_key)
            running = stage_key in self._running
        return Verification(
            stage_key,
            head.head,
            head.height,
            result.head if result else None,
            result.height if result else None,
            result.at if result else None,
            result.passed if result else None,
            result.failures if result else (),
            result.ballots_checked if result else 0,
            running,
            int(self.interval.total_seconds() // 60),
        )

    def _due(self, stage_key: str, head: RecordHead) -> bool:
        # under self._lock
        result = self._results.get(stage_key)
        started = self._started.get(stage_key)
        wait = self.interval
        if result is not None:
            wait = max(wait, (result.at - result.started) * self.DUTY_FACTOR)
        return (
            not self._running
            and (result is None or result.head != head.head)
            and (started is None or self._clock.now() - started >= wait)
        )

    def needs_run(self, stage_key: str) -> bool:
        """Whether the stage's record has grown since it was last verified (or never was), no
        verification is running (of any stage), and the last one of this stage started at
        least ``interval`` ago."""
        head = record_head(self._services, stage_key)
        with self._lock:
            return self._due(stage_key, head)

    def verify_if_due(self, stage_key: str) -> None:
        """Verify the stage's record if :meth:`needs_run` says so (decided and claimed at
        once, so two requests never start two runs)."""
        head = record_head(self._services, stage_key)
        with self._lock:
            if not self._due(stage_key, head):
                return
            self._claim(stage_key)
        self._run(stage_key)

    def verify(self, stage_key: str) -> Verification:
        """Export the record as it stands and verify it now, whatever the interval; keeps and
        returns the result. Returns the current status at once if a verification is already
        running."""
        with self._lock:
            busy = bool(self._running)
            if not busy:
                self._claim(stage_key)
        if busy:
            return self.status(stage_key)
        self._run(stage_key)
        return self.status(stage_key)

    def _claim(self, stage_key: str) -> None:
        # under self._lock
        self._running.add(stage_key)
        self._started[stage_key] = self._clock.now()

    def _run(self, stage_key: str) -> None:
        started = self._clock.now()
        with _machine_wide_lock(self._services) as held:
            if not held:  # another server process of this site is checking a record now
                with self._lock:
                    self._running.discard(stage_key)
                return
            self._run_locked(stage_key, started)

    def _run_locked(self, stage_key: str, started: datetime.datetime) -> None:
        try:
            before = record_head(self._services, stage_key)
            with tempfile.TemporaryDirectory(prefix="unionvote-board-") as directory:
                path = Path(directory) / record_file_name(stage_key)
                exported = export_record(self._services, stage_key, path)
                report = verify_record(path)
            failures = tuple(
                failure.line() for check in report.checks.values() for failure in check.failures
            )
            if report.stopped is not None:
                failures = (report.stopped.line(), *failures)
            height = self._height_of(stage_key, exported.last_event, before)
            result = _Result(
                exported.last_event,
                height,
                self._clock.now(),
                report.ok,
                failures,
                report.ballots_checked,
                started,
            )
            with self._lock:
                self._results[stage_key] = result
        finally:
            with self._lock:
                self._running.discard(stage_key)

    def _height_of(self, stage_key: str, event: str, before: RecordHead) -> int:
        if before.head == event:
            return before.height
        head = record_head(self._services, stage_key)
        if head.head == event:
            return head.height
        # Cast between the two reads: the export began after ``before``, so it reaches at
        # least that far; the board then says "events since" from there (never fewer).
        return before.height


# -- the published results, for the results page ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    label: str
    percent: int


@dataclass(frozen=True, slots=True)
class PartyShare:
    party: str
    count: int
    percent: int


@dataclass(frozen=True, slots=True)
class AnswerCount:
    label: str
    party: str | None
    count: int


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group of a breakdown: its shares of the listed answers when shown, else why not
    (``status`` is a :class:`GroupStatus` value)."""

    name: str
    parent: str | None
    status: str
    ballots: int | None
    shares: tuple[Share, ...]

    @property
    def shown(self) -> bool:
        return self.status == GroupStatus.SHOWN.value


@dataclass(frozen=True, slots=True)
class BreakdownTable:
    dimension: str
    columns: tuple[str, ...]  # the listed answers, in the report's order
    groups: tuple[GroupRow, ...]


@dataclass(frozen=True, slots=True)
class QuestionResults:
    question: str
    listed: tuple[Share, ...]
    footnote: str  # as published (English)
    candidates_only: bool
    max: int
    denominator: int
    party_totals: tuple[PartyShare, ...]
    counts: tuple[AnswerCount, ...]
    blank: int
    ballots: int
    breakdowns: tuple[BreakdownTable, ...]


@dataclass(frozen=True, slots=True)
class TurnoutShare:
    what: str  # "eligible" or "registered"
    total: int
    percent: str  # one decimal, as the report writes it


@dataclass(frozen=True, slots=True)
class ResultsView:
    """A stage's published ``report.json``, ready for a page: the same numbers as
    ``report.txt`` (a breakdown's shares are derived from its published counts with the
    report's own rounding), none computed from anything else."""

    stage: str
    title: str
    simulation: bool
    threshold: str
    min_group_size: int
    questions: tuple[QuestionResults, ...]
    ballots: int
    turnout: tuple[TurnoutShare, ...]
    weight: int | None
    sources: tuple[tuple[str, str], ...]
    has_chart: bool
    stage_title: str = ""  # the process's title of the stage, inside ``title`` (to translate)


def _breakdown(
    obj: dict[str, Any], listed: Sequence[str], labels: Sequence[str], single: bool
) -> BreakdownTable:
    index = {label: j for j, label in enumerate(labels)}
    rows = []
    for group in obj["groups"]:
        status = GroupStatus(group["status"]).value
        shares: tuple[Share, ...] = ()
        ballots: int | None = None
        if status == GroupStatus.SHOWN.value:
            counts = [int(n) for n in group["counts"]]
            ballots = int(group["ballots"])
            own = sum(counts) if single else ballots
            shares = tuple(Share(x, whole_percent(counts[index[x]], own)) for x in listed)
        rows.append(GroupRow(str(group["name"]), group.get("parent"), status, ballots, shares))
    return BreakdownTable(str(obj["dimension"]), tuple(listed), tuple(rows))


def _question_results(obj: dict[str, Any]) -> QuestionResults:
    listed = tuple(Share(str(x["label"]), int(x["percent"])) for x in obj["listed"])
    counts = tuple(
        AnswerCount(str(c["label"]), c.get("party"), int(c["count"])) for c in obj["counts"]
    )
    labels = [c.label for c in counts]
    single = int(obj["max"]) == 1
    return QuestionResults(
        question=str(obj["question"]),
        listed=listed,
        footnote=str(obj["footnote"]),
        candidates_only=all(c["kind"] == "candidate" for c in obj["counts"]),
        max=int(obj["max"]),
        denominator=int(obj["denominator"]),
        party_totals=tuple(
            PartyShare(str(p["party"]), int(p["count"]), int(p["percent"]))
            for p in obj["party_totals"]
        ),
        counts=counts,
        blank=int(obj["blank"]),
        ballots=int(obj["ballots"]),
        breakdowns=tuple(
            _breakdown(b, [x.label for x in listed], labels, single) for b in obj["breakdowns"]
        ),
    )


def published_results(services: Services, stage_key: str) -> ResultsView:
    """The stage's published report (``report.json``) as a page shows it; a clear error
    (``publication.missing``) before the report is published."""
    report = json.loads(read_published(services, stage_key, "report.json"))
    with services.db.sessions() as session:
        row, stage = stage_row(session, stage_key)
        has_chart = CHART_FILE in published_names(session, row)
    turnout = report["turnout"]
    ballots = int(turnout["ballots"])
    shares = tuple(
        TurnoutShare(what, int(turnout[what]), one_decimal_percent(ballots, int(turnout[what])))
        for what in ("eligible", "registered")
        if turnout.get(what)
    )
    return ResultsView(
        stage=stage_key,
        title=str(report["title"]),
        simulation=bool(report["simulation"]),
        threshold=str(report["rules"]["threshold_percent"]),
        min_group_size=int(report["rules"]["min_group_size"]),
        questions=tuple(_question_results(q) for q in report["questions"]),
        ballots=ballots,
        turnout=shares,
        weight=None if turnout.get("weight") is None else int(turnout["weight"]),
        sources=tuple(
            (str(name), str(value))
            for name, value in sorted(report.get("sources", {}).items())
            if value is not None
        ),
        has_chart=has_chart,
        stage_title=stage.title,
    )
