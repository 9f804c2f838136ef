"""Verify a stage's published files beside its record: the manifest, the sub-tallies by group,
the report, the council stage's link to the vote it was derived from, the decision and the
endorsement record (issue 3, §8–10).

A stage's published directory holds ``<stage>.bel``, ``manifest.json`` and the files the
manifest lists. When there is no ``manifest.json`` beside the record, every check here is
reported as *not applicable*, never as passed. Checks, in order (names in ``verify.report``):

1. ``published.manifest`` — every file's SHA-256 and the record's are those listed; nothing in
   the directory is unlisted.
2. ``subtallies.election`` … ``subtallies.sum`` — ``subtallies.json`` names this election; its
   ``counted_groups`` cover exactly the counted credentials (the last ballot of each, as the
   record verifier found them), each in one aggregate per dimension; each aggregate's encrypted
   tally is the weighted product of its ballots, of the ballot count it states and at least the
   minimum group size; every partial decryption is proven against its trustee's key in the
   record, and enough trustees took part; the combined decryption is the stated result; each
   dimension adds up to the record's result.
3. ``report.json``, ``report.text`` — rebuilt from the record, ``process.toml``,
   ``electorate.json``, ``subtallies.json`` (and ``council.json``), byte for byte.
4. ``council.link`` — the candidates are the top vote-getters of each party in the earlier
   stage's record, whose SHA-256, report SHA-256 and fingerprint are those stated; the earlier
   stage's directory is a sibling named after it.
5. ``decision.result`` — ``decision.json`` is the process's rule applied to the result.
6. ``endorsement.links`` — every linked file exists with the stated SHA-256; the endorsement's
   decision is the published one; a linked questionnaire (``questionnaire-<key>.json``) is one
   of the endorsement directory's published files (in its manifest with that SHA-256) and is
   the published comparison of that questionnaire.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unionvote.crypto.decryption import DiscreteLog, PartialDecryption, combine_factors
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement
from unionvote.crypto.trustees import key_owners
from unionvote.domain.endorsement import Link, check_questionnaire_file, parse_endorsement
from unionvote.domain.errors import DomainError
from unionvote.domain.process import parse_process
from unionvote.domain.publication import (
    COUNCIL_FILE,
    DECISION_FILE,
    ELECTORATE_FILE,
    ENDORSEMENT_FILE,
    PROCESS_FILE,
    SUBTALLIES_FILE,
    Aggregate,
    RecordFacts,
    StageInputs,
    Subtallies,
    build_stage_report,
    decide_stage,
    decision_json,
    derive_council_basis,
    parse_council_basis,
    parse_subtallies,
    read_record,
    record_file_name,
    render_report,
    sha256_hex,
)
from unionvote.domain.tally import TallyAccumulator
from unionvote.record.archive import MANIFEST_NAME, check_sidecars
from unionvote.record.errors import RecordError
from unionvote.verify.report import Report
from unionvote.verify.voters import Voters

__all__ = ["PUBLISHED_CHECKS", "check_published"]

SUBTALLY_CHECKS = (
    "subtallies.election",
    "subtallies.coverage",
    "subtallies.encrypted",
    "subtallies.size",
    "subtallies.decryption",
    "subtallies.result",
    "subtallies.sum",
)
PUBLISHED_CHECKS = (
    "published.manifest",
    *SUBTALLY_CHECKS,
    "report.json",
    "report.text",
    "council.link",
    "decision.result",
    "endorsement.links",
)
_EXAMPLES = 5  # how many credentials a coverage failure names
_HEX64 = re.compile("[0-9a-f]{64}")


def check_published(report: Report, record: Path, voters: Voters | None) -> None:
    """Check the published files beside ``record`` into ``report``. ``voters`` are the
    credentials as the record verifier found them, each with its weight and the SHA-256 of
    its last ballot that counts (None when the record could not be read to its end)."""
    directory = record.parent
    if not (directory / MANIFEST_NAME).is_file():
        for name in PUBLISHED_CHECKS:
            report.skip(name, f"no {MANIFEST_NAME} beside the record: no published files")
        return
    _check_manifest(report, directory, record)
    if voters is None:
        for name in PUBLISHED_CHECKS[1:]:
            report.skip(name, "the record could not be read to its end")
        return
    _Published(report, record, directory, voters).run()


def _check_manifest(report: Report, directory: Path, record: Path) -> None:
    try:
        check_sidecars(directory, record)
    except RecordError as error:
        report.failed("published.manifest", error.detail, error.entry)
        return
    listing = json.loads((directory / MANIFEST_NAME).read_bytes())
    listed = {item["name"] for item in listing["files"]}
    for path in sorted(directory.iterdir()):
        name = path.name
        if name.startswith(".") or name in listed or path == record or name == MANIFEST_NAME:
            continue
        report.failed("published.manifest", f"{name} is not listed in {MANIFEST_NAME}", name)
    report.passed("published.manifest", len(listed) + 1)


@dataclass
class _Accumulator:
    """An aggregate's running product of its ballots and their count and weight."""

    sums: TallyAccumulator

    @property
    def tally(self) -> list[list[Ciphertext]]:
        return self.sums.tally

    @property
    def ballots(self) -> int:
        return self.sums.count

    @property
    def weight(self) -> int:
        return self.sums.total_weight


class _Membership:
    """Which aggregates a credential's ballot counts in: looked up in ``counted_groups``
    itself, each combination of ids resolved once (None: not one known aggregate of each
    dimension). A credential is looked up by the bytes its hexadecimal spells, as
    ``counted_groups`` keeps them (see :func:`_written_key`)."""

    def __init__(self, subtallies: Subtallies, accumulators: Mapping[str, _Accumulator]) -> None:
        self._groups = subtallies.counted_groups
        self._accumulators = accumulators
        self._dimension_of = {
            a.id: d.dimension for d in subtallies.dimensions for a in d.aggregates
        }
        self._dimensions = sorted({d.dimension for d in subtallies.dimensions})
        self._resolved: dict[tuple[str, ...], tuple[_Accumulator, ...] | None] = {}

    def of_ids(self, ids: tuple[str, ...]) -> tuple[_Accumulator, ...] | None:
        if ids not in self._resolved:
            seen = [self._dimension_of.get(i) for i in ids]
            if None in seen or sorted(d for d in seen if d) != self._dimensions:
                self._resolved[ids] = None
            else:
                self._resolved[ids] = tuple(self._accumulators[i] for i in ids)
        return self._resolved[ids]

    def of_key(self, key: bytes) -> tuple[_Accumulator, ...]:
        ids = self._groups.of_key(key)
        return () if ids is None else self.of_ids(ids) or ()


@dataclass
class _Published:
    report: Report
    record: Path
    directory: Path
    voters: Voters
    files: dict[str, bytes | None] = field(default_factory=dict)

    def read(self, name: str) -> bytes | None:
        if name not in self.files:
            path = self.directory / name
            self.files[name] = path.read_bytes() if path.is_file() else None
        return self.files[name]

    def run(self) -> None:
        subtallies = self.subtallies()
        accumulators: dict[str, _Accumulator] = {}
        membership: _Membership | None = None
        if subtallies is not None:
            accumulators, membership = self.prepare(subtallies)
        facts = self.read_facts(membership)
        if facts is None:
            return
        if subtallies is not None:
            self.check_subtallies(subtallies, facts, accumulators)
        stage = self.stage_key()
        self.check_report(facts, stage)
        self.check_council(facts, stage)
        self.check_decision(facts, stage)
        self.check_endorsement()

    # -- sub-tallies -------------------------------------------------------------------------

    def subtallies(self) -> Subtallies | None:
        raw = self.read(SUBTALLIES_FILE)
        if raw is None:
            for name in SUBTALLY_CHECKS:
                self.report.skip(name, f"no {SUBTALLIES_FILE} published")
            return None
        try:
            subtallies = parse_subtallies(raw)
        except DomainError as error:
            self.report.failed("subtallies.election", error.detail, SUBTALLIES_FILE)
            for name in SUBTALLY_CHECKS[1:]:
                self.report.skip(name, f"{SUBTALLIES_FILE} could not be read")
            return None
        election = self.report.election
        if (subtallies.uuid, subtallies.election_hash) == (
            election.get("uuid"),
            election.get("fingerprint"),
        ):
            self.report.passed("subtallies.election")
        else:
            self.report.failed(
                "subtallies.election",
                f"{SUBTALLIES_FILE} names election {subtallies.uuid} "
                f"({subtallies.election_hash}), the record is {election.get('uuid')}",
                SUBTALLIES_FILE,
            )
        return subtallies

    def prepare(self, subtallies: Subtallies) -> tuple[dict[str, _Accumulator], _Membership]:
        """Each aggregate's accumulator, and each counted credential's accumulators (one per
        dimension); checks that ``counted_groups`` covers exactly the counted credentials."""
        shape = [
            len(q["answers"]) + (1 if q["blank"] else 0)
            for q in self.report.election.get("questions", [])
        ]
        accumulators = {
            a.id: _Accumulator(TallyAccumulator.of_shape(shape))
            for a in iter_aggregates(subtallies)
        }
        membership = _Membership(subtallies, accumulators)
        # Nothing per voter is built beside the parsed file (its credentials' bytes in one
        # string, each with its combination of groups' number), not even each key's text.
        groups = subtallies.counted_groups
        extra: list[str] = []
        wrong: list[str] = []
        listed_and_counted = 0
        for key, ids in groups.key_items():
            if self.voters.last_of(_voter_key(key)) is None:
                extra.append(key.hex())
                continue
            listed_and_counted += 1
            if membership.of_ids(ids) is None:
                wrong.append(key.hex())
        extra.extend(credential for credential, _ in groups.other_items())  # not a public key
        problems = []
        if listed_and_counted != self.voters.counted:
            missing = sorted(
                _voter_key(key).hex()
                for key in self.voters.counted_keys()
                if groups.of_key(_voter_key(key)) is None
            )
            problems.append(f"{len(missing)} counted credentials are in no group: {_few(missing)}")
        if extra:
            extra.sort()
            problems.append(
                f"{len(extra)} listed credentials have no counted ballot: {_few(extra)}"
            )
        if wrong:
            wrong.sort()
            problems.append(
                f"{len(wrong)} credentials are not in exactly one known aggregate of each "
                f"dimension: {_few(wrong)}"
            )
        for problem in problems:
            self.report.failed("subtallies.coverage", problem, SUBTALLIES_FILE)
        if not problems:
            self.report.passed("subtallies.coverage", self.voters.counted)
        return accumulators, membership

    def read_facts(self, membership: _Membership | None) -> RecordFacts | None:
        voters = self.voters

        def add(name: str, raw: bytes) -> None:
            # A ballot checked in full by the record's own pass (its name is the hash of these
            # very bytes); if it is its credential's last, it counts: only its credential and
            # ciphertexts are read again.
            assert membership is not None
            try:
                credential = json.loads(raw)["credential"]
            except (ValueError, TypeError, KeyError, RecursionError):
                return  # not a ballot: the record's own pass reported it (ballot.canonical)
            key = _written_key(credential)
            index = None if key is None else voters.index(_voter_key(key))
            if key is None or index is None or voters.last(index) != bytes.fromhex(name):
                return
            groups = membership.of_key(key)
            if groups:  # decoded once, added to its group in every dimension
                weight = voters.weight(index)
                stored = groups[0].sums.decode_stored(raw, None if weight == 1 else weight)
                for accumulator in groups:
                    accumulator.sums.add_decoded(stored)

        try:
            return read_record(self.record, on_ballot=add if membership is not None else None)
        except (DomainError, RecordError) as error:
            for name in PUBLISHED_CHECKS[1:]:
                self.report.skip(name, f"the record could not be read: {error}")
            return None

    def check_subtallies(
        self,
        subtallies: Subtallies,
        facts: RecordFacts,
        accumulators: Mapping[str, _Accumulator],
    ) -> None:
        minimum = subtallies.min_group_size
        process_text = self.read(PROCESS_FILE)
        if process_text is not None:
            try:
                rules = parse_process(process_text.decode(), source=PROCESS_FILE).report
                minimum = max(minimum, rules.min_group_size)
                if subtallies.min_group_size < rules.min_group_size:
                    self.report.failed(
                        "subtallies.size",
                        f"min_group_size {subtallies.min_group_size} is below the process's "
                        f"{rules.min_group_size}",
                        SUBTALLIES_FILE,
                    )
            except (DomainError, UnicodeDecodeError) as error:
                self.report.failed("subtallies.size", f"{PROCESS_FILE}: {error}", PROCESS_FILE)
        owners = {number: key for number, _, key in key_owners(facts.trustees)}
        for aggregate in iter_aggregates(subtallies):
            accumulator = accumulators[aggregate.id]
            self.check_aggregate(aggregate, accumulator, minimum, facts, owners)
        result = facts.result
        if result is None:
            self.report.failed("subtallies.sum", "the record has no result to add up to")
            return
        for dimension in subtallies.dimensions:
            total = [[0] * len(row) for row in result.result]
            for aggregate in dimension.aggregates:
                for t_row, a_row in zip(total, aggregate.result, strict=False):
                    for j, n in enumerate(a_row[: len(t_row)]):
                        t_row[j] += n
            ballots = sum(a.ballots for a in dimension.aggregates)
            if total == [list(r) for r in result.result] and ballots == facts.num_tallied:
                self.report.passed("subtallies.sum")
            else:
                self.report.failed(
                    "subtallies.sum",
                    f"by {dimension.dimension}: counts add up to {total} over {ballots} "
                    f"ballots; the record's result is {[list(r) for r in result.result]} "
                    f"over {facts.num_tallied}",
                    SUBTALLIES_FILE,
                )

    def check_aggregate(
        self,
        aggregate: Aggregate,
        accumulator: _Accumulator,
        minimum: int,
        facts: RecordFacts,
        owners: Mapping[int, GroupElement],
    ) -> None:
        report, where = self.report, aggregate.id
        if [list(r) for r in aggregate.encrypted_tally] == accumulator.tally:
            report.passed("subtallies.encrypted")
        else:
            report.failed(
                "subtallies.encrypted",
                "the encrypted tally is not the product of the aggregate's counted ballots",
                where,
            )
        if aggregate.ballots != accumulator.ballots:
            report.failed(
                "subtallies.size",
                f"states {aggregate.ballots} ballots; {accumulator.ballots} are counted in it",
                where,
            )
        elif aggregate.ballots < minimum:
            report.failed(
                "subtallies.size",
                f"{aggregate.ballots} ballots, fewer than the minimum group size {minimum}",
                where,
            )
        else:
            report.passed("subtallies.size")
        partials: dict[int, PartialDecryption] = {}
        for owner, partial in aggregate.partial_decryptions:
            key = owners.get(owner)
            if key is None or owner in partials:
                report.failed(
                    "subtallies.decryption", f"trustee {owner} is unknown or listed twice", where
                )
                continue
            try:
                partial.check(facts.election_hash, key, aggregate.encrypted_tally)
            except CryptoError as error:
                report.failed("subtallies.decryption", f"trustee {owner}: {error.detail}", where)
                continue
            report.passed("subtallies.decryption")
            partials[owner] = partial
        try:
            factors = combine_factors(
                facts.trustees, partials, [len(r) for r in aggregate.encrypted_tally]
            )
            log = DiscreteLog(accumulator.weight)
            counts = [
                [log(c.beta / f) for c, f in zip(row, frow, strict=True)]
                for row, frow in zip(aggregate.encrypted_tally, factors, strict=True)
            ]
        except CryptoError as error:
            check = "subtallies.decryption" if error.check == "decryption.missing" else None
            report.failed(check or "subtallies.result", error.detail, where)
            return
        if counts == [list(r) for r in aggregate.result]:
            report.passed("subtallies.result")
        else:
            report.failed(
                "subtallies.result",
                f"publishes {[list(r) for r in aggregate.result]}, the decryption gives {counts}",
                where,
            )

    # -- the report ------------------------------------------------------------------------

    def stage_key(self) -> str:
        """The stage this directory publishes: the report names it; else the record's name."""
        raw = self.read("report.json")
        if raw is not None:
            try:
                stage = json.loads(raw).get("stage")
            except (ValueError, AttributeError):
                stage = None
            if isinstance(stage, str):
                return stage
        return self.record.name.removesuffix(".bel")

    def inputs(self, facts: RecordFacts, stage: str) -> StageInputs:
        process = self.read(PROCESS_FILE)
        if process is None:
            raise DomainError("publication.process", f"{PROCESS_FILE} is not published")
        try:
            text = process.decode()
        except UnicodeDecodeError as error:
            raise DomainError("publication.process", f"{PROCESS_FILE} is not UTF-8") from error
        return StageInputs(
            stage,
            text,
            facts,
            self.read(ELECTORATE_FILE),
            self.read(SUBTALLIES_FILE),
            self.read(COUNCIL_FILE),
        )

    def check_report(self, facts: RecordFacts, stage: str) -> None:
        published = self.read("report.json")
        if published is None:
            for name in ("report.json", "report.text"):
                self.report.skip(name, "no report.json published")
            return
        try:
            simulation = json.loads(published).get("simulation")
            if not isinstance(simulation, bool):
                raise DomainError("report.json", "the simulation flag is not true or false")
            rebuilt = render_report(
                build_stage_report(self.inputs(facts, stage), simulation=simulation)
            )
        except (ValueError, AttributeError) as error:
            self.report.failed("report.json", f"not a JSON object ({error})", "report.json")
            return
        except DomainError as error:
            self.report.failed("report.json", f"cannot be rebuilt: {error}", "report.json")
            return
        if rebuilt["report.json"] == published:
            self.report.passed("report.json")
        else:
            where = _diff(published, rebuilt["report.json"])
            self.report.failed(
                "report.json",
                f"differs from the report rebuilt from its sources: {where}",
                "report.json",
            )
        for name in ("report.txt", "report.html"):
            content = self.read(name)
            if content is None:
                self.report.failed("report.text", f"{name} is not published", name)
            elif content != rebuilt[name]:
                self.report.failed("report.text", "differs from the rebuilt report", name)
            else:
                self.report.passed("report.text")

    # -- council, decision, endorsement -----------------------------------------------------

    def check_council(self, facts: RecordFacts, stage: str) -> None:
        raw = self.read(COUNCIL_FILE)
        if raw is None:
            self.report.skip("council.link", f"no {COUNCIL_FILE}: not a derived stage")
            return
        try:
            basis = parse_council_basis(raw)
            earlier = self.directory.parent / basis.from_stage
            record = earlier / record_file_name(basis.from_stage)
            report = earlier / "report.json"
            for path in (record, report):
                if not path.is_file():
                    raise DomainError(
                        "council.link", f"{_relative(path, self.directory)} is missing"
                    )
            report_sha = sha256_hex(report.read_bytes())
            earlier_facts = read_record(record)
            problems = []
            if earlier_facts.sha256 != basis.record_sha256:
                problems.append(f"the record's SHA-256 is {earlier_facts.sha256}")
            if report_sha != basis.report_sha256:
                problems.append(f"the report's SHA-256 is {report_sha}")
            if earlier_facts.election_hash != basis.election_hash:
                problems.append(
                    f"the earlier election's fingerprint is {earlier_facts.election_hash}"
                )
            process = parse_process(self.inputs(facts, stage).process_text, source=PROCESS_FILE)
            derived = derive_council_basis(
                process, basis.from_stage, stage, earlier_facts, report_sha
            )
            if derived.candidates != basis.candidates:
                names = ", ".join(f"{c.name} ({c.party})" for c in derived.candidates)
                problems.append(f"the top vote-getters of each party are {names}")
        except DomainError as error:
            self.report.failed("council.link", error.detail, COUNCIL_FILE)
            return
        for problem in problems:
            self.report.failed("council.link", problem, COUNCIL_FILE)
        if not problems:
            self.report.passed("council.link")

    def check_decision(self, facts: RecordFacts, stage: str) -> None:
        raw = self.read(DECISION_FILE)
        if raw is None:
            self.report.skip("decision.result", f"no {DECISION_FILE} published")
            return
        try:
            question, decision = decide_stage(self.inputs(facts, stage).process_text, stage, facts)
        except DomainError as error:
            self.report.failed("decision.result", f"cannot be recomputed: {error}", DECISION_FILE)
            return
        if decision_json(stage, question, decision, facts) == raw:
            self.report.passed("decision.result")
        else:
            self.report.failed(
                "decision.result",
                f"differs from the rule applied to the result: {decision.reason}",
                DECISION_FILE,
            )

    def check_endorsement(self) -> None:
        raw = self.read(ENDORSEMENT_FILE)
        if raw is None:
            self.report.skip("endorsement.links", f"no {ENDORSEMENT_FILE} published")
            return
        try:
            endorsement = parse_endorsement(raw)
        except DomainError as error:
            self.report.failed("endorsement.links", error.detail, ENDORSEMENT_FILE)
            return
        root = self.directory.parent.resolve()
        for link in endorsement.links:
            path = (self.directory / link.path).resolve()
            if not path.is_relative_to(root):
                self.report.failed(
                    "endorsement.links", f"{link.path} points outside the published files"
                )
            elif not path.is_file():
                self.report.failed("endorsement.links", f"{link.path} is missing", ENDORSEMENT_FILE)
            elif (actual := sha256_hex(path.read_bytes())) != link.sha256:
                self.report.failed(
                    "endorsement.links",
                    f"{link.path}: SHA-256 {actual}, the endorsement says {link.sha256}",
                    ENDORSEMENT_FILE,
                )
            elif link.role == "questionnaire" and (
                problem := self.questionnaire_problem(link, path.read_bytes())
            ):
                self.report.failed("endorsement.links", problem, ENDORSEMENT_FILE)
            else:
                self.report.passed("endorsement.links")
        decision = self.read(DECISION_FILE)
        published = None if decision is None else _json_object(decision)
        if endorsement.decision != published:
            self.report.failed(
                "endorsement.links",
                f"the endorsement's decision is not the published {DECISION_FILE}",
                ENDORSEMENT_FILE,
            )

    def questionnaire_problem(self, link: Link, content: bytes) -> str | None:
        """A questionnaire link's file is one of this directory's published files (listed in
        the manifest with that SHA-256) and a published questionnaire of the key it names."""
        listing = _json_object(self.directory.joinpath(MANIFEST_NAME).read_bytes())
        files = listing.get("files") if isinstance(listing, dict) else None
        listed = {
            item.get("name"): item.get("sha256")
            for item in (files if isinstance(files, list) else [])
            if isinstance(item, dict)
        }
        if listed.get(link.path) != link.sha256:
            return f"{link.path} is not among the published files with SHA-256 {link.sha256}"
        try:
            check_questionnaire_file(link, content)
        except DomainError as error:
            return error.detail
        return None


def iter_aggregates(subtallies: Subtallies) -> Iterable[Aggregate]:
    return (a for d in subtallies.dimensions for a in d.aggregates)


def _written_key(credential: object) -> bytes | None:
    """The bytes a credential's string form spells (Belenios's 64 hexadecimal digits, a
    big-endian number), as ``counted_groups`` keeps them; None for anything else."""
    if not isinstance(credential, str) or _HEX64.fullmatch(credential) is None:
        return None
    return bytes.fromhex(credential)


def _voter_key(key: bytes) -> bytes:
    """The voters keep RFC 8032's bytes, little-endian: a written key's, reversed (and back:
    the reversal is its own inverse)."""
    return key[::-1]


def _few(items: list[str]) -> str:
    more = f" and {len(items) - _EXAMPLES} more" if len(items) > _EXAMPLES else ""
    return ", ".join(items[:_EXAMPLES]) + more


def _relative(path: Path, directory: Path) -> str:
    try:
        return str(path.relative_to(directory.parent))
    except ValueError:
        return str(path)


def _json_object(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _diff(published: bytes, rebuilt: bytes) -> str:
    """Where two JSON documents first differ, as a path (``questions[0].counts[2].count``)."""
    try:
        left, right = json.loads(published), json.loads(rebuilt)
    except ValueError:
        return "the published file is not JSON"
    return _first_difference(left, right, "") or "the same content in another form"


def _first_difference(left: Any, right: Any, path: str) -> str | None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                return f"{path}.{key} is only in one".lstrip(".")
            found = _first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return f"{path or 'the list'} has {len(left)} items, {len(right)} expected"
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if left != right:
        shown = [json.dumps(value, ensure_ascii=False)[:60] for value in (left, right)]
        return f"{path.lstrip('.')} is {shown[0]}, {shown[1]} expected"
    return None
