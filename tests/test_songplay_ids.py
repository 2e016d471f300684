"""songplay_id is deterministic: the plays are numbered in load order (the run that first loaded
the event, then time and identity), so incremental runs, a rebuild and a run killed half-way
(whose numbers an identity sequence would have used up) all give the same ids."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, SAMPLE, Warehouse, raw_events
from test_rerun import copy_sample

IDS = "SELECT songplay_id, session_id, item_in_session, start_time FROM songplays ORDER BY songplay_id"


def expected_ids(wh: Warehouse, runs: list[Path]) -> list[tuple[int, int, int, dt.datetime]]:
    """The numbering computed here: the songplays' identities, ordered by the run whose files
    first held them (`runs`: each run's log files, in order), then by time and identity."""
    first_run = {}
    for run_no, folder in enumerate(runs):
        for event in raw_events(folder):
            first_run.setdefault((event["sessionId"], event["itemInSession"], event["start"]), run_no)
    plays = wh.query("SELECT session_id, item_in_session, start_time FROM songplays")
    ordered = sorted(plays, key=lambda p: (first_run[p], p[2], p[0], p[1]))
    return [(number, *play) for number, play in enumerate(ordered, start=1)]


def day_folder(tmp: Path, name: str, days: range) -> Path:
    logs, _ = copy_sample(tmp / name, days=days)
    return logs


def days_1_to_29_loaded_and_day_30_arrived(wh: Warehouse, tmp: Path) -> tuple[Path, Path, Path, Path]:
    """Days 1-29 loaded by one run, day 30's file then put beside them: (its folder as the first
    run saw it, day 30 alone, the log folder, the song folder)."""
    first = day_folder(tmp, "first", range(1, 30))
    late = day_folder(tmp, "late", range(30, 31))
    logs, songs = copy_sample(tmp / "data", days=range(1, 30))
    wh.run("create_tables.py")
    wh.load(logs, songs)
    (logs / "2018/11/2018-11-30-events.json").write_bytes((late / "2018/11/2018-11-30-events.json").read_bytes())
    return first, late, logs, songs


def test_runs_and_a_rebuild_number_the_plays_alike(embedded: Warehouse, tmp_path: Path) -> None:
    first, late, logs, songs = days_1_to_29_loaded_and_day_30_arrived(embedded, tmp_path)
    embedded.load(logs, songs)
    loaded = embedded.query(IDS)
    assert loaded == expected_ids(embedded, [first, late])
    assert loaded[-1][0] == len(loaded)  # no gaps
    embedded.run("etl.py", "--rebuild")
    assert embedded.query(IDS) == loaded


def wait_for_blocked_statement(wh: Warehouse, text: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = wh.scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                            (f"%{text}%",))
        if waiting:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"the run never waited at {text!r}")


def test_a_killed_run_uses_up_no_ids(embedded: Warehouse, tmp_path: Path) -> None:
    """The run is held on a row lock at USERS_DELETE_SUPERSEDED, after it inserted its songplays,
    killed there with SIGKILL (its transaction rolls back), and the next run loads the day."""
    first, late, logs, songs = days_1_to_29_loaded_and_day_30_arrived(embedded, tmp_path)
    day_30_users = {e["user"] for e in raw_events(late) if e["user"] is not None}
    held_user = min(day_30_users & {u for (u,) in embedded.query("SELECT user_id FROM users")})

    holder = embedded.connect()
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (held_user,))
    embedded.settings["S3"].update({"LOG_DATA": str(logs), "SONG_DATA": str(songs)})
    config = embedded.write_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")} | embedded.extra_env
    proc = subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(config)], env=env,
                            cwd=embedded.workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_blocked_statement(embedded, "DELETE FROM users", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        holder.rollback()
        holder.close()
    deadline = time.monotonic() + 30  # the server notices the dropped connection and rolls back
    while embedded.scalar("SELECT COUNT(*) FROM pg_stat_activity"
                          " WHERE query LIKE '%DELETE FROM users%' AND pid <> pg_backend_pid()"):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    embedded.load(logs, songs)
    assert embedded.query(IDS) == expected_ids(embedded, [first, late])
    assert embedded.scalar("SELECT MAX(songplay_id) FROM songplays") == embedded.scalar(
        "SELECT COUNT(*) FROM songplays")


def test_the_sample_is_numbered_from_one(loaded: Warehouse) -> None:
    assert loaded.query(IDS) == expected_ids(loaded, [SAMPLE / "log_data"])
