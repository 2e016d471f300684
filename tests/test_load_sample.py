"""The real Sparkify sample, loaded from a folder and from S3 into both kinds of PostgreSQL,
gives exactly the figures of DESIGN.md, with the real values where they matter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import SAMPLE, S3Server, Warehouse

SAMPLE_COUNTS = {
    "staging_events": 8056,
    "staging_songs": 71,
    "songplays": 6820,
    "users": 97,
    "songs": 71,
    "artists": 69,
    "time": 6813,
}


def upload_sample(s3: S3Server, bucket: str) -> None:
    client = s3.client()
    s3.make_bucket(bucket)
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"udacity/{path.relative_to(SAMPLE).as_posix()}")


def assert_sample_loaded(wh: Warehouse) -> None:
    assert wh.counts() == SAMPLE_COUNTS
    # The one songplay whose song, artist and length match a song of the sample.
    assert wh.query("SELECT song_id, artist_id, user_id, session_id, item_in_session, start_time, level"
                    " FROM songplays WHERE song_id IS NOT NULL") == [
        ("SOZCTXZ12AB0182364", "AR5KOSW1187FB35FF4", 15, 818, 5,
         dt.datetime(2018, 11, 21, 21, 56, 47, 796000), "paid"),
    ]
    # Milliseconds kept: ts 1541105830796 is the first event of the sample.
    assert wh.scalar("SELECT MIN(start_time) FROM songplays") == dt.datetime(2018, 11, 1, 21, 1, 46, 796000)
    # User 80 starts free and upgrades during the month: the latest level wins.
    assert wh.query("SELECT first_name, last_name, gender, level FROM users WHERE user_id = 80") == [
        ("Tegan", "Levine", "F", "paid")
    ]
    assert wh.scalar("SELECT COUNT(*) FROM songplays WHERE user_id = 80 AND level = 'free'") > 0
    # Year 0 means unknown: stored as NULL (43 of the 71 songs).
    assert wh.query("SELECT title, year FROM songs WHERE song_id = 'SOQOTLQ12AB01868D0'") == [
        ("Clementina Santafè", None)
    ]
    assert wh.scalar("SELECT COUNT(*) FROM songs WHERE year IS NULL") == 43
    assert wh.scalar("SELECT COUNT(*) FROM songs WHERE year = 0") == 0
    # Empty artist locations are NULL, never ''.
    assert wh.scalar("SELECT COUNT(*) FROM artists WHERE location = '' OR name = ''") == 0
    # 2018-11-01 was a Thursday (ISO weekday 4) in ISO week 44.
    assert wh.query("SELECT hour, day, week, month, year, weekday FROM time ORDER BY start_time LIMIT 1") == [
        (21, 1, 44, 11, 2018, 4)
    ]
    # Every run is recorded.
    assert wh.query("SELECT outcome, objects_loaded, events_staged, songs_staged, rows_rejected,"
                    " songplays_added FROM etl_runs") == [("succeeded", 101, 8056, 71, 0, 6820)]


def test_sample_from_a_folder(warehouse: Warehouse) -> None:
    warehouse.run("create_tables.py")
    proc = warehouse.load(SAMPLE / "log_data", SAMPLE / "song_data")
    assert_sample_loaded(warehouse)
    assert "staged 8,056 events and 71 songs; 0 rejected" in proc.stdout
    assert warehouse.scalar("SELECT MIN(object_key) FROM loaded_objects WHERE source = 'events'") == str(
        (SAMPLE / "log_data/2018/11/2018-11-01-events.json").resolve()
    )


def test_sample_from_s3(warehouse: Warehouse, s3: S3Server) -> None:
    upload_sample(s3, f"sparkify-{warehouse.target}")
    warehouse.extra_env.update(s3.env)
    warehouse.run("create_tables.py")
    warehouse.load(f"s3://sparkify-{warehouse.target}/udacity/log_data",
                   f"s3://sparkify-{warehouse.target}/udacity/song_data")
    assert_sample_loaded(warehouse)
    keys = warehouse.query("SELECT object_key, etag, size FROM loaded_objects ORDER BY object_id LIMIT 1")
    key, etag, size = keys[0]
    assert key == f"s3://sparkify-{warehouse.target}/udacity/log_data/2018/11/2018-11-01-events.json"
    assert len(etag) == 32 and size == (SAMPLE / "log_data/2018/11/2018-11-01-events.json").stat().st_size


def line_of(path: Path, *parts: str) -> int:
    """The line number (from 1) of the one line of the file that holds every part."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if all(p in line for p in parts)]
    assert len(lines) == 1, lines
    return lines[0]


def test_staging_keeps_every_field_typed(loaded: Warehouse) -> None:
    row = loaded.query(
        "SELECT artist, auth, first_name, gender, item_in_session, last_name, length, level, location,"
        " method, page, registration, session_id, song, status, ts, user_agent, user_id, source_line"
        " FROM staging_events WHERE session_id = 818 AND item_in_session = 5"
    )
    assert row == [(
        "Elena", "Logged In", "Lily", "F", 5, "Koch", 269.58322, "paid", "Chicago-Naperville-Elgin, IL-IN-WI",
        "PUT", "NextSong", 1541048010796, 818, "Setanta matins", 200, 1542837407796,
        '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125'
        ' Chrome/36.0.1985.125 Safari/537.36"', 15, line_of(SAMPLE / "log_data/2018/11/2018-11-21-events.json",
                                                   '"sessionId":818,', '"itemInSession":5,'),
    )]
    # Logged-out visitors have no user id: NULL, not a user.
    assert loaded.scalar("SELECT COUNT(*) FROM staging_events WHERE user_id IS NULL") == 286
    assert loaded.scalar("SELECT COUNT(*) FROM staging_events WHERE auth = 'Logged Out'") == 286
    song = loaded.query("SELECT num_songs, artist_id, artist_latitude, artist_longitude, artist_location,"
                        " artist_name, title, duration, year FROM staging_songs WHERE song_id = 'SOGVQGJ12AB017F169'")
    assert song == [(1, "AR62SOJ1187FB47BB5", None, None, "", "Chase & Status", "Ten Tonne", 337.68444, 2005)]


def test_every_staged_row_names_its_object_and_line(loaded: Warehouse) -> None:
    orphans = loaded.scalar("SELECT COUNT(*) FROM staging_events e LEFT JOIN loaded_objects o"
                            " ON o.object_id = e.object_id WHERE o.object_id IS NULL OR o.run_id <> e.run_id")
    assert orphans == 0
    first = loaded.query("SELECT o.object_key, e.source_line, e.ts FROM staging_events e JOIN loaded_objects o"
                         " USING (object_id) ORDER BY e.ts, e.source_line LIMIT 1")
    assert first == [(str((SAMPLE / "log_data/2018/11/2018-11-01-events.json").resolve()), 1, 1541105830796)]
    per_object = dict(loaded.query("SELECT object_key, records FROM loaded_objects WHERE source = 'events'"))
    path = SAMPLE / "log_data/2018/11/2018-11-15-events.json"
    lines = sum(1 for line in path.read_text().splitlines() if line.strip())
    assert per_object[str(path.resolve())] == lines
    assert Path(next(iter(per_object))).is_absolute()
