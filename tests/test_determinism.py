"""Loading is deterministic: no rule depends on the clock (DESIGN.md, "Bad input").

The same objects give the same staging, rejects and star schema whatever the day of the load:
here the whole load runs in-process with the process clock set to 2018-11-01 and to 2101-01-01
(under the old rule, "ts at most a day after the run started", the first rejected nearly all of
the data and the second accepted 2100). ts has a fixed range, 2000-01-01 <= ts < 2100-01-01 UTC.
A data set in 2029 loads fully today, and check_data.py warns, without failing, about events
later than their load.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from conftest import SAMPLE, Warehouse, _embedded_warehouse
from test_redshift import POSTGRES_ONLY, render

import sql_queries as sql
from sparkify_dwh import load, session, settings, staging
from sparkify_dwh import warehouse as dwh_warehouse
from sparkify_dwh.run import Run

UTC = dt.UTC
DAY = SAMPLE / "log_data/2018/11/2018-11-15-events.json"
SHIFT_MS = int((dt.datetime(2029, 11, 15, tzinfo=UTC) - dt.datetime(2018, 11, 15, tzinfo=UTC)).total_seconds() * 1000)


def epoch_ms(year: int, *rest: int) -> int:
    return int(dt.datetime(year, *rest, tzinfo=UTC).timestamp() * 1000)


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_events(path: Path, events: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def boundary_events() -> list[dict[str, Any]]:
    """One real event at each edge of the range: the first and last millisecond in, one out each side."""
    base = events_of(DAY)[0]
    return [dict(base, sessionId=77001, itemInSession=i, ts=ts) for i, ts in enumerate([
        epoch_ms(2000, 1, 1), epoch_ms(2100, 1, 1) - 1, epoch_ms(2000, 1, 1) - 1, epoch_ms(2100, 1, 1)])]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real day of 2018, the same day shifted to 2029, and the range's edges."""
    folder = tmp_path_factory.mktemp("determinism")
    write_events(folder / "log_data/2018/11/2018-11-15-events.json", events_of(DAY))
    write_events(folder / "log_data/2029/11/2029-11-15-events.json",
                 [dict(e, ts=e["ts"] + SHIFT_MS) for e in events_of(DAY)])
    write_events(folder / "log_data/edges/edges-events.json", boundary_events())
    return folder


def warehouse(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory, name: str,
              data: Path) -> Iterator[Warehouse]:
    for wh in _embedded_warehouse(embedded_server, tmp_path_factory.mktemp(name), f"t_determinism_{name}"):
        wh.settings["S3"].update(LOG_DATA=str(data / "log_data"), SONG_DATA=str(SAMPLE / "song_data"))
        wh.settings["ETL"]["MAX_REJECTS"] = "2"
        wh.run("create_tables.py")
        yield wh


# --------------------------------------------------------------------------- the rule


def test_the_range_of_ts_is_fixed_and_documented() -> None:
    low, high, show = staging.RANGES["staging_events"]["ts"]
    assert (low, high) == (epoch_ms(2000, 1, 1), epoch_ms(2100, 1, 1) - 1)
    assert show(epoch_ms(2100, 1, 1)) == "2100-01-01 00:00:00"
    # Typing has no clock input at all: the columns come from the server's schema alone.
    assert list(inspect.signature(staging.staging_columns).parameters) == ["cur", "table"]
    assert "2000-01-01 <= ts < 2100-01-01" in inspect.getsource(staging)


# --------------------------------------------------------------------------- same load on any day


def snapshot(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a load decides, without the run ids and surrogate keys it assigns."""
    events = ", ".join(f"e.{c}" for c in sql.STAGING_FIELDS["staging_events"])
    songs = ", ".join(f"s.{c}" for c in sql.STAGING_FIELDS["staging_songs"])
    queries = {
        "staging_events": f"SELECT o.object_key, e.source_line, {events} FROM staging_events e"
                          " JOIN loaded_objects o ON o.object_id = e.object_id",
        "staging_songs": f"SELECT o.object_key, {songs} FROM staging_songs s"
                         " JOIN loaded_objects o ON o.object_id = s.object_id",
        "rejects": "SELECT source, object_key, line, record_no, reason, record FROM rejects",
        "loaded_objects": "SELECT source, object_key, size, records, rejected FROM loaded_objects",
        "songplays": "SELECT start_time, user_id, level, song_id, artist_id, session_id, item_in_session, location,"
                     " user_agent FROM songplays",
        "users": "SELECT * FROM users",
        "songs": "SELECT * FROM songs",
        "artists": "SELECT * FROM artists",
        "time": "SELECT * FROM time",
    }
    return {name: sorted(wh.query(query), key=repr) for name, query in queries.items()}


def load_on(wh: Warehouse, day: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The whole load, in this process, with the process clock at `day`."""
    monkeypatch.setattr(session, "utc_now", lambda: day)
    cfg = settings.load_config(wh.write_config())
    with closing(dwh_warehouse.connect(cfg)) as conn:
        return load.load(conn, cfg)


@pytest.fixture(scope="module")
def loaded_on_two_days(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory,
                       data: Path) -> Iterator[list[tuple[Run, dict[str, list[tuple[Any, ...]]]]]]:
    results = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, day in (("2018", dt.datetime(2018, 11, 1)), ("2101", dt.datetime(2101, 1, 1))):
            for wh in warehouse(embedded_server, tmp_path_factory, name, data):
                run = load_on(wh, day, monkeypatch)
                assert wh.scalar("SELECT started_at FROM etl_runs") == day
                results.append((run, snapshot(wh)))
    yield results


def test_the_same_objects_load_the_same_on_any_day(loaded_on_two_days: list[Any]) -> None:
    (_, first), (_, second) = loaded_on_two_days
    assert first == second


def test_what_the_load_kept_and_rejected(loaded_on_two_days: list[Any]) -> None:
    """Counted over the raw files: every event of 2018 and 2029 and both edges in, the two outside out."""
    run, tables = loaded_on_two_days[0]
    day = events_of(DAY)
    assert run.staged["events"].rows == len(tables["staging_events"]) == 2 * len(day) + 2
    assert [(r[2], r[4]) for r in tables["rejects"]] == sorted([
        (3, "ts: 1999-12-31 23:59:59 is below 2000-01-01 00:00:00"),
        (4, "ts: 2100-01-01 00:00:00 is above 2099-12-31 23:59:59")])
    plays = sum(e["page"] == "NextSong" for e in day)
    assert boundary_events()[0]["page"] == "NextSong"  # so the two edges inside are plays too
    assert len(tables["songplays"]) == 2 * plays + 2
    assert sorted({row[0].year for row in tables["songplays"]}) == [2000, 2018, 2029, 2099]
    ts_by_line = {(r[0], r[1]): r[2 + list(sql.STAGING_FIELDS["staging_events"]).index("ts")]
                  for r in tables["staging_events"]}
    edges = sorted(ts for (key, _), ts in ts_by_line.items() if key.endswith("edges-events.json"))
    assert edges == [epoch_ms(2000, 1, 1), epoch_ms(2100, 1, 1) - 1]


# --------------------------------------------------------------------------- 2029, loaded today


@pytest.fixture(scope="module")
def future(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory, data: Path) -> Iterator[Warehouse]:
    for wh in warehouse(embedded_server, tmp_path_factory, "today", data):
        wh.load(data / "log_data", SAMPLE / "song_data")
        yield wh


def test_a_data_set_in_2029_loads_fully_today(future: Warehouse) -> None:
    day = events_of(DAY)
    assert future.scalar("SELECT COUNT(*) FROM staging_events WHERE ts >= %s", (epoch_ms(2029, 1, 1),)) == len(day) + 1
    assert future.scalar("SELECT COUNT(*) FROM songplays WHERE start_time >= '2029-01-01'") == sum(
        e["page"] == "NextSong" for e in day) + 1  # and the last millisecond of 2099
    assert future.scalar("SELECT MAX(start_time) FROM time") == dt.datetime(2099, 12, 31, 23, 59, 59, 999000)
    assert future.scalar("SELECT COUNT(*) FROM rejects") == 2


def as_time(ts: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ts)


def test_check_data_warns_about_events_later_than_their_load(future: Warehouse) -> None:
    started = future.scalar("SELECT started_at FROM etl_runs")
    shifted = [dict(e, ts=e["ts"] + SHIFT_MS) for e in events_of(DAY)]
    later = shifted + boundary_events()[1:2]  # and the last millisecond of 2099
    assert all(as_time(e["ts"]) > started for e in later)
    proc = future.run("check_data.py", "--json", "--repeat", "1", "--sample", "0")  # exits 0: only a warning
    document = json.loads(proc.stdout)
    assert document["passed"] is True
    (warning,) = document["warnings"]
    assert warning["name"] == "events_after_load" and warning["count"] == len(later)
    # The first examples: the 2029 object's first lines, in order (object ids follow the object keys).
    assert [(x["source_line"], x["start_time"]) for x in warning["examples"]] == [
        (line, as_time(e["ts"]).replace(tzinfo=dt.UTC).isoformat()) for line, e in enumerate(shifted[:3], 1)]
    assert all(x["run_id"] == 1 and x["run_started_at"] == started.replace(tzinfo=dt.UTC).isoformat()  # with offset
               for x in warning["examples"])
    text = future.run("check_data.py", "--repeat", "1", "--sample", "0", "--verbose").stdout
    assert re.search(rf"warning: events_after_load: {len(later):,} rows, staged events later than the start of"
                     r" the run that loaded them \(not a failure\)", text)


def test_no_warning_when_every_event_is_older_than_its_load(embedded_server: Path,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("past")
    write_events(folder / "log_data/2018-11-15-events.json", events_of(DAY))
    for wh in warehouse(embedded_server, tmp_path_factory, "past", folder):
        wh.load(folder / "log_data", SAMPLE / "song_data")
        assert json.loads(wh.run("check_data.py", "--json", "--repeat", "1", "--sample", "0").stdout)[
            "warnings"] == []


@pytest.mark.parametrize("name", list(sql.WARNINGS))
def test_the_warning_queries_parse_as_redshift_sql(name: str) -> None:
    for statement in (sql.CHECK_COUNT.format(check=sql.WARNINGS[name][1]),
                      sql.WARNING_EXAMPLES.format(check=sql.WARNINGS[name][1])):
        text = render(statement, {"limit": 3})
        (parsed,) = sqlglot.parse(text, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
        assert isinstance(parsed, sqlglot.exp.Select)
        for pattern in POSTGRES_ONLY:
            assert not re.search(pattern, statement, re.IGNORECASE), pattern
