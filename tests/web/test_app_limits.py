"""The defences a security review asked for: the booth's choices can never be submitted by
the browser, private pages are never cached, the CSRF check refuses a session without a token
before reading its body, and the rate limits count an IPv6 client by its /64 in a bounded
table."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser

import pytest
from starlette.types import Message, Scope
from web_support import POSTAL, STAGE, csrf_of, make_site

from unionvote.storage.database import Database
from unionvote.web.security import CsrfMiddleware, RateLimiter, TooManyRequests, address_key


class _Forms(HTMLParser):
    """Every form of a page, with the names of the fields inside it; and the attributes of
    the button ``id="review"``."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[dict[str, str | None], list[str]]] = []
        self.review: dict[str, str | None] | None = None
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append((found, []))
            self._open = True
        elif tag in ("input", "button", "select", "textarea") and self._open:
            self.forms[-1][1].append(found.get("name") or "")
        if tag == "button" and found.get("id") == "review":
            self.review = found

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def test_the_booth_cannot_submit_the_choices_anywhere(database: Database) -> None:
    site = make_site(database)
    site.sign_in()
    page = site.client.get(f"/vote/{STAGE}/ballot").text
    forms = _Forms()
    forms.feed(page)
    assert 'name="q0"' in page  # the choices are on the page ...
    for attrs, names in forms.forms:  # ... but in no form: only the sign-out form is one
        assert not [n for n in names if n.startswith("q")], (attrs, names)
        assert (attrs.get("method") or "get").lower() == "post"
    assert forms.review is not None
    assert forms.review.get("type") == "button" and "disabled" in forms.review
    assert "<noscript>" in page


def test_private_pages_are_never_cached(database: Database) -> None:
    site = make_site(database)
    for path in (
        "/committee",
        f"/committee/stages/{STAGE}",
        "/trustee",
        f"/trustee/stages/{STAGE}/decryption-request.json",
    ):
        response = site.client.get(path, follow_redirects=False)
        assert response.headers.get("cache-control") == "no-store", path
    assert "cache-control" not in site.client.get("/").headers


def test_a_session_without_a_csrf_token_is_refused_before_its_body_is_read() -> None:
    reached: list[str] = []

    async def app(scope: Scope, receive: object, send: object) -> None:
        reached.append("app")

    async def receive() -> Message:
        raise AssertionError("the body was read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/vote/x",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "session": {},
    }
    asyncio.run(CsrfMiddleware(app)(scope, receive, send))
    assert sent[0]["status"] == 403 and reached == []


def test_a_form_still_carries_its_token_in_pieces(database: Database) -> None:
    site = make_site(database)
    token = csrf_of(site.client.get(f"/vote/{STAGE}").text)
    body = f"csrf_token={token}&card_number=NOBODY&last_name=x&postal_code=1".encode()

    def pieces():
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    response = site.client.post(
        f"/vote/{STAGE}",
        content=pieces(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "We could not match" in response.text


def test_an_ipv6_client_is_counted_by_its_slash_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::7")
    assert address_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"


def test_rotating_ipv6_addresses_share_one_limit(database: Database) -> None:
    site = make_site(database, signin_per_address=2)
    answers = []
    for i in range(3):
        site.client.close()
        client = type(site.client)(
            site.client.app, base_url="http://testserver", client=(f"2001:db8::{i + 1}", 5000)
        )
        token = csrf_of(client.get(f"/vote/{STAGE}").text)
        answer = client.post(
            f"/vote/{STAGE}",
            data={
                "csrf_token": token,
                "card_number": f"N{i}",
                "last_name": "x",
                "postal_code": "1",
            },
        )
        answers.append(answer.status_code)
    assert answers == [200, 200, 429]


def test_the_rate_limiter_forgets_old_keys_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(window_seconds=60, limits={"b": 2}, now=lambda: now[0], max_keys=100)
    for i in range(500):
        limiter.hit("b", f"k{i}")
    assert len(limiter) == 100  # the least recently hit are forgotten past the bound
    limiter.hit("b", "k499")
    now[0] = 61.0
    limiter.hit("b", "fresh")  # every other key's attempts are out of the window: dropped
    assert len(limiter) == 1
    limiter.hit("b", "fresh")
    with pytest.raises(TooManyRequests):
        limiter.hit("b", "fresh")


def _client_at(site, host: str):  # type: ignore[no-untyped-def]
    return type(site.client)(site.client.app, base_url="http://testserver", client=(host, 5000))


def _try(client, card: str, last_name: str, postal_code: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get(f"/vote/{STAGE}").text)
    return client.post(
        f"/vote/{STAGE}",
        data={
            "csrf_token": token,
            "card_number": card,
            "last_name": last_name,
            "postal_code": postal_code,
        },
        follow_redirects=False,
    )


def test_wrong_tries_from_elsewhere_never_lock_a_member_out(database: Database) -> None:
    site = make_site(database)
    card = site.vote.cards[0]
    attacker = _client_at(site, "198.51.100.7")
    answers = [_try(attacker, card, "Nope", "00000").status_code for _ in range(12)]
    assert answers[-1] == 429  # the attacker is stopped, by the database or the memory limit
    member = _client_at(site, "203.0.113.5")
    signed_in = _try(member, card, "Test", POSTAL)
    assert signed_in.status_code == 303, signed_in.text


def test_refusals_do_not_tell_a_real_number_from_a_made_up_one(database: Database) -> None:
    site = make_site(database)
    answers = {}
    for card, host in ((site.vote.cards[1], "198.51.100.8"), ("C99999", "198.51.100.9")):
        client = _client_at(site, host)
        answers[card] = [
            (r.status_code, _message(r.text))
            for r in (_try(client, card, "Nope", "00000") for _ in range(12))
        ]
    assert answers[site.vote.cards[1]] == answers["C99999"]
    assert {status for status, _ in answers["C99999"]} == {200, 429}


def _message(html: str) -> str:
    found = re.search(r'class="message error"[^>]*>(.*?)<', html, re.S)
    return found.group(1).strip() if found else ""
