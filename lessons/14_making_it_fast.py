# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 14 — Making it fast: honest measurement, BLAS vs Python overhead, when JIT helps
#
# ## What you will learn
#
# - how to time code so that the number means something: warm-up, medians, interleaving,
#   ratios against a reference measured in the same run, letting threads settle;
# - where a training step's time goes: in big matrix products (BLAS) or in Python's
#   per-operation overhead, and how that changes with the size of the network;
# - when a JIT compiler (Numba) makes NumPy code faster — and why it cannot beat BLAS at
#   BLAS's own game;
# - Amdahl's law: how much the whole gains when one part gets faster.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 21 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %%
import os
import statistics
import time

import numba
import numpy as np

import minidl
import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit
from minidl import nn, optim
from minidl.course import fast_mode, new_figure, pick, save_figure, timing_verdict
from minidl.course_checks import check
from minidl.kernels import activation
from minidl.perf import amdahl_speedup, measure, profile_ops
from minidl.threads import blas_threads, lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

minidl.manual_seed(0)
FAST = fast_mode()

# %% [markdown]
# ## The math
#
# A measurement is a sample from a noisy distribution: other processes, the CPU's clock
# speed, caches and the memory allocator all move it. We report the **median** of several
# rounds (a round hit by a context switch does not move it, unlike the mean) and the
# **spread**: half the interquartile range relative to the median. We compare
# implementations by the **ratio** of their medians, measured in the same run and
# interleaved (A B A B …), so a slow minute of the machine slows both.
#
# When one part of a program taking a fraction $f$ of the time becomes $k$ times faster, the
# whole becomes (`minidl.perf.amdahl_speedup`)
#
# $$\text{speed-up} = \frac{1}{(1 - f) + f / k}$$
#
# times faster — never more than $1/(1 - f)$, however fast the part becomes.

# %%
print(f"f = 0.4, k = 2 → {amdahl_speedup(0.4, 2):.2f}×;  f = 0.4, k = ∞ → {amdahl_speedup(0.4, 1e12):.2f}×")

# %% [markdown]
# ## Warm-up: the first call is different
#
# The first call of anything pays one-time costs: a JIT compiler compiling, memory pages
# touched for the first time, caches filled. Numba makes this extreme: the first call of
# a kernel compiles it (minidl's kernels use `cache=True`, so that happens once per machine).


# %%
@numba.njit(cache=False)  # a fresh function, so that this lesson really sees the compile
def scaled_sum(x, a):
    total = 0.0
    for v in x:
        total += a * v
    return total


data = np.random.default_rng(0).standard_normal(100_000)
start = time.perf_counter()
scaled_sum(data, 2.0)
first_call = time.perf_counter() - start
later = measure({"later calls": lambda: scaled_sum(data, 2.0)}, number=20, rounds=5)["later calls"].median
print(f"first call {first_call * 1e3:.0f} ms, later calls {later * 1e6:.0f} µs: "
      f"{first_call / later:,.0f}× slower")

# %% [markdown]
# ## Noise: medians, spreads and interleaving
#
# Time the same thing many times, one call per sample, and look at the distribution:

# %%
x = np.random.default_rng(1).standard_normal((256, 256)).astype(np.float32)
samples = []
for _ in range(pick(200, 40)):
    start = time.perf_counter()
    x @ x
    samples.append(time.perf_counter() - start)
mean, median = statistics.mean(samples), statistics.median(samples)
print(f"mean {mean * 1e6:.0f} µs, median {median * 1e6:.0f} µs, slowest {max(samples) * 1e6:.0f} µs")
timing_verdict(mean > median, "a few interrupted calls pull the mean above the median", mean=mean, median=median)

# Two identical candidates, interleaved: their ratio should be 1, and its distance from 1
# tells how far to trust a ratio from this machine.
same = measure({"A": lambda: x @ x, "A again": lambda: x @ x}, number=pick(20, 5), rounds=pick(9, 7))
self_ratio = same["A again"].median / same["A"].median
print(f"A against itself: {self_ratio:.3f} (spreads ±{same['A'].spread:.0%} and ±{same['A again'].spread:.0%})")

# %%
fig, ax = new_figure(figsize=(9, 4.4))
ax.hist(np.array(samples) * 1e6, bins=40, color="#7090c0")
ax.axvline(median * 1e6, color="k", label=f"median {median * 1e6:.0f} µs")
ax.axvline(mean * 1e6, color="crimson", ls="--", label=f"mean {mean * 1e6:.0f} µs")
ax.set(xlabel="time per call (µs)", ylabel="calls (count)", title="one 256×256 matmul, timed call by call")
ax.legend(loc="upper right")
fig.tight_layout()
figure_noise = save_figure(fig, "14_timing_noise")

# %% [markdown]
# The long tail on the right is why a mean misleads: a few calls interrupted by the
# operating system pull it up. `minidl.perf.measure` (and `make bench`) use medians of
# interleaved rounds, a warm-up, no garbage collection inside a timed block, and a short
# sleep before each block — BLAS, Numba and PyTorch keep their worker threads spinning
# for a while after a call, and the next candidate should not pay for the previous one's.
#
# ## BLAS or Python overhead?
#
# Every op minidl runs costs a few microseconds of Python (making the output Tensor,
# recording the node, walking the graph backward) on top of its arithmetic. For a big
# matrix that is nothing; for a small one it is everything. Compare a `Linear` layer's
# forward + backward through minidl with the same arithmetic in plain NumPy — two matrix
# products ($x W^\top$ forward, $g^\top x$ for $\partial L/\partial W$; the input needs no gradient, so the
# third product, $g W$ for $\partial L/\partial x$, is skipped by both) and a column sum for $\partial L/\partial b$:

# %%
widths = [16, 64, 256, 1024] if not FAST else [16, 256]
overhead = {}
for width in widths:
    rng = np.random.default_rng(width)
    xa = rng.standard_normal((64, width)).astype(np.float32)
    wa = rng.standard_normal((width, width)).astype(np.float32)
    ba = np.zeros(width, np.float32)
    xt = minidl.tensor(xa)
    wt, bt = minidl.tensor(wa, requires_grad=True), minidl.tensor(ba, requires_grad=True)
    grad_out = np.ones((64, width), np.float32)

    def by_minidl(xt=xt, wt=wt, bt=bt, g=grad_out) -> None:
        wt.grad = bt.grad = None
        F.linear(xt, wt, bt).backward(g)

    def by_numpy(xa=xa, wa=wa, ba=ba, g=grad_out) -> None:
        y = xa @ wa.T
        y += ba
        _ = g.T @ xa, g.sum(axis=0)  # ∂L/∂W and ∂L/∂b (x needs no gradient)

    t = measure({"minidl": by_minidl, "NumPy": by_numpy}, number=pick(200, 20), rounds=pick(7, 5))
    overhead[width] = (t["minidl"].median, t["NumPy"].median)
    print(f"width {width:5d}: minidl {t['minidl'].median * 1e6:8.1f} µs ± {t['minidl'].spread:.0%}, "
          f"NumPy {t['NumPy'].median * 1e6:8.1f} µs ± {t['NumPy'].spread:.0%}, "
          f"ratio {t['minidl'].median / t['NumPy'].median:.2f}")

# %%
fig, ax = new_figure(figsize=(9, 4.8))
ax.plot(widths, [overhead[w][0] * 1e6 for w in widths], "o-", label="minidl Linear (forward + backward)")
ax.plot(widths, [overhead[w][1] * 1e6 for w in widths], "s--", label="the same GEMMs in NumPy")
ax.set(xscale="log", yscale="log", xlabel="layer width (units, batch 64)", ylabel="time per forward + backward (µs)",
       title="overhead vs size")
ax.set_xticks(widths, [str(w) for w in widths], minor=False)
ax.minorticks_off()
ax.legend()
fig.tight_layout()
figure_overhead = save_figure(fig, "14_overhead_vs_size")
small_ratio = overhead[widths[0]][0] / overhead[widths[0]][1]
large_ratio = overhead[widths[-1]][0] / overhead[widths[-1]][1]
timing_verdict(small_ratio > 1.3 * large_ratio and large_ratio < 1.5,
      "for the small layer the bookkeeping dominates; for the large one the two lines meet",
      small_ratio=small_ratio, large_ratio=large_ratio)

# %% [markdown]
# For the small layer the framework's bookkeeping dominates; for the large one the two
# lines meet — the time is in the GEMMs, and those are the same BLAS calls either way.
# That is why minidl fuses `x Wᵀ + b` into one `Linear` op (one node instead of three),
# and why small networks are the hard case for any framework written in Python.
#
# ## When a JIT helps, and when it cannot
#
# **It helps** when NumPy has to make several passes over memory for what is one simple
# loop. The ReLU gradient `gy * (x > 0)` builds a boolean mask (pass 1), then multiplies
# floats by bools (pass 2, converting each bool). The Numba kernel in
# `minidl.kernels.activation` reads both arrays once and writes the result once:

# %%
shape = (64, 64, 24, 24) if not FAST else (16, 64, 24, 24)
gy = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
xr = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
assert np.array_equal(activation.relu_backward.fast(gy, xr), activation.relu_backward_reference(gy, xr))
t = measure({"NumPy gy * (x > 0)": lambda: activation.relu_backward_reference(gy, xr),
             "Numba, one pass": lambda: activation.relu_backward.fast(gy, xr)},
            number=pick(20, 5), rounds=pick(7, 5))
relu_gain = t["NumPy gy * (x > 0)"].median / t["Numba, one pass"].median
print(f"ReLU backward: NumPy {t['NumPy gy * (x > 0)'].median * 1e3:.2f} ms ± {t['NumPy gy * (x > 0)'].spread:.0%}, "
      f"Numba {t['Numba, one pass'].median * 1e3:.2f} ms ± {t['Numba, one pass'].spread:.0%}: "
      f"Numba takes {1 / relu_gain:.2f}× the time of the NumPy expression")
timing_verdict(relu_gain > 1, "the one-pass Numba kernel beats the NumPy expression", gain=relu_gain)


# %% [markdown]
# **It cannot win** against BLAS on a matrix product. The three loops below are what a
# compiler sees; OpenBLAS or MKL add cache blocking (reusing each loaded number many
# times), hand-written SIMD kernels for each CPU, and threads. Numba compiles the loops
# well, and still loses — by more the larger the matrices (try `size = 1024`):


# %%
@numba.njit(cache=False)
def matmul_loops(a, b):
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m), dtype=a.dtype)
    for i in range(n):
        for p in range(k):
            aip = a[i, p]
            for j in range(m):
                out[i, j] += aip * b[p, j]
    return out


size = pick(256, 96)
a = np.random.default_rng(4).standard_normal((size, size)).astype(np.float32)
assert np.allclose(matmul_loops(a, a), a @ a, atol=1e-3)
# the ReLU cell's steps (time, ratio, print, verdict), written out again on purpose: each cell
# reads on its own in the notebook, and here the ratio is how much slower the compiled loops are
t = measure({"BLAS (a @ a)": lambda: a @ a, "Numba loops": lambda: matmul_loops(a, a)},
            number=pick(10, 3), rounds=pick(7, 5))
blas_gain = t["Numba loops"].median / t["BLAS (a @ a)"].median
print(f"{size}×{size} matmul: BLAS {t['BLAS (a @ a)'].median * 1e3:.3f} ms ± {t['BLAS (a @ a)'].spread:.0%}, "
      f"compiled loops {t['Numba loops'].median * 1e3:.3f} ms ± {t['Numba loops'].spread:.0%}: "
      f"the loops take {blas_gain:.2f}× BLAS's time")
timing_verdict(blas_gain > 1, "Numba compiles the loops well, and still loses to BLAS", loops_over_blas=blas_gain)

# %% [markdown]
# So minidl's rule: **BLAS stays BLAS**. Numba kernels are written only for what is not a
# matrix product — im2col and col2im, pooling, one-pass elementwise gradients — and each
# one is kept only if the benchmark (`make bench`, `benchmarks/bench_kernels.py`) shows it
# beating the NumPy expression it replaces. Below 65 536 elements minidl does not even
# call them (`minidl.kernels.dispatch(min_size=...)`): the microseconds saved are not worth
# compiling a kernel for.
#
# ## Threads: more is not always faster
#
# A threaded Numba kernel (`parallel=True`) right after a matrix product can be *slower* than
# a serial one: BLAS's worker threads keep spinning for a moment after the GEMM, so on a
# 2-core machine the kernel's second thread fights them for the second core. minidl's
# kernels once had such threaded twins, and the LeNet step ran slower with them. What uses
# both cores instead is splitting the *work*, not each kernel: on all cores,
# `minidl.threads.parallel_map` gives each thread one part of the batch, and the thread runs
# the whole chain on it — im2col, a one-thread GEMM, back to the output layout — with no
# BLAS helper left to fight (pooling and ReLU split the same way; `benchmarks/RESULTS.md`
# has the LeNet step both ways). On a *busy* machine it gets worse: a threaded BLAS call
# waits for a helper thread that the operating system has not scheduled, and a 1 ms
# product can take a hundred times longer. When numbers look absurd, measure again with
# one thread (`minidl.threads.blas_threads(1)`, or `OPENBLAS_NUM_THREADS=1` before Python
# starts) or on a quiet machine.
#
# For small matrices one thread is simply faster: waking a helper costs more than it
# saves. That is why `minidl tour`, the lessons' runner and the tests use one BLAS thread:

# %%
small = np.random.default_rng(5).standard_normal((64, 128)).astype(np.float32)
small_w = np.random.default_rng(6).standard_normal((128, 128)).astype(np.float32)
with blas_threads(1):
    one_t = measure({"one thread": lambda: small @ small_w}, number=pick(500, 100), rounds=5)["one thread"]
with blas_threads(os.cpu_count() or 1):
    every_t = measure({"all cores": lambda: small @ small_w}, number=pick(500, 100), rounds=5)["all cores"]
one, every = one_t.median, every_t.median
print(f"64×128 @ 128×128: {one * 1e6:.1f} µs ± {one_t.spread:.0%} on one thread, {every * 1e6:.1f} µs "
      f"± {every_t.spread:.0%} on {os.cpu_count()} threads")

# %% [markdown]
# **Every lesson starts with `lesson_threads()`** (`minidl.threads.lesson_threads`): one
# call that limits BLAS, and minidl's own kernels, to one thread for the rest of the process (or to
# `$MINIDL_BLAS_THREADS` threads, if you set it), whether the lesson runs as a script, in a
# notebook or through `minidl lesson N`. That is why the lessons' timings do not depend on
# how they were started, and why a small product is not slowed down by threads waiting
# for each other on a busy machine. Timings that need several threads (a big GEMM) say so
# and use `blas_threads(n)` for that block, as above.
#
# ## Amdahl on a real step
#
# Which share of a training step of the CNN from lesson 07 (PyTorch's MNIST example network,
# `nn.LeNet`) could Numba kernels still speed up? The GEMM-bound ops are the convolutions
# and the linear layers; everything else is "the rest":

# %%
minidl.manual_seed(0)
side = pick(28, 16)  # the quick version uses 16×16 images: same layers, a smaller first linear layer
lenet = nn.LeNet(image_size=side)
sgd = optim.SGD(lenet.parameters(), lr=0.01)
batch = pick(64, 8)
xb, yb = minidl.randn(batch, 1, side, side), minidl.tensor(np.arange(batch) % 10)


def lenet_step() -> None:
    sgd.zero_grad()
    F.cross_entropy(lenet(xb), yb).backward()
    sgd.step()


ops, step_seconds = profile_ops(lenet_step, steps=pick(5, 2))
gemm_ops = sum(o.seconds for o in ops if o.op in ("Conv2d", "Linear"))
rest_share = 1 - gemm_ops / step_seconds
print(f"step {step_seconds * 1e3:.0f} ms (median of {pick(5, 2)} profiled steps); conv + linear ops "
      f"{gemm_ops / step_seconds:.0%}, the rest {rest_share:.0%}")
print(f"making the rest 2× faster: {amdahl_speedup(rest_share, 2):.2f}×; infinitely fast: "
      f"{amdahl_speedup(rest_share, 1e12):.2f}×")

# %% [markdown]
# (The conv ops include their im2col and col2im, which are memory copies, not GEMMs: the
# real GEMM share is smaller, but of the same order.) The bound is sobering, and it is why
# the benchmark compares minidl with PyTorch rather than with an imagined ideal: once the
# matrix products dominate, the remaining gains are in doing fewer of them (smaller or
# pruned models — lessons 08–10) rather than in doing them faster.
#
# ## Exercises
#
# **1.** A profile says im2col takes 12% of a step. A new kernel makes im2col 3× faster.
# How much faster is the step? Write Amdahl's law as `speedup(f, k)` and test it with
# `minidl.course_checks.check("14.1", speedup)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `amdahl_speedup(0.12, 3)` $= 1 / (0.88 + 0.04) \approx 1.087$: about 9%.

# %% tags=["answer", "hide-cell"]
print(f"{amdahl_speedup(0.12, 3):.3f}")


def speedup(f: float, k: float) -> float:
    return 1 / ((1 - f) + f / k)


check("14.1", speedup)

# %% [markdown]
# **2.** Why compare against a reference measured in the *same* run instead of against
# last week's number?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Last week's machine state (clock speed, other processes, temperature) is gone;
# a ratio against a reference interleaved with the candidate cancels most of what changed.

# %% [markdown]
# **3.** You time a function once and get 310 ms; then 20 times and get a median of 2 ms.
# Which number describes the function?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Both, for different questions: 310 ms is the first call (compiling, first
# touches of memory), 2 ms the steady state of a training loop. Report them separately,
# as `make bench` does for the kernels' first calls.

# %% [markdown]
# **4.** In the overhead experiment, at which width would you expect minidl and NumPy to
# meet, and why does the batch size matter?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Where the GEMMs' time ($\propto \text{batch} \cdot \text{width}^2$) grows past the fixed per-op cost
# (tens of µs for the forward + backward): the larger the batch, the smaller the width at
# which that happens.

# %%
results = {
    "first_call_over_later": round(first_call / later),
    "median_us": round(median * 1e6, 1),
    "mean_us": round(mean * 1e6, 1),
    "self_ratio": round(self_ratio, 3),
    "overhead_ratio_small": round(small_ratio, 2),
    "overhead_ratio_large": round(large_ratio, 2),
    "relu_numba_gain": round(relu_gain, 2),
    "blas_over_numba_matmul": round(blas_gain, 1),
    "lenet_rest_share": round(rest_share, 3),
    "small_gemm_us_one_thread": round(one * 1e6, 1),
    "small_gemm_us_all_cores": round(every * 1e6, 1),
    "figures": [str(figure_noise), str(figure_overhead)],
}
print(results)
