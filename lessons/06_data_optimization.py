# %% [markdown]
# # Lesson 06 — Data optimization: standardization, augmentation, and how much data
#
# ## What you will learn
#
# - Why gradient descent crawls when the inputs live on different scales: the **condition
#   number** of the loss surface, seen as the shape of its contours, and how
#   **standardization** (z-scores computed on the training split only) rounds them.
# - What **data augmentation** does to an image — every geometric variant (shift, rotation,
#   zoom, flip, crop) comes from *one* affine resampling routine — and when it helps.
# - How accuracy grows with the amount of training data (a **learning curve**), measured by
#   **subsampling**, which the source articles call "data sparsification", and why
#   training on less data is not a way to make a model "easier to learn".
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 13 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# **Standardization** (`minidl.data.transforms.Standardize`): for each feature j, with the
# mean and standard deviation of the *training* samples,
#
# $$\tilde x = \frac{x - \bar x}{\sigma},\qquad \bar x = \text{mean of the training } x,\qquad
#   \sigma^2 = \text{mean of } (x - \bar x)^2$$
#
# ($\sigma$ replaced by 1 where it is 0: a constant feature is left at 0.) $\tilde x$ is the
# feature's *z-score*.
#
# The same $\bar x$ and $\sigma$ are then applied to validation and test data; they are never
# re-computed there (`fit` a second time raises unless you say `refit=True`).
#
# **Conditioning** (`minidl.data.conditioning`). For a linear model $\hat y = Xw$ and the mean
# squared error $L(w) = (1/N)\lVert Xw - y\rVert^2$ (minidl's `mse_loss`), the loss is a bowl whose
# curvature is the same everywhere:
#
# $$\nabla^2 L = H = \frac{2}{N} X^\top X,\qquad \kappa = \frac{h_{\max}}{h_{\min}}$$
#
# ($\kappa$ is the condition number of $H$.)
#
# ($H$ is the **Hessian**, the matrix of second derivatives $\partial^2 L/\partial w_i \partial w_j$;
# $h_{\max}$ and $h_{\min}$ are its largest and smallest eigenvalues.) Gradient descent with learning
# rate $\mathrm{lr}$ multiplies the error along the eigenvector of eigenvalue $h$ by $(1 - \mathrm{lr}\cdot h)$
# each step. It diverges unless $\mathrm{lr} < 2/h_{\max}$, so with $\mathrm{lr} = 1/h_{\max}$ the slowest
# direction shrinks only by $(1 - 1/\kappa)$ per step: about $\kappa$ steps for each factor $e$. Contours
# of a badly conditioned loss are long thin ellipses; gradient descent zig-zags across the
# valley and creeps along it.
#
# **Augmentation** (`minidl.data.transforms.affine_resample`): the output pixel in column $c$
# and row $r$ reads the input image $x$ at $(c_{\text{in}}, r_{\text{in}}) = A\,(c, r, 1)^\top$, with a
# $2 \times 3$ matrix $A$ per image and bilinear interpolation between the four neighbouring pixels
# (blank outside the image):
#
# $$\mathrm{out}[r, c] = \sum_{i, j \in \{0, 1\}} k_i(r_{\text{in}})\, k_j(c_{\text{in}})\,
#   x\big[\lfloor r_{\text{in}} \rfloor + i,\ \lfloor c_{\text{in}} \rfloor + j\big]$$
#
# with the interpolation weights
#
# $$k_0(t) = 1 - (t - \lfloor t \rfloor),\qquad k_1(t) = t - \lfloor t \rfloor$$
#
# A flip, a shift, a rotation, a zoom and a crop are only different matrices.
#
# **Subsampling** (`minidl.data.subsample`): keep n of the N training samples — uniformly at
# random, stratified (each class keeps its share) or balanced (the same count per class).

# %%
import time
from pathlib import Path

import matplotlib
import numpy as np
from tqdm import tqdm

import minidl
from minidl import nn, optim
from minidl.course import claim, fast_mode, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import (
    ArrayDataset,
    DataLoader,
    DatasetNotAvailableError,
    condition_number,
    hessian_eigenvalues,
    load_digits,
    load_mnist,
    mse_hessian,
    subsample,
)
from minidl.data.transforms import Compose, GaussianNoise, RandomAffine, Standardize, hflip
from minidl.nn.functional import mse_loss
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

# %% [markdown]
# ## 1. Two features on different scales
#
# A made-up housing market: the price (k€) of a flat depends on its area (in square metres, around 80)
# and its number of rooms (around 3). Area and rooms are correlated — bigger flats have more
# rooms — and live on scales that differ by a factor of 25. The true rule has no intercept,
# so a linear model without bias, $\hat y = w_1\,\text{area} + w_2\,\text{rooms}$, can fit it exactly (up to noise).

# %%
rng = np.random.default_rng(0)
N = 200
area = rng.normal(80, 25, N).clip(20, None)
rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.6, N)), 1, None)
X_raw = np.stack([area, rooms], axis=1).astype(np.float32)
price = (3.0 * area + 20.0 * rooms + rng.normal(0, 15, N)).astype(np.float32)[:, None]

scaler = Standardize().fit(X_raw)
X_std = scaler(X_raw)
price_centred = price - price.mean()  # standardized features have mean 0: centre the target too
print("mean and std used:", scaler.mean.ravel(), scaler.std.ravel())
print(f"correlation of area and rooms: {np.corrcoef(X_raw.T)[0, 1]:.2f}")

kappa_raw, kappa_std = condition_number(X_raw), condition_number(X_std)
print("Hessian eigenvalues, raw:         ", np.round(hessian_eigenvalues(X_raw), 2))
print("Hessian eigenvalues, standardized:", np.round(hessian_eigenvalues(X_std), 3))
print(f"condition number κ: raw {kappa_raw:,.0f}   standardized {kappa_std:.1f}")
claim(5 < kappa_std < 15 and kappa_raw > 100 * kappa_std, "κ is still about 9 after standardizing",
      kappa_raw=kappa_raw, kappa_standardized=kappa_std)

# %% [markdown]
# Why is $\kappa$ still about 9 after standardizing? Standardization fixes each feature's scale,
# but not the correlation between them: for two standardized features with correlation $\rho$
# the Hessian is $2\begin{pmatrix}1 & \rho\\ \rho & 1\end{pmatrix}$, whose eigenvalues are $2(1 \pm \rho)$,
# so $\kappa = (1 + \rho)/(1 - \rho)$.
# Exercise 1 removes the correlation too.
#
# Now the same optimizer — plain gradient descent (`optim.SGD`, full batch) with the
# largest comfortable step $\mathrm{lr} = 1/h_{\max}$ — on both versions of the problem, from $w = 0$.

# %%
STEPS = 100


def gradient_descent(features: np.ndarray, target: np.ndarray, steps: int = STEPS):
    """Full-batch SGD on a bias-free linear model from w = 0.

    Returns the weights after each step (``path[0]`` is the start), the loss at each of
    those weights, and the learning rate 1/h_max.
    """
    lr = 1.0 / hessian_eigenvalues(features)[-1]
    model = nn.Linear(2, 1, bias=False)
    model.weight.data[...] = 0.0
    opt = optim.SGD(model.parameters(), lr=lr)
    x, y = minidl.tensor(features), minidl.tensor(target)
    path, losses = [], []
    for step in range(steps + 1):
        opt.zero_grad()
        loss = mse_loss(model(x), y)
        path.append(model.weight.numpy()[0].copy())
        losses.append(loss.item())
        if step < steps:
            loss.backward()
            opt.step()
    return np.array(path), np.array(losses), lr


def best_weights(features: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    w, *_ = np.linalg.lstsq(features.astype(np.float64), target.astype(np.float64), rcond=None)
    return w.ravel(), float(np.mean((features @ w - target) ** 2))


runs = {}
for name, features, target in (("raw", X_raw, price), ("standardized", X_std, price_centred)):
    path, losses, lr = gradient_descent(features, target)
    w_best, loss_best = best_weights(features, target)
    weight_error = float(np.linalg.norm(path[-1] - w_best) / np.linalg.norm(w_best))
    runs[name] = dict(path=path, losses=losses, lr=lr, w_best=w_best, loss_best=loss_best,
                      weight_error=weight_error, features=features, target=target)
    print(f"{name:>12}: lr {lr:.2e}; after {STEPS} steps w = {np.round(path[-1], 2)} (best {np.round(w_best, 2)}, "
          f"{weight_error:.1%} off); loss {losses[-1]:.1f} (best {loss_best:.1f})")
raw, std = runs["raw"], runs["standardized"]
claim(raw["weight_error"] > 0.5 and raw["losses"][-1] > 1.5 * raw["loss_best"] and std["weight_error"] < 0.01,
      "on raw features gradient descent stalls (weights far off, loss well above the best); standardized, it "
      "converges", raw_error=raw["weight_error"], raw_loss=(raw["losses"][-1], raw["loss_best"]),
      standardized_error=std["weight_error"])

# %% [markdown]
# On raw features gradient descent got down the steep wall at once — most of the loss is gone
# after a few steps — and then stalled on the valley floor: after all its steps the weights
# are still far off (the printout gives the distance and both weight vectors) and the loss
# is well above the best possible. On standardized features it converged. The formula predicts the stall:
# along the eigenvector of $h_{\min}$ the error is multiplied by $(1 - h_{\min}/h_{\max}) = (1 - 1/\kappa)$
# per step. Measure it:

# %%
eigenvalues, eigenvectors = np.linalg.eigh(mse_hessian(X_raw))
slow = eigenvectors[:, 0]
error_start = runs["raw"]["path"][0] - runs["raw"]["w_best"]
error_end = runs["raw"]["path"][-1] - runs["raw"]["w_best"]
slow_shrink_measured = float(slow @ error_end / (slow @ error_start))
slow_shrink_predicted = float((1 - eigenvalues[0] / eigenvalues[-1]) ** STEPS)
print(f"slow direction after {STEPS} steps: measured factor {slow_shrink_measured:.4f}, "
      f"predicted (1 − 1/κ)^{STEPS} = {slow_shrink_predicted:.4f}")
print(f"steps needed on raw features to shrink that error 1000×: about κ·ln(1000) = {kappa_raw * np.log(1000):,.0f}")

# %% [markdown]
# The picture: loss contours in weight space (levels spaced by factors of 2 above the
# minimum) with the gradient-descent path. Left: thin ellipses, a path that cannot make
# progress along the valley. Right: round-ish contours, straight to the minimum.

# %%
def loss_on_grid(features, target, w1, w2):
    """L(w) at every grid point, with minidl's mse_loss (one column of predictions per point)."""
    weights = np.stack([w1.ravel(), w2.ravel()])  # (2, points)
    predictions = minidl.tensor(features @ weights)
    targets = minidl.tensor(np.broadcast_to(target, predictions.shape).copy())
    return mse_loss(predictions, targets, reduction="none").numpy().mean(axis=0).reshape(w1.shape)


fig, axes = new_figure(1, 2, figsize=(10, 4.2))
for ax, (name, run) in zip(axes, runs.items()):
    path, w_best = run["path"], run["w_best"]
    span = np.abs(np.concatenate([path, w_best[None]])).max(axis=0) * 1.3 + 1e-9
    grid = pick(160, 60)
    w1, w2 = np.meshgrid(np.linspace(-0.3 * span[0], span[0], grid), np.linspace(-0.3 * span[1], span[1], grid))
    surface = loss_on_grid(run["features"], run["target"], w1, w2)
    levels = run["loss_best"] + (surface.max() - run["loss_best"]) * 2.0 ** -np.arange(14, -1, -1)
    ax.contour(w1, w2, surface, levels=levels, cmap="viridis", linewidths=0.8)
    ax.plot(path[:, 0], path[:, 1], ".-", color="crimson", ms=3, lw=1, label=f"{STEPS} steps of GD")
    ax.plot(*w_best, "k*", ms=12, label="minimum")
    kappa = kappa_raw if name == "raw" else kappa_std
    ax.set(xlabel="w₁ (price per unit of area feature)", ylabel="w₂ (price per unit of rooms feature)",
           title=f"{name} features: κ = {kappa:,.0f}")
    ax.legend(loc="lower right", fontsize=12)
fig.tight_layout()
print("saved", save_figure(fig, "06_conditioning"))

# %% [markdown]
# On real images the effect depends on the data: run `minidl tour --only data`. On the 8×8
# digits, whose border pixels are almost always blank, standardizing cuts $\kappa$ by a factor of
# about 350, and plain SGD does better at every learning rate tried (by far at the small
# ones, barely at the best). On MNIST, whose pixels already share one [0, 1] scale,
# per-pixel z-scores blow rarely-lit border pixels up and the tuned results are no better.
# Measure before you believe.
#
# ## 2. Augmentation: many plausible variants of each image
#
# One pipeline — a random rotation (±15°), shift (±10% of the size) and zoom (0.9–1.1) in a
# single resampling, then a little Gaussian noise — applied to a few training images.
# The lesson uses MNIST when its files can be found (your `MINIDL_DATA` folder, the cache
# in `~/.cache/minidl/data`, or the course's shared folder), downloading it outside fast
# mode; without it, it falls back to the bundled 8×8 digits.

# %%
def find_images() -> tuple[ArrayDataset, ArrayDataset, str]:
    """(train, test, name): MNIST if available (fetched outside fast mode), else the bundled digits."""
    beside_the_course = Path(minidl.__file__).resolve().parents[2] / "shared" / "data"
    roots = ([beside_the_course] if (beside_the_course / "mnist").is_dir() else []) + [None]
    reason = ""
    for root in roots:
        try:
            fetch = root is None and not fast_mode()
            return (load_mnist("train", root=root, flatten=False, download=fetch),
                    load_mnist("test", root=root, flatten=False, download=fetch), "MNIST")
        except DatasetNotAvailableError as error:
            reason = str(error).splitlines()[0]
    print(f"({reason} Using the bundled 8×8 digits instead.)")
    return load_digits("train", flatten=False), load_digits("test", flatten=False), "digits"


images_train, images_test, IMAGES = find_images()
side = images_train.features.shape[-1]
print(IMAGES, images_train, images_test, sep="\n")

augment = Compose([RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=0),
                   GaussianNoise(sigma=0.05, seed=1)])
examples = images_train.features[:6]
variants = [augment(examples) for _ in range(7)]
assert all(v.shape == examples.shape and v.dtype == examples.dtype for v in variants)

# one mosaic (rows: images; columns: the original, then the variants) with a 2-pixel gutter
gutter = 2
cell = side + gutter
mosaic = np.ones((6 * cell - gutter, 8 * cell - gutter), dtype=np.float32) * np.nan
for col, batch in enumerate([examples, *variants]):
    batch = minidl.backend.to_numpy(batch)  # matplotlib draws host (NumPy) arrays
    for row in range(6):
        mosaic[row * cell:row * cell + side, col * cell:col * cell + side] = batch[row, 0]
fig, ax = new_figure(figsize=(8, 6.2))
ax.imshow(mosaic, cmap=matplotlib.colormaps["gray_r"].with_extremes(bad="lightsteelblue"), vmin=0, vmax=1)
ax.set_xticks([side / 2 + col * cell for col in range(8)], ["original"] + [f"#{k}" for k in range(1, 8)])
ax.set_yticks([side / 2 + row * cell for row in range(6)],
              [f"label {int(label)}" for label in images_train.labels[:6]])
ax.tick_params(length=0)
ax.set(xlabel="the original, then random augmentations", ylabel="training image (its label)")
ax.set_title(f"{IMAGES}: each row is one image and seven random augmentations of it", fontsize=12)
print("saved", save_figure(fig, "06_augmentation_grid"))

# %% [markdown]
# Does it help? Augmentation matters most when labelled data is scarce. Train the same MLP
# twice on a small stratified subset — once on the images as they are, once with a fresh
# augmentation of every batch (same seeds, same number of steps) — and test on held-out
# images. On MNIST with 1,000 training images minidl measured about 90% and 94%; on the 8×8
# digits, where a one-pixel shift is already 12% of the image, the same transforms help
# little and can hurt. Your numbers are printed below.

# %%
AUG_TRAIN = pick(1000, 200) if IMAGES == "MNIST" else pick(200, 100)
AUG_STEPS = pick(2000, 60)
augment_rows = RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), image_shape=(side, side),
                            seed=0)
small = subsample(images_train, size=AUG_TRAIN, strategy="stratified", seed=0)
held_out = subsample(images_test, size=min(len(images_test), pick(10000, 1000)), strategy="stratified", seed=0)
flat = {name: ArrayDataset(d.features.reshape(len(d), -1), d.labels, d.class_names, d.name)
        for name, d in (("train", small), ("test", held_out))}


def train_mlp(train: ArrayDataset, steps: int, transform=None, seed: int = 0):
    minidl.manual_seed(seed)
    model = nn.MLP([train.num_features, 128, train.num_classes])
    loader = DataLoader(train, 64, shuffle=True, seed=seed, transform=transform)
    start = time.perf_counter()
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), loader,
        epochs=max(1, round(steps / len(loader))), progress=not fast_mode() and transform is not None)
    return model, time.perf_counter() - start


augmentation = {}
for name, transform in (("plain", None), ("augmented", augment_rows)):
    model, seconds = train_mlp(flat["train"], AUG_STEPS, transform)
    augmentation[name] = {"train": evaluate(model, DataLoader(flat["train"], 1000))["accuracy"],
                          "test": evaluate(model, DataLoader(flat["test"], 1000))["accuracy"], "seconds": seconds}
    print(f"{name:>9}: train accuracy {augmentation[name]['train']:.1%}, test accuracy "
          f"{augmentation[name]['test']:.1%} ({seconds:.1f} s)")
if IMAGES == "MNIST" and not fast_mode():  # the quick version trains 60 steps: too few to show either effect
    claim(augmentation["plain"]["train"] > 0.99 and augmentation["augmented"]["train"] < augmentation["plain"]["train"]
          and augmentation["augmented"]["test"] > augmentation["plain"]["test"],
          "the plain model learns its training images by heart; the augmented one fits them less and generalizes "
          "better", augmentation=augmentation)

# %% [markdown]
# In the full version on MNIST (1,000 training images, 2,000 steps; the quick version trains
# too few steps to show it) the plain model learns its training images by heart (train
# accuracy near 100%); the
# augmented one never sees the same image twice, fits its training set less perfectly, and
# generalizes better. Augmentation is a regularizer: it encodes what you know about the task
# ("a digit moved by two pixels is the same digit") as more data.
#
# ## 3. How much data? Learning curves by subsampling
#
# Train the same MLP on growing stratified subsets of the digits' training split, always for
# the same number of steps, and measure accuracy on the same test set (three seeds per
# size). Time per epoch is proportional to the subset size — that is all subsampling saves.

# %%
digits_train, digits_test = load_digits("train"), load_digits("test")
FRACTIONS = pick([0.03, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0], [0.05, 1.0])
SEEDS = pick(3, 1)
CURVE_STEPS = pick(600, 80)
curve = {}
for fraction in tqdm(FRACTIONS, "subset sizes", disable=fast_mode()):  # about ten seconds in full mode
    rows = []
    for seed in range(SEEDS):
        part = subsample(digits_train, fraction, strategy="stratified", seed=seed)
        model, seconds = train_mlp(part, CURVE_STEPS, seed=seed)
        epochs = max(1, round(CURVE_STEPS / len(DataLoader(part, 64))))
        rows.append((evaluate(model, DataLoader(part, 1000))["accuracy"],
                     evaluate(model, DataLoader(digits_test, 1000))["accuracy"], seconds / epochs))
    train_acc, test_acc, epoch_seconds = np.array(rows).T
    curve[len(part)] = dict(train=train_acc.mean(), test=test_acc.mean(), test_std=test_acc.std(),
                            epoch_seconds=epoch_seconds.mean())
    print(f"{len(part):5d} samples: train {train_acc.mean():.1%}   test {test_acc.mean():.1%} "
          f"± {test_acc.std():.1%}   {1e3 * epoch_seconds.mean():.1f} ms per epoch")
curve_sizes = sorted(curve)
claim(all(curve[a]["test"] < curve[b]["test"] + 0.01 for a, b in zip(curve_sizes, curve_sizes[1:]))
      and curve[curve_sizes[0]]["test"] < curve[curve_sizes[-1]]["test"] - 0.05
      and curve[curve_sizes[0]]["train"] - curve[curve_sizes[0]]["test"]
      > curve[curve_sizes[-1]]["train"] - curve[curve_sizes[-1]]["test"],
      "every halving of the data costs accuracy, and the train-test gap widens as the data shrinks", curve=curve)

sizes = sorted(curve)
fig, (ax_acc, ax_time) = new_figure(1, 2, figsize=(10, 3.6))
ax_acc.plot(sizes, [100 * curve[n]["train"] for n in sizes], "o--", label="train")
ax_acc.errorbar(sizes, [100 * curve[n]["test"] for n in sizes], yerr=[100 * curve[n]["test_std"] for n in sizes],
                fmt="o-", capsize=3, label="test")
ax_acc.set(xscale="log", xlabel="training samples (count, log scale)", ylabel="accuracy (%)",
           title=f"digits, MLP, {CURVE_STEPS} steps at every size")
ax_time.plot(sizes, [1e3 * curve[n]["epoch_seconds"] for n in sizes], "o-")
ax_time.set(xscale="log", xlabel="training samples (count, log scale)", ylabel="time per epoch (ms)",
            title="what subsampling saves: time per epoch")
for ax in (ax_acc, ax_time):
    ax.grid(alpha=0.3, which="both")
ax_acc.legend()
fig.tight_layout()
print("saved", save_figure(fig, "06_learning_curve"))

# %% [markdown]
# Read the curve from the right: halving the data costs accuracy (except near the top,
# where the curve has flattened and neighbours are within a point of each other), and the gap
# between train and test accuracy (overfitting) widens as the data shrinks. The article's
# claim that "sparsifying" the training data makes a model easier to learn is backwards: a
# smaller training set is easier to *memorize*, which is not the same thing. Subsampling
# is still useful — to try ideas quickly, or to measure a learning curve like this one and
# decide whether collecting more data is worth it: if the test curve is still rising at the
# right edge, more data will help; where it has flattened (for this small MLP it does at
# around a thousand digits), a better model or better features are the next lever.
#
# ## Exercises
#
# **1. Remove the correlation too.** Standardization left $\kappa \approx 9$ because area and rooms
# are correlated. *Whiten* the features: rotate them onto the eigenvectors of their
# covariance and divide each by the square root of its eigenvalue. What is $\kappa$ then, and how
# many steps of gradient descent with $\mathrm{lr} = 1/h_{\max}$ does the problem need? Write
# `whiten(X)` (rows are samples; NumPy in, NumPy out) and test it with
# `minidl.course_checks.check("06.1", whiten)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** The whitened features have identity covariance, so $H = 2I$, $\kappa = 1$, and one step
# with $\mathrm{lr} = 1/h_{\max} = 1/2$ lands exactly on the minimum (every direction shrinks by $1 - 1 = 0$).
# Whitening needs the full covariance matrix ($d^2$ numbers for $d$ features, expensive for images and
# unstable for nearly-constant pixels), which is why standardization is the everyday tool.

# %% tags=["answer", "hide-cell"]
centred = X_raw.astype(np.float64) - X_raw.mean(axis=0)
cov_values, cov_vectors = np.linalg.eigh(centred.T @ centred / N)
X_white = (centred @ cov_vectors / np.sqrt(cov_values)).astype(np.float32)
whitened_kappa = condition_number(X_white)
_, white_losses, _ = gradient_descent(X_white, price_centred, steps=1)
_, white_best = best_weights(X_white, price_centred)
print(f"whitened κ = {whitened_kappa:.4f}; loss {white_losses[0]:.0f} at the start, "
      f"{white_losses[1]:.3f} after one step; best possible {white_best:.3f}")
assert abs(white_losses[1] - white_best) < 1e-3 * white_best


def whiten(X: np.ndarray) -> np.ndarray:
    centred = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / len(X))
    return centred @ vectors / np.sqrt(values)


check("06.1", whiten)

# %% [markdown]
# **2. Which augmentations keep the label?** The source articles augment with a random
# horizontal flip. Train an MLP on the 8×8 digits, then test it on the test digits mirrored
# left-right. What happens, and what does that tell you about flipping digits for training?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Accuracy collapses: a mirrored 2, 3, 4, 7 or 9 is not a digit the model (or a
# person) would read as the same number. An augmentation must produce images that still
# carry their label; flips suit clothing (Fashion-MNIST), not digits or letters.

# %% tags=["answer", "hide-cell"]
digits_model, _ = train_mlp(digits_train, pick(1200, 150))
plain_accuracy = evaluate(digits_model, DataLoader(digits_test, 1000))["accuracy"]
mirrored = digits_test.map(lambda x: hflip(x.reshape(-1, 8, 8)).reshape(len(x), 64))
mirrored_accuracy = evaluate(digits_model, DataLoader(mirrored, 1000))["accuracy"]
print(f"test accuracy: {plain_accuracy:.1%} on the test digits, {mirrored_accuracy:.1%} on mirrored ones")

# %% [markdown]
# **3. "Sparse representation" of data.** The articles' other kind of sparsification is to
# store the data as a sparse matrix. What fraction of the pixels are zero, how many bytes
# would a CSR matrix (float32 values + int32 column indices + int32 row pointers) take
# compared with a dense float32 array, and does it change what the model learns?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It changes only the storage: the model sees exactly the same numbers. For
# images that are mostly blank (MNIST: about 81% zeros) CSR takes less than half the memory; for
# the 8×8 digits the saving is smaller. (And dense BLAS on the GPU is usually faster than
# sparse kernels at these densities — a storage trick, not a learning one.)

# %% tags=["answer", "hide-cell"]
pixels = images_train.features.reshape(len(images_train), -1)
zero_fraction = float((pixels == 0).mean())
nonzeros = int((pixels != 0).sum())
dense_bytes = pixels.size * 4
csr_bytes = nonzeros * (4 + 4) + (len(pixels) + 1) * 4
print(f"{IMAGES}: {zero_fraction:.1%} of the pixels are zero; dense {dense_bytes / 1e6:.1f} MB, "
      f"CSR {csr_bytes / 1e6:.1f} MB ({csr_bytes / dense_bytes:.0%} of dense)")

# %% [markdown]
# **4. Random or balanced?** Draw 30 training digits uniformly at random, and 30 balanced
# (3 per class), for 20 seeds each. How often does the random draw miss a class entirely,
# and how do the two compare in test accuracy?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** With 10 classes and 30 draws a random subset misses some class in a large share
# of the seeds (about 40%: $10 \cdot 0.9^{30} \approx 0.42$ is a close upper bound) and is lopsided in most;
# the balanced subsets never are, and they test better on average. At tiny sizes, stratify;
# at large sizes it stops mattering.

# %% tags=["answer", "hide-cell"]
missing, accuracy_by_strategy = 0, {"random": [], "balanced": []}
for seed in range(pick(20, 2)):
    for strategy in ("random", "balanced"):
        part = subsample(digits_train, size=30, strategy=strategy, seed=seed)
        if strategy == "random":
            missing += int(len(np.unique(minidl.backend.to_numpy(part.labels))) < 10)
        model, _ = train_mlp(part, pick(300, 40), seed=seed)
        accuracy_by_strategy[strategy].append(evaluate(model, DataLoader(digits_test, 1000))["accuracy"])
print(f"random draws missing a class: {missing} of {len(accuracy_by_strategy['random'])}")
print({k: f"{np.mean(v):.1%}" for k, v in accuracy_by_strategy.items()})

# %% [markdown]
# ## Results

# %%
results = {
    "kappa_raw": kappa_raw,
    "kappa_standardized": kappa_std,
    "gd_weight_error_raw": runs["raw"]["weight_error"],
    "gd_weight_error_standardized": runs["standardized"]["weight_error"],
    "gd_loss_ratio_raw": runs["raw"]["losses"][-1] / runs["raw"]["loss_best"],
    "slow_shrink_measured": slow_shrink_measured,
    "slow_shrink_predicted": slow_shrink_predicted,
    "augmentation_dataset": IMAGES,
    "augmentation_train_samples": AUG_TRAIN,
    "test_accuracy_plain": augmentation["plain"]["test"],
    "test_accuracy_augmented": augmentation["augmented"]["test"],
    "learning_curve": {n: curve[n]["test"] for n in sizes},
    "train_accuracy_curve": {n: curve[n]["train"] for n in sizes},
    "whitened_kappa": whitened_kappa,
    "digits_test_accuracy": plain_accuracy,
    "mirrored_test_accuracy": mirrored_accuracy,
    "zero_fraction": zero_fraction,
}
print(results)
