"""Chapter: a small CNN on the digits images, and the filters it learns."""

from __future__ import annotations

import time

import minidl
from minidl import nn, optim
from minidl.data import DataLoader
from minidl.data.images import as_images
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import evaluate, fit
from minidl.viz import plot_filters


@chapter("cnn", "A small CNN learns the digits as images (conv → pool → conv → pool)", order=60)
def run(ctx: TourContext) -> ChapterResult:
    minidl.manual_seed(ctx.seed)
    train, val, test = (as_images(d) for d in ctx.splits())
    side = train.features.shape[-1]
    model = nn.SmallCNN(in_channels=train.features.shape[1], num_classes=train.num_classes, image_size=side)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    epochs = 4 if ctx.fast else 15
    start = time.perf_counter()
    history = fit(model, nn.functional.cross_entropy, optimizer,
                  DataLoader(train, batch_size=32, shuffle=True, seed=ctx.seed), epochs=epochs,
                  val_loader=DataLoader(val, batch_size=512), progress=False)
    seconds = time.perf_counter() - start
    result = evaluate(model, DataLoader(test, batch_size=512), nn.functional.cross_entropy)
    n_params = sum(p.numel() for p in model.parameters())
    filters = plot_filters(model[0].weight, title="first-layer filters of the CNN (3×3)")
    figure = ctx.save(filters, "cnn_filters")
    return ChapterResult(
        lines=[f"test accuracy {result['accuracy']:.1%} on {result['samples']} held-out images",
               f"{n_params:,} parameters (weights shared across each image), {epochs} epochs in "
               f"{seconds:.1f} s ({history.steps / seconds:,.0f} steps/s)",
               f"learned filters: {figure}"],
        metrics={"test_accuracy": result["accuracy"], "test_loss": result["loss"], "parameters": n_params,
                 "epochs": epochs, "train_seconds": round(seconds, 3), "val_accuracy": history.val_accuracy},
        figures=[figure])
