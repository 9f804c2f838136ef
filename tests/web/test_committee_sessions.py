"""Staff sessions end for good: after signing out, or once the account's password is set
again, a copy of the old session cookie no longer opens the staff pages (on SQLite and
PostgreSQL)."""

from __future__ import annotations

from staff_support import add_staff, sign_in
from web_support import csrf_of, make_site

from unionvote.services.staff import do_set_password
from unionvote.storage.database import Database


def _replay(site, cookie: str):  # type: ignore[no-untyped-def]
    site.client.cookies.clear()
    site.client.cookies.set("unionvote_session", cookie)
    return site.client.get("/committee", follow_redirects=False)


def test_a_signed_out_session_cannot_be_replayed(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    sign_in(site, "rosa")
    page = site.client.get("/committee")
    stolen = site.client.cookies["unionvote_session"]
    assert _replay(site, stolen).status_code == 200
    site.vote.clock.advance(seconds=1)
    site.client.post("/staff/logout", data={"csrf_token": csrf_of(page.text)})
    refused = _replay(site, stolen)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/staff/login")
    site.vote.clock.advance(seconds=1)
    sign_in(site, "rosa")  # a new session works
    assert site.client.get("/committee", follow_redirects=False).status_code == 200


def test_a_new_password_ends_the_old_sessions(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    sign_in(site, "omar")
    stolen = site.client.cookies["unionvote_session"]
    site.vote.clock.advance(seconds=1)
    do_set_password(site.vote.services, "omar", "a brand new pass phrase")
    refused = _replay(site, stolen)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/staff/login")
