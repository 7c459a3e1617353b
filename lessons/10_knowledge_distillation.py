# %% [markdown]
# # Lesson 10 — Knowledge distillation
#
# ## What you will learn
#
# - What a trained network knows beyond its top answer: the *dark knowledge* in the small
#   probabilities it gives to the wrong classes, and how a **temperature** $T$ brings it out.
# - Hinton's distillation loss, why its soft term is multiplied by $\mathbf{T^2}$ (derived, then
#   checked numerically), and why it becomes plain logit matching when $T$ is large.
# - The reduction bug that hides in many distillation scripts (`"mean"` instead of
#   `"batchmean"`), and what it does to the balance of the two terms.
# - An honest experiment: a 64→256→256→10 teacher distilled into a 64→16→10 student on
#   digits, several seeds. With all 1078 labels it gains nothing (if anything it loses about
#   half a point); with a few labels per class the teacher's soft targets add many points.
# - Hard-label distillation done right (the teacher's argmax, not "rounding"), distilling on
#   unlabeled inputs, and matching a hidden layer (feature hints).
# - Why the source articles' "distillation" (copying the teacher's parameters into the
#   student; "merging similar neurons") is something else.
# - A whole compression pipeline — distill, prune (structured, then compacted), quantize to
#   int8 — measured after every step in accuracy, bytes and latency, with its Pareto chart:
#   which steps pay in size, which in speed, and which in neither.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 35 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# Write $z_s$ and $z_t$ for the student's and teacher's logits of one sample ($C$ classes), and
# soften both with the same temperature $T$:
#
# $$p = \mathrm{softmax}(z / T),\qquad p_c = \frac{e^{z_c/T}}{\sum_j e^{z_j/T}}$$
#
# $T = 1$ is the ordinary softmax; a larger $T$ flattens it, so the ratios between the small
# probabilities become visible. The loss, as `minidl.compress.distill.distillation_loss`
# states it (Hinton, Vinyals & Dean 2015):
#
# $$L = \omega\,\mathrm{CE}(y, \mathrm{softmax}(z_s)) + (1 - \omega)\,T^2\,\mathrm{KL}(p_t \,\|\, p_s)$$
#
# ($\omega$ is the weight of the hard term, the `alpha` argument of minidl's distillation losses;
# the course's notation table keeps $\alpha$ for RMSprop.)
#
# - the **hard term** is the usual cross-entropy with the true label $y$, at $T = 1$;
# - the **soft term** is the Kullback–Leibler divergence from the teacher's softened
#   distribution to the student's,
#   $\mathrm{KL}(p_t \,\|\, p_s) = \sum_c p_{t,c}\,(\log p_{t,c} - \log p_{s,c})$, summed
#   over classes and averaged over the $B$ samples of the batch ("batchmean");
# - the teacher is a constant: no gradient flows into it.
#
# **Why $T^2$.** Differentiate the soft term (one sample). Since
# $\log p_{s,c} = z_{s,c}/T - \log \sum_j e^{z_{s,j}/T}$,
#
# $$\frac{\partial}{\partial z_{s,i}} \sum_c p_{t,c}\,(\log p_{t,c} - \log p_{s,c})
#   = -\frac{p_{t,i}}{T} + \Big(\sum_c p_{t,c}\Big)\frac{p_{s,i}}{T} = \frac{p_{s,i} - p_{t,i}}{T}$$
#
# The gradient carries a $1/T$ from the chain rule — and $p_s - p_t$ itself shrinks as $T$ grows,
# because softened distributions differ less. For large $T$, expanding $e^{z/T} \approx 1 + z/T$ for
# zero-mean logits gives $p \approx (1 + z/T)/C$, so
#
# $$\frac{p_s - p_t}{T} \approx \frac{z_s - z_t}{C\,T^2}$$
#
# The soft gradient fades as $1/T^2$, while the hard term's does not: multiplying by $T^2$ keeps
# the balance set by $\omega$ the same whatever $T$ you try. The scaled gradient, $T\,(p_s - p_t)/B$ per
# batch, tends to $(z_s - z_t)/(C B)$ (logits centred to mean zero): the gradient of the
# batch mean of $\lVert z_s - z_t\rVert^2/(2C)$, i.e. **matching logits** with a squared error (what
# Caruana and colleagues did before Hinton), which distillation contains as its
# high-temperature limit.

# %%
import copy
import math
import time
import warnings

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from tqdm import tqdm

import minidl
from minidl import nn, optim
from minidl.compress import prune
from minidl.compress import quantize as Q
from minidl.compress.distill import (
    Distiller,
    FeatureHint,
    distillation_loss,
    label_with_teacher,
    predict_logits,
    soft_target_loss,
    teacher_labels,
)
from minidl.course import claim, fast_mode, new_figure, pick, save_figure, timing_verdict
from minidl.course_checks import check
from minidl.data import ArrayDataset, DataLoader, load_digits, stratified_split
from minidl.nn.functional import kl_div
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

LESSON_START = time.perf_counter()
FAST = fast_mode()  # the quick version shows no progress bars (its cells take a second or two)
SEEDS = list(range(pick(5, 2)))
HIDDEN = 16  # the student: 64 → 16 → 10
BATCH = 32
train, val, test = (load_digits(split, seed=0) for split in ("train", "val", "test"))
test_loader = DataLoader(test, batch_size=512)
to_np = minidl.backend.to_numpy  # for plotting and printing


def softmax_np(z: np.ndarray, T: float = 1.0) -> np.ndarray:
    """softmax(z/T) of a NumPy array, for plots and checks."""
    e = np.exp(z / T - (z / T).max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# %% [markdown]
# ## 1. A teacher worth learning from
#
# The teacher is a wide MLP, 64 → 256 → 256 → 10 (85,002 parameters), trained with Adam on
# the 1078 training digits. The student will have 1,210 parameters: 70 times fewer.
# `fit(..., compile=True)` captures the training step once and replays it (`minidl.compile`,
# lesson 16): the same training with less Python per step, so the long runs below wait less.

# %%
minidl.manual_seed(0)
teacher = nn.MLP([64, 256, 256, 10])
fit(teacher, nn.functional.cross_entropy, optim.Adam(teacher.parameters(), lr=3e-3),
    DataLoader(train, BATCH, shuffle=True, seed=0), epochs=pick(30, 6), progress=False, compile=True)
teacher_accuracy = evaluate(teacher, test_loader)["accuracy"]
teacher_train_accuracy = evaluate(teacher, DataLoader(train, batch_size=512))["accuracy"]
n_teacher = sum(p.numel() for p in teacher.parameters())
n_student = sum(p.numel() for p in nn.MLP([64, HIDDEN, 10]).parameters())
print(f"teacher: {n_teacher:,} parameters, test accuracy {teacher_accuracy:.1%} "
      f"(on its own training digits {teacher_train_accuracy:.1%})")
print(f"student: {n_student:,} parameters ({n_teacher / n_student:.0f}× smaller)")

# %% [markdown]
# ## 2. Dark knowledge: what the temperature reveals
#
# At $T = 1$ the teacher is almost certain on most digits: the top probability is close to 1
# and the rest are tiny. Those tiny numbers are not noise: a 3 that looks a bit like an 8
# gets more probability on 8 than on 1. Raising T lifts them into view.

# %%
test_logits = to_np(predict_logits(teacher, test.features))
test_labels, test_images = to_np(test.labels), to_np(test.features)
TEMPERATURES = [1.0, 4.0, 20.0]
picks = [int(np.flatnonzero(test_labels == d)[0]) for d in (3, 5, 9)]
fig, axes = new_figure(2, 3, figsize=(15, 6.6), gridspec_kw={"height_ratios": [1, 1.3]})
for col, i in enumerate(picks):
    axes[0, col].imshow(test_images[i].reshape(8, 8), cmap="gray_r")
    axes[0, col].set(title=f"test digit {test_labels[i]}")
    axes[0, col].axis("off")
    for k, T in enumerate(TEMPERATURES):
        axes[1, col].bar(np.arange(10) + (k - 1) * 0.27, softmax_np(test_logits[i], T), width=0.27,
                         label=f"T = {T:g}")
    axes[1, col].set(yscale="log", ylim=(1e-7, 1.5), xticks=range(10), xlabel="class (digit)")
    axes[1, col].grid(alpha=0.3, axis="y")
axes[1, 0].set_ylabel("teacher's softmax(z/T) (probability, log)")
axes[1, 2].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # beside the bars, off them
fig.suptitle("Dark knowledge: the teacher's softened probabilities")
fig.tight_layout()
print("saved", save_figure(fig, "10_dark_knowledge"))

top_probability = {T: float(softmax_np(test_logits, T).max(axis=1).mean()) for T in TEMPERATURES}
for T, p in top_probability.items():
    print(f"T = {T:>4g}: mean top probability {p:.3f}")

# %% [markdown]
# ## 3. The loss in code, and the $T^2$ check
#
# `distillation_loss(student_logits, teacher_logits, targets, temperature, alpha)` is the
# formula above; `soft_target_loss` is its soft term $T^2\,\mathrm{KL}$ alone, one fused op whose
# backward is exactly $T\,(p_s - p_t)/B$. We check that against the formula, and against
# minidl's general `kl_div` (PyTorch's semantics) composed by hand.

# %%
minidl.manual_seed(1)
x_batch, y_batch = next(iter(DataLoader(train, BATCH, shuffle=True, seed=1)))
z_t = to_np(predict_logits(teacher, x_batch)).astype(np.float64)
z_s = to_np(predict_logits(nn.MLP([64, HIDDEN, 10]), x_batch)).astype(np.float64)  # an untrained student
B, C = z_s.shape

formula_errors = []
for T in (1.0, 2.0, 4.0, 10.0):
    s = minidl.tensor(z_s, requires_grad=True)
    loss = distillation_loss(s, z_t, temperature=T, alpha=0.0)
    loss.backward()
    expected = T * (softmax_np(z_s, T) - softmax_np(z_t, T)) / B
    by_kl_div = T * T * kl_div(minidl.log_softmax(minidl.tensor(z_s) / T, dim=1), softmax_np(z_t, T),
                               reduction="batchmean")
    formula_errors.append(max(float(np.abs(to_np(s.grad.data) - expected).max()),
                              abs(loss.item() - by_kl_div.item())))
gradient_formula_max_error = max(formula_errors)
print(f"gradient = T·(p_s − p_t)/B and value = T²·kl_div(batchmean): max error {gradient_formula_max_error:.1e}")

# How big is the soft gradient as T grows, with and without the T² factor?
T_range = np.geomspace(1, 100, 21)
norm_with, norm_without = [], []
for T in T_range:
    s = minidl.tensor(z_s, requires_grad=True)
    soft_target_loss(s, z_t, float(T)).backward()
    g = to_np(s.grad.data)
    norm_with.append(np.linalg.norm(g))
    norm_without.append(np.linalg.norm(g) / T**2)
centered = (z_s - z_s.mean(1, keepdims=True)) - (z_t - z_t.mean(1, keepdims=True))
logit_matching_norm = np.linalg.norm(centered / (C * B))
s = minidl.tensor(z_s, requires_grad=True)
soft_target_loss(s, z_t, 1000.0).backward()
high_t_limit_error = float(np.linalg.norm(to_np(s.grad.data) - centered / (C * B)) / logit_matching_norm)
print(f"at T = 1000 the scaled soft gradient equals the logit-matching gradient (z_s − z_t)/(C·B) "
      f"to {high_t_limit_error:.1e} (relative)")
decay_slope = float(np.polyfit(np.log(T_range[-6:]), np.log(norm_without[-6:]), 1)[0])
print(f"without T², the gradient norm falls as T^{decay_slope:.2f} at large T")

fig, ax = new_figure(figsize=(8, 5))
ax.loglog(T_range, norm_with, "o-", label="T²·KL (minidl's soft term)")
ax.loglog(T_range, norm_without, "s-", label="KL without T²")
ax.axhline(logit_matching_norm, color="gray", ls="--", label="logit matching ‖z_s − z_t‖/(C·B)")
ax.set(xlabel="temperature T (no unit)", ylabel="‖∂L/∂z_s‖ (loss units per logit)",
       title="Why T²: the soft gradient's size vs T")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=12)
print("saved", save_figure(fig, "10_t_squared"))

# %% [markdown]
# ## 4. `kl_div`, `"mean"` and `"batchmean"`
#
# `minidl.nn.functional.kl_div(input, target, reduction=...)` follows PyTorch: `input` is
# log-probabilities, `target` probabilities, and the pointwise terms
# $\text{target} \cdot (\log \text{target} - \text{input})$ are reduced. `"batchmean"` divides their sum by the batch
# size — the KL divergence
# per sample. `"mean"`, PyTorch's default, divides by every element, $B \times C$ (batch times classes):
# it is $C$ times smaller. (PyTorch warns about it, and so does minidl.) A distillation script that
# uses the default silently shrinks the soft term by C.

# %%
log_q = minidl.log_softmax(minidl.tensor(z_s) / 4.0, dim=1)
p_t4 = softmax_np(z_t, 4.0)
batchmean = kl_div(log_q, p_t4, reduction="batchmean").item()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    mean = kl_div(log_q, p_t4, reduction="mean").item()
print(f"batchmean {batchmean:.4f}, mean {mean:.4f}, ratio {batchmean / mean:.1f} (C = {C})")
print("warning:", caught[0].message if caught else "none")
batchmean_over_mean = batchmean / mean


def effective_alpha(alpha: float, soft_scale: float) -> float:
    """The ω a correct loss would need to match ω·CE + (1 − ω)·soft_scale·KL (Adam ignores the total scale)."""
    return alpha / (alpha + (1 - alpha) * soft_scale)


print(f"ω = 0.1 with 'mean' on {C} classes behaves like ω = {effective_alpha(0.1, 1 / C):.2f}")
print(f"ω = 0.1 with 'mean' and no T² at T = 4 behaves like ω = {effective_alpha(0.1, 1 / (C * 16)):.2f}")
claim(effective_alpha(0.1, 1 / (C * 16)) > 0.9, "a loss written as 90% soft is in fact almost all hard",
      effective_weight=effective_alpha(0.1, 1 / (C * 16)))

# %% [markdown]
# The second line matters because Adam is blind to the overall scale of the loss: only
# the *ratio* of the two terms counts. Forget the $T^2$ and use `"mean"`, and a loss you
# wrote as "90% soft" is in fact almost all hard: the second line above gives the weight
# the hard term really gets.
#
# ## 5. Does the distilled student beat the same student trained from scratch?
#
# The fair comparison: the same 64→16→10 network, the same initial weights, the same
# batches and the same number of steps; one learns from the true labels only, the other
# from `Distiller` ($T = 8$, $\omega = 0.1$). Each seed changes the initial weights and the batch
# order; the difference is taken seed by seed (paired). The scratch runs are compiled; `Distiller`
# runs eagerly, because it softens the teacher's logits on plain arrays, which a capture would
# bake in as constants of the first batch.


# %%
def new_student(seed: int) -> nn.Module:
    minidl.manual_seed(1000 + seed)
    return nn.MLP([64, HIDDEN, 10])


def epochs_for(data: ArrayDataset, steps: int) -> int:
    return max(1, math.ceil(steps / math.ceil(len(data) / BATCH)))


def train_scratch(data: ArrayDataset, seed: int, steps: int) -> nn.Module:
    model = new_student(seed)
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
        DataLoader(data, BATCH, shuffle=True, seed=seed), epochs=epochs_for(data, steps), progress=False,
        compile=True)
    return model


def train_distilled(data: ArrayDataset, seed: int, steps: int, temperature: float = 8.0, alpha: float = 0.1,
                    **options) -> nn.Module:
    model = new_student(seed)
    parameters = list(model.parameters())
    hint = options.pop("hint", None)
    if hint is not None:
        hint = FeatureHint(model[1], teacher[3], HIDDEN, 256)  # student's ReLU → teacher's 2nd ReLU
        parameters += list(hint.parameters())
    Distiller(teacher, model, optim.Adam(parameters, lr=3e-3), temperature=temperature, alpha=alpha,
              hint=hint, **options).fit(DataLoader(data, BATCH, shuffle=True, seed=seed),
                                        epochs=epochs_for(data, steps))
    if hint is not None:
        hint.remove()
    return model


def accuracy(model: nn.Module) -> float:
    return evaluate(model, test_loader)["accuracy"]


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.1%} ± {np.std(values):.1%}"


STEPS_ALL = pick(1400, 120)  # about 40 epochs of 34 batches
all_models = {"scratch": [train_scratch(train, s, STEPS_ALL) for s in tqdm(SEEDS, "scratch", disable=FAST)],
              "distilled": [train_distilled(train, s, STEPS_ALL) for s in tqdm(SEEDS, "distilled", disable=FAST)]}
all_scratch = [accuracy(m) for m in all_models["scratch"]]
all_distilled = [accuracy(m) for m in all_models["distilled"]]
all_diff = np.array(all_distilled) - np.array(all_scratch)
print(f"all {len(train)} labels, {len(SEEDS)} seeds: scratch {summary(all_scratch)}, "
      f"distilled {summary(all_distilled)}")
print(f"paired difference {all_diff.mean() * 100:+.2f} ± {all_diff.std() * 100:.2f} points "
      f"(distilled better in {int((all_diff > 0).sum())} of {len(SEEDS)} seeds); "
      f"one test digit is {100 / len(test):.2f} points")
claim(all_diff.mean() <= 2 * max(np.std(all_scratch), np.std(all_distilled), all_diff.std()) + 0.01,
      "on the full training set the distilled student gains nothing beyond the spread between seeds",
      paired_mean=float(all_diff.mean()), paired_std=float(all_diff.std()),
      seed_spread=(float(np.std(all_scratch)), float(np.std(all_distilled))))

# %% [markdown]
# On the full digits training set this student gains nothing from the teacher: in the
# full version the paired difference printed above is about the size of the spread
# between seeds, with either sign, so no teacher effect stands out of the noise (other
# hidden sizes, temperatures, weights $\omega$ and epoch counts do no better; try them). (The
# quick version trains too few steps for the soft targets to catch up: there the
# distilled student is even far behind.)
# Two likely reasons, which this lesson does not separate: 1078
# digits are enough for a 16-unit network to learn what it can hold — its limit is
# capacity, not information — and the teacher has fitted its own training digits so well
# that its soft targets on them are nearly one-hot (section 6 shows the effect of T).
#
# Where should dark knowledge help? Where labels are scarce: each soft target tells the
# student how a digit relates to all ten classes, not just which one it is. Hinton et al.
# report the same for speech: soft targets let a model trained on a small fraction of the
# data come close to the full-data model, where hard targets overfit. So we keep the
# teacher (trained on all labels) and give the student only a few labelled digits. A
# third student learns the teacher's *argmax* on the same few digits: it sees the
# teacher's decisions but not its probabilities, which isolates the dark knowledge.

# %%
STEPS_FEW = pick(800, 600)  # the soft targets need these steps to show, in the quick version too
FEW_SIZES = pick([30, 50, 100, 200], [30])


def labelled_indices(n: int, seed: int) -> np.ndarray:
    """About n training digits, the same share of every class (which ones depends on the seed)."""
    return stratified_split(to_np(train.labels), {"kept": n / len(train), "rest": 1 - n / len(train)},
                            seed=seed)["kept"]


def labelled_subset(n: int, seed: int) -> ArrayDataset:
    kept = labelled_indices(n, seed)
    return train.subset(kept, name=f"digits/train, {len(kept)} labels")


few = {}
for n in FEW_SIZES:
    rows = {"scratch": [], "teacher's argmax": [], "distilled": []}
    for seed in tqdm(SEEDS, f"{n} labels", disable=FAST):  # a progress bar: this cell is the lesson's longest
        subset = labelled_subset(n, seed)
        rows["scratch"].append(accuracy(train_scratch(subset, seed, STEPS_FEW)))
        rows["teacher's argmax"].append(accuracy(train_distilled(subset, seed, STEPS_FEW, alpha=0.0,
                                                                 hard_labels=True, use_labels=False)))
        rows["distilled"].append(accuracy(train_distilled(subset, seed, STEPS_FEW)))
    few[n] = rows
    diff = np.array(rows["distilled"]) - np.array(rows["scratch"])
    print(f"{len(subset):>4} labels: " + ", ".join(f"{k} {summary(v)}" for k, v in rows.items())
          + f"; distilled − scratch {diff.mean() * 100:+.1f} ± {diff.std() * 100:.1f} points, "
          f"better in {int((diff > 0).sum())} of {len(SEEDS)} seeds")

fig, (ax_few, ax_all) = new_figure(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2, 1]})
for k, (name, marker) in enumerate([("scratch", "o"), ("teacher's argmax", "^"), ("distilled", "s")]):
    means = [np.mean(few[n][name]) * 100 for n in FEW_SIZES]
    stds = [np.std(few[n][name]) * 100 for n in FEW_SIZES]
    ax_few.errorbar(np.array(FEW_SIZES) * (1 + 0.03 * (k - 1)), means, yerr=stds, marker=marker, capsize=3,
                    label=name)
ax_few.axhline(teacher_accuracy * 100, color="gray", ls="--", label="teacher (all labels)")
ax_few.set(xscale="log", xlabel="labelled training digits (count, log scale)", ylabel="test accuracy (%)",
           title=f"16-unit student, few labels (mean ± std, {len(SEEDS)} seeds)")
ax_few.minorticks_off()
ax_few.set_xticks(FEW_SIZES, [str(n) for n in FEW_SIZES])
ax_few.grid(alpha=0.3)
ax_few.legend(fontsize=12)
ax_all.plot(np.zeros(len(SEEDS)), np.array(all_scratch) * 100, "o", label="scratch")
ax_all.plot(np.ones(len(SEEDS)), np.array(all_distilled) * 100, "s", label="distilled")
for a, b in zip(all_scratch, all_distilled):
    ax_all.plot([0, 1], [a * 100, b * 100], color="gray", alpha=0.5)
ax_all.set(xticks=[0, 1], xticklabels=["scratch", "distilled"], xlim=(-0.5, 1.5), xlabel="student",
           ylabel="test accuracy (%)",
           title=f"all {len(train)} labels, per seed")
ax_all.grid(alpha=0.3)
fig.tight_layout()
print("saved", save_figure(fig, "10_students"))
fewest = few[FEW_SIZES[0]]
gain_fewest = np.array(fewest["distilled"]) - np.array(fewest["scratch"])
claim(gain_fewest.mean() > pick(0.02, 0.01) and np.std(fewest["distilled"]) < np.std(fewest["scratch"])
      and fewest["teacher's argmax"] == fewest["scratch"],
      "with a few digits per class the soft targets add points and make the result less dependent on which "
      "digits were labelled; the teacher's argmax scores exactly like the true labels",
      gain=gain_fewest.tolist(), few=fewest)

# %% [markdown]
# With three to five digits per class the teacher's soft targets add several points (the
# printout gives them, with the number of seeds in which distillation won) and make the
# result far less dependent on which digits were labelled. The student that learned the teacher's argmax
# scores exactly like the one that learned the true labels — the teacher classifies its
# training digits perfectly (section 1), so the two sets of labels are identical — which
# shows that the gain is the dark knowledge, not the teacher's decisions. The gain shrinks
# as labels grow: within noise at 200, slightly negative with all 1078.
#
# ## 6. Temperature and $\omega$
#
# The grid below uses 50 labelled digits, where the effect is large enough to see, and the
# same seeds in every cell. $\omega = 1$ would ignore the teacher, so it is left out; at $T = 1$ the
# teacher's outputs on its own training digits are nearly one-hot.

# %%
GRID_T = pick([1.0, 2.0, 4.0, 8.0, 16.0], [1.0, 8.0])
GRID_ALPHA = pick([0.0, 0.1, 0.5, 0.9], [0.1, 0.9])
GRID_SEEDS = SEEDS[:pick(2, 1)]
GRID_LABELS = 50
grid = np.zeros((len(GRID_T), len(GRID_ALPHA)))
for i, T in enumerate(tqdm(GRID_T, "temperatures", disable=FAST)):
    for j, a in enumerate(GRID_ALPHA):
        grid[i, j] = np.mean([accuracy(train_distilled(labelled_subset(GRID_LABELS, s), s, STEPS_FEW, T, a))
                              for s in GRID_SEEDS])
grid_scratch = np.mean([accuracy(train_scratch(labelled_subset(GRID_LABELS, s), s, STEPS_FEW)) for s in GRID_SEEDS])
best = np.unravel_index(np.argmax(grid), grid.shape)
print(f"{GRID_LABELS} labels, scratch {grid_scratch:.1%}; best T = {GRID_T[best[0]]:g}, ω = {GRID_ALPHA[best[1]]:g}: "
      f"{grid[best]:.1%}")

fig, ax = new_figure(figsize=(8, 5.6))
image = ax.imshow(grid * 100, cmap="viridis", aspect="auto")
for i in range(len(GRID_T)):
    for j in range(len(GRID_ALPHA)):
        ax.text(j, i, f"{grid[i, j] * 100:.1f}", ha="center", va="center",
                color="white" if grid[i, j] < grid.max() - 0.02 else "black")
ax.set_xticks(range(len(GRID_ALPHA)), [f"{a:g}" for a in GRID_ALPHA])
ax.set_yticks(range(len(GRID_T)), [f"{t:g}" for t in GRID_T])
ax.set(xlabel="ω (weight of the hard-label term, no unit)", ylabel="temperature T (no unit)",
       title=f"distilled student, {GRID_LABELS} labels (scratch: {grid_scratch:.1%})")
fig.colorbar(image, ax=ax, label="test accuracy (%)")
print("saved", save_figure(fig, "10_grid"))

# %% [markdown]
# The temperature matters most. At $T = 1$ or 2 the teacher's outputs on its own training
# digits are nearly one-hot, so the student learns no more than from the labels; from $T = 4$
# up it gains two to three points. $\omega$ matters less here (two seeds cannot separate most
# cells), except that a large $\omega$ (0.9, mostly hard labels) is the weakest choice at $T = 4$
# and 8 — in line with Hinton et al.'s advice to give the hard term "a considerably lower
# weight". minidl's defaults, $T = 4$ and $\omega = 0.1$, sit in the good region without being tuned
# to this one dataset.
#
# ## 7. Hard-label distillation, and distilling on unlabeled data
#
# The source articles describe hard-label distillation as "rounding the teacher's outputs
# to integers". Rounding probabilities does not give a label: a row rounds to a one-hot
# vector only when its top probability is above ½, and to all zeros otherwise. The right
# hard label is the argmax (`teacher_labels`), and the right place for it is data that has
# no labels of its own: unlabeled or augmented inputs (pseudo-labelling).

# %%
for T in (1.0, 4.0):
    rounded = np.round(softmax_np(test_logits, T))
    no_label = float((rounded.sum(axis=1) == 0).mean())
    print(f"T = {T:g}: {no_label:.1%} of the teacher's test outputs round to no label at all")
rounded_no_label_t4 = float((np.round(softmax_np(test_logits, 4.0)).sum(axis=1) == 0).mean())
argmax_labels = to_np(teacher_labels(minidl.tensor(test_logits)))
print(f"argmax labels: every row has one, and they agree with the truth on {np.mean(argmax_labels == test_labels):.1%}")

# %% [markdown]
# Now 50 labelled digits plus the other ~1030 training digits *without* labels. Three
# students: the 50 labels only; the 50 labels plus the teacher's argmax on all the
# unlabeled inputs (`label_with_teacher`); and soft targets on all inputs.

# %%
STEPS_UNLABELED = pick(1000, 120)
unlabeled_rows = {"50 labels only": [], "+ teacher's labels": [], "+ soft targets": []}
for seed in SEEDS:
    kept = labelled_indices(50, seed)
    unlabeled_rows["50 labels only"].append(accuracy(train_scratch(train.subset(kept), seed, STEPS_UNLABELED)))
    mixed_labels = to_np(label_with_teacher(teacher, train.features)).copy()
    mixed_labels[kept] = to_np(train.labels)[kept]  # the true label where we have one
    pseudo_set = ArrayDataset(train.features, minidl.tensor(mixed_labels).data, train.class_names)
    unlabeled_rows["+ teacher's labels"].append(accuracy(train_scratch(pseudo_set, seed, STEPS_UNLABELED)))
    unlabeled = ArrayDataset(train.features, minidl.tensor(np.full(len(train), -1)).data, train.class_names)
    unlabeled_rows["+ soft targets"].append(accuracy(train_distilled(unlabeled, seed, STEPS_UNLABELED, alpha=0.0,
                                                                     use_labels=False)))
for name, values in unlabeled_rows.items():
    print(f"{name:>20}: {summary(values)}")

# %% [markdown]
# With the unlabeled inputs, both students come close to the one trained on all 1078 true
# labels (section 5) — the teacher's hard labels at least as well as its soft targets. Here
# the teacher's main gift is *labels for data that had none*; the probabilities' extra
# information mattered when the inputs themselves were scarce (section 5). This is why
# hard-label distillation, done with the argmax, is a serious method and not a shortcut.
#
# ## 8. Beyond the outputs: feature hints
#
# `FeatureHint` (after FitNets, Romero et al. 2015) also asks the student's hidden layer,
# through a small learned linear map, to predict the teacher's hidden layer: a mean squared
# error added to the loss with weight `hint_weight` (a `Distiller` argument). Forward hooks record both layers, so
# neither
# network changes.

# %%
hint_rows = {"distilled": [], "distilled + hint": []}
for seed in SEEDS:
    subset = labelled_subset(50, seed)
    hint_rows["distilled"].append(accuracy(train_distilled(subset, seed, STEPS_FEW)))
    hint_rows["distilled + hint"].append(accuracy(train_distilled(subset, seed, STEPS_FEW, hint=True,
                                                                  hint_weight=0.1)))
for name, values in hint_rows.items():
    print(f"{name:>18}: {summary(values)}")
hint_diff = np.array(hint_rows["distilled + hint"]) - np.array(hint_rows["distilled"])
print(f"hint − no hint: {hint_diff.mean() * 100:+.1f} ± {hint_diff.std() * 100:.1f} points")

# %% [markdown]
# A 16-unit layer cannot hold what 256 teacher units encode, so the hint asks a lot of a
# small student; hints were designed for students that are *deeper* and thinner than their
# teacher, where the middle layers need guidance. Treat the result above as one data point,
# not a verdict.
#
# ## What the original paper reports
#
# Hinton, Vinyals & Dean (2015) distilled an MNIST teacher (two hidden layers of 1200 ReLUs,
# trained with dropout and jittered inputs: 67 test errors) into a 784→800→800→10 student.
# Trained on hard labels without regularization, that student made 146 errors; trained with
# soft targets at $T = 20$, 74 — the soft targets alone recovered most of the teacher's
# advantage. The paper also advises "a considerably lower weight on the second objective"
# (the hard term: a small $\omega$) and notes that soft-target gradients scale as $1/T^2$, the
# reason for the $T^2$ above.

# %% [markdown]
# ## Exercises
#
# **1. "Distillation" by copying parameters.** One source article "distills" by walking
# the teacher's and the student's parameter lists side by side and copying each teacher
# tensor into the matching student tensor. Try that on our teacher and student. Why is it
# not distillation?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It cannot even run when the shapes differ — and they must differ, or nothing
# was compressed. Worse, `zip` stops at the shorter list, so with other shapes it could
# silently copy *some* layers. When the architectures are identical it runs, and produces
# a clone of the teacher: the same size, the same accuracy, no compression. Distillation
# never looks at the teacher's parameters, only at its outputs; that is why it works across
# any two architectures.

# %% tags=["answer", "hide-cell"]
copy_student = nn.MLP([64, HIDDEN, 10])
pairs = list(zip(teacher.parameters(), copy_student.parameters()))
print(f"zip pairs {len(pairs)} of the teacher's {len(list(teacher.parameters()))} tensors")
try:
    with minidl.no_grad():
        for p_t, p_s in pairs:
            p_s.copy_(p_t)
    copy_refused = False
except (ValueError, RuntimeError) as error:
    copy_refused = True
    print(f"{type(error).__name__}: {error}")
clone = nn.MLP([64, 256, 256, 10])
with minidl.no_grad():
    for p_t, p_s in zip(teacher.parameters(), clone.parameters()):
        p_s.copy_(p_t)
clone_matches_teacher = bool(np.array_equal(to_np(predict_logits(clone, test.features)), test_logits))
print(f"same architecture: the copy is the teacher again (identical outputs: {clone_matches_teacher}), "
      f"{sum(p.numel() for p in clone.parameters()):,} parameters — nothing was compressed")

# %% [markdown]
# **2. "Distillation merges similar neurons."** Another article says distillation works by
# merging similar neurons. Merge the most similar pairs of hidden neurons in the teacher's
# first layer (by the cosine of their incoming weights and bias; the survivor takes over
# the other's outgoing weights) and watch the accuracy. Is this distillation?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** No: it edits one network's own structure, with no second network and no
# training — it is a relative of structured pruning (lesson 08). Two ReLU neurons with
# identical incoming weights compute the same thing, and merging them is exact; merging
# merely similar ones is an approximation. The numbers show a wide teacher tolerating many
# merges, then collapsing once dissimilar neurons are forced together. Distillation trains
# a *new* network on the teacher's outputs and never maps one neuron onto another.

# %% tags=["answer", "hide-cell"]
W1, b1 = (to_np(p.data).astype(np.float64) for p in (teacher[0].weight, teacher[0].bias))
W2 = to_np(teacher[2].weight.data).astype(np.float64)


def merged_teacher_accuracy(merges: int) -> tuple[float, int]:
    w1, bias, w2 = W1.copy(), b1.copy(), W2.copy()
    for _ in range(merges):
        v = np.concatenate([w1, bias[:, None]], axis=1)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        similarity = v @ v.T
        np.fill_diagonal(similarity, -np.inf)
        i, j = np.unravel_index(np.argmax(similarity), similarity.shape)
        w2[:, i] += w2[:, j]  # j's output now comes from i
        w1, bias, w2 = np.delete(w1, j, 0), np.delete(bias, j), np.delete(w2, j, 1)
    merged = nn.MLP([64, len(bias), 256, 10])
    state = {k: to_np(v.data) for k, v in teacher.state_dict().items()}
    state.update({"0.weight": w1, "0.bias": bias, "2.weight": w2})
    merged.load_state_dict(state)
    return accuracy(merged), len(bias)


merge_results = {}
for merges in pick([16, 64, 128, 192], [64]):
    acc_merged, width = merged_teacher_accuracy(merges)
    merge_results[merges] = acc_merged
    print(f"{merges:>3} merges: first layer 256 → {width} neurons, test accuracy {acc_merged:.1%} "
          f"(teacher {teacher_accuracy:.1%})")

# %% [markdown]
# **3. Forgetting $T^2$.** Without the $T^2$ factor, what does $\omega = 0.1$ at $T = 8$ really mean? Then
# write the soft term with its factor, `soft_loss(student_logits, teacher_logits, T)` =
# $T^2\,\mathrm{KL}(p_t \,\|\, p_s)$ summed over classes and averaged over the batch (NumPy in, a float
# out), and test it with `minidl.course_checks.check("10.3", soft_loss)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Adam ignores the overall scale of the loss, so only the ratio of the two terms
# matters: $\omega\,\mathrm{CE} + (1 - \omega)\,\mathrm{KL}$ behaves like the correct loss with
# $\omega' = \omega / (\omega + (1 - \omega)/T^2) = 0.1 / (0.1 + 0.9/64) \approx 0.88$ — almost all hard
# labels. In the grid of section 6 that is close to the $\omega = 0.9$ column, the weakest in the $T = 4$
# and 8 rows.

# %% tags=["answer", "hide-cell"]
alpha_without_t2 = effective_alpha(0.1, 1 / 8**2)
print(f"ω = 0.1 at T = 8 without T² behaves like ω = {alpha_without_t2:.2f}")


def soft_loss(student_logits: np.ndarray, teacher_logits: np.ndarray, T: float) -> float:
    def log_softmax_rows(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    log_p_t, log_p_s = log_softmax_rows(teacher_logits / T), log_softmax_rows(student_logits / T)
    return float(T * T * (np.exp(log_p_t) * (log_p_t - log_p_s)).sum(axis=1).mean())


check("10.3", soft_loss)

# %% [markdown]
# **4. Rounding logits.** What if "rounding the teacher's outputs" meant rounding its
# logits instead of its probabilities?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Rounded logits are still logits — softmax of them is a soft distribution
# again, just a coarser one; they are not labels either. Only the argmax turns an output
# into a class.

# %% [markdown]
# ## Pipeline: distill → prune → quantize
#
# Distillation is the first of three steps that make a model small. Each later step
# starts from the model the previous one produced, and each is judged by the same three
# numbers: test accuracy, bytes stored, and the time of one forward pass.
#
# 1. **Distill** (sections 1–5): the 64→16→10 student of seed 0, trained with `Distiller`
#    ($T = 8$, $\omega = 0.1$) on all the training digits.
# 2. **Prune** half of its hidden neurons (lesson 08): `ln_structured` on the first layer's
#    rows (the L2 norm of each neuron's incoming weights; the bias entries go with them),
#    then fine-tune — with the teacher again, same $T$ and $\omega$ — while `enforce_masks` keeps the
#    pruned weights at exactly zero, and finally `compact`: a genuinely smaller dense
#    64→8→10 network with the same outputs as the masked one.
# 3. **Quantize** to int8 (lesson 09): post-training quantization (`prepare` → `calibrate`
#    on training digits → `convert`, one weight scale per output neuron). Quantization-aware
#    training (`prepare_qat`, a little more distillation through the fake quantizers, then
#    `convert`) is the fallback if PTQ loses more than one test digit; we run it anyway, to
#    see what it would buy.
#
# Why structured pruning and compaction rather than unstructured pruning and CSR? Two
# reasons. The next step is int8, and minidl's integer layers are dense: a CSR model would
# become dense again when quantized, so only a *smaller dense* model carries pruning's
# savings through quantization. And at 50% density CSR saves nothing anyway: each float32
# nonzero costs 8 bytes (value and column index), so it breaks even at about half the
# weights (lesson 08, exercise 4). The printout below shows all three representations.
#
# **What is counted.** Bytes are `model_nbytes`: everything the stored model holds (its
# `state_dict`: float32 weights and biases; for the int8 models also the int32 biases and
# multipliers, the shifts and the per-neuron weight scales). Latency is
# `prune.time_forward`, one forward pass without a graph on 1 test digit and on 128: the
# models take turns over several rounds, and each keeps its median and its spread (printed
# as $\pm$). Small differences between timings are noise: read ratios of 2× or more, not 10%.
# The lesson runs BLAS on one thread (the call at the top; lesson 14 explains why), so
# the timings do not depend on how the lesson was started.

# %%
FINE_TUNE_EPOCHS, QAT_EPOCHS = pick(20, 3), pick(3, 1)
PRUNED_UNITS = HIDDEN // 2
pipeline_loader = DataLoader(train, BATCH, shuffle=True, seed=0)
one_test_digit = 1 / len(test)


def latencies_ms(models: dict[str, nn.Module], batch: int) -> dict[str, float]:
    """Each model's time for one forward pass on ``batch`` test digits, in milliseconds.

    The models take turns, round after round, and each keeps the median of its rounds: a
    moment when the machine is busy slows every model a little, not one model a lot.
    """
    x = minidl.tensor(test.features[:batch])
    rounds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(pick(9, 7)):  # enough rounds in the quick version too: the claims below read these
        for name, model in models.items():
            model.eval()
            rounds[name].append(prune.time_forward(model, x, repeats=1, target_seconds=pick(0.02, 0.005)))
    return {name: 1e3 * float(np.median(times)) for name, times in rounds.items()}


def measure(models: dict[str, nn.Module]) -> dict[str, dict[str, float]]:
    """Accuracy, bytes (``model_nbytes``) and latency at batch 1 and 128 of every model."""
    batch1, batch128 = latencies_ms(models, 1), latencies_ms(models, 128)
    return {name: {"accuracy": accuracy(model), "bytes": Q.model_nbytes(model, packed=True),
                   "latency_ms_batch1": batch1[name], "latency_ms_batch128": batch128[name]}
            for name, model in models.items()}


def distill_further(model: nn.Module, epochs: int, lr: float = 3e-3, masked: bool = False) -> None:
    """More distillation from the same teacher (T = 8, ω = 0.1), keeping pruned weights at zero."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    if masked:
        prune.enforce_masks(optimizer, model)
    Distiller(teacher, model, optimizer, temperature=8.0, alpha=0.1).fit(pipeline_loader, epochs=epochs)


student = all_models["distilled"][0]
with minidl.no_grad():
    hidden_activity = to_np(student[1](student[0](minidl.tensor(train.features))))
dead = hidden_activity.max(axis=0) <= 0  # ReLUs that output 0 on every training digit
print(f"the distilled student: {int(dead.sum())} of its {HIDDEN} hidden ReLUs never fire on a training digit")

pruned = copy.deepcopy(student)
prune.ln_structured(pruned[0], "weight", amount=PRUNED_UNITS, n=2, dim=0, prune_bias=True)
removed = ~to_np(prune.get_mask(pruned[0], "weight")).any(axis=1)
removed_dead = int((removed & dead).sum())
accuracy_pruned_untuned = accuracy(pruned)
print(f"ln_structured removed {PRUNED_UNITS} neurons, {removed_dead} of them dead: test accuracy "
      f"{accuracy(student):.1%} → {accuracy_pruned_untuned:.1%} before fine-tuning")
distill_further(pruned, FINE_TUNE_EPOCHS, masked=True)
compacted, compaction = prune.compact(pruned)
print(compaction)
masked_report = prune.sparsity_report(pruned)
bytes_by_representation = {"masked (dense + mask)": masked_report.dense_bytes + masked_report.mask_bytes,
                           "CSR where smaller": masked_report.sparse_bytes,
                           "compacted": Q.model_nbytes(compacted)}
for name, n in bytes_by_representation.items():
    print(f"{name:>22}: {n:,} bytes")

prepared = Q.prepare(compacted, Q.get_default_qconfig())
Q.calibrate(prepared, DataLoader(train, batch_size=256), num_batches=4)
int8_ptq = Q.convert(prepared)
qat_prepared = Q.prepare_qat(compacted, Q.get_default_qat_qconfig())
distill_further(qat_prepared, QAT_EPOCHS, lr=1e-3)
int8_qat = Q.convert(qat_prepared)

stage_models = {"teacher": teacher, "distilled student": student, "pruned + compacted": compacted,
                "int8 PTQ": int8_ptq, "int8 QAT": int8_qat}
stages = measure(stage_models)
ptq_change = stages["int8 PTQ"]["accuracy"] - stages["pruned + compacted"]["accuracy"]
int8_choice = "int8 PTQ" if ptq_change >= -one_test_digit else "int8 QAT"  # QAT only if PTQ loses > 1 digit
print(f"PTQ changed the accuracy by {ptq_change * 100:+.2f} points (one test digit is "
      f"{one_test_digit * 100:.2f}): the pipeline keeps {int8_choice}")

# %% [markdown]
# The pipeline in one table. A model is worth keeping only if no other model is at least
# as good on all three numbers and better on one: those models form the **Pareto front**
# (marked ★). Here "good" means accurate, small, and fast at batch 1 — where two timings
# within 25% of each other count as a tie, because on a shared machine they are.

# %%
TIMING_NOISE = 1.25  # latencies closer than this factor are not told apart


def dominates(a: dict[str, float], b: dict[str, float]) -> bool:
    """a is at least as good as b on accuracy, bytes and batch-1 latency, and better on one."""
    fast_a, fast_b = a["latency_ms_batch1"], b["latency_ms_batch1"]
    at_least = a["accuracy"] >= b["accuracy"] and a["bytes"] <= b["bytes"] and fast_a <= fast_b * TIMING_NOISE
    better = a["accuracy"] > b["accuracy"] or a["bytes"] < b["bytes"] or fast_a * TIMING_NOISE < fast_b
    return at_least and better


pareto_front = [n for n in stages if not any(dominates(stages[m], stages[n]) for m in stages if m != n)]
teacher_bytes = stages["teacher"]["bytes"]
print(f"{'stage':>20} {'accuracy':>9} {'bytes':>9} {'smaller':>8} {'batch 1':>9} {'batch 128':>10}")
for name, s in stages.items():
    print(f"{name:>20} {s['accuracy']:9.1%} {s['bytes']:9,} {teacher_bytes / s['bytes']:7.0f}× "
          f"{s['latency_ms_batch1']:7.3f}ms {s['latency_ms_batch128']:8.3f}ms {'★' if name in pareto_front else ''}")

fig, axes = new_figure(1, 3, figsize=(18, 5.6))
styles = {"teacher": ("tab:gray", "s"), "distilled student": ("tab:blue", "o"),
          "pruned + compacted": ("tab:green", "D"), "int8 PTQ": ("tab:red", "^"), "int8 QAT": ("tab:purple", "v")}
path = ["teacher", "distilled student", "pruned + compacted", int8_choice]
panels = (("bytes", 1, "bytes stored"), ("latency_ms_batch1", 1e3, "µs per forward pass, batch 1"),
          ("latency_ms_batch128", 1e3, "µs per forward pass, batch 128"))
for ax, (key, unit, label) in zip(axes, panels):
    ax.plot([unit * stages[n][key] for n in path], [100 * stages[n]["accuracy"] for n in path],
            color="lightgray", zorder=1)
    for k, (name, s) in enumerate(stages.items(), start=1):
        color, marker = styles[name]
        ax.scatter(unit * s[key], 100 * s["accuracy"], color=color, marker=marker, s=70, zorder=2,
                   edgecolors="black" if name in pareto_front else "none",
                   label=f"{k} {name}" + (" ★" if name in pareto_front else ""))
        ax.annotate(str(k), (unit * s[key], 100 * s["accuracy"]), textcoords="offset points",
                    xytext=(-12 if name == "int8 QAT" else 6, 4), fontsize=12)
    ax.set(xscale="log", xlabel=label + " (log scale)", ylabel="test accuracy (%)")
    ax.xaxis.set_major_locator(LogLocator(subs=(1,) if key == "bytes" else (1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3, which="both")
axes[0].legend(fontsize=12, loc="lower right")
axes[0].set_title("accuracy vs size")
axes[1].set_title("accuracy vs latency, 1 digit")
axes[2].set_title("accuracy vs latency, 128 digits")
fig.suptitle("distill → prune → quantize on digits (grey line: the pipeline; ★ black edge: Pareto front)")
fig.tight_layout()
print("saved", save_figure(fig, "10_pareto"))

ratios = {f"{a} → {b}": {"bytes": stages[a]["bytes"] / stages[b]["bytes"],
                         "batch1": stages[a]["latency_ms_batch1"] / stages[b]["latency_ms_batch1"],
                         "batch128": stages[a]["latency_ms_batch128"] / stages[b]["latency_ms_batch128"]}
          for a, b in zip(path, path[1:])}
for step, r in ratios.items():
    print(f"{step:>42}: {r['bytes']:5.1f}× fewer bytes, {r['batch1']:5.2f}× faster at batch 1, "
          f"{r['batch128']:5.2f}× at batch 128")

# The accuracy each step may cost (full mode): distillation trades a few points for 70× fewer
# bytes; pruning with fine-tuning and int8 should cost almost nothing.
TOLERANCES = {"distilled student": 0.04, "pruned + compacted": 0.01, int8_choice: 0.005}
within_tolerance = {b: stages[b]["accuracy"] >= stages[a]["accuracy"] - TOLERANCES[b] for a, b in zip(path, path[1:])}
print("each step within its accuracy tolerance:", within_tolerance)
to_student, to_compact, to_int8 = (ratios[f"{a} → {b}"] for a, b in zip(path, path[1:]))
claim(to_student["bytes"] > 30, "distillation pays in size: dozens of times fewer bytes", ratio=to_student["bytes"])
timing_verdict(1 < to_student["batch1"] < to_student["batch128"],
               "distillation pays in speed, far less at batch 1 than at batch 128",
               batch1=to_student["batch1"], batch128=to_student["batch128"])
claim(removed_dead == min(int(dead.sum()), PRUNED_UNITS) and 1.6 < to_compact["bytes"] < 2.4,
      "the L2 criterion removes the dead ReLUs first; pruning halves the bytes", removed_dead=removed_dead,
      dead=int(dead.sum()), ratio=to_compact)
claim(2 < to_int8["bytes"] < 4, "int8 pays in bytes, not 4× fewer", ratio=to_int8["bytes"])
timing_verdict(to_int8["batch1"] < 1, "the integer model is slower", speed_ratio_batch1=to_int8["batch1"])
pipeline = {"stages": stages, "path": path, "int8_choice": int8_choice, "one_test_digit": one_test_digit,
            "pareto_front": pareto_front,
            "dead_units": int(dead.sum()), "pruned_units": PRUNED_UNITS, "removed_dead_units": removed_dead,
            "accuracy_pruned_before_fine_tuning": accuracy_pruned_untuned,
            "hidden_after_compaction": int(compacted[0].out_features),
            "bytes_by_representation": bytes_by_representation, "ratios": ratios,
            "tolerances": TOLERANCES, "within_tolerance": within_tolerance}

# %% [markdown]
# What each step paid is in the table printed above (this run's numbers; your timings will
# differ, the ratios much less), and in the ratios printed after the figure:
#
# - **Distillation pays in size and in speed, and costs accuracy.** Dozens of times fewer
#   bytes for a few points. It is the only step that makes a prediction faster — but far
#   less at batch 1 than the bytes suggest: at batch 1 most of the time is the fixed cost
#   of running each layer (Python, NumPy's call overhead), not arithmetic. With 128 digits
#   at once the arithmetic counts, and the gap grows. (Lesson 14 measures where such time
#   goes.)
# - **Pruning halves the bytes, and hardly the time.** Some of the student's hidden ReLUs
#   never fire on a training digit (counted above): they get no gradient, so their weights
#   keep their small initial size, and the L2 criterion removes them first — for free.
#   Removing live neurons costs accuracy before fine-tuning (printed above), and more
#   epochs of distillation bring it back (this model also trained those epochs longer than
#   the student). The compacted model does half the multiplications, yet it is not
#   reliably faster — the same number of layers, the same overhead per layer, and the
#   matrices are so small that the products are never most of the time; the ratios
#   printed above swing from run to run with the machine's load, more than with the model.
# - **int8 pays in bytes only.** Fewer bytes at (almost) no cost in accuracy — when PTQ
#   loses at most a test digit, QAT is not needed (run anyway, compare). Not 4× fewer: in a
#   layer this small the int32 biases, multipliers, shifts and scales of each neuron add
#   almost half as much again as the int8 weights. And the integer model is *slower* (its
#   speed ratios above are below 1): it
#   quantizes its input, sums in int32 and requantizes after every layer — more steps,
#   each with its own overhead — and NumPy has no int8 matrix product (minidl uses a Numba
#   loop, or float32 BLAS where that is exact). On hardware with int8 instructions and a
#   runtime that fuses those steps, int8 is usually faster too; in NumPy it buys memory,
#   not speed.
#
# The Pareto front has a model for each priority: the teacher when every digit counts, the
# compacted float32 student for speed, an int8 student for size. The plain distilled
# student is not on it: its pruned version is smaller, as fast and no less accurate. (If
# your run puts it there, compare the two batch-1 times: noise decided, not the models.)
# Which steps pay depends on what you are short of, and the only way to know is to measure
# all three numbers after every step.

# %% [markdown]
# ## Results

# %%
results = {
    "teacher_accuracy": teacher_accuracy,
    "teacher_train_accuracy": teacher_train_accuracy,
    "teacher_parameters": n_teacher,
    "student_parameters": n_student,
    "seeds": len(SEEDS),
    "top_probability_by_T": top_probability,
    "gradient_formula_max_error": gradient_formula_max_error,
    "high_t_limit_error": high_t_limit_error,
    "no_t2_decay_slope": decay_slope,
    "batchmean_over_mean": batchmean_over_mean,
    "classes": C,
    "all_labels_scratch": all_scratch,
    "all_labels_distilled": all_distilled,
    "all_labels_paired_diff_mean": float(all_diff.mean()),
    "all_labels_paired_diff_std": float(all_diff.std()),
    "few_labels": {n: {k: float(np.mean(v)) for k, v in rows.items()} for n, rows in few.items()},
    "few_labels_std": {n: {k: float(np.std(v)) for k, v in rows.items()} for n, rows in few.items()},
    "grid_temperatures": GRID_T,
    "grid_alphas": GRID_ALPHA,
    "grid_accuracy": grid.tolist(),
    "grid_scratch": float(grid_scratch),
    "rounded_no_label_fraction_T4": rounded_no_label_t4,
    "unlabeled": {k: float(np.mean(v)) for k, v in unlabeled_rows.items()},
    "hint_diff_mean": float(hint_diff.mean()),
    "copy_refused": copy_refused,
    "clone_matches_teacher": clone_matches_teacher,
    "merged_neurons_accuracy": merge_results,
    "alpha_without_t2": alpha_without_t2,
    "pipeline": pipeline,
    "fast_mode": fast_mode(),
    "seconds": round(time.perf_counter() - LESSON_START, 1),
}
print(results)
