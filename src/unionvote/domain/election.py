"""Running one verifiable election, start to finish, on its public record.

``ElectionBox`` is the Python API the endorsement workflow builds on: it writes the record as
the election goes — setup, ballots (revotes replace earlier ones), the end of voting, the
encrypted tally, partial decryptions by the trustees and the result — and checks everything
before it is written, so the record never holds an entry the verifier would refuse.

Every change is appended to the ``.bel`` archive and ``fsync``-ed before the call returns: a
tracker handed to a voter names a ballot that is durably in the record. Re-opening the archive
(``ElectionBox.open``) rebuilds the state, so a crash loses nothing that was acknowledged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from unionvote.crypto.credentials import PublicCredential
from unionvote.crypto.decryption import DiscreteLog, PartialDecryption
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import BASE58_ALPHABET, compact_json, sha256_b64
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement, Rng
from unionvote.crypto.trustees import TrusteeItem, election_public_key, key_owners
from unionvote.domain.errors import ElectionError
from unionvote.domain.tally import TallyAccumulator, decrypt_counts
from unionvote.record.archive import ArchiveReader, ArchiveWriter, EventEntry
from unionvote.record.ballot import check_ballot
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

__all__ = ["ElectionBox", "Phase", "new_uuid"]


def new_uuid(rng: Rng = secrets.randbelow) -> str:
    """A fresh election identifier: 14 Base58 characters, as Belenios makes them."""
    return "".join(BASE58_ALPHABET[rng(58)] for _ in range(14))


class Phase(Enum):
    VOTING = "voting"
    CLOSED = "closed"
    TALLIED = "tallied"
    DECRYPTED = "decrypted"


@dataclass(frozen=True, slots=True)
class CastReceipt:
    """What a voter is told once the ballot is durably recorded."""

    tracker: str
    replaced_earlier_ballot: bool
    already_recorded: bool = False


class ElectionBox:
    """One election's record, open for the next step. Use ``create`` or ``open``."""

    def __init__(
        self,
        path: Path,
        writer: ArchiveWriter,
        setup: SetupData,
        election: Election,
        trustees: list[TrusteeItem],
        credentials: list[PublicCredential],
    ) -> None:
        self.path = path
        self._writer = writer
        self.setup = setup
        self.election = election
        self.trustees = trustees
        self.credentials = credentials
        self._weights = {c.key: c.weight for c in credentials}
        self._trackers: set[str] = set()
        self._last_by_credential: dict[GroupElement, str] = {}
        self.ballots_received = 0
        self.phase = Phase.VOTING
        self.tally: SizedEncryptedTally | None = None
        self._encrypted_tally: list[list[Ciphertext]] | None = None
        self._partials: dict[int, PartialDecryption] = {}
        self.result: Result | None = None

    # -- setup ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        uuid: str,
        name: str,
        description: str,
        questions: Sequence[Question],
        trustees: Sequence[TrusteeItem],
        credentials: Sequence[PublicCredential],
        timestamp: int,
    ) -> ElectionBox:
        """Write a new record: the election, its trustees and the public credentials.

        Each trustee item is checked (proofs of knowledge, threshold parameters) and the
        credentials must be distinct: a record never starts from a setup the verifier refuses.
        """
        for item in trustees:
            item.check()
        if len({c.key for c in credentials}) != len(credentials):
            raise ElectionError("setup.credentials", "two voters share a public credential")
        if len({c.weight is None for c in credentials}) > 1:
            raise ElectionError("setup.credentials", "either every voter has a weight or none")
        election = Election(
            uuid, name, description, election_public_key(trustees), tuple(questions)
        )
        writer = ArchiveWriter.create(path, timestamp=timestamp)
        try:
            setup = SetupData(
                writer.add_data(compact_json(election.to_json())),
                writer.add_data(compact_json([t.to_json() for t in trustees])),
                writer.add_data(compact_json([c.to_json() for c in credentials])),
            )
            writer.add_event("Setup", writer.add_data(compact_json(setup.to_json())))
            writer.flush()
        except BaseException:
            writer.close()
            raise
        return cls(path, writer, setup, election, list(trustees), list(credentials))

    @classmethod
    def open(cls, path: Path) -> ElectionBox:
        """Re-open a record and rebuild the state from it (after a restart or a crash)."""
        writer = ArchiveWriter.open(path)  # checks the whole archive, then appends after it
        with ArchiveReader.open(path) as reader:
            events = reader.iter_events()
            first = next(events, None)
            if first is None or first.event.type != "Setup" or first.payload is None:
                raise ElectionError("record.setup", "the record does not start with its setup")
            setup = parse_entry("setup", first.payload, SetupData.from_json, SetupData.to_json)
            election = parse_entry(
                "election", reader.data(setup.election), Election.from_json, Election.to_json
            )
            trustees = parse_trustees_entry(reader.data(setup.trustees))
            credentials = parse_credentials_entry(reader.data(setup.credentials))
            box = cls(path, writer, setup, election, trustees, credentials)
            for entry in events:
                box._replay(entry, reader)
        return box

    def _replay(self, entry: EventEntry, reader: ArchiveReader) -> None:
        kind, payload = entry.event.type, entry.payload
        if kind == "Ballot" and payload is not None:
            ballot = parse_entry("ballot", payload, Ballot.from_json, Ballot.to_json)
            self._remember(ballot, sha256_b64(payload))  # canonical: the bytes are the ballot
        elif kind == "EndBallots":
            self.phase = Phase.CLOSED
        elif kind == "EncryptedTally" and payload is not None:
            self.tally = parse_entry(
                "tally", payload, SizedEncryptedTally.from_json, SizedEncryptedTally.to_json
            )
            self._encrypted_tally = parse_encrypted_tally_bytes(
                reader.data(self.tally.encrypted_tally)
            )
            self.phase = Phase.TALLIED
        elif kind == "PartialDecryption" and payload is not None:
            owned = parse_entry("decryption.owner", payload, Owned.from_json, Owned.to_json)
            self._partials[owned.owner] = parse_entry(
                "decryption",
                reader.data(owned.payload),
                PartialDecryption.from_json,
                PartialDecryption.to_json,
            )
        elif kind == "Result" and payload is not None:
            self.result = parse_entry("result", payload, Result.from_json, Result.to_json)
            self.phase = Phase.DECRYPTED

    def close_file(self) -> None:
        self._writer.close()

    @property
    def election_hash(self) -> str:
        """φ, the election's fingerprint, which every ballot names."""
        return self.setup.election_hash

    @property
    def last_event(self) -> str | None:
        return self._writer.last_event

    # -- voting ----------------------------------------------------------------------------

    def cast(self, raw: bytes) -> CastReceipt:
        """Check a ballot fully and record it; return its tracker once it is durable.

        The same ballot sent twice is recorded once (the second call says so). A new ballot
        with a credential that voted before replaces the earlier one in the tally.
        """
        if self.phase is not Phase.VOTING:
            raise ElectionError("ballot.closed", "voting has ended; the ballot was not recorded")
        try:
            ballot = parse_entry("ballot", raw, Ballot.from_json, Ballot.to_json)
        except RecordError as error:
            raise ElectionError("ballot.malformed", error.detail) from error
        tracker = sha256_b64(raw)  # the same as ballot.tracker: parse_entry checked it canonical
        if tracker in self._trackers:
            return CastReceipt(tracker, replaced_earlier_ballot=False, already_recorded=True)
        if ballot.credential not in self._weights:
            raise ElectionError(
                "ballot.credential", "the ballot's credential is not on this election's list"
            )
        try:
            check_ballot(self.election, self.election_hash, ballot)
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
        replaced = ballot.credential in self._last_by_credential
        self._writer.add_event("Ballot", self._writer.add_data(raw))
        self._writer.flush()
        self._remember(ballot, tracker)
        return CastReceipt(tracker, replaced_earlier_ballot=replaced)

    def _remember(self, ballot: Ballot, tracker: str) -> None:
        self._trackers.add(tracker)
        self._last_by_credential[ballot.credential] = tracker
        self.ballots_received += 1

    @property
    def voters_counted(self) -> int:
        """How many credentials have a ballot in the tally (last ballot each)."""
        return len(self._last_by_credential)

    def has_tracker(self, tracker: str) -> bool:
        return tracker in self._trackers

    def close(self) -> None:
        """End the voting: no ballot is accepted after this."""
        if self.phase is not Phase.VOTING:
            raise ElectionError("election.closed", "voting has already ended")
        self._writer.add_event("EndBallots")
        self._writer.flush()
        self.phase = Phase.CLOSED

    # -- tally and decryption ----------------------------------------------------------------

    def _counted_ballots(self) -> Iterator[Ballot]:
        """The last ballot of each credential, streamed from the record."""
        last = set(self._last_by_credential.values())
        with ArchiveReader.open(self.path) as reader:
            for entry in reader.iter_events():
                if entry.event.type == "Ballot" and entry.payload is not None:
                    ballot = parse_entry("ballot", entry.payload, Ballot.from_json, Ballot.to_json)
                    if ballot.tracker in last:
                        yield ballot

    def compute_tally(self) -> SizedEncryptedTally:
        """The encrypted tally: per answer, the product of the counted ballots' ciphertexts,
        each raised to its voter's weight. One streaming pass over the record."""
        if self.phase is not Phase.CLOSED:
            raise ElectionError(
                "tally.phase", f"cannot tally while the election is {self.phase.value}"
            )
        accumulator = TallyAccumulator(self.election.questions)
        for ballot in self._counted_ballots():
            accumulator.add(ballot, self._weights[ballot.credential])
        tally = accumulator.tally
        tally_hash = self._writer.add_data(compact_json(encrypted_tally_to_json(tally)))
        sized = SizedEncryptedTally(accumulator.count, accumulator.total_weight, tally_hash)
        self._writer.add_event(
            "EncryptedTally", self._writer.add_data(compact_json(sized.to_json()))
        )
        self._writer.flush()
        self.tally, self._encrypted_tally, self.phase = sized, tally, Phase.TALLIED
        return sized

    @property
    def encrypted_tally(self) -> list[list[Ciphertext]]:
        if self._encrypted_tally is None:
            raise ElectionError("tally.phase", "the election has not been tallied yet")
        return self._encrypted_tally

    def public_key_of(self, owner: int) -> GroupElement:
        for number, _, key in key_owners(self.trustees):
            if number == owner:
                return key
        raise ElectionError("decryption.owner", f"there is no trustee number {owner}")

    def add_partial_decryption(self, owner: int, partial: PartialDecryption) -> None:
        """Check a trustee's partial decryption and publish it; an invalid one is refused and
        nothing is written."""
        if self.phase is not Phase.TALLIED:
            raise ElectionError(
                "decryption.phase", f"cannot decrypt while the election is {self.phase.value}"
            )
        if owner in self._partials:
            raise ElectionError("decryption.owner", f"trustee {owner} has already decrypted")
        try:
            partial.check(self.election_hash, self.public_key_of(owner), self.encrypted_tally)
        except CryptoError as error:
            raise ElectionError(error.check, error.detail) from error
        payload = self._writer.add_data(compact_json(partial.to_json()))
        owned = Owned(owner, payload)
        self._writer.add_event(
            "PartialDecryption", self._writer.add_data(compact_json(owned.to_json()))
        )
        self._writer.flush()
        self._partials[owner] = partial

    def compute_result(self) -> Result:
        """Combine the partial decryptions and publish the counts."""
        if self.phase is not Phase.TALLIED or self.tally is None:
            raise ElectionError(
                "result.phase", f"cannot publish while the election is {self.phase.value}"
            )
        result = Result(
            decrypt_counts(
                self.trustees,
                self._partials,
                self.encrypted_tally,
                DiscreteLog(self.tally.total_weight),
            )
        )
        self._writer.add_event("Result", self._writer.add_data(compact_json(result.to_json())))
        self._writer.flush()
        self.result, self.phase = result, Phase.DECRYPTED
        return result


def parse_encrypted_tally_bytes(raw: bytes) -> list[list[Ciphertext]]:
    return parse_entry("tally.encrypted", raw, parse_encrypted_tally, encrypted_tally_to_json)
