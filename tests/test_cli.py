"""The command line on bundled data: check and calibrate accept workbooks and CSV folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cge.cli import app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("data", ["template_multiregion.xlsx", "template_multiregion_csv"])
def test_check_reads_and_calibrates_bundled_data(data):
    result = CliRunner().invoke(app, ["check", str(ROOT / "sam_data" / data)])
    assert result.exit_code == 0, result.output
    assert "reads and calibrates" in result.output


def test_check_names_a_missing_path(tmp_path):
    result = CliRunner().invoke(app, ["check", str(tmp_path / "nowhere.xlsx")])
    assert result.exit_code == 1
    assert "nowhere.xlsx: no such file or folder" in result.output


def test_example_command_prints_welfare():
    result = CliRunner().invoke(app, ["example", "--cut", "20"])
    assert result.exit_code == 0, result.output
    assert "Welfare" in result.output and "North" in result.output


def test_run_several_scenarios_into_one_folder(tmp_path):
    runs = ROOT / "runs"
    result = CliRunner().invoke(app, ["run", str(runs / "tariff_unilateral.yaml"),
                                      str(runs / "tariff_retaliation.yaml"), "-o", str(tmp_path),
                                      "--no-plots", "--no-excel", "--strict"])
    assert result.exit_code == 0, result.output
    for name in ("tariff_unilateral", "tariff_retaliation"):
        assert (tmp_path / name / "welfare.csv").is_file(), name
    assert "scenario 2 of 2 done" in result.output


def test_run_validates_every_scenario_before_solving(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ndata: {example: three_by_three}\nshocks:\n"
                   "  - {type: tariff, importers: Nowhere, mode: set, value: 0.1}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                      str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "bad.yaml:4" in result.output and "Nowhere" in result.output
    assert not out.exists(), "nothing may be solved or written before every file is valid"
    dup = CliRunner().invoke(app, ["run", str(ROOT / "runs" / "tariff_unilateral.yaml"),
                                   str(ROOT / "runs" / "tariff_unilateral.yaml"), "-o", str(out)])
    assert dup.exit_code == 1 and "named ['tariff_unilateral']" in dup.output


# ----------------------------------------- the workbook reader's options on the command line
JAPAN = ROOT / "sam_data" / "hosoe_japan_2005.xlsx"


def _perturbed_template(tmp_path):
    """The bundled template with North's household consumption of mfg raised from 230 to
    236: it no longer balances."""
    import shutil

    import openpyxl

    path = tmp_path / "perturbed.xlsx"
    shutil.copy(ROOT / "sam_data" / "template_multiregion.xlsx", path)
    wb = openpyxl.load_workbook(path)
    ws = wb["sam_North"]
    assert ws["H4"].value == 230
    ws["H4"].value = 236
    wb.save(path)
    return path


@pytest.mark.parametrize("command", ["check", "calibrate"])
def test_production_taxes_option(command, tmp_path):
    """--production-taxes: tax (the default), pro_rata and factor, as read_workbook reads them."""
    extra = ["--no-solve"] if command == "calibrate" else []
    runner = CliRunner()
    outputs = {}
    for reading in (None, "tax", "pro_rata", "factor"):
        out = tmp_path / f"{reading}.yaml"
        args = [command, str(JAPAN), *extra] + (["--production-taxes", reading] if reading else [])
        if command == "calibrate":
            args += ["-o", str(out)]
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        outputs[reading] = result.output
    assert "production taxes: 8 of 8 cells" in outputs[None]
    assert "production taxes: 8 of 8 cells" in outputs["tax"]
    assert "read with production_taxes=tax" in outputs["tax"]
    assert "production taxes:" not in outputs["pro_rata"]
    assert "read with production_taxes=pro_rata" in outputs["pro_rata"]
    assert "factors: ['CAP', 'LAB', 'production_tax']" in outputs["factor"]
    if command == "calibrate":
        import yaml

        def ptax(reading):
            return yaml.safe_load((tmp_path / f"{reading}.yaml").read_text()).get("production_tax")

        assert ptax(None) == ptax("tax")
        # the rate: IDT / (factor payments + intermediate purchases) of Japan's agriculture
        import calibration as cal

        data = cal.read_workbook(JAPAN)
        rate = data.production_tax[0, 0] / (data.factor_payments[0, 0].sum()
                                            + data.intermediate[0, 0].sum())
        assert ptax("tax")["JPN"]["AGR"] == pytest.approx(rate, rel=1e-12) and rate > 0.03
        assert all(v == 0 for row in ptax("pro_rata").values() for v in row.values())
    bad = runner.invoke(app, [command, str(JAPAN), "--production-taxes", "prorata"])
    assert bad.exit_code == 2
    assert "--production-taxes" in bad.output and "pro_rata" in bad.output


@pytest.mark.parametrize("command", ["check", "calibrate"])
def test_balance_option(command, tmp_path):
    """--balance ras | cross_entropy balances a workbook that does not balance as given."""
    path = _perturbed_template(tmp_path)
    extra = ["--no-solve"] if command == "calibrate" else []
    runner = CliRunner()
    plain = runner.invoke(app, [command, str(path), *extra])
    assert plain.exit_code == 1 and "account c_mfg does not balance" in plain.output
    for method, label in (("ras", "RAS balancing"), ("cross_entropy", "cross-entropy balancing")):
        result = runner.invoke(app, [command, str(path), *extra, "--balance", method],
                               env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert f"read with balance={method}" in result.output
        assert f"{label} changed" in result.output
    bad = runner.invoke(app, [command, str(path), "--balance", "RAS"])
    assert bad.exit_code == 2 and "--balance" in bad.output and "cross_entropy" in bad.output


def test_reader_options_are_refused_for_scenarios_and_primitives():
    for path in (ROOT / "runs" / "japan_tariff_cut.yaml",
                 ROOT / "runs" / "data" / "borderland.yaml"):
        result = CliRunner().invoke(app, ["check", str(path), "--production-taxes", "pro_rata",
                                          "--balance", "ras"], env={"COLUMNS": "400"})
        assert result.exit_code == 1, result.output
        assert "--production-taxes, --balance: only for a workbook or a folder of CSV sheets" \
            in result.output


def test_help_and_version_do_not_load_the_model():
    """`cge --help` and `cge --version` start without importing Pyomo, pandas or
    matplotlib (the CLI imports what a command needs when it runs)."""
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from cge.cli import app; "
            "r = CliRunner().invoke(app, ['--version']); assert r.exit_code == 0, r.output; "
            "assert r.output.startswith('cge '), r.output; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
            "heavy = sorted(m for m in ('pyomo', 'pandas', 'matplotlib', 'scipy') if m in sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_lazy_package_attributes():
    import cge

    assert callable(cge.examples.three_by_three)
    assert cge.Equilibrium.__name__ == "Equilibrium"
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        cge.nonsense  # noqa: B018
