"""The questionnaire's rule for forums and ballots (issue 6): with ``answer_required_for_forum =
true`` in the questionnaire file, only candidates whose campaign submitted answers may be in a
candidate forum or on a ballot.

- :func:`eligibility`: every campaign of a questionnaire, whether it may take part, and why
  (``unionvote questionnaire eligible KEY``).
- :func:`check_ballot_candidates`: a stage that names a questionnaire in the process file
  (``questionnaire = "<key>"``) is set up only with candidates that questionnaire's rule lets
  onto a ballot; ``elections.do_setup_election`` calls it and refuses with the names of those
  the rule keeps out. A ballot candidate is matched to a campaign by name (spaces and case
  aside) and, when both have one, by party; a candidate with no campaign was never asked, so
  has not answered either; a candidate two campaigns match is refused, named, as ambiguous.
- :func:`unapplied_rules`: the questionnaires with the rule whose campaigns match candidates of
  a stage's ballot although the stage does not name them (``unionvote election setup`` warns:
  the rule is not applied to that stage).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from unionvote.domain.errors import DomainError, ElectionError
from unionvote.domain.process import AnswerKind, Candidate
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.services.questionnaire import (
    SubmittedVersion,
    forum_eligible,
    overview,
    publication_view,
    questionnaires,
    submitted_versions,
)

__all__ = [
    "CampaignEligibility",
    "Eligibility",
    "UnappliedRule",
    "check_ballot_candidates",
    "eligibility",
    "unapplied_rules",
]

_REASONS = {
    "answered": "answered",
    "declined": "declined to answer",
    "did-not-respond": "did not respond by the due date",
    "awaiting": "has not answered yet",
}


@dataclass(frozen=True, slots=True)
class CampaignEligibility:
    candidate_key: str
    name: str
    party: str
    eligible: bool
    status: str  # "answered" | "declined" | "did-not-respond" | "awaiting"
    reason: str  # plain English: why they may or may not take part
    versions: tuple[SubmittedVersion, ...] = ()  # every version submitted, oldest first


@dataclass(frozen=True, slots=True)
class Eligibility:
    key: str
    title: str
    rule: bool  # answer_required_for_forum
    campaigns: tuple[CampaignEligibility, ...]
    zone: datetime.timezone = datetime.UTC  # the due date's offset: times shown in it

    @property
    def allowed(self) -> tuple[CampaignEligibility, ...]:
        return tuple(c for c in self.campaigns if c.eligible)

    @property
    def kept_out(self) -> tuple[CampaignEligibility, ...]:
        return tuple(c for c in self.campaigns if not c.eligible)


def eligibility(services: Services, key: str) -> Eligibility:
    """Who may be in a forum or on a ballot under the questionnaire's rule, and why."""
    found = overview(services, key)
    allowed = set(forum_eligible(services, key))
    versions = submitted_versions(services, key)
    statuses = {
        c.key: c.status
        for c in publication_view(services, key, committee=True).candidates  # every campaign
    }
    campaigns = []
    for campaign in found.campaigns:
        status = statuses.get(campaign.candidate_key, "awaiting")
        eligible = campaign.candidate_key in allowed
        if not found.forum_rule:
            reason = f"{_REASONS[status]}; the questionnaire does not require an answer"
        elif eligible:
            reason = "answered the questionnaire"
        else:
            reason = f"{_REASONS[status]}: only candidates who answered may take part"
        campaigns.append(
            CampaignEligibility(
                campaign.candidate_key,
                campaign.name,
                campaign.party,
                eligible,
                status,
                reason,
                versions.get(campaign.candidate_key, ()),
            )
        )
    return Eligibility(found.key, found.title, found.forum_rule, tuple(campaigns), found.zone)


@dataclass(frozen=True, slots=True)
class UnappliedRule:
    """A questionnaire with the rule whose campaigns match candidates of a stage's ballot,
    although the stage does not name it: its rule is not applied to that ballot."""

    key: str
    title: str
    candidates: tuple[str, ...]  # the ballot's candidates its campaigns match
    kept_out: tuple[str, ...]  # of those, who the rule would keep out, and why


def _same(name: str) -> str:
    return " ".join(name.split()).casefold()


def _matches(
    candidate: Candidate, campaigns: tuple[CampaignEligibility, ...]
) -> list[CampaignEligibility]:
    """The campaigns a ballot candidate may be: the same name (spaces and case aside) and,
    when both the candidate and the campaign have a party, the same party."""
    named = [c for c in campaigns if _same(c.name) == _same(candidate.name)]
    if not candidate.party:
        return named
    return [c for c in named if not c.party or _same(c.party) == _same(candidate.party)]


def _shown(candidate: Candidate) -> str:
    return f"{candidate.name} ({candidate.party})" if candidate.party else candidate.name


def _ballot_candidates(services: Services, stage_key: str) -> tuple[str | None, list[Candidate]]:
    """The questionnaire the stage names (or None) and the candidates its ballot will list."""
    with services.db.sessions() as session:
        row, stage = stage_row(session, stage_key)
        derived: list[Candidate] | None = None
        if row.derived_from is not None:
            try:
                listed = json.loads(row.derived_from)["candidates"]
                derived = [Candidate(str(c["name"]), str(c["party"])) for c in listed]
            except (ValueError, KeyError, TypeError):
                derived = None  # the setup itself reports an unreadable derivation
        candidates: list[Candidate] = []
        for question in stage.questions:
            if question.candidates_from is not None and derived is None:
                continue
            for answer in question.answers(derived if question.candidates_from else None):
                found = Candidate(answer.label, answer.party or "")
                if answer.kind is AnswerKind.CANDIDATE and found not in candidates:
                    candidates.append(found)
        return stage.questionnaire, candidates


def check_ballot_candidates(services: Services, stage_key: str) -> None:
    """Refuse (``setup.questionnaire``) a ballot for ``stage_key`` naming a candidate that the
    questionnaire the stage names keeps out, or a candidate that two of its campaigns match
    (the same name, and no party, or the same, to tell them apart); nothing to check for a
    stage naming none."""
    key, candidates = _ballot_candidates(services, stage_key)
    if key is None:
        return
    try:
        found = eligibility(services, key)
    except DomainError as error:
        raise ElectionError(
            "setup.questionnaire",
            f"stage {stage_key!r} names the questionnaire {key!r}: {error.detail}",
        ) from error
    if not found.rule:
        return
    ambiguous = []
    for candidate in candidates:
        matched = _matches(candidate, found.campaigns)
        if len(matched) > 1:
            which = ", ".join(
                f"{c.name} ({c.candidate_key}, {c.party or 'no party'})" for c in matched
            )
            ambiguous.append(f"{_shown(candidate)} matches {len(matched)} campaigns: {which}")
    if ambiguous:
        raise ElectionError(
            "setup.questionnaire",
            f"the ballot of {stage_key!r} names candidates the questionnaire {found.title!r} "
            f"cannot tell apart (a candidate is matched to a campaign by name and party): "
            f"{'; '.join(ambiguous)}. Give each of these campaigns its party in the "
            "questionnaire, or give the candidates distinct names",
        )
    kept_out = []
    for candidate in candidates:
        matched = _matches(candidate, found.campaigns)
        if not matched:
            others = [c for c in found.campaigns if _same(c.name) == _same(candidate.name)]
            if others:
                parties = ", ".join(sorted({c.party for c in others}))
                kept_out.append(
                    f"{_shown(candidate)} (was not sent the questionnaire: the campaign of "
                    f"that name is {parties})"
                )
            else:
                kept_out.append(f"{candidate.name} (was not sent the questionnaire)")
        elif not matched[0].eligible:
            kept_out.append(f"{candidate.name} ({_REASONS[matched[0].status]})")
    if kept_out:
        raise ElectionError(
            "setup.questionnaire",
            f"the ballot of {stage_key!r} names candidates the questionnaire {found.title!r} "
            f"keeps out (only candidates who answered may be on the ballot): "
            f"{'; '.join(kept_out)}",
        )


def unapplied_rules(services: Services, stage_key: str) -> tuple[UnappliedRule, ...]:
    """Every questionnaire with the rule (``answer_required_for_forum = true``) that the stage
    does not name although its campaigns match candidates of the stage's ballot: its rule is
    not applied to this ballot (``unionvote election setup`` warns, and sets up all the same;
    ``questionnaire = "<key>"`` on the stage applies it)."""
    named, candidates = _ballot_candidates(services, stage_key)
    if not candidates:
        return ()
    found = []
    for summary in questionnaires(services):
        if summary.key == named:
            continue
        rule = eligibility(services, summary.key)
        if not rule.rule:
            continue
        matched, kept_out = [], []
        for candidate in candidates:
            campaigns = _matches(candidate, rule.campaigns)
            if campaigns:
                matched.append(candidate.name)
                if not any(c.eligible for c in campaigns):
                    kept_out.append(f"{candidate.name} ({_REASONS[campaigns[0].status]})")
        if matched:
            found.append(UnappliedRule(rule.key, rule.title, tuple(matched), tuple(kept_out)))
    return tuple(found)
