"""The membership roll as a union's membership system exports it: a CSV file, read and checked
row by row, streaming.

``RollReader(lines, source=...)`` reads the header (names are case-insensitive; common aliases
such as ``member_number``, ``lodge`` or ``zip`` are accepted; unknown columns are reported, not
refused, since exports carry extra columns such as phone numbers) and then yields every good
row with its line number. A bad row is not yielded: its problems are recorded, each with the
line, the column and why, and reading goes on so that *every* bad row is found. ``check()``
raises one :class:`RollError` listing them (the first :data:`PRINTED_PROBLEMS`, then how many
more). An import with any problem changes nothing.

Values are normalised so that the same member exported twice compares equal: whitespace is
collapsed, card numbers are upper-cased (a card number is an identifier: ``a123`` and ``A123``
are one member), dues statuses are mapped to the four the union uses (:class:`DuesStatus`),
countries are ISO 3166 codes in capitals, U.S. states and Canadian provinces are their postal
abbreviations, ZIP+4 is written ``12345-6789`` and Canadian postal codes ``A1A 1A1``, council
roles are lower case.

A member needs a card number, a last name (the first name may be empty: some members have one
name), a dues status and a country; everything else may be empty. A council role needs the
state it represents. A ``weight`` (aliases ``votes``, ``vote_weight``) is the member's vote in a
stage whose decision counts weights, such as the per-capita members a council member represents
at an AFL-CIO convention: a whole number from 1 to :data:`MAX_WEIGHT`, or empty.
"""

from __future__ import annotations

import csv
import datetime
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from unionvote.domain.errors import DomainError

__all__ = [
    "COLUMNS",
    "COMPARED_FIELDS",
    "DIFF_SAMPLE",
    "MAX_WEIGHT",
    "PRINTED_PROBLEMS",
    "DiffKind",
    "DuesStatus",
    "MemberChange",
    "RollDiff",
    "RollError",
    "RollProblem",
    "RollReader",
    "RollRow",
    "changed_fields",
    "normalise_dues_status",
    "parse_roll",
]

COLUMNS = (
    "card_number",
    "first_name",
    "last_name",
    "email",
    "street",
    "city",
    "postal_code",
    "state",
    "local",
    "dues_status",
    "country",
    "council_role",
    "council_state",
    "joined_on",
    "weight",
)
COMPARED_FIELDS = COLUMNS[1:]  # what a re-import compares, member by member
REQUIRED = ("card_number", "last_name", "dues_status", "country")
DIFF_SAMPLE = 1000  # changes of each kind kept in a RollDiff for display
PRINTED_PROBLEMS = 50  # problems printed in a refusal; the count of the rest follows
KEPT_PROBLEMS = 1000  # problems kept in memory; beyond this only the count grows
# A weight counts people: far above any union's (the AFL-CIO's 12.5 million members), far below
# the storage column's 2^63, so a mistyped figure is refused here rather than by the database.
MAX_WEIGHT = 10**12

# The storage columns' widths: a longer value is refused here, with its line, rather than by
# the database, without one.
MAX_LENGTH = {
    "card_number": 40,
    "first_name": 200,
    "last_name": 200,
    "email": 320,
    "street": 300,
    "city": 200,
    "postal_code": 20,
    "state": 40,
    "local": 40,
    "council_role": 100,
    "council_state": 40,
}


class DuesStatus(Enum):
    """The dues statuses a membership system reports, as the process file names them."""

    GOOD_STANDING = "good standing"
    ARREARS = "arrears"
    SUSPENDED = "suspended"
    RETIRED = "retired"


_DUES_ALIASES = {
    DuesStatus.GOOD_STANDING: (
        "good standing",
        "in good standing",
        "goodstanding",
        "good",
        "gs",
        "current",
        "paid up",
        "paid",
    ),
    DuesStatus.ARREARS: ("arrears", "in arrears", "arrear", "delinquent", "behind", "late"),
    DuesStatus.SUSPENDED: ("suspended", "susp", "suspension"),
    DuesStatus.RETIRED: ("retired", "retiree", "ret"),
}
_DUES = {alias: status for status, aliases in _DUES_ALIASES.items() for alias in aliases}


def normalise_dues_status(text: str) -> DuesStatus | None:
    """``"Good-Standing"``, ``"GOOD_STANDING"``, ``"in arrears"``… → the status, else None."""
    key = " ".join(text.replace("-", " ").replace("_", " ").replace(".", " ").lower().split())
    return _DUES.get(key)


# -- reference data ---------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# ISO 3166-1 alpha-2, the officially assigned codes.
_ISO_COUNTRIES = frozenset(
    _words(
        """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
    )
)
# Names people write instead of the code: refused, with the code to use.
_COUNTRY_HINTS = {
    "USA": "US",
    "U S": "US",
    "U S A": "US",
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "CAN": "CA",
    "CANADA": "CA",
    "MEX": "MX",
    "MEXICO": "MX",
    "UK": "GB",
}

US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}
CANADIAN_PROVINCES = {
    "AB": "Alberta",
    "BC": "British Columbia",
    "MB": "Manitoba",
    "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador",
    "NS": "Nova Scotia",
    "NT": "Northwest Territories",
    "NU": "Nunavut",
    "ON": "Ontario",
    "PE": "Prince Edward Island",
    "QC": "Quebec",
    "SK": "Saskatchewan",
    "YT": "Yukon",
}


def _lookup(table: Mapping[str, str]) -> dict[str, str]:
    out = {code: code for code in table}
    out.update({name.upper(): code for code, name in table.items()})
    return out


_REGIONS = {"US": _lookup(US_STATES), "CA": _lookup(CANADIAN_PROVINCES)}
_REGION_WORD = {"US": "U.S. state", "CA": "Canadian province"}

_HEADER_ALIASES = {
    "card_number": (
        "card",
        "card_no",
        "card_num",
        "card_id",
        "member_number",
        "member_no",
        "member_num",
        "member_id",
        "membership_number",
        "membership_no",
    ),
    "first_name": ("first", "firstname", "given_name", "forename"),
    "last_name": ("last", "lastname", "surname", "family_name"),
    "email": ("e_mail", "email_address", "mail"),
    "street": ("address", "address1", "address_1", "address_line_1", "street_address"),
    "city": ("town",),
    "postal_code": ("postcode", "postal", "zip", "zip_code", "zipcode"),
    "state": ("province", "state_province", "region"),
    "local": ("lodge", "local_lodge", "local_number", "lodge_number", "local_union"),
    "dues_status": ("dues", "status", "standing", "membership_status", "dues_standing"),
    "country": ("country_code",),
    "council_role": ("role",),
    "council_state": (),
    "joined_on": ("joined", "join_date", "date_joined", "initiation_date", "member_since"),
    "weight": ("votes", "vote_weight"),
}
_HEADERS = {alias: name for name, aliases in _HEADER_ALIASES.items() for alias in aliases} | {
    name: name for name in COLUMNS
}


def _header_key(text: str) -> str:
    text = text.strip().lstrip("\ufeff").lower().replace("#", " number ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# -- rows ---------------------------------------------------------------------------------------


class RollRow(NamedTuple):
    """One member as exported, normalised. ``dues_status`` is a :class:`DuesStatus` value.

    A named tuple rather than a dataclass: a roll holds a million of them in passing, and a
    tuple is the cheapest to build, compare and slice.
    """

    card_number: str
    first_name: str
    last_name: str
    email: str
    street: str
    city: str
    postal_code: str
    state: str
    local: str
    dues_status: str
    country: str
    council_role: str
    council_state: str
    joined_on: datetime.date | None
    weight: int | None = None

    def compared(self) -> tuple[object, ...]:
        """The values a re-import compares, in :data:`COMPARED_FIELDS` order."""
        return self[1:]

    def to_record(self) -> list[str]:
        """The row as CSV fields, in :data:`COLUMNS` order."""
        joined, weight = self.joined_on, self.weight
        return [
            *self[:-2],
            joined.isoformat() if joined is not None else "",
            str(weight) if weight is not None else "",
        ]


@dataclass(frozen=True, slots=True)
class RollProblem:
    """What is wrong with a line of the roll: ``column`` is the field (or ``header``, ``row``)."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


class RollError(DomainError):
    """A roll was refused; ``problems`` holds the first ones found, ``count`` how many in all."""

    def __init__(self, source: str, problems: Sequence[RollProblem], count: int) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.count = count
        rows = len({p.line for p in self.problems})
        shown = [f"{source}:{p}" for p in self.problems[:PRINTED_PROBLEMS]]
        more = count - len(shown)
        tail = [f"… and {more} more problem{'s' if more != 1 else ''}"] if more > 0 else []
        super().__init__(
            "roll",
            f"{source} was refused, nothing was imported: {count} problem"
            f"{'s' if count != 1 else ''}"
            + (
                f" on {rows}{'+' if count > len(self.problems) else ''} "
                f"line{'s' if rows != 1 or count > len(self.problems) else ''}"
                if rows
                else ""
            )
            + "\n"
            + "\n".join(shown + tail),
        )


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CARD = re.compile(r"[A-Z0-9][A-Z0-9-]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_US_ZIP = re.compile(r"(\d{5})(?:-?(\d{4}))?")
_CA_POSTAL = re.compile(r"([A-Z]\d[A-Z]) ?(\d[A-Z]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SLASH_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{2,4}")
_LIMITS = tuple(MAX_LENGTH.get(column, 1 << 30) for column in COLUMNS)  # dates, weights apart
_DUES_VALUES = {alias: status.value for alias, status in _DUES.items()}


def _parse_row(line: int, fields: Sequence[str]) -> RollRow | list[RollProblem]:
    """Check one record, given its values in :data:`COLUMNS` order with whitespace collapsed.

    Written for speed (a roll has a million rows): the common case takes the fast paths."""
    (
        card,
        first,
        last,
        email,
        street,
        city,
        postal,
        state,
        local,
        dues,
        country,
        role,
        council_state,
        joined_text,
        weight_text,
    ) = fields
    problems: list[RollProblem] = []
    if any(map(operator.gt, map(len, fields), _LIMITS)):
        for column, limit, value in zip(COLUMNS, _LIMITS, fields, strict=True):
            if len(value) > limit:
                problems.append(
                    RollProblem(
                        line, column, f"{len(value)} characters, at most {limit} are allowed"
                    )
                )
    card = card.upper()
    if not card:
        problems.append(RollProblem(line, "card_number", "missing card number"))
    elif _CARD.fullmatch(card) is None:
        problems.append(
            RollProblem(
                line, "card_number", f"{card!r}: only letters, digits and hyphens are allowed"
            )
        )
    if not last:
        problems.append(RollProblem(line, "last_name", "missing last name"))
    if email and _EMAIL.fullmatch(email) is None:
        problems.append(RollProblem(line, "email", f"{email!r} is not an email address"))

    country = country.upper()
    if country not in _ISO_COUNTRIES:
        country = " ".join(country.replace(".", " ").split())
        if not country:
            message = "missing country (a two-letter ISO code such as US or CA)"
        else:
            hint = _COUNTRY_HINTS.get(country)
            message = f"{country!r} is not an ISO 3166 country code" + (
                f"; write {hint!r}" if hint else " (two letters, such as US or CA)"
            )
        problems.append(RollProblem(line, "country", message))

    regions = _REGIONS.get(country)
    if regions is not None:
        state = _region(line, "state", state, country, regions, problems)
        council_state = _region(line, "council_state", council_state, country, regions, problems)
    if postal:
        postal = _postal_code(line, postal, country, problems)

    status = _DUES_VALUES.get(dues.lower())
    if status is None:
        found = normalise_dues_status(dues)
        if found is None:
            known = ", ".join(s.value for s in DuesStatus)
            problems.append(
                RollProblem(
                    line,
                    "dues_status",
                    (f"unknown dues status {dues!r}" if dues else "missing dues status")
                    + f" (expected one of: {known})",
                )
            )
        else:
            status = found.value

    role = role.lower()
    if role and not council_state:
        problems.append(
            RollProblem(
                line, "council_state", f"council role {role!r} without the state it represents"
            )
        )
    elif council_state and not role:
        problems.append(
            RollProblem(
                line, "council_role", f"council state {council_state!r} without a council role"
            )
        )

    joined = _date(line, joined_text, problems) if joined_text else None
    weight = _weight(line, weight_text, problems) if weight_text else None
    if problems:
        return problems
    assert status is not None
    return RollRow(
        card,
        first,
        last,
        email,
        street,
        city,
        postal,
        state,
        local,
        status,
        country,
        role,
        council_state,
        joined,
        weight,
    )


def _region(
    line: int,
    column: str,
    value: str,
    country: str,
    regions: Mapping[str, str],
    problems: list[RollProblem],
) -> str:
    if not value:
        return value
    code = regions.get(value.upper()) or regions.get(value.upper().replace(".", ""))
    if code is None:
        word = _REGION_WORD[country]
        problems.append(RollProblem(line, column, f"{value!r} is not a {word} (country {country})"))
        return value
    return code


def _postal_code(line: int, value: str, country: str, problems: list[RollProblem]) -> str:
    if country == "US":
        match = _US_ZIP.fullmatch(value.replace(" ", ""))
        if match is None:
            hint = (
                " (a spreadsheet may have dropped a leading zero)"
                if value.isdigit() and len(value) in (3, 4, 7, 8)
                else ""
            )
            problems.append(
                RollProblem(
                    line,
                    "postal_code",
                    f"{value!r} is not a ZIP code (12345 or 12345-6789){hint}",
                )
            )
            return value
        return match[1] if match[2] is None else f"{match[1]}-{match[2]}"
    if country == "CA":
        match = _CA_POSTAL.fullmatch(value.upper())
        if match is None:
            problems.append(
                RollProblem(
                    line, "postal_code", f"{value!r} is not a Canadian postal code (A1A 1A1)"
                )
            )
            return value
        return f"{match[1]} {match[2]}"
    return value


def _date(line: int, value: str, problems: list[RollProblem]) -> datetime.date | None:
    if _DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            problems.append(
                RollProblem(line, "joined_on", f"{value!r} is not a date in the calendar")
            )
            return None
    hint = (
        " (month/day/year is ambiguous: write YYYY-MM-DD)" if _SLASH_DATE.fullmatch(value) else ""
    )
    problems.append(
        RollProblem(line, "joined_on", f"{value!r} is not a date written YYYY-MM-DD{hint}")
    )
    return None


_GROUPED_DIGITS = re.compile(r"\d{1,3}(,\d{3})+")


def _weight(line: int, value: str, problems: list[RollProblem]) -> int | None:
    if value.isascii() and value.isdigit():
        # the length first: int() of a long digit string is slow, and refused past 4,300 digits
        weight = int(value) if len(value) <= 20 else MAX_WEIGHT + 1
        if 1 <= weight <= MAX_WEIGHT:
            return weight
        problems.append(
            RollProblem(
                line, "weight", f"{value[:40]!r}: a weight is from 1 to {MAX_WEIGHT:,} (or empty)"
            )
        )
        return None
    hint = (
        " (write it without separators)"
        if _GROUPED_DIGITS.fullmatch(value)
        else " (write a whole number of votes, or leave it empty)"
    )
    problems.append(RollProblem(line, "weight", f"{value[:40]!r} is not a whole number{hint}"))
    return None


# -- reading a file ---------------------------------------------------------------------------


class RollReader:
    """Reads a roll export, streaming: iterate for ``(line, row)`` of every good row.

    ``lines`` is any iterable of text lines (an open file with ``newline=""``). Bad rows are
    not yielded; their problems accumulate in ``problems`` (the first :data:`KEPT_PROBLEMS`)
    and ``problem_count``. Duplicate card numbers are found across the whole file, each
    reported with both lines. Call :meth:`check` after iterating.
    """

    def __init__(self, lines: Iterable[str], *, source: str = "<roll>") -> None:
        self.source = source
        self.problems: list[RollProblem] = []
        self.problem_count = 0
        self.rows = 0
        self.unknown_columns: tuple[str, ...] = ()
        self._seen: dict[str, int] = {}
        self._csv = csv.reader(lines, strict=True)
        self._fields: tuple[str | None, ...] = ()
        self._read_header()

    @property
    def cards(self) -> Mapping[str, int]:
        """Every card number read so far (good rows only), with its line."""
        return self._seen

    def _add(self, problems: Iterable[RollProblem]) -> None:
        for problem in problems:
            self.problem_count += 1
            if len(self.problems) < KEPT_PROBLEMS:
                self.problems.append(problem)

    def _read_header(self) -> None:
        try:
            header = next(self._csv, None)
        except csv.Error as error:
            self._add([RollProblem(1, "header", f"unreadable CSV: {error}")])
            return
        if header is None or not any(h.strip() for h in header):
            self._add([RollProblem(1, "header", "the file is empty: expected a header line")])
            return
        fields: list[str | None] = []
        unknown: list[str] = []
        problems: list[RollProblem] = []
        for raw in header:
            name = _HEADERS.get(_header_key(raw))
            if name is not None and name in fields:
                problems.append(RollProblem(1, "header", f"two columns give {name} ({raw!r})"))
                name = None
            elif name is None and raw.strip():
                unknown.append(raw.strip())
            fields.append(name)
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            problems.append(
                RollProblem(
                    1,
                    "header",
                    f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                    f"(the columns are: {', '.join(COLUMNS)})",
                )
            )
        self._add(problems)
        self.unknown_columns = tuple(unknown)
        if not problems:
            self._fields = tuple(fields)

    def __iter__(self) -> Iterator[tuple[int, RollRow]]:
        if not self._fields:
            return
        width = len(self._fields)
        # where each of COLUMNS is in the file, or -1: the empty last field stands in
        index = [self._fields.index(c) if c in self._fields else -1 for c in COLUMNS]
        pick = operator.itemgetter(*index)
        previous = self._csv.line_num
        while True:
            try:
                record = next(self._csv, None)
            except csv.Error as error:
                # The reader resumes at the next line: the rest of the file is still checked.
                self.rows += 1
                self._add([RollProblem(previous + 1, "row", f"unreadable CSV: {error}")])
                if self._csv.line_num == previous:
                    return
                previous = self._csv.line_num
                continue
            if record is None:
                return
            line, previous = previous + 1, self._csv.line_num
            # The common case, a record of printable text with single spaces inside its values
            # (a value's leading or trailing space shows next to a "|"), has nothing to tidy.
            joined = "|".join(record)
            tidy = joined.isprintable() and not (
                "  " in joined
                or " |" in joined
                or "| " in joined
                or joined.startswith(" ")
                or joined.endswith(" ")
            )
            if not any(record) if tidy else not "".join(record).strip():
                continue  # blank lines and the ",,,," rows spreadsheets leave
            self.rows += 1
            if len(record) != width:
                self._add(
                    [RollProblem(line, "row", f"{len(record)} fields, the header has {width}")]
                )
                continue
            record.append("")
            if tidy:
                fields: Sequence[str] = pick(record)
            elif _CONTROL.search(joined):
                self._add([RollProblem(line, "row", "contains a control character")])
                continue
            else:
                fields = [" ".join(record[i].split()) for i in index]
            parsed = _parse_row(line, fields)
            if isinstance(parsed, list):
                self._add(parsed)
                continue
            first = self._seen.setdefault(parsed.card_number, line)
            if first != line:
                self._add(
                    [
                        RollProblem(
                            line,
                            "card_number",
                            f"duplicate card number {parsed.card_number} (also on line {first})",
                        )
                    ]
                )
                continue
            yield line, parsed

    def check(self) -> None:
        """Raise :class:`RollError` listing the problems, if any were found."""
        if self.problem_count:
            raise RollError(self.source, self.problems, self.problem_count)


def parse_roll(lines: Iterable[str], *, source: str = "<roll>") -> list[RollRow]:
    """Every row of a roll export, or :class:`RollError` listing every problem."""
    reader = RollReader(lines, source=source)
    rows = [row for _, row in reader]
    reader.check()
    return rows


# -- differences --------------------------------------------------------------------------------


class DiffKind(Enum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


def changed_fields(stored: Sequence[object], row: RollRow) -> tuple[str, ...]:
    """The fields (of :data:`COMPARED_FIELDS`) in which ``row`` differs from the stored values."""
    return tuple(
        name
        for name, old, new in zip(COMPARED_FIELDS, stored, row.compared(), strict=True)
        if old != new
    )


@dataclass(frozen=True, slots=True)
class MemberChange:
    """One member's difference: ``fields`` that changed; ``line`` in the file (not if removed)."""

    card_number: str
    kind: DiffKind
    fields: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class RollDiff:
    """What an import changes (or would change, for a dry run).

    The counts are exact; ``changes`` lists the first :data:`DIFF_SAMPLE` changes of each kind
    (a roll of a million members would otherwise be held in memory twice); ``changed_fields``
    counts, per field, the members whose value changed.
    """

    source_name: str
    digest: str
    rows: int
    added: int
    changed: int
    removed: int
    unchanged: int
    applied: bool
    changed_fields: Mapping[str, int] = field(default_factory=dict)
    changes: tuple[MemberChange, ...] = ()
    unknown_columns: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)
