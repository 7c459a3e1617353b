"""minidl.course_checks.check: a correct answer to each exercise passes its hidden tests, a wrong one
fails with a message that names the input, the expected and the returned value."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import backend
from minidl.course import CheckFailed
from minidl.course_checks import check, exercises_with_checks


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _soft_loss(student, teacher, T):
    pt = _softmax(teacher / T)
    return T * T * float((pt * (_log_softmax(teacher / T) - _log_softmax(student / T))).sum(axis=1).mean())


def _whiten(x):
    centered = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centered.T @ centered / len(x))
    return centered @ vectors / np.sqrt(values)


def _zero_negatives(a):
    xp = backend.get_array_module(a)
    keep = xp.ones_like(a)
    keep[a < 0] = 0
    return a * keep


def _zero_negatives_on_host(a):
    keep = np.ones_like(backend.to_numpy(a))  # the bug the exercise is about: a host array
    keep[backend.to_numpy(a) < 0] = 0
    return keep * backend.to_numpy(a)


def _adagrad(theta, g, s, lr, eps):
    s = s + g * g
    return theta - lr * g / (np.sqrt(s) + eps), s


def _prune_smallest_(w, amount):
    k = int(round(amount * w.size))
    w.reshape(-1)[np.argsort(np.abs(w), axis=None)[:k]] = 0


def _prune_smallest_on_a_copy(w, amount):
    # the articles' bug: the work happens on a new array, the weights are untouched
    small = np.abs(w) <= np.quantile(np.abs(w), amount)
    w = np.where(small, 0.0, w)
    return w


def _guard_key(args, model):
    import minidl

    return (minidl.is_grad_enabled(), tuple((a.shape, a.dtype, a.requires_grad) for a in args),
            tuple(m.training for m in model.modules()))


def _guard_key_shapes_only(args, model):  # the lesson's first attempt: replays float64 calls, eval calls...
    return tuple(a.shape for a in args)


RIGHT_AND_WRONG = {
    "01.2": (lambda g: g.sum(axis=0), lambda g: g.mean(axis=0)),
    "02.2": (lambda z, y: (_softmax(z) - np.eye(z.shape[1])[y]) / len(z),
             lambda z, y: _softmax(z) - np.eye(z.shape[1])[y]),  # forgets the mean's 1/N
    "03.1": (lambda lr, mu: lr / (1 - mu), lambda lr, mu: lr * mu / (1 - mu)),
    "04.2": (_adagrad, lambda theta, g, s, lr, eps: (theta - lr * g / (np.abs(g) + eps), g * g)),  # no sum
    "05.2": (lambda w, a: a * w / np.linalg.norm(w), lambda w, a: 2 * a * w),
    "06.1": (_whiten, lambda x: (x - x.mean(axis=0)) / x.std(axis=0)),  # standardizes, keeps correlations
    "07.3": (lambda x, w: np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x),
             lambda x, w: w[None, :, 0, 0, None, None] * x[:, :1]),  # only the first input channel
    "08.4": (lambda r, c, nnz: 8 * nnz + 4 * (r + 1), lambda r, c, nnz: 8 * nnz),
    "09.1": (lambda x, s, z: np.clip(np.rint(x / s) + z, 0, 255).astype(np.uint8),
             lambda x, s, z: np.clip(np.floor(x / s + 0.5) + z, 0, 255).astype(np.uint8)),  # ties up, not to even
    "10.3": (_soft_loss, lambda s, t, T: _soft_loss(s, t, T) / (T * T)),  # forgets T²
    "13.1": (_zero_negatives, _zero_negatives_on_host),
    "12.5": (lambda n, N: 2 * (N - 1) / N * n, lambda n, N: (N - 1) / N * n),  # forgets the all-gather
    "14.1": (lambda p, s: 1 / ((1 - p) + p / s), lambda p, s: 1 / (p / s)),
    "15.1": (_prune_smallest_, _prune_smallest_on_a_copy),
    "16.1": (_guard_key, _guard_key_shapes_only),
}


def test_every_check_is_covered_here() -> None:
    assert sorted(RIGHT_AND_WRONG) == exercises_with_checks()
    lessons = {name.split(".")[0] for name in exercises_with_checks()}
    assert lessons == {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16"}


@pytest.mark.parametrize("exercise", sorted(RIGHT_AND_WRONG))
def test_a_correct_answer_passes(exercise: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(exercise, RIGHT_AND_WRONG[exercise][0]) is True
    assert f"exercise {exercise}: all" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", sorted(RIGHT_AND_WRONG))
def test_a_wrong_answer_fails_with_a_helpful_message(exercise: str) -> None:
    with pytest.raises(CheckFailed, match=rf"exercise {exercise}") as failure:
        check(exercise, RIGHT_AND_WRONG[exercise][1])
    message = str(failure.value)
    assert "expected" in message or "must" in message or "failed" in message, message


def test_an_answer_that_raises_is_reported_as_such() -> None:
    def broken(*args):
        raise KeyError("oops")

    with pytest.raises(CheckFailed, match="your answer raised KeyError"):
        check("14.1", broken)


def test_an_unknown_exercise_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no checks for exercise '99.9'"):
        check("99.9", lambda: None)


def test_timing_verdict_prints_and_never_raises(capsys: pytest.CaptureFixture[str]) -> None:
    from minidl.course import timing_verdict

    assert timing_verdict(True, "A is faster", ratio=2.0) is True
    assert timing_verdict(False, "B is faster", ratio=0.5) is False
    out = capsys.readouterr().out
    assert "timings agree: A is faster" in out
    assert "timings disagree this run: B is faster (ratio=0.5)" in out


def test_prune_check_names_each_kind_of_mistake() -> None:
    def flips_signs(w, amount):  # zeroes the right entries but keeps |w| (abs done in place)
        _prune_smallest_(w, amount)
        np.abs(w, out=w)

    def truncates(w, amount):  # int() instead of round(): one zero short at 0.9 of 64
        k = int(amount * w.size)
        w.reshape(-1)[np.argsort(np.abs(w), axis=None)[:k]] = 0

    with pytest.raises(CheckFailed, match="in place"):
        check("15.1", _prune_smallest_on_a_copy)
    with pytest.raises(CheckFailed, match="sign included"):
        check("15.1", flips_signs)
    with pytest.raises(CheckFailed, match=r"expected 58 zeros .* left 57"):
        check("15.1", truncates)


def test_ring_bytes_check_names_the_input() -> None:
    with pytest.raises(CheckFailed, match="4000 bytes on 4 ranks: expected 6000"):
        check("12.5", lambda n, N: (N - 1) / N * n)


# lesson 11: Expected Improvement (minimizing), written by hand with math.erfc
def _ei(mean, std, best, xi, *, with_xi=True, guard_zero_std=True):
    from math import erfc, pi, sqrt

    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    gain = best - mean - (xi if with_xi else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = gain / std
    cdf = np.array([0.5 * erfc(-v / sqrt(2)) for v in z.ravel()]).reshape(z.shape)
    ei = gain * cdf + std * np.exp(-0.5 * z * z) / sqrt(2 * pi)
    return np.where(std > 0, ei, 0.0) if guard_zero_std else ei


RIGHT_AND_WRONG["11.5"] = (_ei, lambda m, s, b, xi: _ei(m, s, b, xi, with_xi=False))  # forgets the margin ξ


@pytest.mark.parametrize("which", [0, 1])
def test_exercise_11_5(which: int) -> None:
    if which == 0:
        assert check("11.5", RIGHT_AND_WRONG["11.5"][0]) is True
    else:
        with pytest.raises(CheckFailed, match=r"exercise 11\.5, mean=.*xi=0\.01: expected .* returned"):
            check("11.5", RIGHT_AND_WRONG["11.5"][1])


def test_exercise_11_5_an_answer_that_divides_by_a_zero_std_fails() -> None:
    # gain/0 = +inf makes Φ = 1: the unguarded formula returns f* − ŷ − ξ where EI must be 0
    with pytest.raises(CheckFailed, match=r"exercise 11\.5, .*std=\[.* 0\. .*expected np.float64\(0.0\) at index"):
        check("11.5", lambda m, s, b, xi: _ei(m, s, b, xi, guard_zero_std=False))
