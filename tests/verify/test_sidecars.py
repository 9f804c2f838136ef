"""`unionvote verify` on a stage's published directory: the manifest, the sub-tallies, the
report rebuilt from the published files, the council link, the decision and the endorsement;
each tampering fails the check that names it, and a bare record says what it did not check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from elections import event_index, read_items, write_items
from publications import (
    AT,
    COUNCIL,
    MEMBERSHIP,
    Published,
    publish_council,
    publish_membership,
)

from unionvote.domain.endorsement import Link, build_endorsement, stage_path
from unionvote.domain.publication import (
    COUNCIL_FILE,
    DECISION_FILE,
    ENDORSEMENT_FILE,
    PROCESS_FILE,
    SUBTALLIES_FILE,
    sha256_hex,
)
from unionvote.record.archive import write_manifest
from unionvote.verify import verify_record
from unionvote.verify.report import CHECKS, Report
from unionvote.verify.sidecars import PUBLISHED_CHECKS


def failed(report: Report) -> set[str]:
    return {c.name for c in report.checks.values() if c.failures}


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Published, Published]:
    root = tmp_path_factory.mktemp("published")
    membership = publish_membership(root, trustees="2of3")
    council = publish_council(root, membership, [0, 0, 1, 2, 0])
    return membership, council


@pytest.fixture
def copy(stages: tuple[Published, Published], tmp_path: Path) -> tuple[Published, Published]:
    """A private copy of both directories, to tamper with."""
    out = []
    for stage in stages:
        directory = tmp_path / stage.directory.name
        shutil.copytree(stage.directory, directory)
        out.append(
            Published(
                directory,
                directory / stage.record.name,
                stage.built,
                stage.process,
                dict(stage.files),
            )
        )
    return out[0], out[1]


def test_every_published_check_is_described() -> None:
    assert set(PUBLISHED_CHECKS) <= set(CHECKS)


def test_published_membership_stage_passes(stages: tuple[Published, Published]) -> None:
    membership, _ = stages
    report = verify_record(membership.record)
    assert report.ok, [f.line() for f in report.failures]
    expected = set(PUBLISHED_CHECKS) - {"council.link", "decision.result", "endorsement.links"}
    assert expected <= set(report.checks)
    assert set(report.not_applicable) == {"council.link", "decision.result", "endorsement.links"}
    # 18 counted ballots over 2 dimensions: state (MI, OH, other) and local (751, 600, OH/12,
    # other): 7 aggregates, each decrypted by the server and two of three trustees.
    assert report.checks["subtallies.encrypted"].checked == 7
    assert report.checks["subtallies.decryption"].checked == 21
    assert report.checks["subtallies.coverage"].checked == 18
    assert "3 not applicable" in report.verdict()


def test_published_council_stage_passes(stages: tuple[Published, Published]) -> None:
    _, council = stages
    report = verify_record(council.record)
    assert report.ok, [f.line() for f in report.failures]
    assert report.checks["council.link"].passed and report.checks["decision.result"].passed
    assert set(report.not_applicable) == {*PUBLISHED_CHECKS[1:8], "endorsement.links"}
    decision = council.json(DECISION_FILE)
    assert decision["endorsed"] == "Ada Lovelace" and decision["rule"] == "simple majority"


def test_a_bare_record_says_what_it_did_not_check(tmp_path: Path, stages) -> None:
    membership, _ = stages
    bare = tmp_path / "alone.bel"
    shutil.copyfile(membership.record, bare)
    report = verify_record(bare)
    assert report.ok
    assert set(report.not_applicable) == set(PUBLISHED_CHECKS)
    assert "no manifest.json" in report.not_applicable["report.json"]
    assert not set(PUBLISHED_CHECKS) & set(report.checks)
    assert report.to_json()["not_applicable"][0]["name"] == "published.manifest"


def test_a_changed_count_in_the_report_fails_report_json(copy) -> None:
    membership, _ = copy
    report_json = membership.json("report.json")
    report_json["questions"][0]["counts"][0]["count"] += 1
    raw = json.dumps(report_json, sort_keys=True, separators=(",", ":")).encode()
    membership.rewrite("report.json", raw)
    report = verify_record(membership.record)
    assert failed(report) == {"report.json"}
    (failure,) = report.checks["report.json"].failures
    assert "questions[0].counts[0].count is 10, 9 expected" in failure.detail


def test_a_changed_file_without_a_new_manifest_fails_the_manifest(copy) -> None:
    membership, _ = copy
    membership.rewrite("report.txt", b"Joe Biden - 99%\n", manifest=False)
    report = verify_record(membership.record)
    assert failed(report) == {"published.manifest", "report.text"}


def test_an_unlisted_file_fails_the_manifest(copy) -> None:
    membership, _ = copy
    (membership.directory / "extra.json").write_text("{}")
    assert failed(verify_record(membership.record)) == {"published.manifest"}


def test_a_changed_group_result_fails_the_subtallies_and_the_report(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    aggregate = subtallies["dimensions"][0]["aggregates"][0]
    aggregate["result"][0][0] += 1
    aggregate["result"][0][1] -= 1  # the same ballots, one vote moved
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    report = verify_record(membership.record)
    assert failed(report) == {"subtallies.result", "subtallies.sum", "report.json", "report.text"}
    assert report.checks["subtallies.result"].failures[0].entry == aggregate["id"]


def test_a_group_below_the_minimum_is_refused(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    subtallies["min_group_size"] = 1  # below the process's 3
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    assert "subtallies.size" in failed(verify_record(membership.record))


def test_a_credential_left_out_of_the_groups_is_found(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    credential = sorted(subtallies["counted_groups"])[0]
    del subtallies["counted_groups"][credential]
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    report = verify_record(membership.record)
    assert {"subtallies.coverage", "subtallies.encrypted", "subtallies.size"} <= failed(report)
    assert credential in report.checks["subtallies.coverage"].failures[0].detail


def test_a_listed_credential_without_a_counted_ballot_is_found(copy) -> None:
    """A stranger's credential (or one in upper case, not Belenios's string form) in
    ``counted_groups`` is named; the counted ones still all have their groups."""
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    counted = sorted(subtallies["counted_groups"])
    stranger = "ab" * 32
    subtallies["counted_groups"][stranger] = subtallies["counted_groups"][counted[0]]
    subtallies["counted_groups"][counted[1].upper()] = subtallies["counted_groups"][counted[1]]
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    report = verify_record(membership.record)
    assert "subtallies.coverage" in failed(report)
    detail = report.checks["subtallies.coverage"].failures[0].detail
    assert detail.startswith("2 listed credentials have no counted ballot")
    assert stranger in detail and counted[1].upper() in detail


def test_a_credential_in_two_groups_of_a_dimension_is_found(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    credential = sorted(subtallies["counted_groups"])[0]
    ids = subtallies["counted_groups"][credential]
    subtallies["counted_groups"][credential] = [ids[0], ids[0]]
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    report = verify_record(membership.record)
    problems = [f.detail for f in report.checks["subtallies.coverage"].failures]
    assert any(
        p.startswith("1 credentials are not in exactly one known aggregate") and credential in p
        for p in problems
    ), problems
    assert not any("in no group" in p for p in problems), problems


@pytest.mark.parametrize("garbage", [b"\xff not JSON", b"[1,2]", b'{"answers":[]}'])
def test_a_ballot_that_is_not_one_is_reported_beside_published_files(copy, garbage: bytes) -> None:
    """A data entry named as a ballot that is not one (not JSON, not an object, no
    credential): the record's pass reports it, and the published files' pass skips it
    rather than stopping the verifier."""
    membership, _ = copy
    items = read_items(membership.record)
    at = event_index(items, "EndBallots")
    items[at:at] = [("data", garbage), ("Ballot", sha256_hex(garbage))]
    write_items(membership.record, items)
    report = verify_record(membership.record)
    assert "ballot.canonical" in failed(report)
    assert "subtallies.coverage" not in failed(report)


def test_swapped_encrypted_tallies_and_a_bad_proof_are_found(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    first, second = subtallies["dimensions"][0]["aggregates"][:2]
    first["encrypted_tally"], second["encrypted_tally"] = (
        second["encrypted_tally"],
        first["encrypted_tally"],
    )
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    report = verify_record(membership.record)
    assert {"subtallies.encrypted", "subtallies.decryption"} <= failed(report)
    assert report.checks["subtallies.encrypted"].failures[0].entry == first["id"]


def test_a_subtallies_file_of_another_election_is_refused(copy) -> None:
    membership, _ = copy
    subtallies = membership.json(SUBTALLIES_FILE)
    subtallies["uuid"] = "1" * 14
    membership.rewrite(SUBTALLIES_FILE, json.dumps(subtallies).encode())
    assert {"subtallies.election", "report.json"} <= failed(verify_record(membership.record))


def test_a_changed_link_hash_fails_the_council_link(copy) -> None:
    _, council = copy
    basis = council.json(COUNCIL_FILE)
    basis["record_sha256"] = "0" * 64
    council.rewrite(COUNCIL_FILE, json.dumps(basis, sort_keys=True).encode())
    report = verify_record(council.record)
    assert "council.link" in failed(report)
    assert "the record's SHA-256 is" in report.checks["council.link"].failures[0].detail


def test_a_changed_candidate_list_fails_the_council_link(copy) -> None:
    _, council = copy
    basis = council.json(COUNCIL_FILE)
    basis["candidates"][0]["name"] = "Grace Hopper"
    council.rewrite(COUNCIL_FILE, json.dumps(basis).encode())
    report = verify_record(council.record)
    assert {"council.link", "report.json"} <= failed(report)
    assert "top vote-getters" in report.checks["council.link"].failures[0].detail


def test_a_changed_membership_report_breaks_the_council_link(copy) -> None:
    membership, council = copy
    membership.rewrite("report.json", membership.files["report.json"] + b"\n")
    report = verify_record(council.record)
    assert failed(report) == {"council.link"}
    assert "the report's SHA-256 is" in report.checks["council.link"].failures[0].detail


def test_a_changed_decision_fails(copy) -> None:
    _, council = copy
    decision = council.json(DECISION_FILE)
    decision["endorsed"] = "Alan Turing"
    council.rewrite(DECISION_FILE, json.dumps(decision).encode())
    assert failed(verify_record(council.record)) == {"decision.result"}


def endorse(membership: Published, council: Published) -> bytes:
    links = [
        Link(role, stage.directory.name, stage_path(COUNCIL, stage.directory.name, name), digest)
        for stage in (membership, council)
        for role, name, digest in (
            ("record", stage.record.name, sha256_hex(stage.record.read_bytes())),
            ("report", "report.json", sha256_hex(stage.files["report.json"])),
        )
    ]
    links.append(Link("process", None, PROCESS_FILE, sha256_hex(council.files[PROCESS_FILE])))
    links.append(Link("decision", COUNCIL, DECISION_FILE, sha256_hex(council.files[DECISION_FILE])))
    record = build_endorsement(
        union="Test Union of Machinists",
        decided_by="State Council Presidents",
        statement="We endorse Ada Lovelace.",
        decision=council.json(DECISION_FILE),
        links=links,
        at=AT,
    )
    return record.to_json()


def test_the_endorsement_links_are_checked(copy) -> None:
    membership, council = copy
    content = endorse(membership, council)
    council.rewrite(ENDORSEMENT_FILE, content)
    report = verify_record(council.record)
    assert report.ok, [f.line() for f in report.failures]
    assert report.checks["endorsement.links"].checked == 6
    assert json.loads(content)["links"][0]["path"] == f"../{MEMBERSHIP}/{MEMBERSHIP}.bel"

    tampered = json.loads(content)
    tampered["links"][1]["sha256"] = "f" * 64
    council.rewrite(ENDORSEMENT_FILE, json.dumps(tampered).encode())
    report = verify_record(council.record)
    assert failed(report) == {"endorsement.links"}
    assert "the endorsement says ffff" in report.checks["endorsement.links"].failures[0].detail

    tampered = json.loads(content)
    tampered["decision"]["endorsed"] = tampered["endorsed"] = "Alan Turing"
    council.rewrite(ENDORSEMENT_FILE, json.dumps(tampered).encode())
    assert failed(verify_record(council.record)) == {"endorsement.links"}


def test_a_link_outside_the_published_tree_is_refused(copy) -> None:
    membership, council = copy
    tampered = json.loads(endorse(membership, council))
    tampered["links"][0]["path"] = "../../../etc/passwd"
    council.rewrite(ENDORSEMENT_FILE, json.dumps(tampered).encode())
    report = verify_record(council.record)
    assert "points outside" in report.checks["endorsement.links"].failures[0].detail


def test_manifest_of_another_record_is_refused(copy, stages) -> None:
    membership, council = copy
    write_manifest(membership.directory, membership.files, council.record)
    assert "published.manifest" in failed(verify_record(membership.record))
