"""Load the Sparkify sources into staging and the star schema.

Lists both sources, plans the objects not loaded before, stages them, transforms only the
records this run staged, and records the run: all in one transaction, so a run either loads
everything it planned or changes nothing. Running it again loads nothing twice.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import closing, suppress

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import (
    catalog,
    cli,
    console,
    session,
    settings,
    targets,
    warehouse,
)
from sparkify_dwh.load import (
    SOURCES,
    RunFailed,
    begin_run,
    check_after_load,
    list_sources,
    load,
    plan_run,
    rebuild,
    repaired,
)
from sparkify_dwh.settings import Settings
from sparkify_dwh.targets import FULL_LISTING_EVERY, Run, planned_batches

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
    print(console.format_table(["table", "rows added", "rows now"], rows))


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


def failure_document(exc: BaseException, cfg: Settings) -> dict[str, object]:
    """A failed run for --json: the scheduler still gets one document (and a non-zero exit)."""
    run_id = exc.run_id if isinstance(exc, RunFailed) else None
    return {"run_id": run_id, "outcome": "failed", "message": settings.redact(console.first_line(exc), cfg)}


def show_plan(conn: psycopg2.extensions.connection, cfg: Settings) -> None:
    """What a run would load now, without loading it."""
    target = targets.open_target(cfg, session.utc_now())
    try:
        with conn.cursor() as cur:
            run = begin_run(cur, target, target.started)
            plan_run(cur, target, run, list_sources(cfg))
            session.execute(cur, sql.PLAN_ALREADY_LOADED)
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
        session.execute(cur, sql.LOADED_BY_SOURCE)
        loaded = cur.fetchall()
        session.execute(cur, sql.RECENT_RUNS, {"limit": limit})
        runs = cur.fetchall()
    print("Loaded objects")
    print(console.format_table(["source", "objects", "bytes", "records", "rejected"], loaded))
    print(f"\nRuns (latest {limit})")
    print(console.format_table(
        ["run", "started (UTC)", "seconds", "outcome", "objects", "events", "songs", "rejected", "repaired",
         "songplays+", "checks", "message"],
        [(r[0], f"{r[1]:%Y-%m-%d %H:%M:%S}", (r[2] - r[1]).total_seconds() if r[2] else None, *r[3:11],
          (r[11] or "")[:80]) for r in runs],
    ))


def show_rejects(conn: psycopg2.extensions.connection, run_id: int | None, limit: int = 1000) -> None:
    with conn.cursor() as cur:
        if run_id is None:
            session.execute(cur, sql.LATEST_REJECTS_RUN)
            run_id = cur.fetchone()[0]
        if run_id is None:
            print("no rejects recorded")
            return
        session.execute(cur, sql.FIRST_REJECTS, {"run_id": run_id, "limit": limit})
        rows = cur.fetchall()
    print(f"Rejects of run {run_id}" + (f" (first {limit:,})" if len(rows) == limit else ""))
    print(console.format_table(["object", "line", "record", "reason"], rows))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show what a run would load, and load nothing")
    mode.add_argument("--status", action="store_true", help="show what is loaded and the recent runs")
    mode.add_argument("--rejects", nargs="?", type=cli.whole_number, const=0, metavar="RUN",
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
    cfg = settings.load_config(args.config)
    started = time.monotonic()
    with closing(warehouse.connect(cfg)) as conn:
        if args.status:
            show_status(conn)
            return 0
        if args.rejects is not None:
            show_rejects(conn, args.rejects or None)
            return 0
        catalog.require_model(conn, settings.dialect(cfg))
        if args.dry_run:
            show_plan(conn, cfg)
            return 0
        try:
            run = rebuild(conn, cfg) if args.rebuild else load(conn, cfg, full_listing=args.full_listing)
        except Exception as exc:
            if args.json:
                with suppress(BrokenPipeError):  # a closed stdout must not hide why the run failed
                    print(json.dumps(failure_document(exc, cfg)), flush=True)
            raise
        seconds = time.monotonic() - started
        try:
            if not args.json:
                print_summary(run, seconds)
            if cfg.etl.run_checks:
                check_after_load(conn, run, quiet=args.json)
        finally:
            if args.json:
                with suppress(BrokenPipeError):  # nor a failed check's error
                    print(json.dumps(run_document(run, seconds)), flush=True)
    return 0


if __name__ == "__main__":
    cli.run_script(main)
