"""Bad input is quarantined, never fatal, never silent (DESIGN.md, "Bad input").

Every case of tests/bad_inputs/ (see cases.json and make_cases.py there) puts bad records among
real good ones. Loaded with room for rejects, the run succeeds, stages exactly the good records,
keeps each bad one in `rejects` with its object, line, ordinal, reason and text, lets nothing of
it into the star schema, and lists it with `etl.py --rejects`. Past MAX_REJECTS (a count, a
fraction or a percentage of the run's records) the run fails as a whole, says why in one line,
and still records the failed run and its rejects.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import SAMPLE, Warehouse, _embedded_warehouse, one_line_error

import etl
import sql_queries as sql
from sparkify_dwh import staging
from sparkify_dwh.sources import SourceObject, split_records
from sparkify_dwh.staging import DELIMITER, EMPTY_STRING, JSON_LINES, QUOTE, Column, RecordTyper, Reject, converter

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
CASES: dict[str, dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())
SOURCE_OF_FOLDER = {"log_data": "events", "song_data": "songs"}
ROOM_FOR_REJECTS = {"DWH_ETL_MAX_REJECTS": "100"}
STAR_AND_STAGING = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time"]
ALL_TABLES = list(sql.TABLES)  # every table of the model, the analytics layer's too

# Every bad record of the corpus is made from these, which no good record shares (make_cases.py).
POISON_QUERIES = {
    "staged event of user 15": "SELECT COUNT(*) FROM staging_events WHERE user_id = 15 OR session_id = 818",
    "songplay of user 15": "SELECT COUNT(*) FROM songplays WHERE user_id = 15 OR session_id = 818",
    "user 15": "SELECT COUNT(*) FROM users WHERE user_id = 15 OR first_name = 'Lily'",
    "staged Elena song": "SELECT COUNT(*) FROM staging_songs"
                         " WHERE song_id = 'SOZCTXZ12AB0182364' OR artist_id = 'AR5KOSW1187FB35FF4'",
    "Elena song": "SELECT COUNT(*) FROM songs"
                  " WHERE song_id = 'SOZCTXZ12AB0182364' OR artist_id = 'AR5KOSW1187FB35FF4'",
    "Elena artist": "SELECT COUNT(*) FROM artists WHERE artist_id = 'AR5KOSW1187FB35FF4' OR name = 'Elena'",
}
# What the star schema must hold given what was staged: the transforms saw only the good records.
STAR_FROM_STAGING = {
    "songplays": "SELECT COUNT(*) FROM (SELECT DISTINCT session_id, item_in_session, ts FROM staging_events"
                 " WHERE page = 'NextSong') plays",
    "users": "SELECT COUNT(DISTINCT user_id) FROM staging_events",
    "songs": "SELECT COUNT(DISTINCT song_id) FROM staging_songs",
    "artists": "SELECT COUNT(DISTINCT artist_id) FROM staging_songs",
    "time": "SELECT COUNT(DISTINCT ts) FROM staging_events WHERE page = 'NextSong'",
}


# --------------------------------------------------------------------------- helpers


class Db:
    """Queries on one autocommit connection (Warehouse.query connects anew for each query)."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh
        self.conn = wh.connect()

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, sql: str, params: object = None) -> Any:
        return self.query(sql, params)[0][0]

    def emptied(self) -> Warehouse:
        """The warehouse with every table emptied, as create_tables.py leaves it."""
        self.query(f"TRUNCATE {', '.join(ALL_TABLES)}")
        return self.wh

    def counts(self) -> dict[str, int]:
        return {table: self.scalar(f"SELECT COUNT(*) FROM {table}") for table in STAR_AND_STAGING}


def with_tables(wh: Warehouse) -> Iterator[Db]:
    wh.run("create_tables.py")
    db = Db(wh)
    yield db
    db.conn.close()


@pytest.fixture(scope="module")
def shared_embedded(embedded_server: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """One database on the embedded server for this module's many small loads; each empties it."""
    workdir = tmp_path_factory.mktemp("bad_records")
    for warehouse in _embedded_warehouse(embedded_server, workdir, f"t_bad_records_{workdir.name}"):
        yield from with_tables(warehouse)


@pytest.fixture
def postgres_db(postgres: Warehouse) -> Iterator[Db]:
    """The machine's PostgreSQL (the `postgres` fixture), tables created."""
    yield from with_tables(postgres)


def sources_of(folder: Path, empty: Path) -> tuple[Path, Path]:
    """A case's log_data and song_data folders; an empty folder where the case has none."""
    empty.mkdir(exist_ok=True)
    logs, songs = (folder / name if (folder / name).is_dir() else empty for name in SOURCE_OF_FOLDER)
    return logs, songs


def key_of(folder: Path, relative: str) -> str:
    return str((folder / relative).resolve())


def expected_rejects(name: str, run_id: int, root: Path | None = None) -> list[dict[str, Any]]:
    """The case's rejects as rows of `rejects`: loaded from its own folder, or from copies
    under root (root/log_data/<case>/..., root/song_data/<case>/...)."""

    def key(relative: str) -> str:
        if root is None:
            return key_of(CORPUS / name, relative)
        folder_name, rest = relative.split("/", 1)
        return key_of(root / folder_name / name, rest)

    return [
        {"run_id": run_id, "source": SOURCE_OF_FOLDER[r["object"].split("/")[0]],
         "object_key": key(r["object"]), "line": r["line"], "record_no": r["record_no"],
         "reason": r.get("reason"), "reason_prefix": r.get("reason_prefix"), "record": r["record"]}
        for r in CASES[name]["rejects"]
    ]


def rejects_of_run(db: Db, run_id: int) -> list[dict[str, Any]]:
    rows = db.query("SELECT run_id, source, object_key, line, record_no, reason, record FROM rejects"
                    " WHERE run_id = %s ORDER BY object_key, record_no", (run_id,))
    names = ["run_id", "source", "object_key", "line", "record_no", "reason", "record"]
    return [dict(zip(names, row, strict=True)) for row in rows]


def assert_rejects_recorded(db: Db, name: str, run_id: int) -> None:
    """`rejects` holds exactly the case's bad records, each with its reason and text."""
    assert_rejects_are(rejects_of_run(db, run_id), expected_rejects(name, run_id))


def assert_rejects_are(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected), actual
    for got, want in zip(actual, expected, strict=True):
        prefix = want.pop("reason_prefix")
        if prefix is not None:
            assert got["reason"].startswith(prefix), got["reason"]
            want["reason"] = got["reason"]
        assert got == want


def rejects_listing(db: Db, run_id: int, *, cli: bool) -> list[str]:
    """What `etl.py --rejects N` prints: run as a script (cli), or its function called here."""
    if cli:
        return db.wh.run("etl.py", "--rejects", str(run_id)).stdout.splitlines()
    with redirect_stdout(io.StringIO()) as out:
        etl.show_rejects(db.conn, run_id)
    return out.getvalue().splitlines()


def assert_rejects_listed(db: Db, run_id: int, *, cli: bool = True) -> None:
    """`etl.py --rejects N` shows every reject: object, line, ordinal and reason, one per row."""
    listing = rejects_listing(db, run_id, cli=cli)
    assert listing[0] == f"Rejects of run {run_id}"
    rows = listing[3:]  # after the title, the column headers and the rule under them
    expected = rejects_of_run(db, run_id)
    assert len(rows) == len(expected), listing
    for row, reject in zip(rows, expected, strict=True):
        assert row.startswith(reject["object_key"]), row
        assert row.rstrip().endswith(reject["reason"]), row
        line_and_record = row[len(reject["object_key"]):].split()[:2]
        assert line_and_record == [str(reject["line"]), str(reject["record_no"])], row


def assert_nothing_bad_reached_the_warehouse(db: Db) -> None:
    for what, query in POISON_QUERIES.items():
        assert db.scalar(query) == 0, f"{what} was loaded"
    for table, query in STAR_FROM_STAGING.items():
        assert db.scalar(f"SELECT COUNT(*) FROM {table}") == db.scalar(query), table


def staged_rows(db: Db, folder: Path) -> dict[str, list[int]]:
    """{object relative to the case folder: source lines of its staged rows}."""
    rows = db.query("SELECT o.object_key, s.source_line FROM loaded_objects o JOIN ("
                    " SELECT object_id, source_line FROM staging_events"
                    " UNION ALL SELECT object_id, source_line FROM staging_songs) s USING (object_id)"
                    " ORDER BY o.object_key, s.source_line")
    staged: dict[str, list[int]] = {}
    for key, line in rows:
        staged.setdefault(Path(key).relative_to(folder.resolve()).as_posix(), []).append(line)
    return staged


def check_case(db: Db, name: str, empty: Path, *, cli_listing: bool) -> None:
    """Load one case with room for its rejects, and check everything the contract promises."""
    case, folder = CASES[name], CORPUS / name
    rejected = len(case["rejects"])
    staged = {source: sum(len(lines) for key, lines in case["staged"].items() if key.startswith(folder_name))
              for folder_name, source in SOURCE_OF_FOLDER.items()}
    proc = db.emptied().load(*sources_of(folder, empty), env=ROOM_FOR_REJECTS)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert f"staged {staged['events']} events and {staged['songs']} songs; {rejected} rejected" in proc.stdout
    assert "see them with: python etl.py --rejects 1" in proc.stdout
    assert staged_rows(db, folder) == case["staged"]
    assert_rejects_recorded(db, name, run_id=1)
    assert db.query("SELECT outcome, events_staged, songs_staged, rows_rejected FROM etl_runs") == [
        ("succeeded", staged["events"], staged["songs"], rejected)]
    for key, records, bad in db.query("SELECT object_key, records, rejected FROM loaded_objects"):
        relative = Path(key).relative_to(folder.resolve()).as_posix()
        assert records == len(case["staged"].get(relative, []))
        assert bad == sum(r["object"] == relative for r in case["rejects"])
    assert_nothing_bad_reached_the_warehouse(db)
    assert_rejects_listed(db, run_id=1, cli=cli_listing)


# --------------------------------------------------------------------------- the corpus


@pytest.mark.fast
def test_the_corpus_is_broad() -> None:
    assert len(CASES) >= 25
    for name, case in CASES.items():
        files = [p for p in (CORPUS / name).rglob("*") if p.is_file()]
        assert files and all(p.stat().st_size < 8_000 for p in files), name
        assert case["rejects"] and sum(map(len, case["staged"].values())) >= 2, name


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_record_is_quarantined(shared_embedded: Db, tmp_path: Path, name: str) -> None:
    # The listing is checked through etl.show_rejects here (a script start per case is slow);
    # the whole corpus at once and the postgres cases below list through `etl.py --rejects`.
    check_case(shared_embedded, name, tmp_path / "empty", cli_listing=False)


ON_MACHINE_POSTGRES = ["not_json_csv_line", "invalid_utf8", "ts_in_microseconds", "session_id_5000_digits",
                       "multibyte_title_bytes", "array_file_broken_element", "song_missing_title"]


def test_bad_records_are_quarantined_on_postgres_too(postgres_db: Db, tmp_path: Path) -> None:
    for name in ON_MACHINE_POSTGRES:
        check_case(postgres_db, name, tmp_path / "empty", cli_listing=True)


def test_the_whole_corpus_in_one_run(shared_embedded: Db, tmp_path: Path) -> None:
    """Every case side by side in one run: each bad record still costs only itself."""
    for name in CASES:
        for folder_name in SOURCE_OF_FOLDER:
            if (CORPUS / name / folder_name).is_dir():
                shutil.copytree(CORPUS / name / folder_name, tmp_path / folder_name / name)
    staged = {folder_name: sum(len(lines) for case in CASES.values() for key, lines in case["staged"].items()
                               if key.startswith(folder_name)) for folder_name in SOURCE_OF_FOLDER}
    rejected = sum(len(case["rejects"]) for case in CASES.values())
    proc = shared_embedded.emptied().load(tmp_path / "log_data", tmp_path / "song_data", env=ROOM_FOR_REJECTS)
    assert (f"staged {staged['log_data']} events and {staged['song_data']} songs; {rejected} rejected"
            in proc.stdout)
    expected = [reject for name in CASES for reject in expected_rejects(name, 1, root=tmp_path)]
    expected.sort(key=lambda r: (r["object_key"], r["record_no"]))
    assert_rejects_are(rejects_of_run(shared_embedded, 1), expected)
    assert_nothing_bad_reached_the_warehouse(shared_embedded)
    assert shared_embedded.counts() == {  # the same three good events and two good songs, many times
        "staging_events": staged["log_data"], "staging_songs": staged["song_data"],
        "songplays": 3, "users": 3, "songs": 2, "artists": 2, "time": 3}
    assert_rejects_listed(shared_embedded, run_id=1)


CONTROL_KEY_NAME = 'ev\x1b[2Jil\tname\nwith "quotes" \\ and \x02.json'  # a file name is any bytes but / and NUL


def test_a_key_with_control_characters_is_the_same_key_in_rejects(shared_embedded: Db, tmp_path: Path) -> None:
    """rejects.object_key is the object's key exactly as loaded_objects has it, so the object's
    reject count finds its rejects."""
    logs, songs = tmp_path / "log_data", tmp_path / "song_data"
    logs.mkdir()
    songs.mkdir()
    day = (SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_text().splitlines()
    path = logs / CONTROL_KEY_NAME
    path.write_text("\n".join([day[0], day[1].replace('"ts":', '"ts":"soon","was":'), day[2]]) + "\n")
    shared_embedded.emptied().load(logs, songs, env=ROOM_FOR_REJECTS)
    key = str(path.resolve())
    assert shared_embedded.query("SELECT object_key, records, rejected FROM loaded_objects") == [(key, 2, 1)]
    assert shared_embedded.query("SELECT object_key, line, reason FROM rejects") == [
        (key, 2, "ts: 'soon' is not an integer")]


@pytest.mark.fast
def test_the_spool_gives_every_key_back_exactly() -> None:
    """What both writers of `rejects` read (COPY text on PostgreSQL, a CSV for Redshift)."""
    spool = staging.RejectSpool()
    keys = [CONTROL_KEY_NAME, "s3://b/plain.json", "\\x1b is not an escape here", "\u00e9t\u00e9\u202e.json"]
    for n, key in enumerate(keys, 1):
        spool.add(SourceObject("events", key, 1), n, None if n == 2 else n, "why\nnot", "text\x00\x1b")
    assert list(spool.records(7)) == [
        ["7", "events", key, "" if n == 2 else str(n), str(n), "why\\nnot", "text\\x00\\x1b"]
        for n, key in enumerate(keys, 1)]


# --------------------------------------------------------------------------- MAX_REJECTS


def test_one_bad_record_fails_the_run_by_default(shared_embedded: Db, tmp_path: Path) -> None:
    db, folder = shared_embedded, CORPUS / "ts_is_a_word"
    key = key_of(folder, "log_data/events.json")
    proc = db.emptied().load(*sources_of(folder, tmp_path / "empty"), check=False)  # MAX_REJECTS = 0
    first = f"{key} line 3: ts: 'yesterday' is not an integer"
    assert one_line_error(proc) == (
        "error: run 1 failed: 1 of 4 records rejected, more than MAX_REJECTS = 0 allows; nothing was loaded."
        f" First: {first} (all of them: python etl.py --rejects 1)"
    )
    # Atomic: nothing staged, planned or transformed ...
    assert set(db.counts().values()) == {0}
    assert db.scalar("SELECT COUNT(*) FROM loaded_objects") == 0
    # ... but the failed run and its rejects are recorded, and listed.
    message = f"1 of 4 records rejected, more than MAX_REJECTS = 0 allows; nothing was loaded. First: {first}"
    runs = db.query("SELECT run_id, outcome, objects_loaded, events_staged, rows_rejected, message"
                    " FROM etl_runs")
    assert runs == [(1, "failed", 0, 0, 1, message)]
    assert_rejects_recorded(db, "ts_is_a_word", run_id=1)
    assert_rejects_listed(db, run_id=1)
    # Raising the limit lets the next run load the good records, and keep the bad one again.
    proc = db.wh.load(*sources_of(folder, tmp_path / "empty"), env={"DWH_ETL_MAX_REJECTS": "1"})
    assert proc.stdout.startswith("run 2 succeeded")
    assert "staged 3 events and 0 songs; 1 rejected" in proc.stdout
    assert staged_rows(db, folder) == CASES["ts_is_a_word"]["staged"]
    assert_rejects_recorded(db, "ts_is_a_word", run_id=2)
    runs = db.query("SELECT run_id, outcome FROM etl_runs ORDER BY run_id")
    assert runs == [(1, "failed"), (2, "succeeded")]
    assert_nothing_bad_reached_the_warehouse(db)


def test_the_default_limit_fails_on_postgres_too(postgres_db: Db, tmp_path: Path) -> None:
    folder = CORPUS / "song_year_3000"
    proc = postgres_db.wh.load(*sources_of(folder, tmp_path / "empty"), check=False)
    assert one_line_error(proc).startswith("error: run 1 failed: 1 of 3 records rejected, more than MAX_REJECTS")
    assert set(postgres_db.counts().values()) == {0}
    assert postgres_db.query("SELECT run_id, outcome, rows_rejected FROM etl_runs") == [(1, "failed", 1)]
    assert_rejects_recorded(postgres_db, "song_year_3000", run_id=1)
    assert_rejects_listed(postgres_db, run_id=1)


def hundred_records(folder: Path, bad: int) -> tuple[Path, Path]:
    """100 real events in one object, the first `bad` of them given a ts in words."""
    events = [line for path in sorted((SAMPLE / "log_data/2018/11").glob("*.json"))
              for line in path.read_bytes().splitlines() if line.strip()][:100]
    for i in range(bad):
        record = json.loads(events[i])
        record["ts"] = "yesterday"
        events[i] = json.dumps(record).encode()
    (folder / "log_data").mkdir(parents=True)
    (folder / "song_data").mkdir()
    (folder / "log_data/events.json").write_bytes(b"\n".join(events) + b"\n")
    return folder / "log_data", folder / "song_data"


@pytest.mark.parametrize(("limit", "bad", "passes"), [
    ("2", 2, True), ("2", 3, False), ("3", 3, True),  # a count
    ("0.01", 1, True), ("0.01", 2, False), ("0.02", 2, True),  # a fraction of the run's 100 records
    ("1%", 1, True), ("1%", 2, False), ("0.5%", 1, False),  # a percentage
    ("29%", 29, True), ("0.29", 30, False), ("100%", 100, True),  # exact arithmetic; 100% is all, not 1
])
def test_max_rejects_boundaries(shared_embedded: Db, tmp_path: Path, limit: str, bad: int,
                                passes: bool) -> None:
    db = shared_embedded
    proc = db.emptied().load(*hundred_records(tmp_path / "data", bad), check=False,
                             env={"DWH_ETL_MAX_REJECTS": limit})
    if passes:
        assert proc.returncode == 0, proc.stderr
        assert f"staged {100 - bad} events and 0 songs; {bad} rejected" in proc.stdout
        assert db.scalar("SELECT COUNT(*) FROM staging_events") == 100 - bad
    else:
        assert one_line_error(proc).startswith(
            f"error: run 1 failed: {bad} of 100 records rejected, more than MAX_REJECTS = {limit} allows;")
        assert db.scalar("SELECT COUNT(*) FROM staging_events") == 0
    outcome = "succeeded" if passes else "failed"
    assert db.query("SELECT outcome, rows_rejected FROM etl_runs") == [(outcome, bad)]
    assert db.scalar("SELECT COUNT(*) FROM rejects WHERE run_id = 1") == bad


# --------------------------------------------------------------------------- typing rules


def column(data_type: str, *, size: int | None = None, required: bool = False, low: float | None = None,
           high: float | None = None) -> Column:
    """A staging column whose source field is called "value"."""
    return Column("col", "value", data_type, size, required, low, high)


def copy_meaning(col: Column, text: str) -> Any:
    """What PostgreSQL's COPY (FORMAT csv, QUOTE \\x01) reads from one field: unquoted empty is
    NULL, a quoted field is unquoted; then the column's type."""
    if text == "":
        return None
    if text.startswith(QUOTE):
        text = text[1:-1].replace(QUOTE + QUOTE, QUOTE)
    kind = staging.column_kind(col)
    return int(text) if kind == "integer" else float(text) if kind == "float" else text


def typed(col: Column, value: Any) -> str:
    """The COPY text of a value, through the column's converter and through the compiled row
    function (its fast path where the value takes it): both must agree. Redshift's JSON line of
    the same record holds the value that COPY text means, of the same type."""
    text = converter(col)(value)
    record = {} if value is None else {col.field: value}
    row = RecordTyper([col], run_id=1).row(record, object_id=2, line=3, record_no=4)
    assert row == DELIMITER.join([text, "1", "2", "3", "4"])
    line = RecordTyper([col], run_id=1, output=JSON_LINES).row(record, object_id=2, line=3, record_no=4)
    meant = copy_meaning(col, text)
    assert line == orjson.dumps({"_run_id": 1, "_object_id": 2, "_source_line": 3, "_source_record": 4,
                                 col.field: meant}) + b"\n"
    assert type(orjson.loads(line)[col.field]) is type(meant)  # 3.0 stays a float, 39 an int
    assert staging.value_converter(col)(value) == meant
    return text


def rejected(col: Column, value: Any) -> str:
    with pytest.raises(Reject) as converted:
        converter(col)(value)
    with pytest.raises(Reject) as rowed:
        RecordTyper([col], run_id=1).row({col.field: value}, object_id=2, line=3, record_no=4)
    with pytest.raises(Reject) as lined:
        RecordTyper([col], run_id=1, output=JSON_LINES).row({col.field: value}, object_id=2, line=3, record_no=4)
    assert str(converted.value) == str(rowed.value) == str(lined.value)
    return str(converted.value)


@pytest.mark.parametrize(("data_type", "value", "text"), [
    ("integer", 39, "39"), ("integer", "39", "39"), ("integer", " 39 ", "39"), ("integer", "+39", "39"),
    ("integer", "-39", "-39"), ("integer", 39.0, "39"), ("integer", "39.000", "39"), ("integer", None, ""),
    ("integer", "", ""), ("integer", 2**31 - 1, "2147483647"), ("smallint", -(2**15 - 1), "-32767"),
    ("bigint", 1540919166796.0, "1540919166796"), ("bigint", "1540919166796.0", "1540919166796"),
    ("bigint", "1.5e12", "1500000000000"), ("bigint", "9007199254740993.0", "9007199254740993"),
    ("bigint", "0e999999999", "0"),
    ("double precision", 269.58322, "269.58322"), ("double precision", 3, "3.0"),
    ("double precision", "2.5", "2.5"), ("double precision", " -1e3 ", "-1000.0"),
    ("double precision", None, ""), ("double precision", "", ""),
    ("character varying", "Elena", "Elena"), ("character varying", 5, "5"), ("character varying", 2.5, "2.5"),
    ("character varying", None, ""), ("character varying", "", EMPTY_STRING),
    ("character varying", "two\nlines", "\x01two\nlines\x01"),
    ("character varying", "tab\there", "tab\there"),
])
@pytest.mark.fast
def test_a_value_becomes_its_copy_text(data_type: str, value: Any, text: str) -> None:
    assert typed(column(data_type, size=512 if data_type == "character varying" else None), value) == text


@pytest.mark.parametrize(("data_type", "value", "reason"), [
    ("integer", "abc", "value: 'abc' is not an integer"),
    ("integer", "3.5", "value: '3.5' is not an integer"),
    ("integer", 3.5, "value: 3.5 is not an integer"),
    ("integer", "--5", "value: '--5' is not an integer"),
    ("integer", "1_000", "value: '1_000' is not an integer"),
    ("integer", "١٢", "value: '١٢' is not an integer"),  # Arabic-Indic digits
    ("integer", "nan", "value: 'nan' is not an integer"),
    ("integer", True, "value: true is not an integer"),
    ("integer", [1], "value: [1] is not an integer"),
    ("integer", 2**31, "value: 2147483648 does not fit in integer"),
    ("integer", "2147483648", "value: '2147483648' does not fit in integer"),
    ("smallint", 32768, "value: 32768 does not fit in smallint"),
    ("bigint", 2**63, "value: 9223372036854775808 does not fit in bigint"),
    ("bigint", 1e300, "value: 1e+300 does not fit in bigint"),
    ("bigint", "1e999999999", "value: '1e999999999' does not fit in bigint"),
    ("bigint", "9" * 5000, "value: '" + "9" * 36 + "... does not fit in bigint"),
    ("double precision", "abc", "value: 'abc' is not a number"),
    ("double precision", "nan", "value: 'nan' is not a number"),
    ("double precision", "Infinity", "value: 'Infinity' is not a number"),
    ("double precision", "1e400", "value: '1e400' is not a finite number"),
    ("double precision", "1_0", "value: '1_0' is not a number"),
    ("double precision", False, "value: false is not a number"),
    ("double precision", {"a": 1}, 'value: {"a":1} is not a number'),
    ("character varying", True, "value: expected text, got a boolean"),
    ("character varying", {"name": "Elena"}, "value: expected text, got an object"),
    ("character varying", ["Elena"], "value: expected text, got an array"),
    ("character varying", "Li\x00ly", "value: contains a NUL character"),
])
@pytest.mark.fast
def test_a_value_that_cannot_be_typed_says_why(data_type: str, value: Any, reason: str) -> None:
    size = 512 if data_type == "character varying" else None
    assert rejected(column(data_type, size=size), value) == reason


@pytest.mark.fast
def test_text_length_is_counted_in_bytes() -> None:
    six_bytes = column("character varying", size=6)
    assert typed(six_bytes, "ééé") == "ééé"  # 3 characters, 6 bytes
    assert typed(six_bytes, "abcdef") == "abcdef"
    assert rejected(six_bytes, "éééé") == "value: 8 bytes, longer than the column's 6"  # 4 characters
    assert rejected(six_bytes, "abcdefg") == "value: 7 bytes, longer than the column's 6"
    assert rejected(column("character varying", size=1024), "x" * 2000) == (
        "value: 2,000 bytes, longer than the column's 1,024")
    assert rejected(column("character varying", size=512), "🎵" * 129) == (  # 129 characters, 516 bytes
        "value: 516 bytes, longer than the column's 512")


@pytest.mark.fast
def test_required_fields_and_ranges() -> None:
    required = column("bigint", required=True)
    assert rejected(required, None) == "missing required field value"
    assert rejected(required, "") == "required field value is empty"
    assert typed(required, 0) == "0"
    required_text = column("character varying", size=64, required=True)
    assert rejected(required_text, "") == "required field value is empty"
    status = column("smallint", low=100, high=599)
    assert typed(status, 599) == "599" and typed(status, "100") == "100"
    assert rejected(status, 999) == "value: 999 is above 599"
    assert rejected(status, "99") == "value: 99 is below 100"
    length = column("double precision", low=0)
    assert typed(length, 0.0) == "0.0"
    assert rejected(length, -3.5) == "value: -3.5 is below 0"
    ts = Column("ts", "ts", "bigint", None, True, staging.EPOCH_MS_2000, 1_900_000_000_000, staging.epoch_ms)
    assert typed(ts, 1541105830796) == "1541105830796"
    assert rejected(ts, 946684799999) == "ts: 1999-12-31 23:59:59 is below 2000-01-01 00:00:00"
    microseconds = 1542837407796000  # past the year 9999 as milliseconds: shown as the number
    assert rejected(ts, microseconds) == "ts: 1542837407796000 is above 2030-03-17 17:46:40"
    assert rejected(ts, -(2**62)) == f"ts: {-(2**62)} is below 2000-01-01 00:00:00"


@pytest.mark.fast
def test_a_record_that_is_not_an_object() -> None:
    typer = RecordTyper([column("integer")], run_id=1)
    for value, kind in [(None, "null"), (42, "a number"), (2.5, "a number"), ("NextSong", "a string"),
                        ([1, 2], "an array"), (True, "a boolean")]:
        with pytest.raises(Reject, match=f"^not a JSON object but {kind}$"):
            typer.row(value, object_id=1, line=1, record_no=1)


@pytest.mark.fast
def test_a_rejected_record_keeps_its_source_text() -> None:
    data = (b'{"a":"AC\\/DC"}\n'  # parsed: the text as written, escapes and all
            b"artist,auth,firstName\n"  # a CSV line: one record, one reject
            b'[1, {"b": 2}]\n'  # elements of an array: each as JSON
            b'{"c":\n  "two lines"}\n')
    records = list(split_records(data))
    assert [(r.line, r.problem is None, staging.record_text(r)) for r in records] == [
        (1, True, '{"a":"AC\\/DC"}'),
        (2, False, "artist,auth,firstName"),
        (3, True, "1"),
        (3, True, '{"b":2}'),
        (4, True, '{"c":\n  "two lines"}'),
    ]


@pytest.mark.fast
def test_the_corpus_files_are_what_cases_json_describes() -> None:
    """Each case's staged and rejected lines account for every record of its objects."""
    for name, case in CASES.items():
        folder = CORPUS / name
        for path in (p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            data = path.read_bytes()
            data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            count = sum(1 for _ in split_records(data))
            rejects = sum(r["object"] == relative for r in case["rejects"])
            assert count == len(case["staged"].get(relative, [])) + rejects, (name, relative)


def test_make_cases_writes_the_corpus_as_it_is(tmp_path: Path) -> None:
    """cases.json and the case files are exactly what make_cases.py writes today."""
    subprocess.run([sys.executable, str(CORPUS / "make_cases.py"), str(tmp_path)], check=True,
                   capture_output=True)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*")
                  if p.is_file() and p.name != "make_cases.py" and "__pycache__" not in p.parts)
    assert written == kept
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (CORPUS / relative).read_bytes(), relative
