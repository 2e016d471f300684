"""Every statement is run by name (session.execute): DWH_TRACE=1 logs its name, duration and rows,
never a parameter's value, and a failed statement is named in the script's error line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import psycopg2
import pytest
from conftest import PLANTED_SECRETS, SAMPLE, Warehouse

import sql_queries as sql
from sparkify_dwh import cli, console, session, statements

TRACE = re.compile(r"trace: (?P<name>\S+(?: \(.*\))?): (?P<outcome>[\d,]+ rows|failed) in [\d,]+\.\d ms")


def test_every_statement_is_known_by_the_name_of_its_constant() -> None:
    assert session.statement_name(sql.RUN_NEXT_ID) == "RUN_NEXT_ID"
    assert session.statement_name(sql.PLAN_DROP[1]) == "PLAN_DROP[1]"  # a list's own item
    assert session.statement_name(sql.transform_queries[7]) == "ARTIST_CANDIDATES"  # an item that is a constant
    # ... even in a list assigned before the constant existed (extended by += further down)
    assert session.statement_name(sql.SONG_TOTALS_ADD) == "SONG_TOTALS_ADD"
    assert "SONG_TOTALS_ADD" in [session.statement_name(s) for s in sql.analytics_aggregate_queries]
    assert session.statement_name(sql.drop_table_queries[1]) == "drop_table_queries[1]"
    assert session.statement_name(sql.drop_table_queries[0]) == "ANALYST_SCHEMA_DROP"  # the views go first
    assert session.statement_name(sql.CHECKS["dup_users_user_id"][1]) == "CHECKS['dup_users_user_id'][1]"
    assert session.statement_name("SELECT 1 AS inline") == "unnamed statement SELECT 1 AS"
    # Two names, one text: no name is guessed for it; the code sends such a statement by name.
    assert sql.REDSHIFT_RUN_LOCK == sql.REDSHIFT_DROP_LOCK
    with pytest.raises(ValueError, match="send it by name"):
        session.statement_name(sql.REDSHIFT_RUN_LOCK)
    assert statements.text_of("REDSHIFT_RUN_LOCK") == "LOCK etl_runs"
    names = [name for name, _ in statements.named()]
    assert len(names) == len(set(names))
    assert names.index("ETL_RUNS_CREATE") < names.index("RUN_NEXT_ID") < names.index("REPORT_KPIS")  # module order


def test_the_trace_names_each_statement_with_its_rows_and_never_a_value(
    postgres: Warehouse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    conn = postgres.connect()
    with conn.cursor() as cur:
        assert session.execute(cur, sql.CURRENT_SCHEMA) == 1  # untraced
        assert capsys.readouterr().err == ""
        monkeypatch.setenv("DWH_TRACE", "1")
        assert session.execute(cur, sql.CURRENT_SCHEMA) == 1 and cur.fetchone() == ("public",)
        assert session.execute(cur, sql.TABLE_EXISTS, {"table": "Planted-value-7f3e"}) == 0
        assert session.execute(cur, "PLAN_DROP[0]") == 0  # by name
        with pytest.raises(psycopg2.errors.UndefinedTable) as failed:
            session.execute(cur, sql.TABLE_HAS_ROWS, fill={"table": "no_such_table"})
    conn.close()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert [TRACE.fullmatch(line)["name"] for line in lines] == [  # type: ignore[index]
        "CURRENT_SCHEMA", "TABLE_EXISTS", "PLAN_DROP[0]", "TABLE_HAS_ROWS (table=no_such_table)"]
    assert [TRACE.fullmatch(line)["outcome"] for line in lines] == ["1 rows", "0 rows", "0 rows", "failed"]  # type: ignore[index]
    assert "Planted-value-7f3e" not in err
    assert console.first_line(failed.value) == (
        'relation "no_such_table" does not exist (in TABLE_HAS_ROWS (table=no_such_table))')


def test_a_failed_statement_is_named_in_the_error_line(
    postgres: Warehouse, capsys: pytest.CaptureFixture[str],
) -> None:
    def main() -> int:
        conn = postgres.connect()
        with conn.cursor() as cur:
            session.execute(cur, sql.CHECK_COUNT, fill={"check": sql.CHECKS["dup_users_user_id"][1]})
        return 0

    with pytest.raises(SystemExit) as exited:
        cli.run_script(main)
    assert exited.value.code == 1
    assert capsys.readouterr().err == ('error: the warehouse said: relation "users" does not exist'
                                       " (in CHECK_COUNT (check=CHECKS['dup_users_user_id'][1]))\n")


def test_a_script_traces_every_statement_it_sends(postgres: Warehouse) -> None:
    proc = postgres.run("create_tables.py", env={"DWH_TRACE": "1"})
    traced = [m["name"] for m in map(TRACE.fullmatch, proc.stderr.splitlines()) if m]
    assert traced[:3] == ["POSTGRES_LOCK_TIMEOUT", "SCHEMA_LOCK", "TABLE_EXISTS"]  # [ETL] LOCK_TIMEOUT at connect
    created = [name for name in traced if name.endswith("_CREATE")]
    assert created == [*(session.statement_name(text) for text in sql.TABLES.values()), "ANALYST_SCHEMA_CREATE"]
    assert created[0] == "ETL_RUNS_CREATE" and "SONGPLAYS_CREATE" in created
    indexes = [f"POSTGRES_INDEXES[{i}]" for i in range(len(sql.POSTGRES_INDEXES))]
    compared = traced.index(indexes[0]) + len(indexes) + 3
    assert traced[traced.index(indexes[0]):compared] == [*indexes, "SCHEMA_LOCK_SHARED", "CURRENT_SCHEMA",
                                                         "SCHEMA_COLUMNS"]
    # then the descriptions: the analysts' schema, its views and every COMMENT (sql.DESCRIPTIONS)
    assert traced[compared:compared + 4] == ["SCHEMA_LOCK", "CURRENT_SCHEMA", "ANALYST_SCHEMA_CREATE",
                                             "ANALYST_SCHEMA_COMMENT"]
    assert "ANALYST_VIEWS['songplays'] (schema=public)" in traced and "TABLE_COMMENTS['songplays'][1]" in traced
    assert not [line for line in proc.stderr.splitlines() if line.startswith("trace:") and not TRACE.fullmatch(line)]


# A string that is a statement, as the scripts would write one (messages and docstrings are not).
STATEMENT = re.compile(r"\s*(SELECT\s.+\bFROM\b|SELECT \w+\(|INSERT INTO|UPDATE \w+ SET|DELETE FROM|"
                       r"CREATE (TEMPORARY )?(TABLE|INDEX|DATABASE|ROLE)|DROP (TABLE|INDEX|DATABASE)|"
                       r"ALTER (TABLE|ROLE)|TRUNCATE \w|LOCK TABLE|SET \w+ =|COPY \w+ \(|ANALYZE \w+$)", re.DOTALL)
ROOT = Path(__file__).resolve().parents[1]
OWN_SQL = {"sql_queries.py", "generate_data.py", "statements.py"}  # the SQL; a data generator; the DDL reader


def inline_statements(path: Path) -> list[str]:
    """The string literals of a module that are SQL statements (an f-string by its literal parts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
                  and isinstance(node.body[0], ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
        else:
            continue
        if STATEMENT.match(text):
            found.append(f"{path.name}:{node.lineno}: {text.strip().splitlines()[0][:60]}")
    return found


def test_no_statement_is_written_outside_sql_queries() -> None:
    modules = sorted(ROOT.glob("*.py")) + sorted((ROOT / "sparkify_dwh").rglob("*.py"))
    scripts = [p for p in modules if p.name not in OWN_SQL]
    assert [line for path in scripts for line in inline_statements(path)] == []
    # The rule finds what it is for.
    first = inline_statements(ROOT / "sql_queries.py")[0]
    assert first.endswith(": CREATE TABLE IF NOT EXISTS etl_runs (")


def test_a_traced_load_names_every_statement_and_shows_no_secret(postgres: Warehouse) -> None:
    env = {"DWH_TRACE": "1", "DWH_CLUSTER_DB_PASSWORD": PLANTED_SECRETS[2]}  # trust login: sent, never needed
    postgres.run("create_tables.py", env=env)
    proc = postgres.load(SAMPLE / "log_data", SAMPLE / "song_data", env=env)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("trace:")]
    traced = {m["name"]: m["outcome"] for m in map(TRACE.fullmatch, lines) if m}
    assert [line for line in lines if not TRACE.fullmatch(line)] == []  # every statement named
    assert len(traced) > 50
    # the sample, as DESIGN.md counts it; a first load writes its empty staging tables frozen
    assert traced["STAGING_COPY_FROZEN (staging_events)"] == "8,056 rows"
    assert traced["STAGING_COPY_FROZEN (staging_songs)"] == "71 rows" and "STAGING_COPY (staging_songs)" not in traced
    assert traced["SONGPLAYS_INSERT"] == "6,820 rows" and traced["USERS_INSERT"] == "97 rows"
    assert traced["RUN_LOCK"] == "0 rows" and "REDSHIFT_RUN_LOCK" not in traced
    for secret in PLANTED_SECRETS:
        assert secret not in proc.stdout + proc.stderr
