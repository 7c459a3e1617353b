"""Activation-based neuron pruning: score a neuron by what it outputs on real data, not by its weights.

Run a calibration set through the model and watch each neuron's output a after its
ReLU (a channel of a conv layer: over every position too). Two scores per neuron j:

| score | formula | prune first |
|---|---|---|
| APoZ (Hu et al. 2016) | APoZ_j = (1 / N) Σ_n 1[a_nj = 0] | the highest APoZ: mostly silent |
| mean activation magnitude | M_j = (1 / N) Σ_n \\|a_nj\\| | the smallest M: contributes little |

As importance (high = keep) APoZ becomes 1 − APoZ. A neuron that never fires (APoZ = 1,
a "dead ReLU") gets importance 0 under both. The scores feed the same structured
pruning as weight norms (:func:`~minidl.compress.prune.selection.structured_mask` on the
weight's rows, the bias masked too), and :func:`~minidl.compress.prune.compaction.compact`
then removes the pruned neurons for real.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.compress.prune.amount import Amount, validate_amount
from minidl.compress.prune.compaction import _leaves, _weighted
from minidl.compress.prune.methods import _structured
from minidl.engine.grad_mode import no_grad
from minidl.engine.tensor import Tensor
from minidl.nn.activation import ReLU
from minidl.nn.module import Module


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _per_unit_axes(a: Any) -> tuple[int, ...]:
    """Every axis but 1: samples, and the spatial positions of a conv feature map."""
    if a.ndim < 2:
        raise ValueError(f"activations need a batch axis and a unit axis (got shape {tuple(a.shape)})")
    return tuple(d for d in range(a.ndim) if d != 1)


def apoz(activations: Any) -> Any:
    """APoZ_j = mean over samples (and positions) of 1[a_j = 0]: the fraction of zeros per unit."""
    a = _array(activations)
    return (a == 0).mean(axis=_per_unit_axes(a))


def mean_activation(activations: Any) -> Any:
    """M_j = mean over samples (and positions) of |a_j|."""
    a = _array(activations)
    return backend.get_array_module(a).abs(a).mean(axis=_per_unit_axes(a), dtype="float64")


@dataclass
class ActivationStats:
    """Running APoZ and mean |a| of one layer's units over a calibration set."""

    zeros: Any = 0.0
    magnitude: Any = 0.0
    count: int = 0

    def update(self, a: Any) -> None:
        n = a.size // a.shape[1]  # values per unit in this batch
        self.zeros = self.zeros + apoz(a) * n
        self.magnitude = self.magnitude + mean_activation(a) * n
        self.count += n

    @property
    def apoz(self) -> Any:
        return self.zeros / self.count

    @property
    def mean_activation(self) -> Any:
        return self.magnitude / self.count


def prunable_layers(model: Module) -> list[tuple[str, Module, Module]]:
    """(name, weighted layer, the ReLU right after it) for every Linear/Conv2d followed by a ReLU.

    The last layer has no ReLU (its outputs are the model's), so it is never in the list.
    """
    chain = _leaves(model)
    found = []
    for (name, m), (_, nxt) in zip(chain, chain[1:]):
        if _weighted(m) and isinstance(nxt, ReLU):
            found.append((name, m, nxt))
    return found


def activation_statistics(model: Module, batches: Iterable[Any]) -> dict[str, ActivationStats]:
    """Run ``batches`` (inputs, or (inputs, labels) pairs) through ``model``; stats per prunable layer.

    The model runs in eval mode without gradients; its mode is restored afterwards.
    """
    layers = prunable_layers(model)
    if not layers:
        raise ValueError("activation_statistics: no Linear/Conv2d followed by a ReLU in this model "
                         "(activation scores need a ReLU to count zeros after)")
    stats = {name: ActivationStats() for name, _, _ in layers}
    handles = [relu.register_forward_hook(lambda m, args, out, s=stats[name]: s.update(_array(out)))
               for name, _, relu in layers]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if any(s.count == 0 for s in stats.values()):
        raise ValueError("activation_statistics: the calibration batches were empty")
    return stats


CRITERIA = ("apoz", "mean_activation")


def activation_importance(stats: ActivationStats, criterion: str = "apoz") -> Any:
    """Importance per unit, high = keep: 1 − APoZ, or the mean activation magnitude."""
    if criterion == "apoz":
        return 1.0 - stats.apoz
    if criterion == "mean_activation":
        return stats.mean_activation
    raise ValueError(f"criterion must be one of {CRITERIA} (got {criterion!r})")


def activation_structured(model: Module, batches: Iterable[Any], amount: Amount,
                          criterion: str = "apoz") -> dict[str, Any]:
    """Prune ``amount`` of the neurons / channels of every layer followed by a ReLU, by their activations.

    Scores come from :func:`activation_statistics` over ``batches`` (the calibration set);
    each layer's weight rows (and bias entries) of the lowest importance are masked
    (``weight_mask``), as :func:`~minidl.compress.prune.ln_structured` does for weight norms.
    Returns {layer name: importance scores}. Follow with ``compact(model)`` to remove them.
    """
    validate_amount(amount)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA} (got {criterion!r})")
    stats = activation_statistics(model, batches)
    scores = {}
    for name, layer, _ in prunable_layers(model):
        s = activation_importance(stats[name], criterion)
        _structured(layer, "weight", amount, 0, s, True, f"activation_structured({criterion}, amount={amount})")
        scores[name] = s
    return scores
