"""musicnn's weights: download (on fake wheels), resolution as a weights family, and the real checkpoints."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from musicgenre.cli import main
from musicgenre.download import DownloadError
from musicgenre.errors import WeightsMismatchError, WeightsNotFoundError
from musicgenre.musicnn import tf_checkpoint as T
from musicgenre.musicnn.download import download_musicnn
from musicgenre.musicnn.weights import ENV_VAR, MODELS, MUSICNN, folder_sha1


def _fake_wheel(
    tmp_path: Path, models=MODELS, name: str = "musicnn-0.1.0-py3-none-any.whl"
) -> tuple[Path, str]:
    """A tiny wheel shaped like musicnn's: one small checkpoint per model folder, a .meta, the licence."""
    src = tmp_path / "wheel-src"
    with zipfile.ZipFile(tmp_path / name, "w") as zf:
        zf.writestr("musicnn/__init__.py", "")
        zf.writestr("musicnn-0.1.0.dist-info/LICENSE.md", "ISC License\n")
        for i, model in enumerate(models):
            T.write_checkpoint(f"{src / model}/", {"conv2d/bias": np.full(3, i, np.float32)})
            for f in (".index", ".data-00000-of-00001"):
                zf.write(src / model / f, f"musicnn/{model}/{f}")
            zf.writestr(f"musicnn/{model}/.meta", b"graph")
            zf.writestr(f"musicnn/{model}/config.json", "{}")
    wheel = tmp_path / name
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_download_from_local_wheel_and_file_url(tmp_path: Path) -> None:
    wheel, sha256 = _fake_wheel(tmp_path)
    dest = tmp_path / "weights" / "musicnn"
    assert download_musicnn(dest, wheel=wheel, sha256=sha256) == dest
    assert (dest / "MSD_musicnn" / ".index").is_file() and (dest / "MTT_musicnn" / "config.json").is_file()
    assert (dest / "LICENSE.md").read_text().startswith("ISC")
    assert not (dest / "MSD_musicnn" / ".meta").exists()
    assert not (dest / "musicnn").exists()
    got = T.read_checkpoint(f"{dest / 'MTT_musicnn'}/")
    np.testing.assert_array_equal(got["conv2d/bias"], np.ones(3, np.float32))
    first = folder_sha1(dest)
    # again, from a file:// URL, over the existing folder: replaced, nothing left behind
    (dest / "MSD_musicnn" / "stale").write_text("x")
    download_musicnn(dest, wheel=wheel.as_uri(), sha256=sha256)
    assert not (dest / "MSD_musicnn" / "stale").exists()
    assert folder_sha1(dest) == first
    assert sorted(p.name for p in dest.parent.iterdir()) == ["musicnn"]


def test_bad_checksum_extracts_nothing(tmp_path: Path) -> None:
    wheel, _ = _fake_wheel(tmp_path)
    dest = tmp_path / "weights" / "musicnn"
    with pytest.raises(DownloadError, match="sha256 checksum mismatch"):
        download_musicnn(dest, wheel=wheel, sha256="0" * 64)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_wheel_without_checkpoints_is_refused(tmp_path: Path) -> None:
    wheel, sha256 = _fake_wheel(tmp_path, models=("MSD_musicnn",))
    with pytest.raises(DownloadError, match="no musicnn/MTT_musicnn/"):
        download_musicnn(tmp_path / "w" / "musicnn", wheel=wheel, sha256=sha256)
    with pytest.raises(DownloadError, match="no such wheel"):
        download_musicnn(tmp_path / "w" / "musicnn", wheel=tmp_path / "nope.whl", sha256=None)


def test_cli_download(tmp_path: Path) -> None:
    wheel, sha256 = _fake_wheel(tmp_path)
    dest = tmp_path / "w"
    args = ["download", "musicnn", "--url", wheel.as_uri(), "--sha256", sha256, "--dest", str(dest)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "musicnn's weights are in" in result.output
    assert (dest / "MSD_musicnn" / ".index").is_file()


def test_resolution_order_and_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "shared"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(WeightsNotFoundError, match="musicgenre download musicnn"):
        MUSICNN.resolve()
    wheel, sha256 = _fake_wheel(tmp_path)
    folder = download_musicnn(tmp_path / "elsewhere", wheel=wheel, sha256=sha256)
    bundle = MUSICNN.resolve(folder)
    assert (bundle.origin, bundle.kind, bundle.sha1) == ("argument", "tf-checkpoint", folder_sha1(folder))
    monkeypatch.setenv(ENV_VAR, str(folder))
    assert MUSICNN.resolve().origin == "environment"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(WeightsNotFoundError, match=f"{ENV_VAR}=.*missing"):
        MUSICNN.resolve()
    monkeypatch.delenv(ENV_VAR)
    # the cache must hold the official weights; a fake family that calls these official finds them there
    cached = download_musicnn(wheel=wheel, sha256=sha256)
    assert cached == tmp_path / "cache" / "weights" / "musicnn"
    with pytest.raises(WeightsNotFoundError, match="not musicnn"):
        MUSICNN.resolve()
    fake = dataclasses.replace(MUSICNN, sha1=folder_sha1(cached))
    assert fake.resolve().origin == "cache"
    with pytest.raises(WeightsMismatchError):
        fake.resolve(identity="tf-checkpoint:" + "1" * 40)
    (cached / "MTT_musicnn" / ".index").unlink()
    with pytest.raises(WeightsNotFoundError, match=r"missing MTT_musicnn/\.index"):
        fake.resolve()


def test_real_checkpoints(musicnn_weights) -> None:
    """The real files: every tensor the network needs, with the shapes of musicnn's models.py."""
    assert musicnn_weights.identity == MUSICNN.official_identity
    for model in MODELS:
        entries = T.read_index(f"{musicnn_weights.path / model}/")
        assert entries["conv2d/kernel"].shape == (7, 38, 1, 204)  # timbral 7 x 0.4*96, 1.6*128 filters
        assert entries["conv2d_5/kernel"].shape == (7, 561, 1, 64)  # mid-end over 561 front-end channels
        assert entries["dense/kernel"].shape == (1506, 200)
        assert entries["dense_1/kernel"].shape == (200, 50)
        weights = T.read_checkpoint(
            f"{musicnn_weights.path / model}/", [n for n in entries if "Adam" not in n]
        )
        assert all(np.isfinite(w).all() for w in weights.values())
        assert (weights["batch_normalization_10/moving_variance"] > 0).all()
