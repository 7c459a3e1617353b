"""minidl.course.claim: a lesson's sentence guarded by its run."""

import pytest

from minidl.course import ClaimFailed, claim


def test_claim_passes_silently_when_the_run_agrees():
    assert claim(0.97 > 0.95, "accuracy stays above 95%", acc=0.97) is None


def test_claim_names_the_sentence_and_the_measured_values_when_contradicted():
    with pytest.raises(ClaimFailed, match=r"above 95%.*acc=0\.9"):
        claim(0.9 > 0.95, "accuracy stays above 95%", acc=0.9)
    assert issubclass(ClaimFailed, AssertionError)  # a failing claim fails the lesson's test
