"""trends.py: forecasts chosen by backtest, trending songs and artists, and the stored trend runs.

Expected figures are computed here, independently: daily series and trending windows in plain
Python over the raw JSON files (text repaired as loading repairs it), seasonal-naive and its
errors with numpy, paid subscribers by a direct range join over user_levels, scores by hand.
Generated data comes from generate_data.py's planting options (planted.json holds the answers
the generator counted), loaded with create_tables.py and etl.py into the embedded server and the
machine's PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlglot
from conftest import ROOT, SAMPLE, SampleTemplates, Warehouse, _embedded_warehouse, _warehouse_of_kind, raw_events
from scipy.stats import poisson
from sqlglot import exp
from test_redshift import POSTGRES_ONLY, literal

import sql_queries as sql
import trends
from sparkify_dwh import cli

WEEKLY = ["--days", "63", "--users", "200", "--songs", "300", "--events", "40000", "--weekly", "0.3",
          "--trend", "0.01", "--plant"]
# A seasonless walk on which the smoothing model loses its backtest to seasonal-naive. On many other
# walks it wins (seasonal-naive repeats a week-old level, a poor forecast for a walk): this data set
# shows the fallback, not that every walk falls back.
WALK = ["--days", "63", "--users", "200", "--songs", "300", "--events", "40000", "--random-walk", "0.3",
        "--seed", "2"]
SHORT = ["--days", "34", "--users", "100", "--songs", "200", "--events", "12000"]


# --------------------------------------------------------------------------- data, in plain Python


def generate(out: Path, args: list[str]) -> Path:
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(out), *args, "--force"],
                   check=True, capture_output=True, text=True)
    return out


def daily(events: list[dict[str, Any]]) -> tuple[list[dt.date], np.ndarray, np.ndarray]:
    """(every day from the first to the last, plays per day, active users per day)."""
    plays = Counter(e["day"] for e in events if e["page"] == "NextSong")
    users: dict[dt.date, set[int]] = defaultdict(set)
    for e in events:
        if e["user"] is not None:
            users[e["day"]].add(e["user"])
    first, last = min(e["day"] for e in events), max(e["day"] for e in events)
    days = [first + dt.timedelta(d) for d in range((last - first).days + 1)]
    return days, np.array([plays[d] for d in days], float), np.array([len(users[d]) for d in days], float)


def windows(events: list[dict[str, Any]], last: dt.date) -> dict[str, Any]:
    """The trending windows' plays and listeners per song and per artist, and the traffic."""
    recent_from, before_from = last - dt.timedelta(6), last - dt.timedelta(27)
    result: dict[str, Any] = {"recent": Counter(), "before": Counter(), "listeners": defaultdict(set),
                              "artist_recent": Counter(), "artist_before": Counter(),
                              "artist_listeners": defaultdict(set)}
    for e in events:
        if e["page"] != "NextSong" or not before_from <= e["day"] <= last:
            continue
        key, recent = (e["song"], e["artist"]), e["day"] >= recent_from
        result["recent" if recent else "before"][key] += 1
        result["artist_recent" if recent else "artist_before"][e["artist"]] += 1
        if recent and e["user"] is not None:
            result["listeners"][key].add(e["user"])
            result["artist_listeners"][e["artist"]].add(e["user"])
    result["traffic"] = sum(result["recent"].values()) / sum(result["before"].values())
    return result


def origins(days: int) -> list[int]:
    """One every 7 days back from the last full week, at least 28 days of history, the last 6."""
    points = []
    origin = days - 7
    while origin >= 28:
        points.append(origin)
        origin -= 7
    return sorted(points)[-6:]


def seasonal_naive_mase(y: np.ndarray) -> float:
    """seasonal-naive's mean MASE over the backtest origins, written out longhand."""
    scores = []
    for origin in origins(len(y)):
        history, actual = y[:origin], y[origin:origin + 7]
        scale = sum(abs(history[i] - history[i - 7]) for i in range(7, origin)) / (origin - 7)
        forecast = [history[origin - 7 + h] for h in range(7)]
        scores.append(sum(abs(a - f) for a, f in zip(actual, forecast, strict=True)) / 7 / scale)
    return sum(scores) / len(scores)


# --------------------------------------------------------------------------- warehouses


def loaded(databases: Iterator[Warehouse], data: Path) -> Warehouse:
    warehouse = next(databases)
    warehouse.run("create_tables.py")
    warehouse.load(data / "log_data", data / "song_data")
    return warehouse


def run_json(warehouse: Warehouse, *args: str) -> dict[str, Any]:
    return json.loads(warehouse.run("trends.py", "--json", *args).stdout)


@pytest.fixture(scope="module")
def weekly_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("weekly"), WEEKLY)


@pytest.fixture(scope="module")
def weekly_events(weekly_data: Path) -> list[dict[str, Any]]:
    return raw_events(weekly_data / "log_data")


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def weekly(request: pytest.FixtureRequest, weekly_data: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, dict[str, Any]]]:
    """The weekly, trending, planted data loaded into each kind of server, and trends.py's document."""
    name, workdir = f"t_trends_weekly_{request.param}_{os.getpid()}", tmp_path_factory.mktemp("weekly_wh")
    databases = _warehouse_of_kind(request, request.param, workdir, name)
    warehouse = loaded(databases, weekly_data)
    yield warehouse, run_json(warehouse)
    next(databases, None)


def embedded_loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str,
                    data: Path) -> Iterator[Warehouse]:
    databases = _embedded_warehouse(request.getfixturevalue("embedded_server"), tmp_path_factory.mktemp(label),
                                    f"t_trends_{label}_{os.getpid()}")
    yield loaded(databases, data)
    next(databases, None)


@pytest.fixture(scope="module")
def walk_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("walk"), WALK)


@pytest.fixture(scope="module")
def walk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         walk_data: Path) -> Iterator[Warehouse]:
    yield from embedded_loaded(request, tmp_path_factory, "walk", walk_data)


@pytest.fixture(scope="module")
def short_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("short"), SHORT)


@pytest.fixture(scope="module")
def short(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          short_data: Path) -> Iterator[Warehouse]:
    yield from embedded_loaded(request, tmp_path_factory, "short", short_data)


@pytest.fixture(scope="module")
def sample(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           sample_templates: SampleTemplates) -> Iterator[Warehouse]:
    """The real sample on the embedded server: a copy of the session's loaded template."""
    databases = _embedded_warehouse(request.getfixturevalue("embedded_server"), tmp_path_factory.mktemp("sample"),
                                    f"t_trends_sample_{os.getpid()}")
    yield sample_templates.copy_into(next(databases))
    next(databases, None)


# --------------------------------------------------------------------------- the measures, by hand


def test_mase_and_smape_match_hand_computed_values() -> None:
    history = np.array([10, 12, 14, 10, 12, 14, 10, 11, 13, 15, 11, 13, 15, 11], float)  # each week + 1
    assert list(trends.seasonal_naive(history, 9)) == [11, 13, 15, 11, 13, 15, 11, 11, 13]
    # In-sample seasonal-naive MAE is 1; errors 2 and 2 give MASE 2.
    assert trends.mase(np.array([12.0, 12.0]), np.array([10.0, 14.0]), history) == pytest.approx(2.0)
    # sMAPE: mean of 2|a - f| / (|a| + |f|): 4/22 and 4/26, in percent.
    assert trends.smape(np.array([12.0, 12.0]), np.array([10.0, 14.0])) == pytest.approx(50 * (4 / 22 + 4 / 26))
    assert trends.smape(np.array([0.0, 10.0]), np.array([0.0, 0.0])) == pytest.approx(100.0)  # 0/0 is no error
    assert trends.mase(np.array([1.0]), np.array([1.0]), np.tile([1.0, 2, 3, 4, 5, 6, 7], 3)) is None  # periodic
    assert trends.origins(63) == [28, 35, 42, 49, 56] == origins(63)
    assert trends.origins(35) == [28] and trends.origins(34) == []
    assert trends.origins(400) == origins(400) == [351, 358, 365, 372, 379, 386, 393][-6:]


def test_paid_subscribers_count_the_periods_open_at_the_end_of_each_day() -> None:
    days = [dt.date(2018, 11, 1) + dt.timedelta(d) for d in range(5)]
    changes = [
        (dt.date(2018, 11, 1), 0, 2),  # two periods start during Nov 1: paid from Nov 1
        (dt.date(2018, 11, 3), 1, 1),  # one starts at midnight Nov 3: it is open at the end of Nov 2
        (dt.date(2018, 11, 4), 0, -1),  # one ends during Nov 4: not open at its end
        (dt.date(2018, 11, 5), 1, -1),  # one ends at midnight Nov 5: not open at the end of Nov 4 either
    ]
    assert list(trends.paid_on_calendar(days, changes)) == [2, 3, 3, 1, 1]


def test_the_poisson_p_value_is_the_upper_tail() -> None:
    assert trends.poisson_p_value(3, 1.0) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5))
    assert trends.poisson_p_value(1, 2.0) == pytest.approx(1 - math.exp(-2))
    assert trends.poisson_p_value(4, 0.0) == 0.0


def test_scores_listeners_and_order_match_hand_computed_values(embedded: Warehouse) -> None:
    """The trending SQL on hand-made rows: traffic halves, so expected = half the plays before."""
    embedded.run("create_tables.py")
    last = dt.date(2018, 11, 28)
    recent, before = last - dt.timedelta(3), last - dt.timedelta(10)
    songs = {  # (song, artist): (plays before, plays recent, listeners recent)
        ("Rise", "X"): (20, 30, 3),  # E = 10, score (30 + 10) / (10 + 10) = 2
        ("New", "Y"): (0, 4, 4),  # E = 0, score 14 / 10 = 1.4, p-value 0
        ("Loop", "Z"): (2, 5, 1),  # one listener: left out
        ("Fall", "W"): (40, 10, 5),  # E = 20: falling, left out
        ("Small", "X"): (1, 3, 3),  # E = 0.5, score 13 / 10.5
    }
    rows, events = [], []
    for (song, artist), (n_before, n_recent, listeners) in songs.items():
        rows += [(before, song, artist, n_before, 1)] if n_before else []
        rows.append((recent, song, artist, n_recent, listeners))
        for i in range(n_recent):
            events.append((dt.datetime.combine(recent, dt.time(12)), recent, 100 + i % listeners, len(events) + 1,
                           song, artist))
    embedded.execute("INSERT INTO song_days (activity_date, song, artist, plays, listeners) VALUES "
                     + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)), [v for row in rows for v in row])
    embedded.execute("INSERT INTO app_events (start_time, event_date, user_id, session_id, item_in_session, page,"
                     " song, artist, run_id) VALUES "
                     + ", ".join(["(%s, %s, %s, %s, 0, 'NextSong', %s, %s, 1)"] * len(events)),
                     [v for row in events for v in row])
    embedded.execute("INSERT INTO hour_plays (activity_date, hour, weekday, plays) VALUES (%s, 0, 1, 200),"
                     " (%s, 0, 1, 100)", (before, recent))
    days = [last - dt.timedelta(d) for d in range(27, -1, -1)]
    with embedded.connect() as conn, conn.cursor() as cur:
        ranked = trends.trending(cur, days)
    conn.close()
    for entry in ranked["songs"] + ranked["artists"]:
        entry["p_value"] = trends.poisson_p_value(entry["plays"], entry["expected"])
    assert [e["p_value"] for e in ranked["songs"]] == [
        pytest.approx(poisson.sf(29, 10.0)), 0.0, pytest.approx(poisson.sf(2, 0.5))]
    assert ranked["window"]["plays_recent"] == 100 and ranked["window"]["plays_before"] == 200
    got = [(e["song"], e["artist"], e["score"], e["expected"], e["plays"], e["listeners"]) for e in ranked["songs"]]
    assert got == [("Rise", "X", 2.0, 10.0, 30, 3), ("New", "Y", 1.4, 0.0, 4, 4),
                   ("Small", "X", pytest.approx(13 / 10.5, rel=1e-5), 0.5, 3, 3)]
    # Artist X: 33 recent plays by 3 listeners, 21 before: E = 10.5, score 43 / 20.5.
    artists = [(e["artist"], e["score"], e["expected"], e["plays"], e["listeners"]) for e in ranked["artists"]]
    assert artists == [("X", pytest.approx(43 / 20.5, rel=1e-5), 10.5, 33, 3), ("Y", 1.4, 0.0, 4, 4)]


# --------------------------------------------------------------------------- planted data


def test_the_planted_rising_song_leads_and_the_small_song_stays_out_of_the_top_10(
        weekly: tuple[Warehouse, dict[str, Any]], weekly_data: Path, weekly_events: list[dict[str, Any]]) -> None:
    _, document = weekly
    planted = json.loads((weekly_data / "planted.json").read_text())
    rising, small = planted["rising_song"], planted["small_song"]
    first = document["trending_songs"][0]
    assert (first["song"], first["artist"]) == (rising["song"], rising["artist"])
    assert document["trending_artists"][0]["artist"] == rising["artist"]
    top10 = [(e["song"], e["artist"]) for e in document["trending_songs"][:10]]
    assert (small["song"], small["artist"]) not in top10
    # The leader's figures, from the generator's own count and the raw files' traffic.
    w = windows(weekly_events, dt.date.fromisoformat(planted["last_day"]))
    expected = rising["plays_before"] * w["traffic"]
    assert (first["plays"], first["plays_before"], first["listeners"]) == (
        rising["plays_last_7"], rising["plays_before"], rising["listeners_last_7"])
    assert first["expected"] == pytest.approx(expected, rel=1e-5)
    assert first["score"] == pytest.approx((rising["plays_last_7"] + 10) / (expected + 10), rel=1e-5)
    assert first["p_value"] == pytest.approx(poisson.sf(rising["plays_last_7"] - 1, expected), abs=1e-12)
    # Every listed song: its plays, listeners and score as the raw files give them, best first.
    for entry in document["trending_songs"]:
        key = (entry["song"], entry["artist"])
        e = w["before"][key] * w["traffic"]
        assert (entry["plays"], entry["listeners"]) == (w["recent"][key], len(w["listeners"][key]))
        assert entry["score"] == pytest.approx((w["recent"][key] + 10) / (e + 10), rel=1e-5)
        assert entry["listeners"] >= 3 and entry["plays"] > entry["expected"]
    scores = [e["score"] for e in document["trending_songs"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 20
    # The small song's score, were it listed, is far below the tenth.
    small_score = (small["plays_last_7"] + 10) / (small["plays_before"] * w["traffic"] + 10)
    assert small_score < document["trending_songs"][9]["score"]


def test_the_forecast_beats_seasonal_naive_by_10_percent_on_the_weekly_trend(
        weekly: tuple[Warehouse, dict[str, Any]], weekly_events: list[dict[str, Any]]) -> None:
    _, document = weekly
    days, plays, _ = daily(weekly_events)
    backtest = document["backtest"]["plays"]
    assert backtest["model"] == "holt_winters" and backtest["origins"] == len(origins(len(days))) == 5
    assert backtest["mase_baseline"] == pytest.approx(seasonal_naive_mase(plays), rel=1e-5)
    assert backtest["mase"] <= 0.9 * backtest["mase_baseline"]
    assert backtest["smape"] < backtest["smape_baseline"]
    rows = document["forecast"]["plays"]
    assert [r["date"] for r in rows] == [(days[-1] + dt.timedelta(h)).isoformat() for h in range(1, 15)]
    for r in rows:
        assert 0 <= r["lo95"] <= r["lo80"] <= r["value"] <= r["hi80"] <= r["hi95"]
    # The weekly shape carries over: the forecast's weekend days are its quietest.
    weekend = [r["value"] for r in rows if dt.date.fromisoformat(r["date"]).isoweekday() >= 6]
    assert max(weekend) < min(r["value"] for r in rows if dt.date.fromisoformat(r["date"]).isoweekday() < 6)


def test_the_series_are_the_warehouse_days_with_the_calendar_filled(
        weekly: tuple[Warehouse, dict[str, Any]], weekly_events: list[dict[str, Any]]) -> None:
    warehouse, _ = weekly
    days, plays, active = daily(weekly_events)
    with warehouse.connect() as conn, conn.cursor() as cur:
        series = trends.read_series(cur)
    conn.close()
    assert series.days == days
    assert list(series.values["plays"]) == list(plays) and list(series.values["active_users"]) == list(active)
    # Paid subscribers on D, by a range join: periods open at the end of D (D + 1 day, exclusive).
    paid = [warehouse.scalar("SELECT COUNT(*) FROM user_levels WHERE level = 'paid' AND valid_from <= %(end)s"
                             " AND (valid_to IS NULL OR valid_to > %(end)s)",
                             {"end": dt.datetime.combine(d + dt.timedelta(1), dt.time())}) for d in days]
    assert list(series.values["paid_users"]) == paid and max(paid) > 0


def test_the_stored_tables_hold_what_the_json_says(weekly: tuple[Warehouse, dict[str, Any]]) -> None:
    warehouse, document = weekly
    run_id = document["trend_run_id"]
    assert warehouse.query("SELECT load_run_id, horizon, first_day, last_day, days FROM trend_runs"
                           " WHERE trend_run_id = %s", (run_id,)) == [(
        warehouse.scalar("SELECT MAX(run_id) FROM etl_runs WHERE outcome = 'succeeded'"), 14,
        dt.date.fromisoformat(document["first_day"]), dt.date.fromisoformat(document["last_day"]), 63)]
    stored = warehouse.query("SELECT series, forecast_date, model, value, lo80, hi80, lo95, hi95 FROM trend_forecasts"
                             " WHERE trend_run_id = %s ORDER BY series, forecast_date", (run_id,))
    assert stored == sorted(
        (name, dt.date.fromisoformat(r["date"]), document["backtest"][name]["model"], r["value"], r["lo80"],
         r["hi80"], r["lo95"], r["hi95"]) for name, rows in document["forecast"].items() for r in rows)
    assert len(stored) == 3 * 14
    backtests = warehouse.query("SELECT series, model, mase, mase_baseline, smape, smape_baseline, origins"
                                " FROM trend_backtests WHERE trend_run_id = %s ORDER BY series", (run_id,))
    assert backtests == sorted((name, b["model"], b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
                                b["origins"]) for name, b in document["backtest"].items())
    trending = warehouse.query("SELECT kind, rank, song, artist, score, plays, expected, listeners, p_value"
                               " FROM trending WHERE trend_run_id = %s ORDER BY kind, rank", (run_id,))
    assert trending == [("artist", i, None, e["artist"], e["score"], e["plays"], e["expected"], e["listeners"],
                         e["p_value"]) for i, e in enumerate(document["trending_artists"], 1)] + [
        ("song", i, e["song"], e["artist"], e["score"], e["plays"], e["expected"], e["listeners"], e["p_value"])
        for i, e in enumerate(document["trending_songs"], 1)]
    # What report.py reads back is the same document; it is fresh until a load brings new objects.
    with warehouse.connect() as conn:
        assert cli.with_offsets(trends.latest_trends(conn)) == document  # --json writes times with their offset
        assert not trends.trends_are_stale(conn)
    conn.close()


# --------------------------------------------------------------------------- fallbacks and short data


def test_on_a_random_walk_that_beats_the_model_seasonal_naive_is_published(walk: Warehouse, walk_data: Path) -> None:
    document = run_json(walk, "--horizon", "10")
    _, plays, _ = daily(raw_events(walk_data / "log_data"))
    backtest = document["backtest"]["plays"]
    assert backtest["model"] == "seasonal_naive"
    assert backtest["mase_baseline"] == pytest.approx(seasonal_naive_mase(plays), rel=1e-5)
    assert backtest["mase"] >= backtest["mase_baseline"]
    assert backtest["note"] == "seasonal-naive published: the model does not beat it on mean MASE"
    rows = document["forecast"]["plays"]
    assert len(rows) == 10
    for h, r in enumerate(rows):
        # Last week repeated; intervals from its past errors k weeks apart (k = 1 for days 1-7, 2 after).
        lag = 7 * (h // 7 + 1)
        errors = plays[lag:] - plays[:-lag]
        value = plays[len(plays) - 7 + h % 7]
        assert r["value"] == pytest.approx(value, rel=1e-5)
        for name, q in (("lo95", 0.025), ("lo80", 0.1), ("hi80", 0.9), ("hi95", 0.975)):
            assert r[name] == pytest.approx(max(0.0, value + np.quantile(errors, q)), rel=1e-5, abs=1e-6)
    text = walk.run("trends.py").stdout
    assert re.search(r"plays\s+seasonal_naive\s", text)


def test_fewer_than_35_days_give_no_forecast_and_say_why(short: Warehouse) -> None:
    document = run_json(short)
    assert document["days"] == 34
    assert document["forecast"] == {"plays": [], "active_users": [], "paid_users": []}
    why = "no forecast: 34 days of data; the backtest needs at least 35 (28 to train, 7 to test)"
    assert all(b["model"] is None and b["note"] == why and b["origins"] == 0 for b in document["backtest"].values())
    assert document["message"].startswith(why)
    assert why in short.run("trends.py").stdout
    assert short.scalar("SELECT COUNT(*) FROM trend_forecasts") == 0
    assert short.scalar("SELECT COUNT(*) FROM trend_backtests WHERE model IS NULL AND note = %s AND trend_run_id ="
                        " (SELECT MAX(trend_run_id) FROM trend_runs)", (why,)) == 3


def test_trends_go_stale_only_when_a_load_brings_new_objects(short: Warehouse, short_data: Path,
                                                              tmp_path: Path) -> None:
    short.run("trends.py")
    with short.connect() as conn:
        assert not trends.trends_are_stale(conn)
        short.load(short_data / "log_data", short_data / "song_data")  # nothing new
        assert not trends.trends_are_stale(conn)
        late = tmp_path / "late"  # a late object for the last day: more sessions, a new object
        late.mkdir()
        last = sorted((short_data / "log_data").rglob("*.json"))[-1]
        lines = [json.loads(line) for line in last.read_text().splitlines() if line.strip()]
        (late / last.name).write_text("".join(json.dumps(e | {"sessionId": e["sessionId"] + 10**6}) + "\n"
                                              for e in lines))
        short.load(late, short_data / "song_data")
        assert trends.trends_are_stale(conn)
        short.run("trends.py")
        assert not trends.trends_are_stale(conn)
    conn.close()


# --------------------------------------------------------------------------- the real sample


def test_the_real_sample_trends_without_a_forecast(sample: Warehouse) -> None:
    """30 days: too few for a forecast (it says so), enough for trending; figures checked against a
    different formulation over app_events (not song_days)."""
    proc = sample.run("trends.py")
    assert "no forecast: 30 days of data" in proc.stdout and "Trending songs (top 10 of" in proc.stdout
    document = run_json(sample, "--horizon", "7")
    assert document["days"] == 30 and document["first_day"] == "2018-11-01" and document["last_day"] == "2018-11-30"
    assert all(not rows for rows in document["forecast"].values())
    w = document["trending_window"]
    assert (w["recent_from"], w["recent_to"], w["before_from"], w["before_to"]) == (
        "2018-11-24", "2018-11-30", "2018-11-03", "2018-11-23")
    events = raw_events(SAMPLE / "log_data")
    raw = windows(events, dt.date(2018, 11, 30))
    assert (w["plays_recent"], w["plays_before"]) == (sum(raw["recent"].values()), sum(raw["before"].values()))
    assert document["trending_songs"] and document["trending_artists"]
    other = dict(((song, artist), (plays, listeners)) for song, artist, plays, listeners in sample.query(
        "SELECT song, artist, COUNT(*), COUNT(DISTINCT user_id) FROM app_events WHERE page = 'NextSong'"
        " AND event_date BETWEEN '2018-11-24' AND '2018-11-30' GROUP BY song, artist"))
    for entry in document["trending_songs"]:
        key = (entry["song"], entry["artist"])
        assert (entry["plays"], entry["listeners"]) == other[key] == (raw["recent"][key], len(raw["listeners"][key]))
        e = raw["before"][key] * raw["traffic"]
        assert entry["expected"] == pytest.approx(e, rel=1e-5)
        assert entry["score"] == pytest.approx((entry["plays"] + 10) / (e + 10), rel=1e-5)
        assert entry["p_value"] == pytest.approx(poisson.sf(entry["plays"] - 1, e), rel=1e-5, abs=1e-12)
    for entry in document["trending_artists"]:
        a = entry["artist"]
        assert (entry["plays"], entry["listeners"]) == (raw["artist_recent"][a], len(raw["artist_listeners"][a]))


# --------------------------------------------------------------------------- the command and its SQL


def test_the_command_line(short: Warehouse, embedded: Warehouse) -> None:
    assert "--horizon" in short.run("trends.py", "--help").stdout
    bad = short.run("trends.py", "--horizon", "0", check=False)
    assert bad.returncode == 2 and "from 1 to 28" in bad.stderr
    missing = embedded.run("trends.py", check=False)  # an empty database: no tables
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: tables missing: etl_runs, hour_plays, user_days, user_levels, song_days, app_events, trend_runs,"
        " trend_backtests, trend_forecasts, trending; run: python create_tables.py"]


TREND_PARAMS = {"recent_from": dt.date(2018, 11, 24), "before_from": dt.date(2018, 11, 3),
                "last_day": dt.date(2018, 11, 30), "traffic": 0.38, "prior": 10.0, "min_listeners": 3,
                "candidates": 200, "top": 20, "recent_start": dt.datetime(2018, 11, 24),
                "recent_end": dt.datetime(2018, 12, 1), "trend_run_id": 3, "load_run_id": 2}


def rendered(statement: str) -> str:
    def value(match: re.Match[str]) -> str:
        v = TREND_PARAMS[match.group(1)]
        return f"'{v.isoformat(sep=' ') if isinstance(v, dt.datetime) else v.isoformat()}'" \
            if isinstance(v, dt.date) else literal(v)

    text = re.sub(r"%\((\w+)\)s", value, statement)
    return text.replace("VALUES %s", "VALUES (1, 'plays', '2018-12-01', 'x', 1.5, 1, 2, 0, 3),"
                                     " (2, 'plays', '2018-12-02', 'y', NULL, 1, 2, 0, 3)")


@pytest.mark.parametrize(("name", "statement"), list(sql.TREND_STATEMENTS.items()))
def test_every_trends_statement_parses_as_redshift_sql(name: str, statement: str) -> None:
    parsed = sqlglot.parse(rendered(statement), read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and parsed[0] is not None
    if not name.endswith("LOCK"):
        assert not isinstance(parsed[0], exp.Command), f"{name} was not understood"
    code = re.sub(r"--[^\n]*", "", statement)
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, code, re.IGNORECASE), f"{name} uses {pattern}"
