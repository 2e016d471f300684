"""The scripts' edge: their common arguments, and every failure turned into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import re
import select
import sys
import traceback
from collections.abc import Callable

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from sparkify_dwh.console import first_line, printable, say
from sparkify_dwh.errors import DwhError
from sparkify_dwh.settings import _LOADED, redact


def argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: dwh.cfg beside the scripts)"
    )
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


def _redacted(text: str) -> str:
    """text without the secrets of any configuration the script loaded (when it failed to load
    one, only the environment's: no message from loading shows a value from the file)."""
    for cfg in _LOADED or [None]:
        text = redact(text, cfg)
    return text
