"""Process files: both examples parse; every kind of bad file is refused with every problem
listed, each at the line that causes it."""

from __future__ import annotations

import datetime
from fractions import Fraction
from pathlib import Path

import pytest

from unionvote.domain.decision import DecisionRule, top_vote_getters_by_party
from unionvote.domain.errors import DomainError
from unionvote.domain.process import (
    Candidate,
    ExtraOption,
    Process,
    ProcessError,
    parse_process,
)
from unionvote.errors import UnionVoteError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> Process:
    return parse_process((EXAMPLES / name).read_text(encoding="utf-8"), source=name)


def test_iam_example() -> None:
    process = load("iam-2024.toml")
    assert process.short_name == "IAM"
    assert process.membership is not None and process.membership.figure == 600_000
    assert process.eligibility.countries == ("US",)
    assert process.eligibility.dues_statuses == ("good standing",)
    assert isinstance(process.eligibility.cutoff, datetime.date)
    assert process.parties == ("Democratic", "Republican", "Independent")
    assert process.report.threshold_percent == 2 and process.report.min_group_size == 50
    vote, council = process.stages
    assert vote.electorate == "members"
    names = [c.name for c in vote.questions[0].candidates]
    assert names[:3] == ["Joe Biden", "Dean Phillips", "Marianne Williamson"]
    assert {"Donald Trump", "Ron DeSantis", "Nikki Haley", "Robert F. Kennedy Jr."} <= set(names)
    assert council.electorate == "council role: state council president"
    assert council.derived_from == "membership-vote"
    assert council.rule == "top vote-getter of each party"
    assert council.decision is not None
    assert council.decision.rule is DecisionRule.SIMPLE_MAJORITY
    assert not council.decision.weights
    (question,) = process.to_questions("membership-vote")
    assert question.answers[0] == "Joe Biden" and (question.min, question.max) == (1, 1)
    question.shape  # noqa: B018 - a valid Belenios question shape


def test_derived_stage_needs_its_candidates() -> None:
    process = load("iam-2024.toml")
    with pytest.raises(DomainError, match="derived candidates"):
        process.to_questions("council-vote")
    vote = process.stages[0].questions[0]
    counts = [{"Joe Biden": 61, "Donald Trump": 17}.get(c.name, 1) for c in vote.candidates]
    chosen = top_vote_getters_by_party(counts, [(c.name, c.party) for c in vote.candidates])
    finalists = [Candidate(name, party) for name, party in chosen.candidates]
    assert len(finalists) == 3  # one per party, Kennedy for the Independents
    finalists = finalists[:2]
    (question,) = process.to_questions("council-vote", {"endorsement": finalists})
    assert question.answers == ("Joe Biden", "Donald Trump", "No endorsement")
    with pytest.raises(DomainError, match="no stage"):
        process.stage("nope")


def test_teamsters_example() -> None:
    process = load("teamsters-2024.toml")
    president, issues = process.stages[0].questions
    assert president.extra_options == (
        ExtraOption.UNDECIDED,
        ExtraOption.NO_ENDORSEMENT,
        ExtraOption.WRITE_IN,
    )
    poll, top_issues = process.to_questions("member-poll")
    # The write-in is a plain choice: a homomorphic question cannot carry a name.
    assert poll.answers[-3:] == ("Undecided", "No endorsement", "Write-in")
    assert len(top_issues.answers) == 10 and (top_issues.min, top_issues.max) == (0, 5)
    assert issues.options == top_issues.answers


GOOD = """\
[union]
name = "Test Union"

[eligibility]
countries = ["US"]
dues_statuses = ["good standing"]
cutoff = 2024-01-01

[[parties]]
name = "Blue"

[[parties]]
name = "Red"

[report]
threshold_percent = 2.5

[[stages]]
id = "vote"
electorate = "members"

[[stages.questions]]
id = "q"
question = "Who?"

[[stages.questions.candidates]]
name = "Ann"
party = "Blue"

[[stages.questions.candidates]]
name = "Bob"
party = "Red"
"""


def test_minimal_file_and_defaults() -> None:
    process = parse_process(GOOD)
    assert process.report.threshold_percent == Fraction(5, 2)
    assert process.report.party_totals and process.report.rounding == "nearest point"
    assert process.stages[0].decision is None
    assert process.to_questions("vote")[0].answers == ("Ann", "Bob")


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ProcessError) as caught:
        parse_process(text, source="bad.toml")
    error = caught.value
    assert isinstance(error, UnionVoteError)
    for p in error.problems:
        assert f"bad.toml:{p.line}: {p.field}: {p.message}" in str(error)
    return [(p.line, p.field) for p in error.problems]


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence]


def test_syntax_error_names_its_line() -> None:
    text = GOOD.replace('name = "Ann"', 'name = "Ann')
    assert problems(text) == [(line_of(text, '"Ann'), "syntax")]


def test_duplicate_key_is_a_syntax_error_with_line() -> None:
    text = GOOD.replace('question = "Who?"', 'question = "Who?"\nquestion = "Again"')
    [(line, field)] = problems(text)
    assert field == "syntax" and line == line_of(text, "Again")


def test_unknown_party() -> None:
    text = GOOD.replace('party = "Red"', 'party = "Green"')
    assert problems(text) == [
        (line_of(text, "Green"), "stages[0].questions[0].candidates[1].party")
    ]


def test_duplicate_candidate() -> None:
    text = GOOD.replace('name = "Bob"', 'name = "Ann"')
    got = problems(text)
    assert (line_of(text, 'name = "Ann"', 1), "stages[0].questions[0].candidates[1].name") in got


def test_threshold_out_of_range() -> None:
    text = GOOD.replace("threshold_percent = 2.5", "threshold_percent = 120")
    assert problems(text) == [(line_of(text, "threshold_percent"), "report.threshold_percent")]


def test_unknown_stage_reference() -> None:
    text = GOOD + (
        '\n[[stages]]\nid = "council"\nelectorate = "council role: president"\n'
        'derived_from = "membership"\n\n[[stages.questions]]\nid = "e"\nquestion = "E?"\n'
        'candidates_from = "q"\n'
    )
    got = problems(text)
    assert (line_of(text, "derived_from"), "stages[1].derived_from") in got


def test_min_greater_than_max_and_max_beyond_answers() -> None:
    text = GOOD.replace('question = "Who?"', 'question = "Who?"\nmin = 2\nmax = 1')
    assert problems(text) == [(line_of(text, "min = 2"), "stages[0].questions[0].min")]
    text = GOOD.replace('question = "Who?"', 'question = "Who?"\nmax = 3')
    assert problems(text) == [(line_of(text, "max = 3"), "stages[0].questions[0].max")]


def test_unknown_field_bad_electorate_and_extra_option() -> None:
    text = GOOD.replace('electorate = "members"', 'electorate = "everyone"\ncolour = "red"')
    text = text.replace('question = "Who?"', 'question = "Who?"\nextra_options = ["maybe"]')
    assert problems(text) == [
        (line_of(text, "everyone"), "stages[0].electorate"),
        (line_of(text, "colour"), "stages[0].colour"),
        (line_of(text, "maybe"), "stages[0].questions[0].extra_options"),
    ]


def test_every_problem_is_listed_in_line_order() -> None:
    text = (
        GOOD.replace("threshold_percent = 2.5", "threshold_percent = -1")
        .replace('party = "Red"', 'party = "Green"')
        .replace("cutoff = 2024-01-01", 'cutoff = "soon"')
    )
    got = problems(text)
    assert got == [
        (line_of(text, "cutoff"), "eligibility.cutoff"),
        (line_of(text, "threshold_percent"), "report.threshold_percent"),
        (line_of(text, "Green"), "stages[0].questions[0].candidates[1].party"),
    ]
    with pytest.raises(ProcessError, match=r"3 problems in bad\.toml"):
        parse_process(text, source="bad.toml")


def test_second_stage_table_lines_are_found() -> None:
    iam = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
    text = iam.replace('rule = "simple majority"', 'rule = "plurality"')
    assert problems(text) == [(line_of(text, "plurality"), "stages[1].decision.rule")]
    text = iam.replace('candidates_from = "president"', 'candidates_from = "mayor"')
    assert problems(text) == [(line_of(text, "mayor"), "stages[1].questions[0].candidates_from")]


def test_multiline_arrays_do_not_confuse_lines() -> None:
    teamsters = (EXAMPLES / "teamsters-2024.toml").read_text(encoding="utf-8")
    text = teamsters.replace("max = 5", "max = 11")
    assert problems(text) == [(line_of(text, "max = 11"), "stages[0].questions[1].max")]


def test_question_without_answers_and_missing_sections() -> None:
    text = '[union]\nname = "U"\n\n[[stages]]\nid = "v"\nelectorate = "members"\n\n'
    text += '[[stages.questions]]\nid = "q"\nquestion = "?"\n'
    got = problems(text)
    assert (1, "(file)") in got  # no [eligibility]
    assert (line_of(text, "[[stages.questions]]"), "stages[0].questions[0]") in got


TRANSLATED = (
    GOOD.replace('id = "vote"', 'id = "vote"\ntitle = "The vote"')
    + """
[translations.es]
"Test Union" = "Unión de Prueba"
"Blue" = "Azul"
"The vote" = "La votación"
"Who?" = "¿Quién?"
"""
)


def test_translations_give_the_spanish_and_fall_back_to_the_file() -> None:
    process = parse_process(TRANSLATED)
    assert process.translated("Who?", "es") == "¿Quién?"
    assert process.translated("Test Union", "es") == "Unión de Prueba"
    assert process.translated("Red", "es") == "Red"  # not translated: the file's text
    assert process.translated("Who?", "en") == "Who?"
    assert process.translated("Ann", "es") == "Ann"
    # The election record keeps the file's English.
    assert process.to_questions("vote")[0].question == "Who?"
    assert parse_process(GOOD).translations == {}


def test_both_examples_translate_every_text_members_read() -> None:
    for name in ("iam-2024.toml", "teamsters-2024.toml"):
        process = load(name)
        spanish = process.translations["es"]
        assert process.union in spanish and set(process.parties) <= set(spanish)
        for stage in process.stages:
            assert stage.title in spanish
            for question in stage.questions:
                assert question.question in spanish
                assert set(question.options) <= set(spanish)


def test_unknown_language() -> None:
    text = TRANSLATED + '\n[translations.fr]\n"Who?" = "Qui ?"\n'
    assert problems(text) == [(line_of(text, "[translations.fr]"), "translations.fr")]
    text = TRANSLATED.replace("[translations.es]", "[translations.en]")
    assert problems(text) == [(line_of(text, "[translations.en]"), "translations.en")]


def test_translation_of_a_text_the_file_does_not_have() -> None:
    text = TRANSLATED + '"Whom?" = "¿A quién?"\n'
    assert problems(text) == [(line_of(text, "Whom?"), 'translations.es."Whom?"')]


def test_candidate_names_and_extra_options_are_not_translated_by_the_file() -> None:
    text = TRANSLATED + '"Ann" = "Ana"\n"No endorsement" = "Ningún respaldo"\n'
    with pytest.raises(ProcessError) as caught:
        parse_process(text, source="bad.toml")
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (line_of(text, "Ana"), "translations.es.Ann"),
        (line_of(text, "Ningún"), 'translations.es."No endorsement"'),
    ]
    assert "a candidate's name is not translated" in str(caught.value)
    assert "translated by unionvote itself" in str(caught.value)


def test_empty_or_non_text_translation() -> None:
    text = TRANSLATED.replace('"Azul"', '""').replace('"La votación"', "3")
    assert problems(text) == [
        (line_of(text, '"Blue" ='), "translations.es.Blue"),
        (line_of(text, '"The vote" ='), 'translations.es."The vote"'),
    ]
    text = TRANSLATED.replace('"Azul"', '"   "')
    assert problems(text) == [(line_of(text, '"Blue" ='), "translations.es.Blue")]


def test_translations_must_be_tables() -> None:
    text = GOOD + '\n[translations]\nes = "Spanish"\n'
    assert problems(text) == [(line_of(text, 'es = "Spanish"'), "translations.es")]
    text = GOOD.replace("[union]", 'translations = "es"\n\n[union]')
    assert problems(text) == [(line_of(text, 'translations = "es"'), "translations")]
