"""Chapter: data optimization. Standardizing (with training statistics) conditions the problem and
changes which learning rate works; more training data buys accuracy, subsampling
("sparsification") gives it away."""

from __future__ import annotations

import time

import numpy as np

import minidl
from minidl import backend, nn, optim
from minidl.course import claim, new_figure
from minidl.data import DataLoader, condition_number, subsample
from minidl.data.transforms import Standardize
from minidl.tour.core import ChapterResult, TourContext, chapter
from minidl.train import evaluate, fit

MAX_TRAIN = 5000  # MNIST's 50,000 training images are subsampled to keep the tour quick
MAX_TRAIN_FAST = 2000


def _often_used(features, share: float = 0.01) -> np.ndarray:
    """Indices of the inputs that are nonzero in at least ``share`` of the training samples.

    Pixels that are (almost) always blank give the least-squares Hessian (near-)zero
    eigenvalues, so κ would be ∞ or meaningless with or without standardization.
    """
    return np.flatnonzero((backend.to_numpy(features) != 0).mean(axis=0) >= share)


def _softmax_regression(train, val, lr: float, epochs: int, seed: int) -> float:
    """Validation loss of softmax regression after ``epochs`` of plain SGD at ``lr``."""
    minidl.manual_seed(seed)
    model = nn.Linear(train.num_features, train.num_classes)
    try:
        fit(model, nn.functional.cross_entropy, optim.SGD(model.parameters(), lr=lr),
            DataLoader(train, 32, shuffle=True, seed=seed), epochs=epochs, progress=False)
    except FloatingPointError:  # the step was too large for this curvature: it diverged
        return float("inf")
    return evaluate(model, DataLoader(val, 1000), nn.functional.cross_entropy)["loss"]


def _mlp_accuracy(train, test, steps: int, seed: int) -> tuple[float, float]:
    """(train, test) accuracy of an MLP after about ``steps`` Adam steps on ``train``."""
    minidl.manual_seed(seed)
    model = nn.MLP([train.num_features, 128, train.num_classes])
    loader = DataLoader(train, 32, shuffle=True, seed=seed)
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3), loader,
        epochs=max(1, round(steps / len(loader))), progress=False, compile=True)
    return (evaluate(model, DataLoader(train, 1000))["accuracy"],
            evaluate(model, DataLoader(test, 1000))["accuracy"])


@chapter("data", "Data: standardize with training statistics; how accuracy grows with data")
def run(ctx: TourContext) -> ChapterResult:
    train, val, test = ctx.splits()
    full_size, cap = ctx.full_sizes()[0], MAX_TRAIN_FAST if ctx.fast else MAX_TRAIN
    if len(train) > cap:
        train = subsample(train, size=cap, strategy="stratified", seed=ctx.seed)
    epochs, steps = (3, 120) if ctx.fast else (8, 400)
    rates = (0.1, 1.0) if ctx.fast else (0.03, 0.1, 0.3, 1.0)
    fractions = (0.1, 1.0) if ctx.fast else (0.05, 0.15, 0.4, 1.0)

    # 1. conditioning: the curvature of a least-squares fit on these inputs, before and after
    scaler = Standardize().fit(train.features)  # statistics from the training split only
    used = backend.xp.asarray(_often_used(train.features))
    kappa_raw = condition_number(train.features[:, used])
    standardized = scaler(train.features)[:, used]
    kappa_std = condition_number(standardized)
    # Training statistics make the training features exactly mean 0, std 1: anything else means
    # the scaler was fitted on other data (e.g. the test split), which this chapter must not do.
    mean_error = float(abs(standardized.astype("float64").mean(axis=0)).max())
    std_error = float(abs(standardized.astype("float64").std(axis=0) - 1).max())
    claim(mean_error < 1e-4 and std_error < 1e-3,
          "standardizing with the training statistics gives the training features mean 0 and std 1",
          largest_mean=mean_error, largest_std_error=std_error)

    # 2. the same model and optimizer on raw and on standardized inputs, over a few learning rates
    start = time.perf_counter()
    inputs = {"raw": (train, val), "standardized": (train.map(scaler), val.map(scaler))}
    sweep = {name: {lr: _softmax_regression(tr, va, lr, epochs, ctx.seed) for lr in rates}
             for name, (tr, va) in inputs.items()}
    best = {name: min(losses, key=losses.get) for name, losses in sweep.items()}

    # 3. a learning curve: the same training budget on growing stratified subsets
    curve = {}
    for fraction in fractions:
        part = subsample(train, fraction, strategy="stratified", seed=ctx.seed)
        curve[len(part)] = _mlp_accuracy(part, test, steps, ctx.seed)
    seconds = time.perf_counter() - start

    fig, (ax_loss, ax_curve) = new_figure(1, 2, figsize=(9.5, 3.6))
    for (name, losses), kappa in zip(sweep.items(), (kappa_raw, kappa_std)):
        shown = {lr: min(loss, 5.0) for lr, loss in losses.items()}  # a diverged run is drawn at 5
        ax_loss.plot(list(shown), list(shown.values()), "o-", label=f"{name} (κ = {kappa:.2g})")
    ax_loss.set(xscale="log", xlabel="learning rate", ylabel=f"validation loss after {epochs} epochs",
                title="softmax regression, plain SGD")
    sizes = sorted(curve)
    ax_curve.plot(sizes, [100 * curve[n][0] for n in sizes], "o--", label="train")
    ax_curve.plot(sizes, [100 * curve[n][1] for n in sizes], "o-", label="test")
    ax_curve.set(xscale="log", xlabel="training samples (stratified subsample)", ylabel="accuracy (%)",
                 title=f"MLP, same budget of {steps} steps")
    for ax in (ax_loss, ax_curve):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    figure = ctx.save(fig, "data_standardization_and_size")

    smallest, largest = sizes[0], sizes[-1]
    note = f", a stratified {len(train):,} of {full_size:,}" if full_size > len(train) else ""
    raw_lr, std_lr = best["raw"], best["standardized"]
    same = 0.1 if 0.1 in rates else rates[0]
    return ChapterResult(
        lines=[f"Hessian condition number over the {len(used)} inputs used by ≥1% of samples: "
               f"{kappa_raw:.2g} raw → {kappa_std:.2g} standardized (training statistics{note})",
               f"softmax regression, SGD, {epochs} epochs, validation loss: at lr {same:g} "
               f"{sweep['raw'][same]:.3f} raw vs {sweep['standardized'][same]:.3f} standardized; "
               f"best {sweep['raw'][raw_lr]:.3f} raw (lr {raw_lr:g}) vs "
               f"{sweep['standardized'][std_lr]:.3f} standardized (lr {std_lr:g})",
               f"less data, same {steps} steps: test accuracy {curve[smallest][1]:.1%} with {smallest} samples, "
               f"{curve[largest][1]:.1%} with {largest:,} (train accuracy {curve[smallest][0]:.0%} → "
               f"{curve[largest][0]:.0%}); training took {seconds:.1f} s",
               f"figure: {figure}"],
        metrics={"kappa_raw": kappa_raw, "kappa_standardized": kappa_std,
                 "val_loss_by_lr": {name: {str(lr): loss for lr, loss in losses.items()}
                                    for name, losses in sweep.items()},
                 "best_lr": best,
                 "learning_curve": {str(n): {"train_accuracy": tr, "test_accuracy": te}
                                    for n, (tr, te) in curve.items()},
                 "train_samples": len(train), "epochs": epochs, "steps": steps,
                 "standardized_train_mean_error": mean_error, "standardized_train_std_error": std_error},
        figures=[figure])
