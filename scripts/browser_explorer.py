"""Drive notebook 02's synthesizer explorer in a real browser, as a user would.

JupyterLab serves a one-cell notebook that opens the explorer (``viz.widgets.synth_explorer``) on
localhost; Debian's chromium, driven by Selenium, runs it, then changes the variant and the
number-of-shapes slider and checks after each change that the one figure under the controls was
redrawn (its PNG changed), that no second figure appeared, and that choosing ``ps-noise`` set
its defaults (no shapes, the texture control disabled). It writes a screenshot of the explorer
to figures/explorer.png and exits 0, or 1 with the step that failed.

    make browser-test        # needs: apt-get install chromium chromium-driver; pip install selenium

Not part of CI (it needs a browser); the unit tests (tests/test_widgets.py) check the images.
"""
from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "figures" / "explorer.png"
CELL = """import numpy as np
from primps_core.data import sources
from primps_core.study import spectrum_analysis
from primps_core.viz.widgets import synth_explorer

photos = sources.load_images("landscapes", 64)
photo_spectra = {"freq": spectrum_analysis.SPECTRUM_GRID, "photos": spectrum_analysis.mean_log_spectrum(photos)}
controls = synth_explorer(photo_spectra, resolution=64)"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_notebook(folder: Path) -> Path:
    from jupyter_client.kernelspec import KernelSpecManager
    kernel = "primps" if "primps" in KernelSpecManager().find_kernel_specs() else "python3"
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {},
                           "outputs": [], "source": CELL}],
                "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = folder / "explorer.ipynb"
    path.write_text(json.dumps(notebook))
    return path


def start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--ServerApp.token={token}", f"--ServerApp.root_dir={folder}", "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


class Explorer:
    """The explorer's controls and figure in the page."""

    def __init__(self, driver):
        self.driver = driver

    def wait(self, condition, what: str, timeout: float = 120):
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.5).until(lambda _: condition())
        except Exception:
            raise AssertionError(f"timed out waiting for {what}") from None

    def figures(self) -> list[str]:
        from selenium.webdriver.common.by import By
        return [image.get_attribute("src") for image in
                self.driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img")]

    def control(self, description: str):
        from selenium.webdriver.common.by import By
        for widget in self.driver.find_elements(By.CSS_SELECTOR, ".widget-inline-hbox"):
            labels = widget.find_elements(By.CSS_SELECTOR, "label")
            if labels and labels[0].text.strip() == description:
                return widget
        raise AssertionError(f"no control labelled {description!r}")

    def changed_figure(self, before: str, what: str) -> str:
        self.wait(lambda: len(self.figures()) == 1 and self.figures()[0] != before, f"the figure to redraw after {what}")
        return self.figures()[0]


def drive(driver, url: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    page = Explorer(driver)
    driver.get(url)
    page.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .cm-content"), "the notebook to open")
    page.wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']"),
              "the kernel to start", timeout=180)
    editor = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .cm-content")
    editor.click()
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    first = page.wait(lambda: page.figures() and page.figures()[0], "the first figure", timeout=300)
    assert len(page.figures()) == 1, f"{len(page.figures())} figures after the first run, expected one"
    Select(page.control("variant").find_element(By.TAG_NAME, "select")).select_by_visible_text("ps-noise")
    second = page.changed_figure(first, "choosing ps-noise")
    shapes = page.control("shapes").find_element(By.CSS_SELECTOR, ".widget-readout").text.strip()
    assert shapes == "0", f"choosing ps-noise left {shapes} shapes, expected its default 0"
    texture = page.control("texture").find_element(By.TAG_NAME, "select")
    assert not texture.is_enabled(), "the texture control stayed enabled under ps-noise, which draws no shapes"
    handle = page.control("shapes").find_element(By.CSS_SELECTOR, ".noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    page.changed_figure(second, "moving the shapes slider")
    assert page.control("shapes").find_element(By.CSS_SELECTOR, ".widget-readout").text.strip() == "10"
    area = driver.find_element(By.CSS_SELECTOR, ".jp-Cell-outputArea")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(area.screenshot_as_png)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="primps-explorer-"))
    port, token = free_port(), secrets.token_hex(16)
    write_notebook(folder)
    lab = start_lab(folder, port, token)
    driver = None
    try:
        for _ in range(120):                      # JupyterLab's server up
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        driver = browser()
        drive(driver, f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
    except Exception as failure:              # an assertion, or Selenium's own errors: one line each
        print(f"browser test failed: {' '.join(str(failure).split()[:40])}", file=sys.stderr)
        return 1
    finally:
        if driver is not None:
            driver.quit()
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"the explorer redrew its one figure on each change; screenshot: {SCREENSHOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
