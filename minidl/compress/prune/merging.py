"""Data-free neuron merging (Srinivas & Babu 2015): fold a neuron into its near-twin, no data needed.

Take a layer A followed by a ReLU and a layer B. Neuron j of A has incoming weights w_j
(its row of A, with its bias) and outgoing weights a_j (its column of B). If w_i = w_j,
neurons i and j output the same h_i = h_j for every input, so B sees

    a_i h_i + a_j h_j = (a_i + a_j) h_i

and j can be deleted after adding a_j to a_i — exactly the same function, one neuron
fewer. When w_i ≈ w_j the merge is an approximation, and the paper's saliency measures
its cost, the expected change in B's input, from weights alone:

    s_ij = ⟨a_j²⟩ · ‖w_i − w_j‖²

(⟨a_j²⟩ = the mean of the squares of a_j's entries). Merging repeats: the pair (i, j) with
the smallest saliency goes (j deleted, a_i ← a_i + a_j), the saliencies of the survivor
are recomputed, until the requested number of neurons are gone. It is a pruning method:
the deleted neurons are masked like structured pruning (rows and bias of A), B's columns
are updated, and :func:`~minidl.compress.prune.compaction.compact` makes the model smaller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.compress.prune.activation import prunable_layers
from minidl.compress.prune.amount import Amount, count_to_prune, validate_amount
from minidl.compress.prune.compaction import _leaves, _weighted
from minidl.compress.prune.masks import current_weight, get_mask, learnable
from minidl.compress.prune.methods import _structured
from minidl.nn.module import Module


def merge_saliency(incoming: Any, outgoing: Any) -> Any:
    """s_ij = ⟨a_j²⟩ · ‖w_i − w_j‖²: the cost of deleting j into i (an (n, n) array, s_ii = +inf).

    ``incoming`` is (n, d): row j = w_j (weights and bias). ``outgoing`` is (m, n): column
    j = a_j.
    """
    xp = backend.get_array_module(incoming)
    w = incoming.astype("float64")
    # row by row rather than ‖w_i‖² + ‖w_j‖² − 2 w_i·w_j: identical neurons must get exactly 0
    dist = xp.stack([((w - w[i]) ** 2).sum(axis=1) for i in range(w.shape[0])])
    a2 = (outgoing.astype("float64") ** 2).mean(axis=0)
    s = a2[None, :] * dist
    idx = xp.arange(s.shape[0])
    s[idx, idx] = xp.inf
    return s


@dataclass
class Merge:
    """One step: neuron ``removed`` folded into ``kept`` at saliency ``saliency``."""

    kept: int
    removed: int
    saliency: float


def _next_layer(model: Module, layer: Module) -> Module:
    chain = [m for _, m in _leaves(model) if _weighted(m)]
    i = next(k for k, m in enumerate(chain) if m is layer)
    return chain[i + 1]


def merge_neurons(layer: Module, next_layer: Module, amount: Amount) -> list[Merge]:
    """Merge ``amount`` of ``layer``'s alive neurons into their nearest twins (see the module docstring).

    ``layer`` must be followed by a ReLU and then ``next_layer`` (a Linear whose input
    columns are ``layer``'s neurons). The removed neurons are masked (weight rows and bias);
    ``next_layer``'s weight is updated in place (its learnable Parameter). Returns the merges.
    """
    validate_amount(amount)
    wa = current_weight(layer, "weight")
    xp = backend.get_array_module(wa)
    if wa.ndim != 2 or next_layer.weight.ndim != 2 or next_layer.weight.shape[1] != wa.shape[0]:
        raise ValueError(f"merge_neurons needs two Linear layers A → B with B's inputs = A's outputs "
                         f"(got weights {tuple(wa.shape)} and {tuple(next_layer.weight.shape)})")
    bias = layer._parameters.get("bias", layer._parameters.get("bias_orig"))
    b = current_weight(layer, "bias") if bias is not None else xp.zeros(wa.shape[0], dtype=wa.dtype)
    incoming = xp.concatenate([wa, b[:, None]], axis=1)
    out_param = learnable(next_layer, "weight")
    outgoing = out_param.data
    alive = get_mask(layer, "weight").any(axis=1)
    k = count_to_prune(amount, int(alive.sum()))
    saliency = merge_saliency(incoming, outgoing)
    saliency[~alive, :] = xp.inf
    saliency[:, ~alive] = xp.inf
    merges = []
    for _ in range(k):
        flat = int(xp.argmin(saliency))
        i, j = divmod(flat, saliency.shape[1])
        merges.append(Merge(i, j, float(saliency[i, j])))
        outgoing[:, i] += outgoing[:, j]
        outgoing[:, j] = 0  # j is dead after masking; zeroing keeps B's weights honest
        saliency[j, :] = xp.inf
        saliency[:, j] = xp.inf
        a2 = float((outgoing[:, i].astype("float64") ** 2).mean())  # i's outgoing weights changed
        d = ((incoming.astype("float64") - incoming[i].astype("float64")) ** 2).sum(axis=1)
        column = a2 * d  # s_ri for every r: deleting i into r
        column[i] = xp.inf
        gone = saliency[:, i] == xp.inf
        saliency[:, i] = xp.where(gone, xp.inf, column)
    if merges:
        removed = xp.asarray([m.removed for m in merges])
        scores = xp.ones(wa.shape[0])
        scores[removed] = 0.0
        _structured(layer, "weight", len(merges), 0, scores, True, f"merge_neurons(amount={amount})")
    return merges


def merge_structured(model: Module, amount: Amount) -> dict[str, list[Merge]]:
    """:func:`merge_neurons` on every Linear followed by a ReLU and another Linear in ``model``."""
    validate_amount(amount)
    done = {}
    for name, layer, _ in prunable_layers(model):
        nxt = _next_layer(model, layer)
        if layer.weight.ndim == 2 and nxt.weight.ndim == 2:
            done[name] = merge_neurons(layer, nxt, amount)
    if not done:
        raise ValueError("merge_structured: no Linear → ReLU → Linear in this model")
    return done
