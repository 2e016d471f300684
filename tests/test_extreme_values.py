"""A value cannot fail a run (issue 22, 1): every field of a record is typed against its staging
column and every column and cast it flows into downstream (the analytics layer's DECIMAL(18, 5),
Redshift's DOUBLE range, a TIMESTAMP), so an extreme value is a reject with a reason, never a
failed statement later in the run.

Property-based (Hypothesis): the pure typing properties run many examples in milliseconds; the
load runs a few examples against the embedded server, each one more incremental run."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE, Warehouse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sql_queries as sql
from sparkify_dwh import staging

pytestmark = pytest.mark.timeout(600)

SQL_TYPES = {"VARCHAR": "character varying", "INTEGER": "integer", "BIGINT": "bigint", "SMALLINT": "smallint",
             "DOUBLE PRECISION": "double precision"}


def model_columns(table: str) -> list[staging.Column]:
    """staging.staging_columns as the model in sql_queries declares them (no server needed)."""
    create = {"staging_events": sql.STAGING_EVENTS_CREATE, "staging_songs": sql.STAGING_SONGS_CREATE}[table]
    declared = {}
    for name, dtype, size, not_null in re.findall(
            r"^\s+(\w+)\s+(VARCHAR|INTEGER|BIGINT|SMALLINT|DOUBLE PRECISION)(?:\((\d+)\))?\s*(NOT NULL)?", create,
            re.MULTILINE):
        declared[name] = (SQL_TYPES[dtype], int(size) if size else None, bool(not_null))
    columns = []
    for name, field in sql.STAGING_FIELDS[table].items():
        dtype, size, required = declared[name]
        low, high, show = staging.RANGES[table].get(name, (None, None, repr))
        columns.append(staging.Column(name, field, dtype, size, required, low, high, show,
                                      staging.LIMIT_REASONS.get((table, name), "")))
    return columns


COLUMNS = {table: model_columns(table) for table in sql.STAGING_FIELDS}

EXTREME_NUMBERS: list[Any] = [
    1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 1e-307, 9e-308, 2.2250738585072014e-308,
    2**63, 2**63 - 1, -(2**63), -(2**63) - 1, 2**64, 2**31, 2**31 - 1, -(2**31), 2**15, -0.0, 0, 0.0,
    1e13, 9999999999999.998, 9999999999999.99, 9999999999999.995, 1e12, 1e20, 1e19,
    253_402_300_800_000, 253_402_300_799_999,
    "1e308", "-0", "5e-324", "9223372036854775808", "1e13", " 12 ", "1E+400",
]
CONTROL = ["\x00", "\x01", "\x1b[2J", "\n", "\r", "\t", "\x7f", "\x85", "\u2028", "\u202e", "\x02", "\x01\x01"]


def text_values(limit: int | None) -> st.SearchStrategy[Any]:
    """Strings at and past a column's size in bytes, in one-, two-, three- and four-byte characters,
    with control characters and trailing spaces."""
    size = limit or 65535
    at_limit = ["a" * size, "a" * (size + 1), "é" * (size // 2), "é" * (size // 2) + "a", "€" * (size // 3),
                "€" * (size // 3 + 1), "😀" * (size // 4), "😀" * (size // 4 + 1), "a" * (size - 1) + "  ",
                " " * (size + 3), "Ã©" * (size // 4)]
    return st.one_of(st.sampled_from(at_limit), st.sampled_from(CONTROL),
                     st.text(alphabet=st.sampled_from(["a", "é", "€", "😀", " ", *(c for c in CONTROL if len(c) == 1)]),
                             max_size=40))


def field_values(col: staging.Column) -> st.SearchStrategy[Any]:
    extreme = st.sampled_from(EXTREME_NUMBERS)
    anything = st.one_of(st.none(), st.just(""), st.booleans(), st.just([]), st.just({}),
                         st.integers(min_value=-(2**70), max_value=2**70),
                         st.floats(allow_nan=False, allow_infinity=False))
    if staging.column_kind(col) == "text":
        return st.one_of(text_values(col.max_bytes), extreme, anything)
    return st.one_of(extreme, anything, text_values(8))


def records(table: str) -> st.SearchStrategy[dict[str, Any]]:
    """A record whose every field may be extreme (or absent)."""
    fields = {col.field: field_values(col) for col in COLUMNS[table]}
    return st.fixed_dictionaries({}, optional=fields)


def fits_downstream(table: str, col: staging.Column, value: staging.Value) -> None:
    """A typed value fits its staging column and everything it flows into downstream."""
    if value is None:
        assert not col.required, col.name
        return
    kind = staging.column_kind(col)
    if kind == "integer":
        assert type(value) is int
        assert abs(value) <= staging.INTEGER_BOUNDS[col.data_type]
    elif kind == "float":
        assert type(value) is float and math.isfinite(value)
        assert value == 0 or 1e-307 <= abs(value) <= 1e308  # Redshift's DOUBLE PRECISION
    else:
        assert type(value) is str
        assert len(value.encode()) <= (col.max_bytes or 65535)
        assert "\x00" not in value
    if (table, col.name) == ("staging_events", "length"):
        # USER_DAYS_INSERT: CAST(length AS DECIMAL(18, 5)) holds 13 digits before the point; PostgreSQL
        # converts a double through its 15 significant digits (9999999999999.998 becomes 1E+13)
        assert Decimal(f"{value:.15g}").quantize(Decimal("1e-5")) < Decimal(10) ** 13
    if (table, col.name) in (("staging_events", "registration"), ("staging_events", "ts")):
        assert 0 <= value < staging.EPOCH_MS_10000  # a TIMESTAMP and a Python datetime hold it


def typed_values(table: str, record: dict[str, Any]) -> list[staging.Value] | None:
    """The record's typed values by every column's full converter, or None when one rejects it."""
    try:
        return [staging.value_converter(col)(record.get(col.field)) for col in COLUMNS[table]]
    except staging.Reject as exc:
        assert str(exc).startswith((*(c.field for c in COLUMNS[table]), "missing", "required")), exc
        return None


@pytest.mark.fast
@pytest.mark.parametrize("table", sorted(sql.STAGING_FIELDS))
@settings(max_examples=1500, deadline=None)
@given(data=st.data())
def test_a_typed_value_fits_every_column_and_cast_downstream(table: str, data: st.DataObject) -> None:
    record = data.draw(records(table))
    values = typed_values(table, record)
    typer = staging.RecordTyper(COLUMNS[table], 1, repair=False)
    lines = staging.RecordTyper(COLUMNS[table], 1, repair=False, output=staging.JSON_LINES)
    if values is None:  # the fast paths of the compiled row reject it too, with a reason
        with pytest.raises(staging.Reject):
            typer.row(record, 1, 1, 1)
        with pytest.raises(staging.Reject):
            lines.row(record, 1, 1, 1)
        return
    for col, value in zip(COLUMNS[table], values, strict=True):
        fits_downstream(table, col, value)
    # the compiled fast paths write exactly what the full converters typed, in both formats
    assert typer.row(record, 1, 1, 1).split(staging.DELIMITER)[: len(values)] == [
        staging.copy_field(v) for v in values]
    written = json.loads(lines.row(record, 1, 1, 1))
    assert [written[col.field] for col in COLUMNS[table]] == values


@pytest.mark.fast
@pytest.mark.parametrize(("value", "reason"), [
    (1e13, "length: 10000000000000.0 is above 86400.0 (a day: no song plays longer, and a play ends at ts"
           " + length)"),
    (86400.5, "length: 86400.5 is above 86400.0"),
    (1e308, "length: 1e+308 is above 86400.0"),
    (5e-324, "length: 5e-324 is outside what a DOUBLE PRECISION holds on Redshift"),
])
def test_a_length_past_the_analytics_decimal_is_a_reject_with_its_reason(value: float, reason: str) -> None:
    length = next(c for c in COLUMNS["staging_events"] if c.name == "length")
    with pytest.raises(staging.Reject, match=re.escape(reason)):
        staging.value_converter(length)(value)


# --------------------------------------------------------------------------- the load

GOOD_EVENTS = [json.loads(line) for line in
               next((SAMPLE / "log_data").rglob("2018-11-01-events.json")).read_text().splitlines()[:12]]
GOOD_SONG = json.loads(next((SAMPLE / "song_data").rglob("*.json")).read_text())


def extreme_event() -> st.SearchStrategy[dict[str, Any]]:
    """A NextSong event of the sample with some of its fields replaced by extreme values."""
    fields = {col.field: field_values(col) for col in COLUMNS["staging_events"]}
    base = dict(GOOD_EVENTS[2])
    return st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=4, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: fields[name] for name in names})).map(lambda extreme: base | extreme)


class Loads:
    """One warehouse, one more object of events and of songs per example, loaded incrementally."""

    def __init__(self, warehouse: Warehouse, root: Path) -> None:
        self.warehouse, self.root, self.n = warehouse, root, 0
        for source in ("log_data", "song_data"):
            (root / source).mkdir()
        warehouse.run("create_tables.py")

    def load(self, events: list[dict[str, Any]], songs: list[dict[str, Any]]) -> None:
        self.n += 1
        session = 10_000_000 + self.n  # the good events of each example are new events
        good = [event | {"sessionId": session} for event in GOOD_EVENTS]
        extreme = [event | {"sessionId": event.get("sessionId") if "sessionId" in event else session,
                            "itemInSession": event.get("itemInSession", 1000 + i)}
                   for i, event in enumerate(events)]
        lines = [json.dumps(e, allow_nan=True) for e in [*good[:6], *extreme, *good[6:]]]
        (self.root / "log_data" / f"{self.n:04d}-events.json").write_text("\n".join(lines) + "\n")
        song_lines = [json.dumps(s, allow_nan=True) for s in [*songs, GOOD_SONG | {"song_id": f"SOGOOD{self.n}"}]]
        (self.root / "song_data" / f"{self.n:04d}-songs.json").write_text("\n".join(song_lines) + "\n")
        records = len(lines) + len(song_lines)
        proc = self.warehouse.load(self.root / "log_data", self.root / "song_data", check=False)
        assert proc.returncode == 0, (proc.stdout, proc.stderr, lines, song_lines)
        staged, rejected = self.warehouse.query(
            "SELECT events_staged + songs_staged, rows_rejected FROM etl_runs WHERE outcome = 'succeeded'"
            " ORDER BY run_id DESC LIMIT 1")[0]
        assert staged + rejected == records  # nothing silently dropped
        kept = self.warehouse.scalar("SELECT COUNT(*) FROM app_events WHERE session_id = %s", (session,))
        assert kept >= len(good)  # the good events around the extreme ones loaded (and theirs where typed)
        assert self.warehouse.scalar("SELECT COUNT(*) FROM songs WHERE song_id = %s", (f"SOGOOD{self.n}",)) == 1


@pytest.fixture
def loads(embedded: Warehouse, tmp_path: Path) -> Loads:
    embedded.settings["ETL"]["MAX_REJECTS"] = "100%"
    return Loads(embedded, tmp_path)


@settings(max_examples=4, deadline=None, derandomize=False, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(events=st.lists(extreme_event(), min_size=1, max_size=6),
       songs=st.lists(records("staging_songs"), max_size=3))
# issue 22's event, which stopped every later run, and the largest double below 1E+13
@example(events=[GOOD_EVENTS[2] | {"length": 1e13}, GOOD_EVENTS[2] | {"length": 9999999999999.998}], songs=[])
@example(events=[GOOD_EVENTS[2] | {"length": 1e308, "registration": 2**63 - 1, "sessionId": 2**63 - 1,
                                   "itemInSession": 2**31 - 1, "status": -0.0, "userId": "2147483647",
                                   "song": "é" * 256, "artist": "\x1b[2J" + "a" * 506, "userAgent": "\u2028"},
                 GOOD_EVENTS[2] | {"length": 86400.0, "ts": 4_102_444_799_999}],
         songs=[GOOD_SONG | {"duration": 5e-324, "artist_latitude": -0.0, "year": 2**15, "num_songs": 2**63}])
def test_extreme_values_load_or_are_rejected_and_never_fail_the_run(
        loads: Loads, events: list[dict[str, Any]], songs: list[dict[str, Any]]) -> None:
    loads.load(events, songs)
