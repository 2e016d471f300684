"""Generated data with every behaviour planted (upgrades, downgrades, cancellations, a rising
song), loaded in batches that arrive out of order, gives the analytics layer a single load gives,
and a rebuild gives it again: each run recomputes its keys from its own days only (a known
user's level history from the period in force before their first new event)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Warehouse
from test_analytics import FINGERPRINT

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import sql_queries as sql

PLANTED = ["--plant", "--days", "28", "--users", "120", "--songs", "250", "--events", "24000", "--seed", "5"]
# Day batches as they arrive: a week, a later fortnight, the week between (late), then the last days
# with one of them again under another name (the same events twice).
BATCHES = [range(1, 8), range(15, 26), range(8, 15), range(26, 29)]


def layer_fingerprint(wh: Warehouse) -> dict[str, object]:
    """Every analytics table row by row (app_events without the run that staged an event, which
    differs between an incremental and a single load), and songplays without songplay_id (the
    load order numbers it)."""
    prints = {table: wh.scalar(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t")
              for table in sql.ANALYTICS_TABLES if table != "app_events"}
    prints["app_events"] = wh.scalar(FINGERPRINT["app_events"])
    prints["songplays"] = wh.scalar(
        "SELECT md5(string_agg(concat_ws(',', start_time, user_id, level, song_id, artist_id, session_id,"
        " item_in_session, location, user_agent), '|' ORDER BY session_id, item_in_session, start_time))"
        " FROM songplays")
    return prints | {f"{t} rows": wh.scalar(f"SELECT COUNT(*) FROM {t}") for t in sql.ANALYTICS_TABLES}


def test_out_of_order_batches_a_single_load_and_a_rebuild_agree(embedded: Warehouse, tmp_path: Path) -> None:
    data = tmp_path / "planted"
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(data), *PLANTED, "--force"],
                   check=True, capture_output=True, text=True)
    days = sorted((data / "log_data").rglob("*-events.json"))
    assert len(days) == 28
    embedded.run("create_tables.py")
    embedded.load(data / "log_data", data / "song_data")
    single = layer_fingerprint(embedded)
    assert single["user_levels rows"] > 120  # upgrades, downgrades and cancellations make periods

    embedded.run("create_tables.py", "--drop", "--yes")
    logs = tmp_path / "arriving"
    for batch in BATCHES:
        for day in batch:
            target = logs / days[day - 1].relative_to(data / "log_data")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(days[day - 1], target)
        embedded.load(logs, data / "song_data")
    shutil.copy(days[26], logs / "again-events.json")
    embedded.load(logs, data / "song_data")
    assert layer_fingerprint(embedded) == single
    embedded.run("etl.py", "--rebuild")
    assert layer_fingerprint(embedded) == single


def _song(song_id: str, title: str, artist: str, duration: float) -> str:
    return json.dumps({"num_songs": 1, "artist_id": f"AR{song_id[2:]}", "artist_latitude": None,
                       "artist_longitude": None, "artist_location": "", "artist_name": artist, "song_id": song_id,
                       "title": title, "duration": duration, "year": 0})


def _play(user: int, session: int, item: int, ts: int, song: str, artist: str, length: float) -> str:
    return json.dumps({"artist": artist, "auth": "Logged In", "firstName": "A", "gender": "F", "itemInSession": item,
                       "lastName": "B", "length": length, "level": "free", "location": "Tulsa, OK", "method": "PUT",
                       "page": "NextSong", "registration": 1540000000000, "sessionId": session, "song": song,
                       "status": 200, "ts": ts, "userAgent": "Mozilla/5.0", "userId": str(user)})


NOV_1, NOV_2 = 1541030400000, 1541116800000  # midnight UTC, in epoch milliseconds
SONG_TOTALS = "SELECT song, artist, song_id, plays FROM song_totals ORDER BY song, artist"


def test_song_totals_kept_as_a_delta_follow_late_plays_and_late_songs(embedded: Warehouse, tmp_path: Path) -> None:
    """song_totals adds each run's plays per text, and derives a text's song_id again where the
    run changed one of its song-days that was there (a late play of an old day that matches a
    smaller song_id) or staged a song of its text (a late song): as a rebuild sums song_days."""
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    (logs / "2018/11").mkdir(parents=True)
    (songs / "A/B").mkdir(parents=True)
    # One text, two durations: SOB matches 100 s, the smaller SOA matches 200 s.
    (songs / "A/B/TRB.json").write_text(_song("SOBBBBBBBBBBBBBBB1", "Tide", "Xu", 100.0))
    (songs / "A/B/TRA.json").write_text(_song("SOAAAAAAAAAAAAAAA1", "Tide", "Xu", 200.0))
    (logs / "2018/11/2018-11-01-events.json").write_text("\n".join([
        _play(7, 1, 0, NOV_1 + 1000, "Tide", "Xu", 100.0),
        _play(7, 1, 1, NOV_1 + 2000, "Tide", "Xu", 100.0),
        _play(7, 1, 2, NOV_1 + 3000, "Umber", "Yo", 50.0),  # no song yet
    ]) + "\n")
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    assert embedded.query(SONG_TOTALS) == [("Tide", "Xu", "SOBBBBBBBBBBBBBBB1", 2), ("Umber", "Yo", None, 1)]

    # A late file for the same day: Tide's day now matches SOA too (its smallest), so the text's
    # song_id falls to SOA although the kept SOB is larger; a new day brings a new text.
    (logs / "2018/11/2018-11-01-late-events.json").write_text("\n".join([
        _play(8, 2, 0, NOV_1 + 5000, "Tide", "Xu", 200.0),
        _play(8, 2, 1, NOV_1 + 6000, "Umber", "Yo", 50.0),
    ]) + "\n")
    (logs / "2018/11/2018-11-02-events.json").write_text(_play(8, 3, 0, NOV_2 + 1000, "Vale", "Zed", 10.0) + "\n")
    embedded.load(logs, songs)
    assert embedded.query(SONG_TOTALS) == [
        ("Tide", "Xu", "SOAAAAAAAAAAAAAAA1", 3), ("Umber", "Yo", None, 2), ("Vale", "Zed", None, 1)]

    # A late song for Umber, and a play of a new day for Tide with the larger match: the largest
    # of its days' song_id (SOB on Nov 2, SOA on Nov 1) is SOB again.
    (songs / "A/B/TRC.json").write_text(_song("SOCCCCCCCCCCCCCCC1", "Umber", "Yo", 50.0))
    (logs / "2018/11/2018-11-02-more-events.json").write_text(
        _play(9, 4, 0, NOV_2 + 9000, "Tide", "Xu", 100.0) + "\n")
    embedded.load(logs, songs)
    expected = [("Tide", "Xu", "SOBBBBBBBBBBBBBBB1", 4), ("Umber", "Yo", "SOCCCCCCCCCCCCCCC1", 2),
                ("Vale", "Zed", None, 1)]
    assert embedded.query(SONG_TOTALS) == expected
    report = json.loads(embedded.run("check_data.py", "--json", "--repeat", "1", "--sample", "0").stdout)
    assert [c["name"] for c in report["checks"] if not c["passed"]] == []
    embedded.run("etl.py", "--rebuild")
    assert embedded.query(SONG_TOTALS) == expected
