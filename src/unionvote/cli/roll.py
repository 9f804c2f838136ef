"""``unionvote roll``: import the membership roll (showing the differences first), look at it,
freeze a stage's electorate, and recompute a published electorate digest as an observer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.domain.eligibility import EligibilityRule, recompute_digest
from unionvote.domain.process import parse_process
from unionvote.domain.roll import DiffKind, RollDiff, RollReader
from unionvote.services.context import Services
from unionvote.services.roll import do_freeze_eligibility, do_import_roll, roll_summary

__all__ = ["app"]

app = typer.Typer(
    name="roll",
    help="The membership roll: import it, look at it, freeze a stage's electorate.",
    no_args_is_help=True,
    add_completion=False,
)

SHOWN = 20  # changes of each kind listed before "… and N more"

FileArg = Annotated[
    Path, typer.Argument(help="The roll export, a UTF-8 CSV file.", show_default=False)
]
StageArg = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")]


def _n(count: int) -> str:
    return f"{count:,}"


def _print_diff(diff: RollDiff) -> None:
    fields = ", ".join(f"{name} {_n(n)}" for name, n in diff.changed_fields.items())
    console.print(
        f"{escape(diff.source_name)}: {_n(diff.rows)} members — {_n(diff.added)} added, "
        f"{_n(diff.changed)} changed{f' ({fields})' if fields else ''}, "
        f"{_n(diff.removed)} removed, {_n(diff.unchanged)} unchanged"
    )
    console.print(f"SHA-256 of the file: {diff.digest}")
    if diff.unknown_columns:
        console.print("[yellow]Columns not imported:[/] " + escape(", ".join(diff.unknown_columns)))
    if diff.is_empty:
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("change")
    table.add_column("card number")
    table.add_column("line", justify="right")
    table.add_column("fields")
    counts = {DiffKind.ADDED: diff.added, DiffKind.CHANGED: diff.changed}
    counts[DiffKind.REMOVED] = diff.removed
    for kind in DiffKind:
        changes = [c for c in diff.changes if c.kind is kind]
        for change in changes[:SHOWN]:
            table.add_row(
                kind.value,
                escape(change.card_number),
                str(change.line or ""),
                escape(", ".join(change.fields)),
            )
        if counts[kind] > SHOWN:
            table.add_row(kind.value, f"… and {_n(counts[kind] - SHOWN)} more", "", "")
    console.print(table)


@app.command("import")
def import_roll(
    file: FileArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply the changes without asking.")
    ] = False,
) -> None:
    """Check a roll export and show what it changes; apply it with --yes (or when you agree).

    Every bad row is listed (line, column, why) and nothing is imported. Members missing from
    the file are marked as out of the roll, never deleted. With --yes the file is read once:
    checked, compared and applied in one transaction, which a bad row rolls back.
    """
    with errors():
        if not file.is_file():
            fail(f"no such file: {file}")
        services = open_services()
        if yes:  # one pass: checked, compared and applied in one transaction
            applied = _run_import(services, file, "Checking and importing the roll", apply=True)
            _print_diff(applied)
        else:
            diff = _run_import(services, file, "Checking the roll", apply=False)
            _print_diff(diff)
            if not _confirm(
                "Nothing changes in the roll; record this import anyway?"
                if diff.is_empty
                else "Apply these changes?"
            ):
                console.print("Nothing was changed.")
                raise typer.Exit(0)
            applied = _run_import(
                services, file, "Importing the roll", apply=True, expect_digest=diff.digest
            )
        console.print(
            f"Imported: {_n(applied.added)} added, {_n(applied.changed)} changed, "
            f"{_n(applied.removed)} removed."
        )


def _run_import(
    services: Services,
    file: Path,
    description: str,
    *,
    apply: bool,
    expect_digest: str | None = None,
) -> RollDiff:
    """One pass over the file, with a progress bar over its bytes."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=file.stat().st_size)
        return do_import_roll(
            services,
            file,
            apply=apply,
            expect_digest=expect_digest,
            progress=lambda done: progress.update(task, completed=done),
        )


@app.command()
def show() -> None:
    """Counts of the roll: by dues status, country and state; council roles; frozen electorates."""
    with errors():
        services = open_services()
        with services.db.transaction() as session:
            summary = roll_summary(session)
        console.print(
            f"Members in the roll: {_n(summary.in_roll)}"
            + (f"  (and {_n(summary.removed)} no longer in it)" if summary.removed else "")
        )
        if summary.last_import is not None:
            last = summary.last_import
            console.print(
                f"Last import: {escape(last.source_name)} on {last.at:%Y-%m-%d %H:%M} UTC, "
                f"SHA-256 {last.digest}"
            )
        for title, counts in (
            ("Dues status", summary.by_status),
            ("Country", summary.by_country),
            ("Council roles", summary.council_roles),
        ):
            if counts:
                console.print(
                    f"{title}: " + ", ".join(f"{escape(k)} {_n(v)}" for k, v in counts.items())
                )
        if summary.by_state:
            console.print(
                "By state: "
                + ", ".join(f"{escape(k or '(none)')} {_n(v)}" for k, v in summary.by_state.items())
            )
        for stage, snapshot in summary.snapshots.items():
            console.print(
                f"Electorate of {escape(stage)}: {_n(snapshot.count)} members, frozen "
                f"{snapshot.taken_at:%Y-%m-%d %H:%M} UTC, digest {snapshot.digest}"
            )


@app.command()
def freeze(stage: StageArg) -> None:
    """Freeze a stage's electorate from the roll and print its digest, to publish.

    For a council stage (electorate `council role: …`), everyone holding the role is
    registered at once and the election's identifier is fixed.
    """
    with errors():
        frozen = do_freeze_eligibility(open_services(), stage)
        console.print(f"Electorate of {escape(stage)} frozen: {_n(frozen.count)} members.")
        console.print(escape(frozen.rule.rstrip()))
        console.print(f"Digest (SHA-256, publish it): {frozen.digest}")
        if frozen.uuid is not None:
            console.print(
                f"All {_n(frozen.registered or 0)} registered; election identifier {frozen.uuid}."
            )


@app.command()
def digest(
    file: FileArg,
    process: Annotated[
        Path, typer.Option("--process", help="The process file (TOML).", show_default=False)
    ],
    stage: Annotated[str, typer.Option("--stage", help="The stage, e.g. membership-vote.")],
) -> None:
    """Recompute an electorate's digest from a roll export, without the database.

    What an observer runs, with the same roll export and process file, to check the digest the
    committee published.
    """
    with errors():
        try:
            text = process.read_text(encoding="utf-8")
        except OSError as error:
            fail(f"cannot read {process}: {error.strerror}")
        loaded = parse_process(text, source=process.name)
        definition = loaded.stage(stage)
        rule = EligibilityRule.for_stage(loaded.eligibility, definition)
        weighted = definition.decision is not None and definition.decision.weights
        try:
            stream = file.open(encoding="utf-8-sig", newline="")
        except OSError as error:
            fail(f"cannot read {file}: {error.strerror}")
        with stream:
            reader = RollReader(stream, source=file.name)
            try:
                value, count = recompute_digest((row for _, row in reader), rule, weighted=weighted)
            except UnicodeDecodeError as error:
                fail(f"{file} is not UTF-8 text ({error.reason}); export the roll as UTF-8 CSV")
            reader.check()
        console.print(escape(rule.text().rstrip()))
        console.print(f"Eligible members: {_n(count)}")
        console.print(f"Digest: {value}")


def _confirm(question: str) -> bool:
    """Ask; no answer at all (the end of the input, as in a script) means no."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        console.print()
        return False
