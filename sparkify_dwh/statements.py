"""sql_queries' constants by name: every statement the toolkit sends is one of them, known by the
name of its constant (a list's or dict's items as NAME[i], NAME['key']). The session traces a
statement by that name; `python sql_queries.py postgres|redshift` prints every statement the code
may send to that target as it is sent: a table with its layout, {placeholders} filled as the code
fills them. tests/test_redshift.py parses that same rendering.

Names are the constants' own, assigned in sql_queries.py; a text is looked up by value, and a
text that two constants share must be sent by name (session.execute(cur, "REDSHIFT_RUN_LOCK")).
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Iterator
from functools import cache
from types import ModuleType

import sql_queries as sql
from sparkify_dwh import cli, settings
from sparkify_dwh.dialects import DIALECTS, POSTGRES, REDSHIFT, Postgres

SQL_VERBS = {"SELECT", "INSERT", "DELETE", "UPDATE", "CREATE", "DROP", "COPY", "LOCK", "WITH", "ANALYZE", "SET",
             "TRUNCATE", "ALTER", "VACUUM", "UNLOAD", "GRANT", "REVOKE", "BEGIN", "COMMIT", "SAVEPOINT",
             "ROLLBACK", "RELEASE",
             "COMMENT"}


def sql_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every SQL statement in a constant: a string, or one inside lists, tuples and
    dicts (sql.CHECKS holds (description, query) pairs: only the query is SQL)."""
    if isinstance(value, str):
        words = value.split(None, 1)
        if words and words[0].upper() in SQL_VERBS:
            yield path, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from sql_strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from sql_strings(item, f"{path}[{key!r}]")


def named() -> Iterator[tuple[str, str]]:
    """(name, text) of every statement constant, in module order, as written (templates unfilled)."""
    for name, value in list(vars(sql).items()):
        if not name.startswith("_") and not callable(value) and not isinstance(value, ModuleType):
            yield from sql_strings(value, name)


def staged_columns(table: str) -> list[str]:
    """A staging table's COPY column list: its fields, then the provenance (as staging and redshift send it)."""
    return [*sql.STAGING_FIELDS[table], *sql.PROVENANCE_COLUMNS]


def fills(name: str) -> list[tuple[str, dict[str, str]]]:
    """(label, values) for each way the code fills the {placeholders} of the template `name`."""
    if name.startswith(("POSTGRES_DROP_CONSTRAINT", "POSTGRES_ADD_CONSTRAINT")):  # from POSTGRES_TABLE_INDEXES
        key = {"table": "songplays", "name": "songplays_pkey", "definition": "PRIMARY KEY (songplay_id)"}
        return [("songplays", key)]
    if name == "POSTGRES_DROP_INDEX":
        return [("app_events_user_day", {"name": "app_events_user_day"})]
    if name.startswith("REDSHIFT_PROBE_"):  # doctor.py: a source's fields, no provenance
        fields = sql.STAGING_FIELDS
        return [(table, {"table": table, "columns": ", ".join(fields[table])}) for table in fields]
    checks = [(f"{group}[{key!r}]", {"check": query}) for group, named_checks in (("CHECKS", sql.CHECKS),
              ("WARNINGS", sql.WARNINGS)) for key, (_, query) in named_checks.items()]
    return [
        *[(table, {"table": table, "columns": ", ".join(staged_columns(table))}) for table in sql.STAGING_FIELDS],
        ("songs", {"table": "songs"}),
        *checks,
        ("REBUILT_TABLES", {"tables": ", ".join(sql.REBUILT_TABLES)}),
        ("dev", {"database": "dev"}),
        ("public", {"schema": "public"}),  # ANALYST_VIEWS: the toolkit's schema, current_schema()
    ]


def rendered(name: str, text: str, layouts: dict[str, str]) -> list[tuple[str, str]]:
    """(label, statement) as sent: a table with its layout (`layouts`: create_table_queries), every
    {placeholder} filled each way the code fills it (an unknown placeholder fails here)."""
    if text in layouts:
        return [(name, layouts[text])]
    placeholders = set(re.findall(r"(?<!{){(\w+)}(?!})", text))
    if not placeholders:
        return [(name, text)]
    ways = [(label, values) for label, values in fills(name) if placeholders <= values.keys()]
    if not ways:
        raise ValueError(f"{name}: no value for {{{', '.join(sorted(placeholders))}}}; add one to fills()")
    return [(f"{name} ({label})", text.format(**{p: values[p] for p in placeholders})) for label, values in ways]


def statements(dialect: Postgres) -> Iterator[tuple[str, str]]:
    """(name, SQL) of every statement the code may send to `dialect`, fully rendered, in module
    order; a text met again under another name (a list repeating its items) is given once."""
    layouts = dict(zip(sql.TABLES.values(), dialect.table_statements(), strict=False))
    seen: set[str] = set()
    for path, text in named():
        if not dialect.sends(path):
            continue
        for label, statement in rendered(path, text, layouts):
            if statement not in seen:
                seen.add(statement)
                yield label, statement


_CREATED_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\n\)", re.DOTALL)
_INSERTED_TABLE = re.compile(r"\s*INSERT INTO (\w+)")
_TEMPORARY_TABLE = re.compile(r"\s*CREATE TEMPORARY TABLE (\w+)")
_DELETED_TABLE = re.compile(r"\s*DELETE FROM (\w+)")


def created_table(statement: str) -> re.Match[str] | None:
    """A CREATE TABLE statement's table name and column definitions (catalog.model_columns reads the model so)."""
    return _CREATED_TABLE.search(statement)


def inserted_table(statement: str) -> str | None:
    """The table an INSERT statement fills (etl.py analyzes a table it filled from empty)."""
    found = _INSERTED_TABLE.match(statement)
    return found[1] if found else None


def deleted_table(statement: str) -> str | None:
    """The table a DELETE statement empties rows of (etl.py keeps the star tables' row counts)."""
    found = _DELETED_TABLE.match(statement)
    return found[1] if found else None


def temporary_table(statement: str) -> str | None:
    """The temporary table a statement creates (analytics.py analyzes it for the plans that join it)."""
    found = _TEMPORARY_TABLE.match(statement)
    return found[1] if found else None


def describe() -> str:
    """The README's table descriptions for analysts, rendered from sql.DESCRIPTIONS (the text the
    COMMENTs carry): tests/test_interface.py holds the README to it. Print it with
    `python -c "from sparkify_dwh import statements; print(statements.describe())"`."""
    parts = []
    for table, (about, columns) in sql.DESCRIPTIONS.items():
        parts += [f"**`{table}`** — {about}", "", "| column | meaning |", "|---|---|"]
        parts += [f"| `{column}` | {text} |" for column, text in columns.items()]
        parts.append("")
    return "\n".join(parts).rstrip("\n")


def print_script(argv: list[str]) -> None:
    """`python sql_queries.py [postgres|redshift]`: every statement the toolkit may send to a
    target, fully rendered, each under a '-- NAME' line, as a script that runs statement by statement."""
    cli.run_script(lambda: _print_statements(argv))


def _print_statements(argv: list[str]) -> int:
    parser = cli.argument_parser(
        "Print every statement the toolkit may send to a target, as SQL: fully rendered, each under"
        " a '-- NAME' line (the name of its constant in sql_queries.py), in that module's order.")
    parser.add_argument("target", nargs="?", choices=sorted(DIALECTS),
                        help="postgres (also the embedded server) or redshift (default: the configured TARGET's)")
    args = parser.parse_args(argv)
    dialect = DIALECTS[args.target] if args.target else settings.load_config(args.config).dialect
    try:
        for name, statement in statements(dialect):
            print(f"-- {name}\n{textwrap.dedent(statement).strip()};\n")
        sys.stdout.flush()
    except BrokenPipeError:  # | head, or a pager quit early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # what Python flushes at exit
    return 0


@cache
def _registry() -> tuple[dict[str, str], dict[str, str], set[str]]:
    """(name -> text, text -> name, texts two constants share) of sql_queries' statements; rendered
    statements (a table with its layout, a filled template) are known by their text too. A list's
    item that repeats a constant (NAME[i] holding X's text) is known by the constant's own name."""
    by_name: dict[str, str] = {}
    by_text: dict[str, str] = {}
    shared: set[str] = set()
    for name, text in named():
        by_name[name] = text
        known = by_text.get(text)
        if known is None or ("[" in known and "[" not in name):
            by_text[text] = name
        elif "[" not in known and "[" not in name:
            shared.add(text)
    for dialect in (POSTGRES, REDSHIFT):
        for name, text in statements(dialect):
            by_text.setdefault(text, name)
    return by_name, by_text, shared


def text_of(name: str) -> str | None:
    """The text of the statement constant `name` ('RUN_LOCK', 'PLAN_DROP[1]'), or None."""
    return _registry()[0].get(name)


def name_of(statement: str) -> str:
    """The name of a statement given by its text. A text that two constants share has no one name:
    such a statement must be sent by name, and is refused here (a test sends every one)."""
    _, by_text, shared = _registry()
    if statement in shared:
        raise ValueError(f"two statements of sql_queries read {' '.join(statement.split()[:4])!r}; send it by name")
    return by_text.get(statement) or "unnamed statement " + " ".join(statement.split()[:3])
