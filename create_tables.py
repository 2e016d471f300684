"""Create the Sparkify warehouse's tables: bookkeeping, staging and the star schema.

Creates what is missing and leaves existing tables and their data alone. Drops only when
asked (--drop), for example after a model change, and says so when the tables on the server
differ from the model.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing

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
    return parser.parse_args(argv)


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


def change_schema_with_retry(conn: psycopg2.extensions.connection, dialect: Postgres, drop: bool) -> list[str]:
    """Redshift has no advisory lock: when another create_tables.py created the same table
    meanwhile, this transaction fails as a whole, and the next attempt finds it there."""
    for attempt in range(3):
        try:
            return change_schema(conn, dialect, drop)
        except (psycopg2.IntegrityError, psycopg2.errors.DuplicateTable, psycopg2.errors.DuplicateObject,
                psycopg2.errors.SerializationFailure, psycopg2.errors.InternalError_):
            if dialect.advisory_locks or attempt == 2:
                raise
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    target, dialect = cfg.warehouse.target, cfg.dialect
    with closing(warehouse.connect(cfg)) as conn:
        if args.drop and not args.yes:
            confirm_drop(target)
        created = change_schema_with_retry(conn, dialect, args.drop)
        _, differences = catalog.model_problems(conn, dialect)
    if differences:
        raise DwhError(
            f"{len(differences)} difference(s) between the {target} warehouse and the model: "
            f"{'; '.join(differences)}. Existing tables were left alone; recreate them with:"
            " python create_tables.py --drop (this deletes their data)"
        )
    kept = [name for name in sql.TABLES if name not in created]
    print(f"{target} warehouse ready: {len(created)} table(s) created"
          + (f" ({', '.join(created)})" if created else "")
          + (f", {len(kept)} already there and matching the model" if kept else ""))
    return 0


if __name__ == "__main__":
    cli.run_script(main)
