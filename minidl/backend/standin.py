"""A stand-in for CuPy that runs on NumPy but will not mix with it, for testing without a GPU.

The most reported bug of NumPy libraries that add GPU support is a NumPy array leaking
into GPU code: a mask made with ``np.zeros``, a ``np.ones_like``, random numbers from
``np.random``, an index array from ``np.arange``. On a GPU that is an error (or a silent
host-device copy); on a CPU-only test machine nothing notices. This module notices.

Its arrays (:class:`ndarray`) hold a NumPy array inside but behave like CuPy's:

- any NumPy function or ufunc called on them raises (``np.exp(a)``, ``np.asarray(a)``);
- mixing them with a NumPy array in an operator or an index raises;
- they are made and transformed only through this module (``standin.zeros``,
  ``standin.exp``, ``standin.random``…), which offers the part of CuPy's API minidl uses;
- ``asnumpy`` / ``.get()`` bring them back to the host explicitly, as in CuPy.

Python numbers and NumPy scalars may be combined with them, as CuPy allows.
"""

from __future__ import annotations

import builtins
import operator
import sys
from typing import Any, Callable

import numpy as _np

backend_name = "standin"
device_name = "gpu"


class StandinError(TypeError):
    """A NumPy array or function met a stand-in (GPU) array."""


def _leak(what: str) -> StandinError:
    return StandinError(
        f"{what} on a stand-in GPU array: a NumPy (CPU) array or function leaked into code that "
        "must work on CuPy. Create arrays with xp = minidl.backend.get_array_module(x) "
        "(xp.zeros, xp.ones_like, xp.arange, ...) and move host arrays with xp.asarray.")


def _unwrap(x: Any) -> Any:
    """The NumPy value inside stand-in arrays (recursively in lists/tuples); raw NumPy arrays raise."""
    t = type(x)
    if t is ndarray:
        return x._a
    if t is _np.ndarray:
        raise _leak("a NumPy array was mixed with a stand-in array")
    if t is tuple or t is list:
        return t(_unwrap(v) for v in x)
    return x


def _wrap(y: Any) -> Any:
    t = type(y)
    if t is _np.ndarray:
        return ndarray(y)
    if isinstance(y, _np.generic):  # NumPy reductions give scalars; CuPy gives 0-d arrays
        return ndarray(_np.asarray(y))
    if t is tuple or t is list:
        return t(_wrap(v) for v in y)
    return y


class _Flags:
    def __init__(self, a: _np.ndarray) -> None:
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata


def _binary(op: Callable[[Any, Any], Any]) -> Callable[[ndarray, Any], Any]:
    def method(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t is ndarray:
            return _wrap(op(self._a, other._a))
        if t is _np.ndarray:
            raise _leak(f"'{op.__name__}' with a NumPy array")
        if isinstance(other, (int, float, complex, bool, _np.generic)):
            return _wrap(op(self._a, other))
        return NotImplemented

    return method


def _reflected(op: Callable[[Any, Any], Any]) -> Callable[[ndarray, Any], Any]:
    def method(self: ndarray, other: Any) -> Any:
        if type(other) is _np.ndarray:
            raise _leak(f"'{op.__name__}' with a NumPy array")
        if isinstance(other, (int, float, complex, bool, _np.generic)):
            return _wrap(op(other, self._a))
        return NotImplemented

    return method


def _inplace(op: Callable[[Any, Any], Any]) -> Callable[[ndarray, Any], Any]:
    def method(self: ndarray, other: Any) -> Any:
        t = type(other)
        if t is _np.ndarray:
            raise _leak(f"in-place '{op.__name__}' with a NumPy array")
        op(self._a, other._a if t is ndarray else other)
        return self

    return method


class ndarray:  # noqa: N801 - CuPy's name
    """A stand-in GPU array: NumPy inside, CuPy's manners outside."""

    __slots__ = ("_a",)
    __array_priority__ = 10000

    def __init__(self, a: _np.ndarray) -> None:
        self._a = a

    # NumPy must not touch these arrays: each of its entry points raises.
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise _leak("implicit conversion to a NumPy array (np.asarray / np.array)")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise _leak(f"numpy.{ufunc.__name__} was called")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        raise _leak(f"numpy.{func.__name__} was called")

    # what an array is
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T))
    mT = property(lambda self: ndarray(_np.swapaxes(self._a, -1, -2)))  # noqa: N815 - NumPy's name
    flags = property(lambda self: _Flags(self._a))
    device = property(lambda self: "standin:0")

    @property
    def base(self) -> Any:
        return None if self._a.base is None else ndarray(self._a.base)

    def get(self) -> _np.ndarray:
        """A NumPy copy on the host (CuPy's ``ndarray.get()``)."""
        return self._a.copy()

    def item(self) -> Any:
        return self._a.item()

    def tolist(self) -> Any:
        return self._a.tolist()

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (_wrap(v) for v in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __index__(self) -> int:
        return operator.index(self._a)

    def __repr__(self) -> str:
        return "standin." + repr(self._a)

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._a[_unwrap(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._a[_unwrap(index)] = _unwrap(value)

    # methods that keep results on the "device"
    def _method(name: str) -> Callable[..., Any]:  # noqa: N805 - a factory used in the class body
        def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
            return _wrap(getattr(self._a, name)(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

        method.__name__ = name
        return method

    for _name in ("astype", "copy", "reshape", "view", "transpose", "swapaxes", "sum", "mean", "max",
                  "min", "argmax", "argmin", "prod", "std", "var", "all", "any", "cumsum", "ravel",
                  "flatten", "squeeze", "fill", "clip", "round", "nonzero", "dot", "repeat",
                  "take", "sort", "argsort", "conj"):
        locals()[_name] = _method(_name)
    del _name

    for _name, _op in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                       ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                       ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                       ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor),
                       ("lshift", operator.lshift), ("rshift", operator.rshift)):
        locals()[f"__{_name}__"] = _binary(_op)
        locals()[f"__r{_name}__"] = _reflected(_op)
    for _name, _op in (("iadd", operator.iadd), ("isub", operator.isub), ("imul", operator.imul),
                       ("itruediv", operator.itruediv), ("ifloordiv", operator.ifloordiv),
                       ("imod", operator.imod), ("ipow", operator.ipow), ("iand", operator.iand),
                       ("ior", operator.ior), ("ixor", operator.ixor)):
        locals()[f"__{_name}__"] = _inplace(_op)
    for _name, _op in (("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                       ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge)):
        locals()[f"__{_name}__"] = _binary(_op)
    del _name, _op

    def __neg__(self) -> ndarray:
        return ndarray(-self._a)

    def __pos__(self) -> ndarray:
        return ndarray(+self._a)

    def __abs__(self) -> ndarray:
        return ndarray(_np.abs(self._a))  # not abs(): this module's own abs (a ufunc) shadows it

    def __invert__(self) -> ndarray:
        return ndarray(~self._a)


# -- the module's functions: NumPy's, behind the stand-in's walls --------------------------


def _function(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _wrap(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))

    wrapped.__name__ = getattr(fn, "__name__", "function")
    wrapped.__doc__ = f"The stand-in's {wrapped.__name__} (NumPy's, on stand-in arrays)."
    return wrapped


def _creation(fn: Callable[..., Any]) -> Callable[..., Any]:
    """asarray/array: the one door from the host in, as CuPy's ``cupy.asarray(numpy_array)``."""

    def wrapped(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if type(obj) is ndarray:
            obj = obj._a
        elif type(obj) in (list, tuple):
            obj = _unwrap_mixed(obj)
        return ndarray(_np.asarray(fn(obj, *args, **kwargs)))

    wrapped.__name__ = fn.__name__
    return wrapped


def _unwrap_mixed(x: Any) -> Any:
    if type(x) is ndarray:
        return x._a
    if type(x) in (list, tuple):
        return type(x)(_unwrap_mixed(v) for v in x)
    return x


class _Ufunc:
    """A ufunc with ``reduce``/``at``/``accumulate``/``outer``, on stand-in arrays only."""

    def __init__(self, ufunc: _np.ufunc) -> None:
        self._u = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._u)(*args, **kwargs)

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._u.reduce)(*args, **kwargs)

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._u.accumulate)(*args, **kwargs)

    def outer(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._u.outer)(*args, **kwargs)

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        if b is None:
            self._u.at(_unwrap(a), _unwrap(indices))
        else:
            self._u.at(_unwrap(a), _unwrap(indices), _unwrap(b))


_FUNCTIONS = (
    # creation from shapes
    "zeros", "ones", "empty", "full", "arange", "eye", "identity", "linspace", "logspace",
    "zeros_like", "ones_like", "empty_like", "full_like", "tri", "triu", "tril", "diag", "meshgrid",
    # shapes and joining
    "reshape", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "broadcast_to",
    "broadcast_arrays", "concatenate", "stack", "vstack", "hstack", "split", "array_split", "flip",
    "roll", "pad", "tile", "repeat", "ravel", "atleast_1d", "atleast_2d", "take", "take_along_axis",
    "put_along_axis", "where", "nonzero", "flatnonzero", "argwhere", "copyto", "ascontiguousarray",
    "diagonal", "trace", "einsum", "tensordot", "outer", "inner", "dot", "vdot", "kron",
    # reductions and sorting
    "sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all",
    "any", "cumsum", "cumprod", "sort", "argsort", "unique", "count_nonzero", "median", "percentile",
    "quantile", "histogram", "bincount", "searchsorted", "partition", "argpartition", "nanmax",
    "nanmin", "nansum", "nanmean", "allclose", "isclose", "array_equal", "diff", "interp", "round",
    "around", "clip", "nan_to_num", "cov", "corrcoef", "lexsort", "logaddexp", "logaddexp2",
)
_UFUNCS = (
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power", "mod",
    "remainder", "negative", "positive", "absolute", "abs", "sign", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "sqrt", "square", "cbrt", "reciprocal", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "floor", "ceil", "trunc", "rint", "maximum", "minimum", "fmax", "fmin", "isfinite", "isinf",
    "isnan", "signbit", "copysign", "greater", "greater_equal", "less", "less_equal", "equal",
    "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and",
    "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift", "matmul", "hypot",
    "deg2rad", "rad2deg", "heaviside",
)

for _name in _FUNCTIONS:
    globals()[_name] = _function(getattr(_np, _name))
for _name in _UFUNCS:
    globals()[_name] = _Ufunc(getattr(_np, _name))
del _name

asarray = _creation(_np.asarray)
array = _creation(_np.array)

# dtypes and constants pass through: they are not arrays
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
              "uint32", "uint64", "bool_", "complex64", "complex128", "dtype", "finfo", "iinfo",
              "result_type", "promote_types", "can_cast", "pi", "e", "inf", "nan", "newaxis",
              "broadcast_shapes", "ndim", "shape", "size", "isscalar", "integer", "floating", "generic",
              "number"):
    globals()[_name] = getattr(_np, _name)
del _name


class _Linalg:
    """The part of ``cupy.linalg`` minidl uses."""

    norm = staticmethod(_function(_np.linalg.norm))
    cholesky = staticmethod(_function(_np.linalg.cholesky))
    solve = staticmethod(_function(_np.linalg.solve))
    inv = staticmethod(_function(_np.linalg.inv))
    eigh = staticmethod(_function(_np.linalg.eigh))
    svd = staticmethod(_function(_np.linalg.svd))
    qr = staticmethod(_function(_np.linalg.qr))
    det = staticmethod(_function(_np.linalg.det))


linalg = _Linalg()


class _Generator:
    """``cupy.random.Generator``: NumPy's generator, giving stand-in arrays."""

    def __init__(self, seed: Any = None) -> None:
        self._g = _np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _function(getattr(self._g, name))


class _Random:
    """``cupy.random``: module-level functions on a global state, and ``default_rng``."""

    def __init__(self) -> None:
        self._state = _np.random.RandomState(0)

    def seed(self, seed: int | None = None) -> None:
        self._state = _np.random.RandomState(seed)

    def default_rng(self, seed: Any = None) -> _Generator:
        return _Generator(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in ("rand", "randn", "random", "random_sample", "uniform", "normal", "randint",
                    "permutation", "shuffle", "choice", "standard_normal", "binomial", "bernoulli"):
            return _function(getattr(self._state, name))
        raise AttributeError(f"standin.random has no {name!r}")


random = _Random()


def asnumpy(a: Any) -> _np.ndarray:
    """A NumPy copy of a stand-in array on the host (CuPy's ``asnumpy``); NumPy input passes through."""
    if type(a) is ndarray:
        return a._a.copy()
    return _np.asarray(a)  # host


def get_array_module(*args: Any) -> Any:
    """This module if any argument is a stand-in array, else NumPy (CuPy's rule)."""
    # builtins.any: this module's own any (NumPy's, wrapped) shadows the builtin
    return sys.modules[__name__] if builtins.any(type(a) is ndarray for a in args) else _np


def synchronize() -> None:
    """Nothing to wait for: the stand-in computes on the CPU."""


def _register() -> None:
    from minidl.backend import Backend, register

    register(Backend("standin", sys.modules[__name__], ndarray, "gpu", asnumpy, synchronize))


_register()
