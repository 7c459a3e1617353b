"""Figures for search results: best-so-far curves (the fair way to compare methods)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minidl.course import new_figure
from minidl.search.trials import SearchResult


def plot_best_so_far(results: Mapping[str, SearchResult], ax: Any = None, *, xlabel: str = "epochs spent",
                     ylabel: str = "best score so far", title: str = "",
                     ylim: tuple[float, float] | None = None, percent: bool = False) -> Any:
    """One step curve per method: the best score found against the budget spent so far.

    Comparing methods at equal budget (epochs, not trials) is what makes the comparison
    fair: successive halving runs many short trials, the others fewer long ones.
    ``percent=True`` draws a score that is a fraction (an accuracy) as a percentage, the
    unit every accuracy axis of the course uses; ``ylim`` is then in percent too.
    """
    fig = None
    if ax is None:
        fig, ax = new_figure(figsize=(6.4, 4))
    for name, result in results.items():
        spent, best = result.best_so_far()
        if spent:
            shown = [100 * b for b in best] if percent else best
            ax.step([0.0] + spent, [float("nan")] + shown, where="post", label=name, lw=2)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig if fig is not None else ax.figure
