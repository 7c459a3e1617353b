"""Max- and average-pooling over (N, C, H, W), with PyTorch's arguments and output sizes.

Both are linear in the right sense for second derivatives:

- max-pool picks one element per window (the winner, found in the forward pass), so its
  gradient scatters G to the winners, and the scatter's own gradient gathers from them;
- average-pool is a fixed linear map (sum of each window / divisor), whose adjoint
  spreads each output gradient evenly over its window.

Each of those maps is a Function whose backward is the other one, so gradients of
gradients work through pooling layers too.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops.conv import as_pair
from minidl.engine.tensor import Tensor, array_of
from minidl.kernels.window import Window, output_size


def pool_window(x_shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                ceil_mode: bool, name: str) -> Window:
    """The window geometry of a pooling layer, with PyTorch's checks."""
    kh, kw = as_pair(kernel_size, "kernel_size", 1)
    sh, sw = as_pair(kernel_size if stride is None or stride == () else stride, "stride", 1)
    ph, pw = as_pair(padding, "padding", 0)
    dh, dw = as_pair(dilation, "dilation", 1)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{name}: padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    h, w = x_shape[-2], x_shape[-1]
    oh = output_size(h, kh, sh, ph, dh, ceil_mode)
    ow = output_size(w, kw, sw, pw, dw, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: input of spatial size {(h, w)} is too small for kernel {(kh, kw)} "
                         f"(padding {(ph, pw)}, dilation {(dh, dw)}): the output would be {(oh, ow)}")
    return Window(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _check_input(x: Any, name: str) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: input must have shape (N, C, H, W) or (C, H, W) (got {tuple(x.shape)})")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point (got dtype {x.dtype}); convert with .float()")


def _unbatched(fn: Any, input: Any, *args: Any) -> Any:  # noqa: A002
    """Run a pooling function on a (C, H, W) input by adding and removing a batch axis."""
    from minidl.engine.ops.shape import reshape

    shape = tuple(input.shape)
    batched = reshape(input, (1,) + shape)
    out = fn(batched, *args)
    if isinstance(out, tuple):
        return tuple(reshape(o, tuple(o.shape[1:])) for o in out)
    return reshape(out, tuple(out.shape[1:]))


# -- max-pool ------------------------------------------------------------------------------------


class MaxPool2d(Function):
    """y = max of each window;   ∂L/∂x = G scattered to each window's winner (first maximum)"""

    saved_for = ()

    def __init__(self, win: Window) -> None:
        self.win = win

    def forward(self, x: Any) -> Any:
        from minidl.kernels.pool import max_pool_forward

        y, self.arg = max_pool_forward(x, self.win)
        return y

    def backward(self, gy: Any, x: Any) -> Any:
        return MaxPoolScatter(self.arg, tuple(x.shape), self.win).apply(gy)


class MaxPoolScatter(Function):
    """gx = G added at the positions ``arg`` names (max-pool's backward, as an op of G);
    its adjoint is the gather from those positions."""

    saved_for = ()

    def __init__(self, arg: Any, x_shape: tuple[int, ...], win: Window) -> None:
        self.arg, self.x_shape, self.win = arg, x_shape, win

    def forward(self, g: Any) -> Any:
        from minidl.kernels.pool import max_pool_backward

        return max_pool_backward(g, self.arg, self.x_shape, self.win)

    def backward(self, h: Any, g: Any) -> Any:
        return MaxPoolGather(self.arg, self.win).apply(h)


class MaxPoolGather(Function):
    """y = x at the positions ``arg`` names (no search for the maximum: the winners are fixed);
    its adjoint is the scatter back to them."""

    saved_for = ()

    def __init__(self, arg: Any, win: Window) -> None:
        self.arg, self.win = arg, win

    def forward(self, x: Any) -> Any:
        from minidl.kernels.pool import max_pool_gather

        return max_pool_gather(x, self.arg, self.win)

    def backward(self, h: Any, x: Any) -> Any:
        return MaxPoolScatter(self.arg, tuple(x.shape), self.win).apply(h)


def _flat_indices(arg: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """PyTorch's ``return_indices``: each winner's position as iy·W + ix in its (H, W) plane.

    A window of padding only reports where its first element would be, as PyTorch does.
    """
    from minidl.kernels.pool import first_valid

    xp = backend.get_array_module(arg)
    h, w = x_shape[-2], x_shape[-1]
    i0 = first_valid(h, win.kh, win.sh, win.ph, win.dh, win.oh, xp)[0].reshape(-1, 1)
    j0 = first_valid(w, win.kw, win.sw, win.pw, win.dw, win.ow, xp)[0].reshape(1, -1)
    arg = xp.where(arg < 0, i0 * win.kw + j0, arg).astype("int64")
    oy = xp.arange(win.oh).reshape(-1, 1) * win.sh - win.ph
    ox = xp.arange(win.ow).reshape(1, -1) * win.sw - win.pw
    return (oy + (arg // win.kw) * win.dh) * w + ox + (arg % win.kw) * win.dw


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each kh×kw window, as ``torch.nn.functional.max_pool2d``.

    ``stride`` defaults to ``kernel_size``; padding is −∞ and at most half the kernel.
    With ``return_indices=True`` also returns each maximum's flat index in its (H, W) plane.
    """
    x = array_of(input)
    _check_input(x, "max_pool2d")
    if x.ndim == 3:
        return _unbatched(max_pool2d, input, kernel_size, stride, padding, dilation, ceil_mode,
                          return_indices)
    win = pool_window(x.shape, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    op = MaxPool2d(win)
    y = op.apply(input)
    if return_indices:
        return y, Tensor._wrap(_flat_indices(op.arg, x.shape, win))
    return y


# -- average-pool --------------------------------------------------------------------------------


class AvgPool2d(Function):
    """y = (Σ of each window) / divisor;   ∂L/∂x = each G / divisor spread over its window"""

    saved_for = ()

    def __init__(self, win: Window, divisor: Any) -> None:
        self.win, self.divisor = win, divisor

    def forward(self, x: Any) -> Any:
        from minidl.kernels.pool import window_sum

        y = window_sum(x, self.win)
        y /= self.divisor
        return y

    def backward(self, gy: Any, x: Any) -> Any:
        return AvgPoolAdjoint(tuple(x.shape), self.win, self.divisor).apply(gy)


class AvgPoolAdjoint(Function):
    """gx = each G / divisor added over its window (average-pool's backward, as an op of G);
    its adjoint is average-pooling itself."""

    saved_for = ()

    def __init__(self, x_shape: tuple[int, ...], win: Window, divisor: Any) -> None:
        self.x_shape, self.win, self.divisor = x_shape, win, divisor

    def forward(self, g: Any) -> Any:
        from minidl.kernels.pool import window_spread

        return window_spread(g / self.divisor, self.x_shape, self.win)

    def backward(self, h: Any, g: Any) -> Any:
        return AvgPool2d(self.win, self.divisor).apply(h)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Any:
    """The mean over each kh×kw window, as ``torch.nn.functional.avg_pool2d``.

    Padding counts as zeros; ``count_include_pad`` says whether it counts in the divisor
    (PyTorch's default: yes); ``divisor_override`` replaces the divisor altogether.
    """
    from minidl.kernels.pool import avg_pool_divisor

    x = array_of(input)
    _check_input(x, "avg_pool2d")
    if x.ndim == 3:
        return _unbatched(avg_pool2d, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override)
    win = pool_window(x.shape, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override <= 0:
            raise ValueError("avg_pool2d: divisor_override must be a positive int "
                             f"(got {divisor_override!r})")
        divisor: Any = float(divisor_override)
    else:
        divisor = avg_pool_divisor(x.shape[2], x.shape[3], win, count_include_pad,
                                   backend.get_array_module(x), x.dtype)
        if bool((divisor == divisor.ravel()[0]).all()):
            divisor = float(divisor.ravel()[0])  # the usual case: one number for every window
    return AvgPool2d(win, divisor).apply(input)
