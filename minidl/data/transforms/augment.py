"""Random image augmentation for batches (torchvision's names), every one built on
:func:`~minidl.data.transforms.affine.affine_resample`.

Each transform takes a batch of images, (N, H, W) or (N, C, H, W), and draws fresh
parameters for every image on every call. With ``image_shape=(H, W)`` (or (C, H, W)) it
also takes flattened rows (N, H·W), as the MLP loaders yield them, and returns rows.
Shape and dtype are kept (except ``RandomCrop`` to a different size); labels are never
touched: in a :class:`~minidl.data.DataLoader` (``transform=RandomAffine(...)``) they
change the features of each batch and pass the labels through.

Randomness: ``seed=k`` gives the transform its own generator, so a run is reproducible
on its own; ``seed=None`` draws from minidl's generator (fixed by
:func:`minidl.manual_seed`). Parameters are drawn on the host (a few numbers per
image), so a seed gives the same augmentation on every array backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from minidl import backend
from minidl.data.splits import seeded_generator
from minidl.data.transforms.affine import affine_matrices, affine_resample, as_image_batch, crop_matrices
from minidl.data.transforms.base import Transform
from minidl.random import normal


def _range(value: float | tuple[float, float], name: str, centre: float = 0.0) -> tuple[float, float]:
    """``value`` as a (low, high) range: a number d means (centre − d, centre + d)."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 when given as one number (got {value})")
        return (centre - float(value), centre + float(value))
    low, high = (float(v) for v in value)
    if low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high (got {value})")
    return low, high


class RandomTransform(Transform):
    """Base of the random transforms: seeding, and flattened rows ↔ images."""

    def __init__(self, image_shape: tuple[int, ...] | None = None, seed: int | None = None) -> None:
        if image_shape is not None and (len(image_shape) not in (2, 3) or min(image_shape) < 1):
            raise ValueError(f"image_shape must be (H, W) or (C, H, W) (got {image_shape})")
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.seed = seed
        self._generator = seeded_generator(seed) if seed is not None else None

    def generator(self) -> Any:
        """The generator the next call draws from."""
        return self._generator if self._generator is not None else seeded_generator(None)

    def _as_images(self, x: Any) -> tuple[Any, Callable[[Any], Any]]:
        if self.image_shape is None:
            as_image_batch(x)
            return x, lambda out: out
        size = math.prod(self.image_shape)
        if not hasattr(x, "shape") or x.ndim != 2 or x.shape[1] != size:
            raise ValueError(f"with image_shape={self.image_shape} the input must be rows of shape "
                             f"(N, {size}) (got {getattr(x, 'shape', type(x).__name__)})")
        return x.reshape(len(x), *self.image_shape), lambda out: out.reshape(len(out), -1)

    def __call__(self, x: Any) -> Any:
        images, restore = self._as_images(x)
        return restore(self.apply(images, self.generator()))

    def apply(self, images: Any, rng: Any) -> Any:
        raise NotImplementedError

    def _describe(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = f", image_shape={self.image_shape}" if self.image_shape else ""
        return f"{type(self).__name__}({self._describe()}{extra}, seed={self.seed})"


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (exact pixel copies).

    Fine for clothing or photos; wrong for digits and letters, whose mirror image is
    another symbol or none.
    """

    def __init__(self, p: float = 0.5, image_shape: tuple[int, ...] | None = None,
                 seed: int | None = None) -> None:
        super().__init__(image_shape, seed)
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1] (got {p})")
        self.p = p

    def apply(self, images: Any, rng: Any) -> Any:
        n, (h, w) = len(images), images.shape[-2:]
        return affine_resample(images, affine_matrices(n, (h, w), hflip=rng.random(n) < self.p))

    def _describe(self) -> str:
        return f"p={self.p}"


class RandomAffine(RandomTransform):
    """Rotate, shift and zoom each image by random amounts, in one bilinear resampling.

    Per image: angle θ ~ U(``degrees``) (a number d means (−d, d)), counter-clockwise;
    shift (t_x, t_y) with t_x ~ U(−a·W, a·W), t_y ~ U(−b·H, b·H) for ``translate`` =
    (a, b), rounded to whole pixels as torchvision does; zoom s ~ U(``scale``). The map
    is the one :func:`~minidl.data.transforms.affine.affine_matrices` documents; pixels
    from outside the image read ``fill``.
    """

    def __init__(self, degrees: float | tuple[float, float] = 0.0,
                 translate: tuple[float, float] | None = None,
                 scale: tuple[float, float] | None = None, fill: float = 0.0,
                 image_shape: tuple[int, ...] | None = None, seed: int | None = None) -> None:
        super().__init__(image_shape, seed)
        self.degrees = _range(degrees, "degrees")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"translate must be fractions (a, b) in [0, 1] (got {translate})")
        self.translate = translate
        if scale is not None and not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high (got {scale})")
        self.scale = scale
        self.fill = fill

    def matrices(self, n: int, size: tuple[int, int], rng: Any) -> Any:
        """The (n, 2, 3) maps for ``n`` images of ``size`` = (H, W), drawn from ``rng``."""
        h, w = size
        angle = rng.uniform(*self.degrees, n)
        if self.translate is not None:
            a, b = self.translate
            shift = [[round(float(tx)), round(float(ty))]
                     for tx, ty in zip(rng.uniform(-a * w, a * w, n), rng.uniform(-b * h, b * h, n))]
        else:
            shift = (0.0, 0.0)
        zoom = rng.uniform(*self.scale, n) if self.scale is not None else 1.0
        return affine_matrices(n, size, angle=angle, translate=shift, scale=zoom)

    def apply(self, images: Any, rng: Any) -> Any:
        return affine_resample(images, self.matrices(len(images), images.shape[-2:], rng), fill=self.fill)

    def _describe(self) -> str:
        return f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, fill={self.fill}"


class RandomRotation(RandomAffine):
    """Rotate each image by θ ~ U(``degrees``) counter-clockwise (a number d means (−d, d))."""

    def __init__(self, degrees: float | tuple[float, float], fill: float = 0.0,
                 image_shape: tuple[int, ...] | None = None, seed: int | None = None) -> None:
        super().__init__(degrees=degrees, fill=fill, image_shape=image_shape, seed=seed)


class RandomCrop(RandomTransform):
    """Pad each image by ``padding`` pixels of ``fill``, then cut a random ``size`` window.

    The classic CIFAR recipe (pad 4, crop 32) shifts content by up to ``padding`` pixels.
    Window corner (top, left) ~ uniform integers in [−p, H + p − h] × [−p, W + p − w], so
    pixels are copied exactly. ``size`` is (h, w) or one number for a square; by default
    the input's size.
    """

    def __init__(self, size: int | tuple[int, int] | None = None, padding: int = 0, fill: float = 0.0,
                 image_shape: tuple[int, ...] | None = None, seed: int | None = None) -> None:
        super().__init__(image_shape, seed)
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative int (got {padding!r})")
        self.size = (size, size) if isinstance(size, int) else (tuple(size) if size is not None else None)
        self.padding = padding
        self.fill = fill

    def apply(self, images: Any, rng: Any) -> Any:
        n, (h, w) = len(images), images.shape[-2:]
        out_h, out_w = self.size if self.size is not None else (h, w)
        p = self.padding
        if out_h > h + 2 * p or out_w > w + 2 * p:
            raise ValueError(f"crop size {(out_h, out_w)} is larger than the padded image "
                             f"{(h + 2 * p, w + 2 * p)}")
        if self.image_shape is not None and (out_h, out_w) != (h, w):
            raise ValueError("with image_shape (flattened rows) the crop must keep the image size")
        top = rng.integers(-p, h + p - out_h + 1, n)
        left = rng.integers(-p, w + p - out_w + 1, n)
        return affine_resample(images, crop_matrices(n, top, left), out_size=(out_h, out_w), fill=self.fill)

    def _describe(self) -> str:
        return f"size={self.size}, padding={self.padding}, fill={self.fill}"


class GaussianNoise(RandomTransform):
    """Add independent noise to every pixel: x' = x + ε, ε ~ N(``mean``, ``sigma``²).

    ``clip=True`` clips the result to [0, 1], the range of minidl's image loaders
    (torchvision's ``GaussianNoise`` does the same). Works on any float array shape.
    """

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True,
                 seed: int | None = None) -> None:
        super().__init__(None, seed)
        if not sigma >= 0:
            raise ValueError(f"sigma must be >= 0 (got {sigma})")
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def __call__(self, x: Any) -> Any:
        if not hasattr(x, "dtype") or x.dtype.kind != "f":
            got = getattr(x, "dtype", type(x).__name__)
            raise TypeError(f"GaussianNoise needs a float array (got {got})")
        xp = backend.get_array_module(x)
        out = x + normal(x.shape, self.mean, self.sigma, x.dtype, xp=xp, generator=self.generator())
        return xp.clip(out, 0.0, 1.0) if self.clip else out

    def _describe(self) -> str:
        return f"mean={self.mean}, sigma={self.sigma}, clip={self.clip}"
