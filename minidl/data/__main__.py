"""``python -m minidl.data download mnist fashion-mnist``: fetch dataset files ahead of time.

Useful on a machine with internet access before going offline; ``--root`` (or
``MINIDL_DATA``) chooses the data home.
"""

from __future__ import annotations

import argparse
import sys

from minidl.data.download import DatasetNotAvailableError, data_home
from minidl.data.mnist import FASHION_MNIST, MNIST, dataset_files

DATASETS = {spec.key: spec for spec in (MNIST, FASHION_MNIST)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minidl.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    down = sub.add_parser("download", help="download and verify dataset files")
    down.add_argument("names", nargs="+", choices=sorted(DATASETS), metavar="NAME",
                      help=f"datasets: {', '.join(sorted(DATASETS))}")
    down.add_argument("--root", help="data home (default: $MINIDL_DATA or ~/.cache/minidl/data)")
    sub.add_parser("where", help="print the data home")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(data_home())
        return 0
    for name in args.names:
        try:
            paths = dataset_files(DATASETS[name], root=args.root, download=True, progress=True)
        except (DatasetNotAvailableError, OSError, ValueError) as e:  # one line, as every minidl command
            print(f"python -m minidl.data: error: {' '.join(str(e).split())}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("python -m minidl.data: interrupted", file=sys.stderr)
            return 130
        print(f"{DATASETS[name].title}: {paths['train_images'].parent}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
