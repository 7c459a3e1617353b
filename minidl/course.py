"""What the lessons and the tour share: fast mode, where figures go, finding the lessons.

``MINIDL_FAST=1`` (set by the test suite) makes every lesson and tour chapter run a
shrunken version of itself: fewer epochs, smaller data, same code path.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path


def fast_mode() -> bool:
    """True when ``MINIDL_FAST`` is set to something other than 0/empty."""
    return os.environ.get("MINIDL_FAST", "") not in ("", "0", "false", "False")


def pick(full: int, fast: int) -> int:
    """``full`` normally, ``fast`` in fast mode (e.g. epochs = pick(30, 3))."""
    return fast if fast_mode() else full


def figure_dir(default: str | os.PathLike[str] = "figures") -> Path:
    """Where lessons save figures: ``$MINIDL_FIGURES`` if set, else ``default`` (created)."""
    d = Path(os.environ.get("MINIDL_FIGURES", default))
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_figure(fig, name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Save a matplotlib figure as ``<folder>/<name>.png``, close it, and inside Jupyter show it
    inline (once); returns the path."""
    import matplotlib.pyplot as plt

    path = (Path(folder) if folder is not None else figure_dir()) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)  # closed, so Jupyter's inline backend does not draw it a second time
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))  # the saved file itself, so notebook and disk agree
    return path


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a notebook, or the book's build), where figures show inline."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def new_figure(*args, **kwargs):
    """``plt.subplots`` on the non-interactive Agg backend (no screen needed)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


@dataclass(frozen=True)
class Lesson:
    number: int
    title: str
    path: Path


def lessons_dir() -> Path:
    """The ``lessons/`` folder: in the current directory, else beside the installed package."""
    for candidate in (Path.cwd() / "lessons", Path(__file__).resolve().parents[1] / "lessons"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no lessons/ folder found: run from the minidl repository "
                            "(the lessons are not part of the installed package)")


def list_lessons() -> list[Lesson]:
    """Every ``lessons/NN_*.py`` with its title (the first ``# #`` heading)."""
    found = []
    for path in sorted(lessons_dir().glob("[0-9][0-9]_*.py")):
        title = path.stem[3:].replace("_", " ")
        for line in path.read_text(encoding="utf-8").splitlines()[:30]:
            m = re.match(r"#\s*#\s+(?:Lesson\s+\d+\s*[—:-]\s*)?(.+)", line)
            if m:
                title = m.group(1).strip()
                break
        found.append(Lesson(int(path.name[:2]), title, path))
    return found


def find_lesson(number: int) -> Lesson:
    for lesson in list_lessons():
        if lesson.number == number:
            return lesson
    raise ValueError(f"no lesson {number}; `minidl lessons` lists them")


class ClaimFailed(AssertionError):
    """A sentence of a lesson's prose that the lesson's own run contradicts."""


def claim(condition: bool, statement: str, **measured) -> None:
    """Guard one sentence of a lesson's prose with the run that supports it.

    ``claim(acc_pruned > acc_dense - 0.01, "pruning to 90% costs under one point", dense=acc_dense,
    pruned=acc_pruned)`` does nothing when the condition holds and raises :class:`ClaimFailed`
    naming the sentence and the measured values when it does not, so a lesson whose numbers drift
    away from its text fails its test instead of teaching something false. In fast mode a claim
    may relax a magnitude (``pick(...)``) but should keep its direction.
    """
    if not condition:
        values = ", ".join(f"{k}={v!r}" for k, v in measured.items())
        raise ClaimFailed(f"the lesson says: {statement!r}, but this run measured {values or 'otherwise'}")
