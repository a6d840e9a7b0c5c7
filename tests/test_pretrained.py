"""Pretrained weights as values (musicgenre.pretrained, musicgenre.features.pretrained), on a toy family:
bundles, the resolution order with and without a wanted identity, and feature configs that carry weights."""

from __future__ import annotations

import dataclasses
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from musicgenre.audio.segment import SegmentConfig
from musicgenre.errors import WeightsMismatchError, WeightsNotFoundError
from musicgenre.features.pretrained import PretrainedFeatureConfig, is_identity, with_weights
from musicgenre.features.registry import make_config
from musicgenre.pretrained import WeightsFamily, WeightsFormat, git_blob_sha1

ENV = "MUSICGENRE_TOY_WEIGHTS"
OFFICIAL = b"TOYA official weights"


def load_toy(bundle, **options):
    """The toy family's loader: what it was called with."""
    return bundle.path.read_bytes(), options


def toy_family(url: str = "file:///nonexistent/toy.a") -> WeightsFamily:
    return WeightsFamily(
        name="toy",
        title="Toy",
        env_var=ENV,
        formats=(WeightsFormat("toy-a", (".a",), b"TOYA"), WeightsFormat("toy-b", (".b",), b"TOYB", 2)),
        url=url,
        sha1=git_blob_sha1(OFFICIAL),
        cache_name="toy.a",
        publisher="Acme",
        shared_relpath="models/toy/toy.b",
        shared_note="Acme's small toy.b",
        loader="test_pretrained:load_toy",
    )


@dataclass(frozen=True)
class ToyConfig(PretrainedFeatureConfig):
    name: ClassVar[str] = "toy_feature"
    weights_family: ClassVar[WeightsFamily] = toy_family()

    size: int = 4

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (self.size,)


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WeightsFamily:
    """The toy family with an official file:// download; empty cache and shared folders; no variable."""
    remote = tmp_path / "remote" / "toy.a"
    remote.parent.mkdir()
    remote.write_bytes(OFFICIAL)
    family = toy_family(remote.as_uri())
    monkeypatch.setattr(ToyConfig, "weights_family", family)
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "shared"))
    return family


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_git_blob_sha1_matches_git() -> None:
    # `git hash-object` of a file holding "hello\n"
    assert git_blob_sha1(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_bundle_is_a_value(toy: WeightsFamily, tmp_path: Path) -> None:
    path = _write(tmp_path / "w.a", b"TOYA one")
    bundle = toy.bundle(path)
    assert (bundle.kind, bundle.origin, bundle.sha1) == ("toy-a", "argument", git_blob_sha1(b"TOYA one"))
    assert bundle.identity == f"toy-a:{bundle.sha1}" and is_identity(bundle.identity)
    assert not is_identity(str(path)) and not is_identity("")
    assert bundle == toy.bundle(path) and hash(bundle) == hash(toy.bundle(path))
    assert pickle.loads(pickle.dumps(bundle)) == bundle
    assert bundle.get_model(precision="x") == (b"TOYA one", {"precision": "x"})
    assert str(path) in bundle.describe() and "toy-a" in bundle.describe()


def test_kind_by_suffix_and_magic(toy: WeightsFamily, tmp_path: Path) -> None:
    assert toy.kind_of(tmp_path / "x.B") == "toy-b"
    odd = _write(tmp_path / "weights.bin", b"TOYA...")
    assert toy.kind_of(odd) == "toy-a"
    odd.write_bytes(b"..TOYB")
    assert toy.kind_of(odd) == "toy-b"
    odd.write_bytes(b"something else")
    with pytest.raises(WeightsNotFoundError, match="not Toy weights"):
        toy.kind_of(odd)


def test_resolution_order_and_identity(
    toy: WeightsFamily, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(WeightsNotFoundError) as err:
        toy.resolve(download=False)
    msg = str(err.value)
    assert toy.url in msg and ENV in msg and "--toy-weights" in msg and toy.sha1 in msg
    shared = _write(tmp_path / "shared" / "models" / "toy" / "toy.b", b"..TOYB shared")
    assert toy.resolve().origin == "shared"
    official = toy.official_identity
    assert official == f"toy-a:{toy.sha1}"
    # wanting the official weights skips the shared file and downloads them; then the cache comes first
    got = toy.resolve(identity=official)
    assert got.origin == "download" and got.identity == official and got.path.read_bytes() == OFFICIAL
    assert toy.resolve().origin == "cache"
    # of the cache and shared files, the first holding the wanted identity
    want = toy.bundle(shared).identity
    assert toy.resolve(identity=want).origin == "shared"
    with pytest.raises(WeightsMismatchError) as err:
        toy.resolve(identity="toy-b:" + "0" * 40)
    assert (
        "toy-b:" + "0" * 40 in str(err.value) and str(shared) in str(err.value) and official in str(err.value)
    )
    # an explicit path or the variable must hold exactly the wanted weights
    other = _write(tmp_path / "other.a", b"TOYA other")
    with pytest.raises(WeightsMismatchError, match="--toy-weights"):
        toy.resolve(other, identity=official)
    monkeypatch.setenv(ENV, str(other))
    assert toy.resolve().origin == "environment"
    with pytest.raises(WeightsMismatchError):
        toy.resolve(identity=official)
    assert toy.resolve(toy.bundle(other), identity=toy.bundle(other).identity).origin == "argument"
    with pytest.raises(ValueError, match="not Toy"):
        toy.resolve(dataclasses.replace(toy, name="other", title="Other").bundle(other))


def test_config_pins_its_weights_when_built(
    toy: WeightsFamily, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _write(tmp_path / "a.a", b"TOYA a")
    b = _write(tmp_path / "b.b", b"..TOYB b")
    monkeypatch.setenv(ENV, str(a))
    cfg = ToyConfig()
    key = cfg.key()
    assert cfg.weights == toy.bundle(a).identity and cfg.source is not None and cfg.source.path == a
    monkeypatch.setenv(ENV, str(b))
    assert cfg.key() == key  # the environment is read when the config is built, never by key()
    assert ToyConfig().key() != key
    monkeypatch.delenv(ENV)
    assert cfg.key() == key
    # checkpoints and manifests get the identity, never the path
    d = cfg.to_dict()
    assert d == {"name": "toy_feature", "weights": cfg.weights, "size": 4} and str(a) not in json.dumps(d)
    assert ToyConfig(**{k: v for k, v in d.items() if k != "name"}).key() == key
    assert ToyConfig(weights=str(a)) == cfg and ToyConfig(weights=str(b)).key() != key
    assert pickle.loads(pickle.dumps(cfg)).source == cfg.source
    with pytest.raises(WeightsNotFoundError, match="no such weights file"):
        ToyConfig(weights=str(tmp_path / "missing.a"))


def test_config_with_only_an_identity_finds_or_refuses(toy: WeightsFamily, tmp_path: Path) -> None:
    shared = _write(tmp_path / "shared" / "models" / "toy" / "toy.b", b"..TOYB shared")
    elsewhere = _write(tmp_path / "elsewhere" / "copy.b", shared.read_bytes())
    made = ToyConfig(weights=str(elsewhere))
    cfg = ToyConfig(weights=made.weights)  # as read from a checkpoint made on another machine
    assert cfg.source is None and cfg.key() == made.key()
    assert cfg.bundle().path == shared  # the same weights, found here
    ready = with_weights({"toy": cfg})["toy"]
    assert ready.source is not None and ready.source.origin == "shared" and ready.key() == made.key()
    other = toy.bundle(_write(tmp_path / "other.a", b"TOYA other"))
    with pytest.raises(WeightsMismatchError):
        with_weights({"toy": cfg}, other)
    shared.unlink()
    with pytest.raises(WeightsNotFoundError, match="are needed"):  # and the official download differs
        cfg.bundle()


def test_with_weights_binds_bundles_and_resolves_the_rest(toy: WeightsFamily, tmp_path: Path) -> None:
    cfg = ToyConfig()  # nothing found, no download when built
    assert cfg.weights == "" and cfg.weights_identity() == "unresolved"
    with pytest.raises(WeightsNotFoundError, match="no Toy weights"):
        cfg.key()
    mfcc = make_config("mfcc")
    mine = toy.bundle(_write(tmp_path / "mine.a", b"TOYA mine"))
    out = with_weights({"toy": cfg, "mfcc": mfcc, "big": ToyConfig(size=8)}, None, mine)
    assert out["mfcc"] is mfcc
    assert out["toy"].source == mine and out["big"].source == mine and out["big"].size == 8
    assert out["toy"].key() != out["big"].key()
    # a config whose weights were resolved (not only named) takes other weights
    theirs = toy.bundle(_write(tmp_path / "theirs.b", b"..TOYB theirs"))
    assert with_weights({"toy": ToyConfig(weights=str(mine.path))}, theirs)["toy"].source == theirs
    # no bundle: the family default, downloaded if need be
    default = with_weights({"toy": cfg})["toy"]
    assert default.source is not None and default.source.origin == "download"
