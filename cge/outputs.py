"""Results folders: which folders cge may replace, and writing them without losing work.

The rules (``docs/errors.md``):

* a results folder is replaced only if cge made it (its ``run_info.json`` is that
  of a cge run) and it holds nothing but the files cge wrote; any other folder
  is refused *before* anything is solved, unless the user forces it (``--force``),
  and even then only cge's own files in it are replaced or removed;
* never a file (``-o report.docx``), the current folder or one that contains it,
  the folder of the scenario or of its data, or one that contains them;
* the whole folder is written in a temporary sibling and moved into place in one
  rename (:func:`cge.fsio.folder_transaction`); a lock keeps two runs from writing
  it at once; SIGTERM unwinds like Ctrl-C (:func:`terminate_as_interrupt`);
* if writing fails after the solve (disk full, read-only), the results are saved
  in a temporary folder that the error names (:func:`write_results_folder`).
"""

from __future__ import annotations

import json
import signal
import tempfile
import threading
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import fsio
from .errors import CGEError, FileSystemError, InputError, OutputError, Terminated

__all__ = ["OutputPlan", "plan_output", "plan_runs", "default_target", "check_output_file", "is_cge_folder", "owned_names", "write_results_folder",
           "terminate_as_interrupt", "check_results_folder", "protected_folders", "edited_files",
           "check_unchanged"]

RUN_INFO = "run_info.json"
_TABLES = ("summary", "welfare", "welfare_sectors", "trade", "firms", "prices_factors",
           "identities", "expectations")
_PLOTS = ("welfare_by_region.png", "cutoffs_productivity.png", "trade_heatmap.png")
#: What a results folder of this version holds (``run_info.json`` lists the files of
#: each run; this set recognises folders written before it did).
DEFAULT_OWNED = frozenset([f"{t}.csv" for t in _TABLES] + [f"{t}.parquet" for t in _TABLES]
                          + ["results.xlsx", "scenario.yaml", RUN_INFO, *_PLOTS])
_LISTED = 8


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


# ======================================================================
# Recognising cge's folders
# ======================================================================
def _run_info(folder: Path) -> dict | None:
    info = fsio.read_json_or_none(folder / RUN_INFO)
    if not isinstance(info, dict) or "scenario" not in info:
        return None
    versions = info.get("versions")
    if not isinstance(versions, dict) or "cge" not in versions:
        return None
    return info


def is_cge_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is a results folder written by cge (its run_info.json says so)."""
    return _run_info(Path(folder)) is not None


def owned_names(folder: str | Path) -> set[str]:
    """The files of ``folder`` that cge wrote: those its run_info.json lists (or, for
    folders from before that list, the names a results folder has)."""
    info = _run_info(Path(folder)) or {}
    files = info.get("files")
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return {f for f in files if f and "/" not in f and f not in (".", "..")}
    return set(DEFAULT_OWNED)


# ======================================================================
# Planning the output before solving
# ======================================================================
def protected_folders(sources: Sequence[str | Path] = ()) -> dict[Path, str]:
    """Folders that are never a results folder, each with the reason: the current
    folder and those above it, the home folder, the folders of ``sources`` (the
    scenario and data files) and those above them."""
    out: dict[Path, str] = {}
    cwd = Path.cwd().resolve()
    out[cwd] = "the current folder"
    for p in cwd.parents:
        out.setdefault(p, f"a folder that contains the current folder {cwd}")
    try:
        out.setdefault(Path.home().resolve(), "your home folder")
    except RuntimeError:
        pass
    for src in sources:
        if src is None:
            continue
        src = Path(src).resolve()
        folder = src if src.is_dir() else src.parent
        out.setdefault(folder, f"the folder of {src.name}" if folder != src
                       else f"the data folder {src}")
        for p in folder.parents:
            out.setdefault(p, f"a folder that contains {src}")
    return out


@dataclass
class OutputPlan:
    """Where a run writes and how, decided (and locked) before it is solved.

    ``mode`` is ``"create"`` (a new folder), ``"replace"`` (a cge folder, replaced
    whole) or ``"merge"`` (``--force`` on a folder with other files: cge's files
    are replaced or removed, the others kept, listed in ``kept``).
    """

    target: Path
    mode: str
    remove: set[str] = field(default_factory=set)
    kept: list[str] = field(default_factory=list)
    lock: fsio.FolderLock | None = None
    #: what the plan was made with (the folder is checked again before it is written)
    sources: tuple[Path, ...] = ()
    force: bool = False

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "OutputPlan":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _estimate_bytes(target: Path) -> int:
    """Space a new results folder needs: the size of the one it replaces, at least 1 MB."""
    size = 0
    if target.is_dir():
        for entry in target.iterdir():
            try:
                size += entry.stat().st_size if entry.is_file() else 0
            except OSError:
                pass
    return max(size, fsio.MIN_FREE_BYTES)


def plan_output(target: str | Path, *, sources: Sequence[str | Path] = (), force: bool = False,
                lock: bool = True) -> OutputPlan:
    """Check a results folder before solving and lock it; raise :class:`OutputError`
    (a target cge refuses) or :class:`FileSystemError` (it cannot be written).

    ``sources`` are the scenario and data files (their folders are protected);
    ``force`` lets a folder cge did not make (or that holds other files) receive
    cge's files, replacing or removing nothing else.
    """
    target = Path(target).absolute()
    if target.is_symlink() and not target.is_dir():
        raise OutputError(f"{target}: is a link to a file, not a folder; give a folder name")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: is a file, not a folder; cge writes a results folder "
                          "(the file is left alone): give a folder name")
    real = target.resolve()
    why = protected_folders(sources).get(real)
    if why is not None:
        raise OutputError(f"{target}: is {why}; cge will not write its results there (they "
                          "would mix with, or replace, your files): give a new folder, e.g. "
                          f"{target / 'results'}")
    mode, remove, kept = "create", set(), []
    if target.is_dir():
        try:
            entries = {e.name for e in target.iterdir()}
        except OSError as exc:
            raise fsio.filesystem_error(exc, target, "read the folder") from None
        if entries:
            owned = owned_names(target) if is_cge_folder(target) else set()
            check_unchanged(target)
            foreign = entries - owned
            if not owned:
                clash = entries & DEFAULT_OWNED
                if not force:
                    raise OutputError(
                        f"{target}: the folder exists and was not made by cge (it has no "
                        f"run_info.json of a cge run); its files would be lost: "
                        f"{_listing(entries)}. Choose a new folder, or give --force to add "
                        "cge's files to it (nothing else is removed)")
                if clash:
                    raise OutputError(
                        f"{target}: the folder was not made by cge and holds files of the "
                        f"names cge writes: {_listing(clash)}; even with --force cge does not "
                        "overwrite files it did not write: choose a new folder")
                mode, kept = "merge", sorted(entries)
            elif foreign:
                if not force:
                    raise OutputError(
                        f"{target}: the results folder holds files cge did not write: "
                        f"{_listing(foreign)}; replacing the folder would delete them. Move "
                        "them out, choose a new folder, or give --force to replace only cge's "
                        "files (yours are kept)")
                mode, remove, kept = "merge", owned, sorted(foreign)
            else:
                mode = "replace"
        else:
            mode = "replace"
    fsio.check_writable(target, need_bytes=_estimate_bytes(target))
    plan = OutputPlan(target, mode, remove, kept, sources=tuple(Path(p) for p in sources),
                      force=force)
    if lock:
        plan.lock = fsio.FolderLock(target).acquire()
    return plan


def default_target(prepared, outdir: str | Path | None, several: bool) -> Path:
    """The results folder of a prepared scenario: ``-o`` itself, ``-o/<name>`` with
    several scenarios, or ``results/<name>`` next to the scenario file."""
    name = prepared.scenario.name
    if outdir:
        return Path(outdir) / name if several else Path(outdir)
    base = prepared.loaded.path.parent if prepared.loaded.path else Path.cwd()
    return base / "results" / name


def plan_runs(prepared_all, outdir: str | Path | None, *, force: bool = False
              ) -> list[OutputPlan]:
    """:func:`plan_output` for every scenario of a ``cge run`` (all locked, or none)."""
    several = len(prepared_all) > 1
    if several and outdir:
        root = Path(outdir).absolute()
        if root.exists() and not root.is_dir():
            raise OutputError(f"{root}: is a file, not a folder; with several scenarios -o "
                              "names the folder that receives one folder per scenario")
        why = protected_folders([]).get(root.resolve())
        if why is None and root.is_dir() and is_cge_folder(root):
            raise OutputError(f"{root}: is the results folder of one run; with several "
                              "scenarios -o names a folder to hold one results folder each")
    plans: list[OutputPlan] = []
    try:
        for prep in prepared_all:
            sources = [p for p in (prep.loaded.path, prep.data.path) if p is not None]
            plans.append(plan_output(default_target(prep, outdir, several), sources=sources,
                                     force=force))
    except BaseException:
        for plan in plans:
            plan.release()
        raise
    return plans


def check_output_file(path: str | Path) -> Path:
    """Check a file that a command will write (``cge calibrate -o``, ``cge compare -o``)
    before the work: not a folder, no file on the way, writable. Nothing is created."""
    named_folder = str(path).endswith(("/", "\\"))
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give the name of a file to write (e.g. "
                          f"{path / 'output.yaml'})")
    if named_folder:
        raise OutputError(f"{path}: names a folder; give the name of a file to write")
    fsio.check_writable(path, what="write")
    return path


def edited_files(folder: str | Path) -> list[str]:
    """Files of the results folder ``folder`` that changed after cge wrote them (their
    sha256 differs from the one its run_info.json recorded), e.g. a results.xlsx
    edited and saved in a spreadsheet program."""
    info = _run_info(Path(folder)) or {}
    return fsio.changed_files(folder, info.get("files_sha256"))


def check_unchanged(folder: str | Path) -> None:
    """Refuse to write into a results folder whose files changed after cge wrote them:
    they are the user's work now, and replacing the folder would lose it; not even
    ``--force`` replaces them."""
    edited = edited_files(folder)
    if edited:
        raise OutputError(
            f"{Path(folder)}: {_listing(edited)} changed after cge wrote "
            f"{'it' if len(edited) == 1 else 'them'} (the content differs from the checksum "
            f"in {RUN_INFO}: edited, or saved again by another program); writing the results "
            "here would lose those changes, and even --force does not replace them. Move or "
            "rename the changed files, or choose a new folder")


# ======================================================================
# Writing
# ======================================================================
#: Where solved results go when their folder cannot be written (tried in order).
def _fallback_roots() -> list[Path]:
    roots = [Path(tempfile.gettempdir())]
    if Path("/dev/shm").is_dir():
        roots.append(Path("/dev/shm"))
    return roots


def _keep_elsewhere(result, write_into, **options) -> Path | None:
    """Write the results into a new temporary folder; ``None`` if that fails too."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(result.name))[:60]
    for root in _fallback_roots():
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"cge-{name}-", dir=root))
        except OSError:
            continue
        try:
            write_into(result, folder, **options)
            return folder
        except (CGEError, OSError):
            fsio._rmtree_quietly(folder)
    return None


def write_results_folder(result, target: str | Path | OutputPlan, *, force: bool = False,
                         **options) -> Path:
    """Write the results folder of ``result`` under the rules of this module.

    ``target`` is a folder, or the :class:`OutputPlan` made (and locked) before the
    solve. ``options`` go to :func:`cge.report.write_results_into` (``excel``,
    ``plots``, ``parquet``). If writing fails, :class:`FileSystemError` says why and
    where the results were saved instead; the previous folder is left as it was.
    """
    from .report import write_results_into

    if isinstance(target, OutputPlan):
        plan, own = target, False
    else:
        plan, own = plan_output(target, sources=_sources(result), force=force), True
    try:
        now = plan if own else _checked_again(plan)
        with fsio.folder_transaction(now.target, merge=now.mode == "merge",
                                     remove=now.remove) as tmp:
            write_results_into(result, tmp, **options)
    except FileSystemError as exc:
        kept = _keep_elsewhere(result, write_results_into, **options)
        if kept is not None:
            exc.keep(kept)
        raise exc from None
    finally:
        if own:
            plan.release()
    return plan.target


def _checked_again(plan: OutputPlan) -> OutputPlan:
    """The plan made before the solve, checked again just before writing: files added to
    the folder, or cge's files edited, while the run was solving are the user's and
    must not be lost (they would be, were the folder replaced whole). A folder that
    cge may no longer write becomes a :class:`FileSystemError`, so that the solved
    results are saved elsewhere."""
    try:
        return plan_output(plan.target, sources=plan.sources, force=plan.force, lock=False)
    except OutputError as exc:
        why = str(exc).removeprefix(f"{plan.target}: ")
        raise FileSystemError(plan.target, f"the folder changed while the run was solving: "
                              f"{why}", action="write the results folder") from None


def _sources(result) -> list[Path]:
    prep = getattr(result, "prepared", None)
    out = []
    if prep is not None:
        if getattr(prep.loaded, "path", None):
            out.append(Path(prep.loaded.path))
        if getattr(prep.data, "path", None):
            out.append(Path(prep.data.path))
    return out


# ======================================================================
# Signals
# ======================================================================
@contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM raises :class:`~cge.errors.Terminated` (a
    KeyboardInterrupt) in the main thread, so a run stopped by ``timeout``, SLURM or
    ``docker stop`` unwinds like Ctrl-C: no temporary files are left and the
    previous results stay intact."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(f"terminated by signal {signum} (SIGTERM)")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# ======================================================================
# Reading results folders back
# ======================================================================
#: The welfare column of summary.csv: log points (folders written before it: the % change).
_SUMMARY_WELFARE = ("welfare_log_points", "welfare_change_pct")


def check_results_folder(folder: str | Path) -> dict:
    """Check that ``folder`` is a complete, readable results folder; raise
    :class:`InputError` naming the folder and what is damaged. Returns its run_info."""
    import pandas as pd

    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: no such results folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a results folder")
    summary = folder / "summary.csv"
    if not summary.is_file():
        raise InputError(f"{folder}: not a results folder (no summary.csv); make one with "
                         "`cge run scenario.yaml -o FOLDER`")
    data = fsio.read_bytes(summary, "summary table")
    if not data.strip():
        raise InputError(f"{folder}: damaged results folder: summary.csv is empty")
    try:
        fsio.decode_text(data, summary, "summary table")
    except InputError as exc:
        raise InputError(f"{folder}: damaged results folder: {exc.problems[0]}") from None
    try:
        frame = pd.read_csv(summary)
    except Exception as exc:  # noqa: BLE001 - any parser failure is damage
        raise InputError(f"{folder}: damaged results folder: summary.csv cannot be read as a "
                         f"table ({type(exc).__name__}: {str(exc).strip()[:200]})") from None
    welfare = [c for c in _SUMMARY_WELFARE if c in frame.columns]
    missing = [c for c in ("model", "region", welfare[0] if welfare else _SUMMARY_WELFARE[0],
                           "ev") if c not in frame.columns]
    if missing:
        raise InputError(f"{folder}: damaged results folder: summary.csv lacks the columns "
                         f"{missing} (it has {list(frame.columns)[:8]})")
    if frame.empty:
        raise InputError(f"{folder}: damaged results folder: summary.csv has no rows")
    for col in (*welfare, "ev"):
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise InputError(f"{folder}: damaged results folder: summary.csv column {col!r} "
                             "is not numeric")
    info_path = folder / RUN_INFO
    if not info_path.is_file():
        return {}
    try:
        info = json.loads(fsio.decode_text(fsio.read_bytes(info_path), info_path))
    except InputError as exc:
        raise InputError(f"{folder}: damaged results folder: {exc.problems[0]}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{folder}: damaged results folder: run_info.json is not valid JSON "
                         f"({exc})") from None
    if not isinstance(info, dict):
        raise InputError(f"{folder}: damaged results folder: run_info.json is not a JSON "
                         f"object (it is a {type(info).__name__})")
    return info

