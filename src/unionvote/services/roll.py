"""The roll in the database: importing an export (with its differences), and freezing a stage's
electorate into a snapshot whose digest is published.

An import reads the file once, streaming, in batches: each batch's card numbers are looked up
with one query, new members are inserted and changed ones updated with one bulk statement each;
unchanged members cost a lookup and a comparison, no ORM object. The whole file is checked
before anything is committed: a bad row anywhere rolls the transaction back, and once a problem
is found the rest of the file is only checked, not compared. Members missing from a new export
are marked ``in_roll = False``, never deleted: registrations and snapshots refer to them.

A stage whose decision counts weights (``[stages.decision] weights = true``) freezes each
member's weight from the roll with its electorate; the weight then travels to the credential
authority in ``registered.csv``, back with the public credentials, and into the election's
record, where it multiplies the member's ballot in the tally.
"""

from __future__ import annotations

import codecs
import hashlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import String, any_, bindparam, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from unionvote.domain.election import new_uuid
from unionvote.domain.eligibility import (
    EligibilityRule,
    electorate_document,
    eligibility_digest,
)
from unionvote.domain.errors import DomainError
from unionvote.domain.roll import (
    COLUMNS,
    COMPARED_FIELDS,
    DIFF_SAMPLE,
    DiffKind,
    MemberChange,
    RollDiff,
    RollError,
    RollProblem,
    RollReader,
    RollRow,
    changed_fields,
)
from unionvote.services.context import Services, Tx
from unionvote.services.process import load_process, stage_row
from unionvote.storage.models import (
    Base,
    EligibilitySnapshot,
    Member,
    PublishedFile,
    Registration,
    RollImport,
    SnapshotEntry,
    StageRow,
)

__all__ = [
    "ELECTORATE_FILE",
    "FrozenElectorate",
    "RollSummary",
    "do_freeze_eligibility",
    "do_import_roll",
    "publish_electorate",
    "register_snapshot",
    "roll_summary",
    "snapshot_of",
    "stage_rule",
]

ELECTORATE_FILE = "electorate.json"
_CHUNK = 1 << 20  # bytes read at a time
BATCH = 2000  # rows per lookup and per bulk statement: well under SQLite's bound-variable limit
WEIGHTLESS_SHOWN = 10  # card numbers named when members of a weighted electorate lack a weight
_COMPARED = tuple(getattr(Member, name) for name in COMPARED_FIELDS)

RollSource = str | Path | IO[bytes] | IO[str]


# -- reading the file -----------------------------------------------------------------------


@dataclass
class _Input:
    """The file's lines as text, its SHA-256 over the bytes read, and how many bytes."""

    source: str
    digest: Any = field(default_factory=hashlib.sha256)
    bytes_read: int = 0

    def binary_lines(self, stream: IO[bytes]) -> Iterator[str]:
        """The lines, read a megabyte at a time: each block of whole lines is decoded at once
        (a newline byte is never inside a UTF-8 character), so a bad byte's line is exact."""
        carry = b""
        line = 1  # the number of the block's first line
        bom = True
        while chunk := stream.read(_CHUNK):
            self.digest.update(chunk)
            self.bytes_read += len(chunk)
            end = chunk.rfind(b"\n") + 1
            if end == 0:
                carry += chunk
                continue
            block, carry = carry + chunk[:end], chunk[end:]
            if bom:
                block, bom = block.removeprefix(codecs.BOM_UTF8), False
            lines = self._decode(block, line).split("\n")
            lines.pop()  # the block ends with a newline: the last part is empty
            line += len(lines)
            yield from [text + "\n" for text in lines]
        if bom:
            carry = carry.removeprefix(codecs.BOM_UTF8)
        if carry:
            yield self._decode(carry, line)

    def _decode(self, block: bytes, line: int) -> str:
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError as error:
            line += block.count(b"\n", 0, error.start)
            problem = f"not UTF-8 text ({error.reason}); export the roll as UTF-8 CSV"
            raise RollError(self.source, [RollProblem(line, "row", problem)], 1) from error

    def text_lines(self, stream: IO[str]) -> Iterator[str]:
        for line in stream:
            data = line.encode()
            self.digest.update(data)
            self.bytes_read += len(data)
            yield line


@contextmanager
def _open(source: RollSource, name: str | None) -> Iterator[tuple[_Input, Iterable[str]]]:
    if isinstance(source, str | Path):
        path = Path(source)
        state = _Input(name or path.name)
        try:
            stream = path.open("rb")
        except OSError as error:
            raise DomainError("roll.file", f"cannot read {path}: {error.strerror}") from error
        with stream:
            yield state, state.binary_lines(stream)
        return
    state = _Input(name or getattr(source, "name", None) or "<roll>")
    if isinstance(source.read(0), bytes):
        yield state, state.binary_lines(source)  # type: ignore[arg-type]
    else:
        yield state, state.text_lines(source)  # type: ignore[arg-type]


# -- importing ------------------------------------------------------------------------------


@dataclass
class _Tally:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    samples: dict[DiffKind, list[MemberChange]] = field(
        default_factory=lambda: {kind: [] for kind in DiffKind}
    )

    def note(
        self, kind: DiffKind, card: str, fields: tuple[str, ...] = (), line: int | None = None
    ) -> None:
        kept = self.samples[kind]
        if len(kept) < DIFF_SAMPLE:
            kept.append(MemberChange(card, kind, fields, line))


# Statements run on the session's connection (Core): a million rows cost no ORM objects.
_SET = (*COMPARED_FIELDS, "in_roll", "updated_at")
_UPDATE = (
    update(Member)
    .where(Member.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in _SET})
)
_REMOVE = (
    update(Member)
    .where(Member.id == bindparam("b_id"))
    .values(in_roll=False, updated_at=bindparam("b_at"))
)


def _insert_rows(
    connection: Connection,
    model: type[Base],
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    constants: Mapping[str, object] | None = None,
) -> None:
    """Insert many rows at once: PostgreSQL's COPY (a tenth of the time of an executemany on a
    million rows), elsewhere one executemany of plain tuples. ``constants`` are columns with
    the same value in every row. Values must already be in storage form (UTC)."""
    if not rows:
        return
    extra = dict(constants or {})
    names = ", ".join((*columns, *extra))
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        tail = tuple(extra.values())
        sql = f"COPY {model.__tablename__} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row((*row, *tail))
        return
    table = model.__table__
    dialect = connection.dialect

    def converter(name: str) -> Callable[[Any], Any] | None:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    if dialect.name != "sqlite":
        connection.execute(
            insert(model), [dict(zip(columns, row, strict=True)) | extra for row in rows]
        )
        return
    # SQLite: one executemany of plain tuples, since SQLAlchemy's per-row parameter handling
    # would cost more than SQLite's insert itself. Values go through the columns' own
    # converters (dates and times to text): the constants once, the others once per value.
    tail = tuple(
        value if value is None or (function := converter(name)) is None else function(value)
        for name, value in extra.items()
    )
    slots: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
        (i, function, {}) for i, name in enumerate(columns) if (function := converter(name))
    ]
    if slots or tail:
        rows = _converted(rows, slots, tail)
    marks = ", ".join("?" * (len(columns) + len(extra)))
    # the names are the model's, never the input's
    sql = f"INSERT INTO {model.__tablename__} ({names}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, rows)


def _converted(
    rows: Sequence[Sequence[object]],
    slots: Sequence[tuple[int, Callable[[Any], Any], dict[Any, Any]]],
    tail: tuple[object, ...],
) -> list[tuple[object, ...]]:
    if not slots:
        return [(*row, *tail) for row in rows]
    out: list[tuple[object, ...]] = []
    for row in rows:
        values = list(row)
        for i, function, done in slots:
            value = values[i]
            if value is not None:
                converted = done.get(value)
                if converted is None:
                    converted = done[value] = function(value)
                values[i] = converted
        out.append((*values, *tail))
    return out


def _compare_batch(
    tx: Tx,
    batch: Sequence[tuple[int, RollRow]],
    tally: _Tally,
    *,
    apply: bool,
    first_import: bool,
) -> None:
    connection = tx.session.connection()
    stored: dict[str, Any] = {}
    if not first_import:  # into an empty roll, every member is new: nothing to look up
        cards = [row.card_number for _, row in batch]
        query = select(Member.id, Member.card_number, Member.in_roll, *_COMPARED).where(
            # PostgreSQL takes the batch as one array rather than 2,000 parameters
            Member.card_number == any_(bindparam("cards", cards, type_=ARRAY(String)))
            if connection.dialect.name == "postgresql"
            else Member.card_number.in_(cards)
        )
        stored = {found[1]: found for found in connection.execute(query)}
    inserts: list[tuple[object, ...]] = []
    updates: list[dict[str, object]] = []
    for line, row in batch:
        old = stored.get(row.card_number)
        if old is None:
            tally.added += 1
            tally.note(DiffKind.ADDED, row.card_number, (), line)
            if apply:
                inserts.append(row)
            continue
        values = tuple(old[3:])
        if old[2] and values == row.compared():
            tally.unchanged += 1
            continue
        fields = changed_fields(values, row)
        if not old[2]:  # back in the roll after an export that left them out
            tally.added += 1
            tally.note(DiffKind.ADDED, row.card_number, ("in_roll", *fields), line)
        else:
            tally.changed += 1
            tally.fields.update(fields)
            tally.note(DiffKind.CHANGED, row.card_number, fields, line)
        if apply:
            updates.append(
                {"b_id": old[0], "b_in_roll": True, "b_updated_at": tx.at}
                | {
                    f"b_{name}": value
                    for name, value in zip(COMPARED_FIELDS, row.compared(), strict=True)
                }
            )
    if apply:
        _insert_rows(connection, Member, COLUMNS, inserts, {"in_roll": True, "updated_at": tx.at})
        if updates:
            connection.execute(_UPDATE, updates)


def _mark_removed(tx: Tx, present: Container[str], tally: _Tally, *, apply: bool) -> None:
    connection = tx.session.connection()
    gone: list[int] = []
    query = select(Member.id, Member.card_number).where(Member.in_roll.is_(True))
    for partition in connection.execute(query.execution_options(yield_per=10_000)).partitions():
        for member_id, card in partition:
            if card not in present:
                gone.append(member_id)
                tally.removed += 1
                tally.note(DiffKind.REMOVED, card)
    if apply:
        for start in range(0, len(gone), BATCH):
            connection.execute(
                _REMOVE,
                [{"b_id": member_id, "b_at": tx.at} for member_id in gone[start : start + BATCH]],
            )


def do_import_roll(
    services: Services,
    stream_or_path: RollSource,
    *,
    source_name: str | None = None,
    apply: bool,
    expect_digest: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RollDiff:
    """Check a roll export and compute its difference with the stored roll; with ``apply``,
    store it (added and changed members written, missing ones marked out of the roll).

    ``stream_or_path`` is a path, or an open binary stream (UTF-8, a byte-order mark is
    allowed), or a text stream; the digest is SHA-256 over the bytes read (over the text
    encoded as UTF-8 for a text stream). A dry run (``apply=False``) writes nothing.
    ``expect_digest`` refuses a file whose SHA-256 is not the one shown to the committee (the
    file changed between the check and the apply). ``progress`` is called with the bytes read
    so far. Any bad row raises :class:`RollError` listing every problem, and nothing changes.
    """
    tally = _Tally()
    with services.transaction() as tx, _open(stream_or_path, source_name) as (state, lines):
        reader = RollReader(lines, source=state.source)
        first_import = tx.session.scalar(select(Member.id).limit(1)) is None
        batch: list[tuple[int, RollRow]] = []
        for item in reader:
            if reader.problem_count:
                continue  # the import is refused: the rest is only checked
            batch.append(item)
            if len(batch) >= BATCH:
                _compare_batch(tx, batch, tally, apply=apply, first_import=first_import)
                batch.clear()
                if progress is not None:
                    progress(state.bytes_read)
        reader.check()
        if reader.rows == 0:
            raise DomainError(
                "roll.empty",
                f"{state.source} lists no member; an empty roll would remove every member",
            )
        _compare_batch(tx, batch, tally, apply=apply, first_import=first_import)
        if not first_import:  # into an empty roll, every member stored came from this file
            _mark_removed(tx, reader.cards, tally, apply=apply)
        if progress is not None:
            progress(state.bytes_read)
        digest = state.digest.hexdigest()
        if expect_digest is not None and digest != expect_digest:
            raise DomainError(
                "roll.changed",
                f"{state.source} changed since it was checked (SHA-256 {digest}, "
                f"expected {expect_digest}); check it again",
            )
        diff = RollDiff(
            source_name=state.source,
            digest=digest,
            rows=reader.rows,
            added=tally.added,
            changed=tally.changed,
            removed=tally.removed,
            unchanged=tally.unchanged,
            applied=apply,
            changed_fields=dict(sorted(tally.fields.items())),
            changes=tuple(c for kind in DiffKind for c in tally.samples[kind]),
            unknown_columns=reader.unknown_columns,
        )
        if apply:
            tx.session.add(
                RollImport(
                    at=tx.at,
                    source_name=state.source[:300],
                    digest=digest,
                    rows=diff.rows,
                    added=diff.added,
                    changed=diff.changed,
                    removed=diff.removed,
                )
            )
            tx.audit(
                "roll.import",
                state.source[:300],
                sha256=digest,
                rows=diff.rows,
                added=diff.added,
                changed=diff.changed,
                removed=diff.removed,
                unchanged=diff.unchanged,
                unknown_columns=list(diff.unknown_columns),
            )
    return diff


# -- the roll at a glance -------------------------------------------------------------------


@dataclass(frozen=True)
class RollSummary:
    """Counts for ``unionvote roll show``: the members in the roll by dues status, country and
    state; how many left the roll; the last import; each stage's frozen electorate."""

    in_roll: int
    removed: int
    by_status: dict[str, int]
    by_country: dict[str, int]
    by_state: dict[str, int]
    council_roles: dict[str, int]
    last_import: RollImport | None
    snapshots: dict[str, EligibilitySnapshot]


def roll_summary(session: Session) -> RollSummary:
    def counts(column: Any) -> dict[str, int]:
        rows = session.execute(
            select(column, func.count()).where(Member.in_roll.is_(True)).group_by(column)
        )
        return {str(key): int(n) for key, n in sorted(rows, key=lambda r: (-r[1], str(r[0])))}

    in_roll = session.scalar(select(func.count()).where(Member.in_roll.is_(True))) or 0
    removed = session.scalar(select(func.count()).where(Member.in_roll.is_(False))) or 0
    roles = counts(Member.council_role)
    roles.pop("", None)
    snapshots = {
        key: snapshot
        for key, snapshot in session.execute(
            select(StageRow.key, EligibilitySnapshot)
            .join(EligibilitySnapshot, EligibilitySnapshot.stage_id == StageRow.id)
            .order_by(StageRow.id)
        )
    }
    return RollSummary(
        in_roll=in_roll,
        removed=removed,
        by_status=counts(Member.dues_status),
        by_country=counts(Member.country),
        by_state=counts(Member.state),
        council_roles=roles,
        last_import=session.scalar(select(RollImport).order_by(RollImport.id.desc()).limit(1)),
        snapshots=snapshots,
    )


# -- freezing an electorate -----------------------------------------------------------------


@dataclass(frozen=True)
class FrozenElectorate:
    """A frozen electorate: its digest (to publish), count and rule text; for a council stage,
    everyone in it is registered and the election's uuid is fixed."""

    stage: str
    digest: str
    count: int
    rule: str
    registered: int | None = None
    uuid: str | None = None
    total_weight: int | None = None  # the sum of the frozen weights, for a weighted stage


def snapshot_of(session: Session, stage: StageRow) -> EligibilitySnapshot | None:
    return session.scalar(
        select(EligibilitySnapshot).where(EligibilitySnapshot.stage_id == stage.id)
    )


def stage_rule(session: Session, stage_key: str) -> EligibilityRule:
    """The eligibility rule of a stage, from the loaded process."""
    loaded = load_process(session)
    return EligibilityRule.for_stage(loaded.process.eligibility, loaded.process.stage(stage_key))


def publish_electorate(
    tx: Tx, stage: StageRow, snapshot: EligibilitySnapshot, rule: EligibilityRule, registered: int
) -> bytes:
    """Store ``electorate.json`` for a stage whose electorate is now final."""
    content = electorate_document(
        stage=stage.key,
        rule=rule,
        snapshot_digest=snapshot.digest,
        eligible=snapshot.count,
        registered=registered,
    )
    tx.session.add(
        PublishedFile(
            stage_id=stage.id,
            name=ELECTORATE_FILE,
            content=content,
            digest=hashlib.sha256(content).hexdigest(),
            at=tx.at,
        )
    )
    return content


def do_freeze_eligibility(services: Services, stage_key: str) -> FrozenElectorate:
    """Snapshot the members of the roll who are eligible for a stage, with the digest the
    committee publishes (see :mod:`unionvote.domain.eligibility`). Refused twice.

    A council-role stage skips registration: freezing registers everyone in it (method
    ``council-role``), fixes the election's uuid, publishes ``electorate.json`` and moves the
    stage to ``registration-closed``.

    A stage whose decision counts weights freezes each member's weight from the roll, and is
    refused (naming the card numbers) if a member of the electorate has none; otherwise every
    frozen weight is None, whatever the roll says.
    """
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, stage_key, for_update=True)
        existing = snapshot_of(tx.session, row)
        if existing is not None:
            raise DomainError(
                "eligibility.frozen",
                f"the electorate of {stage_key} was frozen on "
                f"{existing.taken_at:%Y-%m-%d %H:%M} UTC (digest {existing.digest}); "
                "it cannot be frozen twice",
            )
        if row.status != "draft":
            raise DomainError(
                "eligibility.status", f"stage {stage_key} is {row.status}, no longer a draft"
            )
        rule = stage_rule(tx.session, stage_key)
        decision = load_process(tx.session).process.stage(stage_key).decision
        weighted = decision is not None and decision.weights
        ids, cards, weights = _eligible(tx.session, rule)
        if not ids:
            raise DomainError(
                "eligibility.empty",
                f"no member of the roll is eligible for {stage_key} under the rule "
                f"({rule.text().strip().replace(chr(10), '; ')}); import the roll first",
            )
        if weighted:
            _require_weights(stage_key, cards, weights)
        else:
            weights = [None] * len(ids)  # weights the roll gives count only where the rule says
        digest = eligibility_digest(
            cards,
            rule,
            {c: w for c, w in zip(cards, weights, strict=True) if w is not None}
            if weighted
            else None,
        )
        snapshot = EligibilitySnapshot(
            stage_id=row.id, rule=rule.text(), digest=digest, count=len(ids), taken_at=tx.at
        )
        tx.session.add(snapshot)
        tx.session.flush()
        for start in range(0, len(ids), BATCH * 5):
            _insert_rows(
                tx.session.connection(),
                SnapshotEntry,
                ("snapshot_id", "member_id", "weight"),
                [
                    (snapshot.id, member_id, weight)
                    for member_id, weight in zip(
                        ids[start : start + BATCH * 5],
                        weights[start : start + BATCH * 5],
                        strict=True,
                    )
                ],
            )
        total_weight = sum(w for w in weights if w is not None) if weighted else None
        frozen = FrozenElectorate(
            stage_key, digest, len(ids), rule.text(), total_weight=total_weight
        )
        if rule.role is not None:
            registered = register_snapshot(tx, row, snapshot, method="council-role")
            row.uuid = new_uuid()
            row.status = "registration-closed"
            publish_electorate(tx, row, snapshot, rule, registered)
            frozen = FrozenElectorate(
                stage_key, digest, len(ids), rule.text(), registered, row.uuid, total_weight
            )
        tx.audit(
            "eligibility.freeze",
            stage_key,
            digest=digest,
            count=len(ids),
            rule=rule.text(),
            registered=frozen.registered,
            uuid=frozen.uuid,
            weighted=weighted,
            total_weight=total_weight,
        )
    return frozen


def _require_weights(stage_key: str, cards: Sequence[str], weights: Sequence[int | None]) -> None:
    """Refuse a weighted electorate in which a member has no weight: counting them as 1 would
    silently shrink the share of the body they represent."""
    missing = sorted(card for card, weight in zip(cards, weights, strict=True) if weight is None)
    if not missing:
        return
    shown = ", ".join(missing[:WEIGHTLESS_SHOWN]) + (
        f" and {len(missing) - WEIGHTLESS_SHOWN} more" if len(missing) > WEIGHTLESS_SHOWN else ""
    )
    many = len(missing) != 1
    raise DomainError(
        "eligibility.weight",
        f"stage {stage_key} counts weights (its decision says weights = true), but "
        f"{len(missing)} member{'s' if many else ''} of its electorate "
        f"{'have' if many else 'has'} no weight in the roll (card{'s' if many else ''} "
        f"{shown}); give {'them' if many else 'it'} a weight in the roll's weight column and "
        "import the roll again. Nothing was frozen",
    )


def _eligible(
    session: Session, rule: EligibilityRule
) -> tuple[list[int], list[str], list[int | None]]:
    """The ids, card numbers and roll weights of the members the rule admits."""
    ids: list[int] = []
    cards: list[str] = []
    weights: list[int | None] = []
    query = select(
        Member.id,
        Member.card_number,
        Member.country,
        Member.dues_status,
        Member.joined_on,
        Member.council_role,
        Member.weight,
    ).where(Member.in_roll.is_(True))
    rows = session.connection().execute(query.execution_options(yield_per=10_000))
    for partition in rows.partitions():
        for member_id, card, country, status, joined, role, weight in partition:
            if rule.admits(
                country=country, dues_status=status, joined_on=joined, council_role=role
            ):
                ids.append(member_id)
                cards.append(card)
                weights.append(weight)
    return ids, cards, weights


def register_snapshot(
    tx: Tx, stage: StageRow, snapshot: EligibilitySnapshot, *, method: str
) -> int:
    """Register every member of the snapshot not yet registered (one INSERT … SELECT); returns
    how many are registered now in all."""
    already = exists().where(
        Registration.stage_id == stage.id, Registration.member_id == SnapshotEntry.member_id
    )
    tx.session.execute(
        insert(Registration).from_select(
            ["stage_id", "member_id", "at", "method"],
            select(
                literal(stage.id),
                SnapshotEntry.member_id,
                literal(tx.at, Registration.at.type),
                literal(method),
            ).where(SnapshotEntry.snapshot_id == snapshot.id, ~already),
        )
    )
    return (
        tx.session.scalar(
            select(func.count()).select_from(Registration).where(Registration.stage_id == stage.id)
        )
        or 0
    )
