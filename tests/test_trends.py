"""trends.py: forecasts chosen by backtest, trending songs and artists, and the stored trend runs.

Expected figures are computed here, independently: daily series and trending windows in plain
Python over the raw JSON files (text repaired as loading repairs it), seasonal-naive and its
errors with numpy, paid subscribers by a direct range join over user_levels, scores by hand.
Generated data comes from generate_data.py's planting options (planted.json holds the answers
the generator counted), loaded with create_tables.py and etl.py into the embedded server and the
machine's PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, SAMPLE, SampleTemplates, Warehouse, _embedded_warehouse, _warehouse_of_kind, raw_events
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from sparkify_dwh import cli, trends

WEEKLY = ["--days", "63", "--users", "200", "--songs", "300", "--events", "40000", "--weekly", "0.3",
          "--trend", "0.01", "--plant"]
# A seasonless walk on which the smoothing model loses its backtest to seasonal-naive. On many other
# walks it wins (seasonal-naive repeats a week-old level, a poor forecast for a walk): this data set
# shows the fallback, not that every walk falls back.
WALK = ["--days", "63", "--users", "200", "--songs", "300", "--events", "40000", "--random-walk", "0.3",
        "--seed", "2"]
SHORT = ["--days", "34", "--users", "100", "--songs", "200", "--events", "12000"]
# Data where nothing trends (no --plant: every song keeps its share of the plays), under steady,
# growing, and weekly-shaped shocked traffic: what the traffic adjustment must see through.
NULL = {1: [], 2: ["--trend", "0.03"], 3: ["--weekly", "0.4", "--shocks", "0.2"], 4: ["--trend", "-0.01"]}
NULL_SIZE = ["--days", "28", "--users", "120", "--songs", "150", "--events", "16000"]


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


def origins(days: int, horizon: int) -> list[int]:
    """Every day with at least 28 days of history and the horizon after it, the last 42."""
    points = []
    origin = days - horizon
    while origin >= 28 and len(points) < 42:
        points.append(origin)
        origin -= 1
    return sorted(points)


def seasonal_naive_mase(y: np.ndarray, horizon: int = 14) -> float:
    """seasonal-naive's mean MASE over the backtest origins, `horizon` days ahead, written out longhand."""
    scores = []
    for origin in origins(len(y), horizon):
        history, actual = y[:origin], y[origin:origin + horizon]
        scale = sum(abs(history[i] - history[i - 7]) for i in range(7, origin)) / (origin - 7)
        forecast = [history[origin - 7 + h % 7] for h in range(horizon)]
        scores.append(sum(abs(a - f) for a, f in zip(actual, forecast, strict=True)) / horizon / scale)
    return sum(scores) / len(scores)


def binomial_p(plays: int, before: int, share: float) -> float:
    return binomtest(plays, plays + before, share, alternative="greater").pvalue if plays else 1.0


def significant(recent: Counter, before: Counter, listeners: dict[Any, set[int]], traffic: float,
                key: Any = None) -> list[tuple[Any, float, float, float]]:
    """(key, score, p, q) of the entries trending.py must list, best first: every entry played in
    either window tested (binomial test, statsmodels' Benjamini-Hochberg), q <= 0.05, 3 listeners."""
    tested = sorted(set(recent) | set(before), key=key)
    share = traffic / (1 + traffic)
    p = [binomial_p(recent[k], before[k], share) for k in tested]
    q = multipletests(p, alpha=0.05, method="fdr_bh")[1]
    listed = [(k, (recent[k] + 10) / (before[k] * traffic + 10), pk, qk) for k, pk, qk in zip(tested, p, q, strict=True)
              if qk <= 0.05 and len(listeners[k]) >= 3 and recent[k] >= 3]
    return sorted(listed, key=lambda e: (-e[1], -recent[e[0]], e[0]))[:20]


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


@pytest.mark.fast
def test_mase_and_smape_match_hand_computed_values() -> None:
    history = np.array([10, 12, 14, 10, 12, 14, 10, 11, 13, 15, 11, 13, 15, 11], float)  # each week + 1
    assert list(trends.seasonal_naive(history, 9)) == [11, 13, 15, 11, 13, 15, 11, 11, 13]
    # In-sample seasonal-naive MAE is 1; errors 2 and 2 give MASE 2.
    assert trends.mase(np.array([12.0, 12.0]), np.array([10.0, 14.0]), history) == pytest.approx(2.0)
    # sMAPE: mean of 2|a - f| / (|a| + |f|): 4/22 and 4/26, in percent.
    assert trends.smape(np.array([12.0, 12.0]), np.array([10.0, 14.0])) == pytest.approx(50 * (4 / 22 + 4 / 26))
    assert trends.smape(np.array([0.0, 10.0]), np.array([0.0, 0.0])) == pytest.approx(100.0)  # 0/0 is no error
    assert trends.mase(np.array([1.0]), np.array([1.0]), np.tile([1.0, 2, 3, 4, 5, 6, 7], 3)) is None  # periodic
    assert trends.origins(63, 14) == list(range(28, 50)) == origins(63, 14)
    assert trends.origins(35, 7) == [28] and trends.origins(34, 7) == []
    assert trends.origins(400, 28) == origins(400, 28) == list(range(331, 373))
    assert trends.needed_days(14) == 48 and trends.needed_days(7) == 41


@pytest.mark.fast
def test_paid_subscribers_count_the_periods_open_at_the_end_of_each_day() -> None:
    days = [dt.date(2018, 11, 1) + dt.timedelta(d) for d in range(5)]
    changes = [
        (dt.date(2018, 11, 1), 0, 2),  # two periods start during Nov 1: paid from Nov 1
        (dt.date(2018, 11, 3), 1, 1),  # one starts at midnight Nov 3: it is open at the end of Nov 2
        (dt.date(2018, 11, 4), 0, -1),  # one ends during Nov 4: not open at its end
        (dt.date(2018, 11, 5), 1, -1),  # one ends at midnight Nov 5: not open at the end of Nov 4 either
    ]
    assert list(trends.paid_on_calendar(days, changes)) == [2, 3, 3, 1, 1]


@pytest.mark.fast
def test_the_p_value_is_the_exact_binomial_test_and_q_values_are_benjamini_hochberg() -> None:
    plays, before = np.array([3, 4, 30, 0, 5, 1]), np.array([1, 0, 20, 7, 2, 1])
    p = trends.binomial_p_values(plays, before, 1 / 3)
    for got, r, b in zip(p, plays, before, strict=True):
        assert got == pytest.approx(binomial_p(int(r), int(b), 1 / 3), rel=1e-9)
    # By hand: 4 new plays with no plays before, at a third of the traffic: (1/3)^4, not 0.
    assert p[1] == pytest.approx(3.0 ** -4) and p[3] == 1.0
    assert p[0] == pytest.approx(9 / 81)  # 1 -> 3: P(X >= 3), X ~ Binomial(4, 1/3)
    # q-values over every entry tested, counted with multiplicity, as statsmodels' BH gives them.
    counts = np.array([1, 2, 1, 40, 3, 10])
    q = trends.bh_q_values(p, counts)
    expanded = multipletests(np.repeat(p, counts), method="fdr_bh")[1]
    assert list(q) == pytest.approx(list(expanded[np.cumsum(counts) - counts]))
    order = np.argsort(p)
    assert all(np.diff(q[order]) >= 0)  # monotone in p
    m, pairs = trends.significant_pairs([(30, 20, 1), (4, 0, 1), (3, 1, 1), (0, 7, 7)], 1 / 3)
    assert m == 10 and [(r, b) for r, b, _, _ in pairs] == [(30, 20)]  # 4 new plays: q = (1/3)^4 x 10 / 2 > 0.05
    assert math.isclose(pairs[0][3], pairs[0][2] * 10)
    m, pairs = trends.significant_pairs([(30, 20, 1), (4, 0, 1), (3, 1, 1), (0, 7, 5)], 1 / 3)
    assert m == 8 and [(r, b) for r, b, _, _ in pairs] == [(30, 20), (4, 0)]  # (1/3)^4 x 8 / 2 = 0.049


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
    assert ranked["window"]["plays_recent"] == 100 and ranked["window"]["plays_before"] == 200
    # The recent window has a third of the traffic. Songs tested: all 5. p-values (binomial, share 1/3):
    # Rise ~1e-5, New (1/3)^4 = 0.0123, Loop 99/2187 = 0.045, Small 9/81, Fall ~1. BH over 5:
    # Rise and New (q = 5 x 0.0123 / 2 = 0.031) pass; Loop (q = 0.075) and Small (0.14) do not.
    assert ranked["tested"] == {"songs": 5, "artists": 4}
    p = {song: binomial_p(n_recent, n_before, 1 / 3) for (song, _), (n_before, n_recent, _) in songs.items()}
    q = dict(zip(p, multipletests(list(p.values()), method="fdr_bh")[1], strict=True))
    got = [(e["song"], e["artist"], e["score"], e["expected"], e["plays"], e["listeners"], e["p_value"], e["q_value"])
           for e in ranked["songs"]]
    assert got == [("Rise", "X", 2.0, 10.0, 30, 3, pytest.approx(p["Rise"]), pytest.approx(q["Rise"])),
                   ("New", "Y", 1.4, 0.0, 4, 4, pytest.approx(3.0 ** -4), pytest.approx(5 * 3.0 ** -4 / 2))]
    # Artist X: 33 recent plays by 3 listeners, 21 before: E = 10.5, score 43 / 20.5. Artists tested: 4,
    # so Y's q is 4 x (1/3)^4 / 2; Z (2 -> 5, one listener) has q 4 x 0.045 / 3 > 0.05.
    artists = [(e["artist"], e["score"], e["expected"], e["plays"], e["listeners"], e["q_value"])
               for e in ranked["artists"]]
    assert artists == [("X", pytest.approx(43 / 20.5, rel=1e-5), 10.5, 33, 3,
                        pytest.approx(4 * binomial_p(33, 21, 1 / 3))),
                       ("Y", 1.4, 0.0, 4, 4, pytest.approx(2 * 3.0 ** -4))]
    assert ranked["note"] is None


# --------------------------------------------------------------------------- planted data


def test_the_planted_rising_song_leads_and_the_small_song_is_not_listed(
        weekly: tuple[Warehouse, dict[str, Any]], weekly_data: Path, weekly_events: list[dict[str, Any]]) -> None:
    _, document = weekly
    planted = json.loads((weekly_data / "planted.json").read_text())
    rising, small = planted["rising_song"], planted["small_song"]
    first = document["trending_songs"][0]
    assert (first["song"], first["artist"]) == (rising["song"], rising["artist"])
    assert document["trending_artists"][0]["artist"] == rising["artist"]
    listed = [(e["song"], e["artist"]) for e in document["trending_songs"]]
    assert (small["song"], small["artist"]) not in listed
    # The climbers (0.5 -> 3 plays a day) are real rises: most of them pass the test too.
    climbers = {(c["song"], c["artist"]) for c in planted["climbing_songs"]}
    assert len(climbers & set(listed)) >= 5
    # The leader's figures, from the generator's own count and the raw files' traffic.
    w = windows(weekly_events, dt.date.fromisoformat(planted["last_day"]))
    expected = rising["plays_before"] * w["traffic"]
    assert (first["plays"], first["plays_before"], first["listeners"]) == (
        rising["plays_last_7"], rising["plays_before"], rising["listeners_last_7"])
    assert first["expected"] == pytest.approx(expected, rel=1e-5)
    assert first["score"] == pytest.approx((rising["plays_last_7"] + 10) / (expected + 10), rel=1e-5)
    share = w["traffic"] / (1 + w["traffic"])
    assert first["p_value"] == pytest.approx(binomial_p(rising["plays_last_7"], rising["plays_before"], share),
                                             rel=1e-5, abs=1e-300)
    # Every listed song and artist: exactly those the raw files' counts make significant, with their
    # plays, listeners, score, p and q, best first.
    for key, names, counts in (("trending_songs", ("song", "artist"), ("recent", "before", "listeners")),
                               ("trending_artists", ("artist",), ("artist_recent", "artist_before",
                                                                  "artist_listeners"))):
        recent, before, listeners = (w[c] for c in counts)
        expected_list = significant(recent, before, listeners, w["traffic"])
        got = [(tuple(e[n] for n in names) if len(names) > 1 else e[names[0]]) for e in document[key]]
        assert got == [k for k, *_ in expected_list], key
        for entry, (k, score, p, q) in zip(document[key], expected_list, strict=True):
            assert (entry["plays"], entry["listeners"]) == (recent[k], len(listeners[k]))
            assert entry["score"] == pytest.approx(score, rel=1e-5)
            assert entry["p_value"] == pytest.approx(p, rel=1e-4, abs=1e-300)
            assert entry["q_value"] == pytest.approx(q, rel=1e-4, abs=1e-300) and entry["q_value"] <= 0.05
            assert entry["listeners"] >= 3 and entry["plays"] > entry["expected"]
        ordered = sorted(document[key], key=lambda e: e["p_value"])
        assert [e["q_value"] for e in ordered] == sorted(e["q_value"] for e in ordered)  # monotone in p
    assert document["trending_window"]["songs_tested"] == len(set(w["recent"]) | set(w["before"]))
    assert document["trending_window"]["artists_tested"] == len(set(w["artist_recent"]) | set(w["artist_before"]))
    scores = [e["score"] for e in document["trending_songs"]]
    assert scores == sorted(scores, reverse=True)


def test_nothing_trends_on_data_where_every_song_keeps_its_share(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The null: four data sets (steady, growing, shocked weekly, shrinking traffic) where every play
    picks its song from the same popularity. At most one listing in all of them together; the
    p-values of all the songs tested are spread as a null's are, and their q-values follow them."""
    listings, documents = [], []
    for seed, shape in NULL.items():
        data = generate(tmp_path_factory.mktemp(f"null{seed}"), [*NULL_SIZE, *shape, "--seed", str(seed)])
        databases = _embedded_warehouse(request.getfixturevalue("embedded_server"),
                                        tmp_path_factory.mktemp(f"null{seed}_wh"), f"t_trends_null{seed}_{os.getpid()}")
        warehouse = loaded(databases, data)
        try:
            document = run_json(warehouse)
        finally:
            next(databases, None)
        documents.append(document)
        listings += document["trending_songs"] + document["trending_artists"]
        w = document["trending_window"]
        assert w["songs_tested"] > 150 and w["artists_tested"] > 50  # every song played in the 28 days
        if not document["trending_songs"]:
            assert w["message"].startswith("nothing is trending significantly")
        # The old test (Poisson with a known mean, no correction) listed dozens here: the raw counts
        # hold many songs with nominal p < 0.05, which the correction rightly lets through as chance.
        raw = windows(raw_events(data / "log_data"), dt.date.fromisoformat(document["last_day"]))
        share = raw["traffic"] / (1 + raw["traffic"])
        p = [binomial_p(raw["recent"][k], raw["before"][k], share) for k in set(raw["recent"]) | set(raw["before"])]
        assert sum(v < 0.05 for v in p) <= 0.1 * len(p)  # conservative: fewer small p-values than 5% a null gives
    assert len(listings) <= 1, listings


def test_the_forecast_beats_seasonal_naive_by_10_percent_on_the_weekly_trend(
        weekly: tuple[Warehouse, dict[str, Any]], weekly_events: list[dict[str, Any]]) -> None:
    _, document = weekly
    days, plays, _ = daily(weekly_events)
    backtest = document["backtest"]["plays"]
    assert backtest["model"] == "holt_winters" and backtest["origins"] == len(origins(len(days), 14)) == 22
    assert backtest["mase_baseline"] == pytest.approx(seasonal_naive_mase(plays, 14), rel=1e-5)
    assert backtest["mase"] <= 0.9 * backtest["mase_baseline"]
    assert backtest["smape"] < backtest["smape_baseline"]
    assert 0.6 <= backtest["coverage80"] <= backtest["coverage95"] <= 1
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
    # Paid subscribers on D, by a range join: periods open at the end of D (D + 1 day, exclusive),
    # a user's first period from their registration where that is earlier (the log is complete).
    paid = [warehouse.scalar("SELECT COUNT(*) FROM (SELECT l.*, MIN(valid_from) OVER (PARTITION BY user_id) AS first"
                             " FROM user_levels l) l LEFT JOIN (SELECT user_id, MIN(registered_at) AS registered_at"
                             " FROM user_days GROUP BY user_id) r USING (user_id) WHERE level = 'paid'"
                             " AND CASE WHEN valid_from = first THEN LEAST(valid_from, COALESCE(registered_at,"
                             " valid_from)) ELSE valid_from END <= %(end)s"
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
    backtests = warehouse.query("SELECT series, model, mase, mase_baseline, smape, smape_baseline, coverage80,"
                                " coverage95, origins FROM trend_backtests WHERE trend_run_id = %s ORDER BY series",
                                (run_id,))
    assert backtests == sorted((name, b["model"], b["mase"], b["mase_baseline"], b["smape"], b["smape_baseline"],
                                b["coverage80"], b["coverage95"], b["origins"])
                               for name, b in document["backtest"].items())
    trending = warehouse.query("SELECT kind, rank, song, artist, score, plays, expected, listeners, p_value, q_value"
                               " FROM trending WHERE trend_run_id = %s ORDER BY kind, rank", (run_id,))
    assert trending == [("artist", i, None, e["artist"], e["score"], e["plays"], e["expected"], e["listeners"],
                         e["p_value"], e["q_value"]) for i, e in enumerate(document["trending_artists"], 1)] + [
        ("song", i, e["song"], e["artist"], e["score"], e["plays"], e["expected"], e["listeners"], e["p_value"],
         e["q_value"]) for i, e in enumerate(document["trending_songs"], 1)]
    assert warehouse.query("SELECT fdr, songs_tested, artists_tested FROM trend_runs WHERE trend_run_id = %s",
                           (run_id,)) == [(0.05, document["trending_window"]["songs_tested"],
                                           document["trending_window"]["artists_tested"])]
    # What report.py reads back is the same document; it is fresh until a load brings new objects.
    with warehouse.connect() as conn:
        assert cli.with_offsets(trends.latest_trends(conn)) == document  # --json writes times with their offset
        assert not trends.trends_are_stale(conn)
    conn.close()


def test_forecast_intervals_cover_what_they_claim_over_rolling_origins() -> None:
    """The method, out of sample: series shaped as generate_data.py shapes its daily counts (growth, a
    weekly shape, day-level multiplicative shocks, Poisson-sized noise), forecast 14 days ahead from
    outer origins on the history up to each only (trends' own backtest, choice and intervals), then
    scored on the days that followed. bench/forecast_coverage.py measures more series (README)."""
    from sparkify_dwh import demo_data

    inside80, inside95, wins = [], [], 0
    shapes = [(0.3, 0.01, 0.1), (0.3, 0.005, 0.2), (0.5, 0.0, 0.15), (0.2, -0.003, 0.1)]
    for seed, (weekly, trend, shocks) in enumerate(shapes):
        args = argparse.Namespace(days=84, start=dt.date(2018, 11, 1), events=84 * 1500, weekly=weekly, trend=trend,
                                  random_walk=0.0, shocks=shocks)
        values = np.array(demo_data.shaped_budgets(random.Random(seed), args), dtype=float)
        days = [args.start + dt.timedelta(d) for d in range(len(values))]
        for origin in (56, 63, 70):
            history, actual = values[:origin], values[origin:origin + 14]
            entry, rows = trends.forecast_series(history, days[:origin], 14)
            band = {k: np.array([r[k] for r in rows]) for k in ("value", "lo80", "hi80", "lo95", "hi95")}
            inside80 += list((band["lo80"] <= actual) & (actual <= band["hi80"]))
            inside95 += list((band["lo95"] <= actual) & (actual <= band["hi95"]))
            assert entry["model"] == "holt_winters"  # the point forecast beats seasonal-naive here
            assert entry["coverage80"] is not None and entry["coverage95"] is not None
            naive = trends.mase(actual, trends.seasonal_naive(history, 14), history)
            wins += trends.mase(actual, band["value"], history) < naive
    assert 0.72 <= np.mean(inside80) <= 0.90, np.mean(inside80)
    assert np.mean(inside95) >= 0.90, np.mean(inside95)
    assert wins >= 8  # of 12 origins, out of sample too


def test_library_warnings_are_said_once_in_the_toolkits_words(capsys: pytest.CaptureFixture[str]) -> None:
    days = [dt.date(2018, 11, 1) + dt.timedelta(d) for d in range(63)]
    series = trends.Series(days, {"plays": np.zeros(63), "active_users": np.full(63, 5.0),
                                  "paid_users": np.r_[np.zeros(50), np.arange(13.0)]})
    forecast, _ = trends.forecast_all(series, 14)
    assert all(len(rows) == 14 for rows in forecast.values())
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trends: the model fits raised") and "Warning" not in err


# --------------------------------------------------------------------------- fallbacks and short data


def test_on_a_random_walk_that_beats_the_model_seasonal_naive_is_published(walk: Warehouse, walk_data: Path) -> None:
    document = run_json(walk, "--horizon", "10")
    _, plays, _ = daily(raw_events(walk_data / "log_data"))
    backtest = document["backtest"]["plays"]
    assert backtest["model"] == "seasonal_naive"
    assert backtest["mase_baseline"] == pytest.approx(seasonal_naive_mase(plays, 10), rel=1e-5)
    assert backtest["mase"] >= backtest["mase_baseline"]
    assert backtest["note"] == "seasonal-naive published: the model does not beat it on mean MASE 10 days ahead"
    rows = document["forecast"]["plays"]
    assert len(rows) == 10
    # Seasonal-naive's own backtest errors, longhand: log(1 + actual) - log(1 + forecast) from each origin,
    # h days ahead; scaled by their mean size at h (never below an earlier h's); the scaled errors pooled.
    errors = [[math.log1p(plays[o + h]) - math.log1p(plays[o - 7 + h % 7]) for h in range(10)]
              for o in origins(len(plays), 10)]
    scale, biggest = [], 0.0
    for h in range(10):
        biggest = max(biggest, sum(abs(e[h]) for e in errors) / len(errors))
        scale.append(biggest)
    pooled = sorted(e[h] / scale[h] for e in errors for h in range(10))
    n = len(pooled)
    z = {name: min(0.0, pooled[math.floor((n + 1) * q) - 1]) for name, q in (("lo95", 0.025), ("lo80", 0.1))}
    z |= {name: max(0.0, pooled[math.ceil((n + 1) * q) - 1]) for name, q in (("hi80", 0.9), ("hi95", 0.975))}
    for h, r in enumerate(rows):
        value = plays[len(plays) - 7 + h % 7]
        assert r["value"] == pytest.approx(value, rel=1e-5)
        for name in ("lo95", "lo80", "hi80", "hi95"):
            bound = math.expm1(math.log1p(value) + scale[h] * z[name])
            assert r[name] == pytest.approx(max(0.0, bound), rel=1e-5, abs=1e-6)
    text = walk.run("trends.py").stdout
    assert re.search(r"plays\s+seasonal_naive\s", text)


def test_too_few_days_give_no_forecast_and_say_why(short: Warehouse) -> None:
    document = run_json(short)
    assert document["days"] == 34
    assert document["forecast"] == {"plays": [], "active_users": [], "paid_users": []}
    why = ("no forecast: 34 days of data; a 14-day forecast needs at least 48 (28 to train, 14 to test, 7 backtest"
           " origins)")
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
    assert "no forecast: 30 days of data" in proc.stdout and "Trending songs" in proc.stdout
    document = run_json(sample, "--horizon", "7")
    assert document["days"] == 30 and document["first_day"] == "2018-11-01" and document["last_day"] == "2018-11-30"
    assert all(not rows for rows in document["forecast"].values())
    w = document["trending_window"]
    assert (w["recent_from"], w["recent_to"], w["before_from"], w["before_to"]) == (
        "2018-11-24", "2018-11-30", "2018-11-03", "2018-11-23")
    events = raw_events(SAMPLE / "log_data")
    raw = windows(events, dt.date(2018, 11, 30))
    assert (w["plays_recent"], w["plays_before"]) == (sum(raw["recent"].values()), sum(raw["before"].values()))
    # Exactly the songs and artists the raw counts make significant (97 users, a month: few or none).
    for key, prefix in (("trending_songs", ""), ("trending_artists", "artist_")):
        expected_list = significant(raw[f"{prefix}recent"], raw[f"{prefix}before"], raw[f"{prefix or ''}listeners"],
                                    raw["traffic"])
        names = [((e["song"], e["artist"]) if key == "trending_songs" else e["artist"]) for e in document[key]]
        assert names == [k for k, *_ in expected_list]
        if not names:
            assert w["message"].startswith("nothing is trending significantly")
    other = dict(((song, artist), (plays, listeners)) for song, artist, plays, listeners in sample.query(
        "SELECT song, artist, COUNT(*), COUNT(DISTINCT user_id) FROM app_events WHERE page = 'NextSong'"
        " AND event_date BETWEEN '2018-11-24' AND '2018-11-30' GROUP BY song, artist"))
    for entry in document["trending_songs"]:
        key = (entry["song"], entry["artist"])
        assert (entry["plays"], entry["listeners"]) == other[key] == (raw["recent"][key], len(raw["listeners"][key]))
        e = raw["before"][key] * raw["traffic"]
        assert entry["expected"] == pytest.approx(e, rel=1e-5)
        assert entry["score"] == pytest.approx((entry["plays"] + 10) / (e + 10), rel=1e-5)
        share = raw["traffic"] / (1 + raw["traffic"])
        assert entry["p_value"] == pytest.approx(binomial_p(entry["plays"], raw["before"][key], share), rel=1e-5)
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
