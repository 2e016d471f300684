"""Amazon Redshift, tested as far as it can be without a cluster.

What is verified here: every statement the Redshift path sends parses in sqlglot's redshift
dialect and uses nothing PostgreSQL-only; the COPY options are pinned; the physical design is
in the DDL; compaction runs for real against moto's S3 and its parts hold exactly the planned
records, once each, typed exactly as the PostgreSQL path types them (one typing loop, two outputs:
hostile values come out of the parts as PostgreSQL's COPY reads them from the COPY text), and are
byte for byte what they were (tests/golden/redshift-parts.json); the manifest and JSONPaths
files match what was planned; load errors map back to source objects. What is not verified
without a cluster (README: "What has not been verified live") is Redshift executing them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gzip
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import orjson
import psycopg2
import psycopg2.extensions
import pytest
import sqlglot
from conftest import SAMPLE, S3Server, Warehouse
from sqlglot import exp
from test_load_sample import upload_sample

import sql_queries as sql
from sparkify_dwh import console, dialects, redshift, settings, sources, staging, statements
from sparkify_dwh import s3 as dwh_s3
from sparkify_dwh.errors import ConfigError

PARAMS = {
    "run_id": 7, "since_run": 7, "started_at": dt.datetime(2026, 11, 25, 12, 0), "target": "redshift",
    "finished_at": dt.datetime(2026, 11, 25, 12, 5), "outcome": "succeeded", "objects_loaded": 101,
    "events_staged": 8056, "songs_staged": 71, "rows_rejected": 0, "songplays_added": 6820, "message": None,
    "values_repaired": 346, "checks": "passed", "source": "events", "limit": 10, "table": "songs",
    "iam_role": "arn:aws:iam::123456789012:role/sparkify-dwh-s3-read", "region": "us-west-2",
    "manifest": "s3://work/run-1/staging_events.manifest", "jsonpaths": "s3://work/run-1/staging_events.jsonpaths",
    "max_errors": 0, "listing": "s3://work/run-1/listing.csv.gz", "rejects": "s3://work/run-1/rejects-7.gz",
    "since": dt.datetime(2026, 11, 25, 12, 0), "after": 0, "ids": (1, 2),
    "object": "s3://udacity-dend/song_data/A/A/A/TRAAAAW128F429D538.json",
    # report.py's period and trends.py's window (their own tests render them the same way)
    "date_from": dt.date(2018, 11, 1), "date_to": dt.date(2018, 11, 30), "day_after_to": dt.date(2018, 12, 1),
    "wau_from": dt.date(2018, 11, 24), "mau_from": dt.date(2018, 11, 3), "spans_from": dt.date(2018, 10, 5),
    "week_from": dt.date(2018, 10, 29), "week_to": dt.date(2018, 11, 26), "dau_day": dt.date(2018, 11, 29),
    "data_from": dt.date(2018, 11, 1), "data_week": dt.date(2018, 10, 29),
    "top_titles": ("Setanta matins", "You're The One"), "top_artists": ("Elena", "Dwight Yoakam"),
    "recent_from": dt.date(2018, 11, 24), "before_from": dt.date(2018, 11, 3), "last_day": dt.date(2018, 11, 30),
    "traffic": 0.38, "prior": 10.0, "min_listeners": 3, "candidates": 200, "top": 20, "kind": "song",
    "recent_start": dt.datetime(2018, 11, 24), "recent_end": dt.datetime(2018, 12, 1), "trend_run_id": 3,
    "load_run_id": 2, "schema": "public", "rows": 8056, "version": "1.4.0",
    "unknown_fields": "{\"events\": {\"genre\": 2}}",
}
POSTGRES_ONLY = [r"::", r"\bON CONFLICT\b", r"\bFILTER\s*\(", r"\bDISTINCT ON\b", r"\bILIKE\b", r"\bUSING brin\b",
                 r"\bFROM STDIN\b", r"\bGENERATED\b", r"\bSERIAL\b", r"\bTEXT\b", r"\bJSONB\b", r"\bTRUNCATE\b"]


def literal(value: object) -> str:
    """A value as psycopg2 renders it (standard-conforming strings)."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'::timestamp"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ")"
    return "'" + str(value).replace("'", "''") + "'"


def render(statement: str, params: dict[str, object] = PARAMS) -> str:
    """The statement as psycopg2 sends it: parameters as literals, `VALUES %s` (execute_values) as
    one row of the INSERT's arity, %% as %."""
    text = re.sub(r"%\((\w+)\)s", lambda m: literal(params[m.group(1)]).replace("::timestamp", ""), statement)
    text = re.sub(r"\(([^()]*)\)\s*VALUES %s",
                  lambda m: f"({m[1]}) VALUES ({', '.join(['NULL'] * len(m[1].split(',')))})", text)
    return text.replace("%%", "%")


def redshift_statements() -> dict[str, str]:
    """Every statement of sql_queries the Redshift path may send, by name, rendered as
    `python sql_queries.py redshift` prints it (sql_queries.statements walks the module: a
    statement added there is parsed here without being listed)."""
    return dict(statements.statements(dialects.REDSHIFT))


def test_the_walk_finds_every_kind_of_statement() -> None:
    rendered_statements = redshift_statements()
    names = {re.split(r"[\[ ]", name)[0] for name in rendered_statements}
    for expected in ("REDSHIFT_STAGING_COPY", "REDSHIFT_REJECTS_COPY", "APP_EVENTS_INSERT", "TREND_DAILY_PLAYS",
                     "REPORT_KPIS", "CHECK_COUNT", "CHECKS", "ANALYTICS_QUERIES", "SONGPLAYS_CREATE"):
        assert expected in names, expected
    assert sql.REDSHIFT_RUN_LOCK in rendered_statements.values()  # the same text as REDSHIFT_DROP_LOCK: parsed once
    assert not names & {"RUN_LOCK", "STAGING_COPY", "POSTGRES_ANALYZE", "SCHEMA_LOCK", "TRENDING_RANKED"}
    # Every statement of the lists the scripts run on Redshift is among them.
    for queries in (sql.transform_queries, sql.rebuild_queries, sql.drop_table_queries,
                    sql.analytics_app_events_queries, sql.analytics_aggregate_queries,
                    dialects.REDSHIFT.table_statements()):
        assert set(queries) <= set(rendered_statements.values())
    # (no stale exclusion above)
    assert all(name in vars(sql) for name in [*dialects.POSTGRES_ONLY_BY_USE, *dialects.TEMPLATES])


GOLDEN = Path(__file__).parent / "golden" / "redshift.sql"
REGENERATE = "python sql_queries.py redshift > tests/golden/redshift.sql"


def test_the_redshift_rendering_is_the_checked_in_one() -> None:
    """Every statement Redshift is sent, as SQL, is checked in: a change to one shows in review."""
    proc = subprocess.run([sys.executable, "sql_queries.py", "redshift"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True, check=True)
    expected = GOLDEN.read_text()
    if proc.stdout != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), proc.stdout.splitlines(keepends=True),
                                            "tests/golden/redshift.sql", "python sql_queries.py redshift"))
        pytest.fail(f"the Redshift SQL changed; if that is intended, regenerate: {REGENERATE}\n{diff}", pytrace=False)


def test_the_rendering_fills_placeholders_as_the_code_does() -> None:
    for table in sql.STAGING_FIELDS:
        assert statements.staged_columns(table) == redshift.copy_columns(table)
    postgres = dict(statements.statements(dialects.POSTGRES))
    for queries in (sql.transform_queries, sql.rebuild_queries, sql.analytics_aggregate_queries,
                    sql.POSTGRES_SESSION_SETTINGS, dialects.POSTGRES.table_statements()):
        assert set(queries) <= set(postgres.values())
    assert sql.REDSHIFT_STAGING_COPY not in postgres.values() and "REDSHIFT_RUN_LOCK" not in postgres
    assert postgres["POSTGRES_EMPTY (REBUILT_TABLES)"] == f"TRUNCATE {', '.join(sql.REBUILT_TABLES)}"
    with pytest.raises(ValueError, match=r"X: no value for \{nothing\}"):
        statements.rendered("X", "SELECT {nothing}", {})


def test_sql_queries_prints_each_statement_under_its_name() -> None:
    proc = subprocess.run([sys.executable, "sql_queries.py", "postgres"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True, check=True)
    blocks = proc.stdout.split("\n\n")
    assert blocks[0].startswith("-- ETL_RUNS_CREATE\nCREATE TABLE IF NOT EXISTS etl_runs (")
    assert blocks[0].endswith("\n);")  # no layout on PostgreSQL
    assert "-- transform_queries" not in proc.stdout  # its items are printed under their own names
    headers = [block.split("\n", 1)[0] for block in proc.stdout.split(";\n\n") if block]
    assert headers == [f"-- {name}" for name, _ in statements.statements(dialects.POSTGRES)]
    bad = subprocess.run([sys.executable, "sql_queries.py", "mysql"], cwd=Path(__file__).parents[1],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'mysql'" in bad.stderr


@pytest.mark.parametrize(("name", "statement"), list(redshift_statements().items()))
def test_every_redshift_statement_parses_as_redshift_sql(name: str, statement: str) -> None:
    text = render(statement)
    parsed = sqlglot.parse(text, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert len(parsed) == 1 and parsed[0] is not None
    if not text.lstrip().startswith("LOCK "):  # sqlglot keeps LOCK as an opaque command; all else is understood
        assert not isinstance(parsed[0], exp.Command), f"{name} was not understood: {text}"
    code = re.sub(r"--[^\n]*", "", statement)  # comments may say anything
    for pattern in POSTGRES_ONLY:
        assert not re.search(pattern, code, re.IGNORECASE), f"{name} uses {pattern}"


def test_the_staging_copy_is_pinned() -> None:
    columns = ", ".join(redshift.copy_columns("staging_events"))
    statement = render(sql.REDSHIFT_STAGING_COPY.format(table="staging_events", columns=columns))
    assert " ".join(statement.split()) == (
        "COPY staging_events (artist, auth, first_name, gender, item_in_session, last_name, length, level, location,"
        " method, page, registration, session_id, song, status, ts, user_agent, user_id, run_id, object_id,"
        " source_line, source_record) FROM 's3://work/run-1/staging_events.manifest'"
        " IAM_ROLE 'arn:aws:iam::123456789012:role/sparkify-dwh-s3-read' MANIFEST"
        " FORMAT AS JSON 's3://work/run-1/staging_events.jsonpaths' GZIP REGION 'us-west-2' MAXERROR 0"
        " COMPUPDATE OFF STATUPDATE OFF"
    )
    copy = sqlglot.parse_one(statement, read="redshift")
    assert isinstance(copy, exp.Copy)
    assert "ACCESS_KEY" not in statement.upper() and "CREDENTIALS" not in statement.upper()


def test_the_physical_design_is_in_the_redshift_ddl() -> None:
    ddl = {re.search(r"EXISTS (\w+)", s).group(1): " ".join(s.split()) for s in dialects.REDSHIFT.table_statements()}
    # songplay_id is numbered by the load (SONGPLAYS_INSERT), not by an IDENTITY: the same ids on every target
    assert ddl["songplays"].startswith("CREATE TABLE IF NOT EXISTS songplays ( songplay_id BIGINT NOT NULL PRIMARY KEY")
    assert ddl["songplays"].endswith(") DISTKEY (start_time) SORTKEY (start_time)")
    assert ddl["time"].endswith(") DISTKEY (start_time) SORTKEY (start_time)")
    for dimension in ("users", "songs", "artists"):
        assert f") DISTSTYLE ALL SORTKEY ({dimension[:-1] if dimension != 'users' else 'user'}_id)" in ddl[dimension]
    for table in ("staging_events", "staging_songs"):
        assert ddl[table].endswith(") DISTSTYLE EVEN SORTKEY (run_id)")
    assert len(ddl) == len(sql.TABLES)  # and no PostgreSQL index statements
    postgres = dialects.POSTGRES.table_statements()
    brin = {re.search(r" ON (\w+) USING brin", s).group(1) for s in postgres if "USING brin" in s}
    assert brin == {"staging_events", "staging_songs", "app_events"}
    assert not any("IDENTITY" in statement for statement in postgres)
    # The analytics layer: read per user, so distributed on user_id; the small ones on every node.
    for table in ("app_events", "user_levels", "user_days", "user_sessions"):
        assert " DISTKEY (user_id) SORTKEY (" in ddl[table]
    assert ddl["devices"].endswith(") DISTSTYLE ALL SORTKEY (user_agent)")
    assert ddl["hour_plays"].endswith(") DISTSTYLE ALL SORTKEY (activity_date, hour)")


def varchar_sizes(table: str) -> dict[str, int]:
    create = sql.TABLES[table]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+VARCHAR\((\d+)\)", create, re.MULTILINE)}


def test_varchar_sizes_hold_every_real_value_in_bytes() -> None:
    """Redshift counts VARCHAR sizes in bytes: every text value of the sample must fit, in bytes."""
    events = [json.loads(line) for path in sorted((SAMPLE / "log_data").rglob("*.json"))
              for line in path.read_text().splitlines() if line]
    songs = [json.loads(path.read_text()) for path in sorted((SAMPLE / "song_data").rglob("*.json"))]
    for table, records in (("staging_events", events), ("staging_songs", songs)):
        sizes = varchar_sizes(table)
        for column, field in sql.STAGING_FIELDS[table].items():
            if column in sizes:
                longest = max(len(str(r[field]).encode()) for r in records if r.get(field) is not None)
                assert longest * 2 <= sizes[column], f"{table}.{column}: {longest} bytes vs VARCHAR({sizes[column]})"
    assert max(len(e["userAgent"]) for e in events if e["userAgent"]) > 100  # the long real user agents
    assert any(len(s["title"].encode()) > len(s["title"]) for s in songs)  # unicode: more bytes than characters


def test_the_jsonpaths_map_source_fields_then_provenance() -> None:
    course = json.loads((SAMPLE / "log_json_path.json").read_text())["jsonpaths"]
    events = redshift.jsonpaths("staging_events")["jsonpaths"]
    assert events[:18] == course  # the course's file, field for field, in column order
    assert events[18:] == ["$['_run_id']", "$['_object_id']", "$['_source_line']", "$['_source_record']"]
    assert len(events) == len(redshift.copy_columns("staging_events"))
    songs = redshift.jsonpaths("staging_songs")["jsonpaths"]
    assert songs[:3] == ["$['num_songs']", "$['artist_id']", "$['artist_latitude']"]
    assert len(songs) == len(redshift.copy_columns("staging_songs")) == 14


@pytest.mark.parametrize(("total", "slices", "parts"), [
    (3_755_598, 4, 1),              # the sample: too small to split into 1 MB parts
    (50 << 20, 8, 6),               # ~6 MB compressed: six parts of about 1 MB
    (100 << 20, 8, 8),              # one part per slice
    (10 << 30, 4, 20),              # 10 GB: a multiple of the slices, ~512 MB (~60 MB compressed) each
    (400 << 30, 16, 800),
])
def test_part_count_follows_the_slices_and_the_sizes_aws_recommends(total: int, slices: int, parts: int) -> None:
    assert redshift.part_count(total, slices) == parts
    if parts >= slices:
        assert parts % slices == 0
        assert 1 << 20 <= total * redshift.GZIP_RATIO / parts <= 125 << 20


def staged_tuples(wh: Warehouse, table: str) -> list[tuple]:
    columns = ", ".join(sql.STAGING_FIELDS[table])
    return sorted(wh.query(f"SELECT {columns} FROM {table}"), key=repr)


def read_parts(parts: list[redshift.Part]) -> list[dict]:
    return [orjson.loads(line) for part in parts for line in gzip.decompress(part.path.read_bytes()).splitlines()]


def test_compaction_holds_every_planned_record_once_typed_as_on_postgresql(
    loaded: Warehouse, s3: S3Server, tmp_path: Path,
) -> None:
    """The sample from moto's S3, compacted into parts, against the same sample staged on PostgreSQL."""
    upload_sample(s3, "compaction")
    cfg = settings.load_config(loaded.write_config())
    with loaded.connect() as conn, conn.cursor() as cur:
        columns = {t: staging.staging_columns(cur, t) for t in sql.STAGING_FIELDS}
    for source, table, parts_wanted in (("events", "staging_events", 4), ("songs", "staging_songs", 3)):
        folder = {"events": "log_data", "songs": "song_data"}[source]
        listed = list(sources.list_objects(cfg, source, f"s3://compaction/udacity/{folder}"))
        planned = list(enumerate(listed, start=100))
        counts, rejects = staging.StageCounts(), staging.RejectSpool()
        parts = redshift.compact(cfg, iter(planned), columns[table], 9, rejects, counts, tmp_path, table, parts_wanted)
        records = read_parts(parts)
        assert len(parts) == parts_wanted and rejects.count == 0
        assert counts.rows == len(records) == {"events": 8056, "songs": 71}[source]
        # Every record once, with its object, line and ordinal, provenance first on every line.
        identities = [(r["_object_id"], r["_source_line"], r["_source_record"]) for r in records]
        assert len(set(identities)) == len(identities)
        assert {oid for oid, _, _ in identities} == {oid for oid, _ in planned}
        assert sum(p.records for p in parts) == len(records)
        first_line = gzip.decompress(parts[0].path.read_bytes()).split(b"\n", 1)[0]
        assert redshift.PROVENANCE_AT_START.match(first_line)
        assert all(r["_run_id"] == 9 for r in records)
        # Typed exactly as the PostgreSQL path stages them (the sample is loaded there from its folder).
        fields = list(sql.STAGING_FIELDS[table].values())
        assert sorted((tuple(r[f] for f in fields) for r in records), key=repr) == staged_tuples(loaded, table)
        # Balanced parts: whole objects go to the emptiest part.
        sizes = [p.written for p in parts]
        assert max(sizes) - min(sizes) <= max(obj.size for _, obj in planned) * 1.5


def test_normalised_values_are_what_redshift_needs(tmp_path: Path, loaded: Warehouse) -> None:
    cfg = settings.load_config(loaded.write_config())
    with loaded.connect() as conn, conn.cursor() as cur:
        columns = staging.staging_columns(cur, "staging_events")
    day = tmp_path / "2018-11-30-events.json"
    day.write_bytes((SAMPLE / "log_data/2018/11/2018-11-30-events.json").read_bytes()
                    + b'\n{"ts": "yesterday", "page": "NextSong", "sessionId": 1, "itemInSession": 0}\n')
    planned = [(1, sources.SourceObject("events", str(day), day.stat().st_size))]
    counts, rejects = staging.StageCounts(), staging.RejectSpool()
    parts = redshift.compact(cfg, planned, columns, 3, rejects, counts, tmp_path, "staging_events", 1)
    first = read_parts(parts)[0]
    original = json.loads((SAMPLE / "log_data/2018/11/2018-11-30-events.json").read_text().splitlines()[0])
    assert first["userId"] == int(original["userId"])  # "26" -> 26: an INTEGER column takes a number
    assert first["registration"] == int(original["registration"])  # 1540221986796.0 -> an integer for BIGINT
    assert isinstance(first["registration"], int)
    assert rejects.count == 1 and rejects.first == [f"{day} line {counts.rows + 1}: ts: 'yesterday' is not an integer"]


def test_the_manifest_lists_exactly_the_uploaded_parts(s3: S3Server, tmp_path: Path) -> None:
    s3.make_bucket("work")
    cfg = settings.load_config(Path(__file__).parents[1] / "dwh.cfg")
    cfg = cfg.replace("s3", work_prefix="s3://work/sparkify")
    area = redshift.work_area(cfg, dt.datetime(2026, 11, 25, 12, 0, 1))
    assert area.prefix.startswith("sparkify/run-20261125T120001-")
    files = []
    for i in range(3):
        path = tmp_path / f"part-{i}.json.gz"
        path.write_bytes(gzip.compress(b'{"a": %d}\n' % i * (i + 1)))
        files.append((path, f"staging_songs/part-{i}.json.gz"))
    client = s3.client()
    redshift.upload(client, area, files)
    uri = redshift.put_json(client, area, "staging_songs.manifest",
                            redshift.manifest(area, [(name, path.stat().st_size) for path, name in files]))
    assert uri == area.uri("staging_songs.manifest")
    document = json.loads(client.get_object(Bucket="work", Key=area.key("staging_songs.manifest"))["Body"].read())
    assert [e["mandatory"] for e in document["entries"]] == [True, True, True]
    for entry, (path, name) in zip(document["entries"], files, strict=True):
        assert entry["url"] == f"s3://work/{area.prefix}{name}"
        head = client.head_object(Bucket="work", Key=entry["url"][len("s3://work/"):])
        assert entry["meta"]["content_length"] == head["ContentLength"] == path.stat().st_size
    redshift.remove_work_area(client, area)
    assert client.list_objects_v2(Bucket="work", Prefix=area.prefix).get("KeyCount") == 0


def test_load_errors_name_their_source_records() -> None:
    """stl_load_errors keeps the first 1,024 characters of a rejected line: the provenance is there."""
    columns = [staging.Column("artist", "artist", "character varying", 256, False),
               staging.Column("auth", "auth", "character varying", 32, False),
               staging.Column("item_in_session", "itemInSession", "integer", None, True)]
    typer = staging.RecordTyper(columns, 9, output=staging.JSON_LINES)
    line = typer.row({"artist": "Elena", "itemInSession": "9"}, 42, None, 3)
    assert line == (b'{"_run_id":9,"_object_id":42,"_source_line":null,"_source_record":3,"artist":"Elena",'
                    b'"auth":null,"itemInSession":9}\n')
    error = redshift.load_error("s3://work/run-1/staging_events/staging_events-0001.json.gz", 17, "ts",
                                "Overflow for BIGINT", line.decode()[:1024])
    assert (error.source, error.object_id, error.source_line, error.record_no, error.reason) == (
        "events", 42, None, 3, "Redshift: ts: Overflow for BIGINT")
    unknown = redshift.load_error("s3://elsewhere/file.json", 1, "", "not ours", "garbage")
    assert (unknown.source, unknown.object_id, unknown.reason) == ("?", None, "Redshift: not ours")


def test_a_redshift_target_needs_a_work_prefix_and_a_role() -> None:
    cfg = settings.load_config(Path(__file__).parents[1] / "dwh.cfg")
    with pytest.raises(ConfigError, match=r"needs \[S3\] WORK_PREFIX"):
        redshift.work_area(cfg, dt.datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match=r"needs \[IAM_ROLE\] ARN"):
        redshift.redshift_params(cfg)


# --------------------------------------------------------------------------- the parts, byte for byte
# The parts' content is pinned: tests/golden/redshift-parts.json holds the digests of what the
# compaction wrote for the real sample and for hostile values before Redshift's compaction shared
# the PostgreSQL path's typing loop (it used to read each typed COPY row back as JSON). After a
# change meant to alter the parts: DWH_WRITE_GOLDEN=1 pytest tests/test_redshift.py -k byte (it
# writes the file and skips), then review the diff.
PARTS_GOLDEN = Path(__file__).parent / "golden" / "redshift-parts.json"
HOSTILE_TEXT = ["", " ", "Elena", "Björk", "BjÃ\x83Â¶rk", "SÃ¥ng", "Ã¯Â»Â¿x", "tab\there", "two\nlines", "cr\rhere",
                "q\x01uote", "d\x02elim", "\x01", "\x02", "\x01\x01", "Li\x00ly", "del\x7f", "\x85", "nb\xa0sp",
                "\u2028", "🎵 notes", '"quoted"', "\\N", "\\", "a" * 16, "a" * 17, "é" * 8, "é" * 9, "🎵" * 129,
                0, -1, 2.5, 1e16, 1e-7, -0.0, 2**70, True, [], {"a": 1}]
HOSTILE_INTEGER = [0, 39, -39, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 39.0, 1.5, 1540221986796.0, 1.5e12, 1e300, -0.0,
                   "39", " 39 ", "+39", "0039", "1e3", "39.000", "3.5", "abc", "", "١٢", "9" * 25, "1e999999999",
                   True, [], 100, 599, 600, 32767, 32768, 946684800000, 946684799999, 4102444800000, "1541990217796"]
HOSTILE_FLOAT = [0.0, -0.0, 305.6, 5e-324, 1.7976931348623157e308, 0, 5, 2**53 + 1, 2**80, "305.6", " 1e5 ", "-1",
                 "abc", "", "inf", "NaN", True, [], -90.0, 90.0, -90.5, 180.0, 180.1, ".5", "5.", "1_0"]
HOSTILE_BASE = {
    "staging_events": {"artist": "Elena", "auth": "Logged In", "firstName": "Lily", "gender": "F", "itemInSession": 3,
                       "lastName": "Koch", "length": 269.58322, "level": "paid", "location": "Chicago, IL",
                       "method": "PUT", "page": "NextSong", "registration": 1541048010796.0, "sessionId": 818,
                       "song": "Setanta matins", "status": 200, "ts": 1542837407796, "userAgent": "Mozilla/5.0",
                       "userId": "15"},
    "staging_songs": {"num_songs": 1, "artist_id": "ARJIE2Y1187B994AB7", "artist_latitude": 35.14968,
                      "artist_longitude": -90.04892, "artist_location": "Memphis, TN", "artist_name": "Line Renaud",
                      "song_id": "SOUPIRU12A6D4FA1E1", "title": "Der Kleine Dompfaff", "duration": 152.92036,
                      "year": 0},
}


def hostile_objects(folder: Path, columns: list[staging.Column], table: str) -> list[tuple[int, sources.SourceObject]]:
    """Objects whose records each put an awkward value (or none) into one field, then into many."""
    pools = {"text": HOSTILE_TEXT, "integer": HOSTILE_INTEGER, "float": HOSTILE_FLOAT}
    base = HOSTILE_BASE[table]
    records: list[dict] = []
    for col in columns:
        records.append({k: v for k, v in base.items() if k != col.field})  # missing
        records += [dict(base, **{col.field: None})] + [dict(base, **{col.field: v})
                                                        for v in pools[staging.column_kind(col)]]
    for i in range(200):  # several awkward values at once
        pick = {c.field: pools[staging.column_kind(c)][(i * (n + 3)) % len(pools[staging.column_kind(c)])]
                for n, c in enumerate(columns) if (i + n) % 3 == 0}
        records.append(dict(base, **pick))
    lines = [json.dumps(r, ensure_ascii=i % 2 == 0) for i, r in enumerate(records)]
    lines[7:7] = ["not json", "[1, {\"page\": 2}]", '"text"', "", "null", '{"broken": ']
    folder.mkdir(parents=True, exist_ok=True)
    files = {"lines.json": "\n".join(lines) + "\n",
             "array.json": json.dumps(records[::5], indent=1),  # records of an array have no line
             "pretty.json": "\n".join(json.dumps(r, indent=2) for r in records[1::7])}
    (folder / "lines.json.gz").write_bytes(gzip.compress(files["lines.json"].encode()))
    planned = []
    for i, name in enumerate([*files, "lines.json.gz"], start=21):
        if name in files:
            (folder / name).write_text(files[name], encoding="utf-8")
        source = {"staging_events": "events", "staging_songs": "songs"}[table]
        planned.append((i, sources.SourceObject(source, str(folder / name), (folder / name).stat().st_size)))
    return planned


def compacted(cfg: ConfigParser, planned: list[tuple[int, sources.SourceObject]],
              columns: list[staging.Column], table: str, folder: Path, parts: int) -> dict:
    """What compaction writes: each part's record count and the digest of its lines; the counts;
    the digest of the rejects (object, line, record, reason)."""
    counts, rejects = staging.StageCounts(), staging.RejectSpool()
    folder.mkdir(parents=True)
    written = redshift.compact(cfg, iter(planned), columns, 9, rejects, counts, folder, table, parts)
    names = {obj.key: Path(obj.key).name for _, obj in planned}
    spooled = [[names[key], line, record_no, reason] for _, _, key, line, record_no, reason, _ in rejects.records(9)]
    return {"parts": [[p.records, hashlib.sha256(gzip.decompress(p.path.read_bytes())).hexdigest()] for p in written],
            "counts": [counts.objects, counts.rows, counts.rejected, counts.repaired],
            "rejects": hashlib.sha256(orjson.dumps(spooled)).hexdigest()}


def parts_now(cfg: settings.Settings, columns: dict[str, list[staging.Column]], tmp: Path) -> dict:
    result: dict = {}
    for repair in ("true", "false"):
        cfg = cfg.replace("etl", repair_text=repair == "true")
        for source, table, parts in (("events", "staging_events", 3), ("songs", "staging_songs", 2)):
            folder = SAMPLE / {"events": "log_data", "songs": "song_data"}[source]
            listed = sorted(sources.list_objects(cfg, source, str(folder)), key=lambda o: o.key)
            sample = [(i, obj) for i, obj in enumerate(listed, start=100)]
            result[f"sample {table} repair={repair}"] = compacted(cfg, sample, columns[table], table,
                                                                  tmp / f"s-{table}-{repair}", parts)
            hostile = hostile_objects(tmp / f"hostile-{table}", columns[table], table)
            result[f"hostile {table} repair={repair}"] = compacted(cfg, hostile, columns[table], table,
                                                                   tmp / f"h-{table}-{repair}", 2)
    return result


def test_the_parts_are_byte_for_byte_what_they_were(loaded: Warehouse, tmp_path: Path) -> None:
    cfg = settings.load_config(loaded.write_config())
    with loaded.connect() as conn, conn.cursor() as cur:
        columns = {t: staging.staging_columns(cur, t) for t in sql.STAGING_FIELDS}
    now = parts_now(cfg, columns, tmp_path)
    if os.environ.get("DWH_WRITE_GOLDEN"):
        PARTS_GOLDEN.write_bytes(orjson.dumps(now, option=orjson.OPT_INDENT_2) + b"\n")
        pytest.skip(f"wrote {PARTS_GOLDEN}")
    golden = orjson.loads(PARTS_GOLDEN.read_bytes())
    assert now == golden
    # The sample's 8,056 events and 71 songs are all there, and the hostile objects kept some rows.
    assert now["sample staging_events repair=true"]["counts"] == [30, 8056, 0, 346]
    assert now["sample staging_songs repair=true"]["counts"][:3] == [71, 71, 0]
    assert all(now[f"hostile {t} repair=true"]["counts"][1] > 100 for t in sql.STAGING_FIELDS)


def test_hostile_values_in_the_parts_are_what_postgresql_stages(loaded: Warehouse, tmp_path: Path) -> None:
    """The same hostile objects through both outputs of the one typing loop: the parts' JSON values
    equal what PostgreSQL's own COPY reads from the COPY text, record for record."""
    cfg = settings.load_config(loaded.write_config())
    with loaded.connect() as conn, conn.cursor() as cur:
        for table in sql.STAGING_FIELDS:
            columns = staging.staging_columns(cur, table)
            planned = hostile_objects(tmp_path / table, columns, table)
            counts, rejects = staging.StageCounts(), staging.RejectSpool()
            parts = redshift.compact(cfg, iter(planned), columns, 9, rejects, counts, tmp_path, table, 2)
            fields = list(sql.STAGING_FIELDS[table].values())
            in_parts = sorted((r["_object_id"], r["_source_line"] or 0, r["_source_record"],
                               *(r[f] for f in fields)) for r in read_parts(parts))
            typer = staging.new_typer(cfg, columns, 9)
            copied, rejected = staging.StageCounts(), staging.RejectSpool()
            chunks = staging.typed_chunks(sources.read_objects(cfg, [o for _, o in planned]),
                                          {o.key: i for i, o in planned}, typer, rejected, copied)
            cur.execute(f"CREATE TEMP TABLE copied_{table} (LIKE {table})")
            staging.copy_in(cur, sql.STAGING_COPY.format(table=f"copied_{table}", columns=", ".join(typer.columns)),
                            chunks)
            cur.execute(f"SELECT object_id, COALESCE(source_line, 0), source_record,"
                        f" {', '.join(sql.STAGING_FIELDS[table])} FROM copied_{table}")
            staged = sorted(cur.fetchall())
            assert len(in_parts) == counts.rows == copied.rows > 100
            assert in_parts == staged
            assert (counts.rejected, counts.repaired) == (copied.rejected, copied.repaired) and counts.repaired > 0
            assert list(rejects.records(9)) == list(rejected.records(9))
            texts = {v for row in in_parts for v in row if type(v) is str}
            assert {"two\nlines", "q\x01uote", "\x01\x01", "", "tab\there", "del\x7f", "Björk"} <= texts
            assert any(v == 0 and math.copysign(1, v) < 0 for row in in_parts for v in row if type(v) is float)
        conn.rollback()


# --------------------------------------------------------------------------- the work area's region, MAXERROR
def test_the_work_area_copies_name_the_work_buckets_region(s3: S3Server, tmp_path: Path) -> None:
    """The listing, staging and rejects COPYs read only the work area: their REGION is the work
    bucket's (GetBucketLocation), not [S3] REGION, the sources' (AWS, COPY from Amazon S3: the
    REGION must be where the files are). doctor.py tries a COPY from there with that region."""
    import doctor

    s3.client().create_bucket(Bucket="work-frankfurt",
                              CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.make_bucket("work-virginia")
    cfg = settings.load_config(Path(__file__).parents[1] / "dwh.cfg")
    cfg = cfg.replace("s3", region="us-west-2").replace("iam_role", arn=PARAMS["iam_role"])  # the sources' region
    client = dwh_s3.s3_client(cfg)
    assert redshift.bucket_region(client, "work-frankfurt") == "eu-central-1"
    assert redshift.bucket_region(client, "work-virginia") == "us-east-1"  # no LocationConstraint
    cfg = cfg.replace("s3", work_prefix="s3://work-frankfurt/sparkify")
    stage = redshift.new_stage(cfg, dt.datetime(2026, 11, 25, 12, 0))
    try:
        assert stage.params() == {"iam_role": PARAMS["iam_role"], "region": "eu-central-1"}
    finally:
        redshift.close_stage(stage)
    with pytest.raises(doctor.CheckFailed, match=r"will name REGION 'eu-central-1', the work bucket's"):
        doctor.check_role_reads_work_area(cfg, {})
    # Where the bucket's region cannot be looked up, [S3] REGION, said so.
    assert redshift.work_region(cfg, client, "no-such-bucket") == "us-west-2"


@pytest.mark.parametrize(("budget", "maxerror"), [(0, 1), (1, 2), (41, 42), (99_999, 100_000), (10**6, 100_000),
                                                   (-3, 1)])
def test_maxerror_is_one_more_than_the_rows_copy_may_skip(budget: int, maxerror: int) -> None:
    """COPY fails when "the load returns the error_count number of errors or greater": MAXERROR n
    lets it skip n - 1 rows, so a budget of b rows is MAXERROR b + 1 (at most 100,000)."""
    assert redshift.maxerror(budget) == maxerror


# --------------------------------------------------------------------------- LOCK first
class StatementLog(psycopg2.extensions.connection):
    """A real connection that keeps what it was sent, and where each transaction ended."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def cursor(self, *args: object, **kwargs: object) -> psycopg2.extensions.cursor:
        log = self.sent

        class Logged(psycopg2.extensions.cursor):
            def execute(self, query: str, vars: object = None) -> None:
                text = query.decode() if isinstance(query, bytes) else str(query)  # execute_values sends bytes
                log.append(" ".join(text.split()))
                super().execute(query, vars)

        return super().cursor(*args, cursor_factory=Logged, **kwargs)

    def commit(self) -> None:
        self.sent.append("COMMIT")
        super().commit()

    def rollback(self) -> None:
        self.sent.append("ROLLBACK")
        super().rollback()


def transactions(sent: list[str]) -> list[list[str]]:
    """The statements sent, by transaction (each ends at a COMMIT or ROLLBACK)."""
    found, current = [], []
    for statement in sent:
        if statement in ("COMMIT", "ROLLBACK"):
            if current:
                found.append(current)
            current = []
        else:
            current.append(statement)
    return found + ([current] if current else [])


SHARED_WRITE = re.compile(r"^(INSERT INTO|UPDATE|DELETE FROM) (etl_runs|trend_runs|trend_backtests|trend_forecasts"
                          r"|trending)\b")


def test_lock_is_the_first_statement_of_a_transaction_that_writes_shared_tables(loaded: Warehouse) -> None:
    """trends.py storing a trend run, and etl.py recording a run's checks, as sent to Redshift
    (LOCK etl_runs / LOCK trend_runs run on PostgreSQL too): in every transaction that writes
    a shared table, LOCK comes before any other statement."""
    from sparkify_dwh import load, trends
    from sparkify_dwh.run import Run

    conn = psycopg2.connect(**loaded.dsn, connection_factory=StatementLog)
    try:
        trends.compute_trends(conn, dialect=dialects.REDSHIFT)
        run = Run(1, dt.datetime(2026, 1, 1), "redshift")
        load.check_after_load(conn, run, quiet=True)
        writing = [t for t in transactions(conn.sent) if any(SHARED_WRITE.match(s) for s in t)]
        assert len(writing) == 2
        assert [t[0] for t in writing] == [sql.REDSHIFT_TREND_RUN_LOCK, sql.REDSHIFT_RUN_LOCK]
    finally:
        conn.close()


# --------------------------------------------------------------------------- both engines stage alike
def test_trailing_spaces_of_text_are_dropped_so_both_engines_match_alike(warehouse: Warehouse,
                                                                           tmp_path: Path) -> None:
    """Redshift compares 'Setanta matins ' equal to 'Setanta matins', PostgreSQL does not: staging
    drops trailing spaces of every text value, so the song matches and its plays add up the same
    on both (here on PostgreSQL, what Redshift would give)."""
    from test_semantics import ndjson, play, song, write

    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    write(songs / "A/TRSPACES.json", json.dumps(dict(song("SOSPACES000000001", "Setanta matins", "ARSPACES0000001"),
                                                     artist_name="Elena")))
    write(logs / "2018/11/2018-11-15-events.json", ndjson([
        play(0, "Setanta matins", artist="Elena"), play(1, "Setanta matins  ", artist="Elena "),
        play(2, "Setanta matins", artist="Elena", level="paid "), play(3, "  Setanta matins", artist="Elena")]))
    warehouse.run("create_tables.py")
    warehouse.load(logs, songs)
    assert warehouse.query("SELECT item_in_session, song_id, level FROM songplays ORDER BY 1") == [
        (0, "SOSPACES000000001", "free"), (1, "SOSPACES000000001", "free"), (2, "SOSPACES000000001", "paid"),
        (3, None, "free")]  # leading spaces are kept: significant on both
    assert warehouse.query("SELECT song, artist, plays FROM song_totals ORDER BY 1") == [
        ("  Setanta matins", "Elena", 1), ("Setanta matins", "Elena", 3)]
    assert warehouse.scalar("SELECT COUNT(*) FROM staging_events WHERE song LIKE '%% ' OR artist LIKE '%% '"
                            " OR level LIKE '%% '") == 0


def double_column(**kwargs: object) -> staging.Column:
    return staging.Column("length", "length", "double precision", None, False, **kwargs)


@pytest.mark.parametrize("value", [5e-324, -5e-324, 2.2e-308, 1e-308, 1.7976931348623157e308, -1.5e308, 10**400,
                                   "1e-320", "2e308"])
def test_a_double_redshift_cannot_hold_is_rejected_on_every_target(value: object) -> None:
    """Redshift's DOUBLE PRECISION holds about 1E-307 to 1E+308 (and zero); PostgreSQL takes every
    IEEE double. Typing rejects the rest, on every target, through the fast paths too."""
    column = double_column()
    with pytest.raises(staging.Reject, match=r"^length: .* (is outside what a DOUBLE PRECISION holds on Redshift"
                                             r" \(1E-307 to 1E\+308\)|is not a finite number)$"):
        staging.value_converter(column)(value)
    for output in (staging.COPY_TEXT, staging.JSON_LINES):
        typer = staging.RecordTyper([column], 1, output=output)
        with pytest.raises(staging.Reject):
            typer.row({"length": value}, 1, 1, 1)


@pytest.mark.parametrize("value", [0.0, -0.0, 1e-307, -1e-307, 1e308, -1e308, 305.6, 5, "1e-300"])
def test_a_double_redshift_holds_is_kept(value: object) -> None:
    for output in (staging.COPY_TEXT, staging.JSON_LINES):
        staging.RecordTyper([double_column()], 1, output=output).row({"length": value}, 1, 1, 1)
    assert staging.value_converter(double_column())(value) == float(value)


def test_failure_records_fit_their_columns_in_bytes() -> None:
    """rejects.reason VARCHAR(512), rejects.record VARCHAR(4096), etl_runs.message VARCHAR(2048):
    Redshift counts bytes, so each is cut by bytes, at a UTF-8 boundary, after escaping."""
    spool = staging.RejectSpool()
    obj = sources.SourceObject("events", "s3://b/log_data/x.json", 10)
    reason = "ts: " + "\x01" * 300 + "é" * 300  # 300 characters escape to 1,200 bytes
    spool.add(obj, 1, 1, reason, "\x02" * 999 + "🎵")
    ((_, _, key, _, _, kept_reason, kept_record),) = list(spool.records(1))
    assert key == obj.key
    assert len(kept_reason.encode()) <= 512 and kept_reason.startswith("ts: \\x01\\x01")
    assert len(kept_record.encode()) <= 4096 and kept_record.startswith("\\x02")
    for text, limit in (("é" * 300, 511), ("🎵" * 10, 9), ("abc", 2), ("abc", 3), ("", 0)):
        cut = console.cut_bytes(text, limit)
        assert len(cut.encode()) <= limit and text.startswith(cut) and len(cut.encode()) > limit - 4
    assert console.cut_bytes("x" * 3000, 2048) == "x" * 2048


def test_the_session_panel_is_what_postgresql_computes_directly(loaded: Warehouse) -> None:
    """report.py's sessions panel from the statements Redshift takes (one sort-based aggregate in
    REPORT_SESSIONS, the median songs from REPORT_SESSION_PLAYS, SESSION_SECONDS without a
    fractional EXTRACT(EPOCH)) equals PostgreSQL's own PERCENTILE_CONTs over exact seconds."""
    from sparkify_dwh.report import numbers, panels

    with loaded.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT MIN(started_at)::date, MAX(started_at)::date FROM user_sessions")
        first, last = cur.fetchone()
        panel = panels.sessions(numbers.Inputs(cur, numbers.Period(first, last), {}))
        cur.execute("""SELECT COUNT(*), PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ended_at)
                                                                                  - EXTRACT(EPOCH FROM started_at)),
                              PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY plays)
                       FROM user_sessions""")
        sessions, seconds, plays = cur.fetchone()
        cur.execute(f"SELECT COUNT(*) FROM user_sessions WHERE {sql.SESSION_SECONDS}"
                    " <> EXTRACT(EPOCH FROM ended_at) - EXTRACT(EPOCH FROM started_at)")
        assert cur.fetchone()[0] == 0  # every session's length, to the millisecond
    assert panel["sessions"] == sessions > 500
    assert panel["median_minutes"] == round(float(seconds) / 60, 2)
    assert panel["median_songs"] == plays


def test_a_redshift_run_analyzes_what_it_staged() -> None:
    """The staging COPYs take no statistics (STATUPDATE OFF): the run analyzes staging and
    app_events itself, in its transaction (ANALYZE may run in one, unlike VACUUM)."""
    import inspect

    from sparkify_dwh import analytics, targets

    statements = redshift_statements()
    assert statements["REDSHIFT_ANALYZE (staging_events)"] == "ANALYZE staging_events PREDICATE COLUMNS"
    assert isinstance(sqlglot.parse_one(statements["REDSHIFT_ANALYZE (staging_songs)"], read="redshift"), exp.Analyze)
    assert "STATUPDATE OFF" in sql.REDSHIFT_STAGING_COPY
    assert "sql.REDSHIFT_ANALYZE" in inspect.getsource(targets.RedshiftTarget.stage)
    assert "sql.REDSHIFT_ANALYZE" in inspect.getsource(analytics.add_events)
