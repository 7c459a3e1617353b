"""Lesson 08 runs in fast mode and shows what it claims."""

from __future__ import annotations

from pathlib import Path

import pytest

import minidl

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "08_pruning.py"


def test_lesson_leaves_minidl_as_it_found_it(lesson):
    assert minidl.is_grad_enabled() and minidl.get_default_dtype() == minidl.float32
    assert lesson.figure_names == ["08_lottery_ticket.png", "08_sensitivity.png", "08_size_and_latency.png",
                                   "08_sparsity_vs_accuracy.png"]


def test_masks_semantics_and_the_momentum_bug(lesson):
    results = lesson.results
    assert results["repeated_pruning_vector_ok"] and results["gradient_masked"]
    assert results["revived"]["naive"] > 0  # zeroing once: momentum brings them back
    assert results["revived"]["mask only"] == 0 and results["revived"]["mask + enforce_masks"] == 0


def test_criteria(lesson):
    results = lesson.results
    one_shot = results["one_shot"]
    for criterion in ("magnitude", "obd"):
        assert one_shot[criterion][0.9] > one_shot["random"][0.9] + 0.1
    assert results["hessian_exact_vs_fd"] < 1e-6
    assert results["obs_increase"] < results["obd_increase"]  # the compensating update pays
    assert results["obs_increase"] == pytest.approx(results["obs_saliency_sum"], rel=1e-8)


def test_pruning_keeps_accuracy_in_fast_mode(lesson):
    results = lesson.results
    assert results["dense_accuracy"] > 0.9
    assert results["sparsity_90"] == pytest.approx(0.9, abs=1e-3)
    assert results["gradual_90_accuracy"] > 0.85  # a few epochs only; full mode is checked end to end


def test_making_it_pay(lesson):
    results = lesson.results
    sizes = results["sizes"]
    assert sizes["CSR"] < sizes["dense"] < sizes["masked"] and sizes["compacted"] < sizes["dense"] / 3
    assert results["compacted_parameters"] < results["dense_parameters"] / 3
    assert results["compacted_same_outputs"]
    assert results["csr_break_even_density"] == pytest.approx(0.5, abs=0.01)


def test_exercises_about_the_source_articles(lesson):
    results = lesson.results
    # article-2's `param.data.abs().clamp_(ε, 1 − ε)` changes nothing, and in place zeroes nothing
    assert results["broken_prune_changed_nothing"] and results["broken_prune_zeros"] == 0
    # article-1's global_unstructured(model, ...) gets a clear error; loading after pruning fails
    assert "(module, name) pairs" in results["global_misuse_message"]
    assert results["load_after_prune_fails"]


def test_lottery_ticket_rounds(lesson):
    results = lesson.results
    ticket, control = results["lottery_ticket"], results["lottery_control"]
    assert len(ticket) == len(control) == 3
    assert [round(s, 3) for s, _ in ticket] == [round(s, 3) for s, _ in control]
    assert ticket[-1][0] == pytest.approx(1 - 0.55 ** 2, abs=0.01)
