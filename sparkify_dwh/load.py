"""The load: plan a run against what is loaded, stage the new objects, transform them into the star
schema and the analytics layer, and record the run; all or nothing (etl.py's work)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import (
    analytics,
    checks,
    console,
    dialects,
    errors,
    session,
    settings,
    sources,
    staging,
    targets,
    version,
)
from sparkify_dwh.run import Run
from sparkify_dwh.settings import SOURCE_KEYS, Settings
from sparkify_dwh.sources import SourceObject
from sparkify_dwh.statements import deleted_table, inserted_table
from sparkify_dwh.targets import PostgresTarget

SOURCES = tuple(SOURCE_KEYS)  # "songs", "events": each where Settings.source(name) says ([S3] SONG_DATA, LOG_DATA)
MESSAGE_BYTES = 2048  # etl_runs.message: VARCHAR(2048), bytes on Redshift


class RunFailed(errors.DwhError):
    """A run failed and was recorded as run_id (None when it could not be recorded)."""

    def __init__(self, message: str, run_id: int | None) -> None:
        super().__init__(message)
        self.run_id = run_id


def list_sources(cfg: Settings, known: dict[str, sources.KnownFolders] | None = None,
                 ) -> Iterator[SourceObject]:
    for source in SOURCES:
        yield from sources.list_objects(cfg, source, cfg.source(source), (known or {}).get(source))


def plan_run(cur: psycopg2.extensions.cursor, target: PostgresTarget, run: Run,
             listing: Iterator[SourceObject]) -> None:
    """Plan the run (the temporary table planned_objects): every listed object not loaded before."""
    console.say("listing sources and planning ...")
    session.run_all(cur, sql.PLAN_DROP)
    session.execute(cur, sql.LISTED_OBJECTS_CREATE)
    target.load_listing(cur, listing)
    session.execute(cur, sql.PLAN_NEW_OBJECTS)
    session.execute(cur, sql.PLAN_SUMMARY)
    run.planned = {source: (int(objects), int(size)) for source, objects, size in cur.fetchall()}


def begin_run(cur: psycopg2.extensions.cursor, target: PostgresTarget, started: datetime) -> Run:
    """Wait for any other run to finish, then take the next run id."""
    target.lock(cur)
    session.execute(cur, sql.RUN_NEXT_ID)
    (run_id,) = cur.fetchone()
    name = target.cfg.warehouse.target
    session.execute(cur, sql.RUN_START, {"run_id": run_id, "started_at": started, "target": name,
                                         "version": version.version()})
    return Run(run_id, started, name)


def stage(cur: psycopg2.extensions.cursor, target: PostgresTarget, run: Run) -> None:
    """The planned objects into staging, within MAX_REJECTS, their rejects beside them, and the
    objects recorded as loaded (not those that could not be read: the next run tries them again)."""
    target.stage(cur, run)
    targets.enforce_reject_limit(target.cfg, run)
    target.write_rejects(cur, run.rejects, run.run_id)
    session.execute(cur, sql.LOADED_OBJECTS_INSERT, {"run_id": run.run_id})


def count_rows(cur: psycopg2.extensions.cursor, *, kept: bool = True) -> dict[str, int]:
    """The star tables' rows: as table_rows keeps them (kept), counting only a table it lacks."""
    counts = {}
    if kept:
        session.execute(cur, sql.KEPT_TABLE_ROWS)
        counts = {table: rows for table, rows in cur.fetchall() if table in sql.STAR_TABLES}
    for table in sql.STAR_TABLES:
        if table not in counts:
            session.execute(cur, sql.TABLE_ROWS, fill={"table": table})
            counts[table] = cur.fetchone()[0]
    return counts


def keep_rows(cur: psycopg2.extensions.cursor, run: Run) -> None:
    for table, rows in run.rows_after.items():
        session.run_all(cur, sql.KEEP_TABLE_ROWS, {"table": table, "rows": rows, "run_id": run.run_id})


def transform(cur: psycopg2.extensions.cursor, target: PostgresTarget, since_run: int) -> Counter[str]:
    """The star schema and the analytics layer from the records staged since since_run (this
    run's own records; 0: all of them). The run's new events go to app_events first, deduplicated
    once: the star schema takes its new songplays from there, and the aggregates follow. Returns
    each table's net change in rows."""
    changes: Counter[str] = Counter()
    with target.bulk_fill(cur) as filled_from_empty:
        if os.environ.get("DWH_BENCH_NO_ANALYTICS") == "1":  # bench/ only: a run without the layer, to compare
            run_transforms(cur, sql.star_only_transform_queries, since_run, filled_from_empty, changes)
            return changes
        added = analytics.add_events(cur, since_run, target.dialect)
        run_transforms(cur, sql.transform_queries, since_run, filled_from_empty, changes)
        analytics.maintain_aggregates(cur, added, target.dialect)
    console.say(f"analytics: {added.events_added:,} events added, {added.devices_added:,} new devices"
            + (" (backfilled from every staged record)" if added.backfilled else ""))
    return changes


def run_transforms(cur: psycopg2.extensions.cursor, statements: list[str], since_run: int,
                   filled_from_empty: list[str], changes: Counter[str]) -> None:
    """The statements in order, counting the rows each INSERT adds and each DELETE removes. A
    table filled from empty (PostgreSQL, without its indexes) is analyzed at once: the run's
    later statements join it, and would be planned for an empty one."""
    for statement in statements:
        started = time.monotonic()
        rows = session.execute(cur, statement, {"since_run": since_run})
        inserted, deleted = inserted_table(statement), deleted_table(statement)
        if inserted:
            changes[inserted] += rows
            if inserted in filled_from_empty:
                session.execute(cur, sql.POSTGRES_ANALYZE, fill={"table": inserted})
        elif deleted:
            changes[deleted] -= rows
        seconds = time.monotonic() - started
        if seconds > 1:
            console.say(f"  {session.statement_name(statement)}: {rows:,} rows in {seconds:.1f} s")


def finish_run(cur: psycopg2.extensions.cursor, run: Run, outcome: str, message: str | None) -> None:
    events, songs = run.staged.get("events"), run.staged.get("songs")
    session.execute(cur, sql.RUN_FINISH, {
        "run_id": run.run_id, "finished_at": session.utc_now(), "outcome": outcome,
        "objects_loaded": sum(objects for objects, _ in run.planned.values()) - len(run.rejects.unreadable),
        "events_staged": events.rows if events else 0,
        "songs_staged": songs.rows if songs else 0,
        "rows_rejected": run.rejects.count,
        "values_repaired": repaired(run),
        "songplays_added": run.rows_after.get("songplays", 0) - run.rows_before.get("songplays", 0),
        "message": message,
        "unknown_fields": json.dumps(unknown_fields(run), sort_keys=True) if unknown_fields(run) else None,
    })


def repaired(run: Run) -> int:
    return sum(counts.repaired for counts in run.staged.values())


def unknown_fields(run: Run) -> dict[str, dict[str, int]]:
    """Schema drift: per source, the staged records carrying each field the toolkit does not read."""
    return {source: dict(sorted(counts.unknown.items())) for source, counts in sorted(run.staged.items())
            if counts.unknown}


def warn_unknown_fields(run: Run) -> None:
    """One line when the sources carry fields the toolkit does not read (the records still load)."""
    found = unknown_fields(run)
    if found:
        console.say("warning: fields the toolkit does not read (loaded without them; recorded with the run): "
                    + "; ".join(f"{source} " + ", ".join(f"{name} ({count:,} records)" for name, count in names.items())
                                for source, names in found.items()))


def load(conn: psycopg2.extensions.connection, cfg: Settings, *, full_listing: bool = False) -> Run:
    """One run, all or nothing. A failed run is still recorded, with its rejects."""
    started = session.utc_now()
    sources.new_run()
    target = targets.open_target(cfg, started)
    run: Run | None = None
    try:
        with session.transaction(conn) as cur:
            target.prepare(cur)
            run = begin_run(cur, target, started)
            target.lock_empty_tables(cur)
            known = target.known_folders(cur, run.run_id, full_listing)
            plan_run(cur, target, run, list_sources(cfg, known))
            run.rows_before = count_rows(cur)
            stage(cur, target, run)
            warn_unknown_fields(run)
            target.record_folders(cur, known, run)
            console.say("transforming ...")
            changes = transform(cur, target, since_run=run.run_id)
            run.rows_after = {table: rows + changes[table] for table, rows in run.rows_before.items()}
            keep_rows(cur, run)
            finish_run(cur, run, "succeeded", None)
    except targets.STAGING_FAILURES as exc:
        assert run is not None
        message = target.failure_message(conn, run, exc)
        failed_id = record_failed_run(conn, target, message, run.rejects)
        raise RunFailed(failed_run_message(failed_id, message), failed_id) from None
    except BaseException as exc:
        failed_id = record_failed_run(conn, target, settings.redact(console.first_line(exc), cfg), None)
        with contextlib.suppress(AttributeError):  # etl.py --json names the run the failure was recorded as
            exc.dwh_run_id = failed_id  # type: ignore[attr-defined]
        raise
    finally:
        target.close()
    return run


def failed_run_message(run_id: int | None, message: str) -> str:
    """The one line for a run that failed on its records: where its rejects are listed, or, when
    even recording the failure failed (the warehouse itself, say), that they were not kept."""
    if run_id is None:
        return f"the run failed and could not be recorded, so its rejects were not kept: {message}"
    return f"run {run_id} failed: {message} (all of them: python etl.py --rejects {run_id})"


def record_failed_run(conn: psycopg2.extensions.connection, target: PostgresTarget, message: str,
                      rejects: staging.RejectSpool | None) -> int | None:
    """After the rollback: a run row saying why, and the rejects that caused it."""
    try:
        with session.transaction(conn) as cur:
            run = begin_run(cur, target, target.started)
            if rejects is not None:
                run.rejects = rejects
                target.write_rejects(cur, rejects, run.run_id)
            finish_run(cur, run, "failed", console.cut_bytes(message, MESSAGE_BYTES))
        return run.run_id
    except Exception as exc:  # the warehouse may be what failed; the original error matters more
        console.say(f"(the failed run could not be recorded: {console.first_line(exc)})")
        return None


def rebuild(conn: psycopg2.extensions.connection, cfg: Settings) -> Run:
    """Empty the star schema and transform every staged record again, without reading S3."""
    target = targets.open_target(cfg, session.utc_now())
    try:
        with session.transaction(conn) as cur:
            run = begin_run(cur, target, target.started)
            run.rows_before = count_rows(cur)
            target.empty_rebuilt_tables(cur)
            console.say("transforming every staged record ...")
            transform(cur, target, since_run=0)
            run.rows_after = count_rows(cur, kept=False)  # a rebuild counts them afresh
            keep_rows(cur, run)
            finish_run(cur, run, "succeeded", "rebuild of the star schema from staging")
    finally:
        target.close()
    return run


def check_after_load(conn: psycopg2.extensions.connection, run: Run, *, quiet: bool = False) -> None:
    """check_data.py's checks on what the run left, recorded with the run. The load stays
    committed; a failed check makes the script exit 1 so a scheduler notices."""
    results = checks.run_checks(conn)
    failure = checks.failure_summary(results)
    run.checks = "failed" if failure else "passed"
    conn.rollback()  # the checks only read: their transaction ends here, and the update's begins with its LOCK
    with session.transaction(conn) as cur:
        targets.lock_runs(cur, dialects.for_target(run.target))  # LOCK first: it writes a shared table
        session.execute(cur, sql.RUN_CHECKS, {"checks": run.checks, "run_id": run.run_id})
    if failure:
        raise errors.DwhError(f"run {run.run_id} loaded, but {failure} (details: python check_data.py)")
    (console.say if quiet else print)(f"checks: all {len(results)} passed")
