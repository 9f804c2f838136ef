"""The questionnaire file written from a definition (what the committee's editor saves) reads
back to the same definition, whatever its texts hold: quotes, backslashes, line breaks, control
characters, any script, any offset."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.questionnaire import (
    Question,
    Questionnaire,
    parse_questionnaire,
    questionnaire_text,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire-2024.toml"
texts = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != "")


def test_the_example_file_written_again_reads_the_same() -> None:
    original = parse_questionnaire(EXAMPLE.read_text(encoding="utf-8"))
    assert parse_questionnaire(questionnaire_text(original)) == original


@settings(max_examples=150, deadline=None)
@given(
    title=texts,
    question=texts,
    choices=st.lists(texts, min_size=2, max_size=4, unique=True),
    spanish=texts,
    minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
    words=st.integers(min_value=1, max_value=5000),
)
def test_any_texts_and_offsets_read_back_the_same(
    title: str, question: str, choices: list[str], spanish: str, minutes: int, words: int
) -> None:
    zone = datetime.UTC if minutes == 0 else datetime.timezone(datetime.timedelta(minutes=minutes))
    q = Questionnaire(
        key="k-1",
        version=3,
        title=title,
        due=datetime.datetime(2030, 5, 1, 12, 30, tzinfo=datetime.UTC),
        publication="private",
        questions=(
            Question("a", "choice", question, choices=tuple(choices)),
            Question("b", "text", question + "?", help=title, required=False, max_words=words),
            Question("c", "yes-no", "Yes?"),
        ),
        reminders=(9, 1),
        answer_required_for_forum=True,
        translations={"es": {title: spanish}},
        zone=zone,
    )
    assert parse_questionnaire(questionnaire_text(q)) == q
    assert parse_questionnaire(questionnaire_text(dataclasses.replace(q, translations={}))) == (
        dataclasses.replace(q, translations={})
    )
