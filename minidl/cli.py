"""The ``minidl`` command: ``tour``, ``lessons``, ``lesson N``, ``info``, ``ddp -n N``."""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from typing import NoReturn

# How long the tour takes, said in `minidl tour --help` and the README (2 cores; see the README).
TOUR_TIMES = ("On 2 cores the digits tour takes under a minute, and so does --dataset mnist or "
              "fashion_mnist (19-26 s measured on a shared machine: the chapters train on a stratified "
              "10,000 of the 50,000 training images, with about as many steps as on the digits, and say so).")


def _tour(args: argparse.Namespace) -> int:
    from minidl.course import fast_mode
    from minidl.threads import blas_threads
    from minidl.tour import run_tour

    with blas_threads(args.blas_threads or None):
        run_tour(out_dir=args.out, json_path=args.json, dataset=args.dataset, only=args.only,
                 fast=args.fast or fast_mode(), seed=args.seed)
    return 0


def _lessons(args: argparse.Namespace) -> int:
    from minidl.course import list_lessons

    for lesson in list_lessons():
        print(f"{lesson.number:02d}  {lesson.title}")
    print("\nRun one with `minidl lesson N` (or `python lessons/NN_name.py`).")
    return 0


def _lesson(args: argparse.Namespace) -> int:
    from minidl.course import find_lesson

    lesson = find_lesson(args.number)
    if args.fast:
        os.environ["MINIDL_FAST"] = "1"
    print(f"Lesson {lesson.number:02d} — {lesson.title}\n({lesson.path})\n")
    sys.argv = [str(lesson.path)]
    from minidl.threads import blas_threads

    with blas_threads(args.blas_threads or None):
        runpy.run_path(str(lesson.path), run_name="__main__")
    return 0


def _ddp(args: argparse.Namespace) -> int:
    from minidl.ddp.demo import run_demo

    return run_demo(args.n, epochs=args.epochs, global_batch=args.global_batch)


def _info(args: argparse.Namespace) -> int:
    import platform

    import numpy as np

    import minidl
    from minidl import backend

    print(f"minidl {minidl.__version__}  python {platform.python_version()}  numpy {np.__version__}")
    print(f"array backend: {backend.xp.__name__}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`; usage: {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minidl", description="minidl: learn model optimization in NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)

    tour = sub.add_parser(
        "tour", help="run the guided tour (digits: under a minute; MNIST: a few minutes)",
        description="Run the guided tour's chapters and print what each measured. " + TOUR_TIMES)
    tour.add_argument("--out", default="minidl-tour", help="folder for the figures (default: minidl-tour)")
    tour.add_argument("--json", metavar="PATH", help="also write the report's numbers as JSON")
    tour.add_argument("--dataset", default="digits",
                      help="digits (bundled, default), mnist or fashion_mnist (downloaded once, or $MINIDL_DATA)")
    tour.add_argument("--only", nargs="+", metavar="CHAPTER", help="run only these chapters")
    tour.add_argument("--fast", action="store_true", help="shrunken run (as the tests do)")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--blas-threads", type=int, default=1, metavar="N",
                      help="threads for NumPy's matrix products (default 1: faster for small models; 0: BLAS decides)")
    tour.set_defaults(fn=_tour)

    sub.add_parser("lessons", help="list the lessons").set_defaults(fn=_lessons)
    lesson = sub.add_parser("lesson", help="run lesson N")
    lesson.add_argument("number", type=int)
    lesson.add_argument("--fast", action="store_true", help="shrunken run (as the tests do)")
    lesson.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="threads for NumPy's matrix products (default 1; 0: BLAS decides)")
    lesson.set_defaults(fn=_lesson)
    sub.add_parser("info", help="versions and the active array backend").set_defaults(fn=_info)
    ddp = sub.add_parser("ddp", help="data-parallel training on N processes (mpiexec) vs one, on digits")
    ddp.add_argument("-n", type=int, default=2, help="number of processes (default 2)")
    ddp.add_argument("--epochs", type=int, default=5)
    ddp.add_argument("--global-batch", type=int, default=64)
    ddp.set_defaults(fn=_ddp)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``minidl`` command; returns its exit status.

    Every error ends as one line on stderr (``minidl: error: ...``) and a non-zero status:
    2 for a bad command line or input (argparse's convention), 1 for a failure while
    running, 130 for Ctrl-C. ``MINIDL_DEBUG=1`` lets the traceback through instead.
    """
    args = _parser().parse_args(argv)
    if os.environ.get("MINIDL_DEBUG"):
        return args.fn(args)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        print("minidl: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, TypeError) as e:  # bad input: the message says what to fix
        print(f"minidl: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # anything else: still one line, and how to see more
        print(f"minidl: error: {type(e).__name__}: {_one_line(e)} "
              "(set MINIDL_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
