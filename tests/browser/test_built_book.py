"""The built book in a real browser: headless Chromium opens every page, offline.

Checks what a reader sees: MathJax rendered every formula (no raw TeX left, no error
node), every image loaded, every internal link and citation anchor resolves, the
explorers' sliders switch frames, no progress bar leaked into a page, and no request
left the machine (host names resolve to nothing; every request is file:, data: or
localhost and none failed). One page is also served from http://localhost.

It reads CI's book (``make book-check`` -> ``_build/ci/_build/html``; ``COURSE_BOOK_HTML``
names another) and needs Chromium and chromedriver:

    apt-get install -y chromium chromium-driver      # Debian/Ubuntu; .ci/run does it

It is skipped only where they are missing and cannot be installed (not root, or no
apt-get) and ``COURSE_BROWSER_REQUIRED`` is unset; .ci/run sets it, so CI fails instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("COURSE_BOOK_HTML", ROOT / "_build" / "ci" / "_build" / "html")).resolve()
INSTALL = "install Chromium and its driver: `apt-get install -y chromium chromium-driver` (Debian/Ubuntu; .ci/run does it)"
LOCAL = re.compile(r"^(file:|data:|blob:|about:|chrome|devtools:|https?://(localhost|127\.0\.0\.1)[:/])")
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{")
PROGRESS = re.compile(r"\d+%\|[^|\n]*\||\d+(\.\d+)?\s*(it|s)/(s|it)\]")

# Every formula's state, images, links, explorers and text outside code, read in the page.
PAGE_JS = """
const done = arguments[arguments.length - 1];
// driver.get can return while a busy machine is still parsing the page: wait for its load.
const loaded = document.readyState === "complete" ? Promise.resolve()
  : new Promise(resolve => window.addEventListener("load", resolve));
loaded.then(() => window.MathJax && MathJax.startup && MathJax.startup.promise).then(() => {
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const text = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode())
    if (!(n.parentElement && n.parentElement.closest(skip))) text.push(n.textContent);
  done({
    math: document.querySelectorAll(".math").length,
    unrendered: Array.from(document.querySelectorAll(".math"))
      .filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.slice(0, 60)),
    merrors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent.slice(0, 60)),
    text: text.join(" "),
    broken_images: Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
    images: document.images.length,
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
    explorers: document.querySelectorAll(".course-explorer").length,
  });
}).catch(e => done({error: String(e && e.stack || e)}));
"""

SHOWN_JS = """
return Array.from(arguments[0].querySelectorAll("img[data-frame]"))
  .filter(i => !i.hidden && i.offsetWidth > 0 && i.naturalWidth > 0).map(i => i.dataset.frame);
"""


@dataclass
class Visit:
    """What one page showed."""

    page: str
    report: dict
    slider_moves: list[tuple[str, list[str], list[str]]] = field(default_factory=list)


def _pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_"))


def _chromium() -> tuple[str | None, str | None]:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    return browser, shutil.which("chromedriver")


@pytest.fixture(scope="module")
def driver():
    browser, chromedriver = _chromium()
    if not (browser and chromedriver):
        installable = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
        if os.environ.get("COURSE_BROWSER_REQUIRED") or installable:
            pytest.fail(f"no Chromium or chromedriver on PATH: {INSTALL}")
        pytest.skip(f"no Chromium or chromedriver on PATH and no way to install them here; {INSTALL}")
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `make notebooks book-check` first (or set COURSE_BOOK_HTML)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    chrome = webdriver.Chrome(service=Service(chromedriver), options=options)
    chrome.set_script_timeout(60)
    yield chrome
    chrome.quit()


def _move_sliders(chrome, visit: Visit) -> None:
    """Press an arrow key on every explorer slider; record the frames shown before and after."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    for root in chrome.find_elements(By.CSS_SELECTOR, ".course-explorer"):
        for slider in root.find_elements(By.CSS_SELECTOR, "input[type=range]"):
            if slider.get_attribute("max") == "0":
                continue  # a control with one value has nothing to move
            before = chrome.execute_script(SHOWN_JS, root)
            at_end = slider.get_attribute("value") == slider.get_attribute("max")
            chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
            slider.send_keys(Keys.ARROW_LEFT if at_end else Keys.ARROW_RIGHT)
            visit.slider_moves.append((root.get_attribute("id"), before, chrome.execute_script(SHOWN_JS, root)))


@pytest.fixture(scope="module")
def visits(driver) -> dict[str, Visit]:
    """Every page opened once from file:// (the checks below read these visits)."""
    started, out = time.perf_counter(), {}
    for path in _pages():
        driver.get(path.as_uri())
        report = driver.execute_async_script(PAGE_JS)
        visit = out[str(path.relative_to(HTML))] = Visit(str(path.relative_to(HTML)), report)
        _move_sliders(driver, visit)
    print(f"{len(out)} pages in {time.perf_counter() - started:.1f} s")
    return out


@pytest.fixture(scope="module")
def network(driver, visits) -> tuple[list[str], list[str]]:
    """The requests of all the visits: ``(urls, failures)``."""
    return _network(driver)


def test_every_formula_is_rendered_by_mathjax(visits):
    bad = {p: v.report for p, v in visits.items() if "error" in v.report}
    assert not bad, f"the page script failed: {bad}"
    assert sum(v.report["math"] for v in visits.values()) > 100, "the book has formulas; none were found"
    for page, visit in visits.items():
        r = visit.report
        assert not r["unrendered"], f"{page}: formulas MathJax did not render: {r['unrendered'][:5]}"
        assert not r["merrors"], f"{page}: MathJax errors: {r['merrors'][:5]}"
        raw = sorted({m.group(0) for m in RAW_TEX.finditer(r["text"])})
        assert not raw, f"{page}: raw TeX delimiters {raw} left in the text, e.g. {_around(r['text'], RAW_TEX)}"


def test_every_image_loads_and_every_chapter_shows_its_outputs(visits):
    for page, visit in visits.items():
        assert not visit.report["broken_images"], f"{page}: images that did not load: {visit.report['broken_images']}"
    chapters = {p: v.report for p, v in visits.items() if re.match(r"book/\d\d_", p)}
    assert len(chapters) == 8
    for page, r in chapters.items():  # the CI book shows executed outputs: figures and explorers
        assert r["explorers"] >= 1 and r["images"] >= 3, f"{page}: {r['explorers']} explorers, {r['images']} images"


@functools.cache
def _ids(path: Path) -> frozenset[str]:
    class Ids(HTMLParser):
        found: set[str] = set()

        def handle_starttag(self, tag, attrs):
            self.found.update(v for k, v in attrs if k in ("id", "name") and v)

    parser = Ids()
    parser.found = set()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.found)


def test_every_internal_link_and_citation_resolves(visits):
    checked, broken = 0, []
    for page, visit in visits.items():
        for href in set(visit.report["links"]):
            url = urlsplit(href)
            if url.scheme != "file":
                continue  # http(s) and mailto links are for the reader to follow; nothing loads them
            target = Path(unquote(url.path))
            checked += 1
            if not target.is_file():
                broken.append(f"{page} -> {href} (no such file)")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _ids(target):
                broken.append(f"{page} -> {target.relative_to(HTML)}#{url.fragment} (no such id)")
    assert checked > 100
    assert not broken, "broken internal links:\n" + "\n".join(sorted(broken)[:30])


def test_explorer_sliders_switch_frames(visits):
    moves = [m for v in visits.values() for m in v.slider_moves]
    explorers = sum(v.report.get("explorers", 0) for v in visits.values())
    assert explorers >= 8 and len({m[0] for m in moves}) == explorers, (
        f"{explorers} explorers in the book, {len({m[0] for m in moves})} with a slider that moved")
    for explorer, before, after in moves:
        assert len(before) == 1 and len(after) == 1, f"{explorer}: frames shown {before} -> {after}, want one each"
        assert before != after, f"{explorer}: moving a slider left frame {before} on screen"


def test_no_progress_bar_reaches_a_page(visits):
    for page, visit in visits.items():
        found = PROGRESS.search(visit.report["text"])
        assert not found, f"{page}: a progress bar in the page: {_around(visit.report['text'], PROGRESS)}"


def _network(chrome) -> tuple[list[str], list[str]]:
    """The URLs requested since the last call, and the requests that failed (URL: error)."""
    events = [json.loads(entry["message"])["message"] for entry in chrome.get_log("performance")]
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent"}
    failed = [f"{urls.get(e['params']['requestId'], '?')[:100]}: {e['params'].get('errorText')}" for e in events
              if e["method"] == "Network.loadingFailed" and not e["params"].get("canceled")]
    return list(urls.values()), failed


def test_nothing_is_fetched_from_outside_and_nothing_fails(visits, network):
    requested, failed = network
    assert len(requested) > len(visits), "the performance log recorded too few requests"
    outside = sorted({u[:100] for u in requested if not LOCAL.match(u)})
    assert not outside, f"requests that leave the machine: {outside}"
    assert not failed, "requests that failed: " + "; ".join(failed[:20])


def test_a_chapter_served_from_localhost_works_too(driver, visits, network):
    page = next(p for p, v in visits.items() if v.slider_moves)
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            driver.get(f"http://localhost:{server.server_address[1]}/{page}")
            report = driver.execute_async_script(PAGE_JS)
            visit = Visit(page, report)
            _move_sliders(driver, visit)
        finally:
            server.shutdown()
        requested, failed = _network(driver)
    assert report["math"] and not report["unrendered"] and not report["broken_images"], report
    assert visit.slider_moves and all(b != a and len(a) == 1 for _, b, a in visit.slider_moves)
    assert requested and not [u for u in requested if not LOCAL.match(u)] and not failed, (requested, failed)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def _around(text: str, pattern: re.Pattern) -> str:
    m = pattern.search(text)
    return repr(text[max(0, m.start() - 40): m.end() + 40]) if m else ""
