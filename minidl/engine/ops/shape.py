"""Ops that move values around without changing them: reshape, transpose, broadcast,
indexing, concatenation. Their gradients move the values back."""

from __future__ import annotations

from typing import Any, Sequence

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.tensor import Tensor, _index_on, _unwrap_index, array_of, as_tensor

# ---------------------------------------------------------------------------------------
# Broadcasting and its adjoint


def _sum_to_array(x: Any, shape: tuple[int, ...]) -> Any:
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if not axes:
        return x
    y = x.sum(axis=axes, keepdims=True)
    return y.reshape(shape) if lead else y


class SumTo(Function):
    """y = Σ over the broadcast axes of x, so that y.shape == shape;   ∂y/∂x = broadcast back."""

    saved_for = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        return _sum_to_array(x, self.shape)

    def backward(self, gy: Any, x: Any) -> Any:
        return broadcast_to(gy, x.shape)


class BroadcastTo(Function):
    """y = x repeated along new or size-1 axes;   ∂y/∂x = sum back to x's shape."""

    saved_for = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(shape)

    def forward(self, x: Any) -> Any:
        # A filled new array rather than np.broadcast_to's read-only view: broadcast_to is
        # pure Python (~5 µs), and a gradient that ends in .grad must own its memory anyway.
        y = backend.get_array_module(x).empty(self.shape, dtype=x.dtype)
        try:
            y[...] = x
        except ValueError:
            raise ValueError(f"cannot broadcast shape {x.shape} to {self.shape}") from None
        return y

    def backward(self, gy: Any, x: Any) -> Any:
        return sum_to(gy, x.shape)


def sum_to(x: Any, shape: Sequence[int]) -> Any:
    """Sum ``x`` over the axes that broadcasting added, giving ``shape`` (array or Tensor)."""
    shape = tuple(shape)
    return x if x.shape == shape else SumTo(shape).apply(x)


def broadcast_to(x: Any, shape: Sequence[int]) -> Any:
    """``x`` broadcast to ``shape`` (array or Tensor; the array result is a new array)."""
    shape = tuple(shape)
    return x if x.shape == shape else BroadcastTo(shape).apply(x)


def expand(x: Tensor, *sizes: int) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, where -1 keeps a dimension."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ---------------------------------------------------------------------------------------
# Reshaping and permuting


class Reshape(Function):
    """y = x with a new shape (same elements, same order);   ∂y/∂x = reshape back."""

    saved_for = ()

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {self.shape}") from None

    def backward(self, gy: Any, x: Any) -> Any:
        return gy.reshape(x.shape)


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x: Any, *shape: Any) -> Any:
    """``x`` with a new shape; ``-1`` infers one dimension (``view`` is the same here)."""
    return Reshape(_shape_args(shape)).apply(x)


class Permute(Function):
    """y = x with its axes reordered;   ∂y/∂x = gy with the inverse order."""

    saved_for = ()

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Any, x: Any) -> Any:
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return permute(gy, tuple(inverse))


def permute(x: Any, *dims: Any) -> Any:
    """Reorder the axes: ``y.shape[i] == x.shape[dims[i]]`` (NumPy's ``transpose(axes)``)."""
    dims = _shape_args(dims)
    ndim = x.ndim
    if sorted(d % ndim for d in dims) != list(range(ndim)) or len(dims) != ndim:
        raise ValueError(f"permute needs a permutation of 0..{ndim - 1} (got {dims})")
    return Permute(tuple(d % ndim for d in dims)).apply(x)


def transpose(x: Any, dim0: int = -2, dim1: int = -1) -> Any:
    """Swap two axes, as PyTorch's ``transpose(dim0, dim1)``.

    NumPy's ``transpose(axes)`` is a permutation; that is :func:`permute` here.
    """
    ndim = x.ndim
    if ndim < 2:
        return x
    axes = list(range(ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(x, tuple(axes))


def squeeze(x: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in ``dim`` that have size 1, as PyTorch)."""
    shape = x.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = {d % max(x.ndim, 1) for d in ((dim,) if isinstance(dim, int) else dim)}
        new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return reshape(x, new)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 axis at ``dim`` (negative counts from the end of the result)."""
    ndim = x.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result with {ndim} dimensions")
    dim %= ndim
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one, as PyTorch's ``flatten``."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = start_dim % x.ndim, end_dim % x.ndim
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


# ---------------------------------------------------------------------------------------
# Indexing: reading is GetItem, its adjoint (scatter-add) is IndexAdd


def _is_basic(index: Any) -> bool:
    """True for slices, ints, None and Ellipsis only: each element is picked at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(Function):
    """y = x[index];   ∂y/∂x = scatter-add gy back into zeros at index (repeats add up)."""

    saved_for = ()

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Any) -> Any:
        try:
            return x[self.index]
        except IndexError as e:
            raise IndexError(f"index {self.index!r} does not fit a tensor of shape {x.shape}: {e}") from None

    def backward(self, gy: Any, x: Any) -> Any:
        return index_add(gy, self.index, x.shape)


class IndexAdd(Function):
    """y = zeros(shape) with x added at index (``np.add.at``);   ∂y/∂x = gy[index]."""

    saved_for = ()

    def __init__(self, index: Any, shape: tuple[int, ...]) -> None:
        self.index = index
        self.shape = shape

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        y = xp.zeros(self.shape, dtype=x.dtype)
        if _is_basic(self.index):
            y[self.index] = x  # each place is hit once: plain assignment is exact and fast
        else:
            xp.add.at(y, self.index, x)
        return y

    def backward(self, gy: Any, x: Any) -> Any:
        return getitem(gy, self.index)


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` for an array or a Tensor (``index`` may hold index Tensors or NumPy arrays)."""
    return GetItem(_index_on(_unwrap_index(index), array_of(x))).apply(x)


def index_add(x: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """zeros(shape) with ``x`` added at ``index``; repeated indices accumulate."""
    return IndexAdd(index, shape).apply(x)


class TakeAlongAxis(Function):
    """y = x picked at ``indices`` along ``axis`` (``torch.gather``);   ∂y/∂x = scatter-add."""

    saved_for = ()

    def __init__(self, indices: Any, axis: int) -> None:
        self.indices = indices
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).take_along_axis(x, self.indices, axis=self.axis)

    def backward(self, gy: Any, x: Any) -> Any:
        return index_add(gy, self._full_index(x.shape), x.shape)

    def _full_index(self, shape: tuple[int, ...]) -> tuple[Any, ...]:
        # take_along_axis as one advanced index: open grids on the other axes.
        xp = backend.get_array_module(self.indices)
        ndim = len(shape)
        axis = self.axis % ndim
        index = []
        for d in range(ndim):
            if d == axis:
                index.append(self.indices)
            else:
                grid_shape = [1] * ndim
                grid_shape[d] = self.indices.shape[d]
                index.append(xp.arange(self.indices.shape[d]).reshape(grid_shape))
        return tuple(index)


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """PyTorch's ``gather``: ``y[i][j] = x[i][index[i][j]]`` for ``dim=1``."""
    index = array_of(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer array (got dtype {index.dtype})")
    x = as_tensor(x)
    return TakeAlongAxis(_index_on(index, x.data), dim)(x)


# ---------------------------------------------------------------------------------------
# Joining


class Concatenate(Function):
    """y = [x₁, x₂, …] joined along ``axis``;   ∂y/∂xᵢ = gy's slice that came from xᵢ."""

    saved_for = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        try:
            return backend.get_array_module(*xs).concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = [x.shape for x in xs]
            raise ValueError(f"cat: shapes {shapes} differ outside dim {self.axis}") from None

    def backward(self, gy: Any, *xs: Any) -> tuple[Any, ...]:
        grads, start = [], 0
        axis = self.axis % gy.ndim
        for x in xs:
            stop = start + x.shape[axis]
            index = (slice(None),) * axis + (slice(start, stop),)
            grads.append(getitem(gy, index))
            start = stop
        return tuple(grads)


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat`` / ``np.concatenate``)."""
    if axis is not None:
        dim = axis
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Concatenate(dim)(*[as_tensor(t) for t in tensors])


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (``torch.stack`` / ``np.stack``)."""
    if axis is not None:
        dim = axis
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape (got {sorted(shapes)})")
    return cat([unsqueeze(t, dim) for t in tensors], dim)
