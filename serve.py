"""Keep the embedded warehouse running and print how to connect to it, until interrupted.

For psql, DBeaver, Metabase or any PostgreSQL client on this machine: the embedded server
normally stops when the last toolkit script exits; while this runs, it stays up.
"""

from __future__ import annotations

import argparse
import signal
import threading
from contextlib import closing, suppress

from sparkify_dwh import cli, console, dialects, settings, warehouse
from sparkify_dwh.errors import ConfigError
from sparkify_dwh.settings import Settings


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true",
                        help="print the connection URL and exit (the server stops when no script uses it)")
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


def wait_until_interrupted() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with suppress(KeyboardInterrupt):
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    url = connection_url(cfg)
    print(url, flush=True)
    if args.once:
        return 0
    console.say(f"the embedded warehouse is up: psql \"{url}\"  (Ctrl-C stops serving)")
    wait_until_interrupted()
    console.say("stopped serving; the server stops when no other script uses it")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
