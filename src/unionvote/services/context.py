"""What every service runs with: the database, a clock and who is acting.

Each ``do_*`` function opens one transaction with :meth:`Services.transaction`, makes its
change, writes its audit entry with :meth:`Tx.audit` in that same transaction, and registers
side effects (mail) with :meth:`Tx.after_commit`, so nothing is sent for a change that was
rolled back.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry

__all__ = ["Clock", "FixedClock", "Services", "SystemClock", "Tx"]


class Clock(Protocol):
    def now(self) -> datetime.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)


@dataclass
class FixedClock:
    """A clock that only moves when told to: for tests and simulations."""

    current: datetime.datetime

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += datetime.timedelta(**delta)


@dataclass
class Tx:
    """One transaction: the session, the time it started, and who acts."""

    session: Session
    at: datetime.datetime
    actor: str
    _after: list[Callable[[], None]] = field(default_factory=list)

    def audit(self, action: str, subject: str = "", **detail: object) -> None:
        """Record the action in the audit log, in this transaction. Never pass a secret."""
        self.session.add(
            AuditEntry(
                at=self.at,
                actor=self.actor,
                action=action,
                subject=subject,
                detail=json.dumps(detail, sort_keys=True, default=str),
            )
        )

    def after_commit(self, effect: Callable[[], None]) -> None:
        self._after.append(effect)


@dataclass
class Services:
    """The composition root's bundle: built once by the CLI or the web app, passed to services."""

    db: Database
    clock: Clock = field(default_factory=SystemClock)
    actor: str = "committee"

    def acting_as(self, actor: str) -> Services:
        return Services(self.db, self.clock, actor)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.db.sessions() as session:
            with session.begin():
                tx = Tx(session, self.clock.now(), self.actor)
                yield tx
            for effect in tx._after:
                effect()
