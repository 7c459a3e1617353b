"""Anomaly detection, as ``torch.autograd.detect_anomaly``: find the op whose backward made a NaN.

While it is on, every recorded op keeps the stack of the forward call that made it, and
``backward`` checks every gradient an op returns; the first one holding NaN raises a
``RuntimeError`` naming the op (``DivBackward``) and showing where that op ran in the
forward pass. Both cost time, so it is off by default and meant for debugging.
"""

from __future__ import annotations

from minidl.engine.grad_mode import _ContextDecorator, _State


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return _State.anomaly


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection on or off: a call, or a context manager restoring the previous mode."""

    def __init__(self, mode: bool) -> None:
        self._previous = _State.anomaly
        _State.anomaly = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _State.anomaly = self._previous


class detect_anomaly(_ContextDecorator):  # noqa: N801 - PyTorch's name
    """``with minidl.autograd.detect_anomaly(): loss.backward()`` (also a decorator).

    The forward pass must run inside the block too, so that each op records its stack.
    ``check_nan=False`` turns the mode off here (PyTorch would still record the stacks;
    minidl uses them only for the NaN check).
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)

    def __enter__(self) -> None:
        self._previous = _State.anomaly
        _State.anomaly = self.check_nan

    def __exit__(self, *exc: object) -> None:
        _State.anomaly = self._previous

    def _fresh(self) -> detect_anomaly:
        return detect_anomaly(self.check_nan)
