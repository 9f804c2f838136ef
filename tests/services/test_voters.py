"""The who-has-voted policy: withheld by default and refused in plain words; with equal access,
the same list for every staff role; every access and every refusal audited with who asked."""

from __future__ import annotations

import datetime
import json

import pytest
from test_elections import NONE, OPENS, A, B, make_vote

from unionvote.domain.errors import DomainError
from unionvote.services.audit import audit_log
from unionvote.services.voters import (
    Policy,
    VotersWithheld,
    do_set_voter_list_policy,
    voter_list,
    voter_list_policy,
)
from unionvote.storage.database import Database

STAGE = "membership-vote"


def test_withheld_by_default_and_refusals_are_audited(database: Database) -> None:
    vote = make_vote(database)
    vote.cast(0, (A, NONE))
    assert voter_list_policy(vote.services, STAGE).policy is Policy.WITHHELD
    observer = vote.services.acting_as("staff:olga")
    with pytest.raises(VotersWithheld) as caught:
        voter_list(observer, STAGE)
    assert "withheld" in caught.value.detail and "nobody" in caught.value.detail
    refused = list(audit_log(vote.services, action="voters."))
    assert [(r.action, r.actor, r.subject) for r in refused] == [
        ("voters.refused", "staff:olga", STAGE)
    ]


def test_equal_access_gives_everyone_the_same_list_and_logs_each_look(database: Database) -> None:
    vote = make_vote(database)
    vote.cast(3, (A, NONE))
    vote.clock.advance(hours=1)
    vote.cast(1, (B, NONE))
    vote.clock.advance(hours=1)
    vote.cast(3, (B, NONE))  # votes again
    committee = vote.services.acting_as("staff:ana")
    setting = do_set_voter_list_policy(committee, STAGE, "equal-access")
    assert setting.policy is Policy.EQUAL_ACCESS and setting.set_by == "staff:ana"
    lists = []
    for actor in ("staff:ana", "staff:olga", "staff:tomas"):
        lists.append(voter_list(vote.services.acting_as(actor), STAGE))
    assert lists[0] == lists[1] == lists[2]
    voted = lists[0]
    assert voted.total == 2 and voted.pages == 1
    assert [m.card_number for m in voted.members] == [vote.cards[1], vote.cards[3]]
    assert voted.members[1].first_voted_at == OPENS + datetime.timedelta(hours=1)
    looks = [r for r in audit_log(vote.services, action="voters.list")]
    assert [r.actor for r in looks] == ["staff:ana", "staff:olga", "staff:tomas"]
    assert all(json.loads(r.detail)["total"] == 2 for r in looks)
    policy = list(audit_log(vote.services, action="voters.policy"))
    assert json.loads(policy[0].detail) == {"before": "withheld", "policy": "equal-access"}
    do_set_voter_list_policy(committee, STAGE, "withheld")
    with pytest.raises(VotersWithheld):
        voter_list(vote.services.acting_as("staff:olga"), STAGE)


def test_a_bad_policy_is_refused(database: Database) -> None:
    vote = make_vote(database)
    with pytest.raises(DomainError) as caught:
        do_set_voter_list_policy(vote.services, STAGE, "committee-only")
    assert caught.value.check == "voters.policy"
    assert voter_list_policy(vote.services, STAGE).set_at is None
