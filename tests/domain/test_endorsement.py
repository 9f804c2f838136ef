"""The endorsement record: its canonical JSON, "no endorsement" as an outcome, the links it
rests on, and clear refusals."""

from __future__ import annotations

import datetime
import json

import pytest

from unionvote.domain.endorsement import (
    MAX_STATEMENT,
    Link,
    build_endorsement,
    parse_endorsement,
    stage_path,
)
from unionvote.domain.errors import DomainError

AT = datetime.datetime(2024, 3, 1, 7, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
LINKS = (
    Link("record", "membership-vote", "../membership-vote/membership-vote.bel", "a" * 64),
    Link("report", "membership-vote", "../membership-vote/report.json", "b" * 64),
    Link("process", None, "process.toml", "c" * 64),
)
DECISION = {
    "endorsed": "Joe Biden",
    "reason": "Joe Biden is endorsed by 40 of 40 votes (unanimity).",
    "counts": [{"answer": "Joe Biden", "votes": 40}, {"answer": "Donald Trump", "votes": 0}],
}


def make(decision: dict | None = DECISION, **changes: object):
    arguments: dict = {
        "union": "IAM",
        "decided_by": "State Council Presidents",
        "statement": "  The IAM endorses Joe Biden.  ",
        "decision": decision,
        "links": LINKS,
        "at": AT,
    }
    arguments.update(changes)
    return build_endorsement(**arguments)


def test_an_endorsement_round_trips_as_canonical_json() -> None:
    record = make()
    raw = record.to_json()
    obj = json.loads(raw)
    assert (
        raw == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert obj["outcome"] == "endorsement" and obj["endorsed"] == "Joe Biden"
    assert obj["statement"] == "The IAM endorses Joe Biden."  # trimmed
    assert obj["at"] == "2024-03-01T12:30:00Z"  # in UTC
    assert obj["links"][2] == {
        "role": "process",
        "stage": None,
        "path": "process.toml",
        "sha256": "c" * 64,
    }
    assert parse_endorsement(raw) == record
    text = record.to_text()
    assert text.startswith("IAM endorses Joe Biden.\nDecided by: State Council Presidents")
    assert "  Joe Biden: 40" in text and f"../membership-vote/report.json  {'b' * 64}" in text


def test_no_endorsement_is_a_valid_outcome() -> None:
    chose = make({**DECISION, "endorsed": None, "reason": "No endorsement: …"})
    assert chose.endorsed is None and chose.outcome == "no endorsement"
    assert chose.to_text().startswith("IAM: no endorsement.")
    without_vote = make(None, statement="The executive board makes no endorsement.")
    assert without_vote.endorsed is None and json.loads(without_vote.to_json())["decision"] is None


def test_paths_between_stage_directories() -> None:
    assert stage_path("council-vote", "membership-vote", "report.json") == (
        "../membership-vote/report.json"
    )
    assert stage_path("council-vote", "council-vote", "decision.json") == "decision.json"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"statement": " \n "}, "statement is empty"),
        ({"decided_by": ""}, "deciding body is empty"),
        ({"statement": "x" * (MAX_STATEMENT + 1)}, "longer than 20,000"),
        ({"statement": "bell\x07"}, "control characters"),
        ({"links": ()}, "none given"),
        ({"links": (LINKS[0], LINKS[0])}, "linked twice"),
        ({"at": datetime.datetime(2024, 3, 1)}, "timezone-aware"),
        ({"decision": {"endorsed": 3}}, "not a name"),
    ],
)
def test_bad_input_is_refused(changes: dict, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        make(**changes)


def test_a_tampered_file_is_refused() -> None:
    obj = json.loads(make().to_json())
    obj["outcome"] = "no endorsement"
    with pytest.raises(DomainError, match="does not match"):
        parse_endorsement(json.dumps(obj).encode())
    obj = json.loads(make().to_json())
    obj["links"][0].pop("sha256")
    with pytest.raises(DomainError, match="a link is"):
        parse_endorsement(json.dumps(obj).encode())
    with pytest.raises(DomainError, match="expected version 1"):
        parse_endorsement(b"{}")
    with pytest.raises(DomainError, match="not valid JSON"):
        parse_endorsement(b"nope")
