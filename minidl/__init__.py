"""minidl: a deep-learning library in NumPy, written to teach model optimization.

The pieces, each in its own folder:

- ``minidl.engine``   Tensor and reverse-mode autodiff (``backward``, ``grad``, ``no_grad``)
- ``minidl.nn``       modules, layers, losses, initialization
- ``minidl.optim``    optimizers and learning-rate schedules
- ``minidl.data``     datasets and the DataLoader
- ``minidl.train``    ``fit`` and ``evaluate``
- ``minidl.compile``  capture a training step once, replay it without Python overhead (``minidl.compiler``)
- ``minidl.backend``  the array module (NumPy, or CuPy on a GPU)
"""

from minidl.engine import Function, Tensor, backward, grad, ops
from minidl.engine.creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from minidl.engine.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minidl.engine.gradcheck import gradcheck, gradgradcheck
from minidl.engine.ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    clamp,
    clip,
    concatenate,
    div,
    eq,
    exp,
    flatten,
    gather,
    ge,
    gt,
    le,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from minidl.engine.tensor import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from minidl.random import manual_seed

__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing minidl stays fast for a one-line experiment
    import importlib

    if name in ("autograd", "nn", "optim", "data", "train", "backend", "tour", "kernels", "compress", "search",
                "course", "viz", "random", "compiler"):
        return importlib.import_module(f"minidl.{name}")
    if name == "compile":  # minidl.compile(fn): the function; its package is minidl.compiler
        from minidl.compiler import compile

        return compile
    if name in ("save", "load"):
        from minidl import serialization

        return getattr(serialization, name)
    raise AttributeError(f"module 'minidl' has no attribute {name!r}")
