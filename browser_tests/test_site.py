"""The lesson's website (``make site``) in a real (headless) Chromium: part of ``make browser-test``.

CI runs ``make site`` before ``make browser-test``. Where build/site/<build>/ is missing, or older
than the files it is built from, the ``site`` fixture builds it first with tools/build_site.py (under
a minute), so the test never checks a stale site. The two builds are served from build/site/ by
Python's http.server on 127.0.0.1, and every HTML page of both is opened. A page fails on a local
link to a missing file or anchor, a link from one build into the other, an image that did not load
(naturalWidth 0), an empty table, a figure fewer than its notebook's image outputs, a console error,
a failed or external request, or a widget placeholder. A full-page screenshot of each notebook page
goes to runs/browser-test/site/<build>/<name>.png.

The solution check needs no browser: every distinctive line of every nbgrader solution in
notebooks/*.ipynb must be in the teacher's HTML and in none of the student's, and "BEGIN SOLUTION"
must be nowhere in the student's build. It fails if the student's site is built from the teacher's
notebooks.

Needs Chromium (Debian's ``chromium`` package) and playwright from PyPI (a dev dependency); the
browser tests skip with a clear message where Chromium is missing.
"""

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "runs" / "browser-test" / "site"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUILDS = ("student", "teacher")
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOURCES = [*NOTEBOOKS, ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "RESULTS.md",
           *(ROOT / "docs").rglob("*.md"), *(ROOT / "docs" / "site").iterdir(), ROOT / "tools" / "build_site.py",
           ROOT / "cifar_helpers" / "classroom.py"]
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def chromium_needed():
    if CHROMIUM is None:
        pytest.skip("no Chromium here: install Debian's chromium package (apt-get install -y chromium) "
                    "to open the lesson's website in a browser")


@pytest.fixture(scope="module")
def site():
    """build/site/, built by tools/build_site.py first if it is missing or older than its sources."""
    newest = max(path.stat().st_mtime for path in SOURCES if path.is_file())
    built = [SITE / build / "index.html" for build in BUILDS]
    if not all(index.is_file() and index.stat().st_mtime > newest for index in built):
        done = subprocess.run([sys.executable, "tools/build_site.py"], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, "tools/build_site.py failed:\n" + (done.stdout + done.stderr)[-4000:]
    return SITE


class Text(HTMLParser):
    """The text of an HTML page, scripts and styles left out."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(path):
    parser = Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return squeeze("".join(parser.parts))


def squeeze(text):
    return " ".join(text.split())


def solution_lines():
    """{notebook stem: [distinctive lines of its solutions]}: lines of code between nbgrader's markers
    that are nowhere else in the lesson a student reads (no other cell of any notebook, no page but the
    teacher's guide), so that a stub, a check cell or a line quoted in the prose never counts."""
    solutions, elsewhere = {}, []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
                blocks = SOLUTION.findall(cell.source)
                assert blocks, f"{path.name}: a solution cell without ### BEGIN/END SOLUTION"
                solutions.setdefault(path.stem, []).append([squeeze(line) for block in blocks
                                                            for line in block.splitlines()])
            else:
                elsewhere.append(squeeze(cell.source))
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "RESULTS.md",
             *(ROOT / "docs").glob("*.md")]
    elsewhere += [squeeze(path.read_text(encoding="utf-8")) for path in pages if path.name != "teachers_guide.md"]
    elsewhere = "\n".join(elsewhere)
    distinctive = {}
    for stem, cells in solutions.items():
        for lines in cells:
            kept = [line for line in lines if len(line) >= 20 and not line.startswith("#") and line not in elsewhere]
            assert kept, f"{stem}: a solution with no distinctive line: {lines}"
            distinctive.setdefault(stem, []).extend(kept)
    return distinctive


def test_the_student_site_has_no_solutions_and_the_teacher_site_has_them(site):
    lines = solution_lines()
    assert len(lines) == len(NOTEBOOKS) == 6 and sum(map(len, lines.values())) >= 60, "the solutions were found"
    student_pages = {path: page_text(path) for path in (site / "student").rglob("*.html")}
    for stem, solution in lines.items():
        teacher = page_text(site / "teacher" / "notebooks" / f"{stem}.html")
        missing = [line for line in solution if line not in teacher]
        assert not missing, f"the teacher's {stem} page lacks its solution line {missing[0]!r}"
        for path, text in student_pages.items():
            shown = [line for line in solution if line in text]
            assert not shown, f"{path.relative_to(site)} shows a solution of {stem}: {shown[0]!r}"
        student = student_pages[site / "student" / "notebooks" / f"{stem}.html"]
        answers = sum(cell.metadata.get("nbgrader", {}).get("solution", False)
                      for cell in nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells)
        assert student.count("# YOUR CODE HERE") == answers, f"the student's {stem} page: one stub per exercise"
        assert "✓ Exercise" not in student and "✓ Exercise" in teacher, f"{stem}: check outputs only for the teacher"
    leaks = [path for path in (site / "student").rglob("*") if path.is_file()
             and "BEGIN SOLUTION" in path.read_text(encoding="utf-8", errors="replace")]
    assert not leaks, f"BEGIN SOLUTION in the student's build: {leaks[0].relative_to(site)}"
    assert (site / "teacher" / "docs" / "teachers_guide.html").is_file()
    assert not (site / "student" / "docs" / "teachers_guide.html").exists(), "the teacher's guide is the teacher's"


@pytest.fixture(scope="module")
def server(site):
    """http://127.0.0.1:PORT/ serving build/site/."""
    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    chromium_needed()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def image_outputs(notebook):
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs)


def expected_images(build):
    """{page path: image outputs of its notebook}: the teacher's notebooks, or their student copies."""
    from cifar_helpers.classroom import student_copy

    found = {}
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        found[f"notebooks/{path.stem}.html"] = image_outputs(student_copy(notebook) if build == "student" else notebook)
    return found


PAGE_FACTS = """() => {
    document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; });
    return {
        links: Array.from(document.querySelectorAll('a[href], link[href]'), a => a.href),
        ids: Array.from(document.querySelectorAll('[id], a[name]'), e => e.id || e.getAttribute('name')),
        tables: Array.from(document.querySelectorAll('table'), t => ({
            rows: t.querySelectorAll('tbody tr').length, height: t.getBoundingClientRect().height})),
        figures: document.querySelectorAll('article img').length,
        text: document.body.innerText,
    };
}"""
IMAGES = "() => Array.from(document.images, img => ({src: img.currentSrc || img.src, width: img.naturalWidth}))"


@pytest.mark.parametrize("build", BUILDS)
def test_every_page_opens_with_its_figures_tables_and_links(site, server, browser, build):
    pages = sorted(path.relative_to(site / build).as_posix() for path in (site / build).rglob("*.html"))
    assert {"index.html", "search.html", *expected_images(build)} <= set(pages)
    assert len(pages) >= 14, pages
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems, facts = [], {}
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
                  else (problems.append(f"an external request: {route.request.url}"), route.abort()))
    page = context.new_page()
    page.set_default_timeout(30_000)
    on = {"page": ""}
    page.on("console", lambda m: m.type == "error" and problems.append(f"{on['page']}: console error: {m.text}"))
    page.on("pageerror", lambda error: problems.append(f"{on['page']}: script error: {error}"))
    page.on("requestfailed", lambda r: problems.append(f"{on['page']}: failed to load {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{on['page']}: {r.status} for {r.url}"))
    figures = expected_images(build)
    (SHOTS / build).mkdir(parents=True, exist_ok=True)
    for name in pages:
        on["page"] = name
        page.goto(f"{server}/{build}/{name}", wait_until="load")
        facts[name] = page.evaluate(PAGE_FACTS)
        page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
        broken = [image["src"] for image in page.evaluate(IMAGES) if image["width"] == 0]
        assert not broken, f"{build}/{name}: an image did not load: {broken[0]}"
        empty = [table for table in facts[name]["tables"] if table["rows"] == 0 or table["height"] == 0]
        assert not empty, f"{build}/{name}: a table with no rows on show"
        for placeholder in ("Error displaying widget", "Loading widget", "A Jupyter widget could not be displayed"):
            assert placeholder not in facts[name]["text"], f"{build}/{name}: a widget placeholder: {placeholder}"
        if name in figures:
            assert facts[name]["figures"] == figures[name], \
                f"{build}/{name}: {facts[name]['figures']} figures for its notebook's {figures[name]} image outputs"
            page.screenshot(path=str(SHOTS / build / f"{Path(name).stem}.png"), full_page=True)
    context.close()
    assert not problems, "\n".join(problems[:10])
    readme_tables = len(re.findall(r"^\| ?-+ ?\|", (ROOT / "README.md").read_text(), re.M))
    assert len(facts["index.html"]["tables"]) == readme_tables >= 2, "the home page shows the README's tables"
    for name, found in facts.items():
        for link in found["links"]:
            url = urlsplit(link)
            if not link.startswith(server):
                continue  # https: links leave the site; they are not followed offline
            assert url.path.startswith(f"/{build}/"), f"{build}/{name} links into the other build: {link}"
            target = url.path[len(build) + 2:] or "index.html"
            target = unquote(target + "index.html" if target.endswith("/") else target)
            assert (site / build / target).is_file(), f"{build}/{name}: a broken link to {target}"
            if url.fragment and target in facts:
                assert unquote(url.fragment) in facts[target]["ids"], f"{build}/{name}: no anchor {link}"
