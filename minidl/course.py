"""What the lessons and the tour share: fast mode, figures, claims, exercises, finding the lessons.

``MINIDL_FAST=1`` (set by the test suite) makes every lesson and tour chapter run a
shrunken version of itself: fewer epochs, smaller data, same code path.

**Prose is checked.** A sentence that states a result of the lesson's own run prints the
value (an f-string) or is guarded by :func:`claim`, which runs in fast and full mode.

**Exercises and answers.** A lesson's exercise is a markdown cell with the question. Its
answer follows right under it, in its own cells, each tagged as an answer in jupytext's
cell metadata::

    # %% [markdown]
    # **2. Adagrad slows down.** With a constant gradient g, ...

    # %% [markdown] tags=["answer", "hide-cell"]
    # **Answer.** ...

    # %% tags=["answer", "hide-cell"]
    check("04.2", adagrad_step)   # code that shows or checks the answer

``hide-cell`` is the tag Jupyter Book / MyST-NB collapse until clicked; ``answer`` marks the
cell for anything else that renders the course (both markdown and code cells carry both),
so a learner sees the question first. :data:`ANSWER_TAGS` is the pair.
:func:`minidl.course_checks.check` runs an exercise's hidden tests against a learner's own
function.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


ANSWER_TAGS = ("answer", "hide-cell")  # the jupytext tags of an exercise's answer cells (module docstring)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where a saved figure should also be shown inline)."""
    import sys

    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel always brings IPython
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


# The course's figure style, made for a projector (minidl.viz re-exports it beside the plots):
# files at SAVE_DPI = 150 dpi, every text at least 12 pt (titles 14 pt), thicker lines, a light
# grid, legends with an opaque frame. Every axis has a label with its unit in parentheses, every
# panel a title; an animation is at least ANIMATION_MIN_WIDTH pixels wide and keeps its axes.
SAVE_DPI = 150  # figures are saved at this resolution (a 6.4-inch-wide figure is 960 px)
ANIMATION_MIN_WIDTH = 800  # pixels; a GIF narrower than this is unreadable on a projector

STYLE: dict[str, Any] = {
    "figure.dpi": 100,  # on screen; files use SAVE_DPI
    "savefig.dpi": SAVE_DPI,
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "legend.framealpha": 0.9,
    "figure.titlesize": 14,
    "lines.linewidth": 2.0,
    "lines.markersize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def apply_style() -> None:
    """Set :data:`STYLE` in matplotlib's rcParams (idempotent; ``new_figure`` calls it)."""
    import matplotlib

    matplotlib.rcParams.update(STYLE)


def save_figure(fig, name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """Save a matplotlib figure as ``<folder>/<name>.png`` and close it; returns the path.

    The file uses the course's figure style (:data:`SAVE_DPI` dpi). Inside Jupyter
    the saved image is also displayed inline, once: the figure is closed after saving, so
    the inline backend does not show it a second time at the end of the cell.
    """
    import matplotlib.pyplot as plt

    path = (Path(folder) if folder is not None else figure_dir()) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight")
    plt.close(fig)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    return path


def new_figure(*args, **kwargs):
    """``plt.subplots`` in the course's figure style (:func:`apply_style`), on the
    non-interactive Agg backend outside Jupyter (no screen needed)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    apply_style()
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


class ClaimFailed(AssertionError):  # noqa: N818 - reads as the event a learner sees
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


def timing_verdict(condition: bool, statement: str, **measured: Any) -> bool:
    """Print whether this run's *timings* support a sentence of the prose; never raise.

    A timing depends on the machine and on what else runs on it, so a sentence about speed
    cannot be an assertion (the tests would fail on a busy machine): instead the lesson
    prints ``timings agree: <sentence>`` or ``timings disagree this run: <sentence> (values)``
    right under the measurement, and the reader sees which. Use :func:`claim` for
    everything that is not a timing. Returns ``condition``.
    """
    values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in measured.items())
    if condition:
        print(f"timings agree: {statement}")
    else:
        print(f"timings disagree this run: {statement} ({values}) — on a busy machine timings vary; "
              f"measure again (lesson 14)")
    return bool(condition)


class CheckFailed(AssertionError):  # noqa: N818 - reads as the event a learner sees
    """A learner's answer to an exercise failed one of its hidden tests."""
