"""The trustee's key ceremony in the browser (ceremony.js, run here by Node) against the
committee's intake on a real database (``services.trustees``, SQLite and PostgreSQL), with the
other trustees on the Python side — one through the CLI, one switching between the browser and
Python at every step:

- every message the browser makes is accepted by the committee's checks, and a tampered one is
  refused with nothing stored;
- every state file the browser writes is, byte for byte, the one Python writes for the same
  state (so the CLI continues it), and the browser continues states that Python wrote;
- the election is set up on the ceremony's keys, ballots are cast and tallied, and the browser
  trustees' partial decryptions (``partialDecryption``) with the server's give the counts.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.trustees import key_owners
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.domain.errors import DomainError
from unionvote.domain.tally import TrusteeDecryption
from unionvote.domain.trustee_work import (
    TrusteeState,
    finish,
    new_certificate,
    polynomial_message,
    trustees_fingerprint,
    verification_key,
)
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question, encrypted_tally_to_json
from unionvote.services.context import FixedClock, Services
from unionvote.services.process import do_init_process, stage_row
from unionvote.services.trustees import (
    certificates_for,
    do_add_trustee,
    do_finish_ceremony,
    do_make_server_key,
    do_submit_certificate,
    do_submit_polynomial,
    do_submit_single_key,
    do_submit_voutput,
    election_trustees,
    public_trustees,
    server_partial_decryption,
    vinput_for,
)
from unionvote.storage.database import Database
from unionvote.storage.models import AuditEntry, CeremonyMessage
from unionvote.verify import verify_record

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
SCRIPT = ROOT / "tests" / "js" / "cross_node.mjs"
EXAMPLE = ROOT / "examples" / "iam-2024.toml"
STAGE = "membership-vote"
NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)
QUESTIONS = (Question("Endorse?", ("Biden", "Trump", "Kennedy"), 1, 1),)
VOTES = [0, 2, 1, 0, 0, 2]

pytestmark = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "libsodium-wrappers-sumo").is_dir(),
    reason="NODE OR node_modules IS MISSING: the browser ceremony's cross tests did not run",
)


def node(command: dict[str, Any], *, fails: bool = False) -> Any:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT)],
        input=json.dumps(command),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    out = json.loads(done.stdout) if done.stdout else {"error": {"message": done.stderr}}
    if fails:
        assert done.returncode == 1 and "error" in out, done.stdout + done.stderr
        return out["error"]
    assert done.returncode == 0, done.stdout + done.stderr
    return out["answer"]


def browser(step: str, **args: Any) -> dict[str, Any]:
    """One of the trustee's steps in the browser's code; its state file checked against
    Python's: read by TrusteeState and written back, it is the same bytes."""
    answer = node({"op": "trustee", "step": step, "args": args})
    assert isinstance(answer, dict)
    state = answer["state"].encode()
    assert TrusteeState.from_bytes(state).to_bytes() == state
    return answer


def cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "unionvote", "trustee", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def services(database: Database) -> Iterator[Services]:
    services = Services(database, FixedClock(NOW), actor="committee")
    do_init_process(services, EXAMPLE.read_text(encoding="utf-8"), source_name="iam-2024.toml")
    yield services


def read(services: Services, function, *args):  # type: ignore[no-untyped-def]
    with services.db.transaction() as session:
        return function(session, *args)


def stored(services: Services) -> tuple[list[tuple[str, int, str]], int]:
    with services.db.transaction() as session:
        messages = sorted(
            (m.step, m.position, m.content) for m in session.scalars(select(CeremonyMessage))
        )
        audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return messages, audit


def refused(services: Services, check: str, action, *args) -> None:  # type: ignore[no-untyped-def]
    before = stored(services)
    with pytest.raises(DomainError) as caught:
        action(services, STAGE, *args)
    assert caught.value.check == check, str(caught.value)
    assert stored(services) == before, "a refused upload changed the database"


def tampered(message: str, path: list[Any]) -> bytes:
    """The message with one proof's response changed (still well formed)."""
    obj = json.loads(message)
    target = obj
    for key in path:
        target = target[key]
    target["response"] = str((int(target["response"]) + 1) % 2**252)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def election(services: Services, path: Path) -> tuple[ElectionBox, bytes]:
    """A real election on the stage's trustee list: VOTES cast, closed and tallied; returns the
    box and the decryption request (with the election, as the committee's page serves it)."""
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        trustees = election_trustees(session, row)
    uuid = new_uuid()
    voters = [PrivateCredential.generate() for _ in VOTES]
    box = ElectionBox.create(
        path,
        uuid=uuid,
        name="Endorsement",
        description="",
        questions=QUESTIONS,
        trustees=trustees,
        credentials=[v.public(uuid) for v in voters],
        timestamp=1_700_000_000,
    )
    for voter, vote in zip(voters, VOTES, strict=True):
        box.cast(
            make_ballot(
                box.election, box.election_hash, voter, [[int(j == vote) for j in range(3)]]
            ).to_bytes()
        )
    box.close()
    box.compute_tally()
    request = {
        "uuid": uuid,
        "election_hash": box.election_hash,
        "encrypted_tally": encrypted_tally_to_json(box.encrypted_tally),
        "groups": [],
        "election": json.dumps(box.election.to_json(), separators=(",", ":"), ensure_ascii=False),
    }
    return box, json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()


def decrypt_and_count(
    services: Services, box: ElectionBox, request: bytes, server_key: Path, states: list[str]
) -> None:
    """The server's partial decryption (Python) and the browser trustees' (Node) are checked as
    the committee's intake checks them, and give the counts."""
    with services.db.transaction() as session:
        row, _ = stage_row(session, STAGE)
        definition = json.loads(request)["election"].encode()
        server = server_partial_decryption(session, row, server_key, request, election=definition)
    owners = {owner: key for owner, _, key in key_owners(box.trustees)}
    decryptions = [TrusteeDecryption.from_bytes(server)]
    for state in states:
        text = node({"op": "partial", "trusteeKey": state, "request": request.decode()})
        decryptions.append(TrusteeDecryption.from_bytes(text.encode()))
    for decryption in decryptions:
        decryption.tally.check(box.election_hash, owners[decryption.owner], box.encrypted_tally)
        box.add_partial_decryption(decryption.owner, decryption.tally)
    assert box.compute_result().result == (tuple(VOTES.count(j) for j in range(3)),)


def test_a_two_of_three_ceremony_with_browser_cli_and_switching_trustees(
    services: Services, tmp_path: Path
) -> None:
    server_key = tmp_path / "server.key"
    do_make_server_key(services, STAGE, server_key)
    positions = [do_add_trustee(services, STAGE, name=n).position for n in ("Ann", "Bob", "Cy")]
    assert positions == [1, 2, 3]

    # Ann and Cy switch between the browser and Python at every step; Bob uses the CLI.
    # Step 1. Ann: the browser. Bob: the CLI. Cy: Python.
    ann = browser("init", name="Ann", index=1)
    bad = tampered(ann["message"], ["signature"])
    refused(services, "ceremony.certificate", do_submit_certificate, 1, bad)
    do_submit_certificate(services, STAGE, 1, ann["message"].encode())
    bob_state = tmp_path / "bob" / "state.json"
    bob_state.parent.mkdir()
    cli(
        "init",
        "--name",
        "Bob",
        "--index",
        "2",
        "--size",
        "3",
        "--threshold",
        "2",
        "--out",
        str(bob_state),
    )
    do_submit_certificate(
        services, STAGE, 2, (bob_state.parent / "state.certificate.json").read_bytes()
    )
    cy, cy_certificate = new_certificate("Cy", size=3, threshold=2, index=3)
    do_submit_certificate(services, STAGE, 3, cy_certificate)
    certificates = read(services, certificates_for, STAGE)
    (tmp_path / "certificates.json").write_bytes(certificates)

    # Step 2: Ann's browser state goes on in Python, Cy's Python state in the browser.
    ann_state, ann_polynomial = polynomial_message(
        TrusteeState.from_bytes(ann["state"].encode()), certificates
    )
    do_submit_polynomial(services, STAGE, 1, ann_polynomial)
    ann = {"state": ann_state.to_bytes().decode()}
    cli(
        "polynomial",
        str(bob_state),
        "--certificates",
        str(tmp_path / "certificates.json"),
        "--out",
        str(tmp_path / "bob" / "polynomial.json"),
    )
    do_submit_polynomial(services, STAGE, 2, (tmp_path / "bob" / "polynomial.json").read_bytes())
    cy_text = cy.to_bytes().decode()
    assert node({"op": "trustee", "step": "show", "args": {"state": cy_text}})["step"] == (
        "certificate"
    )
    cy_answer = browser("polynomial", state=cy_text, certificates=certificates.decode())
    for path in (["coefexps", "signature"], ["signature"]):
        bad = tampered(cy_answer["message"], path)
        refused(services, "ceremony.polynomial", do_submit_polynomial, 3, bad)
    do_submit_polynomial(services, STAGE, 3, cy_answer["message"].encode())

    # Step 3: the browser checks every share routed to it (and refuses a tampered one).
    vinputs = {p: read(services, vinput_for, STAGE, p) for p in positions}
    routed = json.loads(vinputs[1])
    sealed = json.loads(routed["sealed_shares"][1])
    sealed["box"] = ("00" if sealed["box"][:2] != "00" else "01") + sealed["box"][2:]
    routed["sealed_shares"][1] = json.dumps(sealed, separators=(",", ":"))
    error = node(
        {
            "op": "trustee",
            "step": "verification-key",
            "args": {"state": ann["state"], "vinput": json.dumps(routed)},
        },
        fails=True,
    )
    assert error["check"] == "ceremony.vinput" and "could not be opened" in error["message"]
    ann = browser("verification-key", state=ann["state"], vinput=vinputs[1].decode())
    refused(
        services,
        "ceremony.verification_key",
        do_submit_voutput,
        1,
        tampered(ann["message"], ["pok"]),
    )
    refused(
        services,
        "ceremony.verification_key",
        do_submit_voutput,
        1,
        tampered(ann["message"], ["signature"]),
    )
    do_submit_voutput(services, STAGE, 1, ann["message"].encode())
    (tmp_path / "bob" / "vinput.json").write_bytes(vinputs[2])
    cli(
        "verification-key",
        str(bob_state),
        "--vinput",
        str(tmp_path / "bob" / "vinput.json"),
        "--out",
        str(tmp_path / "bob" / "key.json"),
    )
    do_submit_voutput(services, STAGE, 2, (tmp_path / "bob" / "key.json").read_bytes())
    # Cy's browser-made state goes on in Python.
    cy, cy_key = verification_key(TrusteeState.from_bytes(cy_answer["state"].encode()), vinputs[3])
    do_submit_voutput(services, STAGE, 3, cy_key)

    # The committee finishes; each trustee records the list where they are.
    items = do_finish_ceremony(services, STAGE)
    public = read(services, public_trustees, STAGE)
    (tmp_path / "trustees.json").write_bytes(public)
    ann = browser("finish", state=ann["state"], trustees=public.decode())
    assert (ann["owner"], ann["message"]) == (2, None)
    assert ann["fingerprint"] == trustees_fingerprint(items)
    cli("finish", str(bob_state), "--trustees", str(tmp_path / "trustees.json"))
    assert TrusteeState.from_bytes(bob_state.read_bytes()).owner == 3
    cy_done = browser("finish", state=cy.to_bytes().decode(), trustees=public.decode())
    assert cy_done["owner"] == 4
    assert cy_done["electionKey"] == str(finish(cy, public).election_public_key)
    # Python finishing Ann's browser state gives the very same file.
    assert finish(TrusteeState.from_bytes(ann["state"].encode()), public).to_bytes() == (
        ann["state"].encode()
    )

    # The election on these keys: the server and the two browser trustees decrypt.
    box, request = election(services, tmp_path / "record.bel")
    try:
        decrypt_and_count(services, box, request, server_key, [ann["state"], cy_done["state"]])
    finally:
        box.close_file()
    assert verify_record(tmp_path / "record.bel").ok
    # Bob's CLI state decrypts in the browser too, and Python's decryption checks.
    text = node({"op": "partial", "trusteeKey": bob_state.read_text(), "request": request.decode()})
    bob_partial = TrusteeDecryption.from_bytes(text.encode())
    owners = {owner: key for owner, _, key in key_owners(items)}
    assert bob_partial.owner == 3
    bob_partial.tally.check(box.election_hash, owners[3], box.encrypted_tally)


def test_a_single_trustee_in_the_browser(services: Services, tmp_path: Path) -> None:
    server_key = tmp_path / "server.key"
    do_make_server_key(services, STAGE, server_key)
    position = do_add_trustee(services, STAGE, name="Observer", kind="single").position
    made = browser("single-key", name='Zoë "Ñandú" Núñez')
    assert json.loads(made["message"])[0] == "Single"
    refused(
        services,
        "trustee.key",
        do_submit_single_key,
        position,
        tampered(made["message"], [1, "pok"]),
    )
    do_submit_single_key(services, STAGE, position, made["message"].encode())
    do_finish_ceremony(services, STAGE)
    public = read(services, public_trustees, STAGE)
    done = browser("finish", state=made["state"], trustees=public.decode())
    assert done["owner"] == 2
    # The CLI goes on from the browser's state file.
    path = tmp_path / "observer.json"
    path.write_text(made["state"])
    (tmp_path / "trustees.json").write_bytes(public)
    cli("finish", str(path), "--trustees", str(tmp_path / "trustees.json"))
    assert path.read_text() == done["state"]
    box, request = election(services, tmp_path / "record.bel")
    try:
        decrypt_and_count(services, box, request, server_key, [done["state"]])
    finally:
        box.close_file()
    assert verify_record(tmp_path / "record.bel").ok
    # A finished single trustee's state refuses another list.
    other = json.loads(public)
    other.reverse()
    error = node(
        {
            "op": "trustee",
            "step": "finish",
            "args": {"state": done["state"], "trustees": json.dumps(other)},
        },
        fails=True,
    )
    assert error["check"] == "trustee.finish"
