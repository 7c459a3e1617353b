"""Nothing a user saved is lost, and bad scores and bad files get clear errors (issue 14)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from minidl.search import grid_search, load_result, random_search
from minidl.search.trials import ScoreTypeError


def _result():
    return grid_search(lambda p, b: p["x"] * 0.5, {"x": [1, 2]}, progress=False)


def test_save_replaces_atomically_and_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "search.json"
    saved = _result()
    saved.save(path)
    before = path.read_bytes()

    def disk_full(fd):  # the temporary file was written, but cannot be flushed to the disk
        raise OSError(28, "No space left on device")

    import os
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        grid_search(lambda p, b: 1.0, {"x": [5]}, progress=False).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the previous results are intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.json"]  # no temporary file left
    assert load_result(path) == saved


@pytest.mark.parametrize("bad", ["0.5", True, np.bool_(False), None, [0.5], b"1"])
def test_a_score_that_is_not_a_number_stops_the_search_naming_trial_and_value(bad):
    with pytest.raises(ScoreTypeError, match=r"trial 0 with params \{'x': 1\}.*" + repr(bad)[:3].replace("[", r"\[")):
        grid_search(lambda p, b: bad, {"x": [1, 2]}, progress=False)
    assert issubclass(ScoreTypeError, TypeError)
    with pytest.raises(TypeError, match="numeric 'score'"):
        grid_search(lambda p, b: {"score": bad}, {"x": [1]}, progress=False)


def test_numbers_of_every_kind_are_scores_and_nan_is_a_failed_trial():
    for good in (1, 0.5, np.float32(0.5), np.int64(2), np.array(0.25)):
        result = grid_search(lambda p, b, g=good: g, {"x": [1]}, progress=False)
        assert result.trials[0].ok and isinstance(result.trials[0].score, float)
    nan = random_search(lambda p, b: math.nan, {"x": [1]}, 1, progress=False)
    assert not nan.trials[0].ok and nan.trials[0].error == "score is nan"  # as Optuna: a failed trial


def _set(path, *keys_and_value):
    def edit(data):
        *keys, last, value = path, *keys_and_value
        target = data
        for k in keys:
            target = target[k]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return edit


_DELETE = object()


def _rename(trial, old, new):
    def edit(data):
        data["trials"][trial][new] = data["trials"][trial].pop(old)
    return edit


@pytest.mark.parametrize("edit, match", [
    (_set("trials", _DELETE), r"search\.json: the result has no 'trials' field"),
    (_set("trials", 0, "budget", "one"), r"search\.json: trial 0's 'budget' must be int or float \(got 'one'\)"),
    (_set("trials", 0, "status", "done"), r"trial 0's 'status' must be 'ok' or 'failed'"),
    (_set("trials", 1, "params", [1]), r"trial 1's 'params' must be dict"),
    (_rename(0, "seed", "sed"), r"trial 0 has unknown field\(s\) \['sed'\]"),
    (_set("mode", "best"), r"'mode' must be one of"),
    (_set("seed", True), r"the result's 'seed' must be int \(got True\)"),
])
def test_load_result_on_a_hand_edited_file_names_the_file_and_the_problem(tmp_path, edit, match):
    path = _result().save(tmp_path / "search.json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match):
        load_result(path)


@pytest.mark.parametrize("text, match", [
    (lambda t: t[: len(t) // 2], r"search\.json is not valid JSON \(.* at line \d+, column \d+\); the file ends "
                                 r"early: truncated\?"),
    (lambda t: t.replace(",", ";", 1), r"search\.json is not valid JSON \(Expecting"),
    (lambda t: "[1, 2]", r"is not a minidl search result"),
])
def test_load_result_on_a_truncated_or_broken_file_names_the_file(tmp_path, text, match):
    path = _result().save(tmp_path / "search.json")
    path.write_text(text(path.read_text()))
    with pytest.raises(ValueError, match=match):
        load_result(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_result(path)


def test_load_result_rejects_a_trial_whose_status_and_score_disagree(tmp_path):
    path = _result().save(tmp_path / "search.json")
    data = json.loads(path.read_text())
    data["trials"][1]["score"] = None
    Path(path).write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"trial 1 has status 'ok' but score None"):
        load_result(path)
