"""Every statement is run by name (dwh.execute): DWH_TRACE=1 logs its name, duration and rows,
never a parameter's value, and a failed statement is named in the script's error line."""

from __future__ import annotations

import re

import psycopg2
import pytest
from conftest import Warehouse

import dwh
import sql_queries as sql

TRACE = re.compile(r"trace: (?P<name>\S+(?:\(.*\))?): (?P<outcome>[\d,]+ rows|failed) in [\d,]+\.\d ms")


def test_every_statement_is_known_by_the_name_of_its_constant() -> None:
    assert dwh.statement_name(sql.RUN_NEXT_ID) == "RUN_NEXT_ID"
    assert dwh.statement_name(sql.PLAN_DROP[1]) == "PLAN_DROP[1]"  # a list's own item
    assert dwh.statement_name(sql.transform_queries[3]) == "ARTIST_CANDIDATES"  # an item that is a constant
    assert dwh.statement_name(sql.drop_table_queries[0]) == "drop_table_queries[0]"
    assert dwh.statement_name(sql.CHECKS["dup_users_user_id"][1]) == "CHECKS['dup_users_user_id'][1]"
    assert dwh.statement_name("SELECT 1 AS inline") == "unnamed statement SELECT 1 AS"
    # Two names, one text: the first is found by identity; the name itself picks the other.
    assert sql.REDSHIFT_RUN_LOCK is sql.REDSHIFT_DROP_LOCK
    assert dwh.statement_name(sql.REDSHIFT_RUN_LOCK) == "REDSHIFT_DROP_LOCK"
    names = [name for name, _ in sql.named()]
    assert len(names) == len(set(names))
    assert names.index("ETL_RUNS_CREATE") < names.index("RUN_NEXT_ID") < names.index("REPORT_KPIS")  # module order


def test_the_trace_names_each_statement_with_its_rows_and_never_a_value(
    postgres: Warehouse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    conn = postgres.connect()
    with conn.cursor() as cur:
        assert dwh.execute(cur, sql.CURRENT_SCHEMA) == 1  # untraced
        assert capsys.readouterr().err == ""
        monkeypatch.setenv("DWH_TRACE", "1")
        assert dwh.execute(cur, sql.CURRENT_SCHEMA) == 1 and cur.fetchone() == ("public",)
        assert dwh.execute(cur, sql.TABLE_EXISTS, {"table": "Planted-value-7f3e"}) == 0
        assert dwh.execute(cur, "PLAN_DROP[0]") == 0  # by name
        with pytest.raises(psycopg2.errors.UndefinedTable) as failed:
            dwh.execute(cur, sql.TABLE_HAS_ROWS, fill={"table": "no_such_table"})
    conn.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert [TRACE.fullmatch(line)["name"] for line in lines] == [  # type: ignore[index]
        "CURRENT_SCHEMA", "TABLE_EXISTS", "PLAN_DROP[0]", "TABLE_HAS_ROWS(table=no_such_table)"]
    assert [TRACE.fullmatch(line)["outcome"] for line in lines] == ["1 rows", "0 rows", "0 rows", "failed"]  # type: ignore[index]
    assert "Planted-value-7f3e" not in err
    assert dwh.first_line(failed.value) == (
        'relation "no_such_table" does not exist (in TABLE_HAS_ROWS(table=no_such_table))')


def test_a_failed_statement_is_named_in_the_error_line(
    postgres: Warehouse, capsys: pytest.CaptureFixture[str],
) -> None:
    def main() -> int:
        conn = postgres.connect()
        with conn.cursor() as cur:
            dwh.execute(cur, sql.CHECK_COUNT, fill={"check": sql.CHECKS["dup_users_user_id"][1]})
        return 0

    with pytest.raises(SystemExit) as exited:
        dwh.run_script(main)
    assert exited.value.code == 1
    assert capsys.readouterr().err == ('error: the warehouse said: relation "users" does not exist'
                                       " (in CHECK_COUNT(check=CHECKS['dup_users_user_id'][1]))\n")


def test_a_script_traces_every_statement_it_sends(postgres: Warehouse) -> None:
    proc = postgres.run("create_tables.py", env={"DWH_TRACE": "1"})
    traced = [m["name"] for m in map(TRACE.fullmatch, proc.stderr.splitlines()) if m]
    assert traced[:2] == ["SCHEMA_LOCK", "TABLE_EXISTS"]
    created = [name for name in traced if name.endswith("_CREATE")]
    assert created == [dwh.statement_name(text) for text in sql.TABLES.values()]
    assert created[:3] == ["ETL_RUNS_CREATE", "LOADED_OBJECTS_CREATE", "REJECTS_CREATE"] and len(created) == 26
    indexes = [f"POSTGRES_INDEXES[{i}]" for i in range(len(sql.POSTGRES_INDEXES))]
    assert traced[traced.index(indexes[0]):] == [*indexes, "SCHEMA_LOCK_SHARED", "CURRENT_SCHEMA", "SCHEMA_COLUMNS"]
    assert not [line for line in proc.stderr.splitlines() if line.startswith("trace:") and not TRACE.fullmatch(line)]
