"""Create the Sparkify warehouse: its tables, the analysts' views and every table's description.

Creates the tables that are missing (run bookkeeping, staging, the star schema, song matching,
the analytics layer, the trend tables) and leaves existing tables and their data alone. Then
describes every analyst-facing table and column with a COMMENT, marks the toolkit's own tables
as internal, and (re)creates the analysts' schema `sparkify`: a view of each analyst-facing
table, described the same way. Drops only when asked (--drop), for example after a model change,
and says so, with the fix, when the tables on the server differ from the model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import closing
from typing import Any

import psycopg2.errors
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import catalog, cli, console, session, settings, warehouse
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--drop", action="store_true",
                        help="drop every toolkit table first (deletes all loaded data)")
    parser.add_argument("--yes", action="store_true", help="do not ask before dropping")
    args = parser.parse_args(argv)
    if args.json and args.drop and not args.yes:
        parser.error("--json with --drop needs --yes (there is no one to ask)")
    return args


def confirm_drop(target: str) -> None:
    if not sys.stdin.isatty():
        raise DwhError("--drop deletes every loaded row; add --yes to confirm when not run interactively")
    answer = input(f"Drop every Sparkify table on the {target} warehouse, with all their data? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise DwhError("nothing dropped")


def change_schema(conn: psycopg2.extensions.connection, dialect: Postgres, drop: bool) -> list[str]:
    """Drop every table (when asked) and create the missing ones, in one transaction; return the
    names created. It waits for any other create_tables.py, and a drop for any running load."""
    with session.transaction(conn) as cur:
        if dialect.advisory_locks:
            session.execute(cur, "SCHEMA_LOCK")
        if drop:
            if session.table_exists(cur, "etl_runs"):  # what a load locks first: so it waits its turn
                session.execute(cur, dialect.variant("DROP_LOCK"))
            session.run_all(cur, sql.drop_table_queries)
        missing = [name for name in sql.TABLES if not session.table_exists(cur, name)]
        session.run_all(cur, dialect.table_statements())
    if drop:
        console.say(f"dropped: {', '.join(reversed(sql.TABLES))}")
    return missing


def describe(conn: psycopg2.extensions.connection, dialect: Postgres, differing: set[str]) -> list[str]:
    """The descriptions (sql.DESCRIPTIONS) as COMMENTs on the analyst-facing tables and columns,
    the toolkit's own tables marked internal, and the analysts' schema: a view of each analyst-facing
    table, described the same. A table that differs from the model keeps its old view until it is
    fixed. Returns the tables described."""
    described = [table for table in sql.DESCRIPTIONS if table not in differing]
    with session.transaction(conn) as cur:
        if dialect.advisory_locks:
            session.execute(cur, "SCHEMA_LOCK")
        session.execute(cur, sql.CURRENT_SCHEMA)
        (schema,) = cur.fetchone()
        session.execute(cur, sql.ANALYST_SCHEMA_CREATE)
        session.execute(cur, sql.ANALYST_SCHEMA_COMMENT)
        for table in sql.TOOLKIT_TABLES:
            if table not in differing:
                session.execute(cur, sql.TOOLKIT_TABLE_COMMENTS[table])
        for table in described:
            session.execute(cur, sql.ANALYST_VIEWS[table], fill={"schema": schema})
            session.run_all(cur, sql.TABLE_COMMENTS[table])
    return described


def with_retry(change: Callable[[], Any], dialect: Postgres) -> Any:
    """Redshift has no advisory lock: when another create_tables.py created the same table
    meanwhile, this transaction fails as a whole, and the next attempt finds it there."""
    for attempt in range(3):
        try:
            return change()
        except (psycopg2.IntegrityError, psycopg2.errors.DuplicateTable, psycopg2.errors.DuplicateObject,
                psycopg2.errors.SerializationFailure, psycopg2.errors.InternalError_):
            if dialect.advisory_locks or attempt == 2:
                raise
    raise AssertionError("unreachable")


def differing_tables(differences: list[str]) -> set[str]:
    """The tables named by catalog.model_problems' differences ('etl_runs lacks column …', 'users.level is …')."""
    return {difference.split()[0].split(".")[0] for difference in differences}


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    target, dialect = cfg.warehouse.target, cfg.dialect
    with closing(warehouse.connect(cfg)) as conn:
        if args.drop and not args.yes:
            confirm_drop(target)
        created = with_retry(lambda: change_schema(conn, dialect, args.drop), dialect)
        _, differences = catalog.model_problems(conn, dialect)
        described = with_retry(lambda: describe(conn, dialect, differing_tables(differences)), dialect)
    kept = [name for name in sql.TABLES if name not in created]
    if args.json:
        cli.print_json({"target": target, "ready": not differences, "dropped": args.drop, "created": created,
                        "kept": kept, "differences": differences, "described": described,
                        "analyst_schema": sql.ANALYST_SCHEMA})
    if differences:
        raise DwhError(
            f"{len(differences)} difference(s) between the {target} warehouse and the model: "
            f"{'; '.join(differences)}. Existing tables were left alone; recreate them with:"
            " python create_tables.py --drop (this deletes their data)"
        )
    if args.json:
        return 0
    print(f"{target} warehouse ready: {len(created)} table(s) created"
          + (f" ({', '.join(created)})" if created else "")
          + (f", {len(kept)} already there and matching the model" if kept else "")
          + f"; {len(described)} described, for analysts as views in the schema {sql.ANALYST_SCHEMA}")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
