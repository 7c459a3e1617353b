"""Model size in bytes, for every representation: float32, float16/bfloat16, int8, bit-packed 4-bit."""

from __future__ import annotations

import math

from minidl.compress.quantize.qlinear import QuantizedLinear
from minidl.nn.module import Module


def model_nbytes(model: Module, packed: bool = False) -> int:
    """Bytes of everything the model stores (its ``state_dict``: parameters and persistent buffers).

    Integer weights narrower than 8 bits are held one per int8 byte; with ``packed=True`` they
    count ⌈n·bits/8⌉ bytes, what a file packing them (``pack_bits``) takes.
    """
    total = 0
    for _, module in model.named_modules():
        skip = module.__dict__.get("_non_persistent", set())
        for name, t in list(module._parameters.items()) + list(module._buffers.items()):
            if t is None or name in skip:
                continue
            if packed and isinstance(module, QuantizedLinear) and name == "weight" and module.weight_bits < 8:
                total += math.ceil(t.numel() * module.weight_bits / 8)
            else:
                total += int(t.data.nbytes)
    return total


def weight_nbytes(model: Module, packed: bool = False) -> int:
    """Bytes of the weight matrices alone (``weight`` entries, with their per-channel scales when quantized)."""
    total = 0
    for _, module in model.named_modules():
        w = module._parameters.get("weight")
        w = module._buffers.get("weight") if w is None else w
        if w is None:
            continue
        if packed and isinstance(module, QuantizedLinear) and module.weight_bits < 8:
            total += math.ceil(w.numel() * module.weight_bits / 8)
        else:
            total += int(w.data.nbytes)
        scale = module._buffers.get("weight_scale", None)
        if scale is not None:
            total += int(scale.data.nbytes)
    return total
