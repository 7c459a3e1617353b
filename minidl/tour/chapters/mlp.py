"""Chapter: train an MLP on the bundled digits and show its learning curves."""

from __future__ import annotations

from minidl import nn
from minidl.data import DataLoader
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import evaluate
from minidl.viz import plot_history


@chapter("mlp", "An MLP learns handwritten digits (64 → 128 → 10, Adam)")
def run(ctx: TourContext) -> ChapterResult:
    base = ctx.trained("mlp")  # the MLP chapters 4 and 5 prune and quantize
    model, history, seconds, epochs = base.model, base.history, base.seconds, base.epochs
    test = ctx.splits()[2]
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
