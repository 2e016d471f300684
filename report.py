"""Write the Sparkify dashboard: one self-contained HTML page from the analytics layer.

Every panel is one query in sql_queries (section 8) over the analytics tables; Python gets small
aggregates and draws them with Vega-Lite (Altair), the Vega JavaScript inlined once, so the page
opens with no network. --json prints the numbers behind every panel instead. Forecasts and
trending songs come from trends.py's stored results, computed first when there are none or they
are older than the last load. Users appear by id only.

The panels, their numbers, charts and templates are in sparkify_dwh/report/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import stat
import tempfile
import time
from contextlib import closing, suppress
from pathlib import Path

import psycopg2.extensions

from sparkify_dwh import cli, console, session, settings, warehouse
from sparkify_dwh.errors import DwhError
from sparkify_dwh.report.document import panel_numbers
from sparkify_dwh.report.numbers import json_default
from sparkify_dwh.report.page import render_html
from sparkify_dwh.report.panels import PANELS

ANALYTICS_TABLES = ["app_events", "user_levels", "devices", "user_days", "user_sessions", "song_days",
                    "hour_plays", "user_day_places", "song_totals", "users", "etl_runs"]


# The dates a period may start and end on: any period within, and the period of the same length
# before it that the key figures compare with, stay inside what Python and PostgreSQL represent.
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2199, 12, 31)


def date_argument(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text) if text.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}")
    if not FIRST_DATE <= day <= LAST_DATE:
        raise argparse.ArgumentTypeError(f"expected a date from {FIRST_DATE} to {LAST_DATE}, not {text!r}")
    return day


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0],
                                 json_help="print the numbers behind every panel as JSON instead")
    parser.add_argument("--out", metavar="PATH", default="report.html", help="where to write the page "
                        "(default: report.html)")
    parser.add_argument("--from", dest="date_from", type=date_argument, metavar="DATE",
                        help="first day of the period, YYYY-MM-DD (default: the first loaded day)")
    parser.add_argument("--to", dest="date_to", type=date_argument, metavar="DATE",
                        help="last day of the period, inclusive (default: the last loaded day)")
    return parser.parse_args(argv)


def require_tables(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        missing = [t for t in ANALYTICS_TABLES if not session.table_exists(cur, t)]
    conn.rollback()
    if missing:
        raise DwhError(f"tables missing: {', '.join(missing)}; run: python create_tables.py, then python etl.py")


FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def write_page(path: Path, text: str) -> Path:
    """Write the whole page or nothing, so a reader never opens half a file; returns the file written.

    The target is a new file, a regular file, or a symlink to one (written through, to its target):
    anything else (a folder, a FIFO, a device such as /dev/stdout) is refused. An existing file keeps
    its mode and owner. The page is written to a temporary file of a short random name beside the
    target, then renamed over it; when the owner cannot be kept that way (another user's file in a
    folder this user may write), the file is rewritten in place. Every failure is one line naming
    the path."""
    if not str(path) or not path.name:
        raise DwhError(f"cannot write {str(path)!r}: --out must name a file")
    target = Path(os.path.realpath(path))  # through every symlink, to the file it leads to
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise DwhError(f"cannot write {path}: {exc.strerror or exc}") from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = FILE_KINDS.get(stat.S_IFMT(existing.st_mode), "not a regular file")
        raise DwhError(f"cannot write {path}: it is {kind}, not a regular file; give --out a file path")
    data = text.encode("utf-8")
    try:
        fd, partial = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DwhError(f"cannot write {path}: {exc.strerror or exc} (in {target.parent})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if existing is None:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(partial, 0o666 & ~umask)  # as open() would have made it
        else:
            os.chmod(partial, stat.S_IMODE(existing.st_mode))
            if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.chown(partial, existing.st_uid, existing.st_gid)
                except PermissionError:  # only root gives a file away: keep the owner by rewriting it
                    os.unlink(partial)
                    target.write_bytes(data)
                    return target
        os.replace(partial, target)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(partial)
        raise DwhError(f"cannot write {path}: {exc.strerror or exc}") from None
    return target


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    with closing(warehouse.connect(cfg)) as conn:
        require_tables(conn)
        numbers = panel_numbers(conn, cfg.dialect, args.date_from, args.date_to,
                                lambda: warehouse.connect(cfg))
    if args.json:
        print(json.dumps(cli.with_offsets(numbers), indent=2, ensure_ascii=False, allow_nan=False,
                         default=json_default))
        console.say(f"computed the numbers of {len(PANELS)} panels in {time.perf_counter() - started:.1f} s")
        return 0
    text = render_html(numbers)
    written = write_page(Path(args.out).expanduser(), text)
    size = len(text.encode())
    console.say(f"wrote {written} ({size / 1024:,.0f} KB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
