"""Benchmark: how the pipeline scales, from 10 x 10 to a GTAP-like 60 x 40 (issue 14).

For each size (regions x sectors) a calibrated all-Melitz economy with
input-output links (:func:`random_benchmark`, calibrated with
:func:`calibration.calibrate`) is built (build: calibration, model
construction, start values), its benchmark solved (replication), then every tariff of the largest region cut by 10%. Each
size runs in a fresh subprocess, so that its peak memory (resident set) is its
own. Printed per size (wall seconds, then CPU seconds of the process, steadier on a
busy machine): build, benchmark, shock (seconds of the
``Equilibrium.solve`` call, from new parameter values to result tables),
IPOPT's own time in the shock (all IPOPT calls of the homotopy), the ratio
shock / IPOPT (the pipeline overhead), iterations, NLP compilations, peak
memory, and the issue's goals next to them.

    .venv/bin/python bench/bench_scale.py                    # 10x10 20x15 30x20
    .venv/bin/python bench/bench_scale.py 10x10 60x40        # any sizes
    .venv/bin/python bench/bench_scale.py --all              # 10x10 ... 60x40
    .venv/bin/python bench/bench_scale.py --route-unknowns   # the formulation with route unknowns

Not a test: run it by hand and report the table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

DEFAULT_SIZES = ("10x10", "20x15", "30x20")
ALL_SIZES = ("10x10", "20x15", "30x20", "45x30", "60x40")
#: Goals of issue 14 (wall seconds, GB)
GOAL_OVERHEAD = 1.5          # shock / IPOPT's own time, at 10x10 and 30x20
GOAL_60x40_TOTAL = 120.0     # build + benchmark + shock at 60x40
GOAL_60x40_MEMORY = 4.0      # peak GB at 60x40


def random_benchmark(regions: int, sectors: int, seed: int = 1, mobile: int = 2):
    """A consistent random benchmark (flows in values) with input-output links.

    Gravity trade shares with home bias, random tariffs, Cobb-Douglas
    final-demand and input-output shares, ``mobile`` mobile factors plus one
    sector-specific factor per sector (so that the equilibrium stays interior
    after a shock). Output values solve the linear accounting system
    :math:`Y = M Y` (sales equal costs, spending equals income; no deficits),
    so the data are an equilibrium by construction and the calibrated model
    replicates them.
    """
    import numpy as np

    from calibration.benchmark import BenchmarkData

    rng = np.random.default_rng(seed)
    nR, nS = regions, sectors
    R = [f"R{i:02d}" for i in range(nR)]
    S = [f"S{j:02d}" for j in range(nS)]
    F = ["labour", "capital", "land", "skill"][:mobile] + [f"specific_{s}" for s in S]
    size = rng.lognormal(0.0, 1.0, size=nR)
    pos = rng.uniform(0, 1, size=(nR, 2))
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=2) + 0.1
    tariff = rng.uniform(0.0, 0.15, size=(nR, nR, nS))
    tariff[np.arange(nR), np.arange(nR)] = 0.0
    weight = size[None, :, None] * dist[:, :, None] ** -2.0 * rng.uniform(0.5, 1.5, (nR, nR, nS))
    weight[np.arange(nR), np.arange(nR)] *= 20.0  # home bias
    pi = weight / weight.sum(axis=1, keepdims=True)  # n's spending share on i's s (tariff-incl.)
    beta = rng.dirichlet(np.ones(nS), size=nR)
    io_total = rng.uniform(0.2, 0.5, size=(nR, nS))
    gamma = rng.dirichlet(np.ones(nS), size=(nR, nS)) * io_total[:, :, None]  # (i, s, u)
    va = 1 - io_total
    # Y[i,s] = sum_n pi[n,i,s]/(1+t) (beta[n,s] I_n + sum_u gamma[n,u,s] Y[n,u]),
    # I_n = sum_s va[n,s] Y[n,s] + sum_{i,s} t X[n,i,s]: power iteration on Y.
    net = pi / (1 + tariff)
    Y = np.outer(size, np.ones(nS))
    for _ in range(20000):
        E_int = np.einsum("nus,nu->ns", gamma, Y)
        # income: value added plus tariff revenue, spending E = beta I + E_int;
        # revenue t/(1+t) pi E is linear in I: solve for I per region
        tshare = (pi * tariff / (1 + tariff)).sum(axis=1)  # (n, s)
        I = ((va * Y).sum(axis=1) + (tshare * E_int).sum(axis=1)) / (1 - (tshare * beta).sum(axis=1))
        E = beta * I[:, None] + E_int
        Y_new = np.einsum("nis,ns->is", net, E)
        Y_new *= Y.sum() / Y_new.sum()
        if np.abs(Y_new / Y - 1).max() < 1e-14:
            Y = Y_new
            break
        Y = Y_new
    E_int = np.einsum("nus,nu->ns", gamma, Y)
    tshare = (pi * tariff / (1 + tariff)).sum(axis=1)
    I = ((va * Y).sum(axis=1) + (tshare * E_int).sum(axis=1)) / (1 - (tshare * beta).sum(axis=1))
    E = beta * I[:, None] + E_int
    trade = net * E[:, None, :]
    Y = trade.sum(axis=0)  # sales, exactly
    mobile_split = rng.dirichlet(np.ones(mobile), size=(nR, nS)) * 0.5
    factor_payments = np.zeros((nR, nS, len(F)))
    factor_payments[:, :, :mobile] = (va * Y)[:, :, None] * mobile_split
    factor_payments[:, np.arange(nS), mobile + np.arange(nS)] = 0.5 * va * Y
    intermediate = gamma * Y[:, :, None]
    sigma = rng.uniform(3.0, 5.0, size=nS)
    return BenchmarkData(
        regions=R, sectors=S, factors=F, trade=trade, tariff=tariff,
        factor_payments=factor_payments, intermediate=intermediate,
        final_demand=beta * I[:, None], sigma=sigma, k=sigma - 1 + rng.uniform(1.0, 2.0, nS),
        market_structure="melitz", name=f"random_{nR}x{nS}")


def measure(regions: int, sectors: int, seed: int, route_unknowns: bool | None = None) -> dict:
    """One size, in this process (called in a child): the row of the table."""
    t0 = time.perf_counter()
    import numpy as np

    from cge import Equilibrium

    t_import = time.perf_counter() - t0
    from calibration.calibrate import calibrate, set_start

    data = random_benchmark(regions, sectors, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    prim, start = calibrate(data)
    eq = Equilibrium(prim, route_unknowns=route_unknowns)
    set_start(eq, start)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    eq.solve()
    t_bench, c_bench = time.perf_counter() - t0, time.process_time() - c0
    bench_calls = list(eq.ipopt_calls)
    # the largest region (by factor income) cuts every tariff it levies by 10%
    big = int(np.argmax(prim["endowment"].sum(axis=1)))
    tariff = prim["tariff"].copy()
    tariff[big] *= 0.9
    eq.ipopt_calls.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    eq.solve(tariff=tariff)
    t_shock, c_shock = time.perf_counter() - t0, time.process_time() - c0
    shock_calls = list(eq.ipopt_calls)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KB -> GB
    return {
        "size": f"{regions}x{sectors}", "equations": eq.n_equations(), "import": t_import,
        "build": t_build, "benchmark": t_bench,
        "bench_ipopt": sum(s.solver_time for s in bench_calls),
        "bench_iterations": sum(s.iterations for s in bench_calls),
        "bench_calls": len(bench_calls),
        "shock": t_shock, "shock_ipopt": sum(s.solver_time for s in shock_calls),
        "shock_iterations": sum(s.iterations for s in shock_calls),
        "shock_steps": len(eq.steps), "compilations": eq.compilations,
        "cpu_build": c_build, "cpu_benchmark": c_bench, "cpu_shock": c_shock,
        "cpu_shock_ipopt": sum(s.solver_cpu_time for s in shock_calls),
        "peak_gb": peak,
    }


def _ratio(row: dict, total: str, part: str) -> float:
    return row[total] / row[part] if row[part] > 0 else float("inf")


def run_child(size: str, seed: int, route_unknowns: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", size, "--seed", str(seed)]
    if route_unknowns:
        cmd.append("--route-unknowns")
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", help="regions x sectors, e.g. 10x10 30x20")
    ap.add_argument("--all", action="store_true", help="10x10 to 60x40")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--route-unknowns", action="store_true",
                    help="trade values and cutoffs as unknowns (the formulation before issue 14)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        r, s = (int(x) for x in args.child.lower().split("x"))
        print(json.dumps(measure(r, s, args.seed, True if args.route_unknowns else None)))
        return 0
    sizes = ALL_SIZES if args.all else (args.sizes or DEFAULT_SIZES)
    head = (f"{'size':>7} {'eqs':>7} {'build':>7} {'bench':>7} {'(it)':>5} {'shock':>7} "
            f"{'ipopt':>7} {'ratio':>6} {'(it)':>5} {'steps':>5} {'NLPs':>5} {'peak GB':>8}")
    print("all-Melitz random economy with IO links, seed", args.seed,
          "; wall seconds; shock = 10% cut of the largest region's tariffs;",
          "route unknowns" if args.route_unknowns else "reduced formulation")
    print(head + f" {'CPU: build':>11} {'bench':>7} {'shock':>7} {'ipopt':>7} {'ratio':>6}")
    rows = []
    for size in sizes:
        row = run_child(size, args.seed, args.route_unknowns)
        rows.append(row)
        ratio = row["shock"] / row["shock_ipopt"] if row["shock_ipopt"] > 0 else float("inf")
        print(f"{row['size']:>7} {row['equations']:>7} {row['build']:>7.2f} {row['benchmark']:>7.2f} "
              f"{row['bench_iterations']:>5} {row['shock']:>7.2f} {row['shock_ipopt']:>7.2f} "
              f"{ratio:>6.2f} {row['shock_iterations']:>5} {row['shock_steps']:>5} "
              f"{row['compilations']:>5} {row['peak_gb']:>8.2f} {row['cpu_build']:>11.2f} "
              f"{row['cpu_benchmark']:>7.2f} {row['cpu_shock']:>7.2f} {row['cpu_shock_ipopt']:>7.2f} "
              f"{_ratio(row, 'cpu_shock', 'cpu_shock_ipopt'):>6.2f}", flush=True)
    print("\ngoals (issue 14):")
    for row in rows:
        ratio = row["shock"] / row["shock_ipopt"] if row["shock_ipopt"] > 0 else float("inf")
        if row["size"] in ("10x10", "30x20"):
            cpu = _ratio(row, "cpu_shock", "cpu_shock_ipopt")
            print(f"  {row['size']}: shock / IPOPT = {ratio:.2f} wall, {cpu:.2f} CPU "
                  f"(goal <= {GOAL_OVERHEAD}) {'OK' if min(ratio, cpu) <= GOAL_OVERHEAD else 'MISSED'}")
        if row["size"] == "60x40":
            total = row["build"] + row["benchmark"] + row["shock"]
            print(f"  60x40: build + benchmark + shock = {total:.1f} s (goal < {GOAL_60x40_TOTAL:g}) "
                  f"{'OK' if total < GOAL_60x40_TOTAL else 'MISSED'}; peak {row['peak_gb']:.2f} GB "
                  f"(goal < {GOAL_60x40_MEMORY:g}) "
                  f"{'OK' if row['peak_gb'] < GOAL_60x40_MEMORY else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
