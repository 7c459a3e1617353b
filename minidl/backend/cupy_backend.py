"""Loading CuPy, with errors that tell a learner what is wrong and what to do."""

from __future__ import annotations

from minidl.backend import Backend

INSTALL_HINT = ("install it with `pip install \"minidl[cupy]\"` (CUDA 12; for CUDA 11 or 13 install "
                "`cupy-cuda11x` or `cupy-cuda13x` instead)")


def load_cupy() -> Backend:
    """The CuPy backend, or a RuntimeError saying whether CuPy or a GPU is missing."""
    try:
        import cupy
    except ImportError as e:
        raise RuntimeError(f"the 'cupy' backend needs CuPy, which is not installed here: {INSTALL_HINT}. "
                           f"({e})") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError, missing driver, ...
        raise RuntimeError(f"CuPy is installed but found no usable CUDA GPU ({type(e).__name__}: {e}); "
                           "use the 'numpy' backend on this machine") from None
    if count == 0:
        raise RuntimeError("CuPy is installed but this machine has no CUDA GPU; use the 'numpy' backend")

    def synchronize() -> None:
        cupy.cuda.Device().synchronize()

    return Backend("cupy", cupy, cupy.ndarray, "gpu", cupy.asnumpy, synchronize)
