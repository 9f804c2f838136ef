"""The key ceremony through the services, on SQLite and PostgreSQL: each trustee's side with
its own state file, every upload checked (a bad one refused with nothing stored), the server's
key in a 0600 file and never in the database, and partial decryptions of a real election that
combine to its counts."""

from __future__ import annotations

import datetime
import itertools
import json
import random
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import DiscreteLog, PartialDecryption, combine_factors
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT
from unionvote.crypto.encoding import compact_json
from unionvote.crypto.trustees import PedersenTrustees, SingleTrustee, key_owners
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.domain.errors import DomainError
from unionvote.domain.trustee_work import (
    TrusteeState,
    finish,
    new_certificate,
    new_single_key,
    partial_decrypt,
    polynomial_message,
    verification_key,
)
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Ballot, Question, encrypted_tally_to_json
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process, stage_row
from unionvote.services.trustees import (
    ceremony_status,
    certificates_for,
    do_add_trustee,
    do_finish_ceremony,
    do_make_server_key,
    do_restart_ceremony,
    do_run_local_ceremony,
    do_set_threshold,
    do_submit_certificate,
    do_submit_polynomial,
    do_submit_single_key,
    do_submit_voutput,
    election_definition,
    election_trustees,
    public_trustees,
    server_partial_decryption,
    vinput_for,
    write_private_file,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, Base, CeremonyMessage, ElectionRow, RecordChunk

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iam-2024.toml"
STAGE = "membership-vote"
NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)


@pytest.fixture
def services(database: Database) -> Iterator[Services]:
    services = Services(database, FixedClock(NOW), actor="committee")
    do_init_process(services, EXAMPLE.read_text(encoding="utf-8"), source_name="iam-2024.toml")
    yield services


def read(services: Services, function, *args):  # type: ignore[no-untyped-def]
    with services.db.transaction() as session:
        return function(session, *args)


def stored(services: Services) -> tuple[list[tuple[str, int, str]], list[str | None], int]:
    """Everything the ceremony may change: its messages, the trustees' public column, audit."""
    with services.db.transaction() as session:
        messages = sorted(
            (m.step, m.position, m.content) for m in session.scalars(select(CeremonyMessage))
        )
        publics = [row[0] for row in session.execute(text("SELECT public FROM trustees"))]
        audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return messages, sorted(publics, key=str), audit


def refused(services: Services, check: str, action, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    before = stored(services)
    with pytest.raises(DomainError) as caught:
        action(services, STAGE, *args, **kwargs)
    assert caught.value.check == check, str(caught.value)
    assert stored(services) == before, "a refused upload changed the database"
    return caught.value


def secrets_of(path: Path) -> list[str]:
    return list(json.loads(path.read_bytes())["secret"].values())


# -- the whole ceremony, step by step -----------------------------------------------------------


def test_two_of_three_and_the_server_step_by_step(services: Services, tmp_path: Path) -> None:
    server_key = tmp_path / "server" / f"server-trustee-{STAGE}.key"
    server_key.parent.mkdir()
    do_make_server_key(services, STAGE, server_key)
    positions = [
        do_add_trustee(services, STAGE, name=name, email=f"{name.lower()}@example.org").position
        for name in ("Ann", "Bob", "Cy")
    ]
    assert positions == [1, 2, 3]
    status = read(services, ceremony_status, STAGE)
    assert (status.size, status.threshold, status.finished) == (3, 2, False)
    assert "--index 1 --size 3 --threshold 2" in status.next_steps[0]
    machines = [tmp_path / f"machine-{p}" / "state.json" for p in positions]
    for position, path in zip(positions, machines, strict=True):
        path.parent.mkdir()
        state, certificate = new_certificate(f"T{position}", size=3, threshold=2, index=position)
        write_private_file(path, state.to_bytes())
        do_submit_certificate(services, STAGE, position, certificate)
    certificates = read(services, certificates_for, STAGE)
    for position, path in zip(positions, machines, strict=True):
        state, message = polynomial_message(
            TrusteeState.from_bytes(path.read_bytes()), certificates
        )
        write_private_file(path, state.to_bytes(), replace=True)
        do_submit_polynomial(services, STAGE, position, message)
    status = read(services, ceremony_status, STAGE)
    assert all(t.done == ("certificate", "polynomial") for t in status.trustees[1:])
    for position, path in zip(positions, machines, strict=True):
        routed = read(services, vinput_for, STAGE, position)
        state, key = verification_key(TrusteeState.from_bytes(path.read_bytes()), routed)
        write_private_file(path, state.to_bytes(), replace=True)
        do_submit_voutput(services, STAGE, position, key)
    with pytest.raises(DomainError, match="not finished"):
        read(services, public_trustees, STAGE)
    items = do_finish_ceremony(services, STAGE)
    assert isinstance(items[0], SingleTrustee) and isinstance(items[1], PedersenTrustees)
    assert (items[1].size, items[1].threshold) == (3, 2)
    public = read(services, public_trustees, STAGE)
    owners = [finish(TrusteeState.from_bytes(p.read_bytes()), public).owner for p in machines]
    assert owners == [2, 3, 4]
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        assert [i.to_json() for i in election_trustees(session, row)] == json.loads(public)
    status = read(services, ceremony_status, STAGE)
    assert status.finished and status.fingerprint is not None
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in [server_key, *machines])


def test_a_single_trustee_comes_after_the_server_and_before_the_group(
    services: Services, tmp_path: Path
) -> None:
    do_make_server_key(services, STAGE, tmp_path / "server.key")
    observer = do_add_trustee(services, STAGE, name="Observer", kind="single")
    state, public = new_single_key("Observer")
    refused(services, "trustee.key", do_submit_single_key, observer.position, public[:-3])
    do_submit_single_key(services, STAGE, observer.position, public)
    refused(services, "trustee.key", do_submit_single_key, observer.position, public)
    items = do_finish_ceremony(services, STAGE)
    assert [type(i) for i in items] == [SingleTrustee, SingleTrustee]
    assert finish(state, compact_json([i.to_json() for i in items])).owner == 2


# -- refusals -------------------------------------------------------------------------------------


def test_bad_uploads_are_refused_and_nothing_is_stored(services: Services, tmp_path: Path) -> None:
    do_make_server_key(services, STAGE, tmp_path / "server.key")
    for name in ("Ann", "Bob", "Cy"):
        do_add_trustee(services, STAGE, name=name)
    rng = random.Random(3).randrange
    started = [new_certificate(f"T{i}", size=3, threshold=2, index=i, rng=rng) for i in (1, 2, 3)]
    refused(services, "ceremony.certificate", do_submit_certificate, 2, started[0][1])
    forged = json.loads(started[0][1])
    forged["signature"] = json.loads(started[1][1])["signature"]
    refused(services, "ceremony.certificate", do_submit_certificate, 1, compact_json(forged))
    refused(services, "trustee.unknown", do_submit_certificate, 7, started[0][1])
    refused(services, "trustee.kind", do_submit_certificate, 0, started[0][1])
    wrong_size = new_certificate("T1", size=4, threshold=2, index=1, rng=rng)[1]
    refused(services, "ceremony.certificate", do_submit_certificate, 1, wrong_size)
    for i, (_, certificate) in enumerate(started[:2], start=1):
        do_submit_certificate(services, STAGE, i, certificate)
    refused(services, "ceremony.certificate", do_submit_certificate, 1, started[0][1])
    first_keys = started[0][0].ceremony_keys
    assert first_keys is not None
    reused = compact_json(first_keys.certificate(size=3, threshold=2, index=3).to_json())
    error = refused(services, "ceremony.certificate", do_submit_certificate, 3, reused)
    assert "already trustee 1's" in str(error)
    with pytest.raises(DomainError, match=r"waiting for the certificates of Cy \(3\)"):
        read(services, certificates_for, STAGE)
    do_submit_certificate(services, STAGE, 3, started[2][1])
    certificates = read(services, certificates_for, STAGE)
    stepped = [polynomial_message(s, certificates, rng=rng) for s, _ in started]
    tampered = json.loads(stepped[0][1])
    tampered["coefexps"] = json.loads(stepped[1][1])["coefexps"]
    refused(services, "ceremony.polynomial", do_submit_polynomial, 1, compact_json(tampered))
    refused(services, "ceremony.polynomial", do_submit_polynomial, 2, stepped[0][1])
    refused(services, "ceremony.polynomial", do_submit_polynomial, 1, b"{not json")
    for i, (_, message) in enumerate(stepped, start=1):
        do_submit_polynomial(services, STAGE, i, message)
    keys = [
        verification_key(state, read(services, vinput_for, STAGE, i), rng=rng)[1]
        for i, (state, _) in enumerate(stepped, start=1)
    ]
    refused(services, "ceremony.verification_key", do_submit_voutput, 1, keys[1])
    unsigned = json.loads(keys[0])
    del unsigned["signature"]
    refused(services, "ceremony.verification_key", do_submit_voutput, 1, compact_json(unsigned))
    do_submit_voutput(services, STAGE, 1, keys[0])
    refused(services, "ceremony.waiting", do_finish_ceremony)
    for i in (2, 3):
        do_submit_voutput(services, STAGE, i, keys[i - 1])
    do_finish_ceremony(services, STAGE)
    refused(services, "ceremony.finished", do_finish_ceremony)


def test_the_group_and_threshold_are_fixed_once_the_ceremony_starts(
    services: Services, tmp_path: Path
) -> None:
    for name in ("Ann", "Bob", "Cy"):
        do_add_trustee(services, STAGE, name=name)
    refused(services, "trustee.kind", do_add_trustee, name="X", kind="dictator")
    refused(services, "trustee.email", do_add_trustee, name="X", email="not an address")
    do_set_threshold(services, STAGE, 3)
    assert read(services, ceremony_status, STAGE).threshold == 3
    _, certificate = new_certificate("Ann", size=3, threshold=3, index=1)
    do_submit_certificate(services, STAGE, 1, certificate)
    refused(services, "ceremony.started", do_add_trustee, name="Dee")
    refused(services, "ceremony.started", do_set_threshold, 2)
    do_restart_ceremony(services, STAGE)
    assert not read(services, ceremony_status, STAGE).trustees[0].done
    do_set_threshold(services, STAGE, 2)
    do_add_trustee(services, STAGE, name="Dee")
    refused(services, "ceremony.server_key", do_finish_ceremony)
    with pytest.raises(DomainError, match="not finished"), services.db.transaction() as session:
        election_trustees(session, stage_row(session, STAGE)[0])


def test_the_server_key_goes_to_a_file_never_overwritten(
    services: Services, tmp_path: Path
) -> None:
    taken = tmp_path / "taken.key"
    taken.write_text("something precious")
    refused(services, "file.exists", do_make_server_key, taken)
    assert taken.read_text() == "something precious"
    path = tmp_path / "server.key"
    item = do_make_server_key(services, STAGE, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = TrusteeState.from_bytes(path.read_bytes())
    assert state.public_key is not None and state.public_key.public_key == item.sub_key
    refused(services, "trustee.server_key", do_make_server_key, tmp_path / "second.key")
    assert not (tmp_path / "second.key").exists()


def test_no_private_key_reaches_the_database(services: Services, tmp_path: Path) -> None:
    paths = do_run_local_ceremony(services, STAGE, tmp_path, names=["A", "B", "C"], threshold=2)
    key_file = tmp_path / f"server-trustee-{STAGE}.key"
    files = [key_file, *paths]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    secrets = [s for p in files for s in secrets_of(p)]
    assert len(secrets) == 1 + 2 * 3  # the server's key; each member's seed and key share
    dump = []
    with services.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(table.select()):
                dump.extend(str(value) for value in row)
    everything = "\n".join(dump)
    assert "Pedersen" in everything  # the public list is there…
    assert not [s for s in secrets if s in everything]  # …and no secret is


# -- decryption -----------------------------------------------------------------------------------


QUESTIONS = (Question("Endorse?", ("Biden", "Trump", "Kennedy"), 1, 1),)
VOTES = [0, 0, 1, 2, 0, 1, 0]


def election_box(services: Services, path: Path) -> tuple[ElectionBox, bytes, list[Ballot]]:
    """A real election on the stage's trustees: VOTES cast, closed and tallied."""
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        trustees = election_trustees(session, row)
    uuid = new_uuid()
    voters = [PrivateCredential.generate() for _ in VOTES]
    box = ElectionBox.create(
        path,
        uuid=uuid,
        name="Endorsement",
        description="",
        questions=QUESTIONS,
        trustees=trustees,
        credentials=[v.public(uuid) for v in voters],
        timestamp=1_700_000_000,
    )
    ballots = [
        make_ballot(box.election, box.election_hash, voter, [[int(j == vote) for j in range(3)]])
        for voter, vote in zip(voters, VOTES, strict=True)
    ]
    for ballot in ballots:
        box.cast(ballot.to_bytes())
    box.close()
    box.compute_tally()
    return box, compact_json(box.election.to_json()), ballots


def request_of(
    box: ElectionBox, groups: dict[str, Any] | None = None, election: bytes | None = None
) -> bytes:
    """The decryption request as the ballot box exports it (with the election if given)."""
    obj = {
        "uuid": box.election.uuid,
        "election_hash": box.election_hash,
        "encrypted_tally": encrypted_tally_to_json(box.encrypted_tally),
        "groups": [
            {"id": k, "encrypted_tally": encrypted_tally_to_json(v)}
            for k, v in (groups or {}).items()
        ],
    }
    if election is not None:
        obj["election"] = election.decode()
    return compact_json(obj)


def test_any_two_of_three_and_the_server_decrypt_a_real_tally(
    services: Services, tmp_path: Path
) -> None:
    paths = do_run_local_ceremony(services, STAGE, tmp_path, names=["A", "B", "C"], threshold=2)
    box, election, ballots = election_box(services, tmp_path / "record.bel")
    tally = box.encrypted_tally
    # A group of the first three voters' ballots, as the ballot box would aggregate them.
    first = [[ZERO_CIPHERTEXT] * 3]
    for ballot in ballots[:3]:
        first[0] = [a * c for a, c in zip(first[0], ballot.answers[0].choices, strict=True)]
    request = request_of(box, {"first": first})
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        server = json.loads(
            server_partial_decryption(
                session, row, tmp_path / f"server-trustee-{STAGE}.key", request, election=election
            )
        )
    answers = {1: server}
    for path in paths:
        answer = json.loads(
            partial_decrypt(TrusteeState.from_bytes(path.read_bytes()), request, election=election)
        )
        answers[answer["owner"]] = answer
    assert sorted(answers) == [1, 2, 3, 4]
    owners = key_owners(box.trustees)
    for pair in itertools.combinations((2, 3, 4), 2):
        chosen = {o: answers[o] for o in (1, *pair)}
        for key, encrypted, expected in (
            ("tally", tally, [VOTES.count(j) for j in range(3)]),
            ("first", first, [VOTES[:3].count(j) for j in range(3)]),
        ):
            partials = {
                o: PartialDecryption.from_json(a["tally"] if key == "tally" else a["groups"][key])
                for o, a in chosen.items()
            }
            for o, p in partials.items():
                p.check(box.election_hash, owners[o - 1][2], encrypted)
            factors = combine_factors(box.trustees, partials, [3])
            log = DiscreteLog(len(VOTES))
            assert [
                log(c.beta / f) for c, f in zip(encrypted[0], factors[0], strict=True)
            ] == expected
    for owner in (1, 2, 4):
        box.add_partial_decryption(owner, PartialDecryption.from_json(answers[owner]["tally"]))
    assert box.compute_result().result == ((4, 2, 1),)
    box.close_file()


def test_a_trustee_refuses_to_decrypt_another_stage(services: Services, tmp_path: Path) -> None:
    do_run_local_ceremony(services, STAGE, tmp_path / "m", names=["A", "B", "C"], threshold=2)
    council = do_run_local_ceremony(
        services, "council-vote", tmp_path / "c", names=["D", "E", "F"], threshold=2
    )
    box, election, _ = election_box(services, tmp_path / "record.bel")
    request = request_of(box, election=election)
    state = TrusteeState.from_bytes(council[0].read_bytes())
    with pytest.raises(DomainError, match="refusing to decrypt for another election"):
        partial_decrypt(state, request)
    with services.db.transaction() as session:
        row, _ = stage_row(session, "council-vote")
        with pytest.raises(DomainError, match="not the server's key"):
            server_partial_decryption(
                session, row, tmp_path / "m" / f"server-trustee-{STAGE}.key", request
            )
    box.close_file()


def test_the_election_definition_is_read_from_the_stored_record(
    services: Services, tmp_path: Path
) -> None:
    do_run_local_ceremony(services, STAGE, tmp_path, names=["A", "B", "C"], threshold=2)
    box, election, _ = election_box(services, tmp_path / "record.bel")
    record = box.path.read_bytes()
    box.close_file()
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, STAGE)
        stored_election = ElectionRow(
            stage_id=row.id,
            uuid=box.election.uuid,
            phase="tallied",
            timestamp=1_700_000_000,
            election_hash=box.election_hash,
            head="0" * 64,
            height=0,
            chunks=3,
            ballots_received=len(VOTES),
            created_at=NOW,
        )
        tx.session.add(stored_election)
        tx.session.flush()
        cut = [0, 2000, 5000, len(record)]
        for seq in range(3):
            tx.session.add(
                RecordChunk(
                    election_id=stored_election.id, seq=seq, content=record[cut[seq] : cut[seq + 1]]
                )
            )
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        assert election_definition(session, row) == election
    request = request_of(box)
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        answer = server_partial_decryption(
            session, row, tmp_path / f"server-trustee-{STAGE}.key", request
        )
    assert json.loads(answer)["owner"] == 1
    refused(services, "ceremony.frozen", do_add_trustee, name="Late")
