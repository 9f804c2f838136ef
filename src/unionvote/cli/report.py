"""``unionvote report``, ``unionvote council`` and ``unionvote endorse``: publish a stage's
report, export a stage's directory for the public, derive the council's candidates, apply
the decision rule and record the endorsement."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from unionvote.cli.context import console, errors, open_services
from unionvote.services.council import do_decide, do_derive_council_stage, do_record_endorsement
from unionvote.services.publication import export_stage, read_published
from unionvote.services.report import do_publish_report

__all__ = ["app", "council_app", "endorse"]

app = typer.Typer(
    name="report",
    help="A stage's report: build it from the published record, show it, export the files.",
    no_args_is_help=True,
    add_completion=False,
)
council_app = typer.Typer(
    name="council",
    help="The council stage: its candidates from the membership vote, and its decision.",
    no_args_is_help=True,
    add_completion=False,
)

StageArg = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")]


class Format(StrEnum):
    text = "text"
    json = "json"
    html = "html"


_FILES = {Format.text: "report.txt", Format.json: "report.json", Format.html: "report.html"}


@app.command("build")
def build(
    stage: StageArg,
    simulation: Annotated[
        bool,
        typer.Option(
            "--simulation", help="Mark the report as a simulation (synthetic members' votes)."
        ),
    ] = False,
) -> None:
    """Build and publish the report of a decrypted stage (final once published)."""
    with errors():
        services = open_services()
        with console.status("Reading the record and building the report…"):
            published = do_publish_report(services, stage, simulation=simulation)
    typer.echo(published.text, nl=False)
    console.print()
    for name, digest in sorted(published.digests.items()):
        console.print(f"  {escape(name):<14} SHA-256 {digest}")
    console.print(f"Stage {escape(stage)} is published. Export it with: unionvote report export")


@app.command("show")
def show(
    stage: StageArg,
    form: Annotated[
        Format, typer.Option("--format", help="text, json (canonical) or html.")
    ] = Format.text,
) -> None:
    """Print a stage's published report."""
    with errors():
        content = read_published(open_services(), stage, _FILES[form])
    typer.echo(content.decode(), nl=form is Format.json)


@app.command("export")
def export(
    stage: StageArg,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="The directory to write into (the stage gets its own folder in it)."
        ),
    ],
) -> None:
    """Write the stage's record, published files and manifest for the public."""
    with errors():
        services = open_services()
        with console.status(f"Exporting {stage}…"):
            exported = export_stage(services, stage, out)
    console.print(f"Wrote {escape(str(exported.directory))}/:")
    console.print(f"  {escape(exported.record.name)}")
    for name in exported.files:
        console.print(f"  {escape(name)}")
    console.print(f"  manifest.json  SHA-256 {exported.manifest_sha256}")
    console.print(f"Check it yourself: unionvote verify {escape(str(exported.record))}")


@council_app.command("derive")
def derive(
    from_stage: Annotated[str, typer.Argument(help="The stage voted on, e.g. membership-vote.")],
    to_stage: Annotated[str, typer.Argument(help="The council stage, e.g. council-vote.")],
) -> None:
    """Fix the council's candidates: the top vote-getter of each party in FROM_STAGE."""
    with errors():
        services = open_services()
        with console.status("Reading the record…"):
            basis = do_derive_council_stage(services, from_stage, to_stage)
    console.print(f"The candidates of {escape(to_stage)}, from {escape(from_stage)}'s result:")
    for candidate in basis.candidates:
        console.print(f"  {escape(candidate.name)} ({escape(candidate.party)})")
    console.print(f"  record SHA-256 {basis.record_sha256}")
    console.print(f"  report SHA-256 {basis.report_sha256}")


@council_app.command("decide")
def decide(stage: StageArg) -> None:
    """Apply the process's decision rule to a decrypted stage's result."""
    with errors():
        services = open_services()
        with console.status("Reading the record…"):
            decided = do_decide(services, stage)
    decision = decided.decision
    console.print(escape(decided.question))
    for answer, votes in decision.counts:
        console.print(f"  {escape(answer)}: {votes:,}")
    console.print(escape(decision.reason))
    console.print(f"decision.json SHA-256 {decided.sha256}")


def endorse(
    statement: Annotated[
        str, typer.Option("--statement", help="The statement announcing the outcome.")
    ],
    decided_by: Annotated[
        str, typer.Option("--decided-by", help="The deciding body, e.g. the State Council.")
    ],
) -> None:
    """Record the endorsement (or no endorsement) that the last decision made."""
    with errors():
        record = do_record_endorsement(open_services(), statement=statement, decided_by=decided_by)
    typer.echo(record.to_text(), nl=False)
