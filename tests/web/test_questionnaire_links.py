"""The questionnaire within the site's navigation: the home page and the endorsement page link
to the published questionnaires, the staff bar to the committee's questionnaire pages, and the
endorsement page links each linked questionnaire to its comparison. English and Spanish."""

from __future__ import annotations

import datetime
import re
import sys
import warnings
from pathlib import Path

import pytest
from publications import Published, process_text, publish_membership
from questionnaire_support import CAMPAIGNS, KEY, QUESTIONNAIRE
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_endorsement_questionnaire import endorse

from unionvote.services.context import FixedClock, Services
from unionvote.services.council import do_record_endorsement
from unionvote.services.process import do_init_process
from unionvote.services.questionnaire import (
    do_define_questionnaire,
    do_import_campaigns,
    do_publish,
)
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

PASSWORD = "committee pass phrase"
SECRET = "a test secret that is long enough for the session"


def staff_sign_in(client: TestClient, username: str, password: str) -> None:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text)
    assert found is not None
    answer = client.post(
        "/staff/login",
        data={"csrf_token": found[1], "username": username, "password": password},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def client_for(services: Services) -> TestClient:
    settings = WebSettings(dev=True, session_secret=SECRET, verify_board=False)
    return TestClient(create_app(settings, services=services))


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("built"))


def test_the_public_pages_and_the_staff_bar_link_the_questionnaires(database: Database) -> None:
    services = Services(database, FixedClock(datetime.datetime(2024, 2, 1, tzinfo=datetime.UTC)))
    do_init_process(services, process_text(), source_name="test.toml")
    do_add_staff(services, "rosa", display_name="Rosa", role="committee", password=PASSWORD)
    client = client_for(services)
    for path in ("/", "/endorsement"):
        assert 'href="/questionnaires">Candidate questionnaires</a>' in client.get(path).text
        spanish = client.get(f"{path}?lang=es").text
        assert 'href="/questionnaires">Cuestionarios para candidatos</a>' in spanish
    staff_sign_in(client, "rosa", PASSWORD)
    dashboard = client.get("/committee").text
    assert 'href="/committee/questionnaires">Candidate questionnaires</a>' in dashboard


def test_the_endorsement_page_links_the_comparison(
    database: Database, membership: Published, tmp_path: Path
) -> None:
    services = endorse(database, membership, tmp_path)
    do_define_questionnaire(services, QUESTIONNAIRE.read_text(encoding="utf-8"))
    do_import_campaigns(services, KEY, CAMPAIGNS.read_text(encoding="utf-8"))
    published = do_publish(services, KEY, early=True)
    do_record_endorsement(services, statement="We endorse.", decided_by="Council")
    client = client_for(services)
    page = client.get("/endorsement").text
    assert f"<code>{published.name}</code>" in page and published.sha256 in page
    # The link opens the exact publication the record hashes (tests/web/
    # test_questionnaire_followups.py: an earlier one says a newer one exists).
    link = f"/questionnaires/{KEY}?sha256={published.sha256}"
    assert f'<a href="{link}">Compare the candidates\' answers</a>' in page
    spanish = client.get("/endorsement?lang=es").text
    assert f'<a href="{link}">Comparar las respuestas de los candidatos</a>' in spanish
    assert client.get(link).status_code == 200
    assert client.get(f"/questionnaires/{KEY}").status_code == 200
