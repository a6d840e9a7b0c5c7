"""Split protocols: no track on two sides (except the leaky segment split), stratification, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgenre import splits


def _dataset(tracks_per_genre: list[int], segments_per_track: int = 10) -> tuple[np.ndarray, np.ndarray]:
    tids, gens = [], []
    for g, n in enumerate(tracks_per_genre):
        for t in range(n):
            tids += [f"g{g}.{t:05d}"] * segments_per_track
            gens += [f"g{g}"] * segments_per_track
    return np.array(tids), np.array(gens)


def _all_splits(tids: np.ndarray, gens: np.ndarray, seed: int = 0) -> list[splits.Split]:
    out = [splits.track_split(tids, gens, seed=seed), *splits.kfold_splits(tids, gens, k=3, seed=seed)]
    unique = sorted(set(tids))
    assignment = {t: ("train", "valid", "test")[i % 3] for i, t in enumerate(unique[:-1])}  # last: unlisted
    out.append(splits.assigned_split(tids, assignment))
    return out


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=3, max_value=12), min_size=2, max_size=6),
    segs=st.integers(min_value=1, max_value=10),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_no_track_on_two_sides_of_any_honest_split(sizes: list[int], segs: int, seed: int) -> None:
    tids, gens = _dataset(sizes, segs)
    for split in _all_splits(tids, gens, seed):
        assert not split.leaky
        sides = splits.split_track_sets(split, tids)
        assert not sides["train"] & sides["valid"]
        assert not sides["train"] & sides["test"]
        assert not sides["valid"] & sides["test"]
        splits.check_disjoint(split, tids)
        # every segment of a chosen track comes along
        for side in ("train", "valid", "test"):
            rows = getattr(split, side)
            assert len(rows) == segs * len(sides[side])


def test_check_disjoint_catches_a_leak() -> None:
    tids, _ = _dataset([4, 4], 2)
    bad = splits.Split("bad", "track", np.array([0, 1]), np.array([2]), np.array([3]))  # rows 0-1 = track 0
    bad.test = np.array([1])  # row 1 is track 0 too
    with pytest.raises(AssertionError, match="both train and test"):
        splits.check_disjoint(bad, tids)


def test_track_split_is_stratified_and_study_proportioned() -> None:
    tids, gens = _dataset([10] * 10)
    s = splits.track_split(tids, gens, seed=3)
    sides = splits.split_track_sets(s, tids)
    assert (len(sides["train"]), len(sides["valid"]), len(sides["test"])) == (60, 20, 20)
    for side in sides.values():
        assert {t.split(".")[0] for t in side} == {f"g{g}" for g in range(10)}  # every genre on every side


def test_track_split_repeats_under_a_seed_and_changes_with_it() -> None:
    tids, gens = _dataset([10] * 4)
    a, b, c = (splits.track_split(tids, gens, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("train", "valid", "test"))
    assert not np.array_equal(a.test, c.test)


def test_kfold_tests_every_track_exactly_once() -> None:
    tids, gens = _dataset([7, 9, 10])
    folds = splits.kfold_splits(tids, gens, k=5, seed=0)
    tested = [t for f in folds for t in splits.split_track_sets(f, tids)["test"]]
    assert sorted(tested) == sorted(set(tids))
    sizes = [len(splits.split_track_sets(f, tids)["test"]) for f in folds]
    assert max(sizes) - min(sizes) <= 1  # balanced folds


def test_kfold_rejects_too_few_tracks() -> None:
    tids, gens = _dataset([3, 10])
    with pytest.raises(ValueError, match="at least 5 tracks per genre"):
        splits.kfold_splits(tids, gens, k=5)


def test_segment_split_is_labelled_leaky_and_does_leak() -> None:
    tids, gens = _dataset([10] * 3)
    s = splits.segment_split(gens, seed=0)
    assert s.leaky and splits.LEAKY_WARNING in s.notes
    assert sorted(np.concatenate([s.train, s.valid, s.test]).tolist()) == list(range(len(tids)))
    sides = splits.split_track_sets(s, tids)
    assert sides["train"] & sides["test"]  # slices of one song on both sides: the study's leak


def test_assigned_split_reports_unlisted_tracks_and_rejects_bad_sides() -> None:
    tids, _ = _dataset([3, 3], 2)
    s = splits.assigned_split(tids, {"g0.00000": "train", "g1.00000": "test"})
    assert len(s.train) == 2 and len(s.test) == 2 and len(s.valid) == 0
    assert any("left out" in n for n in s.notes)
    with pytest.raises(ValueError, match="unknown split side"):
        splits.assigned_split(tids, {"g0.00000": "holdout"})
