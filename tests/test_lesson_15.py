"""Lesson 15 (myths, tested) runs in fast mode: every row of its table is supported, k-means beats
the even grid at 2 bits before fine-tuning, the Huffman stream round-trips within a bit of the
entropy, every stage of prune → share → Huffman is smaller than prune → int8, and the neuron
pruning criteria were all measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from minidl import myths

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "15_myths_tested.py"
pytestmark = pytest.mark.numpy_only


@pytest.fixture(scope="module")
def lesson(run_lesson) -> tuple[dict, Path]:
    run = run_lesson(LESSON)
    return run.results, run.figures


def test_the_table_has_every_check_and_all_are_supported(lesson) -> None:
    results, _ = lesson
    assert results["fast_mode"] is True
    assert len(results["rows"]) == len(myths.CHECKS)
    assert results["all_supported"] is True
    assert all(row["supported"] for row in results["rows"].values())


def test_kmeans_sweep_and_huffman(lesson) -> None:
    results, _ = lesson
    rows = {(m, b): (before, after) for m, b, before, after in results["sweep"]}
    assert {b for _, b in rows} == set(results["bits"]) and 2 in results["bits"]
    assert rows["k-means", 2][0] > rows["uniform per-tensor", 2][0]
    assert all(0.1 <= a <= 1 and 0.1 <= t <= 1 for a, t in rows.values())
    sizes = results["weight_bytes_at_bits"]
    assert all(max(s.values()) < results["float32_weight_bytes"] / 3 for s in sizes.values())
    assert results["huffman_round_trip"] is True
    assert results["huffman_entropy"] <= results["huffman_mean_bits"] < results["huffman_entropy"] + 1


def test_pipeline_each_stage_smaller(lesson) -> None:
    results, _ = lesson
    b = results["pipeline_bytes"]
    assert b["float32_dense"] > b["int8_dense"] > b["int8_sparse"] > b["kmeans_sparse"] > b["kmeans_huffman"]
    assert results["pipeline_ratios"]["kmeans_huffman"] > results["pipeline_ratios"]["int8_sparse"]
    p = results["pipeline"]
    assert p["shared_tuned"] > 0.5 and p["int8"] > 0.5


def test_neuron_pruning_measured_for_every_criterion(lesson) -> None:
    results, _ = lesson
    keys = {k.split("@")[0] for k in results["neuron_pruning"]}
    assert keys == {"apoz", "mean_activation", "weight L2 norm", "merging (data-free)"}
    assert all(0.05 <= before <= 1 and 0.05 <= after <= 1 for before, after in results["neuron_pruning"].values())


def test_figure_saved(lesson) -> None:
    _, folder = lesson
    assert (folder / "15_kmeans_vs_uniform.png").exists()
