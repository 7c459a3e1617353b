"""Compiling a training step: capture it once, replay it without Python overhead (lesson 16).

``minidl.compile(fn)`` (:func:`~minidl.compiler.api.compile`) is ``torch.compile``'s
idea at teaching scale, in four parts, one file each:

- :mod:`~minidl.compiler.capture` — run the step once eagerly and record every array
  operation (forward, backward, optimizer update) into a straight-line program of slots;
  :mod:`~minidl.compiler.providers` — the few constants Python computes from the data;
- :mod:`~minidl.compiler.replay` — that program as generated Python: the unfused replay,
  bit-equal to eager;
- :mod:`~minidl.compiler.fusion` — the plan: buffers reused by liveness, matrix products
  into them with BLAS, elementwise chains as generated Numba kernels;
- :mod:`~minidl.compiler.api` — guards, the cache of captures, ``explain()``.
"""

from minidl.compiler.api import CompiledFunction, OptimizedModule, compile, config
from minidl.compiler.capture import CaptureError, GraphBreak

__all__ = ["compile", "config", "CompiledFunction", "OptimizedModule", "CaptureError", "GraphBreak"]
