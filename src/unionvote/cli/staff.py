"""``unionvote staff``: the accounts that sign in to the staff pages (committee, observers,
trustees). A password is typed at a hidden prompt (twice) or read from a file; it is never an
argument (arguments show in the process list and the shell's history)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.services.staff import (
    MIN_PASSWORD_LENGTH,
    Role,
    do_add_staff,
    do_disable_staff,
    do_set_password,
    list_staff,
)

__all__ = ["app"]

app = typer.Typer(
    name="staff",
    help="Accounts for the staff pages: the committee, observers and trustees.",
    no_args_is_help=True,
    add_completion=False,
)

UsernameArg = Annotated[str, typer.Argument(help="The username, e.g. ana.ruiz.")]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the password from this file's first line instead of a hidden prompt.",
        exists=True,
        dir_okay=False,
    ),
]


def _password(path: Path | None) -> str:
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            fail(f"cannot read the password file {path}: {error}")
        if not lines or not lines[0]:
            fail(f"the password file {path} is empty")
        return lines[0]
    return str(
        typer.prompt(
            f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


@app.command()
def add(
    username: UsernameArg,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.")],
    name: Annotated[str, typer.Option(help="The name the pages show, e.g. 'Ana Ruiz'.")],
    trustee_position: Annotated[
        int | None,
        typer.Option(help="For a trustee: their position (see `unionvote trustees status`)."),
    ] = None,
    password_file: PasswordFile = None,
) -> None:
    """Create a staff account."""
    with errors():
        services = open_services()
        password = _password(password_file)
        identity = do_add_staff(
            services,
            username,
            display_name=name,
            role=role,
            password=password,
            trustee_position=trustee_position,
        )
    console.print(f"Added {escape(identity.username)} ({identity.role}).")


@app.command("list")
def list_command() -> None:
    """List the staff accounts (never a password)."""
    with errors():
        accounts = list_staff(open_services())
    table = Table(show_header=True, header_style="bold")
    for column in ("username", "name", "role", "trustee position", "status"):
        table.add_column(column)
    for account in accounts:
        table.add_row(
            escape(account.username),
            escape(account.display_name),
            account.role.value,
            "" if account.trustee_position is None else str(account.trustee_position),
            "disabled" if account.disabled else "active",
        )
    console.print(table)


@app.command()
def disable(username: UsernameArg) -> None:
    """Disable an account: it cannot sign in any more, and its open sessions stop working."""
    with errors():
        do_disable_staff(open_services(), username)
    console.print(f"Disabled {escape(username)}.")


@app.command()
def reset(username: UsernameArg, password_file: PasswordFile = None) -> None:
    """Set a new password for an account (and clear its failed attempts)."""
    with errors():
        services = open_services()
        do_set_password(services, username, _password(password_file))
    console.print(f"The password of {escape(username)} is changed.")
