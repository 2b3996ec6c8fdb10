"""The notebooks in JupyterLab, in a real (headless) Chromium: ``make browser-test``.

JupyterLab serves a copy of the lesson on 127.0.0.1 with the quick profile on (synthetic data,
small runs), so that the notebooks' widgets are live, as a student sees them. For notebooks 2, 4
and 5 the test runs every cell from the menu, then fails on any error output or any widget that
does not render ("Error displaying widget"). In notebook 5 it also picks another mistake in the
browser and uploads a picture. Screenshots of the widgets go to runs/browser-test/.

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


def run_all_cells(page, url, name, timeout=600):
    """Open a notebook, run all its cells from the Run menu, wait for the last one, save."""
    page.goto(f"{url}/lab/tree/notebooks/{name}?token={TOKEN}")
    page.locator(".jp-NotebookPanel").first.wait_for()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
    time.sleep(3)  # let the kernel finish connecting before the menu is used
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    deadline = time.monotonic() + timeout
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
    while time.monotonic() < deadline:
        texts = prompts.all_inner_texts()
        if texts and all(t.strip() not in ("[ ]:", "[*]:", "") for t in texts):
            break
        time.sleep(1)
    else:
        pytest.fail(f"{name} did not finish in {timeout} s: prompts {prompts.all_inner_texts()}")
    page.keyboard.press("Control+s")
    time.sleep(2)


def assert_no_errors(page, lesson, name):
    assert page.get_by_text("Error displaying widget").count() == 0, f"a widget did not render in {name}"
    executed = nbformat.read(lesson / "notebooks" / name, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] "
                        ":text('Traceback')").count() == 0


def shoot(page, locator, filename):
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SHOTS / filename))


def test_notebook_02_class_browser(lab, page):
    url, lesson = lab
    run_all_cells(page, url, "02_visualization.ipynb")
    assert_no_errors(page, lesson, "02_visualization.ipynb")
    browser = page.locator(".widget-interact").first
    browser.wait_for()
    assert browser.locator("select").count() == 1 and browser.locator(".widget-slider").count() == 1
    browser.locator("select").select_option("ship")
    page.wait_for_timeout(2000)
    assert browser.locator("img").count() >= 1
    shoot(page, browser, "02_class_browser.png")


def test_notebook_04_trains_with_live_bars_and_plot(lab, page):
    url, lesson = lab
    run_all_cells(page, url, "04_training.ipynb")
    assert_no_errors(page, lesson, "04_training.ipynb")
    assert page.locator(".widget-progress").count() >= 1, "tqdm's widget bars render"
    plot = page.locator(".jp-OutputArea-output img").first
    shoot(page, plot, "04_live_plot.png")


def test_notebook_05_mistake_browser_and_picture_upload(lab, page, tmp_path):
    url, lesson = lab
    run_all_cells(page, url, "05_evaluation.ipynb")
    assert_no_errors(page, lesson, "05_evaluation.ipynb")
    mistakes = page.locator(".widget-interact").first
    assert mistakes.locator("select").count() == 2
    mistakes.locator("select").nth(0).select_option("cat")
    mistakes.locator("select").nth(1).select_option("dog")
    page.wait_for_timeout(3000)
    assert mistakes.locator("img").count() >= 1
    shoot(page, mistakes, "05_mistake_browser.png")

    picture = tmp_path / "my_picture.png"
    yy, xx = np.mgrid[0:200, 0:300]
    Image.fromarray(np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)).save(picture)
    upload = page.locator(".widget-upload").first
    upload.locator("input[type=file]").set_input_files(str(picture))
    box = upload.locator("xpath=..")
    box.get_by_text("my_picture.png, at 32 x 32: most likely a").wait_for(timeout=30_000)
    shoot(page, box, "05_picture_upload.png")
