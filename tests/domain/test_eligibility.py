"""Eligibility rules and the electorate digest: the IAM's rule, a council role's rule, plain-word
reasons, and a digest anyone can recompute from the published listing's definition."""

from __future__ import annotations

import datetime
import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unionvote.domain.eligibility import (
    EligibilityRule,
    electorate_document,
    eligibility_digest,
    eligibility_listing,
    recompute_digest,
)
from unionvote.domain.errors import DomainError
from unionvote.domain.process import Eligibility, Process, Stage, parse_process
from unionvote.domain.roll import parse_roll

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CUTOFF = datetime.date(2023, 11, 1)


def iam() -> Process:
    text = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    return parse_process(text, source="iam-2024.toml")


def rule_of(stage_id: str) -> EligibilityRule:
    process = iam()
    return EligibilityRule.for_stage(process.eligibility, process.stage(stage_id))


def test_the_iam_membership_rule() -> None:
    rule = rule_of("membership-vote")
    assert rule == EligibilityRule(("US",), ("good standing",), CUTOFF)
    assert rule.text() == (
        "electorate: members\n"
        "countries: US\n"
        "dues statuses: good standing\n"
        "joined on or before: 2023-11-01\n"
    )
    admits = {
        "in good standing": rule.admits(country="US", dues_status="good standing", joined_on=None),
        "joined on the cutoff": rule.admits(
            country="US", dues_status="good standing", joined_on=CUTOFF
        ),
        "a day late": rule.admits(
            country="US",
            dues_status="good standing",
            joined_on=CUTOFF + datetime.timedelta(days=1),
        ),
        "in Canada": rule.admits(country="CA", dues_status="good standing", joined_on=None),
        "in arrears": rule.admits(country="US", dues_status="arrears", joined_on=None),
    }
    assert admits == {
        "in good standing": True,
        "joined on the cutoff": True,
        "a day late": False,
        "in Canada": False,
        "in arrears": False,
    }


def test_reasons_are_plain_words() -> None:
    rule = rule_of("membership-vote")
    assert rule.reasons(country="US", dues_status="good standing", joined_on=None) == ()
    reasons = rule.reasons(
        country="CA", dues_status="arrears", joined_on=datetime.date(2024, 1, 15)
    )
    assert reasons == (
        "only members in the United States (US) take part, and the roll lists you in Canada (CA)",
        "only members whose dues status is good standing take part, and the roll lists "
        "yours as arrears",
        "you joined on 2024-01-15, after the cutoff date 2023-11-01",
    )


def test_a_council_role_electorate_keeps_the_country_and_dues_rules_not_the_cutoff() -> None:
    rule = rule_of("council-vote")
    assert rule.role == "state council president" and rule.cutoff is None
    assert rule.text() == (
        "electorate: council role: state council president\n"
        "countries: US\ndues statuses: good standing\n"
    )
    president = {"country": "US", "dues_status": "good standing"}
    late = datetime.date(2024, 6, 1)
    assert rule.admits(**president, joined_on=late, council_role="state council president")
    assert not rule.admits(**president, joined_on=None, council_role="")
    assert not rule.admits(
        country="US", dues_status="suspended", joined_on=None, council_role=rule.role
    )
    assert rule.reasons(**president, joined_on=None) == (
        "this vote is only for members who hold the role of state council president",
    )


def test_a_rule_naming_an_unknown_dues_status_is_refused() -> None:
    stage = iam().stage("membership-vote")
    with pytest.raises(DomainError, match="unknown dues status 'active'"):
        EligibilityRule.for_stage(Eligibility(("US",), ("active",), CUTOFF), stage)
    odd = Stage("s", "S", "everyone", ())
    with pytest.raises(DomainError, match="unknown electorate"):
        EligibilityRule.for_stage(Eligibility(("US",), ("good standing",), CUTOFF), odd)
    spelled = EligibilityRule.for_stage(Eligibility(("us",), ("Good-Standing",), CUTOFF), stage)
    assert spelled == rule_of("membership-vote")


def test_the_digest_is_sha256_of_the_documented_listing() -> None:
    rule = rule_of("membership-vote")
    expected = (
        b"electorate: members\ncountries: US\ndues statuses: good standing\n"
        b"joined on or before: 2023-11-01\n\n1001\n1002\nA-7\n"
    )
    assert b"".join(eligibility_listing(["A-7", "1002", "1001"], rule)) == expected
    assert eligibility_digest(["A-7", "1002", "1001"], rule) == hashlib.sha256(expected).hexdigest()
    other = EligibilityRule(("US",), ("good standing",), datetime.date(2023, 11, 2))
    assert eligibility_digest(["1001"], other) != eligibility_digest(["1001"], rule)


@given(st.lists(st.from_regex(r"[0-9A-Z]{1,8}", fullmatch=True), unique=True), st.randoms())
def test_the_digest_does_not_depend_on_the_order(cards: list[str], rng: random.Random) -> None:
    rule = rule_of("membership-vote")
    shuffled = list(cards)
    rng.shuffle(shuffled)
    assert eligibility_digest(shuffled, rule) == eligibility_digest(cards, rule)
    if cards:
        assert eligibility_digest(cards[1:], rule) != eligibility_digest(cards, rule)


def test_recompute_from_the_sample_roll() -> None:
    with (EXAMPLES / "roll-sample.csv").open(encoding="utf-8", newline="") as stream:
        rows = parse_roll(stream)
    digest, count = recompute_digest(rows, rule_of("membership-vote"))
    assert count == 19
    eligible = sorted(
        r.card_number
        for r in rows
        if r.country == "US"
        and r.dues_status == "good standing"
        and (r.joined_on is None or r.joined_on <= CUTOFF)
    )
    listing = rule_of("membership-vote").text() + "\n" + "".join(c + "\n" for c in eligible)
    assert digest == hashlib.sha256(listing.encode()).hexdigest()
    council_digest, presidents = recompute_digest(rows, rule_of("council-vote"))
    assert presidents == 8 and council_digest != digest


def test_the_electorate_document_is_canonical_json() -> None:
    rule = rule_of("membership-vote")
    content = electorate_document(
        stage="membership-vote", rule=rule, snapshot_digest="ab" * 32, eligible=19, registered=7
    )
    document = json.loads(content)
    assert document == {
        "stage": "membership-vote",
        "rule": rule.text(),
        "cutoff": "2023-11-01",
        "snapshot_digest": "ab" * 32,
        "eligible": 19,
        "registered": 7,
    }
    assert content == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    council = electorate_document(
        stage="council-vote",
        rule=rule_of("council-vote"),
        snapshot_digest="cd" * 32,
        eligible=8,
        registered=8,
    )
    assert json.loads(council)["cutoff"] is None


def test_a_weighted_digest_fixes_every_weight() -> None:
    from unionvote.domain.eligibility import eligibility_digest

    rule = EligibilityRule(("US",), ("good standing",), CUTOFF)
    cards = ["100", "200"]
    plain = eligibility_digest(cards, rule)
    weighted = eligibility_digest(cards, rule, {"100": 5000, "200": 800})
    assert weighted != plain
    assert weighted != eligibility_digest(cards, rule, {"100": 5000, "200": 801})
    assert weighted == eligibility_digest(list(reversed(cards)), rule, {"200": 800, "100": 5000})
