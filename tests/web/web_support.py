"""Test support for the website's unit tests: an election set up through the services (the
helpers of ``tests/services/test_elections.py``), members with postal codes to sign in with,
and a TestClient on the app over the same database, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from starlette.exceptions import StarletteDeprecationWarning

# Starlette's TestClient prefers the httpx2 fork now; httpx (a dev dependency) still works.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from test_elections import JOBS, NONE, STAGE, A, B, Vote, make_vote
from test_registration import Inbox, setup_stage
from test_signin import smtp_server

from unionvote.storage.database import Database
from unionvote.storage.models import Member
from unionvote.web.app import create_app
from unionvote.web.settings import WebSettings

__all__ = [
    "JOBS",
    "NONE",
    "POSTAL",
    "STAGE",
    "A",
    "B",
    "Inbox",
    "Site",
    "csrf_of",
    "make_site",
    "registration_client",
    "smtp_server",
]

POSTAL = "48201"
SECRET = "a test secret that is long enough for the session"


@dataclass
class Site:
    vote: Vote
    client: TestClient

    def sign_in(self, voter: int = 0) -> str:
        """Sign member ``voter`` in; returns the CSRF token of the session."""
        token = csrf_of(self.client.get(f"/vote/{STAGE}").text)
        response = self.client.post(
            f"/vote/{STAGE}",
            data={
                "csrf_token": token,
                "card_number": self.vote.cards[voter],
                "last_name": "Test",
                "postal_code": POSTAL,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/vote/{STAGE}/ballot"
        return csrf_of(self.client.get(f"/vote/{STAGE}/ballot").text)

    def cast(self, raw: bytes, token: str):
        return self.client.post(
            f"/api/stages/{STAGE}/ballots",
            content=raw,
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def make_site(database: Database, *, https: bool = False, **settings: object) -> Site:
    vote = make_vote(database)
    with database.transaction() as session:
        session.execute(update(Member).values(postal_code=POSTAL))
    config = WebSettings(
        dev=not https,
        session_secret=SECRET,
        **{"verify_board": False, **settings},  # type: ignore[arg-type]
    )
    app = create_app(config, services=vote.services)
    base = "https://testserver" if https else "http://testserver"
    return Site(vote, TestClient(app, base_url=base))


def registration_client(database: Database, **settings: object) -> TestClient:
    """A client on the app over a stage whose registration is open (the helpers of
    ``tests/services/test_registration.py``: the sample roll, members with addresses)."""
    services, _ = setup_stage(database)
    config = WebSettings(
        dev=True,
        session_secret=SECRET,
        verify_board=False,
        **settings,  # type: ignore[arg-type]
    )
    return TestClient(create_app(config, services=services))
