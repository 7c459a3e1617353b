"""Convolutional networks used by the lessons, the tour and the benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from minidl.nn.activation import Dropout, Flatten, ReLU
from minidl.nn.container import Sequential
from minidl.nn.conv import Conv2d, MaxPool2d
from minidl.nn.linear import Linear
from minidl.nn.module import Module


class LeNet(Sequential):
    """The MNIST network of the source articles (PyTorch's MNIST example, without its dropout):

        conv 3×3, 32 → ReLU → conv 3×3, 64 → ReLU → max-pool 2 → flatten
        → linear 9216 → 128 → ReLU → linear 128 → 10

    No padding, so a 28×28 image becomes 26×26, 24×24, then 12×12 after pooling:
    64 · 12 · 12 = 9216 features. (The article's own code pads by 1 and flattens
    64 · 7 · 7 features, which does not match its layers; lesson 07 has it as an exercise.)
    It outputs logits, ready for ``cross_entropy``. ``dropout > 0`` adds Dropout after the
    pooling and after the hidden linear layer, as PyTorch's example does (0.25 and 0.5).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 dropout: float = 0.0) -> None:
        side = (image_size - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet needs images of at least 6×6 pixels (got image_size={image_size})")
        layers: list[Module] = [
            Conv2d(in_channels, 32, 3), ReLU(), Conv2d(32, 64, 3), ReLU(), MaxPool2d(2)]
        if dropout > 0:
            layers.append(Dropout(dropout / 2))
        layers += [Flatten(), Linear(64 * side * side, 128), ReLU()]
        if dropout > 0:
            layers.append(Dropout(dropout))
        layers.append(Linear(128, num_classes))
        super().__init__(*layers)


class SmallCNN(Sequential):
    """A two-block CNN for small images (the 8×8 digits): each block is
    conv 3×3 (padding 1) → ReLU → max-pool 2, then one linear layer to the classes.

    ``SmallCNN()`` on (N, 1, 8, 8): 8 channels at 4×4, then 16 channels at 2×2, 64 features.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8,
                 channels: Sequence[int] = (8, 16)) -> None:
        layers: list[Module] = []
        side, c_in = image_size, in_channels
        for c_out in channels:
            if side < 2:
                raise ValueError(f"SmallCNN: {len(channels)} blocks halve {image_size}×{image_size} "
                                 "images below 1 pixel; use fewer channels entries")
            layers += [Conv2d(c_in, c_out, 3, padding=1), ReLU(), MaxPool2d(2)]
            side, c_in = side // 2, c_out
        layers += [Flatten(), Linear(c_in * side * side, num_classes)]
        super().__init__(*layers)
