"""Roll exports: the sample parses and normalises; every bad row of a file is reported with its
line, column and reason; headers accept aliases; the synthetic roll is reproducible."""

from __future__ import annotations

import csv
import datetime
import io
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.errors import DomainError
from unionvote.domain.roll import (
    COLUMNS,
    KEPT_PROBLEMS,
    PRINTED_PROBLEMS,
    DuesStatus,
    RollError,
    RollReader,
    changed_fields,
    normalise_dues_status,
    parse_roll,
)
from unionvote.domain.synthetic import COUNCIL_PRESIDENT, synthetic_roll, write_roll_csv

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roll-sample.csv"
HEADER = ",".join(c for c in COLUMNS if c != "weight")  # an export without the optional weight
GOOD = (
    "1001,Ann,Lee,ann@members.example,1 Main St,Wichita,67210,KS,708,good standing,US,,,2001-02-03"
)


def lines(text: str) -> list[str]:
    return io.StringIO(text, newline="").readlines()


def problems_of(text: str) -> RollError:
    with pytest.raises(RollError) as caught:
        parse_roll(lines(text), source="roll.csv")
    return caught.value


def test_the_sample_parses_and_normalises() -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        rows = parse_roll(stream, source=SAMPLE.name)
    assert len(rows) == 30
    by_card = {row.card_number: row for row in rows}
    assert by_card["1040260"].dues_status == "good standing"  # written "Good Standing"
    assert by_card["1020015"].postal_code == "06340"  # the leading zero survives
    assert by_card["1004388"].postal_code == "98201-3614"
    assert by_card["1081904"].postal_code == "M6M 4R2" and by_card["1081904"].country == "CA"
    assert by_card["1020231"].joined_on is None
    assert by_card["1090378"].local == ""
    presidents = {r.council_state for r in rows if r.council_role == COUNCIL_PRESIDENT}
    assert presidents == {"WA", "KS", "CT", "MO", "GA", "TX", "CA", "PA"}
    assert Counter(r.dues_status for r in rows) == {
        "good standing": 23,
        "arrears": 3,
        "retired": 3,
        "suspended": 1,
    }


def test_headers_take_aliases_any_case_and_report_unknown_columns() -> None:
    text = (
        "\ufeffMember Number,First,Surname,E-mail,Address,City,ZIP,State,Lodge,Status,"
        "Country,Role,Council State,Join Date,Phone\n"
        "a-17,Ann,Lee,ann@members.example,1 Main St,Wichita,672101234,kansas,708,"
        "In Arrears,us,State  Council President,ks,2001-02-03,555-0100\n"
    )
    reader = RollReader(lines(text), source="x.csv")
    ((line, row),) = list(reader)
    reader.check()
    assert reader.unknown_columns == ("Phone",)
    assert line == 2
    assert row.card_number == "A-17" and row.last_name == "Lee"
    assert row.postal_code == "67210-1234" and row.state == "KS" and row.country == "US"
    assert row.dues_status == "arrears"
    assert (row.council_role, row.council_state) == ("state council president", "KS")
    assert row.joined_on == datetime.date(2001, 2, 3)


def test_a_bad_header_is_refused() -> None:
    error = problems_of("card,first_name,email\n1,Ann,ann@members.example\n")
    assert [(p.line, p.column) for p in error.problems] == [(1, "header")]
    assert "missing columns last_name, dues_status, country" in str(error)
    error = problems_of(f"{HEADER},member_no\n{GOOD},1001\n")
    assert "two columns give card_number ('member_no')" in str(error)
    error = problems_of("")
    assert "the file is empty" in str(error)


def test_every_bad_row_is_reported_with_its_line_column_and_reason() -> None:
    rows = [
        GOOD,  # line 2
        ",Bob,Ray,,,,,,,good standing,US,,,",  # 3: no card number
        "1001,Ann,Lee,,,,,,,good standing,US,,,",  # 4: duplicate of line 2
        "1003,Cy,Doe,,,,,,,active-ish,US,,,",  # 5: unknown dues status
        "1004,Di,Fay,not-an-email,,,,,,arrears,US,,,",  # 6: bad email
        "1005,Ed,Gil,,,,,,,retired,USA,,,",  # 7: not an ISO code
        "1006,Flo,Hu,,,,,,,good standing,US,,,03/04/2020",  # 8: not YYYY-MM-DD
        "1007,Gus,Ito,,,,,,,good standing,US,state council president,,",  # 9: role, no state
        "1008,Hal,Jo,,,,2134,MA,,good standing,US,,,",  # 10: ZIP lost its leading zero
        "1009,Ida,Ku,,,,,Ontario,,good standing,US,,,",  # 11: not a U.S. state
        "1010,Jo,Lu",  # 12: too few fields
        "1011,Kay,Ma,,,,,,,good standing,US,,,2023-02-30",  # 13: no such day
        "1012,Lou,,,,,,,,good standing,US,,,",  # 14: no last name
        "1013,Mo,Ng,,,,,,,suspended,US,,OH,",  # 15: council state without a role
        "1014,Ned,Oh,,,,,,,,,,,",  # 16: no dues status, no country (two problems)
        "10 15,Oz,Pi,,,,,,,good standing,US,,,",  # 17: space in card number
        "1016,Pat,Qu,,,,,,,good standing,US,,,",  # 18: a good row after all that
    ]
    error = problems_of(HEADER + "\n" + "\n".join(rows) + "\n")
    found = {(p.line, p.column) for p in error.problems}
    assert found == {
        (3, "card_number"),
        (4, "card_number"),
        (5, "dues_status"),
        (6, "email"),
        (7, "country"),
        (8, "joined_on"),
        (9, "council_state"),
        (10, "postal_code"),
        (11, "state"),
        (12, "row"),
        (13, "joined_on"),
        (14, "last_name"),
        (15, "council_role"),
        (16, "dues_status"),
        (16, "country"),
        (17, "card_number"),
    }
    assert error.count == 16
    message = str(error)
    assert message.startswith("roll: roll.csv was refused, nothing was imported: 16 problems")
    for expected in (
        "roll.csv:line 3: card_number: missing card number",
        "line 4: card_number: duplicate card number 1001 (also on line 2)",
        "unknown dues status 'active-ish' (expected one of: good standing, arrears, "
        "suspended, retired)",
        "'USA' is not an ISO 3166 country code; write 'US'",
        "month/day/year is ambiguous",
        "council role 'state council president' without the state it represents",
        "a spreadsheet may have dropped a leading zero",
        "'Ontario' is not a U.S. state",
        "line 12: row: 3 fields, the header has 14",
        "'2023-02-30' is not a date in the calendar",
    ):
        assert expected in message


def test_line_numbers_count_blank_lines_and_multi_line_fields() -> None:
    text = (
        HEADER
        + "\n\n"  # line 2 blank
        + '1001,Ann,Lee,,"1 Main St\nApt 4",Wichita,,KS,708,good standing,US,,,\n'  # 3-4
        + ",,,,,,,,,,,,,\n"  # 5: a spreadsheet's empty row
        + "1002,Bo,Ray,,,,,,,gone,US,,,\n"  # 6
    )
    reader = RollReader(lines(text))
    rows = list(reader)
    assert [line for line, _ in rows] == [3]
    assert rows[0][1].street == "1 Main St Apt 4"
    assert [(p.line, p.column) for p in reader.problems] == [(6, "dues_status")]
    assert reader.rows == 2


def test_unreadable_csv_is_reported_and_reading_goes_on() -> None:
    text = HEADER + "\n" + '1001,"Ann"x,Lee,,,,,,,good standing,US,,,\n' + "1002,,,,,,,,,,,,,x\n"
    error = problems_of(text)
    assert {(p.line, p.column) for p in error.problems} >= {(2, "row"), (3, "last_name")}


def test_control_characters_and_overlong_values_are_refused() -> None:
    long_name = "x" * 201
    error = problems_of(
        HEADER
        + "\n"
        + "1001,Ann,Le\x00e,,,,,,,good standing,US,,,\n"
        + f"1002,Bo,{long_name},,,,,,,good standing,US,,,\n"
    )
    assert [(p.line, p.column) for p in error.problems] == [(2, "row"), (3, "last_name")]
    assert "201 characters, at most 200" in str(error)


def test_the_printed_list_is_capped_and_says_how_many_more() -> None:
    bad = "\n".join(f"{n},A,B,,,,,,,unknown,US,,," for n in range(1, 2 * KEPT_PROBLEMS))
    error = problems_of(HEADER + "\n" + bad + "\n")
    assert error.count == 2 * KEPT_PROBLEMS - 1
    assert len(error.problems) == KEPT_PROBLEMS
    shown = [line for line in str(error).splitlines() if line.startswith("roll.csv:")]
    assert len(shown) == PRINTED_PROBLEMS
    assert str(error).endswith(f"… and {2 * KEPT_PROBLEMS - 1 - PRINTED_PROBLEMS} more problems")
    assert isinstance(error, DomainError)


@given(
    st.sampled_from(
        [
            ("good standing", DuesStatus.GOOD_STANDING),
            ("in good standing", DuesStatus.GOOD_STANDING),
            ("paid up", DuesStatus.GOOD_STANDING),
            ("in arrears", DuesStatus.ARREARS),
            ("delinquent", DuesStatus.ARREARS),
            ("suspended", DuesStatus.SUSPENDED),
            ("retiree", DuesStatus.RETIRED),
        ]
    ),
    st.lists(st.booleans(), min_size=20, max_size=20),
    st.sampled_from([" ", "-", "_", "  "]),
)
def test_dues_spellings_normalise(
    case: tuple[str, DuesStatus], upper: list[bool], separator: str
) -> None:
    text, status = case
    spelled = "".join(c.upper() if u else c for c, u in zip(text, upper, strict=False))
    assert normalise_dues_status(f" {spelled.replace(' ', separator)} ") is status
    assert normalise_dues_status(spelled + "x") is None


_FREE_TEXT = st.text(alphabet=' \t\n\xa0\u2003\u200b|,"aé-', max_size=10)


@settings(max_examples=300)
@given(st.lists(_FREE_TEXT, min_size=4, max_size=4))
def test_free_text_is_tidied_the_same_whatever_its_spaces(values: list[str]) -> None:
    """Whitespace is collapsed in every value, on the fast path (a record with nothing to
    tidy) as on the slow one: spaces and tabs at either end, runs of them, other spaces
    (no-break, em), line breaks inside a quoted value, next to a "|" or a quote."""
    first, last, street, city = values
    stream = io.StringIO(newline="")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["card_number", "first_name", "last_name", "street", "city", "dues", "country"])
    writer.writerow(["A-1", first, last, street, city, "good standing", "CA"])
    reader = RollReader(lines(stream.getvalue()), source="roll.csv")
    rows = [row for _, row in reader]
    if not " ".join(last.split()):
        assert rows == [] and [p.column for p in reader.problems] == ["last_name"]
        return
    assert reader.problems == []
    (row,) = rows
    assert (row.first_name, row.last_name, row.street, row.city) == tuple(
        " ".join(value.split()) for value in values
    )


def test_changed_fields_names_what_differs() -> None:
    (row,) = parse_roll(lines(HEADER + "\n" + GOOD + "\n"))
    stored = list(row.compared())
    assert changed_fields(stored, row) == ()
    stored[2] = "old@members.example"
    stored[-2] = None
    stored[-1] = 1200
    assert changed_fields(stored, row) == ("email", "joined_on", "weight")


def test_weights_are_whole_numbers_or_empty_and_each_bad_one_is_reported() -> None:
    header = HEADER + ",Vote Weight"
    rows = [
        GOOD + ",60000",  # line 2
        GOOD.replace("1001", "1002") + ",",  # 3: no weight
        GOOD.replace("1001", "1003") + ",0",  # 4
        GOOD.replace("1001", "1004") + ",-5",  # 5
        GOOD.replace("1001", "1005") + ',"12,500"',  # 6
        GOOD.replace("1001", "1006") + ",1.5",  # 7
        GOOD.replace("1001", "1007") + ",1000000000001",  # 8: above 10^12
        GOOD.replace("1001", "1008") + "," + "9" * 5000,  # 9: far above, refused by its length
        GOOD.replace("1001", "1009") + ",1000000000000",  # 10: the largest weight
    ]
    reader = RollReader(lines(header + "\n" + "\n".join(rows) + "\n"), source="w.csv")
    weights = {row.card_number: row.weight for _, row in reader}
    assert weights == {"1001": 60_000, "1002": None, "1009": 10**12}
    assert [(p.line, p.column) for p in reader.problems] == [(n, "weight") for n in range(4, 10)]
    message = str(problems_of(header + "\n" + "\n".join(rows) + "\n"))
    assert "line 4: weight: '0': a weight is from 1 to 1,000,000,000,000 (or empty)" in message
    assert "line 6: weight: '12,500' is not a whole number (write it without separators)" in message
    assert "'1.5' is not a whole number" in message
    (row,) = parse_roll(lines("card_number,last_name,dues_status,country,votes\n7,X,gs,US,3\n"))
    assert row.weight == 3 and row.to_record()[-1] == "3"


# -- the synthetic roll -------------------------------------------------------------------------


def test_synthetic_roll_is_reproducible_and_shaped_like_a_union() -> None:
    rows = list(synthetic_roll(20_000, seed=7))
    assert rows == list(synthetic_roll(20_000, seed=7))
    assert rows != list(synthetic_roll(20_000, seed=8))
    assert len({r.card_number for r in rows}) == 20_000
    assert all(r.email == f"m{r.card_number}@members.example" for r in rows)
    countries = Counter(r.country for r in rows)
    assert 100 < countries["CA"] < 600 and countries["US"] > 19_000
    states = Counter(r.state for r in rows if r.country == "US")
    assert states["CA"] > states["TX"] > states["OH"] > states["WY"] > 0
    statuses = Counter(r.dues_status for r in rows)
    assert statuses["good standing"] > 0.8 * len(rows)
    assert all(statuses[s.value] > 100 for s in DuesStatus)
    presidents = [r for r in rows if r.council_role == COUNCIL_PRESIDENT]
    assert sorted(r.council_state for r in presidents) == sorted(
        {r.state for r in rows if r.country == "US"} - {"DC"}
    )
    assert len(presidents) == 50
    assert all(500 <= (p.weight or 0) <= 60_000 for p in presidents)
    assert {r.weight for r in rows if r.council_role != COUNCIL_PRESIDENT} == {None}
    weight = {p.council_state: p.weight for p in presidents}
    assert weight["CA"] > weight["TX"] > weight["OH"] > weight["WY"]  # per capita
    cutoff = datetime.date(2023, 11, 1)
    assert all(
        p.dues_status == "good standing" and p.joined_on and p.joined_on <= cutoff
        for p in presidents
    )
    late = sum(1 for r in rows if r.joined_on and r.joined_on > cutoff)
    assert 0.01 * len(rows) < late < 0.06 * len(rows)
    assert sum(1 for r in rows if r.joined_on is None) > 100
    lodges = {(r.state, r.local) for r in rows}
    assert len({local for _, local in lodges}) == len(lodges)  # a lodge belongs to one state
    assert len({local for state, local in lodges if state == "CA"}) > 5


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=300))
def test_synthetic_roll_round_trips_through_csv(seed: int, n: int) -> None:
    rows = list(synthetic_roll(n, seed=seed))
    stream = io.StringIO(newline="")
    assert write_roll_csv(rows, stream) == n
    stream.seek(0)
    reader = RollReader(stream, source="synthetic.csv")
    assert [row for _, row in reader] == rows
    reader.check()
