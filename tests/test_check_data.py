"""check_data.py on real warehouses: the real sample passes every check; each check catches
the fault it is about, and only that one; the report reads well in a terminal and as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import sqlglot
from conftest import ROOT, SAMPLE, Warehouse, _embedded_warehouse, one_line_error
from test_load_sample import SAMPLE_COUNTS

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import sql_queries as sql
from sparkify_dwh import catalog, checks, dialects

ALL_CHECKS = list(sql.CHECKS)


@pytest.fixture(scope="module")
def sample_template(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The real sample, loaded once for this module's tests to copy."""
    databases = _embedded_warehouse(embedded_server, tmp_path_factory.mktemp("sample"),
                                    f"t_check_data_sample_{os.getpid()}")
    template = next(databases)
    template.run("create_tables.py")
    template.load(SAMPLE / "log_data", SAMPLE / "song_data")
    yield template
    next(databases, None)  # drops it


@pytest.fixture
def loaded_copy(embedded: Warehouse, sample_template: Warehouse) -> Warehouse:
    """What the `loaded` fixture gives, in a fraction of the time: the test's fresh database is
    a copy of the loaded template (CREATE DATABASE ... TEMPLATE), so 25 breakages stay quick."""
    admin = psycopg2.connect(**dict(embedded.dsn, dbname="postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE "{embedded.dsn["dbname"]}"')
        cur.execute(f'CREATE DATABASE "{embedded.dsn["dbname"]}" TEMPLATE "{sample_template.dsn["dbname"]}"')
    admin.close()
    return embedded


def check_report(wh: Warehouse, *args: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """check_data.py --json, as a scheduler would run it; timing and samples kept short."""
    proc = wh.run("check_data.py", "--json", "--repeat", "1", "--sample", "0", *args, check=False)
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout), proc


def failed_checks(report: dict[str, Any]) -> dict[str, int]:
    return {check["name"]: check["count"] for check in report["checks"] if not check["passed"]}


def test_the_sample_passes_every_check(warehouse: Warehouse) -> None:
    warehouse.run("create_tables.py")
    warehouse.load(SAMPLE / "log_data", SAMPLE / "song_data")
    report, proc = check_report(warehouse)
    assert proc.returncode == 0, proc.stderr
    assert [check["name"] for check in report["checks"]] == ALL_CHECKS
    assert failed_checks(report) == {}
    assert report["passed"] is True
    # DESIGN.md: 6,820 songplays, 1 matched to a song.
    assert report["match_rate"] == {"matched": 1, "total": 6820, "percent": 0.0147}
    # The same checks, called in-process as etl.py calls them after a load.
    with warehouse.connect() as conn:
        results = checks.run_checks(conn)
    assert [(r.name, r.count) for r in results] == [(name, 0) for name in ALL_CHECKS]
    assert checks.failure_summary(results) is None


@dataclass
class Breakage:
    sql: str  # what goes wrong, done to the loaded sample
    offending: int  # the rows the check must count
    example: dict[str, Any] = field(default_factory=dict)  # what one offending row shows


FIRST_SONGPLAY = "(SELECT MIN(songplay_id) FROM songplays)"
LAST_SONGPLAY = "(SELECT MAX(songplay_id) FROM songplays)"
FIRST_TIME = "(SELECT MIN(start_time) FROM time)"
LAST_TIME = "(SELECT MAX(start_time) FROM time)"
SONG = "'SOGVQGJ12AB017F169'"  # Chase & Status - Ten Tonne: no songplay matches it
PLAYED_ARTIST = "'AR5KOSW1187FB35FF4'"  # Elena: the artist of the one matched songplay
EVENT_KEY = "(session_id, item_in_session, start_time)"
FIRST_OF_PAGE = f"{EVENT_KEY} = (SELECT {EVENT_KEY[1:-1]} FROM app_events WHERE page = '{{}}' ORDER BY 1, 2, 3 LIMIT 1)"
HOME_EVENT, PLAY_EVENT = FIRST_OF_PAGE.format("Home"), FIRST_OF_PAGE.format("NextSong")
USER_80_NOW = "user_id = 80 AND valid_to IS NULL"  # user 80's current level
USER_80_FIRST_DAY = "user_id = 80 AND activity_date = (SELECT MIN(activity_date) FROM user_days WHERE user_id = 80)"
FIRST_SESSION = "(user_id, session_id) = (SELECT user_id, session_id FROM user_sessions ORDER BY 1, 2 LIMIT 1)"
ELENA_DAY = "song = 'Setanta matins' AND artist = 'Elena'"  # played once in the sample
FIRST_HOUR = "(activity_date, hour) = (SELECT activity_date, hour FROM hour_plays ORDER BY 1, 2 LIMIT 1)"
FIRST_DEVICE = "user_agent = (SELECT MIN(user_agent) FROM devices)"
USER_80_FIRST_PLACE = ("user_id = 80 AND step_page IS NULL"  # one row: a single place that day
                       " AND activity_date = (SELECT MIN(activity_date) FROM user_day_places WHERE user_id = 80)")
PLACE_COLUMNS = ("user_id, activity_date, state, os_family, browser_family, device_type, step_page, step_time, events,"
                 " plays, first_free_play, paid_events")

# Each check's fault, made with real SQL on the loaded sample. PostgreSQL enforces the keys
# and NOT NULLs the model declares (Redshift does not): the test drops them to break them.
# songplay_id is the load's number (no identity): a planted songplay takes the next one.
NEXT_SONGPLAY = "(SELECT MAX(songplay_id) + 1 FROM songplays)"
BREAKAGES = {
    "null_keys_songplays": Breakage(  # a copy of a songplay without its session: only its NULL is wrong
        "ALTER TABLE songplays ALTER COLUMN session_id DROP NOT NULL;"
        " INSERT INTO songplays (songplay_id, start_time, user_id, level, session_id, item_in_session)"
        f" SELECT {NEXT_SONGPLAY}, start_time, user_id, level, NULL, item_in_session FROM songplays"
        f" WHERE songplay_id = {FIRST_SONGPLAY}",
        1, {"session_id": None, "null_columns": "session_id"}),
    "null_keys_users": Breakage(
        "UPDATE users SET level = NULL WHERE user_id IN (15, 80)",
        2, {"user_id": 80, "null_columns": "level"}),
    "null_keys_songs": Breakage(
        "ALTER TABLE songs ALTER COLUMN title DROP NOT NULL;"
        f" UPDATE songs SET title = NULL WHERE song_id = {SONG}",
        1, {"song_id": "SOGVQGJ12AB017F169", "null_columns": "title"}),
    "null_keys_artists": Breakage(
        f"UPDATE artists SET name = NULL WHERE artist_id = {PLAYED_ARTIST}", 1, {"null_columns": "name"}),
    "null_keys_time": Breakage(
        "ALTER TABLE time ALTER COLUMN weekday DROP NOT NULL, ALTER COLUMN hour DROP NOT NULL;"
        f" UPDATE time SET weekday = NULL, hour = NULL WHERE start_time = {FIRST_TIME}",
        1, {"null_columns": "hour, weekday"}),
    "null_keys_staging_events": Breakage(  # not a NextSong event: its songplay would go unstaged too
        "ALTER TABLE staging_events ALTER COLUMN ts DROP NOT NULL;"
        " UPDATE staging_events SET ts = NULL WHERE object_id = 1 AND source_line = 1 AND page = 'Home'",
        1, {"object_id": 1, "source_line": 1, "page": "Home", "null_columns": "ts"}),
    "null_keys_staging_songs": Breakage(
        "ALTER TABLE staging_songs ALTER COLUMN artist_id DROP NOT NULL;"
        f" UPDATE staging_songs SET artist_id = NULL WHERE song_id = {SONG}",
        1, {"song_id": "SOGVQGJ12AB017F169", "null_columns": "artist_id"}),
    "dup_songplays_event": Breakage(  # the same event loaded twice, with a new songplay_id
        "ALTER TABLE songplays DROP CONSTRAINT songplays_session_id_item_in_session_start_time_key;"
        " INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id,"
        f" item_in_session, location, user_agent) SELECT {NEXT_SONGPLAY}, start_time, user_id, level, song_id,"
        " artist_id, session_id,"
        f" item_in_session, location, user_agent FROM songplays WHERE songplay_id = {FIRST_SONGPLAY}",
        1, {"copies": 2}),
    "dup_songplays_songplay_id": Breakage(
        "ALTER TABLE songplays DROP CONSTRAINT songplays_pkey;"
        f" UPDATE songplays SET songplay_id = {FIRST_SONGPLAY} WHERE songplay_id = {LAST_SONGPLAY}",
        1, {"copies": 2}),
    "dup_users_user_id": Breakage(
        "ALTER TABLE users DROP CONSTRAINT users_pkey;"
        " INSERT INTO users SELECT * FROM users WHERE user_id = 15",
        1, {"user_id": 15, "copies": 2}),
    "dup_songs_song_id": Breakage(
        "ALTER TABLE songs DROP CONSTRAINT songs_pkey;"
        f" INSERT INTO songs SELECT * FROM songs WHERE song_id = {SONG}",
        1, {"song_id": "SOGVQGJ12AB017F169", "copies": 2}),
    "dup_artists_artist_id": Breakage(  # three rows of one artist: one key, counted once
        "ALTER TABLE artists DROP CONSTRAINT artists_pkey;"
        " INSERT INTO artists SELECT a.* FROM artists a, (VALUES (1), (2)) copies (n)"
        f" WHERE a.artist_id = {PLAYED_ARTIST}",
        1, {"artist_id": "AR5KOSW1187FB35FF4", "copies": 3}),
    "dup_time_start_time": Breakage(
        "ALTER TABLE time DROP CONSTRAINT time_pkey;"
        f" INSERT INTO time SELECT * FROM time WHERE start_time = {FIRST_TIME}",
        1, {"copies": 2}),
    "orphan_songplays_user_id": Breakage(
        f"UPDATE songplays SET user_id = 999999 WHERE songplay_id = {FIRST_SONGPLAY}",
        1, {"user_id": 999999}),
    "orphan_songplays_start_time": Breakage(  # a time row that exactly one songplay uses
        "DELETE FROM time WHERE start_time = (SELECT start_time FROM songplays GROUP BY start_time"
        " HAVING COUNT(*) = 1 ORDER BY start_time LIMIT 1)",
        1),
    "orphan_songplays_song_id": Breakage(  # a song set on an unmatched play: its artist stays NULL
        "UPDATE songplays SET song_id = 'SONOSUCHSONG000000'"
        " WHERE songplay_id = (SELECT MIN(songplay_id) FROM songplays WHERE song_id IS NULL)",
        1, {"song_id": "SONOSUCHSONG000000"}),
    "orphan_songplays_artist_id": Breakage(
        "UPDATE songplays SET artist_id = 'ARNOSUCHARTIST0000'"
        " WHERE songplay_id = (SELECT MIN(songplay_id) FROM songplays WHERE artist_id IS NULL)",
        1, {"artist_id": "ARNOSUCHARTIST0000"}),
    "orphan_songs_artist_id": Breakage(
        f"UPDATE songs SET artist_id = 'ARNOSUCHARTIST0000' WHERE song_id = {SONG}",
        1, {"song_id": "SOGVQGJ12AB017F169", "artist_id": "ARNOSUCHARTIST0000"}),
    "accepted_users_level": Breakage(
        "UPDATE users SET level = 'gold' WHERE user_id = 15", 1, {"user_id": 15, "level": "gold"}),
    "accepted_songplays_level": Breakage(  # no key column, so a NULL level is this check's too
        f"UPDATE songplays SET level = 'gold' WHERE songplay_id = {FIRST_SONGPLAY};"
        f" UPDATE songplays SET level = NULL WHERE songplay_id = {LAST_SONGPLAY}",
        2, {"level": "gold"}),
    "accepted_songplays_user_id": Breakage(  # a play that lost the user its event has
        f"UPDATE songplays SET user_id = NULL WHERE songplay_id = {FIRST_SONGPLAY}",
        1, {"session_id": 139, "item_in_session": 1, "event_user_id": 8}),
    "accepted_users_gender": Breakage(
        "UPDATE users SET gender = 'X' WHERE user_id = 15", 1, {"user_id": 15, "gender": "X"}),
    "accepted_time_parts": Breakage(
        f"UPDATE time SET hour = 24 WHERE start_time = {FIRST_TIME};"
        f" UPDATE time SET weekday = 0, month = 13 WHERE start_time = {LAST_TIME}",
        2, {"out_of_range": "month, weekday"}),
    "consistent_time_parts": Breakage(  # plausible values, but not those of start_time
        f"UPDATE time SET hour = MOD(hour + 1, 24) WHERE start_time = {FIRST_TIME};"
        f" UPDATE time SET weekday = MOD(weekday, 7) + 1, year = 2019 WHERE start_time = {LAST_TIME}",
        2, {"disagreeing": "year, weekday"}),
    "reconcile_staged_not_in_songplays": Breakage(
        f"DELETE FROM songplays WHERE songplay_id = {FIRST_SONGPLAY}", 1),
    "reconcile_songplays_not_staged": Breakage(  # its user and time exist: only staging lacks it
        "INSERT INTO songplays (songplay_id, start_time, user_id, level, session_id, item_in_session)"
        f" SELECT {NEXT_SONGPLAY}, start_time, user_id, level, session_id + 1000000, item_in_session FROM songplays"
        f" WHERE songplay_id = {FIRST_SONGPLAY}",
        1),
    # The analytics layer.
    "null_keys_app_events": Breakage(
        f"ALTER TABLE app_events ALTER COLUMN page DROP NOT NULL; UPDATE app_events SET page = NULL WHERE {HOME_EVENT}",
        1, {"null_columns": "page"}),
    "null_keys_user_levels": Breakage(
        "ALTER TABLE user_levels ALTER COLUMN level DROP NOT NULL;"
        f" UPDATE user_levels SET level = NULL WHERE {USER_80_NOW}",
        1, {"user_id": 80, "null_columns": "level"}),
    "null_keys_devices": Breakage(
        "ALTER TABLE devices DROP CONSTRAINT devices_pkey, ALTER COLUMN user_agent DROP NOT NULL;"
        " INSERT INTO devices (user_agent, os_family) VALUES (NULL, 'Nowhere')",
        1, {"null_columns": "user_agent"}),
    "null_keys_user_days": Breakage(
        "ALTER TABLE user_days DROP CONSTRAINT user_days_pkey, ALTER COLUMN activity_date DROP NOT NULL;"
        f" UPDATE user_days SET activity_date = NULL WHERE {USER_80_FIRST_DAY}",
        1, {"user_id": 80, "null_columns": "activity_date"}),
    "null_keys_user_sessions": Breakage(
        "ALTER TABLE user_sessions ALTER COLUMN ended_at DROP NOT NULL;"
        f" UPDATE user_sessions SET ended_at = NULL WHERE {FIRST_SESSION}",
        1, {"null_columns": "ended_at"}),
    "null_keys_song_days": Breakage(
        "ALTER TABLE song_days DROP CONSTRAINT song_days_pkey, ALTER COLUMN artist DROP NOT NULL;"
        f" UPDATE song_days SET artist = NULL WHERE {ELENA_DAY}",
        1, {"song": "Setanta matins", "null_columns": "artist"}),
    # A copy of a row with a NULL key: its key-less copy is the only fault (the row itself stays,
    # so user_day_places and song_totals still reconcile).
    "null_keys_user_day_places": Breakage(
        "ALTER TABLE user_day_places ALTER COLUMN activity_date DROP NOT NULL;"
        f" INSERT INTO user_day_places ({PLACE_COLUMNS})"
        f" SELECT {PLACE_COLUMNS.replace('activity_date', 'NULL')} FROM user_day_places WHERE {USER_80_FIRST_PLACE}",
        1, {"user_id": 80, "null_columns": "activity_date"}),
    "null_keys_song_totals": Breakage(
        "ALTER TABLE song_totals DROP CONSTRAINT song_totals_pkey, ALTER COLUMN artist DROP NOT NULL;"
        f" INSERT INTO song_totals (song, artist, song_id, plays) SELECT song, NULL, song_id, plays FROM song_totals"
        f" WHERE {ELENA_DAY}",
        1, {"song": "Setanta matins", "null_columns": "artist"}),
    "reconcile_user_day_places_app_events": Breakage(  # one place of user 80's first day, a play too many
        f"UPDATE user_day_places SET plays = plays + 1 WHERE {USER_80_FIRST_PLACE}",
        1, {"user_id": 80, "differing": "plays"}),
    "reconcile_hour_plays_app_events": Breakage(  # the first hour's plays lost
        f"UPDATE hour_plays SET plays = 0 WHERE {FIRST_HOUR}", 1, {"plays": 0}),
    "reconcile_song_totals_song_days": Breakage(  # Elena's one play counted twice
        f"UPDATE song_totals SET plays = plays + 1 WHERE {ELENA_DAY}",
        1, {"song": "Setanta matins", "artist": "Elena", "plays": 2, "day_plays": 1, "differing": "plays"}),
    "dup_song_totals_song": Breakage(
        "ALTER TABLE song_totals DROP CONSTRAINT song_totals_pkey;"
        f" INSERT INTO song_totals SELECT * FROM song_totals WHERE {ELENA_DAY}",
        1, {"song": "Setanta matins", "copies": 2}),
    "null_keys_hour_plays": Breakage(
        "ALTER TABLE hour_plays ALTER COLUMN weekday DROP NOT NULL;"
        f" UPDATE hour_plays SET weekday = NULL WHERE {FIRST_HOUR}",
        1, {"null_columns": "weekday"}),
    "dup_app_events_event": Breakage(
        "ALTER TABLE app_events DROP CONSTRAINT app_events_session_id_item_in_session_start_time_key;"
        f" INSERT INTO app_events SELECT * FROM app_events WHERE {HOME_EVENT}",
        1, {"copies": 2}),
    "dup_user_levels_period": Breakage(
        "ALTER TABLE user_levels DROP CONSTRAINT user_levels_pkey;"
        f" INSERT INTO user_levels SELECT * FROM user_levels WHERE {USER_80_NOW}",
        1, {"user_id": 80, "copies": 2}),
    "dup_devices_user_agent": Breakage(
        "ALTER TABLE devices DROP CONSTRAINT devices_pkey;"
        f" INSERT INTO devices SELECT * FROM devices WHERE {FIRST_DEVICE}",
        1, {"copies": 2}),
    "dup_user_days_user_day": Breakage(
        "ALTER TABLE user_days DROP CONSTRAINT user_days_pkey;"
        f" INSERT INTO user_days SELECT * FROM user_days WHERE {USER_80_FIRST_DAY}",
        1, {"user_id": 80, "copies": 2}),
    "dup_user_sessions_session": Breakage(
        "ALTER TABLE user_sessions DROP CONSTRAINT user_sessions_pkey;"
        f" INSERT INTO user_sessions SELECT * FROM user_sessions WHERE {FIRST_SESSION}",
        1, {"copies": 2}),
    "dup_song_days_song_day": Breakage(
        "ALTER TABLE song_days DROP CONSTRAINT song_days_pkey;"
        f" INSERT INTO song_days SELECT * FROM song_days WHERE {ELENA_DAY}",
        1, {"song": "Setanta matins", "copies": 2}),
    "dup_hour_plays_hour": Breakage(
        "ALTER TABLE hour_plays DROP CONSTRAINT hour_plays_pkey;"
        f" INSERT INTO hour_plays SELECT * FROM hour_plays WHERE {FIRST_HOUR}",
        1, {"copies": 2}),
    "reconcile_app_events_not_in_songplays": Breakage(  # a Home event that says it was a play
        f"UPDATE app_events SET page = 'NextSong' WHERE {HOME_EVENT}", 1),
    "reconcile_songplays_not_in_app_events": Breakage(
        f"DELETE FROM app_events WHERE {PLAY_EVENT}", 1),
    "orphan_app_events_user_id": Breakage(
        f"UPDATE app_events SET user_id = 999999 WHERE {HOME_EVENT}", 1, {"user_id": 999999, "row_count": 1}),
    "orphan_user_levels_user_id": Breakage(
        f"UPDATE user_levels SET user_id = 999999 WHERE {USER_80_NOW}", 1, {"user_id": 999999}),
    "orphan_user_days_user_id": Breakage(  # all of user 80's days: one user missing
        "UPDATE user_days SET user_id = 999999 WHERE user_id = 80", 1, {"user_id": 999999}),
    "orphan_user_sessions_user_id": Breakage(
        "UPDATE user_sessions SET user_id = 999999 WHERE user_id = 80", 1, {"user_id": 999999}),
    "adjacent_user_levels_same_level": Breakage(  # user 80's current period cut in two: paid -> paid
        f"UPDATE user_levels SET valid_to = valid_from + INTERVAL '1 second' WHERE {USER_80_NOW};"
        " INSERT INTO user_levels SELECT user_id, level, valid_to, NULL FROM user_levels"
        " WHERE user_id = 80 AND valid_to = valid_from + INTERVAL '1 second'", 1, {"user_id": 80}),
    "orphan_app_events_user_agent": Breakage(  # a device that events use, gone
        f"DELETE FROM devices WHERE {FIRST_DEVICE}", 1),
    "reconcile_table_rows": Breakage(  # the count a run keeps, off by one
        "UPDATE table_rows SET row_count = row_count + 1 WHERE table_name = 'users'", 1,
        {"table_name": "users", "kept": 98, "counted": 97}),
}
# The other breakages add or remove star rows as their fault; the kept counts follow them, so
# that each breakage is one fault.
RECOUNT = "; ".join(f"UPDATE table_rows SET row_count = (SELECT COUNT(*) FROM {table}) WHERE table_name = '{table}'"
                    for table in sql.STAR_TABLES)


def test_every_check_has_its_breakage() -> None:
    assert sorted(BREAKAGES) == sorted(ALL_CHECKS)


@pytest.mark.parametrize("check", list(BREAKAGES))
def test_each_check_catches_its_fault_and_only_it(loaded_copy: Warehouse, check: str) -> None:
    breakage = BREAKAGES[check]
    loaded_copy.execute(breakage.sql)
    if check != "reconcile_table_rows":
        loaded_copy.execute(RECOUNT)
    report, proc = check_report(loaded_copy)
    assert failed_checks(report) == {check: breakage.offending}
    assert report["passed"] is False
    assert one_line_error(proc) == f"error: 1 of {len(ALL_CHECKS)} checks failed: {check}"
    # A NOT NULL dropped to break the data makes the tables differ from the model: checked anyway.
    assert ("DROP NOT NULL" in breakage.sql) == ("checking them anyway" in proc.stderr), proc.stderr
    examples = next(c["examples"] for c in report["checks"] if c["name"] == check)
    assert len(examples) == min(breakage.offending, checks.EXAMPLES)
    assert any(breakage.example.items() <= example.items() for example in examples), examples


def test_the_helpers_reconciliations_say_what_differs(loaded_copy: Warehouse) -> None:
    """song_totals against song_days: a wrong song_id, a text it lacks, a text song_days lacks;
    user_day_places against app_events: a user-day it lacks, with app_events' own counts."""
    other = loaded_copy.query(f"SELECT song, artist FROM song_totals WHERE NOT ({ELENA_DAY}) ORDER BY 1, 2 LIMIT 1")[0]
    day_events, day_plays = loaded_copy.query(
        "SELECT COUNT(*), SUM(CASE WHEN page = 'NextSong' THEN 1 ELSE 0 END) FROM app_events"
        " WHERE user_id = 80 AND event_date = (SELECT MIN(activity_date) FROM user_day_places WHERE user_id = 80)")[0]
    loaded_copy.execute(
        f"UPDATE song_totals SET song_id = NULL WHERE {ELENA_DAY};"
        " DELETE FROM song_totals WHERE song = %s AND artist = %s;"
        " INSERT INTO song_totals (song, artist, song_id, plays) VALUES ('No such song', 'Nobody', NULL, 3);"
        " DELETE FROM user_day_places WHERE user_id = 80"
        " AND activity_date = (SELECT MIN(activity_date) FROM user_day_places WHERE user_id = 80)", other)
    report, _ = check_report(loaded_copy)
    assert failed_checks(report) == {"reconcile_song_totals_song_days": 3, "reconcile_user_day_places_app_events": 1}
    examples = {c["name"]: c["examples"] for c in report["checks"]}
    songs = {(e["song"], e["artist"]): (e["differing"], e["plays"], e["day_plays"], e["song_id"], e["day_song_id"])
             for e in examples["reconcile_song_totals_song_days"]}
    assert songs[("Setanta matins", "Elena")] == ("song_id", 1, 1, None, "SOZCTXZ12AB0182364")
    assert songs[other][0] == "not_in_song_totals" and songs[other][1] is None and songs[other][2] >= 1
    assert songs[("No such song", "Nobody")] == ("not_in_song_days", 3, None, None, None)
    (day,) = examples["reconcile_user_day_places_app_events"]
    assert (day["user_id"], day["events"], day["plays"], day["place_events"]) == (80, day_events, day_plays, None)
    assert day["differing"].startswith("events, plays, paid_events")


def test_the_terminal_report_is_readable(loaded: Warehouse) -> None:
    proc = loaded.run("check_data.py", "--sample", "2", "--repeat", "3", "--verbose")
    out = proc.stdout
    assert out.startswith(f"Checks: {len(ALL_CHECKS)} passed, 0 failed\n")
    lines = out.splitlines()
    assert lines[1].split() == ["check", "what", "it", "checks", "offending", "rows", "result"]
    for name in ALL_CHECKS:
        assert any(line.startswith(f"{name} ") and line.split()[-2:] == ["0", "PASS"] for line in lines), name
    assert "Song match rate: 1 of 6,820 songplays have a song (0.01%)" in out
    assert "Analytics queries, median of 3 runs" in out
    for name in sql.ANALYTICS_QUERIES:
        assert any(line.startswith(f"{name} ") for line in lines), name
    # Two rows of every table under its name; rejects has none on the sample.
    assert "rejects: 0 rows of a sample\n(empty)" in out
    assert "users: 2 rows of a sample\n" in out
    assert "2018-11-" in out and "2,018" not in out  # years and ids are not amounts

    # A failure: named in the table, with its offending rows, and the summary on stderr.
    loaded.execute("ALTER TABLE users DROP CONSTRAINT users_pkey; INSERT INTO users SELECT * FROM users"
                   " WHERE user_id IN (15, 80); " + RECOUNT)
    proc = loaded.run("check_data.py", "--sample", "0", check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"Checks: {len(ALL_CHECKS) - 1} passed, 1 failed\n")
    assert any(line.startswith("dup_users_user_id ") and line.split()[-2:] == ["2", "FAIL"]
               for line in proc.stdout.splitlines())
    failure = proc.stdout.split("dup_users_user_id: 2 rows offending:\n")[1].splitlines()
    assert failure[0].split() == ["user_id", "copies"]
    assert sorted(line.split() for line in failure[2:4]) == [["15", "2"], ["80", "2"]]
    assert " of a sample" not in proc.stdout  # --sample 0
    assert proc.stderr.splitlines()[-1] == f"error: 1 of {len(ALL_CHECKS)} checks failed: dup_users_user_id"


def test_json_has_timings_and_samples_of_every_table(loaded: Warehouse) -> None:
    report, proc = check_report(loaded, "--repeat", "4", "--sample", "3")
    assert proc.returncode == 0
    expected_rows = {"top_songs": 1, "plays_by_hour": 24, "plays_by_level": 2, "most_active_users": 10,
                     "plays_per_day": 30}
    assert {t["name"]: t["rows"] for t in report["timings"]} == expected_rows
    for timing in report["timings"]:
        assert timing["runs"] == 4
        assert 0 < timing["median_ms"] < 10_000
    assert list(report["samples"]) == list(sql.TABLES)
    table_rows = dict(SAMPLE_COUNTS, etl_runs=1, loaded_objects=101, rejects=0)
    for table, rows in report["samples"].items():
        expected = table_rows[table] if table in table_rows else int(loaded.scalar(f"SELECT COUNT(*) FROM {table}"))
        assert len(rows) == min(3, expected), table
    time_row = report["samples"]["time"][0]
    assert set(time_row) == {"start_time", "hour", "day", "week", "month", "year", "weekday"}
    assert time_row["start_time"].startswith("2018-11-")  # timestamps as ISO 8601 text


def test_missing_tables_name_create_tables(embedded: Warehouse) -> None:
    proc = embedded.run("check_data.py", check=False)
    error = one_line_error(proc)
    assert error.startswith("error: tables missing: etl_runs, ") and error.endswith("; run: python create_tables.py")
    assert proc.stdout == ""


def test_help_describes_every_option() -> None:
    script = str(ROOT / "check_data.py")
    proc = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for option in ("--config PATH", "--json", "--repeat N", "--sample N", "--verbose"):
        assert option in proc.stdout
    proc = subprocess.run([sys.executable, script, "--repeat", "-1"], capture_output=True, text=True)
    assert proc.returncode == 2 and "at least 0" in proc.stderr


def test_the_default_report_fits_the_terminal_and_shows_progress(loaded: Warehouse) -> None:
    """Within COLUMNS characters a line (the details: --verbose, --json); --repeat 0 times nothing;
    progress on stderr."""
    proc = loaded.run("check_data.py", "--repeat", "0", env={"COLUMNS": "80"})
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Checks: {len(ALL_CHECKS)} passed, 0 failed"
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert "Analytics queries" not in proc.stdout and " of a sample" not in proc.stdout
    assert "(sample rows of" in proc.stdout
    assert proc.stderr.startswith(f"running {len(ALL_CHECKS)} checks ...\n")
    report, _ = check_report(loaded, "--repeat", "0")
    assert report["timings"] == []


@pytest.mark.parametrize("name", ALL_CHECKS + list(sql.ANALYTICS_QUERIES))
def test_the_sql_is_plain_enough_for_redshift(name: str) -> None:
    query = sql.CHECKS[name][1] if name in sql.CHECKS else sql.ANALYTICS_QUERIES[name][1]
    for postgres_only in ("::", " FILTER (", "DISTINCT ON", "ILIKE"):
        assert postgres_only not in query.upper()
    sqlglot.parse_one(sql.CHECK_COUNT.format(check=query), read="redshift")


def test_etl_runs_the_checks_when_asked_and_records_the_outcome(embedded: Warehouse, tmp_path: Path) -> None:
    embedded.run("create_tables.py")
    embedded.settings["ETL"]["RUN_CHECKS"] = "true"
    proc = embedded.load(SAMPLE / "log_data", SAMPLE / "song_data")
    assert proc.stdout.rstrip().endswith(f"checks: all {len(ALL_CHECKS)} passed")
    assert embedded.query("SELECT run_id, outcome, checks FROM etl_runs") == [(1, "succeeded", "passed")]
    # A fault the next run does not repair: the load still commits, the run records the failed check.
    embedded.execute("UPDATE users SET level = 'gold' WHERE user_id = 80")
    proc = embedded.load(SAMPLE / "log_data", SAMPLE / "song_data", check=False)
    assert one_line_error(proc) == (
        f"error: run 2 loaded, but 1 of {len(ALL_CHECKS)} checks failed: accepted_users_level"
        " (details: python check_data.py)")
    assert embedded.query("SELECT run_id, outcome, checks FROM etl_runs ORDER BY run_id") == [
        (1, "succeeded", "passed"), (2, "succeeded", "failed")]


def test_a_logged_out_play_is_a_songplay_without_a_user_and_passes_the_checks(embedded: Warehouse,
                                                                              tmp_path: Path) -> None:
    """DESIGN.md: one songplay per NextSong event, and an empty user id is a logged-out visitor,
    not a user. So the play loads with a NULL user_id, users gains no row, and the checks pass."""
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    logs.mkdir()
    songs.mkdir()
    day = (SAMPLE / "log_data/2018/11/2018-11-30-events.json").read_text().splitlines()[:3]
    logged_out = {"artist": "Elena", "auth": "Logged Out", "firstName": None, "gender": None, "itemInSession": 19,
                  "lastName": None, "length": 269.58322, "level": "paid", "location": None, "method": "PUT",
                  "page": "NextSong", "registration": None, "sessionId": 99049, "song": "Setanta matins",
                  "status": 200, "ts": 1543544407796, "userAgent": None, "userId": ""}
    (logs / "2018-11-30-events.json").write_text("\n".join([*day, json.dumps(logged_out)]) + "\n")
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    users = {int(json.loads(line)["userId"]) for line in day if json.loads(line)["userId"]}
    assert embedded.query("SELECT user_id FROM users ORDER BY 1") == [(u,) for u in sorted(users)]
    assert embedded.query("SELECT user_id, level, session_id, item_in_session FROM songplays"
                          " WHERE session_id = 99049") == [(None, "paid", 99049, 19)]
    report, proc = check_report(embedded)
    assert proc.returncode == 0, proc.stderr
    assert failed_checks(report) == {}


def test_the_model_read_from_the_ddl_is_what_the_server_creates(warehouse: Warehouse) -> None:
    """model_problems compares the catalog with the model read from the DDL (nothing created to
    find out): that reading must be exactly what each server makes of the DDL."""
    warehouse.run("create_tables.py")
    with warehouse.connect() as conn, conn.cursor() as cur:
        created = catalog._columns(cur, "public")
    assert catalog.model_columns(dialects.POSTGRES) == created
    assert catalog.model_columns(dialects.REDSHIFT) == created  # Redshift's DDL differs only in its physical design


def test_a_login_that_may_only_read_can_check(postgres: Warehouse, tmp_path: Path) -> None:
    """An analyst's login with SELECT and nothing else (no CREATE, no TEMPORARY) runs check_data.py."""
    logs = tmp_path / "log_data"
    logs.mkdir()
    shutil.copy(SAMPLE / "log_data/2018/11/2018-11-30-events.json", logs)
    postgres.run("create_tables.py")
    postgres.load(logs, SAMPLE / "song_data")
    reader, db = f"dwh_reader_{os.getpid()}", postgres.dsn["dbname"]
    postgres.execute(f'CREATE ROLE {reader} LOGIN; GRANT CONNECT ON DATABASE "{db}" TO {reader};'
                     f" GRANT USAGE ON SCHEMA public TO {reader};"
                     f" GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};"
                     f' REVOKE TEMPORARY ON DATABASE "{db}" FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC')
    try:
        with psycopg2.connect(**dict(postgres.dsn, user=reader)) as conn, conn.cursor() as cur:
            for statement in ("CREATE TEMPORARY TABLE t (x INTEGER)", "CREATE TABLE t (x INTEGER)",
                              "CREATE SCHEMA s", "DELETE FROM users"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(statement)
                conn.rollback()
        postgres.settings["CLUSTER"]["DB_USER"] = reader
        report, proc = check_report(postgres)
        assert proc.returncode == 0, proc.stderr
        assert failed_checks(report) == {} and len(report["checks"]) == len(ALL_CHECKS)
        assert "warning:" not in proc.stderr  # not even a warning: the tables match the model (stderr: progress)
    finally:
        postgres.execute(f"DROP OWNED BY {reader}; DROP ROLE {reader}")
