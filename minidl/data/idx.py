"""Reading IDX files, the format MNIST and Fashion-MNIST ship in (optionally gzipped).

An IDX file is a small big-endian header followed by the raw values::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        prod(sizes) values of the type, big-endian, last index fastest

So an MNIST image file starts with the magic number 0x00000803 = 2051 (uint8, 3 dims:
count, 28, 28) and a label file with 0x00000801 = 2049 (uint8, 1 dim: count).

Every way a file can be wrong (truncated, corrupt gzip stream, wrong magic number, wrong
size, extra bytes) raises :class:`DataFileError` naming the file and what was expected.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np


class DataFileError(ValueError):
    """A dataset file that cannot be used: truncated, corrupt, or not what it claims to be."""


IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC = 2051  # uint8, 3 dims
LABELS_MAGIC = 2049  # uint8, 1 dim
_GZIP_SIGNATURE = b"\x1f\x8b"
_BLOCK = 1 << 20  # bytes of decompressed output per step
_MAX_HEADER = 4 + 4 * 255


def _promised_size(head: bytes) -> int | None:
    """Total size an IDX file claims in its header (``head``: its first bytes); None when
    not yet known or not an IDX header (then :func:`parse_idx` reports what is wrong)."""
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in IDX_TYPES or head[3] == 0:
        return None
    header = 4 + 4 * head[3]
    if len(head) < header:
        return None
    shape = struct.unpack(f">{head[3]}I", head[4:header])
    return header + int(np.prod(shape, dtype=np.int64)) * IDX_TYPES[head[2]].itemsize


def _gunzip(data: bytes, path: Path, max_bytes: int | None) -> bytes:
    """Decompress gzip ``data`` a block at a time, stopping as soon as the output outgrows what
    the IDX header promises (or ``max_bytes``): a "gzip bomb" never fills the memory.

    zlib checks each member's CRC-32 and length, as ``gzip.decompress`` does; concatenated
    members are read one after the other.
    """
    blocks: list[bytes] = []
    size, limit, head = 0, max_bytes, b""
    rest = memoryview(data)
    while True:
        inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer around the deflate stream
        pending = rest
        while not inflater.eof:
            block = inflater.decompress(pending, _BLOCK)
            blocks.append(block)
            size += len(block)
            if len(head) < _MAX_HEADER:  # the header is in the first bytes
                head += block[:_MAX_HEADER - len(head)]
                promised = _promised_size(head)
                if promised is not None:
                    limit = promised if max_bytes is None else min(promised, max_bytes)
            # a little slack, so that a few extra bytes get parse_idx's exact message
            if limit is not None and size > limit + _BLOCK:
                raise DataFileError(
                    f"{path} decompresses to more than the {limit:,} bytes "
                    f"{'its IDX header promises' if limit != max_bytes else 'this dataset file can have'}: "
                    f"stopped after {size:,} bytes (a damaged file, or a 'gzip bomb'). "
                    "Delete it and download it again.")
            pending = inflater.unconsumed_tail
            if not pending and len(block) < _BLOCK and not inflater.eof:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
        rest = memoryview(inflater.unused_data)
        if not bytes(rest[:2]) == _GZIP_SIGNATURE:  # no further member (trailing zeros are allowed)
            return b"".join(blocks)


def _raw_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    """The file's bytes, gunzipped when it is a gzip file (checking its CRC-32 and length)."""
    data = path.read_bytes()
    if not data.startswith(_GZIP_SIGNATURE):
        return data
    try:
        return _gunzip(data, path, max_bytes)
    except EOFError as e:
        raise DataFileError(f"{path} is truncated: the gzip stream ends early ({e}). "
                            "Delete it and download it again.") from e
    except (zlib.error, OSError) as e:
        raise DataFileError(f"{path} is corrupt: it is not a valid gzip stream ({e}). "
                            "Delete it and download it again.") from e


def parse_idx(data: bytes, source: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """The array stored in IDX bytes ``data`` (native byte order, read-only).

    ``expected_magic`` (e.g. 2051 for images, 2049 for labels) makes any other magic
    number an error; ``source`` names the file in error messages.
    """
    if len(data) < 4:
        raise DataFileError(f"{source} is too short to be an IDX file ({len(data)} bytes; "
                            "the header alone is at least 4)")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise DataFileError(f"{source} has magic number {magic} (0x{magic:08x}); expected "
                            f"{expected_magic} (0x{expected_magic:08x}). Is it the right file?")
    zero, type_code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or type_code not in IDX_TYPES or ndim == 0:
        raise DataFileError(f"{source} is not an IDX file: its first 4 bytes are {data[:4].hex()} "
                            "(expected 00 00, a type code in 08/09/0b/0c/0d/0e and a dimension count)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(f"{source} is truncated inside its header ({len(data)} bytes, "
                            f"the header needs {header})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(data) - header
    if body < expected:
        raise DataFileError(f"{source} is truncated: its header promises shape {shape} "
                            f"({expected:,} bytes of values) but only {body:,} bytes follow")
    if body > expected:
        raise DataFileError(f"{source} has {body - expected:,} unexpected bytes after the "
                            f"{expected:,} bytes of values its header (shape {shape}) promises")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    array = array.astype(dtype.newbyteorder("="), copy=False)
    array.flags.writeable = False
    return array


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None,
             max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or uncompressed) into a read-only NumPy array.

    A gzipped file is decompressed a block at a time and abandoned as soon as it outgrows
    the size its header promises (or ``max_bytes``, when the caller knows the file's size).

    For example ``read_idx("mnist/train-labels-idx1-ubyte.gz", expected_magic=2049)[:5]``
    is ``[5, 0, 4, 1, 9]``, the first five MNIST training labels.
    """
    path = Path(path)
    return parse_idx(_raw_bytes(path, max_bytes), str(path), expected_magic)
