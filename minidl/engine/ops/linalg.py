"""Matrix products: ``matmul`` (batched, broadcasting like NumPy's ``@``) and the fused ``linear``."""

from __future__ import annotations

from typing import Any

from minidl.engine.function import Function
from minidl.engine.ops.shape import reshape, sum_to, transpose
from minidl.kernels.matmul import SPLIT_FROM, matmul_rows_split


def _matmul_error(a: Any, b: Any) -> ValueError:
    return ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not fit: "
                      f"the last dim of the first ({a.shape[-1] if a.ndim else '-'}) must equal "
                      f"the {'first' if b.ndim == 1 else 'second-to-last'} dim of the second "
                      f"({b.shape[0] if b.ndim == 1 else b.shape[-2] if b.ndim else '-'})")


def _dtype_error(op: str, first: str, a: Any, second: str, b: Any) -> TypeError:
    """PyTorch refuses a matrix product of two dtypes ("mat1 and mat2 must have the same dtype")
    rather than promote: a float64 batch fed to a float32 model would otherwise run, slowly,
    in float64 and hand float64 gradients to float32 weights."""
    return TypeError(f"{op}: {first} has dtype {a.dtype} but {second} has dtype {b.dtype}; they must "
                     f"be the same: convert with .to({str(b.dtype)!r})")


def _broadcast_batch(s: tuple[int, ...], t: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(s), len(t))
    s, t = (1,) * (n - len(s)) + s, (1,) * (n - len(t)) + t
    return tuple(max(i, j) for i, j in zip(s, t))


class MatMul(Function):
    """Z = A B (over the last two axes, batch axes broadcast);   ∂L/∂A = G Bᵀ,  ∂L/∂B = Aᵀ G

    A 1-D operand is a row (left) or column (right) vector, as in NumPy; its gradient is
    computed on that matrix view and reshaped back.
    """

    saved_for = ((1,), (0,))

    def forward(self, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs at least 1-D operands (got shapes {a.shape} and {b.shape})")
        if a.dtype is not b.dtype and a.dtype != b.dtype:  # `is` first: dtype == is slow
            raise _dtype_error("matmul", "the first operand", a, "the second", b)
        try:
            return a @ b
        except ValueError:
            raise _matmul_error(a, b) from None

    def backward(self, gz: Any, a: Any, b: Any) -> tuple[Any, Any]:
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without reshapes
            return (gz @ b.T if need_a else None, a.T @ gz if need_b else None)
        a2 = a if a.ndim > 1 else reshape(a, (1, a.shape[0]))
        b2 = b if b.ndim > 1 else reshape(b, (b.shape[0], 1))
        z_shape = _broadcast_batch(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])
        g2 = reshape(gz, z_shape)
        ga = reshape(sum_to(g2 @ transpose(b2, -1, -2), a2.shape), a.shape) if need_a else None
        gb = reshape(sum_to(transpose(a2, -1, -2) @ g2, b2.shape), b.shape) if need_b else None
        return ga, gb


class Linear(Function):
    """y = x Wᵀ + b  (x: (…, in), W: (out, in), b: (out,))

    ∂L/∂x = G W,   ∂L/∂W = Gᵀ x,   ∂L/∂b = Σ G over the batch   (G = ∂L/∂y, batch axes flattened)

    One node for what would be three (matmul, transpose, add): the training step of a
    small MLP is decided by per-op overhead, and PyTorch fuses it the same way (addmm).
    Large products are split by rows over minidl's threads (:mod:`minidl.kernels.matmul`).
    """

    saved_for = ((1,), (0,), ())

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        if x.dtype is not w.dtype and x.dtype != w.dtype:  # `is` first: dtype == is slow
            raise _dtype_error("linear", "the input", x, "the weight", w)
        if x.shape[-1] != w.shape[-1]:
            raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) "
                             f"but the weight expects {w.shape[-1]} (weight shape {w.shape})")
        if x.ndim == 2 and x.shape[0] * x.shape[1] * w.shape[0] >= SPLIT_FROM:  # large: split over threads
            y = matmul_rows_split(x, w.T)
        else:
            y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, gy: Any, x: Any, w: Any, b: Any = None) -> tuple[Any, ...]:
        need = self.needs_input_grad
        if x.ndim != 2:  # batch axes (…) flattened into one
            gx = gy @ w if need[0] else None
            x = reshape(x, (-1, x.shape[-1]))
            gy = reshape(gy, (-1, gy.shape[-1]))
            gw = gy.T @ x if need[1] else None
        elif x.shape[0] * x.shape[1] * w.shape[0] >= SPLIT_FROM:  # large: split over minidl's threads
            gx = matmul_rows_split(gy, w) if need[0] else None
            gw = matmul_rows_split(gy.T, x) if need[1] else None
        else:
            gx = gy @ w if need[0] else None
            gw = gy.T @ x if need[1] else None
        if b is None:
            return gx, gw
        return gx, gw, (gy.sum(axis=0) if need[2] else None)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product with NumPy's ``@`` rules (batched, broadcasting, 1-D vectors)."""
    return MatMul().apply(a, b)


def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """y = x Wᵀ + b, as ``torch.nn.functional.linear``."""
    return Linear().apply(x, weight) if bias is None else Linear().apply(x, weight, bias)
