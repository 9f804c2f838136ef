"""The election service's setup: the record's first chunk, and what is refused before it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select
from test_elections import CLOSES, OPENS, STAGE, make_vote, setup, snapshot

from unionvote.crypto.credentials import PrivateCredential
from unionvote.domain.election import new_uuid
from unionvote.domain.errors import DomainError, ElectionError
from unionvote.services.elections import (
    do_close,
    do_setup_election,
    election_definition,
    election_status,
    export_record,
)
from unionvote.storage.database import Database
from unionvote.storage.models import Member, PublicCredentialRow, StageRow

COUNCIL = "council-vote"


def test_setup_writes_the_record_and_opens_voting(database: Database, tmp_path: Path) -> None:
    vote = make_vote(database)
    status = election_status(vote.services, STAGE)
    assert (status.phase, status.uuid, status.ballots_received, status.height) == (
        "voting",
        vote.uuid,
        0,
        0,
    )
    assert (status.voting_opens_at, status.voting_closes_at) == (OPENS, CLOSES)
    assert [q.answers for q in vote.election.questions] == [
        ("Ann Able", "Bob Baker", "Cy Cole"),
        ("Jobs", "Health", "Trade"),
    ]
    with database.transaction() as session:
        assert session.scalar(select(StageRow.status).where(StageRow.key == STAGE)) == "voting"
    exported = export_record(vote.services, STAGE, tmp_path / "record.bel")
    record = exported.path.read_bytes()
    assert exported.size == len(record)
    # the credentials are in sorted order, never in member order
    listed = [str(c.public(vote.uuid).key) for c in vote.credentials]
    order = [record.index(key.encode()) for key in sorted(listed)]
    assert order == sorted(order)


def test_setup_is_refused_before_credentials_and_done_once(database: Database) -> None:
    vote = make_vote(database, set_up=False)
    with database.transaction() as session:
        stage = session.scalar(select(StageRow).where(StageRow.key == STAGE))
        stage.status = "registration"
    with pytest.raises(ElectionError) as caught:
        setup(vote)
    assert caught.value.check == "setup.status"
    with database.transaction() as session:
        session.scalar(select(StageRow).where(StageRow.key == STAGE)).status = "credentials"
    with pytest.raises(ElectionError) as caught:
        do_setup_election(
            vote.services,
            STAGE,
            trustees=vote.trustees,
            name="x",
            description="",
            voting_opens_at=CLOSES,
            voting_closes_at=OPENS,
        )
    assert caught.value.check == "setup.window"
    with pytest.raises(DomainError) as unknown:
        do_setup_election(
            vote.services,
            "no-such-stage",
            trustees=vote.trustees,
            name="x",
            description="",
            voting_opens_at=OPENS,
            voting_closes_at=CLOSES,
        )
    assert unknown.value.check == "stage.unknown"
    setup(vote)
    before = snapshot(database)
    with pytest.raises(ElectionError) as caught:
        setup(vote)
    assert caught.value.check == "setup.exists"
    assert snapshot(database) == before


def test_steps_need_an_election(database: Database) -> None:
    vote = make_vote(database, set_up=False)
    with pytest.raises(ElectionError) as caught:
        do_close(vote.services, STAGE)
    assert caught.value.check == "election.missing"


def test_a_derived_stage_takes_its_candidates_from_its_stage_row(database: Database) -> None:
    vote = make_vote(database)
    council_uuid = new_uuid(random.Random(3).randrange)
    with database.transaction() as session:
        council = session.scalar(select(StageRow).where(StageRow.key == COUNCIL))
        council.uuid, council.status = council_uuid, "credentials"
        for member_id in session.scalars(select(Member.id).order_by(Member.id).limit(2)):
            credential = PrivateCredential.generate(random.Random(member_id).randrange)
            session.add(
                PublicCredentialRow(
                    stage_id=council.id,
                    member_id=member_id,
                    credential=str(credential.public(council_uuid).key),
                )
            )

    def set_up_council() -> None:
        do_setup_election(
            vote.services,
            COUNCIL,
            trustees=vote.trustees,
            name="Council vote",
            description="",
            voting_opens_at=OPENS,
            voting_closes_at=CLOSES,
        )

    with pytest.raises(ElectionError) as caught:
        set_up_council()
    assert caught.value.check == "setup.questions"
    derived = {
        "candidates": [
            {"name": "Ann Able", "party": "Democratic"},
            {"name": "Bob Baker", "party": "Republican"},
        ],
        "from": {"stage": STAGE},
    }
    with database.transaction() as session:
        council = session.scalar(select(StageRow).where(StageRow.key == COUNCIL))
        council.derived_from = json.dumps(derived)
    set_up_council()
    (question,) = election_definition(vote.services, COUNCIL).questions
    assert question.answers == ("Ann Able", "Bob Baker", "No endorsement")
    assert election_status(vote.services, COUNCIL).uuid == council_uuid
