"""``Transform`` (the base of minidl's transforms) and ``Compose``."""

from __future__ import annotations

from typing import Any, Callable, Sequence


class Transform:
    """A transform of one array: ``t(x)``; inside a DataLoader, ``t.apply_batch(x, y)``.

    A :class:`~minidl.data.DataLoader` calls ``transform(x, y) -> (x, y)`` on every
    batch; for a :class:`Transform` it calls :meth:`apply_batch` instead, which applies
    the transform to the features and leaves the labels alone (or, for a label
    transform such as :class:`~minidl.data.transforms.OneHot`, the other way round).
    So ``DataLoader(train, 64, transform=RandomAffine(...))`` just works, and the same
    object transforms a plain array: ``scaler(test.features)``.
    """

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def apply_batch(self, x: Any, y: Any) -> tuple[Any, Any]:
        """(features, labels) → (self(features), labels)."""
        return self(x), y


class Compose(Transform):
    """Apply ``transforms`` in order: ``Compose([t1, t2, t3])(x) = t3(t2(t1(x)))`` (torchvision's name).

    Each item is a :class:`Transform` or any callable from features to features; in a
    DataLoader each :class:`Transform` item handles the (x, y) pair its own way (so a
    label transform may sit in the list) and plain callables see the features.
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

    def apply_batch(self, x: Any, y: Any) -> tuple[Any, Any]:
        for t in self.transforms:
            if isinstance(t, Transform):
                x, y = t.apply_batch(x, y)
            else:
                x = t(x)
        return x, y

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
