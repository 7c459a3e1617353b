# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 07 — Convolution from scratch: im2col, np.add.at, a Numba kernel, a CNN
#
# ## What you will learn
#
# - what a convolution layer computes, and why its output has the size it has;
# - **im2col**: how a convolution becomes *one* matrix product, drawn as a picture;
# - why the textbook backward pass with `np.add.at` is slow, and two ways to make it fast:
#   whole-array NumPy slices, and a Numba kernel compiled from plain loops;
# - how to profile a training step and see where its time goes;
# - a CNN trained on handwritten digits (MNIST when it is on your machine, else the bundled
#   8×8 digits), and what its first-layer filters look like.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 50 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %%
import inspect
from pathlib import Path

import numpy as np
from matplotlib.patches import Rectangle

import minidl
import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit
from minidl import nn, optim
from minidl.course import fast_mode, new_figure, pick, save_figure, timing_verdict
from minidl.course_checks import check
from minidl.data import DataLoader, DatasetNotAvailableError, load_digits, load_mnist
from minidl.kernels import conv as kernels
from minidl.kernels.window import Window, output_size
from minidl.perf import measure, profile_ops
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit
from minidl.viz import plot_filters

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

minidl.manual_seed(0)
FAST = fast_mode()

# %% [markdown]
# ## The math
#
# A `Conv2d(C, O, k)` layer holds a weight $W$ of shape $(O, C_{\text{in}}, k_h, k_w)$ and a bias $b$
# of shape $(O,)$. For an input $x$ of shape $(B, C_{\text{in}}, H_{\text{in}}, W_{\text{in}})$ — a batch of
# $B$ images with $C_{\text{in}}$ channels, PyTorch's `(N, C, H, W)` — it computes, for every image $n$,
# output channel $o$ and position $(o_y, o_x)$ the output $y[n, o, o_y, o_x]$: the bias $b[o]$ plus
# (this is the formula in `minidl.engine.ops.conv.Conv2d`)
#
# $$\sum_{c, i, j} W[o, c, i, j]\; x[n,\ c,\ o_y s - P + i d,\ o_x s - P + j d]$$
#
# with stride $s$, zero padding $P$ and dilation $d$. (Strictly this is a *cross-correlation*: the
# kernel is not flipped. Every deep-learning library calls it convolution.) The same
# weights slide over every position, which is why a conv layer has so few parameters.
#
# The output size per axis is `minidl.kernels.window.output_size`:
#
# $$H_{\text{out}} = \left\lfloor \frac{H_{\text{in}} + 2P - d\,(k - 1) - 1}{s} \right\rfloor + 1$$

# %%
print("28×28 through LeNet:", output_size(28, 3, 1, 0), "→", output_size(26, 3, 1, 0), "→ pool →",
      output_size(24, 2, 2, 0), "; 64 channels ·", output_size(24, 2, 2, 0), "² =", 64 * 12 * 12, "features")

# %% [markdown]
# ## im2col as a picture
#
# Copy every window of the input into a column of a matrix:
#
# $$\text{cols}[(c, i, j),\ (n, o_y, o_x)] = x[n, c,\; o_y s - P + i d,\; o_x s - P + j d]$$
#
# Then the whole layer is one matrix product, `W.reshape(O, C·kh·kw) @ cols`, whose
# $(O,\ B \cdot H_{\text{out}} \cdot W_{\text{out}})$ result is the output. Matrix products are what BLAS libraries do
# at close
# to the processor's peak speed, so this trade — more memory for a GEMM — is how most
# CPU frameworks run convolutions. Here is a 4×4 image and a 2×2 kernel. minidl's kernels
# describe the sliding window with one small record, `minidl.kernels.window.Window(kh, kw,
# sh, sw, ph, pw, dh, dw, oh, ow)`: kernel size, stride, padding and dilation per axis
# (rows, then columns), and the output size $H_{\text{out}} \times W_{\text{out}}$ they give.

# %%
image = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
win = Window(kh=2, kw=2, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, oh=3, ow=3)  # 2×2 kernel, stride 1: 3×3 windows
cols = kernels.im2col_reference(image, win)
print("cols has shape", cols.shape, "(kh·kw rows, one column per window):")
print(cols.astype(int))

# %%
fig, (ax_img, ax_cols) = new_figure(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 2.2]})
ax_img.imshow(image[0, 0], cmap="Greys", alpha=0.35)
for (r, c), v in np.ndenumerate(image[0, 0]):
    ax_img.text(c, r, int(v), ha="center", va="center")
ax_img.add_patch(Rectangle((0.5, 0.5), 2, 2, fill=False, ec="crimson", lw=2.5))
ax_img.set_title("input 4×4; the window at (oy, ox) = (1, 1)")
ax_cols.imshow(cols, cmap="Greys", alpha=0.35, aspect="auto")
for (r, c), v in np.ndenumerate(cols):
    ax_cols.text(c, r, int(v), ha="center", va="center")
ax_cols.add_patch(Rectangle((3.5, -0.5), 1, 4, fill=False, ec="crimson", lw=2.5))
ax_cols.set(title="cols: each window becomes one column", xlabel="window (oy, ox)",
            ylabel="kernel offset (i, j)", xticks=range(9),
            xticklabels=[f"{i},{j}" for i in range(3) for j in range(3)],
            yticks=range(4), yticklabels=["0,0", "0,1", "1,0", "1,1"])
ax_img.axis("off")
fig.tight_layout()
figure_im2col = save_figure(fig, "07_im2col_picture")

# %% [markdown]
# The product of the flattened kernel with `cols` is the convolution, and it agrees with
# `minidl.nn.functional.conv2d`:

# %%
kernel = np.array([[1.0, 0.0], [0.0, -1.0]], dtype=np.float32)  # x[i, j] − x[i+1, j+1]
by_gemm = (kernel.reshape(1, 4) @ cols).reshape(3, 3)
by_conv2d = F.conv2d(minidl.tensor(image), minidl.tensor(kernel.reshape(1, 1, 2, 2))).numpy()[0, 0]
print(by_gemm)
assert np.array_equal(by_gemm, by_conv2d)

# %% [markdown]
# ## The backward pass, and why `np.add.at` is slow
#
# Write $W_2$ for the kernel flattened to a matrix, `W.reshape(O, C·kh·kw)`, so that the
# forward pass is $Y = W_2\,\text{cols}$, and $g_Y = \partial L/\partial Y$ for the gradient arriving from the
# layer above, arranged like $Y$ as an $(O,\ B \cdot H_{\text{out}} \cdot W_{\text{out}})$ matrix. The gradients are
# two more
# matrix products and the way back from columns to the image:
#
# $$\frac{\partial L}{\partial W_2} = g_Y \cdot \text{cols}^\top, \qquad
#   \frac{\partial L}{\partial x} = \text{col2im}(W_2^\top g_Y), \qquad
#   \frac{\partial L}{\partial b} = \sum_{n, o_y, o_x} g_Y$$
#
# ($\partial L/\partial W$ is $\partial L/\partial W_2$ reshaped back to $(O, C_{\text{in}}, k_h, k_w)$.)
#
# **col2im** adds each column back onto the pixels it was copied from. Where windows
# overlap, a pixel receives several contributions, and they must *add up*. That is exactly
# what makes the obvious NumPy version slow. The textbook writes it as a fancy-index
# scatter, `np.add.at(dx, index, columns)`: correct with repeated indices, but NumPy then
# handles each element on its own, through a general-purpose indexing loop — many times
# slower than arithmetic on whole arrays (measured below).
#
# Two faster ways, both in `minidl.kernels.conv`:
#
# 1. **$k_h k_w$ strided slices** (`col2im_reference`): for each kernel offset $(i, j)$, the
#    columns of that offset form a whole $(B, C_{\text{in}}, H_{\text{out}}, W_{\text{out}})$ block, which lands on a
#    strided
#    slice of the gradient. Inside one slice no pixel repeats, so plain `+=` is right,
#    and there are only $k_h k_w = 9$ of them.
# 2. **a Numba kernel** (`_col2im_loops`): the same loops a C programmer would write,
#    compiled to machine code the first time they run (and cached on disk).
#
# The three side by side:

# %%
print(inspect.getsource(kernels.col2im_naive))
print(inspect.getsource(kernels.col2im_reference))
print(inspect.getsource(kernels._col2im_loops))

# %%
n_images = pick(64, 8)
x_big = np.random.default_rng(0).standard_normal((n_images, 32, 26, 26)).astype(np.float32)
win_big = Window(kh=3, kw=3, sh=1, sw=1, ph=0, pw=0, dh=1, dw=1, oh=24, ow=24)
cols_big = kernels.im2col(x_big, win_big)
assert np.allclose(kernels.col2im_naive(cols_big, x_big.shape, win_big),
                   kernels.col2im.fast(cols_big, x_big.shape, win_big), atol=1e-4)
timings = measure({
    "np.add.at (naive)": lambda: kernels.col2im_naive(cols_big, x_big.shape, win_big),
    "9 slice adds (NumPy)": lambda: kernels.col2im_reference(cols_big, x_big.shape, win_big),
    "Numba loops": lambda: kernels.col2im.fast(cols_big, x_big.shape, win_big),
}, number=pick(3, 2), rounds=pick(7, 4))
for name, t in timings.items():
    print(f"{name:22s} {t.median * 1e3:8.2f} ms ± {t.spread:.0%}")
col2im_speedup = timings["np.add.at (naive)"].median / timings["Numba loops"].median
slices_speedup = timings["np.add.at (naive)"].median / timings["9 slice adds (NumPy)"].median
print(f"np.add.at is {slices_speedup:.0f}× slower than the 9 slice adds and {col2im_speedup:.0f}× slower "
      f"than the Numba loops here")
timing_verdict(slices_speedup > 3 and col2im_speedup > 3,
               "np.add.at is many times slower than arithmetic on whole arrays",
               slices_speedup=slices_speedup, numba_speedup=col2im_speedup)

# %%
fig, ax = new_figure(figsize=(9, 3.6))
names = list(timings)
ax.barh(names, [timings[n].median * 1e3 for n in names], color=["#b04040", "#c09030", "#3070b0"],
        xerr=[[timings[n].median * 1e3 * timings[n].spread for n in names]] * 2, capsize=4)
ax.set_xscale("log")
ax.set(xlabel="time per call (ms, log scale; bars: median, whiskers: spread)", ylabel="implementation",
       title=f"col2im for {n_images}×32×26×26, 3×3 kernel")
ax.invert_yaxis()
fig.tight_layout()
figure_col2im = save_figure(fig, "07_col2im_timings")

# %% [markdown]
# A hidden cost of the fancy-index version hides in its *output*, not its speed: NumPy
# puts the batch axis innermost in memory when you index `x[:, channels, rows, cols]`.
# The array looks like $(B,\ C_{\text{in}} k_h k_w,\ H_{\text{out}} W_{\text{out}})$, but a matrix product over it
# walks memory
# with large strides — slower than on a C-contiguous array, by a factor that depends on
# the BLAS library and the cache sizes (measured below) — and making it contiguous
# afterwards is a transposing copy of its own. minidl's im2col therefore
# writes the columns C-contiguous in the first place.

# %%
ch, rows, cols_idx = kernels._gather_indices(32, win_big)
gathered = x_big[:, ch, rows, cols_idx]
contiguous = np.ascontiguousarray(gathered)
print("shape", gathered.shape, "C-contiguous?", gathered.flags.c_contiguous, "strides", gathered.strides)
weights = np.random.default_rng(1).standard_normal((64, 32 * 9)).astype(np.float32)
t = measure({"matmul on the fancy-index result": lambda: weights @ gathered,
             "matmul on a C-contiguous array": lambda: weights @ contiguous,
             "making it C-contiguous": lambda: np.ascontiguousarray(gathered)},
            number=pick(3, 2), rounds=pick(7, 4))  # ≥ 4 rounds: the spread needs quartiles
for name, timing in t.items():
    print(f"{name:34s} {timing.median * 1e3:7.2f} ms ± {timing.spread:.0%}")
layout_penalty = t["matmul on the fancy-index result"].median / t["matmul on a C-contiguous array"].median
print(f"the strided layout makes the matmul {layout_penalty:.1f}× slower")
timing_verdict(layout_penalty > 1.0, "a matrix product over the fancy-index layout is slower", penalty=layout_penalty)

# %% [markdown]
# ## Profiling a training step: where the time goes
#
# `minidl.perf.profile_ops` runs a step under Python's profiler and adds up the time of
# each op's forward and backward. Here is one SGD step of the network of the source
# articles: conv 3×3, 32 → ReLU → conv 3×3, 64 → ReLU → max-pool 2 → 9216 → 128 → 10. It
# is the CNN of PyTorch's MNIST example (`pytorch/examples`, `mnist/main.py`, without its
# dropout), which tutorials often call "LeNet" and so does minidl (`nn.LeNet`); LeCun's
# LeNet-5 is a different, smaller network (5×5 kernels, average pooling, tanh).

# %%
minidl.manual_seed(0)
image_side = pick(28, 16)  # the quick version uses 16×16 images: same layers, smaller first linear layer
lenet = nn.LeNet(image_size=image_side)
sgd = optim.SGD(lenet.parameters(), lr=0.01)
batch = pick(64, 16)
xb = minidl.randn(batch, 1, image_side, image_side)
yb = minidl.tensor(np.arange(batch) % 10)


def lenet_step() -> None:
    sgd.zero_grad()
    F.cross_entropy(lenet(xb), yb).backward()
    sgd.step()


ops, step_seconds = profile_ops(lenet_step, steps=pick(5, 2))
for o in ops[:8]:
    print(f"{o.op:20s} {o.phase:9s} {o.seconds * 1e3:7.2f} ms  ({o.seconds / step_seconds:5.1%})")
conv_share = sum(o.seconds for o in ops if o.op == "Conv2d") / step_seconds
print(f"one step: {step_seconds * 1e3:.1f} ms (median of {pick(5, 2)} profiled steps), of which the two conv "
      f"layers take {conv_share:.0%}")
timing_verdict(conv_share > 0.5, "the convolutions dominate", conv_share=conv_share)

# %%
fig, ax = new_figure(figsize=(9, 4.4))
top = ops[:8]
ax.barh([f"{o.op} {o.phase}" for o in top], [o.seconds * 1e3 for o in top], color="#3070b0")
ax.invert_yaxis()
ax.set(xlabel="time per step (ms)", ylabel="operation and phase",
       title=f"one training step of PyTorch's MNIST CNN, batch {batch}: {step_seconds * 1e3:.0f} ms")
fig.tight_layout()
figure_profile = save_figure(fig, "07_lenet_step_profile")

# %% [markdown]
# The convolutions dominate, and inside them the three matrix products (forward,
# $\partial L/\partial W$, $\partial L/\partial x$)
# take most of the time; im2col, col2im and the layout changes around them are the rest.
# Lesson 14 goes on from here: which of these parts can still be made faster, and which
# cannot (hint: the matrix products are already BLAS).
#
# ## A CNN learns handwritten digits
#
# With MNIST available (`minidl.data.load_mnist`, reading the original files), the same
# network (`nn.LeNet`) trains on it; otherwise — and in the quick version of this lesson — a small CNN trains
# on the 8×8 digits bundled with minidl. `make mnist-cnn` runs the full MNIST training
# (3 epochs, at least 98.5% test accuracy).

# %%
def load_images():
    """(train, test, name): MNIST if its files can be found (the course's shared folder, your
    ``MINIDL_DATA`` folder or the cache, downloading outside the quick version), else digits."""
    if not FAST:
        shared = Path(minidl.__file__).resolve().parents[2] / "shared" / "data"
        for root in ([shared] if (shared / "mnist").is_dir() else []) + [None]:
            try:
                train_set = load_mnist("train", root=root, flatten=False, download=root is None)
                test_set = load_mnist("test", root=root, flatten=False, download=root is None)
                # a 10 000-image subset keeps this cell to about a minute of one core
                return train_set.subset(slice(0, 10_000)), test_set, "MNIST (10 000 training images)"
            except DatasetNotAvailableError as error:
                print(f"({str(error).splitlines()[0]} Using the bundled 8×8 digits instead.)")
    return load_digits("train", flatten=False), load_digits("test", flatten=False), "digits 8×8"


train_images, test_images, data_name = load_images()
minidl.manual_seed(0)
side = train_images.features.shape[-1]
model = nn.LeNet() if side == 28 else nn.SmallCNN(channels=(8, 16))
epochs = 2 if side == 28 else pick(15, 4)
adam = optim.Adam(model.parameters(), lr=1e-3 if side == 28 else 3e-3)
history = fit(model, F.cross_entropy, adam, DataLoader(train_images, batch_size=64 if side == 28 else 32,
                                                       shuffle=True, seed=0), epochs=epochs,
              progress=not FAST)  # a progress bar: in full mode this cell takes about a minute
test_accuracy = evaluate(model, DataLoader(test_images, batch_size=500))["accuracy"]
print(f"{type(model).__name__} on {data_name}: test accuracy {test_accuracy:.1%} after {epochs} epochs "
      f"({sum(history.seconds):.1f} s)")

# %%
figure_filters = save_figure(plot_filters(model[0].weight, title=f"first-layer filters ({data_name})"),
                             "07_cnn_filters")

# %% [markdown]
# Each small square is one 3×3 filter of the first layer (red: positive weights, blue:
# negative, each on its own color scale). After a short training most of them are still
# rough: a few show a clear bright-to-dark pattern along one direction — an oriented edge
# detector, which responds where the digit's stroke has that orientation — the others
# look like blobs or noise. 3×3 filters are small, and the network has no reason to make
# them look tidy; the clean, Gabor-like edge detectors of textbook pictures come from the
# larger first-layer filters (7×7, 11×11) of networks trained long on natural images.
#
# ## Exercises
#
# **1. The article's shapes.** The source article builds its CNN with `padding=1` and no
# pooling, then flattens with `x.view(-1, 64 * 7 * 7)`. What happens to a batch of 8
# MNIST images?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** With padding 1 the 28×28 size is kept: the features are $64 \cdot 28 \cdot 28 = 50\,176$ per
# image, 16 times $64 \cdot 7 \cdot 7$. `view(-1, 3136)` does not fail — it silently makes 16 "samples"
# out of each image, and the error only shows up later, at the loss, as a batch-size
# mismatch (or worse, never, if the labels are repeated to match). Check it:

# %% tags=["answer", "hide-cell"]
features = nn.Conv2d(32, 64, 3, padding=1)(nn.Conv2d(1, 32, 3, padding=1)(minidl.randn(8, 1, 28, 28)))
print(features.shape, "→ view(-1, 64·7·7) →", features.reshape(-1, 64 * 7 * 7).shape)

# %% [markdown]
# **2. col2im is im2col's transpose.** Show numerically that
# $\langle \mathrm{im2col}(x), c\rangle = \langle x, \mathrm{col2im}(c)\rangle$
# for random $x$ and $c$. Why does this identity make col2im the right backward pass?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** im2col is linear, $\text{cols} = A x$ for some (huge, sparse) matrix $A$; the gradient of
# $L$ with respect to $x$ is $A^\top (\partial L/\partial\,\text{cols})$, and the identity says col2im
# computes $A^\top$.

# %% tags=["answer", "hide-cell"]
rng = np.random.default_rng(2)
x_small = rng.standard_normal((2, 3, 5, 6))
win_small = Window(3, 2, 2, 1, 1, 0, 1, 1, output_size(5, 3, 2, 1), output_size(6, 2, 1, 0))
c_small = rng.standard_normal(kernels.im2col_reference(x_small, win_small).shape)
lhs = (kernels.im2col_reference(x_small, win_small) * c_small).sum()
rhs = (x_small * kernels.col2im_reference(c_small, x_small.shape, win_small)).sum()
print(lhs, rhs)
assert np.isclose(lhs, rhs)

# %% [markdown]
# **3. A 1×1 convolution is a linear layer.** Show that `conv2d` with a (O, C, 1, 1) kernel
# equals applying the (O, C) matrix to the channel vector at every pixel. Write
# `conv1x1(x, weight)` as one matrix product (or `np.einsum`) and test it with
# `minidl.course_checks.check("07.3", conv1x1)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** With $k_h = k_w = 1$ each column of cols is just the $C_{\text{in}}$ channels of one pixel, so
# the layer is the $(O, C_{\text{in}})$ matrix W[:, :, 0, 0] applied to every pixel: a `Linear(C, O)`
# shared over positions.

# %% tags=["answer", "hide-cell"]
x_pix = minidl.randn(2, 3, 4, 4)
w_pix = minidl.randn(5, 3, 1, 1)
by_conv = F.conv2d(x_pix, w_pix).numpy()
by_matmul = np.einsum("oc,nchw->nohw", w_pix.numpy()[:, :, 0, 0], x_pix.numpy())
assert np.allclose(by_conv, by_matmul, atol=1e-5)


def conv1x1(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return np.einsum("oc,nchw->nohw", weight[:, :, 0, 0], x)


check("07.3", conv1x1)

# %% [markdown]
# **4. Max-pool's gradient.** After a 2×2 max-pool, how many input elements of each window
# receive a gradient? What happens with ties?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** Exactly one per window: the maximum (the first one in row-major order when
# several are equal, as in PyTorch). The other three get zero.

# %% tags=["answer", "hide-cell"]
x_pool = minidl.tensor(np.random.default_rng(3).standard_normal((1, 1, 4, 4)).astype(np.float32),
                       requires_grad=True)
F.max_pool2d(x_pool, 2).sum().backward()
print(x_pool.grad.numpy()[0, 0])
assert int((x_pool.grad.numpy() != 0).sum()) == 4

# %%
results = {
    "col2im_numba_vs_naive": round(col2im_speedup, 1),
    "fancy_index_layout_penalty": round(layout_penalty, 2),
    "lenet_step_ms": round(step_seconds * 1e3, 1),
    "conv_share_of_step": round(conv_share, 3),
    "dataset": data_name,
    "test_accuracy": round(test_accuracy, 4),
    "figures": [str(p) for p in (figure_im2col, figure_col2im, figure_profile, figure_filters)],
}
print(results)
