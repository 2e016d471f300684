"""The model (sql_queries' DDL) against what the server has: missing tables and differing columns."""

from __future__ import annotations

import re

import psycopg2
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import statements
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError
from sparkify_dwh.session import execute


def _columns(cur: psycopg2.extensions.cursor, schema: str) -> dict[str, dict[str, str]]:
    execute(cur, sql.SCHEMA_COLUMNS, {"schema": schema})
    tables: dict[str, dict[str, str]] = {}
    for table, column, dtype, size, nullable in cur.fetchall():
        kind = f"{dtype}({size})" if size else dtype
        tables.setdefault(table, {})[column] = kind + (" not null" if nullable == "NO" else "")
    return tables


# How the catalog (information_schema.columns.data_type) names each type the DDL writes.
_CATALOG_TYPES = {
    "VARCHAR": "character varying", "CHAR": "character", "TEXT": "text", "SMALLINT": "smallint",
    "INTEGER": "integer", "BIGINT": "bigint", "REAL": "real", "DOUBLE PRECISION": "double precision",
    "NUMERIC": "numeric", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp without time zone",
}


_COLUMN = re.compile(r"(\w+)\s+(DOUBLE PRECISION|[A-Z]+)(?:\((\d+)(?:,\s*\d+)?\))?(.*)")


_TABLE_CONSTRAINT = re.compile(r"(PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|CONSTRAINT)\b")


def model_columns(dialect: Postgres) -> dict[str, dict[str, str]]:
    """The model's tables as the catalog would describe them (as _columns does), read from the
    DDL of sql_queries, the only description of the model: nothing is created to find out, so a
    login that may only read can compare too."""
    model: dict[str, dict[str, str]] = {}
    for statement in dialect.table_statements():
        table = statements.created_table(statement)
        if table is None:  # an index
            continue
        columns: dict[str, str] = {}
        keys: list[str] = []
        for line in table[2].splitlines():
            line = line.split("--")[0].strip().rstrip(",").strip()
            if not line:
                continue
            if _TABLE_CONSTRAINT.match(line):
                if line.startswith("PRIMARY KEY"):  # its columns are NOT NULL
                    keys += [c.strip() for c in line[line.index("(") + 1: line.rindex(")")].split(",")]
                continue
            column = _COLUMN.fullmatch(line)
            if column is None or column[2] not in _CATALOG_TYPES:
                raise ValueError(f"{table[1]}: a column definition the model reader does not know: {line!r}")
            name, kind, size, rest = column.groups()
            not_null = any(word in rest for word in ("NOT NULL", "PRIMARY KEY", "IDENTITY"))
            sized = size and kind in ("VARCHAR", "CHAR")  # the catalog's character_maximum_length
            columns[name] = _CATALOG_TYPES[kind] + (f"({size})" if sized else "") + (" not null" if not_null else "")
        for key in keys:
            columns[key] = columns[key].removesuffix(" not null") + " not null"
        model[table[1]] = columns
    return model


def column_definitions(dialect: Postgres) -> dict[str, dict[str, str]]:
    """Each model column's definition as the DDL writes it (without constraints): what an ALTER TABLE
    … ADD COLUMN takes to keep a table's data when the model adds a column."""
    definitions: dict[str, dict[str, str]] = {}
    for statement in dialect.table_statements():
        table = statements.created_table(statement)
        if table is None:
            continue
        for line in table[2].splitlines():
            line = line.split("--")[0].strip().rstrip(",").strip()
            column = _COLUMN.fullmatch(line) if line and not _TABLE_CONSTRAINT.match(line) else None
            if column is not None:
                definitions.setdefault(table[1], {})[column[1]] = line.replace("PRIMARY KEY", "").strip()
    return definitions


def model_problems(conn: psycopg2.extensions.connection, dialect: Postgres) -> tuple[list[str], list[str]]:
    """(missing tables, differences) between the warehouse and the model in sql_queries,
    column by column. It only reads the catalog (a read-only login can run check_data.py)."""
    try:
        with conn.cursor() as cur:
            if dialect.advisory_locks:  # a create_tables.py in progress: see its outcome
                execute(cur, sql.SCHEMA_LOCK_SHARED)
            execute(cur, sql.CURRENT_SCHEMA)
            (schema,) = cur.fetchone()
            actual = _columns(cur, schema)
    finally:
        conn.rollback()  # ends the reading transaction (and the shared lock)
    model = model_columns(dialect)
    definitions = column_definitions(dialect)
    missing = [t for t in sql.TABLES if t not in actual]
    differences = []
    for table in sql.TABLES:
        if table in missing:
            continue
        want, have = model[table], actual[table]
        for column, kind in want.items():
            if column not in have:
                definition = " ".join(definitions[table][column].split())
                keep = (f" (to keep the data: ALTER TABLE {table} ADD COLUMN {definition})"
                        if "NOT NULL" not in definition or "DEFAULT" in definition else "")
                differences.append(f"{table} lacks column {column}{keep}")
            elif have[column] != kind:
                differences.append(f"{table}.{column} is {have[column]}, the model says {kind}")
        differences += [f"{table} has column {c}, which the model lacks" for c in have if c not in want]
    return missing, differences


def require_model(conn: psycopg2.extensions.connection, dialect: Postgres) -> None:
    """Refuse to load into tables that are missing or differ from the model."""
    missing, differences = model_problems(conn, dialect)
    if missing:
        raise DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py")
    if differences:
        raise DwhError(
            f"the warehouse's tables differ from the model ({'; '.join(differences)});"
            " recreate them with: python create_tables.py --drop (this deletes their data)"
        )
