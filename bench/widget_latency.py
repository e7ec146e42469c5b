"""Slider-to-image latency of every widget, in JupyterLab in a real browser (a `make bench` item).

Usage: python bench/widget_latency.py [--changes N] [--out bench/widget_latency.json] [--lottolib-from REF]
                                      [--screenshots DIR]

What it does:
1. Writes a notebook that creates each explorer of ``lottolib.widgets`` (one cell each, the explorer
   as the cell's last expression, as in the chapters) into a temporary directory, and serves that
   directory with JupyterLab from this environment on 127.0.0.1 (random port and token; its settings,
   workspaces and runtime files in the same temporary directory, notebook windowing off so that
   every cell is in the page). Nothing in the repository is written except the output file.
2. Opens the notebook in headless Debian Chromium driven by Playwright (every request to another
   host is aborted), runs all cells and waits until every widget shows its first image.
3. For each widget, makes N slider changes with the mouse, cycling through its sliders: press on
   the handle, drag it to a position along the track (positions spread over the whole track,
   both ends included, in a seeded random order), release. The page itself timestamps the release
   (``pointerup``, captured) and every later ``load`` of the widget's <img> (ipywidgets replaces its
   ``src`` with a new blob); a change is complete when the kernel is idle again and no image has
   arrived for 0.3 s. Latency = last image load − release (the image for the released value; a
   slider that updates while dragged may send several, which ``images`` counts). A drag that
   leaves the readout unchanged is not counted; two warm-up changes per widget are not counted.
4. Writes the median and worst latency per widget (and every change) to the JSON file.

``--lottolib-from REF`` measures the lottolib package of git commit REF instead of this working
tree (extracted into the temporary directory and put first on the kernel's path): the "before"
numbers of a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat

ROOT = Path(__file__).resolve().parent.parent
EXPLORERS = ["one_weight_explorer", "neuron_explorer", "layer_explorer", "deep_explorer",
             "neuron_pruning_explorer", "subset_sum_explorer"]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WARMUP = 2
QUIET_MS = 300
# The same environment `make notebooks` and nbval use (threads, seeds).
KERNEL_ENV = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "PYTHONHASHSEED": "0",
              "PYDEVD_DISABLE_FILE_VALIDATION": "1"}

ARM = """img => {
    const state = {release: null, loads: [], lastLoad: null};
    window.__latency = state;
    window.addEventListener('pointerup', () => { if (state.release === null) state.release = performance.now(); },
                            {capture: true, once: true});
    if (!img.__latencyHooked) {
        img.__latencyHooked = true;
        img.addEventListener('load', () => {
            const s = window.__latency;
            if (s && s.release !== null) { const t = performance.now(); s.loads.push(t - s.release); s.lastLoad = t; }
        });
    }
}"""

KERNEL_TIMES = """
import json as _json
print(_json.dumps([list(getattr(_v, "update_seconds", []))
                   for _, _v in sorted(Out.items()) if isinstance(_v, L.widgets.widgets.VBox)]))
"""

RUN = """async code => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code, silent: false, store_history: false});
    let text = '';
    future.onIOPub = message => { if (message.header.msg_type === 'stream') text += message.content.text; };
    await future.done;
    return text;
}"""

SETTLED = """quietMs => {
    const s = window.__latency;
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    return s.release !== null && s.loads.length > 0 && kernel.status === 'idle'
        && performance.now() - s.lastLoad > quietMs;
}"""


def _notebook(path: Path, lottolib_path: Path | None) -> None:
    setup = ["%matplotlib inline"]
    if lottolib_path is not None:
        setup += ["import sys", f"sys.path.insert(0, {str(lottolib_path)!r})"]
    setup += ["import torch", "import lottolib as L", "import lottolib.widgets",
              "from lottolib.style import use_book_style", "", "use_book_style()",
              "print(L.__file__, torch.get_num_threads())"]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("\n".join(setup))]
    notebook.cells += [nbformat.v4.new_code_cell(f"L.widgets.{name}()") for name in EXPLORERS]
    nbformat.write(notebook, path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_lab(directory: Path, port: int, token: str) -> subprocess.Popen:
    settings = directory / ".lab" / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)  # no news toast over the widgets, no request for it
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True}))
    env = {**os.environ, **KERNEL_ENV, "JUPYTER_CONFIG_DIR": str(directory / ".lab" / "config"),
           "JUPYTER_RUNTIME_DIR": str(directory / ".lab" / "runtime"), "IPYTHONDIR": str(directory / ".lab" / "ipython")}
    env.pop("MPLBACKEND", None)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.root_dir={directory}", f"--IdentityProvider.token={token}",
               "--expose-app-in-browser", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
               f"--LabServerApp.user_settings_dir={settings}",
               f"--LabServerApp.workspaces_dir={directory / '.lab' / 'workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (directory / ".lab" / "server.log").open("w")
    server = subprocess.Popen(command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {(directory / '.lab' / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("JupyterLab did not answer within 120 s")


def _drag(page, slider, fraction: float) -> bool:
    """Drag the handle of ``slider`` to ``fraction`` of its track; False when the handle is already there."""
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    x_from, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    x_to = track["x"] + fraction * track["width"]
    if abs(x_to - x_from) < 3:
        return False
    page.mouse.move(x_from, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x_from + (x_to - x_from) * step / 5, y)
        page.wait_for_timeout(20)
    page.mouse.up()
    return True


def _measure_widget(page, cell, name: str, changes: int, seed: int, screenshots: Path | None) -> dict:
    cell.scroll_into_view_if_needed()
    if screenshots is not None:
        cell.screenshot(path=screenshots / f"{name}.png")
    sliders = cell.locator(".widget-slider")
    image = cell.locator("img.widget-image")
    labels = [sliders.nth(i).locator(".widget-label").first.inner_text() for i in range(sliders.count())]
    rng = random.Random(seed)
    plans = []
    for _ in labels:
        fractions = [i / max(1, changes - 1) for i in range(changes)]  # 0 … 1, both ends
        rng.shuffle(fractions)
        plans.append(fractions + [rng.random() for _ in range(changes)])  # spares for drags that change nothing
    rows, attempt = [], 0
    while len(rows) < changes + WARMUP and attempt < 4 * (changes + WARMUP):
        which = attempt % len(labels)
        attempt += 1
        slider = sliders.nth(which)
        readout = slider.locator(".widget-readout")
        before = readout.inner_text()
        fraction = plans[which].pop(0) if plans[which] else rng.random()
        image.evaluate(ARM)
        if not _drag(page, slider, fraction):
            continue
        page.wait_for_timeout(50)
        after = readout.inner_text()
        if after == before:
            continue
        page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=120_000, polling=20)
        state = page.evaluate("window.__latency")
        rows.append({"slider": labels[which], "from": before, "to": after,
                     "ms": round(state["loads"][-1], 1), "first_image_ms": round(state["loads"][0], 1),
                     "images": len(state["loads"])})
        print(f"  {name} {labels[which]} {before} -> {after}: {rows[-1]['ms']:.0f} ms, "
              f"{rows[-1]['images']} image(s)", flush=True)
    measured = rows[WARMUP:]
    times = [row["ms"] for row in measured]
    return {"widget": name, "changes": len(measured), "median_ms": round(statistics.median(times), 1),
            "worst_ms": round(max(times), 1), "images_per_change_max": max(row["images"] for row in measured),
            "updates": measured}


def measure(changes: int, lottolib_ref: str | None, seed: int, screenshots: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="widget-latency-") as temporary:
        directory = Path(temporary)
        lottolib_path = None
        if lottolib_ref is not None:
            lottolib_path = directory / ".lab" / "src"
            lottolib_path.mkdir(parents=True)
            archive = subprocess.run(["git", "archive", lottolib_ref, "lottolib"], cwd=ROOT, check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(lottolib_path)], input=archive, check=True)
        _notebook(directory / "widgets.ipynb", lottolib_path)
        port, token = _free_port(), secrets.token_hex(16)
        server = _start_lab(directory, port, token)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.route("**/*", lambda route, request: route.continue_()
                              if urlparse(request.url).hostname in ("127.0.0.1", None) or request.url.startswith(
                                  ("data:", "blob:")) else route.abort())
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/lab/tree/widgets.ipynb?token={token}")
                page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                    return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                        && w.sessionContext.session.kernel.connectionStatus === 'connected'
                        && w.sessionContext.session.kernel.status === 'idle'; }""", timeout=120_000, polling=100)
                page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                cells = page.locator(".jp-Notebook .jp-Cell")
                page.wait_for_function(
                    """n => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].slice(1, n + 1)
                           .every(c => { const i = c.querySelector('img.widget-image');
                                         return i && i.src.startsWith('blob:') && i.complete; })""",
                    arg=len(EXPLORERS), timeout=300_000, polling=200)
                setup_output = cells.nth(0).locator(".jp-OutputArea-output").first.inner_text()
                print("kernel:", setup_output.strip(), flush=True)
                rows = [_measure_widget(page, cells.nth(index + 1), name, changes, seed + index, screenshots)
                        for index, name in enumerate(EXPLORERS)]
                kernel_times = json.loads(page.evaluate(RUN, KERNEL_TIMES) or "[]")
                for row, seconds in zip(rows, kernel_times, strict=False):
                    # update_seconds: the draw on creation, then one per redraw (warm-up changes first)
                    measured = [1000 * t for t in seconds[1 + WARMUP:]]
                    if measured:
                        row["kernel_median_ms"] = round(statistics.median(measured), 1)
                        row["kernel_worst_ms"] = round(max(measured), 1)
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                        "cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_at_start],
                        "load_average_at_end": [round(x, 2) for x in load],
                        "chromium": subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()},
            "lottolib": lottolib_ref or f"working tree at {commit}", "changes_per_widget": changes,
            "warmup_changes": WARMUP, "quiet_ms": QUIET_MS, "widgets": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20, help="measured slider changes per widget")
    parser.add_argument("--out", default=str(ROOT / "bench" / "widget_latency.json"))
    parser.add_argument("--lottolib-from", dest="ref", help="measure lottolib as of this git commit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of each widget cell here")
    args = parser.parse_args()
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    results = measure(args.changes, args.ref, args.seed, args.screenshots)
    for row in results["widgets"]:
        print(f"{row['widget']:<26} median {row['median_ms']:7.0f} ms   worst {row['worst_ms']:7.0f} ms   "
              f"({row['changes']} changes, up to {row['images_per_change_max']} image(s) per change)")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
