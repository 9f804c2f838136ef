"""The record's data entries (``record/messages.py``): every entry of Belenios's own records parses
and re-serialises to the very same bytes; anything not canonical, or not the specification's
shape, is refused with a named check."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.errors import EncodingError
from unionvote.crypto.group import g
from unionvote.record.archive import read_archive
from unionvote.record.errors import RecordError
from unionvote.record.messages import (
    Ballot,
    Election,
    Owned,
    Question,
    Result,
    SetupData,
    SizedEncryptedTally,
    encrypted_tally_to_json,
    parse_credentials_entry,
    parse_encrypted_tally,
    parse_entry,
    parse_trustees_entry,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "belenios"
RECORDS = ["single", "threshold", "weighted", "empty"]


def entries(name: str) -> dict[str, list[bytes]]:
    """The raw data entries of a fixture record, by what they are."""
    archive = read_archive(FIXTURES / f"{name}.bel")
    found: dict[str, list[bytes]] = {}

    def add(kind: str, raw: bytes) -> None:
        found.setdefault(kind, []).append(raw)

    for entry in archive.events:
        payload = entry.payload
        if payload is None:
            continue
        if entry.event.type == "Setup":
            add("setup", payload)
            setup = json.loads(payload)
            add("election", archive.data[setup["election"]])
            add("trustees", archive.data[setup["trustees"]])
            add("credentials", archive.data[setup["credentials"]])
        elif entry.event.type == "Ballot":
            add("ballot", payload)
        elif entry.event.type == "EncryptedTally":
            add("sized_tally", payload)
            add("encrypted_tally", archive.data[json.loads(payload)["encrypted_tally"]])
        elif entry.event.type == "PartialDecryption":
            add("owned", payload)
            add("partial_decryption", archive.data[json.loads(payload)["payload"]])
        elif entry.event.type == "Result":
            add("result", payload)
    return found


PARSERS: dict[str, Callable[[bytes], Any]] = {
    "setup": lambda raw: parse_entry("setup", raw, SetupData.from_json, SetupData.to_json),
    "election": lambda raw: parse_entry("election", raw, Election.from_json, Election.to_json),
    "trustees": parse_trustees_entry,
    "credentials": parse_credentials_entry,
    "ballot": lambda raw: parse_entry("ballot", raw, Ballot.from_json, Ballot.to_json),
    "sized_tally": lambda raw: parse_entry(
        "tally", raw, SizedEncryptedTally.from_json, SizedEncryptedTally.to_json
    ),
    "encrypted_tally": lambda raw: parse_entry(
        "encrypted_tally", raw, parse_encrypted_tally, encrypted_tally_to_json
    ),
    "owned": lambda raw: parse_entry("owned", raw, Owned.from_json, Owned.to_json),
    "partial_decryption": lambda raw: parse_entry(
        "partial_decryption", raw, PartialDecryption.from_json, PartialDecryption.to_json
    ),
    "result": lambda raw: parse_entry("result", raw, Result.from_json, Result.to_json),
}


@pytest.mark.parametrize("name", RECORDS)
def test_every_belenios_entry_parses_canonically(name: str) -> None:
    found = entries(name)
    expected = set(PARSERS) - ({"ballot"} if name == "empty" else set())
    assert set(found) == expected
    for kind, raws in found.items():
        for raw in raws:
            PARSERS[kind](raw)  # parse_entry re-serialises and compares the bytes


@pytest.mark.parametrize("name", RECORDS)
def test_election_hash_and_trackers(name: str) -> None:
    found = entries(name)
    [raw_setup], [raw_election] = found["setup"], found["election"]
    setup = SetupData.from_json(json.loads(raw_setup))
    assert setup.election == hashlib.sha256(raw_election).hexdigest()
    assert setup.election_hash == sha256_b64(raw_election)
    for raw in found.get("ballot", []):
        ballot = Ballot.from_json(json.loads(raw))
        assert ballot.election_hash == setup.election_hash
        assert ballot.tracker == sha256_b64(raw)
        assert ballot.signature_hash == sha256_b64(compact_json(ballot.unsigned_json()))


def test_belenios_election_fields() -> None:
    [raw] = entries("threshold")["election"]
    election = Election.from_json(json.loads(raw))
    assert election.uuid == (FIXTURES / "threshold" / "uuid.txt").read_text().strip()
    first, second = election.questions
    assert first.blank and not second.blank
    assert first.shape.ciphertexts == 3
    assert (second.min, second.max, len(second.answers)) == (0, 2, 4)
    assert list(first.to_json()) == ["answers", "blank", "min", "max", "question"]
    assert list(second.to_json()) == ["answers", "min", "max", "question"]


def test_weighted_credentials_and_result() -> None:
    found = entries("weighted")
    [raw] = found["credentials"]
    credentials = parse_credentials_entry(raw)
    assert sorted(c.weight or 0 for c in credentials) == [1, 1, 3, 1000000000]
    [raw_result] = found["result"]
    assert Result.from_json(json.loads(raw_result)).result == ((1000000003, 1),)


# -- refusals --------------------------------------------------------------------------------------


def version_last(obj: dict[str, Any]) -> dict[str, Any]:
    moved = {k: v for k, v in obj.items() if k != "version"}
    moved["version"] = obj["version"]
    return moved


def election_raw() -> bytes:
    [raw] = entries("single")["election"]
    return raw


def parse_election(raw: bytes) -> Election:
    return parse_entry("election", raw, Election.from_json, Election.to_json)


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("a space after a colon", lambda t: t.replace('"version":1', '"version": 1')),
        ("fields reordered", lambda t: compact_json(version_last(json.loads(t))).decode()),
        ("escaped non-ASCII", lambda t: json.dumps(json.loads(t), separators=(",", ":"))),
        ("a trailing newline", lambda t: t + "\n"),
    ],
)
def test_non_canonical_entries_are_refused(why: str, change: Callable[[str], str]) -> None:
    raw = change(election_raw().decode()).encode()
    assert raw != election_raw(), why
    with pytest.raises(RecordError) as raised:
        parse_election(raw)
    assert raised.value.check == "election"


def test_an_entry_that_is_not_json_is_refused() -> None:
    with pytest.raises(RecordError) as raised:
        parse_election(b"{not json")
    assert raised.value.check == "election"
    with pytest.raises(RecordError):
        parse_election(b"\xff\xfe")


def election_obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(election_raw())
    obj.update(changes)
    return obj


def question_obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"answers": ["a", "b"], "min": 1, "max": 1, "question": "q"}
    obj.update(changes)
    return obj


@pytest.mark.parametrize(
    ("why", "obj", "check"),
    [
        ("version 2", election_obj(version=2), "election.version"),
        ("another group", election_obj(group="BELENIOS-2048"), "election.group"),
        ("short uuid", election_obj(uuid="abc"), "election.uuid"),
        ("uuid not Base58", election_obj(uuid="0OIl0OIl0OIl0OIl"), "election.uuid"),
        ("no question", election_obj(questions=[]), "election.questions"),
        ("unknown field", election_obj(extra="x"), "election"),
        ("key not a point", election_obj(public_key=str(g**2).upper()), "group_element"),
        ("name not a string", election_obj(name=5), "election"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_invalid_election_is_refused(why: str, obj: dict[str, Any], check: str) -> None:
    with pytest.raises(EncodingError) as raised:
        Election.from_json(obj)
    assert raised.value.check == check, why


@pytest.mark.parametrize(
    ("why", "obj"),
    [
        ("blank written as false", question_obj(blank=False)),
        ("min above max", question_obj(min=2, max=1)),
        ("max above the number of answers", question_obj(max=3)),
        ("no answer", question_obj(answers=[], min=0, max=0)),
        ("answers not a list", question_obj(answers="ab")),
        ("an answer not a string", question_obj(answers=["a", 2])),
        ("min negative", question_obj(min=-1)),
        ("min a boolean", question_obj(min=True)),
        ("min a string", question_obj(min="1")),
        ("unknown field", question_obj(extra=1)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_invalid_question_is_refused(why: str, obj: dict[str, Any]) -> None:
    with pytest.raises(EncodingError) as raised:
        Question.from_json(obj)
    assert raised.value.check in ("election.question", "question"), why


def test_question_round_trip() -> None:
    for obj in (question_obj(), question_obj(blank=True)):
        assert Question.from_json(obj).to_json() == obj
    assert list(Question.from_json(question_obj(blank=True)).to_json())[1] == "blank"


@pytest.mark.parametrize(
    ("parse", "obj", "check"),
    [
        (SetupData.from_json, {"election": "0" * 64, "trustees": "0" * 64}, "setup"),
        (
            SetupData.from_json,
            {"election": "A" * 64, "trustees": "0" * 64, "credentials": "0" * 64},
            "setup",
        ),
        (Owned.from_json, {"owner": 0, "payload": "0" * 64}, "decryption.owner"),
        (Owned.from_json, {"owner": 1, "payload": "0" * 63}, "decryption.owner"),
        (Owned.from_json, {"owner": "1", "payload": "0" * 64}, "decryption.owner"),
        (Result.from_json, {"result": [[1, -1]]}, "result"),
        (Result.from_json, {"result": [["1"]]}, "result"),
        (SizedEncryptedTally.from_json, {"num_tallied": 1, "total_weight": 1}, "tally"),
        (parse_encrypted_tally, [[{"alpha": str(g)}]], "encrypted_tally"),
        (parse_encrypted_tally, {"alpha": str(g), "beta": str(g)}, "encrypted_tally"),
    ],
)
def test_invalid_structures_are_refused(parse: Callable[[Any], Any], obj: Any, check: str) -> None:
    with pytest.raises(EncodingError) as raised:
        parse(obj)
    assert raised.value.check == check


def test_ballot_with_a_missing_field_is_refused() -> None:
    [raw, *_] = entries("single")["ballot"]
    obj = json.loads(raw)
    del obj["credential"]
    with pytest.raises(EncodingError) as raised:
        Ballot.from_json(obj)
    assert raised.value.check == "ballot"
    obj = json.loads(raw)
    del obj["signature"]["hash"]
    with pytest.raises(EncodingError) as raised:
        Ballot.from_json(obj)
    assert raised.value.check == "ballot.signature"


def test_election_optional_fields_come_last_in_order() -> None:
    election = Election.from_json(election_obj(administrator="Admin", credential_authority="CA"))
    keys = list(election.to_json())
    assert keys[-2:] == ["administrator", "credential_authority"]
    assert keys[:7] == [
        "version",
        "description",
        "name",
        "group",
        "public_key",
        "questions",
        "uuid",
    ]


def test_counts_from_2_30_up_are_decimal_strings_as_belenios_writes_them() -> None:
    from unionvote.crypto.encoding import compact_json
    from unionvote.record.messages import Result, SizedEncryptedTally, parse_entry

    result = Result(((2**30 - 1, 2**30),))
    assert compact_json(result.to_json()) == b'{"result":[[1073741823,"1073741824"]]}'
    raw = compact_json(result.to_json())
    assert parse_entry("result", raw, Result.from_json, Result.to_json) == result
    sized = SizedEncryptedTally(3, 1_500_000_003, "0" * 64)
    assert b'"total_weight":"1500000003"' in compact_json(sized.to_json())
    for bad in (b'{"result":[["5"]]}', b'{"result":[["01073741824"]]}'):
        with pytest.raises(RecordError):
            parse_entry("result", bad, Result.from_json, Result.to_json)
