"""The ``minidl`` command: the tour, the lesson list and its error handling."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import minidl
from minidl.cli import main


def test_fast_tour_writes_its_report(tmp_path: Path, capsys) -> None:
    out, report_path = tmp_path / "tour", tmp_path / "r.json"
    assert main(["tour", "--fast", "--out", str(out), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["fast"] is True
    assert report["minidl_version"] == minidl.__version__
    assert report["test_accuracy"] >= 0.9
    assert isinstance(report["chapters"], dict) and "mlp" in report["chapters"]
    mlp = report["chapters"]["mlp"]
    assert mlp["test_accuracy"] == report["test_accuracy"]
    for figure in mlp["figures"]:
        assert Path(figure).is_file() and Path(figure).parent == out
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(report_path) in printed

    # Chapters share chapter 1's trained MLP and chapter 7's CNN (minidl.tour.baselines); run
    # alone, a chapter trains them itself and must report the same numbers as in the full tour.
    alone_path = tmp_path / "alone.json"
    assert main(["tour", "--fast", "--only", "pruning", "quantization", "--out", str(tmp_path / "alone"),
                 "--json", str(alone_path)]) == 0
    alone = json.loads(alone_path.read_text(encoding="utf-8"))["chapters"]
    for key in ("pruning", "quantization"):
        compared = [name for name in report["chapters"][key]  # all but timings and paths
                    if name not in ("seconds", "figures") and "latency" not in name]
        assert len(compared) >= 6, key
        for name in compared:
            assert alone[key][name] == report["chapters"][key][name], (key, name)
    assert report["chapters"]["quantization"]["float32_accuracy"] == mlp["test_accuracy"]
    assert report["chapters"]["quantization"]["cnn_float32_accuracy"] == report["chapters"]["cnn"]["test_accuracy"]


def test_tour_only_one_chapter(tmp_path: Path) -> None:
    report_path = tmp_path / "only.json"
    assert main(["tour", "--fast", "--only", "mlp", "--out", str(tmp_path), "--json", str(report_path)]) == 0
    assert list(json.loads(report_path.read_text(encoding="utf-8"))["chapters"]) == ["mlp"]


def test_unknown_chapter_is_an_error(tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "r.json"
    code = main(["tour", "--fast", "--only", "nope", "--out", str(tmp_path), "--json", str(report_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "nope" in err and "error" in err
    assert "mlp" in err  # the message lists the chapters there are
    assert not report_path.exists()


def test_lessons_lists_the_lessons(capsys) -> None:
    from minidl.course import list_lessons

    try:
        lessons = list_lessons()
    except FileNotFoundError:
        pytest.skip("no lessons/ folder in this checkout")
    assert main(["lessons"]) == 0
    printed = capsys.readouterr().out
    if not lessons:
        pytest.skip("lessons/ has no lessons yet")
    listed = [line for line in printed.splitlines() if re.match(r"\d\d  \S", line)]
    assert len(listed) == len(lessons)
    for lesson, line in zip(lessons, listed):
        assert line == f"{lesson.number:02d}  {lesson.title}"


def test_info(capsys) -> None:
    assert main(["info"]) == 0
    assert f"minidl {minidl.__version__}" in capsys.readouterr().out


def test_unknown_command_exits_with_usage(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fly"])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_blas_threads_limits_numpy_and_restores_it() -> None:
    from threadpoolctl import threadpool_info

    from minidl.threads import blas_threads

    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with blas_threads(1):
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    with pytest.raises(ValueError, match="positive int"):
        with blas_threads(0):
            pass
