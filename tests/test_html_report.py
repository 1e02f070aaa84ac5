"""The HTML report: self-contained, every section present; it opens in a headless Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cge.scenario import run_scenario

pytestmark = pytest.mark.solver

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    result = run_scenario(ROOT / "runs" / "tariff_retaliation.yaml")
    return result.write(tmp_path_factory.mktemp("html") / "retaliation"), result


class _Tables(HTMLParser):
    """Tables (by id) as lists of rows of cell texts; and every external reference."""

    def __init__(self):
        super().__init__()
        self.tables, self.refs, self.images = {}, [], []
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"t{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        for key in ("src", "href"):
            if key in attrs:
                (self.images if tag == "img" else self.refs).append(attrs[key])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_report_content(folder):
    """Without a browser: the report holds the scenario text, checksum, closure, the
    welfare table with the run's numbers and units, embedded pictures, solver statistics
    and the benchmark check, and refers to nothing outside itself."""
    out, result = folder
    html = (out / "report.html").read_text()
    parser = _Tables()
    parser.feed(html)
    info = result.prepared
    assert info.data.checksum in html
    assert "South retaliates" in html  # the scenario text
    assert "regional_household" in html  # the closure
    assert "Benchmark replication" in html and "Solver statistics" in html
    table = parser.tables["welfare-as_specified"]
    header = table[0]
    assert header[0] == "region" and header[1] == "total [log points]"
    w = result.runs["as_specified"].welfare.regions
    rows = {r[0]: r for r in table[1:]}
    assert set(rows) == set(w.index)
    for region in w.index:
        assert float(rows[region][1].replace(",", "")) == pytest.approx(w.loc[region, "total"],
                                                                        abs=1e-4)
    ev = parser.tables["ev-as_specified"]
    assert "[numeraire units (benchmark money)]" in ev[0][1]
    # self-contained: pictures embedded as PNG data, no link to anything outside
    assert len(parser.images) >= 3
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [r for r in parser.refs if not r.startswith("#")]
    assert not re.search(r"<script[^>]*src=|<link[^>]*stylesheet", html)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_opens_in_headless_chromium(folder, tmp_path):
    """The report renders offline in a real browser, with the welfare table in its DOM; a
    screenshot is kept (in $CGE_TEST_ARTEFACTS if set, else the test's temporary folder)."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):  # .ci/run installs chromium: in CI its absence is a failure
            pytest.fail("CI=true but no chromium on PATH: .ci/run should have installed it")
        pytest.skip("no chromium on PATH (apt-get install chromium) - the browser check needs it; "
                    "test_report_content checks the HTML without a browser")
    out, result = folder
    url = (out / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Tables()
    parser.feed(dom.stdout)
    table = parser.tables.get("welfare-as_specified")
    assert table and table[0][1] == "total [log points]"
    assert {r[0] for r in table[1:]} == {"North", "South", "East"}
    artefacts = Path(os.environ.get("CGE_TEST_ARTEFACTS", tmp_path))
    artefacts.mkdir(parents=True, exist_ok=True)
    shot = artefacts / "report_tariff_retaliation.png"
    run = subprocess.run([browser, *flags, "--window-size=1280,2000", f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_comparison_report(folder, tmp_path):
    """`cge compare ... --html`: both runs' welfare in log points, EV in money, offline."""
    from cge.html_report import write_comparison

    out, result = folder
    other = result.write(tmp_path / "again", excel=False, plots=False)
    path = write_comparison([out, other], tmp_path / "cmp.html", title="Twice the same")
    parser = _Tables()
    parser.feed(path.read_text())
    table = parser.tables["welfare"]
    assert table[0] == ["region", "retaliation [log points]", "again [log points]"]
    w = result.runs["as_specified"].welfare.regions
    for row in table[1:]:
        assert float(row[1]) == pytest.approx(w.loc[row[0], "total"], abs=1e-4)
        assert row[1] == row[2]
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
