"""The questionnaire's rule for forums and ballots (issue 6): with ``answer_required_for_forum =
true`` in the questionnaire file, only candidates whose campaign submitted answers may be in a
candidate forum or on a ballot.

- :func:`eligibility`: every campaign of a questionnaire, whether it may take part, and why
  (``unionvote questionnaire eligible KEY``).
- :func:`check_ballot_candidates`: a stage that names a questionnaire in the process file
  (``questionnaire = "<key>"``) is set up only with candidates that questionnaire's rule lets
  onto a ballot; ``elections.do_setup_election`` calls it and refuses with the names of those
  the rule keeps out. A ballot candidate is matched to a campaign by name (spaces and case
  aside); a candidate with no campaign was never asked, so has not answered either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from unionvote.domain.errors import DomainError, ElectionError
from unionvote.domain.process import AnswerKind, Candidate
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.services.questionnaire import forum_eligible, overview, publication_view

__all__ = ["CampaignEligibility", "Eligibility", "check_ballot_candidates", "eligibility"]

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


@dataclass(frozen=True, slots=True)
class Eligibility:
    key: str
    title: str
    rule: bool  # answer_required_for_forum
    campaigns: tuple[CampaignEligibility, ...]

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
                campaign.candidate_key, campaign.name, campaign.party, eligible, status, reason
            )
        )
    return Eligibility(found.key, found.title, found.forum_rule, tuple(campaigns))


def _same(name: str) -> str:
    return " ".join(name.split()).casefold()


def _ballot_candidates(services: Services, stage_key: str) -> tuple[str | None, list[Candidate]]:
    """The questionnaire the stage names (or None) and the candidates its ballot will list."""
    with services.db.sessions() as session:
        row, stage = stage_row(session, stage_key)
        if stage.questionnaire is None:
            return None, []
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
                if answer.kind is AnswerKind.CANDIDATE and all(
                    c.name != answer.label for c in candidates
                ):
                    candidates.append(Candidate(answer.label, answer.party or ""))
        return stage.questionnaire, candidates


def check_ballot_candidates(services: Services, stage_key: str) -> None:
    """Refuse (``setup.questionnaire``) a ballot for ``stage_key`` naming a candidate that the
    questionnaire the stage names keeps out; nothing to check for a stage naming none."""
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
    by_name = {_same(c.name): c for c in found.campaigns}
    kept_out = []
    for candidate in candidates:
        campaign = by_name.get(_same(candidate.name))
        if campaign is None:
            kept_out.append(f"{candidate.name} (was not sent the questionnaire)")
        elif not campaign.eligible:
            kept_out.append(f"{candidate.name} ({_REASONS[campaign.status]})")
    if kept_out:
        raise ElectionError(
            "setup.questionnaire",
            f"the ballot of {stage_key!r} names candidates the questionnaire {found.title!r} "
            f"keeps out (only candidates who answered may be on the ballot): "
            f"{'; '.join(kept_out)}",
        )
