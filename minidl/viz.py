"""Figures the lessons and the tour share (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from typing import Any

from minidl.course import new_figure


def plot_history(history: Any, title: str = "") -> Any:
    """Loss and accuracy per epoch (training and validation) from a :class:`~minidl.train.History`."""
    fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(9, 3.4))
    epochs = range(1, history.epochs + 1)
    ax_loss.plot(epochs, history.train_loss, label="train")
    if history.val_loss:
        ax_loss.plot(epochs, history.val_loss, label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.plot(epochs, history.train_accuracy, label="train")
    if history.val_accuracy:
        ax_acc.plot(epochs, history.val_accuracy, label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
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
    size = (1.2 * cols, 1.2 * rows + (0.4 if title else 0))
    fig, axes = new_figure(rows, cols, figsize=size, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < count:
            kernel = w[k, 0]
            limit = float(abs(kernel).max()) or 1.0
            ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(k), fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
