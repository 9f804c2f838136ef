"""The questionnaire's rule "only candidates who answered may be in a forum or on a ballot"
(issue 6) doing something real: who may take part and why, and a stage that names the
questionnaire in the process file is refused a ballot naming a candidate the rule keeps out —
each named, nothing changed. On SQLite and PostgreSQL; the CLI's `questionnaire eligible`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from questionnaire_support import (
    BASE_URL,
    CAMPAIGNS,
    CONTACT,
    KEY,
    QUESTIONNAIRE,
    START,
    setup_questionnaire,
    smtp_server,
)
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_elections import STAGE, make_vote, process_text, setup

from unionvote.domain.errors import ElectionError
from unionvote.domain.process import ProcessError, parse_process
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    do_decline,
    do_define_questionnaire,
    do_import_campaigns,
    do_send_links,
    do_submit,
)
from unionvote.services.questionnaire_rule import eligibility
from unionvote.storage.database import Database
from unionvote.storage.models import ElectionRow, StageRow

ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Keep the promise."}


def linked_process(*names: str, questionnaire: str = KEY) -> str:
    """The test process whose membership vote names the questionnaire and lists ``names`` (the
    first is a Democrat, the rest Republicans) as its candidates (none: the test's own)."""
    text = process_text()
    if len(names) < 3:  # the third candidate is left off
        text = text.replace(
            '[[stages.questions.candidates]]\nname = "Cy Cole"\nparty = "Republican"\n\n', ""
        )
    for old, new in zip(("Ann Able", "Bob Baker", "Cy Cole"), names, strict=False):
        text = text.replace(f'"{old}"', f'"{new}"')
    return text.replace(
        'electorate = "members"\n', f'electorate = "members"\nquestionnaire = "{questionnaire}"\n'
    )


def answer(database: Database, *, rule: bool = True) -> None:
    """The example questionnaire sent; Rivera and Okafor answer, Hale declines, Brandt is
    silent. Without ``rule``, the file's answer_required_for_forum is false."""
    services = Services(database, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        if rule:
            tokens = setup_questionnaire(services, mailer, inbox)
        else:
            text = QUESTIONNAIRE.read_text(encoding="utf-8").replace(
                "answer_required_for_forum = true", "answer_required_for_forum = false"
            )
            do_define_questionnaire(services, text)
            do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
            do_send_links(services, KEY, mailer, base_url=BASE_URL)
            tokens = {key: inbox.token(address) for key, address in CONTACT.items()}
    do_submit(services, tokens["rivera"], ANSWERS, None)
    do_submit(services, tokens["okafor"], ANSWERS, None)
    do_decline(services, tokens["hale"], "Not this year.", None)


def test_who_may_take_part_and_why(database: Database) -> None:
    answer(database)
    found = eligibility(Services(database, FixedClock(START)), KEY)
    assert found.rule
    assert [c.candidate_key for c in found.allowed] == ["rivera", "okafor"]
    reasons = {c.candidate_key: c.reason for c in found.kept_out}
    assert reasons == {
        "hale": "declined to answer: only candidates who answered may take part",
        "brandt": "has not answered yet: only candidates who answered may take part",
    }
    later = eligibility(Services(database, FixedClock(START.replace(month=4))), KEY)
    assert (
        "did not respond by the due date"
        in {c.candidate_key: c.reason for c in later.kept_out}["brandt"]
    )


def test_a_ballot_naming_candidates_the_rule_keeps_out_is_refused(database: Database) -> None:
    text = linked_process("Ana Rivera", "Thomas Hale", "Cy Cole")
    vote = make_vote(database, set_up=False, text=text)
    answer(database)
    with pytest.raises(ElectionError) as refused:
        setup(vote)
    assert refused.value.check == "setup.questionnaire"
    assert refused.value.detail == (
        "the ballot of 'membership-vote' names candidates the questionnaire "
        "'2024 Presidential Candidate Questionnaire' keeps out (only candidates who answered "
        "may be on the ballot): Thomas Hale (declined to answer); Cy Cole (was not sent the "
        "questionnaire)"
    )
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ElectionRow)) == 0
        assert session.scalar(select(StageRow.status).where(StageRow.key == STAGE)) == (
            "credentials"
        )


def test_a_ballot_of_candidates_who_answered_is_set_up(database: Database) -> None:
    # Names are matched to the campaigns regardless of spaces and case.
    vote = make_vote(database, set_up=False, text=linked_process("Ana Rivera", "grace  OKAFOR"))
    answer(database)
    setup(vote)
    assert vote.election is not None


def test_without_the_rule_every_candidate_may_take_part(database: Database) -> None:
    vote = make_vote(database, set_up=False, text=linked_process("Ana Rivera", "Thomas Hale"))
    answer(database, rule=False)
    found = eligibility(vote.services, KEY)
    assert not found.rule and not found.kept_out
    assert found.campaigns[1].reason == (
        "declined to answer; the questionnaire does not require an answer"
    )
    setup(vote)


def test_a_stage_naming_an_unknown_questionnaire_is_refused(database: Database) -> None:
    vote = make_vote(database, set_up=False, text=linked_process(questionnaire="no-such"))
    with pytest.raises(ElectionError, match="names the questionnaire 'no-such'"):
        setup(vote)


def test_the_process_file_checks_the_key() -> None:
    parsed = parse_process(linked_process(), source="test.toml")
    assert parsed.stage(STAGE).questionnaire == KEY
    assert parsed.stage("council-vote").questionnaire is None
    with pytest.raises(ProcessError, match="questionnaire"):
        parse_process(linked_process(questionnaire="Not A Key"), source="test.toml")
