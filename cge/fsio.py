"""Reading and writing files: the one home of :mod:`cge`'s file-system code.

This module sits at the bottom of the import graph (it imports nothing from
``cge`` but :mod:`cge.errors`), so that :mod:`calibration`, :mod:`cge.scenario`
and :mod:`cge.report` can all use it without importing each other.

Writing
    :func:`atomic_write` writes a file under a temporary name and renames it
    into place; :func:`folder_transaction` assembles a whole folder in a
    temporary sibling and moves it into place in one rename (an atomic
    exchange where the kernel offers one), so that an interrupted run leaves
    the previous folder as it was. :class:`FolderLock` keeps two processes from
    writing the same folder at once; :func:`clean_stale` removes the temporary
    folders of processes that were killed (SIGKILL) while writing. Files and
    folders get the permissions of the user's umask, like any other program's.
Reading
    :func:`read_text` reads UTF-8 and otherwise says which encoding (or which
    kind of binary file) was found and how to convert it; :func:`check_workbook_file`
    refuses files whose content is not what their extension says;
    :func:`load_yaml` and :func:`compose_yaml` limit aliases and nesting depth.
Checksums
    :func:`sha256_bytes`, :func:`sha256_file`, :func:`sha256_canonical`.
Errors
    every :class:`OSError` becomes a :class:`~cge.errors.FileSystemError` naming
    the path and the problem (:func:`filesystem_error`).
"""

from __future__ import annotations

import codecs
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import FileSystemError, InputError

__all__ = [
    "atomic_write", "atomic_directory", "folder_transaction", "FolderLock", "clean_stale",
    "stale_folders", "ensure_folder", "check_writable", "filesystem_error", "user_umask",
    "read_bytes", "read_text", "decode_text", "content_kind", "check_workbook_file",
    "load_yaml", "compose_yaml", "load_json", "sha256_bytes", "sha256_file", "sha256_canonical",
    "file_checksums", "changed_files",
    "json_default", "signals_deferred", "fault_hook",
]

# ======================================================================
# Errors
# ======================================================================
_PROBLEMS = {
    errno.ENOSPC: "no space left on the device (the disk is full)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied (you may not write or read here)",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "it already exists",
    errno.ENAMETOOLONG: "the name is too long for the file system",
    errno.EMFILE: "too many open files",
    errno.ENOTEMPTY: "the folder is not empty",
    errno.EBUSY: "the file or folder is busy",
    errno.EXDEV: "it is on another device",
}


def _file_ancestor(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is not a folder, if any."""
    for parent in reversed(Path(path).absolute().parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def filesystem_error(exc: OSError, path: str | Path, action: str = "write") -> FileSystemError:
    """A :class:`FileSystemError` for ``exc``, naming ``path`` and the problem in words."""
    path = Path(getattr(exc, "filename", None) or path)
    code = exc.errno
    if code == errno.ENOTDIR or (code == errno.ENOENT and _file_ancestor(path) is not None):
        blocker = _file_ancestor(path)
        problem = (f"{blocker} is a file, not a folder" if blocker is not None
                   else "a part of the path is a file, not a folder")
    else:
        problem = _PROBLEMS.get(code) or (exc.strerror or str(exc))
    return FileSystemError(path, problem, action=action, errno=code)


# ======================================================================
# Test hooks (fault injection)
# ======================================================================
#: Called as ``hook(point, path)`` at each point of writing: ``"file"`` (a file is
#: written under its temporary name, not yet renamed), ``"commit"`` (a folder is
#: complete, not yet moved into place). Tests raise from it to simulate a kill or a
#: full disk at that point. ``None`` in normal use.
_FAULT_HOOK: Callable[[str, Path], None] | None = None
#: Tests of signals set this environment variable to a file name: the first
#: writing point then creates that file and waits (up to a minute) for a signal.
PAUSE_ENV = "CGE_TEST_WRITE_PAUSE"


@contextmanager
def fault_hook(hook: Callable[[str, Path], None]):
    """Install ``hook`` (see :data:`_FAULT_HOOK`) for the duration of a ``with`` block."""
    global _FAULT_HOOK
    old, _FAULT_HOOK = _FAULT_HOOK, hook
    try:
        yield hook
    finally:
        _FAULT_HOOK = old


def _point(name: str, path: Path) -> None:
    if _FAULT_HOOK is not None:
        _FAULT_HOOK(name, path)
    flag = os.environ.get(PAUSE_ENV)
    if flag and not os.path.exists(flag):
        Path(flag).write_text(f"{os.getpid()} {name} {path}\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.02)


# ======================================================================
# Permissions
# ======================================================================
def user_umask() -> int:
    """The process's umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def _file_mode() -> int:
    return 0o666 & ~user_umask()


def _folder_mode() -> int:
    return 0o777 & ~user_umask()


# ======================================================================
# Signals
# ======================================================================
@contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back while a few renames must all happen (or none).

    A signal that arrives meanwhile is delivered when the block ends. Outside the
    main thread (where Python handles no signals) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# ======================================================================
# Folders
# ======================================================================
def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; errors name the path and problem."""
    folder = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise FileSystemError(folder, "it is a file, not a folder", action="create the folder")
        folder.mkdir(parents=True, exist_ok=True, mode=0o777)  # the umask applies
    except OSError as exc:
        raise filesystem_error(exc, folder, "create the folder") from None
    return folder


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


#: Free space below which writing is refused before a run starts.
MIN_FREE_BYTES = 1 << 20


def check_writable(target: str | Path, *, need_bytes: int = MIN_FREE_BYTES,
                   what: str = "write the results to") -> None:
    """Raise :class:`FileSystemError` if ``target`` (a file or folder to be created or
    replaced) cannot be written: a file where a folder is needed on the way, a
    read-only or full file system, or no permission. Nothing is created."""
    target = Path(target).absolute()
    blocker = _file_ancestor(target)
    if blocker is not None:
        raise FileSystemError(target, f"{blocker} is a file, not a folder", action=what)
    base = _existing_ancestor(target.parent)
    probe = base / f".cge-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise FileSystemError(target, filesystem_error(exc, base).problem + f" (in {base})",
                              action=what, errno=exc.errno) from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    try:
        st = os.statvfs(base)
    except OSError:
        return
    free = st.f_bavail * st.f_frsize
    if free < need_bytes:
        raise FileSystemError(target, f"only {free / 2**20:.1f} MB free in {base}, about "
                              f"{need_bytes / 2**20:.1f} MB are needed (the disk is nearly full)",
                              action=what, errno=errno.ENOSPC)


# ======================================================================
# Atomic files
# ======================================================================
def read_json_or_none(path: str | Path) -> Any:
    """The JSON document at ``path``, or ``None`` if it is missing, unreadable, not UTF-8
    or not JSON (for files cge wrote itself and only recognises, such as a results
    folder's ``run_info.json``: a damaged one means "not cge's")."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


def atomic_write(path: str | Path, write: Callable[[Path], None] | bytes | str) -> Path:
    """Write ``path`` atomically: to a temporary file in the same folder, then rename.

    ``write`` is the content (bytes, or text written as UTF-8) or a function writing
    to the path it is given. The file gets the permissions of the umask. Failures
    raise :class:`FileSystemError`; the previous file, if any, is left as it was.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise FileSystemError(path, "it is a folder; give a file name", action="write")
    except OSError as exc:  # e.g. a name too long for the file system
        raise filesystem_error(exc, path, "write") from None
    ensure_folder(path.parent)
    try:
        fd, name = _mkstemp(path.parent, f".{path.name}.", ".tmp")
    except OSError as exc:
        raise filesystem_error(exc, path, "write") from None
    os.close(fd)
    tmp = Path(name)
    try:
        if isinstance(write, bytes):
            tmp.write_bytes(write)
        elif isinstance(write, str):
            tmp.write_text(write, encoding="utf-8")
        else:
            write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        _point("file", path)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise filesystem_error(exc, path, "write") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def _mkstemp(folder: Path, prefix: str, suffix: str):
    import tempfile

    return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)


def _unlink_quietly(path: Path) -> None:
    with signals_deferred():
        try:
            path.unlink()
        except OSError:
            pass


def _rmtree_quietly(path: Path) -> None:
    with signals_deferred():
        shutil.rmtree(path, ignore_errors=True)


# ======================================================================
# Folder transactions
# ======================================================================
_TAG = "cge"


def _temp_name(final: Path, kind: str) -> str:
    return f".{final.name}.{_TAG}-{os.getpid()}-{secrets.token_hex(4)}.{kind}"


def _stale_pattern(final: Path) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(final.name)}\.{_TAG}-(\d+)-[0-9a-f]+\.(tmp|old)$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def stale_folders(final: str | Path) -> list[Path]:
    """Temporary siblings of ``final`` left by writers that are no longer running
    (killed with SIGKILL, or the machine went down): their names carry the pid."""
    final = Path(final).absolute()
    parent = final.parent
    if not parent.is_dir():
        return []
    pattern = _stale_pattern(final)
    out = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        m = pattern.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _pid_alive(int(m.group(1))):
            out.append(entry)
    return sorted(out)


def clean_stale(final: str | Path) -> list[Path]:
    """Remove the :func:`stale_folders` of ``final``; returns what was removed.

    If ``final`` itself is missing because a writer was killed between the two
    renames of a replacement (where no atomic exchange exists), the previous
    folder (``.old``) is first moved back into place.
    """
    final = Path(final).absolute()
    stale = stale_folders(final)
    for entry in stale:
        if entry.name.endswith(".old") and not final.exists():
            try:
                os.rename(entry, final)
                continue
            except OSError:
                pass
        _rmtree_quietly(entry)
    return [e for e in stale if not e.exists()]


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); ``False`` where not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def folder_transaction(final: str | Path, *, merge: bool = False,
                       remove: Iterable[str] = ()):
    """Yield a new temporary folder next to ``final``; when the block ends without an
    error, its contents become ``final``.

    ``merge=False`` (a folder this program owns): the temporary folder replaces
    ``final`` in one atomic exchange, or ``final`` is created by one rename.
    ``merge=True`` (a folder that also holds other files): each new file is
    renamed into ``final`` and the names in ``remove`` are deleted from it;
    nothing else in ``final`` is touched.

    On any error, KeyboardInterrupt included, the temporary folder is removed and
    ``final`` is as it was. A SIGKILL leaves the temporary folder behind; its name
    holds the pid, and :func:`clean_stale` (called here first) removes it once that
    process is gone. OS errors become :class:`FileSystemError`.
    """
    final = Path(final).absolute()
    if final.is_symlink() and final.is_dir():
        final = final.resolve()  # replace the folder the link points to, not the link
    if final.exists() and not final.is_dir():
        raise FileSystemError(final, "it is a file, not a folder", action="write the folder")
    ensure_folder(final.parent)
    clean_stale(final)
    tmp = final.parent / _temp_name(final, "tmp")
    try:
        os.mkdir(tmp, 0o777)
    except OSError as exc:
        raise filesystem_error(exc, final, "write the folder") from None
    try:
        yield tmp
        _point("commit", final)
        with signals_deferred():
            if merge and final.exists():
                for entry in sorted(tmp.iterdir()):
                    os.replace(entry, final / entry.name)
                for name in remove:
                    if not (tmp / name).exists():
                        _remove_entry(final / name)
                os.rmdir(tmp)
            elif final.exists():
                if not _exchange(tmp, final):
                    old = final.parent / _temp_name(final, "old")
                    os.rename(final, old)
                    os.rename(tmp, final)
                    tmp = old
                shutil.rmtree(tmp, ignore_errors=True)  # now the previous folder
            else:
                os.rename(tmp, final)
    except OSError as exc:
        _rmtree_quietly(tmp)
        raise _in_final(filesystem_error(exc, final, "write the folder"), tmp, final) from None
    except FileSystemError as exc:
        _rmtree_quietly(tmp)
        raise _in_final(exc, tmp, final) from None
    except BaseException:
        _rmtree_quietly(tmp)
        raise


def _in_final(exc: FileSystemError, tmp: Path, final: Path) -> FileSystemError:
    """Name the file as it would have been in ``final``, not in the temporary folder."""
    try:
        rel = Path(exc.path).absolute().relative_to(tmp)
    except ValueError:
        return exc
    exc.path = final / rel
    exc.args = (exc._message(),)
    return exc


def _remove_entry(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def atomic_directory(final: str | Path):
    """A :func:`folder_transaction` that replaces ``final`` whole (kept for callers of
    the former ``cge.report.atomic_directory``)."""
    with folder_transaction(final) as tmp:
        yield tmp


class FolderLock:
    """An exclusive lock on writing ``final``: a hidden lock file next to it, held
    with ``flock`` (so the kernel releases it if the process dies, even by SIGKILL).

    ``acquire`` fails at once with :class:`FileSystemError` naming the process that
    holds it; the lock file is removed on release.
    """

    def __init__(self, final: str | Path):
        self.final = Path(final).absolute()
        self.path = self.final.parent / f".{self.final.name}.{_TAG}-lock"
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        import fcntl

        ensure_folder(self.final.parent)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise filesystem_error(exc, self.final, "lock the folder") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                finally:
                    os.close(fd)
                raise FileSystemError(self.final, f"another cge run (process {holder}) is "
                                      "writing it; wait for that run to finish or choose "
                                      "another output folder", action="write",
                                      errno=errno.EBUSY) from None
            except OSError as exc:  # a file system without locks: go on unlocked
                os.close(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    return self
                raise filesystem_error(exc, self.final, "lock the folder") from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:  # removed by the previous holder while we waited: retry
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return self

    def release(self) -> None:
        if self._fd is None:
            return
        with signals_deferred():
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ======================================================================
# Reading
# ======================================================================
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     "a legacy Office file (an Excel 97-2003 .xls workbook, or an encrypted workbook)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG picture"),
    (b"\xff\xd8\xff", "a JPEG picture"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PAR1", "a Parquet table"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"SQLite format 3", "an SQLite database"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "UTF-32", "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "UTF-16", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16", "UTF-16BE"),
)


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path``; a missing or unreadable file raises an error naming it."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise filesystem_error(exc, path, "read") from None


def content_kind(data: bytes) -> str | None:
    """What a file's first bytes say it is (``None``: nothing recognised)."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


def _convert_hint(name: str, source: str) -> str:
    return (f"convert it to UTF-8, e.g. `iconv -f {source} -t UTF-8 {name} > utf8-{Path(name).name}`, "
            "or save it as UTF-8 in your editor")


def decode_text(data: bytes, name: str | Path, what: str = "text file") -> str:
    """``data`` decoded as UTF-8 (a UTF-8 byte-order mark is dropped).

    Anything else raises :class:`InputError` saying what was found: UTF-16/32
    (with or without a byte-order mark), Latin-1/Windows-1252 text, a known binary
    format (zip/xlsx, xls, PDF, ...) or binary data, and how to convert it.
    """
    name = str(name)
    for bom, family, codec in _BOMS:
        if data.startswith(bom):
            raise InputError(f"{name}: the {what} is {family} text (byte-order mark "
                             f"{bom.hex(' ')}); cge reads UTF-8: {_convert_hint(name, codec)}")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    kind = content_kind(data)
    if kind is not None:
        raise InputError(f"{name}: this is {kind}, not a {what}")
    head = data[:4096]
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if odd and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
            raise InputError(f"{name}: the {what} looks like UTF-16 text without a byte-order "
                             f"mark (little-endian); cge reads UTF-8: "
                             f"{_convert_hint(name, 'UTF-16LE')}")
        if even and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
            raise InputError(f"{name}: the {what} looks like UTF-16 text without a byte-order "
                             f"mark (big-endian); cge reads UTF-8: "
                             f"{_convert_hint(name, 'UTF-16BE')}")
        raise InputError(f"{name}: binary data (it holds NUL bytes), not a {what}; is it the "
                         "right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        controls = sum(1 for b in head if b < 9 or 13 < b < 32)
        if head and controls > 0.05 * len(head):
            raise InputError(f"{name}: binary data, not a {what}; is it the right file?") from None
        line = data[:exc.start].count(b"\n") + 1
        byte = data[exc.start]
        shown = bytes([byte]).decode("cp1252", errors="replace")
        raise InputError(f"{name}:{line}: the {what} is not UTF-8 (byte 0x{byte:02x} at "
                         f"position {exc.start}); it looks like Latin-1 / Windows-1252 text, "
                         f"where that byte is {shown!r}: {_convert_hint(name, 'WINDOWS-1252')}"
                         ) from None


def read_text(path: str | Path, what: str = "text file") -> str:
    """The text of ``path`` as UTF-8, or an :class:`InputError` naming the encoding found."""
    return decode_text(read_bytes(path, what), path, what)


#: Extensions of the workbooks cge reads, and of those it does not.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
LEGACY_SUFFIXES = (".xls", ".xlsb", ".ods")


def check_workbook_file(path: str | Path) -> None:
    """Raise :class:`InputError` if ``path`` is not an .xlsx/.xlsm workbook by content:
    a legacy .xls (or .xlsb/.ods), or a file that only carries the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in LEGACY_SUFFIXES:
        raise InputError(f"{path}: a {suffix} workbook; cge reads .xlsx: open it in Excel or "
                         "LibreOffice and save it as .xlsx (or `soffice --headless --convert-to "
                         f"xlsx {path.name}`)")
    data = read_bytes(path, "workbook")
    if data.startswith(b"PK\x03\x04"):
        return
    if not data:
        raise InputError(f"{path}: the file is empty, not an Excel workbook")
    kind = content_kind(data)
    if kind is None:
        try:
            decode_text(data[:65536], path)
            kind = "a text file (CSV or YAML?)"
        except InputError:
            kind = "binary data of an unknown kind"
    if "legacy Office" in kind:
        raise InputError(f"{path}: named {suffix} but this is {kind}; save it as .xlsx "
                         "(unencrypted) in Excel or LibreOffice")
    raise InputError(f"{path}: named {suffix} but this is {kind}, not an Excel workbook")


# ---------------------------------------------------------------- YAML and JSON
#: Deepest nesting of mappings and lists accepted in a YAML or JSON document.
MAX_DEPTH = 64
#: Most aliases (``*name``) in one YAML document.
MAX_ALIASES = 10_000
#: Most nodes that aliases may add to a document by repeating anchored parts.
MAX_ALIAS_EXPANSION = 200_000


def _yaml():
    import yaml

    return yaml


def _limited_loader():
    yaml = _yaml()

    class LimitedLoader(yaml.SafeLoader):
        """SafeLoader that counts aliases and nesting depth while composing."""

        def __init__(self, stream):
            super().__init__(stream)
            self._depth = 0
            self._aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise _Limit(f"more than {MAX_ALIASES} aliases (*name)",
                                 self.peek_event().start_mark)
                return super().compose_node(parent, index)
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise _Limit(f"nested more than {MAX_DEPTH} levels deep",
                                 self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return LimitedLoader


class _Limit(Exception):
    def __init__(self, problem, mark=None):
        super().__init__(problem)
        self.problem, self.mark = problem, mark


def _expanded_size(node) -> int:
    """Nodes of the document once every alias is written out (recursive aliases refused)."""
    yaml = _yaml()
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:
            raise _Limit("an alias refers to a node that contains it (recursive alias)",
                         n.start_mark)
        active.add(key)
        if isinstance(n, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in n.value)
        else:
            total = 1
        active.discard(key)
        memo[key] = total
        return total

    return size(node)


def _distinct_nodes(node) -> int:
    yaml = _yaml()
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [k, v]
        elif isinstance(n, yaml.SequenceNode):
            stack += list(n.value)
    return len(seen)


def compose_yaml(text: str, filename: str | Path = "<yaml>"):
    """The YAML node graph of ``text`` (one document; ``None`` if empty), composed with
    the safe loader under limits on nesting depth and on aliases, so that an alias
    bomb fails at once. Problems raise :class:`InputError` starting ``file:line:``."""
    yaml = _yaml()
    loader = None
    try:
        loader = _limited_loader()(text)  # (the reader refuses control characters here)
        node = loader.get_single_node()
        if node is not None:
            extra = _expanded_size(node) - _distinct_nodes(node)
            if extra > MAX_ALIAS_EXPANSION:
                raise _Limit(f"its aliases repeat anchored parts into more than "
                             f"{MAX_ALIAS_EXPANSION:,} extra nodes (an alias bomb?); write the "
                             "values out or use fewer aliases", node.start_mark)
        return node
    except _Limit as exc:
        line = f":{exc.mark.line + 1}" if exc.mark is not None else ""
        raise InputError(f"{filename}{line}: YAML document refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        msg = f"{problem} ({context})" if context else problem
        raise InputError(f"{filename}{line}: malformed YAML: {msg}") from None
    except RecursionError:
        raise InputError(f"{filename}: YAML document refused: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def construct_yaml(node, filename: str | Path = "<yaml>") -> Any:
    """Python objects (safe types only) from a node of :func:`compose_yaml`."""
    yaml = _yaml()
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{filename}{line}: malformed YAML: {problem}") from None
    except RecursionError:
        raise InputError(f"{filename}: YAML document refused: nested too deeply") from None
    finally:
        loader.dispose()


def load_yaml(text: str, filename: str | Path = "<yaml>") -> Any:
    """``yaml.safe_load`` with the limits of :func:`compose_yaml`."""
    return construct_yaml(compose_yaml(text, filename), filename)


def load_json(text: str, filename: str | Path = "<json>") -> Any:
    """``json.loads`` with messages naming the file and line, and a depth limit."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{filename}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{filename}: JSON document refused: nested too deeply") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"{filename}: JSON document refused: nested more than {MAX_DEPTH} "
                         "levels deep")
    return data


def _depth(obj) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            deepest = max(deepest, d)
            stack += [(v, d + 1) for v in o.values()]
        elif isinstance(o, list):
            deepest = max(deepest, d)
            stack += [(v, d + 1) for v in o]
        if deepest > MAX_DEPTH:
            break
    return deepest


# ======================================================================
# Checksums
# ======================================================================
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise filesystem_error(exc, path, "read") from None
    return h.hexdigest()


def file_checksums(folder: str | Path, names: Iterable[str]) -> dict[str, str]:
    """sha256 of each regular file ``names`` of ``folder`` (what cge records of the files
    it wrote, so that a later write can tell a file the user changed since)."""
    folder = Path(folder)
    return {name: sha256_file(folder / name) for name in sorted(names)
            if (folder / name).is_file() and not (folder / name).is_symlink()}


def changed_files(folder: str | Path, recorded: Any) -> list[str]:
    """The files of ``folder`` whose content differs from the sha256 ``recorded`` for
    them (a mapping of name to checksum, as :func:`file_checksums` made it): files cge
    wrote that were edited, or saved again by another program, since. Names without a
    recorded checksum, and files that are gone, are not reported; ``recorded`` that is
    not such a mapping (a folder written before cge recorded checksums) reports none."""
    if not isinstance(recorded, dict):
        return []
    folder = Path(folder)
    changed = []
    for name, digest in sorted(recorded.items()):
        if (not isinstance(name, str) or not isinstance(digest, str) or "/" in name
                or "\\" in name or name in ("", ".", "..")):
            continue
        path = folder / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            changed.append(name)  # a folder or link where cge wrote a file
        elif path.is_file() and sha256_file(path) != digest:
            changed.append(name)
    return changed


def json_default(x):
    """``json.dumps``'s ``default`` for results: numpy scalars and arrays as numbers and
    lists, anything else as its text."""
    import numpy as np

    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def sha256_canonical(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys; other types as text)."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, default=str).encode())
