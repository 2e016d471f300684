"""The scripts' edge: their common arguments (--config, --version, --json), the one JSON document a
script prints for machines, and every failure turned into one line and an exit code; a closed
stdout (`| head -1`) ends a script quietly."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import select
import sys
import traceback
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from sparkify_dwh.console import first_line, printable, say
from sparkify_dwh.errors import DwhError
from sparkify_dwh.settings import _LOADED, redact
from sparkify_dwh.version import version

JSON_HELP = "print the result as one JSON document on stdout (progress stays on stderr)"


def argument_parser(description: str, *, json_help: str | None = JSON_HELP) -> argparse.ArgumentParser:
    """A script's parser with the common options: --config, --version and (unless json_help is
    None: the script prints no result) --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: dwh.cfg beside the scripts)"
    )
    parser.add_argument("--version", action="version", version=version_line(),
                        help="print the toolkit's version and exit")
    if json_help is not None:
        parser.add_argument("--json", action="store_true", help=json_help)
    return parser


def whole_number(text: str) -> int:
    """An argparse type: a whole number written in ASCII digits ('٣' is not 3, as int() would have it)."""
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number in digits 0-9, not {text!r}")
    return int(text)


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds in ASCII ('1.5'; not '٣', 'inf' or 'nan')."""
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text.strip()) or float(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0 in digits 0-9, not {text!r}")
    return float(text)


def version_line() -> str:
    return f"sparkify-dwh {version()}"


def refuse_json(parser: argparse.ArgumentParser, args: argparse.Namespace, mode: str) -> None:
    """--json with a mode that prints no result: a usage error (exit 2)."""
    if getattr(args, "json", False):
        parser.error(f"--json: {mode} prints no result to give as JSON")


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 with the UTC offset. The warehouse keeps UTC in TIMESTAMP columns (without a zone):
    a naive time is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def json_value(value: Any) -> Any:
    """What json.dumps cannot write by itself: timestamps (with their offset), dates, NUMERIC,
    intervals (seconds), bytes (hex)."""
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_NAIVE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,6})?)?")


def with_offsets(document: Any) -> Any:
    """The document with every timestamp text written without a zone ('2026-12-08 00:20:05.157315',
    as a module that shows them to people keeps them) as ISO 8601 with the UTC offset: the
    warehouse's times are UTC."""
    if isinstance(document, dict):
        return {key: with_offsets(value) for key, value in document.items()}
    if isinstance(document, list):
        return [with_offsets(value) for value in document]
    if isinstance(document, str) and _NAIVE_TIMESTAMP.fullmatch(document):
        return timestamp(dt.datetime.fromisoformat(document))
    return document


def print_json(document: Any) -> None:
    """The one JSON document of a --json mode, on stdout, on one line: a log of runs is JSON Lines,
    and a scheduler that keeps the last line of output (Airflow's XCom) keeps the whole document."""
    print(json.dumps(document, default=json_value, ensure_ascii=False, allow_nan=False), flush=True)


def run_script(main: Callable[[], int]) -> None:
    """Run a script's main(): exit 0 on success; one line on stderr and exit 1 on failure.

    Set DWH_DEBUG=1 to see the traceback of an unexpected error."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError as exc:
        code = _quiet_exit(exc)
    except KeyboardInterrupt:
        say("interrupted; nothing was committed by the step that was running")
        code = 130
    except DwhError as exc:  # printable: a value in the message (an object key, say) stays on one line
        say(f"error: {printable(_redacted(str(exc)))}")
        code = 1
    except psycopg2.errors.LockNotAvailable as exc:  # [ETL] LOCK_TIMEOUT passed
        where = f" (in {exc.dwh_statement})" if getattr(exc, "dwh_statement", None) else ""  # type: ignore[attr-defined]
        say(f"error: gave up waiting for a lock after [ETL] LOCK_TIMEOUT seconds{where};"
            " nothing was committed by the step that was waiting")
        code = 1
    except psycopg2.Error as exc:
        say(f"error: the warehouse said: {printable(_redacted(first_line(exc)))}")
        code = 1
    except Exception as exc:  # a bug or an unforeseen fault: still one line, details on request
        code = 0 if isinstance(exc, BrokenPipeError) and stdout_closed() else _unexpected(exc)
    if stdout_closed():  # nothing more may be written to it, not even at exit (Python's own flush)
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
    sys.exit(code)


def _unexpected(exc: Exception) -> int:
    """A bug or an unforeseen fault: one line (the traceback with DWH_DEBUG=1); exit code 1.
    (A BrokenPipeError on a closed stdout is not one: whoever read it has gone, as with
    `etl.py | head -1`, after the work was done and committed; the script exits 0, silently.)"""
    if os.environ.get("DWH_DEBUG"):
        traceback.print_exception(exc)
    detail = _redacted(f"{type(exc).__name__}: {first_line(exc)}")
    say(f"error: {printable(detail)} (set DWH_DEBUG=1 for the traceback)")
    return 1


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (a write would raise BrokenPipeError)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO)
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poll.poll(0))


def _quiet_exit(exc: BrokenPipeError) -> int:
    """`python etl.py --status | head -1`: the reader took what it wanted. Nothing more goes to
    stdout (Python's own flush at exit would fail again): exit 0, quietly. A broken pipe that is
    not stdout's is an error like any other."""
    if not stdout_closed():
        say(f"error: {printable(_redacted(f'{type(exc).__name__}: {first_line(exc)}'))}")
        return 1
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def _redacted(text: str) -> str:
    """text without the secrets of any configuration the script loaded (when it failed to load
    one, only the environment's: no message from loading shows a value from the file)."""
    for cfg in _LOADED or [None]:
        text = redact(text, cfg)
    return text
