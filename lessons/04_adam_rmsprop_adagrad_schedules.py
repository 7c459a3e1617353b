# %% [markdown]
# # Lesson 04 — Adam, RMSprop, Adagrad; why bias correction exists; learning-rate schedules
#
# ## What you will learn
#
# - What the *second moment* buys: a step size per coordinate, so that one steep direction
#   no longer sets the learning rate for all the others (Adagrad, RMSprop, Adam).
# - What Adam's first moment $m$ and second moment $v$ are, why they start too small, and what
#   the bias correction $\hat m = m/(1 - \beta_1^t)$, $\hat v = v/(1 - \beta_2^t)$ does about it — and what happens
#   without it.
# - That Adam is built from parts: with $\beta_1 = 0$ and no bias correction it *is* RMSprop.
# - The common learning-rate schedules, their formulas, and how they change training.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 5 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# Notation as in lesson 03 ($\theta$, $g = \nabla_\theta J$, $\mathrm{lr}$, step $t = 1, 2, \dots$). All operations on
# vectors
# are per coordinate. These are the docstrings of `minidl.optim.transforms` (`scale_by_adagrad`,
# `scale_by_rms`, `scale_by_adam`), which `minidl.optim.rules` puts together into each optimizer:
#
# **Adagrad** — divide by the root of the *sum* of all squared gradients so far:
#
# $$G \leftarrow G + g^2,\qquad \theta \leftarrow \theta - \mathrm{lr}\,\frac{g}{\sqrt{G} + \varepsilon}$$
#
# **RMSprop** — the same with a running *mean* instead of a sum, so old gradients fade:
#
# $$v \leftarrow \alpha\, v + (1 - \alpha)\, g^2,\qquad
#   \theta \leftarrow \theta - \mathrm{lr}\,\frac{g}{\sqrt{v} + \varepsilon}$$
#
# **Adam** — RMSprop's denominator plus a running mean of $g$ itself (momentum), both
# corrected for starting at zero:
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1)\, g,\qquad v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2$$
#
# $$\hat m = \frac{m}{1 - \beta_1^t},\qquad \hat v = \frac{v}{1 - \beta_2^t},\qquad
#   \theta \leftarrow \theta - \mathrm{lr}\,\frac{\hat m}{\sqrt{\hat v} + \varepsilon}$$
#
# The moments start at zero ($G_0 = v_0 = m_0 = 0$), as in PyTorch. $\varepsilon$ ($10^{-8}$) only keeps the
# division finite when $\hat v \approx 0$; it is not a regularizer.
#
# Why the correction: unroll $m$ with $m_0 = 0$, $m_t = (1 - \beta_1) \sum_k \beta_1^{t-k} g_k$. If every
# $g_k$ has the same mean $E[g]$,
#
# $$E[m_t] = (1 - \beta_1)(1 + \beta_1 + \dots + \beta_1^{t-1})\, E[g] = (1 - \beta_1^t)\, E[g].$$
#
# The average is short by the factor $1 - \beta_1^t$, which the correction divides out. For
# $\beta_2 = 0.999$ the factor $1 - \beta_2^t$ is tiny for hundreds of steps, so an uncorrected $v$ is
# far too small and the uncorrected step $m/\sqrt{v}$ far too large.

# %%

import numpy as np

import minidl
from minidl import nn, optim
from minidl.course import claim, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import DataLoader, load_digits
from minidl.optim import lr_scheduler, rules
from minidl.optim.transforms import scale_by_adam
from minidl.threads import lesson_threads
from minidl.train import fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

print(rules.adam.__doc__)
print(scale_by_adam.__doc__)

# %% [markdown]
# ## 1. One step size per coordinate
#
# $J(x, y) = \tfrac12(50 x^2 + y^2)$: the $x$ direction is 50 times steeper than $y$. GD's learning
# rate must stay below $2/50$ for $x$ (lesson 03, exercise 2), which makes it crawl along y.
# The adaptive methods divide each coordinate's gradient by its own scale.

# %%
CURVATURE = np.array([50.0, 1.0])


def bowl(theta: minidl.Tensor) -> minidl.Tensor:
    return 0.5 * (minidl.tensor(CURVATURE.astype(np.float32)) * theta * theta).sum()


def descend(make_optimizer, steps: int, start=(1.0, 1.0)) -> np.ndarray:
    """The points visited from ``start``: zero_grad, bowl(θ).backward(), step, ``steps`` times."""
    return optim.trajectory(bowl, make_optimizer, steps, start)


BOWL_STEPS = 60
bowl_runs = {
    "GD, lr 0.038 (just stable)": descend(lambda p: optim.GD(p, lr=0.038), BOWL_STEPS),
    "Adagrad, lr 0.3": descend(lambda p: optim.Adagrad(p, lr=0.3), BOWL_STEPS),
    "RMSprop, lr 0.03": descend(lambda p: optim.RMSprop(p, lr=0.03), BOWL_STEPS),
    "Adam, lr 0.05": descend(lambda p: optim.Adam(p, lr=0.05), BOWL_STEPS),
}
bowl_final = {k: float(0.5 * (CURVATURE * p[-1] ** 2).sum()) for k, p in bowl_runs.items()}
print("loss after", BOWL_STEPS, "steps:", {k: f"{v:.2e}" for k, v in bowl_final.items()})
# the first step of each method, per coordinate, in units of its lr (the gradient is (50, 1))
bowl_lr = {"GD, lr 0.038 (just stable)": 0.038, "Adagrad, lr 0.3": 0.3, "RMSprop, lr 0.03": 0.03,
           "Adam, lr 0.05": 0.05}
first_step = {k: (p[0] - p[1]) / bowl_lr[k] for k, p in bowl_runs.items()}
for k, v in first_step.items():
    print(f"{k:27s} first step / lr: x {v[0]:6.2f}   y {v[1]:6.2f}")
rmsprop_first = float(first_step["RMSprop, lr 0.03"][1])
claim(abs(rmsprop_first - 1 / np.sqrt(1 - 0.99)) < 0.01
      and np.allclose(first_step["Adam, lr 0.05"], 1, atol=1e-3)
      and np.allclose(first_step["Adagrad, lr 0.3"], 1, atol=1e-3),
      "the first step is lr·sign(g) for Adagrad and Adam and lr/√(1 − α) = 10·lr for RMSprop",
      first_step=first_step)

xs, ys = np.meshgrid(np.linspace(-1.2, 1.2, 120), np.linspace(-0.3, 1.2, 120))
fig, (ax, ax_loss) = new_figure(1, 2, figsize=(13, 5))
ax.contour(xs, ys, 0.5 * (50 * xs**2 + ys**2), levels=np.geomspace(0.01, 40, 12), cmap="Greys",
           linewidths=0.6)
for (label, path), color in zip(bowl_runs.items(), ["C0", "C1", "C2", "C3"]):
    ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, color=color, label=label)
    ax_loss.semilogy(0.5 * (CURVATURE * path**2).sum(1), color=color, label=label)
ax.plot(0, 0, "k*", ms=12)
ax.set(xlabel="x (curvature 50, no unit)", ylabel="y (curvature 1, no unit)", title=f"{BOWL_STEPS} steps from (1, 1)")
ax.legend(fontsize=12, loc="lower left")
ax_loss.set(xlabel="step", ylabel="J(θ) (log scale)", title="loss")
print("saved", save_figure(fig, "04_per_coordinate_steps"))

# %% [markdown]
# GD bounces across the steep x direction and has barely moved along y. The adaptive
# methods head straight for the minimum, moving both coordinates at comparable speeds:
# their first step is the same in every coordinate, whatever the gradient's scale (50 in
# $x$, 1 in $y$), as the printout shows. For Adagrad and Adam it is $\mathrm{lr}\cdot\mathrm{sign}(g)$:
# $G_1 = g^2$ and $\hat m_1/\sqrt{\hat v_1} = g/|g|$. RMSprop has no bias correction, so with $v_0 = 0$ its first
# $v_1 = (1 - \alpha)\, g^2$ is small and its first step is
#
# $$\mathrm{lr}\,\frac{g}{\sqrt{(1-\alpha)\,g^2}} = \frac{\mathrm{lr}}{\sqrt{1-\alpha}}\,\mathrm{sign}(g)
#   = 10\,\mathrm{lr}\ \text{ for } \alpha = 0.99,$$
#
# which is why RMSprop runs with a smaller lr here (0.03) than Adam (0.05): its first steps
# are ten times larger than its lr suggests, shrinking to $\mathrm{lr}$ as $v$ fills up.
# Adam also carries momentum ($\beta_1 = 0.9$), so it runs through the minimum and swings back —
# each dip of its loss curve is one pass. Momentum is a trade: faster along long valleys
# (lesson 03), oscillation around a minimum unless the lr decays (section 3).
#
# ## 2. Why bias correction exists
#
# Feed Adam's first stage (`scale_by_adam`, the rule itself) a noisy gradient with mean 1
# and watch $m$, $\hat m$, $v$ and $\hat v$ over the first steps.

# %%
rng = np.random.default_rng(0)
adam_stage = scale_by_adam(b1=0.9, b2=0.999)
state = adam_stage.init(np.zeros(1))
trace = {"g": [], "m": [], "m_hat": [], "v": [], "v_hat": []}
for t in range(1, 101):
    g = np.array([1.0 + 0.5 * rng.standard_normal()])
    _, state = adam_stage.update(g, state, np.zeros(1))
    trace["g"].append(g[0])
    trace["m"].append(state["exp_avg"][0])
    trace["m_hat"].append(state["exp_avg"][0] / (1 - 0.9**t))
    trace["v"].append(state["exp_avg_sq"][0])
    trace["v_hat"].append(state["exp_avg_sq"][0] / (1 - 0.999**t))

# The step multiplier for a constant gradient: corrected m̂/√v̂ = 1; uncorrected m/√v:
t = np.arange(1, 5001)
uncorrected_multiplier = (1 - 0.9**t) / np.sqrt(1 - 0.999**t)

fig, (ax_m, ax_v, ax_step) = new_figure(1, 3, figsize=(16, 4.8))
steps = np.arange(1, 101)
ax_m.plot(steps, trace["g"], ".", color="grey", ms=3, label="g (mean 1)")
ax_m.plot(steps, trace["m"], label="m (starts at 0)")
ax_m.plot(steps, trace["m_hat"], label="m̂ = m / (1 − β₁ᵗ)")
ax_m.set(xlabel="step t", ylabel="value (units of g)", title="first moment, β₁ = 0.9")
ax_v.plot(steps, trace["v"], label="v")
ax_v.plot(steps, trace["v_hat"], label="v̂ = v / (1 − β₂ᵗ)")
ax_v.axhline(1.25, color="grey", lw=0.8, ls="--", label="E[g²] = 1.25")
ax_v.set(xlabel="step t", ylabel="value (units of g²)", title="second moment, β₂ = 0.999")
ax_step.semilogx(t, uncorrected_multiplier, label="without correction: m/√v")
ax_step.axhline(1.0, color="C1", label="with correction: m̂/√v̂")
ax_step.set(xlabel="step t", ylabel="step size / lr (ratio)", title="step size for a constant gradient")
for ax in (ax_m, ax_v, ax_step):
    ax.legend(fontsize=12)
print("saved", save_figure(fig, "04_bias_correction"))
print(f"largest uncorrected multiplier: {uncorrected_multiplier.max():.2f} at step "
      f"{int(t[uncorrected_multiplier.argmax()])}")
claim(6.0 < uncorrected_multiplier.max() < 7.0, "the uncorrected step m/√v is up to ~6.5 times too large",
      multiplier=float(uncorrected_multiplier.max()))

# %% [markdown]
# $\hat m$ and $\hat v$ track the true means from the first step; $m$ and $v$ crawl up from zero. Because
# $v$ is short by $1 - 0.999^t$ (tiny) and $m$ only by $1 - 0.9^t$, the uncorrected step $m/\sqrt{v}$ is up
# to about 6.5 times too large, and it takes thousands of steps to settle. Does that matter?
# Train the digits MLP with both, at a modest and at a large learning rate.

# %%
train, val = load_digits("train", seed=0), load_digits("val", seed=0)
EPOCHS = pick(15, 4)


trained_models = {}  # name → the trained model, for the runs we look inside


def train_digits(make_optimizer, epochs: int = EPOCHS, scheduler=None, per_batch: bool = False,
                 name: str | None = None):
    minidl.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    if name is not None:
        trained_models[name] = model
    opt = make_optimizer(model.parameters())
    sched = scheduler(opt) if scheduler is not None else None
    history = fit(model, nn.functional.cross_entropy, opt,
                  DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=epochs,
                  val_loader=DataLoader(val, batch_size=512), progress=False,
                  scheduler=None if per_batch else sched,
                  on_step_end=(lambda step: sched.step()) if per_batch else None)
    return history


bias = {}
for lr in (1e-3, 5e-2):
    for corrected in (True, False):
        h = train_digits(lambda p, lr=lr, c=corrected: optim.Adam(p, lr=lr, bias_correction=c),
                         name=f"lr={lr:g}, corrected={corrected}")
        bias[(lr, corrected)] = h
        print(f"lr {lr:g}, bias correction {corrected!s:5}: first-epoch loss {h.train_loss[0]:.3f}, "
              f"final val accuracy {h.val_accuracy[-1]:.3f}")


def dead_relu_fraction(model: nn.Module) -> float:
    """The share of hidden ReLUs that output 0 for every training digit: dead, they get no gradient."""
    with minidl.no_grad():
        hidden = model[1](model[0](minidl.tensor(train.features))).numpy()
    return float(np.mean((hidden <= 0).all(axis=0)))


dead = {name: dead_relu_fraction(m) for name, m in trained_models.items()}
print("hidden ReLUs dead on every training digit:", {k: f"{v:.0%}" for k, v in dead.items()})
acc = {key: h.val_accuracy[-1] for key, h in bias.items()}
claim(acc[(1e-3, False)] >= acc[(1e-3, True)] - 0.01,
      "at lr = 1e-3 the uncorrected version even looks better (or as good)", accuracy=acc)
claim(dead["lr=0.05, corrected=False"] > max(0.5, dead["lr=0.05, corrected=True"])
      and acc[(5e-2, False)] < acc[(5e-2, True)] - pick(0.1, 0.05),
      "at lr = 5e-2 uncorrected Adam kills many ReLUs and never recovers; corrected Adam trains normally",
      dead=dead, accuracy=acc)

# %% [markdown]
# At $\mathrm{lr} = 10^{-3}$ the uncorrected version even looks *better*: its oversized early steps act
# as an accidental warm-up bonus. At $\mathrm{lr} = 5 \cdot 10^{-2}$ the same factor of about 6 throws the weights so
# far in the first steps that most hidden ReLUs die — the printout counts the units that
# output 0 for every training digit, and so never get a gradient again — and the network
# never recovers, while corrected Adam trains normally. ($\mathrm{lr} = 0.05$ is a large lr for Adam:
# even the corrected run loses a share of its ReLUs, fewer than the uncorrected one.)
# Bias correction makes lr mean the same thing at step 1
# and at step 10 000 — which is what makes Adam's default lr usable across problems.
#
# ## 3. Learning-rate schedules
#
# `minidl.optim.lr_scheduler` has PyTorch's schedules; each computes the lr of epoch $t$ from
# a closed form (its docstring; the values equal PyTorch's). With $\mathrm{lr}_0$ the
# optimizer's lr and $t = 0, 1, \dots$ the epoch:
#
# - `StepLR(step_size=k, gamma=γ)`: $\mathrm{lr}_t = \mathrm{lr}_0\,\gamma^{\lfloor t/k \rfloor}$
# - `MultiStepLR(milestones, gamma=γ)`: $\mathrm{lr}_t = \mathrm{lr}_0\,\gamma^{n_t}$, with $n_t$ the number
#   of milestones $\le t$
# - `ExponentialLR(gamma=γ)`: $\mathrm{lr}_t = \mathrm{lr}_0\,\gamma^{t}$
# - `CosineAnnealingLR(T_max, eta_min)`:
#   $\mathrm{lr}_t = \mathrm{lr}_{\min} + \tfrac12(\mathrm{lr}_0 - \mathrm{lr}_{\min})(1 + \cos(\pi t / T_{\max}))$
# - `LinearLR(start_factor, end_factor, total_iters)`, with values $f_0$, $f_1$, $K$:
#   $\mathrm{lr}_t = \mathrm{lr}_0\,(f_0 + (f_1 - f_0)\min(t, K)/K)$
# - `SequentialLR`: the first schedule until the milestone, then the next, restarted at its $t = 0$
# - `OneCycleLR(max_lr, total_steps, pct_start)`, stepped per batch: a half cosine from
#   $\mathrm{max\_lr}/25$ up to $\mathrm{max\_lr}$ over the first `pct_start * total_steps` steps, then a half cosine
#   down to $\mathrm{max\_lr}/(25 \cdot 10^4)$
#
# ($\mathrm{lr}_{\min}$ is PyTorch's `eta_min`; 25 and $10^4$ are `OneCycleLR`'s `div_factor` and
# `final_div_factor`. A half cosine from $\mathrm{lr}_a$ to $\mathrm{lr}_b$ over $K$ steps is
# $\mathrm{lr}_b + \tfrac12(\mathrm{lr}_a - \mathrm{lr}_b)(1 + \cos(\pi k/K))$ at step $k$.) Below, 60 epochs of each.

# %%
def lr_curve(make_scheduler, n: int = 60, cls=optim.SGD, **kw) -> list[float]:
    p = minidl.tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = cls([p], lr=0.1, **kw)
    sched = make_scheduler(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        sched.step()
    return out


curves = {
    "StepLR(step_size=20, γ=0.5)": lr_curve(lambda o: lr_scheduler.StepLR(o, 20, 0.5)),
    "MultiStepLR([30, 45], γ=0.1)": lr_curve(lambda o: lr_scheduler.MultiStepLR(o, [30, 45])),
    "ExponentialLR(γ=0.95)": lr_curve(lambda o: lr_scheduler.ExponentialLR(o, 0.95)),
    "CosineAnnealingLR(T_max=40): past T_max it rises": lr_curve(
        lambda o: lr_scheduler.CosineAnnealingLR(o, 40)),
    "LinearLR warm-up 5, then cosine (SequentialLR)": lr_curve(lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, 0.1, total_iters=5), lr_scheduler.CosineAnnealingLR(o, 55)], [5])),
    "OneCycleLR(max_lr=0.1, 60 steps)": lr_curve(
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=60), momentum=0.9),
}
fig, axes = new_figure(2, 3, figsize=(15, 8), sharex=True)
for ax, (name, lrs) in zip(axes.ravel(), curves.items()):
    ax.plot(lrs, ".-", ms=3)
    ax.set(title=name.replace(": ", ":\n"), xlabel="epoch", ylabel="learning rate")
    ax.title.set_fontsize(12)
fig.tight_layout()
print("saved", save_figure(fig, "04_schedules"))

# %% [markdown]
# Does a schedule help? SGD with momentum on the digits MLP, constant lr against cosine
# annealing to zero and against a one-cycle schedule (stepped after every batch).

# %%
steps_per_epoch = len(DataLoader(train, batch_size=32))
schedule_runs = {
    "constant lr 0.1": train_digits(lambda p: optim.SGD(p, lr=0.1, momentum=0.9)),
    "cosine from 0.1 to 0": train_digits(lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                         scheduler=lambda o: lr_scheduler.CosineAnnealingLR(o, EPOCHS)),
    "one-cycle, peak 0.2": train_digits(
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9), per_batch=True,
        scheduler=lambda o: lr_scheduler.OneCycleLR(o, 0.2, epochs=EPOCHS, steps_per_epoch=steps_per_epoch)),
}
fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(13, 4.8))
for name, h in schedule_runs.items():
    ax_loss.semilogy(range(1, h.epochs + 1), h.train_loss, label=name)
    ax_acc.plot(range(1, h.epochs + 1), 100 * np.array(h.val_accuracy), label=name)
    print(f"{name:20s} final train loss {h.train_loss[-1]:.4f}, val accuracy {h.val_accuracy[-1]:.1%}")
final_loss = {name: h.train_loss[-1] for name, h in schedule_runs.items()}
claim(final_loss["one-cycle, peak 0.2"] == min(final_loss.values()),
      "the one-cycle run ends with the lowest training loss", final_train_loss=final_loss)
ax_loss.set(xlabel="epoch", ylabel="training loss (cross-entropy, nats, log scale)", title="training loss")
ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)", title="validation accuracy")
ax_loss.legend(loc="upper right")  # the curves end low on the right: this corner is empty
print("saved", save_figure(fig, "04_schedules_training"))

# %% [markdown]
# Here the one-cycle run ends with the lowest training loss: its warm-up lets it use twice
# the peak learning rate without the early instability, and its long annealing lets the
# last epochs settle into the minimum. Cosine annealing from the constant run's lr is not
# reliably better than the constant lr on a problem this easy — it spends half of a short
# run at small steps; which of the two ends lower changes with the number of epochs (the
# quick and the full version of this lesson disagree). Schedules are no magic; what they
# buy is mostly the right to a larger peak lr.
# (On a validation set of 360 digits, one or two points of accuracy are within noise.)
#
# ## Exercises
#
# **1. $\hat m$ for a constant gradient.** Show that with $g_k = g$ for every $k$, $\hat m_t = g$ exactly at
# every step, and check it with `scale_by_adam`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $m_t = (1 - \beta_1)\, g\, (1 + \beta_1 + \dots + \beta_1^{t-1})
# = (1 - \beta_1)\, g\, (1 - \beta_1^t)/(1 - \beta_1) = (1 - \beta_1^t)\, g$, so
# $\hat m_t = m_t/(1 - \beta_1^t) = g$. Likewise $\hat v_t = g^2$, and the step is $\mathrm{lr}\cdot\mathrm{sign}(g)$.

# %% tags=["answer", "hide-cell"]
stage = scale_by_adam(b1=0.9, b2=0.999)
s = stage.init(np.zeros(1))
worst = 0.0
for step in range(1, 51):
    _, s = stage.update(np.array([0.7]), s, np.zeros(1))
    worst = max(worst, abs(s["exp_avg"][0] / (1 - 0.9**step) - 0.7))
print(f"largest |m̂ − g| over 50 steps: {worst:.1e}")

# %% [markdown]
# **2. Adagrad slows down.** With a constant gradient $g$, how large is Adagrad's $t$-th step?
# Then write one Adagrad step yourself, `adagrad_step(theta, g, G, lr, eps)` returning the
# new $\theta$ and the new sum $G$ (NumPy arrays), and test it with
# `minidl.course_checks.check("04.2", adagrad_step)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $G_t = t\, g^2$, so the step is $\mathrm{lr}\,|g|/(\sqrt{t}\,|g|) = \mathrm{lr}/\sqrt{t}$: it shrinks
#  forever, even
# when the gradient does not. Good for convex problems with rare features (the setting it
# was designed for), too slow for long non-convex training — RMSprop's fix is to forget.

# %% tags=["answer", "hide-cell"]
theta = minidl.tensor(np.zeros(1, np.float32), requires_grad=True)
adagrad = optim.Adagrad([theta], lr=1.0)
adagrad_steps = []
for _ in range(100):
    before = theta.item()
    theta.grad = minidl.tensor(np.full(1, 3.0, np.float32))
    adagrad.step()
    adagrad_steps.append(before - theta.item())
print(f"step 1: {adagrad_steps[0]:.4f}, step 4: {adagrad_steps[3]:.4f}, step 100: {adagrad_steps[99]:.4f}")


def adagrad_step(theta: np.ndarray, g: np.ndarray, G: np.ndarray, lr: float, eps: float):  # noqa: N803
    G = G + g * g  # noqa: N806 - the notation table's G
    return theta - lr * g / (np.sqrt(G) + eps), G


check("04.2", adagrad_step)

# %% [markdown]
# **3. Adam is built from parts.** Show that `Adam(betas=(0, α), bias_correction=False)` and
# `RMSprop(alpha=α)` take identical steps.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** With $\beta_1 = 0$, $m = g$; without correction the step is
#  $\mathrm{lr}\cdot g/(\sqrt{v} + \varepsilon)$ with
# $v \leftarrow \alpha v + (1 - \alpha)\, g^2$ — RMSprop's rule, operation for operation, so even the float32
# rounding agrees:

# %% tags=["answer", "hide-cell"]
grads = [rng.standard_normal(5).astype(np.float32) for _ in range(20)]
a = minidl.tensor(np.ones(5, np.float32), requires_grad=True)
r = minidl.tensor(np.ones(5, np.float32), requires_grad=True)
as_adam = optim.Adam([a], lr=0.01, betas=(0.0, 0.9), bias_correction=False)
as_rmsprop = optim.RMSprop([r], lr=0.01, alpha=0.9)
for g in grads:
    a.grad, r.grad = minidl.tensor(g), minidl.tensor(g)
    as_adam.step()
    as_rmsprop.step()
adam_is_rmsprop = bool(np.array_equal(a.numpy(), r.numpy()))
print("bit-for-bit equal:", adam_is_rmsprop)


# %%
results = {
    "bowl_final_loss": bowl_final,
    "max_uncorrected_multiplier": float(uncorrected_multiplier.max()),
    "m_hat_first_step_error": abs(trace["m_hat"][0] - trace["g"][0]),
    "m_first_step_ratio": trace["m"][0] / trace["g"][0],
    "adam_val_accuracy": {f"lr={lr:g}, corrected={c}": h.val_accuracy[-1] for (lr, c), h in bias.items()},
    "adam_first_epoch_loss": {f"lr={lr:g}, corrected={c}": h.train_loss[0] for (lr, c), h in bias.items()},
    "schedule_curves": {k: [v[0], v[-1]] for k, v in curves.items()},
    "cosine_past_tmax": curves["CosineAnnealingLR(T_max=40): past T_max it rises"][40:],
    "schedule_final_train_loss": {k: h.train_loss[-1] for k, h in schedule_runs.items()},
    "schedule_val_accuracy": {k: h.val_accuracy[-1] for k, h in schedule_runs.items()},
    "constant_gradient_m_hat_error": worst,
    "adagrad_steps": [adagrad_steps[0], adagrad_steps[3], adagrad_steps[99]],
    "adam_beta1_0_is_rmsprop": adam_is_rmsprop,
}
print({k: v for k, v in results.items() if k != "schedule_curves"})
