"""The root of unionvote's exception tree; each layer derives its own from it."""

from __future__ import annotations

__all__ = ["UnionVoteError"]


class UnionVoteError(Exception):
    """Anything unionvote refuses, with a message meant for a person to read."""
