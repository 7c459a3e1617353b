"""``minidl.autograd``: PyTorch's ``torch.autograd`` names for the engine's differentiation tools.

- :func:`backward`, :func:`grad`: reverse-mode differentiation (:mod:`minidl.engine.autograd`);
- :class:`Function`: the base class of every op (:mod:`minidl.engine.function`);
- :class:`detect_anomaly`, :func:`set_detect_anomaly`: find the op whose backward made a NaN;
- :func:`gradcheck`, :func:`gradgradcheck`: central differences against the engine's gradients.
"""

from __future__ import annotations

from minidl.engine.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from minidl.engine.autograd import backward, grad
from minidl.engine.function import Function
from minidl.engine.gradcheck import gradcheck, gradgradcheck

__all__ = ["Function", "backward", "detect_anomaly", "grad", "gradcheck", "gradgradcheck",
           "is_anomaly_enabled", "set_detect_anomaly"]
