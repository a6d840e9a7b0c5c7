"""The on-disk feature cache: layout, manifest, errors, reuse, resume, dataset changes, workers."""

from __future__ import annotations

import csv
import json
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.audio import SegmentConfig, load_audio
from musicgenre.datasets.index import DatasetIndex, scan_dataset
from musicgenre.errors import DatasetError
from musicgenre.features import extract_many, make_config
from musicgenre.features.mfcc import extract_mfcc
from musicgenre.store import (
    FeatureStore,
    IncompleteStoreError,
    StoreLock,
    build_store,
    build_stores,
    dataset_key,
    is_complete,
    open_store,
    store_path,
)
from musicgenre.store.workers import mp_context

SR = 16000
SEG = SegmentConfig()  # 16 kHz, 30 s clips, 3 s segments

# (genre, file name, seconds, sample rate, soundfile subtype)
CLIPS = [
    ("blues", "blues.a.wav", 30.0, 16000, "FLOAT"),
    ("blues", "blues.b.au", 7.5, 22050, "PCM_16"),  # short: 2 full segments, one half-padded, 7 of padding
    ("classical", "classical.c.flac", 12.0, 16000, "PCM_16"),
    ("classical", "classical.d.wav", 31.0, 16000, "FLOAT"),  # longer: cut to 30 s
    ("rock", "rock.e.ogg", 4.0, 44100, "VORBIS"),
]
CORRUPT = ("rock", "rock.bad.wav")
GOOD_TRACKS = ["blues.a", "blues.b", "classical.c", "classical.d", "rock.e"]


def _signal(seed: int, seconds: float, sr: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * (200 + 100 * seed) * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def _write_tree(root: Path) -> Path:
    for i, (genre, name, seconds, sr, subtype) in enumerate(CLIPS):
        (root / genre).mkdir(parents=True, exist_ok=True)
        sf.write(root / genre / name, _signal(i, seconds, sr), sr, subtype=subtype)
    (root / CORRUPT[0] / CORRUPT[1]).write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 10)
    (root / "classical" / "classical.empty.au").write_bytes(b"")  # a second failure: errors keep index order
    (root / "rock" / "notes.txt").write_text("not audio\n")  # skipped by the index, not an error
    return root


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return _write_tree(tmp_path / "mini-dataset")


def _configs():
    return [make_config("waveform"), make_config("mfcc")]


def _build(root: Path, cache: Path, **kw) -> dict[str, FeatureStore]:
    kw.setdefault("workers", 1)
    kw.setdefault("progress", False)
    return build_stores(scan_dataset(root), _configs(), SEG, cache_root=cache, **kw)


def _files_equal(a: Path, b: Path) -> None:
    assert (a / "features.npy").read_bytes() == (b / "features.npy").read_bytes()
    assert (a / "manifest.csv").read_text() == (b / "manifest.csv").read_text()
    assert (a / "errors.csv").read_text() == (b / "errors.csv").read_text()
    ma, mb = json.loads((a / "meta.json").read_text()), json.loads((b / "meta.json").read_text())
    for key in ("feature", "segment", "shape", "counts", "errors", "files"):
        assert ma[key] == mb[key], key


class _Counter:
    """An extractor (``build_stores(extract=...)``) that counts its calls and can raise KeyboardInterrupt after
    ``limit`` calls. It counts in the process that calls it: use it with ``workers=1``."""

    def __init__(self, limit: int | None = None) -> None:
        self.calls = 0
        self.limit = limit

    def __call__(self, configs, segments, sample_rate):
        if self.limit is not None and self.calls >= self.limit:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while this track was being computed
        self.calls += 1
        return extract_many(configs, segments, sample_rate)


class _Spy:
    """An extractor that records the feature names of each call (in this process: ``workers=1``)."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def __call__(self, configs, segments, sample_rate):
        self.seen.append([c.name for c in configs])
        return extract_many(configs, segments, sample_rate)


class _CallLog:
    """Wraps a decoder or extractor and leaves one file per call in ``folder``: counts calls made in worker
    processes too (the pool pickles it, so it is a module-level class)."""

    def __init__(self, folder: Path, fn) -> None:
        self.folder, self.fn = folder, fn
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, *args):
        (self.folder / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
        return self.fn(*args)

    @property
    def pids(self) -> list[int]:
        return [int(p.name.split("-")[0]) for p in self.folder.iterdir()]


def _no_decoding(path, sample_rate):
    pytest.fail(f"decoded {path} again")


# --- layout, shapes, manifest, errors ------------------------------------------------------------------


def test_build_layout_manifest_and_errors(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stores = _build(tree, cache)
    wav_cfg, mfcc_cfg = _configs()
    assert set(stores) == {wav_cfg.key(), mfcc_cfg.key()}
    wav, mfcc = stores[wav_cfg.key()], stores[mfcc_cfg.key()]

    assert wav.path == store_path(tree, wav_cfg, SEG, cache) == cache / dataset_key(tree, SEG) / wav_cfg.key()
    for s in (wav, mfcc):
        assert sorted(p.name for p in s.path.iterdir()) == [
            "DONE",
            "errors.csv",
            "features.npy",
            "manifest.csv",
            "meta.json",
        ]  # parts/ is gone once DONE is written
        assert isinstance(s.features, np.memmap) and not s.features.flags.writeable
        assert s.features.dtype == np.float32
        assert len(s) == 50  # 5 good clips x 10 segments (clips are cut or padded to 30 s)
    assert wav.features.shape == (50, 48000) and wav.shape == (48000,)
    assert mfcc.features.shape == (50, 94, 20)
    assert wav.feature_config == wav_cfg and mfcc.feature_config == mfcc_cfg
    assert wav.segment_config == SEG

    man = wav.manifest
    assert man.track_id.tolist() == [t for t in GOOD_TRACKS for _ in range(10)]  # index order, then segment
    assert man.genre.tolist()[:20] == ["blues"] * 20 and man.genre.tolist()[-10:] == ["rock"] * 10
    assert man.segment_index.tolist() == list(range(10)) * 5
    assert man.source_file.tolist()[10] == "blues/blues.b.au"
    assert wav.genres == ["blues", "classical", "rock"]
    assert wav.track_ids == GOOD_TRACKS
    rows_b = man.rows_for_tracks(["blues.b"])
    assert rows_b.tolist() == list(range(10, 20))
    # blues.b is 7.5 s: segments 0-1 are real audio, segment 2 is half padding, 3-9 are all padding.
    np.testing.assert_allclose(man.padding[rows_b], [0, 0, 0.5] + [1.0] * 7, atol=1e-4)
    np.testing.assert_allclose(man.duration[rows_b], 7.5, atol=1e-3)
    np.testing.assert_allclose(man.duration[man.rows_for_tracks(["classical.d"])], 31.0, atol=1e-3)
    assert (man.padding[man.rows_for_tracks(["classical.d"])] == 0).all()
    assert (wav.features[rows_b[3:]] == 0).all()  # padding is silence

    # The waveform rows are the decoded clip; the MFCC rows are the MFCC of the waveform rows.
    np.testing.assert_array_equal(wav.features[:10].reshape(-1), _signal(0, 30.0, SR))
    np.testing.assert_array_equal(mfcc.features[:], extract_mfcc(mfcc_cfg, np.asarray(wav.features), SR))

    # The bad files are reported, listed and left out; the .txt file is only 'skipped'.
    assert wav.errors == [
        ("classical/classical.empty.au", "zero-length file"),
        ("rock/rock.bad.wav", wav.errors[1][1]),
    ]
    assert "not a readable audio file" in wav.errors[1][1]
    assert mfcc.errors == wav.errors
    with open(wav.path / "errors.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["track_id", "genre", "source_file", "error"]
    assert rows[1] == ["classical.empty", "classical", "classical/classical.empty.au", "zero-length file"]
    assert rows[2][:3] == ["rock.bad", "rock", "rock/rock.bad.wav"]
    with open(wav.path / "manifest.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["row", "track_id", "genre", "segment_index", "source_file", "duration_s", "padding"]
    meta = json.loads((wav.path / "meta.json").read_text())
    assert meta["counts"]["tracks"] == 5 and meta["counts"]["rows"] == 50 and meta["counts"]["errors"] == 2
    assert meta["counts"]["skipped"] == 1
    assert meta["dataset_root"] == str(tree.absolute())
    assert meta["feature"] == wav_cfg.to_dict() and meta["segment"] == SEG.to_dict()
    assert len(meta["files"]) == 7 and meta["musicgenre_version"]

    # Opening the folder again gives the same store.
    again = open_store(mfcc.path)
    np.testing.assert_array_equal(again.features, mfcc.features)
    assert again.manifest.track_id.tolist() == man.track_id.tolist()


def test_segment_config_is_part_of_the_key(tree: Path, tmp_path: Path) -> None:
    short = SegmentConfig(clip_seconds=None, segment_seconds=3.0)
    assert dataset_key(tree, SEG) != dataset_key(tree, short)
    assert dataset_key(tree, SEG).startswith("mini-dataset-")
    assert dataset_key(tree, SEG) == dataset_key(str(tree), SegmentConfig())
    s = build_store(
        scan_dataset(tree),
        make_config("waveform"),
        short,
        cache_root=tmp_path / "c",
        workers=1,
        progress=False,
    )
    # Clips keep their own length: 30 s -> 10, 7.5 s -> 3, 12 s -> 4, 31 s -> 11, 4 s -> 2 segments.
    counts = [int((s.manifest.track_id == t).sum()) for t in GOOD_TRACKS]
    assert counts == [10, 3, 4, 11, 2]


# --- reuse, resume, changes ----------------------------------------------------------------------------


def test_complete_store_is_reused_without_work(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _build(tree, cache)
    # A build killed after writing DONE but before removing parts/, and a temporary file of a dead writer:
    # the next run removes both.
    wav_path = first[_configs()[0].key()].path
    (wav_path / "parts").mkdir()
    (wav_path / "parts" / "blues.a.npz").write_bytes(b"left over")
    (wav_path / ".meta.json.k1ll3d.tmp").write_text("{")
    counter = _Counter()
    second = _build(tree, cache, extract=counter, decode=_no_decoding)
    assert counter.calls == 0
    assert not (wav_path / "parts").exists() and not list(wav_path.glob(".*.tmp"))
    for key in first:
        np.testing.assert_array_equal(first[key].features, second[key].features)


def test_resume_after_interrupt_equals_clean_build(tree: Path, tmp_path: Path) -> None:
    clean = _build(tree, tmp_path / "clean")

    cache = tmp_path / "cache"
    interrupted = _Counter(limit=2)
    with pytest.raises(KeyboardInterrupt):
        _build(tree, cache, extract=interrupted)
    assert interrupted.calls == 2
    paths = {c.key(): store_path(tree, c, SEG, cache) for c in _configs()}
    for path in paths.values():
        assert not (path / "DONE").exists()
        assert sorted(p.name for p in (path / "parts").iterdir()) == ["blues.a.npz", "blues.b.npz"]
        with pytest.raises(IncompleteStoreError, match="incomplete"):
            open_store(path)

    # A killed writer leaves a temporary file; a part can be truncated by a crash: both are handled.
    wav_parts = paths[_configs()[0].key()] / "parts"
    (wav_parts / ".classical.c.npz.123.tmp").write_bytes(b"partial")
    (wav_parts / "classical.c.npz").write_bytes(b"PK\x03\x04 truncated")
    # A kill during the final write leaves a temporary file in the store folder itself.
    (wav_parts.parent / ".features.npy.k1ll3d.tmp").write_bytes(b"\x93NUMPY partial")

    resumed = _Counter()
    stores = _build(tree, cache, extract=resumed)
    assert resumed.calls == 3  # classical.c, classical.d, rock.e; blues.a and blues.b were kept
    for key, s in stores.items():
        _files_equal(s.path, clean[key].path)
        assert not (s.path / "parts").exists()
        assert not list(s.path.glob(".*.tmp"))


def test_resume_computes_only_the_missing_feature(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wav_cfg = make_config("waveform")
    build_store(scan_dataset(tree), wav_cfg, SEG, cache_root=cache, workers=1, progress=False)
    spy = _Spy()
    _build(tree, cache, extract=spy)
    assert spy.seen == [["mfcc"]] * 5


def test_dataset_changes_update_the_store(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _build(tree, cache)
    # Remove one clip, add one, rewrite another (new size and mtime).
    (tree / "classical" / "classical.c.flac").unlink()
    sf.write(tree / "rock" / "rock.f.wav", _signal(7, 6.0, SR), SR, subtype="FLOAT")
    sf.write(tree / "blues" / "blues.a.wav", _signal(8, 29.0, SR), SR, subtype="FLOAT")
    st = (tree / "blues" / "blues.a.wav").stat()
    os.utime(tree / "blues" / "blues.a.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    counter = _Counter()
    stores = _build(tree, cache, extract=counter)
    assert counter.calls == 2  # rock.f and the rewritten blues.a; the others came from the old store
    clean = _build(tree, tmp_path / "clean")
    for key, s in stores.items():
        _files_equal(s.path, clean[key].path)
        assert "classical.c" not in s.track_ids and "rock.f" in s.track_ids


def test_rebuild_flag_recomputes(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _build(tree, cache)
    counter = _Counter()
    _build(tree, cache, rebuild=True, extract=counter)
    assert counter.calls == 5


def test_damaged_complete_store_is_rebuilt(tree: Path, tmp_path: Path, caplog) -> None:
    cache = tmp_path / "cache"
    first = _build(tree, cache)
    wav_key = _configs()[0].key()
    (first[wav_key].path / "features.npy").unlink()  # DONE is there, but the store is unusable
    with pytest.raises(IncompleteStoreError, match="unreadable"):
        open_store(first[wav_key].path)
    with caplog.at_level("WARNING"):
        again = _build(tree, cache)
    assert "building it again" in caplog.text
    assert again[wav_key].features.shape == (50, 48000)


def test_every_file_failing_raises(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    (root / "jazz").mkdir(parents=True)
    (root / "jazz" / "x.wav").write_bytes(b"nope" * 100)
    (root / "jazz" / "y.au").write_bytes(b"")
    with pytest.raises(DatasetError, match="none of the 2 audio files"):
        _build(root, tmp_path / "cache")
    empty = DatasetIndex(root=root, tracks=[])
    with pytest.raises(DatasetError):
        build_stores(empty, _configs(), SEG, cache_root=tmp_path / "cache", progress=False)


def test_open_store_errors(tmp_path: Path) -> None:
    with pytest.raises(IncompleteStoreError, match="no feature store"):
        open_store(tmp_path / "nothing-here")
    (tmp_path / "half").mkdir()
    with pytest.raises(IncompleteStoreError, match="incomplete"):
        open_store(tmp_path / "half")


def test_two_workers_equal_one(tree: Path, tmp_path: Path) -> None:
    one = _build(tree, tmp_path / "one", workers=1)
    # The decoder and the extractor given to build_stores are the ones the worker processes call.
    decode = _CallLog(tmp_path / "decoded", load_audio)
    extract = _CallLog(tmp_path / "extracted", extract_many)
    two = _build(tree, tmp_path / "two", workers=2, decode=decode, extract=extract)
    for key in one:
        _files_equal(one[key].path, two[key].path)
    assert len(decode.pids) == 7 and len(extract.pids) == 5  # every file decoded; the 5 good ones extracted
    assert os.getpid() not in decode.pids + extract.pids


# --- real audio ---------------------------------------------------------------------------------------


def test_real_gtzan_mini_tracks(gtzan_mini: Path, tmp_path: Path) -> None:
    full = scan_dataset(gtzan_mini)
    wanted = {"blues.00000", "blues.00007", "classical.00000", "classical.00001"}
    index = DatasetIndex(root=full.root, tracks=[t for t in full.tracks if t.track_id in wanted])
    stores = build_stores(index, _configs(), SEG, cache_root=tmp_path / "cache", workers=2, progress=False)
    wav, mfcc = (stores[c.key()] for c in _configs())
    assert wav.features.shape == (40, 48000) and mfcc.features.shape == (40, 94, 20)
    assert np.isfinite(mfcc.features).all()
    assert wav.errors == []
    man = mfcc.manifest
    assert man.track_id.tolist() == [t for t in sorted(wanted) for _ in range(10)]
    rows = man.rows_for_tracks(["blues.00007"])  # a 17.95 s clip: the first 15-20 s of the original
    assert man.duration[rows[0]] == pytest.approx(17.95, abs=0.01)
    assert (man.padding[rows[:5]] == 0).all()
    assert man.padding[rows[5]] == pytest.approx(1 - 2.95 / 3, abs=0.01)
    assert man.segment_index[rows[6:]].tolist() == [6, 7, 8, 9]
    assert (man.padding[rows[6:]] == 1.0).all()
    assert (wav.features[rows[6:]] == 0).all()
    assert (man.padding[man.rows_for_tracks(["blues.00000"])] == 0).all()
    # Segments of padding have the MFCC of silence: c0 = -100 dB * sqrt(128 bands).
    np.testing.assert_allclose(mfcc.features[rows[6:], :, 0], -100 * np.sqrt(128), rtol=1e-5)


# --- one store, several processes ----------------------------------------------------------------------

TINY = SegmentConfig(clip_seconds=None, segment_seconds=1.0)  # 2 s clips: 2 segments each


def _write_tiny_tree(root: Path) -> Path:
    for i in range(8):
        genre = ("blues", "rock")[i % 2]
        (root / genre).mkdir(parents=True, exist_ok=True)
        sf.write(root / genre / f"{genre}.{i:02d}.wav", _signal(i, 2.0, SR), SR, subtype="FLOAT")
    return root


def _race(root: str, caches: list[str], barrier, results) -> None:
    """One of several runner processes: builds the stores of each cache at the same moment as the others."""
    index = scan_dataset(root)
    for cache in caches:
        try:
            barrier.wait(timeout=60)
            build_stores(index, _configs(), TINY, cache_root=cache, workers=1, progress=False)
            results.put((cache, "ok"))
        except Exception as exc:
            results.put((cache, f"{type(exc).__name__}: {exc}"))


def test_concurrent_builds_of_one_store(tmp_path: Path) -> None:
    root = _write_tiny_tree(tmp_path / "tiny")
    serial = build_stores(
        scan_dataset(root), _configs(), TINY, cache_root=tmp_path / "serial", workers=1, progress=False
    )
    trials, runners = 6, 2
    caches = [tmp_path / f"race{i}" for i in range(trials)]
    ctx = mp_context()
    barrier, results = ctx.Barrier(runners), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(root), [str(c) for c in caches], barrier, results), daemon=True)
        for _ in range(runners)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(trials * runners)]
    for p in procs:
        p.join(timeout=30)
    assert [o for o in outcomes if o[1] != "ok"] == []  # every run succeeded
    for cache in caches:
        for s in serial.values():
            path = cache / s.path.relative_to(tmp_path / "serial")
            _files_equal(path, s.path)  # the store equals a serial build: no track listed as failed
            assert open_store(path).errors == [] and not (path / "parts").exists()


def test_a_second_build_waits_for_the_store_lock(tree: Path, tmp_path: Path, caplog) -> None:
    cache = tmp_path / "cache"
    wav_cfg = make_config("waveform")
    path = store_path(tree, wav_cfg, SEG, cache)
    built: list[FeatureStore] = []

    def second() -> None:
        built.append(
            build_store(scan_dataset(tree), wav_cfg, SEG, cache_root=cache, workers=1, progress=False)
        )

    waiter = threading.Thread(target=second)
    with caplog.at_level("WARNING"), StoreLock(path) as lock:
        assert lock.held
        waiter.start()
        deadline = time.monotonic() + 30
        while "waiting for" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f"waiting for {path}: another process (pid {os.getpid()}) is building it" in caplog.text
        time.sleep(0.1)
        assert not built and not is_complete(path)  # it waits while the lock is held
    waiter.join(timeout=60)
    assert len(built) == 1 and is_complete(path) and len(built[0]) == 50
