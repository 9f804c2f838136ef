"""The members' list of published questionnaires in Spanish shows the Spanish title (the
file's translation), and the English list the English one (SQLite and PostgreSQL)."""

from __future__ import annotations

from test_questionnaire_web_review import site

from unionvote.services.questionnaire import do_publish
from unionvote.storage.database import Database

TITLE_EN = "2024 Presidential Candidate Questionnaire"
TITLE_ES = "Cuestionario para candidatos presidenciales 2024"


def test_the_published_list_names_the_questionnaire_in_the_page_language(
    database: Database,
) -> None:
    with site(database) as s:
        published = do_publish(s.services, "issues-2024", early=True)
        assert published.title_in("es") == TITLE_ES and published.title_in("en") == TITLE_EN
        spanish = s.client.get("/questionnaires?lang=es").text
        assert f'<a href="/questionnaires/issues-2024">{TITLE_ES}</a>' in spanish
        assert TITLE_EN not in spanish
        english = s.client.get("/questionnaires?lang=en").text
        assert f'<a href="/questionnaires/issues-2024">{TITLE_EN}</a>' in english
