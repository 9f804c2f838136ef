"""``unionvote vote`` (assisted voting) and ``unionvote simulate`` (many synthetic members)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.errors import CryptoError
from unionvote.domain.simulation import parse_distribution
from unionvote.record.messages import Question
from unionvote.services.elections import election_definition
from unionvote.services.simulation import do_vote, read_private_credentials, simulate

__all__ = ["simulate_command", "vote_command"]


def vote_command(
    stage: Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")],
    card: Annotated[str, typer.Option("--card", help="The member's card number.")],
    choice: Annotated[
        list[str] | None,
        typer.Option(
            "--choice",
            help="Your answer(s) to one question, in the ballot's order of questions: repeat "
            "--choice once per question; separate several answers to one question with ';'. "
            "Without it, the ballot is shown and the choices are asked for at a prompt (so "
            "they stay out of the shell's history).",
        ),
    ] = None,
) -> None:
    """Cast one member's ballot, made on this machine (assisted voting).

    The credential is asked for at a hidden prompt (or read from UNIONVOTE_CREDENTIAL), never
    given on the command line where other users of the machine could see it."""
    text = os.environ.get("UNIONVOTE_CREDENTIAL") or typer.prompt(
        "Credential (from the letter or email)", hide_input=True
    )
    try:
        credential = PrivateCredential.typed(text)
    except CryptoError as error:
        fail(f"{error.detail}; nothing was recorded")
    with errors():
        services = open_services(actor="assisted-vote")
        if choice:
            picks = [[c.strip() for c in part.split(";") if c.strip()] for part in choice]
        else:
            picks = [_ask(q) for q in election_definition(services, stage).questions]
        receipt = do_vote(services, stage, card_number=card, credential=credential, picks=picks)
    if receipt.already_recorded:
        console.print("This ballot was already recorded; nothing changed.")
    elif receipt.replaced_earlier_ballot:
        console.print("Your vote is recorded. It replaces your earlier vote.")
    else:
        console.print("Your vote is recorded.")
    console.print(f"Ballot tracker: {receipt.tracker}")
    console.print(
        "Keep it: `unionvote find-ballot RECORD TRACKER` finds it in the published record."
    )


def _ask(question: Question) -> list[str]:
    """Show one question with numbered answers; read the numbers chosen."""
    console.print(f"\n{escape(question.question)}")
    for number, answer in enumerate(question.answers, start=1):
        console.print(f"  {number:>2}. {escape(answer)}")
    how = "one number" if question.max == 1 else f"up to {question.max} numbers, with spaces"
    if question.blank:
        how += "; nothing for a blank vote"
    while True:
        typed = typer.prompt(f"Your choice ({how})", default="", show_default=False)
        try:
            numbers = [int(part) for part in typed.replace(",", " ").split()]
        except ValueError:
            console.print("Type the number shown before an answer.")
            continue
        if all(1 <= n <= len(question.answers) for n in numbers):
            return [question.answers[n - 1] for n in numbers]
        console.print(f"Choose numbers from 1 to {len(question.answers)}.")


def simulate_command(
    stage: Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")],
    credentials: Annotated[
        Path,
        typer.Option(
            help="The credential authority's private-credentials.csv (a simulation only).",
            exists=True,
            dir_okay=False,
        ),
    ],
    distribution: Annotated[
        Path,
        typer.Option(
            help="Shares per answer, abstentions and revotes (e.g. examples/iam-2024-shares.toml).",
            exists=True,
            dir_okay=False,
        ),
    ],
    seed: Annotated[int, typer.Option(help="Who votes for what, reproducibly.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes making ballots (default: every core).")
    ] = None,
) -> None:
    """Cast real encrypted, signed ballots for many synthetic members (a SIMULATION)."""
    with errors():
        services = open_services(actor="simulation")
        shares = parse_distribution(
            distribution.read_text(encoding="utf-8"), stage=stage, source=str(distribution)
        )
        private = read_private_credentials(credentials)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("Casting ballots", total=None)
            summary = simulate(
                services,
                stage,
                private,
                shares,
                seed=seed,
                workers=workers,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    console.print(
        f"SIMULATION: {summary.voted:,} of {summary.members:,} members voted "
        f"({summary.abstained:,} abstained); {summary.ballots_cast:,} ballots cast, "
        f"{summary.revotes:,} of them replacing an earlier vote."
    )
