"""Chapter: train an MLP on the tour's images (the bundled digits by default) and show its learning curves."""

from __future__ import annotations

from minidl import nn
from minidl.data import DataLoader
from minidl.tour.core import ChapterResult, TourContext, chapter, layer_sizes
from minidl.train import evaluate
from minidl.viz import plot_history


@chapter("mlp", "An MLP learns to recognize the images (one hidden layer of 128, Adam)")
def run(ctx: TourContext) -> ChapterResult:
    base = ctx.trained("mlp")  # the MLP chapters 4 and 5 prune and quantize
    model, history, seconds, epochs = base.model, base.history, base.seconds, base.epochs
    test = ctx.splits()[2]
    result = evaluate(model, DataLoader(test, batch_size=512), nn.functional.cross_entropy)
    n_params = sum(p.numel() for p in model.parameters())
    shape = layer_sizes(model)
    figure = ctx.save(plot_history(history, title=f"MLP {shape} on {ctx.dataset}"), "mlp_curves")
    note = ctx.data_note()
    return ChapterResult(
        lines=[f"MLP {shape} on {ctx.dataset}: test accuracy {result['accuracy']:.1%} on "
               f"{result['samples']:,} held-out images",
               f"{n_params:,} parameters, {epochs} epochs in {seconds:.1f} s "
               f"({history.steps / seconds:,.0f} steps/s)" + (f"; trained on {note}" if note else ""),
               f"learning curves: {figure}"],
        metrics={"test_accuracy": result["accuracy"], "test_loss": result["loss"],
                 "parameters": n_params, "epochs": epochs, "train_seconds": round(seconds, 3),
                 "val_accuracy": history.val_accuracy},
        figures=[figure])
