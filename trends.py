"""Forecast daily plays, active users and paid subscribers; rank the trending songs and artists.

Reads small daily aggregates of the analytics layer (hour_plays, user_days, user_levels) and fills
the calendar (a day without activity has no plays and no active users). Each series gets a
Holt-Winters forecast (additive damped trend, additive weekly season) when a rolling-origin backtest
at the published horizon shows it beats seasonal-naive on mean MASE; otherwise seasonal-naive is
published. Either way the intervals come from the published method's own backtest errors at each
horizon step (conformal quantiles of log-ratio errors), and the backtest's empirical coverage of
them is reported. Trending songs and artists: an exact binomial test of the last 7 days of the data
against the 21 before, given each one's plays in both and adjusted for overall traffic, with the
false-discovery rate controlled by Benjamini-Hochberg; the significant ones are ranked by a score
shrunk towards "no change". Everything is stored as one trend run in the warehouse (trend_runs,
trend_backtests, trend_forecasts, trending), with the load it was computed from.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import closing
from typing import Any

from sparkify_dwh import cli, console, settings, warehouse
from sparkify_dwh.trends import MAX_HORIZON, SERIES, compute_trends

# --------------------------------------------------------------------------- output


def summary_text(document: dict[str, Any], seconds: float) -> str:
    parts = [f"Trend run {document['trend_run_id']} computed at {document['computed_at']} UTC in {seconds:.1f} s,"
             f" from load run {document['load_run_id'] or '-'}: {document['days']} days of data"
             + (f" ({document['first_day']} to {document['last_day']})" if document["days"] else "")]
    parts.append(f"\nForecast models (rolling-origin backtest, {document['horizon']} days ahead from each daily"
                 " origin, against seasonal-naive; coverage: backtest days inside the published model's intervals)")
    parts.append(console.format_table(
        ["series", "published", "MASE", "MASE s-naive", "sMAPE %", "sMAPE % s-naive", "cover 80%", "cover 95%",
         "origins", "note"],
        [(SERIES[name], b["model"] or "none", b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
          percent(b["coverage80"]), percent(b["coverage95"]), b["origins"], b["note"])
         for name, b in document["backtest"].items()]))
    forecast = {name: points for name, points in document["forecast"].items() if points}
    if forecast:
        parts.append(f"\nForecast for the next {document['horizon']} days: value (80% interval) [95% interval]")
        dates = [p["date"] for p in next(iter(forecast.values()))]
        parts.append(console.format_table(["date", *(SERIES[name] for name in forecast)], [
            [day, *(band(points[i]) for points in forecast.values())] for i, day in enumerate(dates)]))
    w = document["trending_window"]
    if w["recent_from"]:
        parts.append(f"\nTrending: {w['recent_from']} to {w['recent_to']} against {w['before_from']} to"
                     f" {w['before_to']} ({w['plays_recent']:,} plays against {w['plays_before']:,}); listed: q <="
                     f" {w['fdr']:g} (exact binomial test against the traffic, Benjamini-Hochberg over"
                     f" {w['songs_tested'] or 0:,} songs and {w['artists_tested'] or 0:,} artists), at least"
                     f" {w['min_listeners']} listeners; ranked by score = (plays + {w['prior_plays']:g}) /"
                     f" (expected + {w['prior_plays']:g})")
    for key, names in (("trending_songs", ["song", "artist"]), ("trending_artists", ["artist"])):
        entries = document[key][:10]
        title = key.replace("_", " ").capitalize()
        if not entries:
            parts.append(f"\n{title}: none" + (f" ({w['message']})" if w["message"] else ""))
            continue
        parts.append(f"\n{title} (top {len(entries)} of {len(document[key])})")
        parts.append(console.format_table(
            ["#", *names, "score", "plays", "expected", "listeners", "p-value", "q-value"],
            [[i, *(entry[n] for n in names), entry["score"], entry["plays"], entry["expected"], entry["listeners"],
              p_value_text(entry["p_value"]), p_value_text(entry["q_value"])]
             for i, entry in enumerate(entries, start=1)]))
    return "\n".join(parts)


def percent(share: float | None) -> str | None:
    return None if share is None else f"{100 * share:.0f}%"


def p_value_text(p: float) -> str:
    """Two decimals, or a bound for the small ones (the terminal table would round them to 0.00)."""
    return "<0.001" if p < 0.001 else "<0.01" if p < 0.01 else f"{p:.2f}"


def band(point: dict[str, Any]) -> str:
    low, high = f"{point['lo80']:,.0f}-{point['hi80']:,.0f}", f"{point['lo95']:,.0f}-{point['hi95']:,.0f}"
    return f"{point['value']:,.0f} ({low}) [{high}]"


def horizon_argument(text: str) -> int:
    if not (text.strip().isascii() and text.strip().isdigit()) or not 1 <= int(text) <= MAX_HORIZON:
        raise argparse.ArgumentTypeError(f"expected a number of days from 1 to {MAX_HORIZON}, not {text!r}")
    return int(text)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0], json_help="print the results as one JSON document")
    parser.add_argument("--horizon", type=horizon_argument, default=14, metavar="N",
                        help=f"days to forecast (default: 14; at most {MAX_HORIZON})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    started = time.perf_counter()
    cfg = settings.load_config(args.config)
    with closing(warehouse.connect(cfg)) as conn:
        document = compute_trends(conn, args.horizon, cfg.dialect)
    seconds = time.perf_counter() - started
    print(json.dumps(cli.with_offsets(document), indent=2, ensure_ascii=False, allow_nan=False) if args.json
          else summary_text(document, seconds))
    return 0


if __name__ == "__main__":
    cli.run_script(main)
