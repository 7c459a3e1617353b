# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 16 — Compiling a training step: tracing, guards, memory planning, fusion, generated kernels
#
# ## What you will learn
#
# - **Tracing versus eager execution**: eager minidl builds Tensors and graph nodes for every
#   op, every step; `minidl.compile` runs the step once while recording the array operations,
#   then replays the recording as generated straight-line Python.
# - What a **guard** is, why a new input shape (or `model.eval()`) makes the step compile
#   again, what happens after 8 recompilations; what goes wrong with a guard that checks too
#   little — and the guard key you will write to fix it.
# - **Memory planning by liveness**: each intermediate array lives from the line that writes
#   it to the last line that reads it; arrays whose lives do not overlap share one buffer,
#   allocated once. A picture of the buffers' lifetimes.
# - **Operator fusion** and the bytes it saves: the roofline model with this machine's peak
#   FLOP/s and memory bandwidth, measured; the memory traffic of a fused and an unfused
#   elementwise chain, computed and then timed; the generated code of one fused kernel.
# - The **per-op overhead removed, step by step**, on the small MLP of `make bench`
#   (64-128-10, batch 32): eager → unfused replay → fused, timed the way lesson 14 times
#   things, against a hand-written NumPy step.
# - What **`torch.compile`**, **`jax.jit`** and **CUDA graphs** do differently.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 11 s on one laptop core: 4 to 5 s of CPU time (measured
# with one BLAS thread, 2026-12-02, on a shared machine) and about 6 s of the short pauses
# lesson 14's timing method sleeps before each timed block; `MINIDL_FAST=1` runs the quick version,
# the one the tests run.

# %% [markdown]
# ## The math
#
# **Where a small step's time goes.** A training step that runs $n_{\text{ops}}$ ops pays,
# besides the arithmetic, a fixed Python cost $t_{\text{op}}$ per op (making output Tensors,
# recording graph nodes, walking them backward):
#
# $$T_{\text{step}} \approx n_{\text{ops}}\, t_{\text{op}} + T_{\text{arith}}$$
#
# $t_{\text{op}}$ is a few µs; for the 64-128-10 MLP at batch 32 the arithmetic is of the
# same order (section 5 measures both), so the first term is worth removing.
# Compiling removes it: the graph is built once, and the replay is only the arithmetic.
#
# **The roofline.** A kernel doing $F$ floating-point operations and moving $Q$ bytes
# between memory and the core cannot run faster than its compute or its memory traffic
# allow (`minidl.perf.roofline_time`):
#
# $$T_{\text{kernel}} \;\ge\; \max\!\left(\frac{F}{P_{\text{peak}}},\; \frac{Q}{\mathrm{BW}}\right), \qquad
# \mathrm{AI} = \frac{F}{Q}$$
#
# with $P_{\text{peak}}$ the machine's peak FLOP/s, $\mathrm{BW}$ its memory bandwidth in
# bytes/s and $\mathrm{AI}$ the kernel's **arithmetic intensity** in FLOP/byte. It attains at
# most $\min(P_{\text{peak}},\ \mathrm{AI}\cdot\mathrm{BW})$ FLOP/s: below the **ridge point**
# $\mathrm{AI}^* = P_{\text{peak}}/\mathrm{BW}$ it is memory-bound, and only moving fewer bytes
# makes it faster.
#
# **Fusion.** A chain of $k$ elementwise ops over $n$ float32 values, each op a separate
# pass that reads its array and writes it back ($4n$ bytes each way), moves
# $Q_{\text{unfused}} = 8kn$ bytes; fused into one loop that keeps each value in a register
# between the ops it moves $Q_{\text{fused}} = 8n$. $F = kn$ either way, so $\mathrm{AI}$ grows
# from $1/8$ to $k/8$ FLOP/byte — still far below any CPU's ridge point — and the memory-bound
# time falls by a factor of $k$.
#
# **Liveness.** A value $u$ of the program is live on the lines $[\mathrm{def}(u),
# \mathrm{last}(u)]$, from the line that writes it to the last line that reads it. Two values
# of the same shape and dtype whose intervals do not overlap can share one buffer — the
# interval-graph colouring a compiler does for registers (linear scan, Poletto & Sarkar 1999).

# %%
import inspect
import io
import os
import textwrap
import time
import warnings

import numba
import numpy as np
from matplotlib.patches import Patch

import minidl
import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit
from minidl import nn, optim
from minidl.compiler import GraphBreak, codegen
from minidl.course import claim, fast_mode, new_figure, pick, save_figure, timing_verdict
from minidl.course_checks import check
from minidl.perf import measure, roofline_time
from minidl.threads import lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)
LESSON_START, LESSON_CPU = time.perf_counter(), time.process_time()
FAST = fast_mode()
CPU = time.process_time  # the clock of every timing below: this process's CPU time (section 4 says why)
BATCH, SIZES = 32, [64, 128, 10]


def mlp_and_step(sizes: list[int] = SIZES, lr: float = 0.1, seed: int = 0):
    """A fresh MLP, its SGD optimizer and the plain (eager) training step of the issue."""
    minidl.manual_seed(seed)
    model = nn.MLP(sizes)
    opt = optim.SGD(model.parameters(), lr=lr)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, train_step


def explain_section(compiled, title: str) -> str:
    """One block of ``compiled.explain()`` (the blocks start with ``-- <title>``)."""
    text = compiled.explain(file=io.StringIO())
    blocks = text.split("\n-- ")
    return next("-- " + b for b in blocks if b.startswith(title)).rstrip()


data_rng = np.random.default_rng(0)
x = minidl.tensor(data_rng.standard_normal((BATCH, SIZES[0])).astype(np.float32))
y = minidl.tensor(data_rng.integers(0, SIZES[-1], BATCH))

# %% [markdown]
# ## 1. Eager execution and tracing
#
# Eager minidl (like eager PyTorch) does what each line says when Python reaches it:
# `model(x)` computes the product *and* builds a Tensor, a graph node holding its inputs,
# their version counters; `loss.backward()` walks those nodes from a heap; `opt.step()` loops
# over the parameters in Python. All of it happens again at the next step, although the
# graph is the same every time.
#
# A **tracer** runs the function once the eager way, with recording switched on, and keeps
# only what touched the arrays. Everything else — Python `for` loops, attribute lookups,
# the `Module` calls — is gone from the recording: a loop is unrolled, a function call is
# inlined. Here is a Python loop of three ReLUs, compiled and replayed:


# %%
def three_relus(t):
    for _ in range(3):
        t = F.relu(t - 0.5)
    return t


compiled_relus = minidl.compile(three_relus, fuse=False)
sample = minidl.tensor(np.linspace(-1, 3, 6, dtype=np.float32))
claim(np.array_equal(compiled_relus(sample).numpy(), three_relus(sample).numpy()), "the first call runs eagerly")
claim(np.array_equal(compiled_relus(sample).numpy(), three_relus(sample).numpy()), "the replay gives the same values")
print(explain_section(compiled_relus, "graph"))
print(explain_section(compiled_relus, "generated replay code"))
relus_source = compiled_relus.cache[0].source
claim("v2 = F0(v0, v1)" in relus_source and "v1 = L1.data" in relus_source and "for " not in relus_source,
      "the loop is unrolled; F0 is the first Sub, reading the 0.5 as L1.data")

# %% [markdown]
# The `for` loop is not in the replay: the tracer saw six ops, one after another, and the
# generated function calls them in that order (`F0` is the first `Sub`'s recorded `forward`,
# `F1` the first ReLU's; each `0.5` became a Tensor when `t - 0.5` ran, and the replay reads
# it like a parameter, `L1.data`). That is what *tracing*
# means, and its price: anything the Python decided — how many times to loop, which branch
# to take — was decided once, with the values of the first call.
#
# Now the training step itself. `minidl.compile(train_step, fuse=False)` captures it — forward,
# the backward walk, `zero_grad()` and `opt.step()` — and replays it op by op:

# %%
model_u, opt_u, step_u = mlp_and_step()
compiled_unfused = minidl.compile(step_u, fuse=False)
for _ in range(2):
    compiled_unfused(x, y)
print(explain_section(compiled_unfused, "graph"))
print()
print(explain_section(compiled_unfused, "generated replay code"))
capture_u = compiled_unfused.cache[0]
steps_u = capture_u.tracer.steps
n_ops = sum(1 for s in steps_u if s.kind in ("forward", "backward"))
claim((steps_u[1].label, steps_u[9].label, steps_u[12].kind, steps_u[16].label)
      == ("Linear.forward", "Linear.backward", "grad", "SGD.step()"), "F1, B9, G12 and C16 are what the text says")
print(f"\n{len(capture_u.tracer.steps)} recorded steps, {n_ops} of them an op's forward or backward")

# %% [markdown]
# Each line of the replay is one recorded step: `F1` is the first `Linear`'s `forward`, `B9`
# the second `Linear`'s `backward` (returning $\partial L/\partial x$, $\partial L/\partial W$,
# $\partial L/\partial b$), `G12` stores a gradient into `.grad`, `C16` is `opt.step()`. The
# parameters are read live (`v2 = L2.data`), so the replay sees the weights the optimizer
# just changed. No Tensor, no node, no heap: the same NumPy calls in the same order — so the
# replay is **bit-equal** to eager. Five steps of each, from the same initial weights:

# %%
model_e, _, step_e = mlp_and_step()
model_r, _, step_r = mlp_and_step()
replayed = minidl.compile(step_r, fuse=False)
for _ in range(5):
    step_e(x, y)
    replayed(x, y)
bit_gap = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(model_e.parameters(), model_r.parameters()))
print(f"after 5 SGD steps, the largest difference between eager and replayed weights: {bit_gap}")
claim(bit_gap == 0.0, "the unfused replay is bit-equal to eager", gap=bit_gap)

# %% [markdown]
# **What cannot be traced.** A line that reads a *value* — `loss.item()`, `if loss > 2:` —
# makes Python decide something from data the recording cannot hold: the next call could
# take the other branch. minidl stops and names the line (a **graph break**, in
# `torch.compile`'s words); `minidl.compile(fn, fallback=True)` would run such a function
# eagerly instead.

# %%
model_b, opt_b, _ = mlp_and_step()


def step_with_a_branch(xb, yb):
    opt_b.zero_grad()
    loss = F.cross_entropy(model_b(xb), yb)
    if loss > 2.0:  # data-dependent Python: which branch depends on this batch
        loss = loss * 0.5
    loss.backward()
    opt_b.step()
    return loss


try:
    minidl.compile(step_with_a_branch)(x, y)
    broke = False
except GraphBreak as error:
    broke = True
    where, what = str(error).split(": ", 1)
    print(textwrap.fill(f"GraphBreak: {os.path.basename(where)}: {what}", 100, subsequent_indent="    "))
claim(broke, "an `if` on a tensor's value cannot be captured")

# %% [markdown]
# ## 2. Guards: when a recording may be replayed
#
# A recording is a program specialized to what it saw: the shapes of every array (the
# mean's $1/B$ is a number in it, cross-entropy's target coefficients have $B$ rows, the
# planned buffers of section 3 have those shapes), the dtypes, which ops ran in train mode
# (dropout) or eval mode. Before each replay, **guards** check that the call is the same
# kind of call; if one fails, the function is captured again, and both recordings are kept:

# %%
model_g, opt_g, step_g = mlp_and_step()
compiled_g = minidl.compile(step_g, fuse=False)
compiled_g(x, y)
for line in compiled_g.explain(file=io.StringIO()).splitlines():
    if line.startswith("guards:") or "modules in" in line:
        print(line.strip())
compiled_g(x[:16], y[:16])  # another batch size: a new shape
model_g.eval()
compiled_g(x, y)  # eval mode
model_g.train()
compiled_g(x, y)  # the first recording's guards hold again: a replay
print(f"\n{len(compiled_g.cache)} captures; replays per capture: {[c.hits for c in compiled_g.cache]}")
for reason in compiled_g.recompile_reasons:
    print("recompiled because", reason)
claim(len(compiled_g.cache) == 3 and compiled_g.cache[0].hits == 1,
      "a new shape and eval mode each capture again; back in train mode the first capture is replayed",
      captures=len(compiled_g.cache), hits=[c.hits for c in compiled_g.cache])

# %% [markdown]
# Capturing costs time — the step runs eagerly with recording on, and code is generated —
# so a loop whose last batch is smaller recompiles once per epoch's end (harmless), and a
# loop whose shapes change at every call would recompile forever. Like `torch.compile`,
# minidl keeps at most `minidl.compiler.config.cache_size_limit` = 8 captures per function
# and then runs new shapes eagerly, with a warning that says why:

# %%
model_c, _, step_c = mlp_and_step()
compiled_c = minidl.compile(step_c, fuse=False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for batch in range(3, 3 + 10):  # ten different batch sizes
        compiled_c(x[:batch], y[:batch])
print(f"captures kept: {len(compiled_c.cache)} (limit {minidl.compiler.config.cache_size_limit})")
print("warning:", textwrap.shorten(str(caught[-1].message), 170) if caught else "(none)")
claim(minidl.compiler.config.cache_size_limit == 8 == len(compiled_c.cache) and len(caught) >= 1,
      "at most 8 captures are kept; past the limit, new shapes run eagerly with a warning",
      captures=len(compiled_c.cache))

# %% [markdown]
# The guards are code too: minidl generates them, like the replay, as one Python expression
# that is checked before every replay (`torch.compile` generates its guards the same way;
# `TORCH_LOGS=guards` prints them). Those of the first capture above:

# %%
print(compiled_g.cache[0].guard_source)

# %% [markdown]
# **Why each guard is there.** Take minidl's capture and replay, and put a guard of our own in
# front of them: a toy compiler that keeps one capture per key and replays it through its
# generated code directly, with minidl's own guards bypassed. A first attempt keys on the
# shapes of the arguments only — enough for the batch-size case. Here it serves an MLP with
# dropout, captured in train mode, then asked for a prediction in eval mode:


# %%
def shape_key(args):
    """A first guard key: the shape of every argument, and nothing else."""
    return tuple(a.shape for a in args)


class ToyCompiled:
    """One minidl capture per guard key, replayed by its generated code (minidl's guards bypassed)."""

    def __init__(self, fn, key):
        self.fn, self.key, self.replays = fn, key, {}

    def __call__(self, *args):
        k = self.key(args)
        if k not in self.replays:
            compiled = minidl.compile(self.fn, fuse=False)
            result = compiled(*args)  # the capture: an eager run, recorded
            self.replays[k] = compiled.cache[0].run
            return result
        return self.replays[k](*args)


minidl.manual_seed(0)
model_drop = nn.MLP(SIZES, dropout=0.5)
toy = ToyCompiled(lambda xb: model_drop(xb), key=shape_key)
toy(x)  # captured in train mode: dropout on
model_drop.eval()
with minidl.no_grad():
    expected = model_drop(x).numpy()
replayed_eval = toy(x).numpy()  # same shape: the key matches, the train-mode capture is replayed
model_drop.train()
eval_gap = float(np.abs(replayed_eval - expected).max())
print(f"eval-mode prediction: largest difference between the toy's replay and eager {eval_gap:.3f} "
      f"({len(toy.replays)} capture: the shape key saw nothing change)")
claim(eval_gap > 1e-2, "with a shape-only key, an eval-mode call replays the train-mode capture (dropout on)",
      gap=eval_gap)

# %% [markdown]
# A wrong answer, and no error: the replay still draws a dropout mask, because that is what
# was recorded. The same key would also replay a float32 capture for float64 inputs, a
# capture without gradients for inputs that need them, a training step inside `no_grad()`.
# Exercise 1 asks you to write the key that catches all of these.
#
# **What no guard sees.** A guard can check only what it knows to read. Besides the inputs,
# grad mode, each module's `training` flag and parameters and the optimizer's groups, minidl
# (like Dynamo) guards the Python numbers a compiled function reads by name from its module's
# globals and from its closure — a global `temperature` that changes captures again:

# %%
temperature = 1.0


def soft_logits(xb):
    return model_u(xb) / temperature  # a global, read by name


with minidl.no_grad():
    compiled_soft = minidl.compile(soft_logits, fuse=False)
    compiled_soft(x)
    temperature = 4.0
    global_gap = float(np.abs(compiled_soft(x).numpy() - soft_logits(x).numpy()).max())
print("recompiled because", compiled_soft.recompile_reasons[-1])
claim(global_gap == 0.0 and len(compiled_soft.cache) == 2, "a changed global is guarded: the function is captured "
      "again", gap=global_gap, captures=len(compiled_soft.cache))

# %% [markdown]
# A number kept as a module's *attribute* and used in `forward` is read deeper, inside the
# module's code, and is not guarded. At capture the division turned it into a Tensor, which
# the recording reads like a parameter (the `L….data` line that names no parameter, in the
# code below), and the replay keeps using that Tensor. (`minidl.compile(module)` compiles
# inference, so the calls run under `no_grad()`.)

# %%
class Tempered(nn.Module):
    """An MLP whose logits are divided by a temperature (lesson 10), kept as an attribute."""

    def __init__(self, temperature: float) -> None:
        super().__init__()
        self.inner = nn.MLP(SIZES)
        self.temperature = temperature

    def forward(self, xb):
        return self.inner(xb) / self.temperature


minidl.manual_seed(0)
tempered = Tempered(temperature=1.0)
compiled_tempered = minidl.compile(tempered, fuse=False)  # a compiled module: inference, under no_grad
with minidl.no_grad():
    compiled_tempered(x)
    tempered.temperature = 4.0
    fresh = tempered(x).numpy()
    stale_gap = float(np.abs(compiled_tempered(x).numpy() - fresh).max())
print(explain_section(compiled_tempered, "generated replay code"))
print(f"after setting temperature = 4.0: compiled vs eager logits differ by up to {stale_gap:.3f}")
claim(stale_gap > 1e-2, "a number read from a module attribute is baked into the capture", gap=stale_gap)

# %% [markdown]
# That is a documented limit, shared with CUDA graphs and tinygrad's TinyJit: what the
# function computes from Python state that no guard reads is frozen at capture. Keep such
# numbers in a Tensor (a buffer, read live like a parameter), pass them as an argument (then
# the input guard sees them), or compile again after changing them.
#
# ## 3. Memory planning by liveness
#
# Eager execution allocates a new array for every intermediate result, every step, and
# NumPy's allocator takes it back when the last reference goes. A recording knows in advance
# which line writes each array and which line reads it last. `fuse=True` (the default) uses
# that: every array a planned line writes gets a **buffer allocated once**, and two arrays
# of the same shape and dtype whose lifetimes do not overlap share one. The buffer plan of a
# deeper MLP (64-128-128-128-10; three hidden layers of equal width, so there is something
# to share):

# %%
model_d, _, step_d = mlp_and_step([64, 128, 128, 128, 10])
compiled_d = minidl.compile(step_d)
compiled_d(x, y)
compiled_d(x, y)
plan_d = compiled_d.cache[0].plan
print(explain_section(compiled_d, "buffer plan"))
values_planned = sum(len(lives) for _, _, lives in plan_d.buffers)
shared = [(b, desc, lives) for b, desc, lives in plan_d.buffers if len(lives) > 1]
tracer_d = compiled_d.cache[0].tracer
eager_bytes = sum(s.nbytes for s in tracer_d.slots if s.kind == "step")


def buffer_bytes(desc: str) -> int:
    """Bytes of a buffer described as explain() prints it, e.g. "float32[32, 128]"."""
    dtype, dims = desc.rstrip("]").split("[")
    return np.dtype(dtype).itemsize * int(np.prod([int(d) for d in dims.split(",") if d.strip()]))


planned_bytes = sum(buffer_bytes(desc) for _, desc, _ in plan_d.buffers)
print(f"\n{values_planned} values in {len(plan_d.buffers)} buffers ({planned_bytes / 1024:.0f} KiB, allocated "
      f"once); eager allocates the recorded ops' {eager_bytes / 1024:.0f} KiB of results at every step, and "
      "more inside the ops")
claim(len(shared) >= 1 and values_planned > len(plan_d.buffers),
      "some buffers hold two values whose lifetimes do not overlap", buffers=len(plan_d.buffers),
      values=values_planned)

# %%
stored_as_grad = {s for st in tracer_d.steps if st.kind == "grad" for s in st.ins}


def role(slot: int) -> str:
    """What a planned value is, from the step of the recording that made it."""
    if slot in stored_as_grad:
        return "a parameter's gradient (kept in .grad)"
    made_by = tracer_d.steps[tracer_d.slots[slot].source]
    if made_by.kind == "forward" and tracer_d.slots[slot].shape:
        return "forward: an activation or the logits"
    if made_by.kind == "backward":
        return "backward: the gradient of an activation"
    return "the loss"


ROLE_COLOURS = {"forward: an activation or the logits": "#4878b0", "backward: the gradient of an activation": "#d08040",
                "a parameter's gradient (kept in .grad)": "#40a060", "the loss": "#909090"}
fig, ax = new_figure(figsize=(11, 5.4))
for row, (_, _, lives) in enumerate(plan_d.buffers):
    for slot, first, last in lives:
        ax.barh(row, last - first + 0.8, left=first - 0.4, color=ROLE_COLOURS[role(slot)], edgecolor="k", height=0.7)
        ax.text((first + last) / 2, row, f"v{slot}", ha="center", va="center", fontsize=9, color="white")
ax.set_yticks(range(len(plan_d.buffers)), [f"B{b} {desc}" for b, desc, _ in plan_d.buffers], fontsize=9)
ax.invert_yaxis()
ax.set(xlabel="line of the generated step (program order)", ylabel="buffer (dtype[shape])",
       title=f"buffer lifetimes, MLP 64-128-128-128-10: {values_planned} values in {len(plan_d.buffers)} buffers")
ax.legend(handles=[Patch(facecolor=c, edgecolor="k", label=name) for name, c in ROLE_COLOURS.items()],
          loc="lower left", fontsize=9)
fig.tight_layout()
figure_buffers = save_figure(fig, "16_buffer_lifetimes")
handed_over = [[role(slot) for slot, _, _ in lives] for _, _, lives in plan_d.buffers if len(lives) > 1]
claim(any(r[0].startswith("forward") and r[1].startswith("backward") for r in handed_over),
      "a forward activation's buffer is taken over by a gradient flowing back", roles=handed_over)

# %% [markdown]
# Each bar is one value, from the line that writes it to the last line that reads it; a row
# with two bars is a buffer reused. The forward activations live long — the backward reads
# them (a layer's input for $\partial L/\partial W$, the activation for the ReLU's mask) — but once a
# layer's backward has read its activation for the last time, that buffer is free, and the
# gradient flowing back to the layers below moves into it. The parameters' gradients get
# buffers of their own that are never shared: `p.grad` holds them after the step. Like a
# CUDA graph's static outputs, those buffers are overwritten by the next call — copy a
# `.grad` you want to keep (exercise 4).
#
# ## 4. Fusion and the bytes it saves
#
# Every timing in this lesson is interleaved and a median (lesson 14), in CPU time of this
# process (`measure(..., clock=time.process_time)`): on a machine shared with other jobs, a
# block that takes milliseconds is paused by the operating system almost every time, and
# wall time would charge it for the pause.
#
# First, this machine's roof: its peak FLOP/s (a large single-precision matrix product, one
# thread) and its memory bandwidth (one in-place pass, reading and writing every byte once,
# over an array of the size used below — tens of MiB: past the per-core caches, and so the
# bandwidth of wherever such an array lives on this machine, main memory or a large shared
# L3 cache).

# %%
size = pick(512, 256)
a_mm = np.random.default_rng(1).standard_normal((size, size)).astype(np.float32)
rows = pick(8192, 4096)
n = rows * 1024  # elements of the big elementwise arrays: 32 MiB (16 MiB in fast mode), past the per-core caches
big = np.random.default_rng(2).standard_normal(n).astype(np.float32)
t = measure({"matmul": lambda: a_mm @ a_mm, "in-place pass": lambda: np.negative(big, out=big)},
            number=pick(5, 2), rounds=pick(7, 5), clock=CPU)
peak = 2 * size**3 / t["matmul"].median
bandwidth = 2 * big.nbytes / t["in-place pass"].median
ridge = peak / bandwidth
print(f"P_peak ≈ {peak / 1e9:.0f} GFLOP/s ({size}×{size} matmul, ± {t['matmul'].spread:.0%}); "
      f"BW ≈ {bandwidth / 1e9:.1f} GB/s ({big.nbytes / 2**20:.0f} MiB in place, ± {t['in-place pass'].spread:.0%}); "
      f"ridge point AI* = {ridge:.0f} FLOP/byte")

# %% [markdown]
# Now the chain the compiled step fuses after each hidden `Linear`: add the bias, then ReLU,
# $h = \max(xW^\top + b,\ 0)$. Unfused, that is two passes over the $B \times 128$ array (two
# NumPy calls, as eager runs them); fused, one loop that adds, clamps and stores each value
# once — the kernel `bias_relu_`. Its source, as `minidl.compiler.codegen` writes it to disk
# for Numba to compile (and to cache, so the next process loads machine code instead of
# compiling again):

# %%
kernels = codegen.kernels()
print(inspect.getsource(kernels.bias_relu_.py_func))
print(f"cached under {codegen.cache_dir()}")
print("\nand the lines of section 3's fused step that call it:")
print("\n".join(line for line in compiled_d.cache[0].source.splitlines() if "_bias_relu(" in line))

# %% [markdown]
# Two kinds of generated code meet here. The **replay function** is generated for each
# recording: its lines call BLAS into the planned buffers and the fused kernels, in the
# recording's order. The **kernels** come from a few patterns — bias + ReLU, the ReLU's
# backward, softmax cross-entropy's forward and backward — written as source text once, for
# any dtype, and matched against the recording. `torch.compile`'s Inductor goes further:
# it generates a new kernel for each group of ops it fuses, from its own loop-level IR
# (section 6).
# %% [markdown]
# The model predicts the bytes and the times before anything runs, for the same array of
# $n$ values whose bandwidth we just measured:

# %%
k_chain = 2  # ops in the chain: bias add, ReLU
flops = k_chain * n
q_unfused, q_fused = 8 * k_chain * n, 8 * n  # bytes: each pass reads and writes 4n
predicted_unfused = roofline_time(flops, q_unfused, peak, bandwidth)
predicted_fused = roofline_time(flops, q_fused, peak, bandwidth)
print(f"n = {n:,} float32: unfused Q = {q_unfused / 2**20:.0f} MiB, AI = {flops / q_unfused:.3f} FLOP/byte; "
      f"fused Q = {q_fused / 2**20:.0f} MiB, AI = {flops / q_fused:.3f} FLOP/byte (ridge {ridge:.0f})")
print(f"predicted: unfused {predicted_unfused * 1e3:.2f} ms, fused {predicted_fused * 1e3:.2f} ms "
      f"→ {predicted_unfused / predicted_fused:.1f}× from fusion")
claim(flops / q_unfused < flops / q_fused < ridge, "both versions sit far below the ridge point: memory-bound",
      ai_fused=flops / q_fused, ridge=ridge)

y_big = np.random.default_rng(3).standard_normal((rows, 1024)).astype(np.float32)
b_big = np.random.default_rng(4).standard_normal(1024).astype(np.float32) * np.float32(1e-3)
check_in = y_big[:4].copy()
kernels.bias_relu_(check_in, b_big)
claim(np.array_equal(check_in, np.maximum(y_big[:4] + b_big, 0)), "the fused kernel computes max(y + b, 0)")


def unfused_chain() -> None:  # two passes, in place, as two NumPy calls
    np.add(y_big, b_big, out=y_big)
    np.maximum(y_big, 0, out=y_big)


t = measure({"unfused (2 NumPy passes)": unfused_chain, "fused (bias_relu_)": lambda: kernels.bias_relu_(y_big, b_big)},
            number=pick(5, 2), rounds=pick(9, 5), clock=CPU)
measured_unfused, measured_fused = t["unfused (2 NumPy passes)"].median, t["fused (bias_relu_)"].median
fusion_gain = measured_unfused / measured_fused
print(f"measured:  unfused {measured_unfused * 1e3:.2f} ms ± {t['unfused (2 NumPy passes)'].spread:.0%}, "
      f"fused {measured_fused * 1e3:.2f} ms ± {t['fused (bias_relu_)'].spread:.0%} → {fusion_gain:.1f}× "
      f"(predicted {predicted_unfused / predicted_fused:.1f}×)")
timing_verdict(1.3 < fusion_gain, "fusing the two passes into one saves time in proportion to the bytes",
               measured=fusion_gain, predicted=predicted_unfused / predicted_fused)
timing_verdict(measured_unfused < 2 * predicted_unfused and measured_fused < 2 * predicted_fused,
               "both big-array times are within 2× of the roofline's prediction",
               unfused_over_predicted=measured_unfused / predicted_unfused,
               fused_over_predicted=measured_fused / predicted_fused)

# %% [markdown]
# On big arrays the roofline is a good model: the time follows the bytes, and one pass
# instead of two roughly halves it. **At the MLP's size it is not the whole story.** A
# $32 \times 128$ float32 array is 16 KiB and stays in the core's caches between ops; what
# the roofline leaves out is the fixed cost of *calling* a kernel at all — NumPy checks its
# arguments, picks a loop, handles `out=` — which we can measure on a one-element array:

# %%
small_n = BATCH * 128
y_small = np.random.default_rng(5).standard_normal((BATCH, 128)).astype(np.float32)
b_small = np.zeros(128, np.float32)
tiny, tiny_b = np.ones((1, 1), np.float32), np.zeros(1, np.float32)


def unfused_small() -> None:
    np.add(y_small, b_small, out=y_small)
    np.maximum(y_small, 0, out=y_small)


t = measure({"unfused": unfused_small, "fused": lambda: kernels.bias_relu_(y_small, b_small),
             "one NumPy call, 1 element": lambda: np.maximum(tiny, 0, out=tiny),
             "one Numba call, 1 element": lambda: kernels.bias_relu_(tiny, tiny_b)},
            number=pick(2000, 300), rounds=pick(9, 5), clock=CPU)
small_unfused, small_fused = t["unfused"].median, t["fused"].median
numpy_call, numba_call = t["one NumPy call, 1 element"].median, t["one Numba call, 1 element"].median
for name, timing in t.items():
    print(f"{name:26s} {timing.median * 1e6:6.2f} µs ± {timing.spread:.0%}")
print(f"{BATCH}×128: fusion gains {small_unfused / small_fused:.1f}× where the bytes alone predict "
      f"{q_unfused / q_fused:.0f}×; the two NumPy calls' fixed cost, {2 * numpy_call * 1e6:.2f} µs, is "
      f"{2 * numpy_call / small_unfused:.0%} of the unfused time")
timing_verdict(small_unfused / small_fused > q_unfused / q_fused,
               "at this size fusion gains more than the bytes predict: it also removes a call's fixed cost",
               measured=small_unfused / small_fused, bytes_predict=q_unfused / q_fused)

# %%
fig, ax = new_figure(figsize=(9, 5))
ai = np.logspace(-2, 3, 200)
ax.loglog(ai, np.minimum(peak, ai * bandwidth) / 1e9, "k-",
          label=f"roof: min(P_peak, AI · BW), BW measured on {big.nbytes / 2**20:.0f} MiB")
ax.axvline(ridge, color="grey", ls=":", label=f"ridge point AI* = {ridge:.0f} FLOP/byte")
points = [
    ("bias + ReLU, unfused (2 passes), measured", flops / q_unfused, flops / measured_unfused, "o", "C3"),
    ("bias + ReLU, fused, measured", flops / q_fused, flops / measured_fused, "s", "C2"),
    (f"bias + ReLU at {BATCH}×128, unfused, measured", flops / q_unfused, k_chain * small_n / small_unfused, "v",
     "C1"),
    (f"bias + ReLU at {BATCH}×128, fused, measured", flops / q_fused, k_chain * small_n / small_fused, "^", "C4"),
    (f"{size}×{size} matmul, measured (defines P_peak)", 2 * size**3 / (3 * a_mm.nbytes), peak, "D", "C0"),
]
for label, x_ai, rate, marker, colour in points:
    ax.loglog([x_ai], [rate / 1e9], marker, color=colour, markersize=9, label=label)
ax.set(xlabel="arithmetic intensity AI (FLOP/byte)", ylabel="attained rate (GFLOP/s)",
       title="the roofline of this machine, one core")
ax.legend(loc="lower right", fontsize=9)
fig.tight_layout()
figure_roofline = save_figure(fig, "16_roofline")

# %% [markdown]
# The big-array points sit near the sloped roof (the verdict above says how near, this run):
# memory-bound, and fusion moves the point
# right (more FLOPs per byte) and up. The small-array points sit wherever the fixed cost of
# their calls puts them — the roof drawn with main memory's bandwidth does not describe
# arrays that live in the cache, and no roofline shows a call's overhead. That is the regime
# of the small MLP, and why compiling it pays: fewer calls more than fewer bytes.
#
# ## 5. The overhead removed, step by step
#
# The 64-128-10 MLP at batch 32, four ways, timed in interleaved rounds (lesson 14):
# **eager**; the **unfused replay** of section 1 (the same ops, minus the Tensors, the graph
# and the Python of `backward()` and `step()`); the **fused** step; and a **hand-written
# NumPy step**, the same arithmetic with no framework at all. First, what the fused step is —
# its fusion groups (which recorded steps became which calls) and its generated code, to
# compare with the unfused replay of section 1:


# %%
def hand_written(model):
    """The step written by hand in NumPy on the model's own arrays (lesson 14's floor)."""
    (w1, b1), (w2, b2) = [(m.weight.data, m.bias.data) for m in model if isinstance(m, nn.Linear)]
    xa, ya, rows_ = x.data, y.data, np.arange(BATCH)

    def step() -> float:
        z1 = xa @ w1.T
        z1 += b1
        h = np.maximum(z1, 0)
        z2 = h @ w2.T
        z2 += b2
        e = np.exp(z2 - z2.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows_, ya]).mean()
        p[rows_, ya] -= 1
        p /= BATCH
        gh = p @ w2
        gh *= z1 > 0
        w2[...] -= 0.1 * (p.T @ h)  # [...]: update the model's arrays in place
        b2[...] -= 0.1 * p.sum(axis=0)
        w1[...] -= 0.1 * (gh.T @ xa)
        b1[...] -= 0.1 * gh.sum(axis=0)
        return loss

    return step


model_eager, _, eager_step = mlp_and_step()
model_unf, _, unf_fn = mlp_and_step()
model_fus, _, fus_fn = mlp_and_step()
model_hand, _, _ = mlp_and_step()
unfused_step = minidl.compile(unf_fn, fuse=False)
fused_step = minidl.compile(fus_fn)
started = CPU()
unfused_step(x, y)
capture_unfused_s = CPU() - started
started = CPU()
fused_step(x, y)
capture_fused_s = CPU() - started
started = CPU()
eager_step(x, y)
eager_once_s = CPU() - started
hand_step = hand_written(model_hand)
hand_step()
print(explain_section(fused_step, "fusion groups"))
print()
print(explain_section(fused_step, "generated replay code"))

# %% [markdown]
# Every recorded step found a lowering here: the products call BLAS with `out=` into the
# planned buffers (`B0`…, bound once at the top), the bias and the ReLU run as `bias_relu_`,
# the loss and its gradient as one kernel (with the second bias added inside it), and the
# gradients stay in their buffers, which `.grad` holds without a copy. Now the times:

# %%
candidates = {"eager": lambda: eager_step(x, y), "unfused replay": lambda: unfused_step(x, y),
              "fused": lambda: fused_step(x, y), "hand-written NumPy": hand_step}
timings = measure(candidates, number=pick(200, 30), rounds=pick(9, 5), clock=CPU)
for name, timing in timings.items():
    print(f"{name:20s} {timing.median * 1e6:7.1f} µs ± {timing.spread:.0%}")
eager_s, unfused_s, fused_s, hand_s = (timings[k].median for k in candidates)
per_op = (eager_s - unfused_s) / n_ops
print(f"\nfirst calls (an eager step with recording on, then code generation): unfused "
      f"{capture_unfused_s * 1e3:.1f} ms, fused {capture_fused_s * 1e3:.1f} ms (its Numba kernels were loaded "
      f"in section 3), against {eager_once_s * 1e3:.1f} ms for one eager step")
print(f"eager → unfused replay: {(eager_s - unfused_s) * 1e6:.0f} µs saved over {n_ops} ops "
      f"= {per_op * 1e6:.1f} µs of Python per op")
print(f"unfused → fused: {(unfused_s - fused_s) * 1e6:.0f} µs more; fused step = {fused_s / eager_s:.2f}× eager, "
      f"{fused_s / hand_s:.2f}× the hand-written step")
timing_verdict(eager_s > unfused_s > fused_s, "each stage removes time: eager > unfused replay > fused",
               eager=eager_s, unfused=unfused_s, fused=fused_s)
timing_verdict(0.2 < (eager_s - unfused_s) / hand_s < 5,
               "the framework's Python and the arithmetic (the hand-written step) are of the same order",
               python_s=eager_s - unfused_s, arithmetic_s=hand_s)

# %%
fig, ax = new_figure(figsize=(9, 4.2))
names = list(candidates)
medians = [timings[k].median * 1e6 for k in names]
errors = [timings[k].median * timings[k].spread * 1e6 for k in names]
ax.barh(names, medians, xerr=errors, color=["#a0a0a0", "#7090c0", "#40a060", "#d08040"], capsize=4)
notes = ["", f" (−{(eager_s - unfused_s) * 1e6:.0f}: no Tensors, no graph)",
         f" (−{(unfused_s - fused_s) * 1e6:.0f}: fused calls, planned buffers)", ""]
for i, (m, e, note) in enumerate(zip(medians, errors, notes)):
    ax.text(m + e, i - 0.3, f" {m:.0f} µs{note}", va="center")
ax.invert_yaxis()
ax.set(xlabel="CPU time per training step (µs; bar: median, whiskers: ± half the interquartile range)",
       title=f"MLP 64-128-10, batch {BATCH}, SGD: the overhead removed, step by step")
ax.set_xlim(0, max(m + e for m, e in zip(medians, errors)) * 1.3)
fig.tight_layout()
figure_steps = save_figure(fig, "16_overhead_step_by_step")

# %% [markdown]
# The unfused replay removes the framework's bookkeeping — about $t_{\text{op}}$ per op,
# the number above — and nothing else: the NumPy calls are the same. Fusion removes calls
# (bias and ReLU in one, the loss's many small NumPy calls in one, the optimizer's Python
# loop in Numba) and the allocations the buffer plan makes unnecessary. What is left is the
# matrix products themselves and one Python line per planned call.
#
# Is the fused step still training the same model? It sums in float64 inside its kernels
# and orders some sums differently, so it agrees with eager to float32 rounding, not to the
# bit:

# %%
model_a, _, step_a = mlp_and_step()
model_b2, _, step_b2 = mlp_and_step()
fused_b = minidl.compile(step_b2)
for _ in range(5):
    step_a(x, y)
    fused_b(x, y)
fused_gap = max(float(np.abs(a.numpy() - b.numpy()).max() / np.abs(a.numpy()).max())
                for a, b in zip(model_a.parameters(), model_b2.parameters()))
print(f"after 5 SGD steps, eager vs fused: largest difference relative to the largest weight {fused_gap:.1e}")
claim(fused_gap < 1e-5, "the fused step agrees with eager to float32 rounding", gap=fused_gap)

# %% [markdown]
# ## 6. What `torch.compile`, `jax.jit` and CUDA graphs do differently
#
# All three remove the same per-op overhead; they differ in what they capture and how much
# of Python they keep.
#
# - **`torch.compile`** does not run your function to trace it; **Dynamo** reads its Python
#   *bytecode* as it is about to run (PEP 523's frame-evaluation hook), symbolically, and
#   extracts the tensor operations into an FX graph. It guards on everything it read —
#   tensor shapes, dtypes and strides, globals, closure variables, module attributes (so
#   the `temperature` attribute of section 2 would be guarded too). Where it meets
#   something it cannot trace (a `.item()` followed by an `if`, a print, an unsupported
#   library call) it makes a **graph break**: the graph so far is compiled, that piece of
#   Python runs normally, and tracing resumes after it — several graphs per function, where
#   minidl keeps one or none. AOTAutograd then traces the backward ahead of time, and **Inductor**
#   generates the kernels — Triton for GPUs, C++ with OpenMP for CPUs — one per fusion group,
#   from its own loop-level IR, rather than choosing from a few patterns as minidl's
#   `codegen` does. After a recompilation caused by a shape, it marks that dimension dynamic
#   and compiles code that works for any size (symbolic shapes), where minidl specializes
#   every shape.
# - **`jax.jit`** traces too, but with *abstract values*: the function runs once on tracers
#   that carry a shape and a dtype and no numbers, producing a jaxpr that XLA compiles.
#   Because there are no numbers, a Python `if` on a traced value cannot be decided and
#   raises an error (a `ConcretizationTypeError`; you write `lax.cond` instead); a new shape
#   or dtype, or a new value of an argument marked static, means a new trace, exactly like
#   minidl's shape guards. JAX functions are pure: the parameters and the optimizer state go
#   in and come out, so no guard on "the identity of the parameters" is ever needed.
# - **CUDA graphs** are below the framework: the GPU driver records a stream of kernel
#   launches once and replays the whole recording with one launch. The kernels are
#   unchanged — no fusion — and the recording holds raw device addresses, so every replay
#   reads the same input buffers and writes the same output buffers (you copy new data *into*
#   the static inputs); shapes and control flow are frozen, and nothing that synchronizes
#   with the CPU may happen during capture. minidl's unfused replay is closest to this: the
#   recorded calls, in order, without the framework around them. PyTorch's
#   `torch.compile(mode="reduce-overhead")` is Inductor's kernels replayed through CUDA graphs.
#
# ## Exercises
#
# **1.** Write the guard key that `shape_key` of section 2 should have been.
# `guard_key(args, model)` returns a hashable value (a tuple) that is equal for two calls
# exactly when a capture made for one may be replayed for the other: the same shape, dtype and
# `requires_grad` of every Tensor in `args`, the same grad mode (`minidl.is_grad_enabled()`),
# and the same train/eval mode of every module in `model` (`model.modules()`, the model
# included) — but new *values* in arrays of the same shapes must give the same key (or every
# call would capture again). Test it with `check("16.1", guard_key)`, then put it in front of
# the toy compiler and see the eval-mode call capture again and agree with eager.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** One tuple per thing a capture depends on. `model.modules()` matters, not only
# `model.training`: `module.eval()` on one Dropout changes that module alone.

# %% tags=["answer", "hide-cell"]
def guard_key(args, model):
    return (minidl.is_grad_enabled(),
            tuple((a.shape, a.dtype, a.requires_grad) for a in args),
            tuple(m.training for m in model.modules()))


check("16.1", guard_key)

minidl.manual_seed(0)
model_drop = nn.MLP(SIZES, dropout=0.5)
guarded = ToyCompiled(lambda xb: model_drop(xb), key=lambda args: guard_key(args, model_drop))
guarded(x)
model_drop.eval()
with minidl.no_grad():
    expected = model_drop(x).numpy()
    got = guarded(x).numpy()  # a new key (eval mode, grad mode off): captured again
model_drop.train()
print(f"{len(guarded.replays)} captures; eval prediction vs eager: {float(np.abs(got - expected).max())}")
claim(len(guarded.replays) == 2 and np.array_equal(got, expected), "with the full key the eval call is right")

# %% [markdown]
# **2.** Predict, then measure, the gain of fusing one more op. Append a third op to the
# chain of section 4 — multiply by a constant, as dropout rescales the values it keeps:
# $h = c\cdot\max(xW^\top + b,\ 0)$ with $c = 1.25$. (a) With the byte count of "The math"
# and this machine's `bandwidth`, predict the unfused three-pass time, the time of a fused
# `bias_relu_scale_` kernel, and their ratio, for the big array of section 4. (b) Write the
# kernel with `@numba.njit` (copy `bias_relu_` and add the multiply) and measure both with
# `minidl.perf.measure`. (c) If the MLP of section 5 had such a rescaling after its ReLU,
# what would fusing it gain in the compiled step at batch 32?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** (a) Three passes move $Q = 8 \cdot 3n$ bytes, the fused loop still $8n$: the
# fused kernel should take about as long as `bias_relu_` (one more multiply per value is
# free when memory-bound), and the ratio should grow from 2 to 3. (b) Below, timed in the
# same rounds as the two-op chain: the ratio grows, usually to less than 3 — no pass runs at
# exactly the bandwidth of `np.negative` that the prediction assumed (compare each measured
# time with its prediction: the model counts bytes only, and each real pass has its own
# speed). (c) Little: at $32 \times 128$ the bytes hardly matter (section 4), so the gain is
# about one NumPy call's fixed cost — printed below as a share of the fused step of
# section 5.


# %% tags=["answer", "hide-cell"]
@numba.njit(cache=False)  # a fresh function: the lesson does not write to your Numba cache
def bias_relu_scale_(h, b, c):
    """h ← c · max(h + b, 0) in place: three elementwise ops, one pass."""
    rows_, cols = h.shape
    for i in range(rows_):
        for j in range(cols):
            v = h[i, j] + b[j]
            h[i, j] = 0 if v < 0 else v * c


scale = np.float32(1.25)
bias_relu_scale_(y_small.copy(), b_small, scale)  # compile it before timing
predicted_3 = roofline_time(3 * n, 8 * 3 * n, peak, bandwidth)
predicted_1 = roofline_time(3 * n, 8 * n, peak, bandwidth)


def unfused_three() -> None:
    np.add(y_big, b_big, out=y_big)
    np.maximum(y_big, 0, out=y_big)
    np.multiply(y_big, scale, out=y_big)


# the two-op chain of section 4 again, interleaved with the three-op one: compared in the same rounds
t = measure({"2 ops, unfused": unfused_chain, "2 ops, fused": lambda: kernels.bias_relu_(y_big, b_big),
             "3 ops, unfused": unfused_three, "3 ops, fused": lambda: bias_relu_scale_(y_big, b_big, scale)},
            number=pick(5, 2), rounds=pick(9, 5), clock=CPU)
np.multiply(y_big, 0, out=y_big)  # the chain grows the values; leave the array tame
gain_two_again = t["2 ops, unfused"].median / t["2 ops, fused"].median
gain_three = t["3 ops, unfused"].median / t["3 ops, fused"].median
print(f"predicted: 3 ops unfused {predicted_3 * 1e3:.2f} ms, fused {predicted_1 * 1e3:.2f} ms, ratio "
      f"{predicted_3 / predicted_1:.1f}× (2 ops: {predicted_unfused / predicted_fused:.1f}×)")
for name, timing in t.items():
    print(f"measured:  {name:15s} {timing.median * 1e3:.2f} ms ± {timing.spread:.0%}")
print(f"fusion gains {gain_three:.1f}× on three ops, {gain_two_again:.1f}× on two")
timing_verdict(gain_three > gain_two_again, "one more op in the chain makes fusion pay more", three=gain_three,
               two=gain_two_again)
print(f"(c) one NumPy call's fixed cost, {numpy_call * 1e6:.1f} µs, is {numpy_call / fused_s:.0%} of the fused "
      "MLP step")

# %% [markdown]
# **3.** Why does minidl guard on the *shape* of every input rather than compiling one
# program that works for any batch size? Name two things in the recording of section 1
# that depend on the batch size.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** The recording is straight-line code over arrays of the shapes it saw: the
# mean's $1/B$ is a constant in it (`0.03125` in the fused step's generated code for
# $B = 32$), cross-entropy's target coefficients have $B$ rows, and the planned buffers of
# section 3 have the batch size in their shape. A shape-polymorphic program must carry the
# sizes as variables through all of that (`torch.compile`'s symbolic shapes do, at the price
# of guards on relations between sizes and code that cannot specialize); minidl keeps it
# simple and captures per shape.

# %% tags=["answer", "hide-cell"]
fused_source = fused_step.cache[0].source
print([line.strip() for line in fused_source.splitlines() if "_xent(" in line])
claim(repr(1 / BATCH) in fused_source, "the mean's 1/B is a constant in the fused step's code", batch=BATCH)

# %% [markdown]
# **4.** After `fused_step(x, y)` you keep `g = next(model_fus.parameters()).grad` to plot it
# later, and call `fused_step` again on another batch. What does `g` hold now, and why would
# eager minidl behave differently? Which of the three systems of section 6 has the same
# property?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** The second step's gradient: with `fuse=True` the gradient is written into a
# planned buffer that the Tensor in `.grad` wraps, and the next call writes into the same
# buffer (section 3). Eager's `zero_grad()` sets `.grad` to None and the backward makes a new
# array, so an old reference keeps the old values. CUDA graphs have exactly this property —
# static output addresses — which is why PyTorch tells you to `.clone()` the outputs of a
# graph replay that you want to keep.

# %% tags=["answer", "hide-cell"]
grad_before = next(model_fus.parameters()).grad
kept = grad_before.numpy().copy()
fused_step(minidl.tensor(x.numpy()[::-1].copy()), y)  # another batch, same shapes: a replay
claim(next(model_fus.parameters()).grad is grad_before and not np.array_equal(grad_before.numpy(), kept),
      "with fuse=True the Tensor in .grad is the same buffer, overwritten by the next step")

# %%
results = {
    "traced_steps": len(capture_u.tracer.steps),
    "ops": n_ops,
    "unfused_bit_equal": bit_gap == 0.0,
    "graph_break_raised": broke,
    "captures_after_shape_and_eval": len(compiled_g.cache),
    "cache_limit_captures": len(compiled_c.cache),
    "shape_key_eval_gap": round(eval_gap, 4),
    "stale_attribute_gap": round(stale_gap, 4),
    "global_guarded": global_gap == 0.0 and len(compiled_soft.cache) == 2,
    "buffers": len(plan_d.buffers),
    "values_planned": values_planned,
    "peak_gflops": round(peak / 1e9, 1),
    "bandwidth_gbs": round(bandwidth / 1e9, 2),
    "fusion_gain_big": round(fusion_gain, 2),
    "fusion_gain_three_ops": round(gain_three, 2),
    "eager_us": round(eager_s * 1e6, 1),
    "unfused_us": round(unfused_s * 1e6, 1),
    "fused_us": round(fused_s * 1e6, 1),
    "hand_written_us": round(hand_s * 1e6, 1),
    "per_op_overhead_us": round(per_op * 1e6, 2),
    "fused_relative_gap": fused_gap,
    "figures": [str(figure_buffers), str(figure_roofline), str(figure_steps)],
}
print(results)
print(f"lesson 16 took {time.perf_counter() - LESSON_START:.0f} s wall, {time.process_time() - LESSON_CPU:.0f} s CPU")
