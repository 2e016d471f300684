"""The code's shape, as README "How the code is organised" states it, and the package's pure parts
(dialects, statement names, settings), all without a server: part of the fast tier."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sql_queries as sql
from sparkify_dwh import dialects, settings, statements
from sparkify_dwh.errors import ConfigError

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in ROOT.glob("*.py"))
PACKAGE = sorted((ROOT / "sparkify_dwh").rglob("*.py"))
NAMES = {"redshift", "postgres", "embedded"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SCRIPTS + PACKAGE}


def is_main_block(node: ast.AST) -> bool:
    """`if __name__ == "__main__":`: runs only when the file is the program, never when imported."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def imports(path: Path) -> set[str]:
    """The project modules a module imports, at its top or inside functions (not in its __main__ block)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in tree.body if is_main_block(block) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES and name != module_name(path)}


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    graph = {name: imports(path) for name, path in MODULES.items()}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name):], name])
            return
        for dependency in sorted(graph[name]):
            visit(dependency, [*trail, name])

    for name in graph:
        visit(name, [])
    assert cycles == []


def test_no_script_imports_another_script() -> None:
    scripts = {module_name(p) for p in SCRIPTS} - {"sql_queries"}  # the user's SQL constants, imported by all
    assert {(module_name(p), other) for p in SCRIPTS for other in imports(p) if other in scripts} == set()


def test_scripts_are_thin_and_modules_readable() -> None:
    lines = {p: len(p.read_text().splitlines()) for p in SCRIPTS + PACKAGE}
    too_long = {p.name: n for p in SCRIPTS if p.name != "sql_queries.py" and (n := lines[p]) > 300}
    too_long |= {str(p.relative_to(ROOT)): n for p in PACKAGE if (n := lines[p]) > 900}
    assert too_long == {}


def compares_an_engine(node: ast.Compare) -> bool:
    """`x == "redshift"`, `target != "embedded"`, `dialect is dialects.REDSHIFT` and the like."""
    sides = [node.left, *node.comparators]
    names = {s.value for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)}
    dialect_objects = [s for s in sides if isinstance(s, ast.Attribute) and s.attr in ("POSTGRES", "REDSHIFT")]
    return bool(names & NAMES) or bool(dialect_objects)


def test_only_the_dialects_module_compares_engine_names() -> None:
    found = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in SCRIPTS + PACKAGE if p.name != "dialects.py"
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Compare) and compares_an_engine(node)]
    assert found == []
    # The rule finds what it is for.
    assert compares_an_engine(ast.parse('t == "redshift"', mode="eval").body)
    assert compares_an_engine(ast.parse("d is dialects.REDSHIFT", mode="eval").body)


def test_redshift_overrides_only_what_differs() -> None:
    pg, rs = dialects.POSTGRES, dialects.REDSHIFT
    assert isinstance(rs, dialects.Postgres) and dialects.for_target("embedded") is pg
    assert dialects.for_target("redshift") is rs and dialects.for_server("PostgreSQL 8.0.2 ... Redshift 1.0") is rs
    assert [pg.variant(n) for n in ("RUN_LOCK", "TREND_RUN_LOCK", "DROP_LOCK", "APP_EVENTS_INSERT")] == [
        "RUN_LOCK", "TREND_RUN_LOCK", "DROP_LOCK", "APP_EVENTS_INSERT"]
    assert [rs.variant(n) for n in ("RUN_LOCK", "TREND_RUN_LOCK", "DROP_LOCK", "APP_EVENTS_INSERT")] == [
        "REDSHIFT_RUN_LOCK", "REDSHIFT_TREND_RUN_LOCK", "REDSHIFT_DROP_LOCK", "APP_EVENTS_INSERT"]
    # One CREATE TABLE each, the same columns; Redshift adds its layout, PostgreSQL its indexes.
    pg_tables, rs_tables = pg.table_statements(), rs.table_statements()
    assert len(rs_tables) == len(sql.TABLES) == len(pg_tables) - len(sql.POSTGRES_INDEXES)
    assert rs_tables[6].endswith(sql.REDSHIFT_LAYOUT["songplays"]) and "DISTKEY" not in pg_tables[6]
    assert pg.session_settings() and not rs.session_settings()
    assert pg.sends("POSTGRES_ANALYZE") and not rs.sends("POSTGRES_ANALYZE")
    assert rs.sends("REDSHIFT_RUN_LOCK") and not pg.sends("REDSHIFT_RUN_LOCK") and not rs.sends("RUN_LOCK")


def test_statements_are_named_by_their_constants_never_guessed() -> None:
    assert statements.name_of(sql.RUN_NEXT_ID) == "RUN_NEXT_ID"
    assert statements.text_of("PLAN_DROP[1]") == sql.PLAN_DROP[1]
    # Two constants, one text: no name is guessed; the code sends such a statement by name.
    assert sql.REDSHIFT_RUN_LOCK == sql.REDSHIFT_DROP_LOCK
    with pytest.raises(ValueError, match="send it by name"):
        statements.name_of(sql.REDSHIFT_DROP_LOCK)
    names = [name for name, _ in statements.named()]
    assert len(names) == len(set(names)) and "TABLES['songplays']" in names


def test_settings_environment_over_file_over_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("DWH_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "dwh.cfg"
    config.write_text("[ETL]\nMAX_REJECTS = 5%\n[S3]\nREGION = eu-west-1\n")
    monkeypatch.setenv("DWH_S3_REGION", "us-east-2")
    cfg = settings.load_config(config, warn=False)
    assert cfg.s3.region == "us-east-2" and cfg.etl.max_rejects == "5%"
    assert cfg.warehouse.target == "embedded" and cfg.dialect is dialects.POSTGRES
    assert [settings.allowed_rejects(cfg, n) for n in (0, 19, 20, 1000)] == [0, 0, 1, 50]
    monkeypatch.setenv("DWH_WAREHOUSE_TARGET", "oracle")
    with pytest.raises(ConfigError, match="TARGET is 'oracle'"):
        settings.load_config(config, warn=False)


def test_settings_are_frozen_and_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text("[CLUSTER]\nDB_PORT = 5440\n[ETL]\nRUN_CHECKS = yes\n")
    cfg = settings.load_config(config, warn=False)
    assert cfg.cluster.db_port == 5440 and cfg.etl.run_checks is True and cfg.config_dir == tmp_path
    with pytest.raises(AttributeError):
        cfg.cluster.db_port = 1  # type: ignore[misc]
    changed = cfg.replace("s3", work_prefix="s3://b/w")
    assert changed.s3.work_prefix == "s3://b/w" and cfg.s3.work_prefix == ""
    assert "db_password" not in repr(cfg)  # never shown


def test_an_environment_variable_names_its_longest_section(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings.environment_setting("DWH_CLUSTER_SETUP_NUM_NODES") == ("CLUSTER_SETUP", "NUM_NODES")
    assert settings.environment_setting("DWH_CLUSTER_DB_PORT") == ("CLUSTER", "DB_PORT")
    assert settings.environment_setting("DWH_NOPE_X") is None
    monkeypatch.setenv("DWH_CLUSTER_SETUP_NUM_NODES", "1")
    assert settings.load_config(None, warn=False).cluster_setup.num_nodes == "1"


def test_every_analyst_facing_column_is_described() -> None:
    """DESCRIPTIONS (the COMMENTs, the analysts' views, the README) name every column of those tables."""
    from sparkify_dwh import catalog

    model = catalog.model_columns(dialects.POSTGRES)
    assert {table: sorted(set(model[table]) ^ set(columns)) for table, (_, columns) in sql.DESCRIPTIONS.items()
            if set(model[table]) != set(columns)} == {}
