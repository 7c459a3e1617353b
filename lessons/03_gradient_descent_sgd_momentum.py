# %% [markdown]
# # Lesson 03 — Gradient descent, SGD and mini-batches, momentum and Nesterov
#
# ## What you will learn
#
# - That **gradient descent (GD)** and **stochastic gradient descent (SGD)** are one update
#   rule fed different data: the gradient of the whole training set, or of a random
#   mini-batch. You will see both paths on the same loss surface.
# - How the batch size trades the cost of a step against the noise in it.
# - What **momentum** and **Nesterov momentum** do on a curved valley (Rosenbrock's), as a
#   figure and as an animation you can show in class.
# - That PyTorch's way of writing momentum and Sutskever et al.'s agree while the learning
#   rate is constant, and disagree as soon as it changes.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 13 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# Notation: $\theta$ the parameters, $J(\theta)$ the loss, $g = \nabla_\theta J$ the gradient, $\mathrm{lr}$ the
# learning rate.
# These are the docstrings of `minidl.optim.rules.gd`, `minidl.optim.rules.sgd` (the recipe) and
# `minidl.optim.transforms.trace` (momentum).
#
# **Gradient descent** — step against the gradient of the loss on the *whole* training set:
#
# $$\theta \leftarrow \theta - \mathrm{lr}\cdot\nabla_\theta J(\theta)$$
#
# **SGD** — the same step with $g$ computed on a random mini-batch $B$ of the data. Its average
# over the possible batches is the full gradient (it is unbiased), but each one is noisy,
# and it costs $|B|/N$ of a full gradient.
#
# **Momentum** (PyTorch's form, `SGD(momentum=μ)`), with a buffer $\mathbf{b}$:
#
# $$\mathbf{b}_1 = g_1,\qquad \mathbf{b}_t = \mu\, \mathbf{b}_{t-1} + g_t,\qquad \theta \leftarrow \theta -
# \mathrm{lr}\cdot \mathbf{b}_t$$
#
# ($\mathbf{b}$ is a running sum of past gradients, decaying by $\mu$.)
#
# With a constant gradient, $\mathbf{b} \to g/(1 - \mu)$: momentum multiplies the step by up to $1/(1 - \mu)$
# (10× for $\mu = 0.9$) along directions where the gradients agree, while gradients that flip
# sign from step to step cancel in $\mathbf{b}$.
#
# **Nesterov** looks ahead: the step uses $g + \mu \mathbf{b}$ instead of $\mathbf{b}$, which corrects a
# velocity that is about to overshoot one step earlier.
#
# **Sutskever et al. (2013)** write momentum with the learning rate inside the velocity:
#
# $$v \leftarrow \mu\, v + \mathrm{lr}\cdot g,\qquad \theta \leftarrow \theta - v$$
#
# Unroll both: PyTorch moves by $\mathrm{lr}_t \sum_k \mu^{t-k} g_k$, Sutskever by
# $\sum_k \mu^{t-k}\, \mathrm{lr}_k\, g_k$. The same while $\mathrm{lr}$ is constant; with a schedule, PyTorch
# rescales the whole remembered velocity
# at once, Sutskever only the new gradients.

# %%
import numpy as np

import minidl
from minidl import nn, optim
from minidl.course import claim, figure_dir, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import ArrayDataset, DataLoader, load_digits
from minidl.optim import rules, transforms
from minidl.threads import lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

print(rules.sgd.__doc__)
print(transforms.trace.__doc__)

# %% [markdown]
# ## 1. GD and SGD: one rule, two kinds of data
#
# A model with two parameters lets us draw the loss surface: fit $y \approx w x + b$ to 200 noisy
# points with the mean squared error. GD sees all 200 points at every step; SGD sees a
# batch of 1 or of 20. All three use `minidl.optim.SGD`/`GD`'s rule $\theta \leftarrow \theta - \mathrm{lr}\cdot g$.

# %%
rng = np.random.default_rng(0)
x_line = rng.uniform(-1, 1, (200, 1)).astype(np.float32)
y_line = (2.0 * x_line - 1.0 + 0.3 * rng.standard_normal((200, 1))).astype(np.float32)
xp = minidl.backend.xp  # the active array module: NumPy, or CuPy with MINIDL_BACKEND=cupy
line_data = ArrayDataset(xp.asarray(x_line), xp.asarray(y_line))  # where the model's weights live


def fit_line(optimizer_cls, batch_size: int, epochs: int, lr: float) -> tuple[np.ndarray, int]:
    """Train y = w·x + b from (w, b) = (−1.5, 1.5); the path of (w, b) after every step."""
    model = nn.Linear(1, 1)
    with minidl.no_grad():
        model.weight.fill_(-1.5)
        model.bias.fill_(1.5)
    opt = optimizer_cls(model.parameters(), lr=lr)
    path = [(-1.5, 1.5)]
    loader = DataLoader(line_data, batch_size=batch_size, shuffle=True, seed=1)
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            path.append((model.weight.item(), model.bias.item()))
    return np.array(path), len(path) - 1


LINE_EPOCHS = pick(30, 10)
paths = {
    "GD (all 200 samples)": fit_line(optim.GD, 200, LINE_EPOCHS * 5, 0.3),
    "SGD, batch 20": fit_line(optim.SGD, 20, LINE_EPOCHS // 2, 0.3),
    "SGD, batch 1": fit_line(optim.SGD, 1, 1, 0.05),
}
w_grid, b_grid = np.meshgrid(np.linspace(-2, 3.5, 120), np.linspace(-2, 2, 100))
surface = ((w_grid[..., None] * x_line[:, 0] + b_grid[..., None] - y_line[:, 0]) ** 2).mean(-1)
w_best, b_best = np.linalg.lstsq(np.c_[x_line, np.ones_like(x_line)], y_line, rcond=None)[0][:, 0]

fig, ax = new_figure(figsize=(6.4, 4.6))
ax.contour(w_grid, b_grid, surface, levels=np.geomspace(0.1, 8, 14), cmap="Greys", linewidths=0.7)
for (label, (path, steps)), color in zip(paths.items(), ["C0", "C1", "C3"]):
    ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.8, color=color, label=f"{label}: {steps} steps")
ax.plot(w_best, b_best, "k*", ms=12, label="least-squares minimum")
ax.set(xlabel="w (slope, no unit)", ylabel="b (intercept, no unit)", title="Same rule θ ← θ − lr·g, different data")
ax.legend(loc="upper left", fontsize=12)
print("saved", save_figure(fig, "03_gd_vs_sgd_paths"))
endpoints = {k: float(np.hypot(p[-1, 0] - w_best, p[-1, 1] - b_best)) for k, (p, _) in paths.items()}
print("distance of the last step from the least-squares solution:", {k: round(v, 4) for k, v in endpoints.items()})
claim(endpoints["GD (all 200 samples)"] < 1e-3 < endpoints["SGD, batch 1"] < 0.3,
      "GD reaches the minimum; SGD with batch 1 gets close and keeps jittering around it", distances=endpoints)

# %% [markdown]
# GD walks straight down the bowl; every step is exact and costs 200 sample gradients.
# SGD with batch 1 costs 1 sample per step and gets close within a single pass over the
# data, then keeps jittering around the minimum: its gradient never becomes zero there,
# only zero on average. That is why SGD is run with a decaying learning rate (lesson 04)
# or a larger batch at the end.
#
# ## 2. How noisy is a mini-batch gradient?
#
# On the digits MLP, take the full-batch gradient as the truth and measure how far
# mini-batch gradients of size $B$ fall from it. For independent samples the variance of the
# mean falls like $1/B$, so the relative error like $1/\sqrt{B}$. Our batches are drawn *without
# replacement* from a finite set of $N$ samples, which makes them a little better than
# independent draws: the variance of the mean is multiplied by the finite-population factor
# $(N - B)/(N - 1)$, so the prediction becomes
#
# $$\frac{\lVert g_B - g \rVert}{\lVert g \rVert} \approx \frac{e_1}{\sqrt{B}} \sqrt{\frac{N - B}{N - 1}},$$
#
# with $e_1$ the root-mean-square error of a single-sample gradient (computed below from all
# N of them), and the error measured as a root mean square over many batches. It is zero at $B = N$: a "batch" of
# every sample is the full gradient.

# %%
minidl.manual_seed(0)
digits = load_digits("train", seed=0)
mlp = nn.MLP([64, 32, 10])


def gradient_of(x: minidl.Tensor, y: minidl.Tensor) -> np.ndarray:
    mlp.zero_grad()
    nn.functional.cross_entropy(mlp(x), y).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in mlp.parameters()])


full = gradient_of(minidl.tensor(digits.features), minidl.tensor(digits.labels))
batch_sizes = [1, 4, 16, 64, 256]
relative_error = {}
for batch in batch_sizes:
    errors = []
    for _ in range(pick(300, 100)):  # many batches: the mean square is itself a noisy estimate
        idx = rng.choice(len(digits), batch, replace=False)
        x, y = digits[idx]  # one batch (indexing the dataset, not its arrays, works on a GPU too)
        g = gradient_of(minidl.tensor(x), minidl.tensor(y))
        errors.append(np.sum((g - full) ** 2))
    relative_error[batch] = float(np.sqrt(np.mean(errors)) / np.linalg.norm(full))  # root mean square
print("relative error by batch size:", {b: round(e, 3) for b, e in relative_error.items()})

# e₁ exactly: the spread of all N single-sample gradients around their mean, the full gradient
per_sample = np.stack([gradient_of(minidl.tensor(digits[i:i + 1][0]), minidl.tensor(digits[i:i + 1][1]))
                       for i in range(len(digits))])
e1 = float(np.sqrt(np.mean(np.sum((per_sample - full) ** 2, axis=1))) / np.linalg.norm(full))

N = len(digits)
sizes = np.array(batch_sizes, dtype=float)
independent = e1 / np.sqrt(sizes)
without_replacement = independent * np.sqrt((N - sizes) / (N - 1))  # the finite-population factor
fig, ax = new_figure(figsize=(6.4, 4.4))
ax.loglog(batch_sizes, list(relative_error.values()), "o-", label="measured")
ax.loglog(batch_sizes, independent, "k--", lw=1.2, label="e₁/√B (independent draws)")
ax.loglog(batch_sizes, without_replacement, "C1:", lw=2.2, label=f"e₁/√B · √((N−B)/(N−1)), N={N}")
ax.set(xlabel="batch size B (samples)", ylabel="‖g_B − g‖ / ‖g‖ (relative error)",
       title="Mini-batch gradient noise")
ax.legend(loc="lower left", fontsize=12)
print("saved", save_figure(fig, "03_batch_noise"))
noise_slope = float(np.polyfit(np.log(batch_sizes[:4]), np.log(list(relative_error.values())[:4]), 1)[0])
largest = batch_sizes[-1]
gap_independent = abs(relative_error[largest] - independent[-1]) / relative_error[largest]
gap_finite = abs(relative_error[largest] - without_replacement[-1]) / relative_error[largest]
print(f"slope over B = 1…64: {noise_slope:.2f}; at B = {largest}: measured {relative_error[largest]:.3f}, "
      f"1/√B line {independent[-1]:.3f}, with the finite-population factor {without_replacement[-1]:.3f}")
claim(-0.7 < noise_slope < -0.3, "the slope is close to −½ for small batches", slope=noise_slope)
claim(relative_error[largest] < independent[-1] and gap_finite < gap_independent,
      "at the largest batch the measurement falls below the 1/√B line, onto the finite-population curve",
      measured=relative_error[largest], independent=independent[-1], finite=without_replacement[-1])

# %% [markdown]
# The slope is close to $-1/2$ for small batches (the printout gives it). For the largest
# batch the measurement drops *below* the $1/\sqrt{B}$ line: drawn without replacement from only
# $N$ samples, a batch of 256 is a quarter of the data, and the finite-population factor
# $\sqrt{(N - B)/(N - 1)}$ — the dotted curve — accounts for the difference.
#
# ## 3. Momentum and Nesterov on Rosenbrock's valley
#
# $J(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$ has its minimum at $(1, 1)$ at the bottom of a narrow,
# curved valley: steep walls, a nearly flat floor. GD needs a small lr to survive the
# walls and then crawls along the floor. Momentum accumulates the small, consistent
# gradient along the floor. The gradients here come from minidl's autograd.


# %%
def rosenbrock(theta: minidl.Tensor) -> minidl.Tensor:
    x, y = theta[0], theta[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def descend(make_optimizer, steps: int, start=(-1.2, 1.0)) -> np.ndarray:
    """The points visited from ``start``: zero_grad, rosenbrock(θ).backward(), step, ``steps`` times."""
    return optim.trajectory(rosenbrock, make_optimizer, steps, start)


STEPS = pick(3000, 1000)
runs = {
    "GD, lr 1e-3": descend(lambda p: optim.GD(p, lr=1e-3), STEPS),
    "momentum 0.9, lr 1e-3": descend(lambda p: optim.SGD(p, lr=1e-3, momentum=0.9), STEPS),
    "Nesterov 0.9, lr 1e-3": descend(lambda p: optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True), STEPS),
}
distance = {k: float(np.linalg.norm(p[-1] - 1.0)) for k, p in runs.items()}
print({k: round(v, 4) for k, v in distance.items()})

xs, ys = np.meshgrid(np.linspace(-1.6, 1.6, 120), np.linspace(-0.6, 2.0, 120))
valley = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
# GD is drawn last, thick and dashed, so the other paths cannot hide it where they overlap.
STYLES = {"GD, lr 1e-3": dict(color="C0", lw=3.0, ls="--", zorder=4),
          "momentum 0.9, lr 1e-3": dict(color="C1", lw=1.6, zorder=3),
          "Nesterov 0.9, lr 1e-3": dict(color="C2", lw=1.6, zorder=3)}
fig, (ax, ax_loss) = new_figure(1, 2, figsize=(13, 5))
ax.contour(xs, ys, valley, levels=np.geomspace(0.05, 800, 18), cmap="Greys", linewidths=0.6)
for label in ["Nesterov 0.9, lr 1e-3", "momentum 0.9, lr 1e-3", "GD, lr 1e-3"]:
    path = runs[label]
    ax.plot(path[:, 0], path[:, 1], label=label, **STYLES[label])
    losses = (1 - path[:, 0]) ** 2 + 100 * (path[:, 1] - path[:, 0] ** 2) ** 2
    ax_loss.semilogy(losses, label=label, **STYLES[label])
ax.plot(1, 1, "k*", ms=14, zorder=5)
ax.set(xlabel="x (no unit)", ylabel="y (no unit)", title=f"Rosenbrock, {STEPS} steps from (−1.2, 1)")
ax.legend(loc="lower right", fontsize=12)
ax_loss.set(xlabel="step", ylabel="J(θ) (log scale)", title="loss")
ax_loss.legend(loc="lower left", fontsize=12)
print("saved", save_figure(fig, "03_rosenbrock"))
# an overshoot shows as a step that makes the loss go *up*: count them
uphill = {k: int(np.sum(np.diff((1 - p[:, 0]) ** 2 + 100 * (p[:, 1] - p[:, 0] ** 2) ** 2) > 0))
          for k, p in runs.items()}
print("steps on which the loss went up:", uphill)
claim(uphill["momentum 0.9, lr 1e-3"] > uphill["Nesterov 0.9, lr 1e-3"] >= uphill["GD, lr 1e-3"],
      "momentum overshoots; Nesterov's look-ahead damps the overshoot", uphill_steps=uphill)
claim(distance["momentum 0.9, lr 1e-3"] < 0.05 < distance["GD, lr 1e-3"]
      and distance["Nesterov 0.9, lr 1e-3"] < 0.05,
      "GD is still far up the valley floor; momentum and Nesterov reach the minimum", distance=distance)

# %% [markdown]
# GD is still far up the valley floor after all its steps; momentum takes steps up to
# $1/(1 - \mu) = 10$ times longer along the floor, where the gradients agree, and overshoots
# on the way — the steps on which its loss goes *up*, counted above; Nesterov's
# look-ahead damps the overshoot (fewer uphill steps).
#
# ### The animation, for class
#
# The same three runs, drawn step by step into a GIF (matplotlib's `PillowWriter`; Pillow
# comes with matplotlib). Open `figures/03_rosenbrock.gif` in a browser.

# %%
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402

frames = pick(60, 6)
fig, ax = new_figure(figsize=(9, 6.75))  # 900 × 675 px at dpi 100: readable on a projector
ax.contour(xs, ys, valley, levels=np.geomspace(0.05, 800, 18), cmap="Greys", linewidths=0.6)
ax.plot(1, 1, "k*", ms=12)
lines = [ax.plot([], [], "-", lw=1.4, color=c, label=k)[0] for k, c in zip(runs, ["C0", "C1", "C2"])]
heads = [ax.plot([], [], "o", ms=5, color=c)[0] for c in ["C0", "C1", "C2"]]
title = ax.set_title("")
ax.set(xlabel="x (no unit)", ylabel="y (no unit)")
ax.legend(loc="lower right")


def draw(frame: int):
    upto = int(np.geomspace(1, STEPS, frames)[frame])  # slow at the start, where things happen
    for line, head, path in zip(lines, heads, runs.values()):
        line.set_data(path[:upto, 0], path[:upto, 1])
        head.set_data(path[upto - 1: upto, 0], path[upto - 1: upto, 1])
    title.set_text(f"step {upto}")
    return [*lines, *heads, title]


gif_path = figure_dir() / "03_rosenbrock.gif"
FuncAnimation(fig, draw, frames=frames, blit=False).save(gif_path, writer=PillowWriter(fps=8), dpi=100)
save_figure(fig, "03_rosenbrock_last_frame")
print("saved", gif_path)

# %% [markdown]
# ## 4. Two ways to write momentum
#
# Run both forms on the same gradients (Rosenbrock again), first with a constant lr, then
# with the lr divided by 10 at step 200. PyTorch's form is minidl's `SGD`; Sutskever's is
# four lines below (minidl does not ship it).


# %%
def sutskever_momentum(lrs: list[float], mu: float, start=(-1.2, 1.0)) -> np.ndarray:
    theta = minidl.tensor(np.array(start, np.float32), requires_grad=True)
    velocity = minidl.zeros_like(theta)
    path = [theta.numpy().copy()]
    for lr in lrs:
        theta.grad = None
        rosenbrock(theta).backward()
        with minidl.no_grad():
            velocity = mu * velocity + lr * theta.grad  # v ← μv + lr·g
            theta.sub_(velocity)  # θ ← θ − v
        path.append(theta.numpy().copy())
    return np.array(path)


def pytorch_momentum(lrs: list[float], mu: float, start=(-1.2, 1.0)) -> np.ndarray:
    theta = minidl.tensor(np.array(start, np.float32), requires_grad=True)
    opt = optim.SGD([theta], lr=lrs[0], momentum=mu)
    path = [theta.numpy().copy()]
    for lr in lrs:
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        rosenbrock(theta).backward()
        opt.step()
        path.append(theta.numpy().copy())
    return np.array(path)


n_steps, drop_at = 400, 200
constant = [1e-3] * n_steps
dropped = [1e-3] * drop_at + [1e-4] * (n_steps - drop_at)
same_when_constant = float(np.abs(pytorch_momentum(constant, 0.9) - sutskever_momentum(constant, 0.9)).max())
a, b = pytorch_momentum(dropped, 0.9), sutskever_momentum(dropped, 0.9)
step_a, step_b = np.linalg.norm(np.diff(a, axis=0), axis=1), np.linalg.norm(np.diff(b, axis=0), axis=1)
print(f"constant lr: largest difference {same_when_constant:.2e}")
print(f"first step after the drop: PyTorch form {step_a[drop_at]:.2e}, Sutskever form {step_b[drop_at]:.2e}")

fig, ax = new_figure(figsize=(8, 4.6))
ax.semilogy(step_a, label="PyTorch: b = μb + g, θ −= lr·b")
ax.semilogy(step_b, "--", label="Sutskever: v = μv + lr·g, θ −= v")
ax.axvline(drop_at, color="grey", lw=0.8)
ax.set(xlabel="step", ylabel="‖θₜ₊₁ − θₜ‖ (step length)", title="lr ÷ 10 at step 200: the two forms part ways")
ax.legend(loc="lower left", fontsize=12)
print("saved", save_figure(fig, "03_momentum_forms"))
claim(same_when_constant < 1e-4 and step_b[drop_at] > 5 * step_a[drop_at],
      "equal while the lr is constant; at the drop PyTorch's step shrinks tenfold at once, Sutskever's does not",
      constant_gap=same_when_constant, pytorch=step_a[drop_at], sutskever=step_b[drop_at])

# %% [markdown]
# Up to the drop the curves lie on top of each other (float32 rounding apart). At the drop
# PyTorch's step shrinks tenfold at once — the lr multiplies the whole buffer — while
# Sutskever's velocity still holds the old, larger steps and fades over about $1/(1 - \mu) = 10$
# steps. Neither is wrong; they are different optimizers once a schedule is involved, so
# a paper's hyperparameters only transfer with the paper's form.
#
# ## Exercises
#
# **1. Momentum's effective learning rate.** Feed `SGD(lr=0.1, momentum=0.9)` the same
# gradient $g = 1$ for 100 steps. How far does $\theta$ move per step at the end? Write
# `momentum_step_limit(lr, momentum)`, the step it tends to for any $\mathrm{lr}$ and $\mu$, and run
# `minidl.course_checks.check("03.1", momentum_step_limit)` on it.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $\mathbf{b}_t = 1 + 0.9 + \dots + 0.9^{t-1} \to 1/(1 - 0.9) = 10$, so the step tends to
# $\mathrm{lr}\cdot 10 = 1.0$ — ten times plain SGD's:

# %% tags=["answer", "hide-cell"]
theta = minidl.tensor(np.zeros(1, np.float32), requires_grad=True)
opt = optim.SGD([theta], lr=0.1, momentum=0.9)
for _ in range(100):
    before = theta.item()
    theta.grad = minidl.tensor(np.ones(1, np.float32))
    opt.step()
last_step = before - theta.item()
print(f"step after 100 constant gradients: {last_step:.4f}")


def momentum_step_limit(lr: float, momentum: float) -> float:
    return lr / (1 - momentum)  # b → g/(1 − μ), and the step is lr·b


check("03.1", momentum_step_limit)

# %% [markdown]
# **2. The largest learning rate GD survives.** On $J(x) = \tfrac12 a x^2$ the GD step is
# $x \leftarrow (1 - \mathrm{lr}\cdot a)\, x$. For which $\mathrm{lr}$ does it diverge? Check with $a = 4$.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It converges iff $|1 - \mathrm{lr}\cdot a| < 1$, i.e. $0 < \mathrm{lr} < 2/a = 0.5$; at
# $\mathrm{lr} = 0.5$ it oscillates forever between $\pm x_0$, above it blows up. For a network the role
# of $a$ is played by the largest eigenvalue of the **Hessian** $H$ — the matrix of second derivatives
# $\partial^2 J/\partial\theta_i \partial\theta_j$, which for this parabola is the $1 \times 1$ matrix
# $(a)$; lesson 06 computes one. The
# steepest direction sets the speed limit for all others —
# the reason adaptive methods (lesson 04) exist.

# %% tags=["answer", "hide-cell"]
def gd_on_parabola(lr: float, a: float = 4.0, steps: int = 30) -> float:
    x = minidl.tensor(np.ones(1, np.float32), requires_grad=True)
    opt = optim.GD([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * a * x * x).sum().backward()
        opt.step()
    return abs(x.item())


parabola = {lr: gd_on_parabola(lr) for lr in (0.1, 0.45, 0.5, 0.55)}
print(parabola)

# %% [markdown]
# **3. "SGD picks random samples to save computation."** The source articles describe SGD
# this way. What does a batch of 16 save, and what does it cost, compared with GD on the
# digits training set?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Each step costs $16/1078 \approx 1.5\%$ of a full gradient, so SGD takes about 67 steps for
# the price of one GD step. The price is noise: at the initial weights a batch-16 gradient
# is off by about twice the true gradient's length (section 2). Steps still make progress
# because the noise is zero on average: over $k$ steps the true gradients add up ($\propto k$)
# while the noise only grows like $\sqrt{k}$. Near a minimum the true gradient shrinks and the
# noise does not, so SGD stalls at a noise floor unless the lr decays (lesson 04).

# %% tags=["answer", "hide-cell"]
print(f"relative error of a batch-16 gradient: {relative_error[16]:.2f}; "
      f"steps per full gradient: {len(digits) / 16:.0f}")
claim(1.2 < relative_error[16] < 3.0, "a batch-16 gradient is off by about twice the true gradient's length",
      relative_error=relative_error[16])


# %%
results = {
    "gd_distance_to_least_squares": endpoints["GD (all 200 samples)"],
    "sgd_batch1_distance_to_least_squares": endpoints["SGD, batch 1"],
    "batch_noise": relative_error,
    "batch_noise_slope": noise_slope,
    "rosenbrock_distance": distance,
    "momentum_forms_same_when_lr_constant": same_when_constant,
    "step_after_drop_pytorch": float(step_a[drop_at]),
    "step_after_drop_sutskever": float(step_b[drop_at]),
    "momentum_last_step": last_step,
    "gd_parabola_final": parabola,
    "gif": str(gif_path),
}
print(results)
