"""The chapter registry and the runner behind ``minidl tour``."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from minidl.course import save_figure
from minidl.files import replace_atomically


@dataclass
class ChapterResult:
    """What a chapter reports: lines for the terminal, numbers for ``--json``, figure paths."""

    lines: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)


def layer_sizes(model: Any, sep: str = " → ") -> str:
    """An MLP's layer sizes as text, e.g. "64 → 128 → 10", for a chapter's text and titles."""
    return sep.join(str(n) for n in model.sizes)


# The recipes (epochs, steps) were tuned on the bundled digits, whose training split has this
# many samples; on a larger training set a chapter takes about as many optimizer steps.
DIGITS_TRAIN_SIZE = 1078

# (train, val, test) samples the chapters use of a large dataset (MNIST, Fashion-MNIST): a
# stratified subset of each split, so the full tour stays within minutes on 2 cores.
LARGE_DATASET_SIZES = {False: (10_000, 2_000, 10_000), True: (2_000, 500, 2_000)}  # by fast mode


@dataclass
class TourContext:
    """What every chapter gets: the output folder, the dataset, fast mode, a seed.

    On the bundled digits the chapters use the whole splits. On MNIST or Fashion-MNIST they
    use a stratified subset of each split (:data:`LARGE_DATASET_SIZES`) and, through
    :meth:`epochs`, about as many optimizer steps as on the digits: :meth:`data_note` says
    so in the chapters' text.
    """

    out_dir: Path
    dataset: str = "digits"
    fast: bool = False
    seed: int = 0
    _cache: dict[str, Any] = field(default_factory=dict)

    def save(self, fig: Any, name: str) -> str:
        """Save a figure into the tour's folder; returns its path as text."""
        return str(save_figure(fig, name, self.out_dir))

    def splits(self) -> tuple[Any, Any, Any]:
        """(train, val, test) datasets of the chosen dataset, loaded once per tour."""
        if "splits" not in self._cache:
            from minidl import data

            name = self.dataset.replace("-", "_")
            if name == "digits":
                splits = tuple(data.load_digits(s, seed=self.seed) for s in ("train", "val", "test"))
                self._cache["full_sizes"] = tuple(len(d) for d in splits)
            else:
                loader = getattr(data, f"load_{name}", None)
                if loader is None:
                    raise ValueError(f"unknown tour dataset {self.dataset!r}")
                full = tuple(loader(split=s, seed=self.seed) for s in ("train", "val", "test"))
                self._cache["full_sizes"] = tuple(len(d) for d in full)
                splits = tuple(
                    data.subsample(d, size=size, strategy="stratified", seed=self.seed) if len(d) > size else d
                    for d, size in zip(full, LARGE_DATASET_SIZES[self.fast]))
            self._cache["splits"] = splits
        return self._cache["splits"]

    def full_sizes(self) -> tuple[int, int, int]:
        """Sizes of the dataset's whole (train, val, test) splits, before any subset."""
        self.splits()
        return self._cache["full_sizes"]

    def data_note(self) -> str:
        """"" on the digits; else which part of the training set the chapters use, for their text."""
        train = self.splits()[0]
        full_train = self.full_sizes()[0]
        return "" if len(train) == full_train else \
            f"a stratified {len(train):,} of the {full_train:,} training images"

    def data_summary(self) -> str:
        """One sentence on the data the chapters use (printed once at the start of the tour)."""
        if not self.data_note():
            return ""
        (_, val, test), (_, full_val, full_test) = self.splits(), self.full_sizes()
        val_part = "all" if len(val) == full_val else f"{len(val):,} of {full_val:,}"
        test_part = "all" if len(test) == full_test else f"{len(test):,} of {full_test:,}"
        return (f"The chapters use {self.data_note()} (validation: {val_part}; test: {test_part}) and "
                "about as many optimizer steps as on the digits, so the tour takes minutes, not tens of minutes.")

    def epochs(self, digits_epochs: int) -> int:
        """Epochs for a recipe tuned on the digits: ``digits_epochs`` there; on a larger
        training set, as many as give about the same number of optimizer steps (scaled by
        the ratio of the two training sets, also for a chapter's own subsets), at least one."""
        train = self.splits()[0]
        if self.dataset == "digits" or len(train) <= DIGITS_TRAIN_SIZE:
            return digits_epochs
        return max(1, round(digits_epochs * DIGITS_TRAIN_SIZE / len(train)))

    def trained(self, kind: str) -> Any:
        """A copy of the model several chapters share ("mlp" or "cnn"), trained once per tour
        (:mod:`minidl.tour.baselines`)."""
        from minidl.tour.baselines import trained

        return trained(self, kind)


@dataclass(frozen=True)
class Chapter:
    """A tour chapter: its key (for ``--only`` and the JSON report), its title, its function."""

    key: str
    title: str
    run: Callable[[TourContext], ChapterResult]

    def __call__(self, ctx: TourContext) -> ChapterResult:
        return self.run(ctx)


def chapter(key: str, title: str, order: int | None = None) -> Callable[[Callable[[TourContext], ChapterResult]],
                                                                         Chapter]:
    """Make a function a tour chapter: ``@chapter("mlp", "An MLP learns the digits")``.

    The order of the tour is not set here but in one place, the ``CHAPTERS`` tuple of
    :mod:`minidl.tour.chapters`, which reads as the tour's table of contents (``order=``
    is accepted for old code, ignored, and warned about).
    """
    if order is not None:
        import warnings

        warnings.warn("chapter(order=...) is ignored: the tour's order is minidl.tour.chapters.CHAPTERS",
                      DeprecationWarning, stacklevel=2)

    def make(fn: Callable[[TourContext], ChapterResult]) -> Chapter:
        return Chapter(key, title, fn)

    return make


def registered_chapters() -> list[Chapter]:
    """All chapters, in tour order: :data:`minidl.tour.chapters.CHAPTERS`."""
    from minidl.tour.chapters import CHAPTERS

    return list(CHAPTERS)


def run_tour(out_dir: str | Path = "minidl-tour", json_path: str | Path | None = None,
             dataset: str = "digits", only: list[str] | None = None, fast: bool = False,
             seed: int = 0, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the chapters in order, print the report, and return (and optionally save) its numbers.

    Everything that can be checked up front is checked before the first chapter runs (the
    chapter names, the dataset, that ``out_dir`` is or can become a folder and that
    ``json_path`` can be written), so a bad argument costs nothing and a finished tour's
    numbers are never lost to an unwritable path.
    """
    import minidl

    dataset = dataset.replace("-", "_")
    if dataset not in DATASETS:
        raise ValueError(f"unknown tour dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    chapters = registered_chapters()
    if only:
        unknown = set(only) - {c.key for c in chapters}
        if unknown:
            raise ValueError(f"unknown chapter(s) {sorted(unknown)}; chapters: {[c.key for c in chapters]}")
        chapters = [c for c in chapters if c.key in only]
    out = Path(out_dir)
    _check_output_folder(out)
    if json_path is not None:
        _check_writable_file(Path(json_path))
    out.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(out_dir=out, dataset=dataset, fast=fast, seed=seed)
    report: dict[str, Any] = {
        "minidl_version": minidl.__version__, "dataset": dataset, "fast": fast,
        "python": platform.python_version(), "machine": platform.machine(), "chapters": {},
    }
    echo(f"minidl {minidl.__version__} tour on {dataset} — figures go to {out}/")
    if dataset != "digits":  # load (or fail to load) the data before any chapter, and say what is used
        ctx.splits()
        report["data"] = {"train": len(ctx.splits()[0]), "full_train": ctx.full_sizes()[0]}
        if ctx.data_summary():
            echo(ctx.data_summary())
    start = time.perf_counter()
    for i, ch in enumerate(chapters, 1):
        echo(f"\n[{i}/{len(chapters)}] {ch.title}")
        t0 = time.perf_counter()
        result = ch.run(ctx)
        seconds = time.perf_counter() - t0
        for line in result.lines:
            echo(f"    {line}")
        echo(f"    ({seconds:.1f} s)")
        report["chapters"][ch.key] = {"title": ch.title, "seconds": round(seconds, 3),
                                      **result.metrics, "figures": result.figures}
    report["seconds"] = round(time.perf_counter() - start, 3)
    mlp = report["chapters"].get("mlp", {})
    if "test_accuracy" in mlp:
        report["test_accuracy"] = mlp["test_accuracy"]
    echo(f"\nTour finished in {report['seconds']:.1f} s.")
    if json_path is not None:
        with replace_atomically(json_path, "w", encoding="utf-8") as f:
            f.write(json.dumps(report, indent=2) + "\n")
        echo(f"Numbers written to {json_path}")
    return report


DATASETS = ("digits", "mnist", "fashion_mnist")


def _existing_ancestor(path: Path) -> Path:
    folder = path.absolute()
    while not folder.exists():
        folder = folder.parent
    return folder


def _check_output_folder(out: Path) -> None:
    """Raise ``ValueError`` (one line) unless ``out`` is a writable folder or can be created as one."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is an existing file, not a folder: name a folder for the figures")
    base = _existing_ancestor(out)
    if not base.is_dir():
        raise ValueError(f"--out {out} cannot be created: {base} is a file, not a folder")
    _probe(base, f"--out {out}")


def _check_writable_file(path: Path) -> None:
    """Raise ``ValueError`` (one line) unless ``path`` can be written (created or replaced)."""
    if path.is_dir():
        raise ValueError(f"--json {path} is a folder: name a file for the numbers, e.g. {path / 'tour.json'}")
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        raise ValueError(f"--json {path} cannot be written: {base} is a file, not a folder")
    _probe(base, f"--json {path}")


def _probe(folder: Path, what: str) -> None:
    """Create and delete a file in ``folder``: the one test of writability that holds for every user."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".minidl-probe-"):
            pass
    except OSError as e:
        raise ValueError(f"{what} cannot be written: {folder} is not writable ({e.strerror or e})") from None


