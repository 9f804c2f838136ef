"""The committee opens and closes registration from the stage page, on SQLite and PostgreSQL:
plain confirmations, a bad window refused with nothing changed, observers refused, every
action audited as the staff member. (Finishing the ceremony and opening the election from the
page: ``test_trustee_ceremony.py``.)"""

from __future__ import annotations

import datetime
import sys
import warnings
from pathlib import Path

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_registration import STAGE, START, setup_stage
from web_support import csrf_of

from unionvote.services.audit import audit_log
from unionvote.services.registration import registration_stats
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

PAGE = f"/committee/stages/{STAGE}"
PASSWORD = "a staff pass phrase"
MINUTE = "%Y-%m-%dT%H:%M"


def sign_in(client: TestClient, username: str) -> str:
    client.cookies.clear()
    token = csrf_of(client.get("/staff/login").text)
    answer = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get(PAGE).text)


def status(services, stage: str = STAGE):  # type: ignore[no-untyped-def]
    with services.db.sessions() as session:
        return registration_stats(session, stage)


def test_the_committee_opens_and_closes_registration(database: Database) -> None:
    services, clock = setup_stage(database, open_window=False)
    for username, role in (("rosa", "committee"), ("omar", "observer")):
        do_add_staff(services, username, display_name=username, role=role, password=PASSWORD)
    config = WebSettings(
        dev=True, session_secret="a test secret that is long enough", verify_board=False
    )
    client = TestClient(create_app(config, services=services))

    observer = sign_in(client, "omar")
    page = client.get(PAGE).text
    assert (
        "Getting ready" in page
        and 'action="/committee/stages/'
        not in page.split("Getting ready")[1].split("</section>")[0]
    )
    refused = client.post(
        f"{PAGE}/open-registration",
        data={"csrf_token": observer, "opens": "2024-02-01T13:00", "closes": "2024-02-10T13:00"},
    )
    assert refused.status_code == 403 and status(services).status == "draft"

    token = sign_in(client, "rosa")
    page = client.get(PAGE).text
    assert "Open registration" in page and 'name="opens" type="datetime-local"' in page
    assert f'value="{START.strftime(MINUTE)}"' in page  # the default window starts now

    before = len(list(audit_log(services)))
    for opens, closes, reason in (
        ("tomorrow", "2024-02-10T13:00", "is not a date and time"),
        ("2024-02-10T13:00", "2024-02-01T13:00", "closes"),
    ):
        bad = client.post(
            f"{PAGE}/open-registration",
            data={"csrf_token": token, "opens": opens, "closes": closes},
        )
        assert bad.status_code == 409 and "This was not done" in bad.text and reason in bad.text
    assert status(services).status == "draft" and len(list(audit_log(services))) == before

    opened = client.post(
        f"{PAGE}/open-registration",
        data={"csrf_token": token, "opens": "2024-02-01T13:00", "closes": "2024-02-10T13:00"},
    )
    assert "Registration is open for the window you set." in opened.text
    now = status(services)
    assert now.status == "registration"
    assert now.opens_at == datetime.datetime(2024, 2, 1, 13, tzinfo=datetime.UTC)
    assert "Move the registration window" in opened.text and "Close registration" in opened.text

    # Too early to close: the service says why, nothing changes.
    early = client.post(f"{PAGE}/close-registration", data={"csrf_token": token})
    assert early.status_code == 409 and "has not opened yet" in early.text
    clock.advance(hours=3)
    closed = client.post(f"{PAGE}/close-registration", data={"csrf_token": token})
    assert "Registration is closed: the electorate is final" in closed.text
    assert status(services).status == "registration-closed"
    again = client.post(f"{PAGE}/close-registration", data={"csrf_token": token})
    assert again.status_code == 409 and "already closed" in again.text

    actors = [
        (e.action, e.actor) for e in audit_log(services) if e.action.startswith("registration.")
    ]
    assert ("registration.open", "staff:rosa") in actors
    assert ("registration.close", "staff:rosa") in actors
    # Without the CSRF token nothing is done.
    assert client.post(f"{PAGE}/close-registration").status_code == 403


def test_the_page_in_spanish(database: Database) -> None:
    services, _clock = setup_stage(database, open_window=False)
    do_add_staff(services, "rosa", display_name="Rosa", role="committee", password=PASSWORD)
    config = WebSettings(
        dev=True, session_secret="a test secret that is long enough", verify_board=False
    )
    client = TestClient(create_app(config, services=services))
    sign_in(client, "rosa")
    page = client.get(PAGE, headers={"Accept-Language": "es"}).text
    assert "Abrir la inscripción" in page and "Open registration" not in page
