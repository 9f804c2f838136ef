"""Records written by belenios-tool itself (tests/fixtures/belenios/, made by
scripts/belenios-fixtures.sh): our verifier accepts them as they are and rejects them once
tampered, naming the check."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from elections import compact, payload_of, read_items, replace_data, sha256_hex, write_items

from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.encoding import sha256_b64
from unionvote.crypto.proofs import sign_ballot_hash
from unionvote.verify import verify_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
RECORDS = sorted(p.stem for p in FIXTURES.glob("*.bel"))
EXPECTED = {
    "empty": [[0, 0]],
    "single": [[3, 2, 0]],
    "threshold": [[1, 2, 1], [2, 2, 1, 0]],
    "weighted": [[1000000003, 1]],
}


@pytest.mark.parametrize("name", RECORDS)
def test_belenios_record_passes(name: str) -> None:
    report = verify_record(FIXTURES / f"{name}.bel")
    assert report.ok, report.failures
    assert report.result == EXPECTED[name]
    assert report.verdict().startswith("unionvote verify: PASS")


def _failed(path: Path) -> set[str]:
    report = verify_record(path)
    assert not report.ok
    return {f.check for f in report.failures}


def _credential_for(name: str, public: str) -> PrivateCredential:
    uuid = (FIXTURES / name / "uuid.txt").read_text().strip()
    texts = json.loads((FIXTURES / name / "creds.privcreds").read_text()).values()
    for text in texts:
        credential = PrivateCredential(text)
        if str(credential.public(uuid).key) == public:
            return credential
    raise AssertionError("no private credential for this ballot")


def test_belenios_ballot_with_a_changed_proof_is_rejected(tmp_path: Path) -> None:
    items = read_items(FIXTURES / "single.bel")
    index, content = payload_of(items, "Ballot", 2)
    ballot = json.loads(content)
    proof = ballot["answers"][0]["individual_proofs"][0][0]
    proof["response"] = str(int(proof["response"]) + 1)
    unsigned = {k: v for k, v in ballot.items() if k != "signature"}
    ballot_hash = sha256_b64(compact(unsigned))
    uuid = ballot["election_uuid"]
    secret = _credential_for("single", ballot["credential"]).secret(uuid)
    signature = sign_ballot_hash(ballot_hash, secret, rng=random.Random(3).randrange)
    ballot["signature"] = {"hash": ballot_hash, "proof": signature.to_json()}
    tampered = tmp_path / "single.bel"
    write_items(tampered, replace_data(items, index, compact(ballot)))
    assert "ballot.individual_proof" in _failed(tampered)


def test_belenios_result_changed_is_rejected(tmp_path: Path) -> None:
    items = read_items(FIXTURES / "threshold.bel")
    index, content = payload_of(items, "Result")
    result = json.loads(content)
    result["result"][1][0] += 1
    tampered = tmp_path / "threshold.bel"
    write_items(tampered, replace_data(items, index, compact(result)))
    assert _failed(tampered) == {"result.counts"}


def test_belenios_partial_decryption_changed_is_rejected(tmp_path: Path) -> None:
    items = read_items(FIXTURES / "threshold.bel")
    _, owned = payload_of(items, "PartialDecryption", 1)
    digest = json.loads(owned)["payload"]
    index = next(
        i
        for i, (k, v) in enumerate(items)
        if k == "data" and sha256_hex(v) == digest  # type: ignore[arg-type]
    )
    partial = json.loads(items[index][1])  # type: ignore[arg-type]
    factors = partial["decryption_factors"]
    factors[0][0], factors[0][1] = factors[0][1], factors[0][0]
    tampered = tmp_path / "threshold.bel"
    write_items(tampered, replace_data(items, index, compact(partial)))
    assert "decryption.proof" in _failed(tampered)
