"""Loss functions and their Modules, with PyTorch's names, arguments and reductions.

=====================  ==============================================  =========================
file                   functions (``minidl.nn.functional``)            Modules (``minidl.nn``)
=====================  ==============================================  =========================
``cross_entropy.py``   ``cross_entropy``, ``nll_loss``                 ``CrossEntropyLoss``,
                                                                       ``NLLLoss``
``binary.py``          ``binary_cross_entropy``,                       ``BCELoss``,
                       ``binary_cross_entropy_with_logits``            ``BCEWithLogitsLoss``
``regression.py``      ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,  ``MSELoss``, ``L1Loss``,
                       ``huber_loss``                                  ``SmoothL1Loss``, ``HuberLoss``
``divergence.py``      ``kl_div``                                      ``KLDivLoss``
``modules.py``         —                                               every Module above
=====================  ==============================================  =========================

Each function's docstring states its formula; each Module is a thin wrapper of its function.
"""

from minidl.nn.losses.binary import binary_cross_entropy, binary_cross_entropy_with_logits
from minidl.nn.losses.cross_entropy import cross_entropy, nll_loss, target_coefficients
from minidl.nn.losses.divergence import kl_div
from minidl.nn.losses.modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minidl.nn.losses.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

__all__ = [
    # classification
    "cross_entropy", "nll_loss", "target_coefficients", "CrossEntropyLoss", "NLLLoss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "BCELoss", "BCEWithLogitsLoss",
    # regression
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
    # distributions
    "kl_div", "KLDivLoss",
]
