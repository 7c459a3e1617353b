"""The models several tour chapters start from, trained once per tour.

The MLP of chapter 1 is the one that chapters 4 and 5 prune and quantize, and the CNN of
chapter 7 the one chapter 5 runs in integers: a reader comparing their numbers compares the
same model, and the tour trains each once. Each recipe is one place; a chapter asks
``ctx.trained("mlp")`` and gets its own deep copy (pruning one chapter's copy cannot touch
another's).

The training runs under :func:`minidl.random.fork_rng` after seeding with the tour's seed,
so it gives the same model whichever chapter asks first, and a chapter draws the same
random numbers afterwards whether it trained the model or found it trained (``--only``
reproduces the full tour's numbers).

The MLP and CNN fits here (and the chapters' MLP fits) pass ``compile=True``: each step's
zero_grad, forward, loss and backward run as one :func:`minidl.compile`-d function —
the same training (within float32 rounding), less Python per step.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import minidl
from minidl import nn, optim
from minidl.data import DataLoader
from minidl.data.images import as_images
from minidl.random import fork_rng
from minidl.train import fit

if TYPE_CHECKING:
    from minidl.tour.core import TourContext


@dataclass
class Trained:
    """A trained model with its training history, its wall time and its number of epochs."""

    model: nn.Module
    history: Any
    seconds: float
    epochs: int


def _mlp(ctx: TourContext) -> tuple[nn.Module, tuple[Any, Any], int]:
    """features → 128 → classes (64 → 128 → 10 on digits), Adam 3e-3: 30 epochs on digits (8 in fast
    mode), as many steps on a larger dataset (:meth:`TourContext.epochs`)."""
    train, val, _ = ctx.splits()
    return (nn.MLP([train.num_features, 128, train.num_classes]), (train, val),
            ctx.epochs(8 if ctx.fast else 30))


def _cnn(ctx: TourContext) -> tuple[nn.Module, tuple[Any, Any], int]:
    """SmallCNN (conv → pool → conv → pool) on the images, Adam 3e-3: 15 epochs on digits (4 in fast
    mode), as many steps on a larger dataset."""
    train, val, _ = (as_images(d) for d in ctx.splits())
    model = nn.SmallCNN(in_channels=train.features.shape[1], num_classes=train.num_classes,
                        image_size=train.features.shape[-1])
    return model, (train, val), ctx.epochs(4 if ctx.fast else 15)


RECIPES = {"mlp": _mlp, "cnn": _cnn}


def trained(ctx: TourContext, kind: str) -> Trained:
    """A copy of the tour's trained ``kind`` ("mlp" or "cnn"), training it on the first call."""
    if kind not in RECIPES:
        raise ValueError(f"kind must be one of {sorted(RECIPES)} (got {kind!r})")
    key = f"trained:{kind}"
    if key not in ctx._cache:
        with fork_rng():
            minidl.manual_seed(ctx.seed)
            model, (train, val), epochs = RECIPES[kind](ctx)
            start = time.perf_counter()
            history = fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
                          DataLoader(train, batch_size=32, shuffle=True, seed=ctx.seed), epochs=epochs,
                          val_loader=DataLoader(val, batch_size=512), progress=False, compile=True)
            ctx._cache[key] = Trained(model, history, time.perf_counter() - start, epochs)
    return copy.deepcopy(ctx._cache[key])
