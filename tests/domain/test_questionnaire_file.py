"""The questionnaire file: the example reads; every problem of a bad file is listed with its
line and field; answers are checked against the questions (kinds, choices, word limits)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from unionvote.domain.questionnaire import (
    QuestionnaireError,
    QuestionnaireFileError,
    answers_digest,
    check_answers,
    count_words,
    parse_questionnaire,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire-2024.toml"
TEXT = EXAMPLE.read_text(encoding="utf-8")


def test_the_example_reads() -> None:
    q = parse_questionnaire(TEXT, source=EXAMPLE.name)
    assert (q.key, q.version, q.publication) == ("issues-2024", 1, "publish-all")
    assert q.due == datetime.datetime(2024, 3, 1, 23, 59, tzinfo=datetime.UTC)
    assert q.reminders == (7, 2)
    assert q.reminder_times()[0] == q.due - datetime.timedelta(days=7)
    assert q.answer_required_for_forum
    assert [(x.id, x.kind) for x in q.questions] == [
        ("pro-act", "yes-no"),
        ("trade", "choice"),
        ("pensions", "text"),
    ]
    assert q.questions[2].max_words == 150
    assert q.translated(q.questions[0].text, "es") == "¿Firmará la Ley PRO?"
    assert q.translated(q.questions[0].text, "fr") == q.questions[0].text
    assert q.display(q.questions[0], "yes", "es") == "Sí"
    assert q.display(q.questions[1], "2", "en") == "Withdraw from agreements that cost union jobs"


def test_every_problem_is_listed_with_its_line() -> None:
    bad = (
        TEXT.replace('format = "unionvote-questionnaire/1"', 'format = "other/9"')
        .replace("due = 2024-03-01T23:59:00Z", "due = 2024-03-01T23:59:00")
        .replace('publication = "publish-all"', 'publication = "everyone"')
        .replace('kind = "choice"', 'kind = "choice"\nmax_words = 10')
        .replace("max_words = 150", "")
        .replace("reminders = [7, 2]", "reminders = [7, 7, 0]")
        .replace('"Keep the current agreements" = ', '"Keep the agreements" = ')
    )
    with pytest.raises(QuestionnaireFileError) as caught:
        parse_questionnaire(bad, source="bad.toml")
    error = caught.value
    assert error.check == "questionnaire.file"
    fields = {p.field for p in error.file_problems}
    assert {
        "format",
        "due",
        "publication",
        "reminders",
        "questions[1].max_words",
        "questions[2].max_words",
        'translations.es."Keep the agreements"',
    } <= fields, fields
    lines = {p.field: p.line for p in error.file_problems}
    assert lines["format"] == bad.splitlines().index('format = "other/9"') + 1
    assert str(error).startswith("questionnaire.file: 7 problems in bad.toml\nbad.toml:")


def test_a_syntax_error_and_missing_fields() -> None:
    with pytest.raises(QuestionnaireFileError, match=r"bad.toml:2: syntax"):
        parse_questionnaire('key = "a"\ntitle = \n', source="bad.toml")
    with pytest.raises(QuestionnaireFileError) as caught:
        parse_questionnaire('format = "unionvote-questionnaire/1"\n', source="x.toml")
    fields = {p.field for p in caught.value.file_problems}
    assert {"key", "version", "title", "due", "publication", "questions"} <= fields


def test_questions_must_be_well_formed() -> None:
    bad = TEXT.replace('id = "trade"', 'id = "pro-act"').replace(
        'choices = [\n    "Enforceable',
        'choices = [\n    "Keep the current agreements",\n    "Enforceable',
    )
    with pytest.raises(QuestionnaireFileError) as caught:
        parse_questionnaire(bad, source="q.toml")
    messages = [p.message for p in caught.value.file_problems]
    assert "question 'pro-act' is defined twice" in messages
    assert "a choice is listed twice" in messages


def test_answers_are_checked() -> None:
    q = parse_questionnaire(TEXT)
    draft = check_answers(q, {"pro-act": " yes "}, complete=False)
    assert draft == {"pro-act": "yes", "trade": "", "pensions": ""}
    with pytest.raises(QuestionnaireError) as caught:
        check_answers(q, {"pro-act": "yes"}, complete=True)
    assert caught.value.check == "questionnaire.incomplete"
    assert [p.question_id for p in caught.value.problems] == ["trade", "pensions"]
    with pytest.raises(QuestionnaireError) as caught:
        check_answers(q, {"pensions": "w " * 151, "trade": "3", "x": "1"}, complete=False)
    assert caught.value.check == "questionnaire.answer"  # the worst first
    assert {(p.question_id, p.check) for p in caught.value.problems} == {
        ("x", "questionnaire.answer"),
        ("trade", "questionnaire.answer"),
        ("pensions", "questionnaire.too-long"),
    }
    assert count_words("  one two\nthree ") == 3
    full = {"pro-act": "no", "trade": "1", "pensions": "w " * 150}
    assert check_answers(q, full, complete=True)["pensions"] == ("w " * 150).strip()
    assert answers_digest({"a": "1", "b": "2"}) == answers_digest({"b": "2", "a": "1"})
