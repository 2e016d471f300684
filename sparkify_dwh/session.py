"""The database session: every statement by its sql_queries name (traced with DWH_TRACE=1, named
in errors), transactions, and the PostgreSQL bulk-load helpers."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import statements
from sparkify_dwh.console import say
from sparkify_dwh.errors import LockTimeout


def utc_now() -> datetime:
    """Now, as the warehouse keeps time: UTC in a TIMESTAMP without time zone."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor whose work commits together, or not at all."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def statement_name(statement: str) -> str:
    """The sql_queries name of a statement given by its text (statements.name_of)."""
    return statements.name_of(statement)


def execute(cur: psycopg2.extensions.cursor, statement: str, params: Any = None, *,
            fill: dict[str, str] | None = None, name: str | None = None) -> int:
    """Run one statement of sql_queries, given as its constant or by name ('RUN_LOCK', 'PLAN_DROP[1]',
    needed where two names hold one text), a template's {placeholders} filled from `fill`. Returns
    the rows it returned or changed (0 for none). `name`: for a statement the catalog wrote."""
    known = statements.text_of(statement)
    if known is not None:
        name, text = statement, known
    else:
        name, text = name or statement_name(statement), statement
    if fill:
        text = text.format(**fill)
        name += " (" + ", ".join(f"{key}={_fill_label(value)}" for key, value in fill.items()) + ")"

    def send() -> int:
        cur.execute(text, params)
        return max(cur.rowcount, 0)

    return traced(name, send, getattr(cur, "connection", None))


def traced(name: str, send: Callable[[], int], conn: psycopg2.extensions.connection | None = None) -> int:
    """send() the statement `name`; its trace line, and its name on a failure (first_line shows it).
    On a watched connection (watch_locks), a wait for another session's lock is said on stderr."""
    started = time.monotonic()
    try:
        with LockWatch(conn):
            rows = send()
    except psycopg2.Error as exc:
        exc.dwh_statement = name  # type: ignore[attr-defined]
        trace(name, started, None)
        raise
    trace(name, started, rows)
    return rows


def _fill_label(value: str) -> str:
    """A filled-in value as the trace shows it: a statement by its name, a table by itself."""
    if len(value) <= 60 and "\n" not in value:
        return value
    name = statements.name_of(value)
    return name if not name.startswith("unnamed") else " ".join(value.split()[:3]) + " ..."


def trace(name: str, started: float, rows: int | None) -> None:
    """With DWH_TRACE=1: one line on stderr for a statement that ran (rows None: it failed)."""
    if os.environ.get("DWH_TRACE", "") not in ("", "0"):
        outcome = "failed" if rows is None else f"{rows:,} rows"
        say(f"trace: {name}: {outcome} in {(time.monotonic() - started) * 1000:,.1f} ms")


def insert_values(cur: psycopg2.extensions.cursor, statement: str, rows: list[Any], page_size: int = 100) -> None:
    """An `INSERT ... VALUES %s` of sql_queries for many rows (psycopg2's execute_values), traced as one."""
    import psycopg2.extras

    def send() -> int:
        psycopg2.extras.execute_values(cur, statement, rows, page_size=page_size)
        return len(rows)

    traced(statement_name(statement), send)


def run_all(cur: psycopg2.extensions.cursor, statements: Iterable[str], params: dict[str, Any] | None = None) -> None:
    for statement in statements:
        execute(cur, statement, params)


def analyze_if_grown(cur: psycopg2.extensions.cursor, table: str, rows_added: int) -> None:
    """PostgreSQL: fresh statistics for a table only when a run added a large share of its rows
    (sql_queries.POSTGRES_ANALYZE_SHARE), or it was never analyzed: ANALYZE costs the same
    sample however few rows are new."""
    if not rows_added:
        return
    execute(cur, sql.POSTGRES_ESTIMATED_ROWS, {"table": table})
    (estimated,) = cur.fetchone()
    if estimated <= 0 or rows_added >= sql.POSTGRES_ANALYZE_SHARE * estimated:
        execute(cur, sql.POSTGRES_ANALYZE, fill={"table": table})


def is_empty(cur: psycopg2.extensions.cursor, table: str) -> bool:
    execute(cur, sql.TABLE_HAS_ROWS, fill={"table": table})
    return not cur.fetchone()[0]


def truncate_empty(cur: psycopg2.extensions.cursor, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: those of `tables` that are empty, truncated (a fresh file each, within the
    caller's transaction), so that the embedded server (wal_level = minimal) fills them without
    WAL and a COPY may write their rows frozen. Returns them."""
    emptied = [table for table in tables if is_empty(cur, table)]
    if emptied:
        execute(cur, sql.POSTGRES_EMPTY, fill={"tables": ", ".join(emptied)})
    return emptied


@contextmanager
def indexes_built_after(cur: psycopg2.extensions.cursor, tables: Iterable[str]) -> Iterator[list[str]]:
    """PostgreSQL: the indexes and key constraints of those of `tables` that are empty now are
    dropped, and built again once the block has filled them (see POSTGRES_BULK_TABLES). Yields
    the tables it did that for. Within the caller's transaction: a failure rolls the drops back."""
    emptied = truncate_empty(cur, tables)
    rebuild: list[str] = []
    for table in emptied:
        execute(cur, sql.POSTGRES_TABLE_INDEXES, {"table": table})
        for index, constraint, definition in cur.fetchall():
            if constraint:
                execute(cur, sql.POSTGRES_DROP_CONSTRAINT, fill={"table": table, "name": constraint})
                rebuild.append({"table": table, "name": constraint, "definition": definition})
            else:
                execute(cur, sql.POSTGRES_DROP_INDEX, fill={"name": index})
                rebuild.append({"index": index, "definition": definition})
    yield emptied
    for again in rebuild:  # a constraint as it was declared; an index by the catalog's own CREATE INDEX
        if "index" in again:
            execute(cur, again["definition"], name=f"POSTGRES_TABLE_INDEXES ({again['index']})")
        else:
            execute(cur, sql.POSTGRES_ADD_CONSTRAINT, fill=again)


def table_exists(cur: psycopg2.extensions.cursor, name: str) -> bool:
    execute(cur, sql.TABLE_EXISTS, {"table": name})
    return cur.fetchone() is not None


# --------------------------------------------------------------------------- waiting for locks
# No silent waits: a statement blocked for more than LOCK_NOTICE_AFTER seconds by another session's
# lock says so on stderr, naming the table and the blocking sessions (pid, application, state, for
# how long), every LOCK_NOTICE_EVERY seconds while it waits. [ETL] LOCK_TIMEOUT bounds the wait.

LOCK_NOTICE_AFTER, LOCK_NOTICE_EVERY = 3.0, 5.0

_openers: weakref.WeakKeyDictionary[Any, Callable[[], psycopg2.extensions.connection]] = weakref.WeakKeyDictionary()


def watch_locks(conn: psycopg2.extensions.connection, opener: Callable[[], psycopg2.extensions.connection]) -> None:
    """Watch the statements of conn for lock waits; opener gives the second connection that asks who blocks."""
    _openers[conn] = opener


def blockers_line(what: str, waited: float, rows: list[tuple[Any, ...]]) -> str:
    """One line: what has waited how long for which table, held by which sessions."""
    tables = sorted({str(row[0]) for row in rows})
    held = "; ".join(f"session {pid} ({app}, {state or 'no state'} for {seconds:,} s)"
                     for _, pid, app, state, seconds in rows[:3]) + (" …" if len(rows) > 3 else "")
    return (f"{what} has waited {waited:,.0f} s for a lock on {', '.join(tables)}, held by {held}"
            f" ([ETL] LOCK_TIMEOUT bounds the wait)")


class LockWatch:
    """While a statement runs: after a few seconds, and then every few, who it waits for (if anyone)."""

    def __init__(self, conn: psycopg2.extensions.connection | None) -> None:
        self.opener = _openers.get(conn) if conn is not None else None
        self.done = threading.Event()
        self.thread: threading.Thread | None = None
        if self.opener is not None:
            assert conn is not None
            self.pid = conn.get_backend_pid()

    def __enter__(self) -> LockWatch:
        if self.opener is not None:
            self.started = time.monotonic()
            self.thread = threading.Thread(target=self._watch, name="lock-watch", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(10)

    def _watch(self) -> None:
        if self.done.wait(LOCK_NOTICE_AFTER) or self.opener is None:
            return
        try:
            other = self.opener()
        except Exception:  # the notice is a courtesy: the statement itself goes on waiting
            return
        try:
            while not self.done.is_set():
                with other.cursor() as cur:
                    cur.execute(sql.POSTGRES_LOCK_WAITS, {"pid": self.pid})
                    rows = cur.fetchall()
                if rows and not self.done.is_set():
                    say(blockers_line("this script", time.monotonic() - self.started, rows))
                if self.done.wait(LOCK_NOTICE_EVERY):
                    break
        except Exception:  # as above
            pass
        finally:
            other.close()


def lock_for_fill(cur: psycopg2.extensions.cursor, tables: list[str], timeout: float) -> None:
    """PostgreSQL: ACCESS EXCLUSIVE locks on `tables`, all at once in the order of sql.TABLES, without
    queueing: tried again (backing off up to a second) until no other session holds any of them, so
    this writer never holds some while it waits for others, and no reader queues behind it. Says
    who it waits for, as LockWatch does; gives up after `timeout` seconds (0: never)."""
    ordered = [name for name in sql.TABLES if name in tables]
    started = time.monotonic()
    next_notice = started + LOCK_NOTICE_AFTER
    pause = 0.02
    while True:
        execute(cur, sql.POSTGRES_LOCK_SAVEPOINT)
        try:
            execute(cur, sql.POSTGRES_LOCK_FOR_FILL, fill={"tables": ", ".join(ordered)})
        except psycopg2.errors.LockNotAvailable:
            execute(cur, sql.POSTGRES_LOCK_RETRY)
        else:
            execute(cur, sql.POSTGRES_LOCK_TAKEN)
            return
        waited = time.monotonic() - started
        if timeout and waited >= timeout:
            execute(cur, sql.POSTGRES_LOCK_HOLDERS, {"tables": ordered})
            holders = cur.fetchall()
            raise LockTimeout("gave up: " + blockers_line("emptying tables", waited, holders).replace(
                "([ETL] LOCK_TIMEOUT bounds the wait)", f"after [ETL] LOCK_TIMEOUT = {timeout:g} s"))
        if time.monotonic() >= next_notice:
            execute(cur, sql.POSTGRES_LOCK_HOLDERS, {"tables": ordered})
            holders = cur.fetchall()
            if holders:
                say(blockers_line("emptying tables", waited, holders))
            next_notice = time.monotonic() + LOCK_NOTICE_EVERY
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
