"""Artists: reading track-to-artist files, GTZAN's index on gtzan-mini, the artist protocol, the download."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from musicgenre import splits
from musicgenre.artist_splits import artist_kfold_splits, check_artist_disjoint
from musicgenre.audio.segment import SegmentConfig
from musicgenre.cli import main
from musicgenre.datasets.artists import (
    ArtistIndex,
    default_artists_path,
    read_artists,
    resolve_artists,
    track_id_of,
)
from musicgenre.datasets.download import DownloadError
from musicgenre.datasets.gtzan import GTZAN_INDEX_SHA256, download_gtzan_index, gtzan_index_path
from musicgenre.download import file_digest
from musicgenre.errors import DatasetError
from musicgenre.experiment import PreparedData, protocol_splits, run_dirs
from musicgenre.specs import ProtocolSpec

SINGLE_ARTIST = {
    "blues": "John Lee Hooker",
    "classical": "JS Bach",
    "reggae": "Bob Marley",
    "rock": "Morphine",
}


# ----------------------------------------------------------------------------------------------- reading
def test_gtzan_format_matches_track_ids_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "index.txt"
    path.write_text(
        "## a header\n##\n"
        "blues.00000.wav ::: John Lee Hooker ::: One Bourbon\n"
        "genres/blues/blues.00001.au ::: John  Lee Hooker :::\n"  # path prefix, other extension, spaces
        "\n"
        "blues.00002.wav ::: :::\n"  # empty artist: unknown
        "blues.00003.wav ::: Robert Johnson\n",
        encoding="utf-8",
    )
    index = read_artists(path)
    assert index.source == path
    assert index.artist_of("blues.00000") == index.artist_of("blues.00001") == "John Lee Hooker"
    assert index.artist_of("blues.00003") == "Robert Johnson"
    assert index.artist_of("blues.00002") == "unknown:blues.00002"
    assert index.artist_of("blues.00099") == "unknown:blues.00099"
    assert not index.is_known("blues.00002") and index.is_known("blues.00000")


def test_csv_and_tsv_formats(tmp_path: Path) -> None:
    csv_path = tmp_path / "artists.csv"
    csv_path.write_text(
        'track_id,artist,title\nrock.00001,Morphine,Potion\n"pop.00001","Earth, Wind & Fire",x\nrock.00002,,\n',
        encoding="utf-8",
    )
    index = read_artists(csv_path)
    assert index.artist_of("rock.00001") == "Morphine"  # the dot in the id is not taken for an extension
    assert index.artist_of("pop.00001") == "Earth, Wind & Fire"
    assert index.artist_of("rock.00002") == "unknown:rock.00002"
    tsv_path = tmp_path / "artists.tsv"
    tsv_path.write_text("artist\ttrack_id\nMorphine\trock.00001.wav\n", encoding="utf-8")
    assert read_artists(tsv_path).artists == {"rock.00001": "Morphine"}


def test_track_id_of_drops_only_audio_extensions() -> None:
    assert track_id_of("a/b/jazz.00007.wav") == "jazz.00007"
    assert track_id_of("jazz.00007") == "jazz.00007"
    assert track_id_of("C:\\music\\song.mp3") == "song"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("## header\nblues.00000.wav ::: A ::: t\nblues.00001.wav A t\n", 3, "malformed line"),
        ("blues.00000.wav ::: A ::: t\n ::: B ::: t\n", 2, "malformed line"),
        ("track,artist\nrock.00001,Morphine\n", 1, "track_id"),
        ("track_id,artist\nrock.00001,Morphine\nrock.00002\n", 3, "1 field(s)"),
        ("track_id,artist\nrock.00001,Morphine\nrock.00001.wav,Sting\n", 3, "listed twice"),
    ],
)
def test_malformed_lines_name_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        read_artists(path)
    assert f"{path}:{line}:" in str(err.value) and words in str(err.value)


def test_missing_file_and_missing_default_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetError, match="artist file not found"):
        read_artists(tmp_path / "nope.csv")
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path))
    assert default_artists_path() is None
    with pytest.raises(DatasetError, match="--artists FILE"):
        resolve_artists(None)


def test_unknown_artists_count_as_their_own() -> None:
    index = ArtistIndex({"a.1": "X", "a.2": "X", "a.3": ""})
    groups = index.groups(["a.1", "a.2", "a.3", "a.4"])
    assert groups == {"X": ["a.1", "a.2"], "unknown:a.3": ["a.3"], "unknown:a.4": ["a.4"]}


# ----------------------------------------------------------------------------------- GTZAN's real index
@pytest.fixture(scope="module")
def gtzan_index(shared: Path) -> ArtistIndex:
    path = shared / "data" / "gtzan-metadata" / "GTZANindex.txt"
    assert default_artists_path() == path
    return read_artists(path)


@pytest.fixture(scope="module")
def mini_ids(gtzan_mini: Path) -> list[str]:
    return sorted(p.stem for p in gtzan_mini.glob("*/*") if p.is_file() and not p.name.startswith("."))


def test_gtzan_index_reads_every_track(gtzan_index: ArtistIndex) -> None:
    assert len(gtzan_index) == 1000
    assert sum(not gtzan_index.is_known(t) for t in gtzan_index.artists) == 81
    assert gtzan_index.artist_of("classical.00000") == "JS Bach"


def test_gtzan_mini_artist_facts(gtzan_index: ArtistIndex, mini_ids: list[str]) -> None:
    assert len(mini_ids) == 100
    per_artist = Counter(gtzan_index.artist_of(t) for t in mini_ids)
    assert sum(n for n in per_artist.values() if n > 1) == 68
    by_genre: dict[str, set[str]] = {}
    for t in mini_ids:
        by_genre.setdefault(t.split(".")[0], set()).add(gtzan_index.artist_of(t))
    single = {g: next(iter(a)) for g, a in by_genre.items() if len(a) == 1}
    assert single == SINGLE_ARTIST


# ------------------------------------------------------------------------------------ the artist protocol
def _rows(ids: list[str], per_track: int = 3) -> tuple[np.ndarray, np.ndarray]:
    tids = np.repeat(np.asarray(ids), per_track)
    return tids, np.asarray([t.split(".")[0] for t in tids])


def test_artist_folds_on_gtzan_mini(gtzan_index: ArtistIndex, mini_ids: list[str]) -> None:
    tids, gens = _rows(mini_ids)
    folds = artist_kfold_splits(tids, gens, gtzan_index, k=5, seed=0)
    assert [f.name for f in folds] == [f"artist-{i}of5" for i in range(1, 6)]
    tested: Counter[str] = Counter()
    for split in folds:
        assert split.protocol == "artist" and not split.leaky
        sides = splits.split_track_sets(split, tids)
        artists = {side: {gtzan_index.artist_of(t) for t in ids} for side, ids in sides.items()}
        assert not artists["test"] & (artists["train"] | artists["valid"])
        # Train and validation share only artists of genres with a single training artist (noted).
        for name in artists["train"] & artists["valid"]:
            assert any(name in note and "chosen by track" in note for note in split.notes)
        assert artists["train"] & artists["valid"] <= {
            *SINGLE_ARTIST.values(),
            "James Carter",
            "Leonard Bernstein",
        }
        check_artist_disjoint(
            split, tids, gtzan_index, train_valid_shared=artists["train"] & artists["valid"]
        )
        for genre, artist in SINGLE_ARTIST.items():
            assert f"{genre}: 1 artist ({artist}); not tested under the artist protocol" in split.notes
            assert not any(t.startswith(genre + ".") for t in sides["test"])
        # Genres with at least k artists are tested in every fold.
        for genre in ("country", "disco", "hiphop", "metal"):
            assert any(t.startswith(genre + ".") for t in sides["test"])
        n_valid = len(sides["valid"])
        assert 0.15 <= n_valid / (n_valid + len(sides["train"])) <= 0.3
        tested.update(sides["test"])
    testable = [t for t in mini_ids if t.split(".")[0] not in SINGLE_ARTIST]
    assert sorted(tested) == testable and set(tested.values()) == {1}


def test_artist_folds_repeat_under_a_seed(gtzan_index: ArtistIndex, mini_ids: list[str]) -> None:
    tids, gens = _rows(mini_ids, per_track=2)

    def sides(seed: int) -> list[dict[str, set[str]]]:
        return [
            splits.split_track_sets(s, tids) for s in artist_kfold_splits(tids, gens, gtzan_index, seed=seed)
        ]

    assert sides(3) == sides(3)
    assert sides(3) != sides(4)


def test_check_artist_disjoint_catches_an_artist_on_two_sides() -> None:
    tids = np.array(["a.1", "a.2", "a.3", "a.4"])
    index = ArtistIndex({"a.1": "X", "a.2": "X", "a.3": "Y", "a.4": "Z"})
    split = splits.Split("s", "artist", np.array([0, 3]), np.array([], dtype=np.int64), np.array([1, 2]))
    with pytest.raises(AssertionError, match=r"artists on both train and test.*X"):
        check_artist_disjoint(split, tids, index)
    split = splits.Split("s", "artist", np.array([0]), np.array([1]), np.array([2, 3]))
    with pytest.raises(AssertionError, match="train and valid"):
        check_artist_disjoint(split, tids, index)
    check_artist_disjoint(split, tids, index, train_valid_shared={"X"})


def test_artist_protocol_rejects_too_few_artists() -> None:
    index = ArtistIndex({"a.1": "X", "a.2": "Y", "b.1": "Z", "b.2": "W"})
    with pytest.raises(ValueError, match="k=5 needs at least 5 artists"):
        artist_kfold_splits(["a.1", "a.2", "b.1", "b.2"], ["a", "a", "b", "b"], index, k=5)


def test_protocol_splits_reads_the_artist_file(tmp_path: Path, mini_ids: list[str], shared: Path) -> None:
    tids, gens = _rows(mini_ids, per_track=1)
    data = PreparedData(
        root=tmp_path,
        inputs={},
        feature_configs={},
        segment=SegmentConfig(),
        label_names=sorted(set(gens.tolist())),
        labels=np.zeros(len(tids), dtype=np.int64),
        track_ids=tids,
        genres=gens,
        segment_index=np.zeros(len(tids), dtype=np.int64),
    )
    spec = ProtocolSpec("artist", k=4, seed=1)
    folds = protocol_splits(data, spec)
    assert len(folds) == 4 and all(f.protocol == "artist" for f in folds)
    csv_path = tmp_path / "artists.csv"  # every track its own artist: like k-fold by track
    csv_path.write_text("track_id,artist\n", encoding="utf-8")
    own = protocol_splits(data, ProtocolSpec("artist", k=4, artists=csv_path))
    assert sum(len(f.test) for f in own) == 100 and not any("not tested" in n for f in own for n in f.notes)
    assert [p.name for _, p in run_dirs(tmp_path, spec, 4)] == ["fold-1", "fold-2", "fold-3", "fold-4"]
    assert run_dirs(tmp_path, ProtocolSpec("artist", fold=2), 4) == [(2, tmp_path / "fold-2")]
    assert spec.to_dict()["artists"] is None


# ------------------------------------------------------------------------------------------ the download
def test_download_index_from_file_url_checks_the_checksum(tmp_path: Path, shared: Path) -> None:
    original = shared / "data" / "gtzan-metadata" / "GTZANindex.txt"
    assert file_digest(original, "sha256") == GTZAN_INDEX_SHA256
    mirror = tmp_path / "mirror" / "GTZANindex.txt"
    mirror.parent.mkdir()
    shutil.copyfile(original, mirror)
    got = download_gtzan_index(tmp_path / "project", url=mirror.as_uri(), progress=False)
    assert got == gtzan_index_path(tmp_path / "project") and got.read_bytes() == original.read_bytes()
    assert read_artists(got).artist_of("rock.00003") == "Morphine"

    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(original.read_bytes().replace(b"Morphine", b"Morphone"))
    with pytest.raises(DownloadError, match="sha256 checksum mismatch"):
        download_gtzan_index(tmp_path / "other", url=tampered.as_uri(), progress=False)
    assert not gtzan_index_path(tmp_path / "other").exists()


def test_cli_download_artists_only(tmp_path: Path, shared: Path) -> None:
    mirror = tmp_path / "GTZANindex.txt"
    shutil.copyfile(shared / "data" / "gtzan-metadata" / "GTZANindex.txt", mirror)
    runner = CliRunner()
    args = ["download", "gtzan", "--dest", str(tmp_path / "p"), "--artists-only"]
    res = runner.invoke(main, [*args, "--artists-url", mirror.as_uri()])
    assert res.exit_code == 0, res.output
    assert gtzan_index_path(tmp_path / "p").is_file()
    bad = tmp_path / "bad.txt"
    bad.write_text("blues.00000.wav ::: Someone ::: else\n", encoding="utf-8")
    res = runner.invoke(
        main,
        ["download", "gtzan", "--dest", str(tmp_path / "q"), "--artists-only", "--artists-url", bad.as_uri()],
    )
    assert res.exit_code == 2 and "checksum mismatch" in res.output


@pytest.mark.parametrize("verb", ["train", "study"])
def test_artist_options_on_train_and_study(verb: str) -> None:
    out = CliRunner().invoke(main, [verb, "--help"]).output
    assert "--artists" in out and "artist" in out
