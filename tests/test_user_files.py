"""Nothing loses a user's files (cge.user_files): every command that writes a named file or
into a folder refuses an existing file, or a folder cge did not make, unless --force; with
--force the file is replaced; writes are atomic (a failure leaves the old file as it was)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cge import fsio
from cge.cli import app
from cge.user_files import MANIFEST

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sam_data" / "template_multiregion.xlsx"
CSV = ROOT / "sam_data" / "template_multiregion_csv"
MINE = b"my own file, not cge's\n"


class Killed(Exception):
    """Stands in for a crash or a full disk at a point of writing."""


def _invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def _mine(path: Path) -> Path:
    path.write_bytes(MINE)
    return path


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".") and "tmp" in p.name]
    assert not left, left


def _refused(res, path: Path, option: str = "") -> None:
    assert res.exit_code == 1, res.output
    flat = " ".join(res.output.split())
    assert "--force" in flat and path.name in flat, res.output
    if option:
        assert option in flat


def _killed_at_file(point, path):
    if point in ("file", "commit"):
        raise Killed(path)


# ---------------------------------------------------------------- cge calibrate -o FILE
def test_calibrate_output_file(tmp_path):
    out = _mine(tmp_path / "prim.yaml")
    res = _invoke(["calibrate", TEMPLATE, "--no-solve", "-o", out])
    _refused(res, out, "--output")
    assert out.read_bytes() == MINE
    res = _invoke(["calibrate", TEMPLATE, "--no-solve", "-o", out, "--force"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes() != MINE and b"regions" in out.read_bytes()
    _no_temporaries(tmp_path)
    new = tmp_path / "new.yaml"  # a new name needs no --force
    assert _invoke(["calibrate", TEMPLATE, "--no-solve", "-o", new]).exit_code == 0
    # killed while writing: the old file is as it was, no temporary file is left
    _mine(out)
    with fsio.fault_hook(_killed_at_file):
        res = _invoke(["calibrate", TEMPLATE, "--no-solve", "-o", out, "--force"])
    assert isinstance(res.exception, Killed)
    assert out.read_bytes() == MINE
    _no_temporaries(tmp_path)


# ----------------------------------------------------------- cge national -o FILE/FOLDER
@pytest.fixture
def national_sam(tmp_path):
    shutil.copy(CSV / "sam_North.csv", tmp_path / "sam.csv")
    shutil.copy(CSV / "accounts.csv", tmp_path / "accounts.csv")
    return tmp_path


def _national(folder: Path, out: Path, *extra):
    return _invoke(["national", folder / "sam.csv", "-a", folder / "accounts.csv", "-r",
                    "North", "-o", out, *extra])


def test_national_output_workbook(national_sam):
    book = _mine(national_sam / "north.xlsx")
    _refused(_national(national_sam, book), book, "--output")
    assert book.read_bytes() == MINE
    res = _national(national_sam, book, "--force")
    assert res.exit_code == 0, res.output
    assert book.read_bytes()[:2] == b"PK"  # an xlsx (zip) now
    _no_temporaries(national_sam)


def test_national_output_folder(national_sam):
    folder = national_sam / "north"
    res = _national(national_sam, folder)
    assert res.exit_code == 0, res.output
    written = sorted(p.name for p in folder.iterdir())
    assert "regions.csv" in written and MANIFEST in written
    # cge's own folder is written again without --force; a user's file in it is kept
    _mine(folder / "notes.txt")
    stamp = (folder / "regions.csv").stat().st_mtime_ns
    res = _national(national_sam, folder)
    assert res.exit_code == 0, res.output
    assert (folder / "notes.txt").read_bytes() == MINE
    assert (folder / "regions.csv").stat().st_mtime_ns >= stamp
    # a folder cge did not make: refused; with --force the sheets are added
    user = national_sam / "mine"
    user.mkdir()
    _mine(user / "notes.txt")
    res = _national(national_sam, user)
    _refused(res, user, "--output")
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    res = _national(national_sam, user, "--force")
    assert res.exit_code == 0, res.output
    assert (user / "notes.txt").read_bytes() == MINE and (user / "regions.csv").is_file()
    # a user's file of a name cge writes is never replaced, not even with --force
    clash = national_sam / "clash"
    clash.mkdir()
    _mine(clash / "regions.csv")
    res = _national(national_sam, clash, "--force")
    assert res.exit_code == 1 and "regions.csv" in res.output
    assert sorted(p.name for p in clash.iterdir()) == ["regions.csv"]
    assert (clash / "regions.csv").read_bytes() == MINE
    _no_temporaries(national_sam)


def test_a_file_cge_wrote_and_the_user_edited_is_kept(national_sam):
    """The manifest records each file's sha256; an edited one is the user's, refused by
    name even with --force, until it is moved away."""
    folder = national_sam / "north"
    assert _national(national_sam, folder).exit_code == 0
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["sha256"]) == set(manifest["files"]) - {MANIFEST}
    with (folder / "regions.csv").open("ab") as fh:
        fh.write(b"my edit\n")
    edited = (folder / "regions.csv").read_bytes()
    for force in ((), ("--force",)):
        res = _national(national_sam, folder, *force)
        flat = " ".join(res.output.split())
        assert res.exit_code == 1, res.output
        assert "regions.csv changed after cge wrote it" in flat and "even --force" in flat
        assert (folder / "regions.csv").read_bytes() == edited
    (folder / "regions.csv").rename(national_sam / "my_regions.csv")
    res = _national(national_sam, folder)
    assert res.exit_code == 0, res.output
    assert (folder / "regions.csv").is_file() and (national_sam / "my_regions.csv").is_file()
    _no_temporaries(national_sam)


# ---------------------------------------------------------- cge gravity -o/-w/-s
@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(3)
    names = ["A", "B", "C", "D"]
    rows = []
    for i, e in enumerate(names):
        for j, m in enumerate(names):
            dist = 1.0 + abs(i - j) + 0.3 * ((i * 7 + j * 3) % 4)
            border = int(i != j)
            rows.append({"exporter": e, "importer": m, "DIST": dist, "BRDR": border,
                         "trade": float(100 * dist ** -0.8 * np.exp(-1.5 * border)
                                        * (1 + 0.05 * rng.standard_normal()))})
    path = tmp_path / "table.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _gravity(table: Path, *extra):
    return _invoke(["gravity", table, "-v", "DIST,BRDR", "--log", "DIST", *extra])


def test_gravity_workbook_and_scenario_files(table):
    tmp = table.parent
    book, scenario = _mine(tmp / "book.xlsx"), tmp / "run.yaml"
    res = _gravity(table, "-w", book, "-s", scenario, "--remove", "BRDR")
    _refused(res, book, "--workbook")
    assert book.read_bytes() == MINE and not scenario.exists()
    _mine(scenario)
    book.unlink()
    res = _gravity(table, "-w", book, "-s", scenario, "--remove", "BRDR")
    _refused(res, scenario, "--scenario")
    assert not book.exists() and scenario.read_bytes() == MINE  # refused before writing any
    _mine(book)
    res = _gravity(table, "-w", book, "-s", scenario, "--remove", "BRDR", "--force")
    assert res.exit_code == 0, res.output
    assert book.read_bytes()[:2] == b"PK" and b"BRDR" in scenario.read_bytes()
    _no_temporaries(tmp)


def test_gravity_output_folder(table):
    tmp = table.parent
    out = tmp / "estimates"
    res = _gravity(table, "-o", out)
    assert res.exit_code == 0, res.output
    assert {"coefficients.csv", "pairs.csv", MANIFEST} <= {p.name for p in out.iterdir()}
    assert json.loads((out / MANIFEST).read_text())["command"] == "gravity"
    assert _gravity(table, "-o", out).exit_code == 0  # its own folder: replaced
    user = tmp / "user"
    user.mkdir()
    _mine(user / "notes.txt")
    _refused(_gravity(table, "-o", user), user, "--output")
    assert [p.name for p in user.iterdir()] == ["notes.txt"]
    res = _gravity(table, "-o", user, "--force")
    assert res.exit_code == 0, res.output
    assert (user / "notes.txt").read_bytes() == MINE and (user / "pairs.csv").is_file()
    # killed before the files are moved in: the folder is as it was
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with fsio.fault_hook(_killed_at_file):
        res = _gravity(table, "-o", out)
    assert isinstance(res.exception, Killed)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    _no_temporaries(tmp)


# ------------------------------------------------------- cge compare -o/--html/--outdir
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    scenario = tmp / "cut.yaml"
    scenario.write_text("name: cut\ndata: {example: symmetric, args: {regions: 2, sectors: 1}}\n"
                        "shocks:\n  - {type: tariff, mode: add, value: 0.1}\n")
    res = _invoke(["run", scenario, "-o", tmp / "cut", "--no-excel", "--no-plots"])
    assert res.exit_code == 0, res.output
    return tmp / "cut"


@pytest.mark.solver
@pytest.mark.parametrize("option, name", [("-o", "w.csv"), ("-o", "w.xlsx"),
                                          ("--html", "c.html")])
def test_compare_files(run_folder, tmp_path, option, name):
    out = _mine(tmp_path / name)
    res = _invoke(["compare", run_folder, option, out])
    _refused(res, out, "--html" if option == "--html" else "--output")
    assert out.read_bytes() == MINE
    res = _invoke(["compare", run_folder, option, out, "--force"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes() != MINE
    _no_temporaries(tmp_path)


@pytest.mark.solver
def test_compare_outdir(run_folder, tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    _mine(user / "notes.txt")
    _refused(_invoke(["compare", run_folder, "--outdir", user]), user, "--outdir")
    assert [p.name for p in user.iterdir()] == ["notes.txt"]
    res = _invoke(["compare", run_folder, "--outdir", user, "--force"])
    assert res.exit_code == 0, res.output
    assert (user / "compare_welfare.csv").is_file() and (user / "notes.txt").read_bytes() == MINE
    assert _invoke(["compare", run_folder, "--outdir", user]).exit_code == 0  # now cge's
    _no_temporaries(tmp_path)
