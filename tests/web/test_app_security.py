"""The website's defences: headers and CSP, cookies, CSRF, the body limit, rate limits."""

from __future__ import annotations

import re

from staff_support import add_staff, sign_in
from web_support import STAGE, csrf_of, make_site

from unionvote.storage.database import Database


def test_every_page_has_a_strict_csp_and_the_security_headers(database: Database) -> None:
    site = make_site(database)
    first = site.client.get(f"/vote/{STAGE}")
    second = site.client.get(f"/vote/{STAGE}")
    csp = first.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert re.search(r"script-src 'self' 'wasm-unsafe-eval' 'nonce-[\w-]+'", csp)
    assert csp != second.headers["content-security-policy"], "the nonce must change per response"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in first.headers["permissions-policy"]
    assert "unsafe-inline" not in csp


def test_the_booth_page_declares_its_import_map_with_the_responses_nonce(
    database: Database,
) -> None:
    site = make_site(database)
    site.sign_in()
    page = site.client.get(f"/vote/{STAGE}/ballot")
    nonce = re.search(r"'nonce-([\w-]+)'", page.headers["content-security-policy"]).group(1)
    assert f'<script type="importmap" nonce="{nonce}">' in page.text
    assert "/static/vendor/libsodium-wrappers-sumo/libsodium-wrappers.mjs" in page.text
    vendor = site.client.get("/static/vendor/libsodium-wrappers-sumo/libsodium-wrappers.mjs")
    assert vendor.status_code == 200 and "javascript" in vendor.headers["content-type"]
    sumo = site.client.get("/static/vendor/libsodium-sumo/libsodium-sumo.mjs")
    assert sumo.status_code == 200
    assert site.client.get("/static/js/booth-page.js").status_code == 200


def test_session_cookie_is_httponly_strict_and_secure(database: Database) -> None:
    site = make_site(database, https=True)
    site.sign_in()
    cookies = [
        value for name, value in site.client.get("/").headers.multi_items() if name == "set-cookie"
    ]
    token = csrf_of(site.client.get(f"/vote/{STAGE}").text)
    response = site.client.post(
        f"/vote/{STAGE}/sign-out", data={"csrf_token": token}, follow_redirects=False
    )
    cookies += response.headers.get_list("set-cookie")
    session = [c for c in cookies if c.startswith("unionvote_session=")]
    assert session, cookies
    for cookie in session:
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "secure" in lowered


def test_a_post_without_the_csrf_token_is_refused(database: Database) -> None:
    site = make_site(database)
    site.client.get(f"/vote/{STAGE}")
    response = site.client.post(
        f"/vote/{STAGE}",
        data={"card_number": site.vote.cards[0], "last_name": "Test", "postal_code": "48201"},
    )
    assert response.status_code == 403
    assert "expired" in response.text
    wrong = site.client.post(
        f"/vote/{STAGE}",
        data={"csrf_token": "forged", "card_number": "x", "last_name": "y", "postal_code": "z"},
    )
    assert wrong.status_code == 403
    api = site.client.post(f"/api/stages/{STAGE}/ballots", content=b"{}")
    assert api.status_code == 403
    assert api.json()["error"]["check"] == "request.csrf"


def test_an_oversized_request_gets_413(database: Database) -> None:
    site = make_site(database)
    token = site.sign_in()
    response = site.cast(b"{" + b" " * (70 * 1024) + b"}", token)
    assert response.status_code == 413
    assert response.json()["error"]["check"] == "request.size"
    assert "64 KiB" in response.json()["error"]["message"]

    def pieces():
        for _ in range(80):
            yield b" " * 1024

    streamed = site.client.post(
        f"/api/stages/{STAGE}/ballots", content=pieces(), headers={"X-CSRF-Token": token}
    )
    assert streamed.status_code == 413


def test_only_a_staff_upload_path_may_be_larger_and_never_unbounded(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    path = f"/trustee/stages/{STAGE}/partial-decryption"
    # Without a staff session the general 64 KiB limit holds, before any form is parsed.
    assert site.client.post(path, content=b" " * (100 * 1024)).status_code == 413
    sign_in(site, "tomas")
    # A trustee's upload path is still read past 64 KiB (and then refused for what it
    # says, not for its size); past the trustee limit it is refused unread.
    larger = site.client.post(path, content=b" " * (100 * 1024))
    assert larger.status_code != 413
    huge = site.client.post(path, content=b" " * (17 * 1024 * 1024))
    assert huge.status_code == 413
    assert "16384 KiB" in huge.text
    # Any other path under /trustee keeps the general limit.
    for other in (f"/trustee/stages/{STAGE}/nothing-here", "/trustee/x/partial-decryption"):
        assert site.client.post(other, content=b" " * (100 * 1024)).status_code == 413


def test_too_many_sign_in_attempts_from_one_address_get_429(database: Database) -> None:
    site = make_site(database, signin_per_address=3)
    token = csrf_of(site.client.get(f"/vote/{STAGE}").text)
    answers = [
        site.client.post(
            f"/vote/{STAGE}",
            data={
                "csrf_token": token,
                "card_number": f"NOBODY{i}",
                "last_name": "x",
                "postal_code": "1",
            },
        ).status_code
        for i in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    refused = site.client.post(
        f"/vote/{STAGE}",
        data={"csrf_token": token, "card_number": "A", "last_name": "x", "postal_code": "1"},
    )
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert int(refused.headers["retry-after"]) > 0
