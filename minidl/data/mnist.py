"""MNIST and Fashion-MNIST from their original IDX ``.gz`` files: found on disk or downloaded.

Both come as 60,000 training and 10,000 test images of 28×28 grey pixels in 10 classes.
minidl carves a validation set out of the official training set (stratified, seeded), so
every dataset offers the same splits as :func:`~minidl.data.load_digits`::

    "train"     official train minus the validation set   (50,000 by default)
    "val"       a stratified sample of the official train  (10,000 by default)
    "trainval"  the official training set                  (60,000)
    "test"      the official test set                      (10,000)
    "all"       official train then official test          (70,000)

Where the files are looked for (see :mod:`minidl.data.download` for the data home):
``<home>/mnist/``, then ``<home>`` itself (so a folder holding just the four files can
be passed as ``root``), then torchvision's layout ``<home>/MNIST/raw/``. Each file may be
gzipped (``.gz``, as published) or already unpacked.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minidl import backend
from minidl.data.dataset import ArrayDataset
from minidl.data.datasets import check_float_dtype
from minidl.data.download import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    DatasetNotAvailableError,
    DownloadError,
    RemoteFile,
    data_home,
    fetch,
)
from minidl.data.idx import IMAGES_MAGIC, LABELS_MAGIC, DataFileError, read_idx
from minidl.data.splits import stratified_holdout
from minidl.data.verify import remember_verified, verify_local_file

IDX_SPLITS = ("train", "val", "trainval", "test", "all")


@dataclass(frozen=True)
class IDXDataset:
    """What minidl knows about an IDX dataset: its files, checksums, mirrors and classes."""

    key: str                    # folder name in the data home, e.g. "mnist"
    title: str
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]
    torchvision_folder: str     # torchvision keeps its copy in <root>/<this>/raw
    # samples per class in the official train and test sets: MNIST's and Fashion-MNIST's files
    # share their names, so these tell them apart (and catch a wrong or damaged label file)
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# Checksums: MD5 as in torchvision's MNIST/FashionMNIST resources, SHA-256 as published in
# TFDS-style manifests; both verified against the files in the course's shared/data, where the
# SHA-256 of the unpacked contents (unpacked_sha256) was computed. MNIST and FASHION_MNIST below
# share their shape on purpose: they are data (each dataset's own files, sums and mirrors), not logic.
MNIST = IDXDataset(
    key="mnist", title="MNIST",
    train_images=RemoteFile("train-images-idx3-ubyte.gz", 9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                            unpacked_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    train_labels=RemoteFile("train-labels-idx1-ubyte.gz", 28_881, "d53e105ee54ea40749a09fcbcd1e9432",
                            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                            unpacked_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    test_images=RemoteFile("t10k-images-idx3-ubyte.gz", 1_648_877, "9fb629c4189551a2d022fa330f9573f3",
                           "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                           unpacked_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", 4_542, "ec29112dd5afa0611ce80d1b7f02629c",
                           "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                           unpacked_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",     # PyTorch's mirror (torchvision's first)
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF's mirror (TensorFlow's tutorials)
        "http://yann.lecun.com/exdb/mnist/",                  # the original home, often refusing now
    ),
    class_names=tuple(str(d) for d in range(10)),
    torchvision_folder="MNIST",
    train_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
)

FASHION_MNIST = IDXDataset(
    key="fashion-mnist", title="Fashion-MNIST",
    train_images=RemoteFile("train-images-idx3-ubyte.gz", 26_421_880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                            unpacked_sha256="c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    train_labels=RemoteFile("train-labels-idx1-ubyte.gz", 29_515, "25c81989df183df01b3e8a0aad5dffbe",
                            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                            unpacked_sha256="bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    test_images=RemoteFile("t10k-images-idx3-ubyte.gz", 4_422_102, "bef4ecab320f06d8554ea6380940ec79",
                           "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                           unpacked_sha256="5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    test_labels=RemoteFile("t10k-labels-idx1-ubyte.gz", 5_148, "bb300cfdad3c16e7a12a480ee83cd310",
                           "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                           unpacked_sha256="0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the dataset's own (torchvision's)
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras's copy
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Ankle boot"),
    torchvision_folder="FashionMNIST",
    train_counts=(6000,) * 10,
    test_counts=(1000,) * 10,
)


def _on_disk(folder: Path, remote: RemoteFile) -> Path | None:
    """The file in ``folder``, gzipped as published or already unpacked; None if absent."""
    for name in (remote.name, remote.name.removesuffix(".gz")):
        if (folder / name).is_file():
            return folder / name
    return None


def _candidate_folders(spec: IDXDataset, home: Path) -> list[Path]:
    return [home / spec.key, home, home / spec.torchvision_folder / "raw"]


def _missing_message(spec: IDXDataset, home: Path, reason: str) -> str:
    names = "\n".join(f"    {f.name}" for f in spec.files)
    return (f"{spec.title} is not available: {reason}\n"
            f"To use it offline, put its four files\n{names}\n"
            f"into one folder and pass it as root=... or set MINIDL_DATA to it "
            f"(looked in {', '.join(str(p) for p in _candidate_folders(spec, home))}).\n"
            f"On a machine with internet access, `python -m minidl.data download {spec.key}` "
            f"fetches them into {home / spec.key}.")


def dataset_files(spec: IDXDataset, root: str | os.PathLike[str] | None = None, download: bool = True,
                  mirrors: Sequence[str] | None = None, timeout: float = DEFAULT_DEADLINE,
                  progress: bool | None = None) -> dict[str, Path]:
    """Paths of the four files of ``spec``, downloading the missing ones if ``download``.

    ``timeout``: seconds one mirror may take for one whole file before the next mirror
    is tried (a mirror silent for ``min(timeout, 30)`` seconds is given up sooner).

    Raises :class:`DatasetNotAvailableError` (a ``FileNotFoundError``) when the files
    are not on disk and cannot be downloaded; its message says what to do.
    """
    home = data_home(root)
    for folder in _candidate_folders(spec, home):
        found = [_on_disk(folder, f) for f in spec.files]
        if all(p is not None for p in found):
            return dict(zip(("train_images", "train_labels", "test_images", "test_labels"), found))
    if not download:
        raise DatasetNotAvailableError(_missing_message(spec, home, "its files are not on disk and "
                                                        "download=False."))
    folder = home / spec.key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetNotAvailableError(_missing_message(spec, home, f"cannot create {folder} ({e}).")) from e
    paths = {}
    for key, remote in zip(("train_images", "train_labels", "test_images", "test_labels"), spec.files):
        existing = _on_disk(folder, remote)
        if existing is not None:  # only verified downloads ever get their real name
            paths[key] = existing
            continue
        try:
            paths[key] = fetch(remote, folder, list(mirrors if mirrors is not None else spec.mirrors),
                               timeout=min(DEFAULT_TIMEOUT, timeout), deadline=timeout, progress=progress)
            remember_verified(paths[key], remote)  # the download was just checked: no second hashing
        except DownloadError as e:
            raise DatasetNotAvailableError(_missing_message(spec, home, str(e))) from e
    return paths


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int, magic: int, max_bytes: int) -> np.ndarray:
    # keyed by modification time and size, so a replaced file is read again
    return read_idx(path, expected_magic=magic, max_bytes=max_bytes)


def _read(path: Path, magic: int, max_bytes: int) -> np.ndarray:
    path = path.resolve()  # one cache entry per file, however it is reached
    stat = path.stat()
    return _read_cached(str(path), stat.st_mtime_ns, stat.st_size, magic, max_bytes)


def _read_pair(spec: IDXDataset, images_path: Path, labels_path: Path, counts: tuple[int, ...],
               remotes: tuple[RemoteFile, RemoteFile]) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of one official split, checked for structure, then for the
    published digests (which also catch an edited pixel; hashed once per file version)."""
    n = sum(counts)  # unpacked sizes: a 16-byte header and 28×28 pixels each; 8 bytes and one label each
    images = _read(images_path, IMAGES_MAGIC, max_bytes=16 + n * 28 * 28)
    labels = _read(labels_path, LABELS_MAGIC, max_bytes=8 + n)
    if len(images) != len(labels):
        raise DataFileError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                            f"{len(labels)} labels: the two files do not belong together")
    found = np.bincount(labels, minlength=len(counts)).tolist()
    if found != list(counts):
        raise DataFileError(f"{labels_path} is not {spec.title}'s: it has {found} samples per class, "
                            f"{spec.title} has {list(counts)}. (MNIST and Fashion-MNIST use the same "
                            "file names: is this the other one?)")
    fix = (f" (or delete it and let minidl download it: `python -m minidl.data download {spec.key}`)")
    for path, remote in zip((images_path, labels_path), remotes):
        verify_local_file(path, remote, fix)
    return images, labels


def load_idx_dataset(spec: IDXDataset, split: str = "train", seed: int = 0, flatten: bool = True,
                     dtype: str = "float32", root: str | os.PathLike[str] | None = None,
                     download: bool = True, val_size: int = 10_000, mirrors: Sequence[str] | None = None,
                     progress: bool | None = None, timeout: float = DEFAULT_DEADLINE) -> ArrayDataset:
    """One split of an IDX image dataset (the engine behind :func:`load_mnist`)."""
    if split not in IDX_SPLITS:
        raise ValueError(f"split must be one of {IDX_SPLITS} (got {split!r})")
    check_float_dtype(dtype)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds (got {timeout!r})")
    paths = dataset_files(spec, root, download, mirrors, timeout=timeout, progress=progress)
    if split == "test":
        x, y = _read_pair(spec, paths["test_images"], paths["test_labels"], spec.test_counts,
                          (spec.test_images, spec.test_labels))
    else:
        x, y = _read_pair(spec, paths["train_images"], paths["train_labels"], spec.train_counts,
                          (spec.train_images, spec.train_labels))
        if split in ("train", "val"):
            if not isinstance(val_size, int) or not 0 < val_size < len(y):
                raise ValueError(f"val_size must be an int in [1, {len(y) - 1}] (got {val_size!r})")
            train_idx, val_idx = stratified_holdout(y, val_size, seed)
            idx = train_idx if split == "train" else val_idx
            x, y = x[idx], y[idx]
        elif split == "all":
            test_x, test_y = _read_pair(spec, paths["test_images"], paths["test_labels"], spec.test_counts,
                                        (spec.test_images, spec.test_labels))
            x, y = np.concatenate([x, test_x]), np.concatenate([y, test_y])
    height, width = x.shape[1:]
    x = x.astype(dtype)  # host: a copy we can scale in place before it moves to the device
    x /= 255
    x = x.reshape(len(x), height * width) if flatten else x.reshape(len(x), 1, height, width)
    xp = backend.xp
    return ArrayDataset(xp.asarray(x), xp.asarray(y.astype("int64")), class_names=list(spec.class_names),
                        name=f"{spec.key}/{split}")


def load_mnist(split: str = "train", seed: int = 0, flatten: bool = True, dtype: str = "float32",
               root: str | os.PathLike[str] | None = None, download: bool = True, val_size: int = 10_000,
               mirrors: Sequence[str] | None = None, progress: bool | None = None,
               timeout: float = DEFAULT_DEADLINE) -> ArrayDataset:
    """MNIST handwritten digits: 28×28 grey images, 10 classes (downloaded on first use).

    Pixels 0..255 are scaled to [0, 1] float32; labels are int64. ``split`` is
    ``"train"`` (50,000), ``"val"`` (10,000 held out of the official training set,
    stratified by class and fixed by ``seed``), ``"trainval"`` (the official 60,000),
    ``"test"`` (the official 10,000) or ``"all"``. ``flatten=False`` gives images of
    shape (1, 28, 28) for a CNN.

    The files are looked for under ``root`` (a data home such as ``../shared/data``, or a
    folder holding the four files), else ``$MINIDL_DATA``, else ``~/.cache/minidl/data``;
    missing ones are downloaded there (``download=True``) from ``mirrors`` (default:
    :data:`MNIST` ``.mirrors``) and checked against their published MD5 and SHA-256.
    ``timeout`` is how many seconds one mirror may take for one file (default 600) before
    the next mirror is tried; a mirror silent for 30 seconds is given up sooner. Files
    found on disk are checked against the published digests once per version of the file
    (:mod:`minidl.data.verify`). Offline and without the files,
    :class:`DatasetNotAvailableError` says what to do.

    Source: Y. LeCun, C. Cortes and C. J. C. Burges, *The MNIST database of handwritten
    digits*; LeCun et al. (1998), Proc. IEEE 86(11). Commonly stated as CC BY-SA 3.0.
    """
    return load_idx_dataset(MNIST, split, seed, flatten, dtype, root, download, val_size, mirrors, progress,
                            timeout)


def load_mnist_if_available(root: str | os.PathLike[str] | None = None,
                            **options: object) -> tuple[ArrayDataset, ArrayDataset] | None:
    """MNIST's (train, test) splits, or None when the files cannot be had (offline, no copy on
    disk), after printing the first line of why: for a lesson or demo that has a fallback.

    ``root`` and ``options`` (``download``, ``flatten``, ...) are :func:`load_mnist`'s.
    """
    try:
        return load_mnist("train", root=root, **options), load_mnist("test", root=root, **options)
    except DatasetNotAvailableError as error:
        print("MNIST not used:", str(error).splitlines()[0])
        return None

def load_fashion_mnist(split: str = "train", seed: int = 0, flatten: bool = True, dtype: str = "float32",
                       root: str | os.PathLike[str] | None = None, download: bool = True,
                       val_size: int = 10_000, mirrors: Sequence[str] | None = None,
                       progress: bool | None = None, timeout: float = DEFAULT_DEADLINE) -> ArrayDataset:
    """Fashion-MNIST: 28×28 grey images of clothing in 10 classes, a harder drop-in for MNIST.

    Same splits, scaling, arguments (``timeout`` included) and file lookup as
    :func:`load_mnist` (folder ``fashion-mnist/`` in the data home). Classes: T-shirt/top,
    Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.

    Source: H. Xiao, K. Rasul and R. Vollgraf (2017), arXiv:1708.07747. MIT licence,
    © Zalando SE.
    """
    return load_idx_dataset(FASHION_MNIST, split, seed, flatten, dtype, root, download, val_size,
                            mirrors, progress, timeout)
