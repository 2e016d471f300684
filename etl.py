"""Load the Sparkify sources into staging, the star schema and the analytics layer.

Lists both sources, plans the objects not loaded before, stages them (fields the toolkit does
not read are counted, with one warning), transforms only the records this run staged into the
star schema and the analytics layer, and records the run with the toolkit's version: all in one
transaction, so a run either loads everything it planned or changes nothing. Running it again
loads nothing twice. --status, --dry-run and --rejects report; --json gives any of them, or the
run, as one JSON document.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from typing import Any

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import (
    catalog,
    cli,
    console,
    session,
    settings,
    targets,
    version,
    warehouse,
)
from sparkify_dwh.errors import DwhError
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
    unknown_fields,
)
from sparkify_dwh.settings import Settings
from sparkify_dwh.targets import FULL_LISTING_EVERY, Run, planned_batches

REJECTS_LISTED = 1000  # --rejects shows the first this many
RUNS_LISTED = 10  # --status shows the latest this many

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
        "version": version.version(),
        "started_at": cli.timestamp(run.started),
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
        "unknown_fields": unknown_fields(run),
        "tables": {table: {"rows_added": run.rows_after[table] - run.rows_before.get(table, 0),
                           "rows_now": run.rows_after[table]} for table in sql.STAR_TABLES},
        "checks": run.checks,
    }


def failure_document(exc: BaseException, cfg: Settings) -> dict[str, object]:
    """A failed run for --json: the scheduler still gets one document (and a non-zero exit)."""
    run_id = exc.run_id if isinstance(exc, RunFailed) else getattr(exc, "dwh_run_id", None)
    return {"run_id": run_id, "outcome": "failed", "version": version.version(),
            "message": settings.redact(console.first_line(exc), cfg)}


def plan_document(conn: psycopg2.extensions.connection, cfg: Settings) -> dict[str, Any]:
    """What a run would load now, without loading it (--dry-run)."""
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
    return {"sources": {
        source: {"new_objects": run.planned.get(source, (0, 0))[0], "new_bytes": run.planned.get(source, (0, 0))[1],
                 "already_loaded": already.get(source, 0), "first_keys": [obj.key for _, obj in first[source]]}
        for source in SOURCES
    }}


def plan_lines(document: dict[str, Any]) -> Iterator[str]:
    for source, plan in document["sources"].items():
        objects = plan["new_objects"]
        yield (f"{source}: {objects:,} new objects ({plan['new_bytes']:,} bytes) to load;"
               f" {plan['already_loaded']:,} already loaded")
        for key in plan["first_keys"]:
            yield f"  {console.printable(key)}"
        if objects > len(plan["first_keys"]):
            yield f"  ... and {objects - len(plan['first_keys']):,} more"


def status_document(conn: psycopg2.extensions.connection, limit: int = RUNS_LISTED) -> dict[str, Any]:
    """What is loaded, and the latest runs (--status)."""
    with conn.cursor() as cur:
        session.execute(cur, sql.LOADED_BY_SOURCE)
        loaded = cur.fetchall()
        session.execute(cur, sql.RECENT_RUNS, {"limit": limit})
        runs = cur.fetchall()
    conn.rollback()
    return {
        "loaded": [{"source": s, "objects": o, "bytes": b, "records": r, "rejected": j} for s, o, b, r, j in loaded],
        "runs": [{
            "run_id": r[0], "started_at": cli.timestamp(r[1]),
            "finished_at": cli.timestamp(r[2]) if r[2] else None,
            "seconds": round((r[2] - r[1]).total_seconds(), 3) if r[2] else None,
            "outcome": r[3], "objects_loaded": r[4], "events_staged": r[5], "songs_staged": r[6],
            "rows_rejected": r[7], "values_repaired": r[8], "songplays_added": r[9], "checks": r[10],
            "message": r[11], "version": r[12], "unknown_fields": json.loads(r[13]) if r[13] else {},
        } for r in runs],
    }


def status_text(document: dict[str, Any]) -> str:
    runs = document["runs"]
    return "\n".join([
        "Loaded objects",
        console.format_table(["source", "objects", "bytes", "records", "rejected"],
                             [list(row.values()) for row in document["loaded"]]),
        f"\nRuns (latest {RUNS_LISTED})",
        console.format_table(
            ["run", "started (UTC)", "seconds", "outcome", "version", "objects", "events", "songs", "rejected",
             "repaired", "songplays+", "checks", "message"],
            [(r["run_id"], r["started_at"][:19].replace("T", " "), r["seconds"], r["outcome"], r["version"],
              r["objects_loaded"], r["events_staged"], r["songs_staged"], r["rows_rejected"], r["values_repaired"],
              r["songplays_added"], r["checks"], (r["message"] or "")[:80]) for r in runs],
        ),
    ])


def rejects_document(conn: psycopg2.extensions.connection, run_id: int | None,
                     limit: int = REJECTS_LISTED) -> dict[str, Any]:
    """The records a run rejected (--rejects [RUN]; without one, the latest run with rejects).
    A run that does not exist is an error naming it."""
    with conn.cursor() as cur:
        if run_id is None:
            session.execute(cur, sql.LATEST_REJECTS_RUN)
            run_id = cur.fetchone()[0]
        else:
            session.execute(cur, sql.RUN_EXISTS, {"run_id": run_id})
            if cur.fetchone() is None:
                session.execute(cur, sql.LATEST_RUN)
                latest = cur.fetchone()[0]
                conn.rollback()
                raise DwhError(f"there is no run {run_id}" + (f" (runs 1 to {latest}; see python etl.py --status)"
                                                              if latest else " (no run is recorded yet)"))
        rows = []
        if run_id is not None:
            session.execute(cur, sql.FIRST_REJECTS, {"run_id": run_id, "limit": limit})
            rows = cur.fetchall()
    conn.rollback()
    return {"run_id": run_id, "truncated": len(rows) == limit,
            "rejects": [{"object": o, "line": line, "record": n, "reason": why} for o, line, n, why in rows]}


def show_rejects(conn: psycopg2.extensions.connection, run_id: int | None, limit: int = REJECTS_LISTED) -> None:
    document = rejects_document(conn, run_id, limit)
    if document["run_id"] is None:
        print("no rejects recorded")
        return
    rows = [list(reject.values()) for reject in document["rejects"]]
    print(f"Rejects of run {document['run_id']}" + (f" (first {limit:,})" if document["truncated"] else ""))
    print(console.format_table(["object", "line", "record", "reason"], rows))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(
        __doc__.splitlines()[0],
        json_help="print the result (the run, --rebuild, --status, --dry-run or --rejects) as one JSON document on"
                  " stdout; progress stays on stderr")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show what a run would load, and load nothing")
    mode.add_argument("--status", action="store_true",
                      help="show what is loaded and the recent runs (with the toolkit version that made each)")
    mode.add_argument("--rejects", nargs="?", type=cli.whole_number, const=0, metavar="RUN",
                      help="list the records a run rejected (default: the latest run with rejects)")
    mode.add_argument("--rebuild", action="store_true",
                      help="rebuild the star schema, the song matching and the analytics layer from staging, without"
                           " reading the sources")
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
            document = status_document(conn)
            cli.print_json(document) if args.json else print(status_text(document))
            return 0
        if args.rejects is not None:
            if args.json:
                cli.print_json(rejects_document(conn, args.rejects or None))
            else:
                show_rejects(conn, args.rejects or None)
            return 0
        catalog.require_model(conn, cfg.dialect)
        if args.dry_run:
            plan = plan_document(conn, cfg)
            cli.print_json(plan) if args.json else print("\n".join(plan_lines(plan)))
            return 0
        try:
            run = rebuild(conn, cfg) if args.rebuild else load(conn, cfg, full_listing=args.full_listing)
        except Exception as exc:
            if args.json:
                with suppress(BrokenPipeError):  # a closed stdout must not hide why the run failed
                    cli.print_json(failure_document(exc, cfg))
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
                    cli.print_json(run_document(run, seconds))
    return 0


if __name__ == "__main__":
    cli.run_script(main)
