# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 13 — The same code on a GPU
#
# **What you will learn**
#
# - why NumPy code does not run on a GPU by itself, and the one habit that fixes it: the
#   `xp` idiom;
# - where an array lives (host or device), and what moving it costs;
# - when a GPU makes training faster, and why it can make a small model *slower*;
# - how minidl tests its GPU code on machines that have no GPU.
#
# Everything here runs on a laptop without a GPU. Where a GPU is present (with CuPy
# installed), the lesson measures it; otherwise it shows numbers recorded on one.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 3 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %%
import json
import statistics
import time

import numpy as np

import minidl
from minidl import backend, nn, optim
from minidl.backend import standin
from minidl.course import claim, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.threads import lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

# %% [markdown]
# ## The idea: ask the data which module it belongs to
#
# CuPy copies NumPy's interface: `cupy.zeros`, `cupy.exp`, `a.sum(axis=1)` all exist, and
# they run on the GPU. So code can be written once, against a module variable `xp`:
#
# ```python
# xp = minidl.backend.get_array_module(x)   # numpy for NumPy arrays, cupy for CuPy arrays
# mask = xp.zeros(x.shape, dtype=bool)       # made where x lives
# ```
#
# The bug this prevents is the most common one in NumPy libraries that add GPU support: an
# array made with a bare `np.` (a mask, a `ones_like`, random numbers, an index array) meets
# a GPU array. CuPy then raises, or worse, the data silently crosses to the host and back.
#
# On a machine without a GPU nothing would notice, so minidl's tests run with a
# **stand-in**: a NumPy-backed imitation of CuPy that refuses to mix with NumPy, as CuPy
# does. Here is a function with the bug, and the same function written with `xp`:

# %%
def dropout_mask_buggy(x, p):
    return np.random.default_rng(0).random(x.shape) >= p          # a host array, always


def dropout_mask(x, p):
    xp = backend.get_array_module(x)
    return xp.asarray(np.random.default_rng(0).random(x.shape)) >= p   # moved to x's device


x_gpu = standin.ones((2, 3))
try:
    x_gpu * dropout_mask_buggy(x_gpu, 0.5)
    leak_caught = False
except TypeError as error:
    leak_caught = True
    print("the stand-in caught it:\n ", str(error)[:150], "...")
print("with xp:", type(x_gpu * dropout_mask(x_gpu, 0.5)).__name__, "on", backend.device_of(x_gpu))

# %% [markdown]
# ## Switching the whole program
#
# `minidl.backend.set_backend("cupy")` (or the environment variable `MINIDL_BACKEND=cupy`)
# makes every new Tensor, weight and dataset live on the GPU; `model.to("gpu")` moves an
# existing model. Nothing else in a training script changes. Below, the same script trains
# on NumPy and on the stand-in ("the GPU" of this machine): the same seed gives the same
# weights, because the two backends run the same arithmetic.

# %%
from minidl.data import DataLoader, load_digits  # noqa: E402
from minidl.train import evaluate, fit  # noqa: E402

try:
    backend.set_backend("cupy")
    backend.set_backend("numpy")
    gpu = "cupy"
except RuntimeError as why:
    gpu = None
    print("no CuPy GPU here:", str(why)[:120])


def train_on(name):
    with backend.use(name):
        minidl.manual_seed(0)
        model = nn.MLP([64, 64, 10])
        fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
            DataLoader(load_digits("train"), batch_size=32, shuffle=True, seed=0),
            epochs=pick(10, 2), progress=False)
        acc = evaluate(model, DataLoader(load_digits("test"), batch_size=512))["accuracy"]
        return model[0].weight.numpy(), acc


w_cpu, acc_cpu = train_on("numpy")
w_dev, acc_dev = train_on(gpu or "standin")
same = bool(np.allclose(w_cpu, w_dev, atol=1e-5))
print(f"numpy: {acc_cpu:.1%}   {gpu or 'stand-in'}: {acc_dev:.1%}   same weights: {same}")
claim(same if not gpu else abs(acc_cpu - acc_dev) < 0.02,
      "the same seed gives the same weights (on a real GPU: the same accuracy up to rounding)",
      same_weights=same, accuracy=(acc_cpu, acc_dev))

# %% [markdown]
# ## What a transfer costs, and why small models lose
#
# A GPU runs thousands of multiply-adds at once, but every operation it is given costs a
# fixed launch latency (a few microseconds), and every array that crosses between host
# and device pays for the trip over PCIe. So:
#
# - a large matrix product is many times faster on a GPU;
# - a tiny network, whose step is a few dozen small operations, is dominated by launch
#   latency and may be *slower* than NumPy on the CPU;
# - moving a batch to the GPU every step costs time, so datasets should live on the
#   device (minidl's `load_digits` creates its arrays with the active backend).
#
# The numbers below are measured now if a GPU is present, or were recorded by
# `benchmarks/gpu_check.py` on a real GPU.

# %%
def measure_steps(sizes_and_batches, rounds=5):
    rows = []
    for sizes, batch in sizes_and_batches:
        times, spreads = {}, {}
        for name in ("numpy", "cupy"):
            with backend.use(name):
                minidl.manual_seed(0)
                model = nn.MLP(sizes)
                opt = optim.SGD(model.parameters(), lr=0.01)
                xb = minidl.randn(batch, sizes[0])
                yb = minidl.randint(0, sizes[-1], (batch,))
                sync = backend._load(name).synchronize
            samples = []
            for _ in range(rounds):
                sync()
                start = time.perf_counter()
                for _ in range(20):
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(xb), yb).backward()
                    opt.step()
                sync()
                samples.append((time.perf_counter() - start) / 20)
            times[f"minidl {name}"] = statistics.median(samples) * 1e6
            q1, _, q3 = statistics.quantiles(samples, n=4)
            spreads[f"minidl {name}"] = (q3 - q1) / 2 / statistics.median(samples)
        rows.append({"network": "-".join(map(str, sizes)), "batch": batch, "median_us": times, "spread": spreads})
    return rows


try:
    from minidl.course import lessons_dir

    recorded = lessons_dir().parent / "benchmarks" / "gpu_check.json"
except FileNotFoundError:
    recorded = None
if gpu:
    source = "measured now"
    steps = measure_steps([([64, 128, 10], 32), ([784, 256, 128, 10], 128), ([784, 2048, 2048, 10], 1024)])
elif recorded is not None and recorded.exists():
    report = json.loads(recorded.read_text())
    source = f"recorded on {report['gpu']} ({report['when']})"
    steps = report["mlp_steps"]
else:
    source, steps = None, []
print("GPU numbers:", source or "none available on this machine")

fig, ax = new_figure(figsize=(10, 5))
if steps:
    labels = [f"{r['network']}\nbatch {r['batch']}" for r in steps]
    cpu = [r["median_us"]["minidl numpy"] for r in steps]
    dev = [r["median_us"]["minidl cupy"] for r in steps]
    pos = np.arange(len(steps))
    ax.bar(pos - 0.2, cpu, 0.4, label="NumPy (CPU)")
    ax.bar(pos + 0.2, dev, 0.4, label="CuPy (GPU)")
    ax.set_xticks(pos, labels)
    ax.set_yscale("log")
    ax.set_xlabel("network and batch size")
    ax.set_ylabel("time per training step (µs, log scale)")
    ax.set_title(f"MLP training step, CPU vs GPU ({source})")
    ax.legend()
    for r in steps:
        cpu_us, gpu_us = r["median_us"]["minidl numpy"], r["median_us"]["minidl cupy"]
        spread = r.get("spread", {})
        spread_text = (f" (spreads ±{spread['minidl numpy']:.0%} / ±{spread['minidl cupy']:.0%})" if spread
                       else " (spread not recorded)")
        print(f"{r['network']:>18} batch {r['batch']:>5}:  CPU {cpu_us:>10,.0f} µs   GPU {gpu_us:>8,.0f} µs   "
              f"speed-up {cpu_us / gpu_us:.1f}×{spread_text}")
else:
    ax.text(0.5, 0.5, "no GPU numbers on this machine:\nrun benchmarks/gpu_check.py on a GPU",
            ha="center", va="center")
    ax.set_axis_off()
save_figure(fig, "13_cpu_vs_gpu")

# %% [markdown]
# ## Exercises
#
# **1.** This function is meant to zero the negative entries of a Tensor's data. Find the
# line that breaks on a GPU, fix it, and prove the fix with the stand-in — or with
# `minidl.course_checks.check("13.1", zero_negatives)`.
#
# ```python
# def zero_negatives(a):
#     keep = np.ones_like(a)
#     keep[a < 0] = 0
#     return a * keep
# ```

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `np.ones_like(a)` makes a host array whatever `a` is. Use the data's module:

# %% tags=["answer", "hide-cell"]
def zero_negatives(a):
    xp = backend.get_array_module(a)
    keep = xp.ones_like(a)
    keep[a < 0] = 0
    return a * keep


fixed = zero_negatives(standin.asarray(np.array([-1.0, 2.0, -3.0])))
assert standin.asnumpy(fixed).tolist() == [0.0, 2.0, 0.0]
check("13.1", zero_negatives)  # the hidden tests run it on NumPy and on the stand-in

# %% [markdown]
# **2.** Why can the 64-128-10 network at batch 32 be slower on the GPU than on the CPU?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** One training step is about thirty array operations on arrays of a few
# thousand numbers. On the CPU each takes about a microsecond; on the GPU each still
# pays a kernel launch of several microseconds, and reading the loss back to the host
# waits for all of them. The GPU only wins once each operation carries enough work:
# the 784-2048-2048-10 network at batch 1024 is that case.

# %% [markdown]
# **3.** Where should the dataset live when you train on a GPU, and why?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** On the GPU, created there once (minidl's datasets are created with the active
# backend). Copying every batch from the host costs a PCIe transfer per step, which for
# small batches can take longer than the step itself.

# %%
results = {"leak_caught": leak_caught, "standin_matches_numpy": same, "gpu": gpu,
           "gpu_numbers": source, "accuracy_cpu": acc_cpu, "accuracy_device": acc_dev}
print(results)
