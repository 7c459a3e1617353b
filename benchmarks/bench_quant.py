"""int8 inference: the integer products (NumPy int32, the Numba kernel, the float32-exact BLAS
route) against float32 BLAS, whole MLPs (integer-only, dynamic int8) against float32, and the
CNN side: LeNet's second convolution and the digits SmallCNN, integer-only against float32 —
with PyTorch's float, dynamic-int8 Linear and int8 Conv2d as reference columns when torch is installed."""

from __future__ import annotations

import os
import warnings

import numpy as np

from benchmarks.harness import Section, Timing, fmt_time, measure, spread
from minidl.threads import blas_threads

SIZES = [784, 256, 128, 10]


def numba_layer() -> str:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return "default"


def measure_cpu(candidates: dict, *, number: int, rounds: int) -> dict:
    """``harness.measure`` with CPU time (``time.process_time``) instead of wall time: on a shared machine a
    one-thread candidate's CPU time does not count the moments another job held the core."""
    import gc
    import statistics
    import time

    for fn in candidates.values():
        for _ in range(3):
            fn()
    samples: dict = {k: [] for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                for _ in range(number):
                    fn()
                samples[name].append((time.process_time() - start) / number)
            finally:
                gc.enable()
    return {k: Timing(k, statistics.median(v), v) for k, v in samples.items()}


TARGETS = {"vs NumPy int": 20.0, "batch 1": 0.8, "batch 128": 1.1, "weights": 4.0}


def _int8(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


_parallel_gemv = None


def parallel_gemv():
    """An experiment, not a library kernel: the batch-1 int8 product split into two blocks of output
    rows, one per core (``prange``, Numba's threading layer). Checked against the reference before it
    is timed; the notes say whether it pays on this machine."""
    global _parallel_gemv
    if _parallel_gemv is None:
        import numba

        @numba.njit(cache=True, parallel=True)
        def gemv_two_blocks(a, w, out):  # pragma: no cover - compiled by Numba
            n, k = w.shape
            half = (n + 1) // 2
            for block in numba.prange(2):
                for j in range(block * half, min(n, (block + 1) * half)):
                    wj = w[j]
                    acc = np.int32(0)
                    for t in range(k):
                        acc += np.int32(a[t]) * np.int32(wj[t])
                    out[j] = acc
            return out

        _parallel_gemv = gemv_two_blocks
    return _parallel_gemv


def gemm_candidates(m: int, k: int, n: int) -> dict:
    from minidl.kernels import int8 as K

    rng = np.random.default_rng(0)
    a, w = _int8((m, k), rng), _int8((n, k), rng)
    af, wf = a.astype(np.float32), w.astype(np.float32)
    reference = K.int8_matmul_reference(a, w)
    for f in (K.int8_matmul_numba, K.int8_matmul_float32, K.int8_matmul):
        assert np.array_equal(f(a, w), reference), "an int8 path disagrees with the reference"
    candidates = {"float32 BLAS (sgemm/sgemv)": lambda: af @ wf.T,
                  "NumPy int32 matmul (reference)": lambda: K.int8_matmul_reference(a, w),
                  "Numba int8 kernel": lambda: K.int8_matmul_numba(a, w),
                  "int8 via float32 BLAS (exact, casts per call)": lambda: K.int8_matmul_float32(a, w),
                  "minidl int8_matmul (picks per shape)": lambda: K.int8_matmul(a, w)}
    if m == 1:
        gemv, a16, out = parallel_gemv(), a[0].astype(np.int16), np.empty(n, np.int32)
        assert np.array_equal(gemv(a16, w, out), reference[0]), "the two-block GEMV disagrees with the reference"
        candidates[PARALLEL_GEMV] = lambda: gemv(a16, w, out)
    return candidates


PARALLEL_GEMV = "experiment: Numba int8, two blocks on two cores (prange)"


def models():
    """A float MLP with fixed weights, its integer-only and dynamic-int8 versions (calibrated on random data)."""
    import minidl
    from minidl import nn
    from minidl.compress import quantize as Q

    minidl.manual_seed(0)
    model = nn.MLP(SIZES).eval()
    calibration = [minidl.tensor(np.random.default_rng(i).random((128, SIZES[0]), dtype=np.float32))
                   for i in range(4)]
    prepared = Q.calibrate(Q.prepare(model), calibration)
    return model, Q.convert(prepared), Q.quantize_dynamic(model)


def numpy_float_forward(model):
    weights = [m.weight.data for m in model if hasattr(m, "weight")]
    biases = [m.bias.data for m in model if hasattr(m, "bias")]

    def forward(x: np.ndarray) -> np.ndarray:
        for i, (w, b) in enumerate(zip(weights, biases)):
            x = x @ w.T + b
            if i < len(weights) - 1:
                np.maximum(x, 0, out=x)
        return x

    return forward


def torch_models(model):
    try:
        import torch
    except ImportError:
        return None
    layers = []
    for m in model:
        if hasattr(m, "weight"):
            lin = torch.nn.Linear(m.in_features, m.out_features)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(m.weight.data))
                lin.bias.copy_(torch.from_numpy(m.bias.data))
            layers.append(lin)
        else:
            layers.append(torch.nn.ReLU())
    float_model = torch.nn.Sequential(*layers).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        dynamic = torch.ao.quantization.quantize_dynamic(float_model, {torch.nn.Linear}, dtype=torch.qint8)
    return torch, float_model, dynamic


INT8_MODEL = "minidl int8 integer-only (fused)"
WEIGHT_CAST = "(part of int8: casting the int8 weights to float32)"


def mlp_candidates(batch: int, model, int_model, dynamic) -> dict:
    import minidl
    from minidl.kernels import set_numba_enabled

    x = np.random.default_rng(1).random((batch, SIZES[0]), dtype=np.float32)
    xt = minidl.tensor(x)
    floor = numpy_float_forward(model)

    def int8_reference_path():
        set_numba_enabled(False)  # every kernel takes its plain NumPy reference (int32 matmul)
        try:
            return int_model(xt)
        finally:
            set_numba_enabled(True)

    def no_grad(f):
        def run():
            with minidl.no_grad():
                return f()
        return run

    from minidl.compress.quantize.qmodel import integer_mlp, is_fused
    from minidl.kernels.int8 import SMALL_BATCH
    from minidl.nn import Sequential

    def layer_by_layer():  # what convert() gave before the fusion: each module called in turn
        return Sequential.forward(int_model, xt)

    arrays = int_model._plan().arrays()
    with minidl.no_grad():
        assert is_fused(int_model)
        fused = int_model(xt).numpy()
        assert np.array_equal(fused, int8_reference_path().numpy()), "fused int8 disagrees with the reference"
        assert np.array_equal(fused, layer_by_layer().numpy()), "fused int8 disagrees with its layers"
    candidates = {"float32 NumPy (hand-written floor)": lambda: floor(x),
                  "minidl float32 model": no_grad(lambda: model(xt)),
                  INT8_MODEL: no_grad(lambda: int_model(xt)),
                  "the fused call alone (integer_mlp, no Module)": lambda: integer_mlp(x, arrays),
                  "minidl int8, layer by layer (the modules, unfused)": no_grad(layer_by_layer),
                  "minidl int8, NumPy int32 reference path": no_grad(int8_reference_path),
                  "minidl dynamic int8": no_grad(lambda: dynamic(xt))}
    if batch > SMALL_BATCH:
        candidates[WEIGHT_CAST] = lambda: [w.astype(np.float32) for w in arrays.weights]
    t = torch_models(model)
    if t is not None:
        torch, float_model, torch_dynamic = t
        xtorch = torch.from_numpy(x)

        def run(m):
            def call():
                with torch.inference_mode():
                    return m(xtorch)
            return call

        candidates["PyTorch float32"] = run(float_model)
        candidates["PyTorch dynamic int8"] = run(torch_dynamic)
    return candidates


LENET_CONV2 = (32, 64, 3, 26)  # in, out, kernel, input side: LeNet's second convolution on MNIST


def conv_candidates(batch: int) -> dict:
    """LeNet's conv2 (+ ReLU) in float32 and as an integer-only QuantizedConv2d, on ReLU-like inputs."""
    import minidl
    from minidl import nn
    from minidl.compress import quantize as Q
    from minidl.kernels import set_numba_enabled

    c_in, c_out, k, side = LENET_CONV2
    minidl.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, k)
    x = np.maximum(np.random.default_rng(2).normal(size=(batch, c_in, side, side)), 0).astype(np.float32)
    xt = minidl.tensor(x)
    s_in = float(x.max()) / 255
    with minidl.no_grad():
        y = nn.functional.relu(conv(xt)).numpy()
    s_out = float(y.max()) / 255
    spec = Q.QuantSpec(8, signed=True, symmetric=True, narrow_range=True, ch_axis=0)
    qconv = Q.QuantizedConv2d.from_float(conv.weight, conv.bias, spec, s_in, -128, s_out, -128, relu=True)
    qx = Q.quantize(xt, s_in, -128, signed=True)

    def reference_path():
        set_numba_enabled(False)  # im2col's slices, the NumPy int32 matmul and requantization
        try:
            return qconv(qx)
        finally:
            set_numba_enabled(True)

    assert np.array_equal(qconv(qx).int_repr(), reference_path().int_repr()), "int8 conv paths disagree"
    with minidl.no_grad():  # the float conv on the same (dequantized) operands: within a step
        y_grid = nn.functional.relu(nn.functional.conv2d(qx.dequantize(), qconv.dequantized_weight(), conv.bias))
    step_error = np.abs(qconv(qx).dequantize().numpy() - y_grid.numpy()).max() / s_out
    assert step_error <= 1.0, f"the int8 conv is {step_error:.2f} steps from float"

    def no_grad(f):
        def call():
            with minidl.no_grad():
                return f()
        return call

    candidates = {"minidl float32 Conv2d + ReLU": no_grad(lambda: nn.functional.relu(conv(xt))),
                  "minidl int8 QuantizedConv2d (ReLU fused)": lambda: qconv(qx),
                  "minidl int8, NumPy reference path": reference_path}
    try:
        import torch
    except ImportError:
        return candidates
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_float = torch.nn.Conv2d(c_in, c_out, k)
        t_int8 = torch.ao.nn.quantized.Conv2d(c_in, c_out, k)
        with torch.no_grad():
            t_float.weight.copy_(torch.from_numpy(conv.weight.numpy()))
            t_float.bias.copy_(torch.from_numpy(conv.bias.numpy()))
        w_scale = torch.from_numpy(qconv.linear.weight_scale.numpy()).double()
        t_int8.set_weight_bias(torch.quantize_per_channel(t_float.weight.detach(), w_scale,
                                                          torch.zeros(c_out, dtype=torch.long), 0, torch.qint8),
                               t_float.bias.detach())
        t_int8.scale, t_int8.zero_point = s_out, 0
        t_x = torch.from_numpy(x)
        t_qx = torch.quantize_per_tensor(t_x, s_in, 0, torch.quint8)

    def torch_call(f):
        def call():
            with torch.inference_mode():
                return f()
        return call

    candidates["PyTorch float32 Conv2d + ReLU"] = torch_call(lambda: torch.relu(t_float(t_x)))
    candidates["PyTorch int8 Conv2d (quint8 in, " + torch.backends.quantized.engine + ")"] = torch_call(
        lambda: t_int8(t_qx))
    return candidates


def cnn_candidates(batch: int) -> dict:
    """The digits SmallCNN (float32, untrained weights) and its PTQ int8 model, float in and out."""
    import minidl
    from minidl import nn
    from minidl.compress import quantize as Q
    from minidl.data import load_digits

    minidl.manual_seed(0)
    model = nn.SmallCNN().eval()
    images = load_digits("all", flatten=False).features
    calibration = [minidl.Tensor(images[i:i + 256]) for i in range(0, 1024, 256)]
    int_model = Q.convert(Q.calibrate(Q.prepare(model), calibration))
    x = minidl.Tensor(images[:batch])

    def no_grad(m):
        def call():
            with minidl.no_grad():
                return m(x)
        return call

    return {"minidl float32 SmallCNN": no_grad(model), "minidl int8 SmallCNN (integer-only)": no_grad(int_model)}


def run(quick: bool = False) -> Section:
    from minidl.compress import quantize as Q
    from minidl.kernels import int8 as K

    rows: list[list[str]] = []
    ratios: dict[str, dict[str, float]] = {}
    load = os.getloadavg()

    def add(case: str, timings: dict, reference: str) -> None:
        base = timings[reference].median_s
        ratios[case] = {}
        for name, timing in timings.items():
            ratios[case][name] = timing.median_s / base
            rows.append([case, name, fmt_time(timing.median_s), spread(timing), f"{timing.median_s / base:.2f}×"])

    big = 256 if quick else 512
    gemm = gemm_candidates(big, big, big)
    add(f"int8 GEMM {big}³", measure(gemm, number=1, rounds=3 if quick else 7, warmup=1), "float32 BLAS (sgemm/sgemv)")
    gemv = gemm_candidates(1, 784, 256)
    add("int8 GEMV 1×784 · 784×256", measure(gemv, number=50 if quick else 300, rounds=5 if quick else 11),
        "float32 BLAS (sgemm/sgemv)")

    model, int_model, dynamic = models()
    mlp_cases = {}
    for batch, threads in ((1, None), (128, None), (1, 1), (128, 1)):
        cands = mlp_candidates(batch, model, int_model, dynamic)
        slow_ref = cands.pop("minidl int8, NumPy int32 reference path")
        if threads is not None:  # the steadier comparison: BLAS on one core, as minidl's kernels
            cands = {k: v for k, v in cands.items() if not k.startswith(("PyTorch", "minidl dynamic"))}
        number = (50 if quick else 300) if batch == 1 else (3 if quick else 20)
        with blas_threads(threads):
            if threads is None:
                timings = measure(cands, number=number, rounds=5 if quick else 11)
                timings.update(measure({"minidl int8, NumPy int32 reference path": slow_ref},
                                       number=max(1, number // 10), rounds=3 if quick else 5))
            else:  # CPU time: steady under load, and one thread's CPU time is its time on a quiet machine
                timings = measure_cpu(cands, number=number * 2, rounds=5 if quick else 21)
        case = f"MLP {'-'.join(map(str, SIZES))}, batch {batch}" + ("" if threads is None else
                                                                     ", one thread, CPU time")
        add(case, timings, "float32 NumPy (hand-written floor)")
        mlp_cases[batch, threads] = ratios[case]

    conv_ratios = {}
    for batch in (1, 64):
        case = f"LeNet conv2 32→64 3×3 on 26×26, batch {batch}"
        cands = conv_candidates(batch)
        slow_ref = cands.pop("minidl int8, NumPy reference path")
        number = (20 if quick else 100) if batch == 1 else (2 if quick else 5)
        timings = measure(cands, number=number, rounds=3 if quick else 9)
        timings.update(measure({"minidl int8, NumPy reference path": slow_ref}, number=max(1, number // 5),
                               rounds=3 if quick else 5))
        add(case, timings, "minidl float32 Conv2d + ReLU")
        conv_ratios[batch] = ratios[case]
    cnn_ratios = {}
    for batch in (1, 256):
        case = f"digits SmallCNN forward, batch {batch}"
        number = (20 if quick else 200) if batch == 1 else (5 if quick else 20)
        add(case, measure(cnn_candidates(batch), number=number, rounds=3 if quick else 9), "minidl float32 SmallCNN")
        cnn_ratios[batch] = ratios[case]["minidl int8 SmallCNN (integer-only)"]

    gemm_case = f"int8 GEMM {big}³"
    speedup_vs_int = ratios[gemm_case]["NumPy int32 matmul (reference)"] / ratios[gemm_case][
        "minidl int8_matmul (picks per shape)"]
    mlp1, mlp128 = mlp_cases[1, None], mlp_cases[128, None]
    model_speedup = mlp128["minidl int8, NumPy int32 reference path"] / mlp128[INT8_MODEL]
    weights_ratio = Q.weight_nbytes(model) / Q.weight_nbytes(int_model)
    arrays_ratio = Q.weight_nbytes(model) / sum(m.weight.data.nbytes for m in int_model if hasattr(m, "weight"))

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    int8_1, int8_128 = mlp1[INT8_MODEL], mlp128[INT8_MODEL]
    one_1, one_128 = mlp_cases[1, 1], mlp_cases[128, 1]
    gemv_case = ratios["int8 GEMV 1×784 · 784×256"]
    serial, two = gemv_case["Numba int8 kernel"], gemv_case[PARALLEL_GEMV]
    notes = [
        f"int8 vs NumPy's integer matmul (target ≥ {TARGETS['vs NumPy int']:.0f}×): {speedup_vs_int:.0f}× at "
        f"{big}³, {model_speedup:.0f}× for the batch-128 MLP ({verdict(min(speedup_vs_int, model_speedup) >= 20)})",
        f"batch 1, int8 integer-only vs float32 (target ≤ {TARGETS['batch 1']}×): {int8_1:.2f}× the NumPy floor, "
        f"{int8_1 / mlp1['minidl float32 model']:.2f}× minidl's float32 model "
        f"({verdict(int8_1 <= TARGETS['batch 1'])}); with one BLAS thread, in CPU time, {one_1[INT8_MODEL]:.2f}× "
        f"(the fused call alone {one_1['the fused call alone (integer_mlp, no Module)']:.2f}×)",
        f"batch 128, int8 integer-only vs float32 (target ≤ {TARGETS['batch 128']}×): {int8_128:.2f}× the NumPy "
        f"floor, {int8_128 / mlp128['minidl float32 model']:.2f}× minidl's float32 model "
        f"({verdict(int8_128 <= TARGETS['batch 128'])}); with one BLAS thread, in CPU time, "
        f"{one_128[INT8_MODEL]:.2f}×. Beyond the same float32 BLAS products, int8 pays for casting its weights "
        f"({one_128[WEIGHT_CAST]:.3f}× the floor alone, one thread) and for quantizing the input, against the "
        "floor's bias and ReLU passes; those passes are serial while BLAS may use both cores",
        f"the fusion: convert() returns a QuantizedSequential whose MLP is one call (integer_mlp). At batch 1 "
        f"(≤ {K.SMALL_BATCH} rows) that is one Numba kernel — quantize, three int8 GEMVs each followed by its "
        "requantization and ReLU clamp, dequantize, a row's integers never leaving two small buffers; the "
        f"call alone takes {mlp1['the fused call alone (integer_mlp, no Module)']:.2f}× the floor, the model "
        f"{int8_1:.2f}× (the rest is the Module call and its checks), the layers one by one "
        f"{mlp1['minidl int8, layer by layer (the modules, unfused)']:.2f}×. Above {K.SMALL_BATCH} rows the "
        "products are float32 BLAS on the integer levels (exact for K ≤ 1024), and quantization and each "
        "requantization write the next product's float32 operand in one Numba pass; the int8 weights are "
        "cast to float32 per call (a float32 copy kept between calls would go stale when a state_dict is "
        "loaded in place, and would undo the 4× in memory). Both routes equal the unfused NumPy reference "
        "bit for bit (asserted before timing; tests/test_quant_fused.py)",
        f"what decides batch 1: the serial Numba int8 GEMV takes {serial:.2f}× float32 sgemv "
        f"(1×784·784×256 above), so on one core the int8 model cannot undercut the floor by much; splitting it "
        f"in two blocks on the two "
        f"cores (prange, Numba's {numba_layer()} threading layer) took {two:.2f}× sgemv in this run "
        + ("(it pays in this run, but only while the second core is idle: on the shared machine under load "
           "it lost)" if two < serial else
           "(it does not pay here: the second core is shared with other work, and a parallel region has to "
           "wake a thread)")
        + ". So minidl's kernel stays serial: no prange, which also means it never competes with BLAS threads "
        "that minidl.threads limits",
        f"load average (1 min) at the start and end of this run: {load[0]:.1f} and {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores; wall-clock rows are noisy when it is above the core count, the one-thread "
        "CPU-time rows much less so",
        f"weights: the int8 matrices are {arrays_ratio:.2f}× smaller than float32; with a float32 scale per "
        f"output row {weights_ratio:.2f}× (target {TARGETS['weights']:.0f}×)",
        f"int8_matmul paths: the Numba kernel for batches ≤ {K.SMALL_BATCH} rows, float32 BLAS on blocks of K ≤ "
        f"{K.EXACT_FLOAT32_K} (every partial sum < 2^24, so exact) above; both equal the int32 reference bit "
        "for bit (asserted before timing)",
        "the Numba kernels compute one int32 dot product per output over a contiguous weight row; LLVM "
        "turns it into vpmaddwd. An i-k-j loop with an int32 row accumulator measured ~1.1–1.2× slower "
        "here; a computed inner index (b[k, j0 + j]) stops vectorization altogether; in the fused kernel, "
        "storing the int16 levels inside the product's loop stopped it too (they might alias), hence the "
        "int32 buffer of sums",
    ]
    int8_conv = "minidl int8 QuantizedConv2d (ReLU fused)"
    notes.append(
        f"CNN: LeNet's conv2 in int8 takes {conv_ratios[1][int8_conv]:.2f}× the float32 time at batch 1 and "
        f"{conv_ratios[64][int8_conv]:.2f}× at batch 64; the whole digits SmallCNN {cnn_ratios[1]:.2f}× at batch 1, "
        f"{cnn_ratios[256]:.2f}× at batch 256. The conv is QuantizedLinear's GEMM on im2col rows padded with z₁ "
        "(checked equal to the NumPy reference path and within one step of float before timing). With "
        "hundreds of rows per image it always takes the float32-exact BLAS route (K = 288 ≤ 1024), so its "
        "extra cost over float32 is casting the int8 rows to float32 (about a third of the layer at batch 64)")
    torch_int8 = [name for name in conv_ratios[64] if name.startswith("PyTorch int8")]
    if torch_int8:
        torch_conv = {b: conv_ratios[b][torch_int8[0]] / conv_ratios[b]["PyTorch float32 Conv2d + ReLU"]
                      for b in (1, 64)}
        notes.append(f"PyTorch's int8 Conv2d vs its float32 Conv2d + ReLU: {torch_conv[1]:.2f}× at batch 1, "
                     f"{torch_conv[64]:.2f}× at batch 64 (integer SIMD kernels, which NumPy cannot reach)")
    if "PyTorch dynamic int8" in mlp1:
        torch_ratio = mlp1["PyTorch dynamic int8"] / mlp1["PyTorch float32"]
        notes.append(f"PyTorch dynamic int8 vs PyTorch float32: {torch_ratio:.2f}× at batch 1, "
                     f"{mlp128['PyTorch dynamic int8'] / mlp128['PyTorch float32']:.2f}× at batch 128")
    return Section(title="int8 inference (integer-only and dynamic) vs float32",
                   header=["case", "implementation", "median", "spread", "vs float32"], rows=rows, notes=notes)
