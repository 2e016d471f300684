"""Maintain the analytics layer (sql_queries, section 4) around a run's transforms.

app_events takes the run's new events; the run's new distinct user agents are parsed here with
ua-parser (a few hundred strings at most) and inserted in one statement; every aggregate is
then recomputed for exactly the keys those events touch (song_totals, a sum over all days, takes
the run's plays per song text as a delta instead). etl.py calls them inside the
run's transaction, so the layer commits or rolls back with the star schema: add_events before
the transforms (which take the run's new songplays from app_events), maintain_aggregates after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg2.extensions
import ua_parser

import sql_queries as sql
from sparkify_dwh import console, session, statements
from sparkify_dwh.dialects import Postgres

# OS families whose user agents are desktops; mobile and tablet ones are told apart below.
DESKTOP_OS = ("Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian", "FreeBSD", "OpenBSD",
              "Solaris", "macOS", "Mandriva", "Red Hat", "SUSE", "Gentoo", "Kubuntu", "Mint")
MOBILE_OS = ("iOS", "Android", "Windows Phone", "BlackBerry OS", "Symbian OS", "Firefox OS", "KaiOS", "Tizen")
SIZES = {"os_family": 64, "os_version": 32, "browser_family": 64, "browser_version": 32, "device_family": 64}


@dataclass
class NewEvents:
    since_run: int
    events_added: int
    devices_added: int
    backfilled: bool


def version(*parts: str | None) -> str | None:
    """'10.9.4' from ('10', '9', '4'); None when there is no major part."""
    kept = []
    for part in parts:
        if part is None:
            break
        kept.append(part)
    return ".".join(kept) or None


def fit(text: str | None, size: int) -> str | None:
    """A value cut to `size` bytes of UTF-8 (VARCHAR sizes are bytes on Redshift)."""
    if text is None:
        return None
    return text.encode()[:size].decode(errors="ignore")


def device_type(agent: str, os_family: str, device_family: str) -> str:
    """desktop | mobile | tablet | other, from what ua-parser found and the string's own words."""
    if device_family == "Spider":
        return "other"
    if "iPad" in device_family or "Tablet" in agent or "Kindle" in device_family or (
            os_family == "Android" and "Mobile" not in agent):
        return "tablet"
    if os_family in MOBILE_OS or "Mobile" in agent or device_family == "iPhone":
        return "mobile"
    if os_family.startswith(DESKTOP_OS):
        return "desktop"
    return "other"


def parse_agent(user_agent: str) -> tuple[str | None, ...]:
    """One devices row. The sample's agents come wrapped in double quotes: they are parsed
    without them, and the original string stays the key."""
    agent = user_agent.strip().strip('"').strip()
    parsed = ua_parser.parse(agent).with_defaults()
    os_, browser, device = parsed.os, parsed.user_agent, parsed.device
    return (
        user_agent,
        fit(os_.family, SIZES["os_family"]),
        fit(version(os_.major, os_.minor, os_.patch), SIZES["os_version"]),
        fit(browser.family, SIZES["browser_family"]),
        fit(version(browser.major, browser.minor, browser.patch), SIZES["browser_version"]),
        fit(device.family, SIZES["device_family"]),
        device_type(agent, os_.family, device.family),
    )


def add_devices(cur: psycopg2.extensions.cursor, since_run: int) -> int:
    """Parse the user agents of the run's new events that devices lacks, and insert them at once."""
    session.execute(cur, sql.DEVICES_NEW_AGENTS, {"since_run": since_run})
    rows = [parse_agent(agent) for (agent,) in cur.fetchall()]
    if rows:
        session.insert_values(cur, sql.DEVICES_INSERT, rows, page_size=len(rows))
    return len(rows)


def needs_backfill(cur: psycopg2.extensions.cursor, run_id: int) -> bool:
    """An empty analytics layer over a staging that earlier runs filled: the layer is new."""
    session.execute(cur, sql.ANALYTICS_BACKFILL_NEEDED, {"since_run": run_id})
    return bool(cur.fetchone()[0])


def timed(cur: psycopg2.extensions.cursor, statement: str, since_run: int, dialect: Postgres) -> int:
    """Run one statement of the layer; return the rows it changed."""
    started = time.monotonic()
    rows = session.execute(cur, statement, {"since_run": since_run})
    made = statements.temporary_table(statement)
    if made and dialect.keeps_statistics:  # its size and values, for the plans that join it
        session.execute(cur, sql.POSTGRES_ANALYZE, fill={"table": made})
    seconds = time.monotonic() - started
    if seconds > 1:
        console.say(f"  {session.statement_name(statement)}: {rows:,} rows in {seconds:.1f} s")
    return rows


def add_events(cur: psycopg2.extensions.cursor, since_run: int, dialect: Postgres) -> NewEvents:
    """The run's new events into app_events (every staged record once, when the layer is new),
    and their new user agents into devices. Before the transforms: they read the run's new
    songplays from app_events."""
    backfilled = since_run > 0 and needs_backfill(cur, since_run)
    if backfilled:
        console.say("analytics layer empty: filling it from every staged record once ...")
        since_run = 0
    events_added = 0
    for statement in sql.analytics_app_events_queries:
        rows = timed(cur, statement, since_run, dialect)
        if statement is sql.APP_EVENTS_INSERT:
            events_added = rows
    if dialect.keeps_statistics:
        session.run_all(cur, sql.POSTGRES_AFTER_APP_EVENTS)
        session.analyze_if_grown(cur, "app_events", events_added)  # for the plans of what reads it
    elif events_added:  # Redshift skips it when the run changed too few rows (sql.REDSHIFT_ANALYZE)
        session.execute(cur, "REDSHIFT_ANALYZE", fill={"table": "app_events"})
    devices_added = add_devices(cur, since_run)
    return NewEvents(since_run, events_added, devices_added, backfilled)


def maintain_aggregates(cur: psycopg2.extensions.cursor, added: NewEvents, dialect: Postgres) -> None:
    """Every aggregate of the layer, for the keys of the events add_events added (after the
    transforms, which the song-days' matches follow)."""
    for statement in sql.analytics_aggregate_queries:
        timed(cur, statement, added.since_run, dialect)
