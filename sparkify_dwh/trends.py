"""trends.py's work: forecasts of daily plays, active users and paid subscribers, and the trending
songs and artists, stored as one trend run in the warehouse (the method: trends.py's docstring, README)."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import console, dialects, session
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError

SERIES = {"plays": "plays", "active_users": "active users", "paid_users": "paid subscribers"}


SEASON = 7  # days: the weekly season


MIN_TRAIN = 28  # days of history before a backtest origin


MIN_ORIGINS = 7  # daily backtest origins at least: each weekday once, horizon x 7 errors to calibrate on


MAX_ORIGINS = 42  # the most recent daily origins: errors enough for the intervals, cheap enough to fit


MAX_HORIZON = 28  # days


MODEL, BASELINE = "holt_winters", "seasonal_naive"
CANDIDATE = "Holt-Winters: additive damped trend, additive weekly season"


QUANTILES = {"lo95": 0.025, "lo80": 0.10, "hi80": 0.90, "hi95": 0.975}


RECENT_DAYS, BEFORE_DAYS = 7, 21  # trending: the last 7 days of the data against the 21 before
# The prior a of the score (r + a) / (E + a): "no change" counts as a expected plays of evidence,
# so a song's score moves halfway to its raw ratio r / E only once E reaches a. With 10, going
# from 1 play to 3 scores 1.2; going from 20 plays to 80 scores 3.
PRIOR_PLAYS = 10.0


MIN_LISTENERS = 3  # distinct users in the last 7 days: one user's loop is not a trend


FDR = 0.05  # the false-discovery rate the trending lists are controlled at (Benjamini-Hochberg)


TOP = 20  # entries in each trending list


CANDIDATES = 200  # best-scoring significant entries whose distinct listeners are counted


@dataclass
class Series:
    days: list[dt.date]  # every day from the first with data to the last
    values: dict[str, np.ndarray]  # series name -> one value per day


@dataclass
class Scores:
    """One method's rolling-origin backtest at the published horizon."""

    mase: float | None  # the mean over the origins
    smape: float | None
    errors: np.ndarray  # origins x horizon steps: log(1 + actual) - log(1 + forecast)


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


def origins(days: int, horizon: int) -> list[int]:
    """Backtest origins (days of history): every day with at least MIN_TRAIN days before it and the
    horizon after it, the MAX_ORIGINS most recent."""
    return list(range(max(MIN_TRAIN, days - horizon - MAX_ORIGINS + 1), days - horizon + 1))


def needed_days(horizon: int) -> int:
    """Days of data a forecast needs: MIN_TRAIN to train, the horizon to test, MIN_ORIGINS origins."""
    return MIN_TRAIN + horizon + MIN_ORIGINS - 1


def log_errors(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Errors as log ratios, log(1 + actual) - log(1 + forecast) (a forecast below 0 counts as 0):
    day-to-day shocks multiply a count, so its errors scale with its level."""
    return np.log1p(actual) - np.log1p(np.maximum(forecast, 0.0))


def fit_model(history: np.ndarray) -> Any:
    """Holt-Winters on the history: additive damped trend and weekly season, heuristic initial
    states (cheap and stable on a few weeks), smoothing parameters by least squares. Library
    warnings are left to the caller (forecast_all reports them once)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(history, trend="add", damped_trend=True, seasonal="add",
                                 seasonal_periods=SEASON, initialization_method="heuristic")
    fitted = model.fit(use_brute=False, method="least_squares")  # the SSE itself: fast and stable
    if not np.all(np.isfinite(fitted.forecast(1))):
        raise ValueError("the fit diverged")
    return fitted


def model_point(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.asarray(fit_model(history).forecast(horizon))


def score(values: np.ndarray, points: list[int], horizon: int, method: Any) -> Scores:
    """method(history, horizon) from each origin, `horizon` days ahead: mean MASE and sMAPE over the
    origins, and every error as a log ratio."""
    errors = np.empty((len(points), horizon))
    mases: list[float | None] = []
    smapes: list[float | None] = []
    for i, origin in enumerate(points):
        history, actual = values[:origin], values[origin:origin + horizon]
        forecast = method(history, horizon)
        mases.append(mase(actual, forecast, history))
        smapes.append(smape(actual, forecast))
        errors[i] = log_errors(actual, forecast)
    return Scores(mean_or_none(mases), mean_or_none(smapes), errors)


def calibration(errors: np.ndarray) -> tuple[np.ndarray, dict[str, float]] | None:
    """The intervals of a method from its rolling-origin errors (origins x horizon steps; NaN: left
    out): a scale per step, the mean absolute error at that step (never smaller than an earlier
    step's), and split-conformal quantiles of the errors divided by it, pooled over steps and
    origins. A day h steps ahead lies between log(1 + forecast) + scale[h] x quantile; an interval
    always holds the point forecast. None when a step has no error to go by."""
    scale = np.array([np.mean(np.abs(column[~np.isnan(column)])) if np.any(~np.isnan(column)) else np.nan
                      for column in errors.T])
    if np.any(np.isnan(scale)):
        return None
    scale = np.maximum.accumulate(np.maximum(scale, 1e-9))
    scores = np.sort((errors / scale)[~np.isnan(errors)])
    n = scores.size
    quantiles = {}
    for name, level in QUANTILES.items():
        if level > 0.5:  # the ceil((n + 1) level)-th smallest: split conformal's finite-sample rule
            k = min(n, math.ceil((n + 1) * level))
            quantiles[name] = max(0.0, float(scores[k - 1]))
        else:
            k = max(1, math.floor((n + 1) * level))
            quantiles[name] = min(0.0, float(scores[k - 1]))
    return scale, quantiles


def intervals(point: np.ndarray, errors: np.ndarray) -> dict[str, np.ndarray]:
    """The point forecast and its 80% and 95% intervals, calibrated on the method's backtest errors."""
    calibrated = calibration(errors)
    if calibrated is None:  # cannot happen with MIN_ORIGINS origins; the point as its own interval
        return {"value": point, **{name: point for name in QUANTILES}}
    scale, quantiles = calibrated
    level = np.log1p(np.maximum(point, 0.0))
    return {"value": point, **{name: np.expm1(level + scale * q) for name, q in quantiles.items()}}


def coverage(errors: np.ndarray) -> tuple[float | None, float | None]:
    """The backtest's empirical coverage of the 80% and 95% intervals: the share of the backtest's
    days that fell inside the interval calibrated on the other errors, leaving out every error on a
    day of that origin's test window (origins are consecutive days). None: too few origins."""
    count, horizon = errors.shape
    day = np.arange(count)[:, None] + np.arange(horizon)[None, :]
    inside: dict[int, list[bool]] = {80: [], 95: []}
    for i in range(count):
        calibrated = calibration(np.where((day >= i) & (day < i + horizon), np.nan, errors))
        if calibrated is None:
            continue
        scale, q = calibrated
        z = errors[i] / scale
        inside[80] += list((z >= q["lo80"]) & (z <= q["hi80"]))
        inside[95] += list((z >= q["lo95"]) & (z <= q["hi95"]))
    return tuple(float(np.mean(inside[c])) if inside[c] else None for c in (80, 95))  # type: ignore[return-value]


def forecast_series(values: np.ndarray, days: list[dt.date], horizon: int
                    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the backtest entry, the forecast rows) of one series. The backtest forecasts `horizon` days
    from each origin, as published; the model is published when its mean MASE beats seasonal-naive's,
    with intervals from the published method's own backtest errors."""
    entry: dict[str, Any] = {"model": None, "candidate": CANDIDATE, "mase": None, "mase_baseline": None,
                             "smape": None, "smape_baseline": None, "coverage80": None, "coverage95": None,
                             "origins": 0, "note": None}
    needed = needed_days(horizon)
    if len(values) < needed:
        entry["note"] = (f"no forecast: {len(values)} days of data; a {horizon}-day forecast needs at least"
                         f" {needed} ({MIN_TRAIN} to train, {horizon} to test, {MIN_ORIGINS} backtest origins)")
        return entry, []
    points = origins(len(values), horizon)
    baseline = score(values, points, horizon, seasonal_naive)
    entry |= {"mase_baseline": rounded(baseline.mase), "smape_baseline": rounded(baseline.smape),
              "origins": len(points)}
    published, point = baseline, None
    try:
        model = score(values, points, horizon, model_point)
        entry |= {"mase": rounded(model.mase), "smape": rounded(model.smape)}
        if model.mase is not None and baseline.mase is not None and model.mase < baseline.mase:
            point = model_point(values, horizon)
            published, entry["model"] = model, MODEL
            entry["note"] = f"the model beats seasonal-naive on mean MASE {horizon} days ahead"
        elif model.mase is None or baseline.mase is None:
            entry["note"] = "seasonal-naive published: the history repeats exactly every week, so MASE is undefined"
        else:
            entry["note"] = f"seasonal-naive published: the model does not beat it on mean MASE {horizon} days ahead"
    except (ValueError, np.linalg.LinAlgError) as exc:
        entry["note"] = f"seasonal-naive published: the model could not be fitted ({console.first_line(exc)})"
    entry["model"] = entry["model"] or BASELINE
    if point is None:
        point = seasonal_naive(values, horizon)
    bands = intervals(point, published.errors)
    entry["coverage80"], entry["coverage95"] = (rounded(c) for c in coverage(published.errors))
    rows = []
    for h in range(horizon):
        row = {"date": (days[-1] + dt.timedelta(days=h + 1)).isoformat()}
        # Counts are never negative: the bands stop at 0.
        row |= {name: rounded(max(0.0, float(bands[name][h]))) for name in ("value", "lo80", "hi80", "lo95", "hi95")}
        rows.append(row)
    return entry, rows


def rounded(value: float | None) -> float | None:
    """Six significant digits: what is stored is what is printed. A value too small for a normal
    double (a p-value below 2e-308) is 0: Redshift's DOUBLE PRECISION stops there."""
    if value is None:
        return None
    return 0.0 if abs(value) < np.finfo(float).tiny else float(f"{value:.6g}")


def trending_window(days: list[dt.date]) -> dict[str, Any]:
    last = days[-1]
    recent_from = max(days[0], last - dt.timedelta(days=RECENT_DAYS - 1))
    before_from = max(days[0], last - dt.timedelta(days=RECENT_DAYS + BEFORE_DAYS - 1))
    return {"recent_from": recent_from, "last_day": last, "before_from": before_from}


def binomial_p_values(plays: np.ndarray, plays_before: np.ndarray, share: float) -> np.ndarray:
    """The exact conditional test of each song: given its plays in both windows, n = plays +
    plays_before, P(X >= plays) for X ~ Binomial(n, share), share = the recent window's part of all
    the traffic. This is scipy.stats.binomtest(plays, n, share, alternative="greater").pvalue,
    computed for every pair at once: a song with no plays before still needs many to be surprising."""
    from scipy.stats import binom

    plays, n = np.asarray(plays, dtype=float), np.asarray(plays, dtype=float) + np.asarray(plays_before, dtype=float)
    return np.where(plays > 0, binom.sf(plays - 1, n, share), 1.0)


def bh_q_values(p_values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (scipy.stats.false_discovery_control) of every entry tested, given
    as the distinct p-values and how many entries share each: m = counts.sum(). One q per p-value;
    entries with the same p-value have the same q."""
    from scipy.stats import false_discovery_control

    counts = np.asarray(counts, dtype=int)
    if not counts.sum():
        return np.zeros(0)
    q = false_discovery_control(np.repeat(np.asarray(p_values, dtype=float), counts), method="bh")
    return q[np.cumsum(counts) - counts]


def significant_pairs(counts: Sequence[tuple[int, int, int]], share: float
                      ) -> tuple[int, list[tuple[int, int, float, float]]]:
    """(m, the (plays, plays_before, p, q) pairs with q <= FDR) from TRENDING_*_COUNTS' rows
    (plays, plays_before, entries with those counts)."""
    if not counts:
        return 0, []
    plays, before, tested = (np.array(column, dtype=float) for column in zip(*counts, strict=True))
    p = binomial_p_values(plays, before, share)
    q = bh_q_values(p, tested.astype(int))
    return int(tested.sum()), [(int(r), int(b), float(pv), float(qv))
                               for r, b, pv, qv in zip(plays, before, p, q, strict=True) if qv <= FDR]


def trending(cur: psycopg2.extensions.cursor, days: list[dt.date]) -> dict[str, Any]:
    """The window, its traffic, how many songs and artists were tested, the significant trending
    songs and artists (score, expected, p- and q-values unrounded: build_document rounds them), a
    message when nothing can trend, and a note when nothing trends significantly."""
    result: dict[str, Any] = {"window": None, "songs": [], "artists": [], "message": None, "note": None,
                              "tested": {"songs": None, "artists": None}}
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
    share = plays_recent / (plays_recent + plays_before)
    params = {**window, "traffic": plays_recent / plays_before, "prior": PRIOR_PLAYS, "min_listeners": MIN_LISTENERS,
              "candidates": CANDIDATES, "top": TOP,
              "recent_start": dt.datetime.combine(window["recent_from"], dt.time()),
              "recent_end": dt.datetime.combine(window["last_day"] + dt.timedelta(days=1), dt.time())}
    session.execute(cur, sql.TRENDING_WINDOWS_DROP)
    session.execute(cur, sql.TRENDING_WINDOWS, window)
    session.execute(cur, sql.TRENDING_SIGNIFICANT_DROP)
    session.execute(cur, sql.TRENDING_SIGNIFICANT_CREATE)
    kinds = (("songs", "song", sql.TRENDING_SONG_COUNTS, sql.TRENDING_SONGS),
             ("artists", "artist", sql.TRENDING_ARTIST_COUNTS, sql.TRENDING_ARTISTS))
    for kind, one, counting, ranking in kinds:
        session.execute(cur, counting)
        result["tested"][kind], pairs = significant_pairs(cur.fetchall(), share)
        if not pairs:
            continue
        session.insert_values(cur, sql.TRENDING_SIGNIFICANT_INSERT, [(one, *pair) for pair in pairs],
                          page_size=len(pairs))
        session.execute(cur, ranking, {**params, "kind": one})
        for row in cur.fetchall():
            *names, plays, before, expected, score, p_value, q_value, listeners = row
            entry = dict(zip(["song", "artist"] if kind == "songs" else ["artist"], names, strict=True))
            entry |= {"score": float(score), "plays": int(plays), "expected": float(expected),
                      "listeners": int(listeners), "p_value": float(p_value), "q_value": float(q_value),
                      "plays_before": int(before)}
            result[kind].append(entry)
    session.execute(cur, sql.TRENDING_SIGNIFICANT_DROP)
    session.execute(cur, sql.TRENDING_WINDOWS_DROP)
    if not result["songs"] or not result["artists"]:
        tested = result["tested"]
        result["note"] = (f"nothing is trending significantly: no {'song' if not result['songs'] else 'artist'}"
                          f"{' or artist' if not result['songs'] and not result['artists'] else ''} rises beyond"
                          f" chance (exact binomial test against the traffic, Benjamini-Hochberg q <= {FDR:g} over"
                          f" the {tested['songs'] or 0:,} songs and {tested['artists'] or 0:,} artists played in"
                          f" the 28 days) with at least {MIN_LISTENERS} listeners")
    return result


def load_models() -> None:
    import statsmodels.tsa.holtwinters  # noqa: F401


def forecast_all(series: Series, horizon: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(forecast rows, backtest entries) of every series. What the libraries warn about while fitting
    (statsmodels' "divide by zero encountered in log" on a series without variation, convergence
    chatter on short ones) is said once, in one line: the backtest judges every fit anyway."""
    forecast, backtests = {}, {}
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        for name in SERIES:
            backtests[name], forecast[name] = forecast_series(series.values[name], series.days, horizon)
    if caught:
        kinds = sorted({console.first_line(str(w.message)) for w in caught})
        console.say(f"trends: the model fits raised {len(caught)} library warning{'s' * (len(caught) != 1)}"
                f" ({'; '.join(kinds[:3])}{'; ...' if len(kinds) > 3 else ''}); each fit was judged by"
                " its backtest")
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
    for entry in ranked["songs"] + ranked["artists"]:
        for key in ("score", "expected", "p_value", "q_value"):
            entry[key] = rounded(entry[key])
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
                            "prior_plays": PRIOR_PLAYS, "min_listeners": MIN_LISTENERS, "fdr": FDR,
                            "songs_tested": ranked["tested"]["songs"], "artists_tested": ranked["tested"]["artists"],
                            "message": ranked["message"] or ranked["note"]},
        "trending_songs": ranked["songs"], "trending_artists": ranked["artists"],
        "message": "; ".join(messages) or None,
    }


def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def day_or_none(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


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
        w["fdr"], w["songs_tested"], w["artists_tested"], document["message"], w["message"])])
    insert(cur, sql.TREND_BACKTESTS_INSERT, [
        (run_id, name, b["model"], b["candidate"], b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
         b["coverage80"], b["coverage95"], b["origins"], b["note"]) for name, b in document["backtest"].items()])
    model = {name: b["model"] for name, b in document["backtest"].items()}
    rows = [(run_id, name, day_or_none(p["date"]), model[name], p["value"], p["lo80"], p["hi80"], p["lo95"],
             p["hi95"]) for name, points in document["forecast"].items() for p in points]
    if rows:
        insert(cur, sql.TREND_FORECASTS_INSERT, rows)
    rows = [(run_id, kind, rank, entry.get("song"), entry["artist"], entry["score"], entry["plays"],
             entry["plays_before"], entry["expected"], entry["listeners"], entry["p_value"], entry["q_value"])
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
         plays_recent, plays_before, prior_plays, min_listeners, fdr, songs_tested, artists_tested, message,
         trending_note) = run
        session.execute(cur, sql.TREND_RUN_BACKTESTS, {"trend_run_id": run_id})
        backtests = cur.fetchall()
        session.execute(cur, sql.TREND_RUN_FORECASTS, {"trend_run_id": run_id})
        forecasts = cur.fetchall()
        session.execute(cur, sql.TREND_RUN_TRENDING, {"trend_run_id": run_id})
        ranked = cur.fetchall()
    names = ["model", "candidate", "mase", "mase_baseline", "smape", "smape_baseline", "coverage80", "coverage95",
             "origins", "note"]
    stored = {series: dict(zip(names, rest, strict=True)) for series, *rest in backtests}
    backtest_entries = {name: stored[name] for name in sorted(stored, key=list(SERIES).index)}
    forecast: dict[str, list[dict[str, Any]]] = {name: [] for name in backtest_entries}
    for series, day, _, value, lo80, hi80, lo95, hi95 in forecasts:
        forecast[series].append({"date": day.isoformat(), "value": value, "lo80": lo80, "hi80": hi80,
                                 "lo95": lo95, "hi95": hi95})
    lists: dict[str, list[dict[str, Any]]] = {"song": [], "artist": []}
    for kind, _, song, artist, score, plays, before, expected, listeners, p_value, q_value in ranked:
        entry = ({"song": song} if kind == "song" else {}) | {
            "artist": artist, "score": score, "plays": plays, "expected": expected, "listeners": listeners,
            "p_value": p_value, "q_value": q_value, "plays_before": before}
        lists[kind].append(entry)
    return {
        "trend_run_id": run_id, "computed_at": computed_at.isoformat(sep=" "), "load_run_id": load_run_id,
        "horizon": horizon, "first_day": iso(first_day), "last_day": iso(last_day), "days": days,
        "forecast": forecast, "backtest": backtest_entries,
        "trending_window": {"recent_from": iso(recent_from), "recent_to": iso(last_day) if recent_from else None,
                            "before_from": iso(before_from),
                            "before_to": iso(recent_from - dt.timedelta(days=1)) if recent_from else None,
                            "plays_recent": plays_recent, "plays_before": plays_before,
                            "prior_plays": prior_plays, "min_listeners": min_listeners, "fdr": fdr,
                            "songs_tested": songs_tested, "artists_tested": artists_tested,
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
