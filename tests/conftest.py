"""Shared fixtures: where the shared datasets are, fast lessons, a non-interactive plot backend."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # no screen in CI; figures are written to files
os.environ.setdefault("MINIDL_FAST", "1")  # lessons and the tour shrink their epochs under test

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MINIDL_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (CI always has it; a user's clone does not, so such tests skip there)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"needs the shared datasets at {SHARED_DATA} (present in CI, absent in a user's clone)")
    return SHARED_DATA
