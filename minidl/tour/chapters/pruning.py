"""Chapter: prune chapter 1's MLP to 90% sparsity, then make it really smaller and faster."""

from __future__ import annotations

import copy
import time

import minidl
from minidl import nn, optim
from minidl.compress import prune
from minidl.compress.quantize.sharing_vs_uniform import pipeline_line
from minidl.data import DataLoader
from minidl.tour.core import ChapterResult, TourContext, chapter, layer_sizes
from minidl.train import evaluate, fit

SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)


def _accuracy(model, data) -> float:
    return evaluate(model, DataLoader(data, batch_size=512))["accuracy"]


def _one_shot_curve(model, train, test, criterion: str, sparsities) -> list[float]:
    """Accuracy after pruning a copy at each sparsity in one shot (no fine-tuning)."""
    m = copy.deepcopy(model)
    targets = prune.parameters_to_prune(m)
    loss_fn = nn.functional.cross_entropy
    batches = list(DataLoader(train, batch_size=256, shuffle=True, seed=0))[:4]
    scores = None
    if criterion == "taylor":
        _, mean_abs = prune.average_gradients(m, loss_fn, batches, targets)  # E_b|w·g_b| = |w|·E_b|g_b|
        scores = {t: prune.taylor_saliency(prune.current_weight(*t), mean_abs[t]) for t in targets}
    elif criterion == "obd":
        h = prune.hessian_diagonal(m, loss_fn, batches, targets, samples=4)
        scores = {t: prune.obd_saliency(prune.current_weight(*t), h[t]) for t in targets}
    curve = []
    for s in sparsities:  # the scores were measured once, on the dense model
        with prune.masks_restored(targets):
            prune.prune_to_sparsity(targets, s, importance_scores=scores)
            curve.append(_accuracy(m, test))
    return curve


def _plot(curves, gradual_point, dense_acc, sizes):
    from minidl.course import new_figure

    fig, (ax, bx) = new_figure(1, 2, figsize=(10, 3.6))
    for label, values in curves.items():
        ax.plot([100 * s for s in SPARSITIES], [100 * v for v in values], marker="o",
                label=f"one-shot, {label}")
    ax.plot([100 * gradual_point[0]], [100 * gradual_point[1]], marker="*", markersize=14, linestyle="",
            color="black", label="gradual + fine-tuning")
    ax.axhline(100 * dense_acc, color="gray", linestyle="--", label="dense")
    ax.set(xlabel="sparsity of the weights (%)", ylabel="test accuracy (%)", title="Accuracy vs sparsity")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    names, values = zip(*sizes.items())
    bars = bx.barh(names, [v / 1024 for v in values], color=["gray", "tab:red", "tab:blue", "tab:green"])
    bx.bar_label(bars, [f"{v / 1024:.1f} KiB" for v in values], fontsize=8, padding=3)
    bx.set(xlabel="KiB", title="What the model really stores", xlim=(0, 1.25 * max(values) / 1024))
    bx.invert_yaxis()
    fig.tight_layout()
    return fig


@chapter("pruning", "Pruning the MLP to 90% sparsity — and making it really smaller")
def run(ctx: TourContext) -> ChapterResult:
    minidl.manual_seed(ctx.seed)
    train, _, test = ctx.splits()
    loss_fn = nn.functional.cross_entropy
    base = ctx.trained("mlp")  # chapter 1's MLP
    model = base.model
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=ctx.seed)
    loader.set_epoch(base.epochs)  # fine-tuning goes on with the shuffles after chapter 1's training
    dense_acc = _accuracy(model, test)

    # One shot: prune 90% of the weights by magnitude, no retraining.
    curves = {c: _one_shot_curve(model, train, test, c, SPARSITIES) for c in ("magnitude", "taylor", "obd")}

    # Gradual: raise the sparsity along Zhu & Gupta's cubic while training, then fine-tune.
    gradual = copy.deepcopy(model)
    targets = prune.parameters_to_prune(gradual)
    opt = optim.Adam(gradual.parameters(), lr=2e-3)
    prune.enforce_masks(opt, gradual)
    prune_epochs, tune_epochs = (ctx.epochs(e) for e in ((4, 2) if ctx.fast else (16, 10)))
    pruner = prune.GradualPruner(targets, 0.9, begin_step=0, end_step=len(loader) * prune_epochs,
                                 frequency=max(len(loader) // 4, 1))
    start = time.perf_counter()
    fit(gradual, loss_fn, opt, loader, epochs=prune_epochs + tune_epochs, progress=False,
        on_step_end=pruner.step)
    gradual_seconds = time.perf_counter() - start
    gradual_acc = _accuracy(gradual, test)
    report = prune.sparsity_report(gradual)

    # Structured: remove 75% of the hidden neurons (and their biases), fine-tune, compact.
    structured = copy.deepcopy(model)
    prune.ln_structured(structured[0], "weight", amount=0.75, n=2, dim=0, prune_bias=True)
    opt = optim.Adam(structured.parameters(), lr=2e-3)
    prune.enforce_masks(opt, structured)
    fit(structured, loss_fn, opt, loader, epochs=ctx.epochs(2 if ctx.fast else 8), progress=False)
    small, compaction = prune.compact(structured)
    small_acc = _accuracy(small, test)

    sparse = prune.to_sparse(gradual)
    x1, x128 = test[:1][0], test[:128][0]
    repeats, budget = (3, 0.002) if ctx.fast else (5, 0.01)
    latency = {}
    for name, m in (("dense", model), ("masked 90%", gradual), ("CSR 90%", sparse), ("compacted", small)):
        latency[name] = [prune.time_forward(m, minidl.tensor(x), repeats=repeats, target_seconds=budget)
                         for x in (x1, x128)]
    sizes = {"dense": report.dense_bytes, "masked (dense + mask)": report.dense_bytes + report.mask_bytes,
             "CSR (90% unstructured)": report.sparse_bytes,
             "compacted (75% of neurons)": compaction.bytes_after}
    figure = ctx.save(_plot(curves, (pruner.sparsity, gradual_acc), dense_acc, sizes), "pruning")

    drop = 100 * (dense_acc - gradual_acc)
    stored, stored_metrics = pipeline_line(gradual)  # prune → k-means → Huffman vs prune → int8
    lat = "; ".join(f"{k} {1e6 * v[0]:.0f}/{1e6 * v[1]:.0f} µs" for k, v in latency.items())
    return ChapterResult(
        lines=[f"dense MLP {layer_sizes(model)}: accuracy {dense_acc:.1%}; 90% of the weights removed in one shot: "
               f"magnitude {curves['magnitude'][3]:.1%}, Taylor {curves['taylor'][3]:.1%}, "
               f"OBD {curves['obd'][3]:.1%}",
               f"gradual pruning to {pruner.sparsity:.0%} with fine-tuning: {gradual_acc:.1%} "
               f"({abs(drop):.1f} points {'below' if drop >= 0 else 'above'} dense; "
               f"{gradual_seconds:.1f} s of training)",
               f"but the masked model stores more, not less: {sizes['masked (dense + mask)']:,} bytes vs "
               f"{report.dense_bytes:,} dense; in CSR {report.sparse_bytes:,} bytes",
               f"75% of neurons pruned and compacted: {compaction.params_before:,} → "
               f"{compaction.params_after:,} parameters, accuracy {small_acc:.1%}",
               f"latency batch 1/128: {lat}",
               stored,
               f"figure: {figure}"],
        metrics={"dense_accuracy": dense_acc, "gradual_accuracy": gradual_acc, "drop_points": drop,
                 "sparsity": pruner.sparsity, "one_shot": {k: dict(zip(map(str, SPARSITIES), v))
                                                           for k, v in curves.items()},
                 "bytes": sizes, "compacted_parameters": compaction.params_after,
                 "compacted_accuracy": small_acc, **stored_metrics,
                 "latency_seconds": {k: {"batch_1": v[0], "batch_128": v[1]} for k, v in latency.items()}},
        figures=[figure])
