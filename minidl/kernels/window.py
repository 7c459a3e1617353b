"""Where the sliding windows of a convolution or a pooling layer sit.

Output position (oy, ox) looks at the input rows and columns

    iy = oy·sh − ph + i·dh   for i in 0..kh−1,      ix = ox·sw − pw + j·dw   for j in 0..kw−1

(stride s, top/left padding p, dilation d). Positions outside the input are padding: zero
for a convolution and an average, −∞ for a max. Only the top/left padding is stored; the
output size decides how far the windows reach on the bottom/right, which is how
``ceil_mode`` windows that run past the padded input are expressed.
"""

from __future__ import annotations

from typing import NamedTuple


class Window(NamedTuple):
    """Kernel size, stride, top/left padding, dilation and output size, per axis (rows, columns)."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    oh: int
    ow: int

    def padded_extent(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding that makes every window fit inside the array."""
        need_h = (self.oh - 1) * self.sh + (self.kh - 1) * self.dh + 1
        need_w = (self.ow - 1) * self.sw + (self.kw - 1) * self.dw + 1
        return self.ph, max(need_h - h - self.ph, 0), self.pw, max(need_w - w - self.pw, 0)


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1 (⌈⌉ with ``ceil_mode``).

    With ``ceil_mode`` a last window must still start inside the input or its left padding
    (PyTorch's rule), so the count can come out one smaller than the ceiling.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out
    return span // stride + 1
