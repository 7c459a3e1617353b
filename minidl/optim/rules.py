"""Each optimizer's update rule, as one chain of :mod:`~minidl.optim.transforms` (Optax's ``alias``).

Notation (the lessons use the same): θ the parameters, g = ∇θ J the gradient of the loss J,
lr the learning rate, t = 1, 2, ... the step. Each recipe below reads top to bottom as the
update, one line per building block; each block's formula is in its own docstring in
:mod:`minidl.optim.transforms` (written there once). Every function returns a
:class:`~minidl.optim.transforms.GradientTransformation`; apply it with ::

    state = rule.init(θ)
    u, state = rule.update(g, state, θ)
    θ = apply_updates(θ, u)            # θ + u

The classes ``minidl.optim.SGD``, ``Adam``, ... take the same arguments as PyTorch's and
run these rules (SGD and Adam through a fused kernel tested equal to them bit for bit).
"""

from __future__ import annotations

from minidl.optim.transforms import (
    GradientTransformation,
    add_decayed_weights,
    chain,
    scale,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)


def _ascent(maximize: bool) -> list[GradientTransformation]:
    return [scale(-1.0)] if maximize else []


def _coupled_decay(weight_decay: float) -> list[GradientTransformation]:
    return [add_decayed_weights(weight_decay)] if weight_decay != 0 else []


def gd(lr: float) -> GradientTransformation:
    """Gradient descent, the textbook rule:  θ ← θ − lr · ∇θ J(θ)   (:func:`scale_by_learning_rate`).

    GD and SGD are the same rule. They differ in the data: GD's g is the gradient of the
    loss over the whole training set, SGD's is the gradient over a random mini-batch (an
    unbiased but noisy estimate of it, at a fraction of the cost).
    """
    return scale_by_learning_rate(lr)


def sgd(lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, maximize: bool = False) -> GradientTransformation:
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD``::

        g ← −g              maximize only: climb instead of descend       scale(−1)
        g ← g + λθ          weight_decay λ (coupled L2)                   add_decayed_weights
        d = trace(g)        momentum μ, dampening τ, nesterov (μ ≠ 0)     trace
        θ ← θ − lr · d      (d = g when μ = 0)                            scale_by_learning_rate

    PyTorch's momentum form (b = μb + g; θ −= lr·b) equals Sutskever et al.'s
    (v = μv + lr·g; θ −= v) while lr is constant; they part ways when lr changes.
    """
    parts = _ascent(maximize) + _coupled_decay(weight_decay)
    if momentum != 0:
        parts.append(trace(momentum, dampening, nesterov))
    return chain(*parts, scale_by_learning_rate(lr))


def adam(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
         weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
         bias_correction: bool = True, decoupled_weight_decay: bool = False) -> GradientTransformation:
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam``::

        g ← −g                    maximize only                           scale(−1)
        g ← g + λθ                weight_decay λ: L2, coupled             add_decayed_weights
        d = m̂ / (√v̂ + ε)         the moments m, v of g, bias-corrected   scale_by_adam
        d ← d + λθ                decoupled_weight_decay only (AdamW)     add_decayed_weights
        θ ← θ − lr · d                                                    scale_by_learning_rate

    The decay is applied once: before the moments (L2), or after them (decoupled, :func:`adamw`).
    """
    b1, b2 = betas
    decay = add_decayed_weights(weight_decay) if weight_decay != 0 else None
    parts = _ascent(maximize)
    if decay is not None and not decoupled_weight_decay:
        parts.append(decay)
    parts.append(scale_by_adam(b1, b2, eps, amsgrad=amsgrad, bias_correction=bias_correction))
    if decay is not None and decoupled_weight_decay:
        parts.append(decay)
    return chain(*parts, scale_by_learning_rate(lr))


def adamw(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False,
          bias_correction: bool = True) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter 2019): :func:`adam` with the decay after the moments::

        θ ← θ − lr · (m̂ / (√v̂ + ε) + λθ)

    Optax's recipe: ``chain(scale_by_adam, add_decayed_weights(λ), scale_by_learning_rate)``.
    PyTorch shrinks θ by (1 − lr·λ) first and then takes the Adam step: the same value up
    to float rounding. With an L2 penalty instead, λθ enters m and v and is then divided by
    √v̂, so heavily-updated weights are barely decayed: that is why AdamW exists.
    """
    return adam(lr, betas, eps, weight_decay, amsgrad, maximize, bias_correction,
                decoupled_weight_decay=True)


def rmsprop(lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
            momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> GradientTransformation:
    """RMSprop, as ``torch.optim.RMSprop``::

        g ← −g                    maximize only                           scale(−1)
        g ← g + λθ                weight_decay λ (coupled L2)             add_decayed_weights
        d = g / (√ṽ + ε)          ṽ the running mean of g² (centered: its variance)   scale_by_rms
        d = trace(d)              momentum μ > 0 only                     trace
        θ ← θ − lr · d                                                    scale_by_learning_rate
    """
    parts = _ascent(maximize) + _coupled_decay(weight_decay)
    parts.append(scale_by_rms(alpha, eps, centered))
    if momentum > 0:
        parts.append(trace(momentum))
    return chain(*parts, scale_by_learning_rate(lr))


def adagrad(lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
            initial_accumulator_value: float = 0.0, eps: float = 1e-10,
            maximize: bool = False) -> GradientTransformation:
    """Adagrad, as ``torch.optim.Adagrad``::

        g ← −g                    maximize only                           scale(−1)
        g ← g + λθ                weight_decay λ (coupled L2)             add_decayed_weights
        d = g / (√s + ε) / (1 + (t − 1)·lr_decay)     s = Σ g²            scale_by_adagrad
        θ ← θ − lr · d                                                    scale_by_learning_rate
    """
    parts = _ascent(maximize) + _coupled_decay(weight_decay)
    parts.append(scale_by_adagrad(lr_decay, initial_accumulator_value, eps))
    return chain(*parts, scale_by_learning_rate(lr))
