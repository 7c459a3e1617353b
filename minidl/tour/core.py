"""The chapter registry and the runner behind ``minidl tour``."""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from minidl.course import save_figure


@dataclass
class ChapterResult:
    """What a chapter reports: lines for the terminal, numbers for ``--json``, figure paths."""

    lines: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)


@dataclass
class TourContext:
    """What every chapter gets: the output folder, the dataset, fast mode, a seed."""

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
            from minidl.data import load_digits

            if self.dataset != "digits":
                from minidl import data

                loader = getattr(data, f"load_{self.dataset}", None)
                if loader is None:
                    raise ValueError(f"unknown tour dataset {self.dataset!r}")
                self._cache["splits"] = tuple(loader(split=s) for s in ("train", "val", "test"))
            else:
                self._cache["splits"] = tuple(load_digits(s, seed=self.seed) for s in ("train", "val", "test"))
        return self._cache["splits"]

    def trained(self, kind: str) -> Any:
        """A copy of the model several chapters share ("mlp" or "cnn"), trained once per tour
        (:mod:`minidl.tour.baselines`)."""
        from minidl.tour.baselines import trained

        return trained(self, kind)


@dataclass(frozen=True)
class _Chapter:
    key: str
    title: str
    order: int
    run: Callable[[TourContext], ChapterResult]


_CHAPTERS: dict[str, _Chapter] = {}


def chapter(key: str, title: str, order: int) -> Callable[[Callable[[TourContext], ChapterResult]], Any]:
    """Register a tour chapter: ``@chapter("mlp", "An MLP on digits", order=10)``."""

    def register(fn: Callable[[TourContext], ChapterResult]) -> Callable[[TourContext], ChapterResult]:
        _CHAPTERS[key] = _Chapter(key, title, order, fn)
        return fn

    return register


def registered_chapters() -> list[_Chapter]:
    """All chapters, in tour order (importing every module of ``minidl.tour.chapters``)."""
    from minidl.tour import chapters

    for info in pkgutil.iter_modules(chapters.__path__):
        importlib.import_module(f"{chapters.__name__}.{info.name}")
    return sorted(_CHAPTERS.values(), key=lambda c: c.order)


def run_tour(out_dir: str | Path = "minidl-tour", json_path: str | Path | None = None,
             dataset: str = "digits", only: list[str] | None = None, fast: bool = False,
             seed: int = 0, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the chapters in order, print the report, and return (and optionally save) its numbers."""
    import minidl

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = TourContext(out_dir=out, dataset=dataset, fast=fast, seed=seed)
    chapters = registered_chapters()
    if only:
        unknown = set(only) - {c.key for c in chapters}
        if unknown:
            raise ValueError(f"unknown chapter(s) {sorted(unknown)}; chapters: {[c.key for c in chapters]}")
        chapters = [c for c in chapters if c.key in only]
    report: dict[str, Any] = {
        "minidl_version": minidl.__version__, "dataset": dataset, "fast": fast,
        "python": platform.python_version(), "machine": platform.machine(), "chapters": {},
    }
    echo(f"minidl {minidl.__version__} tour on {dataset} — figures go to {out}/")
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
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        echo(f"Numbers written to {json_path}")
    return report
