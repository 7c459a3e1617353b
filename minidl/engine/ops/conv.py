"""2-D convolution as a differentiable op, with PyTorch's (N, C, H, W) layout and arguments.

The forward pass is im2col followed by one matrix product (see
:mod:`minidl.kernels.conv`); the backward pass is two more products and a col2im:

    y = W ⋆ x + b:   Y = W₂ · cols(x) + b        (W₂ = W reshaped to (O, C·kh·kw))
    ∂L/∂W = G · cols(x)ᵀ,   ∂L/∂x = col2im(W₂ᵀ · G),   ∂L/∂b = Σ G over batch and positions

Both gradients are themselves convolutions in disguise, and each is a Function here, so
the backward pass can be differentiated again (Hessian-vector products through a CNN):

- ``ConvInputGrad(G, W)``  = col2im(W₂ᵀ G), the adjoint of x ↦ W ⋆ x;
- ``ConvWeightGrad(x, G)`` = G cols(x)ᵀ,    the adjoint of W ↦ W ⋆ x.

The three are linear in each argument, and each one's derivatives are the other two:
⟨H, ConvInputGrad(G, W)⟩ = ⟨conv(H, W), G⟩, ⟨H, ConvWeightGrad(x, G)⟩ = ⟨conv(x, H), G⟩.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.grad_mode import _State
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor
from minidl.kernels.window import Window, output_size


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, as PyTorch accepts for kernel_size, stride, padding, dilation."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints (got {value!r})")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} (got {value!r})")
    return pair  # type: ignore[return-value]


def conv_window(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
                dilation: Any) -> Window:
    """The window geometry of a convolution of x (N, C, H, W) with W (O, C, kh, kw)."""
    sh, sw = _pair(stride, "stride", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    kh, kw = w_shape[2], w_shape[3]
    if padding == "valid":
        ph = pw = 0
    elif padding == "same":
        if sh != 1 or sw != 1:
            raise ValueError("padding='same' needs stride 1 (as in PyTorch)")
        if (dh * (kh - 1)) % 2 or (dw * (kw - 1)) % 2:
            # PyTorch would pad one more row/column on the bottom/right; minidl's windows
            # are padded the same on both sides, so this case is refused rather than faked.
            raise ValueError(f"padding='same' needs an odd (dilated) kernel size in minidl "
                             f"(got kernel {(kh, kw)} with dilation {(dh, dw)}); pad explicitly")
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    elif isinstance(padding, str):
        raise ValueError(f"padding must be an int, a pair, 'valid' or 'same' (got {padding!r})")
    else:
        ph, pw = _pair(padding, "padding", 0)
    h, w = x_shape[2], x_shape[3]
    oh, ow = output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: the input's spatial size {(h, w)} (padded by {(ph, pw)}) is smaller "
                         f"than the dilated kernel {(dh * (kh - 1) + 1, dw * (kw - 1) + 1)}")
    return Window(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


def _rows_to_nchw(rows: Any, n: int, bias: Any = None) -> Any:
    """(O, N·L) product rows → a fresh C-contiguous (N, O, OH·OW) array, the bias added on the way."""
    o = rows.shape[0]
    xp = backend.get_array_module(rows)
    out = xp.empty((n, o, rows.shape[1] // n), dtype=rows.dtype)
    src = rows.reshape(o, n, -1).transpose(1, 0, 2)
    if bias is None:
        out[...] = src
    else:
        xp.add(src, bias.reshape(o, 1), out=out)  # one pass: transpose and add together
    return out


def _nchw_to_rows(g: Any) -> Any:
    """(N, O, OH, OW) → a C-contiguous (O, N·OH·OW) array: the layout of the product rows."""
    n, o = g.shape[:2]
    xp = backend.get_array_module(g)
    rows = xp.empty((o, n, g.shape[2] * g.shape[3]), dtype=g.dtype)
    rows[...] = g.reshape(n, o, -1).transpose(1, 0, 2)
    return rows.reshape(o, -1)


def _forward_arrays(x: Any, w: Any, b: Any, win: Window, keep_cols: bool) -> tuple[Any, Any]:
    from minidl.kernels.conv import im2col
    from minidl.kernels.workspace import workspace

    n, o = x.shape[0], w.shape[0]
    cols = im2col(x, win, out=workspace.take((w[0].size, n * win.oh * win.ow), x.dtype, x))
    y = _rows_to_nchw(w.reshape(o, -1) @ cols, n, b).reshape(n, o, win.oh, win.ow)
    if not keep_cols:
        workspace.give(cols)
        cols = None
    return y, cols


def _weight_grad_arrays(x: Any, g: Any, w_shape: tuple[int, ...], win: Window, cols: Any = None) -> Any:
    from minidl.kernels.conv import im2col
    from minidl.kernels.workspace import workspace

    fresh = cols is None
    if fresh:
        cols = im2col(x, win, out=workspace.take((w_shape[1] * win.kh * win.kw, x.shape[0] * win.oh * win.ow),
                                                 x.dtype, x))
    gw = (_nchw_to_rows(g) @ cols.T).reshape(w_shape)
    if fresh:
        workspace.give(cols)
    return gw


def _input_grad_arrays(g: Any, w: Any, x_shape: tuple[int, ...], win: Window, g_rows: Any = None) -> Any:
    from minidl.kernels.conv import col2im
    from minidl.kernels.workspace import workspace

    o = w.shape[0]
    g_rows = _nchw_to_rows(g) if g_rows is None else g_rows
    dcols = workspace.take((w[0].size, g_rows.shape[1]), g.dtype, g)
    backend.get_array_module(g).matmul(w.reshape(o, -1).T, g_rows, out=dcols)
    gx = col2im(dcols, tuple(x_shape), win)
    workspace.give(dcols)
    return gx


class Conv2d(Function):
    """y[n, o] = b[o] + Σ_c Σ_ij W[o, c, i, j] · x[n, c, oy·s − p + i·d, ox·s − p + j·d]

    (a cross-correlation, as in every deep-learning library). ∂L/∂x = ConvInputGrad(G, W),
    ∂L/∂W = ConvWeightGrad(x, G), ∂L/∂b = Σ G over (n, oy, ox).
    """

    releases_saved = True

    def __init__(self, win: Window) -> None:
        self.win = win
        self.cols = None

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        # The column matrix is kept for ∂L/∂W unless no graph can be recorded.
        y, self.cols = _forward_arrays(x, w, b, self.win, keep_cols=_State.enabled)
        return y

    def backward(self, gy: Any, x: Any, w: Any, b: Any = None) -> tuple[Any, ...]:
        need = self.needs_input_grad
        if isinstance(gy, Tensor):  # create_graph: gradients as differentiable ops
            gx = conv2d_input_grad(gy, w, x.shape, self.win) if need[0] else None
            gw = conv2d_weight_grad(x, gy, w.shape, self.win) if need[1] else None
            gb = gy.sum(axis=(0, 2, 3)) if b is not None and need[2] else None
        else:
            g_rows = _nchw_to_rows(gy)  # (O, N·L), shared by the three gradients
            gw = (g_rows @ self.cols.T).reshape(w.shape) if need[1] else None
            gx = _input_grad_arrays(gy, w, x.shape, self.win, g_rows) if need[0] else None
            gb = g_rows.sum(axis=1) if b is not None and need[2] else None
        return (gx, gw) if b is None else (gx, gw, gb)

    def release_saved(self) -> None:
        from minidl.kernels.workspace import workspace

        cols, self.cols = self.cols, None
        workspace.give(cols)


class ConvInputGrad(Function):
    """gx = col2im(W₂ᵀ G): the input gradient of a convolution, as an op of (G, W).

    ∂⟨H, gx⟩/∂G = conv2d(H, W),   ∂⟨H, gx⟩/∂W = ConvWeightGrad(H, G)
    """

    def __init__(self, x_shape: tuple[int, ...], win: Window) -> None:
        self.x_shape, self.win = tuple(x_shape), win

    def forward(self, g: Any, w: Any) -> Any:
        return _input_grad_arrays(g, w, self.x_shape, self.win)

    def backward(self, h: Any, g: Any, w: Any) -> tuple[Any, Any]:
        need_g, need_w = self.needs_input_grad
        return (_conv(h, w, None, self.win) if need_g else None,
                conv2d_weight_grad(h, g, w.shape, self.win) if need_w else None)


class ConvWeightGrad(Function):
    """gW = G cols(x)ᵀ: the weight gradient of a convolution, as an op of (x, G).

    ∂⟨H, gW⟩/∂x = ConvInputGrad(G, H),   ∂⟨H, gW⟩/∂G = conv2d(x, H)
    """

    def __init__(self, w_shape: tuple[int, ...], win: Window) -> None:
        self.w_shape, self.win = tuple(w_shape), win

    def forward(self, x: Any, g: Any) -> Any:
        return _weight_grad_arrays(x, g, self.w_shape, self.win)

    def backward(self, h: Any, x: Any, g: Any) -> tuple[Any, Any]:
        need_x, need_g = self.needs_input_grad
        return (conv2d_input_grad(g, h, x.shape, self.win) if need_x else None,
                _conv(x, h, None, self.win) if need_g else None)


def _conv(x: Any, w: Any, b: Any, win: Window) -> Any:
    """Conv2d on arrays (just the value) or Tensors (recorded)."""
    if isinstance(x, Tensor) or isinstance(w, Tensor) or isinstance(b, Tensor):
        args = (as_tensor(x), as_tensor(w)) + (() if b is None else (as_tensor(b),))
        return Conv2d(win)(*args)
    return _forward_arrays(x, w, b, win, keep_cols=False)[0]


def conv2d_input_grad(g: Any, w: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """∂L/∂x of a convolution from its output gradient ``g`` and weight ``w`` (arrays or Tensors)."""
    if isinstance(g, Tensor) or isinstance(w, Tensor):
        return ConvInputGrad(x_shape, win)(as_tensor(g), as_tensor(w))
    return _input_grad_arrays(g, w, x_shape, win)


def conv2d_weight_grad(x: Any, g: Any, w_shape: tuple[int, ...], win: Window) -> Any:
    """∂L/∂W of a convolution from its input ``x`` and output gradient ``g`` (arrays or Tensors)."""
    if isinstance(x, Tensor) or isinstance(g, Tensor):
        return ConvWeightGrad(w_shape, win)(as_tensor(x), as_tensor(g))
    return _weight_grad_arrays(x, g, w_shape, win)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
           dilation: Any = 1, groups: int = 1) -> Any:
    """2-D convolution (cross-correlation) of ``input`` (N, C, H, W) or (C, H, W) with
    ``weight`` (O, C, kh, kw), as ``torch.nn.functional.conv2d``.

    Output size per axis: ⌊(H + 2p − d·(k − 1) − 1)/s⌋ + 1. ``padding`` may also be
    ``'valid'`` (0) or ``'same'`` (stride 1, odd kernels). ``groups`` other than 1 is not
    supported.
    """
    if groups != 1:
        raise NotImplementedError(f"conv2d: groups={groups} is not supported (only groups=1)")
    x, w = (a.data if isinstance(a, Tensor) else a for a in (input, weight))
    if w.ndim != 4:
        raise ValueError("conv2d: weight must have shape (out_channels, in_channels, kh, kw) "
                         f"(got {tuple(w.shape)})")
    if x.ndim not in (3, 4):
        raise ValueError(f"conv2d: input must have shape (N, C, H, W) or (C, H, W) (got {tuple(x.shape)})")
    if x.shape[-3] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[-3]} channels (shape {tuple(x.shape)}) but the weight "
                         f"expects {w.shape[1]} (weight shape {tuple(w.shape)})")
    if x.dtype != w.dtype or x.dtype.kind != "f":
        raise TypeError(f"conv2d: input and weight must have the same floating dtype "
                        f"(got {x.dtype} and {w.dtype}); convert with .float()")
    if bias is not None:
        b = bias.data if isinstance(bias, Tensor) else bias
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({w.shape[0]},) (got {tuple(b.shape)})")
    if x.ndim == 3:  # one unbatched image, as PyTorch allows
        from minidl.engine.ops.shape import reshape

        y = conv2d(reshape(input, (1,) + tuple(x.shape)), weight, bias, stride, padding, dilation)
        return reshape(y, tuple(y.shape[1:]))
    win = conv_window(x.shape, w.shape, stride, padding, dilation)
    return _conv(input, weight, bias, win)
