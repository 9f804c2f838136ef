"""The endorsement record (issue 3, §10): the outcome, who decided it, the statement, and links
with SHA-256 to every published file it rests on.

It is published as ``endorsement.json`` in the directory of the stage whose decision it records
(the council vote), beside that stage's record. Each link is a path relative to that directory
(``../membership-vote/membership-vote.bel``) with the file's SHA-256, so anyone holding the
published directories can check that the endorsement rests on exactly those records and reports.
"No endorsement" is a valid outcome: then ``endorsed`` is null.

A published candidate questionnaire (issue 6) is linked too, with the role ``questionnaire``:
its comparison file, ``questionnaire-<key>.json``, is published beside the endorsement (no
stage). Records made before questionnaires existed have no such link and stay valid.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from unionvote.domain.errors import DomainError

__all__ = [
    "MAX_STATEMENT",
    "QUESTIONNAIRE_FORMAT",
    "ROLES",
    "EndorsementRecord",
    "Link",
    "build_endorsement",
    "check_questionnaire_file",
    "check_texts",
    "parse_endorsement",
    "questionnaire_key",
    "questionnaire_link",
    "stage_path",
]

MAX_STATEMENT = 20_000
_CHECK = "endorsement"
ROLES = ("record", "report", "process", "decision", "questionnaire")
# The published comparison of a candidate questionnaire (services/questionnaire.py writes it).
QUESTIONNAIRE_FORMAT = "unionvote-questionnaire-publication/1"
_QUESTIONNAIRE_FILE = re.compile(r"questionnaire-([a-z0-9][a-z0-9-]{0,62})\.json")


@dataclass(frozen=True, slots=True)
class Link:
    """One file the endorsement rests on: its ``role`` (``record``, ``report``, ``process``,
    ``decision``, ``questionnaire``), its stage (None for the process), where it is relative
    to the endorsement's directory, and its SHA-256 in hex."""

    role: str
    stage: str | None
    path: str
    sha256: str

    def to_obj(self) -> dict[str, Any]:
        return {"role": self.role, "stage": self.stage, "path": self.path, "sha256": self.sha256}


def _check_link(link: Link) -> None:
    if link.role not in ROLES:
        raise DomainError(_CHECK, f"a link's role is one of {', '.join(ROLES)}, not {link.role!r}")
    if link.role == "questionnaire" and (
        link.stage is not None or _QUESTIONNAIRE_FILE.fullmatch(link.path) is None
    ):
        raise DomainError(
            _CHECK,
            f"a questionnaire link names no stage and a file questionnaire-<key>.json beside "
            f"the endorsement, not {link.path!r}",
        )


def questionnaire_link(name: str, sha256: str) -> Link:
    """The link to a published questionnaire file (``questionnaire-<key>.json``), published
    beside the endorsement."""
    link = Link("questionnaire", None, name, sha256)
    _check_link(link)
    return link


def questionnaire_key(link: Link) -> str | None:
    """The key of the questionnaire a ``questionnaire`` link points to; None for other links."""
    match = _QUESTIONNAIRE_FILE.fullmatch(link.path) if link.role == "questionnaire" else None
    return None if match is None else match[1]


def check_questionnaire_file(link: Link, content: bytes) -> None:
    """The linked file is a published questionnaire comparison of the key its name says."""
    key = questionnaire_key(link)
    try:
        obj = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        obj = None
    about = obj.get("questionnaire") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or obj.get("format") != QUESTIONNAIRE_FORMAT:
        raise DomainError(_CHECK, f"{link.path} is not a published questionnaire")
    if not isinstance(about, dict) or about.get("key") != key:
        raise DomainError(_CHECK, f"{link.path} is not the questionnaire {key!r}")


def stage_path(home: str, stage: str, name: str) -> str:
    """The path of ``name`` in ``stage``'s directory, seen from ``home``'s: stage directories
    are siblings named after their stage."""
    return name if stage == home else posixpath.join("..", stage, name)


@dataclass(frozen=True, slots=True)
class EndorsementRecord:
    union: str
    endorsed: str | None
    decided_by: str
    statement: str
    decision: Mapping[str, Any] | None
    links: tuple[Link, ...]
    at: str

    @property
    def outcome(self) -> str:
        return "no endorsement" if self.endorsed is None else "endorsement"

    def to_obj(self) -> dict[str, Any]:
        return {
            "version": 1,
            "union": self.union,
            "outcome": self.outcome,
            "endorsed": self.endorsed,
            "decided_by": self.decided_by,
            "statement": self.statement,
            "decision": None if self.decision is None else dict(self.decision),
            "links": [link.to_obj() for link in self.links],
            "at": self.at,
        }

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8."""
        return json.dumps(
            self.to_obj(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def to_text(self) -> str:
        """The announcement as a member reads it."""
        head = (
            f"{self.union}: no endorsement."
            if self.endorsed is None
            else f"{self.union} endorses {self.endorsed}."
        )
        lines = [head, f"Decided by: {self.decided_by}"]
        if self.decision is not None:
            lines.append(str(self.decision.get("reason", "")))
            votes = self.decision.get("counts", [])
            lines += [f"  {item['answer']}: {item['votes']:,}" for item in votes]
        lines += ["", self.statement, "", "Rests on (SHA-256):"]
        lines += [f"  {link.path}  {link.sha256}" for link in self.links]
        return "\n".join(lines) + "\n"


def _clean(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise DomainError(_CHECK, f"the {what} is empty")
    if len(text) > limit:
        raise DomainError(_CHECK, f"the {what} is longer than {limit:,} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise DomainError(_CHECK, f"the {what} contains control characters")
    return text


def check_texts(*, decided_by: str, statement: str) -> tuple[str, str]:
    """The deciding body and the statement, trimmed; refused empty, too long or with control
    characters (they are published as they are)."""
    return _clean(decided_by, "deciding body", 300), _clean(statement, "statement", MAX_STATEMENT)


def build_endorsement(
    *,
    union: str,
    decided_by: str,
    statement: str,
    decision: Mapping[str, Any] | None,
    links: Sequence[Link],
    at: datetime.datetime,
) -> EndorsementRecord:
    """The record of the endorsement. ``decision`` is the published ``decision.json`` (its
    ``endorsed`` is the outcome); without a decision the outcome is no endorsement."""
    if at.tzinfo is None:
        raise DomainError(_CHECK, "the time must be timezone-aware")
    endorsed = None if decision is None else decision.get("endorsed")
    if endorsed is not None and not isinstance(endorsed, str):
        raise DomainError(_CHECK, "the decision's outcome is not a name")
    if not links:
        raise DomainError(_CHECK, "an endorsement rests on published records: none given")
    for link in links:
        _check_link(link)
    paths = [link.path for link in links]
    if len(set(paths)) != len(paths):
        raise DomainError(_CHECK, "a file is linked twice")
    decided_by, statement = check_texts(decided_by=decided_by, statement=statement)
    return EndorsementRecord(
        union,
        endorsed,
        decided_by,
        statement,
        decision,
        tuple(links),
        at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def parse_endorsement(raw: bytes) -> EndorsementRecord:
    """Read ``endorsement.json``; a clear error names what is wrong."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DomainError(_CHECK, f"not valid JSON ({error})") from None
    keys = {
        "version",
        "union",
        "outcome",
        "endorsed",
        "decided_by",
        "statement",
        "decision",
        "links",
        "at",
    }
    if not isinstance(obj, dict) or set(obj) != keys or obj["version"] != 1:
        raise DomainError(_CHECK, f"expected version 1 with the fields {sorted(keys)}")
    links = []
    for item in obj["links"] if isinstance(obj["links"], list) else [None]:
        if not isinstance(item, dict) or set(item) != {"role", "stage", "path", "sha256"}:
            raise DomainError(_CHECK, "a link is {role, stage, path, sha256}")
        if not all(isinstance(item[k], str) for k in ("role", "path", "sha256")) or not (
            item["stage"] is None or isinstance(item["stage"], str)
        ):
            raise DomainError(_CHECK, "a link's fields are strings")
        link = Link(item["role"], item["stage"], item["path"], item["sha256"])
        _check_link(link)
        links.append(link)
    decision = obj["decision"]
    if decision is not None and not isinstance(decision, dict):
        raise DomainError(_CHECK, "the decision is an object or null")
    record = EndorsementRecord(
        str(obj["union"]),
        obj["endorsed"] if isinstance(obj["endorsed"], str) else None,
        str(obj["decided_by"]),
        str(obj["statement"]),
        decision,
        tuple(links),
        str(obj["at"]),
    )
    if record.outcome != obj["outcome"]:
        raise DomainError(_CHECK, f"the outcome {obj['outcome']!r} does not match 'endorsed'")
    return record
