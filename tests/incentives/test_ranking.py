"""Pure ranking: shared ranks with skips, ties listed by id, rank changes."""

from __future__ import annotations

import pytest

from incentives.ranking import RankedRow, ordered, rank_rows, ranks


def test_equal_points_share_a_rank_and_the_next_is_skipped() -> None:
    points = {"h-4": 5.0, "h-1": 20.0, "h-3": 10.0, "h-2": 10.0}
    assert ordered(points) == [(1, "h-1", 20), (2, "h-2", 10), (2, "h-3", 10), (4, "h-4", 5)]


def test_ties_are_listed_by_id_whatever_the_input_order() -> None:
    points = {"b": 1.0, "c": 1.0, "a": 1.0}
    assert [member for _, member, _ in ordered(points)] == ["a", "b", "c"]
    assert set(ranks(points).values()) == {1}


def test_negative_and_zero_totals_rank_below_positive_ones() -> None:
    points = {"x": -3.0, "y": 0.0, "z": 2.0}
    assert ordered(points) == [(1, "z", 2), (2, "y", 0), (3, "x", -3)]


def test_float_noise_does_not_split_a_tie() -> None:
    points = {"a": 0.1 + 0.2, "b": 0.3}
    assert ranks(points) == {"a": 1, "b": 1}


def test_points_are_int_when_whole_else_two_decimals() -> None:
    rows = rank_rows({"a": 10.0, "b": 3.3333333})
    assert [(row.points, type(row.points)) for row in rows] == [(10, int), (3.33, float)]


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        ({"a": 1.0, "b": 2.0}, {"a": 1, "b": -1}),  # a moved up from 2 to 1
        ({"a": 5.0}, {"a": 0, "b": None}),  # b is new
        ({}, {"a": None, "b": None}),
        ({"a": 1.0, "b": 1.0, "c": 9.0}, {"a": 1, "b": 0}),  # from shared rank 2
    ],
)
def test_rank_change_is_previous_rank_minus_this_rank(
    previous: dict[str, float], expected: dict[str, int | None]
) -> None:
    rows = rank_rows({"a": 10.0, "b": 4.0}, previous)
    assert {row.id: row.rank_change for row in rows} == expected


def test_team_of_each_handler_and_of_a_team_itself() -> None:
    handlers = rank_rows({"h-1": 1.0, "h-2": 2.0}, teams={"h-1": "t-a"})
    assert [(row.id, row.team_id) for row in handlers] == [("h-2", None), ("h-1", "t-a")]
    teams = rank_rows({"t-a": 1.0})
    assert teams == [RankedRow(1, "t-a", "t-a", 1, None)]


def test_as_dict_has_the_api_fields_in_order() -> None:
    row = RankedRow(2, "h-1", "t-a", 7, -1)
    assert list(row.as_dict().items()) == [
        ("rank", 2),
        ("id", "h-1"),
        ("team_id", "t-a"),
        ("points", 7),
        ("rank_change", -1),
    ]
