"""Chapter: train an MLP on the bundled digits and show its learning curves."""

from __future__ import annotations

import time

import minidl
from minidl import nn, optim
from minidl.data import DataLoader
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import evaluate, fit
from minidl.viz import plot_history


@chapter("mlp", "An MLP learns handwritten digits (64 → 128 → 10, Adam)", order=10)
def run(ctx: TourContext) -> ChapterResult:
    minidl.manual_seed(ctx.seed)
    train, val, test = ctx.splits()
    model = nn.MLP([train.num_features, 128, train.num_classes])
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    epochs = 8 if ctx.fast else 30
    start = time.perf_counter()
    history = fit(model, nn.functional.cross_entropy, optimizer,
                  DataLoader(train, batch_size=32, shuffle=True, seed=ctx.seed), epochs=epochs,
                  val_loader=DataLoader(val, batch_size=512), progress=False)
    seconds = time.perf_counter() - start
    result = evaluate(model, DataLoader(test, batch_size=512), nn.functional.cross_entropy)
    n_params = sum(p.numel() for p in model.parameters())
    figure = ctx.save(plot_history(history, title="MLP on digits"), "mlp_curves")
    return ChapterResult(
        lines=[f"test accuracy {result['accuracy']:.1%} on {result['samples']} held-out digits",
               f"{n_params:,} parameters, {epochs} epochs in {seconds:.1f} s "
               f"({history.steps / seconds:,.0f} steps/s)",
               f"learning curves: {figure}"],
        metrics={"test_accuracy": result["accuracy"], "test_loss": result["loss"],
                 "parameters": n_params, "epochs": epochs, "train_seconds": round(seconds, 3),
                 "val_accuracy": history.val_accuracy},
        figures=[figure])
