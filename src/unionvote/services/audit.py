"""Reading the audit log: every action, who took it and when, oldest first."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from unionvote.services.context import Services
from unionvote.storage.models import AuditEntry

__all__ = ["AuditLine", "audit_log"]


@dataclass(frozen=True, slots=True)
class AuditLine:
    number: int
    at: datetime.datetime
    actor: str
    action: str
    subject: str
    detail: str


def audit_log(
    services: Services, *, action: str | None = None, since: int = 0, limit: int | None = None
) -> Iterator[AuditLine]:
    """Entries after number ``since``; ``action`` keeps those whose action starts with it
    (``ballot.`` or ``registration.register``)."""
    query = select(AuditEntry).where(AuditEntry.id > since).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    with services.db.sessions() as session:
        for row in session.scalars(query).yield_per(1000):
            yield AuditLine(row.id, row.at, row.actor, row.action, row.subject, row.detail)
