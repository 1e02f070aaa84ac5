r"""The South African 2015 micro SAM (195 accounts, R million) as a multi-sector benchmark.

``python -m calibration.south_africa --micro --data ../shared/data/south_africa_sam_2015 -o
zaf2015_micro.xlsx`` maps the micro SAM of van Seventer, Davies, Bold and
Gabriel (UNU-WIDER, 2019; ``sasam2015_micro_sam_Rmillion.csv``) to the
workbook's accounts with one activity and one commodity account per sector,
closes it with a constructed rest of the world
(:func:`calibration.single_country.with_rest_of_world`, as for the macro SAM,
:mod:`calibration.south_africa`), writes the workbook and reads it back with
RAS balancing. The source balances to 1e-9 R million, so RAS changes only
rounding-sized amounts. Its licence is not verified (the dataset's
``SOURCE.md``): nothing built from it is committed; tests read it from the
shared data folder.

The source has 62 activities (``a*``), 104 commodities (``c*``), a margins
account ``trc``, four labour types by education (``flab-p/m/s/t``), capital
``fcap``, enterprises ``ent``, 14 household groups (``hhd-*``), ``gov``, the
taxes ``atax`` (activity taxes), ``dtax`` (direct), ``mtax`` (import tariffs)
and ``stax`` (product taxes), ``s-i``, ``dstk`` (changes in stocks) and
``row``. The workbook format has no secondary production, no margins, no
product taxes and no inventories; each is mapped in one step below.
:func:`zaf_micro_home_sam` returns every step's record: one row per moved
amount, with the cell it left (``from_row``, ``from_column``) and the cell it
went to (``to_row``, ``to_column``; empty when the amount leaves the SAM
because its account is removed). Cells are named by the accounts as they are
at that step: source labels before step 1, then the workbook's accounts, with
activities by their source label until step 2. ``*`` means the whole row or
column.

Steps (:func:`zaf_micro_home_sam`):

1. **Aggregation** (``aggregation``). Each commodity goes to one sector
   (:data:`DEFAULT_AGGREGATION`, or the caller's mapping commodity -> sector;
   every commodity must be mapped exactly once, an unknown or unmapped
   account raises :class:`~cge.errors.InputError` naming it), giving the
   commodity account ``c_<sector>``; rows and columns are summed. The 14
   household groups become one account ``households`` (the model has one
   regional household; transfers among them would cancel). The four labour
   types stay separate factors (``labour_primary``, ``labour_middle``,
   ``labour_secondary``, ``labour_tertiary``), as the model has any number
   of mobile factors and the data give each type's payments by activity.
   One record per source account merged: its row total.
2. **Secondary production** (``secondary_production``), industry-technology
   assumption. The make matrix (activity rows, commodity columns) has off-
   diagonal entries: every activity makes several of the 104 commodities, and
   with the default aggregation 57 of the 62 make more than one sector (196
   activity-sector pairs, R 723,729 m, 9.1% of output). Each
   activity ``i`` is split into the sectors it makes in proportion to its
   output of each, ``V[i, s] / g[i]`` (``g[i]``: its gross output), and each
   part takes that share of every entry of ``i``'s column (intermediate
   inputs, factor payments, activity taxes). The activity ``a_<s>`` of sector
   ``s`` is the sum of the parts making ``s``, so its output is the source's
   output of the sector's commodities, and its cost structure is the
   output-weighted mix of the activities making it. Chosen because it cannot
   make an entry negative (the product-technology assumption inverts the make
   matrix, and gives negative inputs wherever a secondary product is made
   with a technology unlike its primary producers') and because it needs
   nothing beyond the SAM. One record per (activity, sector) pair with
   output: the output moved from ``(i, c_s)`` to ``(a_s, c_s)``; column
   ``i`` moves with it in the same proportion. The step is
   ``secondary_production`` where ``s`` is not the activity's primary sector
   (the one of its largest output after aggregation), else
   ``primary_production`` (only the account changes).
3. **Trade and transport margins** (``margins``). The commodity columns pay
   the margins account ``trc`` (R 984,009 m) and ``trc`` buys trade and
   freight-transport services (``ctrad``, ``cftrp``). The format has no
   commodity-to-commodity flow, so the margins are booked on the users: the
   users of ``c_s`` (every column buying it, exports included: they are
   valued free on board, with the domestic margins) are taken to pay its
   margin in proportion to their purchases (positive ones only, so stock
   reductions bear none), and that amount moves from their purchase of ``c_s`` to their
   purchase of the margin-providing sectors, split between these in the
   proportions of the ``trc`` column (the source does not say which margin
   service each commodity uses). Purchasers' values, and every user's total
   spending, are unchanged; ``c_s`` now sells at basic prices plus taxes.
   One record per (sector, user, provider), then the emptied ``trc`` cells.
4. **Product taxes** (``product_taxes``): net product taxes (``stax``, VAT,
   excises and fuel levies net of subsidies, paid by the commodity columns)
   become a production tax of the sector's activity, as for the macro SAM:
   its domestic sales rise by the tax and it pays the tax to ``atax``; the
   government's receipt moves from ``stax`` to ``atax``. With the reader's
   default ``production_taxes="tax"`` they are, with the activity taxes
   (``atax``), the benchmark's production tax (revenue of the regional
   household; factor payments are value added at factor cost);
   ``"pro_rata"`` would fold them into factor payments (value added at
   market prices). Import duties (``mtax``) stay the only tariff.
5. **Exports** (``exports``): booked by the source in the commodity row
   (``c_s <- row``); they move to the activity row, and the activity's
   domestic sales fall by the same amount.
6. **Changes in inventories** (``inventories``) become investment demand:
   ``dstk`` is merged into ``s-i`` (``accumulation``).

The rest of the world is constructed by
:func:`calibration.single_country.with_rest_of_world` as for the macro SAM,
except that ROW's gross output is set with ``output="leontief"``: its final
demand is ``row_scale`` (9) times ZAF's, sector by sector, and its output is
what its market clearing needs with ZAF's input coefficients. Scaling ZAF's
output instead (``row_output="scaled"``, the macro SAM's choice) leaves ROW
with negative final demand for minerals and machinery: ZAF uses more of them
as inputs than it makes, and ROW, with ZAF's technology, would too.

Exporter shares: ZAF imports much of its machinery, vehicles and textiles,
so with the calibration's default exporter share (0.25) ROW's sales to ZAF
would imply an iceberg cost below 1 (:func:`calibration.calibrate`). On
those melitz routes the trade sheet gets the smallest exporter share that
gives an iceberg cost of 1 (:func:`exporter_shares`, the rule of the
Caliendo-Parro conversion); it is a normalisation that does not change
counterfactual percentage changes under Pareto (``docs/calibration.md``,
section 2). The ``info`` sheet lists them.

Accounts (source -> workbook type): sector activities -> activity; ``c_*``
-> commodity; labour types, ``fcap`` -> factor; ``ent`` -> enterprise;
households -> household; ``gov`` -> government; ``dtax`` -> tax; ``atax`` ->
production_tax; ``mtax`` -> tariff; ``s-i`` -> savings_investment; ``row``
-> rest_of_world.

Sector parameters: manufacturing sectors (every commodity in
:data:`MANUFACTURING`) are ``melitz`` with the package's illustrative sigma
3.8 and k 4.6 (:data:`calibration.south_africa.PARAMETERS`), the others
``armington`` with sigma 2 (k 4, unused), as for the bundled Japanese
workbook (:data:`calibration.build_workbooks.HOSOE_ASSUMPTIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cge.errors import InputError

from .single_country import ROW_SCALE, with_rest_of_world
from .south_africa import (
    CITATION, DEFAULT_SOURCE, PARAMETERS, REGION, read_source_sam, write_parts,
)

MICRO_FILE = "sasam2015_micro_sam_Rmillion.csv"
UNITS = "million ZAR (2015)"
#: Sector parameters by market structure (melitz: as for the macro SAM; armington: as for Japan).
SECTOR_PARAMETERS = {
    "melitz": {"sigma": PARAMETERS["sigma"], "k": PARAMETERS["k"], "delta": 1.0},
    "armington": {"sigma": 2.0, "k": 4.0, "delta": 1.0},
    "krugman": {"sigma": PARAMETERS["sigma"], "k": PARAMETERS["k"], "delta": 1.0},
}
MICRO_CITATION = CITATION.replace("macro SAM", "micro SAM")

#: The source's activities (labels of the Notes sheet).
ACTIVITIES = {
    "aagri": "Agriculture", "afore": "Forestry", "afish": "Fishing",
    "acoal": "Mining of coal and lignite", "agold": "Mining of gold and uranium ore",
    "amore": "Mining of metal ores", "aomin": "Other mining and quarrying", "afood": "Food",
    "abevt": "Beverages and tobacco", "aweav": "Spinning, weaving and finishing of textiles",
    "aknit": "Knitted, crocheted fabrics, wearing apparel, fur articles",
    "aleat": "Tanning and dressing of leather", "afoot": "Footwear",
    "awood": "Sawmilling, planing of wood, cork, straw", "apapr": "Paper",
    "aprnt": "Publishing, printing, recorded media", "apetr": "Coke oven, petroleum refineries",
    "abchm": "Nuclear fuel, basic chemicals", "aochm": "Other chemical products, man-made fibres",
    "arubb": "Rubber", "aplas": "Plastic", "aglss": "Glass", "anmmi": "Non-metallic minerals",
    "abisc": "Basic iron and steel, casting of metals",
    "anfme": "Basic precious and non-ferrous metals", "afabm": "Fabricated metal products",
    "amach": "Machinery and equipment", "aemch": "Electrical machinery and apparatus",
    "ardtv": "Radio, television, communication equipment and apparatus",
    "amopt": "Medical, precision, optical instruments, watches and clocks",
    "amtvp": "Motor vehicles, trailers, parts", "aotrp": "Other transport equipment",
    "afurn": "Furniture", "aomnf": "Manufacturing n.e.c, recycling",
    "aelcg": "Electricity, gas, steam and hot water supply",
    "awatd": "Collection, purification and distribution of water", "acnst": "Construction",
    "awtrd": "Wholesale trade, commission trade", "artrd": "Retail trade",
    "amtvs": "Sale, maintenance, repair of motor vehicles", "aacct": "Hotels and restaurants",
    "altrp": "Land transport, transport via pipe lines", "awtrp": "Water transport",
    "aatrp": "Air transport", "atrps": "Auxiliary transport", "apost": "Post and telecommunication",
    "afins": "Financial intermediation", "ainsp": "Insurance and pension funding",
    "aofin": "Activities auxiliary to financial intermediation", "areal": "Real estate activities",
    "arent": "Renting of machinery and equipment", "acomp": "Computer and related activities",
    "arsea": "Research and experimental development", "aobus": "Other business activities",
    "apuba": "Government", "aeduc": "Education", "aheal": "Health and social work",
    "awast": "Sewerage and refuse disposal", "amorg": "Activities of membership organisations",
    "arecr": "Recreational, cultural and sporting activities", "aoact": "Other activities",
    "anobs": "Non-observed, informal, non-profit, households",
}

#: The default aggregation: sector -> (description, the source's commodities).
SECTORS = {
    "agriculture": ("agriculture, live animals, forestry, fishing", "cagri clani cfore cfish"),
    "mining": ("coal, metal ores, other minerals (incl. crude oil)", "ccoal cmore comin"),
    "food": ("food, beverages, tobacco",
             "cmeat cpfis cvege cfrui cfats cdair cgrai cstar cafee cbake csuga cconf cpast "
             "cofoo calcb csftd ctoba"),
    "textiles": ("textiles, apparel, leather, footwear",
                 "ctexf ctexm ccarp cotex cknit cwear cleat cfoot"),
    "wood_paper": ("wood, paper, printing", "cwood cpapp cprnt"),
    "petroleum": ("petroleum products", "cpetr"),
    "chemicals": ("chemicals, pharmaceuticals, rubber, plastics",
                  "cbchm cfert cpain cphar csoap coche ctyre corub cplas"),
    "minerals": ("glass, ceramics, clay, cement, concrete, other non-metallic",
                 "cglas ccera cclay ccmnt cconc conmp"),
    "metals": ("iron and steel, non-ferrous metals, fabricated metal products",
               "cirst cnfme cstrm ctank cofbm"),
    "machinery": ("machinery, electrical and electronic equipment, instruments",
                  "cengt cpump cgear clift cgenm cspcm cdoma coffm celcm crdtv cmeda"),
    "vehicles": ("motor vehicles, ships, rail, aircraft, other transport equipment",
                 "cmtvp cship crail cairc coteq"),
    "other_manufacturing": ("furniture, jewellery, manufactures n.e.c., waste and scrap",
                            "cfurn cjewl comnf cwast"),
    "utilities": ("electricity, gas, water", "celcg cwatr celcd cwatd"),
    "construction": ("construction and construction services", "ccnst ccsrv"),
    "trade": ("wholesale and retail trade (a margin provider)", "ctrad"),
    "transport": ("passenger, freight (a margin provider) and supporting transport, post",
                  "cptrp cftrp ctrps cpost"),
    "business_services": ("finance, insurance, real estate, renting, R&D, legal, business "
                          "and support services, telecommunications",
                          "cfins cinsp cofin creal crent crsea clacc cobus ctelc csupp cmnfs"),
    "other_services": ("accommodation, catering, public administration, education, health, "
                       "other services", "cacco ccats cpuba ceduc cheal cosrv"),
}
#: Commodity -> sector of the default aggregation (18 sectors, 10 of them manufacturing).
DEFAULT_AGGREGATION = {c: s for s, (_, cs) in SECTORS.items() for c in cs.split()}
#: The source's commodities, in its order.
COMMODITIES = tuple(
    "cagri clani cfore cfish ccoal cmore comin celcg cwatr cmeat cpfis cvege cfrui cfats cdair "
    "cgrai cstar cafee cbake csuga cconf cpast cofoo calcb csftd ctoba ctexf ctexm ccarp cotex "
    "cknit cwear cleat cfoot cwood cpapp cprnt cpetr cbchm cfert cpain cphar csoap coche ctyre "
    "corub cplas cglas ccera cclay ccmnt cconc conmp cfurn cjewl comnf cwast cirst cnfme cstrm "
    "ctank cofbm cengt cpump cgear clift cgenm cspcm cdoma coffm celcm crdtv cmeda cmtvp cship "
    "crail cairc coteq ccnst ccsrv ctrad cacco ccats cptrp cftrp ctrps cpost celcd cwatd cfins "
    "cinsp cofin creal crent crsea clacc cobus ctelc csupp cmnfs cpuba ceduc cheal cosrv".split())
#: Manufactured commodities (the source's ``cmeat`` ... ``coteq``, in its order): a sector made
#: only of these is ``melitz``, any other ``armington``.
MANUFACTURING = frozenset(COMMODITIES[COMMODITIES.index("cmeat"):COMMODITIES.index("coteq") + 1])
LABOUR = {"flab-p": "labour_primary", "flab-m": "labour_middle", "flab-s": "labour_secondary",
          "flab-t": "labour_tertiary"}
HOUSEHOLDS = ("hhd-0", "hhd-1", "hhd-2", "hhd-3", "hhd-4", "hhd-5", "hhd-6", "hhd-7", "hhd-8",
              "hhd-91", "hhd-92", "hhd-93", "hhd-94", "hhd-95")
#: Source account -> workbook account of the accounts that are only renamed.
RENAMED = {"fcap": "capital", "ent": "enterprises", "gov": "government", "atax": "activity_taxes",
           "dtax": "direct_taxes", "mtax": "import_duties", "s-i": "accumulation",
           "row": "rest_of_world"}
#: The workbook's accounts after the sectors' and the factors' (name, type).
OTHER_ACCOUNTS = (("enterprises", "enterprise"), ("households", "household"),
                  ("government", "government"), ("activity_taxes", "production_tax"),
                  ("direct_taxes", "tax"), ("import_duties", "tariff"),
                  ("accumulation", "savings_investment"), ("rest_of_world", "rest_of_world"))
#: Accounts that the mapping steps empty and remove.
REMOVED = ("trc", "stax", "dstk")
SOURCE_ACCOUNTS = (tuple(ACTIVITIES) + ("atax",) + COMMODITIES + ("trc",) + tuple(LABOUR)
                   + ("fcap", "ent") + HOUSEHOLDS + ("gov", "dtax", "mtax", "stax", "s-i", "dstk",
                                                     "row"))
#: The source's margins account (its column buys the margin services).
MARGINS = "trc"
RECORD_COLUMNS = ["step", "from_row", "from_column", "to_row", "to_column", "amount", "reason"]


def read_micro_sam(source: str | Path = DEFAULT_SOURCE) -> pd.DataFrame:
    """The source's micro SAM (rows receive, columns pay; R million), labels as given."""
    return read_source_sam(Path(source) / MICRO_FILE, SOURCE_ACCOUNTS)


def check_aggregation(aggregation: str | Mapping[str, str] = "default") -> dict[str, str]:
    """The commodity -> sector mapping, checked: every source commodity mapped exactly once.

    ``aggregation`` is ``"default"`` (:data:`DEFAULT_AGGREGATION`) or a mapping
    from each of the source's 104 commodity accounts to a sector name. Raises
    :class:`InputError` naming unknown and unmapped accounts.
    """
    if isinstance(aggregation, str):
        if aggregation != "default":
            raise InputError(f"aggregation: expected 'default' or a mapping commodity -> sector, "
                             f"got {aggregation!r}")
        return dict(DEFAULT_AGGREGATION)
    if not isinstance(aggregation, Mapping):
        raise InputError(f"aggregation: expected 'default' or a mapping commodity -> sector, "
                         f"got {type(aggregation).__name__}")
    mapping = {str(c).strip(): s for c, s in aggregation.items()}
    problems = []
    unknown = [c for c in mapping if c not in COMMODITIES]
    if unknown:
        acts = [c for c in unknown if c in ACTIVITIES]
        hint = (f" ({acts} are activities, which need no mapping: they are split into the sectors "
                "they make)") if acts else ""
        problems.append(f"aggregation: unknown commodity accounts {unknown}{hint}")
    unmapped = [c for c in COMMODITIES if c not in mapping]
    if unmapped:
        problems.append(f"aggregation: unmapped commodity accounts {unmapped} (every commodity of "
                        f"{MICRO_FILE} must be mapped to a sector)")
    bad = [c for c, s in mapping.items()
           if not isinstance(s, str) or not s.strip() or s.strip() != s or " " in s]
    if bad:
        problems.append(f"aggregation: commodity accounts {bad} are mapped to an empty sector name "
                        "or one with spaces")
    if problems:
        raise InputError(problems)
    return {c: mapping[c] for c in COMMODITIES}


def default_market_structure(aggregation: Mapping[str, str]) -> dict[str, str]:
    """``melitz`` for sectors made only of manufactured commodities, else ``armington``."""
    sectors = list(dict.fromkeys(aggregation.values()))
    return {s: "melitz" if all(c in MANUFACTURING for c, t in aggregation.items() if t == s)
            else "armington" for s in sectors}


class _Record:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, step, src, dst, amount, reason):
        src, dst = src or ("", ""), dst or ("", "")
        self.rows.append({"step": step, "from_row": src[0], "from_column": src[1],
                          "to_row": dst[0], "to_column": dst[1], "amount": float(amount),
                          "reason": reason})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RECORD_COLUMNS)


def _shift(S: pd.DataFrame, rec: _Record, step: str, src, dst, amount: float, reason: str):
    """Move ``amount`` from cell ``src`` to cell ``dst`` (either may be None) and record it."""
    if src is not None:
        S.loc[src] -= amount
    if dst is not None:
        S.loc[dst] += amount
    rec.add(step, src, dst, amount, reason)


def _empty(S: pd.DataFrame, accounts, step: str) -> None:
    for a in accounts:
        left = float(S.loc[a].abs().sum() + S[a].abs().sum())
        scale = float(S.abs().to_numpy().sum())
        if left > 1e-9 * scale:
            raise InputError(f"{MICRO_FILE}: account {a!r} still has entries after step {step} "
                             f"(sum of absolute values {left:.6g}); the source changed")


def zaf_micro_home_sam(source: str | Path | pd.DataFrame = DEFAULT_SOURCE,
                       aggregation: str | Mapping[str, str] = "default"):
    """The home region's SAM in workbook accounts, the accounts table and the mapping record.

    Returns ``(sam, accounts, record)``; ``record`` has one row per moved
    amount (``step, from_row, from_column, to_row, to_column, amount,
    reason``), steps as in the module docstring.
    """
    agg = check_aggregation(aggregation)
    src = source if isinstance(source, pd.DataFrame) else read_micro_sam(source)
    sectors = list(dict.fromkeys(agg.values()))
    acts = list(ACTIVITIES)
    com = {s: f"c_{s}" for s in sectors}
    act = {s: f"a_{s}" for s in sectors}
    rec = _Record()

    # 1. aggregation: commodities -> sectors, households -> one account, labour renamed
    target = {a: a for a in src.index}
    target.update({c: com[s] for c, s in agg.items()})
    target.update({h: "households" for h in HOUSEHOLDS})
    target.update(LABOUR)
    target.update(RENAMED)
    totals = src.sum(axis=1)
    for a in COMMODITIES:
        rec.add("aggregation", (a, "*"), (target[a], "*"), totals[a],
                f"commodity {a} in sector {agg[a]}")
    for a in HOUSEHOLDS:
        rec.add("aggregation", (a, "*"), ("households", "*"), totals[a],
                "household groups form one household account")
    order = list(dict.fromkeys(target[a] for a in src.index))
    names = np.array([target[a] for a in src.index])
    S = src.groupby(names).sum().T.groupby(names).sum().T.loc[order, order]

    # 2. secondary production, industry technology
    coms = [com[s] for s in sectors]
    V = S.loc[acts, coms]
    g = V.sum(axis=1)
    cost = S[acts].sum(axis=0)
    if (g <= 0).any() or not np.allclose(g, cost, rtol=1e-9, atol=0):
        raise InputError(f"{MICRO_FILE}: activity output (make matrix row) and cost (column "
                         "total) differ, or an activity makes nothing; the source changed")
    new = pd.DataFrame(0.0, index=[act[s] for s in sectors], columns=S.columns)
    S = pd.concat([new, S])
    S = pd.concat([pd.DataFrame(0.0, index=S.index, columns=new.index), S], axis=1)
    shares = V.div(g, axis=0)  # activity x sector
    primary = V.idxmax(axis=1)
    S.loc[:, new.index] = S[acts].to_numpy() @ shares.to_numpy()
    for i in acts:
        for s in sectors:
            v = float(V.loc[i, com[s]])
            if v == 0:
                continue
            kind = "primary" if primary[i] == com[s] else "secondary"
            _shift(S, rec, f"{kind}_production", (i, com[s]), (act[s], com[s]), v,
                   f"{kind} production of {s} by {i} ({ACTIVITIES[i]}); with it "
                   f"{shares.loc[i, com[s]]:.4%} of every entry of column {i} (industry technology)")
    S.loc[:, acts] = 0.0
    _empty(S, acts, "2")
    S = S.drop(index=acts, columns=acts)

    # 3. trade and transport margins: booked on the users of each commodity
    providers = S.loc[coms, MARGINS]
    providers = providers[providers != 0]
    pshare = providers / providers.sum()
    users = [u for u in S.columns if u != MARGINS]
    for s in sectors:
        c = com[s]
        margin = float(S.loc[MARGINS, c])
        if margin == 0:
            continue
        buys = S.loc[c, users]
        buys = buys[buys > 0]
        if margin < 0 or margin >= buys.sum():
            raise InputError(f"{MICRO_FILE}: the margin on {s} ({margin:.6g}) is negative or not "
                             f"below its purchases ({buys.sum():.6g})")
        reason = (f"margin on {s} paid by its users in proportion to their purchases, to the "
                  "margin providers in the proportions of the trc column")
        for u, b in buys.items():
            for p, share in pshare.items():
                _shift(S, rec, "margins", (c, u), (p, u), margin * b / buys.sum() * share, reason)
        _shift(S, rec, "margins", (MARGINS, c), None, margin,
               f"{s} pays no margin (its users buy the margin services)")
    for p, v in providers.items():
        _shift(S, rec, "margins", (p, MARGINS), None, float(v),
               "margin services are bought by the users of the commodities")

    # 4. product taxes -> production tax of the sector's activity
    atax, gov = "activity_taxes", "government"
    reason = "net product taxes treated as a production tax (no sales-tax account type)"
    for s in sectors:
        tax = float(S.loc["stax", com[s]])
        if tax != 0:
            _shift(S, rec, "product_taxes", ("stax", com[s]), (act[s], com[s]), tax, reason)
            _shift(S, rec, "product_taxes", None, (atax, act[s]), tax, reason)
    _shift(S, rec, "product_taxes", (gov, "stax"), (gov, atax), float(S.loc[gov, "stax"]), reason)

    # 5. exports from the commodity row to the activity row
    row = "rest_of_world"
    for s in sectors:
        e = float(S.loc[com[s], row])
        if e != 0:
            _shift(S, rec, "exports", (com[s], row), (act[s], row), e,
                   "exports are booked in the activity row")
            _shift(S, rec, "exports", (act[s], com[s]), None, e,
                   "domestic sales = activity output - exports")
    low = [s for s in sectors if S.loc[act[s], com[s]] <= 0]
    if low:
        raise InputError(f"aggregation: sectors {low} would have no domestic sales (exports "
                         "exceed output); merge them with others")

    # 6. inventories -> investment
    si = "accumulation"
    reason = "changes in inventories are investment demand (merged into s-i)"
    for s in sectors:
        d = float(S.loc[com[s], "dstk"])
        if d != 0:
            _shift(S, rec, "inventories", (com[s], "dstk"), (com[s], si), d, reason)
    _shift(S, rec, "inventories", ("dstk", si), None, float(S.loc["dstk", si]), reason)

    _empty(S, REMOVED, "6")
    accounts = ([(act[s], "activity", s) for s in sectors]
                + [(com[s], "commodity", s) for s in sectors]
                + [(f, "factor", f) for f in LABOUR.values()] + [("capital", "factor", "capital")]
                + [(name, kind, None) for name, kind in OTHER_ACCOUNTS])
    keep = [a for a, _, _ in accounts]
    S = S.loc[keep, keep].copy()
    return (S, pd.DataFrame(accounts, columns=["account", "type", "label"]), rec.frame())


def step_summary(record: pd.DataFrame) -> pd.DataFrame:
    """Per mapping step: the number of records and the amounts moved from one cell to another,
    removed (no target cell: the account is emptied) and added (no source cell)."""
    rows = []
    for step, grp in record.groupby("step", sort=False):
        src, dst = grp["from_row"] != "", grp["to_row"] != ""
        rows.append({"step": step, "records": len(grp),
                     "moved": grp.loc[src & dst, "amount"].sum(),
                     "removed": grp.loc[src & ~dst, "amount"].sum(),
                     "added": grp.loc[~src & dst, "amount"].sum()})
    return pd.DataFrame(rows, columns=["step", "records", "moved", "removed", "added"])


def exporter_shares(sams: Mapping[str, pd.DataFrame], accounts: pd.DataFrame,
                    trade: pd.DataFrame, parameters: pd.DataFrame,
                    default: float | None = None) -> pd.DataFrame:
    r"""``trade`` with an ``exporter_share`` column: the smallest share that gives an iceberg
    cost :math:`\tau \ge 1` on melitz routes where the default share would give
    :math:`\tau < 1`, blank (the default) elsewhere.

    As in :func:`calibration.caliendo_parro.seller_shares`: the calibration
    gives :math:`\tau_{ni} = Q_{ni}^{a} e_{ni}^{b}` with
    :math:`Q_{ni} = (1+t_{ni})^{-\sigma} (E_n/E_i)(X_{ii}/X_{ni})`,
    :math:`a = 1/(\sigma-1)`, :math:`b = a - 1/k`, so the share needed is
    :math:`Q_{ni}^{-a/b}` (times :math:`1 + 10^{-6}`). :math:`E` is the commodity
    column total (tariff-inclusive absorption), :math:`X_{ii}` domestic sales.
    """
    from .calibrate import DEFAULT_EXPORTER_SHARE

    e0 = DEFAULT_EXPORTER_SHARE if default is None else default
    acc = accounts.set_index(["type", "label"])["account"]
    par = parameters.set_index("sector")
    out = trade.copy()
    shares = []
    for row in trade.itertuples(index=False):
        p = par.loc[row.sector]
        if p["market_structure"] != "melitz" or not row.value > 0:
            shares.append(np.nan)
            continue
        a, c = acc["activity", row.sector], acc["commodity", row.sector]
        dst, org = sams[row.destination], sams[row.origin]
        q = ((1 + row.tariff_rate) ** -p["sigma"] * (dst[c].sum() / org[c].sum())
             * (org.loc[a, c] / row.value))
        ea = 1 / (p["sigma"] - 1)
        need = q ** (-ea / (ea - 1 / p["k"])) * (1 + 1e-6)
        shares.append(need if need > e0 else np.nan)
    out["exporter_share"] = shares
    return out


def zaf_micro_workbook_parts(source: str | Path = DEFAULT_SOURCE, *,
                             aggregation: str | Mapping[str, str] = "default",
                             market_structure: str | Mapping[str, str] | None = None,
                             row_scale: float = ROW_SCALE, row_output: str = "leontief"
                             ) -> tuple[dict, pd.DataFrame]:
    """The parts of the ZAF + ROW workbook (for :func:`calibration.write_workbook`) and the
    mapping record of :func:`zaf_micro_home_sam`.

    ``market_structure``: None (manufacturing sectors ``melitz``, the others
    ``armington``), one structure for every sector, or a mapping sector ->
    structure (sectors not named keep the default). ``row_output``: how ROW's
    gross output is set (``output`` of
    :func:`~calibration.single_country.with_rest_of_world`).
    """
    agg = check_aggregation(aggregation)
    home, accounts, record = zaf_micro_home_sam(source, agg)
    ms = default_market_structure(agg)
    if isinstance(market_structure, str):
        ms = dict.fromkeys(ms, market_structure)
    elif market_structure is not None:
        unknown = [s for s in market_structure if s not in ms]
        if unknown:
            raise InputError(f"market_structure: unknown sectors {unknown} (sectors: {list(ms)})")
        ms.update(market_structure)
    bad = {s: m for s, m in ms.items() if m not in SECTOR_PARAMETERS}
    if bad:
        raise InputError(f"market_structure: {bad} not one of {list(SECTOR_PARAMETERS)}")
    sams, trade = with_rest_of_world(home, accounts, home_region=REGION, row_scale=row_scale,
                                     output=row_output)
    parameters = pd.DataFrame([{"sector": s, **SECTOR_PARAMETERS[m], "market_structure": m}
                               for s, m in ms.items()],
                              columns=["sector", "sigma", "k", "market_structure", "delta"])
    trade = exporter_shares(sams, accounts, trade, parameters)
    raised = trade.dropna(subset=["exporter_share"])
    described = {s: SECTORS[s][0] for s in ms if aggregation == "default"}
    info = {
        "name": "south_africa_2015_micro", "units": UNITS, "source": MICRO_CITATION,
        "licence": "NOT verified; do not redistribute or commit (SOURCE.md)",
        "built_by": "python -m calibration.south_africa --micro "
                    "(calibration/south_africa_micro.py)",
        "ZAF": f"the micro SAM in {len(ms)} sectors: commodities aggregated, households merged; "
               "secondary production split by industry technology; trade and transport margins "
               "bought by the users of each commodity; net product taxes as a production tax; "
               "exports moved to the activity row; changes in inventories merged into s-i",
        "aggregation": ("default: " + "; ".join(f"{s}: {d}" for s, d in described.items())
                        if described else "caller's mapping"),
        "ROW": "constructed, not data: ZAF's cost structure, "
               + (f"final demand {row_scale:g} times ZAF's and the gross output its market "
                  "clearing requires (Leontief)" if row_output == "leontief" else
                  f"{row_scale:g} times ZAF's gross output") + ", sector by sector; sells ZAF's "
               "imports and buys its exports; no tariffs; one household buys all final demand; "
               "its foreign savings are minus ZAF's",
        "balancing": "read with balance='ras' (the source balances to 1e-9 R million)",
        "exporter_share": "default (0.25) except on melitz routes where it would give an iceberg "
                          "cost below 1: there the smallest share giving 1 ("
                          + (", ".join(f"{r.origin}->{r.destination} {r.sector} "
                                       f"{r.exporter_share:.4g}" for r in raised.itertuples())
                             or "none") + ")",
        "elasticities": "; ".join(f"{m}: sigma {p['sigma']}, k {p['k']}"
                                  for m, p in SECTOR_PARAMETERS.items()
                                  if m in ms.values()) + " (illustrative)",
    }
    return {"sams": sams, "accounts": accounts, "trade": trade, "parameters": parameters,
            "info": info}, record


def build_zaf_micro_workbook(path: str | Path, source: str | Path = DEFAULT_SOURCE, *,
                             aggregation: str | Mapping[str, str] = "default", **kwargs) -> Path:
    """Write the ZAF + ROW micro workbook (``.xlsx``, or a CSV folder if ``path`` has no
    suffix)."""
    parts, _ = zaf_micro_workbook_parts(source, aggregation=aggregation, **kwargs)
    return write_parts(path, parts)


def zaf_micro_benchmark(source: str | Path = DEFAULT_SOURCE, *,
                        aggregation: str | Mapping[str, str] = "default",
                        workdir: str | Path | None = None, production_taxes: str | None = None,
                        **kwargs):
    """Map, write (to ``workdir`` or a temporary folder) and read back with RAS balancing.

    ``production_taxes``: the reader's reading of the production taxes
    (:func:`calibration.read_workbook`; default ``"tax"``). Returns
    ``(BenchmarkData, mapping record, calibration.ReadReport)``.
    """
    import tempfile

    from .sam import DEFAULT_PRODUCTION_TAXES, read_workbook

    parts, record = zaf_micro_workbook_parts(source, aggregation=aggregation, **kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_parts(Path(workdir or tmp) / "zaf2015_micro.xlsx", parts)
        data, report = read_workbook(path, balance="ras", with_report=True,
                                     production_taxes=production_taxes or DEFAULT_PRODUCTION_TAXES)
    return data, record, report


__all__ = ["read_micro_sam", "check_aggregation", "default_market_structure",
           "zaf_micro_home_sam", "zaf_micro_workbook_parts", "build_zaf_micro_workbook",
           "zaf_micro_benchmark", "step_summary", "DEFAULT_AGGREGATION", "SECTORS",
           "COMMODITIES", "ACTIVITIES", "MANUFACTURING"]
