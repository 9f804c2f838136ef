"""The report built from published files alone: the IAM's 2024 lines from a real record of
ballots cast in the IAM's shares, the sources it cites, and clear refusals of files that do
not fit the record or the process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elections import Spec, build_election, pick
from publications import COUNCIL, MEMBERSHIP, electorate_json, process_text, publish_membership

from unionvote.domain.errors import DomainError
from unionvote.domain.process import parse_process
from unionvote.domain.publication import (
    StageInputs,
    build_stage_report,
    derive_council_basis,
    parse_council_basis,
    parse_electorate,
    parse_subtallies,
    read_record,
    render_report,
    sha256_hex,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IAM_TEXT = (EXAMPLES / "iam-2024.toml").read_text(encoding="utf-8")
IAM = parse_process(IAM_TEXT)
# 100 ballots in the IAM's 2024 shares: 61, 17, 7, 7, and eight other candidates at 1% each.
SHARES = {
    "Joe Biden": 61,
    "Donald Trump": 17,
    "Robert F. Kennedy Jr.": 7,
    "Ron DeSantis": 7,
    "Nikki Haley": 1,
    "Vivek Ramaswamy": 1,
    "Dean Phillips": 1,
    "Chris Christie": 1,
    "Marianne Williamson": 1,
    "Mike Pence": 1,
    "Tim Scott": 1,
    "Doug Burgum": 1,
    "Asa Hutchinson": 0,
}


@pytest.fixture(scope="module")
def iam_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    questions = IAM.to_questions("membership-vote")
    labels = questions[0].answers
    votes = []
    for index, label in enumerate(labels):
        for _ in range(SHARES[label]):
            votes.append((len(votes), (pick(len(labels), index),)))
    spec = Spec(questions=questions, voters=len(votes), votes=tuple(votes), seed=11)
    path = tmp_path_factory.mktemp("iam") / "membership-vote.bel"
    build_election(path, spec)
    return path


def test_iam_2024_from_the_record(iam_record: Path) -> None:
    facts = read_record(iam_record)
    electorate = electorate_json("membership-vote", 600_000, 50_000)
    inputs = StageInputs("membership-vote", IAM_TEXT, facts, electorate)
    report = build_stage_report(inputs, simulation=True)
    text = report.to_text()
    lines = text.splitlines()
    listed = [line for line in lines if " – " in line and line.endswith("%")]
    assert listed[:4] == [
        "Joe Biden – 61%",
        "Donald Trump – 17%",
        "Robert F. Kennedy Jr. – 7%",
        "Ron DeSantis – 7%",
    ]
    footnote = lines[lines.index("Ron DeSantis – 7%") + 1]
    assert footnote == (
        "* Candidates who received more than 2% of the vote are listed; percentages are "
        "rounded to the nearest point (halves rounded up)."
    )
    assert listed[4:] == ["Democratic – 63%", "Republican – 30%", "Independent – 7%"]
    assert text.startswith("SIMULATION") and "IAM: General membership vote" in text
    assert "100 ballots counted: 0.0% of 600,000 eligible; 0.2% of 50,000 registered" in text
    published = json.loads(report.to_json())
    assert published["sources"] == {
        "record": sha256_hex(iam_record.read_bytes()),
        "election_hash": facts.election_hash,
        "process": sha256_hex(IAM_TEXT.encode()),
        "electorate": sha256_hex(electorate),
        "subtallies": None,
        "council": None,
    }
    assert f"record: {facts.sha256}" in text
    files = render_report(report)
    assert files["report.json"] == report.to_json()
    page = files["report.html"].decode()
    assert '<html lang="en">' in page and "<script" not in page
    assert 'alt="Simulation. Bar chart of the listed results. Which candidate' in page
    assert "Joe Biden 61%, Donald Trump 17%" in page


def test_the_same_files_give_the_same_bytes(iam_record: Path) -> None:
    facts = read_record(iam_record)
    first = build_stage_report(StageInputs("membership-vote", IAM_TEXT, facts), simulation=False)
    again = read_record(iam_record.read_bytes())
    second = build_stage_report(StageInputs("membership-vote", IAM_TEXT, again), simulation=False)
    assert render_report(first) == render_report(second)


def test_council_basis_from_the_iam_record(iam_record: Path) -> None:
    facts = read_record(iam_record)
    basis = derive_council_basis(IAM, "membership-vote", "council-vote", facts, "a" * 64)
    assert [(c.name, c.party) for c in basis.candidates] == [
        ("Joe Biden", "Democratic"),
        ("Donald Trump", "Republican"),
        ("Robert F. Kennedy Jr.", "Independent"),
    ]
    assert parse_council_basis(basis.to_json()) == basis
    assert basis.record_sha256 == facts.sha256 and basis.election_hash == facts.election_hash


def test_a_record_of_other_questions_is_refused(iam_record: Path) -> None:
    facts = read_record(iam_record)
    with pytest.raises(DomainError, match="not those of stage 'membership-vote'"):
        build_stage_report(StageInputs("membership-vote", process_text(), facts), simulation=False)


def test_a_council_report_needs_its_basis(tmp_path: Path) -> None:
    published = publish_membership(tmp_path)
    facts = read_record(published.record)
    with pytest.raises(DomainError, match=r"council\.json is needed"):
        build_stage_report(StageInputs(COUNCIL, published.process, facts), simulation=False)
    with pytest.raises(DomainError, match=r"electorate\.json is of stage 'council-vote'"):
        inputs = StageInputs(MEMBERSHIP, published.process, facts, electorate_json(COUNCIL, 1, 1))
        build_stage_report(inputs, simulation=False)


def test_no_report_before_the_result(tmp_path: Path) -> None:
    questions = parse_process(process_text()).to_questions(MEMBERSHIP)
    path = tmp_path / "r.bel"
    build_election(path, Spec(questions=questions, voters=1), until="tallied")
    with pytest.raises(DomainError, match="has no result yet"):
        build_stage_report(
            StageInputs(MEMBERSHIP, process_text(), read_record(path)), simulation=False
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1]", "not a JSON object"),
        (b"{", "not valid JSON"),
        (b'{"version":2}', "expected the fields"),
        (
            b'{"version":2,"uuid":"u","election_hash":"h","min_group_size":1,"dimensions":[],'
            b'"counted_groups":{}}',
            "version 2 is not 1",
        ),
        (
            b'{"version":1,"uuid":"u","election_hash":"h","min_group_size":-1,"dimensions":[],'
            b'"counted_groups":{}}',
            "min_group_size: expected a whole number",
        ),
        (
            b'{"version":1,"uuid":"u","election_hash":"h","min_group_size":1,'
            b'"dimensions":[{"dimension":"state","aggregates":[{"id":"x"}]}],'
            b'"counted_groups":{}}',
            r"state\[0\]: expected the fields",
        ),
    ],
)
def test_bad_subtallies_are_refused_clearly(raw: bytes, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        parse_subtallies(raw)


def test_electorate_is_read_and_checked() -> None:
    electorate = parse_electorate(electorate_json("membership-vote", 10, 8))
    assert (electorate.eligible, electorate.registered, electorate.cutoff) == (10, 8, "2024-01-01")
    with pytest.raises(DomainError, match="lacks registered"):
        parse_electorate(b'{"stage":"s","eligible":1}')
    with pytest.raises(DomainError, match="eligible: expected a whole number"):
        parse_electorate(b'{"stage":"s","eligible":"1","registered":1}')
