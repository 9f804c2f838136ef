"""A trustee's own steps (``domain/trustee_work.py``) with the server's checks in between:
a 2-of-3 ceremony plus the server's key, partial decryptions that combine to the counts, and
every refusal: a forged upload, a tampered routed input, a list without our key, a request for
another election, a damaged state file."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.crypto.decryption import DiscreteLog, PartialDecryption, combine_factors
from unionvote.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext, encrypt
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.group import GroupElement
from unionvote.crypto.trustees import (
    PedersenTrustees,
    SingleTrustee,
    TrusteeItem,
    election_public_key,
    key_owners,
)
from unionvote.domain.ceremony import run_threshold_ceremony, single_trustee
from unionvote.domain.errors import DomainError
from unionvote.domain.trustee_work import (
    TrusteeState,
    assemble_group,
    finish,
    new_certificate,
    new_single_key,
    partial_decrypt,
    polynomial_message,
    read_certificate,
    read_polynomial,
    read_single_key,
    read_verification_key,
    routed_vinputs,
    trustees_fingerprint,
    trustees_json,
    verification_key,
)
from unionvote.record.messages import Election, Question, encrypted_tally_to_json

QUESTIONS = (Question("Endorse?", ("Biden", "Trump", "Kennedy"), 1, 1),)


@dataclass(frozen=True)
class Ceremony:
    server: TrusteeState
    members: tuple[TrusteeState, ...]
    items: tuple[TrusteeItem, ...]
    public: bytes


def run_ceremony(size: int = 3, threshold: int = 2, seed: int = 5) -> Ceremony:
    """Every trustee's steps, with the server's checks (``read_*``) between them."""
    rng = random.Random(seed).randrange
    server, server_public = new_single_key("server", rng=rng)
    started = [
        new_certificate(f"T{i}", size=size, threshold=threshold, index=i, rng=rng)
        for i in range(1, size + 1)
    ]
    certs = [
        read_certificate(cert, size=size, threshold=threshold, index=i)
        for i, (_, cert) in enumerate(started, start=1)
    ]
    certs_file = compact_json([c.to_json() for c in certs])
    stepped = [polynomial_message(state, certs_file, rng=rng) for state, _ in started]
    polynomials = [
        read_polynomial(message, certificates=certs, threshold=threshold, index=i)
        for i, (_, message) in enumerate(stepped, start=1)
    ]
    vinputs = routed_vinputs(certs, threshold, polynomials)
    shared = [
        verification_key(state, compact_json(v.to_json()), rng=rng)
        for (state, _), v in zip(stepped, vinputs, strict=True)
    ]
    keys = [
        read_verification_key(
            key, certificates=certs, threshold=threshold, vinput=vinputs[i - 1], index=i
        )
        for i, (_, key) in enumerate(shared, start=1)
    ]
    items = (read_single_key(server_public), assemble_group(certs, threshold, vinputs[0], keys))
    public = compact_json(trustees_json(items))
    return Ceremony(
        finish(server, public), tuple(finish(state, public) for state, _ in shared), items, public
    )


@cache
def ceremony() -> Ceremony:
    return run_ceremony()


def election_for(key: GroupElement, uuid: str = "TrusteeWork1234") -> bytes:
    return compact_json(Election(uuid, "Endorsement", "", key, QUESTIONS).to_json())


def encrypted_tally(votes: list[int], key: GroupElement, seed: int = 1) -> list[list[Ciphertext]]:
    """The product of one encrypted 0/1 per answer per voter, as the tally is made."""
    rng = random.Random(seed).randrange
    row = [ZERO_CIPHERTEXT] * len(QUESTIONS[0].answers)
    for vote in votes:
        for j in range(len(row)):
            row[j] = row[j] * encrypt(int(j == vote), key, rng=rng)[0]
    return [row]


def request_for(
    election: bytes,
    tally: list[list[Ciphertext]],
    groups: dict[str, list[list[Ciphertext]]] | None = None,
    *,
    carry_election: bool = True,
) -> bytes:
    obj = {
        "uuid": json.loads(election)["uuid"],
        "election_hash": sha256_b64(election),
        "encrypted_tally": encrypted_tally_to_json(tally),
        "groups": [
            {"id": k, "encrypted_tally": encrypted_tally_to_json(v)}
            for k, v in (groups or {}).items()
        ],
    }
    if carry_election:
        obj["election"] = election.decode()
    return compact_json(obj)


def counts(
    items: tuple[TrusteeItem, ...],
    partials: dict[int, PartialDecryption],
    tally: list[list[Ciphertext]],
    bound: int,
) -> list[int]:
    factors = combine_factors(items, partials, [len(q) for q in tally])
    log = DiscreteLog(bound)
    return [log(c.beta / f) for c, f in zip(tally[0], factors[0], strict=True)]


# -- the ceremony -------------------------------------------------------------------------------


def test_each_trustee_knows_its_owner_number_and_the_election_key() -> None:
    c = ceremony()
    assert isinstance(c.items[0], SingleTrustee) and isinstance(c.items[1], PedersenTrustees)
    assert [c.server.owner, *(m.owner for m in c.members)] == [1, 2, 3, 4]
    owners = key_owners(c.items)
    for state in (c.server, *c.members):
        assert state.step == "finished"
        assert state.public_key is not None
        assert owners[state.owner - 1][2] == state.public_key.public_key  # type: ignore[operator]
        assert state.election_public_key == c.server.election_public_key
        assert trustees_fingerprint(state.trustees) == trustees_fingerprint(c.items)


def test_state_file_round_trips_and_never_shows_its_secrets() -> None:
    c = ceremony()
    for state in (c.server, *c.members):
        again = TrusteeState.from_bytes(state.to_bytes())
        assert again.to_bytes() == state.to_bytes()
        secret = json.loads(state.to_bytes())["secret"]
        assert secret["key"] not in repr(state) and "redacted" in repr(state)
        assert all(value not in repr(state) for value in secret.values())


def test_intermediate_states_round_trip_through_their_files() -> None:
    state, cert = new_certificate("Ann", size=3, threshold=2, index=2)
    again = TrusteeState.from_bytes(state.to_bytes())
    assert again.step == "certificate" and again.index == 2
    assert again.certificate is not None and compact_json(again.certificate.to_json()) == cert


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        (lambda o: o.update(format="other/1"), "not a trustee state file"),
        (lambda o: o["secret"].update(key="12x"), "damaged"),
        (lambda o: o["secret"].update(key=str(int(o["secret"]["key"]) + 1)), "does not match"),
        (lambda o: o.pop("owner"), "go together"),
    ],
)
def test_a_damaged_state_file_is_refused(mutation, reason: str) -> None:  # type: ignore[no-untyped-def]
    obj = json.loads(ceremony().members[0].to_bytes())
    mutation(obj)
    with pytest.raises(DomainError, match=reason):
        TrusteeState.from_bytes(json.dumps(obj).encode())
    with pytest.raises(DomainError, match="not JSON"):
        TrusteeState.from_bytes(b"{")


# -- partial decryptions ------------------------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(
    votes=st.lists(st.integers(0, 2), max_size=12),
    pair=st.sampled_from(list(itertools.combinations(range(3), 2))),
)
def test_any_two_of_three_plus_the_server_give_the_counts(
    votes: list[int], pair: tuple[int, int]
) -> None:
    c = ceremony()
    key = c.server.election_public_key
    election = election_for(key)
    tally = encrypted_tally(votes, key)
    half = encrypted_tally(votes[: len(votes) // 2], key, seed=2)
    request = request_for(election, tally, {"first-half": half})
    partials: dict[int, PartialDecryption] = {}
    halves: dict[int, PartialDecryption] = {}
    for state in (c.server, *(c.members[i] for i in pair)):
        answer = json.loads(partial_decrypt(state, request))
        assert answer["owner"] == state.owner
        partial = PartialDecryption.from_json(answer["tally"])
        owner_key = key_owners(c.items)[state.owner - 1][2]  # type: ignore[operator]
        partial.check(sha256_b64(election), owner_key, tally)
        partials[answer["owner"]] = partial
        halves[answer["owner"]] = PartialDecryption.from_json(answer["groups"]["first-half"])
    expected = [votes.count(j) for j in range(3)]
    assert counts(c.items, partials, tally, len(votes)) == expected
    first = votes[: len(votes) // 2]
    assert counts(c.items, halves, half, len(first)) == [first.count(j) for j in range(3)]


def test_one_member_and_the_server_are_not_enough() -> None:
    c = ceremony()
    key = c.server.election_public_key
    election = election_for(key)
    tally = encrypted_tally([0, 1], key)
    request = request_for(election, tally)
    partials = {
        s.owner: PartialDecryption.from_json(json.loads(partial_decrypt(s, request))["tally"])
        for s in (c.server, c.members[0])
    }
    with pytest.raises(Exception, match="2 are needed"):
        counts(c.items, partials, tally, 2)  # type: ignore[arg-type]


def test_the_answer_is_canonical_with_groups_sorted() -> None:
    c = ceremony()
    key = c.server.election_public_key
    election = election_for(key)
    tally = encrypted_tally([1], key)
    raw = partial_decrypt(c.members[1], request_for(election, tally, {"b": tally, "a": tally}))
    answer = json.loads(raw)
    assert compact_json(answer) == raw
    assert list(answer) == ["owner", "tally", "groups"] and list(answer["groups"]) == ["a", "b"]


def test_a_request_for_another_election_is_refused() -> None:
    c = ceremony()
    key = c.server.election_public_key
    other_items = [single_trustee()[0], run_threshold_ceremony(3, 2)[0]]
    other_key = election_public_key(other_items)
    other = election_for(other_key, uuid="AnotherVote12345")
    tally = encrypted_tally([0], other_key)
    with pytest.raises(DomainError, match="refusing to decrypt for another election"):
        partial_decrypt(c.members[0], request_for(other, tally))
    ours = election_for(key)
    # The request's hash names another election than the one it carries.
    obj = json.loads(request_for(ours, encrypted_tally([0], key)))
    obj["election_hash"] = sha256_b64(other)
    with pytest.raises(DomainError, match="does not have the request's election hash"):
        partial_decrypt(c.members[0], compact_json(obj))
    obj = json.loads(request_for(ours, encrypted_tally([0], key)))
    obj["uuid"] = "AnotherVote12345"
    with pytest.raises(DomainError, match="names election AnotherVote12345"):
        partial_decrypt(c.members[0], compact_json(obj))
    # Without the election's definition there is nothing to check the hash against.
    bare = request_for(ours, encrypted_tally([0], key), carry_election=False)
    with pytest.raises(DomainError, match="does not carry the election"):
        partial_decrypt(c.members[0], bare)
    assert json.loads(partial_decrypt(c.members[0], bare, election=ours))["owner"] == 2


def test_a_malformed_request_is_refused() -> None:
    c = ceremony()
    key = c.server.election_public_key
    election = election_for(key)
    good = json.loads(request_for(election, encrypted_tally([0], key)))
    for change, reason in [
        ({"encrypted_tally": [good["encrypted_tally"][0][:2]]}, "shape"),
        ({"groups": [{"id": "a", "encrypted_tally": good["encrypted_tally"]}] * 2}, "share an id"),
        ({"groups": [{"encrypted_tally": good["encrypted_tally"]}]}, "string id"),
    ]:
        with pytest.raises(DomainError, match=reason):
            partial_decrypt(c.members[0], compact_json({**good, **change}))
    unfinished, _ = new_single_key("new")
    with pytest.raises(DomainError, match="finish the ceremony first"):
        partial_decrypt(unfinished, compact_json(good))


# -- refusals during the ceremony -----------------------------------------------------------------


def _tamper(raw: bytes, path: list[str | int], value: object) -> bytes:
    obj = json.loads(raw)
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return compact_json(obj)


def test_the_server_refuses_forged_or_misplaced_uploads() -> None:
    rng = random.Random(9).randrange
    started = [new_certificate(f"T{i}", size=3, threshold=2, index=i, rng=rng) for i in (1, 2, 3)]
    cert1 = started[0][1]
    with pytest.raises(DomainError, match="expects trustee 2 of 3"):
        read_certificate(cert1, size=3, threshold=2, index=2)
    forged = _tamper(
        cert1, ["signature", "response"], json.loads(started[1][1])["signature"]["response"]
    )
    with pytest.raises(DomainError, match=r"ceremony\.certificate"):
        read_certificate(forged, size=3, threshold=2, index=1)
    certs = [
        read_certificate(c, size=3, threshold=2, index=i) for i, (_, c) in enumerate(started, 1)
    ]
    certs_file = compact_json([c.to_json() for c in certs])
    _, message = polynomial_message(started[0][0], certs_file, rng=rng)
    with pytest.raises(DomainError, match="trustee 1's polynomial, not 2's"):
        read_polynomial(message, certificates=certs, threshold=2, index=2)
    other = polynomial_message(started[1][0], certs_file, rng=rng)[1]
    swapped = _tamper(message, ["coefexps"], json.loads(other)["coefexps"])
    with pytest.raises(DomainError, match=r"ceremony\.polynomial"):
        read_polynomial(swapped, certificates=certs, threshold=2, index=1)
    short = _tamper(message, ["sealed_shares"], json.loads(message)["sealed_shares"][:2])
    with pytest.raises(DomainError, match="2 sealed shares for 3 trustees"):
        read_polynomial(short, certificates=certs, threshold=2, index=1)
    with pytest.raises(DomainError, match="not JSON"):
        read_single_key(b"nope")


def test_a_trustee_refuses_certificates_that_are_not_theirs() -> None:
    rng = random.Random(11).randrange
    started = [new_certificate(f"T{i}", size=3, threshold=2, index=i, rng=rng) for i in (1, 2, 3)]
    others = [
        new_certificate("X", size=3, threshold=2, index=1, rng=rng)[1],
        *(c for _, c in started[1:]),
    ]
    with pytest.raises(DomainError, match="certificate number 1 is not yours"):
        polynomial_message(started[0][0], b"[" + b",".join(others) + b"]", rng=rng)
    with pytest.raises(DomainError, match="2 certificates for 3 trustees"):
        polynomial_message(started[0][0], b"[" + b",".join(others[:2]) + b"]", rng=rng)


def test_a_trustee_refuses_a_share_that_does_not_match_its_commitments() -> None:
    rng = random.Random(13).randrange
    started = [new_certificate(f"T{i}", size=3, threshold=2, index=i, rng=rng) for i in (1, 2, 3)]
    certs_file = compact_json([json.loads(c) for _, c in started])
    stepped = [polynomial_message(s, certs_file, rng=rng) for s, _ in started]
    certs = [
        read_certificate(c, size=3, threshold=2, index=i) for i, (_, c) in enumerate(started, 1)
    ]
    polynomials = [
        read_polynomial(m, certificates=certs, threshold=2, index=i)
        for i, (_, m) in enumerate(stepped, 1)
    ]
    vinputs = [json.loads(compact_json(v.to_json())) for v in routed_vinputs(certs, 2, polynomials)]
    # The server hands trustee 1 the share sealed for trustee 2.
    vinputs[0]["sealed_shares"][1] = vinputs[1]["sealed_shares"][1]
    with pytest.raises(DomainError, match=r"ceremony\.vinput"):
        verification_key(stepped[0][0], compact_json(vinputs[0]), rng=rng)
    # An honest share, but the public key sent is trustee 2's: the server refuses it.
    _, key2 = verification_key(stepped[1][0], compact_json(vinputs[1]), rng=rng)
    honest = routed_vinputs(certs, 2, polynomials)
    with pytest.raises(DomainError, match=r"ceremony\.verification_key"):
        read_verification_key(key2, certificates=certs, threshold=2, vinput=honest[0], index=1)


def test_finish_refuses_a_list_without_our_key() -> None:
    c = ceremony()
    other = compact_json(trustees_json([single_trustee()[0], run_threshold_ceremony(3, 2)[0]]))
    unfinished = TrusteeState.from_bytes(c.members[0].to_bytes())
    with pytest.raises(DomainError, match="already belongs to the trustee list"):
        finish(unfinished, other)
    fresh, _ = new_single_key("fresh")
    with pytest.raises(DomainError, match="your key is not in this trustee list"):
        finish(fresh, other)
    assert finish(unfinished, c.public).owner == 2  # the same list again is fine
    with pytest.raises(DomainError, match=r"trustee\.list"):
        finish(fresh, _tamper(c.public, [0, 1, "pok", "response"], "1"))
