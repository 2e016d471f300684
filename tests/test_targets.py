"""One load path, two small targets: etl.py has no target branch, the target is chosen once from
TARGET, and Redshift overrides only what PostgreSQL defines (dlt's destinations are the model).

What the Redshift target sends is rendered, parsed and golden-filed in test_redshift.py; its
COPY from S3 itself cannot run here (no Redshift)."""

from __future__ import annotations

import ast
import datetime as dt
import inspect

import pytest
from conftest import ROOT, S3Server

from sparkify_dwh import dialects, redshift, settings, targets

STARTED = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


def names_in(node: ast.AST) -> set[str]:
    """Every name and attribute used under node, and every string it holds."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.add(child.value)
    return found


def test_the_load_path_has_no_target_branch() -> None:
    tree = ast.parse((ROOT / "sparkify_dwh" / "load.py").read_text())
    used = names_in(tree)
    differences = {"redshift", "REDSHIFT", "POSTGRES", "on_redshift", "POSTGRES_SESSION_SETTINGS",
                   "REDSHIFT_RUN_LOCK", "RUN_LOCK", "indexes_built_after", "copy_rejects", "copy_to_warehouse"}
    assert used & differences == set()
    tests = [node.test for node in ast.walk(tree) if isinstance(node, ast.If | ast.IfExp | ast.While)]
    assert not [ast.unparse(t) for t in tests if {"dialect", "target"} & names_in(t)]
    assert {"open_target", "stage", "write_rejects", "lock", "prepare", "close"} <= used


def public_methods(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def test_redshift_overrides_only_what_postgresql_defines() -> None:
    assert issubclass(targets.RedshiftTarget, targets.PostgresTarget)
    assert public_methods(targets.RedshiftTarget) == public_methods(targets.PostgresTarget)
    overridden = {name for name in public_methods(targets.RedshiftTarget) if name in vars(targets.RedshiftTarget)}
    # What differs, and nothing else: typing and streaming a source (stage_source) are shared.
    assert overridden == {"known_folders", "load_listing", "stage", "write_rejects",
                          "record_folders", "bulk_fill", "empty_rebuilt_tables", "failure_message", "close"}


@pytest.mark.parametrize("target", ["embedded", "postgres"])
def test_the_embedded_server_and_postgresql_are_one_target(target: str) -> None:
    cfg = settings.load_config(ROOT / "dwh.cfg")
    cfg["WAREHOUSE"]["TARGET"] = target
    chosen = targets.open_target(cfg, STARTED)
    assert type(chosen) is targets.PostgresTarget
    assert chosen.dialect is dialects.POSTGRES and chosen.started == STARTED


def test_a_redshift_target_holds_its_work_area_until_closed(s3: S3Server) -> None:
    bucket = s3.make_bucket("targets-work")
    cfg = settings.load_config(ROOT / "dwh.cfg")  # after the s3 fixture: the endpoint is moto's
    cfg["WAREHOUSE"]["TARGET"] = "redshift"
    cfg["IAM_ROLE"]["ARN"] = "arn:aws:iam::123456789012:role/dwhRole"
    cfg["S3"]["WORK_PREFIX"] = f"s3://{bucket}/work"
    chosen = targets.open_target(cfg, STARTED)
    assert type(chosen) is targets.RedshiftTarget and chosen.dialect is dialects.REDSHIFT
    folder, area = chosen.work.folder, chosen.work.area
    assert folder.is_dir() and area.bucket == bucket and area.prefix.startswith("work/run-20261203T000000-")
    redshift.put_json(chosen.work.client, area, "probe.json", {"a": 1})
    assert [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]] == [area.key("probe.json")]
    chosen.close()
    assert not folder.exists()
    assert s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
