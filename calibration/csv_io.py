r"""Multi-region SAMs as a folder of CSV files: the workbook format, one file per sheet.

A CSV folder holds exactly what a workbook holds (``docs/calibration.md``,
"The workbook format"), each sheet as ``<sheet>.csv``:

``regions.csv``       ``region, sheet``: the regions in order; ``sheet`` names the
                      region's SAM file without ``.csv`` (``sam_USA`` reads
                      ``sam_USA.csv``; writing ``sam_USA.csv`` works too).
``accounts.csv``      ``account, type, label``.
``sam_<REGION>.csv``  one per region, rows receive and columns pay: a square matrix
                      (labels in the first row and the first column) or a long
                      table ``row, column, value``.
``trade.csv``         ``origin, destination, sector, value, tariff_rate[, exporter_share]``.
``parameters.csv``    ``sector, sigma, k, market_structure[, delta]``.
``firms.csv``         optional: ``region, sector[, survival, entrants]``.
``info.csv``          optional: ``key, value``.

:func:`calibration.read_workbook` reads such a folder when given its path (or
call :func:`read_csv_folder`). The folder is read by the workbook reader
itself: :class:`CsvFolder` presents the files as sheets, so every check of a
workbook applies unchanged, and messages name the file, the row (as a
spreadsheet numbers it, the header is row 1) and the column (by its header)::

    template_csv: sam_North.csv row 6, column 'a_agr' (row account labour, column
    account a_agr): text 'n/a' where a number is expected

Reading rules: UTF-8 text (a byte-order mark, as Excel's "CSV UTF-8" writes,
is fine); the delimiter is a comma, or a semicolon or tab when the first line
has no comma; numbers are written with a decimal point (``1234.5``, ``1e-3``);
anything else in a numeric cell (``1,5``, ``n/a``, ``5%``) is reported as
text. Columns without a header are ignored, as in a workbook.

Writing: :func:`workbook_to_csv` converts a workbook (cached values of every
sheet, numbers written exactly); :func:`write_csv_folder` and
:func:`write_benchmark_csv` are the CSV twins of
:func:`calibration.sam.write_workbook` and
:func:`calibration.sam.write_benchmark_workbook` (they write through the same
code, so a folder and a workbook written from the same parts hold the same
cells).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections import Counter
from pathlib import Path

from cge.errors import InputError

from .sam import WorkbookError, _Book, read_workbook, write_benchmark_workbook, write_workbook

#: Delimiters accepted when the first line of a file has no comma, in order of preference.
_OTHER_DELIMITERS = (";", "\t")
#: Sheets that are tables with a header; every other sheet is a SAM.
_TABLES = ("regions", "accounts", "trade", "parameters", "firms", "info", "trade_costs")


# ===================================================================== reading
class _CsvCell:
    """One cell of a CSV file, with the attributes of an openpyxl cell the reader uses."""

    __slots__ = ("value", "row", "column", "coordinate")

    def __init__(self, value, row: int, column: int, coordinate: str):
        self.value = value
        self.row = row
        self.column = column
        self.coordinate = coordinate


class _CsvSheet:
    """A CSV file as a worksheet: rows and columns numbered from 1, the header is row 1.

    A cell's ``coordinate`` is ``row 4, column 'mfg'``: the column is named by
    its header when that is a unique non-blank label, else by its number. The
    label column of a square SAM (``label_column``) is ``column 1``: its header
    is the free text of the corner cell.
    """

    def __init__(self, records: list[list[str]], *, label_column: bool = False):
        self.width = max([len(r) for r in records] + [1])
        header = [h.strip() for h in records[0]] if records else []
        counts = Counter(h for h in header if h)
        self._names = [f"'{header[j]}'" if j < len(header) and header[j] and counts[header[j]] == 1
                       and not (label_column and j == 0) else str(j + 1)
                       for j in range(self.width)]
        self._rows = [tuple(self._cell(r + 1, j + 1, rec[j] if j < len(rec) else None)
                            for j in range(self.width))
                      for r, rec in enumerate(records)]

    def _cell(self, row: int, column: int, text: str | None) -> _CsvCell:
        name = self._names[column - 1] if column <= self.width else str(column)
        value = None if text is None or text == "" else text
        return _CsvCell(value, row, column, f"row {row}, column {name}")

    @property
    def max_row(self) -> int:
        return len(self._rows)

    def __getitem__(self, row: int) -> tuple[_CsvCell, ...]:
        if 1 <= row <= len(self._rows):
            return self._rows[row - 1]
        return tuple(self._cell(row, j + 1, None) for j in range(self.width))

    def cell(self, row: int, column: int) -> _CsvCell:
        cells = self[row]
        return cells[column - 1] if column <= len(cells) else self._cell(row, column, None)

    def iter_rows(self, min_row: int = 1, max_col: int | None = None):
        for cells in self._rows[max(min_row, 1) - 1:]:
            yield cells if max_col is None else cells[:max_col]


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," in first:
        return ","
    return next((d for d in _OTHER_DELIMITERS if d in first), ",")


class CsvFolder(_Book):
    """A folder of CSV files seen as a workbook: ``<sheet>.csv`` is the sheet ``<sheet>``.

    Used by :func:`calibration.sam.load_workbook` when given a folder; every
    location in a message is ``<file> row <r>, column '<header>'``. Problems of
    the files themselves (not UTF-8, malformed quoting) are collected in
    ``problems`` and reported with all others.
    """

    kind = "file"
    sep = " "
    numbers_as_text = True

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.problems: list[str] = []
        self._sheets: dict[str, _CsvSheet] = {}
        self.values = self  # the reader indexes ``book.values[sheet]`` as in openpyxl

    @staticmethod
    def _stem(sheet: str) -> str:
        return sheet[:-4] if sheet.lower().endswith(".csv") else sheet

    def file(self, sheet: str) -> Path:
        return self.path / f"{self._stem(sheet)}.csv"

    def has(self, sheet: str) -> bool:
        stem = self._stem(sheet)
        return bool(stem) and "/" not in stem and "\\" not in stem and self.file(sheet).is_file()

    @property
    def sheetnames(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.suffix.lower() == ".csv")

    def at(self, sheet: str, cell=None) -> str:
        name = f"{self._stem(sheet)}.csv"
        return name if cell is None else f"{name}{self.sep}{cell.coordinate}"

    def formula(self, sheet: str, coord: str):
        return None  # CSV files hold values only

    def __getitem__(self, sheet: str) -> _CsvSheet:
        stem = self._stem(sheet)
        if stem not in self._sheets:
            records = self._records(self.file(sheet))
            long = bool(records) and [c.strip().lower() for c in records[0][:3]] == [
                "row", "column", "value"]
            self._sheets[stem] = _CsvSheet(records, label_column=stem not in _TABLES and not long)
        return self._sheets[stem]

    def _records(self, path: Path) -> list[list[str]]:
        from cge import fsio
        from cge.errors import InputError

        raw = fsio.read_bytes(path, "CSV file")
        try:  # UTF-8, or a message naming the encoding found (UTF-16, Latin-1, binary)
            text = fsio.decode_text(raw, path.name, "CSV file")
        except InputError as exc:
            self.problems.append(f"{exc.problems[0]} (in Excel: save as 'CSV UTF-8')")
            return []
        try:
            return list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text),
                                   strict=True))
        except csv.Error as exc:
            self.problems.append(f"{path.name}: not a readable CSV file: {exc}")
            return []


def read_csv_folder(folder: str | Path, **kwargs):
    """Read a folder of CSV files (module docstring) into :class:`~calibration.BenchmarkData`.

    The same as :func:`calibration.read_workbook` on the folder; keyword
    arguments (``balance``, ``production_taxes``, ``tol``, ``blank_as_zero``,
    ``with_report``) are passed on.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkbookError(f"{folder}: not a folder (expected a folder of CSV files, one per "
                            "sheet)")
    return read_workbook(folder, **kwargs)


# ===================================================================== writing
def _text(value) -> str:
    """A cell value as CSV text; numbers are written so that they read back exactly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _width(row: list[str]) -> int:
    """The number of cells up to the last non-blank one."""
    return max((j + 1 for j, text in enumerate(row) if text != ""), default=0)


def _write_rows(path: Path, rows: list[list[str]]) -> None:
    from cge.fsio import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)

    atomic_write(path, write)  # never a half-written sheet; errors name the path


def workbook_to_csv(workbook: str | Path, folder: str | Path, *,
                    sam_files: str | None = None) -> Path:
    """Write every sheet of ``workbook`` as ``folder/<sheet>.csv``: cell values, every row
    as wide as the header (blank cells beyond it dropped). Returns ``folder``.

    Formulas are written as their cached values; a formula without one (a file
    saved by a program that does not compute formulas) is an error.
    ``sam_files`` (e.g. ``"sam_{region}"``) renames each region's SAM file and
    the ``sheet`` column of ``regions.csv`` accordingly. Other files in
    ``folder`` are left as they are.
    """
    import openpyxl

    workbook, folder = Path(workbook), Path(folder)
    book = _Book(workbook)
    problems = []
    sheets = {}
    for ws in book.values.worksheets:
        rows = []
        for cells in ws.iter_rows():
            row = []
            for cell in cells:
                if cell.value is None and book.formula(ws.title, cell.coordinate) is not None:
                    problems.append(f"{ws.title}!{cell.coordinate}: formula "
                                    f"{book.formula(ws.title, cell.coordinate)!r} has no cached "
                                    "value; open and save the workbook in Excel or LibreOffice")
                row.append(_text(cell.value))
            rows.append(row)
        width = _width(rows[0]) if rows else 0
        rows = [row[:max(width, _width(row))] for row in rows]
        while rows and not rows[-1]:
            rows.pop()
        sheets[ws.title] = rows
    if problems:
        raise WorkbookError([f"{workbook.name}: {p}" for p in problems])
    if sam_files is not None and "regions" in sheets and sheets["regions"]:
        regions = sheets["regions"]
        header = [h.strip().lower() for h in regions[0]]
        if "region" in header and "sheet" in header:
            ir, js = header.index("region"), header.index("sheet")
            for row in regions[1:]:
                if len(row) > max(ir, js) and row[ir] and row[js] in sheets:
                    new = sam_files.format(region=row[ir])
                    if new != row[js]:
                        if new in sheets:
                            raise InputError(f"workbook_to_csv: cannot rename sheet {row[js]!r} "
                                             f"to {new!r}, which exists")
                        sheets[new] = sheets.pop(row[js])
                        row[js] = new
    from cge.fsio import ensure_folder

    ensure_folder(folder)
    for title, rows in sheets.items():
        _write_rows(folder / f"{title}.csv", rows)
    return folder


def write_csv_folder(folder: str | Path, *, sheet_names: dict[str, str] | None = None,
                     **parts) -> Path:
    """Write a CSV folder from its parts; arguments as :func:`calibration.sam.write_workbook`
    (``sams``, ``accounts``, ``trade``, ``parameters``, ``firms``, ``info``, ``layout``,
    ``sources``). SAM files are ``sam_<region>.csv`` unless ``sheet_names`` says otherwise.
    """
    sheet_names = sheet_names or {r: f"sam_{r}" for r in parts["sams"]}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_workbook(Path(tmp) / "sheets.xlsx", sheet_names=sheet_names, **parts)
        return workbook_to_csv(path, folder)


def write_benchmark_csv(data, folder: str | Path, *, layout: str = "matrix",
                        info: dict[str, str] | None = None) -> Path:
    """Write :class:`~calibration.BenchmarkData` as a CSV folder (the accounts of
    :func:`calibration.sam.benchmark_sams`, SAM files ``sam_<region>.csv``); reading it
    back gives ``data`` again, as for :func:`calibration.sam.write_benchmark_workbook`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_benchmark_workbook(data, Path(tmp) / f"{data.name}.xlsx", layout=layout,
                                        info=info)
        return workbook_to_csv(path, folder, sam_files="sam_{region}")


__all__ = ["CsvFolder", "read_csv_folder", "workbook_to_csv", "write_csv_folder",
           "write_benchmark_csv"]
