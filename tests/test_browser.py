"""The built book in a real browser: math typeset, interactive figures alive, no network.

Headless Chromium (driven by Selenium and the system ``chromedriver``) opens
``_build/html`` served from ``localhost`` by a thread of this process.  Every
host name except ``127.0.0.1`` resolves to nothing, so a page that needs the
internet (MathJax from a CDN, widget JavaScript, fonts) fails here as it would
for a student offline.  ``python3 tasks.py test`` builds the book first; run
``python3 tasks.py book`` before calling pytest on this file alone.

Checked on every page of ``_toc.yml``:

* MathJax 3 has typeset every math element (``mjx-container`` inside each
  ``.math``), no TeX error (``mjx-merror``) and no raw ``$$`` is left, and each
  chapter has typeset math;
* every control of every interactive figure (``div.nnlib-interactive``) changes
  the image and the value shown next to it, and going back restores the image;
* nothing was requested from another host;
* at 1280 px no display equation and no line of code is wider than the column, no
  figure is shrunk below legibility (``MIN_FIGURE_SCALE``), and every table printed
  with ``nnlib.report.Table`` is an HTML table; at 390 px (a phone) no chapter page
  scrolls sideways (screenshots in ``_build/screenshots/phone/``);
* the API page (once it exists) documents the layers; launch buttons are shown
  (once ``_config.yml`` configures them);
* each chapter page, and only a chapter page, has the launch entry "JupyterLite"
  (``_ext/lite_launch.py``) pointing into the JupyterLite site that
  ``tasks.py`` builds into ``_build/html/lite``, and that site's JupyterLab
  starts from ``localhost`` and opens the chapter (its Python, Pyodide, comes
  from the internet when the kernel starts, so the kernel is not tested here).

Screenshots go to ``_build/screenshots/``.  Without Chromium, chromedriver or
Selenium the tests are skipped with a loud banner; set ``NNLIB_REQUIRE_BROWSER=1``
(CI on GitHub does) to make that a failure instead.
"""

import functools
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = Path(os.environ.get("NNLIB_BOOK_HTML", ROOT / "_build" / "html"))  # another build, e.g. a copy's
SCREENSHOTS = HTML.parent / "screenshots"
LAYERS = ("Dense", "Conv1D", "Conv2D", "ParametricDense", "AvgPool1D", "AvgPool2D")
PAGE_TIMEOUT = 90  # seconds for a page to load and MathJax to finish (a long chapter on a loaded 2-core machine)

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    # No network: every host name but the local server's fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1280,1600",
)


def toc_pages():
    """Page names (no suffix) in the order of _toc.yml, e.g. 'chapters/01_nonlinear_models'."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    pages = [re.sub(r"\.(md|ipynb|rst)$", "", p) for p in pages]
    # Chapters on disk that the toc forgot are still checked if they were built.
    pages += [f"chapters/{p.stem}" for p in sorted(HTML.glob("chapters/*.html")) if f"chapters/{p.stem}" not in pages]
    return list(dict.fromkeys(pages))


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


# -- browser and server ------------------------------------------------------------------


def loud_skip(request, reason):
    """Skip, but make sure nobody mistakes it for a pass."""
    if os.environ.get("NNLIB_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"{reason} (NNLIB_REQUIRE_BROWSER is set, so this is a failure)")
    banner = "!" * 78
    message = (
        f"\n{banner}\n!! BROWSER TESTS SKIPPED: {reason}\n"
        "!! The built book was NOT checked in a browser (math, interactive figures).\n"
        "!! Install them with: apt-get install chromium chromium-driver; pip install selenium\n"
        f"{banner}\n"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(message, file=sys.stderr, flush=True)
    else:
        print(message, file=sys.stderr, flush=True)
    pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")


def find_program(env, *names):
    if os.environ.get(env):
        return os.environ[env] if Path(os.environ[env]).exists() else None
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path:
            return path
    return None


def test_book_build_succeeded():
    """``tasks.py test`` passes the status of its book build, so pytest's summary counts it."""
    status = os.environ.get("NNLIB_BOOK_BUILD_STATUS")
    if status is None:
        pytest.skip("not run by `tasks.py test`: the status of the book build is unknown")
    assert status == "0", (
        f"`jupyter-book build . -n -W --keep-going` FAILED (exit status {status}): see its warnings above; "
        "the pages checked here may be incomplete"
    )


@pytest.fixture(scope="module")
def book():
    if not (HTML / "index.html").exists():
        pytest.fail(f"the built book is missing ({HTML / 'index.html'}): run `python3 tasks.py book` first")
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(book):
    handler = functools.partial(_QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def driver(request, server):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        loud_skip(request, f"selenium is not installed ({error})")
    chromium = find_program("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    chromedriver = find_program("CHROMEDRIVER", "chromedriver")
    if chromium is None or chromedriver is None:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", chromedriver)) if p is None)
        loud_skip(request, f"{missing} not found (set CHROMIUM/CHROMEDRIVER or install the apt packages)")
    # Never let Selenium Manager look for (or download) a browser or driver.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="nnlib-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    except Exception as error:  # the browser exists but cannot start: a real problem
        shutil.rmtree(profile, ignore_errors=True)
        pytest.fail(f"could not start {chromium} with {chromedriver}: {error}")
    browser.set_page_load_timeout(PAGE_TIMEOUT)
    # Longer than the page's own deadline in WAIT_FOR_MATHJAX, so a slow page reports what it waited for.
    browser.set_script_timeout(PAGE_TIMEOUT + 15)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + arguments[0] * 1000;
let complete = null;
(function poll() {
  const mj = window.MathJax;  // before MathJax loads, only Sphinx's configuration object (no version)
  if (mj && mj.version && mj.startup && mj.startup.promise) {
    return mj.startup.promise.then(() => done({mathjax: mj.version, loaded: true}),
                                   (e) => done({mathjax: mj.version, loaded: true, error: String(e)}));
  }
  if (document.readyState === "complete") {
    // Page scripts, async ones included, delay the load event: no MathJax by now means it failed to load.
    complete = complete || Date.now();
    const script = document.querySelector('script[src*="mathjax"]');
    if (!script) return done({mathjax: null, loaded: true});  // Sphinx adds MathJax only where needed
    if (Date.now() - complete > 2000)
      return done({mathjax: null, loaded: false, error: "MathJax did not load from " + script.src});
  }
  if (Date.now() > deadline) return done({mathjax: null, loaded: false, error: "timeout"});
  setTimeout(poll, 50);
})();
"""

MATH_REPORT = """
const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
const raw = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  if (node.nodeValue.includes("$$") && !(node.parentElement && node.parentElement.closest(skip)))
    raw.push(node.nodeValue.trim().slice(0, 80));
}
const math = [...document.querySelectorAll(".math")];
return {
  containers: document.querySelectorAll("mjx-container").length,
  math: math.length,
  untypeset: math.filter(el => !el.querySelector("mjx-container")).map(el => el.textContent.trim().slice(0, 80)),
  errors: [...document.querySelectorAll("mjx-merror")].map(el => el.getAttribute("data-mjx-error") || el.textContent),
  raw: raw,
  widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  resources: performance.getEntriesByType("resource").map(e => e.name),
};
"""

INTERACTIVE_STATE = """
const root = document.getElementById(arguments[0]);
const img = root.querySelector("img.nnlib-frame");
return {
  src: img.getAttribute("src"),
  decoded: img.complete && img.naturalWidth > 0,
  values: [...root.querySelectorAll("span.nnlib-value")].map(el => el.textContent),
  controls: [...root.querySelectorAll("input[data-k], select[data-k]")].map(el => ({
    k: el.dataset.k, tag: el.tagName.toLowerCase(), value: el.value,
    n: el.tagName === "SELECT" ? el.options.length : (+el.max - +el.min + 1),
  })),
};
"""

# Move control k to index i the way a user does: set the value, fire input and change.
MOVE_CONTROL = """
const root = document.getElementById(arguments[0]);
const el = root.querySelector('[data-k="' + arguments[1] + '"]:is(input, select)');
el.value = String(arguments[2]);
el.dispatchEvent(new Event("input", {bubbles: true}));
el.dispatchEvent(new Event("change", {bubbles: true}));
"""

# What a reader at 1280 px sees of each page's layout: display math and code lines wider than
# the column, figures shrunk below legibility, and the tables nnlib.report.Table printed.
LAYOUT_REPORT = """
const wider = (el) => el.scrollWidth > el.clientWidth + 1;
const text = (el) => (el.textContent || "").trim().slice(0, 80);
return {
  math: [...document.querySelectorAll("div.math, mjx-container[display='true']")].filter(wider).map(text),
  code: [...document.querySelectorAll("div.cell_input pre")].filter(wider).map(text),
  images: [...document.querySelectorAll("div.cell_output img")].filter(img => img.naturalWidth > 0).map(img => ({
    natural: img.naturalWidth, shown: img.clientWidth,
    where: text(img.closest("div.cell") ? img.closest("div.cell").previousElementSibling || img : img),
  })),
  tables: document.querySelectorAll("div.cell_output div.nnlib-table > table").length,
};
"""
# A figure is legible when matplotlib's 10-point labels stay at least about 10 px on the page:
# frames are drawn at 72 to 100 dpi, so a picture must not be shrunk below this factor.
MIN_FIGURE_SCALE = 0.72

_visited = {}


def visit(driver, server, page):
    """Load a page once (waiting for MathJax), take its screenshot, return what it showed."""
    url = f"{server}/{page}.html"
    if page in _visited:
        if driver.current_url != url:  # tests of other pages ran in between
            driver.get(url)
            driver.execute_async_script(WAIT_FOR_MATHJAX, PAGE_TIMEOUT)
        return _visited[page]
    path = HTML / f"{page}.html"
    if not path.exists():
        pytest.fail(f"{page} is in _toc.yml but {path} was not built: rebuild with `python3 tasks.py book`")
    driver.get(url)
    status = driver.execute_async_script(WAIT_FOR_MATHJAX, PAGE_TIMEOUT)
    report = driver.execute_script(MATH_REPORT)
    report.update(status)
    report["console"] = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    report["figures"] = driver.execute_script(
        'return [...document.querySelectorAll("div.nnlib-interactive")].map(el => el.id)'
    )
    report["layout"] = driver.execute_script(LAYOUT_REPORT)
    driver.save_screenshot(str(SCREENSHOTS / (page.replace("/", "__") + ".png")))
    _visited[page] = report
    return report


# -- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=PAGES)
def page(request, driver, server):
    """One page of the toc, loaded; module scope makes pytest run all tests of a page together."""
    visit(driver, server, request.param)
    return request.param


def test_math_is_typeset(driver, server, page):
    report = visit(driver, server, page)
    assert report["loaded"] and not report.get("error"), f"{page}: MathJax did not finish: {report.get('error')} ({report['math']} math elements)"
    if report["math"]:
        assert report["mathjax"] and report["mathjax"].startswith("3."), (
            f"{page}: has {report['math']} math elements but MathJax 3 did not run (found {report['mathjax']})"
        )
    assert not report["untypeset"], f"{page}: math left as raw TeX: {report['untypeset'][:5]}"
    assert not report["errors"], f"{page}: MathJax TeX errors: {report['errors'][:5]}"
    assert not report["raw"], f"{page}: raw $$ left in the text (not parsed as math): {report['raw'][:5]}"
    if page in CHAPTERS:
        assert report["containers"] > 0, f"{page}: a chapter without any typeset math (no mjx-container)"


def test_page_is_self_contained(driver, server, page):
    """Nothing from other hosts, no widget views that need a kernel, no failed loads."""
    report = visit(driver, server, page)
    foreign = [url for url in report["resources"] if not url.startswith((server, "data:", "blob:"))]
    assert not foreign, f"{page}: requested from other hosts (fails offline): {foreign}"
    failed = [
        m for m in report["console"]
        if ("Failed to load resource" in m or "net::ERR" in m) and not m.startswith(f"{server}/favicon.ico ")
    ]
    assert not failed, f"{page}: resources failed to load: {failed}"
    assert report["widgetViews"] == 0, f"{page}: {report['widgetViews']} ipywidget views, dead without a kernel"


def test_no_display_math_or_code_line_overflows_the_column(driver, server, page):
    """At 1280 px every display equation and every line of code fits the text column."""
    layout = visit(driver, server, page)["layout"]
    assert not layout["math"], f"{page}: display math wider than the column (break it into lines): {layout['math']}"
    assert not layout["code"], f"{page}: code wider than the column: {layout['code']}"


def test_figures_are_legible(driver, server, page):
    """No figure is shrunk so much that its labels fall below about 10 px (one or two panels a row)."""
    images = visit(driver, server, page)["layout"]["images"]
    small = [f"{i['natural']} px shown at {i['shown']} px ({i['shown'] / i['natural']:.2f}) after {i['where']!r}"
             for i in images if i["shown"] < MIN_FIGURE_SCALE * i["natural"]]
    assert not small, f"{page}: figures too wide for the column, make them narrower or split them: {small}"


def test_tables_are_tables(driver, server, page):
    """Every nnlib.report.Table the notebook printed is one real HTML table on the page."""
    notebook = ROOT / f"{page}.ipynb"
    if not notebook.exists():
        pytest.skip(f"{page} is not a notebook")
    printed = notebook.read_text().count('<div class=\\"nnlib-table\\">')
    shown = visit(driver, server, page)["layout"]["tables"]
    assert shown == printed, f"{page}: {printed} tables printed by the notebook, {shown} shown as HTML tables"


def test_pages_on_a_phone(driver, server):
    """Each chapter at a phone's width (390 px): the page itself never scrolls sideways (wide
    tables, code and math scroll inside their own boxes).  Screenshots in _build/screenshots/phone/."""
    folder = SCREENSHOTS / "phone"
    folder.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(390, 844)
    try:
        wide = {}
        for page in CHAPTERS:
            driver.get(f"{server}/{page}.html")
            driver.execute_async_script(WAIT_FOR_MATHJAX, PAGE_TIMEOUT)
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1] + 1:
                wide[page] = width
            driver.save_screenshot(str(folder / (page.replace("/", "__") + ".png")))
    finally:
        driver.set_window_size(1280, 1600)
        _visited.clear()  # the pages are loaded again at the desktop width
    assert not wide, f"pages wider than the phone's screen (scrollWidth, innerWidth): {wide}"


def test_interactive_figures_respond(driver, server, page):
    figures = visit(driver, server, page)["figures"]
    if not figures:
        return  # nothing to move on this page; test_book_has_interactive_figures checks there are some
    for fid in figures:
        before = driver.execute_script(INTERACTIVE_STATE, fid)
        assert before["decoded"], f"{page}: figure {fid} shows no image initially"
        assert before["controls"], f"{page}: figure {fid} has no controls"
        for control in before["controls"]:
            k, start, n = control["k"], int(control["value"]), control["n"]
            if n < 2:
                continue
            target = n - 1 if start != n - 1 else 0
            driver.execute_script(MOVE_CONTROL, fid, k, target)
            after = driver.execute_script(INTERACTIVE_STATE, fid)
            what = f"{page}: figure {fid}, control {k} ({control['tag']}) moved {start} -> {target}"
            assert after["src"] != before["src"], f"{what}: the image did not change"
            assert after["values"][int(k)] != before["values"][int(k)], f"{what}: the shown value did not change"
            assert after["decoded"] or _decodes(driver, fid), f"{what}: the new frame is not a valid image"
            driver.execute_script(MOVE_CONTROL, fid, k, start)
            back = driver.execute_script(INTERACTIVE_STATE, fid)
            assert back["src"] == before["src"], f"{what} and back: the image did not return"
            assert back["values"] == before["values"], f"{what} and back: the shown values did not return"


def _decodes(driver, fid, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.execute_script(INTERACTIVE_STATE, fid)["decoded"]:
            return True
        time.sleep(0.05)
    return False


def test_book_has_interactive_figures(book):
    total = sum((book / f"{page}.html").read_text().count('class="nnlib-interactive"') for page in CHAPTERS
                if (book / f"{page}.html").exists())
    assert total > 0, "no interactive figure (div.nnlib-interactive) in any chapter: are HTML outputs ranked first?"


def test_mathjax_is_loaded_once(book):
    """One MathJax script per page: loaded twice, its two copies fight over the page and the
    typesetting of a long chapter may never finish (Jupyter Book adds every .js file of a
    folder named _static, vendored MathJax included, as a script of its own)."""
    twice = {}
    for page in PAGES:
        path = book / f"{page}.html"
        if path.exists():
            count = len(re.findall(r"<script[^>]*\bsrc=\"[^\"]*mathjax/[^\"]*\.js", path.read_text(encoding="utf-8")))
            if count > 1:
                twice[page] = count
    assert not twice, f"pages that load MathJax scripts more than once: {twice}"


def test_api_page_lists_the_layers(driver, server, book):
    candidates = sorted(book.glob("**/api.html"))
    if not candidates:
        pytest.skip("api.html is not in the build yet (no API page in _toc.yml): layer listing not checked")
    page = candidates[0].relative_to(book).with_suffix("").as_posix()
    visit(driver, server, page)
    ids = driver.execute_script("return [...document.querySelectorAll('dt[id]')].map(el => el.id)")
    text = driver.execute_script("return document.body.innerText")
    missing = [
        name for name in LAYERS
        if not any(i == name or i.endswith("." + name) for i in ids) and not re.search(rf"\b{name}\b", text)
    ]
    assert not missing, f"{page}.html does not document the layers {missing}"
    from nnlib.layers import Layer

    listed = driver.execute_script(
        "return [...document.querySelectorAll('.nnlib-layer-registry li')].map(li => li.innerText.split(' ')[0])")
    expected = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in Layer.registry.values())
    assert sorted(listed) == expected, f"{page}.html: the registry list shows {listed}, expected {expected}"
    assert "{'AppendOnes'" not in text, f"{page}.html prints the registry as a raw dict"


def test_launch_buttons(driver, server):
    config = yaml.safe_load((ROOT / "_config.yml").read_text()) or {}
    launch = config.get("launch_buttons") or {}
    url = (config.get("repository") or {}).get("url")
    services = [key for key in ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url") if launch.get(key)]
    if not services or not url:
        missing = []
        if not services:
            missing.append("launch_buttons (binderhub_url or colab_url)")
        if not url:
            missing.append("repository.url (the repository URL is not known yet)")
        pytest.skip(f"launch buttons not checked: _config.yml has no {' and no '.join(missing)}")
    if not CHAPTERS:
        pytest.skip("no chapter pages to carry launch buttons")
    visit(driver, server, CHAPTERS[0])
    links = driver.execute_script(
        "return [...document.querySelectorAll('.dropdown-launch-buttons a, a[class*=launch]')].map(a => a.href)"
    )
    assert links, f"{CHAPTERS[0]}: no launch buttons although _config.yml configures {services}"
    for key in services:
        host = re.sub(r"^https?://", "", launch[key]).split("/")[0]
        assert any(host in link for link in links), f"{CHAPTERS[0]}: no launch link to {launch[key]} ({links})"


def test_execution_report_lists_every_chapter(driver, server, book):
    """reports.md: the execution statistics table has a row, with a success mark, for each chapter."""
    if not (book / "reports.html").exists():
        pytest.skip("reports.html is not in the build (no `file: reports` in _toc.yml)")
    visit(driver, server, "reports")
    rows = driver.execute_script(
        "return [...document.querySelectorAll('table tbody tr')].map(tr => [...tr.cells].map(td => td.innerText.trim()))"
    )
    listed = {row[0]: row for row in rows if row}
    for chapter in CHAPTERS:
        assert chapter in listed, f"reports.html: no execution statistics for {chapter} (rows: {list(listed)})"
        assert listed[chapter][-1] == "\u2705", f"reports.html: {chapter} did not execute successfully: {listed[chapter]}"


# -- JupyterLite (tasks.py build_lite, _ext/lite_launch.py) ------------------------------

LITE = HTML / "lite"
LITE_BUTTON = "a.btn-launch-jupyterlite"


def test_jupyterlite_button(driver, server, page):
    """Chapters link to their notebook in the book's own JupyterLite site; other pages do not."""
    visit(driver, server, page)
    links = driver.execute_script(f"return [...document.querySelectorAll('{LITE_BUTTON}')].map(a => a.href)")
    if page not in CHAPTERS:
        assert not links, f"{page}: a JupyterLite button, but only chapters are in the JupyterLite site: {links}"
        return
    assert len(links) == 1, f"{page}: expected one JupyterLite launch entry (a{LITE_BUTTON[1:]}), found {links}"
    expected = f"{server}/lite/lab/index.html?path={page}.ipynb"
    assert links[0] == expected, f"{page}: the JupyterLite button points to {links[0]}, not {expected}"
    in_menu = driver.execute_script(
        f"return !!document.querySelector('.dropdown-launch-buttons {LITE_BUTTON}')"
    )
    assert in_menu, f"{page}: the JupyterLite entry is not in the launch menu (.dropdown-launch-buttons)"
    assert (LITE / "lab" / "index.html").is_file(), (
        f"{page}: the button's target {LITE / 'lab' / 'index.html'} was not built (tasks.py builds it after the book)"
    )
    assert (LITE / "files" / f"{page}.ipynb").is_file(), f"{page}: {page}.ipynb is not in the JupyterLite site"


WAIT_FOR_LITE = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + arguments[0] * 1000;
(function poll() {
  const cells = [...document.querySelectorAll(".jp-NotebookPanel .jp-Cell")];
  if (document.querySelector(".jp-LabShell") && cells.length > 1)
    return done({shell: true, cells: cells.length, first: cells[0].innerText.slice(0, 400),
                 title: document.title});
  if (Date.now() > deadline)
    return done({shell: !!document.querySelector(".jp-LabShell"), cells: cells.length, title: document.title});
  setTimeout(poll, 100);
})();
"""


def test_jupyterlite_opens_a_chapter(driver, server):
    """The JupyterLite app shell loads from the book's server and opens the chapter's notebook."""
    if not CHAPTERS:
        pytest.skip("no chapters")
    chapter = CHAPTERS[0]
    if not (LITE / "lab" / "index.html").is_file():
        pytest.fail(f"the JupyterLite site is missing ({LITE}): build with `python3 tasks.py book`")
    driver.get_log("browser")  # drop the messages of earlier pages
    driver.get(f"{server}/lite/lab/index.html?path={chapter}.ipynb")
    state = driver.execute_async_script(WAIT_FOR_LITE, 60)
    driver.save_screenshot(str(SCREENSHOTS / "lite__lab.png"))
    assert state["shell"], f"JupyterLite: the JupyterLab shell did not start ({state})"
    assert state["cells"] > 1, f"JupyterLite: {chapter}.ipynb did not open ({state})"
    assert "pip install -q nnlib" in state["first"], (
        f"JupyterLite: the first cell of {chapter}.ipynb should install nnlib, it shows {state['first']!r}"
    )
    # Only the kernel's Pyodide comes from another host (and fails here, offline); every
    # file of the site itself must load.
    failed = [
        entry["message"] for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and entry["message"].startswith(server)
        and ("Failed to load resource" in entry["message"] or "net::ERR" in entry["message"])
        and not entry["message"].startswith(f"{server}/favicon.ico ")
    ]
    assert not failed, f"JupyterLite: files of the site failed to load: {failed}"
