"""Write the Sparkify dashboard: one self-contained HTML page from the analytics layer.

Every panel is one query in sql_queries (section 8) over the analytics tables; Python gets small
aggregates and draws them with Vega-Lite (Altair), the Vega JavaScript inlined once, so the page
opens with no network. --json prints the numbers behind every panel instead. Forecasts and
trending songs come from trends.py's stored results, computed first when there are none or they
are older than the last load. Users appear by id only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2.extensions

import dwh
import sql_queries as sql

TOP = 20  # rows of the ranked tables
FORECAST_MIN_DAYS = 35  # trends.py's backtest: 28 days of training and a 7-day horizon
FORECAST_HISTORY = 56  # days of history the Forecast panel's chart shows before its forecast
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SESSION_MINUTES = [0, 5, 15, 30, 60, 120, 240]  # REPORT_SESSION_LENGTHS' buckets (lower bounds)
SESSION_SONGS = [0, 1, 2, 5, 10, 20, 50, 100]  # REPORT_SESSION_SONGS' buckets (lower bounds)
ANALYTICS_TABLES = ["app_events", "user_levels", "devices", "user_days", "user_sessions", "song_days",
                    "hour_plays", "user_day_places", "song_totals", "users", "etl_runs"]
Row = dict[str, Any]


# --------------------------------------------------------------------------- the period


class Period:
    """Days date_from .. date_to, inclusive, and the parameters every panel query takes."""

    def __init__(self, date_from: dt.date, date_to: dt.date) -> None:
        self.date_from, self.date_to = date_from, date_to
        self.days = (date_to - date_from).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.date_from - dt.timedelta(days=self.days), self.date_from - dt.timedelta(days=1))

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "date_from": self.date_from, "date_to": self.date_to,
            "day_after_to": self.date_to + dt.timedelta(days=1),
            "wau_from": self.date_to - dt.timedelta(days=6), "mau_from": self.date_to - dt.timedelta(days=27),
            "spans_from": self.date_from - dt.timedelta(days=27),
            "week_from": self.date_from - dt.timedelta(days=self.date_from.weekday()),  # Mondays
            "week_to": self.date_to - dt.timedelta(days=self.date_to.weekday()),
            **extra,
        }

    def as_json(self) -> dict[str, Any]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "days": self.days}


def choose_period(cur: psycopg2.extensions.cursor, date_from: dt.date | None,
                  date_to: dt.date | None) -> tuple[Period, dict[str, Any]]:
    """The asked period, by default all loaded days; and the data's own range."""
    dwh.execute(cur, sql.REPORT_DATA_RANGE)
    first, last, days = cur.fetchone()
    if first is None:
        raise dwh.DwhError("no events are loaded yet (the analytics layer is empty); load them with: python etl.py")
    period = Period(date_from or first, date_to or last)
    if period.days < 1:
        raise dwh.DwhError(f"--from {period.date_from} is after --to {period.date_to}")
    return period, {"first_day": first.isoformat(), "last_day": last.isoformat(), "days_with_events": days}


# --------------------------------------------------------------------------- querying


def plain(value: Any) -> Any:
    """A database value as JSON has it: dates as ISO text, NUMERIC as int or float."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def json_default(value: Any) -> Any:
    """What json.dumps cannot write itself (dates and NUMERIC in trends.py's results, say)."""
    shown = plain(value)
    if shown is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return shown


def fetch(cur: psycopg2.extensions.cursor, query: str, params: dict[str, Any] | None = None) -> list[Row]:
    dwh.execute(cur, query, params)
    names = [column.name for column in cur.description]
    return [{name: plain(value) for name, value in zip(names, row, strict=True)} for row in cur.fetchall()]


def ratio(part: float | None, whole: float | None, scale: float = 1.0, digits: int = 4) -> float | None:
    if part is None or not whole:
        return None
    return round(scale * part / whole, digits)


# --------------------------------------------------------------------------- panels: the numbers


def change(value: float | None, previous: float | None) -> dict[str, Any]:
    if value is None or previous is None:
        return {"value": value, "previous": previous, "change": None, "change_pct": None}
    delta = round(value - previous, 6)
    return {"value": value, "previous": previous, "change": delta, "change_pct": ratio(delta, previous, 100, 2)}


def kpi_values(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    """The KPIs of one period, from its users (report_period_users, made again for it)."""
    dwh.execute(cur, sql.REPORT_PERIOD_USERS_DROP)
    dwh.execute(cur, sql.REPORT_PERIOD_USERS, period.params())
    (row,) = fetch(cur, sql.REPORT_KPIS, period.params())
    row["paid_share"] = ratio(row["paid_users"], row["active_users"])
    return row


def kpis(cur: psycopg2.extensions.cursor, period: Period, data: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers, each against the period of the same length before (when the data
    covers all of it: a part-covered period would show a fall that is only missing data)."""
    before_period = period.previous()
    covered = before_period.date_from >= dt.date.fromisoformat(data["first_day"])
    before = kpi_values(cur, before_period) if covered else {}
    now = kpi_values(cur, period)  # last: the churn and demographics panels read its users
    names = ["plays", "dau", "wau", "mau", "paid_share", "new_users", "churned_users"]
    result: dict[str, Any] = {name: change(now[name], before.get(name)) for name in names}
    result["active_users"] = now["active_users"]
    result["previous_period"] = {**before_period.as_json(), "in_data": covered}
    return result


def forecast_rows(trends: dict[str, Any] | None, series: str) -> list[Row]:
    return list(((trends or {}).get("forecast") or {}).get(series) or [])


def daily(cur: psycopg2.extensions.cursor, period: Period, trends: dict[str, Any] | None) -> dict[str, Any]:
    days = fetch(cur, sql.REPORT_DAILY, period.params())
    return {"days": [{k: d[k] for k in ("activity_date", "plays", "active_users")} for d in days],
            "forecast": {"plays": forecast_rows(trends, "plays"),
                         "active_users": forecast_rows(trends, "active_users")},
            "_levels": days}


def stickiness(cur: psycopg2.extensions.cursor, period: Period, data: dict[str, Any]) -> list[Row]:
    rows = fetch(cur, sql.REPORT_STICKINESS, period.params())
    first = dt.date.fromisoformat(data["first_day"])
    for row in rows:
        row["dau_mau"] = ratio(row["dau"], row["mau"])
        # Before day 28 of the data the 28-day window reaches back before it: MAU is partial.
        row["full_window"] = dt.date.fromisoformat(row["activity_date"]) - dt.timedelta(days=27) >= first
    return rows


def paid_subscribers(cur: psycopg2.extensions.cursor, days: list[Row]) -> dict[str, int]:
    """Paid subscribers at the end of each day with plays: the level history's changes (each from
    its day, or the day before when it falls exactly at midnight) summed up to that day."""
    dwh.execute(cur, sql.REPORT_PAID_CHANGES)
    changes = sorted((day - dt.timedelta(days=at_midnight), int(change)) for day, at_midnight, change in cur.fetchall())
    result, total, i = {}, 0, 0
    for d in sorted(days, key=lambda d: d["activity_date"]):
        day = dt.date.fromisoformat(d["activity_date"])
        while i < len(changes) and changes[i][0] <= day:
            total, i = total + changes[i][1], i + 1
        if d["plays"]:  # as hour_plays has them: the days with plays
            result[d["activity_date"]] = total
    return result


def levels(cur: psycopg2.extensions.cursor, period: Period, days: list[Row]) -> dict[str, Any]:
    subscribers = paid_subscribers(cur, days)
    return {"days": [{
        "activity_date": d["activity_date"], "paid_users": d["paid_users"], "free_users": d["free_users"],
        "paid_plays_per_user": ratio(d["paid_plays"], d["paid_users"], digits=2),
        "free_plays_per_user": ratio(d["free_plays"], d["free_users"], digits=2),
        "paid_subscribers": subscribers.get(d["activity_date"]),
    } for d in days]}


def lifecycle(cur: psycopg2.extensions.cursor, period: Period) -> list[Row]:
    weeks: dict[str, Row] = {}
    for row in fetch(cur, sql.REPORT_LIFECYCLE, period.params()):
        week = weeks.setdefault(row["week"], {"week": row["week"], "new": 0, "returning": 0,
                                              "resurrected": 0, "dormant": 0})
        week[row["status"]] = row["users"]
    return [weeks[w] for w in sorted(weeks)]


def retention(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    cohorts: dict[str, Row] = {}
    for row in fetch(cur, sql.REPORT_RETENTION, period.params()):
        cohort = cohorts.setdefault(row["first_week"], {"cohort": row["first_week"], "users": 0, "weeks": []})
        since = (dt.date.fromisoformat(row["week"]) - dt.date.fromisoformat(row["first_week"])).days // 7
        if since == 0:
            cohort["users"] = row["users"]
        cohort["weeks"].append({"weeks_since": since, "users": row["users"]})
    for cohort in cohorts.values():
        for week in cohort["weeks"]:
            week["share"] = ratio(week["users"], cohort["users"])
    return {"cohorts": [cohorts[c] for c in sorted(cohorts)]}


def funnel(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    (counts,) = fetch(cur, sql.REPORT_FUNNEL, period.params())
    counts = {k: int(v or 0) for k, v in counts.items()}

    def steps(names: list[tuple[str, str]]) -> list[Row]:
        first, before, out = counts[names[0][0]], None, []
        for key, label in names:
            out.append({"step": key, "label": label, "users": counts[key],
                        "rate_from_previous": ratio(counts[key], before) if before is not None else None,
                        "rate_from_start": ratio(counts[key], first)})
            before = counts[key]
        return out

    return {
        "counts": counts,
        "upgrade": steps([("free_listeners", "Free listener"), ("upgrade_page", "Upgrade page"),
                          ("submit_upgrade", "Submit Upgrade")]),
        "downgrade": steps([("paid_users", "Paid user"), ("downgrade_page", "Downgrade page"),
                            ("submit_downgrade", "Submit Downgrade")]),
    }


def behaviour(row: Row) -> Row:
    return {
        "users": row["users"], "active_days": row["active_days"], "plays": row["plays"],
        "thumbs_down_share": ratio(row["thumbs_down"], (row["thumbs_up"] or 0) + (row["thumbs_down"] or 0)),
        "adverts_per_play": ratio(row["adverts"], row["plays"]),
        "errors_per_100_plays": ratio(row["errors"], row["plays"], 100, 3),
        "sessions_per_day": ratio(row["sessions"], row["active_days"], digits=3),
        "songs_per_session": ratio(row["plays"], row["sessions"], digits=2),
    }


def churn(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    weekly = fetch(cur, sql.REPORT_CHURN_WEEKLY, period.params())
    for week in weekly:
        week["churn_rate"] = ratio(week["churned_users"], week["active_users"])
    groups = {r["cohort"]: behaviour(r) for r in fetch(cur, sql.REPORT_CHURN_BEHAVIOUR, period.params())}
    churned = (groups.get("churned") or {}).get("users", 0)
    result = {"weekly": weekly, "churned_users": churned, "behaviour": groups}
    if not churned:
        result["message"] = "No user reached Cancellation Confirmation in this period."
    return result


def median(counts: dict[float, int]) -> float | None:
    """PERCENTILE_CONT(0.5) of values given as value -> how many: the middle value, or the two
    middle ones interpolated, in PostgreSQL's own arithmetic (first + fraction * (second - first))."""
    n = sum(counts.values())
    if not n:
        return None
    position = 0.5 * (n - 1)
    first_row, second_row = math.floor(position), math.ceil(position)
    found: dict[int, float] = {}
    seen = 0
    for value in sorted(counts):
        for row in (first_row, second_row):
            if seen <= row < seen + counts[value]:
                found[row] = float(value)
        seen += counts[value]
    first, second = found[first_row], found[second_row]
    return first if first_row == second_row else first + (position - first_row) * (second - first)


def user_day_shapes(cur: psycopg2.extensions.cursor, params: dict[str, Any]) -> tuple[Row, list[Row]]:
    """The medians of sessions and plays per user-day, and the user-days by sessions (4: four or more)."""
    sessions_count: dict[float, int] = {}
    plays_count: dict[float, int] = {}
    buckets: dict[int, Row] = {}
    for r in fetch(cur, sql.REPORT_USER_DAY_SHAPES, params):
        if r["sessions"] is not None:
            sessions_count[r["sessions"]] = sessions_count.get(r["sessions"], 0) + r["user_days"]
        if r["plays"] is not None:
            plays_count[r["plays"]] = plays_count.get(r["plays"], 0) + r["user_days"]
        bucket = buckets.setdefault(min(r["sessions"], 4), {"sessions": min(r["sessions"], 4), "user_days": 0,
                                                            "plays": None})
        bucket["user_days"] += r["user_days"]
        if r["plays"] is not None:
            bucket["plays"] = (bucket["plays"] or 0) + r["plays"] * r["user_days"]
    medians = {"median_sessions": median(sessions_count), "median_plays": median(plays_count)}
    return medians, [buckets[b] for b in sorted(buckets)]


def sessions(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    params = period.params()
    (summary,) = fetch(cur, sql.REPORT_SESSIONS, params)
    plays = {r["plays"]: r["sessions"] for r in fetch(cur, sql.REPORT_SESSION_PLAYS, params)}
    medians, per_day = user_day_shapes(cur, params)
    lengths: dict[int, int] = {}
    songs: dict[int, int] = {}
    for r in fetch(cur, sql.REPORT_SESSION_BUCKETS, params):
        lengths[r["length_bucket"]] = lengths.get(r["length_bucket"], 0) + r["sessions"]
        songs[r["songs_bucket"]] = songs.get(r["songs_bucket"], 0) + r["sessions"]

    def label(bounds: list[int], i: int, unit: str) -> str:
        if i + 1 == len(bounds):
            return f"{bounds[i]}+ {unit}"
        low, high = bounds[i], bounds[i + 1] - (0 if unit == "min" else 1)
        if low == high:
            return f"{low} {unit.rstrip('s') if low == 1 else unit}"
        return f"{low}–{high} {unit}"

    seconds = summary["median_seconds"]
    return {
        "sessions": summary["sessions"],
        "median_minutes": round(seconds / 60, 2) if seconds is not None else None,
        "median_songs": median(plays),  # PERCENTILE_CONT(0.5) of plays: a statement of its own on Redshift
        "mean_songs": round(summary["mean_plays"], 2) if summary["mean_plays"] is not None else None,
        "median_sessions_per_user_day": medians["median_sessions"],
        "median_plays_per_user_day": medians["median_plays"],
        "length_buckets": [{"order": i, "bucket": label(SESSION_MINUTES, i, "min"), "sessions": lengths.get(b, 0)}
                           for i, b in enumerate(SESSION_MINUTES)],
        "songs_buckets": [{"order": i, "bucket": label(SESSION_SONGS, i, "songs"), "sessions": songs.get(b, 0)}
                          for i, b in enumerate(SESSION_SONGS)],
        "per_user_day": [{"sessions": "4+" if r["sessions"] == 4 else str(r["sessions"]),
                          "user_days": r["user_days"], "plays": r["plays"]} for r in per_day],
    }


def heatmap(cur: psycopg2.extensions.cursor, period: Period) -> list[Row]:
    plays = {(r["weekday"], r["hour"]): r["plays"] for r in fetch(cur, sql.REPORT_HEATMAP, period.params())}
    return [{"weekday": day, "day": WEEKDAYS[day - 1], "hour": hour, "plays": plays.get((day, hour), 0)}
            for day in range(1, 8) for hour in range(24)]


Listeners = dict[tuple[str, str | None], int]  # (artist, song) or (artist, None) -> distinct listeners


def top_listeners(cur: psycopg2.extensions.cursor, period: Period, songs: list[Row], artists: list[Row]
                  ) -> Listeners:
    """The distinct listeners in the period of the top songs and of the top artists."""
    if not songs and not artists:
        return {}
    names = {r["artist"] for r in songs + artists}
    titles = {r["song"] for r in songs} or {""}  # IN () is no SQL: "" names no top song then
    rows = fetch(cur, sql.REPORT_TOP_LISTENERS, period.params(top_artists=tuple(sorted(names)),
                                                              top_titles=tuple(sorted(titles))))
    return {(r["artist"], r["song"]): r["listeners"] for r in rows}


def side_panels(cur: psycopg2.extensions.cursor, period: Period, data: dict[str, Any], songs: list[Row],
                artists: list[Row]) -> dict[str, Any]:
    """The top lists' listeners (the one read of app_events) and the panels that need none of the
    report's temporary tables: what a second connection can compute meanwhile."""
    return {"listeners": top_listeners(cur, period, songs, artists), "sessions": sessions(cur, period),
            "stickiness": stickiness(cur, period, data), "heatmap": heatmap(cur, period),
            "engagement": engagement(cur, period), "errors": errors(cur, period)}


def side_panels_apart(connect: Callable[[], psycopg2.extensions.connection], dialect: str, period: Period,
                      data: dict[str, Any], songs: list[Row], artists: list[Row]) -> dict[str, Any]:
    """side_panels on a connection of its own, beside the main one's queries (the server has a
    process, and a CPU, for each)."""
    with closing(connect()) as conn, conn.cursor() as cur:
        if dialect == sql.POSTGRES:
            dwh.run_all(cur, sql.POSTGRES_SESSION_SETTINGS)
        result = side_panels(cur, period, data, songs, artists)
        conn.rollback()
    return result


def ranked(rows: list[Row], listeners: Listeners, song: bool) -> list[Row]:
    """A top list with its ranks and listeners, the columns in the order of --json."""
    out = []
    for i, r in enumerate(rows, start=1):
        count = listeners.get((r["artist"], r["song"] if song else None), 0)
        row: Row = {"rank": i}
        for name, value in r.items():
            row[name] = value
            if name == ("plays" if song else "songs"):
                row["listeners"] = count
        out.append({**row, "plays_per_listener": ratio(r["plays"], count, digits=2)})
    return out


def devices(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, list[Row]]:
    result: dict[str, list[Row]] = {"os": [], "browser": [], "device_type": []}
    for row in fetch(cur, sql.REPORT_DEVICES, period.params()):
        result[row.pop("dimension")].append(row)
    return result


ACTIONS = ["thumbs_up", "thumbs_down", "add_to_playlist", "add_friend", "adverts"]


def engagement(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    rows = fetch(cur, sql.REPORT_ENGAGEMENT, period.params())
    total = {"level": "all", **{k: sum(r[k] or 0 for r in rows) for k in ["plays", *ACTIONS]}}
    out = []
    for row in [*rows, total]:
        out.append({"level": row["level"], "plays": row["plays"],
                    **{k: row[k] for k in ACTIONS},
                    **{f"{k}_per_100_plays": ratio(row[k], row["plays"], 100, 2) for k in ACTIONS}})
    result = {"by_level": out[:-1], "all": out[-1]}
    if not any(total[k] for k in ACTIONS):
        result["message"] = ("No Thumbs Up, Thumbs Down, Add to Playlist, Add Friend or Roll Advert events in this "
                             "period.")
    return result


def errors(cur: psycopg2.extensions.cursor, period: Period) -> dict[str, Any]:
    days = fetch(cur, sql.REPORT_ERRORS, period.params())
    for day in days:
        day["errors_per_1000_events"] = ratio(day["errors"], day["events"], 1000, 3)
        day["help_per_1000_events"] = ratio(day["help"], day["events"], 1000, 3)
    events, errs, helps = (sum(d[k] for d in days) for k in ("events", "errors", "help"))
    return {"days": days, "events": events, "errors": errs, "help": helps,
            "errors_per_1000_events": ratio(errs, events, 1000, 3),
            "help_per_1000_events": ratio(helps, events, 1000, 3)}


def freshness(cur: psycopg2.extensions.cursor, trends: dict[str, Any] | None) -> dict[str, Any]:
    dwh.execute(cur, sql.REPORT_LAST_EVENT)
    (last_event,) = cur.fetchone()
    runs = fetch(cur, sql.REPORT_RECENT_RUNS, {"limit": 5})
    return {"last_event": plain(last_event), "last_run": runs[0] if runs else None, "recent_runs": runs,
            "trends_computed_at": plain((trends or {}).get("computed_at")),
            "generated_at": dwh.utc_now().isoformat(sep=" ", timespec="seconds")}


def forecast(trends: dict[str, Any] | None, trends_problem: str | None, data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "forecast": (trends or {}).get("forecast") or {"plays": [], "active_users": [], "paid_users": []},
        "backtest": (trends or {}).get("backtest") or {},
    }
    if trends_problem:
        result["message"] = trends_problem
    elif not any(result["forecast"].get(s) for s in ("plays", "active_users", "paid_users")):
        result["message"] = (trends or {}).get("message") or (
            f"Only {data['days_with_events']} days of data: a forecast needs at least {FORECAST_MIN_DAYS} (28 to "
            "train and 7 to test against)." if data["days_with_events"] < FORECAST_MIN_DAYS
            else "trends.py stored no forecast.")
    return result


def trending(trends: dict[str, Any] | None, trends_problem: str | None, key: str) -> dict[str, Any]:
    rows = list((trends or {}).get(key) or [])
    result: dict[str, Any] = {"items": rows}
    if trends_problem:
        result["message"] = trends_problem
    elif not rows:
        result["message"] = ((trends or {}).get("trending_window") or {}).get("message") or (
            "Nothing is trending: no song or artist has enough plays and listeners in the last 7 days.")
    return result


def finite(value: Any) -> Any:
    """The document with NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def latest_trends(conn: psycopg2.extensions.connection) -> tuple[dict[str, Any] | None, str | None]:
    """trends.py's latest stored results, computed (and stored) first when there are none or
    they are older than the last load; or why there are none."""
    try:
        import trends
    except ImportError:
        return None, "trends.py is not available beside report.py: no forecasts or trending lists."
    try:
        stored = trends.latest_trends(conn)
        if stored is None or trends.trends_are_stale(conn):
            dwh.say("computing trends (none stored, or older than the last load) ...")
            stored = trends.compute_trends(conn)
        conn.commit()
        return finite(stored), None
    except dwh.DwhError as exc:
        conn.rollback()
        return None, f"Trends could not be computed: {dwh.first_line(exc)}"


def prepare(cur: psycopg2.extensions.cursor, period: Period, dialect: str) -> None:
    """The session's settings and the temporary tables several panels read: the period's plays
    per song (song_totals when the period spans every day with plays, else song_days), the top
    songs and artists, and each user's active weeks."""
    if dialect == sql.POSTGRES:
        dwh.run_all(cur, sql.POSTGRES_SESSION_SETTINGS)  # room for the sorts and hashes in memory
    dwh.run_all(cur, sql.REPORT_TEMPORARY_DROP)
    dwh.execute(cur, sql.REPORT_PLAY_DAYS)
    first, last = cur.fetchone()
    whole = first is None or (period.date_from <= first and period.date_to >= last)
    ranking = ([sql.REPORT_TOP_SONG_LIST_ALL, sql.REPORT_TOP_ARTIST_LIST_ALL] if whole
               else [sql.REPORT_SONG_TOTALS, sql.REPORT_TOP_SONG_LIST, sql.REPORT_TOP_ARTIST_LIST])
    for statement in [*ranking, sql.REPORT_USER_WEEKS]:
        dwh.execute(cur, statement, period.params(limit=TOP))
    if dialect == sql.POSTGRES:
        dwh.execute(cur, sql.REPORT_USER_WEEKS_ANALYZE)


def panel_numbers(conn: psycopg2.extensions.connection, dialect: str, date_from: dt.date | None,
                  date_to: dt.date | None,
                  connect: Callable[[], psycopg2.extensions.connection] | None = None) -> dict[str, Any]:
    """The numbers behind every panel, under the stable keys of --json. With `connect`, some of
    them (side_panels) are computed on a second connection meanwhile."""
    trends, trends_problem = latest_trends(conn)
    with conn.cursor() as cur, ThreadPoolExecutor(max_workers=1) as apart:
        period, data = choose_period(cur, date_from, date_to)
        params = period.params()
        prepare(cur, period, dialect)
        songs, artists = fetch(cur, sql.REPORT_TOP_SONGS), fetch(cur, sql.REPORT_TOP_ARTISTS)
        side = apart.submit(side_panels_apart, connect, dialect, period, data, songs, artists) if connect else None
        days = daily(cur, period, trends)
        numbers = {
            "period": period.as_json(), "data": data,
            "kpis": kpis(cur, period, data),
            "daily": {k: v for k, v in days.items() if not k.startswith("_")},
            "stickiness": None,
            "levels": levels(cur, period, days["_levels"]),
            "lifecycle": lifecycle(cur, period),
            "retention": retention(cur, period),
            "funnel": funnel(cur, period),
            "churn": churn(cur, period),
            "sessions": None,
            "heatmap": None,
            "top_songs": songs,
            "top_artists": artists,
            "trending_songs": trending(trends, trends_problem, "trending_songs"),
            "trending_artists": trending(trends, trends_problem, "trending_artists"),
            "geography": fetch(cur, sql.REPORT_GEOGRAPHY, params),
            "devices": devices(cur, period),
            "engagement": None,
            "demographics": fetch(cur, sql.REPORT_DEMOGRAPHICS, params),
            "errors": None,
            "freshness": freshness(cur, trends),
            "forecast": forecast(trends, trends_problem, data),
        }
        more = side.result() if side else side_panels(cur, period, data, songs, artists)
        listeners = more.pop("listeners")
        numbers |= more  # into the places held for them above: the keys keep their order
        numbers["top_songs"] = ranked(songs, listeners, song=True)
        numbers["top_artists"] = ranked(artists, listeners, song=False)
    conn.rollback()  # the report only reads; its temporary tables go with the session
    return numbers


# --------------------------------------------------------------------------- charts (Vega-Lite via Altair)


LEVELS = ["free", "paid", "all"]  # one colour per level on every chart
LEVEL_COLOURS = ["#3465a4", "#f57900", "#888a85"]


def level_colour(field: str = "level", *, with_all: bool = False) -> Any:
    """The same colour for a level on every chart; "all" only where a chart has that row (in
    the domain of the others, it would be a legend entry with no mark)."""
    import altair as alt

    shown = len(LEVELS) if with_all else 2
    return alt.Color(f"{field}:N", title="level",
                     scale=alt.Scale(domain=LEVELS[:shown], range=LEVEL_COLOURS[:shown]))


DENSE = 62  # points in a line above which its markers would hide the line: drawn faint and small


def points(count: int) -> Any:
    """A line's point markers: plain on a short series; on a long one faint and small, so the
    line stays readable at a year of days and every day still has its tooltip."""
    return True if count <= DENSE else {"filled": True, "size": 12, "opacity": 0.25}


def utc_date(field: str, title: str, days: int = 0) -> Any:
    """A day axis: "Nov 04" over a few months, "Nov 2018" over longer (its ticks are months)."""
    import altair as alt

    long = days > 3 * 31
    return alt.X(f"{field}:T", timeUnit="utcyearmonthdate", title=title,
                 axis=alt.Axis(format="%b %Y" if long else "%b %d", tickCount="month" if long else alt.Undefined,
                               labelOverlap=True))


def date_tip(field: str, title: str = "day") -> Any:
    import altair as alt

    return alt.Tooltip(f"{field}:T", timeUnit="utcyearmonthdate", title=title)


def values(rows: Iterable[Row]) -> Any:
    import altair as alt

    return alt.Data(values=list(rows))


def finish(chart: Any, width: int = 380, height: int = 220) -> dict[str, Any]:
    # Altair's JSON-schema validation costs seconds per page; the browser tests draw every chart
    # and fail on any Vega error, which is the check that matters.
    chart = chart.properties(width=width, height=height).configure_view(stroke=None)
    spec: dict[str, Any] = chart.to_dict(validate=False)
    return spec


def series_chart(history: list[Row], forecast_points: list[Row], y_title: str, width: int | None = None
                 ) -> dict[str, Any]:
    """A daily series as a line, and its forecast as a dashed line inside 80% and 95% bands.
    A long series gets a wider chart, so that the forecast's days keep some room."""
    import altair as alt

    width = width or (440 if len(history) <= DENSE else 560)
    x = utc_date("date", "day (UTC)", len(history) + len(forecast_points))
    actual = alt.Chart(values(history)).mark_line(point=points(len(history)), color="#3465a4").encode(
        x=x, y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",~f")),
        tooltip=[date_tip("date"), alt.Tooltip("value:Q", title=y_title, format=",~f")])
    layers = []
    if forecast_points:
        points_ = [{"date": p["date"], "value": p["value"], "lo80": p.get("lo80"), "hi80": p.get("hi80"),
                    "lo95": p.get("lo95"), "hi95": p.get("hi95")} for p in forecast_points]
        tips = [date_tip("date"), alt.Tooltip("value:Q", title="forecast", format=",.0f"),
                *[alt.Tooltip(f"{bound}:Q", title=title, format=",.0f")
                  for bound, title in (("lo80", "80% from"), ("hi80", "80% to"), ("lo95", "95% from"),
                                       ("hi95", "95% to"))]]
        base = alt.Chart(values(points_))
        layers = [
            base.mark_area(opacity=0.15, color="#f57900").encode(x=x, y="lo95:Q", y2="hi95:Q", tooltip=tips),
            base.mark_area(opacity=0.3, color="#f57900").encode(x=x, y="lo80:Q", y2="hi80:Q", tooltip=tips),
            base.mark_line(strokeDash=[4, 3], color="#ce5c00", point=points(len(points_))).encode(
                x=x, y="value:Q", tooltip=tips),
        ]
    return finish(alt.layer(*layers, actual), width)


def multi_line(rows: list[Row], x_field: str, x_title: str, y_title: str, series_title: str,
               y_format: str = ",~f", width: int = 400,
               colours: dict[str, str] | None = None) -> dict[str, Any]:
    """Rows of {x_field, series, value} as one line per series (colours: series -> colour)."""
    import altair as alt

    scale = alt.Scale(domain=list(colours), range=list(colours.values())) if colours else alt.Undefined
    days = len({r[x_field] for r in rows})
    chart = alt.Chart(values(rows)).mark_line(point=points(days)).encode(
        x=utc_date(x_field, x_title, days), y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=y_format)),
        color=alt.Color("series:N", title=series_title, scale=scale, legend=alt.Legend(symbolOpacity=1)),
        tooltip=[date_tip(x_field, x_title), alt.Tooltip("series:N", title=series_title),
                 alt.Tooltip("value:Q", title=y_title, format=y_format)])
    return finish(chart, width)


def bars(rows: list[Row], category: str, category_title: str, value: str, value_title: str,
         horizontal: bool = True, sort: Any = "-x", extra_tips: Iterable[tuple[str, str]] = (),
         width: int = 380, height: int | None = None, value_format: str = ",~f") -> dict[str, Any]:
    import altair as alt

    tips = [alt.Tooltip(f"{category}:N", title=category_title),
            alt.Tooltip(f"{value}:Q", title=value_title, format=value_format),
            *[alt.Tooltip(f"{f}:Q", title=t, format=",~f") for f, t in extra_tips]]
    cat = alt.Y if horizontal else alt.X
    val = alt.X if horizontal else alt.Y
    chart = alt.Chart(values(rows)).mark_bar(color="#3465a4").encode(
        **{"y" if horizontal else "x": cat(f"{category}:N", title=category_title, sort=sort,
                                          axis=alt.Axis(labelAngle=0 if horizontal else -40)),
           "x" if horizontal else "y": val(f"{value}:Q", title=value_title,
                                          axis=alt.Axis(format=value_format, tickMinStep=1))},
        tooltip=tips)
    return finish(chart, width, height or (max(120, 22 * len(rows)) if horizontal else 220))


def daily_charts(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    days, fc = numbers["daily"]["days"], numbers["daily"]["forecast"]
    return [
        series_chart([{"date": d["activity_date"], "value": d["plays"]} for d in days], fc["plays"], "plays"),
        series_chart([{"date": d["activity_date"], "value": d["active_users"]} for d in days], fc["active_users"],
                     "active users"),
    ]


def stickiness_chart(rows: list[Row]) -> list[dict[str, Any]]:
    import altair as alt

    chart = alt.Chart(values(rows)).mark_line(point=points(len(rows)), color="#3465a4").encode(
        x=utc_date("activity_date", "day (UTC)", len(rows)),
        y=alt.Y("dau_mau:Q", title="DAU / 28-day MAU", axis=alt.Axis(format="%")),
        tooltip=[date_tip("activity_date"), alt.Tooltip("dau:Q", title="DAU"),
                 alt.Tooltip("mau:Q", title="28-day MAU"), alt.Tooltip("dau_mau:Q", title="DAU/MAU", format=".1%"),
                 alt.Tooltip("full_window:N", title="full 28-day window")])
    return [finish(chart, 900)]


def levels_charts(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    days = numbers["levels"]["days"]
    users = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in days
             for key, name in (("free_users", "free (active)"), ("paid_users", "paid (active)")) if d[key] is not None]
    # Subscribers on a chart of their own: they add up over months, and on the active users'
    # scale they would flatten the daily lines.
    subscribers = [{"activity_date": d["activity_date"], "series": "paid subscribers", "value": d["paid_subscribers"]}
                   for d in days if d["paid_subscribers"] is not None]
    plays = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in days
             for key, name in (("free_plays_per_user", "free"), ("paid_plays_per_user", "paid")) if d[key] is not None]
    return [multi_line(users, "activity_date", "day (UTC)", "active users", "users", width=360,
                       colours={"free (active)": LEVEL_COLOURS[0], "paid (active)": LEVEL_COLOURS[1]}),
            multi_line(subscribers, "activity_date", "day (UTC)", "paid subscribers", "users", width=300,
                       colours={"paid subscribers": "#a40000"}),
            multi_line(plays, "activity_date", "day (UTC)", "plays per active user", "level", ",.1f", width=360,
                       colours=dict(zip(LEVELS[:2], LEVEL_COLOURS[:2], strict=True)))]


def lifecycle_chart(rows: list[Row]) -> list[dict[str, Any]]:
    import altair as alt

    long = [{"week": week_label(r["week"]), "status": s, "users": -r[s] if s == "dormant" else r[s], "count": r[s]}
            for r in rows for s in ("new", "returning", "resurrected", "dormant")]
    order = ["new", "returning", "resurrected", "dormant"]
    chart = alt.Chart(values(long)).mark_bar().encode(
        x=alt.X("week:O", title="ISO week starting (Monday)", sort=[week_label(r["week"]) for r in rows],
                axis=week_axis(len(rows))),
        y=alt.Y("users:Q", title="users (dormant below zero)"),
        color=alt.Color("status:N", title="status", sort=order,
                        scale=alt.Scale(domain=order, range=["#4e9a06", "#3465a4", "#f57900", "#cc0000"])),
        order=alt.Order("status:N"),
        tooltip=[alt.Tooltip("week:O", title="week"), alt.Tooltip("status:N"), alt.Tooltip("count:Q", title="users")])
    return [finish(chart)]


def week_axis(weeks: int) -> Any:
    """A week axis: level labels for a few weeks; slanted, and thinned where they would overlap,
    for months of them."""
    import altair as alt

    return alt.Axis(labelAngle=0) if weeks <= 12 else alt.Axis(labelAngle=-60, labelOverlap=True)


def week_label(iso_day: str) -> str:
    """'2018-10-29' as 'Oct 29': short enough for a week axis."""
    return dt.date.fromisoformat(iso_day).strftime("%b %d")


def retention_chart(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    import altair as alt

    cohorts = numbers["retention"]["cohorts"]
    cells = [{"cohort": c["cohort"], "cohort_users": c["users"], **w} for c in cohorts for w in c["weeks"]]
    columns = 1 + max((w["weeks_since"] for c in cohorts for w in c["weeks"]), default=0)
    # Months of cohorts: cells too small for their percentage (the tooltip has it), rows thinner.
    labelled = columns <= 16 and len(cohorts) <= 24
    base = alt.Chart(values(cells)).encode(
        x=alt.X("weeks_since:O", title="weeks since first activity",
                axis=alt.Axis(labelAngle=0, labelOverlap=True)),
        y=alt.Y("cohort:O", title="cohort (week of first activity)"),
        tooltip=[alt.Tooltip("cohort:O", title="cohort"), alt.Tooltip("cohort_users:Q", title="cohort users"),
                 alt.Tooltip("weeks_since:O", title="weeks since"), alt.Tooltip("users:Q", title="active"),
                 alt.Tooltip("share:Q", title="retained", format=".0%")])
    rects = base.mark_rect().encode(color=alt.Color("share:Q", title="retained", scale=alt.Scale(scheme="blues"),
                                                    legend=alt.Legend(format="%")))
    text = base.mark_text(fontSize=10).encode(text=alt.Text("share:Q", format=".0%"),
                                              color=alt.condition("datum.share > 0.6", alt.value("white"),
                                                                  alt.value("black")))
    chart = alt.layer(rects, text) if labelled else rects
    return [finish(chart, 360 if labelled else max(360, 10 * columns),
                   max(120, (24 if labelled else 12) * len(cohorts)))]


def funnel_charts(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for side in ("upgrade", "downgrade"):
        steps = [{**s, "share": s["rate_from_start"]} for s in numbers["funnel"][side]]
        out.append(bars(steps, "label", "step", "users", "users", sort=None, width=360,
                        extra_tips=[("rate_from_previous", "share of the step before")]))
    return out


def churn_chart(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    import altair as alt

    weekly = [{**w, "week": week_label(w["week"])} for w in numbers["churn"]["weekly"]]
    tips = [alt.Tooltip("week:O", title="week"), alt.Tooltip("churned_users:Q", title="churned users"),
            alt.Tooltip("active_users:Q", title="active users"), alt.Tooltip("churn_rate:Q", title="churn rate",
                                                                              format=".1%")]
    base = alt.Chart(values(weekly)).encode(
        x=alt.X("week:O", title="ISO week starting (Monday)", sort=[w["week"] for w in weekly],
                axis=week_axis(len(weekly))), tooltip=tips)
    chart = alt.layer(
        base.mark_bar(color="#cc0000", opacity=0.7).encode(
            y=alt.Y("churned_users:Q", title="churned users", axis=alt.Axis(tickMinStep=1))),
        base.mark_line(point=True, color="#2e3436").encode(
            y=alt.Y("churn_rate:Q", title="churn rate", axis=alt.Axis(format="%"))),
    ).resolve_scale(y="independent")
    return [finish(chart)]


def session_charts(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    s = numbers["sessions"]
    return [bars(s["length_buckets"], "bucket", "session length", "sessions", "sessions", horizontal=False,
                 sort=[b["bucket"] for b in s["length_buckets"]], width=280),
            bars(s["songs_buckets"], "bucket", "songs in the session", "sessions", "sessions", horizontal=False,
                 sort=[b["bucket"] for b in s["songs_buckets"]], width=280),
            bars(s["per_user_day"], "sessions", "sessions in a user's day", "user_days", "user-days",
                 horizontal=False, sort=None, width=160)]


def heatmap_chart(rows: list[Row]) -> list[dict[str, Any]]:
    import altair as alt

    chart = alt.Chart(values(rows)).mark_rect().encode(
        x=alt.X("hour:O", title="hour of the day (UTC)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("day:O", title="weekday", sort=WEEKDAYS),
        color=alt.Color("plays:Q", title="plays", scale=alt.Scale(scheme="oranges")),
        tooltip=[alt.Tooltip("day:O", title="weekday"), alt.Tooltip("hour:O", title="hour (UTC)"),
                 alt.Tooltip("plays:Q", title="plays", format=",")])
    return [finish(chart, 900, 200)]


def geography_chart(rows: list[Row]) -> list[dict[str, Any]]:
    return [bars(rows[:25], "state", "US state", "users", "active users", sort="-x",
                 extra_tips=[("plays", "plays")])]


def device_charts(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    d = numbers["devices"]
    return [bars(d["os"][:12], "name", "operating system", "users", "active users", width=190,
                 extra_tips=[("plays", "plays")]),
            bars(d["browser"][:12], "name", "browser", "users", "active users", width=190,
                 extra_tips=[("plays", "plays")])]


def engagement_chart(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    import altair as alt

    names = {"thumbs_up": "Thumbs Up", "thumbs_down": "Thumbs Down", "add_to_playlist": "Add to Playlist",
             "add_friend": "Add Friend", "adverts": "Roll Advert"}
    rows = [{"level": r["level"], "action": names[k], "per_100": r[f"{k}_per_100_plays"], "count": r[k]}
            for r in [*numbers["engagement"]["by_level"], numbers["engagement"]["all"]] for k in ACTIONS
            if r[f"{k}_per_100_plays"] is not None]
    chart = alt.Chart(values(rows)).mark_bar().encode(
        y=alt.Y("action:N", title=None, sort=list(names.values())),
        yOffset=alt.YOffset("level:N"),
        x=alt.X("per_100:Q", title="per 100 plays"),
        color=level_colour(with_all=True),
        tooltip=[alt.Tooltip("action:N"), alt.Tooltip("level:N"), alt.Tooltip("per_100:Q", title="per 100 plays"),
                 alt.Tooltip("count:Q", title="events", format=",")])
    return [finish(chart, 340, 260)]


def demographics_chart(rows: list[Row]) -> list[dict[str, Any]]:
    import altair as alt

    chart = alt.Chart(values(rows)).mark_bar().encode(
        x=alt.X("gender:N", title="gender", axis=alt.Axis(labelAngle=0)), xOffset=alt.XOffset("level:N"),
        y=alt.Y("users:Q", title="active users", axis=alt.Axis(tickMinStep=1)),
        color=level_colour(),
        tooltip=[alt.Tooltip("gender:N"), alt.Tooltip("level:N"), alt.Tooltip("users:Q", title="users"),
                 alt.Tooltip("plays:Q", title="plays", format=",")])
    return [finish(chart, 300)]


def errors_chart(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"activity_date": d["activity_date"], "series": name, "value": d[key]} for d in numbers["errors"]["days"]
            for key, name in (("errors_per_1000_events", "Error"), ("help_per_1000_events", "Help"))
            if d[key] is not None]
    return [multi_line(rows, "activity_date", "day (UTC)", "pages per 1,000 events", "page", ",.1f")]


def paid_forecast_chart(numbers: dict[str, Any]) -> list[dict[str, Any]]:
    history = [{"date": d["activity_date"], "value": d["paid_subscribers"]} for d in numbers["levels"]["days"]
               if d["paid_subscribers"] is not None]
    # The last weeks only (Free and paid has the whole history): room for the forecast's band.
    return [series_chart(history[-FORECAST_HISTORY:], numbers["forecast"]["forecast"].get("paid_users") or [],
                         "paid subscribers")]


# --------------------------------------------------------------------------- HTML


def esc(value: Any) -> str:
    """Text for HTML: every value from the data is escaped, so markup in it shows as text."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return html.escape(str(value), quote=True)


def script_json(document: Any) -> str:
    """JSON safe inside a <script> element: no '</script>', '<!--' or line separators can occur."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=json_default)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def table(columns: list[tuple[str, str]], rows: Iterable[Row], numeric: Iterable[str] = (),
          ids: Iterable[str] = ()) -> str:
    """An HTML table of rows; numeric columns right-aligned, id columns in monospace."""
    kinds = {**dict.fromkeys(numeric, "num"), **dict.fromkeys(ids, "id")}
    head = "".join(f'<th class="{kinds.get(key, "")}">{esc(title)}</th>' for key, title in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{kinds.get(key, "")}">{esc(row.get(key))}</td>' for key, _ in columns) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def short(value: float | None) -> str:
    """A number for a sentence: no needless decimals (2, not 2.00)."""
    return "–" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


class Page:
    """The panels in order, and the chart specs they refer to."""

    def __init__(self) -> None:
        self.sections: list[str] = []
        self.specs: dict[str, dict[str, Any]] = {}

    def charts(self, specs: list[dict[str, Any]]) -> str:
        divs = []
        for spec in specs:
            chart_id = f"chart-{len(self.specs) + 1}"
            self.specs[chart_id] = spec
            divs.append(f'<div class="chart" id="{chart_id}"></div>')
        return f'<div class="charts">{"".join(divs)}</div>'

    def panel(self, key: str, title: str, what: str, body: str, wide: bool = False) -> None:
        self.sections.append(
            f'<section class="panel{" wide" if wide else ""}" id="panel-{key}"><h2>{esc(title)}</h2>'
            f'<p class="what">{esc(what)}</p>{body}</section>')


def empty(message: str) -> str:
    return f'<p class="empty">{esc(message)}</p>'


def kpi_cards(k: dict[str, Any]) -> str:
    names = [("plays", "Plays", ","), ("dau", "DAU (last day)", ","), ("wau", "WAU (last 7 days)", ","),
             ("mau", "MAU (last 28 days)", ","), ("paid_share", "Paid share of active users", "%"),
             ("new_users", "New users", ","), ("churned_users", "Churned users", ",")]
    cards = []
    for key, title, kind in names:
        item = k[key]
        shown = percent(item["value"]) if kind == "%" else esc(item["value"])
        if item["change"] is None:
            delta = "no earlier period of this length in the data"
        elif kind == "%":
            delta = f"{100 * item['change']:+.1f} points vs {percent(item['previous'])}"
        else:
            pct = f" ({item['change_pct']:+.1f}%)" if item["change_pct"] is not None else ""
            delta = f"{item['change']:+,}{pct} vs {item['previous']:,}"
        cards.append(f'<div class="kpi"><div class="kpi-title">{esc(title)}</div>'
                     f'<div class="kpi-value">{shown}</div><div class="kpi-delta">{esc(delta)}</div></div>')
    prev = k["previous_period"]
    return (f'<div class="kpis">{"".join(cards)}</div><p class="note">Compared with {esc(prev["from"])} to '
            f'{esc(prev["to"])}. Active users in the period: {esc(k["active_users"])}.</p>')


def render_panels(page: Page, n: dict[str, Any]) -> None:
    """Every panel, in reading order: a title, one line saying what it shows, and its chart or
    table, or why there is none. Half-width panels come in pairs, so the grid has no holes."""
    page.panel("kpis", "Key figures", "Plays, active users, paid share, new and churned users in the period, "
               "each against the period of the same length before.", kpi_cards(n["kpis"]), wide=True)
    days = n["daily"]["days"]
    has_forecast = bool(n["daily"]["forecast"]["plays"])
    page.panel("daily", "Daily activity", "Plays and active users per day (UTC)"
               + (", then the forecast (orange, dashed) in its 80% and 95% intervals; the Forecast panel says "
                  "which model each series uses." if has_forecast else "."),
               page.charts(daily_charts(n)) if days else empty("No events in this period."), wide=True)
    page.panel("stickiness", "Stickiness", "Daily active users as a share of the users active in the 28 days "
               "up to that day (DAU/MAU); in the first 27 days of the data the window is partial.",
               page.charts(stickiness_chart(n["stickiness"])) if n["stickiness"] else empty("No events."), wide=True)
    page.panel("levels", "Free and paid", "Active users by the level of their day, paid subscribers from the level "
               "history, and plays per active user.", page.charts(levels_charts(n)) if days else empty("No events."),
               wide=True)
    page.panel("lifecycle", "User lifecycle", "Per ISO week: new, returning (active the week before too), "
               "resurrected (back after a gap) and dormant (active the week before, not this week) users; the last "
               "week counts only its days up to the period's end.",
               page.charts(lifecycle_chart(n["lifecycle"])) if n["lifecycle"] else empty("No weeks in the period."))
    page.panel("retention", "Retention cohorts", "Share of each weekly cohort (week of first activity) active in "
               "each later week (hover a cell for its figures).",
               page.charts(retention_chart(n)) if n["retention"]["cohorts"]
               else empty("No user's first activity falls in this period."))
    render_churn(page, n)
    render_funnel(page, n)
    page.panel("engagement", "Engagement", "Thumbs up and down, adds to playlists, friends added and adverts "
               "rolled, per 100 plays, by level.",
               empty(n["engagement"]["message"]) if n["engagement"].get("message")
               else page.charts(engagement_chart(n)))
    render_sessions(page, n)
    page.panel("heatmap", "When people listen", "Plays by hour of the day (UTC) and ISO weekday.",
               page.charts(heatmap_chart(n["heatmap"])) if any(c["plays"] for c in n["heatmap"])
               else empty("No plays in this period."), wide=True)
    render_top(page, n)
    page.panel("geography", "Where listeners are", "Active users and plays by US state, from the events' location "
               "(a metro spanning states counts for its first state).",
               page.charts(geography_chart(n["geography"])) if n["geography"] else empty("No locations."))
    render_trending(page, n, "trending_songs", "Trending songs", [("song", "song"), ("artist", "artist")], wide=True)
    render_trending(page, n, "trending_artists", "Trending artists", [("artist", "artist")])
    page.panel("devices", "Devices", "Active users by operating system and browser, from their user agents.",
               page.charts(device_charts(n)) if n["devices"]["os"] else empty("No user agents."))
    page.panel("demographics", "Demographics", "Active users by gender and level (on their last active day).",
               page.charts(demographics_chart(n["demographics"])) if n["demographics"] else empty("No users."))
    e = n["errors"]
    page.panel("errors", "Errors and help", f"Error and Help pages per 1,000 events of logged-in users: "
               f"{e['errors']:,} errors and {e['help']:,} help pages in {e['events']:,} events.",
               page.charts(errors_chart(n)) if e["days"] else empty("No events."))
    render_forecast(page, n)
    render_freshness(page, n)


def render_funnel(page: Page, n: dict[str, Any]) -> None:
    f = n["funnel"]
    steps = [{**s, "previous": percent(s["rate_from_previous"]), "start": percent(s["rate_from_start"])}
             for s in f["upgrade"] + f["downgrade"]]
    body = (page.charts(funnel_charts(n)) + table(
        [("label", "step"), ("users", "users"), ("previous", "of the step before"), ("start", "of the first step")],
        steps, numeric=["users", "previous", "start"])) if f["counts"]["free_listeners"] or f["counts"]["paid_users"] \
        else empty("No listeners in this period.")
    page.panel("funnel", "Upgrade and downgrade funnel", "Free listeners who then visited Upgrade and then submitted "
               "it, in that order; paid users who visited Downgrade and then submitted it.", body)


def render_churn(page: Page, n: dict[str, Any]) -> None:
    c = n["churn"]
    if c.get("message"):
        body = empty(c["message"])
    else:
        rows = [{"group": name, **c["behaviour"][name],
                 "thumbs_down": percent(c["behaviour"][name]["thumbs_down_share"]),
                 "adverts": percent(c["behaviour"][name]["adverts_per_play"])}
                for name in ("churned", "retained") if name in c["behaviour"]]
        body = '<div class="side">' + page.charts(churn_chart(n)) + table(
            [("group", "users"), ("users", "count"), ("thumbs_down", "thumbs down share"),
             ("adverts", "adverts per play"), ("errors_per_100_plays", "errors per 100 plays"),
             ("sessions_per_day", "sessions per active day"), ("songs_per_session", "songs per session")],
            rows, numeric=["users", "thumbs_down", "adverts", "errors_per_100_plays", "sessions_per_day",
                           "songs_per_session"]) + "</div>"
    page.panel("churn", "Churn", "Users reaching Cancellation Confirmation per ISO week, the weekly churn rate, and "
               "how the users who churned in the period behaved against the others.", body, wide=True)


def render_sessions(page: Page, n: dict[str, Any]) -> None:
    s = n["sessions"]
    if not s["sessions"]:
        page.panel("sessions", "Sessions", "Session length and songs per session.", empty("No sessions."), wide=True)
        return
    facts = (f'<p class="note">{s["sessions"]:,} sessions: median length {short(s["median_minutes"])} min, '
             f'median {short(s["median_songs"])} songs (mean {short(s["mean_songs"])}); per user-day a median of '
             f'{short(s["median_sessions_per_user_day"])} sessions and {short(s["median_plays_per_user_day"])} '
             'plays.</p>')
    page.panel("sessions", "Sessions", "How long sessions last, how many songs they hold, and how many sessions a "
               "user has in a day.", facts + page.charts(session_charts(n)), wide=True)


def render_top(page: Page, n: dict[str, Any]) -> None:
    song_columns = [("rank", "#"), ("song", "song"), ("artist", "artist"), ("plays", "plays"),
                    ("listeners", "listeners"), ("plays_per_listener", "plays per listener"), ("song_id", "song id")]
    numeric = ["rank", "plays", "listeners", "plays_per_listener"]
    page.panel("top_songs", "Top songs", "Most played songs by the events' own song and artist text, with their "
               "distinct listeners and the song id where a song file matches.",
               table(song_columns, n["top_songs"], numeric, ids=["song_id"]) if n["top_songs"]
               else empty("No plays in this period."), wide=True)
    page.panel("top_artists", "Top artists", "Most played artists, with their distinct listeners and songs played.",
               table([("rank", "#"), ("artist", "artist"), ("plays", "plays"), ("listeners", "listeners"),
                      ("songs", "songs"), ("plays_per_listener", "plays per listener")], n["top_artists"],
                     [*numeric, "songs"]) if n["top_artists"] else empty("No plays in this period."))


def render_trending(page: Page, n: dict[str, Any], key: str, title: str, names: list[tuple[str, str]],
                    wide: bool = False) -> None:
    t = n[key]
    columns = [("rank", "#"), *names, ("score", "score"), ("plays", "plays (7 days)"), ("expected", "expected"),
               ("listeners", "listeners"), ("p_value", "p-value")]
    items = [{**item, "rank": i, "p_value": p_value_text(item.get("p_value"))}
             for i, item in enumerate(t["items"][:TOP], start=1)]
    body = empty(t["message"]) if t.get("message") and not t["items"] else table(
        columns, items, ["rank", "score", "plays", "expected", "listeners", "p_value"])
    page.panel(key, title, "Plays in the last 7 days of the data against the 21 days before, adjusted for overall "
               "traffic and shrunk towards no change, so a handful of plays cannot top the list.", body, wide)


SERIES_NAMES = {"plays": "plays", "active_users": "active users", "paid_users": "paid subscribers"}


def model_name(model: str | None) -> str:
    """'seasonal_naive' as 'seasonal naive', 'holt_winters' as 'Holt-Winters'."""
    return {"holt_winters": "Holt-Winters"}.get(model or "", (model or "–").replace("_", " "))


def p_value_text(p: float | None) -> str:
    return "–" if p is None else "<0.001" if p < 0.001 else f"{p:.3f}"


def render_forecast(page: Page, n: dict[str, Any]) -> None:
    f = n["forecast"]
    if f.get("message"):
        body = empty(f["message"])
    else:
        rows = [{**scores, "series": SERIES_NAMES.get(name, name), "model": model_name(scores.get("model"))}
                for name, scores in f["backtest"].items() if isinstance(scores, dict)]
        body = '<div class="side">' + page.charts(paid_forecast_chart(n)) + table(
            [("series", "series"), ("model", "published model"), ("mase", "MASE"), ("mase_baseline", "MASE naive"),
             ("smape", "sMAPE %"), ("smape_baseline", "sMAPE % naive"), ("origins", "origins"), ("note", "note")],
            rows, ["mase", "mase_baseline", "smape", "smape_baseline", "origins"]) + "</div>"
    page.panel("forecast", "Forecast", f"Paid subscribers in the last {FORECAST_HISTORY} days of the period, with "
               "their forecast and its 80% and 95% intervals (plays and active users are in Daily activity), and "
               "how each series' published model scored in the "
               "rolling-origin backtest against seasonal-naive (lower is better).", body, wide=True)


def moment(value: str | None) -> str | None:
    """'2026-12-02 07:39:32.567757' as '2026-12-02 07:39:32': seconds are enough to read."""
    return value[:19] if isinstance(value, str) else value


def render_freshness(page: Page, n: dict[str, Any]) -> None:
    f = n["freshness"]
    run = f["last_run"] or {}
    facts = [("Last event loaded", moment(f["last_event"])), ("Last load run", run.get("run_id")),
             ("Its outcome", run.get("outcome")), ("Its checks", run.get("checks") or "not run"),
             ("It finished at", moment(run.get("finished_at"))), ("Records it rejected", run.get("rows_rejected")),
             ("Trends computed at", moment(f["trends_computed_at"]) or "–"),
             ("Page written at", f["generated_at"] + " UTC")]
    runs = [{**r, "started_at": moment(r["started_at"])} for r in f["recent_runs"]]
    body = ('<div class="side"><table class="facts"><tbody>'
            + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts) + "</tbody></table>"
            + table([("run_id", "run"), ("started_at", "started (UTC)"), ("outcome", "outcome"), ("checks", "checks"),
                     ("objects_loaded", "objects"), ("events_staged", "events"), ("rows_rejected", "rejected")],
                    runs, ["run_id", "objects_loaded", "events_staged", "rows_rejected"]) + "</div>")
    page.panel("freshness", "Data freshness", "The last event and load behind this page, and whether that load "
               "passed its checks, so you know how far to trust it.", body, wide=True)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: #f4f5f7;
       color: #1f2328; }
header { background: #1f2328; color: #fff; padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d1d9; font-size: 14px; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; padding: 16px 24px; }
.panel { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08);
         min-width: 0; overflow-x: auto; }
.panel.wide { grid-column: 1 / -1; }
.panel h2 { margin: 0; font-size: 17px; }
.what { margin: 2px 0 10px; color: #57606a; font-size: 13px; }
.note { color: #57606a; font-size: 13px; }
.empty { color: #8c6d1f; background: #fff8e1; padding: 10px 12px; border-radius: 6px; font-size: 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.side { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
td.id { font-family: ui-monospace, monospace; font-size: 12px; white-space: nowrap; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eaecef; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { color: #57606a; font-weight: 600; vertical-align: bottom; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; overflow-wrap: normal; }
.facts th { width: 180px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; }
.kpi { border: 1px solid #eaecef; border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.kpi-title { font-size: 12px; color: #57606a; }
.kpi-value { font-size: 26px; font-weight: 600; }
.kpi-delta { font-size: 12px; color: #57606a; }
"""

EMBED = """
(function () {
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  Object.keys(specs).forEach(function (id) {
    vegaEmbed("#" + id, specs[id], {renderer: "svg", actions: false}).catch(function (error) {
      document.getElementById(id).textContent = "This chart could not be drawn: " + error.message;
      console.error(error);
    });
  });
})();
"""


def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script, from vl-convert-python. Building it takes
    seconds, so it is kept in the user's cache folder, one file per vl-convert version."""
    from importlib.metadata import version

    import vl_convert

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sparkify-dwh"
    path = cache / f"vega-bundle-{version('vl-convert-python')}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle: str = vl_convert.javascript_bundle()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(bundle, encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass  # no cache: the next run builds it again
    return bundle


def render_html(numbers: dict[str, Any]) -> str:
    page = Page()
    render_panels(page, numbers)
    bundle = vega_bundle()
    if "</script" in bundle.lower() or "<!--" in bundle:
        raise dwh.DwhError("the Vega bundle cannot be inlined: it contains '</script' or '<!--'")
    p = numbers["period"]
    title = f"Sparkify listening dashboard, {p['from']} to {p['to']}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(p['days'])} days; data from {esc(numbers['data']['first_day'])} to "
        f"{esc(numbers['data']['last_day'])}; written {esc(numbers['freshness']['generated_at'])} UTC. "
        "Days and hours are UTC; users appear by id only.</p></header>"
        f"<main>{''.join(page.sections)}</main>"
        f"<script>{bundle}</script>"
        f"<script type=\"application/json\" id=\"chart-specs\">{script_json(page.specs)}</script>"
        f"<script>{EMBED}</script></body></html>\n"
    )


# --------------------------------------------------------------------------- main


def date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}") from None


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = dwh.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="PATH", default="report.html", help="where to write the page "
                        "(default: report.html)")
    parser.add_argument("--from", dest="date_from", type=date_argument, metavar="DATE",
                        help="first day of the period, YYYY-MM-DD (default: the first loaded day)")
    parser.add_argument("--to", dest="date_to", type=date_argument, metavar="DATE",
                        help="last day of the period, inclusive (default: the last loaded day)")
    parser.add_argument("--json", action="store_true", help="print the numbers behind every panel as JSON instead")
    return parser.parse_args(argv)


def require_tables(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        missing = [t for t in ANALYTICS_TABLES if not dwh.table_exists(cur, t)]
    conn.rollback()
    if missing:
        raise dwh.DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py, then python etl.py")


def write_page(path: Path, text: str) -> None:
    """Write the whole page or nothing: a reader never opens half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise dwh.DwhError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_arguments(argv)
    cfg = dwh.load_config(args.config)
    with closing(dwh.connect(cfg)) as conn:
        require_tables(conn)
        numbers = panel_numbers(conn, dwh.dialect(cfg), args.date_from, args.date_to, lambda: dwh.connect(cfg))
    if args.json:
        print(json.dumps(numbers, indent=2, ensure_ascii=False, allow_nan=False, default=json_default))
        dwh.say(f"computed the numbers of {len(numbers) - 2} panels in {time.perf_counter() - started:.1f} s")
        return 0
    text = render_html(numbers)
    out = Path(args.out).expanduser()
    write_page(out, text)
    size = len(text.encode())
    dwh.say(f"wrote {out.resolve()} ({size / 1024:,.0f} KB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    dwh.run_script(main)
