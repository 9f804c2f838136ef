"""What a trustee's own machine computes, and the server's checks on what trustees send.

A trustee keeps one private file, their *state* (:class:`TrusteeState`): the ceremony keys or
the private key, and, once the ceremony is over, the public trustee list of the election they
hold a key for. Each step below reads the state and a message routed by the server and returns
the next state and the message to send back; nothing here touches a file or the network, so the
same steps run in ``unionvote trustee …``, in tests and in a one-machine rehearsal.

The Pedersen steps follow ``crypto.threshold`` (Belenios's §"Threshold decryption"):

1. :func:`new_certificate`: fresh ceremony keys and the signed certificate (``cert``);
2. :func:`polynomial_message`: from every certificate, a random polynomial, its signed
   commitments and the shares sealed for each trustee. The trustee's own share is sealed to
   themselves, so no polynomial coefficient is ever kept on disk;
3. :func:`verification_key`: from the routed ``vinput``, the key share S_j (kept in the state)
   and its public part g^{S_j}, proven and signed;
4. :func:`finish`: the final public trustee list, checked in full, with the trustee's own key
   found in it: from then on the state knows its owner number and the election key;
5. :func:`partial_decrypt`: the trustee's decryption factors for the totals of one election,
   refused unless the election is the one the ceremony made the key for.

The ``read_*`` functions are the server's side: each parses what a trustee uploaded and runs
every check the protocol allows on it before anything is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from unionvote.crypto.decryption import PartialDecryption
from unionvote.crypto.elgamal import Ciphertext
from unionvote.crypto.encoding import compact_json, sha256_b64
from unionvote.crypto.errors import CryptoError
from unionvote.crypto.group import GroupElement, Rng
from unionvote.crypto.proofs import verify_message_signature
from unionvote.crypto.threshold import (
    CeremonyKeys,
    PolynomialMessage,
    Vinput,
    assemble_pedersen,
    check_voutput,
    make_polynomial,
    make_voutput,
    route_vinputs,
)
from unionvote.crypto.trustees import (
    CertKeys,
    PedersenTrustees,
    SignedMessage,
    SingleTrustee,
    TrusteeItem,
    TrusteePrivateKey,
    TrusteePublicKey,
    certs_signature_message,
    election_public_key,
    key_owners,
    parse_trustees,
    read_coefexps,
)
from unionvote.domain.errors import DomainError
from unionvote.record.errors import RecordError
from unionvote.record.messages import Election, parse_encrypted_tally, parse_entry

__all__ = [
    "STATE_FORMAT",
    "TrusteeState",
    "assemble_group",
    "finish",
    "new_certificate",
    "new_single_key",
    "partial_decrypt",
    "polynomial_message",
    "read_certificate",
    "read_certificates",
    "read_polynomial",
    "read_single_key",
    "read_trustee_list",
    "read_verification_key",
    "routed_vinputs",
    "trustees_fingerprint",
    "trustees_json",
    "verification_key",
]

STATE_FORMAT: Final = "unionvote-trustee-state/1"


@dataclass(frozen=True, eq=False, repr=False)
class TrusteeState:
    """A trustee's private state, kept in a file on their own machine only.

    ``kind`` is ``single`` (one key of their own) or ``pedersen`` (a member of a threshold
    group: number ``index`` of ``size``, any ``threshold`` of whom decrypt). ``private_key`` is
    the single key, or the Pedersen key share once step 3 is done; ``public_key`` is its public
    part. ``trustees`` and ``owner`` are set by :func:`finish`. The repr never shows a secret.
    """

    kind: str
    name: str
    private_key: TrusteePrivateKey | None = None
    ceremony_keys: CeremonyKeys | None = None
    size: int = 1
    threshold: int = 1
    index: int = 1
    certificate: SignedMessage | None = None
    certificates: tuple[SignedMessage, ...] = ()
    public_key: TrusteePublicKey | None = None
    trustees: tuple[TrusteeItem, ...] = ()
    owner: int | None = None

    @property
    def step(self) -> str:
        """The last step done: ``certificate``, ``polynomial``, ``verification-key``, ``key``
        (a single trustee's) or ``finished``."""
        if self.owner is not None:
            return "finished"
        if self.kind == "single":
            return "key"
        if self.private_key is not None:
            return "verification-key"
        return "polynomial" if self.certificates else "certificate"

    @property
    def election_public_key(self) -> GroupElement:
        """The key every ballot of this trustee's election is encrypted to (once finished)."""
        if not self.trustees:
            raise DomainError(
                "trustee.state", "the ceremony is not finished in this state file (run `finish`)"
            )
        return election_public_key(self.trustees)

    def __repr__(self) -> str:
        return (
            f"TrusteeState(kind={self.kind!r}, name={self.name!r}, step={self.step!r}, "
            "<private keys redacted>)"
        )

    def to_bytes(self) -> bytes:
        """The state file's content (indented JSON). It holds secrets: write it 0600."""
        obj: dict[str, Any] = {"format": STATE_FORMAT, "kind": self.kind, "name": self.name}
        if self.kind == "pedersen":
            obj["ceremony"] = {"size": self.size, "threshold": self.threshold, "index": self.index}
        secret: dict[str, str] = {}
        if self.ceremony_keys is not None:
            secret["seed"] = self.ceremony_keys.seed
        if self.private_key is not None:
            secret["key"] = self.private_key.to_json()
        obj["secret"] = secret
        if self.certificate is not None:
            obj["certificate"] = self.certificate.to_json()
        if self.certificates:
            obj["certificates"] = [c.to_json() for c in self.certificates]
        if self.public_key is not None:
            obj["public_key"] = self.public_key.to_json()
        if self.owner is not None:
            obj["trustees"] = trustees_json(self.trustees)
            obj["owner"] = self.owner
        return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> TrusteeState:
        """Read a state file; anything malformed is refused, saying what is wrong."""
        obj = _json(raw, "trustee.state")
        if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT:
            raise DomainError("trustee.state", f"not a trustee state file ({STATE_FORMAT})")
        try:
            return cls._from_json(obj)
        except (KeyError, TypeError, ValueError, CryptoError) as error:
            raise DomainError("trustee.state", f"the state file is damaged ({error})") from error

    @classmethod
    def _from_json(cls, obj: dict[str, Any]) -> TrusteeState:
        kind, name, secret = obj["kind"], obj["name"], obj["secret"]
        if kind not in ("single", "pedersen") or not isinstance(name, str):
            raise ValueError(f"unknown kind {kind!r}")
        ceremony = obj.get("ceremony", {"size": 1, "threshold": 1, "index": 1})
        key = secret.get("key")
        state = cls(
            kind=kind,
            name=name,
            private_key=None if key is None else TrusteePrivateKey(_decimal(key)),
            ceremony_keys=CeremonyKeys(secret["seed"]) if "seed" in secret else None,
            size=_small(ceremony["size"]),
            threshold=_small(ceremony["threshold"]),
            index=_small(ceremony["index"]),
            certificate=(
                SignedMessage.from_json(obj["certificate"]) if "certificate" in obj else None
            ),
            certificates=tuple(SignedMessage.from_json(c) for c in obj.get("certificates", [])),
            public_key=(
                TrusteePublicKey.from_json(obj["public_key"]) if "public_key" in obj else None
            ),
            trustees=tuple(parse_trustees(obj["trustees"])) if "trustees" in obj else (),
            owner=_small(obj["owner"]) if "owner" in obj else None,
        )
        if kind == "pedersen" and (state.ceremony_keys is None or state.certificate is None):
            raise ValueError("a Pedersen trustee's state holds ceremony keys and a certificate")
        if kind == "single" and (state.private_key is None or state.public_key is None):
            raise ValueError("a single trustee's state holds a key pair")
        if (state.private_key is None) != (state.public_key is None) or (
            state.private_key is not None
            and state.public_key is not None
            and state.private_key.public_key != state.public_key.public_key
        ):
            raise ValueError("the private key does not match the public key")
        if (state.owner is None) != (not state.trustees):
            raise ValueError("the trustee list and the owner number go together")
        return state


def _decimal(text: object) -> int:
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()):
        raise ValueError("a private key is written in decimal")
    return int(text)


def _small(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"expected a positive number, got {value!r}")
    return value


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise DomainError(what, f"not JSON ({error})") from error
    except RecursionError:
        raise DomainError(what, "JSON nested too deeply") from None


def _refused(check: str, error: CryptoError | RecordError, what: str = "") -> DomainError:
    prefix = f"{what}: " if what else ""
    detail = error.detail if error.check == check else f"{error.check}: {error.detail}"
    return DomainError(check, f"{prefix}{detail}")


# -- a single trustee -----------------------------------------------------------------------------


def new_single_key(name: str, *, rng: Rng = secrets.randbelow) -> tuple[TrusteeState, bytes]:
    """A ``Single`` trustee's key: the private state, and the public ``["Single", key]`` item
    (compact JSON) to hand to the committee."""
    private_key = TrusteePrivateKey.generate(rng)
    public_key = TrusteePublicKey.create(private_key, rng=rng)
    state = TrusteeState("single", name, private_key=private_key, public_key=public_key)
    return state, compact_json(SingleTrustee(public_key).to_json())


def read_single_key(content: bytes) -> SingleTrustee:
    """The server's check of a single trustee's public key: ``["Single", key]`` (or the bare
    key) with a valid proof of knowledge."""
    obj = _json(content, "trustee.key")
    if isinstance(obj, list) and len(obj) == 2 and obj[0] == "Single":
        obj = obj[1]
    try:
        item = SingleTrustee(TrusteePublicKey.from_json(obj))
        item.check()
    except CryptoError as error:
        raise _refused("trustee.key", error) from error
    return item


# -- the Pedersen ceremony: the trustee's side ----------------------------------------------------


def new_certificate(
    name: str, *, size: int, threshold: int, index: int, rng: Rng = secrets.randbelow
) -> tuple[TrusteeState, bytes]:
    """Step 1: fresh ceremony keys and the certificate (compact JSON) to upload."""
    if not 1 <= threshold <= size:
        raise DomainError("ceremony.parameters", f"a threshold of {threshold} of {size} trustees")
    if not 1 <= index <= size:
        raise DomainError("ceremony.parameters", f"trustee number {index} of {size}")
    keys = CeremonyKeys.generate(rng)
    certificate = keys.certificate(size=size, threshold=threshold, index=index, rng=rng)
    state = TrusteeState(
        "pedersen",
        name,
        ceremony_keys=keys,
        size=size,
        threshold=threshold,
        index=index,
        certificate=certificate,
    )
    return state, compact_json(certificate.to_json())


def _pedersen_keys(state: TrusteeState) -> CeremonyKeys:
    if state.kind != "pedersen" or state.ceremony_keys is None:
        raise DomainError("trustee.state", "this is not a threshold (Pedersen) trustee's state")
    return state.ceremony_keys


def polynomial_message(
    state: TrusteeState, certificates: bytes, *, rng: Rng = secrets.randbelow
) -> tuple[TrusteeState, bytes]:
    """Step 2: from every trustee's certificate, a fresh polynomial; returns the new state
    (which keeps the certificates for step 3) and the message to upload.

    Running it again with the same certificates is harmless: the trustee keeps no polynomial,
    and the server keeps the first one uploaded.
    """
    keys = _pedersen_keys(state)
    if state.step not in ("certificate", "polynomial"):
        raise DomainError("ceremony.step", f"this trustee is past step 2 (at {state.step!r})")
    certs = read_certificates(certificates)
    if len(certs) != state.size:
        raise DomainError(
            "ceremony.certificates", f"{len(certs)} certificates for {state.size} trustees"
        )
    if state.certificates and [c.to_json() for c in state.certificates] != [
        c.to_json() for c in certs
    ]:
        raise DomainError(
            "ceremony.certificates", "these are not the certificates of your earlier step 2"
        )
    own = state.certificate
    if own is None or certs[state.index - 1].message != own.message:
        raise DomainError(
            "ceremony.certificates",
            f"certificate number {state.index} is not yours: check your trustee number",
        )
    try:
        message = make_polynomial(keys, certs, state.index, state.threshold, rng=rng)
    except CryptoError as error:
        raise _refused("ceremony.certificates", error) from error
    return replace(state, certificates=tuple(certs)), compact_json(message.to_json())


def verification_key(
    state: TrusteeState, vinput: bytes, *, rng: Rng = secrets.randbelow
) -> tuple[TrusteeState, bytes]:
    """Step 3: check every share routed to us against its sender's commitments and sum them
    into our key share; returns the new state (with the share) and the public share to upload."""
    keys = _pedersen_keys(state)
    if state.step not in ("polynomial", "verification-key"):
        raise DomainError(
            "ceremony.step", f"step 3 follows step 2 (this trustee is at {state.step!r})"
        )
    try:
        routed = Vinput.from_json(_json(vinput, "ceremony.vinput"))
        output = make_voutput(
            keys, state.certificates, state.index, state.threshold, routed, rng=rng
        )
    except CryptoError as error:
        raise _refused("ceremony.vinput", error) from error
    if state.public_key is not None and state.public_key.public_key != output.public_key.public_key:
        raise DomainError(
            "ceremony.vinput", "this input gives another key share than your earlier step 3"
        )
    new_state = replace(state, private_key=output.private_key, public_key=output.public_key)
    return new_state, compact_json(output.public_key.to_json())


def finish(state: TrusteeState, trustees: bytes) -> TrusteeState:
    """Record the election's final public trustee list after checking it in full and finding
    this trustee's own key in it; the state then knows its owner number and the election key."""
    if state.step not in ("key", "verification-key", "finished") or state.public_key is None:
        raise DomainError("ceremony.step", f"the ceremony is not done yet (at {state.step!r})")
    items = read_trustee_list(trustees)
    if state.owner is not None and trustees_fingerprint(items) != trustees_fingerprint(
        state.trustees
    ):
        raise DomainError(
            "trustee.finish",
            "this state already belongs to the trustee list with fingerprint "
            f"{trustees_fingerprint(state.trustees)}",
        )
    return replace(state, trustees=tuple(items), owner=_own_owner(state, items))


def _own_owner(state: TrusteeState, items: Sequence[TrusteeItem]) -> int:
    own_key = state.public_key.public_key if state.public_key is not None else None
    owners = key_owners(items)
    found: list[int] = []
    for item_index, item in enumerate(items):
        members = [owner for owner, i, _ in owners if i == item_index]
        if isinstance(item, SingleTrustee):
            if state.kind == "single" and item.key.public_key == own_key:
                found.append(members[0])
        elif (
            state.kind == "pedersen"
            and state.certificate is not None
            and item.size == state.size
            and item.threshold == state.threshold
            and item.certs[state.index - 1].message == state.certificate.message
            and item.verification_keys[state.index - 1].public_key == own_key
        ):
            found.append(members[state.index - 1])
    if not found:
        raise DomainError("trustee.finish", "your key is not in this trustee list")
    if len(found) > 1:
        raise DomainError("trustee.finish", "your key appears more than once in this list")
    return found[0]


# -- decryption -----------------------------------------------------------------------------------


def partial_decrypt(
    state: TrusteeState,
    request: bytes,
    *,
    election: bytes | None = None,
    rng: Rng = secrets.randbelow,
) -> bytes:
    """This trustee's partial decryption of an election's totals, from the server's request
    ``{"uuid", "election_hash", "encrypted_tally", "groups": [{"id", "encrypted_tally"}],
    "election"?}``.

    The election (the record's ``election`` entry, from ``election`` or the request's
    ``election`` field) must hash to the request's ``election_hash``, carry its uuid and be
    encrypted to the key this trustee's ceremony made: a trustee never decrypts for another
    election. Returns ``{"owner", "tally", "groups": {id: partial decryption}}`` as compact
    JSON, groups sorted by id.
    """
    if state.owner is None or state.private_key is None:
        raise DomainError("trustee.state", "finish the ceremony first (`unionvote trustee finish`)")
    obj = _json(request, "decrypt.request")
    if not isinstance(obj, dict):
        raise DomainError("decrypt.request", "expected a JSON object")
    missing = [k for k in ("uuid", "election_hash", "encrypted_tally", "groups") if k not in obj]
    if missing:
        raise DomainError("decrypt.request", f"missing fields {missing}")
    uuid, election_hash = obj["uuid"], obj["election_hash"]
    if not isinstance(uuid, str) or not isinstance(election_hash, str):
        raise DomainError("decrypt.request", "uuid and election_hash are strings")
    definition = _check_election(state, uuid, election_hash, election, obj.get("election"))
    shape = [q.shape.ciphertexts for q in definition.questions]
    tally = _tally(obj["encrypted_tally"], shape, "the election's tally")
    groups = _groups(obj["groups"], shape)
    private_key = state.private_key

    def decrypt(ciphertexts: list[list[Ciphertext]]) -> dict[str, Any]:
        return PartialDecryption.compute(election_hash, private_key, ciphertexts, rng=rng).to_json()

    return compact_json(
        {
            "owner": state.owner,
            "tally": decrypt(tally),
            "groups": {
                group_id: decrypt(ciphertexts)
                for group_id, ciphertexts in sorted(groups, key=_first)
            },
        }
    )


def _first(group: tuple[str, list[list[Ciphertext]]]) -> str:
    return group[0]


def _check_election(
    state: TrusteeState,
    uuid: str,
    election_hash: str,
    given: bytes | None,
    in_request: object,
) -> Election:
    if given is None:
        if isinstance(in_request, str):
            given = in_request.encode()
        elif isinstance(in_request, dict):
            given = compact_json(in_request)
        else:
            raise DomainError(
                "decrypt.election",
                "the request does not carry the election's definition (its `election` field), "
                "so its election hash cannot be checked: give the election (or the record)",
            )
    if sha256_b64(given) != election_hash:
        raise DomainError(
            "decrypt.election", "the election given does not have the request's election hash"
        )
    try:
        election = parse_entry("election", given, Election.from_json, Election.to_json)
    except RecordError as error:
        raise _refused("decrypt.election", error) from error
    if election.uuid != uuid:
        raise DomainError(
            "decrypt.election",
            f"the request names election {uuid}, the election is {election.uuid}",
        )
    if election.public_key != state.election_public_key:
        raise DomainError(
            "decrypt.election",
            f"election {uuid} is not encrypted to the key of your ceremony (trustee list "
            f"{trustees_fingerprint(state.trustees)}): refusing to decrypt for another election",
        )
    return election


def _tally(obj: object, shape: list[int], what: str) -> list[list[Ciphertext]]:
    if isinstance(obj, str):
        obj = _json(obj.encode(), "decrypt.request")
    try:
        tally = parse_encrypted_tally(obj)
    except CryptoError as error:
        raise _refused("decrypt.request", error, what) from error
    if [len(row) for row in tally] != shape:
        raise DomainError("decrypt.request", f"{what} does not have the election's shape")
    return tally


def _groups(obj: object, shape: list[int]) -> list[tuple[str, list[list[Ciphertext]]]]:
    if not isinstance(obj, list):
        raise DomainError("decrypt.request", "groups is a list")
    groups: list[tuple[str, list[list[Ciphertext]]]] = []
    for group in obj:
        if not isinstance(group, dict) or not isinstance(group.get("id"), str):
            raise DomainError("decrypt.request", "each group has a string id")
        if "encrypted_tally" not in group:
            raise DomainError("decrypt.request", f"group {group['id']!r} has no encrypted_tally")
        groups.append(
            (group["id"], _tally(group["encrypted_tally"], shape, f"group {group['id']!r}"))
        )
    if len({group_id for group_id, _ in groups}) != len(groups):
        raise DomainError("decrypt.request", "two groups share an id")
    return groups


# -- the server's side: checks on what trustees upload --------------------------------------------


def read_certificates(content: bytes) -> list[SignedMessage]:
    """Every trustee's certificate, as the server hands them out (a JSON list)."""
    obj = _json(content, "ceremony.certificates")
    if not isinstance(obj, list) or not obj:
        raise DomainError("ceremony.certificates", "expected a non-empty list of certificates")
    try:
        return [SignedMessage.from_json(c) for c in obj]
    except CryptoError as error:
        raise _refused("ceremony.certificates", error) from error


def read_certificate(content: bytes, *, size: int, threshold: int, index: int) -> SignedMessage:
    """A trustee's step-1 certificate: signed by the key it carries, for this ceremony
    (``size``, ``threshold``) and this trustee's number ``index``."""
    try:
        certificate = SignedMessage.from_json(_json(content, "ceremony.certificate"))
        keys = CertKeys.from_cert(certificate, check="ceremony.certificate")
    except CryptoError as error:
        raise _refused("ceremony.certificate", error) from error
    if (keys.size, keys.threshold, keys.index) != (size, threshold, index):
        raise DomainError(
            "ceremony.certificate",
            f"the certificate is for trustee {keys.index} of {keys.size} with threshold "
            f"{keys.threshold}; this ceremony expects trustee {index} of {size} with threshold "
            f"{threshold}",
        )
    return certificate


def read_polynomial(
    content: bytes, *, certificates: Sequence[SignedMessage], threshold: int, index: int
) -> PolynomialMessage:
    """A trustee's step-2 message: its commitments signed by its certificate's key, its
    ``certs_sig`` over every certificate, and one sealed share per trustee."""
    try:
        message = PolynomialMessage.from_json(_json(content, "ceremony.polynomial"))
        sender = CertKeys.from_cert(certificates[index - 1], check="ceremony.certificate")
        if message.index != index:
            raise DomainError(
                "ceremony.polynomial",
                f"this is trustee {message.index}'s polynomial, not {index}'s",
            )
        message.coefexps.check(sender.verification, check="ceremony.polynomial.coefexps")
        commitments = read_coefexps(message.coefexps)
        if len(commitments) != threshold:
            raise DomainError(
                "ceremony.polynomial",
                f"{len(commitments)} commitments for a threshold of {threshold}",
            )
        verify_message_signature(
            certs_signature_message([c.to_json() for c in certificates], commitments),
            sender.verification,
            message.signature,
            check="ceremony.polynomial.signature",
        )
    except CryptoError as error:
        raise _refused("ceremony.polynomial", error) from error
    if len(message.sealed_shares) != len(certificates):
        raise DomainError(
            "ceremony.polynomial",
            f"{len(message.sealed_shares)} sealed shares for {len(certificates)} trustees",
        )
    return message


def routed_vinputs(
    certificates: Sequence[SignedMessage],
    threshold: int,
    polynomials: Sequence[PolynomialMessage],
) -> list[Vinput]:
    """Step 3's routing: to each trustee, every commitment and the shares sealed for them."""
    try:
        return route_vinputs(certificates, threshold, polynomials)
    except CryptoError as error:
        raise _refused("ceremony.polynomial", error) from error


def read_verification_key(
    content: bytes,
    *,
    certificates: Sequence[SignedMessage],
    threshold: int,
    vinput: Vinput,
    index: int,
) -> TrusteePublicKey:
    """A trustee's step-3 public share: proven, signed by its certificate's key, and equal to
    the share every commitment determines."""
    try:
        key = TrusteePublicKey.from_json(_json(content, "ceremony.verification_key"))
        check_voutput(certificates, threshold, vinput, index, key)
    except CryptoError as error:
        raise _refused("ceremony.verification_key", error) from error
    return key


def assemble_group(
    certificates: Sequence[SignedMessage],
    threshold: int,
    vinput: Vinput,
    keys: Sequence[TrusteePublicKey],
) -> PedersenTrustees:
    """The ``Pedersen`` item published in the record, checked as a verifier will check it."""
    try:
        return assemble_pedersen(certificates, threshold, vinput, keys)
    except CryptoError as error:
        raise _refused("ceremony.finish", error) from error


# -- the public trustee list ----------------------------------------------------------------------


def trustees_json(items: Sequence[TrusteeItem]) -> list[Any]:
    """The ``trustees`` structure, exactly as the record's setup writes it."""
    return [item.to_json() for item in items]


def trustees_fingerprint(items: Sequence[TrusteeItem]) -> str:
    """SHA-256 (hex) of the trustee list in compact JSON: the hash the record's setup names
    for its trustees entry, so a trustee can find their list in the published record."""
    return hashlib.sha256(compact_json(trustees_json(items))).hexdigest()


def read_trustee_list(content: bytes) -> list[TrusteeItem]:
    """A public trustee list, checked in full (every proof and signature)."""
    try:
        items = parse_trustees(_json(content, "trustee.list"))
        for item in items:
            item.check()
    except CryptoError as error:
        raise _refused("trustee.list", error) from error
    if election_public_key(items).is_identity:
        raise DomainError("trustee.list", "the trustees' keys cancel out")
    return items
