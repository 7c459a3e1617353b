"""The objective the tour and lesson 11 search: an MLP trained on the bundled digits.

Beyond hyperparameters (learning rate, weight decay) the same objective searches the
network's *shape* — ``width`` and ``depth`` — which makes a tiny neural-architecture search:
the "model search" of the source articles, with a plain search method over a space of
architectures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

DEFAULTS: dict[str, Any] = {"lr": 3e-3, "weight_decay": 0.0, "width": 64, "depth": 1,
                            "optimizer": "adam", "momentum": 0.9, "batch_size": 64}


def mlp_objective(train: Any = None, val: Any = None, *, defaults: Mapping[str, Any] | None = None,
                  data_seed: int = 0) -> Callable[..., dict[str, Any]]:
    """``objective(params, budget, seed)`` for :mod:`minidl.search`, with ``mode="max"``.

    It builds ``MLP([64] + [width] * depth + [10])``, trains it for ``budget`` epochs with
    ``optimizer`` ("adam" or "sgd" with ``momentum``), ``lr``, ``weight_decay`` and
    ``batch_size``, and returns the validation accuracy as the score, with the validation
    loss and the parameter count beside it. Keys missing from ``params`` take
    :data:`DEFAULTS` (updated by ``defaults``). A run whose loss blows up raises, and the
    search records the trial as failed. ``train`` / ``val`` default to the digits splits.
    """
    settings = {**DEFAULTS, **(defaults or {})}
    data: dict[str, Any] = {}

    def splits() -> tuple[Any, Any]:
        if "train" not in data:
            from minidl.data import load_digits

            data["train"] = train if train is not None else load_digits("train", seed=data_seed)
            data["val"] = val if val is not None else load_digits("val", seed=data_seed)
        return data["train"], data["val"]

    def objective(params: Mapping[str, Any], budget: float, seed: int = 0) -> dict[str, Any]:
        from minidl import nn, optim
        from minidl.data import DataLoader
        from minidl.train import evaluate, fit

        unknown = set(params) - set(settings)
        if unknown:
            raise ValueError(f"mlp_objective: unknown parameter(s) {sorted(unknown)}; "
                             f"known: {sorted(settings)}")
        p = {**settings, **params}
        epochs = int(round(budget))
        if epochs < 1:
            raise ValueError(f"budget must be at least 1 epoch (got {budget!r})")
        tr, va = splits()
        model = nn.MLP([tr.num_features] + [int(p["width"])] * int(p["depth"]) + [tr.num_classes])
        lr, wd = float(p["lr"]), float(p["weight_decay"])  # Python floats keep the model float32
        if p["optimizer"] == "adam":
            opt = optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
        elif p["optimizer"] == "sgd":
            opt = optim.SGD(model.parameters(), lr=lr, momentum=float(p["momentum"]), weight_decay=wd)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'sgd' (got {p['optimizer']!r})")
        fit(model, nn.functional.cross_entropy, opt,
            DataLoader(tr, batch_size=int(p["batch_size"]), shuffle=True, seed=seed),
            epochs=epochs, progress=False)
        result = evaluate(model, DataLoader(va, batch_size=512), nn.functional.cross_entropy)
        return {"score": result["accuracy"], "val_loss": result["loss"],
                "parameters": sum(q.numel() for q in model.parameters())}

    return objective
