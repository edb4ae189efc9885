"""StoredStates: which kept states a sink may use instead of reading them back."""

from __future__ import annotations

from metrics.state_cache import StoredStates

P0, P1 = ("t", 0), ("t", 1)


def kept(states: dict[str, tuple[tuple[str, int], str]]) -> StoredStates:
    cache = StoredStates()
    cache.confirm(b"b1", {P0: 10, P1: 20}, [(i, tp, s) for i, (tp, s) in states.items()])
    return cache


def test_a_partition_is_trusted_while_its_stored_offset_is_the_sinks_own() -> None:
    cache = kept({"x": (P0, "x1"), "y": (P1, "y1")})
    assert cache.check(b"b1", {P0: 10, P1: 20}) == {P0, P1}
    assert cache.candidates(["x", "y", "z"]) == {"x": (P0, "x1"), "y": (P1, "y1")}


def test_another_writer_of_a_partition_drops_all_its_kept_states() -> None:
    cache = kept({"x": (P0, "x1"), "w": (P0, "w1"), "y": (P1, "y1")})
    assert cache.check(b"b1", {P0: 11, P1: 20}) == {P1}
    assert cache.candidates(["x", "w", "y"]) == {"y": (P1, "y1")}
    # Storing the partition again makes what is stored from then on trusted.
    cache.confirm(b"b1", {P0: 12}, [("x", P0, "x2")])
    assert cache.check(b"b1", {P0: 12}) == {P0}
    assert cache.candidates(["x", "w"]) == {"x": (P0, "x2")}


def test_no_offset_or_another_build_trusts_nothing() -> None:
    cache = kept({"x": (P0, "x1")})
    assert cache.check(b"b1", {P0: -1}) == set()
    cache = kept({"x": (P0, "x1")})
    assert cache.check(b"b2", {P0: 10}) == set()
    assert len(cache) == 0
    assert kept({"x": (P0, "x1")}).check(None, {P0: 10}) == set()


def test_confirming_in_another_build_starts_afresh() -> None:
    cache = kept({"x": (P0, "x1"), "y": (P1, "y1")})
    cache.confirm(b"b2", {P0: 30}, [("x", P0, "x2")])
    assert cache.candidates(["x", "y"]) == {"x": (P0, "x2")}
    assert cache.check(b"b2", {P0: 30, P1: 20}) == {P0}


def test_when_full_the_states_stored_longest_ago_go_first() -> None:
    cache = StoredStates(limit=8)
    cache.confirm(b"b", {P0: 1}, [(f"c{i}", P0, i) for i in range(8)])
    cache.confirm(b"b", {P0: 2}, [("c0", P0, 100)])  # stored again: now the latest
    cache.confirm(b"b", {P0: 3}, [("c8", P0, 8)])
    assert len(cache) == 7
    assert set(cache.candidates([f"c{i}" for i in range(9)])) == {
        "c0",
        *(f"c{i}" for i in range(3, 9)),
    }


def test_forget_empties_it() -> None:
    cache = kept({"x": (P0, "x1")})
    cache.forget()
    assert len(cache) == 0 and cache.check(b"b1", {P0: 10}) == set()
