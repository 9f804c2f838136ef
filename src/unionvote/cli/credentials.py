"""Two command groups around credentials.

``unionvote credentials …`` (:data:`app`) is the independent credential authority's tool: it
runs on the authority's machine, uses no server database, and works in a directory only the
authority can read. ``unionvote electorate …`` (:data:`server_app`) is the committee's side:
export the registered members, import the public credentials and the delivery log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from unionvote.authority import (
    SELECTIONS,
    DeliveryLog,
    RegisteredHeader,
    Workspace,
    generate_workspace,
    print_letters,
    record_bounces,
    resend_credential,
    send_credentials,
)
from unionvote.cli.context import console, errors, fail, open_services
from unionvote.mail import SMTPMailer
from unionvote.services.credentials import (
    delivery_stats,
    do_export_registered,
    do_import_deliveries,
    do_import_public_credentials,
)

__all__ = ["app", "server_app"]

PASSWORD_ENV = "UNIONVOTE_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a password)

app = typer.Typer(
    name="credentials",
    help="The independent credential authority: make credentials and deliver them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_app = typer.Typer(
    name="electorate",
    help="The server's side of credentials: export the registered members, import the public "
    "credentials and the delivery log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Directory = Annotated[
    Path, typer.Option("--dir", help="The authority's workspace directory.", show_default=False)
]
Smtp = Annotated[
    str, typer.Option("--smtp", help="The mail server, HOST:PORT.", show_default=False)
]
Sender = Annotated[str, typer.Option("--from", help="The sender's address.", show_default=False)]
StartTls = Annotated[bool, typer.Option("--starttls", help="Use STARTTLS.")]
User = Annotated[
    str | None,
    typer.Option("--user", help=f"Log in as this user (password from ${PASSWORD_ENV})."),
]
Contact = Annotated[
    str,
    typer.Option("--contact", help="Whom members write to if a credential was not meant for them."),
]


@contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        progress.add_task(description, total=total)
        yield progress


def _mailer(smtp: str, sender: str, starttls: bool, user: str | None) -> SMTPMailer:
    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        fail(f"--smtp must be HOST:PORT, not {smtp!r}")
    if "@" not in sender:
        fail(f"--from must be an email address, not {sender!r}")
    password = None
    if user is not None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = typer.prompt(f"SMTP password for {user}", hide_input=True)
    return SMTPMailer(
        host=host,
        port=int(port),
        sender=sender,
        starttls=starttls,
        username=user,
        password=password,
    )


# -- the authority ------------------------------------------------------------------------------


@app.command()
def generate(
    registered: Annotated[
        Path,
        typer.Option(help="registered.csv as the server exported it.", show_default=False),
    ],
    directory: Directory,
    vote_url: Annotated[
        str, typer.Option("--vote-url", help="The voting page, as members will be told.")
    ] = "",
    contact: Contact = "",
    workers: Annotated[
        int, typer.Option(min=0, help="Processes deriving credentials (0: one per core).")
    ] = 0,
) -> None:
    """Make one private credential per registered member in a new workspace, and the public
    list for the server (public-credentials.json)."""
    with errors():
        if not registered.is_file():
            fail(f"no such file: {registered}")
        with _progress("Making credentials") as progress:
            task = progress.task_ids[0]

            def started(header: RegisteredHeader) -> None:
                progress.update(task, total=header.count)

            workspace = generate_workspace(
                registered,
                directory,
                vote_url=vote_url,
                contact=contact,
                workers=workers or os.cpu_count() or 1,
                started=started,
                progress=lambda done: progress.update(task, completed=done),
            )
        info = workspace.info
        console.print(f"{info.count} credentials made for {info.election} (election {info.uuid}).")
        console.print(f"Private credentials: {workspace.private_path} (keep it here, never share)")
        console.print(f"For the server:      {workspace.public_path}")


@app.command()
def send(
    directory: Directory,
    smtp: Smtp,
    sender: Sender,
    starttls: StartTls = False,
    user: User = None,
    only_unsent: Annotated[
        bool,
        typer.Option("--only-unsent", help="Send only to members not reached yet (resume)."),
    ] = False,
    contact: Contact = "",
) -> None:
    """Email every member their credential; every outcome goes to deliveries.jsonl."""
    with errors():
        workspace = Workspace.open(directory)
        mailer = _mailer(smtp, sender, starttls, user)
        with _progress("Sending credentials", workspace.info.count) as progress:
            summary = send_credentials(
                workspace,
                mailer,
                only_unsent=only_unsent,
                contact=contact or workspace.info.contact or sender,
                progress=lambda done: progress.update(progress.task_ids[0], completed=done),
            )
        console.print(
            f"{summary.sent} sent, {summary.bounced} refused by the mail server (bounced), "
            f"{summary.failed} failed for now, {summary.skipped} already done, "
            f"{summary.no_email} without an email address."
        )
        if summary.failed:
            console.print("Run again with --only-unsent to retry the failed ones.")
        if summary.bounced or summary.no_email:
            console.print(
                "Members not reachable by email get a letter: "
                f"unionvote credentials letters --dir {directory} --only bounced --out …"
            )


@app.command()
def bounces(
    directory: Directory,
    mbox: Annotated[
        Path,
        typer.Option(help="The bounces: an mbox file or a maildir directory.", show_default=False),
    ],
) -> None:
    """Record the delivery-status notifications (bounces) the mail server sent back."""
    with errors():
        workspace = Workspace.open(directory)
        summary = record_bounces(workspace, mbox)
        console.print(
            f"{summary.notifications} bounce notifications read: {summary.recorded} recorded, "
            f"{summary.already} already recorded, {summary.superseded} about an address since "
            f"replaced, {len(summary.unmatched)} not matching any member."
        )
        for address in summary.unmatched[:20]:
            console.print(f"  no member with {address}")


@app.command()
def resend(
    directory: Directory,
    card: Annotated[str, typer.Argument(help="The member's card number.", show_default=False)],
    smtp: Smtp,
    sender: Sender,
    email: Annotated[str | None, typer.Option("--email", help="Send to this new address.")] = None,
    starttls: StartTls = False,
    user: User = None,
    contact: Contact = "",
) -> None:
    """Send one member's credential again, to a corrected address if given."""
    with errors():
        workspace = Workspace.open(directory)
        mailer = _mailer(smtp, sender, starttls, user)
        event = resend_credential(
            workspace,
            mailer,
            card,
            email=email,
            contact=contact or workspace.info.contact or sender,
        )
        if event.status != "resent":
            fail(f"card {card}: {event.status}: {event.detail}")
        console.print(f"Card {card}: credential sent again to {event.to}.")


@app.command()
def letters(
    directory: Directory,
    out: Annotated[
        Path, typer.Option(help="The PDF to write (split in numbered files when large).")
    ],
    only: Annotated[
        str,
        typer.Option(
            help="all members, or those email did not reach (bounced or no address).",
        ),
    ] = "all",
    pages_per_file: Annotated[int, typer.Option(min=1, help="Pages per PDF file.")] = 5000,
    contact: Contact = "",
    workers: Annotated[
        int,
        typer.Option(min=0, help="Processes printing the files at once (0: one per core)."),
    ] = 0,
) -> None:
    """Print letters for postal mail: one page per member, for a window envelope."""
    with errors():
        if only not in SELECTIONS:
            fail(f"--only is one of: {', '.join(SELECTIONS)}")
        workspace = Workspace.open(directory)
        total = workspace.info.count if only == "all" else None
        with _progress("Printing letters", total) as progress:
            run = print_letters(
                workspace,
                out,
                only=only,
                contact=contact,
                pages_per_file=pages_per_file,
                workers=workers or os.cpu_count() or 1,
                progress=lambda done: progress.update(progress.task_ids[0], completed=done),
            )
        if not run.files:
            console.print("No member needs a letter.")
        for path in run.files:
            console.print(f"Wrote {path}")
        if run.files:
            console.print(f"{run.letters} letters. The files hold credentials: print, then delete.")


@app.command()
def status(directory: Directory) -> None:
    """Where delivery stands, from the workspace's log."""
    with errors():
        workspace = Workspace.open(directory)
        states = DeliveryLog(workspace.deliveries_path).state()
        counts: dict[str, int] = {}
        for state in states.values():
            if state.email_status is not None:
                counts[state.email_status] = counts.get(state.email_status, 0) + 1
        printed = sum(1 for s in states.values() if s.printed)
        reached = sum(1 for s in states.values() if s.reached_by_email or s.printed)
        console.print(f"{workspace.info.election} (election {workspace.info.uuid})")
        console.print(f"  members:  {workspace.info.count}")
        for name in ("sent", "resent", "bounced", "failed"):
            console.print(f"  email {name + ':':<9}{counts.get(name, 0)}")
        console.print(f"  letters:  {printed}")
        console.print(f"  unreached: {workspace.info.count - reached}")


# -- the server ---------------------------------------------------------------------------------

Stage = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.", show_default=False)]


@server_app.command("export")
def export(
    stage: Stage,
    out: Annotated[Path, typer.Option(help="Where to write registered.csv.", show_default=False)],
) -> None:
    """Export the registered members for the credential authority (registered.csv)."""
    with errors():
        services = open_services()
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fail(f"{out} exists; refusing to overwrite it")
        except OSError as error:
            fail(f"cannot write {out}: {error.strerror}")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                count = do_export_registered(services, stage, stream)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        console.print(f"{count} registered members of {stage} written to {out}.")
        console.print("Hand it to the credential authority: it holds members' addresses.")


@server_app.command("import-credentials")
def import_credentials(
    stage: Stage,
    file: Annotated[
        Path, typer.Argument(help="The authority's public-credentials.json.", show_default=False)
    ],
    replace: Annotated[
        bool, typer.Option(help="Replace credentials imported before (before setup only).")
    ] = False,
) -> None:
    """Store the public credentials; the stage is then ready for its election's setup."""
    with errors():
        services = open_services()
        if not file.is_file():
            fail(f"no such file: {file}")
        with file.open("rb") as stream:
            done = do_import_public_credentials(services, stage, stream, replace=replace)
        verb = "replaced" if done.replaced else "imported"
        console.print(
            f"{done.count} public credentials {verb} for {stage} (election {done.uuid}, "
            f"file sha256 {done.sha256})."
        )


@server_app.command("import-deliveries")
def import_deliveries(
    stage: Stage,
    file: Annotated[
        Path, typer.Argument(help="The authority's deliveries.jsonl.", show_default=False)
    ],
) -> None:
    """Store the authority's delivery log (importing it again adds only what is new)."""
    with errors():
        services = open_services()
        if not file.is_file():
            fail(f"no such file: {file}")
        with file.open("rb") as stream:
            done = do_import_deliveries(services, stage, stream)
        console.print(f"{done.added} delivery events stored ({done.already} were already).")


@server_app.command("deliveries")
def deliveries(stage: Stage) -> None:
    """How many registered members the credential authority has reached, and how."""
    with errors():
        services = open_services()
        with services.db.transaction() as session:
            stats = delivery_stats(session, stage)
        console.print(
            f"{stats.stage}: {stats.registered} registered, {stats.credentials} public credentials"
        )
        for name, count in stats.email.items():
            console.print(f"  email {name + ':':<9}{count}")
        console.print(f"  letters:  {stats.printed}")
        console.print(f"  unreached: {stats.unreached}")
