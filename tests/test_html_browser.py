"""The HTML report in a real headless Chromium (Debian's ``chromium``), driven over the DevTools
protocol: the page loads with no console error, no exception, no request leaving the file, and
its tables are there (issue 5). CI installs Chromium (.ci/apt-packages.txt); without it this
test FAILS with a message, it is not skipped.
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import polars as pl

from reports.html import render_html, write_html
from reports.runs import load_runs
from reports.synthetic import synthetic_results

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("no Chromium binary on PATH (tried chromium, chromium-browser, google-chrome): "
                         "install it with `apt-get install -y chromium` (.ci/apt-packages.txt lists it for CI)")


def _run_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run"
    directory.mkdir()
    synthetic_results(models=3, datasets=2, seeds=3, failed=1).write_parquet(directory / "results.parquet")
    return directory


async def _load(ws_url: str, page: str) -> dict:
    """Navigate to ``page``; collect console errors, exceptions, outside requests; count tables."""
    problems, requests, ids = [], [], iter(range(1, 1000))
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
        async def call(method, **params):
            ident = next(ids)
            await ws.send_json({"id": ident, "method": method, "params": params})
            while True:
                msg = json.loads((await ws.receive(timeout=30)).data)
                if msg.get("method") == "Runtime.consoleAPICalled" and msg["params"]["type"] in ("error", "assert"):
                    problems.append(msg["params"])
                elif msg.get("method") == "Runtime.exceptionThrown":
                    problems.append(msg["params"]["exceptionDetails"])
                elif msg.get("method") == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
                    problems.append(msg["params"]["entry"])
                elif msg.get("method") == "Network.requestWillBeSent":
                    requests.append(msg["params"]["request"]["url"])
                elif msg.get("id") == ident:
                    return msg.get("result", {})

        for domain in ("Runtime", "Log", "Network", "Page"):
            await call(f"{domain}.enable")
        await call("Page.navigate", url=page)
        for _ in range(100):  # wait for load
            state = await call("Runtime.evaluate", expression="document.readyState", returnByValue=True)
            if state["result"]["value"] == "complete":
                break
            await asyncio.sleep(0.1)
        counts = await call("Runtime.evaluate", returnByValue=True, expression=(
            "JSON.stringify({tables: document.querySelectorAll('table').length,"
            " leaderboards: document.querySelectorAll('table[id^=leaderboard-]').length,"
            " rows: document.querySelectorAll('#leaderboard-data0 tbody tr').length,"
            " images: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,"
            " failed: document.querySelectorAll('#failed tbody tr').length})"))
    return {"problems": problems, "requests": requests, **json.loads(counts["result"]["value"])}


def test_report_loads_in_headless_chromium_without_errors(tmp_path):
    browser = _browser()
    path = write_html(load_runs([_run_dir(tmp_path)]), tmp_path / "report.html")
    profile = tempfile.mkdtemp(dir=tmp_path)
    process = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            assert process.poll() is None, f"{browser} exited with {process.returncode}"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
            target = next(t for t in json.loads(response.read()) if t["type"] == "page")
        result = asyncio.run(_load(target["webSocketDebuggerUrl"], path.as_uri()))
        bad = tmp_path / "bad.html"  # the checker itself must see a console error and an outside request
        bad.write_text("<html><body><img src='http://192.0.2.1/x.png'><script>console.error('boom')</script></body></html>")
        control = asyncio.run(_load(target["webSocketDebuggerUrl"], bad.as_uri()))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert control["problems"] and "http://192.0.2.1/x.png" in control["requests"]
    assert result["problems"] == []
    assert [u for u in result["requests"] if not u.startswith(("file:", "data:"))] == []
    assert result["leaderboards"] == 2 and result["rows"] == 3
    assert result["failed"] == 1
    assert result["tables"] >= 3
    assert result["images"] == 4  # accuracy scatter, Betti curves, unlearning bars, eigenvalues


def test_report_is_self_contained():
    frame = synthetic_results(models=2, seeds=2)
    with tempfile.TemporaryDirectory() as directory:
        frame.write_parquet(Path(directory) / "results.parquet")
        text = render_html(load_runs([directory]))
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", text)
    assert "<script" not in text
    assert text.count("data:image/png;base64,") == 4


def test_report_without_optional_columns_says_what_is_missing(tmp_path):
    frame = synthetic_results(models=2, seeds=2).select("cell_id", "suite", "model", "dataset", "seed", "status",
                                                       "error", "network_acc", "surrogate_acc")
    frame.write_parquet(tmp_path / "results.parquet")
    text = render_html(load_runs([tmp_path]))
    assert text.count("data:image/png;base64,") == 1
    assert "Not drawn: no Betti curve columns" in text and "Not drawn: no eigenvalue columns" in text
    assert os.path.getsize(tmp_path / "results.parquet") > 0 and pl.read_parquet(tmp_path / "results.parquet").height == 4
