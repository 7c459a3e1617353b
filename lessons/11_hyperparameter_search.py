# %% [markdown]
# # Lesson 11 — Hyperparameter and model search
#
# ## What you will learn
#
# - How every search method in `minidl.search` drives one function,
#   `objective(params, budget) -> score`, and records each trial (parameters, score,
#   budget, time, seed, status) in a table you can save and reload.
# - Why **random search beats grid search** when only a few hyperparameters matter
#   (Bergstra & Bengio's picture, drawn and measured).
# - The one line of arithmetic behind random search: **1 − (1 − p)ⁿ**.
# - **Successive halving** and **Hyperband**: give many configurations a little budget and
#   the promising ones more.
# - **Bayesian optimization** from scratch: a Gaussian process models the score, its
#   hyperparameters are fitted by the marginal likelihood, and **Expected Improvement**
#   chooses the next point — drawn step by step in 1-D.
# - Searching the network's **shape** (width × depth) the same way: a tiny
#   neural-architecture search on digits.
# - How to compare search methods fairly: best score against **epochs spent**.
#
# Run it as a script (`python lessons/11_hyperparameter_search.py`) or open it as a
# notebook with jupytext. It takes about a minute (a few seconds with `MINIDL_FAST=1`).

# %% [markdown]
# ## The math
#
# Each formula lives in one minidl function; its docstring is the reference.
#
# **Random search** (`minidl.search.prob_top_fraction`). If a fraction p of the space is
# "good enough", n independent random trials miss it every time with probability (1 − p)ⁿ:
#
#     P(at least one trial in the best fraction p) = 1 − (1 − p)ⁿ
#
# With p = 5 % and n = 59 this is 95.2 % — whatever the number of hyperparameters.
#
# **Successive halving** (`minidl.search.halving_schedule`), with η = 3 by default:
#
#     n₀ = n,  r₀ = min_budget;      n_{i+1} = ⌈n_i / η⌉,  r_{i+1} = η · r_i
#
# Evaluate n_i configurations with budget r_i, keep the best ⌈n_i/η⌉, repeat.
#
# **Gaussian-process posterior** (`minidl.search.gp_posterior`) for observations y at X,
# kernel k, noise σ_n²:
#
#     μ(x*)  = k*ᵀ (K + σ_n² I)⁻¹ y
#     σ²(x*) = k(x*, x*) − k*ᵀ (K + σ_n² I)⁻¹ k*
#
# with kernels (`rbf_kernel`, `matern52_kernel`) of r² = Σ_d (x_d − x'_d)²/ℓ_d²:
#
#     RBF:        k = σ_f² exp(−r²/2)
#     Matérn 5/2: k = σ_f² (1 + √5 r + 5r²/3) exp(−√5 r)
#
# The hyperparameters ℓ, σ_f², σ_n² maximize the **log marginal likelihood**
# (`log_marginal_likelihood`):
#
#     log p(y | X) = −½ yᵀ (K + σ_n² I)⁻¹ y − ½ log |K + σ_n² I| − (n/2) log 2π
#
# **Expected Improvement** (`minidl.search.expected_improvement`), minimizing, with the
# best value so far f* and a margin ξ (0.01 by default):
#
#     Z = (f* − μ − ξ) / σ,     EI = (f* − μ − ξ) Φ(Z) + σ φ(Z),     EI = 0 where σ = 0

# %%
import math
import time

import numpy as np

import minidl
from minidl.course import fast_mode, figure_dir, new_figure, pick, save_figure
from minidl.data import load_digits
from minidl.search import (
    GaussianProcess,
    IntLogUniform,
    LogUniform,
    SearchSpace,
    Uniform,
    bayesian_optimization,
    expected_improvement,
    gp_expected_improvement,
    grid_search,
    halving_schedule,
    hyperband_brackets,
    load_result,
    prob_top_fraction,
    random_search,
    successive_halving,
    trials_needed,
)
from minidl.search.digits import mlp_objective
from minidl.search.plots import plot_best_so_far
from minidl.search.toy_functions import FORRESTER_MINIMUM, FORRESTER_SPACE, forrester

minidl.manual_seed(0)
start_time = time.perf_counter()

# %% [markdown]
# ## 1. The contract: an objective, a space, a table
#
# A search method only ever calls `objective(params, budget)`. Here the budget is a
# number of epochs, and `mlp_objective` trains minidl's MLP on the bundled digits and
# returns the **validation** accuracy (so `mode="max"`: higher is better). A search space
# is a dict: a list is a set of choices, `LogUniform` a distribution for scale-like
# numbers such as the learning rate.

# %%
objective = mlp_objective()  # digits: 1078 training and 360 validation images
space = {"lr": LogUniform(1e-4, 1e-1), "weight_decay": LogUniform(1e-6, 1e-1), "width": [16, 64]}
first = random_search(objective, space, n_trials=4, mode="max", budget=2, seed=0, progress=False)
print(first.table())
print("best:", first.best_params, f"val accuracy {first.best_score:.1%}")

# %% [markdown]
# Every trial records its own seed, derived from the search's one `seed`: rerun with
# the same seed and you get the same table. A trial that raises, or returns NaN, is
# recorded as **failed** with its error — one diverging learning rate does not cost
# you the whole search. The table saves as plain JSON (no pickle) and reloads exactly:

# %%
crash = random_search(objective, [{"optimizer": ["sgd"], "lr": [1e30]}, {"lr": [1e-2]}], 2, mode="max",
                      budget=1, seed=0, progress=False)
print(crash.table())
path = crash.save(figure_dir() / "11_crash_search.json")
assert load_result(path) == crash
print("saved and reloaded", path.name)

# %% [markdown]
# ## 2. Grid or random? When few hyperparameters matter
#
# Bergstra & Bengio (2012) noticed that in most problems only a few hyperparameters
# matter much. Take a score that depends strongly on x and hardly on y. A 3 × 3 grid
# spends nine trials on only **three** values of x; nine random trials try **nine**.
# The picture: the curve above each square is the score as a function of x alone.


# %%
def bumpy(params, budget=None):
    """Lower is better: a narrow dip at x = 0.62, and a small tilt in y."""
    x, y = params["x"], params["y"]
    return -math.exp(-((x - 0.62) ** 2) / (2 * 0.05 ** 2)) + 0.05 * (y - 0.5) ** 2


grid_space = {"x": [0.1, 0.5, 0.9], "y": [0.1, 0.5, 0.9]}
random_space = {"x": Uniform(0.0, 1.0), "y": Uniform(0.0, 1.0)}
grid_result = grid_search(bumpy, grid_space, progress=False)
random_result = random_search(bumpy, random_space, 9, seed=0, progress=False)

fig, axes = new_figure(2, 2, figsize=(9, 5.6), gridspec_kw={"height_ratios": [1, 2.6]}, sharex=True)
xs = np.linspace(0, 1, 400)
marginal = [-math.exp(-((x - 0.62) ** 2) / (2 * 0.05 ** 2)) for x in xs]
for col, (name, result) in enumerate([("grid: 9 trials, 3 values of x", grid_result),
                                      ("random: 9 trials, 9 values of x", random_result)]):
    top, square = axes[0, col], axes[1, col]
    px = [t.params["x"] for t in result]
    py = [t.params["y"] for t in result]
    top.plot(xs, marginal, color="0.3")
    top.plot(px, [-math.exp(-((x - 0.62) ** 2) / (2 * 0.05 ** 2)) for x in px], "o", color="C3")
    top.set(title=name, ylabel="score(x)")
    square.scatter(px, py, s=60, color="C3", zorder=3)
    for x in px:
        square.axvline(x, color="C3", alpha=0.25, lw=1)
    square.set(xlabel="x (important)", ylabel="y (unimportant)", xlim=(0, 1), ylim=(0, 1))
    square.text(0.02, 0.93, f"best score {result.best_score:.3f}", transform=square.transAxes)
fig.suptitle("Why random search beats grid search when few hyperparameters matter")
fig.tight_layout()
print("saved", save_figure(fig, "11_grid_vs_random"))

# %% [markdown]
# One random draw could be unlucky, so measure: over many seeds, how often do nine random
# trials find a better score than the 3 × 3 grid? (The grid gives the same answer every time.)

# %%
n_seeds = pick(300, 60)
random_bests = [random_search(bumpy, random_space, 9, seed=s, progress=False).best_score
                for s in range(n_seeds)]
random_beats_grid = float(np.mean(np.array(random_bests) < grid_result.best_score))
print(f"grid best {grid_result.best_score:.3f}; random best (median over {n_seeds} seeds) "
      f"{np.median(random_bests):.3f}; random wins in {random_beats_grid:.0%} of seeds")

# %% [markdown]
# ## 3. How many random trials? 1 − (1 − p)ⁿ
#
# The chance that n random trials include one in the top p of the space does not depend
# on the dimension. `trials_needed` inverts the formula.

# %%
print(f"p = 5 %, n = 59: {prob_top_fraction(0.05, 59):.1%};  trials for 95 %: {trials_needed(0.05, 0.95)};  "
      f"for 99 % of the top 1 %: {trials_needed(0.01, 0.99)}")

# Check it by simulation with random_search itself: the score is x ~ U(0, 1), the top 5 % is x > 0.95
n_runs = pick(1000, 100)
hits = [random_search(lambda p, b: p["x"], {"x": Uniform(0, 1)}, 59, mode="max", seed=s,
                      progress=False).best_score > 0.95 for s in range(n_runs)]
simulated = float(np.mean(hits))
print(f"simulated over {n_runs} searches: {simulated:.1%} (formula {prob_top_fraction(0.05, 59):.1%})")

fig, ax = new_figure(figsize=(6.4, 3.8))
n = np.arange(0, 301)
for p in (0.01, 0.05, 0.10):
    ax.plot(n, [prob_top_fraction(p, int(k)) for k in n], label=f"top {p:.0%}")
ax.plot([59], [prob_top_fraction(0.05, 59)], "ko")
ax.annotate("59 trials → 95.2 %", (59, 0.952), (90, 0.75), arrowprops={"arrowstyle": "->"})
ax.set(xlabel="number of random trials n", ylabel="P(at least one in the top p)", title="1 − (1 − p)ⁿ")
ax.grid(alpha=0.3)
ax.legend()
print("saved", save_figure(fig, "11_one_minus_one_minus_p_to_the_n"))

# %% [markdown]
# ## 4. Successive halving: spend epochs where they pay
#
# Most configurations are visibly bad after one epoch. Successive halving starts many
# with a small budget, keeps the best third, triples their budget, and repeats:

# %%
for n_i, r_i in halving_schedule(27, eta=3, min_budget=1):
    print(f"  {n_i:2d} configurations × {r_i:2d} epochs = {n_i * r_i} epochs")
print("total", sum(n * r for n, r in halving_schedule(27)), "epochs, against 27 × 27 =", 27 * 27,
      "to train all 27 for the full 27 epochs")
print("Hyperband's brackets for a budget of 27 (n configurations at r epochs):")
for rounds in hyperband_brackets(27):
    print("  ", " → ".join(f"{n}×{r}" for n, r in rounds))

# %%
n_configs, top_budget = pick(27, 9), pick(9, 3)
halving = successive_halving(objective, space, n_configs, min_budget=1, max_budget=top_budget, mode="max",
                             seed=0, progress=False)
fig, ax = new_figure(figsize=(6.4, 4))
by_config: dict[int, list] = {}
for t in halving:
    by_config.setdefault(t.config, []).append(t)
for trials in by_config.values():
    ax.plot([t.budget for t in trials], [t.score for t in trials], "o-", alpha=0.7,
            color="C3" if len(trials) == max(len(v) for v in by_config.values()) else "0.6")
budgets = sorted({t.budget for t in halving})
ax.set(xscale="log", xlabel="epochs (budget)", ylabel="validation accuracy",
       title=f"successive halving: {n_configs} configurations, η = 3")
ax.set_xticks(budgets, [str(b) for b in budgets])
ax.minorticks_off()
ax.grid(alpha=0.3)
print("saved", save_figure(fig, "11_successive_halving"))
print(f"halving spent {halving.total_budget:.0f} epochs; best {halving.best_score:.1%} "
      f"with {halving.best_params}")

# %% [markdown]
# The grey lines stop where a configuration was dropped; the red one survived every round.
# The risk is visible too: a configuration that starts slowly (a small learning rate) is
# dropped even if it would have won later. Hyperband hedges that bet by running several
# halvings with different starting budgets.
#
# ## 5. Bayesian optimization, one step at a time
#
# Random search ignores everything it has seen. Bayesian optimization fits a model of the
# score — a Gaussian process — to the trials so far, and asks where a new trial is most
# likely to improve on the best. Below, in 1-D on the Forrester function (a deep minimum
# near 0.76, a shallower one near 0.14), each column is one step: the top plot shows the
# true function (dashed), the GP mean and a ±2σ band, the bottom plot Expected Improvement
# and its maximum — the next point to evaluate. An instructor can show the frames one by one
# (a full run also saves each as `11_bo_step_k.png`).

# %%
grid_1d = np.linspace(0, 1, 400)[:, None]
f_true = np.array([forrester({"x": x}) for x in grid_1d[:, 0]])
space_1d = SearchSpace(FORRESTER_SPACE)
X_obs = np.array([[0.3], [0.6], [0.9]])
y_obs = np.array([forrester({"x": x}) for x in X_obs[:, 0]])
# f is deterministic, so we tell the GP there is (almost) no noise instead of fitting it
gp = GaussianProcess("matern52", noise_variance=1e-6, noise_variance_bounds=(1e-6, 1e-6), seed=0)


def draw_frame(top, bottom, step, mean, std, ei, x_next):
    """One step of BO: the GP against the truth (top) and Expected Improvement (bottom)."""
    top.plot(grid_1d[:, 0], f_true, "k--", lw=1, label="true f")
    top.plot(grid_1d[:, 0], mean, color="C0", label="GP mean")
    top.fill_between(grid_1d[:, 0], mean - 2 * std, mean + 2 * std, color="C0", alpha=0.2, label="±2σ")
    top.plot(X_obs[:, 0], y_obs, "ko", ms=5)
    top.axvline(x_next, color="C3", lw=1)
    ls = float(np.atleast_1d(gp.length_scale)[0])
    top.set(title=f"step {step}: {len(y_obs)} points, ℓ = {ls:.2f}", ylim=(-10, 18))
    bottom.plot(grid_1d[:, 0], ei, color="C2")
    bottom.axvline(x_next, color="C3", lw=1)
    bottom.set(xlabel="x", ylabel="EI")


n_steps = pick(6, 4)
frames = []
fig, axes = new_figure(2, n_steps, figsize=(3.1 * n_steps, 5.2), sharex=True,
                       gridspec_kw={"height_ratios": [2, 1]})
for step in range(1, n_steps + 1):
    gp.fit(X_obs, y_obs)
    mean, std = gp.predict(grid_1d)
    ei = gp_expected_improvement(gp, grid_1d, xi=0.01)
    x_next = float(grid_1d[np.argmax(ei), 0])
    frames.append({"step": step, "x_next": x_next, "best": float(y_obs.min()),
                   "length_scale": float(np.atleast_1d(gp.length_scale)[0]),
                   "max_std_at_data": float(gp.predict(X_obs)[1].max())})
    draw_frame(axes[0, step - 1], axes[1, step - 1], step, mean, std, ei, x_next)
    if not fast_mode():  # the same frame alone, to show one at a time (skipped in the quick run)
        frame, (top, bottom) = new_figure(2, 1, figsize=(4.2, 4.6), sharex=True,
                                          gridspec_kw={"height_ratios": [2, 1]})
        draw_frame(top, bottom, step, mean, std, ei, x_next)
        top.legend(loc="upper left", fontsize=7)
        save_figure(frame, f"11_bo_step_{step}")
    X_obs = np.vstack([X_obs, [[x_next]]])
    y_obs = np.append(y_obs, forrester({"x": x_next}))
axes[0, 0].legend(loc="upper left", fontsize=7)
fig.suptitle("Bayesian optimization on the Forrester function: GP (top) and Expected Improvement (bottom)")
fig.tight_layout()
print("saved", save_figure(fig, "11_bo_step_by_step"))
for fr in frames:
    print(f"  step {fr['step']}: fitted ℓ = {fr['length_scale']:.3f}, next x = {fr['x_next']:.3f}, "
          f"best so far {fr['best']:.3f}")
print(f"true minimum {FORRESTER_MINIMUM:.3f} at x = 0.757")

# %% [markdown]
# Notice four things. The band pinches to zero at every observation — with (almost) no
# noise the GP passes through the data and is sure there, so EI is zero there too. EI is
# large where the mean is low (exploitation) *or* the band is wide (exploration). The
# length scale ℓ, chosen at every step by maximizing the marginal likelihood, decides how
# far one observation "reaches": with only three points the likelihood prefers a very short
# ℓ — the GP claims to know nothing between the points (a flat mean, a wide band) and EI is
# almost flat. From the fourth point on, ℓ settles and the search homes in. And the search
# is not fooled by the shallow dip near 0.14 here only because its first points happened to
# land well; start it at 0.1, 0.45 and 0.95 and watch it explore the wrong basin first
# (try it: change `X_obs` in the cell above).

# %%
print(gp)
print(f"log marginal likelihood of the fit: {gp.log_marginal_likelihood():.2f}")
print("EI at σ = 0 is exactly", float(expected_improvement(-7.0, 0.0, best=-6.0)),
      "even where the mean is below the best")

# %% [markdown]
# `bayesian_optimization` does all of this for any space: it encodes each configuration into
# the unit cube (log scale for `LogUniform`, one-hot columns for a list of choices), fits
# the GP after a Latin-hypercube start, and maximizes EI with thousands of random
# candidates refined by a local search. Against random search with the same number of
# evaluations:

# %%
bo_vs_random = []
for s in range(pick(10, 3)):
    bo = bayesian_optimization(forrester, FORRESTER_SPACE, 12, seed=s, progress=False).best_score
    rs = random_search(forrester, FORRESTER_SPACE, 12, seed=s, progress=False).best_score
    bo_vs_random.append((bo, rs))
bo_win_fraction = float(np.mean([b < r for b, r in bo_vs_random]))
bo_median, random_median = np.median(bo_vs_random, axis=0)
print(f"Forrester, 12 evaluations: BO better than random in {bo_win_fraction:.0%} of seeds; "
      f"median best BO {bo_median:.3f}, random {random_median:.3f}")

# %% [markdown]
# ## 6. Four methods on digits, at the same number of epochs
#
# Learning rate × weight decay × width of the digits MLP. Grid, random and Bayesian
# optimization train each configuration for 3 epochs; successive halving starts more
# configurations at 1 epoch and promotes a third of them to 3. Everyone gets the same
# total, and the curves show the best validation accuracy against **epochs spent** —
# comparing per trial would flatter halving, whose trials are cheap.

# %%
search_space = {"lr": LogUniform(1e-4, 1e-1), "weight_decay": LogUniform(1e-6, 1e-1),
                "width": IntLogUniform(8, 128)}
if fast_mode():  # 8 trials of 1 epoch; halving 4 × 1 then 2 × 3
    grid_digits = {"lr": [3e-3, 3e-2], "weight_decay": [1e-5, 1e-2], "width": [16, 64]}
    epochs, n_trials, n_halving = 1, 8, 4
else:  # 36 epochs for every method
    grid_digits = {"lr": [1e-3, 1e-2, 1e-1], "weight_decay": [1e-5, 1e-2], "width": [16, 128]}
    epochs, n_trials, n_halving = 3, 12, 18
methods = {
    "grid": lambda s: grid_search(objective, grid_digits, budget=epochs, mode="max", seed=s, progress=False),
    "random": lambda s: random_search(objective, search_space, n_trials, budget=epochs, mode="max", seed=s,
                                      progress=False),
    "halving": lambda s: successive_halving(objective, search_space, n_halving, min_budget=1, max_budget=3,
                                            mode="max", seed=s, progress=False),
    "bayesian": lambda s: bayesian_optimization(objective, search_space, n_trials, budget=epochs, mode="max",
                                                seed=s, progress=False),
}
seeds = list(range(pick(3, 1)))
runs = {name: [search(s) for s in seeds] for name, search in methods.items()}
fig, axes = new_figure(1, len(seeds), figsize=(5.2 * len(seeds), 3.8), squeeze=False)
for i, s in enumerate(seeds):
    plot_best_so_far({name: rs[i] for name, rs in runs.items()}, ax=axes[0, i], ylim=(pick(0.8, 0.5), 1.0),
                     ylabel="best validation accuracy", title=f"seed {s}")
fig.tight_layout()
print("saved", save_figure(fig, "11_digits_best_so_far"))

print(f"{'method':9s} {'epochs':>6s} " + " ".join(f"{'seed ' + str(s):>8s}" for s in seeds) + "    mean")
final = {}
for name, rs in runs.items():
    scores = [r.best_score for r in rs]
    final[name] = float(np.mean(scores))
    row = " ".join(f"{v:8.1%}" for v in scores)
    print(f"{name:9s} {rs[0].total_budget:6.0f} {row} {final[name]:7.1%}")

# %% [markdown]
# On this small problem all four land within a point or two of each other: 360 validation
# images move in steps of 0.28 %, and a lucky seed matters as much as the method. That is
# the honest lesson — a search method is a way to spend a budget, and the differences show
# when trials are expensive and the space is large. (Random search and halving draw their
# configurations from the same seeded stream, so they often share their best configuration:
# halving only spends the epochs differently — look at where its curve rises.)
#
# One more honest step: the search chose by *validation* accuracy, so report the winner on
# the untouched **test** set, retrained with a bigger budget.

# %%
test_set = load_digits("test")
test_objective = mlp_objective(val=test_set)
winner_name = max(final, key=final.get)
winner = max((r for r in runs[winner_name]), key=lambda r: r.best_score)
final_epochs = pick(10, 3)
retrained = test_objective(winner.best_params, final_epochs, seed=0)
print(f"{winner_name}'s best {winner.best_params}: val {winner.best_score:.1%}, "
      f"test {retrained['score']:.1%} after {final_epochs} epochs")

# %% [markdown]
# ## 7. Model search: the network's shape is a hyperparameter too
#
# "Model search" in its simplest honest form: put the architecture in the search space.
# Here width (8 to 256, log scale) and depth (1 to 3 hidden layers) of the MLP, searched
# by Bayesian optimization — a tiny neural-architecture search. The objective reports the
# parameter count beside the score, so we can see accuracy against size.

# %%
nas_space = {"width": IntLogUniform(8, 256), "depth": range(1, 4), "lr": [1e-2]}
nas = bayesian_optimization(objective, nas_space, pick(14, 5), budget=pick(5, 2), mode="max", seed=0,
                            progress=False)
fig, ax = new_figure(figsize=(6.4, 4))
for depth in (1, 2, 3):
    ts = [t for t in nas.ok_trials if t.params["depth"] == depth]
    ax.scatter([t.info["parameters"] for t in ts], [t.score for t in ts], label=f"depth {depth}", s=40)
ax.set(xscale="log", xlabel="parameters", ylabel="validation accuracy",
       title="width × depth search on digits")
ax.minorticks_off()
ax.grid(alpha=0.3)
ax.legend()
print("saved", save_figure(fig, "11_architecture_search"))
nas_best = nas.best
print(f"best architecture: depth {nas_best.params['depth']}, width {nas_best.params['width']} "
      f"({nas_best.info['parameters']:,} parameters), val accuracy {nas_best.score:.1%}")
small_enough = [t for t in nas.ok_trials if t.score >= nas_best.score - 0.01]
smallest = min(small_enough, key=lambda t: t.info["parameters"])
print(f"smallest within 1 point of the best: depth {smallest.params['depth']}, "
      f"width {smallest.params['width']} ({smallest.info['parameters']:,} parameters, {smallest.score:.1%})")

# %% [markdown]
# ## Exercises
#
# **1.** How many random trials give a 99 % chance of at least one trial in the top 1 %?
#
# *Answer.* n = ⌈log(1 − 0.99) / log(1 − 0.01)⌉ = ⌈458.2⌉ = 459 (`trials_needed(0.01, 0.99)`).
#
# **2.** Five hyperparameters, of which two matter. A grid with 3 values each has 3⁵ = 243
# points. How many distinct settings of the *two important* ones does it try? How many
# would 243 random trials try?
#
# *Answer.* The grid tries 3 × 3 = 9 distinct pairs (each 27 times); random trials try 243
# distinct pairs (with probability 1, for continuous ranges). Same cost, 27 times the coverage
# of what matters.
#
# **3.** Successive halving with 81 configurations, η = 3, from 1 epoch: what does it cost,
# and what would training all 81 for the final budget cost?
#
# *Answer.* `halving_schedule(81)` is 81×1, 27×3, 9×9, 3×27, 1×81: five rounds of 81 epochs,
# 405 in all, against 81 × 81 = 6561 epochs.
#
# **4.** One of the source articles lists "random search, Bayesian optimization and
# neural-network optimization" as ways to search models, and then shows, as its code
# example, a single fixed network trained once: nothing is searched. Another calls
# `GridSearchCV(model, {"learning_rate": [0.01, 0.05, 0.1], "batch_size": [32, 64, 128]},
# cv=5)`. Rewrite the first as a real search with minidl, and count the training runs of the
# second.
#
# *Answer.* A search needs a space and an objective; minidl's digits objective already
# trains and validates, so the search is one call:
#
#     result = random_search(mlp_objective(), {"width": IntLogUniform(8, 256), "lr": LogUniform(1e-4, 1e-1)},
#                            n_trials=20, mode="max", budget=5, seed=0)
#
# The grid has 3 × 3 = 9 points and 5-fold cross-validation trains each 5 times: 45 runs
# (plus one refit on all the data). Nine random trials would cover nine learning rates
# instead of three for the same cost.
#
# **5.** At an observed point of a noise-free GP, what is EI, and why? What does a larger ξ do?
#
# *Answer.* σ = 0 there (the GP is certain), so EI = 0: evaluating a known point teaches
# nothing. A larger ξ demands more improvement before EI counts it, which favours uncertain
# regions (exploration) over the neighbourhood of the incumbent:

# %%
mu, sd = np.array([-0.05, 0.3]), np.array([0.05, 1.0])  # near the incumbent vs far and uncertain
for xi in (0.0, 0.5):
    ei_pair = expected_improvement(mu, sd, best=0.0, xi=xi)
    print(f"xi = {xi}: EI near = {ei_pair[0]:.4f}, EI far = {ei_pair[1]:.4f} -> picks "
          f"{'near' if ei_pair[0] > ei_pair[1] else 'far'}")

# %% [markdown]
# **6.** Why compare search methods by best score against epochs spent rather than against
# trials?
#
# *Answer.* Trials cost different amounts: a halving trial at 1 epoch costs a third of a
# 3-epoch trial. Per trial, halving would look cheap and bad; per epoch, the comparison asks
# the question that matters — what does a fixed amount of compute buy?

# %%
results = {
    "random_beats_grid_fraction": random_beats_grid,
    "grid_best": grid_result.best_score,
    "prob_top5_59": prob_top_fraction(0.05, 59),
    "simulated_top5_59": simulated,
    "trials_needed_99_top1": trials_needed(0.01, 0.99),
    "halving_81_total_epochs": sum(n * r for n, r in halving_schedule(81)),
    "halving_best_val_accuracy": halving.best_score,
    "bo_frames": len(frames),
    "bo_final_best_1d": float(y_obs.min()),
    "bo_max_std_at_data": max(fr["max_std_at_data"] for fr in frames),
    "bo_win_fraction_forrester": bo_win_fraction,
    "digits_mean_best": final,
    "digits_epochs_each": {name: rs[0].total_budget for name, rs in runs.items()},
    "winner_test_accuracy": retrained["score"],
    "nas_best_val_accuracy": nas_best.score,
    "nas_best_architecture": (nas_best.params["depth"], nas_best.params["width"]),
    "seconds": round(time.perf_counter() - start_time, 1),
}
print(results)
