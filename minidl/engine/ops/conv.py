"""2-D convolution as a differentiable op, with PyTorch's (N, C, H, W) layout and arguments.

The forward pass is im2col followed by one matrix product (see
:mod:`minidl.kernels.conv`); the backward pass is two more products and a col2im. Two
versions of each, paired by :func:`minidl.kernels.dispatch`: the plain one
(:func:`conv_forward_simple`: the whole batch at once, what to read first) and the chunked
one that runs on NumPy (the same products over cache-sized slices of the batch, in reused
buffers, with the Numba im2col, the slices shared out over minidl's threads):

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
from minidl.engine.tensor import Tensor, array_of
from minidl.kernels import dispatch
from minidl.kernels.window import Window, output_size


def as_pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, as PyTorch accepts for kernel_size, stride, padding, dilation.

    ``name`` and ``minimum`` are for the error: ``stride must be >= 1 (got 0)``.
    """
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints (got {value!r})")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} (got {value!r})")
    return pair  # type: ignore[return-value]


_pair = as_pair  # its former private name, still imported by code written against it


def conv_window(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
                dilation: Any) -> Window:
    """The window geometry of a convolution of x (N, C, H, W) with W (O, C, kh, kw)."""
    sh, sw = as_pair(stride, "stride", 1)
    dh, dw = as_pair(dilation, "dilation", 1)
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
        ph, pw = as_pair(padding, "padding", 0)
    h, w = x_shape[2], x_shape[3]
    oh, ow = output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw)
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: the input's spatial size {(h, w)} (padded by {(ph, pw)}) is smaller "
                         f"than the dilated kernel {(dh * (kh - 1) + 1, dw * (kw - 1) + 1)}")
    return Window(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


# A whole batch's column matrix can be huge (LeNet's second layer: 42 MB at batch 64, 660 MB
# at batch 1000), so a convolution goes through the batch in chunks whose column matrix fits
# in CHUNK_BYTES, and the backward pass recomputes each chunk's columns instead of keeping
# them: a second im2col of data that is still in cache costs less than a trip through memory.
# Measured on the LeNet step (one thread): 8-16 MB best, 1.8x faster than the whole batch at
# once; 16 MB makes fewer, larger BLAS calls, which two BLAS threads prefer.
CHUNK_BYTES = 16 << 20


def chunk_plan(n: int, sample_bytes: int, threads: int) -> list[list[tuple[int, int]]]:
    """The batch [0, n) cut into (start, stop) chunks whose column matrix (``sample_bytes`` per
    sample) fits in CHUNK_BYTES (or is one sample), as one run of chunks per thread, the runs as
    long as the batch allows.

    Each thread then runs the whole chain (im2col, GEMM, back to NCHW) on its own part of the
    batch with its own buffers. The cut depends on ``threads``: so do the shapes of the GEMMs
    (BLAS rounds differently for different shapes) and the grouping of ∂L/∂W's and ∂L/∂b's
    per-chunk sums, so results can differ in the last bits between thread counts (never
    between two runs with the same count; tests/test_conv.py checks the difference is rounding).
    """
    threads = max(1, min(threads, n))
    per_thread = -(-n // threads)  # samples, rounded up
    each = min(per_thread, -(-per_thread * sample_bytes // CHUNK_BYTES)) if n else 0  # chunks per thread
    total = threads * max(each, 1)
    bounds = [n * i // total for i in range(total + 1)]
    return [[(bounds[i], bounds[i + 1]) for i in range(t * each, (t + 1) * each) if bounds[i] < bounds[i + 1]]
            for t in range(threads)]


def _rows_to_nchw(rows: Any, bias: Any, out: Any) -> None:
    """(O, n·L) product rows → ``out`` (n, O, L), adding the bias on the way (one pass)."""
    n, o = out.shape[:2]
    src = rows.reshape(o, n, -1).transpose(1, 0, 2)
    if bias is None:
        out[...] = src
    else:
        backend.get_array_module(rows).add(src, bias.reshape(o, 1), out=out)


def _nchw_to_rows(g: Any, out: Any) -> Any:
    """(n, O, OH, OW) → ``out`` viewed as (O, n·OH·OW): the layout of the product rows."""
    n, o = g.shape[:2]
    rows = out.reshape(o, n, -1)
    rows[...] = g.reshape(n, o, -1).transpose(1, 0, 2)
    return out


def _scratch(flat: Any, shape: tuple[int, int]) -> Any:
    """A C-contiguous matrix of ``shape`` at the start of a flat scratch buffer."""
    return flat[:shape[0] * shape[1]].reshape(shape)


# -- the plain convolution: the whole batch at once -------------------------------------------
# What the chunked functions below compute, in the fewest lines: one column matrix for the
# whole batch, one matrix product, one reshape. It is the reference they are tested against,
# and what runs where the chunking buys nothing (CuPy on a GPU, MINIDL_NUMBA=0).


def conv_forward_simple(x: Any, w: Any, b: Any, win: Window) -> Any:
    """y = W ⋆ x + b on arrays:  Y = W₂ · cols(x) (+ b), (O, N·OH·OW) reshaped to (N, O, OH, OW)."""
    from minidl.kernels.conv import im2col_reference

    n, o = x.shape[0], w.shape[0]
    rows = w.reshape(o, -1) @ im2col_reference(x, win)
    y = rows.reshape(o, n, win.oh, win.ow).transpose(1, 0, 2, 3)
    y = y + b.reshape(1, o, 1, 1) if b is not None else y
    return backend.get_array_module(y).ascontiguousarray(y)


def conv_backward_simple(gy: Any, x: Any, w: Any, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                         win: Window, need_x: bool, need_w: bool, need_b: bool) -> tuple[Any, Any, Any]:
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) on arrays, the whole batch at once (None where not needed):

    ∂L/∂W = G · cols(x)ᵀ,   ∂L/∂x = col2im(W₂ᵀ · G),   ∂L/∂b = Σ G   (G: gy as (O, N·OH·OW))
    """
    from minidl.kernels.conv import col2im_reference, im2col_reference

    o = w_shape[0]
    g = gy.transpose(1, 0, 2, 3).reshape(o, -1)
    gw = (g @ im2col_reference(x, win).T).reshape(w_shape) if need_w else None
    gx = col2im_reference(w.reshape(o, -1).T @ g, tuple(x_shape), win) if need_x else None
    gb = g.sum(axis=1) if need_b else None
    return gx, gw, gb


# -- the chunked convolution: the same, through a cache-sized buffer ---------------------------


def _threads_for(cols_elements: int) -> int:
    """Threads worth starting for a column matrix this large: one per ``SMALL`` elements at most."""
    from minidl.kernels import conv as conv_kernels
    from minidl.threads import get_num_threads

    return max(1, min(get_num_threads(), cols_elements // conv_kernels.SMALL))


def _buffers(plan: list[list[tuple[int, int]]], sizes: tuple[int, ...], like: Any) -> list[list[Any]]:
    """One set of flat scratch buffers per run of ``plan``, each ``size`` × the run's largest chunk."""
    from minidl.kernels.workspace import workspace

    return [[workspace.take((size * max((stop - start for start, stop in run), default=0),), like.dtype, like)
             for size in sizes] for run in plan]


def _give_back(buffers: list[list[Any]]) -> None:
    from minidl.kernels.workspace import workspace

    for run in buffers:
        while run:
            workspace.give(run.pop())


@dispatch(conv_forward_simple)
def _conv_forward(x: Any, w: Any, b: Any, win: Window) -> Any:
    """y = W ⋆ x + b on arrays, chunk by chunk: im2col, one GEMM, back to (N, O, OH, OW).

    The chunks are shared out over :func:`minidl.threads.get_num_threads` threads.
    """
    from minidl.kernels.conv import im2col
    from minidl.kernels.workspace import keep_freed_memory
    from minidl.threads import parallel_map

    keep_freed_memory()  # a CNN's activations are large: reuse freed memory, no fresh pages each step
    n, o, k = x.shape[0], w.shape[0], w[0].size
    length = win.oh * win.ow
    plan = chunk_plan(n, k * length * x.dtype.itemsize, _threads_for(n * k * length))
    xp = backend.get_array_module(x)
    y = xp.empty((n, o, length), dtype=x.dtype)
    w2 = w.reshape(o, k)
    buffers = _buffers(plan, (k * length, o * length), x)

    def run(job: tuple[list[tuple[int, int]], list[Any]]) -> None:
        chunks, (cols_buf, rows_buf) = job
        for start, stop in chunks:
            m = (stop - start) * length
            cols = im2col(x[start:stop], win, out=_scratch(cols_buf, (k, m)))
            rows = xp.matmul(w2, cols, out=_scratch(rows_buf, (o, m)))
            _rows_to_nchw(rows, b, y[start:stop])

    parallel_map(run, list(zip(plan, buffers)))
    _give_back(buffers)
    return y.reshape(n, o, win.oh, win.ow)


@dispatch(conv_backward_simple)
def _conv_backward(gy: Any, x: Any, w: Any, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                   win: Window, need_x: bool, need_w: bool, need_b: bool) -> tuple[Any, Any, Any]:
    """(∂L/∂x, ∂L/∂W, ∂L/∂b) on arrays from G = ∂L/∂y, chunk by chunk (None where not needed):

    ∂L/∂W = Σ_chunks G_rows · cols(x)ᵀ,   ∂L/∂x = col2im(W₂ᵀ · G_rows),   ∂L/∂b = Σ G_rows

    The chunks are shared out over :func:`minidl.threads.get_num_threads` threads; the
    per-chunk terms of the two sums are added in chunk order afterwards.
    """
    from minidl.kernels.conv import col2im, im2col
    from minidl.threads import parallel_map

    n, o = x_shape[0], w_shape[0]
    k = w_shape[1] * win.kh * win.kw
    length = win.oh * win.ow
    plan = chunk_plan(n, k * length * gy.dtype.itemsize, _threads_for(n * k * length))
    xp = backend.get_array_module(gy)
    gx = xp.empty(x_shape, dtype=gy.dtype) if need_x else None
    w2t = w.reshape(o, k).T if need_x else None
    buffers = _buffers(plan, (k * length, o * length), gy)

    def run(job: tuple[list[tuple[int, int]], list[Any]]) -> list[tuple[Any, Any]]:
        chunks, (cols_buf, rows_buf) = job
        terms = []
        for start, stop in chunks:
            m = (stop - start) * length
            g_rows = _nchw_to_rows(gy[start:stop], _scratch(rows_buf, (o, m)))
            gb_term = g_rows.sum(axis=1) if need_b else None
            gw_term = g_rows @ im2col(x[start:stop], win, out=_scratch(cols_buf, (k, m))).T if need_w else None
            if need_x:
                dcols = xp.matmul(w2t, g_rows, out=_scratch(cols_buf, (k, m)))
                col2im(dcols, (stop - start,) + tuple(x_shape[1:]), win, out=gx[start:stop])
            terms.append((gw_term, gb_term))
        return terms

    terms = [t for run_terms in parallel_map(run, list(zip(plan, buffers))) for t in run_terms]
    _give_back(buffers)
    # an empty batch (n = 0) has no terms: empty ∂L/∂x, zero ∂L/∂W and ∂L/∂b
    gw = gb = None
    if need_w:
        gw = xp.zeros((o, k), dtype=gy.dtype)
        for gw_term, _ in terms:
            gw += gw_term
        gw = gw.reshape(w_shape)
    if need_b:
        gb = xp.zeros((o,), dtype=gy.dtype)
        for _, gb_term in terms:
            gb += gb_term
    return gx, gw, gb


class Conv2d(Function):
    """y[n, o] = b[o] + Σ_c Σ_ij W[o, c, i, j] · x[n, c, oy·s − p + i·d, ox·s − p + j·d]

    (a cross-correlation, as in every deep-learning library). ∂L/∂x = ConvInputGrad(G, W),
    ∂L/∂W = ConvWeightGrad(x, G), ∂L/∂b = Σ G over (n, oy, ox).
    """

    saved_for = ((1,), (0,), ())

    def __init__(self, win: Window) -> None:
        self.win = win

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        return _conv_forward(x, w, b, self.win)

    def backward(self, gy: Any, x: Any, w: Any, b: Any = None) -> tuple[Any, ...]:
        need = self.needs_input_grad
        need_b = b is not None and need[2]
        if isinstance(gy, Tensor):  # create_graph: gradients as differentiable ops
            gx = conv2d_input_grad(gy, w, x.shape, self.win) if need[0] else None
            gw = conv2d_weight_grad(x, gy, w.shape, self.win) if need[1] else None
            gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        else:
            gx, gw, gb = _conv_backward(gy, x, w, x.shape, w.shape, self.win, need[0], need[1], need_b)
        return (gx, gw) if b is None else (gx, gw, gb)


# ConvInputGrad and ConvWeightGrad look alike on purpose: each is one adjoint (different inputs,
# shapes and backward) of the convolution, written out so that create_graph can differentiate it.
class ConvInputGrad(Function):
    """gx = col2im(W₂ᵀ G): the input gradient of a convolution, as an op of (G, W).

    ∂⟨H, gx⟩/∂G = conv2d(H, W),   ∂⟨H, gx⟩/∂W = ConvWeightGrad(H, G)
    """

    saved_for = ((1,), (0,))

    def __init__(self, x_shape: tuple[int, ...], win: Window) -> None:
        self.x_shape, self.win = tuple(x_shape), win

    def forward(self, g: Any, w: Any) -> Any:
        return _conv_backward(g, None, w, self.x_shape, w.shape, self.win, True, False, False)[0]

    def backward(self, h: Any, g: Any, w: Any) -> tuple[Any, Any]:
        need_g, need_w = self.needs_input_grad
        return (Conv2d(self.win).apply(h, w) if need_g else None,
                conv2d_weight_grad(h, g, w.shape, self.win) if need_w else None)


class ConvWeightGrad(Function):
    """gW = G cols(x)ᵀ: the weight gradient of a convolution, as an op of (x, G).

    ∂⟨H, gW⟩/∂x = ConvInputGrad(G, H),   ∂⟨H, gW⟩/∂G = conv2d(x, H)
    """

    saved_for = ((1,), (0,))

    def __init__(self, w_shape: tuple[int, ...], win: Window) -> None:
        self.w_shape, self.win = tuple(w_shape), win

    def forward(self, x: Any, g: Any) -> Any:
        return _conv_backward(g, x, None, x.shape, self.w_shape, self.win, False, True, False)[1]

    def backward(self, h: Any, x: Any, g: Any) -> tuple[Any, Any]:
        need_x, need_g = self.needs_input_grad
        return (conv2d_input_grad(g, h, x.shape, self.win) if need_x else None,
                Conv2d(self.win).apply(x, h) if need_g else None)


def conv2d_input_grad(g: Any, w: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """∂L/∂x of a convolution from its output gradient ``g`` and weight ``w`` (arrays or Tensors)."""
    return ConvInputGrad(x_shape, win).apply(g, w)


def conv2d_weight_grad(x: Any, g: Any, w_shape: tuple[int, ...], win: Window) -> Any:
    """∂L/∂W of a convolution from its input ``x`` and output gradient ``g`` (arrays or Tensors)."""
    return ConvWeightGrad(w_shape, win).apply(x, g)


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
    x, w = array_of(input), array_of(weight)
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
        b = array_of(bias)
        if tuple(b.shape) != (w.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({w.shape[0]},) (got {tuple(b.shape)})")
    if x.ndim == 3:  # one unbatched image, as PyTorch allows
        from minidl.engine.ops.shape import reshape

        y = conv2d(reshape(input, (1,) + tuple(x.shape)), weight, bias, stride, padding, dilation)
        return reshape(y, tuple(y.shape[1:]))
    win = conv_window(x.shape, w.shape, stride, padding, dilation)
    op = Conv2d(win)
    return op.apply(input, weight) if bias is None else op.apply(input, weight, bias)
