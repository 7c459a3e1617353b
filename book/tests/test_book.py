"""The built course, checked as a reader sees it: headless Chromium against a server on 127.0.0.1.

Run by `make test-book` after `python book/build.py --fast`. The browser is Debian's `chromium`
(installed by the make target when missing), driven by Playwright with that executable: no
browser download. Every request the pages make must stay on 127.0.0.1 (the book is offline).
A screenshot of every page goes to ``build/book-check/``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("MINIDL_BOOK_DIR", ROOT / "build" / "test-book" / "book"))
SHOTS = ROOT / "build" / "book-check"

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="playwright is not installed (pip install -e '.[book]')")

if not (SITE / "index.html").exists():
    pytest.fail(f"no book at {SITE}: run `python book/build.py --fast` first (make test-book does)", pytrace=False)

BUILD = json.loads((SITE / "build-info.json").read_text())
LESSONS = BUILD["lessons"]
PAGES = ["index", "glossary"] + [f"lessons/{stem}" for stem in LESSONS] + \
    [p for p in ("notation", "architecture") if (SITE / f"{p}.html").exists()]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no chromium on PATH: `make test-book` installs Debian's chromium package", pytrace=False)


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output readable
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), timeout=60_000, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


class Visit:
    """One page loaded in a fresh tab, with what went wrong on the way."""

    def __init__(self, browser, base: str, page: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if urllib.parse.urlparse(r.request.url).hostname in ("127.0.0.1", None):
                r.continue_()
            else:
                self.offsite.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.response = self.page.goto(f"{base}/{page}.html", wait_until="load")
        self.page.wait_for_load_state("networkidle")


@pytest.fixture(scope="module")
def visits(browser, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for page in PAGES:
        v = Visit(browser, server, page)
        v.page.screenshot(path=str(SHOTS / (page.replace("/", "_") + ".png")), full_page=True)
        out[page] = v
    yield out
    for v in out.values():
        v.page.close()


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_offline_without_console_errors(visits, page):
    v = visits[page]
    assert v.response is not None and v.response.status == 200
    assert v.offsite == [], f"{page} asked for off-machine resources: {v.offsite}"
    assert v.errors == [], f"{page} logged console errors: {v.errors}"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads(visits, page):
    broken = visits[page].page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    assert broken == [], f"{page}: images that did not load: {broken}"


@pytest.mark.parametrize("stem", LESSONS)
def test_every_lesson_page_shows_a_figure_inline(visits, stem):
    n = visits[f"lessons/{stem}"].page.locator(".cell_output img").count()
    assert n >= 1, f"lesson {stem} shows no figure under its code"


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_latex_and_math_is_rendered(visits, page):
    v = visits[page]
    # the prose as a reader sees it, without code (where "$$" may be quoted on purpose)
    text = v.page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('code, pre, .highlight').forEach(e => e.remove()); return a.innerText; }""")
    for raw in ("$$", "\\frac", "\\mathbf", "\\sum", "\\begin{"):
        assert raw not in text, f"{page} shows raw LaTeX {raw!r}"
    assert v.page.locator(".math-error").count() == 0, f"{page} has formulas that did not convert"
    if page.startswith("lessons/"):
        source = (ROOT / "lessons" / (page.split("/")[1] + ".py")).read_text(encoding="utf-8")
        if re.search(r"(?m)^#.*\$[^$\s][^$]*\$", source):
            assert v.page.locator("article math").count() > 0, f"{page} has $…$ in its source but no <math>"


@pytest.mark.parametrize("page", PAGES)
def test_every_display_formula_fits_the_text_column(visits, page):
    # a centred formula wider than the column loses its left end (it is clipped, not scrolled)
    wide = visits[page].page.evaluate("""() => Array.from(document.querySelectorAll('article div.math'))
        .map(d => [d, d.querySelector('math')]).filter(([d, m]) => m)
        .map(([d, m]) => [m.getBoundingClientRect().width - d.getBoundingClientRect().width, d.textContent])
        .filter(([excess]) => excess > 1).map(([excess, text]) => `${Math.round(excess)} px too wide: ${text}`)""")
    assert wide == [], f"{page}: split these formulas (1280 px window):\n" + "\n".join(wide)


def _internal_links(v: Visit, base: str) -> set[str]:
    hrefs = v.page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    return {h for h in hrefs if h.startswith(base)}


@functools.cache
def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read()
            return r.status, body.decode("utf-8", "replace") if url.split("#")[0].endswith(".html") else ""
    except urllib.error.HTTPError as e:
        return e.code, ""


@pytest.mark.parametrize("page", PAGES)
def test_every_internal_link_resolves(visits, server, page):
    bad = []
    for link in sorted(_internal_links(visits[page], server)):
        url, _, fragment = link.partition("#")
        status, html = _fetch(url)
        if status != 200:
            bad.append(f"{link} ({status})")
        elif fragment and html and not re.search(rf'id="{re.escape(urllib.parse.unquote(fragment))}"', html):
            bad.append(f"{link} (no #{fragment})")
    assert bad == [], f"{page}: broken links {bad}"


def test_lesson_pages_offer_notebook_and_script_downloads(server):
    for stem in LESSONS:
        for suffix in (".ipynb", ".py"):
            assert _fetch(f"{server}/_downloads/{stem}{suffix}")[0] == 200


def test_answers_are_collapsed_until_clicked(visits):
    pages_with_answers = 0
    for stem in LESSONS:
        page = visits[f"lessons/{stem}"].page
        answers = page.locator("details.answer")
        if answers.count() == 0:
            continue
        pages_with_answers += 1
        first = answers.first
        assert first.evaluate("d => d.open") is False, f"{stem}: an answer is open before a click"
        first.locator("summary").click()
        assert first.evaluate("d => d.open") is True, f"{stem}: clicking an answer did not open it"
        first.locator("summary").click()
    assert pages_with_answers >= len(LESSONS) // 2, "most lessons should have collapsed answers"


def test_search_finds_bias_correction_on_the_adam_lesson(browser, server):
    adam = next(s for s in LESSONS if s.startswith("04_"))
    v = Visit(browser, server, "search")
    v.page.goto(f"{server}/search.html?q=bias+correction", wait_until="load")
    v.page.wait_for_selector("#search-results li a", timeout=30_000)
    links = v.page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.getAttribute('href'))")
    v.page.screenshot(path=str(SHOTS / "search.png"))
    assert any(adam in (h or "") for h in links), f"search for 'bias correction' did not list lesson {adam}: {links}"
    v.page.close()


@pytest.mark.parametrize("stem", LESSONS)
def test_each_lesson_says_when_and_where_its_outputs_were_made(visits, stem):
    meta = visits[f"lessons/{stem}"].page.locator(".lesson-meta").inner_text()
    assert re.search(r"\d{4}-\d{2}-\d{2}", meta) and "CPU" in meta and "NumPy" in meta and "Numba" in meta
