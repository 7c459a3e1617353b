"""``MLP``: the multilayer perceptron every lesson starts from."""

from __future__ import annotations

from typing import Callable, Sequence

from minidl.nn.activation import Dropout, ReLU
from minidl.nn.container import Sequential
from minidl.nn.linear import Linear
from minidl.nn.module import Module


class MLP(Sequential):
    """Linear layers of the given sizes with an activation between them (none after the last).

    ``MLP([64, 128, 10])`` is ``Sequential(Linear(64, 128), ReLU(), Linear(128, 10))``:
    it outputs logits, ready for ``cross_entropy``. ``dropout > 0`` adds ``Dropout`` after
    each hidden activation.
    """

    def __init__(self, sizes: Sequence[int], activation: Callable[[], Module] = ReLU,
                 dropout: float = 0.0, bias: bool = True) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size (got {sizes})")
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias))
            if i < len(sizes) - 2:
                layers.append(activation())
                if dropout > 0:
                    layers.append(Dropout(dropout))
        super().__init__(*layers)
        self.__dict__["sizes"] = sizes
