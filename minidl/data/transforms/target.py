"""Label transforms: ``OneHot``."""

from __future__ import annotations

from typing import Any

from minidl.data.transforms.base import Transform


class OneHot(Transform):
    """Class indices → one-hot rows: y ↦ e_y ∈ {0, 1}^num_classes, as ``dtype`` (float32 by default).

    A label transform, for losses that compare against a probability vector (MSE,
    distillation): in a DataLoader it turns the labels of each batch and leaves the
    features alone. Built on :func:`minidl.nn.functional.one_hot`, which raises for
    indices outside [0, num_classes).
    """

    def __init__(self, num_classes: int, dtype: str = "float32") -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int (got {num_classes!r})")
        self.num_classes = num_classes
        self.dtype = dtype

    def __call__(self, y: Any) -> Any:
        from minidl.nn.functional import one_hot

        return one_hot(y, self.num_classes).data.astype(self.dtype)

    def apply_batch(self, x: Any, y: Any) -> tuple[Any, Any]:
        return x, self(y)

    def __repr__(self) -> str:
        return f"OneHot(num_classes={self.num_classes}, dtype={self.dtype!r})"
