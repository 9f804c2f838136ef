"""The credential authority's workspace: a directory only the authority can read.

``generate_workspace`` makes it from the server's ``registered.csv``::

    DIR/                          0700
      workspace.json              the election (uuid, stage, name), how to vote, whom to contact
      registered.csv              0600  the members as the server exported them (addresses)
      private-credentials.csv     0600  card_number,credential — never leaves the authority
      public-credentials.json     for the server: card number ↔ public credential, and weight
      deliveries.jsonl            0600  every delivery step (email, letter), one JSON a line

Everything is written under temporary names and renamed at the end, ``workspace.json`` last:
an interrupted run leaves no workspace that looks complete, and an existing workspace is never
overwritten (its private credentials may already have been sent).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from unionvote.authority.errors import AuthorityError
from unionvote.authority.generation import Batch, derive_stream
from unionvote.authority.registered import (
    RegisteredHeader,
    RegisteredMember,
    open_registered,
    read_registered,
    read_registered_cards,
)
from unionvote.crypto.credentials import PrivateCredential
from unionvote.crypto.errors import EncodingError

__all__ = [
    "DELIVERIES",
    "INFO",
    "PRIVATE",
    "PUBLIC",
    "REGISTERED",
    "Workspace",
    "WorkspaceInfo",
    "generate_workspace",
    "utc_now",
]

INFO = "workspace.json"
REGISTERED = "registered.csv"
PRIVATE = "private-credentials.csv"
PUBLIC = "public-credentials.json"
DELIVERIES = "deliveries.jsonl"
PRIVATE_COLUMNS = ("card_number", "credential")
LOG_FORMAT = "unionvote-deliveries/1"
_BATCH = 2000


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True, slots=True)
class WorkspaceInfo:
    """What every message and letter says about the election, fixed when credentials are made."""

    uuid: str
    stage: str
    election: str
    count: int
    created_at: str
    vote_url: str = ""
    contact: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "count": self.count,
            "created_at": self.created_at,
            "election": self.election,
            "stage": self.stage,
            "uuid": self.uuid,
            "vote_url": self.vote_url,
        }

    @classmethod
    def from_json(cls, obj: Any) -> WorkspaceInfo:
        try:
            return cls(
                uuid=str(obj["uuid"]),
                stage=str(obj["stage"]),
                election=str(obj["election"]),
                count=int(obj["count"]),
                created_at=str(obj["created_at"]),
                vote_url=str(obj.get("vote_url", "")),
                contact=str(obj.get("contact", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AuthorityError("workspace.info", f"{INFO} is damaged: {error}") from error


@dataclass(frozen=True)
class Workspace:
    """An existing, complete workspace."""

    directory: Path
    info: WorkspaceInfo

    @classmethod
    def open(cls, directory: Path) -> Workspace:
        info_path = directory / INFO
        if not info_path.is_file():
            raise AuthorityError(
                "workspace.missing",
                f"{directory} is not a credentials workspace (no {INFO}); "
                "make one with `unionvote credentials generate`",
            )
        for name in (REGISTERED, PRIVATE, DELIVERIES):
            if not (directory / name).is_file():
                raise AuthorityError("workspace.damaged", f"{directory / name} is missing")
        if directory.stat().st_mode & 0o077:
            raise AuthorityError(
                "workspace.permissions",
                f"{directory} can be read by other users; run `chmod 700 {directory}` first",
            )
        try:
            obj = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise AuthorityError("workspace.info", f"{info_path} is unreadable: {error}") from error
        return cls(directory, WorkspaceInfo.from_json(obj))

    @property
    def registered_path(self) -> Path:
        return self.directory / REGISTERED

    @property
    def private_path(self) -> Path:
        return self.directory / PRIVATE

    @property
    def public_path(self) -> Path:
        return self.directory / PUBLIC

    @property
    def deliveries_path(self) -> Path:
        return self.directory / DELIVERIES

    def registered(self) -> Iterator[RegisteredMember]:
        """The members, in the file's order, without their credentials."""
        with open_registered(self.registered_path) as stream:
            _, rows = read_registered(stream, source=str(self.registered_path))
            yield from rows

    def members(self) -> Iterator[tuple[RegisteredMember, PrivateCredential]]:
        """Each member with their private credential (the two files are in the same order)."""
        with (
            open_registered(self.registered_path) as stream,
            self.private_path.open(encoding="utf-8", newline="") as private,
        ):
            _, rows = read_registered(stream, source=str(self.registered_path))
            reader = csv.reader(private)
            if tuple(next(reader, ())) != PRIVATE_COLUMNS:
                raise AuthorityError("workspace.damaged", f"{self.private_path}: bad columns")
            for member in rows:
                fields = next(reader, None)
                if fields is None or len(fields) != 2 or fields[0] != member.card_number:
                    raise AuthorityError(
                        "workspace.damaged",
                        f"{self.private_path}:{reader.line_num}: does not match "
                        f"{REGISTERED} at card {member.card_number}",
                    )
                try:
                    credential = PrivateCredential(fields[1])
                except EncodingError as error:
                    raise AuthorityError(
                        "workspace.damaged",
                        f"{self.private_path}:{reader.line_num}: not a credential",
                    ) from error
                yield member, credential
            if next(reader, None) is not None:
                raise AuthorityError(
                    "workspace.damaged", f"{self.private_path} has more rows than {REGISTERED}"
                )

    def member(self, card_number: str) -> tuple[RegisteredMember, PrivateCredential]:
        for member, credential in self.members():
            if member.card_number == card_number:
                return member, credential
        raise AuthorityError(
            "workspace.card", f"card number {card_number} is not in this workspace"
        )


def generate_workspace(
    registered: Path,
    directory: Path,
    *,
    vote_url: str = "",
    contact: str = "",
    workers: int = 1,
    now: Callable[[], datetime.datetime] = utc_now,
    started: Callable[[RegisteredHeader], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Workspace:
    """Make one private credential per registered member and the public list for the server.

    ``started`` is told the file's header (its member count) before the work begins and
    ``progress`` the number of members done after each batch.
    """
    created = _create_directory(directory)
    temporary: list[Path] = []

    def partial(name: str, mode: int) -> Path:
        path = directory / f".{name}.partial"
        temporary.append(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.close(fd)
        path.chmod(mode)  # the umask may have narrowed it; it never widens 0600
        return path

    try:
        copy = partial(REGISTERED, 0o600)
        with registered.open("rb") as source, copy.open("wb") as target:
            shutil.copyfileobj(source, target)
        with open_registered(copy) as stream:
            header, rows = read_registered_cards(stream, source=str(registered))
            if started is not None:
                started(header)
            private, public = partial(PRIVATE, 0o600), partial(PUBLIC, 0o644)
            with (
                private.open("w", encoding="utf-8", newline="") as private_out,
                public.open("w", encoding="utf-8") as public_out,
            ):
                _write(header, rows, private_out, public_out, workers, progress)
        log = partial(DELIVERIES, 0o600)
        log.write_text(
            json.dumps({"format": LOG_FORMAT, "stage": header.stage, "uuid": header.uuid}) + "\n",
            encoding="utf-8",
        )
        info = WorkspaceInfo(
            uuid=header.uuid,
            stage=header.stage,
            election=header.election,
            count=header.count,
            created_at=now().isoformat(),
            vote_url=vote_url,
            contact=contact,
        )
        info_partial = partial(INFO, 0o600)
        info_partial.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
        for path in temporary:
            path.replace(directory / path.name[1 : -len(".partial")])
        _fsync_directory(directory)
    except BaseException:
        for path in temporary:
            path.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return Workspace(directory, info)


def _write(
    header: RegisteredHeader,
    rows: Iterator[tuple[str, int | None]],
    private_out: TextIO,
    public_out: TextIO,
    workers: int,
    progress: Callable[[int], None] | None,
) -> None:
    private_out.write(",".join(PRIVATE_COLUMNS) + "\n")
    public_out.write(
        "{" + f'"uuid": {json.dumps(header.uuid)}, "stage": {json.dumps(header.stage)}, '
        '"credentials": ['
    )
    done = 0
    for batch, lines in derive_stream(header.uuid, _batches(rows), workers=workers):
        private_out.write(lines.private)
        public_out.write(("," if done else "") + "\n" + lines.public)
        done += len(batch.cards)
        if progress is not None:
            progress(done)
    public_out.write("\n]}\n")
    for stream in (private_out, public_out):
        stream.flush()
        os.fsync(stream.fileno())


def _batches(rows: Iterator[tuple[str, int | None]]) -> Iterator[Batch]:
    while pairs := list(islice(rows, _BATCH)):
        cards, weights = zip(*pairs, strict=True)
        yield Batch(list(cards), list(weights))


def _create_directory(directory: Path) -> bool:
    """Make the workspace directory (0700); True if it was made here. An existing non-empty
    directory is refused: it may hold credentials already delivered."""
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        if not directory.is_dir() or any(directory.iterdir()):
            raise AuthorityError(
                "workspace.exists",
                f"{directory} already exists and is not empty; refusing to overwrite a "
                "workspace (choose a new directory)",
            ) from None
        directory.chmod(0o700)
        return False
    except FileNotFoundError:
        raise AuthorityError(
            "workspace.parent", f"the parent directory of {directory} does not exist"
        ) from None
    directory.chmod(0o700)  # mkdir's mode is narrowed by the umask, never widened
    return True


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
