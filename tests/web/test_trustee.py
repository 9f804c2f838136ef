"""The trustees' pages: the decryption request to download, a partial decryption made by
``unionvote trustee decrypt`` uploaded and accepted, a tampered one or another trustee's
refused with nothing recorded, what is still missing, and the committee computing the result
afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from staff_support import add_staff, sign_in
from web_support import STAGE, csrf_of, make_site

from unionvote.domain.trustee_work import TrusteeState
from unionvote.services.audit import audit_log
from unionvote.services.elections import (
    do_add_partial_decryption,
    do_close,
    do_tally,
    election_status,
)
from unionvote.services.staff import do_add_staff
from unionvote.storage.database import Database
from unionvote.storage.models import StageRow, Trustee

A, NONE = (1, 0, 0), (0, 0, 0)
PAGE = f"/trustee/stages/{STAGE}"


def state_file(site, owner: int, path: Path) -> Path:
    """A trustee's state file for the key of ``owner`` (1: the server's, 2..: the group's)."""
    vote = site.vote
    public = vote.trustees[0].key if owner == 1 else vote.trustees[1].verification_keys[owner - 2]
    state = TrusteeState(
        kind="single",
        name=f"Trustee {owner}",
        private_key=vote.key_of(owner),
        public_key=public,
        trustees=tuple(vote.trustees),
        owner=owner,
    )
    path.write_bytes(state.to_bytes())
    return path


def cli_decrypt(state: Path, request: Path, out: Path) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "unionvote", "trustee", "decrypt", str(state),
         "--request", str(request), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_bytes()


def upload(site, token: str, content: bytes):
    return site.client.post(
        f"{PAGE}/partial-decryption",
        data={"csrf_token": token},
        files={"partial": ("partial.json", content, "application/json")},
    )


def name_trustees(database: Database) -> None:
    """The stage's trustees as the ceremony names them: the server's key (position 0, owner
    1) and the group at positions 1 to 3 (owners 2 to 4); Tomás is at position 2, owner 3."""
    with database.transaction() as session:
        stage = session.query(StageRow).filter_by(key=STAGE).one()
        session.add(Trustee(stage_id=stage.id, position=0, name="server", kind="server"))
        for position in (1, 2, 3):
            session.add(
                Trustee(stage_id=stage.id, position=position, name=f"T{position}", kind="pedersen")
            )


def tallied_site(database: Database):
    site = make_site(database)
    add_staff(site)
    name_trustees(database)
    for voter in range(6):
        site.vote.cast(voter, (A, NONE))
    do_close(site.vote.services, STAGE)
    do_tally(site.vote.services, STAGE)
    return site


def test_only_trustees_see_the_trustee_pages(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    assert site.client.get("/trustee", follow_redirects=False).status_code == 303
    sign_in(site, "omar")
    assert site.client.get("/trustee").status_code == 403
    assert site.client.get(f"{PAGE}/decryption-request.json").status_code == 403


def test_before_the_tally_there_is_nothing_to_decrypt(database: Database) -> None:
    site = make_site(database)
    add_staff(site)
    sign_in(site, "tomas")
    page = site.client.get(PAGE).text
    assert "There is nothing to decrypt now" in page
    assert "Download the decryption request" not in page


def test_cli_partial_decryptions_are_accepted_and_a_tampered_one_refused(
    database: Database, tmp_path: Path
) -> None:
    site = tallied_site(database)
    token = sign_in(site, "tomas")
    page = site.client.get(PAGE).text
    assert "Download the decryption request" in page
    assert "Your trustee key file" in page and "No trustee has decrypted yet." in page
    # the key file input belongs to no form and has no name: it cannot be submitted
    assert 'id="trustee-key" type="file"' in page and 'name="trustee' not in page
    fetched = site.client.get(f"{PAGE}/decryption-request.json")
    assert fetched.status_code == 200 and "attachment" in fetched.headers["content-disposition"]
    request = tmp_path / "request.json"
    request.write_bytes(fetched.content)

    server = cli_decrypt(state_file(site, 1, tmp_path / "s1.json"), request, tmp_path / "p1.json")
    mine = cli_decrypt(state_file(site, 3, tmp_path / "s3.json"), request, tmp_path / "p3.json")
    obj = json.loads(mine)
    obj["tally"]["decryption_factors"][0][0] = obj["tally"]["decryption_factors"][0][1]
    tampered = upload(site, token, json.dumps(obj).encode())
    assert tampered.status_code == 422
    assert "Your partial decryption was not accepted" in tampered.text
    assert "No trustee has decrypted yet." in tampered.text

    accepted = upload(site, token, mine)
    assert accepted.status_code == 200, accepted.text
    assert "trustee number 3" in accepted.text and "It is recorded." in accepted.text
    assert "Still needed" in accepted.text  # the server's, and 2 of the group of 3
    again = upload(site, token, mine)
    assert again.status_code == 422 and "already decrypted" in again.text

    # the committee adds the server's own (as ``unionvote election decrypt-with-server-key``)
    do_add_partial_decryption(site.vote.services, STAGE, server)
    other = cli_decrypt(state_file(site, 2, tmp_path / "s2.json"), request, tmp_path / "p2.json")
    site.client.post("/staff/logout", data={"csrf_token": token})
    do_add_staff(
        site.vote.services,
        "ana",
        display_name="Ana",
        role="trustee",
        password="trustee number one",
        trustee_position=1,
    )
    page = site.client.get("/staff/login").text
    site.client.post(
        "/staff/login",
        data={"csrf_token": csrf_of(page), "username": "ana", "password": "trustee number one"},
    )
    token = csrf_of(site.client.get(PAGE).text)
    accepted = upload(site, token, other)
    assert "Enough trustees have decrypted" in accepted.text

    uploads = [line.actor for line in audit_log(site.vote.services, action="decryption.add")]
    assert uploads == ["staff:tomas", "committee", "staff:ana"]
    site.client.post("/staff/logout", data={"csrf_token": token})
    committee = sign_in(site, "rosa")
    done = site.client.post(f"/committee/stages/{STAGE}/result", data={"csrf_token": committee})
    assert "The result is computed" in done.text
    assert election_status(site.vote.services, STAGE).phase == "decrypted"


def test_an_empty_upload_says_what_to_do(database: Database) -> None:
    site = tallied_site(database)
    token = sign_in(site, "tomas")
    response = site.client.post(f"{PAGE}/partial-decryption", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Choose your partial decryption file first." in response.text


def test_a_trustee_hands_in_only_their_own_partial_decryption(
    database: Database, tmp_path: Path
) -> None:
    site = tallied_site(database)
    token = sign_in(site, "tomas")  # position 2: owner 3
    request = tmp_path / "request.json"
    request.write_bytes(site.client.get(f"{PAGE}/decryption-request.json").content)
    for owner in (1, 2):  # the server's key, and another group member's
        theirs = cli_decrypt(
            state_file(site, owner, tmp_path / f"s{owner}.json"), request, tmp_path / "p.json"
        )
        refused = upload(site, token, theirs)
        assert refused.status_code == 422
        assert f"this partial decryption is trustee {owner}&#39;s" in refused.text
    assert list(audit_log(site.vote.services, action="decryption.add")) == []
