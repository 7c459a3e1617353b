"""Switching graph recording on and off: ``no_grad`` and ``enable_grad``."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    # Module-level flags, read on every op: kept in plain attributes for speed.
    enabled = True
    anomaly = False  # minidl.autograd.detect_anomaly: keep forward stacks, check for NaN
    # minidl.compile's tracer while it captures, for the few functions that change arrays in place
    # outside any op (gradient clipping): they hand themselves to it (see recorded_by_compile)
    recorder = None


def recorded_by_compile(fn: F) -> F:
    """Mark a function that changes arrays in place outside any op (``clip_grad_norm_``): while
    ``minidl.compile`` captures, the call is recorded and replayed as it is, not lost."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _State.recorder is not None:
            return _State.recorder(fn, args, kwargs)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def is_grad_enabled() -> bool:
    """True when ops record the graph that ``backward`` walks."""
    return _State.enabled


class _ContextDecorator:
    """A context manager that is also a decorator (``@no_grad()``, as PyTorch's): each call of
    the decorated function runs inside a fresh copy, so nested and recursive calls never share
    the state one copy saved on entering."""

    def _fresh(self) -> Any:
        return self.__class__()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class _GradMode(_ContextDecorator):
    """Context manager and decorator that sets graph recording to ``self.mode``."""

    mode = True

    def __enter__(self) -> None:
        self._previous = _State.enabled
        _State.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _State.enabled = self._previous



class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Run without recording the graph (evaluation, optimizer updates), as ``torch.no_grad``."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Record the graph again inside a ``no_grad`` block, as ``torch.enable_grad``."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Record the graph or not, chosen by ``mode``, as ``torch.set_grad_enabled``."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def _fresh(self) -> set_grad_enabled:
        return set_grad_enabled(self.mode)
