"""Build the minidl course as a static, offline HTML book (`make book`, `make test-book`).

    python book/build.py                 # full mode: build/book/ and build/notebooks/
    python book/build.py --fast          # fast mode (MINIDL_FAST=1): build/test-book/book/, for the browser test

Steps: stage the pages (front page, notation, glossary, architecture, one page per lesson) in
``build/<name>-src``; run Sphinx with MyST-NB, which executes each lesson (cached by its code, so
only edited lessons run again; a lesson that raises fails the build); then put each executed
notebook and each lesson's ``.py`` beside the pages for download.

The staged lessons differ from ``lessons/`` only by what a reader of the book needs on top: a line
saying when and on what machine the outputs were produced (a cell the lesson itself does not
have), download links, and answers shown collapsed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from minidl.course import ANSWER_TAGS  # the answer-cell convention: jupytext tags answer, hide-cell

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

# The cell every lesson page starts with: what produced the outputs below it. It is part of the
# executed notebook, so a cached page keeps the date and machine of the run that made its outputs.
PROVENANCE_CELL = '''# %% tags=["remove-input"]
# minidl source fingerprint: {fingerprint} (a change to the library re-executes every lesson)
import datetime as _dt, os as _os, platform as _pf
import numba as _nb, numpy as _np
from IPython.display import HTML as _HTML
_HTML('<p class="lesson-meta">Outputs produced on ' + _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
      + f' by {_pf.python_implementation()} {_pf.python_version()} on {_os.cpu_count()} CPU(s) '
      + f'({_pf.machine()}), NumPy {_np.__version__}, Numba {_nb.__version__}, '
      + ('fast mode' if _os.environ.get("MINIDL_FAST", "") not in ("", "0") else 'full mode') + '.</p>')
'''



def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def write_if_changed(path: Path, text: str) -> None:
    """Sphinx re-reads a page whose file time changed: leave unchanged pages alone."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def lesson_files() -> list[Path]:
    return sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))


def split_cells(text: str) -> list[str]:
    """Split a percent-format file into its cells (each starting with its ``# %%`` line)."""
    parts = re.split(r"(?m)^(?=# %%)", text)
    return [p for p in parts if p.strip()]


def cell_tags(cell: str) -> list[str]:
    header = cell.splitlines()[0]
    m = re.search(r"tags=\[([^\]]*)\]", header)
    return [t.strip().strip("\"'") for t in m.group(1).split(",")] if m else []


def markdown_body(cell: str) -> str:
    """The markdown of a ``# %% [markdown]`` cell, without the comment marks."""
    lines = cell.splitlines()[1:]
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines).strip()


def to_markdown_cell(md: str) -> str:
    return "# %% [markdown]\n" + "\n".join(("# " + line) if line else "#" for line in md.splitlines()) + "\n\n"


def collapse_answer(cell: str) -> str:
    """An answer cell, shown collapsed until clicked: a markdown cell becomes a <details> block,
    a code cell keeps MyST-NB's ``hide-cell`` tag (code and output folded under one toggle)."""
    header = cell.splitlines()[0]
    if "[markdown]" in header:
        body = markdown_body(cell)
        body = re.sub(r"^\*\*Answer\.?\*\*\s*|^\*Answer\.?\*\s*", "", body)
        return to_markdown_cell(f'<details class="answer"><summary>Answer</summary>\n\n{body}\n\n</details>')
    tags = [t for t in cell_tags(cell) if t not in ANSWER_TAGS] + ["hide-cell"]
    new_header = re.sub(r"\s*tags=\[[^\]]*\]", "", header) + " tags=[" + ", ".join(f'"{t}"' for t in tags) + "]"
    return new_header + cell[len(header):]


def library_fingerprint() -> str:
    """A hash of minidl's source: the execution cache is keyed by a notebook's code, so this line
    in every lesson makes a change to the library re-run the lessons that use it."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "minidl").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def stage_lesson(src: Path, dest: Path, fingerprint: str) -> None:
    cells = split_cells(src.read_text(encoding="utf-8"))
    links = [f'<a href="../_downloads/{src.stem}.ipynb" download>this lesson as a notebook (.ipynb)</a>',
             f'<a href="../_downloads/{src.name}" download>as a Python script (.py)</a>']
    header = to_markdown_cell("Download " + " · ".join(links) + ".")
    out = []
    for i, cell in enumerate(cells):
        # the lessons link the notation table in the repository; in the book it is a page at the root
        cell = cell.replace("](../docs/notation.md)", "](../notation.md)")
        if any(t in ANSWER_TAGS for t in cell_tags(cell)):
            cell = collapse_answer(cell)
        out.append(cell if cell.endswith("\n\n") else cell.rstrip("\n") + "\n\n")
        if i == 0:  # after the title and the learning goals
            out += [header, PROVENANCE_CELL.replace("{fingerprint}", fingerprint) + "\n"]
    dest.write_text("".join(out), encoding="utf-8")


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"(?ms)^## {re.escape(title)}\n(.*?)(?=^## )", text)
    return m.group(1).strip() if m else ""


def repo_links_to_pages(md: str) -> str:
    """Links from README/ARCHITECTURE text into the repository: lessons become book pages, other
    files become plain code names (the book serves pages, not the source tree)."""
    md = re.sub(r"\]\(lessons/([0-9][0-9]_[^)#]+)\.py\)", r"](lessons/\1.py)", md)
    md = re.sub(r"\[([^\]]+)\]\((?!https?:|#|lessons/[0-9])([^)]+)\)", r"\1", md)
    return md


def stage_front_page(stage: Path, tour_figures: list[Path], pages: list[str]) -> None:
    intro = readme_section("What minidl is")
    quick = readme_section("Quick start")
    table = [line for line in readme_section("Lessons").splitlines() if line.startswith("|")]
    lessons = repo_links_to_pages("\n".join(table))
    figs = "\n\n".join(f"![{p.stem}](_tour/{p.name})" for p in tour_figures)
    toc = "\n".join(pages)
    text = f"""# minidl — a course in model optimization

**A deep-learning library written from scratch in NumPy, to teach model optimization:**
how a network is trained, made smaller and made faster. Every page of this book is a lesson
executed as it was built, with its printed output and its figures in place.

## Install

{quick}

## The lessons

{lessons}

## What minidl is

{repo_links_to_pages(intro)}

## The tour, in pictures

`make tour` trains and compresses a few small networks on the bundled digits; these are its
figures from this build.

{figs}

```{{toctree}}
:hidden:
:maxdepth: 1

{toc}
```
"""
    write_if_changed(stage / "index.md", text)


def run_tour(stage: Path, env: dict, fingerprint: str) -> list[Path]:
    """The tour's figures for the front page; run again only when minidl's source changed."""
    out = stage / "_tour"
    stamp = out / ".fingerprint"
    if not (stamp.exists() and stamp.read_text() == fingerprint):
        if out.exists():
            shutil.rmtree(out)
        run([sys.executable, "-m", "minidl.cli", "tour", "--out", str(out)], env=env, cwd=ROOT)
        stamp.write_text(fingerprint)
    return sorted(out.glob("*.png"))


def stage_pages(stage: Path, env: dict, with_tour: bool) -> list[str]:
    """Write every page into ``stage``; returns the toctree entries in reading order."""
    stage.mkdir(parents=True, exist_ok=True)
    (stage / "lessons").mkdir(exist_ok=True)
    pages = []
    notation = next((p for p in (ROOT / "docs" / "notation.md", ROOT / "lessons" / "NOTATION.md") if p.exists()), None)
    if notation is not None:
        write_if_changed(stage / "notation.md", notation.read_text(encoding="utf-8"))
    staged = set()
    fingerprint = library_fingerprint()
    for src in lesson_files():
        dest = stage / "lessons" / src.name
        new = dest.with_suffix(".tmp")
        stage_lesson(src, new, fingerprint)
        # rewrite only when changed, so Sphinx re-reads only edited lessons
        if dest.exists() and dest.read_bytes() == new.read_bytes():
            new.unlink()
        else:
            new.replace(dest)
        staged.add(dest.name)
        pages.append(f"lessons/{src.stem}")
    for old in (stage / "lessons").glob("*.py"):
        if old.name not in staged:
            old.unlink()
    if notation is not None:
        pages.append("notation")
    glossary = (BOOK / "glossary.md").read_text(encoding="utf-8")
    if notation is None:
        glossary = glossary.replace("The [notation table](notation.md) lists the symbols.", "")
    write_if_changed(stage / "glossary.md", glossary)
    pages.append("glossary")
    if (ROOT / "ARCHITECTURE.md").exists():
        arch = repo_links_to_pages((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
        write_if_changed(stage / "architecture.md", arch)
        pages.append("architecture")
    figures = run_tour(stage, env, fingerprint) if with_tour else []
    stage_front_page(stage, figures, pages)
    return pages


def executed_notebooks(build: Path) -> dict[str, Path]:
    """MyST-NB writes each executed notebook under ``<build>/jupyter_execute``."""
    return {p.stem: p for p in (build / "jupyter_execute").rglob("*.ipynb")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="run the lessons in fast mode (MINIDL_FAST=1)")
    ap.add_argument("--out", type=Path, help="where the HTML goes (default build/book or build/book-fast)")
    ap.add_argument("--notebooks", type=Path, help="also copy the executed notebooks here")
    ap.add_argument("--no-tour", action="store_true", help="leave the tour's figures off the front page")
    ap.add_argument("--jobs", default="2", help="Sphinx's parallel jobs (lessons execute in parallel)")
    args = ap.parse_args(argv)

    name = "book-fast" if args.fast else "book"
    # MyST-NB writes executed notebooks to <out>/../jupyter_execute, so the fast build gets its own parent
    build = ROOT / "build" / ("test-book" if args.fast else "")
    out = args.out or build / "book"
    stage = build / f"{name}-src"
    env = dict(os.environ)
    env["MINIDL_BOOK_CACHE"] = str(build / f".{name}-cache")
    env["MINIDL_FIGURES"] = "figures"  # each lesson writes its figures beside its page
    env.pop("MINIDL_FAST", None)
    if args.fast:
        env["MINIDL_FAST"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    started = time.perf_counter()
    stage_pages(stage, env, with_tour=not args.no_tour)
    doctrees = build / f".{name}-doctrees"
    run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", args.jobs, "-c", str(BOOK),
         "-d", str(doctrees), str(stage), str(out)], env=env, cwd=stage)

    downloads = out / "_downloads"
    downloads.mkdir(exist_ok=True)
    notebooks = executed_notebooks(out.parent)
    missing = []
    for src in lesson_files():
        shutil.copyfile(src, downloads / src.name)
        nb = notebooks.get(src.stem)
        if nb is None:
            missing.append(src.stem)
            continue
        shutil.copyfile(nb, downloads / f"{src.stem}.ipynb")
        if args.notebooks:
            args.notebooks.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(nb, args.notebooks / f"{src.stem}.ipynb")
    if missing:
        print(f"error: no executed notebook for {', '.join(missing)}", file=sys.stderr)
        return 1
    (out / "build-info.json").write_text(json.dumps({
        "mode": "fast" if args.fast else "full", "seconds": round(time.perf_counter() - started, 1),
        "lessons": [p.stem for p in lesson_files()]}, indent=1))
    print(f"book: {out / 'index.html'} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
