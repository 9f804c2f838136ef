"""The committee's question-by-question editor (SQLite and PostgreSQL): a questionnaire made on
the page with the three kinds of question, then a new version that moves and removes
questions, saved through the same service as the file (the same text, version, audit); bad
input listed at the top with links to its fields, in English and Spanish, and nothing saved;
links already sent keep the questions; observers and posts without the CSRF token refused."""

from __future__ import annotations

import datetime
import re
from typing import Any

from sqlalchemy import func, select
from test_questionnaire_web_review import PASSWORD, TestClient, csrf_of, sign_in, site

from unionvote.domain.questionnaire import (
    Questionnaire,
    parse_questionnaire,
    questionnaire_text,
)
from unionvote.services.questionnaire import definition_text
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, QuestionnaireRow, QuestionnaireVersion
from unionvote.web.routes.questionnaire_editor import EditorForm, build, editor_form

EDITOR = "/committee/questionnaire-editor"
NEW_KEY = "pay-2026"


def _new(csrf: str, **more: str) -> dict[str, str]:
    """A new questionnaire with one question of each kind, as the editor's fields post it."""
    fields = {
        "csrf_token": csrf,
        "base_key": "",
        "version": "1",
        "key": NEW_KEY,
        "title": "Pay and Pensions 2026",
        "title-es": "Salarios y pensiones 2026",
        "introduction": "Tell our members where you stand.",
        "introduction-es": "Diga a nuestros miembros qué piensa.",
        "office": "Governor",
        "office-es": "Gobernador",
        "due-date": "2024-06-30",
        "due-time": "18:00",
        "due-offset": "-05:00",
        "reminders": "7, 2",
        "publication": "who-answered",
        "forum": "yes",
        "parties": "Labor\nGreen",
        "parties-es": "Laborista\nVerde",
        "q1-kind": "yes-no",
        "q1-text": "Will you raise the minimum wage?",
        "q1-text-es": "¿Subirá el salario mínimo?",
        "q1-required": "yes",
        "q1-id": "",
        "q2-kind": "choice",
        "q2-text": "Which pension plan do you back?",
        "q2-text-es": "¿Qué plan de pensiones apoya?",
        "q2-choices": "Defined benefit\r\nDefined contribution\r\nNone",
        "q2-choices-es": "Beneficio definido\r\nContribución definida\r\nNinguno",
        "q2-required": "yes",
        "q2-id": "pension",
        "q3-kind": "text",
        "q3-text": "How will you protect public services?",
        "q3-help": "Please answer in 100 words or fewer.",
        "q3-help-es": "Responda en 100 palabras o menos.",
        "q3-max-words": "100",
        "q3-id": "services",
    }
    fields.update(more)
    return fields


def _count(database: Database, model: Any) -> int:
    with database.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _audit(database: Database) -> list[tuple[str, str, str]]:
    with database.transaction() as session:
        return [(e.actor, e.action, e.subject) for e in session.scalars(select(AuditEntry))]


def _summary(html: str) -> list[tuple[str, str]]:
    """The error summary's links: (field id, message)."""
    found = re.search(r'<div class="message error error-summary".*?</div>', html, re.S)
    assert found is not None, "no error summary"
    return re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', found[0])


def test_a_questionnaire_made_on_the_page_then_a_new_version(database: Database) -> None:
    with site(database) as s:
        csrf = sign_in(s.client)
        page = s.client.get(EDITOR)
        assert page.status_code == 200 and 'id="q1-kind"' in page.text
        assert f'href="{EDITOR}"' in s.client.get("/committee/questionnaires").text

        # preview: the questions in English and Spanish, the file it makes, nothing saved
        versions = _count(database, QuestionnaireVersion)
        preview = s.client.post(EDITOR, data=_new(csrf, op="preview"))
        assert preview.status_code == 200, preview.text
        assert "Saving defines a new questionnaire, version 1." in preview.text
        assert "¿Qué plan de pensiones apoya?" in preview.text
        assert "Beneficio definido" in preview.text and "At most 100 words." in preview.text
        assert "2024-06-30 18:00 UTC-05:00" in preview.text
        # the id made from the text is shown in its field from now on
        assert 'id="q1-id" name="q1-id" type="text" autocomplete="off" value="will-you-raise' in (
            preview.text
        )
        assert _count(database, QuestionnaireVersion) == versions

        saved = s.client.post(EDITOR, data=_new(csrf, op="save"), follow_redirects=False)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"/committee/questionnaires/{NEW_KEY}"
        version, text = definition_text(s.services, NEW_KEY)
        q = parse_questionnaire(text)
        assert version == 1 and q.version == 1
        assert [(x.id, x.kind) for x in q.questions] == [
            ("will-you-raise-the-minimum-wage", "yes-no"),
            ("pension", "choice"),
            ("services", "text"),
        ]
        assert q.questions[1].choices == ("Defined benefit", "Defined contribution", "None")
        assert q.questions[2].max_words == 100 and q.questions[2].help.startswith("Please")
        assert q.due == datetime.datetime(2024, 6, 30, 23, 0, tzinfo=datetime.UTC)
        assert q.zone.utcoffset(None) == datetime.timedelta(hours=-5)
        assert q.publication == "who-answered" and q.answer_required_for_forum
        assert q.reminders == (7, 2) and q.parties == ("Labor", "Green")
        assert q.translations["es"]["Green"] == "Verde"
        assert q.translations["es"]["None"] == "Ninguno"
        assert text == questionnaire_text(q)  # the file the editor writes, read back the same
        assert ("staff:rosa", "questionnaire.define", NEW_KEY) in _audit(database)

        # a new version from the current definition: move the text question up, remove the
        # yes/no question, then save: version 2 in the new order
        page = s.client.get(f"{EDITOR}/{NEW_KEY}").text
        assert "version 2 of pay-2026" in page and 'name="version" value="2"' in page
        fields = _fields_of(page)
        assert fields["q2-choices-es"].splitlines()[0] == "Beneficio definido"
        moved = s.client.post(EDITOR, data={**fields, "op": "up-3"})
        assert moved.status_code == 200
        assert "Question 3 moved: it is question 2 now." in moved.text
        assert re.search(r'id="q2-up"[^>]*autofocus', moved.text)  # focus stays on it
        fields = _fields_of(moved.text)
        assert fields["q2-id"] == "services" and fields["q3-id"] == "pension"
        removed = s.client.post(EDITOR, data={**fields, "op": "remove-1"})
        assert "Question 1 is removed" in removed.text
        fields = _fields_of(removed.text)
        assert [fields["q1-id"], fields["q2-id"]] == ["services", "pension"]
        assert "q3-id" not in fields
        assert _count(database, QuestionnaireVersion) == versions + 1  # nothing saved yet
        again = s.client.post(EDITOR, data={**fields, "op": "save"}, follow_redirects=False)
        assert again.status_code == 303, again.text
        version, text = definition_text(s.services, NEW_KEY)
        q2 = parse_questionnaire(text)
        assert version == 2 and [x.id for x in q2.questions] == ["services", "pension"]
        assert q2.translations["es"]["Which pension plan do you back?"] == (
            "¿Qué plan de pensiones apoya?"
        )
        assert "Will you raise the minimum wage?" not in q2.translations["es"]
        defines = [a for a in _audit(database) if a[1] == "questionnaire.define"]
        assert defines[-1] == ("staff:rosa", "questionnaire.define", NEW_KEY)

        # add a question of each kind: the new one has the fields of its kind, focused
        added = s.client.post(EDITOR, data={**_fields_of(_current_page(s)), "op": "add-choice"})
        assert re.search(r'<textarea id="q3-text"[^>]*autofocus', added.text)
        assert 'id="q3-choices"' in added.text and 'id="q3-max-words"' not in added.text


def _current_page(s: Any) -> str:
    return str(s.client.get(f"{EDITOR}/{NEW_KEY}").text)


def _fields_of(html: str) -> dict[str, str]:
    """The values the editor's form would post (inputs, checked boxes, textareas, selects)."""
    form = re.search(
        r'<form method="post" action="/committee/questionnaire-editor".*?</form>', html, re.S
    )
    assert form is not None
    text = form[0]
    fields: dict[str, str] = {}
    unescape = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&#34;": '"', "&#39;": "'", "&quot;": '"'}

    def plain(value: str) -> str:
        for code, ch in unescape.items():
            value = value.replace(code, ch)
        return value

    for tag in re.findall(r"<input [^>]*>", text):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None:
            continue
        if ('type="checkbox"' in tag or 'type="radio"' in tag) and " checked" not in tag:
            continue
        fields[name[1]] = plain(value[1]) if value else ""
    for name, value in re.findall(
        r'<textarea id="[^"]+" name="([^"]+)"[^>]*>\n(.*?)</textarea>', text, re.S
    ):
        fields[name] = plain(value)
    for name, body in re.findall(
        r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', text, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        fields[name] = chosen[1] if chosen else ""
    return fields


def test_bad_input_is_listed_at_the_top_and_nothing_is_saved(database: Database) -> None:
    with site(database) as s:
        csrf = sign_in(s.client)
        rows, versions = _count(database, QuestionnaireRow), _count(database, QuestionnaireVersion)
        audit = _audit(database)
        bad = s.client.post(
            EDITOR,
            data=_new(
                csrf,
                op="save",
                **{
                    "q1-text": "   ",
                    "q2-choices": "Only one",
                    "q2-choices-es": "",
                    "q3-max-words": "lots",
                    "due-date": "2024-02-30",
                },
            ),
        )
        assert bad.status_code == 422
        summary = dict(_summary(bad.text))
        assert set(summary) == {"due-date", "q1-text", "q1-text-es", "q2-choices", "q3-max-words"}
        assert summary["q2-choices"] == "Give at least two options, one a line."
        assert "whole number from 1 to 5000" in summary["q3-max-words"]
        assert "does not exist" in summary["due-date"]
        # each problem beside its field too, and what was typed kept
        assert 'id="q3-max-words-error"' in bad.text
        assert 'aria-describedby="q3-max-words-hint q3-max-words-error" aria-invalid="true"' in (
            bad.text
        )
        assert 'value="lots"' in bad.text and "Only one" in bad.text
        assert re.search(r'id="error-summary"[^>]*autofocus', bad.text)

        # a word limit of 0, a date that is no date, no policy chosen; in Spanish
        fields = _new(csrf, op="preview", **{"q3-max-words": "0", "due-date": "next week"})
        del fields["publication"]
        es = s.client.post(f"{EDITOR}?lang=es", data=fields)
        assert es.status_code == 422
        summary = dict(_summary(es.text))
        assert set(summary) == {"due-date", "q3-max-words", "publication-publish-all"}
        assert "número entero de 1 a 5000" in summary["q3-max-words"]
        assert "No se guardó nada: corrija estos problemas" in es.text

        # the Spanish options must match the English ones; a key in capitals
        mismatch = s.client.post(
            EDITOR, data=_new(csrf, op="save", key="Pay 2026", **{"q2-choices-es": "Uno"})
        )
        assert set(dict(_summary(mismatch.text))) == {"key", "q2-choices-es"}

        # the file's reader has the last word: a duplicate id it finds is listed the same way
        twice = s.client.post(EDITOR, data=_new(csrf, op="save", **{"q3-id": "pension"}))
        assert dict(_summary(twice.text)).keys() == {"q3-id"}

        assert _count(database, QuestionnaireRow) == rows
        assert _count(database, QuestionnaireVersion) == versions
        assert _audit(database) == audit


def test_links_sent_keep_the_questions_the_due_date_may_move(database: Database) -> None:
    """The example questionnaire's links are sent: the editor's new version may move the due
    date, not remove a question (the service's refusal, shown at the top; nothing saved)."""
    with site(database) as s:
        csrf = sign_in(s.client)
        key = "issues-2024"
        fields = _fields_of(s.client.get(f"{EDITOR}/{key}").text)
        assert fields["csrf_token"] == csrf and fields["version"] == "2"
        assert fields["q3-max-words"] == "150" and fields["due-date"] == "2024-03-01"
        versions = _count(database, QuestionnaireVersion)
        removed = s.client.post(EDITOR, data={**fields, "op": "remove-2"})
        refused = s.client.post(EDITOR, data={**_fields_of(removed.text), "op": "save"})
        assert refused.status_code == 422
        assert "The personal links are sent already" in refused.text
        assert _count(database, QuestionnaireVersion) == versions
        later = s.client.post(
            EDITOR, data={**fields, "due-date": "2024-03-08", "op": "save"}, follow_redirects=False
        )
        assert later.status_code == 303, later.text
        version, text = definition_text(s.services, key)
        assert version == 2 and parse_questionnaire(text).due.day == 8


def test_observers_and_posts_without_csrf_are_refused(database: Database) -> None:
    with site(database) as s:
        sign_in(s.client)
        versions = _count(database, QuestionnaireVersion)
        fields = _new("", op="save")
        del fields["csrf_token"]
        refused = s.client.post(EDITOR, data=fields)
        assert refused.status_code == 403 and "did not come from this site" in refused.text
        assert _count(database, QuestionnaireVersion) == versions

        do_add_staff(
            s.services, "omar", display_name="Omar", role="observer", password=PASSWORD + "!"
        )
        observer = TestClient(s.client.app)
        token = csrf_of(observer.get("/staff/login").text)
        observer.post(
            "/staff/login",
            data={"csrf_token": token, "username": "omar", "password": PASSWORD + "!"},
        )
        page = observer.get(f"{EDITOR}/issues-2024")
        assert page.status_code == 200 and "You are an observer" in page.text
        assert 'id="editor"' not in page.text
        csrf = csrf_of(observer.get("/committee/questionnaires").text)
        refused = observer.post(EDITOR, data=_new(csrf, op="save"))
        assert refused.status_code == 403
        assert _count(database, QuestionnaireVersion) == versions
        assert _count(database, QuestionnaireRow) == 1


def test_the_form_and_the_file_make_the_same_questionnaire() -> None:
    """What the editor fills in from a definition builds that same definition again."""
    from questionnaire_support import QUESTIONNAIRE

    original = parse_questionnaire(QUESTIONNAIRE.read_text(encoding="utf-8"))
    form = editor_form(original, version=original.version)
    built, problems = build(form)
    assert problems == [] and isinstance(built, Questionnaire)
    assert built.comparable() == original.comparable()
    assert built.due == original.due and built.zone == original.zone
    assert dict(built.translations["es"]) == dict(original.translations["es"])
    assert parse_questionnaire(questionnaire_text(built)) == built
    empty, problems = build(EditorForm())
    assert empty is None and {f for f, _m in problems} >= {"key", "title", "due-date"}
