"""Storage errors: the database is missing, out of date, or refused a change."""

from __future__ import annotations

from unionvote.errors import UnionVoteError

__all__ = ["StorageError"]


class StorageError(UnionVoteError):
    """A storage problem, with the check that names it and a plain-language detail."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail
