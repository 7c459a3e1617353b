"""``Tensor``: an array, the gradient it will receive, and the op that made it.

A Tensor wraps an array of the active array module (NumPy, or CuPy on a GPU) in
``.data``. Ops on Tensors compute a new array and, when any input requires a gradient,
remember themselves as the new Tensor's ``grad_fn``; ``backward()`` walks those nodes in
reverse topological order (see :mod:`minidl.engine.autograd`).

In-place changes and the version counter (PyTorch's ``_version``): every in-place method
(``add_``, ``sub_``, ``mul_``, ``div_``, ``zero_``, ``fill_``, ``copy_``, ``clamp_``,
``x[i] = v``) and every optimizer update of a parameter adds 1 to ``x._version``. An op
that will need an input's values in its backward pass records that input's version when
it runs; ``backward`` compares and raises ``RuntimeError`` if the tensor was changed in
between, instead of returning a wrong gradient. In-place changes of tensors that backward
does not need (the addends of ``x + y``, say) are fine.

Differences from PyTorch, on purpose:
- ``.data`` is the underlying array itself (NumPy/CuPy), not a Tensor sharing storage:
  minidl is a NumPy library, and the array is what a learner wants to look at. Writes
  through ``.data`` (``x.data[0] = 1``, ``x.data *= 2``) are not counted, exactly as
  writes through PyTorch's ``.data`` are not: that is the escape hatch, and its risk.
- PyTorch's views share one version counter with their base. In minidl only ``detach()``
  does (an in-place change of ``x.detach()`` counts as a change of ``x``); the result of
  ``reshape``/``x[:, 0]`` may share memory with its input but counts its own changes.
- A graph can be walked twice only with ``retain_graph=True``, as in PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from minidl import backend
from minidl.engine.grad_mode import _State

if TYPE_CHECKING:
    from minidl.engine.function import Function

_ndarray = np.ndarray

# dtypes under PyTorch's names, so ``minidl.float32`` reads like ``torch.float32``.
float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")


class _Defaults:
    dtype = float32


def get_default_dtype() -> np.dtype:
    """The dtype of Tensors made from Python floats (float32, as in PyTorch)."""
    return _Defaults.dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype of Tensors made from Python floats: float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"default dtype must be a floating point type (got {dtype})")
    _Defaults.dtype = dtype


def _is_float(dtype: Any) -> bool:
    return dtype.kind == "f"


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff."""

    # ``_base`` (set by ``detach()`` only, so left unset on the hot paths) is the tensor whose
    # version an in-place change of this one must also bump.
    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "_version", "_base", "__weakref__")

    # NumPy must hand ``ndarray * tensor`` to Tensor.__rmul__ rather than loop over it.
    __array_ufunc__ = None
    __array_priority__ = 1000

    data: Any
    grad: Tensor | None
    grad_fn: Function | None
    requires_grad: bool
    _version: int

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        self._version = 0
        if requires_grad:
            self.requires_grad_(True)

    # -- what a Tensor is -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        """``"cpu"`` for NumPy arrays, ``"gpu"`` for CuPy (or stand-in) arrays."""
        return "cpu" if type(self.data) is _ndarray else backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        """True for Tensors the user created (no ``grad_fn``); only leaves get ``.grad``."""
        return self.grad_fn is None

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or its length along ``dim`` (PyTorch's ``size``; NumPy's ``size`` is ``numel``)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    # -- leaving the graph ----------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (copied to the host from a GPU).

        Unlike PyTorch, no ``.detach()`` is needed first: reading values cannot hurt the graph.
        """
        return backend.to_numpy(self.data)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element (got shape {self.shape})")
        return self.data.item()

    def tolist(self) -> Any:
        return backend.to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory, and its version counter, as in PyTorch)."""
        t = Tensor._wrap(self.data)
        t._version = self._version
        t._base = getattr(self, "_base", self)
        return t

    def clone(self) -> Tensor:
        """A copy that stays in the graph (gradient flows back to ``self``)."""
        from minidl.engine.ops import clone

        return clone(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Ask for (or stop asking for) this leaf's gradient; returns ``self``."""
        if requires_grad and not _is_float(self.data.dtype):
            raise RuntimeError(
                f"only floating point tensors can require gradients (got dtype {self.data.dtype})")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only for leaves; use .detach() on a result")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf Tensor in ``.grad`` after ``backward``."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad() on a tensor that does not require grad")
            return  # leaves keep their gradient anyway
        import weakref

        self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        ref = getattr(self.grad_fn, "retained", None)
        return ref is not None and ref() is self

    def register_post_accumulate_grad_hook(self, hook: Any) -> Any:
        """Call ``hook(self)`` during each ``backward()``, once this leaf's ``.grad`` is final.

        Returns a handle whose ``remove()`` takes the hook away (see
        :mod:`minidl.engine.grad_hooks`).
        """
        from minidl.engine.grad_hooks import register

        return register(self, hook)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate ∂self/∂leaf into every leaf's ``.grad`` (see :func:`minidl.engine.autograd.backward`)."""
        from minidl.engine.autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    # -- in-place updates (never recorded in the graph; counted in ``_version``) ------------
    def _check_inplace(self, op: str) -> None:
        if self.requires_grad and _State.enabled:
            kind = "a leaf that requires grad" if self.grad_fn is None else "a tensor in the graph"
            raise RuntimeError(
                f"{op}() changes {kind} in place, which the graph cannot follow; "
                "wrap it in `with minidl.no_grad():` or work on `.data`")

    def _bump_version(self) -> None:
        """Count one in-place change (of this tensor and, for a ``detach()``-ed one, its base)."""
        self._version += 1
        base = getattr(self, "_base", None)
        if base is not None:
            base._version += 1

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.data[...] = 0
        self._bump_version()
        return self

    def fill_(self, value: float) -> Tensor:
        self._check_inplace("fill_")
        self.data[...] = value
        self._bump_version()
        return self

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src``'s values into this tensor (shapes must broadcast; dtype is kept)."""
        self._check_inplace("copy_")
        src_data = array_of(src)
        xp = backend.get_array_module(self.data)
        try:
            xp.copyto(self.data, xp.asarray(src_data), casting="same_kind")
        except ValueError as e:
            raise ValueError(f"copy_: cannot copy shape {getattr(src_data, 'shape', ())} "
                             f"into shape {self.shape}") from e
        self._bump_version()
        return self

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        self._check_inplace("add_")
        other = array_of(other)
        self.data += other if alpha == 1 else alpha * other
        self._bump_version()
        return self

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        self._check_inplace("sub_")
        other = array_of(other)
        self.data -= other if alpha == 1 else alpha * other
        self._bump_version()
        return self

    def mul_(self, other: Any) -> Tensor:
        self._check_inplace("mul_")
        self.data *= array_of(other)
        self._bump_version()
        return self

    def div_(self, other: Any) -> Tensor:
        self._check_inplace("div_")
        self.data /= array_of(other)
        self._bump_version()
        return self

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        self._check_inplace("clamp_")
        backend.get_array_module(self.data).clip(self.data, min, max, out=self.data)
        self._bump_version()
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        value = array_of(value)
        if type(value) is np.ndarray:  # host values move to the data's device, as in copy_
            value = backend.get_array_module(self.data).asarray(value)
        self.data[_index_on(_unwrap_index(index), self.data)] = value
        self._bump_version()

    # -- printing -------------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (_Defaults.dtype, int64, bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be converted to an index")
        return int(self.data)

    __hash__ = object.__hash__  # ``==`` is elementwise; Tensors hash by identity, as in PyTorch

    @staticmethod
    def _wrap(data: Any, requires_grad: bool = False) -> Tensor:
        """A Tensor around an existing array, without checks or copies (internal fast path)."""
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t.grad_fn = None
        t.requires_grad = requires_grad
        t._version = 0
        return t

    # Operators, maths and shape methods are attached in minidl.engine.ops (one place
    # for each op); see the bottom of that package.


def _to_array(data: Any, dtype: Any = None) -> Any:
    """``data`` as an array of the right module and dtype (PyTorch's rules for Python numbers).

    Arrays of a GPU module stay where they are. Host data (NumPy arrays, Python numbers and
    lists) goes to the active backend, so ``minidl.tensor(numpy_array)`` is on the GPU after
    ``set_backend("cupy")``, as ``torch.tensor`` is after ``torch.set_default_device("cuda")``.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
    if type(data) is _ndarray or (hasattr(data, "shape") and not isinstance(data, np.generic)):
        check_numeric(data, data)
        arr = data if dtype is None else data.astype(dtype, copy=False)
        if type(arr) is _ndarray and backend.xp is not np:
            arr = backend.xp.asarray(arr)
        return arr
    if isinstance(data, np.generic):
        check_numeric(np.asarray(data), data)  # host: a NumPy scalar
        arr = np.asarray(data, dtype=dtype)  # host: a NumPy scalar, moved below if needed
    else:
        # Python numbers and nested lists: floats become the default dtype, ints int64.
        try:
            arr = np.asarray(data)  # host: parsing Python objects, moved to the active module below
        except ValueError:
            raise ValueError("tensor data must be a rectangular nesting of numbers: the "
                             f"{type(data).__name__} given has rows of different lengths") from None
        check_numeric(arr, data)
        if dtype is None:
            if arr.dtype.kind == "f":
                dtype = _Defaults.dtype
            elif arr.dtype.kind in "iu":
                dtype = int64
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
    return arr if backend.xp is np else backend.xp.asarray(arr)


def array_of(x: Any) -> Any:
    """The array behind ``x``: a Tensor's ``.data``; anything else (an array, a number) as it is."""
    return x.data if isinstance(x, Tensor) else x


def as_tensor(x: Any) -> Tensor:
    """``x`` as a Tensor: Tensors pass through, arrays are wrapped without a copy."""
    if isinstance(x, Tensor):
        return x
    return Tensor(x)


def constant_like(c: Any, like: Tensor) -> Tensor:
    """A Python number as a 0-d constant in ``like``'s array module and dtype.

    The dtype matters: under NumPy 2's promotion rules a float64 constant would silently
    turn a float32 model into float64 (and make it several times slower).
    """
    if isinstance(c, Tensor):
        return c
    dtype = like.data.dtype
    if isinstance(c, (bool, int, float, np.generic)) and not isinstance(c, np.ndarray):
        if dtype.kind != "f" and isinstance(c, (float, np.floating)):
            dtype = _Defaults.dtype  # int tensor * 0.5 -> default float, as in PyTorch
        elif dtype.kind == "b" and not isinstance(c, (bool, np.bool_)):
            dtype = np.dtype("int64")
        xp = backend.get_array_module(like.data)
        return Tensor._wrap(xp.asarray(c, dtype=dtype))
    return as_tensor(c)


def promote(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The two operands of a binary op in PyTorch's result dtype.

    PyTorch: a floating tensor with an integer or boolean tensor keeps the floating dtype
    (float32 × int64 → float32). NumPy 2 (NEP 50) would give float64 there, since it
    promotes to a type that can hold every int64 exactly; that silently doubles memory and
    slows a float32 model, so minidl follows PyTorch. Every other pair (float32 with
    float64, int32 with int64, bool with int) promotes the same way in both.
    """
    dx, dy = x.data.dtype, y.data.dtype
    if dx is dy or dx == dy:
        return x, y
    if dx.kind == "f" and dy.kind in "biu":
        return x, Tensor._wrap(y.data.astype(dx))  # integers carry no gradient: a plain copy
    if dy.kind == "f" and dx.kind in "biu":
        return Tensor._wrap(x.data.astype(dy)), y
    return x, y


_KINDS = {"U": "strings", "S": "byte strings", "O": "Python objects", "V": "structured records",
          "M": "dates", "m": "time spans"}


def check_numeric(arr: Any, data: Any) -> None:
    """Refuse data that is not numbers or booleans (strings, ``None``, object arrays), naming its dtype.

    NumPy would store ``[1, "a"]`` as strings and ``+ 1`` would then concatenate; a tensor
    holds numbers only, as in PyTorch.
    """
    kind = arr.dtype.kind
    if kind in "biufc":
        return
    if data is None:
        raise TypeError("tensor data must be numbers or booleans (got None)")
    raise TypeError(f"tensor data must be numbers or booleans (got a {type(data).__name__} of "
                    f"{_KINDS.get(kind, 'non-numbers')}: dtype {arr.dtype})")


def _index_on(index: Any, data: Any) -> Any:
    """An index whose arrays live with ``data``: NumPy index arrays move to a GPU module.

    Index arrays, like masks, must be on the same device as the data (the README's
    checklist); doing the move here lets ``x[host_index_array]`` (and ``x[mask] = 0``) work on every backend.
    """
    xp = backend.get_array_module(data)
    if xp is np:
        return index
    if type(index) is np.ndarray:
        return xp.asarray(index)
    if type(index) is tuple:
        return tuple(xp.asarray(i) if type(i) is np.ndarray else i for i in index)
    return index


def _unwrap_index(index: Any) -> Any:
    """Turn Tensors inside an index into arrays (so ``x[t]`` works with an index Tensor)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    if isinstance(index, list) and any(isinstance(i, Tensor) for i in index):
        return [array_of(i) for i in index]
    return index
