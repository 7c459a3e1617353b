"""A lesson opened as a notebook shows its figures: jupytext converts it, nbclient executes it."""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is in the dev extras")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extras")
pytest.importorskip("ipykernel", reason="ipykernel is in the dev extras")

LESSONS = Path(__file__).resolve().parents[1] / "lessons"


def execute(lesson: Path, figures: Path):
    nb = jupytext.read(lesson)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = {"MINIDL_FAST": "1", "MINIDL_FIGURES": str(figures)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(figures)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


@pytest.mark.slow
def test_a_lesson_executed_as_a_notebook_shows_every_figure_it_saves_once(tmp_path):
    nb = execute(next(LESSONS.glob("02_*.py")), tmp_path)
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    saved = sorted(tmp_path.glob("*.png"))
    assert len(saved) >= 1
    assert len(images) == len(saved), f"{len(saved)} figures saved, {len(images)} shown inline"
