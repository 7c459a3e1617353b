"""Pruning: masks, criteria, schedules — and the compaction and sparse kernels that make it pay.

    from minidl.compress import prune
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.9)
    prune.enforce_masks(optimizer, model)        # pruned weights stay exactly zero
    ...fine-tune...
    small, report = prune.compact(model)         # a genuinely smaller dense model
    print(prune.sparsity_report(model))

Contents, in the order a pruning run meets them (``__all__`` below has the same groups):

1. **How much** (``amount``): ``validate_amount``, ``count_to_prune``.
2. **Importance scores** (``criteria``): ``magnitude``, ``ln_norm``, ``random_scores``,
   ``gradient_saliency``, ``taylor_saliency``, ``obd_saliency``, ``obs_saliency``; what
   the saliencies need (``estimates``): ``average_gradients``, ``hessian``,
   ``hessian_diagonal``, ``hessian_vector_product``.
3. **Scores → mask** (``selection``): ``unstructured_mask``, ``structured_mask``.
4. **The reparametrization weight = orig ⊙ mask** (``masks``): ``custom_from_mask``,
   ``from_mask``, ``identity``, ``learnable``, ``get_mask``, ``set_mask``, ``is_pruned``,
   ``current_weight``, ``pruned_parameters``, ``apply_masks_``, ``enforce_masks``,
   ``MaskHook``, ``masks_restored``, ``remove``, ``load_pruned_state_dict``.
5. **PyTorch's pruning functions** (``methods``): ``l1_unstructured``,
   ``random_unstructured``, ``ln_structured``, ``random_structured``,
   ``global_unstructured``, ``parameters_to_prune``, ``prune_to_sparsity``, ``sparsity``.
6. **Optimal Brain Surgeon** (``surgeon``): ``optimal_brain_surgeon``, ``obs_prune``.
7. **Schedules** (``schedules``): ``cubic_sparsity``, ``GradualPruner``,
   ``iterative_pruning``, ``lottery_ticket``, ``snapshot``, ``rewind``, ``random_reinit``.
8. **Which layers tolerate it** (``sensitivity``): ``layer_sensitivity``, ``SensitivityResult``.
9. **Making it pay** (``compaction``, ``sparse``): ``compact``, ``CompactionReport``,
   ``CSRMatrix``, ``SparseLinear``, ``to_sparse``.
10. **Measuring it** (``report``): ``sparsity_report``, ``SparsityReport``, ``csr_bytes``,
    ``time_forward``.
11. **Neurons by their activations, and merging** (``activation``, ``merging``):
    ``activation_statistics``, ``ActivationStats``, ``apoz``, ``mean_activation``,
    ``activation_importance``, ``activation_structured``, ``prunable_layers`` (APoZ, Hu et al.
    2016); ``merge_saliency``, ``merge_neurons``, ``merge_structured``, ``Merge`` (data-free
    neuron merging, Srinivas & Babu 2015).
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
# 11. activation-based neuron pruning (APoZ, mean |a|) and data-free neuron merging
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
    # 1. how much
    "validate_amount", "count_to_prune",
    # 2. importance scores, and what the saliencies need
    "magnitude", "ln_norm", "random_scores", "gradient_saliency", "taylor_saliency", "obd_saliency",
    "obs_saliency", "average_gradients", "hessian", "hessian_diagonal", "hessian_vector_product",
    # 3. scores -> mask
    "unstructured_mask", "structured_mask",
    # 4. the reparametrization weight = orig * mask
    "custom_from_mask", "from_mask", "identity", "learnable", "get_mask", "set_mask", "is_pruned",
    "current_weight", "pruned_parameters", "apply_masks_", "enforce_masks", "MaskHook", "masks_restored",
    "remove", "load_pruned_state_dict",
    # 5. PyTorch's pruning functions
    "l1_unstructured", "random_unstructured", "ln_structured", "random_structured", "global_unstructured",
    "parameters_to_prune", "prune_to_sparsity", "sparsity",
    # 6. Optimal Brain Surgeon
    "optimal_brain_surgeon", "obs_prune",
    # 7. schedules
    "cubic_sparsity", "GradualPruner", "iterative_pruning", "lottery_ticket", "snapshot", "rewind",
    "random_reinit",
    # 8. which layers tolerate it
    "layer_sensitivity", "SensitivityResult",
    # 9. making it pay
    "compact", "CompactionReport", "CSRMatrix", "SparseLinear", "to_sparse",
    # 10. measuring it
    "sparsity_report", "SparsityReport", "csr_bytes", "time_forward",
    # 11. neurons by their activations, and merging near-duplicates
    "activation_statistics", "ActivationStats", "apoz", "mean_activation", "activation_importance",
    "activation_structured", "prunable_layers", "merge_saliency", "merge_neurons", "merge_structured", "Merge",
]
