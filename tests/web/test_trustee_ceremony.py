"""The key ceremony through the trustees' pages, on SQLite and PostgreSQL: the page says each
trustee's step from the committee's side, serves that step's input, and takes back only the
message, checked by the committee's own intake (a tampered or out-of-turn one is refused with
nothing stored), audited as the trustee; the committee finishes the ceremony and opens the
election from its page. The trustees' messages here are made by Python's trustee code (the
CLI's); ``tests/e2e/test_browser_trustee.py`` makes them in Chromium."""

from __future__ import annotations

import datetime
import html
import json
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_elections import OPENS, STAGE, make_vote
from web_support import csrf_of

from unionvote.domain.trustee_work import (
    finish,
    new_certificate,
    new_single_key,
    polynomial_message,
    trustees_fingerprint,
    verification_key,
)
from unionvote.services.audit import audit_log
from unionvote.services.context import Services
from unionvote.services.elections import election_status
from unionvote.services.staff import do_add_staff
from unionvote.services.trustees import (
    certificates_for,
    do_add_trustee,
    do_make_server_key,
    do_submit_certificate,
    do_submit_polynomial,
    do_submit_voutput,
    public_trustees,
    vinput_for,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, CeremonyMessage
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

PAGE = f"/trustee/stages/{STAGE}/ceremony"
COMMITTEE = f"/committee/stages/{STAGE}"
PASSWORD = "a staff pass phrase"


@dataclass
class Ceremony:
    services: Services
    client: TestClient


def site(database: Database, tmp_path: Path) -> Ceremony:
    """Members with public credentials, the server's key, two threshold trustees (Tomás, who
    uses these pages, and Lena, who uses the CLI), a single trustee (Sol), staff accounts."""
    vote = make_vote(database, set_up=False)
    services = vote.services
    do_make_server_key(services, STAGE, tmp_path / "server.key")
    assert do_add_trustee(services, STAGE, name="Tomás").position == 1
    assert do_add_trustee(services, STAGE, name="Lena").position == 2
    assert do_add_trustee(services, STAGE, name="Sol", kind="single").position == 3
    for username, role, position in (
        ("rosa", "committee", None),
        ("omar", "observer", None),
        ("tomas", "trustee", 1),
        ("sol", "trustee", 3),
        ("nadie", "trustee", 7),
    ):
        do_add_staff(
            services,
            username,
            display_name=username.title(),
            role=role,
            password=PASSWORD,
            trustee_position=position,
        )
    config = WebSettings(
        dev=True, session_secret="a test secret that is long enough", verify_board=False
    )
    return Ceremony(services, TestClient(create_app(config, services=services)))


def sign_in(ceremony: Ceremony, username: str) -> str:
    client = ceremony.client
    client.cookies.clear()
    token = csrf_of(client.get("/staff/login").text)
    answer = client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get(answer.headers["location"]).text)


def send(ceremony: Ceremony, token: str, step: str, message: bytes):  # type: ignore[no-untyped-def]
    return ceremony.client.post(
        f"{PAGE}/{step}", data={"csrf_token": token, "message": message.decode()}
    )


def stored(ceremony: Ceremony) -> tuple[int, int]:
    with ceremony.services.db.sessions() as session:
        messages = session.scalar(select(func.count()).select_from(CeremonyMessage)) or 0
        audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return messages, audit


def data(page: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found is not None, f"no data-{name} on the page"
    return html.unescape(found.group(1))


def tampered(message: bytes, *path: str | int) -> bytes:
    obj = json.loads(message)
    target = obj
    for key in path:
        target = target[key]
    target["response"] = str((int(target["response"]) + 1) % 2**252)
    return json.dumps(obj, separators=(",", ":")).encode()


def test_a_trustee_takes_every_step_through_the_pages(database: Database, tmp_path: Path) -> None:
    ceremony = site(database, tmp_path)
    services, client = ceremony.services, ceremony.client
    token = sign_in(ceremony, "tomas")

    # Step 1: the page gives what `trustee init` needs, from the committee's side.
    page = client.get(PAGE).text
    assert "Step 1: make your keys and your certificate" in page
    assert (data(page, "step"), data(page, "name")) == ("init", "Tomás")
    assert (data(page, "index"), data(page, "size"), data(page, "threshold")) == ("1", "2", "2")
    assert 'id="state-file"' not in page  # nothing to load before the first step
    tomas, certificate = new_certificate("Tomás", size=2, threshold=2, index=1)
    before = stored(ceremony)
    refused = send(ceremony, token, "init", tampered(certificate, "signature"))
    assert refused.status_code == 422 and "Your message was not accepted" in refused.text
    assert stored(ceremony) == before, "a refused message changed the database"
    empty = send(ceremony, token, "init", b"  ")
    assert empty.status_code == 422 and "There is no message to send" in empty.text
    done = send(ceremony, token, "init", certificate)
    assert done.status_code == 200 and "Your certificate is checked and stored" in done.text
    assert "Waiting for: Lena" in done.text
    assert client.get(f"{PAGE}/certificates.json").status_code == 409  # Lena's is missing

    # Lena, with the CLI, through the committee's import.
    lena, lena_certificate = new_certificate("Lena", size=2, threshold=2, index=2)
    do_submit_certificate(services, STAGE, 2, lena_certificate)

    # Step 2: the certificates to download, a polynomial back; a message for another step is
    # refused by the intake.
    page = client.get(PAGE).text
    assert data(page, "step") == "polynomial" and 'id="state-file"' in page
    assert data(page, "input") == f"{PAGE}/certificates.json"
    fetched = client.get(data(page, "input"))
    assert fetched.status_code == 200 and "attachment" in fetched.headers["content-disposition"]
    with services.db.sessions() as session:
        assert fetched.content == certificates_for(session, STAGE)
    tomas, polynomial = polynomial_message(tomas, fetched.content)
    before = stored(ceremony)
    assert send(ceremony, token, "verification-key", polynomial).status_code == 422
    assert send(ceremony, token, "polynomial", tampered(polynomial, "signature")).status_code == 422
    assert stored(ceremony) == before
    assert "polynomial message is checked" in send(ceremony, token, "polynomial", polynomial).text
    lena, lena_polynomial = polynomial_message(lena, fetched.content)
    do_submit_polynomial(services, STAGE, 2, lena_polynomial)

    # Step 3: only this trustee's routed shares are served.
    page = client.get(PAGE).text
    assert data(page, "step") == "verification-key"
    vinput = client.get(f"{PAGE}/vinput.json").content
    with services.db.sessions() as session:
        assert vinput == vinput_for(session, STAGE, 1) != vinput_for(session, STAGE, 2)
        lena_vinput = vinput_for(session, STAGE, 2)
    tomas, key = verification_key(tomas, vinput)
    assert "verification key is checked" in send(ceremony, token, "verification-key", key).text
    lena, lena_key = verification_key(lena, lena_vinput)
    do_submit_voutput(services, STAGE, 2, lena_key)
    page = client.get(PAGE).text
    assert "Waiting for: Sol" in page  # the single trustee's key is still missing

    # Sol, the single trustee, sends a public key from the pages.
    sol_token = sign_in(ceremony, "sol")
    page = client.get(PAGE).text
    assert data(page, "step") == "single-key" and "Make your key" in page
    _sol, sol_key = new_single_key("Sol")
    assert "public key is checked" in send(ceremony, sol_token, "single-key", sol_key).text
    assert "Waiting for the election committee to finish" in client.get(PAGE).text

    # The committee finishes the ceremony from its page; then each trustee records the list.
    committee = sign_in(ceremony, "rosa")
    page = client.get(COMMITTEE).text
    assert "Finish the key ceremony" in page
    finished = client.post(f"{COMMITTEE}/finish-ceremony", data={"csrf_token": committee})
    assert "The key ceremony is finished" in finished.text
    sign_in(ceremony, "tomas")
    page = client.get(PAGE).text
    assert data(page, "step") == "finish" and data(page, "input") == f"{PAGE}/trustees.json"
    public = client.get(f"{PAGE}/trustees.json").content
    with services.db.sessions() as session:
        assert public == public_trustees(session, STAGE)
    tomas = finish(tomas, public)
    assert data(page, "fingerprint") == trustees_fingerprint(tomas.trustees)
    assert tomas.owner == 3  # the server 1, Sol 2, then the group

    actors = {
        (entry.action, entry.actor)
        for entry in audit_log(services)
        if entry.action.startswith(("ceremony.", "trustee.key"))
    }
    assert ("ceremony.certificate", "staff:tomas") in actors
    assert ("ceremony.polynomial", "staff:tomas") in actors
    assert ("ceremony.verification_key", "staff:tomas") in actors
    assert ("trustee.key", "staff:sol") in actors
    assert ("ceremony.finish", "staff:rosa") in actors

    # The committee sets up and opens the election on this trustee list.
    committee = sign_in(ceremony, "rosa")
    page = client.get(COMMITTEE).text
    assert "Set up and open the election" in page
    opens = OPENS.strftime("%Y-%m-%dT%H:%M")
    closes = (OPENS + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(
        f"{COMMITTEE}/open-election",
        data={"csrf_token": committee, "opens": closes, "closes": opens},
    )
    assert bad.status_code == 409 and "This was not done" in bad.text
    opened = client.post(
        f"{COMMITTEE}/open-election",
        data={"csrf_token": committee, "opens": opens, "closes": closes},
    )
    assert "The election is set up and open for voting" in opened.text
    status = election_status(services, STAGE)
    assert status.phase == "voting" and status.voting_opens_at == OPENS
    assert [e.actor for e in audit_log(services, action="election.setup")] == ["staff:rosa"]


def test_who_may_do_what(database: Database, tmp_path: Path) -> None:
    ceremony = site(database, tmp_path)
    client = ceremony.client
    observer = sign_in(ceremony, "omar")
    assert client.get(PAGE).status_code == 403
    _, certificate = new_certificate("Tomás", size=2, threshold=2, index=1)
    before = stored(ceremony)
    assert send(ceremony, observer, "init", certificate).status_code == 403
    page = client.get(COMMITTEE).text
    assert "Tomás" in page and "Finish the key ceremony" not in page
    assert (
        client.post(f"{COMMITTEE}/finish-ceremony", data={"csrf_token": observer}).status_code
        == 403
    )

    # A trustee account that is no trustee of this stage is told so, and cannot send.
    token = sign_in(ceremony, "nadie")
    page = client.get(PAGE)
    assert page.status_code == 200 and "You cannot take part" in page.text
    assert send(ceremony, token, "init", certificate).status_code == 422
    # Without the session's CSRF token nothing is taken.
    sign_in(ceremony, "tomas")
    assert client.post(f"{PAGE}/init", data={"message": certificate.decode()}).status_code == 403
    assert client.post(f"{PAGE}/decrypt", data={"message": "x"}).status_code in (403, 404, 422)
    assert stored(ceremony)[0] == before[0]


def test_the_ceremony_page_in_spanish(database: Database, tmp_path: Path) -> None:
    ceremony = site(database, tmp_path)
    sign_in(ceremony, "tomas")
    page = ceremony.client.get(PAGE, headers={"Accept-Language": "es"}).text
    assert '<html lang="es"' in page
    assert "Paso 1" in page and "Step 1" not in page
