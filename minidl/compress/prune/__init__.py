"""Pruning: masks, criteria, schedules — and the compaction and sparse kernels that make it pay.

    from minidl.compress import prune
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.9)
    prune.enforce_masks(optimizer, model)        # pruned weights stay exactly zero
    ...fine-tune...
    small, report = prune.compact(model)         # a genuinely smaller dense model
    print(prune.sparsity_report(model))

Modules: ``amount`` (how much), ``criteria`` (importance scores), ``selection``
(scores → mask), ``masks`` (the reparametrization ``weight = orig ⊙ mask``),
``methods`` (PyTorch's pruning functions), ``estimates`` (gradients, Hessian diagonal),
``surgeon`` (Optimal Brain Surgeon), ``schedules`` (gradual, iterative, lottery ticket),
``sensitivity``, ``compaction``, ``sparse`` (CSR), ``report``.
"""

from minidl.compress.prune.amount import count_to_prune, validate_amount
from minidl.compress.prune.compaction import CompactionReport, compact
from minidl.compress.prune.criteria import (
    gradient_saliency,
    ln_norm,
    magnitude,
    obd_saliency,
    obs_saliency,
    random_scores,
    taylor_saliency,
)
from minidl.compress.prune.estimates import (
    average_gradients,
    hessian,
    hessian_diagonal,
    hessian_vector_product,
)
from minidl.compress.prune.masks import (
    MaskHook,
    apply_masks_,
    current_weight,
    custom_from_mask,
    enforce_masks,
    from_mask,
    get_mask,
    identity,
    is_pruned,
    learnable,
    load_pruned_state_dict,
    masks_restored,
    pruned_parameters,
    remove,
    set_mask,
)
from minidl.compress.prune.methods import (
    global_unstructured,
    l1_unstructured,
    ln_structured,
    parameters_to_prune,
    prune_to_sparsity,
    random_structured,
    random_unstructured,
    sparsity,
)
from minidl.compress.prune.report import SparsityReport, csr_bytes, sparsity_report, time_forward
from minidl.compress.prune.schedules import (
    GradualPruner,
    cubic_sparsity,
    iterative_pruning,
    lottery_ticket,
    random_reinit,
    rewind,
    snapshot,
)
from minidl.compress.prune.selection import structured_mask, unstructured_mask
from minidl.compress.prune.sensitivity import SensitivityResult, layer_sensitivity
from minidl.compress.prune.sparse import CSRMatrix, SparseLinear, to_sparse
from minidl.compress.prune.surgeon import obs_prune, optimal_brain_surgeon

# isort: split
# -- issue 19: activation-based neuron pruning (APoZ, mean |a|) and data-free neuron merging --
from minidl.compress.prune.activation import (
    ActivationStats,
    activation_importance,
    activation_statistics,
    activation_structured,
    apoz,
    mean_activation,
    prunable_layers,
)
from minidl.compress.prune.merging import Merge, merge_neurons, merge_saliency, merge_structured

__all__ = [
    "CSRMatrix", "CompactionReport", "GradualPruner", "MaskHook", "SensitivityResult", "SparseLinear",
    "SparsityReport", "apply_masks_", "average_gradients", "compact", "count_to_prune", "csr_bytes",
    "cubic_sparsity", "current_weight", "custom_from_mask", "enforce_masks", "from_mask", "get_mask",
    "global_unstructured", "gradient_saliency", "hessian", "hessian_diagonal", "hessian_vector_product",
    "identity", "is_pruned", "iterative_pruning", "l1_unstructured", "layer_sensitivity", "learnable",
    "ln_norm", "ln_structured", "load_pruned_state_dict", "lottery_ticket", "magnitude", "masks_restored",
    "obd_saliency", "obs_prune", "obs_saliency", "optimal_brain_surgeon", "parameters_to_prune",
    "prune_to_sparsity", "pruned_parameters", "random_reinit", "random_scores", "random_structured",
    "random_unstructured", "remove", "rewind", "set_mask", "snapshot", "sparsity", "sparsity_report",
    "structured_mask", "taylor_saliency", "time_forward", "to_sparse", "unstructured_mask",
    "validate_amount",
    # -- issue 19: activation-based pruning and neuron merging --
    "ActivationStats", "Merge", "activation_importance", "activation_statistics", "activation_structured",
    "apoz", "mean_activation", "merge_neurons", "merge_saliency", "merge_structured", "prunable_layers",
]
