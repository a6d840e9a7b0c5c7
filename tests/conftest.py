"""Shared fixtures. Tests that need ``../shared`` fail (never skip) when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from musicgenre.settings import shared_dir

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"required reference data is missing: {path} "
            "(set MUSICGENRE_SHARED or place the shared/ folder beside the checkout)"
        )
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``shared/`` folder of real data and reference files."""
    return _require(shared_dir())


@pytest.fixture(scope="session")
def gtzan_mini(shared: Path) -> Path:
    """100 real GTZAN clips, 10 per genre."""
    return _require(shared / "data" / "gtzan-mini")


@pytest.fixture(scope="session")
def gtzan_excerpts(shared: Path) -> Path:
    """200 real 2-3 s GTZAN excerpts of other tracks (evaluation only)."""
    return _require(shared / "data" / "gtzan-excerpts")


@pytest.fixture(scope="session")
def gtzan_splits(shared: Path) -> Path:
    """The fault-filtered split lists."""
    return _require(shared / "data" / "gtzan-splits")


@pytest.fixture(scope="session")
def yamnet_dir(shared: Path) -> Path:
    """Google's YAMNet int8 TFLite file, class map and reference outputs."""
    return _require(shared / "models" / "yamnet")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: results do not depend on it, and on a shared 2-core machine it avoids
    OpenMP oversubscription (many small parallel regions waiting for a descheduled thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def musicnn_weights():
    """musicnn's official weights (a :class:`~musicgenre.pretrained.PretrainedBundle` of the extracted folder).

    Found like the toolkit finds them ($MUSICGENRE_MUSICNN_WEIGHTS, the cache, the shared folder); if they
    are not there yet, ``musicgenre download musicnn`` fetches them into the weights cache (PyPI must be
    reachable). A test that needs them fails, never skips, when that is impossible.
    """
    from musicgenre.errors import MusicGenreError
    from musicgenre.musicnn.download import download_musicnn
    from musicgenre.musicnn.weights import MUSICNN

    try:
        return MUSICNN.resolve(identity=MUSICNN.official_identity)
    except MusicGenreError:
        pass
    try:
        download_musicnn()
        return MUSICNN.resolve(identity=MUSICNN.official_identity)
    except MusicGenreError as exc:
        pytest.fail(f"musicnn's weights are needed and `musicgenre download musicnn` failed: {exc}")
