"""The committee's pages through the app: sign-in, roles (observers read only, trustees
elsewhere), CSRF, the turnout aggregates and the who-has-voted policy, and the close → tally
flow on a real election, each action audited with the staff member's name."""

from __future__ import annotations

from staff_support import PASSWORDS, add_staff, sign_in
from web_support import STAGE, csrf_of, make_site

from unionvote.services.audit import audit_log
from unionvote.services.elections import election_status
from unionvote.storage.database import Database

A, NONE = (1, 0, 0), (0, 0, 0)
PAGE = f"/committee/stages/{STAGE}"


def test_sign_in_is_needed_and_a_wrong_password_is_refused(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    response = site.client.get("/committee", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/login?next=/committee"
    page = site.client.get("/staff/login").text
    for label in ("Username", "Password", "Sign in"):
        assert label in page
    response = site.client.post(
        "/staff/login",
        data={"csrf_token": csrf_of(page), "username": "rosa", "password": "not it at all"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "The username or password is not right" in response.text
    assert "not it at all" not in response.text
    sign_in(site, "rosa", next=PAGE)
    assert site.client.get(PAGE).status_code == 200


def test_observers_read_but_cannot_act(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    token = sign_in(site, "omar")
    page = site.client.get(PAGE)
    assert page.status_code == 200
    assert "Turnout over time, by state" in page.text
    assert "Close the election" not in page.text and "Set the policy" not in page.text
    refused = site.client.post(f"{PAGE}/close", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "Only the election committee can do this" in refused.text
    policy = site.client.post(
        f"{PAGE}/voter-policy", data={"csrf_token": token, "policy": "equal-access"}
    )
    assert policy.status_code == 403
    assert election_status(site.vote.services, STAGE).phase == "voting"


def test_trustees_do_not_see_the_committee_pages(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    sign_in(site, "tomas")
    assert site.client.get("/committee").status_code == 403
    assert site.client.get(PAGE).status_code == 403


def test_a_post_without_the_csrf_token_is_refused(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    sign_in(site, "rosa")
    response = site.client.post(f"{PAGE}/close", data={"csrf_token": "forged"})
    assert response.status_code == 403
    response = site.client.post(f"{PAGE}/close")
    assert response.status_code == 403
    assert election_status(site.vote.services, STAGE).phase == "voting"


def test_turnout_shows_aggregates_only(database: Database) -> None:
    site = make_site(database)  # minimum group size 3
    add_staff(site)
    for voter in (0, 1, 2, 3, 11):  # four in MI, one in WY
        site.vote.cast(voter, (A, NONE))
    sign_in(site, "rosa")
    page = site.client.get(PAGE).text
    assert "<svg" in page and 'role="img"' in page
    assert "<caption" in page and "Other states together" in page
    assert ">WY<" not in page  # a state of one voter is never shown on its own
    assert site.vote.cards[0] not in page  # no member appears in the aggregates


def test_who_has_voted_policy_through_the_pages(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    site.vote.cast(4, (A, NONE))
    token = sign_in(site, "rosa")
    withheld = site.client.get(f"{PAGE}/voters")
    assert withheld.status_code == 403 and "withheld" in withheld.text
    done = site.client.post(
        f"{PAGE}/voter-policy", data={"csrf_token": token, "policy": "equal-access"}
    )
    assert done.status_code == 200 and "given to every side alike" in done.text
    listed = site.client.get(f"{PAGE}/voters")
    assert listed.status_code == 200 and site.vote.cards[4] in listed.text
    # the day a member first voted, never the time: the board's order could link it to a ballot
    voted = site.vote.clock.now()
    assert voted.strftime("%Y-%m-%d") in listed.text
    assert voted.strftime("%H:%M") not in listed.text
    site.client.post("/staff/logout", data={"csrf_token": csrf_of(listed.text)})
    sign_in(site, "omar")
    assert site.vote.cards[4] in site.client.get(f"{PAGE}/voters").text
    looks = list(audit_log(site.vote.services, action="voters."))
    assert [(line.action, line.actor) for line in looks] == [
        ("voters.refused", "staff:rosa"),
        ("voters.policy", "staff:rosa"),
        ("voters.list", "staff:rosa"),
        ("voters.list", "staff:omar"),
    ]


def test_close_and_tally_through_the_pages(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    for voter in range(5):
        site.vote.cast(voter, (A, NONE))
    token = sign_in(site, "rosa")
    early = site.client.post(f"{PAGE}/tally", data={"csrf_token": token})
    assert early.status_code == 409 and "This was not done" in early.text
    closed = site.client.post(f"{PAGE}/close", data={"csrf_token": token})
    assert closed.status_code == 200
    assert "Voting is closed. No ballot is accepted any more." in closed.text
    tallied = site.client.post(f"{PAGE}/tally", data={"csrf_token": token})
    assert "The encrypted tally is computed" in tallied.text
    assert election_status(site.vote.services, STAGE).phase == "tallied"
    actions = [(line.action, line.actor) for line in audit_log(site.vote.services)]
    assert ("election.close", "staff:rosa") in actions
    assert ("election.tally", "staff:rosa") in actions
    assert PASSWORDS["rosa"] not in repr(list(audit_log(site.vote.services)))


def test_the_staff_pages_speak_spanish(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    page = site.client.get("/staff/login?lang=es").text
    assert 'lang="es"' in page
    for words in ("Nombre de usuario", "Contraseña", "Iniciar sesión"):
        assert words in page
    sign_in(site, "omar")
    stage = site.client.get(f"{PAGE}?lang=es").text
    assert "Participación a lo largo del tiempo, por estado" in stage
    assert "Usted es observador" in stage
