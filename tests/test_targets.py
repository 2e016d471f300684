"""One load path, two small targets: the target is chosen once from TARGET (that no module but
sparkify_dwh/dialects.py compares engine names is tests/test_architecture.py's).

What the Redshift target sends is rendered, parsed and golden-filed in test_redshift.py; its
COPY from S3 itself cannot run here (no Redshift)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ROOT, S3Server

from sparkify_dwh import dialects, redshift, settings, targets

STARTED = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)


@pytest.mark.parametrize("target", ["embedded", "postgres"])
def test_the_embedded_server_and_postgresql_are_one_target(target: str) -> None:
    cfg = settings.load_config(ROOT / "dwh.cfg")
    cfg = cfg.replace("warehouse", target=target)
    chosen = targets.open_target(cfg, STARTED)
    assert type(chosen) is targets.PostgresTarget
    assert chosen.dialect is dialects.POSTGRES and chosen.started == STARTED


def test_a_redshift_target_holds_its_work_area_until_closed(s3: S3Server) -> None:
    bucket = s3.make_bucket("targets-work")
    cfg = settings.load_config(ROOT / "dwh.cfg")  # after the s3 fixture: the endpoint is moto's
    cfg = cfg.replace("warehouse", target="redshift").replace("iam_role", arn="arn:aws:iam::123456789012:role/dwhRole")
    cfg = cfg.replace("s3", work_prefix=f"s3://{bucket}/work")
    chosen = targets.open_target(cfg, STARTED)
    assert type(chosen) is targets.RedshiftTarget and chosen.dialect is dialects.REDSHIFT
    folder, area = chosen.work.folder, chosen.work.area
    assert folder.is_dir() and area.bucket == bucket and area.prefix.startswith("work/run-20261203T000000-")
    redshift.put_json(chosen.work.client, area, "probe.json", {"a": 1})
    assert [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]] == [area.key("probe.json")]
    chosen.close()
    assert not folder.exists()
    assert s3.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
