"""Check that the configured warehouse and sources are ready for a load, one line each with the fix.

Connection and login, the right to create tables, the tables against the model, listing both
sources from this machine; on Redshift also the IAM role, the work prefix and whether the role
can read the sources and the work area (a one-object COPY into a temporary table, from the
work area with the region the load's COPYs name).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import catalog, cli, console, s3, session, settings, sources, warehouse
from sparkify_dwh.errors import DwhError
from sparkify_dwh.settings import Settings


class CheckFailed(Exception):
    """A check that failed; the message says what to fix."""


@dataclass
class Outcome:
    name: str
    passed: bool
    detail: str


def check_connection(cfg: Settings, state: dict[str, object]) -> str:
    try:
        conn = warehouse.connect(cfg)
    except DwhError as exc:
        raise CheckFailed(str(exc)) from None
    state["conn"] = conn
    with conn.cursor() as cur:
        session.execute(cur, sql.SERVER_VERSION)
        version = str(cur.fetchone()[0])
    conn.rollback()
    return version.split(" on ")[0].split(",")[0]


def check_create_rights(cfg: Settings, state: dict[str, object]) -> str:
    conn = _conn(state)
    try:
        with conn.cursor() as cur:
            session.execute(cur, sql.CREATE_RIGHTS_PROBE)
    except psycopg2.Error as exc:
        raise CheckFailed(f"{console.first_line(exc)}; grant CREATE on the schema to [CLUSTER] DB_USER") from None
    finally:
        conn.rollback()
    return "may create tables (probe rolled back)"


def check_tables(cfg: Settings, state: dict[str, object]) -> str:
    missing, differences = catalog.model_problems(_conn(state), cfg.dialect)
    if missing:
        raise CheckFailed(f"missing: {', '.join(missing)}; run: python create_tables.py")
    if differences:
        raise CheckFailed(f"{'; '.join(differences)}; run: python create_tables.py --drop (deletes their data)")
    return f"all {len(sql.TABLES)} tables match the model"


def check_source(source: str, key: str) -> Callable[[Settings, dict[str, object]], str]:
    def check(cfg: Settings, state: dict[str, object]) -> str:
        location = cfg.source(source)
        try:
            first = list(itertools.islice(sources.list_objects(cfg, source, location), 1000))
        except DwhError as exc:
            raise CheckFailed(str(exc)) from None
        if not first:
            raise CheckFailed(f"no data objects under {location}; check [S3] {key}")
        state[f"first_{source}"] = first[0]
        more = "1,000 or more" if len(first) == 1000 else f"{len(first):,}"
        return f"{more} objects under {location}"

    return check


def check_iam_role(cfg: Settings, state: dict[str, object]) -> str:
    from sparkify_dwh import redshift

    try:
        return redshift.redshift_params(cfg)["iam_role"]
    except DwhError as exc:
        raise CheckFailed(str(exc)) from None


def check_work_prefix(cfg: Settings, state: dict[str, object]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from sparkify_dwh import redshift

    try:
        area = redshift.work_area(cfg, session.utc_now())
    except DwhError as exc:
        raise CheckFailed(str(exc)) from None
    client = s3.s3_client(cfg)
    try:
        client.put_object(Bucket=area.bucket, Key=area.key("doctor-probe"), Body=b"{}")
        client.delete_object(Bucket=area.bucket, Key=area.key("doctor-probe"))
    except (BotoCoreError, ClientError) as exc:
        raise CheckFailed(s3.describe_aws_error(exc, f"cannot write {area.uri('')}")) from None
    return f"this machine can write {area.uri('')}"


def check_role_reads(source: str) -> Callable[[Settings, dict[str, object]], str]:
    """A one-object COPY into a temporary table: the cluster, with the role, reads the source."""

    def check(cfg: Settings, state: dict[str, object]) -> str:
        obj = state.get(f"first_{source}")
        if not isinstance(obj, sources.SourceObject) or not obj.key.startswith("s3://"):
            raise CheckFailed(f"needs the {source} source listed from S3 first")
        table = sql.STAGING_TABLE[source]
        columns = ", ".join(sql.STAGING_FIELDS[table])
        paths = cfg.s3.log_jsonpath if source == "events" else "auto"
        conn = _conn(state)
        try:
            with conn.cursor() as cur:
                fill = {"table": table, "columns": columns}
                session.execute(cur, sql.REDSHIFT_PROBE_TABLE, fill=fill)
                session.execute(cur, sql.REDSHIFT_PROBE_COPY,
                            {"object": obj.key, "iam_role": cfg.iam_role.arn,
                             "jsonpaths": paths, "region": cfg.s3.region}, fill=fill)
                session.execute(cur, sql.REDSHIFT_PROBE_ROWS, fill=fill)
                rows = cur.fetchone()[0]
        except psycopg2.Error as exc:
            raise CheckFailed(f"{console.first_line(exc)}; the role needs s3:GetObject and s3:ListBucket on it"
                              ) from None
        finally:
            conn.rollback()
        return f"the cluster read {rows:,} records of {obj.key} with the role"

    return check


# One song record, as compaction writes them (source field names): what the probe COPY reads back.
WORK_PROBE = {"num_songs": 1, "artist_id": "ARDOCTOR", "artist_latitude": None, "artist_longitude": None,
              "artist_location": None, "artist_name": "doctor.py", "song_id": "SODOCTOR", "title": "probe",
              "duration": 1.0, "year": 0}


def check_role_reads_work_area(cfg: Settings, state: dict[str, object]) -> str:
    """A one-object COPY from the work area, with the region the load's COPYs will name (the work
    bucket's, redshift.work_region): the cluster, with the role, reads what a run writes there."""
    import json

    from botocore.exceptions import BotoCoreError, ClientError

    from sparkify_dwh import redshift

    try:
        area = redshift.work_area(cfg, session.utc_now())
        arn = redshift.redshift_params(cfg)["iam_role"]
    except DwhError as exc:
        raise CheckFailed(str(exc)) from None
    client = s3.s3_client(cfg)
    region = redshift.work_region(cfg, client, area.bucket)
    if state.get("conn") is None:
        raise CheckFailed(f"needs a connection to the warehouse first (the load's COPYs will name REGION"
                          f" '{region}', the work bucket's)")
    conn = _conn(state)
    table = sql.STAGING_TABLE["songs"]
    fill = {"table": table, "columns": ", ".join(sql.STAGING_FIELDS[table])}
    key = area.key("doctor-probe.json")
    try:
        client.put_object(Bucket=area.bucket, Key=key, Body=json.dumps(WORK_PROBE).encode())
        with conn.cursor() as cur:
            session.execute(cur, sql.REDSHIFT_PROBE_TABLE, fill=fill)
            session.execute(cur, sql.REDSHIFT_PROBE_COPY, {"object": area.uri("doctor-probe.json"), "iam_role": arn,
                                                       "jsonpaths": "auto", "region": region}, fill=fill)
            session.execute(cur, sql.REDSHIFT_PROBE_ROWS, fill=fill)
            rows = cur.fetchone()[0]
    except (BotoCoreError, ClientError) as exc:
        raise CheckFailed(s3.describe_aws_error(exc, f"cannot write {area.uri('')}")) from None
    except psycopg2.Error as exc:
        raise CheckFailed(f"{console.first_line(exc)}; the load's COPYs read {area.uri('')} with REGION '{region}'"
                          f" (the work bucket's): the role needs s3:GetObject and s3:ListBucket there, and this"
                          f" machine s3:GetBucketLocation on the bucket") from None
    finally:
        conn.rollback()
        with contextlib.suppress(BotoCoreError, ClientError):
            client.delete_object(Bucket=area.bucket, Key=key)
    return f"the cluster read {rows:,} record of {area.uri('doctor-probe.json')} with the role, REGION '{region}'"


def _conn(state: dict[str, object]) -> psycopg2.extensions.connection:
    conn = state.get("conn")
    if conn is None:
        raise CheckFailed("needs a connection to the warehouse first")
    return conn  # type: ignore[return-value]


def checks_for(cfg: Settings) -> list[tuple[str, Callable[[Settings, dict[str, object]], str]]]:
    checks = [
        ("connection and login", check_connection),
        ("right to create tables", check_create_rights),
        ("tables match the model", check_tables),
        ("song source listing", check_source("songs", "SONG_DATA")),
        ("event source listing", check_source("events", "LOG_DATA")),
    ]
    if cfg.dialect.pulls_from_s3:
        checks += [
            ("IAM role", check_iam_role),
            ("work prefix writable", check_work_prefix),
            ("role reads song source", check_role_reads("songs")),
            ("role reads event source", check_role_reads("events")),
            ("role reads the work area", check_role_reads_work_area),
        ]
    return checks


def run_checks(cfg: Settings) -> list[Outcome]:
    state: dict[str, object] = {}
    outcomes = []
    for name, check in checks_for(cfg):
        try:
            outcomes.append(Outcome(name, True, check(cfg, state)))
        except CheckFailed as exc:
            outcomes.append(Outcome(name, False, settings.redact(str(exc), cfg)))
    conn = state.get("conn")
    if conn is not None:
        conn.close()  # type: ignore[attr-defined]
    return outcomes


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    return cli.argument_parser(
        __doc__.splitlines()[0],
        json_help="print the checks as one JSON document on stdout (exit 1 still when one fails)").parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    if not args.json:
        print(f"target: {cfg.warehouse.target}")
    outcomes = run_checks(cfg)
    if args.json:
        cli.print_json({"target": cfg.warehouse.target, "passed": all(o.passed for o in outcomes),
                        "checks": [{"name": o.name, "passed": o.passed, "detail": o.detail} for o in outcomes]})
    for outcome in outcomes if not args.json else ():
        print(f"{'PASS' if outcome.passed else 'FAIL'}  {outcome.name}: {outcome.detail}")
    failed = [o.name for o in outcomes if not o.passed]
    if failed:
        raise DwhError(f"{len(failed)} of {len(outcomes)} checks failed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
