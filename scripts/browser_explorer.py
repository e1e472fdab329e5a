"""Drive notebook 02's synthesizer explorer in a real browser, as a user would.

JupyterLab serves a one-cell notebook that opens the explorer (``viz.widgets.synth_explorer``) on
localhost; Debian's chromium, driven by Selenium, runs it, then changes the variant and the
number-of-shapes slider and checks after each change that the one figure under the controls was
redrawn (its PNG changed), that no second figure appeared, and that choosing ``ps-noise`` set
its defaults (no shapes, the texture control disabled). It writes a screenshot of the explorer
to figures/explorer.png and exits 0, or 1 with the step that failed (and a screenshot of the
page at that moment in the temporary directory).

    make browser-test        # needs: apt-get install chromium chromium-driver; pip install selenium

Every step waits for a readiness signal, not for a fixed time: the kernel's caches are built
first in a separate process (font cache, bytecode, the compiled rasteriser: what a fresh
machine lacks), the server's REST API must answer, the notebook must have loaded and its kernel
be connected and idle (the status bar's kernel item and the server's session both say so), the
cell must show that it runs, and each figure must be in the page with the kernel idle again.
Deadlines are generous and only bound a hung step. JupyterLab runs with its own settings and
workspace folders, so every run is a first run.

Not part of CI (it needs a browser); the unit tests (tests/test_widgets.py) check the images.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "figures" / "explorer.png"
FAILURE_SCREENSHOT = Path(tempfile.gettempdir()) / "primps-explorer-failure.png"
CELL = """import numpy as np
from primps_core.data import sources
from primps_core.study import spectrum_analysis
from primps_core.viz.widgets import synth_explorer

photos = sources.load_images("landscapes", 64)
photo_spectra = {"freq": spectrum_analysis.SPECTRUM_GRID, "photos": spectrum_analysis.mean_log_spectrum(photos)}
controls = synth_explorer(photo_spectra, resolution=64)"""
# What the kernel's first run of CELL builds on a fresh machine (matplotlib's font cache, the
# bytecode of torch and the package, numba's cache of the compiled rasteriser), built beforehand.
WARM_UP = """import time
start = time.perf_counter()
import matplotlib.pyplot
""" + CELL.split("\n\n")[0] + """
from primps_core.viz import widgets
imported = time.perf_counter()
widgets.explorer_images(widgets.DEFAULTS)
print(f"imports {imported - start:.1f} s, first images {time.perf_counter() - imported:.1f} s")"""

# Deadlines in seconds: generous, they only bound a step that hangs.
WARM_UP_DEADLINE = 900
SERVER_DEADLINE = 180
NOTEBOOK_DEADLINE = 300
RUN_START_DEADLINE = 120
FIRST_FIGURE_DEADLINE = 600
CHANGE_DEADLINE = 180

T0 = time.monotonic()


class StepFailed(Exception):
    """A step's deadline passed, or the page showed something wrong."""


class Steps:
    """The step in progress, printed with the time since the start, for the failure message."""

    def __init__(self):
        self.name, self.started = "start", time.monotonic()

    def __call__(self, name: str) -> None:
        self.name, self.started = name, time.monotonic()
        print(f"[{self.started - T0:6.1f} s] {name}", flush=True)

    def done(self, note: str = "") -> None:
        took = time.monotonic() - self.started
        print(f"[{time.monotonic() - T0:6.1f} s]   done in {took:.1f} s{': ' + note if note else ''}", flush=True)


step = Steps()


def poll(condition, what: str, deadline: float, every: float = 0.5):
    """``condition()``'s first truthy value; an exception from Selenium (an element gone stale or
    not yet interactable) counts as not yet, a StepFailed ends the wait at once."""
    from selenium.common.exceptions import WebDriverException
    end = time.monotonic() + deadline
    last = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except StepFailed:
            raise
        except (WebDriverException, OSError, urllib.error.URLError, ValueError, KeyError) as error:
            last = error
        if time.monotonic() > end:
            because = f" (last error: {' '.join(str(last).split()[:20])})" if last else ""
            raise StepFailed(f"no {what} after {deadline:.0f} s{because}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager
    return "primps" if "primps" in KernelSpecManager().find_kernel_specs() else "python3"


def kernel_python(kernel: str) -> str:
    """The interpreter the notebook's kernel runs (its kernelspec's argv[0])."""
    from jupyter_client.kernelspec import KernelSpecManager
    argv = KernelSpecManager().get_kernel_spec(kernel).argv
    return argv[0] if argv and "python" in Path(argv[0]).name else sys.executable


def write_notebook(folder: Path, kernel: str) -> Path:
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {},
                           "outputs": [], "source": CELL}],
                "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path = folder / "explorer.ipynb"
    path.write_text(json.dumps(notebook))
    return path


def start_lab(folder: Path, port: int, token: str, log) -> subprocess.Popen:
    """JupyterLab on ``folder`` with settings and workspaces of its own (no restored layout, no
    news prompt over the page) and its own runtime folder."""
    settings = folder / ".lab" / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"}))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / ".lab" / "runtime")}
    return subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", "--allow-root",
                             f"--LabApp.user_settings_dir={settings}",
                             f"--LabApp.workspaces_dir={folder / '.lab' / 'workspaces'}"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


class Server:
    """The Jupyter server's REST API."""

    def __init__(self, port: int, token: str):
        self.base, self.token = f"http://127.0.0.1:{port}", token

    def get(self, path: str):
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def delete(self, path: str) -> None:
        request = urllib.request.Request(self.base + path, method="DELETE",
                                         headers={"Authorization": f"token {self.token}"})
        urllib.request.urlopen(request, timeout=30).close()

    def kernel(self, notebook: str) -> dict | None:
        """The kernel of ``notebook``'s session (id, execution_state, connections), or None."""
        for session in self.get("/api/sessions"):
            if session.get("path", "").endswith(notebook) and session.get("kernel"):
                return self.get(f"/api/kernels/{session['kernel']['id']}")
        return None

    def kernel_idle(self, notebook: str) -> dict | None:
        kernel = self.kernel(notebook)
        return kernel if kernel and kernel["execution_state"] == "idle" and kernel.get("connections", 1) > 0 else None


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


class Explorer:
    """The notebook's one cell, and the explorer's controls and figure in its output."""

    def __init__(self, driver):
        self.driver = driver

    def find(self, selector: str):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def kernel_status(self) -> str:
        """The status bar's kernel item, as a user reads it ("Python (primps) | Idle")."""
        items = self.find("#jp-main-statusbar .jp-StatusBar-TextItem[title^='Change kernel']")
        return items[0].text.strip() if items else ""

    def notebook_ready(self) -> bool:
        """The notebook has loaded (no spinner over it) and its cell's editor is on screen."""
        if any(spinner.is_displayed() for spinner in self.find(".jp-NotebookPanel .jp-Spinner")):
            return False
        editors = self.find(".jp-Notebook .jp-Cell .cm-content")
        return bool(editors) and editors[0].is_displayed()

    def prompt(self) -> str:
        """The first cell's input prompt: "[ ]:" before it runs, "[*]:" while it runs, "[1]:" after."""
        prompts = self.find(".jp-Notebook .jp-Cell .jp-InputPrompt")
        return prompts[0].text.strip() if prompts else ""

    def errors(self) -> str:
        """A traceback in the cell's output, if any."""
        texts = [e.text for e in self.find(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
        text = "\n".join(texts)
        return text if "Traceback" in text else ""

    def figures(self) -> list[str]:
        return [image.get_attribute("src") for image in self.find(".jp-OutputArea-output img")]

    def control(self, description: str):
        from selenium.webdriver.common.by import By
        for widget in self.find(".widget-inline-hbox"):
            labels = widget.find_elements(By.CSS_SELECTOR, "label")
            if labels and labels[0].text.strip() == description:
                return widget
        raise StepFailed(f"no control labelled {description!r}")

    def has_control(self, description: str) -> bool:
        try:
            return self.control(description).is_displayed()
        except StepFailed:
            return False

    def changed_figure(self, before: str) -> str | None:
        """The figure, once it is the only one and differs from ``before``."""
        figures = self.figures()
        return figures[0] if len(figures) == 1 and figures[0] != before else None


def drive(driver, server: Server, url: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    page = Explorer(driver)

    step("open the notebook and wait for it to load")
    driver.get(url)
    poll(page.notebook_ready, "notebook on screen (cell editor shown, no loading spinner)", NOTEBOOK_DEADLINE)
    step.done()

    step("wait for the notebook's kernel: connected and idle")
    poll(lambda: page.kernel_status().endswith("| Idle"), "idle kernel in the status bar", NOTEBOOK_DEADLINE)
    kernel = poll(lambda: server.kernel_idle("explorer.ipynb"), "idle kernel with a connection on the server",
                  NOTEBOOK_DEADLINE)
    step.done(f"{page.kernel_status()!r}, server: {kernel['execution_state']}, "
              f"{kernel.get('connections', '?')} connection(s)")

    step("run the cell (Shift+Enter in its editor)")

    presses = []

    def run_cell() -> str:
        """The cell's prompt once it runs. Shift+Enter in the cell's editor, pressed again only if
        the cell never started (prompt still blank 10 s later with the kernel idle: the keys went
        nowhere, so a second press cannot run the cell twice)."""
        blank = page.prompt() in ("[ ]:", "")
        if not blank:
            return page.prompt()
        if presses and (time.monotonic() - presses[-1] < 10 or not server.kernel_idle("explorer.ipynb")):
            return ""
        if presses:
            print("           the cell did not start; pressing Shift+Enter again", flush=True)
        page.find(".jp-Notebook .jp-Cell .cm-content")[0].click()
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        presses.append(time.monotonic())
        return ""

    started = poll(run_cell, "start of the cell's run (its prompt still blank)", RUN_START_DEADLINE)
    step.done(f"prompt {started}")

    step("wait for the first figure (the cell imports, loads the photos and draws)")

    def first_figure():
        if page.errors():
            raise StepFailed(f"the cell failed: {page.errors().strip().splitlines()[-1]}")
        figures = page.figures()
        done = page.prompt() not in ("[*]:", "[ ]:", "")
        return done and len(figures) >= 1 and page.has_control("variant") and page.has_control("shapes") and figures

    figures = poll(first_figure, "figure and controls in the cell's output, with the cell finished",
                   FIRST_FIGURE_DEADLINE)
    if len(figures) != 1:
        raise StepFailed(f"{len(figures)} figures after the first run, expected one")
    first = figures[0]
    poll(lambda: server.kernel_idle("explorer.ipynb"), "idle kernel after the cell ran", CHANGE_DEADLINE)
    step.done(f"prompt {page.prompt()}")

    step("choose the variant ps-noise")
    Select(page.control("variant").find_element(By.TAG_NAME, "select")).select_by_visible_text("ps-noise")
    second = poll(lambda: page.changed_figure(first), "one redrawn figure after choosing ps-noise", CHANGE_DEADLINE)
    poll(lambda: server.kernel_idle("explorer.ipynb"), "idle kernel after choosing ps-noise", CHANGE_DEADLINE)
    shapes = page.control("shapes").find_element(By.CSS_SELECTOR, ".widget-readout").text.strip()
    if shapes != "0":
        raise StepFailed(f"choosing ps-noise left {shapes} shapes, expected its default 0")
    if page.control("texture").find_element(By.TAG_NAME, "select").is_enabled():
        raise StepFailed("the texture control stayed enabled under ps-noise, which draws no shapes")
    step.done("one figure, redrawn; shapes 0; texture disabled")

    step("move the shapes slider one step right")
    handle = page.control("shapes").find_element(By.CSS_SELECTOR, ".noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    poll(lambda: page.changed_figure(second), "one redrawn figure after moving the shapes slider", CHANGE_DEADLINE)
    poll(lambda: server.kernel_idle("explorer.ipynb"), "idle kernel after moving the slider", CHANGE_DEADLINE)
    shapes = page.control("shapes").find_element(By.CSS_SELECTOR, ".widget-readout").text.strip()
    if shapes != "10":
        raise StepFailed(f"the shapes slider reads {shapes} after one step right from 0, expected 10")
    step.done("one figure, redrawn; shapes 10")

    step("screenshot of the explorer")
    area = driver.find_element(By.CSS_SELECTOR, ".jp-Cell-outputArea")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(area.screenshot_as_png)
    step.done(str(SCREENSHOT.relative_to(ROOT)))


def warm_up(python: str) -> None:
    """Build what the kernel's first run needs (caches a fresh machine lacks) in a plain process,
    timed, so that a cold machine's first run waits on no compilation in the browser."""
    step(f"warm up the kernel's environment ({python})")
    try:
        result = subprocess.run([python, "-c", WARM_UP], cwd=ROOT, capture_output=True, text=True,
                                timeout=WARM_UP_DEADLINE)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"warm-up still running after {WARM_UP_DEADLINE} s") from None
    if result.returncode != 0:
        raise StepFailed(f"warm-up failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    step.done(result.stdout.strip())


def stop(lab: subprocess.Popen, server: Server) -> None:
    """Shut the kernel down through the server, then the server (killed if it does not stop)."""
    if lab.poll() is None:
        try:
            kernel = server.kernel("explorer.ipynb")
            if kernel:
                server.delete(f"/api/kernels/{kernel['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass
        lab.terminate()
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print("JupyterLab did not stop within 30 s of SIGTERM; killed", file=sys.stderr)
            lab.kill()
            lab.wait(timeout=30)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="primps-explorer-"))
    port, token = free_port(), secrets.token_hex(16)
    server = Server(port, token)
    log_path = folder / ".lab" / "server.log"
    log_path.parent.mkdir()
    lab = driver = None
    try:
        with open(log_path, "w") as log:
            kernel = kernel_name()
            write_notebook(folder, kernel)
            warm_up(kernel_python(kernel))

            step("start JupyterLab and wait for its REST API")
            lab = start_lab(folder, port, token, log)

            def answering():
                if lab.poll() is not None:
                    raise StepFailed(f"JupyterLab exited with {lab.returncode}")
                return server.get("/api/status")

            poll(answering, "answer from the server's /api/status", SERVER_DEADLINE)
            step.done()

            step("start chromium")
            driver = browser()
            step.done()
            drive(driver, server, f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
    except Exception as failure:              # a failed step, or Selenium's own errors: one line each
        print(f"browser test failed at step '{step.name}' after {time.monotonic() - T0:.0f} s: "
              f"{' '.join(str(failure).split()[:60])}", file=sys.stderr)
        if driver is not None:
            try:
                driver.save_screenshot(str(FAILURE_SCREENSHOT))
                print(f"the page at that moment: {FAILURE_SCREENSHOT}", file=sys.stderr)
            except Exception:                 # the browser itself is gone
                pass
        if log_path.exists():
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print("JupyterLab's last log lines:\n  " + "\n  ".join(tail), file=sys.stderr)
        return 1
    finally:
        if driver is not None:
            driver.quit()
        if lab is not None:
            stop(lab, server)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"the explorer redrew its one figure on each change ({time.monotonic() - T0:.0f} s); "
          f"screenshot: {SCREENSHOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
