"""A run costs what is new: it finds its own rows, a song by its text and the plays a late song
matches through indexes (asserted on the plans, not on timings), and stays exact while doing so:
late songs fill in earlier plays, the smallest song_id wins as in a rebuild, a rebuild equals the
incremental runs, and a listing skips only the folders that did not change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, Warehouse, _embedded_warehouse
from test_rerun import STAR_FINGERPRINT

import sql_queries as sql
from sparkify_dwh import settings as dwh_settings
from sparkify_dwh import warehouse as dwh_warehouse

DAYS = 20
HELD_BACK = 40  # song files that arrive only with the last day, after many of their plays
MATCH_FINGERPRINT = dict(  # the star schema's, and the matching tables this change adds
    STAR_FINGERPRINT,
    song_lookup="SELECT md5(string_agg(l::text, '|' ORDER BY title, artist_name, duration)) FROM song_lookup l",
    unmatched_plays="SELECT md5(string_agg(u::text, '|' ORDER BY session_id, item_in_session, start_time))"
                    " FROM unmatched_plays u",
)
PLAY_SONGS = """
SELECT session_id, item_in_session, CAST(ROUND(EXTRACT(epoch FROM start_time) * 1000) AS BIGINT), song_id, artist_id
FROM songplays
"""


@dataclass
class Grown:
    """A warehouse loaded in two runs: days 1..19 without some songs, then day 20 with them."""

    wh: Warehouse
    data: Path  # the generated data set (all of it)
    logs: Path  # the folder the warehouse loads events from
    songs: Path  # ... and songs from


def generate(out: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(out), "--events", "40000", "--songs", "3000",
                    "--users", "300", "--days", str(DAYS)], check=True, capture_output=True)


def age_folders(root: Path, seconds: float = 3600) -> None:
    """Folders last changed an hour ago: a listing records them (a folder changed within the last
    seconds is not recorded, see sources.KnownFolders)."""
    past = time.time() - seconds
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(folder, (past, past))


@pytest.fixture(scope="module")
def grown(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grown]:
    work = tmp_path_factory.mktemp("incremental")
    data = work / "data"
    generate(data)
    logs, songs, held = work / "log_data", work / "song_data", work / "held"
    days = sorted((data / "log_data").rglob("*-events.json"))
    for day in days[:-1]:
        target = logs / day.relative_to(data / "log_data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(day, target)
    shutil.copytree(data / "song_data", songs)
    held.mkdir()
    for path in sorted(songs.rglob("*.json"))[:HELD_BACK]:
        shutil.move(path, held / path.name)
    age_folders(logs)
    age_folders(songs)
    warehouses = _embedded_warehouse(embedded_server, work, f"t_incremental_{os.getpid()}")
    wh = next(warehouses)
    wh.settings["S3"] = {"LOG_DATA": str(logs), "SONG_DATA": str(songs)}
    wh.run("create_tables.py")
    wh.load(logs, songs)
    for path in held.iterdir():  # the late songs, back where they belong
        record = json.loads(path.read_text())
        target = next(p for p in (data / "song_data").rglob(path.name)).relative_to(data / "song_data")
        shutil.move(path, songs / target)
        assert record["song_id"]
    last = days[-1]
    shutil.copy(last, logs / last.relative_to(data / "log_data"))
    age_folders(logs, 1800)  # changed since the first load (another time), and not within RACY_NS of
    age_folders(songs, 1800)  # the next listing however fast it starts: that listing records them
    proc = wh.load(logs, songs)
    assert f"1 event and {HELD_BACK} song objects" in proc.stdout
    yield Grown(wh, data, logs, songs)
    next(warehouses, None)


def expected_song_ids(data: Path) -> dict[tuple[int, int, int], str | None]:
    """Each NextSong event's song, computed from the files: the smallest song_id whose title, artist
    name and duration equal the event's song, artist and length."""
    smallest: dict[tuple[str, str, float], str] = {}
    for path in (data / "song_data").rglob("*.json"):
        song = json.loads(path.read_text())
        key = (song["title"], song["artist_name"], song["duration"])
        if song["artist_name"] is not None and song["duration"] is not None:
            smallest[key] = min(smallest.get(key, song["song_id"]), song["song_id"])
    plays: dict[tuple[int, int, int], str | None] = {}
    for path in sorted((data / "log_data").rglob("*.json")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["page"] == "NextSong":
                identity = (int(event["sessionId"]), int(event["itemInSession"]), int(event["ts"]))
                plays.setdefault(identity, smallest.get((event["song"], event["artist"], event["length"])))
    return plays


def test_late_songs_fill_in_earlier_plays(grown: Grown) -> None:
    expected = expected_song_ids(grown.data)
    rows = grown.wh.query(PLAY_SONGS)
    assert {(s, i, ts): song for s, i, ts, song, _ in rows} == expected
    matched = sum(song is not None for song in expected.values())
    assert 0 < matched < len(expected)
    # every play without a song is in unmatched_plays, and nothing else is
    assert grown.wh.scalar("SELECT COUNT(*) FROM unmatched_plays") == sum(
        song is None for song in expected.values())
    assert grown.wh.scalar("""
        SELECT COUNT(*) FROM unmatched_plays u
        JOIN songplays p USING (session_id, item_in_session, start_time) WHERE p.song_id IS NOT NULL""") == 0
    # the plays of the late songs: played before they arrived, matched now, with their artist
    late = grown.wh.query("""
        SELECT COUNT(*), COUNT(DISTINCT p.song_id), COUNT(*) FILTER (WHERE p.artist_id = s.artist_id)
        FROM songplays p JOIN songs s USING (song_id)
        WHERE p.song_id IN (SELECT song_id FROM staging_songs WHERE run_id = 2)
          AND p.start_time < (SELECT MIN(TIMESTAMP 'epoch' + ts * INTERVAL '1 millisecond')
                              FROM staging_events WHERE run_id = 2)""")[0]
    assert late[2] == late[0]
    assert late[0] > HELD_BACK / 2 and late[1] > HELD_BACK / 4


def plan_nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


PERMANENT = set(sql.TABLES)


def run_plans(wh: Warehouse, since_run: int, settings: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """The plan of every transform statement for one run's records, as the run would meet them
    (its temporary tables made in order), in a transaction that is rolled back."""
    names = {id(value): name for name, value in vars(sql).items() if isinstance(value, str)}
    plans = {}
    conn = wh.connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for statement in (*sql.POSTGRES_SESSION_SETTINGS, *settings):
                cur.execute(statement)
            for statement in sql.transform_queries:
                params = {"since_run": since_run}
                if statement.lstrip().upper().startswith("DROP"):
                    cur.execute(statement)
                    continue
                creates = statement.lstrip().upper().startswith("CREATE TEMPORARY TABLE")
                query = statement[statement.index(" AS\n") + 4:] if creates else statement
                cur.execute("EXPLAIN (FORMAT JSON) " + query, params)
                plans[names[id(statement)]] = list(plan_nodes(cur.fetchone()[0][0]["Plan"]))
                if creates:
                    cur.execute(statement, params)
    finally:
        conn.rollback()
        conn.close()
    return plans


def test_every_lookup_of_a_run_has_an_index_to_answer_it(grown: Grown) -> None:
    """With sequential scans priced out, no per-run statement still reads a warehouse table whole:
    an index can answer every lookup, however big the warehouse (which plan is cheapest at a
    given size is the planner's call; at this test's size hash joins of small tables may win)."""
    plans = run_plans(grown.wh, since_run=2, settings=("SET enable_seqscan = off",))
    for name, nodes in plans.items():
        whole = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"} & PERMANENT
        if name in ("SONGPLAYS_REMATCH_BETTERED", "SONGPLAYS_FOLLOW_REARTISTED"):
            # a text staged again with a smaller song_id, a song reloaded with another artist:
            # rare, and songplays is read only then
            assert whole == {"songplays"} and any("One-Time Filter" in n for n in nodes)
        else:
            assert not whole, (name, whole)
    for name, table in (("RUN_PLAYS", "app_events"), ("USER_CANDIDATES", "staging_events"),
                        ("RUN_SONG_KEYS", "staging_songs"), ("SONGS_INSERT", "staging_songs")):
        assert f"{table}_run" in {n.get("Index Name") for n in plans[name]}, name
    late = plans["SONGPLAYS_MATCH_LATE_SONGS"]
    assert {n.get("Index Name") for n in late} >= {"unmatched_plays_pkey", "songs_pkey",
                                                    "songplays_session_id_item_in_session_start_time_key"}
    assert "song_lookup_pkey" in {n.get("Index Name") for n in plans["RUN_PLAYS"]}


def test_a_run_reads_only_its_own_pages_of_staging(grown: Grown) -> None:
    """The BRIN index on run_id answers for the run's pages only: the new pages are summarized
    after staging (COPY leaves them unsummarized, and an unsummarized range matches any run)."""
    pages = grown.wh.scalar("SELECT relpages FROM pg_class WHERE relname = 'staging_events'")
    query = sql.USER_CANDIDATES[sql.USER_CANDIDATES.index(" AS\n") + 4:]
    with grown.wh.connect() as conn, conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, {"since_run": 2})
        nodes = list(plan_nodes(cur.fetchone()[0][0]["Plan"]))
    conn.close()
    heap = next(n for n in nodes if n["Node Type"] == "Bitmap Heap Scan")
    read = heap.get("Exact Heap Blocks", 0) + heap.get("Lossy Heap Blocks", 0)
    assert 0 < read <= pages / 4, (read, pages)


def test_a_run_with_nothing_new_changes_nothing_and_lists_no_file(grown: Grown) -> None:
    sys.path.insert(0, str(ROOT))
    from sparkify_dwh import load, targets

    before = {t: grown.wh.scalar(q) for t, q in MATCH_FINGERPRINT.items()}
    proc = grown.wh.load(grown.logs, grown.songs)
    assert "0 event and 0 song objects" in proc.stdout
    assert {t: grown.wh.scalar(q) for t, q in MATCH_FINGERPRINT.items()} == before
    # the folders the runs recorded: a listing now stats no file at all
    cfg = dwh_settings.load_config(grown.wh.write_config())
    conn = dwh_warehouse.connect(cfg)
    try:
        with conn.cursor() as cur:
            known = targets.known_folders(cur, run_id=1, full=False)
            assert len(known["songs"].recorded) > 100
            assert list(load.list_sources(cfg, known)) == []
            full = targets.known_folders(cur, run_id=1, full=True)
            assert len(list(load.list_sources(cfg, full))) == 3000 + DAYS
    finally:
        conn.close()


def test_a_file_rewritten_in_place_loads_on_a_full_listing(grown: Grown) -> None:
    day = sorted(grown.logs.rglob("*-events.json"))[0]
    first = json.loads(day.read_text().splitlines()[0])
    added = dict(first, ts=first["ts"] + 1, itemInSession=9999, page="NextSong")
    recorded = grown.wh.scalar("SELECT mtime_ns FROM listed_folders WHERE folder = %s", (str(day.parent),))
    with day.open("a") as f:  # in place: the folder's entries, and so its time, stay the same
        f.write(json.dumps(added) + "\n")
    assert day.parent.stat().st_mtime_ns == recorded
    assert "0 event and 0 song objects" in grown.wh.load(grown.logs, grown.songs).stdout
    proc = grown.wh.run("etl.py", "--full-listing")
    assert "1 event and 0 song objects" in proc.stdout
    assert grown.wh.scalar("SELECT COUNT(*) FROM songplays WHERE item_in_session = 9999") == 1


def test_a_smaller_song_id_for_the_same_text_takes_over_its_plays(grown: Grown) -> None:
    song_id, artist_id, title, artist, duration, plays = grown.wh.query("""
        SELECT s.song_id, s.artist_id, s.title, l.artist_name, s.duration, COUNT(*)
        FROM songplays p JOIN songs s USING (song_id)
        JOIN song_lookup l ON l.song_id = s.song_id
        GROUP BY 1, 2, 3, 4, 5 ORDER BY COUNT(*) DESC, s.song_id LIMIT 1""")[0]
    twin = {"num_songs": 1, "artist_id": "ARTWIN00000000000001", "artist_latitude": None, "artist_longitude": None,
            "artist_location": "", "artist_name": artist, "song_id": "SOAAAAAAAAAAAAAAA0", "title": title,
            "duration": duration, "year": 0}
    assert twin["song_id"] < song_id
    target = grown.songs / "A/A/A/TRAAAAATWIN0000000.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(twin))
    grown.wh.load(grown.logs, grown.songs)
    assert grown.wh.query("SELECT song_id, artist_id, COUNT(*) FROM songplays WHERE song_id IN (%s, %s)"
                          " GROUP BY 1, 2", (song_id, twin["song_id"])) == [(twin["song_id"], twin["artist_id"], plays)]
    assert artist_id != twin["artist_id"]


def test_a_rebuild_equals_the_incremental_runs(grown: Grown) -> None:
    before = {t: grown.wh.scalar(q) for t, q in MATCH_FINGERPRINT.items()}
    counts = {t: grown.wh.scalar(f"SELECT COUNT(*) FROM {t}") for t in MATCH_FINGERPRINT}
    grown.wh.run("etl.py", "--rebuild")
    assert {t: grown.wh.scalar(f"SELECT COUNT(*) FROM {t}") for t in MATCH_FINGERPRINT} == counts
    assert {t: grown.wh.scalar(q) for t, q in MATCH_FINGERPRINT.items()} == before
