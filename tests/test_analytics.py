"""The analytics layer on real warehouses: on the real sample every table equals what plain Python
computes from the raw JSON files; level history follows upgrades, ties and cancellations; an
incremental load, a single load and a rebuild give the same tables; an existing warehouse gets
the layer from create_tables.py and the next etl.py run fills it from staging."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE, Warehouse, _warehouse_of_kind, raw_events
from test_rerun import copy_sample

import sql_queries as sql
from sparkify_dwh import analytics, staging

EPOCH = dt.datetime(1970, 1, 1)
TABLES = sql.ANALYTICS_TABLES

# Every analytics table, row by row, as one checksum; app_events with and without run_id (which
# run staged an event differs between an incremental and a single load, never its content).
FINGERPRINT = {
    "app_events": "SELECT md5(string_agg(concat_ws(',', start_time, event_date, user_id, session_id, item_in_session,"
                  " page, auth, level, method, status, location, user_agent, song, artist, length, registration),"
                  " '|' ORDER BY session_id, item_in_session, start_time)) FROM app_events",
    "user_levels": "SELECT md5(string_agg(t::text, '|' ORDER BY user_id, valid_from)) FROM user_levels t",
    "devices": "SELECT md5(string_agg(t::text, '|' ORDER BY user_agent)) FROM devices t",
    "user_days": "SELECT md5(string_agg(t::text, '|' ORDER BY user_id, activity_date)) FROM user_days t",
    "user_sessions": "SELECT md5(string_agg(t::text, '|' ORDER BY user_id, session_id)) FROM user_sessions t",
    "song_days": "SELECT md5(string_agg(t::text, '|' ORDER BY activity_date, song, artist)) FROM song_days t",
    "hour_plays": "SELECT md5(string_agg(t::text, '|' ORDER BY activity_date, hour)) FROM hour_plays t",
}
RUN_IDS = "SELECT md5(string_agg(run_id::text, ',' ORDER BY session_id, item_in_session, start_time)) FROM app_events"


def fingerprint(wh: Warehouse, *, run_ids: bool = False) -> dict[str, Any]:
    prints = {table: wh.scalar(query) for table, query in FINGERPRINT.items()}
    counts = {f"{t} rows": wh.scalar(f"SELECT COUNT(*) FROM {t}") for t in TABLES}
    return prints | counts | ({"run_ids": wh.scalar(RUN_IDS)} if run_ids else {})


# --------------------------------------------------------------------------- plain Python over the raw files


def in_order(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["start"], e["sessionId"], e["itemInSession"])


def expected_levels(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Type-2 periods, by the contract: a period starts at a user's first event, at a change of
    level and after a Cancellation Confirmation (which closes its period)."""
    rows = []
    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["user"] is not None and e.get("level") is not None:
            by_user[e["user"]].append(e)
    for user, evs in sorted(by_user.items()):
        periods: list[list[Any]] = []  # [level, from, closed_at]
        previous = None
        for e in sorted(evs, key=in_order):
            if previous is None or e["level"] != previous["level"] or previous["page"] == "Cancellation Confirmation":
                periods.append([e["level"], e["start"], None])
            if e["page"] == "Cancellation Confirmation":
                periods[-1][2] = e["start"]
            previous = e
        kept: list[list[Any]] = []  # [level, from, to, closed by a cancellation]
        for i, (level, start, closed) in enumerate(periods):
            end = closed or (periods[i + 1][1] if i + 1 < len(periods) else None)
            if end is not None and end <= start:
                continue  # a period of no length
            if kept and kept[-1][0] == level and not kept[-1][3] and kept[-1][2] == start:
                kept[-1][2], kept[-1][3] = end, closed is not None  # one period: no paid -> paid
            else:
                kept.append([level, start, end, closed is not None])
        rows += [(user, level, start, end) for level, start, end, _ in kept]
    return rows


PAGE_COLUMNS = {"Thumbs Up": "thumbs_up", "Thumbs Down": "thumbs_down", "Add to Playlist": "add_to_playlist",
                "Add Friend": "add_friend", "Roll Advert": "adverts", "Error": "errors", "Help": "help",
                "Submit Upgrade": "upgrades", "Submit Downgrade": "downgrades",
                "Cancellation Confirmation": "cancellations"}


def expected_user_days(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[int, dt.date], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["user"] is not None:
            groups[(e["user"], e["start"].date())].append(e)
    rows = []
    for (user, day), evs in sorted(groups.items()):
        evs.sort(key=in_order)
        plays = [e for e in evs if e["page"] == "NextSong"]
        pages = Counter(e["page"] for e in evs)
        registrations = [e["registration"] for e in evs if e.get("registration") is not None]
        rows.append((user, day, evs[-1]["level"], len(evs), len(plays), len({e["sessionId"] for e in evs}),
                     round(sum(e["length"] for e in plays if e["length"] is not None), 6),
                     *(pages[page] for page in PAGE_COLUMNS), evs[0]["start"], evs[-1]["start"],
                     EPOCH + dt.timedelta(milliseconds=min(registrations)) if registrations else None))
    return rows


def expected_sessions(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["user"] is not None:
            groups[(e["user"], e["sessionId"])].append(e)
    rows = []
    for (user, session), evs in sorted(groups.items()):
        evs.sort(key=in_order)
        ends = [e["start"] + dt.timedelta(milliseconds=round(e["length"] * 1000))  # a song ends when it ends
                if e["page"] == "NextSong" and e["length"] is not None else e["start"] for e in evs]
        rows.append((user, session, evs[0]["start"], max(ends), len(evs),
                     sum(e["page"] == "NextSong" for e in evs), evs[-1]["level"]))
    return rows


def song_matches(folder: Path = SAMPLE / "song_data") -> dict[tuple[str, str, float], str]:
    matches: dict[tuple[str, str, float], str] = {}
    for path in folder.rglob("*.json"):
        s = json.loads(path.read_text())
        key = (staging.repair_text(s["title"]), staging.repair_text(s["artist_name"] or ""), s["duration"])
        matches[key] = min(matches.get(key, s["song_id"]), s["song_id"])
    return matches


def expected_song_days(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    matches = song_matches()
    groups: dict[tuple[dt.date, str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["page"] == "NextSong" and e["song"] is not None and e["artist"] is not None:
            groups[(e["start"].date(), e["song"], e["artist"])].append(e)
    rows = []
    for (day, song, artist), evs in sorted(groups.items()):
        ids = [matches[(song, artist, e["length"])] for e in evs if (song, artist, e["length"]) in matches]
        rows.append((day, song, artist, min(ids) if ids else None, len(evs),
                     len({e["user"] for e in evs if e["user"] is not None})))
    return rows


def expected_hour_plays(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    plays = Counter((e["start"].date(), e["start"].hour) for e in events if e["page"] == "NextSong")
    return [(day, hour, day.isoweekday(), n) for (day, hour), n in sorted(plays.items())]


def user_days_rows(wh: Warehouse) -> list[tuple[Any, ...]]:
    rows = wh.query("SELECT * FROM user_days ORDER BY user_id, activity_date")
    return [(*r[:6], round(r[6], 6), *r[7:]) for r in rows]


# --------------------------------------------------------------------------- the real sample, loaded once per target


class LoadedSamples:
    """The real sample loaded at most once into each kind of PostgreSQL, for read-only use: a copy
    of the session's loaded template (conftest.SampleTemplates)."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.request, self.tmp_path_factory = request, tmp_path_factory
        self.loaded: dict[str, tuple[Warehouse, Iterator[Warehouse]]] = {}

    def get(self, kind: str) -> Warehouse:
        if kind not in self.loaded:
            name = f"t_analytics_sample_{kind}_{os.getpid()}"
            workdir = self.tmp_path_factory.mktemp(name)
            databases = _warehouse_of_kind(self.request, kind, workdir, name)
            wh = next(databases)
            self.loaded[kind] = (wh, databases)
            self.request.getfixturevalue("sample_templates").copy_into(wh)
        return self.loaded[kind][0]

    def drop(self) -> None:
        for _, databases in self.loaded.values():
            next(databases, None)


@pytest.fixture(scope="module")
def samples(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedSamples]:
    loaded = LoadedSamples(request, tmp_path_factory)
    yield loaded
    loaded.drop()


@pytest.fixture(params=["embedded", "postgres"])
def sample(request: pytest.FixtureRequest, samples: LoadedSamples) -> Warehouse:
    return samples.get(request.param)


@pytest.fixture
def embedded_sample(samples: LoadedSamples) -> Warehouse:
    return samples.get("embedded")


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return raw_events()


def test_app_events_hold_every_event_of_every_page_once(sample: Warehouse, events: list[dict[str, Any]]) -> None:
    raw = [json.loads(line) for path in sorted((SAMPLE / "log_data").rglob("*.json"))
           for line in path.read_text().splitlines() if line.strip()]
    identities = {(e["sessionId"], e["itemInSession"], e["ts"]) for e in raw}
    assert len(raw) == 8056 and sample.scalar("SELECT COUNT(*) FROM app_events") == len(identities)
    pages = Counter(e["page"] for e in raw)
    assert dict(sample.query("SELECT page, COUNT(*) FROM app_events GROUP BY page")) == pages
    assert len(pages) > 10 and pages["NextSong"] == 6820
    logged_out = sum(e["userId"] == "" for e in raw)
    assert sample.scalar("SELECT COUNT(*) FROM app_events WHERE user_id IS NULL") == logged_out > 0
    # Every field as in the raw files, event by event (text repaired as staging repairs it).
    stored = sample.query("SELECT session_id, item_in_session, start_time, event_date, user_id, page, auth, level,"
                          " method, status, location, user_agent, song, artist, length, registration, run_id"
                          " FROM app_events ORDER BY session_id, item_in_session, start_time")
    assert stored == sorted((
        (e["sessionId"], e["itemInSession"], e["start"], e["start"].date(), e["user"], e["page"], e["auth"],
         e["level"], e["method"], e["status"], e["location"], e["userAgent"], e["song"], e["artist"], e["length"],
         int(e["registration"]) if e["registration"] is not None else None, 1)
        for e in events
    ), key=lambda row: row[:3])
    # The same NextSong identities as songplays.
    assert sample.scalar("""
        SELECT COUNT(*) FROM app_events a
        FULL JOIN songplays p ON p.session_id = a.session_id AND p.item_in_session = a.item_in_session
                             AND p.start_time = a.start_time
        WHERE (a.page = 'NextSong' OR a.page IS NULL) AND (a.session_id IS NULL OR p.session_id IS NULL)
    """) == 0


def test_user_levels_are_each_users_level_history(sample: Warehouse, events: list[dict[str, Any]]) -> None:
    expected = expected_levels(events)
    assert sample.query("SELECT user_id, level, valid_from, valid_to FROM user_levels"
                        " ORDER BY user_id, valid_from") == expected
    user_80 = [row[1:] for row in expected if row[0] == 80]
    assert [level for level, _, _ in user_80] == ["free", "paid"]  # user 80 upgrades once in the sample
    assert user_80[0][2] == user_80[1][1] and user_80[1][2] is None
    first_paid = min(e["start"] for e in events if e["user"] == 80 and e["level"] == "paid")
    assert user_80[1][1] == first_paid
    # Every user has exactly one current period, at the level users has for them.
    assert sample.query("SELECT l.user_id, l.level FROM user_levels l WHERE l.valid_to IS NULL"
                        " ORDER BY l.user_id") == sample.query("SELECT user_id, level FROM users ORDER BY user_id")


def test_user_days_and_sessions_aggregate_the_events(sample: Warehouse, events: list[dict[str, Any]]) -> None:
    expected = expected_user_days(events)
    assert user_days_rows(sample) == expected
    assert sum(row[4] for row in expected) == 6820 and sum(row[3] for row in expected) == 8056 - 286
    by_user = {(row[0], row[1]): row for row in expected}
    user_80_days = sorted(day for user, day in by_user if user == 80)
    assert sample.query("SELECT activity_date, plays FROM user_days WHERE user_id = 80 ORDER BY activity_date") == [
        (day, by_user[(80, day)][4]) for day in user_80_days]
    assert sample.query("SELECT * FROM user_sessions ORDER BY user_id, session_id") == expected_sessions(events)


def test_song_days_and_hour_plays_count_the_plays(sample: Warehouse, events: list[dict[str, Any]]) -> None:
    expected = expected_song_days(events)
    assert sample.query("SELECT * FROM song_days ORDER BY activity_date, song, artist") == expected
    assert [row[1:4] for row in expected if row[3]] == [("Setanta matins", "Elena", "SOZCTXZ12AB0182364")]
    hours = expected_hour_plays(events)
    assert sample.query("SELECT * FROM hour_plays ORDER BY activity_date, hour") == hours
    assert sample.scalar("SELECT SUM(plays) FROM hour_plays") == sum(row[3] for row in hours) == 6820


def test_devices_are_the_distinct_user_agents_parsed(sample: Warehouse, events: list[dict[str, Any]]) -> None:
    agents = {e["userAgent"] for e in events if e["userAgent"] is not None}
    rows = sample.query("SELECT * FROM devices ORDER BY user_agent")
    assert [row[0] for row in rows] == sorted(agents) and len(agents) == 40
    assert any(agent.startswith('"') for agent in agents)  # stored as in the events, quotes kept
    for agent, os_family, os_version, browser, browser_version, device_family, kind in rows:
        # What the strings say in plain words, against what ua-parser made of them.
        if "iPhone" in agent:
            assert (os_family, device_family, kind) == ("iOS", "iPhone", "mobile")
        elif "Macintosh" in agent:
            assert (os_family, device_family, kind) == ("Mac OS X", "Mac", "desktop")
            assert os_version.startswith("10.")
        elif "Windows NT" in agent:
            assert os_family.startswith("Windows") and kind == "desktop"
        else:
            assert "Linux" in agent and kind == "desktop"
        if "Firefox/" in agent:
            assert browser == "Firefox" and browser_version.split(".")[0] == agent.split("Firefox/")[1][:2]
        elif "Trident" in agent or "MSIE" in agent:
            assert browser == "IE"
        elif "Chrome/" in agent:
            assert browser in ("Chrome", "Chromium") and agent.split("Chrome/")[1].startswith(browser_version)
    by_kind = Counter(kind for *_, kind in rows)
    assert by_kind == {"desktop": 38, "mobile": 2}


def test_device_types_of_other_agents() -> None:
    tablet = "Mozilla/5.0 (iPad; CPU OS 9_1 like Mac OS X) AppleWebKit/601.1.46 (KHTML, like Gecko) Version/9.0 Mobile"
    android = ("Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0 Mobile"
               " Safari/537.36")
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert analytics.parse_agent(f'"{tablet}"')[0] == f'"{tablet}"'
    assert [analytics.parse_agent(a)[-1] for a in (tablet, android, bot)] == ["tablet", "mobile", "other"]
    assert analytics.parse_agent(android)[1:5] == ("Android", "10", "Chrome", "83.0")
    assert analytics.parse_agent("x" * 2000)[-1] == "other"


def test_the_checks_cover_the_analytics_layer(sample: Warehouse) -> None:
    names = [name for name in sql.CHECKS if any(table in name for table in TABLES)]
    assert len(names) >= 20
    for name in names:
        assert sample.scalar(sql.CHECK_COUNT.format(check=sql.CHECKS[name][1])) == 0, name


# --------------------------------------------------------------------------- level history on planted events


def planted_event(user: int, level: str, page: str, ts: int, session: int, item: int) -> dict[str, Any]:
    return {"artist": None, "auth": "Logged In", "firstName": "Ann", "gender": "F", "itemInSession": item,
            "lastName": "Lee", "length": None, "level": level, "location": "Ames, IA", "method": "GET",
            "page": page, "registration": 1540000000000, "sessionId": session, "song": None, "status": 200,
            "ts": ts, "userAgent": "Mozilla/5.0", "userId": str(user)}


DAY = 86_400_000
T0 = 1541030400000  # 2018-11-01 00:00 UTC


def write_day(logs: Path, day: int, events: list[dict[str, Any]], suffix: str = "") -> None:
    path = logs / f"2018/11/2018-11-{day:02d}-events{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def planted_days() -> dict[int, list[dict[str, Any]]]:
    """User 7: free, upgrades, cancels, comes back free; two events in one millisecond at two levels.
    User 8: paid throughout, one event a day. User 9: paid, with a free event tied in one
    millisecond with a paid one (no paid -> paid), and a late first event."""
    return {
        1: [planted_event(7, "free", "Home", T0 + 1000, 70, 0),
            planted_event(7, "free", "Upgrade", T0 + 2000, 70, 1),
            planted_event(7, "paid", "Submit Upgrade", T0 + 3000, 70, 2),
            planted_event(8, "paid", "Home", T0 + 5000, 80, 0)],
        2: [planted_event(7, "paid", "Home", T0 + DAY, 71, 0),
            planted_event(7, "paid", "Cancel", T0 + DAY + 1000, 71, 1),
            planted_event(7, "paid", "Cancellation Confirmation", T0 + DAY + 2000, 71, 2),
            planted_event(8, "paid", "Home", T0 + DAY + 5000, 81, 0),
            planted_event(9, "paid", "Home", T0 + DAY + 100, 91, 0)],  # loaded after day 4
        3: [planted_event(7, "free", "Home", T0 + 2 * DAY, 72, 0),  # back, free: a new period
            planted_event(7, "paid", "Home", T0 + 2 * DAY + 1000, 72, 1),  # paid, then free again,
            planted_event(7, "free", "Home", T0 + 2 * DAY + 1000, 72, 2),  # in the same millisecond
            planted_event(7, "free", "Logout", T0 + 2 * DAY + 2000, 72, 3),
            planted_event(8, "paid", "Home", T0 + 2 * DAY + 5000, 82, 0)],
        4: [planted_event(8, "paid", "Home", T0 + 3 * DAY + 5000, 83, 0),
            planted_event(9, "paid", "Home", T0 + 3 * DAY + 100, 90, 0),
            planted_event(9, "free", "Home", T0 + 3 * DAY + 200, 90, 1),  # free, then paid again,
            planted_event(9, "paid", "Home", T0 + 3 * DAY + 200, 90, 2),  # in the same millisecond
            planted_event(9, "paid", "Logout", T0 + 3 * DAY + 300, 90, 3)],
    }


def at(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def test_level_history_follows_upgrades_cancellations_and_ties(embedded: Warehouse, tmp_path: Path) -> None:
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    songs.mkdir()
    embedded.run("create_tables.py")
    days = planted_days()
    for day in (4, 2, 1, 3):  # late files for earlier days, run by run
        write_day(logs, day, days[day])
        embedded.load(logs, songs)
    expected = [
        (7, "free", at(T0 + 1000), at(T0 + 3000)),
        (7, "paid", at(T0 + 3000), at(T0 + DAY + 2000)),  # closed by the cancellation
        (7, "free", at(T0 + 2 * DAY), None),  # the paid period of no length in the tie is left out: one free
        (8, "paid", at(T0 + 5000), None),
        (9, "paid", at(T0 + DAY + 100), None),  # no paid -> paid around the free event of no length
    ]
    assert expected_levels(raw_events(logs)) == expected  # the contract, in plain Python
    assert embedded.query("SELECT * FROM user_levels ORDER BY user_id, valid_from") == expected
    assert embedded.query("SELECT activity_date, cancellations, upgrades, level FROM user_days WHERE user_id = 7"
                          " ORDER BY activity_date") == [
        (dt.date(2018, 11, 1), 0, 1, "paid"), (dt.date(2018, 11, 2), 1, 0, "paid"),
        (dt.date(2018, 11, 3), 0, 0, "free")]
    # Paid subscribers at the end of each day, by the contract's definition.
    paid = embedded.query("""
        SELECT d.day, COUNT(l.user_id) FROM (VALUES (DATE '2018-11-01'), (DATE '2018-11-02'), (DATE '2018-11-03'))
        d (day) LEFT JOIN user_levels l ON l.level = 'paid' AND l.valid_from <= d.day + 1
                 AND (l.valid_to IS NULL OR l.valid_to > d.day + 1)
        GROUP BY d.day ORDER BY d.day""")
    assert [n for _, n in paid] == [2, 2, 2]
    assert embedded.scalar(sql.CHECK_COUNT.format(check=sql.CHECKS["adjacent_user_levels_same_level"][1])) == 0
    before = fingerprint(embedded, run_ids=True)
    embedded.run("etl.py", "--rebuild")
    assert fingerprint(embedded, run_ids=True) == before


# --------------------------------------------------------------------------- incremental == single load == rebuild


def test_incremental_runs_a_single_load_and_a_rebuild_give_the_same_tables(
    embedded: Warehouse, embedded_sample: Warehouse, tmp_path: Path,
) -> None:
    logs, songs = copy_sample(tmp_path / "data", days=range(1, 2))
    matching = songs / "A/A/C/TRAACCG128F92E8A55.json"  # Elena - Setanta matins: its song arrives last
    held_back = tmp_path / "held_back.json"
    shutil.move(matching, held_back)
    embedded.run("create_tables.py")
    embedded.load(logs, songs)

    def add_days(days: range) -> None:
        for day in days:
            shutil.copy(SAMPLE / f"log_data/2018/11/2018-11-{day:02d}-events.json", logs / "2018/11")

    for days in (range(2, 3), range(3, 4), range(4, 13), range(20, 31), range(13, 20)):  # 13-19 arrive late
        add_days(days)
        embedded.load(logs, songs)
    assert embedded.scalar("SELECT COUNT(song_id) FROM song_days") == 0
    # The same events again in another object, and the late song: nothing new but a song_id.
    shutil.copy(logs / "2018/11/2018-11-05-events.json", logs / "2018/11/2018-11-05-events-again.json")
    shutil.move(held_back, matching)
    proc = embedded.load(logs, songs)
    assert "analytics: 0 events added, 0 new devices" in proc.stderr + proc.stdout
    assert embedded.scalar("SELECT COUNT(*) FROM staging_events") > 8056
    assert embedded.query("SELECT song, song_id FROM song_days WHERE song_id IS NOT NULL") == [
        ("Setanta matins", "SOZCTXZ12AB0182364")]
    assert embedded.scalar("SELECT COUNT(DISTINCT run_id) FROM app_events") == 6  # run 7 added none
    incremental = fingerprint(embedded, run_ids=True)
    assert {k: v for k, v in incremental.items() if k != "run_ids"} == fingerprint(embedded_sample)  # == one load
    shutil.rmtree(tmp_path / "data")  # the rebuild reads staging only
    proc = embedded.run("etl.py", "--rebuild")
    assert proc.stdout.startswith("run 8 succeeded")
    assert fingerprint(embedded, run_ids=True) == incremental


# --------------------------------------------------------------------------- an existing warehouse gets the layer


def test_an_existing_warehouse_gets_the_layer_and_the_next_run_fills_it(
    embedded: Warehouse, embedded_sample: Warehouse, tmp_path: Path,
) -> None:
    logs, songs = copy_sample(tmp_path / "data", days=range(1, 21))
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    embedded.execute("DROP SCHEMA sparkify CASCADE")  # a warehouse from before the analytics layer
    for table in reversed(TABLES):
        embedded.execute(f"DROP TABLE {table}")
    proc = embedded.run("create_tables.py")
    assert f"{len(TABLES)} table(s) created ({', '.join(TABLES)})" in proc.stdout
    assert embedded.scalar("SELECT COUNT(*) FROM app_events") == 0
    proc = embedded.load(logs, songs)  # nothing new to load: the layer is filled from staging
    assert "0 event and 0 song objects" in proc.stdout
    assert "(backfilled from every staged record)" in proc.stderr
    assert embedded.scalar("SELECT COUNT(*) FROM app_events") == embedded.scalar(
        "SELECT COUNT(*) FROM staging_events")
    for day in range(21, 31):
        shutil.copy(SAMPLE / f"log_data/2018/11/2018-11-{day:02d}-events.json", logs / "2018/11")
    proc = embedded.load(logs, songs)
    assert "backfilled" not in proc.stderr
    assert fingerprint(embedded) == fingerprint(embedded_sample)


def test_the_bench_switch_leaves_the_layer_alone(embedded: Warehouse) -> None:
    embedded.run("create_tables.py")
    embedded.load(SAMPLE / "log_data", SAMPLE / "song_data", env={"DWH_BENCH_NO_ANALYTICS": "1"})
    assert embedded.scalar("SELECT COUNT(*) FROM songplays") == 6820
    assert embedded.scalar("SELECT COUNT(*) FROM app_events") == 0
