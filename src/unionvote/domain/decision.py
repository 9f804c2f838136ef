"""The council's decision (issue 3, §9): who goes forward from the membership vote, and whether
the council's vote makes an endorsement.

Votes cast are the votes for an answer: blank ballots are not votes cast (as in Robert's Rules
of Order), for every rule. With weights (AFL-CIO style per-capita votes) every rule counts
weight instead of heads. "No endorsement" is a valid outcome: either the council chose it, or
no candidate reached the rule's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from unionvote.domain.errors import DomainError

__all__ = [
    "CouncilVote",
    "Decision",
    "DecisionRule",
    "Finalists",
    "decide",
    "tally_council_votes",
    "top_vote_getters_by_party",
]

NO_ENDORSEMENT = "No endorsement"


class DecisionRule(Enum):
    SIMPLE_MAJORITY = "simple majority"  # more than half of the votes cast
    TWO_THIRDS = "two thirds"  # at least two thirds of the votes cast
    UNANIMITY = "unanimity"  # every vote cast, and at least one


@dataclass(frozen=True, slots=True)
class CouncilVote:
    """One council member's open vote; ``choice`` None is a blank vote."""

    voter: str
    choice: str | None
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: ``endorsed`` is the candidate, or None for no endorsement; ``reason`` says
    why in one sentence a member can read."""

    endorsed: str | None
    rule: DecisionRule
    reason: str
    counts: tuple[tuple[str, int], ...]
    votes_cast: int
    weighted: bool = False

    @property
    def no_endorsement(self) -> bool:
        return self.endorsed is None


def tally_council_votes(votes: Sequence[CouncilVote], *, weighted: bool) -> dict[str, int]:
    """Votes (or weights, if ``weighted``) per choice; blank votes are left out. A member who
    votes twice is refused: a council roll call has one vote per member."""
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for vote in votes:
        if vote.voter in seen:
            raise DomainError("decision.votes", f"{vote.voter!r} voted twice")
        seen.add(vote.voter)
        if weighted and vote.weight < 0:
            raise DomainError("decision.votes", f"{vote.voter!r} has a negative weight")
        if vote.choice is not None:
            counts[vote.choice] = counts.get(vote.choice, 0) + (vote.weight if weighted else 1)
    return counts


def decide(
    counts: Mapping[str, int],
    rule: DecisionRule,
    *,
    weighted: bool = False,
    no_endorsement: str = NO_ENDORSEMENT,
) -> Decision:
    """Apply ``rule`` to the council's totals (votes, or weights if ``weighted``). The answer
    labelled ``no_endorsement`` can win like any other: then nobody is endorsed."""
    if any(n < 0 for n in counts.values()):
        raise DomainError("decision.counts", "counts must not be negative")
    ordered = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    cast = sum(counts.values())
    unit = "weighted votes" if weighted else "votes"

    def outcome(endorsed: str | None, reason: str) -> Decision:
        return Decision(endorsed, rule, reason, ordered, cast, weighted)

    if cast == 0:
        return outcome(None, f"No endorsement: no {unit} were cast.")
    top, top_count = ordered[0]
    tied = len(ordered) > 1 and ordered[1][1] == top_count
    if rule is DecisionRule.SIMPLE_MAJORITY:
        passed = 2 * top_count > cast
        needed = "more than half"
    elif rule is DecisionRule.TWO_THIRDS:
        passed = 3 * top_count >= 2 * cast
        needed = "at least two thirds"
    else:
        passed = top_count == cast
        needed = "every one"
    share = f"{top_count} of {cast} {unit}"
    if not passed:
        leader = f"the leaders tied with {top_count} each" if tied else f"{top} had {share}"
        return outcome(
            None, f"No endorsement: {rule.value} needs {needed} of the {unit} cast; {leader}."
        )
    if top == no_endorsement:
        return outcome(None, f"No endorsement: the council chose it by {share} ({rule.value}).")
    return outcome(top, f"{top} is endorsed by {share} ({rule.value}).")


@dataclass(frozen=True, slots=True)
class Finalists:
    """The candidates who go forward, per party in the order the parties first appear; where
    a party's top vote-getters tie, *all* of them go forward and ``ties`` names them."""

    candidates: tuple[tuple[str, str], ...]  # (name, party)
    ties: tuple[tuple[str, tuple[str, ...]], ...]  # (party, tied names)


def top_vote_getters_by_party(
    counts: Sequence[int], candidates: Sequence[tuple[str, str | None]]
) -> Finalists:
    """The top vote-getter of each party (issue 3, §9). ``candidates`` pairs each answer with
    its party (None for extra options, which never go forward). A party whose candidates all
    got no votes sends nobody."""
    if len(counts) != len(candidates):
        raise DomainError("decision.finalists", "one count per answer is needed")
    best: dict[str, tuple[int, list[str]]] = {}
    for count, (name, party) in zip(counts, candidates, strict=True):
        if party is None or count <= 0:
            continue
        top, names = best.get(party, (0, []))
        if count > top:
            best[party] = (count, [name])
        elif count == top:
            names.append(name)
            best[party] = (top, names)
    chosen = tuple((name, party) for party, (_, names) in best.items() for name in names)
    ties = tuple((party, tuple(names)) for party, (_, names) in best.items() if len(names) > 1)
    return Finalists(chosen, ties)
