"""A lesson opened as a notebook shows its figures: converted with jupytext and executed with
nbclient, it has one inline image for every figure it saves (issue 18 §1).

Needs the dev extras (nbclient, ipykernel, jupytext); skipped, with that reason, without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="needs nbclient (pip install -e '.[dev]')")
jupytext = pytest.importorskip("jupytext", reason="needs jupytext (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="needs ipykernel (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "01_tensors_and_graphs.py"


def test_a_lesson_executed_as_a_notebook_shows_each_saved_figure_once(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    figures = tmp_path / "figures"
    monkeypatch.setenv("MINIDL_FAST", "1")
    monkeypatch.setenv("MINIDL_FIGURES", str(figures))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as in Jupyter
    notebook = jupytext.read(LESSON)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    saved = sorted(figures.glob("*.png"))
    assert saved, "the lesson saved no figure"
    assert len(images) == len(saved), f"{len(images)} inline images for {len(saved)} saved figures"
