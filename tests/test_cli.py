"""The ``minidl`` command: the tour, the lesson list and its error handling."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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
    err = capsys.readouterr().err
    assert "usage" in err and "fly" in err and len(err.strip().splitlines()) == 1


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


# ---------------------------------------------------------------------------------------------
# Every error: one line on stderr, a non-zero exit, never a traceback (issue 14 §4)

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIDL_FAST": "1"}
    env.pop("MINIDL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "minidl.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def bad_invocations(tmp: Path) -> dict[str, tuple[list[str], str]]:
    a_file = tmp / "a_file"
    a_file.write_text("not a folder")
    return {
        "json under a file": (["tour", "--fast", "--json", str(a_file / "r.json")], "--json"),
        "json is a folder": (["tour", "--fast", "--json", str(tmp)], "is a folder"),
        "out is a file": (["tour", "--fast", "--out", str(a_file)], "existing file"),
        "out under a file": (["tour", "--fast", "--out", str(a_file / "figs")], "--out"),
        "unknown dataset": (["tour", "--fast", "--dataset", "cifar"], "cifar"),
        "unknown chapter": (["tour", "--fast", "--only", "nope"], "nope"),
        "bad seed": (["tour", "--seed", "x"], "invalid int value"),
        "no such lesson": (["lesson", "999"], "no lesson 999"),
        "unknown command": (["fly"], "invalid choice"),
        "no command": ([], "required"),
    }


def test_bad_invocations_fail_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    for name, (args, expected) in bad_invocations(tmp_path).items():
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (name, result.returncode, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("minidl"), (name, result.stderr)
        assert expected in lines[0], (name, lines[0])
        assert "Traceback" not in result.stderr + result.stdout, name
        assert "[1/" not in result.stdout, name  # no chapter ran before the error
    assert not (tmp_path / "minidl-tour").exists()  # nothing was created by a refused tour


def test_paths_are_checked_before_any_chapter_runs(tmp_path: Path, monkeypatch, capsys) -> None:
    from minidl.tour import core

    ran = []
    monkeypatch.setattr(core, "registered_chapters", lambda: [core.Chapter("mlp", "t", lambda ctx: ran.append(1))])
    (tmp_path / "taken").write_text("")
    assert main(["tour", "--out", str(tmp_path / "taken")]) == 2
    assert main(["tour", "--out", str(tmp_path / "figs"), "--json", str(tmp_path / "taken" / "x.json")]) == 2
    assert ran == [] and not (tmp_path / "figs").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("minidl: error: --") for line in err)


def test_a_failure_inside_a_chapter_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from minidl.tour import core

    def broken(ctx):
        raise RuntimeError("something broke\non two lines")

    monkeypatch.setattr(core, "registered_chapters", lambda: [core.Chapter("mlp", "t", broken)])
    assert main(["tour", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("minidl: error: RuntimeError: something broke on two lines "
                           "(set MINIDL_DEBUG=1 to see the traceback)")
    monkeypatch.setenv("MINIDL_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["tour", "--out", str(tmp_path)])
