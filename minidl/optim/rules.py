"""Each optimizer's update rule, as one chain of :mod:`~minidl.optim.transforms`.

Notation (the lessons use the same): θ the parameters, g = ∇θ J the gradient of the loss J,
lr the learning rate, t = 1, 2, ... the step. Every function here returns a
:class:`~minidl.optim.transforms.GradientTransformation`; apply it with ::

    state = rule.init(θ)
    u, state = rule.update(g, state, θ)
    θ = apply_updates(θ, u)            # θ + u

The classes ``minidl.optim.SGD``, ``Adam``, ... take the same arguments as PyTorch's and
run these rules (or a fused kernel tested equal to them, see :mod:`minidl.kernels.optim`).
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
    """Gradient descent, the textbook rule:  θ ← θ − lr · ∇θ J(θ).

    GD and SGD are the same rule. They differ in the data: GD's g is the gradient of the
    loss over the whole training set, SGD's is the gradient over a random mini-batch (an
    unbiased but noisy estimate of it, at a fraction of the cost).
    """
    return scale_by_learning_rate(lr)


def sgd(lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, maximize: bool = False) -> GradientTransformation:
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD``::

        g ← −g                              (maximize only: climb instead of descend)
        g ← g + λθ                          (weight_decay λ: the gradient of (λ/2)‖θ‖²)
        b₁ = g,   bₜ = μ bₜ₋₁ + (1 − τ) g   (momentum μ > 0, dampening τ)
        d = g + μ b  (nesterov)   or   d = b     (d = g when μ = 0)
        θ ← θ − lr · d

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
    """Adam (Kingma & Ba 2015), as ``torch.optim.Adam``. At step t = 1, 2, ...::

        g ← g + λθ                          (weight_decay λ: L2, coupled)
        m = β₁ m + (1 − β₁) g
        v = β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)
        θ ← θ − lr · m̂ / (√v̂ + ε)

    With ``decoupled_weight_decay=True`` (that is :func:`adamw`) the decay skips the
    moments: θ ← θ − lr · (m̂ / (√v̂ + ε) + λθ).
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
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay::

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

        g ← g + λθ
        v = α v + (1 − α) g²;   ṽ = v − ḡ² if centered (ḡ = α ḡ + (1 − α) g), else v
        d = g / (√ṽ + ε)
        b = μ b + d  and  d = b              (momentum μ > 0; b starts at 0)
        θ ← θ − lr · d
    """
    parts = _ascent(maximize) + _coupled_decay(weight_decay)
    parts.append(scale_by_rms(alpha, eps, centered))
    if momentum > 0:
        parts.append(trace(momentum))
    return chain(*parts, scale_by_learning_rate(lr))


def adagrad(lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
            initial_accumulator_value: float = 0.0, eps: float = 1e-10,
            maximize: bool = False) -> GradientTransformation:
    """Adagrad, as ``torch.optim.Adagrad``. At step t = 1, 2, ...::

        g ← g + λθ
        s = s + g²
        θ ← θ − lr / (1 + (t − 1)·lr_decay) · g / (√s + ε)
    """
    parts = _ascent(maximize) + _coupled_decay(weight_decay)
    parts.append(scale_by_adagrad(lr_decay, initial_accumulator_value, eps))
    return chain(*parts, scale_by_learning_rate(lr))
