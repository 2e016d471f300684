"""Opt-in: the real sample loaded on a real Amazon Redshift cluster (never run in CI: no cluster).

    DWH_TEST_REDSHIFT=1 DWH_CLUSTER_HOST=... DWH_CLUSTER_DB_NAME=<a database this test may empty>
    DWH_CLUSTER_DB_USER=... DWH_CLUSTER_DB_PASSWORD=... DWH_IAM_ROLE_ARN=... DWH_S3_WORK_PREFIX=s3://...
    [DWH_S3_REGION=...] ./run.sh test tests/test_redshift_live.py

It uploads the sample under WORK_PREFIX/live-test-sample/ with this machine's AWS credentials,
recreates the toolkit's tables in that database, loads, and checks the sample's exact figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg2
import pytest
from conftest import ROOT, SAMPLE
from test_load_sample import SAMPLE_COUNTS

REQUIRED = ["DWH_CLUSTER_HOST", "DWH_CLUSTER_DB_NAME", "DWH_CLUSTER_DB_USER", "DWH_CLUSTER_DB_PASSWORD",
            "DWH_IAM_ROLE_ARN", "DWH_S3_WORK_PREFIX"]


def run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, env=env,
                          timeout=3600)
    assert proc.returncode == 0, f"{script} {args}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_the_sample_on_a_real_cluster(tmp_path: Path) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(f"DWH_TEST_REDSHIFT=1 needs {', '.join(missing)}")
    bucket, _, prefix = os.environ["DWH_S3_WORK_PREFIX"][5:].partition("/")
    base = f"{prefix.rstrip('/')}/live-test-sample" if prefix else "live-test-sample"
    s3 = boto3.client("s3", region_name=os.environ.get("DWH_S3_REGION", "us-west-2"))
    for path in sorted(SAMPLE.rglob("*.json")):
        s3.upload_file(str(path), bucket, f"{base}/{path.relative_to(SAMPLE).as_posix()}")
    env = dict(os.environ, DWH_WAREHOUSE_TARGET="redshift", DWH_S3_LOG_DATA=f"s3://{bucket}/{base}/log_data",
               DWH_S3_SONG_DATA=f"s3://{bucket}/{base}/song_data",
               DWH_S3_LOG_JSONPATH=f"s3://{bucket}/{base}/log_json_path.json")
    env.setdefault("DWH_CLUSTER_DB_PORT", "5439")
    run("doctor.py", env=env)
    run("create_tables.py", "--drop", "--yes", env=env)
    run("etl.py", env=env)
    conn = psycopg2.connect(host=env["DWH_CLUSTER_HOST"], port=int(env["DWH_CLUSTER_DB_PORT"]),
                            dbname=env["DWH_CLUSTER_DB_NAME"], user=env["DWH_CLUSTER_DB_USER"],
                            password=env["DWH_CLUSTER_DB_PASSWORD"])
    with conn.cursor() as cur:
        counts = {}
        for table in SAMPLE_COUNTS:
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
        cur.execute("SELECT song_id, artist_id FROM songplays WHERE song_id IS NOT NULL")
        matched = cur.fetchall()
    conn.close()
    assert counts == SAMPLE_COUNTS
    assert matched == [("SOZCTXZ12AB0182364", "AR5KOSW1187FB35FF4")]
    assert "0 event and 0 song objects" in run("etl.py", env=env).stdout  # a second run loads nothing
    report = json.loads(run("check_data.py", "--json", "--sample", "0", env=env).stdout)
    assert report["passed"] and report["match_rate"]["matched"] == 1
