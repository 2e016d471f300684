"""Incremental runs and --rebuild agree where records compete: a song reloaded with another title
or artist (its plays follow it), and records that share a line (a top-level array, objects
concatenated on one line), which their number in the object orders as lines order NDJSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Warehouse
from test_rerun import STAR_FINGERPRINT

DURATION = 218.93179
EVENT = {  # a real NextSong event of the sample (2018-11-15), the template of the planted ones
    "artist": "Casual", "auth": "Logged In", "firstName": "Ryan", "gender": "M", "itemInSession": 0,
    "lastName": "Smith", "length": DURATION, "level": "free", "location": "San Jose-Sunnyvale-Santa Clara, CA",
    "method": "PUT", "page": "NextSong", "registration": 1541016707796.0, "sessionId": 583,
    "song": "I Didn't Mean To", "status": 200, "ts": 1542241826796, "userAgent": "Mozilla/5.0", "userId": "26",
}
FINGERPRINT = dict(
    STAR_FINGERPRINT,
    app_events="SELECT md5(string_agg(a::text, '|' ORDER BY session_id, item_in_session, start_time))"
               " FROM app_events a",
)


def song(song_id: str, title: str, artist_id: str, year: int = 0) -> dict[str, Any]:
    return {"num_songs": 1, "artist_id": artist_id, "artist_latitude": None, "artist_longitude": None,
            "artist_location": "California - LA", "artist_name": "Casual", "song_id": song_id, "title": title,
            "duration": DURATION, "year": year}


def play(item: int, title: str, **fields: Any) -> dict[str, Any]:
    return dict(EVENT, itemInSession=item, ts=EVENT["ts"] + item * 1000, song=title, **fields)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ndjson(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def fingerprint(wh: Warehouse) -> dict[str, object]:
    return {table: wh.scalar(query) for table, query in FINGERPRINT.items()}


def assert_rebuild_changes_nothing(wh: Warehouse, logs: Path, songs: Path) -> None:
    before = fingerprint(wh)
    wh.load(logs, songs, "--rebuild")
    assert fingerprint(wh) == before


def test_a_song_reloaded_with_another_title_and_artist_takes_its_plays_along(embedded: Warehouse,
                                                                             tmp_path: Path) -> None:
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    write(songs / "A/TRAAAOLD.json", json.dumps(song("SOSEMANTIC0000001", "Old Title", "ARFIRST0000000001")))
    write(logs / "2018/11/2018-11-15-events.json",
          ndjson([play(0, "Old Title"), play(1, "Old Title"), play(2, "New Title")]))
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    assert embedded.query("SELECT item_in_session, song_id, artist_id FROM songplays ORDER BY 1") == [
        (0, "SOSEMANTIC0000001", "ARFIRST0000000001"), (1, "SOSEMANTIC0000001", "ARFIRST0000000001"),
        (2, None, None)]

    # The same song_id staged again, now titled and credited otherwise, with a play of each title.
    write(songs / "B/TRAAANEW.json", json.dumps(song("SOSEMANTIC0000001", "New Title", "ARSECOND000000002")))
    write(logs / "2018/11/2018-11-16-events.json", ndjson([play(3, "Old Title"), play(4, "New Title")]))
    embedded.load(logs, songs)
    assert embedded.query("SELECT song_id, title, artist_id FROM songs") == [
        ("SOSEMANTIC0000001", "New Title", "ARSECOND000000002")]
    # Every play names a text the song was staged with: all are its plays, credited to its artist now.
    assert embedded.query("SELECT item_in_session, song_id, artist_id FROM songplays ORDER BY 1") == [
        (item, "SOSEMANTIC0000001", "ARSECOND000000002") for item in range(5)]
    assert embedded.scalar("SELECT COUNT(*) FROM unmatched_plays") == 0
    assert_rebuild_changes_nothing(embedded, logs, songs)


def test_records_sharing_a_line_are_ordered_by_their_number_in_the_object(embedded: Warehouse,
                                                                           tmp_path: Path) -> None:
    """The latest loaded copy of a song wins, the first loaded copy of an event, and a user's level
    is their latest event's: in an array and in concatenated objects as in NDJSON, where each
    record has its own line."""
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    versions = {layout: [song(f"SO{layout.upper():0<16}", f"{layout} first", "ARSEMANTIC0000001", 2001),
                         song(f"SO{layout.upper():0<16}", f"{layout} last", "ARSEMANTIC0000001", 2002)]
                for layout in ("array", "ndjson", "concat")}
    write(songs / "A/array.json", json.dumps(versions["array"]))  # one line: [{...}, {...}]
    write(songs / "A/ndjson.json", ndjson(versions["ndjson"]))
    write(songs / "A/concat.json", "".join(json.dumps(s) for s in versions["concat"]) + "\n")
    # Two copies of one event (the same session, item and ts) and two events of one user at one ts.
    copies = [play(0, "x", location="First, CA"), play(0, "x", location="Second, CA")]
    same_time = [play(1, "x", level="free", userId="27"), dict(play(1, "x", level="paid", userId="27"),
                                                               itemInSession=2)]
    write(logs / "2018/11/2018-11-15-events.json", json.dumps(copies + same_time))
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    assert embedded.query("SELECT title, year FROM songs ORDER BY title") == [
        ("array last", 2002), ("concat last", 2002), ("ndjson last", 2002)]
    assert embedded.query("SELECT source_line, source_record FROM staging_songs s JOIN loaded_objects o"
                          " USING (object_id) WHERE o.object_key LIKE '%%array.json' ORDER BY 2") == [
        (None, 1), (None, 2)]
    assert embedded.query("SELECT location FROM songplays WHERE item_in_session = 0") == [("First, CA",)]
    assert embedded.query("SELECT location FROM app_events WHERE item_in_session = 0") == [("First, CA",)]
    assert embedded.query("SELECT level FROM users WHERE user_id = 27") == [("paid",)]
    assert_rebuild_changes_nothing(embedded, logs, songs)
