"""Split lists: reading the fault-filtered GTZAN lists and matching them to a dataset by track id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicgenre.datasets import scan_dataset
from musicgenre.datasets.split_lists import (
    match_split_lists,
    read_split_list,
    read_split_lists,
    split_list_report,
    track_id_from_entry,
)
from musicgenre.errors import DatasetError


def _write_lists(d: Path, train: str, valid: str, test: str, suffix: str = "_filtered.txt") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for side, text in (("train", train), ("valid", valid), ("test", test)):
        (d / f"{side}{suffix}").write_text(text, encoding="utf-8")
    return d


def test_real_filtered_split_sizes_and_disjoint(gtzan_splits: Path) -> None:
    lists = read_split_lists(gtzan_splits)
    assert {side: len(ids) for side, ids in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    sets = {side: set(ids) for side, ids in lists.items()}
    assert all(len(sets[s]) == len(lists[s]) for s in lists)  # no duplicates within a list
    assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"] or sets["valid"] & sets["test"])
    everything = sets["train"] | sets["valid"] | sets["test"]
    assert len(everything) == 930
    # ids are stems, without the .wav extension of the list files
    assert lists["train"][0] == "blues.00029"
    assert all(tid.count(".") == 1 and not tid.endswith((".wav", ".au")) for tid in everything)


def test_match_real_lists_against_gtzan_mini(gtzan_splits: Path, gtzan_mini: Path) -> None:
    lists = read_split_lists(gtzan_splits)
    ids = [t.track_id for t in scan_dataset(gtzan_mini).tracks]
    assert len(ids) == 100
    assignment, missing = match_split_lists(lists, ids)
    # gtzan-mini holds ids 00000-00009 (.au); the lists name .wav files: matching is by id
    assert assignment["blues.00000"] == "valid"
    assert assignment["disco.00001"] == "test"
    assert assignment["jazz.00000"] == "train"
    # the faulty tracks that the filtered split leaves out are in no list
    unlisted = sorted(set(ids) - set(assignment))
    assert unlisted == [
        "country.00008",
        "hiphop.00001",
        "metal.00004",
        "reggae.00003",
        "reggae.00005",
        "reggae.00007",
        "reggae.00008",
    ]
    assert len(assignment) == 93
    # listed ids that gtzan-mini lacks, per side, in list order
    assert missing["train"][:2] == ["blues.00029", "blues.00030"]
    for side in ("train", "valid", "test"):
        assert len(missing[side]) + sum(1 for s in assignment.values() if s == side) == len(lists[side])
        assert not set(missing[side]) & set(ids)

    report = split_list_report(lists, ids)
    assert report.unlisted == unlisted
    assert {s: len(v) for s, v in report.matched.items()} == {"train": 38, "valid": 51, "test": 4}
    assert report.assignment == assignment
    text = report.format()
    assert "7 dataset tracks are in no list" in text
    assert "405 missing" in text
    d = json.loads(json.dumps(report.to_dict()))
    assert d["unlisted"] == 7 and d["matched"] == {"train": 38, "valid": 51, "test": 4}


def test_track_id_from_entry() -> None:
    assert track_id_from_entry("blues/blues.00029.wav") == "blues.00029"
    assert track_id_from_entry("blues.00029.au") == "blues.00029"
    assert track_id_from_entry("blues.00029.WAV") == "blues.00029"
    assert track_id_from_entry("blues.00029") == "blues.00029"  # .00029 is not an extension
    assert track_id_from_entry("genres\\rock\\rock.00001.mp3") == "rock.00001"
    assert track_id_from_entry("  pop/pop.00003.wav \n") == "pop.00003"


def test_extension_agnostic_matching_and_plain_txt_names(tmp_path: Path) -> None:
    d = _write_lists(
        tmp_path / "lists",
        "# comment\nblues/blues.00000.wav\n\nblues/blues.00001.au\n",
        "rock.00000\n",
        "rock/rock.00001.mp3\n",
        suffix=".txt",
    )
    lists = read_split_lists(d)
    assert lists == {"train": ["blues.00000", "blues.00001"], "valid": ["rock.00000"], "test": ["rock.00001"]}
    assignment, missing = match_split_lists(lists, ["blues.00000", "rock.00001", "pop.00000"])
    assert assignment == {"blues.00000": "train", "rock.00001": "test"}
    assert missing == {"train": ["blues.00001"], "valid": ["rock.00000"], "test": []}


def test_match_accepts_raw_entries() -> None:
    assignment, missing = match_split_lists({"train": ["a/x.00001.wav"], "test": ["y.00002.au"]}, ["x.00001"])
    assert assignment == {"x.00001": "train"}
    assert missing == {"train": [], "test": ["y.00002"]}


def test_track_in_two_lists_is_an_error(tmp_path: Path) -> None:
    d = _write_lists(tmp_path, "blues/blues.00000.wav\n", "blues/blues.00000.au\n", "rock/rock.00000.wav\n")
    with pytest.raises(DatasetError, match=r"valid_filtered\.txt.*blues\.00000.*train.*train_filtered\.txt"):
        read_split_lists(d)
    with pytest.raises(DatasetError, match="both the train and valid lists"):
        match_split_lists({"train": ["blues.00000"], "valid": ["blues/blues.00000.wav"]}, ["blues.00000"])


def test_duplicate_in_one_list_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "train_filtered.txt"
    p.write_text("blues/blues.00000.wav\nblues/blues.00001.wav\nblues/blues.00000.wav\n")
    with pytest.raises(DatasetError, match=r"train_filtered\.txt:3: track 'blues\.00000' is listed twice"):
        read_split_list(p)


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    d = _write_lists(
        tmp_path, "blues/blues.00000.wav\n", "blues/blues.00001.wav 3\n", "rock/rock.00000.wav\n"
    )
    with pytest.raises(DatasetError, match=r"valid_filtered\.txt:1: malformed line"):
        read_split_lists(d)
    (d / "valid_filtered.txt").write_text("blues/\n")
    with pytest.raises(DatasetError, match=r"valid_filtered\.txt:1: malformed line"):
        read_split_lists(d)


def test_missing_list_file_or_folder(tmp_path: Path) -> None:
    d = tmp_path / "lists"
    d.mkdir()
    (d / "train_filtered.txt").write_text("blues/blues.00000.wav\n")
    (d / "valid_filtered.txt").write_text("blues/blues.00001.wav\n")
    with pytest.raises(
        DatasetError, match=r"missing split list for 'test' \(expected test_filtered\.txt or test\.txt\)"
    ):
        read_split_lists(d)
    with pytest.raises(DatasetError, match="split-list folder not found"):
        read_split_lists(tmp_path / "nope")
    with pytest.raises(DatasetError, match="split list not found"):
        read_split_list(tmp_path / "nope.txt")


def test_fault_filtered_protocol_on_gtzan_mini_warns_of_a_tiny_test_side(
    gtzan_splits: Path, gtzan_mini: Path
) -> None:
    from musicgenre.audio.segment import SegmentConfig
    from musicgenre.experiment import PreparedData, protocol_splits
    from musicgenre.specs import ProtocolSpec

    tracks = scan_dataset(gtzan_mini).tracks
    tids = np.array([t.track_id for t in tracks])
    genres = np.array([t.genre for t in tracks])
    names = sorted(set(genres.tolist()))
    data = PreparedData(
        root=gtzan_mini, inputs={}, feature_configs={}, segment=SegmentConfig(), label_names=names,
        labels=np.array([names.index(g) for g in genres]), track_ids=tids, genres=genres,
        segment_index=np.zeros(len(tids), dtype=np.int64),
    )  # fmt: skip
    (split,) = protocol_splits(data, ProtocolSpec("fault-filtered", split_dir=gtzan_splits))
    assert "tracks per side: train 38, valid 51, test 4" in split.notes
    assert any(n.startswith("WARNING: only 4 test tracks for 10 genres") for n in split.notes)
