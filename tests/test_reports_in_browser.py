"""The HTML reports in a real headless browser (Debian's Chromium): the DOM Chromium builds holds every
chart with its axes, legends and labels, and a screenshot of each page is not blank."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from system_tools import require_tool
from test_cost_render import COSTS, TOKENS
from test_loadtest_report import SLO, run

from gpufleet.cost.render import render_html as render_cost_html
from gpufleet.loadtest.session import judge_run
from gpufleet.loadtest.writers import render_html as render_loadtest_html

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-dev-shm-usage"]


def chromium(*args: str, cwd: Path) -> str:
    binary = require_tool("chromium")
    done = subprocess.run([binary, *FLAGS, f"--user-data-dir={cwd / 'profile'}", *args], cwd=cwd,
                          capture_output=True, timeout=90, check=True)
    return done.stdout.decode("utf-8", "replace")


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """(width, height, decompressed scanlines) of a PNG, standard library only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def render_page(tmp_path: Path, name: str, html: str) -> tuple[str, Path]:
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    dom = chromium("--dump-dom", page.as_uri(), cwd=tmp_path)
    shot = tmp_path / f"{name}.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,2400", page.as_uri(), cwd=tmp_path)
    return dom, shot


@pytest.mark.slow
def test_the_load_test_report_renders_in_chromium(tmp_path):
    report = judge_run(run(), SLO, target="http://127.0.0.1:8000")
    dom, shot = render_page(tmp_path, "loadtest", render_loadtest_html(report))
    charts = re.findall(r'<svg[^>]*aria-label="([^"]+)"', dom)
    assert {"TTFT over time (by send time)", "TPOT over time (by send time)", "Requests per second"} <= set(charts)
    assert len(charts) == 9 and dom.count("<polyline") + dom.count("<circle") > 20
    assert f"p95 {report.stats.ttft_ms.p95:,.1f} ms" in dom and "SLO p95 300 ms" in dom
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1400, 2400) and len(set(pixels)) > 40  # drawn, not a blank page


@pytest.mark.slow
def test_the_cost_report_renders_in_chromium(tmp_path):
    dom, shot = render_page(tmp_path, "cost", render_cost_html(COSTS, TOKENS))
    assert dom.count('class="cost-chart"') == 2  # desired and maximum size
    assert len(re.findall(r'class="axis-tick"', dom)) >= 10 and dom.count('class="legend"') == 10
    assert 'class="fleet-total">$1,899.44/month' in dom and 'class="fleet-total">$3,635.26/month' in dom
    assert 'class="small-item"' in dom
    _, _, pixels = png_pixels(shot)
    assert len(set(pixels)) > 40
