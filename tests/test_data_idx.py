"""IDX parsing: the shared MNIST / Fashion-MNIST files, hand-built files, and every way a file can be bad."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from minidl.data import DataFileError, read_idx
from minidl.data import idx as idx_module
from minidl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file written by hand from the format's definition (big-endian header and values)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize("folder", ["mnist", "fashion-mnist"])
def test_shared_files_parse_to_the_published_shapes(shared_data, folder):
    d = shared_data / folder
    train_x = read_idx(d / "train-images-idx3-ubyte.gz", IMAGES_MAGIC)
    train_y = read_idx(d / "train-labels-idx1-ubyte.gz", LABELS_MAGIC)
    test_x = read_idx(d / "t10k-images-idx3-ubyte.gz", IMAGES_MAGIC)
    test_y = read_idx(d / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_y.shape == (60000,) and test_y.shape == (10000,)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.uint8
    assert train_y.max() == 9 and test_y.min() == 0
    assert not train_x.flags.writeable  # cached arrays must not be changed by a caller


def test_mnist_known_labels_and_counts(shared_data):
    train_y = read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz", LABELS_MAGIC)
    test_y = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz", LABELS_MAGIC)
    assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(train_y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    images = read_idx(shared_data / "mnist" / "train-images-idx3-ubyte.gz")
    assert images.max() == 255 and images[0].sum() > 0


@pytest.mark.parametrize("type_code, values", [
    (0x08, np.arange(24).reshape(2, 3, 4)),
    (0x09, np.array([-128, -1, 0, 127])),
    (0x0B, np.array([[-300, 2], [40000 - 65536, 7]])),
    (0x0C, np.array([2**31 - 1, -(2**31), 5])),
    (0x0D, np.array([[0.5, -1.25], [3e10, 0.0]])),
    (0x0E, np.array([np.pi, -np.e])),
])
def test_every_type_code_roundtrips_in_native_byte_order(type_code, values, tmp_path):
    path = tmp_path / "file.idx"
    path.write_bytes(idx_bytes(values, type_code))
    out = read_idx(path)
    assert out.shape == values.shape
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, values.astype(out.dtype))
    gz = tmp_path / "file.idx.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    np.testing.assert_array_equal(read_idx(gz), out)


def test_wrong_magic_number_names_both_numbers(shared_data):
    labels = shared_data / "mnist" / "train-labels-idx1-ubyte.gz"
    with pytest.raises(DataFileError, match=r"magic number 2049 .*expected 2051"):
        read_idx(labels, expected_magic=IMAGES_MAGIC)


def test_not_an_idx_file():
    with pytest.raises(DataFileError, match="not an IDX file"):
        parse_idx(b"PK\x03\x04 a zip, not IDX", "x.zip")
    with pytest.raises(DataFileError, match="not an IDX file"):
        parse_idx(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 7]), "bad-type")
    with pytest.raises(DataFileError, match="too short"):
        parse_idx(b"\x00\x00", "tiny")


def test_truncated_header_and_body():
    good = idx_bytes(np.arange(10, dtype=np.uint8), 0x08)
    with pytest.raises(DataFileError, match="inside its header"):
        parse_idx(good[:6], "cut-header")
    with pytest.raises(DataFileError, match=r"truncated: .*shape \(10,\).*only 7 bytes"):
        parse_idx(good[:-3], "cut-body")
    with pytest.raises(DataFileError, match="3 unexpected bytes"):
        parse_idx(good + b"xyz", "extra")


def test_truncated_gzip_download_is_reported_as_truncated(shared_data, tmp_path):
    original = (shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    cut = tmp_path / "t10k-labels-idx1-ubyte.gz"
    cut.write_bytes(original[: len(original) // 2])
    with pytest.raises(DataFileError, match="truncated.*download it again"):
        read_idx(cut)


def test_corrupt_gzip_is_reported_as_corrupt(shared_data, tmp_path):
    data = bytearray((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    data[-6] ^= 0xFF  # inside the CRC-32 / length trailer
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="corrupt"):
        read_idx(bad)


def _gzip_of(header: bytes, zeros: int) -> bytes:
    """gzip of ``header`` + ``zeros`` zero bytes, built a block at a time (the test never holds them all)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(header)]
    block = bytes(1 << 20)
    for _ in range(zeros // len(block)):
        parts.append(packer.compress(block))
    parts.append(packer.flush())
    return b"".join(parts)


@pytest.mark.parametrize("header, max_bytes, reason", [
    (struct.pack(">I3I", 2051, 10, 28, 28), None, "its IDX header promises"),  # promises 7,856 bytes
    (struct.pack(">I2I", 2051 - 1, 1 << 16, 1 << 10), 100_000, "this dataset file can have"),  # 64 MiB, as claimed
], ids=["more_than_the_header_promises", "more_than_the_caller_allows"])
def test_a_gzip_bomb_is_stopped_while_decompressing(tmp_path, header, max_bytes, reason):
    import tracemalloc

    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    bomb.write_bytes(_gzip_of(header, 64 << 20))
    assert bomb.stat().st_size < 200_000  # 64 KiB on disk, 64 MiB unpacked
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError, match="gzip bomb") as info:
            read_idx(bomb, max_bytes=max_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason in str(info.value) and str(bomb) in str(info.value)
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MiB held while reading a 64 MiB bomb"


def test_concatenated_gzip_members_and_a_few_extra_bytes():
    values = np.arange(10, dtype=np.uint8)
    data = idx_bytes(values, 0x08)
    two_members = gzip.compress(data[:7]) + gzip.compress(data[7:])
    np.testing.assert_array_equal(parse_idx(idx_module._gunzip(two_members, Path("x"), None)), values)
    with pytest.raises(DataFileError, match="3 unexpected bytes"):  # parse_idx's exact message, not the bomb's
        parse_idx(idx_module._gunzip(gzip.compress(data + b"xyz"), Path("x"), None), "extra")
