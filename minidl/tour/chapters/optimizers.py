"""Chapter: GD, SGD, momentum and Adam train the same MLP on the same images."""

from __future__ import annotations

import time

import minidl
from minidl import nn, optim
from minidl.course import new_figure
from minidl.data import DataLoader
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import fit

# name: (optimizer, batch size); GD is SGD's rule on the gradient of the whole training set
OPTIMIZERS = {
    "GD (full batch, lr 0.5)": (lambda ps: optim.GD(ps, lr=0.5), None),
    "SGD (batch 32, lr 0.05)": (lambda ps: optim.SGD(ps, lr=0.05), 32),
    "SGD + momentum 0.9": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9), 32),
    "Adam (lr 3e-3)": (lambda ps: optim.Adam(ps, lr=3e-3), 32),
}


@chapter("optimizers", "GD, SGD, momentum and Adam on the same MLP")
def run(ctx: TourContext) -> ChapterResult:
    train, val, _ = ctx.splits()
    epochs = ctx.epochs(5 if ctx.fast else 20)
    histories, rows = {}, []
    for name, (make, batch) in OPTIMIZERS.items():
        minidl.manual_seed(ctx.seed)  # the same initial weights for every optimizer
        model = nn.MLP([train.num_features, 64, train.num_classes])
        loader = DataLoader(train, batch_size=batch or len(train), shuffle=batch is not None, seed=ctx.seed)
        start = time.perf_counter()
        h = fit(model, nn.functional.cross_entropy, make(model.parameters()), loader, epochs=epochs,
                val_loader=DataLoader(val, batch_size=512), progress=False, compile=True)
        histories[name] = h
        rows.append((name, h.steps, h.train_loss[-1], h.val_accuracy[-1], time.perf_counter() - start))

    fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(10, 3.6))
    for name, h in histories.items():
        ax_loss.semilogy(range(1, h.epochs + 1), h.train_loss, label=name)
        ax_acc.plot(range(1, h.epochs + 1), [100 * a for a in h.val_accuracy], label=name)
    ax_loss.set(xlabel="epoch (one pass over the training set)", ylabel="training loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)")
    ax_loss.legend(fontsize=8)
    fig.suptitle("Same network, same data, same epochs: only the optimizer differs")
    fig.tight_layout()
    figure = ctx.save(fig, "optimizers_loss_curves")

    lines = [f"{'optimizer':26s} {'steps':>6s} {'train loss':>10s} {'val acc':>8s} {'time':>6s}"]
    lines += [f"{name:26s} {steps:6d} {loss:10.4f} {acc:8.1%} {sec:5.1f}s"
              for name, steps, loss, acc, sec in rows]
    lines.append(f"GD takes one exact step per epoch; SGD takes {rows[1][1] // epochs} noisy ones "
                 "for the same cost")
    if ctx.data_note():
        lines.append(f"MLP {train.num_features}-64-{train.num_classes}, {epochs} epochs on {ctx.data_note()}")
    lines.append(f"loss curves: {figure}")
    return ChapterResult(
        lines=lines,
        metrics={"epochs": epochs,
                 "optimizers": {name: {"steps": steps, "train_loss": loss, "val_accuracy": acc,
                                       "seconds": round(sec, 3)} for name, steps, loss, acc, sec in rows}},
        figures=[figure])
