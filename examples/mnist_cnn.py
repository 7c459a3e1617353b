"""Train LeNet (the source articles' CNN) on MNIST and report its test accuracy and time.

    python examples/mnist_cnn.py                     # 3 epochs, Adam, batch 64
    python examples/mnist_cnn.py --data-dir DIR      # a data home, or a folder with the four .gz files
    make mnist-cnn                                   # the same (DATA=DIR to choose the folder)

The files are found by :func:`minidl.data.load_mnist`: in ``--data-dir`` (default:
``../shared/data`` beside the repository when it exists), else ``$MINIDL_DATA``, else
the user cache, where they are downloaded on first use.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# PyTorch's MNIST example standardizes with the training set's pixel mean and std.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def default_data_dir() -> Path | None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    return shared if (shared / "mnist").is_dir() else None


def mnist_images(split: str, data_dir: Path | None, limit: int | None = None) -> Any:
    """One split of MNIST as standardized (N, 1, 28, 28) images (the first ``limit`` of them)."""
    from minidl.data import load_mnist

    dataset = load_mnist(split, flatten=False, root=data_dir, download=data_dir is None)
    if limit is not None:
        dataset = dataset.subset(slice(0, limit))
    return dataset.map(lambda x: (x - MNIST_MEAN) * (1 / MNIST_STD))  # Python floats: stays float32


def train(data_dir: Path | None, epochs: int = 3, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
          train_limit: int | None = None, test_limit: int | None = None, progress: bool | None = None,
          echo=print) -> dict:
    """Train LeNet with Adam on the official 60,000 training images; returns the numbers."""
    import minidl
    from minidl import nn, optim
    from minidl.data import DataLoader
    from minidl.train import evaluate, fit

    train_set = mnist_images("trainval", data_dir, train_limit)
    test_set = mnist_images("test", data_dir, test_limit)
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
    parser.add_argument("--blas-threads", type=int, default=0, metavar="N",
                        help="threads for the matrix products (default 0: BLAS decides; 1 is steadier "
                             "on a machine busy with other work)")
    args = parser.parse_args(argv)
    from minidl.data import DatasetNotAvailableError
    from minidl.threads import blas_threads

    try:
        with blas_threads(args.blas_threads or None):
            result = train(args.data_dir, args.epochs, args.batch_size, args.lr, args.seed, args.limit)
    except DatasetNotAvailableError as e:
        print(f"mnist-cnn: {e}", file=sys.stderr)
        return 2
    result.pop("model")
    print(f"test accuracy {result['test_accuracy']:.2%} after {args.epochs} epochs, "
          f"trained in {result['train_seconds']:.0f} s ({result['ms_per_step']:.0f} ms per step of "
          f"{args.batch_size} images, counting each epoch's test evaluation)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo
    sys.exit(main())
