"""Results folders: nothing lost, nothing half-written (issue 13).

A kill while writing (fault injection in the writer, not timing luck), a full or
read-only disk, SIGTERM, a SIGKILL's debris, a second writer, and every refusal
of an output target, each checked with its message. Writing is exercised on one
small solved scenario (solved once per session); the refusals need no solve.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cge import fsio
from cge.cli import app
from cge.errors import (EXIT_FILESYSTEM, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_SOLVE,
                        EXIT_TERMINATED, FileSystemError, InputError, OutputError, Terminated,
                        exit_code)
from cge.outputs import (check_results_folder, edited_files, is_cge_folder, plan_output,
                         terminate_as_interrupt, write_results_folder)

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = """name: small
description: a small tariff on the bundled 3x3 economy
data: {example: three_by_three}
shocks:
  - {type: tariff, importers: North, exporters: South, mode: add, value: 0.05}
"""
FAST = {"excel": False, "plots": False, "parquet": False}


@pytest.fixture(scope="session")
def solved(tmp_path_factory):
    from cge.scenario import run_scenario

    folder = tmp_path_factory.mktemp("scenario")
    (folder / "small.yaml").write_text(SCENARIO)
    return run_scenario(folder / "small.yaml")


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (byte-identical means equal snapshots)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(parent: Path) -> list[str]:
    """Debris: hidden entries cge might leave next to a results folder."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def previous(solved, tmp_path):
    """A results folder written by cge (the 'previous results') and its snapshot."""
    out = tmp_path / "results" / "small"
    write_results_folder(solved, out, **FAST)
    assert is_cge_folder(out)
    return out, snapshot(out)


class Killed(BaseException):
    """What a kill looks like to the writer: an exception it did not expect."""


# ---------------------------------------------------------------- kills and faults
@pytest.mark.parametrize("point,nth", [("file", 1), ("file", 5), ("commit", 1)])
def test_kill_during_writing_leaves_previous_results_byte_identical(solved, previous, point, nth):
    out, before = previous
    calls = []

    def hook(where, path):
        if where == point:
            calls.append(path)
            if len(calls) == nth:
                raise Killed(f"killed at {where} {path}")

    with fsio.fault_hook(hook), pytest.raises(Killed):
        write_results_folder(solved, out, **FAST)
    assert len(calls) == nth, "the hook must have fired where intended"
    assert snapshot(out) == before
    assert hidden(out.parent) == [], "no temporary folder, lock or half-written file is left"


def test_keyboard_interrupt_during_writing_leaves_no_debris(solved, previous):
    out, before = previous

    def hook(where, path):
        if where == "file" and path.name == "trade.csv":
            raise KeyboardInterrupt

    with fsio.fault_hook(hook), pytest.raises(KeyboardInterrupt):
        write_results_folder(solved, out, **FAST)
    assert snapshot(out) == before and hidden(out.parent) == []


def test_sigterm_in_process_unwinds_like_ctrl_c(solved, previous):
    out, before = previous

    def hook(where, path):
        if where == "file" and path.name == "welfare.csv":
            os.kill(os.getpid(), signal.SIGTERM)

    with terminate_as_interrupt(), fsio.fault_hook(hook), pytest.raises(Terminated):
        write_results_folder(solved, out, **FAST)
    assert signal.getsignal(signal.SIGTERM) is not None
    assert snapshot(out) == before and hidden(out.parent) == []
    assert exit_code(Terminated()) == EXIT_TERMINATED == 143


@pytest.mark.parametrize("code,words", [
    (errno.ENOSPC, "no space left on the device (the disk is full)"),
    (errno.EROFS, "the file system is read-only"),
    (errno.EACCES, "permission denied"),
    (errno.EDQUOT, "the disk quota is exceeded"),
])
def test_write_failure_after_the_solve_keeps_results_and_names_them(solved, previous, code, words):
    out, before = previous

    def hook(where, path):
        if where == "file" and path.name == "firms.csv" and out.parent in path.parents:
            raise OSError(code, os.strerror(code), str(path))  # that disk only

    with fsio.fault_hook(hook), pytest.raises(FileSystemError) as info:
        write_results_folder(solved, out, **FAST)
    exc = info.value
    assert f"cannot write {out / 'firms.csv'}: {words}" in str(exc)
    assert exc.kept is not None and (Path(exc.kept) / "summary.csv").is_file()
    assert f"The solved results were saved in {exc.kept} instead" in str(exc)
    assert is_cge_folder(exc.kept), "the kept copy is a complete results folder"
    assert snapshot(out) == before and hidden(out.parent) == []
    assert exit_code(exc) == EXIT_FILESYSTEM


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs (a real full disk), where root may mount one."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                            str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root); the patched writer covers this")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_read_only_file_system_is_detected_before_solving(tiny_tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    with pytest.raises(FileSystemError) as info:
        plan_output(tiny_tmpfs / "out")
    assert "the file system is read-only" in str(info.value) and str(tiny_tmpfs) in str(info.value)
    with pytest.raises(FileSystemError, match="read-only"):
        fsio.atomic_write(tiny_tmpfs / "p.yaml", "x")


def test_really_full_disk(solved, tiny_tmpfs):
    filler = tiny_tmpfs / "filler"
    with open(filler, "wb") as fh:  # leave a few KiB: enough to pass the check, not to write
        try:
            fh.write(b"x" * (60 * 1024))
        except OSError:
            pass
    out = tiny_tmpfs / "out"
    with pytest.raises(FileSystemError) as info:
        plan = plan_output(out)
        try:
            write_results_folder(solved, plan, **FAST)
        finally:
            plan.release()
    assert "disk" in str(info.value)
    assert hidden(tiny_tmpfs) == [] and not out.exists()


# ---------------------------------------------------------------- SIGKILL debris
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_next_run_cleans_a_killed_writers_temporary_folder(solved, previous):
    out, before = previous
    stale = out.parent / f".{out.name}.cge-{dead_pid()}-0badc0de.tmp"
    stale.mkdir()
    (stale / "summary.csv").write_text("half")
    alive = out.parent / f".{out.name}.cge-{os.getppid()}-00000001.tmp"
    alive.mkdir()  # a live process's folder (our parent): never touched
    assert fsio.stale_folders(out) == [stale]
    write_results_folder(solved, out, **FAST)
    assert not stale.exists() and alive.exists()
    alive.rmdir()
    assert hidden(out.parent) == []


def test_a_kill_between_two_renames_is_undone(previous):
    """Where no atomic exchange exists the writer renames twice; killed between the two,
    the next run moves the previous folder back."""
    out, before = previous
    old = out.parent / f".{out.name}.cge-{dead_pid()}-0000beef.old"
    os.rename(out, old)
    assert not out.exists()
    fsio.clean_stale(out)
    assert snapshot(out) == before and hidden(out.parent) == []


def test_fallback_without_atomic_exchange(solved, previous, monkeypatch):
    out, before = previous
    monkeypatch.setattr(fsio, "_exchange", lambda a, b: False)
    write_results_folder(solved, out, **FAST)
    assert is_cge_folder(out) and hidden(out.parent) == []


def test_a_link_to_a_results_folder_stays_a_link(solved, previous, tmp_path):
    out, _ = previous
    link = tmp_path / "latest"
    link.symlink_to(out, target_is_directory=True)
    write_results_folder(solved, link, **FAST)
    assert link.is_symlink() and is_cge_folder(out)
    assert hidden(tmp_path) == [] and hidden(out.parent) == []


# ---------------------------------------------------------------- the lock
def test_a_second_writer_is_refused_while_the_first_holds_the_lock(solved, tmp_path):
    out = tmp_path / "out"
    first = plan_output(out)
    try:
        with pytest.raises(FileSystemError) as info:
            plan_output(out)
        assert f"another cge run (process {os.getpid()}) is writing it" in str(info.value)
        code = subprocess.run([sys.executable, "-c", (
            "import sys; from cge.outputs import plan_output\n"
            "try:\n    plan_output(sys.argv[1])\nexcept Exception as e:\n"
            "    print(e); sys.exit(4)\n"), str(out)], capture_output=True, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert code.returncode == 4 and "another cge run" in code.stdout
        write_results_folder(solved, first, **FAST)
    finally:
        first.release()
    assert hidden(tmp_path) == [], "the lock file goes with the lock"
    plan_output(out).release()  # free again


# ---------------------------------------------------------------- permissions
def test_files_get_the_users_umask(solved, tmp_path):
    old = os.umask(0o027)
    try:
        out = write_results_folder(solved, tmp_path / "out", **FAST)
    finally:
        os.umask(old)
    assert (out.stat().st_mode & 0o777) == 0o750
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o640}
    old = os.umask(0o002)
    try:
        fsio.atomic_write(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o664


# ---------------------------------------------------------------- refusals
def test_a_folder_cge_did_not_make_is_refused_and_forced_only_adds(solved, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    with pytest.raises(OutputError) as info:
        plan_output(out)
    assert ("the folder exists and was not made by cge (it has no run_info.json of a cge run); "
            "its files would be lost: thesis.docx") in str(info.value)
    assert "--force" in str(info.value)
    write_results_folder(solved, out, force=True, **FAST)
    assert (out / "thesis.docx").read_text() == "years of work"
    assert (out / "summary.csv").is_file()
    # forced again: now a cge folder with a foreign file; cge's files are replaced only
    write_results_folder(solved, out, force=True, **FAST)
    assert (out / "thesis.docx").read_text() == "years of work"
    assert hidden(tmp_path) == []


def test_forced_never_overwrites_a_file_of_cges_name_it_did_not_write(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.csv").write_text("my own summary")
    with pytest.raises(OutputError, match="holds files of the names cge writes: summary.csv"):
        plan_output(out, force=True)


def test_a_cge_folder_with_user_files_is_refused(previous):
    out, before = previous
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as info:
        plan_output(out)
    assert "the results folder holds files cge did not write: notes.txt" in str(info.value)


def test_a_file_edited_after_cge_wrote_it_is_never_replaced(solved, previous):
    """An analyst's edits to a results file (notes in summary.csv, a sheet added in
    Excel) make it theirs: refused, and not even --force replaces it."""
    out, _ = previous
    recorded = json.loads((out / "run_info.json").read_text())["files_sha256"]
    assert set(recorded) == {p.name for p in out.iterdir()} - {"run_info.json"}
    assert edited_files(out) == []
    with (out / "summary.csv").open("a") as fh:
        fh.write("my note,,,\n")
    mine = snapshot(out)
    assert edited_files(out) == ["summary.csv"]
    for force in (False, True):
        with pytest.raises(OutputError) as info:
            write_results_folder(solved, out, force=force, **FAST)
        assert (f"{out}: summary.csv changed after cge wrote it (the content differs from the "
                "checksum in run_info.json") in str(info.value)
        assert "even --force does not replace them" in str(info.value)
    assert snapshot(out) == mine and hidden(out.parent) == []
    (out / "summary.csv").rename(out.parent / "my_summary.csv")  # as the message says
    write_results_folder(solved, out, **FAST)
    assert (out / "summary.csv").is_file() and edited_files(out) == []
    assert "my note" in (out.parent / "my_summary.csv").read_text()


def test_files_added_or_edited_while_solving_are_kept(solved, previous):
    """The folder is checked again after the solve: a file dropped into it (or one of
    cge's files edited) while the run was solving is not lost with the old folder;
    the new results are saved elsewhere and the error names both."""
    out, _ = previous
    original = (out / "trade.csv").read_bytes()
    for change in ("add", "edit"):
        plan = plan_output(out)
        if change == "add":
            (out / "notes.txt").write_text("written during the run")
        else:
            (out / "trade.csv").write_text("edited during the run")
        mine = snapshot(out)
        try:
            with pytest.raises(FileSystemError) as info:
                write_results_folder(solved, plan, **FAST)
        finally:
            plan.release()
        exc = info.value
        assert f"cannot write the results folder {out}: the folder changed while the run " \
               "was solving" in str(exc)
        assert ("notes.txt" if change == "add" else "trade.csv changed after cge wrote it") \
            in str(exc)
        assert exc.kept is not None and is_cge_folder(exc.kept)
        assert snapshot(out) == mine and hidden(out.parent) == []
        (out / "notes.txt").unlink(missing_ok=True)
        (out / "trade.csv").write_bytes(original)
    assert edited_files(out) == []


def test_forced_removes_only_cges_stale_files(solved, previous):
    out, _ = previous
    (out / "notes.txt").write_text("mine")
    (out / "welfare_by_region.png").write_bytes(b"an old picture cge wrote")
    info = json.loads((out / "run_info.json").read_text())
    info["files"].append("welfare_by_region.png")
    (out / "run_info.json").write_text(json.dumps(info))
    write_results_folder(solved, out, force=True, **FAST)  # no plots this time
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "welfare_by_region.png").exists()


def test_output_onto_a_file_is_refused(tmp_path):
    report = tmp_path / "report.docx"
    report.write_text("a report")
    for force in (False, True):
        with pytest.raises(OutputError, match="report.docx: is a file, not a folder"):
            plan_output(report, force=force)
    assert report.read_text() == "a report"


def test_output_under_a_file_is_refused_before_solving(tmp_path):
    (tmp_path / "report.docx").write_text("a report")
    with pytest.raises(FileSystemError) as info:
        plan_output(tmp_path / "report.docx" / "sub")
    assert f"{tmp_path / 'report.docx'} is a file, not a folder" in str(info.value)
    assert exit_code(info.value) == EXIT_FILESYSTEM


def test_protected_folders_are_refused(tmp_path, monkeypatch):
    project = tmp_path / "project"
    data = project / "data"
    data.mkdir(parents=True)
    scenario = project / "runs" / "s.yaml"
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO)
    (data / "book.xlsx").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(project)
    sources = [scenario, data / "book.xlsx"]
    cases = {project: "is the current folder", tmp_path: "a folder that contains the current folder",
             data: "the folder of book.xlsx", scenario.parent: "the folder of s.yaml",
             Path.home(): "your home folder"}
    for target, why in cases.items():
        with pytest.raises(OutputError) as info:
            plan_output(target, sources=sources, force=True)
        assert why in str(info.value), (target, str(info.value))
    plan_output(project / "results" / "s", sources=sources).release()  # a fresh folder is fine


def test_path_too_long_and_readonly_folder_named(tmp_path):
    with pytest.raises(FileSystemError, match="the name is too long"):
        fsio.atomic_write(tmp_path / ("x" * 300), "text")
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        pytest.skip("root writes into any folder: the patched writer covers permissions")
    ro.chmod(0o555)
    try:
        with pytest.raises(FileSystemError, match="permission denied"):
            plan_output(ro / "out")
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------- the command line
def _scenario(tmp_path, name="small"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.replace("name: small", f"name: {name!r}"))
    return path


@pytest.mark.parametrize("name,words", [
    ('""', "the name is empty"), ('".."', "may not start with a dot"),
    ('"../../escaped"', "holds '/'"), ('"a\\\\b"', "holds '\\\\'"), ('"."', "may not start"),
    ('" x"', "with or end in spaces"), ("x" * 101, "at most 100"),
])
def test_run_refuses_bad_names_before_solving(tmp_path, name, words):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("name: small", f"name: {name}"))
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == EXIT_INPUT, result.output
    assert "s.yaml:1: name:" in result.output and words in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_run_refuses_a_foreign_folder_before_solving(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["run", str(_scenario(tmp_path)), "-o", str(out)])
    assert result.exit_code == EXIT_INPUT
    assert "was not made by cge" in " ".join(result.output.split())
    assert "benchmark" not in result.output, "refused before anything is solved"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_run_refuses_the_scenarios_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path)
    for target in (".", str(tmp_path)):
        result = CliRunner().invoke(app, ["run", str(path), "-o", target, "--force"])
        assert result.exit_code == EXIT_INPUT
        assert "is the current folder" in " ".join(result.output.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]


def test_calibrate_output_onto_a_folder_or_under_a_file(tmp_path):
    book = str(ROOT / "sam_data" / "template_multiregion.xlsx")
    result = CliRunner().invoke(app, ["calibrate", book, "--no-solve", "-o", str(tmp_path)])
    assert result.exit_code == EXIT_INPUT and "is a folder; give the name of a file" in result.output
    (tmp_path / "f").write_text("x")
    result = CliRunner().invoke(app, ["calibrate", book, "--no-solve", "-o",
                                      str(tmp_path / "f" / "p.yaml")])
    assert result.exit_code == EXIT_FILESYSTEM
    assert "is a file, not a folder" in " ".join(result.output.split())
    assert "calibrated" not in result.output, "refused before calibrating"


def test_run_with_a_disk_that_fills_up_after_the_solve(tmp_path):
    out = tmp_path / "out"

    def hook(where, path):
        if where == "file" and out in path.parents or path.parent.name.startswith(".out."):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with fsio.fault_hook(hook):
        result = CliRunner().invoke(app, ["run", str(_scenario(tmp_path)), "-o", str(out),
                                          "--no-plots", "--no-excel"])
    text = " ".join(result.output.split())
    assert result.exit_code == EXIT_FILESYSTEM, result.output
    assert f"cannot write {out}" in text and "no space left on the device" in text
    kept = text.split("The solved results were saved in ")[1].split(" instead")[0]
    assert (Path(kept) / "summary.csv").is_file() and is_cge_folder(kept)
    assert not out.exists() and hidden(tmp_path) == []
    assert "Traceback" not in result.output


def test_exit_codes_are_documented():
    table = (ROOT / "docs" / "errors.md").read_text()
    for code, meaning in ((0, "success"), (EXIT_INPUT, "bad input"), (EXIT_SOLVE, "no equilibrium"),
                          (3, "expectation"), (EXIT_FILESYSTEM, "file system"),
                          (EXIT_INTERRUPTED, "Ctrl-C"), (EXIT_TERMINATED, "SIGTERM")):
        row = next((line for line in table.splitlines() if line.startswith(f"| {code} ")), "")
        assert meaning in row, (code, meaning)
    assert exit_code(InputError("x")) == 1 and exit_code(OutputError("x")) == 1
    assert exit_code(FileSystemError("p", "q")) == 4 and exit_code(KeyboardInterrupt()) == 130


# ---------------------------------------------------------------- compare on damaged folders
DAMAGE = {
    "empty summary": (lambda f: (f / "summary.csv").write_text(""), "summary.csv is empty"),
    "garbage summary": (lambda f: (f / "summary.csv").write_bytes(os.urandom(300) + b"\x00"),
                        "binary data"),
    "incomplete summary": (lambda f: (f / "summary.csv").write_text("model,region\nx,North\n"),
                           "summary.csv lacks the columns ['welfare_log_points', 'ev']"),
    "header only": (lambda f: (f / "summary.csv").write_text(
        "model,region,welfare_change_pct,ev\n"), "summary.csv has no rows"),
    "text in numbers": (lambda f: (f / "summary.csv").write_text(
        "model,region,welfare_change_pct,ev\nas_specified,North,lots,1\n"),
        "column 'welfare_change_pct' is not numeric"),
    "text in log points": (lambda f: (f / "summary.csv").write_text(
        "model,region,welfare_log_points,welfare_change_pct,ev\nas_specified,North,lots,1,1\n"),
        "column 'welfare_log_points' is not numeric"),
    "ragged summary": (lambda f: (f / "summary.csv").write_text(
        'model,region,welfare_change_pct,ev\n"as_specified,North,1,2\n'), "cannot be read"),
    "broken run_info": (lambda f: (f / "run_info.json").write_text('{"scenario": '),
                        "run_info.json is not valid JSON"),
    "run_info a list": (lambda f: (f / "run_info.json").write_text("[1, 2]"),
                        "run_info.json is not a JSON object"),
    "no summary": (lambda f: (f / "summary.csv").unlink(), "not a results folder (no summary.csv)"),
    "latin-1 summary": (lambda f: (f / "summary.csv").write_bytes(
        "model,region,welfare_change_pct,ev\nas,Zürich,1,2\n".encode("latin-1")), "Latin-1"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_compare_names_the_damaged_folder_and_why(previous, tmp_path, damage):
    good, _ = previous
    bad = tmp_path / "damaged"
    import shutil

    shutil.copytree(good, bad)
    spoil, words = DAMAGE[damage]
    spoil(bad)
    with pytest.raises(InputError) as info:
        check_results_folder(bad)
    assert str(bad) in str(info.value) and words in str(info.value)
    result = CliRunner().invoke(app, ["compare", str(good), str(bad)])
    assert result.exit_code == EXIT_INPUT, result.output
    out = " ".join(result.output.split())
    assert "damaged" in out or "not a results folder" in out
    assert "Traceback" not in result.output


def test_compare_on_missing_and_file_targets(previous, tmp_path):
    good, _ = previous
    (tmp_path / "file.csv").write_text("x")
    for target, words in ((tmp_path / "nowhere", "no such results folder"),
                          (tmp_path / "file.csv", "is a file, not a results folder")):
        result = CliRunner().invoke(app, ["compare", str(good), str(target)])
        assert result.exit_code == EXIT_INPUT and words in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["compare", str(good), "-o", str(tmp_path)])
    assert result.exit_code == EXIT_INPUT and "is a folder" in result.output


# ---------------------------------------------------------------- SIGTERM on the command line
@pytest.mark.slow
def test_sigterm_during_cge_run_leaves_previous_results_and_no_debris(previous, tmp_path):
    out, before = previous
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    flag = tmp_path / "writing"
    env = {**os.environ, "PYTHONPATH": str(ROOT), fsio.PAUSE_ENV: str(flag)}
    proc = subprocess.Popen([sys.executable, "-m", "cge", "run", str(scenario), "-o", str(out),
                             "--no-plots", "--no-excel"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    import time

    deadline = time.monotonic() + 120
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert flag.exists(), proc.communicate()[0]
    assert any(p.name.endswith(".tmp") for p in out.parent.iterdir()), "caught mid-writing"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == EXIT_TERMINATED, output
    assert "interrupted (terminated by signal 15 (SIGTERM))" in " ".join(output.split())
    assert "Traceback" not in output
    assert snapshot(out) == before
    assert hidden(out.parent) == []


def test_an_unreadable_scenario_is_a_file_system_error(tmp_path, monkeypatch):
    path = _scenario(tmp_path)
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    for command in (["check", str(path)], ["run", str(path)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == EXIT_FILESYSTEM, result.output
        assert f"cannot read {path}: permission denied" in " ".join(result.output.split())
