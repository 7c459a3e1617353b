"""Chapter: a small CNN on the tour's images, and the filters it learns."""

from __future__ import annotations

from minidl import nn
from minidl.data import DataLoader
from minidl.data.images import as_images
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import evaluate
from minidl.viz import plot_filters


@chapter("cnn", "A small CNN learns from the pixels as images (conv → pool → conv → pool)")
def run(ctx: TourContext) -> ChapterResult:
    base = ctx.trained("cnn")  # the CNN chapter 5 runs in integers
    model, history, seconds, epochs = base.model, base.history, base.seconds, base.epochs
    test = as_images(ctx.splits()[2])
    result = evaluate(model, DataLoader(test, batch_size=512), nn.functional.cross_entropy)
    n_params = sum(p.numel() for p in model.parameters())
    k_h, k_w = model[0].weight.shape[-2:]
    filters = plot_filters(model[0].weight, title=f"first-layer filters of the CNN ({k_h}×{k_w})")
    figure = ctx.save(filters, "cnn_filters")
    return ChapterResult(
        lines=[f"test accuracy {result['accuracy']:.1%} on {result['samples']:,} held-out "
               f"{'×'.join(map(str, test.features.shape[-2:]))} images",
               f"{n_params:,} parameters (weights shared across each image), {epochs} epochs in "
               f"{seconds:.1f} s ({history.steps / seconds:,.0f} steps/s)"
               + (f"; trained on {ctx.data_note()}" if ctx.data_note() else ""),
               f"learned filters: {figure}"],
        metrics={"test_accuracy": result["accuracy"], "test_loss": result["loss"], "parameters": n_params,
                 "epochs": epochs, "train_seconds": round(seconds, 3), "val_accuracy": history.val_accuracy},
        figures=[figure])
