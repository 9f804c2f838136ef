"""Who may vote in a stage, as a rule of the process, and the published digest of a frozen
electorate.

The process's ``[eligibility]`` gives the countries, the dues statuses and a cutoff date: a
member is eligible when the roll lists them in one of those countries, with one of those dues
statuses, and joined on or before the cutoff (a member with no joined date is taken to have
joined before it: membership systems leave the date empty for long-standing members whose
paper records were never keyed in).

A council stage's electorate is ``council role: <role>``: the members in the roll who hold that
role. **The country and dues rules still apply to them; the cutoff does not.** A council
president who has moved abroad or fallen out of good standing should not decide for the union
(union constitutions require officers to be members in good standing), but the cutoff date
defines the *membership* vote's electorate: an officer's term says nothing about when they
joined, and whoever holds the role when the electorate is frozen votes.

The digest an observer recomputes is SHA-256 over this listing, in UTF-8::

    <the rule text, as :meth:`EligibilityRule.text` writes it, ending with a newline>
    <an empty line>
    <each eligible card number, sorted by code point (``LC_ALL=C sort``), one per line>

so that, from the same roll export and the same process file, anyone gets the same digest
(``recompute_digest``, or ``unionvote roll digest``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from unionvote.domain.errors import DomainError
from unionvote.domain.process import COUNCIL_ROLE, MEMBERS, Eligibility, Stage
from unionvote.domain.roll import RollRow, normalise_dues_status

__all__ = [
    "EligibilityRule",
    "electorate_document",
    "eligibility_digest",
    "eligibility_listing",
    "recompute_digest",
]

_COUNTRY_NAMES = {"US": "the United States", "CA": "Canada"}


def _country(code: str) -> str:
    name = _COUNTRY_NAMES.get(code)
    return f"{name} ({code})" if name else code


def _either(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


@dataclass(frozen=True, slots=True)
class EligibilityRule:
    """A stage's electorate rule; ``role`` is set for a council stage (then ``cutoff`` is None).

    Dues statuses are the normalised values of :class:`unionvote.domain.roll.DuesStatus`,
    countries ISO 3166 codes, the role lower case: the forms the roll import stores.
    """

    countries: tuple[str, ...]
    dues_statuses: tuple[str, ...]
    cutoff: datetime.date | None
    role: str | None = None

    @classmethod
    def for_stage(cls, eligibility: Eligibility, stage: Stage) -> EligibilityRule:
        """The rule of ``stage`` under the process's ``[eligibility]``."""
        statuses: list[str] = []
        for text in eligibility.dues_statuses:
            status = normalise_dues_status(text)
            if status is None:
                raise DomainError(
                    "eligibility.rule",
                    f"the process's eligibility names an unknown dues status {text!r}",
                )
            statuses.append(status.value)
        countries = tuple(sorted({c.strip().upper() for c in eligibility.countries}))
        if stage.electorate == MEMBERS:
            return cls(countries, tuple(sorted(set(statuses))), eligibility.cutoff)
        if stage.electorate.startswith(COUNCIL_ROLE):
            role = " ".join(stage.electorate[len(COUNCIL_ROLE) :].lower().split())
            return cls(countries, tuple(sorted(set(statuses))), None, role)
        raise DomainError(
            "eligibility.rule", f"stage {stage.id!r} has an unknown electorate {stage.electorate!r}"
        )

    @property
    def electorate(self) -> str:
        return MEMBERS if self.role is None else COUNCIL_ROLE + self.role

    def text(self) -> str:
        """The rule in canonical words, one ``name: value`` per line, ending with a newline."""
        lines = [
            f"electorate: {self.electorate}",
            f"countries: {', '.join(self.countries)}",
            f"dues statuses: {', '.join(self.dues_statuses)}",
        ]
        if self.cutoff is not None:
            lines.append(f"joined on or before: {self.cutoff.isoformat()}")
        return "\n".join(lines) + "\n"

    def reasons(
        self,
        *,
        country: str,
        dues_status: str,
        joined_on: datetime.date | None,
        council_role: str = "",
    ) -> tuple[str, ...]:
        """Why a member with these roll values is not eligible, in plain words; () if eligible."""
        out: list[str] = []
        if self.role is not None and council_role != self.role:
            out.append(f"this vote is only for members who hold the role of {self.role}")
        if country not in self.countries:
            out.append(
                f"only members in {_either(_country(c) for c in self.countries)} take part, "
                f"and the roll lists you in {_country(country)}"
            )
        if dues_status not in self.dues_statuses:
            out.append(
                f"only members whose dues status is {_either(self.dues_statuses)} take part, "
                f"and the roll lists yours as {dues_status}"
            )
        if self.cutoff is not None and joined_on is not None and joined_on > self.cutoff:
            out.append(
                f"you joined on {joined_on.isoformat()}, after the cutoff date "
                f"{self.cutoff.isoformat()}"
            )
        return tuple(out)

    def admits(
        self,
        *,
        country: str,
        dues_status: str,
        joined_on: datetime.date | None,
        council_role: str = "",
    ) -> bool:
        """True when a member with these roll values is in the electorate."""
        return (
            country in self.countries
            and dues_status in self.dues_statuses
            and (self.cutoff is None or joined_on is None or joined_on <= self.cutoff)
            and (self.role is None or council_role == self.role)
        )

    def admits_row(self, row: RollRow) -> bool:
        return self.admits(
            country=row.country,
            dues_status=row.dues_status,
            joined_on=row.joined_on,
            council_role=row.council_role,
        )


def eligibility_listing(
    cards: Iterable[str], rule: EligibilityRule, weights: Mapping[str, int] | None = None
) -> Iterable[bytes]:
    """The canonical listing the digest is computed over, piece by piece (see the module).

    In a weighted stage every line also carries the member's weight (``card,weight``), so the
    published digest fixes who votes *and* with how many votes."""
    yield rule.text().encode()
    if weights is not None:
        yield WEIGHTED_LINE.encode()
    yield b"\n"
    for card in sorted(cards):
        if weights is None:
            yield card.encode() + b"\n"
        else:
            yield f"{card},{weights[card]}\n".encode()


WEIGHTED_LINE = "weights: from the roll's weight column\n"


def eligibility_digest(
    cards: Iterable[str], rule: EligibilityRule, weights: Mapping[str, int] | None = None
) -> str:
    """SHA-256, hexadecimal, of :func:`eligibility_listing`."""
    digest = hashlib.sha256()
    for piece in eligibility_listing(cards, rule, weights):
        digest.update(piece)
    return digest.hexdigest()


def recompute_digest(
    rows: Iterable[RollRow], rule: EligibilityRule, *, weighted: bool = False
) -> tuple[str, int]:
    """An observer's check: the digest and the count of the electorate of a roll export."""
    admitted = [row for row in rows if rule.admits_row(row)]
    cards = [row.card_number for row in admitted]
    weights = None
    if weighted:
        missing = [row.card_number for row in admitted if row.weight is None]
        if missing:
            raise DomainError(
                "eligibility.weight",
                f"{len(missing)} member(s) of a weighted electorate have no weight, e.g. "
                + ", ".join(missing[:10]),
            )
        weights = {row.card_number: row.weight for row in admitted if row.weight is not None}
    return eligibility_digest(cards, rule, weights), len(cards)


def electorate_document(
    *, stage: str, rule: EligibilityRule, snapshot_digest: str, eligible: int, registered: int
) -> bytes:
    """``electorate.json``, published when a stage's electorate is final: canonical compact
    JSON (sorted keys, no spaces, UTF-8)."""
    document = {
        "stage": stage,
        "rule": rule.text(),
        "cutoff": rule.cutoff.isoformat() if rule.cutoff is not None else None,
        "snapshot_digest": snapshot_digest,
        "eligible": eligible,
        "registered": registered,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
