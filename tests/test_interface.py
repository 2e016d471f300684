"""One interface for people and machines (issue 21), through the scripts as a user runs them: a fresh
demo followed by the commands it prints; every --json mode parsed, its timestamps ISO 8601 with an
offset; --version the same everywhere; a closed pipe; the environment's setting names; --rejects of a
run that does not exist; a failed run's real id; unknown source fields counted; the version recorded
with each run and the upgrade from a warehouse without it; comments on every analyst-facing table and
column on both PostgreSQL servers and in the Redshift rendering, from the one source the README shows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from conftest import ROOT, Warehouse

import sql_queries as sql
from sparkify_dwh import dialects, statements

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SCRIPTS = ["create_tables.py", "etl.py", "check_data.py", "doctor.py", "trends.py", "report.py", "serve.py",
           "generate_data.py", "cluster.py"]
DEMO_DATA = "--days 30 --users 30 --songs 120 --events 6000"
TIMESTAMP_LIKE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d.*")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DWH_", "AWS_"))}
    env.update({"AWS_EC2_METADATA_DISABLED": "true"}, **extra)
    return env


def timestamps_have_offsets(document: Any, path: str = "$") -> int:
    """Every timestamp text in the document is ISO 8601 with its UTC offset; returns how many there are."""
    if isinstance(document, dict):
        return sum(timestamps_have_offsets(v, f"{path}.{k}") for k, v in document.items())
    if isinstance(document, list):
        return sum(timestamps_have_offsets(v, f"{path}[{i}]") for i, v in enumerate(document))
    if isinstance(document, str) and TIMESTAMP_LIKE.fullmatch(document):
        parsed = dt.datetime.fromisoformat(document)
        assert "T" in document and parsed.utcoffset() == dt.timedelta(0), f"{path}: {document!r}"
        return 1
    return 0


def one_document(proc: subprocess.CompletedProcess[str]) -> Any:
    """stdout is exactly one JSON document."""
    document = json.loads(proc.stdout)
    assert proc.stdout.strip().count("\n") == 0 or proc.stdout.lstrip().startswith("{\n")
    return document


# --------------------------------------------------------------------------- the demo, and what it prints


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]]]:
    """./run.sh demo in a fresh copy of the toolkit, on a small generated dataset: (the copy, the
    (label, command) lines it printed last)."""
    folder = tmp_path_factory.mktemp("demo") / "sparkify-dwh"
    shutil.copytree(ROOT, folder, ignore=shutil.ignore_patterns(
        ".venv", ".git", "data", ".dwh", "tests", "__pycache__", ".*_cache", "report.html", "bench"))
    proc = subprocess.run(["bash", "run.sh", "demo"], cwd=folder, capture_output=True, text=True, timeout=900,
                          env=clean_env(PYTHON=sys.executable, DEMO_DATA=DEMO_DATA))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (folder / "data/demo/report.html").is_file()
    next_steps = proc.stdout.split(f"In {folder}, try next:\n", 1)[1].splitlines()
    printed = [tuple(part.strip() for part in line.split(":", 1)) for line in next_steps if line.strip()]
    return folder, printed  # type: ignore[return-value]


def test_the_demo_leaves_dwh_cfg_alone_and_its_printed_commands_work(demo: tuple[Path, list[tuple[str, str]]],
                                                                     ) -> None:
    folder, printed = demo
    assert (folder / "dwh.cfg").read_bytes() == (ROOT / "dwh.cfg").read_bytes()
    labels = [label for label, _ in printed]
    assert labels[0].startswith("the dashboard") and any("SQL client" in label for label in labels)
    assert Path(printed[0][1]).is_file()
    for label, line in printed[1:]:
        command = shlex.split(line.split("    (")[0])
        assert "--config" in command and "demo.cfg" in command, line
        if "serve.py" in line:
            check_serving(folder, command)
            continue
        proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600, env=clean_env())
        assert proc.returncode == 0, f"{label}: {line}\n{proc.stderr[-2000:]}"
        assert "error" not in proc.stderr.lower(), proc.stderr
        if "--json" in command:
            timestamps_have_offsets(one_document(proc))


def check_serving(folder: Path, command: list[str]) -> None:
    """serve.py keeps the server up while it runs: a client connects to the URL it printed, sees the
    analysts' views, described; SIGTERM stops it, exit 0."""
    with subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=clean_env()) as server:
        try:
            url = server.stdout.readline().strip()  # type: ignore[union-attr]
            assert url.startswith("postgresql://"), url
            conn = psycopg2.connect(url)
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM sparkify.songplays")
                assert cur.fetchone()[0] > 0
                cur.execute("SELECT obj_description('sparkify.songplays'::regclass)")
                assert cur.fetchone()[0] == sql.DESCRIPTIONS["songplays"][0]
            conn.close()
        finally:
            server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0


def demo_run(demo: tuple[Path, list[tuple[str, str]]], script: str, *args: str, env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    folder, _ = demo
    return subprocess.run([sys.executable, script, "--config", "demo.cfg", *args], cwd=folder, capture_output=True,
                          text=True, timeout=600, env=clean_env(**(env or {})))


JSON_MODES = [
    ("etl.py",), ("etl.py", "--status"), ("etl.py", "--dry-run"), ("etl.py", "--rejects"), ("etl.py", "--rebuild"),
    ("create_tables.py",), ("check_data.py", "--repeat", "1", "--sample", "1"), ("doctor.py",), ("trends.py",),
    ("report.py",),
]


@pytest.mark.parametrize("mode", JSON_MODES, ids=" ".join)
def test_every_json_mode_prints_one_document_with_offsets(demo: tuple[Path, list[tuple[str, str]]],
                                                          mode: tuple[str, ...]) -> None:
    proc = demo_run(demo, *mode, "--json")
    assert proc.returncode == 0, proc.stderr
    document = one_document(proc)
    assert isinstance(document, dict)
    stamps = timestamps_have_offsets(document)
    if mode[:2] == ("etl.py", "--status"):
        assert stamps >= 2 and document["runs"][0]["version"] == VERSION
        assert set(document["runs"][0]) >= {"run_id", "started_at", "finished_at", "outcome", "version",
                                            "unknown_fields"}
    elif mode == ("etl.py",) or mode == ("etl.py", "--rebuild"):
        assert document["outcome"] == "succeeded" and document["version"] == VERSION
        assert document["unknown_fields"] == {} and stamps == 1
    elif mode == ("etl.py", "--dry-run"):
        assert set(document["sources"]) == {"songs", "events"}
        assert document["sources"]["events"]["new_objects"] == 0 and document["sources"]["events"]["already_loaded"]
    elif mode == ("etl.py", "--rejects"):
        assert document == {"run_id": None, "truncated": False, "rejects": []}
    elif mode == ("create_tables.py",):
        assert document["ready"] and document["created"] == [] and document["described"] == list(sql.DESCRIPTIONS)
    elif mode[0] == "check_data.py":
        assert document["passed"] and document["timings"][0]["runs"] == 1
    elif mode == ("doctor.py",):
        assert document["passed"] and document["target"] == "embedded"
    elif mode == ("trends.py",):
        assert stamps >= 1  # computed_at
    elif mode == ("report.py",):
        assert not (demo[0] / "report.html").exists()  # --json writes no page


def test_serve_json_and_refusals(demo: tuple[Path, list[tuple[str, str]]]) -> None:
    folder, _ = demo
    with subprocess.Popen([sys.executable, "serve.py", "--config", "demo.cfg", "--json"], cwd=folder,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()) as server:
        try:
            document = json.loads(server.stdout.readline())  # type: ignore[union-attr]
        finally:
            server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    assert document["schema"] == "sparkify" and document["database"] == "dev" and document["host"] == "127.0.0.1"
    assert Path(document["passfile"]).is_file() and document["url"].startswith("postgresql://")
    # --json where a mode prints no result: a usage error, exit 2; --once is gone
    proc = demo_run(demo, "create_tables.py", "--drop", "--json")
    assert proc.returncode == 2 and "--json" in proc.stderr and proc.stdout == ""
    for script, args in (("serve.py", ["--once"]), ("generate_data.py", ["out", "--json"])):
        proc = demo_run(demo, script, *args)
        assert proc.returncode == 2, proc.stderr


def test_rejects_of_a_run_that_does_not_exist_is_an_error_naming_it(demo: tuple[Path, list[tuple[str, str]]],
                                                                    ) -> None:
    proc = demo_run(demo, "etl.py", "--rejects", "99")
    assert proc.returncode == 1 and proc.stdout == ""
    assert re.fullmatch(r"error: there is no run 99 \(runs 1 to \d+; see python etl.py --status\)\n", proc.stderr)


def test_a_failed_run_document_carries_its_real_run_id(demo: tuple[Path, list[tuple[str, str]]]) -> None:
    proc = demo_run(demo, "etl.py", "--json", env={"DWH_S3_LOG_DATA": str(demo[0] / "no-such-folder")})
    assert proc.returncode == 1
    document = one_document(proc)
    assert document["outcome"] == "failed" and "no-such-folder" in document["message"]
    status = one_document(demo_run(demo, "etl.py", "--status", "--json"))
    latest = status["runs"][0]
    assert (latest["run_id"], latest["outcome"]) == (document["run_id"], "failed")
    assert isinstance(document["run_id"], int) and latest["version"] == VERSION


@pytest.mark.parametrize("command", [("etl.py", "--status"), ("check_data.py", "--sample", "5", "--verbose"),
                                     ("create_tables.py", "--json"), ("report.py", "--json"),
                                     ("etl.py", "--status", "--json")], ids=" ".join)
def test_a_closed_pipe_ends_quietly(demo: tuple[Path, list[tuple[str, str]]], command: tuple[str, ...]) -> None:
    """stdout's reader is gone before the script writes (`… | head -1` that already read its line)."""
    folder, _ = demo
    with subprocess.Popen([sys.executable, command[0], "--config", "demo.cfg", *command[1:]], cwd=folder,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()) as proc:
        proc.stdout.close()  # type: ignore[union-attr]
        stderr = proc.stderr.read()  # type: ignore[union-attr]
        assert proc.wait(600) == 0, stderr
    assert "error" not in stderr and "Traceback" not in stderr and "Broken" not in stderr, stderr
    # and as a shell runs it
    line = f"set -o pipefail; {shlex.quote(sys.executable)} {command[0]} --config demo.cfg"
    line += "".join(f" {shlex.quote(arg)}" for arg in command[1:]) + " | head -c 1"
    shell = subprocess.run(["bash", "-c", line], cwd=folder, capture_output=True, text=True, timeout=600,
                           env=clean_env())
    assert shell.returncode == 0 and len(shell.stdout) == 1, shell.stderr


def test_a_longer_section_name_is_not_swallowed_by_a_shorter_one(demo: tuple[Path, list[tuple[str, str]]]) -> None:
    """DWH_CLUSTER_SETUP_NUM_NODES is [CLUSTER_SETUP] NUM_NODES (cluster.py --help recommends it): no warning."""
    proc = demo_run(demo, "etl.py", "--status", env={"DWH_CLUSTER_SETUP_NUM_NODES": "1"})
    assert proc.returncode == 0 and "not a setting" not in proc.stderr
    proc = demo_run(demo, "etl.py", "--status", env={"DWH_CLUSTER_SETUP_NO_SUCH_KEY": "1"})
    assert "DWH_CLUSTER_SETUP_NO_SUCH_KEY is not a setting the toolkit reads" in proc.stderr


# --------------------------------------------------------------------------- --version


@pytest.mark.parametrize("script", SCRIPTS)
def test_version_is_the_same_everywhere(script: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / script), "--version"], capture_output=True, text=True,
                          timeout=120, env=clean_env())
    assert proc.returncode == 0 and proc.stdout == f"sparkify-dwh {VERSION}\n"


# --------------------------------------------------------------------------- schema drift


def write_events_with_unknown_fields(folder: Path) -> tuple[Path, Path]:
    """A log file of three events, two of them carrying fields the toolkit does not read, and one song."""
    logs, songs = folder / "log_data", folder / "song_data"
    (logs / "2018/11").mkdir(parents=True)
    (songs / "A/A/A").mkdir(parents=True)
    base = {"artist": "Elena", "auth": "Logged In", "firstName": "Ann", "gender": "F", "itemInSession": 0,
            "lastName": "Lee", "length": 200.5, "level": "free", "location": "Austin, TX", "method": "PUT",
            "page": "NextSong", "registration": 1540000000000, "sessionId": 10, "song": "Setanta", "status": 200,
            "ts": 1541000000000, "userAgent": "Mozilla/5.0", "userId": "7"}
    events = [dict(base), dict(base, itemInSession=1, ts=1541000200000, genre="pop", platform="web"),
              dict(base, itemInSession=2, ts=1541000400000, genre="rock")]
    (logs / "2018/11/2018-11-01-events.json").write_text("".join(json.dumps(e) + "\n" for e in events))
    song = {"num_songs": 1, "artist_id": "AR1", "artist_latitude": None, "artist_longitude": None,
            "artist_location": "", "artist_name": "Elena", "song_id": "SO1", "title": "Setanta", "duration": 200.5,
            "year": 0, "label": "indie"}
    (songs / "A/A/A/TRAAA1.json").write_text(json.dumps(song))
    return logs, songs


@pytest.mark.parametrize("workers", ["0", "2"])
def test_unknown_fields_are_counted_and_the_records_load(embedded: Warehouse, tmp_path: Path, workers: str) -> None:
    logs, songs = write_events_with_unknown_fields(tmp_path / "data")
    embedded.run("create_tables.py")
    proc = embedded.load(logs, songs, "--json", env={"DWH_ETL_WORKERS": workers})
    document = one_document(proc)
    assert document["unknown_fields"] == {"events": {"genre": 2, "platform": 1}, "songs": {"label": 1}}
    assert document["rows_staged"] == 4 and document["rows_rejected"] == 0
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: fields the toolkit does not read (loaded without them; recorded with the run):"
                        " events genre (2 records), platform (1 records); songs label (1 records)"]
    assert embedded.counts()["songplays"] == 3
    recorded = embedded.scalar("SELECT unknown_fields FROM etl_runs WHERE run_id = 1")
    assert json.loads(recorded) == document["unknown_fields"]  # type: ignore[arg-type]
    status = one_document(embedded.run("etl.py", "--status", "--json"))
    assert status["runs"][0]["unknown_fields"] == document["unknown_fields"]


# --------------------------------------------------------------------------- a warehouse BI users can read


def comments(wh: Warehouse, schema: str) -> dict[str, tuple[str | None, dict[str, str | None]]]:
    """table or view -> (its comment, column -> comment) in a schema, as a BI tool reads them."""
    rows = wh.query("""
        SELECT c.relname, obj_description(c.oid, 'pg_class'), a.attname, col_description(c.oid, a.attnum)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relkind IN ('r', 'v')
    """, (schema,))
    found: dict[str, tuple[str | None, dict[str, str | None]]] = {}
    for table, about, column, text in rows:
        found.setdefault(table, (about, {}))[1][column] = text
    return found


def test_every_analyst_table_and_column_is_described_on_both_servers(warehouse: Warehouse) -> None:
    warehouse.run("create_tables.py")
    tables, views = comments(warehouse, "public"), comments(warehouse, sql.ANALYST_SCHEMA)
    assert set(views) == set(sql.DESCRIPTIONS)  # the analysts' schema holds exactly what is meant for them
    for table, (about, columns) in sql.DESCRIPTIONS.items():
        for found in (tables[table], views[table]):
            assert found[0] == about
            assert found[1] == columns, table  # every column, described as the source says
    for table in sql.TOOLKIT_TABLES:
        assert (tables[table][0] or "").startswith("Toolkit internal, not for analysis: ")
    assert set(tables) == set(sql.TABLES)


def test_the_redshift_rendering_describes_every_analyst_table_and_column() -> None:
    rendered = "\n".join(text for _, text in statements.statements(dialects.REDSHIFT))
    golden = (ROOT / "tests/golden/redshift.sql").read_text()
    for table, (about, columns) in sql.DESCRIPTIONS.items():
        for name in (table, f"{sql.ANALYST_SCHEMA}.{table}"):
            kind = "TABLE" if name == table else "VIEW"
            assert f"COMMENT ON {kind} {name} IS '{about.replace(chr(39), chr(39) * 2)}'" in rendered
            for column, text in columns.items():
                statement = f"COMMENT ON COLUMN {name}.{column} IS '{text.replace(chr(39), chr(39) * 2)}'"
                assert statement in rendered and statement in golden


def test_the_readme_describes_the_tables_as_the_comments_do() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- descriptions: rendered from sql_queries.DESCRIPTIONS by"
                           " sparkify_dwh.statements.describe() -->\n", 1)[1].split("\n<!-- end of descriptions -->")[0]
    assert section == statements.describe()


def test_an_older_warehouse_is_upgraded_without_reloading(embedded: Warehouse, tmp_path: Path) -> None:
    """A warehouse from before 1.4.0: no version or unknown_fields columns, no analysts' schema.
    create_tables.py names each missing column with the ALTER TABLE that keeps the data; after those,
    it describes everything, and the next run records its version beside the old one's NULL."""
    logs, songs = write_events_with_unknown_fields(tmp_path / "data")
    embedded.run("create_tables.py")
    embedded.load(logs, songs)
    embedded.execute(f"DROP SCHEMA {sql.ANALYST_SCHEMA} CASCADE; ALTER TABLE etl_runs DROP COLUMN toolkit_version;"
                     " ALTER TABLE etl_runs DROP COLUMN unknown_fields")
    proc = embedded.run("create_tables.py", "--json", check=False)
    assert proc.returncode == 1
    document = one_document(proc)
    alters = [re.search(r"to keep the data: (ALTER TABLE [^)]+\))", d)[1] for d in document["differences"]]
    assert alters == ["ALTER TABLE etl_runs ADD COLUMN toolkit_version VARCHAR(32)",
                      "ALTER TABLE etl_runs ADD COLUMN unknown_fields VARCHAR(4096)"]
    assert "etl_runs" not in document["described"] and "songplays" in document["described"]
    assert embedded.scalar(f"SELECT COUNT(*) FROM {sql.ANALYST_SCHEMA}.songplays") == 3
    embedded.execute("; ".join(alters))
    assert one_document(embedded.run("create_tables.py", "--json"))["ready"]
    embedded.settings["S3"].update({"LOG_DATA": str(logs), "SONG_DATA": str(songs)})
    embedded.run("etl.py")
    status = one_document(embedded.run("etl.py", "--status", "--json"))
    assert [run["version"] for run in status["runs"]] == [VERSION, None]
    assert embedded.counts()["songplays"] == 3  # nothing reloaded
