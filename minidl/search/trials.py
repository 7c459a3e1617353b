"""Trials and their table: running one trial safely, recording it, saving and reloading results.

Every search method calls the user's ``objective(params, budget) -> score`` through
:class:`TrialRunner`, which times the call, records the trial's seed, and turns an
exception or a NaN/infinite score into a *failed* trial (with the error message) instead
of stopping the search — a diverging learning rate is a result, as in Optuna. A score that
is not a number at all (``'0.5'``, ``True``, ``None``) is a bug in the objective, not a
result: the search stops with a ``TypeError`` naming the trial and the value.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.random import SeedSequence

from minidl.files import replace_atomically

MODES = ("min", "max")
FORMAT = "minidl.search/1"


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' (lower score is better) or 'max' (higher is better) "
                         f"(got {mode!r})")
    return mode


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int (got {seed!r})")
    return int(seed)


def trial_seed(seed: int, config: int) -> int:
    """The seed of configuration number ``config`` in a search seeded with ``seed``.

    Derived with NumPy's ``SeedSequence`` (well mixed, so nearby seeds give unrelated
    streams); a configuration trained again at a larger budget keeps its seed.
    """
    return int(SeedSequence([seed, config]).generate_state(1)[0])


@dataclass
class Trial:
    """One evaluation of ``objective(params, budget)``.

    ``config`` numbers the configurations (the same number when successive halving trains
    a configuration again with a larger budget); ``rung`` is that round (0 otherwise);
    ``bracket`` is Hyperband's bracket. ``status`` is ``"ok"`` or ``"failed"`` (then
    ``score`` is None and ``error`` says why). ``info`` holds the extra numbers an
    objective returned beside its score.
    """

    number: int
    config: int
    params: dict[str, Any]
    budget: float
    score: float | None
    status: str
    seconds: float
    seed: int
    rung: int = 0
    bracket: int = 0
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    # info: extra numbers from the objective; a NaN among them is stored as None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _accepts_seed(objective: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(objective).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return "seed" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class ScoreTypeError(TypeError):
    """The objective returned something that is not a number (raised, not recorded)."""


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (a Python int or float, a NumPy number, or a
    one-element array or tensor of them), else None. bool is refused: True is not a score."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if callable(getattr(value, "item", None)):  # a 0-d array, a one-element tensor
        try:
            inner = value.item()
        except (TypeError, ValueError, RuntimeError):
            return None
        return None if inner is value else _as_number(inner)
    return None


def _as_score(value: Any) -> tuple[float | None, dict[str, Any], str]:
    """(score, info, error) from what an objective returned: a number, or a dict with 'score'.

    A NaN or infinite score, or a dict without 'score', gives (None, info, why): a failed trial.
    A value that is not a number raises :class:`ScoreTypeError` (the caller adds which trial)."""
    info: dict[str, Any] = {}
    if isinstance(value, Mapping):
        if "score" not in value:  # recorded as a failed trial, as it always was
            return None, {}, f"the objective returned a dict without a 'score' key (keys {sorted(map(str, value))})"
        info = {k: _plain(v) for k, v in value.items() if k != "score"}
        value = value["score"]
    score = _as_number(value)
    if score is None:
        raise ScoreTypeError(f"the objective must return a number (int or float) or a dict with a numeric "
                             f"'score'; got {value!r} (a {type(value).__name__})")
    if not math.isfinite(score):
        return None, info, f"score is {score}"
    return score, info, ""


def _plain(v: Any) -> Any:
    """A NumPy scalar as a Python one; a NaN or infinity as None (JSON has no such numbers)."""
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


class TrialRunner:
    """Calls the objective for each trial and keeps the table (shared by every search method).

    Before each call it seeds minidl's generator with the trial's seed, exactly as calling
    ``minidl.manual_seed(seed)`` would, so weight initialization and dropout are
    reproducible (after the search the generator is left as the last trial seeded it). It
    passes ``seed=`` to objectives that accept it: use it for a DataLoader's shuffling.
    """

    def __init__(self, objective: Callable[..., Any], *, method: str, mode: str, seed: int,
                 space: Any, settings: Mapping[str, Any], total: int | None, progress: bool | None) -> None:
        if not callable(objective):
            raise TypeError(f"objective must be callable as objective(params, budget) (got {objective!r})")
        self.objective = objective
        self.pass_seed = _accepts_seed(objective)
        self.result = SearchResult(method=method, mode=check_mode(mode), seed=check_seed(seed),
                                   space=repr(space), settings=dict(settings))
        self._bar = _progress_bar(total, method, progress)

    def run(self, params: dict[str, Any], budget: float, config: int, rung: int = 0,
            bracket: int = 0) -> Trial:
        from minidl.random import manual_seed

        seed = trial_seed(self.result.seed, config)
        manual_seed(seed)
        start = time.perf_counter()
        returned, raised = None, None
        try:
            kwargs = {"seed": seed} if self.pass_seed else {}
            returned = self.objective(dict(params), budget, **kwargs)
        except Exception as e:  # a failing trial is recorded, not fatal (KeyboardInterrupt still stops)
            raised = e
        if raised is not None:
            score, info = None, {}
            error = f"{type(raised).__name__}: {raised}"
            frame = traceback.extract_tb(raised.__traceback__)[-1]
            error += f" (at {Path(frame.filename).name}:{frame.lineno})"
        else:
            try:
                score, info, error = _as_score(returned)
            except ScoreTypeError as e:
                raise ScoreTypeError(f"trial {len(self.result.trials)} with params {dict(params)!r}: {e}") from None
        trial = Trial(number=len(self.result.trials), config=config, params=dict(params),
                      budget=budget, score=score, status="ok" if score is not None else "failed",
                      seconds=time.perf_counter() - start, seed=seed, rung=rung, bracket=bracket,
                      error=error, info=info)
        self.result.trials.append(trial)
        if self._bar is not None:
            self._bar.update(1)
            best = self.result.best
            if best is not None:
                self._bar.set_postfix(best=f"{best.score:.4g}", refresh=False)
        return trial

    def close(self) -> SearchResult:
        if self._bar is not None:
            self._bar.close()
        return self.result


def _progress_bar(total: int | None, desc: str, progress: bool | None) -> Any:
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="trial", leave=False)


@dataclass
class SearchResult:
    """The table of a search: one :class:`Trial` per row, plus how it was run.

    ``mode`` says which way is better (``"min"`` or ``"max"``); ``seed`` is the one seed
    that drove the search. Save with :meth:`save` (JSON) and reload with :func:`load_result`.
    """

    method: str
    mode: str
    seed: int
    space: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    def __repr__(self) -> str:
        best = self.best
        tail = f", best {best.score:.4g} with {best.params}" if best is not None else ""
        return (f"SearchResult({self.method}, mode={self.mode!r}, seed={self.seed}, "
                f"{len(self.trials)} trials, {self.n_failed} failed{tail})")

    def better(self, a: float, b: float) -> bool:
        """Is score ``a`` strictly better than ``b`` in this result's mode?"""
        return a < b if self.mode == "min" else a > b

    @property
    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    @property
    def n_failed(self) -> int:
        return sum(not t.ok for t in self.trials)

    @property
    def best(self) -> Trial | None:
        """The successful trial with the best score (at any budget; the first one on a tie)."""
        best = None
        for t in self.ok_trials:
            if best is None or self.better(t.score, best.score):
                best = t
        return best

    @property
    def best_params(self) -> dict[str, Any]:
        if self.best is None:
            raise ValueError("no trial succeeded: every trial failed (see result.table())")
        return dict(self.best.params)

    @property
    def best_score(self) -> float:
        if self.best is None:
            raise ValueError("no trial succeeded: every trial failed (see result.table())")
        return self.best.score

    @property
    def total_budget(self) -> float:
        """The budget spent, summed over every trial (failed ones too: they cost time)."""
        return sum(t.budget for t in self.trials)

    def best_so_far(self) -> tuple[list[float], list[float]]:
        """(budget spent after each trial, best score found up to then): the curve to compare
        search methods by. Before the first success the best is NaN."""
        spent, best, b, total = [], [], math.nan, 0.0
        for t in self.trials:
            total += t.budget
            if t.ok and (math.isnan(b) or self.better(t.score, b)):
                b = t.score
            spent.append(total)
            best.append(b)
        return spent, best

    def table(self, max_rows: int | None = None) -> str:
        """The trials as aligned text (params, score, budget, time, seed, status)."""
        keys = sorted({k for t in self.trials for k in t.params})
        header = ["#", *keys, "budget", "score", "seconds", "seed", "status"]
        rows = []
        for t in self.trials[:max_rows]:
            rows.append([str(t.number), *(_fmt(t.params.get(k, "")) for k in keys), _fmt(t.budget),
                         _fmt(t.score) if t.ok else "—", f"{t.seconds:.3f}", str(t.seed),
                         t.status if t.ok else f"failed: {t.error}"])
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    # -- saving -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "method": self.method, "mode": self.mode, "seed": self.seed,
                "space": self.space, "settings": self.settings,
                "trials": [asdict(t) for t in self.trials]}

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON (no pickle: readable, diffable, safe to load).

        The text goes to a temporary file in the same folder, which then replaces ``path`` in
        one step (``os.replace``): a failed write (disk full, interrupted) leaves the previous
        file as it was."""
        path = Path(path)
        try:
            text = json.dumps(self.to_dict(), indent=1, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as e:
            raise TypeError(f"cannot save this result as JSON: {e}. Parameter values must be "
                            "str, int, finite float, bool or None (use names for other choices)") from None
        with replace_atomically(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        return path


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{v!r} (a {type(v).__name__}) is not JSON serializable")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


_TRIAL_FIELDS = {"number": int, "config": int, "params": dict, "budget": (int, float),
                 "score": (int, float, type(None)), "status": str, "seconds": (int, float), "seed": int,
                 "rung": int, "bracket": int, "error": str, "info": dict}
_TRIAL_REQUIRED = ("number", "config", "params", "budget", "score", "status", "seconds", "seed")
_RESULT_FIELDS = {"method": str, "mode": str, "seed": int, "space": str, "settings": dict, "trials": list}


def load_result(path: str | Path) -> SearchResult:
    """Read a result written by :meth:`SearchResult.save`.

    A file that is not one (truncated, hand-edited, another format) raises ``ValueError``
    naming the file and what is wrong with it (the line and column of broken JSON, the
    missing or mistyped field and the trial it belongs to)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not a minidl search result: not UTF-8 text "
                         f"({e.reason} at byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        truncated = not text.rstrip().endswith("}")  # save() always ends the file with the closing brace
        hint = "; the file ends early: truncated?" if truncated else ""
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}){hint}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a minidl search result (expected format {FORMAT!r})")
    for key, kind in _RESULT_FIELDS.items():
        _check_field(path, "the result", data, key, kind, required=True)
    if data["mode"] not in MODES:
        raise ValueError(f"{path}: the result's 'mode' must be one of {MODES} (got {data['mode']!r})")
    trials = []
    for i, t in enumerate(data["trials"]):
        where = f"trial {i}"
        if not isinstance(t, dict):
            raise ValueError(f"{path}: {where} must be a JSON object (got {type(t).__name__})")
        unknown = sorted(set(t) - set(_TRIAL_FIELDS))
        if unknown:
            raise ValueError(f"{path}: {where} has unknown field(s) {unknown}; expected {sorted(_TRIAL_FIELDS)}")
        for key, kind in _TRIAL_FIELDS.items():
            _check_field(path, where, t, key, kind, required=key in _TRIAL_REQUIRED)
        if t["status"] not in ("ok", "failed"):
            raise ValueError(f"{path}: {where}'s 'status' must be 'ok' or 'failed' (got {t['status']!r})")
        if (t["status"] == "ok") != (t["score"] is not None):
            raise ValueError(f"{path}: {where} has status {t['status']!r} but score {t['score']!r} "
                             "(an ok trial has a number, a failed one null)")
        trials.append(Trial(**t))
    return SearchResult(method=data["method"], mode=data["mode"], seed=data["seed"],
                        space=data["space"], settings=data["settings"], trials=trials)


def _check_field(path: Path, where: str, data: dict[str, Any], key: str, kind: Any, *, required: bool) -> None:
    if key not in data:
        if required:
            raise ValueError(f"{path}: {where} has no {key!r} field")
        return
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise ValueError(f"{path}: {where}'s {key!r} must be {names} (got {value!r})")
