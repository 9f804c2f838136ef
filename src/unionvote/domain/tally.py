"""The homomorphic tally and its decryption, and the files that carry them to the trustees.

``ElectionBox`` (a record in a file) and the election service (a record in the database) both
count with :class:`TallyAccumulator` and decrypt with :func:`decrypt_counts`, so the two can
never count differently (specification §"Encrypted tally", §"Election result").

Beside the main tally, the service tallies groups of members (states, locals: see
``domain.groups``). Their encrypted tallies travel to the trustees in a
:class:`DecryptionRequest`; each trustee answers with a :class:`TrusteeDecryption` (one partial
decryption of the main tally, one per group aggregate); the aggregates, their partial
decryptions and their counts are published in ``subtallies.json`` (:class:`Subtallies`), so
anyone can recompute each aggregate from the record's ballots and check its decryption.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from unionvote.crypto.decryption import DiscreteLog, PartialDecryption, combine_factors
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import compact_json, expect_fields, parse_list, parse_small_int
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.fast import Decoded, PointProduct
from unionvote.crypto.fast import internal_format as fast_internal_format
from unionvote.crypto.group import GroupElement
from unionvote.crypto.trustees import TrusteeItem
from unionvote.domain.errors import ElectionError
from unionvote.record.messages import (
    Ballot,
    Question,
    encrypted_tally_to_json,
    parse_encrypted_tally,
)

__all__ = [
    "SUBTALLIES_VERSION",
    "AggregateTally",
    "CountedGroups",
    "DecryptionRequest",
    "DimensionTally",
    "EncryptedTally",
    "PartialTally",
    "StoredBallot",
    "Subtallies",
    "TallyAccumulator",
    "TrusteeDecryption",
    "decrypt_counts",
]

EncryptedTally = list[list[Ciphertext]]
Counts = tuple[tuple[int, ...], ...]

SUBTALLIES_VERSION: Final = 1


class TallyAccumulator:
    """Per answer, the product of the counted ballots' ciphertexts, each raised to its voter's
    weight (none: weight 1); with how many ballots and their total weight.

    Multiplication is commutative, so the order ballots arrive in does not change the tally,
    and accumulators of disjoint sets of ballots combine with :meth:`merge` — which is how the
    tally is split over processes or a cluster: each part's accumulator is pickled back (as
    its encrypted tally so far, a few hundred bytes) and merged.

    :meth:`add` takes a parsed ballot; :meth:`add_stored` a ballot's stored bytes, of a ballot
    checked in full when it was accepted: only its ciphertexts are read, and they are multiplied
    without checking them again (``crypto.fast.PointProduct``). Memory is constant: two running
    products per answer, whatever the number of ballots.
    """

    def __init__(self, questions: Sequence[Question]) -> None:
        self._shape = tuple(q.shape.ciphertexts for q in questions)
        self._reset()

    @classmethod
    def of_shape(cls, ciphertexts: Sequence[int]) -> TallyAccumulator:
        """An accumulator for questions of ``ciphertexts[i]`` ciphertexts each (a verifier
        reading the election's JSON rather than parsed questions)."""
        accumulator = cls.__new__(cls)
        accumulator._shape = tuple(ciphertexts)
        accumulator._reset()
        return accumulator

    def _reset(self) -> None:
        self._alphas = [[PointProduct() for _ in range(n)] for n in self._shape]
        self._betas = [[PointProduct() for _ in range(n)] for n in self._shape]
        # Where :meth:`decode_stored` decodes a ballot: the same points each time.
        self._rooms = [
            [(Decoded.reusable(), Decoded.reusable()) for _ in range(n)] for n in self._shape
        ]
        self.count = 0
        self.total_weight = 0

    @property
    def tally(self) -> EncryptedTally:
        """The encrypted tally so far (one ciphertext per answer of each question)."""
        return [
            [Ciphertext(a.value(), b.value()) for a, b in zip(alphas, betas, strict=True)]
            for alphas, betas in zip(self._alphas, self._betas, strict=True)
        ]

    def add(self, ballot: Ballot, weight: int | None) -> None:
        if len(ballot.answers) != len(self._shape):
            raise ElectionError(
                "tally.shape", f"a ballot has {len(ballot.answers)} answers for {len(self._shape)}"
            )
        self.count += 1
        self.total_weight += 1 if weight is None else weight
        for alphas, betas, answer in zip(self._alphas, self._betas, ballot.answers, strict=True):
            if len(answer.choices) != len(alphas):
                raise ElectionError("tally.shape", "a ballot's answer has the wrong length")
            for a, b, c in zip(alphas, betas, answer.choices, strict=True):
                a.multiply(c.alpha.to_bytes(), weight)
                b.multiply(c.beta.to_bytes(), weight)

    def add_stored(self, raw: bytes, weight: int | None) -> None:
        """Add a ballot from its stored bytes; the ballot was checked in full on entry (its
        ciphertexts are subgroup elements). A ballot of the wrong shape, or whose ciphertexts
        are not curve points, is refused with nothing of it added."""
        self.add_decoded(self.decode_stored(raw, weight))

    def decode_stored(self, raw: bytes, weight: int | None) -> StoredBallot:
        """A ballot's stored bytes decoded for :meth:`add_decoded`, once for any number of
        accumulators of the same questions (a ballot counts in one group of each dimension).

        The points are decoded into this accumulator's own room, the same each time: add
        them before the next ballot is decoded here."""
        try:
            answers = json.loads(raw)["answers"]
            points = [
                [(_element_bytes(c["alpha"]), _element_bytes(c["beta"])) for c in a["choices"]]
                for a in answers
            ]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise ElectionError("tally.ballot", f"a stored ballot is unreadable: {error}") from None
        if [len(row) for row in points] != list(self._shape):
            raise ElectionError("tally.shape", "a stored ballot does not fit the questions")
        try:
            decoded = [
                [(a.decode(alpha, weight, into=room_a), b.decode(beta, weight, into=room_b))
                 for a, b, (alpha, beta), (room_a, room_b) in
                 zip(alphas, betas, row, rooms, strict=True)]
                for alphas, betas, row, rooms in
                zip(self._alphas, self._betas, points, self._rooms, strict=True)
            ]  # fmt: skip
        except CryptoError as error:
            raise ElectionError("tally.ballot", f"a stored ballot: {error}") from None
        return StoredBallot(self._shape, 1 if weight is None else weight, decoded)

    def add_decoded(self, stored: StoredBallot) -> None:
        """Add a ballot from :meth:`decode_stored` (of an accumulator of the same questions)."""
        if stored.shape != self._shape:
            raise ElectionError("tally.shape", "a stored ballot does not fit the questions")
        self.count += 1
        self.total_weight += stored.weight
        for alphas, betas, row in zip(self._alphas, self._betas, stored.points, strict=True):
            for a, b, (alpha, beta) in zip(alphas, betas, row, strict=True):
                a.add(alpha)
                b.add(beta)

    def merge(self, other: TallyAccumulator) -> None:
        """Add ``other``'s ballots (a disjoint set) to this accumulator."""
        if other._shape != self._shape:
            raise ElectionError("tally.shape", "cannot merge tallies of different questions")
        self.count += other.count
        self.total_weight += other.total_weight
        for mine, theirs in ((self._alphas, other._alphas), (self._betas, other._betas)):
            for row, other_row in zip(mine, theirs, strict=True):
                for product, other_product in zip(row, other_row, strict=True):
                    product.merge(other_product)

    def to_partial(self, internal_format: str | None) -> PartialTally:
        """This accumulator, to carry to another process: in libdecaf's internal form when
        ``internal_format`` (the receiver's) is this process's too — free to make and merge —
        else as encoded elements."""
        internal = internal_format is not None and internal_format == fast_internal_format()
        products = [p for row in (*self._alphas, *self._betas) for p in row]
        if internal:
            raw = [p.internal() for p in products]
            if all(r is not None for r in raw):
                return PartialTally(
                    self._shape, self.count, self.total_weight, internal_format,
                    tuple(r or b"" for r in raw),
                )  # fmt: skip
        encoded = tuple(p.value().to_bytes() for p in products)
        return PartialTally(self._shape, self.count, self.total_weight, None, encoded)

    def merge_partial(self, partial: PartialTally) -> None:
        """Add a :meth:`to_partial` of a disjoint set of ballots (made by one of our own
        workers)."""
        if partial.shape != self._shape:
            raise ElectionError("tally.shape", "cannot merge tallies of different questions")
        products = [p for row in (*self._alphas, *self._betas) for p in row]
        if len(partial.products) != len(products):
            raise ElectionError("tally.shape", "a partial tally has the wrong size")
        if partial.internal_format is not None:
            if partial.internal_format != fast_internal_format():
                raise ElectionError(
                    "tally.engine", "a worker's libdecaf is not this machine's; nothing merged"
                )
            for product, raw in zip(products, partial.products, strict=True):
                product.absorb_internal(raw)
        else:
            decoded = [p.decode(raw) for p, raw in zip(products, partial.products, strict=True)]
            for product, element in zip(products, decoded, strict=True):
                product.add(element)
        self.count += partial.count
        self.total_weight += partial.total_weight

    def __getstate__(self) -> dict[str, Any]:
        return {
            "shape": self._shape,
            "count": self.count,
            "total_weight": self.total_weight,
            "tally": [[(c.alpha.to_bytes(), c.beta.to_bytes()) for c in row] for row in self.tally],
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._shape = tuple(state["shape"])
        self._reset()
        self.count, self.total_weight = state["count"], state["total_weight"]
        for alphas, betas, row in zip(self._alphas, self._betas, state["tally"], strict=True):
            for a, b, (alpha, beta) in zip(alphas, betas, row, strict=True):
                a.multiply(GroupElement.from_bytes(alpha).to_bytes())
                b.multiply(GroupElement.from_bytes(beta).to_bytes())


@dataclass(frozen=True, slots=True)
class StoredBallot:
    """A stored ballot's ciphertexts decoded (``TallyAccumulator.decode_stored``), with its
    weight, ready to add to accumulators of the questions of ``shape``."""

    shape: tuple[int, ...]
    weight: int
    points: list[list[tuple[Decoded, Decoded]]]


@dataclass(frozen=True, slots=True)
class PartialTally:
    """A :class:`TallyAccumulator` on its way between processes (see ``to_partial``): the
    products of every answer's α, then of every answer's β."""

    shape: tuple[int, ...]
    count: int
    total_weight: int
    internal_format: str | None
    products: tuple[bytes, ...]


def _element_bytes(text: Any) -> bytes:
    """The RFC 8032 bytes of a group element's Belenios string (64 hex digits, big-endian)."""
    if not isinstance(text, str) or len(text) != 64:
        raise ValueError("a ciphertext is not 64 hexadecimal digits")
    return bytes.fromhex(text)[::-1]


def decrypt_counts(
    trustees: Sequence[TrusteeItem],
    partials: Mapping[int, PartialDecryption],
    tally: EncryptedTally,
    log: DiscreteLog,
) -> Counts:
    """The counts of an encrypted tally: combine the trustees' factors F (Lagrange
    coefficients for threshold shares), then each count is log_g(β / F), bounded by ``log``.

    Too few partial decryptions raise ``ElectionError("decryption.missing")``.
    """
    try:
        factors = combine_factors(trustees, partials, [len(q) for q in tally])
    except CryptoError as error:
        raise ElectionError(error.check, error.detail) from error
    return tuple(
        tuple(log(c.beta / f) for c, f in zip(row, frow, strict=True))
        for row, frow in zip(tally, factors, strict=True)
    )


# -- the files exchanged with the trustees and published ---------------------------------------


def _load(raw: bytes, check: str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ElectionError(check, f"the {what} is not valid JSON ({error})") from error
    except RecursionError:
        raise ElectionError(check, f"the {what} is nested too deeply") from None


def _refusal(check: str, error: CryptoError) -> ElectionError:
    """``check``, with what the inner check found (and its name, when it is another)."""
    detail = error.detail if error.check == check else f"{error.check}: {error.detail}"
    return ElectionError(check, detail)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CryptoError(what, "expected a string")
    return value


@dataclass(frozen=True, slots=True)
class DecryptionRequest:
    """What each trustee decrypts: the main encrypted tally and each group aggregate's.

    JSON: ``{"uuid", "election_hash", "encrypted_tally", "groups": [{"id",
    "encrypted_tally"}], "election"}``, encrypted tallies as in the record; ``election`` is the
    record's election entry (its exact text), so that a trustee can check that the election
    hashes to ``election_hash`` and is encrypted to the key their ceremony made before they
    decrypt anything.
    """

    uuid: str
    election_hash: str
    encrypted_tally: EncryptedTally
    groups: tuple[tuple[str, EncryptedTally], ...] = ()
    election: str | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "uuid": self.uuid,
            "election_hash": self.election_hash,
            "encrypted_tally": encrypted_tally_to_json(self.encrypted_tally),
            "groups": [
                {"id": group_id, "encrypted_tally": encrypted_tally_to_json(tally)}
                for group_id, tally in self.groups
            ],
        }
        if self.election is not None:
            obj["election"] = self.election
        return obj

    def to_bytes(self) -> bytes:
        return compact_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> DecryptionRequest:
        obj = _load(raw, "decryption.request", "decryption request")
        try:
            fields = ["uuid", "election_hash", "encrypted_tally", "groups"]
            election = obj.get("election") if isinstance(obj, dict) else None
            expect_fields(
                obj, "decryption.request", [*fields, "election"] if election is not None else fields
            )
            groups = []
            for item in parse_list(obj["groups"], "decryption.request"):
                expect_fields(item, "decryption.request", ["id", "encrypted_tally"])
                groups.append(
                    (
                        _text(item["id"], "decryption.request"),
                        parse_encrypted_tally(item["encrypted_tally"]),
                    )
                )
            request = cls(
                _text(obj["uuid"], "decryption.request"),
                _text(obj["election_hash"], "decryption.request"),
                parse_encrypted_tally(obj["encrypted_tally"]),
                tuple(groups),
                None if election is None else _text(election, "decryption.request"),
            )
        except CryptoError as error:
            raise _refusal("decryption.request", error) from error
        if len({group_id for group_id, _ in groups}) != len(groups):
            raise ElectionError("decryption.request", "a group is listed twice")
        return request


@dataclass(frozen=True, slots=True)
class TrusteeDecryption:
    """A trustee's answer to a :class:`DecryptionRequest`: its owner number in the record,
    its partial decryption of the main tally and one per group aggregate (by id).

    JSON: ``{"owner": n, "tally": <partial decryption>, "groups": {"<id>": <partial
    decryption>}}``.
    """

    owner: int
    tally: PartialDecryption
    groups: Mapping[str, PartialDecryption] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "tally": self.tally.to_json(),
            "groups": {group_id: p.to_json() for group_id, p in sorted(self.groups.items())},
        }

    def to_bytes(self) -> bytes:
        return compact_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> TrusteeDecryption:
        obj = _load(raw, "decryption.malformed", "partial decryption file")
        try:
            expect_fields(obj, "decryption.malformed", ["owner", "tally", "groups"])
            owner = parse_small_int(obj["owner"], "decryption.malformed")
            groups = obj["groups"]
            if not isinstance(groups, dict):
                raise CryptoError("decryption.malformed", "groups is not an object")
            return cls(
                owner,
                PartialDecryption.from_json(obj["tally"]),
                {
                    _text(group_id, "decryption.malformed"): PartialDecryption.from_json(p)
                    for group_id, p in groups.items()
                },
            )
        except CryptoError as error:
            raise _refusal("decryption.malformed", error) from error


@dataclass(frozen=True, slots=True)
class AggregateTally:
    """One published aggregate of a dimension: the groups merged in it, its counted ballots,
    its encrypted tally, the trustees' partial decryptions (by owner) and, once decrypted,
    its counts (one row per question, blank count first, as the record's result)."""

    id: str
    label: str
    groups: tuple[str, ...]
    ballots: int
    encrypted_tally: EncryptedTally
    partial_decryptions: Mapping[int, PartialDecryption] = field(default_factory=dict)
    result: Counts | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "groups": list(self.groups),
            "ballots": self.ballots,
            "encrypted_tally": encrypted_tally_to_json(self.encrypted_tally),
            "partial_decryptions": [
                {"owner": owner, "decryption": p.to_json()}
                for owner, p in sorted(self.partial_decryptions.items())
            ],
        }
        if self.result is not None:
            obj["result"] = [list(row) for row in self.result]
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> AggregateTally:
        what = "subtallies.aggregate"
        expect_fields(
            obj,
            what,
            ["id", "label", "groups", "ballots", "encrypted_tally", "partial_decryptions"],
            ["result"],
        )
        partials: dict[int, PartialDecryption] = {}
        for item in parse_list(obj["partial_decryptions"], what):
            expect_fields(item, what, ["owner", "decryption"])
            partials[parse_small_int(item["owner"], what)] = PartialDecryption.from_json(
                item["decryption"]
            )
        result = None
        if "result" in obj:
            result = tuple(
                tuple(parse_small_int(n, what) for n in parse_list(row, what))
                for row in parse_list(obj["result"], what)
            )
        return cls(
            _text(obj["id"], what),
            _text(obj["label"], what),
            tuple(_text(g, what) for g in parse_list(obj["groups"], what)),
            parse_small_int(obj["ballots"], what),
            parse_encrypted_tally(obj["encrypted_tally"]),
            partials,
            result,
        )


@dataclass(frozen=True, slots=True)
class DimensionTally:
    """The aggregates of one dimension (``state``, ``local``)."""

    dimension: str
    aggregates: tuple[AggregateTally, ...]

    def to_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "aggregates": [a.to_json() for a in self.aggregates]}

    @classmethod
    def from_json(cls, obj: Any) -> DimensionTally:
        what = "subtallies.dimension"
        expect_fields(obj, what, ["dimension", "aggregates"])
        return cls(
            _text(obj["dimension"], what),
            tuple(AggregateTally.from_json(a) for a in parse_list(obj["aggregates"], what)),
        )


class CountedGroups(Mapping[str, tuple[str, ...]]):
    """``counted_groups``: each counted credential → the ids of its aggregates, kept as its
    canonical JSON (credentials in order, compact) and read only when looked into.

    A million members make this object some hundred megabytes of JSON: the service's working
    copy of the sub-tallies is read and written again at each step of the decryption, which
    never looks into it, and would otherwise parse and write it whole each time. Written from
    a mapping with one encoding per combination of groups (a million voters fall in a few
    thousand)."""

    __slots__ = ("_parsed", "json")

    def __init__(self, json_bytes: bytes) -> None:
        self.json = json_bytes
        self._parsed: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def of(cls, groups: Mapping[str, tuple[str, ...]]) -> CountedGroups:
        """The canonical JSON of ``groups``: the bytes of ``compact_json`` of the object with
        the credentials sorted, each with the list of its ids."""
        if isinstance(groups, CountedGroups):
            return groups
        out = io.BytesIO()
        out.write(b"{")
        encoded: dict[tuple[str, ...], bytes] = {}
        separator = b""
        for credential in sorted(groups):
            ids = groups[credential]
            value = encoded.get(ids)
            if value is None:
                value = encoded[ids] = compact_json(list(ids))
            key = (
                b'"%b"' % credential.encode()
                if _PLAIN_KEY.fullmatch(credential)
                else compact_json(credential)
            )
            out.write(b"%b%b:%b" % (separator, key, value))
            separator = b","
        out.write(b"}")
        return cls(out.getvalue())

    def _mapping(self) -> dict[str, tuple[str, ...]]:
        if self._parsed is None:
            what = "subtallies"
            obj = _load(self.json, what, "subtallies file")
            if not isinstance(obj, dict):
                raise ElectionError(what, "counted_groups is not an object")
            # One tuple per distinct combination of groups, shared by every credential in it.
            shared: dict[tuple[str, ...], tuple[str, ...]] = {}
            parsed = {}
            try:
                for credential, listed in obj.items():
                    ids = tuple(_text(i, what) for i in parse_list(listed, what))
                    parsed[_text(credential, what)] = shared.setdefault(ids, ids)
            except CryptoError as error:
                raise _refusal(what, error) from error
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, credential: str) -> tuple[str, ...]:
        return self._mapping()[credential]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return f"CountedGroups({len(self.json)} bytes of JSON)"


_PLAIN_KEY: Final = re.compile(r"[0-9A-Za-z_+/=.:-]*")  # written the same with or without json
_GROUPS_KEY: Final = b',"counted_groups":'


@dataclass(frozen=True, slots=True)
class Subtallies:
    """``subtallies.json``: the group aggregates of an election, published beside its record.

    ``dimensions`` lists only the dimensions that show at least one aggregate (a dimension of
    the process's report rules that is missing could show no group without exposing a small
    one). ``counted_groups`` maps every counted credential (its public key as in the record)
    to the ids of its aggregates, one per listed dimension: with the record's ballots, anyone
    can recompute every aggregate's encrypted tally. Before the result is computed the same
    structure, without ``result``, is the service's working copy.
    """

    uuid: str
    election_hash: str
    min_group_size: int
    dimensions: tuple[DimensionTally, ...]
    counted_groups: Mapping[str, tuple[str, ...]]

    @property
    def aggregates(self) -> Iterable[AggregateTally]:
        for dimension in self.dimensions:
            yield from dimension.aggregates

    def _head_json(self) -> dict[str, Any]:
        return {
            "version": SUBTALLIES_VERSION,
            "uuid": self.uuid,
            "election_hash": self.election_hash,
            "min_group_size": self.min_group_size,
            "dimensions": [d.to_json() for d in self.dimensions],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self._head_json(),
            "counted_groups": {
                credential: list(ids) for credential, ids in sorted(self.counted_groups.items())
            },
        }

    def to_bytes(self) -> bytes:
        """Canonical compact JSON, as published (``counted_groups`` last, its JSON as kept)."""
        head = compact_json(self._head_json())
        groups = CountedGroups.of(self.counted_groups).json
        return b"".join((head[:-1], _GROUPS_KEY, groups, b"}"))  # one copy of the groups

    @classmethod
    def from_bytes(cls, raw: bytes) -> Subtallies:
        """Read the file strictly but for ``counted_groups``, kept as its JSON (read when
        looked into; ``unionvote verify`` reads the published file whole). A file not in the
        canonical form :meth:`to_bytes` writes is read whole."""
        at = raw.find(_GROUPS_KEY)
        groups = raw[at + len(_GROUPS_KEY) : -1] if at > 0 else b""
        if groups.startswith(b"{") and raw.endswith(b"}}"):
            head = raw[:at] + b"}"
            return cls._from_obj(
                _load(head, "subtallies", "subtallies file"), CountedGroups(groups)
            )
        return cls._from_obj(_load(raw, "subtallies", "subtallies file"), None)

    @classmethod
    def _from_obj(cls, obj: Any, groups: CountedGroups | None) -> Subtallies:
        what = "subtallies"
        fields = ["version", "uuid", "election_hash", "min_group_size", "dimensions"]
        try:
            expect_fields(obj, what, fields if groups is not None else [*fields, "counted_groups"])
            if obj["version"] != SUBTALLIES_VERSION:
                raise CryptoError(what, f"version {obj['version']!r}, not {SUBTALLIES_VERSION}")
            if groups is None:
                counted = obj["counted_groups"]
                if not isinstance(counted, dict):
                    raise CryptoError(what, "counted_groups is not an object")
                groups = CountedGroups(compact_json(counted))
                groups._mapping()  # checked now, as the rest of the file
            return cls(
                _text(obj["uuid"], what),
                _text(obj["election_hash"], what),
                parse_small_int(obj["min_group_size"], what),
                tuple(DimensionTally.from_json(d) for d in parse_list(obj["dimensions"], what)),
                groups,
            )
        except CryptoError as error:
            raise _refusal(what, error) from error
