"""Large tables on XlsxWriter worksheets, written a column at a time.

XlsxWriter keeps every cell as an object until the workbook closes and then writes its
XML one cell at a time (several microseconds a cell in Python): the NAFTA run's trade
sheet alone (18,838 rows x 19 columns) took most of the 4 s that results.xlsx cost.
:class:`ColumnSheet` is an XlsxWriter worksheet that takes the data rows of a table as
whole columns (:meth:`ColumnSheet.write_columns`) and writes their XML column-wise when
the workbook closes, through XlsxWriter's own row writer, shared-string table and
formats: the cells, their values, formats and shared strings are those the cell-by-cell
writes (``write_column``) would have stored. What stays with XlsxWriter (the header
row, column widths and formats, frozen panes, the autofilter) is written as usual.
"""

from __future__ import annotations

import math

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

__all__ = ["ColumnSheet"]


class _Shared(int):
    """A string cell: its index in the workbook's shared-string table."""


class ColumnSheet(Worksheet):
    """An XlsxWriter worksheet whose data rows are given as columns (see the module
    docstring); everything else is an ordinary worksheet. Add it with
    ``workbook.add_worksheet(name, worksheet_class=ColumnSheet)``."""

    def __init__(self):
        super().__init__()
        self._column_rows: tuple[int, list] | None = None
        self._cells = None

    def write_columns(self, first_row: int, columns: list[tuple[list, object]]) -> None:
        """The rows from ``first_row`` on: one ``(values, cell_format)`` per column, from
        column 0, all of one length. Values are what ``write_column`` takes: floats and
        ints (numbers), strings (shared strings), booleans, ``None`` (a blank cell when
        the column has a format, else no cell). Rows stored the usual way must lie above
        ``first_row``. The workbook's options ``strings_to_numbers``,
        ``strings_to_formulas`` and ``strings_to_urls`` must be off (strings are
        strings)."""
        if self.strings_to_numbers or self.strings_to_formulas or self.strings_to_urls:
            raise ValueError("write_columns: needs the workbook options strings_to_numbers, "
                             "strings_to_formulas and strings_to_urls off")
        n = len(columns[0][0]) if columns else 0
        if any(len(values) != n for values, _ in columns):
            raise ValueError("write_columns: columns of different lengths")
        if not n:
            return
        if self._check_dimensions(first_row, 0) or \
                self._check_dimensions(first_row + n - 1, len(columns) - 1):
            raise ValueError("write_columns: the table does not fit on a worksheet")
        # strings enter the shared-string table now, in write_column's order (the table
        # is fixed before the worksheets' XML is written)
        shared = self.str_table._get_shared_string_index
        limit = self.xls_strmax // 2
        prepared = []
        for j, (values, cell_format) in enumerate(columns):
            if any(v.__class__ is str for v in values):
                for v in values:
                    if v.__class__ is str and len(v) > limit:
                        raise ValueError(f"write_columns: a string of {len(v)} characters in "
                                         f"column {xl_col_to_name(j)} (longer than a cell "
                                         "holds)")
                values = [_Shared(shared(v)) if v.__class__ is str and v else v
                          for v in values]
            prepared.append((values, cell_format))
        self._column_rows = (first_row, prepared)

    # XlsxWriter calls this when the workbook closes, to write <sheetData>'s rows.
    def _write_rows(self) -> None:
        if self._column_rows is None:
            super()._write_rows()
            return
        first, columns = self._column_rows
        n = len(columns[0][0])
        cells = [self._column_xml(j, values, cell_format, first, n)
                 for j, (values, cell_format) in enumerate(columns)]
        self._cells = (first, cells)
        last = self.dim_rowmax
        self.dim_rowmax = first - 1  # the rows stored cell by cell (the header)
        try:
            if self.dim_rowmax >= self.dim_rowmin:
                super()._write_rows()  # (with every row's spans: _calculate_spans)
            else:
                self._calculate_spans()
        finally:
            self.dim_rowmax = last
            self._cells = None
        write, end, spans = self.fh.write, "</row>", self.row_spans
        for i, row in enumerate(zip(*cells)):
            r = first + i
            if any(row):
                self._write_row(r, spans.get(r // 16), self.row_info.get(r))
                write("".join(row))
                write(end)
            elif r in self.row_info:
                self._write_empty_row(r, spans.get(r // 16), self.row_info[r])

    def _calculate_spans(self) -> None:
        """XlsxWriter's ``spans`` of each block of 16 rows (the first and last column
        holding a cell; an optional attribute of each row) with the column-wise rows."""
        super()._calculate_spans()
        if getattr(self, "_cells", None) is not None:
            self._add_column_spans(*self._cells)

    def _add_column_spans(self, first: int, cells: list[list[str]]) -> None:
        import numpy as np

        present = np.array([[c != "" for c in column] for column in cells]).T  # rows x cols
        blocks = (np.arange(first, first + present.shape[0])) // 16
        starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])
        used = np.logical_or.reduceat(present, starts, axis=0)  # blocks x cols
        for block, cols in zip(blocks[starts].tolist(), used):
            where = np.flatnonzero(cols)
            if not where.size:
                continue
            lo, hi = int(where[0]) + 1, int(where[-1]) + 1
            if block in self.row_spans:
                a, b = (int(x) for x in self.row_spans[block].split(":"))
                lo, hi = min(lo, a), max(hi, b)
            self.row_spans[block] = f"{lo}:{hi}"

    def _column_xml(self, col: int, values: list, cell_format, first: int, n: int) -> list[str]:
        """The XML of one column's cells (row ``first`` on), as :meth:`_write_cell` would
        write what ``write_column`` stores; an empty string where no cell is stored."""
        name = xl_col_to_name(col)
        fmt = cell_format
        if fmt is None and col in self.col_info:
            fmt = self.col_info[col].column_format
        style = f' s="{fmt._get_xf_index()}"' if fmt is not None else ""
        blank = "" if cell_format is None else f'<c r="{{}}"{style}/>'
        out = []
        append = out.append
        for row, v in zip(range(first + 1, first + n + 1), values):
            kind = v.__class__
            if kind is float and v - v == 0.0 or kind is int:  # (a finite float)
                append(f'<c r="{name}{row}"{style}><v>{v:.16G}</v></c>')
            elif kind is _Shared:
                append(f'<c r="{name}{row}"{style} t="s"><v>{int(v)}</v></c>')
            elif v is None or kind is str:  # None or "": blank
                append(blank.format(f"{name}{row}") if blank else "")
            elif kind is bool:
                append(f'<c r="{name}{row}"{style} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                v = float(v)
                if not math.isfinite(v):
                    raise ValueError(f"write_columns: {v} in column {name} (not a number "
                                     "a cell holds)")
                append(f'<c r="{name}{row}"{style}><v>{v:.16G}</v></c>')
            else:
                raise TypeError(f"write_columns: unsupported type {kind.__name__} in "
                                f"column {name}")
        return out
