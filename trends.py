"""Forecast daily plays, active users and paid subscribers; rank the trending songs and artists.

Reads small daily aggregates of the analytics layer (hour_plays, user_days, user_levels) and fills
the calendar (a day without activity has no plays and no active users). Each series gets a
Holt-Winters forecast (additive damped trend, additive weekly season; intervals from 2,000 of the
model's simulated futures) when a rolling-origin backtest shows it beats seasonal-naive on mean MASE;
otherwise seasonal-naive is published, with empirical intervals from its own past errors. Trending
songs and artists compare the last 7 days of the data with the 21 before, adjusted for overall
traffic and shrunk towards "no change". Everything is stored as one trend run in the warehouse
(trend_runs, trend_backtests, trend_forecasts, trending), with the load it was computed from.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import cli, console, dialects, session, settings, warehouse
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError

SERIES = {"plays": "plays", "active_users": "active users", "paid_users": "paid subscribers"}
SEASON = 7  # days: the weekly season
MIN_TRAIN = 28  # days of history before a backtest origin
TEST_DAYS = 7  # days forecast from each origin
MAX_ORIGINS = 6  # the most recent origins, one every 7 days: enough to choose, cheap to fit
MAX_HORIZON = 28  # days: seasonal-naive's empirical intervals need past errors that far apart
MODEL, BASELINE = "holt_winters", "seasonal_naive"
CANDIDATE = "Holt-Winters: additive damped trend, additive weekly season"
SIMULATIONS = 2_000  # simulated futures behind the model's intervals
SEED = 7  # the simulations' seed: the same data gives the same document
QUANTILES = {"lo95": 0.025, "lo80": 0.10, "hi80": 0.90, "hi95": 0.975}

RECENT_DAYS, BEFORE_DAYS = 7, 21  # trending: the last 7 days of the data against the 21 before
# The prior a of the score (r + a) / (E + a): "no change" counts as a expected plays of evidence,
# so a song's score moves halfway to its raw ratio r / E only once E reaches a. With 10, going
# from 1 play to 3 scores 1.2; going from 20 plays to 80 scores 3.
PRIOR_PLAYS = 10.0
MIN_LISTENERS = 3  # distinct users in the last 7 days: one user's loop is not a trend
TOP = 20  # entries in each trending list
CANDIDATES = 200  # best-scoring rising entries whose distinct listeners are counted


@dataclass
class Series:
    days: list[dt.date]  # every day from the first with data to the last
    values: dict[str, np.ndarray]  # series name -> one value per day


@dataclass
class Backtest:
    mase: float | None  # the candidate's mean over the origins
    mase_baseline: float | None
    smape: float | None
    smape_baseline: float | None
    origins: int


# --------------------------------------------------------------------------- the series


def calendar(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]


def on_calendar(days: list[dt.date], rows: Sequence[tuple[dt.date, Any]]) -> np.ndarray:
    """Daily counts over the calendar; a day without a row is 0."""
    index = {day: i for i, day in enumerate(days)}
    values = np.zeros(len(days))
    for day, value in rows:
        values[index[day]] = float(value)
    return values


def paid_on_calendar(days: list[dt.date], changes: Sequence[tuple[dt.date, int, int]]) -> np.ndarray:
    """Paid subscribers per day from TREND_PAID_CHANGES: a change on a day (the day before when it
    falls exactly at midnight) holds from that day on."""
    deltas = np.zeros(len(days) + 1)
    for day, at_midnight, change in changes:
        offset = (day - dt.timedelta(days=at_midnight) - days[0]).days
        deltas[min(max(offset, 0), len(days))] += int(change)  # before the first day: counts from it
    return np.cumsum(deltas)[: len(days)]


def read_series(cur: psycopg2.extensions.cursor) -> Series:
    session.execute(cur, sql.TREND_DAILY_PLAYS)
    plays = cur.fetchall()
    session.execute(cur, sql.TREND_DAILY_ACTIVE_USERS)
    active = cur.fetchall()
    dates = [day for day, _ in plays + active]
    if not dates:
        return Series([], {name: np.zeros(0) for name in SERIES})
    days = calendar(min(dates), max(dates))
    session.execute(cur, "TREND_PAID_CHANGES")  # by name: REPORT_PAID_CHANGES shares its text
    paid = paid_on_calendar(days, cur.fetchall())
    return Series(days, {"plays": on_calendar(days, plays), "active_users": on_calendar(days, active),
                         "paid_users": paid})


# --------------------------------------------------------------------------- scores


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last week, repeated."""
    last_week = history[-SEASON:]
    return np.array([last_week[h % SEASON] for h in range(horizon)])


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray) -> float | None:
    """Mean absolute error scaled by the in-sample MAE of seasonal-naive one week ahead; None
    when that is 0 (the history repeats exactly every week)."""
    scale = float(np.mean(np.abs(history[SEASON:] - history[:-SEASON])))
    return float(np.mean(np.abs(actual - forecast))) / scale if scale > 0 else None


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0 to 200); a day where both are 0 counts as no error."""
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.divide(2 * np.abs(actual - forecast), denominator, out=np.zeros(len(actual)), where=denominator > 0)
    return 100 * float(np.mean(terms))


def mean_or_none(values: list[float | None]) -> float | None:
    return float(np.mean(values)) if values and all(v is not None for v in values) else None


def origins(days: int) -> list[int]:
    """Backtest origins (days of history), one every 7 days back from the last full test week."""
    return sorted(range(days - TEST_DAYS, MIN_TRAIN - 1, -SEASON))[-MAX_ORIGINS:]


# --------------------------------------------------------------------------- models


def fit_model(history: np.ndarray) -> Any:
    """Holt-Winters on the history: additive damped trend and weekly season, heuristic initial
    states (cheap and stable on a few weeks), smoothing parameters by least squares."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series; the backtest judges
        model = ExponentialSmoothing(history, trend="add", damped_trend=True, seasonal="add",
                                     seasonal_periods=SEASON, initialization_method="heuristic")
        fitted = model.fit(use_brute=False, method="least_squares")  # the SSE itself: fast and stable
    if not np.all(np.isfinite(fitted.forecast(1))):
        raise ValueError("the fit diverged")
    return fitted


def backtest(values: np.ndarray) -> Backtest:
    """The candidate and seasonal-naive from each origin, 7 days ahead; mean MASE and sMAPE."""
    scores: dict[str, list[float | None]] = {"mase": [], "mase_baseline": [], "smape": [], "smape_baseline": []}
    points = origins(len(values))
    for origin in points:
        history, actual = values[:origin], values[origin:origin + TEST_DAYS]
        model = fit_model(history).forecast(TEST_DAYS)
        baseline = seasonal_naive(history, TEST_DAYS)
        scores["mase"].append(mase(actual, model, history))
        scores["mase_baseline"].append(mase(actual, baseline, history))
        scores["smape"].append(smape(actual, model))
        scores["smape_baseline"].append(smape(actual, baseline))
    return Backtest(**{name: mean_or_none(v) for name, v in scores.items()}, origins=len(points))


def model_forecast(values: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """The model's point forecast and the quantiles of its simulated futures."""
    fitted = fit_model(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        futures = fitted.simulate(horizon, anchor="end", repetitions=SIMULATIONS, error="add",
                                  rng=np.random.default_rng(SEED))
    futures = np.asarray(futures).reshape(horizon, SIMULATIONS)
    bands = {name: np.quantile(futures, q, axis=1) for name, q in QUANTILES.items()}
    return {"value": np.asarray(fitted.forecast(horizon)), **bands}


def baseline_forecast(values: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Seasonal-naive, with intervals from its own errors in the history: for a day k weeks
    ahead, the quantiles of y[t] - y[t - 7k] over the past."""
    point = seasonal_naive(values, horizon)
    bands: dict[str, list[float]] = {name: [] for name in QUANTILES}
    for h in range(horizon):
        lag = SEASON * (h // SEASON + 1)
        errors = values[lag:] - values[:-lag]
        for name, q in QUANTILES.items():
            bands[name].append(point[h] + float(np.quantile(errors, q)))
    return {"value": point, **{name: np.array(v) for name, v in bands.items()}}


def forecast_series(values: np.ndarray, days: list[dt.date], horizon: int
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the backtest entry, the forecast rows) of one series."""
    entry: dict[str, Any] = {"model": None, "candidate": CANDIDATE, "mase": None, "mase_baseline": None,
                             "smape": None, "smape_baseline": None, "origins": 0, "note": None}
    needed = MIN_TRAIN + TEST_DAYS
    if len(values) < needed:
        entry["note"] = (f"no forecast: {len(values)} days of data; the backtest needs at least {needed}"
                         f" ({MIN_TRAIN} to train, {TEST_DAYS} to test)")
        return entry, []
    try:
        scores = backtest(values)
        entry |= {k: rounded(v) for k, v in vars(scores).items() if k != "origins"} | {"origins": scores.origins}
        better = scores.mase is not None and scores.mase_baseline is not None and scores.mase < scores.mase_baseline
        if better:
            entry["model"], entry["note"] = MODEL, "the model beats seasonal-naive on mean MASE"
        elif scores.mase is None or scores.mase_baseline is None:
            entry["note"] = "seasonal-naive published: the history repeats exactly every week, so MASE is undefined"
        else:
            entry["note"] = "seasonal-naive published: the model does not beat it on mean MASE"
        bands = model_forecast(values, horizon) if better else baseline_forecast(values, horizon)
    except (ValueError, np.linalg.LinAlgError) as exc:
        entry["note"] = f"seasonal-naive published: the model could not be fitted ({console.first_line(exc)})"
        bands = baseline_forecast(values, horizon)
    entry["model"] = entry["model"] or BASELINE
    rows = []
    for h in range(horizon):
        row = {"date": (days[-1] + dt.timedelta(days=h + 1)).isoformat()}
        # Counts are never negative: the bands stop at 0.
        row |= {name: rounded(max(0.0, float(bands[name][h]))) for name in ("value", "lo80", "hi80", "lo95", "hi95")}
        rows.append(row)
    return entry, rows


def rounded(value: float | None) -> float | None:
    """Six significant digits: what is stored is what is printed."""
    return None if value is None else float(f"{value:.6g}")


# --------------------------------------------------------------------------- trending


def trending_window(days: list[dt.date]) -> dict[str, Any]:
    last = days[-1]
    recent_from = max(days[0], last - dt.timedelta(days=RECENT_DAYS - 1))
    before_from = max(days[0], last - dt.timedelta(days=RECENT_DAYS + BEFORE_DAYS - 1))
    return {"recent_from": recent_from, "last_day": last, "before_from": before_from}


def poisson_p_value(plays: int, expected: float) -> float:
    """P(X >= plays) for X ~ Poisson(expected): how surprising the rise is if nothing changed."""
    from scipy.stats import poisson

    if expected <= 0:
        return 0.0 if plays > 0 else 1.0
    return float(poisson.sf(plays - 1, expected))


def trending(cur: psycopg2.extensions.cursor, days: list[dt.date]) -> dict[str, Any]:
    """The window, its traffic, the trending songs and artists (score and expected unrounded, no
    p-value yet: build_document adds it), and a message when nothing can trend."""
    result: dict[str, Any] = {"window": None, "songs": [], "artists": [], "message": None}
    if not days:
        result["message"] = "no plays loaded: nothing can trend"
        return result
    window = trending_window(days)
    session.execute(cur, sql.TRENDING_TOTALS, window)
    plays_recent, plays_before = (int(v) for v in cur.fetchone())
    result["window"] = {**window, "plays_recent": plays_recent, "plays_before": plays_before}
    if plays_before == 0:
        result["message"] = "no plays before the last 7 days: nothing to compare them with"
        return result
    params = {**window, "traffic": plays_recent / plays_before, "prior": PRIOR_PLAYS, "min_listeners": MIN_LISTENERS,
              "candidates": CANDIDATES, "top": TOP,
              "recent_start": dt.datetime.combine(window["recent_from"], dt.time()),
              "recent_end": dt.datetime.combine(window["last_day"] + dt.timedelta(days=1), dt.time())}
    session.execute(cur, sql.TRENDING_WINDOWS_DROP)
    session.execute(cur, sql.TRENDING_WINDOWS, window)
    for kind, statement in (("songs", sql.TRENDING_SONGS), ("artists", sql.TRENDING_ARTISTS)):
        session.execute(cur, statement, params)
        for row in cur.fetchall():
            *names, plays, before, expected, score, listeners = row
            entry = dict(zip(["song", "artist"] if kind == "songs" else ["artist"], names, strict=True))
            entry |= {"score": float(score), "plays": int(plays), "expected": float(expected),
                      "listeners": int(listeners), "p_value": None, "plays_before": int(before)}
            result[kind].append(entry)
    session.execute(cur, sql.TRENDING_WINDOWS_DROP)
    return result


# --------------------------------------------------------------------------- the document


def load_models() -> None:
    import statsmodels.tsa.holtwinters  # noqa: F401


def forecast_all(series: Series, horizon: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(forecast rows, backtest entries) of every series."""
    forecast, backtests = {}, {}
    for name in SERIES:
        backtests[name], forecast[name] = forecast_series(series.values[name], series.days, horizon)
    return forecast, backtests


def build_document(cur: psycopg2.extensions.cursor, horizon: int) -> dict[str, Any]:
    """Everything trends.py computes, as the --json document (without the run's id and time).

    The models import and fit in a second thread while the warehouse ranks the trending songs:
    importing statsmodels alone takes a second or two, and the warehouse waits for nothing."""
    with ThreadPoolExecutor(max_workers=1) as models:
        models.submit(load_models)
        session.execute(cur, sql.TREND_LOAD_RUN)
        (load_run_id,) = cur.fetchone()
        series = read_series(cur)
        forecasting = models.submit(forecast_all, series, horizon)
        ranked = trending(cur, series.days)
        forecast, backtests = forecasting.result()
    for entry in ranked["songs"] + ranked["artists"]:  # scipy is imported by now, with statsmodels
        entry["p_value"] = rounded(poisson_p_value(entry["plays"], entry["expected"]))
        entry["score"], entry["expected"] = rounded(entry["score"]), rounded(entry["expected"])
    window = ranked["window"] or {}
    messages = sorted({entry["note"] for entry in backtests.values() if entry["model"] is None})
    messages += [ranked["message"]] if ranked["message"] else []
    return {
        "load_run_id": load_run_id, "horizon": horizon,
        "first_day": iso(series.days[0] if series.days else None),
        "last_day": iso(series.days[-1] if series.days else None), "days": len(series.days),
        "forecast": forecast, "backtest": backtests,
        "trending_window": {"recent_from": iso(window.get("recent_from")), "recent_to": iso(window.get("last_day")),
                            "before_from": iso(window.get("before_from")),
                            "before_to": iso(window["recent_from"] - dt.timedelta(days=1)) if window else None,
                            "plays_recent": window.get("plays_recent"), "plays_before": window.get("plays_before"),
                            "prior_plays": PRIOR_PLAYS, "min_listeners": MIN_LISTENERS,
                            "message": ranked["message"]},
        "trending_songs": ranked["songs"], "trending_artists": ranked["artists"],
        "message": "; ".join(messages) or None,
    }


def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def day_or_none(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


# --------------------------------------------------------------------------- the warehouse


def warehouse_dialect(conn: psycopg2.extensions.connection) -> Postgres:
    with conn.cursor() as cur:
        session.execute(cur, sql.SERVER_VERSION)
        (version,) = cur.fetchone()
    return dialects.for_server(str(version))


def require_tables(cur: psycopg2.extensions.cursor) -> None:
    needed = ["etl_runs", "hour_plays", "user_days", "user_levels", "song_days", "app_events",
              "trend_runs", "trend_backtests", "trend_forecasts", "trending"]
    missing = [name for name in needed if not session.table_exists(cur, name)]
    if missing:
        raise DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py")


def store(cur: psycopg2.extensions.cursor, document: dict[str, Any], dialect: Postgres) -> None:
    """The document as one trend run: one multi-row INSERT per table. Sets its id and time. The
    LOCK is the transaction's first statement: on Redshift a LOCK after a SELECT comes after the
    transaction's snapshot, and two runs read the same MAX (a serializable-isolation error or a
    duplicate id; https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html and
    https://docs.aws.amazon.com/redshift/latest/dg/c_Concurrent_writes.html). Call it in a fresh
    transaction."""
    session.execute(cur, dialect.variant("TREND_RUN_LOCK"))
    session.execute(cur, sql.TREND_RUN_NEXT_ID)
    (run_id,) = cur.fetchone()
    computed_at = session.utc_now().replace(microsecond=0)
    document["trend_run_id"], document["computed_at"] = run_id, computed_at.isoformat(sep=" ")
    w = document["trending_window"]
    insert = session.insert_values
    insert(cur, sql.TREND_RUNS_INSERT, [(
        run_id, computed_at, document["load_run_id"], document["horizon"], day_or_none(document["first_day"]),
        day_or_none(document["last_day"]), document["days"], day_or_none(w["recent_from"]),
        day_or_none(w["before_from"]), w["plays_recent"], w["plays_before"], w["prior_plays"], w["min_listeners"],
        document["message"], w["message"])])
    insert(cur, sql.TREND_BACKTESTS_INSERT, [
        (run_id, name, b["model"], b["candidate"], b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
         b["origins"], b["note"]) for name, b in document["backtest"].items()])
    model = {name: b["model"] for name, b in document["backtest"].items()}
    rows = [(run_id, name, day_or_none(p["date"]), model[name], p["value"], p["lo80"], p["hi80"], p["lo95"],
             p["hi95"]) for name, points in document["forecast"].items() for p in points]
    if rows:
        insert(cur, sql.TREND_FORECASTS_INSERT, rows)
    rows = [(run_id, kind, rank, entry.get("song"), entry["artist"], entry["score"], entry["plays"],
             entry["plays_before"], entry["expected"], entry["listeners"], entry["p_value"])
            for kind, key in (("song", "trending_songs"), ("artist", "trending_artists"))
            for rank, entry in enumerate(document[key], start=1)]
    if rows:
        insert(cur, sql.TRENDING_INSERT, rows, page_size=len(rows))


def compute_trends(conn: psycopg2.extensions.connection, horizon: int = 14,
                   dialect: Postgres | None = None) -> dict[str, Any]:
    """Compute the trends from the warehouse, store them as a new trend run (committed), and
    return the --json document."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise DwhError(f"the horizon is {horizon} days; use 1 to {MAX_HORIZON}")
    dialect = dialect or warehouse_dialect(conn)
    with session.transaction(conn) as cur:
        require_tables(cur)
        session.run_all(cur, dialect.trend_settings())
        document = build_document(cur, horizon)
    with session.transaction(conn) as cur:  # the reading one committed: this one begins with store's LOCK
        store(cur, document, dialect)
    return ordered(document)


def ordered(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its keys in reading order: the run first, then the results."""
    first = ["trend_run_id", "computed_at", "load_run_id", "horizon", "first_day", "last_day", "days"]
    return {**{k: document[k] for k in first}, **{k: v for k, v in document.items() if k not in first}}


def latest_trends(conn: psycopg2.extensions.connection) -> dict[str, Any] | None:
    """The document of the newest stored trend run, as compute_trends returned it; None when
    there is none (or no trend tables yet)."""
    with conn.cursor() as cur:
        if not session.table_exists(cur, "trend_runs"):
            return None
        session.execute(cur, sql.TREND_LATEST_RUN)
        run = cur.fetchone()
        if run is None:
            return None
        (run_id, computed_at, load_run_id, horizon, first_day, last_day, days, recent_from, before_from,
         plays_recent, plays_before, prior_plays, min_listeners, message, trending_note) = run
        session.execute(cur, sql.TREND_RUN_BACKTESTS, {"trend_run_id": run_id})
        backtests = cur.fetchall()
        session.execute(cur, sql.TREND_RUN_FORECASTS, {"trend_run_id": run_id})
        forecasts = cur.fetchall()
        session.execute(cur, sql.TREND_RUN_TRENDING, {"trend_run_id": run_id})
        ranked = cur.fetchall()
    names = ["model", "candidate", "mase", "mase_baseline", "smape", "smape_baseline", "origins", "note"]
    stored = {series: dict(zip(names, rest, strict=True)) for series, *rest in backtests}
    backtest_entries = {name: stored[name] for name in sorted(stored, key=list(SERIES).index)}
    forecast: dict[str, list[dict[str, Any]]] = {name: [] for name in backtest_entries}
    for series, day, _, value, lo80, hi80, lo95, hi95 in forecasts:
        forecast[series].append({"date": day.isoformat(), "value": value, "lo80": lo80, "hi80": hi80,
                                 "lo95": lo95, "hi95": hi95})
    lists: dict[str, list[dict[str, Any]]] = {"song": [], "artist": []}
    for kind, _, song, artist, score, plays, before, expected, listeners, p_value in ranked:
        entry = ({"song": song} if kind == "song" else {}) | {
            "artist": artist, "score": score, "plays": plays, "expected": expected, "listeners": listeners,
            "p_value": p_value, "plays_before": before}
        lists[kind].append(entry)
    return {
        "trend_run_id": run_id, "computed_at": computed_at.isoformat(sep=" "), "load_run_id": load_run_id,
        "horizon": horizon, "first_day": iso(first_day), "last_day": iso(last_day), "days": days,
        "forecast": forecast, "backtest": backtest_entries,
        "trending_window": {"recent_from": iso(recent_from), "recent_to": iso(last_day) if recent_from else None,
                            "before_from": iso(before_from),
                            "before_to": iso(recent_from - dt.timedelta(days=1)) if recent_from else None,
                            "plays_recent": plays_recent, "plays_before": plays_before,
                            "prior_plays": prior_plays, "min_listeners": min_listeners,
                            "message": trending_note},
        "trending_songs": lists["song"], "trending_artists": lists["artist"], "message": message,
    }


def trends_are_stale(conn: psycopg2.extensions.connection) -> bool:
    """True when no trends are stored, or a load that brought new objects succeeded after the
    one the latest trends were computed from."""
    with conn.cursor() as cur:
        if not (session.table_exists(cur, "trend_runs") and session.table_exists(cur, "etl_runs")):
            return True
        session.execute(cur, sql.TREND_LATEST_RUN)
        run = cur.fetchone()
        if run is None:
            return True
        session.execute(cur, sql.TRENDS_NEWER_LOADS, {"load_run_id": run[2] or 0})
        (newer,) = cur.fetchone()
    return bool(newer)


# --------------------------------------------------------------------------- output


def summary_text(document: dict[str, Any], seconds: float) -> str:
    parts = [f"Trend run {document['trend_run_id']} computed at {document['computed_at']} UTC in {seconds:.1f} s,"
             f" from load run {document['load_run_id'] or '-'}: {document['days']} days of data"
             + (f" ({document['first_day']} to {document['last_day']})" if document["days"] else "")]
    parts.append(f"\nForecast models (rolling-origin backtest, {TEST_DAYS} days ahead, against seasonal-naive)")
    parts.append(console.format_table(
        ["series", "published", "MASE", "MASE s-naive", "sMAPE %", "sMAPE % s-naive", "origins", "note"],
        [(SERIES[name], b["model"] or "none", b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
          b["origins"], b["note"]) for name, b in document["backtest"].items()]))
    forecast = {name: points for name, points in document["forecast"].items() if points}
    if forecast:
        parts.append(f"\nForecast for the next {document['horizon']} days: value (80% interval) [95% interval]")
        dates = [p["date"] for p in next(iter(forecast.values()))]
        parts.append(console.format_table(["date", *(SERIES[name] for name in forecast)], [
            [day, *(band(points[i]) for points in forecast.values())] for i, day in enumerate(dates)]))
    w = document["trending_window"]
    if w["recent_from"]:
        parts.append(f"\nTrending: {w['recent_from']} to {w['recent_to']} against {w['before_from']} to"
                     f" {w['before_to']} ({w['plays_recent']:,} plays against {w['plays_before']:,}); score ="
                     f" (plays + {w['prior_plays']:g}) / (expected + {w['prior_plays']:g}),"
                     f" at least {w['min_listeners']} listeners")
    for key, names in (("trending_songs", ["song", "artist"]), ("trending_artists", ["artist"])):
        entries = document[key][:10]
        title = key.replace("_", " ").capitalize()
        if not entries:
            parts.append(f"\n{title}: none" + (f" ({w['message']})" if w["message"] else ""))
            continue
        parts.append(f"\n{title} (top {len(entries)} of {len(document[key])})")
        parts.append(console.format_table(
            ["#", *names, "score", "plays", "expected", "listeners", "p-value"],
            [[i, *(entry[n] for n in names), entry["score"], entry["plays"], entry["expected"], entry["listeners"],
              p_value_text(entry["p_value"])] for i, entry in enumerate(entries, start=1)]))
    return "\n".join(parts)


def p_value_text(p: float) -> str:
    """Two decimals, or a bound for the small ones (the terminal table would round them to 0.00)."""
    return "<0.001" if p < 0.001 else "<0.01" if p < 0.01 else f"{p:.2f}"


def band(point: dict[str, Any]) -> str:
    low, high = f"{point['lo80']:,.0f}-{point['hi80']:,.0f}", f"{point['lo95']:,.0f}-{point['hi95']:,.0f}"
    return f"{point['value']:,.0f} ({low}) [{high}]"


def horizon_argument(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_HORIZON:
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
        document = compute_trends(conn, args.horizon, settings.dialect(cfg))
    seconds = time.perf_counter() - started
    print(json.dumps(cli.with_offsets(document), indent=2, ensure_ascii=False, allow_nan=False) if args.json
          else summary_text(document, seconds))
    return 0


if __name__ == "__main__":
    cli.run_script(main)
