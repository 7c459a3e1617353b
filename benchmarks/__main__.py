"""Run every benchmark module and write benchmarks/RESULTS.md.

    python -m benchmarks            # all benchmarks
    python -m benchmarks --quick    # fewer repetitions (a smoke run)
    python -m benchmarks --only mlp
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import pkgutil
import sys
import time
from pathlib import Path

import benchmarks
from benchmarks.harness import machine_notes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. mlp (for bench_mlp.py)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    args = parser.parse_args()

    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name.startswith("bench_"))
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {names}")
        names = [n for n in names if n in args.only]
    sections = []
    for name in names:
        start = time.perf_counter()
        print(f"running bench_{name} ...", flush=True)
        section = importlib.import_module(f"benchmarks.bench_{name}").run(quick=args.quick)
        print(section.markdown())
        print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
        sections.append(section)

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = Path(args.out)
    if args.only and out.exists():  # a partial run replaces its own sections and keeps the others
        out.write_text(merge_sections(out.read_text(encoding="utf-8"), sections, when, names), encoding="utf-8")
        print(f"updated {args.out} (sections of {', '.join(names)})")
        return 0
    text = ["# Benchmark results", "",
            f"Written by `make bench` on {when}{' (quick run)' if args.quick else ''}. "
            "Each number is the median of interleaved rounds; ratios compare against a "
            "reference timed in the same run.", ""]
    text += [f"- {n}" for n in machine_notes()] + [""]
    text += [s.markdown() for s in sections]
    Path(args.out).write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def merge_sections(old: str, sections: list, when: str, names: list[str]) -> str:
    """``old`` RESULTS.md with each re-run section replaced (matched by its ``## title``) or
    appended, and a line saying which sections came from which run."""
    head, *parts = old.split("\n## ")
    blocks = {p.split("\n", 1)[0]: "## " + p.rstrip("\n") + "\n" for p in parts}
    for section in sections:
        blocks[section.title] = section.markdown()
    note = f"- sections re-run on {when} with `--only {' '.join(names)}`: " + \
        ", ".join(s.title for s in sections)
    return head.rstrip("\n") + "\n" + note + "\n\n" + "\n".join(blocks.values())


if __name__ == "__main__":
    sys.exit(main())
