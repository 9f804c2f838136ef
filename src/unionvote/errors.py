"""The root of unionvote's exception tree; each layer derives its own from it."""

from __future__ import annotations

from typing import Any

__all__ = ["UnionVoteError"]


class UnionVoteError(Exception):
    """Anything unionvote refuses, with a message meant for a person to read.

    A refusal pickles whole (its class, message and attributes such as ``check``), so one
    raised in a worker process — the verifier's or the tally's — reaches the caller exactly
    as it would have in the caller's own process."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(
    cls: type[UnionVoteError], args: tuple[Any, ...], state: dict[str, Any]
) -> UnionVoteError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error
