"""minidl.course.save_figure: the course's figure style, and one inline image inside Jupyter."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from minidl.course import in_notebook, new_figure, save_figure
from minidl.viz import SAVE_DPI, STYLE


def _fake_jupyter(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Install stand-ins for ipykernel and IPython.display; returns the list display() appends to."""
    shown: list[object] = []
    ipython = types.ModuleType("IPython")
    shell = types.SimpleNamespace(kernel=object(), events=types.SimpleNamespace(register=lambda *args: None))
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.Image = lambda filename: ("Image", filename)
    display.display = shown.append
    ipython.display = display
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_inside_jupyter_a_saved_figure_is_shown_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fig, ax = new_figure()  # before the stand-ins: pyplot would try to hook into the fake IPython
    ax.plot([0, 1], [0, 1])
    shown = _fake_jupyter(monkeypatch)
    assert in_notebook()
    path = save_figure(fig, "inline", tmp_path)
    assert path.is_file()
    assert shown == [("Image", str(path))]  # once: the figure is closed, so the inline backend adds nothing


def test_outside_jupyter_nothing_is_displayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not in_notebook()
    fig, _ = new_figure()
    assert save_figure(fig, "plain", tmp_path).is_file()


def test_figures_use_the_projector_style(tmp_path: Path) -> None:
    from PIL import Image

    assert SAVE_DPI >= 150
    assert all(STYLE[k] >= 12 for k in ("font.size", "axes.labelsize", "xtick.labelsize", "legend.fontsize"))
    fig, ax = new_figure(figsize=(6, 4))
    ax.set(xlabel="x (units)", ylabel="y (units)", title="t")
    path = save_figure(fig, "styled", tmp_path)
    with Image.open(path) as image:
        assert image.width >= 6 * SAVE_DPI * 0.9  # bbox_inches="tight" may trim a little margin
