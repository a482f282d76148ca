"""Open a report in a real browser (Debian's headless Chromium, driven by Playwright)
and measure what a reader would see: console errors, script errors, requests that
left the machine, and every label whose text does not fit its box.

`open_report(path)` runs the browser in a subprocess with a timeout, so a browser
that hangs fails the test instead of hanging CI. Playwright never downloads a
browser here: it drives the executable at CHROMIUM (/usr/bin/chromium, the
Debian package `chromium`; `make browser` installs it). When it is missing the
caller fails, naming the package: CI must run these tests, not skip them.

Used by tests/test_report_browser.py and the evaluate report's tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
TIMEOUT = 120  # seconds for one page: start, load, measure, screenshot, PDF
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
# The elements that carry a label or a value: chart labels, legend entries, headers, cells, headings.
LABELS = "th, td, caption, figcaption, .label, .value, .legend span, h1, h2, h3, svg text"
# Of those, the ones no word of which may be broken across lines: names, headers and numbers (not free text: ids, messages).
WHOLE = "th, td:not(.free), .label, .value, .legend span"
PRINT_WIDTH = 1032  # px: A4 landscape less 12 mm margins at 96 px per inch, as base.html prints

# The measure, in the page: an element overflows when its content is wider (or
# taller) than its box, or when it reaches outside an ancestor that clips it or
# outside the page. SVG text is measured against its <svg>, which clips it.
_MEASURE = r"""
([selector, whole]) => {
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) found.push({element: 'html', text: '', why: `the page is ${page.scrollWidth}px wide in a ${window.innerWidth}px window`});
  for (const el of document.querySelectorAll(selector)) {
    if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const text = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 80);
    if (!text) continue;
    const box = el.getBoundingClientRect();
    if (el instanceof SVGElement) {
      const svg = el.ownerSVGElement.getBoundingClientRect();
      if (box.left < svg.left - 1 || box.right > svg.right + 1) found.push({element: name(el), text, why: 'runs outside its chart'});
      continue;
    }
    if (el.clientWidth > 0 && (el.scrollWidth > el.clientWidth + 1)) {
      found.push({element: name(el), text, why: `its text is ${el.scrollWidth}px wide in a ${el.clientWidth}px box`});
      continue;
    }
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
      const clip = up.getBoundingClientRect();
      if (box.left < clip.left - 1 || box.right > clip.right + 1) {
        found.push({element: name(el), text, why: `reaches outside ${name(up)}, which clips or scrolls it`});
        break;
      }
    }
  }
  // A label, header or number whose word the browser had to break across lines (SEND_REMINDE/R, 2/0/0):
  // it fits its box, but nobody can read it. Words end at spaces and after _ / . - (where wrapping is fine).
  for (const el of document.querySelectorAll(whole)) {
    if (el.getClientRects().length === 0) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[^\s_\/.-]+[_\/.-]?/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lines.size > 1) {
          found.push({element: name(el), text: (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 80), why: `breaks the word ${JSON.stringify(match[0])} across lines`});
          break;
        }
      }
    }
  }
  return found;
}
"""


@dataclass
class BrowserResult:
    """What the browser saw of a page at one window width."""

    width: int
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # URLs other than the page's own file: nothing may be fetched
    overflows: list[dict[str, str]] = field(default_factory=list)  # {element, text, why}
    print_overflows: list[dict[str, str]] = field(default_factory=list)  # the same, laid out for print
    pdf_pages: int = 0
    screenshot: str | None = None


def pdf_pages(data: bytes) -> int:
    """Pages in a PDF Chromium wrote: its page objects (/Type /Page, not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def open_report(
    path: Path, width: int = 1280, screenshot: Path | None = None, pdf: bool = True, selector: str = LABELS, whole: str = WHOLE,
) -> BrowserResult:
    """Open `path` in headless Chromium `width` px wide and measure it (see the module's docstring).

    Fails the calling test, naming the package, when Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: the browser tests need it (apt-get install -y chromium, or make browser)", pytrace=False)
    command = [sys.executable, "-m", "tests.browser", str(Path(path).resolve()), "--width", str(width), "--selector", selector, "--whole", whole]
    if screenshot:
        command += ["--screenshot", str(screenshot)]
    if pdf:
        command.append("--pdf")
    root = Path(__file__).resolve().parent.parent
    # A session of its own, so that a timeout ends the browser's processes too, not only the driver's.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root, start_new_session=True) as running:
        try:
            out, err = running.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(running.pid, signal.SIGKILL)
            running.communicate()
            pytest.fail(f"the browser did not finish with {path} in {TIMEOUT} s", pytrace=False)
    if running.returncode != 0:
        pytest.fail(f"the browser failed on {path} (exit {running.returncode}):\n{err[-3000:]}", pytrace=False)
    return BrowserResult(**json.loads(out))


def _measure(path: Path, width: int, selector: str, whole: str, screenshot: Path | None, pdf: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {"width": width, "console_errors": [], "page_errors": [], "requests": [], "screenshot": str(screenshot) if screenshot else None}
    url = path.as_uri()
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=ARGS, viewport={"width": width, "height": 900}, offline=True,
        )
        try:
            page = context.new_page()
            page.on("console", lambda message: result["console_errors"].append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: result["page_errors"].append(str(error)))
            page.on("request", lambda request: result["requests"].append(request.url) if request.url != url else None)
            page.goto(url, wait_until="load")
            result["overflows"] = page.evaluate(_MEASURE, [selector, whole])
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
            result["print_overflows"], result["pdf_pages"] = [], 0
            if pdf:
                page.emulate_media(media="print")
                page.set_viewport_size({"width": PRINT_WIDTH, "height": 700})
                result["print_overflows"] = page.evaluate(_MEASURE, [selector, whole])
                result["pdf_pages"] = pdf_pages(page.pdf(prefer_css_page_size=True, print_background=True))
        finally:
            context.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="measure a report in headless Chromium; prints JSON")
    parser.add_argument("path", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--selector", default=LABELS)
    parser.add_argument("--whole", default=WHOLE)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--pdf", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(_measure(args.path, args.width, args.selector, args.whole, args.screenshot, args.pdf)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
