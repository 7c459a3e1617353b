"""The whole tour, end to end (what ``make tour`` costs a newcomer), chapter by chapter."""

from __future__ import annotations

import tempfile
import time

from benchmarks.harness import Section, fmt_time

BUDGET_S = 60.0  # the whole tour must stay under a minute


def run(quick: bool = False) -> Section:
    from minidl.threads import blas_threads
    from minidl.tour import run_tour

    rows = []
    totals = []
    for fast in ((True,) if quick else (False, True)):
        with tempfile.TemporaryDirectory() as out, blas_threads(1):  # as `minidl tour` runs it
            start = time.perf_counter()
            report = run_tour(out_dir=out, fast=fast, echo=lambda line: None)
            totals.append(time.perf_counter() - start)
        mode = "fast" if fast else "full"
        for key, chapter in report["chapters"].items():
            accuracy = chapter.get("test_accuracy")
            rows.append([mode, key, fmt_time(chapter["seconds"]),
                         "" if accuracy is None else f"{accuracy:.1%}"])
        rows.append([mode, "**whole tour**", fmt_time(totals[-1]), ""])
    full = totals[0]
    notes = [f"budget: the full tour under {BUDGET_S:.0f} s on 2 cores; measured {fmt_time(full)} "
             f"({'met' if full <= BUDGET_S else 'not met'})" if not quick else
             "quick run: fast mode only",
             "one run each (the tour is a single long task, so no repetitions), with one BLAS thread "
             "as `minidl tour` uses by default; includes loading the Numba kernels from their cache"]
    return Section(title="The tour, end to end", header=["mode", "chapter", "time", "test accuracy"],
                   rows=rows, notes=notes)
