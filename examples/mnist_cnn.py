"""Train LeNet (the source articles' CNN) on MNIST and report its test accuracy and time.

    python examples/mnist_cnn.py                     # 3 epochs, Adam, batch 64
    python examples/mnist_cnn.py --data-dir DIR      # DIR holds the four MNIST .gz files
    make mnist-cnn

The four original IDX files are read from ``--data-dir`` (default: ``$MINIDL_DATA/mnist``
if set, else ``../shared/data/mnist`` beside the repository). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
# PyTorch's MNIST example standardizes with the training set's pixel mean and std.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def default_data_dir() -> Path:
    if os.environ.get("MINIDL_DATA"):
        return Path(os.environ["MINIDL_DATA"]) / "mnist"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as a uint8 array: magic 2049 → labels, 2051 → images."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        raise ValueError(f"{path}: magic number {magic} is neither 2049 (labels) nor 2051 (images)")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} ({int(np.prod(shape))} bytes) but "
                         f"{body.size} bytes follow (truncated file?)")
    return body.reshape(shape)


def read_mnist(data_dir: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 1, 28, 28) float32 standardized, labels (N,) int64) of ``split``."""
    images_file, labels_file = FILES[split]
    for name in (images_file, labels_file):
        if not (data_dir / name).is_file():
            raise FileNotFoundError(f"{data_dir / name} is missing: pass --data-dir pointing at a folder "
                                    f"with the four MNIST .gz files ({', '.join(sum(FILES.values(), ()))})")
    images = read_idx(data_dir / images_file)[:limit]
    labels = read_idx(data_dir / labels_file)[:limit]
    x = (images.astype(np.float32) / 255 - MNIST_MEAN) / MNIST_STD
    return x.reshape(-1, 1, 28, 28).astype(np.float32), labels.astype(np.int64)


def train(data_dir: Path, epochs: int = 3, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
          train_limit: int | None = None, test_limit: int | None = None, progress: bool | None = None,
          echo=print) -> dict:
    """Train LeNet with Adam; returns the numbers (accuracy, seconds per epoch, ...)."""
    import minidl
    from minidl import nn, optim
    from minidl.data import ArrayDataset, DataLoader
    from minidl.train import evaluate, fit

    x_train, y_train = read_mnist(data_dir, "train", train_limit)
    x_test, y_test = read_mnist(data_dir, "test", test_limit)
    xp, digits = minidl.backend.xp, [str(d) for d in range(10)]
    train_set = ArrayDataset(xp.asarray(x_train), xp.asarray(y_train), digits, "mnist/train")
    test_set = ArrayDataset(xp.asarray(x_test), xp.asarray(y_test), digits, "mnist/test")
    minidl.manual_seed(seed)
    model = nn.LeNet()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    test_loader = DataLoader(test_set, batch_size=1000)

    def report(epoch: int, history) -> None:
        echo(f"epoch {epoch + 1}/{epochs}: train loss {history.train_loss[-1]:.4f}, "
             f"train accuracy {history.train_accuracy[-1]:.2%}, test accuracy {history.val_accuracy[-1]:.2%} "
             f"({history.seconds[-1]:.0f} s)")

    echo(f"LeNet on MNIST: {len(train_set)} training and {len(test_set)} test images, "
         f"{sum(p.numel() for p in model.parameters()):,} parameters")
    start = time.perf_counter()
    history = fit(model, nn.functional.cross_entropy, optimizer,
                  DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed), epochs=epochs,
                  val_loader=test_loader, progress=progress, on_epoch_end=report)
    seconds = time.perf_counter() - start
    result = evaluate(model, test_loader, nn.functional.cross_entropy)
    return {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "epochs": epochs,
            "train_seconds": round(seconds, 1), "seconds_per_epoch": [round(s, 1) for s in history.seconds],
            "steps": history.steps,
            "ms_per_step": round(1000 * sum(history.seconds) / max(history.steps, 1), 1),
            "batch_size": batch_size, "lr": lr, "train_samples": len(train_set), "model": model}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    try:
        result = train(args.data_dir, args.epochs, args.batch_size, args.lr, args.seed, args.limit)
    except FileNotFoundError as e:
        print(f"mnist-cnn: {e}", file=sys.stderr)
        return 2
    result.pop("model")
    print(f"test accuracy {result['test_accuracy']:.2%} after {args.epochs} epochs, "
          f"trained in {result['train_seconds']:.0f} s ({result['ms_per_step']:.0f} ms per step of "
          f"{args.batch_size} images)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo
    sys.exit(main())
