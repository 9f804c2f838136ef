"""Group aggregates: every published number is at least the minimum, and nothing smaller can
be worked out from them by subtraction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unionvote.domain.errors import DomainError
from unionvote.domain.groups import UNRECORDED, Cell, GroupPlan, plan_groups

STATES = ["MI", "OH", "WY", "VT", "", "other"]
LOCALS = ["751", "1943", "2", "9", "", "other"]

cells_strategy = st.dictionaries(
    st.tuples(st.sampled_from(STATES), st.sampled_from(LOCALS)),
    st.integers(min_value=0, max_value=40),
    max_size=25,
)
dimensions_strategy = st.sampled_from(
    [(), ("state",), ("local",), ("state", "local"), ("local", "state")]
)


def check_plan(plan: GroupPlan, ballots: dict[Cell, int], minimum: int) -> None:
    """The laws of a plan, checked from its output alone."""
    cells = {c: n for c, n in ballots.items() if n > 0}
    total = sum(cells.values())
    by_dimension = {d.dimension: d for d in plan.dimensions}
    for dimension in by_dimension.values():
        if not dimension.aggregates:
            assert dimension.note and not dimension.cells
            continue
        assert dimension.note is None
        # every published aggregate holds at least the minimum
        assert all(a.ballots >= minimum for a in dimension.aggregates)
        # the aggregates partition the counted ballots, and their counts add up
        assert set(dimension.cells) == set(cells)
        sums = dict.fromkeys((a.id for a in dimension.aggregates), 0)
        for cell, n in cells.items():
            sums[dimension.cells[cell]] += n
        assert sums == {a.id: a.ballots for a in dimension.aggregates}
        assert sum(a.ballots for a in dimension.aggregates) == total
        # a shown group is a real group of the roll, never the unrecorded or a merged one
        for a in dimension.aggregates:
            if not a.is_other:
                assert a.groups == (a.label,) and a.label != UNRECORDED
        # total − shown = "other": never a small group
        shown = sum(a.ballots for a in dimension.aggregates if not a.is_other)
        assert total - shown == 0 or total - shown >= minimum
        assert len(dimension.aggregates) > 1 or not dimension.aggregates[0].is_other
    states, locals_ = by_dimension.get("state"), by_dimension.get("local")
    if states and states.aggregates and locals_ and locals_.aggregates:
        # a shown local lies in one state aggregate; each state aggregate minus its shown
        # locals (published, so derivable) is 0 or at least the minimum
        for state in states.aggregates:
            inside = [c for c in cells if states.cells[c] == state.id]
            shown_locals: dict[str, int] = {}
            for cell in inside:
                local_id = locals_.cells[cell]
                if not local_id.endswith(":other"):
                    shown_locals[local_id] = shown_locals.get(local_id, 0) + cells[cell]
            for local_id, n in shown_locals.items():
                whole = next(a.ballots for a in locals_.aggregates if a.id == local_id)
                assert n == whole, f"{local_id} spans several state aggregates"
            rest = state.ballots - sum(shown_locals.values())
            assert rest == 0 or rest >= minimum, (state.id, rest)


@settings(max_examples=400, deadline=None)
@given(cells_strategy, dimensions_strategy, st.integers(min_value=1, max_value=30))
def test_plans_obey_the_laws(ballots: dict[Cell, int], dimensions, minimum: int) -> None:
    plan = plan_groups(ballots, dimensions, minimum)
    assert [d.dimension for d in plan.dimensions] == list(dimensions)
    check_plan(plan, ballots, minimum)
    for cell in ballots:
        if ballots[cell] > 0:
            assert len(plan.aggregate_ids(cell)) == sum(1 for d in plan.dimensions if d.aggregates)


@settings(max_examples=100, deadline=None)
@given(cells_strategy, st.integers(min_value=1, max_value=30))
def test_the_plan_does_not_depend_on_the_order_of_cells(ballots, minimum: int) -> None:
    forward = plan_groups(ballots, ("state", "local"), minimum)
    backward = plan_groups(dict(reversed(list(ballots.items()))), ("state", "local"), minimum)
    assert [d.aggregates for d in forward.dimensions] == [d.aggregates for d in backward.dimensions]


def test_large_groups_are_shown_and_small_ones_merged() -> None:
    ballots = {("MI", "751"): 120, ("MI", "9"): 60, ("OH", "2"): 80, ("WY", "1"): 3, ("VT", "4"): 2}
    plan = plan_groups(ballots, ("state",), 50)
    (states,) = plan.dimensions
    # WY + VT = 5 < 50 could be worked out as total − MI − OH: the smallest shown state, OH,
    # joins them in "other"
    assert [(a.id, a.groups, a.ballots) for a in states.aggregates] == [
        ("state:MI", ("MI",), 180),
        ("state:other", ("OH", "VT", "WY"), 85),
    ]
    assert plan.aggregate_ids(("WY", "1")) == ("state:other",)


def test_locals_are_suppressed_within_their_state() -> None:
    """MI is shown with 200 ballots; its local 9 (10 ballots) is small: alone in MI's hidden
    part it could be worked out as MI − 751 − 1943, so the smallest shown local of MI joins."""
    ballots = {
        ("MI", "751"): 120,
        ("MI", "1943"): 70,
        ("MI", "9"): 10,
        ("OH", "2"): 100,
    }
    plan = plan_groups(ballots, ("state", "local"), 50)
    states, locals_ = plan.dimensions
    assert [a.id for a in states.aggregates] == ["state:MI", "state:OH"]
    ids = {a.id: a for a in locals_.aggregates}
    assert set(ids) == {"local:MI/751", "local:OH/2", "local:other"}
    assert ids["local:other"].ballots == 80
    assert ids["local:other"].groups == ("1943 (MI)", "9 (MI)")
    assert ids["local:MI/751"].label == "751 (MI)"
    assert plan.aggregate_ids(("MI", "9")) == ("state:MI", "local:other")


def test_a_dimension_with_nothing_to_show_has_a_note() -> None:
    few = plan_groups({("MI", "1"): 10, ("OH", "2"): 5}, ("state", "local"), 50)
    assert all(not d.aggregates and d.note for d in few.dimensions)
    assert "fewer than 50 ballots were counted in all" in (few.dimensions[0].note or "")
    assert few.aggregate_ids(("MI", "1")) == ()
    # MI alone would expose WY (total − MI): nothing can be shown
    pair = plan_groups({("MI", "1"): 100, ("WY", "2"): 10}, ("state",), 50)
    assert not pair.dimensions[0].aggregates
    assert "without exposing a group of fewer than 50" in (pair.dimensions[0].note or "")


def test_members_without_a_state_are_never_shown_alone() -> None:
    plan = plan_groups({("", "1"): 100, ("MI", "1"): 100, ("other", "2"): 100}, ("state",), 50)
    (states,) = plan.dimensions
    ids = {a.id: a for a in states.aggregates}
    assert set(ids) == {"state:MI", "state:other"}
    assert ids["state:other"].groups == (UNRECORDED, "other")
    assert ids["state:other"].ballots == 200


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(DomainError) as caught:
        plan_groups({}, ("county",), 5)
    assert caught.value.check == "groups.dimension"
    with pytest.raises(DomainError):
        plan_groups({}, ("state", "state"), 5)
    with pytest.raises(DomainError) as caught:
        plan_groups({}, ("state",), 0)
    assert caught.value.check == "groups.minimum"
    with pytest.raises(DomainError):
        plan_groups({("MI", "1"): -1}, ("state",), 5)
