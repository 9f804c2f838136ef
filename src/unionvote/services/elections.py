"""A stage's verifiable election, kept in the database: setup, casting, closing, the tally
(with its group aggregates), the trustees' partial decryptions, the result and the record.

The record is Belenios's ``.bel`` archive, stored as ``record_chunks``: each transaction that
changes it writes its entries with an ``ArchiveWriter`` that continues the event chain from
``ElectionRow.head``/``height`` and appends them as one chunk, in the same transaction as the
tables that describe them (ballot index, phase, stage status, audit entry). So a receipt is
returned only once the ballot is in the committed record, a crash loses nothing
acknowledged, and :func:`export_record` writes exactly the archive ``ElectionBox`` would have
written for the same operations.

Ballots are parsed and their proofs checked *before* the transaction (that is the expensive
part, and it needs no lock); the transaction then locks the election row, re-checks what may
have changed (phase, window, a replay) and appends.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import io
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy import Engine as DatabaseEngine
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from unionvote.crypto.credentials import PublicCredential
from unionvote.crypto.decryption import DiscreteLog, PartialDecryption
from unionvote.crypto.encoding import compact_json, parse_key, sha256_b64
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.fast import internal_format as fast_internal_format
from unionvote.crypto.group import GroupElement
from unionvote.crypto.trustees import TrusteeItem, election_public_key, key_owners
from unionvote.domain.election import CastReceipt, Phase
from unionvote.domain.errors import ElectionError
from unionvote.domain.groups import Cell, GroupPlan, plan_groups
from unionvote.domain.process import Candidate, Process, Stage
from unionvote.domain.tally import (
    AggregateTally,
    CountedGroups,
    DecryptionRequest,
    DimensionTally,
    EncryptedTally,
    PartialTally,
    Subtallies,
    TallyAccumulator,
    TrusteeDecryption,
    decrypt_counts,
)
from unionvote.record.archive import (
    ArchiveReader,
    ArchiveWriter,
    Event,
    iter_tar_entries,
)
from unionvote.record.ballot import check_ballot
from unionvote.record.errors import RecordError
from unionvote.record.messages import (
    Ballot,
    Election,
    Owned,
    Question,
    Result,
    SetupData,
    SizedEncryptedTally,
    encrypted_tally_to_json,
    parse_encrypted_tally,
    parse_entry,
    parse_trustees_entry,
)
from unionvote.services.context import Services
from unionvote.services.process import load_process, stage_row
from unionvote.services.questionnaire_rule import check_ballot_candidates
from unionvote.storage.models import (
    AuditEntry,
    ElectionRow,
    Member,
    PartialDecryptionRow,
    PublicCredentialRow,
    PublishedFile,
    RecordChunk,
    StageRow,
)
from unionvote.storage.models import Ballot as BallotRow
from unionvote.verify.engine import Engine, EngineError, InProcessEngine, Job

__all__ = [
    "PENDING_GROUPS_FILE",
    "PENDING_SUBTALLIES_FILE",
    "SUBTALLIES_FILE",
    "CastReceipt",
    "ElectionStatus",
    "ExportedRecord",
    "TallySummary",
    "decryption_request",
    "do_add_partial_decryption",
    "do_cast",
    "do_close",
    "do_compute_result",
    "do_setup_election",
    "do_tally",
    "election_definition",
    "election_status",
    "export_record",
    "record_trustees",
]

SUBTALLIES_FILE: Final = "subtallies.json"
"""The published group aggregates, with their decryptions and counts (``domain.tally``)."""

PENDING_SUBTALLIES_FILE: Final = "subtallies.pending.json"
"""The aggregates between the tally and the result, filled in as trustees decrypt."""

PENDING_GROUPS_FILE: Final = "subtallies.groups.pending.json"
"""Their ``counted_groups`` (``domain.tally.CountedGroups``' JSON), kept apart from the
decryption steps, which never read it, until the result joins it to ``subtallies.json``.
Like every ``.pending.json`` file it is never public."""

_NO_GROUPS: Final = CountedGroups(b"{}")

_EXPORT_BATCH: Final = 256
_TALLY_BATCH: Final = 2000
_SETUP_CACHE_SIZE: Final = 16


# -- results handed back -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElectionStatus:
    stage: str
    phase: str
    uuid: str
    election_hash: str
    voting_opens_at: datetime.datetime | None
    voting_closes_at: datetime.datetime | None
    ballots_received: int
    counted: int
    height: int


@dataclass(frozen=True, slots=True)
class TallySummary:
    num_tallied: int
    total_weight: int
    aggregates: int


@dataclass(frozen=True, slots=True)
class ExportedRecord:
    path: Path
    size: int
    sha256: str
    last_event: str


# -- the record, chunk by chunk --------------------------------------------------------------


def _chunk_entries(content: bytes) -> tuple[dict[str, bytes], list[Event]]:
    """The data entries (by hash) and the events of one stored chunk, in order."""
    data: dict[str, bytes] = {}
    events: list[Event] = []
    for entry in iter_tar_entries(io.BytesIO(content)):
        if entry.name.endswith(".event.json"):
            events.append(Event.from_bytes(entry.content, entry.name))
        elif entry.name.endswith(".data.json"):
            data[hashlib.sha256(entry.content).hexdigest()] = entry.content
    return data, events


def _chunk(session: Session | Connection, election_id: int, seq: int) -> bytes:
    content = session.scalar(_CHUNK, {"election_id": election_id, "seq": seq})
    if content is None:
        raise ElectionError("record.chunks", f"chunk {seq} of the stored record is missing")
    return content


_CHUNK: Final = select(RecordChunk.content).where(
    RecordChunk.election_id == bindparam("election_id"), RecordChunk.seq == bindparam("seq")
)


def _last_event(
    session: Session | Connection, election_id: int, head: str, height: int, chunks: int
) -> Event:
    """The record's head event, as the (locked) election row names it by ``head`` and
    ``height``: from this process's cache when it is that event — its hash covers every
    field, so a stale or rolled-back entry can never match — and otherwise read from the
    last stored chunk."""
    last = _last_events.get(election_id)
    if last is not None and last.hash == head and last.height == height:
        return last
    _, events = _chunk_entries(_chunk(session, election_id, chunks - 1))
    if not events or events[-1].hash != head or events[-1].height != height:
        raise ElectionError(
            "record.chunks",
            "the stored record does not end with the election's head event; "
            "nothing was written (restore the database from its backup)",
        )
    return events[-1]


def _append(session: Session, row: ElectionRow, write: Callable[[ArchiveWriter], object]) -> None:
    """Run ``write`` on a writer that continues the stored record, and store what it wrote as
    the next chunk, moving the election's head (in the caller's transaction)."""
    last = _last_event(session, row.id, row.head, row.height, row.chunks)
    stream = io.BytesIO()
    writer = ArchiveWriter.continue_chain(stream, timestamp=row.timestamp, last_event=last)
    write(writer)
    _store_chunk(session, row, stream.getvalue(), writer)
    if writer.last is not None:
        _last_events[row.id] = writer.last


# Each election's head event as this process last wrote or read it (see ``_append``).
_last_events: dict[int, Event] = {}


def _store_chunk(session: Session, row: ElectionRow, content: bytes, writer: ArchiveWriter) -> None:
    head, height = writer.last_event, writer.height
    assert head is not None and height is not None, "a chunk always ends with an event"
    session.add(RecordChunk(election_id=row.id, seq=row.chunks, content=content))
    row.head, row.height, row.chunks = head, height, row.chunks + 1


@dataclass(frozen=True, slots=True)
class _Setup:
    election: Election
    election_hash: str
    trustees: tuple[TrusteeItem, ...]


# An election's setup never changes once written: parse it once per process, not per ballot.
_setups: dict[tuple[str, str], _Setup] = {}


def _setup_of(session: Session, row: ElectionRow) -> _Setup:
    return _setup_by_id(session, row.id, row.uuid, row.election_hash)


def _setup_by_id(
    session: Session | Connection, election_id: int, uuid: str, election_hash: str
) -> _Setup:
    """The election's setup (cached per process) by its row's id, uuid and hash: casting reads
    those three columns, not the whole row."""
    key = (uuid, election_hash)
    cached = _setups.get(key)
    if cached is not None:
        return cached
    reader = ArchiveReader(io.BytesIO(_chunk(session, election_id, 0)))
    first = next(reader.iter_events(), None)
    if first is None or first.event.type != "Setup" or first.payload is None:
        raise ElectionError("record.setup", "the stored record does not start with its setup")
    setup = parse_entry("setup", first.payload, SetupData.from_json, SetupData.to_json)
    election = parse_entry(
        "election", reader.data(setup.election), Election.from_json, Election.to_json
    )
    if setup.election_hash != election_hash or election.uuid != uuid:
        raise ElectionError("record.setup", "the stored record is not this election's")
    result = _Setup(
        election, setup.election_hash, tuple(parse_trustees_entry(reader.data(setup.trustees)))
    )
    if len(_setups) >= _SETUP_CACHE_SIZE:
        del _setups[next(iter(_setups))]
    _setups[key] = result
    return result


@dataclass(frozen=True, slots=True)
class _TallyEntries:
    sized: SizedEncryptedTally
    tally: EncryptedTally
    partials: dict[int, PartialDecryption]


def _tally_entries(session: Session, row: ElectionRow) -> _TallyEntries:
    """The encrypted tally and the partial decryptions, read from the record's last chunks
    (the tally's chunk and those after it)."""
    partials: dict[int, PartialDecryption] = {}
    for seq in range(row.chunks - 1, -1, -1):
        data, events = _chunk_entries(_chunk(session, row.id, seq))
        for event in events:
            if event.type == "PartialDecryption" and event.payload is not None:
                owned = parse_entry(
                    "decryption.owner", data[event.payload], Owned.from_json, Owned.to_json
                )
                partials[owned.owner] = parse_entry(
                    "decryption",
                    data[owned.payload],
                    PartialDecryption.from_json,
                    PartialDecryption.to_json,
                )
            elif event.type == "EncryptedTally" and event.payload is not None:
                sized = parse_entry(
                    "tally",
                    data[event.payload],
                    SizedEncryptedTally.from_json,
                    SizedEncryptedTally.to_json,
                )
                tally = parse_entry(
                    "tally.encrypted",
                    data[sized.encrypted_tally],
                    parse_encrypted_tally,
                    encrypted_tally_to_json,
                )
                return _TallyEntries(sized, tally, partials)
    raise ElectionError("tally.phase", "the record holds no encrypted tally yet")


# -- rows ------------------------------------------------------------------------------------


def _stage(session: Session, key: str, *, for_update: bool = False) -> StageRow:
    """The stage row by key, without parsing the process file (casting calls this often)."""
    query = select(StageRow).where(StageRow.key == key)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        row, _ = stage_row(session, key, for_update=for_update)  # its error names the stages
    return row


def _election(session: Session, stage: StageRow, *, for_update: bool = False) -> ElectionRow:
    query = select(ElectionRow).where(ElectionRow.stage_id == stage.id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise ElectionError(
            "election.missing",
            f"the election of stage {stage.key!r} is not set up "
            f"(`unionvote election setup {stage.key}`)",
        )
    return row


def _publish(
    session: Session, stage: StageRow, name: str, content: bytes, at: datetime.datetime
) -> None:
    existing = session.scalar(
        select(PublishedFile).where(PublishedFile.stage_id == stage.id, PublishedFile.name == name)
    )
    digest = hashlib.sha256(content).hexdigest()
    if existing is None:
        session.add(
            PublishedFile(stage_id=stage.id, name=name, content=content, digest=digest, at=at)
        )
    else:
        existing.content, existing.digest, existing.at = content, digest, at


def _subtallies(session: Session, stage: StageRow, name: str) -> tuple[PublishedFile, Subtallies]:
    file = session.scalar(
        select(PublishedFile).where(PublishedFile.stage_id == stage.id, PublishedFile.name == name)
    )
    if file is None:
        raise ElectionError("tally.phase", f"the stage has no {name} (tally it first)")
    return file, Subtallies.from_bytes(file.content)


def _phase_error(check: str, action: str, phase: str) -> ElectionError:
    return ElectionError(check, f"cannot {action} while the election is {phase}")


# -- setup -----------------------------------------------------------------------------------


def _questions(process: Process, stage: Stage, row: StageRow) -> tuple[Question, ...]:
    derived: dict[str, list[Candidate]] = {}
    sources = [q for q in stage.questions if q.candidates_from is not None]
    if sources:
        if row.derived_from is None:
            raise ElectionError(
                "setup.questions",
                f"the candidates of stage {stage.id!r} come from stage {stage.derived_from!r}'s "
                "result, which has not been derived yet",
            )
        try:
            listed = json.loads(row.derived_from)["candidates"]
            candidates = [Candidate(str(c["name"]), str(c["party"])) for c in listed]
        except (ValueError, KeyError, TypeError) as error:
            raise ElectionError(
                "setup.questions", f"the stage's derived candidates are unreadable: {error}"
            ) from error
        derived = {q.id: candidates for q in sources}
    return process.to_questions(stage.id, derived)


def _credentials(session: Session, stage: StageRow) -> list[PublicCredential]:
    """The stage's public credentials in a stable order (sorted), never in member order: the
    record must not reveal which member holds which credential."""
    rows = session.execute(
        select(PublicCredentialRow.credential, PublicCredentialRow.weight).where(
            PublicCredentialRow.stage_id == stage.id
        )
    ).all()
    credentials = []
    for text, weight in sorted(rows, key=lambda r: r[0]):
        try:
            credentials.append(PublicCredential(parse_key(text), weight))
        except CryptoError as error:
            raise ElectionError(
                "setup.credentials", f"a stored public credential is invalid: {error.detail}"
            ) from error
    if not credentials:
        raise ElectionError("setup.credentials", f"stage {stage.key!r} has no public credentials")
    if len({c.weight is None for c in credentials}) > 1:
        raise ElectionError("setup.credentials", "either every voter has a weight or none")
    return credentials


def do_setup_election(
    services: Services,
    stage_key: str,
    *,
    trustees: Sequence[TrusteeItem],
    name: str,
    description: str,
    voting_opens_at: datetime.datetime,
    voting_closes_at: datetime.datetime,
) -> ElectionStatus:
    """Write the election's setup (the election with the stage's questions, its trustees, the
    public credentials) as the record's first chunk and open the stage for voting.

    Refused unless the stage has its uuid and its public credentials (status
    ``credentials``), every trustee item's proofs hold and the window is a real interval; and,
    for a stage that names a candidate questionnaire, unless its rule lets every candidate on
    the ballot (``setup.questionnaire``, naming those it keeps out).
    """
    if not trustees:
        raise ElectionError("setup.trustees", "an election needs at least one trustee")
    for item in trustees:
        try:
            item.check()
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
    if voting_opens_at.tzinfo is None or voting_closes_at.tzinfo is None:
        raise ElectionError("setup.window", "give the voting window with a time zone")
    if voting_opens_at >= voting_closes_at:
        raise ElectionError("setup.window", "voting must open before it closes")
    # Before the transaction (the questionnaire is read in its own); an answer, once
    # submitted, stays submitted, so what is allowed here stays allowed.
    check_ballot_candidates(services, stage_key)
    with services.transaction() as tx:
        session = tx.session
        loaded = load_process(session)
        stage, definition = stage_row(session, stage_key, for_update=True)
        if session.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == stage.id)):
            raise ElectionError("setup.exists", f"the election of {stage_key!r} is already set up")
        if stage.status != "credentials" or stage.uuid is None:
            raise ElectionError(
                "setup.status",
                f"stage {stage_key!r} is {stage.status}: an election is set up once the public "
                "credentials are imported",
            )
        questions = _questions(loaded.process, definition, stage)
        credentials = _credentials(session, stage)
        try:
            election = Election(
                stage.uuid, name, description, election_public_key(trustees), questions
            )
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
        timestamp = int(tx.at.timestamp())
        stream = io.BytesIO()
        writer = ArchiveWriter(stream)
        writer.write_header(timestamp)
        setup = SetupData(  # the entries and their order are ElectionBox.create's
            writer.add_data(compact_json(election.to_json())),
            writer.add_data(compact_json([t.to_json() for t in trustees])),
            writer.add_data(compact_json([c.to_json() for c in credentials])),
        )
        writer.add_event("Setup", writer.add_data(compact_json(setup.to_json())))
        row = ElectionRow(
            stage_id=stage.id,
            uuid=stage.uuid,
            phase=Phase.VOTING.value,
            timestamp=timestamp,
            election_hash=setup.election_hash,
            head="",
            height=0,
            chunks=0,
            ballots_received=0,
            created_at=tx.at,
        )
        session.add(row)
        session.flush()
        _store_chunk(session, row, stream.getvalue(), writer)
        stage.status = "voting"
        stage.voting_opens_at, stage.voting_closes_at = voting_opens_at, voting_closes_at
        tx.audit(
            "election.setup",
            stage_key,
            uuid=stage.uuid,
            election_hash=setup.election_hash,
            credentials=len(credentials),
            trustees=len(trustees),
            opens=voting_opens_at.isoformat(),
            closes=voting_closes_at.isoformat(),
        )
        return _status(session, stage, row)


# -- casting ---------------------------------------------------------------------------------


def _parse_ballot(raw: bytes) -> Ballot:
    try:
        return parse_entry("ballot", raw, Ballot.from_json, Ballot.to_json)
    except RecordError as error:
        raise ElectionError("ballot.malformed", error.detail) from error


def _refuse_unless_voting(phase: str) -> None:
    if phase != Phase.VOTING.value:
        raise ElectionError("ballot.closed", "voting has ended; the ballot was not recorded")


def _refuse_outside_window(
    opens: datetime.datetime | None, closes: datetime.datetime | None, now: datetime.datetime
) -> None:
    if opens is not None and now < opens:
        raise ElectionError("ballot.window", f"voting opens at {opens:%Y-%m-%d %H:%M} UTC")
    if closes is not None and now >= closes:
        raise ElectionError("ballot.window", f"voting closed at {closes:%Y-%m-%d %H:%M} UTC")


# Casting is the hot path (issue 5: 150 ballots a second on two cores). Its statements are
# built once, here, and run as Core statements on one connection: building a statement, and
# the ORM's identity map and unit of work, cost more CPU per ballot than the database itself.
# They read and write exactly the rows the ORM models describe.

_tables = BallotRow.metadata.tables
_ballots, _chunks, _elections, _audit = (
    _tables[model.__tablename__] for model in (BallotRow, RecordChunk, ElectionRow, AuditEntry)
)

_ADMIT: Final = (
    select(
        ElectionRow.id,
        ElectionRow.phase,
        ElectionRow.uuid,
        ElectionRow.election_hash,
        StageRow.voting_opens_at,
        StageRow.voting_closes_at,
        select(BallotRow.id)
        .where(BallotRow.election_id == ElectionRow.id, BallotRow.tracker == bindparam("tracker"))
        .exists(),
        PublicCredentialRow.id,
        Member.card_number,
    )
    .select_from(StageRow)
    .join(ElectionRow, ElectionRow.stage_id == StageRow.id)
    .outerjoin(
        PublicCredentialRow,
        (PublicCredentialRow.stage_id == StageRow.id)
        & (PublicCredentialRow.credential == bindparam("credential")),
    )
    .outerjoin(Member, Member.id == PublicCredentialRow.member_id)
    .where(StageRow.key == bindparam("stage"))
)
"""The pre-check's one query: the election, the stage's window, whether this very ballot is
recorded, and the credential's row with its member's card number (absent when the credential
is not on the list)."""

_LOCK_ELECTION: Final = (
    select(
        ElectionRow.id,
        ElectionRow.phase,
        ElectionRow.timestamp,
        ElectionRow.head,
        ElectionRow.height,
        ElectionRow.chunks,
        StageRow.voting_opens_at,
        StageRow.voting_closes_at,
    )
    .join(StageRow, StageRow.id == ElectionRow.stage_id)
    .where(StageRow.key == bindparam("stage"))
    .with_for_update(of=ElectionRow)
)
"""The election row, locked (``FOR UPDATE``; on SQLite the transaction's ``BEGIN
IMMEDIATE`` is the lock), with the stage's window."""

_RECORDED: Final = select(BallotRow.id, BallotRow.tracker).where(
    BallotRow.election_id == bindparam("election_id"),
    (BallotRow.tracker == bindparam("tracker"))
    | ((BallotRow.credential == bindparam("credential")) & BallotRow.counted.is_(True)),
)
"""This very ballot, and the credential's counted ballot (at most one), in one query."""

_UNCOUNT: Final = (
    update(_ballots).where(_ballots.c.id == bindparam("ballot_id")).values(counted=False)
)
_ADD_CHUNK: Final = insert(_chunks)
_ADD_BALLOT: Final = insert(_ballots)
_ADD_AUDIT: Final = insert(_audit)
_MOVE_HEAD: Final = (
    update(_elections)
    .where(_elections.c.id == bindparam("election_id"))
    .values(
        head=bindparam("new_head"),
        height=bindparam("new_height"),
        chunks=_elections.c.chunks + bindparam("count"),
        ballots_received=_elections.c.ballots_received + bindparam("count"),
    )
)


@dataclass(frozen=True, slots=True)
class _Admitted:
    """What the pre-check found for a ballot it admits."""

    election_id: int
    uuid: str
    election_hash: str


def _admit(
    connection: Connection,
    stage_key: str,
    tracker: str,
    credential: str,
    member_card: str | None,
    now: datetime.datetime,
) -> _Admitted | None:
    """Every check of a ballot but its proofs, in this order: voting has not ended
    (``ballot.closed``); this very ballot is not recorded yet (``None`` if it is); ``now`` is
    inside the window (``ballot.window``); the credential is on the election's list, and with
    ``member_card`` it is that member's (``ballot.credential``). An unknown stage, or one
    with no election, falls back to the lookups whose errors name what is missing."""
    found = connection.execute(
        _ADMIT, {"stage": stage_key, "tracker": tracker, "credential": credential}
    ).first()
    if found is None:
        with Session(connection) as session:
            _election(session, _stage(session, stage_key))  # raises, naming what is missing
        raise AssertionError("unreachable: the stage and its election exist")
    election_id, phase, uuid, election_hash, opens, closes, is_recorded, listed, card = found
    _refuse_unless_voting(phase)
    if is_recorded:
        return None
    _refuse_outside_window(opens, closes, now)
    if listed is None:
        raise ElectionError(
            "ballot.credential", "the ballot's credential is not on this election's list"
        )
    if member_card is not None and card != member_card:
        raise ElectionError(
            "ballot.credential", "the ballot's credential is not the one issued to this member"
        )
    return _Admitted(election_id, uuid, election_hash)


@dataclass(slots=True)
class _ToRecord:
    """A checked ballot waiting to be recorded, and then what became of it."""

    raw: bytes
    tracker: str
    credential: str
    done: bool = False
    receipt: CastReceipt | None = None
    error: BaseException | None = None

    def outcome(self) -> CastReceipt:
        if self.error is not None:
            raise self.error
        assert self.receipt is not None
        return self.receipt


class _GroupCommit:
    """Group commit for one election's casts in this process: checked ballots that reach
    recording while another batch is being written wait, then are written together by one
    of their own threads (the leader) in a single transaction. The election row's lock (the
    record's hash chain makes recording serial, across processes too), the head's move, the
    commit and its flush to disk are then shared by the batch instead of paid per ballot.
    Each receipt is still made only after the commit that holds its ballot."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_ToRecord] = []
        self._leading = False

    def record(self, connection: Connection, services: Services, stage_key: str,
               item: _ToRecord) -> CastReceipt:  # fmt: skip
        with self._cond:
            self._queue.append(item)
            while not item.done and self._leading:
                self._cond.wait()
            if item.done:
                return item.outcome()
            self._leading = True
            batch, self._queue = self._queue, []
        try:
            _write_batch(connection, services, stage_key, batch)
        except BaseException as error:  # nothing of the batch was committed: each is told
            for waiting in batch:
                waiting.receipt = None
                waiting.error = error if waiting is item else _copied(error)
            raise
        finally:
            with self._cond:
                for waiting in batch:
                    waiting.done = True
                self._leading = False
                self._cond.notify_all()
        return item.outcome()


def _copied(error: BaseException) -> BaseException:
    """The same error for another thread to raise (an exception object raised in two
    threads at once would share its traceback)."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001  # pragma: no cover - one that cannot be copied is shared
        return error


_group_commits: weakref.WeakKeyDictionary[DatabaseEngine, dict[str, _GroupCommit]] = (
    weakref.WeakKeyDictionary()
)
_group_commits_lock = threading.Lock()


def _group_commit(engine: DatabaseEngine, stage_key: str) -> _GroupCommit:
    with _group_commits_lock:
        by_stage = _group_commits.setdefault(engine, {})
        group = by_stage.get(stage_key)
        if group is None:
            group = by_stage[stage_key] = _GroupCommit()
        return group


def _write_batch(
    connection: Connection, services: Services, stage_key: str, batch: Sequence[_ToRecord]
) -> None:
    """:func:`_record_batch` in its own transaction, committed."""
    with connection.begin():
        _record_batch(connection, services, stage_key, batch)


def _record_batch(
    connection: Connection, services: Services, stage_key: str, batch: Sequence[_ToRecord]
) -> None:
    """The batch's transaction, on ``connection`` (the caller commits): lock the election
    row, re-check what may have moved since each pre-check (the phase, the window, each
    ballot or another of the same credential recorded, by another process or earlier in
    this batch), then append each ballot to the record as its own chunk, index it (the
    credential's earlier ballot no longer counted), write its audit entry (as
    :meth:`Tx.audit` writes it), and move the head and the counters once."""
    at = services.clock.now()
    locked = connection.execute(_LOCK_ELECTION, {"stage": stage_key}).first()
    if locked is None:  # pragma: no cover - the pre-check found it, and none is ever deleted
        raise ElectionError("election.missing", f"the election of {stage_key!r} is gone")
    election_id, phase, timestamp, head, height, chunks, opens, closes = locked
    # The credential list and the members are fixed once voting opens: the pre-checks'
    # answers stand; the phase, the window and the trackers may have moved meanwhile.
    _refuse_unless_voting(phase)
    try:
        _refuse_outside_window(opens, closes, at)
        outside: ElectionError | None = None
    except ElectionError as error:  # a ballot recorded already is still told so
        outside = error
    stream = io.BytesIO()
    writer = ArchiveWriter.continue_chain(
        stream,
        timestamp=timestamp,
        last_event=_last_event(connection, election_id, head, height, chunks),
    )
    chunk_rows: list[dict[str, object]] = []
    ballot_rows: list[dict[str, object]] = []
    in_batch: dict[str, dict[str, object]] = {}  # credential → its ballot's row, in this batch
    trackers: set[str] = set()
    detail = json.dumps
    for item in batch:
        tracker, credential = item.tracker, item.credential
        recorded = connection.execute(
            _RECORDED,
            {"election_id": election_id, "tracker": tracker, "credential": credential},
        ).all()
        if tracker in trackers or any(found == tracker for _, found in recorded):
            item.receipt = CastReceipt(tracker, replaced_earlier_ballot=False,
                                       already_recorded=True)  # fmt: skip
            continue
        if outside is not None:
            item.error = copy.copy(outside)
            continue
        for earlier, _ in recorded:
            connection.execute(_UNCOUNT, {"ballot_id": earlier})
        earlier_here = in_batch.get(credential)
        if earlier_here is not None:
            earlier_here["counted"] = False
        writer.add_event("Ballot", writer.add_data(item.raw))
        chunk_rows.append(
            {"election_id": election_id, "seq": chunks + len(chunk_rows),
             "content": stream.getvalue()}
        )  # fmt: skip
        stream.seek(0)
        stream.truncate()
        row: dict[str, object] = {
            "election_id": election_id, "tracker": tracker, "credential": credential,
            "raw": item.raw, "received_at": at, "counted": True,
        }  # fmt: skip
        ballot_rows.append(row)
        in_batch[credential] = row
        trackers.add(tracker)
        item.receipt = CastReceipt(
            tracker, replaced_earlier_ballot=bool(recorded) or earlier_here is not None
        )
    if not ballot_rows:
        return
    assert writer.last is not None and writer.height is not None
    connection.execute(_ADD_CHUNK, chunk_rows)
    connection.execute(_ADD_BALLOT, ballot_rows)
    connection.execute(
        _MOVE_HEAD,
        {"election_id": election_id, "new_head": writer.last.hash,
         "new_height": writer.height, "count": len(ballot_rows)},
    )  # fmt: skip
    connection.execute(
        _ADD_AUDIT,
        [
            {"at": at, "actor": services.actor, "action": "ballot.cast", "subject": stage_key,
             "detail": detail({"tracker": row["tracker"]}, sort_keys=True, default=str)}
            for row in ballot_rows
        ],
    )  # fmt: skip
    _last_events[election_id] = writer.last


def do_cast(
    services: Services, stage_key: str, raw: bytes, *, member_card: str | None = None
) -> CastReceipt:
    """Check a ballot fully and record it; the receipt is returned only after the commit.

    The same ballot sent again is recorded once (``already_recorded``); a new ballot of a
    credential that voted before replaces the earlier one in the tally. With
    ``member_card``, the credential must be the one issued to that member.

    Three steps on one pooled connection: the pre-check (:func:`_admit`, one query, no
    lock), the proofs (the expensive part, outside any transaction), then the recording
    (:func:`_record_batch`), in one short transaction with the other ballots of this process
    that reach it at the same time (:class:`_GroupCommit`), committed before the receipt is
    made.
    """
    ballot = _parse_ballot(raw)
    tracker = sha256_b64(raw)  # the ballot's tracker: parse_entry checked the bytes canonical
    credential = str(ballot.credential)
    with services.db.engine.connect() as connection:
        with connection.begin():
            admitted = _admit(
                connection, stage_key, tracker, credential, member_card, services.clock.now()
            )
            if admitted is None:
                return CastReceipt(tracker, replaced_earlier_ballot=False, already_recorded=True)
            setup = _setup_by_id(
                connection, admitted.election_id, admitted.uuid, admitted.election_hash
            )
        try:
            check_ballot(setup.election, setup.election_hash, ballot)
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
        group = _group_commit(services.db.engine, stage_key)
        return group.record(connection, services, stage_key, _ToRecord(raw, tracker, credential))


# -- closing and tallying ----------------------------------------------------------------------


def do_close(services: Services, stage_key: str) -> ElectionStatus:
    """End the voting: the record gets its ``EndBallots`` event; no ballot is accepted after."""
    with services.transaction() as tx:
        stage = _stage(tx.session, stage_key, for_update=True)
        row = _election(tx.session, stage, for_update=True)
        if row.phase != Phase.VOTING.value:
            raise ElectionError("election.closed", "voting has already ended")
        _append(tx.session, row, lambda writer: writer.add_event("EndBallots"))
        row.phase = stage.status = Phase.CLOSED.value
        tx.audit("election.close", stage_key, ballots_received=row.ballots_received)
        return _status(tx.session, stage, row)


def _counted_ballots(
    session: Session, stage: StageRow, row: ElectionRow
) -> Iterator[tuple[bytes, str, str, int | None, str, str]]:
    """Each counted ballot with its tracker, credential, weight and its member's state and
    local.

    On PostgreSQL the three tables' statistics are refreshed first (a sample; about a second
    for a million rows): ballots cast in a burst may not have been analysed yet, and the join
    planned for a few hundred rows then hashes a million ballots on disk (seen on a
    1.2-million-ballot election: minutes instead of seconds)."""
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.__tablename__ for t in (BallotRow, PublicCredentialRow, Member))
        session.execute(sql_text(f"ANALYZE {names}"))
    query = (
        select(
            BallotRow.raw,
            BallotRow.tracker,
            BallotRow.credential,
            PublicCredentialRow.weight,
            Member.state,
            Member.local,
        )
        .join(
            PublicCredentialRow,
            (PublicCredentialRow.stage_id == stage.id)
            & (PublicCredentialRow.credential == BallotRow.credential),
        )
        .join(Member, Member.id == PublicCredentialRow.member_id)
        .where(BallotRow.election_id == row.id, BallotRow.counted.is_(True))
        .order_by(BallotRow.id)
        .execution_options(yield_per=_TALLY_BATCH)
    )
    yield from session.execute(query)


def _aggregate(
    plan: GroupPlan, cells: Mapping[Cell, TallyAccumulator], questions: Sequence[Question]
) -> tuple[DimensionTally, ...]:
    """Each planned aggregate's encrypted tally: the product of its cells' tallies."""
    dimensions = []
    for dimension in plan.dimensions:
        parts = {a.id: TallyAccumulator(questions) for a in dimension.aggregates}
        for cell, aggregate_id in dimension.cells.items():
            parts[aggregate_id].merge(cells[cell])
        aggregates = tuple(
            AggregateTally(a.id, a.label, a.groups, a.ballots, parts[a.id].tally)
            for a in dimension.aggregates
        )
        if aggregates:  # a dimension that can show nothing is left out (see Subtallies)
            dimensions.append(DimensionTally(dimension.dimension, aggregates))
    return tuple(dimensions)


_TallySetup = tuple[tuple[Question, ...], str | None]
_TallyItem = tuple[bytes, str, int | None, Cell]  # a stored ballot, its tracker, weight, cell


def _tally_questions(setup: _TallySetup) -> _TallySetup:
    """The tally job's worker state: the election's questions and the caller's
    ``fast.internal_format`` (partial tallies travel in libdecaf's form when it matches)."""
    return setup


def _tally_batch(setup: _TallySetup, batch: list[_TallyItem]) -> dict[Cell, PartialTally]:
    """One batch of stored ballots (checked when cast) multiplied into a tally per cell.

    Each ballot's bytes must still be the ones its tracker names: a row changed behind the
    service's back stops the tally instead of entering it."""
    questions, internal_format = setup
    cells: dict[Cell, TallyAccumulator] = {}
    for raw, tracker, weight, cell in batch:
        if sha256_b64(raw) != tracker:
            raise ElectionError(
                "tally.ballot",
                f"the stored ballot {tracker} is not the ballot its tracker names; "
                "nothing was tallied (restore the database from its backup)",
            )
        accumulator = cells.get(cell)
        if accumulator is None:
            accumulator = cells[cell] = TallyAccumulator(questions)
        accumulator.add_stored(raw, weight)
    return {cell: a.to_partial(internal_format) for cell, a in cells.items()}


def do_tally(
    services: Services,
    stage_key: str,
    *,
    progress: Callable[[int], None] | None = None,
    engine: Engine | None = None,
) -> TallySummary:
    """Compute the encrypted tally (one streaming pass over the counted ballots) and the
    encrypted aggregate of each group the process's report rules break results down by.

    The tally goes into the record; the aggregates into ``subtallies.pending.json`` until the
    trustees have decrypted them. ``progress`` is called with the number of ballots done.
    ``engine`` (``verify.engine``: local processes or a Dask cluster; default this process)
    multiplies batches of ballots into partial tallies, one per group cell, which are merged
    here: the product does not depend on how the ballots were split.
    """
    with services.transaction() as tx:
        session = tx.session
        rules = load_process(session).process.report
        stage = _stage(session, stage_key, for_update=True)
        row = _election(session, stage, for_update=True)
        if row.phase != Phase.CLOSED.value:
            raise _phase_error("tally.phase", "tally", row.phase)
        setup = _setup_of(session, row)
        questions = setup.election.questions
        cells: dict[Cell, TallyAccumulator] = {}
        credentials_by_cell: dict[Cell, list[str]] = {}

        def batches() -> Iterator[list[_TallyItem]]:
            batch: list[_TallyItem] = []
            for raw, tracker, credential, weight, state, local in _counted_ballots(
                session, stage, row
            ):
                cell = (state, local) if rules.breakdowns else ("", "")
                credentials_by_cell.setdefault(cell, []).append(credential)
                batch.append((raw, tracker, weight, cell))
                if len(batch) == _TALLY_BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        job = Job(
            prepare=_tally_questions,
            setup=(tuple(questions), fast_internal_format()),
            run=_tally_batch,
        )
        with contextlib.ExitStack() as stack:
            runner = engine if engine is not None else stack.enter_context(InProcessEngine())
            try:
                for partials in runner.map(job, batches()):
                    for cell, partial in partials.items():
                        if cell not in cells:
                            cells[cell] = TallyAccumulator(questions)
                        cells[cell].merge_partial(partial)
                        if progress is not None:
                            progress(partial.count)
            except EngineError as error:
                raise ElectionError("tally.engine", str(error)) from error
        main = TallyAccumulator(questions)
        for accumulator in cells.values():
            main.merge(accumulator)
        counted = session.scalar(
            select(func.count())
            .select_from(BallotRow)
            .where(BallotRow.election_id == row.id, BallotRow.counted.is_(True))
        )
        if counted != main.count:
            raise ElectionError(
                "tally.credentials",
                f"{counted} ballots are counted but {main.count} have a member's credential",
            )
        plan = plan_groups(
            {cell: a.count for cell, a in cells.items()}, rules.breakdowns, rules.min_group_size
        )
        dimensions = _aggregate(plan, cells, questions)
        counted_groups: dict[str, tuple[str, ...]] = {}
        for cell, credentials in credentials_by_cell.items():
            ids = plan.aggregate_ids(cell)
            counted_groups.update((credential, ids) for credential in credentials)
        credentials_by_cell.clear()
        groups = CountedGroups.of(counted_groups).json
        del counted_groups
        # The working copy leaves counted_groups (a hundred megabytes for a million voters)
        # in a file of its own, which no decryption step reads: the result joins them.
        subtallies = Subtallies(
            row.uuid, row.election_hash, rules.min_group_size, tuple(dimensions), _NO_GROUPS
        )

        def write(writer: ArchiveWriter) -> None:
            tally_hash = writer.add_data(compact_json(encrypted_tally_to_json(main.tally)))
            sized = SizedEncryptedTally(main.count, main.total_weight, tally_hash)
            writer.add_event("EncryptedTally", writer.add_data(compact_json(sized.to_json())))

        _append(session, row, write)
        _publish(session, stage, PENDING_SUBTALLIES_FILE, subtallies.to_bytes(), tx.at)
        _publish(session, stage, PENDING_GROUPS_FILE, groups, tx.at)
        del groups
        row.phase = stage.status = Phase.TALLIED.value
        aggregates_count = sum(len(d.aggregates) for d in dimensions)
        tx.audit(
            "election.tally",
            stage_key,
            num_tallied=main.count,
            total_weight=main.total_weight,
            aggregates=aggregates_count,
        )
        return TallySummary(main.count, main.total_weight, aggregates_count)


# -- decryption ------------------------------------------------------------------------------


def decryption_request(services: Services, stage_key: str) -> bytes:
    """What each trustee decrypts (``domain.tally.DecryptionRequest``, canonical JSON)."""
    with services.db.sessions() as session:
        stage = _stage(session, stage_key)
        row = _election(session, stage)
        if row.phase != Phase.TALLIED.value:
            raise _phase_error("decryption.phase", "ask for decryptions", row.phase)
        entries = _tally_entries(session, row)
        _, subtallies = _subtallies(session, stage, PENDING_SUBTALLIES_FILE)
        return DecryptionRequest(
            row.uuid,
            row.election_hash,
            entries.tally,
            tuple((a.id, a.encrypted_tally) for a in subtallies.aggregates),
            compact_json(_setup_of(session, row).election.to_json()).decode(),
        ).to_bytes()


def _owner_key(trustees: Sequence[TrusteeItem], owner: int) -> GroupElement:
    for number, _, key in key_owners(trustees):
        if number == owner:
            return key
    raise ElectionError("decryption.owner", f"there is no trustee number {owner}")


def _check_decryption(
    setup: _Setup, entries: _TallyEntries, subtallies: Subtallies, decryption: TrusteeDecryption
) -> None:
    key = _owner_key(setup.trustees, decryption.owner)
    expected = {a.id for a in subtallies.aggregates}
    if set(decryption.groups) != expected:
        missing = sorted(expected - set(decryption.groups))
        unexpected = sorted(set(decryption.groups) - expected)
        raise ElectionError(
            "decryption.groups",
            f"the file must decrypt every group aggregate: missing {missing}, "
            f"unexpected {unexpected}",
        )
    try:
        decryption.tally.check(setup.election_hash, key, entries.tally)
    except CryptoError as error:
        raise ElectionError(error.check, f"the main tally: {error.detail}") from error
    for aggregate in subtallies.aggregates:
        try:
            decryption.groups[aggregate.id].check(
                setup.election_hash, key, aggregate.encrypted_tally
            )
        except CryptoError as error:
            raise ElectionError(error.check, f"aggregate {aggregate.id}: {error.detail}") from error


def do_add_partial_decryption(
    services: Services, stage_key: str, content: bytes, *, owner: int | None = None
) -> int:
    """Check a trustee's partial decryption file (every proof, of the main tally and of each
    group aggregate) and publish it; returns the trustee's owner number. A file with any bad
    proof is refused and nothing is written; each trustee decrypts once. Given ``owner`` (the
    uploader's own number), a file of another trustee's is refused (``decryption.owner``)."""
    decryption = TrusteeDecryption.from_bytes(content)
    if owner is not None and decryption.owner != owner:
        raise ElectionError(
            "decryption.owner",
            f"this partial decryption is trustee {decryption.owner}'s, and you are trustee "
            f"{owner}: each trustee hands in their own",
        )
    with services.db.sessions() as session:  # the proofs are checked outside the lock
        stage = _stage(session, stage_key)
        row = _election(session, stage)
        if row.phase != Phase.TALLIED.value:
            raise _phase_error("decryption.phase", "decrypt", row.phase)
        setup = _setup_of(session, row)
        entries = _tally_entries(session, row)
        _, subtallies = _subtallies(session, stage, PENDING_SUBTALLIES_FILE)
    _check_decryption(setup, entries, subtallies, decryption)
    owner = decryption.owner
    with services.transaction() as tx:
        session = tx.session
        stage = _stage(session, stage_key, for_update=True)
        row = _election(session, stage, for_update=True)
        if row.phase != Phase.TALLIED.value:
            raise _phase_error("decryption.phase", "decrypt", row.phase)
        if session.get(PartialDecryptionRow, (row.id, owner)) is not None:
            raise ElectionError("decryption.owner", f"trustee {owner} has already decrypted")
        _, pending = _subtallies(session, stage, PENDING_SUBTALLIES_FILE)

        def write(writer: ArchiveWriter) -> None:
            payload = writer.add_data(compact_json(decryption.tally.to_json()))
            owned = Owned(owner, payload)
            writer.add_event("PartialDecryption", writer.add_data(compact_json(owned.to_json())))

        _append(session, row, write)
        session.add(PartialDecryptionRow(election_id=row.id, owner=owner, at=tx.at))
        updated = _map_aggregates(
            pending,
            lambda a: replace(
                a, partial_decryptions={**a.partial_decryptions, owner: decryption.groups[a.id]}
            ),
        )
        _publish(session, stage, PENDING_SUBTALLIES_FILE, updated.to_bytes(), tx.at)
        tx.audit("decryption.add", stage_key, owner=owner)
    return owner


def _map_aggregates(
    subtallies: Subtallies, change: Callable[[AggregateTally], AggregateTally]
) -> Subtallies:
    return replace(
        subtallies,
        dimensions=tuple(
            replace(d, aggregates=tuple(change(a) for a in d.aggregates))
            for d in subtallies.dimensions
        ),
    )


def do_compute_result(services: Services, stage_key: str) -> Result:
    """Combine the partial decryptions into the counts, publish the result in the record and
    each group aggregate's counts in ``subtallies.json``."""
    with services.transaction() as tx:
        session = tx.session
        stage = _stage(session, stage_key, for_update=True)
        row = _election(session, stage, for_update=True)
        if row.phase != Phase.TALLIED.value:
            raise _phase_error("result.phase", "publish the result", row.phase)
        setup = _setup_of(session, row)
        entries = _tally_entries(session, row)
        log = DiscreteLog(entries.sized.total_weight)  # bounds every aggregate's counts too
        pending_file, pending = _subtallies(session, stage, PENDING_SUBTALLIES_FILE)
        try:
            result = Result(decrypt_counts(setup.trustees, entries.partials, entries.tally, log))
            final = _map_aggregates(
                pending,
                lambda a: replace(
                    a,
                    result=decrypt_counts(
                        setup.trustees, a.partial_decryptions, a.encrypted_tally, log
                    ),
                ),
            )
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
        _append(
            session,
            row,
            lambda writer: writer.add_event(
                "Result", writer.add_data(compact_json(result.to_json()))
            ),
        )
        groups_file = session.scalar(
            select(PublishedFile).where(
                PublishedFile.stage_id == stage.id, PublishedFile.name == PENDING_GROUPS_FILE
            )
        )
        if groups_file is not None:  # (an election tallied before: its groups are in pending)
            final = replace(final, counted_groups=CountedGroups(groups_file.content))
        _publish(session, stage, SUBTALLIES_FILE, final.to_bytes(), tx.at)
        session.delete(pending_file)
        if groups_file is not None:
            session.delete(groups_file)
        row.phase = stage.status = Phase.DECRYPTED.value
        tx.audit("election.result", stage_key, owners=sorted(entries.partials))
    return result


# -- reading ---------------------------------------------------------------------------------


def _status(session: Session, stage: StageRow, row: ElectionRow) -> ElectionStatus:
    counted = session.scalar(
        select(func.count())
        .select_from(BallotRow)
        .where(BallotRow.election_id == row.id, BallotRow.counted.is_(True))
    )
    return ElectionStatus(
        stage.key,
        row.phase,
        row.uuid,
        row.election_hash,
        stage.voting_opens_at,
        stage.voting_closes_at,
        row.ballots_received,
        counted or 0,
        row.height,
    )


def election_status(services: Services, stage_key: str) -> ElectionStatus:
    """The phase of a stage's election and how many ballots it received and counts."""
    with services.db.sessions() as session:
        stage = _stage(session, stage_key)
        return _status(session, stage, _election(session, stage))


def election_definition(services: Services, stage_key: str) -> Election:
    """The election as its record states it (questions, answers, key)."""
    return election_summary(services, stage_key).election


@dataclass(frozen=True, slots=True)
class ElectionSummary:
    """What a page or a booth needs on every request: the phase and the election (no count)."""

    phase: str
    election_hash: str
    election: Election


def election_summary(services: Services, stage_key: str) -> ElectionSummary:
    """The election's phase, hash and definition in one short read (one query; the
    definition is parsed once per process): unlike :func:`election_status`, it does not count
    the ballots (a query that grows with them). The booth's pages ask for it on every
    request."""
    with services.db.engine.connect() as connection:
        found = connection.execute(_SUMMARY, {"stage": stage_key}).first()
        if found is None:
            with Session(connection) as session:
                _election(session, _stage(session, stage_key))  # raises, naming what is missing
            raise AssertionError("unreachable: the stage and its election exist")
        election_id, uuid, phase, election_hash = found
        setup = _setup_by_id(connection, election_id, uuid, election_hash)
        return ElectionSummary(phase, election_hash, setup.election)


_SUMMARY: Final = (
    select(ElectionRow.id, ElectionRow.uuid, ElectionRow.phase, ElectionRow.election_hash)
    .join(StageRow, StageRow.id == ElectionRow.stage_id)
    .where(StageRow.key == bindparam("stage"))
)


def record_trustees(services: Services, stage_key: str) -> tuple[TrusteeItem, ...]:
    """The trustees as the record's setup names them, in order: a partial decryption's
    ``owner`` is a position in :func:`~unionvote.crypto.trustees.key_owners` of these."""
    with services.db.sessions() as session:
        stage = _stage(session, stage_key)
        return _setup_of(session, _election(session, stage)).trustees


def export_record(services: Services, stage_key: str, path: Path) -> ExportedRecord:
    """Write the record, the stored chunks in order, to ``path`` (replaced atomically, synced).

    Chunks are only ever appended, so reading them in batches gives the record as it stood
    when the export began, without holding a lock for the whole export.
    """
    with services.db.sessions() as session:
        stage = _stage(session, stage_key)
        row = _election(session, stage)
        election_id, chunks, head = row.id, row.chunks, row.head
    digest = hashlib.sha256()
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    size = 0
    try:
        with partial.open("wb") as out:
            for start in range(0, chunks, _EXPORT_BATCH):
                with services.db.sessions() as session:
                    contents = session.scalars(
                        select(RecordChunk.content)
                        .where(
                            RecordChunk.election_id == election_id,
                            RecordChunk.seq >= start,
                            RecordChunk.seq < min(chunks, start + _EXPORT_BATCH),
                        )
                        .order_by(RecordChunk.seq)
                    ).all()
                if len(contents) != min(chunks, start + _EXPORT_BATCH) - start:
                    raise ElectionError("record.chunks", "a chunk of the stored record is missing")
                for content in contents:
                    out.write(content)
                    digest.update(content)
                    size += len(content)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return ExportedRecord(path, size, digest.hexdigest(), head)
