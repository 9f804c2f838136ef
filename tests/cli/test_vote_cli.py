"""`unionvote vote` asks for the choices at a prompt when they are not given."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from unionvote.cli.voting import _ask
from unionvote.record.messages import Question


def _asking(question: Question) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def ask() -> None:
        typer.echo(f"picked={_ask(question)}")

    return app


def test_the_ballot_is_shown_and_a_bad_answer_is_asked_again() -> None:
    question = Question("Endorse whom?", ("Joe Biden", "Donald Trump"), 1, 1)
    result = CliRunner().invoke(_asking(question), input="x\n7\n1\n")
    assert result.exit_code == 0, result.output
    assert " 1. Joe Biden" in result.output and " 2. Donald Trump" in result.output
    assert "Type the number shown" in result.output
    assert "Choose numbers from 1 to 2" in result.output
    assert "picked=['Joe Biden']" in result.output


def test_several_answers_and_a_blank_vote() -> None:
    issues = Question("Top issues?", ("Jobs", "Wages", "Health"), 0, 2, blank=True)
    several = CliRunner().invoke(_asking(issues), input="1 3\n")
    assert "picked=['Jobs', 'Health']" in several.output
    assert "nothing for a blank vote" in several.output
    blank = CliRunner().invoke(_asking(issues), input="\n")
    assert "picked=[]" in blank.output
