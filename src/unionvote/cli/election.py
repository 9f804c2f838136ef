"""``unionvote election``: a stage's verifiable election, for the election committee — set it up,
close it, tally it, hand the trustees what to decrypt, take their decryptions, publish the
result and export the record for anyone to verify."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.services.elections import (
    ElectionStatus,
    decryption_request,
    do_add_partial_decryption,
    do_close,
    do_compute_result,
    do_setup_election,
    do_tally,
    election_definition,
    election_status,
    export_record,
)
from unionvote.services.process import load_process, stage_row
from unionvote.services.questionnaire_rule import unapplied_rules
from unionvote.services.trustees import election_trustees, server_partial_decryption
from unionvote.verify.engine import EngineError, open_engine

__all__ = ["app"]

app = typer.Typer(
    name="election",
    help="A stage's verifiable election: set up, close, tally, decrypt, publish, export.",
    no_args_is_help=True,
    add_completion=False,
)

StageArg = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")]


def _when(text: str | None, option: str) -> datetime.datetime | None:
    if text is None:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not a date and time like 2024-06-01T09:00:00-04:00")
    if value.tzinfo is None:
        fail(f"{option} {text!r} needs a time zone, e.g. 2024-06-01T09:00:00-04:00 or …Z")
    return value.astimezone(datetime.UTC)


def _print_status(status: ElectionStatus) -> None:
    console.print(f"Stage {escape(status.stage)}: [bold]{status.phase}[/]")
    console.print(f"Election {status.uuid}, fingerprint {status.election_hash}")
    if status.voting_opens_at and status.voting_closes_at:
        console.print(
            f"Voting window: {status.voting_opens_at:%Y-%m-%d %H:%M} to "
            f"{status.voting_closes_at:%Y-%m-%d %H:%M} UTC"
        )
    console.print(
        f"Ballots received: {status.ballots_received:,}; counted (last of each voter): "
        f"{status.counted:,}"
    )


@app.command()
def setup(
    stage: StageArg,
    opens: Annotated[
        str | None, typer.Option("--opens", help="When voting opens (ISO 8601 with a time zone).")
    ] = None,
    closes: Annotated[
        str | None, typer.Option("--closes", help="When voting closes (ISO 8601 with a time zone).")
    ] = None,
) -> None:
    """Write the election's setup (questions, trustees' keys, public credentials) and open
    the stage for voting. The key ceremony and the credential import must be done."""

    services = open_services()
    with errors():
        with services.db.sessions() as session:
            process = load_process(session).process
            row, definition = stage_row(session, stage)
            trustees = election_trustees(session, row)
            window = (
                _when(opens, "--opens") or row.voting_opens_at,
                _when(closes, "--closes") or row.voting_closes_at,
            )
        if window[0] is None or window[1] is None:
            fail("give the voting window: --opens and --closes")
        for rule in unapplied_rules(services, stage):
            # A warning, not a refusal: the process file says which stages the rule binds.
            console.print(
                f"[bold yellow]warning:[/] the questionnaire {escape(rule.title)!r} "
                f"({rule.key}) lets only candidates who answered onto a ballot, and its "
                f"campaigns include candidates of this ballot "
                f"({escape(', '.join(rule.candidates))}), but the stage does not name it: the "
                f"rule is not applied to {stage}."
                + (
                    f" It would keep out {escape('; '.join(rule.kept_out))}."
                    if rule.kept_out
                    else ""
                )
                + f' To apply it, add questionnaire = "{rule.key}" to the stage in the process '
                "file before its election is set up."
            )
        status = do_setup_election(
            services,
            stage,
            trustees=trustees,
            name=f"{process.short_name}: {definition.title}",
            description=process.union,
            voting_opens_at=window[0],
            voting_closes_at=window[1],
        )
    _print_status(status)


@app.command()
def close(stage: StageArg) -> None:
    """End the voting: no ballot is accepted after this."""
    services = open_services()
    with errors():
        status = do_close(services, stage)
    _print_status(status)


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """A cluster that cannot be reached (or loses its workers): one plain line, exit 1."""
    try:
        yield
    except EngineError as error:
        fail(str(error))


@app.command()
def tally(
    stage: StageArg,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes multiplying the ballots together: default one per core; 1 does it "
            "in this process. The tally is the same either way.",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Multiply the ballots on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 "
            "(see docs/cluster.md). The tally is the same.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Compute the encrypted tally and the encrypted results by group (state, local)."""
    if workers is not None and scheduler is not None:
        console.print(
            "[red]Give --workers (processes of this machine) or --scheduler (a Dask cluster), "
            "not both.[/red]"
        )
        raise typer.Exit(2)
    services = open_services()
    with errors(), _engine_errors():
        total = election_status(services, stage).counted
        columns = (
            TextColumn("Tallying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with (
            open_engine(
                workers=1 if scheduler is not None else workers or os.cpu_count() or 1,
                scheduler=scheduler,
            ) as engine,
            Progress(*columns, console=console, transient=True) as progress,
        ):
            task = progress.add_task("tally", total=total)
            summary = do_tally(
                services, stage, progress=lambda n: progress.advance(task, n), engine=engine
            )
    console.print(
        f"Tallied {summary.num_tallied:,} ballots (total weight {summary.total_weight:,}); "
        f"{summary.aggregates} group aggregates. Next: `unionvote election "
        f"decryption-request {stage} --out FILE` for the trustees."
    )


@app.command("decryption-request")
def decryption_request_command(
    stage: StageArg,
    out: Annotated[Path, typer.Option("--out", help="Where to write the request (JSON).")],
) -> None:
    """Write what each trustee decrypts: the encrypted tally and each group's."""
    services = open_services()
    with errors():
        content = decryption_request(services, stage)
    out.write_bytes(content)
    console.print(f"Wrote {escape(str(out))}: give it to each trustee.")


@app.command("add-decryption")
def add_decryption(
    stage: StageArg,
    file: Annotated[
        Path,
        typer.Argument(
            help="A trustee's partial decryption file.",
            show_default=False,
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
) -> None:
    """Check a trustee's partial decryption (every proof) and publish it."""
    services = open_services()
    with errors():
        owner = do_add_partial_decryption(services, stage, file.read_bytes())
    console.print(f"The partial decryption of trustee {owner} is checked and published.")


@app.command("decrypt-with-server-key")
def decrypt_with_server_key(
    stage: StageArg,
    key: Annotated[
        Path,
        typer.Option(
            help="The server's trustee key file (made by `unionvote trustees server-key`).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
) -> None:
    """The server's own partial decryption (it holds one key share), checked and published."""
    services = open_services()
    with errors():
        request = decryption_request(services, stage)
        with services.db.sessions() as session:
            row, _ = stage_row(session, stage)
            partial = server_partial_decryption(session, row, key, request)
        owner = do_add_partial_decryption(services, stage, partial)
    console.print(
        f"The server's partial decryption (trustee {owner} in the record) is checked and published."
    )


@app.command()
def result(stage: StageArg) -> None:
    """Combine the trustees' decryptions and publish the counts."""
    services = open_services()
    with errors():
        counts = do_compute_result(services, stage)
        election = election_definition(services, stage)
    for question, row in zip(election.questions, counts.result, strict=True):
        table = Table(title=escape(question.question), show_header=True, header_style="bold")
        table.add_column("answer")
        table.add_column("count", justify="right")
        labels = (("Blank",) if question.blank else ()) + question.answers
        for label, count in zip(labels, row, strict=True):
            table.add_row(escape(label), f"{count:,}")
        console.print(table)


@app.command()
def export(
    stage: StageArg,
    out: Annotated[Path, typer.Option("--out", help="The record to write, e.g. record.bel.")],
) -> None:
    """Write the election's public record (a Belenios .bel archive) for anyone to verify."""
    services = open_services()
    with errors():
        exported = export_record(services, stage, out)
    console.print(
        f"Wrote {escape(str(exported.path))}: {exported.size:,} bytes, SHA-256 "
        f"{exported.sha256}. Check it with `unionvote verify {escape(str(exported.path))}`."
    )


@app.command()
def status(stage: StageArg) -> None:
    """The election's phase and how many ballots it received and counts."""
    services = open_services()
    with errors():
        current = election_status(services, stage)
    _print_status(current)
