"""The building blocks of every optimizer: small pure functions on arrays (Optax's design).

A *gradient transformation* is a pair of pure functions::

    state = t.init(θ)                          # the running averages it needs, as a dict
    u, state = t.update(g, state, θ)           # turn a gradient g into an update u

Nothing is changed in place: ``update`` returns a new array and a new state. Transformations
compose with :func:`chain`, and a whole optimizer is one chain; for example AdamW is ::

    chain(scale_by_adam(β₁, β₂, ε), add_decayed_weights(λ), scale_by_learning_rate(lr))

and the parameter moves by θ ← θ + u (:func:`apply_updates`). The recipes for each optimizer
(``sgd``, ``adam``, ...) are in :mod:`minidl.optim.rules`; the classes in :mod:`minidl.optim`
(``SGD``, ``Adam``, ...) keep PyTorch's interface and run these rules, or a fused kernel
tested equal to them.

The state is a dict whose keys are PyTorch's names (``exp_avg``, ``momentum_buffer``, ...),
so the state an optimizer class saves is exactly the state the rule works on. A chain's
state is the union of its parts' dicts; two parts may not use the same key.

Hyperparameters are turned into Python floats when a transformation is made: a NumPy
float64 scalar would otherwise promote float32 arrays to float64 (NumPy 2's rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from minidl import backend

Array = Any
State = dict[str, Any]


class GradientTransformation(NamedTuple):
    """``init(θ) -> state`` and ``update(g, state, θ) -> (u, state)``, both pure."""

    init: Callable[[Array], State]
    update: Callable[[Array, State, Array], tuple[Array, State]]


def _no_state(param: Array) -> State:
    return {}


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` one after another: the update of one is the input of the next."""

    def init(param: Array) -> State:
        state: State = {}
        for t in transforms:
            part = t.init(param)
            shared = state.keys() & part.keys()
            if shared:
                raise ValueError(f"chain: two transformations keep state under the same name(s) "
                                 f"{sorted(shared)}")
            state.update(part)
        return state

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        u = grad
        for t in transforms:
            u, state = t.update(u, state, param)
        return u, state

    return GradientTransformation(init, update)


def apply_updates(param: Array, update: Array) -> Array:
    """θ + u: the new parameter (updates already carry the minus sign of descent)."""
    return param + update


def scale(factor: float) -> GradientTransformation:
    """u = factor · g   (``scale(-1.0)`` turns descent into ascent: PyTorch's ``maximize``)."""
    factor = float(factor)

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        return factor * grad, state

    return GradientTransformation(_no_state, update)


def scale_by_learning_rate(lr: float) -> GradientTransformation:
    """u = −lr · g   (the step of gradient descent: θ ← θ − lr·g once applied)."""
    neg_lr = -float(lr)

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        return neg_lr * grad, state

    return GradientTransformation(_no_state, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """u = g + λθ   (weight decay λ).

    Before an optimizer's scaling this is *coupled* decay, the gradient of the L2 penalty
    (λ/2)‖θ‖² — PyTorch's ``weight_decay``. After the scaling (AdamW) it is *decoupled*
    decay: θ shrinks by lr·λ·θ whatever the adaptive scaling does to the gradient.
    """
    weight_decay = float(weight_decay)

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        return grad + weight_decay * param, state

    return GradientTransformation(_no_state, update)


def trace(momentum: float, dampening: float = 0.0, nesterov: bool = False) -> GradientTransformation:
    """Momentum (heavy ball), as PyTorch's SGD::

        b₁ = g₁                           (first step: the buffer starts as the gradient)
        bₜ = μ bₜ₋₁ + (1 − τ) gₜ          (momentum μ, dampening τ)
        u  = g + μ b   (nesterov)    or    u = b

    State: ``momentum_buffer`` (None until the first step).
    """
    momentum, dampening, nesterov = float(momentum), float(dampening), bool(nesterov)

    def init(param: Array) -> State:
        return {"momentum_buffer": None}

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        buf = state.get("momentum_buffer")  # absent if momentum was switched on later (OneCycleLR)
        if buf is None:
            buf = grad.copy()  # a copy: the buffer must not alias the caller's gradient
        else:
            buf = momentum * buf + (1 - dampening) * grad
        u = grad + momentum * buf if nesterov else buf
        return u, {**state, "momentum_buffer": buf}

    return GradientTransformation(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *, amsgrad: bool = False,
                  bias_correction: bool = True) -> GradientTransformation:
    """Adam's direction (Kingma & Ba 2015, Algorithm 1). At step t = 1, 2, ...::

        m = β₁ m + (1 − β₁) g               (first moment: running mean of g)
        v = β₂ v + (1 − β₂) g²              (second moment: running mean of g²)
        m̂ = m / (1 − β₁ᵗ)                  (bias correction: m and v start at 0,
        v̂ = v / (1 − β₂ᵗ)                   so early averages are too small)
        u = m̂ / (√v̂ + ε)

    ε only keeps the division finite; it is not a regularizer. ``amsgrad=True`` divides by
    the running maximum of v instead (v_max = max(v_max, v), then v̂ = v_max / (1 − β₂ᵗ):
    PyTorch's implementation, which maxes the raw v). ``bias_correction=False`` uses m and v
    as they are (for the lesson that shows why the correction exists).

    State: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v), and ``max_exp_avg_sq``.
    """
    b1, b2, eps = float(b1), float(b2), float(eps)

    def init(param: Array) -> State:
        xp = backend.get_array_module(param)
        state = {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}
        if amsgrad:
            state["max_exp_avg_sq"] = xp.zeros_like(param)
        return state

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        xp = backend.get_array_module(grad)
        t = state["step"] + 1
        m = b1 * state["exp_avg"] + (1 - b1) * grad
        v = b2 * state["exp_avg_sq"] + (1 - b2) * (grad * grad)
        new = {**state, "step": t, "exp_avg": m, "exp_avg_sq": v}
        if amsgrad:
            v = new["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], v)
        if bias_correction:
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        else:
            m_hat, v_hat = m, v
        return m_hat / (xp.sqrt(v_hat) + eps), new

    return GradientTransformation(init, update)


def scale_by_rms(alpha: float = 0.99, eps: float = 1e-8, centered: bool = False) -> GradientTransformation:
    """RMSprop's direction (Hinton's lecture 6e; PyTorch's form)::

        v = α v + (1 − α) g²                (running mean of g²)
        ḡ = α ḡ + (1 − α) g                 (centered only: running mean of g)
        ṽ = v − ḡ²   (centered)    or    ṽ = v
        u = g / (√ṽ + ε)                    (ε outside the square root)

    ṽ is a variance, ≥ 0 in exact arithmetic; rounding can push it a hair below zero, so
    minidl takes √max(ṽ, 0) where PyTorch would return NaN.

    State: ``step``, ``square_avg`` (v), and ``grad_avg`` (ḡ) when centered.
    """
    alpha, eps, centered = float(alpha), float(eps), bool(centered)

    def init(param: Array) -> State:
        xp = backend.get_array_module(param)
        state = {"step": 0, "square_avg": xp.zeros_like(param)}
        if centered:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        xp = backend.get_array_module(grad)
        v = alpha * state["square_avg"] + (1 - alpha) * (grad * grad)
        new = {**state, "step": state["step"] + 1, "square_avg": v}
        if centered:
            g_avg = new["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * grad
            v = xp.maximum(v - g_avg * g_avg, 0)
        return grad / (xp.sqrt(v) + eps), new

    return GradientTransformation(init, update)


def scale_by_adagrad(lr_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                     eps: float = 1e-10) -> GradientTransformation:
    """Adagrad's direction (Duchi et al. 2011; PyTorch's form). At step t = 1, 2, ...::

        s = s + g²                          (sum of every squared gradient so far)
        u = g / (√s + ε) / (1 + (t − 1)·lr_decay)

    Each coordinate's step shrinks as its gradients accumulate; ``lr_decay`` shrinks all
    of them further over time (PyTorch folds it into the learning rate: same value).

    State: ``step``, ``sum`` (s, starting at ``initial_accumulator_value``).
    """
    lr_decay, initial, eps = float(lr_decay), float(initial_accumulator_value), float(eps)

    def init(param: Array) -> State:
        xp = backend.get_array_module(param)
        return {"step": 0, "sum": xp.full_like(param, initial)}

    def update(grad: Array, state: State, param: Array) -> tuple[Array, State]:
        xp = backend.get_array_module(grad)
        t = state["step"] + 1
        s = state["sum"] + grad * grad
        u = grad / (xp.sqrt(s) + eps)
        if lr_decay != 0:
            u = u / (1 + (t - 1) * lr_decay)
        return u, {**state, "step": t, "sum": s}

    return GradientTransformation(init, update)


def step_in_place(transform: GradientTransformation, param: Array, grad: Array, state: State) -> None:
    """One step of ``transform`` written back into ``param`` and ``state`` (what a class needs).

    ``state`` is updated in place: arrays it already holds are overwritten, new ones added.
    """
    update, new_state = transform.update(grad, state, param)
    param += update
    xp = backend.get_array_module(param)
    for key, value in new_state.items():
        old = state.get(key)
        if not hasattr(value, "shape"):  # step counters
            state[key] = value
        elif type(old) is type(value) and old.shape == value.shape:
            xp.copyto(old, value)
        else:  # new state, or a NumPy scalar (what arithmetic on a 0-d array returns)
            state[key] = xp.asarray(value)
