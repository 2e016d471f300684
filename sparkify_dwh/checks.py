"""check_data.py's checks: each is a query for the offending rows (sql_queries, section 6), run
and reported as a result; the song match rate, the response time of typical analytics queries and
a sample of every table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import catalog, console, session
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError

EXAMPLES = 3  # offending rows shown per failed check


@dataclass
class CheckResult:
    name: str
    description: str
    count: int  # offending rows
    columns: list[str]
    examples: list[tuple[Any, ...]]  # the first few offending rows

    @property
    def passed(self) -> bool:
        return self.count == 0


@dataclass
class MatchRate:
    matched: int  # songplays with a song_id
    total: int

    @property
    def percent(self) -> float | None:
        return 100 * self.matched / self.total if self.total else None


@dataclass
class Timing:
    name: str
    description: str
    median_ms: float
    rows: int
    runs: int


@dataclass
class TableSample:
    table: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class Report:
    checks: list[CheckResult]
    match_rate: MatchRate
    timings: list[Timing]
    samples: list[TableSample]
    warnings: list[CheckResult] = field(default_factory=list)  # only those that found rows


def column_names(cur: psycopg2.extensions.cursor) -> list[str]:
    return [column.name for column in cur.description]


def run_check(cur: psycopg2.extensions.cursor, name: str, description: str, query: str,
              examples: int = EXAMPLES) -> CheckResult:
    """Count the check's offending rows in the warehouse, and fetch the first few of them."""
    session.execute(cur, sql.CHECK_COUNT, fill={"check": query})
    (count,) = cur.fetchone()
    if count == 0:
        return CheckResult(name, description, 0, [], [])
    session.execute(cur, sql.CHECK_EXAMPLES, {"limit": examples}, fill={"check": query})
    return CheckResult(name, description, count, column_names(cur), cur.fetchall())


def run_checks(conn: psycopg2.extensions.connection, examples: int = EXAMPLES,
               progress: Callable[[Callable[[], str]], None] | None = None) -> list[CheckResult]:
    """Every check of sql_queries.CHECKS, in order. Only reads: commits and rolls back nothing.
    `progress` (a console.Progress) is told after each check."""
    results: list[CheckResult] = []
    with conn.cursor() as cur:
        for name, (description, query) in sql.CHECKS.items():
            results.append(run_check(cur, name, description, query, examples))
            if progress is not None:
                progress(lambda: f"  checks: {len(results)} of {len(sql.CHECKS)} done")
    return results


def run_warnings(conn: psycopg2.extensions.connection, examples: int = EXAMPLES) -> list[CheckResult]:
    """The warnings of sql_queries.WARNINGS that find rows, each with its first examples."""
    found = []
    with conn.cursor() as cur:
        for name, (description, query) in sql.WARNINGS.items():
            session.execute(cur, sql.CHECK_COUNT, fill={"check": query})
            (count,) = cur.fetchone()
            if count:
                session.execute(cur, sql.WARNING_EXAMPLES, {"limit": examples}, fill={"check": query})
                found.append(CheckResult(name, description, count, column_names(cur), cur.fetchall()))
    return found


def failure_summary(results: Sequence[CheckResult]) -> str | None:
    """'2 of 25 checks failed: dup_users_user_id, ...', or None when all passed."""
    failed = [result.name for result in results if not result.passed]
    return f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}" if failed else None


def song_match_rate(conn: psycopg2.extensions.connection) -> MatchRate:
    with conn.cursor() as cur:
        session.execute(cur, sql.SONG_MATCH_RATE)
        matched, total = cur.fetchone()
    return MatchRate(matched, total)


def time_analytics_queries(conn: psycopg2.extensions.connection, repeat: int) -> list[Timing]:
    """Each typical analytics query `repeat` times; the median is what a user would usually wait.
    None when repeat is 0."""
    timings: list[Timing] = []
    if repeat == 0:
        return timings
    with conn.cursor() as cur:
        for name, (description, query) in sql.ANALYTICS_QUERIES.items():
            seconds = []
            for _ in range(repeat):
                started = time.perf_counter()
                session.execute(cur, query)
                rows = len(cur.fetchall())
                seconds.append(time.perf_counter() - started)
            timings.append(Timing(name, description, 1000 * statistics.median(seconds), rows, repeat))
    return timings


def sample_tables(conn: psycopg2.extensions.connection, limit: int) -> list[TableSample]:
    if limit == 0:
        return []
    samples = []
    with conn.cursor() as cur:
        for table in sql.TABLES:
            session.execute(cur, sql.SAMPLE_ROWS, {"limit": limit}, fill={"table": table})
            samples.append(TableSample(table, column_names(cur), cur.fetchall()))
    return samples


def require_tables(conn: psycopg2.extensions.connection, dialect: Postgres) -> None:
    """Refuse only when tables are missing. Checking only reads, so tables that differ from the
    model (a dropped constraint, say) are still checked, with a warning."""
    missing, differences = catalog.model_problems(conn, dialect)
    if missing:
        raise DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py")
    if differences:
        console.say(f"warning: the warehouse's tables differ from the model ({'; '.join(differences)});"
                " checking them anyway")


def use_memory_for_checks(conn: psycopg2.extensions.connection, dialect: Postgres) -> None:
    """PostgreSQL: the memory a run's session has (POSTGRES_SESSION_SETTINGS), for the reconciliations'
    hashes and sorts of whole tables (at 10M events, 64 s instead of 104 s for the slowest). A
    setting of this session only: any login may make it, and nothing is written."""
    with conn.cursor() as cur:
        session.run_all(cur, dialect.session_settings())
    conn.commit()
