"""The scripts as a user runs them: real dwh.cfg files, exit codes, one-line errors that name
the fix, and no secret anywhere in what they print. Scripts whose main takes argv run in this
process through the same edge (conftest.call_main); etl.py, --help and the secrets' edge cases
run as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_PROCESS, PLANTED_SECRETS, ROOT, SAMPLE, S3Server, Warehouse, call_main, one_line_error
from test_load_sample import SAMPLE_COUNTS

import sql_queries as sql

PASSWORD = PLANTED_SECRETS[0]
SCRIPTS = ["create_tables.py", "etl.py"]


def run_with(tmp_path: Path, script: str, config: str, *args: str, env: dict[str, str] | None = None,
             ) -> subprocess.CompletedProcess[str]:
    """script with this dwh.cfg, no DWH_ or AWS settings of this machine, in tmp_path: in this
    process when its main takes argv, else a subprocess."""
    path = tmp_path / "dwh.cfg"
    path.write_text(config)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DWH_", "AWS_"))}
    clean.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                  "AWS_CONFIG_FILE": str(tmp_path / "none")})
    clean.update(env or {})
    argv = ["--config", str(path), *args]
    if script in IN_PROCESS:
        return call_main(script, argv, clean, tmp_path)
    return subprocess.run([sys.executable, str(ROOT / script), *argv],
                          capture_output=True, text=True, env=clean, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_describes_every_option(script: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "--config PATH" in proc.stdout
    if script == "etl.py":
        for option in ("--dry-run", "--status", "--rejects", "--rebuild"):
            assert option in proc.stdout
    else:
        assert "--drop" in proc.stdout and "--yes" in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unreachable_warehouse_is_one_line(tmp_path: Path, script: str) -> None:
    config = (f"[WAREHOUSE]\nTARGET = postgres\n[CLUSTER]\nHOST = 127.0.0.1\nDB_PORT = 1\nDB_NAME = dev\n"
              f"DB_USER = awsuser\nDB_PASSWORD = {PASSWORD}\n")
    error = one_line_error(run_with(tmp_path, script, config))
    assert error.startswith("error: cannot connect to postgres at 127.0.0.1:1 (database dev, user awsuser): ")
    assert error.endswith("; check [CLUSTER] in dwh.cfg")


def test_an_unknown_host_is_one_line(tmp_path: Path) -> None:
    config = "[WAREHOUSE]\nTARGET = redshift\n[CLUSTER]\nHOST = no-such-cluster.invalid\nDB_USER = awsuser\n"
    error = one_line_error(run_with(tmp_path, "etl.py", config, env={"DWH_CLUSTER_DB_PASSWORD": PASSWORD}))
    assert error.startswith("error: cannot connect to redshift at no-such-cluster.invalid:5439")
    assert "could not translate host name" in error


def test_a_password_in_the_environment_is_never_shown(postgres: Warehouse) -> None:
    """A subprocess on purpose: the edge of a real process, which only has the environment's secret."""
    postgres.settings["CLUSTER"]["DB_USER"] = "no_such_role"
    proc = postgres.spawn("create_tables.py", check=False, env={"DWH_CLUSTER_DB_PASSWORD": PASSWORD})
    error = one_line_error(proc)
    assert 'role "no_such_role" does not exist' in error


def test_a_missing_source_folder_is_one_line(tmp_path: Path, embedded: Warehouse) -> None:
    embedded.run("create_tables.py")
    proc = embedded.load(tmp_path / "nowhere", SAMPLE / "song_data", check=False)
    assert one_line_error(proc) == f"error: events folder not found: {tmp_path / 'nowhere'}; check [S3] in dwh.cfg"
    assert embedded.query("SELECT outcome, message FROM etl_runs") == [
        ("failed", f"events folder not found: {tmp_path / 'nowhere'}; check [S3] in dwh.cfg")
    ]
    assert embedded.counts()["staging_songs"] == 0


def test_an_unreachable_s3_endpoint_is_one_line(embedded: Warehouse, s3: S3Server) -> None:
    embedded.run("create_tables.py")
    env = dict(s3.env, DWH_S3_ENDPOINT_URL="http://127.0.0.1:1")
    proc = embedded.load("s3://sparkify/log_data", "s3://sparkify/song_data", check=False, env=env)
    error = one_line_error(proc)
    assert error.startswith("error: cannot list songs at s3://sparkify/song_data/: cannot reach the S3 endpoint")
    assert error.endswith("check [S3] ENDPOINT_URL and REGION")


def test_a_missing_bucket_is_one_line(embedded: Warehouse, s3: S3Server) -> None:
    embedded.run("create_tables.py")
    proc = embedded.load("s3://no-such-bucket/log_data", "s3://no-such-bucket/song_data", check=False,
                         env=s3.env)
    error = one_line_error(proc)
    assert error.startswith("error: cannot list songs at s3://no-such-bucket/song_data/: NoSuchBucket")
    assert error.endswith("check the bucket name in [S3]")


def test_missing_aws_credentials_are_one_line(tmp_path: Path, s3: S3Server) -> None:
    config = (f"[WAREHOUSE]\nEMBEDDED_DIR = {tmp_path / 'dwh'}\n[S3]\nLOG_DATA = s3://sparkify/log_data\n"
              f"SONG_DATA = s3://sparkify/song_data\nENDPOINT_URL = {s3.endpoint_url}\n")
    assert run_with(tmp_path, "create_tables.py", config).returncode == 0
    error = one_line_error(run_with(tmp_path, "etl.py", config))
    assert error == ("error: cannot list songs at s3://sparkify/song_data/: no AWS credentials found;"
                     " set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")


@pytest.mark.parametrize(("config", "message"), [
    ("[WAREHOUSE]\nTARGET = oracle\n",
     "error: [WAREHOUSE] TARGET is 'oracle'; use one of: embedded, postgres, redshift"),
    ("[WAREHOUSE]\nTARGET = postgres\n",
     "error: TARGET = postgres needs [CLUSTER] HOST (or DWH_CLUSTER_HOST), [CLUSTER] DB_USER (or DWH_CLUSTER_DB_USER)"
     " in dwh.cfg"),
    ("[ETL]\nMAX_REJECTS = lots\n",
     "error: [ETL] MAX_REJECTS is 'lots'; use a count (10), a fraction (0.01) or a percentage (1%)"),
    ("[CLUSTER]\nDB_PORT = fifty\n", "error: [CLUSTER] DB_PORT must be a port number, not 'fifty'"),
    ("[WAREHOUSE\nTARGET = embedded\n", "error: "),
])
def test_a_bad_config_is_one_line(tmp_path: Path, config: str, message: str) -> None:
    assert one_line_error(run_with(tmp_path, "etl.py", config)).startswith(message)


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "etl.py"), "--config", str(tmp_path / "nope.cfg")],
                          capture_output=True, text=True)
    assert one_line_error(proc) == f"error: config file not found: {tmp_path / 'nope.cfg'}"


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = ("[WAREHOUSE]\nTARGET = postgres\nEMBEDDED_DIR = dwh-data\n[CLUSTER]\nHOST = 127.0.0.1\nDB_PORT = 1\n"
              "DB_USER = x\n")
    proc = run_with(tmp_path, "create_tables.py", config, env={"DWH_WAREHOUSE_TARGET": "embedded"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"embedded warehouse ready: {len(sql.TABLES)} table(s) created")
    assert (tmp_path / "dwh-data" / "pgdata" / "PG_VERSION").exists()  # relative to dwh.cfg's folder


def test_load_before_create_tables_says_what_to_run(embedded: Warehouse) -> None:
    error = one_line_error(embedded.load(SAMPLE / "log_data", SAMPLE / "song_data", check=False))
    assert error.startswith("error: tables missing: " + ", ".join(list(sql.TABLES)[:5]))
    assert error.endswith("; run: python create_tables.py")


def test_tables_that_differ_from_the_model_are_reported_and_not_loaded(warehouse: Warehouse) -> None:
    warehouse.run("create_tables.py")
    warehouse.execute("DROP SCHEMA sparkify CASCADE")  # the analysts' views pin their columns' types
    warehouse.execute("ALTER TABLE songs ALTER COLUMN year TYPE INTEGER")
    warehouse.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    error = one_line_error(warehouse.run("create_tables.py", check=False))
    assert error == (
        f"error: 2 difference(s) between the {warehouse.target} warehouse and the model: users has column nickname,"
        " which the model lacks; songs.year is integer, the model says smallint. Existing tables were left alone;"
        " recreate them with: python create_tables.py --drop (this deletes their data)"
    )
    error = one_line_error(warehouse.load(SAMPLE / "log_data", SAMPLE / "song_data", check=False))
    assert error.startswith("error: the warehouse's tables differ from the model (users has column nickname")
    assert warehouse.scalar("SELECT COUNT(*) FROM staging_events") == 0
    assert f"{len(sql.TABLES)} table(s) created" in warehouse.run("create_tables.py", "--drop", "--yes").stdout
    warehouse.load(SAMPLE / "log_data", SAMPLE / "song_data")
    assert warehouse.counts() == SAMPLE_COUNTS


def test_drop_needs_confirmation(loaded: Warehouse) -> None:
    proc = loaded.run("create_tables.py", "--drop", check=False)
    assert one_line_error(proc) == (
        "error: --drop deletes every loaded row; add --yes to confirm when not run interactively")
    assert loaded.counts() == SAMPLE_COUNTS
    loaded.run("create_tables.py", "--drop", "--yes")
    assert set(loaded.counts().values()) == {0}


def test_dry_run_shows_the_plan_and_loads_nothing(loaded: Warehouse, tmp_path: Path) -> None:
    proc = loaded.run("etl.py", "--dry-run")
    assert proc.stdout.splitlines() == [
        "songs: 0 new objects (0 bytes) to load; 71 already loaded",
        "events: 0 new objects (0 bytes) to load; 30 already loaded",
    ]
    extra = tmp_path / "more_logs"
    extra.mkdir()
    day = SAMPLE / "log_data/2018/11/2018-11-05-events.json"
    (extra / "2018-12-01-events.json").write_bytes(day.read_bytes())
    loaded.settings["S3"]["LOG_DATA"] = str(extra)
    lines = loaded.run("etl.py", "--dry-run").stdout.splitlines()
    assert lines[1] == f"events: 1 new objects ({day.stat().st_size:,} bytes) to load; 0 already loaded"
    assert lines[2] == f"  {extra / '2018-12-01-events.json'}"
    assert loaded.scalar("SELECT COUNT(*) FROM etl_runs") == 1
    assert loaded.counts() == SAMPLE_COUNTS


def test_status_shows_what_is_loaded_and_the_runs(loaded: Warehouse) -> None:
    out = loaded.run("etl.py", "--status").stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("events", "songs"))}
    assert rows == {"events": ["30", "3,755,598", "8,056", "0"], "songs": ["71", "19,290", "71", "0"]}
    run_line = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "succeeded" in run_line and "8,056" in run_line and "6,820" in run_line


def test_secrets_are_redacted_from_the_config_given_as_config_equals_path(tmp_path: Path) -> None:
    """The redaction uses the configuration the script loaded, however --config was spelled."""
    config = tmp_path / "elsewhere.cfg"
    config.write_text(f"[WAREHOUSE]\nTARGET = postgres\n[CLUSTER]\nHOST = 127.0.0.1\nDB_PORT = 1\nDB_USER = x\n"
                      f"DB_NAME = {PASSWORD}\nDB_PASSWORD = {PASSWORD}\n")  # a message that names the database
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DWH_", "AWS_"))}
    for option in ([f"--config={config}"], ["--config", str(config)]):
        proc = subprocess.run([sys.executable, str(ROOT / "etl.py"), *option], capture_output=True, text=True,
                              env=clean, cwd=tmp_path, timeout=60)
        assert one_line_error(proc).startswith("error: cannot connect to postgres at 127.0.0.1:1 (database ***,")


def test_a_failed_run_that_cannot_be_recorded_says_so(embedded: Warehouse, tmp_path: Path) -> None:
    """Recording the failure fails too (the warehouse refuses it): the line says what is true,
    never 'run None failed ... --rejects None'."""
    logs = tmp_path / "log_data"
    logs.mkdir()
    day = (SAMPLE / "log_data/2018/11/2018-11-01-events.json").read_text().splitlines()
    (logs / "events.json").write_text("\n".join([day[0], day[1].replace('"ts":', '"ts":"soon","was":'), day[2]]))
    embedded.run("create_tables.py")
    embedded.execute("""
        CREATE FUNCTION refuse_failures() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'no room for failures (simulated)'; END $$;
        CREATE TRIGGER refuse_failures BEFORE UPDATE ON etl_runs FOR EACH ROW
        WHEN (NEW.outcome = 'failed') EXECUTE FUNCTION refuse_failures();
    """)
    proc = embedded.load(logs, SAMPLE / "song_data", check=False)
    error = one_line_error(proc)
    assert error == (
        "error: the run failed and could not be recorded, so its rejects were not kept: 1 of 74 records"
        " rejected, more than MAX_REJECTS = 0 allows; nothing was loaded. First:"
        f" {(logs / 'events.json').resolve()} line 2: ts: 'soon' is not an integer")
    assert "None" not in proc.stderr
    assert "(the failed run could not be recorded: no room for failures (simulated)" in proc.stderr
    assert embedded.query("SELECT COUNT(*) FROM etl_runs") == [(0,)]
    assert embedded.query("SELECT COUNT(*) FROM rejects") == [(0,)]


@pytest.mark.parametrize(("script", "args"), [
    ("create_tables.py", ()),  # succeeds: every table is there already
    ("create_tables.py", ("--drop",)),  # refused without --yes: the one-line error, exit 1
    ("trends.py", ("--horizon", "0")),  # argparse's usage error, exit 2
    ("doctor.py", ()),
])
def test_a_script_called_in_process_says_what_its_subprocess_says(embedded: Warehouse, script: str,
                                                                   args: tuple[str, ...]) -> None:
    """The tests call most scripts' main(argv) in this process (conftest.call_main): the same exit
    code and the same output, byte for byte, as the script started as a process."""
    embedded.run("create_tables.py")
    assert script in IN_PROCESS
    called, spawned = embedded.run(script, *args, check=False), embedded.spawn(script, *args, check=False)
    assert (called.returncode, called.stdout, called.stderr) == (spawned.returncode, spawned.stdout, spawned.stderr)
    assert called.stdout + called.stderr
