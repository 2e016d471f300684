"""The two warehouses a run loads, behind one set of methods.

etl.load reads the same whatever TARGET says: prepare the session, take the run lock, load the
listing, stage the planned objects, write the rejects, clean up. PostgresTarget (the embedded
server and any PostgreSQL) streams typed rows from this process with COPY … FROM STDIN.
RedshiftTarget overrides only what differs: Redshift reads files from S3, so it compacts the
typed records into parts there, loads each staging table with one COPY from them, and maps the
rows COPY refused back to their source records.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import console, dialects, redshift, session, sources, staging
from sparkify_dwh.errors import DwhError
from sparkify_dwh.run import RejectLimitExceeded, Run, enforce_reject_limit
from sparkify_dwh.settings import Settings
from sparkify_dwh.sources import SourceObject

PLAN_BATCH = 10_000  # planned objects read and staged at a time: memory stays flat however many
FULL_LISTING_EVERY = 24  # runs: every 24th lists every file of a folder source (hourly runs: daily)


# Staging failed on the run's records: the run is recorded as failed, with its rejects.
STAGING_FAILURES = (RejectLimitExceeded, redshift.CopyFailed)


def planned_batches(cur: psycopg2.extensions.cursor, source: str, limit: int = PLAN_BATCH,
                    ) -> Iterator[list[tuple[int, SourceObject]]]:
    """The run's planned objects of a source, in object id order, `limit` at a time."""
    after = 0
    while True:
        session.execute(cur, sql.PLANNED_BATCH, {"source": source, "after": after, "limit": limit})
        batch = [(oid, SourceObject(source, key, size, etag)) for oid, key, etag, size in cur.fetchall()]
        if not batch:
            return
        yield batch
        after = batch[-1][0]


def planned_by_id(cur: psycopg2.extensions.cursor, ids: set[int]) -> dict[int, SourceObject]:
    if not ids:
        return {}
    session.execute(cur, sql.PLANNED_BY_ID, {"ids": tuple(ids)})
    return {oid: SourceObject(source, key, size, etag) for oid, source, key, etag, size in cur.fetchall()}


def listing_rows(listing: Iterator[SourceObject]) -> Iterator[bytes]:
    d = staging.DELIMITER
    for obj in listing:
        yield f"{obj.source}{d}{staging.csv_field(obj.key)}{d}{obj.etag or ''}{d}{obj.size}\n".encode()


def known_folders(cur: psycopg2.extensions.cursor, run_id: int, full: bool) -> dict[str, sources.KnownFolders]:
    """What earlier listings of folder sources recorded; nothing on a full listing (asked for, or
    every FULL_LISTING_EVERY-th run), which lists every file again."""
    started = time.time_ns()
    known = {}
    for source in sql.STAGING_TABLE:
        recorded: dict[str, tuple[int, int]] = {}
        if not full and run_id % FULL_LISTING_EVERY != 0:
            session.execute(cur, sql.KNOWN_FOLDERS, {"source": source})
            recorded = {folder: (mtime, subfolders) for folder, mtime, subfolders in cur.fetchall()}
        known[source] = sources.KnownFolders(recorded, started, [])
    return known


class PostgresTarget:
    """The embedded server and PostgreSQL: rows typed here (by worker processes on a large run)
    and streamed with COPY … FROM STDIN, one COPY per batch of planned objects."""

    dialect: dialects.Postgres = dialects.POSTGRES

    def __init__(self, cfg: Settings, started: datetime) -> None:
        self.cfg = cfg
        self.started = started

    def prepare(self, cur: psycopg2.extensions.cursor) -> None:
        session.run_all(cur, self.dialect.session_settings())

    def lock(self, cur: psycopg2.extensions.cursor) -> None:
        """Wait for any other run (or create_tables.py --drop) to finish."""
        lock_runs(cur, self.dialect)

    def known_folders(self, cur: psycopg2.extensions.cursor, run_id: int, full: bool,
                      ) -> dict[str, sources.KnownFolders] | None:
        return known_folders(cur, run_id, full)

    def load_listing(self, cur: psycopg2.extensions.cursor, listing: Iterator[SourceObject]) -> None:
        staging.copy_in(cur, sql.LISTED_OBJECTS_COPY, listing_rows(listing))

    def stage(self, cur: psycopg2.extensions.cursor, run: Run) -> None:
        """Each source's planned objects into its staging table; then what lets the transforms
        find the run's rows by index: the BRIN summaries of the new pages, and fresh statistics
        where the run added a large share of a table (see sql_queries)."""
        for source, table in sql.STAGING_TABLE.items():
            run.staged[source] = self.stage_source(cur, run, source, table)
        if run.planned:
            session.run_all(cur, sql.POSTGRES_AFTER_STAGING)
            for source, table in sql.STAGING_TABLE.items():
                session.analyze_if_grown(cur, table, run.staged[source].rows)

    def stage_source(self, cur: psycopg2.extensions.cursor, run: Run, source: str, table: str,
                     ) -> staging.StageCounts:
        """COPY … FROM STDIN of the source's planned objects, one COPY per batch of them."""
        counts = staging.StageCounts()
        total = run.planned.get(source, (0, 0))[0]
        if not total:
            return counts
        typer = staging.new_typer(self.cfg, staging.staging_columns(cur, table), run.run_id)
        copy = sql.STAGING_COPY_FROZEN if session.truncate_empty(cur, [table]) else sql.STAGING_COPY  # a first load
        copy = copy.format(table=table, columns=", ".join(typer.columns))
        progress = console.Progress()

        def report() -> None:
            progress(lambda: f"staging {source}: {counts.objects:,}/{total:,} objects, "
                             f"{counts.rows:,} rows, {counts.rejected:,} rejected")

        workers = staging.typing_workers(self.cfg.etl.workers, run.planned[source][1])
        pool = staging.TypingPool(self.cfg, typer.source_columns, run.run_id, workers) if workers else None
        with pool or nullcontext():
            for batch in planned_batches(cur, source):
                if pool is not None:
                    chunks = pool.typed_chunks(batch, run.rejects, counts, report)
                else:
                    ids = {obj.key: oid for oid, obj in batch}
                    objects = sources.read_objects(self.cfg, [obj for _, obj in batch])
                    chunks = staging.typed_chunks(objects, ids, typer, run.rejects, counts, report)
                staging.copy_in(cur, copy, chunks)
        console.say(f"staged {source}: {counts.objects:,} objects, {counts.rows:,} rows, {counts.rejected:,} rejected,"
                f" {counts.repaired:,} text values repaired")
        return counts

    def write_rejects(self, cur: psycopg2.extensions.cursor, rejects: staging.RejectSpool, run_id: int) -> None:
        rejects.copy_to_warehouse(cur, run_id)

    def record_folders(self, cur: psycopg2.extensions.cursor, known: dict[str, sources.KnownFolders] | None,
                       run: Run) -> None:
        """After staging: the folders whose files this run has now all loaded (not those holding a
        file it could not read: the next run must list that file again)."""
        incomplete = {os.path.dirname(key) for key in run.rejects.unreadable}
        d = staging.DELIMITER
        rows = [f"{source}{d}{staging.csv_field(folder)}{d}{mtime}{d}{subfolders}\n".encode()
                for source, k in (known or {}).items() for folder, mtime, subfolders in k.seen
                if folder not in incomplete]
        if rows:
            session.execute(cur, sql.SEEN_FOLDERS_CREATE)
            staging.copy_in(cur, sql.SEEN_FOLDERS_COPY, iter(rows))
            session.run_all(cur, sql.LISTED_FOLDERS_RECORD, {"run_id": run.run_id})

    def bulk_fill(self, cur: psycopg2.extensions.cursor) -> AbstractContextManager[list[str]]:
        """The tables a transform fills from empty, their indexes built after (see POSTGRES_BULK_TABLES)."""
        return session.indexes_built_after(cur, sql.POSTGRES_BULK_TABLES)

    def empty_rebuilt_tables(self, cur: psycopg2.extensions.cursor) -> None:
        self.lock_for_fill(cur, sql.REBUILT_TABLES)
        session.execute(cur, sql.POSTGRES_EMPTY, fill={"tables": ", ".join(sql.REBUILT_TABLES)})

    def lock_empty_tables(self, cur: psycopg2.extensions.cursor) -> None:
        """Before a run writes: the tables it will fill from empty (a first load's staging, a new
        layer), which it truncates and whose indexes it drops, locked all at once (lock_for_fill)."""
        empty = [table for table in [*sql.STAGING_FIELDS, *sql.POSTGRES_BULK_TABLES] if session.is_empty(cur, table)]
        if empty:
            self.lock_for_fill(cur, empty)

    def lock_for_fill(self, cur: psycopg2.extensions.cursor, tables: list[str]) -> None:
        session.lock_for_fill(cur, tables, self.cfg.etl.lock_timeout)

    def failure_message(self, conn: psycopg2.extensions.connection, run: Run, exc: DwhError) -> str:
        """After staging failed and the transaction rolled back: the line the failed run keeps."""
        return str(exc)

    def close(self) -> None:
        """Nothing outlives a PostgreSQL run."""


class RedshiftTarget(PostgresTarget):
    """Redshift: the typed records compacted into gzip NDJSON parts in the run's S3 work area,
    then one COPY per staging table from a manifest of them."""

    dialect: dialects.Postgres = dialects.REDSHIFT

    def __init__(self, cfg: Settings, started: datetime) -> None:
        super().__init__(cfg, started)
        self.work = redshift.new_stage(cfg, started)

    def known_folders(self, cur: psycopg2.extensions.cursor, run_id: int, full: bool,
                      ) -> dict[str, sources.KnownFolders] | None:
        """None: a Redshift run lists S3 (folder sources are for the embedded default)."""
        return None

    def load_listing(self, cur: psycopg2.extensions.cursor, listing: Iterator[SourceObject]) -> None:
        redshift.copy_listing(cur, self.work, listing)

    def stage(self, cur: psycopg2.extensions.cursor, run: Run) -> None:
        """Compact, then one COPY per staging table. The compaction's rejects are counted against
        MAX_REJECTS before anything is uploaded; what is left of the budget is what the COPYs may
        skip (redshift.maxerror), and the rows COPY skips become rejects of their source records."""
        for source, table in sql.STAGING_TABLE.items():
            _, size = run.planned.get(source, (0, 0))
            batches = (item for batch in planned_batches(cur, source) for item in batch)
            run.staged[source] = redshift.compact_source(cur, self.work, run.run_id, table, batches, size,
                                                         run.rejects)
        allowed = enforce_reject_limit(self.cfg, run)
        skipped: list[redshift.LoadError] = []  # by the COPYs so far: each takes what is left of the budget
        for table in sql.STAGING_TABLE.values():
            redshift.copy_source(cur, self.work, table, allowed - run.rejects.count - len(skipped))
            skipped = redshift.load_errors(cur, run.started)
        self._add_load_errors(cur, run, skipped)
        for source, table in sql.STAGING_TABLE.items():
            session.execute(cur, sql.STAGED_ROWS, {"run_id": run.run_id}, fill={"table": table})
            run.staged[source].rows = cur.fetchone()[0]
            if run.staged[source].rows:  # statistics the COPY (STATUPDATE OFF) did not take
                session.execute(cur, sql.REDSHIFT_ANALYZE, fill={"table": table})

    @staticmethod
    def _add_load_errors(cur: psycopg2.extensions.cursor, run: Run, errors: list[redshift.LoadError]) -> None:
        """Rows Redshift's COPY skipped, as rejects of their source records."""
        objects = planned_by_id(cur, {e.object_id for e in errors if e.object_id is not None})
        for error in errors:
            if error.object_id in objects:
                run.rejects.add(objects[error.object_id], error.record_no or 0, error.source_line, error.reason,
                                error.raw)

    def write_rejects(self, cur: psycopg2.extensions.cursor, rejects: staging.RejectSpool, run_id: int) -> None:
        redshift.copy_rejects(cur, self.work, rejects, run_id)

    def record_folders(self, cur: psycopg2.extensions.cursor, known: dict[str, sources.KnownFolders] | None,
                       run: Run) -> None:
        """Nothing: no folder sources on Redshift (known_folders)."""

    def bulk_fill(self, cur: psycopg2.extensions.cursor) -> AbstractContextManager[list[str]]:
        """Nothing: Redshift has no indexes to build after."""
        return nullcontext([])

    def lock_empty_tables(self, cur: psycopg2.extensions.cursor) -> None:
        """Nothing: Redshift empties no table with TRUNCATE inside a run."""

    def empty_rebuilt_tables(self, cur: psycopg2.extensions.cursor) -> None:
        """DELETE, not TRUNCATE: Redshift's TRUNCATE commits the transaction."""
        session.run_all(cur, sql.rebuild_queries)

    def failure_message(self, conn: psycopg2.extensions.connection, run: Run, exc: DwhError) -> str:
        """A failed COPY: its load errors (Redshift keeps them outside the transaction), traced
        back to source objects and added to the run's rejects."""
        if not isinstance(exc, redshift.CopyFailed):
            return str(exc)
        with conn.cursor() as cur:
            errors = redshift.load_errors(cur, run.started)
        conn.rollback()
        for error in errors:  # the plan went with the transaction: the part's line names the record
            origin = f" (object {error.object_id}, line {error.source_line})" if error.object_id else ""
            run.rejects.add(SourceObject(error.source, error.file, 0), error.line, error.line, error.reason + origin,
                            error.raw)
        first = "; ".join(f"{e.file} line {e.line}: {e.reason}" for e in errors[:3])
        return f"{exc}; " + (f"{len(errors):,} load errors. First: {first}" if errors else "no load errors recorded")

    def close(self) -> None:
        redshift.close_stage(self.work)


def lock_runs(cur: psycopg2.extensions.cursor, dialect: dialects.Postgres) -> None:
    """etl_runs locked as a run locks it (PostgresTarget.lock): the first statement of a transaction
    that writes etl_runs after the fact (a run's checks). On Redshift a LOCK after a read comes
    after the transaction's snapshot."""
    session.execute(cur, dialect.variant("RUN_LOCK"))


def open_target(cfg: Settings, started: datetime) -> PostgresTarget:
    """The target TARGET names, for a run that started at `started` (close it when done)."""
    return TARGETS[cfg.dialect.name](cfg, started)


TARGETS: dict[str, type[PostgresTarget]] = {"postgres": PostgresTarget, "redshift": RedshiftTarget}  # by dialect
