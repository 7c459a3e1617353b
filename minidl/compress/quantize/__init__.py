"""Quantization: fewer bits per number, integer arithmetic, half precision.

The pieces, each in its own file:

- ``qparams``     bits → [qmin, qmax]; observed range → scale s and zero point z (PyTorch's formulas)
- ``quantize``    q = clamp(round(x/s) + z, qmin, qmax), x̂ = (q − z)·s, and ``QuantizedTensor``
- ``observers``   MinMax, MovingAverageMinMax, PerChannelMinMax, Histogram (MSE range search)
- ``fake_quant``  ``fake_quantize`` with the straight-through gradient, and the ``FakeQuantize`` module
- ``qat``         ``prepare_qat``: fake quantization inside a model for training
- ``ptq``         ``prepare`` → ``calibrate`` → ``convert``, and ``quantize_dynamic``
- ``qlinear``     integer-only layers: ``QuantizedLinear`` (int8 × int8 → int32 → int8), dynamic int8
- ``qconv``       ``QuantizedConv2d`` (that GEMM on im2col rows padded with z₁), ``QuantizedMaxPool2d``
- ``half``        float16 and bfloat16 (round-to-nearest-even by bit manipulation)
- ``size``        bytes per representation
- ``kmeans``      k-means weight sharing: 2^b shared values chosen by Lloyd, trainable codebook
- ``coding``      Huffman coding of the indices, and the sparse (relative-index) layout

The integer kernels live in :mod:`minidl.kernels.int8`.
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
    unpack_bits,
)
from minidl.compress.quantize.size import model_nbytes, weight_nbytes

# isort: split
# -- issue 19: k-means weight sharing and Huffman coding (Deep Compression) --
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
    "FLOAT32_EPS", "DeQuantStub", "DeQuantize", "DynamicQuantizedLinear", "FakeQuantize", "FakeQuantizeFunction",
    "HalfLinear", "HistogramObserver", "MinMaxObserver", "MovingAverageMinMaxObserver", "ObserverBase",
    "PerChannelMinMaxObserver", "QATConv2d", "QATLinear", "QConfig", "QuantSpec", "QuantStub", "Quantize",
    "QuantizedConv2d", "QuantizedFlatten", "QuantizedLinear", "QuantizedMaxPool2d", "QuantizedTensor",
    "bfloat16_bits_to_float32", "calculate_qparams", "calibrate", "check_qparams", "convert", "dequantize",
    "dequantize_affine", "disable_fake_quant", "disable_observer", "enable_fake_quant", "enable_observer",
    "fake_quant_modules", "fake_quantize", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine",
    "float32_to_bfloat16_bits", "get_default_qat_qconfig", "get_default_qconfig", "integer_conv2d",
    "integer_max_pool2d", "model_nbytes", "pack_bits", "prepare", "prepare_qat", "quant_range", "quantize",
    "quantize_affine", "quantize_dynamic", "quantized_im2col", "round_to_bfloat16", "round_to_float16",
    "round_to_half", "to_half", "unpack_bits", "weight_nbytes",
    # -- issue 19: k-means weight sharing and Huffman coding --
    "Codebook", "CodebookLookup", "HuffmanCode", "codebook_of", "entropy_bits", "huffman_code_lengths",
    "huffman_nbytes", "kmeans_quantize", "share_model_weights", "share_weights", "shared_weight_modules",
    "sparse_stream",
]
