"""The data pipeline's cost per batch, next to the training step it feeds: affine augmentation
(minidl's Numba kernel, its NumPy reference, PyTorch's affine_grid + grid_sample) and the
DataLoader against hand-written batch slicing. MNIST-sized batches: 128 images of 1×28×28."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread

BATCH, SIDE = 128, 28
TARGET = 1.0  # augmenting a batch should cost no more than one training step on it


def _images() -> np.ndarray:
    return np.random.default_rng(0).random((BATCH, 1, SIDE, SIDE)).astype(np.float32)


def augmentation_candidates() -> dict[str, object]:
    from minidl.data.transforms import RandomAffine
    from minidl.kernels.affine import bilinear_affine, bilinear_affine_reference

    images = _images()
    augment = RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=0)
    matrices = augment.matrices(BATCH, (SIDE, SIDE), np.random.default_rng(1)).astype(np.float32)
    candidates = {
        "resample, NumPy reference": lambda: bilinear_affine_reference(images, matrices, SIDE, SIDE, 0.0),
        "resample, Numba kernel": lambda: bilinear_affine(images, matrices, SIDE, SIDE, 0.0),
        "RandomAffine (draw + resample)": lambda: augment(images),
    }
    try:
        import torch
    except ImportError:
        return candidates
    # the same inverse maps, in the normalized coordinates of affine_grid(align_corners=True)
    to_unit = np.array([[2 / (SIDE - 1), 0, -1], [0, 2 / (SIDE - 1), -1], [0, 0, 1]])
    square = np.concatenate([matrices.astype(np.float64), np.tile([[0.0, 0.0, 1.0]], (BATCH, 1, 1))], axis=1)
    theta = torch.tensor((to_unit @ square @ np.linalg.inv(to_unit))[:, :2], dtype=torch.float32)
    x = torch.from_numpy(images)

    def torch_resample():
        grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=True)
        return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    assert np.allclose(torch_resample().numpy(), candidates["resample, Numba kernel"](), atol=1e-5)
    candidates["resample, PyTorch grid_sample"] = torch_resample
    return candidates


def loader_candidates() -> dict[str, object]:
    from minidl.data import ArrayDataset, DataLoader

    rng = np.random.default_rng(0)
    x = rng.random((10_000, SIDE * SIDE), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    loader = DataLoader(ArrayDataset(x, y), BATCH, shuffle=True, seed=0)

    def by_hand() -> None:  # the floor: a permutation and one fancy index per batch
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            idx = order[start:start + BATCH]
            x[idx], y[idx]

    def minidl_loader() -> None:
        for _ in loader:
            pass

    return {"hand-written slicing": by_hand, "minidl DataLoader": minidl_loader}


def training_step() -> object:
    from benchmarks.bench_mlp import minidl_step

    step, _ = minidl_step([SIDE * SIDE, 256, 128, 10], BATCH)
    return step


def run(quick: bool = False) -> Section:
    """Every candidate on one thread: the kernel is serial, and so are NumPy's elementwise ops."""
    from minidl.threads import blas_threads

    try:
        import torch

        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    except ImportError:
        torch, torch_threads = None, 0
    try:
        with blas_threads(1):
            return _run(quick)
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)


def _run(quick: bool) -> Section:
    rows = []
    rounds = 5 if quick else 11
    step_time = measure({"step": training_step()}, number=20 if quick else 100, rounds=rounds)["step"].median_s
    rows.append([f"MLP 784-256-128-10 training step (context), batch {BATCH}", "minidl", fmt_time(step_time),
                 "", "", "—"])

    timings = measure(augmentation_candidates(), number=10 if quick else 50, rounds=rounds)
    reference = timings["resample, NumPy reference"].median_s
    for name, t in timings.items():
        rows.append([f"affine augmentation, {BATCH}×1×28×28", name, fmt_time(t.median_s), spread(t),
                     f"{BATCH / t.median_s:,.0f} images/s", f"{t.median_s / reference:.2f}×"])
    augment_cost = timings["RandomAffine (draw + resample)"].median_s / step_time

    batches = -(-10_000 // BATCH)
    timings = measure(loader_candidates(), number=2 if quick else 5, rounds=rounds)
    floor = timings["hand-written slicing"].median_s
    for name, t in timings.items():
        rows.append([f"one epoch of 10,000 × 784 in batches of {BATCH}", name, fmt_time(t.median_s / batches),
                     spread(t), "per batch", f"{t.median_s / floor:.2f}×"])
    return Section(
        title="Data pipeline: augmentation and loading, per batch",
        header=["case", "implementation", "median", "spread", "throughput", "vs first row of the case"],
        rows=rows,
        notes=[f"target: augmenting a batch (RandomAffine) costs ≤ {TARGET:.0f}× one training step on it; "
               f"measured {augment_cost:.2f}× ({'met' if augment_cost <= TARGET else 'not met'})",
               "the Numba kernel is what minidl runs on NumPy arrays; the reference is its fallback "
               "(CuPy, MINIDL_NUMBA=0) and the specification the kernel is tested against",
               "one thread everywhere (BLAS via minidl.threads.blas_threads, PyTorch via set_num_threads): "
               "the kernel is serial"])
