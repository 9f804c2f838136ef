"""Errors raised when a public election record breaks a rule of Belenios's "Public data" section.

Every failed check raises :class:`RecordError`; nothing in ``record/`` returns a bool for a
check. ``check`` is a stable name a verifier report or a test can key on; the names are listed
in :data:`CHECKS`.
"""

from __future__ import annotations

from unionvote.errors import UnionVoteError

__all__ = ["CHECKS", "RecordError"]

CHECKS: dict[str, str] = {
    "archive.tar": "not an old-style tar archive as Belenios writes it (header, checksum, padding)",
    "archive.truncated": "a tar header or an entry's content is cut short",
    "archive.header": "the first entry is not BELENIOS with a valid header",
    "archive.entry_name": "an entry name is not <sha256>.data.json or <sha256>.event.json",
    "archive.content_hash": "an entry's name does not start with the SHA-256 of its content",
    "archive.event_json": "an event is not the canonical JSON of a valid event structure",
    "archive.chain": "an event's parent is not the hash of the previous event",
    "archive.height": "an event's height is not the previous height plus one (0 first)",
    "archive.event_order": "an event type may not follow the previous event's type",
    "archive.reference": "an event refers to data that does not precede it in the archive",
    "sidecar.hash": "a file listed in manifest.json is missing or its SHA-256 differs",
    "sidecar.manifest": "manifest.json is missing, malformed, or does not match the archive",
}
"""Stable check names, each with what it means when it fails."""


class RecordError(UnionVoteError):
    """A public record (the ``.bel`` archive or a file beside it) fails a named check.

    ``check`` is one of :data:`CHECKS`; ``detail`` says what was found; ``entry`` names the
    archive entry or file at fault, when there is one.
    """

    def __init__(self, check: str, detail: str, entry: str | None = None) -> None:
        super().__init__(check, detail, entry)
        self.check = check
        self.detail = detail
        self.entry = entry

    def __str__(self) -> str:
        where = f" in {self.entry}" if self.entry is not None else ""
        return f"{self.check}{where}: {self.detail}"
