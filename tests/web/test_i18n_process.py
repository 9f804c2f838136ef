"""The process file's own texts in the page's language: the Spanish booth shows the file's
Spanish question, options and parties (candidates' names as they are), the English booth the
file's English, and what the browser gets to encrypt and send does not change."""

from __future__ import annotations

import datetime
import warnings

import pytest
from publications import MEMBERSHIP, Published, publish_membership, seed_election
from publications import process_text as results_process_text
from sqlalchemy import update
from starlette.exceptions import StarletteDeprecationWarning
from web_support import JOBS, POSTAL, STAGE, A, Site
from web_support import make_site as _english_site

from unionvote.domain.publication import ELECTORATE_FILE, SUBTALLIES_FILE
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process
from unionvote.services.report import do_publish_report
from unionvote.storage.database import Database
from unionvote.storage.models import Member
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from test_elections import make_vote, process_text  # on the path web_support sets

SPANISH = """
[translations.es]
"Test Union of Machinists" = "Unión de Maquinistas de Prueba"
"Democratic" = "Demócrata"
"Republican" = "Republicano"
"General membership vote" = "Votación general de los miembros"
"Whom should the union endorse?" = "¿A quién debería respaldar el sindicato?"
"Which issues matter most?" = "¿Qué temas importan más?"
"Jobs" = "Empleos"
"Health" = "Salud"
"""
RESULTS_SPANISH = "\n".join(SPANISH.splitlines()[:7]) + "\n"  # the texts that file has


def _translated_site(database: Database) -> Site:
    vote = make_vote(database, text=process_text() + SPANISH)
    with database.transaction() as session:
        session.execute(update(Member).values(postal_code=POSTAL))
    config = WebSettings(dev=True, verify_board=False)  # dev: a random session secret
    return Site(vote, TestClient(create_app(config, services=vote.services)))


def test_the_booth_shows_the_process_text_in_the_page_language(database: Database) -> None:
    site = _translated_site(database)
    token = site.sign_in(0)
    spanish = site.client.get(f"/vote/{STAGE}/ballot", params={"lang": "es"}).text
    assert '<html lang="es">' in spanish
    assert "<h1>Votación general de los miembros</h1>" in spanish
    assert "<legend>¿A quién debería respaldar el sindicato?</legend>" in spanish
    assert 'Ann Able <span class="party">(Demócrata)</span></label>' in spanish
    assert 'Bob Baker <span class="party">(Republicano)</span></label>' in spanish
    assert 'data-label="Ann Able (Demócrata)"' in spanish  # what the review step repeats
    assert "<legend>¿Qué temas importan más?</legend>" in spanish
    assert ">Empleos</label>" in spanish and ">Salud</label>" in spanish
    assert ">Trade</label>" in spanish  # not translated by the file: its own text
    assert "Unión de Maquinistas de Prueba" in spanish
    for english in ("Whom should the union endorse?", "(Democratic)", ">Jobs<", "Test Union"):
        assert english not in spanish

    english = site.client.get(f"/vote/{STAGE}/ballot", params={"lang": "en"}).text
    assert '<html lang="en">' in english
    assert "<h1>General membership vote</h1>" in english
    assert "<legend>Whom should the union endorse?</legend>" in english
    assert 'Ann Able <span class="party">(Democratic)</span></label>' in english
    assert ">Jobs</label>" in english and "Test Union of Machinists" in english
    for translated in ("¿A quién", "Demócrata", "Empleos", "Unión de Maquinistas"):
        assert translated not in english

    # The election the browser encrypts against keeps the file's English, and the booth still
    # sends nothing but the ballot.
    election = site.client.get(f"/api/stages/{STAGE}/election", params={"lang": "es"}).json()
    assert election["questions"][0]["question"] == "Whom should the union endorse?"
    assert site.cast(site.vote.ballot(0, (A, JOBS)), token).status_code == 201


def test_other_pages_show_the_process_text_in_the_page_language(database: Database) -> None:
    site = _translated_site(database)
    home = site.client.get("/", params={"lang": "es"}).text
    assert "Votaciones de Unión de Maquinistas de Prueba" in home
    assert "<h2>Votación general de los miembros</h2>" in home
    assert "<h2>State Council Presidents&#39; vote</h2>" in home  # no translation given
    signin = site.client.get(f"/vote/{STAGE}", params={"lang": "es"}).text
    assert '<p class="lead">Votación general de los miembros</p>' in signin
    assert '<p class="lead">General membership vote</p>' in site.client.get(f"/vote/{STAGE}").text


def test_a_file_without_translations_shows_its_text_in_every_language(
    database: Database,
) -> None:
    site = _english_site(database)
    site.sign_in(0)
    spanish = site.client.get(f"/vote/{STAGE}/ballot", params={"lang": "es"}).text
    assert '<html lang="es">' in spanish
    assert "<legend>Whom should the union endorse?</legend>" in spanish
    assert 'Ann Able <span class="party">(Democratic)</span></label>' in spanish


@pytest.fixture(scope="module")
def membership(tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_membership(tmp_path_factory.mktemp("built"))


def test_the_results_page_shows_the_process_text_in_the_page_language(
    database: Database, membership: Published
) -> None:
    services = Services(database, FixedClock(datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC)))
    do_init_process(services, results_process_text() + RESULTS_SPANISH, source_name="test.toml")
    files = {n: membership.files[n] for n in (ELECTORATE_FILE, SUBTALLIES_FILE)}
    seed_election(services, MEMBERSHIP, membership.built, files)
    do_publish_report(services, MEMBERSHIP, simulation=False)
    client = TestClient(create_app(WebSettings(dev=True, verify_board=False), services=services))
    spanish = client.get(f"/stages/{MEMBERSHIP}/results", params={"lang": "es"}).text
    assert "<h1>Resultados: TUM: Votación general de los miembros</h1>" in spanish
    assert ">¿A quién debería respaldar el sindicato?</h2>" in spanish
    assert '<th scope="row">Demócrata</th>' in spanish and "Ada Lovelace" in spanish
    assert "Whom should the union endorse?" not in spanish
    english = client.get(f"/stages/{MEMBERSHIP}/results", params={"lang": "en"}).text
    assert "<h1>Results: TUM: General membership vote</h1>" in english
    assert ">Whom should the union endorse?</h2>" in english
    assert '<th scope="row">Democratic</th>' in english and "Demócrata" not in english
    # The published report keeps the file's English.
    report = client.get(f"/stages/{MEMBERSHIP}/results/report.txt", params={"lang": "es"}).text
    assert "Whom should the union endorse?" in report and "¿A quién" not in report
