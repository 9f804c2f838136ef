"""Finding one ballot in a record by its tracker: what a member checks with their receipt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from unionvote.crypto.encoding import sha256_b64
from unionvote.record.archive import ArchiveReader

__all__ = ["BallotLocation", "find_ballot"]


@dataclass(frozen=True, slots=True)
class BallotLocation:
    """Where a tracker's ballot sits: its place among the ballots, and whether it is the one
    counted for its credential (a later ballot of the same credential replaces it)."""

    position: int
    ballots: int
    counted: bool
    voting_ended: bool


def _normalise(tracker: str) -> str:
    return "".join(tracker.split()).rstrip("=")


def find_ballot(record: Path, tracker: str) -> BallotLocation | None:
    """The ballot whose tracker is ``tracker`` (spaces and padding ignored), or ``None``.

    One streaming pass; the record's own checks are ``verify_record``'s business."""
    wanted = _normalise(tracker)
    position = 0
    found: int | None = None
    credential: str | None = None
    replaced = False
    ballots = 0
    ended = False
    with ArchiveReader.open(record) as reader:
        for entry in reader.iter_events():
            if entry.event.type == "EndBallots":
                ended = True
            if entry.event.type != "Ballot" or entry.payload is None:
                continue
            ballots += 1
            if found is None and sha256_b64(entry.payload) == wanted:
                found, position = ballots, ballots
                credential = json.loads(entry.payload).get("credential")
            elif found is not None and json.loads(entry.payload).get("credential") == credential:
                replaced = True
    if found is None:
        return None
    return BallotLocation(position, ballots, not replaced, ended)
