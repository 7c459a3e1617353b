"""``Compose``: transforms applied one after another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class Compose:
    """Apply ``transforms`` in order: ``Compose([t1, t2, t3])(x) = t3(t2(t1(x)))`` (torchvision's name).

    Each transform is any callable from a batch of features to a batch of features,
    such as the augmentations and scalers in :mod:`minidl.data.transforms`.
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transforms[{i}] is not callable (got {type(t).__name__})")
        self.transforms = transforms

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
