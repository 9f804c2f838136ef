"""``unionvote registration``: open the registration window, register a member (assisted, at a
union hall or on the phone), send a one-time code by email, close, and see the counts."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.mail import SMTPMailer
from unionvote.services.registration import (
    do_close_registration,
    do_open_registration,
    do_register,
    do_register_all,
    do_request_code,
    registration_stats,
)

__all__ = ["app"]

app = typer.Typer(
    name="registration",
    help="Registration of members for a stage: window, registering, one-time codes, counts.",
    no_args_is_help=True,
    add_completion=False,
)

StageArg = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")]
CardArg = Annotated[str, typer.Argument(help="The member's card number.", show_default=False)]


class Language(StrEnum):
    EN = "en"
    ES = "es"


def _time(text: str, option: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO time such as 2024-03-01T09:00-05:00")
    if value.tzinfo is None:
        fail(f"{option} {text!r} needs a time zone, such as 2024-03-01T09:00-05:00 or …Z")
    return value


def _when(at: datetime.datetime | None) -> str:
    return "—" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


@app.command("open")
def open_registration(
    stage: StageArg,
    opens: Annotated[
        str,
        typer.Option("--opens", help="When it opens (ISO, with time zone).", show_default=False),
    ],
    closes: Annotated[
        str,
        typer.Option("--closes", help="When it closes (ISO, with time zone).", show_default=False),
    ],
) -> None:
    """Open registration for a stage whose electorate is frozen (again: move the window)."""
    with errors():
        window = do_open_registration(
            open_services(),
            stage,
            opens_at=_time(opens, "--opens"),
            closes_at=_time(closes, "--closes"),
        )
        console.print(
            f"Registration for {escape(stage)}: from {_when(window.opens_at)} "
            f"until {_when(window.closes_at)}."
        )


@app.command()
def register(
    stage: StageArg,
    card: CardArg,
    last_name: Annotated[
        str | None, typer.Option("--last-name", help="The member's last name.")
    ] = None,
    postal_code: Annotated[
        str | None, typer.Option("--postal-code", help="The member's postal code.")
    ] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="The one-time code the member received.")
    ] = None,
) -> None:
    """Register a member with last name and postal code, or with their emailed code.

    Prints the answer the member gets; exits 0 when the member is registered (now or before).
    """
    with errors():
        outcome = do_register(
            open_services(),
            stage,
            card_number=card,
            last_name=last_name,
            postal_code=postal_code,
            code=code,
        )
        console.print(f"{outcome.outcome.value}: {escape(outcome.message)}")
        if not outcome.registered:
            raise typer.Exit(1)


@app.command("request-code")
def request_code(
    stage: StageArg,
    card: CardArg,
    smtp: Annotated[
        str, typer.Option("--smtp", help="The mail relay, HOST:PORT.", show_default=False)
    ],
    sender: Annotated[
        str, typer.Option("--from", help="The sender's address.", show_default=False)
    ],
    starttls: Annotated[bool, typer.Option(help="Use STARTTLS with the relay.")] = False,
    language: Annotated[
        Language, typer.Option("--language", help="The email's language.")
    ] = Language.EN,
) -> None:
    """Email a one-time registration code to the address the roll has for this card."""
    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--smtp {smtp!r}: expected HOST:PORT, such as localhost:25")
    mailer = SMTPMailer(host, int(port), sender, starttls=starttls)
    with errors():
        answer = do_request_code(open_services(), stage, card, mailer, language=language.value)
        console.print(escape(answer.message))


@app.command()
def close(stage: StageArg) -> None:
    """Close registration: the electorate is final and `electorate.json` is published."""
    with errors():
        closed = do_close_registration(open_services(), stage)
        console.print(
            f"Registration for {escape(stage)} closed: {closed.registered:,} registered of "
            f"{closed.eligible:,} eligible."
        )
        console.print(f"Election identifier: {closed.uuid}")
        console.print(f"electorate.json SHA-256: {closed.digest}")


@app.command("register-all")
def register_all(stage: StageArg) -> None:
    """Register every eligible member at once: for rehearsals and simulations only."""
    with errors():
        added = do_register_all(open_services(), stage)
        console.print(f"Registered {added:,} members of {escape(stage)}'s electorate.")


@app.command()
def status(stage: StageArg) -> None:
    """Where registration stands: the window, registrations and every attempt's outcome."""
    with errors():
        services = open_services()
        with services.db.transaction() as session:
            stats = registration_stats(session, stage)
        eligible = "not frozen yet" if stats.eligible is None else f"{stats.eligible:,}"
        console.print(f"Stage {escape(stage)}: {stats.status}")
        console.print(f"Window: {_when(stats.opens_at)} to {_when(stats.closes_at)}")
        console.print(f"Eligible: {eligible}   Registered: {stats.registered:,}")
        if stats.by_method:
            console.print(
                "By method: " + ", ".join(f"{k} {v:,}" for k, v in stats.by_method.items())
            )
        console.print("Attempts: " + ", ".join(f"{k} {v:,}" for k, v in stats.attempts.items()))
