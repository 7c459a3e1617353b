"""The lessons write math in one form: LaTeX between ``$…$`` (inline) or ``$$…$$`` (display) in
their markdown cells, which the book renders as MathML (book/_ext/mathml.py) and Jupyter renders
with MathJax (issue 17, §3).

Two checks, over the markdown cells of every lesson (jupytext percent format, ``# `` prefixed):

* every formula converts with latex2mathml, the converter the book uses, so no page shows raw
  LaTeX or a ``math-error`` box;
* no Unicode math is left in the prose around the formulas, and none inside them (``−``, ``·``,
  ``θ``, ``√``, ``ᵀ``, subscript digits … have LaTeX spellings: ``-``, ``\\cdot``, ``\\theta``).

Only markdown is prose. Code cells, f-strings, printed output and minidl's docstrings keep their
Unicode formulas: they are read in terminals, where ``θ ← θ − lr·g`` reads better than LaTeX. Code
spans (backticks) and indented or fenced code blocks inside markdown are code too.

What counts as math (``MATH_CHARS``): arrows, operators and relations that have no use in English
prose (← ⇒ − · ≈ ≤ ≥ ≠ ∇ ∂ √ Σ ∑ ∞ ∈ ⊙ …), Greek letters, superscript and subscript characters,
and the combining hat and bar (``v̂``, ``x̄``). Some of these characters have honest prose uses,
allowed by ``PROSE_USES`` (each pattern is matched on the prose with math and code removed):

* ``×`` after a number, as a multiplier: "3× faster", "the 10× column" (but ``12×3``, a product
  of two numbers, is math);
* ``×`` between two numbers as a shape or size, "28×28 images", "3×3 kernels": a shape is a name
  a learner reads, like the "784→256" of a layer, which is allowed by the next rule;
* ``→`` between words or numbers as "becomes" or "then": "conv → ReLU → pool", "784→256";
* ``µs``/``μs``: a unit, microseconds;
* ``±`` before a measured spread, "± 0.3 points": a reported uncertainty, not an operation.

Anything else is written as LaTeX, even a lone minus sign before a number (``$-128$``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

latex2mathml = pytest.importorskip("latex2mathml.converter", reason="latex2mathml is the book's converter, in "
                                   "the dev extra that make test installs (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))

GREEK = "αβγδεϵζηθϑικλμνξπρϱσςτυφϕχψωΓΔΘΛΞΠΣΦΨΩ"
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵀᵗᵏᵇᵈᵐᵖˢʳˣʸᶻᵃᵉᵒᵘᵛᵝᵞᵟᵠᵡ"
SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ"
OPERATORS = "←→↔↦⇒⇐⇔−·⋅×÷±∓≈≃≅≠≡≤≥≪≫≲≳∝∇∂√∛∑∏∫∮∞∈∉∋⊂⊃⊆⊇∪∩∅∀∃∧∨¬⊙⊗⊕∘‖⌈⌉⌊⌋⟨⟩ℓℝℕℤ∣′″"
COMBINING = "\u0302\u0304\u0303\u0307"  # hat, bar, tilde, dot above
MATH_CHARS = set(GREEK + SUPERSCRIPTS + SUBSCRIPTS + OPERATORS + COMBINING)

PROSE_USES = [
    r"(?<![\d.])\d[\d,.]*\s?×(?![\d\w(])",              # 3× faster, 1.5×, 10× (a multiplier)
    r"\d[\d,.]*\s?×\s?\d[\d,.]*(?:\s?×\s?\d[\d,.]*)*(?=\s+[a-z]|[,;:.)\]]|$)",  # 28×28 images, 3×3×8 weights
    r"(?<=\w|\))\s*→\s*(?=\w|\()|(?<=\w)\s*→$|^\s*→\s*(?=\w)",  # conv → ReLU, 784→256
    r"[µμ]s\b",                                           # microseconds
    r"±\s?(?=\d)",                                         # ± 0.3 points (a measured spread)
]
# the × of a shape must not swallow a product written in prose ("12×3 → 4×9" is math): a shape
# ends the expression, so the pattern above requires the next word, a punctuation or the end.


def markdown_cells(path: Path) -> list[tuple[int, str]]:
    """(first line number, markdown text) of each ``# %% [markdown]`` cell, ``# `` removed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    cells, start = [], None
    for i, line in enumerate(lines + ["# %%"]):
        if line.startswith("# %%"):
            if start is not None:
                body = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in lines[start + 1:i]]
                cells.append((start + 2, "\n".join(body)))
            start = i if "[markdown]" in line else None
    return cells


CODE = re.compile(r"(?ms)^```.*?^```|^~~~.*?^~~~|`[^`\n]+`|^(?: {4}|\t).*?$")
DISPLAY = re.compile(r"(?s)\$\$(.+?)\$\$")
# MyST's dollarmath: an inline formula opens with a $ not followed by a space, closes with a $ not
# preceded by a space and not followed by a digit; an escaped \$ is a literal dollar.
INLINE = re.compile(r"(?<![\\$])\$(?=[^\s$])((?:[^$\\\n]|\\.|\n(?!\n))+?)(?<=[^\s\\])\$(?!\d)")


def split_math(md: str) -> tuple[list[str], str]:
    """The formulas of a markdown text, and the prose that remains with code and math removed."""
    md = CODE.sub(" code ", md)
    formulas: list[str] = []

    def keep(m: re.Match) -> str:
        formulas.append(m.group(1))
        return " ⟦math⟧ "

    md = DISPLAY.sub(keep, md)
    md = INLINE.sub(keep, md)
    return formulas, md


def _prose_violations(prose: str) -> list[str]:
    bad = []
    for line in prose.splitlines():
        cleaned = line.replace("⟦math⟧", " ")
        for pattern in PROSE_USES:
            cleaned = re.sub(pattern, " ", cleaned)
        found = sorted({c for c in cleaned if c in MATH_CHARS})
        if found:
            bad.append(f"{''.join(found)!r} in: {line.strip()}")
    return bad


def test_the_checks_find_what_they_should() -> None:
    formulas, prose = split_math("costs $5 and $\\theta \\leftarrow \\theta - g$, `θ ← θ − g` in code, "
                                 "not $ a $; a 3× speed-up on 28×28 images; θ ← θ")
    assert formulas == ["\\theta \\leftarrow \\theta - g"]
    bad = _prose_violations(prose)
    assert len(bad) == 1 and bad[0].startswith("'θ←' in: costs $5"), bad  # only the bare θ ← θ
    assert _prose_violations("12×3 → 4×9") != []
    assert _prose_violations("Conv → ReLU → pool, 784→256, 40 µs ± 3 µs") == []


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_formula_renders_in_the_book(path: Path) -> None:
    errors = []
    for line, md in markdown_cells(path):
        for formula in split_math(md)[0]:
            try:
                latex2mathml.convert(formula.strip())
            except Exception as err:  # latex2mathml raises many exception types
                errors.append(f"cell at line {line}: {formula!r}: {type(err).__name__}: {err}")
    assert errors == [], f"{path.name}: formulas latex2mathml cannot convert:\n" + "\n".join(errors)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_math_in_the_prose_is_latex(path: Path) -> None:
    bad = []
    for line, md in markdown_cells(path):
        formulas, prose = split_math(md)
        bad += [f"cell at line {line}: {b}" for b in _prose_violations(prose)]
        for formula in formulas:
            unicode = sorted({c for c in formula if c in MATH_CHARS})
            if unicode:
                bad.append(f"cell at line {line}: {''.join(unicode)!r} inside ${formula.strip()}$ "
                           "(write it in LaTeX: \\cdot, -, \\theta, ^{\\top}, …)")
    assert bad == [], (f"{path.name}: Unicode math in markdown; write it as LaTeX between $…$:\n"
                       + "\n".join(bad))
