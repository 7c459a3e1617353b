"""The source articles' claims, each with a check that runs in seconds (lesson 15 and tests/test_myths.py).

One function per claim. Each runs a small experiment or a few lines of minidl, and
returns a :class:`Check`: the claim in our words, which article makes it, the verdict,
the lesson that explains it, the measured evidence, and ``supported`` — whether the
evidence bears the verdict out. Lesson 15 prints the table from these; the test suite
asserts every ``supported``, so the table cannot go stale: if minidl changes so that a
verdict no longer holds, a test fails.

Layer: like the tour and the CLI, this module sits on top (it trains models, prunes,
quantizes and searches); nothing inside minidl imports it.
"""

from __future__ import annotations

import abc
import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import minidl
from minidl import nn, optim
from minidl.compress import distill, prune
from minidl.compress.quantize import half
from minidl.compress.quantize.sharing_vs_uniform import bits_sweep, uniform_weight
from minidl.course import fast_mode
from minidl.data import DataLoader, load_digits
from minidl.data.transforms.affine import hflip
from minidl.train import evaluate, fit

FALSE, TRUE, HARMLESS, MISLEADING = "false", "true", "harmless", "misleading"


@dataclass
class Check:
    """One row of the table: a claim, who makes it, what the run shows, and where it is taught."""

    key: str
    claim: str
    article: str
    verdict: str
    lesson: str
    supported: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


def _to_np(x: Any) -> np.ndarray:
    return minidl.backend.to_numpy(x.data if hasattr(x, "data") else x)


def _rows(array: Any, index: np.ndarray) -> Any:
    """``array[index]`` for a host index, on whatever device ``array`` lives."""
    return array[minidl.backend.get_array_module(array).asarray(index)]


# -- one small trained model, shared by the checks that need one ----------------------------

@functools.cache
def _digits() -> tuple[Any, Any]:
    return load_digits("train"), load_digits("test")


def _accuracy(model: nn.Module, dataset: Any = None) -> float:
    return evaluate(model, DataLoader(dataset if dataset is not None else _digits()[1], batch_size=512))["accuracy"]


def _train(model: nn.Module, epochs: int, lr: float = 3e-3, seed: int = 0, optimizer: Any = None,
           dataset: Any = None) -> nn.Module:
    opt = optimizer or optim.Adam(model.parameters(), lr=lr)
    fit(model, nn.functional.cross_entropy, opt,
        DataLoader(dataset if dataset is not None else _digits()[0], batch_size=32, shuffle=True, seed=seed),
        epochs=epochs, progress=False)
    return model


@functools.cache
def _trained_mlp(hidden: int = 128, epochs: int = 20) -> nn.Module:
    with minidl.random.fork_rng():
        minidl.manual_seed(0)
        return _train(nn.MLP([64, hidden, 10]), epochs)


def trained_mlp(hidden: int = 128) -> nn.Module:
    """A copy of the 64 → hidden → 10 MLP trained on digits (20 epochs, 8 in fast mode; cached)."""
    return copy.deepcopy(_trained_mlp(hidden, 8 if fast_mode() else 20))


# -- the articles' errors -------------------------------------------------------------------

def check_adam_eps() -> Check:
    """Adam's ε is called a regularization term. Train with ε from 1e-8 to 1e-4: nothing changes."""
    acc, norms = {}, {}
    for eps in (1e-8, 1e-6, 1e-4):
        with minidl.random.fork_rng():
            minidl.manual_seed(0)
            model = nn.MLP([64, 32, 10])
            _train(model, 3 if fast_mode() else 8, optimizer=optim.Adam(model.parameters(), lr=3e-3, eps=eps))
        acc[eps] = _accuracy(model)
        norms[eps] = float(sum((_to_np(p) ** 2).sum() for p in model.parameters()) ** 0.5)
    spread = max(acc.values()) - min(acc.values())
    norm_ratio = norms[1e-4] / norms[1e-8]
    # a regularizer would shrink the weights as it grows; ε only keeps m/(√v + ε) finite
    return Check("adam_eps", "Adam's ε is a regularization term", "1, 5", FALSE, "04", spread <= 0.02
                 and abs(norm_ratio - 1) < 0.05, {"accuracy": acc, "weight_norm": norms, "norm_ratio": norm_ratio},
                 f"ε 1e-8 → 1e-4: accuracy spread {spread:.1%}, weight norm ×{norm_ratio:.3f} (no shrinking)")


def check_rebinding_quantizes_nothing() -> Check:
    """``for param in model.parameters(): param = quantize(param, Q)`` rebinds a local name."""
    model = nn.MLP([64, 16, 10])
    before = [_to_np(p).copy() for p in model.parameters()]
    for param in model.parameters():
        param = uniform_weight(param.data, 4, per_channel=False)  # noqa: F841 - the article's mistake, on purpose
    unchanged = all(np.array_equal(b, _to_np(p)) for b, p in zip(before, model.parameters()))
    return Check("rebind_quantize", "`param = quantize(param, Q)` in a loop over parameters quantizes the model",
                 "2", FALSE, "09", unchanged, {"weights_unchanged": unchanged},
                 "the loop rebinds the name `param`; every weight is bit-for-bit unchanged")


def check_abs_clamp_prunes_nothing() -> Check:
    """``param.data.abs().clamp_(ε, 1 − ε)`` called pruning: it clamps a temporary copy."""
    model = nn.MLP([64, 16, 10])
    w = model[0].weight
    before = _to_np(w).copy()
    w.data.__abs__().clip(1e-3, 1 - 1e-3)  # .abs() makes a new array; clamping it touches nothing
    untouched = np.array_equal(before, _to_np(w))
    in_place = np.clip(np.abs(before), 1e-3, 1 - 1e-3)  # even done in place:
    zeros, negatives = int((in_place == 0).sum()), int((in_place < 0).sum())
    return Check("abs_clamp", "`param.data.abs().clamp_(ε, 1−ε)` prunes small weights", "2", FALSE, "08",
                 untouched and zeros == 0 and negatives == 0 and bool((before < 0).any()),
                 {"weights_unchanged": untouched, "zeros_if_in_place": zeros,
                  "negative_weights_before": int((before < 0).sum()), "negative_after_in_place": negatives},
                 f"as written nothing changes; done in place no weight becomes 0 and all "
                 f"{int((before < 0).sum())} negative weights flip sign")


def check_copying_is_not_distillation() -> Check:
    """Copying the teacher's parameters into the student is called distillation."""
    teacher, student = nn.MLP([64, 256, 10]), nn.MLP([64, 16, 10])
    try:
        with minidl.no_grad():
            for p_t, p_s in zip(teacher.parameters(), student.parameters()):
                p_s.copy_(p_t)
        refused = False
    except ValueError:
        refused = True
    return Check("copy_teacher", "copying the teacher's parameters into the student is distillation", "2",
                 FALSE, "10", refused, {"copy_refused": refused},
                 "a smaller student has other shapes: the copy fails (and a same-shape copy is the teacher again)")


def check_hard_labels_are_argmax() -> Check:
    """Hard-label distillation described as rounding the teacher's outputs to integers."""
    teacher = trained_mlp()
    with minidl.no_grad():
        p = _to_np(minidl.softmax(teacher(_digits()[0].features) / 4.0, dim=1))
    rounded = np.rint(p)
    no_label = float((rounded.sum(axis=1) == 0).mean())
    train_labels = _to_np(_digits()[0].labels)
    agree = float((p.argmax(1) == train_labels).mean())
    return Check("hard_labels", "hard-label distillation rounds the teacher's outputs", "2", FALSE, "10",
                 no_label > 0 and agree > 0.9, {"rows_without_a_label_T4": no_label,
                                                "argmax_agrees_with_labels": agree, "samples": len(train_labels)},
                 f"rounding at T = 4 leaves {no_label:.0%} of samples with no label at all; the argmax gives "
                 f"each one, and agrees with the true label on {agree:.0%}")


def check_garbled_distillation_formula() -> Check:
    """The printed distillation objective Σ_i Σ_j L(y_ij, softmax(z_i·w_j)) has no teacher in it."""
    rng = np.random.default_rng(0)  # host
    z_s = minidl.tensor(rng.normal(size=(8, 10)).astype(np.float32))
    y = minidl.tensor(rng.integers(0, 10, 8))
    teachers = [minidl.tensor(rng.normal(size=(8, 10)).astype(np.float32) * s) for s in (1, 5)]
    printed = [float(nn.functional.cross_entropy(z_s, y).data) for _ in teachers]  # the teacher never enters
    hinton = [float(distill.distillation_loss(z_s, t, y, temperature=4.0, alpha=0.5).data) for t in teachers]
    return Check("garbled_formula", "the articles' distillation formula (as printed) distills a teacher", "2",
                 FALSE, "10", printed[0] == printed[1] and abs(hinton[0] - hinton[1]) > 1e-3,
                 {"printed_loss_two_teachers": printed, "hinton_loss_two_teachers": hinton},
                 "as printed the loss is the same for any teacher (it is plain cross-entropy); Hinton's changes")


def check_fp16_is_a_cast() -> Check:
    """fp16 ("half quantization") said to need a min/max range computation first."""
    x = np.random.default_rng(0).normal(size=1000).astype(np.float32)  # host
    wide = np.concatenate([x, [6e4, -6e4]]).astype(np.float32)  # a different min/max
    elementwise = np.array_equal(_to_np(half.round_to_float16(x)), _to_np(half.round_to_float16(wide))[:1000])
    is_cast = np.array_equal(_to_np(half.round_to_float16(x)), x.astype(np.float16).astype(np.float32))
    bits = x.view(np.uint32)
    rne = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even, by bits
    bf16_bits = np.array_equal(_to_np(half.float32_to_bfloat16_bits(x)), rne)
    return Check("fp16_range", "fp16 / bf16 conversion needs the tensor's min and max", "3", FALSE, "09",
                 elementwise and is_cast and bf16_bits,
                 {"same_result_whatever_the_range": elementwise, "equals_numpy_cast": is_cast,
                  "bf16_is_bit_rounding": bf16_bits},
                 "each value is rounded on its own (a cast); bf16 keeps the top 16 bits, rounded to nearest even")


def check_global_unstructured_takes_pairs() -> Check:
    """``prune.global_unstructured(model, ...)`` and loading weights into the pruned model afterwards."""
    model = nn.MLP([10, 20, 1])
    try:
        prune.global_unstructured(model, amount=0.5)
        wrong_call_refused = False
    except TypeError:
        wrong_call_refused = True
    saved = {k: _to_np(v).copy() for k, v in nn.MLP([10, 20, 1]).state_dict().items()}
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.5)
    try:
        model.load_state_dict(saved)
        plain_load_fails = False
    except RuntimeError:
        plain_load_fails = True
    return Check("global_unstructured", "`prune.global_unstructured(model, ...)`, then `load_state_dict`",
                 "1", FALSE, "08", wrong_call_refused and plain_load_fails,
                 {"model_argument_refused": wrong_call_refused, "load_after_prune_fails": plain_load_fails},
                 "it takes (module, name) pairs; a pruned model's keys are weight_orig/weight_mask, so load "
                 "first, then prune (or load_pruned_state_dict)")


def check_l2_penalty_is_squared() -> Check:
    """The L2 penalty written α‖w‖₂: its gradient has constant length α, however small w is."""
    alpha, lengths_plain, lengths_squared = 0.1, {}, {}
    for scale in (0.01, 1.0, 100.0):
        w = minidl.tensor(np.full(5, scale), requires_grad=True, dtype=minidl.float64)  # host
        (alpha * (w * w).sum() ** 0.5).backward()
        lengths_plain[scale] = float(np.linalg.norm(_to_np(w.grad)))
        w2 = minidl.tensor(np.full(5, scale), requires_grad=True, dtype=minidl.float64)  # host
        (alpha * (w2 * w2).sum()).backward()
        lengths_squared[scale] = float(np.linalg.norm(_to_np(w2.grad)))
    constant = all(abs(v - alpha) < 1e-12 for v in lengths_plain.values())
    return Check("l2_unsquared", "the L2 penalty is α‖w‖₂", "4", MISLEADING, "05",
                 constant and lengths_squared[100.0] > lengths_squared[0.01] * 1e3,
                 {"grad_length_unsquared": lengths_plain, "grad_length_squared": lengths_squared},
                 "the unsquared norm pulls with constant force α however small w is; weight decay is α‖w‖₂²")


def check_log_softmax_twice() -> Check:
    """``log_softmax`` outputs fed to a cross-entropy that applies log-softmax again."""
    rng = np.random.default_rng(0)  # host
    z1 = minidl.tensor(rng.normal(size=(16, 10)) * 3, requires_grad=True, dtype=minidl.float64)
    z2 = minidl.tensor(_to_np(z1).copy(), requires_grad=True, dtype=minidl.float64)
    y = minidl.tensor(rng.integers(0, 10, 16))
    once = nn.functional.cross_entropy(z1, y)
    twice = nn.functional.cross_entropy(minidl.log_softmax(z2, dim=1), y)
    once.backward()
    twice.backward()
    loss_gap = abs(float(once.data) - float(twice.data))
    grad_gap = float(np.abs(_to_np(z1.grad) - _to_np(z2.grad)).max())
    return Check("log_softmax_twice", "log_softmax before CrossEntropyLoss is a bug", "5", HARMLESS, "05",
                 loss_gap < 1e-12 and grad_gap < 1e-12, {"loss_difference": loss_gap, "grad_difference": grad_gap},
                 f"log-softmax is idempotent: loss and gradient agree to {max(loss_gap, grad_gap):.0e}")


def check_random_targets() -> Check:
    """Article 3's search example fits ``randn`` targets: there is nothing to find."""
    g = np.random.default_rng(0)  # host
    x, y = g.normal(size=(1000, 10)).astype(np.float32), g.normal(size=(1000, 1)).astype(np.float32)
    x_test, y_test = g.normal(size=(100, 10)).astype(np.float32), g.normal(size=(100, 1)).astype(np.float32)
    scores = {}
    for lr in (1e-3, 1e-2, 1e-1):  # a tiny "search" over the learning rate
        with minidl.random.fork_rng():
            minidl.manual_seed(0)
            net = nn.MLP([10, 20, 1])
            opt = optim.Adam(net.parameters(), lr=lr)
            for _ in range(100):
                opt.zero_grad()
                loss = nn.functional.mse_loss(net(minidl.tensor(x)), minidl.tensor(y))
                loss.backward()
                opt.step()
            with minidl.no_grad():
                scores[lr] = float(nn.functional.mse_loss(net(minidl.tensor(x_test)), minidl.tensor(y_test)).data)
    constant = float(((y_test - y.mean()) ** 2).mean())  # predict the training mean, ignore x
    return Check("randn_targets", "a search on article 3's data finds a better model", "3", FALSE, "11",
                 min(scores.values()) >= constant - 0.05, {"test_mse_by_lr": scores, "predict_the_mean": constant},
                 f"best test MSE {min(scores.values()):.3f} vs {constant:.3f} for ignoring the input: "
                 "the search only ranks noise")


def check_sgd_saves_compute() -> Check:
    """SGD "reduces computation" by using a few samples per step."""
    train, _ = _digits()
    n = len(train)
    target, seen = 0.5, {}
    for batch in (n, 32):
        with minidl.random.fork_rng():
            minidl.manual_seed(0)
            model = nn.MLP([64, 10])
            opt = optim.SGD(model.parameters(), lr=0.5)
            count, loss = 0, math.inf
            loader = DataLoader(train, batch_size=batch, shuffle=True, seed=0)
            while loss > target and count < 400 * n:
                for xb, yb in loader:
                    opt.zero_grad()
                    out = nn.functional.cross_entropy(model(xb), yb)
                    out.backward()
                    opt.step()
                    count += len(yb)
                with minidl.no_grad():
                    loss = float(nn.functional.cross_entropy(model(train.features), train.labels).data)
            seen[batch] = count
    ratio = seen[n] / seen[32]
    return Check("sgd_compute", "SGD saves computation by using a subset of samples per step", "1", TRUE, "03",
                 ratio > 3, {"sample_gradients_to_loss_0.5": seen, "ratio": ratio},
                 f"per step, yes; to reach a training loss of {target}, full-batch GD needed {ratio:.0f}× "
                 "more sample-gradients (the same work per epoch, many more steps per epoch)")


def check_digit_flips() -> Check:
    """Random horizontal flips as augmentation for handwritten digits."""
    model = trained_mlp()
    _, test = _digits()
    images = test.features.reshape(-1, 1, 8, 8)
    flipped = hflip(images).reshape(len(test), 64)
    plain = _accuracy(model)
    with minidl.no_grad():
        flip_acc = float((_to_np(model(flipped)).argmax(1) == _to_np(test.labels)).mean())
    return Check("digit_flips", "random flips are a safe augmentation (on digits)", "1", FALSE, "06",
                 flip_acc < plain - 0.3, {"accuracy": plain, "accuracy_on_flipped": flip_acc},
                 f"a flipped digit is often another symbol: the model drops from {plain:.0%} to {flip_acc:.0%} "
                 "on mirrored test digits, so a flip would teach wrong labels")


def check_sparsification_is_storage() -> Check:
    """"Sparsification" of training data as a data-optimization technique that makes learning easier."""
    from minidl.compress.prune.sparse import CSRMatrix

    train, _ = _digits()
    x = _to_np(train.features)
    back = CSRMatrix.from_dense(x).to_dense()
    return Check("sparsification", "sparsifying the training data makes the model learn better", "1", FALSE, "06",
                 np.array_equal(back, x), {"zero_fraction": float((x == 0).mean()), "same_numbers": True},
                 f"a sparse matrix stores the same numbers ({(x == 0).mean():.0%} of the pixels are zero): "
                 "training sees exactly the same data; it is a storage format")


def check_view_shape() -> Check:
    """``x.view(-1, 64*7*7)`` after two padded 3×3 convolutions on 28×28 images (no pooling)."""
    conv = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
    x = minidl.zeros(4, 1, 28, 28)
    with minidl.no_grad():
        features = conv(x)
    rows = features.reshape(-1, 64 * 7 * 7).shape[0]
    try:
        nn.functional.cross_entropy(nn.Linear(64 * 7 * 7, 10)(features.reshape(-1, 64 * 7 * 7)),
                                    minidl.zeros(4, dtype=minidl.int64))
        loss_refused = False
    except ValueError:
        loss_refused = True
    return Check("view_shape", "`x.view(-1, 64*7*7)` after the article's convolutions", "5", FALSE, "07",
                 rows == 16 * 4 and loss_refused, {"feature_shape": tuple(features.shape), "rows_for_4_images": rows},
                 f"without pooling the maps stay 28×28: view makes {rows} rows from 4 images "
                 "(two 2×2 poolings would give 7×7)")


def check_abstract_schedule() -> Check:
    """``prune_low_magnitude(model, pruning_schedule=PruningSchedule())``: an abstract schedule."""

    class PruningSchedule(abc.ABC):  # the shape of the library's base class
        @abc.abstractmethod
        def __call__(self, step: int) -> float: ...

    try:
        PruningSchedule()
        refused = False
    except TypeError:
        refused = True
    concrete = [prune.cubic_sparsity(t, 0.0, 0.8, 0, 100) for t in (0, 50, 100)]
    return Check("abstract_schedule", "`prune_low_magnitude(..., PruningSchedule())` prunes gradually", "4", FALSE,
                 "08", refused and concrete[0] == 0.0 and abs(concrete[-1] - 0.8) < 1e-12,
                 {"abstract_refused": refused, "cubic_schedule_0_50_100": concrete},
                 "the base class cannot be instantiated; a concrete schedule (Zhu & Gupta's cubic) gives "
                 f"{concrete[1]:.2f} sparsity halfway")


def check_data_parallel_is_gradient_averaging() -> Check:
    """``multi_gpu_model`` (removed from Keras in TF 2.4): what it did is averaging the shards' gradients."""
    rng = np.random.default_rng(0)  # host
    model = nn.MLP([64, 16, 10]).double()
    x = minidl.tensor(rng.normal(size=(32, 64)), dtype=minidl.float64)
    y = minidl.tensor(rng.integers(0, 10, 32))
    nn.functional.cross_entropy(model(x), y).backward()
    full = [_to_np(p.grad).copy() for p in model.parameters()]
    shards = []
    for part in (slice(0, 16), slice(16, 32)):  # two "GPUs"
        model.zero_grad()
        nn.functional.cross_entropy(model(x[part]), y[part]).backward()
        shards.append([_to_np(p.grad).copy() for p in model.parameters()])
    gap = max(float(np.abs((a + b) / 2 - f).max()) for a, b, f in zip(*shards, full))
    return Check("multi_gpu_model", "`keras.utils.multi_gpu_model` parallelizes training", "4", MISLEADING, "13",
                 gap < 1e-12, {"max_gradient_difference": gap},
                 f"the API no longer exists (removed in TF 2.4); data parallelism = the mean of equal shards' "
                 f"gradients, which equals the full batch's to {gap:.0e}")


# -- the true claims, measured ----------------------------------------------------------------

def check_pruning_with_retraining() -> Check:
    """Pruning + retraining keeps accuracy up to a sparsity."""
    base = trained_mlp()
    dense = _accuracy(base)
    by_sparsity = {}
    for s in (0.5, 0.9, 0.98):
        model = copy.deepcopy(base)
        prune.global_unstructured(prune.parameters_to_prune(model), amount=s)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        prune.enforce_masks(opt, model)
        _train(model, 2 if fast_mode() else 4, optimizer=opt)
        by_sparsity[s] = _accuracy(model)
    return Check("prune_retrain", "pruning followed by retraining keeps the accuracy", "1, 2, 4", TRUE, "08",
                 by_sparsity[0.5] >= dense - 0.02 and by_sparsity[0.98] < by_sparsity[0.5],
                 {"dense": dense, "accuracy_by_sparsity": by_sparsity},
                 f"dense {dense:.1%}; retrained at 50% {by_sparsity[0.5]:.1%}, 90% {by_sparsity[0.9]:.1%}, "
                 f"98% {by_sparsity[0.98]:.1%}: up to a point")


def check_int8_is_four_times_smaller() -> Check:
    """int8 weights take a quarter of float32's bytes."""
    from minidl.compress.quantize import model_nbytes, quantize_dynamic

    model = trained_mlp()
    q = quantize_dynamic(model, per_channel=True)
    weights_f32 = sum(4 * m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    ratio_model = model_nbytes(model) / model_nbytes(q)
    return Check("int8_size", "int8 makes the model 4× smaller", "2, 3, 4", TRUE, "09",
                 3.0 < ratio_model <= 4.0, {"float32_bytes": model_nbytes(model), "int8_bytes": model_nbytes(q),
                                            "weight_bytes_float32": weights_f32, "ratio": ratio_model},
                 f"{ratio_model:.2f}× for the whole model: 4× on the weights, less once the float biases and "
                 "per-channel scales are counted")


def check_distillation_helps_with_few_labels() -> Check:
    """Distillation helps a small student — when labels are scarce; with all labels it adds little."""
    teacher = trained_mlp()
    train, _ = _digits()
    rng = np.random.default_rng(0)  # host
    unlabeled = _rows(train.features, rng.permutation(len(train))[:400])
    with minidl.no_grad():
        soft = teacher(unlabeled)
    few = np.concatenate([rng.choice(np.flatnonzero(_to_np(train.labels) == c), 5, replace=False) for c in range(10)])
    results = {}
    for name in ("scratch, 50 labels", "distilled, 50 labels + unlabeled"):
        with minidl.random.fork_rng():
            minidl.manual_seed(0)
            student = nn.MLP([64, 16, 10])
            opt = optim.Adam(student.parameters(), lr=1e-2)
            for _step in range(100 if fast_mode() else 200):
                opt.zero_grad()
                if name.startswith("scratch"):
                    loss = nn.functional.cross_entropy(student(_rows(train.features, few)), _rows(train.labels, few))
                else:  # the teacher's soft targets on every training input, the 50 labels where known
                    soft_term = distill.distillation_loss(student(unlabeled), soft, None, temperature=4.0, alpha=0.0)
                    loss = soft_term + nn.functional.cross_entropy(student(_rows(train.features, few)),
                                                                   _rows(train.labels, few))
                loss.backward()
                opt.step()
        results[name] = _accuracy(student)
    gain = results["distilled, 50 labels + unlabeled"] - results["scratch, 50 labels"]
    return Check("distill_helps", "distillation transfers a teacher's knowledge to a small student", "1, 2, 3", TRUE,
                 "10", gain > 0.03, {"accuracy": results, "gain": gain},
                 f"with 50 labels the distilled 64→16→10 student gains {gain:+.1%}; with all labels lesson 10 "
                 "measures no gain")


def check_standardization_speeds_up_gd() -> Check:
    """Standardizing features speeds up gradient descent."""
    rng = np.random.default_rng(0)  # host
    x = rng.normal(size=(500, 2)) * np.array([1.0, 30.0]) + np.array([5.0, -20.0])  # host
    y = x @ np.array([2.0, -0.1]) + rng.normal(size=500) * 0.1  # host

    def steps_to_fit(features: np.ndarray) -> int:
        a = np.column_stack([features, np.ones(len(features))])  # host
        lr = 1.0 / np.linalg.eigvalsh(2 * a.T @ a / len(a)).max()  # 1/L: the classic safe step
        w, best = np.zeros(3), np.linalg.lstsq(a, y, rcond=None)[0]  # host
        loss_best = float(((a @ best - y) ** 2).mean())
        for step in range(1, 100_001):
            w -= lr * 2 * a.T @ (a @ w - y) / len(a)
            if float(((a @ w - y) ** 2).mean()) < loss_best * 1.01:
                return step
        return 100_000

    raw, standard = steps_to_fit(x), steps_to_fit((x - x.mean(0)) / x.std(0))
    return Check("standardize", "standardizing the inputs speeds up gradient descent", "1", TRUE, "06",
                 raw > 10 * standard, {"steps_raw": raw, "steps_standardized": standard},
                 f"linear regression to within 1% of the optimum: {raw:,} steps raw, {standard} standardized")


def check_random_beats_grid() -> Check:
    """Random search beats grid search at equal trials (when few hyperparameters matter)."""
    from minidl.search import grid_search, random_search
    from minidl.search.space import Uniform

    def objective(params: dict[str, float], budget: Any = None) -> float:
        return (params["x"] - 0.37) ** 2 + 0.01 * (params["y"] - 0.5) ** 2  # y hardly matters

    grid = grid_search(objective, {"x": [0.0, 0.5, 1.0], "y": [0.0, 0.5, 1.0]}, progress=False).best_score
    randoms = [random_search(objective, {"x": Uniform(0, 1), "y": Uniform(0, 1)}, 9, seed=s, progress=False).best_score
               for s in range(20 if fast_mode() else 100)]
    wins = float(np.mean(np.array(randoms) < grid))  # host
    return Check("random_vs_grid", "random search beats grid search for the same number of trials", "3, 4", TRUE,
                 "11", wins > 0.5, {"grid_best": grid, "random_best_median": float(np.median(randoms)),
                                    "random_wins": wins},
                 f"9 trials, one parameter that matters: random search beats the 3×3 grid in {wins:.0%} of seeds "
                 "(it tries 9 values of x, the grid 3)")


# -- the techniques the articles name that minidl had to add (issue 19) ------------------------

def check_kmeans_vs_minmax() -> Check:
    """Quantize "with K-Means or Min-Max": both work; at few bits the data-chosen levels win."""
    model = trained_mlp()
    rows = bits_sweep(model, _accuracy, [2], methods=("k-means", "uniform per-tensor"))
    acc = {r.method: r.accuracy for r in rows}
    return Check("kmeans_minmax", "weights can be quantized with k-means or min-max", "4", TRUE, "15 (09)",
                 acc["k-means"] > acc["uniform per-tensor"], {"accuracy_2_bits": acc},
                 f"2-bit weights: k-means {acc['k-means']:.1%}, min-max (uniform) {acc['uniform per-tensor']:.1%}")


def check_activation_importance() -> Check:
    """A neuron's importance from "the absolute value of its activation output" (APoZ, mean |a|)."""
    model = trained_mlp()
    train, _ = _digits()
    scores = prune.activation_structured(model, [train.features], amount=0.5, criterion="mean_activation")
    small, _ = prune.compact(model)
    return Check("activation_importance", "neurons can be ranked by their activations", "1", TRUE, "15 (08)",
                 small[0].weight.shape[0] == 64, {"accuracy_half_the_neurons": _accuracy(small),
                                                 "scores": len(scores["0"])},
                 f"mean |a| over the training set prunes half the 128 neurons; the compacted MLP keeps "
                 f"{_accuracy(small):.1%} before any fine-tuning")


def check_merging_is_not_distillation() -> Check:
    """Distillation described as "merging similar neurons": that is (data-free) pruning."""
    model = nn.MLP([4, 6, 3]).double()
    with minidl.no_grad():
        model[0].weight.data[5] = model[0].weight.data[2]
        model[0].bias.data[5] = model[0].bias.data[2]
    x = minidl.tensor(np.random.default_rng(0).normal(size=(32, 4)), dtype=minidl.float64)  # host
    before = _to_np(model(x)).copy()
    prune.merge_structured(model, amount=1)
    small, _ = prune.compact(model)
    gap = float(np.abs(_to_np(small(x)) - before).max())
    return Check("merging", "merging similar neurons is knowledge distillation", "3", FALSE, "15 (10)",
                 gap < 1e-12 and small[0].weight.shape[0] == 5, {"output_difference": gap},
                 "merging edits one network with no teacher and no training: Srinivas & Babu's pruning; two "
                 f"identical neurons merge exactly (outputs equal to {gap:.0e})")


CHECKS: list[Callable[[], Check]] = [
    check_adam_eps, check_rebinding_quantizes_nothing, check_abs_clamp_prunes_nothing,
    check_copying_is_not_distillation, check_hard_labels_are_argmax, check_garbled_distillation_formula,
    check_fp16_is_a_cast, check_global_unstructured_takes_pairs, check_l2_penalty_is_squared,
    check_log_softmax_twice, check_random_targets, check_sgd_saves_compute, check_digit_flips,
    check_sparsification_is_storage, check_view_shape, check_abstract_schedule,
    check_data_parallel_is_gradient_averaging,
    check_pruning_with_retraining, check_int8_is_four_times_smaller, check_distillation_helps_with_few_labels,
    check_standardization_speeds_up_gd, check_random_beats_grid,
    check_kmeans_vs_minmax, check_activation_importance, check_merging_is_not_distillation,
]
"""Every check, in the order of lesson 15's table."""
