"""generate_data.py, run as users run it: real files, and a real S3 server (moto) for s3:// output.

Every generated file is held against the real sample: layout, key order, value types, serialization."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import SAMPLE, one_line_error

ROOT = Path(__file__).resolve().parents[1]
SIZE = ["--events", "3000", "--songs", "60", "--users", "20", "--days", "7", "--start", "2018-11-01"]
# sha256 over (path, bytes) of every file generate_data.py wrote for SIZE and seed 42 before the planting
# options existed: the defaults must keep writing exactly these bytes.
DEFAULT_DIGEST = "ab9f08f382d5bb0737895b193819be44f7cd7f113c9fe85f1df96d709dc2c9b8"
# --plant at a small size, with the shaping options on (they must combine).
PLANT = ["--plant", "--days", "28", "--events", "7000", "--users", "40", "--songs", "80", "--start", "2018-11-05",
         "--weekly", "0.4", "--trend", "0.01"]
DAYS = [f"2018-11-{d:02d}" for d in range(1, 8)]
SONG_PATH = re.compile(r"song_data/([A-Z])/([A-Z])/([A-Z])/(TR[A-Z0-9]{16})\.json")
LOG_PATH = re.compile(r"log_data/(\d{4})/(\d{2})/(\d{4}-\d{2}-\d{2})-events\.json")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "generate_data.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def generate(out: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = run(str(out), *SIZE, *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root, by its path relative to root."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def songs_of(files: dict[str, bytes]) -> dict[str, dict]:
    return {path: json.loads(body) for path, body in files.items() if path.startswith("song_data/")}


def events_of(files: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for path, body in sorted(files.items()) if path.startswith("log_data/")
            for line in body.decode("ascii").split("\n")]


def sample_files() -> dict[str, bytes]:
    return {path: body for path, body in tree(SAMPLE).items() if path.endswith(".json") and "/" in path}


def log_style(event: dict) -> str:
    """How the app's logs serialize an event: compact, ASCII only, '/' escaped."""
    return json.dumps(event, separators=(",", ":")).replace("/", "\\/")


def types_by_key(objects: list[dict]) -> dict[str, set[str]]:
    types: dict[str, set[str]] = defaultdict(set)
    for obj in objects:
        for key, value in obj.items():
            types[key].add(type(value).__name__)
    return dict(types)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("gen") / "out"
    return folder, generate(folder)


@pytest.fixture(scope="module")
def files(out: tuple[Path, subprocess.CompletedProcess[str]]) -> dict[str, bytes]:
    return tree(out[0])


@pytest.fixture(scope="module")
def events(files: dict[str, bytes]) -> list[dict]:
    return events_of(files)


@pytest.fixture(scope="module")
def songs(files: dict[str, bytes]) -> dict[str, dict]:
    return songs_of(files)


def test_layout_is_the_samples(files: dict[str, bytes]) -> None:
    song_paths = [p for p in files if SONG_PATH.fullmatch(p)]
    log_paths = [p for p in files if LOG_PATH.fullmatch(p)]
    assert sorted(song_paths + log_paths) == sorted(files)
    assert len(song_paths) == 60
    for path in song_paths:  # the folders are the 3rd, 4th and 5th characters of the track id
        a, b, c, track = SONG_PATH.fullmatch(path).groups()  # type: ignore[union-attr]
        assert (a, b, c) == (track[2], track[3], track[4])
    assert [LOG_PATH.fullmatch(p).group(3) for p in sorted(log_paths)] == DAYS  # type: ignore[union-attr]
    for path in log_paths:
        year, month, day = LOG_PATH.fullmatch(path).groups()  # type: ignore[union-attr]
        assert day.startswith(f"{year}-{month}-")
    # The sample's own paths follow the same patterns.
    assert all(SONG_PATH.fullmatch(p) or LOG_PATH.fullmatch(p) for p in sample_files())


def test_song_files_are_shaped_like_the_samples(files: dict[str, bytes], songs: dict[str, dict]) -> None:
    sample = [json.loads(body) for path, body in sample_files().items() if path.startswith("song_data/")]
    assert all(list(song) == list(sample[0]) for song in songs.values())
    assert list(sample[0]) == ["num_songs", "artist_id", "artist_latitude", "artist_longitude",
                               "artist_location", "artist_name", "song_id", "title", "duration", "year"]
    assert types_by_key(list(songs.values())) == types_by_key(sample)
    for path, song in songs.items():
        assert files[path] == json.dumps(song).encode()  # one line, as json.dumps writes it (the sample too)
        assert re.fullmatch(r"SO[A-Z0-9]{16}", song["song_id"])
        assert re.fullmatch(r"AR[A-Z0-9]{16}", song["artist_id"])
        assert song["num_songs"] == 1 and round(song["duration"], 5) == song["duration"] > 0
    values = list(songs.values())
    assert len({s["song_id"] for s in values}) == 60
    per_artist = Counter(s["artist_id"] for s in values)
    assert len(per_artist) < 60 and max(per_artist.values()) > 1
    assert any(s["artist_latitude"] is None for s in values) and any(s["artist_latitude"] for s in values)
    assert any(s["artist_location"] == "" for s in values) and any(s["artist_location"] for s in values)
    assert 0.3 <= sum(s["year"] == 0 for s in values) / 60 <= 0.7
    assert any(not (s["title"] + s["artist_name"]).isascii() for s in values)


def test_events_are_shaped_like_the_samples(files: dict[str, bytes], events: list[dict]) -> None:
    sample = events_of(sample_files())
    assert all(list(event) == list(sample[0]) for event in events)
    assert types_by_key(events) == types_by_key(sample)
    http = {(e["page"], e["auth"]): (e["method"], e["status"]) for e in sample}
    for event in events:
        assert http[event["page"], event["auth"]] == (event["method"], event["status"])
    assert any('"' in e["userAgent"] for e in events if e["userAgent"])
    for path, body in files.items():
        if path.startswith("log_data/"):
            lines = body.decode("ascii").split("\n")  # no newline after the last event, as in the sample
            objects = [json.loads(line) for line in lines]
            assert lines == [log_style(e) for e in objects]
            assert [e["ts"] for e in objects] == sorted(e["ts"] for e in objects)
            days = {dt.datetime.fromtimestamp(e["ts"] / 1000, dt.UTC).date().isoformat() for e in objects}
            assert days == {LOG_PATH.fullmatch(path).group(3)}  # type: ignore[union-attr]
    # The sample is serialized the same way.
    assert all(line == log_style(json.loads(line)) for path, body in sample_files().items()
               if path.startswith("log_data/") for line in body.decode("ascii").split("\n"))


def test_events_count_identity_and_sessions(events: list[dict]) -> None:
    assert len(events) == 3000
    identities = [(e["sessionId"], e["itemInSession"], e["ts"]) for e in events]
    assert len(set(identities)) == len(identities)
    sessions: dict[int, list[dict]] = defaultdict(list)
    for event in events:
        sessions[event["sessionId"]].append(event)
    assert len(sessions) > 100
    for session in sessions.values():
        session.sort(key=lambda e: e["itemInSession"])
        assert [e["itemInSession"] for e in session] == list(range(len(session)))
        assert all(a["ts"] < b["ts"] for a, b in itertools.pairwise(session))
        assert len({e["userId"] for e in session} - {""}) <= 1
    pages = Counter(e["page"] for e in events)
    assert 0.75 <= pages["NextSong"] / len(events) <= 0.9
    assert {"Home", "Login", "Logout", "Upgrade", "Downgrade", "Settings", "Help", "About"} <= set(pages)


def test_users_are_stable_visitors_anonymous_and_levels_change(events: list[dict]) -> None:
    by_user: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event["auth"] == "Logged Out":
            assert event["userId"] == "" and event["page"] != "NextSong"
            assert event["firstName"] is event["lastName"] is event["gender"] is event["registration"] is None
        else:
            assert event["auth"] == "Logged In" and event["userId"].isdigit()
            by_user[event["userId"]].append(event)
    assert any(e["auth"] == "Logged Out" for e in events)
    assert 1 < len(by_user) <= 20
    stable = ("firstName", "lastName", "gender", "location", "userAgent", "registration")
    changed = 0
    for user_events in by_user.values():
        assert len({tuple(e[k] for k in stable) for e in user_events}) == 1
        user_events.sort(key=lambda e: e["ts"])
        changed += user_events[0]["level"] != user_events[-1]["level"]
    assert changed >= 1
    ordered = sorted(events, key=lambda e: (e["sessionId"], e["itemInSession"]))
    for before, after in itertools.pairwise(ordered):
        if before["page"] == "Submit Upgrade" and after["sessionId"] == before["sessionId"]:
            assert (before["level"], after["level"]) == ("free", "paid")


def matched_share(files: dict[str, bytes]) -> float:
    songs = {(s["title"], s["artist_name"], s["duration"]) for s in songs_of(files).values()}
    plays = [e for e in events_of(files) if e["page"] == "NextSong"]
    assert all(e["song"] and e["artist"] and isinstance(e["length"], float) for e in plays)
    return sum((e["song"], e["artist"], e["length"]) in songs for e in plays) / len(plays)


def test_share_of_plays_matching_a_song(files: dict[str, bytes], tmp_path: Path) -> None:
    assert matched_share(files) == pytest.approx(0.7, abs=0.03)
    generate(tmp_path, "--match-share", "0.25")
    assert matched_share(tree(tmp_path)) == pytest.approx(0.25, abs=0.03)


def test_summary_line(out: tuple[Path, subprocess.CompletedProcess[str]], files: dict[str, bytes],
                      events: list[dict], songs: dict[str, dict]) -> None:
    lines = out[1].stdout.splitlines()
    assert len(lines) == 1
    plays = sum(e["page"] == "NextSong" for e in events)
    artists = len({s["artist_id"] for s in songs.values()})
    users = len({e["userId"] for e in events} - {""})
    assert lines[0].startswith(
        f"3,000 events ({plays:,} NextSong, {matched_share(files):.1%} matched to a song), "
        f"60 songs by {artists} artists, {users} of 20 users active, 67 files in ")
    assert lines[0].endswith(f" s -> {out[0]}")


def test_same_seed_same_bytes_other_seed_other_bytes(files: dict[str, bytes], tmp_path: Path) -> None:
    generate(tmp_path / "again")
    assert tree(tmp_path / "again") == files
    generate(tmp_path / "other", "--seed", "7")
    other = tree(tmp_path / "other")
    assert len(events_of(other)) == 3000 and len(songs_of(other)) == 60
    assert not set(songs_of(other)) & set(songs_of(files))  # other track ids
    days = [p for p in files if p.startswith("log_data/")]
    assert [p for p in other if p.startswith("log_data/")] == days
    assert all(other[p] != files[p] for p in days)


def test_refuses_to_mix_with_existing_data_unless_forced(files: dict[str, bytes], tmp_path: Path) -> None:
    folder = tmp_path / "out"
    generate(folder)
    message = one_line_error(run(str(folder), *SIZE, "--seed", "7"), alone=True)
    assert "--force" in message and "song_data" in message
    assert tree(folder) == files
    stale = folder / "song_data" / "Z" / "Z" / "Z" / "TRZZZZZ12345678901.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    generate(folder, "--force")
    assert tree(folder) == files  # replaced: the stale file is gone


def test_an_empty_folder_is_fine(files: dict[str, bytes], tmp_path: Path) -> None:
    (tmp_path / "song_data").mkdir()
    generate(tmp_path)
    assert tree(tmp_path) == files


def s3_tree(client, bucket: str, prefix: str) -> dict[str, bytes]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_s3_output_is_the_folder_output(s3, files: dict[str, bytes]) -> None:
    bucket = s3.make_bucket("generated")
    generate(f"s3://{bucket}/sparkify/")
    client = s3.client()
    assert s3_tree(client, bucket, "sparkify/") == files
    message = one_line_error(run(f"s3://{bucket}/sparkify", *SIZE), alone=True)
    assert "--force" in message and f"s3://{bucket}/sparkify/song_data/" in message
    client.put_object(Bucket=bucket, Key="sparkify/log_data/2018/12/2018-12-01-events.json", Body=b"{}")
    generate(f"s3://{bucket}/sparkify", "--force")
    assert s3_tree(client, bucket, "sparkify/") == files


def test_s3_errors_are_one_line(s3) -> None:
    message = one_line_error(run("s3://no-such-bucket/x", *SIZE), alone=True)
    assert "NoSuchBucket" in message and "no-such-bucket" in message


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for args in (["--match-share", "1.5"], ["--days", "0"], ["--start", "2018-13-01"]):
        proc = run(str(tmp_path), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"error: argument {args[0]}: " in proc.stderr.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- planting options


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path, body in sorted(files.items()):
        h.update(path.encode() + b"\0" + body + b"\0")
    return h.hexdigest()


def test_default_output_is_what_it_was_before_the_planting_options(files: dict[str, bytes]) -> None:
    assert digest(files) == DEFAULT_DIGEST
    assert "planted.json" not in files


def day_of(event: dict) -> dt.date:
    return dt.datetime.fromtimestamp(event["ts"] / 1000, dt.UTC).date()


def daily_events(files: dict[str, bytes]) -> list[int]:
    return [len(body.split(b"\n")) for path, body in sorted(files.items()) if path.startswith("log_data/")]


@pytest.fixture(scope="module")
def planted_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("planted") / "out"
    proc = run(str(folder), *PLANT)
    assert proc.returncode == 0, proc.stderr
    return tree(folder)


@pytest.fixture(scope="module")
def planted(planted_files: dict[str, bytes]) -> dict:
    return json.loads(planted_files["planted.json"])


@pytest.fixture(scope="module")
def planted_events(planted_files: dict[str, bytes]) -> list[dict]:
    return sorted(events_of(planted_files), key=lambda e: e["ts"])


def by_user(events: list[dict]) -> dict[str, list[dict]]:
    """Each user's events, in time order (events sorted by ts)."""
    users: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event["userId"]:
            users[event["userId"]].append(event)
    return users


def first_ts(events: list[dict], page: str, since: float = -math.inf, level: str | None = None) -> float:
    """The first ts >= since of an event on page (at level), or infinity."""
    return min((e["ts"] for e in events if e["page"] == page and e["ts"] >= since
                and (level is None or e["level"] == level)), default=math.inf)


def test_planted_funnel_and_churn_are_counted_from_every_event(planted: dict, planted_events: list[dict]) -> None:
    funnel: Counter[str] = Counter()
    churned: dict[int, dt.date] = {}
    for user, events in by_user(planted_events).items():
        free_play = first_ts(events, "NextSong", level="free")
        upgrade = first_ts(events, "Upgrade", since=free_play)
        funnel["free_listeners"] += free_play < math.inf
        funnel["upgrade_page"] += upgrade < math.inf
        funnel["submit_upgrade"] += first_ts(events, "Submit Upgrade", since=upgrade) < math.inf
        if any(e["level"] == "paid" for e in events):
            downgrade = first_ts(events, "Downgrade")
            funnel["paid_users"] += 1
            funnel["downgrade_page"] += downgrade < math.inf
            funnel["submit_downgrade"] += first_ts(events, "Submit Downgrade", since=downgrade) < math.inf
        churned.update({int(user): day_of(e) for e in events if e["page"] == "Cancellation Confirmation"})
    assert planted["funnel"] == dict(funnel)
    assert all(planted["funnel"].values())  # each step happened at least once
    assert planted["churned_users"] == sorted(churned) and len(churned) == 2  # 5% of 40 users
    weeks = Counter(str(d - dt.timedelta(d.weekday())) for d in churned.values())
    assert planted["churned_by_week"] == dict(sorted(weeks.items()))
    assert all(dt.date.fromisoformat(week).weekday() == 0 for week in planted["churned_by_week"])
    assert planted["pages"] == dict(sorted(Counter(e["page"] for e in planted_events).items()))
    assert planted["events"] == len(planted_events) == 7000
    days = sorted({day_of(e) for e in planted_events})
    assert (planted["days"], planted["first_day"], planted["last_day"]) == (28, "2018-11-05", "2018-12-02")
    assert [str(days[0]), str(days[-1]), len(days)] == ["2018-11-05", "2018-12-02", 28]


def test_cancelled_users_stop_and_levels_follow_the_forms(planted_events: list[dict]) -> None:
    cancelled = 0
    for events in by_user(planted_events).values():
        pages = [e["page"] for e in events]
        if "Cancellation Confirmation" in pages:
            cancelled += 1
            assert pages.count("Cancellation Confirmation") == pages.count("Cancel") == 1
            cancel, confirm = events[-2], events[-1]  # nothing after the confirmation, ever
            assert (cancel["page"], confirm["page"]) == ("Cancel", "Cancellation Confirmation")
            assert (cancel["auth"], confirm["auth"]) == ("Logged In", "Cancelled")
            assert cancel["sessionId"] == confirm["sessionId"]
            assert confirm["itemInSession"] == cancel["itemInSession"] + 1
        else:
            assert "Cancel" not in pages
        for before, after in itertools.pairwise(events):
            if before["page"] == "Submit Upgrade":
                assert (before["level"], after["level"]) == ("free", "paid")
            elif before["page"] == "Submit Downgrade":
                assert (before["level"], after["level"]) == ("paid", "free")
            else:
                assert before["level"] == after["level"]
    assert cancelled == 2


# The real Sparkify logs' method and status of the pages the sample lacks.
FULL_PAGE_HTTP = {"Thumbs Up": ("PUT", 307), "Thumbs Down": ("PUT", 307), "Add to Playlist": ("PUT", 200),
                  "Add Friend": ("PUT", 307), "Roll Advert": ("GET", 200), "Cancel": ("PUT", 307),
                  "Cancellation Confirmation": ("GET", 200)}


def test_planted_data_has_the_full_page_set(planted_events: list[dict]) -> None:
    sample = events_of(sample_files())
    http = {e["page"]: (e["method"], e["status"]) for e in sample} | FULL_PAGE_HTTP
    assert all(list(e) == list(sample[0]) for e in planted_events)
    assert types_by_key(planted_events) == types_by_key(sample)
    for event in planted_events:
        assert http[event["page"]] == (event["method"], event["status"])
        assert (event["song"] is None) == (event["page"] != "NextSong")
    pages = Counter(e["page"] for e in planted_events)
    share = {page: pages[page] / len(planted_events) for page in pages}
    assert set(pages) == set(http)
    assert 0.03 <= share["Thumbs Up"] <= 0.055 and 0.005 <= share["Thumbs Down"] <= 0.02
    assert 0.015 <= share["Add to Playlist"] <= 0.035 and 0.008 <= share["Add Friend"] <= 0.025
    adverts = [e for e in planted_events if e["page"] == "Roll Advert"]
    assert 0.01 <= len(adverts) / len(planted_events) <= 0.035 and {e["level"] for e in adverts} == {"free"}
    assert 0.65 <= share["NextSong"] <= 0.8


def window_plays(events: list[dict], song: str, artist: str) -> tuple[Counter[str], dict[str, set[str]]]:
    """Plays and listeners of a song in the last 7 days and in the 21 before."""
    last = max(day_of(e) for e in events)
    plays: Counter[str] = Counter()
    listeners: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["page"] == "NextSong" and (event["song"], event["artist"]) == (song, artist):
            ago = (last - day_of(event)).days
            window = "last_7" if ago < 7 else "before" if ago < 28 else "earlier"
            plays[window] += 1
            listeners[window].add(event["userId"])
    return plays, listeners


def test_planted_songs(planted: dict, planted_events: list[dict], planted_files: dict[str, bytes]) -> None:
    rising, small = planted["rising_song"], planted["small_song"]
    assert (rising["song"], rising["artist"]) == ("Planted Rising", "The Planted Risers")
    assert (small["song"], small["artist"]) == ("Planted Small", "The Planted Few")
    for entry in (rising, small, *planted["climbing_songs"]):
        plays, listeners = window_plays(planted_events, entry["song"], entry["artist"])
        assert (entry["plays_before"], entry["plays_last_7"]) == (plays["before"], plays["last_7"])
        assert (entry["listeners_before"], entry["listeners_last_7"]) == (
            len(listeners["before"]), len(listeners["last_7"]))
    assert (rising["plays_before"], rising["plays_last_7"]) == (21, 7 * 45)  # 1 a day, then 45 a day
    assert rising["listeners_last_7"] >= 25
    assert (small["plays_before"], small["plays_last_7"], small["listeners_last_7"]) == (1, 3, 3)
    assert len(planted["climbing_songs"]) == 10
    assert all((c["plays_before"], c["plays_last_7"]) == (10, 21) for c in planted["climbing_songs"])
    # The rising song is in song_data (exactly one file), the small one is not.
    titles = Counter(s["title"] for s in songs_of(planted_files).values())
    assert titles["Planted Rising"] == 1 and "Planted Small" not in titles


def trending(events: list[dict], a: float) -> list[tuple[str, str]]:
    """Songs by (r + a) / (E + a): plays in the last 7 days against those expected from the 21 before,
    scaled by overall traffic; best first."""
    last = max(day_of(e) for e in events)
    recent: Counter[tuple[str, str]] = Counter()
    before: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event["page"] == "NextSong":
            ago = (last - day_of(event)).days
            if ago < 28:
                (recent if ago < 7 else before)[event["song"], event["artist"]] += 1
    traffic = sum(recent.values()) / sum(before.values())
    songs = set(recent) | set(before)
    return sorted(songs, key=lambda s: (-(recent[s] + a) / (before[s] * traffic + a), s))


def test_the_rising_song_trends_and_the_small_one_does_not(planted_events: list[dict]) -> None:
    for a in (0.5, 1, 2, 5, 10):
        ranked = trending(planted_events, a)
        assert ranked[0] == ("Planted Rising", "The Planted Risers")
        assert ("Planted Small", "The Planted Few") not in ranked[:11]


def test_weekly_and_trend_shape_the_days(tmp_path: Path) -> None:
    size = ["--days", "56", "--events", "56000", "--users", "100", "--songs", "50", "--start", "2018-11-05"]
    generate_plain = [str(tmp_path / "w"), *size, "--weekly", "0.5"]
    assert run(*generate_plain).returncode == 0
    days = daily_events(tree(tmp_path / "w"))  # 2018-11-05 is a Monday
    shape = (0.2, 0.3, 0.3, 0.4, 0.3, -0.7, -0.8)
    mean = statistics.fmean(days)
    for weekday, value in enumerate(shape):
        observed = statistics.fmean(days[weekday::7]) / mean
        assert observed == pytest.approx(1 + 0.5 * value, abs=0.04)
    assert run(str(tmp_path / "t"), *size, "--trend", "0.02").returncode == 0
    days = daily_events(tree(tmp_path / "t"))
    slope, intercept = statistics.linear_regression(range(56), days)
    assert slope / intercept == pytest.approx(0.02, rel=0.15)
    assert sum(days) == 56000
    assert max(abs(d - (intercept + slope * i)) / math.sqrt(intercept + slope * i) for i, d in enumerate(days)) < 4


def test_random_walk_is_seasonless(tmp_path: Path) -> None:
    size = ["--days", "84", "--events", "84000", "--users", "100", "--songs", "50", "--weekly", "0.9"]
    assert run(str(tmp_path), *size, "--random-walk", "0.15").returncode == 0
    days = daily_events(tree(tmp_path))
    steps = [math.log(days[d] / days[d - 7]) for d in range(7, len(days))]  # a day against its weekday a week before
    assert statistics.stdev(steps) == pytest.approx(0.15, rel=0.25)  # --weekly is ignored
    assert sum(days) == 84000


def test_shocks_multiply_each_day_around_the_shape(tmp_path: Path) -> None:
    """--shocks S: each day x exp(N(0, S) - S^2/2), independently, on top of the weekly shape and growth;
    the same weekday a week apart then differs by about S x sqrt(2) in log (plus Poisson noise)."""
    size = ["--days", "84", "--events", "252000", "--users", "100", "--songs", "50", "--weekly", "0.3",
            "--trend", "0.01"]
    assert run(str(tmp_path / "plain"), *size).returncode == 0
    assert run(str(tmp_path / "shocked"), *size, "--shocks", "0.2").returncode == 0
    plain, shocked = daily_events(tree(tmp_path / "plain")), daily_events(tree(tmp_path / "shocked"))
    assert sum(plain) == sum(shocked) == 252000

    def weekly_log_steps(days: list[int]) -> list[float]:
        return [math.log(days[d] / days[d - 7]) for d in range(7, len(days))]

    noise = statistics.stdev(weekly_log_steps(plain))  # Poisson noise and the growth's step only
    spread = statistics.stdev(weekly_log_steps(shocked))
    assert noise < 0.08 and math.sqrt(spread ** 2 - noise ** 2) == pytest.approx(0.2 * math.sqrt(2), rel=0.25)
    # The shape is still there under the shocks: weekends stay the quietest days on average.
    weekday_means = [statistics.fmean(shocked[d::7]) for d in range(7)]  # 2018-11-01 is a Thursday
    assert set(sorted(range(7), key=weekday_means.__getitem__)[:2]) == {2, 3}  # Saturday, Sunday


def test_planting_options_are_deterministic(planted_files: dict[str, bytes], tmp_path: Path) -> None:
    assert run(str(tmp_path / "again"), *PLANT).returncode == 0
    assert tree(tmp_path / "again") == planted_files
    assert run(str(tmp_path / "other"), *PLANT, "--seed", "7").returncode == 0
    other = tree(tmp_path / "other")
    assert other["planted.json"] != planted_files["planted.json"]
    walk = ["--days", "10", "--events", "2000", "--songs", "20", "--random-walk", "0.2"]
    assert run(str(tmp_path / "w1"), *walk).returncode == run(str(tmp_path / "w2"), *walk).returncode == 0
    assert tree(tmp_path / "w1") == tree(tmp_path / "w2")
    assert run(str(tmp_path / "w3"), *walk, "--seed", "1").returncode == 0
    assert daily_events(tree(tmp_path / "w3")) != daily_events(tree(tmp_path / "w1"))


def test_planted_json_to_s3_and_stale_answers_are_refused(s3, planted_files: dict[str, bytes],
                                                          tmp_path: Path) -> None:
    bucket = s3.make_bucket("planted")
    proc = run(f"s3://{bucket}/p", *PLANT)
    assert proc.returncode == 0, proc.stderr
    assert s3_tree(s3.client(), bucket, "p/") == planted_files
    # A later dataset without --plant must not sit beside the old answers.
    message = one_line_error(run(f"s3://{bucket}/p", *SIZE), alone=True)
    assert "--force" in message
    assert run(f"s3://{bucket}/p", *SIZE, "--force").returncode == 0
    assert "planted.json" not in s3_tree(s3.client(), bucket, "p/")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "planted.json").write_text("{}")
    message = one_line_error(run(str(folder), *SIZE), alone=True)
    assert "planted.json" in message and "--force" in message
    assert run(str(folder), *SIZE, "--force").returncode == 0
    assert not (folder / "planted.json").exists()


def test_help_documents_every_option() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for option in ("--days", "--start", "--users", "--songs", "--events", "--match-share", "--seed", "--force",
                   "--config", "--weekly A", "--trend G", "--random-walk S", "--shocks S", "--plant", "--lifecycle"):
        assert option in text
    for words in ("planted.json", "Planted Rising", "Planted Small", "ISO weekday", "log-step sd",
                  "Roll Advert for free users", "Cancel", "35% signed up before the first day"):
        assert words in text
    assert "{" not in text  # argparse formats help with %: a lone % would print its own parameters


def test_bad_planting_arguments_are_refused(tmp_path: Path) -> None:
    for args in (["--weekly", "1.5"], ["--random-walk", "-1"], ["--trend", "-0.1", "--days", "30"],
                 ["--plant", "--days", "20"], ["--plant", "--days", "30", "--events", "3000"],
                 ["--lifecycle", "--plant", "--days", "28", "--events", "7000"]):
        proc = run(str(tmp_path), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"error: argument {args[0]}: " in proc.stderr.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- --lifecycle (the demo)


# Eight ISO weeks from a Monday: users sign up, upgrade, downgrade and cancel as in the demo, at a size
# that writes in about a second.
LIFECYCLE = ["--lifecycle", "--days", "56", "--start", "2018-10-01", "--users", "150", "--songs", "100",
             "--events", "30000", "--weekly", "0.3", "--shocks", "0.05"]
FORMS = {"Save Settings": "Settings", "Submit Upgrade": "Upgrade", "Submit Downgrade": "Downgrade"}


@pytest.fixture(scope="module")
def lifecycle_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("lifecycle") / "out"
    proc = run(str(folder), *LIFECYCLE)
    assert proc.returncode == 0, proc.stderr
    return tree(folder)


@pytest.fixture(scope="module")
def lifecycle_events(lifecycle_files: dict[str, bytes]) -> list[dict]:
    return sorted(events_of(lifecycle_files), key=lambda e: e["ts"])


def sessions_of(events: list[dict]) -> dict[int, list[dict]]:
    sessions: dict[int, list[dict]] = defaultdict(list)
    for event in events:
        sessions[event["sessionId"]].append(event)
    return {sid: sorted(s, key=lambda e: e["itemInSession"]) for sid, s in sessions.items()}


def test_lifecycle_walks_the_full_page_set_as_the_real_logs_write_it(lifecycle_events: list[dict]) -> None:
    sample = events_of(sample_files())
    http = {e["page"]: (e["method"], e["status"]) for e in sample} | FULL_PAGE_HTTP
    assert len(http) == 20 and set(Counter(e["page"] for e in lifecycle_events)) == set(http)
    assert len(lifecycle_events) == 30000
    assert all(list(e) == list(sample[0]) for e in lifecycle_events)
    assert types_by_key(lifecycle_events) == types_by_key(sample)
    for event in lifecycle_events:
        assert http[event["page"]] == (event["method"], event["status"])
        assert (event["song"] is None) == (event["page"] != "NextSong")
        expected_auth = ("Cancelled" if event["page"] == "Cancellation Confirmation"
                         else "Logged In" if event["userId"] else "Logged Out")
        assert event["auth"] == expected_auth
    pages = Counter(e["page"] for e in lifecycle_events)
    share = {page: count / len(lifecycle_events) for page, count in pages.items()}
    assert 0.7 <= share["NextSong"] <= 0.85
    assert 0.02 <= share["Thumbs Up"] <= 0.055 and 0.005 <= share["Thumbs Down"] <= 0.02
    assert 0.01 <= share["Add to Playlist"] <= 0.035 and 0.005 <= share["Add Friend"] <= 0.025
    assert {e["level"] for e in lifecycle_events if e["page"] == "Roll Advert"} == {"free"}
    # A state machine, not independent draws: each form follows its page, and redirects to Home.
    for session in sessions_of(lifecycle_events).values():
        for before, after in itertools.pairwise(session):
            if after["page"] in FORMS:
                assert before["page"] == FORMS[after["page"]]
            if before["page"] in {*FORMS, "Login", "Logout"}:
                assert after["page"] == "Home"
                assert after["auth"] == ("Logged Out" if before["page"] == "Logout" else "Logged In")
    follows = Counter((a["page"], b["page"]) for s in sessions_of(lifecycle_events).values()
                      for a, b in itertools.pairwise(s))
    after_advert = sum(n for (a, b), n in follows.items() if a == "Roll Advert" and b == "Upgrade")
    after_song = sum(n for (a, b), n in follows.items() if a == "NextSong" and b == "Upgrade")
    assert after_advert / pages["Roll Advert"] > 3 * after_song / pages["NextSong"]  # adverts sell upgrades


def test_lifecycle_users_sign_up_over_time(lifecycle_events: list[dict]) -> None:
    first_ms = min(e["ts"] for e in lifecycle_events)
    users = by_user(lifecycle_events)
    signed_up: dict[str, dt.date] = {}
    for user, events in users.items():
        registrations = {e["registration"] for e in events}
        assert len(registrations) == 1  # the sign-up time, the same on every event of the user
        registered = registrations.pop()
        assert registered <= events[0]["ts"]  # registration precedes the user's first event
        if registered >= first_ms:  # signed up during the data: the first session follows at once
            assert events[0]["ts"] - registered <= 15 * 60_000
            assert events[0]["level"] == "free" and events[0]["auth"] == "Logged In"
            signed_up[user] = dt.datetime.fromtimestamp(registered / 1000, dt.UTC).date()
    old = len(users) - len(signed_up)
    assert 0.2 * len(users) <= old <= 0.5 * len(users)  # some signed up before the data
    new_by_week = Counter((d - dt.timedelta(d.weekday())) for d in signed_up.values())
    assert len(new_by_week) == 8 and min(new_by_week.values()) >= 4  # new users every week
    # Users appear over time: those seen by the end of each week keep growing, and the old users are
    # the ones seen in the first days.
    first_seen = sorted(day_of(events[0]) for events in users.values())
    seen_by_week = [sum(d < dt.date(2018, 10, 8) + dt.timedelta(7 * w) for d in first_seen) for w in range(8)]
    assert all(a < b for a, b in itertools.pairwise(seen_by_week)) and seen_by_week[-1] == len(users)
    assert sum(d < dt.date(2018, 10, 8) for d in first_seen) <= old + new_by_week[dt.date(2018, 10, 1)]


def test_lifecycle_users_upgrade_downgrade_and_cancel_for_good(lifecycle_events: list[dict]) -> None:
    changes: Counter[str] = Counter()
    cancelled = 0
    for events in by_user(lifecycle_events).values():
        pages = [e["page"] for e in events]
        if "Cancellation Confirmation" in pages:
            cancelled += 1
            assert pages.count("Cancellation Confirmation") == pages.count("Cancel") == 1
            cancel, confirm = events[-2], events[-1]  # no event after the confirmation
            assert (cancel["page"], confirm["page"]) == ("Cancel", "Cancellation Confirmation")
            assert cancel["sessionId"] == confirm["sessionId"]
        else:
            assert "Cancel" not in pages
        for before, after in itertools.pairwise(events):
            if before["page"] == "Submit Upgrade":
                assert (before["level"], after["level"]) == ("free", "paid")
                changes["upgrades"] += 1
            elif before["page"] == "Submit Downgrade":
                assert (before["level"], after["level"]) == ("paid", "free")
                changes["downgrades"] += 1
            else:
                assert before["level"] == after["level"]
    assert changes["upgrades"] >= 10 and changes["downgrades"] >= 3 and 5 <= cancelled <= 40
    weeks = {day_of(e) - dt.timedelta(day_of(e).weekday()) for e in lifecycle_events
             if e["page"] == "Cancellation Confirmation"}
    assert len(weeks) >= 5  # cancellations spread over the weeks


def test_lifecycle_has_daily_and_weekly_rhythm_and_grows(lifecycle_events: list[dict],
                                                         lifecycle_files: dict[str, bytes]) -> None:
    hours = Counter(dt.datetime.fromtimestamp(e["ts"] / 1000, dt.UTC).hour for e in lifecycle_events)
    assert sum(hours[h] for h in range(14, 19)) > 2.5 * sum(hours[h] for h in range(1, 6))
    days = daily_events(lifecycle_files)  # 2018-10-01 is a Monday
    assert len(days) == 56 and sum(days) == 30000
    weekday = statistics.fmean(d for i, d in enumerate(days) if i % 7 < 5)
    weekend = statistics.fmean(d for i, d in enumerate(days) if i % 7 >= 5)
    assert weekend < 0.8 * weekday
    active = Counter(day_of(e) for e in {(e["userId"], day_of(e)): e for e in lifecycle_events
                                         if e["userId"]}.values())
    by_day = [active[d] for d in sorted(active)]
    assert statistics.fmean(by_day[-14:]) > 1.2 * statistics.fmean(by_day[:14])  # users accumulate


def test_lifecycle_is_deterministic_by_seed(lifecycle_files: dict[str, bytes], tmp_path: Path) -> None:
    assert run(str(tmp_path / "again"), *LIFECYCLE).returncode == 0
    assert tree(tmp_path / "again") == lifecycle_files
    assert run(str(tmp_path / "other"), *LIFECYCLE, "--seed", "7").returncode == 0
    other = tree(tmp_path / "other")
    logs = [p for p in lifecycle_files if p.startswith("log_data/")]
    assert [p for p in other if p.startswith("log_data/")] == logs
    assert all(other[p] != lifecycle_files[p] for p in logs)
