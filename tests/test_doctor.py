"""doctor.py: one PASS/FAIL line per readiness check, with the fix, for the configured target."""

from __future__ import annotations

from pathlib import Path

from conftest import SAMPLE, S3Server, Warehouse, one_line_error
from test_cli import PASSWORD, run_with
from test_load_sample import upload_sample

import sql_queries as sql


def lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("PASS", "FAIL"))]


def test_a_ready_warehouse_passes_every_check(loaded: Warehouse) -> None:
    proc = loaded.run("doctor.py")
    assert proc.stdout.splitlines()[0] == "target: embedded"
    assert [line.split(":")[0] for line in lines(proc.stdout)] == [
        "PASS  connection and login", "PASS  right to create tables", "PASS  tables match the model",
        "PASS  song source listing", "PASS  event source listing",
    ]
    assert "PostgreSQL 18" in lines(proc.stdout)[0]
    assert lines(proc.stdout)[3] == f"PASS  song source listing: 71 objects under {SAMPLE / 'song_data'}"
    # The probe table was rolled back.
    assert loaded.scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'dwh_doctor_probe'") == 0


def test_each_failure_names_its_fix(embedded: Warehouse, tmp_path: Path) -> None:
    embedded.settings["S3"]["LOG_DATA"] = str(tmp_path / "nowhere")
    proc = embedded.run("doctor.py", check=False)
    assert lines(proc.stdout)[2:] == [
        f"FAIL  tables match the model: missing: {', '.join(sql.TABLES)}; run: python create_tables.py",
        f"PASS  song source listing: 71 objects under {SAMPLE / 'song_data'}",
        f"FAIL  event source listing: events folder not found: {tmp_path / 'nowhere'}; check [S3] in dwh.cfg",
    ]
    assert one_line_error(proc) == "error: 2 of 5 checks failed: tables match the model, event source listing"


def test_redshift_readiness_without_a_cluster(tmp_path: Path, s3: S3Server) -> None:
    upload_sample(s3, "doctor")
    s3.make_bucket("doctor-work")
    config = (f"[WAREHOUSE]\nTARGET = redshift\n[CLUSTER]\nHOST = 127.0.0.1\nDB_PORT = 1\nDB_USER = awsuser\n"
              f"DB_PASSWORD = {PASSWORD}\n[S3]\nLOG_DATA = s3://doctor/udacity/log_data\n"
              f"SONG_DATA = s3://doctor/udacity/song_data\nWORK_PREFIX = s3://doctor-work/sparkify\n")
    proc = run_with(tmp_path, "doctor.py", config, env=s3.env)
    checks = lines(proc.stdout)
    assert checks[0].startswith("FAIL  connection and login: cannot connect to redshift at 127.0.0.1:1")
    assert checks[3:] == [
        "PASS  song source listing: 71 objects under s3://doctor/udacity/song_data",
        "PASS  event source listing: 30 objects under s3://doctor/udacity/log_data",
        "FAIL  IAM role: TARGET = redshift needs [IAM_ROLE] ARN (or DWH_IAM_ROLE_ARN): the role COPY assumes",
        "PASS  work prefix writable: this machine can write s3://doctor-work/sparkify/run-"
        + checks[6].split("/run-")[1],
        "FAIL  role reads song source: needs a connection to the warehouse first",
        "FAIL  role reads event source: needs a connection to the warehouse first",
        "FAIL  role reads the work area: TARGET = redshift needs [IAM_ROLE] ARN (or DWH_IAM_ROLE_ARN): the role"
        " COPY assumes",
    ]
    assert one_line_error(proc).startswith("error: 7 of 10 checks failed: connection and login,")
    assert s3.client().list_objects_v2(Bucket="doctor-work").get("KeyCount") == 0  # the probe object is gone
