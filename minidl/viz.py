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
