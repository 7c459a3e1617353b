"""Knowledge distillation (float32): what the fused soft-target op buys over the same loss
composed of ops, and what a distillation step costs over a plain training step."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread

LOSS_CASES = [(32, 10), (128, 10), (128, 1000)]
STEP_CASE = ([64, 256, 256, 10], [64, 16, 10], 32)  # teacher, student, batch (the lesson's digits setup)
T = 4.0


def _logits(batch: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.normal(0, 3, (batch, classes)).astype(np.float32),
            rng.normal(0, 3, (batch, classes)).astype(np.float32))


def minidl_losses(batch: int, classes: int):
    import minidl as md
    import minidl.nn.functional as F
    from minidl.compress.distill import soft_target_loss

    zs, zt = _logits(batch, classes)
    s = md.tensor(zs, requires_grad=True)
    teacher = md.tensor(zt)

    def fused() -> None:
        s.grad = None
        soft_target_loss(s, teacher, T).backward()

    def composed() -> None:
        s.grad = None
        p_t = md.softmax(teacher * (1 / T), dim=1)
        (F.kl_div(md.log_softmax(s * (1 / T), dim=1), p_t, reduction="batchmean") * (T * T)).backward()

    return fused, composed


def torch_loss(batch: int, classes: int):
    try:
        import torch
    except ImportError:
        return None
    zs, zt = _logits(batch, classes)
    s = torch.tensor(zs, requires_grad=True)
    teacher = torch.tensor(zt)

    def step() -> None:
        s.grad = None
        p_t = torch.softmax(teacher / T, dim=1)
        loss = torch.nn.functional.kl_div(torch.log_softmax(s / T, dim=1), p_t, reduction="batchmean")
        (loss * T * T).backward()

    return step


def training_steps():
    import minidl as md
    from minidl import nn, optim
    from minidl.compress.distill import Distiller

    teacher_sizes, student_sizes, batch = STEP_CASE
    md.manual_seed(0)
    teacher, student = nn.MLP(teacher_sizes), nn.MLP(student_sizes)
    opt = optim.Adam(student.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = md.tensor(rng.random((batch, teacher_sizes[0])).astype(np.float32))
    y = md.tensor(rng.integers(0, 10, batch))
    distiller = Distiller(teacher, student, opt, temperature=T, alpha=0.1)

    def plain() -> None:
        opt.zero_grad()
        nn.functional.cross_entropy(student(x), y).backward()
        opt.step()

    def distill() -> None:
        distiller.step(x, y)

    teacher.eval()

    def teacher_forward() -> None:
        with md.no_grad():
            teacher(x)

    return {"student, cross-entropy only": plain, "teacher forward alone (no_grad)": teacher_forward,
            "student, Distiller.step": distill}


def run(quick: bool = False) -> Section:
    rows = []
    notes = []
    rounds = 5 if quick else 11
    for batch, classes in LOSS_CASES:
        fused, composed = minidl_losses(batch, classes)
        candidates = {"minidl composed ops": composed, "minidl fused SoftTargetKLDiv": fused}
        t = torch_loss(batch, classes)
        if t is not None:
            candidates["PyTorch CPU (composed)"] = t
        timings = measure(candidates, number=20 if quick else 100, rounds=rounds)
        ref = timings["minidl composed ops"].median_s
        for impl, timing in timings.items():
            rows.append([f"soft-target loss fwd+bwd, {batch}×{classes}", impl, fmt_time(timing.median_s),
                         spread(timing), f"{timing.median_s / ref:.2f}×"])
        notes.append(f"{batch}×{classes}: fused = {timings['minidl fused SoftTargetKLDiv'].median_s / ref:.2f}× "
                     "the composed loss")
    steps = training_steps()
    timings = measure(steps, number=20 if quick else 100, rounds=rounds)
    ref = timings["student, cross-entropy only"].median_s
    t_sizes, s_sizes, batch = STEP_CASE
    name = f"step: teacher {'-'.join(map(str, t_sizes))}, student {'-'.join(map(str, s_sizes))}, batch {batch}"
    for impl, timing in timings.items():
        rows.append([name, impl, fmt_time(timing.median_s), spread(timing), f"{timing.median_s / ref:.2f}×"])
    notes.append("ratios are against the first row of each group (composed loss; plain student step)")
    return Section(
        title="Knowledge distillation (soft-target loss and a distillation step, float32)",
        header=["case", "implementation", "median", "spread", "ratio"], rows=rows, notes=notes)
