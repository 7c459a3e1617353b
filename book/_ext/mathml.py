"""Render LaTeX math to MathML when the book is built, so pages need no MathJax and no network.

Browsers draw MathML natively (Chromium since version 109, Firefox and Safari long before). A
formula latex2mathml cannot convert is a build warning (and `make book` treats warnings as
errors), never raw LaTeX left on the page.
"""

from __future__ import annotations

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _mathml(self, latex: str, display: str, node) -> str:
    try:
        return convert(latex.strip(), display=display)
    except Exception as err:  # latex2mathml raises many exception types
        logger.warning("cannot render math %r as MathML: %s", latex, err, location=node)
        return f'<code class="math-error">{self.encode(latex)}</code>'


def visit_math(self, node: nodes.Element) -> None:
    self.body.append(f'<span class="math">{_mathml(self, node.astext(), "inline", node)}</span>')
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.Element) -> None:
    latex = node.astext()
    if "\\\\" in latex and "\\begin" not in latex and not node.get("nowrap"):
        latex = "\\begin{aligned}" + latex + "\\end{aligned}"  # several lines: align them
    html = _mathml(self, latex, "block", node)
    number = f'<span class="eqno">({node["number"]})</span>' if node.get("number") else ""
    self.body.append(f'<div class="math notranslate">{number}{html}</div>')
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
