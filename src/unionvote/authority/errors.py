"""The credential authority's exceptions: each names what was refused, and nothing was changed."""

from __future__ import annotations

from unionvote.errors import UnionVoteError

__all__ = ["AuthorityError"]


class AuthorityError(UnionVoteError):
    """The authority's tool refused an input or an action. ``check`` names the rule."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail

    def __reduce__(self) -> tuple[type[AuthorityError], tuple[str, str]]:
        """Rebuilt whole when it comes back from a worker process (letters, credentials)."""
        return (type(self), (self.check, self.detail))
