"""``unionvote verify`` on good and bad input: bad input ends with a clear line naming the check
(and the entry, when there is one), a non-zero exit code and never a traceback."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from elections import (
    Built,
    Spec,
    blank,
    build_election,
    compact,
    data_index,
    event_index,
    payload_of,
    pick,
    raw_entries,
    read_items,
    read_tar,
    replace_data,
    resign_ballot,
    sha256_hex,
    write_items,
    write_raw,
)
from typer.testing import CliRunner

from unionvote.cli.main import app
from unionvote.crypto.group import Q
from unionvote.record.messages import Question

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P

SPEC = Spec(
    questions=(
        Question("Pick one", ("Ana", "Bruno", "Chloé"), 1, 1),
        Question("Pick some", ("x", "y", "z"), 0, 2, blank=True),
    ),
    voters=3,
    votes=(
        (0, (pick(3, 0), pick(3, 0, 2))),
        (1, (pick(3, 2), blank(3))),
        (2, (pick(3, 2), pick(3, 1))),
    ),
    trustees="2of3",
    decrypt_with=(2, 3),
    seed=4242,
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_election(tmp_path_factory.mktemp("cli") / "record.bel", SPEC)


def invoke(*args: str) -> tuple[int, str]:
    """Run the CLI in-process; an exception escaping the command is a failure of the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"unionvote {' '.join(args)} raised {result.exception!r}:\n{result.output}"
        ) from result.exception
    return result.exit_code, result.output


# -- good records ----------------------------------------------------------------------------


def test_pass_verdict_is_the_last_line(base: Built) -> None:
    code, output = invoke("verify", str(base.path))
    assert code == 0, output
    last = output.rstrip("\n").splitlines()[-1]
    assert last.startswith("unionvote verify: PASS")
    assert "3 ballots checked" in last
    assert "Chloé" in output
    assert "Traceback" not in output


def test_json_report(base: Built) -> None:
    code, output = invoke("verify", "--json", str(base.path))
    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] is True
    assert report["verdict"].startswith("unionvote verify: PASS")
    assert report["ballots_checked"] == 3
    assert report["result"] == base.expected == [[1, 0, 2], [1, 1, 1, 1]]


def test_json_report_of_a_bad_record(base: Built, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bel"
    bad.write_bytes(base.path.read_bytes()[:1000])
    code, output = invoke("verify", "--json", str(bad))
    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False
    assert report["verdict"].startswith("unionvote verify: FAIL")


def test_help() -> None:
    code, output = invoke("--help")
    assert code == 0 and "verify" in output
    code, output = invoke("verify", "--help")
    assert code == 0 and "--json" in output and "record" in output.lower()


def test_missing_file(tmp_path: Path) -> None:
    code, output = invoke("verify", str(tmp_path / "nowhere.bel"))
    assert code == 2
    assert "Traceback" not in output
    assert "no such file" in output and "nowhere.bel" in output


def test_a_directory_is_not_a_record(tmp_path: Path) -> None:
    code, output = invoke("verify", str(tmp_path))
    assert code != 0
    assert "Traceback" not in output


def test_real_process_prints_no_traceback(base: Built, tmp_path: Path) -> None:
    """The installed entry point, in a real process: a good record, then random bytes."""
    script = Path(sys.executable).parent / "unionvote"
    if not script.exists():
        pytest.skip(f"{script} is not installed")
    done = subprocess.run(
        [str(script), "verify", str(base.path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("unionvote verify: PASS")
    junk = tmp_path / "junk.bel"
    junk.write_bytes(random.Random(3).randbytes(3000))
    done = subprocess.run(
        [str(script), "verify", str(junk)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("unionvote verify: FAIL")


# -- bad records ------------------------------------------------------------------------------

# Each maker writes a bad record at ``path`` and returns (check, entry or None) that the
# output must name on one line.
Maker = Callable[[Built, Path], tuple[str, str | None]]


def random_bytes(base: Built, path: Path) -> tuple[str, str | None]:
    path.write_bytes(random.Random(1).randbytes(2048))
    return "archive.tar", None


def empty_file(base: Built, path: Path) -> tuple[str, str | None]:
    path.write_bytes(b"")
    return "archive.header", None


def short_text_file(base: Built, path: Path) -> tuple[str, str | None]:
    path.write_text("This is not an election record.\n")
    return "archive.truncated", None


def long_text_file(base: Built, path: Path) -> tuple[str, str | None]:
    path.write_text("Minutes of the meeting.\n" * 100)
    return "archive.tar", None


def a_zip_file(base: Built, path: Path) -> tuple[str, str | None]:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("BELENIOS", '{"version":1,"timestamp":"1"}')
        z.writestr("data.json", random.Random(2).randbytes(1000))
    return "archive.tar", None


def bad_json_event(base: Built, path: Path) -> tuple[str, str | None]:
    """An event's content is not JSON; the entry renamed to its new hash."""
    entries = read_tar(base.path)
    at = [i for i, (n, _) in enumerate(entries) if n.endswith(".event.json")][1]
    content = entries[at][1][:-1]  # the closing brace cut off
    name = f"{sha256_hex(content)}.event.json"
    entries[at] = (name, content)
    write_raw(path, entries)
    return "archive.event_json", name


def bad_json_ballot(base: Built, path: Path) -> tuple[str, str | None]:
    """A ballot that is not JSON; its event and the chain after it recomputed."""
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", 1)
    content = raw.replace(b'"answers":[', b'"answers":[,')
    write_items(path, replace_data(items, index, content))
    return "ballot.canonical", sha256_hex(content)


def bad_utf8_ballot(base: Built, path: Path) -> tuple[str, str | None]:
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", 0)
    content = raw.replace(b'"election_uuid":"', b'"election_uuid":"\xff\xfe')
    write_items(path, replace_data(items, index, content))
    return "ballot.canonical", sha256_hex(content)


def deeply_nested_ballot(base: Built, path: Path) -> tuple[str, str | None]:
    """Valid JSON nested 100,000 deep: must be refused, not crash the JSON parser's stack."""
    items = read_items(base.path)
    index, _ = payload_of(items, "Ballot", 2)
    content = b"[" * 100_000 + b"]" * 100_000
    write_items(path, replace_data(items, index, content))
    return "ballot.canonical", sha256_hex(content)


def deeply_nested_event(base: Built, path: Path) -> tuple[str, str | None]:
    """An event that is valid JSON nested 100,000 deep, renamed to its hash."""
    entries = read_tar(base.path)
    at = [i for i, (n, _) in enumerate(entries) if n.endswith(".event.json")][2]
    content = b"[" * 100_000 + b"]" * 100_000
    name = f"{sha256_hex(content)}.event.json"
    entries[at] = (name, content)
    write_raw(path, entries)
    return "archive.event_json", name


def bad_json_election(base: Built, path: Path) -> tuple[str, str | None]:
    items = read_items(base.path)
    content = items[0][1]
    assert isinstance(content, bytes) and content.startswith(b'{"version":1')
    content = content + b"}"
    write_items(path, replace_data(items, 0, content))
    return "setup.election", sha256_hex(content)


def wrong_group(base: Built, path: Path) -> tuple[str, str | None]:
    items = read_items(base.path)
    content = items[0][1]
    assert isinstance(content, bytes)
    content = content.replace(b'"group":"Ed25519"', b'"group":"BELENIOS-2048"')
    write_items(path, replace_data(items, 0, content))
    return "setup.election", sha256_hex(content)


def _off_curve() -> str:
    """The string of a y coordinate with no x on Ed25519 (x² = (y²−1)/(dy²+1) not a square)."""
    for y in range(2, 1000):
        u, v = (y * y - 1) % P, (D * y * y + 1) % P
        x2 = u * pow(v, -1, P) % P
        if x2 and pow(x2, (P - 1) // 2, P) != 1:
            return f"{y:064x}"  # big-endian hex of the RFC 8032 bytes, sign bit 0
    raise AssertionError("no off-curve y found")


def _edit_ballot(base: Built, path: Path, nth: int, edit: Callable[[dict], None]) -> str:
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", nth)
    ballot = json.loads(raw)
    edit(ballot)
    content = resign_ballot(base, ballot, voter=nth)
    write_items(path, replace_data(items, index, content))
    return sha256_hex(content)


def point_off_curve(base: Built, path: Path) -> tuple[str, str | None]:
    def edit(ballot: dict) -> None:
        ballot["answers"][0]["choices"][1]["alpha"] = _off_curve()

    return "ballot.canonical", _edit_ballot(base, path, 0, edit)


def point_of_small_order(base: Built, path: Path) -> tuple[str, str | None]:
    """(0, −1), a point of order 2: on the curve, not in the prime-order subgroup."""

    def edit(ballot: dict) -> None:
        ballot["answers"][1]["choices"][0]["beta"] = f"{P - 1:064x}"

    return "ballot.canonical", _edit_ballot(base, path, 1, edit)


def scalar_out_of_range(base: Built, path: Path) -> tuple[str, str | None]:
    def edit(ballot: dict) -> None:
        ballot["answers"][0]["individual_proofs"][0][1]["response"] = str(Q)

    return "ballot.canonical", _edit_ballot(base, path, 2, edit)


def end_ballots_before_a_ballot(base: Built, path: Path) -> tuple[str, str | None]:
    items = read_items(base.path)
    end = items.pop(event_index(items, "EndBallots"))
    at = event_index(items, "Ballot", 2)
    items.insert(at - 1, end)  # before the last ballot's data and event
    entries = raw_entries(items)
    write_raw(path, entries)
    ballot_event = [n for n, c in entries if n.endswith(".event.json") and b'"Ballot"' in c][-1]
    return "archive.event_order", ballot_event


def result_right_after_setup(base: Built, path: Path) -> tuple[str, str | None]:
    items = read_items(base.path)
    setup = event_index(items, "Setup")
    result_at = event_index(items, "Result")
    moved = [items[result_at - 1], items[result_at]]  # the result's data and event
    items = items[: setup + 1] + moved
    entries = raw_entries(items)
    write_raw(path, entries)
    return "archive.event_order", entries[-1][0]


def setup_points_to_missing_data(base: Built, path: Path) -> tuple[str, str | None]:
    """The setup names an election entry that is not in the archive."""
    items = read_items(base.path)
    index = data_index(items, sha256_hex(items[0][1]))  # type: ignore[arg-type]
    assert index == 0
    items = replace_data(items, 0, items[0][1] + b" ")  # type: ignore[operator]
    del items[0]
    write_items(path, items)
    return "archive.reference", None


BAD: dict[str, Maker] = {
    "random_bytes": random_bytes,
    "empty_file": empty_file,
    "short_text_file": short_text_file,
    "long_text_file": long_text_file,
    "a_zip_file": a_zip_file,
    "bad_json_event": bad_json_event,
    "bad_json_ballot": bad_json_ballot,
    "bad_utf8_ballot": bad_utf8_ballot,
    "deeply_nested_ballot": deeply_nested_ballot,
    "deeply_nested_event": deeply_nested_event,
    "bad_json_election": bad_json_election,
    "wrong_group": wrong_group,
    "point_off_curve": point_off_curve,
    "point_of_small_order": point_of_small_order,
    "scalar_out_of_range": scalar_out_of_range,
    "end_ballots_before_a_ballot": end_ballots_before_a_ballot,
    "result_right_after_setup": result_right_after_setup,
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_record(name: str, base: Built, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.bel"
    check, entry = BAD[name](base, path)
    code, output = invoke("verify", str(path))
    assert code == 1, output
    assert "Traceback" not in output
    lines = output.rstrip("\n").splitlines()
    assert lines[-1].startswith("unionvote verify: FAIL"), output
    assert "ballot" in lines[-1] and "checked" in lines[-1]
    assert check in lines[-1], output
    named = [line for line in lines[:-1] if check in line and (entry is None or entry in line)]
    assert named, f"no line names {check} and {entry}:\n{output}"


def test_wrong_group_says_which_group(base: Built, tmp_path: Path) -> None:
    path = tmp_path / "g.bel"
    wrong_group(base, path)
    _, output = invoke("verify", str(path))
    assert "BELENIOS-2048" in output


def test_setup_pointing_to_missing_data(base: Built, tmp_path: Path) -> None:
    path = tmp_path / "m.bel"
    setup_points_to_missing_data(base, path)
    code, output = invoke("verify", str(path))
    assert code == 1 and "Traceback" not in output
    assert output.rstrip().splitlines()[-1].startswith("unionvote verify: FAIL")


# -- --workers ----------------------------------------------------------------------------------


def test_workers_give_the_same_json_report(base: Built, tmp_path: Path) -> None:
    """``--workers 1`` and ``--workers 2`` print the same report, for the valid record and a
    record with a forged signature. (This record is smaller than a batch, so both check in
    this process; the pool itself is compared in tests/verify/test_tampering.py.)"""
    items = read_items(base.path)
    index, raw = payload_of(items, "Ballot", 1)
    ballot = json.loads(raw)
    proof = ballot["signature"]["proof"]
    proof["response"] = str((int(proof["response"]) + 1) % Q)
    forged = tmp_path / "forged.bel"
    write_items(forged, replace_data(items, index, compact(ballot)))
    for path, code in ((base.path, 0), (forged, 1)):
        outputs = {}
        for workers in ("1", "2"):
            exit_code, outputs[workers] = invoke(
                "verify", "--json", "--workers", workers, str(path)
            )
            assert exit_code == code, outputs[workers]
        assert outputs["1"] == outputs["2"]
    assert "ballot.signature" in outputs["2"]


def test_workers_must_be_positive(base: Built) -> None:
    code, output = invoke("verify", "--workers", "0", str(base.path))
    assert code == 2
    assert "Traceback" not in output
    code, output = invoke("verify", "--help")
    assert "--workers" in output
