"""Every row of lesson 15's table, as a test: if minidl changes so that a verdict no longer holds,
this fails (the lesson imports the same check functions from minidl.myths)."""

from __future__ import annotations

import pytest

from minidl import myths

pytestmark = pytest.mark.numpy_only  # the checks train small models on the host digits


@pytest.fixture(scope="module")
def checks() -> dict[str, myths.Check]:
    return {c.key: c for c in (f() for f in myths.CHECKS)}


@pytest.mark.parametrize("check", myths.CHECKS, ids=lambda f: f.__name__)
def test_the_evidence_supports_the_verdict(check) -> None:
    row = check()
    assert row.verdict in (myths.FALSE, myths.TRUE, myths.HARMLESS, myths.MISLEADING)
    assert row.claim and row.article and row.lesson and row.summary
    assert row.supported, f"{row.key}: the run no longer supports '{row.verdict}': {row.evidence}"


def test_the_table_covers_the_issues_claims(checks) -> None:
    wanted = {"adam_eps", "rebind_quantize", "abs_clamp", "copy_teacher", "hard_labels", "fp16_range",
              "global_unstructured", "l2_unsquared", "log_softmax_twice", "garbled_formula", "randn_targets",
              "sgd_compute", "digit_flips", "sparsification", "view_shape", "abstract_schedule", "multi_gpu_model",
              "prune_retrain", "int8_size", "distill_helps", "standardize", "random_vs_grid",
              "kmeans_minmax", "activation_importance", "merging"}
    assert wanted <= set(checks)
    assert len(checks) == len(myths.CHECKS)  # keys are unique


def test_specific_numbers(checks) -> None:
    assert checks["log_softmax_twice"].evidence["loss_difference"] < 1e-12
    assert checks["abs_clamp"].evidence["zeros_if_in_place"] == 0
    assert checks["view_shape"].evidence["rows_for_4_images"] == 64
    assert checks["int8_size"].evidence["ratio"] <= 4.0
    plain = checks["l2_unsquared"].evidence["grad_length_unsquared"]
    assert max(plain.values()) - min(plain.values()) < 1e-12
    assert checks["hard_labels"].evidence["rows_without_a_label_T4"] > 0
