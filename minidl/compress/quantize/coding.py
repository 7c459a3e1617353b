"""Huffman coding of quantized weights (Deep Compression's stage 3), and the sparse layout it codes.

After k-means, a weight is a cluster index whose values are far from equally likely
(the clusters near zero are crowded). A Huffman code gives the frequent indices short
codewords: with symbol probabilities p_s and codeword lengths ℓ_s, the mean length
L = Σ p_s ℓ_s is the smallest any prefix code can reach, and it satisfies

    H ≤ L < H + 1,    H = −Σ p_s log₂ p_s   (the entropy, in bits per symbol)

This module builds the code (code lengths by repeatedly merging the two rarest
subtrees, then canonical codewords from the lengths, so that storing one length per
symbol is enough to rebuild the code), and encodes and decodes real bit streams.

Pruned weights are not stored: :func:`sparse_stream` lists the kept weights with the gap
from the previous kept position (Han et al.'s relative index, ``gap_bits`` bits; a gap too
long to fit is bridged by a filler entry that decodes to 0), so pruning + sharing +
Huffman is: Huffman(gaps) + Huffman(indices) + codebook.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def entropy_bits(counts: Any) -> float:
    """H = −Σ p_s log₂ p_s with p_s = count_s / Σ count, over the symbols that occur."""
    c = np.asarray(list(counts.values()) if isinstance(counts, dict) else counts, dtype=np.float64)  # host
    c = c[c > 0]
    if c.size == 0:
        return 0.0
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def huffman_code_lengths(counts: dict[int, int]) -> dict[int, int]:
    """Codeword length per symbol of a Huffman code for these counts (symbols with count > 0).

    Repeatedly merge the two subtrees of smallest total count (ties: the subtree made
    first); a symbol's length is its depth. A single symbol gets length 1 (one bit per
    occurrence: a code needs at least one bit to say that a symbol is there).
    """
    live = {s: int(c) for s, c in counts.items() if c > 0}
    if any(c < 0 for c in counts.values()):
        raise ValueError("counts must be non-negative")
    if not live:
        return {}
    if len(live) == 1:
        return {next(iter(live)): 1}
    heap = [(c, i, [s]) for i, (s, c) in enumerate(sorted(live.items()))]
    heapq.heapify(heap)
    depth = dict.fromkeys(live, 0)
    tiebreak = len(heap)
    while len(heap) > 1:
        c1, _, a = heapq.heappop(heap)
        c2, _, b = heapq.heappop(heap)
        for s in a + b:
            depth[s] += 1
        heapq.heappush(heap, (c1 + c2, tiebreak, a + b))
        tiebreak += 1
    return depth


def canonical_codes(lengths: dict[int, int]) -> dict[int, tuple[int, int]]:
    """Canonical codewords {symbol: (code, length)}: shorter first, then by symbol, counting up.

    The codewords follow from the lengths alone, which is why a file stores only the lengths.
    """
    code, prev_len, out = 0, 0, {}
    for s, n in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        code <<= n - prev_len
        out[s] = (code, n)
        code += 1
        prev_len = n
    return out


@dataclass
class HuffmanCode:
    """A prefix code for a set of symbols: ``encode`` to bytes, ``decode`` back, exactly."""

    lengths: dict[int, int]

    @classmethod
    def fit(cls, symbols: Any) -> HuffmanCode:
        """The Huffman code of the symbol frequencies in ``symbols`` (any integers)."""
        return cls(huffman_code_lengths(Counter(np.asarray(symbols).ravel().tolist())))  # host

    @property
    def codes(self) -> dict[int, tuple[int, int]]:
        return canonical_codes(self.lengths)

    def mean_length(self, counts: dict[int, int]) -> float:
        """L = Σ p_s ℓ_s: bits per symbol for these counts."""
        total = sum(counts.values())
        return sum(c * self.lengths[s] for s, c in counts.items()) / total if total else 0.0

    def table_nbytes(self) -> int:
        """What a file needs to rebuild the code: one byte per symbol (its length; symbols dense)."""
        return (max(self.lengths) + 1) if self.lengths else 0

    def encode(self, symbols: Any) -> tuple[bytes, int]:
        """The bit stream of ``symbols``: (bytes, number of bits), most significant bit first."""
        s = np.asarray(symbols, dtype=np.int64).ravel()  # host
        if s.size == 0:
            return b"", 0
        codes = self.codes
        unknown = set(np.unique(s).tolist()) - set(codes)
        if unknown:
            raise ValueError(f"encode: symbols {sorted(unknown)[:5]} are not in the code "
                             f"(it codes {sorted(codes)[:10]}...)")
        table = np.zeros((max(codes) - min(codes) + 1, 2), dtype=np.int64)  # host
        base = min(codes)
        for sym, (code, n) in codes.items():
            table[sym - base] = code, n
        code, length = table[s - base, 0], table[s - base, 1]
        j = np.arange(int(length.max()))[None, :]  # host
        bits = (code[:, None] >> (length[:, None] - 1 - j).clip(0)) & 1  # bit j of a codeword: MSB first
        used = j < length[:, None]
        stream = bits[used].astype(np.uint8)
        return np.packbits(stream).tobytes(), int(stream.size)

    def decode(self, data: bytes, nbits: int, count: int) -> np.ndarray:
        """The first ``count`` symbols of a stream made by :meth:`encode`."""
        if count == 0:
            return np.zeros(0, dtype=np.int64)  # host
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:nbits]
        width = max(self.lengths.values())
        padded = np.concatenate([bits, np.zeros(width, np.uint8)]).astype(np.int64)  # host
        # window[p] = the next `width` bits from position p as an integer: one lookup per symbol
        window = np.zeros(nbits + 1, dtype=np.int64)  # host
        for j in range(width):
            window = (window << 1) | padded[j:j + nbits + 1]
        lookup_sym = np.full(1 << width, -1, dtype=np.int64)  # host
        lookup_len = np.zeros(1 << width, dtype=np.int64)  # host
        for sym, (code, n) in self.codes.items():
            lo = code << (width - n)
            lookup_sym[lo:lo + (1 << (width - n))] = sym
            lookup_len[lo:lo + (1 << (width - n))] = n
        out = np.empty(count, dtype=np.int64)  # host
        p = 0
        for i in range(count):
            if p >= nbits:
                raise ValueError(f"decode: the stream ended after {i} of {count} symbols")
            w = window[p]
            out[i] = lookup_sym[w]
            p += lookup_len[w]
        return out


def is_prefix_free(codes: dict[int, tuple[int, int]]) -> bool:
    """No codeword is the beginning of another (so a stream decodes one way only)."""
    words = sorted(format(c, f"0{n}b") for c, n in codes.values())
    return all(not b.startswith(a) for a, b in zip(words, words[1:]))


@dataclass
class SparseStream:
    """Kept weights in order as (gap from the previous kept position, symbol); fillers are symbol ``filler``."""

    gaps: np.ndarray
    symbols: np.ndarray
    filler: int
    size: int  # positions in the tensor

    def positions_and_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        pos = np.cumsum(self.gaps) - 1
        real = self.symbols != self.filler
        return pos[real], self.symbols[real]


def sparse_stream(index: np.ndarray, pruned: int = -1, k: int | None = None, gap_bits: int = 4) -> SparseStream:
    """Han et al.'s relative-index layout of a flattened index array, pruned entries left out.

    Each kept entry stores the gap g ∈ [1, 2^gap_bits] from the previous kept position (the
    first from position −1); a run of pruned entries longer than that is bridged by filler
    entries (symbol ``k``, decoding to 0), each a maximal jump.
    """
    flat = np.asarray(index).ravel()  # host
    k = int(flat.max()) + 1 if k is None else k
    max_gap = 2 ** gap_bits
    kept = np.flatnonzero(flat != pruned)
    gap = np.diff(kept, prepend=-1)
    fillers = (gap - 1) // max_gap  # each bridges max_gap positions
    counts = fillers + 1
    entry = np.repeat(np.arange(kept.size), counts)  # host
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)  # host
    last = within == fillers[entry]  # the entry itself comes after its fillers
    gaps = np.where(last, (gap - fillers * max_gap)[entry], max_gap)
    symbols = np.where(last, flat[kept].astype(np.int64)[entry], k)
    return SparseStream(gaps.astype(np.int64), symbols.astype(np.int64), k, flat.size)


@dataclass
class CodedSize:
    """Bytes of a tensor stored sparse + Huffman-coded, by part."""

    index_bits: int
    gap_bits: int
    codebook_bytes: int
    table_bytes: int

    @property
    def nbytes(self) -> int:
        return math.ceil(self.index_bits / 8) + math.ceil(self.gap_bits / 8) + self.codebook_bytes + self.table_bytes


def huffman_nbytes(index: np.ndarray, k: int, value_bytes: int = 4, gap_bits: int = 4,
                   pruned: int = -1) -> CodedSize:
    """Size of a (possibly pruned) index tensor stored as Huffman(gaps) + Huffman(symbols) + codebook.

    Encodes both streams for real (so the size is the length of an actual bit stream).
    """
    stream = sparse_stream(index, pruned, k, gap_bits)
    sym_code, gap_code = HuffmanCode.fit(stream.symbols), HuffmanCode.fit(stream.gaps - 1)
    _, sym_bits = sym_code.encode(stream.symbols)
    _, g_bits = gap_code.encode(stream.gaps - 1)
    return CodedSize(sym_bits, g_bits, k * value_bytes, sym_code.table_nbytes() + gap_code.table_nbytes())


def fixed_width_sparse_nbytes(stream: SparseStream, value_bits: int, gap_bits: int = 4) -> int:
    """The sparse layout without Huffman: ⌈entries · (value_bits + gap_bits) / 8⌉ bytes.

    A filler entry needs a value code that decodes to 0: int8 has one (q = 0); a full
    codebook of 2^b centroids has none, so pass b + 1 bits when ``stream`` holds fillers.
    """
    return math.ceil(stream.gaps.size * (value_bits + gap_bits) / 8)


def optimal_prefix_cost(counts: Sequence[int]) -> int:
    """min Σ count_s · ℓ_s over all prefix codes, by brute force over lengths meeting Kraft (small cases).

    An independent check of :func:`huffman_code_lengths` for tests: it knows nothing about
    merging, only that a prefix code with lengths ℓ exists iff Σ 2^−ℓ ≤ 1.
    """
    n = len(counts)
    if n == 1:
        return counts[0]
    best = math.inf

    def search(i: int, kraft: float, cost: int) -> None:
        nonlocal best
        if cost >= best or kraft > 1:
            return
        if i == n:
            best = cost
            return
        for length in range(1, n):
            search(i + 1, kraft + 2.0 ** -length, cost + counts[i] * length)

    search(0, 0.0, 0)
    return int(best)
