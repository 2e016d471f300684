"""Check the data in the Sparkify warehouse, time typical analytics queries, sample every table.

Each check is a query for the offending rows (sql_queries, section 6): NULL keys, duplicate
keys, songplays whose user, time, song or artist is missing from its dimension, values outside
the accepted ones, songplays that do not reconcile with the staged NextSong events, and the
analytics layer's aggregates (user_day_places, song_totals, hour_plays) that do not add up to
what they are built from. A check passes when it finds none. Exits 1 when any check fails, so a
scheduler can stop on bad data.
Warnings (events later than their load, say) are shown and counted, and never fail.
The terminal report fits the terminal's width; --verbose adds each warning's examples and the
sample rows of every table, --json gives everything. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from contextlib import closing
from typing import Any

import sql_queries as sql
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


def fitted_table(headers: list[str], rows: list[list[Any]], cut: int, width: int) -> str:
    """A table whose column `cut` (a description) loses its end, or goes, so every line fits `width`."""
    text = console.format_table(headers, rows)
    over = max(map(len, text.splitlines()), default=0) - width
    if over > 0:
        keep = max((len(str(row[cut])) for row in rows), default=0) - over
        if keep >= 12:
            rows = [[*row[:cut], cut_text(str(row[cut]), keep), *row[cut + 1:]] for row in rows]
        else:  # no room to say anything: the names alone
            headers, rows = headers[:cut] + headers[cut + 1:], [row[:cut] + row[cut + 1:] for row in rows]
        text = fit_lines(console.format_table(headers, rows), width)
    return text


def cut_text(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def fit_lines(text: str, width: int) -> str:
    """Every line within width (a wide table of examples loses its right end: --json has it all)."""
    return "\n".join(cut_text(line, width) for line in text.splitlines())


def report_text(report: Report, *, verbose: bool = False, width: int | None = None) -> str:
    """The terminal report: within `width` (the terminal's), unless verbose, which adds each
    warning's examples and the sample rows of every table, at their own width."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    wide = 10**6 if verbose else width
    failed = [check for check in report.checks if not check.passed]
    parts = [
        f"Checks: {len(report.checks) - len(failed)} passed, {len(failed)} failed",
        fitted_table(
            ["check", "what it checks", "offending rows", "result"],
            [[c.name, c.description, c.count, "PASS" if c.passed else "FAIL"] for c in report.checks], 1, wide,
        ),
    ]
    for check in failed:
        first = f", the first {len(check.examples)}" if len(check.examples) < check.count else ""
        parts.append(f"\n{check.name}: {rows_text(check.count)} offending{first}:")
        parts.append(fit_lines(table_text(check.columns, check.examples), wide))
    for warning in report.warnings:
        line = f"warning: {warning.name}: {rows_text(warning.count)}, {warning.description} (not a failure)"
        if not verbose:
            parts.append("\n" + cut_text(line, width))
            continue
        parts.append(f"\n{line}; the first {len(warning.examples)}:")
        parts.append(table_text(warning.columns, warning.examples))
    rate = report.match_rate
    percent = f" ({rate.percent:.2f}%)" if rate.percent is not None else ""
    parts.append(f"\nSong match rate: {rate.matched:,} of {rate.total:,} songplays have a song{percent}")
    if report.timings:
        parts.append(f"\nAnalytics queries, median of {report.timings[0].runs} runs")
        parts.append(fitted_table(
            ["query", "what it answers", "median ms", "rows"],
            [[t.name, t.description, t.median_ms, t.rows] for t in report.timings], 1, wide,
        ))
    for sample in report.samples if verbose else ():
        parts.append(f"\n{sample.table}: {rows_text(len(sample.rows))} of a sample")
        parts.append(table_text(sample.columns, sample.rows) if sample.rows else "(empty)")
    if report.samples and not verbose:
        parts.append(f"\n(sample rows of {len(report.samples)} tables: --verbose or --json)")
    return "\n".join(parts)


def records(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def report_json(report: Report) -> dict[str, Any]:
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
    return document


# --------------------------------------------------------------------------- main


def count_argument(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.strip().isascii() and text.strip().isdigit()) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, not {text!r}")
        return int(text)

    return parse


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = cli.argument_parser(__doc__.splitlines()[0],
                                 json_help="print everything (checks with examples, warnings, match rate, timings,"
                                           " samples) as one JSON document on stdout")
    parser.add_argument("--repeat", type=count_argument(0), default=5, metavar="N",
                        help="run each analytics query N times and report the median (default: 5; 0 skips them)")
    parser.add_argument("--sample", type=count_argument(0), default=5, metavar="N",
                        help="take N rows of every table, shown with --verbose or --json (default: 5; 0 takes none)")
    parser.add_argument("--verbose", action="store_true",
                        help="show each warning's examples and the sample rows, however wide")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cfg = settings.load_config(args.config)
    with closing(warehouse.connect(cfg)) as conn:
        require_tables(conn, cfg.dialect)
        use_memory_for_checks(conn, cfg.dialect)
        console.say(f"running {len(sql.CHECKS)} checks ...")
        checked = run_checks(conn, progress=console.Progress())
        console.say(f"song match rate, {len(sql.WARNINGS)} warnings"
                    + (f", {len(sql.ANALYTICS_QUERIES)} analytics queries timed {args.repeat} times each"
                       if args.repeat else "")
                    + (f", {args.sample} sample rows of {len(sql.TABLES)} tables" if args.sample else "") + " ...")
        report = Report(
            checks=checked,
            match_rate=song_match_rate(conn),
            timings=time_analytics_queries(conn, args.repeat),
            samples=sample_tables(conn, args.sample),
            warnings=run_warnings(conn),
        )
    if args.json:
        cli.print_json(report_json(report))
    else:
        print(report_text(report, verbose=args.verbose))
    failure = failure_summary(report.checks)
    if failure:
        raise DwhError(failure)
    return 0


if __name__ == "__main__":
    cli.run_script(main)
