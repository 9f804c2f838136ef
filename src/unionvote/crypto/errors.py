"""The crypto layer's exceptions: checks raise, they never return a bool."""

from __future__ import annotations

from unionvote.errors import UnionVoteError

__all__ = ["CryptoError", "EncodingError", "InvalidProof"]


class CryptoError(UnionVoteError):
    """A protocol object failed a check. ``check`` is a stable name for what failed."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail


class EncodingError(CryptoError):
    """A value is not in the form the specification requires (a point, a scalar, a string)."""


class InvalidProof(CryptoError):
    """A zero-knowledge proof or a signature does not verify."""
