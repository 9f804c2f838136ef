"""``unionvote questionnaire eligible KEY``: who may be in a forum or on a ballot under the
questionnaire's rule, and who may not and why, with the versions each campaign submitted, as
text or JSON; and ``unionvote election setup`` warning that a stage whose ballot lists the
questionnaire's candidates does not name it (a SQLite file, a real SMTP server)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from questionnaire_support import KEY, START, setup_questionnaire, smtp_server
from sqlalchemy import select
from typer.testing import CliRunner

from unionvote.cli.context import open_services
from unionvote.cli.main import app
from unionvote.domain.trustee_work import trustees_json
from unionvote.services.context import FixedClock, Services
from unionvote.services.questionnaire import do_decline, do_open_correction, do_submit
from unionvote.storage.models import CeremonyMessage, StageRow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_elections import CLOSES, OPENS, STAGE, make_vote
from test_questionnaire_rule import answer, linked_process

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'unionvote.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    open_services(create=True).db.dispose()
    yield url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["questionnaire", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_eligible_lists_who_may_take_part_and_why(database_url: str) -> None:
    services = Services(open_services().db, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        tokens = setup_questionnaire(services, mailer, inbox)
    answers = {"pro-act": "yes", "trade": "2", "pensions": "Fully fund them."}
    first = do_submit(services, tokens["rivera"], answers, None)
    do_decline(services, tokens["hale"], "Not this year.", None)

    code, out = run("eligible", KEY)
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "Rule: only candidates who answered may be in a forum or on a ballot." in lines
    allowed = lines.index("May take part (1):")
    kept_out = lines.index("May not take part (3):")
    assert lines[allowed + 1] == ("Ana Rivera (rivera, Democratic): answered the questionnaire")
    assert lines[allowed + 2] == (
        f"version 1, submitted 2024-02-01 12:00 UTC, SHA-256 {first.digest}"
    )
    assert lines[kept_out + 1 : kept_out + 4] == [
        "Thomas Hale (hale, Republican): declined to answer: only candidates who answered "
        "may take part",
        # The CLI runs on today's clock: the due date (2024) has passed.
        "Grace Okafor (okafor, Democratic): did not respond by the due date: only candidates "
        "who answered may take part",
        "Victor Brandt (brandt, Republican): did not respond by the due date: only candidates "
        "who answered may take part",
    ]

    code, out = run("eligible", "no-such")
    assert code == 1 and "no-such" in out


def test_eligible_as_json_gives_who_answered_with_their_versions(database_url: str) -> None:
    services = Services(open_services().db, FixedClock(START))
    with smtp_server() as (inbox, mailer):
        tokens = setup_questionnaire(services, mailer, inbox)
    answers = {"pro-act": "yes", "trade": "2", "pensions": "Fully fund them."}
    first = do_submit(services, tokens["rivera"], answers, None)
    do_open_correction(services, KEY, "rivera", "A typo.")
    second = do_submit(services, tokens["rivera"], {**answers, "pensions": "Fund them."}, None)
    do_decline(services, tokens["hale"], "Not this year.", None)

    code, out = run("eligible", KEY, "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["format"] == "unionvote-questionnaire-eligibility/1"
    assert document["questionnaire"] == KEY and document["rule"] == "answered-only"
    assert document["title"] == "2024 Presidential Candidate Questionnaire"
    campaigns = {c["key"]: c for c in document["campaigns"]}
    assert list(campaigns) == ["rivera", "hale", "okafor", "brandt"]
    rivera = campaigns["rivera"]
    assert rivera["may_take_part"] is True and rivera["status"] == "answered"
    assert rivera["name"] == "Ana Rivera" and rivera["party"] == "Democratic"
    assert rivera["versions"] == [
        {
            "version": 1,
            "submitted_at": first.submitted_at.isoformat(),
            "answers_sha256": first.digest,
        },
        {
            "version": 2,
            "submitted_at": second.submitted_at.isoformat(),
            "answers_sha256": second.digest,
        },
    ]
    hale = campaigns["hale"]
    assert hale["may_take_part"] is False and hale["status"] == "declined"
    assert hale["reason"] == "declined to answer: only candidates who answered may take part"
    assert hale["versions"] == []
    assert [k for k, c in campaigns.items() if c["may_take_part"]] == ["rivera"]

    code, out = run("eligible", "no-such", "--json")
    assert code == 1 and "no-such" in out


def _ready_to_set_up(database_url: str, *, named: bool) -> None:
    """The process with the questionnaire's candidates on the membership vote's ballot (the
    stage naming the questionnaire or not), its credentials and finished key ceremony, and the
    questionnaire answered (Hale declined)."""
    database = open_services().db
    text = linked_process("Ana Rivera", "Thomas Hale", questionnaire=KEY if named else None)
    vote = make_vote(database, set_up=False, text=text)
    with database.transaction() as session:
        stage = session.scalar(select(StageRow).where(StageRow.key == STAGE))
        assert stage is not None
        listed = json.dumps(trustees_json(vote.trustees), separators=(",", ":"))
        session.add(
            CeremonyMessage(
                stage_id=stage.id, step="trustees", position=0, content=listed, at=START
            )
        )
    answer(database)


def _set_up() -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["election", "setup", STAGE, "--opens", OPENS.isoformat(), "--closes", CLOSES.isoformat()],
    )
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_setup_warns_that_a_stage_does_not_apply_the_rule(database_url: str) -> None:
    _ready_to_set_up(database_url, named=False)
    code, out = _set_up()
    assert code == 0, out  # a warning, not a refusal: the election is set up
    said = " ".join(out.split())
    assert (
        "warning: the questionnaire '2024 Presidential Candidate Questionnaire' (issues-2024) "
        "lets only candidates who answered onto a ballot, and its campaigns include "
        "candidates of this ballot (Ana Rivera, Thomas Hale), but the stage does not name it: "
        "the rule is not applied to membership-vote. It would keep out Thomas Hale (declined "
        'to answer). To apply it, add questionnaire = "issues-2024" to the stage in the '
        "process file before its election is set up."
    ) in said
    with open_services().db.sessions() as session:
        status = session.scalar(select(StageRow.status).where(StageRow.key == STAGE))
    assert status != "credentials"  # set up all the same


def test_setup_of_a_stage_naming_the_questionnaire_refuses_without_a_warning(
    database_url: str,
) -> None:
    _ready_to_set_up(database_url, named=True)
    code, out = _set_up()
    assert code == 1
    assert "warning" not in out
    assert "keeps out (only candidates who answered may be on the ballot): Thomas Hale" in out
