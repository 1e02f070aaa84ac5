r"""The 69-country benchmark of the USA-Canada border removal and its border coefficient.

``runs/border_removal_usa_canada.yaml`` is the experiment of Behrens, Mion,
Murata and Suedekum (seed 000) on real data: the border between the USA and
Canada removed, under CES-Melitz, CARA and Armington side by side
(``cge run``, ``compare_market_structures``). This module writes its data,
``runs/data/yotov2016_observed.xlsx``, and estimates its border coefficient.

Data. ``sam_data/yotov2016_trade_without_border_2006.csv.gz`` (Yotov,
Piermartini, Monteiro and Larch 2016, *An Advanced Guide to Trade Policy
Analysis: The Structural Gravity Model*, WTO and UNCTAD, chapter 2 data set;
CC BY 4.0, attribution in ``sam_data/README.md``): manufacturing shipments of
69 countries in 2006 in millions of current USD, domestic sales included.
The workbook holds the **observed** flows (not the PPML fitted ones): one
sector ``mfg``, one factor ``labour`` paid the value of each country's
output, final demand its expenditure, the trade deficit the difference.
Germany, ``ZZZ`` in the source, is ``DEU``. The 138 foreign routes without
shipments (of 4,692) are inactive routes (no sales at any trade cost) in every
structure; ``cara`` needs ``cara_zero_flows: inactive`` for that, since under
a choke price with Pareto draws any finite trade cost gives positive sales.

The border effect is estimated as the data's source does (the book's
chapter 2, application 1): PPML with exporter and importer fixed effects,
log distance, contiguity and an international border dummy,
:func:`cge.gravity.estimate_gravity` (pyfixest). ``INTL_BRDR`` is -2.474.
The estimated trade-cost index :math:`T_{ni}` of every route is the
workbook's ``trade_costs`` sheet: calibration puts it into
:math:`\tau_{ni} = T_{ni}^{-1/\epsilon}` (melitz, armington; for cara it sets
each origin's productivity units so that :math:`\tau` leaves room for it) and
the rest of the observed friction into preference weights. Removing the border
multiplies :math:`T` of the two USA-Canada routes by :math:`e^{2.474}`
(``remove_gravity_term``), the same change of the trade-cost index under every
structure.

Run: ``python -m calibration.yotov_border -o runs/data/yotov2016_observed.xlsx``
(prints the estimate; refuses an existing file unless ``--force``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["GRAVITY_SPEC", "INFO", "SOURCE", "border_coefficient", "estimate", "write_workbook"]

ROOT = Path(__file__).resolve().parents[1]
#: The bundled bilateral table (the shared copy is ../shared/data/yotov2016/).
SOURCE = ROOT / "sam_data" / "yotov2016_trade_without_border_2006.csv.gz"
#: The book's chapter 2 gravity equation: ln DIST, CNTG and the international border.
GRAVITY_SPEC = dict(flow="trade", variables=["DIST", "CNTG", "INTL_BRDR"], log=["DIST"])
#: The workbook's ``info`` rows (source, licence, units) besides the estimates.
INFO = {
    "data": "Yotov, Piermartini, Monteiro and Larch (2016), An Advanced Guide to Trade Policy "
            "Analysis: The Structural Gravity Model, WTO and UNCTAD, chapter 2 data set "
            "1_TradeWithoutBorder, 2006 (via pachadotdev/tradepolicy)",
    "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); derived work, see "
               "sam_data/README.md",
    "units": "millions of current USD, 2006",
    "regions": "69 countries; ZZZ (Germany in the source) renamed DEU",
    "built by": "python -m calibration.yotov_border (calibration/yotov_border.py)",
}


def estimate(path=None):
    """The PPML fit (:class:`cge.gravity.GravityResult`) of the book's chapter 2 gravity
    equation on the bilateral table ``path`` (default: the bundled one)."""
    from cge.gravity import estimate_gravity, read_bilateral_table

    return estimate_gravity(read_bilateral_table(path or SOURCE), **GRAVITY_SPEC)


def border_coefficient(path=None) -> float:
    """The estimated ``INTL_BRDR`` coefficient (PPML, exporter and importer fixed effects)."""
    return float(estimate(path).coefficients["INTL_BRDR"])


def write_workbook(path, source=None) -> Path:
    """Write the one-sector benchmark of observed flows with the estimated trade-cost index
    (``trade_costs`` sheet) and the estimates and attribution (``info`` sheet)."""
    from cge.gravity import write_gravity_workbook

    return write_gravity_workbook(estimate(source), path, flows="observed",
                                  rename={"ZZZ": "DEU"}, info=INFO)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", default=None, help="workbook to write (.xlsx)")
    p.add_argument("--data", default=None, help="the bilateral table (default: the bundled one)")
    p.add_argument("--force", action="store_true", help="overwrite an existing workbook")
    args = p.parse_args(argv)
    fit = estimate(args.data)
    print(fit.table().to_string())
    if args.out:
        out = Path(args.out)
        if out.exists() and not args.force:
            print(f"{out} exists; give --force to overwrite it")
            return 1
        write_workbook(out, args.data)
        print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
