"""Amazon Redshift's documented rules that a parser does not check, over every statement the
toolkit may send to Redshift (sql_queries.statements("redshift"), rendered as psycopg2 sends
them). sqlglot's redshift dialect parses much that Redshift refuses: each rule here encodes one
page of AWS's Redshift Database Developer Guide (cited beside it), walks the statement's syntax
tree where that is sturdier than a pattern, and is proven by a small statement that breaks it
(test_the_checker_catches_this). What no rule here can show (Redshift executing them) is listed
in README "Amazon Redshift".
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlglot
from sqlglot import exp
from test_redshift import render

from sparkify_dwh import dialects, statements

pytestmark = pytest.mark.fast  # no server: the fast tier (pytest -m fast)

DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/"

# https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html ("Reserved words"): the full
# list; one may be an identifier only when quoted ("delimited identifiers").
_RESERVED_PAGE = """
AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 BACKUP BETWEEN BINARY
BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE CREDENTIALS CROSS CURRENT_DATE
CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_USER_ID DEFAULT DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC
DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE
FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT
INTERVAL INTO IS ISNULL JOIN LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16
MOSTLY32 MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER OVERLAPS
PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES REJECTLOG RESORT
RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE TAG TDES TEXT255 TEXT32K THEN
TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH
WITHOUT
"""
RESERVED = {word for word in re.findall(r"\S+", _RESERVED_PAGE)}
# The same page: START and CONNECT are not reserved, but fail as table aliases unless quoted or after AS.
ALIAS_TROUBLE = {"START", "CONNECT"}

# https://docs.aws.amazon.com/redshift/latest/dg/c_SQL_functions_leader_node_only.html: these
# return an error in a query that references a user-defined table or a system table (STL, STV, SVL, SVV).
LEADER_NODE_ONLY = {"CURRENT_SCHEMA", "CURRENT_SCHEMAS", "HAS_DATABASE_PRIVILEGE", "HAS_SCHEMA_PRIVILEGE",
                    "HAS_TABLE_PRIVILEGE", "SUBSTR", "FACTORIAL", "AGE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
                    "LOCALTIME", "ISFINITE", "NOW", "GETBIT", "GET_BIT", "GET_BYTE", "SET_BIT", "SET_BYTE",
                    "TO_ASCII"}
CATALOG = re.compile(r"^(pg_|information_schema$)", re.IGNORECASE)  # leader-node tables: pg_*, information_schema

# What Redshift lacks of PostgreSQL, each with the page that says what Redshift has instead.
# Patterns over the statement without its comments and string literals (LISTAGG and string_agg,
# say, are one node in sqlglot's tree: the text tells them apart).
LACKS = {
    "IS [NOT] DISTINCT FROM": (r"\bIS\s+(NOT\s+)?DISTINCT\s+FROM\b", DOCS + "r_comparison_condition.html"),
    "FILTER (WHERE ...)": (r"\bFILTER\s*\(\s*WHERE\b", DOCS + "c_Aggregate_Functions.html"),
    "DISTINCT ON": (r"\bDISTINCT\s+ON\s*\(", DOCS + "r_SELECT_list.html"),
    "ON CONFLICT": (r"\bON\s+CONFLICT\b", DOCS + "r_INSERT_30.html"),
    "RETURNING": (r"\bRETURNING\b", DOCS + "r_INSERT_30.html"),
    "LATERAL": (r"\bLATERAL\b", DOCS + "r_FROM_clause30.html"),
    "generate_series": (r"\bgenerate_series\s*\(", DOCS + "c_unsupported-postgresql-functions.html"),
    "string_agg / array_agg": (r"\b(string_agg|array_agg)\s*\(", DOCS + "c_unsupported-postgresql-functions.html"),
    "RANGE frames": (r"\bRANGE\s+(BETWEEN|UNBOUNDED|CURRENT|\d)", DOCS + "r_Window_function_synopsis.html"),
    "jsonb": (r"\bjsonb\w*", DOCS + "c_unsupported-postgresql-datatypes.html"),
}
# Window functions that are not aggregates (ranking and value functions): no frame clause needed.
NOT_AGGREGATES = tuple(getattr(exp, name) for name in ("Lead", "Lag", "FirstValue", "LastValue", "NthValue",
                                                       "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist",
                                                       "Ntile") if hasattr(exp, name))
SORT_AGGREGATES = (exp.PercentileCont, exp.PercentileDisc, exp.GroupConcat, exp.Median)  # LISTAGG is GroupConcat


def parsed(statement: str) -> exp.Expression | None:
    """The rendered statement's tree (None for what sqlglot keeps opaque: LOCK)."""
    tree = sqlglot.parse_one(render(statement), read="redshift")
    return None if isinstance(tree, exp.Command) else tree


def code(statement: str) -> str:
    """The statement without comments and string literals: what patterns may look at."""
    text = re.sub(r"--[^\n]*", "", statement)
    return re.sub(r"'(?:[^']|'')*'", "''", text)


# --------------------------------------------------------------------------- the rules
# Each takes a statement as the code has it (placeholders and all) and returns its problems.

def reserved_words(statement: str) -> list[str]:
    """Reserved words as bare identifiers: a column, table or alias named by one, unquoted."""
    tree = parsed(statement)
    found = set()
    if tree is not None:
        found |= {i.name for i in tree.find_all(exp.Identifier) if not i.quoted and i.name.upper() in RESERVED}
    # START and CONNECT as a table's alias without AS (the tree does not keep whether AS was there)
    found |= set(re.findall(r"\b(?:FROM|JOIN)\s+[\w.]+\s+(start|connect)\b", code(statement), re.IGNORECASE))
    # AS <word>: an alias sqlglot took for something else (AS user parses as CURRENT_USER)
    found |= {m for m in re.findall(r"\bAS\s+(\w+)\b(?!\s*\()", code(statement), re.IGNORECASE)
              if m.upper() in RESERVED and m.upper() not in {"SELECT", "WITH", "TIMESTAMP", "INTERVAL"}}
    return [f"reserved word {word!r} as a bare identifier ({DOCS}r_pg_keywords.html)" for word in sorted(found)]


def one_sort_order(statement: str) -> list[str]:
    """Every sort-based aggregate of a statement (LISTAGG, PERCENTILE_CONT, PERCENTILE_DISC,
    MEDIAN) orders by the same expression: https://docs.aws.amazon.com/redshift/latest/dg/r_PERCENTILE_CONT.html
    ("If a statement includes multiple calls to sort-based aggregate functions ..., they must all
    use the same ORDER BY values"; the same on r_MEDIAN.html and r_LISTAGG.html)."""
    tree = parsed(statement)
    if tree is None:
        return []
    orders = set()
    for node in tree.find_all(*SORT_AGGREGATES):
        if isinstance(node.parent, exp.WithinGroup):
            order = node.parent.expression
            orders.add(", ".join(o.this.sql("redshift") for o in order.expressions))
        elif isinstance(node, exp.Median):
            orders.add(node.this.sql("redshift"))
    if len(orders) > 1:
        return [f"sort-based aggregates order by {len(orders)} different values: {sorted(orders)}"
                f" ({DOCS}r_PERCENTILE_CONT.html)"]
    return []


def lacks(statement: str) -> list[str]:
    text = code(statement)
    problems = [f"{what}: Redshift has none ({page})" for what, (pattern, page) in LACKS.items()
                if re.search(pattern, text, re.IGNORECASE)]
    tree = parsed(statement)
    if tree is not None:
        for window in tree.find_all(exp.Window):
            if isinstance(window.this, exp.Count) and isinstance(window.this.this, exp.Distinct):
                problems.append(f"COUNT(DISTINCT ...) OVER: a window function takes no DISTINCT"
                                f" ({DOCS}r_WF_COUNT.html)")
    return problems


def leader_node_only(statement: str) -> list[str]:
    tree = parsed(statement)
    if tree is None:
        return []
    tables = {t.name for t in tree.find_all(exp.Table) if t.name and not CATALOG.match(t.db or t.name)}
    if not tables:
        return []
    used = {type(f).__name__.upper() for f in tree.find_all(exp.Func)}
    used |= {f.name.upper() for f in tree.find_all(exp.Anonymous)}
    named = {"CURRENTSCHEMA": "CURRENT_SCHEMA", "CURRENTTIMESTAMP": "CURRENT_TIMESTAMP", "CURRENTTIME": "CURRENT_TIME",
             "SUBSTRING": "SUBSTR" if re.search(r"\bSUBSTR\s*\(", code(statement), re.IGNORECASE) else ""}
    functions = {named.get(name, name) for name in used} & LEADER_NODE_ONLY
    return [f"{name}() is leader-node only, and the statement reads {sorted(tables)}"
            f" ({DOCS}c_SQL_functions_leader_node_only.html)" for name in sorted(functions)]


def no_commit_inside_a_run(statement: str) -> list[str]:
    """Everything the toolkit sends to Redshift runs inside a run's (or a report's) transaction:
    TRUNCATE commits it (https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html) and
    VACUUM cannot run in one (https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html)."""
    verb = code(statement).split(None, 1)[0].upper()
    return [f"{verb} inside a transaction ({DOCS}r_{verb}{'_command' if verb == 'VACUUM' else ''}.html)"
            ] if verb in ("TRUNCATE", "VACUUM") else []


def framed_aggregate_windows(statement: str) -> list[str]:
    """An aggregate window function with an ORDER BY needs a frame clause:
    https://docs.aws.amazon.com/redshift/latest/dg/r_Window_function_synopsis.html ("If an ORDER BY
    clause is used for an aggregate function, an explicit frame clause is required")."""
    tree = parsed(statement)
    if tree is None:
        return []
    return [f"{window.this.sql('redshift')} OVER (... ORDER BY ...) without a frame clause"
            f" ({DOCS}r_Window_function_synopsis.html)"
            for window in tree.find_all(exp.Window)
            if isinstance(window.this, exp.AggFunc) and not isinstance(window.this, NOT_AGGREGATES)
            and window.args.get("order") and not window.args.get("spec")]


WHOLE_SECONDS = {"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}


def whole_second_epochs(statement: str) -> list[str]:
    """EXTRACT(EPOCH FROM a TIMESTAMP) is an INTEGER on Redshift, whole seconds
    (https://docs.aws.amazon.com/redshift/latest/dg/r_EXTRACT_function.html, "Return type"): it
    may only take a value already whole seconds (DATE_TRUNC to the second or coarser, a DATE)."""
    tree = parsed(statement)
    if tree is None:
        return []
    problems = []
    for extract in tree.find_all(exp.Extract):
        if extract.name.upper() != "EPOCH":
            continue
        source = extract.expression
        whole = ((isinstance(source, exp.TimestampTrunc | exp.DateTrunc)
                  and source.text("unit").upper() in WHOLE_SECONDS)
                 or (isinstance(source, exp.Cast) and source.to.is_type("date")))
        if not whole:
            problems.append(f"EXTRACT(EPOCH FROM {source.sql('redshift')}) keeps no fraction of a second on Redshift"
                            f" ({DOCS}r_EXTRACT_function.html)")
    return problems


RULES: dict[str, Callable[[str], list[str]]] = {
    "reserved words": reserved_words,
    "one order for sort-based aggregates": one_sort_order,
    "what Redshift lacks": lacks,
    "leader-node-only functions": leader_node_only,
    "no TRUNCATE or VACUUM inside a run": no_commit_inside_a_run,
    "aggregate windows framed": framed_aggregate_windows,
    "EXTRACT(EPOCH) in whole seconds": whole_second_epochs,
}
STATEMENTS = dict(statements.statements(dialects.REDSHIFT))


@pytest.mark.parametrize("rule", list(RULES))
def test_every_redshift_statement_keeps_the_rule(rule: str) -> None:
    broken = {name: problems for name, statement in STATEMENTS.items() if (problems := RULES[rule](statement))}
    assert not broken, "\n".join(f"{name}: {'; '.join(p)}" for name, p in broken.items())


# A statement that breaks each rule, and what the rule says of it.
BREAKS = [
    ("reserved words", "SELECT 1 AS delta FROM songs", "'delta'"),
    ("reserved words", "SELECT s.open FROM songs s", "'open'"),
    ("reserved words", "SELECT n.title FROM songs new", "'new'"),
    ("reserved words", "SELECT offline FROM songs", "'offline'"),
    ("reserved words", "SELECT s.title FROM songs start", "'start'"),
    ("reserved words", "SELECT COUNT(*) AS user FROM songs", "'user'"),
    ("reserved words", "CREATE TABLE x (tag VARCHAR(8))", "'tag'"),
    ("one order for sort-based aggregates", "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY a),"
     " PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY b) FROM t", "2 different values"),
    ("one order for sort-based aggregates", "SELECT MEDIAN(a), LISTAGG(b, ',') WITHIN GROUP (ORDER BY b) FROM t",
     "2 different values"),
    ("what Redshift lacks", "SELECT 1 FROM t WHERE a IS DISTINCT FROM b", "IS [NOT] DISTINCT FROM"),
    ("what Redshift lacks", "SELECT COUNT(*) FILTER (WHERE a > 1) FROM t", "FILTER"),
    ("what Redshift lacks", "SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b", "DISTINCT ON"),
    ("what Redshift lacks", "INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING", "ON CONFLICT"),
    ("what Redshift lacks", "INSERT INTO t (a) VALUES (1) RETURNING a", "RETURNING"),
    ("what Redshift lacks", "SELECT * FROM t, LATERAL (SELECT 1) x", "LATERAL"),
    ("what Redshift lacks", "SELECT d FROM generate_series(1, 3) d", "generate_series"),
    ("what Redshift lacks", "SELECT string_agg(a, ',') FROM t", "string_agg"),
    ("what Redshift lacks", "SELECT array_agg(a) FROM t", "array_agg"),
    ("what Redshift lacks", "SELECT SUM(a) OVER (ORDER BY b RANGE UNBOUNDED PRECEDING) FROM t", "RANGE frames"),
    ("what Redshift lacks", "SELECT CAST(a AS jsonb) FROM t", "jsonb"),
    ("what Redshift lacks", "SELECT COUNT(DISTINCT a) OVER (PARTITION BY b) FROM t", "COUNT(DISTINCT ...) OVER"),
    ("leader-node-only functions", "SELECT current_schema(), title FROM songs", "CURRENT_SCHEMA()"),
    ("leader-node-only functions", "SELECT NOW() - start_time FROM songplays", "CURRENT_TIMESTAMP()"),  # NOW
    ("leader-node-only functions", "SELECT SUBSTR(title, 1, 3) FROM songs", "SUBSTR()"),
    ("no TRUNCATE or VACUUM inside a run", "TRUNCATE songs", "TRUNCATE inside"),
    ("no TRUNCATE or VACUUM inside a run", "VACUUM songs", "VACUUM inside"),
    ("aggregate windows framed", "SELECT SUM(a) OVER (PARTITION BY b ORDER BY c) FROM t", "without a frame clause"),
    ("EXTRACT(EPOCH) in whole seconds", "SELECT EXTRACT(EPOCH FROM ended_at) - EXTRACT(EPOCH FROM started_at)"
     " FROM user_sessions", "keeps no fraction"),
]
# ... and statements alike that keep it: the rule is not merely matching a word.
KEEPS = [
    ("reserved words", 'SELECT 1 AS "delta", s."open" FROM songs s'),
    ("reserved words", "SELECT 1 AS step FROM songs AS start"),
    ("one order for sort-based aggregates", "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY a), MEDIAN(a) FROM t"),
    ("what Redshift lacks", "SELECT LISTAGG(a, ',') WITHIN GROUP (ORDER BY a) FROM t WHERE b = 'RETURNING'"),
    ("what Redshift lacks", "SELECT COUNT(a) OVER (PARTITION BY b) FROM t"),
    ("leader-node-only functions", "SELECT current_schema()"),
    ("leader-node-only functions", "SELECT column_name FROM information_schema.columns"
     " WHERE table_schema = current_schema()"),
    ("aggregate windows framed", "SELECT SUM(a) OVER (ORDER BY c ROWS UNBOUNDED PRECEDING),"
     " ROW_NUMBER() OVER (ORDER BY c), SUM(a) OVER (PARTITION BY b) FROM t"),
    ("EXTRACT(EPOCH) in whole seconds", "SELECT EXTRACT(EPOCH FROM DATE_TRUNC('second', ended_at)),"
     " EXTRACT(EPOCH FROM CAST(started_at AS DATE)), EXTRACT(hour FROM started_at) FROM user_sessions"),
]


@pytest.mark.parametrize(("rule", "statement", "said"), BREAKS)
def test_the_checker_catches_this(rule: str, statement: str, said: str) -> None:
    problems = RULES[rule](statement)
    assert problems and any(said in p for p in problems), problems
    assert all(DOCS in p for p in problems)  # each names the page that states the rule


@pytest.mark.parametrize(("rule", "statement"), KEEPS)
def test_the_checker_passes_this(rule: str, statement: str) -> None:
    assert RULES[rule](statement) == []


def test_every_rule_is_proven_by_a_statement_that_breaks_it() -> None:
    assert {rule for rule, _, _ in BREAKS} == set(RULES)
    assert {what for what in LACKS} <= {what for rule, _, said in BREAKS if rule == "what Redshift lacks"
                                        for what in LACKS if said in what or what.startswith(said)}


# --------------------------------------------------------------------------- the rendering runs as a script
def test_the_rendering_splits_into_exactly_its_statements() -> None:
    """`python sql_queries.py redshift` as one script: sqlglot splits it at the ';' that end
    statements (a comment on a statement's last line would swallow its ';'), into exactly the
    statements, each the one printed under its name."""
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([sys.executable, "sql_queries.py", "redshift"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True, check=True)
    script = sqlglot.parse(render(proc.stdout), read="redshift")
    assert len(script) == len(STATEMENTS)
    for tree, (name, statement) in zip(script, STATEMENTS.items(), strict=True):
        alone = sqlglot.parse_one(render(statement), read="redshift")
        assert tree.sql("redshift", comments=False) == alone.sql("redshift", comments=False), name
