"""Figures the lessons and the tour share, in one style made for a projector.

The style (:data:`STYLE`, applied by :func:`apply_style`, which ``minidl.course.new_figure``
calls) is what an instructor needs when a figure fills a slide: files at
:data:`SAVE_DPI` = 150 dpi, every text at least 12 pt (titles 14 pt), thicker lines, a light
grid, legends with an opaque frame (place them off the data: ``loc="best"`` by default, or
outside with ``legend_outside``). Conventions the lessons follow: every axis has a label
with its unit in parentheses ("time (ms)", "sparsity (%)"; accuracy is always shown in percent,
"accuracy (%)", while the code keeps it as a fraction), every panel a title; an
animation is at least :data:`ANIMATION_MIN_WIDTH` pixels wide and keeps its axes.
"""

from __future__ import annotations

from typing import Any

from minidl.course import ANIMATION_MIN_WIDTH, SAVE_DPI, STYLE, apply_style, new_figure

__all__ = ["ANIMATION_MIN_WIDTH", "SAVE_DPI", "STYLE", "apply_style", "legend_outside", "new_figure",
           "plot_filters", "plot_history"]

# The style itself lives in minidl.course (the lessons' leaf helper, which new_figure and
# save_figure use); these names are its public home for figure code.
def legend_outside(ax: Any, **kwargs: Any) -> Any:
    """A legend to the right of the axes, where it cannot cover the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kwargs)


def plot_history(history: Any, title: str = "") -> Any:
    """Loss and accuracy (in %) per epoch, training and validation, from a :class:`~minidl.train.History`."""
    fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(11, 4.2))
    epochs = range(1, history.epochs + 1)
    ax_loss.plot(epochs, history.train_loss, label="train")
    if history.val_loss:
        ax_loss.plot(epochs, history.val_loss, label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="loss")
    # History keeps fractions (as the metrics return them); every figure of the course shows %
    ax_acc.plot(epochs, [100 * a for a in history.train_accuracy], label="train")
    if history.val_accuracy:
        ax_acc.plot(epochs, [100 * a for a in history.val_accuracy], label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_filters(weight: Any, title: str = "", columns: int = 8) -> Any:
    """Each output channel's kernel of a conv weight (out, in, kh, kw) as a small image
    (the first input channel; blue negative, red positive, one color scale per filter)."""
    from minidl.backend import to_numpy

    w = to_numpy(weight.data if hasattr(weight, "data") else weight)
    if w.ndim != 4:
        raise ValueError(f"plot_filters expects a conv weight of shape (out, in, kh, kw) (got {w.shape})")
    count = w.shape[0]
    cols = min(columns, count)
    rows = -(-count // cols)
    size = (1.5 * cols, 1.6 * rows + (0.6 if title else 0))
    fig, axes = new_figure(rows, cols, figsize=size, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < count:
            kernel = w[k, 0]
            limit = float(abs(kernel).max()) or 1.0
            ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(k), fontsize=12)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
