"""Tables for the console that never cut a number.

Rich shrinks columns that do not fit the console and cuts their cells
("-0.62..."). :func:`frame_table` instead gives every column the width of its
widest cell and, when the table is wider than the console, splits the columns
over several tables (each repeating the index columns), so that every number
is printed whole whatever the terminal's width.
"""

from __future__ import annotations

__all__ = ["frame_table", "format_cell"]


def format_cell(v, fmt: str = "{:,.4g}") -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return fmt.format(v)
    try:
        import numpy as np

        if isinstance(v, np.generic) and np.issubdtype(type(v), np.number):
            return fmt.format(float(v))
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def frame_table(title: str, frame, fmt: str = "{:,.4g}", width: int | None = None,
                units: dict[str, str] | None = None):
    """A rich renderable of ``frame``: one table, or several when it is wider than
    ``width`` (the console's). ``units``: a unit per column, shown under its name."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    units = units or {}
    names = [str(n) for n in frame.index.names]
    index_cells = [[str(i) for i in (idx if isinstance(idx, tuple) else (idx,))]
                   for idx in frame.index]
    columns = []
    for col in frame.columns:
        cells = [format_cell(v, fmt) for v in frame[col]]
        head = str(col) + (f"\n[{units[str(col)]}]" if str(col) in units else "")
        w = max([len(c) for c in cells] + [max(len(x) for x in head.split("\n"))])
        columns.append((head, cells, w))
    idx_w = [max([len(n)] + [len(r[j]) for r in index_cells]) for j, n in enumerate(names)]
    budget = (width or 10_000) - sum(w + 3 for w in idx_w) - 1
    chunks, cur, used = [], [], 0
    for c in columns:
        if cur and used + c[2] + 3 > budget:
            chunks.append(cur)
            cur, used = [], 0
        cur.append(c)
        used += c[2] + 3
    if cur or not chunks:
        chunks.append(cur)
    tables = []
    for k, chunk in enumerate(chunks):
        part = "" if len(chunks) == 1 else f" ({k + 1}/{len(chunks)})"
        table = Table(title=title + part, title_justify="left")
        for n, w in zip(names, idx_w):
            table.add_column(n, no_wrap=True, min_width=w)
        for head, _, w in chunk:
            table.add_column(Text(head, justify="right"), justify="right", no_wrap=True,
                             min_width=w)
        for r, idx in enumerate(index_cells):
            table.add_row(*map(Text, idx), *[Text(cells[r]) for _, cells, _ in chunk])
        tables.append(table)
    return tables[0] if len(tables) == 1 else Group(*tables)
