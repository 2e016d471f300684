"""Running again is safe: nothing loads twice, late files load like any other, the latest
level wins, a failed run changes nothing, and the star schema can be rebuilt from staging."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, SAMPLE, Warehouse, one_line_error
from test_load_sample import SAMPLE_COUNTS

import sql_queries as sql

STAR_FINGERPRINT = {
    # songplay_id is a surrogate key; everything else must be identical.
    "songplays": "SELECT md5(string_agg(concat_ws(',', start_time, user_id, level, song_id, artist_id, session_id,"
                 " item_in_session, location, user_agent), '|' ORDER BY session_id, item_in_session, start_time))"
                 " FROM songplays",
    "users": "SELECT md5(string_agg(u::text, '|' ORDER BY user_id)) FROM users u",
    "songs": "SELECT md5(string_agg(s::text, '|' ORDER BY song_id)) FROM songs s",
    "artists": "SELECT md5(string_agg(a::text, '|' ORDER BY artist_id)) FROM artists a",
    "time": "SELECT md5(string_agg(t::text, '|' ORDER BY start_time)) FROM time t",
}


def fingerprint(wh: Warehouse) -> dict[str, object]:
    return {table: wh.scalar(sql) for table, sql in STAR_FINGERPRINT.items()}


def copy_sample(dest: Path, days: range | None = None) -> tuple[Path, Path]:
    """A private copy of the sample (optionally only some days of November 2018)."""
    logs, songs = dest / "log_data", dest / "song_data"
    shutil.copytree(SAMPLE / "song_data", songs)
    (logs / "2018/11").mkdir(parents=True)
    for day in days or range(1, 31):
        name = f"2018-11-{day:02d}-events.json"
        shutil.copy(SAMPLE / "log_data/2018/11" / name, logs / "2018/11" / name)
    return logs, songs


def events_of_day(day: int) -> list[dict]:
    path = SAMPLE / f"log_data/2018/11/2018-11-{day:02d}-events.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_second_run_changes_nothing(loaded_each: Warehouse) -> None:
    warehouse = loaded_each  # the sample, loaded by run 1
    assert warehouse.counts() == SAMPLE_COUNTS
    before = fingerprint(warehouse)
    proc = warehouse.load(SAMPLE / "log_data", SAMPLE / "song_data")
    assert "0 event and 0 song objects" in proc.stdout
    assert warehouse.counts() == SAMPLE_COUNTS
    assert fingerprint(warehouse) == before
    assert warehouse.query("SELECT run_id, outcome, objects_loaded FROM etl_runs ORDER BY run_id") == [
        (1, "succeeded", 101), (2, "succeeded", 0),
    ]
    # create_tables.py again leaves tables and data alone
    assert "0 table(s) created" in warehouse.run("create_tables.py").stdout
    assert warehouse.counts() == SAMPLE_COUNTS


def test_a_late_file_adds_exactly_its_day(embedded: Warehouse, tmp_path: Path) -> None:
    logs, songs = copy_sample(tmp_path / "data", days=range(1, 30))
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    before = embedded.counts()
    last_day = events_of_day(30)
    shutil.copy(SAMPLE / "log_data/2018/11/2018-11-30-events.json", logs / "2018/11")
    proc = embedded.load(logs, songs)
    assert "1 event and 0 song objects" in proc.stdout
    after = embedded.counts()
    assert after["staging_events"] - before["staging_events"] == len(last_day)
    assert after["songplays"] - before["songplays"] == sum(e["page"] == "NextSong" for e in last_day)
    assert after == SAMPLE_COUNTS


def test_a_late_file_for_an_old_day_does_not_undo_a_newer_level(embedded: Warehouse, tmp_path: Path) -> None:
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    songs.mkdir()
    (logs / "2018/11").mkdir(parents=True)
    base = dict(events_of_day(1)[2])  # a NextSong event of user 8
    assert base["userId"] == "8" and base["page"] == "NextSong"

    def write_day(day: int, level: str) -> None:
        event = dict(base, level=level, ts=base["ts"] + day * 86_400_000, sessionId=1000 + day)
        (logs / f"2018/11/2018-11-{day:02d}-events.json").write_text(json.dumps(event) + "\n")

    embedded.run("create_tables.py")
    write_day(1, "free")
    embedded.load(logs, songs)
    assert embedded.query("SELECT level FROM users WHERE user_id = 8") == [("free",)]
    write_day(3, "paid")  # the user upgrades
    embedded.load(logs, songs)
    assert embedded.query("SELECT level FROM users WHERE user_id = 8") == [("paid",)]
    write_day(2, "free")  # a late file for an earlier day
    embedded.load(logs, songs)
    # The newer level stays, with the time of the event it came from (day 3's), not the late one's.
    day_3 = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=base["ts"] + 3 * 86_400_000)
    assert embedded.query("SELECT level, last_seen_at FROM users WHERE user_id = 8") == [("paid", day_3)]
    assert embedded.scalar("SELECT COUNT(*) FROM songplays WHERE user_id = 8") == 3


def test_a_song_that_arrives_after_its_plays_is_matched(embedded: Warehouse, tmp_path: Path) -> None:
    logs, songs = copy_sample(tmp_path / "data")
    matching = songs / "A/A/C/TRAACCG128F92E8A55.json"  # Elena - Setanta matins
    assert json.loads(matching.read_text())["song_id"] == "SOZCTXZ12AB0182364"
    held_back = tmp_path / "held_back.json"
    shutil.move(matching, held_back)
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    assert embedded.scalar("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL") == 0
    shutil.move(held_back, matching)
    embedded.load(logs, songs)
    assert embedded.query("SELECT song_id, artist_id FROM songplays WHERE song_id IS NOT NULL") == [
        ("SOZCTXZ12AB0182364", "AR5KOSW1187FB35FF4")
    ]
    assert embedded.counts() == SAMPLE_COUNTS


def test_a_run_that_fails_after_staging_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    logs, songs = copy_sample(tmp_path / "data", days=range(1, 16))
    warehouse.run("create_tables.py")
    warehouse.load(logs, songs)
    counts, prints = warehouse.counts(), fingerprint(warehouse)
    objects = warehouse.query("SELECT * FROM loaded_objects ORDER BY object_id")
    for day in range(16, 31):
        shutil.copy(SAMPLE / f"log_data/2018/11/2018-11-{day:02d}-events.json", logs / "2018/11")
    # A real failure inside the warehouse, in the last transform, after everything was staged.
    warehouse.execute("""
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$;
        CREATE TRIGGER refuse_time BEFORE INSERT ON time FOR EACH STATEMENT EXECUTE FUNCTION refuse();
    """)
    proc = warehouse.load(logs, songs, check=False)
    assert one_line_error(proc) == "error: the warehouse said: disk full (simulated) (in TIME_INSERT)"
    assert warehouse.counts() == counts
    assert fingerprint(warehouse) == prints
    assert warehouse.query("SELECT * FROM loaded_objects ORDER BY object_id") == objects
    assert warehouse.query("SELECT run_id, outcome, message FROM etl_runs ORDER BY run_id") == [
        (1, "succeeded", None), (2, "failed", "disk full (simulated) (in TIME_INSERT)"),
    ]
    warehouse.execute("DROP TRIGGER refuse_time ON time")
    proc = warehouse.load(logs, songs)
    assert "15 event and 0 song objects" in proc.stdout
    assert warehouse.counts() == SAMPLE_COUNTS


def test_the_star_schema_rebuilds_from_staging_alone(embedded: Warehouse, tmp_path: Path) -> None:
    logs, songs = copy_sample(tmp_path / "data", days=range(1, 11))
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    for day in range(11, 31):  # two more runs, so the rebuild spans several
        shutil.copy(SAMPLE / f"log_data/2018/11/2018-11-{day:02d}-events.json", logs / "2018/11")
        if day in (20, 30):
            embedded.load(logs, songs)
    incremental = fingerprint(embedded)
    shutil.rmtree(tmp_path / "data")  # the sources are gone: the rebuild must not need them
    proc = embedded.run("etl.py", "--rebuild")
    assert proc.stdout.startswith("run 4 succeeded")
    assert embedded.counts() == SAMPLE_COUNTS
    assert fingerprint(embedded) == incremental


WAITING_FOR_THE_RUN_LOCK = """
SELECT COUNT(*) FROM pg_locks
WHERE locktype = 'relation' AND relation = 'etl_runs'::regclass AND NOT granted AND pid <> pg_backend_pid()
"""


def test_two_runs_at_once_load_everything_once(embedded: Warehouse) -> None:
    """Both runs are started while the test holds the run lock, and both are seen waiting for it
    together: so they overlap for certain, and the lock alone decides who loads what."""
    embedded.run("create_tables.py")
    embedded.settings["S3"].update({"LOG_DATA": str(SAMPLE / "log_data"), "SONG_DATA": str(SAMPLE / "song_data")})
    config = embedded.write_config()
    holder = embedded.connect()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute(sql.RUN_LOCK)
        runs = [subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(config)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            waiting = 0
            deadline = time.monotonic() + 120
            while waiting < 2 and time.monotonic() < deadline and all(run.poll() is None for run in runs):
                time.sleep(0.05)
                cur.execute(WAITING_FOR_THE_RUN_LOCK)
                (waiting,) = cur.fetchone()
        finally:
            holder.commit()  # let them go
            holder.close()
    outputs = [run.communicate(timeout=120) for run in runs]
    assert waiting == 2, ("both runs were not waiting for the run lock together", outputs)
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert embedded.counts() == SAMPLE_COUNTS
    assert sorted(embedded.query("SELECT objects_loaded FROM etl_runs")) == [(0,), (101,)]


def test_files_loaded_by_a_version_without_modification_times_are_not_loaded_again(loaded: Warehouse) -> None:
    """Such a version recorded a file by path and size only (no etag): its files still count as loaded."""
    loaded.execute("UPDATE loaded_objects SET etag = NULL")
    proc = loaded.load(SAMPLE / "log_data", SAMPLE / "song_data")
    assert "0 event and 0 song objects" in proc.stdout
    assert loaded.counts() == SAMPLE_COUNTS
