"""Hidden tests for the lessons' exercises: ``minidl.course_checks.check("04.2", my_adagrad_step)``.

Each check takes the learner's answer (usually a function on NumPy arrays), runs it on inputs
the learner has not seen, compares it with minidl's own implementation (the library is the
oracle: one formula, one place) and returns how many tests passed, or raises
:class:`~minidl.course.CheckFailed` naming the input, the expected and the returned value —
minitorch's autograded tasks, for a course read alone. The question each check answers is
in its lesson's exercise; the docstring below repeats the signature it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np  # host: the checks build their inputs on the CPU, as a learner's code does

from minidl.course import CheckFailed


def _rng(seed: int) -> np.random.Generator:  # host
    return np.random.default_rng(seed)  # host


def _expect_close(exercise: str, what: str, got: Any, expected: Any, rtol: float = 1e-5,
                  atol: float = 1e-7) -> None:
    got_array = np.asarray(got, dtype=np.float64)  # host
    expected_array = np.asarray(expected, dtype=np.float64)  # host
    if got_array.shape != expected_array.shape:
        raise CheckFailed(f"exercise {exercise}, {what}: expected shape {expected_array.shape}, "
                          f"your answer returned shape {got_array.shape}")
    if not np.allclose(got_array, expected_array, rtol=rtol, atol=atol):
        worst = np.unravel_index(np.argmax(np.abs(got_array - expected_array)), got_array.shape)
        raise CheckFailed(f"exercise {exercise}, {what}: expected {expected_array[worst]!r} at index "
                          f"{tuple(int(i) for i in worst)}, your answer returned {got_array[worst]!r}"
                          f"\n  expected: {np.array2string(expected_array, precision=5, threshold=12)}"
                          f"\n  returned: {np.array2string(got_array, precision=5, threshold=12)}")


def check_bias_gradient(answer: Callable[[np.ndarray], np.ndarray]) -> int:
    """01.2 — ``bias_grad(grad_out)``: the gradient of b in y = x + b (b broadcast over the rows)."""
    import minidl

    count = 0
    for seed, shape in enumerate([(4, 3), (1, 5), (7, 1), (16, 10)]):
        grad_out = _rng(seed).standard_normal(shape)
        b = minidl.tensor(np.zeros(shape[1]), requires_grad=True)  # host
        (minidl.tensor(np.ones(shape)) + b).backward(minidl.tensor(grad_out))  # host
        _expect_close("01.2", f"grad_out of shape {shape}", answer(grad_out), b.grad.numpy())
        count += 1
    return count


def check_logits_gradient(answer: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
    """02.2 — ``logits_grad(logits, labels)``: ∂L/∂z of the mean cross-entropy of a batch."""
    import minidl
    import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit

    count = 0
    for seed, (n, c) in enumerate([(1, 3), (5, 10), (32, 4)]):
        rng = _rng(seed)
        logits, labels = rng.standard_normal((n, c)) * 3, rng.integers(0, c, n)
        z = minidl.tensor(logits, requires_grad=True)
        F.cross_entropy(z, minidl.tensor(labels)).backward()
        _expect_close("02.2", f"a batch of {n} with {c} classes", answer(logits, labels), z.grad.numpy())
        count += 1
    return count


def check_momentum_limit(answer: Callable[[float, float], float]) -> int:
    """03.1 — ``momentum_step_limit(lr, momentum)``: the step of SGD with momentum after many equal
    gradients g = 1 (PyTorch's form)."""
    import minidl
    from minidl import optim

    count = 0
    for lr, mu in [(0.1, 0.9), (0.01, 0.99), (0.5, 0.0), (0.2, 0.5)]:
        theta = minidl.tensor(np.zeros(1), requires_grad=True)  # host
        opt = optim.SGD([theta], lr=lr, momentum=mu)
        for _ in range(3000):
            before = theta.item()
            theta.grad = minidl.tensor(np.ones(1))  # host
            opt.step()
        _expect_close("03.1", f"lr={lr}, momentum={mu}", answer(lr, mu), before - theta.item(), rtol=1e-4)
        count += 1
    return count


def check_adagrad_step(answer: Callable[..., tuple[np.ndarray, np.ndarray]]) -> int:
    """04.2 — ``adagrad_step(theta, g, s, lr, eps)`` → ``(new_theta, new_s)``: one Adagrad step
    (``s`` the sum of squared gradients so far, PyTorch's ε outside the square root)."""
    from minidl.optim import rules
    from minidl.optim.transforms import apply_updates

    count = 0
    for seed, lr in enumerate([0.1, 0.01, 1.0]):
        rng = _rng(seed)
        theta, s = rng.standard_normal(6), np.zeros(6)  # host
        rule = rules.adagrad(lr=lr, eps=1e-10)
        state = rule.init(theta)
        for step in range(3):
            g = rng.standard_normal(6)
            updates, state = rule.update(g, state, theta)
            expected = apply_updates(theta, updates)
            got_theta, s = answer(theta, g, s, lr, 1e-10)
            _expect_close("04.2", f"θ after step {step + 1} (lr={lr})", got_theta, expected)
            _expect_close("04.2", f"s after step {step + 1} (lr={lr})", s, state["sum"])
            theta = expected
            count += 1
    return count


def check_norm_penalty_gradient(answer: Callable[[np.ndarray, float], np.ndarray]) -> int:
    """05.2 — ``norm_penalty_grad(w, alpha)``: the gradient of α‖w‖₂ (the norm, not its square)."""
    import minidl

    count = 0
    for seed, alpha in enumerate([0.1, 1.0, 3e-3]):
        w = _rng(seed).standard_normal(5 + 3 * seed)
        t = minidl.tensor(w, requires_grad=True)
        (alpha * (t * t).sum() ** 0.5).backward()
        _expect_close("05.2", f"alpha={alpha}, w of length {w.size}", answer(w, alpha), t.grad.numpy())
        count += 1
    return count


def check_whitening(answer: Callable[[np.ndarray], np.ndarray]) -> int:
    """06.1 — ``whiten(X)``: features (rows are samples) with mean 0 and identity covariance."""
    count = 0
    for seed, (n, d) in enumerate([(2000, 2), (3000, 5)]):
        rng = _rng(seed)
        mixing = rng.standard_normal((d, d)) + 2 * np.eye(d)  # host
        x = rng.standard_normal((n, d)) @ mixing + rng.standard_normal(d) * 5
        z = np.asarray(answer(x), dtype=np.float64)  # host
        if z.shape != x.shape:
            raise CheckFailed(f"exercise 06.1: whiten(X) must keep X's shape {x.shape} (got {z.shape})")
        _expect_close("06.1", f"the column means of whiten(X) for X of shape {x.shape}", z.mean(axis=0),
                      np.zeros(d), atol=1e-6)  # host
        covariance = z.T @ z / n
        _expect_close("06.1", f"the covariance of whiten(X) for X of shape {x.shape}", covariance, np.eye(d),  # host
                      rtol=0, atol=2e-3)
        count += 1
    return count


def check_conv1x1(answer: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
    """07.3 — ``conv1x1(x, weight)``: a 1×1 convolution (x of shape (N, C, H, W), weight (O, C, 1, 1))
    written as one matrix product."""
    import minidl
    import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit

    count = 0
    for seed, (n, c, h, w, o) in enumerate([(1, 1, 2, 2, 1), (2, 3, 5, 4, 6), (4, 8, 7, 7, 2)]):
        rng = _rng(seed)
        x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 1, 1))
        expected = F.conv2d(minidl.tensor(x), minidl.tensor(weight)).numpy()
        _expect_close("07.3", f"x of shape {x.shape}, weight of shape {weight.shape}", answer(x, weight),
                      expected, rtol=1e-6, atol=1e-9)
        count += 1
    return count


def check_csr_bytes(answer: Callable[[int, int, int], int]) -> int:
    """08.4 — ``csr_bytes(rows, cols, nnz)``: the bytes of a float32 CSR matrix with int32 indices."""
    from minidl.compress.prune.sparse import CSRMatrix

    count = 0
    for seed, (rows, cols, density) in enumerate([(4, 5, 0.5), (64, 32, 0.1), (10, 10, 0.0), (3, 7, 1.0)]):
        dense = _rng(seed).standard_normal((rows, cols)).astype(np.float32)
        dense[_rng(seed + 100).random((rows, cols)) >= density] = 0
        csr = CSRMatrix.from_dense(dense)
        got = answer(rows, cols, csr.nnz)
        if got != csr.nbytes:
            raise CheckFailed(f"exercise 08.4: a {rows}×{cols} matrix with {csr.nnz} nonzeros takes "
                              f"{csr.nbytes} bytes in CSR ({csr.data.nbytes} for the values, "
                              f"{csr.indices.nbytes} for the column indices, {csr.indptr.nbytes} for the "
                              f"row pointers): expected {csr.nbytes}, your answer returned {got!r}")
        count += 1
    return count


def check_quantize_uint8(answer: Callable[[np.ndarray, float, int], np.ndarray]) -> int:
    """09.1 — ``quantize_uint8(x, scale, zero_point)``: the affine quantizer to 8 unsigned bits,
    q = clamp(round(x/S) + Z, 0, 255) (round half to even, as NumPy's and PyTorch's)."""
    from minidl.compress.quantize.quantize import rounded_levels

    count = 0
    cases = [(0.02, 128), (0.5, 0), (0.01, 255), (0.1, 3)]
    for seed, (scale, zero_point) in enumerate(cases):
        x = (_rng(seed).standard_normal(50) * 3).astype(np.float32)
        x[:3] = [0.5 * scale, 1.5 * scale, 2.5 * scale]  # ties: half to even
        # the textbook order, round then add Z: PyTorch's fake quantization (its quantize_per_tensor
        # and quantize_per_channel add Z before rounding, which differs at ties when Z is odd)
        expected = np.clip(rounded_levels(x, scale, zero_point), 0, 255).astype(np.uint8)
        got = np.asarray(answer(x, scale, zero_point))  # host
        _expect_close("09.1", f"scale={scale}, zero_point={zero_point}", got, expected, rtol=0, atol=0)
        count += 1
    return count


def check_soft_target_loss(answer: Callable[[np.ndarray, np.ndarray, float], float]) -> int:
    """10.3 — ``soft_loss(student_logits, teacher_logits, T)``: T² · KL(p_teacher^T ‖ p_student^T),
    summed over classes and averaged over the batch (``reduction="batchmean"``)."""
    import minidl
    from minidl.compress.distill.losses import soft_target_loss

    count = 0
    for seed, (n, c, temperature) in enumerate([(4, 10, 1.0), (8, 3, 4.0), (1, 5, 8.0)]):
        rng = _rng(seed)
        student, teacher = rng.standard_normal((n, c)) * 2, rng.standard_normal((n, c)) * 4
        expected = soft_target_loss(minidl.tensor(student), teacher, temperature).item()
        _expect_close("10.3", f"batch {n}, {c} classes, T={temperature}", answer(student, teacher, temperature),
                      expected, rtol=1e-5)
        count += 1
    return count


def check_zero_negatives(answer: Callable[[Any], Any]) -> int:
    """13.1 — ``zero_negatives(a)``: a with its negative entries set to 0, on whatever device a is
    (checked on NumPy and on the stand-in, which refuses host arrays as a GPU would)."""
    from minidl import backend

    count = 0
    values = np.array([-1.0, 2.0, -3.0, 0.0, 4.5])  # host
    for name in ("numpy", "standin"):
        with backend.use(name) as xp:
            a = xp.asarray(values)
            try:
                got = answer(a)
            except TypeError as error:
                raise CheckFailed(f"exercise 13.1: on the {name} backend your function failed: {error}") from error
            module = backend.get_array_module(got)
            if module is not xp:
                raise CheckFailed(f"exercise 13.1: on the {name} backend the result is a {type(got).__name__} "
                                  f"from {module.__name__}; it must stay on the input's device")
            _expect_close("13.1", f"the {name} backend", backend.to_numpy(got), np.maximum(values, 0))
            count += 1
    return count


def check_amdahl(answer: Callable[[float, float], float]) -> int:
    """14.1 — ``speedup(f, k)``: the whole's speed-up when a part taking fraction f gets k× faster."""
    from minidl.perf import amdahl_speedup

    count = 0
    for p, s in [(0.12, 3.0), (0.4, 2.0), (0.0, 10.0), (1.0, 4.0), (0.9, 1e9)]:
        _expect_close("14.1", f"p={p}, s={s}", answer(p, s), amdahl_speedup(p, s), rtol=1e-9)
        count += 1
    return count


def check_ring_bytes(answer: Callable[[float, int], float]) -> int:
    """12.5 — ``ring_bytes(nbytes, world_size)``: the bytes each rank sends in a ring all-reduce of
    ``nbytes`` over N = ``world_size`` ranks, 2(N−1)/N · nbytes (reduce-scatter, then all-gather)."""
    from minidl.distributed import ring_bytes_per_rank

    count = 0
    for nbytes, world_size in [(4000, 4), (4096, 2), (12, 3), (100 * 2**20, 1024), (1000, 1)]:
        got, expected = answer(nbytes, world_size), ring_bytes_per_rank(nbytes, world_size)
        if not isinstance(got, (int, float, np.integer, np.floating)) or not np.isclose(got, expected, rtol=1e-9):
            raise CheckFailed(f"exercise 12.5: a ring all-reduce of {nbytes} bytes on {world_size} ranks: "
                              f"expected {expected:g} bytes sent per rank ({world_size - 1} reduce-scatter and "
                              f"{world_size - 1} all-gather steps of {nbytes / world_size:g} bytes), "
                              f"your answer returned {got!r}")
        count += 1
    return count


def check_guard_key(answer: Callable[[tuple[Any, ...], Any], Any]) -> int:
    """16.1 — ``guard_key(args, model)`` → a hashable key, equal for two calls exactly when a capture
    made for one may be replayed for the other: the same shape, dtype and ``requires_grad`` of
    every Tensor in ``args``, the same grad mode, and the same train/eval mode of every module of
    ``model`` (``model.modules()``); new *values* in the same arrays must not change it."""
    import minidl
    from minidl import nn

    count = 0
    rng = _rng(0)
    model = nn.MLP([4, 8, 3], dropout=0.5)

    def args_of(batch: int = 5, dtype: str = "float32", requires_grad: bool = False) -> tuple[Any, ...]:
        x = minidl.tensor(rng.standard_normal((batch, 4)).astype(dtype), requires_grad=requires_grad)
        return x, minidl.tensor(rng.integers(0, 3, batch))

    def key(args: tuple[Any, ...], case: str) -> Any:
        k = answer(args, model)
        try:
            hash(k)
        except TypeError as error:
            raise CheckFailed(f"exercise 16.1, {case}: the key must be hashable, to look captures up in a dict "
                              f"(use tuples, not lists): {error}") from error
        return k

    def expect(same: bool, k: Any, case: str) -> None:
        nonlocal count
        if (k == base) is not same:
            want = "equal to" if same else "different from"
            why = ("the capture can be replayed" if same else "replaying the capture would be wrong")
            raise CheckFailed(f"exercise 16.1, {case}: expected a key {want} the first call's ({why}); "
                              f"got {k!r} for the first call's {base!r}")
        count += 1

    base = key(args_of(), "a batch of 5 float32 rows in train mode")
    expect(True, key(args_of(), "new values, same shapes"), "new values in arrays of the same shapes and dtypes")
    expect(False, key(args_of(batch=6), "a batch of 6"), "a batch of 6 rows instead of 5 (a new shape)")
    expect(False, key(args_of(dtype="float64"), "float64"), "x in float64 instead of float32 (a new dtype)")
    expect(False, key(args_of(requires_grad=True), "requires_grad"), "x with requires_grad=True")
    with minidl.no_grad():
        expect(False, key(args_of(), "no_grad"), "the same call inside minidl.no_grad() (grad mode off)")
    model.eval()
    expect(False, key(args_of(), "eval"), "model.eval() (dropout off)")
    model.train()
    expect(True, key(args_of(), "train again"), "model.train() again (the first capture fits)")
    list(model.modules())[3].eval()  # only the Dropout inside the MLP
    expect(False, key(args_of(), "dropout eval"), "only the Dropout module inside the model switched to eval")
    model.train()
    return count


def check_prune_in_place(answer: Callable[[np.ndarray, float], Any]) -> int:
    """15.1 — ``prune_smallest_(w, amount)``: set the round(amount · w.size) entries of the NumPy
    array ``w`` with the smallest magnitude to 0, **in place** (what the articles' pruning
    ``param.data.abs().clamp_(ε, 1 − ε)`` claimed to do); the return value is ignored."""
    from minidl.compress.prune.selection import unstructured_mask

    count = 0
    for seed, (shape, amount) in enumerate([((4, 5), 0.3), ((8, 8), 0.9), ((10,), 0.5), ((3, 7), 0.0),
                                            ((2, 3, 4), 0.75)]):
        w = _rng(seed).standard_normal(shape)
        before = w.copy()
        expected = np.where(unstructured_mask(np.abs(before), amount), before, 0.0)
        answer(w, amount)
        if amount > 0 and np.array_equal(w, before):
            raise CheckFailed(f"exercise 15.1: w of shape {shape}, amount={amount}: your function left w "
                              "unchanged — it must change the array it is given, in place (w[...] = 0), "
                              "not a copy of it (np.abs(w), np.where(...) and w = ... all make new arrays)")
        pruned, kept_wrong = int((w == 0).sum()), int(((w != 0) & (w != before)).sum())
        if kept_wrong:
            raise CheckFailed(f"exercise 15.1: w of shape {shape}, amount={amount}: {kept_wrong} entries your "
                              "function did not zero were changed; pruning keeps the survivors as they are "
                              "(sign included)")
        if pruned != int((expected == 0).sum()):
            raise CheckFailed(f"exercise 15.1: w of shape {shape} ({w.size} entries), amount={amount}: expected "
                              f"{int((expected == 0).sum())} zeros (round(amount · size)), your function "
                              f"left {pruned}")
        _expect_close("15.1", f"w of shape {shape}, amount={amount}", w, expected, rtol=0, atol=0)
        count += 1
    return count


def check_expected_improvement(answer: Callable[[np.ndarray, np.ndarray, float, float], np.ndarray]) -> int:
    """11.5 — ``expected_improvement(mean, std, best, xi)``: EI when minimizing,
    (f* − ŷ − ξ) Φ(Z) + σ φ(Z) with Z = (f* − ŷ − ξ)/σ, and 0 where σ = 0."""
    from minidl.search.acquisition import expected_improvement

    count = 0
    for seed, (best, xi) in enumerate([(0.0, 0.0), (-1.3, 0.01), (2.0, 0.5), (0.4, 0.0)]):
        rng = _rng(seed)
        mean, std = rng.standard_normal(7) * 2 + best, np.abs(rng.standard_normal(7)) + 0.05
        std[seed % 7] = 0.0  # an observed point of a noise-free GP: no uncertainty, so no improvement
        expected = expected_improvement(mean, std, best, xi)
        inputs = (f"mean={np.array2string(mean, precision=3)}, std={np.array2string(std, precision=3)}, "
                  f"best={best}, xi={xi}")
        _expect_close("11.5", inputs, answer(mean.copy(), std.copy(), best, xi), expected, rtol=1e-6, atol=1e-12)
        count += 1
    return count


CHECKS: dict[str, Callable[[Any], int]] = {
    "01.2": check_bias_gradient,
    "02.2": check_logits_gradient,
    "03.1": check_momentum_limit,
    "04.2": check_adagrad_step,
    "05.2": check_norm_penalty_gradient,
    "06.1": check_whitening,
    "07.3": check_conv1x1,
    "08.4": check_csr_bytes,
    "09.1": check_quantize_uint8,
    "10.3": check_soft_target_loss,
    "11.5": check_expected_improvement,
    "12.5": check_ring_bytes,
    "13.1": check_zero_negatives,
    "14.1": check_amdahl,
    "15.1": check_prune_in_place,
    "16.1": check_guard_key,
}


def check(exercise: str, answer: Any) -> bool:
    """Run exercise ``exercise``'s hidden tests (``"04.2"``: lesson 04, exercise 2) on ``answer``.

    ``answer`` is the learner's own function (or value), as the exercise asks for it. Returns
    True and prints how many tests passed; raises :class:`CheckFailed` naming the input that
    went wrong, what was expected and what came back. this module holds the
    tests; :func:`exercises_with_checks` lists them.
    """
    if exercise not in CHECKS:
        raise ValueError(f"no checks for exercise {exercise!r}; there are checks for {sorted(CHECKS)}")
    try:
        passed = CHECKS[exercise](answer)
    except CheckFailed:
        raise
    except Exception as error:  # the learner's function raised: say so, with what it was given
        raise CheckFailed(f"exercise {exercise}: your answer raised {type(error).__name__}: {error}") from error
    print(f"exercise {exercise}: all {passed} hidden tests passed")
    return True


def exercises_with_checks() -> list[str]:
    """The exercises :func:`check` can test, e.g. ``["01.3", "02.2", ...]``."""
    return sorted(CHECKS)
