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
import time
from contextlib import closing
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


def date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}") from None


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


def write_page(path: Path, text: str) -> None:
    """Write the whole page or nothing: a reader never opens half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DwhError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    with closing(warehouse.connect(cfg)) as conn:
        require_tables(conn)
        numbers = panel_numbers(conn, settings.dialect(cfg), args.date_from, args.date_to,
                                lambda: warehouse.connect(cfg))
    if args.json:
        print(json.dumps(cli.with_offsets(numbers), indent=2, ensure_ascii=False, allow_nan=False,
                         default=json_default))
        console.say(f"computed the numbers of {len(PANELS)} panels in {time.perf_counter() - started:.1f} s")
        return 0
    text = render_html(numbers)
    out = Path(args.out).expanduser()
    write_page(out, text)
    size = len(text.encode())
    console.say(f"wrote {out.resolve()} ({size / 1024:,.0f} KB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    cli.run_script(main)
