"""Every independent problem of a workbook or CSV folder at once (``cge check``).

:func:`calibration.read_workbook` stops at the first of its passes that finds a
problem (reading, signs and structure, balance and trade, benchmark identities),
so a user fixing a workbook would meet its problems one group at a time.
:func:`workbook_problems` runs every pass that can run on what was read and
collects all problems, each naming the sheet or file, the account and the cell.
A pass is left out only where it cannot run without an earlier one, and the list
then ends with a line saying which checks wait for which fixes:

* reading (:func:`calibration.sam.load_workbook` with ``partial=True``): every
  table and every SAM sheet; a SAM with an unreadable cell is not checked further;
* signs, structure and balance of every SAM that was read (they need the types of
  the accounts sheet);
* agreement of the SAMs with the trade sheet (needs the regions, parameters and
  trade sheets);
* with ``balance``, balancing first (needs every SAM and the trade sheet read, with
  signs and structure right);
* the mapping into :class:`~calibration.BenchmarkData` and the checks of
  :mod:`calibration.checks`: those independent of the SAMs' accounting (sector
  parameters, firm data, tariffs, production taxes, activity) run once everything
  was read; the identities (zero profit, market clearing, income, deficits, flows
  non-negative), which restate the SAM checks in the model's terms, only when the
  SAMs pass (else they would repeat each problem).
"""

from __future__ import annotations

from pathlib import Path

from . import checks as bc
from .sam import (DEFAULT_PRODUCTION_TAXES, ACCOUNT_TYPES, WorkbookError, _map, _ras_workbook,
                  check_sam_balance, check_sam_signs, check_sam_structure,
                  check_trade_consistency, load_workbook)

__all__ = ["workbook_problems", "INDEPENDENT_CHECKS", "IDENTITY_CHECKS"]

#: Benchmark checks that do not restate the SAMs' accounting: run whenever the data map.
INDEPENDENT_CHECKS = (bc.check_shapes, bc.check_tariffs, bc.check_production_taxes,
                      bc.check_sector_parameters, bc.check_activity, bc.check_firm_data)
#: Benchmark checks that restate the SAM checks (balance, signs, trade): run when those pass.
IDENTITY_CHECKS = (bc.check_nonnegative, bc.check_agent_demand, bc.check_zero_profit,
                   bc.check_market_clearing, bc.check_income, bc.check_deficits)


def _types_known(wb) -> bool:
    types = list(wb.accounts["type"])
    return bool(types) and all(t in ACCOUNT_TYPES for t in types) and \
        wb.accounts["account"].notna().all() and types.count("rest_of_world") == 1


def _named(wb, parts) -> str:
    """The unreadable ``parts`` of ``wb``, as words."""
    bad = [p for p in parts if p in wb.unreadable]
    words = ["the CSV files" if p == "files" else f"the {p} sheet" for p in bad]
    return ", ".join(words)


def workbook_problems(path: str | Path, *, balance: str | None = None,
                      production_taxes: str = DEFAULT_PRODUCTION_TAXES, tol: float = bc.TOL,
                      blank_as_zero: bool = False) -> list[str]:
    """Every problem of the workbook or CSV folder at ``path`` that can be found in one
    pass (module docstring); empty if :func:`calibration.read_workbook` would read it
    with these options. Options as for :func:`~calibration.read_workbook`."""
    try:
        wb = load_workbook(path, blank_as_zero=blank_as_zero, partial=True)
    except WorkbookError as exc:  # the file itself cannot be read
        return list(exc.problems)
    name = Path(path).name
    problems = list(wb.problems)
    waiting: list[str] = []

    def add(found) -> list[str]:
        problems.extend(f"{name}: {p}" for p in found)
        return found

    def done() -> list[str]:
        if waiting and problems:
            problems.append(f"{name}: not checked until the problems above are fixed: "
                            + "; ".join(waiting))
        return problems

    unread = [r for r in wb.regions if r not in wb.sams]
    if unread:
        waiting.append(f"the accounts of the SAM of {', '.join(unread)} (a SAM is checked "
                       "once every cell of it reads)")
    if "accounts" in wb.unreadable or not _types_known(wb):
        waiting.append("the signs, structure and balance of every SAM (they need the accounts "
                       "sheet)")
        return done()
    shape = add(check_sam_signs(wb) + check_sam_structure(wb))
    tables = not ({"regions", "parameters", "trade", "files"} & wb.unreadable)
    complete = tables and not unread and not ({"firms", "trade_costs"} & wb.unreadable)
    if balance is not None:
        if shape or not complete:
            waiting.append(f"balancing ({balance}) and the balance of the SAMs (balancing needs "
                           "every sheet read, with the signs and structure of the SAMs right)")
            return done()
        try:
            _ras_workbook(wb, tol, balance)
        except WorkbookError as exc:
            add(exc.problems)
            return done()
    accounting = add(check_sam_balance(wb, tol))
    if tables:
        accounting += add(check_trade_consistency(wb, tol))
    else:
        waiting.append("the agreement of the SAMs with the trade sheet (it needs "
                       f"{_named(wb, ('regions', 'parameters', 'trade', 'files'))} read)")
    if not complete:
        what = _named(wb, ("regions", "parameters", "trade", "files", "firms", "trade_costs"))
        waiting.append("the benchmark checks (sector parameters, firm data, zero profit, market "
                       "clearing, income; they need "
                       + ", ".join(([what] if what else []) + ([f"the SAM of {', '.join(unread)}"]
                                                               if unread else []))
                       + " read)")
        return done()
    try:
        data = _map(wb, production_taxes)
    except WorkbookError as exc:
        add(exc.problems)
        waiting.append("the benchmark checks (they need the SAMs mapped into benchmark data)")
        return done()
    found = add(bc.check_shapes(data))
    if found:
        return done()
    for check in INDEPENDENT_CHECKS[1:]:
        add(check(data))
    if shape or accounting:
        waiting.append("the benchmark identities (zero profit, market clearing, income, "
                       "deficits: they restate the balance of the SAMs and their agreement with "
                       "the trade sheet)")
    else:
        for check in IDENTITY_CHECKS:
            add(check(data, tol) if check in bc._WITH_TOL else check(data))
    return done()
