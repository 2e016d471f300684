"""The one home of engine differences. PostgreSQL (the embedded server and a real one) is the base;
Redshift overrides only what differs, as dlt's destinations and SQLMesh's engine adapters do.

What differs, and nothing else: which statement a name sends (REDSHIFT_X instead of X; POSTGRES_
statements only to PostgreSQL), the tables' physical design (Redshift's DISTSTYLE/DISTKEY/SORTKEY
instead of PostgreSQL's indexes), and a few capabilities (advisory locks, session settings,
statistics on temporary tables). No module outside this one compares dialect or target names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sql_queries as sql

TARGETS = ("embedded", "postgres", "redshift")  # [WAREHOUSE] TARGET; the embedded server speaks PostgreSQL


@dataclass(frozen=True)
class Postgres:
    """PostgreSQL: indexes, advisory locks, session settings, ANALYZE where the planner needs it."""

    name: str = "postgres"
    advisory_locks: bool = True  # create_tables.py's schema lock (SCHEMA_LOCK)
    keeps_statistics: bool = True  # temporary tables and grown tables are analyzed for the plans that join them
    folder_sources: bool = True  # staging reads local folders (Redshift reads S3 itself)
    lock_waits: bool = True  # lock_timeout, pg_locks and pg_blocking_pids: who a waiting statement waits for
    pulls_from_s3: bool = False  # the warehouse COPYs from S3 with an IAM role (doctor.py checks the role)

    def __str__(self) -> str:
        return self.name

    def sends(self, name: str) -> bool:
        """Whether the statement constant `name` (NAME or NAME[...]) is sent to this dialect."""
        words = re.findall(r"\w+", name)  # a list's REDSHIFT_ item is Redshift's too
        return not any("REDSHIFT" in word.split("_") for word in words) and name.split("[")[0] not in TEMPLATES

    def variant(self, name: str) -> str:
        """The name of the statement this dialect sends for the shared statement `name`."""
        return name

    def layout(self, table: str) -> str:
        """What follows a CREATE TABLE's column list: nothing here (indexes are separate statements)."""
        return ""

    def indexes(self) -> list[str]:
        return list(sql.POSTGRES_INDEXES)

    def table_statements(self) -> list[str]:
        """CREATE TABLE statements in creation order, then this dialect's indexes."""
        return [text.format(layout=self.layout(name)).strip() for name, text in sql.TABLES.items()] + self.indexes()

    def session_settings(self) -> list[str]:
        """Memory for a reading session's sorts and hashes (check_data.py, report.py)."""
        return list(sql.POSTGRES_SESSION_SETTINGS)

    def trend_settings(self) -> list[str]:
        return list(sql.TREND_POSTGRES_SETTINGS)

    def report_settings(self) -> list[str]:
        """report.py's sessions: memory as session_settings, and no parallel workers (it reads on two connections)."""
        return list(sql.POSTGRES_REPORT_SETTINGS)


@dataclass(frozen=True)
class Redshift(Postgres):
    """Amazon Redshift: distribution and sort keys instead of indexes, LOCK without modes, no
    advisory locks or session settings; staging COPYs from S3 (sparkify_dwh/redshift.py)."""

    name: str = "redshift"
    advisory_locks: bool = False
    keeps_statistics: bool = False
    folder_sources: bool = False
    lock_waits: bool = False
    pulls_from_s3: bool = True

    def sends(self, name: str) -> bool:
        return not postgres_only(name.split("[")[0])

    def variant(self, name: str) -> str:
        return f"REDSHIFT_{name}" if hasattr(sql, f"REDSHIFT_{name}") else name

    def layout(self, table: str) -> str:
        return sql.REDSHIFT_LAYOUT[table]

    def indexes(self) -> list[str]:
        return []

    def session_settings(self) -> list[str]:
        return []

    def trend_settings(self) -> list[str]:
        return []

    def report_settings(self) -> list[str]:
        return []


POSTGRES, REDSHIFT = Postgres(), Redshift()
DIALECTS = {POSTGRES.name: POSTGRES, REDSHIFT.name: REDSHIFT}


def is_embedded(target: str) -> bool:
    """Whether a [WAREHOUSE] TARGET is the toolkit's own server (started on demand, under EMBEDDED_DIR)."""
    return target == "embedded"


def for_target(target: str) -> Postgres:
    """The dialect of a [WAREHOUSE] TARGET: the embedded server and a PostgreSQL server are PostgreSQL."""
    return REDSHIFT if target == "redshift" else POSTGRES


def for_server(version: str) -> Postgres:
    """The dialect of a server by what `SELECT version()` says (Redshift names itself there)."""
    return REDSHIFT if "redshift" in version.lower() else POSTGRES


# What PostgreSQL alone is sent, by a rule applied to every constant of sql_queries: a name with a
# POSTGRES part (POSTGRES_ANALYZE, TREND_POSTGRES_SETTINGS), or a name X beside a REDSHIFT_X, which
# is what Redshift gets instead (RUN_LOCK, STAGING_COPY). Beyond the rule, only these:
POSTGRES_ONLY_BY_USE = {
    "SCHEMA_LOCK": "advisory locks: create_tables.py and model_problems take them on PostgreSQL only",
    "SCHEMA_LOCK_SHARED": "advisory locks: as SCHEMA_LOCK",
    "KNOWN_FOLDERS": "folder sources: a Redshift run lists S3 only (RedshiftTarget.known_folders is None)",
    "SEEN_FOLDERS_CREATE": "folder sources: as KNOWN_FOLDERS",
    "SEEN_FOLDERS_COPY": "folder sources: as KNOWN_FOLDERS",
    "LISTED_FOLDERS_RECORD": "folder sources: as KNOWN_FOLDERS",
    "STAGING_COPY_FROZEN": "COPY FROM STDIN: PostgresTarget.stage_source only (Redshift COPYs from S3)",
    "STAR_ONLY_RUN_PLAYS": "bench/ only (DWH_BENCH_NO_ANALYTICS), on the embedded server",
    "star_only_transform_queries": "bench/ only, as STAR_ONLY_RUN_PLAYS",
}


# Templates the code renders into other constants, which are walked instead.
TEMPLATES = {"TRENDING_RANKED": "rendered as TRENDING_SONGS and TRENDING_ARTISTS",
             "TRENDING_COUNTED": "rendered as TRENDING_SONG_COUNTS and TRENDING_ARTIST_COUNTS"}


def postgres_only(name: str) -> bool:
    return ("POSTGRES" in name.split("_") or hasattr(sql, f"REDSHIFT_{name}") or name in POSTGRES_ONLY_BY_USE
            or name in TEMPLATES)
