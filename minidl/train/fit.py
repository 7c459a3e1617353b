"""``fit`` and ``evaluate``: the training loop every lesson and tour chapter uses."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from minidl import backend
from minidl.engine.grad_mode import no_grad
from minidl.engine.tensor import Tensor


@dataclass
class History:
    """What happened in each epoch of :func:`fit` (one list entry per epoch).

    ``train_loss`` and ``train_accuracy`` are averaged over the epoch's batches while the
    model was training (with dropout on, weights changing), as Keras reports them; the
    ``val_*`` numbers come from :func:`evaluate` after the epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()}

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty()


def _batches(loader: Iterable[Any], progress: bool, desc: str) -> Iterable[Any]:
    if not progress:
        return loader
    from tqdm.auto import tqdm

    return tqdm(loader, desc=desc, leave=False, unit="batch")


def _correct(out: Tensor, y: Tensor) -> int:
    """How many rows of logits ``out`` pick the class in ``y`` (0 when it is not classification)."""
    if out.ndim != 2 or y.ndim != 1 or y.dtype.kind not in "iu":
        return 0
    return int((out.data.argmax(axis=1) == y.data).sum())


def evaluate(model: Any, loader: Iterable[Any], loss_fn: Callable[..., Tensor] | None = None) -> dict[str, float]:
    """Mean loss (when ``loss_fn`` is given) and accuracy of ``model`` over ``loader``.

    Runs in eval mode (dropout off) without recording a graph, and puts the model back in
    the mode it was in. A parameter or buffer holding NaN or infinity, or a batch whose
    outputs are NaN, raises ``ValueError`` naming it (NaN logits would otherwise count as
    predictions of class 0).
    """
    _check_finite_weights(model)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with no_grad():
            for batch, (x, y) in enumerate(loader, 1):
                out = model(x)
                if hasattr(out, "dtype") and out.dtype.kind == "f" and bool(
                        backend.get_array_module(out.data).isnan(out.data).any()):
                    raise ValueError(f"evaluate: the model's output for batch {batch} contains NaN "
                                     "(are there NaN values in the inputs?)")
                n = len(y)
                if loss_fn is not None:
                    total_loss += float(loss_fn(out, y).item()) * n
                correct += _correct(out, y)
                count += n
    finally:
        if was_training:
            model.train()
    if count == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    result = {"accuracy": correct / count, "samples": count}
    if loss_fn is not None:
        result["loss"] = total_loss / count
    return result


def _bad_loss_message(value: float, epoch: int, batch: int, step: int, x: Any) -> str:
    data = x.data if isinstance(x, Tensor) else x
    xp = backend.get_array_module(data)
    bad_inputs = hasattr(data, "dtype") and data.dtype.kind in "fc" and not bool(xp.isfinite(data).all())
    cause = ("this batch's inputs contain NaN or infinite values: clean the data (e.g. drop or impute "
             "those samples)" if bad_inputs else "try a smaller learning rate, or check the inputs for NaN")
    return (f"the loss became {value} at epoch {epoch}, batch {batch} (step {step}); the model keeps the "
            f"weights from before this batch (no update was made). {cause}")


def _check_finite_weights(model: Any) -> None:
    """Raise naming the first parameter or buffer of ``model`` that holds NaN or infinity."""
    named = []
    if hasattr(model, "named_parameters"):
        named += list(model.named_parameters())
    if hasattr(model, "named_buffers"):
        named += list(model.named_buffers())
    for name, value in named:
        data = value.data if isinstance(value, Tensor) else value
        if hasattr(data, "dtype") and data.dtype.kind in "fc":
            xp = backend.get_array_module(data)
            if not bool(xp.isfinite(data).all()):
                bad = int((~xp.isfinite(data)).sum())
                raise ValueError(f"evaluate: the model's {name} holds {bad} NaN or infinite value(s) of "
                                 f"{data.size}: its predictions would be meaningless (did training "
                                 "diverge? reload the last good checkpoint)")


def _compiled_forward_backward(model: Any, loss_fn: Callable[..., Tensor], optimizer: Any) -> Callable[..., Any]:
    """zero_grad, forward, loss and backward as one compiled function returning (loss, output)."""
    from minidl.compiler import compile as compile_step

    def forward_backward(x: Any, y: Any) -> tuple[Tensor, Any]:
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        return loss, out

    return compile_step(forward_backward, fallback=True)


def fit(model: Any, loss_fn: Callable[..., Tensor], optimizer: Any, train_loader: Iterable[Any],
        epochs: int = 1, val_loader: Iterable[Any] | None = None, *, scheduler: Any = None,
        progress: bool | None = None, on_step_end: Callable[[int], None] | None = None,
        on_epoch_end: Callable[[int, History], bool | None] | None = None, compile: bool = False) -> History:  # noqa: A002
    """Train ``model`` for ``epochs`` passes over ``train_loader``; returns a :class:`History`.

    Each step: ``optimizer.zero_grad()``, forward, ``loss_fn(output, y)``, ``backward()``,
    ``optimizer.step()``, then ``on_step_end(step)``. After each epoch: validation (if a
    ``val_loader`` is given), ``scheduler.step()`` (``scheduler.step(val_loss)`` for
    ReduceLROnPlateau), then ``on_epoch_end(epoch, history)``, which may return True to
    stop early. A progress bar shows when stderr is a terminal (``progress=False`` hides
    it). A loss that turns NaN or infinite stops training with a ``FloatingPointError``
    that names the epoch and batch; it is checked before ``backward()`` and
    ``optimizer.step()``, so the model keeps the weights it had before that batch.

    ``compile=True`` runs zero_grad, forward, loss and backward as one
    :func:`minidl.compile`-d function (captured again for a last, smaller batch); the loss
    check and ``optimizer.step()`` stay eager, so the model still keeps its weights when a
    batch goes bad (its gradients are then already NaN). Same training, less Python per step —
    provided ``loss_fn`` computes only through minidl's ops: arrays it builds from ``.data``
    of an op's result are baked in at the capture (see :func:`minidl.compile`).
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int (got {epochs!r})")
    history = History()
    show = _progress_enabled(progress)
    forward_backward = _compiled_forward_backward(model, loss_fn, optimizer) if compile else None
    for epoch in range(epochs):
        start = time.perf_counter()
        if hasattr(model, "train"):
            model.train()
        total_loss, correct, count = 0.0, 0, 0
        for batch, (x, y) in enumerate(_batches(train_loader, show, f"epoch {epoch + 1}/{epochs}"), 1):
            # A diverging run overflows somewhere in the step; the finite-loss check below
            # turns that into one clear error instead of NumPy's scattered warnings.
            with np.errstate(over="ignore", invalid="ignore"):
                if forward_backward is not None:
                    loss, out = forward_backward(x, y)
                    value = float(loss.data)
                else:
                    optimizer.zero_grad()
                    out = model(x)
                    loss = loss_fn(out, y)
                    value = float(loss.data)
                # checked before the update, so a bad batch cannot reach the weights
                if not math.isfinite(value):
                    raise FloatingPointError(_bad_loss_message(value, epoch + 1, batch, history.steps + 1, x))
                if forward_backward is None:
                    loss.backward()
                optimizer.step()
            history.steps += 1
            n = len(y)
            total_loss += value * n
            correct += _correct(out, y)
            count += n
            if on_step_end is not None:
                on_step_end(history.steps)
        backend.synchronize()
        history.train_loss.append(total_loss / max(count, 1))
        history.train_accuracy.append(correct / max(count, 1))
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn)
            history.val_loss.append(result["loss"])
            history.val_accuracy.append(result["accuracy"])
        history.seconds.append(time.perf_counter() - start)
        if scheduler is not None:
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(history.val_loss[-1] if history.val_loss else history.train_loss[-1])
            else:
                scheduler.step()
        if on_epoch_end is not None and on_epoch_end(epoch, history):
            break
    return history
