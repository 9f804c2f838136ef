"""``unionvote trustee`` (each trustee's machine) and ``unionvote trustees`` (the committee):
the whole ceremony through the commands, files passed between them as they would be by email,
then a decryption; bad input ends in one clear line and an exit code, never a traceback."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unionvote.cli.trustee import admin_app, app
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import compact_json
from unionvote.crypto.trustees import key_owners, parse_trustees
from unionvote.domain.election import ElectionBox, new_uuid
from unionvote.record.ballot import make_ballot
from unionvote.record.messages import Question, encrypted_tally_to_json
from unionvote.services.context import Services
from unionvote.services.process import do_init_process
from unionvote.storage.database import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iam-2024.toml"
STAGE = "membership-vote"
runner = CliRunner()


@pytest.fixture
def server(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The committee's database (SQLite and PostgreSQL), with the IAM process loaded."""
    monkeypatch.setenv("DATABASE_URL", database.url.render_as_string(hide_password=False))
    do_init_process(
        Services(database), EXAMPLE.read_text(encoding="utf-8"), source_name="iam-2024.toml"
    )
    yield database


def trustee(*args: str | Path, code: int = 0) -> str:
    return _run(app, args, code)


def committee(*args: str | Path, code: int = 0) -> str:
    return _run(admin_app, args, code)


def _run(which, args: tuple[str | Path, ...], code: int) -> str:  # type: ignore[no-untyped-def]
    result = runner.invoke(which, [str(a) for a in args])
    assert result.exit_code == code, f"{args} exited {result.exit_code}:\n{result.output}"
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return " ".join(result.output.split())  # rich wraps long lines at 80 columns


def test_the_ceremony_and_a_decryption_through_the_commands(
    server: Database, tmp_path: Path
) -> None:
    names = ["Ann", "Bob", "Cy"]
    homes = [tmp_path / name.lower() for name in names]
    for name, home in zip(names, homes, strict=True):
        home.mkdir()
        out = committee("add", STAGE, "--name", name, "--email", f"{name.lower()}@example.org")
        assert f"{name} is trustee at position" in out
    out = committee("server-key", STAGE, "--out", tmp_path / "server.key")
    assert "0600" in out
    assert "--index 1 --size 3 --threshold 2" in committee("status", STAGE)
    for position, home in enumerate(homes, start=1):
        out = trustee(
            "init", "--name", names[position - 1], "--index", position, "--out", home / "state.json"
        )
        assert "state.certificate.json" in out
        out = committee("import-certificate", STAGE, position, home / "state.certificate.json")
        assert "Checked and stored" in out
    committee("certificates", STAGE, "--out", tmp_path / "certificates.json")
    for position, home in enumerate(homes, start=1):
        trustee(
            "polynomial",
            home / "state.json",
            "--certificates",
            tmp_path / "certificates.json",
            "--out",
            home / "polynomial.json",
        )
        committee("import-polynomial", STAGE, position, home / "polynomial.json")
    for position, home in enumerate(homes, start=1):
        committee("vinput", STAGE, position, "--out", home / "vinput.json")
        out = trustee(
            "verification-key",
            home / "state.json",
            "--vinput",
            home / "vinput.json",
            "--out",
            home / "key.json",
        )
        assert "Every share checked" in out
        out = committee("import-verification-key", STAGE, position, home / "key.json")
    assert "Everything is in" in out
    out = committee("finish", STAGE)
    fingerprint = out.split("Trustee list fingerprint: ")[1].split()[0]
    assert len(fingerprint) == 64
    committee("public", STAGE, "--out", tmp_path / "trustees.json")
    for position, home in enumerate(homes, start=1):
        out = trustee("finish", home / "state.json", "--trustees", tmp_path / "trustees.json")
        assert f"trustee number {position + 1} in the list" in out and fingerprint in out
        assert stat.S_IMODE((home / "state.json").stat().st_mode) == 0o600
    assert f"Finished. Trustee list fingerprint: {fingerprint}" in committee("status", STAGE)

    # An election on that trustee list, its record published, then two trustees decrypt.
    items = parse_trustees(json.loads((tmp_path / "trustees.json").read_bytes()))
    uuid = new_uuid()
    voters = [PrivateCredential.generate() for _ in range(3)]
    record = tmp_path / "record.bel"
    box = ElectionBox.create(
        record,
        uuid=uuid,
        name="Endorsement",
        description="",
        questions=[Question("Endorse?", ("Yes", "No"), 1, 1)],
        trustees=items,
        credentials=[v.public(uuid) for v in voters],
        timestamp=1_700_000_000,
    )
    for voter, choice in zip(voters, ([1, 0], [1, 0], [0, 1]), strict=True):
        box.cast(make_ballot(box.election, box.election_hash, voter, [choice]).to_bytes())
    box.close()
    box.compute_tally()
    request = {
        "uuid": uuid,
        "election_hash": box.election_hash,
        "encrypted_tally": encrypted_tally_to_json(box.encrypted_tally),
        "groups": [],
    }
    (tmp_path / "request.json").write_bytes(compact_json(request))
    partial = homes[0] / "partial.json"
    out = trustee(
        "decrypt",
        homes[0] / "state.json",
        "--request",
        tmp_path / "request.json",
        "--out",
        partial,
        code=1,
    )
    assert "does not carry the election" in out and not partial.exists()
    trustee(
        "decrypt",
        homes[0] / "state.json",
        "--request",
        tmp_path / "request.json",
        "--record",
        record,
        "--out",
        partial,
    )
    election = tmp_path / "election.json"
    election.write_bytes(compact_json(box.election.to_json()))
    trustee(
        "decrypt",
        homes[2] / "state.json",
        "--request",
        tmp_path / "request.json",
        "--election",
        election,
        "--out",
        homes[2] / "partial.json",
    )
    owners = key_owners(items)
    for home in (homes[0], homes[2]):
        answer = json.loads((home / "partial.json").read_bytes())
        decryption = PartialDecryption.from_json(answer["tally"])
        decryption.check(box.election_hash, owners[answer["owner"] - 1][2], box.encrypted_tally)
        box.add_partial_decryption(answer["owner"], decryption)
    box.close_file()
    assert "a pedersen trustee, at step 'finished'" in trustee("show", homes[1] / "state.json")


def test_bad_files_are_refused_with_one_clear_line(server: Database, tmp_path: Path) -> None:
    committee("add", STAGE, "--name", "Ann")
    out = committee("add", STAGE, "--name", "Bob", "--kind", "boss", code=1)
    assert "error: trustee.kind: 'boss' is not a kind of trustee" in out
    state = tmp_path / "state.json"
    trustee(
        "init", "--name", "Ann", "--index", "1", "--size", "1", "--threshold", "1", "--out", state
    )
    before = state.read_bytes()
    out = trustee("init", "--name", "Ann", "--index", "1", "--out", state, code=1)
    assert "already exists; it is not overwritten" in out and state.read_bytes() == before
    certificate = json.loads((tmp_path / "state.certificate.json").read_bytes())
    certificate["message"] = certificate["message"].replace('"index":1', '"index":2')
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(certificate))
    out = committee("import-certificate", STAGE, "1", forged, code=1)
    assert "error: ceremony.certificate" in out
    out = committee("import-certificate", STAGE, "1", tmp_path / "missing.json", code=1)
    assert "cannot read" in out and "missing.json" in out
    out = committee("certificates", STAGE, "--out", tmp_path / "c.json", code=1)
    assert "still waiting for the certificates of Ann (1)" in out
    out = trustee("decrypt", state, "--request", forged, "--out", tmp_path / "p.json", code=1)
    assert "finish the ceremony first" in out
    (tmp_path / "junk.json").write_text("{")
    out = trustee(
        "polynomial",
        tmp_path / "junk.json",
        "--certificates",
        forged,
        "--out",
        tmp_path / "x",
        code=1,
    )
    assert "error: trustee.state: not JSON" in out


def test_a_single_trustee_key_through_the_commands(server: Database, tmp_path: Path) -> None:
    committee("add", STAGE, "--name", "Observer", "--kind", "single")
    committee("server-key", STAGE, "--out", tmp_path / "server.key")
    state = tmp_path / "observer.json"
    out = trustee("single-key", "--name", "Observer", "--out", state)
    assert "observer.public.json" in out
    committee("import-key", STAGE, "1", tmp_path / "observer.public.json")
    committee("finish", STAGE)
    committee("public", STAGE, "--out", tmp_path / "trustees.json")
    out = trustee("finish", state, "--trustees", tmp_path / "trustees.json")
    assert "trustee number 2 in the list" in out
    for command in ([], ["init"], ["decrypt"], ["single-key"]):
        assert runner.invoke(app, [*command, "--help"]).exit_code == 0
    for command in ([], ["add"], ["server-key"], ["status"], ["public"]):
        assert runner.invoke(admin_app, [*command, "--help"]).exit_code == 0
