"""K-means weight sharing against uniform quantization, and Deep Compression's sizes, for one model.

Two measurements the lessons and the tour print:

- :func:`bits_sweep` — accuracy at b bits per weight for k-means sharing, uniform
  per-channel and uniform per-tensor (symmetric, the int8 recipe of :mod:`.qat` at any b),
  each before and (optionally) after fine-tuning. Only the weights are quantized, so the
  three differ only in *where* the 2^b levels sit. Uniform fine-tuning trains float weights
  through :func:`~minidl.compress.quantize.fake_quantize` (straight-through gradient);
  k-means fine-tuning trains the shared values (the cluster-sum gradient).
- :func:`pipeline_sizes` — bytes of a pruned model stored dense float32, dense int8,
  sparse int8 (the same relative-index layout as Han et al.), sparse k-means indices, and
  sparse k-means + Huffman: which stage of prune → share → Huffman buys what.

Training lives above this package, so the caller passes ``evaluate(model) -> accuracy`` and
``fine_tune(model) -> None``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.compress.prune.masks import get_mask, pruned_parameters, remove
from minidl.compress.quantize.coding import HuffmanCode, fixed_width_sparse_nbytes, huffman_nbytes, sparse_stream
from minidl.compress.quantize.fake_quant import fake_quantize
from minidl.compress.quantize.kmeans import PRUNED, kmeans_quantize, share_model_weights
from minidl.compress.quantize.qparams import QuantSpec, calculate_qparams
from minidl.compress.quantize.quantize import dequantize_affine, quantize_affine
from minidl.nn.module import Module, Parameter

METHODS = ("k-means", "uniform per-channel", "uniform per-tensor")


def _weight_spec(bits: int, per_channel: bool) -> QuantSpec:
    # symmetric and narrow ([-127, 127] at 8 bits): the weights of minidl's int8 layers
    return QuantSpec(bits=bits, signed=True, symmetric=True, narrow_range=True, ch_axis=0 if per_channel else None)


def _qparams(w: Any, spec: QuantSpec) -> tuple[Any, Any]:
    if spec.ch_axis is None:
        return calculate_qparams(w.min(), w.max(), spec)
    axes = tuple(range(1, w.ndim))
    return calculate_qparams(w.min(axis=axes), w.max(axis=axes), spec)


def uniform_weight(weight: Any, bits: int, per_channel: bool) -> Any:
    """(clamp(round(w/S), −q, q))·S with S from the weight's own range (per row, or one for all)."""
    spec = _weight_spec(bits, per_channel)
    s, z = _qparams(weight, spec)
    q = quantize_affine(weight, s, z, spec.qmin, spec.qmax, spec.ch_axis)
    return dequantize_affine(q, s, z, spec.ch_axis).astype(weight.dtype)


class _UniformWeightHook:
    """Forward pre-hook: ``weight = fake_quantize(weight_float)`` with the current range (trainable)."""

    def __init__(self, spec: QuantSpec) -> None:
        self.spec = spec

    def __call__(self, module: Module, args: Any) -> None:
        w = module._parameters["weight_float"]
        s, z = _qparams(w.data, self.spec)
        object.__setattr__(module, "weight", fake_quantize(w, s, z, self.spec.qmin, self.spec.qmax, self.spec.ch_axis))


def _weighted_modules(model: Module) -> list[Module]:
    return [m for m in model.modules() if getattr(m._parameters.get("weight"), "ndim", 0) in (2, 4)]


def quantize_weights_uniform(model: Module, bits: int, per_channel: bool, trainable: bool = False) -> Module:
    """Uniform b-bit weights in place; ``trainable`` keeps float weights behind a fake quantizer (QAT)."""
    for m in _weighted_modules(model):
        w = m._parameters["weight"]
        if not trainable:
            w.data = uniform_weight(w.data, bits, per_channel)
            continue
        del m._parameters["weight"]
        object.__delattr__(m, "weight")
        m._parameters["weight_float"] = Parameter(w.data)
        object.__setattr__(m, "weight_float", m._parameters["weight_float"])
        m.register_forward_pre_hook(_UniformWeightHook(_weight_spec(bits, per_channel)))
    return model


def _bake_masks(model: Module) -> None:
    for module, name in list(pruned_parameters(model)):
        remove(module, name)


@dataclass
class SweepRow:
    """One (method, bits) cell: accuracy before and after fine-tuning (None when not fine-tuned)."""

    method: str
    bits: int
    accuracy: float
    tuned_accuracy: float | None = None


def bits_sweep(model: Module, evaluate: Callable[[Module], float], bits: list[int],
               fine_tune: Callable[[Module], None] | None = None,
               methods: tuple[str, ...] = METHODS) -> list[SweepRow]:
    """Accuracy of ``model`` with its weights at each b in ``bits``, per method (``model`` is not changed)."""
    rows = []
    for b in bits:
        for method in methods:
            if method not in METHODS:
                raise ValueError(f"methods must be among {METHODS} (got {method!r})")
            trial = copy.deepcopy(model)
            _bake_masks(trial)
            if method == "k-means":
                share_model_weights(trial, b)
            else:
                quantize_weights_uniform(trial, b, per_channel=method.endswith("channel"),
                                         trainable=fine_tune is not None)
            row = SweepRow(method, b, evaluate(trial))
            if fine_tune is not None:
                fine_tune(trial)
                row.tuned_accuracy = evaluate(trial)
            rows.append(row)
    return rows


@dataclass
class PipelineSizes:
    """Bytes of a (pruned) model's weight matrices in each representation; biases (float32) in every one."""

    weights: int
    kept: int
    bias_bytes: int
    float32_dense: int
    int8_dense: int
    int8_sparse: int
    kmeans_sparse: int
    kmeans_huffman: int
    bits: int

    def ratio(self, stage: str) -> float:
        """float32 dense bytes / the stage's bytes (the compression ratio)."""
        return self.float32_dense / getattr(self, stage)


def pipeline_sizes(model: Module, bits: int = 5, gap_bits: int = 4) -> PipelineSizes:
    """Sizes of ``model``'s weights (pruned where masked) in each stage's representation.

    int8 stores per-row float32 scales; k-means a float32 codebook per matrix; the sparse
    layouts store a ``gap_bits`` relative index per kept weight (plus fillers), Huffman
    codes both streams for real (:func:`~minidl.compress.quantize.coding.huffman_nbytes`).
    """
    weights = kept = bias = f32 = i8 = i8s = kms = kmh = 0
    for m in model.modules():
        w = m._parameters.get("weight", m._parameters.get("weight_orig"))
        if w is None or w.ndim not in (2, 4):
            continue
        keep = backend.to_numpy(get_mask(m, "weight"))
        values = backend.to_numpy(w.data) * keep
        n, rows = values.size, values.shape[0]
        weights += n
        kept += int(keep.sum())
        b = m._parameters.get("bias", m._parameters.get("bias_orig"))
        bias += 0 if b is None else 4 * b.numel()
        f32 += 4 * n
        i8 += n + 4 * rows
        book = kmeans_quantize(values, bits, mask=keep)
        stream = sparse_stream(book.index, PRUNED, book.k, gap_bits)
        has_fillers = bool((stream.symbols == book.k).any())
        i8s += fixed_width_sparse_nbytes(stream, 8, gap_bits) + 4 * rows  # a filler is q = 0
        kms += fixed_width_sparse_nbytes(stream, bits + has_fillers, gap_bits) + 4 * book.k
        kmh += huffman_nbytes(book.index, book.k, 4, gap_bits).nbytes
    return PipelineSizes(weights, kept, bias, f32 + bias, i8 + bias, i8s + bias, kms + bias, kmh + bias, bits)



def sharing_line(model: Module, evaluate: Callable[[Module], float],
                 bits: tuple[int, ...] = (2, 3)) -> tuple[str, dict]:
    """One line for the tour: k-means weight sharing beside uniform per-channel/per-tensor, no fine-tuning."""
    rows = bits_sweep(model, evaluate, list(bits))
    cells = [f"{b} bits " + ", ".join(f"{r.method} {r.accuracy:.1%}" for r in rows if r.bits == b) for b in bits]
    line = "weights only, no fine-tuning (k-means = Deep Compression's shared values): " + "; ".join(cells)
    return line, {f"{r.method.replace(' ', '_').replace('-', '_')}_{r.bits}bit_accuracy": r.accuracy for r in rows}


def pipeline_line(model: Module, bits: int = 5) -> tuple[str, dict]:
    """One line for the tour: a pruned model's bytes as prune → int8 and as prune → k-means → Huffman."""
    s = pipeline_sizes(model, bits)
    line = (f"stored sparse (Deep Compression's layout): prune → int8 {s.int8_sparse:,} bytes "
            f"({s.ratio('int8_sparse'):.1f}×), prune → {bits}-bit k-means {s.kmeans_sparse:,} "
            f"({s.ratio('kmeans_sparse'):.1f}×), → Huffman {s.kmeans_huffman:,} ({s.ratio('kmeans_huffman'):.1f}×)")
    return line, {"int8_sparse_bytes": s.int8_sparse, "kmeans_sparse_bytes": s.kmeans_sparse,
                  "kmeans_huffman_bytes": s.kmeans_huffman}


def weight_nbytes_at(model: Module, bits: int) -> dict[str, int]:
    """Bytes of ``model``'s weight matrices at b bits per weight (dense, bit-packed), per method.

    - uniform per-tensor: ⌈n·b/8⌉ + one float32 scale per matrix;
    - uniform per-channel: ⌈n·b/8⌉ + one float32 scale per output row;
    - k-means: ⌈n·b/8⌉ + a float32 codebook of 2^b values per matrix;
    - k-means + Huffman: the Huffman-coded index stream (measured) + codebook + code table.
    """
    sizes = dict.fromkeys(("uniform per-tensor", "uniform per-channel", "k-means", "k-means + Huffman"), 0)
    for m in _weighted_modules(model):
        w = backend.to_numpy(m._parameters["weight"].data)
        packed = math.ceil(w.size * bits / 8)
        sizes["uniform per-tensor"] += packed + 4
        sizes["uniform per-channel"] += packed + 4 * w.shape[0]
        book = kmeans_quantize(w, bits)
        sizes["k-means"] += packed + 4 * book.k
        code = HuffmanCode.fit(book.index)
        sizes["k-means + Huffman"] += (math.ceil(code.encode(book.index)[1] / 8) + 4 * book.k
                                       + code.table_nbytes())
    return sizes
