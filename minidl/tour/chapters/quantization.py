"""Chapter: quantize chapter 1's MLP — int8 per-tensor vs per-channel, 4-bit PTQ vs QAT, half precision —
and chapter 7's small CNN in integers only."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import minidl
from minidl import nn, optim
from minidl.compress import quantize as Q
from minidl.compress.quantize.sharing_vs_uniform import sharing_line
from minidl.course import new_figure
from minidl.data import DataLoader
from minidl.data.images import as_images
from minidl.tour.core import ChapterResult, TourContext, chapter, layer_sizes
from minidl.train import evaluate, fit


def _latency(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds per call over a few blocks (a rough number: the benchmark measures properly)."""
    fn()
    blocks = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        blocks.append((time.perf_counter() - start) / repeats)
    return statistics.median(blocks)


@chapter("quantization", "Quantization: int8 and 4-bit integers, QAT, half precision")
def run(ctx: TourContext) -> ChapterResult:
    minidl.manual_seed(ctx.seed)
    train, _, test = ctx.splits()
    loss = nn.functional.cross_entropy
    train_loader = DataLoader(train, batch_size=32, shuffle=True, seed=ctx.seed)
    test_loader = DataLoader(test, batch_size=512)
    calibration = DataLoader(train, batch_size=256)
    model = ctx.trained("mlp").model  # chapter 1's MLP

    def accuracy(m: nn.Module) -> float:
        return evaluate(m, test_loader)["accuracy"]

    def ptq(bits: int, per_channel: bool) -> nn.Module:
        prepared = Q.prepare(model, Q.get_default_qconfig(bits=bits, per_channel=per_channel))
        return Q.convert(Q.calibrate(prepared, calibration, num_batches=4))

    def qat(bits: int) -> nn.Module:
        prepared = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=bits))
        fit(prepared, loss, optim.Adam(prepared.parameters(), lr=1e-3), train_loader,
            epochs=ctx.epochs(2 if ctx.fast else 5), progress=False, compile=True)
        return Q.convert(prepared)

    int8_channel = ptq(8, True)
    models = {
        "float32": model,
        "float16": Q.to_half(model, "float16"),
        "bfloat16": Q.to_half(model, "bfloat16"),
        "int8 PTQ per-tensor": ptq(8, False),
        "int8 PTQ per-channel": int8_channel,
        "int4 PTQ per-tensor": ptq(4, False),
        "int4 PTQ per-channel": ptq(4, True),
        "int4 QAT per-channel": qat(4),
        "int3 PTQ per-channel": ptq(3, True),
        "int3 QAT per-channel": qat(3),
    }
    results = {name: {"accuracy": accuracy(m), "bytes": Q.model_nbytes(m, packed=True)} for name, m in models.items()}

    x1 = minidl.Tensor(test.features[:1])
    repeats = 20 if ctx.fast else 200
    with minidl.no_grad():
        latency = {name: _latency(lambda m=m: m(x1), repeats) for name, m in
                   (("float32", model), ("int8 PTQ per-channel", int8_channel))}

    cnn_line, cnn_metrics = _int8_cnn(ctx)

    fig, (ax_acc, ax_size) = new_figure(1, 2, figsize=(11, 3.8))
    names = list(results)
    bars = ax_acc.barh(names, [100 * results[n]["accuracy"] for n in names], color="tab:blue")
    ax_acc.bar_label(bars, fmt="%.1f", padding=2, fontsize=8)
    ax_acc.set_xlim(min(80, min(100 * results[n]["accuracy"] for n in names) - 2), 101)
    ax_acc.invert_yaxis()
    ax_acc.set_xlabel("test accuracy (%)")
    ax_acc.set_title(f"{ctx.dataset} MLP {layer_sizes(model, '-')}")
    ax_size.barh(names, [results[n]["bytes"] / 1024 for n in names], color="tab:orange")
    ax_size.invert_yaxis()
    ax_size.set_yticklabels([])
    ax_size.set_xlabel("model size (KiB; 3- and 4-bit weights bit-packed)")
    figure = ctx.save(fig, "quantization")

    base = results["float32"]
    lines = [f"{'representation':<22}{'accuracy':>9}{'size':>10}"]
    lines += [f"{n:<22}{r['accuracy']:>9.1%}{r['bytes'] / 1024:>8.1f} KiB" for n, r in results.items()]
    def gain(a: str, b: str) -> str:
        return f"{100 * (results[a]['accuracy'] - results[b]['accuracy']):+.1f} points"

    lines += [f"int8 per-channel vs float: {gain('int8 PTQ per-channel', 'float32')} at "
              f"{base['bytes'] / results['int8 PTQ per-channel']['bytes']:.1f}× smaller; QAT vs PTQ (per-channel): "
              f"{gain('int4 QAT per-channel', 'int4 PTQ per-channel')} at 4 bits, "
              f"{gain('int3 QAT per-channel', 'int3 PTQ per-channel')} at 3 bits",
              f"batch-1 latency: float32 {latency['float32'] * 1e6:.0f} µs, integer-only int8 "
              f"{latency['int8 PTQ per-channel'] * 1e6:.0f} µs for the {layer_sizes(model, '-')} MLP, one "
              "image at a time (a rough number: `make bench` times a 784-256-128-10 MLP at batches 1 and 128)",
              f"figure: {figure}"]
    if cnn_line:
        lines.insert(-1, cnn_line)
    sharing, sharing_metrics = sharing_line(model, accuracy)  # k-means weight sharing beside the even grid
    lines.insert(-1, sharing)
    metrics = {f"{name.replace(' ', '_').replace('-', '_')}_accuracy": r["accuracy"] for name, r in results.items()}
    metrics.update({f"{name.replace(' ', '_').replace('-', '_')}_bytes": r["bytes"] for name, r in results.items()})
    metrics.update({"latency_batch1_float32_us": round(latency["float32"] * 1e6, 1),
                    "latency_batch1_int8_us": round(latency["int8 PTQ per-channel"] * 1e6, 1)})
    metrics.update(cnn_metrics)
    metrics.update(sharing_metrics)
    return ChapterResult(lines=lines, metrics=metrics, figures=[figure])


def _int8_cnn(ctx: TourContext) -> tuple[str, dict[str, Any]]:
    """Chapter 7's SmallCNN, PTQ int8: convolutions and pooling in integers."""
    train, _, test = (as_images(d) for d in ctx.splits())
    model = ctx.trained("cnn").model
    int8 = Q.convert(Q.calibrate(Q.prepare(model.eval()), DataLoader(train, batch_size=256), num_batches=4))
    test_loader = DataLoader(test, batch_size=512)
    accuracy = {"float32": evaluate(model, test_loader)["accuracy"], "int8": evaluate(int8, test_loader)["accuracy"]}
    size = {"float32": Q.model_nbytes(model), "int8": Q.model_nbytes(int8)}
    line = (f"{ctx.dataset} SmallCNN, integer-only int8 (conv via im2col padded with the zero point, max-pool on "
            f"integers): {accuracy['int8']:.1%} vs float32 {accuracy['float32']:.1%}, "
            f"{size['float32'] / 1024:.1f} → {size['int8'] / 1024:.1f} KiB")
    return line, {"cnn_float32_accuracy": accuracy["float32"], "cnn_int8_accuracy": accuracy["int8"],
                  "cnn_float32_bytes": size["float32"], "cnn_int8_bytes": size["int8"]}
