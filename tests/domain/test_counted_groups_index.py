"""``counted_groups`` as the verifier reads it (domain.publication.CountedGroupsIndex): the
same mapping as ``json.loads`` gives, whatever the keys, the ids, the order, the escapes,
repeated keys or spacing; ``subtallies.json`` refused in the same words as when it was read
whole; the report's reading of it, which skips ``counted_groups``, the same as a whole
reading; and a small fraction of a dictionary's memory per voter."""

from __future__ import annotations

import json
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from unionvote.crypto.encoding import compact_json
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import (
    CountedGroupsIndex,
    Subtallies,
    SubtallyCounts,
    _aggregate,
    _dimensions,
    _int,
    _list,
    _str,
    _subtallies_object,
    parse_subtallies,
    parse_subtally_counts,
)

HEX = "0123456789abcdef"
hex_keys = st.binary(min_size=32, max_size=32).map(bytes.hex)
# Keys of every kind: any text (quotes, backslashes, controls, non-ASCII), a credential's 64
# lowercase hexadecimal digits, nearly one (upper case, a digit short or over), a few alike.
keys = st.one_of(
    st.text(max_size=8),
    hex_keys,
    hex_keys.map(str.upper),
    hex_keys.map(lambda h: h[:63]),
    hex_keys.map(lambda h: h + "0"),
    st.sampled_from(['"', "\\", '\\"', "é", "\u2028", "\x00", "ab" * 32, "cd" * 32]),
    st.just("\ud800"),  # a lone surrogate: json reads it from bytes too (surrogatepass)
)
ids = st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["state:MI", "local:MI-751"])))
pairs = st.lists(st.tuples(keys, ids), max_size=12)


def _escaped(text: str) -> str:
    """A JSON string with every character written as an escape (UTF-16 units)."""
    units = text.encode("utf-16-be", "surrogatepass")
    escapes = (f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    return '"' + "".join(escapes) + '"'


def _dump(text: object, *, ascii_only: bool) -> str:
    return json.dumps(text, separators=(",", ":"), ensure_ascii=ascii_only)


def _object(entries: list[tuple[str, list[str]]], layout: str) -> bytes:
    """``counted_groups`` written from ``entries`` (in that order, repeats kept): compact as
    the service writes it, compact with escapes, or with JSON's default spacing."""
    if layout == "spaced":
        items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in entries]
        return ("{" + ", ".join(items) + "}").encode()
    key = _escaped if layout == "escaped" else lambda k: _dump(k, ascii_only=layout == "ascii")
    text = "{" + ",".join(f"{key(k)}:{_dump(v, ascii_only=layout == 'ascii')}" for k, v in entries)
    return (text + "}").encode("utf-8", "surrogatepass")


def _head(counted: bytes) -> bytes:
    """A whole ``subtallies.json`` around ``counted``, in the canonical shape."""
    head = compact_json({"version": 1, "uuid": "u", "election_hash": "h", "min_group_size": 2,
                         "dimensions": []})  # fmt: skip
    return head[:-1] + b',"counted_groups":' + counted + b"}"


def _as_json_reads(raw: bytes) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in json.loads(raw).items()}


def _same_mapping(index: CountedGroupsIndex, expected: dict[str, tuple[str, ...]]) -> None:
    assert dict(index) == expected and index == expected
    assert len(index) == len(expected)
    assert sorted(index) == sorted(expected) and len(list(index)) == len(expected)
    assert sorted(index.items()) == sorted(expected.items())
    for key, value in expected.items():
        assert key in index and index.get(key) == value and index[key] == value
        if len(key) == 64 and set(key) <= set(HEX):
            assert index.of_key(bytes.fromhex(key)) == value
    for missing in ("ef" * 32, "EF" * 32, "x", ""):
        if missing not in expected:
            assert missing not in index and index.get(missing) is None
            with pytest.raises(KeyError):
                index[missing]


@settings(max_examples=400, deadline=None)
@given(pairs, st.sampled_from(["sorted", "compact", "ascii", "escaped", "spaced"]))
@example([("ab" * 32, ["a"]), ("ab" * 32, ["b"]), ("x", ["1"]), ("x", [])], "compact")
def test_the_same_mapping_as_json_loads(entries: list[tuple[str, list[str]]], layout: str) -> None:
    """Whatever is written, the index is the mapping ``json.loads`` reads, a repeated key
    with its last value; the compact forms are read by the index itself, spacing by json."""
    if layout == "sorted":  # what the service writes: distinct credentials in order
        entries = sorted(dict(entries).items())
    counted = _object(entries, layout)
    expected = _as_json_reads(counted)
    index = CountedGroupsIndex.from_compact_json(counted, 0, len(counted))
    if layout == "spaced" and entries:
        assert index is None
    else:
        assert index is not None
        _same_mapping(index, expected)
    parsed = parse_subtallies(_head(counted)).counted_groups
    assert isinstance(parsed, CountedGroupsIndex)
    _same_mapping(parsed, expected)
    _same_mapping(CountedGroupsIndex.of(expected), expected)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_anything_else_between_the_braces_is_left_to_json(junk: bytes) -> None:
    """Bytes that are not a compact object of lists of strings are never read as one: either
    the index is what json reads, or the index declines (None)."""
    for counted in (b"{" + junk + b"}", b'{"' + b"ab" * 32 + b'":["a"]' + junk + b"}"):
        index = CountedGroupsIndex.from_compact_json(counted, 0, len(counted))
        if index is not None:
            _same_mapping(index, _as_json_reads(counted))


def test_an_index_is_read_from_the_middle_of_a_file_without_a_copy() -> None:
    counted = compact_json({"ab" * 32: ["state:MI"]})
    raw = b"xx" + counted + b"yy"
    index = CountedGroupsIndex.from_compact_json(raw, 2, 2 + len(counted))
    assert index is not None and dict(index) == {"ab" * 32: ("state:MI",)}
    assert CountedGroupsIndex.from_compact_json(raw, 2, 3 + len(counted)) is None
    assert "ab" * 32 not in repr(index) and "1 credentials" in repr(index)


# -- subtallies.json read in two parts refused as when read whole -------------------------


def _whole_subtallies(raw: bytes) -> Subtallies:
    """How ``parse_subtallies`` read the file before: ``json.loads`` of all of it."""
    check = "publication.subtallies"
    obj = _subtallies_object(raw)
    dimensions = _dimensions(obj, _aggregate)
    counted = obj["counted_groups"]
    if not isinstance(counted, dict):
        raise DomainError(check, "counted_groups: expected an object")
    groups = {}
    for k, v in counted.items():
        ids = tuple(_str(x, check, "counted_groups") for x in _list(v, check, "counted_groups"))
        groups[_str(k, check, "counted_groups")] = ids
    return Subtallies(
        1,
        _str(obj["uuid"], check, "uuid"),
        _str(obj["election_hash"], check, "election_hash"),
        _int(obj["min_group_size"], check, "min_group_size"),
        dimensions,
        CountedGroupsIndex.of(groups),
    )


def _outcome(parse: Callable[[bytes], Any], raw: bytes) -> object:
    try:
        return parse(raw)
    except DomainError as error:
        return (error.check, error.detail)


CANONICAL = _head(compact_json({"ab" * 32: ["state:MI"], "cd" * 32: ["state:OH"]}))
SPOILERS = b'"{}[],: \\a0e\xc3\xff'


@settings(max_examples=500, deadline=None)
@given(st.integers(0, len(CANONICAL) - 1), st.sampled_from(list(SPOILERS)), st.booleans())
@example(CANONICAL.index(b"ab"), ord('"'), False)  # a key cut short: not JSON
@example(CANONICAL.index(b'"version"'), ord("x"), True)
@example(CANONICAL.index(b"[") + 1, ord("1"), True)  # an id that is not a string
@example(len(CANONICAL) - 2, ord(" "), True)
def test_a_spoiled_file_is_refused_as_when_read_whole(at: int, byte: int, insert: bool) -> None:
    """One byte changed or added anywhere in a canonical file: read in two parts, the same
    sub-tallies or the same refusal, in the same words, as reading it whole."""
    raw = CANONICAL[:at] + bytes([byte]) + CANONICAL[at + (0 if insert else 1) :]
    assert _outcome(parse_subtallies, raw) == _outcome(_whole_subtallies, raw)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (b',"counted_groups":[]}', "counted_groups: expected an object"),
        (b',"counted_groups":{"a":"b"}}', "counted_groups: expected a list"),
        (b',"counted_groups":{"a":[1]}}', "counted_groups: expected a string"),
        (b',"counted_groups":{"a":["b"]', "is not valid JSON"),
        (b',"counted_groups":{"a":["b"],}}', "is not valid JSON"),
    ],
)
def test_counted_groups_are_checked_as_before(change: bytes, message: str) -> None:
    raw = CANONICAL[: CANONICAL.index(b',"counted_groups":')] + change
    with pytest.raises(DomainError, match=message):
        parse_subtallies(raw)
    assert _outcome(parse_subtallies, raw) == _outcome(_whole_subtallies, raw)


def test_a_file_in_another_encoding_is_read_whole() -> None:
    """json reads a file with a byte-order mark, or in UTF-16, whole; so does the reading in
    two parts (its head is read as UTF-8 only)."""
    text = CANONICAL.decode()
    for raw in (b"\xef\xbb\xbf" + CANONICAL, text.encode("utf-16-be"), text.encode("utf-16")):
        assert _outcome(parse_subtallies, raw) == _outcome(_whole_subtallies, raw)
        assert parse_subtallies(raw) == parse_subtallies(CANONICAL)
        assert parse_subtally_counts(raw) == parse_subtally_counts(CANONICAL)


def test_the_version_is_checked_after_the_file_is_seen_to_be_json() -> None:
    spoiled = CANONICAL.replace(b'"version":1', b'"version":2')
    with pytest.raises(DomainError, match="version 2 is not 1"):
        parse_subtallies(spoiled)
    with pytest.raises(DomainError, match="version 2 is not 1"):
        parse_subtally_counts(spoiled)
    with pytest.raises(DomainError, match="is not valid JSON"):
        parse_subtallies(spoiled[:-2] + b",}}")


# -- the report's reading: counted_groups left unread --------------------------------------


def _counts_read_whole(raw: bytes) -> SubtallyCounts:
    """``parse_subtally_counts`` of the same content in a shape it reads whole (indented)."""
    return parse_subtally_counts(json.dumps(json.loads(raw), indent=1).encode())


aggregates = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=5),
            "label": st.text(max_size=5),
            "groups": st.lists(st.text(max_size=3), min_size=1, max_size=2),
            "ballots": st.integers(0, 99),
            "encrypted_tally": st.just([]),
            "partial_decryptions": st.just([]),
            "result": st.lists(st.lists(st.integers(0, 9), max_size=3), max_size=2),
        }
    ),
    max_size=3,
    unique_by=lambda a: a["id"],
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=5), aggregates), max_size=3, unique_by=lambda d: d[0]),
    st.dictionaries(st.text(max_size=8) | hex_keys, ids, max_size=6),
    st.integers(0, 99),
)
def test_the_counts_are_those_of_a_whole_reading(
    dimensions: list[tuple[str, list[dict[str, Any]]]],
    counted: dict[str, list[str]],
    minimum: int,
) -> None:
    obj = {
        "version": 1,
        "uuid": "u",
        "election_hash": "h",
        "min_group_size": minimum,
        "dimensions": [{"dimension": d, "aggregates": a} for d, a in dimensions],
        "counted_groups": dict(sorted(counted.items())),
    }
    raw = compact_json(obj)
    assert _outcome(parse_subtally_counts, raw) == _outcome(_counts_read_whole, raw)


def test_the_counts_refuse_what_they_refused() -> None:
    head = CANONICAL[: CANONICAL.index(b',"counted_groups":')]
    for tail in (b',"counted_groups":[]}', b',"counted_groups":"x"}'):
        with pytest.raises(DomainError, match="counted_groups: expected an object"):
            parse_subtally_counts(head + tail)
    with pytest.raises(DomainError, match="expected the fields"):
        parse_subtally_counts(head + b"}")
    # counted_groups twice: read whole, as before (the last one is the file's)
    twice = head + b',"counted_groups":[],"counted_groups":{}}'
    assert parse_subtally_counts(twice) == _counts_read_whole(twice)
    # a key found nested in a field before counted_groups is not the file's own
    nested = CANONICAL.replace(b'"dimensions":[]', b'"dimensions":[{"a":1,"counted_groups":{}}]')
    with pytest.raises(DomainError, match=r"dimensions\[0\]: expected dimension"):
        parse_subtally_counts(nested)


def test_the_counts_do_not_parse_counted_groups() -> None:
    """The one difference, by design: the report's reading does not parse counted_groups, so
    text there that is not JSON passes it (the verifier's reading refuses it)."""
    raw = CANONICAL[: CANONICAL.index(b',"counted_groups":')] + b',"counted_groups":{not json}}'
    assert parse_subtally_counts(raw) == parse_subtally_counts(CANONICAL)
    with pytest.raises(DomainError, match="is not valid JSON"):
        parse_subtallies(raw)


# -- memory --------------------------------------------------------------------------------


def test_a_small_fraction_of_a_dictionary_per_voter() -> None:
    """The verifier's ``counted_groups`` of 20,000 credentials in a few hundred combinations
    of groups, measured by tracemalloc (what is kept, and the most held while reading it)
    against the dictionary of text keys it replaced. A size measure, not a timing."""
    n = 20_000
    combinations = [[f"state:S{i % 50}", f"local:L{i}"] for i in range(300)]
    counted = {os.urandom(32).hex(): combinations[i % 300] for i in range(n)}
    raw = _head(compact_json(dict(sorted(counted.items()))))
    del counted

    def measured(build: Callable[[], object]) -> tuple[int, int]:
        """Bytes kept, and the most held on the way, per voter."""
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            kept = build()
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert kept is not None
        return after - before, peak - before

    def dictionary() -> dict[str, tuple[str, ...]]:  # as parse_subtallies kept it before
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        obj = json.loads(raw)["counted_groups"]
        return {k: shared.setdefault(tuple(v), tuple(v)) for k, v in obj.items()}

    kept, peak = measured(lambda: parse_subtallies(raw).counted_groups)
    kept_before, peak_before = measured(dictionary)
    buckets = 4 * (1 << 16)  # the key index's table, the same for any number of voters
    assert kept / n < 60, kept / n
    assert (kept - buckets) / n < 40, (kept - buckets) / n  # what a million voters take each
    assert kept_before / n > 2 * kept / n, (kept_before / n, kept / n)
    assert kept_before - buckets > 3 * (kept - buckets), (kept_before / n, kept / n)
    assert peak < peak_before / 2, (peak / n, peak_before / n)
