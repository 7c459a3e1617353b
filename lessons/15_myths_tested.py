# %% [markdown]
# # Lesson 15 — Myths, tested
#
# ## What you will learn
#
# - How to turn a sentence about model optimization into a **check**: a few lines that run,
#   measure, and either bear the sentence out or contradict it.
# - Every claim of the five source articles that this course answers — the wrong ones (Adam's
#   $\varepsilon$ as a regularizer, a quantization loop that changes nothing, a "pruning" that zeroes
#   nothing, ...) and the true ones (pruning + retraining, int8's 4×, distillation with few
#   labels, standardization, random search) — in one table, each row with its verdict, its
#   evidence from this run, and the lesson that explains it.
# - The three techniques the articles name that the earlier lessons had not built, measured
#   against what they replace: **k-means weight sharing** with Huffman coding (Deep
#   Compression) against uniform quantization, **activation-based neuron pruning** (APoZ)
#   against weight magnitude, and **data-free neuron merging** against magnitude pruning.
# - How to check a claim yourself.
#
# The checks live in `minidl/myths.py`, one function per claim, and `tests/test_myths.py`
# runs every one of them: if a change to minidl made a verdict wrong, the test suite would
# fail, so this table cannot go stale.
#
# Run it as a script (`python lessons/15_myths_tested.py`) or as a notebook with jupytext.
# It prints how long it took at the end. The MNIST part of section 3 runs in full mode when
# the MNIST files are there; without them the lesson uses the bundled digits only.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 13 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02, with the MNIST files); `MINIDL_FAST=1` runs the quick version, the
# one the tests run.

# %%
from __future__ import annotations

import copy
import inspect
import os
import time
from pathlib import Path

import numpy as np

import minidl
from minidl import myths, nn, optim
from minidl.compress import prune
from minidl.compress.quantize import coding, kmeans
from minidl.compress.quantize import sharing_vs_uniform as sharing
from minidl.course import claim, fast_mode, lessons_dir, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import ArrayDataset, DataLoader
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)
LESSON_START = time.perf_counter()
minidl.manual_seed(0)

# %% [markdown]
# ## 1. The table
#
# Each row is a function in `minidl.myths` that returns a `Check`: the claim in one
# sentence (our words, not the article's), the article(s) that make it, a verdict, the
# lesson that explains it, the measured evidence and whether the evidence supports the
# verdict. Verdicts: **false** (the run contradicts the claim), **true** (it bears it out,
# measured), **harmless** (a "bug" that changes nothing) and **misleading** (true words,
# wrong lesson). A check trains at most a small MLP on the bundled digits, so each row
# takes seconds.

# %%
rows = []
for myth_check in myths.CHECKS:
    start = time.perf_counter()
    row = myth_check()
    rows.append((row, time.perf_counter() - start))

width = max(len(r.claim) for r, _ in rows)
names = [f.__name__ for f in myths.CHECKS]
print(f"{'claim':<{width}}  article  verdict     lesson    seconds  check (in minidl.myths)")
for (row, seconds), name in zip(rows, names):
    print(f"{row.claim:<{width}}  {row.article:<7}  {row.verdict:<10}  {row.lesson:<8}  {seconds:6.2f}  {name}")
print()
for row, _ in rows:
    print(f"- {row.key}: {row.summary}")

all_supported = all(r.supported for r, _ in rows)
slowest = max(s for _, s in rows)
claim(all_supported, "every verdict in the table is supported by its run",
      unsupported=[r.key for r, _ in rows if not r.supported])
print(f"\n{len(rows)} claims checked; every verdict supported by this run: {all_supported}; "
      f"the slowest check took {slowest:.1f} s")

# %% [markdown]
# A check is short on purpose. Here is the one for the "log_softmax before cross-entropy"
# bug — which the run shows to be harmless, because log-softmax of log-probabilities gives
# the same log-probabilities back (they already sum to one after exponentiation):

# %%
print(inspect.getsource(myths.check_log_softmax_twice))

# %% [markdown]
# ## 2. K-means weight sharing — article 4's "quantize with K-Means or Min-Max"
#
# Uniform ("min-max") quantization puts $2^{n_{\text{bits}}}$ levels on an even grid between the extremes.
# Deep Compression (Han, Mao & Dally 2016) lets the weights choose their levels instead:
# cluster the $n$ weights of a matrix into $k = 2^{n_{\text{bits}}}$ clusters $\mathcal{S}_1, \dots, \mathcal{S}_k$
# with centroids
# $c_1, \dots, c_k$ by minimizing the within-cluster sum of squares
#
# $$\mathrm{WCSS} = \sum_{j=1}^{k} \sum_{i \in \mathcal{S}_j} (w_i - c_j)^2,$$
#
# store one $n_{\text{bits}}$-bit index per weight plus a codebook of $k$ floats.
# `minidl.compress.quantize.kmeans_quantize` runs Lloyd's iterations
# (nearest centroid, then cluster means; an empty cluster keeps its centroid), from a
# **linear** initialization over [min, max] by default — the paper's best, because it
# leaves the rare large weights their own centroids — or from density quantiles or random
# weights.
#
# Fine-tuning keeps the assignment and trains the codebook. The layer computes
# $w_i = c_{\mathrm{index}_i}$, so by the chain rule
#
# $$\frac{\partial L}{\partial c_j} = \sum_{i \,:\, \mathrm{index}_i = j} \frac{\partial L}{\partial w_i}$$
#
# (`CodebookLookup`, tested against this sum and against central differences). Pruned
# weights carry index $-1$: they decode to 0 and never join a cluster.
#
# Below: the digits MLP with its weights at b bits, for k-means and for uniform symmetric
# quantization per tensor and per output channel (PyTorch's weight recipe at b bits), each
# before and after a short fine-tuning (k-means trains its k values per matrix; uniform
# trains the float weights through the fake quantizer with the straight-through gradient).

# %%
digits_train, digits_test = myths._digits()


def digits_accuracy(model: nn.Module) -> float:
    return evaluate(model, DataLoader(digits_test, batch_size=512))["accuracy"]


def fine_tune_on(train_set, epochs: int, lr: float = 1e-3):
    def tune(model: nn.Module) -> None:
        fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=lr),
            DataLoader(train_set, batch_size=32, shuffle=True, seed=1), epochs=epochs, progress=False)
    return tune


BITS = pick([2, 3, 4, 5, 6, 8], [2, 4, 8])
mlp = myths.trained_mlp()
float_accuracy = digits_accuracy(mlp)
sweep = sharing.bits_sweep(mlp, digits_accuracy, BITS, fine_tune_on(digits_train, pick(2, 1)))
print(f"float32: {float_accuracy:.1%}")
print(f"{'bits':>4}  " + "  ".join(f"{m:>22}" for m in sharing.METHODS) + "   (before → after fine-tuning)")
table = {(r.method, r.bits): r for r in sweep}
for b in BITS:
    print(f"{b:>4}  " + "  ".join(f"{table[m, b].accuracy:>12.1%} → {table[m, b].tuned_accuracy:<7.1%}"
                                  for m in sharing.METHODS))

weight_sizes = {b: sharing.weight_nbytes_at(mlp, b) for b in BITS}
float32_weight_bytes = 4 * sum(m.weight.numel() for m in mlp if isinstance(m, nn.Linear))
print(f"\nbytes of the weight matrices (float32: {float32_weight_bytes:,}; b bits packed, plus scales or codebooks):")
print(f"{'bits':>4}  " + "  ".join(f"{k:>20}" for k in weight_sizes[BITS[0]]))
for b in BITS:
    print(f"{b:>4}  " + "  ".join(f"{v:>20,}" for v in weight_sizes[b].values()))

km2, pc2, pt2 = (table[m, 2] for m in sharing.METHODS)
claim(km2.accuracy > pt2.accuracy, "at 2 bits, k-means beats uniform per-tensor before fine-tuning",
      kmeans=km2.accuracy, per_tensor=pt2.accuracy)
print(f"\nAt 2 bits, before fine-tuning, k-means keeps {km2.accuracy:.1%} where the even grid keeps "
      f"{pt2.accuracy:.1%} (per tensor) and {pc2.accuracy:.1%} (per channel). After fine-tuning: "
      f"k-means {km2.tuned_accuracy:.1%}, per channel {pc2.tuned_accuracy:.1%}, per tensor "
      f"{pt2.tuned_accuracy:.1%}.")
high_bits_spread = max(max(table[m, b].accuracy for m in sharing.METHODS)
                       - min(table[m, b].accuracy for m in sharing.METHODS) for b in BITS if b >= 4)
claim(high_bits_spread <= 0.015, "from 4 bits up the three quantizers agree within a point and a half",
      spread=high_bits_spread)
print(f"From 4 bits up, the three differ by at most {high_bits_spread:.1%} before fine-tuning.")

# %% [markdown]
# What the numbers say. Without any training, k-means is the better quantizer at few bits:
# its levels sit where the weights are. Fine-tuning changes the picture: k-means can only
# move its $2^{n_{\text{bits}}}$ shared values (4 numbers per matrix at 2 bits) because the assignment is
# frozen, while uniform quantization-aware training moves every float weight and lets
# weights change level. On this MLP, look at which wins after fine-tuning in the run above
# — the answer is printed, not assumed. From 4 bits up the three agree within a point and a half
# (the spread is printed above).

# %%
fig, ax = new_figure(figsize=(8, 6))
styles = {"k-means": "C0", "uniform per-channel": "C1", "uniform per-tensor": "C2"}
for m in sharing.METHODS:
    ax.plot(BITS, [100 * table[m, b].accuracy for b in BITS], "o-", color=styles[m], label=f"{m}")
    ax.plot(BITS, [100 * table[m, b].tuned_accuracy for b in BITS], "s--", color=styles[m],
            label=f"{m}, fine-tuned")
ax.axhline(100 * float_accuracy, color="gray", lw=1, label="float32")
ax.set_xlabel("bits per weight", fontsize=12)
ax.set_ylabel("test accuracy on digits (%)", fontsize=12)
ax.tick_params(labelsize=12)
ax.legend(fontsize=12, loc="lower right")
ax.set_title("Weight sharing vs uniform quantization", fontsize=13)
save_figure(fig, "15_kmeans_vs_uniform")

# %% [markdown]
# ### Huffman coding: the indices are not equally likely
#
# After k-means, the clusters near zero hold most weights. A Huffman code
# (`minidl.compress.quantize.coding`) gives frequent indices short codewords. With $f_j$ the
# fraction of weights whose index is $j$, its mean codeword length $\bar\ell$ (bits per weight)
# and the entropy $\mathcal{H}$ satisfy
#
# $$\mathcal{H} = -\sum_j f_j \log_2 f_j \;\le\; \bar\ell \;<\; \mathcal{H} + 1,$$
#
# and no prefix code does better (the tests compare it with a brute force over all prefix codes). The encoder
# writes a real bit stream and the decoder reads it back:

# %%
book = kmeans.kmeans_quantize(mlp[0].weight, 5)
symbols = book.index.ravel()
code = coding.HuffmanCode.fit(symbols)
data, nbits = code.encode(symbols)
round_trip = bool(np.array_equal(code.decode(data, nbits, symbols.size), symbols))
counts = dict(zip(*np.unique(symbols, return_counts=True)))
entropy = coding.entropy_bits(counts)
mean_bits = nbits / symbols.size
claim(round_trip and entropy <= mean_bits < entropy + 1, "the Huffman stream decodes to the same indices "
      "and its mean length is within one bit of the entropy", entropy=entropy, mean=mean_bits)
print(f"first layer, 5-bit indices: entropy {entropy:.3f} bits, Huffman {mean_bits:.3f} bits per weight "
      f"(fixed width: 5); decoded back exactly: {round_trip}")

# %% [markdown]
# ## 3. Deep Compression's pipeline: prune → share → Huffman, against prune → int8
#
# Pruning only saves space if the zeros are not stored. Han et al. store the kept weights
# in order with the **gap** from the previous kept position (4 bits; a longer gap is bridged
# by a filler entry that decodes to 0), then Huffman-code both streams. The same layout
# with 8-bit values is the fair int8 baseline. Sizes below count everything: indices or
# values, gaps, codebooks or per-row scales, Huffman tables and the float32 biases.

# %%
def deep_compression(model: nn.Module, train_set, accuracy_fn, sparsity: float, bits: int, epochs: int) -> dict:
    pruned = copy.deepcopy(model)
    prune.global_unstructured(prune.parameters_to_prune(pruned), amount=sparsity)
    opt = optim.Adam(pruned.parameters(), lr=1e-3)
    prune.enforce_masks(opt, pruned)
    fit(pruned, nn.functional.cross_entropy, opt, DataLoader(train_set, batch_size=32, shuffle=True, seed=0),
        epochs=epochs, progress=False)
    sizes = sharing.pipeline_sizes(pruned, bits)
    int8 = copy.deepcopy(pruned)
    for m, name in list(prune.pruned_parameters(int8)):
        prune.remove(m, name)
    for m in int8.modules():
        if isinstance(m, nn.Linear):
            m.weight.data = sharing.uniform_weight(m.weight.data, 8, per_channel=True)
    shared = copy.deepcopy(pruned)
    kmeans.share_model_weights(shared, bits)
    shared_before = accuracy_fn(shared)
    fine_tune_on(train_set, epochs)(shared)
    return {"dense": accuracy_fn(model), "pruned": accuracy_fn(pruned), "int8": accuracy_fn(int8),
            "shared": shared_before, "shared_tuned": accuracy_fn(shared), "sizes": sizes}


def print_pipeline(name: str, r: dict) -> None:
    s = r["sizes"]
    print(f"{name}: {s.weights:,} weights, {s.kept:,} kept after pruning")
    for label, stage, acc in [("float32, dense (not pruned)", "float32_dense", r["dense"]),
                              ("pruned → int8 (dense storage)", "int8_dense", r["int8"]),
                              ("pruned → int8 (sparse)", "int8_sparse", r["int8"]),
                              (f"pruned → {s.bits}-bit k-means (sparse)", "kmeans_sparse", r["shared_tuned"]),
                              (f"pruned → {s.bits}-bit k-means → Huffman", "kmeans_huffman", r["shared_tuned"])]:
        print(f"  {label:<36} {getattr(s, stage):>9,} bytes  {s.ratio(stage):5.1f}×   accuracy {acc:.1%}")
    print(f"  (pruned, float: {r['pruned']:.1%}; shared before fine-tuning the centroids: {r['shared']:.1%})")


digits_pipeline = deep_compression(mlp, digits_train, digits_accuracy, 0.9, 5, pick(4, 2))
print_pipeline("digits MLP 64-128-10, 90% pruned, 5 bits", digits_pipeline)
ds = digits_pipeline["sizes"]
claim(ds.kmeans_huffman < ds.kmeans_sparse < ds.int8_sparse < ds.int8_dense,
      "each stage of the pipeline makes the model smaller than prune → int8",
      sizes=(ds.int8_dense, ds.int8_sparse, ds.kmeans_sparse, ds.kmeans_huffman))


# %% [markdown]
# On MNIST (784-256-10, trained on 10,000 images; full mode, when the files are in the
# shared data folder or `$MINIDL_DATA`) the weights dominate the biases and the ratios grow:

# %%
def load_mnist_splits():
    """MNIST (10,000 training images, test set), or None in fast mode or without the files."""
    if fast_mode():
        return None
    default = lessons_dir().resolve().parent.parent / "shared" / "data"
    root = Path(os.environ.get("MINIDL_SHARED_DATA", default))
    try:
        train = minidl.data.load_mnist("train", root=root if (root / "mnist").is_dir() else None)
        return ArrayDataset(*train[np.arange(10_000)]), minidl.data.load_mnist("test", root=root)  # host
    except minidl.data.DatasetNotAvailableError as error:
        print("MNIST not used:", str(error).splitlines()[0])
        return None


mnist = None
splits = load_mnist_splits()
if splits is not None:
    mnist_train, mnist_test = splits

    def mnist_accuracy(model: nn.Module) -> float:
        return evaluate(model, DataLoader(mnist_test, batch_size=1000))["accuracy"]

    minidl.manual_seed(0)
    mnist_mlp = nn.MLP([784, 256, 10])
    fine_tune_on(mnist_train, 4, lr=1e-3)(mnist_mlp)
    mnist_sweep = sharing.bits_sweep(mnist_mlp, mnist_accuracy, [2, 4, 8], fine_tune_on(mnist_train, 1))
    print(f"MNIST float32: {mnist_accuracy(mnist_mlp):.1%}")
    for r in mnist_sweep:
        print(f"  {r.bits} bits {r.method:<20} {r.accuracy:.1%} → {r.tuned_accuracy:.1%} fine-tuned")
    mnist_pipeline = deep_compression(mnist_mlp, mnist_train, mnist_accuracy, 0.9, 5, 1)
    print_pipeline("MNIST MLP 784-256-10, 90% pruned, 5 bits", mnist_pipeline)
    mnist = {"sweep": [(r.method, r.bits, r.accuracy, r.tuned_accuracy) for r in mnist_sweep],
             "pipeline": {k: v for k, v in mnist_pipeline.items() if k != "sizes"},
             "ratios": {st: mnist_pipeline["sizes"].ratio(st) for st in
                        ("int8_dense", "int8_sparse", "kmeans_sparse", "kmeans_huffman")}}
else:
    print("MNIST part skipped (fast mode, or no local MNIST files): digits only.")

# %% [markdown]
# ## 4. Activation-based neuron pruning — article 1's "importance from the activation output"
#
# Weight magnitude judges a neuron by its weights; APoZ (Hu et al. 2016) by what it *does* on
# data: the Average Percentage of Zeros of its ReLU output over a calibration set. A neuron
# that is almost always 0 contributes almost nothing. The mean activation magnitude over the
# $N$ calibration samples, $\frac{1}{N}\sum_n |a_n|$, is the other score. Both are structured:
# whole neurons go (their rows and biases masked), and `compact` builds the smaller MLP. Same
# number of neurons removed for every criterion; accuracy before and after two epochs of
# fine-tuning.

# %%
calibration = [digits_train.features[:512]]


def neuron_pruning(criterion: str, amount: float) -> tuple[float, float]:
    model = copy.deepcopy(mlp)
    if criterion == "weight L2 norm":
        prune.ln_structured(model[0], "weight", amount=amount, n=2, dim=0)
    elif criterion == "merging (data-free)":
        prune.merge_structured(model, amount=amount)
    else:
        prune.activation_structured(model, calibration, amount, criterion)
    small, _ = prune.compact(model)
    before = digits_accuracy(small)
    fine_tune_on(digits_train, pick(2, 1))(small)
    return before, digits_accuracy(small)


AMOUNTS = pick([0.5, 0.75, 0.9], [0.75])
CRITERIA = ["apoz", "mean_activation", "weight L2 norm", "merging (data-free)"]
neurons = {(c, a): neuron_pruning(c, a) for c in CRITERIA for a in AMOUNTS}
print(f"{'criterion':<22}" + "".join(f"{f'{a:.0%} of 128 neurons pruned':>30}" for a in AMOUNTS))
for c in CRITERIA:
    print(f"{c:<22}" + "".join(f"{neurons[c, a][0]:>16.1%} → {neurons[c, a][1]:<11.1%}" for a in AMOUNTS))
print("(accuracy before → after fine-tuning; the unpruned MLP:", f"{float_accuracy:.1%})")
apoz_dead = minidl.backend.to_numpy(prune.activation_statistics(mlp, calibration)["0"].apoz)
print(f"APoZ over the calibration set: {int((apoz_dead == 1).sum())} of 128 neurons never fire, "
      f"median APoZ {np.median(apoz_dead):.2f}")

# %% [markdown]
# Fine-tuning closes most gaps (the compacted MLP is still a perfectly trainable network);
# the criteria differ most *before* fine-tuning. A data-driven score can know something
# the weights do not (a neuron with large weights that is nearly always negative before its
# ReLU), but whether that wins depends on the model — the comparison below is this run's.

# %%
for a in AMOUNTS:
    ranked = sorted(CRITERIA, key=lambda c: -neurons[c, a][0])
    print(f"{a:.0%} pruned, before fine-tuning, best to worst: " + ", ".join(
        f"{c} ({neurons[c, a][0]:.1%})" for c in ranked))

# %% [markdown]
#
# ## 5. Neuron merging — article 3's "distillation merges similar neurons"
#
# Merging is not distillation (no teacher, no training), but it is a real method:
# Srinivas & Babu (2015) delete neuron $j$ into its near-twin $i$, adding $j$'s outgoing weights
# to $i$'s, at the cost
#
# $$d_{ij} = \langle a_j^2 \rangle \, \lVert w_i - w_j \rVert^2$$
#
# (the mean squared outgoing weight $\langle a_j^2 \rangle$ times the squared distance between
# the incoming weight vectors $w_i$, $w_j$). Two identical neurons merge *exactly* — a
# property test checks that the function does not change. It needs no data at all, which
# is its point; the "merging (data-free)" row above compares it with the others at equal
# numbers of neurons removed.

# %%
merge_vs_magnitude = {a: (neurons["merging (data-free)", a][0], neurons["weight L2 norm", a][0]) for a in AMOUNTS}
for a, (merged, magnitude) in merge_vs_magnitude.items():
    print(f"{a:.0%} neurons removed, no data, no fine-tuning: merging {merged:.1%}, L2 magnitude {magnitude:.1%}")

# %% [markdown]
# ## 6. How to check a claim yourself
#
# 1. **Write the claim as a prediction about a number.** "$\varepsilon$ regularizes" predicts that a
#    larger $\varepsilon$ shrinks the weights or changes accuracy; "rounding gives hard labels" predicts
#    one label per sample.
# 2. **Find the smallest experiment that could contradict it**: a few lines on a tiny model,
#    float64 where exactness matters, a fixed seed — and a control (the same run without the
#    thing claimed to matter).
# 3. **Run it with the real API** and read the error messages: half of the articles' code
#    fails at its first line (`global_unstructured(model)`, `PruningSchedule()`, a `view` with
#    the wrong size).
# 4. **Measure, do not assume**: print the numbers, then write the verdict. Keep the check
#    (`minidl/myths.py` has the pattern: a function that returns its evidence and whether it
#    supports the verdict) and put it in a test, so that the verdict is re-checked every time
#    the code changes.
# 5. **Say when a true claim stops being true**: pruning + retraining keeps accuracy *up to a
#    sparsity*; distillation helps *when labels are scarce*; int8 is 4× smaller *on the weights*.

# %% [markdown]
# ## Exercise
#
# **1. Make the articles' pruning prune.** Section 1's table shows that
# `param.data.abs().clamp_(ε, 1 − ε)` changes no weight (`.abs()` makes a new array, and the
# clamp changes that copy) and, even done in place, zeroes nothing and flips every negative
# weight's sign. Write `prune_smallest_(w, amount)` that sets the `round(amount * w.size)`
# entries of the NumPy array `w` with the smallest magnitude to 0 **in place**, leaving the
# others exactly as they were, and test it with `minidl.course.check("15.1", prune_smallest_)`.
# Then prune 90% of the first layer of this lesson's MLP with it: how much accuracy is left
# without fine-tuning?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Rank the magnitudes, and write zeros through an index into the array itself:
# `w.reshape(-1)` of a contiguous array is a view, so assigning into it changes `w`. Every
# operation that returns a new array (`np.abs(w)`, `np.where(...)`, `w = ...`) leaves the
# caller's weights untouched, which is exactly the articles' bug. The survivors keep their
# sign: pruning decides *which* weights stay, not what they are.

# %% tags=["answer", "hide-cell"]
def prune_smallest_(w: np.ndarray, amount: float) -> None:
    k = int(round(amount * w.size))  # PyTorch's count for a fractional amount
    flat = w.reshape(-1)  # a view: writing into it writes into w
    flat[np.argsort(np.abs(flat), kind="stable")[:k]] = 0


check("15.1", prune_smallest_)
exercise_mlp = copy.deepcopy(mlp)
first = minidl.backend.to_numpy(exercise_mlp[0].weight.data).copy()
prune_smallest_(first, 0.9)
exercise_mlp[0].weight.data = minidl.backend.get_array_module(exercise_mlp[0].weight.data).asarray(first)
exercise_zeros = float((first == 0).mean())
exercise_accuracy = digits_accuracy(exercise_mlp)
claim(abs(exercise_zeros - 0.9) < 0.01, "prune_smallest_ zeroes 90% of the layer", zeros=exercise_zeros)
print(f"first layer {exercise_zeros:.1%} zeros: accuracy {exercise_accuracy:.1%} without fine-tuning "
      f"(unpruned {float_accuracy:.1%}; section 3's pipeline retrains after pruning)")

# %% [markdown]
# ## Results

# %%
seconds = time.perf_counter() - LESSON_START
results = {
    "rows": {r.key: {"verdict": r.verdict, "supported": r.supported, "lesson": r.lesson, "article": r.article,
                     "seconds": s} for r, s in rows},
    "all_supported": all_supported,
    "slowest_check_seconds": slowest,
    "float_accuracy": float_accuracy,
    "sweep": [(r.method, r.bits, r.accuracy, r.tuned_accuracy) for r in sweep],
    "bits": BITS,
    "weight_bytes_at_bits": weight_sizes,
    "float32_weight_bytes": float32_weight_bytes,
    "huffman_round_trip": round_trip,
    "huffman_mean_bits": mean_bits,
    "huffman_entropy": entropy,
    "pipeline": {k: v for k, v in digits_pipeline.items() if k != "sizes"},
    "pipeline_bytes": {st: getattr(ds, st) for st in ("float32_dense", "int8_dense", "int8_sparse",
                                                       "kmeans_sparse", "kmeans_huffman")},
    "pipeline_ratios": {st: ds.ratio(st) for st in ("int8_dense", "int8_sparse", "kmeans_sparse",
                                                     "kmeans_huffman")},
    "neuron_pruning": {f"{c}@{a}": v for (c, a), v in neurons.items()},
    "exercise_prune_accuracy": exercise_accuracy,
    "mnist": mnist,
    "fast_mode": fast_mode(),
    "seconds": round(seconds, 1),
}
print(f"lesson 15 ran in {seconds:.0f} s ({'fast' if fast_mode() else 'full'} mode)")
