"""``unionvote check-audited-ballot``: check a ballot the booth was asked to audit ("Check the
encryption"), independently of the browser's code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from unionvote.cli.context import console, errors, fail
from unionvote.verify.audited import verify_audited_ballot

__all__ = ["check_audited_ballot", "command"]


def check_audited_ballot(
    file: Annotated[
        Path,
        typer.Argument(
            help="The audited-ballot file the booth gave (unionvote-audited-ballot/1).",
            show_default=False,
        ),
    ],
) -> None:
    """Check that an audited ballot encrypts the answers it shows: every proof holds and the
    revealed randomness opens each choice. Exits 1, naming the check, otherwise."""
    try:
        content = file.read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", 2)
    with errors():
        audited = verify_audited_ballot(content)
    election = audited.election
    console.print(f"Election: {escape(election.name)} (uuid {election.uuid})")
    console.print(f"Election fingerprint: {audited.election_hash}")
    console.print("  (it must be the election_hash of the published record's ballots)")
    for question, chosen in audited.chosen():
        console.print(f"  {escape(question)}: {escape(', '.join(chosen) or '(no answer)')}")
    console.print(f"Tracker: {audited.tracker}")
    console.print(
        "OK: the ballot is valid and encrypts exactly these answers. Its randomness is revealed, "
        "so it must never be cast: if this tracker is on the bulletin board, tell the committee "
        "and the observers."
    )


#: The command as ``cli/main.py`` registers it (``unionvote check-audited-ballot``).
command = check_audited_ballot
