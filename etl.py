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
from contextlib import closing
from datetime import datetime

import psycopg2.extensions

import analytics
import dwh
import sources
import sql_queries as sql
import staging
import targets
from sources import SourceObject
from targets import FULL_LISTING_EVERY, PostgresTarget, Run, planned_batches

SOURCES = {"songs": "SONG_DATA", "events": "LOG_DATA"}  # source -> its [S3] key in dwh.cfg
MESSAGE_BYTES = 2048  # etl_runs.message: VARCHAR(2048), bytes on Redshift


class RunFailed(dwh.DwhError):
    """A run failed and was recorded as run_id (None when it could not be recorded)."""

    def __init__(self, message: str, run_id: int | None) -> None:
        super().__init__(message)
        self.run_id = run_id


# --------------------------------------------------------------------------- planning


def list_sources(cfg: ConfigParser, known: dict[str, sources.KnownFolders] | None = None,
                 ) -> Iterator[SourceObject]:
    for source, key in SOURCES.items():
        yield from sources.list_objects(cfg, source, cfg["S3"][key], (known or {}).get(source))


def plan_run(cur: psycopg2.extensions.cursor, target: PostgresTarget, run: Run,
             listing: Iterator[SourceObject]) -> None:
    """Plan the run (the temporary table planned_objects): every listed object not loaded before."""
    dwh.say("listing sources and planning ...")
    dwh.run_all(cur, sql.PLAN_DROP)
    dwh.execute(cur, sql.LISTED_OBJECTS_CREATE)
    target.load_listing(cur, listing)
    dwh.execute(cur, sql.PLAN_NEW_OBJECTS)
    dwh.execute(cur, sql.PLAN_SUMMARY)
    run.planned = {source: (int(objects), int(size)) for source, objects, size in cur.fetchall()}


def begin_run(cur: psycopg2.extensions.cursor, target: PostgresTarget, started: datetime) -> Run:
    """Wait for any other run to finish, then take the next run id."""
    target.lock(cur)
    dwh.execute(cur, sql.RUN_NEXT_ID)
    (run_id,) = cur.fetchone()
    name = target.cfg["WAREHOUSE"]["TARGET"]
    dwh.execute(cur, sql.RUN_START, {"run_id": run_id, "started_at": started, "target": name})
    return Run(run_id, started, name)


def stage(cur: psycopg2.extensions.cursor, target: PostgresTarget, run: Run) -> None:
    """The planned objects into staging, within MAX_REJECTS, their rejects beside them, and the
    objects recorded as loaded (not those that could not be read: the next run tries them again)."""
    target.stage(cur, run)
    targets.enforce_reject_limit(target.cfg, run)
    target.write_rejects(cur, run.rejects, run.run_id)
    dwh.execute(cur, sql.LOADED_OBJECTS_INSERT, {"run_id": run.run_id})


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
    sources.new_run()
    target = targets.open_target(cfg, started)
    run: Run | None = None
    try:
        with dwh.transaction(conn) as cur:
            target.prepare(cur)
            run = begin_run(cur, target, started)
            known = target.known_folders(cur, run.run_id, full_listing)
            plan_run(cur, target, run, list_sources(cfg, known))
            run.rows_before = count_rows(cur)
            stage(cur, target, run)
            target.record_folders(cur, known, run)
            dwh.say("transforming ...")
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
        record_failed_run(conn, target, dwh.redact(dwh.first_line(exc), cfg), None)
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
        with dwh.transaction(conn) as cur:
            run = begin_run(cur, target, target.started)
            if rejects is not None:
                run.rejects = rejects
                target.write_rejects(cur, rejects, run.run_id)
            finish_run(cur, run, "failed", dwh.cut_bytes(message, MESSAGE_BYTES))
        return run.run_id
    except Exception as exc:  # the warehouse may be what failed; the original error matters more
        dwh.say(f"(the failed run could not be recorded: {dwh.first_line(exc)})")
        return None


def rebuild(conn: psycopg2.extensions.connection, cfg: ConfigParser) -> Run:
    """Empty the star schema and transform every staged record again, without reading S3."""
    target = targets.open_target(cfg, dwh.utc_now())
    try:
        with dwh.transaction(conn) as cur:
            run = begin_run(cur, target, target.started)
            run.rows_before = count_rows(cur)
            target.empty_rebuilt_tables(cur)
            dwh.say("transforming every staged record ...")
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
    import check_data

    results = check_data.run_checks(conn)
    failure = check_data.failure_summary(results)
    run.checks = "failed" if failure else "passed"
    conn.rollback()  # the checks only read: their transaction ends here, and the update's begins with its LOCK
    with dwh.transaction(conn) as cur:
        targets.lock_runs(cur, run.target)  # LOCK first in a transaction that writes a shared table
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
    target = targets.open_target(cfg, dwh.utc_now())
    try:
        with conn.cursor() as cur:
            run = begin_run(cur, target, target.started)
            plan_run(cur, target, run, list_sources(cfg))
            dwh.execute(cur, sql.PLAN_ALREADY_LOADED)
            already = dict(cur.fetchall())
            first = {source: next(planned_batches(cur, source, 10), []) for source in SOURCES}
    finally:
        conn.rollback()
        target.close()
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


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
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
