"""Evaluation protocols: which segments train, validate and test a model.

Every protocol but ``segment`` splits by *track* before segmenting, so slices of one song never sit on
two sides of a split. ``segment`` reproduces the study's random split of segments and is labelled leaky.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Protocol names, for CLI choices.
PROTOCOLS = ("track", "segment", "fault-filtered", "kfold", "artist")

LEAKY_WARNING = (
    "LEAKY PROTOCOL: segments are split at random, so 3 s slices of the same track appear in both "
    "training and test data; accuracies are inflated and not comparable with track-level protocols."
)


@dataclass
class Split:
    """Row indices (into a feature store's manifest) of the train, validation and test segments.

    Attributes:
        name: e.g. ``track``, ``segment``, ``fault-filtered``, ``kfold-3of5``, ``artist-2of5``.
        protocol: the protocol that produced it (one of :data:`PROTOCOLS`).
        train, valid, test: sorted int64 row indices.
        leaky: True when a track can appear on two sides (only the ``segment`` protocol).
        notes: human-readable remarks (e.g. tracks listed in a split file but missing from the dataset).
    """

    name: str
    protocol: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    leaky: bool = False
    notes: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        """Segment counts per side."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def _as_str_array(values: object) -> np.ndarray:
    return np.asarray(values, dtype=object).astype(str)


def _rows_of(track_ids: np.ndarray, chosen: set[str]) -> np.ndarray:
    return np.flatnonzero(np.isin(track_ids, list(chosen))).astype(np.int64)


def _tracks_by_genre(track_ids: np.ndarray, genres: np.ndarray) -> dict[str, list[str]]:
    """Unique tracks per genre, in sorted order (so that the seed alone decides the shuffle)."""
    out: dict[str, set[str]] = {}
    for tid, g in zip(track_ids, genres, strict=True):
        out.setdefault(g, set()).add(tid)
    return {g: sorted(ts) for g, ts in sorted(out.items())}


def _stratified_partition(
    groups: dict[str, list[str]], fraction: float, rng: np.random.Generator
) -> tuple[set[str], set[str]]:
    """Split every group's items into (rest, taken) with ``round(fraction * n)`` taken per group.

    A group of at least 2 items always keeps one item on each side when ``fraction > 0``, so every genre
    is represented in both parts.
    """
    rest: set[str] = set()
    taken: set[str] = set()
    for items in groups.values():
        order = list(rng.permutation(len(items)))
        n = len(items)
        k = int(round(fraction * n))
        if fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        taken.update(items[i] for i in order[:k])
        rest.update(items[i] for i in order[k:])
    return rest, taken


def track_split(
    track_ids: object,
    genres: object,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """The default honest protocol: split *tracks*, stratified by genre, then take their segments.

    ``test_fraction`` of each genre's tracks go to test; ``valid_fraction`` of the rest to validation
    (the study's 80/20 then 80/20 proportions, applied to tracks instead of segments).
    """
    tids, gens = _as_str_array(track_ids), _as_str_array(genres)
    rng = np.random.default_rng(seed)
    groups = _tracks_by_genre(tids, gens)
    rest, test = _stratified_partition(groups, test_fraction, rng)
    rest_groups = {g: [t for t in ts if t in rest] for g, ts in groups.items()}
    train, valid = _stratified_partition(rest_groups, valid_fraction, rng)
    return Split(
        name="track",
        protocol="track",
        train=_rows_of(tids, train),
        valid=_rows_of(tids, valid),
        test=_rows_of(tids, test),
        notes=[
            f"split by track, stratified by genre, seed {seed}: "
            f"{len(train)} train / {len(valid)} valid / {len(test)} test tracks"
        ],
    )


def segment_split(
    genres: object,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> Split:
    """The study's protocol: a random split of *segments* (stratified by genre). LEAKY: see :data:`LEAKY_WARNING`."""
    gens = _as_str_array(genres)
    rng = np.random.default_rng(seed)
    groups = {g: [str(i) for i in np.flatnonzero(gens == g)] for g in sorted(set(gens))}
    rest, test = _stratified_partition(groups, test_fraction, rng)
    rest_groups = {g: [i for i in rows if i in rest] for g, rows in groups.items()}
    train, valid = _stratified_partition(rest_groups, valid_fraction, rng)

    def rows(s: set[str]) -> np.ndarray:
        return np.sort(np.array([int(i) for i in s], dtype=np.int64))

    return Split(
        name="segment",
        protocol="segment",
        train=rows(train),
        valid=rows(valid),
        test=rows(test),
        leaky=True,
        notes=[LEAKY_WARNING, f"random segment split, stratified by genre, seed {seed}"],
    )


def assigned_split(track_ids: object, assignment: dict[str, str], *, name: str = "fault-filtered") -> Split:
    """A split given by a track -> side mapping (``train``/``valid``/``test``), e.g. from split-list files.

    Tracks that the mapping does not name are left out.
    """
    tids = _as_str_array(track_ids)
    sides: dict[str, set[str]] = {"train": set(), "valid": set(), "test": set()}
    for tid, side in assignment.items():
        if side not in sides:
            raise ValueError(f"track {tid!r}: unknown split side {side!r} (expected train, valid or test)")
        sides[side].add(tid)
    present = set(tids)
    unassigned = sorted(present - set(assignment))
    notes = [f"{len(present) - len(unassigned)} of {len(present)} dataset tracks are in the split lists"]
    if unassigned:
        notes.append(f"{len(unassigned)} dataset tracks are in no list and are left out")
    return Split(
        name=name,
        protocol="fault-filtered",
        train=_rows_of(tids, sides["train"]),
        valid=_rows_of(tids, sides["valid"]),
        test=_rows_of(tids, sides["test"]),
        notes=notes,
    )


def kfold_splits(
    track_ids: object,
    genres: object,
    *,
    k: int = 5,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> list[Split]:
    """k folds by track, stratified by genre. Fold i tests on its tracks; the other tracks are split
    ``1 - valid_fraction`` / ``valid_fraction`` into train and validation (for best-epoch selection).
    """
    if k < 2:
        raise ValueError(f"k-fold needs k >= 2, got {k}")
    tids, gens = _as_str_array(track_ids), _as_str_array(genres)
    rng = np.random.default_rng(seed)
    groups = _tracks_by_genre(tids, gens)
    smallest = min(len(ts) for ts in groups.values())
    if smallest < k:
        raise ValueError(
            f"k-fold with k={k} needs at least {k} tracks per genre; the smallest genre has {smallest}"
        )
    fold_of: dict[str, int] = {}
    offset = 0
    for ts in groups.values():
        for pos, i in enumerate(rng.permutation(len(ts))):
            fold_of[ts[i]] = (pos + offset) % k
        offset += len(ts)  # rotate so that leftover tracks do not all land in fold 0
    splits = []
    for fold in range(k):
        test = {t for t, f in fold_of.items() if f == fold}
        rest_groups = {g: [t for t in ts if t not in test] for g, ts in groups.items()}
        train, valid = _stratified_partition(rest_groups, valid_fraction, np.random.default_rng([seed, fold]))
        splits.append(
            Split(
                name=f"kfold-{fold + 1}of{k}",
                protocol="kfold",
                train=_rows_of(tids, train),
                valid=_rows_of(tids, valid),
                test=_rows_of(tids, test),
                notes=[f"fold {fold + 1} of {k} by track, stratified by genre, seed {seed}"],
            )
        )
    return splits


def split_track_sets(split: Split, track_ids: object) -> dict[str, set[str]]:
    """The set of track ids on each side of ``split``."""
    tids = _as_str_array(track_ids)
    return {side: set(tids[getattr(split, side)]) for side in ("train", "valid", "test")}


def check_disjoint(split: Split, track_ids: object) -> None:
    """Raise ``AssertionError`` if a track sits on two sides of a non-leaky split."""
    if split.leaky:
        return
    sides = split_track_sets(split, track_ids)
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        both = sides[a] & sides[b]
        if both:
            raise AssertionError(f"split {split.name}: tracks on both {a} and {b}: {sorted(both)[:5]}")


def split_to_dict(split: Split, track_ids: object) -> dict:
    """JSON form: the protocol and the track ids on each side (row indices depend on the store)."""
    sides = split_track_sets(split, track_ids)
    return {
        "name": split.name,
        "protocol": split.protocol,
        "leaky": split.leaky,
        "notes": split.notes,
        "segments": split.sizes(),
        "tracks": {side: sorted(ids) for side, ids in sides.items()},
    }
