"""Shared fixtures: array backends, where the shared datasets are, fast lessons, Agg plots.

Backends. Every test runs inside an array backend chosen by ``--backend``:

- default: every test on NumPy; test modules marked ``pytestmark = pytest.mark.backends``
  (the engine, nn, losses and optimizer tests) also on the stand-in, so CI proves on every
  run that no NumPy array leaks into code that must work on CuPy;
- ``--backend=all`` (``make test-backends``): every test on NumPy and the stand-in, and on
  CuPy where a GPU is present;
- ``--backend=numpy|standin|cupy``: every test on that one backend.

A test that is about NumPy itself (a Numba kernel against its reference, say) carries
``@pytest.mark.numpy_only`` and runs on NumPy alone.
"""

from __future__ import annotations

import os
import runpy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import pytest

import minidl
import minidl.backend

matplotlib.use("Agg")  # no screen in CI; figures are written to files
os.environ.setdefault("MINIDL_FAST", "1")  # lessons and the tour shrink their epochs under test

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MINIDL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", default="default",
                     choices=["default", "numpy", "standin", "cupy", "all"],
                     help="array backend(s) to run the tests on (see tests/conftest.py)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: also run this module on the stand-in by default")
    config.addinivalue_line("markers", "numpy_only: the test is about NumPy arrays; never parametrized")


def _cupy_available() -> bool:
    try:
        minidl.backend._load("cupy")
    except RuntimeError:
        return False
    return True


def _backends_for(config: pytest.Config, node: pytest.Item | pytest.Function) -> list[str]:
    if node.get_closest_marker("numpy_only"):
        return ["numpy"]
    choice = config.getoption("--backend")
    if choice == "default":
        return ["numpy", "standin"] if node.get_closest_marker("backends") else ["numpy"]
    if choice == "all":
        return ["numpy", "standin"] + (["cupy"] if _cupy_available() else [])
    return [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "array_backend" in metafunc.fixturenames:
        names = _backends_for(metafunc.config, metafunc.definition)
        if names != ["numpy"]:
            metafunc.parametrize("array_backend", names, indirect=True)


@pytest.fixture(autouse=True)
def array_backend(request: pytest.FixtureRequest):
    """The backend this test runs on; new Tensors, weights and datasets are created there."""
    name = getattr(request, "param", "numpy")
    with minidl.backend.use(name):
        yield name


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    """Tests use small matrices: one BLAS thread is faster, and steady on a shared CI machine."""
    from minidl.threads import blas_threads

    with blas_threads(1):
        yield


@dataclass
class LessonRun:
    """What running one lesson in fast mode left behind."""

    results: dict[str, Any]
    namespace: dict[str, Any]
    figures: Path
    seconds: float
    grad_enabled_after: bool
    default_dtype_after: Any

    @property
    def figure_names(self) -> list[str]:
        """The PNG files the lesson saved, sorted."""
        return sorted(p.name for p in self.figures.glob("*.png"))


@pytest.fixture(scope="session")
def run_lesson(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], LessonRun]:
    """Run a lesson once per backend in fast mode (figures to a temporary folder), memoized.

    tests/test_lessons.py checks every lesson's common promises and the dedicated
    tests/test_lesson_NN.py files check their numbers: both read the same run.
    """
    cache: dict[tuple[str, str], LessonRun] = {}

    def run(path: Path) -> LessonRun:
        path = Path(path)
        key = (path.name, minidl.backend.get_backend())
        if key not in cache:
            folder = tmp_path_factory.mktemp(path.stem)
            figures = folder / "figures"
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("MINIDL_FAST", "1")
                mp.setenv("MINIDL_FIGURES", str(figures))
                mp.chdir(folder)  # anything a lesson writes lands here, not in the repository
                mp.setattr("sys.argv", [str(path)])
                start = time.perf_counter()
                namespace = runpy.run_path(str(path), run_name="__main__")
                seconds = time.perf_counter() - start
            cache[key] = LessonRun(namespace.get("results"), namespace, figures, seconds,
                                   minidl.is_grad_enabled(), minidl.get_default_dtype())
        return cache[key]

    return run


@pytest.fixture(scope="module")
def lesson(request: pytest.FixtureRequest, run_lesson: Callable[[Path], LessonRun]) -> LessonRun:
    """The fast-mode run of the lesson a ``tests/test_lesson_NN.py`` names in its ``LESSON`` path."""
    path = getattr(request.module, "LESSON", None)
    if path is None:
        raise RuntimeError(f"{request.module.__name__} must define LESSON, the path of its lesson")
    return run_lesson(path)


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (CI always has it; a user's clone does not, so such tests skip there)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"needs the shared datasets at {SHARED_DATA} (present in CI, absent in a user's clone)")
    return SHARED_DATA
