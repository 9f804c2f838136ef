"""``unionvote questionnaire``: the committee's candidate questionnaire from the terminal —
define it, enter or import the campaigns, send the personal links and reminders by SMTP, see
every campaign's status with its times, close it at the due date, open a correction, publish
the comparison (the file the endorsement record links to by hash), and list who may be in a
forum or on a ballot under the questionnaire's rule."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.domain.questionnaire import local_time
from unionvote.mail import SMTPMailer
from unionvote.services.questionnaire import (
    CampaignInput,
    ContactInput,
    SendReport,
    do_add_campaign,
    do_close,
    do_define_questionnaire,
    do_import_campaigns,
    do_open_correction,
    do_publish,
    do_record_bounce,
    do_record_bounces,
    do_send_links,
    do_send_reminders,
    overview,
    publication_view,
    published_view,
    questionnaires,
)
from unionvote.services.questionnaire_pdf import status_words
from unionvote.services.questionnaire_rule import Eligibility, eligibility

__all__ = ["app"]

app = typer.Typer(
    name="questionnaire",
    help="The candidate questionnaire: define, send, remind, track, close, publish.",
    no_args_is_help=True,
    add_completion=False,
)

KeyArg = Annotated[str, typer.Argument(help="The questionnaire's key, e.g. issues-2024.")]
CandidateArg = Annotated[str, typer.Argument(help="The campaign's key, e.g. rivera.")]
Smtp = Annotated[
    str,
    typer.Option(
        "--smtp",
        help="The mail relay, HOST:PORT (its login, if it needs one: UNIONVOTE_SMTP_USERNAME "
        "and UNIONVOTE_SMTP_PASSWORD).",
        show_default=False,
    ),
]
Sender = Annotated[str, typer.Option("--from", help="The sender's address.", show_default=False)]
StartTLS = Annotated[bool, typer.Option(help="Use STARTTLS with the relay.")]
BaseUrl = Annotated[
    str,
    typer.Option(
        "--base-url",
        help="The website's address; links are BASE/questionnaire/answer/<token>.",
        show_default=False,
    ),
]

STATUS_WORDS = {
    "answered": "Answered",
    "declined": "Declined to answer",
    "did-not-respond": "Did not respond",
    "awaiting": "Awaiting an answer",
}


def _when(at: datetime.datetime | None, zone: datetime.tzinfo) -> str:
    """A time in the questionnaire's zone (the offset its due date was written with), named:
    ``2024-03-01 23:59 UTC-05:00``, as on the website."""
    return "—" if at is None else local_time(at, zone)


def _mailer(smtp: str, sender: str, starttls: bool) -> SMTPMailer:
    """The relay; an authenticated one reads its login from UNIONVOTE_SMTP_USERNAME and
    UNIONVOTE_SMTP_PASSWORD, as ``unionvote serve`` does (never from the command line, where
    a password would be seen in the process list and the shell's history)."""
    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--smtp {smtp!r}: expected HOST:PORT, such as localhost:25")
    username = os.environ.get("UNIONVOTE_SMTP_USERNAME") or None
    password = os.environ.get("UNIONVOTE_SMTP_PASSWORD") or None
    if password is not None and username is None:
        fail("UNIONVOTE_SMTP_PASSWORD is set without UNIONVOTE_SMTP_USERNAME")
    return SMTPMailer(
        host, int(port), sender, starttls=starttls, username=username, password=password
    )


def _report(what: str, report: SendReport) -> None:
    console.print(
        f"{what}: {report.sent} sent, {report.bounced} bounced, {report.failed} not sent "
        f"(temporary), {report.skipped} campaign(s) skipped."
    )
    next_day = _when(report.next_reminder_at, report.zone) if report.next_reminder_at else None
    if report.not_due_yet:
        why = f"the next is on {next_day}" if next_day else "the file sets no reminder day"
        console.print(
            f"{report.not_due_yet} campaign(s) not reminded: no reminder day has come yet; {why}."
        )
    if report.reminded_already:
        console.print(
            f"{report.reminded_already} campaign(s) already sent a link or reminder since the "
            "latest reminder day" + (f"; the next is on {next_day}." if next_day else ".")
        )
    if report.bounced or report.failed:
        raise typer.Exit(1)


@app.command()
def define(
    file: Annotated[
        Path, typer.Argument(help="The questionnaire file (TOML).", show_default=False)
    ],
) -> None:
    """Define a questionnaire from its file, or replace it by a higher version."""
    if not file.is_file():
        fail(f"{file} is not a file")
    with errors():
        defined = do_define_questionnaire(
            open_services(), file.read_text(encoding="utf-8"), source=file.name
        )
        verb = "Replaced by" if defined.replaced else "Defined"
        console.print(
            f"{verb} {escape(defined.key)} version {defined.version}: "
            f"{escape(defined.title)}, due {_when(defined.due_at, defined.zone)}."
        )
        console.print(f"SHA-256 of the file: {defined.digest}")


@app.command("add-campaign")
def add_campaign(
    key: KeyArg,
    candidate: CandidateArg,
    name: Annotated[str, typer.Option(help="The candidate's name.", show_default=False)],
    party: Annotated[str, typer.Option(help="The candidate's party.", show_default=False)],
    contact_name: Annotated[
        str, typer.Option(help="The campaign contact's name.", show_default=False)
    ],
    contact_email: Annotated[
        str, typer.Option(help="The campaign contact's email address.", show_default=False)
    ],
    office: Annotated[
        str, typer.Option(help="The office sought (default: the questionnaire's).")
    ] = "",
    language: Annotated[str, typer.Option(help="The contact's language: en or es.")] = "en",
) -> None:
    """Enter a campaign (again: update it and add the contact)."""
    with errors():
        services = open_services()
        do_add_campaign(
            services,
            key,
            CampaignInput(
                candidate,
                name,
                party,
                office,
                (ContactInput(contact_name, contact_email, language),),
            ),
        )
        console.print(f"Campaign {escape(candidate)} entered for {escape(key)}.")


@app.command("import")
def import_campaigns(
    key: KeyArg,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: key,name,party,office,contact_name,contact_email,language "
            "(one row per contact).",
            show_default=False,
        ),
    ],
) -> None:
    """Import campaigns from CSV: all of them, or none if any row has a problem."""
    if not file.is_file():
        fail(f"{file} is not a file")
    with errors():
        done = do_import_campaigns(
            open_services(), key, file.read_text(encoding="utf-8"), source=file.name
        )
        console.print(f"Imported: {done.added} campaign(s) added, {done.updated} updated.")


@app.command()
def send(
    key: KeyArg,
    smtp: Smtp,
    sender: Sender,
    base_url: BaseUrl,
    starttls: StartTLS = False,
    candidate: Annotated[
        str | None,
        typer.Option(help="Send this campaign a new link that replaces its earlier ones."),
    ] = None,
) -> None:
    """Email each campaign not yet sent its personal link (or one campaign a new link)."""
    mailer = _mailer(smtp, sender, starttls)
    with errors():
        report = do_send_links(open_services(), key, mailer, base_url=base_url, candidate=candidate)
    _report("Links", report)


@app.command()
def remind(
    key: KeyArg, smtp: Smtp, sender: Sender, base_url: BaseUrl, starttls: StartTLS = False
) -> None:
    """Remind the campaigns that have not answered, on the reminder days the file sets
    (run it daily: each reminder goes once)."""
    mailer = _mailer(smtp, sender, starttls)
    with errors():
        report = do_send_reminders(open_services(), key, mailer, base_url=base_url)
    _report("Reminders", report)


@app.command()
def bounce(
    key: KeyArg,
    candidate: CandidateArg,
    email: Annotated[str, typer.Argument(help="The address that bounced.", show_default=False)],
    detail: Annotated[str, typer.Argument(help="What the bounce said.")] = "",
) -> None:
    """Record a bounce that came back after sending."""
    with errors():
        do_record_bounce(open_services(), key, candidate, email, detail)
        console.print(f"Recorded the bounce of {escape(email)}.")


@app.command()
def bounces(
    key: KeyArg,
    mbox: Annotated[
        Path | None,
        typer.Option("--mbox", help="An mbox file holding the bounce notices.", show_default=False),
    ] = None,
    maildir: Annotated[
        Path | None,
        typer.Option("--maildir", help="A maildir holding the bounce notices.", show_default=False),
    ] = None,
) -> None:
    """Record the bounces that came back later by email: each delivery-status notification in
    the mbox or maildir marks the campaign contact it names as bounced, dated by the notice.
    Reading the same mail again records nothing new."""
    if (mbox is None) == (maildir is None):
        fail("give exactly one of --mbox FILE or --maildir DIR")
    path = mbox if mbox is not None else maildir
    assert path is not None
    if maildir is not None and not path.is_dir():
        fail(f"bounces.mailbox: {path} is not a maildir")
    if mbox is not None and not path.is_file():
        fail(f"bounces.mailbox: no such mbox file: {path}")
    with errors():
        report = do_record_bounces(open_services(), key, path)
        for item in report.recorded:
            console.print(
                f"Bounced: {escape(item.email)} (campaign {escape(item.candidate_key)}), "
                f"notice of {_when(item.at, report.zone)}."
            )
    console.print(
        f"{report.notifications} bounce notice(s); recorded {len(report.recorded)} bounce(s); "
        f"{report.already} already recorded."
    )
    if report.unmatched:
        console.print(
            "Not a contact of any campaign (nothing recorded): "
            + ", ".join(escape(a) for a in report.unmatched)
        )


@app.command()
def close(key: KeyArg) -> None:
    """After the due date: record "no response" for the campaigns that did not answer."""
    with errors():
        closed = do_close(open_services(), key)
        missing = ", ".join(closed.no_response) or "none"
        console.print(f"Closed {escape(key)}. No response from: {escape(missing)}.")


@app.command()
def correct(
    key: KeyArg,
    candidate: CandidateArg,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).", show_default=False)],
) -> None:
    """Let a campaign that submitted (or declined) send a new version; earlier versions
    stay on the record."""
    with errors():
        do_open_correction(open_services(), key, candidate, reason)
        console.print(f"A correction is open for {escape(candidate)}.")


@app.command("list")
def list_questionnaires() -> None:
    """Every questionnaire with its counts."""
    with errors():
        for q in questionnaires(open_services()):
            console.print(
                f"{escape(q.key)} (version {q.version}): {escape(q.title)} — due "
                f"{_when(q.due_at, q.zone)}, {q.policy}; {q.campaigns} campaign(s), "
                f"{q.submitted} answered, {q.declined} declined; published "
                f"{_when(q.published_at, q.zone)}"
            )


@app.command()
def status(key: KeyArg) -> None:
    """Every campaign's status, with the time of each step."""
    with errors():
        view = overview(open_services(), key)
        console.print(
            f"{escape(view.title)} (version {view.version}), due {_when(view.due_at, view.zone)}, "
            f"publication: {view.policy}"
            + (", only campaigns that answered may be in a forum" if view.forum_rule else "")
        )
        for c in view.campaigns:
            steps = [
                (word, at)
                for word, at in (
                    ("sent", c.sent_at),
                    ("bounced", c.bounced_at),
                    ("opened", c.opened_at),
                    ("draft saved", c.draft_saved_at),
                    ("submitted", c.submitted_at),
                    ("declined", c.declined_at),
                    ("no response by", c.no_response_at),
                )
                if at is not None
            ]
            times = (
                "; ".join(f"{word} {_when(at, view.zone)}" for word, at in steps)
                or "nothing sent yet"
            )
            extra = f"; {c.reminders} reminder(s)" if c.reminders else ""
            extra += f"; version {c.response_version}" if c.response_version > 1 else ""
            console.print(
                f"{escape(c.name)} ({escape(c.candidate_key)}, {escape(c.party)}): "
                f"[bold]{c.status}[/] — {times}{extra}"
            )


@app.command()
def show(
    key: KeyArg,
    language: Annotated[str, typer.Option(help="en or es.")] = "en",
    committee: Annotated[
        bool, typer.Option(help="Show everything, whatever the publication policy.")
    ] = False,
) -> None:
    """The comparison as members read it: the latest published file (or, with --committee,
    everything, live, whatever the publication policy)."""
    if language not in ("en", "es"):
        fail(f"--language {language!r}: expected en or es")
    with errors():
        services = open_services()
        if committee:
            view = publication_view(services, key, language=language, committee=True)
            console.print(
                "Live answers, as the committee sees them (members read the published file)."
            )
        else:
            view = published_view(services, key, language=language)
            if view.published is not None:
                console.print(
                    f"As published on {_when(view.published.published_at, view.zone)} "
                    f"({view.published.name}, SHA-256 {view.published.sha256})."
                )
        console.print(f"[bold]{escape(view.title)}[/]")
        words = status_words(language)
        for c in view.candidates:
            console.print(
                f"\n[bold]{escape(c.name)}[/] ({escape(c.party)}): "
                f"{words.get(c.status, STATUS_WORDS[c.status])}"
                + (f", version {c.version}" if c.version > 1 else "")
            )
            if c.decline_reason:
                console.print(f"  {escape(c.decline_reason)}")
            if c.answers is not None:
                for question, answer in zip(view.questions, c.answers, strict=True):
                    console.print(f"  {escape(question.text)}\n    {escape(answer.display)}")


@app.command()
def publish(
    key: KeyArg,
    out: Annotated[
        Path | None, typer.Option(help="A directory to write the published file to.")
    ] = None,
    early: Annotated[
        bool,
        typer.Option(
            "--early",
            help="Publish before the due date on purpose (campaigns still answering will "
            "read their rivals' answers); refused without it.",
        ),
    ] = False,
) -> None:
    """Publish the comparison (under the policy); prints its SHA-256 for the endorsement
    record. Refused before the due date unless --early."""
    with errors():
        published = do_publish(open_services(), key, early=early)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / published.name).write_bytes(published.content)
            console.print(f"Wrote {escape(str(out / published.name))}")
        console.print(f"Published {published.name}, SHA-256 {published.sha256}")


def _eligibility_json(found: Eligibility) -> str:
    """The list as JSON (sorted keys, UTF-8): every campaign, whether it may take
    part and why, and each version it submitted with its time (UTC) and SHA-256."""
    document = {
        "format": "unionvote-questionnaire-eligibility/1",
        "questionnaire": found.key,
        "title": found.title,
        "rule": "answered-only" if found.rule else "none",
        "campaigns": [
            {
                "key": c.candidate_key,
                "name": c.name,
                "party": c.party,
                "may_take_part": c.eligible,
                "status": c.status,
                "reason": c.reason,
                "versions": [
                    {
                        "version": v.version,
                        "submitted_at": v.submitted_at.astimezone(datetime.UTC).isoformat(),
                        "answers_sha256": v.digest,
                    }
                    for v in c.versions
                ],
            }
            for c in found.campaigns
        ],
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)


@app.command()
def eligible(
    key: KeyArg,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the list as JSON (for a forum's organisers or a spreadsheet): each "
            "campaign, whether it may take part and why, and the versions it submitted.",
        ),
    ] = False,
) -> None:
    """Who may be in a candidate forum or on a ballot under the questionnaire's rule
    (answer_required_for_forum), and who may not and why; with the versions each campaign
    submitted."""
    with errors():
        found = eligibility(open_services(), key)
    if as_json:
        typer.echo(_eligibility_json(found))
        return
    console.print(f"[bold]{escape(found.title)}[/]")
    if found.rule:
        console.print("Rule: only candidates who answered may be in a forum or on a ballot.")
    else:
        console.print("Rule: none — answering is not a condition; every candidate may take part.")
    for heading, group in (("May take part", found.allowed), ("May not take part", found.kept_out)):
        console.print(f"\n{heading} ({len(group)}):")
        for c in group:
            console.print(
                f"  {escape(c.name)} ({escape(c.candidate_key)}, {escape(c.party)}): "
                f"{escape(c.reason)}"
            )
            for v in reversed(c.versions):  # the latest first: the one members read
                console.print(
                    f"    version {v.version}, submitted {local_time(v.submitted_at, found.zone)}"
                    f", SHA-256 {v.digest}"
                )
        if not group:
            console.print("  nobody")
