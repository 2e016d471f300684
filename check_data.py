"""Check the data in the Sparkify warehouse, time typical analytics queries, sample every table.

Each check is a query for the offending rows (sql_queries, section 6): NULL keys, duplicate
keys, songplays whose user, time, song or artist is missing from its dimension, values outside
the accepted ones, songplays that do not reconcile with the staged NextSong events, and the
analytics layer's aggregates (user_day_places, song_totals, hour_plays) that do not add up to
what they are built from. A check passes when it finds none. Exits 1 when any check fails, so a
scheduler can stop on bad data.
Warnings (events later than their load, say) are shown and counted, and never fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from contextlib import closing
from decimal import Decimal
from typing import Any

from sparkify_dwh import cli, console, settings, warehouse
from sparkify_dwh.checks import (
    Report,
    failure_summary,
    require_tables,
    run_checks,
    run_warnings,
    sample_tables,
    song_match_rate,
    time_analytics_queries,
    use_memory_for_checks,
)
from sparkify_dwh.errors import DwhError

WIDEST_VALUE = 40  # characters of a value shown in the terminal; --json has them whole


# --------------------------------------------------------------------------- reporting


def shown(value: Any) -> Any:
    """A value as the terminal shows it: control characters escaped (\\x1b, \\n), long texts lose
    their middle (paths and user agents differ at the end), and whole numbers are ids and years,
    not amounts: no 2,018."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        value = console.printable(value)  # an ESC or a newline in a title must not act on the terminal
    if isinstance(value, str) and len(value) > WIDEST_VALUE:
        keep = (WIDEST_VALUE - 3) // 2
        return f"{value[:keep]}...{value[-keep:]}"
    return value


def table_text(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    return console.format_table(columns, [[shown(value) for value in row] for row in rows])


def rows_text(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def report_text(report: Report) -> str:
    failed = [check for check in report.checks if not check.passed]
    parts = [
        f"Checks: {len(report.checks) - len(failed)} passed, {len(failed)} failed",
        console.format_table(
            ["check", "what it checks", "offending rows", "result"],
            [(c.name, c.description, c.count, "PASS" if c.passed else "FAIL") for c in report.checks],
        ),
    ]
    for check in failed:
        first = f", the first {len(check.examples)}" if len(check.examples) < check.count else ""
        parts.append(f"\n{check.name}: {rows_text(check.count)} offending{first}:")
        parts.append(table_text(check.columns, check.examples))
    for warning in report.warnings:
        parts.append(f"\nwarning: {warning.name}: {rows_text(warning.count)}, {warning.description}"
                     f" (not a failure); the first {len(warning.examples)}:")
        parts.append(table_text(warning.columns, warning.examples))
    rate = report.match_rate
    percent = f" ({rate.percent:.2f}%)" if rate.percent is not None else ""
    parts.append(f"\nSong match rate: {rate.matched:,} of {rate.total:,} songplays have a song{percent}")
    if report.timings:
        parts.append(f"\nAnalytics queries, median of {report.timings[0].runs} runs")
        parts.append(console.format_table(
            ["query", "what it answers", "median ms", "rows"],
            [(t.name, t.description, t.median_ms, t.rows) for t in report.timings],
        ))
    for sample in report.samples:
        parts.append(f"\n{sample.table}: {rows_text(len(sample.rows))} of a sample")
        parts.append(table_text(sample.columns, sample.rows) if sample.rows else "(empty)")
    return "\n".join(parts)


def json_value(value: Any) -> Any:
    """What json.dumps cannot write by itself: timestamps, NUMERIC, intervals, bytes."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def records(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def report_json(report: Report) -> str:
    rate = report.match_rate
    document = {
        "passed": all(check.passed for check in report.checks),
        "checks": [
            {"name": c.name, "description": c.description, "passed": c.passed, "count": c.count,
             "examples": records(c.columns, c.examples)}
            for c in report.checks
        ],
        "warnings": [
            {"name": w.name, "description": w.description, "count": w.count, "examples": records(w.columns, w.examples)}
            for w in report.warnings
        ],
        "match_rate": {"matched": rate.matched, "total": rate.total,
                       "percent": round(rate.percent, 4) if rate.percent is not None else None},
        "timings": [
            {"name": t.name, "description": t.description, "median_ms": round(t.median_ms, 3), "rows": t.rows,
             "runs": t.runs}
            for t in report.timings
        ],
        "samples": {s.table: records(s.columns, s.rows) for s in report.samples},
    }
    return json.dumps(document, default=json_value, indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- main


def count_argument(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, not {text!r}")
        return int(text)

    return parse


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=count_argument(1), default=5, metavar="N",
                        help="run each analytics query N times and report the median (default: 5)")
    parser.add_argument("--sample", type=count_argument(0), default=5, metavar="N",
                        help="show N rows of every table (default: 5; 0 shows none)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    with closing(warehouse.connect(cfg)) as conn:
        require_tables(conn, settings.dialect(cfg))
        use_memory_for_checks(conn, settings.dialect(cfg))
        report = Report(
            checks=run_checks(conn),
            match_rate=song_match_rate(conn),
            timings=time_analytics_queries(conn, args.repeat),
            samples=sample_tables(conn, args.sample),
            warnings=run_warnings(conn),
        )
    print(report_json(report) if args.json else report_text(report))
    failure = failure_summary(report.checks)
    if failure:
        raise DwhError(failure)
    return 0


if __name__ == "__main__":
    cli.run_script(main)
