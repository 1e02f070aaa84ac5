"""Reading Excel workbooks fast: cell values with calamine, formulas with openpyxl on demand.

:class:`CalamineBook` is the workbook the SAM reader (:mod:`calibration.sam`) reads
cell by cell. It gives the reader exactly what an openpyxl workbook opened for
cached values gave it (sheets indexed by name; rows numbered from 1; cells with
``value``, ``row``, ``column`` and ``coordinate``), so that every check and every
message (``sam_USA!H4``) is the same, but the values come from calamine (Rust),
which reads a 31-region, 40-sector workbook in about a second instead of twenty.

What calamine does not say is looked up with openpyxl, only when needed:

* a formula behind a blank cell (a formula whose value was never computed):
  :meth:`formula`, as before, and only if the workbook has formulas at all;
* error values (``#DIV/0!``, ``#REF!``...), which calamine reads as blanks: a
  workbook holding any is read with openpyxl throughout, so that an error is
  reported as such and never taken for a blank (or, with ``blank_as_zero``, a zero).

Values are those openpyxl gives: whole numbers as ``int``, dates as
``datetime``, empty cells as ``None``.
"""

from __future__ import annotations

import datetime as _dt
import re
import zipfile
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path

from cge.errors import InputError

from .sam import WorkbookError, _Book

__all__ = ["CalamineBook", "column_letter", "excel_writer", "open_workbook"]

#: Beyond this a whole float is not turned into an int (openpyxl keeps such
#: numbers as floats too: they are written with an exponent).
_INT_LIMIT = 2 ** 53
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ERROR = re.compile(rb"<(?:\w+:)?c\s[^>]*\bt\s*=\s*[\"']e[\"']")


def column_letter(column: int) -> str:
    """Excel's name of column ``column`` (1 -> A, 27 -> AA)."""
    letters = ""
    while column > 0:
        column, rem = divmod(column - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


class _Cell:
    """One cell, with the attributes of an openpyxl cell that the reader uses."""

    __slots__ = ("value", "row", "column")

    def __init__(self, value, row: int, column: int):
        self.value = value
        self.row = row
        self.column = column

    @property
    def coordinate(self) -> str:
        return f"{_letters(self.column)}{self.row}"

    def __repr__(self) -> str:
        return f"<Cell {self.coordinate} {self.value!r}>"


_LETTERS: list[str] = []


def _letters(column: int) -> str:
    while len(_LETTERS) < column:
        _LETTERS.append(column_letter(len(_LETTERS) + 1))
    return _LETTERS[column - 1]


def _value(v):
    """A calamine value as openpyxl (cached values) gives it."""
    kind = type(v)
    if kind is float:
        return int(v) if v.is_integer() and -_INT_LIMIT < v < _INT_LIMIT else v
    if kind is str:
        return v if v else None
    if kind is _dt.date:
        return _dt.datetime(v.year, v.month, v.day)
    return v


class _Sheet:
    """A calamine sheet as an openpyxl worksheet: ``ws[row]``, ``ws.cell(row, column)``,
    ``ws.iter_rows(min_row, max_col)``; every row as wide as the widest."""

    def __init__(self, values: list[list]):
        self._values = values
        self.max_row = max(len(values), 1)
        self.max_column = max([len(r) for r in values] + [1])
        self._rows: dict[int, tuple[_Cell, ...]] = {}

    def __getitem__(self, row: int) -> tuple[_Cell, ...]:
        cells = self._rows.get(row)
        if cells is None:
            raw = self._values[row - 1] if 1 <= row <= len(self._values) else []
            values = list(map(_value, raw)) + [None] * (self.max_column - len(raw))
            cells = tuple(map(_Cell, values, repeat(row), range(1, self.max_column + 1)))
            self._rows[row] = cells
        return cells

    def cell(self, row: int, column: int) -> _Cell:
        cells = self[row]
        return cells[column - 1] if column <= len(cells) else _Cell(None, row, column)

    def iter_rows(self, min_row: int = 1, max_col: int | None = None):
        for row in range(max(min_row, 1), self.max_row + 1):
            cells = self[row]
            yield cells if max_col is None else cells[:max_col]


def _scan(path: Path) -> tuple[bool, bool]:
    """Whether any worksheet of the workbook holds (formulas, error values)."""
    formulas = errors = False
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name)
                # a plain search first: most sheets hold neither, and it is several times faster
                formulas = formulas or ((b"<f" in xml or b":f" in xml) and _FORMULA.search(xml) is not None)
                errors = errors or ((b'"e"' in xml or b"'e'" in xml)
                                    and _ERROR.search(xml) is not None)
                if formulas and errors:
                    break
    return formulas, errors


class CalamineBook(_Book):
    """A workbook read for cell values with calamine (module docstring); formulas and
    error values with openpyxl, when the workbook has any."""

    def __init__(self, path: Path):
        from cge import fsio

        self.path = Path(path)
        self.problems: list[str] = []
        self._formulas = None
        try:  # an .xls, a CSV or garbage named .xlsx: say what the file is
            fsio.check_workbook_file(self.path)
        except InputError as exc:
            raise WorkbookError(exc.problems) from None
        try:
            import python_calamine

            self._has_formulas, has_errors = _scan(self.path)
            self._book = python_calamine.CalamineWorkbook.from_path(str(self.path))
            self._names = list(self._book.sheet_names)
        except Exception as exc:  # not a workbook, corrupt, ...
            raise WorkbookError(f"{self.path}: cannot be read as an Excel workbook: {exc}") from None
        self._sheets: dict[str, _Sheet] = {}
        self.values = self  # the reader indexes ``book.values[sheet]`` as in openpyxl
        if has_errors:  # calamine reads #DIV/0! as a blank: openpyxl says what it is
            self._openpyxl = _Book(self.path)
            self.values = self._openpyxl.values

    def formula(self, sheet: str, coord: str):
        if not self._has_formulas:
            return None
        return super().formula(sheet, coord)

    def has(self, sheet: str) -> bool:
        return sheet in self._names

    @property
    def sheetnames(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, sheet: str) -> _Sheet:
        ws = self._sheets.get(sheet)
        if ws is None:
            try:
                rows = self._book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except Exception as exc:
                raise WorkbookError(f"{self.path}: sheet {sheet!r} cannot be read: {exc}") from None
            ws = self._sheets[sheet] = _Sheet(rows)
        return ws


def open_workbook(path: str | Path) -> _Book:
    """The workbook at ``path`` for :mod:`calibration.sam`'s reader (calamine values)."""
    return CalamineBook(Path(path))


@contextmanager
def excel_writer(path: str | Path):
    """A pandas ``ExcelWriter`` with XlsxWriter (text kept as text: no formulas, URLs or
    numbers made of strings); what XlsxWriter refuses (a sheet name over 31 characters,
    or with one of ``[]:*?/\\``, which Excel cannot open) is an :class:`InputError`."""
    import pandas as pd
    from xlsxwriter.exceptions import XlsxInputError

    try:
        with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": {
                "strings_to_numbers": False, "strings_to_formulas": False,
                "strings_to_urls": False}}) as xw:
            yield xw
    except XlsxInputError as exc:
        raise InputError(f"{Path(path).name}: cannot be written as an Excel workbook: {exc}") from None
