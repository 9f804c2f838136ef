"""``unionvote``: the command line for the election committee, trustees and observers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from unionvote import __version__
from unionvote.cli import election as election_cli
from unionvote.cli import report as report_cli
from unionvote.cli import trustee as trustee_cli
from unionvote.cli import voting as voting_cli
from unionvote.cli.context import console, errors, fail, open_services
from unionvote.domain.rehearsal import rehearse
from unionvote.record.errors import CHECKS as RECORD_CHECKS
from unionvote.services.process import do_init_process
from unionvote.verify import CHECKS, Report, verify_record

app = typer.Typer(
    name="unionvote",
    help="Independent, verifiable balloting for union endorsement votes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


app.add_typer(
    election_cli.app, name="election", help="Set up, close, tally and decrypt a stage's election."
)
app.add_typer(trustee_cli.app, name="trustee", help="A trustee's own steps, on their own machine.")
app.add_typer(
    trustee_cli.admin_app, name="trustees", help="The committee's side of the key ceremony."
)

app.add_typer(report_cli.app, name="report", help="Build, show and export a stage's report.")
app.add_typer(report_cli.council_app, name="council", help="Derive the council vote and decide.")
app.command("endorse")(report_cli.endorse)
app.command("vote")(voting_cli.vote_command)
app.command("simulate")(voting_cli.simulate_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unionvote {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Independent, verifiable balloting for union endorsement votes."""


@app.command()
def verify(
    record: Annotated[
        Path,
        typer.Argument(help="The election record, a Belenios .bel archive.", show_default=False),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON, for machines.")
    ] = False,
) -> None:
    """Re-check every ballot, proof, signature, chain link, the tally and the result.

    Exits 0 only when every check passes; the last line is the verdict.
    """
    if not record.is_file():
        typer.echo(f"unionvote verify: ERROR: no such file: {record}", err=True)
        raise typer.Exit(2)
    report = verify_record(record)
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def init(
    process: Annotated[
        Path,
        typer.Argument(
            help="The union's process file (TOML), e.g. examples/iam-2024.toml.",
            show_default=False,
        ),
    ],
) -> None:
    """Create the database (DATABASE_URL, default ./unionvote.db) and load the process."""
    if not process.is_file():
        fail(f"no such file: {process}", 2)
    with errors():
        services = open_services(create=True)
        loaded = do_init_process(
            services, process.read_text(encoding="utf-8"), source_name=process.name
        )
    stages = ", ".join(stage.id for stage in loaded.process.stages)
    console.print(f"Loaded {loaded.process.short_name}'s process from {process} ({stages}).")
    console.print(f"Database: {services.db.describe()}")
    console.print(f"Process digest (publish it): sha256:{loaded.digest}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to write the record.")] = Path("demo-out"),
    members: Annotated[int, typer.Option(min=1, help="How many synthetic members vote.")] = 500,
    seed: Annotated[
        int | None, typer.Option(help="Make the run reproducible (keys and votes).")
    ] = None,
) -> None:
    """Rehearse a whole verifiable election with synthetic members, then verify its record."""
    candidates = ["Joe Biden", "Donald Trump", "Robert F. Kennedy Jr.", "Ron DeSantis", "Others"]
    shares = [61, 17, 7, 7, 8]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as progress:
        task = progress.add_task("Members voting", total=members)
        rehearsal = rehearse(
            out,
            voters=members,
            candidates=candidates,
            shares=shares,
            seed=seed,
            timestamp=int(time.time()),
            progress=lambda done: progress.update(task, completed=done),
        )
    typer.echo(f"SIMULATION: {rehearsal.ballots_cast} ballots cast by synthetic members.")
    counts = rehearsal.result.result[0]
    total = sum(counts) or 1
    for name, count in sorted(zip(candidates, counts, strict=True), key=lambda p: -p[1]):
        typer.echo(f"  {name:<24} {count:>7}  {100 * count / total:5.1f}%")
    typer.echo(f"Record: {rehearsal.record}")
    report = verify_record(rehearsal.record)
    typer.echo(report.verdict())
    typer.echo(
        f"Check it yourself: unionvote verify {rehearsal.record}"
        "   (and ../shared/tools/belenios-verify for Belenios's own verifier)"
    )
    raise typer.Exit(0 if report.ok else 1)


def _print_report(report: Report) -> None:
    console = Console(highlight=False, soft_wrap=True)
    election = report.election
    if election:
        console.print(
            f"Election: {election.get('name')}  (uuid {election.get('uuid')}, "
            f"fingerprint {election.get('fingerprint')}, {election.get('voters', '?')} voters)"
        )
    console.print(f"Record:   {report.record}  ({report.phase})")
    console.print()
    described = {**RECORD_CHECKS, **CHECKS}
    for name in [*CHECKS, *(n for n in report.checks if n not in CHECKS)]:
        result = report.checks.get(name)
        if result is None:
            continue
        status = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
        console.print(
            f"  {status}  {name:<24} {result.checked:>9} checked  {escape(described.get(name, ''))}"
        )
        for failure in result.failures[:20]:
            console.print(f"        - {escape(failure.line())}")
        if len(result.failures) > 20:
            console.print(f"        … and {len(result.failures) - 20} more")
    for name, reason in report.not_applicable.items():
        console.print(f"  N/A   {name:<24} {'':>9}          {escape(reason)}")
    if report.result is not None and report.ok:
        console.print()
        for question, counts in zip(election.get("questions", []), report.result, strict=False):
            labels = (["(blank)"] if question["blank"] else []) + question["answers"]
            console.print(f"  {question['question']}")
            for label, count in zip(labels, counts, strict=False):
                console.print(f"    {count:>10}  {label}")
    console.print()
    typer.echo(report.verdict())
