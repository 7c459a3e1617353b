"""Quantization: fewer bits per number, integer arithmetic, half precision.

Contents, one file per idea, in the order a quantization run meets them (``__all__`` below
has the same groups):

1. **The parameters** (``qparams``): bits → [qmin, qmax], observed range → scale S and zero
   point Z, PyTorch's formulas: ``quant_range``, ``calculate_qparams``, ``check_qparams``,
   ``QuantSpec``, ``FLOAT32_EPS``.
2. **The formula** (``quantize``): q = clamp(round(x/S) + Z, qmin, qmax), x̂ = (q − Z)·S:
   ``quantize_affine``, ``dequantize_affine``, ``quantize_int8`` (the same, by a one-pass
   kernel), ``quantize``, ``dequantize``, ``QuantizedTensor``, ``pack_bits``, ``unpack_bits``.
3. **Observing ranges** (``observers``): ``ObserverBase``, ``MinMaxObserver``,
   ``MovingAverageMinMaxObserver``, ``PerChannelMinMaxObserver``, ``HistogramObserver``
   (MSE range search).
4. **Fake quantization** (``fake_quant``): ``fake_quantize`` with the straight-through
   gradient, ``fake_quantize_per_tensor_affine``, ``fake_quantize_per_channel_affine``,
   ``FakeQuantizeFunction``, the ``FakeQuantize`` module and its switches
   ``enable_fake_quant``, ``disable_fake_quant``, ``enable_observer``, ``disable_observer``.
5. **Quantization-aware training** (``qat``): ``prepare_qat``, ``QConfig``,
   ``get_default_qconfig``, ``get_default_qat_qconfig``, ``QuantStub``, ``DeQuantStub``,
   ``QATLinear``, ``QATConv2d``, ``fake_quant_modules``.
6. **Post-training quantization** (``ptq``): ``prepare`` → ``calibrate`` → ``convert``, and
   ``quantize_dynamic``.
7. **Integer-only layers** (``qlinear``, ``qconv``, ``qmodel``): ``Quantize``, ``DeQuantize``,
   ``QuantizedLinear`` (int8 × int8 → int32 → int8), ``DynamicQuantizedLinear``,
   ``QuantizedFlatten``, ``QuantizedConv2d`` (that GEMM on im2col rows padded with Z₁),
   ``QuantizedMaxPool2d``, ``integer_conv2d``, ``integer_max_pool2d``, ``quantized_im2col``;
   ``QuantizedSequential`` (what ``convert`` returns: an MLP runs as one fused call,
   ``integer_mlp``, equal bit for bit to its layers one by one, ``integer_mlp_reference``).
8. **Half precision** (``half``): float16 and bfloat16, round-to-nearest-even by bit
   manipulation: ``round_to_half``, ``round_to_float16``, ``round_to_bfloat16``,
   ``float32_to_bfloat16_bits``, ``bfloat16_bits_to_float32``, ``to_half``, ``HalfLinear``.
9. **Size** (``size``): ``weight_nbytes``, ``model_nbytes``.
10. **Weight sharing and coding** (``kmeans``, ``coding``): 2^b shared values chosen by Lloyd
    with a trainable codebook (Deep Compression, Han et al. 2016): ``kmeans_quantize``,
    ``Codebook``, ``CodebookLookup``, ``codebook_of``, ``share_weights``, ``share_model_weights``,
    ``shared_weight_modules``; Huffman coding of the indices and the sparse relative-index layout:
    ``HuffmanCode``, ``huffman_code_lengths``, ``huffman_nbytes``, ``entropy_bits``, ``sparse_stream``.

The integer loops live in :mod:`minidl.kernels.int8`; their formulas are here.
"""

from minidl.compress.quantize.fake_quant import (
    FakeQuantize,
    FakeQuantizeFunction,
    disable_fake_quant,
    disable_observer,
    enable_fake_quant,
    enable_observer,
    fake_quantize,
    fake_quantize_per_channel_affine,
    fake_quantize_per_tensor_affine,
)
from minidl.compress.quantize.half import (
    HalfLinear,
    bfloat16_bits_to_float32,
    float32_to_bfloat16_bits,
    round_to_bfloat16,
    round_to_float16,
    round_to_half,
    to_half,
)
from minidl.compress.quantize.observers import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    ObserverBase,
    PerChannelMinMaxObserver,
)
from minidl.compress.quantize.ptq import calibrate, convert, prepare, quantize_dynamic
from minidl.compress.quantize.qat import (
    DeQuantStub,
    QATConv2d,
    QATLinear,
    QConfig,
    QuantStub,
    fake_quant_modules,
    get_default_qat_qconfig,
    get_default_qconfig,
    prepare_qat,
)
from minidl.compress.quantize.qconv import (
    QuantizedConv2d,
    QuantizedMaxPool2d,
    integer_conv2d,
    integer_max_pool2d,
    quantized_im2col,
)
from minidl.compress.quantize.qlinear import (
    DeQuantize,
    DynamicQuantizedLinear,
    Quantize,
    QuantizedFlatten,
    QuantizedLinear,
)
from minidl.compress.quantize.qmodel import QuantizedSequential, integer_mlp, integer_mlp_reference
from minidl.compress.quantize.qparams import (
    FLOAT32_EPS,
    QuantSpec,
    calculate_qparams,
    check_qparams,
    quant_range,
)
from minidl.compress.quantize.quantize import (
    QuantizedTensor,
    dequantize,
    dequantize_affine,
    pack_bits,
    quantize,
    quantize_affine,
    quantize_int8,
    unpack_bits,
)
from minidl.compress.quantize.size import model_nbytes, weight_nbytes

# isort: split
# 10. k-means weight sharing and Huffman coding (Deep Compression)
from minidl.compress.quantize.coding import (
    HuffmanCode,
    entropy_bits,
    huffman_code_lengths,
    huffman_nbytes,
    sparse_stream,
)
from minidl.compress.quantize.kmeans import (
    Codebook,
    CodebookLookup,
    codebook_of,
    kmeans_quantize,
    share_model_weights,
    share_weights,
    shared_weight_modules,
)

__all__ = [
    # 1. the parameters
    "quant_range", "calculate_qparams", "check_qparams", "QuantSpec", "FLOAT32_EPS",
    # 2. the formula
    "quantize_affine", "dequantize_affine", "quantize_int8", "quantize", "dequantize", "QuantizedTensor",
    "pack_bits", "unpack_bits",
    # 3. observing ranges
    "ObserverBase", "MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
    "HistogramObserver",
    # 4. fake quantization
    "fake_quantize", "fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine",
    "FakeQuantizeFunction", "FakeQuantize", "enable_fake_quant", "disable_fake_quant", "enable_observer",
    "disable_observer",
    # 5. quantization-aware training
    "prepare_qat", "QConfig", "get_default_qconfig", "get_default_qat_qconfig", "QuantStub", "DeQuantStub",
    "QATLinear", "QATConv2d", "fake_quant_modules",
    # 6. post-training quantization
    "prepare", "calibrate", "convert", "quantize_dynamic",
    # 7. integer-only layers
    "Quantize", "DeQuantize", "QuantizedLinear", "DynamicQuantizedLinear", "QuantizedFlatten",
    "QuantizedConv2d", "QuantizedMaxPool2d", "integer_conv2d", "integer_max_pool2d", "quantized_im2col",
    "QuantizedSequential", "integer_mlp", "integer_mlp_reference",
    # 8. half precision
    "round_to_half", "round_to_float16", "round_to_bfloat16", "float32_to_bfloat16_bits",
    "bfloat16_bits_to_float32", "to_half", "HalfLinear",
    # 9. size
    "weight_nbytes", "model_nbytes",
    # 10. weight sharing and coding
    "kmeans_quantize", "Codebook", "CodebookLookup", "codebook_of", "share_weights", "share_model_weights",
    "shared_weight_modules", "HuffmanCode", "huffman_code_lengths", "huffman_nbytes", "entropy_bits",
    "sparse_stream",
]
