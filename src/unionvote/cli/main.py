"""``unionvote``: the command line for the election committee, trustees and observers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from unionvote import __version__
from unionvote.cli import audited as audited_cli
from unionvote.cli import credentials as credentials_cli
from unionvote.cli import election as election_cli
from unionvote.cli import questionnaire as questionnaire_cli
from unionvote.cli import registration as registration_cli
from unionvote.cli import report as report_cli
from unionvote.cli import roll as roll_cli
from unionvote.cli import staff as staff_cli
from unionvote.cli import trustee as trustee_cli
from unionvote.cli import voting as voting_cli
from unionvote.cli import web as web_cli
from unionvote.cli.context import console, error_console, errors, fail, open_services
from unionvote.domain.process import parse_process
from unionvote.record.errors import CHECKS as RECORD_CHECKS
from unionvote.services.audit import audit_log
from unionvote.services.demo import run_demo
from unionvote.services.process import do_init_process
from unionvote.verify import CHECKS, Report, verify_record
from unionvote.verify.engine import (
    CONNECT_TIMEOUT,
    Engine,
    EngineError,
    open_engine,
)
from unionvote.verify.lookup import find_ballot

app = typer.Typer(
    name="unionvote",
    help="Independent, verifiable balloting for union endorsement votes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# In the order an election committee meets them.
for sub_app, name, about in (
    (roll_cli.app, "roll", "Import the member roll and freeze a stage's electorate."),
    (registration_cli.app, "registration", "Open, run and close a stage's registration."),
    (
        credentials_cli.server_app,
        "electorate",
        "Hand the registered members to the authority; take back the public credentials.",
    ),
    (
        credentials_cli.app,
        "credentials",
        "The independent credential authority's tool (no server database).",
    ),
    (trustee_cli.admin_app, "trustees", "The committee's side of the key ceremony."),
    (trustee_cli.app, "trustee", "A trustee's own steps, on their own machine."),
    (election_cli.app, "election", "Set up, close, tally and decrypt a stage's election."),
    (report_cli.app, "report", "Build, show and export a stage's report."),
    (report_cli.council_app, "council", "Derive the council vote and decide."),
    (staff_cli.app, "staff", "Accounts for the website's committee, observer and trustee pages."),
    (questionnaire_cli.app, "questionnaire", "The candidate questionnaire: send, track, publish."),
):
    app.add_typer(sub_app, name=name, help=about)
app.command("vote")(voting_cli.vote_command)
app.command("simulate")(voting_cli.simulate_command)
app.command("endorse")(report_cli.endorse)
app.command("serve")(web_cli.serve_command)
app.command("check-audited-ballot")(audited_cli.command)


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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes checking ballots: default one per core; 1 checks them in this "
            "process. The report is the same either way.",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Check the ballots on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 "
            "(see docs/cluster.md). The report is the same.",
            show_default=False,
        ),
    ] = None,
    scheduler_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="Seconds to reach the --scheduler before giving up.",
        ),
    ] = CONNECT_TIMEOUT,
) -> None:
    """Re-check every ballot, proof, signature, chain link, the tally and the result.

    Exits 0 only when every check passes; the last line is the verdict.

    Exits 2 when the record cannot be checked at all (a missing file, an unreachable cluster).
    """
    if workers is not None and scheduler is not None:
        typer.echo(
            "unionvote verify: ERROR: give --workers (processes of this machine) or "
            "--scheduler (a Dask cluster), not both",
            err=True,
        )
        raise typer.Exit(2)
    if not record.is_file():
        typer.echo(f"unionvote verify: ERROR: no such file: {record}", err=True)
        raise typer.Exit(2)
    try:
        with open_engine(
            workers=1 if scheduler is not None else workers or os.cpu_count() or 1,
            scheduler=scheduler,
            connect_timeout=scheduler_timeout,
        ) as engine:
            if scheduler is not None:
                error_console.print(f"Checking the ballots on {engine.describe()}.")
            report = _verify_with_progress(record, engine)
    except EngineError as error:
        typer.echo(f"unionvote verify: ERROR: {error}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@app.command("find-ballot")
def find_ballot_command(
    record: Annotated[
        Path,
        typer.Argument(help="The published record (.bel).", exists=True, dir_okay=False),
    ],
    tracker: Annotated[str, typer.Argument(help="The ballot tracker from your receipt.")],
) -> None:
    """Check that your ballot is in the published record, by the tracker on your receipt."""
    with errors():
        location = find_ballot(record, tracker)
    if location is None:
        console.print(
            "No ballot with this tracker is in this record. Check the tracker and the record; "
            "if they are right, tell the election committee and the observers."
        )
        raise typer.Exit(1)
    console.print(
        f"Your ballot is in the record: ballot {location.position:,} of {location.ballots:,}."
    )
    if location.counted:
        console.print("It is the ballot counted for your credential.")
    else:
        console.print("You voted again later: your later ballot is the one counted.")


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
    text = process.read_text(encoding="utf-8")
    with errors():
        parse_process(text, source=process.name)  # a bad file leaves no database behind
        services = open_services(create=True)
        loaded = do_init_process(services, text, source_name=process.name)
    stages = ", ".join(stage.id for stage in loaded.process.stages)
    console.print(f"Loaded {loaded.process.short_name}'s process from {process} ({stages}).")
    console.print(f"Database: {services.db.describe()}")
    console.print(f"Process digest (publish it): sha256:{loaded.digest}")


@app.command()
def audit(
    action: Annotated[
        str | None,
        typer.Option(help="Only actions starting with this, e.g. 'ballot.' or 'roll.import'."),
    ] = None,
    since: Annotated[int, typer.Option(help="Only entries after this number.")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many entries.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the audit log: every action, who took it and when (oldest first)."""
    with errors():
        services = open_services()
        for line in audit_log(services, action=action, since=since, limit=limit):
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "number": line.number,
                            "at": line.at.isoformat(),
                            "actor": line.actor,
                            "action": line.action,
                            "subject": line.subject,
                            "detail": json.loads(line.detail),
                        },
                        ensure_ascii=False,
                    )
                )
            else:
                console.print(
                    f"{line.number:>7}  {line.at:%Y-%m-%d %H:%M:%S}Z  {escape(line.actor)}  "
                    f"{escape(line.action)}  {escape(line.subject)}  {escape(line.detail)}"
                )


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option(help="A new directory for the database, records and reports.")
    ] = Path("demo-out"),
    members: Annotated[
        int, typer.Option(min=100, help="How many synthetic members are on the roll.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Which synthetic members, and their votes.")] = 2024,
    process: Annotated[
        Path, typer.Option(help="The process file.", exists=True, dir_okay=False)
    ] = EXAMPLES / "iam-2024.toml",
    distribution: Annotated[
        Path,
        typer.Option(help="How the members vote.", exists=True, dir_okay=False),
    ] = EXAMPLES / "iam-2024-shares.toml",
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete OUT first if an earlier demo made it.")
    ] = False,
) -> None:
    """Run the IAM's whole endorsement process on synthetic members (a SIMULATION).

    Roll import, registration, credentials by an independent authority, key ceremony, the
    members' vote, tally and decryption, the report, the State Council Presidents' vote and the
    endorsement record; then both records are verified."""
    if out.exists():
        if not replace:
            fail(f"{out} already exists; choose another --out or add --replace", 2)
        if not (out / "unionvote.db").is_file() or not (out / "roll.csv").is_file():
            fail(f"{out} does not look like an earlier demo's output; not deleting it", 2)
        shutil.rmtree(out)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with errors(), Progress(*columns, console=console, transient=True) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bars.add_task(what, total=total)
            bars.update(tasks[what], completed=done, total=total)

        run = run_demo(
            out,
            process=process,
            distribution=distribution,
            members=members,
            seed=seed,
            say=lambda line: console.print(f"[dim]·[/dim] {escape(line)}"),
            progress=progress,
        )
    console.print()
    console.print(run.report_text.rstrip())
    console.print()
    console.print(run.council_text.rstrip())
    console.print()
    console.print(run.endorsement_text.rstrip())
    console.print()
    ok = True
    for key, stage in run.stages.items():
        report = verify_record(stage.record)
        ok = ok and report.ok
        console.print(f"{key}: {report.verdict()}")
    console.print()
    console.print(f"Everything is in {out}/:")
    console.print(f"  the committee's database   {run.database}")
    for key, stage in run.stages.items():
        console.print(f"  {key + ' (published)':<26} {stage.directory}/")
    console.print(f"  the credential authority   {out / 'credential-authority'}/  (secret)")
    console.print(f"  the trustees' key files    {out / 'trustees'}/  (secret)")
    console.print("Check a record yourself:")
    for stage in run.stages.values():
        console.print(f"  unionvote verify {stage.record}")
    console.print("  ../shared/tools/belenios-verify RECORD.bel   (Belenios's own verifier)")
    raise typer.Exit(0 if ok else 1)


def _verify_with_progress(record: Path, engine: Engine) -> Report:
    """``verify_record`` with a progress bar over the archive's bytes (on standard error, so
    that ``--json`` output stays clean; nothing is drawn when it is not a terminal)."""
    columns = (
        TextColumn("Checking ballots"),
        BarColumn(),
        TextColumn("{task.fields[ballots]:,} checked"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=error_console, transient=True) as bar:
        task = bar.add_task("verify", total=record.stat().st_size, ballots=0)
        return verify_record(
            record,
            engine=engine,
            progress=lambda ballots, done: bar.update(task, completed=done, ballots=ballots),
        )


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
