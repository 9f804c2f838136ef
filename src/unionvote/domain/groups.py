"""Results by group (by state, by local) that never expose a small group (issue 3 §8).

A group's result is published only as an *aggregate* of at least ``min_group_size`` counted
ballots. What is published is the total, the aggregates of each dimension, and so anything
that can be worked out from them by subtraction; the plan makes sure that, too, is never a
small group:

- A group with fewer ballots than the minimum (and members with no state or local on the
  roll) go into the dimension's "other" aggregate. If "other" is then non-empty but still
  below the minimum, it would be the total minus the shown groups: the smallest shown groups
  join it (smallest first, then by name) until it reaches the minimum.
- A local is a local *within its state* (its group is the pair). Each state aggregate is
  published, so for each of them the locals not shown on their own (its part of "other
  locals") must total 0 or at least the minimum, by the same rule; their sum, "other
  locals", then reaches the minimum too.
- When a dimension can show no group on its own (everything would be in "other", which is
  just the total, or the total itself is below the minimum), it has no aggregate, only a note.

Every counted ballot is in exactly one aggregate of each dimension that has aggregates, and
everything that can be derived from the published numbers is a union of shown groups and of
these "other" parts, each 0 or at least the minimum.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from unionvote.domain.errors import DomainError

__all__ = [
    "DIMENSIONS",
    "OTHER",
    "UNRECORDED",
    "Aggregate",
    "Cell",
    "DimensionPlan",
    "GroupPlan",
    "plan_groups",
]

DIMENSIONS: Final = ("state", "local")
OTHER: Final = "other"
UNRECORDED: Final = "(not recorded)"

Cell = tuple[str, str]
"""Where a member is on the roll: (state, local), "" where the roll has nothing."""


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A published aggregate: ``id`` (``state:MI``, ``local:MI/751``, ``state:other``), the
    label a report shows, the groups merged in it, and how many counted ballots it holds."""

    id: str
    label: str
    groups: tuple[str, ...]
    ballots: int

    @property
    def is_other(self) -> bool:
        return self.id.endswith(f":{OTHER}")


@dataclass(frozen=True, slots=True)
class DimensionPlan:
    """A dimension's aggregates and, for each roll cell, the aggregate its ballots go to;
    with no aggregate, a ``note`` says why."""

    dimension: str
    aggregates: tuple[Aggregate, ...]
    note: str | None = None
    cells: Mapping[Cell, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GroupPlan:
    min_group_size: int
    dimensions: tuple[DimensionPlan, ...]

    def aggregate_ids(self, cell: Cell) -> tuple[str, ...]:
        """The aggregates a ballot from ``cell`` counts in, one per dimension that has any."""
        return tuple(d.cells[cell] for d in self.dimensions if d.aggregates)


@dataclass(slots=True)
class _Group:
    key: Hashable
    name: str  # "" when the roll records nothing
    label: str
    id: str
    ballots: int = 0
    cells: list[Cell] = field(default_factory=list)


def plan_groups(ballots: Mapping[Cell, int], dimensions: Sequence[str], minimum: int) -> GroupPlan:
    """Plan the aggregates of each dimension (in the order given) from the number of counted
    ballots in each roll cell."""
    if minimum < 1:
        raise DomainError("groups.minimum", f"the minimum group size is {minimum}, not ≥ 1")
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown or len(set(dimensions)) != len(dimensions):
        raise DomainError(
            "groups.dimension",
            f"dimensions {list(dimensions)}: each at most once, among {', '.join(DIMENSIONS)}",
        )
    if any(n < 0 for n in ballots.values()):
        raise DomainError("groups.ballots", "a cell has a negative number of ballots")
    cells = {cell: n for cell, n in ballots.items() if n > 0}
    plans: dict[str, DimensionPlan] = {}
    states: DimensionPlan | None = None
    if "state" in dimensions:
        states = _plan_dimension("state", cells, _state_group, [list(cells)], minimum)
        plans["state"] = states
    if "local" in dimensions:
        nested = states is not None
        parents = [list(cells)]
        if states is not None and states.aggregates:
            by_aggregate: dict[str, list[Cell]] = {}
            for cell in cells:
                by_aggregate.setdefault(states.cells[cell], []).append(cell)
            parents = list(by_aggregate.values())
        plans["local"] = _plan_dimension(
            "local",
            cells,
            _nested_local_group if nested else _local_group,
            parents,
            minimum,
        )
    return GroupPlan(minimum, tuple(plans[d] for d in dimensions))


def _state_group(cell: Cell) -> tuple[Hashable, str, str, str]:
    state = cell[0]
    return state, state, state or UNRECORDED, f"state:{state}"


def _local_group(cell: Cell) -> tuple[Hashable, str, str, str]:
    local = cell[1]
    return local, local, local or UNRECORDED, f"local:{local}"


def _nested_local_group(cell: Cell) -> tuple[Hashable, str, str, str]:
    state, local = cell
    label = (f"{local} ({state})" if state else local) if local else UNRECORDED
    return cell, local, label, f"local:{state}/{local}"


def _plan_dimension(
    dimension: str,
    cells: Mapping[Cell, int],
    group_of: Callable[[Cell], tuple[Hashable, str, str, str]],
    parents: Sequence[Sequence[Cell]],
    minimum: int,
) -> DimensionPlan:
    other_id = f"{dimension}:{OTHER}"
    groups: dict[Hashable, _Group] = {}
    for cell, n in cells.items():
        key, name, label, group_id = group_of(cell)
        group = groups.setdefault(key, _Group(key, name, label, group_id))
        group.ballots += n
        group.cells.append(cell)
    hidden: set[Hashable] = set()
    for parent in parents:
        inside = {group_of(cell)[0] for cell in parent}
        # Unrecorded members (and a group whose id would be "other"'s) are never shown alone.
        small = {k for k in inside if groups[k].ballots < minimum or groups[k].id == other_id} | {
            k for k in inside if not groups[k].name
        }
        shown = sorted(
            (k for k in inside if k not in small),
            key=lambda k: (groups[k].ballots, groups[k].label),
        )
        rest = sum(groups[k].ballots for k in small)
        while 0 < rest < minimum and shown:
            k = shown.pop(0)
            small.add(k)
            rest += groups[k].ballots
        hidden |= small
    visible = sorted((g for k, g in groups.items() if k not in hidden), key=lambda g: g.label)
    merged = sorted((g for k, g in groups.items() if k in hidden), key=lambda g: g.label)
    other_ballots = sum(g.ballots for g in merged)
    if not visible or 0 < other_ballots < minimum:
        return DimensionPlan(dimension, (), _note(dimension, sum(cells.values()), minimum))
    aggregates = [Aggregate(g.id, g.label, (g.label,), g.ballots) for g in visible]
    if len({a.id for a in aggregates}) != len(aggregates):
        raise DomainError("groups.id", f"two {dimension} groups have the same identifier")
    of_cell = {cell: g.id for g in visible for cell in g.cells}
    if merged:
        aggregates.append(
            Aggregate(
                other_id,
                f"Other {dimension}s",
                tuple(dict.fromkeys(g.label for g in merged)),
                other_ballots,
            )
        )
        of_cell |= {cell: other_id for g in merged for cell in g.cells}
    return DimensionPlan(dimension, tuple(aggregates), None, of_cell)


def _note(dimension: str, total: int, minimum: int) -> str:
    if total < minimum:
        return (
            f"Results by {dimension} are not shown: fewer than {minimum} ballots were "
            "counted in all."
        )
    return (
        f"Results by {dimension} are not shown: no {dimension} can be shown without "
        f"exposing a group of fewer than {minimum} ballots."
    )
