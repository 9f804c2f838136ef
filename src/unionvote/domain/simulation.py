"""Planning a simulated vote: who abstains, who votes for what, who votes twice.

Votes are allocated by exact quotas (largest remainders), not drawn at random, so a simulation
of the IAM's 2024 vote reproduces its published percentages exactly whatever the number of
members; a seeded shuffle decides which member casts which vote. Revoters first cast a ballot
for another answer, then the one that counts: the record holds both, the tally only the last.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from unionvote.domain.errors import DomainError

__all__ = ["Distribution", "VotePlan", "allocate", "parse_distribution", "plan_votes"]


@dataclass(frozen=True, slots=True)
class VotePlan:
    """One member's votes in order: the last one counts."""

    voter: int
    choices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Distribution:
    """Shares per answer label for each question of a stage, and the turnout behaviour."""

    shares: Mapping[str, Mapping[str, Fraction]]  # question id -> answer label -> share
    abstain: Fraction = Fraction(0)
    revote: Fraction = Fraction(0)

    def for_question(self, question_id: str, labels: Sequence[str]) -> list[Fraction]:
        """The shares in ballot order; an answer the file does not name gets none."""
        given = self.shares.get(question_id)
        if given is None:
            raise DomainError(
                "simulation.question", f"the distribution gives no shares for {question_id!r}"
            )
        unknown = sorted(set(given) - set(labels))
        if unknown:
            raise DomainError(
                "simulation.answer",
                f"{question_id}: not on the ballot: {', '.join(unknown)}",
            )
        return [given.get(label, Fraction(0)) for label in labels]


def _fraction(value: object, where: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DomainError("simulation.share", f"{where}: a share is a number, not {value!r}")
    try:
        share = Fraction(str(value))
    except ValueError as error:
        raise DomainError("simulation.share", f"{where}: {value!r} is not a number") from error
    if share < 0:
        raise DomainError("simulation.share", f"{where}: a share cannot be negative")
    return share


def parse_distribution(text: str, *, stage: str, source: str = "<distribution>") -> Distribution:
    """Read ``[<stage>]`` from a TOML file::

    [membership-vote]
    abstain = 20    # percent of the registered who do not vote
    revote = 3      # percent of voters who vote twice (the last ballot counts)
    [membership-vote.shares.president]
    "Joe Biden" = 61
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DomainError("simulation.file", f"{source}: {error}") from error
    table = data.get(stage)
    if not isinstance(table, dict):
        raise DomainError("simulation.stage", f"{source}: no [{stage}] table")
    shares_table = table.get("shares")
    if not isinstance(shares_table, dict) or not shares_table:
        raise DomainError("simulation.shares", f"{source}: [{stage}.shares] is missing")
    shares: dict[str, dict[str, Fraction]] = {}
    for question, answers in shares_table.items():
        if not isinstance(answers, dict):
            raise DomainError("simulation.shares", f"{source}: [{stage}.shares.{question}]")
        shares[question] = {
            label: _fraction(value, f"{source}: {stage}.{question}.{label}")
            for label, value in answers.items()
        }
        if sum(shares[question].values()) <= 0:
            raise DomainError("simulation.shares", f"{source}: {question}: the shares are all 0")
    percent = Fraction(100)
    abstain = _fraction(table.get("abstain", 0), f"{source}: {stage}.abstain") / percent
    revote = _fraction(table.get("revote", 0), f"{source}: {stage}.revote") / percent
    if abstain > 1 or revote > 1:
        raise DomainError("simulation.rate", f"{source}: abstain and revote are percentages")
    return Distribution(shares, abstain, revote)


def allocate(total: int, shares: Sequence[Fraction]) -> list[int]:
    """Split ``total`` votes in proportion to ``shares`` exactly: largest remainders, ties to
    the earlier answer. The counts add up to ``total``."""
    weight = sum(shares)
    if total < 0 or weight <= 0:
        raise DomainError("simulation.shares", "nothing to allocate")
    quotas = [total * s / weight for s in shares]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(shares)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def plan_votes(
    voters: int,
    shares: Sequence[Fraction],
    *,
    abstain: Fraction = Fraction(0),
    revote: Fraction = Fraction(0),
    seed: int = 0,
) -> list[VotePlan]:
    """Who votes for what, in a shuffled order of casting. Exactly ``round(voters × abstain)``
    members abstain, the final choices follow ``shares`` by exact quotas, and
    ``round(voting × revote)`` voters first cast a ballot for another answer."""
    shuffle = random.Random(seed)
    voting = voters - round(voters * abstain)
    finals = [i for i, n in enumerate(allocate(voting, shares)) for _ in range(n)]
    shuffle.shuffle(finals)
    who = sorted(shuffle.sample(range(voters), voting))
    revoters = set(shuffle.sample(range(voting), round(voting * revote)))
    plans = []
    for k, (voter, final) in enumerate(zip(who, finals, strict=True)):
        earlier: tuple[int, ...] = ()
        if k in revoters and len(shares) > 1:
            other = shuffle.randrange(len(shares) - 1)
            earlier = (other if other < final else other + 1,)
        plans.append(VotePlan(voter, (*earlier, final)))
    shuffle.shuffle(plans)
    return plans
