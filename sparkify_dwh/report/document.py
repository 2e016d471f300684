"""The --json document: the period, the data's range, and every panel's numbers under its key,
in the order of PANELS.

What several panels read is prepared once first: the session's settings and temporary tables,
the top lists, the days, and trends.py's stored results. The APART panels run on a second
connection meanwhile (the server has a process, and a CPU, for each).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import psycopg2.extensions

import sql_queries as sql
from sparkify_dwh import console, session
from sparkify_dwh.dialects import Postgres
from sparkify_dwh.errors import DwhError
from sparkify_dwh.trends import compute_trends, trends_are_stale
from sparkify_dwh.trends import latest_trends as stored_trends

from .numbers import AFTER, APART, MAIN, TOP, Inputs, Listeners, choose_period, fetch, finite
from .panels import PANELS

Connect = Callable[[], psycopg2.extensions.connection]


def latest_trends(conn: psycopg2.extensions.connection) -> tuple[dict[str, Any] | None, str | None]:
    """trends.py's latest stored results, computed (and stored) first when there are none or
    they are older than the last load; or why there are none."""
    try:
        stored = stored_trends(conn)
        if stored is None or trends_are_stale(conn):
            console.say("computing trends (none stored, or older than the last load) ...")
            stored = compute_trends(conn)
        conn.commit()
        return finite(stored), None
    except DwhError as exc:
        conn.rollback()
        return None, f"Trends could not be computed: {console.first_line(exc)}"


def prepare(inputs: Inputs, dialect: Postgres) -> None:
    """The session's settings and the temporary tables several panels read: the period's plays
    per song (song_totals when the period spans every day with plays, else song_days), the top
    songs and artists, and each user's active weeks; then the top lists themselves."""
    cur, period = inputs.cur, inputs.period
    session.run_all(cur, dialect.report_settings())  # room for the sorts and hashes in memory
    session.run_all(cur, sql.REPORT_TEMPORARY_DROP)
    session.execute(cur, sql.REPORT_PLAY_DAYS)
    first, last = cur.fetchone()
    whole = first is None or (period.date_from <= first and period.date_to >= last)
    ranking = ([sql.REPORT_TOP_SONG_LIST_ALL, sql.REPORT_TOP_ARTIST_LIST_ALL] if whole
               else [sql.REPORT_SONG_TOTALS, sql.REPORT_TOP_SONG_LIST, sql.REPORT_TOP_ARTIST_LIST])
    for statement in [*ranking, sql.REPORT_USER_WEEKS]:
        session.execute(cur, statement, period.params(limit=TOP))
    if dialect.keeps_statistics:
        session.execute(cur, sql.REPORT_USER_WEEKS_ANALYZE)
    inputs.songs, inputs.artists = fetch(cur, sql.REPORT_TOP_SONGS), fetch(cur, sql.REPORT_TOP_ARTISTS)


def top_listeners(inputs: Inputs) -> Listeners:
    """The distinct listeners in the period of the top songs and of the top artists (the one
    read of app_events)."""
    songs, artists = inputs.songs, inputs.artists
    if not songs and not artists:
        return {}
    names = {r["artist"] for r in songs + artists}
    titles = {r["song"] for r in songs} or {""}  # IN () is no SQL: "" names no top song then
    rows = inputs.fetch(sql.REPORT_TOP_LISTENERS, top_artists=tuple(sorted(names)), top_titles=tuple(sorted(titles)))
    return {(r["artist"], r["song"]): r["listeners"] for r in rows}


def apart_numbers(inputs: Inputs) -> tuple[Listeners, dict[str, Any]]:
    """The top lists' listeners and the APART panels' numbers: what needs none of the report's
    temporary tables."""
    return top_listeners(inputs), {p.key: p.numbers(inputs) for p in PANELS if p.stage == APART}


def apart_on_its_own(connect: Connect, dialect: Postgres, inputs: Inputs) -> tuple[Listeners, dict[str, Any]]:
    """apart_numbers on a connection of its own, beside the main one's queries."""
    with closing(connect()) as conn, conn.cursor() as cur:
        session.run_all(cur, dialect.report_settings())
        result = apart_numbers(dataclasses.replace(inputs, cur=cur))
        conn.rollback()
    return result


def panel_numbers(conn: psycopg2.extensions.connection, dialect: Postgres, date_from: dt.date | None,
                  date_to: dt.date | None, connect: Connect | None = None) -> dict[str, Any]:
    """The numbers behind every panel, under the stable keys of --json. With `connect`, the
    APART panels' are computed on a second connection meanwhile."""
    trends, trends_problem = latest_trends(conn)
    with conn.cursor() as cur, ThreadPoolExecutor(max_workers=1) as pool:
        period, data = choose_period(cur, date_from, date_to)
        inputs = Inputs(cur, period, data, trends, trends_problem)
        prepare(inputs, dialect)
        apart = pool.submit(apart_on_its_own, connect, dialect, dataclasses.replace(inputs)) if connect else None
        inputs.days = fetch(cur, sql.REPORT_DAILY, period.params())  # Daily activity's, and Free and paid's
        numbers: dict[str, Any] = {p.key: p.numbers(inputs) for p in PANELS if p.stage == MAIN}
        inputs.listeners, more = apart.result() if apart else apart_numbers(inputs)
        numbers |= more
        numbers |= {p.key: p.numbers(inputs) for p in PANELS if p.stage == AFTER}
    conn.rollback()  # the report only reads; its temporary tables go with the session
    return {"period": period.as_json(), "data": data, **{p.key: numbers[p.key] for p in PANELS}}

