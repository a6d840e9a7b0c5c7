"""The ``artist`` protocol: k folds grouped by artist, stratified by genre as far as the artists allow.

GTZAN is ordered by artist inside each genre, so a split by track puts one artist on both sides and partly
measures artist recognition. Here every artist's tracks sit on one side of each fold:

- **Untestable artists.** An artist who is the only artist of a genre (in this dataset) is never tested:
  with them on the test side, the model would have seen no track of that genre. Their tracks stay on the
  training side in every fold, and the notes name the genre and artist.
- **Test folds.** Every other artist belongs to the genre where most of their tracks are. Per genre (in
  sorted order), that genre's artists are shuffled under the seed, ordered by track count (largest first;
  the shuffle breaks ties) and each goes to the fold that has the fewest test tracks of the genre so far
  (then the fewest test tracks overall). So a genre with at least ``k`` artists is tested in every fold,
  and one with ``2 <= n < k`` artists in ``n`` folds.
- **Validation.** Inside each fold, about ``valid_fraction`` of each genre's training tracks go to
  validation, chosen by artist from the fold's training artists (never an untestable artist, and always
  leaving one artist of the genre for training). Where a genre has fewer than two such artists, its
  validation tracks are chosen by track instead, and a note names the artists then on both train and
  validation (validation only picks the best epoch; test stays artist-disjoint).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from musicgenre.datasets.artists import ArtistIndex
from musicgenre.splits import Split, _as_str_array, _rows_of, split_track_sets

PROTOCOL = "artist"


def _genre_of(tids: np.ndarray, gens: np.ndarray) -> dict[str, str]:
    return {t: g for t, g in zip(tids.tolist(), gens.tolist(), strict=True)}


def _primary_genre(tracks: list[str], genre_of: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for t in tracks:
        counts[genre_of[t]] = counts.get(genre_of[t], 0) + 1
    return min(counts, key=lambda g: (-counts[g], g))


def _assign_folds(
    by_artist: dict[str, list[str]],
    genre_of: dict[str, str],
    testable: list[str],
    k: int,
    rng: np.random.Generator,
) -> dict[str, int]:
    """Artist -> fold (0-based) for the testable artists."""
    genres = sorted(set(genre_of.values()))
    per_genre: dict[str, list[str]] = {g: [] for g in genres}
    for a in testable:
        per_genre[_primary_genre(by_artist[a], genre_of)].append(a)
    genre_load = {g: [0] * k for g in genres}
    total_load = [0] * k
    fold_of: dict[str, int] = {}
    for g in genres:
        artists = [per_genre[g][i] for i in rng.permutation(len(per_genre[g]))]
        artists.sort(key=lambda a: -len(by_artist[a]))  # stable: the shuffle breaks ties
        for a in artists:
            fold = min(range(k), key=lambda f: (genre_load[g][f], total_load[f], f))
            fold_of[a] = fold
            for t in by_artist[a]:
                genre_load[genre_of[t]][fold] += 1
                total_load[fold] += 1
    return fold_of


def _validation(
    pool: set[str],
    by_artist: dict[str, list[str]],
    artist_of: dict[str, str],
    genre_of: dict[str, str],
    pinned: set[str],
    valid_fraction: float,
    rng: np.random.Generator,
) -> tuple[set[str], set[str], list[str]]:
    """(validation tracks, artists on both train and validation, notes) from one fold's non-test ``pool``."""
    valid: set[str] = set()
    genres = sorted({genre_of[t] for t in pool})
    left = {g: sum(1 for t in pool if genre_of[t] == g) for g in genres}  # training tracks per genre
    fallback: dict[str, list[str]] = {}
    for g in genres:
        here = [t for t in pool if genre_of[t] == g]
        target = valid_fraction * len(here)
        candidates = sorted(
            a
            for a in {artist_of[t] for t in here if t not in valid} - pinned
            if _primary_genre(by_artist[a], genre_of) == g
        )
        if len(candidates) < 2:
            fallback[g] = []
            continue
        order = [candidates[i] for i in rng.permutation(len(candidates))]
        smallest = sorted(order, key=lambda a: len(by_artist[a]))[:1]  # stable: the shuffle breaks ties
        taken, n_taken = 0, 0
        # Take an artist when it brings the genre's validation count closer to the target; when none does
        # (every artist is large), take the smallest one.
        for last_resort, group in ((False, order), (True, smallest)):
            for a in group:
                if taken >= target or n_taken == len(candidates) - 1 or (last_resort and taken):
                    break
                mine = [t for t in by_artist[a] if t in pool and t not in valid]
                per_genre = {h: sum(1 for t in mine if genre_of[t] == h) for h in {genre_of[t] for t in mine}}
                n_here = per_genre.get(g, 0)
                if not mine or any(left[h] - n <= 0 for h, n in per_genre.items()):
                    continue  # already taken, or it would leave a genre without training tracks
                if not last_resort and abs(taken + n_here - target) >= abs(taken - target):
                    continue
                valid.update(mine)
                for h, n in per_genre.items():
                    left[h] -= n
                taken, n_taken = taken + n_here, n_taken + 1
    for g in fallback:
        rest = sorted(t for t in pool if genre_of[t] == g and t not in valid)
        n = int(round(valid_fraction * len(rest)))
        if valid_fraction > 0 and len(rest) >= 2:
            n = min(max(n, 1), len(rest) - 1)
        fallback[g] = [rest[i] for i in rng.permutation(len(rest))[:n]]
        valid.update(fallback[g])
    train_artists = {artist_of[t] for t in pool - valid}
    shared: set[str] = set()
    notes = []
    for g, chosen in fallback.items():
        if not chosen:
            continue
        both = sorted({artist_of[t] for t in chosen} & train_artists)
        shared.update(both)
        notes.append(
            f"{g}: too few training artists to validate by artist; {len(chosen)} validation track(s) chosen "
            f"by track (artists on both train and validation: {', '.join(both) or 'none'})"
        )
    return valid, shared, notes


def artist_kfold_splits(
    track_ids: object,
    genres: object,
    artists: ArtistIndex,
    *,
    k: int = 5,
    valid_fraction: float = 0.2,
    seed: int = 0,
) -> list[Split]:
    """k folds grouped by artist (see the module doc); each is checked with :func:`check_artist_disjoint`.

    Raises:
        ValueError: ``k < 2``, or fewer testable artists than folds.
    """
    if k < 2:
        raise ValueError(f"the artist protocol needs k >= 2, got {k}")
    tids, gens = _as_str_array(track_ids), _as_str_array(genres)
    genre_of = _genre_of(tids, gens)
    artist_of = {t: artists.artist_of(t) for t in sorted(genre_of)}
    by_artist = artists.groups(artist_of)
    genre_artists: dict[str, set[str]] = {}
    for t, g in sorted(genre_of.items()):
        genre_artists.setdefault(g, set()).add(artist_of[t])
    pinned = {next(iter(s)) for s in genre_artists.values() if len(s) == 1}
    testable = [a for a in by_artist if a not in pinned]
    if len(testable) < k:
        raise ValueError(
            f"the artist protocol with k={k} needs at least {k} artists that can be tested; "
            f"this dataset has {len(testable)}"
        )
    fold_of = _assign_folds(by_artist, genre_of, testable, k, np.random.default_rng(seed))
    untested = []
    for g, names in sorted(genre_artists.items()):
        if not names - pinned:
            listed = ", ".join(sorted(names))
            why = "" if len(names) == 1 else ", each the only artist of a genre"
            untested.append(
                f"{g}: {len(names)} artist{'s' if len(names) > 1 else ''} ({listed}{why}); "
                "not tested under the artist protocol"
            )
    splits = []
    for fold in range(k):
        test = {t for a, f in fold_of.items() if f == fold for t in by_artist[a]}
        pool = set(genre_of) - test
        valid, shared, valid_notes = _validation(
            pool, by_artist, artist_of, genre_of, pinned, valid_fraction, np.random.default_rng([seed, fold])
        )
        train = pool - valid
        untrained = sorted(set(genre_artists) - {genre_of[t] for t in train})
        if untrained:  # possible only through artists with tracks in several genres
            valid_notes.append(f"WARNING: no training tracks of {', '.join(untrained)} in this fold")
        tested = {}
        for t in sorted(test):
            tested[genre_of[t]] = tested.get(genre_of[t], 0) + 1
        n_art = {
            side: len({artist_of[t] for t in s})
            for side, s in (("train", train), ("valid", valid), ("test", test))
        }
        split = Split(
            name=f"artist-{fold + 1}of{k}",
            protocol=PROTOCOL,
            train=_rows_of(tids, train),
            valid=_rows_of(tids, valid),
            test=_rows_of(tids, test),
            notes=[
                f"fold {fold + 1} of {k} by artist, stratified by genre, seed {seed}: {len(train)} train / "
                f"{len(valid)} valid / {len(test)} test tracks ({n_art['train']} / {n_art['valid']} / "
                f"{n_art['test']} artists)",
                "test tracks per genre: " + ", ".join(f"{g} {n}" for g, n in sorted(tested.items())),
                *untested,
                *valid_notes,
            ],
        )
        check_artist_disjoint(split, tids, artists, train_valid_shared=shared)
        splits.append(split)
    return splits


def check_artist_disjoint(
    split: Split, track_ids: object, artists: ArtistIndex, *, train_valid_shared: Collection[str] = ()
) -> None:
    """Raise ``AssertionError`` if an artist sits on two sides of ``split`` (or a track does).

    ``train_valid_shared`` names artists allowed on both train and validation (where a genre has too few
    artists to validate by artist); no artist is ever allowed on the test side and another side.
    """
    sides = split_track_sets(split, track_ids)
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        both_tracks = sides[a] & sides[b]
        if both_tracks:
            raise AssertionError(f"split {split.name}: tracks on both {a} and {b}: {sorted(both_tracks)[:5]}")
        both = {artists.artist_of(t) for t in sides[a]} & {artists.artist_of(t) for t in sides[b]}
        if (a, b) == ("train", "valid"):
            both -= set(train_valid_shared)
        if both:
            raise AssertionError(f"split {split.name}: artists on both {a} and {b}: {sorted(both)[:5]}")
