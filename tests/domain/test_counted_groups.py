"""``counted_groups`` kept as its JSON (domain.tally.CountedGroups): the same bytes as the
object written whole, read back the same, and the sub-tallies file read without it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.encoding import compact_json
from unionvote.domain.errors import ElectionError
from unionvote.domain.tally import CountedGroups, Subtallies

texts = st.text(max_size=12)  # any text: quotes, backslashes, controls, non-ASCII
groups = st.dictionaries(texts, st.lists(texts, max_size=3).map(tuple), max_size=12)


def whole(mapping: dict[str, tuple[str, ...]]) -> bytes:
    """How the file wrote the object before: the whole object through compact_json."""
    return compact_json({k: list(v) for k, v in sorted(mapping.items())})


@settings(max_examples=300, deadline=None)
@given(groups)
def test_the_same_bytes_as_the_whole_object_and_read_back_the_same(
    mapping: dict[str, tuple[str, ...]],
) -> None:
    kept = CountedGroups.of(mapping)
    assert kept.json == whole(mapping)
    assert dict(CountedGroups(kept.json)) == mapping
    assert CountedGroups.of(kept) is kept


def test_hex_credentials_sharing_combinations() -> None:
    mapping = {f"{i:064x}": (("state:MI", "local:MI-751") if i % 3 else ("state:OH",))
               for i in range(1000)}  # fmt: skip
    kept = CountedGroups.of(mapping)
    assert kept.json == whole(mapping)
    parsed = CountedGroups(kept.json)
    assert len(parsed) == 1000 and parsed[f"{3:064x}"] == ("state:OH",)
    assert len({id(v) for v in parsed.values()}) == 2  # one tuple per combination
    assert "bytes of JSON" in repr(parsed) and "state" not in repr(parsed)


@settings(max_examples=100, deadline=None)
@given(groups)
def test_a_subtallies_file_round_trips_with_its_groups_unread(
    mapping: dict[str, tuple[str, ...]],
) -> None:
    subtallies = Subtallies("uuid-1", "hash", 50, (), mapping)
    raw = subtallies.to_bytes()
    assert raw == compact_json(subtallies.to_json())  # as the file was always written
    back = Subtallies.from_bytes(raw)
    assert isinstance(back.counted_groups, CountedGroups)
    assert back.counted_groups._parsed is None  # not read to be written again
    assert back.to_bytes() == raw
    assert back == subtallies


def test_a_file_in_another_order_is_read_whole_and_checked() -> None:
    obj = {"counted_groups": {"ab": ["state:MI"]}, "version": 1, "uuid": "u",
           "election_hash": "h", "min_group_size": 50, "dimensions": []}  # fmt: skip
    back = Subtallies.from_bytes(json.dumps(obj).encode())
    assert dict(back.counted_groups) == {"ab": ("state:MI",)}
    assert back.to_bytes().endswith(b',"counted_groups":{"ab":["state:MI"]}}')
    obj["counted_groups"] = {"ab": [1]}
    with pytest.raises(ElectionError, match="subtallies"):
        Subtallies.from_bytes(json.dumps(obj).encode())
    obj["counted_groups"] = []
    with pytest.raises(ElectionError, match="counted_groups is not an object"):
        Subtallies.from_bytes(json.dumps(obj).encode())


def test_the_rest_of_the_file_is_still_read_strictly() -> None:
    raw = Subtallies("u", "h", 50, (), {"ab": ("state:MI",)}).to_bytes()
    with pytest.raises(ElectionError, match="version"):
        Subtallies.from_bytes(raw.replace(b'"version":1', b'"version":2'))
    with pytest.raises(ElectionError, match="unexpected fields"):
        Subtallies.from_bytes(raw.replace(b'"uuid":"u"', b'"uuid":"u","extra":1'))
    with pytest.raises(ElectionError, match="not valid JSON"):
        Subtallies.from_bytes(raw.replace(b'"min_group_size":50', b'"min_group_size":'))
