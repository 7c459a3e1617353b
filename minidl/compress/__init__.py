"""Making models smaller and faster: pruning, quantization, knowledge distillation.

Import the part you need: ``minidl.compress.prune``, ``minidl.compress.quantize``,
``minidl.compress.distill``.
"""
