"""Test support for the staff pages: accounts for each role on a site from ``web_support``,
and signing in through the login page."""

from __future__ import annotations

from web_support import Site, csrf_of

from unionvote.services.staff import do_add_staff

__all__ = ["PASSWORDS", "add_staff", "sign_in"]

PASSWORDS = {
    "rosa": "committee pass phrase",
    "omar": "observer pass phrase",
    "tomas": "trustee pass phrase!",
}


def add_staff(site: Site) -> None:
    services = site.vote.services
    do_add_staff(
        services, "rosa", display_name="Rosa", role="committee", password=PASSWORDS["rosa"]
    )
    do_add_staff(services, "omar", display_name="Omar", role="observer", password=PASSWORDS["omar"])
    do_add_staff(
        services,
        "tomas",
        display_name="Tomás",
        role="trustee",
        password=PASSWORDS["tomas"],
        trustee_position=2,
    )


def sign_in(site: Site, username: str, *, next: str = "") -> str:
    """Sign in through the page; returns the new session's CSRF token (from a staff page)."""
    token = csrf_of(site.client.get("/staff/login").text)
    response = site.client.post(
        "/staff/login",
        data={
            "csrf_token": token,
            "username": username,
            "password": PASSWORDS[username],
            "next": next,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = "/trustee" if username == "tomas" else "/committee"
    assert response.headers["location"] == (next or home)
    return csrf_of(site.client.get(home).text)
