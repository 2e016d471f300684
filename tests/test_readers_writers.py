"""Readers never deadlock with writers, and no wait is silent (issue 22, 2 and 3): real scripts as
subprocesses against the embedded server, an analyst's session holding locks, randomized trials
bounded in count and time."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
import time

import psycopg2
import pytest
from conftest import ROOT, Warehouse, one_line_error

pytestmark = pytest.mark.timeout(600)


def start(warehouse: Warehouse, name: str, *args: str, **cfg: str) -> subprocess.Popen[str]:
    config = warehouse.write_config(ETL=cfg) if cfg else warehouse.write_config()
    return subprocess.Popen([sys.executable, str(ROOT / name), "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=warehouse.script_env(), cwd=warehouse.workdir)


def analyst(warehouse: Warehouse) -> psycopg2.extensions.connection:
    conn = psycopg2.connect(**warehouse.dsn, application_name="psql")
    conn.autocommit = False
    return conn


def test_a_rebuild_blocked_by_an_idle_session_says_who_and_gives_up_after_the_timeout(loaded: Warehouse) -> None:
    bi = analyst(loaded)
    with bi.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM songplays")  # then idle in transaction: holds songplays
    pid = bi.get_backend_pid()
    started = time.monotonic()
    rebuild = start(loaded, "etl.py", "--rebuild", LOCK_TIMEOUT="9")
    out, err = rebuild.communicate(timeout=120)
    took = time.monotonic() - started
    bi.close()
    said = [line for line in err.splitlines() if "for a lock on" in line]
    assert len(said) >= 2, err  # after 3 s, and again while it waits
    assert re.search(rf"a lock on [a-z_, ]*songplays.*held by session {pid} \(psql, idle in transaction for \d+ s\)",
                     said[0]), said
    line = one_line_error(subprocess.CompletedProcess(rebuild.args, rebuild.returncode, out, err))
    assert "gave up" in line and "LOCK_TIMEOUT = 9 s" in line and f"session {pid}" in line, line
    assert 9 <= took < 60
    assert loaded.scalar("SELECT COUNT(*) FROM songplays") == 6820  # nothing was emptied


def test_a_reader_blocked_by_a_writer_says_so_and_then_succeeds(loaded: Warehouse) -> None:
    """A writer's session holding an exclusive lock (as a rebuild does while it runs): check_data.py
    waits, says who it waits for, and succeeds when the writer commits."""
    writer = analyst(loaded)
    with writer.cursor() as cur:
        cur.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    pid = writer.get_backend_pid()
    reader = start(loaded, "check_data.py", "--sample", "0", "--repeat", "1")
    assert reader.stderr is not None
    err_lines: list[str] = []
    collect = threading.Thread(target=lambda: err_lines.extend(iter(reader.stderr.readline, "")), daemon=True)
    collect.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("for a lock on users" in line for line in err_lines):
        assert reader.poll() is None, err_lines
        time.sleep(0.2)
    writer.commit()
    writer.close()
    reader.wait(180)
    collect.join(10)
    out = reader.stdout.read() if reader.stdout else ""
    said = [line for line in err_lines if "for a lock on users" in line]
    assert said and f"held by session {pid} (psql, idle in transaction" in said[0], err_lines
    assert reader.returncode == 0, (out, err_lines)


TRIALS, TRIAL_SECONDS = 6, 240


def test_readers_and_rebuilds_in_random_order_never_deadlock(loaded: Warehouse) -> None:
    """Randomized trials (bounded): report.py, check_data.py and an analyst's session reading table by
    table in a random order, against etl.py --rebuild, started with random delays. Each script
    succeeds; no 'deadlock detected'."""
    seed = int(os.environ.get("DWH_TEST_LOCK_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    tables = ["songplays", "users", "app_events", "user_days", "song_days", "user_levels", "time"]
    stop = time.monotonic() + TRIAL_SECONDS
    outcomes = []
    for trial in range(TRIALS):
        if time.monotonic() > stop:
            break
        reader = rng.choice(["report.py", "check_data.py"])
        reader_args = ["--json"] if reader == "report.py" else ["--sample", "0", "--repeat", "1"]
        bi = analyst(loaded)
        order = rng.sample(tables, k=len(tables))
        scripts = []
        with bi.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {order[0]}")  # the analyst holds one table ...
            for delay, name, args in sorted([(rng.uniform(0, 1.5), "etl.py", ["--rebuild"]),
                                             (rng.uniform(0, 1.5), reader, reader_args)]):
                time.sleep(delay / 2)
                scripts.append((name, start(loaded, name, *args)))
            time.sleep(rng.uniform(0, 2))
            for table in order[1:]:  # ... then reads the others, one by one, as a BI tool does
                cur.execute(f"SELECT COUNT(*) FROM {table}")
        bi.commit()
        bi.close()
        for name, proc in scripts:
            _, err = proc.communicate(timeout=300)
            outcomes.append((trial, name, proc.returncode))
            assert "deadlock" not in err, (seed, trial, name, err)
            assert proc.returncode == 0, (seed, trial, name, err[-2000:])
    assert len(outcomes) >= 4, outcomes
    assert loaded.scalar("SELECT COUNT(*) FROM songplays") == 6820
