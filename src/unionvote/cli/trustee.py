"""``unionvote trustee`` (a trustee, on their own machine) and ``unionvote trustees`` (the
committee, on the server): the key ceremony and the partial decryption.

A trustee's private state lives only in the file they name (written 0600); what they send the
committee is public or sealed. The committee's commands check every upload before storing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from unionvote.cli.context import console, errors, fail, open_services
from unionvote.domain.errors import DomainError
from unionvote.domain.trustee_work import (
    TrusteeState,
    finish,
    new_certificate,
    new_single_key,
    partial_decrypt,
    polynomial_message,
    trustees_fingerprint,
    verification_key,
)
from unionvote.record.archive import ArchiveReader
from unionvote.record.errors import RecordError
from unionvote.record.messages import SetupData, parse_entry
from unionvote.services.context import Services
from unionvote.services.process import stage_row
from unionvote.services.trustees import (
    KINDS,
    ceremony_status,
    certificates_for,
    do_add_trustee,
    do_finish_ceremony,
    do_make_server_key,
    do_restart_ceremony,
    do_set_threshold,
    do_submit_certificate,
    do_submit_polynomial,
    do_submit_single_key,
    do_submit_voutput,
    election_definition,
    public_trustees,
    vinput_for,
    write_private_file,
)

__all__ = ["admin_app", "app"]

app = typer.Typer(
    name="trustee",
    help="A trustee's own steps, on their own machine: the key ceremony and the decryption.",
    no_args_is_help=True,
    add_completion=False,
)
admin_app = typer.Typer(
    name="trustees",
    help="The committee's side of the key ceremony, on the server.",
    no_args_is_help=True,
    add_completion=False,
)

StateArg = Annotated[
    Path, typer.Argument(help="Your private state file (from `init` or `single-key`).")
]
StageArg = Annotated[str, typer.Argument(help="The stage, e.g. membership-vote.")]
PositionArg = Annotated[int, typer.Argument(help="The trustee's position (see `status`).")]
FileArg = Annotated[Path, typer.Argument(help="The file the trustee sent.")]


@contextmanager
def _committee() -> Iterator[Services]:
    """The server's services for one command; its connections are closed when it ends."""
    with errors():
        services = open_services()
        try:
            yield services
        finally:
            services.db.dispose()


@contextmanager
def _session() -> Iterator[Session]:
    """One read-only look at the server's database."""
    with _committee() as services, services.db.transaction() as session:
        yield session


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}")


def _load(path: Path) -> TrusteeState:
    return TrusteeState.from_bytes(_read(path))


def _save(path: Path, state: TrusteeState, *, new: bool = False) -> None:
    try:
        write_private_file(path, state.to_bytes(), replace=not new)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}")


# -- the trustee's machine ------------------------------------------------------------------------


@app.command()
def init(
    name: Annotated[str, typer.Option(help="Your name, as the committee knows you.")],
    index: Annotated[int, typer.Option(help="Your number in the group (the committee says).")],
    out: Annotated[Path, typer.Option(help="Where to write your private state (new file).")],
    size: Annotated[int, typer.Option(help="How many trustees are in the group.")] = 3,
    threshold: Annotated[int, typer.Option(help="How many of them must decrypt.")] = 2,
    certificate: Annotated[
        Path | None,
        typer.Option(help="Where to write the certificate to send (by default beside --out)."),
    ] = None,
) -> None:
    """Step 1: make your ceremony keys and the certificate to send to the committee."""
    with errors():
        state, cert = new_certificate(name, size=size, threshold=threshold, index=index)
        _save(out, state, new=True)
        cert_path = certificate or out.with_name(f"{out.stem}.certificate.json")
        _write(cert_path, cert)
    console.print(f"Your private state is in {out}: keep it safe and private, do not send it.")
    console.print(f"Send {cert_path} to the election committee (trustee {index} of {size}).")


@app.command()
def polynomial(
    state: StateArg,
    certificates: Annotated[Path, typer.Option(help="All certificates, from the committee.")],
    out: Annotated[Path, typer.Option(help="Where to write your polynomial message.")],
) -> None:
    """Step 2: from every trustee's certificate, make your polynomial message."""
    with errors():
        new_state, message = polynomial_message(_load(state), _read(certificates))
        _save(state, new_state)
        _write(out, message)
    console.print(f"Send {out} to the election committee. Your state {state} is updated.")


@app.command("verification-key")
def verification_key_command(
    state: StateArg,
    vinput: Annotated[Path, typer.Option(help="Your input for step 3, from the committee.")],
    out: Annotated[Path, typer.Option(help="Where to write your public verification key.")],
) -> None:
    """Step 3: check the shares the others sent you and make your key share."""
    with errors():
        new_state, key = verification_key(_load(state), _read(vinput))
        _save(state, new_state)
        _write(out, key)
    console.print(
        f"Every share checked. Your key share is in {state}; send {out} to the committee."
    )


@app.command("finish")
def finish_command(
    state: StateArg,
    trustees: Annotated[Path, typer.Option(help="The final trustee list, from the committee.")],
) -> None:
    """Record the election's final trustee list once you have checked your key is in it."""
    with errors():
        new_state = finish(_load(state), _read(trustees))
        _save(state, new_state)
    console.print(f"Your key is trustee number {new_state.owner} in the list; every proof checks.")
    console.print("Trustee list fingerprint (the record's setup names it):")
    console.print(f"  {trustees_fingerprint(new_state.trustees)}")
    console.print(f"Election public key: {new_state.election_public_key}")
    console.print("Keep your state file until the election is decrypted.")


def _record_election(path: Path) -> bytes:
    """The election entry of a published record (``.bel``), to check a request against."""
    try:
        with ArchiveReader.open(path) as reader:
            first = next(reader.iter_events(), None)
            if first is None or first.event.type != "Setup" or first.payload is None:
                raise DomainError("decrypt.record", f"{path} does not start with its setup")
            setup = parse_entry("setup", first.payload, SetupData.from_json, SetupData.to_json)
            return reader.data(setup.election)
    except RecordError as error:
        raise DomainError("decrypt.record", f"{path}: {error}") from error
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror}")


@app.command()
def decrypt(
    state: StateArg,
    request: Annotated[Path, typer.Option(help="The decryption request, from the committee.")],
    out: Annotated[Path, typer.Option(help="Where to write your partial decryption.")],
    election: Annotated[
        Path | None,
        typer.Option(help="The election's definition (JSON), if the request does not carry it."),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(help="Or the published record (.bel) to take the election from."),
    ] = None,
) -> None:
    """Decrypt the election's totals (and its published groups) with your key, with proofs."""
    with errors():
        definition = None
        if election is not None:
            definition = _read(election)
        elif record is not None:
            definition = _record_election(record)
        loaded = _load(state)
        with console.status("Decrypting the totals…"):
            partial = partial_decrypt(loaded, _read(request), election=definition)
        _write(out, partial)
    console.print(f"Send {out} to the election committee (trustee number {loaded.owner}).")


@app.command("single-key")
def single_key(
    name: Annotated[str, typer.Option(help="Your name, as the committee knows you.")],
    out: Annotated[Path, typer.Option(help="Where to write your private state (new file).")],
    public: Annotated[
        Path | None, typer.Option(help="Where to write your public key (by default beside --out).")
    ] = None,
) -> None:
    """Make a key of your own (a single trustee, whose decryption is always needed)."""
    with errors():
        state, item = new_single_key(name)
        _save(out, state, new=True)
        public_path = public or out.with_name(f"{out.stem}.public.json")
        _write(public_path, item)
    console.print(f"Your private state is in {out}: keep it safe and private, do not send it.")
    console.print(f"Send {public_path} to the election committee.")


@app.command()
def show(state: StateArg) -> None:
    """Say what a state file holds (never its secrets) and the step it is at."""
    with errors():
        loaded = _load(state)
    console.print(f"{escape(loaded.name)}: a {loaded.kind} trustee, at step {loaded.step!r}")
    if loaded.kind == "pedersen":
        console.print(f"  trustee {loaded.index} of {loaded.size}, threshold {loaded.threshold}")
    if loaded.owner is not None:
        console.print(f"  trustee number {loaded.owner} in the list")
        console.print(f"  trustee list fingerprint {trustees_fingerprint(loaded.trustees)}")


# -- the committee, on the server -----------------------------------------------------------------


@admin_app.command()
def add(
    stage: StageArg,
    name: Annotated[str, typer.Option(help="The trustee's name.")],
    email: Annotated[str, typer.Option(help="Where to reach them.")] = "",
    kind: Annotated[
        str, typer.Option(help=f"One of: {', '.join(KINDS)} (a member of the threshold group).")
    ] = "pedersen",
) -> None:
    """Name a trustee of the stage."""
    with _committee() as services:
        trustee = do_add_trustee(services, stage, name=name, email=email, kind=kind)
    console.print(
        f"{escape(trustee.name)} is trustee at position {trustee.position} ({trustee.kind})."
    )
    console.print(f"`unionvote trustees status {stage}` says what each trustee runs next.")


@admin_app.command("threshold")
def threshold_command(
    stage: StageArg,
    threshold: Annotated[int, typer.Argument(help="How many of the group must decrypt.")],
) -> None:
    """Set how many of the threshold group must decrypt (default: a majority, 2 of 3)."""
    with _committee() as services:
        do_set_threshold(services, stage, threshold)
    console.print(f"Any {threshold} of the group will be able to decrypt.")


@admin_app.command("server-key")
def server_key(
    stage: StageArg,
    out: Annotated[
        Path, typer.Option(help="Where to keep the server's private key (beside the database).")
    ],
) -> None:
    """Make the server's own key for the stage; only its public part goes into the database."""
    with _committee() as services:
        do_make_server_key(services, stage, out)
    console.print(f"The server's private key is in {out} (0600). Back it up; never publish it.")


@admin_app.command("import-key")
def import_key(stage: StageArg, position: PositionArg, file: FileArg) -> None:
    """Store a single trustee's public key once its proof checks."""
    with _committee() as services:
        do_submit_single_key(services, stage, position, _read(file))
    console.print(f"The key of trustee {position} is checked and stored.")


@admin_app.command("import-certificate")
def import_certificate(stage: StageArg, position: PositionArg, file: FileArg) -> None:
    """Store a threshold trustee's certificate (step 1) once it checks."""
    with _committee() as services:
        do_submit_certificate(services, stage, position, _read(file))
        _say_next(services, stage)


@admin_app.command()
def certificates(
    stage: StageArg,
    out: Annotated[Path, typer.Option(help="Where to write every certificate.")],
) -> None:
    """Write every certificate, for each threshold trustee's step 2."""
    with _session() as session:
        content = certificates_for(session, stage)
    _write(out, content)
    console.print(f"Send {out} to every threshold trustee for `unionvote trustee polynomial`.")


@admin_app.command("import-polynomial")
def import_polynomial(stage: StageArg, position: PositionArg, file: FileArg) -> None:
    """Store a threshold trustee's polynomial message (step 2) once it checks."""
    with _committee() as services:
        do_submit_polynomial(services, stage, position, _read(file))
        _say_next(services, stage)


@admin_app.command()
def vinput(
    stage: StageArg,
    position: PositionArg,
    out: Annotated[Path, typer.Option(help="Where to write the trustee's input for step 3.")],
) -> None:
    """Write what the trustee at POSITION needs for step 3 (`trustee verification-key`)."""
    with _session() as session:
        content = vinput_for(session, stage, position)
    _write(out, content)
    console.print(f"Send {out} to trustee {position} for `unionvote trustee verification-key`.")


@admin_app.command("import-verification-key")
def import_verification_key(stage: StageArg, position: PositionArg, file: FileArg) -> None:
    """Store a threshold trustee's public key share (step 3) once it checks."""
    with _committee() as services:
        do_submit_voutput(services, stage, position, _read(file))
        _say_next(services, stage)


@admin_app.command("finish")
def finish_admin(stage: StageArg) -> None:
    """Assemble the threshold group and fix the stage's trustee list."""
    with _committee() as services:
        items = do_finish_ceremony(services, stage)
    console.print(f"The key ceremony is finished: {len(items)} trustee items.")
    console.print(f"Trustee list fingerprint: {trustees_fingerprint(items)}")
    console.print(
        f"Next: `unionvote trustees public {stage} --out trustees.json` and send it to every "
        "trustee for `unionvote trustee finish`."
    )


@admin_app.command()
def restart(stage: StageArg) -> None:
    """Start the threshold group's ceremony again from step 1 (before it is finished)."""
    with _committee() as services:
        do_restart_ceremony(services, stage)
    console.print("The group's messages are forgotten; every threshold trustee runs `init` again.")


@admin_app.command()
def status(stage: StageArg) -> None:
    """Who has done which step, and what comes next."""
    with _session() as session:
        report = ceremony_status(session, stage)
    if report.size:
        console.print(f"Threshold group: any {report.threshold} of {report.size} decrypt.")
    for t in report.trustees:
        number = f" number {t.number}" if t.number is not None else ""
        done = ", ".join(t.done) if t.done else "nothing yet"
        email = f" <{t.email}>" if t.email else ""
        console.print(f"  {t.position}: {escape(t.name + email)} ({t.kind}{number}): {done}")
    if report.finished:
        console.print(f"Finished. Trustee list fingerprint: {report.fingerprint}")
    for step in report.next_steps:
        console.print(f"Next: {escape(step)}")


@admin_app.command()
def public(
    stage: StageArg,
    out: Annotated[Path, typer.Option(help="Where to write the public trustee list.")],
) -> None:
    """Write the final public trustee list, for each trustee's `unionvote trustee finish`."""
    with _session() as session:
        content = public_trustees(session, stage)
    _write(out, content)
    console.print(f"Send {out} to every trustee for `unionvote trustee finish`.")


@admin_app.command("election")
def election_command(
    stage: StageArg,
    out: Annotated[Path, typer.Option(help="Where to write the election's definition.")],
) -> None:
    """Write the election's definition (from its record), for `trustee decrypt --election`."""
    with _session() as session:
        row, _ = stage_row(session, stage)
        content = election_definition(session, row)
    _write(out, content)
    console.print(f"Send {out} with the decryption request to every trustee.")


def _say_next(services: Services, stage: str) -> None:
    console.print("Checked and stored.")
    with services.db.transaction() as session:
        report = ceremony_status(session, stage)
    for step in report.next_steps:
        console.print(f"Next: {escape(step)}")
