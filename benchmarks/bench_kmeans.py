"""K-means weight sharing: what one Lloyd iteration costs, and why there is no Numba kernel.

The reference iteration assigns every weight to its nearest centroid (``assign``: a binary
search per weight, O(n log k)) and averages the clusters (``update_centroids``). The iteration
``kmeans_quantize`` runs sorts the weights once and then only finds the k − 1 cluster
boundaries (O(k log n)) and takes sums from prefix sums, so a compiled assignment kernel would
speed up a step that is no longer there. Rows: one iteration of each, on the first layer of an
MNIST MLP (784 × 256 weights), and a whole ``kmeans_quantize`` call.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread


def run(quick: bool = False) -> Section:
    from minidl.compress.quantize import kmeans

    values = np.random.default_rng(0).normal(size=784 * 256)
    rows = []
    for bits in (5, 8):
        c = kmeans.initial_centroids(values, 2 ** bits, "linear")

        def reference(c=c) -> None:
            kmeans.update_centroids(values, kmeans.assign(values, c), c)

        def sorted_iteration(c=c) -> None:  # 20 iterations, sort included, per iteration below
            kmeans.lloyd(values, c, max_iter=20, tol=0.0)

        t = measure({"reference": reference, "sorted": sorted_iteration}, number=1, rounds=3 if quick else 7)
        ref, fast = t["reference"], t["sorted"]
        per_iteration = fast.median_s / 20
        rows.append([f"{bits} bits (k = {2 ** bits}): assign + update (reference)", fmt_time(ref.median_s),
                     spread(ref), "1.0×"])
        rows.append([f"{bits} bits: one iteration on sorted values (sort amortized over 20)",
                     fmt_time(per_iteration), spread(fast), f"{ref.median_s / per_iteration:.1f}×"])
    whole = measure({"kmeans_quantize": lambda: kmeans.kmeans_quantize(values.astype(np.float32), 5)},
                    number=1, rounds=3 if quick else 5)["kmeans_quantize"]
    rows.append(["kmeans_quantize(784 × 256, 5 bits), up to 300 iterations", fmt_time(whole.median_s),
                 spread(whole), ""])
    return Section(title="K-means weight sharing: one Lloyd iteration, reference vs sorted",
                   header=["what", "median", "spread", "speed-up"], rows=rows,
                   notes=["no Numba kernel: sorting once turns the assignment into k − 1 binary searches"])
