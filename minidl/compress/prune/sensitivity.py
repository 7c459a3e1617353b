"""Per-layer sensitivity: how much each layer can be pruned on its own before accuracy drops.

For each layer and each sparsity s, prune only that layer to s by magnitude, measure,
and put the layer back exactly as it was. Layers whose curve stays flat can take a
high sparsity; the ones that fall early (often the first and the last layer) should be
pruned less — or left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from minidl.compress.prune.masks import masks_restored
from minidl.compress.prune.methods import Target, _targets, prune_to_sparsity
from minidl.nn.module import Module


@dataclass
class SensitivityResult:
    """``metric[layer][i]`` measured with only ``layer`` pruned to ``sparsities[i]``."""

    sparsities: list[float]
    metric: dict[str, list[float]]
    metric_name: str = "accuracy"

    def __str__(self) -> str:
        head = ["layer"] + [f"{s:.0%}" for s in self.sparsities]
        rows = [head] + [[name] + [f"{v:.3g}" for v in values] for name, values in self.metric.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                 for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        title = f"{self.metric_name} with one layer pruned (columns: that layer's sparsity)"
        return title + "\n" + "\n".join(lines)

    def plot(self, title: str = "Per-layer sensitivity") -> Any:
        """One curve per layer: the metric against that layer's sparsity (a matplotlib figure)."""
        from minidl.course import new_figure

        fig, ax = new_figure(figsize=(6, 3.6))
        for name, values in self.metric.items():
            ax.plot([100 * s for s in self.sparsities], values, marker="o", label=name)
        ax.set(xlabel="sparsity of that layer alone (%)", ylabel=self.metric_name, title=title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        return fig


def layer_sensitivity(model: Module, evaluate: Callable[[Module], float], sparsities: Sequence[float],
                      targets: Iterable[Target] | None = None,
                      metric_name: str = "accuracy") -> SensitivityResult:
    """Prune each target alone to each sparsity (L1 magnitude), call ``evaluate(model)``, undo.

    ``targets`` defaults to every weight matrix / kernel
    (:func:`~minidl.compress.prune.methods.parameters_to_prune`). The model is left
    exactly as it was, masks included.
    """
    from minidl.compress.prune.methods import parameters_to_prune

    targets = _targets(parameters_to_prune(model) if targets is None else targets, "layer_sensitivity")
    names = {id(m): n for n, m in model.named_modules()}
    result: dict[str, list[float]] = {}
    for module, name in targets:
        label = f"{names.get(id(module), type(module).__name__)}.{name}".lstrip(".")
        values = []
        for s in sparsities:
            with masks_restored([(module, name)]):
                prune_to_sparsity([(module, name)], s)
                values.append(float(evaluate(model)))
        result[label] = values
    return SensitivityResult([float(s) for s in sparsities], result, metric_name)
