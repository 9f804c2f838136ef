"""Delivering credentials by email, and recording what came of it.

One message per member, each outcome appended to the delivery log before the next message
goes out: a message accepted by the mail server is ``sent``; a recipient (or a message) it
refuses for good (a 5xx answer) is ``bounced``; anything else — a temporary problem (4xx,
connection lost) or a refusal of our login or sender — is ``failed``, tried again by
``send --only-unsent``, and five in a row stop the run. Bounces that come back later as
delivery-status notifications are recorded by :func:`record_bounces`; a member whose email
bounced gets a letter, or a ``resend`` to a corrected address.
"""

from __future__ import annotations

import datetime
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from unionvote.authority.bounces import read_bounces
from unionvote.authority.delivery_log import DeliveryEvent, DeliveryLog, MemberDelivery
from unionvote.authority.errors import AuthorityError
from unionvote.authority.templates import credential_mail, instructions
from unionvote.authority.workspace import Workspace, utc_now
from unionvote.mail import Mail, Mailer, MailError

__all__ = [
    "BounceSummary",
    "SendSummary",
    "record_bounces",
    "resend_credential",
    "send_credentials",
]

#: After this many temporary failures in a row the mail server is down: stop, resume later.
GIVE_UP_AFTER = 5


@dataclass
class SendSummary:
    sent: int = 0
    bounced: int = 0
    failed: int = 0
    skipped: int = 0  # already delivered (or bounced) in an earlier run
    no_email: int = 0  # no address on file: these members need a letter


@dataclass
class BounceSummary:
    notifications: int = 0  # messages read that were delivery-status notifications
    recorded: int = 0
    already: int = 0  # the same bounce was recorded before
    superseded: int = 0  # a bounce of a message since replaced by a resend to a new address
    unmatched: list[str] = field(default_factory=list)  # addresses naming no member here


def send_credentials(
    workspace: Workspace,
    mailer: Mailer,
    *,
    only_unsent: bool = False,
    contact: str = "",
    now: Callable[[], datetime.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
) -> SendSummary:
    """Email every member their credential (with ``only_unsent``: those not yet reached)."""
    log = DeliveryLog(workspace.deliveries_path)
    states = log.state()
    if not only_unsent and any(s.email_status is not None for s in states.values()):
        raise AuthorityError(
            "send.again",
            "credentials were already emailed from this workspace; use --only-unsent to "
            "continue an interrupted run, or `resend` for one member",
        )
    texts = {lang: instructions(workspace.info, lang, contact=contact) for lang in ("en", "es")}
    summary = SendSummary()
    failures_in_a_row = 0
    with log:
        for done, (member, credential) in enumerate(workspace.members(), start=1):
            state = states.get(member.card_number)
            address = (state.email_address if state else "") or member.email
            if not address:
                summary.no_email += 1
            elif state is not None and state.email_status in ("sent", "resent", "bounced"):
                summary.skipped += 1
            else:
                mail = credential_mail(texts[member.language], member, credential, to=address)
                event = _deliver(mailer, mail, member.card_number, "sent", now)
                log.append(event)
                if event.status == "failed":
                    summary.failed += 1
                    failures_in_a_row += 1
                    if failures_in_a_row >= GIVE_UP_AFTER:
                        raise AuthorityError(
                            "send.server",
                            f"the mail server failed {failures_in_a_row} times in a row "
                            f"({event.detail}); {summary.sent} sent so far. Run again with "
                            "--only-unsent once it works",
                        )
                else:
                    failures_in_a_row = 0
                    if event.status == "sent":
                        summary.sent += 1
                    else:
                        summary.bounced += 1
            if progress is not None:
                progress(done)
    return summary


def resend_credential(
    workspace: Workspace,
    mailer: Mailer,
    card_number: str,
    *,
    email: str | None = None,
    contact: str = "",
    now: Callable[[], datetime.datetime] = utc_now,
) -> DeliveryEvent:
    """Send one member's credential again, to ``email`` if given (a corrected address)."""
    member, credential = workspace.member(card_number)
    log = DeliveryLog(workspace.deliveries_path)
    state = log.state().get(card_number)
    address = email or (state.email_address if state else "") or member.email
    if not address:
        raise AuthorityError(
            "resend.address",
            f"card {card_number} has no email address; give one with --email or print a letter",
        )
    if "@" not in address or any(ch.isspace() for ch in address):
        raise AuthorityError("resend.address", f"{address!r} is not an email address")
    mail = credential_mail(
        instructions(workspace.info, member.language, contact=contact),
        member,
        credential,
        to=address,
    )
    event = _deliver(mailer, mail, card_number, "resent", now)
    with log:
        log.append(event)
    return event


def record_bounces(
    workspace: Workspace,
    mailbox: Path,
    *,
    now: Callable[[], datetime.datetime] = utc_now,
) -> BounceSummary:
    """Record as ``bounced`` each member a delivery-status notification in ``mailbox`` names,
    by the returned message's Message-ID, else by the address it failed to reach."""
    log = DeliveryLog(workspace.deliveries_path)
    states = log.state()
    by_message_id: dict[str, str] = {}
    by_address: dict[str, str] = {}
    for member in workspace.registered():
        state = states.get(member.card_number)
        for address in (member.email, state.email_address if state else ""):
            if address:
                by_address[address.lower()] = member.card_number
        if state is not None:
            for message_id in state.message_ids:
                by_message_id[message_id] = member.card_number
    summary = BounceSummary()
    with log:
        for _number, bounces in read_bounces(mailbox):
            if bounces:
                summary.notifications += 1
            for bounce in bounces:
                card = by_message_id.get(bounce.original_message_id) or by_address.get(
                    bounce.address.lower()
                )
                if card is None:
                    summary.unmatched.append(bounce.address)
                    continue
                state = states.setdefault(card, MemberDelivery())
                key = bounce.original_message_id or f"<address {bounce.address.lower()}>"
                if key in state.bounced_ids:
                    summary.already += 1
                    continue
                if not state.is_current(key, bounce.address):
                    summary.superseded += 1
                    continue
                event = DeliveryEvent(
                    card_number=card,
                    channel="email",
                    status="bounced",
                    at=now(),
                    detail=bounce.detail,
                    message_id=key,
                    to=bounce.address,
                )
                log.append(event)
                state.add(event)
                summary.recorded += 1
    return summary


def _deliver(
    mailer: Mailer,
    mail: Mail,
    card_number: str,
    success: str,
    now: Callable[[], datetime.datetime],
) -> DeliveryEvent:
    try:
        message_id = mailer.send(mail)
    except MailError as error:
        return DeliveryEvent(
            card_number=card_number,
            channel="email",
            status="bounced" if _refused_recipient(error) else "failed",
            at=now(),
            detail=error.detail,
            to=mail.to,
        )
    return DeliveryEvent(
        card_number=card_number,
        channel="email",
        status=success,
        at=now(),
        message_id=message_id,
        to=mail.to,
    )


def _refused_recipient(error: MailError) -> bool:
    """Whether the mail server permanently refused this message's recipient or content (a
    bounce), not us: a refused login, sender or relay would "bounce" every member, so those
    are failures that stop the run instead."""
    return error.permanent and isinstance(
        error.__cause__, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError
    )
