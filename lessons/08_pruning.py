# %% [markdown]
# # Lesson 08 — Pruning: masks, criteria, schedules, and making it pay
#
# ## What you will learn
#
# - What pruning *is* in code: a boolean **mask** and the reparametrization
#   `weight = weight_orig ⊙ weight_mask`, with PyTorch's rules for how much is pruned
#   (amounts, rounding, ties, pruning twice).
# - The classic bug — pruned weights brought back to life by momentum or weight decay —
#   and how minidl keeps them at exactly zero.
# - How to choose *which* weights go: magnitude, gradient, first-order Taylor, and the
#   second-order criteria Optimal Brain Damage (with a Hessian diagonal estimated from
#   Hessian-vector products) and Optimal Brain Surgeon (which also moves the survivors).
# - When to prune: one shot, gradually on Zhu & Gupta's cubic schedule, iteratively;
#   the lottery ticket and its random-reinitialization control; per-layer sensitivity.
# - Why a mask alone makes a model neither smaller nor faster — and what does:
#   **compaction** (a genuinely smaller dense model) and **sparse storage** (CSR) with a
#   kernel, measured honestly.
#
# Run it as a script (`python lessons/08_pruning.py`) or as a notebook with jupytext.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 12 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# A pruned weight tensor is a pair $(\theta, M)$ with a mask $M \in \{0, 1\}^n$, and the network computes with
#
# $$w = \theta \odot M \qquad\text{so}\qquad
#   \frac{\partial L}{\partial \theta} = \frac{\partial L}{\partial w} \odot M$$
#
# (`minidl.compress.prune.masks`). Which entries get $M = 0$ is decided by an importance
# score $I$ (`minidl.compress.prune.criteria`, one formula per function), with $g_k = \partial L/\partial w_k$:
#
# | criterion | $I(w_k)$ | |
# |---|---|---|
# | magnitude | $\lvert w_k\rvert$ | small weights matter little |
# | gradient | $E\,\lvert g_k\rvert$ | the loss barely reacts to $w_k$ |
# | Taylor (first order) | $\lvert w_k g_k\rvert$ | $\Delta L \approx -w_k g_k$ when $w_k \to 0$ |
# | Optimal Brain Damage | $\tfrac12 h_{kk} w_k^2$ | $\Delta L$ at a minimum, Hessian taken diagonal |
# | Optimal Brain Surgeon | $w_q^2 / (2\, [H^{-1}]_{qq})$ | $\Delta L$ when the others move by $\delta w$ (below) |
#
# Optimal Brain Surgeon removes $w_q$ and moves the other weights by
# $\delta w = -(w_q/[H^{-1}]_{qq})\, H^{-1} e_q$, with $e_q$ the $q$-th unit vector.
#
# The Hessian diagonal $h_{kk}$ comes from Hessian-vector products $Hv = \partial(g \cdot v)/\partial w$ (one more
# backward pass through the gradient, `minidl.grad(..., create_graph=True)`) and
# Hutchinson's estimator $\mathrm{diag}(H) = E[v \odot Hv]$ for random $\pm 1$ vectors $v$.
#
# How much: `amount` is a count (int) or a fraction (float) of the $n$ units still alive,
# $k = \mathrm{round}(\mathrm{amount} \cdot n)$ with Python's round-half-to-even; exactly $k$ units go, ties broken
# by position (lowest index first). Gradual pruning follows
#
# $$\mathrm{sp}_t = \mathrm{sp}_f + (\mathrm{sp}_i - \mathrm{sp}_f)\left(1 - \frac{t - t_0}{n\,\Delta t}\right)^3$$
#
# (Zhu & Gupta 2017): the target sparsity $\mathrm{sp}_t$ moves from the initial $\mathrm{sp}_i$ to the
# final $\mathrm{sp}_f$ over $n$ pruning steps $\Delta t$ apart, starting at step $t_0$ — fast at first, slowly
# at the end.

# %%
import copy
import os
from pathlib import Path

import numpy as np

import minidl
from minidl import nn, optim
from minidl.compress import prune
from minidl.course import claim, fast_mode, new_figure, pick, save_figure, timing_verdict
from minidl.course_checks import check
from minidl.data import DataLoader, load_digits
from minidl.perf import measure
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

minidl.manual_seed(0)
train, val, test = (load_digits(split, seed=0) for split in ("train", "val", "test"))
loss_fn = nn.functional.cross_entropy
DENSE_EPOCHS = pick(30, 8)


def loader(data=train, batch_size=32):
    return DataLoader(data, batch_size=batch_size, shuffle=True, seed=0)


def accuracy(model, data=test) -> float:
    return evaluate(model, DataLoader(data, batch_size=512))["accuracy"]


def train_dense(seed: int = 0, sizes=(64, 128, 10)):
    minidl.manual_seed(seed)
    model = nn.MLP(list(sizes))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    fit(model, loss_fn, opt, loader(), epochs=DENSE_EPOCHS, progress=False)
    return model


dense = train_dense()
dense_accuracy = accuracy(dense)
print(f"dense 64-128-10 MLP: test accuracy {dense_accuracy:.1%} after {DENSE_EPOCHS} epochs")

# %% [markdown]
# ## 1. A mask, not a smaller model
#
# `prune.l1_unstructured(module, "weight", amount)` replaces the parameter `weight` by
# `weight_orig` (the *same* Parameter object, so an optimizer built earlier keeps
# working), adds a boolean buffer `weight_mask`, and a forward pre-hook that recomputes
# `weight = weight_orig * weight_mask` before every forward pass. The semantics vector
# from PyTorch's documentation-by-example: prune 2 entries, twice.

# %%
layer = nn.Linear(4, 2)
with minidl.no_grad():
    layer.weight.copy_(np.array([[1, 2, 3, 4], [-4, -3, -2, -1]], dtype=np.float32))  # host: example data
prune.l1_unstructured(layer, "weight", amount=2)
print("after one call: ", layer.weight.tolist())
prune.l1_unstructured(layer, "weight", amount=2)
print("after two calls:", layer.weight.tolist(), "(the second acts on the survivors)")
print("state_dict keys:", list(layer.state_dict()), "| mask dtype:", layer.weight_mask.dtype)
repeated_ok = layer.weight.tolist() == [[0, 0, 3, 4], [-4, -3, 0, 0]]
assert repeated_ok

# The gradient reaching weight_orig is masked: pruned entries get exactly 0.
layer(minidl.randn(3, 4)).sum().backward()
print("∂L/∂weight_orig:\n", np.array2string(layer.weight_orig.grad.numpy(), precision=3))
gradient_masked = bool(np.all(layer.weight_orig.grad.numpy()[~layer.weight_mask.numpy()] == 0))

# Amounts: a float is a fraction of what is still alive, rounded half to even.
for amount, n in ((0.4, 17), (0.5, 5), (0.5, 7), (1, 17), (1.0, 17)):
    print(f"amount={amount!r:>4} of {n:2d} alive units → prune {prune.count_to_prune(amount, n)}")

# %% [markdown]
# (The printed `-0.` entries are IEEE negative zeros: $-4 \cdot 0 = -0$. They equal 0.)
#
# ## 2. The classic bug: momentum brings pruned weights back
#
# A tempting shortcut is to set small weights to zero once and keep training. With
# momentum, the velocity built up before pruning keeps pushing; weight decay and Adam's
# moments do the same. Let us count.

# %%
def after_pruning_steps(style: str, steps: int = 20):
    """Prune 70% of the first layer of a model trained with momentum + weight decay, then train on."""
    model = copy.deepcopy(dense)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    batches = list(loader())
    for x, y in batches[:5]:  # build up some momentum
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    w = model[0].weight
    magnitude = np.abs(w.numpy())  # a host copy: the 70% smallest, with NumPy's quantile
    pruned = magnitude < np.quantile(magnitude, 0.7)
    if style == "naive":
        with minidl.no_grad():
            w[pruned] = 0.0
    else:
        prune.from_mask(model[0], "weight", ~pruned)
        if style == "mask + enforce_masks":
            prune.enforce_masks(opt, model)
    for x, y in batches[5:5 + steps]:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    effective = minidl.backend.to_numpy(prune.current_weight(model[0], "weight"))
    stored = prune.learnable(model[0], "weight").numpy()
    return int(np.count_nonzero(effective[pruned])), int(np.count_nonzero(stored[pruned])), int(pruned.sum())


revived = {}
for style in ("naive", "mask only", "mask + enforce_masks"):
    nonzero_effective, nonzero_stored, total = after_pruning_steps(style)
    revived[style] = nonzero_effective
    print(f"{style:22s}: {nonzero_effective:5d} of {total} pruned weights are nonzero in the model; "
          f"{nonzero_stored:5d} in the stored parameter")

# %% [markdown]
# Naive zeroing is undone within a step. With a mask the model's weights stay zero
# (they are multiplied by 0), but the stored `weight_orig` drifts — harmless until someone
# removes the mask or rewinds. `prune.enforce_masks(optimizer, model)` registers an
# optimizer *step post-hook* that re-applies every mask after each step, so the stored
# values are exactly zero too, whatever the optimizer keeps in its state.
#
# ## 3. Which weights? Criteria, compared in one shot
#
# Prune the trained MLP to several sparsities with each criterion (one global ranking
# over both weight matrices), *without* any retraining. Gradient-based scores are
# measured on a few training batches. For Taylor we average $|w g|$ per batch
# ($E_b |w g_b| = |w|\, E_b |g_b|$): at a minimum the *mean* gradient is $\approx 0$, so $|w \bar g|$
# would rank noise.

# %%
score_batches = list(loader(batch_size=256))[:pick(4, 1)]


def importance(model, criterion: str, probes: int = pick(8, 2)):
    """Importance scores {(module, name): array} for ``criterion`` on ``model``'s current weights."""
    targets = prune.parameters_to_prune(model)
    if criterion in ("magnitude", "random"):
        return None  # built into global_unstructured
    mean, mean_abs = prune.average_gradients(model, loss_fn, score_batches, targets)
    if criterion == "gradient":
        return {t: prune.gradient_saliency(mean_abs[t]) for t in targets}
    if criterion == "taylor":
        return {t: prune.taylor_saliency(prune.current_weight(*t), mean_abs[t]) for t in targets}
    if criterion == "obd":
        h = prune.hessian_diagonal(model, loss_fn, score_batches, targets, samples=probes)
        return {t: prune.obd_saliency(prune.current_weight(*t), h[t]) for t in targets}
    raise ValueError(criterion)


SPARSITIES = [0.5, 0.7, 0.8, 0.9, 0.95]
CRITERIA = ["random", "gradient", "magnitude", "taylor", "obd"]
one_shot = {}
for criterion in CRITERIA:
    model = copy.deepcopy(dense)
    targets = prune.parameters_to_prune(model)
    scores = importance(model, criterion)
    method = prune.random_unstructured if criterion == "random" else prune.l1_unstructured
    one_shot[criterion] = []
    for s in SPARSITIES:
        with prune.masks_restored(targets):
            prune.prune_to_sparsity(targets, s, pruning_method=method, importance_scores=scores)
            one_shot[criterion].append(accuracy(model))
    row = "  ".join(f"{s:.0%}: {a:.1%}" for s, a in zip(SPARSITIES, one_shot[criterion]))
    print(f"{criterion:9s} {row}")
at_90 = {c: one_shot[c][SPARSITIES.index(0.9)] for c in CRITERIA}
best_90 = max(("magnitude", "obd"), key=at_90.get)
print(f"at 90% sparsity, one shot: magnitude {at_90['magnitude']:.1%}, OBD {at_90['obd']:.1%} — in this run "
      f"{best_90} keeps more; the gradient keeps {at_90['gradient']:.1%}, random {at_90['random']:.1%}")
claim(min(at_90["magnitude"], at_90["obd"]) > at_90["random"] + 0.1
      and at_90["gradient"] < min(at_90["magnitude"], at_90["obd"], at_90["taylor"]),
      "magnitude and OBD keep far more than random at high sparsity; the gradient alone is the worst "
      "informed criterion", at_90=at_90)

# %% [markdown]
# Magnitude and OBD are far ahead of random and of the gradient at high sparsity, but
# neither wins reliably: which one keeps more at 90% changes with the trained model (the
# quick and the full version of this lesson disagree; the line above says what this run
# found). OBD's idea is right — a weight can be large and still sit in a flat direction
# of the loss, or small in a steep one — but its estimate is rough in three ways: the
# Hessian diagonal comes from a few Hutchinson probes (the check below shows how noisy
# that is), the off-diagonal terms are ignored, and $\tfrac12 h w^2$ predicts the loss of removing
# *one* weight while we remove 90% of them at once, far outside the region where the
# quadratic model of the loss holds. The gradient alone is the worst informed criterion,
# barely better than random: after training it mostly measures noise.
#
# **Is the Hessian diagonal right?** On a tiny network (float64) compare three estimates:
# exact (one Hessian-vector product per weight), Hutchinson with a few random ±1 vectors,
# and central differences of the gradient.

# %%
minidl.set_default_dtype("float64")
try:
    minidl.manual_seed(1)
    tiny = nn.MLP([3, 4, 2], activation=nn.Tanh).double()
    xt, yt = minidl.randn(8, 3, dtype="float64"), minidl.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    t_tiny = [(tiny[2], "weight")]
    to_numpy = minidl.backend.to_numpy  # the estimates live where the model does; compare on the host
    exact_diag = to_numpy(prune.hessian_diagonal(tiny, loss_fn, [(xt, yt)], t_tiny, method="exact")[t_tiny[0]])
    hutch = {n: to_numpy(prune.hessian_diagonal(tiny, loss_fn, [(xt, yt)], t_tiny, samples=n,
                                                generator=np.random.default_rng(0))[t_tiny[0]])  # host rng
             for n in (4, 64, 1024)}
    w = tiny[2].weight
    fd = np.zeros(w.numel())  # host: float64 reference
    for k in range(w.numel()):
        grads = []
        for sign in (1, -1):
            w.data.reshape(-1)[k] += sign * 1e-5
            grads.append(minidl.grad(loss_fn(tiny(xt), yt), [w])[0].numpy().reshape(-1)[k])
            w.data.reshape(-1)[k] -= sign * 1e-5
        fd[k] = (grads[0] - grads[1]) / 2e-5
finally:
    minidl.set_default_dtype("float32")
hessian_exact_vs_fd = float(np.abs(exact_diag.reshape(-1) - fd).max())
print(f"exact (HVP) vs central differences: max |Δ| = {hessian_exact_vs_fd:.1e}")
for n, est in hutch.items():
    print(f"Hutchinson, {n:4d} probes: max relative error "
          f"{np.abs(est - exact_diag).max() / np.abs(exact_diag).max():.2f}")

# %% [markdown]
# **Optimal Brain Surgeon** goes one step further: it uses the whole (inverse) Hessian
# of one layer, removes the weight whose removal costs least, and *moves the others* to
# compensate. On a least-squares layer the loss is exactly quadratic, so OBS's promise —
# the loss increase equals the sum of saliencies, and the survivors end up at the best
# fit — can be checked to the last digit. Inputs 0 and 4 are strongly correlated, so
# when input 4 goes, weight 0 can take over its job.

# %%
rng = np.random.default_rng(0)  # host: example data
xs = rng.standard_normal((60, 6))
xs[:, 4] = xs[:, 0] + 0.2 * rng.standard_normal(60)  # correlated inputs: compensation matters
ys = xs @ np.array([1.0, -0.6, 0.3, 0.05, 0.9, -0.1]) + 0.1 * rng.standard_normal(60)  # host
ls = nn.Linear(6, 1, bias=False).double()
with minidl.no_grad():
    ls.weight.copy_(np.linalg.lstsq(xs, ys, rcond=None)[0][None, :])
batch = [(minidl.tensor(xs), minidl.tensor(ys[:, None]))]
H = prune.hessian(ls, nn.functional.mse_loss, batch, (ls, "weight"))


def mse(w):
    return float(np.mean((xs @ w - ys) ** 2))


w_star = ls.weight.numpy()[0].copy()
naive = prune.obd_saliency(w_star, np.diag(minidl.backend.to_numpy(H)))
zeroed = w_star.copy()
zeroed[np.argsort(naive, kind="stable")[:3]] = 0  # OBD's choice, no compensation
saliencies = prune.obs_prune(ls, "weight", H, amount=3)
obs_w = minidl.backend.to_numpy(prune.current_weight(ls, "weight"))[0]
obs_increase, obd_increase = mse(obs_w) - mse(w_star), mse(zeroed) - mse(w_star)
print("least-squares weights:", np.round(w_star, 2))
print("OBD zeroes three:     ", np.round(zeroed, 2), f"loss +{obd_increase:.4f}")
print("OBS removes three:    ", np.round(obs_w, 2), f"loss +{obs_increase:.4f} "
      f"(= the sum of its saliencies, {sum(saliencies):.4f})")

# %% [markdown]
# ## 4. When to prune: one shot, gradual, iterative
#
# Retraining repairs most of the damage. Compare, at 80/90/95% sparsity and for three
# criteria: one-shot pruning then fine-tuning, and gradual pruning on the cubic schedule
# during the same number of epochs. `enforce_masks` keeps every pruned weight at zero.

# %%
PRUNE_EPOCHS, TUNE_EPOCHS = pick(16, 3), pick(10, 2)
steps_per_epoch = len(loader())


def one_shot_then_fine_tune(criterion: str, s: float):
    model = copy.deepcopy(dense)
    targets = prune.parameters_to_prune(model)
    prune.prune_to_sparsity(targets, s, importance_scores=importance(model, criterion))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    prune.enforce_masks(opt, model)
    fit(model, loss_fn, opt, loader(), epochs=PRUNE_EPOCHS + TUNE_EPOCHS, progress=False)
    return accuracy(model)


def gradual(criterion: str, s: float):
    model = copy.deepcopy(dense)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    prune.enforce_masks(opt, model)
    scores = None if criterion == "magnitude" else (lambda: importance(model, criterion, 2))
    pruner = prune.GradualPruner(prune.parameters_to_prune(model), s, begin_step=0,
                                 end_step=steps_per_epoch * PRUNE_EPOCHS, frequency=steps_per_epoch,
                                 importance=scores)
    fit(model, loss_fn, opt, loader(), epochs=PRUNE_EPOCHS + TUNE_EPOCHS, progress=False,
        on_step_end=pruner.step)
    return accuracy(model), model


CURVE_SPARSITIES = pick([0.8, 0.9, 0.95], [0.9])
curves = {"one-shot + fine-tune": {}, "gradual": {}}
gradual_models = {}
for criterion in ("magnitude", "taylor", "obd"):
    curves["one-shot + fine-tune"][criterion] = [one_shot_then_fine_tune(criterion, s)
                                                  for s in CURVE_SPARSITIES]
    runs = [gradual(criterion, s) for s in CURVE_SPARSITIES]
    curves["gradual"][criterion] = [a for a, _ in runs]
    gradual_models[criterion] = runs[CURVE_SPARSITIES.index(0.9)][1]
    shot = " ".join(f"{a:.1%}" for a in curves["one-shot + fine-tune"][criterion])
    grad = " ".join(f"{a:.1%}" for a in curves["gradual"][criterion])
    print(f"{criterion:9s} one-shot + fine-tune {shot} | gradual {grad}")

pruned_90 = gradual_models["magnitude"]
gradual_90_accuracy = curves["gradual"]["magnitude"][CURVE_SPARSITIES.index(0.9)]
drop_points = 100 * (dense_accuracy - gradual_90_accuracy)
print(f"90% global magnitude, gradual + fine-tuning: {gradual_90_accuracy:.1%} "
      f"({drop_points:.1f} points below dense {dense_accuracy:.1%})")

# %%
fig, (ax_s, ax_o, ax_c) = new_figure(1, 3, figsize=(18, 5.4))
t = np.arange(0, 101)  # host: plotting grid
ax_s.plot(t, [100 * prune.cubic_sparsity(int(k), 0.0, 0.9, 10, 90, 10) for k in t], drawstyle="steps-post")
ax_s.set(xlabel="training step t", ylabel="target sparsity (%)",
         title="Zhu & Gupta: sp_f + (sp_i − sp_f)(1 − …)³")
ax_s.grid(alpha=0.3)
colors = {"random": "tab:gray", "gradient": "tab:purple", "magnitude": "tab:blue", "taylor": "tab:orange",
          "obd": "tab:green"}
for criterion in CRITERIA:
    ax_o.plot([100 * s for s in SPARSITIES], [100 * a for a in one_shot[criterion]], color=colors[criterion],
              marker="o", label=criterion)
ax_o.set(xlabel="sparsity (%)", ylabel="test accuracy (%)", ylim=(0, 100), title="One shot, no retraining")
ax_c.set(xlabel="sparsity (%)", ylabel="test accuracy (%)", title="With retraining (note the scale)")
for criterion in ("magnitude", "taylor", "obd"):
    xs_curve = [100 * s for s in CURVE_SPARSITIES]
    ax_c.plot(xs_curve, [100 * a for a in curves["one-shot + fine-tune"][criterion]], color=colors[criterion],
              linestyle="--", marker="s", label=f"{criterion}: one shot + fine-tune")
    ax_c.plot(xs_curve, [100 * a for a in curves["gradual"][criterion]], color=colors[criterion], marker="o",
              label=f"{criterion}: gradual")
for ax in (ax_o, ax_c):
    ax.axhline(100 * dense_accuracy, color="black", linestyle=":", label="dense")
    ax.legend(fontsize=12, loc="lower left")
fig.tight_layout()
print("figure:", save_figure(fig, "08_sparsity_vs_accuracy"))

# %% [markdown]
# ## 5. The lottery ticket
#
# Frankle & Carbin's procedure: train, prune a fraction of the survivors by magnitude,
# **rewind** the survivors to their initial values $\theta_0$, train again, repeat. The control
# keeps the same masks but re-draws the survivors at random. If the ticket beats the
# control, the *initial values* of the survivors mattered, not only the architecture.

# %%
LT_ROUNDS, LT_EPOCHS, LT_RATE = pick(4, 2), pick(15, 3), 0.45


def lottery(control: bool):
    minidl.manual_seed(7)
    model = nn.MLP([64, 128, 10])
    targets = prune.parameters_to_prune(model)
    theta0 = prune.snapshot(targets)

    def train_round(r):
        opt = optim.Adam(model.parameters(), lr=3e-3)  # a fresh optimizer each round, as in the paper
        prune.enforce_masks(opt, model)
        fit(model, loss_fn, opt, loader(), epochs=LT_EPOCHS, progress=False)
        return accuracy(model)

    return prune.lottery_ticket(targets, train_round, rounds=LT_ROUNDS, rate=LT_RATE, rewind_to=theta0,
                                control=control)


ticket, control = lottery(False), lottery(True)
for (s, a), (_, b) in zip(ticket, control):
    print(f"sparsity {s:5.1%}: winning ticket {a:.1%}   random re-init {b:.1%}")
# one standard error of an accuracy measured on len(test) digits, in points
standard_error = 100 * np.sqrt(ticket[-1][1] * (1 - ticket[-1][1]) / len(test))
gaps = [100 * (a - b) for (_, a), (_, b) in zip(ticket[1:], control[1:])]
if all(abs(g) <= 2 * standard_error for g in gaps):
    verdict = "within noise: no round separates ticket and control by more than two standard errors"
elif all(g > 0 for g in gaps):
    verdict = "the ticket is ahead in every pruned round"
elif all(g < 0 for g in gaps):
    verdict = "the control is ahead in every pruned round"
else:
    verdict = "mixed: each wins some rounds, so neither advantage is systematic"
print(f"ticket − control per pruned round: {', '.join(f'{g:+.1f}' for g in gaps)} points; one standard error "
      f"on {len(test)} test digits ≈ {standard_error:.1f} points → {verdict}")

fig, ax = new_figure(figsize=(8, 5))
ax.errorbar([100 * s for s, _ in ticket], [100 * a for _, a in ticket], yerr=standard_error, marker="o",
            capsize=4, label="rewind to θ₀ (ticket)")
ax.errorbar([100 * s for s, _ in control], [100 * a for _, a in control], yerr=standard_error, marker="s",
            capsize=4, label="random re-init (control)")
ax.set(xlabel="sparsity (%)", ylabel="test accuracy (%, ± one standard error)",
       title="Lottery ticket on the digits MLP")
ax.legend(loc="lower left")
print("figure:", save_figure(fig, "08_lottery_ticket"))

# %% [markdown]
# How to read it: the test set has a few hundred digits, so an accuracy is only known to
# about one standard error, $\sqrt{a(1 - a)/n}$ for an accuracy $a$ on $n$ digits — the error bars,
# and the verdict printed above.
# In the full version of this lesson the two curves stay within a couple of points of each
# other, and the control even finishes ahead at the highest sparsity; the quick version,
# with three epochs per round, favours the ticket. A small, heavily over-parameterized MLP
# trained with Adam does not need its lucky initial values: the mask (the architecture)
# carries what matters. Frankle & Carbin's winning tickets stand out at higher sparsities
# and, on deeper networks, only when rewound to an early training iterate rather than to
# $\theta_0$; Liu et al. (2019, "Rethinking the value of network pruning") found random re-init
# as good on many networks trained with larger learning rates. The experiment is the
# lesson: run the control before believing a ticket.
#
# ## 6. Which layers can take it? Sensitivity
#
# Prune one layer at a time, without retraining, and watch the accuracy.

# %%
sensitivity = prune.layer_sensitivity(dense, lambda m: 100 * accuracy(m), [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99],
                                       metric_name="test accuracy (%)")  # in percent, like every accuracy axis
print(sensitivity)
high = [i for i, sp in enumerate(sensitivity.sparsities) if sp >= 0.9]
first_layer, output_layer = sensitivity.metric["0.weight"], sensitivity.metric["2.weight"]
claim(all(output_layer[i] < first_layer[i] for i in high),
      "the output layer is the fragile one (lower accuracy at 90% and above)",
      first_layer=first_layer, output_layer=output_layer)
print("figure:", save_figure(sensitivity.plot("Digits MLP: one layer pruned at a time"), "08_sensitivity"))

# %% [markdown]
# The 10×128 output layer is the fragile one here (lower accuracy at 90% and above, in the
# table): every class logit depends on it, and it holds only 1,280 of the 9,472 weights.
# A global ranking prunes it less than the first layer for the same reason.
#
# ## 7. A mask alone makes nothing smaller or faster
#
# The 90%-sparse model still stores every weight (zeros included) *plus* a mask, and a
# dense matrix product multiplies the zeros like any other number. Three honest ways out:
#
# 1. **Compaction** — structured pruning removes whole neurons; `prune.compact` then
#    builds a genuinely smaller dense model with the same outputs.
# 2. **Sparse storage** — CSR keeps only the nonzeros (values + column indices + row
#    offsets); `prune.to_sparse` swaps sparse-enough Linear layers for `SparseLinear`,
#    whose Numba kernel does work in proportion to the nonzeros.
# 3. Nothing, when the sparsity is too low or the batch too small for (2) to pay.

# %%
print(prune.sparsity_report(pruned_90))

structured = copy.deepcopy(dense)
# 96 of 128 neurons, and their biases: the removed neurons must output exactly 0 for compaction to
# drop them (PyTorch's ln_structured leaves biases alone; prune_bias=True is minidl's option for this)
prune.ln_structured(structured[0], "weight", amount=0.75, n=2, dim=0, prune_bias=True)
opt = optim.Adam(structured.parameters(), lr=2e-3)
prune.enforce_masks(opt, structured)
fit(structured, loss_fn, opt, loader(), epochs=pick(8, 2), progress=False)
compacted, compaction = prune.compact(structured)
print(compaction)
x_check = minidl.tensor(test[:64][0])
same_outputs = bool(np.allclose(compacted(x_check).numpy(), structured(x_check).numpy(),
                                rtol=1e-5, atol=1e-6))
compacted_accuracy = accuracy(compacted)
print(f"compacted model: {compacted}, accuracy {compacted_accuracy:.1%}, same outputs: {same_outputs}")

csr_model = prune.to_sparse(pruned_90)
report_90 = prune.sparsity_report(pruned_90)
sizes = {"dense": report_90.dense_bytes, "masked": report_90.dense_bytes + report_90.mask_bytes,
         "CSR": report_90.sparse_bytes, "compacted": compaction.bytes_after}

# %% [markdown]
# Now latency. The digits MLP is so small that Python overhead dominates, so we also time
# the benchmark's layer: 784→256 (the first layer of an MNIST MLP) at 95% sparsity.

# %%
repeats, budget = pick(5, 2), pick(0.01, 0.001)  # budget: seconds per timing
latency = {}
for name, model in (("dense", dense), ("masked 90%", pruned_90), ("CSR 90%", csr_model),
                    ("compacted", compacted)):
    latency[name] = [prune.time_forward(model, minidl.tensor(test[:b][0]), repeats=repeats,
                                        target_seconds=budget) for b in (1, 128)]

minidl.manual_seed(0)
big_dense = nn.Linear(784, 256)
big_masked = copy.deepcopy(big_dense)
prune.l1_unstructured(big_masked, "weight", amount=0.95)
big_csr = prune.SparseLinear.from_linear(big_masked)


def forward_of(m, x):
    def call() -> None:
        with minidl.no_grad():
            m(x)
    return call


big, big_spread = {}, {}
for b in (1, 128):
    x = minidl.randn(b, 784)
    # interleaved rounds, medians and spreads (lesson 14): the three layers share the machine's mood
    timed = measure({name: forward_of(m, x) for name, m in (("dense", big_dense), ("masked", big_masked),
                                                             ("CSR", big_csr))},
                    number=pick(50, 10), rounds=pick(9, 5))
    big[b] = {name: t.median for name, t in timed.items()}
    big_spread[b] = {name: t.spread for name, t in timed.items()}
csr_speedup = {b: big[b]["dense"] / big[b]["CSR"] for b in (1, 128)}

print(f"{'model':12s} {'batch 1':>10s} {'batch 128':>10s}")
for name, (t1, t128) in latency.items():
    print(f"{name:12s} {1e6 * t1:8.0f}µs {1e6 * t128:8.0f}µs")
for b in (1, 128):
    row = "  ".join(f"{k} {1e6 * v:.0f} µs ± {big_spread[b][k]:.0%}" for k, v in big[b].items())
    print(f"784→256 at 95%, batch {b:3d}: {row}  → CSR {csr_speedup[b]:.2f}× the dense speed")
timing_verdict(big[128]["masked"] > big[128]["dense"] and csr_speedup[128] > 1.5,
      "the masked layer is slower than the dense one; CSR wins at batch 128",
      times_batch_128=big[128], csr_speedup=csr_speedup)

fig, (ax_b, ax_l) = new_figure(1, 2, figsize=(14, 5))
ax_b.bar(list(sizes), [v / 1024 for v in sizes.values()], color=["gray", "tab:red", "tab:blue", "tab:green"])
ax_b.set(xlabel="storage format", ylabel="size (KiB)", title="Digits MLP at 90% sparsity: bytes stored")
names = list(big[1])
xpos = np.arange(len(names))  # host: bar positions
per_sample = {b: [1e6 * big[b][n] / b for n in names] for b in (1, 128)}
for b, offset in ((1, -0.2), (128, 0.2)):
    ax_l.bar(xpos + offset, per_sample[b], width=0.4,
             yerr=[v * big_spread[b][n] for v, n in zip(per_sample[b], names)], capsize=4,
             label="batch 1" if b == 1 else "batch 128 (per sample)")
ax_l.set_xticks(xpos, names)
ax_l.set(xlabel="layer implementation", ylabel="time per sample (µs, median ± spread)",
         title="784→256 layer at 95% sparsity",
         ylim=(0, 1.35 * max(per_sample[1] + per_sample[128])))  # headroom: the legend sits above the bars
ax_l.legend(loc="upper center", ncol=2)
fig.tight_layout()
print("figure:", save_figure(fig, "08_size_and_latency"))

# %% [markdown]
# Each timing is the median of interleaved rounds with its spread (lesson 14), on one BLAS
# thread (set at the top of the lesson); the benchmark (`benchmarks/bench_prune.py`, in
# `make bench`) measures the same layers more thoroughly. What they show, and why:
#
# - the masked layer is *slower* than the dense one (the same product, plus a multiply
#   by the mask on every call) and bigger (a mask byte per weight);
# - CSR wins big at batch 128 — each nonzero is one vectorized AXPY over the batch (BLAS's
#   name for $y \leftarrow a x + y$: a vector scaled by one number and added to another) — but
#   at batch 1 it is a race between an indexed gather per nonzero and a BLAS GEMV that
#   streams the dense matrix at full speed. At 95% the printout gives the ratio; at lower
#   sparsity CSR does proportionally more work while the dense product does not, so below
#   ~90% dense wins at batch 1 (`make bench` measures it). That is where sparsity does
#   not pay;
# - compaction always pays, because it is still a dense product — just a smaller one —
#   but it needs *structured* sparsity (whole neurons).

# %% [markdown]
# ## 8. On MNIST (when the files are available)
#
# The same recipe on a 784-256-10 MLP and 10,000 MNIST training images, in full mode.
# `load_mnist` finds the files in the shared data folder, `$MINIDL_DATA` or its cache, and
# otherwise downloads them once (checking their checksums); offline, this part is skipped
# and the digits results above stand.

# %%
def shared_data_folder():
    """../shared/data beside the repository, where the course's datasets live in class (or None)."""
    from minidl.course import lessons_dir

    default = lessons_dir().resolve().parent.parent / "shared" / "data"
    candidate = Path(os.environ.get("MINIDL_SHARED_DATA", default))
    return candidate if (candidate / "mnist").is_dir() else None


mnist = None
splits = None if fast_mode() else minidl.data.load_mnist_if_available(root=shared_data_folder())
if splits is not None:
    mnist_train, mnist_test = splits
    subset = mnist_train[np.arange(10_000)]  # host: first 10,000 images
    from minidl.data import ArrayDataset

    small_train = ArrayDataset(*subset)
    mloader = DataLoader(small_train, batch_size=64, shuffle=True, seed=0)
    minidl.manual_seed(0)
    mlp = nn.MLP([784, 256, 10])
    fit(mlp, loss_fn, optim.Adam(mlp.parameters(), lr=1e-3), mloader, epochs=5, progress=False)
    mnist_dense = accuracy(mlp, mnist_test)
    opt = optim.Adam(mlp.parameters(), lr=1e-3)
    prune.enforce_masks(opt, mlp)
    pr = prune.GradualPruner(prune.parameters_to_prune(mlp), 0.9, 0, 4 * len(mloader), len(mloader) // 2)
    fit(mlp, loss_fn, opt, mloader, epochs=6, progress=False, on_step_end=pr.step)
    mnist = {"dense_accuracy": mnist_dense, "pruned_90_accuracy": accuracy(mlp, mnist_test),
             "sparsity": pr.sparsity}
    print(f"MNIST: dense {mnist_dense:.1%}, 90% sparse after gradual pruning "
          f"{mnist['pruned_90_accuracy']:.1%}")
else:
    print("MNIST part skipped (fast mode, or no load_mnist / no local MNIST files): digits only.")

# %% [markdown]
# ## Exercises
#
# **1. The "prune" that prunes nothing.** One of the source articles prunes a model with
#
#     for param in model.parameters():
#         param.data.abs().clamp_(epsilon, 1 - epsilon)
#
# Before reading on: what does it do to the weights? Write it in minidl terms and test it.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Two bugs. `param.data.abs()` makes a **new** array, so `clamp_` changes that
# copy and the parameters are untouched: nothing happens at all. And even applied in
# place, clamping $|w|$ into $[\varepsilon, 1 - \varepsilon]$ zeroes nothing — it pushes every weight *away*
# from zero (to at least $\varepsilon$), throws away every sign and caps large weights at $1 - \varepsilon$:
# it destroys the model instead of pruning it. Pruning means a mask; the article's own
# formula "remove the $w$ with $|w| < \varepsilon$" is `from_mask(module, "weight", abs(w) >= ε)`.

# %% tags=["answer", "hide-cell"]
def articles_prune(model, epsilon):
    """The source article's function, line for line in minidl."""
    with minidl.no_grad():
        for param in model.parameters():
            param.abs().clamp_(epsilon, 1 - epsilon)  # abs() returns a new tensor: the copy is clamped


def articles_prune_in_place(model, epsilon):
    """What it might have meant to do: clamp the magnitudes in place."""
    with minidl.no_grad():
        for param in model.parameters():
            param.copy_(param.abs().clamp_(epsilon, 1 - epsilon))  # the clamped copy, written back


epsilon = 0.05
victim = copy.deepcopy(dense)
before = [p.numpy().copy() for p in victim.parameters()]
articles_prune(victim, epsilon)
broken_prune_changed_nothing = all(np.array_equal(a, p.numpy()) for a, p in zip(before, victim.parameters()))
articles_prune_in_place(victim, epsilon)
broken_prune_zeros = sum(int((p.data == 0).sum()) for p in victim.parameters())
broken_prune_accuracy = accuracy(victim)

fixed = copy.deepcopy(dense)
for module, name in prune.parameters_to_prune(fixed):
    prune.from_mask(module, name, abs(prune.current_weight(module, name)) >= epsilon)
threshold_sparsity = prune.sparsity(prune.parameters_to_prune(fixed))
print(f"as written: parameters unchanged = {broken_prune_changed_nothing}")
print(f"in place: {broken_prune_zeros} zeros, accuracy {broken_prune_accuracy:.1%} "
      f"(dense {dense_accuracy:.1%})")
print(f"a real threshold mask |w| ≥ {epsilon}: sparsity {threshold_sparsity:.1%}, "
      f"accuracy {accuracy(fixed):.1%}")
assert broken_prune_changed_nothing and broken_prune_zeros == 0

# %% [markdown]
# **2. `global_unstructured(model, ...)`.** Another article calls
# `prune.global_unstructured(model, pruning_method=prune.L1Unstructured, amount=0.5)` and
# then loads a checkpoint into the pruned model. What goes wrong, twice?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Global pruning needs the *tensors* to rank together — `(module, name)` pairs —
# not a model; minidl says so (PyTorch only says "not an Iterable"). Second, after
# pruning the state dict has `weight_orig` and `weight_mask` instead of `weight`, so a
# checkpoint of the unpruned model no longer fits: load first, *then* prune (or use
# `prune.load_pruned_state_dict` for a checkpoint saved from a pruned model).

# %% tags=["answer", "hide-cell"]
model = copy.deepcopy(dense)
try:
    prune.global_unstructured(model, pruning_method=prune.l1_unstructured, amount=0.5)
    global_misuse_message = None
except TypeError as error:
    global_misuse_message = str(error)
    print("TypeError:", error)
checkpoint = {k: v.numpy().copy() for k, v in dense.state_dict().items()}
prune.global_unstructured(prune.parameters_to_prune(model), pruning_method=prune.l1_unstructured, amount=0.5)
try:
    model.load_state_dict(checkpoint)
    load_after_prune_fails = False
except RuntimeError as error:
    load_after_prune_fails = True
    print("RuntimeError:", str(error).splitlines()[1])
right_order = copy.deepcopy(dense)
right_order.load_state_dict(checkpoint)  # load first ...
prune.global_unstructured(prune.parameters_to_prune(right_order), amount=0.5)  # ... then prune
assert global_misuse_message is not None and load_after_prune_fails

# %% [markdown]
# **3. Counting.** A layer has 17 alive weights. How many does `amount=0.4` prune? And
# `amount=1` versus `amount=1.0`? Two calls with `amount=0.5` on 100 weights?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `round(6.8) == 7`; one versus all seventeen (an int is a count, a float a
# fraction); 50 then 25 — 75% in total, because each call acts on the survivors.

# %% tags=["answer", "hide-cell"]
counting = (prune.count_to_prune(0.4, 17), prune.count_to_prune(1, 17), prune.count_to_prune(1.0, 17))
print("0.4 of 17, 1 of 17, 1.0 of 17 →", counting)
assert counting == (7, 1, 17)

# %% [markdown]
# **4. When is CSR smaller than dense?** For an $r \times c$ float32 matrix with $\mathrm{nnz}$ nonzeros,
# CSR stores $\mathrm{nnz} \cdot (4 + 4) + (r + 1) \cdot 4$ bytes. Find the break-even density. Write the byte
# count as `csr_bytes(rows, cols, nnz)` and test it against minidl's CSR matrices with
# `minidl.course_checks.check("08.4", csr_bytes)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $8\,\mathrm{nnz} + 4(r + 1) < 4rc \iff \text{density} = \mathrm{nnz}/(rc) < \tfrac12 - (r + 1)/(2rc)
# \approx 50\%$: below
# half the weights, CSR is smaller; a 50%-pruned model stored in CSR saves nothing.

# %% tags=["answer", "hide-cell"]
r, c = 256, 784
break_even = next(d / 1000 for d in range(1000, 0, -1)
                  if prune.csr_bytes(r, int(d / 1000 * r * c)) < 4 * r * c)
print(f"CSR is smaller than dense below {break_even:.1%} density for a {r}×{c} matrix")


def csr_bytes(rows: int, cols: int, nnz: int) -> int:
    return 4 * nnz + 4 * nnz + 4 * (rows + 1)  # float32 values, int32 column indices, int32 row offsets


check("08.4", csr_bytes)

# %% [markdown]
# ## Results

# %%
results = {
    "dense_accuracy": dense_accuracy,
    "gradual_90_accuracy": gradual_90_accuracy,
    "drop_points": drop_points,
    "sparsity_90": prune.sparsity(prune.parameters_to_prune(pruned_90)),
    "one_shot": {c: dict(zip(SPARSITIES, v)) for c, v in one_shot.items()},
    "curves": curves,
    "repeated_pruning_vector_ok": repeated_ok,
    "gradient_masked": gradient_masked,
    "revived": revived,
    "hessian_exact_vs_fd": hessian_exact_vs_fd,
    "obs_increase": obs_increase,
    "obd_increase": obd_increase,
    "obs_saliency_sum": float(sum(saliencies)),
    "lottery_ticket": ticket,
    "lottery_control": control,
    "sensitivity": sensitivity.metric,
    "sizes": sizes,
    "compacted_parameters": compaction.params_after,
    "dense_parameters": compaction.params_before,
    "compacted_accuracy": compacted_accuracy,
    "compacted_same_outputs": same_outputs,
    "latency": latency,
    "csr_speedup": csr_speedup,
    "broken_prune_changed_nothing": broken_prune_changed_nothing,
    "broken_prune_zeros": broken_prune_zeros,
    "global_misuse_message": global_misuse_message,
    "load_after_prune_fails": load_after_prune_fails,
    "csr_break_even_density": break_even,
    "mnist": mnist,
}
print({k: v for k, v in results.items() if not isinstance(v, (dict, list))})

# %% [markdown]
# ## Further: pruning by activations, and merging neurons
#
# Two more ways to choose which neurons go, both in `minidl.compress.prune` and measured in
# lesson 15: **activation-based** scores computed over a calibration set
# (`activation_structured(model, batches, amount, criterion="apoz" | "mean_activation")` —
# APoZ, the fraction of zeros after the ReLU, and the mean |activation|), and **data-free
# neuron merging** (`merge_structured(model, amount)`, Srinivas & Babu 2015), which folds a
# neuron into its near-twin and hands its outgoing weights over, exactly when the two are
# identical. Both mask whole neurons, so `compact` makes the model smaller afterwards.
