"""Bounce notices that arrive later by email: ``do_record_bounces`` reads RFC 3464
delivery-status notifications from an mbox file or a maildir with the credential authority's
parser, records each bounced campaign contact dated by the notice itself (audited), names the
addresses it could not match, and records nothing new when the same mail is read again (SQLite
and PostgreSQL); ``unionvote questionnaire bounces`` does the same from the terminal."""

from __future__ import annotations

import datetime
import json
import mailbox
import sys
from pathlib import Path

import pytest
from questionnaire_support import CONTACT, KEY, START, setup_questionnaire, smtp_server
from sqlalchemy import select
from typer.testing import CliRunner

from unionvote.authority import AuthorityError
from unionvote.cli.context import open_services
from unionvote.cli.main import app
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import do_record_bounces, overview
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "authority"))
from test_bounces import dsn  # the authority's DSN examples, reused

# The notice's own date: a day after the links went, written in -05:00.
NOTICE_DATE = "Fri, 2 Feb 2024 09:30:00 -0500"
NOTICE_AT = datetime.datetime(2024, 2, 2, 14, 30, tzinfo=datetime.UTC)
# The authority's example has no Date header: its report's Arrival-Date is used.
ARRIVAL_AT = datetime.datetime(2024, 4, 2, 10, 0, tzinfo=datetime.UTC)


def _mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    box.add(f"Date: {NOTICE_DATE}\n".encode() + dsn(CONTACT["hale"], number=1))
    box.add(dsn(CONTACT["okafor"], message_id="<m2@union.example>", returned="message", number=2))
    box.add(dsn("stranger@else.example", number=3))
    box.add(dsn(CONTACT["brandt"], action="delayed", number=4))  # not a bounce
    box.add(b"From: someone@union.example\nSubject: hello\n\nNot a notice.\n")
    box.flush()
    box.close()
    return path


def _bounced(services: Services) -> dict[str, list[tuple[datetime.datetime, str]]]:
    return {
        c.candidate_key: [(e.at, e.detail) for e in c.events if e.kind == "bounced"]
        for c in overview(services, KEY).campaigns
    }


def test_bounce_notices_are_recorded_with_their_own_date_once(
    database: Database, tmp_path: Path
) -> None:
    clock = FixedClock(START)
    services = Services(database, clock)
    with smtp_server() as (inbox, mailer):
        setup_questionnaire(services, mailer, inbox)
    clock.advance(days=10)  # read ten days after sending: the notices' dates are kept
    path = _mbox(tmp_path / "bounces.mbox")

    report = do_record_bounces(services, KEY, path)
    assert report.notifications == 3  # the delayed report and the plain mail are no bounces
    assert [(r.candidate_key, r.email, r.at) for r in report.recorded] == [
        ("hale", CONTACT["hale"], NOTICE_AT),
        ("okafor", CONTACT["okafor"], ARRIVAL_AT),
    ]
    assert report.unmatched == ("stranger@else.example",) and report.already == 0
    bounced = _bounced(services)
    assert [at for at, _ in bounced["hale"]] == [NOTICE_AT]
    assert bounced["hale"][0][1].startswith(f"{CONTACT['hale']}: delivery-status notification")
    assert "5.1.1" in bounced["hale"][0][1]
    assert [at for at, _ in bounced["okafor"]] == [ARRIVAL_AT]
    assert bounced["rivera"] == [] and bounced["brandt"] == []
    details = {c.candidate_key: c for c in overview(services, KEY).campaigns}
    hale = next(d for d in details["hale"].contact_details if d.email == CONTACT["hale"])
    assert hale.bounced_at == NOTICE_AT
    with services.db.transaction() as session:
        audits = [
            json.loads(a.detail)
            for a in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "questionnaire.bounce")
            )
        ]
    assert sorted(a["email"] for a in audits) == sorted([CONTACT["hale"], CONTACT["okafor"]])
    assert {a["notified_at"] for a in audits} == {NOTICE_AT.isoformat(), ARRIVAL_AT.isoformat()}

    # Reading the same mbox again records nothing new.
    clock.advance(hours=1)
    again = do_record_bounces(services, KEY, path)
    assert again.recorded == () and again.already == 2
    assert again.unmatched == ("stranger@else.example",)
    assert _bounced(services) == bounced

    # A maildir is read the same way; a path that is neither is refused, nothing recorded.
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    maildir.add(dsn(CONTACT["rivera"], number=5))
    maildir.close()
    from_maildir = do_record_bounces(services, KEY, tmp_path / "Maildir")
    assert [r.candidate_key for r in from_maildir.recorded] == ["rivera"]
    with pytest.raises(AuthorityError) as refused:
        do_record_bounces(services, KEY, tmp_path / "missing.mbox")
    assert refused.value.check == "bounces.mailbox"


def test_the_bounces_command_reads_an_mbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'unionvote.db'}")
    services = open_services(create=True)
    services = Services(services.db, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        setup_questionnaire(services, mailer, inbox)
    path = _mbox(tmp_path / "bounces.mbox")
    runner = CliRunner()
    first = runner.invoke(app, ["questionnaire", "bounces", KEY, "--mbox", str(path)])
    assert first.exit_code == 0, first.output
    assert f"Bounced: {CONTACT['hale']} (campaign hale), notice of 2024-02-02 14:30 UTC." in (
        first.output
    )
    assert "3 bounce notice(s); recorded 2 bounce(s); 0 already recorded." in first.output
    assert "Not a contact of any campaign (nothing recorded): stranger@else.example" in (
        first.output
    )
    second = runner.invoke(app, ["questionnaire", "bounces", KEY, "--mbox", str(path)])
    assert second.exit_code == 0, second.output
    assert "recorded 0 bounce(s); 2 already recorded." in second.output
    both = runner.invoke(
        app, ["questionnaire", "bounces", KEY, "--mbox", str(path), "--maildir", str(tmp_path)]
    )
    assert both.exit_code == 1
    assert "exactly one of --mbox FILE or --maildir DIR" in both.output + both.stderr
    services.db.dispose()
