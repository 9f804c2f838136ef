"""A synthetic membership roll for rehearsals and benchmarks: realistic in shape, reproducible
from a seed, made of nobody.

Members live in the U.S. states (and D.C.) in proportion to the 2020 census population, with a
few in Canada (about 1.5%, ineligible under the IAM's U.S.-only rule). Each state has its local
lodges (more in larger states, numbered within the state's own block, some much larger than
others); dues are mostly in good standing, with some in arrears, suspended or retired; about 3%
joined after the IAM's 2023-11-01 cutoff and 2% have no joined date. The first member drawn in
each of the fifty states is that state's council president (in good standing, joined long
before the cutoff); their weight, for a stage whose decision counts weights, is a per-capita
figure proportional to their state's population (:func:`council_weight`: 500 to 60,000, as
the members they represent might number), and every other member has none. Emails are
``m<card>@members.example`` (a reserved domain: nothing can be delivered to a real person by
mistake).

Only ``random.Random.random()`` is drawn from, never ``choice``/``shuffle``: its sequence for a
seed is the one the standard library guarantees across Python versions, so a seed names the
same roll everywhere.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from unionvote.domain.roll import COLUMNS, DuesStatus, RollRow

__all__ = ["COUNCIL_PRESIDENT", "council_weight", "synthetic_roll", "write_roll_csv"]

COUNCIL_PRESIDENT = "state council president"
_CANADA_SHARE = 0.015


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (code, population in thousands at the 2020 census, two cities, first three ZIP digits range)
_STATES: tuple[tuple[str, int, str, str, int, int], ...] = (
    ("AL", 5024, "Birmingham", "Huntsville", 350, 369),
    ("AK", 733, "Anchorage", "Fairbanks", 995, 999),
    ("AZ", 7152, "Phoenix", "Tucson", 850, 865),
    ("AR", 3012, "Little Rock", "Fort Smith", 716, 729),
    ("CA", 39538, "Los Angeles", "San Diego", 900, 961),
    ("CO", 5774, "Denver", "Colorado Springs", 800, 816),
    ("CT", 3606, "Hartford", "Groton", 60, 69),
    ("DE", 990, "Wilmington", "Dover", 197, 199),
    ("DC", 690, "Washington", "Washington", 200, 205),
    ("FL", 21538, "Jacksonville", "Miami", 320, 349),
    ("GA", 10712, "Atlanta", "Savannah", 300, 319),
    ("HI", 1455, "Honolulu", "Hilo", 967, 968),
    ("ID", 1839, "Boise", "Pocatello", 832, 838),
    ("IL", 12813, "Chicago", "Rockford", 600, 629),
    ("IN", 6786, "Indianapolis", "Fort Wayne", 460, 479),
    ("IA", 3190, "Des Moines", "Cedar Rapids", 500, 528),
    ("KS", 2938, "Wichita", "Kansas City", 660, 679),
    ("KY", 4506, "Louisville", "Lexington", 400, 427),
    ("LA", 4658, "New Orleans", "Baton Rouge", 700, 714),
    ("ME", 1362, "Portland", "Bath", 39, 49),
    ("MD", 6177, "Baltimore", "Hagerstown", 206, 219),
    ("MA", 7030, "Boston", "Lynn", 10, 27),
    ("MI", 10077, "Detroit", "Grand Rapids", 480, 499),
    ("MN", 5706, "Minneapolis", "Duluth", 550, 567),
    ("MS", 2961, "Jackson", "Pascagoula", 386, 397),
    ("MO", 6154, "St. Louis", "Kansas City", 630, 658),
    ("MT", 1084, "Billings", "Great Falls", 590, 599),
    ("NE", 1962, "Omaha", "Lincoln", 680, 693),
    ("NV", 3105, "Las Vegas", "Reno", 889, 898),
    ("NH", 1377, "Manchester", "Portsmouth", 30, 38),
    ("NJ", 9289, "Newark", "Trenton", 70, 89),
    ("NM", 2118, "Albuquerque", "Las Cruces", 870, 884),
    ("NY", 20201, "New York", "Buffalo", 100, 149),
    ("NC", 10439, "Charlotte", "Greensboro", 270, 289),
    ("ND", 779, "Fargo", "Bismarck", 580, 588),
    ("OH", 11799, "Columbus", "Cincinnati", 430, 459),
    ("OK", 3959, "Oklahoma City", "Tulsa", 730, 749),
    ("OR", 4237, "Portland", "Eugene", 970, 979),
    ("PA", 13003, "Philadelphia", "Pittsburgh", 150, 196),
    ("RI", 1097, "Providence", "Warwick", 28, 29),
    ("SC", 5119, "Charleston", "Greenville", 290, 299),
    ("SD", 887, "Sioux Falls", "Rapid City", 570, 577),
    ("TN", 6911, "Nashville", "Memphis", 370, 385),
    ("TX", 29146, "Houston", "Fort Worth", 750, 799),
    ("UT", 3272, "Salt Lake City", "Ogden", 840, 847),
    ("VT", 643, "Burlington", "Rutland", 50, 59),
    ("VA", 8631, "Norfolk", "Richmond", 220, 246),
    ("WA", 7705, "Seattle", "Everett", 980, 994),
    ("WV", 1794, "Charleston", "Huntington", 247, 268),
    ("WI", 5894, "Milwaukee", "Madison", 530, 549),
    ("WY", 577, "Cheyenne", "Casper", 820, 831),
)
# (province, population in thousands, two cities, the postal codes' first letter)
_PROVINCES = (
    ("ON", 14223, "Toronto", "Hamilton", "M"),
    ("QC", 8501, "Montréal", "Mirabel", "H"),
    ("BC", 5000, "Vancouver", "Victoria", "V"),
    ("AB", 4262, "Calgary", "Edmonton", "T"),
    ("MB", 1342, "Winnipeg", "Brandon", "R"),
    ("NS", 969, "Halifax", "Dartmouth", "B"),
)
_FIRST = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul "
    "Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
    "Stephanie José María Luis Ana Carlos Rosa Jesús Guadalupe Wei Mei Minh Thu Darnell Keisha "
    "Tyrone Aaliyah Mohammed Fatima Raj Priya Stanisław Zoë Renée François Chloé Siobhán Dale "
    "Earl Tammy Rhonda Wayne Gloria Curtis Juanita Travis Brandy"
)
_LAST = tuple(
    name.replace("_", " ")  # "_" joins the words of a name with spaces in it
    for name in _words(
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Muñoz Peña Ibáñez O'Brien O'Connor Kowalski Nowak Müller Schröder Dubois Côté "
        "Gagnon Tremblay Begay Yazzie Kim Park Patel Singh Washington Jefferson Kaplan Cohen "
        "Sullivan Murphy Kelly Ortiz Castillo Morales Van_Dyke De_la_Cruz Smith-Jones"
    )
)
_STREETS = _words(
    "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Walnut Lincoln Jefferson Church "
    "Union Mill River Spring Highland Sunset Franklin Chestnut Ridge Harbor Airport Industrial"
)
_SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Blvd", "Ct", "Way", "Pl", "Pkwy")
_POSTAL_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"
_DUES = (
    (0.88, DuesStatus.GOOD_STANDING.value),
    (0.94, DuesStatus.ARREARS.value),
    (0.96, DuesStatus.SUSPENDED.value),
    (1.00, DuesStatus.RETIRED.value),
)
_OLD = (datetime.date(1975, 1, 1).toordinal(), datetime.date(2023, 10, 31).toordinal())
_RECENT = (datetime.date(2022, 6, 1).toordinal(), datetime.date(2024, 8, 31).toordinal())
_PRESIDENT = (datetime.date(1980, 1, 1).toordinal(), datetime.date(2015, 12, 31).toordinal())
_CARD_STEP = 7_654_321  # coprime with the 9,000,000 seven-digit numbers: cards never repeat
_CARD_SPAN = 9_000_000
_WEIGHT_BOUNDS = (500, 60_000)
_PER_THOUSAND_PEOPLE = 1.5  # represented members per thousand residents: California ≈ 59,000


def council_weight(people: int) -> int:
    """A state council president's per-capita weight for a state of ``people`` thousand
    residents: drawn from no random source, so the roll's random sequence is unchanged."""
    low, high = _WEIGHT_BOUNDS
    return max(low, min(high, round(people * _PER_THOUSAND_PEOPLE)))


class _Region:
    """A state or province: where its members live and their lodges (with their weights)."""

    __slots__ = ("cities", "code", "country", "lodge_weights", "lodges", "people", "postal")

    def __init__(
        self,
        code: str,
        country: str,
        people: int,
        cities: tuple[str, str],
        postal: tuple[int, int] | str,
        lodges: Sequence[str],
    ) -> None:
        self.code, self.country, self.cities, self.postal = code, country, cities, postal
        self.people = people
        self.lodges = tuple(lodges)
        weights = [1 / (k + 1) for k in range(len(lodges))]  # a few big lodges, many small
        self.lodge_weights = tuple(itertools.accumulate(w / sum(weights) for w in weights))


def _regions() -> tuple[tuple[_Region, ...], tuple[float, ...]]:
    regions: list[_Region] = []
    weights: list[float] = []
    us_total = sum(s[1] for s in _STATES)
    ca_total = sum(p[1] for p in _PROVINCES)
    for i, (code, people, city, other, low, high) in enumerate(_STATES):
        count = 1 + people // 3000
        lodges = [str(100 + 50 * i + 3 * k + i % 3) for k in range(count)]
        regions.append(_Region(code, "US", people, (city, other), (low, high), lodges))
        weights.append((1 - _CANADA_SHARE) * people / us_total)
    for j, (code, people, city, other, letter) in enumerate(_PROVINCES):
        lodges = [str(2800 + 20 * j + 2 * k) for k in range(1 + people // 4000)]
        regions.append(_Region(code, "CA", people, (city, other), letter, lodges))
        weights.append(_CANADA_SHARE * people / ca_total)
    return tuple(regions), tuple(itertools.accumulate(weights))


_REGION_TABLE, _REGION_CUMULATIVE = _regions()


def _postal(r: random.Random, region: _Region) -> str:
    if isinstance(region.postal, str):
        letters = _POSTAL_LETTERS
        pick = [letters[int(r.random() * len(letters))] for _ in range(2)]
        digits = [int(r.random() * 10) for _ in range(3)]
        return f"{region.postal}{digits[0]}{pick[0]} {digits[1]}{pick[1]}{digits[2]}"
    low, high = region.postal
    zip_code = f"{low + int(r.random() * (high - low + 1)):03d}{int(r.random() * 100):02d}"
    if r.random() < 0.1:
        zip_code += f"-{int(r.random() * 10000):04d}"
    return zip_code


def _date(r: random.Random, span: tuple[int, int]) -> datetime.date:
    return datetime.date.fromordinal(span[0] + int(r.random() * (span[1] - span[0] + 1)))


def _item(r: random.Random, items: Sequence[str]) -> str:
    return items[int(r.random() * len(items))]


def synthetic_roll(n: int, *, seed: int) -> Iterator[RollRow]:
    """``n`` synthetic members, the same for the same seed (see the module docstring)."""
    r = random.Random(seed)
    offset = int(r.random() * _CARD_SPAN)
    presidents: set[str] = set()
    last_region = len(_REGION_TABLE) - 1
    for i in range(n):
        card = str(1_000_000 + (offset + i * _CARD_STEP) % _CARD_SPAN)
        index = bisect.bisect_right(_REGION_CUMULATIVE, r.random() * _REGION_CUMULATIVE[-1])
        region = _REGION_TABLE[min(index, last_region)]
        lodge = region.lodges[bisect.bisect_right(region.lodge_weights, r.random())]
        roll = r.random()
        status = next(value for bound, value in _DUES if roll < bound)
        when = r.random()
        joined = None if when < 0.02 else _date(r, _RECENT if when < 0.10 else _OLD)
        role = council_state = ""
        weight: int | None = None
        if region.country == "US" and region.code != "DC" and region.code not in presidents:
            presidents.add(region.code)
            role, council_state = COUNCIL_PRESIDENT, region.code
            status = DuesStatus.GOOD_STANDING.value
            joined = _date(r, _PRESIDENT)
            weight = council_weight(region.people)
        yield RollRow(
            card_number=card,
            first_name=_item(r, _FIRST),
            last_name=_item(r, _LAST),
            email=f"m{card}@members.example",
            street=f"{1 + int(r.random() * 9999)} {_item(r, _STREETS)} {_item(r, _SUFFIXES)}",
            city=region.cities[0 if r.random() < 0.7 else 1],
            postal_code=_postal(r, region),
            state=region.code,
            local=lodge,
            dues_status=status,
            country=region.country,
            council_role=role,
            council_state=council_state,
            joined_on=joined,
            weight=weight,
        )


def write_roll_csv(rows: Iterable[RollRow], stream: TextIO) -> int:
    """Write rows as a roll export (header, then one line per member); returns the count."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(row.to_record())
        count += 1
    return count
