"""The notebooks in JupyterLab, in a real (headless) Chromium: ``make browser-test``.

JupyterLab serves a copy of the lesson on 127.0.0.1 with the quick profile on (synthetic data,
small runs), so that the notebooks' widgets are live, as a student sees them. For each of the six
notebooks the test clears the committed outputs, runs every cell from the menu, then fails on any
error output, any widget that does not render ("Error displaying widget") or any exercise check
that does not say right (the teacher's copies hold the solutions). In notebook 2 it picks a class
in the image browser; in notebook 4 tqdm's widget bar must fill up; in notebook 5 it picks another
pair in the mistake browser and uploads a picture through the file chooser; notebook 6 must print
its final accuracy and draw its ablation chart. Screenshots go to runs/browser-test/.

Needs Chromium (Debian's ``chromium`` package) and playwright from PyPI (a dev dependency); it
skips with a clear message where Chromium is missing.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "runs" / "browser-test"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "cifar-browser-test"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: install Debian's chromium package "
                                "(apt-get install -y chromium) to run the browser test")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a copy of the lesson (so the repo's notebooks are never saved over)."""
    lesson = tmp_path_factory.mktemp("lesson")
    shutil.copytree(ROOT / "notebooks", lesson / "notebooks")
    # Render every cell (JupyterLab renders only the visible ones by default), so that every
    # output and widget is on the page to be checked.
    settings = tmp_path_factory.mktemp("settings")
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no pop-up over the widgets
    port = free_port()
    env = {**os.environ, "CIFAR_QUICK": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("CIFAR_HEADLESS", None)  # a person at JupyterLab: live widgets, not the headless stand-ins
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={lesson}", "--ServerApp.open_browser=False",
         f"--LabApp.user_settings_dir={settings}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start: " + server.stderr.read()[-2000:])
    yield f"http://127.0.0.1:{port}", lesson
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def visible_notebook(page):
    """The notebook panel on show (a panel of an earlier notebook may linger, hidden)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def menu(page, top, item):
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_text(item, exact=True).click()


def run_all_cells(page, url, name, timeout=600):
    """Open a notebook, clear its committed outputs, run all its cells from the menu, wait, save.

    Clearing first matters: the committed notebook's prompts already show execution counts, so
    without it "every prompt has a number" would hold before anything ran.
    """
    page.goto(f"{url}/lab/tree/notebooks/{name}?reset&token={TOKEN}")  # ?reset: only this notebook open
    notebook = visible_notebook(page)
    notebook.wait_for()
    notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
    time.sleep(3)  # let the kernel finish connecting before the menu is used
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    menu(page, "Edit", "Clear Outputs of All Cells")
    assert all(t.strip() in ("[ ]:", "") for t in prompts.all_inner_texts()), "committed outputs cleared"
    menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [t.strip() for t in prompts.all_inner_texts()]
        if texts and all(t[1:-2].isdigit() for t in texts):
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} did not finish in {timeout} s: prompts {prompts.all_inner_texts()}")
    page.keyboard.press("Control+s")
    time.sleep(2)
    return notebook


def shut_down_kernels(url):
    """Stop the kernels of notebooks already checked, so that they do not compete for the CPU."""
    import urllib.request

    headers = {"Authorization": f"token {TOKEN}"}
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/kernels", headers=headers)) as reply:
        kernels = json.load(reply)
    for kernel in kernels:
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/kernels/{kernel['id']}", headers=headers,
                                                      method="DELETE")).close()


def printed(lesson, name):
    """Everything the saved notebook's cells printed, one string."""
    executed = nbformat.read(lesson / "notebooks" / name, as_version=4)
    return "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)


def assert_no_errors(page, lesson, name):
    assert page.get_by_text("Error displaying widget").count() == 0, f"a widget did not render in {name}"
    executed = nbformat.read(lesson / "notebooks" / name, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                        ":text('Traceback')").count() == 0
    checks = [line for line in printed(lesson, name).splitlines() if " Exercise " in line[:12]]
    failed = [line for line in checks if not line.startswith("✓")]
    assert not failed, f"{name}: an exercise check did not pass in JupyterLab: {failed[0]}"
    return checks


@pytest.mark.parametrize("name, checks, shows", [
    ("01_loading.ipynb", 4, "image 0 as batch_to_tensors makes it: True"),  # DataLoader workers from the kernel
    ("03_model.ipynb", 3, "untrained loss:"),
])
def test_notebooks_01_and_03_run_clean(lab, page, name, checks, shows):
    url, lesson = lab
    run_all_cells(page, url, name)
    assert len(assert_no_errors(page, lesson, name)) == checks
    assert shows in printed(lesson, name)
    shut_down_kernels(url)


def shoot(page, locator, filename):
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SHOTS / filename))


def test_notebook_02_class_browser(lab, page):
    url, lesson = lab
    notebook = run_all_cells(page, url, "02_visualization.ipynb")
    assert_no_errors(page, lesson, "02_visualization.ipynb")
    browser = notebook.locator(".widget-interact").first
    browser.wait_for()
    assert browser.locator("select").count() == 1 and browser.locator(".widget-slider").count() == 1
    browser.locator("select").select_option("ship")
    page.wait_for_timeout(2000)
    assert browser.locator("img").count() >= 1
    shoot(page, browser, "02_class_browser.png")
    shut_down_kernels(url)


def test_notebook_04_trains_with_live_bars_and_plot(lab, page):
    url, lesson = lab
    notebook = run_all_cells(page, url, "04_training.ipynb")
    assert_no_errors(page, lesson, "04_training.ipynb")
    bars = notebook.locator(".widget-hbox:has(.widget-hprogress)")  # tqdm's widget: label, bar, counts
    assert bars.count() >= 1, "tqdm's widget bars render"
    assert bars.first.get_by_text("training: 100%").count() == 1, "the epoch bar filled up"
    shoot(page, bars.first, "04_progress_bar.png")
    plot = notebook.locator(".jp-OutputArea-output img").first
    shoot(page, plot, "04_live_plot.png")
    shut_down_kernels(url)


def test_notebook_05_mistake_browser_and_picture_upload(lab, page, tmp_path):
    url, lesson = lab
    notebook = run_all_cells(page, url, "05_evaluation.ipynb")
    assert_no_errors(page, lesson, "05_evaluation.ipynb")
    mistakes = notebook.locator(".widget-interact").first
    assert mistakes.locator("select").count() == 2
    figure = mistakes.locator("img").first
    commonest = figure.get_attribute("src")  # it opens on the model's commonest mistake
    shoot(page, mistakes, "05_mistake_browser.png")
    true_class = mistakes.locator("select").nth(0).input_value()
    mistakes.locator("select").nth(1).select_option(true_class)  # now: the images it got right
    deadline = time.monotonic() + 30
    while figure.get_attribute("src") == commonest and time.monotonic() < deadline:
        time.sleep(0.5)
    assert figure.get_attribute("src") != commonest, "the figure follows the dropdowns"

    picture = tmp_path / "my_picture.png"
    yy, xx = np.mgrid[0:200, 0:300]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)).save(picture)
    upload = notebook.locator(".widget-upload").first
    with page.expect_file_chooser() as chooser:  # what a student's click opens
        upload.click()
    chooser.value.set_files(str(picture))
    box = upload.locator("xpath=..")
    box.get_by_text("my_picture.png, at 32 x 32: most likely a").wait_for(timeout=30_000)
    shoot(page, box, "05_picture_upload.png")


def test_notebook_06_fast_track(lab, page):
    url, lesson = lab
    notebook = run_all_cells(page, url, "06_fast_track.ipynb")
    assert len(assert_no_errors(page, lesson, "06_fast_track.ipynb")) == 2
    text = printed(lesson, "06_fast_track.ipynb")
    assert "5. + six views at test time" in text and "test accuracy" in text, "the ablation and the final run"
    chart = notebook.locator(".jp-OutputArea-output img").last  # the ablation chart
    chart.wait_for()
    assert chart.bounding_box()["width"] > 300
    shoot(page, chart, "06_ablation_chart.png")
    shut_down_kernels(url)
