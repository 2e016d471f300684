"""What every panel's numbers function is given and uses: the period, the query helpers, and the
inputs several panels share (the top lists, the days, trends.py's results).

A panel's numbers are plain JSON values: dates as ISO text, NUMERIC as int or float.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import session
from sparkify_dwh.errors import DwhError

Row = dict[str, Any]
TOP = 20  # rows of the ranked tables
Listeners = dict[tuple[str, str | None], int]  # (artist, song) or (artist, None) -> distinct listeners

# When a panel's numbers are computed (Panel.stage):
MAIN = "main"  # on the main connection, in the order of PANELS: it may read the report's temporary tables
APART = "apart"  # on a second connection, beside the main one's queries: it reads no temporary table
AFTER = "after"  # on the main connection once the APART ones are done: it reads the top lists' listeners


# --------------------------------------------------------------------------- the period


class Period:
    """Days date_from .. date_to, inclusive, and the parameters every panel query takes."""

    def __init__(self, date_from: dt.date, date_to: dt.date) -> None:
        self.date_from, self.date_to = date_from, date_to
        self.days = (date_to - date_from).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.date_from - dt.timedelta(days=self.days), self.date_from - dt.timedelta(days=1))

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "date_from": self.date_from, "date_to": self.date_to,
            "day_after_to": self.date_to + dt.timedelta(days=1),
            "wau_from": self.date_to - dt.timedelta(days=6), "mau_from": self.date_to - dt.timedelta(days=27),
            "spans_from": self.date_from - dt.timedelta(days=27),
            "week_from": self.date_from - dt.timedelta(days=self.date_from.weekday()),  # Mondays
            "week_to": self.date_to - dt.timedelta(days=self.date_to.weekday()),
            **extra,
        }

    def as_json(self) -> dict[str, Any]:
        return {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "days": self.days}


def choose_period(cur: psycopg2.extensions.cursor, date_from: dt.date | None,
                  date_to: dt.date | None) -> tuple[Period, dict[str, Any]]:
    """The asked period, by default all loaded days; and the data's own range."""
    session.execute(cur, sql.REPORT_DATA_RANGE)
    first, last, days = cur.fetchone()
    if first is None:
        raise DwhError("no events are loaded yet (the analytics layer is empty); load them with: python etl.py")
    period = Period(date_from or first, date_to or last)
    if period.days < 1:
        raise DwhError(f"--from {period.date_from} is after --to {period.date_to}")
    return period, {"first_day": first.isoformat(), "last_day": last.isoformat(), "days_with_events": days}


# --------------------------------------------------------------------------- querying


def plain(value: Any) -> Any:
    """A database value as JSON has it: dates as ISO text, NUMERIC as int or float."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def json_default(value: Any) -> Any:
    """What json.dumps cannot write itself (dates and NUMERIC in trends.py's results, say)."""
    shown = plain(value)
    if shown is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return shown


def fetch(cur: psycopg2.extensions.cursor, query: str, params: dict[str, Any] | None = None) -> list[Row]:
    session.execute(cur, query, params)
    names = [column.name for column in cur.description]
    return [{name: plain(value) for name, value in zip(names, row, strict=True)} for row in cur.fetchall()]


def ratio(part: float | None, whole: float | None, scale: float = 1.0, digits: int = 4) -> float | None:
    if part is None or not whole:
        return None
    return round(scale * part / whole, digits)


def change(value: float | None, previous: float | None) -> dict[str, Any]:
    if value is None or previous is None:
        return {"value": value, "previous": previous, "change": None, "change_pct": None}
    delta = round(value - previous, 6)
    return {"value": value, "previous": previous, "change": delta, "change_pct": ratio(delta, previous, 100, 2)}


def finite(value: Any) -> Any:
    """The document with NaN and infinities as None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


# --------------------------------------------------------------------------- what a panel is given


@dataclasses.dataclass
class Inputs:
    """What a panel's numbers function is given: a cursor (on the main connection, or on the
    second one for APART panels), the period, the data's own range, trends.py's results (or why
    there are none), and what the report prepared for several panels at once."""

    cur: psycopg2.extensions.cursor
    period: Period
    data: dict[str, Any]
    trends: dict[str, Any] | None = None
    trends_problem: str | None = None
    songs: list[Row] = dataclasses.field(default_factory=list)  # the top songs (REPORT_TOP_SONGS), unranked
    artists: list[Row] = dataclasses.field(default_factory=list)  # the top artists (REPORT_TOP_ARTISTS)
    days: list[Row] = dataclasses.field(default_factory=list)  # REPORT_DAILY's rows, with the levels' columns
    listeners: Listeners = dataclasses.field(default_factory=dict)  # the top lists' listeners (AFTER panels)

    def params(self, **extra: Any) -> dict[str, Any]:
        return self.period.params(**extra)

    def fetch(self, query: str, **extra: Any) -> list[Row]:
        """query's rows for the period (extra: more parameters)."""
        return fetch(self.cur, query, self.params(**extra))
