"""Read (and, for tests, write) TensorFlow's V2 checkpoints without TensorFlow.

A checkpoint ``PREFIX`` is two files:

- ``PREFIX.index``: a LevelDB-style sorted string table (SSTable). Its keys are tensor names; the value of
  the empty key is a ``BundleHeaderProto`` and every other value a ``BundleEntryProto`` (protobuf) whose few
  fields are decoded here by hand: ``dtype`` (1), ``shape`` (2), ``shard_id`` (3), ``offset`` (4), ``size``
  (5) and ``crc32c`` (6, masked). Blocks are uncompressed (TensorFlow writes them so); each block ends with a
  restart array, and each is followed by a 5-byte trailer (compression type, masked CRC-32C).
- ``PREFIX.data-00000-of-00001`` (one shard): the tensors' raw little-endian bytes, at ``offset``.

:func:`read_checkpoint` returns ``{name: numpy array}``; :func:`read_index` only the entries. Every tensor's
CRC-32C is checked. Errors (:class:`CheckpointFormatError`) name the file and the problem.
:func:`write_checkpoint` writes the same format (one data block), so the reader can be tested on its own
output. musicnn's checkpoints use the prefix ``DIR/`` (files ``DIR/.index`` and ``DIR/.data-00000-of-00001``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from musicgenre.errors import MusicGenreError
from musicgenre.fileio import write_bytes

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5

#: TensorFlow's ``DataType`` enum values this reader understands.
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    19: np.dtype("<f2"),  # DT_HALF
}


class CheckpointFormatError(MusicGenreError):
    """A file that is not a readable TensorFlow checkpoint (or a tensor in it this reader cannot decode)."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a checkpoint's index: where its bytes are and what they hold."""

    name: str
    dtype: int  # TensorFlow DataType
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int  # masked, as stored


# ------------------------------------------------------------------------------------------------ CRC-32C
def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table[i] = c
    return table


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, list[int]]:
    t = _crc_table()
    return t, [int(v) for v in t]


def _raw_crc(data: bytes | np.ndarray, reg: int, table: list[int]) -> int:
    for b in bytes(data):
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


def _zeros_operator(n: int) -> list[int]:
    """The linear map 'feed ``n`` zero bytes' on the CRC register, as 32 column images."""
    _, table = _tables()
    return [_raw_crc(bytes(n), 1 << i, table) for i in range(32)] if n < 64 else _square_up(n)


def _apply(op: list[int], x: int) -> int:
    out, i = 0, 0
    while x:
        if x & 1:
            out ^= op[i]
        x >>= 1
        i += 1
    return out


def _square_up(n: int) -> list[int]:
    _, table = _tables()
    one = [_raw_crc(b"\0", 1 << i, table) for i in range(32)]  # one zero byte
    result = [1 << i for i in range(32)]  # identity
    power = one
    while n:
        if n & 1:
            result = [_apply(power, c) for c in result]
        power = [_apply(power, c) for c in power]
        n >>= 1
    return result


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C (Castagnoli) of ``data``: the bytes are hashed as many parallel chunks (numpy), then combined."""
    buf = np.frombuffer(data, dtype=np.uint8)
    table_np, table = _tables()
    n_chunks = min(4096, len(buf) // 256)
    reg = 0
    done = 0
    if n_chunks >= 2:
        length = len(buf) // n_chunks
        chunks = buf[: n_chunks * length].reshape(n_chunks, length)
        regs = np.zeros(n_chunks, dtype=np.uint32)
        for j in range(length):
            regs = table_np[(regs ^ chunks[:, j]) & 0xFF] ^ (regs >> 8)
        shift = _zeros_operator(length)
        for r in regs.tolist():
            reg = _apply(shift, reg) ^ r
        done = n_chunks * length
    reg = _raw_crc(buf[done:], reg, table)
    # the initial register 0xFFFFFFFF, carried through all the bytes, and the final inversion
    return (reg ^ _apply(_zeros_operator(len(buf)), 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """LevelDB's and TensorFlow's masked CRC: rotate right by 15 bits, add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------ varints
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise IndexError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` of a protobuf message: ints for varint/fixed fields, bytes for the rest."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 1:
            out.append((number, struct.unpack_from("<Q", buf, pos)[0]))
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            out.append((number, buf[pos : pos + n]))
            pos += n
        elif wire == 5:
            out.append((number, struct.unpack_from("<I", buf, pos)[0]))
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _decode_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in _proto_fields(buf):
        if number == 2 and isinstance(value, bytes):  # Dim
            size = 0
            for n, v in _proto_fields(value):
                if n == 1 and isinstance(v, int):
                    size = _signed64(v)
            dims.append(size)
        elif number == 3 and value:
            raise ValueError("tensor of unknown rank")
    return tuple(dims)


def _decode_entry(name: str, buf: bytes) -> TensorEntry:
    f: dict[str, int] = {"dtype": 0, "shard_id": 0, "offset": 0, "size": 0, "crc32c": 0}
    shape: tuple[int, ...] = ()
    for number, value in _proto_fields(buf):
        if number == 2 and isinstance(value, bytes):
            shape = _decode_shape(value)
        elif number == 7:
            raise ValueError("partitioned (sliced) tensors are not supported")
        elif 1 <= number <= 6 and isinstance(value, int):
            f[("dtype", "", "shard_id", "offset", "size", "crc32c")[number - 1]] = value
    return TensorEntry(name, f["dtype"], shape, f["shard_id"], f["offset"], f["size"], f["crc32c"])


def _encode_entry(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(b"\x12" + _put_varint(len(d)) + d for d in (b"\x08" + _put_varint(s) for s in shape))
    out = b"\x08" + _put_varint(dtype) + b"\x12" + _put_varint(len(dims)) + dims
    if offset:
        out += b"\x20" + _put_varint(offset)
    return out + b"\x28" + _put_varint(size) + b"\x35" + struct.pack("<I", mask_crc(crc))


# ------------------------------------------------------------------------------------------------ SSTable
def _block(path: Path, data: bytes, offset: int, size: int) -> bytes:
    end = offset + size
    if end + BLOCK_TRAILER_SIZE > len(data):
        raise CheckpointFormatError(
            f"{path}: block at {offset} (+{size} bytes) runs past the end of the file"
        )
    kind = data[end]
    if kind != 0:
        raise CheckpointFormatError(f"{path}: block at {offset} is compressed (type {kind}); not supported")
    (stored,) = struct.unpack_from("<I", data, end + 1)
    if mask_crc(crc32c(data[offset : end + 1])) != stored:
        raise CheckpointFormatError(f"{path}: block at {offset} fails its CRC-32C check (corrupt file)")
    return data[offset:end]


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * n_restarts
    out: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + value_len]))
        pos += value_len
    return out


def _make_block(items: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_put_varint(0) + _put_varint(len(k)) + _put_varint(len(v)) + k + v for k, v in items)
    return body + struct.pack("<II", 0, 1)  # one restart point, at 0


def read_index(prefix: str | Path) -> dict[str, TensorEntry]:
    """The tensors listed in ``PREFIX.index`` (header entry left out), by name."""
    path = Path(f"{prefix}.index")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointFormatError(f"{path}: cannot read checkpoint index ({exc.strerror or exc})") from None
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise CheckpointFormatError(f"{path}: not a TensorFlow checkpoint index (no table magic at the end)")
    try:
        footer = data[-FOOTER_SIZE:]
        _, pos = _varint(footer, 0)  # metaindex offset
        _, pos = _varint(footer, pos)  # metaindex size
        index_offset, pos = _varint(footer, pos)
        index_size, pos = _varint(footer, pos)
        entries: dict[str, TensorEntry] = {}
        for _, handle in _block_entries(_block(path, data, index_offset, index_size)):
            offset, p = _varint(handle, 0)
            size, _ = _varint(handle, p)
            for key, value in _block_entries(_block(path, data, offset, size)):
                if key:  # the empty key holds the BundleHeaderProto
                    name = key.decode("utf-8")
                    entries[name] = _decode_entry(name, value)
    except CheckpointFormatError:
        raise
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise CheckpointFormatError(f"{path}: corrupt checkpoint index ({exc})") from None
    return entries


def read_checkpoint(prefix: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of checkpoint ``prefix`` (all, or ``names``) as numpy arrays, CRC-checked."""
    entries = read_index(prefix)
    wanted = list(entries) if names is None else names
    shards: dict[int, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        if name not in entries:
            raise CheckpointFormatError(f"{prefix}.index: no tensor {name!r} in the checkpoint")
        e = entries[name]
        if e.shard_id not in shards:
            stem = Path(f"{prefix}.data-{e.shard_id:05d}")
            found = sorted(stem.parent.glob(f"{stem.name}-of-*"))
            if not found:
                raise CheckpointFormatError(f"{stem}-of-*: checkpoint data shard missing")
            shards[e.shard_id] = found[0].read_bytes()
        data = shards[e.shard_id]
        if e.dtype not in DTYPES:
            raise CheckpointFormatError(f"{prefix}.index: tensor {name!r} has unsupported dtype {e.dtype}")
        dtype = DTYPES[e.dtype]
        count = int(np.prod(e.shape, dtype=np.int64))
        if e.size != count * dtype.itemsize or e.offset + e.size > len(data):
            raise CheckpointFormatError(
                f"{prefix}: tensor {name!r} ({e.size} bytes at {e.offset}) does not fit shape {e.shape} "
                f"of {dtype} or the data shard ({len(data)} bytes)"
            )
        raw = data[e.offset : e.offset + e.size]
        if mask_crc(crc32c(raw)) != e.crc32c:
            raise CheckpointFormatError(f"{prefix}: tensor {name!r} fails its CRC-32C check (corrupt shard)")
        out[name] = np.frombuffer(raw, dtype=dtype).reshape(e.shape).astype(dtype.newbyteorder("="))
    return out


_INV_DTYPES = {v: k for k, v in DTYPES.items()}


def write_checkpoint(prefix: str | Path, tensors: dict[str, np.ndarray]) -> None:
    """Write ``tensors`` as a one-shard TensorFlow V2 checkpoint (one uncompressed data block)."""
    shard = bytearray()
    items: list[tuple[bytes, bytes]] = [(b"", b"\x08\x01")]  # BundleHeaderProto: num_shards = 1
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        dtype = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        if dtype not in _INV_DTYPES:
            raise ValueError(f"write_checkpoint: dtype {arr.dtype} of {name!r} is not supported")
        raw = arr.astype(dtype).tobytes()
        entry = _encode_entry(_INV_DTYPES[dtype], arr.shape, len(shard), len(raw), crc32c(raw))
        items.append((name.encode("utf-8"), entry))
        shard += raw
    out = bytearray()

    def add_block(block: bytes) -> bytes:
        handle = _put_varint(len(out)) + _put_varint(len(block))
        out.extend(block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00"))))
        return handle

    data_handle = add_block(_make_block(items))
    meta_handle = add_block(_make_block([]))
    index_handle = add_block(_make_block([(items[-1][0] + b"\xff", data_handle)]))
    footer = (meta_handle + index_handle).ljust(FOOTER_SIZE - 8, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    write_bytes(Path(f"{prefix}.data-00000-of-00001"), bytes(shard))
    write_bytes(Path(f"{prefix}.index"), bytes(out + footer))
