# %% [markdown]
# # Lesson 12 — Data-parallel training on MPI
#
# ## What you will learn
#
# - Why **averaging the ranks' gradients equals the gradient of the big batch** — exactly
#   in exact arithmetic, and only up to rounding in float32, where the order of a sum matters.
# - The **ring all-reduce**, step by step: reduce-scatter then all-gather, $2(P-1)/P$ of the
#   message sent by each rank, whatever $P$ is.
# - The **$\alpha$–$\beta$ cost model** (latency + bytes times time per byte), fitted to *this* machine's
#   measurements, then used to predict 8 … 1024 workers for a ring and a tree — a model,
#   not a measurement.
# - What two processes buy on this machine, measured with `mpiexec`.
# - **Large batches**: gradient noise falls like $1/\sqrt{B}$, the **linear learning-rate scaling
#   rule with warm-up** (Goyal et al. 2017), and **gradient accumulation** as a one-process
#   stand-in for more workers.
# - **Compressing gradients** with lesson 09's int8 quantization and lesson 08's top-k,
#   with **error feedback**, measured for accuracy and bytes.
#
# Run it as a script (`python lessons/12_data_parallel_training.py`) or as a notebook
# (jupytext). It starts `mpiexec -n 2` itself when mpi4py is installed (`pip install
# 'minidl[distributed]'`) and otherwise simulates the ranks in one process.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 12 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02, with MPI installed: this process and the two `mpiexec` ranks it
# starts, which use about 5 s of it; about 7 s without MPI, where the ranks are simulated);
# `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# $P$ ranks each hold $B$ samples of a global batch of $PB$; $\ell_i$ is the loss of sample $i$.
# The loss of a batch is the mean of its samples' losses, so
#
# $$\nabla_\theta \frac{1}{PB} \sum_{i \le PB} \ell_i \;=\; \frac{1}{P} \sum_{r=1}^{P} \nabla_\theta
# \frac{1}{B} \sum_{i \in \text{rank } r} \ell_i$$
#
# — the big batch's gradient is the average of the ranks' gradients. An **all-reduce** sums
# an array over the ranks and gives every rank the result; divide by $P$ and every rank holds
# the same average, takes the same optimizer step, and keeps the same weights
# (`minidl.nn.parallel.DistributedDataParallel`). The **ring** all-reduce
# (`minidl.distributed.ring`) sends, per rank, for a message of $n$ bytes
#
# $$\frac{2(P-1)}{P}\, n \text{ bytes}$$
#
# (`ring_bytes_per_rank`), and the **$\alpha$–$\beta$ model** (`minidl.distributed.cost_model`) prices one message of
# $n$ bytes at
# $\alpha + n\beta$ ($\alpha$ the latency of a message, $\beta$ the time per byte; here only,
# not the optimizer's decay rates of the notation table):
#
# $$T_{\text{ring}} = 2(P-1)\,\alpha + \frac{2(P-1)}{P}\, n\beta, \qquad
# T_{\text{tree}} = 2\lceil \log_2 P \rceil\,(\alpha + n\beta)$$
#
# The **linear scaling rule** (`minidl.distributed.linear_scaling_lr`):
# $\mathrm{lr}(B) = \mathrm{lr}_{\text{base}} \cdot B / B_{\text{base}}$.
# **Error feedback** (`minidl.distributed.error_feedback_step`), with $\mathcal{C}$ the compressor
# and $e$ the residual a rank keeps: $u = g + e$, send $\mathcal{C}(u)$, keep
# $e \leftarrow u - \mathcal{C}(u)$.

# %%
import time

import numpy as np

import minidl
import minidl.distributed as dist
from minidl import nn, optim
from minidl.compress.prune.selection import unstructured_mask
from minidl.compress.quantize import dequantize_affine, quantize_affine
from minidl.course import claim, fast_mode, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import load_digits
from minidl.ddp.measure import measure
from minidl.threads import lesson_threads

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)
LESSON_START = time.perf_counter()
FONT = 12  # every label of every figure at least this large


def save(fig, name: str) -> str:
    """Save in the course's figure style (150 dpi, shown inline in a notebook): minidl.course.save_figure."""
    return str(save_figure(fig, name))


mpi_ok, mpi_why = dist.mpi_ready()
print("MPI:", "mpiexec found, the multi-process parts run for real" if mpi_ok else f"absent ({mpi_why}); "
      "the multi-process parts are simulated in this process")

# %% [markdown]
# ## 1. Averaging the ranks' gradients is the big batch's gradient
#
# Four simulated ranks each take 64 of 256 digits; compare the mean of their four gradients
# with the gradient of all 256 at once, in float64 and in float32.

# %%
train64 = load_digits("train", dtype="float64")
x_all, y_all = train64[np.arange(256)]


def flat_gradient(model, x, y) -> np.ndarray:
    model.zero_grad()
    nn.functional.cross_entropy(model(minidl.tensor(x)), minidl.tensor(y)).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])


def shard_gap(dtype: str) -> float:
    minidl.manual_seed(0)
    model = nn.MLP([64, 64, 10])
    if dtype == "float64":
        model.double()
    x = x_all.astype(dtype)
    big = flat_gradient(model, x, y_all)
    shards = [flat_gradient(model, x[r * 64:(r + 1) * 64], y_all[r * 64:(r + 1) * 64]) for r in range(4)]
    return float(np.abs(np.mean(shards, axis=0) - big).max() / np.abs(big).max())


gap64, gap32 = shard_gap("float64"), shard_gap("float32")
# the same four float32 numbers summed in two orders
rng = np.random.default_rng(0)
parts = rng.normal(size=(4, 100_000)).astype(np.float32) * np.float32(1e3)
forward_sum = ((parts[0] + parts[1]) + parts[2]) + parts[3]
backward_sum = ((parts[3] + parts[2]) + parts[1]) + parts[0]
order_differs = float(np.mean(forward_sum != backward_sum))
print(f"mean of 4 shard gradients vs the 256-sample gradient, largest difference / largest entry: "
      f"float64 {gap64:.1e}, float32 {gap32:.1e}")
print(f"float32: summing the same 4 arrays forwards and backwards gives different bits in "
      f"{order_differs:.0%} of the entries")
claim(gap64 < 1e-14, "in float64 the average of the ranks' gradients equals the big batch's to rounding",
      gap64=gap64)
claim(1e-9 < gap32 < 1e-5, "in float32 they differ in the last few bits, not more", gap32=gap32)
claim(order_differs > 0.05, "float32 addition is not associative: the summation order changes the bits",
      order_differs=order_differs)

# %% [markdown]
# The equality is exact mathematics; the difference is rounding. Two programs that add the
# same numbers in different orders (one process summing 256 rows, or four ranks summing 64
# each and then an all-reduce adding the four sums) agree only to float32's ~7 digits. That
# is why the tests check DDP against one process in **float64**, to 1e-10, and why a DDP run
# in float32 drifts, harmlessly, away from the one-process run over many steps.
#
# ## 2. The ring all-reduce, step by step
#
# Four ranks, each cutting its array into four chunks. Rank $r$ starts with the value $2^r$ in
# every chunk, so a chunk's value, written in binary, says whose contributions it holds; the
# colour is how many.

# %%
world = 4
start_values = [np.full(world, float(2**r)) for r in range(world)]
reduced, frames = dist.simulate_ring_all_reduce(start_values, record=True)
claim(all(np.array_equal(r, np.full(world, 2.0**world - 1)) for r in reduced),
      "after 2(P−1) steps every rank holds every chunk's full sum")


def contributions(values: np.ndarray) -> np.ndarray:
    return np.array([bin(int(v)).count("1") for v in values])


fig, axes = new_figure(1, len(frames), figsize=(2.1 * len(frames), 3.2))
for ax, (phase, step, arrays) in zip(axes, frames):
    grid = np.stack([contributions(a) for a in arrays])
    ax.imshow(grid, cmap="viridis", vmin=1, vmax=world)
    for r in range(world):
        for c in range(world):
            ax.text(c, r, str(grid[r, c]), ha="center", va="center", fontsize=FONT,
                    color="white" if grid[r, c] < world else "black")
    name = "reduce-scatter" if phase == "reduce_scatter" else "all-gather"
    title = "start" if phase == "start" else f"{name}\nstep {step + 1}"
    ax.set_title(title, fontsize=FONT)
    ax.set_xticks(range(world))
    ax.set_yticks(range(world))
    ax.set_xlabel("chunk", fontsize=FONT)
    ax.tick_params(labelsize=FONT)
axes[0].set_ylabel("rank", fontsize=FONT)
fig.suptitle("Ring all-reduce on 4 ranks: how many ranks' values each chunk holds", fontsize=FONT + 1)
print("saved", save(fig, "12_ring_allreduce_steps"))
for n in (2, 4, 8, 64):
    counter = {}
    dist.simulate_ring_all_reduce([np.zeros(n * 1000, np.float32) for _ in range(n)], counter=counter)
    message = n * 1000 * 4
    print(f"P = {n:3d}: formula 2(P−1)/P = {dist.ring_bytes_per_rank(1.0, n):.3f} × the message; counted "
          f"while simulating: {counter['bytes_sent'] / message:.3f} ×")
    claim(counter["bytes_sent"] == dist.ring_bytes_per_rank(message, n), "each rank sends 2(P−1)/P of the message",
          counted=counter["bytes_sent"], formula=dist.ring_bytes_per_rank(message, n))

# %% [markdown]
# In the first $P-1$ steps (reduce-scatter) each rank passes one chunk to its right neighbour,
# which adds it to its own: a chunk's count grows by one per step, and after $P-1$ steps each
# rank owns one chunk summed over everyone. In the next $P-1$ steps (all-gather) those finished
# chunks travel round the ring and overwrite the partial ones. Every rank sends $2(P-1)$
# chunks of $n/P$ bytes: under $2n$ however many ranks there are, which is why bandwidth does
# not run out as a ring grows.
#
# ## 3. What an all-reduce costs here, and the $\alpha$–$\beta$ model
#
# Now for real (when MPI is there): `mpiexec -n 2` times MPI's `Allreduce` and our ring
# for messages of 4 KB to 16 MB, and we fit $\alpha$ and $\beta$ to the ring's times.

# %%
sizes = [4096 * 4**k for k in range(pick(7, 4))]
if mpi_ok:
    timing = measure(2, "allreduce", ["--sizes", *map(str, sizes), "--rounds", str(pick(5, 2))])
    mpi_s, ring_s = timing["mpi_s"], timing["ring_s"]
    source = "measured with mpiexec -n 2 on this machine"
else:  # no MPI: two simulated ranks in this process — memory copies, no messages
    mpi_s = []
    ring_s = []
    for nbytes in sizes:
        arrays = [np.zeros(nbytes // 4, np.float32) for _ in range(2)]
        start = time.perf_counter()
        dist.simulate_ring_all_reduce(arrays)
        ring_s.append(time.perf_counter() - start)
    source = "simulated ranks in one process (no MPI): copies only, no messages"
alpha, beta = dist.fit_alpha_beta(sizes, ring_s, 2)
print(f"{source}")
for i, (nbytes, t) in enumerate(zip(sizes, ring_s)):
    model_s = dist.ring_allreduce_time(nbytes, 2, alpha, beta)
    print(f"  {nbytes / 1024:8.0f} KB: ring {t * 1e6:9.1f} µs   model {model_s * 1e6:9.1f} µs"
          + (f"   MPI {mpi_s[i] * 1e6:9.1f} µs" if mpi_s else ""))
print(f"fitted: α = {alpha * 1e6:.1f} µs per message, 1/β = {1 / beta / 1e9:.2f} GB/s")

fig, (ax_fit, ax_pred) = new_figure(1, 2, figsize=(12, 4.4))
ax_fit.loglog(sizes, ring_s, "o", label="ring, measured")
if mpi_s:
    ax_fit.loglog(sizes, mpi_s, "s", label="MPI Allreduce, measured")
ax_fit.loglog(sizes, [dist.ring_allreduce_time(n, 2, alpha, beta) for n in sizes], "k--",
              label=f"α–β fit: α={alpha * 1e6:.0f} µs, 1/β={1 / beta / 1e9:.1f} GB/s")
ax_fit.set_xlabel("message size (bytes)", fontsize=FONT)
ax_fit.set_ylabel("time per all-reduce (s)", fontsize=FONT)
ax_fit.set_title("2 ranks on this machine", fontsize=FONT)
ax_fit.tick_params(labelsize=FONT)
ax_fit.legend(fontsize=FONT)

workers = [8, 16, 32, 64, 128, 256, 512, 1024]
message = 100 * 2**20  # ~ a 25M-parameter model's float32 gradients
for label, fn, style in (("ring", dist.ring_allreduce_time, "-"), ("tree", dist.tree_allreduce_time, "--")):
    for nbytes, colour in ((message, "C0"), (64 * 1024, "C3")):
        ax_pred.loglog(workers, [fn(nbytes, n, alpha, beta) for n in workers], style, color=colour,
                       label=f"{label}, {nbytes // 2**20} MB" if nbytes >= 2**20 else f"{label}, {nbytes // 1024} KB")
ax_pred.set_xlabel("workers P (count)", fontsize=FONT)
ax_pred.set_ylabel("predicted time per all-reduce (s)", fontsize=FONT)
ax_pred.set_title("MODEL, not a measurement: α, β from the left", fontsize=FONT)
ax_pred.tick_params(labelsize=FONT)
ax_pred.legend(fontsize=FONT)
print("saved", save(fig, "12_alpha_beta_model"))

ring_big = [dist.ring_allreduce_time(message, n, alpha, beta) for n in workers]
tree_big = [dist.tree_allreduce_time(message, n, alpha, beta) for n in workers]
ring_small = dist.ring_allreduce_time(64 * 1024, 1024, alpha, beta)
tree_small = dist.tree_allreduce_time(64 * 1024, 1024, alpha, beta)
print(f"model, 100 MB: ring {ring_big[0]:.3f} s at N=8 and {ring_big[-1]:.3f} s at N=1024; "
      f"tree {tree_big[0]:.3f} s → {tree_big[-1]:.3f} s")
print(f"model, 64 KB on 1024 workers: ring {ring_small * 1e3:.2f} ms, tree {tree_small * 1e3:.2f} ms")
# The ring's time is a latency term 2(P−1)·α plus a bandwidth term 2(P−1)/P·n·β: split it.
bandwidth_8, bandwidth_1024 = (dist.ring_allreduce_time(message, n, 0.0, beta) for n in (8, 1024))
print(f"ring, 100 MB: bandwidth term {bandwidth_8:.3f} s at N=8 → {bandwidth_1024:.3f} s at N=1024 "
      f"({bandwidth_1024 / bandwidth_8:.2f}×); latency term {ring_big[0] - bandwidth_8:.4f} s → "
      f"{ring_big[-1] - bandwidth_1024:.4f} s; the tree's whole time grows {tree_big[-1] / tree_big[0]:.2f}× "
      f"(its ⌈log₂N⌉ goes from 3 to 10)")
claim(bandwidth_1024 / bandwidth_8 < 1.15, "the ring's bandwidth term stays flat as P grows (2(P−1)/P < 2)",
      bandwidth_8=bandwidth_8, bandwidth_1024=bandwidth_1024)


def crossover(nbytes: int, workers: int) -> float:
    """The α/β (in bytes) at which the ring and the tree cost the same for this message: both
    models are linear in (α, β), so each is a·α + b·β and they meet where α/β = (b_tree − b_ring)
    / (a_ring − a_tree). Above it the tree wins, below it the ring."""
    (ring_a, ring_b), (tree_a, tree_b) = ((fn(nbytes, workers, 1.0, 0.0), fn(nbytes, workers, 0.0, 1.0))
                                          for fn in (dist.ring_allreduce_time, dist.tree_allreduce_time))
    return (tree_b - ring_b) / (ring_a - tree_a)


# α/β is the number of bytes whose transfer costs as much as one message's latency.
latency_bytes = alpha / beta if beta > 0 else float("inf")
large_crossover = crossover(message, 1024)
print(f"100 MB on 1024 workers: the ring wins while α/β stays below {large_crossover / 1e3:,.0f} KB; "
      f"here α/β = {latency_bytes / 1e3:,.1f} KB, so the {'ring' if ring_big[-1] < tree_big[-1] else 'tree'} wins")
claim(0.5e6 < large_crossover < 2e6, "the large-message crossover is about a megabyte", large_crossover=large_crossover)
claim((ring_big[-1] < tree_big[-1]) == (latency_bytes < large_crossover),
      "for a large message the ring beats the tree exactly when α/β is below the large-message crossover",
      ring=ring_big[-1], tree=tree_big[-1], large_crossover=large_crossover)
small_crossover = crossover(64 * 1024, 1024)
print(f"α/β = {latency_bytes:,.0f} bytes here; for 64 KB on 1024 workers the tree wins once α/β exceeds "
      f"{small_crossover:,.0f} bytes, so here the {'tree' if tree_small < ring_small else 'ring'} wins")
claim(100 < small_crossover < 1000, "the crossover is a few hundred bytes", crossover=small_crossover)
claim((tree_small < ring_small) == (latency_bytes > small_crossover),
      "the tree wins a small message on many workers exactly when α/β exceeds the crossover",
      ring=ring_small, tree=tree_small, alpha_over_beta=latency_bytes, crossover=small_crossover)
if mpi_ok:  # real messages have a latency: α/β is far above the crossover
    claim(tree_small < ring_small, "with α and β measured through MPI, the tree wins the small message",
          ring=ring_small, tree=tree_small)

# %% [markdown]
# The fitted $\alpha$ and $\beta$ describe two processes on one machine talking through shared memory,
# and a busy machine at that; a cluster's network has a larger $\alpha$ (tens of µs) and a $\beta$ set by
# its links. The shapes, though, are the model's: the ring's bandwidth term stays flat while
# its $2(P-1)$ latencies add up, so for small messages on many workers a tree ($\log_2 P$
# steps) wins, and for large ones the ring — as long as $\alpha/\beta$ stays below the
# large-message crossover printed above (about a megabyte for 100 MB on 1024 workers).
# "Small" is measured against $\alpha/\beta$, the number of bytes whose transfer costs one
# message's latency: the tree wins the 64 KB message on 1024 workers once $\alpha/\beta$
# passes the crossover printed above (a few hundred bytes), which every real network does.
# Simulated ranks in one process (no MPI) exchange no messages, so their $\alpha$ is almost 0 and
# there the ring wins even this case. MPI libraries pick between such algorithms by
# message size; NCCL runs rings and trees on GPUs.
#
# ## 4. Two processes on this machine, measured
#
# The MNIST MLP (784-256-128-10), global batch 256, on random MNIST-shaped data: one
# process with one BLAS thread, then two ranks with one thread each under
# DistributedDataParallel.

# %%
if mpi_ok and not fast_mode():  # fast mode (the tests) skips it: make bench measures it properly
    steps = ["--steps", "30", "--rounds", "3"]
    one = measure(1, "train", ["--sync", "none", *steps], blas_threads=1)
    two = measure(2, "train", ["--sync", "ddp", "--bucket-cap-mb", "0.25", *steps], blas_threads=1)
    speedup = two["samples_per_second"] / one["samples_per_second"]
    print(f"1 process: {one['samples_per_second']:,.0f} samples/s; 2 ranks: {two['samples_per_second']:,.0f} "
          f"samples/s ({speedup:.2f}×), waiting {two['comm_wait_per_step_s'] * 1e3:.2f} ms per step for "
          f"communication out of {two['seconds_per_step'] * 1e3:.1f} ms")
else:
    one = two = {}
    speedup = float("nan")
    print("skipped:", "fast mode" if mpi_ok else "needs mpiexec", "(`make bench` measures it where MPI is installed)")

# %% [markdown]
# At best two ranks double the samples per second: each does half the work, and the
# gradients are small next to the arithmetic that made them. On a
# machine shared with other work the two ranks and the one process fight for the same cores
# and the ratio printed above is what is left: read it as this run's measurement, not as
# the method's limit. `make bench` repeats it with
# more rounds, and with the communication wait of every way of averaging.
#
# ## 5. Large batches: noise, the linear scaling rule, warm-up
#
# Adding workers at a fixed per-worker batch grows the global batch. A mini-batch gradient's
# error falls like $1/\sqrt{B}$ (lesson 03), so a $k$-times larger batch is a less noisy step — but
# there are k times fewer steps per epoch. The linear scaling rule makes each step k times
# longer; warm-up keeps the first, large steps from blowing up.

# %%
train = load_digits("train")
test = load_digits("test")
full_gradient_model = nn.MLP([64, 64, 10])
minidl.manual_seed(0)
g_true = flat_gradient(full_gradient_model, train.features, train.labels)
noise_batches = [8, 32, 128, 512]
noise = []
rng = np.random.default_rng(1)
for b in noise_batches:
    errors = [np.linalg.norm(flat_gradient(full_gradient_model, *train[rng.choice(len(train), b, replace=False)])
                             - g_true) / np.linalg.norm(g_true) for _ in range(pick(20, 6))]
    noise.append(float(np.mean(errors)))
noise_slope = float(np.polyfit(np.log(noise_batches), np.log(noise), 1)[0])
print("relative gradient error by batch size:", {b: round(e, 3) for b, e in zip(noise_batches, noise)},
      f"slope on log-log axes {noise_slope:.2f}")
claim(-0.75 < noise_slope < -0.3, "the gradient's error falls roughly like 1/√B", slope=noise_slope)


def accuracy(model) -> float:
    with minidl.no_grad():
        return float((model(minidl.tensor(test.features)).numpy().argmax(1) == test.labels).mean())


def train_workers(workers: int, per_worker: int, lr: float, epochs: int, warmup_steps: int = 0,
                  compress=None, error_feedback: bool = False, seed: int = 0) -> dict:
    """Data-parallel SGD with `workers` simulated ranks in one process (their gradients averaged).

    `compress(g) -> (what arrives, bytes sent)` is applied to each worker's gradient.
    """
    minidl.manual_seed(seed)
    model = nn.MLP([64, 64, 10])
    params = list(model.parameters())
    opt = optim.SGD(params, lr=lr, momentum=0.9)
    warm = optim.lr_scheduler.LinearLR(opt, start_factor=1 / max(warmup_steps, 1), total_iters=max(warmup_steps, 1)) \
        if warmup_steps else None
    residual = [[np.zeros_like(p.data) for p in params] for _ in range(workers)]
    order_rng = np.random.default_rng(seed)
    sent = 0
    global_batch = workers * per_worker
    steps = 0
    for _ in range(epochs):
        order = order_rng.permutation(len(train))
        for start in range(0, len(order) - global_batch + 1, global_batch):
            summed = [np.zeros_like(p.data) for p in params]
            for w in range(workers):
                idx = order[start + w * per_worker:start + (w + 1) * per_worker]
                flat_gradient(model, *train[idx])
                for i, p in enumerate(params):
                    g = p.grad.data
                    if compress is not None:
                        if error_feedback:
                            (arrived, nbytes), residual[w][i] = _compressed_with_feedback(g, residual[w][i], compress)
                        else:
                            arrived, nbytes = compress(g)
                        g = arrived
                    else:
                        nbytes = g.nbytes
                    summed[i] += g
                    sent += nbytes if w == 0 else 0  # bytes one worker sends
            for p, s in zip(params, summed):
                p.grad = minidl.tensor(s / workers)
            opt.step()
            steps += 1
            if warm is not None and steps <= warmup_steps:
                warm.step()
    return {"accuracy": accuracy(model), "steps": steps, "bytes_per_step": sent / max(steps, 1)}


def _compressed_with_feedback(g, residual, compress):
    box = {}

    def dense(p):
        arrived, box["bytes"] = compress(p)
        return arrived

    arrived, new_residual = dist.error_feedback_step(g, residual, dense)
    return (arrived, box["bytes"]), new_residual


epochs = pick(12, 3)
base_batch, base_lr = 32, 0.02
big_batch = 256
scaled = dist.linear_scaling_lr(base_lr, big_batch, base_batch)
runs = {
    f"batch {base_batch}, lr {base_lr}": train_workers(1, base_batch, base_lr, epochs),
    f"batch {big_batch}, lr {base_lr} (not scaled)": train_workers(8, base_batch, base_lr, epochs),
    f"batch {big_batch}, lr {scaled:g} (scaled)": train_workers(8, base_batch, scaled, epochs),
    f"batch {big_batch}, lr {scaled:g} (scaled + warm-up)": train_workers(8, base_batch, scaled, epochs,
                                                                       warmup_steps=pick(8, 2)),
}
for name, r in runs.items():
    print(f"{name:42s} {r['steps']:4d} steps → test accuracy {r['accuracy']:.1%}")
acc = [r["accuracy"] for r in runs.values()]
print(f"warm-up changed the scaled run's accuracy by {100 * (acc[3] - acc[2]):+.1f} points")
claim(acc[1] < acc[0] - 0.02, "at equal epochs, the big batch with the small batch's lr falls behind",
      small=acc[0], big_unscaled=acc[1])
claim(max(acc[2], acc[3]) - acc[1] > 0.5 * (acc[0] - acc[1]), "scaling the lr with the batch closes most of the gap",
      small=acc[0], unscaled=acc[1], scaled=acc[2], warmed=acc[3])

# %% [markdown]
# With the small batch's learning rate, eight times fewer steps leave the big-batch run
# behind at equal epochs; multiplying the rate by eight (the linear scaling rule) closes
# most of the gap. Goyal et al. trained ResNet-50 with batches of 8192 this way, with a
# 5-epoch warm-up; on a problem this small the warm-up's effect is the one printed above,
# while on deep networks the first large steps are what diverges without it.
#
# ## 6. Gradient accumulation: more workers, in one process
#
# Four micro-batches of 64, each backward adding into `.grad` (loss divided by 4), give the
# gradient of 256 samples — what 4 ranks of 64 give after their all-reduce. It is how one
# GPU imitates a larger cluster's batch, and what `DistributedDataParallel.no_sync()` is for.

# %%
def accumulated_vs_big(steps: int = 3) -> float:
    models = []
    for accumulate in (False, True):
        minidl.manual_seed(0)
        model = nn.MLP([64, 64, 10]).double()
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for s in range(steps):
            x, y = train64[np.arange(s * 256, (s + 1) * 256) % len(train64)]
            opt.zero_grad()
            chunks = 4 if accumulate else 1
            for c in range(chunks):
                part = slice(c * 256 // chunks, (c + 1) * 256 // chunks)
                loss = nn.functional.cross_entropy(model(minidl.tensor(x[part])), minidl.tensor(y[part]))
                (loss / chunks).backward()
            opt.step()
        models.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
    return float(np.abs(models[0] - models[1]).max())


accumulation_gap = accumulated_vs_big()
print(f"3 SGD steps, batch 256 at once vs 4 accumulated micro-batches of 64 (float64): "
      f"weights differ by {accumulation_gap:.1e}")
claim(accumulation_gap < 1e-12, "accumulating micro-batches trains the same weights as the big batch",
      gap=accumulation_gap)

# %% [markdown]
# ## 7. Sending fewer bytes: int8 and top-k with error feedback
#
# Each of 8 simulated workers sends its gradient (a) in float32, (b) as int8 levels with one
# float32 scale per tensor (lesson 09's `quantize_affine`, symmetric), (c) as its top 1 %
# entries by magnitude (lesson 08's `unstructured_mask`) — values and int32 indices — or
# (d) top 1 % with error feedback, so what is not sent now is sent later.

# %%
def int8_compress(g):
    scale = max(float(np.abs(g).max()) / 127.0, 1e-12)
    q = quantize_affine(g, scale, 0, -127, 127)
    return dequantize_affine(q, scale, 0).astype(g.dtype), q.nbytes + 4


def topk_compress(fraction: float):
    def compress(g):
        keep = unstructured_mask(np.abs(g), 1.0 - fraction)
        kept = int(keep.sum())
        return np.where(keep, g, 0).astype(g.dtype), kept * (4 + 4)  # float32 value + int32 index
    return compress


compression_runs = {
    "float32": train_workers(8, base_batch, scaled, epochs),
    "int8": train_workers(8, base_batch, scaled, epochs, compress=int8_compress),
    "top-1% (no feedback)": train_workers(8, base_batch, scaled, epochs, compress=topk_compress(0.01)),
    "top-1% + error feedback": train_workers(8, base_batch, scaled, epochs, compress=topk_compress(0.01),
                                             error_feedback=True),
}
full_bytes = compression_runs["float32"]["bytes_per_step"]
for name, r in compression_runs.items():
    print(f"{name:26s} {r['bytes_per_step'] / 1024:8.1f} KB per worker per step "
          f"({full_bytes / r['bytes_per_step']:5.1f}× fewer) → test accuracy {r['accuracy']:.1%}")
c = {k: v["accuracy"] for k, v in compression_runs.items()}
claim(abs(c["int8"] - c["float32"]) < 0.03, "int8 gradients train as well as float32, at a quarter of the bytes",
      float32=c["float32"], int8=c["int8"])
ratio_topk = full_bytes / compression_runs["top-1% + error feedback"]["bytes_per_step"]
claim(40 < ratio_topk < 60, "top-1 % sends about 1/50 of the bytes", ratio=ratio_topk)
claim(c["top-1% + error feedback"] > c["top-1% (no feedback)"],
      "error feedback recovers what top-k alone loses", feedback=c["top-1% + error feedback"],
      plain=c["top-1% (no feedback)"])

fig, ax = new_figure(figsize=(7, 4.2))
for name, r in compression_runs.items():
    ax.scatter(r["bytes_per_step"] / 1024, r["accuracy"] * 100, s=80, label=name)
ax.set_xscale("log")
ax.set_xlabel("data sent per worker per step (KB, log scale)", fontsize=FONT)
ax.set_ylabel("test accuracy (%)", fontsize=FONT)
ax.set_title(f"8 simulated workers, {epochs} epochs on digits", fontsize=FONT)
ax.tick_params(labelsize=FONT)
ax.legend(fontsize=FONT)
print("saved", save(fig, "12_gradient_compression"))

# %% [markdown]
# int8 costs a quarter of the bytes and nothing measurable in accuracy here: the rounding
# error of each level is far below the gradient's own sampling noise. Top-1 % sends about
# 1/50 of the bytes (each kept entry costs a value and an index); without error feedback
# most of the gradient is simply thrown away every step, and with it the same entries keep
# winning; with error feedback the small entries pile up in the residual until they are
# large enough to be sent, and accuracy climbs back toward the float32 run's (how far, this
# run printed above).
#
# ## Exercises: the articles' `multi_gpu_model` and `MirroredStrategy`
#
# The source articles show:
#
# ```python
# from tensorflow.keras.utils import multi_gpu_model
# mirrored_strategy = tf.distribute.MirroredStrategy(devices=['GPU:0', 'GPU:1'])
# with mirrored_strategy.scope():
#     model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
# ```

# %% [markdown]
# **1.** `model.fit(x, y, batch_size=64)` inside that scope: how many samples does each GPU
# process per step, and what is the effective (global) batch size?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Keras' `batch_size` is the *global* batch under `MirroredStrategy`: 64 samples
# per step, split over the GPUs; the gradients are all-reduced (summed over replicas, the
# loss scaled by the global batch), so the step equals one on 64 samples.

# %% tags=["answer", "hide-cell"]
per_replica = 64 // 2
print(f"1. global batch 64 per step, {per_replica} samples per GPU on 2 GPUs")

# %% [markdown]
# **2.** The import on the first line fails on current TensorFlow. Why, and what replaces it?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `multi_gpu_model` was deprecated in TF 2.2 and removed in TF 2.4;
# `MirroredStrategy` (the second line) is its replacement, so the import is simply deleted.

# %% [markdown]
# **3.** The same script moves from 2 GPUs to 8. What must the learner change so that training
# behaves the same, per the linear scaling rule?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** To keep the work per GPU fixed, `batch_size` grows 4× (64 → 256) and, by the
# linear scaling rule, the learning rate too, with a warm-up (section 5). To keep the same
# training instead, leave `batch_size` at 64: then each GPU gets 8 samples.

# %% tags=["answer", "hide-cell"]
print(f"3. Adam's lr 0.001 at batch 64 → {dist.linear_scaling_lr(0.001, 256, 64):g} at batch 256 "
      "(linear scaling rule), with a warm-up")

# %% [markdown]
# **4.** Write the minidl equivalent that runs under `mpiexec -n 2`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** One process per rank; `DistributedSampler` gives each rank its own share of the
# data, `DistributedDataParallel` averages the gradients, and the per-rank batch is the
# global batch divided by the number of ranks:
#
# ```python
# import minidl.distributed as dist
# from minidl import nn, optim
# from minidl.data import DataLoader, DistributedSampler
# from minidl.train import fit
#
# dist.init_process_group("mpi")
# model = nn.parallel.DistributedDataParallel(nn.MLP([784, 64, 10]))
# optimizer = optim.Adam(model.parameters(), lr=0.001)
# sampler = DistributedSampler(train_set)
# loader = DataLoader(train_set, batch_size=64 // dist.get_world_size(), sampler=sampler)
# fit(model, nn.functional.cross_entropy, optimizer, loader, epochs=5)
# ```

# %% [markdown]
# **5.** Write `ring_bytes(nbytes, world_size)`: how many bytes each rank sends in a ring
# all-reduce of an `nbytes` message over `world_size` ranks (section 2: count the steps and
# the size of a chunk). Test it with `minidl.course.check("12.5", ring_bytes)`. How much does
# one rank send for this lesson's 100 MB gradient on 8 workers, and on 1024?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Each of the $P-1$ reduce-scatter steps and the $P-1$ all-gather steps sends one
# chunk of $n/P$ bytes, so a rank sends $2(P-1)\cdot n/P = \frac{2(P-1)}{P}\,n$ bytes: $n$ on
# 2 ranks, approaching $2n$ — never more — as $P$ grows.

# %% tags=["answer", "hide-cell"]
def ring_bytes(nbytes: float, world_size: int) -> float:
    steps = 2 * (world_size - 1)  # P − 1 reduce-scatter steps, then P − 1 all-gather steps
    return steps * nbytes / world_size  # one chunk of n/N bytes per step


check("12.5", ring_bytes)
for n in (8, 1024):
    print(f"{message / 2**20:.0f} MB on {n} workers: each rank sends {ring_bytes(message, n) / 2**20:.1f} MB")

# %%
seconds = time.perf_counter() - LESSON_START
print(f"lesson 12 ran in {seconds:.0f} s ({'fast' if fast_mode() else 'full'} mode)")
results = {
    "gap_float64": gap64, "gap_float32": gap32, "order_differs": order_differs,
    "ring_all_correct": True, "alpha_s": alpha, "beta_s_per_byte": beta, "mpi_measured": bool(mpi_s),
    "ring_s": ring_s, "mpi_s": mpi_s, "sizes": sizes,
    "speedup_2_ranks": speedup, "noise_slope": noise_slope,
    "lr_scaling_accuracy": {k: v["accuracy"] for k, v in runs.items()},
    "accumulation_gap": accumulation_gap,
    "compression": {k: {"accuracy": v["accuracy"], "bytes_per_step": v["bytes_per_step"]}
                    for k, v in compression_runs.items()},
    "seconds": seconds,
}
