# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Lesson 09 — Quantization: fewer bits per number
#
# ## What you will learn
#
# - How a real number becomes a small integer and back: the **scale** $S$ and the **zero
#   point** $Z$, drawn on a number line.
# - How the error shrinks with every extra bit (it halves), and where it does not help.
# - How **observers** choose the range, why one outlier can ruin it, and why one range
#   **per output channel** beats one per tensor for weights.
# - How a network can be *trained* through rounding, which has no useful derivative: the
#   **straight-through estimator** (STE) and **quantization-aware training** (QAT).
# - How an int8 model computes with integers only — int8 × int8 products added in int32,
#   then one fixed-point multiplication back to int8 — and that it matches its float
#   simulation to within one step.
# - What float16 and bfloat16 are, and why they need no calibration at all.
# - How a CNN becomes integer-only — convolution as the same integer GEMM on im2col rows,
#   max-pooling on the integers — and why its **padding must be the zero point**, not 0.
#
# Notation: [the course's notation table](../docs/notation.md) — one symbol, one meaning,
# in every lesson.
#
# Time: the full version takes about 7 s on one laptop core (CPU time measured with one
# BLAS thread, 2026-12-02); `MINIDL_FAST=1` runs the quick version, the one the tests run.

# %% [markdown]
# ## The math
#
# An $n_{\text{bits}}$-bit quantizer has $2^{n_{\text{bits}}}$ integer levels $q \in [q_{\min}, q_{\max}]$ (int8:
# $[-128, 127]$, uint8:
# $[0, 255]$). A real $x$ is stored as $q$ and read back as $\hat x$ (`minidl.compress.quantize.quantize_affine`
# and `dequantize_affine`):
#
# $$q = \mathrm{clamp}(\mathrm{round}(x / S) + Z,\ q_{\min},\ q_{\max}),\qquad \hat x = (q - Z)\,S$$
#
# `round` is round-half-to-even, as in PyTorch. $S$ is the step between neighbouring levels;
# $Z$ is the integer that stands for the real 0. From an observed range $[\min, \max]$
# (`calculate_qparams`), after widening it to contain 0 ($\min_- = \min(\min, 0)$,
# $\max_+ = \max(\max, 0)$), so that 0 is always exactly representable:
#
# **affine**:
#
# $$S = \frac{\max_+ - \min_-}{q_{\max} - q_{\min}},\qquad
#   Z = \mathrm{clamp}\big(q_{\min} - \mathrm{round}(\min_- / S),\ q_{\min},\ q_{\max}\big)$$
#
# **symmetric**, with $Z = 0$ when signed and $Z = \lfloor (q_{\min} + q_{\max} + 1)/2 \rfloor$ when unsigned:
#
# $$S = \frac{\max(|\min_-|, \max_+)}{(q_{\max} - q_{\min})/2}$$
#
# so a symmetric uint8 quantizer puts the real 0 on the middle level, $Z = 128$, as PyTorch
# does (the clamp on the affine $Z$ only matters when $S$ is floored at its smallest value).
# For int8 the symmetric divisor is $255/2 = 127.5$, PyTorch's choice. Inside the range the
# error is at most $S/2$; outside it the value is clipped.
#
# Training through `round` uses the **straight-through estimator** (`fake_quantize`):
#
# $$\text{forward: } \hat x = (\mathrm{clamp}(\mathrm{round}(x/S) + Z,\ q_{\min},\ q_{\max}) - Z)\,S$$
#
# $$\text{backward: } \frac{\partial \hat x}{\partial x}
#   := \mathbf{1}[q_{\min} \le \mathrm{round}(x/S) + Z \le q_{\max}]$$
#
# An integer layer (Jacob et al. 2018; `QuantizedLinear`) with input $(S_1, Z_1)$, symmetric
# weights $(S_2, 0)$ and output $(S_3, Z_3)$ computes
#
# $$q_3 = Z_3 + M\Big(\sum_k (q_1 - Z_1)\,q_2 + q_b\Big),\qquad M = \frac{S_1 S_2}{S_3},\qquad
#   q_b = \mathrm{round}\Big(\frac{b}{S_1 S_2}\Big)$$
#
# with the sum in int32 and $M$ applied as an integer multiply and a shift. A convolution
# (`QuantizedConv2d`) is that same layer applied to every receptive field; where a field
# reaches past the image, the float convolution reads 0.0 — so the integer one must read
# the level of 0.0, which is $Z_1$:
#
# $$\text{padding value} = Z_1 \qquad (\text{so that } q_1 - Z_1 = 0 \text{ there})$$

# %%
import copy

import numpy as np

import minidl
from minidl import nn, optim
from minidl.compress import quantize as Q
from minidl.course import claim, new_figure, pick, save_figure
from minidl.course_checks import check
from minidl.data import DataLoader, load_digits
from minidl.kernels import int8 as int8_kernels
from minidl.threads import lesson_threads
from minidl.train import evaluate, fit

lesson_threads()  # one BLAS thread, however the lesson is started (lesson 14 explains why)

EPOCHS = pick(30, 8)
QAT_EPOCHS = pick(5, 2)
host = minidl.backend.to_numpy  # integers live where the model lives (a GPU, maybe): read them on the host

# %% [markdown]
# ## 1. The number line
#
# A 3-bit unsigned quantizer (8 levels) for values in $[-1.2, 3.0]$. Every real number is
# sent to the nearest of the 8 dots; values beyond the last dot are clipped to it.

# %%
spec3 = Q.QuantSpec(bits=3, signed=False)
scale3, zero3 = Q.calculate_qparams(minidl.tensor(-1.2), minidl.tensor(3.0), spec3)
scale3, zero3 = float(scale3), int(zero3)
print(f"3-bit affine for [-1.2, 3.0]: S = {scale3:.4f}, Z = {zero3}  (levels {spec3.qmin}..{spec3.qmax})")
samples = minidl.tensor([-1.6, -0.5, 0.0, 0.33, 1.0, 2.2, 3.5])
q3 = Q.quantize(samples, scale3, zero3, bits=3)
print("x      ", samples.numpy())
print("q      ", host(q3.int_repr()))
print("x̂      ", q3.dequantize().numpy())
assert q3.dequantize().numpy()[2] == 0.0  # 0 is exactly representable

fig, ax = new_figure(figsize=(13, 3.4))
levels = np.arange(spec3.qmin, spec3.qmax + 1)
grid = (levels - zero3) * scale3
ax.axhline(0, color="black", lw=0.8)
ax.plot(grid, np.zeros_like(grid), "o", ms=9, color="tab:blue", label="representable x̂ = (q − Z)·S")
for q, g in zip(levels, grid):
    ax.annotate(f"q={q}", (g, 0), xytext=(0, 9), textcoords="offset points", ha="center", fontsize=12)
x_host, xhat_host = samples.numpy(), q3.dequantize().numpy()
for x, xh in zip(x_host, xhat_host):
    ax.annotate("", xy=(xh, -0.02), xytext=(x, -0.35), arrowprops=dict(arrowstyle="->", color="tab:red"))
ax.plot(x_host, np.full_like(x_host, -0.35), "x", color="tab:red", label="real values x")
ax.axvline(0, color="gray", ls=":")
ax.annotate(f"Z = {zero3} stands for 0.0", (0, 0), xytext=(0.05, -0.6), fontsize=12)
ax.annotate("", xy=(grid[4], 0.35), xytext=(grid[5], 0.35), arrowprops=dict(arrowstyle="<->"))
ax.text((grid[4] + grid[5]) / 2, 0.42, f"S = {scale3:.2f}", ha="center", fontsize=12)
for x in (x_host[0], x_host[-1]):
    ax.text(x, -0.5, "clipped", ha="center", fontsize=12, color="tab:red")
ax.set(ylim=(-0.8, 0.7), yticks=[], xlabel="real value x (no unit)", title="3-bit affine quantization of [−1.2, 3.0]")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=12)
print("saved", save_figure(fig, "09_number_line"))

# %% [markdown]
# ## 2. A model to quantize
#
# The digits MLP of lesson 02 (64 → 128 → 10), trained in float32.

# %%
minidl.manual_seed(0)
train, test = load_digits("train", seed=0), load_digits("test", seed=0)
train_loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
test_loader = DataLoader(test, batch_size=512)
calibration = DataLoader(train, batch_size=256)
model = nn.MLP([64, 128, 10])
fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3), train_loader,
    epochs=EPOCHS, progress=False)
float_accuracy = evaluate(model, test_loader)["accuracy"]
print(f"float32 test accuracy: {float_accuracy:.1%}")

# %% [markdown]
# ## 3. Error against bit width
#
# Quantize the first layer's weights with 2 to 16 bits. Inside the range the error is
# uniform in $[-S/2, S/2]$, so its RMS is $S/\sqrt{12}$ — and $S$ halves with every extra bit.

# %%
weights = model[0].weight
bit_widths = list(range(2, 17))
rms = {"affine": [], "symmetric": []}
for bits in bit_widths:
    for kind in rms:
        spec = Q.QuantSpec(bits, signed=True, symmetric=(kind == "symmetric"))
        back = Q.QuantizedTensor.from_float(weights, spec).dequantize().numpy()
        rms[kind].append(float(np.sqrt(((back - weights.numpy()) ** 2).mean())))
halving = np.array(rms["affine"][1:]) / np.array(rms["affine"][:-1])
print("RMS error ratio per extra bit (affine):", np.round(halving, 3))
error_halves_per_bit = float(np.median(halving))
w_range = float(weights.numpy().max() - weights.numpy().min())

fig, ax = new_figure(figsize=(8, 5))
for kind, values in rms.items():
    ax.semilogy(bit_widths, values, "o-", ms=4, label=kind)
ax.semilogy(bit_widths, [w_range / (2 ** b - 1) / np.sqrt(12) for b in bit_widths], "k:", label="S/√12 (affine)")
ax.set(xlabel="bits per weight", ylabel="RMS error of the weights (log scale)", title="every bit halves the error")
ax.grid(alpha=0.3)
ax.legend(fontsize=12)
print("saved", save_figure(fig, "09_error_vs_bits"))

# %% [markdown]
# ## 4. Observers: who picks the range?
#
# Weights are known in advance; activations are not. An **observer** watches activations
# during a few calibration batches. `MinMaxObserver` keeps the extremes;
# `MovingAverageMinMaxObserver` averages each batch's extremes
# ($x_{\min} \leftarrow x_{\min} + 0.01\,(\min X - x_{\min})$ for a batch $X$);
# `HistogramObserver` keeps a histogram and picks the clipping range that minimizes the
# estimated error: clipping a few outliers buys a smaller $S$ for everybody else.
# At 4 bits that matters: here the hidden activations, after ReLU.

# %%
with minidl.no_grad():
    hidden = model[1](model[0](minidl.Tensor(train.features)))
observers = {"min/max": Q.MinMaxObserver(bits=4, signed=True),
             "moving average": Q.MovingAverageMinMaxObserver(bits=4, signed=True),
             "histogram (MSE)": Q.HistogramObserver(bits=4, signed=True)}
batches = np.array_split(np.arange(len(train)), 8)
for observer in observers.values():
    for rows in batches:
        observer(hidden[minidl.tensor(rows)])
observer_mse = {}
for name, observer in observers.items():
    s, z = observer.calculate_qparams()
    back = Q.quantize(hidden, s, z, bits=4, signed=True).dequantize().numpy()
    observer_mse[name] = float(((back - hidden.numpy()) ** 2).mean())
    print(f"{name:>16}: range up to {(7 - int(z)) * float(s):6.3f}, MSE {observer_mse[name]:.5f}")
ratios, estimated, best_ratio = observers["histogram (MSE)"].search()

fig, (ax_h, ax_e) = new_figure(1, 2, figsize=(14, 5))
ax_h.hist(hidden.numpy().ravel(), bins=80, log=True, color="gray")
for (name, observer), color in zip(observers.items(), ("tab:red", "tab:orange", "tab:green")):
    s, z = observer.calculate_qparams()
    ax_h.axvline((7 - int(z)) * float(s), color=color, label=f"{name}: top level")
ax_h.set(xlabel="hidden activation after ReLU (no unit)", ylabel="count (log scale)",
         title="where each observer puts 4-bit range")
ax_h.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15))  # below: off the histogram
ax_e.plot(ratios, estimated, color="tab:green")
ax_e.axvline(best_ratio, color="tab:green", ls=":")
ax_e.set(xlabel="r (clipping range = r · observed range)", ylabel="estimated MSE (no unit, log scale)",
         yscale="log",
         title="the histogram observer's search")
print("saved", save_figure(fig, "09_observers"))
histogram_beats_minmax = observer_mse["histogram (MSE)"] < observer_mse["min/max"]

# %% [markdown]
# ## 5. Per-channel weights
#
# Each row of a weight matrix feeds one output unit, and rows have very different ranges.
# One scale for the whole matrix must fit the widest row, wasting levels on all the
# narrow ones; one scale per row (`ch_axis=0`) fits each.

# %%
row_ranges = np.abs(weights.numpy()).max(axis=1)
print(f"row ranges of layer 1: from {row_ranges.min():.3f} to {row_ranges.max():.3f}")
weight_mse = {}
for name, axis in (("per-tensor", None), ("per-channel", 0)):
    spec = Q.QuantSpec(4, signed=True, symmetric=True, narrow_range=True, ch_axis=axis)
    back = Q.QuantizedTensor.from_float(weights, spec).dequantize().numpy()
    weight_mse[name] = float(((back - weights.numpy()) ** 2).mean())
    print(f"4-bit {name:>11} weight MSE: {weight_mse[name]:.2e}")
per_channel_wins = weight_mse["per-channel"] < weight_mse["per-tensor"]

# %% [markdown]
# ## 6. The straight-through estimator
#
# Fake quantization rounds in the forward pass. Its true derivative is 0 between steps
# (and undefined on them), which would stop learning. The STE passes the gradient through
# unchanged where the value lands inside $[q_{\min}, q_{\max}]$ and blocks it where it saturates.

# %%
xs = minidl.tensor(np.linspace(-2, 2, 401, dtype=np.float32), requires_grad=True)
ys = Q.fake_quantize(xs, 0.25, 0, -4, 3)  # 3-bit signed, S = 0.25: levels −1.0 … 0.75
ys.sum().backward()
fig, ax = new_figure(figsize=(8, 5))
ax.plot(xs.numpy(), ys.numpy(), label="forward: fake_quantize(x)")
ax.plot(xs.numpy(), xs.grad.numpy(), label="backward: STE gradient")
ax.plot(xs.numpy(), xs.numpy(), ":", color="gray", label="identity")
ax.set(xlabel="input x (no unit)", ylabel="output x̂ / gradient ∂x̂/∂x", ylim=(-1.3, 1.3),
       title="3 bits, S = 0.25: round forward, pass-through backward")
ax.legend(fontsize=12)
print("saved", save_figure(fig, "09_ste"))
inside = xs.grad.numpy() == 1
print(f"gradient passes for x in [{xs.numpy()[inside].min():.3f}, {xs.numpy()[inside].max():.3f}]")

# %% [markdown]
# ## 7. Post-training quantization against quantization-aware training
#
# **PTQ**: `prepare` inserts observers, `calibrate` runs a few batches, `convert` builds the
# integer model. **QAT**: `prepare_qat` inserts fake quantization on weights and
# activations, the model is trained a few more epochs *through* it, then `convert`.
# At 8 bits both are as good as float; as the bits drop, PTQ falls off first.

# %%
def ptq(bits, per_channel=True):
    prepared = Q.prepare(model, Q.get_default_qconfig(bits=bits, per_channel=per_channel))
    Q.calibrate(prepared, calibration, num_batches=4)
    return prepared, Q.convert(prepared)


def qat(bits):
    prepared = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=bits))
    fit(prepared, nn.functional.cross_entropy, optim.Adam(prepared.parameters(), lr=1e-3), train_loader,
        epochs=QAT_EPOCHS, progress=False)
    return prepared, Q.convert(prepared)


sweep_bits = [2, 3, 4, 8] if pick(0, 1) else [2, 3, 4, 5, 6, 8]
sweep = {"PTQ per-tensor": [], "PTQ per-channel": [], "QAT per-channel": []}
for bits in sweep_bits:
    sweep["PTQ per-tensor"].append(evaluate(ptq(bits, per_channel=False)[1], test_loader)["accuracy"])
    sweep["PTQ per-channel"].append(evaluate(ptq(bits)[1], test_loader)["accuracy"])
    sweep["QAT per-channel"].append(evaluate(qat(bits)[1], test_loader)["accuracy"])
    print(f"{bits} bits: " + ", ".join(f"{k} {v[-1]:.1%}" for k, v in sweep.items()))

fig, ax = new_figure(figsize=(8, 5))
for name, values in sweep.items():
    ax.plot(sweep_bits, [100 * v for v in values], "o-", label=name)
ax.axhline(100 * float_accuracy, color="gray", ls=":", label="float32")
ax.set(xlabel="bits (weights and activations)", ylabel="test accuracy (%)", title="digits MLP: PTQ vs QAT")
ax.legend(fontsize=12, loc="lower right")
print("saved", save_figure(fig, "09_ptq_vs_qat"))

int8_accuracy = sweep["PTQ per-channel"][sweep_bits.index(8)]
int8_per_tensor_accuracy = sweep["PTQ per-tensor"][sweep_bits.index(8)]
qat_gain_3bit = sweep["QAT per-channel"][1] - sweep["PTQ per-channel"][1]
at8 = {k: v[sweep_bits.index(8)] for k, v in sweep.items()}
claim(all(abs(a - float_accuracy) < 0.02 for a in at8.values())
      and sweep["PTQ per-channel"][0] < sweep["QAT per-channel"][0],
      "at 8 bits both are as good as float; as the bits drop, PTQ falls off first",
      float_accuracy=float_accuracy, sweep=sweep)

# %% [markdown]
# ## 8. Integer-only arithmetic, by hand
#
# Take the int8 model's first layer and redo its work with plain NumPy integers: the
# int32 accumulator, the folded bias, and the fixed-point multiplier $M = M_0 \cdot 2^{-r}$.
#
# **The folded bias.** The accumulator splits into a product of the raw integers and a term
# that depends on the weights alone:
#
# $$\sum_k (q_1 - Z_1)\,q_2 = \sum_k q_1 q_2 \;-\; Z_1 \sum_k q_2 .$$
#
# $-Z_1\sum_k q_2$ is one integer per output, known as soon as the weights are, so an integer
# kernel adds it to the bias once ($q_b - Z_1 \sum_k q_2$, the *folded bias*) and multiplies
# the raw $q_1$ without subtracting $Z_1$ from every input. Below, both forms.

# %%
prepared8, int8_model = ptq(8)
quantize_in, layer1 = int8_model[0], int8_model[1]
x = minidl.Tensor(test.features[:5])
q_in = quantize_in(x)
q1 = host(q_in.int_repr()).astype(np.int64)
w_q = layer1.weight.numpy().astype(np.int64)
z1 = int(layer1.input_zero_point.data)
acc = (q1 - z1) @ w_q.T  # Σ (q₁ − Z₁) q₂, in integers
s1, s3 = float(layer1.input_scale.data), float(layer1.scale.data)
s2 = layer1.weight_scale.numpy().astype(np.float64)  # one weight scale per output
real_m = s2 * s1 / s3
m0, shift = int8_kernels.quantize_multiplier(real_m)
q_bias = np.rint(model[0].bias.numpy() / (s2 * s1)).astype(np.int64)  # the bias in int32, scale S₁S₂
folded_bias = q_bias - z1 * w_q.sum(axis=1)  # q_b − Z₁ Σₖ q₂: computed once per layer
folded_bias_matches = bool(np.array_equal(q1 @ w_q.T + folded_bias, acc + q_bias))
print(f"Σ q₁q₂ + folded bias == Σ (q₁ − Z₁)q₂ + q_b: {folded_bias_matches} (Z₁ = {z1})")
claim(folded_bias_matches, "the folded bias gives the same accumulator")
by_hand = (acc + q_bias) * m0
by_hand = (by_hand + (1 << (shift - 1))) >> shift  # the multiply-and-shift: round(… · M)
by_hand = np.clip(by_hand + int(layer1.zero_point.data), int(layer1.zero_point.data), 127)  # ReLU: clamp at Z₃
print(f"M for the first three outputs: {real_m[:3]} ≈ M₀·2⁻ʳ with M₀ = {m0[:3]}, r = {shift[:3]}")
integer_layer_matches = bool(np.array_equal(by_hand, host(layer1(q_in).int_repr())))
print("by hand == QuantizedLinear:", integer_layer_matches)

prepared8.apply(Q.enable_fake_quant)
prepared8.apply(Q.disable_observer)
all_x = minidl.Tensor(test.features)
fake_levels = host(Q.ptq.fake_quant_model_output_levels(prepared8, all_x))
out = all_x
for m in list(int8_model)[:-1]:
    out = m(out)
integer_vs_fake_max_step = int(np.abs(host(out.int_repr()).astype(np.int64) - fake_levels).max())
print(f"integer model vs its float simulation: largest difference {integer_vs_fake_max_step} step(s)")
sizes = {"float32": Q.model_nbytes(model), "int8": Q.model_nbytes(int8_model)}
print(f"size: float32 {sizes['float32']} bytes, int8 {sizes['int8']} bytes "
      f"(weights {Q.weight_nbytes(model) / Q.weight_nbytes(int8_model):.2f}× smaller)")

# %% [markdown]
# **The whole model in one call.** Run layer by layer, as above, an integer model pays Python's
# price — a module call, its checks, a new array — around every small product, and at batch 1
# that price is most of the time. `convert` returns a `QuantizedSequential`: when its layers are
# an MLP it runs them as one fused call (`Q.integer_mlp`; at batch 1 a single Numba kernel:
# quantize, each int8 product with its requantization and ReLU clamp, dequantize) on the same
# integers. `benchmarks/bench_quant.py` times the two against float32.

# %%
fused = host(int8_model(all_x).data)
layer_by_layer = host(nn.Sequential.forward(int8_model, all_x).data)
fused_equals_layers = bool(np.array_equal(fused, layer_by_layer))
print(f"{type(int8_model).__name__}: the fused call == the layers one by one, bit for bit: {fused_equals_layers}")
claim(fused_equals_layers, "the fused call computes the same integers as the layers one by one")

# %% [markdown]
# ## 9. float16 and bfloat16
#
# Half-precision floats keep an exponent in every number, so they need no scale, no zero
# point and no calibration: each number is rounded on its own. float16 keeps 10 mantissa
# bits (relative error $\le 2^{-11}$) but overflows above 65504; bfloat16 keeps float32's 8-bit
# exponent (range to $3 \cdot 10^{38}$) and only 7 mantissa bits (relative error $\le 2^{-8}$). minidl makes
# bfloat16 by bit manipulation: keep the top 16 bits of the float32, rounding to nearest even.

# %%
values = np.float32([1e-3, 0.1, 1.0, 3.14159265, 1000.0, 60000.0, 1e6])
fp16 = Q.round_to_float16(minidl.tensor(values)).numpy()
bf16 = Q.round_to_bfloat16(minidl.tensor(values)).numpy()
for v, a, b in zip(values, fp16, bf16):
    print(f"{v:>12.6g}  float16 {a:>12.6g}   bfloat16 {b:>12.6g}")
finite = np.isfinite(fp16)
fp16_max_relative_error = float((np.abs(fp16 - values) / values)[finite].max())
bf16_max_relative_error = float((np.abs(bf16 - values) / values).max())
half_accuracy = {d: evaluate(Q.to_half(model, d), test_loader)["accuracy"] for d in ("float16", "bfloat16")}
print(f"accuracy: float16 {half_accuracy['float16']:.1%}, bfloat16 {half_accuracy['bfloat16']:.1%}")

# %% [markdown]
# ## 10. Quantizing a CNN: what the padding means
#
# The same `prepare` → `calibrate` → `convert` turns the digits CNN (`nn.SmallCNN`, lesson 07) into an
# integer-only model: each Conv2d (with its ReLU) becomes a `QuantizedConv2d`, which runs
# `QuantizedLinear`'s int8 GEMM on the im2col rows of its input, and each MaxPool2d a
# `QuantizedMaxPool2d`, which takes the maximum of the integers ($x = S(q - Z)$ is increasing
# in $q$, so the largest integer is the largest real: no arithmetic, same $S$ and $Z$).
#
# The trap is the padding. The pixels lie in $[0, 1]$, so the input observer gives
# $Z_1 = -128$: the integer $-128$ *means* 0.0. A convolution with padding 1 reads a ring of
# zeros around the image; in integers, that ring must hold $-128$. The integer 0 there would
# mean $(0 - Z_1)\, S_1 = 128\, S_1 \approx 0.5$: a grey frame around every digit. (The folded bias
# $-Z_1 \sum q_2$ of section 8 counts on every position of a receptive field holding some $q_1$ — the
# padding included: with $Z_1$ as the padding value, $q_1 - Z_1 = 0$ there, as it must be.)

# %%
minidl.manual_seed(0)
train_images, test_images = load_digits("train", seed=0, flatten=False), load_digits("test", seed=0, flatten=False)
cnn = nn.SmallCNN()
fit(cnn, nn.functional.cross_entropy, optim.Adam(cnn.parameters(), lr=3e-3),
    DataLoader(train_images, batch_size=32, shuffle=True, seed=0), epochs=pick(15, 6), progress=False)
cnn.eval()
cnn_prepared = Q.calibrate(Q.prepare(cnn), DataLoader(train_images, batch_size=256), num_batches=4)
int8_cnn = Q.convert(cnn_prepared)
print(int8_cnn)
cnn_test_loader = DataLoader(test_images, batch_size=512)
cnn_float_accuracy = evaluate(cnn, cnn_test_loader)["accuracy"]
cnn_int8_accuracy = evaluate(int8_cnn, cnn_test_loader)["accuracy"]
cnn_sizes = {"float32": Q.model_nbytes(cnn), "int8": Q.model_nbytes(int8_cnn)}
print(f"SmallCNN test accuracy: float32 {cnn_float_accuracy:.1%}, int8 {cnn_int8_accuracy:.1%}; "
      f"size {cnn_sizes['float32']} → {cnn_sizes['int8']} bytes")

# %% [markdown]
# Now the first convolution, done right and done wrong. `Q.integer_conv2d` is the integer
# convolution the layer runs, with the padding value as an argument: the layer passes $Z_1$;
# here we also pass 0. Both are compared, output by output, with the float convolution of
# the same (dequantized) image and weights, in units of the output step $S_3$.

# %%
quantize_images, conv1 = int8_cnn[0], int8_cnn[1]
q_images = quantize_images(minidl.Tensor(test_images.features))
z1 = int(q_images.zero_point)
print(f"input: S₁ = {float(q_images.scale):.5f}, Z₁ = {z1}  (the integer that means 0.0)")
with minidl.no_grad():
    reference = nn.functional.relu(nn.functional.conv2d(q_images.dequantize(), conv1.dequantized_weight(),
                                                        cnn[0].bias, padding=1)).numpy()
s3, z3 = float(conv1.scale.data), int(conv1.zero_point.data)
expected_levels = np.clip(reference / s3 + z3, z3, 127)  # the float result on the output's grid, clipped as it must be
window = conv1.window(q_images.shape)
padding_error = {}
for name, pad_value in (("Z₁", z1), ("0", 0)):
    levels = host(Q.integer_conv2d(q_images.int_repr(), conv1.linear, window, pad_value)).astype(np.float64)
    padding_error[name] = np.abs(levels - expected_levels)  # in output steps
    print(f"padding with {name:>2}: largest error {padding_error[name].max():5.1f} steps, "
          f"mean {padding_error[name].mean():.3f}")


def integer_cnn_accuracy(pad_with_zero_point: bool) -> float:
    """Run int8_cnn layer by layer, its convolutions padded with Z₁ or (wrongly) with 0."""
    out = quantize_images(minidl.Tensor(test_images.features))
    for layer in list(int8_cnn)[1:-1]:
        if isinstance(layer, Q.QuantizedConv2d) and not pad_with_zero_point:
            q = Q.integer_conv2d(out.int_repr(), layer.linear, layer.window(out.shape), pad_value=0)
            out = Q.QuantizedTensor(q, layer.scale.data, layer.zero_point.data)
        else:
            out = layer(out)
    predictions = host(out.dequantize().data).argmax(axis=1)
    return float((predictions == host(test_images.labels)).mean())


cnn_zero_padded_accuracy = integer_cnn_accuracy(pad_with_zero_point=False)
assert integer_cnn_accuracy(pad_with_zero_point=True) == cnn_int8_accuracy
print(f"int8 CNN padded with Z₁: {cnn_int8_accuracy:.1%};  padded with the integer 0: {cnn_zero_padded_accuracy:.1%}")
claim(padding_error["Z₁"].max() <= 0.51 and padding_error["0"].max() > 5
      and cnn_zero_padded_accuracy < cnn_int8_accuracy - 0.3,
      "with Z₁ the integer convolution is within half a step of the float one; with 0 the border is off by many "
      "steps and the accuracy collapses", z1_max=float(padding_error["Z₁"].max()),
      zero_max=float(padding_error["0"].max()), accuracy=(cnn_int8_accuracy, cnn_zero_padded_accuracy))

digit = host(q_images.int_repr())[0, 0]
fig, axes = new_figure(1, 4, figsize=(16, 4.6))
for ax, pad_value, title in ((axes[0], z1, f"padded with Z₁ = {z1}"), (axes[1], 0, "padded with the integer 0")):
    padded = np.pad(digit.astype(np.int32), 1, constant_values=pad_value)
    ax.imshow(Q.dequantize_affine(padded, float(q_images.scale), z1), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"what conv 1 reads:\n{title}", fontsize=12)
    ax.axis("off")
top = max(float(e.mean(axis=(0, 1)).max()) for e in padding_error.values())
for ax, name in zip(axes[2:], padding_error):
    image = ax.imshow(padding_error[name].mean(axis=(0, 1)), cmap="magma", vmin=0, vmax=top)
    ax.set_title(f"conv 1, padding {name}:\nmean |error| in steps", fontsize=12)
    ax.axis("off")
fig.colorbar(image, ax=list(axes[2:]), shrink=0.8, label="mean |error| (quantization steps)")
print("saved", save_figure(fig, "09_cnn_padding"))

# %% [markdown]
# With $Z_1$ the integer convolution is within half an output step of the float one everywhere
# (its own rounding, nothing more);
# with 0, every output whose window touches the border is off by many steps (the interior
# is untouched), and the whole network's accuracy collapses. Only when $Z_1 = 0$ — symmetric
# activations — would the two paddings agree.

# %% [markdown]
# ## Exercises
#
# **1. "$Q(x) = \mathrm{round}(x \cdot Q)$".** A source article presents this as quantization, with the code
# `torch.round(x * Q) / Q` and $Q = 256$. What is missing? Then write the real thing for
# 8 unsigned bits, `quantize_uint8(x, scale, zero_point)` returning the integer levels
# (NumPy in, NumPy out), and test it with `minidl.course_checks.check("09.1", quantize_uint8)`.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It rounds to a grid of step $1/Q$ — so $1/Q$ plays the role of a scale — but it has
# no bit width, no clamp and no zero point, and it returns floats. Nothing gets smaller
# (the result is float32, 4 bytes per number). Whether the integers $\mathrm{round}(256\,x)$ even fit
# int8's $-128 \dots 127$ depends on the weights — they fit only while every weight is below 0.5
# in size; the printout below says how this run's layer came out — and nothing makes sure
# of it: a weight of 0.6 gives 154, and nothing clamps it. And the step is fixed instead of
# fitted to the data: a layer whose weights are all below 1/512 would become all zeros. A
# real quantizer picks $S$ from the range and clamps to $[q_{\min}, q_{\max}]$, as `quantize_affine` does.

# %% tags=["answer", "hide-cell"]
def article_quantize(x, levels):
    return np.round(x.numpy() * levels) / levels  # the article's formula, on the tensor's values


w = model[0].weight
articles = article_quantize(w, 256)
article_ints = np.rint(w.numpy() * 256)
article_saves_no_memory = articles.dtype == np.float32 and articles.nbytes == w.numpy().nbytes
largest_weight = float(np.abs(w.numpy()).max())
print(f"article: dtype {articles.dtype}, {articles.nbytes} bytes (same as float32); "
      f"integers from {article_ints.min():.0f} to {article_ints.max():.0f} (int8 holds −128..127); "
      f"largest |weight| {largest_weight:.3f}")
fits_int8 = -128 <= article_ints.min() and article_ints.max() <= 127
print(f"→ in this run the integers {'happen to fit' if fits_int8 else 'do not fit'} int8: the largest weight is "
      f"{'below' if largest_weight < 0.5 else 'above'} 0.5 in size")
real = Q.QuantizedTensor.from_float(w, Q.QuantSpec(8, signed=True, symmetric=True, ch_axis=0))
print(f"quantize_affine: dtype {real.int_repr().dtype}, {real.nbytes} bytes")
print("0.6 → round(0.6·256) =", int(np.rint(0.6 * 256)), "; a layer of tiny weights:",
      article_quantize(minidl.tensor([0.001, -0.0015]), 256))
assert article_saves_no_memory and real.nbytes < w.numpy().nbytes / 3.5


def quantize_uint8(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.rint(x / scale) + zero_point, 0, 255).astype(np.uint8)  # rint: half to even


check("09.1", quantize_uint8)

# %% [markdown]
# **2. The loop that quantizes nothing.** The same article "quantizes the model" with
#
# ```python
# for param in net.parameters():
#     param = quantize(param, Q)
# ```
#
# Run it and check whether a single weight changed. Why not, and how do you fix it?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `param = …` only rebinds the loop's local name to a new tensor; the model still
# holds the old one, which nobody touched. To change a parameter you must write into it:
# `param.data[...] = …`, or `param.copy_(…)` under `no_grad` (minidl refuses an in-place
# change to a leaf that requires a gradient otherwise).

# %% tags=["answer", "hide-cell"]
snapshot = [p.numpy().copy() for p in model.parameters()]
for param in model.parameters():
    param = article_quantize(param, 256)  # the bug being demonstrated: rebinds the name only
article_loop_changes_nothing = all(np.array_equal(p.numpy(), s) for p, s in zip(model.parameters(), snapshot))
print("after the article's loop, every weight is unchanged:", article_loop_changes_nothing)

model_copy = copy.deepcopy(model)  # the fix, on a copy: later cells still use `model`
with minidl.no_grad():
    for param in model_copy.parameters():
        param.copy_(article_quantize(param, 256))
fixed_loop_changes_weights = not all(np.array_equal(p.numpy(), s) for p, s in zip(model_copy.parameters(), snapshot))
print("with copy_ under no_grad, the weights change:", fixed_loop_changes_weights)
assert article_loop_changes_nothing and fixed_loop_changes_weights

# %% [markdown]
# **3. "Half precision needs the min and max of the parameters".** Another article lists,
# as the steps of float16 conversion, computing the minimum, the maximum and the range.
# Check whether a number's float16 value depends on the other numbers in the tensor.

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** It does not: float16 rounding is elementwise, each number keeps its own
# exponent. (It is int8 quantization that needs a range, because all numbers share one
# scale.) Below, the same value is rounded alone and inside two very different tensors:
# float16 gives the same answer every time, int8 does not.

# %% tags=["answer", "hide-cell"]
value = np.float32(0.123456)
contexts = [np.float32([value]), np.float32([value, 100.0]), np.float32([value, -0.5, 1e-3])]
fp16_of_value = {float(Q.round_to_float16(minidl.tensor(c)).numpy()[0]) for c in contexts}
int8_of_value = {float(Q.QuantizedTensor.from_float(minidl.tensor(c), Q.QuantSpec(8, signed=True))
                       .dequantize().numpy()[0]) for c in contexts}
print("float16 of 0.123456 in three tensors:", fp16_of_value)
print("int8    of 0.123456 in three tensors:", int8_of_value)
fp16_needs_no_range = len(fp16_of_value) == 1 and len(int8_of_value) > 1
assert fp16_needs_no_range

# %% [markdown]
# **4. An API that does not exist.** A source article quantizes a Keras model with
# `tf.quantization.quantize_model(model, jsštěs=6, weights_bits=8)`. What would you check,
# and what does the same job in minidl?

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** `tf.quantization` holds tensor-level operations (quantize, dequantize, fake
# quantization); it has no `quantize_model`, and `jsštěs` is not an argument of anything.
# Model-level quantization in TensorFlow lives in the separate Model Optimization toolkit
# (`tfmot.quantization.keras.quantize_model(model)`, which prepares QAT and takes no bit
# widths) and in the TFLite converter (post-training). Always check an API against its
# documentation, or simply call it: a name that does not exist fails at once. minidl's
# equivalents are `prepare` → `calibrate` → `convert` (PTQ), `prepare_qat` → train →
# `convert` (QAT) and `quantize_dynamic` — all used above.

# %% tags=["answer", "hide-cell"]
minidl_has_it = all(hasattr(Q, name) for name in ("prepare", "calibrate", "convert", "prepare_qat",
                                                  "quantize_dynamic"))
print("minidl's quantization entry points exist:", minidl_has_it, "; quantize_model:", hasattr(Q, "quantize_model"))
assert minidl_has_it and not hasattr(Q, "quantize_model")

# %% [markdown]
# **5. Why does the ReLU disappear from the integer model?** (`convert` fuses it.)

# %% [markdown] tags=["answer", "hide-cell"]
# **Answer.** After the layer, values below 0 would become 0. In integers 0.0 is the level
# $Z_3$, so ReLU is simply "clamp at $Z_3$ instead of $q_{\min}$": one more bound in the clamp the
# requantization does anyway. When the observer sits after the ReLU, $\min_- = 0$ gives
# $Z_3 = q_{\min}$ and the clamp costs nothing at all.

# %% tags=["answer", "hide-cell"]
relu_layer = int8_model[1]
print(f"layer 1: relu={relu_layer.relu}, output zero point {int(relu_layer.zero_point.data)}, "
      f"output range {relu_layer.output_range}")
assert relu_layer.relu and relu_layer.output_range[0] == int(relu_layer.zero_point.data)

# %% [markdown]
# ## Results

# %%
results = {
    "float_accuracy": float_accuracy,
    "int8_per_channel_accuracy": int8_accuracy,
    "int8_per_tensor_accuracy": int8_per_tensor_accuracy,
    "int8_within_half_point": abs(int8_accuracy - float_accuracy) <= 0.005,
    "sweep_bits": sweep_bits,
    "sweep": sweep,
    "qat_gain_3bit": qat_gain_3bit,
    "error_halves_per_bit": error_halves_per_bit,
    "histogram_beats_minmax_4bit": histogram_beats_minmax,
    "per_channel_weight_mse_lower": per_channel_wins,
    "integer_layer_matches": integer_layer_matches,
    "integer_vs_fake_max_step": integer_vs_fake_max_step,
    "sizes_bytes": sizes,
    "fp16_max_relative_error": fp16_max_relative_error,
    "bf16_max_relative_error": bf16_max_relative_error,
    "half_accuracy": half_accuracy,
    "article_saves_no_memory": article_saves_no_memory,
    "article_loop_changes_nothing": article_loop_changes_nothing,
    "fixed_loop_changes_weights": fixed_loop_changes_weights,
    "fp16_needs_no_range": fp16_needs_no_range,
    "cnn_float_accuracy": cnn_float_accuracy,
    "cnn_int8_accuracy": cnn_int8_accuracy,
    "cnn_int8_zero_padded_accuracy": cnn_zero_padded_accuracy,
    "cnn_input_zero_point": z1,
    "cnn_padding_max_error_steps": {name: float(e.max()) for name, e in padding_error.items()},
    "cnn_sizes_bytes": cnn_sizes,
}
for key, value in results.items():
    print(f"{key}: {value}")

# %% [markdown]
# ## Further: k-means weight sharing and Huffman coding
#
# Uniform quantization fixes its $2^{n_{\text{bits}}}$ levels on an even grid. **Weight sharing** (Deep
# Compression, Han et al. 2016) lets the weights choose them: `kmeans_quantize(weight, bits)`
# clusters a matrix into $2^{n_{\text{bits}}}$ shared values (Lloyd's iterations, linear initialization), and
# `share_weights` / `share_model_weights` make the codebook trainable — a centroid's gradient
# is the sum of its cluster's weight gradients. `minidl.compress.quantize.coding` then
# Huffman-codes the indices (a real encoder and decoder). Lesson 15 measures accuracy against
# bits for k-means and uniform per-channel / per-tensor quantization, and the sizes of
# prune → share → Huffman against prune → int8.
