"""The TensorFlow checkpoint reader, on checkpoints it writes itself (see test_musicnn_weights for the real ones)."""

from __future__ import annotations

import numpy as np
import pytest

from musicgenre.musicnn import tf_checkpoint as T


def _slow_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize("n", [0, 1, 9, 255, 256, 511, 513, 4099, 70001])
def test_crc32c_matches_bitwise_definition(n: int) -> None:
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert T.crc32c(data) == _slow_crc32c(data)


def test_crc32c_check_value() -> None:
    assert T.crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C


def test_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    tensors = {
        "conv2d/kernel": rng.standard_normal((7, 38, 1, 204)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(204).astype(np.float32),
        "global_step": np.array(12345, dtype=np.int64),
        "half": rng.standard_normal((3, 5)).astype(np.float16),
        "double": rng.standard_normal(4),
        "ints": np.arange(-5, 5, dtype=np.int32),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 3), np.float32),
        "batch_normalization_10/moving_mean": rng.standard_normal(200).astype(np.float32),
    }
    prefix = (
        f"{tmp_path / 'ckpt'}/"  # musicnn's style: the prefix is a folder, files '.index' and '.data-...'
    )
    T.write_checkpoint(prefix, tensors)
    assert (tmp_path / "ckpt" / ".index").is_file()
    entries = T.read_index(prefix)
    assert set(entries) == set(tensors)
    assert entries["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert entries["conv2d/kernel"].dtype == 1
    got = T.read_checkpoint(prefix)
    for name, want in tensors.items():
        assert got[name].dtype == want.dtype, name
        np.testing.assert_array_equal(got[name], want)
    only = T.read_checkpoint(prefix, ["conv2d/bias"])
    assert list(only) == ["conv2d/bias"]


def test_corrupt_data_is_refused(tmp_path) -> None:
    prefix = tmp_path / "ck"
    T.write_checkpoint(prefix, {"a": np.ones(10, np.float32), "b": np.zeros(3, np.float32)})
    shard = tmp_path / "ck.data-00000-of-00001"
    raw = bytearray(shard.read_bytes())
    raw[5] ^= 0xFF  # inside tensor "a"
    shard.write_bytes(bytes(raw))
    np.testing.assert_array_equal(T.read_checkpoint(prefix, ["b"])["b"], np.zeros(3, np.float32))
    with pytest.raises(T.CheckpointFormatError, match="'a' fails its CRC-32C"):
        T.read_checkpoint(prefix)


def test_corrupt_index_and_errors_name_the_file(tmp_path) -> None:
    prefix = tmp_path / "ck"
    T.write_checkpoint(prefix, {"a": np.ones(10, np.float32)})
    index = tmp_path / "ck.index"
    raw = bytearray(index.read_bytes())
    raw[3] ^= 0x40
    index.write_bytes(bytes(raw))
    with pytest.raises(T.CheckpointFormatError, match=r"ck\.index.*CRC-32C"):
        T.read_index(prefix)
    index.write_bytes(b"not a checkpoint at all, but long enough to hold a footer of 48 bytes.")
    with pytest.raises(T.CheckpointFormatError, match="no table magic"):
        T.read_index(prefix)
    with pytest.raises(T.CheckpointFormatError, match="cannot read"):
        T.read_index(tmp_path / "missing")


def test_missing_tensor_and_shard(tmp_path) -> None:
    prefix = tmp_path / "ck"
    T.write_checkpoint(prefix, {"a": np.ones(2, np.float32)})
    with pytest.raises(T.CheckpointFormatError, match="no tensor 'zz'"):
        T.read_checkpoint(prefix, ["zz"])
    (tmp_path / "ck.data-00000-of-00001").unlink()
    with pytest.raises(T.CheckpointFormatError, match="shard missing"):
        T.read_checkpoint(prefix)
