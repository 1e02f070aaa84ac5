"""Shared test helper: the benchmark flows a solved model states, compared with the data."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from cge.tolerance import limit

# Flows recomputed from a solution through up to 100 equations (cge.tolerance).
REL = limit(terms=100)


def model_flows(eq, data) -> dict[str, np.ndarray]:
    """Benchmark flows as the solved model states them, shaped like ``data``'s arrays."""
    m = eq.model
    R, S, F = data.regions, data.sectors, data.factors
    ri = {r: k for k, r in enumerate(R)}
    v = pyo.value
    X = np.zeros_like(data.trade)
    T = np.zeros_like(data.final_demand)
    cY = np.zeros_like(data.final_demand)
    for j, s in enumerate(S):
        blk = m.sector[s]
        for (n, i), log_x in blk.log_trade_value.items():  # a Var or a closed-form Expression
            X[ri[n], ri[i], j] = np.exp(v(log_x))
        for r in R:
            T[ri[r], j] = blk.tariff_revenue[r].value
            cY[ri[r], j] = np.exp(blk.log_input_price[r].value + blk.log_input_demand[r].value)
    alpha = np.array([[[v(m.factor_share[r, s, f]) for f in F] for s in S] for r in R])
    gamma = np.array([[[v(m.input_share[r, s, u]) for u in S] for s in S] for r in R])
    beta = np.array([[v(m.beta[r, s]) for s in S] for r in R])
    income = np.array([v(m.income[r]) for r in R])
    tp = np.array([[v(m.production_tax[r, s]) for s in S] for r in R])
    net = cY / (1 + tp)  # factors and intermediate inputs are paid net of production taxes
    return {"trade": X, "factor_payments": alpha * net[:, :, None],
            "intermediate": gamma * net[:, :, None], "final_demand": beta * income[:, None],
            "tariff_revenue": T, "production_tax": tp * net}


def assert_flows_match(eq, data, rel=REL):
    got = model_flows(eq, data)
    want = {"trade": data.trade, "factor_payments": data.factor_payments,
            "intermediate": data.intermediate, "final_demand": data.final_demand,
            "tariff_revenue": data.tariff_revenue(), "production_tax": data.production_tax}
    for name, w in want.items():
        g = got[name]
        scale = np.maximum(np.abs(w), 1e-12 * max(np.abs(w).max(), 1.0))
        err = np.abs(g - w) / scale
        err[(w == 0) & (g == 0)] = 0
        assert err.max() <= rel, f"{name}: relative error {err.max():.3e}"
