# %% [markdown]
# # Lesson 05 — Regularization: L2, L1, weight decay, AdamW and exact zeros
#
# ## What you will learn
#
# - What overfitting looks like: a network that learns 100 training digits perfectly while
#   its validation loss climbs.
# - The L2 penalty and weight decay, and the **factor of 2** between them: the penalty
#   $(\lambda/2)\lVert\theta\rVert^2$ has gradient $\lambda\theta$, which is exactly PyTorch's `weight_decay=λ`.
# - Why an L2 penalty inside Adam is *not* weight decay, and what AdamW does instead.
# - The L1 penalty, why gradient steps on it never produce a weight that is exactly zero,
#   and how the proximal (soft-threshold) step does.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 8 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# For a loss $J(\theta)$ and a strength $\lambda \ge 0$ (`minidl.optim.regularization`'s docstrings):
#
# **L2 penalty**: minimize $J(\theta) + (\lambda/2)\lVert\theta\rVert^2$, with
# $\lVert\theta\rVert^2 = \sum_i \theta_i^2$ (`l2_penalty`). Its gradient
# is $\nabla J + \lambda\theta$, so a gradient step is
#
# $$\theta \leftarrow \theta - \mathrm{lr}\,(\nabla J + \lambda\theta)
#   = (1 - \mathrm{lr}\,\lambda)\,\theta - \mathrm{lr}\,\nabla J$$
#
# the weights *decay* by the factor $(1 - \mathrm{lr}\cdot\lambda)$ every step — hence "weight decay", and
# `SGD(weight_decay=λ)` is exactly this. The factor 2: a penalty written $\lambda\lVert\theta\rVert^2$ (Keras'
# `L2(λ)`) has gradient $2\lambda\theta$, i.e. PyTorch `weight_decay = 2λ`.
#
# **Decoupled weight decay (AdamW)**:
# $\theta \leftarrow \theta - \mathrm{lr}\cdot(\text{adam\_direction} + \lambda\theta)$. The decay is added
# *after* Adam's per-coordinate scaling. With an L2 penalty instead (Adam's
# `weight_decay`), $\lambda\theta$ enters $m$ and $v$ and is then divided by $\sqrt{\hat v}$ like the loss gradient.
#
# **L1 penalty**: $J(\theta) + \lambda\lVert\theta\rVert_1$, with $\lVert\theta\rVert_1 = \sum_i |\theta_i|$
# (`l1_penalty`). Its (sub)gradient is $\lambda\,\mathrm{sign}(\theta)$ with $\mathrm{sign}(0) = 0$: a pull of
# constant size towards 0.
#
# **Proximal step for L1**: take the gradient step on $J$ alone, then solve
# $\mathrm{argmin}_u\ \tfrac12\lVert u - \theta\rVert^2 + \mathrm{lr}\cdot\lambda\lVert u\rVert_1$ exactly. The
# solution is the soft threshold
#
# $$\mathrm{soft}(\theta, \tau) = \mathrm{sign}(\theta)\,\max(|\theta| - \tau, 0),\qquad \tau =
# \mathrm{lr}\cdot\lambda$$
#
# (`soft_threshold`): weights within $\tau$ of zero become *exactly* zero, the others move
# towards zero by $\tau$.

# %%
import numpy as np

import minidl
from minidl import nn, optim
from minidl.course import claim, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import DataLoader, load_digits
from minidl.optim import add_proximal_l1, l1_penalty, l2_penalty, soft_threshold
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

print(soft_threshold.__doc__)

# %% [markdown]
# ## 1. Overfitting on 100 digits
#
# Ten training digits per class, the full validation split (360 digits), an MLP with
# 64 → 128 → 10 units (9 610 parameters for 100 samples), plain SGD.

# %%
train_all, val = load_digits("train", seed=0), load_digits("val", seed=0)
labels = minidl.backend.to_numpy(train_all.labels)
small = train_all.subset(np.concatenate([np.flatnonzero(labels == c)[:10] for c in range(10)]))
val_loader = DataLoader(val, batch_size=512)
EPOCHS = 300  # fast mode too: fewer epochs do not reach the overfitting this section is about (~2 s)
LR = 0.1


def train_small(make_optimizer, penalty=None, proximal_l1=0.0, epochs: int = EPOCHS):
    """Train the small MLP; returns (model, optimizer, record of train loss / val CE / val acc)."""
    minidl.manual_seed(0)
    model = nn.MLP([64, 128, 10])
    opt = make_optimizer(model.parameters())
    weights = [model[0].weight, model[2].weight]  # regularize weights, not biases
    if proximal_l1:
        add_proximal_l1(opt, proximal_l1, params=weights)
    record = {"val_ce": [], "val_acc": []}

    def loss_fn(out, y):
        loss = nn.functional.cross_entropy(out, y)
        return loss if penalty is None else loss + penalty(weights)

    def after_epoch(epoch, history):  # the validation loss without the penalty term
        result = evaluate(model, val_loader, nn.functional.cross_entropy)
        record["val_ce"].append(result["loss"])
        record["val_acc"].append(result["accuracy"])

    history = fit(model, loss_fn, opt, DataLoader(small, batch_size=20, shuffle=True, seed=0),
                  epochs=epochs, progress=False, on_epoch_end=after_epoch)
    record["train_loss"] = history.train_loss
    record["train_acc"] = history.train_accuracy
    return model, opt, record


LAMBDA_L2, LAMBDA_L1 = 3e-3, 1e-3
runs = {
    "no regularization": train_small(lambda p: optim.SGD(p, lr=LR)),
    f"L2 penalty (λ/2)‖θ‖², λ={LAMBDA_L2:g}": train_small(
        lambda p: optim.SGD(p, lr=LR), penalty=lambda ws: LAMBDA_L2 / 2 * l2_penalty(ws)),
    f"L1 penalty λ‖θ‖₁ (subgradient), λ={LAMBDA_L1:g}": train_small(
        lambda p: optim.SGD(p, lr=LR), penalty=lambda ws: LAMBDA_L1 * l1_penalty(ws)),
    f"L1 by proximal steps, λ={LAMBDA_L1:g}": train_small(
        lambda p: optim.SGD(p, lr=LR), proximal_l1=LAMBDA_L1),
}

# four runs on one axis: a line style each, so that curves which coincide stay visible
LINE_STYLES = [dict(ls="-", lw=2.8), dict(ls="--", lw=2.2), dict(ls=":", lw=3.0), dict(ls="-.", lw=1.8)]
fig, (ax_train, ax_val) = new_figure(1, 2, figsize=(14, 5))
for (name, (_, _, rec)), style in zip(runs.items(), LINE_STYLES):
    ax_train.semilogy(rec["train_loss"], label=name, **style)
    ax_val.plot(rec["val_ce"], label=name, **style)
ax_train.set(xlabel="epoch", ylabel="training loss (cross-entropy + penalty, nats, log)", title="100 training digits")
lowest = min(min(rec["val_ce"]) for _, _, rec in runs.values())
ax_val.set(xlabel="epoch", ylabel="validation cross-entropy (nats)", ylim=(lowest - 0.02, lowest + 0.15),
           title="360 validation digits (zoomed on the end)")
fig.legend(*ax_val.get_legend_handles_labels(), loc="lower center", ncol=2, bbox_to_anchor=(0.5, -0.12))
print("saved", save_figure(fig, "05_overfitting"))

table = {}
for name, (model, _, rec) in runs.items():
    w = model[0].weight.numpy()
    table[name] = {"train_acc": rec["train_acc"][-1], "val_acc": rec["val_acc"][-1],
                   "val_ce": rec["val_ce"][-1], "best_val_ce": min(rec["val_ce"]),
                   "mean_abs_w": float(np.abs(w).mean()), "exact_zeros": float(np.mean(w == 0))}
    print(f"{name:45s} train acc {table[name]['train_acc']:.2f}  val acc {table[name]['val_acc']:.3f}  "
          f"val CE {table[name]['val_ce']:.3f} (best {table[name]['best_val_ce']:.3f})  "
          f"mean |w| {table[name]['mean_abs_w']:.4f}  exact zeros {table[name]['exact_zeros']:.1%}")

plain = table["no regularization"]
regularized = {k: v for k, v in table.items() if k != "no regularization"}
gains = {k: 100 * (v["val_acc"] - plain["val_acc"]) for k, v in regularized.items()}
print(f"validation accuracy gained by regularization: {min(gains.values()):+.1f} to {max(gains.values()):+.1f} "
      f"points (without: {plain['val_acc']:.1%})")
claim(all(v["train_acc"] == 1.0 for v in table.values()), "every run fits the 100 training digits perfectly",
      train_acc={k: v["train_acc"] for k, v in table.items()})
claim(plain["val_ce"] > plain["best_val_ce"] + 0.02,
      "without regularization the validation loss reaches its best early and then rises", **plain)
claim(all(v["mean_abs_w"] < plain["mean_abs_w"] and v["val_ce"] < plain["val_ce"] for v in regularized.values()),
      "the penalties keep the weights small and the validation loss lower", table=table)
claim(max(abs(g) for g in gains.values()) < 5, "on this little data no method works miracles", gains=gains)

# %% [markdown]
# Every run fits the 100 training digits perfectly. Without regularization the validation
# loss reaches its best early and then rises: the network grows its weights to make ever
# more confident predictions on the training digits. The penalties keep the weights small
# and the validation loss lower. On this little data no method works miracles: the
# accuracy moves by the fraction of a point to a point printed above — the validation
# *loss* shows the effect far more clearly than the accuracy. (The two L1 curves coincide
# on the right: the same pull towards zero; only where the weights land differs, section 2.)
# Regularization is one lever
# among several (more data — lesson 06 — is the strongest).
#
# ## 2. Where the weights end up
#
# Histograms of the first layer's 8 192 weights. Both L1 variants shrink the weights by
# the same amount, but only the proximal steps put them *on* zero.

# %%
fig, axes = new_figure(1, 4, figsize=(17, 4.6), sharey=True)
bins = np.linspace(-0.4, 0.4, 81)
for ax, (name, (model, _, _)) in zip(axes, runs.items()):
    w = model[0].weight.numpy().ravel()
    ax.hist(w, bins=bins, color="C0")
    ax.set_yscale("log")
    ax.set_title(name.replace(", ", ",\n").replace(" (", "\n("), fontsize=12)
    ax.set_xlabel(f"weight (exactly 0: {np.sum(w == 0)})")
axes[0].set_ylabel("count (log scale)")
print("saved", save_figure(fig, "05_weight_histograms"))
proximal, subgradient = table[f"L1 by proximal steps, λ={LAMBDA_L1:g}"], table[
    f"L1 penalty λ‖θ‖₁ (subgradient), λ={LAMBDA_L1:g}"]
claim(proximal["exact_zeros"] > 0.05 and subgradient["exact_zeros"] == 0
      and abs(proximal["mean_abs_w"] / subgradient["mean_abs_w"] - 1) < 0.1,
      "both L1 variants shrink the weights by the same amount, but only the proximal steps put them on zero",
      proximal=proximal, subgradient=subgradient)

# %% [markdown]
# Why the subgradient never lands on zero: a weight $w \ne 0$ moves by $\mathrm{lr}\cdot\lambda\,\mathrm{sign}(w)$
# plus the loss gradient's step; unless it happens to be exactly $\mathrm{lr}\cdot\lambda$ from zero it jumps
# over, and on the next step is pulled back: it ends jittering at $|w| \lesssim \mathrm{lr}\cdot\lambda = 10^{-4}$.
# The soft threshold sets everything within $\tau$ of zero to 0 and keeps it there while the loss
# gradient is too weak to pull it out — a sparse network (lesson 08 turns such zeros into a
# smaller network).
#
# ## 3. The factor of 2, measured
#
# `SGD(weight_decay=λ)` and SGD on $J + (\lambda/2)\cdot$`l2_penalty` follow the same path (up to
# float32 rounding); $J + \lambda\cdot$`l2_penalty` — the penalty written without the $\tfrac12$, as Keras does —
# is twice the decay.

# %%
def short_run(weight_decay: float = 0.0, penalty=None, steps: int = 20) -> np.ndarray:
    minidl.manual_seed(0)
    model = nn.MLP([64, 32, 10])
    opt = optim.SGD(model.parameters(), lr=LR, weight_decay=weight_decay)
    x, y = minidl.tensor(small.features), minidl.tensor(small.labels)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty(list(model.parameters()))
        loss.backward()
        opt.step()
    return np.concatenate([p.numpy().ravel() for p in model.parameters()])


lam = 0.05
decay_path = short_run(weight_decay=lam)
half_penalty_gap = float(np.abs(decay_path - short_run(penalty=lambda ps: lam / 2 * l2_penalty(ps))).max())
full_penalty_gap = float(np.abs(decay_path - short_run(penalty=lambda ps: lam * l2_penalty(ps))).max())
double_decay_gap = float(np.abs(short_run(weight_decay=2 * lam)
                                - short_run(penalty=lambda ps: lam * l2_penalty(ps))).max())
print(f"weight_decay=λ vs (λ/2)‖θ‖²: {half_penalty_gap:.1e}   vs λ‖θ‖²: {full_penalty_gap:.1e}   "
      f"weight_decay=2λ vs λ‖θ‖²: {double_decay_gap:.1e}")
claim(half_penalty_gap < 1e-5 and double_decay_gap < 1e-5 < 1e-3 < full_penalty_gap,
      "weight_decay=λ is the penalty (λ/2)‖θ‖²; the penalty λ‖θ‖² is weight_decay=2λ",
      half=half_penalty_gap, double=double_decay_gap, full=full_penalty_gap)

# %% [markdown]
# ## 4. Adam + L2 is not AdamW
#
# Train the small MLP with Adam, Adam with an L2 penalty (`Adam(weight_decay=λ)`) and
# AdamW. Some first-layer weights belong to pixels that are blank in every digit (the
# image border): their loss gradient is exactly zero, so only the regularizer moves them.
# Left: the mean size of those weights and of the others. Right: for the weights of
# pixels that do carry ink, each weight's final size against its gradient scale $\sqrt{v}$ (read
# from the optimizer's state, `exp_avg_sq`).

# %%
ADAM_EPOCHS = pick(300, 100)
adam_runs = {
    "Adam": train_small(lambda p: optim.Adam(p, lr=1e-3), epochs=ADAM_EPOCHS),
    "Adam + L2 (weight_decay=1e-3)": train_small(lambda p: optim.Adam(p, lr=1e-3, weight_decay=1e-3),
                                                 epochs=ADAM_EPOCHS),
    "AdamW (weight_decay=0.5)": train_small(lambda p: optim.AdamW(p, lr=1e-3, weight_decay=0.5), epochs=ADAM_EPOCHS),
}
pixel_is_blank = minidl.backend.to_numpy(train_all.features).max(axis=0) == 0
minidl.manual_seed(0)
w_init = nn.MLP([64, 128, 10])[0].weight.numpy()  # the same initial weights as every run
adam_table = {"initial weights": {"blank_pixel_mean_abs_w": float(np.abs(w_init[:, pixel_is_blank]).mean()),
                                  "used_pixel_mean_abs_w": float(np.abs(w_init[:, ~pixel_is_blank]).mean())}}
fig, (ax_bar, ax_scatter) = new_figure(1, 2, figsize=(15, 5))
for name, (model, opt, rec) in adam_runs.items():
    w = model[0].weight.numpy()
    adam_table[name] = {"val_acc": rec["val_acc"][-1], "val_ce": rec["val_ce"][-1],
                        "blank_pixel_mean_abs_w": float(np.abs(w[:, pixel_is_blank]).mean()),
                        "used_pixel_mean_abs_w": float(np.abs(w[:, ~pixel_is_blank]).mean())}
    print(f"{name:32s} val acc {rec['val_acc'][-1]:.3f}  val CE {rec['val_ce'][-1]:.3f}  mean |w|: blank "
          f"pixels {adam_table[name]['blank_pixel_mean_abs_w']:.2e}, used pixels "
          f"{adam_table[name]['used_pixel_mean_abs_w']:.2e}")
    if name != "Adam":
        exp_avg_sq = minidl.backend.to_numpy(opt.state[model[0].weight]["exp_avg_sq"])  # for plotting
        grad_scale = np.sqrt(exp_avg_sq)[:, ~pixel_is_blank].ravel()
        ax_scatter.loglog(grad_scale, np.abs(w[:, ~pixel_is_blank]).ravel(), ".", ms=1.5, alpha=0.3,
                          color="C3" if "L2" in name else "C2", label=name)
names = list(adam_table)
for k, (key, label) in enumerate([("blank_pixel_mean_abs_w", "always-blank pixels (zero loss gradient)"),
                                  ("used_pixel_mean_abs_w", "pixels that carry ink")]):
    values = [max(adam_table[n][key], 1e-12) for n in names]
    ax_bar.bar(np.arange(len(names)) + 0.4 * k, values, width=0.4, label=label)
ax_bar.set_yscale("log")
ax_bar.set_xticks(np.arange(len(names)) + 0.2, [n.split(" (")[0] for n in names], fontsize=12)
ax_bar.set(xlabel="optimizer", ylabel="mean |w|, first layer (log scale)",
           title="what each optimizer does to the weights", ylim=(3e-4, 1))
ax_bar.legend(fontsize=12, loc="upper left")  # above the tallest bar (0.1)
ax_scatter.set(xlabel="√v (the weight's gradient scale, log scale)", ylabel="|w| at the end (log scale)",
               title="pixels that carry ink: decay vs gradient scale")
ax_scatter.legend(fontsize=12, markerscale=6, loc="lower right")
print("saved", save_figure(fig, "05_adam_l2_vs_adamw"))
blank = {k: v["blank_pixel_mean_abs_w"] for k, v in adam_table.items()}
claim(blank["Adam"] == blank["initial weights"] and blank["Adam + L2 (weight_decay=1e-3)"] < 0.1 * blank["Adam"],
      "a weight whose loss gradient is zero is driven to zero by Adam + L2 however small λ is; plain Adam "
      "leaves it where it started", blank_pixel_mean_abs_w=blank)

# %% [markdown]
# With the L2 penalty inside Adam, a weight whose loss gradient is zero sees only $\lambda w$,
# which Adam normalizes to a step of $\approx \mathrm{lr}\cdot\mathrm{sign}(w)$: it is driven to zero at full speed
# however small $\lambda$ is (the blank-pixel bar, and the red weights with small $\sqrt{v}$ on the
# right). Weights with large loss gradients have a large $\sqrt{\hat v}$, and their decay term
# $\lambda w/\sqrt{\hat v}$ almost vanishes. The decay's strength is decided by the gradient statistics, not by
# $\lambda$:
# strongest on weights that barely matter, weakest on the busiest ones. AdamW shrinks every
# weight by the same fraction $\mathrm{lr}\cdot\lambda$ per step whatever its gradient — the blank-pixel
# weights by $(1 - \mathrm{lr}\cdot\lambda)^{\text{steps}}$, the others by that factor plus whatever the loss says. That
# predictable decay, tunable independently of the learning dynamics, is why AdamW is the
# usual choice for training large networks with Adam. (Which one validates better on 100
# digits is a matter of $\lambda$; the table shows the numbers.)
#
# ## Exercises
#
# **1. "$\varepsilon$ is a regularization term."** Two of the source articles (article 1, article 5)
# describe Adam's $\varepsilon$ this way. Test the claim: train with $\varepsilon = 10^{-10}, 10^{-8}, 10^{-6}$ and
# compare
# with a real regularizer.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $\varepsilon$ changes nothing that matters: it is added to $\sqrt{\hat v}$ (typically
# $10^{-5}$ to $10^{-2}$ here), so the steps barely change and neither does the weights' size — while an L2
# penalty of $10^{-3}$ visibly shrinks them. $\varepsilon$'s job is to keep
# $\mathrm{lr}\cdot\hat m/(\sqrt{\hat v} + \varepsilon)$ finite when $\hat v \approx 0$ (a parameter that has never
# had a gradient): it caps the step, it does
# not penalize anything.

# %% tags=["answer", "hide-cell"]
eps_runs = {eps: train_small(lambda p, e=eps: optim.Adam(p, lr=1e-3, eps=e), epochs=pick(60, 20))
            for eps in (1e-10, 1e-8, 1e-6)}
eps_table = {eps: {"val_acc": rec["val_acc"][-1], "mean_abs_w": float(np.abs(m[0].weight.numpy()).mean())}
             for eps, (m, _, rec) in eps_runs.items()}
decayed, _, _ = train_small(lambda p: optim.Adam(p, lr=1e-3, weight_decay=1e-3), epochs=pick(60, 20))
decayed_mean_abs_w = float(np.abs(decayed[0].weight.numpy()).mean())
for eps, row in eps_table.items():
    print(f"ε = {eps:g}: val acc {row['val_acc']:.3f}, mean |w| {row['mean_abs_w']:.5f}")
print(f"a real regularizer, Adam(weight_decay=1e-3): mean |w| {decayed_mean_abs_w:.5f}")
eps_sizes = [row["mean_abs_w"] for row in eps_table.values()]
claim(max(eps_sizes) / min(eps_sizes) < 1.05 and decayed_mean_abs_w < 0.9 * min(eps_sizes),
      "ε changes nothing that matters, while an L2 penalty visibly shrinks the weights",
      eps_mean_abs_w=eps_sizes, l2_mean_abs_w=decayed_mean_abs_w)

# %% [markdown]
# **2. An L2 penalty without the square.** Article 4 writes the L2 penalty as $\lambda\lVert w\rVert_2$ — the
# norm, not its square. What is the gradient of $\lambda\lVert w\rVert_2$, and how does it differ from the
# gradient of $(\lambda/2)\lVert w\rVert^2$? Write it as `norm_penalty_grad(w, lam)` (NumPy in, NumPy out) and
# test it: `minidl.course_checks.check("05.2", norm_penalty_grad)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $\nabla(\lambda\lVert w\rVert_2) = \lambda\, w/\lVert w\rVert_2$: a pull of constant length
# $\lambda$ towards the origin, whatever the size of $w$ (and undefined at $w = 0$), where
# $(\lambda/2)\lVert w\rVert^2$ pulls with $\lambda w$, in proportion to
# the weight. The unsquared norm is a different regularizer (the group-lasso penalty, which
# zeroes whole groups), not weight decay. minidl's autograd confirms both:

# %% tags=["answer", "hide-cell"]
lam_norm = 0.1
grad_norms = {}
for scale in (0.01, 1.0, 100.0):
    w = minidl.tensor(np.array([3.0, 4.0], np.float32) * scale, requires_grad=True)
    g_norm, = minidl.grad(lam_norm * minidl.sqrt(l2_penalty(w)), [w])
    g_square, = minidl.grad(lam_norm / 2 * l2_penalty(w), [w])
    grad_norms[scale] = (float(np.linalg.norm(g_norm.numpy())), float(np.linalg.norm(g_square.numpy())))
    print(f"‖w‖ = {5 * scale:7.2f}: |∇ λ‖w‖| = {grad_norms[scale][0]:.4f}   "
          f"|∇ (λ/2)‖w‖²| = {grad_norms[scale][1]:.4f}")


def norm_penalty_grad(w: np.ndarray, lam: float) -> np.ndarray:
    return lam * w / np.linalg.norm(w)


check("05.2", norm_penalty_grad)

# %% [markdown]
# **3. Porting a Keras model.** A Keras layer has `kernel_regularizer=l2(0.001)`. Which
# PyTorch/minidl `weight_decay` gives the same training with SGD?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Keras adds $0.001 \sum w^2$, whose gradient is $0.002\, w$: `weight_decay=0.002`. The
# same holds with Adam: a penalty in the loss is coupled decay, `Adam(weight_decay=0.002)`,
# not AdamW. Section 3 measured it: `weight_decay = 2λ` and the penalty $\lambda\lVert\theta\rVert^2$ give the same
# weights to the last bit.

# %% tags=["answer", "hide-cell"]
print(f"weight_decay = 2 × 0.001 = {2 * 0.001}; measured gap for the 2λ rule: {double_decay_gap:.1e}")


# %%
results = {
    "table": table,
    "adam_table": adam_table,
    "weight_decay_vs_half_penalty_gap": half_penalty_gap,
    "weight_decay_vs_full_penalty_gap": full_penalty_gap,
    "double_decay_vs_full_penalty_gap": double_decay_gap,
    "eps_table": eps_table,
    "l2_mean_abs_w_for_eps_exercise": decayed_mean_abs_w,
    "unsquared_norm_grad": grad_norms,
}
