"""``registered.csv``: the registered members as the server exports them for the authority.

The first line is a comment carrying, as JSON, the election's uuid (credentials derive from it),
the stage key, the election's name and the number of rows, so that a truncated or mismatched
file is caught before any credential is made::

    # unionvote-registered {"count": 2, "stage": "membership-vote", "title": "…", "uuid": "…"}
    card_number,first_name,last_name,email,street,city,postal_code,state,country,local,weight
    …

An optional ``language`` column (``en`` or ``es``) chooses the language of the member's
message; without it, English. ``weight`` is empty when the election does not use weights.
The server writes this file (``unionvote.services.credentials``); the same column list is
pinned on both sides by a test, since the authority must not import the server's storage.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from unionvote.authority.errors import AuthorityError
from unionvote.crypto.encoding import BASE58_ALPHABET

__all__ = [
    "COLUMNS",
    "HEADER_PREFIX",
    "LANGUAGES",
    "RegisteredHeader",
    "RegisteredMember",
    "format_header",
    "open_registered",
    "read_header",
    "read_registered",
    "read_registered_cards",
]

HEADER_PREFIX = "# unionvote-registered "
COLUMNS = (
    "card_number",
    "first_name",
    "last_name",
    "email",
    "street",
    "city",
    "postal_code",
    "state",
    "country",
    "local",
    "weight",
)
LANGUAGES = ("en", "es")


@dataclass(frozen=True, slots=True)
class RegisteredHeader:
    """What the server says about the file: which election, which stage, how many members."""

    uuid: str
    stage: str
    count: int
    title: str = ""
    union: str = ""

    @property
    def election(self) -> str:
        """The election's name as a member reads it."""
        return " — ".join(part for part in (self.union, self.title) if part) or self.stage

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "stage": self.stage,
            "title": self.title,
            "union": self.union,
            "uuid": self.uuid,
        }


@dataclass(frozen=True, slots=True)
class RegisteredMember:
    """One registered member: who they are, where to reach them, and their weight."""

    card_number: str
    first_name: str
    last_name: str
    email: str
    street: str
    city: str
    postal_code: str
    state: str
    country: str
    local: str
    weight: int | None
    language: str = "en"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def address_lines(self) -> list[str]:
        """The postal address block, as it goes in an envelope's window."""
        place = " ".join(p for p in (self.city + ("," if self.state else ""), self.state) if p)
        place = " ".join(p for p in (place, self.postal_code) if p)
        lines = [self.name, self.street, place]
        if self.country and self.country.upper() != "US":
            lines.append(self.country.upper())
        return [line for line in lines if line.strip()]


def format_header(header: RegisteredHeader) -> str:
    """The comment line that opens the file (without its newline)."""
    return HEADER_PREFIX + json.dumps(header.to_json(), sort_keys=True, ensure_ascii=False)


def read_header(line: str, *, source: str = "registered.csv") -> RegisteredHeader:
    """Parse the opening comment line; a clear error if it is not ours."""
    if not line.startswith(HEADER_PREFIX):
        raise AuthorityError(
            "registered.header",
            f"{source}:1: the file does not start with the server's comment line "
            f"({HEADER_PREFIX.strip()} …); export it with `unionvote electorate export`",
        )
    try:
        obj = json.loads(line[len(HEADER_PREFIX) :])
    except json.JSONDecodeError as error:
        raise AuthorityError(
            "registered.header", f"{source}:1: the comment line is not valid JSON: {error.msg}"
        ) from error
    if not isinstance(obj, dict):
        raise AuthorityError("registered.header", f"{source}:1: the comment line is not an object")
    uuid, stage, count = obj.get("uuid"), obj.get("stage"), obj.get("count")
    if not isinstance(uuid, str) or len(uuid) < 14 or any(ch not in BASE58_ALPHABET for ch in uuid):
        raise AuthorityError(
            "registered.uuid", f"{source}:1: the election uuid is missing or not Base58"
        )
    if not isinstance(stage, str) or not stage:
        raise AuthorityError("registered.stage", f"{source}:1: the stage key is missing")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise AuthorityError("registered.count", f"{source}:1: the member count is missing")
    title, union = obj.get("title", ""), obj.get("union", "")
    return RegisteredHeader(
        uuid,
        stage,
        count,
        title if isinstance(title, str) else "",
        union if isinstance(union, str) else "",
    )


def read_registered(
    stream: TextIO, *, source: str = "registered.csv"
) -> tuple[RegisteredHeader, Iterator[RegisteredMember]]:
    """The header, then the members one at a time (the file may hold a million rows).

    The iterator raises :class:`AuthorityError` naming the line of the first bad row, and at
    the end if the number of rows differs from the header's count (a truncated file).
    """
    header = read_header(stream.readline().rstrip("\r\n"), source=source)
    return header, _members(stream, header, source)


def read_registered_cards(
    stream: TextIO, *, source: str = "registered.csv"
) -> tuple[RegisteredHeader, Iterator[tuple[str, int | None]]]:
    """:func:`read_registered` for making credentials: each member's card number and weight
    only, every row checked the same way (a third of the cost: no member object is made)."""
    header = read_header(stream.readline().rstrip("\r\n"), source=source)
    return header, ((fields[0], weight) for fields, weight, _ in _rows(stream, header, source))


def _members(stream: TextIO, header: RegisteredHeader, source: str) -> Iterator[RegisteredMember]:
    for fields, weight, language in _rows(stream, header, source):
        card, first, last, email, street, city, postal, state, country, local = fields
        yield RegisteredMember(
            card_number=card,
            first_name=first,
            last_name=last,
            email=email,
            street=street,
            city=city,
            postal_code=postal,
            state=state,
            country=country,
            local=local,
            weight=weight,
            language=language,
        )


def _rows(
    stream: TextIO, header: RegisteredHeader, source: str
) -> Iterator[tuple[list[str], int | None, str]]:
    """Each row checked: its first ten fields stripped, its weight and its language."""
    reader = csv.reader(stream)
    columns = next(reader, None)
    if columns is None or tuple(columns[: len(COLUMNS)]) != COLUMNS:
        raise AuthorityError(
            "registered.columns",
            f"{source}:2: the columns must be {','.join(COLUMNS)}[,language]",
        )
    extra = columns[len(COLUMNS) :]
    if extra not in ([], ["language"]):
        raise AuthorityError(
            "registered.columns", f"{source}:2: unexpected columns: {','.join(extra)}"
        )
    width = len(columns)
    seen: set[str] = set()
    weighted: bool | None = None
    count = 0
    strip = str.strip
    for fields in reader:
        if len(fields) != width:
            line = reader.line_num + 1  # the comment line was read before the reader started
            raise AuthorityError(
                "registered.row", f"{source}:{line}: {len(fields)} fields instead of {width}"
            )
        names = list(map(strip, fields[:10]))
        card = names[0]
        if not card:
            raise AuthorityError(
                "registered.row", f"{source}:{reader.line_num + 1}: the card number is empty"
            )
        weight = _weight(fields[10], card, reader.line_num + 1, source)
        language = "en"
        if width > 11:
            language = fields[11].strip().lower() or "en"
            if language not in LANGUAGES:
                raise AuthorityError(
                    "registered.language",
                    f"{source}:{reader.line_num + 1}: language {language!r} is not one of "
                    f"{', '.join(LANGUAGES)}",
                )
        if card in seen:
            raise AuthorityError(
                "registered.duplicate",
                f"{source}:{reader.line_num + 1}: card number {card} appears twice",
            )
        seen.add(card)
        if weighted is None:
            weighted = weight is not None
        elif weighted != (weight is not None):
            raise AuthorityError(
                "registered.weight",
                f"{source}:{reader.line_num + 1}: either every member has a weight or none has",
            )
        count += 1
        yield names, weight, language
    if count != header.count:
        raise AuthorityError(
            "registered.count",
            f"{source}: {count} members in the file but the server's line says {header.count} "
            "(is the file truncated?)",
        )


def _weight(field: str, card: str, line: int, source: str) -> int | None:
    text = field.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise AuthorityError(
            "registered.weight",
            f"{source}:{line}: the weight of card {card} is not a positive whole number",
        )
    return int(text)


def open_registered(path: Path) -> TextIO:
    """Open the file as the server wrote it (UTF-8, CSV newlines)."""
    return path.open(encoding="utf-8", newline="")
