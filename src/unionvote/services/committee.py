"""Views for the staff pages: a stage at a glance (roll, registration, credential delivery,
election), where the key ceremony stands for one trustee, and where the trustees' decryption
stands (read only); and :func:`do_open_election`, the election's setup from the finished
ceremony, as ``unionvote election setup`` does it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from unionvote.crypto.trustees import PedersenTrustees, key_owners
from unionvote.domain.errors import DomainError
from unionvote.services.context import Services
from unionvote.services.credentials import DeliveryStats, delivery_stats
from unionvote.services.elections import (
    ElectionStatus,
    do_setup_election,
    election_status,
    record_trustees,
)
from unionvote.services.process import load_process, stage_row
from unionvote.services.registration import RegistrationStats, registration_stats
from unionvote.services.roll import RollSummary, roll_summary
from unionvote.services.trustees import CeremonyStatus, ceremony_status, election_trustees
from unionvote.storage.models import ElectionRow, PartialDecryptionRow

__all__ = [
    "DecryptionProgress",
    "StageOverview",
    "TrusteeCeremony",
    "ceremony_overview",
    "decryption_progress",
    "do_open_election",
    "stage_overview",
    "trustee_ceremony",
]


@dataclass(frozen=True, slots=True)
class StageOverview:
    stage: str
    title: str
    status: str
    roll: RollSummary
    registration: RegistrationStats
    delivery: DeliveryStats
    election: ElectionStatus | None  # None before the election is set up


def stage_overview(services: Services, stage_key: str) -> StageOverview:
    with services.db.sessions() as session:
        row, stage = stage_row(session, stage_key)
        overview = (
            row.title or stage.title,
            row.status,
            roll_summary(session),
            registration_stats(session, stage_key),
            delivery_stats(session, stage_key),
        )
    try:
        election: ElectionStatus | None = election_status(services, stage_key)
    except DomainError:
        election = None
    return StageOverview(stage_key, *overview, election)


@dataclass(frozen=True, slots=True)
class DecryptionProgress:
    """Which trustees (by their number in the record's trustee list) have decrypted, and
    whose decryption is still needed before the result can be computed."""

    stage: str
    done: tuple[int, ...]
    required: tuple[int, ...]  # each of these must decrypt (the server, single trustees)
    group: tuple[int, ...]  # the threshold group's numbers, any ``threshold`` of them
    threshold: int

    @property
    def missing_required(self) -> tuple[int, ...]:
        return tuple(n for n in self.required if n not in self.done)

    @property
    def group_still_needed(self) -> int:
        return max(0, self.threshold - sum(1 for n in self.group if n in self.done))

    @property
    def complete(self) -> bool:
        return not self.missing_required and self.group_still_needed == 0


def decryption_progress(services: Services, stage_key: str) -> DecryptionProgress:
    items = record_trustees(services, stage_key)  # the record's own setup names its trustees
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage_key)
        done = session.scalars(
            select(PartialDecryptionRow.owner)
            .join(ElectionRow, ElectionRow.id == PartialDecryptionRow.election_id)
            .where(ElectionRow.stage_id == row.id)
            .order_by(PartialDecryptionRow.owner)
        ).all()
    required: list[int] = []
    group: list[int] = []
    threshold = 0
    for owner, item_index, _key in key_owners(items):
        item = items[item_index]
        if isinstance(item, PedersenTrustees):
            group.append(owner)
            threshold = item.threshold
        else:
            required.append(owner)
    return DecryptionProgress(stage_key, tuple(done), tuple(required), tuple(group), threshold)


# -- the key ceremony, as one trustee sees it -----------------------------------------------------

#: A threshold trustee's steps, in order, as ``ceremony_status`` names what each has done.
_STEPS: Final = ("certificate", "polynomial", "verification-key")
#: What the trustee runs to make each step's message (``unionvote trustee …``).
_COMMANDS: Final = {"certificate": "init", "polynomial": "polynomial",
                    "verification-key": "verification-key"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrusteeCeremony:
    """Where the stage's key ceremony stands for the trustee at ``position``, and their next
    step: ``init``, ``single-key``, ``polynomial``, ``verification-key`` (each sends a
    message), ``finish`` (record the final trustee list in their state file; sends nothing)
    or ``wait`` (for ``waiting_for``: other trustees by name; empty: for the committee, who
    finishes the ceremony)."""

    stage: str
    position: int
    name: str
    kind: str  # "pedersen" or "single"
    number: int | None  # in the threshold group, 1-based
    size: int
    threshold: int
    done: tuple[str, ...]
    next_step: str
    waiting_for: tuple[str, ...]
    finished: bool
    fingerprint: str | None
    status: CeremonyStatus


def ceremony_overview(services: Services, stage_key: str) -> CeremonyStatus:
    """The committee's view of the ceremony (read only)."""
    with services.db.sessions() as session:
        return ceremony_status(session, stage_key)


def trustee_ceremony(services: Services, stage_key: str, position: int) -> TrusteeCeremony:
    """The ceremony for one trustee; ``trustee.unknown`` if no trustee of the stage has that
    position (the server's own key is no one's to run)."""
    status = ceremony_overview(services, stage_key)
    me = next((t for t in status.trustees if t.position == position), None)
    if me is None or me.kind == "server":
        raise DomainError(
            "trustee.unknown",
            f"there is no trustee at position {position} in stage {stage_key!r}: ask the "
            "election committee to add you (unionvote trustees add)",
        )
    committee: tuple[str, ...] = ()  # waiting for no trustee: for the committee
    waiting: tuple[str, ...] = ()
    # Once this trustee is done: whoever has still to send their last message, else the
    # committee (who finishes the ceremony).
    still_missing = (
        tuple(
            t.name
            for t in status.trustees
            if (t.kind == "single" and "key" not in t.done)
            or (t.kind == "pedersen" and _STEPS[-1] not in t.done)
        )
        or committee
    )
    if status.finished:
        step = "finish"
    elif me.kind == "single":
        step, waiting = ("single-key", ()) if "key" not in me.done else ("wait", still_missing)
    else:
        group = [t for t in status.trustees if t.kind == "pedersen"]
        step, waiting = "wait", committee
        for i, name in enumerate(_STEPS):
            if name in me.done:
                continue
            before = [t.name for t in group if i and _STEPS[i - 1] not in t.done]
            step, waiting = ("wait", tuple(before)) if before else (_COMMANDS[name], ())
            break
        else:
            waiting = still_missing
    return TrusteeCeremony(
        stage_key,
        position,
        me.name,
        me.kind,
        me.number,
        status.size,
        status.threshold,
        me.done,
        step,
        waiting,
        status.finished,
        status.fingerprint,
        status,
    )


# -- opening the election -------------------------------------------------------------------------


def do_open_election(
    services: Services,
    stage_key: str,
    *,
    opens_at: datetime.datetime | None = None,
    closes_at: datetime.datetime | None = None,
) -> ElectionStatus:
    """Set up the stage's election from its finished key ceremony and open it for voting, as
    ``unionvote election setup`` does (the same name, description and checks); the window is
    the one given, else the stage's planned one."""
    with services.db.sessions() as session:
        process = load_process(session).process
        row, definition = stage_row(session, stage_key)
        trustees = election_trustees(session, row)
        opens = opens_at or row.voting_opens_at
        closes = closes_at or row.voting_closes_at
    if opens is None or closes is None:
        raise DomainError("setup.window", "give the voting window: when it opens and closes")
    return do_setup_election(
        services,
        stage_key,
        trustees=trustees,
        name=f"{process.short_name}: {definition.title}",
        description=process.union,
        voting_opens_at=opens,
        voting_closes_at=closes,
    )
