"""How much to prune: PyTorch's ``amount`` semantics, in one place.

``amount`` is either a fraction (a float in [0, 1]) or a count (an int ≥ 0):

    k = amount                    for an int
    k = round(amount · n)         for a float (Python's round: halves go to the even integer)

so 0.4 of 17 units is round(6.8) = 7 and 0.5 of 5 units is round(2.5) = 2. An int of 1
prunes one unit; a float of 1.0 prunes them all. ``n`` counts only the units that are
still alive, so pruning twice at 0.5 leaves a quarter of the weights (75% sparsity).
"""

from __future__ import annotations

import numbers

Amount = int | float


def validate_amount(amount: object) -> None:
    """Raise TypeError unless ``amount`` is a real number, ValueError unless it is in range.

    Differs from PyTorch in one place: a bool is refused (PyTorch reads ``True`` as 1),
    because ``amount=True`` is always a slip.
    """
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"amount must be an int (a count) or a float (a fraction) "
                        f"(got {type(amount).__name__} {amount!r})")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"amount must be a non-negative int or a float in [0, 1] (got {amount})")
    elif not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"amount must be a float in [0, 1] or a non-negative int (got {amount})")


def count_to_prune(amount: Amount, n: int) -> int:
    """The number k of units to prune out of ``n`` alive: ``amount`` if an int, else round(amount·n).

    Raises ValueError when an int amount exceeds ``n`` (there are not that many units left).
    """
    validate_amount(amount)
    if isinstance(amount, numbers.Integral):
        if amount > n:
            raise ValueError(f"amount={amount} is more units than are left to prune ({n})")
        return int(amount)
    return int(round(float(amount) * n))
