"""Chapter: distill a large MLP teacher into a 16-unit student (Hinton's soft targets)."""

from __future__ import annotations

import math
import time

import numpy as np

import minidl
from minidl import nn, optim
from minidl.compress.distill import Distiller, predict_logits
from minidl.course import new_figure
from minidl.data import DataLoader, stratified_split
from minidl.tour.core import ChapterResult, TourContext, chapter, layer_sizes
from minidl.train import evaluate, fit

TEMPERATURES = (1.0, 4.0, 20.0)


def _student(ctx: TourContext, seed_offset: int) -> nn.Module:
    minidl.manual_seed(ctx.seed + seed_offset)  # the same initial weights for both students
    train = ctx.splits()[0]
    return nn.MLP([train.num_features, 16, train.num_classes])


def _softmax(z: np.ndarray, T: float) -> np.ndarray:
    e = np.exp(z / T - (z / T).max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _figure(teacher_logits: np.ndarray, labels: np.ndarray, images: np.ndarray,
            accuracies: dict[str, tuple[float, float]]) -> object:
    fig, axes = new_figure(1, 4, figsize=(13, 3.2), gridspec_kw={"width_ratios": [0.6, 1, 1, 1.25]})
    picks = [int(np.flatnonzero(labels == d)[0]) for d in (3, 7)]
    side = math.isqrt(images[0].size)  # square grey images: 8 × 8 digits, 28 × 28 MNIST
    gap = np.full((max(1, side // 4), side), np.nan)  # host: a blank strip between the two images
    axes[0].imshow(np.concatenate([images[picks[0]].reshape(side, side), gap,
                                   images[picks[1]].reshape(side, side)]), cmap="gray_r")
    axes[0].set(title="two test images", xticks=[], yticks=[])
    classes = np.arange(teacher_logits.shape[1])  # host: bar positions
    for ax, i in zip(axes[1:3], picks):
        for k, T in enumerate(TEMPERATURES):
            ax.bar(classes + (k - 1) * 0.27, _softmax(teacher_logits[i:i + 1], T)[0], width=0.27,
                   label=f"T = {T:g}")
        ax.set(yscale="log", ylim=(1e-6, 1.5), xticks=classes, xlabel="class",
               title=f"teacher on a {labels[i]}: softmax(z/T)")
        ax.grid(alpha=0.3, axis="y")
    axes[1].set_ylabel("probability (log scale)")
    axes[1].legend(fontsize=8)
    names = list(accuracies)
    x = np.arange(len(names))  # host: bar positions
    axes[3].bar(x - 0.2, [accuracies[n][0] * 100 for n in names], width=0.4, label="hard labels only")
    axes[3].bar(x + 0.2, [accuracies[n][1] * 100 for n in names], width=0.4, label="distilled (T=8, α=0.1)")
    lowest = min(min(pair) for pair in accuracies.values()) * 100
    axes[3].set(xticks=x, xticklabels=names, ylabel="test accuracy (%)", ylim=(min(70, lowest - 5), 100),
                title="16-unit student, one seed")
    axes[3].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


@chapter("distill", "Knowledge distillation: a 16-unit student learns from a 256→256 teacher")
def run(ctx: TourContext) -> ChapterResult:
    start = time.perf_counter()
    train, _, test = ctx.splits()
    test_loader = DataLoader(test, batch_size=512)
    minidl.manual_seed(ctx.seed)
    teacher = nn.MLP([train.num_features, 256, 256, train.num_classes])
    fit(teacher, nn.functional.cross_entropy, optim.Adam(teacher.parameters(), lr=3e-3),
        DataLoader(train, 32, shuffle=True, seed=ctx.seed), epochs=ctx.epochs(8 if ctx.fast else 20),
        progress=False, compile=True)
    teacher_acc = evaluate(teacher, test_loader)["accuracy"]

    # Full labels, and a few labels per class: the same student, scratch vs distilled.
    labelled = stratified_split(minidl.backend.to_numpy(train.labels), {"kept": 0.05, "rest": 0.95},
                                seed=ctx.seed)["kept"]
    settings = {"all_labels": (train, ctx.epochs(6 if ctx.fast else 30)),
                "few_labels": (train.subset(labelled), ctx.epochs(150 if ctx.fast else 400))}
    shown = {"all_labels": f"all {len(train):,} labels", "few_labels": f"{len(labelled):,} labels"}
    accuracies: dict[str, tuple[float, float]] = {}
    for name, (data, epochs) in settings.items():
        scratch = _student(ctx, 1)
        fit(scratch, nn.functional.cross_entropy, optim.Adam(scratch.parameters(), lr=3e-3),
            DataLoader(data, 32, shuffle=True, seed=ctx.seed), epochs=epochs, progress=False, compile=True)
        student = _student(ctx, 1)
        Distiller(teacher, student, optim.Adam(student.parameters(), lr=3e-3), temperature=8.0,
                  alpha=0.1).fit(DataLoader(data, 32, shuffle=True, seed=ctx.seed), epochs=epochs)
        accuracies[name] = (evaluate(scratch, test_loader)["accuracy"],
                            evaluate(student, test_loader)["accuracy"])

    logits = predict_logits(teacher, test.features)
    images, labels = (minidl.backend.to_numpy(a) for a in (test.features, test.labels))
    figure = ctx.save(_figure(minidl.backend.to_numpy(logits), labels, images,
                              {shown[k]: v for k, v in accuracies.items()}), "distill")
    n_teacher = sum(p.numel() for p in teacher.parameters())
    student_like = _student(ctx, 1)
    n_student = sum(p.numel() for p in student_like.parameters())
    seconds = time.perf_counter() - start
    lines = [f"teacher MLP {layer_sizes(teacher)}, {n_teacher:,} parameters: test accuracy {teacher_acc:.1%}; "
             f"student {layer_sizes(student_like)}, {n_student:,} parameters "
             f"({n_teacher / n_student:.0f}× smaller)"]
    for name, (hard, soft) in accuracies.items():
        lines.append(f"{shown[name]:>15}: student from hard labels {hard:.1%}, distilled {soft:.1%} "
                     f"({(soft - hard) * 100:+.1f} points)")
    lines += ["one seed; lesson 10 averages five on the digits, where with all labels distillation gains",
              "nothing and with a few labels per class the teacher's soft targets add several points"]
    if ctx.data_note():
        lines.append(f"trained on {ctx.data_note()}")
    lines.append(f"dark knowledge and accuracies: {figure}")
    return ChapterResult(
        lines=lines,
        metrics={"teacher_accuracy": teacher_acc, "teacher_parameters": n_teacher,
                 "student_parameters": n_student, "labelled_subset": int(len(labelled)),
                 **{f"{k}_scratch": v[0] for k, v in accuracies.items()},
                 **{f"{k}_distilled": v[1] for k, v in accuracies.items()},
                 "seconds": round(seconds, 3)},
        figures=[figure])
