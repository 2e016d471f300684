"""kill -9 at random points of a load loses and doubles nothing: after each kill the warehouse is
as the run found it, and once the runs complete every table equals a clean load's, row for row
(songplay_id, run and object ids included).

The points are random for each test run (so CI covers new ones over time) and reproducible:
the seed is in every failure message, and DWH_TEST_KILL_SEED=<seed> replays it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, Warehouse, _embedded_warehouse

DAYS = 6
KILLS_PER_RUN = 3
# Every table whose content a load decides, with the columns that are not the clock's.
CONTENT = {
    "etl_runs": "run_id, outcome, target, objects_loaded, events_staged, songs_staged, rows_rejected,"
                " values_repaired, songplays_added",
    "loaded_objects": "*", "rejects": "*", "table_rows": "*", "staging_events": "*", "staging_songs": "*",
    "songplays": "*", "users": "*", "songs": "*", "artists": "*", "time": "*", "song_lookup": "*",
    "unmatched_plays": "*", "app_events": "*", "user_levels": "*", "devices": "*", "user_days": "*",
    "user_sessions": "*", "song_days": "*", "hour_plays": "*", "user_day_places": "*", "song_totals": "*",
}


def content(wh: Warehouse) -> dict[str, tuple[int, str]]:
    """Each table's row count and the md5 of its rows in a fixed order."""
    found = {}
    for table, columns in CONTENT.items():
        found[table] = wh.query(
            f"SELECT COUNT(*), md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), ''))"
            f" FROM (SELECT {columns} FROM {table}) r")[0]
    return found


def differences(got: dict[str, tuple[int, str]], want: dict[str, tuple[int, str]]) -> dict[str, object]:
    return {t: (got[t], want[t]) for t in want if got[t] != want[t]}


def start_load(wh: Warehouse) -> subprocess.Popen[bytes]:
    """etl.py as Warehouse.run starts it, in a process group of its own (it and its workers)."""
    config = wh.write_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    return subprocess.Popen([sys.executable, str(ROOT / "etl.py"), "--config", str(config)], cwd=wh.workdir,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def timed_load(wh: Warehouse) -> float:
    started = time.monotonic()
    proc = start_load(wh)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    return time.monotonic() - started


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kill-data")
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), str(out), "--events", "30000", "--songs", "1000",
                    "--users", "150", "--days", str(DAYS)], check=True, capture_output=True)
    return out


def test_kill_9_at_random_points_then_the_runs_equal_a_clean_load(embedded_server: Path, data: Path,
                                                                 tmp_path: Path) -> None:
    seed = int(os.environ.get("DWH_TEST_KILL_SEED") or random.SystemRandom().randrange(1 << 32))
    chance = random.Random(seed)
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    shutil.copytree(data / "song_data", songs)
    days = sorted((data / "log_data").rglob("*-events.json"))
    clean_wh = _embedded_warehouse(embedded_server, tmp_path / "clean", f"t_kill_clean_{os.getpid()}")
    killed_wh = _embedded_warehouse(embedded_server, tmp_path / "killed", f"t_kill_killed_{os.getpid()}")
    (tmp_path / "clean").mkdir()
    (tmp_path / "killed").mkdir()
    clean, killed = next(clean_wh), next(killed_wh)
    trials = []
    try:
        for wh in (clean, killed):
            wh.settings["S3"] = {"LOG_DATA": str(logs), "SONG_DATA": str(songs)}
            wh.settings["ETL"]["WORKERS"] = "2"  # the kill takes the workers with it
            wh.run("create_tables.py")
        # Two runs: the first half of the days with every song, then the rest.
        for run_days in (days[: DAYS // 2], days[DAYS // 2:]):
            for day in run_days:
                target = logs / day.relative_to(data / "log_data")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(day, target)
            before = content(killed)
            seconds = timed_load(clean)
            want = content(clean)
            finished = False
            for _ in range(KILLS_PER_RUN):
                delay = chance.uniform(0.2, 0.9) * seconds  # past most of the interpreter's start
                proc = start_load(killed)
                time.sleep(delay)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(60)
                trials.append(f"{delay:.2f} s of {seconds:.2f} s: exit {proc.returncode}")
                now = content(killed)
                # A run that committed before the kill (or exited first) is a finished run, not a lost one.
                finished = now != before and not differences(now, want)
                if finished:
                    break
                lost = differences(now, before)
                assert not lost, f"seed {seed}, trials {trials}: a killed run changed {lost}"
            if not finished:
                timed_load(killed)
            changed = differences(content(killed), want)
            assert not changed, f"seed {seed}, trials {trials}: after the kills the load differs in {changed}"
        assert any("exit -9" in t for t in trials), f"seed {seed}: no kill landed inside a load: {trials}"
    finally:
        for gen in (clean_wh, killed_wh):
            next(gen, None)  # past its yield: drops the database
