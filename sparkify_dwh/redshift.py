"""Staging on Amazon Redshift, the way Redshift is meant to be loaded: the cluster pulls the data
from S3 itself, with one COPY per staging table from a manifest of exactly the run's files.

Redshift loads each JSON file on one slice, so thousands of tiny song files take hours. The
toolkit therefore compacts the run's new objects first: it reads them (concurrently), types and
checks every record exactly as the PostgreSQL path does (bad ones go to `rejects`), and writes
the good ones as a few large gzip NDJSON parts under [S3] WORK_PREFIX: as many parts as the
cluster has slices (or a multiple), each sized as AWS recommends (1-125 MB compressed). Each
record keeps its source field names and carries its provenance (`_run_id`, `_object_id`,
`_source_line`, `_source_record`), which a JSONPaths file written beside the parts maps to the staging columns.
The work files of a run are deleted when it ends.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import console, s3, session, sources, staging, statements
from sparkify_dwh.errors import ConfigError, DwhError, SourceError
from sparkify_dwh.settings import Settings
from sparkify_dwh.sources import SourceObject

PART_TARGET_BYTES = 512 << 20  # uncompressed; NDJSON gzips ~6-10x, so parts land at 50-90 MB
PART_MIN_COMPRESSED = 1 << 20  # AWS: files of 1 MB to 125 MB after compression
GZIP_RATIO = 0.12  # compressed / uncompressed for this data, to size parts before writing them
PROVENANCE = staging.JSON_PROVENANCE  # the keys of sql.PROVENANCE_COLUMNS in the parts
# Each compacted record starts with its provenance, so the start of a rejected line that Redshift
# reports in stl_load_errors.raw_line names its source.
PROVENANCE_AT_START = re.compile(
    rb'^\{"_run_id":\d+,"_object_id":(\d+),"_source_line":(\d+|null),"_source_record":(\d+)')


@dataclass(frozen=True)
class WorkArea:
    """The S3 prefix where a run writes its listing, parts, JSONPaths and manifests."""

    bucket: str
    prefix: str  # ends with "/"

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


def work_area(cfg: Settings, started: datetime) -> WorkArea:
    base = cfg.s3.work_prefix
    if not s3.is_s3(base):
        raise ConfigError(
            "TARGET = redshift needs [S3] WORK_PREFIX: an s3:// prefix this machine can write and the"
            " IAM role can read (e.g. s3://my-bucket/sparkify-work)"
        )
    bucket, prefix = s3.split_s3_uri(base)
    prefix = (prefix.rstrip("/") + "/" if prefix else "") + f"run-{started:%Y%m%dT%H%M%S}-{os.getpid()}/"
    return WorkArea(bucket, prefix)


def bucket_region(client: Any, bucket: str) -> str:
    """The AWS region of a bucket (S3 GetBucketLocation: no constraint is us-east-1, "EU" is eu-west-1)."""
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def work_region(cfg: Settings, client: Any, bucket: str) -> str:
    """The region the work area's COPYs name: the work bucket's own. Those COPYs read only the work
    area, and a COPY's REGION must be where its files are (AWS: "If the Amazon S3 buckets that hold
    the data files don't reside in the same AWS Region as your cluster, you must use the REGION
    parameter"), so [S3] REGION, the sources' region, is only the fallback when the bucket's region
    cannot be looked up (no s3:GetBucketLocation): doctor.py then tries a COPY with it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return bucket_region(client, bucket)
    except (BotoCoreError, ClientError) as exc:
        region = cfg.s3.region
        console.say(f"(could not look up the region of the work bucket {bucket} ({console.first_line(exc)});"
                f" its COPYs name [S3] REGION = {region})")
        return region


# A COPY fails when "the load returns the error_count number of errors or greater" (MAXERROR,
# https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html), and takes at most
# 100,000: a budget of n skipped rows is MAXERROR n + 1.
MAXERROR_LIMIT = 100_000


def maxerror(budget: int) -> int:
    """COPY's MAXERROR for a budget of `budget` rows it may skip (above 99,999: 99,999)."""
    return min(max(budget, 0) + 1, MAXERROR_LIMIT)


def redshift_params(cfg: Settings) -> dict[str, str]:
    arn = cfg.iam_role.arn
    if not arn.startswith("arn:"):
        raise ConfigError("TARGET = redshift needs [IAM_ROLE] ARN (or DWH_IAM_ROLE_ARN): the role COPY assumes")
    return {"iam_role": arn, "region": cfg.s3.region}


# --------------------------------------------------------------------------- JSONPaths


def jsonpaths(table: str) -> dict[str, list[str]]:
    """The JSONPaths document mapping a staging table's source fields, then the provenance,
    in the order of the COPY column list."""
    fields = list(sql.STAGING_FIELDS[table].values()) + list(PROVENANCE)
    return {"jsonpaths": [f"$['{name}']" for name in fields]}


def copy_columns(table: str) -> list[str]:
    return statements.staged_columns(table)


# --------------------------------------------------------------------------- compaction


def part_count(total_bytes: int, slices: int) -> int:
    """Parts for total_bytes of input: a multiple of the slice count (every slice loads one at a
    time), each about PART_TARGET_BYTES, and none below 1 MB compressed when the run is small."""
    parts = slices * max(1, math.ceil(total_bytes / (slices * PART_TARGET_BYTES)))
    compressed = total_bytes * GZIP_RATIO
    if compressed / parts < PART_MIN_COMPRESSED:
        parts = max(1, min(parts, int(compressed // PART_MIN_COMPRESSED)))
    return parts


@dataclass
class Part:
    """One compacted file, written locally before it is uploaded."""

    path: Path
    file: IO[bytes]
    written: int = 0  # uncompressed bytes
    records: int = 0


class PartWriter:
    """Writes NDJSON lines into n gzip parts, each object into the part with the fewest bytes."""

    def __init__(self, folder: Path, name: str, parts: int) -> None:
        paths = [folder / f"{name}-{i:04d}.json.gz" for i in range(parts)]
        self.parts = [Part(path, gzip.open(path, "wb", 3)) for path in paths]  # noqa: SIM115 - closed in close()

    def write_object(self, lines: list[bytes]) -> None:
        part = min(self.parts, key=lambda p: p.written)
        data = b"".join(lines)
        part.file.write(data)
        part.written += len(data)
        part.records += len(lines)

    def close(self) -> list[Part]:
        for part in self.parts:
            part.file.close()
        return [p for p in self.parts if p.records]


def compact(
    cfg: Settings, planned: Iterable[tuple[int, SourceObject]], columns: list[staging.Column], run_id: int,
    rejects: staging.RejectSpool, counts: staging.StageCounts, folder: Path, name: str, parts: int,
) -> list[Part]:
    """Type (and repair) the planned objects' records with the PostgreSQL path's loop and checks,
    and write the good ones, as JSON lines of their typed values, into gzip NDJSON parts."""
    typer = staging.new_typer(cfg, columns, run_id, output=staging.JSON_LINES)
    writer = PartWriter(folder, name, parts)
    ids: dict[str, int] = {}

    def objects() -> Iterator[SourceObject]:  # remembers each object's id only while it is read
        for oid, obj in planned:
            ids[obj.key] = oid
            yield obj

    progress = console.Progress()
    for obj, data in sources.read_objects(cfg, objects()):
        lines: list[bytes] = []
        for _ in staging.type_object(obj, ids.pop(obj.key), data, typer, lines, counts, rejects.add):
            pass  # never pauses: an object's lines go to one part
        if lines:
            writer.write_object(lines)
        progress(lambda: f"compacting {name}: {counts.objects:,} objects, {counts.rows:,} records")
    return writer.close()


# --------------------------------------------------------------------------- S3 work files


def upload(client: Any, area: WorkArea, files: Iterable[tuple[Path, str]]) -> None:
    """Upload local files to the work area concurrently (multipart for large ones)."""
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    transfer = TransferConfig(multipart_threshold=64 << 20, max_concurrency=8)

    def put(item: tuple[Path, str]) -> None:
        path, name = item
        try:
            client.upload_file(str(path), area.bucket, area.key(name), Config=transfer)
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(s3.describe_aws_error(exc, f"cannot write {area.uri(name)}")) from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, files))


def put_json(client: Any, area: WorkArea, name: str, document: object) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        client.put_object(Bucket=area.bucket, Key=area.key(name), Body=body, ContentType="application/json")
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(s3.describe_aws_error(exc, f"cannot write {area.uri(name)}")) from None
    return area.uri(name)


def manifest(area: WorkArea, files: list[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """A COPY manifest of exactly these files; mandatory, so a missing one fails the COPY."""
    return {"entries": [
        {"url": area.uri(name), "mandatory": True, "meta": {"content_length": size}} for name, size in files
    ]}


def remove_work_area(client: Any, area: WorkArea) -> None:
    """Delete every object under the run's work prefix (best effort: a failure is only reported)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=area.bucket, Prefix=area.prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=area.bucket, Delete={"Objects": keys, "Quiet": True})
    except (BotoCoreError, ClientError) as exc:
        console.say(f"(could not remove the work files under {area.uri('')}: {console.first_line(exc)})")


# --------------------------------------------------------------------------- the run's steps


class CopyFailed(DwhError):
    """A COPY failed; its load errors can be read once the transaction is rolled back."""

    def __init__(self, table: str, message: str) -> None:
        super().__init__(f"COPY {table} failed: {message}")
        self.table = table


@dataclass
class RedshiftStage:
    """What a Redshift run writes to S3, and what it needs to map load errors back."""

    cfg: Settings
    area: WorkArea
    folder: Path
    client: Any
    since: datetime  # load errors of this session from then on are this run's
    parts: dict[str, list[tuple[str, Part]]] = field(default_factory=dict)  # table -> (name, part)
    region: str = ""  # the work bucket's (work_region): what the work area's COPYs name

    def params(self) -> dict[str, str]:
        """The role and region of a COPY from the work area."""
        return dict(redshift_params(self.cfg), region=self.region)


@dataclass(frozen=True)
class LoadError:
    """A row Redshift's COPY skipped or failed on, and the source record it came from."""

    file: str
    line: int  # in the part
    column: str
    reason: str
    raw: str  # the start of the line, as stl_load_errors keeps it
    object_id: int | None = None
    source_line: int | None = None
    record_no: int | None = None

    @property
    def source(self) -> str:
        return next((s for s, t in sql.STAGING_TABLE.items() if f"/{t}/" in self.file), "?")


def new_stage(cfg: Settings, started: datetime) -> RedshiftStage:
    redshift_params(cfg)  # fail early on a missing role
    area, client = work_area(cfg, started), s3.s3_client(cfg)
    region = work_region(cfg, client, area.bucket)
    folder = Path(tempfile.mkdtemp(prefix="sparkify-redshift-"))
    return RedshiftStage(cfg, area, folder, client, started, region=region)


def close_stage(stage: RedshiftStage) -> None:
    """Remove the run's work files, in S3 and here."""
    remove_work_area(stage.client, stage.area)
    shutil.rmtree(stage.folder, ignore_errors=True)


def listing_file(folder: Path, listing: Iterator[SourceObject]) -> Path:
    """The run's listing as a gzip CSV, for COPY into listed_objects."""
    import csv

    path = folder / "listing.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        for obj in listing:
            writer.writerow([obj.source, obj.key, obj.etag or "", obj.size])
    return path


def copy_listing(cur: psycopg2.extensions.cursor, stage: RedshiftStage, listing: Iterator[SourceObject]) -> None:
    path = listing_file(stage.folder, listing)
    upload(stage.client, stage.area, [(path, "listing.csv.gz")])
    session.execute(cur, sql.REDSHIFT_LISTED_OBJECTS_COPY,
                dict(stage.params(), listing=stage.area.uri("listing.csv.gz")))


def cluster_slices(cur: psycopg2.extensions.cursor) -> int:
    session.execute(cur, sql.REDSHIFT_SLICES)
    return max(1, int(cur.fetchone()[0]))


def compact_source(
    cur: psycopg2.extensions.cursor, stage: RedshiftStage, run_id: int, table: str,
    planned: Iterable[tuple[int, SourceObject]], planned_bytes: int, rejects: staging.RejectSpool,
) -> staging.StageCounts:
    """Type and check the source's planned objects and write the good records as parts."""
    counts = staging.StageCounts()
    if not planned_bytes:
        return counts
    columns = staging.staging_columns(cur, table)
    parts = part_count(planned_bytes, cluster_slices(cur))
    written = compact(stage.cfg, planned, columns, run_id, rejects, counts, stage.folder, table, parts)
    stage.parts[table] = [(f"{table}/{p.path.name}", p) for p in written]
    console.say(f"compacted {table}: {counts.objects:,} objects into {len(written)} parts, {counts.rows:,} records,"
            f" {counts.rejected:,} rejected, {counts.repaired:,} values repaired")
    return counts


def copy_source(cur: psycopg2.extensions.cursor, stage: RedshiftStage, table: str, max_errors: int) -> None:
    """Upload the table's parts, its JSONPaths and manifest, then one COPY from the manifest, which
    may skip `max_errors` rows (its MAXERROR is one more)."""
    names = stage.parts.get(table, [])
    if not names:
        return
    upload(stage.client, stage.area, [(p.path, name) for name, p in names])
    put_json(stage.client, stage.area, f"{table}.jsonpaths", jsonpaths(table))
    put_json(stage.client, stage.area, f"{table}.manifest",
             manifest(stage.area, [(name, p.path.stat().st_size) for name, p in names]))
    started = time.monotonic()
    try:
        session.execute(cur, sql.REDSHIFT_STAGING_COPY,
                    dict(stage.params(), manifest=stage.area.uri(f"{table}.manifest"),
                         jsonpaths=stage.area.uri(f"{table}.jsonpaths"), max_errors=maxerror(max_errors)),
                    fill={"table": table, "columns": ", ".join(copy_columns(table))})
    except psycopg2.Error as exc:
        raise CopyFailed(table, console.first_line(exc)) from None
    console.say(f"COPY {table}: {time.monotonic() - started:.1f} s")


def load_errors(cur: psycopg2.extensions.cursor, since: datetime) -> list[LoadError]:
    """The rows this session's COPYs skipped or failed on since the run began."""
    session.execute(cur, sql.REDSHIFT_LOAD_ERRORS, {"since": since})
    return [load_error(str(f).strip(), int(n), str(c or "").strip(), str(r or "").strip(), str(raw or ""))
            for f, n, c, r, raw in cur.fetchall()]


def load_error(file: str, line: int, column: str, reason: str, raw: str) -> LoadError:
    """A load error, traced to its source record by the provenance at the start of the line."""
    text = f"Redshift: {column}: {reason}" if column else f"Redshift: {reason}"
    found = PROVENANCE_AT_START.match(raw.encode())
    if found is None:
        return LoadError(file, line, column, text, raw)
    object_id, source_line, record_no = found.groups()
    return LoadError(file, line, column, text, raw, int(object_id),
                     None if source_line == b"null" else int(source_line), int(record_no))


def copy_rejects(cur: psycopg2.extensions.cursor, stage: RedshiftStage, rejects: staging.RejectSpool,
                 run_id: int) -> None:
    """The run's rejects, through S3 like everything Redshift loads."""
    if not rejects.count:
        return
    import csv

    path = stage.folder / f"rejects-{run_id}.gz"
    with gzip.open(path, "wt", 3, encoding="utf-8", errors="replace", newline="") as out:
        csv.writer(out).writerows(rejects.records(run_id))  # a CSV like the listing: keys kept as they are
    upload(stage.client, stage.area, [(path, path.name)])
    session.execute(cur, sql.REDSHIFT_REJECTS_COPY, dict(stage.params(), rejects=stage.area.uri(path.name)))
