"""Signing in and casting through the JSON API with ballots made in Python, on both
databases: every answer a member can get."""

from __future__ import annotations

import base64
import hashlib

from web_support import JOBS, NONE, POSTAL, STAGE, A, B, csrf_of, make_site

from unionvote.services.elections import do_close
from unionvote.storage.database import Database


def test_sign_in_outcomes(database: Database) -> None:
    site = make_site(database)
    token = csrf_of(site.client.get(f"/vote/{STAGE}").text)

    def attempt(card: str, last: str, postal: str):
        return site.client.post(
            f"/vote/{STAGE}",
            data={
                "csrf_token": token,
                "card_number": card,
                "last_name": last,
                "postal_code": postal,
            },
            follow_redirects=False,
        )

    unknown, wrong = attempt("NOBODY", "Test", POSTAL), attempt(site.vote.cards[1], "Other", POSTAL)
    assert unknown.status_code == wrong.status_code == 200
    assert "could not match these details" in unknown.text
    assert site.client.get(f"/vote/{STAGE}/ballot", follow_redirects=False).status_code == 303
    ok = attempt(site.vote.cards[0].lower(), "test", POSTAL + "-1234")
    assert ok.status_code == 303 and ok.headers["location"] == f"/vote/{STAGE}/ballot"
    booth = site.client.get(f"/vote/{STAGE}/ballot")
    assert booth.status_code == 200
    assert 'for="credential">Your voting credential<' in booth.text
    assert 'Ann Able <span class="party">(Democratic)</span>' in booth.text
    for button in ("Review my choice", "Change my choice", "Cast my vote", "Check the encryption"):
        assert button in booth.text


def test_the_election_is_served_byte_for_byte_with_its_hash(database: Database) -> None:
    site = make_site(database)
    response = site.client.get(f"/api/stages/{STAGE}/election")
    assert response.status_code == 200
    digest = base64.b64encode(hashlib.sha256(response.content).digest()).decode().rstrip("=")
    assert response.headers["x-election-hash"] == digest == site.vote.election_hash
    status = site.client.get(f"/api/stages/{STAGE}/status").json()
    assert status["phase"] == "voting" and status["election_hash"] == digest


def test_cast_revote_replay_and_lookup(database: Database) -> None:
    site = make_site(database)
    token = site.sign_in(0)
    first_raw = site.vote.ballot(0, (A, JOBS))
    first = site.cast(first_raw, token)
    assert first.status_code == 201, first.text
    assert first.json()["replaced_earlier_ballot"] is False
    second = site.cast(site.vote.ballot(0, (B, NONE)), token)
    assert second.status_code == 201 and second.json()["replaced_earlier_ballot"] is True
    assert "replaces your earlier one" in second.json()["message"]
    replay = site.cast(first_raw, token)
    assert replay.status_code == 200
    assert replay.json()["already_recorded"] is True and replay.json()["counted"] is False
    assert "no longer counts" in replay.json()["message"]
    tracker = first.json()["tracker"]
    found = site.client.get(f"/api/stages/{STAGE}/ballots/{tracker}").json()
    assert found["state"] == "replaced"
    counted = site.client.get(f"/api/stages/{STAGE}/ballots/{second.json()['tracker']}").json()
    assert counted["state"] == "counted"
    assert site.client.get(f"/api/stages/{STAGE}/ballots/nothere").json()["state"] == "not-found"


def test_a_ballot_with_another_members_credential_is_403(database: Database) -> None:
    site = make_site(database)
    token = site.sign_in(0)
    response = site.cast(site.vote.ballot(1, (A, JOBS)), token)
    assert response.status_code == 403
    assert response.json()["error"]["check"] == "ballot.credential"
    assert "not yours" in response.json()["error"]["message"]


def test_malformed_closed_and_unsigned_in_answers(database: Database) -> None:
    site = make_site(database)
    anonymous = site.client.get(f"/vote/{STAGE}")
    token = csrf_of(anonymous.text)
    no_session = site.cast(site.vote.ballot(0, (A, JOBS)), token)
    assert no_session.status_code == 403
    assert no_session.json()["error"]["check"] == "session.missing"
    token = site.sign_in(0)
    malformed = site.cast(b'{"not": "a ballot"}', token)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["check"] == "ballot.malformed"
    raw = site.vote.ballot(0, (A, JOBS))
    at = raw.rindex(b'"response":"') + len(b'"response":"')
    flipped = b"2" if raw[at : at + 1] == b"1" else b"1"
    tampered = raw[:at] + flipped + raw[at + 1 :]
    bad_signature = site.cast(tampered, token)
    assert bad_signature.status_code == 422, bad_signature.text
    assert bad_signature.json()["error"]["check"].startswith("ballot")
    do_close(site.vote.services, STAGE)
    closed = site.cast(raw, token)
    assert closed.status_code == 409
    assert closed.json()["error"]["check"] == "ballot.closed"
    assert "Voting has ended" in closed.json()["error"]["message"]


def test_too_many_casts_by_one_member_get_429(database: Database) -> None:
    site = make_site(database, cast_per_member=2)
    token = site.sign_in(0)
    assert site.cast(b"{}", token).status_code == 422
    assert site.cast(b"{}", token).status_code == 422
    refused = site.cast(site.vote.ballot(0, (A, JOBS)), token)
    assert refused.status_code == 429
    assert refused.json()["error"]["check"] == "rate.limit"


def test_the_openapi_description_lists_the_json_api(database: Database) -> None:
    site = make_site(database)
    paths = site.client.get("/openapi.json").json()["paths"]
    assert {
        "/api/stages",
        "/api/stages/{stage}/election",
        "/api/stages/{stage}/status",
        "/api/stages/{stage}/ballots",
        "/api/stages/{stage}/ballots/{tracker}",
    } <= set(paths)
    assert not any(p.startswith("/vote") for p in paths)
