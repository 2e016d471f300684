"""Generated data with every behaviour planted (upgrades, downgrades, cancellations, a rising
song), loaded in batches that arrive out of order, gives the analytics layer a single load gives,
and a rebuild gives it again: each run recomputes its keys from its own days only (a known
user's level history from the period in force before their first new event)."""

from __future__ import annotations

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
