"""Test support: a stage's published directory built with the Python API alone (no database),
as the services would publish it: the record, ``process.toml``, ``electorate.json``,
``subtallies.json`` (computed here independently: aggregates multiplied from the record's
ballots, decrypted by the trustees, counts from the plaintext votes), the report files,
``council.json`` / ``decision.json`` / ``endorsement.json`` when asked, and ``manifest.json``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from elections import TIMESTAMP, Built, Choices, Spec, build_election, pick
from sqlalchemy import select

from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext
from unionvote.domain.process import parse_process
from unionvote.domain.publication import (
    COUNCIL_FILE,
    DECISION_FILE,
    ELECTORATE_FILE,
    PROCESS_FILE,
    SUBTALLIES_FILE,
    CouncilBasis,
    StageInputs,
    build_stage_report,
    decide_stage,
    decision_json,
    derive_council_basis,
    read_record,
    record_file_name,
    render_report,
    sha256_hex,
)
from unionvote.record.archive import ArchiveReader, write_manifest
from unionvote.record.messages import Ballot, encrypted_tally_to_json, parse_entry
from unionvote.services.context import Services
from unionvote.storage.models import ElectionRow, PublishedFile, RecordChunk, StageRow

PROCESS = """\
[union]
name = "Test Union of Machinists"
short_name = "TUM"

[eligibility]
countries = ["US"]
dues_statuses = ["good standing"]
cutoff = 2024-01-01

[[parties]]
name = "Democratic"

[[parties]]
name = "Republican"

[report]
threshold_percent = 2
min_group_size = {min_group_size}
breakdowns = ["state", "local"]

[[stages]]
id = "membership-vote"
title = "General membership vote"
electorate = "members"

[[stages.questions]]
id = "president"
question = "Whom should the union endorse?"

[[stages.questions.candidates]]
name = "Ada Lovelace"
party = "Democratic"

[[stages.questions.candidates]]
name = "Grace Hopper"
party = "Democratic"

[[stages.questions.candidates]]
name = "Alan Turing"
party = "Republican"

[[stages]]
id = "council-vote"
title = "State Council Presidents' vote"
electorate = "council role: state council president"
derived_from = "membership-vote"
rule = "top vote-getter of each party"

[stages.decision]
rule = "{rule}"

[[stages.questions]]
id = "endorsement"
question = "Which candidate should the union endorse?"
candidates_from = "president"
extra_options = ["no-endorsement"]
"""

MEMBERSHIP = "membership-vote"
COUNCIL = "council-vote"


def process_text(min_group_size: int = 3, rule: str = "simple majority") -> str:
    return PROCESS.replace("{min_group_size}", str(min_group_size)).replace("{rule}", rule)


# Where each voter is, (state, local), in turn: with 18 voters, MI 10 (locals 751: 6, 600: 4),
# OH 4, and VT and NH 2 each, too small for 3 on their own: merged into "other" (4).
PLACES = [("MI", "751"), ("MI", "600"), ("OH", "12"), ("MI", "751"), ("VT", "3")]
PLACES += [("MI", "751"), ("MI", "600"), ("OH", "12"), ("NH", "9")]


def place(voter: int) -> tuple[str, str]:
    return PLACES[voter % len(PLACES)]


@dataclass
class Published:
    """A published stage directory and what built it."""

    directory: Path
    record: Path
    built: Built
    process: str
    files: dict[str, bytes]

    def rewrite(self, name: str, content: bytes, *, manifest: bool = True) -> None:
        """Replace a published file (and, by default, the manifest, so that only the
        intended check fails)."""
        self.files[name] = content
        (self.directory / name).write_bytes(content)
        if manifest:
            write_manifest(self.directory, self.files, self.record)

    def json(self, name: str) -> dict:
        return json.loads(self.files[name])


def membership_votes(counts: Sequence[int], answers: int = 3) -> tuple[tuple[int, Choices], ...]:
    """Votes giving ``counts[i]`` ballots to answer ``i``, interleaved over the voters."""
    votes: list[tuple[int, Choices]] = []
    voter = 0
    for answer, n in enumerate(counts):
        for _ in range(n):
            votes.append((voter, (pick(answers, answer),)))
            voter += 1
    return tuple(votes)


def _groups(voter: int, dims: Sequence[str], min_size: int, sizes: Mapping[str, int]) -> list[str]:
    state, local = place(voter)
    ids = []
    if "state" in dims:
        ids.append(f"state:{state}" if sizes[f"state:{state}"] >= min_size else "state:other")
    if "local" in dims:
        own = f"local:{state}/{local}"
        ids.append(own if sizes[own] >= min_size else "local:other")
    return ids


def make_subtallies(built: Built, min_size: int, dims: Sequence[str] = ("state", "local")) -> bytes:
    """``subtallies.json`` for a decrypted election built by ``build_election``."""
    last: dict[int, Choices] = {}
    for voter, choices in built.spec.votes:
        last[voter] = choices
    by_key = {str(c.public(built.uuid).key): i for i, c in enumerate(built.credentials)}
    sizes: dict[str, int] = {}
    for voter in last:
        state, local = place(voter)
        for own in (f"state:{state}", f"local:{state}/{local}"):
            sizes[own] = sizes.get(own, 0) + 1
    members: dict[str, list[int]] = {}
    for voter in last:
        for group_id in _groups(voter, dims, min_size, sizes):
            members.setdefault(group_id, []).append(voter)
    ballots: dict[int, Ballot] = {}
    with ArchiveReader.open(built.path) as reader:
        for entry in reader.iter_events():
            if entry.event.type == "Ballot" and entry.payload is not None:
                ballot = parse_entry("ballot", entry.payload, Ballot.from_json, Ballot.to_json)
                ballots[by_key[str(ballot.credential)]] = ballot  # the last one wins
    dimensions = []
    for dim in dims:
        aggregates = []
        for group_id in sorted(g for g in members if g.startswith(f"{dim}:")):
            voters = members[group_id]
            tally: list[list[Ciphertext]] = [
                [ZERO_CIPHERTEXT] * len(q.answers) for q in built.election.questions
            ]
            counts = [[0] * len(q.answers) for q in built.election.questions]
            for voter in voters:
                for row, crow, answer, plain in zip(
                    tally, counts, ballots[voter].answers, last[voter], strict=True
                ):
                    for j, c in enumerate(answer.choices):
                        row[j] = row[j] * c
                        crow[j] += plain[j]
            partials = [
                {
                    "owner": owner,
                    "decryption": PartialDecryption.compute(
                        built.election_hash, built.key_of(owner), tally, rng=built.rng
                    ).to_json(),
                }
                for owner in built.decrypting_owners()
            ]
            label = group_id.split(":", 1)[1]
            groups = sorted({f"{place(v)[0]}/{place(v)[1]}" for v in voters})
            if group_id.endswith(":other"):
                label = f"Other {dim}s"
            else:
                groups = [label]
            aggregates.append(
                {
                    "id": group_id,
                    "label": label,
                    "groups": groups,
                    "ballots": len(voters),
                    "encrypted_tally": encrypted_tally_to_json(tally),
                    "partial_decryptions": partials,
                    "result": counts,
                }
            )
        dimensions.append({"dimension": dim, "aggregates": aggregates})
    counted_groups = {
        str(built.credentials[v].public(built.uuid).key): _groups(v, dims, min_size, sizes)
        for v in last
    }
    obj = {
        "version": 1,
        "uuid": built.uuid,
        "election_hash": built.election_hash,
        "min_group_size": min_size,
        "dimensions": dimensions,
        "counted_groups": counted_groups,
    }
    return json.dumps(obj, separators=(",", ":")).encode()


def electorate_json(stage: str, eligible: int, registered: int) -> bytes:
    doc = {
        "stage": stage,
        "rule": "members in good standing in US on 2024-01-01",
        "cutoff": "2024-01-01",
        "snapshot_digest": "0" * 64,
        "eligible": eligible,
        "registered": registered,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def publish_membership(
    root: Path,
    counts: Sequence[int] = (9, 3, 6),
    *,
    min_size: int = 3,
    trustees: str = "single",
    simulation: bool = False,
) -> Published:
    """The membership stage's published directory ``root/membership-vote/``."""
    text = process_text(min_size)
    process = parse_process(text)
    directory = root / MEMBERSHIP
    directory.mkdir(parents=True)
    votes = membership_votes(counts)
    spec = Spec(
        questions=process.to_questions(MEMBERSHIP),
        voters=len(votes) + 2,  # two registered members abstain
        votes=votes,
        trustees=trustees,
        decrypt_with=(1, 3) if trustees == "2of3" else (),
        seed=3,
    )
    built = build_election(directory / record_file_name(MEMBERSHIP), spec)
    files = {
        PROCESS_FILE: text.encode(),
        ELECTORATE_FILE: electorate_json(MEMBERSHIP, spec.voters + 10, spec.voters),
        SUBTALLIES_FILE: make_subtallies(built, min_size),
    }
    return _finish(directory, built, text, MEMBERSHIP, files, simulation)


def _finish(
    directory: Path, built: Built, text: str, stage: str, files: dict[str, bytes], simulation: bool
) -> Published:
    facts = read_record(built.path)
    inputs = StageInputs(
        stage,
        text,
        facts,
        files.get(ELECTORATE_FILE),
        files.get(SUBTALLIES_FILE),
        files.get(COUNCIL_FILE),
    )
    files |= render_report(build_stage_report(inputs, simulation=simulation))
    files["report.png"] = b"\x89PNG (not drawn in this test)"
    if parse_process(text).stage(stage).decision is not None:
        question, decision = decide_stage(text, stage, facts)
        files[DECISION_FILE] = decision_json(stage, question, decision, facts)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    write_manifest(directory, files, built.path)
    return Published(directory, built.path, built, text, files)


def council_election(path: Path, text: str, basis: CouncilBasis, votes: Sequence[int]) -> Built:
    """The council's record: one council member's vote per entry of ``votes`` (an answer
    index among the derived candidates and "No endorsement")."""
    questions = parse_process(text).to_questions(COUNCIL, {"endorsement": basis.candidates})
    size = len(questions[0].answers)
    spec = Spec(
        questions=questions,
        voters=len(votes),
        votes=tuple((i, (pick(size, a),)) for i, a in enumerate(votes)),
        seed=5,
    )
    return build_election(path, spec)


def publish_council(
    root: Path,
    membership: Published,
    council_votes: Sequence[int],
    *,
    rule: str = "simple majority",
) -> Published:
    """The council stage's published directory ``root/council-vote/``, derived from
    ``membership``: one council member's vote per entry of ``council_votes`` (answer index)."""
    text = process_text(membership.json(SUBTALLIES_FILE)["min_group_size"], rule)
    facts = read_record(membership.record)
    basis = derive_council_basis(
        parse_process(text), MEMBERSHIP, COUNCIL, facts, sha256_hex(membership.files["report.json"])
    )
    directory = root / COUNCIL
    directory.mkdir(parents=True)
    built = council_election(directory / record_file_name(COUNCIL), text, basis, council_votes)
    voters = len(council_votes)
    files = {
        PROCESS_FILE: text.encode(),
        ELECTORATE_FILE: electorate_json(COUNCIL, voters, voters),
        COUNCIL_FILE: basis.to_json(),
    }
    return _finish(directory, built, text, COUNCIL, files, simulation=False)


def seed_election(
    services: Services, stage_key: str, built: Built, files: Mapping[str, bytes]
) -> None:
    """Put a decrypted election into the database as the ballot box would leave it: the
    record's bytes (one chunk), its row, the stage decrypted, and its published files."""
    content = built.path.read_bytes()
    with ArchiveReader.open(built.path) as reader:
        reader.read_to_end()
        head, height = reader.last_event, reader.height
    assert head is not None and height is not None
    with services.transaction() as tx:
        row = tx.session.scalar(select(StageRow).where(StageRow.key == stage_key))
        assert row is not None
        row.uuid, row.status = built.uuid, "decrypted"
        election = ElectionRow(
            stage_id=row.id,
            uuid=built.uuid,
            phase="decrypted",
            timestamp=TIMESTAMP,
            election_hash=built.election_hash,
            head=head,
            height=height,
            chunks=1,
            ballots_received=len(built.spec.votes),
            created_at=tx.at,
        )
        tx.session.add(election)
        tx.session.flush()
        tx.session.add(RecordChunk(election_id=election.id, seq=0, content=content))
        for name, data in files.items():
            tx.session.add(
                PublishedFile(
                    stage_id=row.id, name=name, content=data, digest=sha256_hex(data), at=tx.at
                )
            )


AT = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.UTC)
