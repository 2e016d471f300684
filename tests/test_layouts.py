"""Every source layout loads the same records: newline-delimited, pretty-printed and
concatenated objects, top-level arrays, gzip, CRLF; hidden and non-JSON files are not data."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLE, Warehouse
from test_rerun import fingerprint

import sql_queries as sql
from sparkify_dwh import staging
from sparkify_dwh.sources import TRUNCATED, RawRecord, is_data_file, split_records

LOGS = SAMPLE / "log_data/2018/11"


def day_events(day: int) -> list[dict]:
    return [json.loads(line) for line in (LOGS / f"2018-11-{day:02d}-events.json").read_text().splitlines() if line]


def write_layouts(root: Path) -> tuple[Path, Path]:
    """Days 1-6 of the sample and all its songs, each day and some songs in another layout."""
    logs, songs = root / "log_data", root / "song_data"
    shutil.copytree(SAMPLE / "song_data", songs)
    days = logs / "2018/11"
    days.mkdir(parents=True)
    shutil.copy(LOGS / "2018-11-01-events.json", days)  # newline-delimited, as published
    (days / "2018-11-02-events.json").write_text(  # concatenated pretty-printed objects
        "".join(json.dumps(e, indent=4) for e in day_events(2)))
    (days / "2018-11-03-events.json").write_text(json.dumps(day_events(3), indent=2))  # a top-level array
    (days / "2018-11-04-events.json.gz").write_bytes(gzip.compress((LOGS / "2018-11-04-events.json").read_bytes()))
    (days / "2018-11-05-events.json").write_bytes(  # CRLF line ends and a byte-order mark
        b"\xef\xbb\xbf" + (LOGS / "2018-11-05-events.json").read_bytes().replace(b"\n", b"\r\n"))
    (days / "2018-11-06-events.json").write_text(  # one line holding a compact array, then objects
        json.dumps(day_events(6)[:3]) + "\n" + "\n\n".join(json.dumps(e) for e in day_events(6)[3:]) + "\n")
    # Not data: notebook checkpoints (real copies of this data carry them), hidden and other files.
    checkpoints = days / ".ipynb_checkpoints"
    checkpoints.mkdir()
    shutil.copy(LOGS / "2018-11-07-events.json", checkpoints / "2018-11-07-events-checkpoint.json")
    shutil.copytree(songs / "A/B/C", songs / "A/B/C/.ipynb_checkpoints")
    (days / ".2018-11-08-events.json").write_bytes((LOGS / "2018-11-08-events.json").read_bytes())
    (days / "README.md").write_text("# not data\n")
    (days / "2018-11-09-events.csv").write_text("artist,auth\n")
    # A song file holding two pretty-printed songs: one moved from another file.
    moved = songs / "A/A/A/TRAAAAW128F429D538.json"
    target = songs / "A/A/B/TRAABCL128F4286650.json"
    assert target.exists()
    pair = [json.loads(target.read_text()), json.loads(moved.read_text())]
    target.write_text("\n".join(json.dumps(s, indent=4) for s in pair) + "\n")
    moved.unlink()
    return logs, songs


def sample_days(root: Path, days: range) -> tuple[Path, Path]:
    (root / "log_data").mkdir(parents=True)
    for day in days:
        shutil.copy(LOGS / f"2018-11-{day:02d}-events.json", root / "log_data")
    return root / "log_data", SAMPLE / "song_data"


def test_every_layout_loads_the_same_records(embedded: Warehouse, postgres: Warehouse, tmp_path: Path) -> None:
    logs, songs = write_layouts(tmp_path / "layouts")
    embedded.run("create_tables.py")
    proc = embedded.load(logs, songs)
    expected_events = sum(len(day_events(d)) for d in range(1, 7))
    assert f"staged {expected_events:,} events and 71 songs; 0 rejected" in proc.stdout
    assert embedded.scalar("SELECT COUNT(*) FROM loaded_objects WHERE source = 'events'") == 6
    assert embedded.scalar("SELECT COUNT(*) FROM loaded_objects WHERE source = 'songs'") == 70
    assert embedded.scalar("SELECT COUNT(*) FROM loaded_objects WHERE object_key LIKE '%checkpoint%'"
                           " OR object_key LIKE '%/.%' OR object_key NOT LIKE '%.json%'") == 0
    # Pretty-printed records are numbered by the line they start on ("}{" joins them on line 20).
    assert embedded.query(
        "SELECT e.source_line FROM staging_events e JOIN loaded_objects o USING (object_id)"
        " WHERE o.object_key LIKE '%2018-11-02-events.json' ORDER BY e.source_line LIMIT 2") == [(1,), (20,)]
    # The same days, published plainly, give the same star schema.
    postgres.run("create_tables.py")
    postgres.load(*sample_days(tmp_path / "plain", range(1, 7)))
    assert fingerprint(embedded) == fingerprint(postgres)
    assert embedded.counts() == postgres.counts()


def test_the_listing_skips_what_is_not_data() -> None:
    assert is_data_file("A/B/C/TRAAAAW128F429D538.json")
    assert is_data_file("2018/11/2018-11-01-events.json.gz")
    assert is_data_file("day.ndjson") and is_data_file("day.JSONL")
    assert not is_data_file(".ipynb_checkpoints/2018-11-01-events-checkpoint.json")
    assert not is_data_file("A/.ipynb_checkpoints/TRAAAAW128F429D538-checkpoint.json")
    assert not is_data_file("A/B/.DS_Store")
    assert not is_data_file("A/B/.hidden.json")
    assert not is_data_file("log_json_path.csv")
    assert not is_data_file("2018/11/")  # an S3 "folder" marker


def records(data: bytes) -> list[tuple[int | None, object, str | None]]:
    return [(r.line, r.value, r.problem) for r in split_records(data)]


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"a":1}\n{"a":2}\n', [(1, {"a": 1}, None), (2, {"a": 2}, None)]),
    (b'{"a":1}\n\n\n{"a":2}', [(1, {"a": 1}, None), (4, {"a": 2}, None)]),
    (b'{\n  "a": 1,\n  "b": [1,\n 2]\n}\n{\n  "a": 2\n}\n', [(1, {"a": 1, "b": [1, 2]}, None), (6, {"a": 2}, None)]),
    (b'{"a":1}{"a":2}\n{"a":3} {"a":4}', [(1, {"a": 1}, None), (1, {"a": 2}, None), (2, {"a": 3}, None),
                                          (2, {"a": 4}, None)]),
    (b'[{"a":1},{"a":2}]', [(None, {"a": 1}, None), (None, {"a": 2}, None)]),
    (b'[{"a":1},{"a":2}]\n[{"a":3}]\n{"a":4}\n', [(1, {"a": 1}, None), (1, {"a": 2}, None), (2, {"a": 3}, None),
                                                  (3, {"a": 4}, None)]),
    (b'\xef\xbb\xbf{"a":1}\r\n{"a":2}\r\n', [(1, {"a": 1}, None), (2, {"a": 2}, None)]),
    (b'', []),
    (b'\n  \n', []),
])
def test_records_of_each_layout(data: bytes, expected: list) -> None:
    assert records(data) == expected


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"a":1}\nnot json\n{"a":2}\n',
     [(1, {"a": 1}, None), (2, None, "not valid JSON: invalid literal, expected 'null' at character 1"),
      (3, {"a": 2}, None)]),
    (b'{"a":1}\n{"a":2, "b"', [(1, {"a": 1}, None), (2, None, TRUNCATED)]),
    (b'{"a":1}\n{"a":2, "b"\n{"a":3}\n', [(1, {"a": 1}, None), (2, None, TRUNCATED), (3, {"a": 3}, None)]),
    (b'{"a":1}\n{"a":"\xff"}\n{"a":3}\n', [(1, {"a": 1}, None), (2, None, "not valid UTF-8 (byte 7)"),
                                          (3, {"a": 3}, None)]),
    (b'[\n {"a":1},\n {"a":nul},\n {"a":3}\n]\n',
     [(2, {"a": 1}, None), (3, None, "not valid JSON: invalid literal, expected 'null' at character 6"),
      (4, {"a": 3}, None)]),
    (b'[{"a":1},{"a":2}, {"a"', [(1, {"a": 1}, None), (1, {"a": 2}, None), (1, None, TRUNCATED)]),
])
def test_a_bad_record_costs_only_itself(data: bytes, expected: list) -> None:
    assert records(data) == expected


def test_a_rejected_record_keeps_its_text() -> None:
    bad = list(split_records(b'{"a":1}\n{"a": tru}\n'))[1]
    assert bad == RawRecord(2, problem=bad.problem, text=b'{"a": tru}')


def test_worker_processes_type_exactly_as_the_main_process(embedded: Warehouse, postgres: Warehouse,
                                                           tmp_path: Path) -> None:
    """[ETL] WORKERS = 2 (as a large run on several cores) against 0: the same rows, rejects, tables."""
    logs, songs = write_layouts(tmp_path / "layouts")
    (logs / "2018/11/2018-11-07-events.json").write_bytes(  # a bad record among good ones
        re.sub(rb'"ts":\d+', b'"ts":"soon"', (LOGS / "2018-11-07-events.json").read_bytes(), count=1))
    staged = "SELECT {columns} FROM {table}"  # sorted here: the two servers collate text differently
    results = []
    for wh, workers in ((embedded, "2"), (postgres, "0")):
        wh.settings["ETL"].update(WORKERS=workers, MAX_REJECTS="10")
        wh.run("create_tables.py")
        proc = wh.load(logs, songs)
        assert "1 rejected" in proc.stdout
        rejects = wh.query("SELECT source, line, record_no, reason, record FROM rejects")
        rows = {t: sorted(wh.query(staged.format(columns=", ".join(sql.STAGING_FIELDS[t]), table=t)), key=repr)
                for t in sql.STAGING_FIELDS}
        results.append((fingerprint(wh), rejects, rows))
    assert results[0] == results[1]
    assert results[0][1][0][3] == "ts: 'soon' is not an integer"


@pytest.mark.parametrize(("setting", "planned_bytes", "workers"), [
    ("0", 1 << 30, 0), ("1", 0, 1), ("1", 1 << 30, 1), ("3", 0, 3), (" 2 ", 1 << 30, 2), ("auto", 1024, 0),
])
def test_a_number_of_workers_is_that_many_processes(setting: str, planned_bytes: int, workers: int) -> None:
    """[ETL] WORKERS = N starts N worker processes whatever the run's size; 1 means one, not none."""
    assert staging.typing_workers(setting, planned_bytes) == workers
