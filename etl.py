"""Load the Sparkify sources into staging and the star schema.

Lists both sources, plans the objects not loaded before, stages them, transforms only the
records this run staged, and records the run: all in one transaction, so a run either loads
everything it planned or changes nothing. Running it again loads nothing twice.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from configparser import ConfigParser
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

import psycopg2.extensions

import analytics
import dwh
import redshift
import sources
import sql_queries as sql
import staging
from sources import SourceObject

SOURCES = {"songs": "SONG_DATA", "events": "LOG_DATA"}  # source -> its [S3] key in dwh.cfg
PLAN_BATCH = 10_000  # planned objects read and staged at a time: memory stays flat however many
FULL_LISTING_EVERY = 24  # runs: every 24th lists every file of a folder source (hourly runs: daily)


class RejectLimitExceeded(dwh.DwhError):
    """More records were rejected than MAX_REJECTS allows."""


class RunFailed(dwh.DwhError):
    """A run failed and was recorded as run_id (None when it could not be recorded)."""

    def __init__(self, message: str, run_id: int | None) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass
class Run:
    run_id: int
    started: datetime
    target: str
    planned: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (objects, bytes)
    staged: dict[str, staging.StageCounts] = field(default_factory=dict)
    rejects: staging.RejectSpool = field(default_factory=staging.RejectSpool)
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)
    redshift: redshift.RedshiftStage | None = None  # the run's S3 work area, on Redshift
    checks: str | None = None  # passed | failed, when [ETL] RUN_CHECKS ran them


# --------------------------------------------------------------------------- planning


def list_sources(cfg: ConfigParser, known: dict[str, sources.KnownFolders] | None = None,
                 ) -> Iterator[SourceObject]:
    for source, key in SOURCES.items():
        yield from sources.list_objects(cfg, source, cfg["S3"][key], (known or {}).get(source))


def known_folders(cur: psycopg2.extensions.cursor, run_id: int, full: bool) -> dict[str, sources.KnownFolders]:
    """What earlier listings of folder sources recorded; nothing on a full listing (asked for, or
    every FULL_LISTING_EVERY-th run), which lists every file again."""
    started = time.time_ns()
    known = {}
    for source in SOURCES:
        recorded: dict[str, tuple[int, int]] = {}
        if not full and run_id % FULL_LISTING_EVERY != 0:
            dwh.execute(cur, sql.KNOWN_FOLDERS, {"source": source})
            recorded = {folder: (mtime, subfolders) for folder, mtime, subfolders in cur.fetchall()}
        known[source] = sources.KnownFolders(recorded, started, [])
    return known


def record_folders(cur: psycopg2.extensions.cursor, known: dict[str, sources.KnownFolders], run_id: int,
                   unreadable: set[str]) -> None:
    """After staging: the folders whose files this run has now all loaded (not those holding a
    file it could not read: the next run must list that file again)."""
    incomplete = {os.path.dirname(key) for key in unreadable}
    rows = [f"{source}{staging.DELIMITER}{staging.csv_field(folder)}{staging.DELIMITER}{mtime}"
            f"{staging.DELIMITER}{subfolders}\n".encode()
            for source, k in known.items() for folder, mtime, subfolders in k.seen if folder not in incomplete]
    if rows:
        dwh.execute(cur, sql.SEEN_FOLDERS_CREATE)
        staging.copy_in(cur, sql.SEEN_FOLDERS_COPY, iter(rows))
        dwh.run_all(cur, sql.LISTED_FOLDERS_RECORD, {"run_id": run_id})


def listing_rows(listing: Iterator[SourceObject]) -> Iterator[bytes]:
    d = staging.DELIMITER
    for obj in listing:
        yield f"{obj.source}{d}{staging.csv_field(obj.key)}{d}{obj.etag or ''}{d}{obj.size}\n".encode()


def plan_run(cur: psycopg2.extensions.cursor, run: Run, listing: Iterator[SourceObject]) -> None:
    """Plan the run (the temporary table planned_objects): every listed object not loaded before."""
    dwh.say("listing sources and planning ...")
    dwh.run_all(cur, sql.PLAN_DROP)
    dwh.execute(cur, sql.LISTED_OBJECTS_CREATE)
    if run.redshift is None:
        staging.copy_in(cur, sql.LISTED_OBJECTS_COPY, listing_rows(listing))
    else:
        redshift.copy_listing(cur, run.redshift, listing)
    dwh.execute(cur, sql.PLAN_NEW_OBJECTS)
    dwh.execute(cur, sql.PLAN_SUMMARY)
    run.planned = {source: (int(objects), int(size)) for source, objects, size in cur.fetchall()}


def planned_batches(cur: psycopg2.extensions.cursor, source: str, limit: int = PLAN_BATCH,
                    ) -> Iterator[list[tuple[int, SourceObject]]]:
    """The run's planned objects of a source, in object id order, `limit` at a time."""
    after = 0
    while True:
        dwh.execute(cur, sql.PLANNED_BATCH, {"source": source, "after": after, "limit": limit})
        batch = [(oid, SourceObject(source, key, size, etag)) for oid, key, etag, size in cur.fetchall()]
        if not batch:
            return
        yield batch
        after = batch[-1][0]


def planned_by_id(cur: psycopg2.extensions.cursor, ids: set[int]) -> dict[int, SourceObject]:
    if not ids:
        return {}
    dwh.execute(cur, sql.PLANNED_BY_ID, {"ids": tuple(ids)})
    return {oid: SourceObject(source, key, size, etag) for oid, source, key, etag, size in cur.fetchall()}


def begin_run(cur: psycopg2.extensions.cursor, cfg: ConfigParser, started: datetime) -> Run:
    """Wait for any other run to finish, then take the next run id."""
    dwh.execute(cur, "REDSHIFT_RUN_LOCK" if dwh.dialect(cfg) == sql.REDSHIFT else "RUN_LOCK")  # by name: a shared text
    dwh.execute(cur, sql.RUN_NEXT_ID)
    (run_id,) = cur.fetchone()
    dwh.execute(cur, sql.RUN_START, {"run_id": run_id, "started_at": started, "target": cfg["WAREHOUSE"]["TARGET"]})
    return Run(run_id, started, cfg["WAREHOUSE"]["TARGET"])


# --------------------------------------------------------------------------- staging


def stage(cur: psycopg2.extensions.cursor, cfg: ConfigParser, run: Run) -> None:
    """Stream every planned object into its staging table with COPY … FROM STDIN."""
    for source, table in sql.STAGING_TABLE.items():
        run.staged[source] = stage_source(cur, cfg, run, source, table)
    run.rejects.copy_to_warehouse(cur, run.run_id)
    if run.planned:
        refresh_statistics(cur, run)
    dwh.execute(cur, sql.LOADED_OBJECTS_INSERT, {"run_id": run.run_id})


def refresh_statistics(cur: psycopg2.extensions.cursor, run: Run) -> None:
    """What lets the transforms find the run's rows by index: the BRIN summaries of the new pages,
    and fresh statistics where the run added a large share of a table (see sql_queries)."""
    dwh.run_all(cur, sql.POSTGRES_AFTER_STAGING)
    for source, table in sql.STAGING_TABLE.items():
        dwh.analyze_if_grown(cur, table, run.staged[source].rows)


def stage_on_redshift(cur: psycopg2.extensions.cursor, cfg: ConfigParser, run: Run) -> None:
    """Compact the planned objects into parts in S3, then one COPY per staging table."""
    assert run.redshift is not None
    for source, table in sql.STAGING_TABLE.items():
        _, size = run.planned.get(source, (0, 0))
        batches = (item for batch in planned_batches(cur, source) for item in batch)
        run.staged[source] = redshift.compact_source(cur, run.redshift, run.run_id, table, batches, size,
                                                     run.rejects)
    allowed = enforce_reject_limit(cfg, run)
    for table in sql.STAGING_TABLE.values():
        redshift.copy_source(cur, run.redshift, table, allowed - run.rejects.count)
    add_load_errors(cur, run, redshift.load_errors(cur, run.started))
    for source, table in sql.STAGING_TABLE.items():
        dwh.execute(cur, sql.STAGED_ROWS, {"run_id": run.run_id}, fill={"table": table})
        run.staged[source].rows = cur.fetchone()[0]
    redshift.copy_rejects(cur, run.redshift, run.rejects, run.run_id)
    dwh.execute(cur, sql.LOADED_OBJECTS_INSERT, {"run_id": run.run_id})


def add_load_errors(cur: psycopg2.extensions.cursor, run: Run, errors: list[redshift.LoadError]) -> None:
    """Rows Redshift's COPY skipped or failed on, as rejects of their source records."""
    objects = planned_by_id(cur, {e.object_id for e in errors if e.object_id is not None})
    for error in errors:
        if error.object_id in objects:
            run.rejects.add(objects[error.object_id], error.record_no or 0, error.source_line, error.reason, error.raw)


def stage_source(cur: psycopg2.extensions.cursor, cfg: ConfigParser, run: Run, source: str, table: str,
                 ) -> staging.StageCounts:
    """COPY … FROM STDIN of the source's planned objects, one COPY per batch of them."""
    counts = staging.StageCounts()
    total = run.planned.get(source, (0, 0))[0]
    if not total:
        return counts
    typer = staging.new_typer(cfg, staging.staging_columns(cur, table), run.run_id)
    copy = sql.STAGING_COPY.format(table=table, columns=", ".join(typer.columns))
    progress = dwh.Progress()

    def report() -> None:
        progress(lambda: f"staging {source}: {counts.objects:,}/{total:,} objects, "
                         f"{counts.rows:,} rows, {counts.rejected:,} rejected")

    workers = staging.typing_workers(cfg["ETL"]["WORKERS"], run.planned[source][1])
    with staging.TypingPool(cfg, typer.source_columns, run.run_id, workers) if workers else nullcontext() as pool:
        for batch in planned_batches(cur, source):
            if pool is not None:
                chunks = pool.typed_chunks(batch, run.rejects, counts, report)
            else:
                ids = {obj.key: oid for oid, obj in batch}
                objects = sources.read_objects(cfg, [obj for _, obj in batch])
                chunks = staging.typed_chunks(objects, ids, typer, run.rejects, counts, report)
            staging.copy_in(cur, copy, chunks)
    dwh.say(f"staged {source}: {counts.objects:,} objects, {counts.rows:,} rows, {counts.rejected:,} rejected,"
            f" {counts.repaired:,} text values repaired")
    return counts


def enforce_reject_limit(cfg: ConfigParser, run: Run) -> int:
    """Fail the run past MAX_REJECTS; return how many rejects it allows."""
    records = sum(c.rows + c.rejected for c in run.staged.values())
    allowed = dwh.allowed_rejects(cfg, records)
    rejected = run.rejects.count
    if rejected > allowed:
        raise RejectLimitExceeded(
            f"{rejected:,} of {records:,} records rejected, more than MAX_REJECTS = "
            f"{cfg['ETL']['MAX_REJECTS'].strip()} allows; nothing was loaded. First: "
            + "; ".join(run.rejects.first)
        )
    return allowed


# --------------------------------------------------------------------------- transforms


def count_rows(cur: psycopg2.extensions.cursor, *, kept: bool = True) -> dict[str, int]:
    """The star tables' rows: as table_rows keeps them (kept), counting only a table it lacks."""
    counts = {}
    if kept:
        dwh.execute(cur, sql.KEPT_TABLE_ROWS)
        counts = {table: rows for table, rows in cur.fetchall() if table in sql.STAR_TABLES}
    for table in sql.STAR_TABLES:
        if table not in counts:
            dwh.execute(cur, sql.TABLE_ROWS, fill={"table": table})
            counts[table] = cur.fetchone()[0]
    return counts


def keep_rows(cur: psycopg2.extensions.cursor, run: Run) -> None:
    for table, rows in run.rows_after.items():
        dwh.run_all(cur, sql.KEEP_TABLE_ROWS, {"table": table, "rows": rows, "run_id": run.run_id})


def transform(cur: psycopg2.extensions.cursor, cfg: ConfigParser, since_run: int) -> Counter[str]:
    """The star schema and the analytics layer from the records staged since since_run (this
    run's own records; 0: all of them). The run's new events go to app_events first, deduplicated
    once: the star schema takes its new songplays from there, and the aggregates follow. Returns
    each table's net change in rows."""
    dialect = dwh.dialect(cfg)
    changes: Counter[str] = Counter()
    bulk = dwh.indexes_built_after(cur, sql.POSTGRES_BULK_TABLES) if dialect == sql.POSTGRES else nullcontext([])
    with bulk as filled_from_empty:
        if os.environ.get("DWH_BENCH_NO_ANALYTICS") == "1":  # bench/ only: a run without the layer, to compare
            run_transforms(cur, sql.star_only_transform_queries, since_run, filled_from_empty, changes)
            return changes
        added = analytics.add_events(cur, since_run, dialect)
        run_transforms(cur, sql.transform_queries, since_run, filled_from_empty, changes)
        analytics.maintain_aggregates(cur, added, dialect)
    dwh.say(f"analytics: {added.events_added:,} events added, {added.devices_added:,} new devices"
            + (" (backfilled from every staged record)" if added.backfilled else ""))
    return changes


def run_transforms(cur: psycopg2.extensions.cursor, statements: list[str], since_run: int,
                   filled_from_empty: list[str], changes: Counter[str]) -> None:
    """The statements in order, counting the rows each INSERT adds and each DELETE removes. A
    table filled from empty (PostgreSQL, without its indexes) is analyzed at once: the run's
    later statements join it, and would be planned for an empty one."""
    for statement in statements:
        started = time.monotonic()
        rows = dwh.execute(cur, statement, {"since_run": since_run})
        inserted, deleted = sql.inserted_table(statement), sql.deleted_table(statement)
        if inserted:
            changes[inserted] += rows
            if inserted in filled_from_empty:
                dwh.execute(cur, sql.POSTGRES_ANALYZE, fill={"table": inserted})
        elif deleted:
            changes[deleted] -= rows
        seconds = time.monotonic() - started
        if seconds > 1:
            dwh.say(f"  {dwh.statement_name(statement)}: {rows:,} rows in {seconds:.1f} s")


# --------------------------------------------------------------------------- a run


def finish_run(cur: psycopg2.extensions.cursor, run: Run, outcome: str, message: str | None) -> None:
    events, songs = run.staged.get("events"), run.staged.get("songs")
    dwh.execute(cur, sql.RUN_FINISH, {
        "run_id": run.run_id, "finished_at": dwh.utc_now(), "outcome": outcome,
        "objects_loaded": sum(objects for objects, _ in run.planned.values()) - len(run.rejects.unreadable),
        "events_staged": events.rows if events else 0,
        "songs_staged": songs.rows if songs else 0,
        "rows_rejected": run.rejects.count,
        "values_repaired": repaired(run),
        "songplays_added": run.rows_after.get("songplays", 0) - run.rows_before.get("songplays", 0),
        "message": message,
    })


def repaired(run: Run) -> int:
    return sum(counts.repaired for counts in run.staged.values())


def load(conn: psycopg2.extensions.connection, cfg: ConfigParser, *, full_listing: bool = False) -> Run:
    """One run, all or nothing. A failed run is still recorded, with its rejects."""
    started = dwh.utc_now()
    on_redshift = dwh.dialect(cfg) == sql.REDSHIFT
    work = redshift.new_stage(cfg, started) if on_redshift else None
    run: Run | None = None
    try:
        with dwh.transaction(conn) as cur:
            if not on_redshift:
                dwh.run_all(cur, sql.POSTGRES_SESSION_SETTINGS)
            run = begin_run(cur, cfg, started)
            run.redshift = work
            known = None if on_redshift else known_folders(cur, run.run_id, full_listing)
            plan_run(cur, run, list_sources(cfg, known))
            run.rows_before = count_rows(cur)
            if on_redshift:
                stage_on_redshift(cur, cfg, run)
            else:
                stage(cur, cfg, run)
                enforce_reject_limit(cfg, run)
                assert known is not None
                record_folders(cur, known, run.run_id, run.rejects.unreadable)
            dwh.say("transforming ...")
            changes = transform(cur, cfg, since_run=run.run_id)
            run.rows_after = {table: rows + changes[table] for table, rows in run.rows_before.items()}
            keep_rows(cur, run)
            finish_run(cur, run, "succeeded", None)
    except RejectLimitExceeded as exc:
        assert run is not None
        failed_id = record_failed_run(conn, cfg, started, str(exc), run.rejects, work)
        raise RunFailed(failed_run_message(failed_id, str(exc)), failed_id) from None
    except redshift.CopyFailed as exc:
        assert run is not None and work is not None
        message = f"{exc}; {copy_failure_details(conn, run, work)}"
        failed_id = record_failed_run(conn, cfg, started, message, run.rejects, work)
        raise RunFailed(failed_run_message(failed_id, message), failed_id) from None
    except BaseException as exc:
        record_failed_run(conn, cfg, started, dwh.redact(dwh.first_line(exc), cfg), None, work)
        raise
    finally:
        if work is not None:
            redshift.close_stage(work)
    return run


def copy_failure_details(conn: psycopg2.extensions.connection, run: Run, work: redshift.RedshiftStage) -> str:
    """After a failed COPY (and the rollback): its load errors, traced back to source objects,
    added to the run's rejects. Redshift keeps them outside the transaction."""
    with conn.cursor() as cur:
        errors = redshift.load_errors(cur, run.started)
    conn.rollback()
    for error in errors:  # the plan went with the transaction: the part's line names the record
        origin = f" (object {error.object_id}, line {error.source_line})" if error.object_id else ""
        run.rejects.add(SourceObject(error.source, error.file, 0), error.line, error.line, error.reason + origin,
                        error.raw)
    first = "; ".join(f"{e.file} line {e.line}: {e.reason}" for e in errors[:3])
    return f"{len(errors):,} load errors. First: {first}" if errors else "no load errors recorded"


def failed_run_message(run_id: int | None, message: str) -> str:
    """The one line for a run that failed on its records: where its rejects are listed, or, when
    even recording the failure failed (the warehouse itself, say), that they were not kept."""
    if run_id is None:
        return f"the run failed and could not be recorded, so its rejects were not kept: {message}"
    return f"run {run_id} failed: {message} (all of them: python etl.py --rejects {run_id})"


def record_failed_run(
    conn: psycopg2.extensions.connection, cfg: ConfigParser, started: datetime, message: str,
    rejects: staging.RejectSpool | None, work: redshift.RedshiftStage | None,
) -> int | None:
    """After the rollback: a run row saying why, and the rejects that caused it."""
    try:
        with dwh.transaction(conn) as cur:
            run = begin_run(cur, cfg, started)
            if rejects is not None:
                run.rejects = rejects
                if work is None:
                    rejects.copy_to_warehouse(cur, run.run_id)
                else:
                    redshift.copy_rejects(cur, work, rejects, run.run_id)
            finish_run(cur, run, "failed", message[:2000])
        return run.run_id
    except Exception as exc:  # the warehouse may be what failed; the original error matters more
        dwh.say(f"(the failed run could not be recorded: {dwh.first_line(exc)})")
        return None


def rebuild(conn: psycopg2.extensions.connection, cfg: ConfigParser) -> Run:
    """Empty the star schema and transform every staged record again, without reading S3."""
    with dwh.transaction(conn) as cur:
        run = begin_run(cur, cfg, dwh.utc_now())
        run.rows_before = count_rows(cur)
        if dwh.dialect(cfg) == sql.POSTGRES:
            dwh.execute(cur, sql.POSTGRES_EMPTY, fill={"tables": ", ".join(sql.REBUILT_TABLES)})
        else:
            dwh.run_all(cur, sql.rebuild_queries)
        dwh.say("transforming every staged record ...")
        transform(cur, cfg, since_run=0)
        run.rows_after = count_rows(cur, kept=False)  # a rebuild counts them afresh
        keep_rows(cur, run)
        finish_run(cur, run, "succeeded", "rebuild of the star schema from staging")
    return run


def check_after_load(conn: psycopg2.extensions.connection, run: Run, *, quiet: bool = False) -> None:
    """check_data.py's checks on what the run left, recorded with the run. The load stays
    committed; a failed check makes the script exit 1 so a scheduler notices."""
    import check_data

    results = check_data.run_checks(conn)
    failure = check_data.failure_summary(results)
    run.checks = "failed" if failure else "passed"
    with dwh.transaction(conn) as cur:
        dwh.execute(cur, sql.RUN_CHECKS, {"checks": run.checks, "run_id": run.run_id})
    if failure:
        raise dwh.DwhError(f"run {run.run_id} loaded, but {failure} (details: python check_data.py)")
    (dwh.say if quiet else print)(f"checks: all {len(results)} passed")


# --------------------------------------------------------------------------- reports


def print_summary(run: Run, seconds: float) -> None:
    objects = {s: run.planned.get(s, (0, 0))[0] for s in SOURCES}
    staged = {s: c.rows for s, c in run.staged.items()}
    print(
        f"run {run.run_id} succeeded in {seconds:.1f} s: {objects['events']:,} event and {objects['songs']:,} song"
        f" objects; staged {staged.get('events', 0):,} events and {staged.get('songs', 0):,} songs;"
        f" {run.rejects.count:,} rejected; {repaired(run):,} text values repaired"
    )
    if run.rejects.count:
        print(f"  see them with: python etl.py --rejects {run.run_id}")
    rows = [(t, run.rows_after[t] - run.rows_before.get(t, 0), run.rows_after[t]) for t in sql.STAR_TABLES]
    print(dwh.format_table(["table", "rows added", "rows now"], rows))


def run_document(run: Run, seconds: float) -> dict[str, object]:
    """The run summary as one JSON document, for schedulers (etl.py --json)."""
    return {
        "run_id": run.run_id,
        "outcome": "succeeded",
        "started_at": run.started.isoformat(),
        "seconds": round(seconds, 3),
        "sources": {
            source: {"objects": run.planned.get(source, (0, 0))[0], "bytes": run.planned.get(source, (0, 0))[1],
                     "rows_staged": run.staged[source].rows if source in run.staged else 0,
                     "values_repaired": run.staged[source].repaired if source in run.staged else 0}
            for source in SOURCES
        },
        "rows_staged": sum(counts.rows for counts in run.staged.values()),
        "rows_rejected": run.rejects.count,
        "values_repaired": repaired(run),
        "tables": {table: {"rows_added": run.rows_after[table] - run.rows_before.get(table, 0),
                           "rows_now": run.rows_after[table]} for table in sql.STAR_TABLES},
        "checks": run.checks,
    }


def failure_document(exc: BaseException, cfg: ConfigParser) -> dict[str, object]:
    """A failed run for --json: the scheduler still gets one document (and a non-zero exit)."""
    run_id = exc.run_id if isinstance(exc, RunFailed) else None
    return {"run_id": run_id, "outcome": "failed", "message": dwh.redact(dwh.first_line(exc), cfg)}


def show_plan(conn: psycopg2.extensions.connection, cfg: ConfigParser) -> None:
    """What a run would load now, without loading it."""
    try:
        with conn.cursor() as cur:
            run = begin_run(cur, cfg, dwh.utc_now())
            plan_run(cur, run, list_sources(cfg))
            dwh.execute(cur, sql.PLAN_ALREADY_LOADED)
            already = dict(cur.fetchall())
            first = {source: next(planned_batches(cur, source, 10), []) for source in SOURCES}
    finally:
        conn.rollback()
    for source in SOURCES:
        objects, size = run.planned.get(source, (0, 0))
        print(f"{source}: {objects:,} new objects ({size:,} bytes) to load; {already.get(source, 0):,} already loaded")
        for _, obj in first[source]:
            print(f"  {obj.key}")
        if objects > 10:
            print(f"  ... and {objects - 10:,} more")


def show_status(conn: psycopg2.extensions.connection, limit: int = 10) -> None:
    with conn.cursor() as cur:
        dwh.execute(cur, sql.LOADED_BY_SOURCE)
        loaded = cur.fetchall()
        dwh.execute(cur, sql.RECENT_RUNS, {"limit": limit})
        runs = cur.fetchall()
    print("Loaded objects")
    print(dwh.format_table(["source", "objects", "bytes", "records", "rejected"], loaded))
    print(f"\nRuns (latest {limit})")
    print(dwh.format_table(
        ["run", "started (UTC)", "seconds", "outcome", "objects", "events", "songs", "rejected", "repaired",
         "songplays+", "checks", "message"],
        [(r[0], f"{r[1]:%Y-%m-%d %H:%M:%S}", (r[2] - r[1]).total_seconds() if r[2] else None, *r[3:11],
          (r[11] or "")[:80]) for r in runs],
    ))


def show_rejects(conn: psycopg2.extensions.connection, run_id: int | None, limit: int = 1000) -> None:
    with conn.cursor() as cur:
        if run_id is None:
            dwh.execute(cur, sql.LATEST_REJECTS_RUN)
            run_id = cur.fetchone()[0]
        if run_id is None:
            print("no rejects recorded")
            return
        dwh.execute(cur, sql.FIRST_REJECTS, {"run_id": run_id, "limit": limit})
        rows = cur.fetchall()
    print(f"Rejects of run {run_id}" + (f" (first {limit:,})" if len(rows) == limit else ""))
    print(dwh.format_table(["object", "line", "record", "reason"], rows))


# --------------------------------------------------------------------------- main


def parse_arguments() -> argparse.Namespace:
    parser = dwh.argument_parser(__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show what a run would load, and load nothing")
    mode.add_argument("--status", action="store_true", help="show what is loaded and the recent runs")
    mode.add_argument("--rejects", nargs="?", type=int, const=0, metavar="RUN",
                      help="list the records a run rejected (default: the latest run with rejects)")
    mode.add_argument("--rebuild", action="store_true",
                      help="rebuild the star schema from staging, without reading the sources")
    parser.add_argument("--json", action="store_true",
                        help="print the run's summary as one JSON document on stdout (progress stays on stderr)")
    parser.add_argument("--full-listing", action="store_true",
                        help="stat every file of a folder source again (finds files rewritten in place), as"
                             f" every {FULL_LISTING_EVERY}th run does")
    return parser.parse_args()


def main() -> int:
    args = parse_arguments()
    cfg = dwh.load_config(args.config)
    started = time.monotonic()
    with closing(dwh.connect(cfg)) as conn:
        if args.status:
            show_status(conn)
            return 0
        if args.rejects is not None:
            show_rejects(conn, args.rejects or None)
            return 0
        dwh.require_model(conn, dwh.dialect(cfg))
        if args.dry_run:
            show_plan(conn, cfg)
            return 0
        try:
            run = rebuild(conn, cfg) if args.rebuild else load(conn, cfg, full_listing=args.full_listing)
        except Exception as exc:
            if args.json:
                print(json.dumps(failure_document(exc, cfg)), flush=True)
            raise
        seconds = time.monotonic() - started
        try:
            if not args.json:
                print_summary(run, seconds)
            if cfg.getboolean("ETL", "RUN_CHECKS", fallback=False):
                check_after_load(conn, run, quiet=args.json)
        finally:
            if args.json:
                print(json.dumps(run_document(run, seconds)))
    return 0


if __name__ == "__main__":
    dwh.run_script(main)
