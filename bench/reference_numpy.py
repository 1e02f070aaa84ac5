r"""An independent numpy reference solver for cge's all-Melitz economies (issue 14).

It solves the same general equilibrium as :class:`cge.Equilibrium` for an
economy whose sectors are all ``melitz`` with free entry, written here from
docs/model.md and Melitz and Redding (2014, "Heterogeneous Firms and Trade",
seed 002; MR below) with numpy only: none of cge's model, blocks, compiled
system or solvers is imported. Only the primitives are read (a
:class:`cge.Primitives` or anything with the same attributes), under the same
conventions: the numeraire is a factor price, its region's factor market is
left out (Walras' law) and checked after the solve, and deficits are held as
the primitives' deficit closure says (``world_income_share``: each region's
deficit stays its benchmark share of world factor income; ``numeraire``:
fixed in numeraire units).

The unknowns, all in logarithms (so residuals are relative errors and Newton
steps stay positive), are per region and sector the price index
:math:`P_{ns}`, the mass of entrants :math:`M_{E,is}` and the expenditure
:math:`X_{ns}`, per region and factor the factor price :math:`w_{if}`, and per
region income :math:`I_n`: :math:`3NS + NF + N` unknowns (45 for cge's 3 x 3
random economy with two mobile and three sector-specific factors). Everything
else is a closed form of them:

.. math::
    \ln c_{is} &= \ln(1+t^P_{is}) + \sum_f \alpha_{isf}\ln\frac{w_{if}}{\alpha_{isf}}
        + \sum_u \gamma_{isu}\ln\frac{P_{iu}}{\gamma_{isu}}
        \quad\text{(Cobb-Douglas unit cost of the composite input)}\\
    (\varphi^*_{nis})^{\sigma-1} &= \frac{\sigma c_{is} f_{nis} (1+t_{nis})^{\sigma}}
        {a_{nis} X_{ns} P_{ns}^{\sigma-1}}
        \left(\frac{\tau_{nis} c_{is}}{\rho}\right)^{\sigma-1}
        \quad\text{(zero-cutoff profits, MR eq. 6 with a tariff)}\\
    X_{nis} &= \frac{M_{E,is}}{\delta_s}\left(\frac{\varphi_{\min,is}}{\varphi^*_{nis}}\right)^{k}
        \frac{\sigma k}{k-\sigma+1} c_{is} f_{nis}
        \quad\text{(MR eq. 20: c.i.f. sales, net of the tariff)}

so that :math:`\ln X_{nis}` and :math:`\ln(\varphi_{\min}/\varphi^*)^k` are
*affine* in the unknowns: their Jacobians are constant matrices built once per
economy, and the Jacobian of the system is those matrices weighted by the
current shares (analytic, no finite differences). The equations:

.. math::
    \sum_n f_{nis}\left(\frac{\varphi_{\min,is}}{\varphi^*_{nis}}\right)^k
        &= \delta_s f_{E,is}\frac{k-\sigma+1}{\sigma-1}
        \quad\text{(free entry, MR eq. 16 with Pareto)}\\
    \sum_i (1+t_{nis}) X_{nis} &= X_{ns}
        \quad\text{(demand adds up: with zero-cutoff profits this is the
        Pareto price index, MR eq. 9)}\\
    X_{ns} &= \beta_{ns} I_n + \sum_u \gamma_{nus} V_{nu},\qquad
        V_{is} = \frac{c_{is}Y_{is}}{1+t^P_{is}}
        = \frac{1}{1+t^P_{is}}\Big[\frac{\sigma k-\sigma+1}{\sigma k}\sum_n X_{nis}
        + c_{is} f_{E,is} M_{E,is}\Big]\\
    \sum_s \alpha_{isf} V_{is} &= w_{if}\bar L_{if}
        \quad\text{(factor markets; the numeraire's one left out)},\qquad w_{\text{num}} = \bar p\\
    I_n &= \sum_f w_{nf}\bar L_{nf} + \sum_{s,i} t_{nis} X_{nis}
        + \sum_s t^P_{ns} V_{ns} + D_n\kappa

where :math:`c_{is}Y_{is}` is variable cost :math:`\rho\sum_n X_{nis}`, fixed
costs :math:`c_{is}\sum_n f_{nis}M_{nis} = \frac{k-\sigma+1}{\sigma k}\sum_n X_{nis}`
and entry costs; :math:`\kappa = \bar p` at the benchmark and, under
``world_income_share``, :math:`\bar p\,W/W^0` afterwards with world factor
income :math:`W = \sum_{m,f} w_{mf}\bar L_{mf}`. Newton's method with a
backtracking line search on the residual solves the system; a shock starts
from the benchmark solution (as cge's does).

Scope: ``melitz`` sectors with free entry, the default closure of final
demand, a factor price as numeraire, every route active (finite
:math:`\tau`). Anything else is refused with :class:`Unsupported`.

Command line (prints the benchmark and a tariff cut; ``--compare`` also
solves it with cge and prints the largest relative differences)::

    python bench/reference_numpy.py --regions 3 --sectors 3 --seed 0 --cut 0.1 [--compare]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Reference", "Solution", "Unsupported", "solve_tariff_change"]

#: Largest absolute residual (relative error of an equation in logarithms) at a solution.
TOL = 1e-12


class Unsupported(ValueError):
    """The economy is outside the reference's scope (named in the message)."""


class NewtonFailure(RuntimeError):
    """Newton's method did not converge."""


def _xlogx(a: np.ndarray) -> np.ndarray:
    """a ln a with 0 ln 0 = 0 (Cobb-Douglas constants)."""
    return np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)


def _logsumexp(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """ln sum exp(a) over ``axis`` and the weights exp(a)/sum exp(a)."""
    top = a.max(axis=axis, keepdims=True)
    e = np.exp(a - top)
    total = e.sum(axis=axis, keepdims=True)
    return np.squeeze(np.log(total) + top, axis=axis), e / total


@dataclass
class Solution:
    """One equilibrium of the reference: levels as numpy arrays (n destination, i origin,
    s sector, f factor)."""

    z: np.ndarray
    factor_price: np.ndarray     # (N, F) w_if
    price_index: np.ndarray      # (N, S) P_ns
    entry_mass: np.ndarray       # (N, S) M_E,is
    expenditure: np.ndarray      # (N, S) X_ns
    income: np.ndarray           # (N,)   I_n
    input_price: np.ndarray      # (N, S) c_is
    cutoff: np.ndarray           # (N, N, S) phi*_nis
    trade_value: np.ndarray      # (N, N, S) X_nis (c.i.f., net of the tariff)
    cpi: np.ndarray              # (N,) prod_s P_ns^beta_ns
    real_income: np.ndarray      # (N,) I_n / CPI_n (welfare)
    world_income: float          # sum_mf w_mf L_mf
    walras_residual: float       # relative excess demand in the factor market left out
    iterations: int
    max_residual: float


class Reference:
    """The reference system of one economy: its data and the constant matrices.

    ``Reference(prim)`` reads the primitives and builds the (constant) Jacobians of
    the log route quantities; :meth:`benchmark` solves the benchmark from a
    closed-economy guess; :meth:`solve` solves at another tariff from a solution.
    """

    def __init__(self, prim):
        self._read(prim)
        self._structure()

    # ----------------------------------------------------------------- data
    def _read(self, prim) -> None:
        problems = []
        for s in prim.sectors:
            if prim.market_structure[s] != "melitz":
                problems.append(f"market_structure[{s}] = {prim.market_structure[s]}: only melitz")
            if prim.entry[s] != "free":
                problems.append(f"entry[{s}] = {prim.entry[s]}: only free entry")
        if not prim.closure.is_default:
            problems.append(f"closure ({prim.closure.describe()}): only the default closure "
                            "of final demand")
        if prim.closure.deficit not in ("world_income_share", "numeraire"):
            problems.append(f"deficit closure {prim.closure.deficit}: only world_income_share "
                            "or numeraire")
        if prim.numeraire.kind != "factor":
            problems.append(f"numeraire ({prim.numeraire.describe()}): only a factor price")
        if not np.isfinite(prim["tau"]).all():
            problems.append("tau: every route must be active (finite)")
        if problems:
            raise Unsupported("; ".join(problems))
        self.regions, self.sectors, self.factors = prim.regions, prim.sectors, prim.factors
        self.N, self.S, self.F = len(prim.regions), len(prim.sectors), len(prim.factors)
        g = lambda name: np.asarray(prim[name], dtype=float)  # noqa: E731
        self.sigma, self.k, self.delta = g("sigma"), g("k"), g("delta")
        self.beta, self.endowment = g("beta"), g("endowment")
        self.alpha, self.gamma = g("factor_share"), g("input_share")
        self.phi_min, self.f_e, self.f = g("phi_min"), g("f_e"), g("f")
        self.tau, self.pref = g("tau"), g("pref_weight")
        self.ptax, self.deficit = g("production_tax"), g("deficit")
        self.tariff = g("tariff")
        self.deficit_closure = prim.closure.deficit
        num = prim.numeraire
        self.numeraire = (prim.regions.index(num.region), prim.factors.index(num.label))
        self.pbar = float(num.value)

    # ------------------------------------------------------------ structure
    def _structure(self) -> None:
        """Offsets of the unknowns and the constant Jacobians of ln c, ln S and ln X."""
        N, S, F = self.N, self.S, self.F
        sig, k = self.sigma, self.k
        self.oP, self.oM, self.oX = 0, N * S, 2 * N * S
        self.oW, self.oY = 3 * N * S, 3 * N * S + N * F
        nz = self.nz = 3 * N * S + N * F + N
        idx_ns = np.arange(N * S).reshape(N, S)
        eye = np.eye(nz)
        self.E_p = eye[self.oP + idx_ns]                        # (N, S, nz)
        self.E_m = eye[self.oM + idx_ns]
        self.E_x = eye[self.oX + idx_ns]
        self.E_w = eye[self.oW + np.arange(N * F).reshape(N, F)]  # (N, F, nz)
        self.E_y = eye[self.oY + np.arange(N)]                   # (N, nz)
        # d ln c_is / dz: alpha_isf on ln w_if, gamma_isu on ln P_iu
        C = np.einsum("isf,ifz->isz", self.alpha, self.E_w)
        C += np.einsum("isu,iuz->isz", self.gamma, self.E_p)
        self.C = C
        theta = k / (sig - 1)
        # ln S_nis = ln (phi_min/phi*)^k
        #          = theta (ln X_ns + (sigma-1) ln P_ns) - k sigma/(sigma-1) ln c_is + constant
        LS = (theta[None, None, :, None] * self.E_x[:, None, :, :]
              + k[None, None, :, None] * self.E_p[:, None, :, :]
              - (k * sig / (sig - 1))[None, None, :, None] * C[None, :, :, :])
        self.LS = LS  # (N, N, S, nz)
        self.LX = LS + (self.E_m + C)[None, :, :, :]  # ln X_nis = ln S + ln M_E + ln c + const.
        self.cost_share = (sig * k - sig + 1) / (sig * k)  # (variable + fixed costs) / sales
        self.fe_rhs = np.log(self.delta * self.f_e * (k - sig + 1) / (sig - 1))  # (N, S)
        self.lnL = np.log(self.endowment)
        self.uses = (self.alpha > 0).any(axis=1)                 # (N, F): factor used in i

    def constants(self, tariff: np.ndarray, tau: np.ndarray | None = None) -> dict:
        """The intercepts that depend on the parameters a shock may change (the tariff;
        iceberg costs for the benchmark's continuation)."""
        sig, k, delta = self.sigma, self.k, self.delta
        tau = self.tau if tau is None else tau
        rho = (sig - 1) / sig
        t = np.asarray(tariff, dtype=float)
        c0 = (np.log1p(self.ptax) - _xlogx(self.alpha).sum(axis=2)
              - _xlogx(self.gamma).sum(axis=2))
        log_cut = ((np.log(sig) + np.log(self.f) + sig * np.log1p(t) - np.log(self.pref))
                   / (sig - 1) + np.log(tau) - np.log(rho))       # ln phi* less its variable part
        lS0 = k * np.log(self.phi_min)[None] - k * log_cut - (k * sig / (sig - 1)) * c0[None]
        lX0 = (lS0 - np.log(delta) + np.log(sig * k / (k - sig + 1)) + np.log(self.f)
               + c0[None])
        return {"t": t, "c0": c0, "lS0": lS0, "lX0": lX0, "lnf": np.log(self.f),
                "ln1pt": np.log1p(t)}

    # ------------------------------------------------------------ equations
    def _unpack(self, z):
        N, S, F = self.N, self.S, self.F
        return (z[self.oP:self.oM].reshape(N, S), z[self.oM:self.oX].reshape(N, S),
                z[self.oX:self.oW].reshape(N, S), z[self.oW:self.oY].reshape(N, F),
                z[self.oY:])

    def evaluate(self, z, K, kappa_mode, world0=None, jacobian=True):
        """Residuals (and the Jacobian) at ``z``; ``kappa_mode`` 'numeraire' values the
        deficit at the numeraire, 'world' at pbar W/world0."""
        p, m, x, w, y = self._unpack(z)
        lc = np.tensordot(self.C, z, axes=(2, 0)) + K["c0"]                 # (N, S)
        lS = np.tensordot(self.LS, z, axes=(3, 0)) + K["lS0"]               # (N, N, S)
        lX = np.tensordot(self.LX, z, axes=(3, 0)) + K["lX0"]
        fe, om_fe = _logsumexp(K["lnf"] + lS, axis=0)                       # over n: (N_i, S)
        pi, om_pi = _logsumexp(K["ln1pt"] + lX, axis=1)                     # over i: (N_n, S)
        X = np.exp(lX)
        cfM = np.exp(lc + m) * self.f_e
        V = (self.cost_share * X.sum(axis=0) + cfM) / (1 + self.ptax)       # (N_i, S)
        I = np.exp(y)
        d_ex = self.beta * I[:, None] + np.einsum("nus,nu->ns", self.gamma, V)
        d_fm = np.einsum("isf,is->if", self.alpha, V)
        wL = np.exp(w) * self.endowment
        W = wL.sum()
        if kappa_mode == "world":
            kappa = self.pbar * W / world0
        else:
            kappa = self.pbar
        tX = K["t"] * X
        total = (wL.sum(axis=1) + tX.sum(axis=(1, 2)) + (self.ptax * V).sum(axis=1)
                 + self.deficit * kappa)
        r_fe = fe - self.fe_rhs
        r_pi = pi - x
        r_ex = x - np.log(d_ex)
        r_fm = np.log(np.where(self.uses, d_fm, 1.0)) - w - self.lnL
        a, b = self.numeraire
        r_fm[a, b] = w[a, b] - np.log(self.pbar)
        r_in = y - np.log(total)
        r = np.concatenate([r_fe.ravel(), r_pi.ravel(), r_ex.ravel(), r_fm.ravel(), r_in])
        info = {"V": V, "d_fm": d_fm, "W": W, "X": X, "lc": lc, "lS": lS, "I": I, "total": total}
        if not jacobian:
            return r, None, info
        nz = self.nz
        J_fe = np.einsum("nis,nisz->isz", om_fe, self.LS)
        J_pi = np.einsum("nis,nisz->nsz", om_pi, self.LX) - self.E_x
        dV = (self.cost_share[None, :, None] * np.einsum("nis,nisz->isz", X, self.LX)
              + cfM[:, :, None] * (self.C + self.E_m)) / (1 + self.ptax)[:, :, None]
        J_ex = self.E_x - ((self.beta * I[:, None])[:, :, None] * self.E_y[:, None, :]
                           + np.einsum("nus,nuz->nsz", self.gamma, dV)) / d_ex[:, :, None]
        J_fm = (np.einsum("isf,isz->ifz", self.alpha, dV)
                / np.where(self.uses, d_fm, 1.0)[:, :, None] - self.E_w)
        J_fm[a, b] = self.E_w[a, b]
        d_total = (np.einsum("nf,nfz->nz", wL, self.E_w)
                   + np.einsum("nis,nisz->nz", tX, self.LX)
                   + np.einsum("ns,nsz->nz", self.ptax, dV))
        if kappa_mode == "world" and self.deficit.any():
            dkappa = self.pbar / world0 * np.einsum("mf,mfz->z", wL, self.E_w)
            d_total = d_total + self.deficit[:, None] * dkappa[None, :]
        J_in = self.E_y - d_total / total[:, None]
        J = np.concatenate([J_fe.reshape(-1, nz), J_pi.reshape(-1, nz), J_ex.reshape(-1, nz),
                            J_fm.reshape(-1, nz), J_in])
        return r, J, info

    # --------------------------------------------------------------- solving
    def newton(self, z, K, kappa_mode, world0=None, tol=TOL, max_iter=100):
        """Newton's method with a backtracking line search on the residual's 2-norm."""
        r, J, info = self.evaluate(z, K, kappa_mode, world0)
        norm = np.linalg.norm(r)
        for it in range(max_iter + 1):
            if np.max(np.abs(r)) <= tol:
                return z, it, info, float(np.max(np.abs(r)))
            if it == max_iter:
                break
            dz = np.linalg.solve(J, -r)
            step = 1.0
            while True:
                trial = z + step * dz
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    r_t, J_t, info_t = self.evaluate(trial, K, kappa_mode, world0)
                norm_t = np.linalg.norm(r_t)
                if np.isfinite(norm_t) and norm_t <= (1 - 1e-4 * step) * norm:
                    break
                step /= 2
                if step < 1e-10:
                    raise NewtonFailure(f"line search failed at iteration {it} "
                                        f"(residual {np.max(np.abs(r)):.3e})")
            z, r, J, info, norm = trial, r_t, J_t, info_t, norm_t
        raise NewtonFailure(f"no convergence in {max_iter} iterations "
                            f"(residual {np.max(np.abs(r)):.3e})")

    def guess(self) -> np.ndarray:
        """Closed-economy start: factor prices and price indices at the numeraire value,
        absorption from the input-output system, entrants from the closed-economy formula
        M_E = (sigma-1) X/(sigma k c f_E), price indices from domestic free entry."""
        N, S = self.N, self.S
        sig, k = self.sigma, self.k
        lp = np.log(self.pbar)
        K = self.constants(self.tariff)
        z = np.zeros(self.nz)
        z[self.oW:self.oY] = lp
        z[self.oP:self.oM] = lp
        lc = np.tensordot(self.C, z, axes=(2, 0)) + K["c0"]
        income = self.pbar * (self.endowment.sum(axis=1) + self.deficit)
        absorption = np.empty((N, S))
        for n in range(N):
            absorption[n] = np.linalg.solve(
                np.eye(S) - (self.gamma[n] / (1 + self.ptax[n])[:, None]).T,
                self.beta[n] * income[n])
        lx = np.log(absorption)
        lm = np.log((sig - 1) * absorption / (sig * k * np.exp(lc) * self.f_e))
        # domestic free entry: ln f_ii + ln S_ii = fe_rhs, ln S affine in ln P
        ii = np.arange(N)
        # (lS0 already holds the constant c0 of ln c)
        lS_wo_p = (k / (sig - 1) * lx - k * sig / (sig - 1) * (lc - K["c0"]) + K["lS0"][ii, ii])
        lpi = (self.fe_rhs - K["lnf"][ii, ii] - lS_wo_p) / k
        z[self.oP:self.oM] = lpi.ravel()
        z[self.oM:self.oX] = lm.ravel()
        z[self.oX:self.oW] = lx.ravel()
        z[self.oY:] = np.log(income)
        return z

    def benchmark(self, autarky_factor: float = 3.0, min_step: float = 1e-3,
                  direct: bool = True) -> Solution:
        """The benchmark equilibrium (deficits valued at the numeraire).

        Newton from :meth:`guess` (unless ``direct`` is False); if that fails, from the
        economy near autarky (every foreign iceberg cost times ``autarky_factor``, where
        the closed-economy guess is close), stepping the iceberg costs back to the data
        geometrically (the step doubled after a success, halved after a failure).
        """
        K = self.constants(self.tariff)
        if direct:
            try:
                z, it, info, res = self.newton(self.guess(), K, "numeraire", max_iter=40)
                return self._solution(z, K, info, it, res)
            except NewtonFailure:
                pass
        foreign = ~np.eye(self.N, dtype=bool)[:, :, None]
        scale = lambda lam: np.where(foreign, autarky_factor ** (1 - lam), 1.0)  # noqa: E731
        z = self.guess()
        z, it, info, res = self.newton(z, self.constants(self.tariff, self.tau * scale(0.0)),
                                       "numeraire")
        lam, step, total = 0.0, 0.25, it
        while lam < 1.0:
            trial = min(1.0, lam + step)
            K = self.constants(self.tariff, self.tau * scale(trial))
            try:
                z_new, it, info, res = self.newton(z, K, "numeraire", max_iter=30)
            except NewtonFailure:
                step /= 2
                if step < min_step:
                    raise
                continue
            z, lam, total = z_new, trial, total + it
            step = min(2 * step, 1.0)
        return self._solution(z, K, info, total, res)

    def solve(self, tariff, start: Solution, benchmark: Solution | None = None) -> Solution:
        """The equilibrium at ``tariff`` by Newton's method from the solution ``start``;
        deficits held as the deficit closure says relative to ``benchmark`` (default
        ``start``)."""
        benchmark = start if benchmark is None else benchmark
        K = self.constants(tariff)
        mode = "world" if self.deficit_closure == "world_income_share" else "numeraire"
        z, it, info, res = self.newton(start.z.copy(), K, mode, benchmark.world_income)
        return self._solution(z, K, info, it, res)

    def _solution(self, z, K, info, iterations, max_residual) -> Solution:
        p, m, x, w, y = self._unpack(z)
        a, b = self.numeraire
        supply = np.exp(w[a, b]) * self.endowment[a, b]
        walras = (info["d_fm"][a, b] - supply) / supply
        P = np.exp(p)
        cpi = np.exp((np.where(self.beta > 0, self.beta, 0.0) * p).sum(axis=1))
        return Solution(
            z=z, factor_price=np.exp(w), price_index=P, entry_mass=np.exp(m),
            expenditure=np.exp(x), income=np.exp(y), input_price=np.exp(info["lc"]),
            cutoff=self.phi_min[None] * np.exp(-info["lS"] / self.k),
            trade_value=info["X"], cpi=cpi, real_income=np.exp(y) / cpi,
            world_income=float(info["W"]), walras_residual=float(walras),
            iterations=iterations, max_residual=max_residual)


def solve_tariff_change(prim, tariff) -> tuple[Solution, Solution]:
    """Benchmark and counterfactual at ``tariff`` of the primitives ``prim``."""
    ref = Reference(prim)
    base = ref.benchmark()
    return base, ref.solve(tariff, start=base)


# -------------------------------------------------------------------- CLI
def _cge_values(res, prim) -> dict[str, np.ndarray]:
    """The quantities the reference computes, read from a cge Results (same axes)."""
    R, S, F = prim.regions, prim.sectors, prim.factors
    fac = res.factors["factor_price"].unstack("factor").loc[list(R), list(F)].to_numpy()
    sec = res.sectors
    get = lambda col: sec[col].unstack("sector").loc[list(R), list(S)].to_numpy()  # noqa: E731
    routes = res.routes["cutoff"]
    cut = np.array([[[routes[(n, i, s)] for s in S] for i in R] for n in R])
    return {"factor_price": fac, "price_index": get("price_index"),
            "entry_mass": get("entry_mass"), "expenditure": get("expenditure"),
            "cutoff": cut, "income": res.regions["income"].loc[list(R)].to_numpy(),
            "real_income": res.regions["real_income"].loc[list(R)].to_numpy()}


def compare(ref: Solution, cge_values: dict) -> dict[str, float]:
    """Largest relative difference per quantity between the reference and cge."""
    return {name: float(np.max(np.abs(getattr(ref, name) / val - 1)))
            for name, val in cge_values.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=3)
    ap.add_argument("--sectors", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cut", type=float, default=0.1, help="proportional tariff cut (0.1: 10%%)")
    ap.add_argument("--region", default=None,
                    help="only this region cuts its tariffs (default: every region)")
    ap.add_argument("--compare", action="store_true", help="also solve with cge and compare")
    args = ap.parse_args(argv)
    from cge.examples import random_economy  # the primitives only

    prim = random_economy(args.regions, args.sectors, seed=args.seed, io=True,
                          market_structure="melitz")
    tariff = prim["tariff"].copy()
    if args.region is None:
        tariff *= 1 - args.cut
    else:
        tariff[prim.regions.index(args.region)] *= 1 - args.cut
    t0 = time.perf_counter()
    ref = Reference(prim)
    base = ref.benchmark()
    t1 = time.perf_counter()
    cut = ref.solve(tariff, start=base)
    t2 = time.perf_counter()
    print(f"reference: {prim.name}, seed {args.seed}, {ref.nz} unknowns; benchmark "
          f"{base.iterations} Newton iterations ({t1 - t0:.4f} s with reading), tariff cut "
          f"{cut.iterations} iterations ({t2 - t1:.4f} s); max residual {cut.max_residual:.1e}, "
          f"Walras {cut.walras_residual:.1e}")
    print("welfare change %:", np.round(100 * (cut.real_income / base.real_income - 1), 6))
    print("factor prices:\n", np.round(cut.factor_price, 8))
    if args.compare:
        from cge import Equilibrium

        eq = Equilibrium(prim)
        eq.solve()
        res = eq.solve(tariff=tariff)
        diffs = compare(cut, _cge_values(res, prim))
        for name, d in diffs.items():
            print(f"  {name:<14} largest relative difference from cge {d:.2e}")


if __name__ == "__main__":
    main()
