"""Output for people: progress on stderr, tables and text safe for a terminal, one-line errors."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

# What a terminal would act on rather than show: C0 and C1 controls (ESC starts screen-clearing
# and title-setting sequences, newlines split table cells), line separators, bidi overrides.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def cut_bytes(text: str, limit: int) -> str:
    """text cut to at most `limit` bytes of UTF-8, at a character boundary: what a VARCHAR(limit)
    holds on Redshift, which counts bytes (cut after escaping: escapes make text longer)."""
    if len(text) * 4 <= limit:  # cheap test first: no character takes more than 4 bytes
        return text
    return text.encode("utf-8", "replace")[:limit].decode("utf-8", "ignore")


def printable(text: str) -> str:
    """text for a terminal: control characters escaped as Python writes them (\\x1b, \\n, \\u202e)."""
    return _UNPRINTABLE.sub(lambda m: repr(m[0])[1:-1], text)


def format_table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A table for the terminal; text cells show control characters escaped (see printable)."""
    from tabulate import tabulate

    cells = [[printable(v) if isinstance(v, str) else v for v in row] for row in rows]
    return str(tabulate(cells, headers=[printable(h) for h in headers], intfmt=",", floatfmt=",.2f",
                        missingval="-"))


def first_line(exc: BaseException | str) -> str:
    """The first line of an error; a statement's (see execute) says which statement failed."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    statement = getattr(exc, "dwh_statement", None)
    return f"{line} (in {statement})" if statement else line


def say(message: str) -> None:
    """Progress for people, on stderr; results go to stdout."""
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Prints a progress line at most every `every` seconds."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.last = time.monotonic()

    def __call__(self, message: Callable[[], str]) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            say(message())
