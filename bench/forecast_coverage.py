"""How often trends.py's forecast intervals hold what then happens (a benchmark, not a test).

Daily series come from generate_data.py's own shaping (growth, a weekly shape, day-level
multiplicative shocks and Poisson-sized noise: shaped_budgets, the daily event counts it writes).
From outer origins every 7 days, trends.forecast_series forecasts the next --horizon days exactly
as trends.py does (its own rolling-origin backtest, model choice and calibrated intervals, on the
history up to the origin only), and the days that then happened are scored: the share inside the
80% and the 95% interval, and the published forecast's MASE against seasonal-naive's from the same
origins. Beside them, the coverage the inner backtest estimated (backtest coverage80/95).

    python bench/forecast_coverage.py [--seeds 10] [--horizon 14] [--days 120]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sparkify_dwh import (
    demo_data,
    trends,
)

# (weekly amplitude, linear growth a day, shock sd): the shapes measured
SHAPES = [(0.3, 0.01, 0.1), (0.3, 0.005, 0.2), (0.5, 0.0, 0.15), (0.2, -0.003, 0.1)]
EVENTS_A_DAY = 1_500
START = dt.date(2018, 11, 1)


def series(weekly: float, trend: float, shocks: float, days: int, seed: int) -> np.ndarray:
    """A daily series as generate_data.py shapes its event counts."""
    args = argparse.Namespace(days=days, start=START, events=EVENTS_A_DAY * days, weekly=weekly, trend=trend,
                              random_walk=0.0, shocks=shocks)
    return np.array(demo_data.shaped_budgets(random.Random(seed), args), dtype=float)


def outer_origins(days: int, horizon: int) -> list[int]:
    """Every 7 days back from the last full horizon, each with the history a forecast needs."""
    return sorted(range(days - horizon, trends.needed_days(horizon) - 1, -7))


def evaluate(values: np.ndarray, horizon: int) -> dict[str, list[float]]:
    """Scores of trends' forecasts from each outer origin of one series."""
    days = [START + dt.timedelta(d) for d in range(len(values))]
    out: dict[str, list[float]] = {"in80": [], "in95": [], "mase": [], "mase_naive": [], "cov80": [], "cov95": [],
                                   "model": []}
    for origin in outer_origins(len(values), horizon):
        history, actual = values[:origin], values[origin:origin + horizon]
        entry, rows = trends.forecast_series(history, days[:origin], horizon)
        lo80, hi80, lo95, hi95, point = (np.array([r[k] for r in rows]) for k in ("lo80", "hi80", "lo95", "hi95",
                                                                                  "value"))
        out["in80"] += list((actual >= lo80) & (actual <= hi80))
        out["in95"] += list((actual >= lo95) & (actual <= hi95))
        out["mase"].append(trends.mase(actual, point, history))
        out["mase_naive"].append(trends.mase(actual, trends.seasonal_naive(history, horizon), history))
        out["cov80"].append(entry["coverage80"])
        out["cov95"].append(entry["coverage95"])
        out["model"].append(entry["model"] == trends.MODEL)
    return out


def known_mean(values: list[float | None]) -> float:
    """The mean of the estimates the backtest could make (None: too few inner origins)."""
    return float(np.mean([v for v in values if v is not None]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="series per shape (default: 10)")
    parser.add_argument("--horizon", type=int, default=14, help="days forecast (default: 14)")
    parser.add_argument("--days", type=int, default=120, help="days per series (default: 120)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows, total = [], {"in80": [], "in95": [], "mase": [], "mase_naive": [], "cov80": [], "cov95": [], "model": []}
    for shape, (weekly, trend, shocks) in enumerate(SHAPES):
        scores: dict[str, list[float]] = {k: [] for k in total}
        for seed in range(1000 * shape, 1000 * shape + args.seeds):  # no shocks shared between shapes
            for key, values in evaluate(series(weekly, trend, shocks, args.days, seed), args.horizon).items():
                scores[key] += values
        for key in total:
            total[key] += scores[key]
        rows.append((f"weekly {weekly:g}, growth {trend:+g}/day, shocks {shocks:g}", scores))
    rows.append(("all", total))
    points = outer_origins(args.days, args.horizon)
    print(f"{args.seeds} series per shape, {args.days} days, horizon {args.horizon}, outer origins every 7 days"
          f" (days {points[0]} to {points[-1]})"
          f" ({time.perf_counter() - started:.0f} s)\n")
    print("| series | days scored | 80% interval covers | 95% interval covers | backtest's own estimate (80/95)"
          " | MASE published / seasonal-naive | model published |")
    print("|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {len(s['in80'])} | {np.mean(s['in80']):.1%} | {np.mean(s['in95']):.1%} |"
              f" {known_mean(s['cov80']):.1%} / {known_mean(s['cov95']):.1%} |"
              f" {np.mean(s['mase']):.3f} / {np.mean(s['mase_naive']):.3f} | {np.mean(s['model']):.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
