"""Keep the embedded warehouse running and print how to connect to it, until interrupted.

For psql, DBeaver, Metabase or any PostgreSQL client on this machine: the embedded server
normally stops when the last toolkit script exits; while this runs (until Ctrl-C or SIGTERM),
it stays up. The URL goes to stdout first, so a script can read it and stop serve.py when done.
Analysts find the star schema, the analytics layer and the trend tables, described, as views
in the schema `sparkify`.
"""

from __future__ import annotations

import argparse
import signal
import threading
from contextlib import closing, suppress
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sql_queries as sql
from sparkify_dwh import cli, console, dialects, settings, warehouse
from sparkify_dwh.errors import ConfigError
from sparkify_dwh.settings import Settings


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(
        __doc__.splitlines()[0],
        json_help="print the connection (url, host, port, database, user, passfile, schema) as one JSON document"
                  " instead of the URL, then keep serving")
    return parser.parse_args(argv)


def connection_url(cfg: Settings) -> str:
    """A libpq URL for the configured database on the embedded server (started if needed)."""
    if not dialects.is_embedded(cfg.warehouse.target):
        raise ConfigError(
            f"serve.py keeps the embedded server up; [WAREHOUSE] TARGET is {cfg.warehouse.target}"
            " (connect to that server directly with the [CLUSTER] settings)")
    with closing(warehouse.connect(cfg)):  # starts the server and creates the database if missing
        pass
    return warehouse.embedded_url(cfg)


def connection_document(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    passfile = dict(item.split("=", 1) for item in parts.query.split("&") if "=" in item).get("passfile")
    return {"url": url, "host": parts.hostname, "port": parts.port, "database": unquote(parts.path.lstrip("/")),
            "user": parts.username, "passfile": str(Path(unquote(passfile))) if passfile else None,
            "schema": sql.ANALYST_SCHEMA}


def stop_on_sigterm() -> threading.Event:
    """Set on SIGTERM: installed before the URL is printed, so whoever read it may stop serve.py at once."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def wait_until_interrupted(stop: threading.Event) -> None:
    with suppress(KeyboardInterrupt):
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    url = connection_url(cfg)
    stop = stop_on_sigterm()
    cli.print_json(connection_document(url)) if args.json else print(url, flush=True)
    console.say(f"the embedded warehouse is up: psql \"{url}\"  (Ctrl-C stops serving; analysts: the views"
                f" in the schema {sql.ANALYST_SCHEMA})")
    wait_until_interrupted(stop)
    console.say("stopped serving; the server stops when no other script uses it")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
