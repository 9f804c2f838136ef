"""Importing the roll and freezing electorates, on SQLite and PostgreSQL: a bad roll changes
nothing, a dry run changes nothing, a re-import applies exactly its differences, a frozen digest
is the one an observer recomputes from the export."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from unionvote.domain.eligibility import EligibilityRule, recompute_digest
from unionvote.domain.errors import DomainError
from unionvote.domain.process import parse_process
from unionvote.domain.roll import DiffKind, RollError, RollReader, parse_roll
from unionvote.domain.synthetic import synthetic_roll, write_roll_csv
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.roll import (
    ELECTORATE_FILE,
    do_freeze_eligibility,
    do_import_roll,
    roll_summary,
)
from unionvote.storage.database import Database
from unionvote.storage.models import (
    AuditEntry,
    EligibilitySnapshot,
    Member,
    PublishedFile,
    Registration,
    RollImport,
    SnapshotEntry,
    StageRow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "roll-sample.csv"
START = datetime.datetime(2024, 2, 1, 12, 0, tzinfo=datetime.UTC)


def iam_services(database: Database) -> Services:
    services = Services(database, FixedClock(START))
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    do_init_process(services, text, source_name="iam-2024.toml")
    return services


def members(database: Database) -> list[tuple[object, ...]]:
    """Every stored member, every column: to show that nothing changed."""
    with database.transaction() as session:
        rows = session.execute(select(Member.__table__).order_by(Member.card_number)).all()
    return [tuple(row) for row in rows]


def count(database: Database, model: type) -> int:
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)


def test_import_the_sample(database: Database) -> None:
    services = iam_services(database)
    diff = do_import_roll(services, SAMPLE, apply=True)
    assert (diff.rows, diff.added, diff.changed, diff.removed) == (30, 30, 0, 0)
    assert diff.applied and diff.source_name == "roll-sample.csv"
    assert diff.digest == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert len(members(database)) == 30
    with database.transaction() as session:
        imported = session.scalars(select(RollImport)).one()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "roll.import")).one()
        summary = roll_summary(session)
    assert (imported.rows, imported.added, imported.digest) == (30, 30, diff.digest)
    assert json.loads(audit.detail)["sha256"] == diff.digest
    assert summary.in_roll == 30 and summary.by_country == {"US": 27, "CA": 3}
    assert summary.council_roles == {"state council president": 8}
    assert summary.by_status["good standing"] == 23


def test_a_dry_run_changes_nothing(database: Database) -> None:
    services = iam_services(database)
    diff = do_import_roll(services, SAMPLE, apply=False)
    assert (diff.added, diff.applied) == (30, False)
    assert members(database) == []
    assert count(database, RollImport) == 0
    with database.transaction() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "roll.import" not in actions


def test_a_bad_roll_is_refused_whole_and_changes_nothing(database: Database) -> None:
    services = iam_services(database)
    do_import_roll(services, SAMPLE, apply=True)
    before = members(database)
    lines = sample_lines()
    lines[2] = lines[2].replace("good standing", "gone fishing")  # line 3
    lines[5] = lines[5].replace("m1012044@members.example", "m1012044 at members")  # line 6
    lines[9] = lines[9].replace("1020015", "1004217")  # line 10: card of line 2
    lines[20] = lines[20].replace("Smith-Jones", "Smith-Jones-Changed")  # a valid change
    lines.extend(f"{9000000 + n},New,Member,,,,,,,good standing,US,,,\n" for n in range(5000))
    lines.append("9999999,Bad,Country,,,,,,,good standing,XX,,,\n")  # after many batches
    with pytest.raises(RollError) as caught:
        do_import_roll(services, io.StringIO("".join(lines)), source_name="bad.csv", apply=True)
    found = {(p.line, p.column) for p in caught.value.problems}
    assert found == {(3, "dues_status"), (6, "email"), (10, "card_number"), (5032, "country")}
    assert "duplicate card number 1004217 (also on line 2)" in str(caught.value)
    assert members(database) == before
    assert count(database, RollImport) == 1


def test_a_reimport_applies_exactly_its_differences(database: Database) -> None:
    services = iam_services(database)
    do_import_roll(services, SAMPLE, apply=True)
    lines = sample_lines()
    header, rows = lines[0], lines[1:]
    rows[1] = rows[1].replace("m1004388@", "daniel.nguyen@")  # changed: email
    rows[2] = rows[2].replace("arrears", "good standing").replace("98002", "98001")
    del rows[5:7]  # 1012310 and 1012577 leave the roll
    rows.append("1099001,New,Member,,,,,,,good standing,US,,,2024-01-20\n")
    services.clock.advance(days=1)  # type: ignore[attr-defined]
    text = header + "".join(rows)
    dry = do_import_roll(services, io.StringIO(text), source_name="v2.csv", apply=False)
    assert (dry.added, dry.changed, dry.removed, dry.unchanged) == (1, 2, 2, 26)
    assert dry.changed_fields == {"dues_status": 1, "email": 1, "postal_code": 1}
    changes = {(c.card_number, c.kind): c for c in dry.changes}
    assert changes["1004561", DiffKind.CHANGED].fields == ("postal_code", "dues_status")
    assert changes["1004561", DiffKind.CHANGED].line == 4
    assert {c.card_number for c in dry.changes if c.kind is DiffKind.REMOVED} == {
        "1012310",
        "1012577",
    }
    assert count(database, RollImport) == 1

    applied = do_import_roll(services, io.StringIO(text), source_name="v2.csv", apply=True)
    assert applied.changes == dry.changes and applied.applied
    with database.transaction() as session:
        stored = {m.card_number: m for m in session.scalars(select(Member))}
    assert len(stored) == 31  # nobody is deleted
    assert not stored["1012310"].in_roll and not stored["1012577"].in_roll
    assert stored["1004388"].email == "daniel.nguyen@members.example"
    assert stored["1004388"].updated_at == START + datetime.timedelta(days=1)
    assert stored["1004217"].updated_at == START  # unchanged members are not rewritten

    again = do_import_roll(services, SAMPLE, apply=True)  # the first export once more
    assert (again.added, again.changed, again.removed) == (2, 2, 1)
    back = {c.card_number: c for c in again.changes if c.kind is DiffKind.ADDED}
    assert back["1012310"].fields[0] == "in_roll"
    with database.transaction() as session:
        in_roll = session.scalar(select(func.count()).where(Member.in_roll.is_(True)))
    assert in_roll == 30


def test_weights_are_imported_compared_and_frozen_only_where_counted(database: Database) -> None:
    services = iam_services(database)
    header, *rows = sample_lines()

    def with_weights(weights: dict[str, str]) -> io.StringIO:
        lines = [row.rstrip("\n") + "," + weights.get(row.split(",")[0], "") + "\n" for row in rows]
        return io.StringIO(header.rstrip("\n") + ",weight\n" + "".join(lines))

    def stored() -> dict[str, int | None]:
        with database.transaction() as session:
            found = session.execute(select(Member.card_number, Member.weight))
            return {card: weight for card, weight in found if weight is not None}

    first = do_import_roll(services, with_weights({"1004217": "12000", "1004388": "7"}), apply=True)
    assert first.added == 30 and stored() == {"1004217": 12_000, "1004388": 7}
    second = with_weights({"1004217": "12500"})
    diff = do_import_roll(services, second, source_name="v2.csv", apply=True)
    assert (diff.changed, diff.changed_fields) == (2, {"weight": 2})
    assert stored() == {"1004217": 12_500}
    second.seek(0)
    assert do_import_roll(services, second, apply=False).is_empty
    with pytest.raises(RollError, match="line 3: weight: 'many' is not a whole number"):
        do_import_roll(services, with_weights({"1004388": "many"}), apply=True)
    assert stored() == {"1004217": 12_500}

    # the IAM's council decides by heads: the roll's weight is not frozen
    assert do_freeze_eligibility(services, "council-vote").total_weight is None
    with database.transaction() as session:
        assert set(session.scalars(select(SnapshotEntry.weight))) == {None}


def test_a_changed_file_or_an_empty_roll_is_refused(database: Database) -> None:
    services = iam_services(database)
    with pytest.raises(DomainError, match="changed since it was checked"):
        do_import_roll(services, SAMPLE, apply=True, expect_digest="0" * 64)
    with pytest.raises(DomainError, match="lists no member"):
        do_import_roll(services, io.StringIO(sample_lines()[0]), apply=True)
    latin1 = SAMPLE.read_text(encoding="utf-8").encode("latin-1", errors="replace")
    with pytest.raises(RollError, match=r"line 4: row: not UTF-8 text .* export the roll as UTF-8"):
        do_import_roll(services, io.BytesIO(latin1), source_name="latin1.csv", apply=True)
    assert members(database) == []


def test_a_larger_roll_streams_in_batches(database: Database) -> None:
    services = iam_services(database)
    rows = list(synthetic_roll(5_000, seed=3))
    stream = io.StringIO(newline="")
    write_roll_csv(rows, stream)
    data = stream.getvalue().encode()
    seen: list[int] = []
    diff = do_import_roll(services, io.BytesIO(data), apply=True, progress=seen.append)
    assert diff.added == 5_000 and len(diff.changes) == 1_000  # a sample, the count is exact
    assert seen == sorted(seen) and seen[-1] == len(data)
    same = do_import_roll(services, io.BytesIO(data), apply=False)
    assert same.is_empty and same.unchanged == 5_000


def test_freezing_gives_the_digest_an_observer_recomputes(database: Database) -> None:
    services = iam_services(database)
    do_import_roll(services, SAMPLE, apply=True)
    frozen = do_freeze_eligibility(services, "membership-vote")
    process = parse_process((EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8"))
    rule = EligibilityRule.for_stage(process.eligibility, process.stage("membership-vote"))
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        expected = recompute_digest((row for _, row in RollReader(stream)), rule)
    assert (frozen.digest, frozen.count) == expected == (expected[0], 19)
    assert frozen.uuid is None and frozen.rule == rule.text()
    with database.transaction() as session:
        snapshot = session.scalars(select(EligibilitySnapshot)).one()
        entries = session.scalar(select(func.count()).select_from(SnapshotEntry))
        stage = session.scalars(select(StageRow).where(StageRow.key == "membership-vote")).one()
    assert (snapshot.digest, snapshot.count, entries) == (frozen.digest, 19, 19)
    assert stage.status == "draft" and stage.uuid is None
    with pytest.raises(DomainError, match="cannot be frozen twice"):
        do_freeze_eligibility(services, "membership-vote")


def test_the_digest_ignores_the_order_of_the_export(database: Database) -> None:
    services = iam_services(database)
    header, *rows = sample_lines()
    do_import_roll(services, io.StringIO(header + "".join(reversed(rows))), apply=True)
    frozen = do_freeze_eligibility(services, "membership-vote")
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        rule = EligibilityRule(("US",), ("good standing",), datetime.date(2023, 11, 1))
        assert frozen.digest == recompute_digest(parse_roll(stream), rule)[0]


def test_freezing_a_council_stage_registers_the_role_holders(database: Database) -> None:
    services = iam_services(database)
    do_import_roll(services, SAMPLE, apply=True)
    frozen = do_freeze_eligibility(services, "council-vote")
    assert frozen.count == frozen.registered == 8 and frozen.uuid is not None
    with database.transaction() as session:
        stage = session.scalars(select(StageRow).where(StageRow.key == "council-vote")).one()
        methods = session.scalars(select(Registration.method)).all()
        published = session.scalars(select(PublishedFile)).one()
    assert (stage.status, stage.uuid) == ("registration-closed", frozen.uuid)
    assert methods == ["council-role"] * 8
    assert published.name == ELECTORATE_FILE
    assert published.digest == hashlib.sha256(published.content).hexdigest()
    document = json.loads(published.content)
    assert document["snapshot_digest"] == frozen.digest
    assert (document["eligible"], document["registered"], document["cutoff"]) == (8, 8, None)


def test_nothing_to_freeze_is_refused(database: Database) -> None:
    services = iam_services(database)
    with pytest.raises(DomainError, match="import the roll first"):
        do_freeze_eligibility(services, "membership-vote")
    with pytest.raises(DomainError, match="there is no stage 'nope'"):
        do_freeze_eligibility(services, "nope")
    assert count(database, EligibilitySnapshot) == 0


def test_a_bad_row_after_batches_already_written_rolls_them_back(database: Database) -> None:
    """A bad row late in the file, after thousands of members were written in batches (as one
    pass with --yes does): the transaction is rolled back, nothing changes."""
    services = iam_services(database)
    do_import_roll(services, SAMPLE, apply=True)
    before = members(database)
    lines = sample_lines()
    lines[20] = lines[20].replace("Smith-Jones", "Smith-Jones-Changed")  # a valid change
    lines.extend(f"{9000000 + n},New,Member,,,,,,,good standing,US,,,\n" for n in range(5000))
    lines.append("9999999,Bad,Country,,,,,,,good standing,XX,,,\n")
    with pytest.raises(RollError) as caught:
        do_import_roll(services, io.StringIO("".join(lines)), source_name="late.csv", apply=True)
    assert [(p.line, p.column) for p in caught.value.problems] == [(5032, "country")]
    assert members(database) == before
    assert count(database, RollImport) == 1


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_reading_in_blocks_changes_nothing(
    database: Database, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is read in blocks of whole lines: whatever the block size, the same rows, the
    same digest (over every byte, a byte-order mark included), the exact line of a bad byte,
    and a last line without its newline still read; CRLF line ends and a quoted value over two
    lines survive."""
    import unionvote.services.roll as roll_service

    services = iam_services(database)
    expected = do_import_roll(services, SAMPLE, apply=False)
    monkeypatch.setattr(roll_service, "_CHUNK", chunk)
    text = SAMPLE.read_text(encoding="utf-8")
    data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    diff = do_import_roll(services, io.BytesIO(data), source_name="crlf.csv", apply=False)
    assert (diff.rows, diff.added) == (expected.rows, expected.added) == (30, 30)
    assert diff.digest == hashlib.sha256(data).hexdigest()
    assert [c.card_number for c in diff.changes] == [c.card_number for c in expected.changes]

    unterminated = text.rstrip("\n").encode()
    last = do_import_roll(services, io.BytesIO(unterminated), apply=False)
    assert last.rows == 30 and last.digest == hashlib.sha256(unterminated).hexdigest()

    lines = sample_lines()
    lines[4] = lines[4].replace("77 Rainier Ave S", '"77 Rainier Ave S\nUnit 2"')  # two lines
    data = "".join(lines).encode()
    multi = do_import_roll(services, io.BytesIO(data), apply=False)
    assert multi.rows == 30 and multi.digest == hashlib.sha256(data).hexdigest()
    bad = data.replace("Müller".encode(), "Müller".encode("latin-1"))  # line 14, now 15
    with pytest.raises(RollError, match=r"latin1.csv:line 15: row: not UTF-8 text"):
        do_import_roll(services, io.BytesIO(bad), source_name="latin1.csv", apply=False)
    assert members(database) == []
