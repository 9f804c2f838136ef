"""The browser's protocol (JavaScript, run here by Node) against the Python one, on real
elections built by the test support:

- ballots made by ``makeBallot`` are cast into an ``ElectionBox`` (the full check the server's
  ``do_cast`` makes, canonical bytes included), counted, and the record passes ``verify``;
- their audits (cast-or-audit) pass Python's ``verify_audited_ballot``, and Python refuses one
  whose claimed answers were changed;
- partial decryptions made by ``partialDecryption`` from real trustee state files (the server's
  single key and threshold members from a real ceremony) are accepted by the checks the server
  runs on an upload and combine into the right counts.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from elections import Spec, create_election, pick

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.trustees import key_owners
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.domain.tally import DecryptionRequest, TrusteeDecryption
from unionvote.domain.trustee_work import (
    TrusteeState,
    assemble_group,
    finish,
    new_certificate,
    new_single_key,
    partial_decrypt,
    polynomial_message,
    read_certificate,
    read_polynomial,
    read_single_key,
    read_verification_key,
    routed_vinputs,
    trustees_json,
    verification_key,
)
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Election, Question
from unionvote.verify import verify_record
from unionvote.verify.audited import AuditedBallotError, verify_audited_ballot

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
SCRIPT = ROOT / "tests" / "js" / "cross_node.mjs"

pytestmark = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "libsodium-wrappers-sumo").is_dir(),
    reason="NODE OR node_modules IS MISSING: the cross-language tests did not run",
)

QUESTIONS = (
    Question("¿A quién apoyar?", ("José Núñez", "Zoë", "Ñandú"), 1, 1),
    Question("Issues", ("Jobs", "Health", "Schools", "Housing"), 1, 2, blank=True),
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


def test_browser_ballots_are_cast_counted_and_verified(tmp_path: Path) -> None:
    votes = [
        (0, (pick(3, 0), pick(4, 0, 1))),
        (1, (pick(3, 2), (0, 0, 0, 0))),  # blank on the second question
        (2, (pick(3, 1), pick(4, 3))),
        (0, (pick(3, 1), pick(4, 2))),  # voter 0 votes again: this one counts
    ]
    spec = Spec(QUESTIONS, voters=3, votes=tuple(votes), trustees="2of3", decrypt_with=(1, 3))
    path = tmp_path / "record.bel"
    box, built = create_election(path, spec)
    try:
        election = compact_json(built.election.to_json()).decode()
        assert sha256_b64(election.encode()) == box.election_hash
        made = node(
            {
                "op": "ballots",
                "election": election,
                "jobs": [
                    {"credential": built.credentials[v].reveal(), "answers": [list(c) for c in cs]}
                    for v, cs in votes
                ],
            }
        )
        for (voter, choices), ballot in zip(votes, made, strict=True):
            receipt = box.cast(ballot["ballot"].encode())
            assert receipt.tracker == ballot["tracker"] == sha256_b64(ballot["ballot"].encode())
            audited = verify_audited_ballot(json.dumps(ballot["audit"]).encode())
            assert audited.tracker == ballot["tracker"]
            expected = [list(choices[0]), [1 if sum(choices[1]) == 0 else 0, *choices[1]]]
            assert [list(row) for row in audited.answers] == expected
            assert (
                node(
                    {
                        "op": "audit",
                        "election": election,
                        "ballot": ballot["ballot"],
                        "audit": ballot["audit"],
                    }
                )
                == expected
            )
            assert json.loads(ballot["ballot"])["credential"] == str(
                built.credentials[voter].public(built.uuid).key
            )
        lie = made[0]["audit"]
        lie["answers"][0] = [1, 0, 0] if lie["answers"][0] != [1, 0, 0] else [0, 1, 0]
        with pytest.raises(AuditedBallotError) as caught:
            verify_audited_ballot(json.dumps(lie).encode())
        assert caught.value.check == "audit.answers"
        box.close()
        box.compute_tally()
        for owner in built.decrypting_owners():
            partial = PartialDecryption.compute(
                box.election_hash, built.key_of(owner), box.encrypted_tally, rng=built.rng
            )
            box.add_partial_decryption(owner, partial)
        assert [list(row) for row in box.compute_result().result] == built.expected
    finally:
        box.close_file()
    report = verify_record(path)
    assert report.ok, report.verdict()


def test_a_python_ballot_opens_the_same_way_to_the_browser(tmp_path: Path) -> None:
    """The reverse direction: the browser checks Python's ballots and credentials."""
    box, built = create_election(tmp_path / "r.bel", Spec(QUESTIONS, voters=1))
    box.close_file()
    election = compact_json(built.election.to_json()).decode()
    credential = built.credentials[0]
    assert node({"op": "credential", "uuid": built.uuid, "text": credential.reveal()}) == str(
        credential.public(built.uuid).key
    )
    ballot = make_ballot(built.election, built.election_hash, credential, [pick(3, 0), pick(4, 1)])
    audit = {
        "format": "unionvote-audited-ballot/1",
        "election_hash": built.election_hash,
        "election": election,
        "ballot": ballot.to_json(),
        "randomness": [["1", "2", "3"], ["4", "5", "6", "7", "8"]],
        "answers": [[1, 0, 0], [0, 0, 1, 0, 0]],
    }
    # The ballot checks; the made-up randomness does not open it.
    error = node(
        {"op": "audit", "election": election, "ballot": ballot.to_bytes().decode(), "audit": audit},
        fails=True,
    )
    assert error["check"] == "audit.randomness"


def _ceremony(seed: int = 11) -> tuple[TrusteeState, list[TrusteeState], bytes]:
    """A real 2-of-3 ceremony plus the server's key, each state as its trustee keeps it."""
    rng = random.Random(seed).randrange
    server, server_public = new_single_key("server", rng=rng)
    started = [new_certificate(f"T{i}", size=3, threshold=2, index=i, rng=rng) for i in range(1, 4)]
    certs = [
        read_certificate(cert, size=3, threshold=2, index=i)
        for i, (_, cert) in enumerate(started, start=1)
    ]
    certs_file = compact_json([c.to_json() for c in certs])
    stepped = [polynomial_message(state, certs_file, rng=rng) for state, _ in started]
    polynomials = [
        read_polynomial(message, certificates=certs, threshold=2, index=i)
        for i, (_, message) in enumerate(stepped, start=1)
    ]
    vinputs = routed_vinputs(certs, 2, polynomials)
    shared = [
        verification_key(state, compact_json(v.to_json()), rng=rng)
        for (state, _), v in zip(stepped, vinputs, strict=True)
    ]
    keys = [
        read_verification_key(key, certificates=certs, threshold=2, vinput=vinputs[i - 1], index=i)
        for i, (_, key) in enumerate(shared, start=1)
    ]
    items = (read_single_key(server_public), assemble_group(certs, 2, vinputs[0], keys))
    public = compact_json(trustees_json(items))
    return finish(server, public), [finish(state, public) for state, _ in shared], public


def test_browser_partial_decryptions_are_accepted_and_give_the_counts(tmp_path: Path) -> None:
    server, members, public = _ceremony()
    items = server.trustees
    uuid = new_uuid(random.Random(3).randrange)
    voters = [PrivateCredential.generate(random.Random(40 + i).randrange) for i in range(3)]
    box = ElectionBox.create(
        tmp_path / "record.bel",
        uuid=uuid,
        name="Endorsement",
        description="",
        questions=QUESTIONS,
        trustees=items,
        credentials=[v.public(uuid) for v in voters],
        timestamp=1_700_000_000,
    )
    try:
        for voter, choices in zip(
            voters,
            ([pick(3, 0), pick(4, 1)], [pick(3, 0), (0, 0, 0, 0)], [pick(3, 2), pick(4, 0, 3)]),
            strict=True,
        ):
            box.cast(make_ballot(box.election, box.election_hash, voter, choices).to_bytes())
        box.close()
        box.compute_tally()
        election = compact_json(box.election.to_json()).decode()
        tally = box.encrypted_tally
        # Group ids that a JavaScript object would reorder ("10" before "9" by code point).
        groups = (("9", tally), ("10", tally), ("b", tally))
        request = DecryptionRequest(uuid, box.election_hash, tally, groups, election).to_bytes()
        owners = {owner: key for owner, _, key in key_owners(items)}
        for state in (server, members[0], members[2]):
            text = node(
                {
                    "op": "partial",
                    "trusteeKey": state.to_bytes().decode(),
                    "request": request.decode(),
                }
            )
            assert isinstance(text, str)
            decryption = TrusteeDecryption.from_bytes(text.encode())
            # Byte for byte the file the CLI writes, but for the proofs' fresh randomness.
            reference = json.loads(partial_decrypt(state, request))
            answer = json.loads(text)
            assert list(answer) == ["owner", "tally", "groups"]
            assert list(answer["groups"]) == list(reference["groups"]) == ["10", "9", "b"]
            assert answer["owner"] == reference["owner"] == state.owner
            for ours, theirs in zip(
                [answer["tally"], *answer["groups"].values()],
                [reference["tally"], *reference["groups"].values()],
                strict=True,
            ):
                assert ours["decryption_factors"] == theirs["decryption_factors"]
            assert compact_json(decryption.to_json()).decode() == text
            decryption.tally.check(box.election_hash, owners[decryption.owner], tally)
            for group in decryption.groups.values():
                group.check(box.election_hash, owners[decryption.owner], tally)
            box.add_partial_decryption(decryption.owner, decryption.tally)
        assert [list(row) for row in box.compute_result().result] == [[2, 0, 1], [1, 1, 1, 0, 1]]
    finally:
        box.close_file()
    assert verify_record(tmp_path / "record.bel").ok
    assert public  # the list every trustee checked at `finish`


def test_the_browser_refuses_to_decrypt_for_another_election_or_a_bad_state() -> None:
    server, members, _ = _ceremony()
    other_key = PrivateCredential.generate(random.Random(1).randrange).public("x" * 14).key
    uuid = new_uuid(random.Random(5).randrange)
    text = compact_json(Election(uuid, "Other", "", other_key, QUESTIONS[:1]).to_json())
    tally = [[ZERO_CIPHERTEXT] * 3]
    request = DecryptionRequest(uuid, sha256_b64(text), tally, (), text.decode()).to_bytes()
    state = members[1].to_bytes().decode()
    error = node({"op": "partial", "trusteeKey": state, "request": request.decode()}, fails=True)
    assert error["check"] == "decrypt.election" and "another election" in error["message"]
    unfinished = json.loads(state)
    del unfinished["owner"], unfinished["trustees"]
    error = node(
        {"op": "partial", "trusteeKey": json.dumps(unfinished), "request": request.decode()},
        fails=True,
    )
    assert error["check"] == "trustee.state"
    assert server.owner == 1
