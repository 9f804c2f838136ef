"""The report's facts read the record's public credentials without a group check each (the
verifier and the import check them): the format is still enforced, with plain refusals."""

from __future__ import annotations

import json

import pytest

from unionvote.crypto.group import g
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import _credential_weights

A, B = str(g**11), str(g**12)


def raw(items: object) -> bytes:
    return json.dumps(items).encode()


def test_weights_read_from_both_forms() -> None:
    assert _credential_weights(raw([A, B])) == ({A: 1, B: 1}, False)
    assert _credential_weights(raw([f"{A},3", f"{B},1"])) == ({A: 3, B: 1}, True)
    assert _credential_weights(raw([])) == ({}, False)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ({"a": A}, "not a list"),
        ([A, 7], "not a public credential"),
        ([A.upper()], "not a public credential"),
        ([A[:-1]], "not a public credential"),
        ([f"{A},0"], "not a public credential"),
        ([f"{A},-2"], "not a public credential"),
        ([f"{A},x"], "not a public credential"),
        ([f"{A},2", B], "every public credential has a weight or none"),
        ([A, A], "share a public credential"),
    ],
)
def test_malformed_lists_are_refused(items: object, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        _credential_weights(raw(items))


def test_not_json_is_refused() -> None:
    with pytest.raises(DomainError, match="public credentials"):
        _credential_weights(b"[not json")
