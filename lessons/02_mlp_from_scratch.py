# %% [markdown]
# # Lesson 02 — An MLP on digits from scratch
#
# ## What you will learn
#
# - The four steps of training a network: **forward**, **loss**, **backward**,
#   **update** — written out by hand with minidl Tensors, no `nn.Module`, no optimizer.
# - What softmax and cross-entropy compute, and why the gradient of the loss with respect
#   to the logits is simply $(p - \mathrm{onehot}(y))/N$ — checked against minidl's backward.
# - How to read a training curve.
# - That `minidl.nn.MLP`, `minidl.optim.SGD` and `minidl.train.fit` do exactly the same
#   thing, so you can use them from the next lesson on.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 3 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# A two-layer perceptron (MLP) maps an image $x$ (64 pixels) to 10 scores, the *logits*:
#
# $$h = \mathrm{relu}(x W_1^\top + b_1),\qquad z = h W_2^\top + b_2$$
#
# (minidl's `Linear` computes $y = x W^\top + b$; relu is $y = \max(x, 0)$.)
#
# **Softmax** turns logits into probabilities, **cross-entropy** scores them against the
# true class $y_i$, averaged over the $N$ samples of a batch:
#
# $$p_i = \mathrm{softmax}(z_i),\quad p_{ic} = \frac{e^{z_{ic}}}{\sum_j e^{z_{ij}}},\qquad
#   L = -\frac{1}{N}\sum_i \log p_{i, y_i}$$
#
# Write one sample's loss as $-z_y + \log \sum_j e^{z_j}$. Differentiating with respect to $z_c$ gives
# $-[c = y] + e^{z_c}/\sum_j e^{z_j} = p_c - [c = y]$. With the mean over the batch this is the
# formula in `minidl/nn/losses/cross_entropy.py`:
#
# $$\frac{\partial L}{\partial z} = \frac{p - \mathrm{onehot}(y)}{N}$$
#
# The prediction minus the truth: push up the score of the right class, push down the
# others in proportion to how much probability they stole.
#
# **Gradient descent** moves every parameter $\theta$ a small step against its gradient
# (`minidl.optim.SGD`'s rule with no momentum and no weight decay):
#
# $$\theta \leftarrow \theta - \mathrm{lr}\cdot\frac{\partial L}{\partial \theta}$$

# %%
import math

import numpy as np

import minidl
from minidl import nn, optim
from minidl.course import claim, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import DataLoader, load_digits
from minidl.nn.functional import cross_entropy, log_softmax, one_hot
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

EPOCHS = pick(40, 8)
LEARNING_RATE = 0.3
BATCH_SIZE = 32

# %% [markdown]
# ## 1. The data
#
# The bundled UCI digits: 1797 handwritten digits of 8×8 pixels, scaled to [0, 1] and
# split 60/20/20 into train, validation and test, stratified by class.

# %%
train = load_digits("train", seed=0)
val = load_digits("val", seed=0)
test = load_digits("test", seed=0)
print(train, val, test, sep="\n")

fig, axes = new_figure(1, 10, figsize=(10, 1.4))
images, labels = minidl.backend.to_numpy(train.features), minidl.backend.to_numpy(train.labels)  # for plotting
for digit, ax in enumerate(axes):
    first = int(np.flatnonzero(labels == digit)[0])
    ax.imshow(images[first].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
print("saved", save_figure(fig, "02_digits"))

# %% [markdown]
# ## 2. Softmax and cross-entropy, checked
#
# Take 6 random "logits" for 10 classes, compute the loss by the formula, and compare both
# the loss and its gradient with `minidl.nn.functional.cross_entropy` (float64, so the
# comparison is exact to ~1e-16).

# %%
minidl.manual_seed(0)
logits = minidl.randn(6, 10, dtype=minidl.float64, requires_grad=True)
targets = minidl.tensor([3, 0, 9, 3, 5, 1])
n = len(targets)

p = logits.softmax(dim=1).numpy()
loss_by_formula = -np.log(p[np.arange(n), targets.numpy()]).mean()
loss = cross_entropy(logits, targets)
loss.backward()

gradient_by_formula = (p - one_hot(targets, 10).numpy()) / n
gradient_formula_max_error = float(np.abs(logits.grad.numpy() - gradient_by_formula).max())
print(f"loss: formula {loss_by_formula:.12f}   minidl {loss.item():.12f}")
print(f"∂L/∂z: largest difference between (p − onehot)/N and minidl's backward: "
      f"{gradient_formula_max_error:.1e}")
assert abs(loss_by_formula - loss.item()) < 1e-12 and gradient_formula_max_error < 1e-12

# %% [markdown]
# Why not compute `log(softmax(z))` in two steps? For large logits `e^z` overflows and
# tiny probabilities round to 0, whose log is $-\infty$. `cross_entropy` takes the raw logits and
# computes log-softmax as $(z - \max z) - \log \sum e^{z - \max z}$, which is always finite. That is
# why the model below outputs logits, with no softmax layer at the end.
#
# ### A log-softmax too many is harmless
#
# Code copied from tutorials often ends the model with `log_softmax` and then calls a
# cross-entropy that applies log-softmax *again*. Is the loss wrong? No: log-softmax is
# **idempotent**. Its outputs $\ell_c = \log p_c$ satisfy $\sum_c e^{\ell_c} = \sum_c p_c = 1$, so
#
# $$\mathrm{log\_softmax}(\ell)_c = \ell_c - \log \sum_j e^{\ell_j} = \ell_c - \log 1 = \ell_c .$$
#
# The loss is unchanged, and so is the gradient: the chain rule multiplies $p - \mathrm{onehot}(y)$ by
# the Jacobian of log-softmax, $I - \mathbf{1}p^\top$, and $(I - \mathbf{1}p^\top)^\top (p - \mathrm{onehot}(y))
# = (p - \mathrm{onehot}(y)) - p\,\mathbf{1}^\top(p - \mathrm{onehot}(y)) = p - \mathrm{onehot}(y)$,
# because the row sums to zero. Checked on the logits above (`tests/test_course_math.py`
# checks it for random logits with hypothesis):

# %%
twice = minidl.tensor(logits.numpy(), requires_grad=True)
loss_twice = cross_entropy(log_softmax(twice, dim=1), targets)
loss_twice.backward()
log_softmax_twice_loss_gap = abs(loss_twice.item() - loss.item())
log_softmax_twice_grad_gap = float(np.abs(twice.grad.numpy() - logits.grad.numpy()).max())
print(f"cross_entropy(log_softmax(z)) − cross_entropy(z): loss {log_softmax_twice_loss_gap:.1e}, "
      f"largest gradient difference {log_softmax_twice_grad_gap:.1e}")
claim(log_softmax_twice_loss_gap < 1e-12 and log_softmax_twice_grad_gap < 1e-12,
      "a log-softmax too many changes neither the loss nor the gradient",
      loss_gap=log_softmax_twice_loss_gap, grad_gap=log_softmax_twice_grad_gap)

# %% [markdown]
# ## 3. The model by hand
#
# Four parameter tensors. `nn.Parameter` is a Tensor with `requires_grad=True` (you could
# equally write `minidl.randn(...).requires_grad_()`). The weights start as Gaussian noise
# scaled by $\sqrt{2 / \mathrm{fan\_in}}$ (He initialization): relu zeroes about half of its inputs, and the
# factor 2 keeps the size of the activations from shrinking layer after layer.

# %%
def init_params(hidden: int = 64, seed: int = 0) -> list[nn.Parameter]:
    minidl.manual_seed(seed)
    W1 = nn.Parameter(minidl.randn(hidden, 64) * math.sqrt(2 / 64))
    b1 = nn.Parameter(minidl.zeros(hidden))
    W2 = nn.Parameter(minidl.randn(10, hidden) * math.sqrt(1 / hidden))  # no relu after: no 2
    b2 = nn.Parameter(minidl.zeros(10))
    return [W1, b1, W2, b2]


def forward(params: list[nn.Parameter], x: minidl.Tensor) -> minidl.Tensor:
    W1, b1, W2, b2 = params
    hidden = (x @ W1.T + b1).relu()
    return hidden @ W2.T + b2  # logits


params = init_params()
print("parameters:", [tuple(t.shape) for t in params], "=", sum(t.numel() for t in params), "numbers")

# %% [markdown]
# ## 4. Training by hand
#
# Each step: forward a mini-batch of 32 images, compute the loss, clear the old gradients
# (`backward` *accumulates*, lesson 01), backward, and move each parameter against its
# gradient. The update runs under `minidl.no_grad()`: it changes the parameters in place,
# and it is not part of the function we differentiate.
#
# After each epoch (one pass over the training set) we record the mean training loss and
# accuracy, and the validation accuracy from `minidl.train.evaluate` — which accepts any
# callable as the model.


# %%
def train_by_hand(lr: float, epochs: int, seed: int = 0) -> tuple[list[nn.Parameter], dict[str, list]]:
    params = init_params(seed=seed)
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, seed=seed)
    history = {"train_loss": [], "train_accuracy": [], "val_accuracy": []}
    for _ in range(epochs):
        total_loss, correct = 0.0, 0
        for x, y in loader:
            logits = forward(params, x)  # 1. forward
            loss = cross_entropy(logits, y)  # 2. loss
            for t in params:  # 3. backward (into cleared gradients)
                t.grad = None
            loss.backward()
            with minidl.no_grad():  # 4. update: θ ← θ − lr · ∂L/∂θ
                for t in params:
                    t.sub_(lr * t.grad)
            total_loss += loss.item() * len(y)
            correct += int((logits.numpy().argmax(axis=1) == y.numpy()).sum())
        history["train_loss"].append(total_loss / len(train))
        history["train_accuracy"].append(correct / len(train))
        val_result = evaluate(lambda x: forward(params, x), DataLoader(val, batch_size=512))
        history["val_accuracy"].append(val_result["accuracy"])
    return params, history


params, by_hand = train_by_hand(LEARNING_RATE, EPOCHS)
test_accuracy = evaluate(lambda x: forward(params, x), DataLoader(test, batch_size=512))["accuracy"]
print(f"by hand, {EPOCHS} epochs: final training loss {by_hand['train_loss'][-1]:.3f}, "
      f"validation accuracy {by_hand['val_accuracy'][-1]:.1%}, test accuracy {test_accuracy:.1%}")

# %% [markdown]
# ## 5. The same with minidl's building blocks
#
# `nn.MLP([64, 64, 10])` is `Sequential(Linear(64, 64), ReLU(), Linear(64, 10))`;
# `optim.SGD` is the update above (plus options for later lessons); `fit` is the loop above.
# The numbers differ a little — `Linear` uses PyTorch's default initialization, not He's —
# but it is the same algorithm and lands in the same place.

# %%
minidl.manual_seed(0)
model = nn.MLP([64, 64, 10])
optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE)
train_loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, seed=0)
with_fit = fit(model, cross_entropy, optimizer, train_loader, epochs=EPOCHS,
               val_loader=DataLoader(val, batch_size=512), progress=False)
mlp_test_accuracy = evaluate(model, DataLoader(test, batch_size=512))["accuracy"]
print(model)
print(f"nn.MLP + SGD + fit, {EPOCHS} epochs: final training loss {with_fit.train_loss[-1]:.3f}, "
      f"test accuracy {mlp_test_accuracy:.1%}")
claim(abs(mlp_test_accuracy - test_accuracy) < pick(0.03, 0.08),
      "it is the same algorithm and lands in the same place", by_hand=test_accuracy, with_fit=mlp_test_accuracy)

# %% [markdown]
# ## 6. Experiment: the training curve
#
# Loss falls fast at first and then slowly (note the log scale); validation accuracy rises
# within a few epochs and then wobbles around its plateau. Training accuracy starts *below*
# validation accuracy because it is averaged over the epoch while the weights were still
# changing, and ends above it: the model has started to learn its 1078 training images
# a little better than digits it has not seen (more in lesson 05).

# %%
epochs_axis = range(1, EPOCHS + 1)
fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(13, 5))
ax_loss.plot(epochs_axis, by_hand["train_loss"], label="by hand")
ax_loss.plot(epochs_axis, with_fit.train_loss, "--", label="nn.MLP + fit")
ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats, log scale)", yscale="log", title="training loss")
ax_acc.plot(epochs_axis, 100 * np.array(by_hand["train_accuracy"]), color="C0", alpha=0.5, label="by hand, train")
ax_acc.plot(epochs_axis, 100 * np.array(by_hand["val_accuracy"]), color="C0", label="by hand, validation")
ax_acc.plot(epochs_axis, 100 * np.array(with_fit.val_accuracy), "--", color="C1", label="nn.MLP + fit, validation")
ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(50, 100))
for ax in (ax_loss, ax_acc):
    ax.legend(fontsize=12, loc="lower right" if ax is ax_acc else "upper right")
fig.suptitle(f"2-layer MLP on digits, SGD lr={LEARNING_RATE}, batch {BATCH_SIZE}")
fig.tight_layout()
print("saved", save_figure(fig, "02_training_curve"))
train_acc, val_acc = by_hand["train_accuracy"], by_hand["val_accuracy"]
print(f"by hand: epoch 1 train {train_acc[0]:.1%} / validation {val_acc[0]:.1%}; "
      f"epoch {EPOCHS} train {train_acc[-1]:.1%} / validation {val_acc[-1]:.1%}")
claim(train_acc[0] < val_acc[0] and train_acc[-1] > val_acc[-1],
      "training accuracy starts below validation accuracy and ends above it",
      train_accuracy=(train_acc[0], train_acc[-1]), val_accuracy=(val_acc[0], val_acc[-1]))

# %% [markdown]
# ## Exercises
#
# **1. A learning rate too large.** Train the hand-made model with $\mathrm{lr} = 0.03$, 0.3 and 3.
# What happens with 3?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** 0.03 learns, slowly; 0.3 learns fast. With 3 the first steps are so large that
# the loss jumps up, and then it sits at **$\ln 10 \approx 2.303$** with accuracy near 10%: the
# model has given up and predicts the same distribution for every image. The cause is
# visible in the hidden layer: the big steps push every hidden unit's input below zero
# for *every* image. relu outputs 0 there **and has gradient 0**, so no later step can
# revive those "dead" units, and only $b_2$ keeps learning (the class frequencies).

# %% tags=["answer", "hide-cell"]
lr_epochs = pick(10, 3)
lr_runs = {lr: train_by_hand(lr, lr_epochs) for lr in (0.03, 0.3, 3.0)}
dead_share = {}
for lr, (run_params, run_history) in lr_runs.items():
    with minidl.no_grad():
        hidden = (minidl.tensor(train.features) @ run_params[0].T + run_params[1]).relu()
    dead = float((hidden.numpy().max(axis=0) == 0).mean())
    dead_share[lr] = dead
    print(f"lr={lr:<5} final loss {run_history['train_loss'][-1]:.3f}   "
          f"validation accuracy {run_history['val_accuracy'][-1]:.1%}   dead hidden units {dead:.0%}")
large_lr_final_loss = lr_runs[3.0][1]["train_loss"][-1]
claim(abs(large_lr_final_loss - math.log(10)) < 0.1 and lr_runs[3.0][1]["val_accuracy"][-1] < 0.2,
      "with lr = 3 the loss sits at ln 10 with accuracy near 10%", loss=large_lr_final_loss,
      accuracy=lr_runs[3.0][1]["val_accuracy"][-1])
claim(dead_share[3.0] > 0.9 > dead_share[0.3], "with lr = 3 (nearly) every hidden unit is dead", dead=dead_share)

fig, ax = new_figure(figsize=(7, 4.6))
for lr, (_, run_history) in lr_runs.items():
    ax.plot(range(1, lr_epochs + 1), run_history["train_loss"], "o-", ms=3, label=f"lr = {lr}")
ax.axhline(math.log(10), color="gray", ls=":", label="ln 10 (uniform guess)")
ax.set(xlabel="epoch", ylabel="training loss (nats, log scale)", yscale="log",
       title="learning rate: too small, good, too large")
ax.legend(fontsize=12)
print("saved", save_figure(fig, "02_learning_rates"))

# %% [markdown]
# **2. The gradient with respect to the logits.** What is $\partial L/\partial z$ for one sample, what does
# each row of it sum to, and how big is it for a sample the model already classifies
# confidently and correctly? Write `logits_grad(logits, labels)` in NumPy for a batch and
# test it: `minidl.course_checks.check("02.2", logits_grad)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** $(p - \mathrm{onehot}(y))/N$. Each row sums to $(1 - 1)/N = \mathbf{0}$: probability is only
# moved between classes, never created. For a confident correct sample $p \approx \mathrm{onehot}(y)$, so
# the gradient is $\approx 0$ — it has nothing left to teach; the badly classified samples
# dominate the update.

# %% tags=["answer", "hide-cell"]
row_sums = logits.grad.numpy().sum(axis=1)
print("row sums of ∂L/∂z:", np.round(row_sums, 15))
assert np.allclose(row_sums, 0)

confident = minidl.tensor([[10.0, 0.0, 0.0]], dtype=minidl.float64, requires_grad=True)
cross_entropy(confident, minidl.tensor([0])).backward()
print("∂L/∂z for a confident, correct sample:", confident.grad.numpy())
assert np.abs(confident.grad.numpy()).max() < 1e-4


def logits_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return (p - np.eye(logits.shape[1])[labels]) / len(logits)


check("02.2", logits_grad)

# %% [markdown]
# **3. Why `no_grad` around the update?** Try `t.sub_(lr * t.grad)` without it.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** minidl refuses: changing a tensor that requires a gradient in place would
# change a value the graph has already used, and the graph could not follow. (Even if it
# were allowed, recording the update would make the next loss depend on the previous
# step's graph, which would grow without end.) The error message says what to do.

# %% tags=["answer", "hide-cell"]
try:
    params[0].sub_(0.1 * params[0].grad)
    refused = False
except RuntimeError as error:
    refused = True
    print("RuntimeError:", error)
assert refused

# %% [markdown]
# ## Results

# %%
results = {
    "epochs": EPOCHS,
    "test_accuracy": test_accuracy,
    "mlp_test_accuracy": mlp_test_accuracy,
    "final_train_loss": by_hand["train_loss"][-1],
    "gradient_formula_max_error": gradient_formula_max_error,
    "large_lr_final_loss": large_lr_final_loss,
    "log_softmax_twice_loss_gap": log_softmax_twice_loss_gap,
    "log_softmax_twice_grad_gap": log_softmax_twice_grad_gap,
}
print(results)
