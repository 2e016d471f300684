"""generate_data.py, run as users run it: real files, and a real S3 server (moto) for s3:// output.

Every generated file is held against the real sample: layout, key order, value types, serialization."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[1]
SIZE = ["--events", "3000", "--songs", "60", "--users", "20", "--days", "7", "--start", "2018-11-01"]
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


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


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
    message = one_line_error(run(str(folder), *SIZE, "--seed", "7"))
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
    message = one_line_error(run(f"s3://{bucket}/sparkify", *SIZE))
    assert "--force" in message and f"s3://{bucket}/sparkify/song_data/" in message
    client.put_object(Bucket=bucket, Key="sparkify/log_data/2018/12/2018-12-01-events.json", Body=b"{}")
    generate(f"s3://{bucket}/sparkify", "--force")
    assert s3_tree(client, bucket, "sparkify/") == files


def test_s3_errors_are_one_line(s3) -> None:
    message = one_line_error(run("s3://no-such-bucket/x", *SIZE))
    assert "NoSuchBucket" in message and "no-such-bucket" in message


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    for args in (["--match-share", "1.5"], ["--days", "0"], ["--start", "2018-13-01"]):
        proc = run(str(tmp_path), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert f"error: argument {args[0]}: " in proc.stderr.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())
