"""Files and folders that commands other than ``cge run`` write: never lose a user's file.

The rule is that of a results folder (:mod:`cge.outputs`, ``docs/errors.md``):

* a **file** named on the command line (``cge calibrate -o FILE``, ``cge compare
  -o/--html FILE``, ``cge gravity -w/-s FILE``, ``cge national -o FILE``) that
  exists is not replaced unless the user gives ``--force``
  (:func:`check_new_file`); the refusal comes before any work and names the file
  and the flag;
* a **folder** that receives several files (``cge gravity -o FOLDER``, ``cge compare
  --outdir FOLDER``, ``cge national -o FOLDER``) may be new, empty, or one cge made
  (its :data:`MANIFEST` lists the files cge wrote there); cge's files in it are
  replaced, anything else is left alone. Any other folder is refused unless
  ``--force``, and even then cge adds its files without replacing a file of the
  same name it did not write (:func:`check_file_folder`, :func:`file_folder`);
* a file cge wrote that changed since (its sha256, which the manifest records,
  differs: edited, or saved again by a spreadsheet program) is the user's: it is
  refused by name, even with ``--force``;
* every file is written to a temporary name and renamed into place, and a folder's
  files are written into a temporary sibling folder first (:func:`cge.fsio.
  folder_transaction`): an error or Ctrl-C leaves the previous files as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import fsio
from .errors import OutputError

__all__ = ["MANIFEST", "FORCE", "check_new_file", "check_file_folder", "file_folder",
           "owned_files"]

#: The file listing what cge wrote into a folder (its presence makes the folder cge's).
MANIFEST = "cge_files.json"
#: The command-line flag that allows replacing a user's file.
FORCE = "--force"
_LISTED = 8


def _listing(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def check_new_file(path: str | Path, *, force: bool = False, option: str = "") -> Path:
    """Check a file a command will write, before the work: not a folder, writable
    (:func:`cge.outputs.check_output_file`) and, unless ``force``, not an existing file.
    ``option`` names the command-line option that gave the path (for the message)."""
    from .outputs import check_output_file

    path = check_output_file(path)
    if (path.exists() or path.is_symlink()) and not force:
        given = f" ({option})" if option else ""
        raise OutputError(f"{path}{given}: the file exists; cge does not replace a file "
                          f"unless asked: give {FORCE} to replace it, or choose a new name")
    return path


def owned_files(folder: str | Path) -> set[str] | None:
    """The files cge wrote into ``folder`` (its :data:`MANIFEST`), or ``None`` if cge
    did not make the folder (no readable manifest)."""
    info = fsio.read_json_or_none(Path(folder) / MANIFEST)
    files = info.get("files") if isinstance(info, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return {f for f in files if f and "/" not in f and "\\" not in f and f not in (".", "..")}


def _edited(folder: Path) -> list[str]:
    """cge's files in ``folder`` that changed after cge wrote them (their sha256 differs
    from the manifest's): the user's work now."""
    info = fsio.read_json_or_none(folder / MANIFEST)
    return fsio.changed_files(folder, info.get("sha256") if isinstance(info, dict) else None)


def _refuse_edited(folder: Path, given: str = "") -> None:
    edited = _edited(folder)
    if edited:
        raise OutputError(
            f"{folder}{given}: {_listing(edited)} changed after cge wrote "
            f"{'it' if len(edited) == 1 else 'them'} (the content differs from the checksum in "
            f"{MANIFEST}: edited, or saved again by another program); cge would replace "
            f"{'it' if len(edited) == 1 else 'them'} and lose those changes, and even {FORCE} "
            "does not. Move or rename the changed files, or choose a new folder")


def _entries(folder: Path) -> set[str]:
    try:
        return {e.name for e in folder.iterdir() if not e.name.startswith(".")}
    except OSError as exc:
        raise fsio.filesystem_error(exc, folder, "read the folder") from None


def check_file_folder(folder: str | Path, *, force: bool = False, option: str = "",
                      names: Iterable[str] = ()) -> Path:
    """Check, before the work, a folder that will receive cge's files: new, empty or made
    by cge; any other folder only with ``force``. ``names`` (if known) are the files to
    be written: with ``force``, those that exist in a folder cge did not make are refused
    too (cge never replaces a file it did not write)."""
    from .outputs import protected_folders

    folder = Path(folder).absolute()
    given = f" ({option})" if option else ""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}{given}: is a file, not a folder; cge writes several "
                          "files into a folder (the file is left alone): give a folder name")
    why = protected_folders([]).get(folder.resolve())
    if why is not None and why.startswith("a folder that contains"):
        raise OutputError(f"{folder}{given}: is {why}; give a folder of its own, e.g. "
                          f"{folder / 'output'}")
    if folder.is_dir():
        entries = _entries(folder)
        owned = owned_files(folder)
        if owned is not None:
            _refuse_edited(folder, given)
        if entries and owned is None:
            if not force:
                raise OutputError(
                    f"{folder}{given}: the folder exists and was not made by cge (it has no "
                    f"{MANIFEST}); cge would write its files among yours ({_listing(entries)}). "
                    f"Choose a new folder, or give {FORCE} to add cge's files to it (no file "
                    "cge did not write is replaced)")
            clash = set(names) & entries
            if clash:
                raise OutputError(
                    f"{folder}{given}: the folder was not made by cge and holds files of the "
                    f"names cge writes: {_listing(clash)}; even with {FORCE} cge does not "
                    "replace files it did not write: choose a new folder")
    fsio.check_writable(folder, what="write")
    return folder


@contextmanager
def file_folder(folder: str | Path, *, force: bool = False, command: str = "",
                option: str = "") -> Iterator[Path]:
    """Write cge's files into ``folder`` under the rule of this module: yields a new
    temporary folder; when the block ends without an error, its files move into
    ``folder`` (replacing only files cge wrote there before) and the folder's
    :data:`MANIFEST` lists them. On any error ``folder`` is left as it was."""
    folder = check_file_folder(folder, force=force, option=option)
    before = owned_files(folder) if folder.is_dir() else set()
    with fsio.folder_transaction(folder, merge=True) as tmp:
        yield tmp
        written = {e.name for e in tmp.iterdir()}
        recorded = {}
        if folder.is_dir():
            foreign = (_entries(folder) - (before or set())) & written
            if foreign:
                raise OutputError(
                    f"{folder}: holds files cge did not write of the names it writes: "
                    f"{_listing(foreign)}; even with {FORCE} cge does not replace them: "
                    "choose a new folder")
            _refuse_edited(folder)  # again: the work may have taken a while
            info = fsio.read_json_or_none(folder / MANIFEST)
            if isinstance(info, dict) and isinstance(info.get("sha256"), dict):
                recorded = {k: v for k, v in info["sha256"].items() if k in (before or set())}
        from . import __version__

        recorded.update(fsio.file_checksums(tmp, written))
        manifest = {"command": command, "files": sorted((before or set()) | written),
                    "sha256": dict(sorted(recorded.items())),
                    "versions": {"cge": __version__}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
