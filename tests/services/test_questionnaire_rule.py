"""The questionnaire's rule "only candidates who answered may be in a forum or on a ballot"
(issue 6) doing something real: who may take part and why, and a stage that names the
questionnaire in the process file is refused a ballot naming a candidate the rule keeps out —
each named, nothing changed. On SQLite and PostgreSQL; the CLI's `questionnaire eligible`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
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

from test_elections import STAGE, make_vote, process_text, setup, snapshot

from unionvote.domain.errors import ElectionError
from unionvote.domain.process import ProcessError, parse_process
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import (
    CampaignInput,
    ContactInput,
    do_add_campaign,
    do_decline,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_send_links,
    do_submit,
)
from unionvote.services.questionnaire_rule import UnappliedRule, eligibility, unapplied_rules
from unionvote.storage.database import Database
from unionvote.storage.models import ElectionRow, StageRow

ANSWERS = {"pro-act": "yes", "trade": "0", "pensions": "Keep the promise."}


def linked_process(
    *names: str, questionnaire: str | None = KEY, parties: Sequence[str] = ()
) -> str:
    """The test process whose membership vote names the questionnaire (None: names none) and
    lists ``names`` as its candidates (none: the test's own), of ``parties`` in order (by
    default the first a Democrat, the rest Republicans)."""
    text = process_text()
    if len(names) < 3:  # the third candidate is left off
        text = text.replace(
            '[[stages.questions.candidates]]\nname = "Cy Cole"\nparty = "Republican"\n\n', ""
        )
    defaults = ("Democratic", "Republican", "Republican")
    olds = zip(("Ann Able", "Bob Baker", "Cy Cole"), defaults, strict=True)
    for (old, old_party), new, party in zip(olds, names, parties or defaults, strict=False):
        text = text.replace(
            f'name = "{old}"\nparty = "{old_party}"', f'name = "{new}"\nparty = "{party}"'
        )
    if questionnaire is None:
        return text
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
    # Names are matched to the campaigns regardless of spaces and case; parties likewise.
    text = linked_process("Ana Rivera", "grace  OKAFOR", parties=("Democratic", "Democratic"))
    vote = make_vote(database, set_up=False, text=text)
    answer(database)
    assert unapplied_rules(vote.services, STAGE) == ()  # the stage names the questionnaire
    setup(vote)
    assert vote.election is not None


def _campaign(database: Database, key: str, name: str, party: str) -> None:
    """One more campaign (it has not answered): a namesake of another."""
    contact = ContactInput("Lee", f"{key}@campaign.example")
    office = "President of the United States"
    do_add_campaign(
        Services(database, FixedClock(START)),
        KEY,
        CampaignInput(key, name, party, office, (contact,)),
    )


def test_a_candidate_is_matched_by_name_and_party(database: Database) -> None:
    # A namesake of another party who never answered does not stand in for Ana Rivera …
    text = linked_process("Ana Rivera", "Grace Okafor", parties=("Democratic", "Democratic"))
    vote = make_vote(database, set_up=False, text=text)
    answer(database)
    _campaign(database, "rivera-r", "Ana Rivera", "Republican")
    found = eligibility(vote.services, KEY)
    assert [c.candidate_key for c in found.kept_out] == ["hale", "brandt", "rivera-r"]
    setup(vote)
    assert vote.election is not None


def test_a_candidate_of_another_party_than_the_campaign_is_not_matched(
    database: Database,
) -> None:
    # … and a Republican "Ana Rivera" on the ballot is the namesake, who did not answer;
    # a Republican "Grace Okafor" has no campaign at all (hers is Democratic).
    text = linked_process("Ana Rivera", "Grace Okafor", parties=("Republican", "Republican"))
    vote = make_vote(database, set_up=False, text=text)
    answer(database)
    _campaign(database, "rivera-r", "Ana Rivera", "Republican")
    before = snapshot(database)
    with pytest.raises(ElectionError) as refused:
        setup(vote)
    assert refused.value.check == "setup.questionnaire"
    assert refused.value.detail.endswith(
        "keeps out (only candidates who answered may be on the ballot): Ana Rivera (did not "
        "respond by the due date); Grace Okafor (Republican) (was not sent the questionnaire: the "
        "campaign of that name is Democratic)"
    )
    assert snapshot(database) == before


def test_two_campaigns_matching_one_candidate_are_refused_as_ambiguous(
    database: Database,
) -> None:
    vote = make_vote(database, set_up=False, text=linked_process("Ana Rivera", "Thomas Hale"))
    answer(database)
    _campaign(database, "rivera-2", "ana  rivera", "Democratic")
    before = snapshot(database)
    with pytest.raises(ElectionError) as refused:
        setup(vote)
    assert refused.value.check == "setup.questionnaire"
    assert refused.value.detail == (
        "the ballot of 'membership-vote' names candidates the questionnaire "
        "'2024 Presidential Candidate Questionnaire' cannot tell apart (a candidate is matched "
        "to a campaign by name and party): Ana Rivera (Democratic) matches 2 campaigns: Ana "
        "Rivera (rivera, Democratic), ana  rivera (rivera-2, Democratic). Give each of these "
        "campaigns its party in the questionnaire, or give the candidates distinct names"
    )
    assert snapshot(database) == before


def test_a_stage_that_does_not_name_the_questionnaire_is_reported(database: Database) -> None:
    text = linked_process("Ana Rivera", "Thomas Hale", questionnaire=None)
    vote = make_vote(database, set_up=False, text=text)
    assert unapplied_rules(vote.services, STAGE) == ()  # no questionnaire yet
    answer(database)
    assert unapplied_rules(vote.services, STAGE) == (
        UnappliedRule(
            KEY,
            "2024 Presidential Candidate Questionnaire",
            ("Ana Rivera", "Thomas Hale"),
            ("Thomas Hale (declined to answer)",),
        ),
    )
    assert unapplied_rules(vote.services, "council-vote") == ()  # no candidates derived yet
    setup(vote)  # a warning, not a refusal: Hale is on the ballot
    assert vote.election is not None


def test_no_report_for_a_ballot_no_campaign_matches(database: Database) -> None:
    vote = make_vote(database, set_up=False, text=linked_process(questionnaire=None))
    answer(database)
    assert unapplied_rules(vote.services, STAGE) == ()  # Ann Able, Bob Baker, Cy Cole


def test_no_report_when_the_questionnaire_has_no_rule(database: Database) -> None:
    text = linked_process("Ana Rivera", "Thomas Hale", questionnaire=None)
    vote = make_vote(database, set_up=False, text=text)
    answer(database, rule=False)
    assert unapplied_rules(vote.services, STAGE) == ()


def test_eligibility_lists_each_version_submitted(database: Database) -> None:
    services = Services(database, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        tokens = setup_questionnaire(services, mailer, inbox)
    first = do_submit(services, tokens["rivera"], ANSWERS, None)
    do_open_correction(services, KEY, "rivera", "A typo in the pensions answer.")
    second = do_submit(services, tokens["rivera"], {**ANSWERS, "pensions": "Keep it."}, None)
    found = {c.candidate_key: c for c in eligibility(services, KEY).campaigns}
    assert [(v.version, v.digest, v.submitted_at) for v in found["rivera"].versions] == [
        (1, first.digest, first.submitted_at),
        (2, second.digest, second.submitted_at),
    ]
    assert found["rivera"].eligible and found["hale"].versions == ()


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
