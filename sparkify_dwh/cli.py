"""The scripts' edge: their common arguments, and every failure turned into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable

import psycopg2
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
