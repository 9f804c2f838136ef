"""The key ceremony on the server: who a stage's trustees are, and the intake of their messages.

The committee names the trustees of a stage: by default the server's own key (a ``Single``
trustee, the key Belenios requires the server to hold, different in each election) plus a
Pedersen group in which any 2 of 3 trustees decrypt. The server's private key goes to a file
beside the database, never into it. Each other trustee runs their steps on their own machine
(``unionvote trustee …``, :mod:`unionvote.domain.trustee_work`) and uploads only public or
sealed messages; each is checked with the protocol's checks before it is stored, and a bad one
is refused with nothing stored. When every message is in, :func:`do_finish_ceremony` assembles
and stores the public trustee list that the election's setup uses (:func:`election_trustees`).

Stored in ``ceremony_messages`` (step, position): ``threshold`` (0), ``certificate``,
``polynomial``, ``verification-key`` (each trustee's position), and ``trustees`` (0), the final
public list exactly as the record's setup writes it.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from unionvote.crypto.threshold import PolynomialMessage, Vinput
from unionvote.crypto.trustees import SignedMessage, SingleTrustee, TrusteeItem, TrusteePublicKey
from unionvote.domain.errors import DomainError
from unionvote.domain.publication import PieceStream
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
    read_trustee_list,
    read_verification_key,
    routed_vinputs,
    trustees_fingerprint,
    verification_key,
)
from unionvote.record.archive import ArchiveReader
from unionvote.record.errors import RecordError
from unionvote.record.messages import SetupData, parse_entry
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.storage.models import CeremonyMessage, ElectionRow, RecordChunk, StageRow, Trustee

__all__ = [
    "KINDS",
    "SERVER_POSITION",
    "CeremonyStatus",
    "TrusteeStatus",
    "ceremony_status",
    "certificates_for",
    "do_add_trustee",
    "do_finish_ceremony",
    "do_make_server_key",
    "do_restart_ceremony",
    "do_run_local_ceremony",
    "do_set_threshold",
    "do_submit_certificate",
    "do_submit_polynomial",
    "do_submit_single_key",
    "do_submit_voutput",
    "election_definition",
    "election_trustees",
    "public_trustees",
    "server_partial_decryption",
    "trustee_owner",
    "vinput_for",
    "write_private_file",
]

#: The kinds of trustee the committee adds; the server's own key has kind ``server``.
KINDS = ("pedersen", "single")
SERVER_POSITION = 0

_CERTIFICATE, _POLYNOMIAL, _VERIFICATION_KEY = "certificate", "polynomial", "verification-key"
_THRESHOLD, _TRUSTEES = "threshold", "trustees"
_PEDERSEN_STEPS = (_CERTIFICATE, _POLYNOMIAL, _VERIFICATION_KEY)
# Once the election is set up its trustees are in the record: nothing about them may change.
_FROZEN = ("voting", "closed", "tallied", "decrypted", "published")


# -- private files --------------------------------------------------------------------------------


def write_private_file(path: Path, content: bytes, *, replace: bool = False) -> None:
    """Write a file only its owner can read (0600), durably.

    Without ``replace`` an existing file is never overwritten (a key is not lost by a typo);
    with it, the new content goes to a temporary file first and replaces the old one
    atomically, so an interruption leaves either the old state or the new one.
    """
    target = path
    if replace:
        target = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        target.unlink(missing_ok=True)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DomainError("file.exists", f"{path} already exists; it is not overwritten") from None
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        if replace:
            target.replace(path)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


# -- reading the stage's ceremony -----------------------------------------------------------------


def _open_stage(session: Session, stage_key: str) -> StageRow:
    """The stage, locked, and refused once its trustees are in an election's record."""
    row, _ = stage_row(session, stage_key, for_update=True)
    election = session.scalar(select(ElectionRow.id).where(ElectionRow.stage_id == row.id))
    if row.status in _FROZEN or election is not None:
        raise DomainError(
            "ceremony.frozen",
            f"the election of stage {stage_key!r} is set up; its trustees can no longer change",
        )
    return row


def _trustees(session: Session, stage_id: int) -> list[Trustee]:
    return list(
        session.scalars(
            select(Trustee).where(Trustee.stage_id == stage_id).order_by(Trustee.position)
        )
    )


def _members(trustees: Sequence[Trustee]) -> list[Trustee]:
    """The Pedersen group in order: a member's number (1-based) is its place in this list."""
    return [t for t in trustees if t.kind == "pedersen"]


def _messages(session: Session, stage_id: int, step: str) -> dict[int, str]:
    rows = session.scalars(
        select(CeremonyMessage).where(
            CeremonyMessage.stage_id == stage_id, CeremonyMessage.step == step
        )
    )
    return {m.position: m.content for m in rows}


def _final_list(session: Session, stage_id: int) -> str | None:
    return _messages(session, stage_id, _TRUSTEES).get(0)


def _threshold(session: Session, stage_id: int, size: int) -> int:
    """The threshold the committee set, or a majority of the group (2 of 3) by default."""
    stored = _messages(session, stage_id, _THRESHOLD).get(0)
    return int(stored) if stored is not None else size // 2 + 1


def _trustee_at(trustees: Sequence[Trustee], position: int, kind: str) -> Trustee:
    for trustee in trustees:
        if trustee.position == position:
            if trustee.kind != kind:
                raise DomainError(
                    "trustee.kind",
                    f"trustee {position} ({trustee.name}) is a {trustee.kind} trustee, "
                    f"not a {kind} one",
                )
            return trustee
    raise DomainError("trustee.unknown", f"there is no trustee at position {position}")


def _refuse_if_finished(session: Session, row: StageRow) -> None:
    if _final_list(session, row.id) is not None:
        raise DomainError(
            "ceremony.finished",
            f"the key ceremony of stage {row.key!r} is finished; its trustees are fixed",
        )


def _store(
    session: Session, row: StageRow, step: str, position: int, content: str, at: datetime.datetime
) -> None:
    session.add(
        CeremonyMessage(stage_id=row.id, step=step, position=position, content=content, at=at)
    )


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class _Ceremony:
    """The Pedersen group's public state, read from the database."""

    members: list[Trustee]
    threshold: int
    certificates: dict[int, str]
    polynomials: dict[int, str]
    verification_keys: dict[int, str]

    @property
    def size(self) -> int:
        return len(self.members)

    def index_of(self, trustee: Trustee) -> int:
        return self.members.index(trustee) + 1

    def missing(self, messages: dict[int, str]) -> list[Trustee]:
        return [t for t in self.members if t.position not in messages]

    def require(self, messages: dict[int, str], what: str) -> None:
        missing = self.missing(messages)
        if missing:
            names = ", ".join(f"{t.name} ({t.position})" for t in missing)
            raise DomainError("ceremony.waiting", f"still waiting for the {what} of {names}")

    def certificate_list(self) -> list[SignedMessage]:
        self.require(self.certificates, "certificates")
        return [
            SignedMessage.from_json(json.loads(self.certificates[t.position])) for t in self.members
        ]

    def vinputs(self) -> list[Vinput]:
        certificates = self.certificate_list()
        self.require(self.polynomials, "polynomials")
        polynomials = [
            PolynomialMessage.from_json(json.loads(self.polynomials[t.position]))
            for t in self.members
        ]
        return routed_vinputs(certificates, self.threshold, polynomials)


def _ceremony(session: Session, row: StageRow) -> _Ceremony:
    members = _members(_trustees(session, row.id))
    return _Ceremony(
        members,
        _threshold(session, row.id, len(members)),
        _messages(session, row.id, _CERTIFICATE),
        _messages(session, row.id, _POLYNOMIAL),
        _messages(session, row.id, _VERIFICATION_KEY),
    )


# -- the committee's set-up -----------------------------------------------------------------------


def do_add_trustee(
    services: Services, stage_key: str, *, name: str, email: str = "", kind: str = "pedersen"
) -> Trustee:
    """Name a trustee of the stage: a member of the threshold group (``pedersen``) or a trustee
    with a key of their own (``single``). Positions are numbered from 1 in order of adding."""
    name, email = name.strip(), email.strip()
    if kind not in KINDS:
        raise DomainError("trustee.kind", f"{kind!r} is not a kind of trustee ({', '.join(KINDS)})")
    if not name:
        raise DomainError("trustee.name", "a trustee needs a name")
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise DomainError("trustee.email", f"{email!r} is not an email address")
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        if kind == "pedersen" and _messages(tx.session, row.id, _CERTIFICATE):
            raise DomainError(
                "ceremony.started",
                "the threshold group's ceremony has started; restart it to change the group",
            )
        last = tx.session.scalar(
            select(func.max(Trustee.position)).where(Trustee.stage_id == row.id)
        )
        position = max(last or 0, SERVER_POSITION) + 1
        trustee = Trustee(
            stage_id=row.id, position=position, name=name, email=email, kind=kind, public=None
        )
        tx.session.add(trustee)
        tx.audit("trustee.add", stage_key, position=position, name=name, kind=kind)
    return trustee


def do_set_threshold(services: Services, stage_key: str, threshold: int) -> None:
    """How many of the threshold group must decrypt (by default a majority: 2 of 3). Fixed
    once the first certificate is in, since every certificate names it."""
    if threshold < 1:
        raise DomainError("ceremony.threshold", "the threshold is at least 1")
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        if _messages(tx.session, row.id, _CERTIFICATE):
            raise DomainError(
                "ceremony.started", "the ceremony has started; restart it to change the threshold"
            )
        tx.session.execute(
            delete(CeremonyMessage).where(
                CeremonyMessage.stage_id == row.id, CeremonyMessage.step == _THRESHOLD
            )
        )
        _store(tx.session, row, _THRESHOLD, 0, str(threshold), tx.at)
        tx.audit("ceremony.threshold", stage_key, threshold=threshold)


def do_make_server_key(services: Services, stage_key: str, key_path: Path) -> SingleTrustee:
    """Make the server's own key for the stage: the private key goes to ``key_path`` (0600,
    never overwritten), only the public ``Single`` item into the database."""
    written = False
    try:
        with services.transaction() as tx:
            row = _open_stage(tx.session, stage_key)
            _refuse_if_finished(tx.session, row)
            if any(t.kind == "server" for t in _trustees(tx.session, row.id)):
                raise DomainError(
                    "trustee.server_key", f"stage {stage_key!r} already has the server's key"
                )
            state, public = new_single_key(f"server ({stage_key})")
            write_private_file(key_path, state.to_bytes())
            written = True
            tx.session.add(
                Trustee(
                    stage_id=row.id,
                    position=SERVER_POSITION,
                    name="the server",
                    email="",
                    kind="server",
                    public=public.decode(),
                )
            )
            tx.audit("trustee.server_key", stage_key, key_file=str(key_path))
    except BaseException:
        if written:
            key_path.unlink(missing_ok=True)
        raise
    return read_single_key(public)


def do_submit_single_key(
    services: Services, stage_key: str, position: int, content: bytes
) -> SingleTrustee:
    """A single trustee's public key, made on their machine: its proof must check."""
    item = read_single_key(content)
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        trustees = _trustees(tx.session, row.id)
        trustee = _trustee_at(trustees, position, "single")
        if trustee.public is not None:
            raise DomainError("trustee.key", f"{trustee.name} ({position}) has already sent a key")
        for other in trustees:
            if (
                other.kind in ("server", "single")
                and other.public is not None
                and read_single_key(other.public.encode()).sub_key == item.sub_key
            ):
                raise DomainError("trustee.key", f"this key is already {other.name}'s")
        trustee.public = _compact(item.to_json())
        tx.audit("trustee.key", stage_key, position=position, name=trustee.name)
    return item


# -- the Pedersen ceremony's intake ---------------------------------------------------------------


def do_submit_certificate(
    services: Services, stage_key: str, position: int, content: bytes
) -> None:
    """Step 1's certificate of the threshold trustee at ``position``: signed, for this
    ceremony's size and threshold and this trustee's number, with a key no one else uses."""
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        ceremony = _ceremony(tx.session, row)
        trustee = _trustee_at(_trustees(tx.session, row.id), position, "pedersen")
        if position in ceremony.certificates:
            raise DomainError(
                "ceremony.certificate",
                f"{trustee.name} ({position}) has already sent a certificate",
            )
        if not 1 <= ceremony.threshold <= ceremony.size:
            raise DomainError(
                "ceremony.threshold",
                f"a threshold of {ceremony.threshold} needs at least that many trustees "
                f"(there are {ceremony.size})",
            )
        certificate = read_certificate(
            content,
            size=ceremony.size,
            threshold=ceremony.threshold,
            index=ceremony.index_of(trustee),
        )
        new_key = json.loads(certificate.message)["verification"]
        for other_position, other in ceremony.certificates.items():
            if json.loads(json.loads(other)["message"])["verification"] == new_key:
                raise DomainError(
                    "ceremony.certificate",
                    f"this certificate's key is already trustee {other_position}'s",
                )
        text = _compact(certificate.to_json())
        _store(tx.session, row, _CERTIFICATE, position, text, tx.at)
        trustee.public = text
        tx.audit("ceremony.certificate", stage_key, position=position, name=trustee.name)


def certificates_for(session: Session, stage_key: str) -> bytes:
    """Every threshold trustee's certificate in order (a JSON list): what each of them needs
    for step 2. Refused while one is missing."""
    row, _ = stage_row(session, stage_key)
    certificates = _ceremony(session, row).certificate_list()
    return _compact([c.to_json() for c in certificates]).encode()


def do_submit_polynomial(services: Services, stage_key: str, position: int, content: bytes) -> None:
    """Step 2's message of the threshold trustee at ``position``: commitments signed by its
    certificate's key, the signature over every certificate, one sealed share per trustee."""
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        ceremony = _ceremony(tx.session, row)
        trustee = _trustee_at(ceremony.members, position, "pedersen")
        if position in ceremony.polynomials:
            raise DomainError(
                "ceremony.polynomial", f"{trustee.name} ({position}) has already sent a polynomial"
            )
        message = read_polynomial(
            content,
            certificates=ceremony.certificate_list(),
            threshold=ceremony.threshold,
            index=ceremony.index_of(trustee),
        )
        _store(tx.session, row, _POLYNOMIAL, position, _compact(message.to_json()), tx.at)
        tx.audit("ceremony.polynomial", stage_key, position=position, name=trustee.name)


def vinput_for(session: Session, stage_key: str, position: int) -> bytes:
    """What the server routes to the threshold trustee at ``position`` for step 3: every
    trustee's commitments and the shares sealed for them. Refused while a polynomial is
    missing."""
    row, _ = stage_row(session, stage_key)
    ceremony = _ceremony(session, row)
    trustee = _trustee_at(ceremony.members, position, "pedersen")
    vinput = ceremony.vinputs()[ceremony.index_of(trustee) - 1]
    return _compact(vinput.to_json()).encode()


def do_submit_voutput(services: Services, stage_key: str, position: int, content: bytes) -> None:
    """Step 3's public key share of the threshold trustee at ``position``: proven, signed, and
    the one every trustee's commitments determine."""
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        ceremony = _ceremony(tx.session, row)
        trustee = _trustee_at(ceremony.members, position, "pedersen")
        if position in ceremony.verification_keys:
            raise DomainError(
                "ceremony.verification_key",
                f"{trustee.name} ({position}) has already sent a verification key",
            )
        index = ceremony.index_of(trustee)
        key = read_verification_key(
            content,
            certificates=ceremony.certificate_list(),
            threshold=ceremony.threshold,
            vinput=ceremony.vinputs()[index - 1],
            index=index,
        )
        _store(tx.session, row, _VERIFICATION_KEY, position, _compact(key.to_json()), tx.at)
        tx.audit("ceremony.verification_key", stage_key, position=position, name=trustee.name)


def do_finish_ceremony(services: Services, stage_key: str) -> list[TrusteeItem]:
    """Assemble the threshold group's ``Pedersen`` item and fix the stage's public trustee
    list: the server's key first, then the single trustees, then the group."""
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        trustees = _trustees(tx.session, row.id)
        server = [t for t in trustees if t.kind == "server"]
        if not server or server[0].public is None:
            raise DomainError(
                "ceremony.server_key",
                f"the server's key is missing: run `unionvote trustees server-key {stage_key}`",
            )
        items: list[TrusteeItem] = [read_single_key(server[0].public.encode())]
        for trustee in trustees:
            if trustee.kind == "single":
                if trustee.public is None:
                    raise DomainError(
                        "ceremony.waiting",
                        f"still waiting for the key of {trustee.name} ({trustee.position})",
                    )
                items.append(read_single_key(trustee.public.encode()))
        ceremony = _ceremony(tx.session, row)
        if ceremony.members:
            certificates = ceremony.certificate_list()
            vinputs = ceremony.vinputs()
            ceremony.require(ceremony.verification_keys, "verification keys")
            keys = [
                TrusteePublicKey.from_json(json.loads(ceremony.verification_keys[t.position]))
                for t in ceremony.members
            ]
            items.append(assemble_group(certificates, ceremony.threshold, vinputs[0], keys))
        text = _compact([item.to_json() for item in items])
        _store(tx.session, row, _TRUSTEES, 0, text, tx.at)
        tx.audit(
            "ceremony.finish",
            stage_key,
            trustees=len(items),
            threshold=ceremony.threshold if ceremony.members else None,
            group=ceremony.size,
            fingerprint=trustees_fingerprint(items),
        )
    return items


def do_restart_ceremony(services: Services, stage_key: str) -> None:
    """Forget the threshold group's messages so that it starts again from step 1 (e.g. a
    trustee lost their state file, or one's shares did not match its commitments)."""
    with services.transaction() as tx:
        row = _open_stage(tx.session, stage_key)
        _refuse_if_finished(tx.session, row)
        tx.session.execute(
            delete(CeremonyMessage).where(
                CeremonyMessage.stage_id == row.id, CeremonyMessage.step.in_(_PEDERSEN_STEPS)
            )
        )
        for trustee in _members(_trustees(tx.session, row.id)):
            trustee.public = None
        tx.audit("ceremony.restart", stage_key)


# -- the result -----------------------------------------------------------------------------------


def election_trustees(session: Session, stage_row: StageRow) -> list[TrusteeItem]:
    """The stage's trustee items for the election's setup, in owner order: the server's key,
    the single trustees, then the threshold group. Refused until the ceremony is finished."""
    text = _final_list(session, stage_row.id)
    if text is None:
        raise DomainError(
            "ceremony.unfinished",
            f"the key ceremony of stage {stage_row.key!r} is not finished "
            f"(see `unionvote trustees status {stage_row.key}`)",
        )
    return read_trustee_list(text.encode())


def trustee_owner(services: Services, stage_key: str, position: int) -> int:
    """The owner number (in :func:`~unionvote.crypto.trustees.key_owners`) of the trustee at
    ``position``: the record's trustee list is the server's key, the single trustees, then
    the threshold group, each in position order (:func:`do_finish_ceremony`), so a partial
    decryption from this trustee must carry this number. ``trustee.unknown`` otherwise."""
    with services.db.sessions() as session:
        row, _ = stage_row(session, stage_key)
        trustees = _trustees(session, row.id)
    ordered = (
        [t for t in trustees if t.kind == "server"]
        + [t for t in trustees if t.kind == "single"]
        + _members(trustees)
    )
    for owner, trustee in enumerate(ordered, start=1):
        if trustee.position == position and trustee.kind != "server":
            return owner
    raise DomainError(
        "trustee.unknown", f"there is no trustee at position {position} in stage {stage_key!r}"
    )


def public_trustees(session: Session, stage_key: str) -> bytes:
    """The final public trustee list (compact JSON, as in the record) that each trustee
    records with ``unionvote trustee finish``."""
    row, _ = stage_row(session, stage_key)
    election_trustees(session, row)
    text = _final_list(session, row.id)
    assert text is not None
    return text.encode()


def election_definition(session: Session, stage_row: StageRow) -> bytes:
    """The stage's ``election`` entry, exactly as its record holds it (the public definition
    a trustee checks a decryption request against). Reads only the record's first entries."""
    election = session.scalar(select(ElectionRow).where(ElectionRow.stage_id == stage_row.id))
    if election is None:
        raise DomainError("election.missing", f"stage {stage_row.key!r} has no election yet")
    chunks = session.scalars(
        select(RecordChunk.content)
        .where(RecordChunk.election_id == election.id)
        .order_by(RecordChunk.seq)
        .execution_options(yield_per=1)
    )
    stream = io.BufferedReader(PieceStream(iter(chunks)))
    try:
        reader = ArchiveReader(stream)
        first = next(reader.iter_events(), None)
        if first is None or first.event.type != "Setup" or first.payload is None:
            raise DomainError("election.record", "the record does not start with its setup")
        setup = parse_entry("setup", first.payload, SetupData.from_json, SetupData.to_json)
        content = reader.data(setup.election)
    except RecordError as error:
        raise DomainError("election.record", str(error)) from error
    finally:
        chunks.close()
    if setup.election_hash != election.election_hash:
        raise DomainError("election.record", "the record's election is not the stored one")
    return content


def server_partial_decryption(
    session: Session,
    stage_row: StageRow,
    key_path: Path,
    request: bytes,
    *,
    election: bytes | None = None,
) -> bytes:
    """The server's own partial decryption, with its key file, for the decryption request:
    the same computation, and the same checks, as any trustee's. The election's definition is
    read from the stored record unless given."""
    items = election_trustees(session, stage_row)
    try:
        state = TrusteeState.from_bytes(key_path.read_bytes())
    except OSError as error:
        raise DomainError("trustee.server_key", f"cannot read {key_path}: {error}") from error
    server = items[0]
    if state.public_key is None or server.sub_key != state.public_key.public_key:
        raise DomainError(
            "trustee.server_key", f"{key_path} is not the server's key of stage {stage_row.key!r}"
        )
    state = finish(state, _compact([item.to_json() for item in items]).encode())
    if election is None:
        election = election_definition(session, stage_row)
    return partial_decrypt(state, request, election=election)


# -- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrusteeStatus:
    """One trustee and the steps they have done."""

    position: int
    name: str
    email: str
    kind: str
    number: int | None  # in the threshold group, 1-based
    done: tuple[str, ...]


@dataclass(frozen=True)
class CeremonyStatus:
    """Who has done which step, and what to do next (in plain words)."""

    stage: str
    size: int
    threshold: int
    trustees: tuple[TrusteeStatus, ...]
    finished: bool
    fingerprint: str | None
    next_steps: tuple[str, ...]


def ceremony_status(session: Session, stage_key: str) -> CeremonyStatus:
    """Where the stage's ceremony stands, for the committee: read only, changes nothing."""
    row, _ = stage_row(session, stage_key)
    trustees = _trustees(session, row.id)
    ceremony = _ceremony(session, row)
    statuses = []
    for t in trustees:
        if t.kind == "pedersen":
            done = tuple(
                step
                for step, messages in zip(
                    _PEDERSEN_STEPS,
                    (ceremony.certificates, ceremony.polynomials, ceremony.verification_keys),
                    strict=True,
                )
                if t.position in messages
            )
            number: int | None = ceremony.index_of(t)
        else:
            done, number = (("key",) if t.public is not None else ()), None
        statuses.append(TrusteeStatus(t.position, t.name, t.email, t.kind, number, done))
    final = _final_list(session, row.id)
    fingerprint = None
    if final is not None:
        fingerprint = trustees_fingerprint(read_trustee_list(final.encode()))
    return CeremonyStatus(
        stage_key,
        ceremony.size,
        ceremony.threshold,
        tuple(statuses),
        final is not None,
        fingerprint,
        tuple(_next_steps(stage_key, trustees, ceremony, final is not None)),
    )


def _next_steps(
    stage: str, trustees: Sequence[Trustee], ceremony: _Ceremony, finished: bool
) -> list[str]:
    if finished:
        return [
            f"Send the trustee list (`unionvote trustees public {stage} --out trustees.json`) "
            "to every trustee, who runs `unionvote trustee finish STATE --trustees trustees.json`."
        ]
    steps = []
    if not any(t.kind == "server" for t in trustees):
        steps.append(f"Make the server's key: `unionvote trustees server-key {stage} --out PATH`.")
    for t in trustees:
        if t.kind == "single" and t.public is None:
            steps.append(
                f"{t.name} ({t.position}) runs `unionvote trustee single-key --name NAME --out "
                f"STATE.json` and sends the public key, imported with `unionvote trustees "
                f"import-key {stage} {t.position} FILE`."
            )
    if ceremony.members:
        steps.extend(_pedersen_next(stage, ceremony))
    if not steps:
        steps.append(f"Everything is in: `unionvote trustees finish {stage}`.")
    return steps


def _pedersen_next(stage: str, ceremony: _Ceremony) -> list[str]:
    def who(missing: list[Trustee]) -> str:
        return ", ".join(f"{t.name} ({t.position})" for t in missing)

    if not 1 <= ceremony.threshold <= ceremony.size:
        return [f"Set a threshold between 1 and {ceremony.size} (`unionvote trustees threshold`)."]
    missing = ceremony.missing(ceremony.certificates)
    if missing:
        return [
            f"Trustee number {ceremony.index_of(t)}, {t.name} ({t.position}), runs `unionvote "
            f"trustee init --name NAME --index {ceremony.index_of(t)} --size {ceremony.size} "
            f"--threshold {ceremony.threshold} --out STATE.json` and sends the certificate, "
            f"imported with `unionvote trustees import-certificate {stage} {t.position} FILE`."
            for t in missing
        ]
    missing = ceremony.missing(ceremony.polynomials)
    if missing:
        return [
            f"Send the certificates (`unionvote trustees certificates {stage} --out FILE`) to "
            f"{who(missing)}, who run `unionvote trustee polynomial` and send back the "
            f"polynomial (`unionvote trustees import-polynomial {stage} POSITION FILE`)."
        ]
    missing = ceremony.missing(ceremony.verification_keys)
    if missing:
        return [
            f"Send each of {who(missing)} their input (`unionvote trustees vinput {stage} "
            f"POSITION --out FILE`); they run `unionvote trustee verification-key` and send "
            f"back the key (`unionvote trustees import-verification-key {stage} POSITION FILE`)."
        ]
    return []


# -- a rehearsal on one machine -------------------------------------------------------------------


def do_run_local_ceremony(
    services: Services,
    stage_key: str,
    workdir: Path,
    *,
    names: Sequence[str],
    threshold: int,
    server_key: Path | None = None,
) -> list[Path]:
    """Run the whole ceremony on this machine for demonstrations and tests, exactly as separate
    machines would: each trustee's side reads and writes their own state file in ``workdir``
    (0600), and only their public messages go through the server's intake.

    Makes the server's key (at ``server_key``, by default ``workdir/server-trustee-<stage>.key``)
    if the stage has none. Returns the trustees' state files, in the group's order.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, stage_key)
        has_server = any(t.kind == "server" for t in _trustees(tx.session, row.id))
    if not has_server:
        do_make_server_key(
            services, stage_key, server_key or workdir / f"server-trustee-{stage_key}.key"
        )
    positions = [do_add_trustee(services, stage_key, name=name).position for name in names]
    do_set_threshold(services, stage_key, threshold)
    with services.transaction() as tx:
        row, _ = stage_row(tx.session, stage_key)
        ceremony = _ceremony(tx.session, row)
        numbers = {t.position: ceremony.index_of(t) for t in ceremony.members}
        size = ceremony.size
    paths = [workdir / f"trustee-{stage_key}-{numbers[p]}.json" for p in positions]
    for name, position, path in zip(names, positions, paths, strict=True):
        state, certificate = new_certificate(
            name, size=size, threshold=threshold, index=numbers[position]
        )
        write_private_file(path, state.to_bytes())
        do_submit_certificate(services, stage_key, position, certificate)
    with services.transaction() as tx:
        certificates = certificates_for(tx.session, stage_key)
    for position, path in zip(positions, paths, strict=True):
        state, message = polynomial_message(
            TrusteeState.from_bytes(path.read_bytes()), certificates
        )
        write_private_file(path, state.to_bytes(), replace=True)
        do_submit_polynomial(services, stage_key, position, message)
    for position, path in zip(positions, paths, strict=True):
        with services.transaction() as tx:
            routed = vinput_for(tx.session, stage_key, position)
        state, key = verification_key(TrusteeState.from_bytes(path.read_bytes()), routed)
        write_private_file(path, state.to_bytes(), replace=True)
        do_submit_voutput(services, stage_key, position, key)
    do_finish_ceremony(services, stage_key)
    with services.transaction() as tx:
        public = public_trustees(tx.session, stage_key)
    for path in paths:
        state = finish(TrusteeState.from_bytes(path.read_bytes()), public)
        write_private_file(path, state.to_bytes(), replace=True)
    return paths
