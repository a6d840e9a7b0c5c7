"""fileio: atomic writes (permissions, no partial files, concurrent writers) and JSON encoding."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from musicgenre.fileio import atomic_path, atomic_write, read_json, write_bytes, write_json, write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_written_files_get_the_usual_mode_not_0600(tmp_path: Path) -> None:
    expected = 0o666 & ~_umask()
    assert expected != 0o600  # the test means something only under a umask that leaves group/other bits
    for path in (
        write_text(tmp_path / "a.txt", "x"),
        write_bytes(tmp_path / "b.bin", b"x"),
        write_json(tmp_path / "c.json", {"a": 1}),
    ):
        assert _mode(path) == expected, path
    with atomic_path(tmp_path / "d.ckpt") as tmp:
        tmp.write_bytes(b"weights")
    assert _mode(tmp_path / "d.ckpt") == expected


def test_mode_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert _mode(path) == 0o640


def test_checkpoint_is_readable_by_group_and_others(tmp_path: Path) -> None:
    import torch

    from musicgenre.checkpoint import Checkpoint, save_checkpoint

    ckpt = Checkpoint(
        model_name="m",
        model_options={},
        inputs={},
        input_shapes={},
        segment={},
        labels=["a"],
        normalisation={},
        state_dict={"w": torch.zeros(1)},
    )
    path = save_checkpoint(ckpt, tmp_path / "model.ckpt")
    assert _mode(path) == 0o666 & ~_umask()


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_parent_folders_are_created(tmp_path: Path) -> None:
    path = write_text(tmp_path / "x" / "y" / "a.txt", "z")
    assert path.read_text() == "z"


def test_bad_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"), atomic_write(tmp_path / "a", "a"):
        pass


def _writer(args: tuple[str, int]) -> None:
    path, who = args
    payload = {"writer": who, "data": [who] * 20000}
    for _ in range(15):
        write_json(path, payload)


def test_concurrent_writers_never_leave_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        pool.map(_writer, [(str(path), who) for who in range(4)])
    last = read_json(path)
    assert last["data"] == [last["writer"]] * 20000  # one complete copy, from one writer
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]  # no temporary file left behind


def test_json_encodes_numpy_paths_and_dataclasses(tmp_path: Path) -> None:
    @dataclasses.dataclass
    class D:
        a: int
        b: Path

    obj = {"i": np.int64(3), "f": np.float32(0.5), "arr": np.arange(3), "p": Path("/x"), "d": D(1, Path("y"))}
    path = write_json(tmp_path / "a.json", obj)
    assert json.loads(path.read_text()) == {
        "i": 3,
        "f": 0.5,
        "arr": [0, 1, 2],
        "p": "/x",
        "d": {"a": 1, "b": "y"},
    }
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(tmp_path / "b.json", {"x": object()})
    assert not (tmp_path / "b.json").exists()
