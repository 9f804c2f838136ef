"""The domain layer's exceptions."""

from __future__ import annotations

from unionvote.errors import UnionVoteError

__all__ = ["DomainError", "ElectionError"]


class DomainError(UnionVoteError):
    """A business rule refused an action; nothing was changed. ``check`` names the rule."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


class ElectionError(DomainError):
    """An election step was refused (a bad ballot, a closed election, an invalid decryption)."""
